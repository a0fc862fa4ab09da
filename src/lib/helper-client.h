/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_HELPER_CLIENT_H
#define KMSCAST_HELPER_CLIENT_H

/*
 * The unprivileged client of kmscast-helper: spawns the helper (or connects to the
 * socket-activated one), does the version handshake and turns "plane <kind> of CRTC <id> on
 * card<N>" into DMA-BUF fds. Used by the daemon and the SPA plugin, so it keeps no global
 * state, installs no signal handler, never exits the process and logs nothing: every failure
 * is a negative errno for the caller (plus helper_client_last_error() for the reason).
 *
 * Not thread-safe: one client per thread, or the caller's lock.
 */

#include <stdbool.h>
#include <stdint.h>

#include "kmscast/helper-protocol.h"

enum helper_mode {
	HELPER_MODE_SPAWN, /* fork+exec the helper on a socketpair, one helper per client */
	HELPER_MODE_SOCKET, /* connect to the socket-activated helper */
};

/* A request's time limit when the options give none. */
#define HELPER_CLIENT_TIMEOUT_MS 2000

struct helper_client_options {
	enum helper_mode mode;
	/*
	 * SPAWN: the helper binary. NULL means $KMSCAST_HELPER if set (development and tests),
	 * else KMSCAST_HELPER_PATH from config.h.
	 */
	const char *helper_path;
	/* SOCKET: the helper's socket. NULL means KMSCAST_HELPER_SOCKET from config.h. */
	const char *socket_path;
	/* Per request (connect, handshake, export); <= 0 means HELPER_CLIENT_TIMEOUT_MS. */
	int timeout_ms;
	/* SPAWN: pass --debug to the helper (it logs each export to our stderr). */
	bool helper_debug;
};

/* One exported framebuffer. fds are owned by this struct; release with helper_fb_finish. */
struct helper_fb {
	uint32_t fb_id, width, height, fourcc;
	uint64_t modifier; /* DRM_FORMAT_MOD_INVALID unless modifier_explicit */
	bool modifier_explicit;
	uint32_t n_planes;
	uint32_t offsets[HELPER_MAX_PLANES], pitches[HELPER_MAX_PLANES];
	uint32_t plane_fd_index[HELPER_MAX_PLANES]; /* plane i lives in fds[plane_fd_index[i]] */
	uint32_t n_fds;
	int fds[HELPER_MAX_FDS]; /* owned; -1 beyond n_fds */
	uint32_t helper_gem_handles[HELPER_MAX_PLANES]; /* diagnostic, see helper-protocol.h */
};

struct helper_client;

/*
 * Creates a client. Nothing is spawned or connected yet; that happens on the first export.
 * Copies what it needs from opts. Returns 0 or -errno (-EINVAL, -ENOMEM).
 */
int helper_client_create(const struct helper_client_options *opts, struct helper_client **out);

/* Closes the connection, kills and reaps a spawned helper, frees. Accepts NULL. */
void helper_client_destroy(struct helper_client *client);

/*
 * Connects (spawning the helper if needed) and does the handshake now, instead of on the
 * first export. Returns 0 or -errno.
 */
int helper_client_connect(struct helper_client *client);

/*
 * Exports what plane kind of CRTC crtc_id on card ("card0") scans out now. *out is
 * overwritten (finish a previous fb first); on success the caller owns its fds and releases
 * them with helper_fb_finish. Returns 0 or -errno:
 *   errors the helper reports for the request (the connection stays): -EINVAL bad card name,
 *     -ENOENT no such card/CRTC or no enabled plane, -ENODATA CRTC off, -EPERM helper lacks
 *     CAP_SYS_ADMIN, ...
 *   -ETIMEDOUT: no answer within timeout_ms; the connection is dropped.
 *   -EPROTO: the helper broke the protocol, or sent an fd that is not a dma-buf; the
 *     connection is dropped.
 *   others: spawn/connect failures.
 * If the helper died or the connection broke, it reconnects (re-spawns) and retries once.
 * On failure *out holds no fd.
 */
int helper_client_export(struct helper_client *client, const char *card, uint32_t crtc_id,
	enum kmscast_plane_kind kind, struct helper_fb *out);

/*
 * Asks whether fb_id on card ("card0") still names the buffer that helper_client_export of a
 * primary plane got under that id on the current connection: the kernel gives a destroyed
 * FB's id to the next FB created. Never spawns or connects (a new connection has no record),
 * and never reconnects. Returns 0 or -errno:
 *   0: the same buffer objects in the same layout; the fds exported under fb_id still hold it.
 *   -ESTALE: another buffer now, or no record of fb_id on this connection: export again.
 *   -ENOENT: no FB fb_id any more.
 *   -ENOTCONN: not connected (never, or dropped since): export again.
 *   -EINVAL: card is not a card name ("card0" .. "card255").
 *   other errors the helper reports for the request (the connection stays).
 *   -ETIMEDOUT, -EPROTO (also for a SAME reply with fds, which are closed), -ECONNRESET or the
 *     error the helper gave for closing: the connection is dropped, and with it the helper's
 *     record of every FB exported on it.
 */
int helper_client_check(struct helper_client *client, const char *card, uint32_t fb_id);

/* Why the last call failed, for the caller's log; never NULL. */
const char *helper_client_last_error(const struct helper_client *client);

/* pid of the spawned helper, or of the socket's peer (SO_PEERCRED); 0 when not connected. */
int helper_client_helper_pid(const struct helper_client *client);

/* Closes fds[0..n_fds) of fb and resets it (fds to -1). Accepts a zeroed or finished fb. */
void helper_fb_finish(struct helper_fb *fb);

/*
 * Parses one reply record received for request seq (pure; exposed for tests and the fuzzer).
 * n_fds is how many fds arrived with it. For HELPER_MSG_FB fills *fb (not its fds) and returns
 * 0; for HELPER_MSG_SAME stores its fb_id in fb->fb_id, touches nothing else and returns 0; for
 * HELPER_MSG_ERROR returns the helper's negative errno and copies its reason; for
 * HELPER_MSG_HELLO_REPLY returns 0. Anything malformed (fds with any reply but FB, too)
 * returns -EPROTO with a reason. *type receives the record type.
 */
int helper_client_parse_reply(const void *buf, size_t len, size_t n_fds, uint32_t seq,
	uint16_t *type, struct helper_fb *fb, char *reason, size_t reason_size);

#ifdef KMSCAST_TEST_HOOKS
/*
 * Test builds only (tests compile helper-client.c with -DKMSCAST_TEST_HOOKS): received regular
 * files on a file system of this f_type (memfds: TMPFS_MAGIC) pass as dma-bufs too, since the
 * build hosts have no dma-buf exporter (no DRM, no udmabuf). 0, the default, accepts only
 * real dma-bufs. Production builds have no such variable.
 */
extern long helper_client_test_accept_fs_type;
#endif

#endif
