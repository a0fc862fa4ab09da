/* SPDX-License-Identifier: MIT */
/*
 * kmscast-helper's start-up hardening (helper/hardening.c, helper/privilege.c), each case in a
 * child process of its own: capabilities (CAP_SYS_ADMIN permitted, effective only while
 * raised) and the seccomp filter (no executable memory, no rlimit changes, only the card
 * open). A case the filter forbids must end in SIGSYS; an allowed one must exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "helper.h"
#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define CARD_OPEN_FLAGS (O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
#define SYS_ADMIN_MASK (1ull << 21)
#define SETPCAP_MASK (1ull << 8)

/* Runs fn in a child and returns its wait status. */
static int in_child(void (*fn)(void))
{
	fflush(stdout); /* or the child's exit() would print the parent's buffer again */
	fflush(stderr);
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status = 0;
	test_assert(waitpid(pid, &status, 0) == pid);
	return status;
}

static void expect_exit_0(const char *what, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		test_fail("%s: status 0x%x, expected exit 0", what, (unsigned int)status);
	}
}

static unsigned long long status_hex(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	test_assert(f != NULL);
	char line[256];
	unsigned long long value = ~0ull;
	size_t len = strlen(name);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			value = strtoull(line + len + 1, NULL, 16);
		}
	}
	fclose(f);
	return value;
}

/*
 * What the test starts with decides what it can check: root in a container may lack
 * CAP_SYS_ADMIN or CAP_SETPCAP.
 */
static void drop_and_raise(void)
{
	unsigned long long had_admin = status_hex("CapPrm") & SYS_ADMIN_MASK;
	unsigned long long had_setpcap = status_hex("CapEff") & SETPCAP_MASK;
	test_assert_int_eq(helper_drop_capabilities(), 0);
	test_assert_int_eq(status_hex("CapEff"), 0);
	test_assert_int_eq(status_hex("CapInh"), 0);
	test_assert_int_eq(status_hex("CapAmb"), 0);
	if (!had_admin) {
		test_assert_int_eq(status_hex("CapPrm"), 0);
		test_assert_int_eq(helper_privilege_raise(), -EPERM);
		test_assert(!helper_privileged());
		return;
	}
	test_assert_int_eq(status_hex("CapPrm"), SYS_ADMIN_MASK);
	if (had_setpcap) {
		test_assert_int_eq(status_hex("CapBnd"), SYS_ADMIN_MASK); /* it shrinks too */
	}
	test_assert(helper_privileged());
	for (int i = 0; i < 3; i++) {
		test_assert_int_eq(helper_privilege_raise(), 0);
		test_assert_int_eq(status_hex("CapEff"), SYS_ADMIN_MASK);
		helper_privilege_lower();
		test_assert_int_eq(status_hex("CapEff"), 0);
		test_assert_int_eq(status_hex("CapPrm"), SYS_ADMIN_MASK);
	}
	/* The helper keeps the sets it read; once they are gone, raising must still fail. */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {0};
	test_assert_int_eq(syscall(SYS_capset, &hdr, none), 0);
	test_assert_int_eq(helper_privilege_raise(), -EPERM);
	test_assert_int_eq(status_hex("CapEff"), 0);
	helper_privilege_lower();
	test_assert_int_eq(status_hex("CapEff"), 0);
}

static void test_capabilities(void)
{
	if (!(status_hex("CapPrm") & SYS_ADMIN_MASK)) {
		printf("# no CAP_SYS_ADMIN: only the unprivileged case is checked\n");
	}
	expect_exit_0("drop_and_raise", in_child(drop_and_raise));
}

/* The order of main.c: capabilities, rlimits, then the filter (NNP is libseccomp's default). */
static void harden_spawned(void)
{
	struct helper_hardening h = {.socket_mode = false};
	if (helper_drop_capabilities() < 0 || helper_set_rlimits(&h) < 0 ||
		helper_install_seccomp(&h) < 0) {
		_exit(90);
	}
}

/*
 * After the filter only the raw exit_group is safe for reporting: exit() flushes stdio, and
 * AddressSanitizer precedes every call of a noreturn function (_exit too) with
 * __asan_handle_no_return, which calls sigaltstack. Hence not noreturn, and a loop instead.
 */
static void exit_raw(int code)
{
	for (;;) {
		syscall(SYS_exit_group, code);
	}
}

static void mmap_exec(void)
{
	harden_spawned();
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	exit_raw(p == MAP_FAILED ? 1 : 2);
}

static void mmap_exec_only(void)
{
	harden_spawned();
	void *p = mmap(NULL, 4096, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	exit_raw(p == MAP_FAILED ? 1 : 2);
}

static void mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	harden_spawned();
	exit_raw(mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0 ? 1 : 2);
}

static void set_rlimit(void)
{
	harden_spawned();
	struct rlimit rl = {.rlim_cur = 1, .rlim_max = 1};
	exit_raw(setrlimit(RLIMIT_NOFILE, &rl) < 0 ? 1 : 2);
}

static void raw_prlimit(void)
{
	harden_spawned();
	struct rlimit rl = {.rlim_cur = 1, .rlim_max = 1};
	exit_raw(syscall(SYS_prlimit64, 0, RLIMIT_MEMLOCK, &rl, NULL) < 0 ? 1 : 2);
}

static void open_read_only(void)
{
	harden_spawned();
	exit_raw(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC) < 0 ? 1 : 2);
}

static void open_with_creat(void)
{
	harden_spawned();
	exit_raw(syscall(SYS_openat, AT_FDCWD, "/dev/null", CARD_OPEN_FLAGS | O_CREAT, 0600) < 0
			 ? 1
			 : 2);
}

static void open_relative_to_dirfd(void)
{
	int dev = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	harden_spawned();
	exit_raw(syscall(SYS_openat, dev, "null", CARD_OPEN_FLAGS) < 0 ? 1 : 2);
}

/* What the helper does after the filter must still work. */
static void allowed_calls(void)
{
	harden_spawned();
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 1 << 20) < 0) {
		exit_raw(10);
	}
	int fd = open("/dev/null", CARD_OPEN_FLAGS); /* the card open's flags */
	if (fd < 0 || close(fd) < 0) {
		exit_raw(11);
	}
	/* Raise fails with EPERM when not permitted; either way capget/capset get through. */
	if (helper_privilege_raise() == 0) {
		helper_privilege_lower();
	}
#if !SANITIZED
	/* glibc's malloc and free (AddressSanitizer replaces them: not checked there). */
	char *m = malloc(256 * 1024);
	if (m == NULL) {
		exit_raw(12);
	}
	free(m);
#endif
	exit_raw(0);
}

static void test_seccomp(void)
{
	const struct {
		const char *name;
		void (*fn)(void);
	} killed[] = {
		{"mmap PROT_READ|PROT_EXEC", mmap_exec},
		{"mmap PROT_EXEC", mmap_exec_only},
		{"mprotect PROT_EXEC", mprotect_exec},
		{"setrlimit", set_rlimit},
		{"prlimit64", raw_prlimit},
		{"openat O_RDONLY", open_read_only},
		{"openat O_CREAT", open_with_creat},
		{"openat relative to a directory fd", open_relative_to_dirfd},
	};
	for (size_t i = 0; i < sizeof(killed) / sizeof(killed[0]); i++) {
		int status = in_child(killed[i].fn);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS) {
			test_fail("%s: status 0x%x, expected death by SIGSYS", killed[i].name,
				(unsigned int)status);
		}
	}
	expect_exit_0("allowed calls", in_child(allowed_calls));
}

TEST_MAIN(TEST(test_capabilities), TEST(test_seccomp))
