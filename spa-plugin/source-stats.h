/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_STATS_H
#define KMSCAST_SOURCE_STATS_H

/*
 * What the node counts, and the lines that report it: one per streaming period and one when
 * the node goes. The counters are bumped where the event happens, on either loop; the main
 * loop reads them for the logs.
 */

#include <stdint.h>

#include <spa/support/log.h>

struct flip_source;

struct source_counters {
	uint64_t ticks;
	uint64_t flips; /* FB_ID changes seen */
	uint64_t delivered;
	uint64_t cursor_only; /* buffers that carried only a cursor update */
	uint64_t dropped_busy; /* every alias of the FB still held */
	uint64_t dropped_unknown; /* FB not in the buffers yet */
	uint64_t dropped_unconsumed; /* replaced before the graph took it */
	uint64_t capped; /* flips left out to keep the consumer's maximum framerate */
	uint64_t renegotiations;
	uint64_t exports;
	uint64_t resent; /* the FB on screen again: no flip for a while, or a new consumer */
	uint64_t copied; /* frames on an FB newer than the buffers, copied into a spare */
	uint64_t checks; /* flips checked with the helper (main loop) */
	uint64_t helper_refused; /* exports and checks not asked: the helper thread's queue was full */
	uint64_t replaced; /* FBs found to be other buffers under an id of the set (main loop) */
	uint64_t fenced; /* copies not made: the FB's (or a spare's) fences were pending */
	/* flips handed over at the later of the two vblanks that may have latched them */
	uint64_t latch_unsure;
};

struct source_stats {
	struct source_counters n; /* since the node was made */
	struct source_counters stream_base; /* n at the last Start */
	uint64_t stream_base_missed; /* the flip source's missed count at the last Start */
	uint64_t stream_base_vblanks; /* and its vblank events */
};

/* A streaming period starts: the next source_stats_log_stream counts from here. */
void source_stats_stream_start(struct source_stats *s, const struct flip_source *flip);
/* What one streaming period cost and delivered; tests read this line. */
void source_stats_log_stream(const struct source_stats *s, struct spa_log *log,
		const char *name, const struct flip_source *flip);
/* The node's whole life, when it goes. flip may be zeroed (never initialised). */
void source_stats_log_total(const struct source_stats *s, struct spa_log *log,
		const char *name, const struct flip_source *flip);

#endif
