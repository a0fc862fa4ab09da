/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_CONFIG_FILE_H
#define KMSCAST_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "portal-sandbox.h"

/*
 * kmscast's one configuration file, kmscast/kmscast.conf in the XDG config dirs, and the
 * command-line overrides that share its keys. The syntax is "key = value" lines; '#' starts
 * a comment line. Keys (see docs/configuration.md):
 *
 *   monitors       = all | SPEC[,SPEC...]  SPEC: connector ("HDMI-A-1"), card:connector
 *                                          ("card1:DP-2") or the EDID monitor name
 *   portal         = true | false          serve org.freedesktop.impl.portal.ScreenCast
 *   shared-nodes   = true | false          publish a node per monitor for any PipeWire
 *                                          client; false: only the portal's session nodes
 *   consent        = ask | never           ask the user on every portal SelectSources
 *                                          (the consent dialog), or never (kiosks)
 *   chooser        = COMMAND               run through /bin/sh -c instead of the consent
 *                                          dialog; with consent = never, only when a
 *                                          portal client must pick among several monitors
 *   portal-desktop = NAME[;NAME...]        UseIn of the generated kmscast.portal
 *   helper         = spawn | socket        how the daemon reaches kmscast-helper
 *   helper-path    = PATH                  helper binary, spawn mode
 *   helper-socket  = PATH                  helper socket, socket mode
 *   resend-ms      = MS                    re-send a static screen every MS; 0: never
 *   portal-copies  = sandboxed | all | none  portal sessions whose nodes serve CPU copies
 *                                          instead of the scanout buffers (kmscast.copy)
 */

#define CONFIG_MAX_LINE 1024
#define CONFIG_MAX_MONITORS 16
#define CONFIG_MAX_SPEC 64
#define CONFIG_MAX_PATH 256
#define CONFIG_MAX_COMMAND 1024
#define CONFIG_MAX_DESKTOP 128
#define CONFIG_MAX_RESEND_MS 60000
/* The file is read whole; anything longer is not a config file. */
#define CONFIG_MAX_FILE (64 * 1024)

#define CONFIG_DEFAULT_DESKTOP "kmscast"

enum config_consent {
	CONFIG_CONSENT_ASK, /* the default */
	CONFIG_CONSENT_NEVER,
};

enum config_helper_mode {
	CONFIG_HELPER_SPAWN,
	CONFIG_HELPER_SOCKET,
};

struct kmscast_config {
	/* 0 means every lit monitor is published. */
	uint32_t n_monitors;
	char monitors[CONFIG_MAX_MONITORS][CONFIG_MAX_SPEC];
	bool portal;
	bool shared_nodes;
	enum config_consent consent;
	char chooser[CONFIG_MAX_COMMAND]; /* "" when unset */
	char portal_desktop[CONFIG_MAX_DESKTOP];
	enum config_helper_mode helper_mode;
	char helper_path[CONFIG_MAX_PATH]; /* "" means $KMSCAST_HELPER, else the installed one */
	char helper_socket[CONFIG_MAX_PATH];
	int32_t resend_ms; /* -1: the node's default */
	enum portal_copies portal_copies;
	char source[CONFIG_MAX_PATH]; /* the file loaded, "" when none */
};

/* Fills cfg with the built-in defaults (socket is the compiled-in helper socket path). */
void config_init(struct kmscast_config *cfg, const char *default_helper_socket);

/*
 * Finds kmscast/kmscast.conf: first in xdg_config_home (else home/.config), then in each
 * entry of the colon-separated xdg_config_dirs (else /etc/xdg). Any argument may be NULL or
 * empty. Writes the path into out. Returns 0, -ENOENT when there is no file, or
 * -ENAMETOOLONG.
 */
int config_locate(const char *xdg_config_home, const char *home, const char *xdg_config_dirs,
		char *out, size_t size);

/*
 * Sets one key from the file or the command line. Returns 0, -ENOENT for an unknown key,
 * -EINVAL for a bad value, -E2BIG when a value or list is over its MAX_*; writes why into
 * err (may be NULL).
 */
int config_set(struct kmscast_config *cfg, const char *key, const char *value, char *err,
		size_t err_size);

/*
 * Parses config text; name is used in messages. Errors are printed to stderr with the line
 * number, once. Returns 0, or the first error's -errno.
 */
int config_parse(struct kmscast_config *cfg, const char *text, size_t len, const char *name);

/* Reads and parses path, recording it in cfg->source. Returns 0 or -errno. */
int config_load_file(struct kmscast_config *cfg, const char *path);

/* A command-line option that overrides the key of the same name. */
struct config_override {
	const char *key;
	const char *value;
};

/* Upper bound on command-line overrides. */
#define CONFIG_MAX_OVERRIDES 16

/*
 * Loads path, or when path is NULL the first kmscast/kmscast.conf found in the XDG config
 * dirs ($XDG_CONFIG_HOME, $HOME, $XDG_CONFIG_DIRS), if any; then applies overrides in order.
 * Errors are printed to stderr. Returns 0 or -errno.
 */
int config_load(struct kmscast_config *cfg, const char *path,
		const struct config_override *overrides, size_t n_overrides);

/*
 * Whether the monitor on card/connector with EDID name monitor_name (may be NULL or "") is
 * published under cfg->monitors.
 */
bool config_monitor_published(const struct kmscast_config *cfg, const char *card,
		const char *connector, const char *monitor_name);

/*
 * Writes the xdg-desktop-portal backend description (kmscast.portal) with the configured
 * UseIn. Returns 0 or -EIO.
 */
int config_write_portal_file(const struct kmscast_config *cfg, FILE *out);

#endif
