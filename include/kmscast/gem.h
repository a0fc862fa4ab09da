/* SPDX-License-Identifier: MIT */
/*
 * GEM handles that GETFB2 hands a privileged caller (common/gem.c). Built into kmscast-helper
 * and into the unprivileged library (src/lib/kms.c): whichever gets handles closes them the same
 * way. Needs libdrm, not PipeWire.
 */
#ifndef KMSCAST_GEM_H
#define KMSCAST_GEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Closes each distinct non-zero handle of handles[0..n) on the DRM fd drm_fd once: the planes
 * of one buffer object share a handle. Zero entries are skipped, not an end mark. Returns 0,
 * or the -errno of the first GEM_CLOSE that failed (the others are still closed).
 */
int gem_close_handles(int drm_fd, const uint32_t *handles, size_t n);

#endif
