/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>
#include <xf86drm.h>

#include "format.h"
#include "json-writer.h"
#include "kms.h"
#include "list.h"

static const char *connection_str(enum kms_connection status)
{
	switch (status) {
	case KMS_CONNECTED:
		return "connected";
	case KMS_DISCONNECTED:
		return "disconnected";
	default:
		return "unknown";
	}
}

static const char *plane_type_str(enum kms_plane_type type)
{
	switch (type) {
	case KMS_PLANE_PRIMARY:
		return "primary";
	case KMS_PLANE_CURSOR:
		return "cursor";
	default:
		return "overlay";
	}
}

static void format_name(uint32_t fourcc, char *buf, size_t size)
{
	const struct fmt_info *fmt = fmt_from_drm(fourcc);

	snprintf(buf, size, "%s", fmt ? fmt->name : "unsupported");
}

static void modifier_name(const struct kms_fb_info *fb, char *buf, size_t size)
{
	char *name;

	if (!fb->modifier_explicit) {
		snprintf(buf, size, "implicit");
		return;
	}
	name = drmGetFormatModifierName(fb->modifier);
	snprintf(buf, size, "%s", name ? name : "unknown");
	free(name);
}

static void json_fb(struct json_writer *w, const struct kms_fb_info *fb)
{
	char fourcc[5], name[64];

	json_begin_object(w, "fb");
	json_uint(w, "id", fb->id);
	json_uint(w, "width", fb->width);
	json_uint(w, "height", fb->height);
	json_string(w, "fourcc", kms_fourcc_str(fb->fourcc, fourcc));
	format_name(fb->fourcc, name, sizeof(name));
	json_string(w, "format", name);
	snprintf(name, sizeof(name), "0x%016" PRIx64, fb->modifier);
	json_string(w, "modifier", name);
	modifier_name(fb, name, sizeof(name));
	json_string(w, "modifier_name", name);
	json_bool(w, "modifier_explicit", fb->modifier_explicit);
	json_begin_array(w, "planes");
	for (uint32_t i = 0; i < fb->n_planes; i++) {
		json_begin_object(w, NULL);
		json_uint(w, "offset", fb->offsets[i]);
		json_uint(w, "pitch", fb->pitches[i]);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void json_plane(struct json_writer *w, struct kms_device *dev, const char *key,
		const struct kms_plane *plane)
{
	const struct kms_plane_state *s;
	struct kms_fb_info fb;
	int ret;

	if (!plane) {
		json_null(w, key);
		return;
	}
	s = &plane->state;
	json_begin_object(w, key);
	json_uint(w, "id", plane->id);
	json_string(w, "type", plane_type_str(plane->type));
	json_uint(w, "crtc_id", s->crtc_id);
	json_int(w, "crtc_x", s->crtc_x);
	json_int(w, "crtc_y", s->crtc_y);
	json_uint(w, "crtc_w", s->crtc_w);
	json_uint(w, "crtc_h", s->crtc_h);
	/* SRC_* are 16.16 fixed point in the kernel; whole pixels are what users read. */
	json_uint(w, "src_x", s->src_x >> 16);
	json_uint(w, "src_y", s->src_y >> 16);
	json_uint(w, "src_w", s->src_w >> 16);
	json_uint(w, "src_h", s->src_h >> 16);
	if (plane->has_hotspot) {
		json_int(w, "hotspot_x", s->hotspot_x);
		json_int(w, "hotspot_y", s->hotspot_y);
	}
	ret = s->fb_id ? kms_fb_get_info(dev, s->fb_id, &fb) : -ENOENT;
	if (ret == 0) {
		json_fb(w, &fb);
	} else {
		json_null(w, "fb");
	}
	json_end_object(w);
}

static void json_monitor(struct json_writer *w, const struct kms_connector *conn)
{
	char product[8];

	if (!conn->has_edid) {
		json_null(w, "edid");
		return;
	}
	json_begin_object(w, "edid");
	json_string(w, "monitor", conn->monitor.name);
	json_string(w, "vendor", conn->monitor.vendor);
	snprintf(product, sizeof(product), "0x%04x", conn->monitor.product);
	json_string(w, "product", product);
	json_uint(w, "serial", conn->monitor.serial);
	json_string(w, "serial_string", conn->monitor.serial_str);
	json_end_object(w);
}

static void json_card(struct json_writer *w, struct kms_device *dev)
{
	json_string(w, "driver", dev->driver);
	json_bool(w, "addfb2_modifiers", dev->addfb2_modifiers);
	json_begin_array(w, "connectors");
	for (uint32_t i = 0; i < dev->n_connectors; i++) {
		const struct kms_connector *conn = &dev->connectors[i];

		json_begin_object(w, NULL);
		json_uint(w, "id", conn->id);
		json_string(w, "name", conn->name);
		json_string(w, "status", connection_str(conn->status));
		json_uint(w, "crtc_id", conn->crtc_id);
		json_monitor(w, conn);
		json_end_object(w);
	}
	json_end_array(w);
	json_begin_array(w, "crtcs");
	for (uint32_t i = 0; i < dev->n_crtcs; i++) {
		const struct kms_crtc *crtc = &dev->crtcs[i];
		const struct kms_connector *conn = kms_crtc_connector(dev, crtc);

		json_begin_object(w, NULL);
		json_uint(w, "id", crtc->id);
		json_uint(w, "index", (uint64_t)crtc->index);
		json_bool(w, "active", crtc->active);
		if (conn) {
			json_string(w, "connector", conn->name);
		} else {
			json_null(w, "connector");
		}
		if (crtc->active) {
			json_begin_object(w, "mode");
			json_string(w, "name", crtc->mode.name);
			json_uint(w, "width", crtc->mode.hdisplay);
			json_uint(w, "height", crtc->mode.vdisplay);
			json_uint(w, "refresh_mhz", crtc->refresh_mhz);
			json_end_object(w);
		} else {
			json_null(w, "mode");
		}
		json_bool(w, "vblank", crtc->has_vblank);
		json_plane(w, dev, "primary", crtc->primary);
		json_plane(w, dev, "cursor", crtc->cursor);
		json_end_object(w);
	}
	json_end_array(w);
}

static void text_fb(FILE *out, struct kms_device *dev, const struct kms_plane *plane)
{
	const struct kms_plane_state *s = &plane->state;
	char fourcc[5], name[64], mod[64];
	struct kms_fb_info fb;

	fprintf(out, "    %s plane %u: ", plane_type_str(plane->type), plane->id);
	if (!s->fb_id || s->crtc_id == 0) {
		fprintf(out, "off\n");
		return;
	}
	if (kms_fb_get_info(dev, s->fb_id, &fb) < 0) {
		fprintf(out, "fb %u (gone)\n", s->fb_id);
		return;
	}
	format_name(fb.fourcc, name, sizeof(name));
	modifier_name(&fb, mod, sizeof(mod));
	fprintf(out, "fb %u %ux%u %s (%s) modifier %s (0x%" PRIx64 ", %s)", fb.id, fb.width,
			fb.height, kms_fourcc_str(fb.fourcc, fourcc), name, mod, fb.modifier,
			fb.modifier_explicit ? "explicit" : "implicit");
	fprintf(out, " at %d,%d src %ux%u+%u+%u\n", s->crtc_x, s->crtc_y, s->src_w >> 16,
			s->src_h >> 16, s->src_x >> 16, s->src_y >> 16);
}

static void text_card(FILE *out, struct kms_device *dev)
{
	fprintf(out, "%s: driver %s, %s modifiers\n", dev->path, dev->driver,
			dev->addfb2_modifiers ? "explicit" : "implicit");
	for (uint32_t i = 0; i < dev->n_connectors; i++) {
		const struct kms_connector *conn = &dev->connectors[i];

		fprintf(out, "  connector %s (id %u): %s", conn->name, conn->id,
				connection_str(conn->status));
		if (conn->has_edid && conn->monitor.name[0]) {
			fprintf(out, ", monitor \"%s\"", conn->monitor.name);
		}
		if (conn->crtc_id) {
			fprintf(out, ", crtc %u", conn->crtc_id);
		}
		fputc('\n', out);
	}
	for (uint32_t i = 0; i < dev->n_crtcs; i++) {
		const struct kms_crtc *crtc = &dev->crtcs[i];

		fprintf(out, "  crtc %u (index %d): ", crtc->id, crtc->index);
		if (!crtc->active) {
			fprintf(out, "off\n");
			continue;
		}
		fprintf(out, "%ux%u@%u.%03u Hz, %s\n", crtc->mode.hdisplay, crtc->mode.vdisplay,
				crtc->refresh_mhz / 1000, crtc->refresh_mhz % 1000,
				crtc->has_vblank ? "vblank events" : "no vblank (timer)");
		if (crtc->primary) {
			text_fb(out, dev, crtc->primary);
		}
		if (crtc->cursor) {
			text_fb(out, dev, crtc->cursor);
		}
	}
}

static void report_open_error(FILE *out, struct json_writer *w, const char *name, int err)
{
	if (w) {
		json_string(w, "error", strerror(-err));
		return;
	}
	fprintf(out, "/dev/dri/%s: cannot open: %s%s\n", name, strerror(-err),
			err == -EACCES ? " (add the user to the card's group, usually 'video')" : "");
}

int kmscast_list(FILE *out, const char *dri_dir, bool json)
{
	char names[KMS_MAX_CARDS][KMS_NAME_MAX];
	struct json_writer writer, *w = json ? &writer : NULL;
	int n, listed = 0, first_err = 0;

	n = kms_list_cards(dri_dir, names, KMS_MAX_CARDS);
	if (n < 0 && n != -ENOENT) {
		return n;
	}
	if (w) {
		json_writer_init(w, out);
		json_begin_object(w, NULL);
		json_begin_array(w, "cards");
	}
	for (int i = 0; i < n; i++) {
		char path[300];
		struct kms_device *dev;
		int ret;

		snprintf(path, sizeof(path), "%s/%s", dri_dir, names[i]);
		ret = kms_device_open(path, &dev);
		if (w) {
			json_begin_object(w, NULL);
			json_string(w, "name", names[i]);
			json_string(w, "path", path);
		}
		if (ret < 0) {
			report_open_error(out, w, names[i], ret);
			first_err = first_err ? first_err : ret;
		} else {
			if (w) {
				json_card(w, dev);
			} else {
				text_card(out, dev);
			}
			kms_device_destroy(dev);
			listed++;
		}
		if (w) {
			json_end_object(w);
		}
	}
	if (w) {
		json_end_array(w);
		json_end_object(w);
		if (json_writer_finish(w) < 0) {
			return -EOVERFLOW;
		}
	} else if (n <= 0) {
		fprintf(out, "no DRM cards in %s\n", dri_dir);
	}
	if (n <= 0) {
		return -ENODEV;
	}
	return listed > 0 ? 0 : first_err;
}
