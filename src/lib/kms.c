/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "edid.h"
#include "kms.h"
#include "kmscast/gem.h"
#include "kmscast/wire.h"

#define DRM_DIR "/dev/dri"

static int card_number(const char *name)
{
	return atoi(name + 4);
}

static int compare_cards(const void *a, const void *b)
{
	return card_number(a) - card_number(b);
}

int kms_list_cards(const char *dir, char names[][KMS_NAME_MAX], size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	size_t n = 0;

	if (!d) {
		return -errno;
	}
	while ((ent = readdir(d)) != NULL) {
		if (!wire_card_name_valid(ent->d_name)) {
			continue;
		}
		if (n == max) {
			closedir(d);
			return -E2BIG;
		}
		snprintf(names[n++], KMS_NAME_MAX, "%.*s", KMS_NAME_MAX - 1, ent->d_name);
	}
	closedir(d);
	qsort(names, n, KMS_NAME_MAX, compare_cards);
	return (int)n;
}

const char *kms_fourcc_str(uint32_t fourcc, char buf[static 5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);
		buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}

uint32_t kms_mode_refresh_mhz(const drmModeModeInfo *mode)
{
	uint64_t num = (uint64_t)mode->clock * 1000000;
	uint64_t den = (uint64_t)mode->htotal * mode->vtotal;

	if (den == 0) {
		return 0;
	}
	if (mode->flags & DRM_MODE_FLAG_INTERLACE) {
		num *= 2;
	}
	if (mode->flags & DRM_MODE_FLAG_DBLSCAN) {
		den *= 2;
	}
	if (mode->vscan > 1) {
		den *= mode->vscan;
	}
	return (uint32_t)((num + den / 2) / den);
}

static void set_plane_prop(struct kms_plane *plane, const char *name, uint32_t id)
{
	static const struct {
		const char *name;
		size_t offset;
	} table[] = {
		{"FB_ID", offsetof(struct kms_plane_props, fb_id)},
		{"CRTC_ID", offsetof(struct kms_plane_props, crtc_id)},
		{"CRTC_X", offsetof(struct kms_plane_props, crtc_x)},
		{"CRTC_Y", offsetof(struct kms_plane_props, crtc_y)},
		{"CRTC_W", offsetof(struct kms_plane_props, crtc_w)},
		{"CRTC_H", offsetof(struct kms_plane_props, crtc_h)},
		{"SRC_X", offsetof(struct kms_plane_props, src_x)},
		{"SRC_Y", offsetof(struct kms_plane_props, src_y)},
		{"SRC_W", offsetof(struct kms_plane_props, src_w)},
		{"SRC_H", offsetof(struct kms_plane_props, src_h)},
		{"HOTSPOT_X", offsetof(struct kms_plane_props, hotspot_x)},
		{"HOTSPOT_Y", offsetof(struct kms_plane_props, hotspot_y)},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(name, table[i].name) == 0) {
			*(uint32_t *)((char *)&plane->prop + table[i].offset) = id;
			return;
		}
	}
}

static void store_plane_value(struct kms_plane *plane, uint32_t prop, uint64_t value)
{
	const struct kms_plane_props *p = &plane->prop;
	struct kms_plane_state *s = &plane->state;

	if (prop == 0) {
		return;
	}
	if (prop == p->fb_id) {
		s->fb_id = (uint32_t)value;
	} else if (prop == p->crtc_id) {
		s->crtc_id = (uint32_t)value;
	} else if (prop == p->crtc_x) {
		s->crtc_x = (int32_t)value;
	} else if (prop == p->crtc_y) {
		s->crtc_y = (int32_t)value;
	} else if (prop == p->crtc_w) {
		s->crtc_w = (uint32_t)value;
	} else if (prop == p->crtc_h) {
		s->crtc_h = (uint32_t)value;
	} else if (prop == p->src_x) {
		s->src_x = (uint32_t)value;
	} else if (prop == p->src_y) {
		s->src_y = (uint32_t)value;
	} else if (prop == p->src_w) {
		s->src_w = (uint32_t)value;
	} else if (prop == p->src_h) {
		s->src_h = (uint32_t)value;
	} else if (prop == p->hotspot_x) {
		s->hotspot_x = (int32_t)value;
	} else if (prop == p->hotspot_y) {
		s->hotspot_y = (int32_t)value;
	}
}

/*
 * The node reads this on its data loop (the cursor plane at every tick, the primary plane once
 * per frame when the consumer takes the crop meta): one GETPROPERTIES into arrays on the
 * stack, where drmModeObjectGetProperties makes two ioctls (count, then fetch) and three
 * allocations. A plane with more properties than the arrays takes that way.
 */
#define PLANE_PROPS_MAX 48

int kms_plane_read_state(struct kms_device *dev, struct kms_plane *plane)
{
	uint32_t ids[PLANE_PROPS_MAX];
	uint64_t values[PLANE_PROPS_MAX];
	struct drm_mode_obj_get_properties arg = {
		.props_ptr = (uint64_t)(uintptr_t)ids,
		.prop_values_ptr = (uint64_t)(uintptr_t)values,
		.count_props = PLANE_PROPS_MAX,
		.obj_id = plane->id,
		.obj_type = DRM_MODE_OBJECT_PLANE,
	};
	drmModeObjectProperties *props;

	if (drmIoctl(dev->fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &arg) < 0) {
		return errno ? -errno : -ENOENT;
	}
	memset(&plane->state, 0, sizeof(plane->state));
	if (arg.count_props <= PLANE_PROPS_MAX) {
		for (uint32_t i = 0; i < arg.count_props; i++) {
			store_plane_value(plane, ids[i], values[i]);
		}
		return 0;
	}
	props = drmModeObjectGetProperties(dev->fd, plane->id, DRM_MODE_OBJECT_PLANE);
	if (!props) {
		return errno ? -errno : -ENOENT;
	}
	for (uint32_t i = 0; i < props->count_props; i++) {
		store_plane_value(plane, props->props[i], props->prop_values[i]);
	}
	drmModeFreeObjectProperties(props);
	return 0;
}

int kms_plane_read_fb(struct kms_device *dev, struct kms_plane *plane)
{
	/* count_format_types 0: the kernel copies no format list. */
	struct drm_mode_get_plane arg = {.plane_id = plane->id};

	if (drmIoctl(dev->fd, DRM_IOCTL_MODE_GETPLANE, &arg) < 0) {
		return errno ? -errno : -ENOENT;
	}
	plane->state.fb_id = arg.fb_id;
	plane->state.crtc_id = arg.crtc_id;
	return 0;
}

/* Looks up the property ids once; the type property is read here and never again. */
static int plane_init(struct kms_device *dev, struct kms_plane *plane, uint32_t id)
{
	drmModeObjectProperties *props;
	drmModePlane *p;

	memset(plane, 0, sizeof(*plane));
	plane->id = id;
	p = drmModeGetPlane(dev->fd, id);
	if (!p) {
		return -errno;
	}
	plane->possible_crtcs = p->possible_crtcs;
	drmModeFreePlane(p);

	props = drmModeObjectGetProperties(dev->fd, id, DRM_MODE_OBJECT_PLANE);
	if (!props) {
		return -errno;
	}
	for (uint32_t i = 0; i < props->count_props; i++) {
		drmModePropertyRes *prop = drmModeGetProperty(dev->fd, props->props[i]);

		if (!prop) {
			continue;
		}
		if (strcmp(prop->name, "type") == 0) {
			plane->type = (enum kms_plane_type)props->prop_values[i];
		}
		set_plane_prop(plane, prop->name, prop->prop_id);
		drmModeFreeProperty(prop);
	}
	plane->has_hotspot = plane->prop.hotspot_x && plane->prop.hotspot_y;
	for (uint32_t i = 0; i < props->count_props; i++) {
		store_plane_value(plane, props->props[i], props->prop_values[i]);
	}
	drmModeFreeObjectProperties(props);
	return 0;
}

static int read_planes(struct kms_device *dev)
{
	drmModePlaneRes *res = drmModeGetPlaneResources(dev->fd);
	int ret = 0;

	if (!res) {
		return -errno;
	}
	if (res->count_planes > KMS_MAX_PLANES) {
		ret = -E2BIG;
		goto out_free;
	}
	dev->n_planes = 0;
	for (uint32_t i = 0; i < res->count_planes; i++) {
		ret = plane_init(dev, &dev->planes[dev->n_planes], res->planes[i]);
		if (ret == -ENOENT) {
			continue; /* hot-unplugged between the two ioctls */
		}
		if (ret < 0) {
			goto out_free;
		}
		dev->n_planes++;
	}
	ret = 0;
out_free:
	drmModeFreePlaneResources(res);
	return ret;
}

/*
 * vkms delivers vblank events; virtio-gpu 6.1 answers EOPNOTSUPP. An inactive CRTC answers
 * EINVAL on every driver, so the probe only means something for an active one.
 */
static bool crtc_probe_vblank(struct kms_device *dev, const struct kms_crtc *crtc)
{
	uint64_t seq, ns;

	return drmCrtcGetSequence(dev->fd, crtc->id, &seq, &ns) == 0;
}

/* The plane of this type scanning out for the CRTC now, else the first one that may. */
static struct kms_plane *pick_plane(struct kms_device *dev, const struct kms_crtc *crtc,
		enum kms_plane_type type)
{
	struct kms_plane *candidate = NULL;

	for (uint32_t i = 0; i < dev->n_planes; i++) {
		struct kms_plane *plane = &dev->planes[i];

		if (plane->type != type || !(plane->possible_crtcs & (1u << crtc->index))) {
			continue;
		}
		if (plane->state.crtc_id == crtc->id) {
			return plane;
		}
		if (!candidate && plane->state.crtc_id == 0) {
			candidate = plane;
		}
	}
	return candidate;
}

int kms_crtc_read_refresh(struct kms_device *dev, uint32_t crtc_id, uint32_t *refresh_mhz)
{
	drmModeCrtc *c = drmModeGetCrtc(dev->fd, crtc_id);
	int res = 0;

	if (!c) {
		return -errno;
	}
	if (!c->mode_valid) {
		res = -ENODEV;
	} else if ((*refresh_mhz = kms_mode_refresh_mhz(&c->mode)) == 0) {
		res = -EINVAL;
	}
	drmModeFreeCrtc(c);
	return res;
}

static int read_crtcs(struct kms_device *dev, const drmModeRes *res)
{
	if (res->count_crtcs > KMS_MAX_CRTCS) {
		return -E2BIG;
	}
	dev->n_crtcs = 0;
	for (int i = 0; i < res->count_crtcs; i++) {
		struct kms_crtc *crtc = &dev->crtcs[dev->n_crtcs];
		drmModeCrtc *c = drmModeGetCrtc(dev->fd, res->crtcs[i]);

		if (!c) {
			return -errno;
		}
		memset(crtc, 0, sizeof(*crtc));
		crtc->id = c->crtc_id;
		crtc->index = i;
		crtc->active = c->mode_valid;
		if (c->mode_valid) {
			crtc->mode = c->mode;
			crtc->refresh_mhz = kms_mode_refresh_mhz(&c->mode);
		}
		drmModeFreeCrtc(c);
		crtc->primary = pick_plane(dev, crtc, KMS_PLANE_PRIMARY);
		crtc->cursor = pick_plane(dev, crtc, KMS_PLANE_CURSOR);
		crtc->has_vblank = crtc->active && crtc_probe_vblank(dev, crtc);
		dev->n_crtcs++;
	}
	return 0;
}

static void read_edid(struct kms_device *dev, struct kms_connector *conn,
		const drmModeConnector *c)
{
	for (int i = 0; i < c->count_props; i++) {
		drmModePropertyRes *prop = drmModeGetProperty(dev->fd, c->props[i]);
		drmModePropertyBlobRes *blob;

		if (!prop) {
			continue;
		}
		if (strcmp(prop->name, "EDID") != 0 || !(prop->flags & DRM_MODE_PROP_BLOB) ||
				c->prop_values[i] == 0) {
			drmModeFreeProperty(prop);
			continue;
		}
		drmModeFreeProperty(prop);
		blob = drmModeGetPropertyBlob(dev->fd, (uint32_t)c->prop_values[i]);
		if (!blob) {
			return;
		}
		conn->has_edid = edid_parse(blob->data, blob->length, &conn->monitor) == 0;
		drmModeFreePropertyBlob(blob);
		return;
	}
}

static uint32_t encoder_crtc(struct kms_device *dev, uint32_t encoder_id)
{
	drmModeEncoder *enc;
	uint32_t crtc_id;

	if (!encoder_id) {
		return 0;
	}
	enc = drmModeGetEncoder(dev->fd, encoder_id);
	if (!enc) {
		return 0;
	}
	crtc_id = enc->crtc_id;
	drmModeFreeEncoder(enc);
	return crtc_id;
}

static int read_connectors(struct kms_device *dev, const drmModeRes *res)
{
	if (res->count_connectors > KMS_MAX_CONNECTORS) {
		return -E2BIG;
	}
	dev->n_connectors = 0;
	for (int i = 0; i < res->count_connectors; i++) {
		struct kms_connector *conn = &dev->connectors[dev->n_connectors];
		/* GetConnectorCurrent: a full probe may take a DDC read and seconds. */
		drmModeConnector *c = drmModeGetConnectorCurrent(dev->fd, res->connectors[i]);
		const char *type;

		if (!c) {
			continue; /* unplugged (MST) between the two ioctls */
		}
		memset(conn, 0, sizeof(*conn));
		conn->id = c->connector_id;
		conn->status = (enum kms_connection)c->connection;
		type = drmModeGetConnectorTypeName(c->connector_type);
		snprintf(conn->name, sizeof(conn->name), "%s-%u", type ? type : "Unknown",
				c->connector_type_id);
		conn->crtc_id = encoder_crtc(dev, c->encoder_id);
		read_edid(dev, conn, c);
		drmModeFreeConnector(c);
		dev->n_connectors++;
	}
	return 0;
}

int kms_device_refresh(struct kms_device *dev)
{
	drmModeRes *res;
	int ret;

	ret = read_planes(dev);
	if (ret < 0) {
		return ret;
	}
	res = drmModeGetResources(dev->fd);
	if (!res) {
		return errno == EOPNOTSUPP || errno == EINVAL ? -ENODEV : -errno;
	}
	ret = read_crtcs(dev, res);
	if (ret == 0) {
		ret = read_connectors(dev, res);
	}
	drmModeFreeResources(res);
	return ret;
}

static int open_card(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

	/* The ioctls we use check no file mode, so a read-only node is enough. */
	if (fd < 0 && errno == EACCES) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	return fd < 0 ? -errno : fd;
}

static int device_setup(struct kms_device *dev)
{
	drmVersion *ver;
	uint64_t cap = 0;
	struct stat st;

	if (fstat(dev->fd, &st) < 0) {
		return -errno;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != KMS_DRM_MAJOR) {
		return -ENODEV;
	}

	/*
	 * The kernel makes the first opener of a card master, even an unprivileged one. A
	 * compositor that starts after us would then fail to modeset: give it up at once.
	 */
	if (drmIsMaster(dev->fd)) {
		drmDropMaster(dev->fd);
	}

	ver = drmGetVersion(dev->fd);
	if (!ver) {
		return -ENODEV; /* not a DRM device */
	}
	snprintf(dev->driver, sizeof(dev->driver), "%s", ver->name ? ver->name : "?");
	drmFreeVersion(ver);

	/* Universal planes show primary and cursor planes; atomic shows CRTC_X and SRC_*. */
	if (drmSetClientCap(dev->fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0) {
		return -errno;
	}
	drmSetClientCap(dev->fd, DRM_CLIENT_CAP_ATOMIC, 1);
	if (drmGetCap(dev->fd, DRM_CAP_ADDFB2_MODIFIERS, &cap) == 0) {
		dev->addfb2_modifiers = cap != 0;
	}
	return kms_device_refresh(dev);
}

int kms_device_open(const char *card, struct kms_device **out)
{
	struct kms_device *dev;
	const char *base;
	int ret;

	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		return -ENOMEM;
	}
	if (card[0] == '/') {
		snprintf(dev->path, sizeof(dev->path), "%s", card);
	} else {
		snprintf(dev->path, sizeof(dev->path), DRM_DIR "/%s", card);
	}
	base = strrchr(dev->path, '/');
	snprintf(dev->name, sizeof(dev->name), "%.*s", KMS_NAME_MAX - 1, base ? base + 1 : dev->path);

	dev->fd = open_card(dev->path);
	if (dev->fd < 0) {
		ret = dev->fd;
		goto err_free;
	}
	ret = device_setup(dev);
	if (ret < 0) {
		goto err_close;
	}
	*out = dev;
	return 0;

err_close:
	close(dev->fd);
err_free:
	free(dev);
	return ret;
}

void kms_device_destroy(struct kms_device *dev)
{
	if (!dev) {
		return;
	}
	if (dev->fd >= 0) {
		close(dev->fd);
	}
	free(dev);
}

int kms_fb_get_info(struct kms_device *dev, uint32_t fb_id, struct kms_fb_info *out)
{
	drmModeFB2 *fb;

	memset(out, 0, sizeof(*out));
	fb = drmModeGetFB2(dev->fd, fb_id);
	if (!fb) {
		return errno ? -errno : -ENOENT;
	}
	/* A privileged caller gets GEM handles it did not ask for; a failed close leaks one. */
	(void)gem_close_handles(dev->fd, fb->handles, sizeof(fb->handles) / sizeof(fb->handles[0]));

	out->id = fb->fb_id;
	out->width = fb->width;
	out->height = fb->height;
	out->fourcc = fb->pixel_format;
	out->modifier_explicit = fb->flags & DRM_MODE_FB_MODIFIERS;
	out->modifier = out->modifier_explicit ? fb->modifier : DRM_FORMAT_MOD_INVALID;
	for (int i = 0; i < KMS_MAX_FB_PLANES; i++) {
		if (fb->pitches[i] == 0) {
			break;
		}
		out->pitches[i] = fb->pitches[i];
		out->offsets[i] = fb->offsets[i];
		out->n_planes++;
	}
	drmModeFreeFB2(fb);
	return 0;
}

struct kms_crtc *kms_device_find_crtc(struct kms_device *dev, uint32_t crtc_id)
{
	for (uint32_t i = 0; i < dev->n_crtcs; i++) {
		if (dev->crtcs[i].id == crtc_id) {
			return &dev->crtcs[i];
		}
	}
	return NULL;
}

struct kms_connector *kms_device_find_connector(struct kms_device *dev, const char *name)
{
	for (uint32_t i = 0; i < dev->n_connectors; i++) {
		if (strcmp(dev->connectors[i].name, name) == 0) {
			return &dev->connectors[i];
		}
	}
	return NULL;
}

struct kms_connector *kms_crtc_connector(struct kms_device *dev, const struct kms_crtc *crtc)
{
	for (uint32_t i = 0; i < dev->n_connectors; i++) {
		if (dev->connectors[i].crtc_id == crtc->id) {
			return &dev->connectors[i];
		}
	}
	return NULL;
}
