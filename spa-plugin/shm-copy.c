/* SPDX-License-Identifier: MIT */
/*
 * The SHM path, for consumers that take no dma-buf: MemFd buffers we allocate (or memory
 * PipeWire allocated), filled by a CPU copy of the scanout FB, every plane. Only linear FBs
 * can be read this way; each of their dma-bufs is mapped (scanout_fb_map), so a plane may sit
 * in a buffer object of its own.
 *
 * One MemFd per plane, not one with the planes at offsets: each spa_data is then what a
 * single-plane buffer's is (an fd of its own, mapoffset 0, sealed to its plane's size), the
 * shape every consumer already reads. The cost is an fd per plane per buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include <spa/utils/result.h>

#include "source-port.h"
#include "spa-compat.h"

size_t shm_plane_bytes(const struct scanout_fb *fb, uint32_t i)
{
	return (size_t)fb->hfb.pitches[i] * scanout_fb_plane_rows(&fb->hfb, i);
}

uint64_t shm_frame_bytes(const struct scanout_fb *fb)
{
	uint64_t frame = 0;

	for (uint32_t i = 0; i < fb->hfb.n_planes && i < HELPER_MAX_PLANES; i++) {
		frame += shm_plane_bytes(fb, i);
	}
	return frame;
}

uint32_t shm_max_slots(const struct scanout_fb *fb)
{
	uint64_t frame = shm_frame_bytes(fb);

	if (frame == 0) {
		return MIN_SLOTS;
	}
	return (uint32_t)SPA_CLAMP(SHM_MAX_BYTES / frame, (uint64_t)MIN_SLOTS, (uint64_t)MAX_SLOTS);
}

static int alloc_plane(struct slot_plane *p, struct spa_data *d, const struct scanout_fb *fb,
		uint32_t i)
{
	size_t size = shm_plane_bytes(fb, i);
	void *map;
	int fd, res;

	if (!(d->type & (1u << SPA_DATA_MemFd))) {
		return -ENOTSUP;
	}
	if (size == 0 || size > UINT32_MAX) {
		return -EINVAL;
	}
	fd = memfd_create("kmscast-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		res = -errno;
		goto err_close;
	}
	/* The consumer maps it too: it must not be able to shrink it under our copy. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		res = -errno;
		goto err_close;
	}
	d->type = SPA_DATA_MemFd;
	/* PipeWire >= 1.1.81 maps for MAP_BUFFERS consumers (OBS) only what says MAPPABLE. */
	d->flags = SPA_DATA_FLAG_READABLE | SPA_DATA_FLAG_MAPPABLE;
	d->fd = fd; /* still owned by the slot; PipeWire sends a copy */
	d->mapoffset = 0;
	d->maxsize = (uint32_t)size;
	d->data = map;
	d->chunk->offset = 0;
	d->chunk->size = (uint32_t)size;
	d->chunk->stride = (int32_t)fb->hfb.pitches[i];
	d->chunk->flags = SPA_CHUNK_FLAG_NONE;
	p->fd = fd; /* fd and mapping now owned by the slot */
	p->map = map;
	p->map_size = size;
	p->dst = map;
	p->dst_size = size;
	p->dst_stride = fb->hfb.pitches[i];
	return 0;

err_close:
	close(fd);
	return res;
}

int shm_slot_alloc(struct slot *slot, struct spa_buffer *buf, const struct scanout_fb *fb)
{
	uint32_t n = fb->hfb.n_planes;
	int res;

	if (buf->n_datas != n || n > HELPER_MAX_PLANES) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((res = alloc_plane(&slot->planes[i], &buf->datas[i], fb, i)) < 0) {
			shm_slot_free(slot); /* the planes made so far */
			return res;
		}
	}
	slot->n_planes = n;
	return 0;
}

int shm_slot_use(struct slot *slot, struct spa_buffer *buf, const struct scanout_fb *fb)
{
	uint32_t n = fb->hfb.n_planes;

	if (buf->n_datas != n || n > HELPER_MAX_PLANES) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct spa_data *d = &buf->datas[i];
		/* A stride PipeWire or the consumer set at allocation is kept; else the FB's. */
		uint32_t stride = d->chunk->stride > 0 ? (uint32_t)d->chunk->stride :
				fb->hfb.pitches[i];
		uint64_t size = (uint64_t)stride * scanout_fb_plane_rows(&fb->hfb, i);

		if (d->data == NULL || size > d->maxsize) {
			return -EINVAL;
		}
		slot->planes[i].dst = d->data; /* PipeWire's: not owned */
		slot->planes[i].dst_size = d->maxsize;
		slot->planes[i].dst_stride = stride;
	}
	slot->n_planes = n;
	return 0;
}

void shm_slot_free(struct slot *slot)
{
	for (uint32_t i = 0; i < HELPER_MAX_PLANES; i++) {
		struct slot_plane *p = &slot->planes[i];

		if (p->map) {
			munmap(p->map, p->map_size);
		}
		if (p->fd >= 0) {
			close(p->fd);
		}
		*p = (struct slot_plane){.fd = -1};
	}
	slot->n_planes = 0;
}

/*
 * Whether fd's buffer may be accessed now, without waiting: a dma-buf polls POLLIN once the
 * fences of its writers have signalled and POLLOUT once all of them have (the kernel's
 * dma_buf_poll). DMA_BUF_IOCTL_SYNC would wait for them with no bound, on the data loop.
 * Returns 0 when ready, -EBUSY when not, or -errno.
 */
static int fd_ready(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	while ((n = poll(&pfd, 1, 0)) < 0 && errno == EINTR) {
		;
	}
	if (n < 0) {
		return -errno;
	}
	if (pfd.revents & POLLNVAL) {
		return -EBADF;
	}
	return (pfd.revents & events) ? 0 : -EBUSY;
}

static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = {.flags = flags};

	/*
	 * Cache maintenance around our CPU accesses. It also waits for the buffer's fences, but
	 * fd_ready saw them signalled.
	 */
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && (errno == EINTR || errno == EAGAIN)) {
		;
	}
}

/* Whether plane i of fb fits the slot's plane and lies inside the mapping of its fd. */
static int check_plane(const struct slot_plane *p, const struct scanout_fb *fb, uint32_t i)
{
	const struct helper_fb *hfb = &fb->hfb;
	uint32_t rows = scanout_fb_plane_rows(hfb, i);
	uint32_t row = SPA_MIN(hfb->pitches[i], p->dst_stride);
	uint32_t fd_index = hfb->plane_fd_index[i];

	if (fd_index >= hfb->n_fds || fd_index >= SPA_N_ELEMENTS(fb->maps) ||
			!fb->maps[fd_index]) {
		return -EINVAL;
	}
	if (!p->dst || rows == 0 || (uint64_t)p->dst_stride * rows > p->dst_size) {
		return -ENOSPC;
	}
	/* Every term is below 2^32, so the 64-bit sum cannot wrap. */
	if ((uint64_t)hfb->offsets[i] + (uint64_t)hfb->pitches[i] * (rows - 1) + row >
			fb->fd_size[fd_index]) {
		return -EINVAL;
	}
	return 0;
}

static void copy_plane(const struct slot_plane *p, const struct scanout_fb *fb, uint32_t i)
{
	const struct helper_fb *hfb = &fb->hfb;
	const uint8_t *src = (const uint8_t *)fb->maps[hfb->plane_fd_index[i]] + hfb->offsets[i];
	uint32_t rows = scanout_fb_plane_rows(hfb, i);
	uint32_t src_pitch = hfb->pitches[i];
	uint32_t row = SPA_MIN(src_pitch, p->dst_stride);

	if (src_pitch == p->dst_stride) {
		memcpy(p->dst, src, (size_t)src_pitch * rows);
		return;
	}
	for (uint32_t y = 0; y < rows; y++) {
		memcpy(p->dst + (size_t)y * p->dst_stride, src + (size_t)y * src_pitch, row);
	}
}

/*
 * The fds of fb that the copy of its first n_planes planes reads, as a mask of indices into
 * hfb.fds (checked by check_plane). Two planes in one buffer object share its fd.
 */
static uint32_t fds_read(const struct helper_fb *hfb, uint32_t n_planes)
{
	uint32_t mask = 0;

	for (uint32_t i = 0; i < n_planes; i++) {
		mask |= 1u << hfb->plane_fd_index[i];
	}
	return mask;
}

/* fd_ready for each fd of fb in mask: 0 once every one is readable, else the first error. */
static int fds_ready(const struct helper_fb *hfb, uint32_t mask)
{
	int res;

	for (uint32_t i = 0; i < hfb->n_fds; i++) {
		if ((mask & (1u << i)) && (res = fd_ready(hfb->fds[i], POLLIN)) < 0) {
			return res;
		}
	}
	return 0;
}

/* dmabuf_sync with flags on each fd of fb in mask. */
static void fds_sync(const struct helper_fb *hfb, uint32_t mask, uint64_t flags)
{
	for (uint32_t i = 0; i < hfb->n_fds; i++) {
		if (mask & (1u << i)) {
			dmabuf_sync(hfb->fds[i], flags);
		}
	}
}

int shm_copy_frame(struct slot *slot, struct scanout_fb *fb)
{
	const struct helper_fb *hfb = &fb->hfb;
	uint32_t mask;
	int res;

	if ((res = scanout_fb_map(fb)) < 0) {
		return res;
	}
	if (slot->n_planes != hfb->n_planes) {
		return -ENOSPC; /* a new format: the link is being renegotiated */
	}
	for (uint32_t i = 0; i < slot->n_planes; i++) {
		if ((res = check_plane(&slot->planes[i], fb, i)) < 0) {
			return res;
		}
	}
	/*
	 * Every dma-buf read is checked before any is touched: one whose fences are pending
	 * leaves the slot as it was. A spare is our dma-buf, which the consumer's GPU may still
	 * be reading.
	 */
	mask = fds_read(hfb, slot->n_planes);
	if ((res = fds_ready(hfb, mask)) < 0 ||
			(slot->spare && (res = fd_ready(slot->planes[0].fd, POLLOUT)) < 0)) {
		return res;
	}
	fds_sync(hfb, mask, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (slot->spare) {
		dmabuf_sync(slot->planes[0].fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	}
	for (uint32_t i = 0; i < slot->n_planes; i++) {
		copy_plane(&slot->planes[i], fb, i);
	}
	if (slot->spare) {
		dmabuf_sync(slot->planes[0].fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	}
	fds_sync(hfb, mask, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	for (uint32_t i = 0; i < slot->n_planes; i++) {
		struct spa_chunk *c = slot->buf->datas[i].chunk;

		c->offset = 0;
		c->size = slot->planes[i].dst_stride * scanout_fb_plane_rows(hfb, i);
		c->stride = (int32_t)slot->planes[i].dst_stride;
		c->flags = SPA_CHUNK_FLAG_NONE;
	}
	return 0;
}
