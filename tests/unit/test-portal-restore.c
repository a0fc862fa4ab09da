/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portal-restore.h"
#include "test.h"

static struct portal_monitor monitor(const char *card, const char *connector, const char *vendor,
		const char *name, uint16_t product, uint32_t serial)
{
	struct portal_monitor m = {.width = 1024, .height = 768, .crtc_id = 38};

	snprintf(m.card, sizeof(m.card), "%s", card);
	snprintf(m.connector, sizeof(m.connector), "%s", connector);
	if (vendor) {
		m.has_edid = true;
		snprintf(m.edid.vendor, sizeof(m.edid.vendor), "%s", vendor);
		snprintf(m.edid.name, sizeof(m.edid.name), "%s", name);
		m.edid.product = product;
		m.edid.serial = serial;
	}
	return m;
}

/*
 * sd-bus builds messages only on a started bus. Starting one on a socketpair is enough: it
 * queues its AUTH line and never needs the peer to answer.
 */
static sd_bus *offline_bus(void)
{
	sd_bus *bus;
	int sv[2];

	test_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	test_assert(sd_bus_new(&bus) >= 0);
	test_assert(sd_bus_set_fd(bus, sv[0], sv[0]) >= 0); /* sv[0] now owned by bus */
	test_assert(sd_bus_start(bus) >= 0);
	close(sv[1]);
	return bus;
}

/* A sealed message holding a{sv} {"restore_data": <data>}, rewound for reading. */
static sd_bus_message *encode_for(sd_bus *bus, const struct portal_monitor *mons, uint32_t n,
		const char *app_id, bool remembered)
{
	sd_bus_message *m = NULL;

	test_assert(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "C") >= 0);
	test_assert(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
	test_assert_int_eq(portal_restore_append(m, mons, n, app_id, remembered), 0);
	test_assert(sd_bus_message_close_container(m) >= 0);
	test_assert(sd_bus_message_seal(m, 1, 0) >= 0);
	test_assert(sd_bus_message_rewind(m, true) >= 0);
	return m;
}

static sd_bus_message *encode(sd_bus *bus, const struct portal_monitor *mons, uint32_t n)
{
	return encode_for(bus, mons, n, "org.example.App", false);
}

static int decode(sd_bus_message *m, struct portal_restore *out)
{
	const char *key;
	int n;

	test_assert(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
	test_assert(sd_bus_message_enter_container(m, 'e', "sv") > 0);
	test_assert(sd_bus_message_read(m, "s", &key) > 0);
	test_assert_str_eq(key, "restore_data");
	n = portal_restore_read(m, out);
	sd_bus_message_unref(m);
	return n;
}

static void test_round_trip(void)
{
	struct portal_monitor mons[PORTAL_MAX_MONITORS + 1] = {
		monitor("card0", "HDMI-A-1", "DEL", "DELL U2415", 0xa0b1, 12345),
		monitor("card1", "Virtual-1", NULL, NULL, 0, 0),
	};
	static struct portal_restore r;
	const struct portal_restore_entry *e = r.entries;
	sd_bus *bus;

	bus = offline_bus();
	test_assert_int_eq(decode(encode(bus, mons, 2), &r), 2);
	test_assert_int_eq(r.n_entries, 2);
	test_assert_str_eq(e[0].card, "card0");
	test_assert_str_eq(e[0].connector, "HDMI-A-1");
	test_assert_str_eq(e[0].vendor, "DEL");
	test_assert_str_eq(e[0].name, "DELL U2415");
	test_assert_int_eq(e[0].product, 0xa0b1);
	test_assert_int_eq(e[0].serial, 12345);
	test_assert_str_eq(e[1].connector, "Virtual-1");
	test_assert_str_eq(e[1].vendor, "");
	test_assert_str_eq(r.app_id, "org.example.App");
	test_assert(!r.remembered);
	test_assert_int_eq(decode(encode_for(bus, mons, 1, "org.example.Other", true), &r), 1);
	test_assert_str_eq(r.app_id, "org.example.Other");
	test_assert(r.remembered);
	/* More entries than a session can hold: refused, not truncated. */
	for (int i = 2; i <= PORTAL_MAX_MONITORS; i++)
		mons[i] = mons[1];
	test_assert_int_eq(decode(encode(bus, mons, PORTAL_MAX_MONITORS + 1), &r), -E2BIG);
	sd_bus_flush_close_unref(bus);
}

/* Restore data as kmscast 0.1 wrote it (version 1): restored, never remembered. */
static void test_version_1_read(void)
{
	static struct portal_restore r;
	sd_bus_message *m = NULL;
	sd_bus *bus = offline_bus();

	test_assert(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "C") >= 0);
	test_assert(sd_bus_message_append(m, "a{sv}", 1, "restore_data", "(suv)", "kmscast", 1,
			    "a(ssssuu)", 1, "card0", "HDMI-A-1", "DEL", "DELL U2415", 0xa0b1,
			    12345) >= 0);
	test_assert(sd_bus_message_seal(m, 1, 0) >= 0);
	test_assert(sd_bus_message_rewind(m, true) >= 0);
	r.remembered = true;
	test_assert_int_eq(decode(m, &r), 1);
	test_assert_str_eq(r.entries[0].connector, "HDMI-A-1");
	test_assert_str_eq(r.app_id, "");
	test_assert(!r.remembered);
	sd_bus_flush_close_unref(bus);
}

/* An app id is a D-Bus name's length at most, when written and when read back. */
static void test_app_id_bounded(void)
{
	struct portal_monitor mon = monitor("card0", "Virtual-1", NULL, NULL, 0, 0);
	char long_id[PORTAL_MAX_APP_ID + 2];
	static struct portal_restore r;
	sd_bus_message *m = NULL;
	sd_bus *bus = offline_bus();

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	test_assert(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "C") >= 0);
	test_assert_int_eq(portal_restore_append(m, &mon, 1, long_id, true), -ENAMETOOLONG);
	sd_bus_message_unref(m);
	m = NULL;
	test_assert(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "C") >= 0);
	test_assert(sd_bus_message_append(m, "a{sv}", 1, "restore_data", "(suv)", "kmscast", 2,
			    "(sba(ssssuu))", long_id, 1, 1, "card0", "Virtual-1", "", "", 0, 0) >= 0);
	test_assert(sd_bus_message_seal(m, 1, 0) >= 0);
	test_assert(sd_bus_message_rewind(m, true) >= 0);
	test_assert_int_eq(decode(m, &r), -ENAMETOOLONG);
	long_id[PORTAL_MAX_APP_ID] = '\0'; /* exactly at the bound: fine */
	test_assert_int_eq(decode(encode_for(bus, &mon, 1, long_id, true), &r), 1);
	test_assert_str_eq(r.app_id, long_id);
	sd_bus_flush_close_unref(bus);
}

static void test_foreign_data_skipped(void)
{
	static struct portal_restore r;
	sd_bus_message *m = NULL;
	const char *key;
	sd_bus *bus;

	bus = offline_bus();
	/* Another backend's data (xdpw stores its own) and a wrong shape are not errors. */
	test_assert(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "C") >= 0);
	test_assert(sd_bus_message_append(m, "a{sv}", 3, "restore_data", "(suv)", "wlroots", 3,
			    "s", "HDMI-A-1", "restore_data", "(suv)", "kmscast", 2, "s", "x",
			    "restore_data", "s", "junk") >= 0);
	test_assert(sd_bus_message_seal(m, 1, 0) >= 0);
	test_assert(sd_bus_message_rewind(m, true) >= 0);
	test_assert(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
	for (int i = 0; i < 3; i++) {
		test_assert(sd_bus_message_enter_container(m, 'e', "sv") > 0);
		test_assert(sd_bus_message_read(m, "s", &key) > 0);
		test_assert_int_eq(portal_restore_read(m, &r), 0);
		test_assert(sd_bus_message_exit_container(m) >= 0);
	}
	test_assert(sd_bus_message_exit_container(m) >= 0);
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
}

static struct portal_restore_entry entry_of(const struct portal_monitor *m)
{
	struct portal_restore_entry e = {0};

	snprintf(e.card, sizeof(e.card), "%s", m->card);
	snprintf(e.connector, sizeof(e.connector), "%s", m->connector);
	if (m->has_edid) {
		snprintf(e.vendor, sizeof(e.vendor), "%s", m->edid.vendor);
		snprintf(e.name, sizeof(e.name), "%s", m->edid.name);
		e.product = m->edid.product;
		e.serial = m->edid.serial;
	}
	return e;
}

static void test_match(void)
{
	struct portal_monitor dell = monitor("card0", "HDMI-A-1", "DEL", "DELL U2415", 1, 7);
	struct portal_monitor avail[3] = {
		monitor("card0", "DP-1", "GSM", "LG", 2, 8),
		monitor("card0", "HDMI-A-1", "DEL", "DELL U2415", 1, 7),
		monitor("card1", "Virtual-1", NULL, NULL, 0, 0),
	};
	struct portal_restore_entry e = entry_of(&dell);
	struct portal_monitor out[2];

	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), 0);
	test_assert_str_eq(out[0].connector, "HDMI-A-1");
	/* Another monitor on that connector is not the one that was shared. */
	snprintf(avail[1].edid.name, sizeof(avail[1].edid.name), "OTHER");
	avail[1].edid.serial = 9;
	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), -ENOENT);
	/* The same monitor moved to another port is found by its EDID. */
	avail[0] = monitor("card0", "DP-3", "DEL", "DELL U2415", 1, 7);
	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), 0);
	test_assert_str_eq(out[0].connector, "DP-3");
	/* ... unless two monitors carry that EDID: then it is ambiguous. */
	avail[1] = monitor("card0", "DP-4", "DEL", "DELL U2415", 1, 7);
	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), -ENOENT);
	/* No EDID: connector alone, same card preferred. */
	e = entry_of(&avail[2]);
	avail[0] = monitor("card0", "Virtual-1", NULL, NULL, 0, 0);
	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), 0);
	test_assert_str_eq(out[0].card, "card1");
	/* An EDID-less entry never follows "any monitor without EDID" to another port. */
	snprintf(e.connector, sizeof(e.connector), "Virtual-9");
	test_assert_int_eq(portal_restore_match(&e, 1, avail, 3, out), -ENOENT);
	test_assert_int_eq(portal_restore_match(&e, 0, avail, 3, out), -ENOENT);
}

TEST_MAIN(TEST(test_round_trip), TEST(test_version_1_read), TEST(test_app_id_bounded),
		TEST(test_foreign_data_skipped), TEST(test_match))
