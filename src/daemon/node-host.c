/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns "a node for this CRTC" into a loaded and exported SPA node. The
 * plugin is loaded with pw_load_spa_handle() rather than pw_context_load_spa_handle() so that
 * the support array can carry KMSCAST_TYPE_INTERFACE_NodeHost: the node takes the helper's
 * location from it, and only a host in its own process can pass it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spa/node/node.h>
#include <spa/support/plugin.h>
#include <spa/utils/string.h>

#include "config.h"
#include "node-host.h"

/* The server's support array holds about ten items (log, loops, systems, CPU, DBus, ...). */
#define MAX_SUPPORT 32

struct pw_properties *node_host_props_new(const char *card, const char *connector,
		uint32_t crtc_id)
{
	struct pw_properties *props;

	props = pw_properties_new(SPA_KEY_LIBRARY_NAME, KMSCAST_NODE_LIBRARY,
			SPA_KEY_FACTORY_NAME, KMSCAST_NODE_FACTORY,
			PW_KEY_MEDIA_CLASS, "Video/Source",
			PW_KEY_MEDIA_ROLE, "Screen",
			PW_KEY_NODE_DRIVER, "true",
			/*
			 * 0, as WirePlumber leaves v4l2 and libcamera sources: the node drives
			 * its own consumers' graphs all the same, but only a driver with a
			 * priority above 0 is picked (1.x) to drive nodes linked to nothing
			 * that still want a driver (JACK clients, always-process nodes), which
			 * the screen's clock (one tick per frame) would run at 60 cycles a
			 * second. In a graph with several drivers, audio devices (WirePlumber
			 * gives them 1000 and up) outrank it: their clock suits both.
			 */
			PW_KEY_PRIORITY_DRIVER, "0",
			KMSCAST_KEY_CARD, card,
			KMSCAST_KEY_CONNECTOR, connector,
			NULL);
	if (!props) {
		return NULL;
	}
	pw_properties_setf(props, KMSCAST_KEY_CRTC, "%u", crtc_id);
	return props;
}

/*
 * Pins the node to one data loop. PipeWire 1.1.81 and later can run several
 * (context.num-data-loops, context.data-loops). The handle takes its data loop from the
 * support array, but the pw_impl_node that pw_core_export() creates for it acquires one by
 * its properties: unpinned, the two can be different threads, and the node's ticks (the
 * handle's loop) would race its process() (the exported node's). So, as module-spa does for
 * the nodes the server loads, one loop is acquired by the properties (a node.loop.name or
 * node.loop.class the caller set still selects it), its own name goes into node.loop.name,
 * which the exported node then matches exactly, and the handle gets that loop. With one data
 * loop (the default) every node shares "data-loop.0" anyway; a missing or unmatched name
 * would only make the exported node take the least recently used loop. Older servers have
 * a single data loop and no such key: nothing to pin. Returns 0 or -errno.
 */
static int pin_data_loop(struct pw_context *context, struct pw_properties *props,
		struct spa_support *support, uint32_t n_support)
{
#if PW_CHECK_VERSION(1, 1, 81)
	struct pw_loop *loop = pw_context_acquire_loop(context, &props->dict);

	if (!loop) {
		return errno ? -errno : -EIO;
	}
	pw_properties_set(props, PW_KEY_NODE_LOOP_NAME, loop->name);
	for (uint32_t i = 0; i < n_support; i++) {
		if (spa_streq(support[i].type, SPA_TYPE_INTERFACE_DataLoop)) {
			support[i].data = loop->loop;
		} else if (spa_streq(support[i].type, SPA_TYPE_INTERFACE_DataSystem)) {
			support[i].data = loop->system;
		}
	}
	/* The context keeps the loop; release only ends this use of it. */
	pw_context_release_loop(context, loop);
#endif
	return 0;
}

static struct spa_handle *load(struct pw_context *context, struct pw_properties *props,
		const struct kmscast_node_host *host)
{
	struct spa_support support[MAX_SUPPORT];
	const struct spa_support *base;
	uint32_t n_base;
	int res;

	base = pw_context_get_support(context, &n_base);
	if (n_base >= MAX_SUPPORT) {
		errno = ENOSPC;
		return NULL;
	}
	for (uint32_t i = 0; i < n_base; i++) {
		support[i] = base[i];
	}
	if ((res = pin_data_loop(context, props, support, n_base)) < 0) {
		errno = -res;
		return NULL;
	}
	support[n_base] = SPA_SUPPORT_INIT(KMSCAST_TYPE_INTERFACE_NodeHost, (void *)host);
	return pw_load_spa_handle(KMSCAST_NODE_LIBRARY, KMSCAST_NODE_FACTORY, &props->dict,
			n_base + 1, support);
}

int node_host_export(const struct node_host *host, struct pw_properties *props,
		const struct pw_proxy_events *events, void *data, struct node_host_export *out)
{
	const struct kmscast_node_host item = {
		.version = KMSCAST_NODE_HOST_VERSION,
		.helper_path = host->helper_path,
		.helper_socket = host->helper_socket,
		.server_version = host->server_version[0] ? host->server_version : NULL,
	};
	void *iface;
	int res;

	out->handle = NULL;
	out->proxy = NULL;
	if (!host->core) {
		return -ENOTCONN;
	}
	if (host->resend_ms >= 0) {
		pw_properties_setf(props, KMSCAST_KEY_RESEND_MS, "%d", host->resend_ms);
	}
	out->handle = load(host->context, props, &item);
	if (!out->handle) {
		return errno ? -errno : -EIO;
	}
	if ((res = spa_handle_get_interface(out->handle, SPA_TYPE_INTERFACE_Node, &iface)) < 0) {
		goto err_unload;
	}
	out->proxy = pw_core_export(host->core, SPA_TYPE_INTERFACE_Node, &props->dict, iface, 0);
	if (!out->proxy) {
		res = -errno;
		goto err_unload;
	}
	pw_proxy_add_listener(out->proxy, &out->proxy_listener, events, data);
	return 0;

err_unload:
	pw_unload_spa_handle(out->handle);
	out->handle = NULL;
	return res;
}

void node_host_drop_proxy(struct node_host_export *exp)
{
	if (!exp->proxy) {
		return;
	}
	spa_hook_remove(&exp->proxy_listener);
	pw_proxy_destroy(exp->proxy);
	exp->proxy = NULL;
}

void node_host_unexport(struct node_host_export *exp)
{
	node_host_drop_proxy(exp);
	if (exp->handle) {
		pw_unload_spa_handle(exp->handle);
	}
	exp->handle = NULL;
}

int node_host_find_plugin(char *dirs, size_t size)
{
	const char *env = getenv("SPA_PLUGIN_DIR");
	const char *path = env && env[0] ? env : KMSCAST_SPA_PLUGINDIR;
	const char *dir = path;

	if (path == env) {
		snprintf(dirs, size, "SPA_PLUGIN_DIR=%s", path);
	} else {
		snprintf(dirs, size, "%s, as SPA_PLUGIN_DIR is unset", path);
	}
	while (*dir) {
		size_t len = strcspn(dir, ":");
		char file[PATH_MAX];
		int n;

		n = snprintf(file, sizeof(file), "%.*s/%s.so", (int)len, dir, KMSCAST_NODE_LIBRARY);
		if (len > 0 && n > 0 && (size_t)n < sizeof(file) && access(file, R_OK) == 0) {
			return 0;
		}
		dir += len;
		if (*dir == ':') {
			dir++;
		}
	}
	return -ENOENT;
}
