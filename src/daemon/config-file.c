/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-file.h"

#define CONFIG_SUBPATH "kmscast/kmscast.conf"

void config_init(struct kmscast_config *cfg, const char *default_helper_socket)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->portal = true;
	cfg->shared_nodes = true;
	cfg->helper_mode = CONFIG_HELPER_SPAWN;
	cfg->resend_ms = -1;
	cfg->portal_copies = PORTAL_COPIES_SANDBOXED;
	snprintf(cfg->portal_desktop, sizeof(cfg->portal_desktop), "%s", CONFIG_DEFAULT_DESKTOP);
	snprintf(cfg->helper_socket, sizeof(cfg->helper_socket), "%s",
			default_helper_socket ? default_helper_socket : "");
}

static int try_path(char *out, size_t size, const char *dir, const char *sub)
{
	int n;

	if (!dir || dir[0] != '/') {
		return -ENOENT; /* XDG base dirs must be absolute; relative ones are ignored */
	}
	n = snprintf(out, size, "%s%s%s", dir, sub, CONFIG_SUBPATH);
	if (n < 0 || (size_t)n >= size) {
		return -ENAMETOOLONG;
	}
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

int config_locate(const char *xdg_config_home, const char *home, const char *xdg_config_dirs,
		char *out, size_t size)
{
	char dir[CONFIG_MAX_PATH];
	const char *p;
	int res;

	if (xdg_config_home && xdg_config_home[0]) {
		res = try_path(out, size, xdg_config_home, "/");
	} else {
		res = try_path(out, size, home, "/.config/");
	}
	if (res != -ENOENT) {
		return res;
	}
	if (!xdg_config_dirs || !xdg_config_dirs[0]) {
		xdg_config_dirs = "/etc/xdg";
	}
	for (p = xdg_config_dirs; *p;) {
		size_t len = strcspn(p, ":");

		if (len > 0 && len < sizeof(dir)) {
			memcpy(dir, p, len);
			dir[len] = '\0';
			res = try_path(out, size, dir, "/");
			if (res != -ENOENT) {
				return res;
			}
		}
		p += len;
		if (*p == ':') {
			p++;
		}
	}
	return -ENOENT;
}

__attribute__((format(printf, 4, 5))) static int set_err(char *err, size_t size, int res,
		const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return res;
}

static int set_string(char *dst, size_t size, const char *key, const char *value, char *err,
		size_t err_size)
{
	if (strlen(value) >= size) {
		return set_err(err, err_size, -E2BIG, "%s: longer than %zu bytes", key, size - 1);
	}
	snprintf(dst, size, "%s", value);
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int set_monitors(struct kmscast_config *cfg, const char *value, char *err, size_t err_size)
{
	char specs[CONFIG_MAX_MONITORS][CONFIG_MAX_SPEC];
	uint32_t n = 0;
	const char *p = value;

	if (!strcmp(value, "all") || !value[0]) {
		cfg->n_monitors = 0;
		return 0;
	}
	while (*p) {
		size_t len;

		while (*p == ',' || *p == ' ' || *p == '\t') {
			p++;
		}
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
			len--;
		}
		if (len == 0) {
			break;
		}
		if (n >= CONFIG_MAX_MONITORS) {
			return set_err(err, err_size, -E2BIG, "monitors: more than %d entries",
					CONFIG_MAX_MONITORS);
		}
		if (len >= CONFIG_MAX_SPEC) {
			return set_err(err, err_size, -E2BIG, "monitors: entry longer than %d bytes",
					CONFIG_MAX_SPEC - 1);
		}
		memcpy(specs[n], p, len);
		specs[n][len] = '\0';
		n++;
		p += len;
		p += strcspn(p, ",");
	}
	memcpy(cfg->monitors, specs, sizeof(specs[0]) * n);
	cfg->n_monitors = n;
	return 0;
}

/* UseIn is a ';' list written into a key file: no newlines, no '=' or '[' surprises. */
static bool desktop_valid(const char *value)
{
	if (!value[0]) {
		return false;
	}
	for (const char *p = value; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("-_.;", *p)) {
			return false;
		}
	}
	return true;
}

int config_set(struct kmscast_config *cfg, const char *key, const char *value, char *err,
		size_t err_size)
{
	if (!strcmp(key, "monitors")) {
		return set_monitors(cfg, value, err, err_size);
	}
	if (!strcmp(key, "portal")) {
		if (parse_bool(value, &cfg->portal) < 0) {
			return set_err(err, err_size, -EINVAL, "portal: expected true or false");
		}
		return 0;
	}
	if (!strcmp(key, "shared-nodes")) {
		if (parse_bool(value, &cfg->shared_nodes) < 0) {
			return set_err(err, err_size, -EINVAL, "shared-nodes: expected true or false");
		}
		return 0;
	}
	if (!strcmp(key, "consent")) {
		if (!strcmp(value, "ask")) {
			cfg->consent = CONFIG_CONSENT_ASK;
		} else if (!strcmp(value, "never")) {
			cfg->consent = CONFIG_CONSENT_NEVER;
		} else {
			return set_err(err, err_size, -EINVAL, "consent: expected ask or never");
		}
		return 0;
	}
	if (!strcmp(key, "chooser")) {
		return set_string(cfg->chooser, sizeof(cfg->chooser), key, value, err, err_size);
	}
	if (!strcmp(key, "portal-desktop")) {
		if (!desktop_valid(value)) {
			return set_err(err, err_size, -EINVAL,
					"portal-desktop: expected desktop names separated by ';'");
		}
		return set_string(cfg->portal_desktop, sizeof(cfg->portal_desktop), key, value,
				err, err_size);
	}
	if (!strcmp(key, "helper")) {
		if (!strcmp(value, "spawn")) {
			cfg->helper_mode = CONFIG_HELPER_SPAWN;
		} else if (!strcmp(value, "socket")) {
			cfg->helper_mode = CONFIG_HELPER_SOCKET;
		} else {
			return set_err(err, err_size, -EINVAL, "helper: expected spawn or socket");
		}
		return 0;
	}
	if (!strcmp(key, "helper-path")) {
		return set_string(cfg->helper_path, sizeof(cfg->helper_path), key, value, err,
				err_size);
	}
	if (!strcmp(key, "helper-socket")) {
		return set_string(cfg->helper_socket, sizeof(cfg->helper_socket), key, value, err,
				err_size);
	}
	if (!strcmp(key, "resend-ms")) {
		char *end;
		unsigned long ms;

		errno = 0;
		ms = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || *end || errno || ms > CONFIG_MAX_RESEND_MS) {
			return set_err(err, err_size, -EINVAL,
					"resend-ms: expected milliseconds, 0 (never) to %d",
					CONFIG_MAX_RESEND_MS);
		}
		cfg->resend_ms = (int32_t)ms;
		return 0;
	}
	if (!strcmp(key, "portal-copies")) {
		if (portal_copies_parse(value, &cfg->portal_copies) < 0) {
			return set_err(err, err_size, -EINVAL,
					"portal-copies: expected sandboxed, all or none");
		}
		return 0;
	}
	return set_err(err, err_size, -ENOENT, "unknown key '%s'", key);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
		end--;
	}
	*end = '\0';
	return s;
}

static int parse_line(struct kmscast_config *cfg, char *line, const char *name, unsigned lineno)
{
	char err[160];
	char *eq, *key, *value;
	int res;

	line = trim(line);
	if (!line[0] || line[0] == '#') {
		return 0;
	}
	eq = strchr(line, '=');
	if (!eq) {
		fprintf(stderr, "kmscast: %s:%u: expected key = value\n", name, lineno);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if ((res = config_set(cfg, key, value, err, sizeof(err))) < 0) {
		fprintf(stderr, "kmscast: %s:%u: %s\n", name, lineno, err);
	}
	return res;
}

int config_parse(struct kmscast_config *cfg, const char *text, size_t len, const char *name)
{
	char line[CONFIG_MAX_LINE];
	unsigned lineno = 0;
	size_t pos = 0;
	int res;

	while (pos < len) {
		size_t n = 0;

		lineno++;
		while (pos + n < len && text[pos + n] != '\n') {
			n++;
		}
		if (n >= sizeof(line)) {
			fprintf(stderr, "kmscast: %s:%u: line longer than %d bytes\n", name, lineno,
					CONFIG_MAX_LINE - 1);
			return -E2BIG;
		}
		if (memchr(text + pos, '\0', n)) {
			fprintf(stderr, "kmscast: %s:%u: NUL byte\n", name, lineno);
			return -EINVAL;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if ((res = parse_line(cfg, line, name, lineno)) < 0) {
			return res;
		}
	}
	return 0;
}

int config_load_file(struct kmscast_config *cfg, const char *path)
{
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd, res;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		res = -errno;
		fprintf(stderr, "kmscast: %s: %s\n", path, strerror(-res));
		return res;
	}
	text = malloc(CONFIG_MAX_FILE + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, text + len, CONFIG_MAX_FILE + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE) {
			break;
		}
	}
	res = n < 0 ? -errno : 0;
	close(fd);
	if (res == 0 && len > CONFIG_MAX_FILE) {
		fprintf(stderr, "kmscast: %s: larger than %d bytes\n", path, CONFIG_MAX_FILE);
		res = -EFBIG;
	} else if (res < 0) {
		fprintf(stderr, "kmscast: %s: %s\n", path, strerror(-res));
	}
	if (res == 0) {
		res = config_parse(cfg, text, len, path);
	}
	free(text);
	if (res == 0) {
		snprintf(cfg->source, sizeof(cfg->source), "%s", path);
	}
	return res;
}

static bool spec_matches(const char *spec, const char *card, const char *connector,
		const char *monitor_name)
{
	const char *colon = strchr(spec, ':');

	if (colon) {
		size_t card_len = (size_t)(colon - spec);

		return strlen(card) == card_len && !strncmp(spec, card, card_len) &&
				!strcmp(colon + 1, connector);
	}
	if (!strcmp(spec, connector)) {
		return true;
	}
	return monitor_name && monitor_name[0] && !strcmp(spec, monitor_name);
}

bool config_monitor_published(const struct kmscast_config *cfg, const char *card,
		const char *connector, const char *monitor_name)
{
	if (cfg->n_monitors == 0) {
		return true;
	}
	for (uint32_t i = 0; i < cfg->n_monitors; i++) {
		if (spec_matches(cfg->monitors[i], card, connector, monitor_name)) {
			return true;
		}
	}
	return false;
}

int config_write_portal_file(const struct kmscast_config *cfg, FILE *out)
{
	const char *desktop = cfg->portal_desktop[0] ? cfg->portal_desktop : CONFIG_DEFAULT_DESKTOP;
	size_t len = strlen(desktop);

	fprintf(out,
		"[portal]\n"
		"DBusName=org.freedesktop.impl.portal.desktop.kmscast\n"
		"Interfaces=org.freedesktop.impl.portal.ScreenCast;\n"
		"UseIn=%s%s\n",
		desktop, len && desktop[len - 1] == ';' ? "" : ";");
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}

int config_load(struct kmscast_config *cfg, const char *path,
		const struct config_override *overrides, size_t n_overrides)
{
	char found[CONFIG_MAX_PATH];
	char err[160];
	int res;

	if (path) {
		if ((res = config_load_file(cfg, path)) < 0) {
			return res;
		}
	} else {
		res = config_locate(getenv("XDG_CONFIG_HOME"), getenv("HOME"),
				getenv("XDG_CONFIG_DIRS"), found, sizeof(found));
		if (res == 0 && (res = config_load_file(cfg, found)) < 0) {
			return res;
		}
		if (res < 0 && res != -ENOENT) {
			return res;
		}
	}
	for (size_t i = 0; i < n_overrides; i++) {
		if ((res = config_set(cfg, overrides[i].key, overrides[i].value, err,
				     sizeof(err))) < 0) {
			fprintf(stderr, "kmscast: command line: %s\n", err);
			return res;
		}
	}
	return 0;
}
