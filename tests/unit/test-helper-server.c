/* SPDX-License-Identifier: MIT */
/*
 * kmscast-helper's connection handling, in process, against a fake export backend (memfds
 * stand in for DMA-BUFs; there is no DRM on the build host). One test per class of bad
 * input: each checks the error the peer is told, that the connection is closed, and that no
 * fd is left behind (counted in /proc/self/fd before and after).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "test-helper-util.h"

/* Fake backend: card0 CRTC 1 has a 1-plane FB, CRTC 3 a 2-BO FB; CRTC 99 is off. */
static int fake_conn_create(void *data, void **state)
{
	*state = malloc(1);
	return *state ? 0 : -ENOMEM;
}

static void fake_conn_destroy(void *data, void *state)
{
	free(state);
}

static int fake_export(void *data, void *state, const struct helper_request *req,
	struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], char *reason, size_t size)
{
	if (strcmp(req->card, "card0") != 0) {
		snprintf(reason, size, "cannot open /dev/dri/%s", req->card);
		return -ENOENT;
	}
	if (req->crtc_id == 99) {
		snprintf(reason, size, "CRTC 99 is off");
		return -ENODATA;
	}
	uint32_t n = req->crtc_id == 3 ? 2 : 1;
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = memfd_create("fake-dmabuf", MFD_CLOEXEC);
		test_assert(fds[i] >= 0);
		fb->plane_fd_index[i] = i;
		fb->pitches[i] = 4096;
	}
	fb->fb_id = 42;
	fb->width = 1024;
	fb->height = 768;
	fb->fourcc = 0x34325258;
	fb->n_planes = n;
	fb->n_fds = n;
	return 0;
}

/* Fake CHECK: FB 42 (what fake_export hands out) is unchanged, FB 43 another buffer now. */
static int fake_check(
	void *data, void *state, const struct helper_request *req, char *reason, size_t size)
{
	if (req->fb_id == 42) {
		return 0;
	}
	if (req->fb_id == 43) {
		snprintf(reason, size, "FB 43 is another buffer now");
		return -ESTALE;
	}
	snprintf(reason, size, "FB %u was not exported on this connection", req->fb_id);
	return -ESTALE;
}

static const struct helper_backend fake_backend = {
	.conn_create = fake_conn_create,
	.conn_destroy = fake_conn_destroy,
	.export_fb = fake_export,
	.check_fb = fake_check,
};

struct fixture {
	struct helper_server *server;
	int peer; /* our end */
	int fds_before;
};

static struct helper_server *make_server_idle(int hello_timeout_ms, int idle_timeout_ms)
{
	struct helper_server_config config = {
		.backend = &fake_backend,
		.accept_policy = HELPER_PEER_ANY,
		.hello_timeout_ms = hello_timeout_ms,
		.idle_timeout_ms = idle_timeout_ms,
	};
	struct helper_server *server = helper_server_create(&config);
	test_assert(server != NULL);
	return server;
}

static struct helper_server *make_server(int hello_timeout_ms)
{
	return make_server_idle(hello_timeout_ms, 0);
}

static int add_peer(struct helper_server *server)
{
	int sv[2];
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	test_assert_int_eq(helper_server_add_client(server, sv[1]), 0);
	return sv[0];
}

static struct fixture setup(void)
{
	struct fixture f = {.fds_before = count_fds()};
	f.server = make_server(HELPER_HELLO_TIMEOUT_MS);
	f.peer = add_peer(f.server);
	return f;
}

static void teardown(struct fixture *f)
{
	helper_server_destroy(f->server);
	close(f->peer);
	test_assert_int_eq(count_fds(), f->fds_before);
}

static void dispatch(struct fixture *f)
{
	test_assert_int_eq(helper_server_dispatch(f->server, 1000), 0);
}

static void say_hello(struct fixture *f)
{
	struct helper_msg_hello hello = make_hello(1);
	test_assert_int_eq(send_with_fds(f->peer, &hello, sizeof(hello), -1, 0), sizeof(hello));
	dispatch(f);
	struct helper_msg_hello reply;
	test_assert_int_eq(recv_record(f->peer, &reply, sizeof(reply), 1000, NULL), sizeof(reply));
	test_assert_int_eq(reply.hdr.type, HELPER_MSG_HELLO_REPLY);
	test_assert_int_eq(reply.proto_version, HELPER_PROTO_VERSION);
}

/* The peer must be told error and a reason containing what, then see EOF. */
static void expect_closed_with(struct fixture *f, int error, const char *what)
{
	struct helper_msg_error msg;
	int n_fds = -1;
	test_assert_int_eq(recv_record(f->peer, &msg, sizeof(msg), 1000, &n_fds), sizeof(msg));
	test_assert_int_eq(msg.hdr.type, HELPER_MSG_ERROR);
	test_assert_int_eq(msg.error, error);
	test_assert_int_eq(n_fds, 0);
	if (strstr(msg.reason, what) == NULL) {
		test_fail("reason \"%s\" does not mention \"%s\"", msg.reason, what);
	}
	char buf[HELPER_MAX_MSG_SIZE];
	test_assert_int_eq(recv_record(f->peer, buf, sizeof(buf), 1000, NULL), 0);
	test_assert_int_eq(helper_server_client_count(f->server), 0);
}

static void send_and_expect_close(
	const void *buf, size_t len, bool hello_first, int error, const char *what)
{
	struct fixture f = setup();
	if (hello_first) {
		say_hello(&f);
	}
	test_assert_int_eq(send_with_fds(f.peer, buf, len, -1, 0), (int)len);
	dispatch(&f);
	expect_closed_with(&f, error, what);
	teardown(&f);
}

static void test_empty_message(void)
{
	send_and_expect_close("", 0, false, -EPROTO, "empty message");
	send_and_expect_close("", 0, true, -EPROTO, "empty message");
}

static void test_short_message(void)
{
	struct helper_msg_hello hello = make_hello(1);
	send_and_expect_close(&hello, 8, false, -EPROTO, "short message (8 bytes)");
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	send_and_expect_close(
		&req, sizeof(req) - 1, true, -EPROTO, "size field 48 but record has 47 bytes");
}

static void test_oversized_message(void)
{
	uint8_t big[HELPER_MAX_MSG_SIZE + 100];
	memset(big, 0, sizeof(big));
	struct helper_msg_hello hello = make_hello(1);
	memcpy(big, &hello, sizeof(hello));
	send_and_expect_close(big, sizeof(big), false, -EPROTO, "oversized message");
	send_and_expect_close(big, HELPER_MAX_MSG_SIZE + 1, true, -EPROTO, "oversized message");
}

static void test_wrong_version(void)
{
	struct helper_msg_hello hello = make_hello(1);
	hello.hdr.version = HELPER_PROTO_VERSION + 1;
	char newer[64];
	snprintf(newer, sizeof(newer), "unsupported protocol version %d", HELPER_PROTO_VERSION + 1);
	send_and_expect_close(&hello, sizeof(hello), false, -EPROTONOSUPPORT, newer);
	hello = make_hello(1);
	hello.hdr.version = 1; /* a client from before CHECK */
	send_and_expect_close(
		&hello, sizeof(hello), false, -EPROTONOSUPPORT, "unsupported protocol version 1");
	hello = make_hello(1);
	hello.proto_version = 7;
	send_and_expect_close(
		&hello, sizeof(hello), false, -EPROTONOSUPPORT, "unsupported protocol version 7");
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	req.hdr.version = 0;
	send_and_expect_close(&req, sizeof(req), true, -EPROTONOSUPPORT, "version 0");
}

static void test_unknown_type(void)
{
	struct helper_msg_hello hello = make_hello(1);
	hello.hdr.type = 0x77;
	send_and_expect_close(&hello, sizeof(hello), false, -EPROTO, "unknown message type 0x77");
	/* A reply type sent to the helper is just as unknown. */
	hello.hdr.type = HELPER_MSG_FB;
	send_and_expect_close(&hello, sizeof(hello), true, -EPROTO, "unknown message type");
}

static void test_bad_header_fields(void)
{
	struct helper_msg_hello hello = make_hello(1);
	hello.hdr.magic ^= 1;
	send_and_expect_close(&hello, sizeof(hello), false, -EPROTO, "bad magic");
	hello = make_hello(1);
	hello.hdr.size = 1000;
	send_and_expect_close(&hello, sizeof(hello), false, -EPROTO, "size field 1000");
	struct helper_msg_export req = make_export(2, "card0", 1, 3);
	send_and_expect_close(&req, sizeof(req), true, -EPROTO, "unknown plane kind 3");
	req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	memset(req.card, 'c', sizeof(req.card));
	send_and_expect_close(&req, sizeof(req), true, -EPROTO, "not NUL-terminated");
}

static void test_sequence_errors(void)
{
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	send_and_expect_close(&req, sizeof(req), false, -EPROTO, "export before hello");
	struct helper_msg_hello hello = make_hello(3);
	send_and_expect_close(&hello, sizeof(hello), true, -EPROTO, "second hello");
}

static void send_fds_and_expect_close(size_t n_fds, const char *what)
{
	struct fixture f = setup();
	say_hello(&f);
	int memfd = memfd_create("attached", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), memfd, n_fds), sizeof(req));
	close(memfd);
	dispatch(&f);
	expect_closed_with(&f, -EPROTO, what);
	teardown(&f);
}

static void test_request_with_fds(void)
{
	send_fds_and_expect_close(1, "carries fds");
	send_fds_and_expect_close(3, "carries fds");
	send_fds_and_expect_close(253, "carries fds"); /* SCM_MAX_FD */
}

/* 300 > SCM_MAX_FD (253): the kernel refuses it at the sender; the helper never sees it. */
static void test_request_with_300_fds(void)
{
	struct fixture f = setup();
	say_hello(&f);
	int memfd = memfd_create("attached", MFD_CLOEXEC);
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), memfd, 300), -EINVAL);
	close(memfd);
	/* Nothing arrived, so the connection is still fine. */
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
	dispatch(&f);
	struct helper_msg_fb fb;
	int n_fds = 0;
	test_assert_int_eq(recv_record(f.peer, &fb, sizeof(fb), 1000, &n_fds), sizeof(fb));
	test_assert_int_eq(fb.hdr.type, HELPER_MSG_FB);
	test_assert_int_eq(n_fds, 1);
	teardown(&f);
}

/* In a child: exit 0 if fd's file has a POSIX write lock owned by parent, 1 if not. */
static bool locked_by(int fd, pid_t parent)
{
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		_exit(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == parent
				? 0
				: 1);
	}
	int status = 0;
	test_assert(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * fds a peer attaches are never installed in the helper, so it never close()s them: close(2)
 * runs the file's ->flush, which a FUSE server can stall forever. Seen from here through a
 * POSIX lock: close(2) of any fd of a file drops every lock the closing process holds on it
 * (locks_remove_posix from filp_close), while a reference the kernel drops without
 * installing it does not. The server runs in this process, so a close there drops ours.
 */
static void test_peer_fds_never_installed(void)
{
	struct fixture f = setup();
	say_hello(&f);
	int file = memfd_create("locked", MFD_CLOEXEC);
	test_assert(file >= 0);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	test_assert(fcntl(file, F_SETLK, &fl) == 0);
	test_assert(locked_by(file, getpid()));

	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), file, 2), sizeof(req));
	int before = count_fds();
	dispatch(&f);
	expect_closed_with(&f, -EPROTO, "carries fds");
	test_assert_int_eq(count_fds(), before - 1); /* the connection, nothing else */
	if (!locked_by(file, getpid())) {
		test_fail("the lock is gone: the server installed and closed the peer's fd");
	}
	close(file);
	teardown(&f);
}

/* SEQPACKET keeps record boundaries: 1-byte writes are 1-byte messages, not a stream. */
static void test_split_into_bytes(void)
{
	struct fixture f = setup();
	struct helper_msg_hello hello = make_hello(1);
	const uint8_t *bytes = (const uint8_t *)&hello;
	for (size_t i = 0; i < sizeof(hello); i++) {
		test_assert_int_eq(send_with_fds(f.peer, bytes + i, 1, -1, 0), 1);
	}
	dispatch(&f);
	expect_closed_with(&f, -EPROTO, "short message (1 bytes)");
	teardown(&f);
}

static void test_eof_mid_message(void)
{
	/* Half a record, then the peer shuts down. */
	struct fixture f = setup();
	struct helper_msg_hello hello = make_hello(1);
	test_assert_int_eq(send_with_fds(f.peer, &hello, 12, -1, 0), 12);
	test_assert(shutdown(f.peer, SHUT_WR) == 0);
	dispatch(&f);
	expect_closed_with(&f, -EPROTO, "short message (12 bytes)");
	teardown(&f);

	/* A full request, then the peer vanishes before the reply with its fds goes out. */
	f = setup();
	say_hello(&f);
	struct helper_msg_export req = make_export(2, "card0", 3, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
	close(f.peer);
	f.peer = -1;
	dispatch(&f);
	dispatch(&f);
	test_assert_int_eq(helper_server_client_count(f.server), 0);
	helper_server_destroy(f.server);
	test_assert_int_eq(count_fds(), f.fds_before);
}

/* A peer that sends requests but never reads the replies is dropped, not waited for. */
static void test_peer_never_reads(void)
{
	struct fixture f = setup();
	say_hello(&f);
	int other = add_peer(f.server);
	struct helper_msg_export req = make_export(2, "card0", 1, KMSCAST_PLANE_PRIMARY);
	int sent = 0;
	while (helper_server_client_count(f.server) == 2 && sent < 100000) {
		test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
		sent++;
		dispatch(&f);
	}
	test_assert_int_eq(helper_server_client_count(f.server), 1);
	printf("# dropped the non-reading peer after %d unread replies\n", sent);
	/* The other connection is unaffected. */
	struct helper_msg_hello hello = make_hello(1);
	test_assert_int_eq(send_with_fds(other, &hello, sizeof(hello), -1, 0), sizeof(hello));
	dispatch(&f);
	struct helper_msg_hello reply;
	test_assert_int_eq(recv_record(other, &reply, sizeof(reply), 1000, NULL), sizeof(reply));
	test_assert_int_eq(reply.hdr.type, HELPER_MSG_HELLO_REPLY);
	close(other);
	teardown(&f);
}

/*
 * A flood: 10000 requests, pushed as fast as the socket takes them (the queue fills at a few
 * hundred) while the replies are read. Served one per dispatch round, so a second client is
 * answered in the very first round; every reply is correct, in order, and nothing leaks.
 */
#define FLOOD_REQUESTS 10000

static void test_flood(void)
{
	struct fixture f = setup();
	say_hello(&f);
	int other = add_peer(f.server);
	int sent = 0, answered = 0, max_queued = 0;
	bool other_served = false;
	while (answered < FLOOD_REQUESTS) {
		while (sent < FLOOD_REQUESTS) {
			struct helper_msg_export req =
				make_export((uint32_t)sent, "card0", 1, KMSCAST_PLANE_PRIMARY);
			if (send_with_fds(f.peer, &req, sizeof(req), -1, 0) != sizeof(req)) {
				break;
			}
			sent++;
		}
		max_queued = sent - answered > max_queued ? sent - answered : max_queued;
		if (!other_served) {
			struct helper_msg_hello hello = make_hello(1), reply;
			test_assert_int_eq(
				send_with_fds(other, &hello, sizeof(hello), -1, 0), sizeof(hello));
			dispatch(&f);
			/* One round, despite the hundreds queued by the flooding peer. */
			test_assert_int_eq(
				recv_record(other, &reply, sizeof(reply), 0, NULL), sizeof(reply));
			other_served = true;
		}
		dispatch(&f);
		struct helper_msg_fb fb;
		int n_fds = 0;
		while (recv_record(f.peer, &fb, sizeof(fb), 0, &n_fds) == sizeof(fb)) {
			test_assert_int_eq(fb.hdr.type, HELPER_MSG_FB);
			test_assert_int_eq(fb.hdr.seq, (uint32_t)answered);
			test_assert_int_eq(n_fds, 1);
			answered++;
		}
	}
	printf("# %d flooded requests answered in order, up to %d queued at once\n", answered,
		max_queued);
	test_assert_int_eq(helper_server_client_count(f.server), 2);
	close(other);
	teardown(&f);
}

/* A failed request is an error reply; the connection stays and works. */
static void test_failed_request_keeps_connection(void)
{
	struct fixture f = setup();
	say_hello(&f);
	const struct {
		const char *card;
		uint32_t crtc;
		int error;
	} cases[] = {{"card9", 1, -ENOENT}, {"card0", 99, -ENODATA}, {"card0", 3, 0}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct helper_msg_export req =
			make_export(10 + i, cases[i].card, cases[i].crtc, KMSCAST_PLANE_CURSOR);
		test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
		dispatch(&f);
		union {
			struct helper_msg_header hdr;
			struct helper_msg_error err;
			struct helper_msg_fb fb;
		} reply;
		int n_fds = -1;
		test_assert(recv_record(f.peer, &reply, sizeof(reply), 1000, &n_fds) > 0);
		test_assert_int_eq(reply.hdr.seq, 10 + i);
		if (cases[i].error != 0) {
			test_assert_int_eq(reply.hdr.type, HELPER_MSG_ERROR);
			test_assert_int_eq(reply.err.error, cases[i].error);
			test_assert_int_eq(n_fds, 0);
		} else {
			test_assert_int_eq(reply.hdr.type, HELPER_MSG_FB);
			test_assert_int_eq(reply.fb.n_fds, 2);
			test_assert_int_eq(n_fds, 2);
		}
		test_assert_int_eq(helper_server_client_count(f.server), 1);
	}
	teardown(&f);
}

static void test_hello_timeout(void)
{
	struct fixture f = {.fds_before = count_fds()};
	f.server = make_server(50);
	f.peer = add_peer(f.server);
	usleep(60 * 1000);
	dispatch(&f);
	expect_closed_with(&f, -ETIMEDOUT, "no hello");
	teardown(&f);
}

static void export_and_expect_fb(struct fixture *f, uint32_t seq)
{
	struct helper_msg_export req = make_export(seq, "card0", 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f->peer, &req, sizeof(req), -1, 0), sizeof(req));
	dispatch(f);
	struct helper_msg_fb fb;
	int n_fds = 0;
	test_assert_int_eq(recv_record(f->peer, &fb, sizeof(fb), 1000, &n_fds), sizeof(fb));
	test_assert_int_eq(fb.hdr.type, HELPER_MSG_FB);
	test_assert_int_eq(fb.hdr.seq, seq);
}

/*
 * After hello, a connection with no request for idle_timeout_ms is told -ECONNRESET and
 * closed; every request restarts the clock. The margins are wide (requests at a third of the
 * timeout) because another job may load the machine.
 */
#define TEST_IDLE_MS 600

static void check_and_expect_same(struct fixture *f, uint32_t seq)
{
	struct helper_msg_check req = make_check(seq, "card0", 42);
	test_assert_int_eq(send_with_fds(f->peer, &req, sizeof(req), -1, 0), sizeof(req));
	dispatch(f);
	struct helper_msg_same same;
	test_assert_int_eq(recv_record(f->peer, &same, sizeof(same), 1000, NULL), sizeof(same));
	test_assert_int_eq(same.hdr.type, HELPER_MSG_SAME);
	test_assert_int_eq(same.hdr.seq, seq);
}

/* Requests spaced well inside the idle timeout, adding up to more than it. */
static void keep_busy(struct fixture *f, void (*request)(struct fixture *f, uint32_t seq))
{
	for (uint32_t i = 0; i < 4; i++) {
		/* 4 x 200 ms: longer than the timeout in all, each gap well inside it */
		usleep(TEST_IDLE_MS / 3 * 1000);
		test_assert_int_eq(helper_server_dispatch(f->server, 0), 0);
		test_assert_int_eq(helper_server_client_count(f->server), 1);
		request(f, 10 + i);
	}
}

static void test_idle_timeout(void)
{
	struct fixture f = {.fds_before = count_fds()};
	f.server = make_server_idle(TEST_IDLE_MS, TEST_IDLE_MS);
	f.peer = add_peer(f.server);
	say_hello(&f);
	keep_busy(&f, export_and_expect_fb);
	/* A CHECK is activity too: a node whose FBs are all known only checks. */
	keep_busy(&f, check_and_expect_same);
	/* Now idle: dispatch waits by itself until the deadline (never forever). */
	int64_t waited = 0;
	while (helper_server_client_count(f.server) == 1 && waited < 10 * TEST_IDLE_MS) {
		test_assert_int_eq(helper_server_dispatch(f.server, TEST_IDLE_MS), 0);
		waited += TEST_IDLE_MS;
	}
	expect_closed_with(&f, -ECONNRESET, "idle");
	teardown(&f);

	/* 0: no idle timeout (spawned mode). */
	f = (struct fixture){.fds_before = count_fds()};
	f.server = make_server_idle(TEST_IDLE_MS, 0);
	f.peer = add_peer(f.server);
	say_hello(&f);
	usleep(TEST_IDLE_MS * 3 / 2 * 1000);
	test_assert_int_eq(helper_server_dispatch(f.server, 0), 0);
	test_assert_int_eq(helper_server_client_count(f.server), 1);
	export_and_expect_fb(&f, 20);
	teardown(&f);
}

/* CHECK answers SAME, echoing seq and fb_id, without fds; the connection stays. */
static void test_check_same(void)
{
	struct fixture f = setup();
	say_hello(&f);
	for (uint32_t seq = 77; seq < 79; seq++) {
		struct helper_msg_check req = make_check(seq, "card0", 42);
		test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
		dispatch(&f);
		union {
			struct helper_msg_header hdr;
			struct helper_msg_same same;
			uint8_t bytes[HELPER_MAX_MSG_SIZE];
		} reply;
		int n_fds = -1;
		test_assert_int_eq(recv_record(f.peer, &reply, sizeof(reply), 1000, &n_fds),
			sizeof(struct helper_msg_same));
		test_assert_int_eq(reply.hdr.type, HELPER_MSG_SAME);
		test_assert_int_eq(reply.hdr.size, sizeof(struct helper_msg_same));
		test_assert_int_eq(reply.hdr.seq, seq);
		test_assert_int_eq(reply.same.fb_id, 42);
		test_assert_int_eq(reply.same.reserved, 0);
		test_assert_int_eq(n_fds, 0);
		test_assert_int_eq(helper_server_client_count(f.server), 1);
	}
	teardown(&f);
}

/* A failed CHECK is an ERROR with the backend's errno and reason; the connection stays. */
static void test_check_stale(void)
{
	struct fixture f = setup();
	say_hello(&f);
	struct helper_msg_check req = make_check(5, "card0", 43);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
	dispatch(&f);
	struct helper_msg_error err;
	int n_fds = -1;
	test_assert_int_eq(recv_record(f.peer, &err, sizeof(err), 1000, &n_fds), sizeof(err));
	test_assert_int_eq(err.hdr.type, HELPER_MSG_ERROR);
	test_assert_int_eq(err.hdr.seq, 5);
	test_assert_int_eq(err.error, -ESTALE);
	test_assert_str_eq(err.reason, "FB 43 is another buffer now");
	test_assert_int_eq(n_fds, 0);
	test_assert_int_eq(helper_server_client_count(f.server), 1);
	/* Still served: an export, then a check of what it gave. */
	export_and_expect_fb(&f, 6);
	req = make_check(7, "card0", 42);
	test_assert_int_eq(send_with_fds(f.peer, &req, sizeof(req), -1, 0), sizeof(req));
	dispatch(&f);
	struct helper_msg_same same;
	test_assert_int_eq(recv_record(f.peer, &same, sizeof(same), 1000, NULL), sizeof(same));
	test_assert_int_eq(same.hdr.type, HELPER_MSG_SAME);
	test_assert_int_eq(same.hdr.seq, 7);
	teardown(&f);
}

/* A CHECK before hello, or a malformed one, closes the connection like a bad EXPORT. */
static void test_check_protocol_errors(void)
{
	struct helper_msg_check req = make_check(2, "card0", 42);
	send_and_expect_close(&req, sizeof(req), false, -EPROTO, "check before hello");
	req.flags = 1;
	send_and_expect_close(&req, sizeof(req), true, -EPROTO, "check: flags not zero");
	req = make_check(2, "card00", 42);
	send_and_expect_close(&req, sizeof(req), true, -EPROTO, "check: invalid card name");
	req = make_check(2, "card0", 42);
	send_and_expect_close(
		&req, sizeof(req) - 4, true, -EPROTO, "size field 40 but record has 36 bytes");
}

static void test_max_clients(void)
{
	struct fixture f = setup();
	int peers[HELPER_MAX_CLIENTS];
	for (int i = 1; i < HELPER_MAX_CLIENTS; i++) {
		peers[i] = add_peer(f.server);
	}
	int sv[2];
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	test_assert_int_eq(helper_server_add_client(f.server, sv[1]), -EBUSY);
	struct helper_msg_error err;
	test_assert_int_eq(recv_record(sv[0], &err, sizeof(err), 1000, NULL), sizeof(err));
	test_assert_int_eq(err.error, -EBUSY);
	test_assert_int_eq(recv_record(sv[0], &err, sizeof(err), 1000, NULL), 0);
	close(sv[0]);
	for (int i = 1; i < HELPER_MAX_CLIENTS; i++) {
		close(peers[i]);
	}
	teardown(&f);
}

/* A listening socket on a fresh abstract address, and that address. */
struct test_listener {
	struct sockaddr_un addr;
	socklen_t len;
	int fd; /* handed to the server */
};

static struct test_listener make_listener(void)
{
	static int serial;
	struct test_listener l = {.addr = {.sun_family = AF_UNIX}};
	snprintf(l.addr.sun_path + 1, sizeof(l.addr.sun_path) - 1, "kmscast-test-%d-%d",
		(int)getpid(), serial++);
	l.len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(l.addr.sun_path + 1);
	l.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	test_assert(bind(l.fd, (struct sockaddr *)&l.addr, l.len) == 0);
	test_assert(listen(l.fd, HELPER_MAX_CLIENTS + 4) == 0);
	test_assert_int_eq(helper_check_listener(l.fd), 0);
	return l;
}

static int connect_to(const struct test_listener *l)
{
	int peer = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	test_assert(connect(peer, (const struct sockaddr *)&l->addr, l->len) == 0);
	return peer;
}

/* Socket-activated mode: peers not in the allowed group are told so and dropped. */
static void accept_with_gid(gid_t gid, bool allowed)
{
	int before = count_fds();
	struct helper_server_config config = {
		.backend = &fake_backend,
		.accept_policy = HELPER_PEER_GROUP,
		.gid = gid,
		.hello_timeout_ms = 1000,
	};
	struct helper_server *server = helper_server_create(&config);
	struct test_listener l = make_listener();
	test_assert_int_eq(helper_server_add_listener(server, l.fd), 0);

	int peer = connect_to(&l);
	test_assert_int_eq(helper_server_dispatch(server, 1000), 0);
	test_assert_int_eq(helper_server_client_count(server), allowed ? 1 : 0);
	if (!allowed) {
		struct helper_msg_error err;
		test_assert_int_eq(recv_record(peer, &err, sizeof(err), 1000, NULL), sizeof(err));
		test_assert_int_eq(err.error, -EACCES);
		test_assert(strstr(err.reason, "not in group") != NULL);
		test_assert_int_eq(recv_record(peer, &err, sizeof(err), 1000, NULL), 0);
	}
	close(peer);
	helper_server_destroy(server);
	test_assert_int_eq(count_fds(), before);
}

static void test_group_policy(void)
{
	accept_with_gid(getgid(), true);
	accept_with_gid(54321, false); /* a group this test is not in */
}

/*
 * One uid holds at most HELPER_MAX_CLIENTS_PER_UID accepted connections; the next one is
 * told -EBUSY and closed, and a freed slot can be taken again. (All peers here have our uid.)
 */
static void test_max_clients_per_uid(void)
{
	int before = count_fds();
	struct helper_server *server = make_server(HELPER_HELLO_TIMEOUT_MS);
	struct test_listener l = make_listener();
	test_assert_int_eq(helper_server_add_listener(server, l.fd), 0);
	int peers[HELPER_MAX_CLIENTS_PER_UID];
	for (int i = 0; i < HELPER_MAX_CLIENTS_PER_UID; i++) {
		peers[i] = connect_to(&l);
		test_assert_int_eq(helper_server_dispatch(server, 1000), 0); /* one accept each */
		test_assert_int_eq(helper_server_client_count(server), i + 1);
	}
	/* Connections added directly (spawned mode) do not count against the uid. */
	int spawned = add_peer(server);

	int extra = connect_to(&l);
	test_assert_int_eq(helper_server_dispatch(server, 1000), 0);
	test_assert_int_eq(helper_server_client_count(server), HELPER_MAX_CLIENTS_PER_UID + 1);
	struct helper_msg_error err;
	test_assert_int_eq(recv_record(extra, &err, sizeof(err), 1000, NULL), sizeof(err));
	test_assert_int_eq(err.error, -EBUSY);
	if (strstr(err.reason, "connections") == NULL) {
		test_fail("reason \"%s\" does not name the per-uid limit", err.reason);
	}
	test_assert_int_eq(recv_record(extra, &err, sizeof(err), 1000, NULL), 0);
	close(extra);

	/* Give one back: the server sees the hang-up, and the uid may connect again. */
	close(peers[0]);
	test_assert_int_eq(helper_server_dispatch(server, 1000), 0);
	test_assert_int_eq(helper_server_client_count(server), HELPER_MAX_CLIENTS_PER_UID);
	peers[0] = connect_to(&l);
	test_assert_int_eq(helper_server_dispatch(server, 1000), 0);
	test_assert_int_eq(helper_server_client_count(server), HELPER_MAX_CLIENTS_PER_UID + 1);

	for (int i = 0; i < HELPER_MAX_CLIENTS_PER_UID; i++) {
		close(peers[i]);
	}
	close(spawned);
	helper_server_destroy(server);
	test_assert_int_eq(count_fds(), before);
}

/* Who may run a privileged helper: root, or a member of the group by gid or supplementary. */
static void test_caller_groups(void)
{
	const gid_t groups[] = {27, 44, 1234};
	test_assert(helper_groups_allow(0, 0, NULL, 0, 1234)); /* root */
	test_assert(helper_groups_allow(1000, 1234, NULL, 0, 1234)); /* primary group */
	test_assert(helper_groups_allow(1000, 1000, groups, 3, 1234)); /* supplementary */
	test_assert(!helper_groups_allow(1000, 1000, groups, 2, 1234));
	test_assert(!helper_groups_allow(1000, 1000, NULL, 0, 1234));

	char reason[HELPER_MAX_REASON];
	if (getuid() != 0) {
		printf("# not root: helper_caller_check_group checked for a non-member only\n");
		test_assert_int_eq(
			helper_caller_check_group(54321, reason, sizeof(reason)), -EACCES);
		return;
	}
	test_assert_int_eq(helper_caller_check_group(54321, reason, sizeof(reason)), 0);
	/* As uid 65534 in a child: with and without the group among its supplementary ones. */
	for (int member = 0; member < 2; member++) {
		pid_t pid = fork();
		test_assert(pid >= 0);
		if (pid == 0) {
			gid_t supplementary[] = {54321};
			if (setgroups((size_t)member, supplementary) < 0 || setgid(65534) < 0 ||
				setuid(65534) < 0) {
				_exit(3);
			}
			int r = helper_caller_check_group(54321, reason, sizeof(reason));
			bool named = strstr(reason, "uid 65534 is not in group 54321") != NULL;
			_exit(member ? (r == 0 ? 0 : 1) : (r == -EACCES && named ? 0 : 2));
		}
		int status = 0;
		test_assert(waitpid(pid, &status, 0) == pid);
		test_assert(WIFEXITED(status));
		test_assert_int_eq(WEXITSTATUS(status), 0);
	}
}

TEST_MAIN(TEST(test_empty_message), TEST(test_short_message), TEST(test_oversized_message),
	TEST(test_wrong_version), TEST(test_unknown_type), TEST(test_bad_header_fields),
	TEST(test_sequence_errors), TEST(test_request_with_fds), TEST(test_request_with_300_fds),
	TEST(test_split_into_bytes), TEST(test_eof_mid_message), TEST(test_peer_never_reads),
	TEST(test_flood), TEST(test_failed_request_keeps_connection), TEST(test_hello_timeout),
	TEST(test_max_clients), TEST(test_group_policy), TEST(test_peer_fds_never_installed),
	TEST(test_idle_timeout), TEST(test_max_clients_per_uid), TEST(test_caller_groups),
	TEST(test_check_same), TEST(test_check_stale), TEST(test_check_protocol_errors))
