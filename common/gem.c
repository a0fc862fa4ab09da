/* SPDX-License-Identifier: MIT */
/* Closing the GEM handles of one framebuffer (include/kmscast/gem.h). */
#include <errno.h>
#include <stdbool.h>

#include <xf86drm.h>

#include "kmscast/gem.h"

int gem_close_handles(int drm_fd, const uint32_t *handles, size_t n)
{
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++) {
			seen |= handles[j] == handles[i];
		}
		/*
		 * A second GEM_CLOSE of a shared handle would fail, or, once the number is
		 * reused by another thread's import, close someone else's buffer.
		 */
		if (handles[i] == 0 || seen) {
			continue;
		}
		if (drmCloseBufferHandle(drm_fd, handles[i]) < 0 && r == 0) {
			r = -errno;
		}
	}
	return r;
}
