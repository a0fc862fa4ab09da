/* SPDX-License-Identifier: MIT */
/*
 * api.kmscast.source: one KMS CRTC as a live video source that drives its own graph, in the
 * manner of PipeWire's v4l2-source.c. Its buffers are the CRTC's scanout buffers. This file is
 * the handle's life: init opens the CRTC and learns the FB on screen, clear undoes it.
 */
#include <errno.h>
#include <stdio.h>

#include <spa/utils/keys.h>
#include <spa/utils/names.h>
#include <spa/utils/result.h>
#include <spa/utils/string.h>

#include "kmscast-source.h"
#include "kmscast/node.h"

static const struct cursor_events cursor_events = {
	.request_export = source_learn_export_cursor,
};

static int impl_get_interface(struct spa_handle *handle, const char *type, void **interface)
{
	struct impl *this = (struct impl *)handle;

	if (!spa_streq(type, SPA_TYPE_INTERFACE_Node)) {
		return -ENOENT;
	}
	*interface = &this->node;
	return 0;
}

static int do_flip_start(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	bool start = *(const bool *)data;

	if (start) {
		return flip_source_start(&this->flip);
	}
	flip_source_stop(&this->flip);
	return 0;
}

void source_flip_set_running(struct impl *this, bool run)
{
	spa_loop_invoke(this->data_loop, do_flip_start, 0, &run, sizeof(run), true, this);
}

static int impl_clear(struct spa_handle *handle)
{
	struct impl *this = (struct impl *)handle;

	this->closing = true;
	if (this->flip.ops) {
		source_flip_set_running(this, false);
	}
	/*
	 * Run the learn and check requests the data loop queued before it stopped; they see
	 * closing. source_learn_finish then waits for the helper thread's request in progress.
	 */
	if (this->main_loop) {
		spa_loop_invoke(this->main_loop, NULL, 0, NULL, 0, true, this);
	}
	source_card_finish(this);
	flip_source_finish(&this->flip);
	source_port_clear_slots(this);
	source_learn_finish(this);
	cursor_finish(&this->cursor);
	scanout_set_clear(&this->set);
	scanout_cache_unref(this->cache);
	this->cache = NULL;
	kms_device_destroy(this->kms);
	this->kms = NULL;
	source_stats_log_total(&this->stats, this->log, this->name, &this->flip);
	return 0;
}

static size_t impl_get_size(const struct spa_handle_factory *factory,
		const struct spa_dict *params)
{
	return sizeof(struct impl);
}

/* The node's name and description, from the CRTC's connector and its monitor. */
static void name_node(struct impl *this, const struct kms_connector *conn)
{
	struct source_config *c = &this->config;

	if (conn) {
		snprintf(c->connector, sizeof(c->connector), "%s", conn->name);
	}
	if (c->name_prop[0]) {
		snprintf(this->name, sizeof(this->name), "%s", c->name_prop);
	} else {
		snprintf(this->name, sizeof(this->name), KMSCAST_NODE_NAME_FMT, c->card,
				c->connector[0] ? c->connector : "crtc");
	}
	if (conn && conn->has_edid && conn->monitor.name[0]) {
		snprintf(this->description, sizeof(this->description), "%s (%s)",
				conn->monitor.name, conn->name);
	} else {
		snprintf(this->description, sizeof(this->description), "%s",
				c->connector[0] ? c->connector : this->name);
	}
}

static int open_crtc(struct impl *this)
{
	struct source_config *c = &this->config;
	struct kms_crtc *crtc;
	int res;

	if ((res = kms_device_open(c->card, &this->kms)) < 0) {
		spa_log_error(this->log, "%s: %s", c->card, spa_strerror(res));
		return res;
	}
	crtc = source_card_find_crtc(this, this->kms);
	if (!crtc || !crtc->active || !crtc->primary) {
		spa_log_error(this->log, "%s: no active CRTC for %s%s", c->card,
				c->connector[0] ? "connector " : "crtc ",
				c->connector[0] ? c->connector : "id");
		return -ENODEV;
	}
	c->crtc_id = crtc->id;
	this->refresh_mhz = crtc->refresh_mhz;
	this->frame.primary = *crtc->primary;
	cursor_set_plane(&this->cursor, this->kms, crtc->id, crtc->cursor);
	name_node(this, kms_crtc_connector(this->kms, crtc));
	return flip_source_init(&this->flip, this->log, this->data_loop, this->data_system,
			this->kms->fd, crtc->id, crtc->has_vblank, crtc->refresh_mhz,
			&source_flip_events, this);
}

/* The host's support: the loops are required, the log and the kmscast host item are not. */
static int find_support(struct impl *this, const struct spa_support *support,
		uint32_t n_support)
{
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
	return 0;
}

static int impl_init(const struct spa_handle_factory *factory, struct spa_handle *handle,
		const struct spa_dict *info, const struct spa_support *support, uint32_t n_support)
{
	struct impl *this = (struct impl *)handle;
	const struct kmscast_node_host *host;
	const char *server_version;
	bool relink_on;
	int res;

	handle->get_interface = impl_get_interface;
	handle->clear = impl_clear;

	if ((res = find_support(this, support, n_support)) < 0) {
		return res;
	}
	spa_hook_list_init(&this->hooks);
	source_frame_init(&this->frame);
	this->node.iface = SPA_INTERFACE_INIT(SPA_TYPE_INTERFACE_Node, SPA_VERSION_NODE,
			&source_node_methods, this);

	host = spa_support_find(support, n_support, KMSCAST_TYPE_INTERFACE_NodeHost);
	if (host && host->version < KMSCAST_NODE_HOST_VERSION) {
		host = NULL;
	}
	if (!host && (res = source_props_check_creator(this->log, info)) < 0) {
		return res;
	}
	server_version = host ? host->server_version : source_props_hosting_server_version();
	if ((res = source_props_parse(&this->config, this->log, info, host, server_version)) < 0) {
		return res;
	}
	relink_on = relink_guard_server_affected(server_version);
	spa_log_info(this->log, "kmscast: PipeWire server %s: stranded-link guard %s",
			server_version ? server_version : "of unknown version",
			relink_on ? "on" : "off");
	if ((res = cursor_init(&this->cursor, this->log, this->main_loop, this->data_loop,
			this->name, &cursor_events, this)) < 0) {
		goto err_clear;
	}
	if ((res = source_learn_init(this, relink_on)) < 0) {
		goto err_clear;
	}
	/* Before open_crtc: it says how the CRTC was asked for. */
	if ((res = source_card_init(this)) < 0) {
		goto err_clear;
	}
	if ((res = open_crtc(this)) < 0) {
		goto err_clear;
	}
	source_card_opened(this);
	source_props_init_info(this);
	source_port_init(&this->port);
	/* Without it (-ENOMEM) the node learns alone. */
	this->cache = scanout_cache_ref(this->config.card, this->config.crtc_id);

	/* Not fatal: the FB may be missing for a moment; every tick on an unknown FB asks again. */
	source_learn_first(this);
	source_flip_set_running(this, true);
	spa_log_info(this->log, "%s: crtc %u at %u.%03u Hz, %s flip detection, %u FB(s) known",
			this->name, this->config.crtc_id, this->refresh_mhz / 1000,
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
	if (*index >= SPA_N_ELEMENTS(impl_interfaces)) {
		return 0;
	}
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
