/* SPDX-License-Identifier: MIT */
/*
 * Which vblank latched a flip (spa-plugin/frame-latch.h): a commit seen between vblanks goes
 * out at the next one; one seen by the read right after a vblank at the one after, counted
 * unsure, unless a newer FB proves it was on screen already; late, skipped and missing vblank
 * events; a tearing flip. Then a producer committing at every phase of the period, read as
 * the node reads (right after each vblank event and every quarter period): every frame out
 * once, in order, with the sequence number of the vblank that latched it, never an earlier
 * one, and one later only where counted unsure.
 */
#include "frame-latch.h"
#include "test.h"

#define MS (SPA_NSEC_PER_MSEC)
#define T 16666666ull /* 60 Hz */
#define V0 (1000 * MS) /* vblank 10 */

static const struct spa_region no_crop;

/* A read at now, vblank event seq at V0 + (seq - 10) * T the last handled, prev the read before. */
static struct flip_tick tick(enum flip_tick_kind kind, uint64_t seq, uint64_t now, uint64_t prev)
{
	uint64_t vblank = V0 + (seq - 10) * T;

	return (struct flip_tick){
		.kind = kind,
		.nsec = kind == FLIP_TICK_VBLANK ? vblank : now,
		.now = now,
		.prev_ns = prev,
		.vblank_ns = vblank,
		.vblank_seq = seq,
		.period_ns = T,
	};
}

/* Committed early in the period (weston, the test producer): out at the next vblank. */
static void test_between(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	struct flip_tick t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, V0 + MS / 5);

	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert_int_eq(l.latch_seq, 11);
	test_assert(!l.unsure);
	/* The vblank's event handled 3 ms late: the commit may have missed it too. */
	{
		struct frame_latch late = l;
		struct flip_tick tl = tick(FLIP_TICK_VBLANK, 11, V0 + T + 3 * MS, V0 + 12 * MS);

		test_assert(!frame_latch_at_vblank(&late, &tl, &out));
		test_assert_int_eq(late.latch_seq, 12);
		test_assert(late.unsure);
		tl = tick(FLIP_TICK_BETWEEN, 11, V0 + T + 5 * MS, V0 + T + 3 * MS);
		test_assert(frame_latch_superseded(&late, &tl, &out));
		test_assert_int_eq(out.seq, 11);
	}
	/* A read at the same vblank's event again (a second event) does not let it out. */
	t = tick(FLIP_TICK_VBLANK, 10, V0 + 5 * MS, V0 + 4 * MS);
	test_assert(!frame_latch_at_vblank(&l, &t, &out));
	t = tick(FLIP_TICK_VBLANK, 11, V0 + T + MS / 5, V0 + 12 * MS);
	test_assert(frame_latch_at_vblank(&l, &t, &out));
	test_assert_int_eq(out.fb_id, 7);
	test_assert_int_eq(out.seq, 11);
	test_assert_int_eq(out.nsec, V0 + T);
	test_assert(!out.unsure);
	test_assert_int_eq(l.fb_id, 0);
	test_assert(!frame_latch_at_vblank(&l, &t, &out));
}

/*
 * Committed in the last quarter (mutter, KWin) and seen right after the vblank: on screen from
 * it or from the next; out at the next, unsure. A newer FB before the next vblank proves the
 * earlier one.
 */
static void test_unsure(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	struct flip_tick t = tick(FLIP_TICK_VBLANK, 10, V0 + MS / 5, V0 - 4 * MS);

	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert_int_eq(l.latch_seq, 11);
	test_assert(l.unsure);
	t = tick(FLIP_TICK_VBLANK, 11, V0 + T + MS / 5, V0 + 12 * MS);
	test_assert(frame_latch_at_vblank(&l, &t, &out));
	test_assert_int_eq(out.seq, 11);
	test_assert_int_eq(out.nsec, V0 + T);
	test_assert(out.unsure);

	t = tick(FLIP_TICK_VBLANK, 10, V0 + MS / 5, V0 - 4 * MS);
	frame_latch_wait(&l, &t, 7, no_crop);
	t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, V0 + MS / 5);
	test_assert(frame_latch_superseded(&l, &t, &out));
	test_assert_int_eq(out.seq, 10);
	test_assert_int_eq(out.nsec, V0);
	test_assert(!out.unsure);

	/* Seen 1 ms before vblank 11: a driver may leave it to vblank 12. */
	t = tick(FLIP_TICK_BETWEEN, 10, V0 + T - MS, V0 + 12 * MS);
	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert_int_eq(l.latch_seq, 12);
	test_assert(l.unsure);
	t = tick(FLIP_TICK_VBLANK, 11, V0 + T + MS / 5, V0 + T - MS);
	test_assert(!frame_latch_at_vblank(&l, &t, &out));
	t = tick(FLIP_TICK_BETWEEN, 11, V0 + T + 4 * MS, V0 + T + MS / 5);
	test_assert(frame_latch_superseded(&l, &t, &out));
	test_assert_int_eq(out.seq, 11);
	test_assert_int_eq(out.nsec, V0 + T);
	/* 3 ms before it: in time. */
	t = tick(FLIP_TICK_BETWEEN, 10, V0 + T - 3 * MS, V0 + 12 * MS);
	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert_int_eq(l.latch_seq, 11);
	test_assert(!l.unsure);

	/* The first read of a stream has none before it: unsure too. */
	t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, 0);
	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert(l.unsure);
	test_assert_int_eq(l.latch_seq, 11);
}

/* The vblank event is handled late: a read after the vblank, before its event. */
static void test_late_event(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	/* Vblank 11 passed at V0 + T; its event not handled yet. */
	struct flip_tick t = tick(FLIP_TICK_BETWEEN, 10, V0 + T + MS, V0 + 12 * MS);

	frame_latch_wait(&l, &t, 7, no_crop);
	test_assert_int_eq(l.latch_seq, 12);
	test_assert(l.unsure);
	t = tick(FLIP_TICK_VBLANK, 11, V0 + T + 2 * MS, V0 + T + MS);
	test_assert(!frame_latch_at_vblank(&l, &t, &out));
	/* Superseded after vblank 12 (by the period) and before its event: 12. */
	t = tick(FLIP_TICK_BETWEEN, 11, V0 + 2 * T + MS, V0 + T + 12 * MS);
	test_assert(frame_latch_superseded(&l, &t, &out));
	test_assert_int_eq(out.seq, 12);
	test_assert_int_eq(out.nsec, V0 + 2 * T);
	test_assert(out.unsure);
}

/* Events skipped (the data loop slept through two vblanks): out as the vblank it waited for. */
static void test_skipped_events(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	struct flip_tick t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, V0 + MS / 5);

	frame_latch_wait(&l, &t, 7, no_crop);
	t = tick(FLIP_TICK_VBLANK, 13, V0 + 3 * T + MS, V0 + 4 * MS);
	test_assert(frame_latch_at_vblank(&l, &t, &out));
	test_assert_int_eq(out.seq, 11);
	test_assert_int_eq(out.nsec, V0 + T);
}

/* Replaced before any vblank could latch it: a tearing flip, on screen from its commit. */
static void test_tearing(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	struct flip_tick t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, V0 + MS / 5);

	frame_latch_wait(&l, &t, 7, no_crop);
	t = tick(FLIP_TICK_BETWEEN, 10, V0 + 8 * MS, V0 + 4 * MS);
	test_assert(frame_latch_superseded(&l, &t, &out));
	test_assert_int_eq(out.nsec, V0 + 4 * MS);
	test_assert_int_eq(out.seq, 10);
	/* Nothing waits: nothing goes out. */
	test_assert(!frame_latch_superseded(&l, &t, &out));
}

/* The vblank events stopped (an idle poll follows): out at that read. */
static void test_poll(void)
{
	struct frame_latch l = {0};
	struct frame_latched out;
	struct flip_tick t = tick(FLIP_TICK_BETWEEN, 10, V0 + 4 * MS, V0 + MS / 5);

	frame_latch_wait(&l, &t, 7, no_crop);
	t = (struct flip_tick){.kind = FLIP_TICK_POLL, .nsec = V0 + 90 * MS, .now = V0 + 90 * MS};
	test_assert(frame_latch_superseded(&l, &t, &out));
	test_assert_int_eq(out.nsec, V0 + 90 * MS);
	test_assert_int_eq(out.seq, 11);
}

struct phase_run {
	uint64_t p; /* the commit phase */
	uint64_t next_k; /* the frame expected next */
	uint32_t unsure;
};

/* Vblank k latched frame k: it goes out as vblank k's, or k + 1's when counted unsure. */
static void check_out(struct phase_run *run, const struct frame_latched *out, uint64_t base_seq)
{
	uint64_t k = run->next_k;

	if (out->fb_id != k) {
		test_fail("phase %" PRIu64 " us: frame %u out, expected %" PRIu64, run->p / 1000,
				out->fb_id, k);
	}
	if (out->seq != base_seq + k && !(out->unsure && out->seq == base_seq + k + 1)) {
		test_fail("phase %" PRIu64 " us: frame %" PRIu64 " out as vblank %" PRIu64
				" (unsure %d)", run->p / 1000, k, out->seq - base_seq, out->unsure);
	}
	test_assert_int_eq(out->nsec, V0 + (out->seq - base_seq) * T);
	run->unsure += out->unsure;
	run->next_k++;
}

/*
 * A producer that commits frame k at phase p after vblank k - 1 (so vblank k latches it),
 * against the node's reads: right after each vblank event (lateness ev_late) and at a
 * quarter, half and three quarters of the period after it (lateness rd_late). Every frame
 * goes out once, in order, as vblank k's (or k + 1's, counted unsure), pts that vblank's time.
 */
static uint32_t run_phase(uint64_t p, uint64_t ev_late, uint64_t rd_late)
{
	const uint64_t frames = 60, base_seq = 100;
	struct phase_run run = {.p = p, .next_k = 1};
	struct frame_latch l = {0};
	struct frame_latched out;
	uint64_t prev = 0, cur = 0;

	for (uint64_t v = 0; v <= frames + 2; v++) {
		uint64_t vblank = V0 + v * T;

		for (int r = 0; r < 4; r++) {
			uint64_t now = vblank + (r == 0 ? ev_late : r * T / 4 + rd_late);
			struct flip_tick t = {
				.kind = r == 0 ? FLIP_TICK_VBLANK : FLIP_TICK_BETWEEN,
				.nsec = r == 0 ? vblank : now,
				.now = now,
				.prev_ns = prev,
				.vblank_ns = vblank,
				.vblank_seq = base_seq + v,
				.period_ns = T,
			};
			/* FB_ID: the newest frame committed by now (frame k at V0 + (k-1) T + p). */
			uint64_t fb = now >= V0 + p ? (now - V0 - p) / T + 1 : 0;

			fb = fb > frames ? frames : fb;
			prev = now;
			if (r == 0 && frame_latch_at_vblank(&l, &t, &out)) {
				check_out(&run, &out, base_seq);
			}
			if (fb == cur) {
				continue;
			}
			if (frame_latch_superseded(&l, &t, &out)) {
				check_out(&run, &out, base_seq);
			}
			frame_latch_wait(&l, &t, (uint32_t)fb, no_crop);
			cur = fb;
		}
	}
	if (run.next_k != frames + 1) {
		test_fail("phase %" PRIu64 " us: %" PRIu64 " of %" PRIu64 " frames out", p / 1000,
				run.next_k - 1, frames);
	}
	return run.unsure;
}

static void test_every_phase(void)
{
	for (uint64_t p = MS / 2; p < T; p += MS / 4) {
		uint32_t unsure = run_phase(p, MS / 5, MS / 5);

		/* Only commits after the last quarter's read wait an extra period, each of them. */
		if (p < 3 * T / 4 + MS / 5) {
			test_assert_int_eq(unsure, 0);
		} else if (unsure < 59) {
			test_fail("phase %" PRIu64 " us: %u unsure", p / 1000, unsure);
		}
	}
	/* Reads late by 2 ms, events by 1 ms (a loaded machine): still every frame, in order. */
	for (uint64_t p = MS / 2; p < T; p += MS / 4) {
		run_phase(p, MS, 2 * MS);
	}
}

TEST_MAIN(TEST(test_between), TEST(test_unsure), TEST(test_late_event),
		TEST(test_skipped_events), TEST(test_tearing), TEST(test_poll),
		TEST(test_every_phase))
