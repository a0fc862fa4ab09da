/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_RATE_CAP_H
#define KMSCAST_RATE_CAP_H

/*
 * The consumer's maximum framerate, kept: a screen that flips faster than the consumer asked
 * (a 144 Hz monitor, OBS's 30 fps canvas, a browser's 30 fps) gives it at most that rate,
 * evenly spaced. Frames are dropped, never queued: a consumer gets no burst.
 *
 * Frames are due on an ideal grid one cap period apart. A flip goes out when it comes no
 * earlier than half a screen period before the next point of the grid, and the grid then
 * moves one period on: the average rate is the cap, and each frame is off the grid by at most
 * half a screen period (144 Hz capped at 60: 2 and 3 flips apart in turn). And no frame
 * goes out less than a period less half a screen period after the one before: after a flip
 * that came late (a compositor that missed a vblank, a read the node made late), the very
 * next flip waits, where the grid alone would send it (under TCG it sent 5 of 45 frames
 * right after the one before at 60 Hz capped at 30). A screen idle for more than a cap
 * period starts the grid again at its next flip.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/param/video/raw.h>
#include <spa/utils/defs.h>

/*
 * The period to cap frames at, in ns, for a consumer's maximum framerate max on a screen of
 * refresh_mhz; 0 for no cap: no maximum (0/1), or one within 3% of the screen's rate, so
 * that a consumer asking for the screen's own rate (59.94 against 60) loses no flip to
 * jitter.
 */
static inline uint64_t rate_cap_period_ns(struct spa_fraction max, uint32_t refresh_mhz)
{
	if (max.num == 0 || max.denom == 0 || refresh_mhz == 0) {
		return 0;
	}
	/* max < 0.97 * refresh, in integers: max.num * 100000 < 97 * refresh_mhz * max.denom */
	if ((uint64_t)max.num * 100000 >= (uint64_t)97 * refresh_mhz * max.denom) {
		return 0;
	}
	return (uint64_t)max.denom * SPA_NSEC_PER_SEC / max.num;
}

struct rate_cap {
	uint64_t next_ns; /* the grid's next point; 0 before the first frame */
	uint64_t last_ns; /* when the last frame went out */
};

/*
 * Whether a flip at now_ns goes out under a cap of period_ns (0: always) on a screen of
 * refresh_mhz.
 */
static inline bool rate_cap_take(struct rate_cap *rc, uint64_t now_ns, uint64_t period_ns,
		uint32_t refresh_mhz)
{
	uint64_t slack = refresh_mhz ? (uint64_t)SPA_NSEC_PER_SEC * 1000 / refresh_mhz / 2 : 0;

	if (period_ns == 0) {
		rc->next_ns = 0;
		return true;
	}
	if (rc->next_ns == 0 || now_ns >= rc->next_ns + period_ns) {
		rc->next_ns = now_ns + period_ns;
	} else if (now_ns + slack >= rc->next_ns && now_ns + slack >= rc->last_ns + period_ns) {
		rc->next_ns += period_ns;
	} else {
		return false;
	}
	rc->last_ns = now_ns;
	return true;
}

#endif
