/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_NODE_HOST_H
#define KMSCAST_NODE_HOST_H

/*
 * Hosting api.kmscast.source nodes in this process, for the daemon and its portal backend:
 * the properties every node starts from, loading the plugin with the host's support item
 * (kmscast/node.h), and exporting the node to the PipeWire server.
 */

#include <pipewire/pipewire.h>

#include "kmscast/node.h"

/*
 * What every node this process hosts is told, and where it is exported. The owner fills it
 * and keeps it current: core and server_version change when PipeWire restarts.
 */
struct node_host {
	struct pw_context *context; /* not owned */
	struct pw_core *core; /* not owned; NULL while disconnected */
	const char *helper_path; /* not owned; NULL: $KMSCAST_HELPER, else the installed one */
	const char *helper_socket; /* not owned; non-NULL: the socket-activated helper */
	int32_t resend_ms; /* KMSCAST_KEY_RESEND_MS for every node; -1: the node's default */
	char server_version[32]; /* from the core info; "" until it arrives */
};

struct node_host_export {
	struct spa_handle *handle; /* owned */
	struct pw_proxy *proxy; /* owned while exported */
	struct spa_hook proxy_listener; /* on proxy, while it exists */
};

/*
 * The properties a node for CRTC crtc_id of card (driving connector) starts from: library,
 * factory, Video/Source, Screen, a driver of priority 0, the card, connector and CRTC. The
 * caller adds node.name and node.description and owns the result. NULL on allocation failure.
 */
struct pw_properties *node_host_props_new(const char *card, const char *connector,
		uint32_t crtc_id);

/*
 * Loads the plugin with props, to which it adds the host's node settings, and a support item
 * that tells the node how to reach the helper and which PipeWire server it runs on; then
 * exports the node on host->core and listens to its proxy with events and data. On PipeWire
 * 1.1.81 and later it first writes node.loop.name into props: the data loop the node was
 * given, which the exported node then runs on too. On success out owns a handle and a proxy
 * (release with node_host_unexport); on failure it owns nothing. props stay the caller's.
 * Returns 0 or -errno (-ENOTCONN while disconnected).
 */
int node_host_export(const struct node_host *host, struct pw_properties *props,
		const struct pw_proxy_events *events, void *data, struct node_host_export *out);

/*
 * The core is gone: destroys the proxy and its listener, keeps the handle until
 * node_host_unexport. Accepts an export without a proxy.
 */
void node_host_drop_proxy(struct node_host_export *exp);

/* Destroys the proxy and unloads the plugin; accepts a half-built or empty export. */
void node_host_unexport(struct node_host_export *exp);

/*
 * Finds the plugin (KMSCAST_NODE_LIBRARY.so) as pw_load_spa_handle() will: in each
 * colon-separated directory of $SPA_PLUGIN_DIR, else in the plugin directory libspa was
 * built with. Writes where it looked into dirs, for a message. Returns 0 when a readable
 * file is there, else -ENOENT.
 */
int node_host_find_plugin(char *dirs, size_t size);

#endif
