/* SPDX-License-Identifier: MIT */
/*
 * The node's helper thread (spa-plugin/source-helper.c) with the real client against a fake
 * helper: a thread of this test serving the protocol on a unix socket (the socket-activated
 * mode), answering EXPORT with a memfd (which the test build of the client accepts as a
 * dma-buf) and CHECK with SAME, or holding every answer back while told to stall.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "source-helper.h"
#include "test-helper-util.h"

#define TEST_TIMEOUT_MS 300

struct fake_helper {
	char path[64];
	int listen_fd;
	int release[2]; /* while stall: each answer waits for a byte here */
	bool stall; /* atomic */
	pthread_t thread;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
} wakes = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_wake(void *data)
{
	pthread_mutex_lock(&wakes.lock);
	wakes.done++;
	pthread_cond_broadcast(&wakes.cond);
	pthread_mutex_unlock(&wakes.lock);
}

static const struct source_helper_events events = {.wake = on_wake};

/* Waits until n jobs were reported done since the last reset; fails after 5 s. */
static void wait_done(int n)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&wakes.lock);
	while (wakes.done < n) {
		test_assert(pthread_cond_timedwait(&wakes.cond, &wakes.lock, &deadline) == 0);
	}
	wakes.done = 0;
	pthread_mutex_unlock(&wakes.lock);
}

static void send_fb(int conn, uint32_t seq, uint32_t fb_id)
{
	struct helper_msg_fb fb;
	int memfd = memfd_create("fake-fb", MFD_CLOEXEC);
	test_assert(memfd >= 0);
	test_assert(ftruncate(memfd, 64 * 256) == 0);
	memset(&fb, 0, sizeof(fb));
	helper_build_fb_header(&fb, seq);
	fb.fb_id = fb_id;
	fb.width = fb.height = 64;
	fb.pitches[0] = 256;
	fb.n_planes = fb.n_fds = 1;
	send_fds(conn, &fb, sizeof(fb), &memfd, 1); /* fails once the client gave up: fine */
	close(memfd);
}

static void answer(struct fake_helper *f, int conn, const void *buf)
{
	const struct helper_msg_header *hdr = buf;
	char byte;

	if (hdr->type == HELPER_MSG_HELLO) {
		struct helper_msg_hello reply;
		helper_build_hello_reply(&reply, hdr->seq);
		send(conn, &reply, sizeof(reply), MSG_NOSIGNAL);
		return;
	}
	if (__atomic_load_n(&f->stall, __ATOMIC_ACQUIRE)) {
		test_assert(read(f->release[0], &byte, 1) == 1);
	}
	if (hdr->type == HELPER_MSG_EXPORT) {
		/* fb_id: the CRTC asked for, so that the test can tell the answers apart */
		send_fb(conn, hdr->seq, ((const struct helper_msg_export *)buf)->crtc_id);
	} else if (hdr->type == HELPER_MSG_CHECK) {
		struct helper_msg_same same;
		helper_build_same_reply(&same, hdr->seq, ((const struct helper_msg_check *)buf)->fb_id);
		send(conn, &same, sizeof(same), MSG_NOSIGNAL);
	}
}

/* One connection after another, until the listening socket is shut down. */
static void *serve(void *arg)
{
	struct fake_helper *f = arg;
	char buf[HELPER_MAX_MSG_SIZE];
	int conn;

	while ((conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		while (read(conn, buf, sizeof(buf)) >= (ssize_t)sizeof(struct helper_msg_header)) {
			answer(f, conn, buf);
		}
		close(conn);
	}
	return NULL;
}

static void fake_start(struct fake_helper *f)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/kmscast-test-source-helper-%d", (int)getpid());
	unlink(f->path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	test_assert(f->listen_fd >= 0);
	test_assert(bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	test_assert(listen(f->listen_fd, 4) == 0);
	test_assert(pipe2(f->release, O_CLOEXEC) == 0);
	test_assert(pthread_create(&f->thread, NULL, serve, f) == 0);
}

static void fake_release(struct fake_helper *f, int n)
{
	for (int i = 0; i < n; i++) {
		test_assert(write(f->release[1], "x", 1) == 1);
	}
}

static void fake_stop(struct fake_helper *f)
{
	shutdown(f->listen_fd, SHUT_RDWR); /* accept fails: serve returns */
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	close(f->release[0]);
	close(f->release[1]);
	unlink(f->path);
}

static void helper_start(struct source_helper *h, struct fake_helper *f)
{
	struct helper_client_options opts = {
		.mode = HELPER_MODE_SOCKET,
		.socket_path = f->path,
		.timeout_ms = TEST_TIMEOUT_MS,
	};
	wakes.done = 0;
	test_assert_int_eq(source_helper_start(h, &opts, &events, NULL), 0);
}

static int submit(struct source_helper *h, enum source_helper_op op, uint32_t tag, uint32_t id)
{
	struct source_helper_job job = {
		.op = op,
		.plane = KMSCAST_PLANE_PRIMARY,
		.card = "card0",
		.crtc_id = 1000 + tag,
		.fb_id = id,
		.tag = tag,
	};
	return source_helper_submit(h, &job);
}

/* Answers come back in the order asked, exports with their fds, checks without. */
static void test_fifo_and_handoff(void)
{
	struct fake_helper f;
	struct source_helper h;
	struct source_helper_job job;
	int base = count_fds();

	fake_start(&f);
	helper_start(&h, &f);
	for (uint32_t i = 0; i < 6; i++) {
		test_assert_int_eq(submit(&h, i % 2 ? SOURCE_HELPER_CHECK : SOURCE_HELPER_EXPORT,
					   i, 7 + i),
			0);
	}
	wait_done(6);
	for (uint32_t i = 0; i < 6; i++) {
		test_assert_int_eq(source_helper_collect(&h, &job), 1);
		test_assert_int_eq(job.tag, i);
		if (i % 2) {
			test_assert_int_eq(job.check_res, 0);
			test_assert_int_eq(job.export_res, -ECANCELED);
			test_assert_int_eq(job.fb.n_fds, 0);
		} else {
			test_assert_int_eq(job.export_res, 0);
			test_assert_int_eq(job.fb.fb_id, 1000 + i);
			test_assert_int_eq(job.fb.n_fds, 1);
			test_assert(fcntl(job.fb.fds[0], F_GETFD) == FD_CLOEXEC);
		}
		helper_fb_finish(&job.fb); /* the collector's now */
	}
	test_assert_int_eq(source_helper_collect(&h, &job), 0);
	source_helper_stop(&h);
	fake_stop(&f);
	test_assert_int_eq(count_fds(), base);
}

/* A stalled helper: submits return at once, and a full ring refuses with -EBUSY. */
static void test_full_queue_refuses_without_waiting(void)
{
	struct fake_helper f;
	struct source_helper h;
	struct source_helper_job job;
	int64_t start;

	fake_start(&f);
	__atomic_store_n(&f.stall, true, __ATOMIC_RELEASE);
	helper_start(&h, &f);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 0, 0), 0);
	usleep(50 * 1000); /* the worker is in the stalled round trip now */
	start = now_ms();
	for (uint32_t i = 1; i < SOURCE_HELPER_QUEUE; i++) {
		test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, i, 0), 0);
	}
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 99, 0), -EBUSY);
	test_assert(now_ms() - start < 50);
	test_assert_int_eq(source_helper_collect(&h, &job), 0);

	fake_release(&f, SOURCE_HELPER_QUEUE);
	wait_done(SOURCE_HELPER_QUEUE);
	for (uint32_t i = 0; i < SOURCE_HELPER_QUEUE; i++) {
		test_assert_int_eq(source_helper_collect(&h, &job), 1);
		test_assert_int_eq(job.tag, i);
		test_assert_int_eq(job.export_res, 0);
		helper_fb_finish(&job.fb);
	}
	/* Room again once collected. */
	__atomic_store_n(&f.stall, false, __ATOMIC_RELEASE);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 100, 0), 0);
	wait_done(1);
	source_helper_stop(&h); /* closes the fds of the one not collected */
	fake_stop(&f);
}

/*
 * Stopping with exports done but not collected, one stalled and one waiting: every fd the
 * ring holds is closed, and the stop waits for the stalled one no longer than its timeout.
 */
static void test_stop_closes_every_fd(void)
{
	struct fake_helper f;
	struct source_helper h;
	int base = count_fds();
	int64_t start;

	fake_start(&f);
	helper_start(&h, &f);
	for (uint32_t i = 0; i < 3; i++) {
		test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, i, 0), 0);
	}
	wait_done(3);
	__atomic_store_n(&f.stall, true, __ATOMIC_RELEASE);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 3, 0), 0);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 4, 0), 0);
	usleep(50 * 1000);
	start = now_ms();
	source_helper_stop(&h);
	test_assert(now_ms() - start < TEST_TIMEOUT_MS + 500);
	fake_release(&f, 2); /* the fake's late answer goes nowhere */
	fake_stop(&f);
	test_assert_int_eq(count_fds(), base);
}

/* A dropped connection is gone before the next request: a check has nothing to ask. */
static void test_drop_connection(void)
{
	struct fake_helper f;
	struct source_helper h;
	struct source_helper_job job;

	fake_start(&f);
	helper_start(&h, &f);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_EXPORT, 0, 0), 0);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_CHECK, 1, 1000), 0);
	wait_done(2);
	test_assert_int_eq(source_helper_collect(&h, &job), 1);
	helper_fb_finish(&job.fb);
	test_assert_int_eq(source_helper_collect(&h, &job), 1);
	test_assert_int_eq(job.check_res, 0);

	source_helper_drop_connection(&h);
	test_assert_int_eq(submit(&h, SOURCE_HELPER_CHECK, 2, 1000), 0);
	wait_done(1);
	test_assert_int_eq(source_helper_collect(&h, &job), 1);
	test_assert_int_eq(job.check_res, -ENOTCONN);
	/* A failed check exports in the same turn, on a new connection. */
	test_assert_int_eq(job.export_res, 0);
	helper_fb_finish(&job.fb);
	source_helper_stop(&h);
	fake_stop(&f);
}

int main(void)
{
	int memfd = memfd_create("fs-type", MFD_CLOEXEC);
	struct statfs st;

	test_assert(memfd >= 0 && fstatfs(memfd, &st) == 0);
	helper_client_test_accept_fs_type = (long)st.f_type;
	close(memfd);

	static const struct test_case cases[] = {
		TEST(test_fifo_and_handoff),
		TEST(test_full_queue_refuses_without_waiting),
		TEST(test_stop_closes_every_fd),
		TEST(test_drop_connection),
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].func();
		printf("ok %zu - %s\n", i + 1, cases[i].name);
	}
	return 0;
}
