/* SPDX-License-Identifier: MIT */
/*
 * The follower's hand-over: frames staged between the driver's cycles, process() placing the
 * newest once the consumer gave the io area back, and no buffer lost on the way.
 */
#include <spa/node/io.h>
#include <spa/node/node.h>
#include <spa/utils/defs.h>

#include "handoff.h"
#include "test.h"

#define N_BUFFERS 4

static struct spa_io_buffers io_given_back(uint32_t id)
{
	return (struct spa_io_buffers){.status = SPA_STATUS_NEED_DATA, .buffer_id = id};
}

static void test_following(void)
{
	struct spa_io_clock own = {.id = 7};
	struct spa_io_position graph = {.clock = {.id = 7}};

	test_assert(!handoff_following(&graph, &own)); /* our clock runs the graph */
	graph.clock.id = 5;
	test_assert(handoff_following(&graph, &own));
	test_assert(!handoff_following(NULL, &own)); /* not in a graph yet */
	test_assert(!handoff_following(&graph, NULL));
}

static void test_hands_newest_when_given_back(void)
{
	struct handoff h;
	struct spa_io_buffers io = io_given_back(2);
	uint32_t recycled;

	handoff_init(&h);
	test_assert_int_eq(handoff_stage(&h, 1), SPA_ID_INVALID);
	/* A newer frame: the older one, never seen by the graph, is the caller's again. */
	test_assert_int_eq(handoff_stage(&h, 3), 1);
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_HAVE_DATA);
	test_assert_int_eq(recycled, 2);
	test_assert_int_eq(io.buffer_id, 3);
	test_assert_int_eq(io.status, SPA_STATUS_HAVE_DATA);
	test_assert_int_eq(h.staged, SPA_ID_INVALID);
}

static void test_nothing_new(void)
{
	struct handoff h;
	struct spa_io_buffers io = io_given_back(0);
	uint32_t recycled;

	handoff_init(&h);
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_OK);
	test_assert_int_eq(recycled, 0);
	test_assert_int_eq(io.buffer_id, SPA_ID_INVALID);
	/* The next cycle finds nothing to recycle twice, and still no frame. */
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_OK);
	test_assert_int_eq(recycled, SPA_ID_INVALID);
	test_assert(io.status != SPA_STATUS_HAVE_DATA);
}

static void test_untaken_frame_stays(void)
{
	struct handoff h;
	struct spa_io_buffers io = {.status = SPA_STATUS_HAVE_DATA, .buffer_id = 1};
	uint32_t recycled;

	handoff_init(&h);
	handoff_stage(&h, 2);
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_HAVE_DATA);
	test_assert_int_eq(recycled, SPA_ID_INVALID);
	test_assert_int_eq(io.buffer_id, 1); /* the consumer may be taking it now */
	test_assert_int_eq(h.staged, 2); /* waits for the next cycle */
}

static void test_stale_ids(void)
{
	struct handoff h;
	struct spa_io_buffers io = {.status = SPA_STATUS_HAVE_DATA, .buffer_id = SPA_ID_INVALID};
	uint32_t recycled;

	/* HAVE_DATA naming no buffer holds no frame: the staged one goes in. */
	handoff_init(&h);
	handoff_stage(&h, 2);
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_HAVE_DATA);
	test_assert_int_eq(io.buffer_id, 2);
	/* A staged id past the buffers (they shrank) is never placed. */
	io = io_given_back(SPA_ID_INVALID);
	handoff_stage(&h, N_BUFFERS);
	test_assert_int_eq(handoff_process(&h, &io, N_BUFFERS, &recycled), SPA_STATUS_OK);
	test_assert_int_eq(io.buffer_id, SPA_ID_INVALID);
	test_assert_int_eq(h.staged, SPA_ID_INVALID);
	/* Unstaging hands the id back once. */
	handoff_stage(&h, 1);
	test_assert_int_eq(handoff_unstage(&h), 1);
	test_assert_int_eq(handoff_unstage(&h), SPA_ID_INVALID);
}

/*
 * A follower's life: a frame every tick, the driver's cycle every other tick, the consumer
 * taking what the io area holds every third cycle. Every buffer the node marked busy is
 * staged, in the io area or with the consumer: none leaks, none is handed out twice.
 */
static void test_no_leak(void)
{
	struct handoff h;
	struct spa_io_buffers io = io_given_back(SPA_ID_INVALID);
	bool busy[N_BUFFERS] = {false};
	uint32_t held = SPA_ID_INVALID, recycled, placed = 0;

	handoff_init(&h);
	for (uint32_t tick = 0; tick < 120; tick++) {
		uint32_t id, replaced, n_busy = 0, accounted = 0;

		for (id = 0; id < N_BUFFERS && busy[id]; id++)
			;
		if (id < N_BUFFERS) {
			busy[id] = true;
			replaced = handoff_stage(&h, id);
			if (replaced != SPA_ID_INVALID)
				busy[replaced] = false;
		}
		if (tick % 2 == 1) {
			int status = handoff_process(&h, &io, N_BUFFERS, &recycled);

			if (recycled != SPA_ID_INVALID) {
				test_assert(busy[recycled]);
				busy[recycled] = false;
			}
			test_assert(status == SPA_STATUS_HAVE_DATA ||
					io.buffer_id == SPA_ID_INVALID);
			placed += status == SPA_STATUS_HAVE_DATA;
		}
		if (tick % 6 == 5 && io.status == SPA_STATUS_HAVE_DATA) {
			/* The consumer takes the frame and gives back the one it held. */
			uint32_t taken = io.buffer_id;

			io = io_given_back(held);
			held = taken;
		}
		for (id = 0; id < N_BUFFERS; id++)
			n_busy += busy[id];
		accounted += h.staged != SPA_ID_INVALID;
		accounted += io.buffer_id != SPA_ID_INVALID;
		accounted += held != SPA_ID_INVALID;
		test_assert_int_eq(n_busy, accounted);
	}
	test_assert(placed > 0);
}

TEST_MAIN(TEST(test_following), TEST(test_hands_newest_when_given_back), TEST(test_nothing_new),
		TEST(test_untaken_frame_stays), TEST(test_stale_ids), TEST(test_no_leak))
