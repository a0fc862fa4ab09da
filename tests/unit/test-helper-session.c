/* SPDX-License-Identifier: MIT */
/*
 * Seat and session checks of kmscast-helper (helper/session.c), in process: the connection
 * code of server.c with a fake card backend (memfds stand in for card fds) and a fake logind
 * behind struct helper_session_ops. card0 is on seat0, card1 on seat1; card7 is a card the
 * helper did not see at start-up. The peer is this process, over a socketpair, so its uid is
 * getuid().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helper.h"
#include "test-helper-util.h"

#define MAX_FAKE_CARDS 4

/* Fake backend: a card cache of memfds, as export.c caches card fds. */
struct fake_cards {
	char names[MAX_FAKE_CARDS][HELPER_MAX_CARD_NAME];
	int fds[MAX_FAKE_CARDS];
	size_t n;
};

static int open_cards; /* across all connections */

static int fake_conn_create(void *data, void **state)
{
	*state = calloc(1, sizeof(struct fake_cards));
	return *state ? 0 : -ENOMEM;
}

static void fake_conn_destroy(void *data, void *state)
{
	struct fake_cards *cards = state;
	if (cards == NULL) {
		return;
	}
	for (size_t i = 0; i < cards->n; i++) {
		close(cards->fds[i]);
		open_cards--;
	}
	free(cards);
}

static int fake_get_card(
	struct fake_cards *cards, const char *name, int *index, char *reason, size_t size)
{
	if (strcmp(name, "card0") != 0 && strcmp(name, "card1") != 0 &&
		strcmp(name, "card7") != 0) {
		snprintf(reason, size, "cannot open /dev/dri/%s", name);
		return -ENOENT;
	}
	for (size_t i = 0; i < cards->n; i++) {
		if (strcmp(cards->names[i], name) == 0) {
			*index = (int)i;
			return 0;
		}
	}
	test_assert(cards->n < MAX_FAKE_CARDS);
	int fd = memfd_create(name, MFD_CLOEXEC);
	test_assert(fd >= 0);
	snprintf(cards->names[cards->n], sizeof(cards->names[0]), "%s", name);
	cards->fds[cards->n] = fd; /* fd now owned by cards */
	open_cards++;
	*index = (int)cards->n++;
	return 0;
}

static int fake_card_devnum(
	void *data, void *state, const char *name, dev_t *devnum, char *reason, size_t size)
{
	int index = 0;
	int r = fake_get_card(state, name, &index, reason, size);
	if (r == 0) {
		*devnum = makedev(226, (unsigned int)atoi(name + 4));
	}
	return r;
}

static int fake_export(void *data, void *state, const struct helper_request *req,
	struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], char *reason, size_t size)
{
	int index = 0;
	int r = fake_get_card(state, req->card, &index, reason, size);
	if (r < 0) {
		return r;
	}
	fds[0] = memfd_create("fake-dmabuf", MFD_CLOEXEC);
	test_assert(fds[0] >= 0);
	fb->fb_id = 42;
	fb->width = 64;
	fb->height = 64;
	fb->n_planes = 1;
	fb->n_fds = 1;
	return 0;
}

/*
 * Fake CHECK: what export.c keeps lives in the card cache, so here an FB counts as kept while
 * its card is in the cache. Opens nothing.
 */
static int fake_check(
	void *data, void *state, const struct helper_request *req, char *reason, size_t size)
{
	const struct fake_cards *cards = state;
	for (size_t i = 0; i < cards->n; i++) {
		if (strcmp(cards->names[i], req->card) == 0) {
			return 0;
		}
	}
	snprintf(reason, size, "FB %u was not exported on this connection", req->fb_id);
	return -ESTALE;
}

static const struct helper_backend fake_backend = {
	.conn_create = fake_conn_create,
	.conn_destroy = fake_conn_destroy,
	.export_fb = fake_export,
	.card_devnum = fake_card_devnum,
	.check_fb = fake_check,
};

/* Fake logind: two seats, three sessions. */
struct fake_seat {
	const char *active; /* NULL: no active session */
	uid_t uid;
};

struct fake_logind {
	struct fake_seat seats[2]; /* seat0, seat1 */
	int remote[3]; /* sessions c0, c1, c2 */
	int calls;
};

static int fake_seat_of_card(void *data, dev_t devnum, char *seat, size_t size)
{
	struct fake_logind *logind = data;
	logind->calls++;
	if (major(devnum) != 226 || minor(devnum) > 1) {
		return -ENOENT; /* card7: not there at start-up */
	}
	snprintf(seat, size, "seat%u", minor(devnum));
	return 0;
}

static int fake_seat_active(void *data, const char *seat, char **session, uid_t *uid)
{
	struct fake_logind *logind = data;
	logind->calls++;
	if (strcmp(seat, "seat0") != 0 && strcmp(seat, "seat1") != 0) {
		return -ENXIO;
	}
	const struct fake_seat *s = &logind->seats[seat[4] - '0'];
	if (s->active == NULL) {
		return -ENODATA;
	}
	*session = strdup(s->active);
	*uid = s->uid;
	return *session ? 0 : -ENOMEM;
}

static int fake_session_is_remote(void *data, const char *session)
{
	struct fake_logind *logind = data;
	logind->calls++;
	int index = session[1] - '0';
	test_assert(session[0] == 'c' && index >= 0 && index < 3);
	return logind->remote[index];
}

static const struct helper_session_ops fake_ops = {
	.seat_of_card = fake_seat_of_card,
	.seat_active = fake_seat_active,
	.session_is_remote = fake_session_is_remote,
};

/* The peer's session c0 is active on seat0; uid + 1 has session c1 active on seat1. */
static struct fake_logind peer_active_on_seat0(void)
{
	uid_t me = getuid();
	return (struct fake_logind){.seats = {{"c0", me}, {"c1", me + 1}}};
}

struct fixture {
	struct helper_server *server;
	struct helper_session *session;
	int peer; /* our end */
	int fds_before;
	int log_pipe[2]; /* the helper's log lines, read by the test */
};

static struct fixture setup(struct fake_logind *logind)
{
	struct fixture f = {.fds_before = count_fds(), .peer = -1};
	test_assert(pipe2(f.log_pipe, O_CLOEXEC | O_NONBLOCK) == 0);
	helper_log_set_fd(f.log_pipe[1]);
	if (logind != NULL) {
		f.session = helper_session_create(&fake_ops, logind);
		test_assert(f.session != NULL);
	}
	struct helper_server_config config = {
		.backend = &fake_backend,
		.accept_policy = HELPER_PEER_ANY,
		.hello_timeout_ms = HELPER_HELLO_TIMEOUT_MS,
		.session = f.session,
	};
	f.server = helper_server_create(&config);
	test_assert(f.server != NULL);
	int sv[2];
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	test_assert_int_eq(helper_server_add_client(f.server, sv[1]), 0);
	f.peer = sv[0];

	struct helper_msg_hello hello = make_hello(1), reply;
	test_assert_int_eq(send_with_fds(f.peer, &hello, sizeof(hello), -1, 0), sizeof(hello));
	test_assert_int_eq(helper_server_dispatch(f.server, 1000), 0);
	test_assert_int_eq(recv_record(f.peer, &reply, sizeof(reply), 1000, NULL), sizeof(reply));
	test_assert_int_eq(reply.hdr.type, HELPER_MSG_HELLO_REPLY);
	return f;
}

static void teardown(struct fixture *f)
{
	helper_server_destroy(f->server);
	helper_session_destroy(f->session);
	close(f->peer);
	helper_log_set_fd(STDERR_FILENO);
	close(f->log_pipe[0]);
	close(f->log_pipe[1]);
	test_assert_int_eq(open_cards, 0);
	test_assert_int_eq(count_fds(), f->fds_before);
}

/* One export; returns 0 or the helper's error, with its reason in reason. */
static int export(struct fixture *f, const char *card, char reason[HELPER_MAX_REASON])
{
	static uint32_t seq = 10;
	struct helper_msg_export req = make_export(++seq, card, 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(send_with_fds(f->peer, &req, sizeof(req), -1, 0), sizeof(req));
	test_assert_int_eq(helper_server_dispatch(f->server, 1000), 0);
	union {
		struct helper_msg_header hdr;
		struct helper_msg_error err;
		struct helper_msg_fb fb;
	} reply;
	int n_fds = -1;
	test_assert(recv_record(f->peer, &reply, sizeof(reply), 1000, &n_fds) > 0);
	test_assert_int_eq(reply.hdr.seq, seq);
	test_assert_int_eq(helper_server_client_count(f->server), 1);
	reason[0] = '\0';
	if (reply.hdr.type == HELPER_MSG_ERROR) {
		test_assert_int_eq(n_fds, 0);
		snprintf(reason, HELPER_MAX_REASON, "%s", reply.err.reason);
		return reply.err.error;
	}
	test_assert_int_eq(reply.hdr.type, HELPER_MSG_FB);
	test_assert_int_eq(n_fds, 1);
	return 0;
}

static void expect_refused(struct fixture *f, const char *card, const char *what)
{
	char reason[HELPER_MAX_REASON];
	int r = export(f, card, reason);
	if (r != -EACCES || strstr(reason, what) == NULL) {
		test_fail("export of %s: %d \"%s\", expected -EACCES mentioning \"%s\"", card, r,
			reason, what);
	}
}

static void expect_exported(struct fixture *f, const char *card)
{
	char reason[HELPER_MAX_REASON];
	int r = export(f, card, reason);
	if (r != 0) {
		test_fail("export of %s refused: %d \"%s\"", card, r, reason);
	}
}

/* Lines the helper logged since the last call that contain what. */
static int logged(struct fixture *f, const char *what)
{
	static char log[8192];
	ssize_t n = read(f->log_pipe[0], log, sizeof(log) - 1);
	log[n > 0 ? n : 0] = '\0';
	int count = 0;
	for (const char *p = log; (p = strstr(p, what)) != NULL; p += strlen(what)) {
		count++;
	}
	return count;
}

static void test_active_local_session_exports(void)
{
	struct fake_logind logind = peer_active_on_seat0();
	struct fixture f = setup(&logind);
	for (int i = 0; i < 3; i++) {
		expect_exported(&f, "card0");
	}
	test_assert_int_eq(open_cards, 1);
	test_assert(logind.calls >= 9); /* asked on every export, not once */
	test_assert_int_eq(logged(&f, "refusing"), 0);
	teardown(&f);
}

static void test_other_uid_active_refused(void)
{
	uid_t me = getuid();
	/* The greeter, a lock screen of another user, or a fast user switch: another uid. */
	struct fake_logind logind = {.seats = {{"c2", me + 1}, {NULL, 0}}};
	struct fixture f = setup(&logind);
	char what[64];
	snprintf(what, sizeof(what), "seat0: active session c2 is uid %u's, not %u's", me + 1, me);
	expect_refused(&f, "card0", what);
	test_assert_int_eq(open_cards, 0);
	test_assert_int_eq(logged(&f, "refusing exports to uid"), 1);
	/* No active session at all on the seat. */
	logind.seats[0].active = NULL;
	expect_refused(&f, "card0", "seat0 has no active session");
	teardown(&f);
}

static void test_remote_session_refused(void)
{
	struct fake_logind logind = peer_active_on_seat0();
	logind.remote[0] = 1;
	struct fixture f = setup(&logind);
	expect_refused(&f, "card0", "seat0: active session c0 is remote");
	/* Cannot tell: refused too. */
	logind.remote[0] = -EIO;
	expect_refused(&f, "card0", "is session c0 local?");
	test_assert_int_eq(open_cards, 0);
	teardown(&f);
}

static void test_card_on_other_seat_refused(void)
{
	struct fake_logind logind = peer_active_on_seat0();
	struct fixture f = setup(&logind);
	char what[64];
	snprintf(what, sizeof(what), "seat1: active session c1 is uid %u's", getuid() + 1);
	expect_refused(&f, "card1", what);
	expect_exported(&f, "card0");
	logind.seats[1].active = NULL;
	expect_refused(&f, "card1", "seat1 has no active session");
	/* A card that appeared after start-up has no known seat. */
	expect_refused(&f, "card7", "card7 appeared after the helper started");
	/* A card that cannot be opened keeps its own error. */
	char reason[HELPER_MAX_REASON];
	test_assert_int_eq(export(&f, "card9", reason), -ENOENT);
	test_assert(strstr(reason, "cannot open /dev/dri/card9") != NULL);
	teardown(&f);
}

static void test_switch_mid_stream_drops_cards(void)
{
	struct fake_logind logind = peer_active_on_seat0();
	struct fixture f = setup(&logind);
	for (int i = 0; i < 5; i++) {
		expect_exported(&f, "card0");
	}
	test_assert_int_eq(open_cards, 1);
	int fds_streaming = count_fds();

	/* Fast user switch: uid + 1's session c1 becomes the active one on seat0. */
	logind.seats[0] = (struct fake_seat){"c1", getuid() + 1};
	for (int i = 0; i < 5; i++) {
		expect_refused(&f, "card0", "active session c1 is uid");
	}
	test_assert_int_eq(open_cards, 0);
	test_assert_int_eq(count_fds(), fds_streaming - 1);
	/* One line for the change, not one per refused frame. */
	test_assert_int_eq(logged(&f, "refusing exports to uid"), 1);

	/* Switched back: exports resume, the card is opened afresh. */
	logind.seats[0] = (struct fake_seat){"c0", getuid()};
	expect_exported(&f, "card0");
	test_assert_int_eq(open_cards, 1);
	test_assert_int_eq(logged(&f, "allowed again"), 1);
	teardown(&f);
}

/* One check of FB 42 on card; returns 0 (SAME) or the helper's error. */
static int check(struct fixture *f, const char *card)
{
	static uint32_t seq = 1000;
	struct helper_msg_check req = make_check(++seq, card, 42);
	test_assert_int_eq(send_with_fds(f->peer, &req, sizeof(req), -1, 0), sizeof(req));
	test_assert_int_eq(helper_server_dispatch(f->server, 1000), 0);
	union {
		struct helper_msg_header hdr;
		struct helper_msg_error err;
		struct helper_msg_same same;
	} reply;
	int n_fds = -1;
	test_assert(recv_record(f->peer, &reply, sizeof(reply), 1000, &n_fds) > 0);
	test_assert_int_eq(reply.hdr.seq, seq);
	test_assert_int_eq(n_fds, 0);
	test_assert_int_eq(helper_server_client_count(f->server), 1);
	return reply.hdr.type == HELPER_MSG_SAME ? 0 : reply.err.error;
}

/*
 * CHECK asks logind nothing: it hands out no fd. What it answers about went with the card
 * cache when an export was refused, so after a switch it can only say "export again".
 */
static void test_check_skips_seat_check(void)
{
	struct fake_logind logind = peer_active_on_seat0();
	struct fixture f = setup(&logind);
	expect_exported(&f, "card0");
	int calls = logind.calls;
	test_assert_int_eq(check(&f, "card0"), 0);
	test_assert_int_eq(check(&f, "card1"), -ESTALE);
	test_assert_int_eq(logind.calls, calls);
	test_assert_int_eq(open_cards, 1); /* card1 was not opened */

	logind.seats[0] = (struct fake_seat){"c1", getuid() + 1};
	expect_refused(&f, "card0", "active session c1 is uid");
	calls = logind.calls;
	test_assert_int_eq(check(&f, "card0"), -ESTALE);
	test_assert_int_eq(logind.calls, calls);
	test_assert_int_eq(open_cards, 0);
	teardown(&f);
}

/* A directory of our own for config files and a fake /run/systemd/seats. */
static char tmp_dir[64];

static void make_tmp_dir(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/kmscast-session-XXXXXX");
	test_assert(mkdtemp(tmp_dir) != NULL);
	test_assert(chmod(tmp_dir, 0755) == 0);
	char seats[96];
	snprintf(seats, sizeof(seats), "%s/seats", tmp_dir);
	test_assert(mkdir(seats, 0755) == 0);
}

static void remove_tmp_dir(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	test_assert(system(cmd) == 0);
}

static void test_no_logind_falls_back(void)
{
	make_tmp_dir();
	char seats[96], missing[96], conf[96];
	snprintf(seats, sizeof(seats), "%s/seats/", tmp_dir);
	snprintf(missing, sizeof(missing), "%s/no-such-dir/", tmp_dir);
	snprintf(conf, sizeof(conf), "%s/helper.conf", tmp_dir);
	test_assert_int_eq(helper_session_decide(seats, conf, getuid()), HELPER_SEATS_CHECKED);
	test_assert_int_eq(helper_session_decide(missing, conf, getuid()), HELPER_SEATS_NO_LOGIND);
	remove_tmp_dir();

	/* As main.c does: no policy without logind. Another uid's session would be active. */
	struct fake_logind logind = {.seats = {{"c2", getuid() + 1}, {NULL, 0}}};
	enum helper_seat_checks checks = helper_session_decide(missing, conf, getuid());
	struct fixture f = setup(checks == HELPER_SEATS_CHECKED ? &logind : NULL);
	expect_exported(&f, "card0");
	expect_exported(&f, "card1");
	test_assert_int_eq(logind.calls, 0);
	teardown(&f);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	test_assert(fd >= 0);
	test_assert_int_eq(write(fd, text, strlen(text)), (long long)strlen(text));
	test_assert(fchmod(fd, mode) == 0);
	close(fd);
}

static enum helper_seat_checks decide_with(const char *conf, uid_t owner)
{
	char seats[96];
	snprintf(seats, sizeof(seats), "%s/seats/", tmp_dir);
	return helper_session_decide(seats, conf, owner);
}

static void test_escape_hatch_only_from_trusted_file(void)
{
	make_tmp_dir();
	uid_t me = getuid();
	char conf[96], link[96];
	snprintf(conf, sizeof(conf), "%s/helper.conf", tmp_dir);
	snprintf(link, sizeof(link), "%s/link.conf", tmp_dir);
	const char *allow = "# kiosk\nallow-without-session = true\n";

	/* No file: checks on. */
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_CHECKED);
	/* Owned by the required owner, 0644: off. */
	write_file(conf, allow, 0644);
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_ALLOWED_BY_CONFIG);
	/* Owned by someone else (the real helper requires uid 0). */
	test_assert_int_eq(decide_with(conf, me + 1), HELPER_SEATS_CHECKED);
	if (me == 0) {
		test_assert(chown(conf, 65534, 65534) == 0);
		test_assert_int_eq(decide_with(conf, 0), HELPER_SEATS_CHECKED);
		test_assert(chown(conf, 0, 0) == 0);
	}
	/* Writable by others, or by the group. */
	write_file(conf, allow, 0646);
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_CHECKED);
	write_file(conf, allow, 0664);
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_CHECKED);
	/* In a directory others may write to (they could replace the file). */
	write_file(conf, allow, 0644);
	test_assert(chmod(tmp_dir, 0777) == 0);
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_CHECKED);
	test_assert(chmod(tmp_dir, 0755) == 0);
	test_assert_int_eq(decide_with(conf, me), HELPER_SEATS_ALLOWED_BY_CONFIG);
	/* A symlink to a good file is not followed. */
	test_assert(symlink(conf, link) == 0);
	test_assert_int_eq(decide_with(link, me), HELPER_SEATS_CHECKED);
	/* false, a typo, an unknown key, a bad value: checks stay on. */
	const char *bad[] = {"allow-without-session = false\n", "allow-without-sesion = true\n",
		"allow-without-session = yes\n", "allow-without-session true\n",
		"allow-without-session = true\nother = 1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(conf, bad[i], 0644);
		if (decide_with(conf, me) != HELPER_SEATS_CHECKED) {
			test_fail("config \"%s\" turned the checks off", bad[i]);
		}
	}
	remove_tmp_dir();
}

TEST_MAIN(TEST(test_active_local_session_exports), TEST(test_other_uid_active_refused),
	TEST(test_remote_session_refused), TEST(test_card_on_other_seat_refused),
	TEST(test_switch_mid_stream_drops_cards), TEST(test_no_logind_falls_back),
	TEST(test_escape_hatch_only_from_trusted_file), TEST(test_check_skips_seat_check))
