/* SPDX-License-Identifier: MIT */
/*
 * The code both ends of the kmscast-helper connection run (common/wire.c): record headers,
 * the card-name rule, and sending and receiving one record with its fds. Built into
 * kmscast-helper and into the unprivileged client (src/lib/helper-client.c), so the two sides
 * cannot drift apart; each side still validates everything it receives. No PipeWire, no
 * libdrm, no logging.
 */
#ifndef KMSCAST_WIRE_H
#define KMSCAST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kmscast/helper-protocol.h"

/* Which way a record travels: each side accepts only the types sent towards it. */
enum wire_direction {
	WIRE_REQUEST, /* client -> helper: HELLO, EXPORT, CHECK */
	WIRE_REPLY, /* helper -> client: HELLO_REPLY, FB, SAME, ERROR */
};

/* The size of a record of type travelling in dir, or 0 if type does not travel that way. */
size_t wire_msg_size(enum wire_direction dir, uint16_t type);

/* Fills the header of a record of type that is size bytes long. */
void wire_header_init(struct helper_msg_header *hdr, uint16_t type, uint32_t size, uint32_t seq);

/*
 * Checks the length and header of a received record of len bytes at buf: not empty, at most
 * HELPER_MAX_MSG_SIZE, a whole header, our magic and version, a size field equal to len, and a
 * type of dir whose size is len. Copies the header into *hdr (zeroed when buf is too short).
 * Returns 0, -EPROTONOSUPPORT for another protocol version, or -EPROTO; on error reason (of
 * reason_size bytes) says what was wrong. Never reads past len bytes of buf.
 */
int wire_header_check(enum wire_direction dir, const void *buf, size_t len,
	struct helper_msg_header *hdr, char *reason, size_t reason_size);

/*
 * The card-name rule of both sides: "card" and 1 to 3 decimal digits without a leading zero,
 * naming an index of at most HELPER_MAX_CARD_INDEX ("card0" .. "card255").
 */
bool wire_card_name_valid(const char *name);

/* Closes every fd >= 0 of fds[0..n) and sets it to -1. */
void wire_close_fds(int *fds, size_t n);

/*
 * Sends one record of size bytes with fds[0..n_fds) attached (SCM_RIGHTS), without blocking
 * and without SIGPIPE. The caller keeps its fds; the peer gets its own copies. Returns 0,
 * -EINVAL for more than HELPER_MAX_FDS fds, -EMSGSIZE if the record went out short, or
 * sendmsg's -errno (-EAGAIN: the peer's queue is full).
 */
int wire_send(int fd, const void *data, size_t size, const int *fds, size_t n_fds);

/* What one wire_recv brought besides the bytes of the record. */
struct wire_rx {
	unsigned int msg_flags; /* recvmsg's msghdr::msg_flags (MSG_TRUNC, MSG_CTRUNC) */
	size_t n_fds; /* fds received into the caller's array, now owned by the caller */
	bool dropped; /* control data other than SCM_RIGHTS, or fds past the array: closed */
};

/*
 * Receives one record of at most size bytes into buf, without blocking.
 * With fds NULL no control buffer is offered: the kernel then installs none of the fds the
 * peer attached and reports them only as MSG_CTRUNC in rx->msg_flags. Otherwise up to
 * HELPER_MAX_FDS fds, close-on-exec, land in fds (the rest of which is set to -1), and any
 * further fds and other control data are closed and flagged in rx->dropped.
 * Returns the record's length (0 for an empty record or EOF), or -errno with no fd received.
 */
ssize_t wire_recv(int fd, void *buf, size_t size, int fds[HELPER_MAX_FDS], struct wire_rx *rx);

#endif
