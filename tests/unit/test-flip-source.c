/* SPDX-License-Identifier: MIT */
/*
 * The read-gap bound's arithmetic: the vblanks inside a gap between two reads of FB_ID,
 * counted from the last vblank event's time, whichever side of it the gap lies. And the
 * chain of vblank events across a stop and a start, against a fake kernel: the test defines
 * drmCrtcQueueSequence and drmHandleEvent, which the flip source's object then calls
 * instead of libdrm's, and a loop and a system that only record.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xf86drm.h>

#include "flip-source.h"
#include "test.h"

#define P 16666667ull /* 60 Hz */

static void test_vblanks_between(void)
{
	uint64_t ref = 1000 * P + 123;

	/* Reads a quarter period apart: at most one vblank between two of them. */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref - P / 4, ref), 1);
	test_assert_int_eq(flip_vblanks_between(ref, P, ref + 10, ref + P / 4), 0);
	/* from < t <= to: a read exactly at a vblank counts it for the gap it ends, not the next. */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref, ref + P / 2), 0);
	/*
	 * A stall just over a period that spans two vblanks: two commits can have come and gone
	 * in it, where floor(gap / period) says one.
	 */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref - P / 10, ref + P + P / 100), 2);
	test_assert((P + P / 10 + P / 100) / P == 1);
	/* The same stall between two vblanks spans one. */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref + P / 10, ref + P + P / 20), 1);
	/* Wholly before the reference vblank (a timer read's gap, the event handled later). */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref - 3 * P - P / 2, ref - P / 2), 3);
	test_assert_int_eq(flip_vblanks_between(ref, P, ref - P / 2, ref - P / 4), 0);
	/* Across it. */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref - 2 * P, ref + 2 * P), 4);
	/* An empty or backwards gap. */
	test_assert_int_eq(flip_vblanks_between(ref, P, ref + 5, ref + 5), 0);
	test_assert_int_eq(flip_vblanks_between(ref, P, ref + P, ref), 0);
}

/* ---- the fake kernel: sequence events queued on the card fd, delivered by the test ---- */

#define MAX_PENDING 8
static struct {
	uint64_t pending[MAX_PENDING]; /* user_data of each event queued and not yet read */
	uint32_t n_pending;
	uint32_t n_queued; /* drmCrtcQueueSequence calls that succeeded */
	uint64_t seq;
	int refuse; /* errno of the next queue calls, 0 to accept */
} kernel;

int drmCrtcQueueSequence(int fd, uint32_t crtc_id, uint32_t flags, uint64_t sequence,
		uint64_t *sequence_queued, uint64_t user_data)
{
	if (kernel.refuse) {
		errno = kernel.refuse;
		return -1;
	}
	test_assert(kernel.n_pending < MAX_PENDING);
	kernel.pending[kernel.n_pending++] = user_data;
	kernel.n_queued++;
	if (sequence_queued) {
		*sequence_queued = kernel.seq + 1;
	}
	return 0;
}

/* One vblank: every event queued before it is read, in one drmHandleEvent. */
int drmHandleEvent(int fd, drmEventContextPtr ctx)
{
	uint64_t events[MAX_PENDING];
	uint32_t n = kernel.n_pending;

	memcpy(events, kernel.pending, sizeof(events));
	kernel.n_pending = 0;
	kernel.seq++;
	for (uint32_t i = 0; i < n; i++) {
		ctx->sequence_handler(fd, kernel.seq, kernel.seq * P, events[i]);
	}
	return 0;
}

/* ---- a loop and a system that only keep what the flip source asks ---- */

static struct spa_source *card_source;

static int loop_add_source(void *object, struct spa_source *source)
{
	if (source->fd == 99) {
		card_source = source;
	}
	return 0;
}

static int loop_remove_source(void *object, struct spa_source *source)
{
	if (source == card_source) {
		card_source = NULL;
	}
	return 0;
}

static const struct spa_loop_methods loop_methods = {
	SPA_VERSION_LOOP_METHODS,
	.add_source = loop_add_source,
	.remove_source = loop_remove_source,
};

static int system_timerfd_create(void *object, int clockid, int flags)
{
	return 98;
}

static int system_timerfd_settime(void *object, int fd, int flags,
		const struct itimerspec *new_value, struct itimerspec *old_value)
{
	return 0;
}

static int system_close(void *object, int fd)
{
	return 0;
}

static const struct spa_system_methods system_methods = {
	SPA_VERSION_SYSTEM_METHODS,
	.close = system_close,
	.timerfd_create = system_timerfd_create,
	.timerfd_settime = system_timerfd_settime,
};

static uint32_t n_ticks;

static void on_tick(void *data, uint64_t nsec)
{
	n_ticks++;
}

static const struct flip_source_events tick_events = {.tick = on_tick};

/* A vblank: the card fd turns readable, and the source reads it if it is on the loop. */
static void vblank(void)
{
	if (card_source) {
		card_source->rmask = SPA_IO_IN;
		card_source->func(card_source);
	} else {
		kernel.seq++; /* nobody reads: the events stay queued */
	}
}

/*
 * A Pause and a Start within one vblank, as every renegotiation does, while the event queued
 * before the Pause is still on its way: that event carries the one chain on. A second queue
 * at the Start would be a second chain, each event queueing its own next one: two ticks per
 * vblank for good.
 */
static void test_restart_keeps_one_chain(void)
{
	struct spa_loop loop = {{SPA_TYPE_INTERFACE_Loop, SPA_VERSION_LOOP,
			SPA_CALLBACKS_INIT(&loop_methods, NULL)}};
	struct spa_system sys = {{SPA_TYPE_INTERFACE_System, SPA_VERSION_SYSTEM,
			SPA_CALLBACKS_INIT(&system_methods, NULL)}};
	/* Level NONE: spa_log_* read the level and call nothing. */
	struct spa_log log = {.level = SPA_LOG_LEVEL_NONE};
	struct flip_source fs;

	memset(&kernel, 0, sizeof(kernel));
	n_ticks = 0;
	test_assert_int_eq(flip_source_init(&fs, &log, &loop, &sys, 99, 35, true, 60000,
			&tick_events, NULL), 0);
	flip_source_set_idle(&fs, false);
	test_assert_int_eq(flip_source_start(&fs), 0);
	test_assert_int_eq(kernel.n_pending, 1);
	for (int i = 0; i < 3; i++) {
		vblank();
	}
	test_assert_int_eq(n_ticks, 3);
	test_assert_int_eq(kernel.n_pending, 1);

	/* Three quick restarts: still one event on its way, one tick per vblank. */
	for (int r = 0; r < 3; r++) {
		flip_source_stop(&fs);
		test_assert_int_eq(flip_source_start(&fs), 0);
		test_assert_int_eq(kernel.n_pending, 1);
	}
	for (int i = 0; i < 10; i++) {
		vblank();
		test_assert_int_eq(kernel.n_pending, 1);
	}
	test_assert_int_eq(n_ticks, 13);
	test_assert_int_eq(fs.vblanks, 13);

	/* Stopped across a vblank: the event is read and dropped, and a Start queues anew. */
	flip_source_stop(&fs);
	card_source = NULL;
	vblank();
	test_assert_int_eq(kernel.n_pending, 1); /* not read: the source is off the loop */
	test_assert_int_eq(flip_source_start(&fs), 0);
	vblank(); /* the old event arrives after the Start: it carries the chain */
	test_assert_int_eq(kernel.n_pending, 1);
	test_assert_int_eq(n_ticks, 14);

	/* Idle and back: the event that arrives while idle is dropped, the chain ends there. */
	flip_source_set_idle(&fs, true);
	vblank();
	test_assert_int_eq(kernel.n_pending, 0);
	flip_source_set_idle(&fs, false);
	test_assert_int_eq(kernel.n_pending, 1);
	vblank();
	vblank();
	test_assert_int_eq(kernel.n_pending, 1);
	test_assert_int_eq(n_ticks, 16);
	flip_source_finish(&fs);
}

TEST_MAIN(TEST(test_vblanks_between), TEST(test_restart_keeps_one_chain))
