/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "kms.h"
#include "list.h"
#include "test.h"

static void touch(const char *dir, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	test_assert(fd >= 0);
	close(fd);
}

static void test_listing(void)
{
	char dir[] = "/tmp/kmscast-test-XXXXXX";
	char names[3][KMS_NAME_MAX];
	static const char *files[] = {"card10", "card2", "renderD128", "card0", "cardX", "by-path"};

	test_assert(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		touch(dir, files[i]);

	test_assert_int_eq(kms_list_cards(dir, names, 3), 3);
	test_assert_str_eq(names[0], "card0");
	test_assert_str_eq(names[1], "card2");
	test_assert_str_eq(names[2], "card10");
	test_assert_int_eq(kms_list_cards(dir, names, 2), -E2BIG);

	/* Regular files are not DRM devices: opening one must fail, not misreport. */
	{
		char path[256];
		struct kms_device *dev = NULL;

		snprintf(path, sizeof(path), "%s/card0", dir);
		test_assert(kms_device_open(path, &dev) < 0);
		test_assert(dev == NULL);
	}

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	test_assert_int_eq(kms_list_cards(dir, names, 3), -ENOENT);
}

/* With no card, --list says so and fails, in both output forms. */
static void test_list_without_cards(void)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	test_assert_int_eq(kmscast_list(f, "/nonexistent-dri", true), -ENODEV);
	fclose(f);
	test_assert_str_eq(buf, "{\"cards\":[]}\n");
	free(buf);
}

TEST_MAIN(TEST(test_listing), TEST(test_list_without_cards))
