/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target shares: the libFuzzer entry point, and a check that an input left
 * no fd open. A target built without -fsanitize=fuzzer links fuzz-replay.c for its main().
 */
#ifndef KMSCAST_FUZZ_H
#define KMSCAST_FUZZ_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * How many fds are open; the same before and after an input, or an fd leaked. Counted,
 * because the lowest free fd misses a leak above a gap (a harness thread's fds were open
 * when the fd was received).
 */
static inline int fuzz_open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL) {
		abort();
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(dir);
	return n - 1; /* dir's own fd */
}

/* The sanitizers' runtime, linked in a fuzzing build only (weak: NULL in a replay). */
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t size)
	__attribute__((weak));

/*
 * The open fds before the first input. libFuzzer names each function an input reaches for
 * the first time (-print_funcs), through the sanitizers' symbolizer: a process it starts at
 * its first use and talks to through two pipes it keeps open. Started mid-run, those pipes
 * would look like fds the code under test leaked, so start it first.
 */
static inline int fuzz_fd_baseline(void)
{
	if (__sanitizer_symbolize_pc != NULL) {
		char name[128];
		__sanitizer_symbolize_pc(__builtin_return_address(0), "%F", name, sizeof(name));
	}
	return fuzz_open_fds();
}

#endif
