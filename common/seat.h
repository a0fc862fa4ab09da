/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SEAT_H
#define KMSCAST_SEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Which seat a DRM card belongs to, as logind sees it. Built into both kmscast-helper
 * (helper/session.c: whose session may export a card) and the daemon's portal backend
 * (src/portal/portal-seat.c: which monitors a portal app is offered), so that the two sides
 * cannot disagree on a card's seat. No logging: each caller logs its own decision.
 */

/* Only logind creates it; systemd's own logind_running() asks the same question. */
#define SEAT_LOGIND_DIR "/run/systemd/seats/"
/* udev sets ID_SEAT only for devices of other seats. */
#define SEAT_DEFAULT "seat0"
/* A file name under /run/systemd/seats, and its NUL. */
#define SEAT_MAX_NAME 256

/* Whether logind runs: seats_dir (SEAT_LOGIND_DIR outside tests) exists. */
bool seat_logind_running(const char *seats_dir);

/*
 * Copies the seat of the character device devnum (udev's ID_SEAT, SEAT_DEFAULT when unset)
 * into seat. Returns 0, -EINVAL for an empty or over-long seat name, or the -errno of
 * sd-device (-ENODEV and friends when udev does not know the device).
 */
int seat_of_devnum(dev_t devnum, char *seat, size_t size);

/*
 * The same for a DRM card by its kernel name ("card0"), looked up in the drm subsystem.
 * Returns 0, -EINVAL for a name that is not a plain file name, or as seat_of_devnum.
 */
int seat_of_card(const char *card, char *seat, size_t size);

#endif
