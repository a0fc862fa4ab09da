/* SPDX-License-Identifier: MIT */
/*
 * The main loop side of the scanout set: exporting FBs through the helper thread (a helper
 * round trip blocks, so it runs on neither loop), keeping the set bounded as the exports come
 * back, and renegotiating the link when the set no longer matches the buffers PipeWire
 * allocated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/result.h>

#include "format.h"
#include "kmscast-source.h"

/* A full queue is the helper stalling: logged once until a job comes back. */
static void refused(struct impl *this, const struct source_helper_job *job, int res)
{
	this->stats.n.helper_refused++;
	if (res == -EBUSY && !this->learn.warned_busy) {
		spa_log_warn(this->log, "%s: the helper thread has %d requests waiting: %s of "
				"FB %u not asked (the helper is slow or stuck)", this->name,
				SOURCE_HELPER_QUEUE, job->op == SOURCE_HELPER_CHECK ? "check" : "export",
				job->fb_id);
		this->learn.warned_busy = true;
	} else if (res != -EBUSY) {
		spa_log_debug(this->log, "%s: helper job not queued: %s", this->name,
				spa_strerror(res));
	}
}

int source_learn_submit(struct impl *this, struct source_helper_job *job)
{
	int res;
	size_t len = strnlen(this->card.name, sizeof(this->card.name));

	job->cookie = this->learn.card_gen;
	/* A name the wire cannot carry: the helper thread refuses it (-EINVAL). */
	memset(job->card, 0, sizeof(job->card));
	memcpy(job->card, this->card.name, SPA_MIN(len, sizeof(job->card)));
	if ((res = source_helper_submit(&this->learn.helper, job)) < 0) {
		refused(this, job, res);
	}
	return res;
}

/*
 * Asks for the FB on the primary plane. The client restarts a helper that died and retries
 * once by itself; the helper thread connects on first use so that a node can exist before it.
 */
static int export_on_screen(struct impl *this, enum learn_job tag)
{
	struct source_helper_job job = {
		.op = SOURCE_HELPER_EXPORT,
		.plane = KMSCAST_PLANE_PRIMARY,
		.crtc_id = this->config.crtc_id,
		.tag = tag,
	};

	return source_learn_submit(this, &job);
}

/* The cursor's image goes through the same helper, once the primary plane made one. */
int source_learn_export_cursor(void *data)
{
	struct impl *this = data;
	struct source_helper_job job = {
		.op = SOURCE_HELPER_EXPORT,
		.plane = KMSCAST_PLANE_CURSOR,
		.crtc_id = this->config.crtc_id,
		.tag = LEARN_JOB_CURSOR,
	};

	if (this->closing || !this->learn.exported_primary) {
		return -ECANCELED;
	}
	return source_learn_submit(this, &job);
}

static void cursor_done(struct impl *this, struct source_helper_job *job)
{
	if (job->export_res < 0) {
		spa_log_debug(this->log, "%s: cursor export: %s (%s)", this->name,
				spa_strerror(job->export_res), job->export_error);
		return;
	}
	if (!this->closing && job->cookie == this->learn.card_gen) {
		cursor_exported(&this->cursor, &job->fb);
	}
}

static int do_learn(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	uint32_t fb_id = *(const uint32_t *)data;

	/* Held until the export is back (learn_job_done), unless it was never asked. */
	if (this->closing || scanout_set_find(&this->set, fb_id) >= 0 || !this->kms ||
			export_on_screen(this, LEARN_JOB_REQUEST) < 0) {
		__atomic_store_n(&this->learn.inflight, false, __ATOMIC_RELEASE);
	}
	return 0;
}

/*
 * One request in flight at a time: the helper exports whatever is on screen when the request
 * is served, which may already be the next FB, so an FB that stays unknown is asked for again
 * each time it shows up.
 */
/* Whether fb_id was refused for its format lately: not worth another export yet. */
static bool recently_rejected(struct impl *this, uint32_t fb_id, uint64_t now)
{
	for (uint32_t i = 0; i < REJECTED_FBS; i++) {
		if (__atomic_load_n(&this->learn.rejected[i].fb_id, __ATOMIC_ACQUIRE) == fb_id &&
				now < __atomic_load_n(&this->learn.rejected[i].until_ns,
						__ATOMIC_ACQUIRE)) {
			return true;
		}
	}
	return false;
}

void source_learn_request(struct impl *this, uint32_t fb_id)
{
	if (__atomic_load_n(&this->learn.inflight, __ATOMIC_ACQUIRE) ||
			recently_rejected(this, fb_id, flip_source_now_ns())) {
		return;
	}
	__atomic_store_n(&this->learn.inflight, true, __ATOMIC_RELEASE);
	/*
	 * A full invoke queue (-EPIPE) runs nothing: clear the flag, or no FB would ever be
	 * learnt again. The next flip to an unknown FB asks again.
	 */
	if (spa_loop_invoke(this->main_loop, do_learn, 0, &fb_id, sizeof(fb_id), false, this) < 0) {
		__atomic_store_n(&this->learn.inflight, false, __ATOMIC_RELEASE);
	}
}

static int do_swap_set(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct scanout_set *next = *(struct scanout_set *const *)data;

	this->set = *next; /* entries now owned by this->set */
	/*
	 * The aliases of FBs that left the set (destroyed, or of the old format) must never be
	 * picked again: the kernel may give their ids to new FBs, which the slots do not hold.
	 */
	source_port_retire_missing(&this->port, &this->set);
	return 0;
}

/*
 * Drops the FBs the compositor destroyed (a re-created swapchain leaves the whole old one
 * behind). One GETFB2 per entry, only when an FB joins.
 */
static void prune(struct impl *this, struct scanout_set *set, struct scanout_fb *dead,
		uint32_t *n_dead)
{
	struct kms_fb_info info;

	for (uint32_t i = set->n; i-- > 0;) {
		if (kms_fb_get_info(this->kms, set->fbs[i].fb_id, &info) == -ENOENT) {
			scanout_set_take(set, i, &dead[(*n_dead)++]);
		}
	}
}

void source_schedule_renegotiate(struct impl *this)
{
	struct timespec value = {0, RENEGOTIATE_DEBOUNCE_NS};

	if (this->learn.renegotiate_soon) {
		return;
	}
	this->learn.renegotiate_pending = true;
	spa_loop_utils_update_timer(this->main_utils, this->learn.renegotiate_timer, &value, NULL,
			false);
}

/* In the main loop's next iteration, so that whatever else this one brings joins first. */
static void renegotiate_soon(struct impl *this)
{
	struct timespec value = {0, 1}; /* 0 would disarm */

	this->learn.renegotiate_pending = true;
	this->learn.renegotiate_soon = true;
	spa_loop_utils_update_timer(this->main_utils, this->learn.renegotiate_timer, &value, NULL,
			false);
}

/*
 * The set changed and the link needs new buffers for it. The debounce saves consumers a
 * reallocation per FB of a swapchain that joins one FB a flip, but every flip on a new FB is
 * lost while it runs (about 7 at 60 Hz). So the wait ends early once a whole swapchain was
 * re-created: the link's buffers alias none of the set, and the set is as large as what they
 * were made for (a resize, a mode set, a swapchain re-created at the same size). A set that
 * keeps some of the old FBs (direct scanout of a client's buffers beside the compositor's
 * own) waits as before: which FBs are still to come cannot be told apart from none.
 */
static void renegotiate_for_join(struct impl *this)
{
	if (this->port.n_slots > 0 && source_port_swapchain_replaced(&this->port, &this->set)) {
		renegotiate_soon(this);
	} else {
		source_schedule_renegotiate(this);
	}
}

/*
 * FB idx joined the set: whether the link needs new buffers now, at the next Pause, or not.
 */
static void after_join(struct impl *this, int idx, bool format_change)
{
	/*
	 * The dma-buf path's buffers alias the set, so any change needs new buffers; the copy
	 * path only cares about a new format. Either way only a changed EnumFormat makes PipeWire
	 * reallocate (0.3.65 to 1.6): a Buffers-only update does nothing. A running stream whose
	 * consumer may not survive that keeps its buffers, and spares carry the new FB's frames
	 * until the next Pause.
	 */
	if (format_change) {
		renegotiate_for_join(this);
	} else if (this->port.path == PATH_DMABUF && this->port.have_format) {
		/* spare_slots_possible() also says this server's consumers need them. */
		bool spares_wanted = this->frame.started && this->port.n_slots > 0 &&
				spare_slots_possible(this);

		if (spares_wanted && spare_slots_held(&this->port) > 0) {
			this->learn.renegotiate_at_pause = true;
			spa_log_info(this->log, "%s: FB %u is copied into spare slots until the "
					"stream pauses", this->name, this->set.fbs[idx].fb_id);
		} else {
			/*
			 * Without a spare the FB's frames would be dropped until the stream
			 * pauses, which a steady consumer never does: a frozen stream. A
			 * renegotiation at least ends it visibly where the consumer cannot take it.
			 */
			if (spares_wanted && !this->learn.warned_no_spares) {
				spa_log_warn(this->log, "%s: FB %u is new and the %u buffers left no "
						"room for spare slots beside %u FBs: renegotiating "
						"mid-stream (GStreamer 1.0 to 1.5 ends its stream: "
						"'unhandled format')", this->name,
						this->set.fbs[idx].fb_id, this->port.n_slots, this->set.n);
			}
			this->learn.warned_no_spares |= spares_wanted;
			renegotiate_for_join(this);
		}
	}
}

static int do_set_refresh(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;

	this->refresh_mhz = *(const uint32_t *)data;
	flip_source_set_refresh(&this->flip, this->refresh_mhz);
	return 0;
}

/*
 * A mode set changes the refresh the node advertises as maxFramerate and times its polls,
 * resends and clock by. It is read again when an FB joins (a new mode comes with new
 * buffers, mostly), at each Start and when the card comes back: one GETCRTC, nothing per
 * frame. A mode set to another rate at the same size keeps the compositor's buffers, so no
 * FB joins: on the vblank path the flip source sees the vblanks keep another period than the
 * one set and asks for a read (source_learn_refresh_request), at most once a second. The
 * timer path measures nothing, so there the flip source asks once a second while streaming.
 * A new rate paces polls, re-sends and the clock at once; it reaches consumers with the next
 * EnumFormat: at once without a running stream, else when it pauses, since a changed
 * EnumFormat makes the link reallocate, which some consumers do not survive mid-stream
 * (GStreamer 1.26). streaming: a stream runs or is starting.
 */
static void check_refresh(struct impl *this, bool streaming)
{
	uint32_t mhz, was = this->refresh_mhz;

	/* The card is away: it is read again when it comes back. */
	if (!this->kms) {
		return;
	}
	if (kms_crtc_read_refresh(this->kms, this->config.crtc_id, &mhz) < 0 || mhz == was) {
		return;
	}
	spa_loop_invoke(this->data_loop, do_set_refresh, 0, &mhz, sizeof(mhz), true, this);
	spa_log_info(this->log, "%s: the mode's refresh is now %u.%03u Hz (was %u.%03u Hz)",
			this->name, mhz / 1000, mhz % 1000, was / 1000, was % 1000);
	if (this->set.n == 0) {
		return;
	}
	if (streaming) {
		this->learn.renegotiate_at_pause = true;
	} else {
		source_schedule_renegotiate(this);
	}
}

void source_learn_check_refresh(struct impl *this)
{
	check_refresh(this, this->frame.started);
}

static int do_refresh_request(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;

	if (!this->closing) {
		check_refresh(this, this->frame.started);
	}
	return 0;
}

void source_learn_refresh_request(struct impl *this)
{
	/* A full invoke queue runs nothing: the flip source asks again a second later. */
	spa_loop_invoke(this->main_loop, do_refresh_request, 0, NULL, 0, false, this);
}

/*
 * An FB in a format with no SPA video format (16-bit integer channels, fp16 without alpha,
 * what a game in direct scanout may show) cannot join: it would leave EnumFormat empty and end every stream. The
 * set keeps the last FBs the node can serve, so consumers keep the last picture (and the
 * idle re-sends) until such an FB is on screen again. Logged once per format.
 */
static int reject(struct impl *this, struct scanout_fb *fb)
{
	struct source_learn *l = &this->learn;
	uint32_t i = l->n_rejected++ % REJECTED_FBS;
	char name[5];

	__atomic_store_n(&l->rejected[i].until_ns, flip_source_now_ns() + REJECT_RETRY_NS,
			__ATOMIC_RELEASE);
	__atomic_store_n(&l->rejected[i].fb_id, fb->fb_id, __ATOMIC_RELEASE);
	if (l->warned_fourcc != fb->hfb.fourcc) {
		l->warned_fourcc = fb->hfb.fourcc;
		if (this->set.n > 0) {
			spa_log_warn(this->log, "%s: FB %u is %s, a format PipeWire cannot describe: "
					"consumers keep the last picture until an FB in a format it "
					"can is on screen", this->name, fb->fb_id,
					kms_fourcc_str(fb->hfb.fourcc, name));
		} else {
			spa_log_error(this->log, "%s: FB %u is %s, a format PipeWire cannot "
					"describe: nothing can be captured until an FB in a format it "
					"can is on screen", this->name, fb->fb_id,
					kms_fourcc_str(fb->hfb.fourcc, name));
		}
	}
	scanout_fb_finish(fb);
	return -ENOTSUP;
}

static int do_retire(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	int idx = *(const int *)data;

	scanout_set_take(&this->set, (uint32_t)idx, &this->learn.retired);
	source_port_retire_missing(&this->port, &this->set);
	return 0;
}

/*
 * Entry idx of the set was destroyed and its id given to the FB in fb (other buffers): the
 * entry leaves the set and its aliases are retired, so that no frame of the new FB goes out
 * in the old buffers. The new FB then joins like any other.
 */
static void replace(struct impl *this, int idx, const struct scanout_fb *fb)
{
	spa_log_info(this->log, "%s: FB %u names other buffers now (the kernel reused its id): "
			"its %s leave the scanout set", this->name, fb->fb_id,
			this->port.path == PATH_DMABUF ? "aliases" : "old buffers");
	this->stats.n.replaced++;
	spa_loop_invoke(this->data_loop, do_retire, 0, &idx, sizeof(idx), true, this);
	scanout_fb_finish(&this->learn.retired); /* moved out of the set on the data loop */
}

/*
 * Adds an export to the set, or finds it there. Takes ownership of *exported (its fds move
 * into the set or are closed). Returns 0 or -errno.
 */
static int learn_exported(struct impl *this, struct scanout_fb *exported)
{
	struct scanout_fb fb = *exported, dead[MAX_SCANOUT_FBS + 1];
	struct scanout_set *next;
	uint32_t n_dead = 0, seeded = 0;
	bool format_change, first;
	int res, idx;

	if ((idx = scanout_set_find(&this->set, fb.fb_id)) >= 0) {
		if (scanout_fb_same_buffers(&this->set.fbs[idx], &fb)) {
			scanout_fb_finish(&fb);
			return 0;
		}
		replace(this, idx, &fb);
	}
	if (!fmt_from_drm(fb.hfb.fourcc)) {
		return reject(this, &fb);
	}
	this->learn.warned_fourcc = 0;
	next = malloc(sizeof(*next));
	if (!next) {
		scanout_fb_finish(&fb);
		return -ENOMEM;
	}
	*next = this->set;
	first = next->n == 0;
	format_change = next->n > 0 && !scanout_fb_compatible(&next->fbs[0], &fb);
	/*
	 * After the card came back the whole set is the old device's: its ids mean nothing on
	 * the new one (or another FB), so it leaves as for a new format, its aliases retired.
	 * Whether the link needs new buffers is what it was: a new format renegotiates, a new
	 * FB of the same one is a join like any other.
	 */
	if (format_change || this->learn.set_stale) {
		while (next->n > 0) {
			scanout_set_take(next, 0, &dead[n_dead++]);
		}
	} else {
		prune(this, next, dead, &n_dead);
	}
	this->learn.set_stale = false;
	if (next->n == MAX_SCANOUT_FBS) {
		/* Retiring a live FB would only bring it back next turn: keep the set. */
		if (!this->learn.warned_full) {
			spa_log_warn(this->log, "%s: more than %d live FBs; frames on FB %u and "
					"others are dropped", this->name, MAX_SCANOUT_FBS, fb.fb_id);
		}
		this->learn.warned_full = true;
		scanout_fb_finish(&fb);
		free(next);
		return -ENOSPC;
	}
	idx = scanout_set_add(next, &fb);
	check_refresh(this, this->frame.started);
	if (this->cache) {
		/* The first FB of a format: the cache may know the rest of the swapchain. */
		if (next->n == 1 && (res = scanout_cache_seed(this->cache, this->kms, next)) > 0) {
			seeded = (uint32_t)res;
		}
		scanout_cache_put(this->cache, this->kms, &next->fbs[idx]);
	}
	/* The copy paths read FBs on the data loop: map them here, before the swap. */
	for (uint32_t i = 0; this->port.n_slots > 0 && i < next->n; i++) {
		if (this->port.path == PATH_SHM ||
				(this->port.path == PATH_DMABUF && spare_slots_possible(this))) {
			scanout_fb_map(&next->fbs[i]);
		}
	}
	spa_loop_invoke(this->data_loop, do_swap_set, 0, &next, sizeof(next), true, this);
	free(next); /* its entries moved into this->set */
	for (uint32_t i = 0; i < n_dead; i++) {
		scanout_fb_finish(&dead[i]);
	}

	spa_log_info(this->log, "%s: FB %u %ux%u joins the scanout set (%u FBs, %u retired)%s",
			this->name, this->set.fbs[idx].fb_id, this->set.fbs[idx].hfb.width,
			this->set.fbs[idx].hfb.height, this->set.n, n_dead,
			format_change ? ", new format" : "");
	if (seeded) {
		spa_log_info(this->log, "%s: %u more FBs of this CRTC known to the process join "
				"the scanout set (%u FBs)", this->name, seeded, this->set.n);
	}
	after_join(this, idx, format_change);
	/*
	 * The first FB comes back from the helper thread after the node is out, maybe after a
	 * consumer found EnumFormat empty: say it changed. Nobody listens yet at open.
	 */
	if (first) {
		source_announce_enum_format(this);
	}
	return 0;
}

int source_learn_now(struct impl *this)
{
	/* The card is away; its FBs are learnt once it is back (source-card.c). */
	if (!this->kms) {
		return -ENODEV;
	}
	return export_on_screen(this, LEARN_JOB_NOW);
}

static void on_helper_done(void *data, uint64_t count);

/*
 * Before the node is out: its first EnumFormat must already have the FB, or a consumer that
 * links at once finds none (gst's pipewiresrc on 0.3.65 then waits out its 30 s). So the
 * open waits for this one answer, as it waited for the synchronous export it replaces; at
 * most the client's timeout, and only here.
 */
int source_learn_first(struct impl *this)
{
	uint64_t timeout_ms = this->config.helper_opts.timeout_ms > 0 ?
			(uint64_t)this->config.helper_opts.timeout_ms : HELPER_CLIENT_TIMEOUT_MS;
	int res;

	if ((res = source_learn_now(this)) < 0) {
		return res;
	}
	if ((res = source_helper_wait(&this->learn.helper,
			(timeout_ms + 500) * SPA_NSEC_PER_MSEC)) < 0) {
		return res; /* the answer still comes, through the event, later */
	}
	on_helper_done(this, 0);
	return this->set.n > 0 ? 0 : -ENOENT;
}

int source_learn_take(struct impl *this, struct source_helper_job *job)
{
	struct scanout_fb fb;
	int res;

	if (job->export_res < 0) {
		spa_log_warn(this->log, "%s: export of crtc %u: %s (%s)", this->name, job->crtc_id,
				spa_strerror(job->export_res), job->export_error);
		return job->export_res;
	}
	this->stats.n.exports++;
	/* The card went away since (its FBs mean nothing now), or the node closes. */
	if (this->closing || !this->kms || job->cookie != this->learn.card_gen) {
		helper_fb_finish(&job->fb);
		return -ECANCELED;
	}
	this->learn.exported_primary = true;
	if ((res = scanout_fb_init(&fb, &job->fb)) < 0) { /* fds now owned by fb */
		return res;
	}
	return learn_exported(this, &fb);
}

/* Main loop: one job back from the helper thread, to whoever asked. Owns job->fb's fds. */
static void learn_job_done(struct impl *this, struct source_helper_job *job)
{
	switch ((enum learn_job)job->tag) {
	case LEARN_JOB_NOW:
		if (!this->closing) {
			source_learn_take(this, job);
		}
		break;
	case LEARN_JOB_REQUEST:
		/* A failure was logged; the next flip to an unknown FB asks again. */
		if (!this->closing) {
			source_learn_take(this, job);
		}
		__atomic_store_n(&this->learn.inflight, false, __ATOMIC_RELEASE);
		break;
	case LEARN_JOB_CURSOR:
		cursor_done(this, job);
		break;
	case LEARN_JOB_CHECK:
		source_check_done(this, job);
		break;
	}
	helper_fb_finish(&job->fb); /* whatever was not taken */
}

static void on_helper_done(void *data, uint64_t count)
{
	struct impl *this = data;
	struct source_helper_job job;

	this->learn.warned_busy = false;
	while (source_helper_collect(&this->learn.helper, &job) == 1) { /* fds now owned by job */
		learn_job_done(this, &job);
	}
}

/* Helper thread: a job is done. An eventfd write, safe from any thread on every server. */
static void wake_main_loop(void *data)
{
	struct impl *this = data;

	spa_loop_utils_signal_event(this->main_utils, this->learn.helper_done);
}

static const struct source_helper_events helper_events = {
	.wake = wake_main_loop,
};

void source_learn_drop_helper(struct impl *this)
{
	this->learn.card_gen++;
	this->learn.exported_primary = false;
	source_helper_drop_connection(&this->learn.helper);
}

/* Announces a changed EnumFormat so that the link reallocates. */
static void renegotiate(struct impl *this, const char *why)
{
	struct source_learn *l = &this->learn;

	l->renegotiate_pending = false;
	l->renegotiate_soon = false;
	relink_guard_renegotiate(&l->relink, l->relink_pending);
	l->relink_pending = false;
	source_announce_enum_format(this);
	spa_log_info(this->log, "%s: renegotiating: %s (%u FBs)", this->name, why, this->set.n);
}

static void on_renegotiate_timer(void *data, uint64_t expirations)
{
	struct impl *this = data;

	if (this->learn.renegotiate_pending) {
		renegotiate(this, this->learn.relink_pending ?
				"paused while a link renegotiated (PipeWire issue 3619)" :
				"the scanout set changed");
	}
}

void source_learn_buffers(struct impl *this)
{
	relink_guard_buffers(&this->learn.relink, flip_source_now_ns());
	this->learn.renegotiate_at_pause = false;
	this->learn.warned_no_spares = false;
}

void source_learn_paused(struct impl *this)
{
	relink_guard_paused(&this->learn.relink, flip_source_now_ns());
}

void source_learn_started(struct impl *this)
{
	check_refresh(this, true);
	switch (relink_guard_started(&this->learn.relink, flip_source_now_ns())) {
	case RELINK_NOW:
		this->learn.relink_pending = true;
		source_schedule_renegotiate(this);
		break;
	case RELINK_GIVE_UP:
		spa_log_warn(this->log, "%s: paused during %u renegotiations in a row; a consumer "
				"that gets no frames must reconnect", this->name, MAX_RELINKS);
		break;
	case RELINK_NONE:
		break;
	}
}

/* The FBs that spares carried while the stream ran get their aliases now. */
void source_learn_stream_ended(struct impl *this)
{
	if (this->learn.renegotiate_at_pause && this->port.have_format) {
		source_schedule_renegotiate(this);
	}
	this->learn.renegotiate_at_pause = false;
}

int source_learn_init(struct impl *this, bool relink_enabled)
{
	struct source_learn *l = &this->learn;
	int res;

	relink_guard_init(&l->relink, relink_enabled);
	l->renegotiate_timer = spa_loop_utils_add_timer(this->main_utils, on_renegotiate_timer,
			this);
	if (!l->renegotiate_timer) {
		return -errno;
	}
	l->helper_done = spa_loop_utils_add_event(this->main_utils, on_helper_done, this);
	if (!l->helper_done) {
		return -errno;
	}
	/* The helper's paths are this->config's, fixed after init. */
	if ((res = source_helper_start(&l->helper, &this->config.helper_opts, &helper_events,
			this)) < 0) {
		spa_log_error(this->log, "%s: helper thread: %s", this->name, spa_strerror(res));
		return res;
	}
	return 0;
}

void source_learn_finish(struct impl *this)
{
	struct source_learn *l = &this->learn;

	/* First: its worker signals helper_done. Closes the fds of the exports not taken. */
	source_helper_stop(&l->helper);
	if (l->helper_done) {
		spa_loop_utils_destroy_source(this->main_utils, l->helper_done);
	}
	l->helper_done = NULL;
	if (l->renegotiate_timer) {
		spa_loop_utils_destroy_source(this->main_utils, l->renegotiate_timer);
	}
	l->renegotiate_timer = NULL;
}
