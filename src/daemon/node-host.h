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

struct node_host_export {
	struct spa_handle *handle; /* owned */
	struct pw_proxy *proxy; /* owned while exported */
};

/*
 * The properties a node for CRTC crtc_id of card (driving connector) starts from: library,
 * factory, Video/Source, Screen, a driver of priority 0, the card, connector and CRTC. The
 * caller adds node.name and node.description and owns the result. NULL on allocation failure.
 */
struct pw_properties *node_host_props_new(const char *card, const char *connector,
		uint32_t crtc_id);

/*
 * Loads the plugin with props and host, then exports the node on core. On PipeWire 1.1.81
 * and later it first writes node.loop.name into props: the data loop the node was given,
 * which the exported node then runs on too. On success out owns a handle and a proxy
 * (release with node_host_unexport); on failure it owns nothing. props stay the caller's.
 * Returns 0 or -errno.
 */
int node_host_export(struct pw_context *context, struct pw_core *core,
		struct pw_properties *props, const struct kmscast_node_host *host,
		struct node_host_export *out);

/* Destroys the proxy and unloads the plugin; accepts a half-built or empty export. */
void node_host_unexport(struct node_host_export *exp);

#endif
