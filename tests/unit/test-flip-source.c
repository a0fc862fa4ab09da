/* SPDX-License-Identifier: MIT */
/*
 * The read-gap bound's arithmetic: the vblanks inside a gap between two reads of FB_ID,
 * counted from the last vblank event's time, whichever side of it the gap lies. The vblank
 * period check that catches a refresh change without new FBs. And the chain of vblank events
 * across a stop and a start, and a card that goes away, against a fake kernel: the test
 * defines drmCrtcQueueSequence and drmHandleEvent, which the flip source's object then calls
 * instead of libdrm's, and a loop and a system that only record.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

#define P75 13333333ull /* 75 Hz */

/* Feeds events k = first..last at ref + k * period (+ jitter(k)); returns the first k the
 * check fired at, 0 if none. skip(k): the event k is missed (its sequence is skipped). */
static uint64_t feed(struct flip_period_check *pc, uint64_t set_period, uint64_t period,
		uint64_t first, uint64_t last, int64_t (*jitter)(uint64_t),
		bool (*skip)(uint64_t))
{
	for (uint64_t k = first; k <= last; k++) {
		uint64_t ns = 1000 * P + k * period + (jitter ? jitter(k) : 0);

		if (skip && skip(k)) {
			continue;
		}
		if (flip_period_check_feed(pc, set_period, k, ns)) {
			return k;
		}
	}
	return 0;
}

static bool every_seventh(uint64_t k)
{
	return k % 7 == 3;
}

static bool every_fifth(uint64_t k)
{
	return k % 5 == 0;
}

static bool every_other(uint64_t k)
{
	return k % 2 == 1;
}

/* Up to 5% of a period either way, a fixed pseudo-random sequence (an LCG on k). */
static int64_t jitter_5pct(uint64_t k)
{
	uint64_t x = k * 6364136223846793005ull + 1442695040888963407ull;
	int64_t span = (int64_t)(P / 20);

	return (int64_t)((x >> 33) % (uint64_t)(2 * span + 1)) - span;
}

/* A lone late timestamp: the driver stamped one vblank 40% of a period late. */
static int64_t one_late(uint64_t k)
{
	return k == 13 ? (int64_t)(P * 2 / 5) : 0;
}

static void test_period_check(void)
{
	struct flip_period_check pc = {0};
	const uint64_t n_fire = FLIP_PERIOD_WINDOW * FLIP_PERIOD_WINDOWS;

	/* 60 Hz while set to 60: never. */
	test_assert_int_eq(feed(&pc, P, P, 1, 1000, NULL, NULL), 0);
	/* 75 Hz while set to 60: after FLIP_PERIOD_WINDOWS windows, counted from the first event. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P75, 1, 1000, NULL, NULL), 1 + n_fire);
	test_assert_int_eq(n_fire, 8);
	/* It starts over: the next report after as many vblanks again. */
	test_assert_int_eq(feed(&pc, P, P75, 10, 1000, NULL, NULL), 9 + n_fire);
	/* 75 Hz set to 75 (the node read it): never. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P75, P75, 1, 1000, NULL, NULL), 0);
	/*
	 * Missed events (the sequence jumps by 2): the period is the time over the sequence
	 * delta, so nothing changes. Counting events would measure 2P for those windows.
	 */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P, 1, 1000, NULL, every_seventh), 0);
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P, 1, 1000, NULL, every_other), 0);
	/* One missed in every five: four events a window, each 5 periods long. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P, 1, 1000, NULL, every_fifth), 0);
	/* And a real change is still seen through them. */
	pc = (struct flip_period_check){0};
	test_assert(feed(&pc, P, P75, 1, 1000, NULL, every_seventh) != 0);
	/* Jitter of up to 5% on each timestamp: never. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P, 1, 10000, jitter_5pct, NULL), 0);
	/* One timestamp far off: the two windows around it disagree. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P, 1, 1000, one_late, NULL), 0);
	/* 50 Hz, slower, while set to 60. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, 20000000ull, 1, 1000, NULL, NULL), 1 + n_fire);
	/* The sequence going back (another CRTC, a new card): a new window, no report. */
	pc = (struct flip_period_check){0};
	test_assert_int_eq(feed(&pc, P, P75, 100, 105, NULL, NULL), 0);
	test_assert_int_eq(feed(&pc, P, P75, 1, 1 + n_fire - 1, NULL, NULL), 0);
	test_assert_int_eq(feed(&pc, P, P75, 1 + n_fire, 1 + n_fire, NULL, NULL), 1 + n_fire);
}

/* ---- the fake kernel: sequence events queued on the card fd, delivered by the test ---- */

#define MAX_PENDING 8
#define TIMER_FD 98
static struct {
	uint64_t pending[MAX_PENDING]; /* user_data of each event queued and not yet read */
	uint32_t n_pending;
	uint32_t n_queued; /* drmCrtcQueueSequence calls that succeeded */
	uint32_t n_reads; /* drmHandleEvent calls */
	uint64_t seq;
	uint64_t ns; /* the last vblank's time */
	uint64_t period; /* between two vblanks' times; 0: P */
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
	kernel.n_reads++;
	kernel.seq++;
	kernel.ns += kernel.period ? kernel.period : P;
	for (uint32_t i = 0; i < n; i++) {
		ctx->sequence_handler(fd, kernel.seq, kernel.ns, events[i]);
	}
	return 0;
}

/* ---- a loop and a system that only keep what the flip source asks ---- */

static struct spa_source *card_source, *timer_source;
static bool timer_armed; /* the last timerfd_settime had a value */

static int loop_add_source(void *object, struct spa_source *source)
{
	if (source->fd == TIMER_FD) {
		timer_source = source;
	} else {
		card_source = source;
	}
	return 0;
}

static int loop_remove_source(void *object, struct spa_source *source)
{
	if (source == card_source) {
		card_source = NULL;
	}
	if (source == timer_source) {
		timer_source = NULL;
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
	return TIMER_FD;
}

static int system_timerfd_settime(void *object, int fd, int flags,
		const struct itimerspec *new_value, struct itimerspec *old_value)
{
	timer_armed = new_value->it_value.tv_sec || new_value->it_value.tv_nsec;
	return 0;
}

static int system_timerfd_read(void *object, int fd, uint64_t *expirations)
{
	*expirations = 1;
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
	.timerfd_read = system_timerfd_read,
};

static uint32_t n_ticks, n_refresh, n_lost;
static int lost_err;

static void on_tick(void *data, const struct flip_tick *t)
{
	n_ticks++;
}

static void on_refresh_changed(void *data)
{
	n_refresh++;
}

static void on_card_lost(void *data, int err)
{
	n_lost++;
	lost_err = err;
}

static const struct flip_source_events tick_events = {
	.tick = on_tick,
	.refresh_changed = on_refresh_changed,
	.card_lost = on_card_lost,
};

static struct spa_loop test_loop = {{SPA_TYPE_INTERFACE_Loop, SPA_VERSION_LOOP,
		SPA_CALLBACKS_INIT(&loop_methods, NULL)}};
static struct spa_system test_system = {{SPA_TYPE_INTERFACE_System, SPA_VERSION_SYSTEM,
		SPA_CALLBACKS_INIT(&system_methods, NULL)}};
/* Level NONE: spa_log_* read the level and call nothing. */
static struct spa_log test_log = {.level = SPA_LOG_LEVEL_NONE};

static void reset_fakes(void)
{
	memset(&kernel, 0, sizeof(kernel));
	n_ticks = n_refresh = n_lost = 0;
	lost_err = 0;
	card_source = timer_source = NULL;
	timer_armed = false;
}

/* A streaming vblank source on card_fd, CRTC 35, set to 60 Hz. */
static void start_streaming(struct flip_source *fs, int card_fd)
{
	test_assert_int_eq(flip_source_init(fs, &test_log, &test_loop, &test_system, card_fd, 35,
			true, 60000, &tick_events, NULL), 0);
	flip_source_set_idle(fs, false);
	test_assert_int_eq(flip_source_start(fs), 0);
}

/* A streaming timer source (no vblank), CRTC 35, set to 60 Hz. */
static void start_polling(struct flip_source *fs)
{
	test_assert_int_eq(flip_source_init(fs, &test_log, &test_loop, &test_system, 99, 35,
			false, 60000, &tick_events, NULL), 0);
	flip_source_set_idle(fs, false);
	test_assert_int_eq(flip_source_start(fs), 0);
}

/* A vblank: the card fd turns readable, and the source reads it if it is on the loop. */
static void vblank(void)
{
	if (card_source) {
		card_source->rmask = SPA_IO_IN;
		card_source->func(card_source);
	} else {
		/* nobody reads: the events stay queued */
		kernel.seq++;
		kernel.ns += kernel.period ? kernel.period : P;
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
	struct flip_source fs;

	reset_fakes();
	start_streaming(&fs, 99);
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

/*
 * The vblanks come at 75 Hz while the source was set to 60: the node is asked to read the
 * refresh once, after FLIP_PERIOD_WINDOWS windows, and not again within FLIP_REFRESH_ASK_NS
 * (the test runs in far less); at 60 Hz, or once set to 75, never.
 */
static void test_refresh_changed_event(void)
{
	struct flip_source fs;

	reset_fakes();
	start_streaming(&fs, 99);
	for (int i = 0; i < 100; i++) {
		vblank();
	}
	test_assert_int_eq(n_refresh, 0);
	kernel.period = P75;
	/* The first window spans the change; the two after it are 75 Hz's. */
	for (int i = 0; i < 3 * FLIP_PERIOD_WINDOW; i++) {
		vblank();
	}
	test_assert_int_eq(n_refresh, 1);
	for (int i = 0; i < 100; i++) {
		vblank();
	}
	test_assert_int_eq(n_refresh, 1); /* rate-limited */
	test_assert_int_eq(n_ticks, 212);
	flip_source_finish(&fs);

	/* Set to 75 when the node has read it: quiet. */
	reset_fakes();
	kernel.period = P75;
	start_streaming(&fs, 99);
	flip_source_set_refresh(&fs, 75000);
	for (int i = 0; i < 100; i++) {
		vblank();
	}
	test_assert_int_eq(n_refresh, 0);
	flip_source_finish(&fs);
}

/* One poll of fd as the loop would: rmask from the kernel's answer, then the callback. */
static void dispatch_card(void)
{
	struct pollfd pfd;

	if (!card_source) {
		return;
	}
	pfd = (struct pollfd){.fd = card_source->fd, .events = POLLIN};
	test_assert_int_eq(poll(&pfd, 1, 0), 1);
	card_source->rmask = ((pfd.revents & POLLIN) ? SPA_IO_IN : 0) |
			((pfd.revents & POLLHUP) ? SPA_IO_HUP : 0) |
			((pfd.revents & POLLERR) ? SPA_IO_ERR : 0);
	card_source->func(card_source);
}

/* The retry timer expires, if the source still has it on the loop and armed. */
static void expire_timer(void)
{
	if (timer_source && timer_armed) {
		timer_source->func(timer_source);
	}
}

/*
 * The card fd hangs up (a socketpair whose peer is gone: poll says HUP): one card_lost, the
 * source off the loop, no read of the fd, no retry timer, no tick; a start is refused without
 * a second report. On another fd (flip_source_set_card) it ticks again.
 */
static void test_card_hangup(void)
{
	struct flip_source fs;
	int sv[2];

	reset_fakes();
	test_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	start_streaming(&fs, sv[0]);
	vblank();
	test_assert_int_eq(n_ticks, 1);
	close(sv[1]);
	dispatch_card();
	test_assert_int_eq(n_lost, 1);
	test_assert_int_eq(lost_err, -EPIPE);
	test_assert(card_source == NULL && timer_source == NULL);
	test_assert(!timer_armed);
	test_assert_int_eq(kernel.n_reads, 1);
	for (int i = 0; i < 5; i++) {
		dispatch_card();
		vblank();
		expire_timer();
	}
	test_assert_int_eq(flip_source_start(&fs), -ENODEV);
	flip_source_set_idle(&fs, true);
	flip_source_set_idle(&fs, false);
	test_assert(card_source == NULL);
	test_assert_int_eq(n_lost, 1);
	test_assert_int_eq(n_ticks, 1);
	test_assert_int_eq(kernel.n_reads, 1);

	/* The card is back on another fd. */
	close(sv[0]);
	kernel.n_pending = 0; /* the old fd's events died with it */
	flip_source_set_card(&fs, 97, 36, true, 60000);
	test_assert_int_eq(flip_source_start(&fs), 0);
	test_assert(card_source != NULL && card_source->fd == 97);
	test_assert_int_eq(kernel.n_pending, 1);
	vblank();
	vblank();
	test_assert_int_eq(n_ticks, 3);
	test_assert_int_eq(n_lost, 1);
	flip_source_finish(&fs);
}

/*
 * The device is unplugged: every ioctl says ENODEV, and a DRM fd does not hang up. The event
 * on its way arrives, the re-queue fails: one card_lost, no tick for it, and no retry every
 * VBLANK_RETRY_NS on the dead fd. Likewise a start on a dead fd, and the node's own report
 * (flip_source_card_lost, from a GETPLANE that failed) on the timer path.
 */
static void test_card_enodev(void)
{
	struct flip_source fs;

	reset_fakes();
	start_streaming(&fs, 99);
	vblank();
	test_assert_int_eq(n_ticks, 1);
	kernel.refuse = ENODEV;
	vblank();
	test_assert_int_eq(n_lost, 1);
	test_assert_int_eq(lost_err, -ENODEV);
	test_assert_int_eq(n_ticks, 1);
	test_assert(card_source == NULL && timer_source == NULL && !timer_armed);
	for (int i = 0; i < 5; i++) {
		vblank();
		expire_timer();
	}
	test_assert_int_eq(n_lost, 1);
	test_assert_int_eq(n_ticks, 1);
	test_assert_int_eq(kernel.n_reads, 2);

	/* Back: ticks again. */
	kernel.refuse = 0;
	flip_source_set_card(&fs, 99, 35, true, 60000);
	test_assert_int_eq(flip_source_start(&fs), 0);
	vblank();
	test_assert_int_eq(n_ticks, 2);
	flip_source_finish(&fs);

	/* A start on a dead fd reports it, once. */
	reset_fakes();
	kernel.refuse = ENODEV;
	test_assert_int_eq(flip_source_init(&fs, &test_log, &test_loop, &test_system, 99, 35,
			true, 60000, &tick_events, NULL), 0);
	flip_source_set_idle(&fs, false);
	test_assert_int_eq(flip_source_start(&fs), -ENODEV);
	test_assert_int_eq(flip_source_start(&fs), -ENODEV);
	test_assert_int_eq(n_lost, 1);
	test_assert(card_source == NULL && timer_source == NULL && !timer_armed);
	flip_source_finish(&fs);

	/* The timer path learns it from the node. */
	reset_fakes();
	start_polling(&fs);
	expire_timer();
	test_assert_int_eq(n_ticks, 1);
	flip_source_card_lost(&fs, -ENODEV);
	flip_source_card_lost(&fs, -ENODEV);
	test_assert_int_eq(n_lost, 1);
	test_assert(timer_source == NULL && !timer_armed);
	expire_timer();
	test_assert_int_eq(n_ticks, 1);
	flip_source_set_card(&fs, 99, 35, false, 60000);
	test_assert_int_eq(flip_source_start(&fs), 0);
	expire_timer();
	test_assert_int_eq(n_ticks, 2);
	flip_source_finish(&fs);
}

/*
 * Without vblank nothing measures the period: while a stream runs, the timer path asks for
 * the refresh again once per FLIP_REFRESH_ASK_NS (a mode set to another rate at the same
 * size, no FB joining), never at the Start itself (the node reads it then) and never idle.
 */
static void test_timer_asks_refresh(void)
{
	struct timespec wait = {
		.tv_sec = FLIP_REFRESH_ASK_NS / SPA_NSEC_PER_SEC,
		.tv_nsec = FLIP_REFRESH_ASK_NS % SPA_NSEC_PER_SEC + 50 * SPA_NSEC_PER_MSEC,
	};
	struct flip_source fs;

	reset_fakes();
	start_polling(&fs);
	expire_timer();
	expire_timer();
	test_assert_int_eq(n_ticks, 2);
	test_assert_int_eq(n_refresh, 0);
	nanosleep(&wait, NULL);
	expire_timer();
	test_assert_int_eq(n_refresh, 1);
	expire_timer();
	test_assert_int_eq(n_refresh, 1);
	/* Nobody streams: the slow poll only keeps the set learnt. */
	flip_source_set_idle(&fs, true);
	nanosleep(&wait, NULL);
	expire_timer();
	test_assert_int_eq(n_ticks, 5);
	test_assert_int_eq(n_refresh, 1);
	flip_source_finish(&fs);
}

TEST_MAIN(TEST(test_vblanks_between), TEST(test_period_check), TEST(test_restart_keeps_one_chain),
		TEST(test_refresh_changed_event), TEST(test_card_hangup), TEST(test_card_enodev),
		TEST(test_timer_asks_refresh))
