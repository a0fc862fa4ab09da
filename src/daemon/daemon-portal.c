/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of struct portal_host: monitors come from the daemon's last KMS rescan,
 * and each portal stream gets an api.kmscast.source node of its own, exported beside the
 * daemon's shared one. The daemon tells us when it rescanned (a monitor may be gone) and when
 * it lost PipeWire (every node is gone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/pipewire.h>
#include <spa/node/node.h>
#include <spa/utils/result.h>

#include "config.h"
#include "config-file.h"
#include "daemon-portal.h"
#include "node-host.h"
#include "outputs.h"
#include "portal.h"

PW_LOG_TOPIC_STATIC(dportal_topic, "kmscast.portal");
#define PW_LOG_TOPIC_DEFAULT dportal_topic

/* Per-session nodes at once; each one also holds a helper connection and buffers. */
#define MAX_PORTAL_NODES 32

struct portal_node {
	struct daemon_portal *dp;
	struct spa_list link; /* daemon_portal::nodes */
	struct portal_monitor monitor;
	struct node_host_export exp; /* owned */
	bool ready, dead;
	const struct portal_node_events *events;
	void *data;
};

struct daemon_portal {
	const struct outputs *outputs; /* the daemon's */
	const struct node_host *host; /* the daemon's */
	struct portal *portal; /* owned */
	struct spa_list nodes; /* portal_node::link */
	uint32_t n_nodes;
};

static void fill_monitor(struct portal_monitor *m, const struct kms_device *dev,
		const struct kms_crtc *crtc, const struct kms_connector *conn)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->card, sizeof(m->card), "%s", dev->name);
	snprintf(m->connector, sizeof(m->connector), "%s", conn->name);
	m->crtc_id = crtc->id;
	m->width = crtc->mode.hdisplay;
	m->height = crtc->mode.vdisplay;
	/* The CRTC's place in its framebuffer: SRC_X/Y, 16.16 fixed point. */
	m->x = (int32_t)(crtc->primary->state.src_x >> 16);
	m->y = (int32_t)(crtc->primary->state.src_y >> 16);
	m->has_edid = conn->has_edid;
	if (conn->has_edid) {
		m->edid = conn->monitor;
	}
}

struct monitor_list {
	struct portal_monitor *out;
	uint32_t max, n;
};

static void add_monitor(void *data, struct kms_device *dev, const struct kms_crtc *crtc,
		const struct kms_connector *conn)
{
	struct monitor_list *list = data;

	if (list->n < list->max) {
		fill_monitor(&list->out[list->n++], dev, crtc, conn);
	}
}

static int list_monitors(void *host, struct portal_monitor *out, uint32_t max)
{
	struct daemon_portal *dp = host;
	struct monitor_list list = {.out = out, .max = max};

	outputs_for_each(dp->outputs, add_monitor, &list);
	return (int)list.n;
}

static void node_gone(struct portal_node *node, int res)
{
	if (node->dead) {
		return;
	}
	node->dead = true;
	node->events->gone(node->data, res);
}

static void on_proxy_bound(void *data, uint32_t global_id)
{
	struct portal_node *node = data;

	if (node->ready || node->dead) {
		return;
	}
	node->ready = true;
	node->events->ready(node->data, global_id);
}

static void on_proxy_error(void *data, int seq, int res, const char *message)
{
	struct portal_node *node = data;

	pw_log_warn("portal node %s.%s: %s (%s)", node->monitor.card, node->monitor.connector,
			message, spa_strerror(res));
	node_gone(node, res < 0 ? res : -EIO);
}

static void on_proxy_removed(void *data)
{
	node_gone(data, -EPIPE);
}

static const struct pw_proxy_events proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.bound = on_proxy_bound,
	.error = on_proxy_error,
	.removed = on_proxy_removed,
};

static struct pw_properties *node_props(struct daemon_portal *dp, const struct portal_monitor *m,
		const struct spa_dict *extra)
{
	struct pw_properties *props;

	props = node_host_props_new(m->card, m->connector, m->crtc_id);
	if (!props) {
		return NULL;
	}
	if (m->has_edid && m->edid.name[0]) {
		pw_properties_setf(props, PW_KEY_NODE_DESCRIPTION, "%s (%s, screen cast)",
				m->edid.name, m->connector);
	} else {
		pw_properties_setf(props, PW_KEY_NODE_DESCRIPTION, "%s (screen cast)", m->connector);
	}
	pw_properties_update(props, extra);
	return props;
}

static void destroy_node(void *host, struct portal_node *node)
{
	if (!node) {
		return;
	}
	node_host_unexport(&node->exp);
	spa_list_remove(&node->link);
	node->dp->n_nodes--;
	free(node);
}

static struct portal_node *create_node(void *host, const struct portal_monitor *monitor,
		const struct spa_dict *extra_props, const struct portal_node_events *events,
		void *data)
{
	struct daemon_portal *dp = host;
	struct portal_node *node;
	struct pw_properties *props;
	int res;

	if (dp->n_nodes >= MAX_PORTAL_NODES) {
		pw_log_warn("more than %d portal streams; refusing another", MAX_PORTAL_NODES);
		errno = ENOSPC;
		return NULL;
	}
	node = calloc(1, sizeof(*node));
	if (!node) {
		return NULL;
	}
	node->dp = dp;
	node->monitor = *monitor;
	node->events = events;
	node->data = data;
	spa_list_append(&dp->nodes, &node->link);
	dp->n_nodes++;
	props = node_props(dp, monitor, extra_props);
	res = props ? node_host_export(dp->host, props, &proxy_events, node, &node->exp) : -ENOMEM;
	pw_properties_free(props);
	if (res < 0) {
		pw_log_error("portal node for %s.%s: %s", monitor->card, monitor->connector,
				spa_strerror(res));
		destroy_node(dp, node);
		errno = -res;
		return NULL;
	}
	return node;
}

static const struct portal_host_ops host_ops = {
	.list_monitors = list_monitors,
	.create_node = create_node,
	.destroy_node = destroy_node,
};

/*
 * The consent dialog: $KMSCAST_CONSENT (tests point it into the build tree), else the one
 * installed in libexecdir when the build had GTK 4, else none.
 */
static const char *consent_program(void)
{
	const char *env = getenv("KMSCAST_CONSENT");

	if (env && env[0]) {
		return env;
	}
#ifdef KMSCAST_CONSENT_PATH
	return KMSCAST_CONSENT_PATH;
#else
	return NULL;
#endif
}

int daemon_portal_create(struct pw_loop *loop, const struct kmscast_config *config,
		const struct outputs *outputs, const struct node_host *host,
		struct daemon_portal **out)
{
	struct portal_options popts = {0};
	struct daemon_portal *dp;
	int res;

	PW_LOG_TOPIC_INIT(dportal_topic);
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		return -ENOMEM;
	}
	dp->outputs = outputs;
	dp->host = host;
	spa_list_init(&dp->nodes);
	if (config) {
		popts.chooser = config->chooser;
		popts.consent = config->consent == CONFIG_CONSENT_NEVER ? PORTAL_CONSENT_NEVER
				: PORTAL_CONSENT_ASK;
		popts.copies = config->portal_copies;
	}
	popts.consent_program = consent_program();
	if ((res = portal_create(loop, &host_ops, dp, &popts, &dp->portal)) < 0) {
		free(dp);
		return res;
	}
	*out = dp;
	return 0;
}

/* Nodes whose monitor is no longer lit on the same CRTC are gone. */
void daemon_portal_rescanned(struct daemon_portal *dp)
{
	struct portal_monitor now[PORTAL_MAX_MONITORS];
	struct portal_node *node, *tmp;
	int n;

	if (!dp) {
		return;
	}
	n = list_monitors(dp, now, PORTAL_MAX_MONITORS);
	spa_list_for_each_safe(node, tmp, &dp->nodes, link) {
		bool lit = false;

		if (node->dead) {
			continue;
		}
		for (int i = 0; i < n && !lit; i++) {
			lit = !strcmp(now[i].card, node->monitor.card) &&
					!strcmp(now[i].connector, node->monitor.connector) &&
					now[i].crtc_id == node->monitor.crtc_id;
		}
		if (!lit) {
			pw_log_info("portal node for %s.%s: monitor gone", node->monitor.card,
					node->monitor.connector);
			/* gone() may destroy this node and others: restart the walk after it. */
			node_gone(node, -ENODEV);
			daemon_portal_rescanned(dp);
			return;
		}
	}
}

void daemon_portal_core_lost(struct daemon_portal *dp)
{
	struct portal_node *node;
	bool again = true;

	if (!dp) {
		return;
	}
	/* Every proxy belongs to the dead core: drop them first, then tell the sessions. */
	spa_list_for_each(node, &dp->nodes, link)
		node_host_drop_proxy(&node->exp);
	while (again) {
		again = false;
		spa_list_for_each(node, &dp->nodes, link) {
			if (!node->dead) {
				node_gone(node, -EPIPE);
				again = true;
				break; /* the list may have changed */
			}
		}
	}
}

void daemon_portal_destroy(struct daemon_portal *dp)
{
	struct portal_node *node, *tmp;

	if (!dp) {
		return;
	}
	portal_destroy(dp->portal);
	spa_list_for_each_safe(node, tmp, &dp->nodes, link)
		destroy_node(dp, node);
	free(dp);
}
