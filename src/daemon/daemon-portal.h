/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_DAEMON_PORTAL_H
#define KMSCAST_DAEMON_PORTAL_H

#include <errno.h>

/*
 * The portal backend inside the daemon: implements struct portal_host_ops (portal.h) with
 * the daemon's published monitors (outputs.h) and its node host (node-host.h).
 */
struct daemon_portal;
struct kmscast_config;
struct node_host;
struct outputs;
struct pw_loop;

#ifdef KMSCAST_HAVE_PORTAL
/*
 * Starts the backend on the session bus, on loop. config (may be NULL), outputs and host
 * stay the daemon's and must outlive the backend; the portal offers the monitors outputs
 * publishes and exports its nodes through host. On success *out is owned by the daemon.
 * Returns 0 or -errno; the daemon runs on without a portal when this fails.
 */
int daemon_portal_create(struct pw_loop *loop, const struct kmscast_config *config,
		const struct outputs *outputs, const struct node_host *host,
		struct daemon_portal **out);

/* After each rescan: ends the streams whose monitor went dark or away. Accepts NULL. */
void daemon_portal_rescanned(struct daemon_portal *dp);

/* PipeWire went away: every stream's node is gone. Call before the core is disconnected. */
void daemon_portal_core_lost(struct daemon_portal *dp);

/* Closes every portal session and its nodes, leaves the bus. Accepts NULL. */
void daemon_portal_destroy(struct daemon_portal *dp);
#else
/* Built without libsystemd: no portal backend. */
static inline int daemon_portal_create(struct pw_loop *loop,
		const struct kmscast_config *config, const struct outputs *outputs,
		const struct node_host *host, struct daemon_portal **out)
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
