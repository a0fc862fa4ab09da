/*
 * The DRM backend: turn "the framebuffer on plane <kind> of CRTC <id> of card<N>, now" into
 * DMA-BUF fds. The request names no framebuffer; the fb id always comes from the plane's
 * current FB_ID, so only what is being scanned out can be exported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "helper.h"
#include "kmscast/gem.h"

#define DRM_MAJOR 226
#define DRM_MAX_PRIMARY_MINOR 63 /* 64..127 control (gone), 128.. render nodes */
#define MAX_PLANES_PER_CARD 64 /* planes we look at on one card */
/* Flips racing one export; a 60 Hz flipper under qemu TCG needed more than two. */
#define EXPORT_ATTEMPTS 4

struct card {
	char name[HELPER_MAX_CARD_NAME];
	int fd; /* owned */
	dev_t devnum; /* of fd, from open_card's check: the device exports come from */
	/* Property ids are device-global for these (drm_mode_config), so look them up once. */
	uint32_t prop_type, prop_crtc_id, prop_fb_id, prop_active;
};

/*
 * A primary-plane FB exported on this connection, kept so that CHECK can tell it from a later
 * FB under the same id. Its GEM handles stay open: a GEM object caches its dma-buf only while
 * it has a handle (drm_gem_object_exported_dma_buf_free, 6.1, drops the cache when the last
 * one closes), and compositors such as wlroots close theirs right after ADDFB2. With a handle
 * kept here, exporting the object again gives the same dma-buf, so the same inode, and that
 * dma-buf (so its inode number) lives as long as the handle: an FB on another buffer object
 * cannot export to it. While GETFB2's new handles are open, our file holds two handles of
 * one object; closing one drops only its own prime entry since "drm/gem: Fix GEM handle
 * release errors" (6.0), before which it dropped the object's (by dma-buf).
 */
struct kept_fb {
	uint32_t fb_id; /* 0: slot free */
	size_t card; /* index in card_cache::cards, whose fd the handles belong to */
	/* owned: GETFB2's handles per plane, a shared one repeated (gem_close_handles) */
	uint32_t handles[HELPER_MAX_PLANES];
	uint32_t n_planes;
	/* per plane: the exported dma-buf's inode */
	ino_t ino[HELPER_MAX_PLANES];
	dev_t dev[HELPER_MAX_PLANES];
	/* What the FB reply said besides the fds: the same objects in another layout differ. */
	uint32_t width, height, fourcc, flags;
	uint64_t modifier;
	uint32_t offsets[HELPER_MAX_PLANES], pitches[HELPER_MAX_PLANES];
	uint64_t last_use; /* card_cache::use_clock when last exported or checked */
};

/*
 * Per-connection state: the cards opened and the FBs kept. Cards stay until the whole cache
 * goes (conn_destroy, or session.c re-creating it), so kept_fb::card stays valid, and kept
 * FBs never outlive their card's fd.
 */
struct card_cache {
	struct card cards[HELPER_MAX_CARDS];
	size_t n_cards;
	struct kept_fb kept[HELPER_MAX_KEPT_FBS];
	uint64_t use_clock;
};

/* GETFB2's handles move into kept_fb::handles and out through export_once as they are. */
_Static_assert(
	sizeof(((struct drm_mode_fb_cmd2 *)0)->handles) == HELPER_MAX_PLANES * sizeof(uint32_t),
	"GETFB2 handles per FB");

struct plane_state {
	uint64_t type, crtc_id, fb_id;
};

static int conn_create(void *data, void **conn_state)
{
	struct card_cache *cache = calloc(1, sizeof(*cache));
	if (cache == NULL) {
		return -ENOMEM;
	}
	*conn_state = cache;
	return 0;
}

/* Closes the kept FB's handles and frees its slot. */
static void drop_kept(struct card_cache *cache, struct kept_fb *kept)
{
	int r = gem_close_handles(cache->cards[kept->card].fd, kept->handles, HELPER_MAX_PLANES);
	if (r < 0) {
		helper_log(
			"GEM_CLOSE of kept fb %u's handles failed: %s", kept->fb_id, strerror(-r));
	}
	memset(kept, 0, sizeof(*kept));
}

static void conn_destroy(void *data, void *conn_state)
{
	struct card_cache *cache = conn_state;
	if (cache == NULL) {
		return;
	}
	/* Closing a card's fd would release its handles too; closing them first says so. */
	for (size_t i = 0; i < HELPER_MAX_KEPT_FBS; i++) {
		if (cache->kept[i].fb_id != 0) {
			drop_kept(cache, &cache->kept[i]);
		}
	}
	for (size_t i = 0; i < cache->n_cards; i++) {
		close(cache->cards[i].fd);
	}
	free(cache);
}

/* Finds the id of the property called name among obj's properties; 0 if absent. */
static uint32_t find_prop(int fd, uint32_t obj_id, uint32_t obj_type, const char *name)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, obj_id, obj_type);
	if (props == NULL) {
		return 0;
	}
	uint32_t id = 0;
	for (uint32_t i = 0; i < props->count_props && id == 0; i++) {
		drmModePropertyRes *prop = drmModeGetProperty(fd, props->props[i]);
		if (prop != NULL && strcmp(prop->name, name) == 0) {
			id = prop->prop_id;
		}
		drmModeFreeProperty(prop);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

static int lookup_props(struct card *card, char *reason, size_t size)
{
	drmModePlaneRes *planes = drmModeGetPlaneResources(card->fd);
	drmModeRes *res = drmModeGetResources(card->fd);
	if (planes != NULL && planes->count_planes > 0) {
		uint32_t plane = planes->planes[0];
		card->prop_type = find_prop(card->fd, plane, DRM_MODE_OBJECT_PLANE, "type");
		card->prop_crtc_id = find_prop(card->fd, plane, DRM_MODE_OBJECT_PLANE, "CRTC_ID");
		card->prop_fb_id = find_prop(card->fd, plane, DRM_MODE_OBJECT_PLANE, "FB_ID");
	}
	if (res != NULL && res->count_crtcs > 0) {
		card->prop_active =
			find_prop(card->fd, res->crtcs[0], DRM_MODE_OBJECT_CRTC, "ACTIVE");
	}
	drmModeFreePlaneResources(planes);
	drmModeFreeResources(res);
	if (card->prop_type == 0 || card->prop_crtc_id == 0 || card->prop_fb_id == 0 ||
		card->prop_active == 0) {
		return helper_fail(reason, size, -EOPNOTSUPP, "%s: no atomic plane/CRTC properties",
			card->name);
	}
	return 0;
}

/*
 * Opening the primary node of a card that has no master makes us master; give it back. If
 * that fails the card must not stay open: as master we would lock a compositor out and could
 * get GEM handles without CAP_SYS_ADMIN. Returns 0 or -errno.
 */
static int drop_master(int fd)
{
	if (drmIsMaster(fd) && drmDropMaster(fd) < 0) {
		return -errno;
	}
	return 0;
}

static int open_card(const char *name, struct card *card, char *reason, size_t size)
{
	char path[32];
	snprintf(path, sizeof(path), "/dev/dri/%s", name);
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		return helper_fail(
			reason, size, -errno, "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != DRM_MAJOR ||
		minor(st.st_rdev) > DRM_MAX_PRIMARY_MINOR) {
		close(fd);
		return helper_fail(reason, size, -ENODEV, "%s is not a DRM primary node", path);
	}
	int r = drop_master(fd);
	if (r < 0) {
		helper_log("%s: cannot drop DRM master: %s; closing it", name, strerror(-r));
		close(fd);
		return helper_fail(
			reason, size, r, "%s: helper became DRM master and cannot drop it", name);
	}
	memset(card, 0, sizeof(*card));
	snprintf(card->name, sizeof(card->name), "%s", name);
	card->fd = fd; /* fd now owned by card */
	card->devnum = st.st_rdev;

	if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0 ||
		drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1) < 0) {
		close(fd);
		return helper_fail(reason, size, -EOPNOTSUPP, "%s: no atomic modesetting", name);
	}
	r = lookup_props(card, reason, size);
	if (r < 0) {
		close(fd);
	}
	return r;
}

static int get_card(
	struct card_cache *cache, const char *name, struct card **out, char *reason, size_t size)
{
	if (!wire_card_name_valid(name)) {
		return helper_fail(reason, size, -EINVAL, "invalid card name");
	}
	for (size_t i = 0; i < cache->n_cards; i++) {
		if (strcmp(cache->cards[i].name, name) == 0) {
			*out = &cache->cards[i];
			return 0;
		}
	}
	if (cache->n_cards == HELPER_MAX_CARDS) {
		return helper_fail(reason, size, -ENOSPC, "more than %d cards on one connection",
			HELPER_MAX_CARDS);
	}
	int r = open_card(name, &cache->cards[cache->n_cards], reason, size);
	if (r < 0) {
		return r;
	}
	*out = &cache->cards[cache->n_cards++]; /* card_cache::cards */
	return 0;
}

static int get_prop_value(
	int fd, uint32_t obj_id, uint32_t obj_type, uint32_t prop_id, uint64_t *value)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, obj_id, obj_type);
	if (props == NULL) {
		return -errno;
	}
	int r = -ENOENT;
	for (uint32_t i = 0; i < props->count_props; i++) {
		if (props->props[i] == prop_id) {
			*value = props->prop_values[i];
			r = 0;
			break;
		}
	}
	drmModeFreeObjectProperties(props);
	return r;
}

static int read_plane(const struct card *card, uint32_t plane_id, struct plane_state *state)
{
	drmModeObjectProperties *props =
		drmModeObjectGetProperties(card->fd, plane_id, DRM_MODE_OBJECT_PLANE);
	if (props == NULL) {
		return -errno;
	}
	memset(state, 0, sizeof(*state));
	for (uint32_t i = 0; i < props->count_props; i++) {
		if (props->props[i] == card->prop_type) {
			state->type = props->prop_values[i];
		} else if (props->props[i] == card->prop_crtc_id) {
			state->crtc_id = props->prop_values[i];
		} else if (props->props[i] == card->prop_fb_id) {
			state->fb_id = props->prop_values[i];
		}
	}
	drmModeFreeObjectProperties(props);
	return 0;
}

static int check_crtc_active(const struct card *card, uint32_t crtc_id, char *reason, size_t size)
{
	uint64_t active = 0;
	int r = get_prop_value(card->fd, crtc_id, DRM_MODE_OBJECT_CRTC, card->prop_active, &active);
	if (r < 0) {
		return helper_fail(reason, size, -ENOENT, "no CRTC %u on %s", crtc_id, card->name);
	}
	if (!active) {
		return helper_fail(
			reason, size, -ENODATA, "CRTC %u on %s is off", crtc_id, card->name);
	}
	return 0;
}

/* Finds the plane of kind that scans out on crtc_id now and returns its plane id and fb id. */
static int find_plane(const struct card *card, uint32_t crtc_id, enum kmscast_plane_kind kind,
	uint32_t *plane_id, uint32_t *fb_id, char *reason, size_t size)
{
	uint64_t want =
		kind == KMSCAST_PLANE_CURSOR ? DRM_PLANE_TYPE_CURSOR : DRM_PLANE_TYPE_PRIMARY;
	const char *kind_name = kind == KMSCAST_PLANE_CURSOR ? "cursor" : "primary";
	drmModePlaneRes *planes = drmModeGetPlaneResources(card->fd);
	if (planes == NULL) {
		return helper_fail(reason, size, -errno, "%s: cannot list planes", card->name);
	}
	int r = helper_fail(
		reason, size, -ENOENT, "no enabled %s plane on CRTC %u", kind_name, crtc_id);
	uint32_t n = planes->count_planes;
	n = n > MAX_PLANES_PER_CARD ? MAX_PLANES_PER_CARD : n;
	for (uint32_t i = 0; i < n; i++) {
		struct plane_state state;
		if (read_plane(card, planes->planes[i], &state) < 0) {
			continue;
		}
		if (state.type == want && state.crtc_id == crtc_id && state.fb_id != 0) {
			*plane_id = planes->planes[i];
			*fb_id = (uint32_t)state.fb_id;
			r = 0;
			break;
		}
	}
	drmModeFreePlaneResources(planes);
	return r;
}

/* Index of the fd in fds[0..n) that is the same dma-buf as fd (same inode), or -1. */
static int same_dmabuf(const int *fds, size_t n, int fd)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (fstat(fds[i], &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			return (int)i;
		}
	}
	return -1;
}

/*
 * Exports one fd per distinct buffer object of fb2 into fds and fills the plane layout of
 * *fb. Without DRM_RDWR, which does not make them read-only: the kernel hands out its one
 * cached dma-buf file per buffer, opened as whoever exported it first (the compositor, often
 * read-write), and GPU import ignores the file mode anyway.
 */
static int export_planes(int card_fd, const struct drm_mode_fb_cmd2 *fb2, struct helper_msg_fb *fb,
	int fds[HELPER_MAX_FDS], char *reason, size_t size)
{
	uint32_t handle_of_fd[HELPER_MAX_FDS];
	for (int i = 0; i < HELPER_MAX_PLANES && fb2->handles[i] != 0; i++) {
		int index = -1;
		for (uint32_t j = 0; j < fb->n_fds; j++) {
			index = handle_of_fd[j] == fb2->handles[i] ? (int)j : index;
		}
		if (index < 0) {
			int fd = -1;
			if (drmPrimeHandleToFD(card_fd, fb2->handles[i], DRM_CLOEXEC, &fd) < 0) {
				wire_close_fds(fds, fb->n_fds);
				return helper_fail(reason, size, -errno, "PRIME export failed: %s",
					strerror(errno));
			}
			/* Two handles of one BO export the same dma-buf: keep one fd. */
			index = same_dmabuf(fds, fb->n_fds, fd);
			if (index >= 0) {
				close(fd);
			} else {
				index = (int)fb->n_fds++;
				fds[index] = fd; /* fd now owned by fds */
				handle_of_fd[index] = fb2->handles[i];
			}
		}
		fb->plane_fd_index[i] = (uint32_t)index;
		fb->offsets[i] = fb2->offsets[i];
		fb->pitches[i] = fb2->pitches[i];
		fb->gem_handles[i] = fb2->handles[i];
		fb->n_planes++;
	}
	if (fb->n_planes == 0) {
		return helper_fail(reason, size, -EIO, "framebuffer has no planes");
	}
	return 0;
}

static void fill_fb(const struct drm_mode_fb_cmd2 *fb2, struct helper_msg_fb *fb)
{
	fb->fb_id = fb2->fb_id;
	fb->width = fb2->width;
	fb->height = fb2->height;
	fb->fourcc = fb2->pixel_format;
	if (fb2->flags & DRM_MODE_FB_MODIFIERS) {
		fb->flags |= HELPER_FB_MODIFIER_EXPLICIT;
		/* One modifier per framebuffer: the kernel requires the same on every plane. */
		fb->modifier = fb2->modifier[0];
	} else {
		/* virtio-gpu (6.1) reports modifier 0 without the flag: the layout is implicit. */
		fb->modifier = DRM_FORMAT_MOD_INVALID;
	}
}

/*
 * DRM_IOCTL_MODE_GETFB2 into a struct on the stack, with CAP_SYS_ADMIN effective for this one
 * ioctl. Not libdrm's drmModeGetFB2: it allocates after the ioctl and, when that allocation
 * fails, returns NULL with the new GEM handles still open in our file (libdrm 2.4.114); a
 * spawned helper's caller sets its RLIMIT_AS and could make that happen at will.
 * On failure no handle is open: drm_mode_getfb2_ioctl (6.1) deletes the ones it created.
 * Their numbers may still be in *fb2 (drm_ioctl copies the struct out on failure too), so the
 * caller must not close anything then.
 */
static int get_fb2(int card_fd, uint32_t fb_id, struct drm_mode_fb_cmd2 *fb2)
{
	memset(fb2, 0, sizeof(*fb2));
	fb2->fb_id = fb_id;
	bool raised = helper_privilege_raise() == 0; /* if not, GETFB2 returns no handles */
	int r = drmIoctl(card_fd, DRM_IOCTL_MODE_GETFB2, fb2) < 0 ? -errno : 0;
	if (raised) {
		helper_privilege_lower();
	}
	return r;
}

/* The kept FB of (card, fb_id), or NULL. */
static struct kept_fb *find_kept(struct card_cache *cache, size_t card, uint32_t fb_id)
{
	for (size_t i = 0; i < HELPER_MAX_KEPT_FBS; i++) {
		struct kept_fb *kept = &cache->kept[i];
		if (kept->fb_id != 0 && kept->fb_id == fb_id && kept->card == card) {
			return kept;
		}
	}
	return NULL;
}

/* A free slot, else the least recently used one (still holding its handles). */
static struct kept_fb *lru_slot(struct card_cache *cache)
{
	struct kept_fb *lru = &cache->kept[0];
	for (size_t i = 0; i < HELPER_MAX_KEPT_FBS; i++) {
		struct kept_fb *kept = &cache->kept[i];
		if (kept->fb_id == 0) {
			return kept;
		}
		lru = kept->last_use < lru->last_use ? kept : lru;
	}
	return lru;
}

/* The layout fields of *fb that a kept FB is compared on. */
static void copy_layout(struct kept_fb *kept, const struct helper_msg_fb *fb)
{
	kept->n_planes = fb->n_planes;
	kept->width = fb->width;
	kept->height = fb->height;
	kept->fourcc = fb->fourcc;
	kept->flags = fb->flags;
	kept->modifier = fb->modifier;
	memcpy(kept->offsets, fb->offsets, sizeof(kept->offsets));
	memcpy(kept->pitches, fb->pitches, sizeof(kept->pitches));
}

/*
 * Takes the open GEM handles of the primary-plane FB just exported as *fb, with its dma-bufs
 * in fds, into the table: in place of an older entry for its id (a recycled id), else in a free
 * or the least recently used slot, whose handles are closed. Cannot fail: if a dma-buf cannot be
 * stat'ed, the handles are closed and the FB is not kept, so a CHECK of it asks for an export.
 */
static void keep_fb(struct card_cache *cache, size_t card, const struct helper_msg_fb *fb,
	const int fds[HELPER_MAX_FDS], const uint32_t handles[HELPER_MAX_PLANES])
{
	struct kept_fb entry = {.fb_id = fb->fb_id, .card = card};
	memcpy(entry.handles, handles, sizeof(entry.handles));
	copy_layout(&entry, fb);
	for (uint32_t i = 0; i < fb->n_planes; i++) {
		struct stat st;
		if (fstat(fds[fb->plane_fd_index[i]], &st) < 0) {
			helper_log_debug("fb %u not kept: fstat: %m", fb->fb_id);
			(void)gem_close_handles(cache->cards[card].fd, handles, HELPER_MAX_PLANES);
			return;
		}
		entry.ino[i] = st.st_ino;
		entry.dev[i] = st.st_dev;
	}
	struct kept_fb *slot = find_kept(cache, card, fb->fb_id);
	slot = slot != NULL ? slot : lru_slot(cache);
	if (slot->fb_id != 0) {
		drop_kept(cache, slot);
	}
	entry.last_use = ++cache->use_clock;
	*slot = entry; /* handles now owned by card_cache::kept */
}

/*
 * GETFB2 on the fb the plane shows, export, and close the GEM handles, or, with kept_handles
 * and on success only, store them there, open and owned by the caller. The plane is read again
 * after GETFB2: fb ids are reused by the kernel, and only a fb still on the plane is exported.
 */
static int export_once(const struct card *card, uint32_t plane_id, uint32_t fb_id,
	struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], uint32_t *kept_handles, char *reason,
	size_t size)
{
	struct drm_mode_fb_cmd2 getfb2;
	const struct drm_mode_fb_cmd2 *fb2 = &getfb2;
	int r = get_fb2(card->fd, fb_id, &getfb2);
	if (r < 0) {
		return helper_fail(reason, size, r, "GETFB2 %u: %s", fb_id, strerror(-r));
	}
	struct plane_state after;
	if (fb2->handles[0] == 0) {
		r = helper_fail(reason, size, -EPERM,
			"GETFB2 gave no GEM handle: helper lacks CAP_SYS_ADMIN");
	} else if (read_plane(card, plane_id, &after) < 0 || after.fb_id != fb_id) {
		r = -EAGAIN;
	} else {
		fill_fb(fb2, fb);
		r = export_planes(card->fd, fb2, fb, fds, reason, size);
	}
	if (r == 0 && kept_handles != NULL) {
		memcpy(kept_handles, fb2->handles, sizeof(fb2->handles)); /* now the caller's */
		return 0;
	}
	/* On every other path, before any reply. */
	int closed = gem_close_handles(
		card->fd, fb2->handles, sizeof(fb2->handles) / sizeof(fb2->handles[0]));
	if (closed < 0) {
		helper_log("GEM_CLOSE of fb %u's handles failed: %s", fb_id, strerror(-closed));
	}
	return r;
}

static int export_fb(void *data, void *conn_state, const struct helper_request *req,
	struct helper_msg_fb *fb, int fds[HELPER_MAX_FDS], char *reason, size_t size)
{
	struct card_cache *cache = conn_state;
	struct card *card = NULL;
	int r = get_card(cache, req->card, &card, reason, size);
	if (r < 0) {
		return r;
	}
	/* Only primary-plane FBs are kept: cursor exports are not checked, only re-exported. */
	uint32_t handles[HELPER_MAX_PLANES] = {0};
	uint32_t *keep = req->plane == KMSCAST_PLANE_PRIMARY ? handles : NULL;
	r = check_crtc_active(card, req->crtc_id, reason, size);
	if (r < 0) {
		return r;
	}
	uint32_t plane_id = 0, fb_id = 0;
	r = find_plane(card, req->crtc_id, req->plane, &plane_id, &fb_id, reason, size);
	for (int attempt = 0; r == 0 && attempt < EXPORT_ATTEMPTS; attempt++) {
		memset(fb, 0, sizeof(*fb));
		r = export_once(card, plane_id, fb_id, fb, fds, keep, reason, size);
		if (r == 0 && keep != NULL) {
			keep_fb(cache, (size_t)(card - cache->cards), fb, fds, handles);
		}
		if (r != -EAGAIN) {
			return r;
		}
		/* A flip landed between reading FB_ID and GETFB2: take the new one. */
		struct plane_state now;
		if (read_plane(card, plane_id, &now) < 0 || now.crtc_id != req->crtc_id ||
			now.fb_id == 0) {
			return helper_fail(reason, size, -ENOENT, "plane %u left CRTC %u", plane_id,
				req->crtc_id);
		}
		fb_id = (uint32_t)now.fb_id;
		r = 0;
	}
	return r < 0 ? r : helper_fail(reason, size, -EAGAIN, "framebuffer changed during export");
}

/* Whether GETFB2's answer has the layout the kept FB was exported with. */
static bool same_layout(const struct drm_mode_fb_cmd2 *fb2, const struct kept_fb *kept)
{
	struct helper_msg_fb now;
	memset(&now, 0, sizeof(now));
	fill_fb(fb2, &now);
	bool same = now.width == kept->width && now.height == kept->height &&
		    now.fourcc == kept->fourcc && now.flags == kept->flags &&
		    now.modifier == kept->modifier;
	for (uint32_t i = 0; i < kept->n_planes; i++) {
		same = same && fb2->offsets[i] == kept->offsets[i] &&
		       fb2->pitches[i] == kept->pitches[i];
	}
	return same;
}

/*
 * Whether the FB GETFB2 described in fb2 (its handles open) is the kept one: the same plane
 * count and layout, and each plane exporting to the dma-buf recorded for it. Returns 0, -ESTALE
 * if not, or another -errno with a reason. Closes every fd it exports, not the handles.
 */
static int compare_kept(int card_fd, const struct drm_mode_fb_cmd2 *fb2, const struct kept_fb *kept,
	char *reason, size_t size)
{
	uint32_t n_planes = 0;
	while (n_planes < HELPER_MAX_PLANES && fb2->handles[n_planes] != 0) {
		n_planes++;
	}
	if (n_planes != kept->n_planes || !same_layout(fb2, kept)) {
		return helper_fail(
			reason, size, -ESTALE, "FB %u has another layout now", kept->fb_id);
	}
	for (uint32_t i = 0; i < n_planes; i++) {
		int fd = -1;
		if (drmPrimeHandleToFD(card_fd, fb2->handles[i], DRM_CLOEXEC, &fd) < 0) {
			int r = -errno;
			return helper_fail(
				reason, size, r, "PRIME export failed: %s", strerror(-r));
		}
		struct stat st;
		int r = fstat(fd, &st) < 0 ? -errno : 0;
		close(fd);
		if (r < 0) {
			return helper_fail(reason, size, r, "fstat of a dma-buf: %s", strerror(-r));
		}
		if (st.st_ino != kept->ino[i] || st.st_dev != kept->dev[i]) {
			return helper_fail(
				reason, size, -ESTALE, "FB %u is another buffer now", kept->fb_id);
		}
	}
	return 0;
}

/*
 * CHECK: only among the cards this connection already opened, since CHECK bypasses the seat
 * check and must not make the helper open a device. GETFB2 mints new handles to the FB's
 * objects whatever it finds; they are closed before returning, on every path.
 */
static int check_fb(
	void *data, void *conn_state, const struct helper_request *req, char *reason, size_t size)
{
	struct card_cache *cache = conn_state;
	struct kept_fb *kept = NULL;
	for (size_t i = 0; i < cache->n_cards && kept == NULL; i++) {
		if (strcmp(cache->cards[i].name, req->card) == 0) {
			kept = find_kept(cache, i, req->fb_id);
		}
	}
	if (kept == NULL) {
		return helper_fail(reason, size, -ESTALE,
			"FB %u was not exported on this connection", req->fb_id);
	}
	int card_fd = cache->cards[kept->card].fd;
	struct drm_mode_fb_cmd2 fb2;
	int r = get_fb2(card_fd, req->fb_id, &fb2);
	if (r < 0) {
		if (r == -ENOENT) {
			drop_kept(cache, kept); /* the FB is gone, its objects may follow */
		}
		return helper_fail(reason, size, r, "GETFB2 %u: %s", req->fb_id, strerror(-r));
	}
	if (fb2.handles[0] == 0) {
		r = helper_fail(reason, size, -EPERM,
			"GETFB2 gave no GEM handle: helper lacks CAP_SYS_ADMIN");
	} else {
		r = compare_kept(card_fd, &fb2, kept, reason, size);
	}
	int closed = gem_close_handles(card_fd, fb2.handles, HELPER_MAX_PLANES);
	if (closed < 0) {
		helper_log(
			"GEM_CLOSE of fb %u's handles failed: %s", req->fb_id, strerror(-closed));
	}
	if (r == 0) {
		kept->last_use = ++cache->use_clock;
	} else if (r == -ESTALE) {
		drop_kept(cache, kept);
	}
	return r;
}

/* The device of the fd exports will come from, not of whatever the path names by then. */
static int card_devnum(
	void *data, void *conn_state, const char *name, dev_t *devnum, char *reason, size_t size)
{
	struct card *card = NULL;
	int r = get_card(conn_state, name, &card, reason, size);
	if (r < 0) {
		return r;
	}
	*devnum = card->devnum;
	return 0;
}

const struct helper_backend helper_drm_backend = {
	.conn_create = conn_create,
	.conn_destroy = conn_destroy,
	.export_fb = export_fb,
	.card_devnum = card_devnum,
	.check_fb = check_fb,
};
