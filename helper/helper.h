/*
 * Private interfaces of kmscast-helper. Nothing outside helper/ (and the helper's own unit and
 * fuzz tests) includes this.
 */
#ifndef KMSCAST_HELPER_H
#define KMSCAST_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kmscast/helper-protocol.h"
#include "kmscast/wire.h" /* records, fd passing, card names: shared with the client */

/* log.c */

/* Writes "kmscast-helper: <message>\n" to stderr with one write(2); never allocates. */
void helper_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like helper_log, but only when debug logging was enabled with helper_log_set_debug. */
void helper_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Enables or disables helper_log_debug output. */
void helper_log_set_debug(bool debug);
/* Where log lines go: STDERR_FILENO (the default), or nowhere for -1 (the fuzzer). */
void helper_log_set_fd(int fd);
/*
 * Formats why a request failed into reason (of reason_size bytes, truncated to fit) for the
 * error reply, and returns error (a negative errno), so that a check reads
 * "return helper_fail(reason, size, -ENOENT, ...)". Logs nothing: the caller decides.
 */
int helper_fail(char *reason, size_t reason_size, int error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* proto.c: pure functions, no I/O, fuzzed by tests/fuzz/fuzz-helper-protocol.c */

/* A request after validation of its structure (not of its meaning). */
struct helper_request {
	uint16_t type; /* HELPER_MSG_HELLO, HELPER_MSG_EXPORT or HELPER_MSG_CHECK */
	uint32_t seq;
	/* NUL-terminated; EXPORT and CHECK. For CHECK it also passed wire_card_name_valid. */
	char card[HELPER_MAX_CARD_NAME];
	uint32_t crtc_id; /* EXPORT only */
	enum kmscast_plane_kind plane; /* EXPORT only */
	uint32_t fb_id; /* CHECK only */
};

/*
 * What arrived besides the bytes of one record. Records are received without a control buffer
 * (server.c), so fds and other control data show up only as MSG_CTRUNC.
 */
struct helper_rx_meta {
	unsigned int msg_flags; /* msghdr::msg_flags from recvmsg (MSG_TRUNC, MSG_CTRUNC) */
};

/*
 * Parses one received record into *req. Returns 0, -EPROTONOSUPPORT for a well-formed header
 * with another protocol version, or -EPROTO for anything malformed; on error, reason (of
 * reason_size bytes) says what was wrong. Never reads past len bytes of buf.
 */
int helper_parse_request(const void *buf, size_t len, const struct helper_rx_meta *meta,
	struct helper_request *req, char *reason, size_t reason_size);

/* Fills a complete HELPER_MSG_ERROR record. reason is truncated to HELPER_MAX_REASON - 1. */
void helper_build_error(struct helper_msg_error *msg, uint32_t seq, int error, const char *reason);
/* Fills a complete HELPER_MSG_HELLO_REPLY record. */
void helper_build_hello_reply(struct helper_msg_hello *msg, uint32_t seq);
/* Fills the header of a HELPER_MSG_FB record whose body the backend filled. */
void helper_build_fb_header(struct helper_msg_fb *msg, uint32_t seq);
/* Fills a complete HELPER_MSG_SAME record: the answer to CHECK seq of fb_id. */
void helper_build_same_reply(struct helper_msg_same *msg, uint32_t seq, uint32_t fb_id);

/* backend: where exports come from (export.c for real DRM, a double in unit tests) */

struct helper_backend {
	/* Creates per-connection state (e.g. the card fd cache). Returns 0 or -errno. */
	int (*conn_create)(void *data, void **conn_state);
	/* Destroys what conn_create made, closing every fd it holds. Accepts NULL. */
	void (*conn_destroy)(void *data, void *conn_state);
	/*
	 * Exports the framebuffer req names. On success fills the body of *fb (not its header),
	 * stores fb->n_fds owned fds in fds and returns 0; a primary-plane FB's GEM handles may
	 * stay open, owned by conn_state, for check_fb. On failure returns -errno, writes a
	 * short reason and leaves no new fd or GEM handle open.
	 */
	int (*export_fb)(void *data, void *conn_state, const struct helper_request *req,
		struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], char *reason,
		size_t reason_size);
	/*
	 * Opens the card named card (or finds it in the cache of conn_state) and stores the
	 * device number of the open fd in *devnum, so that the seat check looks at the device
	 * that will be exported from. Returns 0 or -errno with a short reason. Optional: only
	 * called when seat checks are on (session.c).
	 */
	int (*card_devnum)(void *data, void *conn_state, const char *card, dev_t *devnum,
		char *reason, size_t reason_size);
	/*
	 * Answers CHECK req: 0 when req->fb_id on req->card still names the buffer objects
	 * export_fb handed out under that id on this connection. Otherwise -ESTALE (another
	 * buffer now, or no record of that id on this connection), -ENOENT (no such FB), or
	 * another -errno, with a short reason. Opens no card and returns no fd; leaves no fd
	 * or GEM handle open beyond what conn_state already kept.
	 */
	int (*check_fb)(void *data, void *conn_state, const struct helper_request *req,
		char *reason, size_t reason_size);
};

/* The real backend, talking to /dev/dri/card* (export.c). data is unused (NULL). */
extern const struct helper_backend helper_drm_backend;

/* peer.c */

/*
 * Checks that fd is a connected AF_UNIX SOCK_SEQPACKET socket whose peer (SO_PEERCRED) has
 * uid. Returns 0, -EACCES for another uid, -ENOTSOCK/-EPROTOTYPE for a wrong socket.
 */
int helper_peer_check_uid(int fd, uid_t uid, char *reason, size_t reason_size);
/*
 * Checks that the peer of the connected socket fd has gid as primary or supplementary group
 * (SO_PEERCRED and SO_PEERGROUPS, as of connect()). Returns 0 or -EACCES.
 */
int helper_peer_check_group(int fd, gid_t gid, char *reason, size_t reason_size);
/* Checks that fd is a listening AF_UNIX SOCK_SEQPACKET socket. Returns 0 or -errno. */
int helper_check_listener(int fd);
/* Stores the uid of the peer of the connected socket fd (SO_PEERCRED). Returns 0 or -errno. */
int helper_peer_uid(int fd, uid_t *uid);
/*
 * The group policy for whoever runs the helper: true if uid is root, or if gid is want or one
 * of the n_groups in groups. Pure; helper_caller_check_group applies it to this process.
 */
bool helper_groups_allow(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, gid_t want);
/*
 * Checks that the real uid of this process may use the helper: root, or a member of want by
 * its real gid or supplementary groups, which the kernel set at login and kept across exec
 * (neither argv nor the environment can change them). Returns 0, or -EACCES with a reason.
 */
int helper_caller_check_group(gid_t want, char *reason, size_t reason_size);

/* privilege.c: CAP_SYS_ADMIN stays permitted and is effective only around the one ioctl */

/*
 * Makes CAP_SYS_ADMIN effective. Returns 0, or -EPERM if it is not permitted (then the caller
 * goes on without it and GETFB2 returns no handles). Pair every success with
 * helper_privilege_lower.
 */
int helper_privilege_raise(void);
/*
 * Clears every effective capability again. If the kernel refuses, the helper exits: it must
 * not go on serving peers with CAP_SYS_ADMIN effective.
 */
void helper_privilege_lower(void);
/* True if the process has any permitted capability or was exec'd in secure mode (AT_SECURE). */
bool helper_privileged(void);

/* server.c */

enum helper_peer_policy {
	HELPER_PEER_ANY, /* unit tests only */
	HELPER_PEER_GROUP, /* socket-activated: accepted peers must be in gid */
};

struct helper_session; /* session.c */

struct helper_server_config {
	const struct helper_backend *backend;
	void *backend_data;
	enum helper_peer_policy accept_policy; /* for connections accepted on listeners */
	gid_t gid;
	int hello_timeout_ms; /* HELPER_HELLO_TIMEOUT_MS unless a test shortens it */
	/* Closes a connection that sent no request for this long after hello; 0: never. */
	int idle_timeout_ms;
	struct helper_session *session; /* not owned; NULL: no seat checks (session.c) */
};

struct helper_server;

/* Creates a server with no connections. Returns NULL on allocation failure. */
struct helper_server *helper_server_create(const struct helper_server_config *config);
/* Closes every connection and listener. Accepts NULL. */
void helper_server_destroy(struct helper_server *server);
/* Adds a listening socket. Takes ownership of fd, also on failure. Returns 0 or -errno. */
int helper_server_add_listener(struct helper_server *server, int fd);
/*
 * Adds an already verified connection. Takes ownership of fd, also on failure. The fd may
 * stay blocking: every send and receive uses MSG_DONTWAIT. Returns 0 or -errno (-EBUSY past
 * HELPER_MAX_CLIENTS, after telling the peer). Connections added here do not count towards
 * HELPER_MAX_CLIENTS_PER_UID; only accepted ones do.
 */
int helper_server_add_client(struct helper_server *server, int fd);
/*
 * Waits up to timeout_ms (-1: forever) for activity and handles it: at most one message per
 * connection and one accept per listener, so one busy peer cannot starve the others.
 * Returns 0, or -errno if poll itself failed.
 */
int helper_server_dispatch(struct helper_server *server, int timeout_ms);
/* Number of open connections (not listeners). */
size_t helper_server_client_count(const struct helper_server *server);
/* True when there is nothing left to serve: no connection and no listener. */
bool helper_server_idle(const struct helper_server *server);

/* hardening.c */

struct helper_hardening {
	bool socket_mode; /* accept4() and getsockopt() stay allowed */
	size_t n_listeners;
	bool seat_checks; /* sd-login reads and SO_PEERCRED stay allowed (session.c) */
};

/*
 * Keeps only CAP_SYS_ADMIN permitted (or nothing if it is not permitted), none effective,
 * and, with CAP_SETPCAP, only CAP_SYS_ADMIN in the bounding set. Returns 0 or -errno.
 */
int helper_drop_capabilities(void);
/* Sets the resource limits; must come before the seccomp filter, which forbids it. 0/-errno. */
int helper_set_rlimits(const struct helper_hardening *h);
/* Installs the seccomp allowlist. Returns 0 or -errno. */
int helper_install_seccomp(const struct helper_hardening *h);

/*
 * session.c: who may capture which screen. An export is allowed only when the peer's uid owns
 * the active, local session of the seat the card belongs to (docs/security.md, "Who may
 * capture which screen: seats and sessions").
 */

#define HELPER_MAX_SEAT_NAME 256 /* a file name under /run/systemd/seats, and its NUL */

/* Where the policy's answers come from: logind and udev (session.c), or a test double. */
struct helper_session_ops {
	/*
	 * Copies the seat of the DRM device devnum (udev's ID_SEAT, "seat0" when unset) into
	 * seat. Returns 0, -ENOENT when the device's seat is not known, or -errno.
	 */
	int (*seat_of_card)(void *data, dev_t devnum, char *seat, size_t seat_size);
	/*
	 * The active session of seat and the uid that owns it (sd_seat_get_active). On success
	 * *session is malloc'ed and owned by the caller. Returns 0, -ENXIO for no such seat,
	 * -ENODATA when the seat has no active session, or -errno.
	 */
	int (*seat_active)(void *data, const char *seat, char **session, uid_t *uid);
	/* 1 if session is remote, 0 if it is local, or -errno (sd_session_is_remote). */
	int (*session_is_remote)(void *data, const char *session);
	/* Frees data. May be NULL. */
	void (*destroy)(void *data);
};

/* What helper_session_decide found at start-up. */
enum helper_seat_checks {
	HELPER_SEATS_CHECKED, /* logind runs: exports follow the seat's active session */
	HELPER_SEATS_NO_LOGIND, /* no logind: no sessions to keep apart, uid/group checks only */
	HELPER_SEATS_ALLOWED_BY_CONFIG, /* allow-without-session=true in a root-owned file */
};

/* Per connection: the peer's uid as of connect() and what it was last told. */
struct helper_session_peer {
	uid_t uid;
	enum { HELPER_PEER_UNCHECKED, HELPER_PEER_ALLOWED, HELPER_PEER_REFUSED } verdict;
};

struct helper_session;

/*
 * Decides, once at start-up and before the seccomp filter, whether exports are gated on
 * seats: not when seats_dir (/run/systemd/seats/, which only logind creates) is missing, nor
 * when config_path is a regular file owned by config_owner, not writable by group or others,
 * in a directory with the same properties, that says allow-without-session = true. Any other
 * config file is ignored with a log line. Logs the outcome when checks are off.
 */
enum helper_seat_checks helper_session_decide(
	const char *seats_dir, const char *config_path, uid_t config_owner);
/*
 * Creates the policy over ops. Takes ownership of data (ops->destroy), also on failure.
 * Returns NULL on allocation failure.
 */
struct helper_session *helper_session_create(const struct helper_session_ops *ops, void *data);
/*
 * The real policy for main.c: helper_session_decide on the installed paths, then, when seat
 * checks are on, the seat of every /dev/dri/card* now (sd-device; the seccomp filter forbids
 * what sd-device needs later). Sets *out to the policy, or to NULL when checks are off.
 * Returns 0 or -errno.
 */
int helper_session_start(struct helper_session **out);
/* Frees the policy and its ops data. Accepts NULL. */
void helper_session_destroy(struct helper_session *session);
/* Records the uid of the peer of the connected socket fd (SO_PEERCRED). Returns 0 or -errno. */
int helper_session_peer_init(struct helper_session_peer *peer, int fd);
/*
 * The gate in front of every export: 0 when config->session is NULL or the peer's uid owns
 * the active, local session of the seat of card. Otherwise -EACCES (or the error of opening
 * the card) with a reason; on -EACCES the connection's cached cards are closed by re-creating
 * *backend_state, and the change from allowed to refused (and back) is logged. Returns another
 * -errno, with *backend_state NULL, only when re-creating it failed.
 */
int helper_session_check_export(const struct helper_server_config *config,
	struct helper_session_peer *peer, void **backend_state, const char *card, char *reason,
	size_t reason_size);
/* Adds what the checks need after start-up to the seccomp filter ctx. Returns 0 or -errno. */
int helper_session_allow_syscalls(void *seccomp_ctx);

#endif
