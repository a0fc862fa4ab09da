/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "flip-source.h"
#include "source-stats.h"

void source_stats_stream_start(struct source_stats *s, const struct flip_source *flip)
{
	s->stream_base = s->n;
	s->stream_base_missed = flip->missed;
	s->stream_base_vblanks = flip->vblanks;
}

void source_stats_log_stream(const struct source_stats *s, struct spa_log *log,
		const char *name, const struct flip_source *flip)
{
	const struct source_counters *n = &s->n, *b = &s->stream_base;

	spa_log_info(log, "%s: stream stats: flips %" PRIu64 " delivered %" PRIu64
			" cursor-only %" PRIu64 " dropped-busy %" PRIu64 " dropped-unknown %"
			PRIu64 " dropped-unconsumed %" PRIu64 " missed-%s %" PRIu64
			" allocations %" PRIu64 " resent %" PRIu64 " copied %" PRIu64
			" capped %" PRIu64 " vblank-events %" PRIu64 " checks %" PRIu64
			" replaced %" PRIu64 " fenced %" PRIu64 " latch-unsure %" PRIu64, name,
			n->flips - b->flips,
			n->delivered - b->delivered, n->cursor_only - b->cursor_only,
			n->dropped_busy - b->dropped_busy, n->dropped_unknown - b->dropped_unknown,
			n->dropped_unconsumed - b->dropped_unconsumed, flip->ops->name,
			flip->missed - s->stream_base_missed, n->renegotiations,
			n->resent - b->resent, n->copied - b->copied, n->capped - b->capped,
			flip->vblanks - s->stream_base_vblanks, n->checks - b->checks,
			n->replaced - b->replaced, n->fenced - b->fenced,
			n->latch_unsure - b->latch_unsure);
}

void source_stats_log_total(const struct source_stats *s, struct spa_log *log,
		const char *name, const struct flip_source *flip)
{
	const struct source_counters *n = &s->n;

	spa_log_info(log, "%s: gone; %" PRIu64 " ticks (%" PRIu64 " %s periods missed), %"
			PRIu64 " flips, %" PRIu64 " delivered, %" PRIu64
			" dropped (busy %" PRIu64 ", unknown FB %" PRIu64 ", unconsumed %" PRIu64
			"), %" PRIu64 " allocations, %" PRIu64 " exports, %" PRIu64 " checks (%"
			PRIu64 " helper requests refused for a full queue), %"
			PRIu64 " FBs replaced under their id, %" PRIu64 " copies not made on "
			"pending fences",
			name, n->ticks, flip->missed, flip->ops ? flip->ops->name : "-", n->flips,
			n->delivered, n->dropped_busy + n->dropped_unknown + n->dropped_unconsumed,
			n->dropped_busy, n->dropped_unknown, n->dropped_unconsumed,
			n->renegotiations, n->exports, n->checks, n->helper_refused, n->replaced,
			n->fenced);
}
