/* SPDX-License-Identifier: MIT */
/*
 * Client of kmscast-helper (see helper-client.h and docs/protocol.md). Every fd that arrives
 * from the helper is either handed to the caller in a helper_fb or closed here; a connection
 * that misbehaves or times out is dropped whole, with the helper process it belongs to.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/magic.h>

#include "config.h"
#include "helper-client.h"
#include "kmscast/wire.h"

/* How long a spawned helper gets to exit by itself after we close its socket. */
#define HELPER_EXIT_GRACE_MS 200
#define HELPER_CHILD_FD 3

struct helper_client {
	enum helper_mode mode;
	char *helper_path; /* owned */
	char *socket_path; /* owned */
	int timeout_ms;
	bool helper_debug;

	int fd; /* owned; -1 when not connected */
	pid_t pid; /* spawned helper not yet reaped; 0 when none */
	int pidfd; /* owned; -1 when none or unsupported */
	pid_t peer_pid; /* SO_PEERCRED of fd */
	uint32_t seq;
	char error[HELPER_MAX_REASON + 64];
};

static int set_error(struct helper_client *client, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_error(struct helper_client *client, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(client->error, sizeof(client->error), fmt, ap);
	va_end(ap);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init_fb(struct helper_fb *fb)
{
	memset(fb, 0, sizeof(*fb));
	for (size_t i = 0; i < HELPER_MAX_FDS; i++) {
		fb->fds[i] = -1;
	}
}

void helper_fb_finish(struct helper_fb *fb)
{
	if (fb == NULL) {
		return;
	}
	/* Only the first n_fds are ours: a zeroed fb must not close fd 0. */
	wire_close_fds(fb->fds, fb->n_fds <= HELPER_MAX_FDS ? fb->n_fds : HELPER_MAX_FDS);
	init_fb(fb);
}

int helper_client_create(const struct helper_client_options *opts, struct helper_client **out)
{
	if (opts->mode != HELPER_MODE_SPAWN && opts->mode != HELPER_MODE_SOCKET) {
		return -EINVAL;
	}
	struct helper_client *client = calloc(1, sizeof(*client));
	if (client == NULL) {
		return -ENOMEM;
	}
	client->mode = opts->mode;
	client->fd = -1;
	client->pidfd = -1;
	client->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : HELPER_CLIENT_TIMEOUT_MS;
	client->helper_debug = opts->helper_debug;

	/* secure_getenv: never honour the override if we are ourselves setuid/setcap. */
	const char *env_path = secure_getenv("KMSCAST_HELPER");
	const char *path = opts->helper_path  ? opts->helper_path
			   : env_path != NULL ? env_path
					      : KMSCAST_HELPER_PATH;
	const char *sock = opts->socket_path ? opts->socket_path : KMSCAST_HELPER_SOCKET;
	client->helper_path = strdup(path);
	client->socket_path = strdup(sock);
	if (client->helper_path == NULL || client->socket_path == NULL) {
		helper_client_destroy(client);
		return -ENOMEM;
	}
	*out = client;
	return 0;
}

/* Waits for the spawned helper to exit (it does at EOF), killing it after a grace period. */
static void reap_helper(struct helper_client *client)
{
	if (client->pid <= 0) {
		return;
	}
	if (client->pidfd >= 0) {
		struct pollfd pfd = {.fd = client->pidfd, .events = POLLIN};
		if (poll(&pfd, 1, HELPER_EXIT_GRACE_MS) == 0) {
			/* pidfd: cannot hit a recycled pid even if someone else reaped ours */
			pidfd_send_signal(client->pidfd, SIGKILL, NULL, 0);
		}
		close(client->pidfd);
		client->pidfd = -1;
	} else {
		kill(client->pid, SIGKILL);
	}
	while (waitpid(client->pid, NULL, 0) < 0 && errno == EINTR) {
	}
	client->pid = 0;
}

static void disconnect(struct helper_client *client)
{
	if (client->fd >= 0) {
		close(client->fd);
		client->fd = -1;
	}
	reap_helper(client);
	client->peer_pid = 0;
}

void helper_client_destroy(struct helper_client *client)
{
	if (client == NULL) {
		return;
	}
	disconnect(client);
	free(client->helper_path);
	free(client->socket_path);
	free(client);
}

const char *helper_client_last_error(const struct helper_client *client)
{
	return client->error;
}

int helper_client_helper_pid(const struct helper_client *client)
{
	return client->fd >= 0 ? (int)client->peer_pid : 0;
}

static int spawn_helper(struct helper_client *client)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return set_error(client, -errno, "socketpair: %s", strerror(errno));
	}

	/* The child gets its end as fd 3, /dev/null as stdin/stdout, our stderr, nothing else. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], HELPER_CHILD_FD);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, HELPER_CHILD_FD + 1);

	char fd_arg[] = "3";
	char *argv[] = {
		client->helper_path, "--fd", fd_arg, client->helper_debug ? "--debug" : NULL, NULL};
	char *envp[] = {NULL}; /* the helper clears its environment anyway */
	pid_t pid = 0;
	int r = posix_spawn(&pid, client->helper_path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		return set_error(client, -r, "cannot run %s: %s", client->helper_path, strerror(r));
	}
	client->fd = sv[0]; /* fd now owned by client */
	client->pid = pid;
	client->peer_pid = pid;
	client->pidfd = pidfd_open(pid, 0); /* -1 on kernels before 5.3: plain kill() then */
	return 0;
}

static int connect_socket(struct helper_client *client)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(client->socket_path) >= sizeof(addr.sun_path)) {
		return set_error(client, -ENAMETOOLONG, "socket path too long");
	}
	strcpy(addr.sun_path, client->socket_path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return set_error(client, -errno, "socket: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;
		close(fd);
		return set_error(client, r, "connect %s: %s", client->socket_path, strerror(-r));
	}
	struct ucred cred = {0};
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		client->peer_pid = cred.pid;
	}
	client->fd = fd; /* fd now owned by client */
	return 0;
}

static int wait_fd(struct helper_client *client, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			return set_error(client, -ETIMEDOUT, "helper did not answer in %d ms",
				client->timeout_ms);
		}
		struct pollfd pfd = {.fd = client->fd, .events = events};
		int n = poll(&pfd, 1, (int)left);
		if (n > 0) {
			return 0;
		}
		if (n < 0 && errno != EINTR) {
			return set_error(client, -errno, "poll: %s", strerror(errno));
		}
	}
}

/*
 * The helper closed the connection: if it said why first (a refused peer, an error record
 * with seq 0), that record is still queued. Returns its error, or r.
 */
static int parting_error(struct helper_client *client, int r)
{
	uint8_t buf[HELPER_MAX_MSG_SIZE];
	struct helper_msg_header hdr;
	struct helper_msg_error msg;
	struct wire_rx rx;
	char unused[HELPER_MAX_REASON];
	ssize_t n = wire_recv(client->fd, buf, sizeof(buf), NULL, &rx);
	if (n <= 0 ||
		wire_header_check(WIRE_REPLY, buf, (size_t)n, &hdr, unused, sizeof(unused)) < 0 ||
		hdr.type != HELPER_MSG_ERROR) {
		return r;
	}
	memcpy(&msg, buf, sizeof(msg));
	if (msg.error >= 0 || msg.error < -4095) {
		return r;
	}
	msg.reason[sizeof(msg.reason) - 1] = '\0';
	return set_error(client, msg.error, "helper: %s", msg.reason);
}

static int send_request(
	struct helper_client *client, const void *msg, size_t size, int64_t deadline)
{
	int r = wait_fd(client, POLLOUT, deadline);
	if (r < 0) {
		return r;
	}
	int sent = wire_send(client->fd, msg, size, NULL, 0);
	if (sent < 0) {
		r = sent == -EAGAIN ? -ETIMEDOUT : -ECONNRESET;
		set_error(client, r, "send to helper: %s", strerror(-sent));
		return r == -ECONNRESET ? parting_error(client, r) : r;
	}
	return 0;
}

#ifdef KMSCAST_TEST_HOOKS
long helper_client_test_accept_fs_type;
#endif

/*
 * Whether fd is a dma-buf. Since Linux 5.3 every dma-buf is a file of the kernel's "dmabuf"
 * pseudo file system, so its f_type says what it is whoever exported it. Anything else (a
 * memfd, a pipe, a file, a DRM device) is not something a consumer should mmap or import as
 * a frame: a fake or compromised helper could otherwise hand the daemon and, through
 * PipeWire, the apps an fd of its choosing.
 */
static bool is_dmabuf(int fd, long *fs_type)
{
	struct statfs st;
	if (fstatfs(fd, &st) < 0) {
		*fs_type = -1;
		return false;
	}
	*fs_type = (long)st.f_type;
	if (st.f_type == DMA_BUF_MAGIC) {
		return true;
	}
#ifdef KMSCAST_TEST_HOOKS
	/* Regular files only: /dev/null, on devtmpfs, has tmpfs's f_type too. */
	struct stat sb;
	return helper_client_test_accept_fs_type != 0 &&
	       (long)st.f_type == helper_client_test_accept_fs_type && fstat(fd, &sb) == 0 &&
	       S_ISREG(sb.st_mode);
#else
	return false;
#endif
}

/* Returns 0 if every fd of a reply is a dma-buf, else -EPROTO with the reason set. */
static int check_dmabufs(struct helper_client *client, const int *fds, size_t n_fds)
{
	for (size_t i = 0; i < n_fds; i++) {
		long fs_type = 0;
		if (!is_dmabuf(fds[i], &fs_type)) {
			return set_error(client, -EPROTO,
				"helper: fd %zu of the reply is not a dma-buf (fs type 0x%lx)", i,
				(unsigned long)fs_type);
		}
	}
	return 0;
}

/*
 * Receives the reply to seq. Returns 0 (FB, SAME or HELLO_REPLY), the helper's -errno for an error
 * reply, -ECONNRESET if the helper went away, -ETIMEDOUT, or -EPROTO (also when any fd that
 * came with it is not a dma-buf). fds of an FB reply move to fb->fds; every other fd, and
 * every fd of a reply that fails, is closed.
 */
static int receive_reply(struct helper_client *client, uint32_t seq, uint16_t expect,
	struct helper_fb *fb, int64_t deadline)
{
	int r = wait_fd(client, POLLIN, deadline);
	if (r < 0) {
		return r;
	}
	uint8_t buf[HELPER_MAX_MSG_SIZE];
	int fds[HELPER_MAX_FDS];
	struct wire_rx rx;
	ssize_t n = wire_recv(client->fd, buf, sizeof(buf), fds, &rx);
	if (n < 0) {
		r = n == -EAGAIN ? -ETIMEDOUT : -ECONNRESET;
		set_error(client, r, "receive from helper: %s", strerror((int)-n));
		/* ECONNRESET is reported before what is still queued, such as the reason. */
		return r == -ECONNRESET ? parting_error(client, r) : r;
	}

	size_t n_fds = rx.n_fds;
	if (n == 0 && n_fds == 0) {
		return set_error(client, -ECONNRESET, "helper closed the connection");
	}
	if (rx.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || rx.dropped) {
		wire_close_fds(fds, HELPER_MAX_FDS);
		return set_error(client, -EPROTO, "helper reply truncated or carries extra data");
	}
	if (check_dmabufs(client, fds, n_fds) < 0) {
		wire_close_fds(fds, HELPER_MAX_FDS);
		return -EPROTO;
	}

	uint16_t type = 0;
	char reason[HELPER_MAX_REASON] = "";
	r = helper_client_parse_reply(
		buf, (size_t)n, n_fds, seq, &type, fb, reason, sizeof(reason));
	if (r == 0 && type != expect) {
		r = -EPROTO;
		snprintf(reason, sizeof(reason), "unexpected reply type 0x%x", type);
	}
	if (r < 0) {
		wire_close_fds(fds, HELPER_MAX_FDS);
		return set_error(client, r, "helper: %s", reason);
	}
	if (type == HELPER_MSG_FB) {
		memcpy(fb->fds, fds, sizeof(fb->fds)); /* fds now owned by fb */
	}
	return 0;
}

static int handshake(struct helper_client *client, int64_t deadline)
{
	struct helper_msg_hello hello;
	memset(&hello, 0, sizeof(hello));
	uint32_t seq = ++client->seq;
	wire_header_init(&hello.hdr, HELPER_MSG_HELLO, sizeof(hello), seq);
	hello.proto_version = HELPER_PROTO_VERSION;
	int r = send_request(client, &hello, sizeof(hello), deadline);
	if (r == 0) {
		struct helper_fb unused;
		init_fb(&unused);
		r = receive_reply(client, seq, HELPER_MSG_HELLO_REPLY, &unused, deadline);
	}
	return r;
}

int helper_client_connect(struct helper_client *client)
{
	if (client->fd >= 0) {
		return 0;
	}
	int64_t deadline = now_ms() + client->timeout_ms;
	int r = client->mode == HELPER_MODE_SPAWN ? spawn_helper(client) : connect_socket(client);
	if (r == 0) {
		r = handshake(client, deadline);
	}
	if (r < 0) {
		disconnect(client);
	}
	return r;
}

static int export_once(struct helper_client *client, const char *card, uint32_t crtc_id,
	enum kmscast_plane_kind kind, struct helper_fb *out)
{
	struct helper_msg_export req;
	memset(&req, 0, sizeof(req));
	uint32_t seq = ++client->seq;
	wire_header_init(&req.hdr, HELPER_MSG_EXPORT, sizeof(req), seq);
	snprintf(req.card, sizeof(req.card), "%s", card);
	req.crtc_id = crtc_id;
	req.plane = (uint32_t)kind;

	int64_t deadline = now_ms() + client->timeout_ms;
	int r = send_request(client, &req, sizeof(req), deadline);
	if (r == 0) {
		r = receive_reply(client, seq, HELPER_MSG_FB, out, deadline);
	}
	return r;
}

int helper_client_export(struct helper_client *client, const char *card, uint32_t crtc_id,
	enum kmscast_plane_kind kind, struct helper_fb *out)
{
	init_fb(out);
	if (strlen(card) >= HELPER_MAX_CARD_NAME) {
		return set_error(client, -EINVAL, "card name too long");
	}
	int r = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		r = helper_client_connect(client);
		if (r < 0) {
			return r;
		}
		r = export_once(client, card, crtc_id, kind, out);
		if (r == -ECONNRESET) {
			/* The helper died (or was killed) under us: start over once. */
			disconnect(client);
			continue;
		}
		if (r == -ETIMEDOUT || r == -EPROTO) {
			/* A late or garbled reply would desynchronise the stream: drop it all. */
			disconnect(client);
		}
		return r;
	}
	return r;
}

/*
 * True if the helper has closed its end: tells a connection it closed (after a parting error
 * record, whose errno says nothing about that) from a failed request.
 */
static bool peer_hung_up(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/*
 * CHECK is never retried on a new connection, unlike EXPORT: the helper keeps its record of
 * exported FBs per connection, so a new one would answer -ESTALE anyway.
 */
int helper_client_check(struct helper_client *client, const char *card, uint32_t fb_id)
{
	if (client->fd < 0) {
		return set_error(client, -ENOTCONN, "not connected: no exported FB to check");
	}
	if (!wire_card_name_valid(card)) {
		return set_error(client, -EINVAL, "invalid card name");
	}
	struct helper_msg_check req;
	memset(&req, 0, sizeof(req));
	uint32_t seq = ++client->seq;
	wire_header_init(&req.hdr, HELPER_MSG_CHECK, sizeof(req), seq);
	snprintf(req.card, sizeof(req.card), "%s", card);
	req.fb_id = fb_id;

	int64_t deadline = now_ms() + client->timeout_ms;
	struct helper_fb same; /* receives SAME's fb_id only, never an fd */
	init_fb(&same);
	int r = send_request(client, &req, sizeof(req), deadline);
	if (r == 0) {
		r = receive_reply(client, seq, HELPER_MSG_SAME, &same, deadline);
	}
	if (r == 0 && same.fb_id != fb_id) {
		r = set_error(client, -EPROTO, "helper: SAME for fb %u, asked about fb %u",
			same.fb_id, fb_id);
	}
	if (r == -ETIMEDOUT || r == -EPROTO || (r < 0 && peer_hung_up(client->fd))) {
		/* Late, garbled or gone: drop it, and with it the helper's record of our FBs. */
		disconnect(client);
	}
	return r;
}

/* Reply parsing: pure, fuzzed by tests/fuzz/fuzz-helper-protocol.c. */

static int bad_reply(char *reason, size_t size, const char *what)
{
	snprintf(reason, size, "malformed reply: %s", what);
	return -EPROTO;
}

static int parse_fb(const struct helper_msg_fb *msg, size_t n_fds, struct helper_fb *fb,
	char *reason, size_t size)
{
	if (msg->n_planes < 1 || msg->n_planes > HELPER_MAX_PLANES || msg->n_fds < 1 ||
		msg->n_fds > HELPER_MAX_FDS) {
		return bad_reply(reason, size, "plane or fd count out of range");
	}
	if (msg->n_fds != n_fds) {
		return bad_reply(reason, size, "fd count differs from fds received");
	}
	bool used[HELPER_MAX_FDS] = {false};
	for (uint32_t i = 0; i < msg->n_planes; i++) {
		if (msg->plane_fd_index[i] >= msg->n_fds) {
			return bad_reply(reason, size, "plane fd index out of range");
		}
		used[msg->plane_fd_index[i]] = true;
	}
	for (uint32_t i = 0; i < msg->n_fds; i++) {
		if (!used[i]) {
			return bad_reply(reason, size, "fd not used by any plane");
		}
	}
	if (msg->width == 0 || msg->height == 0) {
		return bad_reply(reason, size, "empty framebuffer");
	}
	fb->fb_id = msg->fb_id;
	fb->width = msg->width;
	fb->height = msg->height;
	fb->fourcc = msg->fourcc;
	fb->modifier_explicit = (msg->flags & HELPER_FB_MODIFIER_EXPLICIT) != 0;
	fb->modifier = fb->modifier_explicit ? msg->modifier : DRM_FORMAT_MOD_INVALID;
	fb->n_planes = msg->n_planes;
	fb->n_fds = msg->n_fds;
	for (uint32_t i = 0; i < msg->n_planes; i++) {
		fb->offsets[i] = msg->offsets[i];
		fb->pitches[i] = msg->pitches[i];
		fb->plane_fd_index[i] = msg->plane_fd_index[i];
		fb->helper_gem_handles[i] = msg->gem_handles[i];
	}
	return 0;
}

int helper_client_parse_reply(const void *buf, size_t len, size_t n_fds, uint32_t seq,
	uint16_t *type, struct helper_fb *fb, char *reason, size_t reason_size)
{
	struct helper_msg_header hdr;
	char what[HELPER_MAX_REASON];
	*type = 0;
	/* Another version is as malformed as anything else: the handshake settled it. */
	if (wire_header_check(WIRE_REPLY, buf, len, &hdr, what, sizeof(what)) < 0) {
		return bad_reply(reason, reason_size, what);
	}
	/* Errors for a connection-level problem (refused peer, no hello) carry seq 0. */
	if (hdr.seq != seq && !(hdr.type == HELPER_MSG_ERROR && hdr.seq == 0)) {
		return bad_reply(reason, reason_size, "sequence number mismatch");
	}
	if (hdr.type != HELPER_MSG_FB && n_fds != 0) {
		return bad_reply(reason, reason_size, "fds on a reply without buffers");
	}
	*type = hdr.type;

	if (hdr.type == HELPER_MSG_ERROR) {
		struct helper_msg_error msg;
		memcpy(&msg, buf, sizeof(msg));
		msg.reason[sizeof(msg.reason) - 1] = '\0';
		snprintf(reason, reason_size, "%s", msg.reason);
		if (msg.error >= 0 || msg.error < -4095) {
			return bad_reply(reason, reason_size, "error code out of range");
		}
		return msg.error;
	}
	if (hdr.type == HELPER_MSG_SAME) {
		struct helper_msg_same msg;
		memcpy(&msg, buf, sizeof(msg));
		if (msg.reserved != 0) {
			return bad_reply(reason, reason_size, "reserved field not zero");
		}
		fb->fb_id = msg.fb_id;
		return 0;
	}
	if (hdr.type == HELPER_MSG_HELLO_REPLY) {
		struct helper_msg_hello msg;
		memcpy(&msg, buf, sizeof(msg));
		return msg.proto_version == HELPER_PROTO_VERSION
			       ? 0
			       : bad_reply(reason, reason_size, "helper speaks another version");
	}
	struct helper_msg_fb msg;
	memcpy(&msg, buf, sizeof(msg));
	return parse_fb(&msg, n_fds, fb, reason, reason_size);
}
