/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_FRAME_H
#define KMSCAST_SOURCE_FRAME_H

/*
 * The data loop's view of the stream: which FB the primary plane shows, when a frame last
 * went out, what the consumer is owed. Only the data loop changes it; the main loop does
 * through source_frame_set_started (a blocking invoke).
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/buffer/meta.h>

#include "flip-source.h"
#include "frame-latch.h"
#include "handoff.h"
#include "kms.h"
#include "rate-cap.h"

struct impl;

/*
 * What a frame takes from its vblank to its check's answer (source-check.h), when it goes
 * out: the slot its copy went into (SPA_ID_INVALID: none), and the primary plane's source
 * rectangle then, for the crop meta (a mode set may change it before the answer).
 */
struct frame_at_flip {
	uint32_t copied;
	struct spa_region crop;
	uint64_t seq; /* the buffer header's seq: its vblank's sequence number (source-frame.c) */
};

/*
 * A static screen (no flip for RESEND_IDLE_NS) goes out again every DEFAULT_RESEND_MS
 * (kmscast.resend-ms; 0: never), never faster than the consumer's maximum framerate: 20 Hz
 * shows front-buffer rendering
 * (X11 without page flips, the console) at half its rate or better up to 20 Hz, and costs a
 * desktop that flips nothing (resend_due in source-frame.c).
 */
#define DEFAULT_RESEND_MS 50
#define MAX_RESEND_MS 60000
/*
 * Re-sends wait until the screen has not flipped for this long: a compositor that misses a
 * few vblanks (a busy machine) is not static, and re-sending would repeat its last frame.
 */
#define RESEND_IDLE_NS (500 * SPA_NSEC_PER_MSEC)

/* How long an unknown FB keeps an idle node ticking at the full rate; see source-frame.c. */
#define LEARN_BURST_NS (1000 * SPA_NSEC_PER_MSEC)

struct source_frame {
	bool started; /* between Start and Pause; the main loop reads it too */
	struct kms_plane primary; /* a copy of the CRTC's primary plane, read every tick */
	uint32_t last_fb;
	struct frame_latch latch; /* the vblank path's new FB, until it is on screen */
	uint64_t learn_burst_end; /* full-rate ticks until then (CLOCK_MONOTONIC ns) */
	bool discont; /* a frame was lost since the last one delivered */
	/*
	 * A consumer that just started, or got new buffers, is owed the screen within a period
	 * even if nothing flips: frame_due_ns is when it became owed, 0 when nothing is.
	 */
	uint64_t frame_due_ns;
	uint64_t last_frame_ns; /* when a frame last went out (a flip or a re-send) */
	uint64_t last_flip_ns; /* when the primary plane last showed a new FB */
	struct rate_cap cap; /* the consumer's maximum framerate */
	bool resend_requested; /* RequestProcess: a consumer asks for a frame now (atomic) */
	struct handoff handoff; /* the newest frame, while another node drives */
	uint64_t ready_ns; /* when the node last woke the graph (ready()) */
	bool warned_stale_io; /* logged once per node that the graph left a frame unread */
};

/* Ticks come from the flip source with the node as data. */
extern const struct flip_source_events source_flip_events;

void source_frame_init(struct source_frame *f);
/* Main loop: Start or Pause reaches the data loop (a blocking invoke). */
void source_frame_set_started(struct impl *this, bool started);
/* Any thread: a consumer asked for a frame (RequestProcess); the next tick re-sends. */
void source_frame_request(struct source_frame *f);
/* Data loop: the port's slot table was replaced by one of n_slots slots. */
void source_frame_buffers_changed(struct impl *this, uint32_t n_slots);
/*
 * Data loop: the flip (or re-send) at nsec of entry set_index of the set goes out, once
 * checked (source-check.h), with what it took from its vblank.
 */
void source_frame_output_checked(struct impl *this, int set_index, uint64_t nsec, bool resend,
		const struct frame_at_flip *at);
/* Data loop: the node's process(). */
int source_process(struct impl *this);

#endif
