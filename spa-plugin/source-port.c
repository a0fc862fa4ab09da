/* SPDX-License-Identifier: MIT */
/*
 * The node's output port: the format the link agreed on, and the buffer slots PipeWire gives
 * it. On the dma-buf path slot k aliases FB k mod n of the scanout set (zero copy: every
 * plane points into the FB's own dma-bufs); on the SHM path each slot owns a MemFd per plane.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/utils/result.h>

#include "kmscast-source.h"

void source_port_init(struct source_port *port)
{
	port->info = SPA_PORT_INFO_INIT();
	port->info.flags = SPA_PORT_FLAG_CAN_ALLOC_BUFFERS | SPA_PORT_FLAG_LIVE |
			SPA_PORT_FLAG_PHYSICAL | SPA_PORT_FLAG_TERMINAL;
	port->params[PORT_EnumFormat] = SPA_PARAM_INFO(SPA_PARAM_EnumFormat, SPA_PARAM_INFO_READ);
	port->params[PORT_Meta] = SPA_PARAM_INFO(SPA_PARAM_Meta, SPA_PARAM_INFO_READ);
	port->params[PORT_IO] = SPA_PARAM_INFO(SPA_PARAM_IO, SPA_PARAM_INFO_READ);
	port->params[PORT_Format] = SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_WRITE);
	port->params[PORT_Buffers] = SPA_PARAM_INFO(SPA_PARAM_Buffers, 0);
	port->info.params = port->params;
	port->info.n_params = N_PORT_PARAMS;
	port->info_all = SPA_PORT_CHANGE_MASK_FLAGS | SPA_PORT_CHANGE_MASK_PARAMS;
}

void source_port_recycle(struct source_port *port, uint32_t buffer_id)
{
	if (buffer_id < port->n_slots) {
		port->slots[buffer_id].busy = false;
	}
}

/*
 * Using the oldest gives a consumer that still reads an earlier buffer the longest time
 * before its alias is handed out again.
 */
struct slot *source_port_pick_slot(struct source_port *port, uint32_t fb_id, bool *held)
{
	struct slot *best = NULL;

	*held = false;
	for (uint32_t i = 0; i < port->n_slots; i++) {
		struct slot *slot = &port->slots[i];

		if (port->slots_path == PATH_DMABUF && slot->fb_id != fb_id) {
			continue;
		}
		if (slot->busy || slot->pending) {
			*held = true;
			continue;
		}
		if (!best || slot->last_used < best->last_used) {
			best = slot;
		}
	}
	if (best) {
		*held = false;
	}
	return best;
}

void source_port_release_pending(struct source_port *port, uint32_t slot_id)
{
	if (slot_id < port->n_slots) {
		port->slots[slot_id].pending = false;
	}
}

void source_port_retire_missing(struct source_port *port, const struct scanout_set *set)
{
	for (uint32_t i = 0; port->slots_path == PATH_DMABUF && i < port->n_slots; i++) {
		struct slot *slot = &port->slots[i];

		if (!slot->spare && slot->fb_id != SLOT_RETIRED &&
				scanout_set_find(set, slot->fb_id) < 0) {
			slot->fb_id = SLOT_RETIRED;
		}
	}
}

bool source_port_swapchain_replaced(const struct source_port *port,
		const struct scanout_set *set)
{
	/* Slots change only in invokes the main loop makes: reading fb_id here is safe. */
	if (port->slots_path != PATH_DMABUF || port->n_alias_fbs == 0 ||
			set->n < port->n_alias_fbs) {
		return false;
	}
	for (uint32_t i = 0; i < port->n_slots; i++) {
		const struct slot *slot = &port->slots[i];

		if (!slot->spare && slot->fb_id != SLOT_RETIRED &&
				scanout_set_find(set, slot->fb_id) >= 0) {
			return false;
		}
	}
	return true;
}

void slot_fill_chunks(struct slot *slot, const struct scanout_fb *fb)
{
	for (uint32_t j = 0; j < slot->buf->n_datas && j < fb->hfb.n_planes; j++) {
		struct spa_chunk *c = slot->buf->datas[j].chunk;

		/* Never 0: OBS reads a zero-size chunk as a cursor-only buffer. */
		c->offset = fb->hfb.offsets[j];
		c->size = fb->plane_size[j];
		c->stride = (int32_t)fb->hfb.pitches[j];
		c->flags = SPA_CHUNK_FLAG_NONE;
	}
}

static int do_install_slots(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct source_port *port = &this->port;
	const struct slot *slots = *(const struct slot *const *)data;
	uint32_t n = *(const uint32_t *)SPA_PTROFF(data, sizeof(void *), void);

	/*
	 * started follows Start and Pause only. A renegotiation the node asks for while the
	 * graph runs brings new buffers but no new Start (0.3.65): ticks resume on their own.
	 */
	if (port->io) {
		port->io->buffer_id = SPA_ID_INVALID;
		port->io->status = SPA_STATUS_NEED_DATA;
	}
	if (n > 0) { /* clear_slots passes no table: memcpy from NULL is undefined even for 0 */
		memcpy(port->slots, slots, n * sizeof(*slots));
	}
	port->n_slots = n;
	port->slots_path = n ? port->path : PATH_NONE;
	source_frame_buffers_changed(this, n);
	/* A new allocation is a new consumer set: resend the cursor image once. */
	cursor_reset(&this->cursor, n > 0 && slots[0].cursor != NULL);
	return 0;
}

/* Swaps the slot table on the data loop; the old one's memfds are freed here after. */
static void install_slots(struct impl *this, const struct slot *slots, uint32_t n)
{
	struct slot old[MAX_SLOTS];
	uint32_t n_old = this->port.n_slots;
	uint8_t msg[sizeof(void *) + sizeof(uint32_t)];

	memcpy(old, this->port.slots, sizeof(old));
	memcpy(msg, &slots, sizeof(void *));
	memcpy(msg + sizeof(void *), &n, sizeof(n));
	spa_loop_invoke(this->data_loop, do_install_slots, 0, msg, sizeof(msg), true, this);
	for (uint32_t i = 0; i < n_old; i++) {
		shm_slot_free(&old[i]);
	}
}

void source_port_clear_slots(struct impl *this)
{
	if (this->port.n_slots > 0) {
		install_slots(this, NULL, 0);
	}
	this->port.n_alias_fbs = 0;
}

/* The params a format makes readable or writable, on the port and the node. */
static void format_changed(struct impl *this)
{
	struct source_port *port = &this->port;

	port->info.change_mask |= SPA_PORT_CHANGE_MASK_PARAMS;
	if (port->have_format) {
		port->params[PORT_Format] =
				SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_READWRITE);
		port->params[PORT_Buffers] = SPA_PARAM_INFO(SPA_PARAM_Buffers, SPA_PARAM_INFO_READ);
	} else {
		port->params[PORT_Format] = SPA_PARAM_INFO(SPA_PARAM_Format, SPA_PARAM_INFO_WRITE);
		port->params[PORT_Buffers] = SPA_PARAM_INFO(SPA_PARAM_Buffers, 0);
	}
	this->params[NODE_Format] = SPA_PARAM_INFO(SPA_PARAM_Format,
			port->have_format ? SPA_PARAM_INFO_READ : 0);
	this->info.change_mask |= SPA_NODE_CHANGE_MASK_PARAMS;
	source_emit_port_info(this, false);
	source_emit_node_info(this, false);
}

/* Whether info is what the set's first FB is, and a format this node offers. */
static int check_format(struct impl *this, const struct spa_video_info_raw *info)
{
	struct spa_video_info_raw want;
	int res;

	if ((res = source_set_format_info(this, &want, true)) < 0) {
		return res;
	}
	if (info->format != want.format || info->size.width != want.size.width ||
			info->size.height != want.size.height) {
		spa_log_error(this->log, "%s: format %ux%u:%u is not what is on screen (%ux%u:%u)",
				this->name, info->size.width, info->size.height, info->format,
				want.size.width, want.size.height, want.format);
		return -EINVAL;
	}
	if ((info->flags & SPA_VIDEO_FLAG_MODIFIER) && info->modifier != want.modifier) {
		return -EINVAL;
	}
	/* A modifier means dma-bufs: a copy node never offered one. */
	if ((info->flags & SPA_VIDEO_FLAG_MODIFIER) && this->config.copy_only) {
		spa_log_error(this->log, "%s: a format with a modifier, but %s is set: this node "
				"serves copies only", this->name, KMSCAST_KEY_COPY);
		return -EINVAL;
	}
	return 0;
}

int source_port_set_format(struct impl *this, uint32_t flags, const struct spa_pod *format)
{
	struct spa_video_info_raw info = {0};
	uint32_t media_type, media_subtype;
	int res;

	if (format == NULL) {
		source_port_clear_slots(this);
		this->port.have_format = false;
		format_changed(this);
		return 0;
	}
	if ((res = spa_format_parse(format, &media_type, &media_subtype)) < 0) {
		return res;
	}
	if (media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw) {
		return -EINVAL;
	}
	if (spa_format_video_raw_parse(format, &info) < 0) {
		return -EINVAL;
	}
	if ((res = check_format(this, &info)) < 0) {
		return res;
	}
	if (flags & SPA_NODE_PARAM_FLAG_TEST_ONLY) {
		return 0;
	}
	source_port_clear_slots(this);
	this->port.format = info;
	this->port.have_format = true;
	format_changed(this);
	return 0;
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
	}
	slot_fill_chunks(slot, fb);
	return 0;
}

static enum source_path choose_path(struct impl *this, uint32_t flags, struct spa_buffer *buf)
{
	uint32_t types = buf->n_datas ? buf->datas[0].type : 0;

	if (!(flags & SPA_NODE_BUFFERS_FLAG_ALLOC)) {
		return PATH_SHM; /* PipeWire allocated the memory: all we can do is copy */
	}
	if (this->config.copy_only) {
		return PATH_SHM; /* Buffers says no DmaBuf; a peer that asks anyway gets none */
	}
	/* A format without a modifier promises linear pixels; a dma-buf may still carry them. */
	if ((types & (1u << SPA_DATA_DmaBuf)) &&
			((this->port.format.flags & SPA_VIDEO_FLAG_MODIFIER) ||
			source_modifierless_may_alias(this))) {
		return PATH_DMABUF;
	}
	return PATH_SHM;
}

/* Spares for the dma-buf path: only when each FB still gets SLOTS_PER_FB aliases. */
static uint32_t n_spares(struct impl *this, uint32_t n_buffers)
{
	/* Spares are dumb buffers of the card: none while it is away (source-card.c). */
	if (this->port.path != PATH_DMABUF || !this->kms || !spare_slots_possible(this) ||
			n_buffers < this->set.n * SLOTS_PER_FB + SPARE_SLOTS) {
		return 0;
	}
	return SPARE_SLOTS;
}

/* A slot for buf with its metas found and nothing owned yet. */
static void init_slot(struct slot *slot, uint32_t id, struct spa_buffer *buf)
{
	memset(slot, 0, sizeof(*slot));
	slot->id = id;
	slot->buf = buf;
	for (uint32_t j = 0; j < HELPER_MAX_PLANES; j++) {
		slot->planes[j].fd = -1;
	}
	slot->header = spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*slot->header));
	slot->crop = spa_buffer_find_meta_data(buf, SPA_META_VideoCrop, sizeof(*slot->crop));
	slot->damage = spa_buffer_find_meta_data(buf, SPA_META_VideoDamage, sizeof(*slot->damage));
	if (slot->damage) {
		slot->n_damage = spa_buffer_find_meta(buf, SPA_META_VideoDamage)->size /
				sizeof(*slot->damage);
	}
	slot->cursor = spa_buffer_find_meta_data(buf, SPA_META_Cursor, sizeof(*slot->cursor));
	if (slot->cursor) {
		struct spa_meta *m = spa_buffer_find_meta(buf, SPA_META_Cursor);

		slot->cursor_size = m->size;
	}
}

/* PATH_SHM: the slot's planes, in memory of its own or in PipeWire's. */
static int shm_slot(struct impl *this, uint32_t flags, struct slot *slot, struct spa_buffer *buf)
{
	const struct scanout_fb *fb = &this->set.fbs[0];

	if (buf->n_datas != fb->hfb.n_planes) {
		spa_log_error(this->log, "%s: buffer has %u datas, FB %u has %u planes: the SHM "
				"path copies each plane into a data of its own", this->name,
				buf->n_datas, fb->fb_id, fb->hfb.n_planes);
		return -EINVAL;
	}
	if (flags & SPA_NODE_BUFFERS_FLAG_ALLOC) {
		return shm_slot_alloc(slot, buf, fb);
	}
	return shm_slot_use(slot, buf, fb);
}

/*
 * Fills slots[0..n_buffers); on failure the slots filled so far are freed and none is left
 * owning anything. Returns 0 or -errno.
 */
static int fill_slots(struct impl *this, uint32_t flags, struct spa_buffer **buffers,
		uint32_t n_buffers, struct slot *slots)
{
	uint32_t first_spare = n_buffers - n_spares(this, n_buffers), i;
	enum source_path path = this->port.path;
	int res = 0;

	for (i = 0; i < n_buffers; i++) {
		struct slot *slot = &slots[i];
		struct spa_buffer *buf = buffers[i];

		init_slot(slot, i, buf);
		if (buf->n_datas < 1) {
			res = -EINVAL;
		} else if (path == PATH_DMABUF && i >= first_spare) {
			res = spare_slot_alloc(slot, &buf->datas[0], this->kms->fd, &this->set.fbs[0]);
		} else if (path == PATH_DMABUF) {
			res = alias_slot(this, slot, buf);
		} else {
			res = shm_slot(this, flags, slot, buf);
		}
		if (res < 0) {
			goto err_free;
		}
	}
	return 0;

err_free:
	while (i-- > 0) {
		shm_slot_free(&slots[i]);
	}
	return res;
}

/*
 * Map every FB now, on the main loop: a mapping made lazily on the data loop could race a set
 * update that copies the entries here, and leak.
 */
static int map_for_copies(struct impl *this)
{
	int res;

	for (uint32_t i = 1; i < this->set.n; i++) {
		scanout_fb_map(&this->set.fbs[i]);
	}
	if ((res = scanout_fb_map(&this->set.fbs[0])) < 0) {
		spa_log_error(this->log, "%s: %s, and FB %u (modifier 0x%" PRIx64 ") cannot be "
				"copied by the CPU: %s", this->name, this->config.copy_only ?
				"the node serves copies only (" KMSCAST_KEY_COPY ")" :
				"the consumer takes no dma-buf", this->set.fbs[0].fb_id,
				this->set.fbs[0].hfb.modifier, spa_strerror(res));
		return res;
	}
	return 0;
}

/*
 * The Buffers param keeps the SHM path's links within SHM_MAX_BYTES; a link that brings more
 * buffers anyway (its negotiation did not keep to the range) is refused before the node
 * allocates them. Memory PipeWire allocated is not checked: it exists already, and refusing
 * it would free nothing.
 */
static int check_shm_bound(struct impl *this, uint32_t n_buffers)
{
	const struct scanout_fb *fb = &this->set.fbs[0];
	uint32_t max = shm_max_slots(fb);

	if (n_buffers <= max) {
		return 0;
	}
	spa_log_error(this->log, "%s: %u SHM buffers of %" PRIu64 " KiB each, but a link's "
			"copies may take at most %u MiB (%u buffers of this frame size): have the "
			"consumer ask for at most %u buffers, or take dma-bufs", this->name, n_buffers,
			shm_frame_bytes(fb) / 1024, SHM_MAX_BYTES >> 20, max, max);
	return -ENOSPC;
}

int source_port_use_buffers(struct impl *this, uint32_t flags, struct spa_buffer **buffers,
		uint32_t n_buffers)
{
	struct source_port *port = &this->port;
	struct slot slots[MAX_SLOTS];
	uint32_t types;
	int res;

	source_port_clear_slots(this);
	if (n_buffers == 0) {
		return 0;
	}
	if (!port->have_format) {
		return -EIO;
	}
	if (n_buffers > MAX_SLOTS) {
		spa_log_error(this->log, "%s: %u buffers, at most %u", this->name, n_buffers,
				MAX_SLOTS);
		return -ENOSPC;
	}
	if (this->set.n == 0) {
		return -EIO;
	}
	/* Before fill_slots writes the type it chose over the allowed ones. */
	types = buffers[0]->n_datas ? buffers[0]->datas[0].type : 0;
	port->path = choose_path(this, flags, buffers[0]);
	if (port->path == PATH_SHM && (flags & SPA_NODE_BUFFERS_FLAG_ALLOC) &&
			(res = check_shm_bound(this, n_buffers)) < 0) {
		return res;
	}
	if (port->path == PATH_SHM && (res = map_for_copies(this)) < 0) {
		return res;
	}
	res = fill_slots(this, flags, buffers, n_buffers, slots);
	if (res < 0) {
		spa_log_error(this->log, "%s: use_buffers: %s", this->name, spa_strerror(res));
		return res;
	}
	install_slots(this, slots, n_buffers);
	port->n_alias_fbs = port->path == PATH_DMABUF ?
			SPA_MIN(n_buffers - n_spares(this, n_buffers), this->set.n) : 0;
	source_learn_buffers(this);
	this->stats.n.renegotiations++;
	/* Which side allocated, and what the link allows: a consumer that ends up with memory
	 * the node did not fill shows here first. */
	spa_log_info(this->log, "%s: %u buffers over %u FBs, path %s, %u spares (allocation %"
			PRIu64 ", memory %s, data types allowed 0x%x)", this->name, n_buffers, this->set.n,
			port->path == PATH_DMABUF ? "dma-buf" : "shm", n_spares(this, n_buffers),
			this->stats.n.renegotiations,
			(flags & SPA_NODE_BUFFERS_FLAG_ALLOC) ? "the node's" : "PipeWire's", types);
	return 0;
}
