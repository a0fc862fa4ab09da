/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the kmscast-helper protocol.
 *
 * The input is a sequence of records, each a length byte followed by that many bytes (a
 * length byte of 0xff means 300 bytes: oversized). They are fed three ways:
 *  1. the whole input, as one record, to the pure request parser and the client's reply
 *     parser;
 *  2. each record sent over a SOCK_SEQPACKET socketpair to the helper's real connection code
 *     (helper/server.c) with a fake export backend, dispatching after every send, with the
 *     replies drained, in the spirit of systemd's fuzz-varlink.c;
 *  3. afterwards, as many fds are open as before: nothing leaked.
 *
 * Built with -fsanitize=fuzzer when the 'fuzz' option is on (clang); otherwise linked with
 * fuzz-replay.c, a main() that replays files or directories given on the command line, so
 * every build runs the corpus in tests/fuzz/corpus/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "helper-client.h"
#include "helper.h"

#define OVERSIZED_LEN 300
#define MAX_RECORDS 64

static int fake_conn_create(void *data, void **state)
{
	*state = NULL;
	return 0;
}

static void fake_conn_destroy(void *data, void *state)
{
}

/* crtc_id picks the outcome: even = an error reply, odd = a 1- or 2-fd FB. */
static int fake_export(void *data, void *state, const struct helper_request *req,
	struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], char *reason, size_t size)
{
	if (req->crtc_id % 2 == 0) {
		snprintf(reason, size, "CRTC %u is off", req->crtc_id);
		return -ENODATA;
	}
	uint32_t n = req->crtc_id % 4 == 3 ? 2 : 1;
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = memfd_create("fuzz", MFD_CLOEXEC);
		if (fds[i] < 0) {
			abort();
		}
		fb->plane_fd_index[i] = i;
	}
	fb->width = fb->height = 16;
	fb->n_planes = fb->n_fds = n;
	return 0;
}

/* fb_id picks the answer to CHECK: odd = SAME, even = an error reply. */
static int fake_check(
	void *data, void *state, const struct helper_request *req, char *reason, size_t size)
{
	if (req->fb_id % 2 == 0) {
		snprintf(reason, size, "FB %u is another buffer now", req->fb_id);
		return -ESTALE;
	}
	return 0;
}

static const struct helper_backend fake_backend = {
	.conn_create = fake_conn_create,
	.conn_destroy = fake_conn_destroy,
	.export_fb = fake_export,
	.check_fb = fake_check,
};

static void parse_whole(const uint8_t *data, size_t size)
{
	char reason[HELPER_MAX_REASON];
	struct helper_request req;
	struct helper_rx_meta meta = {.msg_flags = size > 0 && data[0] % 3 == 1 ? MSG_CTRUNC : 0};
	(void)helper_parse_request(data, size, &meta, &req, reason, sizeof(reason));

	struct helper_fb fb;
	memset(&fb, 0, sizeof(fb));
	uint16_t type;
	size_t n_fds = size > 1 ? data[1] % 5 : 0;
	(void)helper_client_parse_reply(
		data, size, n_fds, size > 2 ? data[2] : 0, &type, &fb, reason, sizeof(reason));
}

static void drain(int fd)
{
	uint8_t buf[HELPER_MAX_MSG_SIZE];
	union {
		char buf[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	for (;;) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr msg = {.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf)};
		if (recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) {
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int received;
				memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(received);
			}
		}
	}
}

static void feed_server(const uint8_t *data, size_t size)
{
	struct helper_server_config config = {
		.backend = &fake_backend,
		.accept_policy = HELPER_PEER_ANY,
		.hello_timeout_ms = HELPER_HELLO_TIMEOUT_MS,
	};
	struct helper_server *server = helper_server_create(&config);
	int sv[2];
	if (server == NULL || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		abort();
	}
	helper_server_add_client(server, sv[1]); /* sv[1] now owned by server */

	uint8_t big[OVERSIZED_LEN] = {0};
	size_t pos = 0;
	for (int n = 0; n < MAX_RECORDS && pos < size; n++) {
		size_t len = data[pos] == 0xff ? OVERSIZED_LEN : data[pos];
		pos++;
		len = len > size - pos ? size - pos : len;
		const uint8_t *record = data + pos;
		if (data[pos - 1] == 0xff) {
			memcpy(big, data + pos, len);
			record = big;
			len = OVERSIZED_LEN;
		}
		pos += data[pos - 1] == 0xff
			       ? (size - pos < OVERSIZED_LEN ? size - pos : OVERSIZED_LEN)
			       : len;
		if (send(sv[0], record, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			break;
		}
		helper_server_dispatch(server, 0);
		drain(sv[0]);
		if (helper_server_client_count(server) == 0) {
			break;
		}
	}
	helper_server_destroy(server);
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int open_fds = -1;
	if (open_fds < 0) {
		open_fds = fuzz_fd_baseline();
		/* The helper logs every protocol error; keep libFuzzer's own output readable. */
		helper_log_set_fd(-1);
	}
	parse_whole(data, size);
	feed_server(data, size);

	if (fuzz_open_fds() != open_fds) {
		abort(); /* an fd leaked */
	}
	return 0;
}
