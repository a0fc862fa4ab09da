/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_DAEMON_H
#define KMSCAST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct kms_device;
struct kmscast_config;
struct node_host_export;
struct pw_loop;
struct pw_properties;

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

/*
 * What the xdg-desktop-portal backend (src/daemon-portal.c) may see of a running daemon. The
 * daemon owns everything returned; the core is NULL while PipeWire is away, and the cards
 * array holds the last rescan's devices (entries may be NULL).
 */
const struct daemon_options *daemon_get_options(struct daemon *d);

/*
 * Loads an api.kmscast.source node with props (node_host_props_new() plus the caller's
 * node.name and description, to which it adds the configured node settings) and exports
 * it, telling it how to reach the helper and which PipeWire server it runs on. Returns 0 or -errno; see node_host_export().
 */
int daemon_export_node(struct daemon *d, struct pw_properties *props,
		struct node_host_export *out);
struct pw_loop *daemon_get_loop(struct daemon *d);
uint32_t daemon_get_cards(struct daemon *d, struct kms_device *const **cards);

#endif
