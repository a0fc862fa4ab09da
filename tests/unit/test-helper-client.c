/* SPDX-License-Identifier: MIT */
/*
 * The client library against the real kmscast-helper binary (HELPER_EXE), spawned without
 * any DRM device: the build host has no /dev/dri, so exports fail with the helper's error
 * reply, which is what most of these tests check. The same binary doubles as a fake helper
 * (when started as fake-helper-*) that stays silent or dies in the middle of a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "config.h"
#include "helper-client.h"
#include "helper.h"
#include "test-helper-util.h"

static char self_exe[PATH_MAX];
static char tmpdir[PATH_MAX / 2];

static struct helper_client *make_client(const char *path, int timeout_ms)
{
	struct helper_client_options opts = {
		.mode = HELPER_MODE_SPAWN,
		.helper_path = path,
		.timeout_ms = timeout_ms,
	};
	struct helper_client *client = NULL;
	test_assert_int_eq(helper_client_create(&opts, &client), 0);
	return client;
}

/* "Name:\tvalue" from /proc/<pid>/status, parsed as hex or decimal. */
static unsigned long long status_field(int pid, const char *name, int base)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	test_assert(f != NULL);
	unsigned long long value = ~0ull;
	size_t len = strlen(name);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			value = strtoull(line + len + 1, NULL, base);
		}
	}
	fclose(f);
	return value;
}

static void test_handshake_and_hardening(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	test_assert(pid > 0);
	test_assert_int_eq(status_field(pid, "NoNewPrivs", 10), 1);
	test_assert_int_eq(status_field(pid, "Seccomp", 10), 2);
	/* CAP_SYS_ADMIN permitted (or nothing), effective only inside an export's GETFB2. */
	unsigned long long prm = status_field(pid, "CapPrm", 16);
	test_assert(prm == (1ull << 21) || prm == 0);
	test_assert_int_eq(status_field(pid, "CapEff", 16), 0);
	test_assert_int_eq(status_field(pid, "CapAmb", 16), 0);
	if (geteuid() == 0) {
		test_assert_int_eq(prm, 1ull << 21);
		/* Started by root the helper has CAP_SETPCAP and empties the bounding set. */
		test_assert_int_eq(status_field(pid, "CapBnd", 16), 1ull << 21);
	}
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
	test_assert(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD); /* reaped */
}

static void test_failed_exports_keep_connection(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	struct helper_fb fb;
	memset(&fb, 0, sizeof(fb));
	test_assert_int_eq(
		helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb), -ENOENT);
	test_assert(strstr(helper_client_last_error(client), "/dev/dri/card0") != NULL);
	int pid = helper_client_helper_pid(client);
	test_assert_int_eq(
		helper_client_export(client, "../x", 1, KMSCAST_PLANE_PRIMARY, &fb), -EINVAL);
	test_assert(strstr(helper_client_last_error(client), "invalid card name") != NULL);
	test_assert_int_eq(
		helper_client_export(client, "card300", 1, KMSCAST_PLANE_CURSOR, &fb), -EINVAL);
	test_assert_int_eq(helper_client_helper_pid(client), pid); /* same helper throughout */
	test_assert_int_eq(fb.n_fds, 0);
	test_assert_int_eq(fb.fds[0], -1);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

static int count_pid_fds(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	int n = 0;
	DIR *dir = opendir(path);
	if (dir == NULL) {
		return -1; /* not ours to look at (non-dumpable helper, we are not root) */
	}
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(dir);
	return n;
}

static void test_many_requests_flat_fds(void)
{
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	struct helper_fb fb = {.fds = {-1, -1, -1, -1}};
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	int before = count_fds(), helper_before = count_pid_fds(pid);
	for (int i = 0; i < 2000; i++) {
		int r = helper_client_export(
			client, i % 2 ? "card0" : "card7", 1, KMSCAST_PLANE_PRIMARY, &fb);
		test_assert_int_eq(r, -ENOENT);
	}
	test_assert_int_eq(count_fds(), before);
	test_assert_int_eq(count_pid_fds(pid), helper_before);
	test_assert_int_eq(helper_client_helper_pid(client), pid);
	helper_client_destroy(client);
}

static void test_respawn_after_kill(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	struct helper_fb fb = {.fds = {-1, -1, -1, -1}};
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	test_assert(kill(pid, SIGKILL) == 0);
	usleep(50 * 1000);
	test_assert_int_eq(helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb),
		-ENOENT); /* an answer from a new helper */
	int pid2 = helper_client_helper_pid(client);
	test_assert(pid2 > 0 && pid2 != pid);
	test_assert(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

static char *fake_path(const char *mode)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/fake-helper-%s", tmpdir, mode);
	unlink(path);
	test_assert(symlink(self_exe, path) == 0);
	return path;
}

static void test_timeout(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(fake_path("silent"), 300);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_assert_int_eq(helper_client_connect(client), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	test_assert(ms >= 250 && ms < 2000);
	test_assert_int_eq(helper_client_helper_pid(client), 0);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

/* The helper dies after reading the request: the client re-spawns and retries once. */
static void test_helper_dies_mid_request(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(fake_path("die"), 2000);
	struct helper_fb fb = {.fds = {-1, -1, -1, -1}};
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	test_assert_int_eq(helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb),
		-ENOENT); /* the real helper's answer, after the fake one died */
	test_assert(helper_client_helper_pid(client) != pid);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

/* Whatever a broken helper sends, the client closes every fd it did not hand out. */
static void test_hostile_replies(void)
{
	const char *modes[] = {"fds-on-error", "too-many-fds", "fd-count"};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int before = count_fds();
		struct helper_client *client = make_client(fake_path(modes[i]), 2000);
		struct helper_fb fb;
		for (int j = 0; j < 3; j++) {
			int r = helper_client_export(
				client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb);
			if (r != -EPROTO) {
				test_fail("%s: export returned %d (%s)", modes[i], r,
					helper_client_last_error(client));
			}
			test_assert_int_eq(fb.n_fds, 0);
			test_assert_int_eq(fb.fds[0], -1);
			test_assert_int_eq(helper_client_helper_pid(client), 0); /* dropped */
		}
		helper_client_destroy(client);
		test_assert_int_eq(count_fds(), before);
	}
}

static long fs_type_of(int fd)
{
	struct statfs st;
	test_assert(fstatfs(fd, &st) == 0);
	return (long)st.f_type;
}

/* An export through fake helper mode; checks that a failure leaves no fd behind. */
static int export_from(const char *mode, struct helper_fb *fb)
{
	int before = count_fds();
	struct helper_client *client = make_client(fake_path(mode), 2000);
	int r = helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, fb);
	if (r < 0) {
		test_assert_int_eq(fb->n_fds, 0);
		test_assert_int_eq(fb->fds[0], -1);
		test_assert_int_eq(helper_client_helper_pid(client), 0); /* dropped */
		if (strstr(helper_client_last_error(client), "is not a dma-buf") == NULL) {
			test_fail("%s: %d (%s)", mode, r, helper_client_last_error(client));
		}
	}
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before + (int)fb->n_fds);
	return r;
}

/*
 * Only dma-bufs are taken from the helper. The host has no dma-buf exporter, so the positive
 * case lets memfds pass through the test hook: the same reply is then accepted, which shows
 * the refusals below come from the fd's kind and nothing else.
 */
static void test_non_dmabuf_refused(void)
{
	int memfd = memfd_create("probe", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	long memfd_fs = fs_type_of(memfd);
	close(memfd);
	struct helper_fb fb;

	helper_client_test_accept_fs_type = 0;
	test_assert_int_eq(export_from("memfd-fb", &fb), -EPROTO);
	test_assert_int_eq(export_from("pipe-fb", &fb), -EPROTO);

	helper_client_test_accept_fs_type = memfd_fs;
	test_assert_int_eq(export_from("memfd-fb", &fb), 0);
	test_assert_int_eq(fb.n_fds, 1);
	test_assert_int_eq(fs_type_of(fb.fds[0]), memfd_fs);
	helper_fb_finish(&fb);
	test_assert_int_eq(export_from("pipe-fb", &fb), -EPROTO);
	/* One good fd does not carry a bad one: both are closed. */
	test_assert_int_eq(export_from("mixed-fb", &fb), -EPROTO);
	helper_client_test_accept_fs_type = 0;
}

/* Never spawns a helper to ask: a new connection has no record of any FB. */
static void test_check_not_connected(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	test_assert_int_eq(helper_client_check(client, "card0", 42), -ENOTCONN);
	test_assert_int_eq(helper_client_helper_pid(client), 0);
	test_assert(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD); /* nothing spawned */
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

/*
 * The real helper: no record of an FB it did not export (so -ESTALE, the card not even
 * opened: /dev/dri does not exist here), through its seccomp filter; the connection stays.
 */
static void test_check_real_helper(void)
{
	int before = count_fds();
	struct helper_client *client = make_client(HELPER_EXE, 2000);
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	test_assert_int_eq(helper_client_check(client, "card0", 42), -ESTALE);
	if (strstr(helper_client_last_error(client), "not exported on this connection") == NULL) {
		test_fail("reason: %s", helper_client_last_error(client));
	}
	test_assert_int_eq(helper_client_check(client, "card01", 42), -EINVAL);
	test_assert_int_eq(helper_client_check(client, "card7", 0), -ESTALE);
	test_assert_int_eq(helper_client_helper_pid(client), pid);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

/*
 * One check against fake helper mode, whose reason must contain what; *kept says whether the
 * connection stayed. Never a new helper: a check does not reconnect.
 */
static int check_with(const char *mode, const char *what, bool *kept)
{
	int before = count_fds();
	struct helper_client *client = make_client(fake_path(mode), 2000);
	test_assert_int_eq(helper_client_connect(client), 0);
	int pid = helper_client_helper_pid(client);
	int r = helper_client_check(client, "card0", 42);
	int pid_after = helper_client_helper_pid(client);
	test_assert(pid_after == pid || pid_after == 0);
	*kept = pid_after == pid;
	if (r < 0 && strstr(helper_client_last_error(client), what) == NULL) {
		test_fail("%s: reason \"%s\" does not mention \"%s\"", mode,
			helper_client_last_error(client), what);
	}
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before); /* an fd that came with SAME is closed */
	return r;
}

static void test_check_replies(void)
{
	bool kept = false;
	test_assert_int_eq(check_with("check-same", "", &kept), 0);
	test_assert(kept);
	test_assert_int_eq(check_with("check-stale", "another buffer now", &kept), -ESTALE);
	test_assert(kept);
	test_assert_int_eq(check_with("check-other", "SAME for fb 43", &kept), -EPROTO);
	test_assert(!kept);
	/* An fd on SAME: refused as not a dma-buf, and, let through that check, as an fd. */
	test_assert_int_eq(check_with("check-same-fd", "not a dma-buf", &kept), -EPROTO);
	test_assert(!kept);
	int memfd = memfd_create("probe", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	helper_client_test_accept_fs_type = fs_type_of(memfd);
	close(memfd);
	test_assert_int_eq(
		check_with("check-same-fd", "fds on a reply without buffers", &kept), -EPROTO);
	test_assert(!kept);
	helper_client_test_accept_fs_type = 0;
	/* Dropped, not retried on a new connection: that one would have no record. */
	test_assert_int_eq(
		check_with("check-hang-up", "closed the connection", &kept), -ECONNRESET);
	test_assert(!kept);
}

static void test_missing_helper(void)
{
	int before = count_fds();
	struct helper_client *client = make_client("/nonexistent/kmscast-helper", 500);
	struct helper_fb fb = {.fds = {-1, -1, -1, -1}};
	test_assert_int_eq(
		helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb), -ENOENT);
	test_assert(strstr(helper_client_last_error(client), "cannot run") != NULL);
	helper_client_destroy(client);
	test_assert_int_eq(count_fds(), before);
}

/*
 * A copy of the helper in our tmpdir, for another uid to run: the build tree may lie where
 * that uid cannot reach, e.g. a clone under /root, which is 0700 on Debian.
 */
static const char *helper_copy_for_other_uids(void)
{
	static char path[PATH_MAX];
	char buf[65536];
	ssize_t n;
	snprintf(path, sizeof(path), "%s/kmscast-helper", tmpdir);
	int in = open(HELPER_EXE, O_RDONLY | O_CLOEXEC);
	test_assert(in >= 0);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	test_assert(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		test_assert(write(out, buf, (size_t)n) == n);
	}
	test_assert(n == 0);
	close(in);
	test_assert(close(out) == 0);
	/* mkdtemp made it 0700: let other uids through to the copy. */
	test_assert(chmod(tmpdir, 0711) == 0);
	return path;
}

/* Spawned mode refuses a peer with another uid (needs root to make one). */
static void test_other_uid_refused(void)
{
	if (geteuid() != 0) {
		printf("# skipped: needs root to run the helper as another uid\n");
		return;
	}
	const char *helper = helper_copy_for_other_uids();
	int sv[2];
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		dup2(sv[1], 3);
		if (setgid(65534) < 0 || setuid(65534) < 0) {
			_exit(99);
		}
		execl(helper, "kmscast-helper", "--fd", "3", (char *)NULL);
		_exit(98);
	}
	close(sv[1]);
	struct helper_msg_error err;
	int n = recv_record(sv[0], &err, sizeof(err), 5000, NULL);
	if (n != (int)sizeof(err)) {
		int status = 0;
		waitpid(pid, &status, 0);
		/* 99: setgid/setuid failed; 98: exec failed. */
		test_fail("no error reply from %s as uid 65534 (%d); it ended with status 0x%x",
			helper, n, status);
	}
	test_assert_int_eq(err.hdr.type, HELPER_MSG_ERROR);
	test_assert_int_eq(err.error, -EACCES);
	test_assert(strstr(err.reason, "peer uid 0 is not the helper's uid 65534") != NULL);
	int status = 0;
	test_assert(waitpid(pid, &status, 0) == pid);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	close(sv[0]);
}

/*
 * In a forked child of root: become uid/gid 65534 with only the supplementary groups given,
 * keep CAP_SYS_ADMIN as an ambient capability (what a file capability would give a
 * non-member if the helper were installed 0755), and exec helper on fd 3.
 */
static void exec_privileged_as_nobody(const char *helper, int fd, const gid_t *groups, size_t n)
{
	dup2(fd, 3);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(n, groups) < 0 ||
		setgid(65534) < 0 || setuid(65534) < 0) {
		_exit(99);
	}
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
	data[0].permitted = data[0].inheritable = 1u << CAP_SYS_ADMIN;
	if (syscall(SYS_capset, &hdr, data) < 0 ||
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) < 0) {
		_exit(97);
	}
	execl(helper, "kmscast-helper", "--fd", "3", (char *)NULL);
	_exit(98);
}

/* Runs the helper as above and returns the error record it sends before exiting with 1. */
static struct helper_msg_error refusal_as_nobody(const gid_t *groups, size_t n)
{
	const char *helper = helper_copy_for_other_uids();
	int sv[2];
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		exec_privileged_as_nobody(helper, sv[1], groups, n);
	}
	close(sv[1]);
	struct helper_msg_error err;
	int r = recv_record(sv[0], &err, sizeof(err), 5000, NULL);
	int status = 0;
	test_assert(waitpid(pid, &status, 0) == pid);
	if (r != (int)sizeof(err)) {
		/* 99: setuid and co. failed; 98: exec failed; 97: capset or ambient failed. */
		test_fail("no error reply from %s (%d); it ended with status 0x%x", helper, r,
			status);
	}
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	close(sv[0]);
	test_assert_int_eq(err.hdr.type, HELPER_MSG_ERROR);
	return err;
}

/*
 * A privileged helper run by a uid outside the group refuses at once, whatever the file mode
 * let through; a member gets past that check (and is then refused as a peer of another uid).
 */
static void test_non_member_refused(void)
{
	unsigned long long needed = 1ull << CAP_SYS_ADMIN | 1ull << CAP_SETUID | 1ull << CAP_SETGID;
	if (geteuid() != 0 || (status_field(getpid(), "CapEff", 16) & needed) != needed) {
		printf("# skipped: needs root to run the helper as another uid with a "
		       "capability\n");
		return;
	}
	struct helper_msg_error err = refusal_as_nobody(NULL, 0);
	test_assert_int_eq(err.error, -EACCES);
	struct group *grp = getgrnam(KMSCAST_GROUP);
	const char *expect = grp != NULL ? "uid 65534 is not in group" : "does not exist";
	if (strstr(err.reason, expect) == NULL) {
		test_fail("reason \"%s\" does not contain \"%s\"", err.reason, expect);
	}
	if (grp == NULL) {
		printf("# no group %s here: the member case is not checked\n", KMSCAST_GROUP);
		return;
	}
	gid_t member[] = {grp->gr_gid};
	err = refusal_as_nobody(member, 1);
	test_assert(strstr(err.reason, "peer uid 0 is not the helper's uid 65534") != NULL);
}

/* fake-helper-silent: never answers. fake-helper-die: dies mid-request once, then is real. */
/*
 * A hostile helper: answers the export with a bad reply carrying fds.
 *   fds-on-error: an ERROR record with 3 fds attached;
 *   too-many-fds: an FB record claiming 1 fd with 7 attached (more than the client's
 *                 control buffer: MSG_CTRUNC);
 *   fd-count:     an FB record claiming 2 fds with 1 attached;
 *   memfd-fb:     a well-formed FB record with a memfd as its dma-buf;
 *   pipe-fb:      the same with a pipe;
 *   mixed-fb:     a 2-plane FB record with a memfd and a pipe.
 */
static void send_fb_with(uint32_t seq, const int *fds, uint32_t n_fds)
{
	struct helper_msg_fb fb;
	memset(&fb, 0, sizeof(fb));
	helper_build_fb_header(&fb, seq);
	fb.width = fb.height = 64;
	fb.n_planes = fb.n_fds = n_fds;
	for (uint32_t i = 0; i < n_fds; i++) {
		fb.plane_fd_index[i] = i;
	}
	test_assert_int_eq(send_fds(3, &fb, sizeof(fb), fds, n_fds), sizeof(fb));
}

static void hostile_reply(const char *mode, uint32_t seq)
{
	int memfd = memfd_create("hostile", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	int pipefd[2];
	test_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	if (strcmp(mode, "memfd-fb") == 0 || strcmp(mode, "pipe-fb") == 0) {
		send_fb_with(seq, mode[0] == 'm' ? &memfd : &pipefd[0], 1);
		return;
	}
	if (strcmp(mode, "mixed-fb") == 0) {
		int fds[2] = {memfd, pipefd[0]};
		send_fb_with(seq, fds, 2);
		return;
	}
	if (strcmp(mode, "fds-on-error") == 0) {
		struct helper_msg_error err;
		helper_build_error(&err, seq, -ENOENT, "no such thing");
		send_with_fds(3, &err, sizeof(err), memfd, 3);
		return;
	}
	struct helper_msg_fb fb;
	memset(&fb, 0, sizeof(fb));
	helper_build_fb_header(&fb, seq);
	fb.width = fb.height = 64;
	fb.n_planes = 1;
	fb.n_fds = strcmp(mode, "fd-count") == 0 ? 2 : 1;
	send_with_fds(3, &fb, sizeof(fb), memfd, strcmp(mode, "too-many-fds") == 0 ? 7 : 1);
}

/*
 * The fake helper's answers to CHECK:
 *   check-same:    SAME for the fb asked about;
 *   check-stale:   ERROR(-ESTALE);
 *   check-other:   SAME for another fb than the one asked about;
 *   check-same-fd: SAME with a memfd attached;
 *   check-hang-up: closes the connection instead.
 */
static void check_reply(const char *mode, uint32_t seq, const struct helper_msg_check *req)
{
	if (strcmp(mode, "check-stale") == 0) {
		struct helper_msg_error err;
		helper_build_error(&err, seq, -ESTALE, "FB 42 is another buffer now");
		test_assert(write(3, &err, sizeof(err)) == sizeof(err));
		return;
	}
	if (strcmp(mode, "check-hang-up") == 0) {
		_exit(0);
	}
	struct helper_msg_same same;
	helper_build_same_reply(&same, seq, req->fb_id + (strcmp(mode, "check-other") == 0));
	int memfd = memfd_create("same-with-fd", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	size_t n_fds = strcmp(mode, "check-same-fd") == 0 ? 1 : 0;
	test_assert_int_eq(send_with_fds(3, &same, sizeof(same), memfd, n_fds), sizeof(same));
	close(memfd);
}

static int fake_helper(const char *mode)
{
	char buf[HELPER_MAX_MSG_SIZE];
	if (strcmp(mode, "silent") == 0) {
		while (read(3, buf, sizeof(buf)) > 0) {
		}
		return 0;
	}
	if (strcmp(mode, "die") != 0) {
		test_assert(read(3, buf, sizeof(buf)) == sizeof(struct helper_msg_hello));
		struct helper_msg_hello reply;
		helper_build_hello_reply(&reply, ((struct helper_msg_header *)buf)->seq);
		test_assert(write(3, &reply, sizeof(reply)) == sizeof(reply));
		ssize_t n;
		while ((n = read(3, buf, sizeof(buf))) > 0) {
			const struct helper_msg_header *hdr = (const void *)buf;
			if (n == sizeof(struct helper_msg_check) && hdr->type == HELPER_MSG_CHECK) {
				check_reply(mode, hdr->seq, (const struct helper_msg_check *)hdr);
			} else if (n == sizeof(struct helper_msg_export)) {
				hostile_reply(mode, hdr->seq);
			} else {
				return 2;
			}
		}
		return 0;
	}
	char marker[PATH_MAX];
	snprintf(marker, sizeof(marker), "%s/died", tmpdir);
	if (access(marker, F_OK) == 0) {
		execl(HELPER_EXE, "kmscast-helper", "--fd", "3", (char *)NULL);
		return 98;
	}
	int fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	test_assert(read(3, buf, sizeof(buf)) == sizeof(struct helper_msg_hello));
	struct helper_msg_hello reply;
	helper_build_hello_reply(&reply, ((struct helper_msg_header *)buf)->seq);
	test_assert(write(3, &reply, sizeof(reply)) == sizeof(reply));
	test_assert(read(3, buf, sizeof(buf)) == sizeof(struct helper_msg_export));
	_exit(3); /* mid-request */
}

int main(int argc, char **argv)
{
	const char *name = basename(argv[0]);
	if (strncmp(name, "fake-helper-", 12) == 0) {
		/* Our tmpdir is the symlink's directory. */
		snprintf(tmpdir, sizeof(tmpdir), "%s", dirname(argv[0]));
		return fake_helper(name + 12);
	}
	test_assert(realpath("/proc/self/exe", self_exe) != NULL);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kmscast-test-helper-XXXXXX");
	test_assert(mkdtemp(tmpdir) != NULL);

	static const struct test_case cases[] = {
		TEST(test_handshake_and_hardening),
		TEST(test_failed_exports_keep_connection),
		TEST(test_many_requests_flat_fds),
		TEST(test_respawn_after_kill),
		TEST(test_timeout),
		TEST(test_helper_dies_mid_request),
		TEST(test_hostile_replies),
		TEST(test_non_dmabuf_refused),
		TEST(test_missing_helper),
		TEST(test_other_uid_refused),
		TEST(test_non_member_refused),
		TEST(test_check_not_connected),
		TEST(test_check_real_helper),
		TEST(test_check_replies),
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].func();
		printf("ok %zu - %s\n", i + 1, cases[i].name);
	}
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : 1;
}
