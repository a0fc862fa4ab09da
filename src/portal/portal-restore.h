/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_RESTORE_H
#define KMSCAST_PORTAL_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "portal.h"

/*
 * restore_data for persist_mode: the frontend keeps it behind a restore token and hands it
 * back to SelectSources. Its type is (suv): vendor "kmscast", version 2, and
 * (sba(ssssuu)) = the app id it was made for, whether the user ticked "remember" for that
 * app in the consent dialog, and one (card, connector, EDID vendor, EDID name, EDID product,
 * EDID serial) per monitor. Version 1 (a(ssssuu) alone) is still read, as not remembered.
 * CRTC and node ids change at every modeset and restart and are not stored.
 */
#define PORTAL_RESTORE_VENDOR "kmscast"
#define PORTAL_RESTORE_VERSION 2
#define PORTAL_RESTORE_SIGNATURE "(sba(ssssuu))"
#define PORTAL_RESTORE_V1 1
#define PORTAL_RESTORE_V1_SIGNATURE "a(ssssuu)"
/* A D-Bus name is at most 255 bytes, and so is an app id; a longer one is not ours. */
#define PORTAL_MAX_APP_ID 255

struct portal_restore_entry {
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX];
	char vendor[4];
	char name[KMS_MONITOR_MAX];
	uint32_t product, serial;
};

/* What one restore_data holds. */
struct portal_restore {
	struct portal_restore_entry entries[PORTAL_MAX_MONITORS];
	uint32_t n_entries;
	char app_id[PORTAL_MAX_APP_ID + 1]; /* "" in version 1 data */
	bool remembered; /* false in version 1 data */
};

/*
 * Appends the {sv} dict entry "restore_data" for monitors to m, made for app_id (at most
 * PORTAL_MAX_APP_ID bytes), remembered or not. Returns 0, -ENAMETOOLONG, or -errno.
 */
int portal_restore_append(sd_bus_message *m, const struct portal_monitor *monitors, uint32_t n,
		const char *app_id, bool remembered);

/*
 * Reads one variant holding restore data from m (positioned at the 'v' of the dict entry)
 * into out, which is zeroed first. Returns the number of entries (at most
 * PORTAL_MAX_MONITORS), 0 when the data is someone else's or another version (skipped: not
 * an error), -E2BIG over PORTAL_MAX_MONITORS entries, -ENAMETOOLONG for an app id over
 * PORTAL_MAX_APP_ID, or -errno.
 */
int portal_restore_read(sd_bus_message *m, struct portal_restore *out);

/*
 * Finds, for every saved entry, the available monitor with the same connector and EDID
 * identity (same card preferred); failing that, the one monitor anywhere with that EDID
 * identity, if the EDID is there and unique. Writes the matches in saved order to out.
 * Returns 0, or -ENOENT when some entry has no match (the caller asks again).
 */
int portal_restore_match(const struct portal_restore_entry *saved, uint32_t n_saved,
		const struct portal_monitor *avail, uint32_t n_avail, struct portal_monitor *out);

#endif
