/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "consent-input.h"

static int fail(char *err, size_t errsize, int res, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static int fail(char *err, size_t errsize, int res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	return res;
}

long consent_read_input(int fd, char *buf, size_t size)
{
	size_t len = 0;
	char probe;
	ssize_t n;

	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len < size - 1) {
		return (long)len;
	}
	/* Full: one more byte tells a list of exactly size - 1 bytes from a longer one. */
	do {
		n = read(fd, &probe, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	return n == 0 ? (long)len : -EFBIG;
}

/* A kernel name: "card0", "HDMI-A-1", "Virtual-1", "DP-3", "eDP-1". */
static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || len >= KMS_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
			return false;
		}
	}
	return true;
}

/* Shown in a label: valid UTF-8 without control characters. */
static bool valid_text(const char *s, size_t len)
{
	if (!g_utf8_validate_len(s, len, NULL)) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			return false;
		}
	}
	return true;
}

static int parse_line(struct consent_monitor *m, const char *line, size_t len, char *err,
		size_t errsize, size_t lineno)
{
	const char *tab = memchr(line, '\t', len);
	size_t id_len = tab ? (size_t)(tab - line) : len;
	const char *colon = memchr(line, ':', id_len);
	size_t desc_len = tab ? len - id_len - 1 : 0;

	if (!colon || !valid_name(line, (size_t)(colon - line)) ||
			!valid_name(colon + 1, id_len - (size_t)(colon - line) - 1)) {
		return fail(err, errsize, -EINVAL,
				"line %zu: expected CARD:CONNECTOR, then a tab and a description",
				lineno);
	}
	if (desc_len >= CONSENT_MAX_DESCRIPTION || !valid_text(tab ? tab + 1 : "", desc_len)) {
		return fail(err, errsize, -EINVAL,
				"line %zu: the description is not printable UTF-8 below %d bytes",
				lineno, CONSENT_MAX_DESCRIPTION);
	}
	memcpy(m->id, line, id_len);
	m->id[id_len] = '\0';
	if (tab) {
		memcpy(m->description, tab + 1, desc_len);
	}
	m->description[desc_len] = '\0';
	return 0;
}

int consent_parse_monitors(struct consent_request *req, const char *text, size_t len, char *err,
		size_t errsize)
{
	size_t pos = 0, lineno = 0;
	int res;

	req->n_monitors = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (req->n_monitors == CONSENT_MAX_MONITORS) {
			return fail(err, errsize, -E2BIG, "more than %d monitors offered",
					CONSENT_MAX_MONITORS);
		}
		res = parse_line(&req->monitors[req->n_monitors], text + pos, line_len, err,
				errsize, lineno);
		if (res < 0) {
			return res;
		}
		req->n_monitors++;
		pos += line_len + (nl ? 1 : 0);
	}
	if (req->n_monitors == 0) {
		return fail(err, errsize, -EINVAL, "no monitor offered on stdin");
	}
	return 0;
}

/* "0" or "1" (or more for KMSCAST_PERSIST, up to max); unset or empty is 0. */
static int parse_small(const char *s, unsigned int max, unsigned int *out)
{
	if (!s || !s[0]) {
		*out = 0;
		return 0;
	}
	if (s[1] != '\0' || s[0] < '0' || (unsigned int)(s[0] - '0') > max) {
		return -EINVAL;
	}
	*out = (unsigned int)(s[0] - '0');
	return 0;
}

int consent_parse_env(struct consent_request *req, const char *app_id, const char *multiple,
		const char *persist, char *err, size_t errsize)
{
	unsigned int value;
	size_t len = app_id ? strlen(app_id) : 0;

	if (parse_small(multiple, 1, &value) < 0) {
		return fail(err, errsize, -EINVAL, "KMSCAST_MULTIPLE must be 0 or 1");
	}
	req->multiple = value == 1;
	if (parse_small(persist, 2, &req->persist) < 0) {
		return fail(err, errsize, -EINVAL, "KMSCAST_PERSIST must be 0, 1 or 2");
	}
	if (len >= CONSENT_MAX_APP_ID || !valid_text(app_id ? app_id : "", len)) {
		return fail(err, errsize, -EINVAL,
				"KMSCAST_APP_ID is not printable UTF-8 below %d bytes",
				CONSENT_MAX_APP_ID);
	}
	memcpy(req->app_id, app_id ? app_id : "", len + 1);
	return 0;
}
