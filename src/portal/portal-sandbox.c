/* SPDX-License-Identifier: MIT */
/*
 * Is the app behind a portal session sandboxed? The backend gets only the app id the frontend
 * derived from the caller, so it asks who else knows that id:
 *
 *  - Flatpak: `flatpak run` makes $XDG_RUNTIME_DIR/.flatpak/<instance>/ for each running
 *    sandbox, with "info", the key file the app sees as /.flatpak-info; [Application] name=
 *    is the app id the frontend read from that same file (flatpak 1.1's FlatpakInstance,
 *    common/flatpak-instance.c). Flatpak removes an instance once its .ref lock is free, so a
 *    stale one can outlive the app for a while: that only costs a host app of the same id a
 *    copy.
 *  - Snap: xdg-desktop-portal names a snap "snap.<instance name>" (xdp-app-info-snap.c).
 *
 * A non-empty id alone proves nothing: xdg-desktop-portal 1.18 and later give host apps ids
 * too, from their systemd scope or the host Registry.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portal-sandbox.h"

#define SNAP_PREFIX "snap."
#define FLATPAK_INSTANCES_DIR ".flatpak"
#define FLATPAK_INFO_FILE "info"
#define FLATPAK_GROUP_APPLICATION "[Application]"
#define FLATPAK_KEY_NAME "name"

static const char *const copies_names[] = {
	[PORTAL_COPIES_SANDBOXED] = "sandboxed",
	[PORTAL_COPIES_ALL] = "all",
	[PORTAL_COPIES_NONE] = "none",
};

int portal_copies_parse(const char *value, enum portal_copies *out)
{
	for (size_t i = 0; i < sizeof(copies_names) / sizeof(copies_names[0]); i++) {
		if (!strcmp(value, copies_names[i])) {
			*out = (enum portal_copies)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *portal_copies_name(enum portal_copies policy)
{
	if ((size_t)policy >= sizeof(copies_names) / sizeof(copies_names[0])) {
		return "?";
	}
	return copies_names[policy];
}

const char *portal_app_kind_name(enum portal_app_kind kind)
{
	switch (kind) {
	case PORTAL_APP_FLATPAK:
		return "flatpak";
	case PORTAL_APP_SNAP:
		return "snap";
	default:
		return "host";
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The line [start, end) without the blanks around it. */
static void trim(const char **start, const char **end)
{
	while (*start < *end && is_space(**start)) {
		(*start)++;
	}
	while (*end > *start && is_space((*end)[-1])) {
		(*end)--;
	}
}

/*
 * Whether "key = value" (GKeyFile: blanks around '=' do not count) is name=app_id. A
 * localised key (name[de]) is another key.
 */
static bool line_names(const char *line, const char *end, const char *app_id)
{
	const char *eq = memchr(line, '=', (size_t)(end - line));
	const char *key_end, *value;
	size_t key_len = strlen(FLATPAK_KEY_NAME);

	if (!eq) {
		return false;
	}
	key_end = eq;
	value = eq + 1;
	trim(&line, &key_end);
	trim(&value, &end);
	return (size_t)(key_end - line) == key_len && !memcmp(line, FLATPAK_KEY_NAME, key_len) &&
			(size_t)(end - value) == strlen(app_id) &&
			!memcmp(value, app_id, (size_t)(end - value));
}

/* Whether the info key file text names app_id in its [Application] group. */
static bool info_names_app(const char *text, size_t len, const char *app_id)
{
	const char *p = text, *stop = text + len;
	bool in_application = false;

	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *line = p, *end = nl ? nl : stop;

		p = nl ? nl + 1 : stop;
		trim(&line, &end);
		if (line == end || *line == '#') {
			continue;
		}
		if (*line == '[') {
			in_application = (size_t)(end - line) == strlen(FLATPAK_GROUP_APPLICATION) &&
					!memcmp(line, FLATPAK_GROUP_APPLICATION, (size_t)(end - line));
			continue;
		}
		if (in_application && line_names(line, end, app_id)) {
			return true;
		}
	}
	return false;
}

/* Reads the regular file at dir_fd/path into buf. Returns its length or -errno. */
static ssize_t read_info(int dir_fd, const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, res;

	/* O_NONBLOCK: a FIFO planted there must not hang the portal. */
	fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		res = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		res = -ENOENT; /* not an instance's info */
		goto err_close;
	}
	while ((n = read(fd, buf + len, size - len)) > 0 && (len += (size_t)n) < size) {
		;
	}
	if (n < 0) {
		res = -errno;
		goto err_close;
	}
	close(fd);
	return (ssize_t)len;

err_close:
	close(fd);
	return res;
}

/* 1 when instance dir_fd/name runs app_id, 0 when not (or it is no instance), or -errno. */
static int instance_runs(int dir_fd, const char *name, const char *app_id, char *buf)
{
	char path[NAME_MAX + sizeof("/" FLATPAK_INFO_FILE)];
	ssize_t len;

	snprintf(path, sizeof(path), "%s/%s", name, FLATPAK_INFO_FILE);
	len = read_info(dir_fd, path, buf, PORTAL_SANDBOX_MAX_INFO + 1);
	/* Flatpak keeps other entries there too (per-app dirs, lock files): no info, no app. */
	if (len == -ENOENT || len == -ENOTDIR) {
		return 0;
	}
	if (len < 0) {
		return (int)len;
	}
	if (len > PORTAL_SANDBOX_MAX_INFO) {
		return -EFBIG;
	}
	return info_names_app(buf, (size_t)len, app_id);
}

/* 1 when a Flatpak instance in runtime_dir runs app_id, 0 when none does, or -errno. */
static int flatpak_app_runs(const char *app_id, const char *runtime_dir)
{
	char path[PATH_MAX];
	struct dirent *ent;
	uint32_t n = 0;
	char *buf;
	DIR *dir;
	int fd, res = 0;

	if (snprintf(path, sizeof(path), "%s/%s", runtime_dir, FLATPAK_INSTANCES_DIR) >=
			(int)sizeof(path)) {
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	dir = fdopendir(fd);
	if (!dir) {
		res = -errno;
		close(fd);
		return res;
	}
	/* fd now owned by dir */
	buf = malloc(PORTAL_SANDBOX_MAX_INFO + 1);
	if (!buf) {
		res = -ENOMEM;
		goto out_closedir;
	}
	errno = 0;
	while (res == 0 && (ent = readdir(dir)) != NULL) {
		if (ent->d_name[0] == '.') {
			continue;
		}
		if (++n > PORTAL_SANDBOX_MAX_INSTANCES) {
			res = -E2BIG;
		} else {
			res = instance_runs(dirfd(dir), ent->d_name, app_id, buf);
		}
		errno = 0;
	}
	if (res == 0 && errno != 0) {
		res = -errno;
	}
	free(buf);
out_closedir:
	closedir(dir);
	return res;
}

int portal_app_classify(const char *app_id, const char *runtime_dir)
{
	int res;

	if (!app_id || !app_id[0]) {
		return PORTAL_APP_HOST;
	}
	if (!strncmp(app_id, SNAP_PREFIX, strlen(SNAP_PREFIX))) {
		return PORTAL_APP_SNAP;
	}
	if (!runtime_dir || runtime_dir[0] != '/') {
		return -EINVAL;
	}
	if ((res = flatpak_app_runs(app_id, runtime_dir)) < 0) {
		return res;
	}
	return res ? PORTAL_APP_FLATPAK : PORTAL_APP_HOST;
}

bool portal_copies_for_kind(enum portal_copies policy, int kind)
{
	switch (policy) {
	case PORTAL_COPIES_ALL:
		return true;
	case PORTAL_COPIES_NONE:
		return false;
	default:
		return kind != PORTAL_APP_HOST;
	}
}

bool portal_copies_wanted(enum portal_copies policy, const char *app_id,
		const char *runtime_dir)
{
	int kind = PORTAL_APP_HOST;

	if (policy == PORTAL_COPIES_SANDBOXED) {
		kind = portal_app_classify(app_id, runtime_dir);
	}
	return portal_copies_for_kind(policy, kind);
}
