/* SPDX-License-Identifier: MIT */
/*
 * The kmscast daemon. It owns no frames: each node (spa-plugin/) finds its flips and exports
 * its buffers. The daemon decides which nodes exist, and keeps them connected.
 *
 * Outputs are found by re-reading KMS state every DAEMON_RESCAN_MS. A hotplug uevent would be
 * quicker, but the kernel's uevent netlink socket needs libudev or a privileged listener, and
 * a modeset that changes the lit CRTCs sends no uevent at all; a one-second rescan costs a
 * few ioctls per card.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/pipewire.h>
#include <spa/node/node.h>
#include <spa/utils/result.h>

#include "config-file.h"
#include "consumer-watch.h"
#include "daemon-portal.h"
#include "daemon.h"
#include "kms.h"
#include "node-host.h"
#include "outputs.h"

PW_LOG_TOPIC_STATIC(kmscast_topic, "kmscast");
#define PW_LOG_TOPIC_DEFAULT kmscast_topic

#define DAEMON_RESCAN_MS 1000
#define DAEMON_RECONNECT_MS 1000
#define MAX_NODES (KMS_MAX_CARDS * 4)

struct output_node {
	struct daemon *daemon;
	struct spa_list link; /* daemon::nodes */
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX];
	uint32_t crtc_id;
	uint16_t hdisplay, vdisplay; /* mode when created, for the log */
	bool seen; /* still lit in the latest rescan */
	struct node_host_export exp; /* owned */
	uint32_t global_id;
};

struct daemon {
	const struct daemon_options *opts;
	struct pw_main_loop *main_loop;
	struct pw_loop *loop;
	struct spa_hook core_listener; /* on host.core */
	struct consumer_watch *watch; /* owned; NULL while disconnected or if it failed */
	/* The context, and the core while connected: every node is exported through it. */
	struct node_host host;
	struct spa_source *rescan_timer;
	struct spa_source *reconnect_timer;
	struct spa_list nodes;
	uint32_t n_nodes;
	struct outputs outputs;
	struct daemon_portal *portal; /* owned; NULL without the portal backend */
};

static void node_destroy(struct output_node *node)
{
	if (!node) {
		return;
	}
	pw_log_info("%s.%s: removing (crtc %u)", node->card, node->connector, node->crtc_id);
	node_host_unexport(&node->exp);
	spa_list_remove(&node->link);
	node->daemon->n_nodes--;
	free(node);
}

static void on_proxy_bound(void *data, uint32_t global_id)
{
	struct output_node *node = data;

	node->global_id = global_id;
	pw_log_info(KMSCAST_NODE_NAME_FMT ": node %u", node->card, node->connector, global_id);
}

static void on_proxy_error(void *data, int seq, int res, const char *message)
{
	struct output_node *node = data;

	pw_log_warn(KMSCAST_NODE_NAME_FMT ": %s (%s)", node->card, node->connector, message,
			spa_strerror(res));
}

static void on_proxy_removed(void *data)
{
	struct output_node *node = data;

	/* The server dropped the node (e.g. an export error): it is re-exported on rescan. */
	pw_log_warn(KMSCAST_NODE_NAME_FMT ": node removed by the server", node->card,
			node->connector);
}

static const struct pw_proxy_events proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.bound = on_proxy_bound,
	.error = on_proxy_error,
	.removed = on_proxy_removed,
};

static struct pw_properties *node_props(const struct output_node *node,
		const struct kms_connector *conn)
{
	struct pw_properties *props;

	props = node_host_props_new(node->card, node->connector, node->crtc_id);
	if (!props) {
		return NULL;
	}
	pw_properties_setf(props, PW_KEY_NODE_NAME, KMSCAST_NODE_NAME_FMT, node->card,
			node->connector);
	if (conn->has_edid && conn->monitor.name[0]) {
		pw_properties_setf(props, PW_KEY_NODE_DESCRIPTION, "%s (%s)", conn->monitor.name,
				conn->name);
	} else {
		pw_properties_set(props, PW_KEY_NODE_DESCRIPTION, node->connector);
	}
	return props;
}

static int node_create(struct daemon *d, struct kms_device *dev, const struct kms_crtc *crtc,
		const struct kms_connector *conn)
{
	struct output_node *node;
	struct pw_properties *props;
	int res;

	if (d->n_nodes >= MAX_NODES) {
		pw_log_warn("%s: more than %d outputs; crtc %u not published", dev->name, MAX_NODES,
				crtc->id);
		return -ENOSPC;
	}
	node = calloc(1, sizeof(*node));
	if (!node) {
		return -ENOMEM;
	}
	node->daemon = d;
	node->crtc_id = crtc->id;
	node->global_id = SPA_ID_INVALID;
	node->hdisplay = crtc->mode.hdisplay;
	node->vdisplay = crtc->mode.vdisplay;
	snprintf(node->card, sizeof(node->card), "%s", dev->name);
	snprintf(node->connector, sizeof(node->connector), "%s", conn->name);
	spa_list_append(&d->nodes, &node->link);
	d->n_nodes++;

	props = node_props(node, conn);
	if (!props) {
		res = -ENOMEM;
		goto err_destroy;
	}
	if ((res = node_host_export(&d->host, props, &proxy_events, node, &node->exp)) < 0) {
		pw_log_error("%s.%s: cannot host %s: %s", node->card, node->connector,
				KMSCAST_NODE_FACTORY, spa_strerror(res));
		goto err_free_props;
	}
	pw_properties_free(props);
	pw_log_info("%s.%s: publishing crtc %u (%ux%u)", node->card, node->connector,
			node->crtc_id, node->hdisplay, node->vdisplay);
	return 0;

err_free_props:
	pw_properties_free(props);
err_destroy:
	node_destroy(node);
	return res;
}

static struct output_node *find_node(struct daemon *d, const char *card, uint32_t crtc_id,
		const char *connector)
{
	struct output_node *node;

	spa_list_for_each(node, &d->nodes, link) {
		if (node->crtc_id == crtc_id && strcmp(node->card, card) == 0 &&
				strcmp(node->connector, connector) == 0) {
			return node;
		}
	}
	return NULL;
}

/*
 * The daemon's own per-monitor nodes, which any PipeWire client that the session manager
 * lets see them can link. Off, only the portal's session nodes exist: for session managers
 * that do not confine the portal's remote to its session's nodes (docs/security.md).
 */
static bool shared_nodes(const struct daemon *d)
{
	return !d->opts->config || d->opts->config->shared_nodes;
}

/* Keeps the node of a published monitor, or creates it. */
static void keep_output(void *data, struct kms_device *dev, const struct kms_crtc *crtc,
		const struct kms_connector *conn)
{
	struct daemon *d = data;
	struct output_node *node = find_node(d, dev->name, crtc->id, conn->name);

	if (node) {
		node->seen = true;
		return;
	}
	if (node_create(d, dev, crtc, conn) == 0) {
		find_node(d, dev->name, crtc->id, conn->name)->seen = true;
	}
}

static void rescan(struct daemon *d)
{
	struct output_node *node, *tmp;

	/* A node is told the server's version (core info) when it is created. */
	if (!d->host.core || !d->host.server_version[0]) {
		return;
	}
	outputs_refresh(&d->outputs, d->opts->dri_dir);
	spa_list_for_each(node, &d->nodes, link)
		node->seen = false;
	if (shared_nodes(d)) {
		outputs_for_each(&d->outputs, keep_output, d);
	}
	spa_list_for_each_safe(node, tmp, &d->nodes, link) {
		if (!node->seen) {
			node_destroy(node);
		}
	}
	daemon_portal_rescanned(d->portal); /* its sessions lose monitors gone dark */
}

static void on_rescan(void *data, uint64_t expirations)
{
	rescan(data);
}

static void arm_timer(struct daemon *d, struct spa_source *timer, int ms, bool repeat)
{
	struct timespec value = {ms / 1000, (ms % 1000) * 1000000L};
	struct timespec interval = {repeat ? value.tv_sec : 0, repeat ? value.tv_nsec : 0};

	pw_loop_update_timer(d->loop, timer, &value, &interval, false);
}

static void disconnect_all(struct daemon *d)
{
	struct output_node *node, *tmp;

	daemon_portal_core_lost(d->portal); /* the portal's nodes die with the core */

	/* The nodes' handles hold proxies of the dead core: drop them all, rescan rebuilds. */
	spa_list_for_each_safe(node, tmp, &d->nodes, link)
		node_destroy(node);
	d->host.server_version[0] = '\0'; /* the next server may be another version */
	consumer_watch_destroy(d->watch);
	d->watch = NULL;
	if (d->host.core) {
		spa_hook_remove(&d->core_listener);
		pw_core_disconnect(d->host.core);
		d->host.core = NULL;
	}
}

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message)
{
	struct daemon *d = data;

	if (id != PW_ID_CORE) {
		pw_log_warn("object %u: %s (%s)", id, message, spa_strerror(res));
		return;
	}
	pw_log_warn("PipeWire: %s (%s); reconnecting", message, spa_strerror(res));
	if (res == -EPIPE) {
		disconnect_all(d);
		arm_timer(d, d->rescan_timer, 0, false);
		arm_timer(d, d->reconnect_timer, DAEMON_RECONNECT_MS, false);
	}
}

static void on_core_info(void *data, const struct pw_core_info *info)
{
	struct daemon *d = data;

	if (!info->version || d->host.server_version[0]) {
		return;
	}
	snprintf(d->host.server_version, sizeof(d->host.server_version), "%s", info->version);
	pw_log_info("PipeWire server %s", d->host.server_version);
	rescan(d);
	if (d->n_nodes == 0) {
		pw_log_warn("no lit output in %s yet; watching", d->opts->dri_dir);
	}
}

static const struct pw_core_events core_events = {
	PW_VERSION_CORE_EVENTS,
	.info = on_core_info,
	.error = on_core_error,
};

static int try_connect(struct daemon *d)
{
	struct pw_properties *props = NULL;
	int res;

	if (d->opts->remote) {
		props = pw_properties_new(PW_KEY_REMOTE_NAME, d->opts->remote, NULL);
	}
	d->host.core = pw_context_connect(d->host.context, props, 0);
	if (!d->host.core) {
		return -errno;
	}
	pw_core_add_listener(d->host.core, &d->core_listener, &core_events, d);
	pw_log_info("connected to PipeWire");
	/* Only a log line is lost without it: the nodes do not depend on the watch. */
	if ((res = consumer_watch_new(d->host.core, &d->watch)) < 0) {
		pw_log_warn("not watching for consumers that cannot link: %s", spa_strerror(res));
	}
	return 0;
}

static void on_reconnect(void *data, uint64_t expirations)
{
	struct daemon *d = data;
	int res;

	if (d->host.core) {
		return;
	}
	if ((res = try_connect(d)) < 0) {
		pw_log_debug("PipeWire not back yet: %s", spa_strerror(res));
		arm_timer(d, d->reconnect_timer, DAEMON_RECONNECT_MS, false);
		return;
	}
	arm_timer(d, d->rescan_timer, DAEMON_RESCAN_MS, true);
}

static void on_signal(void *data, int signal_number)
{
	struct daemon *d = data;

	pw_log_info("signal %d: exiting", signal_number);
	pw_main_loop_quit(d->main_loop);
}

static int daemon_setup(struct daemon *d)
{
	int res;

	d->main_loop = pw_main_loop_new(NULL);
	if (!d->main_loop) {
		return -errno;
	}
	d->loop = pw_main_loop_get_loop(d->main_loop);
	pw_loop_add_signal(d->loop, SIGINT, on_signal, d);
	pw_loop_add_signal(d->loop, SIGTERM, on_signal, d);
	d->host.context = pw_context_new(d->loop, NULL, 0);
	if (!d->host.context) {
		return -errno;
	}
	d->rescan_timer = pw_loop_add_timer(d->loop, on_rescan, d);
	d->reconnect_timer = pw_loop_add_timer(d->loop, on_reconnect, d);
	if (!d->rescan_timer || !d->reconnect_timer) {
		return -errno;
	}
	if ((res = try_connect(d)) < 0) {
		pw_log_error("cannot connect to PipeWire: %s", spa_strerror(res));
		return res;
	}
	/* The first rescan runs when the server's core info arrives. */
	arm_timer(d, d->rescan_timer, DAEMON_RESCAN_MS, true);
	if (!shared_nodes(d)) {
		pw_log_info("shared-nodes = false: no node per monitor, only the portal's sessions "
			    "get nodes");
	}
	if (!shared_nodes(d) && !d->opts->portal) {
		pw_log_warn("shared-nodes = false and portal = false: nothing to serve; set one "
			    "of them to true in kmscast.conf");
	}
	/* A failed portal is logged, and the daemon runs on without it: the nodes still serve. */
	if (d->opts->portal && daemon_portal_create(d->loop, d->opts->config, &d->outputs,
					&d->host, &d->portal) < 0) {
		d->portal = NULL;
	}
	return 0;
}

static void daemon_teardown(struct daemon *d)
{
	daemon_portal_destroy(d->portal); /* first: its nodes live on the core */
	d->portal = NULL;
	disconnect_all(d);
	outputs_finish(&d->outputs);
	if (d->host.context) {
		pw_context_destroy(d->host.context);
	}
	if (d->main_loop) {
		pw_main_loop_destroy(d->main_loop);
	}
}

/*
 * Said once, before anything else: without its plugin the daemon could only fail to create
 * every node on every rescan. A build tree has the plugin, but not where PipeWire looks.
 */
static int check_plugin(void)
{
	char dirs[1024];

	if (node_host_find_plugin(dirs, sizeof(dirs)) == 0) {
		return 0;
	}
	pw_log_error("cannot find the %s plugin: no %s.so in the SPA plugin directory (%s). "
		     "Install kmscast (meson install -C BUILD), or run it from its build tree "
		     "with 'meson devenv -C BUILD kmscast', which points SPA_PLUGIN_DIR and "
		     "KMSCAST_HELPER into the build", KMSCAST_NODE_FACTORY, KMSCAST_NODE_LIBRARY,
			dirs);
	return -ENOENT;
}

int kmscast_daemon_run(const struct daemon_options *opts, int *argc, char ***argv)
{
	struct daemon d = {
		.opts = opts,
		.host = {
			.helper_path = opts->helper_path,
			.helper_socket = opts->helper_socket,
			.resend_ms = opts->config ? opts->config->resend_ms : -1,
		},
		.outputs = {.config = opts->config},
	};
	int res;

	pw_init(argc, argv);
	PW_LOG_TOPIC_INIT(kmscast_topic);
	spa_list_init(&d.nodes);
	res = check_plugin();
	if (res == 0) {
		res = daemon_setup(&d);
	}
	if (res == 0) {
		pw_main_loop_run(d.main_loop);
	}
	daemon_teardown(&d);
	pw_deinit();
	return res < 0 ? 1 : 0;
}
