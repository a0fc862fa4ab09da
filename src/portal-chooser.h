/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_CHOOSER_H
#define KMSCAST_PORTAL_CHOOSER_H

#include <stddef.h>

#include <pipewire/loop.h>

/*
 * The configured chooser command, run without blocking the loop: /bin/sh -c COMMAND with the
 * candidate list on stdin and its answer read from stdout through a loop io source. Like
 * xdg-desktop-portal-wlr's chooser_cmd, except that xdpw waits for the child inside its D-Bus
 * handler and freezes every other session meanwhile.
 */

/* Bytes of chooser output we read; a chooser prints a connector name or a few. */
#define PORTAL_CHOOSER_MAX_OUTPUT 4096

struct portal_chooser;

/*
 * Called once, from the loop, when the chooser has exited. res is 0 with its stdout in
 * output (NUL-terminated, len bytes) when it exited 0, -ECANCELED when it exited non-zero
 * or printed nothing, -E2BIG when it printed more than PORTAL_CHOOSER_MAX_OUTPUT, or -errno.
 * The chooser is finished but still owned by the caller, who destroys it (here or later).
 */
typedef void (*portal_chooser_done)(void *data, int res, const char *output, size_t len);

/*
 * Starts command with input (len bytes, written at once: it must fit a pipe) on its stdin.
 * On success *out is owned by the caller. Returns 0 or -errno.
 */
int portal_chooser_start(struct pw_loop *loop, const char *command, const char *input,
		size_t len, portal_chooser_done done, void *data, struct portal_chooser **out);

/* Kills the child if it still runs (SIGTERM), reaps it, frees. Accepts NULL. */
void portal_chooser_destroy(struct portal_chooser *chooser);

#endif
