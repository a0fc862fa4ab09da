/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_HANDOFF_H
#define KMSCAST_HANDOFF_H

/*
 * How a frame reaches the port's io area when another node drives the graph. The node is a
 * driver: each frame goes into the io area at once and wakes the graph (ready()). A graph
 * with two drivers (two screens into one mixer, a group) makes one of them a follower, and a
 * follower may not wake the graph: 1.4 refuses its ready() ("ready non-driver node"), and
 * the driver's cycle calls process() instead. So while following, a frame is staged here,
 * and process() hands the newest one over once the consumer gave the io area back. Pure:
 * buffer ids in and out, no node.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/node/io.h>

struct handoff {
	uint32_t staged; /* the newest frame not handed over yet, or SPA_ID_INVALID */
};

/*
 * True when the graph's position comes from another node's clock: PipeWire's own test
 * (impl-node.c, node-driver.c). False without either io area.
 */
bool handoff_following(const struct spa_io_position *position, const struct spa_io_clock *clock);

void handoff_init(struct handoff *h);

/*
 * Stages buffer_id as the newest frame. Returns the frame it replaces, which was never handed
 * over and is the caller's to free again, or SPA_ID_INVALID.
 */
uint32_t handoff_stage(struct handoff *h, uint32_t buffer_id);

/* Takes the staged frame back (the node drives again, or stops): its id, or SPA_ID_INVALID. */
uint32_t handoff_unstage(struct handoff *h);

/*
 * process(): io is the port's io area, n_buffers the port's buffer count. Sets *recycled to the
 * buffer the consumer gave back (the caller frees it) or SPA_ID_INVALID. Returns
 * SPA_STATUS_HAVE_DATA when io holds a frame for the graph (one it has not taken yet, or the
 * staged one, placed now), SPA_STATUS_OK when it holds none.
 */
int handoff_process(struct handoff *h, struct spa_io_buffers *io, uint32_t n_buffers,
		uint32_t *recycled);

#endif
