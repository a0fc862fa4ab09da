/* SPDX-License-Identifier: MIT */
/*
 * The SHM path, for consumers that take no dma-buf: MemFd buffers we allocate, filled by a CPU
 * copy of the scanout FB. Only linear FBs can be read this way.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include <spa/utils/result.h>

#include "source-port.h"
#include "spa-compat.h"

int shm_slot_alloc(struct slot *slot, struct spa_data *d, const struct scanout_fb *fb)
{
	size_t size = fb->plane_size[0];
	void *map;
	int fd, res;

	if (!(d->type & (1u << SPA_DATA_MemFd))) {
		return -ENOTSUP;
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
	d->fd = fd;
	d->mapoffset = 0;
	d->maxsize = (uint32_t)size;
	d->data = map;
	d->chunk->offset = 0;
	d->chunk->size = (uint32_t)size;
	d->chunk->stride = (int32_t)fb->hfb.pitches[0];
	d->chunk->flags = SPA_CHUNK_FLAG_NONE;
	slot->shm_fd = fd; /* owned by the slot */
	slot->shm_map = map;
	slot->shm_size = size;
	return 0;

err_close:
	close(fd);
	return res;
}

void shm_slot_free(struct slot *slot)
{
	if (slot->shm_map) {
		munmap(slot->shm_map, slot->shm_size);
	}
	if (slot->shm_fd >= 0) {
		close(slot->shm_fd);
	}
	slot->shm_map = NULL;
	slot->shm_fd = -1;
}

static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = {.flags = flags};

	/* Orders our accesses against the GPU or the display engine using the buffer. */
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && (errno == EINTR || errno == EAGAIN)) {
		;
	}
}

int shm_copy_frame(struct slot *slot, struct scanout_fb *fb)
{
	struct spa_data *d = &slot->buf->datas[0];
	uint32_t src_pitch = fb->hfb.pitches[0];
	uint32_t dst_stride = d->chunk->stride > 0 ? (uint32_t)d->chunk->stride : src_pitch;
	uint32_t row = SPA_MIN(src_pitch, dst_stride);
	uint32_t rows = fb->hfb.height;
	const uint8_t *src;
	uint8_t *dst = slot->shm_map;
	int res;

	if (!fb->map && (res = scanout_fb_map(fb)) < 0) {
		return res;
	}
	if (!dst || (uint64_t)dst_stride * rows > slot->shm_size) {
		return -ENOSPC; /* a new mode: the link is being renegotiated */
	}
	src = (const uint8_t *)fb->map + fb->hfb.offsets[0];
	if ((uint64_t)fb->hfb.offsets[0] + (uint64_t)src_pitch * (rows - 1) + row > fb->map_size) {
		return -EINVAL;
	}
	dmabuf_sync(fb->hfb.fds[0], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (slot->spare) {
		dmabuf_sync(slot->shm_fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	}
	if (src_pitch == dst_stride) {
		memcpy(dst, src, (size_t)src_pitch * rows);
	} else {
		for (uint32_t y = 0; y < rows; y++) {
			memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_pitch, row);
		}
	}
	if (slot->spare) {
		dmabuf_sync(slot->shm_fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	}
	dmabuf_sync(fb->hfb.fds[0], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	d->chunk->offset = 0;
	d->chunk->size = dst_stride * rows;
	d->chunk->stride = (int32_t)dst_stride;
	d->chunk->flags = SPA_CHUNK_FLAG_NONE;
	return 0;
}
