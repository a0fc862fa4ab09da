/* Command line of kms-producer. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "pattern.h"
#include "producer.h"

#define NSEC_PER_SEC 1000000000ull
/* Upper bound for --rate; flips never go faster than the mode's refresh anyway. */
#define MAX_RATE_HZ 1000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kms-producer [options]\n"
		"  --card NAME|PATH          DRM card (default card0, i.e. /dev/dri/card0)\n"
		"  --connector NAME[,NAME]   drive only these, even if disconnected\n"
		"  --mode WxH[@HZ]           mode (default: the connector's preferred one); with\n"
		"                            @HZ the listed one nearest that refresh\n"
		"  --buffers N               dumb buffers per CRTC (default 3, 2..%d)\n"
		"  --rate HZ                 flip rate, capped at the mode refresh (default 60)\n"
		"  --commit-phase-us US      vblank pacing: commit each frame US after the vblank\n"
		"                            that showed the previous one, as a compositor with\n"
		"                            render-time prediction does (default: at once)\n"
		"  --fourcc CC               XR24 (default), AR24, XB24, AB24 or RG16 if the\n"
		"                            primary plane takes it (vkms 6.1: XR24, RG16)\n"
		"  --frames N | --duration SEC   stop after N frames per CRTC or SEC seconds\n"
		"  --hold                    after --frames, keep the last frame on screen until\n"
		"                            --duration ends or a signal (an idle desktop)\n"
		"  --recreate K              re-create the framebuffers every K frames\n"
		"                            (each new FB gets an id never used before)\n"
		"  --front-buffer            paint each frame into the FB on screen and mark it\n"
		"                            with DIRTYFB, never flip (X11 without page flips,\n"
		"                            the console); paced by the timer at --rate\n"
		"  --reuse-fb-ids            let new FBs take freed ids, as compositors'\n"
		"                            FBs do (kernel 6.1 hands out the lowest id)\n"
		"  --mode-change-at K:WxH[@HZ]  modeset to WxH (at HZ) at frame K\n"
		"  --format-change-at K:CC[:N]  from frame K (usr1: after SIGUSR1), N frames (60)\n"
		"                            on new FBs in CC\n"
		"                            (a pattern format, or XR48, AR48, XR4H, AB4H, left\n"
		"                            black), then new FBs in --fourcc again\n"
		"  --off-at K[:MS]           switch the CRTC off after frame K for MS ms (1000)\n"
		"  --mode-change-every K:WxH  every K frames, toggle between the first mode and "
		"WxH\n"
		"  --off-every K[:MS]        switch the CRTC off after every K-th frame\n"
		"  --cursor                  a moving, changing cursor\n"
		"  --pattern bands|blocks    the frame number as thin bands (default) or as\n"
		"                            24 big blocks that survive lossy video coding\n"
		"  --log FILE                log to FILE instead of stdout\n",
		MAX_BUFFERS);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* WxH, or WxH@HZ for the listed mode of that size nearest to HZ (hz 0 without one). */
static int parse_size(const char *s, uint32_t *w, uint32_t *h, uint32_t *hz)
{
	unsigned int a, b, r = 0;
	char tail;
	int n = sscanf(s, "%ux%u@%u%c", &a, &b, &r, &tail);

	if ((n != 2 && n != 3) || a < PATTERN_MIN_WIDTH || b < PATTERN_MIN_HEIGHT ||
		a > PATTERN_MAX_DIM || b > PATTERN_MAX_DIM || (n == 3 && (r < 1 || r > 1000)))
		return -EINVAL;
	/* sscanf stops at the first mismatch: "640x480x" is 2 conversions too. */
	if (n == 2 && strchr(s, '@'))
		return -EINVAL;
	if (n == 2 && s[strspn(s, "0123456789x")] != '\0')
		return -EINVAL;
	*w = a;
	*h = b;
	*hz = r;
	return 0;
}

/* Split a comma list into opts->forced; the strings stay in argv. */
static int parse_connectors(char *list, struct producer_options *opts)
{
	for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
		name = strtok_r(NULL, ",", &save)) {
		if (opts->n_forced == MAX_FORCED_CONNECTORS) {
			fprintf(stderr, "kms-producer: more than %d connectors\n",
				MAX_FORCED_CONNECTORS);
			return -ENOSPC;
		}
		opts->forced[opts->n_forced++] = name;
	}
	return 0;
}

static int parse_frame_arg(char *arg, uint64_t *frame, char **rest)
{
	char *colon = strchr(arg, ':');

	*rest = NULL;
	if (colon) {
		*colon = '\0';
		*rest = colon + 1;
	}
	return parse_u64(arg, 1, UINT32_MAX, frame);
}

/*
 * K:CC[:N]: from frame K (usr1: the frame after SIGUSR1 comes, logged as "format-change
 * frame=K"), N frames (60) on FBs in CC, then back to --fourcc's. CC is a
 * pattern format or one of the 16-bit ones the pattern cannot paint (left black): XR48, AR48
 * (16161616) and XR4H (fp16) have no SPA video format, AB4H (fp16) is RGBA_F16.
 */
static int parse_format_change(char *arg, struct producer_options *opts)
{
	static const struct {
		const char *name;
		uint32_t fourcc;
	} wide[] = {
		{"XR48", DRM_FORMAT_XRGB16161616},
		{"AR48", DRM_FORMAT_ARGB16161616},
		{"XR4H", DRM_FORMAT_XRGB16161616F},
		{"AB4H", DRM_FORMAT_ABGR16161616F},
	};
	char *rest, *name, *n;
	uint64_t v;
	int ret;

	if (strncmp(arg, "usr1:", 5) == 0) {
		opts->format_change_on_usr1 = true;
		rest = arg + 5;
		ret = 0;
	} else {
		ret = parse_frame_arg(arg, &opts->format_change_at, &rest);
	}
	if (ret < 0 || !rest)
		return -EINVAL;
	name = rest;
	n = strchr(name, ':');
	if (n)
		*n++ = '\0';
	opts->format_change_fourcc = pattern_format_from_name(name);
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		if (strcmp(wide[i].name, name) == 0)
			opts->format_change_fourcc = wide[i].fourcc;
	}
	if (!opts->format_change_fourcc)
		return -EINVAL;
	opts->format_change_n = 60;
	if (n) {
		ret = parse_u64(n, 1, UINT32_MAX, &v);
		opts->format_change_n = v;
	}
	return ret;
}

static int parse_option(int opt, char *arg, struct producer_options *opts)
{
	uint64_t v;
	char *rest;
	int ret = 0;

	switch (opt) {
	case 'c':
		opts->card = arg;
		break;
	case 'C':
		ret = parse_connectors(arg, opts);
		break;
	case 'm':
		ret = parse_size(arg, &opts->mode_w, &opts->mode_h, &opts->mode_hz);
		break;
	case 'b':
		ret = parse_u64(arg, 2, MAX_BUFFERS, &v);
		opts->buffers = (uint32_t)v;
		break;
	case 'r':
		ret = parse_u64(arg, 1, MAX_RATE_HZ, &v);
		opts->rate_hz = (uint32_t)v;
		break;
	case 'p':
		ret = parse_u64(arg, 1, 1000000, &v);
		opts->commit_phase_ns = v * 1000;
		break;
	case 'f':
		opts->fourcc = pattern_format_from_name(arg);
		ret = opts->fourcc == DRM_FORMAT_XRGB8888 || opts->fourcc == DRM_FORMAT_ARGB8888 ||
				      opts->fourcc == DRM_FORMAT_XBGR8888 ||
				      opts->fourcc == DRM_FORMAT_ABGR8888 ||
				      opts->fourcc == DRM_FORMAT_RGB565
			      ? 0
			      : -EINVAL;
		break;
	case 'n':
		ret = parse_u64(arg, 1, UINT64_MAX, &opts->frames);
		break;
	case 'H':
		opts->hold = true;
		break;
	case 'D':
		opts->front_buffer = true;
		break;
	case 'd':
		ret = parse_u64(arg, 1, 365 * 24 * 3600, &v);
		opts->duration_ns = v * NSEC_PER_SEC;
		break;
	case 'R':
		ret = parse_u64(arg, 1, UINT32_MAX, &opts->recreate_every);
		break;
	case 'E':
		opts->mode_change_repeat = true;
		/* fall through */
	case 'M':
		ret = parse_frame_arg(arg, &opts->mode_change_at, &rest);
		if (ret == 0)
			ret = rest ? parse_size(rest, &opts->mode_change_w, &opts->mode_change_h,
					     &opts->mode_change_hz)
				   : -EINVAL;
		break;
	case 'F':
		ret = parse_format_change(arg, opts);
		break;
	case 'O':
		opts->off_repeat = true;
		/* fall through */
	case 'o':
		ret = parse_frame_arg(arg, &opts->off_at, &rest);
		opts->off_ns = NSEC_PER_SEC;
		if (ret == 0 && rest) {
			ret = parse_u64(rest, 1, 600000, &v);
			opts->off_ns = v * 1000000;
		}
		break;
	case 'k':
		opts->cursor = true;
		break;
	case 'P':
		if (strcmp(arg, "blocks") == 0)
			opts->blocks = true;
		else if (strcmp(arg, "bands") == 0)
			opts->blocks = false;
		else
			ret = -EINVAL;
		break;
	case 'u':
		opts->reuse_fb_ids = true;
		break;
	case 'l':
		opts->log_path = arg;
		break;
	default:
		return -EINVAL;
	}
	return ret;
}

int producer_parse_options(int argc, char **argv, struct producer_options *opts)
{
	static const struct option long_opts[] = {
		{"card", required_argument, NULL, 'c'},
		{"connector", required_argument, NULL, 'C'},
		{"mode", required_argument, NULL, 'm'},
		{"buffers", required_argument, NULL, 'b'},
		{"rate", required_argument, NULL, 'r'},
		{"commit-phase-us", required_argument, NULL, 'p'},
		{"fourcc", required_argument, NULL, 'f'},
		{"frames", required_argument, NULL, 'n'},
		{"hold", no_argument, NULL, 'H'},
		{"front-buffer", no_argument, NULL, 'D'},
		{"duration", required_argument, NULL, 'd'},
		{"recreate", required_argument, NULL, 'R'},
		{"mode-change-at", required_argument, NULL, 'M'},
		{"format-change-at", required_argument, NULL, 'F'},
		{"off-at", required_argument, NULL, 'o'},
		{"mode-change-every", required_argument, NULL, 'E'},
		{"off-every", required_argument, NULL, 'O'},
		{"cursor", no_argument, NULL, 'k'},
		{"pattern", required_argument, NULL, 'P'},
		{"reuse-fb-ids", no_argument, NULL, 'u'},
		{"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	*opts = (struct producer_options){
		.card = "card0",
		.buffers = 3,
		.rate_hz = 60,
		.fourcc = DRM_FORMAT_XRGB8888,
	};
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_option(opt, optarg, opts) < 0) {
			if (opt != '?')
				fprintf(stderr, "kms-producer: bad option value: %s\n",
					optarg ? optarg : "");
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kms-producer: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}
