/* SPDX-License-Identifier: MIT */
/*
 * The node's configuration, from the factory info dict and the host's support item, and the
 * properties the node announces in its info. Main loop, at init.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/node/keys.h>
#include <spa/param/param.h>
#include <spa/utils/keys.h>
#include <spa/utils/string.h>

#include <pipewire/keys.h>

#include "kmscast-source.h"
#include "kmscast/wire.h"

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
int source_props_check_creator(struct spa_log *log, const struct spa_dict *info)
{
	const char *client = info ? spa_dict_lookup(info, PW_KEY_CLIENT_ID) : NULL;
	const char *linger = info ? spa_dict_lookup(info, PW_KEY_OBJECT_LINGER) : NULL;

	if (!client && !(linger && spa_atob(linger))) {
		return 0;
	}
	spa_log_error(log, "kmscast: refusing an %s node requested by PipeWire client %s: "
			"only the kmscast daemon or the server's own configuration (context.objects) "
			"may create one; apps capture screens through the ScreenCast portal",
			KMSCAST_NODE_FACTORY, client ? client : "(lingering)");
	return -EPERM;
}

/*
 * Hosted by the PipeWire server itself, the node runs in the server's process, which links
 * libpipewire: its version is the server's. Looked up at run time, since the plugin links no
 * libpipewire (the daemon, a client, passes the server's version in its support item
 * instead: its own library may be another version).
 */
const char *source_props_hosting_server_version(void)
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

	if (!server_version || sscanf(server_version, "%u.%u", &major, &minor) != 2) {
		return true;
	}
	return major != 1 || minor >= 6;
}

/* The helper's location comes from the host process or the build, never from properties. */
static void helper_config(struct source_config *c, struct spa_log *log,
		const struct spa_dict *info, const struct kmscast_node_host *host)
{
	const char *s;

	c->helper_opts.mode = HELPER_MODE_SPAWN;
	c->helper_opts.timeout_ms = 2000;
	if (host) {
		if (host->helper_path) {
			copy_str(c->helper_path, sizeof(c->helper_path), host->helper_path);
		}
		if (host->helper_socket) {
			copy_str(c->helper_socket, sizeof(c->helper_socket), host->helper_socket);
			c->helper_opts.mode = HELPER_MODE_SOCKET;
		}
	} else if (info && (s = spa_dict_lookup(info, KMSCAST_KEY_HELPER_SOCKET_ACTIVATED)) &&
			spa_atob(s)) {
		c->helper_opts.mode = HELPER_MODE_SOCKET;
	}
	if (info && (spa_dict_lookup(info, KMSCAST_KEY_LEGACY_HELPER_PATH) ||
			spa_dict_lookup(info, KMSCAST_KEY_LEGACY_HELPER_SOCKET))) {
		spa_log_warn(log, "kmscast: %s and %s are ignored: the helper is the installed "
				"one (or $KMSCAST_HELPER of the hosting process); set %s=true for the "
				"socket-activated helper", KMSCAST_KEY_LEGACY_HELPER_PATH,
				KMSCAST_KEY_LEGACY_HELPER_SOCKET, KMSCAST_KEY_HELPER_SOCKET_ACTIVATED);
	}
	/* Empty means the client's default: $KMSCAST_HELPER, else the installed helper. */
	c->helper_opts.helper_path = c->helper_path[0] ? c->helper_path : NULL;
	c->helper_opts.socket_path = c->helper_socket[0] ? c->helper_socket : NULL;
}

static int parse_resend_ms(struct source_config *c, struct spa_log *log, const char *s)
{
	char *end;
	unsigned long ms = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || ms > MAX_RESEND_MS) {
		spa_log_error(log, "%s '%s': want milliseconds, 0 (never) to %u",
				KMSCAST_KEY_RESEND_MS, s, MAX_RESEND_MS);
		return -EINVAL;
	}
	c->resend_ns = ms * SPA_NSEC_PER_MSEC;
	return 0;
}

static int parse_info(struct source_config *c, struct spa_log *log, const struct spa_dict *info)
{
	const char *s;

	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CARD)) != NULL) {
		copy_str(c->card, sizeof(c->card), s);
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CONNECTOR)) != NULL) {
		copy_str(c->connector, sizeof(c->connector), s);
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CRTC)) != NULL) {
		c->crtc_id = (uint32_t)strtoul(s, NULL, 0);
	}
	/* A portal session's node has a name of its own; ours would make two nodes one name. */
	if ((s = spa_dict_lookup(info, SPA_KEY_NODE_NAME)) != NULL) {
		copy_str(c->name_prop, sizeof(c->name_prop), s);
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_CURSOR_MODE)) != NULL) {
		if (strcmp(s, "hidden") != 0 && strcmp(s, "metadata") != 0) {
			spa_log_error(log, "%s '%s': want hidden or metadata",
					KMSCAST_KEY_CURSOR_MODE, s);
			return -EINVAL;
		}
		c->cursor_hidden = strcmp(s, "hidden") == 0;
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_MODIFIERLESS_DMABUF)) != NULL) {
		c->modifierless_dmabuf = spa_atob(s);
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_COPY)) != NULL) {
		c->copy_only = spa_atob(s);
	}
	if ((s = spa_dict_lookup(info, KMSCAST_KEY_RESEND_MS)) != NULL) {
		return parse_resend_ms(c, log, s);
	}
	return 0;
}

static int parse_config(struct source_config *c, struct spa_log *log, const struct spa_dict *info)
{
	int res;

	copy_str(c->card, sizeof(c->card), "card0");
	c->modifierless_dmabuf = true;
	c->resend_ns = DEFAULT_RESEND_MS * SPA_NSEC_PER_MSEC;
	if (info == NULL) {
		return 0;
	}
	if ((res = parse_info(c, log, info)) < 0) {
		return res;
	}
	if (!wire_card_name_valid(c->card)) {
		spa_log_error(log, "%s '%s' is not a card name", KMSCAST_KEY_CARD, c->card);
		return -EINVAL;
	}
	if (!c->crtc_id && !c->connector[0]) {
		spa_log_error(log, "set %s or %s", KMSCAST_KEY_CRTC, KMSCAST_KEY_CONNECTOR);
		return -EINVAL;
	}
	return 0;
}

int source_props_parse(struct source_config *c, struct spa_log *log, const struct spa_dict *info,
		const struct kmscast_node_host *host, const char *server_version)
{
	int res;

	if ((res = parse_config(c, log, info)) < 0) {
		return res;
	}
	helper_config(c, log, info, host);
	c->renegotiate_midstream = server_takes_midstream_format(server_version);
	return 0;
}

void source_props_init_info(struct impl *this)
{
	const struct source_config *c = &this->config;
	uint32_t n = 0;

	snprintf(this->crtc_str, sizeof(this->crtc_str), "%u", c->crtc_id);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_MEDIA_CLASS, "Video/Source");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_MEDIA_ROLE, "Screen");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_NODE_DRIVER, "true");
	this->info_items[n++] = SPA_DICT_ITEM_INIT(SPA_KEY_NODE_NAME, this->name);
	this->info_items[n++] = SPA_DICT_ITEM_INIT("node.description", this->description);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CARD, c->card);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CRTC, this->crtc_str);
	this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_CONNECTOR, c->connector);
	/* Says in pw-dump which nodes hand out no scanout buffer. */
	if (c->copy_only) {
		this->info_items[n++] = SPA_DICT_ITEM_INIT(KMSCAST_KEY_COPY, "true");
	}
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
}
