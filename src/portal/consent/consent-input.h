/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_CONSENT_INPUT_H
#define KMSCAST_CONSENT_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "kms.h"
#include "portal.h"

/*
 * What kmscast-consent is asked, without GTK: the monitor list the daemon writes on stdin
 * (one "card0:HDMI-A-1<TAB>Dell U2415 1920x1200" line per monitor, the consent protocol in
 * docs/usage.md) and the request's environment (KMSCAST_APP_ID, KMSCAST_MULTIPLE,
 * KMSCAST_PERSIST). Everything here comes from the daemon, but the program can be run by hand:
 * every count and length is bounded, and anything else is refused with -EINVAL and a reason.
 */

/* Bytes of stdin read; the daemon writes at most PORTAL_MAX_MONITORS lines of ~100 bytes. */
#define CONSENT_MAX_INPUT (64 * 1024)
/* Monitors offered: no more than the daemon publishes in one listing. */
#define CONSENT_MAX_MONITORS PORTAL_MAX_MONITORS
/* "card0:HDMI-A-1": two kernel names and the colon. */
#define CONSENT_MAX_ID (2 * KMS_NAME_MAX)
/* The description: an EDID name (13 bytes at most) and a mode; room to spare. */
#define CONSENT_MAX_DESCRIPTION 256
/* Bytes of app id shown; D-Bus names and Flatpak ids stay below 255. */
#define CONSENT_MAX_APP_ID 256
/* Room for the reason given with -EINVAL. */
#define CONSENT_MAX_ERROR 160

struct consent_monitor {
	char id[CONSENT_MAX_ID]; /* "card0:HDMI-A-1", what the answer names */
	char description[CONSENT_MAX_DESCRIPTION]; /* "Dell U2415 1920x1200", may be empty */
};

struct consent_request {
	struct consent_monitor monitors[CONSENT_MAX_MONITORS];
	size_t n_monitors; /* at least 1 once parsed */
	char app_id[CONSENT_MAX_APP_ID]; /* empty: a host app without an id */
	bool multiple; /* KMSCAST_MULTIPLE=1: several monitors may be chosen */
	unsigned int persist; /* KMSCAST_PERSIST: 0 (no remember offered), 1 or 2 */
};

/*
 * Reads fd to EOF into buf (size bytes; the text is NUL-terminated, so at most size - 1
 * bytes of it). Returns the length, -EFBIG when there is more, or -errno.
 */
long consent_read_input(int fd, char *buf, size_t size);

/*
 * Parses the monitor list (len bytes of text) into req->monitors. Returns 0; -EINVAL for a
 * malformed line or an empty list, -E2BIG for more than CONSENT_MAX_MONITORS, each with
 * the reason in err (errsize bytes).
 */
int consent_parse_monitors(struct consent_request *req, const char *text, size_t len, char *err,
		size_t errsize);

/*
 * Fills the rest of req from the three values (NULL or "" when unset; NULL app_id is a host
 * app). Returns 0, or -EINVAL with the reason in err.
 */
int consent_parse_env(struct consent_request *req, const char *app_id, const char *multiple,
		const char *persist, char *err, size_t errsize);

#endif
