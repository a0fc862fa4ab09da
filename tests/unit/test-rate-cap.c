/* SPDX-License-Identifier: MIT */
/*
 * The consumer's maximum framerate (spa-plugin/rate-cap.h): which screens it caps, and what a
 * capped stream looks like: the cap's rate on average, evenly spaced, never two flips in a
 * row above the cap, and an idle screen's next flip at once.
 */
#include "rate-cap.h"
#include "test.h"

#define MS (SPA_NSEC_PER_MSEC)

static void test_period(void)
{
	/* No maximum, or the screen's own rate (59.94 on 60 Hz within 3%): no cap. */
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(0, 1), 60000), 0);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(60, 1), 60000), 0);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(60000, 1001), 60000), 0);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(144, 1), 60000), 0);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(30, 1), 0), 0);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(30, 0), 60000), 0);
	/* Below the screen's rate: the consumer's period. */
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(30, 1), 60000), 33333333);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(60, 1), 144000), 16666666);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(58, 1), 60000), 17241379);
	test_assert_int_eq(rate_cap_period_ns(SPA_FRACTION(30000, 1001), 59940), 33366666);
}

struct run {
	uint32_t delivered;
	uint64_t min_gap, max_gap;
	uint32_t most_in_a_row;
};

/*
 * n flips of a screen at refresh_mhz, each jitter_ns late every other flip, through a cap of
 * max: what went out.
 */
static struct run flips(uint32_t refresh_mhz, struct spa_fraction max, uint32_t n,
		uint64_t jitter_ns)
{
	uint64_t period = rate_cap_period_ns(max, refresh_mhz);
	uint64_t screen = (uint64_t)SPA_NSEC_PER_SEC * 1000 / refresh_mhz;
	struct rate_cap rc = {0};
	uint64_t last = 0;
	struct run r = {.min_gap = UINT64_MAX};
	uint32_t in_a_row = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = 1000 * MS + i * screen + (i % 2 ? jitter_ns : 0);

		if (!rate_cap_take(&rc, t, period, refresh_mhz)) {
			in_a_row = 0;
			continue;
		}
		if (r.delivered++ > 0) {
			r.min_gap = SPA_MIN(r.min_gap, t - last);
			r.max_gap = SPA_MAX(r.max_gap, t - last);
		}
		last = t;
		r.most_in_a_row = SPA_MAX(r.most_in_a_row, ++in_a_row);
	}
	return r;
}

static void test_streams(void)
{
	struct run r;

	/* Uncapped: every flip. */
	r = flips(60000, SPA_FRACTION(60, 1), 600, 0);
	test_assert_int_eq(r.delivered, 600);
	r = flips(60000, SPA_FRACTION(0, 1), 600, 2 * MS);
	test_assert_int_eq(r.delivered, 600);
	/* 60 Hz for a 30 fps consumer: every other flip, even with a flip 2 ms late. */
	r = flips(60000, SPA_FRACTION(30, 1), 600, 0);
	test_assert_int_eq(r.delivered, 300);
	test_assert_int_eq(r.most_in_a_row, 1);
	test_assert(r.min_gap >= 33 * MS && r.max_gap <= 34 * MS);
	r = flips(60000, SPA_FRACTION(30, 1), 600, 2 * MS);
	test_assert_int_eq(r.delivered, 300);
	/* 144 Hz for 60 fps: 600 frames in 10 s, 2 and 3 flips apart, none in a row. */
	r = flips(144000, SPA_FRACTION(60, 1), 1440, 0);
	test_assert(r.delivered >= 599 && r.delivered <= 601);
	test_assert_int_eq(r.most_in_a_row, 1);
	test_assert(r.min_gap >= 13 * MS && r.max_gap <= 21 * MS);
	/* 60 Hz for 25 fps: 25 a second on average, 2 and 3 flips apart. */
	r = flips(60000, SPA_FRACTION(25, 1), 600, 0);
	test_assert(r.delivered >= 249 && r.delivered <= 251);
	test_assert(r.min_gap >= 33 * MS && r.max_gap <= 51 * MS);
}

/*
 * A 60 Hz screen for a 30 fps consumer whose flips come late now and then (one vblank in
 * seven missed, as a busy compositor or a late read does): no two frames closer than the
 * cap's period less half a screen period, and still close to 30 a second.
 */
static void test_late_flips(void)
{
	uint64_t period = rate_cap_period_ns(SPA_FRACTION(30, 1), 60000);
	uint64_t screen = SPA_NSEC_PER_SEC / 60, t = 1000 * MS, last = 0, min_gap = UINT64_MAX;
	struct rate_cap rc = {0};
	uint32_t delivered = 0;

	for (uint32_t i = 0; i < 600; i++) {
		t += (i % 7 == 3) ? 2 * screen : screen;
		if (!rate_cap_take(&rc, t, period, 60000)) {
			continue;
		}
		if (delivered++ > 0) {
			min_gap = SPA_MIN(min_gap, t - last);
		}
		last = t;
	}
	test_assert(min_gap >= period - screen / 2);
	/* The case itself: the flip due on the grid (at 33 ms) never comes, the next one does,
	 * late, and the one right after it is within half a screen period of the grid. */
	rc = (struct rate_cap){0};
	test_assert(rate_cap_take(&rc, 1000 * MS, period, 60000));
	test_assert(!rate_cap_take(&rc, 1000 * MS + screen, period, 60000));
	test_assert(rate_cap_take(&rc, 1000 * MS + 3 * screen, period, 60000));
	test_assert(!rate_cap_take(&rc, 1000 * MS + 4 * screen, period, 60000));
	test_assert(rate_cap_take(&rc, 1000 * MS + 5 * screen, period, 60000));
	/* 600 flips over 686 periods: at most 343 frames at 30 a second; no fewer than 4 in 5. */
	test_assert(delivered <= 343 && delivered >= 275);
}

/* A screen that stops flipping for longer than a cap period: its next flip goes out at once. */
static void test_idle(void)
{
	uint64_t period = rate_cap_period_ns(SPA_FRACTION(30, 1), 60000);
	struct rate_cap rc = {0};

	test_assert(rate_cap_take(&rc, 1000 * MS, period, 60000));
	test_assert(!rate_cap_take(&rc, 1016 * MS, period, 60000));
	test_assert(rate_cap_take(&rc, 1033 * MS, period, 60000));
	/* 2 s of nothing, then a flip, and the one right after it waits its period. */
	test_assert(rate_cap_take(&rc, 3000 * MS, period, 60000));
	test_assert(!rate_cap_take(&rc, 3016 * MS, period, 60000));
	test_assert(rate_cap_take(&rc, 3033 * MS, period, 60000));
	/* No cap: always, and the grid forgotten. */
	test_assert(rate_cap_take(&rc, 3034 * MS, 0, 60000));
	test_assert_int_eq(rc.next_ns, 0);
}

TEST_MAIN(TEST(test_period), TEST(test_streams), TEST(test_late_flips), TEST(test_idle))
