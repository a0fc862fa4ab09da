/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_DAEMON_PORTAL_H
#define KMSCAST_DAEMON_PORTAL_H

#include <errno.h>

#include "daemon.h"

/*
 * The portal backend inside the daemon (src/daemon-portal.c): implements struct portal_host
 * with the daemon's KMS state and PipeWire connection.
 */
struct daemon_portal;

#ifdef KMSCAST_HAVE_PORTAL
/*
 * Starts the backend on the session bus. On success *out is owned by the daemon. Returns 0
 * or -errno; the daemon runs on without a portal when this fails.
 */
int daemon_portal_create(struct daemon *d, struct daemon_portal **out);

/* After each rescan: ends the streams whose monitor went dark or away. Accepts NULL. */
void daemon_portal_rescanned(struct daemon_portal *dp);

/* PipeWire went away: every stream's node is gone. Call before the core is disconnected. */
void daemon_portal_core_lost(struct daemon_portal *dp);

/* Closes every portal session and its nodes, leaves the bus. Accepts NULL. */
void daemon_portal_destroy(struct daemon_portal *dp);
#else
/* Built without libsystemd: no portal backend. */
static inline int daemon_portal_create(struct daemon *d, struct daemon_portal **out)
{
	return -ENOTSUP;
}
static inline void daemon_portal_rescanned(struct daemon_portal *dp)
{
}
static inline void daemon_portal_core_lost(struct daemon_portal *dp)
{
}
static inline void daemon_portal_destroy(struct daemon_portal *dp)
{
}
#endif

#endif
