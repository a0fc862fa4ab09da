/* SPDX-License-Identifier: MIT */
/*
 * The api.kmscast.source node's contract with whoever creates it: the factory and library
 * names, the property keys it reads, and the name of the support item through which only an
 * in-process host (the kmscast daemon) hands it the helper's location. The daemon, its portal
 * backend and the node include this header; nothing else spells these strings.
 */
#ifndef KMSCAST_NODE_H
#define KMSCAST_NODE_H

#include <stdbool.h>
#include <stdint.h>

#define KMSCAST_NODE_FACTORY "api.kmscast.source"
/* Relative to SPA_PLUGIN_DIR, as context.spa-libs and pw_load_spa_handle() want it. */
#define KMSCAST_NODE_LIBRARY "kmscast/libspa-kmscast"

/* The node's default node.name: kmscast.<card>.<connector>. */
#define KMSCAST_NODE_NAME_FMT "kmscast.%s.%s"
/* Every node kmscast names, the daemon's and the portal's, starts with this. */
#define KMSCAST_NODE_NAME_PREFIX "kmscast."

/* Properties the node reads from its factory info. */
#define KMSCAST_KEY_CARD "kmscast.card" /* cardN, default card0 */
#define KMSCAST_KEY_CRTC "kmscast.crtc" /* CRTC object id */
#define KMSCAST_KEY_CONNECTOR "kmscast.connector" /* or the connector's name */
#define KMSCAST_KEY_CURSOR_MODE "kmscast.cursor-mode" /* hidden | metadata */
#define KMSCAST_KEY_MODIFIERLESS_DMABUF "kmscast.modifierless-dmabuf" /* bool */
#define KMSCAST_KEY_RESEND_MS "kmscast.resend-ms" /* re-send a static screen; 0: never */
/*
 * bool, default false: serve CPU copies in MemFd buffers only, never the scanout dma-bufs.
 * Those are the kernel's files of the buffers on screen; whoever imports one can write into
 * the live screen, whatever mode the file has. The portal sets it for sandboxed apps.
 */
#define KMSCAST_KEY_COPY "kmscast.copy"
/* PipeWire-hosted nodes: use the socket-activated helper at its built-in path. */
#define KMSCAST_KEY_HELPER_SOCKET_ACTIVATED "kmscast.helper.socket-activated"
/*
 * Keys older releases read from the properties. A property names a program to run, and any
 * PipeWire client may set properties, so they are refused now (the node logs that).
 */
#define KMSCAST_KEY_LEGACY_HELPER_PATH "kmscast.helper.path"
#define KMSCAST_KEY_LEGACY_HELPER_SOCKET "kmscast.helper.socket"

/*
 * The support item an in-process host adds to spa_handle_factory_init()'s support array
 * (pw_load_spa_handle with pw_context_get_support() plus this one). The PipeWire server
 * never passes it and a client cannot add support items, so its presence also tells the
 * node that it was not created through a PipeWire factory on a client's behalf.
 * data points to a struct kmscast_node_host, read during init only.
 */
#define KMSCAST_TYPE_INTERFACE_NodeHost "Spa:Pointer:Interface:kmscast:NodeHost"
#define KMSCAST_NODE_HOST_VERSION 1

struct kmscast_node_host {
	uint32_t version; /* KMSCAST_NODE_HOST_VERSION */
	const char *helper_path; /* spawn this helper; NULL: $KMSCAST_HELPER, else the installed one */
	const char *helper_socket; /* non-NULL: connect to the socket-activated helper here */
	/* The PipeWire server's version, from its core info, or NULL when unknown. */
	const char *server_version;
};

#endif
