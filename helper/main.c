/*
 * kmscast-helper: the one privileged program of kmscast. It turns "the framebuffer on CRTC c
 * now" into DMA-BUF fds for an unprivileged client. See docs/security.md for why it exists and
 * docs/protocol.md for what it speaks.
 *
 *   kmscast-helper --fd N            spawned: serve the one connection on fd N, exit at EOF
 *   kmscast-helper --socket-activated  serve the listening sockets passed via LISTEN_FDS
 *
 * argv is chosen by whoever runs us (in spawned mode, a member of the kmscast group: the file
 * mode says so, and check_caller checks it again), so nothing in it widens what the helper
 * does; the environment is not read beyond LISTEN_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "helper.h"

#define SD_LISTEN_FDS_START 3
#define MAX_LISTEN_FDS 4

struct options {
	int spawned_fd; /* -1 unless --fd */
	bool socket_activated;
	bool debug;
	/* Captured before clearenv(). */
	long listen_pid;
	long listen_fds;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kmscast-helper (--fd N | --socket-activated) [--debug]\n");
}

static long parse_long(const char *s, long min, long max)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return -1;
	}
	return v;
}

static int parse_args(int argc, char **argv, struct options *opts)
{
	*opts = (struct options){.spawned_fd = -1, .listen_pid = -1, .listen_fds = -1};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
			opts->spawned_fd = (int)parse_long(argv[++i], 0, 1 << 20);
			if (opts->spawned_fd < 0) {
				return -EINVAL;
			}
		} else if (strcmp(argv[i], "--socket-activated") == 0) {
			opts->socket_activated = true;
		} else if (strcmp(argv[i], "--debug") == 0) {
			opts->debug = true;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("kmscast-helper %s (protocol %d)\n", KMSCAST_VERSION,
				HELPER_PROTO_VERSION);
			exit(EXIT_SUCCESS);
		} else {
			return -EINVAL;
		}
	}
	if ((opts->spawned_fd >= 0) == opts->socket_activated) {
		return -EINVAL;
	}
	return 0;
}

static void capture_listen_env(struct options *opts)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	opts->listen_pid = pid != NULL ? parse_long(pid, 1, 1L << 30) : -1;
	opts->listen_fds = fds != NULL ? parse_long(fds, 1, MAX_LISTEN_FDS) : -1;
}

static void refuse_spawned(int fd, int error, const char *reason)
{
	struct helper_msg_error msg;
	helper_build_error(&msg, 0, error, reason);
	ssize_t n = write(fd, &msg, sizeof(msg)); /* best effort; EBADF/ENOTSOCK likely */
	(void)n;
}

/*
 * Spawned mode: whoever ran us must be root or in the group. The file mode (root:<group>
 * 0750) should already ensure that, but an install where it could not be applied leaves the
 * helper 0755 with its file capability, so the helper does not rely on it. A helper with no
 * privilege (a build tree, a nosuid mount) gives its caller nothing the caller does not
 * already have, so it does not insist: the unit tests run it as any user.
 */
static int check_caller(int fd)
{
	if (getuid() == 0 || !helper_privileged()) {
		return 0;
	}
	char reason[HELPER_MAX_REASON];
	int r = -ENOENT;
	struct group *grp = getgrnam(KMSCAST_GROUP);
	if (grp == NULL) {
		snprintf(reason, sizeof(reason), "group %s does not exist", KMSCAST_GROUP);
	} else {
		r = helper_caller_check_group(grp->gr_gid, reason, sizeof(reason));
	}
	if (r < 0) {
		helper_log("refusing to run for uid %u: %s (only root and members of group %s "
			   "may use kmscast-helper)",
			(unsigned int)getuid(), reason, KMSCAST_GROUP);
		refuse_spawned(fd, -EACCES, reason);
	}
	return r;
}

/* Spawned mode: the one connection must come from our own (real) uid. */
static int verify_spawned_peer(int fd)
{
	char reason[HELPER_MAX_REASON];
	int r = helper_peer_check_uid(fd, getuid(), reason, sizeof(reason));
	if (r < 0) {
		helper_log("refusing connection: %s", reason);
		refuse_spawned(fd, r, reason);
	}
	return r;
}

/*
 * Clears SO_PASSCRED and SO_PASSSEC, which accepted sockets inherit: with either set every
 * record would arrive with MSG_CTRUNC (server.c receives without a control buffer) and be
 * refused. systemd sets them only for PassCredentials=/PassSecurity=, which our unit lacks.
 */
static int clear_pass_options(int fd)
{
	int off = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &off, sizeof(off)) < 0 ||
		setsockopt(fd, SOL_SOCKET, SO_PASSSEC, &off, sizeof(off)) < 0) {
		return -errno;
	}
	return 0;
}

/* Socket mode: check the passed listeners and resolve the allowed group before seccomp. */
static int verify_listeners(const struct options *opts, gid_t *gid)
{
	if (opts->listen_pid != (long)getpid() || opts->listen_fds < 1) {
		helper_log(
			"--socket-activated: no listening sockets passed (LISTEN_PID/LISTEN_FDS)");
		return -EINVAL;
	}
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + opts->listen_fds; fd++) {
		if (helper_check_listener(fd) < 0) {
			helper_log("fd %d is not a listening AF_UNIX SOCK_SEQPACKET socket", fd);
			return -EINVAL;
		}
		/*
		 * Non-blocking, so an accept4() after poll() cannot hang when the peer gave up
		 * in between; close-on-exec for good measure. fcntl() is gone after seccomp.
		 */
		int flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
			fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || clear_pass_options(fd) < 0) {
			helper_log("fd %d: fcntl or setsockopt: %m", fd);
			return -EINVAL;
		}
	}
	struct group *grp = getgrnam(KMSCAST_GROUP);
	if (grp == NULL) {
		helper_log("group %s does not exist", KMSCAST_GROUP);
		return -ENOENT;
	}
	*gid = grp->gr_gid;
	return 0;
}

static int harden(const struct helper_hardening *h)
{
	int r = helper_drop_capabilities();
	if (r < 0) {
		helper_log("cannot drop capabilities: %s", strerror(-r));
		return r;
	}
	/* Before the filter, which allows neither prlimit64 nor setrlimit. */
	r = helper_set_rlimits(h);
	if (r < 0) {
		helper_log("cannot set resource limits: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		helper_log("PR_SET_NO_NEW_PRIVS: %m");
		return -errno;
	}
	r = helper_install_seccomp(h);
	if (r < 0) {
		helper_log("cannot install seccomp filter: %s", strerror(-r));
	}
	return r;
}

static int serve(const struct options *opts, gid_t gid, struct helper_session *session)
{
	struct helper_server_config config = {
		.backend = &helper_drm_backend,
		.accept_policy = HELPER_PEER_GROUP,
		.gid = gid,
		.hello_timeout_ms = HELPER_HELLO_TIMEOUT_MS,
		/*
		 * Only where connections share slots. A spawned helper serves its one caller,
		 * which ends it by closing; timing it out would only cost that caller a re-spawn.
		 */
		.idle_timeout_ms = opts->socket_activated ? HELPER_IDLE_TIMEOUT_MS : 0,
		.session = session,
	};
	struct helper_server *server = helper_server_create(&config);
	if (server == NULL) {
		return -ENOMEM;
	}
	int r = 0;
	if (opts->socket_activated) {
		for (int i = 0; i < opts->listen_fds && r == 0; i++) {
			r = helper_server_add_listener(server, SD_LISTEN_FDS_START + i);
		}
	} else {
		r = helper_server_add_client(server, opts->spawned_fd);
	}
	while (r == 0 && !helper_server_idle(server)) {
		r = helper_server_dispatch(server, -1);
	}
	helper_server_destroy(server);
	return r;
}

int main(int argc, char **argv)
{
	/* 1. No ptrace by our uid, no core dumps: the process holds CAP_SYS_ADMIN and screens. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		return EXIT_FAILURE;
	}
	/* A log write to a stderr pipe whose reader is gone must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	struct options opts;
	if (parse_args(argc, argv, &opts) < 0) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	helper_log_set_debug(opts.debug);
	capture_listen_env(&opts);

	/* 2. Nothing from the caller's environment reaches libdrm, NSS or anything else. */
	if (clearenv() != 0) {
		return EXIT_FAILURE;
	}

	/* 3. Who may run us and talk to us. */
	gid_t gid = (gid_t)-1;
	int r = 0;
	if (opts.socket_activated) {
		r = verify_listeners(&opts, &gid);
	} else {
		r = check_caller(opts.spawned_fd);
		if (r == 0) {
			r = verify_spawned_peer(opts.spawned_fd);
		}
	}
	if (r < 0) {
		return EXIT_FAILURE;
	}
	/* 3b. Which screens: seat and session checks, set up while files may still be read. */
	struct helper_session *session = NULL;
	if (helper_session_start(&session) < 0) {
		return EXIT_FAILURE;
	}

	/* 4-7. Capabilities, rlimits, no_new_privs, seccomp. */
	struct helper_hardening h = {
		.socket_mode = opts.socket_activated,
		.n_listeners = opts.socket_activated ? (size_t)opts.listen_fds : 0,
		.seat_checks = session != NULL,
	};
	if (harden(&h) < 0) {
		helper_session_destroy(session);
		return EXIT_FAILURE;
	}

	r = serve(&opts, gid, session);
	helper_session_destroy(session);
	if (r < 0) {
		helper_log("exiting: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
