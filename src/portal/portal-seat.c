/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "portal-seat.h"

/* ---- logind and udev --------------------------------------------------------------------- */

static bool logind_running(void *data)
{
	return seat_logind_running(SEAT_LOGIND_DIR);
}

static int logind_active_seats(void *data, char (*seats)[SEAT_MAX_NAME], uint32_t max)
{
	char **list = NULL;
	uint32_t n = 0;
	int r;

	/* require_active: seats where one of our sessions is the one in front. */
	r = sd_uid_get_seats(getuid(), 1, &list);
	if (r < 0) {
		return r;
	}
	for (char **s = list; s && *s; s++) {
		if (n < max && strlen(*s) < SEAT_MAX_NAME) {
			snprintf(seats[n++], SEAT_MAX_NAME, "%s", *s);
		}
		free(*s);
	}
	free(list);
	return (int)n;
}

static int logind_card_seat(void *data, const char *card, char *seat, size_t size)
{
	return seat_of_card(card, seat, size);
}

const struct portal_seat_ops portal_seat_logind_ops = {
	.logind_running = logind_running,
	.active_seats = logind_active_seats,
	.card_seat = logind_card_seat,
};

/* ---- the filter -------------------------------------------------------------------------- */

static bool seat_listed(const char *seat, char (*seats)[SEAT_MAX_NAME], uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!strcmp(seats[i], seat)) {
			return true;
		}
	}
	return false;
}

/* Whether mon's card is on one of seats; a card whose seat cannot be read is on none. */
static bool on_active_seat(const struct portal_seat_ops *ops, void *data,
		const struct portal_monitor *mon, char (*seats)[SEAT_MAX_NAME], uint32_t n_seats,
		char *first_seat, size_t size)
{
	char seat[SEAT_MAX_NAME];

	if (ops->card_seat(data, mon->card, seat, sizeof(seat)) < 0) {
		return false;
	}
	if (!first_seat[0]) {
		snprintf(first_seat, size, "%s", seat);
	}
	return seat_listed(seat, seats, n_seats);
}

int portal_seat_filter(const struct portal_seat_ops *ops, void *data, struct portal_monitor *mons,
		uint32_t n, enum portal_seat_outcome *outcome, char *reason, size_t reason_size)
{
	char seats[PORTAL_MAX_SEATS][SEAT_MAX_NAME];
	char other_seat[SEAT_MAX_NAME] = "";
	uint32_t kept = 0;
	int n_seats;

	if (!ops->logind_running(data)) {
		*outcome = PORTAL_SEAT_NO_LOGIND;
		return (int)n;
	}
	*outcome = PORTAL_SEAT_FILTERED;
	n_seats = ops->active_seats(data, seats, PORTAL_MAX_SEATS);
	if (n_seats < 0) {
		snprintf(reason, reason_size, "cannot ask logind for the user's seats: %s",
				strerror(-n_seats));
		return n_seats;
	}
	if (n_seats == 0) {
		snprintf(reason, reason_size, "uid %u has no active session on any seat",
				(unsigned int)getuid());
		return -ENODATA;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (on_active_seat(ops, data, &mons[i], seats, (uint32_t)n_seats, other_seat,
				    sizeof(other_seat))) {
			mons[kept++] = mons[i];
		}
	}
	if (kept == 0) {
		snprintf(reason, reason_size, "none of the %u monitors is on %s%s, where uid %u "
			 "is active (the first is on %s)", n, seats[0], n_seats > 1 ? " or another" : "",
				(unsigned int)getuid(), other_seat[0] ? other_seat : "an unknown seat");
	}
	return (int)kept;
}
