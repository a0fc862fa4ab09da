/* SPDX-License-Identifier: MIT */
/*
 * The portal backend's object: the bus connection, the frontend it serves, and the
 * org.freedesktop.impl.portal.ScreenCast methods. Sessions live in portal-session.c, the
 * connection's place in the PipeWire loop in portal-bus.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/pipewire.h>

#include "portal-internal.h"

PW_LOG_TOPIC_STATIC(portal_topic, "kmscast.portal");
#define PW_LOG_TOPIC_DEFAULT portal_topic

/*
 * Every method's first steps: the caller must be the frontend, and the call starts with the
 * request handle, the session handle and the app id.
 */
static int read_handles(struct portal *p, sd_bus_message *m, sd_bus_error *error,
		const char **handle, const char **session, const char **app_id)
{
	int r;

	if ((r = portal_check_frontend(p, m, error)) < 0) {
		return r;
	}
	return sd_bus_message_read(m, "oos", handle, session, app_id);
}

static int method_create_session(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal *p = data;
	struct portal_session *session;
	const char *handle, *session_path, *app_id;
	int r;

	if ((r = read_handles(p, m, error, &handle, &session_path, &app_id)) < 0) {
		return r;
	}
	/* CreateSession takes no option we use; they are ignored. */
	r = portal_session_create(p, session_path, app_id, sd_bus_message_get_sender(m),
			&session);
	if (r < 0) {
		/* The app id may be the one refused for its length. */
		pw_log_warn("CreateSession %s for '%.*s': %s", session_path, PORTAL_MAX_APP_ID,
				app_id, strerror(-r));
		return portal_reply_response(m, PORTAL_RESPONSE_OTHER);
	}
	pw_log_info("session %s created for '%s'", session_path, app_id);
	return portal_reply_response(m, PORTAL_RESPONSE_SUCCESS);
}

/* The session named in a call, if the caller is the one that created it. */
static struct portal_session *caller_session(struct portal *p, sd_bus_message *m,
		const char *path, sd_bus_error *error)
{
	struct portal_session *session = portal_session_find(p, path);

	if (!session) {
		sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no session %s", path);
		return NULL;
	}
	if (portal_session_check_caller(session, m, error) < 0) {
		return NULL;
	}
	return session;
}

static int method_select_sources(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal *p = data;
	struct portal_session *session;
	const char *handle, *session_path, *app_id;
	int r;

	if ((r = read_handles(p, m, error, &handle, &session_path, &app_id)) < 0) {
		return r;
	}
	if (!(session = caller_session(p, m, session_path, error))) {
		return -EINVAL;
	}
	return portal_session_select_sources(session, m);
}

static int method_start(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal *p = data;
	struct portal_session *session;
	const char *handle, *session_path, *app_id, *parent_window;
	int r;

	if ((r = read_handles(p, m, error, &handle, &session_path, &app_id)) < 0 ||
			(r = sd_bus_message_read(m, "s", &parent_window)) < 0) {
		return r;
	}
	if (!(session = caller_session(p, m, session_path, error))) {
		return -EINVAL;
	}
	return portal_session_start(session, m);
}

static int get_u32(sd_bus *bus, const char *path, const char *iface, const char *prop,
		sd_bus_message *reply, void *data, sd_bus_error *error)
{
	uint32_t value = 0;

	if (!strcmp(prop, "AvailableSourceTypes")) {
		value = PORTAL_SOURCE_MONITOR;
	} else if (!strcmp(prop, "AvailableCursorModes")) {
		/* No "embedded": kmscast never draws the cursor into the scanout buffers. */
		value = PORTAL_CURSOR_HIDDEN | PORTAL_CURSOR_METADATA;
	} else if (!strcmp(prop, "version")) {
		value = PORTAL_SCREENCAST_VERSION;
	}
	return sd_bus_message_append(reply, "u", value);
}

static const sd_bus_vtable screencast_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("CreateSession", "oosa{sv}", "ua{sv}", method_create_session,
			SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SelectSources", "oosa{sv}", "ua{sv}", method_select_sources,
			SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Start", "oossa{sv}", "ua{sv}", method_start, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_PROPERTY("AvailableSourceTypes", "u", get_u32, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("AvailableCursorModes", "u", get_u32, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("version", "u", get_u32, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

static int set_frontend(struct portal *p, const char *unique_name)
{
	char *copy = NULL;

	if (unique_name && unique_name[0] && !(copy = strdup(unique_name))) {
		return -ENOMEM;
	}
	free(p->frontend);
	p->frontend = copy; /* owned by p */
	pw_log_info("portal frontend: %s", copy ? copy : "none");
	return 0;
}

/*
 * Follows the frontend's name, and closes the sessions of a frontend that died, which cannot
 * close them itself. The bus sends us this signal before any call that the new owner makes
 * under its name, so the check never lags behind a caller.
 */
static int on_name_owner_changed(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct portal *p = data;
	struct portal_session *session, *tmp;
	const char *name, *old_owner, *new_owner;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) {
		return 0;
	}
	if (!strcmp(name, PORTAL_FRONTEND_NAME)) {
		if (set_frontend(p, new_owner) < 0) {
			set_frontend(p, NULL); /* out of memory: serve nobody rather than a stale name */
		}
		return 0;
	}
	if (new_owner[0]) {
		return 0;
	}
	spa_list_for_each_safe(session, tmp, &p->sessions, link) {
		if (session->owner && !strcmp(session->owner, name)) {
			pw_log_info("session %s: %s left the bus", session->path, name);
			portal_session_destroy(session);
		}
	}
	return 0;
}

static int open_bus(struct portal *p, const struct portal_options *opts)
{
	int r;

	if (!opts->bus_address) {
		return sd_bus_open_user(&p->bus);
	}
	if ((r = sd_bus_new(&p->bus)) < 0) {
		return r;
	}
	if ((r = sd_bus_set_address(p->bus, opts->bus_address)) < 0 ||
			(r = sd_bus_set_bus_client(p->bus, 1)) < 0 || (r = sd_bus_start(p->bus)) < 0) {
		return r;
	}
	return 0;
}

/* Who owns the frontend's name now; NameOwnerChanged keeps it current afterwards. */
static int query_frontend(struct portal *p)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *owner;
	int r;

	r = sd_bus_call_method(p->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			"org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s",
			PORTAL_FRONTEND_NAME);
	if (r < 0) {
		/* Not running yet: it is started on demand and then takes its name. */
		r = sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.NameHasNoOwner")
				? set_frontend(p, NULL)
				: r;
		goto out;
	}
	if ((r = sd_bus_message_read(reply, "s", &owner)) < 0) {
		goto out;
	}
	r = set_frontend(p, owner);
out:
	sd_bus_message_unref(reply);
	sd_bus_error_free(&error);
	return r;
}

static int setup_bus(struct portal *p, const struct portal_options *opts)
{
	const char *name = opts->bus_name ? opts->bus_name : PORTAL_BUS_NAME;
	int r;

	if ((r = open_bus(p, opts)) < 0) {
		pw_log_error("cannot connect to the session bus: %s", strerror(-r));
		return r;
	}
	r = sd_bus_add_object_vtable(p->bus, &p->vtable_slot, PORTAL_OBJECT_PATH,
			PORTAL_SCREENCAST_IFACE, screencast_vtable, p);
	if (r < 0) {
		return r;
	}
	r = sd_bus_match_signal(p->bus, &p->owner_match, "org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged",
			on_name_owner_changed, p);
	if (r < 0) {
		return r;
	}
	/*
	 * After the match: any later change arrives as a signal, handled after this answer. The
	 * match takes NameOwnerChanged from the bus driver only, so no peer can forge one.
	 */
	if ((r = query_frontend(p)) < 0) {
		pw_log_error("cannot ask who owns %s: %s", PORTAL_FRONTEND_NAME, strerror(-r));
		return r;
	}
	/* Exported before the name is taken: a frontend that sees the name finds the object. */
	if ((r = sd_bus_request_name(p->bus, name, 0)) < 0) {
		pw_log_error("cannot own %s: %s", name,
				r == -EEXIST ? "another backend has it" : strerror(-r));
		return r;
	}
	pw_log_info("portal backend on the session bus as %s", name);
	return 0;
}

/* Said once at start: how SelectSources will decide, and whether it can. */
static void log_consent(const struct portal *p)
{
	if (p->consent == PORTAL_CONSENT_NEVER) {
		pw_log_warn("consent = never: portal apps get the first monitor (or all of them) "
			    "without asking anyone%s", p->chooser ? ", or the chooser's pick" : "");
	} else if (p->chooser) {
		pw_log_info("consent: every SelectSources runs the chooser '%s'", p->chooser);
	} else if (p->consent_program) {
		pw_log_info("consent: every SelectSources runs %s", p->consent_program);
	} else {
		pw_log_warn("consent: no consent dialog is installed and no chooser is set: every "
			    "SelectSources will be refused; set chooser = COMMAND, or consent = never "
			    "for a kiosk");
	}
}

int portal_create(struct pw_loop *loop, const struct portal_host_ops *ops, void *host,
		const struct portal_options *opts, struct portal **out)
{
	struct portal *p;
	int r;

	PW_LOG_TOPIC_INIT(portal_topic);
	p = calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	p->loop = loop;
	p->ops = ops;
	p->host = host;
	spa_list_init(&p->sessions);
	if (opts->chooser && opts->chooser[0] && !(p->chooser = strdup(opts->chooser))) {
		r = -ENOMEM;
		goto err;
	}
	if (opts->consent_program && opts->consent_program[0] &&
			!(p->consent_program = strdup(opts->consent_program))) {
		r = -ENOMEM;
		goto err;
	}
	p->consent = opts->consent;
	p->seat_ops = opts->seat_ops ? opts->seat_ops : &portal_seat_logind_ops;
	p->seat_data = opts->seat_data;
	log_consent(p);
	p->copies = opts->copies;
	if (opts->runtime_dir && !(p->runtime_dir = strdup(opts->runtime_dir))) {
		r = -ENOMEM;
		goto err;
	}
	if ((r = setup_bus(p, opts)) < 0) {
		goto err;
	}
	if ((r = portal_bus_attach(p)) < 0) {
		goto err;
	}
	*out = p;
	return 0;

err:
	portal_destroy(p);
	return r;
}

void portal_destroy(struct portal *p)
{
	struct portal_session *session, *tmp;

	if (!p) {
		return;
	}
	spa_list_for_each_safe(session, tmp, &p->sessions, link)
		portal_session_destroy(session);
	portal_bus_detach(p);
	sd_bus_slot_unref(p->owner_match);
	sd_bus_slot_unref(p->vtable_slot);
	if (p->bus) {
		sd_bus_flush(p->bus); /* the last replies; a local socket, so this is brief */
		sd_bus_flush_close_unref(p->bus);
	}
	free(p->frontend);
	free(p->chooser);
	free(p->consent_program);
	free(p->runtime_dir);
	free(p);
}

uint32_t portal_session_count(const struct portal *p)
{
	return p ? p->n_sessions : 0;
}
