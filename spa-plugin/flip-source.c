/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <xf86drm.h>

#include <spa/utils/result.h>

#include "flip-source.h"

/* A CRTC that refuses a sequence event (off, or mid-modeset) is asked again this often. */
#define VBLANK_RETRY_NS (100 * SPA_NSEC_PER_MSEC)

/* The refresh period: the timer polls FLIP_TIMER_OVERSAMPLE times in it. */
static uint64_t refresh_period_ns(const struct flip_source *fs)
{
	return fs->interval_ns * FLIP_TIMER_OVERSAMPLE;
}

static void arm_timer(struct flip_source *fs, uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = {first_ns / SPA_NSEC_PER_SEC, first_ns % SPA_NSEC_PER_SEC},
		.it_interval = {interval_ns / SPA_NSEC_PER_SEC, interval_ns % SPA_NSEC_PER_SEC},
	};

	spa_system_timerfd_settime(fs->system, fs->timer_fd, 0, &its, NULL);
}

/* ---- timer: virtio-gpu and anything else without vblank ---- */

static void on_timer(struct spa_source *source)
{
	struct flip_source *fs = source->data;
	uint64_t expirations, now;

	if (spa_system_timerfd_read(fs->system, fs->timer_fd, &expirations) < 0) {
		return;
	}
	if (expirations > 1) {
		fs->missed += expirations - 1;
	}
	fs->polls += expirations;
	now = flip_source_now_ns();
	fs->events->tick(fs->data, &(struct flip_tick){
		.kind = FLIP_TICK_POLL,
		.nsec = now,
		.now = now,
		.vblank_seq = fs->polls,
		.period_ns = refresh_period_ns(fs),
	});
	/*
	 * The polls measure no period, so a mode set to another rate at the same size (no FB
	 * joins) would go unseen until the next Start: while a stream runs, the mode's refresh
	 * is read again once per FLIP_REFRESH_ASK_NS (one GETCRTC on the main loop).
	 */
	if (fs->idle || fs->lost || !fs->events->refresh_changed) {
		return;
	}
	if (fs->refresh_asked_ns == 0) {
		fs->refresh_asked_ns = now; /* the Start that began this read it */
	} else if (now >= fs->refresh_asked_ns + FLIP_REFRESH_ASK_NS) {
		fs->refresh_asked_ns = now;
		fs->events->refresh_changed(fs->data);
	}
}

static int timer_start(struct flip_source *fs)
{
	fs->source.func = on_timer;
	fs->source.fd = fs->timer_fd;
	fs->source.mask = SPA_IO_IN;
	spa_loop_add_source(fs->data_loop, &fs->source);
	if (fs->idle) {
		arm_timer(fs, FLIP_IDLE_NS, FLIP_IDLE_NS);
	} else {
		arm_timer(fs, fs->interval_ns, fs->interval_ns);
	}
	return 0;
}

static void timer_stop(struct flip_source *fs)
{
	arm_timer(fs, 0, 0);
	spa_loop_remove_source(fs->data_loop, &fs->source);
}

static const struct flip_source_ops timer_ops = {
	.name = "timer",
	.start = timer_start,
	.stop = timer_stop,
};

/* ---- vblank: CRTC sequence events on the card fd ---- */

uint64_t flip_vblanks_between(uint64_t ref, uint64_t period, uint64_t from, uint64_t to)
{
	/* Floor division of the signed distance from ref: from can lie before ref. */
	int64_t a = (int64_t)(from - ref), b = (int64_t)(to - ref), p = (int64_t)period;
	int64_t fa = a >= 0 ? a / p : -((-a + p - 1) / p);
	int64_t fb = b >= 0 ? b / p : -((-b + p - 1) / p);

	return fb > fa ? (uint64_t)(fb - fa) : 0;
}

/*
 * A read gap's possible losses. FB_ID holds the committed FB. A page flip commit stays
 * committed until the vblank that latches it (no commit replaces one whose flip is
 * pending), so every commit's time in FB_ID spans a vblank, and commits that came and went
 * inside a gap between two reads span distinct vblanks inside it: their number is at most
 * the gap's vblanks. Gaps up to a third of a period, the reads' normal spacing (a quarter)
 * plus jitter, count nothing: what fits in them is a commit shorter than that, the blind
 * spot of docs/architecture.md. The bound counts from the reads themselves, timer reads
 * included. floor(gap / period) counts one for a gap just over a period that spans two
 * vblanks; with it, captures on the TCG bench lost up to three frames beyond the count.
 */
static void count_gap(struct flip_source *fs, uint64_t now)
{
	uint64_t period = refresh_period_ns(fs);

	if (fs->idle || !fs->last_read_ns || now <= fs->last_read_ns + period / 3) {
		return;
	}
	if (fs->vblank_ns) {
		fs->missed += flip_vblanks_between(fs->vblank_ns, period, fs->last_read_ns, now);
	} else {
		fs->missed += (now - fs->last_read_ns + period - 1) / period;
	}
}

/*
 * Tick times never go back: a vblank event handled late, after a read between vblanks that
 * came later than that vblank, gets the time it is handled instead of the vblank's.
 */
static void vblank_tick(struct flip_source *fs, enum flip_tick_kind kind, uint64_t ns,
		uint64_t now)
{
	struct flip_tick t = {
		/* Idle, or no vblank seen since the start: no vblank to place a commit against. */
		.kind = fs->idle || !fs->vblank_ns ? FLIP_TICK_POLL : kind,
		.now = now,
		.prev_ns = fs->last_read_ns,
		.vblank_ns = fs->vblank_ns,
		.vblank_seq = fs->vblank_seq,
		.period_ns = refresh_period_ns(fs),
	};

	count_gap(fs, now);
	fs->last_read_ns = fs->idle ? 0 : now;
	if (ns <= fs->last_tick_ns) {
		ns = now;
	}
	fs->last_tick_ns = ns;
	t.nsec = ns;
	if (t.kind == FLIP_TICK_POLL) {
		t.vblank_ns = 0;
		t.vblank_seq = ++fs->polls;
	}
	fs->events->tick(fs->data, &t);
}

/* The source stopped (or never started) on a dead card: the node hears it once. */
static void report_lost(struct flip_source *fs, int err)
{
	if (fs->lost) {
		return;
	}
	fs->lost = true;
	spa_log_debug(fs->log, "crtc %u: card lost: %s", fs->crtc_id, spa_strerror(err));
	if (fs->events->card_lost) {
		fs->events->card_lost(fs->data, err);
	}
}

void flip_source_card_lost(struct flip_source *fs, int err)
{
	flip_source_stop(fs);
	report_lost(fs, err);
}

bool flip_period_check_feed(struct flip_period_check *pc, uint64_t period_ns, uint64_t seq,
		uint64_t ns)
{
	uint64_t n = seq - pc->ref_seq, measured, tolerance;
	bool off, same;

	/* A first event, or a sequence or clock that went back (a new CRTC): start a window. */
	if (pc->ref_ns == 0 || seq < pc->ref_seq || (seq > pc->ref_seq && ns <= pc->ref_ns)) {
		*pc = (struct flip_period_check){.ref_seq = seq, .ref_ns = ns};
		return false;
	}
	/* n == 0: the same vblank again, from a second event queued for it. */
	if (n < FLIP_PERIOD_WINDOW) {
		return false;
	}
	measured = (ns - pc->ref_ns) / n;
	pc->ref_seq = seq;
	pc->ref_ns = ns;
	tolerance = period_ns / FLIP_PERIOD_TOLERANCE;
	off = measured > period_ns + tolerance || measured + tolerance < period_ns;
	same = pc->off_windows > 0 && measured <= pc->off_period_ns + tolerance &&
			measured + tolerance >= pc->off_period_ns;
	if (!off) {
		pc->off_windows = 0;
		pc->off_period_ns = 0;
		return false;
	}
	pc->off_windows = same ? pc->off_windows + 1 : 1;
	pc->off_period_ns = measured;
	if (pc->off_windows < FLIP_PERIOD_WINDOWS) {
		return false;
	}
	pc->off_windows = 0;
	pc->off_period_ns = 0;
	return true;
}

/*
 * A mode set to another rate at the same size keeps the compositor's buffers, so no FB joins
 * to make the node read the refresh again: the vblanks' own period says it, for free.
 */
static void check_period(struct flip_source *fs, uint64_t sequence, uint64_t ns, uint64_t now)
{
	uint64_t period = refresh_period_ns(fs);

	if (!flip_period_check_feed(&fs->period, period, sequence, ns) ||
			!fs->events->refresh_changed ||
			(fs->refresh_asked_ns && now < fs->refresh_asked_ns + FLIP_REFRESH_ASK_NS)) {
		return;
	}
	fs->refresh_asked_ns = now;
	spa_log_debug(fs->log, "crtc %u: the vblank period is not %" PRIu64 " ns any more",
			fs->crtc_id, period);
	fs->events->refresh_changed(fs->data);
}

/*
 * Returns 0 or -errno. A refusal arms the retry timer; -ENODEV (the device is gone: every
 * ioctl on the fd says so from now on) does not, and the caller reports the card lost.
 */
static int queue_vblank(struct flip_source *fs)
{
	uint64_t queued_seq;

	/* NEXT_ON_MISS: if we were late, the next vblank, never one that already passed. */
	if (drmCrtcQueueSequence(fs->card_fd, fs->crtc_id,
				DRM_CRTC_SEQUENCE_RELATIVE | DRM_CRTC_SEQUENCE_NEXT_ON_MISS, 1,
				&queued_seq, (uint64_t)(uintptr_t)fs) < 0) {
		int res = -errno;

		if (res == -ENODEV) {
			fs->queued = false;
			return res;
		}
		if (!fs->queued) {
			spa_log_debug(fs->log, "crtc %u: no vblank event: %s", fs->crtc_id,
					spa_strerror(res));
		} else {
			spa_log_info(fs->log, "crtc %u: vblank events stopped: %s; retrying",
					fs->crtc_id, spa_strerror(res));
		}
		fs->queued = false;
		arm_timer(fs, VBLANK_RETRY_NS, 0);
		return res;
	}
	fs->queued = true;
	fs->in_kernel++;
	return 0;
}

static void on_sequence(int fd, uint64_t sequence, uint64_t ns, uint64_t user_data)
{
	struct flip_source *fs = (struct flip_source *)(uintptr_t)user_data;
	uint64_t now;

	if (fs->in_kernel > 0) {
		fs->in_kernel--;
	}
	if (!fs->started || fs->idle) {
		fs->queued = false; /* the last event queued before going idle */
		return;
	}
	if (queue_vblank(fs) == -ENODEV) {
		flip_source_card_lost(fs, -ENODEV);
		return;
	}
	fs->vblanks++;
	fs->vblank_ns = ns;
	fs->vblank_seq = sequence;
	now = flip_source_now_ns();
	check_period(fs, sequence, ns, now);
	vblank_tick(fs, FLIP_TICK_VBLANK, ns, now);
	/*
	 * The tick may have made the source idle (a stop then a start, which clears queued).
	 *
	 * FB_ID is the committed FB, not the one on screen. A compositor that commits its next
	 * flip as soon as its flip event arrives does so at this very vblank, so our read races
	 * the commit: read after it, we see frame k+1 early; read before it next time, k+2 has
	 * replaced k+1 unseen. Reads a quarter period apart (the timer's rate) see k+1 unless it
	 * was committed in the last quarter before the vblank and k+2 at once after it (measured
	 * on vkms 6.1: 3% of flips lost with one read per vblank; see docs/performance.md).
	 */
	if (fs->queued && !fs->idle) {
		arm_timer(fs, fs->interval_ns, fs->interval_ns);
	}
}

static void on_card_fd(struct spa_source *source)
{
	struct flip_source *fs = source->data;
	drmEventContext ctx = {
		.version = 4,
		.sequence_handler = on_sequence,
	};

	if (source->rmask & (SPA_IO_ERR | SPA_IO_HUP)) {
		spa_log_debug(fs->log, "crtc %u: card fd error %08x", fs->crtc_id, source->rmask);
		flip_source_card_lost(fs, -EPIPE);
		return;
	}
	if (drmHandleEvent(fs->card_fd, &ctx) < 0) {
		if (errno == ENODEV) {
			flip_source_card_lost(fs, -ENODEV);
			return;
		}
		spa_log_warn(fs->log, "crtc %u: reading DRM events: %m", fs->crtc_id);
	}
}

static void on_retry(struct spa_source *source)
{
	struct flip_source *fs = source->data;
	uint64_t expirations;
	int res;

	if (spa_system_timerfd_read(fs->system, fs->timer_fd, &expirations) < 0) {
		return;
	}
	/* Idle poll, or the reads between vblanks armed by on_sequence. */
	if (fs->idle || fs->queued) {
		uint64_t now = flip_source_now_ns();
		vblank_tick(fs, FLIP_TICK_BETWEEN, now, now);
		return;
	}
	res = queue_vblank(fs);
	if (res == -ENODEV) {
		flip_source_card_lost(fs, res);
	} else if (res == 0) {
		spa_log_info(fs->log, "crtc %u: vblank events resumed", fs->crtc_id);
	}
}

static void vblank_stop(struct flip_source *fs)
{
	fs->queued = false;
	arm_timer(fs, 0, 0);
	spa_loop_remove_source(fs->data_loop, &fs->retry);
	spa_loop_remove_source(fs->data_loop, &fs->source);
	/* An event already queued arrives later; on_sequence drops it while stopped. */
}

static int vblank_start(struct flip_source *fs)
{
	struct spa_source *retry = &fs->retry;

	fs->source.func = on_card_fd;
	fs->source.fd = fs->card_fd;
	fs->source.mask = SPA_IO_IN | SPA_IO_ERR | SPA_IO_HUP;
	spa_loop_add_source(fs->data_loop, &fs->source);
	retry->func = on_retry;
	retry->data = fs;
	retry->fd = fs->timer_fd;
	retry->mask = SPA_IO_IN;
	spa_loop_add_source(fs->data_loop, retry);
	if (fs->idle) {
		arm_timer(fs, FLIP_IDLE_NS, FLIP_IDLE_NS);
		return 0;
	}
	fs->queued = true; /* so that a first failure logs at info, once */
	fs->last_read_ns = 0;
	fs->vblank_ns = 0;
	/* A window must not span the time nobody listened. */
	fs->period = (struct flip_period_check){0};
	/*
	 * An event queued before a stop (a Pause and Start in quick succession, or idle and back)
	 * is still on its way: it carries the chain on, and a second one would start a second
	 * self-requeuing chain, two reads per vblank for good.
	 */
	if (fs->in_kernel > 0) {
		return 0;
	}
	/* A refusal is not fatal: the retry timer asks again until the CRTC lights up. */
	if (queue_vblank(fs) == -ENODEV) {
		vblank_stop(fs);
		return -ENODEV;
	}
	return 0;
}

static const struct flip_source_ops vblank_ops = {
	.name = "vblank",
	.start = vblank_start,
	.stop = vblank_stop,
};

/* ---- common ---- */

/*
 * Polling exactly at the refresh rate beats against the flipper's own clock and misses or
 * doubles flips as the phases drift; at FLIP_TIMER_OVERSAMPLE times the rate a flip is missed
 * only if two land within one period, i.e. when we are scheduled very late.
 */
static uint64_t poll_interval_ns(uint32_t refresh_mhz)
{
	uint32_t mhz = refresh_mhz ? refresh_mhz : 60000;

	return SPA_NSEC_PER_SEC * 1000ull / mhz / FLIP_TIMER_OVERSAMPLE;
}

int flip_source_init(struct flip_source *fs, struct spa_log *log, struct spa_loop *data_loop,
		struct spa_system *system, int card_fd, uint32_t crtc_id, bool vblank,
		uint32_t refresh_mhz, const struct flip_source_events *events, void *data)
{
	memset(fs, 0, sizeof(*fs));
	fs->timer_fd = -1;
	fs->ops = vblank ? &vblank_ops : &timer_ops;
	fs->log = log;
	fs->data_loop = data_loop;
	fs->system = system;
	fs->card_fd = card_fd;
	fs->crtc_id = crtc_id;
	fs->events = events;
	fs->data = data;
	fs->idle = true;
	fs->source.data = fs;
	fs->interval_ns = poll_interval_ns(refresh_mhz);
	fs->timer_fd = spa_system_timerfd_create(system, CLOCK_MONOTONIC,
			SPA_FD_CLOEXEC | SPA_FD_NONBLOCK);
	if (fs->timer_fd < 0) {
		return fs->timer_fd;
	}
	return 0;
}

int flip_source_start(struct flip_source *fs)
{
	int res;

	if (fs->lost) {
		return -ENODEV;
	}
	if (fs->started) {
		return 0;
	}
	res = fs->ops->start(fs);
	if (res == 0) {
		fs->started = true;
	} else if (res == -ENODEV) {
		report_lost(fs, res);
		return res;
	}
	spa_log_debug(fs->log, "crtc %u: %s flip source started", fs->crtc_id, fs->ops->name);
	return res;
}

void flip_source_set_idle(struct flip_source *fs, bool idle)
{
	bool started = fs->started;

	if (fs->idle == idle) {
		return;
	}
	if (started) {
		flip_source_stop(fs);
	}
	fs->idle = idle;
	if (started) {
		flip_source_start(fs);
	}
}

void flip_source_set_refresh(struct flip_source *fs, uint32_t refresh_mhz)
{
	fs->interval_ns = poll_interval_ns(refresh_mhz);
	fs->period = (struct flip_period_check){0};
	/* vblank re-arms its reads at every event; the poll timer needs it now. */
	if (fs->started && !fs->idle && fs->ops == &timer_ops) {
		arm_timer(fs, fs->interval_ns, fs->interval_ns);
	}
}

void flip_source_set_card(struct flip_source *fs, int card_fd, uint32_t crtc_id, bool vblank,
		uint32_t refresh_mhz)
{
	fs->card_fd = card_fd; /* borrowed, as the first */
	fs->crtc_id = crtc_id;
	fs->ops = vblank ? &vblank_ops : &timer_ops;
	fs->interval_ns = poll_interval_ns(refresh_mhz);
	/* Events queued on the old fd died with it. */
	fs->in_kernel = 0;
	fs->queued = false;
	fs->last_read_ns = 0;
	fs->vblank_ns = 0;
	fs->period = (struct flip_period_check){0};
	fs->lost = false;
}

void flip_source_stop(struct flip_source *fs)
{
	if (!fs->started) {
		return;
	}
	fs->ops->stop(fs);
	fs->started = false;
}

void flip_source_finish(struct flip_source *fs)
{
	if (!fs->ops) {
		return;
	}
	flip_source_stop(fs);
	if (fs->timer_fd >= 0) {
		spa_system_close(fs->system, fs->timer_fd);
	}
	fs->timer_fd = -1;
}
