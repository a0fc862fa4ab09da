/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "relink-guard.h"

bool relink_guard_server_affected(const char *server_version)
{
	unsigned int major, minor, micro;
	int n;

	if (!server_version) {
		return true;
	}
	n = sscanf(server_version, "%u.%u.%u", &major, &minor, &micro);
	/* Any 1.x or later has the fix, however the rest of its version reads. */
	if (n >= 1 && major >= 1) {
		return false;
	}
	if (n != 3) {
		return true;
	}
	return minor < 3 || (minor == 3 && micro < 85);
}

void relink_guard_init(struct relink_guard *g, bool enabled)
{
	*g = (struct relink_guard){.enabled = enabled};
}

void relink_guard_renegotiate(struct relink_guard *g, bool relink)
{
	if (!relink) {
		g->relinks = 0;
	}
	g->paused_ns = 0;
	g->window_end = 0;
	g->renegotiating = g->enabled;
}

void relink_guard_buffers(struct relink_guard *g, uint64_t now)
{
	if (!g->renegotiating) {
		return;
	}
	g->renegotiating = false;
	g->window_end = now + RELINK_AFTER_BUFFERS_NS;
}

void relink_guard_paused(struct relink_guard *g, uint64_t now)
{
	g->paused_ns = now < g->window_end ? now : 0;
}

enum relink_decision relink_guard_started(struct relink_guard *g, uint64_t now)
{
	uint64_t paused = g->paused_ns;

	g->paused_ns = 0;
	if (!g->enabled || !paused || now - paused > RELINK_RESTART_NS) {
		return RELINK_NONE;
	}
	if (g->relinks >= MAX_RELINKS) {
		return RELINK_GIVE_UP;
	}
	g->relinks++;
	return RELINK_NOW;
}
