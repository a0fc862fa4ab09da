/* SPDX-License-Identifier: MIT */
/*
 * The main loop side of the scanout set: exporting FBs through the helper (a blocking round
 * trip, so never on the data loop), keeping the set bounded, and renegotiating the link when
 * the set no longer matches the buffers PipeWire allocated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/result.h>

#include "format.h"
#include "kmscast-source.h"

/*
 * Exports the FB on the primary plane now. The client restarts a helper that died and retries
 * once by itself; the helper is created on first use so that a node can exist before it.
 */
static int export_on_screen(struct impl *this, struct scanout_fb *out)
{
	struct source_learn *l = &this->learn;
	const struct source_config *c = &this->config;
	struct helper_fb hfb;
	int res;

	if (!l->helper) {
		res = helper_client_create(&c->helper_opts, &l->helper);
		if (res < 0) {
			l->helper = NULL;
			spa_log_error(this->log, "%s: helper client: %s", this->name,
					spa_strerror(res));
			return res;
		}
	}
	memset(&hfb, 0, sizeof(hfb));
	res = helper_client_export(l->helper, this->card.name, c->crtc_id, KMSCAST_PLANE_PRIMARY,
			&hfb);
	if (res < 0) {
		spa_log_warn(this->log, "%s: export of crtc %u: %s (%s)", this->name, c->crtc_id,
				spa_strerror(res), helper_client_last_error(l->helper));
		return res;
	}
	this->stats.n.exports++;
	return scanout_fb_init(out, &hfb);
}

/* The cursor's image goes through the same helper, once the primary plane made one. */
int source_learn_export_cursor(void *data, struct helper_fb *hfb)
{
	struct impl *this = data;
	int res;

	if (this->closing || !this->learn.helper) {
		return -ECANCELED;
	}
	res = helper_client_export(this->learn.helper, this->card.name, this->config.crtc_id,
			KMSCAST_PLANE_CURSOR, hfb);
	if (res < 0) {
		spa_log_debug(this->log, "%s: cursor export: %s", this->name, spa_strerror(res));
	}
	return res;
}

static int do_learn(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	uint32_t fb_id = *(const uint32_t *)data;

	/* export_on_screen logged a failure; the next flip to an unknown FB asks again. */
	if (!this->closing && scanout_set_find(&this->set, fb_id) < 0) {
		source_learn_now(this);
	}
	__atomic_store_n(&this->learn.inflight, false, __ATOMIC_RELEASE);
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

	this->learn.renegotiate_pending = true;
	spa_loop_utils_update_timer(this->main_utils, this->learn.renegotiate_timer, &value, NULL,
			false);
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
		source_schedule_renegotiate(this);
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
			source_schedule_renegotiate(this);
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
 * timer path measures nothing, so there a rate change alone waits for the next Start. A new
 * rate paces polls, re-sends and the clock at once; it reaches consumers with the next
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
	bool format_change;
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
	return 0;
}

int source_learn_now(struct impl *this)
{
	struct scanout_fb fb;
	int res;

	/* The card is away; its FBs are learnt once it is back (source-card.c). */
	if (!this->kms) {
		return -ENODEV;
	}
	if ((res = export_on_screen(this, &fb)) < 0) {
		return res;
	}
	return learn_exported(this, &fb);
}

int source_learn_verify(struct impl *this, uint32_t fb_id)
{
	struct scanout_fb fb;
	uint32_t exported;
	int res;

	if (!this->kms) {
		return -ENODEV;
	}
	if ((res = export_on_screen(this, &fb)) < 0) {
		return res;
	}
	exported = fb.fb_id;
	if ((res = learn_exported(this, &fb)) < 0) {
		return res;
	}
	/* The screen moved on: the FB in question may be gone; its frame is not known good. */
	return exported == fb_id ? 0 : -EAGAIN;
}

/* Announces a changed EnumFormat so that the link reallocates. */
static void renegotiate(struct impl *this, const char *why)
{
	struct source_learn *l = &this->learn;

	l->renegotiate_pending = false;
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
	relink_guard_init(&this->learn.relink, relink_enabled);
	this->learn.renegotiate_timer = spa_loop_utils_add_timer(this->main_utils,
			on_renegotiate_timer, this);
	return this->learn.renegotiate_timer ? 0 : -errno;
}

void source_learn_finish(struct impl *this)
{
	if (this->learn.renegotiate_timer) {
		spa_loop_utils_destroy_source(this->main_utils, this->learn.renegotiate_timer);
	}
	this->learn.renegotiate_timer = NULL;
	helper_client_destroy(this->learn.helper);
	this->learn.helper = NULL;
}
