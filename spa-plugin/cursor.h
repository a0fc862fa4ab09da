/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_CURSOR_H
#define KMSCAST_CURSOR_H

/*
 * The CRTC's cursor plane as SPA_META_Cursor. The data loop reads the plane every tick; the
 * image is exported through the node (the helper is the node's, its round trips on the node's
 * helper thread), copied on the main loop, and handed to the data loop with a blocking invoke.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spa/buffer/meta.h>
#include <spa/support/log.h>
#include <spa/support/loop.h>

#include "helper-client.h"
#include "kms.h"

/* The largest cursor FB we copy: DRM_CAP_CURSOR_WIDTH is 64 on vkms and virtio-gpu. */
#define MAX_CURSOR_SIZE 256

/* Bytes a SPA_META_Cursor needs to carry a MAX_CURSOR_SIZE ARGB bitmap. */
#define CURSOR_META_SIZE \
	(sizeof(struct spa_meta_cursor) + sizeof(struct spa_meta_bitmap) + \
			MAX_CURSOR_SIZE * MAX_CURSOR_SIZE * 4)

struct cursor_events {
	/*
	 * Main loop: asks for the cursor plane's FB, without waiting for it; the callee hands
	 * it to cursor_exported once it is there. Returns 0 or -errno; the callee logs a
	 * failure worth logging.
	 */
	int (*request_export)(void *data);
};

struct cursor {
	/* Borrowed from the node (cursor_init, cursor_set_plane). */
	struct spa_log *log;
	struct spa_loop *main_loop;
	struct spa_loop *data_loop;
	const char *name; /* the node's, for logs */
	const struct cursor_events *events;
	void *data;
	struct kms_device *kms;
	uint32_t crtc_id;

	/* Data loop. */
	struct kms_plane plane; /* a copy of the CRTC's cursor plane */
	bool has_plane; /* the CRTC has a cursor plane */
	bool enabled; /* the link negotiated SPA_META_Cursor */
	uint32_t fb_id; /* the cursor FB on the plane now, 0 when hidden */
	int32_t x, y; /* CRTC_X/Y: top-left of the cursor image on the CRTC */
	int32_t hot_x, hot_y;
	uint32_t bitmap_fb; /* the FB the bitmap below was copied from */
	uint32_t bitmap_serial; /* bumped whenever the bitmap changes */
	uint32_t sent_serial; /* bitmap_serial last attached to a buffer */
	uint32_t requested_fb; /* asked the main loop to copy this one */
	uint32_t width, height; /* bitmap size */
	uint8_t *bitmap; /* owned, ARGB8888 (SPA BGRA), MAX_CURSOR_SIZE^2 * 4 bytes */
};

/*
 * Allocates the bitmap. log, the loops and name are borrowed; events->request_export gets data.
 * Returns 0 or -ENOMEM.
 */
int cursor_init(struct cursor *c, struct spa_log *log, struct spa_loop *main_loop,
		struct spa_loop *data_loop, const char *name, const struct cursor_events *events,
		void *data);
/*
 * The CRTC's cursor plane, or NULL when it has none; kms is borrowed (NULL while the card is
 * away). Forgets the cursor FB seen: a new card's FB ids are new. Before the data loop ticks,
 * or on it.
 */
void cursor_set_plane(struct cursor *c, struct kms_device *kms, uint32_t crtc_id,
		const struct kms_plane *plane);
/*
 * Main loop: the cursor plane's FB asked for by request_export. Copies its image for the data
 * loop and finishes hfb (closes its fds).
 */
void cursor_exported(struct cursor *c, struct helper_fb *hfb);
/* Accepts a zeroed or finished cursor. */
void cursor_finish(struct cursor *c);

/* Whether the node offers SPA_META_Cursor: the CRTC has a cursor plane. */
static inline bool cursor_available(const struct cursor *c)
{
	return c->has_plane;
}
/* Data loop: a new allocation, with (enabled) or without the cursor meta; the image goes out
 * again once. */
void cursor_reset(struct cursor *c, bool enabled);

/*
 * Data loop, once per tick: re-reads the cursor plane while the link has the meta. Returns
 * true when the cursor moved or its image changed, i.e. a cursor-only buffer is worth sending.
 */
bool cursor_update(struct cursor *c);

/* Data loop: fills a slot's cursor meta; sends the bitmap only when it changed. */
void cursor_fill_meta(struct cursor *c, struct spa_meta_cursor *meta, size_t size);

#endif
