/*
 * pattern-check: decode the test pattern in a raw video file of consecutive frames, as
 * `gst-launch-1.0 ... ! videoconvert ! video/x-raw,format=BGRx ! filesink location=FILE`
 * writes it. One line per frame, then a summary:
 *
 *   frame <n> frame=<k> crtc_index=<i>
 *   frame <n> error="<reason>"
 *   frames=<N> decoded=<D> first=<a> last=<b> gaps=<g> duplicates=<d> backwards=<r>
 *        torn=<t> bad=<e> wrong_crtc=<w>
 *
 * gaps counts missing frame numbers between decoded frames, duplicates repeated ones. Frame
 * numbers wrap at 2^20. The default stride is GStreamer's: width * bytes per pixel rounded
 * up to 4. Exit status 1 when --expect-consecutive is given and any frame failed to decode,
 * was torn, repeated, missing, out of order or from another CRTC than --crtc-index; 2 on
 * bad usage or I/O errors; else 0.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

struct check_stats {
	uint64_t frames, decoded, gaps, duplicates, backwards, torn, bad, wrong_crtc;
	uint32_t first, last;
};

struct check_options {
	uint32_t width, height, stride, fourcc;
	long crtc_index; /* -1: any */
	bool expect_consecutive;
	bool quiet;
	const char *path;
};

static void note_decoded(
	struct check_stats *st, const struct check_options *opts, const struct pattern_result *res)
{
	if (opts->crtc_index >= 0 && res->crtc_index != (uint32_t)opts->crtc_index)
		st->wrong_crtc++;
	if (st->decoded == 0) {
		st->first = res->frame;
	} else {
		uint32_t diff = (res->frame - st->last) & PATTERN_FRAME_MASK;
		if (diff == 0)
			st->duplicates++;
		else if (diff > PATTERN_FRAME_MASK / 2)
			st->backwards++;
		else
			st->gaps += diff - 1;
	}
	st->last = res->frame;
	st->decoded++;
}

static void check_frame(
	const uint8_t *pixels, const struct check_options *opts, struct check_stats *st)
{
	struct pattern_result res;
	int ret =
		pattern_decode(pixels, opts->width, opts->height, opts->stride, opts->fourcc, &res);

	if (ret == 0) {
		if (!opts->quiet)
			printf("frame %" PRIu64 " frame=%u crtc_index=%u\n", st->frames, res.frame,
				res.crtc_index);
		note_decoded(st, opts, &res);
	} else {
		printf("frame %" PRIu64 " error=\"%s\"\n", st->frames, res.reason);
		if (res.reason && strstr(res.reason, "torn"))
			st->torn++;
		else
			st->bad++;
	}
	st->frames++;
}

static bool consecutive(const struct check_stats *st)
{
	return st->frames > 0 && st->decoded == st->frames && st->gaps == 0 &&
	       st->duplicates == 0 && st->backwards == 0 && st->wrong_crtc == 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pattern-check --width W --height H --format BGRx|RGBx|xRGB|xBGR|BGRA|"
		   "RGBA|RGB|BGR|RGB16|<DRM fourcc>\n"
		   "                     [--stride S] [--crtc-index I] [--expect-consecutive] "
		   "[--quiet] FILE|-\n");
}

static int parse_options(int argc, char **argv, struct check_options *opts)
{
	static const struct option long_opts[] = {
		{"width", required_argument, NULL, 'w'},
		{"height", required_argument, NULL, 'H'},
		{"format", required_argument, NULL, 'f'},
		{"stride", required_argument, NULL, 's'},
		{"crtc-index", required_argument, NULL, 'c'},
		{"expect-consecutive", no_argument, NULL, 'e'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	*opts = (struct check_options){.crtc_index = -1};
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			opts->width = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			opts->height = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			opts->fourcc = pattern_format_from_name(optarg);
			if (!opts->fourcc) {
				fprintf(stderr, "pattern-check: unknown format %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			opts->stride = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			opts->crtc_index = strtol(optarg, NULL, 10);
			break;
		case 'e':
			opts->expect_consecutive = true;
			break;
		case 'q':
			opts->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || !opts->fourcc || opts->width < PATTERN_MIN_WIDTH ||
		opts->height < PATTERN_MIN_HEIGHT || opts->width > PATTERN_MAX_DIM ||
		opts->height > PATTERN_MAX_DIM)
		return -EINVAL;
	opts->path = argv[optind];
	if (!opts->stride)
		opts->stride = (opts->width * pattern_format_cpp(opts->fourcc) + 3) & ~3u;
	if (opts->stride < opts->width * pattern_format_cpp(opts->fourcc))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct check_options opts;
	struct check_stats st = {0};
	size_t frame_size, got;
	uint8_t *buf;
	FILE *f;

	if (parse_options(argc, argv, &opts) < 0) {
		usage(stderr);
		return 2;
	}
	f = strcmp(opts.path, "-") == 0 ? stdin : fopen(opts.path, "rbe");
	if (!f) {
		fprintf(stderr, "pattern-check: cannot open %s: %m\n", opts.path);
		return 2;
	}
	frame_size = (size_t)opts.stride * opts.height;
	buf = malloc(frame_size);
	if (!buf) {
		fprintf(stderr, "pattern-check: out of memory\n");
		return 2;
	}
	while ((got = fread(buf, 1, frame_size, f)) == frame_size)
		check_frame(buf, &opts, &st);
	if (got > 0)
		fprintf(stderr,
			"pattern-check: %zu trailing bytes ignored (wrong size or stride?)\n", got);
	if (ferror(f)) {
		fprintf(stderr, "pattern-check: reading %s: %m\n", opts.path);
		return 2;
	}
	printf("frames=%" PRIu64 " decoded=%" PRIu64 " first=%u last=%u gaps=%" PRIu64
	       " duplicates=%" PRIu64 " backwards=%" PRIu64 " torn=%" PRIu64 " bad=%" PRIu64
	       " wrong_crtc=%" PRIu64 "\n",
		st.frames, st.decoded, st.first, st.last, st.gaps, st.duplicates, st.backwards,
		st.torn, st.bad, st.wrong_crtc);
	free(buf);
	if (f != stdin)
		fclose(f);
	return opts.expect_consecutive && !consecutive(&st) ? 1 : 0;
}
