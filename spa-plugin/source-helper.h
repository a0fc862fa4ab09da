/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_HELPER_H
#define KMSCAST_SOURCE_HELPER_H

/*
 * The node's helper thread: it owns the connection to kmscast-helper and runs the node's
 * EXPORT and CHECK requests on it, so that no helper round trip (up to the client's timeout
 * when the helper stalls) blocks the main loop, where PipeWire runs the node's methods.
 *
 * Requests go into a small ring and come back from it in the order they went in: one worker
 * runs them one at a time. The worker calls wake() when a request is done; its owner then
 * takes the results out with source_helper_collect on its own thread. Knows nothing of SPA,
 * so that a unit test can drive it against a fake helper.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "helper-client.h"

/*
 * Requests queued, running or done but not collected: a flip's check and a learn at a time
 * is the usual load, and a helper stalled for its whole timeout fills this before the data
 * loop's own queue of checks (CHECK_QUEUE) has lost many frames.
 */
#define SOURCE_HELPER_QUEUE 8
/* The client's reason for a failure, as much of it as a log line needs. */
#define SOURCE_HELPER_ERROR_SIZE (HELPER_MAX_REASON + 64)

enum source_helper_op {
	SOURCE_HELPER_EXPORT, /* export plane of crtc_id on card */
	/*
	 * check fb_id on card; if the check fails for any reason, export the primary plane of
	 * crtc_id in the same turn (the caller would otherwise queue that export behind later
	 * checks, and answer them out of flip order).
	 */
	SOURCE_HELPER_CHECK,
};

struct source_helper_job {
	/* The request, from the submitter. */
	enum source_helper_op op;
	enum kmscast_plane_kind plane; /* EXPORT */
	char card[HELPER_MAX_CARD_NAME];
	uint32_t crtc_id;
	uint32_t fb_id; /* CHECK */
	uint32_t tag; /* the submitter's: why it asked */
	uint32_t seq; /* the submitter's */
	uint64_t cookie; /* the submitter's */

	/* The result, from the worker. */
	int check_res; /* CHECK: helper_client_check's */
	int export_res; /* EXPORT, or CHECK's export: -ECANCELED when none was tried */
	char check_error[SOURCE_HELPER_ERROR_SIZE];
	char export_error[SOURCE_HELPER_ERROR_SIZE];
	struct helper_fb fb; /* export_res == 0: owns its fds (see source_helper_collect) */
};

struct source_helper_events {
	/*
	 * Worker thread, no lock held: a job is done. Must not block; collect on the owner's
	 * thread (an eventfd write, spa_loop_utils_signal_event).
	 */
	void (*wake)(void *data);
};

struct source_helper {
	/* Fixed after source_helper_start. */
	struct helper_client_options opts; /* its paths are borrowed from the starter */
	const struct source_helper_events *events;
	void *data;
	pthread_t thread;
	bool started;

	/*
	 * Under lock. Jobs [head, head + n_done) are done; the worker runs the next out of the
	 * lock (nobody else touches that slot then); the rest wait.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the worker waits on it for a request, a drop or the stop */
	/*
	 * source_helper_wait waits on it for a finished request (monotonic clock). Apart from
	 * cond, so that a signal meant for the worker never wakes the waiter instead.
	 */
	pthread_cond_t done;
	struct source_helper_job ring[SOURCE_HELPER_QUEUE];
	uint32_t head, n, n_done;
	bool stopping;
	bool drop; /* close the connection before the next request */

	/* Worker thread only. */
	struct helper_client *client; /* NULL until a request needs it, again after a drop */
};

/*
 * Starts the worker. opts is copied (its paths are borrowed: they must outlive h); events and
 * data are borrowed. Returns 0 or -errno.
 */
int source_helper_start(struct source_helper *h, const struct helper_client_options *opts,
		const struct source_helper_events *events, void *data);
/*
 * Stops the worker: waits for the request it runs (at most the client's timeout), runs no
 * other, and closes the fds of every export not collected and the connection. Accepts a
 * zeroed or stopped h.
 */
void source_helper_stop(struct source_helper *h);

/*
 * Queues a copy of the request part of *job. Never blocks on the helper. Returns 0, -EBUSY
 * when SOURCE_HELPER_QUEUE jobs are queued or not yet collected, -ECANCELED once stopping or
 * never started, -EINVAL for a card name that does not fit.
 */
int source_helper_submit(struct source_helper *h, const struct source_helper_job *job);

/*
 * Takes the oldest done job into *out, in submission order. Returns 1 with a job (its fb's
 * fds, when export_res == 0, now owned by *out: release with helper_fb_finish), 0 when the
 * oldest job is not done yet.
 */
int source_helper_collect(struct source_helper *h, struct source_helper_job *out);

/*
 * Waits up to timeout_ns for the oldest job to be done (then source_helper_collect has it).
 * Returns 0, -ETIMEDOUT, or -ECANCELED when stopped. Blocks: for the node's open only.
 */
int source_helper_wait(struct source_helper *h, uint64_t timeout_ns);

/*
 * Closes the helper connection before the next request (the card went away and the helper
 * holds it open): the next export makes a new one, and a check until then is -ENOTCONN.
 */
void source_helper_drop_connection(struct source_helper *h);

#endif
