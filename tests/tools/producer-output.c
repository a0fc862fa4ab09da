/* Connector, CRTC and mode selection and modesetting for kms-producer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "pattern.h"
#include "producer.h"

uint64_t output_mode_refresh_mhz(const drmModeModeInfo *mode)
{
	uint64_t total = (uint64_t)mode->htotal * mode->vtotal;

	if (total == 0)
		return 0;
	return (uint64_t)mode->clock * 1000000 / total;
}

/*
 * A VESA CVT reduced-blanking (v1) mode at 60 Hz: what `cvt -r` prints. virtio-gpu ignores
 * timings, but its disconnected connectors list no modes at all (kernel 6.1), so a forced
 * connector needs one made up.
 */
static void make_cvt_rb_mode(uint32_t width, uint32_t height, uint32_t refresh,
	drmModeModeInfo *mode)
{
	const uint32_t h_blank = 160, h_sync = 32, h_front = 48, v_front = 3;
	const uint32_t min_v_back = 6, min_v_blank_us = 460, clock_step_khz = 250;
	uint32_t hdisplay = width & ~7u, v_sync = 10, vbi_lines, htotal, vtotal;
	double h_period_us;

	if (height * 4 == hdisplay * 3)
		v_sync = 4;
	else if (height * 16 == hdisplay * 9)
		v_sync = 5;
	else if (height * 16 == hdisplay * 10)
		v_sync = 6;
	else if (height * 5 == hdisplay * 4 || height * 15 == hdisplay * 9)
		v_sync = 7;

	h_period_us = (1000000.0 / refresh - min_v_blank_us) / height;
	vbi_lines = (uint32_t)(min_v_blank_us / h_period_us) + 1;
	if (vbi_lines < v_front + v_sync + min_v_back)
		vbi_lines = v_front + v_sync + min_v_back;
	htotal = hdisplay + h_blank;
	vtotal = height + vbi_lines;

	memset(mode, 0, sizeof(*mode));
	/* CVT rounds the clock down; rounding up keeps the refresh at 60 Hz or above, so a
	 * 60 Hz producer on a forced connector is not slowed to 59.87 Hz. */
	mode->clock = (uint32_t)(((uint64_t)refresh * htotal * vtotal / 1000 + clock_step_khz - 1) /
				 clock_step_khz * clock_step_khz);
	mode->hdisplay = (uint16_t)hdisplay;
	mode->hsync_start = (uint16_t)(hdisplay + h_front);
	mode->hsync_end = (uint16_t)(hdisplay + h_front + h_sync);
	mode->htotal = (uint16_t)htotal;
	mode->vdisplay = (uint16_t)height;
	mode->vsync_start = (uint16_t)(height + v_front);
	mode->vsync_end = (uint16_t)(height + v_front + v_sync);
	mode->vtotal = (uint16_t)vtotal;
	mode->flags = DRM_MODE_FLAG_PHSYNC | DRM_MODE_FLAG_NVSYNC;
	mode->type = DRM_MODE_TYPE_USERDEF;
	mode->vrefresh = (uint32_t)((output_mode_refresh_mhz(mode) + 500) / 1000);
	snprintf(mode->name, sizeof(mode->name), "%ux%u", hdisplay, height);
}

/*
 * The listed mode of this size nearest to want_hz; without one (0) the preferred one, else
 * the one nearest to 60 Hz.
 */
static const drmModeModeInfo *find_listed_mode(
	const drmModeConnector *conn, uint32_t width, uint32_t height, uint32_t want_hz)
{
	const drmModeModeInfo *best = NULL;
	uint64_t best_dist = UINT64_MAX, want = want_hz ? want_hz * 1000ull : 60000;

	for (int i = 0; i < conn->count_modes; i++) {
		const drmModeModeInfo *m = &conn->modes[i];
		uint64_t hz = output_mode_refresh_mhz(m),
			 dist = hz > want ? hz - want : want - hz;
		if (m->hdisplay != width || m->vdisplay != height)
			continue;
		if (!want_hz && (m->type & DRM_MODE_TYPE_PREFERRED))
			dist = 0;
		if (dist < best_dist) {
			best = m;
			best_dist = dist;
		}
	}
	return best;
}

int output_pick_mode(int drm_fd, const struct output *out, uint32_t width, uint32_t height,
	uint32_t hz, drmModeModeInfo *mode)
{
	drmModeConnector *conn = drmModeGetConnectorCurrent(drm_fd, out->connector_id);
	const drmModeModeInfo *listed;

	if (!conn)
		return -errno;
	if (width < PATTERN_MIN_WIDTH || height < PATTERN_MIN_HEIGHT || width > PATTERN_MAX_DIM ||
		height > PATTERN_MAX_DIM) {
		drmModeFreeConnector(conn);
		return -EINVAL;
	}
	listed = find_listed_mode(conn, width, height, hz);
	/*
	 * A rate asked for and none listed within 1 Hz: a mode of our own (vkms lists nothing
	 * above 60 Hz, drm_add_modes_noedid, but takes any mode).
	 */
	if (listed && hz && (output_mode_refresh_mhz(listed) + 1000 < hz * 1000ull ||
			output_mode_refresh_mhz(listed) > hz * 1000ull + 1000))
		listed = NULL;
	if (listed)
		*mode = *listed;
	else
		make_cvt_rb_mode(width, height, hz ? hz : 60, mode);
	drmModeFreeConnector(conn);
	return 0;
}

static void connector_name(const drmModeConnector *conn, char *name, size_t size)
{
	const char *type = drmModeGetConnectorTypeName(conn->connector_type);

	snprintf(name, size, "%s-%u", type ? type : "Unknown", conn->connector_type_id);
}

static bool is_wanted(
	const struct producer_options *opts, const drmModeConnector *conn, const char *name)
{
	if (opts->n_forced == 0)
		return conn->connection == DRM_MODE_CONNECTED;
	for (uint32_t i = 0; i < opts->n_forced; i++) {
		if (strcmp(opts->forced[i], name) == 0)
			return true;
	}
	return false;
}

/* A free CRTC for the connector, the one it is on already if possible; -1 if none. */
static int pick_crtc(int drm_fd, const drmModeRes *res, const drmModeConnector *conn, uint32_t used)
{
	int found = -1;

	for (int e = 0; e < conn->count_encoders && found < 0; e++) {
		drmModeEncoder *enc = drmModeGetEncoder(drm_fd, conn->encoders[e]);
		if (!enc)
			continue;
		for (int c = 0; c < res->count_crtcs && c < MAX_OUTPUTS; c++) {
			if (!(enc->possible_crtcs & (1u << c)) || (used & (1u << c)))
				continue;
			if (found < 0 || res->crtcs[c] == enc->crtc_id)
				found = c;
		}
		drmModeFreeEncoder(enc);
	}
	return found;
}

static int setup_output(int drm_fd, const struct producer_options *opts, const drmModeRes *res,
	const drmModeConnector *conn, int crtc_index, struct output *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->connector_id = conn->connector_id;
	connector_name(conn, out->connector_name, sizeof(out->connector_name));
	out->crtc_index = (uint32_t)crtc_index;
	out->crtc_id = res->crtcs[crtc_index];
	out->pending = -1;
	out->prepared = -1;
	out->front = -1;
	out->cursor.shown = -1;

	if (opts->mode_w) {
		ret = output_pick_mode(drm_fd, out, opts->mode_w, opts->mode_h, opts->mode_hz,
			&out->mode);
		if (ret < 0)
			return ret;
	} else if (conn->count_modes > 0) {
		out->mode = conn->modes[0];
		for (int i = 0; i < conn->count_modes; i++) {
			if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED) {
				out->mode = conn->modes[i];
				break;
			}
		}
	} else {
		make_cvt_rb_mode(DEFAULT_WIDTH, DEFAULT_HEIGHT, 60, &out->mode);
	}
	out->saved = drmModeGetCrtc(drm_fd, out->crtc_id);
	return 0;
}

static bool all_forced_found(
	const struct producer_options *opts, const struct output *outs, uint32_t n_outs)
{
	bool ok = true;

	for (uint32_t i = 0; i < opts->n_forced; i++) {
		bool found = false;
		for (uint32_t o = 0; o < n_outs; o++)
			found |= strcmp(outs[o].connector_name, opts->forced[i]) == 0;
		if (!found) {
			fprintf(stderr,
				"kms-producer: connector %s not found or has no free CRTC\n",
				opts->forced[i]);
			ok = false;
		}
	}
	return ok;
}

int output_discover(
	int drm_fd, const struct producer_options *opts, struct output *outs, uint32_t *n_outs)
{
	drmModeRes *res = drmModeGetResources(drm_fd);
	uint32_t used = 0, n = 0;
	int ret = 0;

	if (!res) {
		ret = -errno;
		fprintf(stderr, "kms-producer: drmModeGetResources: %m (not a KMS device?)\n");
		return ret;
	}
	for (int i = 0; i < res->count_connectors && n < MAX_OUTPUTS && ret == 0; i++) {
		drmModeConnector *conn = drmModeGetConnector(drm_fd, res->connectors[i]);
		char name[32];
		int crtc;

		if (!conn)
			continue;
		connector_name(conn, name, sizeof(name));
		if (!is_wanted(opts, conn, name)) {
			drmModeFreeConnector(conn);
			continue;
		}
		crtc = pick_crtc(drm_fd, res, conn, used);
		if (crtc < 0) {
			fprintf(stderr, "kms-producer: no free CRTC for %s, skipped\n", name);
		} else {
			ret = setup_output(drm_fd, opts, res, conn, crtc, &outs[n]);
			if (ret == 0) {
				used |= 1u << crtc;
				n++;
			}
		}
		drmModeFreeConnector(conn);
	}
	drmModeFreeResources(res);
	*n_outs = n;
	if (ret < 0)
		return ret;
	if (!all_forced_found(opts, outs, n))
		return -ENOENT;
	if (n == 0) {
		fprintf(stderr,
			"kms-producer: no connected connector on %s "
			"(force one with --connector NAME)\n",
			opts->card);
		return -ENODEV;
	}
	return 0;
}

int output_modeset(int drm_fd, struct output *out, const struct dumb_fb *fb)
{
	if (drmModeSetCrtc(
		    drm_fd, out->crtc_id, fb->fb_id, 0, 0, &out->connector_id, 1, &out->mode) < 0) {
		int ret = -errno;
		fprintf(stderr, "kms-producer: modeset %s on CRTC %u to %ux%u with a %.4s FB: %m\n",
			out->connector_name, out->crtc_id, out->mode.hdisplay, out->mode.vdisplay,
			(const char *)&fb->fourcc);
		return ret;
	}
	return 0;
}

int output_disable(int drm_fd, struct output *out)
{
	if (drmModeSetCrtc(drm_fd, out->crtc_id, 0, 0, 0, NULL, 0, NULL) < 0) {
		int ret = -errno;
		fprintf(stderr, "kms-producer: switching CRTC %u off: %m\n", out->crtc_id);
		return ret;
	}
	return 0;
}

void output_restore(int drm_fd, struct output *out)
{
	drmModeCrtc *saved = out->saved;

	out->saved = NULL;
	/* The saved FB is usually fbcon's; it may be gone, then the CRTC is switched off. */
	if (saved && saved->mode_valid && saved->buffer_id &&
		drmModeSetCrtc(drm_fd, out->crtc_id, saved->buffer_id, saved->x, saved->y,
			&out->connector_id, 1, &saved->mode) == 0) {
		drmModeFreeCrtc(saved);
		return;
	}
	drmModeSetCrtc(drm_fd, out->crtc_id, 0, 0, 0, NULL, 0, NULL);
	drmModeFreeCrtc(saved);
}
