/* SPDX-License-Identifier: MIT */
/*
 * The data loop side of the node: one tick per vblank (or poll), a new FB_ID on the primary
 * plane is a new frame, and the frame goes out in a free slot that aliases that FB.
 */
#include <errno.h>
#include <string.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

static int do_learn(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;

	if (!this->closing)
		source_request_learn(this, *(const uint32_t *)data);
	__atomic_store_n(&this->learn_inflight, false, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Asks the main loop to export fb_id, never blocking. One request in flight at a time: the
 * helper exports whatever is on screen when the request is served, which may already be the
 * next FB, so an FB that stays unknown is asked for again each time it shows up.
 */
static void request_learn(struct impl *this, uint32_t fb_id)
{
	if (__atomic_load_n(&this->learn_inflight, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&this->learn_inflight, true, __ATOMIC_RELEASE);
	spa_loop_invoke(this->main_loop, do_learn, 0, &fb_id, sizeof(fb_id), false, this);
}

void source_recycle(struct impl *this, uint32_t buffer_id)
{
	if (buffer_id < this->n_slots)
		this->slots[buffer_id].busy = false;
}

/*
 * The least recently used free slot for this frame: on the dma-buf path one that aliases
 * fb_id, on the SHM path any. Using the oldest gives a consumer that still reads an earlier
 * buffer the longest time before its alias is handed out again. NULL sets *held when slots
 * alias the FB but all are busy.
 */
static struct slot *pick_slot(struct impl *this, uint32_t fb_id, bool *held)
{
	struct slot *best = NULL;

	*held = false;
	for (uint32_t i = 0; i < this->n_slots; i++) {
		struct slot *slot = &this->slots[i];

		if (this->slots_path == PATH_DMABUF && slot->fb_id != fb_id)
			continue;
		if (slot->busy) {
			*held = true;
			continue;
		}
		if (!best || slot->last_used < best->last_used)
			best = slot;
	}
	if (best)
		*held = false;
	return best;
}

static void fill_crop(struct impl *this, struct slot *slot)
{
	const struct kms_plane_state *st = &this->primary.state;

	if (!slot->crop)
		return;
	/* SRC_* are 16.16: each CRTC of one big X11 framebuffer reads its own rectangle. */
	slot->crop->region = (struct spa_region){
		.position = SPA_POINT((int32_t)(st->src_x >> 16), (int32_t)(st->src_y >> 16)),
		.size = SPA_RECTANGLE(st->src_w >> 16, st->src_h >> 16),
	};
}

static void fill_chunks(struct impl *this, struct slot *slot, int set_index)
{
	const struct scanout_fb *fb = &this->set.fbs[set_index];

	for (uint32_t j = 0; j < slot->buf->n_datas && j < fb->hfb.n_planes; j++) {
		struct spa_chunk *c = slot->buf->datas[j].chunk;

		/* Never 0: OBS reads a zero-size chunk as a cursor-only buffer. */
		c->offset = fb->hfb.offsets[j];
		c->size = fb->plane_size[j];
		c->stride = (int32_t)fb->hfb.pitches[j];
		c->flags = SPA_CHUNK_FLAG_NONE;
	}
}

static void update_clock(struct impl *this, uint64_t nsec)
{
	struct spa_io_clock *c = this->clock;
	uint32_t hz = (this->refresh_mhz + 500) / 1000;

	if (!c)
		return;
	if (hz == 0)
		hz = 60;
	c->nsec = nsec;
	c->rate = SPA_FRACTION(1, hz);
	c->position = this->stats.delivered;
	c->duration = 1;
	c->delay = 0;
	c->rate_diff = 1.0;
	c->next_nsec = nsec + SPA_NSEC_PER_SEC / hz;
}

/* Hands slot to the graph through the io area and wakes the graph. */
static void output_slot(struct impl *this, struct slot *slot, uint64_t nsec, bool cursor_only)
{
	struct spa_io_buffers *io = this->io;

	if (io->buffer_id < this->n_slots) {
		/* The graph has not taken the previous frame: it never will, the new one wins. */
		if (io->status == SPA_STATUS_HAVE_DATA)
			this->stats.dropped_unconsumed++;
		/* Consumed, but process() did not run since to recycle it. */
		source_recycle(this, io->buffer_id);
	}
	slot->busy = true;
	slot->last_used = this->stats.ticks;
	io->buffer_id = slot->id;
	io->status = SPA_STATUS_HAVE_DATA;
	if (cursor_only) {
		this->stats.cursor_only++;
	} else {
		this->stats.delivered++;
		this->discont = false;
	}
	update_clock(this, nsec);
	spa_node_call_ready(&this->callbacks, SPA_STATUS_HAVE_DATA);
}

static void output_frame(struct impl *this, int set_index, uint64_t nsec)
{
	uint32_t fb_id = this->set.fbs[set_index].fb_id;
	struct slot *slot;
	bool held;

	slot = pick_slot(this, fb_id, &held);
	if (!slot) {
		/* Never block the compositor's frame on a slow consumer: this frame is lost. */
		if (held)
			this->stats.dropped_busy++;
		else
			this->stats.dropped_unknown++;
		this->discont = true;
		spa_log_trace(this->log, "%s: FB %u dropped (%s)", this->name, fb_id,
				held ? "all aliases held" : "no alias yet");
		return;
	}
	if (this->slots_path == PATH_SHM) {
		if (shm_copy_frame(this, slot, &this->set.fbs[set_index]) < 0) {
			this->stats.dropped_unknown++;
			this->discont = true;
			return;
		}
	} else {
		fill_chunks(this, slot, set_index);
	}
	if (slot->header) {
		slot->header->flags = this->discont ? SPA_META_HEADER_FLAG_DISCONT : 0;
		slot->header->offset = 0;
		slot->header->pts = (int64_t)nsec;
		slot->header->dts_offset = 0;
		slot->header->seq = this->seq++;
	}
	fill_crop(this, slot);
	if (slot->cursor)
		cursor_fill_meta(this, slot->cursor, slot->cursor_size);
	output_slot(this, slot, nsec, false);
}

/*
 * Only the cursor moved: a buffer whose chunks are empty and marked corrupted, which
 * PipeWire's screencast consumers (OBS, libwebrtc) read as "cursor metadata only". Only sent
 * when the link negotiated the cursor meta.
 */
static void output_cursor_only(struct impl *this, uint64_t nsec)
{
	struct slot *slot;
	bool held;

	slot = pick_slot(this, this->last_fb, &held);
	if (!slot || !slot->cursor)
		return;
	for (uint32_t j = 0; j < slot->buf->n_datas; j++) {
		slot->buf->datas[j].chunk->size = 0;
		slot->buf->datas[j].chunk->flags = SPA_CHUNK_FLAG_CORRUPTED;
	}
	if (slot->header) {
		slot->header->flags = SPA_META_HEADER_FLAG_CORRUPTED;
		slot->header->pts = (int64_t)nsec;
		slot->header->seq = this->seq++;
	}
	cursor_fill_meta(this, slot->cursor, slot->cursor_size);
	output_slot(this, slot, nsec, true);
}

static void tick(struct impl *this, uint64_t nsec)
{
	const struct kms_plane_state *st = &this->primary.state;
	bool cursor_moved = false;
	int set_index;
	int res;

	this->stats.ticks++;
	/* GETPLANE, not GETPROPERTIES: the latter takes every modeset lock, several times a
	 * frame, and contends with the compositor's commits (docs/performance.md). */
	if ((res = kms_plane_read_fb(this->kms, &this->primary)) < 0) {
		spa_log_trace(this->log, "%s: plane %u: %s", this->name, this->primary.id,
				spa_strerror(res));
		return;
	}
	if (this->cursor.enabled && this->has_cursor_plane)
		cursor_moved = cursor_update(this);
	if (st->fb_id == 0 || st->crtc_id != this->crtc_id) {
		this->last_fb = 0; /* CRTC off: a pause, not an error */
		return;
	}
	if (st->fb_id == this->last_fb) {
		if (cursor_moved && this->started && this->io && this->n_slots > 0)
			output_cursor_only(this, nsec);
		return;
	}
	/* A new frame: the crop meta wants its source rectangle too, read once per frame. */
	if (this->n_slots > 0 && this->slots[0].crop &&
			kms_plane_read_state(this->kms, &this->primary) == 0 &&
			(st->fb_id == 0 || st->crtc_id != this->crtc_id)) {
		this->last_fb = 0;
		return;
	}
	this->last_fb = st->fb_id;
	this->stats.flips++;

	set_index = scanout_set_find(&this->set, st->fb_id);
	if (set_index < 0) {
		request_learn(this, st->fb_id);
		this->learn_burst_end = nsec + LEARN_BURST_NS;
	}
	if (!this->started || !this->io || this->n_slots == 0)
		return;
	if (set_index < 0) {
		this->stats.dropped_unknown++;
		this->discont = true;
		return;
	}
	output_frame(this, set_index, nsec);
}

/*
 * Without a consumer the node samples the plane every FLIP_IDLE_NS: 6 periods at 60 Hz, in
 * phase with any swapchain of 2, 3 or 6 FBs, so such a sample can show the same FB for ever.
 * An FB it does not know yet starts a burst at the full rate, which sees the whole swapchain
 * in one turn, before a consumer connects and pays for every missing FB with a frame.
 */
static void on_tick(void *data, uint64_t nsec)
{
	struct impl *this = data;
	bool idle;

	tick(this, nsec);
	idle = !this->started && nsec >= this->learn_burst_end;
	if (idle != this->flip.idle)
		flip_source_set_idle(&this->flip, idle);
}

const struct flip_source_events source_flip_events = {
	.tick = on_tick,
};

int source_process(struct impl *this)
{
	struct spa_io_buffers *io = this->io;

	if (!io)
		return -EIO;
	if (io->status == SPA_STATUS_HAVE_DATA)
		return SPA_STATUS_HAVE_DATA;
	if (io->buffer_id < this->n_slots) {
		source_recycle(this, io->buffer_id);
		io->buffer_id = SPA_ID_INVALID;
	}
	return SPA_STATUS_OK;
}
