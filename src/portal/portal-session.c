/* SPDX-License-Identifier: MIT */
/*
 * One ScreenCast session: its impl.portal.Session object, the pending call's
 * impl.portal.Request object, and the per-session nodes that Start creates. The selection
 * (SelectSources) lives in portal-select.c.
 *
 * Each stream gets a node of its own rather than the daemon's shared one: OpenPipeWireRemote
 * grants the app RWX on the node ids Start returns, so an app could destroy a shared node,
 * and a second consumer of a running node must take its format as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/pipewire.h>
#include <pipewire/keys.h>
#include <spa/utils/result.h>

#include "kmscast/node.h"
#include "portal-internal.h"

PW_LOG_TOPIC_EXTERN(portal_session_topic);
PW_LOG_TOPIC(portal_session_topic, "kmscast.portal");
#define PW_LOG_TOPIC_DEFAULT portal_session_topic

/* ---- requests ---------------------------------------------------------------------------- */

static void cancel_pending(struct portal_session *session);

static int method_request_close(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal_session *session = data;
	int r;

	/* The request belongs to the caller of the pending call, which owns the session. */
	if ((r = portal_session_check_caller(session, m, error)) < 0) {
		return r;
	}
	pw_log_info("session %s: request closed by the caller", session->path);
	cancel_pending(session);
	portal_bus_update(session->portal);
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable request_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Close", "", "", method_request_close, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

/* Keeps call for a later reply and exports the Request object at its handle. */
int portal_session_begin_pending(struct portal_session *session, sd_bus_message *call)
{
	const char *handle;
	int r;

	if ((r = sd_bus_message_rewind(call, true)) < 0 ||
			(r = sd_bus_message_read(call, "o", &handle)) < 0) {
		return r;
	}
	r = sd_bus_add_object_vtable(sd_bus_message_get_bus(call), &session->request_slot,
			handle, PORTAL_REQUEST_IFACE, request_vtable, session);
	if (r < 0) {
		return r;
	}
	session->pending = sd_bus_message_ref(call);
	return 0;
}

void portal_session_end_pending(struct portal_session *session)
{
	session->request_slot = sd_bus_slot_unref(session->request_slot);
	session->pending = sd_bus_message_unref(session->pending);
}

/* ---- streams ----------------------------------------------------------------------------- */

static void destroy_streams(struct portal_session *session)
{
	struct portal *p = session->portal;

	for (uint32_t i = 0; i < session->n_streams; i++) {
		p->ops->destroy_node(p->host, session->streams[i].node);
		session->streams[i].node = NULL;
	}
	session->n_streams = 0;
	if (session->start_timer) {
		pw_loop_destroy_source(p->loop, session->start_timer);
		session->start_timer = NULL;
	}
}

/* The stream's "id": its connector, with the card when two streams share a connector name. */
static void stream_id(const struct portal_session *session, uint32_t index, char *buf,
		size_t size)
{
	const struct portal_monitor *mon = &session->streams[index].monitor;

	for (uint32_t i = 0; i < session->n_streams; i++) {
		const struct portal_monitor *other = &session->streams[i].monitor;

		if (i != index && !strcmp(other->connector, mon->connector)) {
			snprintf(buf, size, "%s:%s", mon->card, mon->connector);
			return;
		}
	}
	snprintf(buf, size, "%s", mon->connector);
}

static int append_stream(sd_bus_message *m, const struct portal_session *session, uint32_t i)
{
	const struct portal_stream *s = &session->streams[i];
	char id[2 * KMS_NAME_MAX + 2];
	int r;

	stream_id(session, i, id, sizeof(id));
	if ((r = sd_bus_message_open_container(m, 'r', "ua{sv}")) < 0 ||
			(r = sd_bus_message_append(m, "u", s->node_id)) < 0 ||
			(r = sd_bus_message_open_container(m, 'a', "{sv}")) < 0 ||
			(r = sd_bus_message_append(m, "{sv}", "id", "s", id)) < 0 ||
			(r = sd_bus_message_append(m, "{sv}", "position", "(ii)", s->monitor.x,
					 s->monitor.y)) < 0 ||
			(r = sd_bus_message_append(m, "{sv}", "size", "(ii)",
					 (int32_t)s->monitor.width, (int32_t)s->monitor.height)) < 0 ||
			(r = sd_bus_message_append(m, "{sv}", "source_type", "u",
					 PORTAL_SOURCE_MONITOR)) < 0 ||
			(r = sd_bus_message_close_container(m)) < 0) {
		return r;
	}
	return sd_bus_message_close_container(m);
}

static int reply_started(struct portal_session *session)
{
	sd_bus_message *reply = NULL;
	int r;

	if ((r = sd_bus_message_new_method_return(session->pending, &reply)) < 0) {
		return r;
	}
	if ((r = sd_bus_message_append(reply, "u", PORTAL_RESPONSE_SUCCESS)) < 0 ||
			(r = sd_bus_message_open_container(reply, 'a', "{sv}")) < 0 ||
			(r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
			(r = sd_bus_message_append(reply, "s", "streams")) < 0 ||
			(r = sd_bus_message_open_container(reply, 'v', "a(ua{sv})")) < 0 ||
			(r = sd_bus_message_open_container(reply, 'a', "(ua{sv})")) < 0) {
		goto out;
	}
	for (uint32_t i = 0; i < session->n_streams; i++) {
		if ((r = append_stream(reply, session, i)) < 0) {
			goto out;
		}
	}
	if ((r = sd_bus_message_close_container(reply)) < 0 ||
			(r = sd_bus_message_close_container(reply)) < 0 ||
			(r = sd_bus_message_close_container(reply)) < 0) {
		goto out;
	}
	if (session->persist_mode != 0) {
		struct portal_monitor mons[PORTAL_MAX_MONITORS];

		for (uint32_t i = 0; i < session->n_streams; i++) {
			mons[i] = session->streams[i].monitor;
		}
		if ((r = sd_bus_message_append(reply, "{sv}", "persist_mode", "u",
				     session->persist_mode)) < 0 ||
				(r = portal_restore_append(reply, mons, session->n_streams,
						 session->app_id, session->remember)) < 0) {
			goto out;
		}
	}
	if ((r = sd_bus_message_close_container(reply)) < 0) {
		goto out;
	}
	r = sd_bus_send(NULL, reply, NULL);
out:
	sd_bus_message_unref(reply);
	return r;
}

static void start_done(struct portal_session *session, int res)
{
	int r;

	if (res == 0) {
		r = reply_started(session);
		if (r < 0) {
			pw_log_error("session %s: cannot reply to Start: %s", session->path,
					strerror(-r));
			portal_reply_response(session->pending, PORTAL_RESPONSE_OTHER);
			res = r;
		}
	} else {
		portal_reply_response(session->pending, PORTAL_RESPONSE_OTHER);
	}
	portal_session_end_pending(session);
	if (session->start_timer) {
		pw_loop_destroy_source(session->portal->loop, session->start_timer);
		session->start_timer = NULL;
	}
	if (res == 0) {
		session->state = SESSION_STARTED;
		for (uint32_t i = 0; i < session->n_streams; i++) {
			pw_log_info("session %s: streaming %s.%s as node %u", session->path,
					session->streams[i].monitor.card,
					session->streams[i].monitor.connector,
					session->streams[i].node_id);
		}
	} else {
		/* The frontend closes a session whose Start failed; until then it holds nothing. */
		destroy_streams(session);
		session->state = SESSION_SELECTED;
	}
}

static void on_node_ready(void *data, uint32_t global_id)
{
	struct portal_stream *stream = data;
	struct portal_session *session = stream->session;

	stream->node_id = global_id;
	if (session->state != SESSION_STARTING) {
		return;
	}
	for (uint32_t i = 0; i < session->n_streams; i++) {
		if (session->streams[i].node_id == SPA_ID_INVALID) {
			return;
		}
	}
	start_done(session, 0);
	portal_bus_update(session->portal);
}

static void on_node_gone(void *data, int res)
{
	struct portal_stream *stream = data;
	struct portal_session *session = stream->session;
	struct portal *p = session->portal;
	char why[128];

	snprintf(why, sizeof(why), "%s.%s %s", stream->monitor.card, stream->monitor.connector,
			res == -ENODEV ? "went away" : "node died");
	if (session->state == SESSION_STARTING) {
		pw_log_warn("session %s: Start failed: %s (%s)", session->path, why,
				spa_strerror(res));
		start_done(session, res);
	} else {
		pw_log_info("session %s: %s (%s)", session->path, why, spa_strerror(res));
		portal_session_close_from_backend(session, why);
	}
	/* session (and stream) may be freed now. */
	portal_bus_update(p);
}

static const struct portal_node_events node_events = {
	.ready = on_node_ready,
	.gone = on_node_gone,
};

static void on_start_timeout(void *data, uint64_t expirations)
{
	struct portal_session *session = data;
	struct portal *p = session->portal;

	pw_log_warn("session %s: no node id after %d ms; Start failed", session->path,
			PORTAL_START_TIMEOUT_MS);
	start_done(session, -ETIMEDOUT);
	portal_bus_update(p);
}

static int create_stream(struct portal_session *session, const struct portal_monitor *mon)
{
	struct portal *p = session->portal;
	struct portal_stream *stream = &session->streams[session->n_streams];
	char name[3 * KMS_NAME_MAX];
	const char *cursor = session->cursor_mode == PORTAL_CURSOR_METADATA ? "metadata" : "hidden";
	struct spa_dict_item items[] = {
		SPA_DICT_ITEM_INIT(PW_KEY_NODE_NAME, name),
		SPA_DICT_ITEM_INIT("kmscast.portal.session", session->path),
		SPA_DICT_ITEM_INIT("kmscast.portal.app-id", session->app_id),
		SPA_DICT_ITEM_INIT(KMSCAST_KEY_CURSOR_MODE, cursor),
		/*
		 * Apps behind the portal negotiate modifiers when they can import (OBS, libwebrtc)
		 * and fall back to the format without one expecting memory, as mutter and
		 * xdg-desktop-portal-wlr serve it; a dma-buf there makes OBS renegotiate for ever.
		 */
		SPA_DICT_ITEM_INIT(KMSCAST_KEY_MODIFIERLESS_DMABUF, "false"),
		/* Last: only for sessions that get copies (session_wants_copies). */
		SPA_DICT_ITEM_INIT(KMSCAST_KEY_COPY, "true"),
	};
	struct spa_dict props = SPA_DICT_INIT(items, SPA_N_ELEMENTS(items) -
			(session->copies ? 0 : 1));

	snprintf(name, sizeof(name), "kmscast.%.*s.%.*s.portal-%u", KMS_NAME_MAX - 1, mon->card,
			KMS_NAME_MAX - 1, mon->connector, ++p->node_serial);
	stream->session = session;
	stream->monitor = *mon;
	stream->node_id = SPA_ID_INVALID;
	stream->node = p->ops->create_node(p->host, mon, &props, &node_events, stream);
	if (!stream->node) {
		int res = -errno;

		pw_log_error("session %s: cannot create a node for %s.%s: %s", session->path,
				mon->card, mon->connector, strerror(-res));
		return res;
	}
	session->n_streams++;
	return 0;
}

/* Finds the selected monitor in the host's list now: its CRTC and geometry may have moved. */
static int refresh_selection(struct portal_session *session, struct portal_monitor *now)
{
	struct portal *p = session->portal;
	struct portal_monitor avail[PORTAL_MAX_MONITORS];
	int n = p->ops->list_monitors(p->host, avail, PORTAL_MAX_MONITORS);

	if (n < 0) {
		return n;
	}
	for (uint32_t i = 0; i < session->n_selected; i++) {
		const struct portal_monitor *sel = &session->selected[i];
		int j;

		for (j = 0; j < n; j++) {
			if (!strcmp(avail[j].card, sel->card) &&
					!strcmp(avail[j].connector, sel->connector)) {
				break;
			}
		}
		if (j == n) {
			pw_log_warn("session %s: %s.%s is no longer published", session->path,
					sel->card, sel->connector);
			return -ENODEV;
		}
		now[i] = avail[j];
	}
	return 0;
}

int portal_session_start(struct portal_session *session, sd_bus_message *call)
{
	struct portal *p = session->portal;
	struct portal_monitor now[PORTAL_MAX_MONITORS];
	struct timespec timeout = {PORTAL_START_TIMEOUT_MS / 1000,
			(PORTAL_START_TIMEOUT_MS % 1000) * 1000000L};
	int r;

	if (session->state != SESSION_SELECTED) {
		pw_log_warn("session %s: Start before SelectSources finished", session->path);
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	if (refresh_selection(session, now) < 0) {
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	if ((r = portal_session_begin_pending(session, call)) < 0) {
		return r;
	}
	session->state = SESSION_STARTING;
	for (uint32_t i = 0; i < session->n_selected; i++) {
		if ((r = create_stream(session, &now[i])) < 0) {
			start_done(session, r);
			return 1;
		}
	}
	session->start_timer = pw_loop_add_timer(p->loop, on_start_timeout, session);
	if (!session->start_timer) {
		start_done(session, -errno);
		return 1;
	}
	pw_loop_update_timer(p->loop, session->start_timer, &timeout, NULL, false);
	return 1; /* replied from on_node_ready or on_node_gone */
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* Cancels the pending SelectSources or Start: the caller closed the request or session. */
static void cancel_pending(struct portal_session *session)
{
	if (!session->pending) {
		return;
	}
	portal_reply_response(session->pending, PORTAL_RESPONSE_CANCELLED);
	portal_session_end_pending(session);
	if (session->state == SESSION_SELECTING) {
		portal_chooser_destroy(session->chooser);
		session->chooser = NULL;
		session->state = SESSION_INIT;
	} else if (session->state == SESSION_STARTING) {
		destroy_streams(session);
		session->state = SESSION_SELECTED;
	}
}

static int method_session_close(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal_session *session = data;
	struct portal *p = session->portal;
	int r;

	if ((r = portal_session_check_caller(session, m, error)) < 0) {
		return r;
	}
	pw_log_info("session %s: closed by the caller", session->path);
	portal_session_destroy(session);
	portal_bus_update(p);
	return sd_bus_reply_method_return(m, "");
}

static int get_version(sd_bus *bus, const char *path, const char *iface, const char *prop,
		sd_bus_message *reply, void *data, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "u", 1);
}

static const sd_bus_vtable session_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Close", "", "", method_session_close, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL("Closed", "", 0),
	SD_BUS_PROPERTY("version", "u", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

struct portal_session *portal_session_find(struct portal *p, const char *path)
{
	struct portal_session *session;

	spa_list_for_each(session, &p->sessions, link) {
		if (!strcmp(session->path, path)) {
			return session;
		}
	}
	return NULL;
}

int portal_session_check_caller(struct portal_session *session, sd_bus_message *m,
		sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);
	int r;

	if ((r = portal_check_frontend(session->portal, m, error)) < 0) {
		return r;
	}
	/* The name may pass to another connection while the old one lives on: not its sessions. */
	if (session->owner && sender && !strcmp(sender, session->owner)) {
		return 0;
	}
	pw_log_warn("session %s: refused %s.%s from %s, which did not create it", session->path,
			sd_bus_message_get_interface(m), sd_bus_message_get_member(m), sender);
	return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "session %s is not yours",
			session->path);
}

/*
 * Decided once, at CreateSession: the app is running then, and so is its Flatpak instance.
 * Logged here, with what the app was taken for.
 */
static bool session_wants_copies(struct portal *p, const char *path, const char *app_id)
{
	const char *dir = p->runtime_dir ? p->runtime_dir : getenv("XDG_RUNTIME_DIR");
	int kind = PORTAL_APP_HOST;
	bool copies;

	if (p->copies == PORTAL_COPIES_SANDBOXED) {
		kind = portal_app_classify(app_id, dir);
	}
	copies = portal_copies_for_kind(p->copies, kind);
	if (kind < 0) {
		pw_log_warn("session %s: cannot tell whether '%s' is sandboxed (Flatpak instances "
			    "in %s: %s); it gets copies", path, app_id, dir ? dir : "(no runtime dir)",
				strerror(-kind));
	} else if (p->copies == PORTAL_COPIES_SANDBOXED) {
		pw_log_info("session %s: '%s' is a %s app: its nodes serve %s", path, app_id,
				portal_app_kind_name((enum portal_app_kind)kind),
				copies ? "CPU copies" : "the scanout buffers");
	} else {
		pw_log_info("session %s: portal-copies=%s: its nodes serve %s", path,
				portal_copies_name(p->copies),
				copies ? "CPU copies" : "the scanout buffers");
	}
	return copies;
}

int portal_session_create(struct portal *p, const char *path, const char *app_id,
		const char *owner, struct portal_session **out)
{
	struct portal_session *session;
	int r;

	if (portal_session_find(p, path)) {
		return -EEXIST;
	}
	/* The consent program gets it in its environment, and restore data stores it. */
	if (strlen(app_id) > PORTAL_MAX_APP_ID) {
		pw_log_warn("app id of %zu bytes (over %d); refusing %s", strlen(app_id),
				PORTAL_MAX_APP_ID, path);
		return -ENAMETOOLONG;
	}
	if (p->n_sessions >= PORTAL_MAX_SESSIONS) {
		pw_log_warn("more than %d portal sessions; refusing %s", PORTAL_MAX_SESSIONS, path);
		return -ENOSPC;
	}
	session = calloc(1, sizeof(*session));
	if (!session) {
		return -ENOMEM;
	}
	session->portal = p;
	session->path = strdup(path);
	session->app_id = strdup(app_id);
	session->owner = owner ? strdup(owner) : NULL;
	spa_list_append(&p->sessions, &session->link);
	p->n_sessions++;
	if (!session->path || !session->app_id || (owner && !session->owner)) {
		r = -ENOMEM;
		goto err;
	}
	session->copies = session_wants_copies(p, path, app_id);
	r = sd_bus_add_object_vtable(p->bus, &session->slot, path, PORTAL_SESSION_IFACE,
			session_vtable, session);
	if (r < 0) {
		goto err;
	}
	*out = session;
	return 0;
err:
	portal_session_destroy(session);
	return r;
}

void portal_session_destroy(struct portal_session *session)
{
	if (!session) {
		return;
	}
	if (session->pending) {
		portal_reply_response(session->pending, PORTAL_RESPONSE_OTHER);
		portal_session_end_pending(session);
	}
	portal_chooser_destroy(session->chooser);
	destroy_streams(session);
	sd_bus_slot_unref(session->slot);
	spa_list_remove(&session->link);
	session->portal->n_sessions--;
	free(session->path);
	free(session->app_id);
	free(session->owner);
	free(session);
}

void portal_session_close_from_backend(struct portal_session *session, const char *why)
{
	int r;

	r = sd_bus_emit_signal(session->portal->bus, session->path, PORTAL_SESSION_IFACE,
			"Closed", "");
	if (r < 0) {
		pw_log_warn("session %s: cannot emit Closed: %s", session->path, strerror(-r));
	} else {
		pw_log_info("session %s: closed by kmscast (%s); Session.Closed sent", session->path,
				why);
	}
	portal_session_destroy(session);
}
