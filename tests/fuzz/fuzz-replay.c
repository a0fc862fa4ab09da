/* SPDX-License-Identifier: MIT */
/*
 * main() for the fuzz targets in builds without libFuzzer: replays each file, or each file
 * of each directory, given on the command line, so every build runs the seed corpora in
 * tests/fuzz/corpus/ (suite 'unit').
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Seeds are small; libFuzzer's own default -max_len is 4096. */
#define REPLAY_MAX_INPUT (1 << 16)

static int replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX_INPUT];
	FILE *f = fopen(path, "rbe");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	printf("ok - %s (%zu bytes)\n", path, n);
	return 0;
}

static int replay(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		return replay_file(path);
	}
	struct dirent **names = NULL;
	int n = scandir(path, &names, NULL, alphasort);
	int r = n > 0 ? 0 : -1;
	for (int i = 0; i < n; i++) {
		char file[4096];
		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && replay_file(file) < 0) {
			r = -1;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	int r = argc > 1 ? 0 : -1;
	for (int i = 1; i < argc; i++) {
		r |= replay(argv[i]);
	}
	return r == 0 ? 0 : 1;
}
