/* SPDX-License-Identifier: MIT */
/*
 * The portal-copies policy as a pure function: app id, a runtime dir holding fake Flatpak
 * instances ($XDG_RUNTIME_DIR/.flatpak/<instance>/info, as flatpak run writes them), policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portal-sandbox.h"
#include "test.h"

static char runtime[] = "/tmp/kmscast-sandbox-test-XXXXXX";
static char path[512];

static const char *at(const char *rel)
{
	snprintf(path, sizeof(path), "%s/%s", runtime, rel);
	return path;
}

static void write_file_at(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	test_assert(fd >= 0);
	test_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void write_file(const char *rel, const char *text)
{
	write_file_at(at(rel), text);
}

/* An instance as flatpak 1.14 writes it: the app's /.flatpak-info. */
static void fake_instance(const char *id, const char *info)
{
	char rel[128];

	snprintf(rel, sizeof(rel), ".flatpak/%s", id);
	test_assert(mkdir(at(rel), 0700) == 0);
	snprintf(rel, sizeof(rel), ".flatpak/%s/info", id);
	write_file(rel, info);
}

static void setup(void)
{
	test_assert(mkdtemp(runtime));
	test_assert(mkdir(at(".flatpak"), 0700) == 0);
	fake_instance("1234567890", "[Application]\n"
				    "name=org.example.Sandboxed\n"
				    "runtime=runtime/org.freedesktop.Platform/x86_64/23.08\n"
				    "\n"
				    "[Instance]\n"
				    "instance-id=1234567890\n"
				    "app-path=/var/lib/flatpak/app/org.example.Sandboxed/x86_64/stable\n");
	/* GKeyFile ignores blanks around '=', and comments. */
	fake_instance("222", "# written by hand\n[Application]\r\n  name = org.example.Spaced  \r\n");
	/* Names in other groups, and localised keys, are not the app. */
	fake_instance("333", "[Runtime]\nname=org.example.RuntimeOnly\n"
			     "[Application]\nname[de]=org.example.Localized\nruntime=org.example.Other\n");
	/* Flatpak keeps per-app dirs and lock files beside the instances. */
	test_assert(mkdir(at(".flatpak/org.example.NoInfo"), 0700) == 0);
	write_file(".flatpak/444", "not a directory");
	/* A FIFO where an info should be must not block the portal. */
	test_assert(mkdir(at(".flatpak/555"), 0700) == 0);
	test_assert(mkfifo(at(".flatpak/555/info"), 0600) == 0);
}

static void test_policy_names(void)
{
	enum portal_copies p = PORTAL_COPIES_NONE;

	test_assert_int_eq(portal_copies_parse("sandboxed", &p), 0);
	test_assert_int_eq(p, PORTAL_COPIES_SANDBOXED);
	test_assert_int_eq(portal_copies_parse("all", &p), 0);
	test_assert_int_eq(p, PORTAL_COPIES_ALL);
	test_assert_int_eq(portal_copies_parse("none", &p), 0);
	test_assert_int_eq(p, PORTAL_COPIES_NONE);
	test_assert_int_eq(portal_copies_parse("yes", &p), -EINVAL);
	test_assert_int_eq(portal_copies_parse("", &p), -EINVAL);
	test_assert_str_eq(portal_copies_name(PORTAL_COPIES_SANDBOXED), "sandboxed");
	test_assert_str_eq(portal_copies_name(PORTAL_COPIES_ALL), "all");
	test_assert_str_eq(portal_copies_name(PORTAL_COPIES_NONE), "none");
}

static void test_classify(void)
{
	test_assert_int_eq(portal_app_classify("", runtime), PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify(NULL, runtime), PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("snap.firefox", runtime), PORTAL_APP_SNAP);
	test_assert_int_eq(portal_app_classify("org.example.Sandboxed", runtime),
			PORTAL_APP_FLATPAK);
	test_assert_int_eq(portal_app_classify("org.example.Spaced", runtime), PORTAL_APP_FLATPAK);
	/* An id from a systemd scope or the host Registry (xdg-desktop-portal >= 1.18). */
	test_assert_int_eq(portal_app_classify("org.example.Host", runtime), PORTAL_APP_HOST);
	/* Whole names only. */
	test_assert_int_eq(portal_app_classify("org.example.Sandbox", runtime), PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("org.example.Sandboxed.Extra", runtime),
			PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("org.example.RuntimeOnly", runtime),
			PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("org.example.Localized", runtime), PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("org.example.Other", runtime), PORTAL_APP_HOST);
	test_assert_int_eq(portal_app_classify("org.example.NoInfo", runtime), PORTAL_APP_HOST);
	/* No Flatpak app runs: no .flatpak dir. */
	test_assert_int_eq(portal_app_classify("org.example.Sandboxed", "/nonexistent"),
			PORTAL_APP_HOST);
	/* Nowhere to look: cannot tell. */
	test_assert_int_eq(portal_app_classify("org.example.Sandboxed", NULL), -EINVAL);
	test_assert_int_eq(portal_app_classify("org.example.Sandboxed", "relative"), -EINVAL);
}

static void test_policy(void)
{
	static const struct {
		const char *app_id;
		bool sandboxed, all, none;
	} cases[] = {
		{"", false, true, false},
		{"org.example.Host", false, true, false},
		{"org.example.Sandboxed", true, true, false},
		{"snap.firefox", true, true, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *id = cases[i].app_id;

		test_assert_int_eq(portal_copies_wanted(PORTAL_COPIES_SANDBOXED, id, runtime),
				cases[i].sandboxed);
		test_assert_int_eq(portal_copies_wanted(PORTAL_COPIES_ALL, id, runtime),
				cases[i].all);
		test_assert_int_eq(portal_copies_wanted(PORTAL_COPIES_NONE, id, runtime),
				cases[i].none);
	}
	/* Cannot tell: copies (fail closed), except for the empty id of a host app. */
	test_assert(portal_copies_wanted(PORTAL_COPIES_SANDBOXED, "org.example.Host", NULL));
	test_assert(!portal_copies_wanted(PORTAL_COPIES_SANDBOXED, "", NULL));
	test_assert(!portal_copies_wanted(PORTAL_COPIES_NONE, "org.example.Host", NULL));
}

static void test_unreadable_fails_closed(void)
{
	char other[sizeof(runtime) + 8];
	char *big = malloc(PORTAL_SANDBOX_MAX_INFO + 64);

	test_assert(big);
	snprintf(other, sizeof(other), "%s.other", runtime);
	/* An info past PORTAL_SANDBOX_MAX_INFO: cannot tell, so copies for every app id. */
	memset(big, '#', PORTAL_SANDBOX_MAX_INFO + 63);
	big[PORTAL_SANDBOX_MAX_INFO + 63] = '\0';
	fake_instance("666", big);
	free(big);
	test_assert_int_eq(portal_app_classify("org.example.Host", runtime), -EFBIG);
	test_assert(portal_copies_wanted(PORTAL_COPIES_SANDBOXED, "org.example.Host", runtime));
	test_assert(unlink(at(".flatpak/666/info")) == 0);
	test_assert_int_eq(portal_app_classify("org.example.Host", runtime), PORTAL_APP_HOST);
	/* Something else where the instances should be. */
	snprintf(path, sizeof(path), "%s/.flatpak", other);
	test_assert(mkdir(other, 0700) == 0);
	write_file_at(path, "");
	test_assert_int_eq(portal_app_classify("org.example.Host", other), -ENOTDIR);
	test_assert(portal_copies_wanted(PORTAL_COPIES_SANDBOXED, "org.example.Host", other));
	test_assert(unlink(path) == 0 && rmdir(other) == 0);
	/* root reads the directory whatever its mode. */
	if (geteuid() != 0) {
		test_assert(chmod(at(".flatpak"), 0) == 0);
		test_assert_int_eq(portal_app_classify("org.example.Host", runtime), -EACCES);
		test_assert(portal_copies_wanted(PORTAL_COPIES_SANDBOXED, "org.example.Host",
				runtime));
		test_assert(chmod(at(".flatpak"), 0700) == 0);
	}
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", runtime);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", runtime);
}

int main(void)
{
	static const struct test_case cases[] = {
		TEST(test_policy_names),
		TEST(test_classify),
		TEST(test_policy),
		TEST(test_unreadable_fails_closed),
	};

	setup();
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].func();
		printf("ok %zu - %s\n", i + 1, cases[i].name);
	}
	return 0;
}
