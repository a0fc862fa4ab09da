/*
 * pattern-gen: write a raw video file of pattern frames, optionally with one frame dropped,
 * repeated or torn, so that pattern-check's verdicts can be tested without a VM.
 *
 *   pattern-gen --width W --height H --format F [--first K] [--count N] [--crtc-index I]
 *               [--drop J] [--duplicate J] [--tear J] FILE
 *
 * Frame numbers run from K (wrapping at 2^20). --drop J leaves out the J-th frame (0-based),
 * --duplicate J writes it twice, --tear J writes it with its lower half from the next frame.
 * Rows are laid out as GStreamer's raw video: stride = width * bytes per pixel rounded up to 4.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

#define NO_FRAME UINT32_MAX
/* Bounds the output size a typo could request. */
#define MAX_COUNT 100000

struct gen_options {
	uint32_t width, height, fourcc, crtc_index;
	uint32_t first, count;
	uint32_t drop, duplicate, tear;
	const char *path;
};

static uint32_t parse_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	return *s && !*end && v < UINT32_MAX ? (uint32_t)v : NO_FRAME;
}

static int parse_options(int argc, char **argv, struct gen_options *opts)
{
	static const struct option long_opts[] = {
		{"width", required_argument, NULL, 'w'},
		{"height", required_argument, NULL, 'H'},
		{"format", required_argument, NULL, 'f'},
		{"first", required_argument, NULL, 'F'},
		{"count", required_argument, NULL, 'n'},
		{"crtc-index", required_argument, NULL, 'c'},
		{"drop", required_argument, NULL, 'd'},
		{"duplicate", required_argument, NULL, 'D'},
		{"tear", required_argument, NULL, 't'},
		{0},
	};
	int opt;

	*opts = (struct gen_options){
		.count = 10, .drop = NO_FRAME, .duplicate = NO_FRAME, .tear = NO_FRAME};
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			opts->width = parse_u32(optarg);
			break;
		case 'H':
			opts->height = parse_u32(optarg);
			break;
		case 'f':
			opts->fourcc = pattern_format_from_name(optarg);
			break;
		case 'F':
			opts->first = parse_u32(optarg);
			break;
		case 'n':
			opts->count = parse_u32(optarg);
			break;
		case 'c':
			opts->crtc_index = parse_u32(optarg);
			break;
		case 'd':
			opts->drop = parse_u32(optarg);
			break;
		case 'D':
			opts->duplicate = parse_u32(optarg);
			break;
		case 't':
			opts->tear = parse_u32(optarg);
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || !opts->fourcc || opts->count > MAX_COUNT ||
		opts->first == NO_FRAME || opts->crtc_index > PATTERN_CRTC_MASK)
		return -EINVAL;
	opts->path = argv[optind];
	return 0;
}

static int paint(const struct gen_options *opts, uint8_t *buf, uint32_t stride, uint32_t i)
{
	return pattern_paint_full(buf, opts->width, opts->height, stride, opts->fourcc,
		opts->crtc_index, (opts->first + i) & PATTERN_FRAME_MASK);
}

static int write_frames(const struct gen_options *opts, FILE *f)
{
	uint32_t stride = (opts->width * pattern_format_cpp(opts->fourcc) + 3) & ~3u;
	size_t size = (size_t)stride * opts->height, half = (size_t)stride * (opts->height / 2);
	uint8_t *buf = calloc(1, size), *next = calloc(1, size);
	int ret = 0;

	for (uint32_t i = 0; i < opts->count && ret == 0 && buf && next; i++) {
		if (i == opts->drop)
			continue;
		ret = paint(opts, buf, stride, i);
		if (ret == 0 && i == opts->tear) {
			ret = paint(opts, next, stride, i + 1);
			memcpy(buf + half, next + half, size - half);
		}
		for (int copies = i == opts->duplicate ? 2 : 1; ret == 0 && copies > 0; copies--)
			ret = fwrite(buf, 1, size, f) == size ? 0 : -EIO;
	}
	if (!buf || !next)
		ret = -ENOMEM;
	free(buf);
	free(next);
	return ret;
}

int main(int argc, char **argv)
{
	struct gen_options opts;
	FILE *f;
	int ret;

	if (parse_options(argc, argv, &opts) < 0) {
		fprintf(stderr, "usage: pattern-gen --width W --height H --format F [--first K] "
				"[--count N] [--crtc-index I] [--drop J] [--duplicate J] "
				"[--tear J] FILE\n");
		return 2;
	}
	f = fopen(opts.path, "wbe");
	if (!f) {
		fprintf(stderr, "pattern-gen: cannot open %s: %m\n", opts.path);
		return 1;
	}
	ret = write_frames(&opts, f);
	if (fclose(f) != 0 && ret == 0)
		ret = -EIO;
	if (ret < 0) {
		fprintf(stderr, "pattern-gen: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
