/* SPDX-License-Identifier: MIT */
/*
 * Records on the kmscast-helper socket, as both ends see them (include/kmscast/wire.h).
 * Everything here is either pure or one system call on a socket the caller owns: no
 * allocation, no globals, no logging, so the helper's seccomp filter and the fuzzers see the
 * same code the client runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmscast/wire.h"

static int malformed(char *reason, size_t reason_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int malformed(char *reason, size_t reason_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, reason_size, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

size_t wire_msg_size(enum wire_direction dir, uint16_t type)
{
	switch (type) {
	case HELPER_MSG_HELLO:
		return dir == WIRE_REQUEST ? sizeof(struct helper_msg_hello) : 0;
	case HELPER_MSG_EXPORT:
		return dir == WIRE_REQUEST ? sizeof(struct helper_msg_export) : 0;
	case HELPER_MSG_CHECK:
		return dir == WIRE_REQUEST ? sizeof(struct helper_msg_check) : 0;
	case HELPER_MSG_HELLO_REPLY:
		return dir == WIRE_REPLY ? sizeof(struct helper_msg_hello) : 0;
	case HELPER_MSG_FB:
		return dir == WIRE_REPLY ? sizeof(struct helper_msg_fb) : 0;
	case HELPER_MSG_SAME:
		return dir == WIRE_REPLY ? sizeof(struct helper_msg_same) : 0;
	case HELPER_MSG_ERROR:
		return dir == WIRE_REPLY ? sizeof(struct helper_msg_error) : 0;
	default:
		return 0;
	}
}

void wire_header_init(struct helper_msg_header *hdr, uint16_t type, uint32_t size, uint32_t seq)
{
	hdr->magic = HELPER_PROTO_MAGIC;
	hdr->version = HELPER_PROTO_VERSION;
	hdr->type = type;
	hdr->size = size;
	hdr->seq = seq;
}

static int check_length(size_t len, char *reason, size_t reason_size)
{
	if (len == 0) {
		return malformed(reason, reason_size, "empty message");
	}
	if (len > HELPER_MAX_MSG_SIZE) {
		return malformed(reason, reason_size, "oversized message (%zu bytes)", len);
	}
	if (len < sizeof(struct helper_msg_header)) {
		return malformed(reason, reason_size, "short message (%zu bytes)", len);
	}
	return 0;
}

int wire_header_check(enum wire_direction dir, const void *buf, size_t len,
	struct helper_msg_header *hdr, char *reason, size_t reason_size)
{
	memset(hdr, 0, sizeof(*hdr));
	int r = check_length(len, reason, reason_size);
	if (r < 0) {
		return r;
	}
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->magic != HELPER_PROTO_MAGIC) {
		return malformed(reason, reason_size, "bad magic 0x%08x", hdr->magic);
	}
	if (hdr->version != HELPER_PROTO_VERSION) {
		snprintf(reason, reason_size, "unsupported protocol version %u (expected %u)",
			hdr->version, HELPER_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hdr->size != len) {
		return malformed(reason, reason_size, "size field %u but record has %zu bytes",
			hdr->size, len);
	}
	size_t expected = wire_msg_size(dir, hdr->type);
	if (expected == 0) {
		return malformed(reason, reason_size, "unknown message type 0x%x", hdr->type);
	}
	if (len != expected) {
		return malformed(reason, reason_size, "type 0x%x needs %zu bytes, got %zu",
			hdr->type, expected, len);
	}
	return 0;
}

bool wire_card_name_valid(const char *name)
{
	if (strncmp(name, "card", 4) != 0) {
		return false;
	}
	const char *digits = name + 4;
	size_t n = strlen(digits);
	/* A leading zero would give one card two names ("card1", "card01"). */
	if (n == 0 || n > 3 || (n > 1 && digits[0] == '0')) {
		return false;
	}
	unsigned int index = 0;
	for (size_t i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9') {
			return false;
		}
		index = index * 10 + (unsigned int)(digits[i] - '0');
	}
	return index <= HELPER_MAX_CARD_INDEX;
}

void wire_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

/* Room for HELPER_MAX_FDS fds in one SCM_RIGHTS message, aligned for struct cmsghdr. */
union wire_control {
	char buf[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
	struct cmsghdr align;
};

int wire_send(int fd, const void *data, size_t size, const int *fds, size_t n_fds)
{
	if (n_fds > HELPER_MAX_FDS) {
		return -EINVAL;
	}
	struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	union wire_control control;
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
	ssize_t n;
	do {
		n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	return (size_t)n == size ? 0 : -EMSGSIZE;
}

/*
 * Moves the fds of msg's control data into fds, up to HELPER_MAX_FDS; closes the rest and
 * flags it, with any control data that is not SCM_RIGHTS, in rx->dropped.
 */
static void take_fds(struct msghdr *msg, int fds[HELPER_MAX_FDS], struct wire_rx *rx)
{
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
		cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
			rx->dropped = true;
			continue;
		}
		size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int received;
			memcpy(&received, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			if (rx->n_fds < HELPER_MAX_FDS) {
				fds[rx->n_fds++] = received; /* fd now owned by fds */
			} else {
				close(received);
				rx->dropped = true;
			}
		}
	}
}

ssize_t wire_recv(int fd, void *buf, size_t size, int fds[HELPER_MAX_FDS], struct wire_rx *rx)
{
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	union wire_control control;
	memset(rx, 0, sizeof(*rx));
	if (fds != NULL) {
		for (size_t i = 0; i < HELPER_MAX_FDS; i++) {
			fds[i] = -1;
		}
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
	}
	ssize_t n;
	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	rx->msg_flags = (unsigned int)msg.msg_flags;
	if (fds != NULL) {
		take_fds(&msg, fds, rx);
	}
	return n;
}
