/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_FRAME_LATCH_H
#define KMSCAST_FRAME_LATCH_H

/*
 * Which vblank latched a flip, from reads of FB_ID alone. FB_ID changes at the commit, up to
 * a period before the frame is on screen; a compositor with explicit sync commits before its
 * rendering is done, so a frame handed over at its commit can be unfinished. So on the vblank
 * path a new FB waits for the vblank that latches it, and goes out with that vblank's time
 * and sequence number (docs/architecture.md, "Seeing every flip", has the rules used here).
 *
 * - Seen by a read with no vblank since the read before: committed in between, so latched by
 *   the next vblank (rule 2: a vblank latches the commit pending at it).
 * - Seen by a read with a vblank since the read before (the read right after each vblank
 *   event): committed before that vblank, and on screen from it, or after it, and on screen
 *   from the next. FB_ID cannot tell; it waits for the next, never early (unsure).
 * - Seen less than FRAME_LATCH_MARGIN of a period before the next vblank: a driver programs
 *   a commit that comes that close to its vblank for the one after (the commit's work runs
 *   after the ioctl, and hardware has a vblank evasion window); vkms under TCG did for a
 *   commit 0.9 ms before the vblank. Unsure as well: it waits for the vblank after.
 * - A vblank whose event comes late (by the same margin) found the machine busy: the
 *   commit's work may have run late as well, past that vblank (vkms under TCG left commits
 *   3.8 ms before a vblank to the next one). An FB waiting for it becomes unsure and waits
 *   for the next one.
 * - FB_ID changes again while one waits: a commit cannot replace one whose flip is pending
 *   (rule 3), so the one waiting is on screen already, latched by the last vblank before now
 *   if that is one of the vblanks that may have; if none may have, it was a tearing flip, on
 *   screen from its commit.
 *
 * Pure: the node keeps one struct frame_latch and asks these on its reads.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/buffer/meta.h>

#include "flip-source.h"

/* The part of the period before a vblank in which a commit may be left to the next one. */
#define FRAME_LATCH_MARGIN 8 /* an eighth: 2.1 ms at 60 Hz */

struct frame_latch {
	uint32_t fb_id; /* 0: none waiting */
	uint64_t seen_ns; /* the read that first saw it */
	uint64_t latch_seq; /* the first vblank that surely latches it */
	bool unsure; /* or the one before (the cases above that wait for the vblank after) */
	struct spa_region crop; /* the plane's source rectangle for it */
};

/* A frame that goes out: as the frame of vblank seq, at nsec. */
struct frame_latched {
	uint32_t fb_id;
	uint64_t seq;
	uint64_t nsec;
	bool unsure; /* out at the later of the two vblanks that may have latched it */
	struct spa_region crop;
};

/* The new FB fb_id seen by the read t (not a FLIP_TICK_POLL) waits in l. */
void frame_latch_wait(struct frame_latch *l, const struct flip_tick *t, uint32_t fb_id,
		struct spa_region crop);

/*
 * A vblank event's tick t: true, with the frame in *out, when the FB waiting in l is on
 * screen by it (l is emptied). An FB the vblank may have left to the next one waits for it.
 */
bool frame_latch_at_vblank(struct frame_latch *l, const struct flip_tick *t,
		struct frame_latched *out);

/*
 * The read t found FB_ID changed again (or the plane off): true, with the frame in *out, when
 * an FB waited in l; it was on screen (l is emptied). A FLIP_TICK_POLL read (the vblank events
 * stopped) places it at t's time.
 */
bool frame_latch_superseded(struct frame_latch *l, const struct flip_tick *t,
		struct frame_latched *out);

#endif
