/* SPDX-License-Identifier: MIT */
/*
 * The read-gap bound's arithmetic: the vblanks inside a gap between two reads of FB_ID,
 * counted from the last vblank event's time, whichever side of it the gap lies.
 */
#include <stdint.h>

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

TEST_MAIN(TEST(test_vblanks_between))
