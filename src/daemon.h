/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_DAEMON_H
#define KMSCAST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct kms_device;
struct kmscast_config;
struct pw_context;
struct pw_core;
struct pw_loop;
struct pw_properties;

struct daemon_options {
	const char *dri_dir; /* "/dev/dri" */
	const char *helper_path; /* NULL: $KMSCAST_HELPER, else the installed helper */
	const char *helper_socket; /* non-NULL: connect to the socket-activated helper */
	const char *remote; /* PipeWire remote name, NULL for the default */
	/* Issue 6: the config file (NULL: publish everything) and the portal backend. */
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
 * Issue 6: what the portal backend (src/daemon-portal.c) may see of a running daemon. The
 * daemon owns everything returned; the core is NULL while PipeWire is away, and the cards
 * array holds the last rescan's devices (entries may be NULL).
 */
const struct daemon_options *daemon_get_options(struct daemon *d);

/*
 * The properties every api.kmscast.source node the daemon exports starts from: the factory,
 * Video/Source, the card, connector and CRTC, and how to reach the helper. The caller adds
 * its node.name and node.description and owns the result. Returns NULL on allocation
 * failure.
 */
struct pw_properties *daemon_node_props_new(struct daemon *d, const char *card,
		const char *connector, uint32_t crtc_id);
struct pw_loop *daemon_get_loop(struct daemon *d);
struct pw_context *daemon_get_context(struct daemon *d);
struct pw_core *daemon_get_core(struct daemon *d);
uint32_t daemon_get_cards(struct daemon *d, struct kms_device *const **cards);

#endif
