/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config-file.h" /* kmscast.conf */
#include "daemon.h"
#include "helper-client.h"
#include "list.h"
#include "probe.h"

enum kmscast_mode {
	MODE_DAEMON,
	MODE_LIST,
	MODE_PRINT_PORTAL, /* --print-portal-file: the backend's .portal description */
	MODE_PROBE,
};

struct options {
	enum kmscast_mode mode;
	bool json;
	const char *dri_dir;
	const char *helper_path;
	const char *helper_socket;
	/* --config and the options that override its keys. */
	const char *config_path;
	struct config_override overrides[CONFIG_MAX_OVERRIDES];
	size_t n_overrides;
};

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"Usage: %s [OPTIONS]\n"
		"Publish each active KMS CRTC as a PipeWire video source.\n"
		"\n"
		"  -l, --list          list DRM cards, connectors, CRTCs and their framebuffers\n"
		"  -j, --json          with --list: print JSON\n"
		"      --probe         export each active CRTC's scanout through kmscast-helper\n"
		"                      and print its format, modifier and a pixel checksum\n"
		"      --dri-dir DIR   where the card nodes are (default /dev/dri)\n"
		"      --helper PATH   spawn this kmscast-helper (default $KMSCAST_HELPER, else\n"
		"                      the installed one)\n"
		"      --helper-socket PATH  use the socket-activated helper at PATH\n"
		"      --config FILE   read FILE instead of kmscast/kmscast.conf in the XDG\n"
		"                      config dirs\n"
		"      --monitors LIST publish only these monitors (connector, card:connector\n"
		"                      or EDID name, comma-separated; \"all\")\n"
		"      --portal, --no-portal  serve the xdg-desktop-portal ScreenCast backend\n"
		"      --shared-nodes true|false  publish a node per monitor for any PipeWire\n"
		"                      client (default true); false: only portal sessions' nodes\n"
		"      --consent ask|never  portal: ask the user before every screen cast\n"
		"                      (default ask); never: share without asking (kiosks)\n"
		"      --chooser CMD   portal: command run instead of the consent dialog\n"
		"                      (see kmscast(1))\n"
		"      --portal-desktop NAMES  UseIn for --print-portal-file\n"
		"      --helper-mode spawn|socket  how to reach kmscast-helper\n"
		"      --resend-ms MS  re-send a screen that did not change for MS ms (default\n"
		"                      50; 0: never)\n"
		"      --portal-copies sandboxed|all|none  portal sessions whose nodes serve CPU\n"
		"                      copies, not the scanout buffers (default sandboxed)\n"
		"      --print-portal-file  print kmscast.portal for xdg-desktop-portal\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		argv0);
}

static int parse_args(int argc, char **argv, struct options *opts)
{
	enum { OPT_DRI_DIR = 0x100, OPT_HELPER, OPT_HELPER_SOCKET, OPT_CONFIG, OPT_PRINT_PORTAL,
		OPT_SET, OPT_PROBE };
	static const struct option long_opts[] = {
		{"list", no_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{"probe", no_argument, NULL, OPT_PROBE},
		{"dri-dir", required_argument, NULL, OPT_DRI_DIR},
		{"helper", required_argument, NULL, OPT_HELPER},
		{"helper-socket", required_argument, NULL, OPT_HELPER_SOCKET},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"print-portal-file", no_argument, NULL, OPT_PRINT_PORTAL},
		/* Each of these overrides the config key of the same name. */
		{"monitors", required_argument, NULL, OPT_SET},
		{"portal", no_argument, NULL, OPT_SET},
		{"no-portal", no_argument, NULL, OPT_SET},
		{"shared-nodes", required_argument, NULL, OPT_SET},
		{"consent", required_argument, NULL, OPT_SET},
		{"chooser", required_argument, NULL, OPT_SET},
		{"portal-desktop", required_argument, NULL, OPT_SET},
		{"helper-mode", required_argument, NULL, OPT_SET},
		{"resend-ms", required_argument, NULL, OPT_SET},
		{"portal-copies", required_argument, NULL, OPT_SET},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c, index = 0;

	while ((c = getopt_long(argc, argv, "ljhV", long_opts, &index)) != -1) {
		switch (c) {
		case 'l':
			opts->mode = MODE_LIST;
			break;
		case 'j':
			opts->json = true;
			break;
		case OPT_PROBE:
			opts->mode = MODE_PROBE;
			break;
		case OPT_DRI_DIR:
			opts->dri_dir = optarg;
			break;
		case OPT_HELPER:
			opts->helper_path = optarg;
			break;
		case OPT_HELPER_SOCKET:
			opts->helper_socket = optarg;
			break;
		case OPT_CONFIG:
			opts->config_path = optarg;
			break;
		case OPT_PRINT_PORTAL:
			opts->mode = MODE_PRINT_PORTAL;
			break;
		case OPT_SET: {
			const char *name = long_opts[index].name;
			struct config_override *o = &opts->overrides[opts->n_overrides];

			if (opts->n_overrides >= CONFIG_MAX_OVERRIDES) {
				fprintf(stderr, "%s: too many options\n", argv[0]);
				return -E2BIG;
			}
			o->key = !strcmp(name, "no-portal") ? "portal"
				: !strcmp(name, "helper-mode") ? "helper" : name;
			o->value = optarg ? optarg : !strcmp(name, "portal") ? "true" : "false";
			opts->n_overrides++;
			break;
		}
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

/* --helper and --helper-socket win over the config file's helper keys. */
static void pick_helper(const struct options *opts, const struct kmscast_config *cfg,
		const char **helper_path, const char **helper_socket)
{
	*helper_path = opts->helper_path;
	*helper_socket = opts->helper_socket;
	if (opts->helper_path || opts->helper_socket) {
		return;
	}
	if (cfg->helper_mode == CONFIG_HELPER_SOCKET) {
		*helper_socket = cfg->helper_socket;
	} else if (cfg->helper_path[0]) {
		*helper_path = cfg->helper_path;
	}
}

static int run_probe(const struct options *opts, const struct kmscast_config *cfg)
{
	struct helper_client_options hopts = {0};
	int ret;

	pick_helper(opts, cfg, &hopts.helper_path, &hopts.socket_path);
	hopts.mode = hopts.socket_path ? HELPER_MODE_SOCKET : HELPER_MODE_SPAWN;
	ret = kmscast_probe(&hopts, stdout);
	if (ret < 0) {
		fprintf(stderr, "kmscast: probe failed: %s\n", strerror(-ret));
	}
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options opts = {.mode = MODE_DAEMON, .dri_dir = "/dev/dri"};
	struct kmscast_config cfg;
	int ret;

	if (parse_args(argc, argv, &opts) < 0) {
		return 2;
	}
	config_init(&cfg, KMSCAST_HELPER_SOCKET);
	if (config_load(&cfg, opts.config_path, opts.overrides, opts.n_overrides) < 0) {
		return 2;
	}

	switch (opts.mode) {
	case MODE_LIST:
		ret = kmscast_list(stdout, opts.dri_dir, opts.json);
		if (ret == -ENODEV) {
			fprintf(stderr, "kmscast: no DRM card found in %s\n", opts.dri_dir);
		} else if (ret < 0) {
			fprintf(stderr, "kmscast: listing failed: %s\n", strerror(-ret));
		}
		return ret < 0 ? 1 : 0;
	case MODE_PRINT_PORTAL:
		return config_write_portal_file(&cfg, stdout) < 0 ? 1 : 0;
	case MODE_PROBE:
		return run_probe(&opts, &cfg);
	case MODE_DAEMON:
	default: {
		struct daemon_options dopts = {
			.dri_dir = opts.dri_dir,
			.config = &cfg,
			.portal = cfg.portal,
		};

		pick_helper(&opts, &cfg, &dopts.helper_path, &dopts.helper_socket);

		return kmscast_daemon_run(&dopts, &argc, &argv);
	}
	}
}
