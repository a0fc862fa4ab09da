/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_INTERNAL_H
#define KMSCAST_PORTAL_INTERNAL_H

/* Private to the backend's portal*.c. */

#include <spa/utils/list.h>
#include <systemd/sd-bus.h>

#include "portal-chooser.h"
#include "portal-restore.h"
#include "portal-seat.h"
#include "portal.h"

/* The frontend makes one session per app request; more than this at once is a runaway app. */
#define PORTAL_MAX_SESSIONS 64
/* A node that has no global id after this long will not get one (PipeWire is stuck). */
#define PORTAL_START_TIMEOUT_MS 10000

struct portal {
	struct pw_loop *loop;
	const struct portal_host_ops *ops;
	void *host;
	char *chooser; /* owned; NULL when unset */
	enum portal_consent consent;
	char *consent_program; /* owned; NULL when there is none */
	const struct portal_seat_ops *seat_ops;
	void *seat_data;
	bool no_logind_logged; /* "offering every monitor" is said once */
	enum portal_copies copies;
	char *runtime_dir; /* owned; NULL: $XDG_RUNTIME_DIR */
	sd_bus *bus; /* owned */
	sd_bus_slot *vtable_slot; /* owned */
	sd_bus_slot *owner_match; /* owned: NameOwnerChanged, to drop a dead frontend's sessions */
	char *frontend; /* owned: unique name owning PORTAL_FRONTEND_NAME; NULL when none */
	struct spa_source *bus_io;
	struct spa_source *bus_timer;
	struct spa_list sessions; /* portal_session::link */
	uint32_t n_sessions;
	uint32_t node_serial; /* makes node.name unique per stream */
};

enum portal_session_state {
	SESSION_INIT,
	SESSION_SELECTING, /* SelectSources waits for the consent program or chooser */
	SESSION_SELECTED,
	SESSION_STARTING, /* Start waits for the nodes' global ids */
	SESSION_STARTED,
};

struct portal_stream {
	struct portal_session *session;
	struct portal_monitor monitor;
	struct portal_node *node; /* owned, destroyed through the host */
	uint32_t node_id; /* SPA_ID_INVALID until ready */
};

struct portal_session {
	struct portal *portal;
	struct spa_list link; /* portal::sessions */
	char *path; /* owned: the impl.portal.Session object path */
	char *app_id; /* owned */
	char *owner; /* owned: unique bus name of the caller (the frontend) */
	bool copies; /* its nodes serve CPU copies (kmscast.copy), decided at CreateSession */
	sd_bus_slot *slot; /* owned: the Session object */
	enum portal_session_state state;

	uint32_t types, cursor_mode, persist_mode;
	bool multiple;

	/* What this SelectSources may choose from: the user's seats' monitors. */
	struct portal_monitor offered[PORTAL_MAX_MONITORS];
	uint32_t n_offered;
	struct portal_monitor selected[PORTAL_MAX_MONITORS];
	uint32_t n_selected;
	bool restored; /* selection came from restore_data */
	/* The user said "remember for this app": Start's restore_data says so (persist only). */
	bool remember;

	struct portal_stream streams[PORTAL_MAX_MONITORS];
	uint32_t n_streams;

	/* The one pending SelectSources or Start call, replied exactly once. */
	sd_bus_message *pending; /* ref owned */
	sd_bus_slot *request_slot; /* owned: the impl.portal.Request object */
	struct portal_chooser *chooser; /* owned while SELECTING */
	struct spa_source *start_timer; /* owned while STARTING */
};

/* portal-bus.c */
/*
 * Puts the bus connection into the PipeWire loop (an io source and a timer). Returns 0 or
 * -errno; portal_bus_detach undoes a partial attach too.
 */
int portal_bus_attach(struct portal *p);
/* Takes the connection out of the loop; accepts a portal never attached. */
void portal_bus_detach(struct portal *p);
/* Recomputes the bus fd's poll mask and timeout; call after anything that may have sent. */
void portal_bus_update(struct portal *portal);
/* Replies (u response, a{sv} {}) to call. Returns 0 or -errno. */
int portal_reply_response(sd_bus_message *call, uint32_t response);
/*
 * Every method handler starts here. Returns 0 when m comes from the frontend, else sets
 * error to AccessDenied and returns -EACCES (return that from the handler).
 */
int portal_check_frontend(struct portal *portal, sd_bus_message *m, sd_bus_error *error);

/* portal-session.c */
/*
 * Creates the session object at path for a CreateSession call from owner. Returns 0 or
 * -errno (-EEXIST for a path in use, -ENOSPC over PORTAL_MAX_SESSIONS).
 */
int portal_session_create(struct portal *portal, const char *path, const char *app_id,
		const char *owner, struct portal_session **out);
/* Removes its objects and nodes, answers a pending call with OTHER, frees. Accepts NULL. */
void portal_session_destroy(struct portal_session *session);
/* Emits Session.Closed, then destroys: for a session ended by kmscast rather than the app. */
void portal_session_close_from_backend(struct portal_session *session, const char *why);
struct portal_session *portal_session_find(struct portal *portal, const char *path);
/*
 * Returns 0 when m comes from the frontend that created session, else sets error to
 * AccessDenied and returns -EACCES.
 */
int portal_session_check_caller(struct portal_session *session, sd_bus_message *m,
		sd_bus_error *error);
/* Start on a found session: it owns replying to call (may be later). */
int portal_session_start(struct portal_session *session, sd_bus_message *call);
/*
 * Keeps call as the session's one pending call, to be replied later, and exports its
 * impl.portal.Request object. Returns 0 or -errno.
 */
int portal_session_begin_pending(struct portal_session *session, sd_bus_message *call);
/* Drops the pending call (replied by then) and its Request object. */
void portal_session_end_pending(struct portal_session *session);

/* portal-select.c */
/* SelectSources on a found session: it owns replying to call (may be later). */
int portal_session_select_sources(struct portal_session *session, sd_bus_message *call);

#endif
