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
 * The vblank events also measure the refresh period (refresh_changed). The timer measures
 * nothing: there refresh_changed comes once a second while a stream runs, a "maybe".
 * Both run on the data loop; tick() and the other events are called there.
 */
struct flip_source;

/* CLOCK_MONOTONIC now in ns: the clock of tick times. */
static inline uint64_t flip_source_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return SPA_TIMESPEC_TO_NSEC(&ts);
}

enum flip_tick_kind {
	FLIP_TICK_VBLANK, /* the read right after a vblank event */
	FLIP_TICK_BETWEEN, /* a read between two vblank events of the chain */
	FLIP_TICK_POLL, /* the timer's poll (no vblank), or an idle poll: nothing tells a latch */
};

/* One read of FB_ID, and what the source knows of the vblanks when it is made. */
struct flip_tick {
	enum flip_tick_kind kind;
	uint64_t nsec; /* the tick's time: the vblank's, else the read's; never goes back */
	uint64_t now; /* when the read is made (CLOCK_MONOTONIC ns) */
	uint64_t prev_ns; /* when the read before it was made; 0: none since the start, or idle */
	/*
	 * VBLANK and BETWEEN: the kernel's time and sequence number of the last vblank event
	 * handled (for VBLANK, this tick's own), and the vblank period. POLL: vblank_seq
	 * counts the polls since the source was made, vblank_ns is 0.
	 */
	uint64_t vblank_ns;
	uint64_t vblank_seq;
	uint64_t period_ns;
};

struct flip_source_events {
	void (*tick)(void *data, const struct flip_tick *t);
	/*
	 * The mode's refresh is worth reading again. vblank: the vblanks have kept a period
	 * other than the refresh set (flip_source_set_refresh) for FLIP_PERIOD_WINDOWS windows
	 * in a row. timer: every FLIP_REFRESH_ASK_NS while not idle, since nothing is measured.
	 * At most once per FLIP_REFRESH_ASK_NS. May be NULL.
	 */
	void (*refresh_changed)(void *data);
	/*
	 * The card fd hung up, or an ioctl on it said ENODEV (the device was unplugged or its
	 * driver unbound: a DRM fd reports no hang-up then). The source has stopped and stays
	 * stopped until flip_source_set_card; reported once per card. err: -EPIPE for a hang-up,
	 * else the ioctl's -errno. May be NULL.
	 */
	void (*card_lost)(void *data, int err);
};

/*
 * The vblank period check: consecutive CRTC sequence events (sequence, time) measure the
 * period over windows of at least FLIP_PERIOD_WINDOW vblanks, by the sequence delta, so that
 * an event missed or handled late changes nothing. Two windows in a row that measure the same
 * period (within the tolerance), off the period set by more than 1/FLIP_PERIOD_TOLERANCE, say
 * the mode changed to another rate: FLIP_PERIOD_WINDOWS * FLIP_PERIOD_WINDOW vblanks. A lone
 * odd timestamp stretches one window and shrinks the next, which then disagree.
 */
#define FLIP_PERIOD_WINDOW 4
#define FLIP_PERIOD_WINDOWS 2
#define FLIP_PERIOD_TOLERANCE 25 /* 4% */
/* The refresh is asked for again at most this often: a driver whose vblank clock strays from
 * its mode's (variable refresh) would otherwise cost a GETCRTC per window. */
#define FLIP_REFRESH_ASK_NS (1000 * SPA_NSEC_PER_MSEC)

struct flip_period_check {
	uint64_t ref_seq, ref_ns; /* the window's first event; ref_ns 0: none yet */
	uint64_t off_period_ns; /* the last window's period when it was off, else 0 */
	uint32_t off_windows; /* windows in a row off, at about off_period_ns */
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
	int card_fd; /* borrowed from the node's kms_device; flip_source_set_card swaps it */
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
	uint64_t vblank_seq; /* vblank: and its sequence number */
	uint64_t polls; /* timer: expirations since init, the POLL ticks' vblank_seq */
	/*
	 * timer: timer periods that passed without a tick. vblank: the vblanks inside gaps
	 * between two reads of FB_ID longer than a third of a period (flip-source.c says why
	 * that bounds the commits lost in them).
	 */
	uint64_t missed;
	/* vblank: events handled while streaming; one per vblank, two if two chains ran. */
	uint64_t vblanks;
	struct flip_period_check period; /* vblank: reset at each start and refresh */
	uint64_t refresh_asked_ns; /* when refresh_changed was last called (timer: or the poll
				     * began; 0: never) */
	bool lost; /* card_lost was reported: nothing starts until flip_source_set_card */
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

/*
 * Adds the source to the data loop. Call from the data loop. Returns 0 or -errno: -ENODEV
 * once the card is lost (card_lost then was or is now reported).
 */
int flip_source_start(struct flip_source *fs);

/*
 * Idle: no consumer, so only the scanout set needs watching; tick every FLIP_IDLE_NS instead
 * of every vblank (the node adds bursts at the full rate to learn a swapchain). Call from the
 * data loop, a tick included.
 */
void flip_source_set_idle(struct flip_source *fs, bool idle);

/*
 * The mode's refresh changed: new poll and gap periods, and the period check starts over.
 * Call from the data loop.
 */
void flip_source_set_refresh(struct flip_source *fs, uint32_t refresh_mhz);

/*
 * How many vblanks fall at times t with from < t <= to, for vblanks at ref + k * period
 * (any integer k: from and to may lie before ref). Pure; the read-gap count uses it.
 */
uint64_t flip_vblanks_between(uint64_t ref, uint64_t period, uint64_t from, uint64_t to);

/*
 * Feeds one vblank event of the kernel's sequence number seq at time ns to the period check,
 * against period_ns, the period set. Returns true when the vblanks have kept another period
 * (see FLIP_PERIOD_WINDOW); it then starts over. Pure: on_sequence uses it.
 */
bool flip_period_check_feed(struct flip_period_check *pc, uint64_t period_ns, uint64_t seq,
		uint64_t ns);

/*
 * The node's own ioctls on the card say it is gone (err, -ENODEV): stops the source and
 * reports card_lost, once, as the source does for what it sees itself. Call from the data
 * loop, a tick included.
 */
void flip_source_card_lost(struct flip_source *fs, int err);

/*
 * The card came back: fs watches card_fd (borrowed like the first, which the caller may
 * close now) and crtc_id, with the vblank or timer ops, at refresh_mhz. Keeps the counters,
 * the events and idle; clears what belonged to the old fd (events queued on it, the period
 * check, lost). fs must be stopped. Call from the data loop.
 */
void flip_source_set_card(struct flip_source *fs, int card_fd, uint32_t crtc_id, bool vblank,
		uint32_t refresh_mhz);

/* Removes it from the data loop. Call from the data loop. Idempotent. */
void flip_source_stop(struct flip_source *fs);

/* Stops (the caller must be on the data loop or hold it) and closes the timer. Accepts a
 * zeroed fs. */
void flip_source_finish(struct flip_source *fs);

#endif
