/* SPDX-License-Identifier: MIT */
#include <spa/node/node.h>
#include <spa/utils/defs.h>

#include "handoff.h"

bool handoff_following(const struct spa_io_position *position, const struct spa_io_clock *clock)
{
	return position && clock && position->clock.id != clock->id;
}

void handoff_init(struct handoff *h)
{
	h->staged = SPA_ID_INVALID;
}

uint32_t handoff_stage(struct handoff *h, uint32_t buffer_id)
{
	uint32_t old = h->staged;

	h->staged = buffer_id;
	return old;
}

uint32_t handoff_unstage(struct handoff *h)
{
	return handoff_stage(h, SPA_ID_INVALID);
}

int handoff_process(struct handoff *h, struct spa_io_buffers *io, uint32_t n_buffers,
		uint32_t *recycled)
{
	*recycled = SPA_ID_INVALID;
	/*
	 * The graph has not taken the last frame: it stays, as in v4l2-source. Swapping in a
	 * newer one could hand the consumer a buffer it is taking at this moment.
	 */
	if (io->status == SPA_STATUS_HAVE_DATA && io->buffer_id < n_buffers) {
		return SPA_STATUS_HAVE_DATA;
	}
	if (io->buffer_id < n_buffers) {
		*recycled = io->buffer_id;
	}
	io->buffer_id = SPA_ID_INVALID;
	io->status = SPA_STATUS_NEED_DATA;
	if (h->staged >= n_buffers) {
		h->staged = SPA_ID_INVALID; /* none, or from buffers that are gone */
		return SPA_STATUS_OK;
	}
	io->buffer_id = h->staged;
	io->status = SPA_STATUS_HAVE_DATA;
	h->staged = SPA_ID_INVALID;
	return SPA_STATUS_HAVE_DATA;
}
