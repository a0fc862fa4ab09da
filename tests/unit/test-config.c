/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-file.h"
#include "test.h"

static int parse(struct kmscast_config *cfg, const char *text)
{
	config_init(cfg, "/run/kmscast/helper.sock");
	return config_parse(cfg, text, strlen(text), "test");
}

static void test_defaults(void)
{
	struct kmscast_config cfg;

	test_assert_int_eq(parse(&cfg, ""), 0);
	test_assert(cfg.portal);
	test_assert_int_eq(cfg.n_monitors, 0);
	test_assert_str_eq(cfg.chooser, "");
	test_assert_str_eq(cfg.portal_desktop, "kmscast");
	test_assert_int_eq(cfg.helper_mode, CONFIG_HELPER_SPAWN);
	test_assert_str_eq(cfg.helper_socket, "/run/kmscast/helper.sock");
	/* Sandboxed apps get copies unless the file says otherwise. */
	test_assert_int_eq(cfg.portal_copies, PORTAL_COPIES_SANDBOXED);
	/* The portal asks before sharing unless the file says never. */
	test_assert_int_eq(cfg.consent, CONFIG_CONSENT_ASK);
	test_assert(cfg.shared_nodes);
	test_assert(config_monitor_published(&cfg, "card0", "HDMI-A-1", NULL));
}

static void test_all_keys(void)
{
	struct kmscast_config cfg;
	const char *text = "# comment\n"
			   "\n"
			   "  monitors = HDMI-A-1, card1:DP-2 ,DELL U2415\n"
			   "portal=false\r\n"
			   "chooser = wofi --dmenu | cut -f1\n"
			   "portal-desktop = GNOME;sway\n"
			   "helper = socket\n"
			   "helper-path = /opt/kmscast-helper\n"
			   "resend-ms = 0\n"
			   "portal-copies = all\n"
			   "consent = never\n"
			   "shared-nodes = false\n"
			   "helper-socket = /run/other.sock";

	test_assert_int_eq(parse(&cfg, text), 0);
	test_assert_int_eq(cfg.n_monitors, 3);
	test_assert_str_eq(cfg.monitors[0], "HDMI-A-1");
	test_assert_str_eq(cfg.monitors[1], "card1:DP-2");
	test_assert_str_eq(cfg.monitors[2], "DELL U2415");
	test_assert(!cfg.portal);
	/* '=' inside a value belongs to the value; only the first one splits. */
	test_assert_str_eq(cfg.chooser, "wofi --dmenu | cut -f1");
	test_assert_str_eq(cfg.portal_desktop, "GNOME;sway");
	test_assert_int_eq(cfg.helper_mode, CONFIG_HELPER_SOCKET);
	test_assert_str_eq(cfg.helper_path, "/opt/kmscast-helper");
	test_assert_str_eq(cfg.helper_socket, "/run/other.sock");
	test_assert_int_eq(cfg.resend_ms, 0);
	test_assert_int_eq(cfg.portal_copies, PORTAL_COPIES_ALL);
	test_assert_int_eq(cfg.consent, CONFIG_CONSENT_NEVER);
	test_assert(!cfg.shared_nodes);
	test_assert_int_eq(parse(&cfg, "shared-nodes = true\n"), 0);
	test_assert(cfg.shared_nodes);
	test_assert_int_eq(parse(&cfg, "consent = ask\n"), 0);
	test_assert_int_eq(cfg.consent, CONFIG_CONSENT_ASK);
	test_assert_int_eq(parse(&cfg, "portal-copies = none\n"), 0);
	test_assert_int_eq(cfg.portal_copies, PORTAL_COPIES_NONE);
	test_assert_int_eq(parse(&cfg, "portal-copies=sandboxed\n"), 0);
	test_assert_int_eq(cfg.portal_copies, PORTAL_COPIES_SANDBOXED);
	test_assert_int_eq(parse(&cfg, "resend-ms = 200\n"), 0);
	test_assert_int_eq(cfg.resend_ms, 200);
	test_assert_int_eq(parse(&cfg, ""), 0);
	test_assert_int_eq(cfg.resend_ms, -1);
}

static void test_monitor_match(void)
{
	struct kmscast_config cfg;

	test_assert_int_eq(parse(&cfg, "monitors = HDMI-A-1, card1:DP-2, DELL U2415\n"), 0);
	test_assert(config_monitor_published(&cfg, "card0", "HDMI-A-1", NULL));
	test_assert(config_monitor_published(&cfg, "card3", "HDMI-A-1", "X"));
	test_assert(config_monitor_published(&cfg, "card1", "DP-2", NULL));
	/* card:connector is exact: DP-2 of another card is not it. */
	test_assert(!config_monitor_published(&cfg, "card0", "DP-2", NULL));
	test_assert(!config_monitor_published(&cfg, "card10", "DP-2", NULL));
	test_assert(config_monitor_published(&cfg, "card0", "eDP-1", "DELL U2415"));
	test_assert(!config_monitor_published(&cfg, "card0", "eDP-1", ""));
	test_assert(!config_monitor_published(&cfg, "card0", "eDP-1", NULL));
	test_assert_int_eq(parse(&cfg, "monitors = HDMI-A-1\nmonitors = all\n"), 0);
	test_assert_int_eq(cfg.n_monitors, 0);
	test_assert(config_monitor_published(&cfg, "card0", "eDP-1", NULL));
}

static void test_errors(void)
{
	struct kmscast_config cfg;
	char big[CONFIG_MAX_LINE + 16];
	char list[40 * CONFIG_MAX_MONITORS];

	test_assert_int_eq(parse(&cfg, "bogus = 1\n"), -ENOENT);
	test_assert_int_eq(parse(&cfg, "portal\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "portal = maybe\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "helper = sudo\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "resend-ms = -1\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "resend-ms = 60001\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "resend-ms = 5x\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "resend-ms =\n"), -EINVAL);
	/* A typo must not silently keep (or drop) the copies. */
	test_assert_int_eq(parse(&cfg, "portal-copies = yes\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "consent = no\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "shared-nodes = off\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "consent = Never\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "portal-copies = Sandboxed\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "portal-copies =\n"), -EINVAL);
	/* UseIn goes into a key file: a newline or '[' must not get there. */
	test_assert_int_eq(parse(&cfg, "portal-desktop = a]b\n"), -EINVAL);
	test_assert_int_eq(parse(&cfg, "portal-desktop =\n"), -EINVAL);
	test_assert_str_eq(cfg.portal_desktop, "kmscast");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "chooser=", 8);
	test_assert_int_eq(parse(&cfg, big), -E2BIG);
	list[0] = '\0';
	for (int i = 0; i <= CONFIG_MAX_MONITORS; i++)
		strcat(list, i ? ",DP-1" : "monitors = DP-1");
	test_assert_int_eq(parse(&cfg, list), -E2BIG);
	test_assert_int_eq(cfg.n_monitors, 0); /* a failed list leaves the old one */
	test_assert_int_eq(config_parse(&cfg, "portal = true\0x", 15, "nul"), -EINVAL);
}

static void test_overrides_and_file(void)
{
	char dir[] = "/tmp/kmscast-config-XXXXXX";
	char path[512], found[512], home_cfg[256];
	struct config_override over[] = {{"monitors", "DP-1"}, {"portal", "false"},
			{"portal-copies", "none"}};
	struct kmscast_config cfg;
	FILE *f;

	test_assert(mkdtemp(dir));
	snprintf(home_cfg, sizeof(home_cfg), "%s/home/.config/kmscast", dir);
	snprintf(path, sizeof(path), "%s/home", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/home/.config", dir);
	mkdir(path, 0700);
	mkdir(home_cfg, 0700);
	snprintf(path, sizeof(path), "%s/kmscast.conf", home_cfg);
	f = fopen(path, "w");
	test_assert(f);
	fputs("monitors = HDMI-A-1\nchooser = true\nportal-copies = all\n", f);
	fclose(f);

	/* $HOME/.config when XDG_CONFIG_HOME is unset; a relative XDG dir is ignored. */
	snprintf(home_cfg, sizeof(home_cfg), "%s/home", dir);
	test_assert_int_eq(config_locate(NULL, home_cfg, "relative:/nonexistent", found,
					   sizeof(found)),
			0);
	test_assert_str_eq(found, path);
	test_assert_int_eq(config_locate("/nonexistent", NULL, "/also-not", found, sizeof(found)),
			-ENOENT);
	snprintf(home_cfg, sizeof(home_cfg), "%s/home/.config", dir);
	test_assert_int_eq(config_locate("/nonexistent", NULL, home_cfg, found, sizeof(found)), 0);
	test_assert_str_eq(found, path);

	config_init(&cfg, NULL);
	test_assert_int_eq(config_load(&cfg, path, over, 3), 0);
	test_assert_str_eq(cfg.source, path);
	test_assert_str_eq(cfg.chooser, "true");
	test_assert_int_eq(cfg.n_monitors, 1);
	test_assert_str_eq(cfg.monitors[0], "DP-1"); /* the command line wins */
	test_assert(!cfg.portal);
	test_assert_int_eq(cfg.portal_copies, PORTAL_COPIES_NONE); /* --portal-copies none */
	over[0].key = "nonsense";
	test_assert_int_eq(config_load(&cfg, path, over, 1), -ENOENT);
	snprintf(found, sizeof(found), "%s/missing.conf", dir);
	test_assert_int_eq(config_load(&cfg, found, NULL, 0), -ENOENT);

	unlink(path);
	snprintf(home_cfg, sizeof(home_cfg), "%s/home/.config/kmscast", dir);
	rmdir(home_cfg);
	snprintf(path, sizeof(path), "%s/home/.config", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/home", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_portal_file(void)
{
	struct kmscast_config cfg;
	char buf[512] = {0};
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	test_assert_int_eq(parse(&cfg, "portal-desktop = GNOME;sway\n"), 0);
	test_assert_int_eq(config_write_portal_file(&cfg, f), 0);
	fclose(f);
	test_assert_str_eq(buf, "[portal]\n"
				"DBusName=org.freedesktop.impl.portal.desktop.kmscast\n"
				"Interfaces=org.freedesktop.impl.portal.ScreenCast;\n"
				"UseIn=GNOME;sway;\n");
}

TEST_MAIN(TEST(test_defaults), TEST(test_all_keys), TEST(test_monitor_match), TEST(test_errors),
		TEST(test_overrides_and_file), TEST(test_portal_file))
