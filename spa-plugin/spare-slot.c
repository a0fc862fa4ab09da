/* SPDX-License-Identifier: MIT */
/*
 * Spare slots: dma-bufs of the node's own, allocated with the aliases of the scanout FBs, for
 * frames on an FB that joined the scanout set after the link got its buffers. A new FB would
 * otherwise need new buffers, and only a renegotiation of the format brings them (PipeWire
 * reallocates on nothing else, up to 1.6 at least). GStreamer's pipewiresrc before 1.5.82
 * cannot take a format mid-stream: 1.4's ends with "unhandled format", 0.3.65's stops
 * without a word. So while a stream runs, a frame on such an FB is copied by the CPU into a
 * spare, and the FB gets aliases at the link's next allocation.
 *
 * A spare is a dumb buffer on the node's card fd (allowed to any process that opened the
 * card, no DRM master needed), exported as a dma-buf and mapped. Its GEM handle is closed
 * at once: the dma-buf keeps the memory, and the slot owns the dma-buf fd and the mapping.
 * Only linear single-plane FBs are copied: their bytes are their pixels.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xf86drm.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"
#include "spa-compat.h"

bool spare_slots_possible(const struct impl *this)
{
	const struct helper_fb *hfb = &this->set.fbs[0].hfb;

	/* Where a running stream is renegotiated instead, spares would only cost memory. */
	if (this->config.renegotiate_midstream) {
		return false;
	}
	return this->set.n > 0 && hfb->n_planes == 1 && hfb->n_fds == 1 &&
			scanout_fb_linear(hfb);
}

uint32_t spare_slots_held(const struct source_port *port)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < port->n_slots; i++) {
		n += port->slots[i].spare;
	}
	return n;
}

int spare_slot_alloc(struct slot *slot, struct spa_data *d, int card_fd,
		const struct scanout_fb *fb)
{
	uint32_t pitch = fb->hfb.pitches[0];
	struct drm_mode_create_dumb create = {
		.width = pitch / 4,
		.height = (fb->plane_size[0] + pitch - 1) / pitch,
		.bpp = 32,
	};
	struct drm_mode_destroy_dumb destroy = {0};
	void *map;
	int fd = -1, res;

	if (pitch % 4 != 0) {
		return -ENOTSUP;
	}
	if (drmIoctl(card_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0) {
		return -errno;
	}
	destroy.handle = create.handle;
	res = drmPrimeHandleToFD(card_fd, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd);
	/* The dma-buf holds the memory now; the handle is ours to close either way. */
	drmIoctl(card_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	if (res < 0) {
		return res;
	}
	if (create.pitch != pitch || create.size < fb->plane_size[0]) {
		res = -ENOTSUP; /* the driver aligned the rows otherwise */
		goto err_close;
	}
	map = mmap(NULL, create.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		res = -errno;
		goto err_close;
	}
	d->type = SPA_DATA_DmaBuf;
	/* Linear, and mapped above: a MAP_BUFFERS consumer may map it as well. */
	d->flags = SPA_DATA_FLAG_READABLE | SPA_DATA_FLAG_MAPPABLE;
	d->fd = fd; /* still owned by the slot; PipeWire sends a copy */
	d->mapoffset = 0;
	d->maxsize = (uint32_t)create.size;
	d->data = NULL;
	d->chunk->offset = 0;
	d->chunk->size = fb->plane_size[0];
	d->chunk->stride = (int32_t)pitch;
	d->chunk->flags = SPA_CHUNK_FLAG_NONE;
	slot->spare = true;
	slot->fb_id = 0;
	slot->planes[0] = (struct slot_plane){
		.fd = fd, /* fd and mapping now owned by the slot */
		.map = map,
		.map_size = create.size,
		.dst = map,
		.dst_size = create.size,
		.dst_stride = pitch,
	};
	slot->n_planes = 1;
	return 0;

err_close:
	close(fd);
	return res;
}

struct slot *spare_slot_pick(struct source_port *port)
{
	struct slot *best = NULL;

	for (uint32_t i = 0; i < port->n_slots; i++) {
		struct slot *slot = &port->slots[i];

		if (!slot->spare || slot->busy || slot->pending) {
			continue;
		}
		if (!best || slot->last_used < best->last_used) {
			best = slot;
		}
	}
	return best;
}
