/* SPDX-License-Identifier: MIT */
/*
 * The helper thread (source-helper.h). The ring's slots change hands by index under the lock:
 * the submitter writes the tail, the worker the job at head + n_done while it runs (out of
 * the lock: nobody else touches that slot then), the collector reads the head. An export's
 * fds are the ring slot's from the worker's write until source_helper_collect copies the slot
 * out; whatever is still in the ring when the worker has stopped is closed there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "source-helper.h"

static void init_result(struct source_helper_job *job)
{
	job->check_res = -ECANCELED;
	job->export_res = -ECANCELED;
	job->check_error[0] = '\0';
	job->export_error[0] = '\0';
	memset(&job->fb, 0, sizeof(job->fb));
	for (size_t i = 0; i < HELPER_MAX_FDS; i++) {
		job->fb.fds[i] = -1;
	}
}

/* Worker: the client on first use, and again after a drop or a failed create. */
static struct helper_client *client_get(struct source_helper *h, int *res)
{
	if (!h->client) {
		*res = helper_client_create(&h->opts, &h->client);
		if (*res < 0) {
			h->client = NULL;
		}
	}
	return h->client;
}

static void run_export(struct source_helper *h, struct source_helper_job *job)
{
	struct helper_client *client;
	int res = 0;

	if (!(client = client_get(h, &res))) {
		job->export_res = res;
		snprintf(job->export_error, sizeof(job->export_error), "helper client: %s",
				strerror(-res));
		return;
	}
	/* job->fb's fds now owned by the ring slot */
	job->export_res = helper_client_export(client, job->card, job->crtc_id, job->plane,
			&job->fb);
	if (job->export_res < 0) {
		snprintf(job->export_error, sizeof(job->export_error), "%s",
				helper_client_last_error(client));
	}
}

static void run_check(struct source_helper *h, struct source_helper_job *job)
{
	/* Never creates a client: a new connection has no record of any FB. */
	if (!h->client) {
		job->check_res = -ENOTCONN;
		snprintf(job->check_error, sizeof(job->check_error), "not connected");
	} else {
		job->check_res = helper_client_check(h->client, job->card, job->fb_id);
		if (job->check_res < 0) {
			snprintf(job->check_error, sizeof(job->check_error), "%s",
					helper_client_last_error(h->client));
		}
	}
	if (job->check_res < 0) {
		job->plane = KMSCAST_PLANE_PRIMARY;
		run_export(h, job);
	}
}

/* Worker, lock held: waits for work; false when stopping. */
static bool wait_for_work(struct source_helper *h)
{
	while (!h->stopping && !h->drop && h->n_done == h->n) {
		pthread_cond_wait(&h->cond, &h->lock);
	}
	return !h->stopping;
}

static void *worker(void *arg)
{
	struct source_helper *h = arg;
	struct source_helper_job *job;

	pthread_mutex_lock(&h->lock);
	while (wait_for_work(h)) {
		if (h->drop) {
			h->drop = false;
			pthread_mutex_unlock(&h->lock);
			/* Reaping a spawned helper may take its grace period: out of the lock. */
			helper_client_destroy(h->client);
			h->client = NULL;
			pthread_mutex_lock(&h->lock);
			continue;
		}
		job = &h->ring[(h->head + h->n_done) % SOURCE_HELPER_QUEUE];
		pthread_mutex_unlock(&h->lock);

		init_result(job);
		if (job->op == SOURCE_HELPER_CHECK) {
			run_check(h, job);
		} else {
			run_export(h, job);
		}

		pthread_mutex_lock(&h->lock);
		h->n_done++;
		pthread_cond_broadcast(&h->done);
		pthread_mutex_unlock(&h->lock);
		h->events->wake(h->data);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	helper_client_destroy(h->client);
	h->client = NULL;
	return NULL;
}

int source_helper_start(struct source_helper *h, const struct helper_client_options *opts,
		const struct source_helper_events *events, void *data)
{
	pthread_condattr_t attr;
	int res;

	memset(h, 0, sizeof(*h));
	h->opts = *opts;
	h->events = events;
	h->data = data;
	if ((res = -pthread_mutex_init(&h->lock, NULL)) < 0) {
		return res;
	}
	if ((res = -pthread_cond_init(&h->cond, NULL)) < 0) {
		goto err_destroy_lock;
	}
	/* source_helper_wait times out on the monotonic clock. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	res = -pthread_cond_init(&h->done, &attr);
	pthread_condattr_destroy(&attr);
	if (res < 0) {
		goto err_destroy_cond;
	}
	if ((res = -pthread_create(&h->thread, NULL, worker, h)) < 0) {
		goto err_destroy_done;
	}
	/* Not fatal: a name only helps top and gdb. 15 characters at most. */
	pthread_setname_np(h->thread, "kmscast-helper");
	h->started = true;
	return 0;

err_destroy_done:
	pthread_cond_destroy(&h->done);
err_destroy_cond:
	pthread_cond_destroy(&h->cond);
err_destroy_lock:
	pthread_mutex_destroy(&h->lock);
	return res;
}

void source_helper_stop(struct source_helper *h)
{
	if (!h->started) {
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_signal(&h->cond);
	pthread_cond_broadcast(&h->done);
	pthread_mutex_unlock(&h->lock);
	/* The request it runs ends within the client's timeout; then it closes the connection. */
	pthread_join(h->thread, NULL);

	/* Done and not collected: their fds are the ring's still. Waiting ones own none. */
	for (uint32_t i = 0; i < h->n_done; i++) {
		helper_fb_finish(&h->ring[(h->head + i) % SOURCE_HELPER_QUEUE].fb);
	}
	h->n = h->n_done = 0;
	pthread_cond_destroy(&h->done);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	h->started = false;
}

int source_helper_submit(struct source_helper *h, const struct source_helper_job *job)
{
	struct source_helper_job *slot;
	int res = 0;

	if (!h->started) {
		return -ECANCELED;
	}
	if (strnlen(job->card, sizeof(job->card)) == sizeof(job->card)) {
		return -EINVAL;
	}
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		res = -ECANCELED;
	} else if (h->n == SOURCE_HELPER_QUEUE) {
		res = -EBUSY;
	} else {
		slot = &h->ring[(h->head + h->n) % SOURCE_HELPER_QUEUE];
		*slot = *job;
		init_result(slot); /* the submitter's fb, if any, stays the submitter's */
		h->n++;
		pthread_cond_signal(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return res;
}

int source_helper_collect(struct source_helper *h, struct source_helper_job *out)
{
	int got = 0;

	if (!h->started) {
		return 0;
	}
	pthread_mutex_lock(&h->lock);
	if (h->n_done > 0) {
		*out = h->ring[h->head]; /* fds now owned by *out */
		init_result(&h->ring[h->head]);
		h->head = (h->head + 1) % SOURCE_HELPER_QUEUE;
		h->n--;
		h->n_done--;
		got = 1;
	}
	pthread_mutex_unlock(&h->lock);
	return got;
}

void source_helper_drop_connection(struct source_helper *h)
{
	if (!h->started) {
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->drop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

int source_helper_wait(struct source_helper *h, uint64_t timeout_ns)
{
	struct timespec until;
	int res = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(timeout_ns / 1000000000ull);
	until.tv_nsec += (long)(timeout_ns % 1000000000ull);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (h->started && !h->stopping && h->n_done == 0 && res == 0) {
		res = -pthread_cond_timedwait(&h->done, &h->lock, &until);
	}
	res = h->n_done > 0 ? 0 : (res < 0 ? res : -ECANCELED);
	pthread_mutex_unlock(&h->lock);
	return res;
}
