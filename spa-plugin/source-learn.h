/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_LEARN_H
#define KMSCAST_SOURCE_LEARN_H

/*
 * Learning, on the main loop: asks the helper thread (source-helper.h) to export the FBs the
 * CRTC shows, keeps the scanout set as the exports come back, and renegotiates the link when
 * the set no longer matches the buffers. The helper thread's results for the whole node (its
 * checks and the cursor's exports too) come back through here.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/support/loop.h>

#include "helper-client.h"
#include "relink-guard.h"
#include "source-helper.h"

struct impl;

/*
 * How long the set must stay unchanged before the link is renegotiated: longer than one turn
 * of a compositor's swapchain (3 or 4 FBs at 60 Hz), so that a re-created swapchain costs one
 * reallocation, not one per FB. Frames on FBs outside the buffers are lost meanwhile, so the
 * wait ends early once the set looks complete (renegotiate_for_join in source-learn.c).
 */
#define RENEGOTIATE_DEBOUNCE_NS (120 * SPA_NSEC_PER_MSEC)

/*
 * FBs in a format the node cannot serve (no SPA video format: 16-bit integer, padded fp16) stay
 * out of the set; the last few are not exported again for this long each, so that a
 * swapchain of them costs at most one export per FB per interval.
 */
#define REJECTED_FBS 4
#define REJECT_RETRY_NS (1000 * SPA_NSEC_PER_MSEC)

/* Why a helper job was asked for: source_helper_job.tag. */
enum learn_job {
	LEARN_JOB_NOW, /* source_learn_now: the FB at open, after a reopen */
	LEARN_JOB_REQUEST, /* source_learn_request: holds inflight until it is back */
	LEARN_JOB_CURSOR, /* the cursor plane's image (cursor.c) */
	LEARN_JOB_CHECK, /* a flip's check (source-check.c) */
};

struct source_learn {
	/* Owns the helper connection; started at init, stopped at finish. */
	struct source_helper helper;
	/* Main loop. */
	struct spa_source *helper_done; /* signalled by the helper thread when a job is done */
	uint32_t card_gen; /* bumped when the card goes away: older jobs' FBs are the old card's */
	bool exported_primary; /* an export of the primary plane worked on this card */
	bool warned_busy; /* logged a job refused for a full helper queue, since one came back */
	struct spa_source *renegotiate_timer;
	bool renegotiate_pending;
	bool renegotiate_soon; /* pending for the next iteration: no debounce pushes it back */
	bool renegotiate_at_pause; /* FBs joined while streaming; their aliases are owed */
	struct relink_guard relink; /* servers before 0.3.85 only */
	bool relink_pending; /* the scheduled renegotiation is a relink */
	bool warned_full; /* logged once that the set is full of live FBs */
	bool warned_no_spares; /* logged a mid-stream renegotiation for want of spares, since
				  the last allocation */
	uint32_t warned_fourcc; /* the unservable format last logged, until an FB joins */
	bool set_stale; /* the card went away: the set's FBs are the old device's (source-card.c) */
	uint32_t n_rejected; /* rejections so far: the next goes to rejected[n % REJECTED_FBS] */
	/* Written on the main loop, read on the data loop (atomic). */
	struct {
		uint32_t fb_id;
		uint64_t until_ns;
	} rejected[REJECTED_FBS];
	/* Main loop, filled on the data loop: the entry replace() took out of the set. */
	struct scanout_fb retired;
	/* Data loop. */
	bool inflight; /* a learn request is queued on the main loop or the helper thread (atomic) */
};

/*
 * The renegotiation timer and the helper thread; relink_enabled: the server has the
 * stranded-link bug.
 */
int source_learn_init(struct impl *this, bool relink_enabled);
/*
 * Stops the helper thread (waits for the request it runs, at most the client's timeout; closes
 * the fds of exports not taken) and destroys the timer. Accepts a half-initialised node.
 */
void source_learn_finish(struct impl *this);

/*
 * Asks the helper thread for the FB on screen; when it comes back it joins the set (an entry
 * of the same id with other buffers, the id reused, is replaced). Returns 0 when asked, or
 * -errno (-ENODEV: the card is away; -EBUSY: the helper thread's queue is full, logged).
 * Main loop.
 */
/*
 * source_learn_now, then waits for its answer (main loop blocked, at most the helper
 * client's timeout): for the node's open, before PipeWire sees it. Returns 0 with the FB in
 * the set, or -errno.
 */
int source_learn_first(struct impl *this);
int source_learn_now(struct impl *this);
/*
 * Main loop: queues job on the helper thread, stamped with the card's generation; its result
 * comes back to the job's owner by its tag. Returns 0 or -errno; logs a full queue.
 */
int source_learn_submit(struct impl *this, struct source_helper_job *job);
/*
 * Main loop: the export a helper job brought back joins the set as source_learn_now says.
 * Takes job->fb's fds (into the set, or closed). Returns 0 when the set holds the exported FB,
 * or -errno (the export's error, logged; -ECANCELED when it is the old card's or the node
 * closes).
 */
int source_learn_take(struct impl *this, struct source_helper_job *job);
/* Main loop: releases the helper connection (the card went away); the next export makes one. */
void source_learn_drop_helper(struct impl *this);
/*
 * Data loop: fb_id is on screen and not in the set. Queues a learn on the main loop, which
 * asks the helper thread; never blocking, one at a time until its export is back.
 */
void source_learn_request(struct impl *this, uint32_t fb_id);
/*
 * Main loop: asks for the cursor plane's FB (cursor_events.request_export); it comes back to
 * cursor_exported. Returns 0 or -errno.
 */
int source_learn_export_cursor(void *data);

/*
 * Main loop: reads the mode's refresh again (one GETCRTC) and, if it changed, paces by it and
 * renegotiates as source-learn.c says.
 */
void source_learn_check_refresh(struct impl *this);
/*
 * Data loop (the flip source's refresh_changed): queues source_learn_check_refresh on the main
 * loop. Never blocks.
 */
void source_learn_refresh_request(struct impl *this);

/* Renegotiates once the set has been still for RENEGOTIATE_DEBOUNCE_NS. Main loop. */
void source_schedule_renegotiate(struct impl *this);
/*
 * The graph's commands and buffers, main loop. paused, started and buffers are the relink
 * guard's events: call them as they come, before any data loop round trip. stream_ended
 * follows a Pause or Suspend.
 */
void source_learn_paused(struct impl *this);
void source_learn_started(struct impl *this);
void source_learn_buffers(struct impl *this);
void source_learn_stream_ended(struct impl *this);

#endif
