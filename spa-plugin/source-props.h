/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_PROPS_H
#define KMSCAST_SOURCE_PROPS_H

/*
 * The node's configuration, read once at init from the factory info dict and the host's
 * support item, and the properties the node announces (its info dict). Main loop; the data
 * loop only reads the configuration, which does not change after init.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/support/log.h>
#include <spa/utils/dict.h>

#include "helper-client.h"
#include "kms.h"
#include "kmscast/node.h"

struct impl;

struct source_config {
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX]; /* as asked, then the CRTC's once it is open */
	uint32_t crtc_id; /* as asked (0: by connector), then the CRTC's once it is open */
	char name_prop[96]; /* node.name from the factory info (a portal session's), or empty */
	/*
	 * kmscast.modifierless-dmabuf: serve the EnumFormat without a modifier with dma-bufs
	 * when the consumer takes them (true, the default: gst pipewiresrc negotiates no
	 * modifier and still imports them), or always by CPU copy (false: the portal
	 * convention of mutter and xdg-desktop-portal-wlr, which apps such as OBS rely on to
	 * fall back when they cannot import the FB's modifier).
	 */
	bool modifierless_dmabuf;
	/*
	 * kmscast.copy: only the format without a modifier, only MemFd/MemPtr buffers, always
	 * PATH_SHM. A consumer that imports a scanout dma-buf may draw on the live screen; a
	 * copy node's consumer only ever holds our copies.
	 */
	bool copy_only;
	bool cursor_hidden; /* kmscast.cursor-mode=hidden: no SPA_META_Cursor offered */
	uint64_t resend_ns; /* kmscast.resend-ms: re-send a static screen this often; 0 never */
	/*
	 * Whether a new FB of the same format renegotiates a running stream, or waits for the
	 * next Pause while spare slots carry its frames (servers 1.0 to 1.5, whose pipewiresrc
	 * ends a stream that gets a format mid-stream).
	 */
	bool renegotiate_midstream;
	struct helper_client_options helper_opts;
	char helper_path[256];
	char helper_socket[256];
};

/*
 * Refuses (-EPERM, logged) a node a PipeWire client asked for: only the daemon, a host of
 * its own (host non-NULL) or the server's own configuration may create one.
 */
int source_props_check_creator(struct spa_log *log, const struct spa_dict *info);
/*
 * Fills c from the factory info (may be NULL) and the host (may be NULL). server_version is
 * the PipeWire server's, or NULL when unknown. Returns 0 or -EINVAL, logged.
 */
int source_props_parse(struct source_config *c, struct spa_log *log, const struct spa_dict *info,
		const struct kmscast_node_host *host, const char *server_version);
/* The PipeWire server's version when the server hosts the node itself, or NULL. */
const char *source_props_hosting_server_version(void);
/* The node's info and params, once the CRTC is open. */
void source_props_init_info(struct impl *this);

#endif
