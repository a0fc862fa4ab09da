/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_LEARN_H
#define KMSCAST_SOURCE_LEARN_H

/*
 * Learning, on the main loop: exports the FBs the CRTC shows through the helper, keeps the
 * scanout set, and renegotiates the link when the set no longer matches the buffers.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/support/loop.h>

#include "helper-client.h"
#include "relink-guard.h"

struct impl;

/*
 * How long the set must stay unchanged before the link is renegotiated: longer than one turn
 * of a compositor's swapchain (3 or 4 FBs at 60 Hz), so that a re-created swapchain costs one
 * reallocation, not one per FB. Frames on FBs outside the buffers are lost meanwhile.
 */
#define RENEGOTIATE_DEBOUNCE_NS (120 * SPA_NSEC_PER_MSEC)

/*
 * FBs in a format the node cannot serve (no SPA video format: 16-bit integer, padded fp16) stay
 * out of the set; the last few are not exported again for this long each, so that a
 * swapchain of them costs at most one export per FB per interval.
 */
#define REJECTED_FBS 4
#define REJECT_RETRY_NS (1000 * SPA_NSEC_PER_MSEC)

struct source_learn {
	/* Main loop. */
	struct helper_client *helper; /* NULL until first use, again after a helper crash */
	struct spa_source *renegotiate_timer;
	bool renegotiate_pending;
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
	bool inflight; /* a learn request is queued on the main loop (atomic) */
};

/* The renegotiation timer; relink_enabled: the server has the stranded-link bug. */
int source_learn_init(struct impl *this, bool relink_enabled);
/* Destroys the timer and the helper client. Accepts a half-initialised node. */
void source_learn_finish(struct impl *this);

/*
 * Exports the FB on screen and adds it to the set; an entry of the same id with other buffers
 * (the id was reused) is replaced. Returns 0 or -errno. Main loop.
 */
int source_learn_now(struct impl *this);
/*
 * Like source_learn_now, for a flip to fb_id that failed its check: 0 when the FB exported was
 * fb_id and the set now holds its buffers, -EAGAIN when another FB was on screen by then.
 */
int source_learn_verify(struct impl *this, uint32_t fb_id);
/*
 * Data loop: fb_id is on screen and not in the set. Queues a learn on the main loop, never
 * blocking, one at a time.
 */
void source_learn_request(struct impl *this, uint32_t fb_id);
/* Main loop: exports the cursor plane's FB (cursor_events.export_fb); the caller finishes hfb. */
int source_learn_export_cursor(void *data, struct helper_fb *hfb);

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
