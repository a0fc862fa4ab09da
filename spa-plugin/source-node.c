/* SPDX-License-Identifier: MIT */
/*
 * The node's SPA methods, on the main loop (process() on the data loop). Each method hands its
 * work to the concern it belongs to: the port, learning, the stream's data loop state.
 */
#include <errno.h>

#include <spa/param/param.h>
#include <spa/utils/string.h>

#include "kmscast-source.h"
#include "spa-compat.h"

#define CHECK_PORT(d, p) ((d) == SPA_DIRECTION_OUTPUT && (p) == 0)

void source_emit_node_info(struct impl *this, bool full)
{
	uint64_t old = full ? this->info.change_mask : 0;

	if (full) {
		this->info.change_mask = this->info_all;
	}
	if (this->info.change_mask) {
		spa_node_emit_info(&this->hooks, &this->info);
		this->info.change_mask = old;
	}
}

void source_emit_port_info(struct impl *this, bool full)
{
	struct source_port *port = &this->port;
	uint64_t old = full ? port->info.change_mask : 0;

	if (full) {
		port->info.change_mask = port->info_all;
	}
	if (port->info.change_mask) {
		spa_node_emit_port_info(&this->hooks, SPA_DIRECTION_OUTPUT, 0, &port->info);
		port->info.change_mask = old;
	}
}

void source_announce_enum_format(struct impl *this)
{
	/* Toggling SERIAL makes PipeWire re-read EnumFormat and renegotiate the link. */
	this->port.params[PORT_EnumFormat].flags ^= SPA_PARAM_INFO_SERIAL;
	this->port.info.change_mask |= SPA_PORT_CHANGE_MASK_PARAMS;
	source_emit_port_info(this, false);
	this->params[NODE_EnumFormat].flags ^= SPA_PARAM_INFO_SERIAL;
	this->info.change_mask |= SPA_NODE_CHANGE_MASK_PARAMS;
	source_emit_node_info(this, false);
}

/* EnumFormat and Format on the node too, as v4l2-source does: pw-dump and tools read them. */
static int impl_node_enum_params(void *object, int seq, uint32_t id, uint32_t start,
		uint32_t num, const struct spa_pod *filter)
{
	struct impl *this = object;

	spa_return_val_if_fail(num != 0, -EINVAL);
	if (id != SPA_PARAM_EnumFormat && id != SPA_PARAM_Format) {
		return -ENOENT;
	}
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

static int start(struct impl *this)
{
	if (!this->port.have_format) {
		spa_log_error(this->log, "%s: start without a format", this->name);
		return -EIO;
	}
	/*
	 * A renegotiation we asked for can race the graph's Start: the buffers are on their
	 * way. Ticks output nothing until they arrive; failing here would only put the node in
	 * the error state for a round trip.
	 */
	if (this->port.n_slots == 0) {
		spa_log_debug(this->log, "%s: start before buffers", this->name);
	}
	source_learn_started(this); /* before the data loop round trip: it times Start */
	source_frame_set_started(this, true);
	source_stats_stream_start(&this->stats, &this->flip);
	spa_log_info(this->log, "%s: streaming %u slots over %u FBs (%s)", this->name,
			this->port.n_slots, this->set.n,
			this->port.slots_path == PATH_DMABUF ? "dma-buf" : "shm copy");
	return 0;
}

/* A Suspend clears the format: what follows is a new negotiation anyway. */
static void stop(struct impl *this, bool pause)
{
	if (this->frame.started) {
		source_stats_log_stream(&this->stats, this->log, this->name, &this->flip);
	}
	if (this->frame.started && pause) {
		source_learn_paused(this);
	}
	source_frame_set_started(this, false);
	source_learn_stream_ended(this);
}

static int impl_node_send_command(void *object, const struct spa_command *command)
{
	struct impl *this = object;

	switch (SPA_NODE_COMMAND_ID(command)) {
	case SPA_NODE_COMMAND_Start:
		return start(this);
	case SPA_NODE_COMMAND_RequestProcess:
		/* A consumer (pw_stream_trigger_process) wants a frame: the next tick re-sends. */
		source_frame_request(&this->frame);
		return 0;
	case SPA_NODE_COMMAND_Pause:
	case SPA_NODE_COMMAND_Suspend:
		stop(this, SPA_NODE_COMMAND_ID(command) == SPA_NODE_COMMAND_Pause);
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

static int impl_node_port_set_param(void *object, enum spa_direction direction,
		uint32_t port_id, uint32_t id, uint32_t flags, const struct spa_pod *param)
{
	struct impl *this = object;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	if (id == SPA_PARAM_Format) {
		return source_port_set_format(this, flags, param);
	}
	return -ENOENT;
}

static int impl_node_port_use_buffers(void *object, enum spa_direction direction,
		uint32_t port_id, uint32_t flags, struct spa_buffer **buffers, uint32_t n_buffers)
{
	struct impl *this = object;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	return source_port_use_buffers(this, flags, buffers, n_buffers);
}

static int impl_node_port_set_io(void *object, enum spa_direction direction, uint32_t port_id,
		uint32_t id, void *data, size_t size)
{
	struct impl *this = object;

	spa_return_val_if_fail(CHECK_PORT(direction, port_id), -EINVAL);
	if (id != SPA_IO_Buffers) {
		return -ENOENT;
	}
	this->port.io = data;
	return 0;
}

static int impl_node_port_reuse_buffer(void *object, uint32_t port_id, uint32_t buffer_id)
{
	struct impl *this = object;

	spa_return_val_if_fail(port_id == 0, -EINVAL);
	source_port_recycle(&this->port, buffer_id);
	return 0;
}

static int impl_node_process(void *object)
{
	return source_process(object);
}

const struct spa_node_methods source_node_methods = {
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
