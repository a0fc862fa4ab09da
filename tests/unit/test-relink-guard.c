/* SPDX-License-Identifier: MIT */
/* The stranded-link workaround's decisions, with fake times: when it relinks, when not. */
#include "relink-guard.h"
#include "test.h"

#define MS (1000ull * 1000ull)
#define T0 (1000 * MS)

static void test_server_versions(void)
{
	test_assert(relink_guard_server_affected(NULL));
	test_assert(relink_guard_server_affected("garbage"));
	test_assert(relink_guard_server_affected("0.3.65"));
	test_assert(relink_guard_server_affected("0.3.84"));
	test_assert(relink_guard_server_affected("0.2.99"));
	test_assert(!relink_guard_server_affected("0.3.85"));
	test_assert(!relink_guard_server_affected("0.3.100"));
	test_assert(!relink_guard_server_affected("1.4.2"));
	test_assert(!relink_guard_server_affected("1.6.9"));
	/* 1.x whatever the rest reads; a 0.x without its micro may be before the fix. */
	test_assert(!relink_guard_server_affected("1.6"));
	test_assert(!relink_guard_server_affected("1.5.84-rc1"));
	test_assert(!relink_guard_server_affected("2.0.0"));
	test_assert(relink_guard_server_affected("0.3"));
	test_assert(relink_guard_server_affected(""));
}

/* The stranded signature: buffers, Pause 50 ms later, Start 10 ms after that. */
static enum relink_decision stranded(struct relink_guard *g, uint64_t t)
{
	relink_guard_buffers(g, t);
	relink_guard_paused(g, t + 50 * MS);
	return relink_guard_started(g, t + 60 * MS);
}

static void test_relinks_on_the_signature(void)
{
	struct relink_guard g;

	relink_guard_init(&g, true);
	relink_guard_renegotiate(&g, false);
	test_assert_int_eq(stranded(&g, T0), RELINK_NOW);
}

static void test_gives_up_after_max(void)
{
	struct relink_guard g;
	uint64_t t = T0;

	relink_guard_init(&g, true);
	relink_guard_renegotiate(&g, false);
	for (int i = 0; i < MAX_RELINKS; i++, t += 1000 * MS) {
		test_assert_int_eq(stranded(&g, t), RELINK_NOW);
		relink_guard_renegotiate(&g, true);
	}
	test_assert_int_eq(stranded(&g, t), RELINK_GIVE_UP);
	/* A renegotiation for another reason starts the count again. */
	relink_guard_renegotiate(&g, false);
	test_assert_int_eq(stranded(&g, t + 1000 * MS), RELINK_NOW);
}

static void test_not_on_other_orders(void)
{
	struct relink_guard g;

	relink_guard_init(&g, true);
	/* A Pause before the buffers (a lone consumer's renegotiation) strands nothing. */
	relink_guard_renegotiate(&g, false);
	relink_guard_paused(&g, T0);
	relink_guard_buffers(&g, T0 + 10 * MS);
	test_assert_int_eq(relink_guard_started(&g, T0 + 20 * MS), RELINK_NONE);
	/* A Pause after the window. */
	relink_guard_renegotiate(&g, false);
	relink_guard_buffers(&g, T0);
	relink_guard_paused(&g, T0 + RELINK_AFTER_BUFFERS_NS + MS);
	test_assert_int_eq(relink_guard_started(&g, T0 + RELINK_AFTER_BUFFERS_NS + 2 * MS),
			RELINK_NONE);
	/* A Start long after the Pause: a consumer that really connected. */
	relink_guard_renegotiate(&g, false);
	relink_guard_buffers(&g, T0);
	relink_guard_paused(&g, T0 + 50 * MS);
	test_assert_int_eq(relink_guard_started(&g, T0 + 50 * MS + RELINK_RESTART_NS + MS),
			RELINK_NONE);
	/* Buffers the node did not ask for (a consumer's own negotiation) open no window. */
	relink_guard_init(&g, true);
	test_assert_int_eq(stranded(&g, T0), RELINK_NONE);
}

/* Servers with the fix: never, whatever the events. */
static void test_disabled_never_relinks(void)
{
	struct relink_guard g;

	relink_guard_init(&g, false);
	relink_guard_renegotiate(&g, false);
	test_assert_int_eq(stranded(&g, T0), RELINK_NONE);
}

TEST_MAIN(TEST(test_server_versions), TEST(test_relinks_on_the_signature),
		TEST(test_gives_up_after_max), TEST(test_not_on_other_orders),
		TEST(test_disabled_never_relinks))
