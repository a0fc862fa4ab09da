/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_CURSOR_H
#define KMSCAST_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spa/buffer/meta.h>

struct impl;

/* The largest cursor FB we copy: DRM_CAP_CURSOR_WIDTH is 64 on vkms and virtio-gpu. */
#define MAX_CURSOR_SIZE 256

/* Bytes a SPA_META_Cursor needs to carry a MAX_CURSOR_SIZE ARGB bitmap. */
#define CURSOR_META_SIZE \
	(sizeof(struct spa_meta_cursor) + sizeof(struct spa_meta_bitmap) + \
			MAX_CURSOR_SIZE * MAX_CURSOR_SIZE * 4)

/*
 * The cursor plane as seen by the data loop, plus the last bitmap copied from its FB. The
 * bitmap is copied on the main loop (the helper export blocks) and handed to the data loop
 * with a blocking invoke.
 */
struct cursor_state {
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
	int32_t last_x, last_y;
	bool moved;
};

int cursor_init(struct cursor_state *c);
void cursor_finish(struct cursor_state *c);

/*
 * Data loop, once per tick: re-reads the cursor plane. Returns true when the cursor moved or
 * its image changed, i.e. a cursor-only buffer is worth sending.
 */
bool cursor_update(struct impl *this);

/* Data loop: fills a slot's cursor meta; sends the bitmap only when it changed. */
void cursor_fill_meta(struct impl *this, struct spa_meta_cursor *meta, size_t size);

#endif
