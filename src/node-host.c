/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns "a node for this CRTC" into a loaded and exported SPA node. The
 * plugin is loaded with pw_load_spa_handle() rather than pw_context_load_spa_handle() so that
 * the support array can carry KMSCAST_TYPE_INTERFACE_NodeHost: the node takes the helper's
 * location from it, and only a host in its own process can pass it.
 */
#include <errno.h>

#include <spa/node/node.h>
#include <spa/support/plugin.h>

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
			KMSCAST_KEY_CARD, card,
			KMSCAST_KEY_CONNECTOR, connector,
			NULL);
	if (!props)
		return NULL;
	pw_properties_setf(props, KMSCAST_KEY_CRTC, "%u", crtc_id);
	return props;
}

static struct spa_handle *load(struct pw_context *context, const struct pw_properties *props,
		const struct kmscast_node_host *host)
{
	struct spa_support support[MAX_SUPPORT];
	const struct spa_support *base;
	uint32_t n_base;

	base = pw_context_get_support(context, &n_base);
	if (n_base >= MAX_SUPPORT) {
		errno = ENOSPC;
		return NULL;
	}
	for (uint32_t i = 0; i < n_base; i++)
		support[i] = base[i];
	support[n_base] = SPA_SUPPORT_INIT(KMSCAST_TYPE_INTERFACE_NodeHost, (void *)host);
	return pw_load_spa_handle(KMSCAST_NODE_LIBRARY, KMSCAST_NODE_FACTORY, &props->dict,
			n_base + 1, support);
}

int node_host_export(struct pw_context *context, struct pw_core *core,
		const struct pw_properties *props, const struct kmscast_node_host *host,
		struct node_host_export *out)
{
	void *iface;
	int res;

	out->handle = NULL;
	out->proxy = NULL;
	if (!core)
		return -ENOTCONN;
	out->handle = load(context, props, host);
	if (!out->handle)
		return errno ? -errno : -EIO;
	if ((res = spa_handle_get_interface(out->handle, SPA_TYPE_INTERFACE_Node, &iface)) < 0)
		goto err_unload;
	out->proxy = pw_core_export(core, SPA_TYPE_INTERFACE_Node, &props->dict, iface, 0);
	if (!out->proxy) {
		res = -errno;
		goto err_unload;
	}
	return 0;

err_unload:
	pw_unload_spa_handle(out->handle);
	out->handle = NULL;
	return res;
}

void node_host_unexport(struct node_host_export *exp)
{
	if (exp->proxy)
		pw_proxy_destroy(exp->proxy);
	exp->proxy = NULL;
	if (exp->handle)
		pw_unload_spa_handle(exp->handle);
	exp->handle = NULL;
}
