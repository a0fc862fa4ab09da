/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SCANOUT_SET_H
#define KMSCAST_SCANOUT_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helper-client.h"

/*
 * The framebuffers a CRTC has been seen scanning out, each exported once through the helper.
 * PipeWire hands buffer fds to consumers only when buffers are allocated (0.3.65), so the
 * node's buffer slots alias these: the set must hold every FB the compositor flips between.
 * A compositor double or triple buffers; direct scanout and reallocation add more. The set is
 * bounded: FBs that no longer exist are pruned whenever one joins, and a swapchain of more
 * live FBs than the bound keeps the set it has (frames on the others are dropped) rather than
 * renegotiating on every flip.
 */
#define MAX_SCANOUT_FBS 16

struct scanout_fb {
	uint32_t fb_id;
	struct helper_fb hfb; /* owns its fds */
	uint32_t plane_size[4]; /* bytes of plane i: pitch * rows */
	uint64_t fd_size[4]; /* size of hfb.fds[i], from lseek */
	ino_t fd_ino[4]; /* inode of hfb.fds[i]: which buffer object it is */
	/*
	 * SHM path: maps[i] is a read-only mapping of hfb.fds[i], fd_size[i] bytes, owned by fb;
	 * scanout_fb_map makes one for every fd or none, and all are NULL until it does.
	 */
	void *maps[4];
	bool mappable; /* linear, and every fd maps with a plain mmap (scanout_fb_init) */
};

struct scanout_set {
	uint32_t n;
	struct scanout_fb fbs[MAX_SCANOUT_FBS];
};

/* Index of fb_id in the set, or -1. */
int scanout_set_find(const struct scanout_set *set, uint32_t fb_id);

/*
 * True when b can share a buffer pool with a: same size, format, modifier and layout.
 * Anything else needs a new format, not just more buffers.
 */
bool scanout_fb_compatible(const struct scanout_fb *a, const struct scanout_fb *b);

/* Rows of plane i; the chroma planes of the 4:2:0 formats have half as many. */
uint32_t scanout_fb_plane_rows(const struct helper_fb *hfb, uint32_t i);

/*
 * True when the FB's bytes are its pixels, row by row: an explicit LINEAR modifier, or none
 * (an FB added without DRM_MODE_FB_MODIFIERS, whose format without a modifier promises linear
 * memory to the consumer; the CPU copy reads it the same way).
 */
bool scanout_fb_linear(const struct helper_fb *hfb);

/*
 * The spa_data flags of a dma-buf that aliases fb: READABLE, and MAPPABLE when fb->mappable.
 * PipeWire from 1.1.81 maps a dma-buf for a MAP_BUFFERS consumer (OBS) only when it says
 * MAPPABLE, and a failed map fails the consumer's buffers. A tiled FB's mapping would hold
 * tiles, not rows, so it never says so.
 */
uint32_t scanout_fb_data_flags(const struct scanout_fb *fb);

/*
 * True when a and b are exports of the same buffer objects: the kernel gives one object the
 * same dma-buf while it is exported, so the same inodes. An FB id alone is not enough, the
 * kernel reuses them.
 */
bool scanout_fb_same_buffers(const struct scanout_fb *a, const struct scanout_fb *b);

/*
 * Wraps a helper export into fb: measures its fds and, for a linear FB, tries a read-only
 * mapping of each (unmapped at once) to set fb->mappable. Takes ownership of hfb's fds (hfb is
 * zeroed). Returns 0 or -errno; on error the fds are closed.
 */
int scanout_fb_init(struct scanout_fb *fb, struct helper_fb *hfb);

/*
 * dst becomes a copy of src with fds of its own (dup'd, close-on-exec) and no mappings.
 * Returns 0 or -errno; on error dst holds nothing.
 */
int scanout_fb_dup(struct scanout_fb *dst, const struct scanout_fb *src);

/* Closes the fds and unmaps every mapping. Accepts a zeroed or finished fb. */
void scanout_fb_finish(struct scanout_fb *fb);

/*
 * Maps every fd of a linear FB read-only for CPU copies, one mapping per fd (fb->maps, owned
 * by fb until scanout_fb_finish); does nothing when they are mapped already. Returns 0,
 * -ENOTSUP for a tiled FB, -EINVAL for one without fds, or -errno from mmap, with none of
 * them left mapped.
 */
int scanout_fb_map(struct scanout_fb *fb);

/*
 * Moves fb into the set (fb is zeroed). Returns the index, or -ENOSPC when full.
 */
int scanout_set_add(struct scanout_set *set, struct scanout_fb *fb);

/*
 * Moves entry i (i < set->n) into *out, keeping the order of the others: the caller finishes
 * it, e.g. once no other thread reads the set it came from.
 */
void scanout_set_take(struct scanout_set *set, uint32_t i, struct scanout_fb *out);

/* Removes and finishes entry i, keeping the order of the others. */
void scanout_set_remove(struct scanout_set *set, uint32_t i);

/* Finishes every entry. */
void scanout_set_clear(struct scanout_set *set);

#endif
