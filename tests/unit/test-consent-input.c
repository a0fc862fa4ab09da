/* SPDX-License-Identifier: MIT */
/* kmscast-consent's input: the monitor list's limits and the request's environment. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "consent/consent-input.h"
#include "test.h"

static struct consent_request req;
static char err[CONSENT_MAX_ERROR];

static int parse(const char *text)
{
	err[0] = '\0';
	return consent_parse_monitors(&req, text, strlen(text), err, sizeof(err));
}

static void test_lines(void)
{
	test_assert_int_eq(parse("card0:HDMI-A-1\tDell U2415 1920x1200\ncard1:Virtual-1\t1024x768"),
			0);
	test_assert_int_eq(req.n_monitors, 2);
	test_assert_str_eq(req.monitors[0].id, "card0:HDMI-A-1");
	test_assert_str_eq(req.monitors[0].description, "Dell U2415 1920x1200");
	/* The last line may lack its newline; a line without a description is allowed. */
	test_assert_str_eq(req.monitors[1].description, "1024x768");
	test_assert_int_eq(parse("card0:DP-1\n"), 0);
	test_assert_str_eq(req.monitors[0].description, "");
	/* UTF-8 in EDID names is shown as it is. */
	test_assert_int_eq(parse("card0:DP-1\tÉcran 800x600\n"), 0);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "\n", "card0\tx\n", ":DP-1\tx\n", "card0:\tx\n", "card0:DP 1\tx\n",
		"card0:DP-1\r\n", "card0:DP-1\tbell\a\n", "card0:DP-1\tdel\x7f\n",
		"card0:DP-1\t\xff\xfe\n", "card0:DP-1\tok\n\ncard0:DP-2\tok\n",
		"card0:DP-1\tok\ncard0:DP-2\ttab\there\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -EINVAL)
			test_fail("case %zu accepted", i);
		test_assert(err[0] != '\0');
	}
}

static void test_limits(void)
{
	char line[512], text[CONSENT_MAX_MONITORS * 32 + 64] = "";
	char name[KMS_NAME_MAX + 1];

	/* Kernel names below KMS_NAME_MAX bytes; descriptions below CONSENT_MAX_DESCRIPTION. */
	memset(name, 'A', sizeof(name));
	name[KMS_NAME_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "card0:%s\tx\n", name);
	test_assert_int_eq(parse(line), 0);
	name[KMS_NAME_MAX - 1] = 'A';
	name[KMS_NAME_MAX] = '\0';
	snprintf(line, sizeof(line), "card0:%s\tx\n", name);
	test_assert_int_eq(parse(line), -EINVAL);
	memset(line, 'd', sizeof(line));
	memcpy(line, "card0:DP-1\t", 11);
	line[11 + CONSENT_MAX_DESCRIPTION - 1] = '\0';
	test_assert_int_eq(parse(line), 0);
	line[11 + CONSENT_MAX_DESCRIPTION - 1] = 'd';
	line[11 + CONSENT_MAX_DESCRIPTION] = '\0';
	test_assert_int_eq(parse(line), -EINVAL);

	for (int i = 0; i < CONSENT_MAX_MONITORS; i++) {
		snprintf(line, sizeof(line), "card0:DP-%d\tm\n", i);
		strcat(text, line);
	}
	test_assert_int_eq(parse(text), 0);
	test_assert_int_eq(req.n_monitors, CONSENT_MAX_MONITORS);
	strcat(text, "card1:DP-1\tone too many\n");
	test_assert_int_eq(parse(text), -E2BIG);
}

/* Reads len bytes back through consent_read_input, from a memfd: a pipe holds only 64 KiB. */
static long read_back(size_t len, char *buf, size_t size)
{
	int fd = memfd_create("consent-input", MFD_CLOEXEC);
	char chunk[4096];
	long res;

	test_assert(fd >= 0);
	memset(chunk, 'x', sizeof(chunk));
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

		test_assert(write(fd, chunk, n) == (ssize_t)n);
		done += n;
	}
	test_assert(lseek(fd, 0, SEEK_SET) == 0);
	res = consent_read_input(fd, buf, size);
	close(fd);
	return res;
}

static void test_read_bound(void)
{
	static char buf[CONSENT_MAX_INPUT + 1];

	test_assert_int_eq(read_back(0, buf, sizeof(buf)), 0);
	test_assert_int_eq(read_back(CONSENT_MAX_INPUT, buf, sizeof(buf)), CONSENT_MAX_INPUT);
	test_assert_int_eq(buf[CONSENT_MAX_INPUT], '\0');
	test_assert_int_eq(read_back(CONSENT_MAX_INPUT + 1, buf, sizeof(buf)), -EFBIG);
}

static int env(const char *app_id, const char *multiple, const char *persist)
{
	err[0] = '\0';
	return consent_parse_env(&req, app_id, multiple, persist, err, sizeof(err));
}

static void test_env(void)
{
	char long_id[CONSENT_MAX_APP_ID + 1];

	test_assert_int_eq(env(NULL, NULL, NULL), 0);
	test_assert_str_eq(req.app_id, "");
	test_assert(!req.multiple);
	test_assert_int_eq(req.persist, 0);
	test_assert_int_eq(env("org.example.App", "1", "2"), 0);
	test_assert_str_eq(req.app_id, "org.example.App");
	test_assert(req.multiple);
	test_assert_int_eq(req.persist, 2);
	test_assert_int_eq(env("", "", ""), 0);
	test_assert_int_eq(env(NULL, "2", NULL), -EINVAL);
	test_assert_int_eq(env(NULL, "true", NULL), -EINVAL);
	test_assert_int_eq(env(NULL, NULL, "3"), -EINVAL);
	test_assert_int_eq(env(NULL, NULL, "01"), -EINVAL);
	test_assert_int_eq(env("evil\napp", NULL, NULL), -EINVAL);
	memset(long_id, 'a', sizeof(long_id));
	long_id[CONSENT_MAX_APP_ID - 1] = '\0';
	test_assert_int_eq(env(long_id, NULL, NULL), 0);
	long_id[CONSENT_MAX_APP_ID - 1] = 'a';
	long_id[CONSENT_MAX_APP_ID] = '\0';
	test_assert_int_eq(env(long_id, NULL, NULL), -EINVAL);
}

TEST_MAIN(TEST(test_lines), TEST(test_malformed), TEST(test_limits), TEST(test_read_bound),
		TEST(test_env))
