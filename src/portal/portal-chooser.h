/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_CHOOSER_H
#define KMSCAST_PORTAL_CHOOSER_H

#include <stddef.h>

#include <pipewire/loop.h>

/*
 * The consent step's child process, run without blocking the loop: either the configured
 * chooser (/bin/sh -c COMMAND) or the consent dialog (executed directly), with the candidate
 * list on stdin and its answer read from stdout through a loop io source. Like
 * xdg-desktop-portal-wlr's chooser_cmd, except that xdpw waits for the child inside its D-Bus
 * handler and freezes every other session meanwhile.
 */

/* Bytes of chooser output we read; a chooser prints a connector name or a few. */
#define PORTAL_CHOOSER_MAX_OUTPUT 4096
/* Entries of portal_chooser_command::env; the protocol defines three. */
#define PORTAL_CHOOSER_MAX_ENV 8

struct portal_chooser;

struct portal_chooser_command {
	const char *shell; /* run through /bin/sh -c; or NULL, and then */
	const char *path; /* executed directly, no shell, no PATH lookup */
	/*
	 * "NAME=value" entries for the child's environment, NULL-terminated (NULL: none), at
	 * most PORTAL_CHOOSER_MAX_ENV. They replace the daemon's own entries of those names.
	 * Values go to the child as they are: no shell ever parses them.
	 */
	const char *const *env;
};

struct portal_chooser_result {
	/*
	 * 0: exited 0, its stdout in output (NUL-terminated, len bytes, maybe empty).
	 * -ECANCELED: exited 1 (the user declined). -ECHILD: any other exit status or a signal
	 * (status says which). -E2BIG: it printed more than PORTAL_CHOOSER_MAX_OUTPUT. Or -errno.
	 */
	int res;
	int status; /* the wait status, when the child was reaped */
	const char *output;
	size_t len;
};

/*
 * Called once, from the loop, when the chooser has exited. The chooser is finished but still
 * owned by the caller, who destroys it (here or later).
 */
typedef void (*portal_chooser_done)(void *data, const struct portal_chooser_result *result);

/*
 * Starts cmd with input (len bytes, written at once: it must fit a pipe) on its stdin.
 * On success *out is owned by the caller. Returns 0, -E2BIG for too many env entries, or
 * -errno (-ENOENT, -EACCES: the program cannot be executed).
 */
int portal_chooser_start(struct pw_loop *loop, const struct portal_chooser_command *cmd,
		const char *input, size_t len, portal_chooser_done done, void *data,
		struct portal_chooser **out);

/* Kills the child if it still runs (SIGTERM), reaps it, frees. Accepts NULL. */
void portal_chooser_destroy(struct portal_chooser *chooser);

/* How a finished child ended, for log lines: "exited 3", "was killed by signal 9". */
void portal_chooser_describe(const struct portal_chooser_result *result, char *buf,
		size_t size);

#endif
