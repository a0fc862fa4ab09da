/* SPDX-License-Identifier: MIT */
/* `kmscast --probe`: a diagnostic that exports each active CRTC's scanout through the helper. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>

#include "kms.h"
#include "probe.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

/* Bytes per pixel of the single-plane formats scanout uses; 0 when unknown here. */
static uint32_t bytes_per_pixel(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
	case DRM_FORMAT_XRGB2101010:
	case DRM_FORMAT_ARGB2101010:
		return 4;
	case DRM_FORMAT_RGB565:
		return 2;
	default:
		return 0;
	}
}

static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = {.flags = flags | DMA_BUF_SYNC_READ};
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && (errno == EINTR || errno == EAGAIN)) {
	}
}

int kmscast_probe_checksum(const struct helper_fb *fb, uint64_t *sum)
{
	int fd = fb->fds[fb->plane_fd_index[0]];
	off_t size = lseek(fd, 0, SEEK_END);
	uint32_t bpp = bytes_per_pixel(fb->fourcc);
	uint64_t row = bpp != 0 ? (uint64_t)fb->width * bpp : fb->pitches[0];
	uint64_t need = fb->offsets[0] + (uint64_t)fb->pitches[0] * (fb->height - 1) + row;
	if (size < 0 || (uint64_t)size < need || row > fb->pitches[0]) {
		return -EINVAL;
	}
	const uint8_t *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		return -errno;
	}
	dmabuf_sync(fd, DMA_BUF_SYNC_START);
	uint64_t h = FNV64_OFFSET;
	for (uint32_t y = 0; y < fb->height; y++) {
		const uint8_t *p = map + fb->offsets[0] + (uint64_t)y * fb->pitches[0];
		for (uint64_t x = 0; x < row; x++) {
			h = (h ^ p[x]) * FNV64_PRIME;
		}
	}
	dmabuf_sync(fd, DMA_BUF_SYNC_END);
	munmap((void *)map, (size_t)size);
	*sum = h;
	return 0;
}

static int probe_plane(struct helper_client *client, const char *card, uint32_t crtc_id,
	enum kmscast_plane_kind kind, FILE *out)
{
	const char *kind_name = kind == KMSCAST_PLANE_CURSOR ? "cursor" : "primary";
	struct helper_fb fb = {.fds = {-1, -1, -1, -1}};
	int r = helper_client_export(client, card, crtc_id, kind, &fb);
	if (r < 0) {
		fprintf(out, "%s crtc %u %s error %d %s\n", card, crtc_id, kind_name, r,
			helper_client_last_error(client));
		return r;
	}
	uint64_t sum = 0;
	r = kmscast_probe_checksum(&fb, &sum);
	char fourcc[5];
	fprintf(out, "%s crtc %u %s fb %u %ux%u %s modifier 0x%" PRIx64 " %s", card, crtc_id,
		kind_name, fb.fb_id, fb.width, fb.height, kms_fourcc_str(fb.fourcc, fourcc),
		fb.modifier, fb.modifier_explicit ? "explicit" : "implicit");
	if (r == 0) {
		fprintf(out, " fnv1a64 0x%016" PRIx64, sum);
	} else {
		fprintf(out, " checksum-error %d", r);
	}
	fprintf(out, " planes %u fds %u handles", fb.n_planes, fb.n_fds);
	for (uint32_t i = 0; i < fb.n_planes; i++) {
		fprintf(out, "%s%u", i ? "," : " ", fb.helper_gem_handles[i]);
	}
	fprintf(out, "\n");
	helper_fb_finish(&fb);
	return r;
}

static int probe_card(struct helper_client *client, const char *name, FILE *out, int *exported)
{
	struct kms_device *dev = NULL;
	int r = kms_device_open(name, &dev);
	if (r < 0) {
		fprintf(out, "%s error %d cannot open: %s\n", name, r, strerror(-r));
		return r;
	}
	int result = 0;
	for (uint32_t i = 0; i < dev->n_crtcs; i++) {
		const struct kms_crtc *crtc = &dev->crtcs[i];
		if (!crtc->active) {
			continue;
		}
		r = probe_plane(client, name, crtc->id, KMSCAST_PLANE_PRIMARY, out);
		if (r < 0) {
			result = r;
			continue;
		}
		(*exported)++;
		if (crtc->cursor != NULL && crtc->cursor->state.fb_id != 0 &&
			probe_plane(client, name, crtc->id, KMSCAST_PLANE_CURSOR, out) == 0) {
			(*exported)++;
		}
	}
	kms_device_destroy(dev);
	return result;
}

int kmscast_probe(const struct helper_client_options *opts, FILE *out)
{
	char names[KMS_MAX_CARDS][KMS_NAME_MAX];
	int n = kms_list_cards("/dev/dri", names, KMS_MAX_CARDS);
	if (n < 0) {
		fprintf(out, "no DRM cards: %s\n", strerror(-n));
		return n;
	}
	struct helper_client *client = NULL;
	int r = helper_client_create(opts, &client);
	if (r < 0) {
		return r;
	}
	int result = 0, exported = 0;
	for (int i = 0; i < n; i++) {
		r = probe_card(client, names[i], out, &exported);
		result = r < 0 ? r : result;
	}
	helper_client_destroy(client);
	if (result == 0 && exported == 0) {
		fprintf(out, "no active CRTC\n");
		result = -ENODEV;
	}
	return result;
}
