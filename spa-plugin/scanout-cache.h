/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SCANOUT_CACHE_H
#define KMSCAST_SCANOUT_CACHE_H

#include <stdint.h>

#include "kms.h"
#include "scanout-set.h"

/*
 * The FBs any node of this process has learned on one CRTC. The helper exports only the FB on
 * screen at the moment of asking, so a node learns a swapchain one sampled flip at a time, and
 * each FB it does not know yet costs a frame and a renegotiation. A node created later for the
 * same CRTC (a portal session's, while the daemon's own node has run for minutes) starts from
 * what is here instead. Entries hold dups of the learning node's fds: every node and the cache
 * own their fds, and the dma-bufs are shared, which keeps every node zero-copy.
 * Thread-safe: nodes may live on different main loops.
 */
struct scanout_cache;

/* The cache for (card, crtc_id), created empty on first use. NULL only on -ENOMEM. */
struct scanout_cache *scanout_cache_ref(const char *card, uint32_t crtc_id);

/* Drops a reference; the last one closes the cached fds. Accepts NULL. */
void scanout_cache_unref(struct scanout_cache *cache);

/*
 * Records fb (its fds are dup'd; fb is unchanged). Entries the kernel no longer knows, or of
 * another format than fb, are dropped first. A full cache keeps what it has.
 * Returns 0 or -errno.
 */
int scanout_cache_put(struct scanout_cache *cache, struct kms_device *kms,
		const struct scanout_fb *fb);

/*
 * Adds to set a dup of every cached FB it lacks that still exists and can share a pool with
 * set->fbs[0]. Needs a non-empty set: the FB on screen now says which format is current.
 * Returns how many were added, or -errno.
 */
int scanout_cache_seed(struct scanout_cache *cache, struct kms_device *kms,
		struct scanout_set *set);

/*
 * Drops every entry (their card went away: the ids mean nothing on the card that comes
 * back, and the dma-bufs keep the old device alive). Accepts NULL.
 */
void scanout_cache_clear(struct scanout_cache *cache);

#endif
