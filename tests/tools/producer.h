/* Private header of kms-producer, the test scanout producer. */
#ifndef KMSCAST_TESTS_PRODUCER_H
#define KMSCAST_TESTS_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xf86drmMode.h>

/* CRTCs driven at once; the pattern carries a 4-bit CRTC index. */
#define MAX_OUTPUTS 16
#define MAX_BUFFERS 16
#define MAX_FORCED_CONNECTORS 8
#define CURSOR_SIZE 64
#define DEFAULT_WIDTH 1024
#define DEFAULT_HEIGHT 768
/* Freed FB ids held by placeholder blobs so that --recreate never reuses an id. */
#define MAX_RESERVED_IDS 16384

/* A dumb buffer with its framebuffer and CPU mapping. */
struct dumb_fb {
	uint32_t handle; /* GEM handle, 0 when none */
	uint32_t fb_id; /* 0 when none */
	uint32_t width, height, pitch, fourcc;
	uint64_t size;
	void *map; /* NULL when unmapped */
	bool painted; /* background present, only the bands need repainting */
	uint32_t generation; /* output::generation it was made in, for --recreate */
};

struct cursor {
	bool enabled;
	struct dumb_fb images[2]; /* no fb_id: the legacy cursor ioctl takes GEM handles */
	int shown; /* index into images, -1 before the first set */
	uint32_t image_index; /* frame / PATTERN_CURSOR_PERIOD of the shown image */
	int32_t x, y;
};

enum output_state {
	OUTPUT_IDLE, /* waiting for next_ns */
	OUTPUT_FLIP_PENDING,
	OUTPUT_OFF, /* CRTC switched off by --off-at until next_ns */
	OUTPUT_DONE, /* showed its last frame for --frames */
};

struct producer;

struct output {
	struct producer *producer; /* owner, for the page-flip event callback */
	uint32_t connector_id;
	char connector_name[32];
	uint32_t crtc_id;
	uint32_t crtc_index; /* index in drmModeRes::crtcs, painted into the pattern */
	drmModeModeInfo mode;
	uint32_t base_w, base_h, base_hz; /* the first mode, for --mode-change-every */
	uint32_t fourcc; /* of the buffers now: --fourcc, or --format-change-at's for a while */
	drmModeCrtc *saved; /* CRTC state before we touched it, restored at exit */

	struct dumb_fb fbs[MAX_BUFFERS];
	uint32_t n_fbs;
	uint32_t generation; /* bumped by --recreate; stale buffers are replaced lazily */
	int front; /* index of the buffer on screen */
	int pending; /* index of the buffer being flipped to, -1 if none */
	int prepared; /* index of a buffer painted with frame + 1 that missed its slot, or -1 */

	enum output_state state;
	uint64_t frame; /* frame number on screen */
	uint64_t next_ns; /* CLOCK_MONOTONIC time the next frame is due */
	uint64_t period_ns;
	bool vblank_paced; /* the driver throttles flips to vblank: flip on each event */
	uint64_t flips;
	uint64_t submit_ns; /* when the pending flip (or the last modeset) was asked for */
	uint64_t skipped_slots; /* timer pacing: slots missed because we were late */

	struct cursor cursor;
};

struct producer_options {
	const char *card;
	const char *forced[MAX_FORCED_CONNECTORS];
	uint32_t n_forced;
	uint32_t mode_w, mode_h; /* 0: the connector's preferred mode */
	uint32_t mode_hz; /* 0: the preferred mode of that size, or the one nearest 60 Hz */
	uint32_t buffers;
	uint32_t rate_hz;
	uint64_t commit_phase_ns; /* 0: commit at the flip event; else this long after the vblank */
	uint32_t fourcc;
	uint64_t frames; /* 0: unlimited */
	bool hold; /* after --frames, keep the last frame on screen (an idle desktop) */
	bool front_buffer; /* paint in place + DIRTYFB instead of flipping */
	uint64_t duration_ns; /* 0: unlimited */
	uint64_t recreate_every; /* 0: never */
	uint64_t mode_change_at; /* 0: never */
	bool mode_change_repeat; /* every mode_change_at frames, toggling back and forth */
	uint32_t mode_change_w, mode_change_h, mode_change_hz;
	uint64_t format_change_at; /* 0: never, or on SIGUSR1 with format_change_on_usr1 */
	bool format_change_on_usr1;
	uint32_t format_change_fourcc; /* shown from format_change_at on, for format_change_n */
	uint64_t format_change_n;
	uint64_t off_at; /* 0: never */
	bool off_repeat; /* every off_at frames */
	uint64_t off_ns;
	bool cursor;
	bool blocks; /* paint the blocks pattern (pattern.h) instead of the bands */
	bool reuse_fb_ids; /* let the kernel hand out freed FB ids again */
	const char *log_path;
};

/* Mode object ids kept out of circulation, see fb_id_reserve(). */
struct id_reservations {
	uint32_t blob_ids[MAX_RESERVED_IDS];
	uint32_t count;
	bool full_warned;
};

/* producer-options.c */

/*
 * Parse the command line into opts, with defaults for what is not given. Prints the usage
 * and exits 0 for --help. Returns 0, or -EINVAL after printing why and the usage.
 */
int producer_parse_options(int argc, char **argv, struct producer_options *opts);

/* producer-fb.c */

/*
 * Allocate a dumb buffer of width x height in fourcc, add a framebuffer for it unless
 * with_fb is false, and map it. On failure fb is left empty. Returns 0 or -errno.
 */
int dumb_fb_create(int drm_fd, uint32_t width, uint32_t height, uint32_t fourcc, bool with_fb,
	struct dumb_fb *fb);

/* Unmap, remove the framebuffer and destroy the dumb buffer. Accepts empty buffers. */
void dumb_fb_destroy(int drm_fd, struct dumb_fb *fb);

/*
 * Keep a just-freed FB id from being handed out again. Kernel 6.1 gives mode objects the
 * lowest free id, so a re-created FB would often get an id an earlier FB had; placeholder
 * property blobs (same id space) take the freed ids instead. Returns 0 or -errno; -ENOSPC
 * once MAX_RESERVED_IDS are held.
 */
int fb_id_reserve(int drm_fd, uint32_t freed_id, struct id_reservations *res);

/* Destroy the placeholder blobs. */
void fb_id_release_all(int drm_fd, struct id_reservations *res);

/* producer-output.c */

/*
 * Pick the outputs to drive: every connected connector, or the forced ones, each with a
 * free CRTC and a mode. Fills outs[0..*n_outs). Returns 0, -ENODEV when there is none, or
 * -errno. Logs its reasons to stderr.
 */
int output_discover(
	int drm_fd, const struct producer_options *opts, struct output *outs, uint32_t *n_outs);

/*
 * Find a mode of width x height for an output's connector, else make a CVT reduced-blanking
 * one at 60 Hz. Returns 0 or -errno.
 */
int output_pick_mode(int drm_fd, const struct output *out, uint32_t width, uint32_t height, uint32_t hz,
	drmModeModeInfo *mode);

/* Refresh rate of a mode in mHz, from its timings. */
uint64_t output_mode_refresh_mhz(const drmModeModeInfo *mode);

/* Set out->mode on the CRTC, scanning out fb. Returns 0 or -errno. */
int output_modeset(int drm_fd, struct output *out, const struct dumb_fb *fb);

/* Switch the CRTC off. Returns 0 or -errno. */
int output_disable(int drm_fd, struct output *out);

/* Put back the CRTC state saved by output_discover() and free it. */
void output_restore(int drm_fd, struct output *out);

/* producer-cursor.c */

/* Allocate the two cursor images. Returns 0 or -errno (the caller may go on without). */
int cursor_init(int drm_fd, struct output *out);

/*
 * Move the cursor for frame and switch its image every PATTERN_CURSOR_PERIOD frames, and log
 * each change as a `cursor` line. force re-sets the image after a modeset. Returns 0 or -errno.
 */
int cursor_update(int drm_fd, struct output *out, uint64_t frame, bool force, FILE *log);

/* Hide the cursor and free its images. Accepts a cursor that was never initialised. */
void cursor_finish(int drm_fd, struct output *out);

#endif
