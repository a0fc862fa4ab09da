/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "list.h"

enum kmscast_mode {
	MODE_DAEMON,
	MODE_LIST,
};

struct options {
	enum kmscast_mode mode;
	bool json;
	const char *dri_dir;
};

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"Usage: %s [OPTIONS]\n"
		"Publish each active KMS CRTC as a PipeWire video source.\n"
		"\n"
		"  -l, --list          list DRM cards, connectors, CRTCs and their framebuffers\n"
		"  -j, --json          with --list: print JSON\n"
		"      --dri-dir DIR   where the card nodes are (default /dev/dri)\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		argv0);
}

static int parse_args(int argc, char **argv, struct options *opts)
{
	enum { OPT_DRI_DIR = 0x100 };
	static const struct option long_opts[] = {
		{"list", no_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{"dri-dir", required_argument, NULL, OPT_DRI_DIR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "ljhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			opts->mode = MODE_LIST;
			break;
		case 'j':
			opts->json = true;
			break;
		case OPT_DRI_DIR:
			opts->dri_dir = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("kmscast %s\n", KMSCAST_VERSION);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return -EINVAL;
	}
	if (opts->json && opts->mode != MODE_LIST) {
		fprintf(stderr, "%s: --json only applies to --list\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opts = {.mode = MODE_DAEMON, .dri_dir = "/dev/dri"};
	int ret;

	if (parse_args(argc, argv, &opts) < 0)
		return 2;

	switch (opts.mode) {
	case MODE_LIST:
		ret = kmscast_list(stdout, opts.dri_dir, opts.json);
		if (ret == -ENODEV)
			fprintf(stderr, "kmscast: no DRM card found in %s\n", opts.dri_dir);
		else if (ret < 0)
			fprintf(stderr, "kmscast: listing failed: %s\n", strerror(-ret));
		return ret < 0 ? 1 : 0;
	case MODE_DAEMON:
	default:
		fprintf(stderr, "kmscast: the capture daemon is not built yet; try --list\n");
		return 1;
	}
}
