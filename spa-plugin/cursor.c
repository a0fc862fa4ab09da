/* SPDX-License-Identifier: MIT */
/*
 * SPA_META_Cursor from the CRTC's cursor plane. Position and hotspot are read on every tick
 * (one ioctl); the image is exported through the helper and copied only when the cursor
 * plane shows a different FB, and sent to consumers only when it changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>

#include <spa/param/video/raw.h>
#include <spa/utils/result.h>

#include "cursor.h"

#define CURSOR_BITMAP_BYTES (MAX_CURSOR_SIZE * MAX_CURSOR_SIZE * 4)

int cursor_init(struct cursor *c, struct spa_log *log, struct spa_loop *main_loop,
		struct spa_loop *data_loop, const char *name, const struct cursor_events *events,
		void *data)
{
	*c = (struct cursor){
		.log = log,
		.main_loop = main_loop,
		.data_loop = data_loop,
		.name = name,
		.events = events,
		.data = data,
	};
	c->bitmap = calloc(1, CURSOR_BITMAP_BYTES);
	return c->bitmap ? 0 : -ENOMEM;
}

void cursor_set_plane(struct cursor *c, struct kms_device *kms, uint32_t crtc_id,
		const struct kms_plane *plane)
{
	c->kms = kms;
	c->crtc_id = crtc_id;
	c->has_plane = plane != NULL;
	if (plane) {
		c->plane = *plane;
	}
	c->fb_id = 0;
	c->bitmap_fb = 0;
	c->requested_fb = 0;
	c->bitmap_serial++; /* the image goes out again */
}

void cursor_finish(struct cursor *c)
{
	free(c->bitmap);
	c->bitmap = NULL;
}

void cursor_reset(struct cursor *c, bool enabled)
{
	c->enabled = enabled;
	c->bitmap_serial++;
}

struct cursor_image {
	uint32_t fb_id, width, height;
	uint8_t *pixels; /* CURSOR_BITMAP_BYTES, tightly packed */
};

static int do_swap_image(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct cursor *c = user_data;
	struct cursor_image *img = *(struct cursor_image *const *)data;
	uint8_t *old = c->bitmap;

	c->bitmap = img->pixels; /* ownership swapped */
	img->pixels = old;
	c->bitmap_fb = img->fb_id;
	c->width = img->width;
	c->height = img->height;
	c->bitmap_serial++;
	return 0;
}

/* Copies the exported cursor FB into img; only 32-bit ARGB/XRGB linear cursors. */
static int copy_cursor(const struct helper_fb *hfb, struct cursor_image *img)
{
	struct dma_buf_sync sync = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
	size_t len = (size_t)hfb->offsets[0] + (size_t)hfb->pitches[0] * hfb->height;
	const uint8_t *map;

	if (hfb->fourcc != DRM_FORMAT_ARGB8888 && hfb->fourcc != DRM_FORMAT_XRGB8888) {
		return -ENOTSUP;
	}
	if (hfb->width > MAX_CURSOR_SIZE || hfb->height > MAX_CURSOR_SIZE || hfb->n_fds < 1 ||
			hfb->pitches[0] < hfb->width * 4) {
		return -E2BIG;
	}
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, hfb->fds[0], 0);
	if (map == MAP_FAILED) {
		return -errno;
	}
	ioctl(hfb->fds[0], DMA_BUF_IOCTL_SYNC, &sync);
	for (uint32_t y = 0; y < hfb->height; y++) {
		memcpy(img->pixels + (size_t)y * hfb->width * 4,
				map + hfb->offsets[0] + (size_t)y * hfb->pitches[0], hfb->width * 4);
	}
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	ioctl(hfb->fds[0], DMA_BUF_IOCTL_SYNC, &sync);
	munmap((void *)map, len);
	img->fb_id = hfb->fb_id;
	img->width = hfb->width;
	img->height = hfb->height;
	return 0;
}

void cursor_exported(struct cursor *c, struct helper_fb *hfb)
{
	struct cursor_image img = {0};
	struct cursor_image *imgp = &img;
	int res;

	img.pixels = malloc(CURSOR_BITMAP_BYTES);
	res = img.pixels ? copy_cursor(hfb, &img) : -ENOMEM;
	helper_fb_finish(hfb);
	if (res == 0) {
		spa_loop_invoke(c->data_loop, do_swap_image, 0, &imgp, sizeof(imgp), true, c);
	} else {
		spa_log_warn(c->log, "%s: cursor FB not copied: %s", c->name,
				spa_strerror(res));
	}
	free(img.pixels);
}

/* Main loop: ask for the cursor plane's FB; its pixels go to the data loop in cursor_exported. */
static int do_learn_cursor(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct cursor *c = user_data;

	c->events->request_export(c->data);
	return 0;
}

bool cursor_update(struct cursor *c)
{
	const struct kms_plane_state *st = &c->plane.state;
	uint32_t fb;
	bool changed;

	if (!c->enabled || !c->has_plane) {
		return false;
	}
	if (kms_plane_read_state(c->kms, &c->plane) < 0) {
		return false;
	}
	fb = st->crtc_id == c->crtc_id ? st->fb_id : 0;
	changed = fb != c->fb_id || st->crtc_x != c->x || st->crtc_y != c->y;
	if (fb != c->fb_id) {
		c->bitmap_serial++; /* shown, hidden or another image: resend */
	}
	c->fb_id = fb;
	c->x = st->crtc_x;
	c->y = st->crtc_y;
	if (c->plane.has_hotspot) {
		c->hot_x = st->hotspot_x;
		c->hot_y = st->hotspot_y;
	}
	if (fb && fb != c->bitmap_fb && fb != c->requested_fb) {
		c->requested_fb = fb;
		spa_loop_invoke(c->main_loop, do_learn_cursor, 0, NULL, 0, false, c);
	}
	return changed;
}

void cursor_fill_meta(struct cursor *c, struct spa_meta_cursor *meta, size_t size)
{
	struct spa_meta_bitmap *bm;
	size_t need = sizeof(*meta) + sizeof(*bm) + (size_t)c->width * c->height * 4;

	meta->id = 1;
	meta->flags = 0;
	/* SPA positions the pointer (the hotspot); KMS positions the image's top-left. */
	meta->position = SPA_POINT(c->x + c->hot_x, c->y + c->hot_y);
	meta->hotspot = SPA_POINT(c->hot_x, c->hot_y);
	meta->bitmap_offset = 0;
	if (c->sent_serial == c->bitmap_serial || size < sizeof(*meta) + sizeof(*bm)) {
		return;
	}
	meta->bitmap_offset = sizeof(*meta);
	bm = SPA_PTROFF(meta, meta->bitmap_offset, struct spa_meta_bitmap);
	bm->format = SPA_VIDEO_FORMAT_BGRA; /* DRM ARGB8888 in memory order */
	if (c->fb_id == 0 || c->bitmap_fb != c->fb_id || need > size) {
		/* Hidden (or its image not copied yet): an empty bitmap means invisible. */
		bm->size = SPA_RECTANGLE(0, 0);
		bm->stride = 0;
		bm->offset = 0;
		if (c->fb_id == 0) {
			c->sent_serial = c->bitmap_serial;
		}
		return;
	}
	bm->size = SPA_RECTANGLE(c->width, c->height);
	bm->stride = (int32_t)c->width * 4;
	bm->offset = sizeof(*bm);
	memcpy(SPA_PTROFF(bm, bm->offset, void), c->bitmap, (size_t)c->width * c->height * 4);
	c->sent_serial = c->bitmap_serial;
}
