/*
 * kms-producer: a test scanout producer. It does on KMS what a compositor does: modesets
 * connectors, page-flips dumb buffers painted with the test pattern (pattern.h) at a given
 * rate, and logs every completed flip with its CLOCK_MONOTONIC time, one line each:
 *
 *   mode crtc=<id> index=<i> connector=<name> size=<W>x<H> refresh_mhz=<r> pacing=vblank|timer
 *        period_ns=<p>
 *   fb-create crtc=<id> index=<i> fb=<fb_id> size=<W>x<H> fourcc=<cc> pitch=<bytes>
 *   fb-destroy crtc=<id> index=<i> fb=<fb_id>
 *   flip crtc=<id> index=<i> frame=<k> fb=<fb_id> t_ns=<ns> via=flip|modeset|dirtyfb
 *        submit_ns=<ns>
 *        (t_ns: the flip event's CLOCK_MONOTONIC time, or the clock after a modeset returned;
 *        submit_ns: just before the page-flip or modeset ioctl)
 *   cursor crtc=<id> index=<i> frame=<k> x=<x> y=<y> hot_x=<hx> hot_y=<hy> color=0x<argb>
 *   ready crtcs=<n>                    (after the first page flip on every CRTC)
 *   off crtc=<id> index=<i> frame=<k> t_ns=<ns>
 *   rusage user_ms=<u> sys_ms=<s> minflt=<n> majflt=<n>       (at exit)
 *   done crtc=<id> index=<i> flips=<n> last_frame=<k> skipped_slots=<timer slots missed>
 *
 * Frame k is painted with frame number k mod 2^20 and CRTC index <i> (--pattern blocks: the
 * blocks pattern with k mod 2^16, no CRTC index). Frame 0 is shown by the
 * initial modeset, later frames by page flips (or a modeset after a mode change or off-at).
 *
 * Pacing: with vblank (vkms) and --rate at the refresh rate, each flip is queued as soon as
 * the previous one completed, so the driver paces them. Otherwise (virtio-gpu, or a lower
 * rate) flips go out on an absolute CLOCK_MONOTONIC grid at min(rate, refresh); a slot
 * missed by more than a quarter period is skipped (counted in skipped_slots), never caught up.
 *
 * FB ids: with --recreate every new FB gets an id no earlier FB of this producer had; freed
 * ids are parked in placeholder property blobs. --reuse-fb-ids turns this off and destroys
 * each old FB before creating its successor, which then gets the id just freed. The kernel's
 * own cursor FBs, one per drmModeSetCursor2, share the id space and are not parked.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "pattern.h"
#include "producer.h"

#define NSEC_PER_SEC 1000000000ull

struct producer {
	struct producer_options opts;
	int drm_fd;
	int timer_fd;
	int signal_fd;
	FILE *log; /* stdout or the --log file */
	struct output outs[MAX_OUTPUTS];
	uint32_t n_outs;
	struct id_reservations reserved_ids;
	uint64_t stop_ns; /* 0: no --duration */
	bool ready;
	bool stop;
	bool usr1; /* SIGUSR1 came: --format-change-at usr1 starts at the next frame */
	int exit_code;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static const char *fourcc_str(uint32_t fourcc, char buf[5])
{
	for (int i = 0; i < 4; i++)
		buf[i] = (char)((fourcc >> (8 * i)) & 0xff);
	buf[4] = '\0';
	return buf;
}

/* Open the card and become DRM master; a second compositor cannot be master at once. */
static int open_card(struct producer *p)
{
	char path[256];
	uint64_t dumb = 0;

	if (strchr(p->opts.card, '/'))
		snprintf(path, sizeof(path), "%s", p->opts.card);
	else
		snprintf(path, sizeof(path), "/dev/dri/%s", p->opts.card);
	p->drm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->drm_fd < 0) {
		fprintf(stderr, "kms-producer: cannot open %s: %m\n", path);
		return -errno;
	}
	if (drmSetMaster(p->drm_fd) < 0 || !drmIsMaster(p->drm_fd)) {
		fprintf(stderr,
			"kms-producer: cannot become DRM master of %s "
			"(another compositor running, or not root?): %m\n",
			path);
		return -EBUSY;
	}
	if (drmGetCap(p->drm_fd, DRM_CAP_DUMB_BUFFER, &dumb) < 0 || !dumb) {
		fprintf(stderr, "kms-producer: %s has no dumb buffers\n", path);
		return -ENOTSUP;
	}
	return 0;
}

static void log_fb(
	struct producer *p, const struct output *o, const struct dumb_fb *fb, bool created)
{
	char cc[5];

	if (created)
		fprintf(p->log, "fb-create crtc=%u index=%u fb=%u size=%ux%u fourcc=%s pitch=%u\n",
			o->crtc_id, o->crtc_index, fb->fb_id, fb->width, fb->height,
			fourcc_str(fb->fourcc, cc), fb->pitch);
	else
		fprintf(p->log, "fb-destroy crtc=%u index=%u fb=%u\n", o->crtc_id, o->crtc_index,
			fb->fb_id);
}

static int paint(struct producer *p, struct output *o, struct dumb_fb *fb, uint64_t frame)
{
	int ret;

	/* --format-change-at's 16-bit formats: left as created, black. */
	if (!pattern_format_cpp(fb->fourcc))
		return 0;
	if (p->opts.blocks)
		ret = pattern_blocks_paint(
			fb->map, fb->width, fb->height, fb->pitch, fb->fourcc, (uint32_t)frame);
	else if (fb->painted)
		ret = pattern_paint_frame(fb->map, fb->width, fb->height, fb->pitch, fb->fourcc,
			o->crtc_index, (uint32_t)(frame & PATTERN_FRAME_MASK));
	else
		ret = pattern_paint_full(fb->map, fb->width, fb->height, fb->pitch, fb->fourcc,
			o->crtc_index, (uint32_t)(frame & PATTERN_FRAME_MASK));
	if (ret < 0) {
		fprintf(stderr, "kms-producer: cannot paint %ux%u: %s\n", fb->width, fb->height,
			strerror(-ret));
		return ret;
	}
	fb->painted = true;
	return 0;
}

static int create_fb(
	struct producer *p, struct output *o, uint32_t w, uint32_t h, struct dumb_fb *fb)
{
	int ret = dumb_fb_create(p->drm_fd, w, h, o->fourcc, true, fb);

	if (ret < 0)
		return ret;
	fb->generation = o->generation;
	log_fb(p, o, fb, true);
	/* The background costs a full-frame write: pay it here, not between vblank and flip. */
	ret = paint(p, o, fb, 0);
	if (ret < 0)
		dumb_fb_destroy(p->drm_fd, fb);
	return ret;
}

static void destroy_fb(struct producer *p, struct output *o, struct dumb_fb *fb)
{
	uint32_t fb_id = fb->fb_id;
	int ret;

	if (fb_id)
		log_fb(p, o, fb, false);
	dumb_fb_destroy(p->drm_fd, fb);
	if (!fb_id || p->opts.reuse_fb_ids || p->stop)
		return;
	ret = fb_id_reserve(p->drm_fd, fb_id, &p->reserved_ids);
	if (ret < 0 && !p->reserved_ids.full_warned) {
		fprintf(stderr, "kms-producer: cannot hold freed FB id %u, ids may be reused: %s\n",
			fb_id, strerror(-ret));
		p->reserved_ids.full_warned = true;
	}
}

static void destroy_fbs(struct producer *p, struct output *o, struct dumb_fb *fbs)
{
	for (uint32_t i = 0; i < o->n_fbs; i++)
		destroy_fb(p, o, &fbs[i]);
}

static int create_fbs(
	struct producer *p, struct output *o, uint32_t w, uint32_t h, struct dumb_fb *fbs)
{
	for (uint32_t i = 0; i < o->n_fbs; i++) {
		int ret = create_fb(p, o, w, h, &fbs[i]);
		if (ret < 0) {
			destroy_fbs(p, o, fbs);
			return ret;
		}
	}
	return 0;
}

static void log_flip(struct producer *p, const struct output *o, uint64_t t_ns, const char *via)
{
	fprintf(p->log,
		"flip crtc=%u index=%u frame=%" PRIu64 " fb=%u t_ns=%" PRIu64
		" via=%s submit_ns=%" PRIu64 "\n",
		o->crtc_id, o->crtc_index, o->frame, o->fbs[o->front].fb_id, t_ns, via,
		o->submit_ns);
}

/*
 * Pace flips by the driver's vblank when it has one and the rate is the refresh rate;
 * otherwise by an absolute CLOCK_MONOTONIC timer, never faster than the refresh. virtio-gpu
 * (6.1) has no vblank and completes flips at once, so it always needs the timer.
 */
static void choose_pacing(struct producer *p, struct output *o)
{
	uint64_t refresh_mhz = output_mode_refresh_mhz(&o->mode), seq, ns;
	uint64_t rate_period = NSEC_PER_SEC / p->opts.rate_hz;
	uint64_t refresh_period = refresh_mhz ? NSEC_PER_SEC * 1000 / refresh_mhz : rate_period;
	bool has_vblank = drmCrtcGetSequence(p->drm_fd, o->crtc_id, &seq, &ns) == 0;

	o->period_ns = rate_period > refresh_period ? rate_period : refresh_period;
	o->vblank_paced = has_vblank && rate_period <= refresh_period + refresh_period / 50 &&
		!p->opts.front_buffer;
	fprintf(p->log,
		"mode crtc=%u index=%u connector=%s size=%ux%u refresh_mhz=%" PRIu64
		" pacing=%s period_ns=%" PRIu64 "\n",
		o->crtc_id, o->crtc_index, o->connector_name, o->mode.hdisplay, o->mode.vdisplay,
		refresh_mhz, o->vblank_paced ? "vblank" : "timer", o->period_ns);
}

static bool frames_done(const struct producer *p, const struct output *o)
{
	return p->opts.frames && o->frame + 1 >= p->opts.frames;
}

/* Show o->frame by a modeset, on buffer index; used at start, after --off-at and mode changes. */
static int show_by_modeset(struct producer *p, struct output *o, int index)
{
	uint64_t t;
	int ret;

	o->prepared = -1;
	ret = paint(p, o, &o->fbs[index], o->frame);
	if (ret < 0)
		return ret;
	o->submit_ns = now_ns();
	ret = output_modeset(p->drm_fd, o, &o->fbs[index]);
	if (ret < 0)
		return ret;
	t = now_ns();
	o->front = index;
	choose_pacing(p, o);
	log_flip(p, o, t, "modeset");
	if (o->cursor.enabled)
		cursor_update(p->drm_fd, o, o->frame, true, p->log);
	o->state = frames_done(p, o) ? OUTPUT_DONE : OUTPUT_IDLE;
	o->next_ns = t + o->period_ns;
	return 0;
}

static int start_output(struct producer *p, struct output *o)
{
	int ret;

	o->n_fbs = p->opts.buffers;
	o->fourcc = p->opts.fourcc;
	o->base_w = o->mode.hdisplay;
	o->base_h = o->mode.vdisplay;
	o->base_hz = (uint32_t)((output_mode_refresh_mhz(&o->mode) + 500) / 1000);
	ret = create_fbs(p, o, o->mode.hdisplay, o->mode.vdisplay, o->fbs);
	if (ret < 0)
		return ret;
	if (p->opts.cursor && cursor_init(p->drm_fd, o) < 0)
		fprintf(stderr, "kms-producer: CRTC %u: no cursor\n", o->crtc_id);
	o->frame = 0;
	return show_by_modeset(p, o, 0);
}

/*
 * New buffers for mode in fourcc, shown by a modeset (a page flip can change neither the size
 * nor the format), then the old buffers dropped; on failure all is as it was.
 */
static int replace_fbs(
	struct producer *p, struct output *o, const drmModeModeInfo *mode, uint32_t fourcc)
{
	struct dumb_fb old[MAX_BUFFERS];
	drmModeModeInfo old_mode = o->mode;
	uint32_t old_fourcc = o->fourcc;
	int ret;

	memcpy(old, o->fbs, sizeof(old));
	o->fourcc = fourcc;
	ret = create_fbs(p, o, mode->hdisplay, mode->vdisplay, o->fbs);
	if (ret == 0) {
		o->mode = *mode;
		ret = show_by_modeset(p, o, 0);
		if (ret < 0)
			destroy_fbs(p, o, o->fbs);
	}
	if (ret < 0) {
		memcpy(o->fbs, old, sizeof(old));
		o->mode = old_mode;
		o->fourcc = old_fourcc;
		return ret;
	}
	destroy_fbs(p, o, old);
	return 0;
}

/*
 * --mode-change-at: new buffers at the new size, modeset, then drop the old buffers; a new
 * rate at the same size keeps the buffers.
 */
static int change_mode(struct producer *p, struct output *o)
{
	drmModeModeInfo mode;
	uint32_t w = p->opts.mode_change_w, h = p->opts.mode_change_h, hz = p->opts.mode_change_hz;
	int ret;

	/* --mode-change-every toggles between the first mode and the given one. */
	if (p->opts.mode_change_repeat && o->mode.hdisplay == w && o->mode.vdisplay == h &&
		(!hz || (output_mode_refresh_mhz(&o->mode) + 500) / 1000 == hz)) {
		w = o->base_w;
		h = o->base_h;
		hz = o->base_hz;
	}
	ret = output_pick_mode(p->drm_fd, o, w, h, hz, &mode);
	if (ret < 0)
		return ret;
	/* The same size at another rate: the buffers stay, as compositors keep theirs. */
	if (mode.hdisplay == o->mode.hdisplay && mode.vdisplay == o->mode.vdisplay) {
		o->mode = mode;
		return show_by_modeset(p, o, (o->front + 1) % (int)o->n_fbs);
	}
	return replace_fbs(p, o, &mode, o->fourcc);
}

/* The next buffer after the front one; re-created first when --recreate made it stale. */
static int next_back_buffer(struct producer *p, struct output *o)
{
	int back = (o->front + 1) % (int)o->n_fbs;
	struct dumb_fb fresh, *fb = &o->fbs[back];
	int ret;

	if (fb->generation == o->generation)
		return back;
	/*
	 * --reuse-fb-ids: destroy first, as a compositor that frees its old buffers before it
	 * allocates new ones: the new FB takes the id just freed (the lowest), the next frame
	 * on it shows new buffers under an id a reader has seen a flip ago.
	 */
	if (p->opts.reuse_fb_ids) {
		uint32_t w = fb->width, h = fb->height;

		destroy_fb(p, o, fb);
		ret = create_fb(p, o, w, h, fb);
		return ret < 0 ? ret : back;
	}
	/* Create before destroying, so the new FB id differs from the old one. */
	ret = create_fb(p, o, fb->width, fb->height, &fresh);
	if (ret < 0)
		return ret;
	destroy_fb(p, o, fb);
	*fb = fresh;
	return back;
}

/*
 * Timer pacing emulates vblank: flips go out on an absolute grid of slots one period apart.
 * A slot missed by more than a quarter period is skipped, as hardware would show the frame
 * a vblank later; catching up instead would flip faster than the refresh rate. Returns
 * whether the current slot was missed (and next_ns moved on).
 */
static bool slot_missed(struct output *o, uint64_t now)
{
	uint64_t slack = o->period_ns / 4, missed;

	if (o->vblank_paced || now <= o->next_ns + slack)
		return false;
	missed = (now - o->next_ns - slack) / o->period_ns + 1;
	o->next_ns += missed * o->period_ns;
	o->skipped_slots += missed;
	return true;
}

static bool slot_due(struct output *o, uint64_t now)
{
	if (o->state != OUTPUT_OFF)
		slot_missed(o, now);
	return o->next_ns <= now;
}

/* Paints frame + 1 into the next back buffer, unless a painted one waits already. */
static int prepare_next(struct producer *p, struct output *o)
{
	uint64_t frame = o->frame + 1;
	int back, ret;

	if (o->prepared >= 0)
		return o->prepared;
	if (p->opts.recreate_every && frame % p->opts.recreate_every == 0)
		o->generation++;
	back = next_back_buffer(p, o);
	if (back < 0)
		return back;
	ret = paint(p, o, &o->fbs[back], frame);
	if (ret < 0)
		return ret;
	o->prepared = back;
	return back;
}

static void after_frame(struct producer *p, struct output *o, uint64_t now, uint64_t t);
static void check_ready(struct producer *p);

/*
 * --front-buffer: what X11's modesetting driver does without page flips (a dumb buffer, its
 * shadow copied in) and the console: the pixels on screen change in place and DIRTYFB says
 * so. Drivers that scan out from memory anyway (vkms) have no dirty hook: ENOSYS is fine.
 */
static int paint_in_place(struct producer *p, struct output *o)
{
	struct dumb_fb *fb = &o->fbs[o->front];
	uint64_t now;
	int ret;

	o->submit_ns = now_ns();
	if (slot_missed(o, o->submit_ns))
		return 0;
	ret = paint(p, o, fb, o->frame + 1);
	if (ret < 0)
		return ret;
	if (drmModeDirtyFB(p->drm_fd, fb->fb_id, NULL, 0) < 0 && errno != ENOSYS) {
		ret = -errno;
		fprintf(stderr, "kms-producer: DIRTYFB %u: %m\n", fb->fb_id);
		return ret;
	}
	now = now_ns();
	o->frame++;
	o->flips++;
	log_flip(p, o, now, "dirtyfb");
	check_ready(p);
	after_frame(p, o, now, now);
	return 0;
}

static int flip_next(struct producer *p, struct output *o)
{
	int back, ret;

	if (p->opts.front_buffer)
		return paint_in_place(p, o);
	back = prepare_next(p, o);

	if (back < 0)
		return back;
	/* Painting can take milliseconds under TCG: keep the frame for the next slot if this
	 * one has passed meanwhile. */
	o->submit_ns = now_ns();
	if (slot_missed(o, o->submit_ns))
		return 0;
	o->prepared = -1;
	if (drmModePageFlip(
		    p->drm_fd, o->crtc_id, o->fbs[back].fb_id, DRM_MODE_PAGE_FLIP_EVENT, o) < 0) {
		ret = -errno;
		fprintf(stderr, "kms-producer: page flip on CRTC %u: %m\n", o->crtc_id);
		return ret;
	}
	o->pending = back;
	o->state = OUTPUT_FLIP_PENDING;
	return 0;
}

/* --off-at: the frame just shown stays the last one before the CRTC goes dark. */
static void switch_off(struct producer *p, struct output *o, uint64_t t)
{
	if (output_disable(p->drm_fd, o) < 0) {
		p->exit_code = 1;
		p->stop = true;
		return;
	}
	fprintf(p->log, "off crtc=%u index=%u frame=%" PRIu64 " t_ns=%" PRIu64 "\n", o->crtc_id,
		o->crtc_index, o->frame, t);
	o->state = OUTPUT_OFF;
	o->next_ns = t + p->opts.off_ns;
}

/* Whether frame is when a --*-at K (once) or --*-every K (repeat) event happens. */
static bool at_frame(uint64_t frame, uint64_t k, bool repeat)
{
	return k && (repeat ? frame % k == 0 : frame == k);
}

static int submit_frame(struct producer *p, struct output *o)
{
	uint64_t fmt_at;

	if (p->opts.format_change_on_usr1 && p->usr1 && !p->opts.format_change_at) {
		p->opts.format_change_at = o->frame + 1;
		fprintf(p->log, "format-change crtc=%u frame=%" PRIu64 " frames=%" PRIu64 "\n",
			o->crtc_id, p->opts.format_change_at, p->opts.format_change_n);
	}
	fmt_at = p->opts.format_change_at;
	if (fmt_at && (o->frame + 1 == fmt_at || o->frame + 1 == fmt_at + p->opts.format_change_n)) {
		int ret;
		o->frame++;
		/* --format-change-at: buffers in another format for a while, then back. */
		ret = replace_fbs(p, o, &o->mode,
			o->frame == fmt_at ? p->opts.format_change_fourcc : p->opts.fourcc);
		if (ret < 0)
			o->frame--;
		return ret;
	}
	if (o->state == OUTPUT_OFF ||
		at_frame(o->frame + 1, p->opts.mode_change_at, p->opts.mode_change_repeat)) {
		int ret;
		o->frame++;
		if (o->state == OUTPUT_OFF)
			ret = show_by_modeset(p, o, (o->front + 1) % (int)o->n_fbs);
		else
			ret = change_mode(p, o);
		if (ret < 0)
			o->frame--;
		else if (o->state == OUTPUT_IDLE &&
			 at_frame(o->frame, p->opts.off_at, p->opts.off_repeat))
			switch_off(p, o, now_ns());
		return ret;
	}
	return flip_next(p, o);
}

static void check_ready(struct producer *p)
{
	if (p->ready)
		return;
	for (uint32_t i = 0; i < p->n_outs; i++) {
		if (p->outs[i].flips == 0)
			return;
	}
	p->ready = true;
	fprintf(p->log, "ready crtcs=%u\n", p->n_outs);
}

/* t: the vblank that showed the frame just flipped. */
static void schedule_next(struct producer *p, struct output *o, uint64_t now, uint64_t t)
{
	if (!o->vblank_paced)
		o->next_ns += o->period_ns;
	else if (p->opts.commit_phase_ns)
		o->next_ns = t + p->opts.commit_phase_ns;
	else
		o->next_ns = now;
}

static void on_flip(int fd, unsigned int seq, unsigned int sec, unsigned int usec,
	unsigned int crtc_id, void *data)
{
	struct output *o = data;
	struct producer *p = o->producer;
	uint64_t now = now_ns();
	/* DRM event timestamps are CLOCK_MONOTONIC; 0 would mean the driver gave none. */
	uint64_t t = sec || usec ? (uint64_t)sec * NSEC_PER_SEC + (uint64_t)usec * 1000 : now;

	o->front = o->pending;
	o->pending = -1;
	o->frame++;
	o->flips++;
	log_flip(p, o, t, "flip");
	if (o->cursor.enabled && cursor_update(p->drm_fd, o, o->frame, false, p->log) < 0)
		o->cursor.enabled = false;
	check_ready(p);
	o->state = OUTPUT_IDLE;
	after_frame(p, o, now, t);
}

/* The frame just shown: what comes next. t: when it was shown (its vblank). */
static void after_frame(struct producer *p, struct output *o, uint64_t now, uint64_t t)
{
	if (frames_done(p, o))
		o->state = OUTPUT_DONE;
	else if (at_frame(o->frame, p->opts.off_at, p->opts.off_repeat))
		switch_off(p, o, now);
	else
		schedule_next(p, o, now, t);
	/* At a commit phase the frame is painted now, so that the commit itself is on time. */
	if (o->state == OUTPUT_IDLE && o->vblank_paced && p->opts.commit_phase_ns &&
		!at_frame(o->frame + 1, p->opts.mode_change_at, p->opts.mode_change_repeat) &&
		prepare_next(p, o) < 0) {
		p->exit_code = 1;
		p->stop = true;
	}
}

static void submit_due(struct producer *p, uint64_t now)
{
	for (uint32_t i = 0; i < p->n_outs && !p->stop; i++) {
		struct output *o = &p->outs[i];
		if ((o->state == OUTPUT_IDLE || o->state == OUTPUT_OFF) && slot_due(o, now) &&
			submit_frame(p, o) < 0) {
			p->exit_code = 1;
			p->stop = true;
		}
	}
}

static bool all_done(const struct producer *p)
{
	if (p->opts.hold)
		return false;
	for (uint32_t i = 0; i < p->n_outs; i++) {
		if (p->outs[i].state != OUTPUT_DONE)
			return false;
	}
	return true;
}

static void arm_timer(struct producer *p)
{
	uint64_t deadline = p->stop_ns;
	struct itimerspec its = {0};

	for (uint32_t i = 0; i < p->n_outs; i++) {
		const struct output *o = &p->outs[i];
		if ((o->state == OUTPUT_IDLE || o->state == OUTPUT_OFF) &&
			(deadline == 0 || o->next_ns < deadline))
			deadline = o->next_ns;
	}
	/* Nothing due (all flips pending): an it_value of zero disarms, the flip events wake us. */
	its.it_value.tv_sec = (time_t)(deadline / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(deadline % NSEC_PER_SEC);
	timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void handle_signal(struct producer *p)
{
	struct signalfd_siginfo si;

	if (read(p->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		p->usr1 = true;
		return;
	}
	fprintf(stderr, "kms-producer: signal %u, stopping\n", si.ssi_signo);
	p->stop = true;
}

static int run(struct producer *p)
{
	drmEventContext evctx = {.version = 3, .page_flip_handler2 = on_flip};
	struct pollfd fds[3] = {
		{.fd = p->drm_fd, .events = POLLIN},
		{.fd = p->timer_fd, .events = POLLIN},
		{.fd = p->signal_fd, .events = POLLIN},
	};
	uint64_t expirations;

	while (!p->stop) {
		uint64_t now = now_ns();
		submit_due(p, now);
		if (p->stop || all_done(p) || (p->stop_ns && now >= p->stop_ns))
			break;
		arm_timer(p);
		fflush(p->log);
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kms-producer: poll: %m\n");
			return -errno;
		}
		if ((fds[0].revents & POLLIN) && drmHandleEvent(p->drm_fd, &evctx) < 0) {
			fprintf(stderr, "kms-producer: drmHandleEvent failed\n");
			return -EIO;
		}
		if (fds[1].revents & POLLIN) {
			if (read(p->timer_fd, &expirations, sizeof(expirations)) < 0 &&
				errno != EAGAIN)
				return -errno;
		}
		if (fds[2].revents & POLLIN)
			handle_signal(p);
	}
	return 0;
}

/* Let pending flips land before the buffers go, so no RMFB hits a buffer in flight. */
static void drain_flips(struct producer *p)
{
	drmEventContext evctx = {.version = 3, .page_flip_handler2 = on_flip};
	struct pollfd pfd = {.fd = p->drm_fd, .events = POLLIN};
	uint64_t give_up = now_ns() + NSEC_PER_SEC / 2;

	p->opts.off_at = 0;
	for (;;) {
		bool pending = false;
		for (uint32_t i = 0; i < p->n_outs; i++)
			pending |= p->outs[i].state == OUTPUT_FLIP_PENDING;
		if (!pending || now_ns() > give_up || poll(&pfd, 1, 100) <= 0)
			return;
		drmHandleEvent(p->drm_fd, &evctx);
	}
}

/* CPU cost for the bench's figures: user is painting, sys mostly the drivers' flip work. */
static void log_rusage(struct producer *p)
{
	struct rusage ru;

	if (!p->log || p->n_outs == 0 || getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	fprintf(p->log, "rusage user_ms=%ld sys_ms=%ld minflt=%ld majflt=%ld\n",
		ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000,
		ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000, ru.ru_minflt, ru.ru_majflt);
}

static void cleanup(struct producer *p)
{
	p->stop = true; /* no FB id reservations while tearing down */
	if (p->drm_fd >= 0)
		drain_flips(p);
	for (uint32_t i = 0; i < p->n_outs; i++) {
		struct output *o = &p->outs[i];
		if (o->front >= 0)
			fprintf(p->log,
				"done crtc=%u index=%u flips=%" PRIu64 " last_frame=%" PRIu64
				" skipped_slots=%" PRIu64 "\n",
				o->crtc_id, o->crtc_index, o->flips, o->frame, o->skipped_slots);
		cursor_finish(p->drm_fd, o);
		output_restore(p->drm_fd, o);
		destroy_fbs(p, o, o->fbs);
	}
	log_rusage(p);
	if (p->log && p->log != stdout)
		fclose(p->log);
	else if (p->log)
		fflush(p->log);
	if (p->drm_fd >= 0)
		fb_id_release_all(p->drm_fd, &p->reserved_ids);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	if (p->signal_fd >= 0)
		close(p->signal_fd);
	if (p->drm_fd >= 0) {
		drmDropMaster(p->drm_fd);
		close(p->drm_fd);
	}
}

static int setup_fds(struct producer *p)
{
	sigset_t mask;

	if (p->opts.log_path) {
		p->log = fopen(p->opts.log_path, "we");
		if (!p->log) {
			fprintf(stderr, "kms-producer: cannot open %s: %m\n", p->opts.log_path);
			return -errno;
		}
	}
	/* Consumers follow the log line by line while we run. */
	setvbuf(p->log, NULL, _IOLBF, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->signal_fd < 0 || p->timer_fd < 0) {
		fprintf(stderr, "kms-producer: signalfd/timerfd: %m\n");
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct producer p = {.drm_fd = -1, .timer_fd = -1, .signal_fd = -1};
	int ret;

	p.log = stdout;
	if (producer_parse_options(argc, argv, &p.opts) < 0)
		return 2;
	ret = setup_fds(&p);
	if (ret == 0)
		ret = open_card(&p);
	if (ret == 0)
		ret = output_discover(p.drm_fd, &p.opts, p.outs, &p.n_outs);
	if (ret == 0 && p.opts.duration_ns)
		p.stop_ns = now_ns() + p.opts.duration_ns;
	for (uint32_t i = 0; i < p.n_outs && ret == 0; i++) {
		p.outs[i].producer = &p;
		ret = start_output(&p, &p.outs[i]);
	}
	if (ret == 0)
		ret = run(&p);
	if (ret < 0)
		p.exit_code = 1;
	cleanup(&p);
	return p.exit_code;
}
