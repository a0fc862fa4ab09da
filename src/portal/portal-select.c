/* SPDX-License-Identifier: MIT */
/*
 * SelectSources: which monitors a session may be offered (published, and on the user's
 * seats: portal-seat.c), the consent step (the consent program or chooser, portal-chooser.c,
 * run on every request unless consent = never), and restore data (portal-restore.c), which
 * skips the step only for an answer the user asked to remember for the same app.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/pipewire.h>

#include "portal-internal.h"

PW_LOG_TOPIC_EXTERN(portal_session_topic);
#define PW_LOG_TOPIC_DEFAULT portal_session_topic

struct select_options {
	uint32_t types, cursor_mode, persist_mode;
	int multiple; /* sd-bus reads 'b' as int */
	struct portal_restore restore;
	int n_restore;
};

/* The consent program's environment: "KMSCAST_APP_ID=" and the longest app id. */
#define CONSENT_ENV_APP_ID "KMSCAST_APP_ID="
#define CONSENT_ENV_SIZE (sizeof(CONSENT_ENV_APP_ID) + PORTAL_MAX_APP_ID)
/* Room for a program's name in log lines; longer ones are cut. */
#define CONSENT_NAME_SIZE 256
/* The line of consent output that asks to remember the answer for the app. */
#define CONSENT_REMEMBER "remember"

static int read_options(sd_bus_message *m, struct select_options *o)
{
	int r;

	if ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) {
		return r;
	}
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;

		if ((r = sd_bus_message_read(m, "s", &key)) < 0) {
			return r;
		}
		if (!strcmp(key, "types")) {
			r = sd_bus_message_read(m, "v", "u", &o->types);
		} else if (!strcmp(key, "multiple")) {
			r = sd_bus_message_read(m, "v", "b", &o->multiple);
		} else if (!strcmp(key, "cursor_mode")) {
			r = sd_bus_message_read(m, "v", "u", &o->cursor_mode);
		} else if (!strcmp(key, "persist_mode")) {
			r = sd_bus_message_read(m, "v", "u", &o->persist_mode);
		} else if (!strcmp(key, "restore_data")) {
			r = o->n_restore = portal_restore_read(m, &o->restore);
		} else {
			r = sd_bus_message_skip(m, "v");
		}
		if (r < 0) {
			return r;
		}
		if ((r = sd_bus_message_exit_container(m)) < 0) {
			return r;
		}
	}
	if (r < 0) {
		return r;
	}
	return sd_bus_message_exit_container(m);
}

static void select_done(struct portal_session *session, uint32_t response)
{
	session->state = response == PORTAL_RESPONSE_SUCCESS ? SESSION_SELECTED : SESSION_INIT;
	if (response == PORTAL_RESPONSE_SUCCESS) {
		for (uint32_t i = 0; i < session->n_selected; i++) {
			pw_log_info("session %s: selected %s.%s%s", session->path,
					session->selected[i].card, session->selected[i].connector,
					session->restored ? " (restored)" : "");
		}
	}
}

/* Adds mon to the selection unless it is there or the selection is full. */
static void select_monitor(struct portal_session *session, const struct portal_monitor *mon)
{
	for (uint32_t i = 0; i < session->n_selected; i++) {
		if (!strcmp(session->selected[i].card, mon->card) &&
				!strcmp(session->selected[i].connector, mon->connector)) {
			return;
		}
	}
	if (session->n_selected < (session->multiple ? PORTAL_MAX_MONITORS : 1)) {
		session->selected[session->n_selected++] = *mon;
	}
}

/*
 * Matches consent output lines ("card0:HDMI-A-1", "HDMI-A-1" or "HDMI-A-1\tdescr") against
 * the monitors offered, never against others; a line "remember" asks to remember the answer.
 */
static int parse_choice(struct portal_session *session, char *output)
{
	char *save = NULL;

	session->n_selected = 0;
	session->remember = false;
	for (char *line = strtok_r(output, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\t\r")] = '\0';
		if (!strcmp(line, CONSENT_REMEMBER)) {
			/* Only an app that can keep restore data can be remembered. */
			session->remember = session->persist_mode > 0;
			continue;
		}
		for (uint32_t i = 0; i < session->n_offered; i++) {
			const struct portal_monitor *mon = &session->offered[i];
			char full[2 * KMS_NAME_MAX + 2];

			snprintf(full, sizeof(full), "%.*s:%.*s", KMS_NAME_MAX - 1, mon->card,
					KMS_NAME_MAX - 1, mon->connector);
			if (strcmp(line, full) != 0 && strcmp(line, mon->connector) != 0) {
				continue;
			}
			select_monitor(session, mon);
			break;
		}
	}
	return session->n_selected > 0 ? 0 : -ENOENT;
}

/* What the consent program is called in log lines. */
static void consent_name(const struct portal *p, char *buf, size_t size)
{
	if (p->chooser) {
		snprintf(buf, size, "chooser '%s'", p->chooser);
	} else {
		snprintf(buf, size, "%s", p->consent_program);
	}
}

/* Why no answer could be had, and what to do: the one log line of a refusal. */
static void log_no_answer(struct portal_session *session, const char *what)
{
	if (session->portal->consent == PORTAL_CONSENT_NEVER) {
		pw_log_warn("session %s: the chooser gave no answer (%s); answering 'other'",
				session->path, what);
	} else {
		pw_log_warn("session %s: no consent dialog could be shown (%s); refusing '%s': "
			    "run kmscast in a graphical session (its stderr says why), set chooser = "
			    "COMMAND, or set consent = never for a kiosk",
				session->path, what, session->app_id);
	}
}

static uint32_t consent_answer(struct portal_session *session,
		const struct portal_chooser_result *result)
{
	struct portal *p = session->portal;
	char name[CONSENT_NAME_SIZE], what[CONSENT_NAME_SIZE + 64], how[64];
	char *copy;
	int r;

	consent_name(p, name, sizeof(name));
	portal_chooser_describe(result, how, sizeof(how));
	if (result->res == -ECANCELED) {
		pw_log_info("session %s: the user declined to share a screen with '%s'",
				session->path, session->app_id);
		return PORTAL_RESPONSE_CANCELLED;
	}
	if (result->res < 0) {
		snprintf(what, sizeof(what), "%s %s", name, how);
		log_no_answer(session, what);
		return PORTAL_RESPONSE_OTHER;
	}
	copy = strndup(result->output, result->len);
	r = copy ? parse_choice(session, copy) : -ENOMEM;
	free(copy);
	if (r < 0) {
		pw_log_warn("session %s: %s answered '%.*s', which names no monitor offered; "
			    "cancelled", session->path, name,
				(int)strcspn(result->output, "\n"), result->output);
		return PORTAL_RESPONSE_CANCELLED;
	}
	if (session->remember) {
		pw_log_info("session %s: the user asked to remember this choice for '%s'",
				session->path, session->app_id);
	}
	return PORTAL_RESPONSE_SUCCESS;
}

static void on_chooser_done(void *data, const struct portal_chooser_result *result)
{
	struct portal_session *session = data;
	struct portal *p = session->portal;
	uint32_t response = consent_answer(session, result);

	portal_reply_response(session->pending, response);
	portal_session_end_pending(session);
	portal_chooser_destroy(session->chooser);
	session->chooser = NULL;
	select_done(session, response);
	portal_bus_update(p);
}

/* One line per monitor: "card0:HDMI-A-1<TAB>Dell U2415 (HDMI-A-1) 1920x1200". */
static size_t chooser_input(const struct portal_monitor *avail, uint32_t n, char *buf,
		size_t size)
{
	size_t len = 0;

	for (uint32_t i = 0; i < n && len < size; i++) {
		const struct portal_monitor *m = &avail[i];
		const char *name = m->has_edid ? m->edid.name : "";
		int w = snprintf(buf + len, size - len, "%s:%s\t%s%s%ux%u\n", m->card,
				m->connector, name, name[0] ? " " : "", m->width, m->height);

		if (w < 0) {
			break;
		}
		len += (size_t)w;
	}
	return len < size ? len : size - 1;
}

/* The configured chooser through the shell, else the consent dialog itself. */
static bool consent_command(const struct portal *p, struct portal_chooser_command *cmd)
{
	cmd->shell = p->chooser;
	cmd->path = p->chooser ? NULL : p->consent_program;
	return cmd->shell || cmd->path;
}

/* Runs the consent program on session->offered; the reply comes from on_chooser_done. */
static int run_chooser(struct portal_session *session, sd_bus_message *call)
{
	struct portal *p = session->portal;
	char input[PORTAL_MAX_MONITORS * 128];
	size_t len = chooser_input(session->offered, session->n_offered, input, sizeof(input));
	char app_id[CONSENT_ENV_SIZE];
	const char *env[] = {
		app_id,
		session->multiple ? "KMSCAST_MULTIPLE=1" : "KMSCAST_MULTIPLE=0",
		session->persist_mode == 2 ? "KMSCAST_PERSIST=2"
				: session->persist_mode == 1 ? "KMSCAST_PERSIST=1" : "KMSCAST_PERSIST=0",
		NULL,
	};
	struct portal_chooser_command cmd = {.env = env};
	int r;

	if (!consent_command(p, &cmd)) {
		log_no_answer(session, "kmscast-consent is not installed and no chooser is set");
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	/* session_create bounded the app id; it goes to the child as a value, never as code. */
	snprintf(app_id, sizeof(app_id), "%s%s", CONSENT_ENV_APP_ID, session->app_id);
	if ((r = portal_session_begin_pending(session, call)) < 0) {
		return r;
	}
	r = portal_chooser_start(p->loop, &cmd, input, len, on_chooser_done, session,
			&session->chooser);
	if (r < 0) {
		char what[CONSENT_NAME_SIZE + 64];

		snprintf(what, sizeof(what), "cannot run %s: %s", cmd.shell ? cmd.shell : cmd.path,
				strerror(-r));
		log_no_answer(session, what);
		portal_reply_response(call, PORTAL_RESPONSE_OTHER);
		portal_session_end_pending(session);
		return 1;
	}
	session->state = SESSION_SELECTING;
	return 1; /* replied from on_chooser_done */
}

static uint32_t select_default(struct portal_session *session)
{
	/* Documented in docs/usage.md: the first monitor, or every monitor with "multiple". */
	session->n_selected = session->multiple ? session->n_offered : 1;
	memcpy(session->selected, session->offered, sizeof(session->offered[0]) *
			session->n_selected);
	return PORTAL_RESPONSE_SUCCESS;
}

static bool options_valid(struct portal_session *session, const struct select_options *o)
{
	if (!(o->types & PORTAL_SOURCE_MONITOR)) {
		pw_log_warn("session %s: '%s' asked for source types 0x%x only; kmscast shares "
			    "monitors, not windows or virtual screens: answering 'other'",
				session->path, session->app_id, o->types);
		return false;
	}
	if (o->cursor_mode != PORTAL_CURSOR_HIDDEN && o->cursor_mode != PORTAL_CURSOR_METADATA) {
		pw_log_warn("session %s: cursor mode %u is not offered", session->path,
				o->cursor_mode);
		return false;
	}
	if (o->persist_mode > 2) {
		pw_log_warn("session %s: persist mode %u is not defined", session->path,
				o->persist_mode);
		return false;
	}
	return true;
}

/*
 * Fills session->offered with the published monitors on the user's seats. Returns their
 * count, or 0 or -errno (logged) when there is nothing to offer.
 */
static int offer_monitors(struct portal_session *session)
{
	struct portal *p = session->portal;
	enum portal_seat_outcome outcome;
	char reason[256 + 2 * SEAT_MAX_NAME] = "";
	int n = p->ops->list_monitors(p->host, session->offered, PORTAL_MAX_MONITORS);

	session->n_offered = 0;
	if (n <= 0) {
		pw_log_warn("session %s: no monitor is published", session->path);
		return n;
	}
	n = portal_seat_filter(p->seat_ops, p->seat_data, session->offered, (uint32_t)n,
			&outcome, reason, sizeof(reason));
	if (n <= 0) {
		pw_log_warn("session %s: refusing '%s': %s", session->path, session->app_id,
				reason);
		return n;
	}
	if (outcome == PORTAL_SEAT_NO_LOGIND && !p->no_logind_logged) {
		pw_log_info("logind is not running (no %s): no seats to keep apart, every "
			    "published monitor is offered", SEAT_LOGIND_DIR);
		p->no_logind_logged = true;
	}
	session->n_offered = (uint32_t)n;
	return n;
}

/* Whether the restore data matches offered monitors; if so they are session->selected. */
static bool restore_matches(struct portal_session *session, const struct select_options *o)
{
	if (o->n_restore <= 0) {
		return false;
	}
	if ((o->multiple || o->n_restore == 1) &&
			portal_restore_match(o->restore.entries, (uint32_t)o->n_restore,
					session->offered, session->n_offered,
					session->selected) == 0) {
		session->n_selected = (uint32_t)o->n_restore;
		return true;
	}
	pw_log_info("session %s: restore data does not match the monitors offered here; asking",
			session->path);
	return false;
}

/* Whether the user said "remember" to exactly this app for the restored monitors. */
static bool remembered_for_app(struct portal_session *session, const struct portal_restore *r)
{
	const char *why = NULL;

	if (!r->remembered) {
		why = "the user did not ask to remember it";
	} else if (!session->app_id[0]) {
		why = "the app has no id, so 'remember' cannot tell it from other apps";
	} else if (strcmp(r->app_id, session->app_id) != 0) {
		why = "it was remembered for another app";
	}
	if (why) {
		pw_log_info("session %s: restore data for '%s': %s; asking", session->path,
				session->app_id, why);
	}
	return why == NULL;
}

/* The restored monitors first: the consent program offers them as the preselection. */
static void preselect(struct portal_session *session)
{
	struct portal_monitor ordered[PORTAL_MAX_MONITORS];
	uint32_t n = 0;

	for (uint32_t i = 0; i < session->n_selected; i++) {
		ordered[n++] = session->selected[i];
	}
	for (uint32_t i = 0; i < session->n_offered; i++) {
		bool chosen = false;

		for (uint32_t j = 0; j < session->n_selected && !chosen; j++) {
			chosen = !strcmp(session->offered[i].card, session->selected[j].card) &&
					!strcmp(session->offered[i].connector,
							session->selected[j].connector);
		}
		if (!chosen && n < PORTAL_MAX_MONITORS) {
			ordered[n++] = session->offered[i];
		}
	}
	memcpy(session->offered, ordered, sizeof(ordered[0]) * n);
	session->n_offered = n;
	session->n_selected = 0;
}

static int select_restored(struct portal_session *session, sd_bus_message *call)
{
	session->restored = true;
	select_done(session, PORTAL_RESPONSE_SUCCESS);
	return portal_reply_response(call, PORTAL_RESPONSE_SUCCESS);
}

/* consent = never: restore data, else the chooser among several, else the default. */
static int select_without_consent(struct portal_session *session, sd_bus_message *call,
		bool restored)
{
	if (restored) {
		return select_restored(session, call);
	}
	if (session->n_offered > 1 && session->portal->chooser) {
		return run_chooser(session, call);
	}
	select_done(session, select_default(session));
	return portal_reply_response(call, PORTAL_RESPONSE_SUCCESS);
}

int portal_session_select_sources(struct portal_session *session, sd_bus_message *call)
{
	struct portal *p = session->portal;
	struct select_options o = {.types = PORTAL_SOURCE_MONITOR,
			.cursor_mode = PORTAL_CURSOR_HIDDEN};
	bool restored;
	int r;

	if ((r = read_options(call, &o)) < 0) {
		pw_log_warn("session %s: bad SelectSources options: %s", session->path,
				strerror(-r));
		return r;
	}
	if (session->state != SESSION_INIT && session->state != SESSION_SELECTED) {
		pw_log_warn("session %s: SelectSources in the wrong state", session->path);
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	if (!options_valid(session, &o)) {
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	session->types = o.types;
	session->multiple = o.multiple;
	session->cursor_mode = o.cursor_mode;
	session->persist_mode = o.persist_mode;
	session->restored = false;
	session->remember = false;
	session->n_selected = 0;
	if (offer_monitors(session) <= 0) {
		return portal_reply_response(call, PORTAL_RESPONSE_OTHER);
	}
	restored = restore_matches(session, &o);
	if (p->consent == PORTAL_CONSENT_NEVER) {
		return select_without_consent(session, call, restored);
	}
	if (restored && remembered_for_app(session, &o.restore)) {
		/* Still remembered: the next restore data says so again. */
		session->remember = session->persist_mode > 0;
		return select_restored(session, call);
	}
	if (restored) {
		preselect(session);
	}
	return run_chooser(session, call);
}
