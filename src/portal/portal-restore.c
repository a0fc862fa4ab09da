/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "portal-restore.h"

static int append_entry(sd_bus_message *m, const struct portal_monitor *mon)
{
	const struct kms_monitor *e = &mon->edid;

	return sd_bus_message_append(m, "(ssssuu)", mon->card, mon->connector,
			mon->has_edid ? e->vendor : "", mon->has_edid ? e->name : "",
			mon->has_edid ? (uint32_t)e->product : 0, mon->has_edid ? e->serial : 0);
}

int portal_restore_append(sd_bus_message *m, const struct portal_monitor *monitors, uint32_t n,
		const char *app_id, bool remembered)
{
	int r;

	if (strlen(app_id) > PORTAL_MAX_APP_ID) {
		return -ENAMETOOLONG;
	}
	if ((r = sd_bus_message_open_container(m, 'e', "sv")) < 0 ||
			(r = sd_bus_message_append(m, "s", "restore_data")) < 0 ||
			(r = sd_bus_message_open_container(m, 'v', "(suv)")) < 0 ||
			(r = sd_bus_message_open_container(m, 'r', "suv")) < 0 ||
			(r = sd_bus_message_append(m, "su", PORTAL_RESTORE_VENDOR,
					 PORTAL_RESTORE_VERSION)) < 0 ||
			(r = sd_bus_message_open_container(m, 'v', PORTAL_RESTORE_SIGNATURE)) < 0 ||
			(r = sd_bus_message_open_container(m, 'r', "sba(ssssuu)")) < 0 ||
			(r = sd_bus_message_append(m, "sb", app_id, (int)remembered)) < 0 ||
			(r = sd_bus_message_open_container(m, 'a', "(ssssuu)")) < 0) {
		return r;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((r = append_entry(m, &monitors[i])) < 0) {
			return r;
		}
	}
	for (int i = 0; i < 6; i++) {
		if ((r = sd_bus_message_close_container(m)) < 0) {
			return r;
		}
	}
	return 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int read_entries(sd_bus_message *m, struct portal_restore_entry *out, uint32_t max)
{
	uint32_t n = 0;
	int r;

	if ((r = sd_bus_message_enter_container(m, 'a', "(ssssuu)")) < 0) {
		return r;
	}
	for (;;) {
		const char *card, *connector, *vendor, *name;
		uint32_t product, serial;

		r = sd_bus_message_read(m, "(ssssuu)", &card, &connector, &vendor, &name, &product,
				&serial);
		if (r <= 0) {
			break;
		}
		if (n >= max) {
			return -E2BIG;
		}
		copy_str(out[n].card, sizeof(out[n].card), card);
		copy_str(out[n].connector, sizeof(out[n].connector), connector);
		copy_str(out[n].vendor, sizeof(out[n].vendor), vendor);
		copy_str(out[n].name, sizeof(out[n].name), name);
		out[n].product = product;
		out[n].serial = serial;
		n++;
	}
	if (r < 0) {
		return r;
	}
	if ((r = sd_bus_message_exit_container(m)) < 0) {
		return r;
	}
	return (int)n;
}

/* Version 2's (sba(ssssuu)), m inside the variant. Returns the entry count or -errno. */
static int read_v2(sd_bus_message *m, struct portal_restore *out)
{
	const char *app_id;
	int remembered, n, r;

	if ((r = sd_bus_message_enter_container(m, 'r', "sba(ssssuu)")) < 0 ||
			(r = sd_bus_message_read(m, "sb", &app_id, &remembered)) < 0) {
		return r;
	}
	if (strlen(app_id) > PORTAL_MAX_APP_ID) {
		return -ENAMETOOLONG;
	}
	copy_str(out->app_id, sizeof(out->app_id), app_id);
	out->remembered = remembered != 0;
	n = read_entries(m, out->entries, PORTAL_MAX_MONITORS);
	if (n < 0) {
		return n;
	}
	if ((r = sd_bus_message_exit_container(m)) < 0) {
		return r;
	}
	return n;
}

/* The variant after vendor and version: ours to read, or skipped (returns 0). */
static int read_payload(sd_bus_message *m, uint32_t version, struct portal_restore *out)
{
	const char *signature = version == PORTAL_RESTORE_VERSION ? PORTAL_RESTORE_SIGNATURE
			: PORTAL_RESTORE_V1_SIGNATURE;
	int n, r;

	if (version != PORTAL_RESTORE_VERSION && version != PORTAL_RESTORE_V1) {
		return sd_bus_message_skip(m, "v") < 0 ? -EINVAL : 0;
	}
	r = sd_bus_message_enter_container(m, 'v', signature);
	if (r == -ENXIO) {
		return sd_bus_message_skip(m, "v") < 0 ? -EINVAL : 0;
	}
	if (r < 0) {
		return r;
	}
	if (version == PORTAL_RESTORE_VERSION) {
		n = read_v2(m, out);
	} else {
		n = read_entries(m, out->entries, PORTAL_MAX_MONITORS);
	}
	if (n < 0) {
		return n;
	}
	if ((r = sd_bus_message_exit_container(m)) < 0) {
		return r;
	}
	return n;
}

int portal_restore_read(sd_bus_message *m, struct portal_restore *out)
{
	const char *vendor;
	uint32_t version;
	int r, n;

	memset(out, 0, sizeof(*out));
	r = sd_bus_message_enter_container(m, 'v', "(suv)");
	if (r == -ENXIO) {
		return sd_bus_message_skip(m, "v") < 0 ? -EINVAL : 0; /* not our shape */
	}
	if (r < 0) {
		return r;
	}
	if ((r = sd_bus_message_enter_container(m, 'r', "suv")) < 0 ||
			(r = sd_bus_message_read(m, "su", &vendor, &version)) < 0) {
		return r;
	}
	if (strcmp(vendor, PORTAL_RESTORE_VENDOR) != 0) {
		n = sd_bus_message_skip(m, "v") < 0 ? -EINVAL : 0;
	} else {
		n = read_payload(m, version, out);
	}
	if (n < 0) {
		return n;
	}
	if ((r = sd_bus_message_exit_container(m)) < 0 ||
			(r = sd_bus_message_exit_container(m)) < 0) {
		return r;
	}
	out->n_entries = (uint32_t)n;
	return n;
}

static bool same_edid(const struct portal_restore_entry *s, const struct portal_monitor *m)
{
	if (!m->has_edid) {
		return !s->vendor[0] && !s->name[0] && s->product == 0 && s->serial == 0;
	}
	return !strcmp(s->vendor, m->edid.vendor) && !strcmp(s->name, m->edid.name) &&
			s->product == m->edid.product && s->serial == m->edid.serial;
}

static const struct portal_monitor *match_one(const struct portal_restore_entry *s,
		const struct portal_monitor *avail, uint32_t n_avail)
{
	const struct portal_monitor *found = NULL, *moved = NULL;
	uint32_t n_moved = 0;

	for (uint32_t i = 0; i < n_avail; i++) {
		const struct portal_monitor *m = &avail[i];

		if (!same_edid(s, m)) {
			continue;
		}
		if (!strcmp(s->connector, m->connector)) {
			/* Card numbers follow probe order; a same-card match is only a preference. */
			if (!found || !strcmp(s->card, m->card)) {
				found = m;
			}
		} else {
			moved = m;
			n_moved++;
		}
	}
	if (found) {
		return found;
	}
	/* A monitor moved to another port is still itself, if its EDID says so unambiguously. */
	if (n_moved == 1 && s->vendor[0]) {
		return moved;
	}
	return NULL;
}

int portal_restore_match(const struct portal_restore_entry *saved, uint32_t n_saved,
		const struct portal_monitor *avail, uint32_t n_avail, struct portal_monitor *out)
{
	if (n_saved == 0) {
		return -ENOENT;
	}
	for (uint32_t i = 0; i < n_saved; i++) {
		const struct portal_monitor *m = match_one(&saved[i], avail, n_avail);

		if (!m) {
			return -ENOENT;
		}
		out[i] = *m;
	}
	return 0;
}
