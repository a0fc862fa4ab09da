/* SPDX-License-Identifier: MIT */
/*
 * Which stream targets name a kmscast node: gst pipewiresrc path=ID sets node.target to the
 * object id; target-object and pw-cat --target take a serial or a node name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumer-watch.h"

static int failures;

#define check(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, \
	__LINE__, #cond); failures++; } } while (0)

int main(void)
{
	const char *name = "kmscast.card0.Virtual-1";

	check(consumer_watch_target_matches("42", 42, 57, name));
	check(consumer_watch_target_matches("57", 42, 57, name));
	check(consumer_watch_target_matches(name, 42, 57, name));
	check(!consumer_watch_target_matches("43", 42, 57, name));
	check(!consumer_watch_target_matches("kmscast.card0.Virtual-2", 42, 57, name));
	check(!consumer_watch_target_matches("42abc", 42, 57, name));
	check(!consumer_watch_target_matches("", 42, 57, name));
	check(!consumer_watch_target_matches(NULL, 42, 57, name));
	/* An unknown serial (UINT64_MAX) never matches a number. */
	check(!consumer_watch_target_matches("18446744073709551615", 42, UINT64_MAX, NULL));
	if (failures)
		return EXIT_FAILURE;
	printf("PASS consumer-watch\n");
	return EXIT_SUCCESS;
}
