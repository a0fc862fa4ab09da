/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_CHECK_H
#define KMSCAST_SOURCE_CHECK_H

/*
 * An FB id is not a buffer: the kernel gives a destroyed FB's id to the next FB created, and
 * compositors destroy and create FBs whenever they re-create buffers (a resize, direct
 * scanout of a client's buffers). An FB can only be destroyed and its id taken while it is
 * off screen, and no unprivileged read tells the new FB from the old one, so every flip to an
 * FB of the set is checked before it goes out: the helper compares the buffer objects behind
 * the id with those it exported (HELPER_MSG_CHECK). A flip waits for the answer, one helper
 * round trip on the helper thread (source-helper.h); an FB found changed is exported again in
 * the same turn and replaces its old entry, whose aliases are retired, as if a new FB had
 * joined.
 */

#include <stdbool.h>
#include <stdint.h>

#include "source-frame.h"

struct impl;
struct source_helper_job;

/*
 * Frames waiting for their answer or their vblank, oldest first. Answers come in order; a
 * main loop late by more than this many flips loses the oldest.
 */
#define CHECK_QUEUE 6

struct check_frame {
	uint32_t fb_id;
	uint32_t seq;
	uint64_t nsec; /* its vblank */
	bool resend; /* a re-send of the FB on screen, not a flip */
	bool refused; /* the helper thread refused its check: lost once the ones before it are in */
	bool latched; /* its vblank came (source_check_latch), or it needs none: it may go out */
	bool answered, ok; /* the helper's answer, when it came before the vblank */
	bool dropped; /* left out at its vblank (the consumer's rate, a failed copy): no answer
		       * is waited for */
	struct frame_at_flip at; /* its copy (held pending) and crop, from its vblank */
};

struct source_check {
	/* Data loop. */
	struct check_frame queue[CHECK_QUEUE];
	uint32_t head, n;
	uint32_t verified_fb; /* the FB on screen, once a check found it good; 0 after a flip */
	/* Written on the data loop, read on the main loop (atomic). */
	uint32_t seq; /* of the newest request */
	uint32_t oldest; /* the oldest seq still waiting: older requests are not worth asking */
	/* Main loop. */
	bool warned_failed; /* logged that checks fail for a reason other than a changed FB */
};

/*
 * Data loop: the frame of fb_id (in the set) at nsec, a flip or a re-send, goes out once the
 * helper says fb_id is still the buffer the set holds. A frame still waiting is lost (counted
 * as an unknown FB). at: what the frame took from its vblank; a slot its copy went into stays
 * pending until the answer and is freed if the frame is lost.
 */
void source_check_frame(struct impl *this, uint32_t fb_id, uint64_t nsec, bool resend,
		const struct frame_at_flip *at);
/*
 * Data loop, the vblank path: fb_id (in the set) was just committed; its check is asked now,
 * while the plane still holds it, and its frame waits for source_check_latch (or
 * source_check_drop). Asked at the vblank instead, a failed check's export found the next
 * commit on the plane (a producer that commits on the flip event): each re-created FB was
 * learnt a turn late, and t-node-reuse lost 11.4 flips per re-creation instead of 4.4.
 */
void source_check_early(struct impl *this, uint32_t fb_id);
/*
 * Data loop: the vblank at nsec latched fb_id, asked about early: its frame goes out with at
 * once the answer is in (at once if it is). -ENOENT when no frame of fb_id waits for its
 * vblank (source_check_frame then asks).
 */
int source_check_latch(struct impl *this, uint32_t fb_id, uint64_t nsec,
		const struct frame_at_flip *at);
/* Data loop: the frame of fb_id asked about early does not go out (capped, not copied). */
void source_check_drop(struct impl *this, uint32_t fb_id);
/*
 * Main loop: the helper thread's answer to a check (with the export that followed a failed
 * one), from source-learn.c. Takes job->fb's fds.
 */
void source_check_done(struct impl *this, struct source_helper_job *job);
/*
 * Data loop: Start or Pause; an answer still on its way is for a frame nobody wants, and the
 * FB on screen is checked again before it is re-sent.
 */
void source_check_reset(struct impl *this);
/* Data loop: the slot table was replaced; the slots the waiting frames hold are gone. */
void source_check_forget_slots(struct impl *this);

#endif
