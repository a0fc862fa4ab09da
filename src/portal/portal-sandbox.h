/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_SANDBOX_H
#define KMSCAST_PORTAL_SANDBOX_H

#include <stdbool.h>

/*
 * Which portal sessions get copy nodes (kmscast.copy): the portal-copies policy and how the
 * backend tells a sandboxed app from the app id alone, the only thing it learns of the app.
 * No D-Bus here: the config file parses the policy, and tests call it as a pure function of
 * the app id, a runtime dir and the policy. docs/security.md says what it can and cannot see.
 */

enum portal_copies {
	PORTAL_COPIES_SANDBOXED, /* default: sandboxed apps get copies, host apps zero copy */
	PORTAL_COPIES_ALL,
	PORTAL_COPIES_NONE,
};

enum portal_app_kind {
	PORTAL_APP_HOST,
	PORTAL_APP_FLATPAK, /* a Flatpak instance of the user runs this app id */
	PORTAL_APP_SNAP, /* xdg-desktop-portal names snaps "snap.<instance>" */
};

/* Flatpak instances looked at, and bytes of each one's info file; past them: -E2BIG, -EFBIG. */
#define PORTAL_SANDBOX_MAX_INSTANCES 4096
#define PORTAL_SANDBOX_MAX_INFO (64 * 1024)

/* "sandboxed", "all" or "none" into *out. Returns 0 or -EINVAL. */
int portal_copies_parse(const char *value, enum portal_copies *out);
/* The policy's config value; never NULL. */
const char *portal_copies_name(enum portal_copies policy);
/* "host", "flatpak" or "snap", for logs; never NULL. */
const char *portal_app_kind_name(enum portal_app_kind kind);

/*
 * What app_id (as the frontend passed it; may be NULL or "") is. Flatpak instances are the
 * directories $runtime_dir/.flatpak/<instance>/ whose "info" key file names app_id in
 * [Application] name=. Returns the enum portal_app_kind, or -errno when it cannot tell: -EINVAL
 * when runtime_dir is NULL or relative, else an error reading the instances (not -ENOENT: no
 * .flatpak dir means no Flatpak app runs). An empty app id is a host app's: the frontend
 * gives every Flatpak and Snap app one.
 */
int portal_app_classify(const char *app_id, const char *runtime_dir);

/*
 * Whether an app of kind (a portal_app_classify() result) gets copy nodes under policy. An app
 * that could not be classified (kind < 0) counts as sandboxed: a wrong guess costs a copy,
 * not the screen.
 */
bool portal_copies_for_kind(enum portal_copies policy, int kind);

/* The same for app_id and runtime_dir; classifies only under PORTAL_COPIES_SANDBOXED. */
bool portal_copies_wanted(enum portal_copies policy, const char *app_id,
		const char *runtime_dir);

#endif
