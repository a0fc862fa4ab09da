/*
 * The connection loop: listeners, connections, one poll() for all of them. Sockets are
 * non-blocking; a peer that does not read its replies is dropped rather than waited for, so
 * one slow or hostile client cannot stall the others.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

/* Listening sockets from socket activation. systemd passes what the .socket unit lists. */
#define MAX_LISTENERS 4

/* uid of a connection that HELPER_MAX_CLIENTS_PER_UID does not count (spawned mode, tests). */
#define UNCOUNTED_UID ((uid_t)-1)

struct connection {
	int fd;
	uid_t uid; /* the peer's, or UNCOUNTED_UID */
	bool said_hello;
	/*
	 * Monotonic. Before hello: when the hello timeout hits. After: when the idle timeout
	 * hits, pushed back by every request; INT64_MAX if there is none.
	 */
	int64_t deadline_ms;
	void *backend_state; /* owned, backend->conn_destroy */
	struct helper_session_peer peer; /* only with config.session */
};

struct helper_server {
	struct helper_server_config config;
	int listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct connection *conns[HELPER_MAX_CLIENTS];
	size_t n_conns;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct helper_server *helper_server_create(const struct helper_server_config *config)
{
	struct helper_server *server = calloc(1, sizeof(*server));
	if (server == NULL) {
		return NULL;
	}
	server->config = *config;
	return server;
}

static void connection_destroy(struct helper_server *server, struct connection *conn)
{
	if (conn == NULL) {
		return;
	}
	server->config.backend->conn_destroy(server->config.backend_data, conn->backend_state);
	close(conn->fd);
	free(conn);
}

/* Removes conns[index], keeping the order of the rest so service stays round-robin. */
static void drop_connection(struct helper_server *server, size_t index)
{
	connection_destroy(server, server->conns[index]);
	memmove(&server->conns[index], &server->conns[index + 1],
		(server->n_conns - index - 1) * sizeof(server->conns[0]));
	server->n_conns--;
}

void helper_server_destroy(struct helper_server *server)
{
	if (server == NULL) {
		return;
	}
	while (server->n_conns > 0) {
		drop_connection(server, server->n_conns - 1);
	}
	for (size_t i = 0; i < server->n_listeners; i++) {
		close(server->listeners[i]);
	}
	free(server);
}

int helper_server_add_listener(struct helper_server *server, int fd)
{
	if (server->n_listeners == MAX_LISTENERS) {
		close(fd);
		return -ENOSPC;
	}
	server->listeners[server->n_listeners++] = fd; /* fd now owned by server */
	return 0;
}

static void send_error(int fd, uint32_t seq, int error, const char *reason)
{
	struct helper_msg_error msg;
	helper_build_error(&msg, seq, error, reason);
	/* Best effort: the connection may already be gone or full. */
	(void)wire_send(fd, &msg, sizeof(msg), NULL, 0);
}

static int add_connection(struct helper_server *server, int fd, uid_t uid)
{
	if (server->n_conns == HELPER_MAX_CLIENTS) {
		helper_log("refusing connection: already %d clients", HELPER_MAX_CLIENTS);
		send_error(fd, 0, -EBUSY, "too many clients");
		close(fd);
		return -EBUSY;
	}
	struct connection *conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		close(fd);
		return -ENOMEM;
	}
	conn->fd = fd; /* fd now owned by conn */
	conn->uid = uid;
	conn->deadline_ms = now_ms() + server->config.hello_timeout_ms;
	int r = server->config.session != NULL ? helper_session_peer_init(&conn->peer, fd) : 0;
	if (r == 0) {
		r = server->config.backend->conn_create(
			server->config.backend_data, &conn->backend_state);
	}
	if (r < 0) {
		connection_destroy(server, conn);
		return r;
	}
	server->conns[server->n_conns++] = conn; /* server::conns */
	return 0;
}

int helper_server_add_client(struct helper_server *server, int fd)
{
	return add_connection(server, fd, UNCOUNTED_UID);
}

/* Restarts the idle clock of a connection that said hello. */
static void mark_active(const struct helper_server *server, struct connection *conn)
{
	int timeout = server->config.idle_timeout_ms;
	conn->deadline_ms = timeout > 0 ? now_ms() + timeout : INT64_MAX;
}

/*
 * Receives one record without a control buffer (wire_recv with no fd array); returns its
 * length or -errno. Requests never carry fds, and a peer must not be able to make the helper
 * hold or close one: close(2) calls the file's ->flush, which for a FUSE file waits for the
 * FUSE server, so a peer that sends a FUSE fd would stall every connection. With msg_control
 * NULL the kernel never installs passed fds: __scm_recv_common (net/core/scm.c; scm_recv
 * before 6.x) sets MSG_CTRUNC and drops its references with scm_destroy, which is fput,
 * without ->flush. MSG_CTRUNC is then what proto.c refuses.
 */
static ssize_t receive_record(int fd, void *buf, size_t size, unsigned int *msg_flags)
{
	struct wire_rx rx;
	ssize_t n = wire_recv(fd, buf, size, NULL, &rx);
	*msg_flags = rx.msg_flags;
	return n;
}

/*
 * Reads and throws away what the peer already queued (fds dropped unseen), so that closing the
 * socket does not turn into ECONNRESET on the peer before it has read our error record.
 * Bounded: a peer that keeps writing just gets the reset.
 */
static void discard_pending(int fd)
{
	for (int i = 0; i < 2 * HELPER_MAX_MSG_SIZE; i++) {
		uint8_t buf[HELPER_MAX_MSG_SIZE];
		unsigned int flags;
		if (receive_record(fd, buf, sizeof(buf), &flags) <= 0) {
			return;
		}
	}
}

/* True if the peer has shut down its side: tells EOF from an empty record. */
static bool peer_hung_up(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static int handle_export(
	struct helper_server *server, struct connection *conn, const struct helper_request *req)
{
	struct helper_msg_fb fb;
	int fds[HELPER_MAX_FDS] = {-1, -1, -1, -1};
	char reason[HELPER_MAX_REASON] = "";
	memset(&fb, 0, sizeof(fb));

	int r = helper_session_check_export(&server->config, &conn->peer, &conn->backend_state,
		req->card, reason, sizeof(reason));
	if (r < 0 && conn->backend_state == NULL) {
		return r; /* its card cache could not be re-created: drop the connection */
	}
	if (r == 0) {
		r = server->config.backend->export_fb(server->config.backend_data,
			conn->backend_state, req, &fb, fds, reason, sizeof(reason));
	}
	if (r < 0) {
		helper_log_debug("export %s crtc %u failed: %s", req->card, req->crtc_id, reason);
		struct helper_msg_error err;
		helper_build_error(&err, req->seq, r, reason);
		return wire_send(conn->fd, &err, sizeof(err), NULL, 0);
	}
	helper_log_debug("export %s crtc %u plane %d: fb %u %ux%u, %u fds, GEM handle %u",
		req->card, req->crtc_id, req->plane, fb.fb_id, fb.width, fb.height, fb.n_fds,
		fb.gem_handles[0]);
	helper_build_fb_header(&fb, req->seq);
	r = wire_send(conn->fd, &fb, sizeof(fb), fds, fb.n_fds);
	wire_close_fds(fds, HELPER_MAX_FDS); /* the peer has its own copies now, or none */
	return r;
}

/*
 * No seat check, unlike EXPORT: CHECK returns no fd and opens no card, and its answer only
 * says whether an FB this connection was already given (while the seat check let it) is still
 * on that id. A peer that lost the seat learns nothing about the screen from it; its next
 * EXPORT is refused, which also drops the kept FBs along with its cached cards.
 */
static int handle_check(
	struct helper_server *server, struct connection *conn, const struct helper_request *req)
{
	char reason[HELPER_MAX_REASON] = "";
	int r = server->config.backend->check_fb(
		server->config.backend_data, conn->backend_state, req, reason, sizeof(reason));
	if (r < 0) {
		helper_log_debug("check %s fb %u: %s", req->card, req->fb_id, reason);
		struct helper_msg_error err;
		helper_build_error(&err, req->seq, r, reason);
		return wire_send(conn->fd, &err, sizeof(err), NULL, 0);
	}
	helper_log_debug("check %s fb %u: same", req->card, req->fb_id);
	struct helper_msg_same same;
	helper_build_same_reply(&same, req->seq, req->fb_id);
	return wire_send(conn->fd, &same, sizeof(same), NULL, 0);
}

static int handle_request(struct helper_server *server, struct connection *conn,
	const struct helper_request *req, char *reason, size_t reason_size)
{
	if (req->type == HELPER_MSG_HELLO) {
		if (conn->said_hello) {
			snprintf(reason, reason_size, "second hello");
			return -EPROTO;
		}
		conn->said_hello = true;
		struct helper_msg_hello reply;
		helper_build_hello_reply(&reply, req->seq);
		return wire_send(conn->fd, &reply, sizeof(reply), NULL, 0);
	}
	if (!conn->said_hello) {
		snprintf(reason, reason_size, "%s before hello",
			req->type == HELPER_MSG_CHECK ? "check" : "export");
		return -EPROTO;
	}
	if (req->type == HELPER_MSG_CHECK) {
		return handle_check(server, conn, req);
	}
	return handle_export(server, conn, req);
}

/*
 * Receives and answers one record. Returns 0 to keep the connection, or -errno to drop it
 * (after logging why, and for protocol errors after telling the peer).
 */
static int handle_readable(struct helper_server *server, struct connection *conn)
{
	uint8_t buf[HELPER_MAX_MSG_SIZE];
	struct helper_rx_meta meta = {0};
	ssize_t n = receive_record(conn->fd, buf, sizeof(buf), &meta.msg_flags);
	if (n < 0) {
		if (n == -EAGAIN) {
			return 0;
		}
		helper_log_debug("connection error: %s", strerror((int)-n));
		return (int)n;
	}
	if (n == 0 && !(meta.msg_flags & MSG_CTRUNC) && peer_hung_up(conn->fd)) {
		helper_log_debug("connection closed by peer");
		return -ECONNRESET;
	}

	struct helper_request req;
	char reason[HELPER_MAX_REASON];
	int r = helper_parse_request(buf, (size_t)n, &meta, &req, reason, sizeof(reason));
	if (r == 0) {
		r = handle_request(server, conn, &req, reason, sizeof(reason));
		if (conn->said_hello) {
			mark_active(server, conn);
		}
		if (r == -EAGAIN) {
			helper_log("dropping connection: peer does not read its replies");
			return r;
		}
		if (r < 0 && r != -EPROTO) {
			helper_log_debug("dropping connection: send failed: %s", strerror(-r));
			return r;
		}
	}
	if (r < 0) {
		helper_log("protocol error: %s", reason);
		send_error(conn->fd, req.seq, r, reason);
		discard_pending(conn->fd);
		return r;
	}
	return 0;
}

static int uid_connections(const struct helper_server *server, uid_t uid)
{
	int n = 0;
	for (size_t i = 0; i < server->n_conns; i++) {
		n += server->conns[i]->uid == uid;
	}
	return n;
}

static void accept_one(struct helper_server *server, int listener)
{
	int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			helper_log("accept failed: %m");
		}
		return;
	}
	char reason[HELPER_MAX_REASON];
	int r = 0;
	if (server->config.accept_policy == HELPER_PEER_GROUP) {
		r = helper_peer_check_group(fd, server->config.gid, reason, sizeof(reason));
	}
	uid_t uid = UNCOUNTED_UID;
	if (r == 0) {
		r = helper_peer_uid(fd, &uid);
		if (r < 0) {
			snprintf(reason, sizeof(reason), "SO_PEERCRED failed: %s", strerror(-r));
		}
	}
	if (r == 0 && uid_connections(server, uid) >= HELPER_MAX_CLIENTS_PER_UID) {
		snprintf(reason, sizeof(reason), "uid %u already has %d connections",
			(unsigned int)uid, HELPER_MAX_CLIENTS_PER_UID);
		r = -EBUSY;
	}
	if (r < 0) {
		helper_log("refusing connection: %s", reason);
		send_error(fd, 0, r, reason);
		close(fd);
		return;
	}
	(void)add_connection(server, fd, uid); /* fd now owned by the server */
}

static int poll_timeout(const struct helper_server *server, int timeout_ms)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < server->n_conns; i++) {
		const struct connection *conn = server->conns[i];
		if (conn->deadline_ms == INT64_MAX) {
			continue;
		}
		int64_t left = conn->deadline_ms - now;
		left = left < 0 ? 0 : left;
		if (timeout_ms < 0 || left < timeout_ms) {
			timeout_ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
	}
	return timeout_ms;
}

/* Drops connections that did not say hello in time, or sent nothing for too long since. */
static void expire_connections(struct helper_server *server)
{
	int64_t now = now_ms();
	for (size_t i = server->n_conns; i-- > 0;) {
		struct connection *conn = server->conns[i];
		if (now < conn->deadline_ms) {
			continue;
		}
		if (!conn->said_hello) {
			helper_log("protocol error: no hello within %d ms",
				server->config.hello_timeout_ms);
			send_error(conn->fd, 0, -ETIMEDOUT, "no hello in time");
		} else {
			/*
			 * -ECONNRESET: src/lib/helper-client.c then reconnects and retries on its
			 * next export, as after any lost connection.
			 */
			helper_log("closing connection: no request within %d ms",
				server->config.idle_timeout_ms);
			send_error(conn->fd, 0, -ECONNRESET, "idle for too long");
		}
		drop_connection(server, i);
	}
}

int helper_server_dispatch(struct helper_server *server, int timeout_ms)
{
	struct pollfd pfds[MAX_LISTENERS + HELPER_MAX_CLIENTS];
	struct connection *polled[HELPER_MAX_CLIENTS];
	size_t n_listeners = server->n_listeners, n_conns = server->n_conns;

	for (size_t i = 0; i < n_listeners; i++) {
		pfds[i] = (struct pollfd){.fd = server->listeners[i], .events = POLLIN};
	}
	for (size_t i = 0; i < n_conns; i++) {
		polled[i] = server->conns[i];
		pfds[n_listeners + i] = (struct pollfd){.fd = polled[i]->fd, .events = POLLIN};
	}

	int n = poll(pfds, n_listeners + n_conns, poll_timeout(server, timeout_ms));
	if (n < 0) {
		return errno == EINTR ? 0 : -errno;
	}

	/* Connections first: accepting may add to conns, which polled[] does not track. */
	for (size_t i = 0; i < n_conns; i++) {
		short revents = pfds[n_listeners + i].revents;
		if (revents == 0) {
			continue;
		}
		struct connection *conn = polled[i];
		int r = (revents & POLLIN) ? handle_readable(server, conn) : -ECONNRESET;
		if (r < 0) {
			for (size_t j = 0; j < server->n_conns; j++) {
				if (server->conns[j] == conn) {
					drop_connection(server, j);
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < n_listeners; i++) {
		if (pfds[i].revents & POLLIN) {
			accept_one(server, pfds[i].fd);
		}
	}
	expire_connections(server);
	return 0;
}

size_t helper_server_client_count(const struct helper_server *server)
{
	return server->n_conns;
}

bool helper_server_idle(const struct helper_server *server)
{
	return server->n_conns == 0 && server->n_listeners == 0;
}
