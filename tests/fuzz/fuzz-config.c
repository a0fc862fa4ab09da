/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the configuration file parser. The file is the user's, but it may be
 * written by a tool or copied from anywhere, and the daemon must never crash on it. After a
 * parse, whatever was accepted must be well-formed: lists within their MAX_*, strings
 * terminated within their buffers, and the derived outputs (monitor matching, the .portal
 * file) must work on it, and the .portal file must keep its four lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-file.h"
#include "fuzz.h"

static void check_string(const char *s, size_t size)
{
	if (strnlen(s, size) == size) {
		abort();
	}
}

static void check_config(const struct kmscast_config *cfg)
{
	if (cfg->n_monitors > CONFIG_MAX_MONITORS) {
		abort();
	}
	for (uint32_t i = 0; i < cfg->n_monitors; i++) {
		check_string(cfg->monitors[i], sizeof(cfg->monitors[i]));
	}
	check_string(cfg->chooser, sizeof(cfg->chooser));
	check_string(cfg->portal_desktop, sizeof(cfg->portal_desktop));
	check_string(cfg->helper_path, sizeof(cfg->helper_path));
	check_string(cfg->helper_socket, sizeof(cfg->helper_socket));
	if (cfg->resend_ms < -1 || cfg->resend_ms > CONFIG_MAX_RESEND_MS) {
		abort();
	}
	(void)config_monitor_published(cfg, "card0", "HDMI-A-1", "DELL U2415");
	(void)config_monitor_published(cfg, "card1", "DP-2", NULL);
}

/* The generated kmscast.portal is a key file: a value must not add a line or a group. */
static void check_portal_file(const struct kmscast_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (out == NULL || config_write_portal_file(cfg, out) < 0) {
		abort();
	}
	fclose(out);
	size_t lines = 0, groups = 0;
	for (size_t i = 0; i < len; i++) {
		lines += text[i] == '\n';
		groups += text[i] == '[';
	}
	if (lines != 4 || groups != 1 || strlen(text) != len) {
		abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CONFIG_MAX_FILE) {
		return 0; /* config_load_file refuses it before parsing */
	}
	struct kmscast_config cfg;
	config_init(&cfg, "/run/kmscast/helper.sock");
	(void)config_parse(&cfg, (const char *)data, size, "fuzz.conf");
	/* A failed parse leaves what the lines before it set: the daemon then exits, but the
	 * values must still be sound. */
	check_config(&cfg);
	check_portal_file(&cfg);
	return 0;
}
