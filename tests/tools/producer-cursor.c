/*
 * The moving, changing cursor of kms-producer, on the legacy cursor ioctls (which drive the
 * cursor plane on atomic drivers). For frame k on a W x H mode:
 *   top-left x = (k * 7) % (W - 64), y = (k * 3) % (H - 64)   (the plane's CRTC_X/CRTC_Y)
 *   image index i = k / PATTERN_CURSOR_PERIOD, colour pattern_cursor_color(k)
 *   hotspot (8 * (i % 8), 16 * (i % 4))
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "pattern.h"
#include "producer.h"

int cursor_init(int drm_fd, struct output *out)
{
	struct cursor *cursor = &out->cursor;
	int ret;

	cursor->shown = -1;
	for (int i = 0; i < 2; i++) {
		ret = dumb_fb_create(drm_fd, CURSOR_SIZE, CURSOR_SIZE, DRM_FORMAT_ARGB8888, false,
			&cursor->images[i]);
		if (ret < 0) {
			cursor_finish(drm_fd, out);
			return ret;
		}
	}
	cursor->enabled = true;
	return 0;
}

static int set_image(int drm_fd, struct output *out, uint64_t frame, uint32_t index)
{
	struct cursor *cursor = &out->cursor;
	int next = cursor->shown == 0 ? 1 : 0;
	struct dumb_fb *image = &cursor->images[next];

	/* Paint the image not on screen, then switch: the visible one is never half painted. */
	pattern_paint_cursor(
		image->map, image->width, image->height, image->pitch, (uint32_t)frame);
	if (drmModeSetCursor2(drm_fd, out->crtc_id, image->handle, CURSOR_SIZE, CURSOR_SIZE,
		    (int32_t)(8 * (index % 8)), (int32_t)(16 * (index % 4))) < 0) {
		int ret = -errno;
		fprintf(stderr, "kms-producer: drmModeSetCursor2 on CRTC %u: %m\n", out->crtc_id);
		return ret;
	}
	cursor->shown = next;
	cursor->image_index = index;
	return 0;
}

int cursor_update(int drm_fd, struct output *out, uint64_t frame, bool force, FILE *log)
{
	struct cursor *cursor = &out->cursor;
	uint32_t w = out->mode.hdisplay, h = out->mode.vdisplay;
	uint32_t index = (uint32_t)(frame / PATTERN_CURSOR_PERIOD);
	int32_t x, y;
	int ret;

	if (!cursor->enabled || w <= CURSOR_SIZE || h <= CURSOR_SIZE)
		return 0;
	x = (int32_t)(frame * 7 % (w - CURSOR_SIZE));
	y = (int32_t)(frame * 3 % (h - CURSOR_SIZE));
	if (force || cursor->shown < 0 || index != cursor->image_index) {
		ret = set_image(drm_fd, out, frame, index);
		if (ret < 0)
			return ret;
	}
	if (drmModeMoveCursor(drm_fd, out->crtc_id, x, y) < 0) {
		ret = -errno;
		fprintf(stderr, "kms-producer: drmModeMoveCursor on CRTC %u: %m\n", out->crtc_id);
		return ret;
	}
	cursor->x = x;
	cursor->y = y;
	fprintf(log,
		"cursor crtc=%u index=%u frame=%" PRIu64 " x=%d y=%d hot_x=%u hot_y=%u "
		"color=0x%08x\n",
		out->crtc_id, out->crtc_index, frame, x, y, 8 * (index % 8), 16 * (index % 4),
		pattern_cursor_color((uint32_t)frame));
	return 0;
}

void cursor_finish(int drm_fd, struct output *out)
{
	struct cursor *cursor = &out->cursor;

	if (cursor->shown >= 0)
		drmModeSetCursor(drm_fd, out->crtc_id, 0, 0, 0);
	for (int i = 0; i < 2; i++)
		dumb_fb_destroy(drm_fd, &cursor->images[i]);
	cursor->shown = -1;
	cursor->enabled = false;
}
