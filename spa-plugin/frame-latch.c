/* SPDX-License-Identifier: MIT */
#include "frame-latch.h"

/* The time of vblank seq, by the period from the last vblank event t knows of. */
static uint64_t vblank_time(const struct flip_tick *t, uint64_t seq)
{
	return t->vblank_ns + (uint64_t)((int64_t)(seq - t->vblank_seq) * (int64_t)t->period_ns);
}

/* The vblanks after the last event handled, by its period, up to the read: events come late. */
static uint64_t vblanks_since_event(const struct flip_tick *t)
{
	if (t->period_ns == 0) {
		return 0;
	}
	return flip_vblanks_between(t->vblank_ns, t->period_ns, t->vblank_ns, t->now);
}

static void take(struct frame_latch *l, uint64_t seq, uint64_t nsec, bool unsure,
		struct frame_latched *out)
{
	*out = (struct frame_latched){
		.fb_id = l->fb_id,
		.seq = seq,
		.nsec = nsec,
		.unsure = unsure,
		.crop = l->crop,
	};
	l->fb_id = 0;
}

void frame_latch_wait(struct frame_latch *l, const struct flip_tick *t, uint32_t fb_id,
		struct spa_region crop)
{
	uint64_t next = t->vblank_seq + vblanks_since_event(t) + 1;

	*l = (struct frame_latch){
		.fb_id = fb_id,
		.seen_ns = t->now,
		.latch_seq = next,
		/* No read before it since the start: it may have been committed long ago. */
		.unsure = t->prev_ns == 0 || t->period_ns == 0 ||
				flip_vblanks_between(t->vblank_ns, t->period_ns, t->prev_ns,
						t->now) > 0,
		.crop = crop,
	};
	/* Too close to the next vblank to be sure it makes it: that one, or the one after. */
	if (!l->unsure && vblank_time(t, next) - t->now < t->period_ns / FRAME_LATCH_MARGIN) {
		l->latch_seq = next + 1;
		l->unsure = true;
	}
}

bool frame_latch_at_vblank(struct frame_latch *l, const struct flip_tick *t,
		struct frame_latched *out)
{
	if (l->fb_id == 0 || t->vblank_seq < l->latch_seq) {
		return false;
	}
	if (!l->unsure && t->vblank_seq == l->latch_seq && t->period_ns > 0 &&
			t->now - t->vblank_ns >= t->period_ns / FRAME_LATCH_MARGIN) {
		l->latch_seq++;
		l->unsure = true;
		return false;
	}
	take(l, l->latch_seq, vblank_time(t, l->latch_seq), l->unsure, out);
	return true;
}

bool frame_latch_superseded(struct frame_latch *l, const struct flip_tick *t,
		struct frame_latched *out)
{
	uint64_t last, first;

	if (l->fb_id == 0) {
		return false;
	}
	if (t->kind == FLIP_TICK_POLL || t->period_ns == 0) {
		take(l, l->latch_seq, t->nsec, false, out);
		return true;
	}
	last = t->vblank_seq + vblanks_since_event(t);
	first = l->unsure ? l->latch_seq - 1 : l->latch_seq;
	if (last >= l->latch_seq) {
		take(l, l->latch_seq, vblank_time(t, l->latch_seq), l->unsure, out);
	} else if (last >= first) {
		/* The earlier of its two vblanks: told now, the frame is a period late. */
		take(l, last, vblank_time(t, last), false, out);
	} else {
		take(l, t->vblank_seq, l->seen_ns, false, out);
	}
	return true;
}
