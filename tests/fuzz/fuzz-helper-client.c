/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the helper client's side of a hostile helper: the records the
 * client reads, with whatever fds come with them, through its real socket code (recvmsg,
 * SCM_RIGHTS, truncation, the dma-buf check, the reply parser, reconnection).
 *
 * A thread plays the helper on a socket in a private directory: it accepts the client's
 * connection and queues the input's records there, then drains the client's requests until
 * it hangs up. The client (socket mode) connects and exports once, or checks an FB. Input:
 *   byte 0: flags
 *     bit 0: queue a valid hello reply first (else the first record answers the hello);
 *     bit 1: stamp each record's seq with the one the client expects;
 *     bit 2: let memfds pass as dma-bufs (the test hook), to reach the accepting path;
 *     bit 3: hang up right after queueing (the client's send fails; it reads the reason);
 *     bit 4: connect, then check FB 42 instead of exporting (SAME, fds on it; a failed
 *            connect leaves the check -ENOTCONN);
 *   then up to MAX_RECORDS records: a length byte (0xff: OVERSIZED_LEN bytes), an fd byte
 *   (bits 0-2: how many fds, bits 3-4: memfd, pipe, /dev/null, or alternating memfd and
 *   pipe), and the record's bytes.
 * Afterwards: a failed export holds no fd, a successful one holds only dma-bufs (or memfds
 * under bit 2), a check that timed out or met a garbled reply dropped the connection (and one
 * without a connection neither made one nor got past -ENOTCONN), and no fd has leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/magic.h>

#include "fuzz.h"
#include "helper-client.h"
#include "test-helper-util.h"

#define MAX_RECORDS 8
#define MAX_RECORD_FDS 7 /* more than HELPER_MAX_FDS: the client must cope with MSG_CTRUNC */
#define OVERSIZED_LEN (HELPER_MAX_MSG_SIZE + 44)
/* Short: a client that reconnects (after a zero-length record) waits this long for nobody. */
#define CLIENT_TIMEOUT_MS 50
#define FLAG_HELLO 1u
#define FLAG_STAMP_SEQ 2u
#define FLAG_ACCEPT_MEMFD 4u
#define FLAG_HANG_UP 8u
#define FLAG_CHECK 16u

enum fd_kind { FD_MEMFD, FD_PIPE, FD_NULL, FD_MIXED };

struct fake_helper {
	int listen_fd;
	const uint8_t *data;
	size_t size;
};

static char socket_path[108];

static int make_fd(enum fd_kind kind, size_t i)
{
	if (kind == FD_MIXED) {
		kind = i % 2 ? FD_PIPE : FD_MEMFD;
	}
	if (kind == FD_MEMFD) {
		return memfd_create("fuzz-fb", MFD_CLOEXEC);
	}
	if (kind == FD_NULL) {
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		return -1;
	}
	close(p[1]);
	return p[0];
}

static void send_record(int sock, const uint8_t *rec, size_t len, uint8_t fd_spec)
{
	size_t n_fds = fd_spec & 7u;
	int fds[MAX_RECORD_FDS] = {0}; /* [0, n_fds) filled below; gcc cannot tell */

	for (size_t i = 0; i < n_fds; i++) {
		if ((fds[i] = make_fd((enum fd_kind)((fd_spec >> 3) & 3u), i)) < 0) {
			abort();
		}
	}
	(void)send_fds(sock, rec, len, fds, n_fds);
	for (size_t i = 0; i < n_fds; i++) {
		close(fds[i]); /* the queued copies now belong to the socket */
	}
}

static void queue_hello_reply(int sock)
{
	struct helper_msg_hello hello;
	memset(&hello, 0, sizeof(hello));
	hello.hdr.magic = HELPER_PROTO_MAGIC;
	hello.hdr.version = HELPER_PROTO_VERSION;
	hello.hdr.type = HELPER_MSG_HELLO_REPLY;
	hello.hdr.size = sizeof(hello);
	hello.hdr.seq = 1;
	hello.proto_version = HELPER_PROTO_VERSION;
	send_record(sock, (const uint8_t *)&hello, sizeof(hello), 0);
}

/* The client's seq: 1 for the hello, 2 for the export or check. */
static void queue_records(int sock, const uint8_t *data, size_t size)
{
	uint8_t flags = data[0];
	uint8_t rec[OVERSIZED_LEN];
	size_t pos = 1;

	if (flags & FLAG_HELLO) {
		queue_hello_reply(sock);
	}
	for (int n = 0; n < MAX_RECORDS && pos + 2 <= size; n++) {
		size_t len = data[pos] == 0xff ? OVERSIZED_LEN : data[pos];
		uint8_t fd_spec = data[pos + 1];
		pos += 2;
		size_t avail = size - pos < len ? size - pos : len;
		memset(rec, 0, sizeof(rec));
		memcpy(rec, data + pos, avail);
		pos += avail;
		if ((flags & FLAG_STAMP_SEQ) && len >= sizeof(struct helper_msg_header)) {
			uint32_t seq = n == 0 && !(flags & FLAG_HELLO) ? 1 : 2;
			memcpy(rec + offsetof(struct helper_msg_header, seq), &seq, sizeof(seq));
		}
		send_record(sock, rec, len, fd_spec);
	}
}

static void *fake_helper_main(void *arg)
{
	struct fake_helper *h = arg;
	uint8_t buf[HELPER_MAX_MSG_SIZE];
	struct pollfd pfd = {.fd = h->listen_fd, .events = POLLIN};

	if (poll(&pfd, 1, 5000) <= 0) {
		return NULL;
	}
	int sock = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0) {
		return NULL;
	}
	queue_records(sock, h->data, h->size);
	if (h->data[0] & FLAG_HANG_UP) {
		close(sock);
		return NULL;
	}
	/* Until the client hangs up (it closes a connection it dropped, or is destroyed). */
	pfd.fd = sock;
	while (poll(&pfd, 1, 5000) > 0 && recv(sock, buf, sizeof(buf), 0) > 0) {
	}
	close(sock);
	return NULL;
}

static int listen_socket(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/kmscast-fuzz-client-XXXXXX";
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	snprintf(socket_path, sizeof(socket_path), "%s/helper.sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	/* Non-blocking: drop_backlog accepts until there is nothing left. */
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		abort();
	}
	return fd;
}

static void remove_socket(void)
{
	char dir[sizeof(socket_path)];
	unlink(socket_path);
	snprintf(dir, sizeof(dir), "%s", socket_path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* Connections the client made after the first (a retry) were never accepted: drop them. */
static void drop_backlog(int listen_fd)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
	}
}

static void check_result(int r, struct helper_fb *fb, long accepted_fs_type)
{
	if (r < 0) {
		if (fb->n_fds != 0) {
			abort();
		}
		for (size_t i = 0; i < HELPER_MAX_FDS; i++) {
			if (fb->fds[i] != -1) {
				abort();
			}
		}
		return;
	}
	if (fb->n_fds < 1 || fb->n_fds > HELPER_MAX_FDS) {
		abort();
	}
	for (uint32_t i = 0; i < fb->n_fds; i++) {
		struct statfs st;
		struct stat sb;
		if (fstatfs(fb->fds[i], &st) < 0 || fstat(fb->fds[i], &sb) < 0) {
			abort();
		}
		if (st.f_type != DMA_BUF_MAGIC &&
			((long)st.f_type != accepted_fs_type || !S_ISREG(sb.st_mode))) {
			abort(); /* a non-dma-buf got through */
		}
	}
}

/*
 * A check never reconnects, and keeps the connection only for SAME or a request the helper
 * refused: -ETIMEDOUT and -EPROTO drop it.
 */
static void run_check(struct helper_client *client)
{
	int connected = helper_client_connect(client);
	int r = helper_client_check(client, "card0", 42);
	if (connected < 0 && r != -ENOTCONN) {
		abort();
	}
	if ((r == -ETIMEDOUT || r == -EPROTO || r == -ENOTCONN) &&
		helper_client_helper_pid(client) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int listen_fd = -1, open_fds = -1;
	static long memfd_fs_type;
	if (listen_fd < 0) {
		listen_fd = listen_socket();
		atexit(remove_socket);
		int memfd = memfd_create("probe", MFD_CLOEXEC);
		struct statfs st;
		if (memfd < 0 || fstatfs(memfd, &st) < 0) {
			abort();
		}
		close(memfd);
		memfd_fs_type = (long)st.f_type;
		open_fds = fuzz_fd_baseline();
	}
	if (size < 1) {
		return 0;
	}

	helper_client_test_accept_fs_type = data[0] & FLAG_ACCEPT_MEMFD ? memfd_fs_type : 0;
	struct fake_helper helper = {.listen_fd = listen_fd, .data = data, .size = size};
	pthread_t thread;
	if (pthread_create(&thread, NULL, fake_helper_main, &helper) != 0) {
		abort();
	}
	struct helper_client_options opts = {
		.mode = HELPER_MODE_SOCKET,
		.socket_path = socket_path,
		.timeout_ms = CLIENT_TIMEOUT_MS,
	};
	struct helper_client *client = NULL;
	struct helper_fb fb;
	if (helper_client_create(&opts, &client) < 0) {
		abort();
	}
	if (data[0] & FLAG_CHECK) {
		run_check(client);
	} else {
		int r = helper_client_export(client, "card0", 1, KMSCAST_PLANE_PRIMARY, &fb);
		check_result(r, &fb, helper_client_test_accept_fs_type);
		helper_fb_finish(&fb);
	}
	helper_client_destroy(client);
	pthread_join(thread, NULL);
	drop_backlog(listen_fd);

	if (fuzz_open_fds() != open_fds) {
		abort(); /* an fd leaked */
	}
	return 0;
}
