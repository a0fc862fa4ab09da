/* SPDX-License-Identifier: MIT */
/*
 * The data loop side of the node: one tick per vblank (or poll), a new FB_ID on the primary
 * plane is a new frame, and the frame goes out in a free slot that aliases that FB.
 */
#include <errno.h>
#include <string.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

void source_frame_init(struct source_frame *f)
{
	handoff_init(&f->handoff);
}

static int do_set_started(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct source_frame *f = &this->frame;
	uint32_t staged;

	f->started = *(const bool *)data;
	/* A frame staged for a driver's cycle that will not come: its slot is free again. */
	if ((staged = handoff_unstage(&f->handoff)) != SPA_ID_INVALID) {
		source_port_recycle(&this->port, staged);
	}
	f->discont = true;
	f->latch.fb_id = 0; /* asked for by a stream that is over, or before this one began */
	f->frame_due_ns = f->started ? flip_source_now_ns() : 0;
	f->last_frame_ns = 0;
	f->cap = (struct rate_cap){0};
	f->resend_requested = false;
	source_check_reset(this);
	flip_source_set_idle(&this->flip, !f->started);
	return 0;
}

void source_frame_set_started(struct impl *this, bool started)
{
	spa_loop_invoke(this->data_loop, do_set_started, 0, &started, sizeof(started), true, this);
}

void source_frame_request(struct source_frame *f)
{
	__atomic_store_n(&f->resend_requested, true, __ATOMIC_RELEASE);
}

void source_frame_buffers_changed(struct impl *this, uint32_t n_slots)
{
	struct source_frame *f = &this->frame;

	handoff_init(&f->handoff); /* a staged id named a slot of the old table */
	source_check_forget_slots(this); /* so did the copies waiting for their checks */
	f->discont = true;
	f->cap = (struct rate_cap){0}; /* maybe a new maximum framerate: its grid starts again */
	/* New buffers, maybe a new consumer: it is owed the screen (frame_due_ns). */
	if (f->started && n_slots > 0) {
		f->frame_due_ns = flip_source_now_ns();
	}
}

/* The primary plane's source rectangle as last read, for the crop meta. */
static struct spa_region plane_crop(const struct impl *this)
{
	const struct kms_plane_state *st = &this->frame.primary.state;

	/* SRC_* are 16.16: each CRTC of one big X11 framebuffer reads its own rectangle. */
	return (struct spa_region){
		.position = SPA_POINT((int32_t)(st->src_x >> 16), (int32_t)(st->src_y >> 16)),
		.size = SPA_RECTANGLE(st->src_w >> 16, st->src_h >> 16),
	};
}

/* A frame sent at vblank seq: nothing copied yet, the plane as it is. */
static struct frame_at_flip at_now(const struct impl *this, uint64_t seq)
{
	return (struct frame_at_flip){
		.copied = SPA_ID_INVALID,
		.crop = plane_crop(this),
		.seq = seq,
	};
}

/*
 * The graph's clock: nsec is the vblank's CLOCK_MONOTONIC time, position counts frames, as
 * PipeWire's v4l2 source does (buf.sequence). From PipeWire 1.3.81 GStreamer's pipewiresrc
 * takes the driver's ticks as its clock; the NO_RATE flag set in set_io makes 1.3.81 and later
 * derive them from nsec, not from this position: without it gst 1.26 waited out the
 * machine's uptime before its first frame. The position stays what v4l2 writes; one that
 * followed nsec was tried and bought nothing measurable.
 */
static void update_clock(struct impl *this, uint64_t nsec)
{
	struct spa_io_clock *c = this->clock;
	uint32_t hz = source_refresh_hz(this);

	if (!c) {
		return;
	}
	c->nsec = nsec;
	c->rate = SPA_FRACTION(1, hz);
	c->position = this->stats.n.delivered;
	c->duration = 1;
	c->delay = 0;
	c->rate_diff = 1.0;
	c->next_nsec = nsec + source_period_ns(this);
}

enum output_kind {
	OUTPUT_FLIP, /* a new FB on screen */
	OUTPUT_RESEND, /* the FB on screen again */
	OUTPUT_CURSOR, /* only the cursor moved */
};

/* The slot goes out: the consumer holds it until it recycles it. Stats and the clock. */
static void account_slot(struct impl *this, struct slot *slot, uint64_t nsec,
		enum output_kind kind)
{
	slot->busy = true;
	slot->last_used = this->stats.n.ticks;
	if (kind == OUTPUT_CURSOR) {
		this->stats.n.cursor_only++;
	} else {
		if (kind == OUTPUT_RESEND) {
			this->stats.n.resent++;
		} else {
			this->stats.n.delivered++;
		}
		this->frame.frame_due_ns = 0;
		this->frame.last_frame_ns = nsec;
		this->frame.discont = false;
	}
	update_clock(this, nsec);
}

/*
 * Another node drives: the frame waits for its cycle (process()). A newer frame replaces one
 * still waiting, which the graph never saw: its slot is free again.
 */
static void stage_slot(struct impl *this, struct slot *slot, uint64_t nsec,
		enum output_kind kind)
{
	uint32_t replaced = handoff_stage(&this->frame.handoff, slot->id);

	if (replaced != SPA_ID_INVALID) {
		source_port_recycle(&this->port, replaced);
		if (kind == OUTPUT_FLIP) {
			this->stats.n.dropped_unconsumed++;
		}
	}
	account_slot(this, slot, nsec, kind);
}

/*
 * Hands slot to the graph: through the io area, waking the graph, while the node drives;
 * staged for the driver's next cycle while it follows.
 */
static void output_slot(struct impl *this, struct slot *slot, uint64_t nsec,
		enum output_kind kind)
{
	struct spa_io_buffers *io = this->port.io;
	uint32_t staged;

	if (handoff_following(this->position, this->clock)) {
		stage_slot(this, slot, nsec, kind);
		return;
	}
	/* Driving again after following: a frame staged meanwhile is older than this one. */
	if ((staged = handoff_unstage(&this->frame.handoff)) != SPA_ID_INVALID) {
		source_port_recycle(&this->port, staged);
	}
	/*
	 * The graph has not taken the previous frame yet. The consumer is another process and
	 * may be taking it at this very moment: replacing it would hand the consumer a buffer we
	 * think is free, and a slot we fill again while it reads (pipewiresrc: "was not
	 * recycled"). The previous frame stays; this one is lost. PipeWire's v4l2 source does
	 * not overwrite a HAVE_DATA io either.
	 */
	if (io->status == SPA_STATUS_HAVE_DATA && io->buffer_id < this->port.n_slots) {
		if (kind == OUTPUT_FLIP) {
			this->stats.n.dropped_unconsumed++;
			this->frame.discont = true;
		}
		/*
		 * A wake-up the graph never acted on would leave the io full for good: PipeWire 1.4
		 * drops a ready() from a node it does not count as active yet ("ready non-active
		 * node", seen as a consumer (gst 1.26) started, idled and started the stream
		 * again), after which the node called ready() no more and the portal capture got
		 * nothing. After two periods the node wakes the graph again for the frame it
		 * holds; v4l2 calls ready() on every frame.
		 */
		if (nsec > this->frame.ready_ns + 2 * source_period_ns(this)) {
			if (!this->frame.warned_stale_io) {
				spa_log_info(this->log, "%s: the graph left a frame unread for %" PRIu64
						" ms: waking it again", this->name,
						(uint64_t)((nsec - this->frame.ready_ns) / SPA_NSEC_PER_MSEC));
			}
			this->frame.warned_stale_io = true;
			this->frame.ready_ns = nsec;
			spa_node_call_ready(&this->callbacks, SPA_STATUS_HAVE_DATA);
		}
		return;
	}
	/* Given back by the consumer, and process() did not run since to recycle it. */
	if (io->buffer_id < this->port.n_slots) {
		source_port_recycle(&this->port, io->buffer_id);
	}
	io->buffer_id = slot->id;
	io->status = SPA_STATUS_HAVE_DATA;
	account_slot(this, slot, nsec, kind);
	this->frame.ready_ns = nsec;
	spa_node_call_ready(&this->callbacks, SPA_STATUS_HAVE_DATA);
}

/*
 * Copies the FB into slot's own memory (the SHM path, a spare). A failed copy loses a flip's
 * frame; one whose fences are still pending is counted apart: the data loop never waits for a
 * GPU, this consumer misses the frame (a re-send tries again on a later tick).
 */
static int copy_frame(struct impl *this, struct slot *slot, int set_index,
		enum output_kind kind)
{
	int res = shm_copy_frame(slot, &this->set.fbs[set_index]);

	if (res == 0) {
		if (slot->spare && kind != OUTPUT_RESEND) {
			/* An FB newer than the buffers: a copy, until the next allocation aliases it. */
			this->stats.n.copied++;
		}
		return 0;
	}
	if (res == -EBUSY) {
		this->stats.n.fenced++;
	} else if (kind != OUTPUT_RESEND) {
		this->stats.n.dropped_unknown++;
	}
	if (kind != OUTPUT_RESEND) {
		this->frame.discont = true;
	}
	spa_log_trace(this->log, "%s: FB %u not copied: %s", this->name,
			this->set.fbs[set_index].fb_id, spa_strerror(res));
	return res;
}

/* The slot, its pixels in place, goes out with the frame's metadata. */
static void send_frame(struct impl *this, struct slot *slot, uint64_t nsec, enum output_kind kind,
		const struct frame_at_flip *at)
{
	const struct spa_region *crop = &at->crop;

	if (slot->header) {
		slot->header->flags = this->frame.discont ? SPA_META_HEADER_FLAG_DISCONT : 0;
		slot->header->offset = 0;
		slot->header->pts = (int64_t)nsec;
		slot->header->dts_offset = 0;
		slot->header->seq = at->seq;
	}
	if (slot->crop) {
		slot->crop->region = *crop;
	}
	/*
	 * What changed is not known: a flip may bring any picture, and a re-sent screen may
	 * have been painted in place. So the whole picture, as a consumer without the meta
	 * assumes: the plane's source rectangle where the crop meta made the node read it this
	 * frame, else the whole buffer. Regions after the first are empty: the end of the list.
	 */
	if (slot->damage) {
		bool have_crop = slot->crop && crop->size.width > 0 && crop->size.height > 0;

		slot->damage[0].region = have_crop ? *crop : (struct spa_region){
			.size = this->port.format.size,
		};
		memset(&slot->damage[1], 0, (slot->n_damage - 1) * sizeof(*slot->damage));
	}
	if (slot->cursor) {
		cursor_fill_meta(&this->cursor, slot->cursor, slot->cursor_size);
	}
	slot->pending = false; /* output_slot marks it busy if it goes out */
	output_slot(this, slot, nsec, kind);
}

/*
 * The slot a frame of entry set_index would be copied into, if it needs a copy: on the SHM
 * path any free one; on the dma-buf path a spare when no alias of the FB exists. Sets *copy
 * when the frame is copied, *held when it would be but every candidate is busy.
 */
static struct slot *pick_slot(struct impl *this, int set_index, bool *copy, bool *held)
{
	struct slot *slot;

	slot = source_port_pick_slot(&this->port, this->set.fbs[set_index].fb_id, held);
	*copy = this->port.slots_path == PATH_SHM;
	if (!slot && !*held && this->port.slots_path == PATH_DMABUF &&
			(slot = spare_slot_pick(&this->port)) != NULL) {
		*copy = true;
	}
	return slot;
}

/*
 * A flip that is copied (the SHM path, a spare) is copied at its vblank, before its check:
 * the FB holds the flip's picture now, while by the time the check's answer is back (a helper
 * round trip, more than a period under load) the compositor may be painting a later frame
 * into it: a consumer then got frame k+3 in place of k, and k+1 after it (node-refresh,
 * 3 FBs at 75 Hz). The slot stays pending until the answer. *copied: its id, left as it is
 * (SPA_ID_INVALID) when nothing was copied (an alias goes out as it is; with every slot busy
 * the copy waits for the answer, when the consumer may have given one back). Returns false
 * when the copy failed: the frame is lost (counted).
 */
static bool copy_at_flip(struct impl *this, int set_index, uint32_t *copied)
{
	struct slot *slot;
	bool copy, held;

	slot = pick_slot(this, set_index, &copy, &held);
	if (!slot || !copy) {
		return true;
	}
	if (copy_frame(this, slot, set_index, OUTPUT_FLIP) < 0) {
		return false;
	}
	slot->pending = true;
	*copied = slot->id;
	return true;
}

static void output_frame(struct impl *this, int set_index, uint64_t nsec, enum output_kind kind,
		const struct frame_at_flip *at)
{
	struct slot *slot;
	bool copy, held;

	if (at->copied < this->port.n_slots) {
		send_frame(this, &this->port.slots[at->copied], nsec, kind, at);
		return;
	}
	slot = pick_slot(this, set_index, &copy, &held);
	if (!slot && kind == OUTPUT_RESEND) {
		return; /* the consumer still has this picture */
	}
	if (!slot) {
		/* Never block the compositor's frame on a slow consumer: this frame is lost. */
		if (held) {
			this->stats.n.dropped_busy++;
		} else {
			this->stats.n.dropped_unknown++;
		}
		this->frame.discont = true;
		spa_log_trace(this->log, "%s: FB %u dropped (%s)", this->name,
				this->set.fbs[set_index].fb_id, held ? "all slots held" : "no alias yet");
		return;
	}
	if (!copy) {
		slot_fill_chunks(slot, &this->set.fbs[set_index]);
	} else if (copy_frame(this, slot, set_index, kind) < 0) {
		return;
	}
	send_frame(this, slot, nsec, kind, at);
}

/*
 * Only the cursor moved: a buffer whose chunks are empty and marked corrupted, which
 * PipeWire's screencast consumers (OBS, libwebrtc) read as "cursor metadata only". Only sent
 * when the link negotiated the cursor meta.
 */
static void output_cursor_only(struct impl *this, uint64_t nsec, uint64_t seq)
{
	struct slot *slot;
	bool held;

	slot = source_port_pick_slot(&this->port, this->frame.last_fb, &held);
	if (!slot || !slot->cursor) {
		return;
	}
	for (uint32_t j = 0; j < slot->buf->n_datas; j++) {
		slot->buf->datas[j].chunk->size = 0;
		slot->buf->datas[j].chunk->flags = SPA_CHUNK_FLAG_CORRUPTED;
	}
	if (slot->header) {
		slot->header->flags = SPA_META_HEADER_FLAG_CORRUPTED;
		slot->header->pts = (int64_t)nsec;
		slot->header->seq = seq;
	}
	if (slot->damage) { /* no picture, nothing of it changed */
		memset(slot->damage, 0, slot->n_damage * sizeof(*slot->damage));
	}
	cursor_fill_meta(&this->cursor, slot->cursor, slot->cursor_size);
	output_slot(this, slot, nsec, OUTPUT_CURSOR);
}

/*
 * Whether the FB on screen, unchanged, goes out again now. Nothing flips on an idle desktop,
 * on X11 without page flips or on the console (their pixels change in place, marked with
 * DIRTYFB, which the node cannot see): a consumer that starts then is owed one frame within
 * a period, and a static screen is re-sent every resend_ns, never faster than the consumer's
 * maximum framerate. A desktop that flips never gets here: each flip is a frame.
 */
static bool resend_due(struct impl *this, uint64_t nsec)
{
	uint64_t period = source_period_ns(this);
	uint64_t every = this->config.resend_ns;
	const struct spa_fraction *max = &this->port.format.max_framerate;

	if (this->frame.resend_requested) {
		return true;
	}
	/* The screen flips: its next flip is its next frame, a re-send would only repeat one. */
	if (this->frame.last_flip_ns && nsec < this->frame.last_flip_ns + RESEND_IDLE_NS) {
		return false;
	}
	if (this->frame.frame_due_ns && nsec >= this->frame.frame_due_ns + period) {
		return true;
	}
	if (every == 0 || this->frame.last_frame_ns == 0) {
		return false;
	}
	if (max->num > 0 && max->denom > 0) {
		every = SPA_MAX(every, (uint64_t)max->denom * SPA_NSEC_PER_SEC / max->num);
	}
	return nsec >= this->frame.last_frame_ns + every;
}

static void resend(struct impl *this, const struct flip_tick *t)
{
	int set_index = scanout_set_find(&this->set, this->frame.last_fb);
	struct frame_at_flip at = at_now(this, t->vblank_seq);

	this->frame.resend_requested = false;
	/* An FB waits for its vblank: its frame comes then, a re-send would show it early. */
	if (set_index < 0 || this->frame.latch.fb_id) {
		return;
	}
	/*
	 * The FB came on screen while no stream ran (nothing was checked), and a compositor may
	 * have re-created its buffers then: its first re-send is checked like a flip.
	 */
	if (this->check.verified_fb != this->frame.last_fb) {
		source_check_frame(this, this->frame.last_fb, t->nsec, true, &at);
		return;
	}
	output_frame(this, set_index, t->nsec, OUTPUT_RESEND, &at);
}

/*
 * Whether the flip of fb_id at nsec goes out: not for a stream that is not running, an FB not
 * in the set (counted), the consumer's rate; copied now if it is copied.
 */
static bool flip_goes_out(struct impl *this, uint32_t fb_id, uint64_t nsec,
		struct frame_at_flip *at)
{
	int set_index = scanout_set_find(&this->set, fb_id);

	if (!this->frame.started || !source_port_ready(&this->port)) {
		return false;
	}
	if (set_index < 0) {
		this->stats.n.dropped_unknown++;
		this->frame.discont = true;
		return false;
	}
	/* Not a discontinuity: the consumer asked for fewer frames than the screen makes. */
	if (!rate_cap_take(&this->frame.cap, nsec,
			rate_cap_period_ns(this->port.format.max_framerate, this->refresh_mhz),
			this->refresh_mhz)) {
		this->stats.n.capped++;
		return false;
	}
	return copy_at_flip(this, set_index, &at->copied);
}

/*
 * A flip goes out as the frame of vblank at.seq at nsec, once checked (source-check.h): asked
 * about when its commit was seen (the vblank path), or now.
 */
static void deliver_flip(struct impl *this, uint32_t fb_id, uint64_t nsec,
		struct frame_at_flip at)
{
	if (!flip_goes_out(this, fb_id, nsec, &at)) {
		source_check_drop(this, fb_id);
	} else if (source_check_latch(this, fb_id, nsec, &at) < 0) {
		source_check_frame(this, fb_id, nsec, false, &at);
	}
}

/* The frame of a flip that waited for its vblank (frame-latch.h). */
static void deliver_latched(struct impl *this, const struct frame_latched *l)
{
	if (l->unsure) {
		this->stats.n.latch_unsure++;
	}
	deliver_flip(this, l->fb_id, l->nsec, (struct frame_at_flip){
		.copied = SPA_ID_INVALID,
		.crop = l->crop,
		.seq = l->seq,
	});
}

/* FB_ID changed again, or the plane went off: the FB waiting for its vblank is on screen. */
static void latch_superseded(struct impl *this, const struct flip_tick *t)
{
	struct frame_latched out;

	if (frame_latch_superseded(&this->frame.latch, t, &out)) {
		deliver_latched(this, &out);
	}
}

static void tick(struct impl *this, const struct flip_tick *t)
{
	const struct kms_plane_state *st = &this->frame.primary.state;
	struct frame_latched out;
	bool cursor_moved = false, known;
	int res;

	this->stats.n.ticks++;
	if (t->kind == FLIP_TICK_VBLANK && frame_latch_at_vblank(&this->frame.latch, t, &out)) {
		deliver_latched(this, &out);
	}
	/* GETPLANE, not GETPROPERTIES: the latter takes every modeset lock, several times a
	 * frame, and contends with the compositor's commits (docs/performance.md). */
	if ((res = kms_plane_read_fb(this->kms, &this->frame.primary)) < 0) {
		/* Unplugged or unbound; on the timer path (no vblank) only this read sees it. */
		if (res == -ENODEV) {
			flip_source_card_lost(&this->flip, res);
			return;
		}
		spa_log_trace(this->log, "%s: plane %u: %s", this->name, this->frame.primary.id,
				spa_strerror(res));
		return;
	}
	cursor_moved = cursor_update(&this->cursor);
	if (st->fb_id == 0 || st->crtc_id != this->config.crtc_id) {
		latch_superseded(this, t); /* turning the plane off is a commit too */
		this->frame.last_fb = 0; /* CRTC off: a pause, not an error */
		return;
	}
	if (st->fb_id == this->frame.last_fb) {
		if (!this->frame.started || !source_port_ready(&this->port)) {
			return;
		}
		if (resend_due(this, t->nsec)) {
			resend(this, t);
		} else if (cursor_moved) {
			output_cursor_only(this, t->nsec, t->vblank_seq);
		}
		return;
	}
	/* A new frame: the crop meta wants its source rectangle too, read once per frame. */
	if (this->port.n_slots > 0 && this->port.slots[0].crop &&
			kms_plane_read_state(this->kms, &this->frame.primary) == 0 &&
			(st->fb_id == 0 || st->crtc_id != this->config.crtc_id)) {
		latch_superseded(this, t);
		this->frame.last_fb = 0;
		return;
	}
	latch_superseded(this, t);
	this->frame.last_fb = st->fb_id;
	this->check.verified_fb = 0;
	this->frame.last_flip_ns = t->nsec;
	this->stats.n.flips++;

	known = scanout_set_find(&this->set, st->fb_id) >= 0;
	if (!known) {
		source_learn_request(this, st->fb_id);
		this->frame.learn_burst_end = t->nsec + LEARN_BURST_NS;
	}
	if (!this->frame.started || !source_port_ready(&this->port)) {
		return;
	}
	/*
	 * Frames go out when they are on screen. Without vblank events (the timer path) that is
	 * the poll that sees it; with them, the vblank that latches it (frame-latch.h).
	 */
	if (t->kind == FLIP_TICK_POLL) {
		deliver_flip(this, st->fb_id, t->nsec, at_now(this, t->vblank_seq));
		return;
	}
	if (known) {
		source_check_early(this, st->fb_id);
	}
	frame_latch_wait(&this->frame.latch, t, st->fb_id, plane_crop(this));
}

void source_frame_output_checked(struct impl *this, int set_index, uint64_t nsec, bool resend,
		const struct frame_at_flip *at)
{
	output_frame(this, set_index, nsec, resend ? OUTPUT_RESEND : OUTPUT_FLIP, at);
}

/*
 * Without a consumer the node samples the plane every FLIP_IDLE_NS: 6 periods at 60 Hz, in
 * phase with any swapchain of 2, 3 or 6 FBs, so such a sample can show the same FB for ever.
 * An FB it does not know yet starts a burst at the full rate, which sees the whole swapchain
 * in one turn, before a consumer connects and pays for every missing FB with a frame.
 */
static void on_tick(void *data, const struct flip_tick *t)
{
	struct impl *this = data;
	bool idle;

	tick(this, t);
	idle = !this->frame.started && t->nsec >= this->frame.learn_burst_end;
	if (idle != this->flip.idle) {
		flip_source_set_idle(&this->flip, idle);
	}
}

static void on_refresh_changed(void *data)
{
	source_learn_refresh_request(data);
}

static void on_card_lost(void *data, int err)
{
	source_card_lost(data, err);
}

const struct flip_source_events source_flip_events = {
	.tick = on_tick,
	.refresh_changed = on_refresh_changed,
	.card_lost = on_card_lost,
};

int source_process(struct impl *this)
{
	uint32_t recycled;
	int status;

	if (!this->port.io) {
		return -EIO;
	}
	status = handoff_process(&this->frame.handoff, this->port.io, this->port.n_slots, &recycled);
	if (recycled != SPA_ID_INVALID) {
		source_port_recycle(&this->port, recycled);
	}
	return status;
}
