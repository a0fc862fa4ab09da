/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_RESTORE_H
#define KMSCAST_PORTAL_RESTORE_H

#include <stdint.h>

#include <systemd/sd-bus.h>

#include "portal.h"

/*
 * restore_data for persist_mode: the frontend keeps it behind a restore token and hands it
 * back to SelectSources. Its type is (suv): vendor "kmscast", version 1, and
 * a(ssssuu) = one (card, connector, EDID vendor, EDID name, EDID product, EDID serial) per
 * monitor. CRTC and node ids change at every modeset and restart and are not stored.
 */
#define PORTAL_RESTORE_VENDOR "kmscast"
#define PORTAL_RESTORE_VERSION 1
#define PORTAL_RESTORE_SIGNATURE "a(ssssuu)"

struct portal_restore_entry {
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX];
	char vendor[4];
	char name[KMS_MONITOR_MAX];
	uint32_t product, serial;
};

/* Appends the {sv} dict entry "restore_data" for monitors to m. Returns 0 or -errno. */
int portal_restore_append(sd_bus_message *m, const struct portal_monitor *monitors, uint32_t n);

/*
 * Reads one variant holding restore data from m (positioned at the 'v' of the dict entry).
 * Returns the number of entries written to out (at most max), 0 when the data is someone
 * else's or another version (skipped: not an error), -E2BIG over max, or -errno.
 */
int portal_restore_read(sd_bus_message *m, struct portal_restore_entry *out, uint32_t max);

/*
 * Finds, for every saved entry, the available monitor with the same connector and EDID
 * identity (same card preferred); failing that, the one monitor anywhere with that EDID
 * identity, if the EDID is there and unique. Writes the matches in saved order to out.
 * Returns 0, or -ENOENT when some entry has no match (the caller asks again).
 */
int portal_restore_match(const struct portal_restore_entry *saved, uint32_t n_saved,
		const struct portal_monitor *avail, uint32_t n_avail, struct portal_monitor *out);

#endif
