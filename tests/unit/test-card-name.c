/* SPDX-License-Identifier: MIT */
/*
 * The card-name rule, on both sides of the trust boundary: the rule itself
 * (wire_card_name_valid), the cards the unprivileged library lists (kms_list_cards, what the
 * daemon and the plugin offer), and the names kmscast-helper's DRM backend refuses before it
 * opens anything. A name one side takes and the other refuses fails here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"
#include "kms.h"
#include "kmscast/wire.h"
#include "test.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* In ascending card number, as kms_list_cards sorts them. */
static const char *const good[] = {
	"card0", "card1", "card9", "card10", "card15", "card99", "card100", "card199", "card255"};
static const char *const bad[] = {"", "card", "card-1", "card+1", "card00", "card01", "card010",
	"card256", "card300", "card999", "card1000", "renderD128", "controlD64", "card0/",
	"../card0", "card 1", "card0 ", "Card0", "card1a", "card0x"};

static void test_rule(void)
{
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		if (!wire_card_name_valid(good[i])) {
			test_fail("\"%s\" refused", good[i]);
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		if (wire_card_name_valid(bad[i])) {
			test_fail("\"%s\" accepted", bad[i]);
		}
	}
	/* The limit is the protocol's: one past it is refused. */
	char name[HELPER_MAX_CARD_NAME];
	snprintf(name, sizeof(name), "card%d", HELPER_MAX_CARD_INDEX);
	test_assert(wire_card_name_valid(name));
	snprintf(name, sizeof(name), "card%d", HELPER_MAX_CARD_INDEX + 1);
	test_assert(!wire_card_name_valid(name));
}

static void touch(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		test_fail("cannot create %s: %m", path);
	}
	close(fd);
}

static void remove_entry(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static bool is_file_name(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL;
}

/* The unprivileged side: of a directory holding every name, exactly the good ones are cards. */
static void test_library_lists_by_rule(void)
{
	char dir[] = "/tmp/kmscast-test-XXXXXX";
	char names[N_ELEMENTS(good) + N_ELEMENTS(bad)][KMS_NAME_MAX];
	test_assert(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		touch(dir, good[i]);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		if (is_file_name(bad[i])) {
			touch(dir, bad[i]);
		}
	}

	int n = kms_list_cards(dir, names, N_ELEMENTS(names));
	for (int i = 0; i < n; i++) {
		printf("# listed %s\n", names[i]);
	}
	test_assert_int_eq(n, N_ELEMENTS(good));
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		test_assert_str_eq(names[i], good[i]);
	}

	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		remove_entry(dir, good[i]);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		if (is_file_name(bad[i])) {
			remove_entry(dir, bad[i]);
		}
	}
	test_assert_int_eq(rmdir(dir), 0);
}

/*
 * The helper's side: its DRM backend refuses a bad name with -EINVAL before opening anything,
 * and tries to open a good one. Good names of cards this host has are left out, so that the
 * test never opens a real device.
 */
static void test_helper_refuses_by_rule(void)
{
	const struct helper_backend *backend = &helper_drm_backend;
	void *state = NULL;
	test_assert_int_eq(backend->conn_create(NULL, &state), 0);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		char reason[HELPER_MAX_REASON] = "";
		dev_t devnum = 0;
		int r = backend->card_devnum(NULL, state, bad[i], &devnum, reason, sizeof(reason));
		if (r != -EINVAL || strstr(reason, "invalid card name") == NULL) {
			test_fail("helper: \"%s\" gave %d (%s), not -EINVAL", bad[i], r, reason);
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/dev/dri/%s", good[i]);
		if (access(path, F_OK) == 0) {
			printf("# %s exists here: not opened\n", path);
			continue;
		}
		char reason[HELPER_MAX_REASON] = "";
		dev_t devnum = 0;
		int r = backend->card_devnum(NULL, state, good[i], &devnum, reason, sizeof(reason));
		if (r != -ENOENT || strstr(reason, path) == NULL) {
			test_fail("helper: \"%s\" gave %d (%s), not -ENOENT", good[i], r, reason);
		}
	}
	backend->conn_destroy(NULL, state);
}

TEST_MAIN(TEST(test_rule), TEST(test_library_lists_by_rule), TEST(test_helper_refuses_by_rule))
