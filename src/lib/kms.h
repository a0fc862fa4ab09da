/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_KMS_H
#define KMSCAST_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xf86drmMode.h>

#include "edid.h" /* struct kms_monitor */

/*
 * Unprivileged view of one DRM card: connectors, CRTCs, planes and the framebuffer each
 * plane scans out. Everything here works without DRM master and without CAP_SYS_ADMIN;
 * the GEM handles that GETFB2 would give a privileged caller are closed at once.
 *
 * The kernel controls every count below, and a misbehaving driver (or a fuzzed ioctl
 * layer) must not make us write past an array: each has a MAX_* and going over it fails
 * with -E2BIG.
 */

/* Linux reserves char major 226 for DRM; libdrm keeps its define private. */
#define KMS_DRM_MAJOR 226

#define KMS_MAX_CARDS 16
#define KMS_MAX_CRTCS 16
#define KMS_MAX_CONNECTORS 32
#define KMS_MAX_PLANES 64
#define KMS_MAX_FB_PLANES 4
#define KMS_NAME_MAX 32

enum kms_plane_type {
	KMS_PLANE_OVERLAY = 0, /* values match DRM_PLANE_TYPE_* */
	KMS_PLANE_PRIMARY = 1,
	KMS_PLANE_CURSOR = 2,
};

enum kms_connection {
	KMS_CONNECTED = 1, /* values match drmModeConnection */
	KMS_DISCONNECTED = 2,
	KMS_UNKNOWN_CONNECTION = 3,
};

/* Property ids of a plane, looked up once; 0 when the driver lacks the property. */
struct kms_plane_props {
	uint32_t fb_id, crtc_id;
	uint32_t crtc_x, crtc_y, crtc_w, crtc_h;
	uint32_t src_x, src_y, src_w, src_h;
	uint32_t hotspot_x, hotspot_y;
};

/* What a plane scans out now. SRC_* are 16.16 fixed point, as the kernel keeps them. */
struct kms_plane_state {
	uint32_t fb_id;
	uint32_t crtc_id;
	int32_t crtc_x, crtc_y;
	uint32_t crtc_w, crtc_h;
	uint32_t src_x, src_y, src_w, src_h;
	int32_t hotspot_x, hotspot_y;
};

struct kms_plane {
	uint32_t id;
	enum kms_plane_type type;
	uint32_t possible_crtcs;
	bool has_hotspot;
	struct kms_plane_props prop;
	struct kms_plane_state state;
};

struct kms_crtc {
	uint32_t id;
	int index;
	bool active;
	drmModeModeInfo mode; /* valid when active */
	uint32_t refresh_mhz;
	bool has_vblank; /* the driver delivers vblank events for this CRTC */
	struct kms_plane *primary; /* device::planes, or NULL */
	struct kms_plane *cursor; /* device::planes, or NULL */
};

struct kms_connector {
	uint32_t id;
	char name[KMS_NAME_MAX]; /* as the kernel names it: "HDMI-A-1", "Virtual-1" */
	enum kms_connection status;
	uint32_t crtc_id; /* 0 when not driven */
	bool has_edid;
	struct kms_monitor monitor;
};

/* Framebuffer metadata from GETFB2. Never carries a handle or an fd. */
struct kms_fb_info {
	uint32_t id;
	uint32_t width, height;
	uint32_t fourcc;
	uint64_t modifier; /* DRM_FORMAT_MOD_INVALID when implicit */
	bool modifier_explicit; /* the FB was added with DRM_MODE_FB_MODIFIERS */
	uint32_t n_planes;
	uint32_t pitches[KMS_MAX_FB_PLANES];
	uint32_t offsets[KMS_MAX_FB_PLANES];
};

struct kms_device {
	int fd; /* owned */
	char name[KMS_NAME_MAX]; /* "card0" */
	char path[64]; /* "/dev/dri/card0" */
	char driver[KMS_NAME_MAX];
	bool addfb2_modifiers;

	uint32_t n_crtcs, n_connectors, n_planes;
	struct kms_crtc crtcs[KMS_MAX_CRTCS];
	struct kms_connector connectors[KMS_MAX_CONNECTORS];
	struct kms_plane planes[KMS_MAX_PLANES];
};

/*
 * Lists the DRM primary nodes ("card0", ...) under dir (normally "/dev/dri"), sorted by
 * number: the names wire_card_name_valid accepts, the helper's rule. Writes up to max names.
 * Returns the count, or -errno (-ENOENT when dir is missing).
 */
int kms_list_cards(const char *dir, char names[][KMS_NAME_MAX], size_t max);

/*
 * Opens a card by name ("card0") under /dev/dri, or by absolute path, and reads its
 * state. Never keeps DRM master: a compositor started after us must get it. On success
 * *out owns the fd; free it with kms_device_destroy(). Returns 0 or -errno.
 */
int kms_device_open(const char *card, struct kms_device **out);

/* Closes the fd and frees. Accepts NULL. */
void kms_device_destroy(struct kms_device *dev);

/* Re-reads connectors, CRTCs and planes, for hotplug and modesets. Returns 0 or -errno. */
int kms_device_refresh(struct kms_device *dev);

/*
 * Re-reads one plane's FB_ID, CRTC_ID, CRTC_* and SRC_* (and hotspot) in one ioctl. The
 * kernel takes every modeset lock for it. Returns 0 or -errno.
 */
int kms_plane_read_state(struct kms_device *dev, struct kms_plane *plane);

/*
 * Re-reads only the plane's FB and CRTC (state.fb_id, state.crtc_id) with GETPLANE, which
 * takes the plane's lock alone: the flip check, several times per frame. Returns 0 or
 * -errno.
 */
int kms_plane_read_fb(struct kms_device *dev, struct kms_plane *plane);

/*
 * GETFB2 on fb_id. If the caller is privileged the kernel also returns GEM handles; they
 * are closed here, once each. Returns 0, -ENOENT when the FB is gone, or -errno.
 */
int kms_fb_get_info(struct kms_device *dev, uint32_t fb_id, struct kms_fb_info *out);

struct kms_crtc *kms_device_find_crtc(struct kms_device *dev, uint32_t crtc_id);
struct kms_connector *kms_device_find_connector(struct kms_device *dev, const char *name);

/* The connector driving crtc, or NULL. */
struct kms_connector *kms_crtc_connector(struct kms_device *dev, const struct kms_crtc *crtc);

/* "XR24" for DRM_FORMAT_XRGB8888; buf must hold 5 bytes. Returns buf. */
/* A mode's refresh rate in mHz, rounded; 0 for a mode without timings. */
uint32_t kms_mode_refresh_mhz(const drmModeModeInfo *mode);

/*
 * The refresh rate of CRTC crtc_id's mode now, in mHz, read from the kernel (one GETCRTC;
 * crtcs[] keeps the one read at open). -ENODEV when the CRTC is off, or -errno.
 */
int kms_crtc_read_refresh(struct kms_device *dev, uint32_t crtc_id, uint32_t *refresh_mhz);

const char *kms_fourcc_str(uint32_t fourcc, char buf[static 5]);

#endif
