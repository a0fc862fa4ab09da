/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the kmscast-helper unit tests and the helper-client fuzzer: fd
 * counting, raw records, and sending them with fds attached.
 */
#ifndef KMSCAST_TEST_HELPER_UTIL_H
#define KMSCAST_TEST_HELPER_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmscast/helper-protocol.h"
#include "test.h"

/* Open fds of this process, as /proc/self/fd lists them (the directory's own fd excluded). */
static inline int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	test_assert(dir != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(dir);
	return n - 1;
}

static inline void fill_test_header(
	struct helper_msg_header *hdr, uint16_t type, uint32_t size, uint32_t seq)
{
	hdr->magic = HELPER_PROTO_MAGIC;
	hdr->version = HELPER_PROTO_VERSION;
	hdr->type = type;
	hdr->size = size;
	hdr->seq = seq;
}

static inline struct helper_msg_hello make_hello(uint32_t seq)
{
	struct helper_msg_hello msg;
	memset(&msg, 0, sizeof(msg));
	fill_test_header(&msg.hdr, HELPER_MSG_HELLO, sizeof(msg), seq);
	msg.proto_version = HELPER_PROTO_VERSION;
	return msg;
}

static inline struct helper_msg_export make_export(
	uint32_t seq, const char *card, uint32_t crtc, uint32_t plane)
{
	struct helper_msg_export msg;
	memset(&msg, 0, sizeof(msg));
	fill_test_header(&msg.hdr, HELPER_MSG_EXPORT, sizeof(msg), seq);
	memcpy(msg.card, card, strnlen(card, sizeof(msg.card)));
	msg.crtc_id = crtc;
	msg.plane = plane;
	return msg;
}

static inline struct helper_msg_check make_check(uint32_t seq, const char *card, uint32_t fb_id)
{
	struct helper_msg_check msg;
	memset(&msg, 0, sizeof(msg));
	fill_test_header(&msg.hdr, HELPER_MSG_CHECK, sizeof(msg), seq);
	memcpy(msg.card, card, strnlen(card, sizeof(msg.card)));
	msg.fb_id = fb_id;
	return msg;
}

/* More than the kernel's SCM_MAX_FD (253): a test can watch sendmsg refuse with -EINVAL. */
#define TEST_MAX_SEND_FDS 300

/*
 * sendmsg one record with fds[0..n_fds) attached (SCM_RIGHTS), without blocking. The caller
 * keeps its fds; the socket queues its own copies. Returns sendmsg's result (-errno), or
 * -E2BIG for more than TEST_MAX_SEND_FDS fds.
 */
static inline int send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TEST_MAX_SEND_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n_fds > TEST_MAX_SEND_FDS) {
		return -E2BIG;
	}
	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}
	ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : (int)n;
}

/* send_fds with n_fds copies of fd attached. */
static inline int send_with_fds(int sock, const void *buf, size_t len, int fd, size_t n_fds)
{
	int fds[TEST_MAX_SEND_FDS];
	if (n_fds > TEST_MAX_SEND_FDS) {
		return -E2BIG;
	}
	for (size_t i = 0; i < n_fds; i++) {
		fds[i] = fd;
	}
	return send_fds(sock, buf, len, fds, n_fds);
}

/*
 * Receives one record within timeout_ms, closing (and counting) any fds attached.
 * Returns its length, 0 at EOF, -ETIMEDOUT, or -errno.
 */
static inline int recv_record(int sock, void *buf, size_t size, int timeout_ms, int *n_fds)
{
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) == 0) {
		return -ETIMEDOUT;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		return -errno;
	}
	int count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
			count++;
		}
	}
	if (n_fds != NULL) {
		*n_fds = count;
	}
	return (int)n;
}

#endif
