/* Dumb buffers and their framebuffers for kms-producer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "pattern.h"
#include "producer.h"

/* Bytes per pixel: the pattern's formats, and the 16-bit ones it cannot paint. */
static uint32_t fb_format_cpp(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB16161616:
	case DRM_FORMAT_ARGB16161616:
	case DRM_FORMAT_XRGB16161616F:
	case DRM_FORMAT_ABGR16161616F:
		return 8;
	default:
		return pattern_format_cpp(fourcc);
	}
}

int dumb_fb_create(int drm_fd, uint32_t width, uint32_t height, uint32_t fourcc, bool with_fb,
	struct dumb_fb *fb)
{
	struct drm_mode_create_dumb create = {
		.width = width,
		.height = height,
		.bpp = fb_format_cpp(fourcc) * 8,
	};
	struct drm_mode_map_dumb map = {0};
	uint32_t handles[4] = {0}, pitches[4] = {0}, offsets[4] = {0};
	int ret;

	memset(fb, 0, sizeof(*fb));
	if (create.bpp == 0)
		return -EINVAL;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0) {
		ret = -errno;
		fprintf(stderr, "kms-producer: CREATE_DUMB %ux%u: %m\n", width, height);
		return ret;
	}
	fb->handle = create.handle;
	fb->pitch = create.pitch;
	fb->size = create.size;
	fb->width = width;
	fb->height = height;
	fb->fourcc = fourcc;

	if (with_fb) {
		handles[0] = fb->handle;
		pitches[0] = fb->pitch;
		if (drmModeAddFB2(drm_fd, width, height, fourcc, handles, pitches, offsets,
			    &fb->fb_id, 0) < 0) {
			ret = -errno;
			fprintf(stderr, "kms-producer: AddFB2 %ux%u: %m\n", width, height);
			goto err_destroy;
		}
	}

	map.handle = fb->handle;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0) {
		ret = -errno;
		fprintf(stderr, "kms-producer: MAP_DUMB: %m\n");
		goto err_destroy;
	}
	fb->map = mmap(NULL, fb->size, PROT_READ | PROT_WRITE, MAP_SHARED, drm_fd, map.offset);
	if (fb->map == MAP_FAILED) {
		ret = -errno;
		fb->map = NULL;
		fprintf(stderr, "kms-producer: mmap dumb buffer: %m\n");
		goto err_destroy;
	}
	return 0;

err_destroy:
	dumb_fb_destroy(drm_fd, fb);
	return ret;
}

void dumb_fb_destroy(int drm_fd, struct dumb_fb *fb)
{
	if (fb->map)
		munmap(fb->map, fb->size);
	/* Removing the framebuffer on screen would switch the CRTC off; callers never do. */
	if (fb->fb_id)
		drmModeRmFB(drm_fd, fb->fb_id);
	if (fb->handle) {
		struct drm_mode_destroy_dumb destroy = {.handle = fb->handle};
		drmIoctl(drm_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	}
	memset(fb, 0, sizeof(*fb));
}

int fb_id_reserve(int drm_fd, uint32_t freed_id, struct id_reservations *res)
{
	static const uint32_t placeholder = 0;

	/* Lower free ids are taken first; stop once the freed one (or a higher one) is held. */
	while (res->count < MAX_RESERVED_IDS) {
		uint32_t blob_id = 0;
		if (drmModeCreatePropertyBlob(drm_fd, &placeholder, sizeof(placeholder), &blob_id) <
			0)
			return -errno;
		res->blob_ids[res->count++] = blob_id;
		if (blob_id >= freed_id)
			return 0;
	}
	return -ENOSPC;
}

void fb_id_release_all(int drm_fd, struct id_reservations *res)
{
	for (uint32_t i = 0; i < res->count; i++)
		drmModeDestroyPropertyBlob(drm_fd, res->blob_ids[i]);
	res->count = 0;
}
