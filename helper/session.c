/*
 * Who may capture which screen. peer.c decides who may talk to the helper at all (its uid in
 * spawned mode, its group in socket mode); this decides which screens they get: a card's
 * CRTCs are exported only to the uid that owns the active, local session of the card's seat,
 * asked again on every export. docs/security.md, "Who may capture which screen: seats and
 * sessions", states the model; the reasons for each choice are next to the code below.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <seccomp.h>
#include <systemd/sd-login.h>

#include "helper.h"
#include "seat.h"

/*
 * Not under the build prefix: the file relaxes the policy, so it lives where only root writes
 * and where an administrator looks, whatever prefix kmscast was built for.
 */
#define HELPER_CONFIG_PATH "/etc/kmscast/helper.conf"
#define MAX_CONFIG_SIZE 4096
#define DRM_MAJOR 226

struct helper_session {
	const struct helper_session_ops *ops;
	void *data; /* owned, ops->destroy */
};

/* Start-up: logind, and the administrator's escape hatch */

/* Refuses fd unless it is of type, owned by owner and writable by nobody else. */
static int check_trusted(int fd, mode_t type, uid_t owner, char *reason, size_t size)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		return helper_fail(reason, size, -errno, "fstat: %s", strerror(errno));
	}
	if ((st.st_mode & S_IFMT) != type) {
		return helper_fail(reason, size, -EPERM, "not a %s",
			type == S_IFDIR ? "directory" : "regular file");
	}
	if (st.st_uid != owner) {
		return helper_fail(reason, size, -EPERM, "owned by uid %u, not %u",
			(unsigned int)st.st_uid, (unsigned int)owner);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		return helper_fail(reason, size, -EPERM, "writable by group or others (mode %04o)",
			(unsigned int)(st.st_mode & 07777));
	}
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
		s[--n] = '\0';
	}
	return s;
}

/* "key = value" lines, '#' comments; the one key is allow-without-session. */
static int parse_config(char *text, bool *allow, char *reason, size_t size)
{
	int line_no = 0;
	for (char *line = text, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
		}
		line_no++;
		line = trim(line);
		if (*line == '\0' || *line == '#') {
			continue;
		}
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			return helper_fail(reason, size, -EINVAL, "line %d: no '='", line_no);
		}
		*eq = '\0';
		const char *key = trim(line), *value = trim(eq + 1);
		if (strcmp(key, "allow-without-session") != 0) {
			return helper_fail(reason, size, -EINVAL, "line %d: unknown key", line_no);
		}
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
			return helper_fail(
				reason, size, -EINVAL, "line %d: not true or false", line_no);
		}
		*allow = strcmp(value, "true") == 0;
	}
	return 0;
}

/*
 * Reads path into text after checking its directory and then the file itself through their
 * open fds, so that what is checked is what is read. Returns 0, -ENOENT if either is missing,
 * or -errno with a reason.
 */
static int read_config(
	const char *path, uid_t owner, char *text, size_t text_size, char *reason, size_t size)
{
	const char *slash = strrchr(path, '/');
	char dir_path[PATH_MAX];
	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir_path) - 1) {
		return helper_fail(reason, size, -EINVAL, "not an absolute path");
	}
	snprintf(dir_path, sizeof(dir_path), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int dir_fd = open(dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		return helper_fail(reason, size, -errno, "its directory: %s", strerror(errno));
	}
	int r = check_trusted(dir_fd, S_IFDIR, owner, reason, size);
	if (r < 0) {
		goto close_dir;
	}
	/* O_NONBLOCK: a FIFO put there must not hang the helper before it is refused. */
	int fd = openat(
		dir_fd, slash + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = helper_fail(
			reason, size, -errno, "%s", errno == ELOOP ? "a symlink" : strerror(errno));
		goto close_dir;
	}
	r = check_trusted(fd, S_IFREG, owner, reason, size);
	if (r < 0) {
		goto close_file;
	}
	ssize_t n = read(fd, text, text_size);
	if (n < 0 || (size_t)n >= text_size || memchr(text, '\0', (size_t)n) != NULL) {
		r = helper_fail(reason, size, n < 0 ? -errno : -EFBIG,
			"unreadable, binary or over %zu bytes", text_size - 1);
		goto close_file;
	}
	text[n] = '\0';
close_file:
	close(fd);
close_dir:
	close(dir_fd);
	return r;
}

/* Whether a trusted config file turns the seat checks off. Missing or refused: no. */
static bool allowed_by_config(const char *path, uid_t owner)
{
	char text[MAX_CONFIG_SIZE + 1];
	char reason[128];
	bool allow = false;
	int r = read_config(path, owner, text, sizeof(text), reason, sizeof(reason));
	if (r == 0) {
		r = parse_config(text, &allow, reason, sizeof(reason));
	}
	if (r < 0 && r != -ENOENT) {
		helper_log("ignoring %s: %s", path, reason);
		return false;
	}
	return r == 0 && allow;
}

enum helper_seat_checks helper_session_decide(
	const char *seats_dir, const char *config_path, uid_t config_owner)
{
	if (!seat_logind_running(seats_dir)) {
		helper_log("seat checks are off: logind is not running (no %s), so there are no "
			   "sessions to keep apart",
			seats_dir);
		return HELPER_SEATS_NO_LOGIND;
	}
	if (allowed_by_config(config_path, config_owner)) {
		helper_log("seat checks are off: allow-without-session = true in %s", config_path);
		return HELPER_SEATS_ALLOWED_BY_CONFIG;
	}
	return HELPER_SEATS_CHECKED;
}

/* The policy */

struct helper_session *helper_session_create(const struct helper_session_ops *ops, void *data)
{
	struct helper_session *session = calloc(1, sizeof(*session));
	if (session == NULL) {
		if (ops->destroy != NULL) {
			ops->destroy(data);
		}
		return NULL;
	}
	session->ops = ops;
	session->data = data; /* data now owned by session */
	return session;
}

void helper_session_destroy(struct helper_session *session)
{
	if (session == NULL) {
		return;
	}
	if (session->ops->destroy != NULL) {
		session->ops->destroy(session->data);
	}
	free(session);
}

int helper_session_peer_init(struct helper_session_peer *peer, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		return -errno;
	}
	*peer = (struct helper_session_peer){.uid = cred.uid, .verdict = HELPER_PEER_UNCHECKED};
	return 0;
}

/*
 * 0 if uid owns the active session of seat and it is local. Same-uid sessions are not told
 * apart: any process of the uid can already ptrace or talk to that uid's compositor.
 */
static int check_seat(const struct helper_session *session, const char *seat, uid_t uid,
	char *reason, size_t size)
{
	char *active = NULL;
	uid_t owner = 0;
	int r = session->ops->seat_active(session->data, seat, &active, &owner);
	if (r == -ENODATA) {
		return helper_fail(reason, size, -EACCES, "%s has no active session", seat);
	}
	if (r == -ENXIO) {
		return helper_fail(reason, size, -EACCES, "logind knows no %s", seat);
	}
	if (r < 0) {
		return helper_fail(
			reason, size, -EACCES, "no active session on %s: %s", seat, strerror(-r));
	}
	if (owner != uid) {
		r = helper_fail(reason, size, -EACCES,
			"%s: active session %s is uid %u's, not %u's", seat, active,
			(unsigned int)owner, (unsigned int)uid);
		goto free_active;
	}
	int remote = session->ops->session_is_remote(session->data, active);
	if (remote > 0) {
		r = helper_fail(
			reason, size, -EACCES, "%s: active session %s is remote", seat, active);
	} else if (remote < 0) {
		r = helper_fail(reason, size, -EACCES, "%s: is session %s local? %s", seat, active,
			strerror(-remote));
	}
free_active:
	free(active);
	return r;
}

static int check_card(const struct helper_session *session, uid_t uid, dev_t devnum,
	const char *card, char *reason, size_t size)
{
	char seat[HELPER_MAX_SEAT_NAME];
	int r = session->ops->seat_of_card(session->data, devnum, seat, sizeof(seat));
	if (r == -ENOENT) {
		return helper_fail(reason, size, -EACCES,
			"%s appeared after the helper started: seat unknown", card);
	}
	if (r < 0) {
		return helper_fail(
			reason, size, -EACCES, "%s: seat unknown: %s", card, strerror(-r));
	}
	return check_seat(session, seat, uid, reason, size);
}

/*
 * Closes every card the connection cached: they belong to a screen the peer may no longer
 * see. Re-created empty, so a later allowed export opens the card afresh.
 */
static int forget_cards(const struct helper_server_config *config, void **backend_state)
{
	config->backend->conn_destroy(config->backend_data, *backend_state);
	*backend_state = NULL;
	int r = config->backend->conn_create(config->backend_data, backend_state);
	if (r < 0) {
		*backend_state = NULL;
		helper_log(
			"dropping connection: cannot re-create its card cache: %s", strerror(-r));
	}
	return r;
}

int helper_session_check_export(const struct helper_server_config *config,
	struct helper_session_peer *peer, void **backend_state, const char *card, char *reason,
	size_t reason_size)
{
	const struct helper_session *session = config->session;
	if (session == NULL) {
		return 0;
	}
	if (config->backend->card_devnum == NULL) {
		return helper_fail(
			reason, reason_size, -EOPNOTSUPP, "seat checks need card_devnum");
	}
	dev_t devnum = 0;
	int r = config->backend->card_devnum(
		config->backend_data, *backend_state, card, &devnum, reason, reason_size);
	if (r < 0) {
		return r; /* the card's own error, as without seat checks */
	}
	r = check_card(session, peer->uid, devnum, card, reason, reason_size);
	if (r == 0) {
		if (peer->verdict == HELPER_PEER_REFUSED) {
			helper_log("exports to uid %u allowed again (%s)", (unsigned int)peer->uid,
				card);
		}
		peer->verdict = HELPER_PEER_ALLOWED;
		return 0;
	}
	/* Once per change, not per frame: a streaming peer keeps asking at the refresh rate. */
	if (peer->verdict != HELPER_PEER_REFUSED) {
		helper_log("refusing exports to uid %u: %s", (unsigned int)peer->uid, reason);
	}
	peer->verdict = HELPER_PEER_REFUSED;
	int dropped = forget_cards(config, backend_state);
	return dropped < 0 ? dropped : r;
}

/*
 * The real answers: logind's files through sd-login, udev's ID_SEAT through common/seat.c
 * (sd-device), the same lookup the daemon's portal makes.
 */

struct card_seat {
	dev_t devnum;
	char seat[HELPER_MAX_SEAT_NAME]; /* "" when it could not be read */
};

/* The seat of every card present at start-up. */
struct card_seats {
	struct card_seat cards[HELPER_MAX_CARD_INDEX + 1];
	size_t n_cards;
};

static int logind_seat_of_card(void *data, dev_t devnum, char *seat, size_t size)
{
	const struct card_seats *seats = data;
	for (size_t i = 0; i < seats->n_cards; i++) {
		if (seats->cards[i].devnum == devnum) {
			if (seats->cards[i].seat[0] == '\0') {
				return -ENODATA;
			}
			snprintf(seat, size, "%s", seats->cards[i].seat);
			return 0;
		}
	}
	return -ENOENT;
}

static int logind_seat_active(void *data, const char *seat, char **session, uid_t *uid)
{
	return sd_seat_get_active(seat, session, uid);
}

static int logind_session_is_remote(void *data, const char *session)
{
	return sd_session_is_remote(session);
}

static void logind_destroy(void *data)
{
	free(data);
}

static const struct helper_session_ops logind_ops = {
	.seat_of_card = logind_seat_of_card,
	.seat_active = logind_seat_active,
	.session_is_remote = logind_session_is_remote,
	.destroy = logind_destroy,
};

/*
 * Reads the seat of every /dev/dri/card* now, before the seccomp filter: sd-device walks
 * sysfs with O_PATH opens, readlinkat, faccessat2 and getrandom (systemd 252), none of which
 * the filter allows, and allowing them would open most of the file system to the helper.
 * The price: a card's seat is what it was when the helper started.
 */
static int snapshot_cards(struct card_seats *seats)
{
	DIR *dir = opendir("/dev/dri");
	if (dir == NULL) {
		return errno == ENOENT ? 0 : -errno;
	}
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && seats->n_cards <= HELPER_MAX_CARD_INDEX) {
		struct stat st;
		if (!wire_card_name_valid(e->d_name) ||
			fstatat(dirfd(dir), e->d_name, &st, 0) < 0 || !S_ISCHR(st.st_mode) ||
			major(st.st_rdev) != DRM_MAJOR) {
			continue;
		}
		struct card_seat *card = &seats->cards[seats->n_cards++];
		card->devnum = st.st_rdev;
		int r = seat_of_devnum(st.st_rdev, card->seat, sizeof(card->seat));
		if (r < 0) {
			card->seat[0] = '\0';
			helper_log("%s: cannot read its seat (%s): its exports will be refused",
				e->d_name, strerror(-r));
		} else {
			helper_log_debug("%s is on %s", e->d_name, card->seat);
		}
	}
	closedir(dir);
	return 0;
}

int helper_session_start(struct helper_session **out)
{
	*out = NULL;
	if (helper_session_decide(SEAT_LOGIND_DIR, HELPER_CONFIG_PATH, 0) !=
		HELPER_SEATS_CHECKED) {
		return 0;
	}
	struct card_seats *seats = calloc(1, sizeof(*seats));
	if (seats == NULL) {
		return -ENOMEM;
	}
	int r = snapshot_cards(seats);
	if (r < 0) {
		helper_log("cannot list /dev/dri: %s", strerror(-r));
		free(seats);
		return r;
	}
	*out = helper_session_create(&logind_ops, seats); /* seats now owned by *out */
	return *out != NULL ? 0 : -ENOMEM;
}

/*
 * After start-up the checks read two of logind's files per export: sd_seat_get_active and
 * sd_session_is_remote use fopen("re") (systemd 252), i.e. openat(O_RDONLY|O_CLOEXEC), fstat
 * and read. That opens, read-only, what the helper's uid may read anyway; no other open flags,
 * and no directory walks. SO_PEERCRED of each new connection needs getsockopt, which spawned
 * mode otherwise forbids.
 */
int helper_session_allow_syscalls(void *seccomp_ctx)
{
	scmp_filter_ctx ctx = seccomp_ctx;
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
		SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu, O_RDONLY | O_CLOEXEC));
	if (r == 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 0);
	}
	if (r == 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
			SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET), SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));
	}
	return r;
}
