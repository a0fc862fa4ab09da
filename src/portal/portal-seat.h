/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_SEAT_H
#define KMSCAST_PORTAL_SEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portal.h"
#include "seat.h"

/*
 * Which monitors a portal app may be offered: those of cards on a seat where the daemon's
 * user has an active session. The portal runs on the user's session bus, so "the caller's
 * seat" is the user's: a monitor on another seat shows another person's screen. The answers
 * come from logind and udev (portal_seat_logind_ops) or, in tests, from a fake.
 */

/* Seats one user can have active sessions on at once; more is a broken logind. */
#define PORTAL_MAX_SEATS 16

struct portal_seat_ops {
	/* Whether logind runs at all. Without it there are no seats to keep apart. */
	bool (*logind_running)(void *data);
	/*
	 * The seats on which the daemon's user has an active session, written into seats (up
	 * to max names of size bytes each). Returns the count (0: none), or -errno.
	 */
	int (*active_seats)(void *data, char (*seats)[SEAT_MAX_NAME], uint32_t max);
	/* Copies the seat of card ("card0") into seat. Returns 0 or -errno. */
	int (*card_seat)(void *data, const char *card, char *seat, size_t size);
};

/* logind (sd_uid_get_seats for getuid()) and udev (ID_SEAT of the drm card). */
extern const struct portal_seat_ops portal_seat_logind_ops;

/* What portal_seat_filter did. */
enum portal_seat_outcome {
	PORTAL_SEAT_FILTERED, /* only monitors on the user's active seats are left */
	PORTAL_SEAT_NO_LOGIND, /* logind does not run: every monitor is left */
};

/*
 * Keeps, in order, the monitors of mons (n) whose card is on a seat where the user has an
 * active session. Returns the number kept (0: none is on such a seat) with *outcome set, or
 * -ENODATA when the user has no active session on any seat, or another -errno; on 0 and on
 * errors reason says why, for the caller's log line.
 */
int portal_seat_filter(const struct portal_seat_ops *ops, void *data, struct portal_monitor *mons,
		uint32_t n, enum portal_seat_outcome *outcome, char *reason, size_t reason_size);

#endif
