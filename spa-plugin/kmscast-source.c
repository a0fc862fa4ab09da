/* SPDX-License-Identifier: MIT */
/*
 * api.kmscast.source: one KMS CRTC as a live video source that drives its own graph, in the
 * manner of PipeWire's v4l2-source.c. Its buffers are the CRTC's scanout buffers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include <spa/node/keys.h>
#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/filter.h>
#include <spa/utils/keys.h>
#include <spa/utils/names.h>
#include <spa/utils/result.h>
#include <spa/utils/string.h>

#include <pipewire/keys.h>

#include "config.h"
#include "kmscast-source.h"
#include "kmscast/node.h"
#include "spa-compat.h"

#define CHECK_PORT(d, p) ((d) == SPA_DIRECTION_OUTPUT && (p) == 0)

void source_emit_node_info(struct impl *this, bool full)
{
	uint64_t old = full ? this->info.change_mask : 0;

	if (full)
		this->info.change_mask = this->info_all;
	if (this->info.change_mask) {
		spa_node_emit_info(&this->hooks, &this->info);
		this->info.change_mask = old;
	}
}

void source_emit_port_info(struct impl *this, bool full)
{
	uint64_t old = full ? this->port_info.change_mask : 0;

	if (full)
		this->port_info.change_mask = this->port_info_all;
	if (this->port_info.change_mask) {
		spa_node_emit_port_info(&this->hooks, SPA_DIRECTION_OUTPUT, 0, &this->port_info);
		this->port_info.change_mask = old;
	}
}

/* EnumFormat and Format on the node too, as v4l2-source does: pw-dump and tools read them. */
static int impl_node_enum_params(void *object, int seq, uint32_t id, uint32_t start,
		uint32_t num, const struct spa_pod *filter)
{
	struct impl *this = object;

	spa_return_val_if_fail(num != 0, -EINVAL);
	if (id != SPA_PARAM_EnumFormat && id != SPA_PARAM_Format)
		return -ENOENT;
	return source_port_enum_params(this, seq, id, start, num, filter);
}

static int impl_node_set_param(void *object, uint32_t id, uint32_t flags,
		const struct spa_pod *param)
{
	return -ENOENT;
}

/* A driver must take the clock and position: without them 0.3.65 leaves the node suspended. */
static int impl_node_set_io(void *object, uint32_t id, void *data, size_t size)
{
	struct impl *this = object;

	switch (id) {
	case SPA_IO_Clock:
		this->clock = size >= sizeof(struct spa_io_clock) ? data : NULL;
		if (this->clock) {
			/* Ticks from nsec, as PipeWire's v4l2 source says since 1.3.81. */
			SPA_FLAG_SET(this->clock->flags, SPA_IO_CLOCK_FLAG_NO_RATE);
			spa_scnprintf(this->clock->name, sizeof(this->clock->name), "%s", this->name);
		}
		return 0;
	case SPA_IO_Position:
		this->position = size >= sizeof(struct spa_io_position) ? data : NULL;
		return 0;
	default:
		return -ENOENT;
	}
}

static int do_set_started(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	uint32_t staged;

	this->started = *(const bool *)data;
	/* A frame staged for a driver's cycle that will not come: its slot is free again. */
	if ((staged = handoff_unstage(&this->handoff)) != SPA_ID_INVALID)
		source_recycle(this, staged);
	this->discont = true;
	this->frame_due_ns = this->started ? flip_source_now_ns() : 0;
	this->last_frame_ns = 0;
	this->resend_requested = false;
	flip_source_set_idle(&this->flip, !this->started);
	return 0;
}

static void set_started(struct impl *this, bool started)
{
	spa_loop_invoke(this->data_loop, do_set_started, 0, &started, sizeof(started), true, this);
}

/* What one streaming period cost and delivered; tests read this line. */
static void log_stream_stats(struct impl *this)
{
	const struct source_stats *s = &this->stats, *b = &this->stream_base;

	spa_log_info(this->log, "%s: stream stats: flips %" PRIu64 " delivered %" PRIu64
			" cursor-only %" PRIu64 " dropped-busy %" PRIu64 " dropped-unknown %"
			PRIu64 " dropped-unconsumed %" PRIu64 " missed-%s %" PRIu64
			" allocations %" PRIu64 " resent %" PRIu64 " copied %" PRIu64, this->name,
			s->flips - b->flips,
			s->delivered - b->delivered, s->cursor_only - b->cursor_only,
			s->dropped_busy - b->dropped_busy, s->dropped_unknown - b->dropped_unknown,
			s->dropped_unconsumed - b->dropped_unconsumed, this->flip.ops->name,
			this->flip.missed - this->stream_base_missed, s->renegotiations,
			s->resent - b->resent, s->copied - b->copied);
}

static int impl_node_send_command(void *object, const struct spa_command *command)
{
	struct impl *this = object;

	switch (SPA_NODE_COMMAND_ID(command)) {
	case SPA_NODE_COMMAND_Start:
		if (!this->have_format) {
			spa_log_error(this->log, "%s: start without a format", this->name);
			return -EIO;
		}
		/*
		 * A renegotiation we asked for can race the graph's Start: the buffers are on
		 * their way. Ticks output nothing until they arrive; failing here would only put
		 * the node in the error state for a round trip.
		 */
		if (this->n_slots == 0)
			spa_log_debug(this->log, "%s: start before buffers", this->name);
		source_relink_started(this); /* before the data loop round trip: it times Start */
		set_started(this, true);
		this->stream_base = this->stats;
		this->stream_base_missed = this->flip.missed;
		spa_log_info(this->log, "%s: streaming %u slots over %u FBs (%s)", this->name,
				this->n_slots, this->set.n,
				this->slots_path == PATH_DMABUF ? "dma-buf" : "shm copy");
		return 0;
	case SPA_NODE_COMMAND_RequestProcess:
		/* A consumer (pw_stream_trigger_process) wants a frame: the next tick re-sends. */
		__atomic_store_n(&this->resend_requested, true, __ATOMIC_RELEASE);
		return 0;
	case SPA_NODE_COMMAND_Pause:
	case SPA_NODE_COMMAND_Suspend:
		if (this->started)
			log_stream_stats(this);
		/* A Suspend clears the format: what follows is a new negotiation anyway. */
		if (this->started && SPA_NODE_COMMAND_ID(command) == SPA_NODE_COMMAND_Pause)
			source_relink_paused(this);
		set_started(this, false);
		/* The FBs that spares carried while the stream ran get their aliases now. */
		if (this->renegotiate_at_pause && this->have_format)
			source_schedule_renegotiate(this);
		this->renegotiate_at_pause = false;
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int impl_node_add_listener(void *object, struct spa_hook *listener,
		const struct spa_node_events *events, void *data)
{
	struct impl *this = object;
	struct spa_hook_list save;

	spa_hook_list_isolate(&this->hooks, &save, listener, events, data);
	source_emit_node_info(this, true);
	source_emit_port_info(this, true);
	spa_hook_list_join(&this->hooks, &save);
	return 0;
}

static int impl_node_set_callbacks(void *object, const struct spa_node_callbacks *callbacks,
		void *data)
{
	struct impl *this = object;

	this->callbacks = SPA_CALLBACKS_INIT(callbacks, data);
	return 0;
}

static int impl_node_sync(void *object, int seq)
{
	struct impl *this = object;

	spa_node_emit_result(&this->hooks, seq, 0, 0, NULL);
	return 0;
}

static int impl_node_add_port(void *object, enum spa_direction direction, uint32_t port_id,
		const struct spa_dict *props)
{
	return -ENOTSUP;
}

static int impl_node_remove_port(void *object, enum spa_direction direction, uint32_t port_id)
{
	return -ENOTSUP;
}

static int impl_node_port_enum_params(void *object, int seq, enum spa_direction direction,
		uint32_t port_id, uint32_t id, uint32_t start, uint32_t num,
		const struct spa_pod *filter)
{
	struct impl *this = object;

	spa_return_val_if_fail(num != 0, -EINVAL);
	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	return source_port_enum_params(this, seq, id, start, num, filter);
}

static int do_install_slots(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	const struct slot *slots = *(const struct slot *const *)data;
	uint32_t n = *(const uint32_t *)SPA_PTROFF(data, sizeof(void *), void);

	/*
	 * started follows Start and Pause only. A renegotiation the node asks for while the
	 * graph runs brings new buffers but no new Start (0.3.65): ticks resume on their own.
	 */
	if (this->io) {
		this->io->buffer_id = SPA_ID_INVALID;
		this->io->status = SPA_STATUS_NEED_DATA;
	}
	handoff_init(&this->handoff); /* a staged id named a slot of the old table */
	if (n > 0) /* clear_slots passes no table: memcpy from NULL is undefined even for 0 */
		memcpy(this->slots, slots, n * sizeof(*slots));
	this->n_slots = n;
	this->slots_path = n ? this->path : PATH_NONE;
	this->discont = true;
	/* New buffers, maybe a new consumer: it is owed the screen (frame_due_ns). */
	if (this->started && n > 0)
		this->frame_due_ns = flip_source_now_ns();
	/* A new allocation is a new consumer set: resend the cursor image once. */
	this->cursor.enabled = n > 0 && slots[0].cursor != NULL;
	this->cursor.bitmap_serial++;
	return 0;
}

/* Swaps the slot table on the data loop; the old one's memfds are freed here after. */
static void install_slots(struct impl *this, const struct slot *slots, uint32_t n)
{
	struct slot old[MAX_SLOTS];
	uint32_t n_old = this->n_slots;
	uint8_t msg[sizeof(void *) + sizeof(uint32_t)];

	memcpy(old, this->slots, sizeof(old));
	memcpy(msg, &slots, sizeof(void *));
	memcpy(msg + sizeof(void *), &n, sizeof(n));
	spa_loop_invoke(this->data_loop, do_install_slots, 0, msg, sizeof(msg), true, this);
	for (uint32_t i = 0; i < n_old; i++)
		shm_slot_free(&old[i]);
}

static void clear_slots(struct impl *this)
{
	if (this->n_slots > 0)
		install_slots(this, NULL, 0);
}

static int port_set_format(struct impl *this, uint32_t flags, const struct spa_pod *format)
{
	struct spa_video_info_raw info = {0}, want;
	uint32_t media_type, media_subtype;
	int res;

	if (format == NULL) {
		clear_slots(this);
		this->have_format = false;
		goto done;
	}
	if ((res = spa_format_parse(format, &media_type, &media_subtype)) < 0)
		return res;
	if (media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw)
		return -EINVAL;
	if (spa_format_video_raw_parse(format, &info) < 0)
		return -EINVAL;
	if ((res = source_set_format_info(this, &want, true)) < 0)
		return res;
	if (info.format != want.format || info.size.width != want.size.width ||
			info.size.height != want.size.height) {
		spa_log_error(this->log, "%s: format %ux%u:%u is not what is on screen (%ux%u:%u)",
				this->name, info.size.width, info.size.height, info.format,
				want.size.width, want.size.height, want.format);
		return -EINVAL;
	}
	if ((info.flags & SPA_VIDEO_FLAG_MODIFIER) && info.modifier != want.modifier)
		return -EINVAL;
	/* A modifier means dma-bufs: a copy node never offered one. */
	if ((info.flags & SPA_VIDEO_FLAG_MODIFIER) && this->copy_only) {
		spa_log_error(this->log, "%s: a format with a modifier, but %s is set: this node "
				"serves copies only", this->name, KMSCAST_KEY_COPY);
		return -EINVAL;
	}
	if (flags & SPA_NODE_PARAM_FLAG_TEST_ONLY)
		return 0;
	clear_slots(this);
	this->format = info;
	this->have_format = true;
done:
	this->port_info.change_mask |= SPA_PORT_CHANGE_MASK_PARAMS;
	if (this->have_format) {
		this->port_params[PORT_Format] =
				SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_READWRITE);
		this->port_params[PORT_Buffers] =
				SPA_PARAM_INFO(SPA_PARAM_Buffers, SPA_PARAM_INFO_READ);
	} else {
		this->port_params[PORT_Format] =
				SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_WRITE);
		this->port_params[PORT_Buffers] = SPA_PARAM_INFO(SPA_PARAM_Buffers, 0);
	}
	this->params[NODE_Format] = SPA_PARAM_INFO(SPA_PARAM_Format,
			this->have_format ? SPA_PARAM_INFO_READ : 0);
	this->info.change_mask |= SPA_NODE_CHANGE_MASK_PARAMS;
	source_emit_port_info(this, false);
	source_emit_node_info(this, false);
	return 0;
}

static int impl_node_port_set_param(void *object, enum spa_direction direction,
		uint32_t port_id, uint32_t id, uint32_t flags, const struct spa_pod *param)
{
	struct impl *this = object;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	if (id == SPA_PARAM_Format)
		return port_set_format(this, flags, param);
	return -ENOENT;
}

/* PATH_DMABUF: slot k aliases FB k mod n; every plane points into the FB's own dma-bufs. */
static int alias_slot(struct impl *this, struct slot *slot, struct spa_buffer *buf)
{
	const struct scanout_fb *fb = &this->set.fbs[slot->id % this->set.n];

	if (buf->n_datas != fb->hfb.n_planes) {
		spa_log_error(this->log, "%s: buffer has %u datas, FB %u has %u planes", this->name,
				buf->n_datas, fb->fb_id, fb->hfb.n_planes);
		return -EINVAL;
	}
	slot->fb_id = fb->fb_id;
	for (uint32_t j = 0; j < buf->n_datas; j++) {
		struct spa_data *d = &buf->datas[j];
		int fdi = fb->hfb.plane_fd_index[j];

		d->type = SPA_DATA_DmaBuf;
		d->flags = scanout_fb_data_flags(fb);
		d->fd = fb->hfb.fds[fdi]; /* still owned by the set; PipeWire sends a copy */
		d->mapoffset = 0;
		d->maxsize = (uint32_t)fb->fd_size[fdi];
		d->data = NULL;
		d->chunk->offset = fb->hfb.offsets[j];
		d->chunk->size = fb->plane_size[j];
		d->chunk->stride = (int32_t)fb->hfb.pitches[j];
		d->chunk->flags = SPA_CHUNK_FLAG_NONE;
	}
	return 0;
}

static enum source_path choose_path(struct impl *this, uint32_t flags, struct spa_buffer *buf)
{
	uint32_t types = buf->n_datas ? buf->datas[0].type : 0;
	bool linear = scanout_fb_linear(&this->set.fbs[0].hfb);

	if (!(flags & SPA_NODE_BUFFERS_FLAG_ALLOC))
		return PATH_SHM; /* PipeWire allocated the memory: all we can do is copy */
	if (this->copy_only)
		return PATH_SHM; /* Buffers says no DmaBuf; a peer that asks anyway gets none */
	/* A format without a modifier promises linear pixels; a dma-buf may still carry them. */
	if ((types & (1u << SPA_DATA_DmaBuf)) && ((this->format.flags & SPA_VIDEO_FLAG_MODIFIER) ||
			(linear && this->modifierless_dmabuf)))
		return PATH_DMABUF;
	return PATH_SHM;
}

/* Spares for the dma-buf path: only when each FB still gets SLOTS_PER_FB aliases. */
static uint32_t n_spares(struct impl *this, uint32_t n_buffers)
{
	if (this->path != PATH_DMABUF || !spare_slots_possible(this) ||
			n_buffers < this->set.n * SLOTS_PER_FB + SPARE_SLOTS)
		return 0;
	return SPARE_SLOTS;
}

/*
 * Fills slots[0..n_buffers); on failure the slots filled so far are freed and none is left
 * owning anything. Returns 0 or -errno.
 */
static int fill_slots(struct impl *this, uint32_t flags, struct spa_buffer **buffers,
		uint32_t n_buffers, struct slot *slots)
{
	uint32_t first_spare = n_buffers - n_spares(this, n_buffers), i;
	int res = 0;

	for (i = 0; i < n_buffers; i++) {
		struct slot *slot = &slots[i];
		struct spa_buffer *buf = buffers[i];

		memset(slot, 0, sizeof(*slot));
		slot->id = i;
		slot->buf = buf;
		slot->shm_fd = -1;
		slot->header = spa_buffer_find_meta_data(buf, SPA_META_Header,
				sizeof(*slot->header));
		slot->crop = spa_buffer_find_meta_data(buf, SPA_META_VideoCrop,
				sizeof(*slot->crop));
		slot->cursor = spa_buffer_find_meta_data(buf, SPA_META_Cursor,
				sizeof(*slot->cursor));
		if (slot->cursor) {
			struct spa_meta *m = spa_buffer_find_meta(buf, SPA_META_Cursor);

			slot->cursor_size = m->size;
		}
		if (buf->n_datas < 1)
			res = -EINVAL;
		else if (this->path == PATH_DMABUF && i >= first_spare)
			res = spare_slot_alloc(this, slot, &buf->datas[0]);
		else if (this->path == PATH_DMABUF)
			res = alias_slot(this, slot, buf);
		else if (flags & SPA_NODE_BUFFERS_FLAG_ALLOC)
			res = shm_slot_alloc(this, slot, &buf->datas[0]);
		else if (buf->datas[0].data == NULL)
			res = -EINVAL;
		if (res < 0)
			goto err_free;
	}
	return 0;

err_free:
	while (i-- > 0)
		shm_slot_free(&slots[i]);
	return res;
}

static int impl_node_port_use_buffers(void *object, enum spa_direction direction,
		uint32_t port_id, uint32_t flags, struct spa_buffer **buffers, uint32_t n_buffers)
{
	struct impl *this = object;
	struct slot slots[MAX_SLOTS];
	int res;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	clear_slots(this);
	if (n_buffers == 0)
		return 0;
	if (!this->have_format)
		return -EIO;
	if (n_buffers > MAX_SLOTS) {
		spa_log_error(this->log, "%s: %u buffers, at most %u", this->name, n_buffers,
				MAX_SLOTS);
		return -ENOSPC;
	}
	if (this->set.n == 0)
		return -EIO;
	this->path = choose_path(this, flags, buffers[0]);
	/*
	 * Map every FB now, on the main loop: a mapping made lazily on the data loop could race
	 * a set update that copies the entries here, and leak.
	 */
	for (uint32_t i = 1; this->path == PATH_SHM && i < this->set.n; i++)
		scanout_fb_map(&this->set.fbs[i]);
	if (this->path == PATH_SHM && (res = scanout_fb_map(&this->set.fbs[0])) < 0) {
		spa_log_error(this->log, "%s: %s, and FB %u (modifier 0x%" PRIx64 ") cannot be "
				"copied by the CPU: %s", this->name, this->copy_only ?
				"the node serves copies only (" KMSCAST_KEY_COPY ")" :
				"the consumer takes no dma-buf", this->set.fbs[0].fb_id,
				this->set.fbs[0].hfb.modifier, spa_strerror(res));
		return res;
	}
	res = fill_slots(this, flags, buffers, n_buffers, slots);
	if (res < 0) {
		spa_log_error(this->log, "%s: use_buffers: %s", this->name, spa_strerror(res));
		return res;
	}
	install_slots(this, slots, n_buffers);
	source_relink_buffers(this);
	this->renegotiate_at_pause = false;
	this->warned_no_spares = false;
	this->stats.renegotiations++;
	spa_log_info(this->log, "%s: %u buffers over %u FBs, path %s, %u spares (allocation %"
			PRIu64 ")", this->name, n_buffers, this->set.n,
			this->path == PATH_DMABUF ? "dma-buf" : "shm", n_spares(this, n_buffers),
			this->stats.renegotiations);
	return 0;
}

static int impl_node_port_set_io(void *object, enum spa_direction direction, uint32_t port_id,
		uint32_t id, void *data, size_t size)
{
	struct impl *this = object;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	if (id != SPA_IO_Buffers)
		return -ENOENT;
	this->io = data;
	return 0;
}

static int impl_node_port_reuse_buffer(void *object, uint32_t port_id, uint32_t buffer_id)
{
	struct impl *this = object;

	spa_return_val_if_fail(port_id == 0, -EINVAL);
	source_recycle(this, buffer_id);
	return 0;
}

static int impl_node_process(void *object)
{
	return source_process(object);
}

static const struct spa_node_methods impl_node = {
	SPA_VERSION_NODE_METHODS,
	.add_listener = impl_node_add_listener,
	.set_callbacks = impl_node_set_callbacks,
	.sync = impl_node_sync,
	.enum_params = impl_node_enum_params,
	.set_param = impl_node_set_param,
	.set_io = impl_node_set_io,
	.send_command = impl_node_send_command,
	.add_port = impl_node_add_port,
	.remove_port = impl_node_remove_port,
	.port_enum_params = impl_node_port_enum_params,
	.port_set_param = impl_node_port_set_param,
	.port_use_buffers = impl_node_port_use_buffers,
	.port_set_io = impl_node_port_set_io,
	.port_reuse_buffer = impl_node_port_reuse_buffer,
	.process = impl_node_process,
};

static int impl_get_interface(struct spa_handle *handle, const char *type, void **interface)
{
	struct impl *this = (struct impl *)handle;

	if (!spa_streq(type, SPA_TYPE_INTERFACE_Node))
		return -ENOENT;
	*interface = &this->node;
	return 0;
}

static int do_flip_start(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	bool start = *(const bool *)data;

	if (start)
		return flip_source_start(&this->flip);
	flip_source_stop(&this->flip);
	return 0;
}

static void flip_set_running(struct impl *this, bool run)
{
	spa_loop_invoke(this->data_loop, do_flip_start, 0, &run, sizeof(run), true, this);
}

static int impl_clear(struct spa_handle *handle)
{
	struct impl *this = (struct impl *)handle;

	this->closing = true;
	if (this->flip.ops)
		flip_set_running(this, false);
	/* Run the learn requests the data loop queued before it stopped; they see closing. */
	if (this->main_loop)
		spa_loop_invoke(this->main_loop, NULL, 0, NULL, 0, true, this);
	flip_source_finish(&this->flip);
	clear_slots(this);
	source_learn_finish(this);
	cursor_finish(&this->cursor);
	scanout_set_clear(&this->set);
	scanout_cache_unref(this->cache);
	this->cache = NULL;
	helper_client_destroy(this->helper);
	this->helper = NULL;
	kms_device_destroy(this->kms);
	this->kms = NULL;
	spa_log_info(this->log, "%s: gone; %" PRIu64 " ticks (%" PRIu64 " %s periods missed), %"
			PRIu64 " flips, %" PRIu64 " delivered, %" PRIu64
			" dropped (busy %" PRIu64 ", unknown FB %" PRIu64 ", unconsumed %" PRIu64
			"), %" PRIu64 " allocations, %" PRIu64 " exports",
			this->name, this->stats.ticks, this->flip.missed,
			this->flip.ops ? this->flip.ops->name : "-", this->stats.flips,
			this->stats.delivered,
			this->stats.dropped_busy + this->stats.dropped_unknown +
					this->stats.dropped_unconsumed,
			this->stats.dropped_busy, this->stats.dropped_unknown,
			this->stats.dropped_unconsumed, this->stats.renegotiations,
			this->stats.exports);
	return 0;
}

static size_t impl_get_size(const struct spa_handle_factory *factory,
		const struct spa_dict *params)
{
	return sizeof(struct impl);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * A PipeWire client may ask spa-node-factory (or the adapter factory) for any SPA node, with
 * properties of its choosing, and WirePlumber lets even Flatpak clients do that. Such a
 * node would capture the screen without the portal's consent. The server writes the
 * creating client's client.id into the properties unless the client asks for
 * object.linger, so a node that has either was created for a client: refused. What remains
 * is the server's own configuration (context.objects) and in-process hosts.
 */
static int check_creator(struct impl *this, const struct spa_dict *info)
{
	const char *client = info ? spa_dict_lookup(info, PW_KEY_CLIENT_ID) : NULL;
	const char *linger = info ? spa_dict_lookup(info, PW_KEY_OBJECT_LINGER) : NULL;

	if (!client && !(linger && spa_atob(linger)))
		return 0;
	spa_log_error(this->log, "kmscast: refusing an %s node requested by PipeWire client %s: "
			"only the kmscast daemon or the server's own configuration (context.objects) "
			"may create one; apps capture screens through the ScreenCast portal",
			KMSCAST_NODE_FACTORY, client ? client : "(lingering)");
	return -EPERM;
}

/*
 * Hosted by the PipeWire server itself, the node runs in the server's process, which links
 * libpipewire: its version is the server's. Looked up at run time, since the plugin links no
 * libpipewire (the daemon, a client, passes the server's version in its support item
 * instead: its own library may be another version). NULL when not found.
 */
static const char *hosting_server_version(void)
{
	const char *(*get_version)(void);

	*(void **)&get_version = dlsym(RTLD_DEFAULT, "pw_get_library_version");
	return get_version ? get_version() : NULL;
}

/*
 * Whether a running stream may be renegotiated for a new FB of the same format. GStreamer's
 * pipewiresrc takes a format mid-stream up to 0.3.x (measured: 0.3.65 streams on) and again
 * from 1.5.82 (it keeps the caps it negotiated from); 1.0 to 1.4 end the stream with
 * "unhandled format". A consumer's library usually is its distribution's, as the server is:
 * servers 1.0 to 1.5 get spare slots instead, all others renegotiations.
 */
static bool server_takes_midstream_format(const char *server_version)
{
	unsigned int major, minor;

	if (!server_version || sscanf(server_version, "%u.%u", &major, &minor) != 2)
		return true;
	return major != 1 || minor >= 6;
}

/* The helper's location comes from the host process or the build, never from properties. */
static void helper_config(struct impl *this, const struct spa_dict *info,
		const struct kmscast_node_host *host)
{
	const char *s;

	this->helper_opts.mode = HELPER_MODE_SPAWN;
	this->helper_opts.timeout_ms = 2000;
	if (host) {
		if (host->helper_path)
			copy_str(this->helper_path, sizeof(this->helper_path), host->helper_path);
		if (host->helper_socket) {
			copy_str(this->helper_socket, sizeof(this->helper_socket),
					host->helper_socket);
			this->helper_opts.mode = HELPER_MODE_SOCKET;
		}
	} else if (info && (s = spa_dict_lookup(info, KMSCAST_KEY_HELPER_SOCKET_ACTIVATED)) &&
			spa_atob(s)) {
		this->helper_opts.mode = HELPER_MODE_SOCKET;
	}
	if (info && (spa_dict_lookup(info, KMSCAST_KEY_LEGACY_HELPER_PATH) ||
			spa_dict_lookup(info, KMSCAST_KEY_LEGACY_HELPER_SOCKET)))
		spa_log_warn(this->log, "kmscast: %s and %s are ignored: the helper is the installed "
				"one (or $KMSCAST_HELPER of the hosting process); set %s=true for the "
				"socket-activated helper", KMSCAST_KEY_LEGACY_HELPER_PATH,
				KMSCAST_KEY_LEGACY_HELPER_SOCKET, KMSCAST_KEY_HELPER_SOCKET_ACTIVATED);
	/* Empty means the client's default: $KMSCAST_HELPER, else the installed helper. */
	this->helper_opts.helper_path = this->helper_path[0] ? this->helper_path : NULL;
	this->helper_opts.socket_path = this->helper_socket[0] ? this->helper_socket : NULL;
}

static int parse_config(struct impl *this, const struct spa_dict *info)
{
	const char *s;

	copy_str(this->card, sizeof(this->card), "card0");
	this->modifierless_dmabuf = true;
	this->resend_ns = DEFAULT_RESEND_MS * SPA_NSEC_PER_MSEC;
	if (info == NULL)
		return 0;
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CARD)) != NULL)
		copy_str(this->card, sizeof(this->card), s);
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CONNECTOR)) != NULL)
		copy_str(this->connector, sizeof(this->connector), s);
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CRTC)) != NULL)
		this->crtc_id = (uint32_t)strtoul(s, NULL, 0);
	/* A portal session's node has a name of its own; ours would make two nodes one name. */
	if ((s = spa_dict_lookup(info, SPA_KEY_NODE_NAME)) != NULL)
		copy_str(this->name_prop, sizeof(this->name_prop), s);
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CURSOR_MODE)) != NULL) {
		if (strcmp(s, "hidden") != 0 && strcmp(s, "metadata") != 0) {
			spa_log_error(this->log, "%s '%s': want hidden or metadata",
					KMSCAST_KEY_CURSOR_MODE, s);
			return -EINVAL;
		}
		this->cursor_hidden = strcmp(s, "hidden") == 0;
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_MODIFIERLESS_DMABUF)) != NULL)
		this->modifierless_dmabuf = spa_atob(s);
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_COPY)) != NULL)
		this->copy_only = spa_atob(s);
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_RESEND_MS)) != NULL) {
		char *end;
		unsigned long ms = strtoul(s, &end, 10);

		if (*s == '\0' || *end != '\0' || ms > MAX_RESEND_MS) {
			spa_log_error(this->log, "%s '%s': want milliseconds, 0 (never) to %u",
					KMSCAST_KEY_RESEND_MS, s, MAX_RESEND_MS);
			return -EINVAL;
		}
		this->resend_ns = ms * SPA_NSEC_PER_MSEC;
	}
	if (!kms_card_name_valid(this->card)) {
		spa_log_error(this->log, "%s '%s' is not a card name", KMSCAST_KEY_CARD, this->card);
		return -EINVAL;
	}
	if (!this->crtc_id && !this->connector[0]) {
		spa_log_error(this->log, "set %s or %s", KMSCAST_KEY_CRTC, KMSCAST_KEY_CONNECTOR);
		return -EINVAL;
	}
	return 0;
}

static struct kms_crtc *find_crtc(struct impl *this)
{
	struct kms_connector *conn;

	if (this->crtc_id)
		return kms_device_find_crtc(this->kms, this->crtc_id);
	conn = kms_device_find_connector(this->kms, this->connector);
	if (!conn || !conn->crtc_id)
		return NULL;
	return kms_device_find_crtc(this->kms, conn->crtc_id);
}

static int open_crtc(struct impl *this)
{
	struct kms_connector *conn;
	struct kms_crtc *crtc;
	int res;

	if ((res = kms_device_open(this->card, &this->kms)) < 0) {
		spa_log_error(this->log, "%s: %s", this->card, spa_strerror(res));
		return res;
	}
	crtc = find_crtc(this);
	if (!crtc || !crtc->active || !crtc->primary) {
		spa_log_error(this->log, "%s: no active CRTC for %s%s", this->card,
				this->connector[0] ? "connector " : "crtc ",
				this->connector[0] ? this->connector : "id");
		return -ENODEV;
	}
	this->crtc_id = crtc->id;
	this->refresh_mhz = crtc->refresh_mhz;
	this->primary = *crtc->primary;
	if (crtc->cursor) {
		this->cursor_plane = *crtc->cursor;
		this->has_cursor_plane = true;
	}
	conn = kms_crtc_connector(this->kms, crtc);
	if (conn)
		copy_str(this->connector, sizeof(this->connector), conn->name);
	if (this->name_prop[0])
		copy_str(this->name, sizeof(this->name), this->name_prop);
	else
		snprintf(this->name, sizeof(this->name), KMSCAST_NODE_NAME_FMT, this->card,
				this->connector[0] ? this->connector : "crtc");
	if (conn && conn->has_edid && conn->monitor.name[0])
		snprintf(this->description, sizeof(this->description), "%s (%s)",
				conn->monitor.name, conn->name);
	else
		snprintf(this->description, sizeof(this->description), "%s",
				this->connector[0] ? this->connector : this->name);
	return flip_source_init(&this->flip, this->log, this->data_loop, this->data_system,
			this->kms->fd, crtc->id, crtc->has_vblank, crtc->refresh_mhz,
			&source_flip_events, this);
}

static void init_info(struct impl *this)
{
	uint32_t n = 0;

	snprintf(this->crtc_str, sizeof(this->crtc_str), "%u", this->crtc_id);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_MEDIA_CLASS, "Video/Source");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_MEDIA_ROLE, "Screen");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_NODE_DRIVER, "true");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_NODE_NAME, this->name);
	this->info_items[n++] = SPA_DICT_ITEM_INIT("node.description", this->description);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CARD, this->card);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CRTC, this->crtc_str);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CONNECTOR, this->connector);
	/* Says in pw-dump which nodes hand out no scanout buffer. */
	if (this->copy_only)
		this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_COPY, "true");
	this->info = SPA_NODE_INFO_INIT();
	this->info.max_output_ports = 1;
	this->info.flags = SPA_NODE_FLAG_RT;
	this->info_dict = SPA_DICT_INIT(this->info_items, n);
	this->info.props = &this->info_dict;
	this->params[NODE_EnumFormat] = SPA_PARAM_INFO(SPA_PARAM_EnumFormat, SPA_PARAM_INFO_READ);
	this->params[NODE_Format] = SPA_PARAM_INFO(SPA_PARAM_Format, 0);
	this->info.params = this->params;
	this->info.n_params = N_NODE_PARAMS;
	this->info_all = SPA_NODE_CHANGE_MASK_FLAGS | SPA_NODE_CHANGE_MASK_PROPS |
			SPA_NODE_CHANGE_MASK_PARAMS;

	this->port_info = SPA_PORT_INFO_INIT();
	this->port_info.flags = SPA_PORT_FLAG_CAN_ALLOC_BUFFERS | SPA_PORT_FLAG_LIVE |
			SPA_PORT_FLAG_PHYSICAL | SPA_PORT_FLAG_TERMINAL;
	this->port_params[PORT_EnumFormat] =
			SPA_PARAM_INFO(SPA_PARAM_EnumFormat, SPA_PARAM_INFO_READ);
	this->port_params[PORT_Meta] = SPA_PARAM_INFO(SPA_PARAM_Meta, SPA_PARAM_INFO_READ);
	this->port_params[PORT_IO] = SPA_PARAM_INFO(SPA_PARAM_IO, SPA_PARAM_INFO_READ);
	this->port_params[PORT_Format] = SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_WRITE);
	this->port_params[PORT_Buffers] = SPA_PARAM_INFO(SPA_PARAM_Buffers, 0);
	this->port_info.params = this->port_params;
	this->port_info.n_params = N_PORT_PARAMS;
	this->port_info_all = SPA_PORT_CHANGE_MASK_FLAGS | SPA_PORT_CHANGE_MASK_PARAMS;
}

static int impl_init(const struct spa_handle_factory *factory, struct spa_handle *handle,
		const struct spa_dict *info, const struct spa_support *support, uint32_t n_support)
{
	struct impl *this = (struct impl *)handle;
	const struct kmscast_node_host *host;
	const char *server_version;
	int res;

	handle->get_interface = impl_get_interface;
	handle->clear = impl_clear;

	this->log = spa_support_find(support, n_support, SPA_TYPE_INTERFACE_Log);
	this->main_loop = spa_support_find(support, n_support, SPA_TYPE_INTERFACE_Loop);
	this->main_utils = spa_support_find(support, n_support, SPA_TYPE_INTERFACE_LoopUtils);
	this->data_loop = spa_support_find(support, n_support, SPA_TYPE_INTERFACE_DataLoop);
	this->data_system = spa_support_find(support, n_support, SPA_TYPE_INTERFACE_DataSystem);
	if (!this->main_loop || !this->main_utils || !this->data_loop || !this->data_system) {
		spa_log_error(this->log, "kmscast: a main loop, its utils, a data loop and a "
				"data system are required");
		return -EINVAL;
	}
	spa_hook_list_init(&this->hooks);
	handoff_init(&this->handoff);
	this->node.iface = SPA_INTERFACE_INIT(SPA_TYPE_INTERFACE_Node, SPA_VERSION_NODE,
			&impl_node, this);

	host = spa_support_find(support, n_support, KMSCAST_TYPE_INTERFACE_NodeHost);
	if (host && host->version < KMSCAST_NODE_HOST_VERSION)
		host = NULL;
	if (!host && (res = check_creator(this, info)) < 0)
		return res;
	if ((res = parse_config(this, info)) < 0)
		return res;
	helper_config(this, info, host);
	server_version = host ? host->server_version : hosting_server_version();
	relink_guard_init(&this->relink, relink_guard_server_affected(server_version));
	this->renegotiate_midstream = server_takes_midstream_format(server_version);
	spa_log_info(this->log, "kmscast: PipeWire server %s: stranded-link guard %s",
			server_version ? server_version : "of unknown version",
			this->relink.enabled ? "on" : "off");
	if ((res = cursor_init(&this->cursor)) < 0)
		goto err_clear;
	if ((res = source_learn_init(this)) < 0)
		goto err_clear;
	if ((res = open_crtc(this)) < 0)
		goto err_clear;
	init_info(this);
	/* Without it (-ENOMEM) the node learns alone. */
	this->cache = scanout_cache_ref(this->card, this->crtc_id);

	/* Not fatal: the FB may be missing for a moment; every tick asks again. */
	source_learn_now(this);
	flip_set_running(this, true);
	spa_log_info(this->log, "%s: crtc %u at %u.%03u Hz, %s flip detection, %u FB(s) known",
			this->name, this->crtc_id, this->refresh_mhz / 1000,
			this->refresh_mhz % 1000, this->flip.ops->name, this->set.n);
	return 0;

err_clear:
	impl_clear(handle);
	return res;
}

static const struct spa_interface_info impl_interfaces[] = {
	{SPA_TYPE_INTERFACE_Node},
};

static int impl_enum_interface_info(const struct spa_handle_factory *factory,
		const struct spa_interface_info **info, uint32_t *index)
{
	if (*index >= SPA_N_ELEMENTS(impl_interfaces))
		return 0;
	*info = &impl_interfaces[(*index)++];
	return 1;
}

static const struct spa_dict_item factory_info_items[] = {
	{SPA_KEY_FACTORY_AUTHOR, "kmscast"},
	{SPA_KEY_FACTORY_DESCRIPTION, "A KMS CRTC's scanout buffers as a video source"},
	{SPA_KEY_FACTORY_USAGE, KMSCAST_KEY_CARD "=<cardN> " KMSCAST_KEY_CRTC "=<id> | "
				KMSCAST_KEY_CONNECTOR "=<name> [" KMSCAST_KEY_HELPER_SOCKET_ACTIVATED
				"=true] [" KMSCAST_KEY_CURSOR_MODE "=hidden|metadata] ["
				KMSCAST_KEY_MODIFIERLESS_DMABUF "=true|false] [" KMSCAST_KEY_COPY
				"=true|false]"},
};

static const struct spa_dict factory_info = SPA_DICT_INIT_ARRAY(factory_info_items);

/* The factory; plugin.c lists it. */
const struct spa_handle_factory kmscast_source_factory = {
	SPA_VERSION_HANDLE_FACTORY,
	KMSCAST_NODE_FACTORY,
	&factory_info,
	impl_get_size,
	impl_init,
	impl_enum_interface_info,
};
