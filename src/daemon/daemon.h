/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_DAEMON_H
#define KMSCAST_DAEMON_H

#include <stdbool.h>

struct kmscast_config;

struct daemon_options {
	const char *dri_dir; /* "/dev/dri" */
	const char *helper_path; /* NULL: $KMSCAST_HELPER, else the installed helper */
	const char *helper_socket; /* non-NULL: connect to the socket-activated helper */
	const char *remote; /* PipeWire remote name, NULL for the default */
	/* The config file (NULL: publish everything) and the portal backend. */
	const struct kmscast_config *config;
	bool portal; /* serve org.freedesktop.impl.portal.ScreenCast on the session bus */
};

/*
 * The kmscast daemon: connects to PipeWire and exports one api.kmscast.source node per lit
 * CRTC, adding and removing nodes as outputs change, reconnecting when PipeWire restarts.
 * Runs until SIGINT or SIGTERM. argc/argv go to pw_init. Returns the process exit status.
 */
int kmscast_daemon_run(const struct daemon_options *opts, int *argc, char ***argv);

#endif
