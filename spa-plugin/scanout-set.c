/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "scanout-set.h"
#include "spa-compat.h"

int scanout_set_find(const struct scanout_set *set, uint32_t fb_id)
{
	for (uint32_t i = 0; i < set->n; i++) {
		if (set->fbs[i].fb_id == fb_id) {
			return (int)i;
		}
	}
	return -1;
}

bool scanout_fb_compatible(const struct scanout_fb *a, const struct scanout_fb *b)
{
	const struct helper_fb *x = &a->hfb, *y = &b->hfb;

	if (x->width != y->width || x->height != y->height || x->fourcc != y->fourcc ||
			x->modifier != y->modifier || x->modifier_explicit != y->modifier_explicit ||
			x->n_planes != y->n_planes) {
		return false;
	}
	for (uint32_t i = 0; i < x->n_planes; i++) {
		if (x->pitches[i] != y->pitches[i] || x->offsets[i] != y->offsets[i]) {
			return false;
		}
	}
	return true;
}

uint32_t scanout_fb_plane_rows(const struct helper_fb *hfb, uint32_t i)
{
	if (i == 0) {
		return hfb->height;
	}
	switch (hfb->fourcc) {
	case DRM_FORMAT_NV12:
	case DRM_FORMAT_NV21:
	case DRM_FORMAT_YUV420:
	case DRM_FORMAT_YVU420:
	case DRM_FORMAT_P010:
		return (hfb->height + 1) / 2;
	default:
		return hfb->height;
	}
}

bool scanout_fb_linear(const struct helper_fb *hfb)
{
	return !hfb->modifier_explicit || hfb->modifier == DRM_FORMAT_MOD_LINEAR;
}

uint32_t scanout_fb_data_flags(const struct scanout_fb *fb)
{
	return SPA_DATA_FLAG_READABLE | (fb->mappable ? SPA_DATA_FLAG_MAPPABLE : 0);
}

/*
 * Whether a consumer's plain mmap of each fd would succeed: not every exporter implements
 * mmap for its dma-bufs. Only the mapping is made, no page is touched.
 */
static bool fds_map(const struct scanout_fb *fb)
{
	for (uint32_t i = 0; i < fb->hfb.n_fds; i++) {
		void *map = mmap(NULL, fb->fd_size[i], PROT_READ, MAP_SHARED, fb->hfb.fds[i], 0);

		if (map == MAP_FAILED) {
			return false;
		}
		munmap(map, fb->fd_size[i]);
	}
	return true;
}

bool scanout_fb_same_buffers(const struct scanout_fb *a, const struct scanout_fb *b)
{
	if (a->hfb.n_fds != b->hfb.n_fds) {
		return false;
	}
	for (uint32_t i = 0; i < a->hfb.n_fds; i++) {
		if (a->fd_ino[i] != b->fd_ino[i]) {
			return false;
		}
	}
	return true;
}

int scanout_fb_init(struct scanout_fb *fb, struct helper_fb *hfb)
{
	int res = 0;

	memset(fb, 0, sizeof(*fb));
	fb->fb_id = hfb->fb_id;
	fb->hfb = *hfb; /* fds now owned by fb */
	memset(hfb, 0, sizeof(*hfb));
	for (int i = 0; i < HELPER_MAX_FDS; i++) {
		hfb->fds[i] = -1;
	}

	if (fb->hfb.n_planes == 0 || fb->hfb.n_planes > 4 || fb->hfb.n_fds == 0 ||
			fb->hfb.n_fds > 4) {
		res = -EINVAL;
		goto err_finish;
	}
	for (uint32_t i = 0; i < fb->hfb.n_fds; i++) {
		struct stat st;
		off_t end = lseek(fb->hfb.fds[i], 0, SEEK_END);

		if (end <= 0 || fstat(fb->hfb.fds[i], &st) < 0) {
			res = end == 0 ? -EINVAL : -errno;
			goto err_finish;
		}
		fb->fd_size[i] = (uint64_t)end;
		fb->fd_ino[i] = st.st_ino;
	}
	for (uint32_t i = 0; i < fb->hfb.n_planes; i++) {
		uint64_t size = (uint64_t)fb->hfb.pitches[i] * scanout_fb_plane_rows(&fb->hfb, i);
		uint32_t fd = (uint32_t)fb->hfb.plane_fd_index[i];

		if (fd >= fb->hfb.n_fds || fb->hfb.offsets[i] >= fb->fd_size[fd]) {
			res = -EINVAL;
			goto err_finish;
		}
		/* A driver may pad the last rows away; never announce more than the object. */
		if (fb->hfb.offsets[i] + size > fb->fd_size[fd]) {
			size = fb->fd_size[fd] - fb->hfb.offsets[i];
		}
		fb->plane_size[i] = (uint32_t)size;
	}
	fb->mappable = scanout_fb_linear(&fb->hfb) && fds_map(fb);
	return 0;

err_finish:
	scanout_fb_finish(fb);
	return res;
}

int scanout_fb_dup(struct scanout_fb *dst, const struct scanout_fb *src)
{
	*dst = *src;
	memset(dst->maps, 0, sizeof(dst->maps)); /* src's mappings stay src's */
	for (uint32_t i = 0; i < HELPER_MAX_FDS; i++) {
		dst->hfb.fds[i] = -1;
	}
	for (uint32_t i = 0; i < src->hfb.n_fds; i++) {
		dst->hfb.fds[i] = fcntl(src->hfb.fds[i], F_DUPFD_CLOEXEC, 0);
		if (dst->hfb.fds[i] < 0) {
			int res = -errno;

			scanout_fb_finish(dst);
			return res;
		}
	}
	return 0;
}

/* Unmaps whatever part of fb's fds scanout_fb_map mapped. */
static void unmap_fds(struct scanout_fb *fb)
{
	for (uint32_t i = 0; i < SPA_N_ELEMENTS(fb->maps); i++) {
		if (fb->maps[i]) {
			munmap(fb->maps[i], fb->fd_size[i]);
		}
		fb->maps[i] = NULL;
	}
}

void scanout_fb_finish(struct scanout_fb *fb)
{
	unmap_fds(fb);
	if (fb->hfb.n_fds > 0) {
		helper_fb_finish(&fb->hfb);
	}
	memset(fb, 0, sizeof(*fb));
}

int scanout_fb_map(struct scanout_fb *fb)
{
	const struct helper_fb *hfb = &fb->hfb;
	int res;

	if (fb->maps[0]) {
		return 0; /* every fd is mapped, or none */
	}
	if (!scanout_fb_linear(hfb)) {
		return -ENOTSUP;
	}
	if (hfb->n_fds == 0 || hfb->n_fds > SPA_N_ELEMENTS(fb->maps)) {
		return -EINVAL;
	}
	/*
	 * A plane may sit in a buffer object of its own (one BO per plane, as some drivers and
	 * video decoders allocate NV12): each fd gets a mapping, whichever planes it holds.
	 */
	for (uint32_t i = 0; i < hfb->n_fds; i++) {
		void *map = mmap(NULL, fb->fd_size[i], PROT_READ, MAP_SHARED, hfb->fds[i], 0);

		if (map == MAP_FAILED) {
			res = -errno;
			goto err_unmap;
		}
		fb->maps[i] = map; /* owned by fb */
	}
	return 0;

err_unmap:
	unmap_fds(fb);
	return res;
}

int scanout_set_add(struct scanout_set *set, struct scanout_fb *fb)
{
	if (set->n >= MAX_SCANOUT_FBS) {
		return -ENOSPC;
	}
	set->fbs[set->n] = *fb; /* fds now owned by the set */
	memset(fb, 0, sizeof(*fb));
	return (int)set->n++;
}

void scanout_set_take(struct scanout_set *set, uint32_t i, struct scanout_fb *out)
{
	*out = set->fbs[i]; /* fds and mappings now owned by *out */
	memmove(&set->fbs[i], &set->fbs[i + 1], (set->n - i - 1) * sizeof(set->fbs[0]));
	set->n--;
	memset(&set->fbs[set->n], 0, sizeof(set->fbs[0]));
}

void scanout_set_remove(struct scanout_set *set, uint32_t i)
{
	struct scanout_fb fb;

	if (i >= set->n) {
		return;
	}
	scanout_set_take(set, i, &fb);
	scanout_fb_finish(&fb);
}

void scanout_set_clear(struct scanout_set *set)
{
	for (uint32_t i = 0; i < set->n; i++) {
		scanout_fb_finish(&set->fbs[i]);
	}
	memset(set, 0, sizeof(*set));
}
