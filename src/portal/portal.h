/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PORTAL_H
#define KMSCAST_PORTAL_H

#include <stdbool.h>
#include <stdint.h>

#include <pipewire/loop.h>
#include <spa/utils/dict.h>

#include "kms.h"
#include "portal-sandbox.h"

/*
 * kmscast's org.freedesktop.impl.portal.ScreenCast backend (interface version 4). It runs in
 * the daemon's PipeWire main loop, on the session bus, as
 * org.freedesktop.impl.portal.desktop.kmscast. It knows nothing of KMS or of how nodes are
 * made: the daemon hands it a struct portal_host, and tests hand it a fake.
 */

#define PORTAL_BUS_NAME "org.freedesktop.impl.portal.desktop.kmscast"
#define PORTAL_OBJECT_PATH "/org/freedesktop/portal/desktop"
#define PORTAL_SCREENCAST_IFACE "org.freedesktop.impl.portal.ScreenCast"
#define PORTAL_REQUEST_IFACE "org.freedesktop.impl.portal.Request"
#define PORTAL_SESSION_IFACE "org.freedesktop.impl.portal.Session"
#define PORTAL_SCREENCAST_VERSION 4
/*
 * xdg-desktop-portal's well-known name. Only its owner may call the backend's methods: apps
 * reach us through it, never directly.
 */
#define PORTAL_FRONTEND_NAME "org.freedesktop.portal.Desktop"

/* Portal constants (org.freedesktop.portal.ScreenCast). */
#define PORTAL_SOURCE_MONITOR 1u
#define PORTAL_SOURCE_WINDOW 2u
#define PORTAL_SOURCE_VIRTUAL 4u
#define PORTAL_CURSOR_HIDDEN 1u
#define PORTAL_CURSOR_EMBEDDED 2u
#define PORTAL_CURSOR_METADATA 4u
#define PORTAL_RESPONSE_SUCCESS 0u
#define PORTAL_RESPONSE_CANCELLED 1u
#define PORTAL_RESPONSE_OTHER 2u

/* Upper bound on the monitors one listing or one session may hold. */
#define PORTAL_MAX_MONITORS 16

/* A monitor the host publishes now. */
struct portal_monitor {
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX];
	uint32_t crtc_id;
	uint32_t width, height; /* the CRTC's mode */
	int32_t x, y; /* the CRTC's offset in its framebuffer: primary plane SRC_X/Y */
	bool has_edid;
	struct kms_monitor edid;
};

struct portal_node;

struct portal_node_events {
	/* The node has global id global_id in PipeWire. Called at most once. */
	void (*ready)(void *data, uint32_t global_id);
	/*
	 * The node is gone: it failed to export (before ready), the server removed it, its
	 * monitor went dark or was unplugged, or PipeWire went away. res says why (-ENODEV
	 * for the monitor). The host destroys nothing: the portal calls destroy_node.
	 */
	void (*gone)(void *data, int res);
};

struct portal_host_ops {
	/* Writes up to max published monitors into out. Returns the count or -errno. */
	int (*list_monitors)(void *host, struct portal_monitor *out, uint32_t max);
	/*
	 * Creates a node of its own for one portal stream on monitor, with extra_props added to
	 * the node's properties. Events arrive later from the loop, never from inside this call.
	 * Returns the node (owned by the caller until destroy_node) or NULL with errno set.
	 */
	struct portal_node *(*create_node)(void *host, const struct portal_monitor *monitor,
			const struct spa_dict *extra_props, const struct portal_node_events *events,
			void *data);
	/* Removes the node from PipeWire and frees it. Accepts NULL. No event follows. */
	void (*destroy_node)(void *host, struct portal_node *node);
};

/* Whether SelectSources asks the user (docs/configuration.md, "consent"). */
enum portal_consent {
	PORTAL_CONSENT_ASK, /* the consent program runs on every SelectSources */
	PORTAL_CONSENT_NEVER, /* kiosks: the first monitor, or all; chooser only among several */
};

struct portal_seat_ops; /* portal-seat.h */

struct portal_options {
	/* Shell command run through /bin/sh -c instead of the consent program; NULL or "": none. */
	const char *chooser;
	enum portal_consent consent; /* 0 is PORTAL_CONSENT_ASK */
	/*
	 * The consent dialog (kmscast-consent), executed directly, without a shell, when chooser
	 * is unset. NULL: none, and with PORTAL_CONSENT_ASK every SelectSources is refused.
	 */
	const char *consent_program;
	/* Where the seats of the user and of the cards come from; NULL: logind and udev. */
	const struct portal_seat_ops *seat_ops;
	void *seat_data;
	const char *bus_address; /* NULL: the user's session bus */
	const char *bus_name; /* NULL: PORTAL_BUS_NAME */
	/* Whose sessions get copy nodes (kmscast.copy); 0 is PORTAL_COPIES_SANDBOXED. */
	enum portal_copies copies;
	/* Where Flatpak keeps its instances; NULL: $XDG_RUNTIME_DIR when a session starts. */
	const char *runtime_dir;
};

struct portal;

/*
 * Connects to the session bus, exports the ScreenCast object, takes the bus name and adds
 * the bus fd to loop. Methods answer only the current owner of PORTAL_FRONTEND_NAME, which
 * it follows from then on; properties stay readable by anyone (the frontend reads them
 * before it owns its name). ops/host must outlive the portal; opts is copied. On success *out is
 * owned by the caller. Returns 0 or -errno (-EEXIST: another backend owns the name).
 */
int portal_create(struct pw_loop *loop, const struct portal_host_ops *ops, void *host,
		const struct portal_options *opts, struct portal **out);

/* Closes every session (removing their nodes), leaves the bus and frees. Accepts NULL. */
void portal_destroy(struct portal *portal);

/* Number of open sessions, for tests and the log. */
uint32_t portal_session_count(const struct portal *portal);

#endif
