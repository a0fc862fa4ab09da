/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_CONSUMER_WATCH_H
#define KMSCAST_CONSUMER_WATCH_H

/*
 * Consumers that no session manager will link to a kmscast node, found in the registry and
 * explained in the daemon's log.
 *
 * A PipeWire stream that connects without a single EnumFormat gets media.class
 * Stream/Input/Unknown and no media.type. gst pipewiresrc does that when its peer accepts
 * any caps (fakesink, appsink or filesink without a caps filter): it turns ANY into no
 * format at all. WirePlumber links a stream only to a target of its own media type, so the
 * stream stays unlinked, the node never hears of it, and pipewiresrc gives up after 30 s
 * with no reason (WirePlumber 0.4; 0.5 fails it with "target not found"). The watch fails
 * such a stream that targets a kmscast node, with what to put in the pipeline as the
 * reason, and logs the same.
 */

#include <pipewire/pipewire.h>

struct consumer_watch;

/*
 * Watches core's registry until destroyed. The watch owns its registry and node proxies;
 * the core must outlive it. Returns 0 or -errno.
 */
int consumer_watch_new(struct pw_core *core, struct consumer_watch **out);
void consumer_watch_destroy(struct consumer_watch *w);

/*
 * Whether a stream's target (target.object or node.target: an object id, a serial or a
 * node name) names a kmscast node, given the node's global id, serial (UINT64_MAX: unknown)
 * and name. Exposed for the unit test.
 */
bool consumer_watch_target_matches(const char *target, uint32_t id, uint64_t serial,
		const char *name);

#endif
