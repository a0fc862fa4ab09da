/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_FLIP_SOURCE_H
#define KMSCAST_FLIP_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <spa/support/log.h>
#include <spa/support/loop.h>
#include <spa/support/system.h>

/*
 * What wakes the node up to look for a page flip. Another process flipped, so no flip event
 * reaches us (the kernel sends those to the flipper only); we look at the primary plane's
 * FB once per wake-up instead. Two variants behind one ops table:
 *   - vblank: a CRTC sequence event per vblank, read from the card fd (vkms, real hardware),
 *     plus reads every quarter period until the next one (see on_sequence);
 *   - timer: a timerfd polling at a multiple of the mode's refresh rate (virtio-gpu 6.1 has no
 *     vblank: drmCrtcQueueSequence answers EOPNOTSUPP).
 * Both run on the data loop; tick() is called there.
 */
struct flip_source;

/* CLOCK_MONOTONIC now in ns: the clock of tick times. */
static inline uint64_t flip_source_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return SPA_TIMESPEC_TO_NSEC(&ts);
}

struct flip_source_events {
	/* nsec: CLOCK_MONOTONIC time of the vblank, or of the timer expiry. */
	void (*tick)(void *data, uint64_t nsec);
};

struct flip_source_ops {
	const char *name;
	int (*start)(struct flip_source *fs);
	void (*stop)(struct flip_source *fs);
};

struct flip_source {
	const struct flip_source_ops *ops;
	struct spa_log *log;
	struct spa_loop *data_loop;
	struct spa_system *system;
	struct spa_source source; /* on data_loop while started */
	struct spa_source retry; /* vblank only, on timer_fd: re-queues after a refusal, or reads
				  * mid-period */
	int card_fd; /* borrowed from the node's kms_device */
	int timer_fd; /* owned: the poll timer, or the vblank retry timer */
	uint32_t crtc_id;
	uint64_t interval_ns;
	bool started;
	bool idle; /* nobody streams: a slow poll that only keeps the FB set learnt */
	bool queued; /* a vblank sequence event is outstanding */
	uint32_t in_kernel; /* vblank: events queued and not yet read, across stops */
	uint64_t last_tick_ns; /* vblank: the time the last tick was given */
	uint64_t last_read_ns; /* vblank: when the last tick ran (0: none since the start) */
	uint64_t vblank_ns; /* vblank: the kernel's time of the last vblank event (0: none) */
	/*
	 * timer: timer periods that passed without a tick. vblank: the vblanks inside gaps
	 * between two reads of FB_ID longer than a third of a period (flip-source.c says why
	 * that bounds the commits lost in them).
	 */
	uint64_t missed;
	/* vblank: events handled while streaming; one per vblank, two if two chains ran. */
	uint64_t vblanks;
	const struct flip_source_events *events;
	void *data;
};

/* Poll this many times per refresh period without vblank; see flip-source.c. */
#define FLIP_TIMER_OVERSAMPLE 4
#define FLIP_IDLE_NS (100 * SPA_NSEC_PER_MSEC)

/*
 * Prepares fs. vblank selects the ops; refresh_mhz sets the timer's period. card_fd stays
 * owned by the caller and must outlive fs. Returns 0 or -errno.
 */
int flip_source_init(struct flip_source *fs, struct spa_log *log, struct spa_loop *data_loop,
		struct spa_system *system, int card_fd, uint32_t crtc_id, bool vblank,
		uint32_t refresh_mhz, const struct flip_source_events *events, void *data);

/* Adds the source to the data loop. Call from the data loop. Returns 0 or -errno. */
int flip_source_start(struct flip_source *fs);

/*
 * Idle: no consumer, so only the scanout set needs watching; tick every FLIP_IDLE_NS instead
 * of every vblank (the node adds bursts at the full rate to learn a swapchain). Call from the
 * data loop, a tick included.
 */
void flip_source_set_idle(struct flip_source *fs, bool idle);

/* The mode's refresh changed: new poll and gap periods. Call from the data loop. */
void flip_source_set_refresh(struct flip_source *fs, uint32_t refresh_mhz);

/*
 * How many vblanks fall at times t with from < t <= to, for vblanks at ref + k * period
 * (any integer k: from and to may lie before ref). Pure; the read-gap count uses it.
 */
uint64_t flip_vblanks_between(uint64_t ref, uint64_t period, uint64_t from, uint64_t to);

/* Removes it from the data loop. Call from the data loop. Idempotent. */
void flip_source_stop(struct flip_source *fs);

/* Stops (the caller must be on the data loop or hold it) and closes the timer. Accepts a
 * zeroed fs. */
void flip_source_finish(struct flip_source *fs);

#endif
