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

#include "kmscast-source.h"

/*
 * Exports the FB on the primary plane now. The client restarts a helper that died and retries
 * once by itself; the helper is created on first use so that a node can exist before it.
 */
static int export_on_screen(struct impl *this, struct scanout_fb *out)
{
	struct helper_fb hfb;
	int res;

	if (!this->helper) {
		res = helper_client_create(&this->helper_opts, &this->helper);
		if (res < 0) {
			this->helper = NULL;
			spa_log_error(this->log, "%s: helper client: %s", this->name,
					spa_strerror(res));
			return res;
		}
	}
	memset(&hfb, 0, sizeof(hfb));
	res = helper_client_export(this->helper, this->card, this->crtc_id, KMSCAST_PLANE_PRIMARY,
			&hfb);
	if (res < 0) {
		spa_log_warn(this->log, "%s: export of crtc %u: %s (%s)", this->name, this->crtc_id,
				spa_strerror(res), helper_client_last_error(this->helper));
		return res;
	}
	this->stats.exports++;
	return scanout_fb_init(out, &hfb);
}

static int do_swap_set(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct scanout_set *next = *(struct scanout_set *const *)data;

	this->set = *next; /* entries now owned by this->set */
	return 0;
}

/* Moves entry i of set into dead[*n_dead], to be finished after the swap. */
static void retire(struct scanout_set *set, uint32_t i, struct scanout_fb *dead, uint32_t *n_dead)
{
	dead[(*n_dead)++] = set->fbs[i];
	memmove(&set->fbs[i], &set->fbs[i + 1], (set->n - i - 1) * sizeof(set->fbs[0]));
	set->n--;
	memset(&set->fbs[set->n], 0, sizeof(set->fbs[0]));
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
		if (kms_fb_get_info(this->kms, set->fbs[i].fb_id, &info) == -ENOENT)
			retire(set, i, dead, n_dead);
	}
}

void source_schedule_renegotiate(struct impl *this)
{
	struct timespec value = {0, RENEGOTIATE_DEBOUNCE_NS};

	this->renegotiate_pending = true;
	spa_loop_utils_update_timer(this->main_utils, this->renegotiate_timer, &value, NULL,
			false);
}

int source_learn_now(struct impl *this)
{
	struct scanout_fb fb, dead[MAX_SCANOUT_FBS + 1];
	struct scanout_set *next;
	uint32_t n_dead = 0, seeded = 0;
	bool format_change;
	int res, idx;

	if ((res = export_on_screen(this, &fb)) < 0)
		return res;
	if (scanout_set_find(&this->set, fb.fb_id) >= 0) {
		scanout_fb_finish(&fb);
		return 0;
	}
	next = malloc(sizeof(*next));
	if (!next) {
		scanout_fb_finish(&fb);
		return -ENOMEM;
	}
	*next = this->set;
	format_change = next->n > 0 && !scanout_fb_compatible(&next->fbs[0], &fb);
	if (format_change) {
		while (next->n > 0)
			retire(next, 0, dead, &n_dead);
	} else {
		prune(this, next, dead, &n_dead);
	}
	if (next->n == MAX_SCANOUT_FBS) {
		/* Retiring a live FB would only bring it back next turn: keep the set. */
		if (!this->warned_full)
			spa_log_warn(this->log, "%s: more than %d live FBs; frames on FB %u and "
					"others are dropped", this->name, MAX_SCANOUT_FBS, fb.fb_id);
		this->warned_full = true;
		scanout_fb_finish(&fb);
		free(next);
		return -ENOSPC;
	}
	idx = scanout_set_add(next, &fb);
	if (this->cache) {
		/* The first FB of a format: the cache may know the rest of the swapchain. */
		if (next->n == 1 && (res = scanout_cache_seed(this->cache, this->kms, next)) > 0)
			seeded = (uint32_t)res;
		scanout_cache_put(this->cache, this->kms, &next->fbs[idx]);
	}
	/* The copy paths read FBs on the data loop: map them here, before the swap. */
	for (uint32_t i = 0; this->n_slots > 0 && i < next->n; i++) {
		if (this->path == PATH_SHM || (this->path == PATH_DMABUF && spare_slots_possible(this)))
			scanout_fb_map(&next->fbs[i]);
	}
	spa_loop_invoke(this->data_loop, do_swap_set, 0, &next, sizeof(next), true, this);
	free(next); /* its entries moved into this->set */
	for (uint32_t i = 0; i < n_dead; i++)
		scanout_fb_finish(&dead[i]);

	spa_log_info(this->log, "%s: FB %u %ux%u joins the scanout set (%u FBs, %u retired)%s",
			this->name, this->set.fbs[idx].fb_id, this->set.fbs[idx].hfb.width,
			this->set.fbs[idx].hfb.height, this->set.n, n_dead,
			format_change ? ", new format" : "");
	if (seeded)
		spa_log_info(this->log, "%s: %u more FBs of this CRTC known to the process join "
				"the scanout set (%u FBs)", this->name, seeded, this->set.n);
	/*
	 * The dma-buf path's buffers alias the set, so any change needs new buffers; the copy
	 * path only cares about a new format. Either way only a changed EnumFormat makes PipeWire
	 * reallocate (0.3.65 to 1.6): a Buffers-only update does nothing. A running stream whose
	 * consumer may not survive that keeps its buffers, and spares carry the new FB's frames
	 * until the next Pause.
	 */
	if (format_change) {
		source_schedule_renegotiate(this);
	} else if (this->path == PATH_DMABUF && this->have_format) {
		/* spare_slots_possible() also says this server's consumers need them. */
		bool spares_wanted = this->started && this->n_slots > 0 &&
				spare_slots_possible(this);

		if (spares_wanted && spare_slots_held(this) > 0) {
			this->renegotiate_at_pause = true;
			spa_log_info(this->log, "%s: FB %u is copied into spare slots until the "
					"stream pauses", this->name, this->set.fbs[idx].fb_id);
		} else {
			/*
			 * Without a spare the FB's frames would be dropped until the stream
			 * pauses, which a steady consumer never does: a frozen stream. A
			 * renegotiation at least ends it visibly where the consumer cannot take it.
			 */
			if (spares_wanted && !this->warned_no_spares)
				spa_log_warn(this->log, "%s: FB %u is new and the %u buffers left no "
						"room for spare slots beside %u FBs: renegotiating "
						"mid-stream (GStreamer 1.0 to 1.5 ends its stream: "
						"'unhandled format')", this->name,
						this->set.fbs[idx].fb_id, this->n_slots, this->set.n);
			this->warned_no_spares |= spares_wanted;
			source_schedule_renegotiate(this);
		}
	}
	return 0;
}

void source_request_learn(struct impl *this, uint32_t fb_id)
{
	if (scanout_set_find(&this->set, fb_id) >= 0)
		return;
	/* export_on_screen logged a failure; the next flip to an unknown FB asks again. */
	source_learn_now(this);
}

void source_renegotiate(struct impl *this, const char *why)
{
	this->renegotiate_pending = false;
	relink_guard_renegotiate(&this->relink, this->relink_pending);
	this->relink_pending = false;
	/* Toggling SERIAL makes PipeWire re-read EnumFormat and renegotiate the link. */
	this->port_params[PORT_EnumFormat].flags ^= SPA_PARAM_INFO_SERIAL;
	this->port_info.change_mask |= SPA_PORT_CHANGE_MASK_PARAMS;
	source_emit_port_info(this, false);
	this->params[NODE_EnumFormat].flags ^= SPA_PARAM_INFO_SERIAL;
	this->info.change_mask |= SPA_NODE_CHANGE_MASK_PARAMS;
	source_emit_node_info(this, false);
	spa_log_info(this->log, "%s: renegotiating: %s (%u FBs)", this->name, why, this->set.n);
}

static void on_renegotiate_timer(void *data, uint64_t expirations)
{
	struct impl *this = data;

	if (this->renegotiate_pending)
		source_renegotiate(this, this->relink_pending ?
				"paused while a link renegotiated (PipeWire issue 3619)" :
				"the scanout set changed");
}

void source_relink_buffers(struct impl *this)
{
	relink_guard_buffers(&this->relink, flip_source_now_ns());
}

void source_relink_paused(struct impl *this)
{
	relink_guard_paused(&this->relink, flip_source_now_ns());
}

void source_relink_started(struct impl *this)
{
	switch (relink_guard_started(&this->relink, flip_source_now_ns())) {
	case RELINK_NOW:
		this->relink_pending = true;
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

int source_learn_init(struct impl *this)
{
	this->renegotiate_timer = spa_loop_utils_add_timer(this->main_utils,
			on_renegotiate_timer, this);
	return this->renegotiate_timer ? 0 : -errno;
}

void source_learn_finish(struct impl *this)
{
	if (this->renegotiate_timer)
		spa_loop_utils_destroy_source(this->main_utils, this->renegotiate_timer);
	this->renegotiate_timer = NULL;
}
