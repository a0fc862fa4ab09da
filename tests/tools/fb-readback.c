/*
 * fb-readback: read back what each active CRTC scans out, through a DMA-BUF export, and
 * decode the test pattern. Needs root (CAP_SYS_ADMIN) or DRM master: GETFB2 returns GEM
 * handles only to them. One line per CRTC and sample:
 *
 *   crtc=<id> fb=<fb> <W>x<H> fourcc=<cc> modifier=0x<m> explicit=<0|1> frame=<k>
 *        crtc_index=<i> t_ns=<CLOCK_MONOTONIC ns>
 *   crtc=<id> fb=<fb> ... error=<reason>                 (when it cannot be read or decoded)
 *   cursor crtc=<id> fb=<fb> <W>x<H> fourcc=<cc> ... image=<frame/30> color=0x<argb> x=<X> y=<Y>
 *        (--cursor; x, y are the cursor plane's CRTC_X/CRTC_Y)
 *
 * --dump FILE appends each sampled primary frame to FILE as raw video, rows padded to 4 bytes
 * as GStreamer lays them out, so pattern-check reads it with its default stride.
 *
 * Exit status: 0 when every sample decoded (and, with --expect-advancing, the frame numbers
 * of each CRTC never went back and advanced overall), 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "pattern.h"

#define MAX_CRTCS 32
#define MAX_PLANES 64
/* Reads of a plane whose FB vanished under us before giving up. */
#define MAX_ATTEMPTS 3
/* Sanity bound on a buffer we map: 16384 x 16384 x 4 bytes. */
#define MAX_MAP_SIZE (1ull << 30)

struct readback_plane {
	uint32_t id;
	uint64_t type; /* DRM_PLANE_TYPE_* */
};

struct crtc_track {
	uint32_t crtc_id;
	bool seen;
	uint32_t first, last;
	bool went_back;
};

struct readback {
	int drm_fd;
	uint32_t only_crtc; /* 0: all active CRTCs */
	bool cursor;
	FILE *dump;
	struct readback_plane planes[MAX_PLANES];
	uint32_t n_planes;
	struct crtc_track tracks[MAX_CRTCS];
	uint32_t n_tracks;
	bool failed;
};

/* What a plane's framebuffer decoded to. */
struct fb_sample {
	drmModeFB2 *fb2;
	int err; /* 0 or -errno */
	const char *reason;
	struct pattern_result pattern;
	uint32_t cursor_image;
	uint32_t cursor_color;
	FILE *dump; /* --dump: raw rows of the primary plane are appended here */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A plane property's current value, or fallback when the plane has no such property. */
static uint64_t plane_prop(int fd, uint32_t plane_id, const char *name, uint64_t fallback)
{
	drmModeObjectProperties *props =
		drmModeObjectGetProperties(fd, plane_id, DRM_MODE_OBJECT_PLANE);
	uint64_t value = fallback;

	if (!props)
		return value;
	for (uint32_t i = 0; i < props->count_props; i++) {
		drmModePropertyRes *prop = drmModeGetProperty(fd, props->props[i]);
		if (prop && strcmp(prop->name, name) == 0)
			value = props->prop_values[i];
		drmModeFreeProperty(prop);
	}
	drmModeFreeObjectProperties(props);
	return value;
}

static int load_planes(struct readback *rb)
{
	drmModePlaneRes *res;

	if (drmSetClientCap(rb->drm_fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0) {
		fprintf(stderr, "fb-readback: universal planes: %m\n");
		return -errno;
	}
	/* CRTC_X/CRTC_Y are atomic properties: hidden unless the client opts in. */
	drmSetClientCap(rb->drm_fd, DRM_CLIENT_CAP_ATOMIC, 1);
	res = drmModeGetPlaneResources(rb->drm_fd);
	if (!res) {
		fprintf(stderr, "fb-readback: drmModeGetPlaneResources: %m\n");
		return -errno;
	}
	if (res->count_planes > MAX_PLANES)
		fprintf(stderr, "fb-readback: %u planes, only the first %d are looked at\n",
			res->count_planes, MAX_PLANES);
	for (uint32_t i = 0; i < res->count_planes && rb->n_planes < MAX_PLANES; i++) {
		rb->planes[rb->n_planes].id = res->planes[i];
		rb->planes[rb->n_planes].type =
			plane_prop(rb->drm_fd, res->planes[i], "type", DRM_PLANE_TYPE_OVERLAY);
		rb->n_planes++;
	}
	drmModeFreePlaneResources(res);
	return 0;
}

/* The FB on the CRTC's plane of this type, 0 when none; the plane's id in *plane_id. */
static uint32_t plane_fb(
	const struct readback *rb, uint32_t crtc_id, uint64_t type, uint32_t *plane_id)
{
	for (uint32_t i = 0; i < rb->n_planes; i++) {
		drmModePlane *plane;
		uint32_t fb = 0;
		if (rb->planes[i].type != type)
			continue;
		plane = drmModeGetPlane(rb->drm_fd, rb->planes[i].id);
		if (plane && plane->crtc_id == crtc_id)
			fb = plane->fb_id;
		drmModeFreePlane(plane);
		*plane_id = rb->planes[i].id;
		if (fb)
			return fb;
	}
	return 0;
}

/* GEM handles from GETFB2 are new references: close each distinct one exactly once. */
static void close_handles(int fd, const drmModeFB2 *fb2)
{
	for (int i = 0; i < 4; i++) {
		bool dup = false;
		if (!fb2->handles[i])
			continue;
		for (int j = 0; j < i; j++)
			dup |= fb2->handles[j] == fb2->handles[i];
		if (!dup)
			drmCloseBufferHandle(fd, fb2->handles[i]);
	}
}

static int export_dmabuf(int fd, uint32_t handle)
{
	int dmabuf = -1;

	if (drmPrimeHandleToFD(fd, handle, DRM_CLOEXEC | DRM_RDWR, &dmabuf) == 0)
		return dmabuf;
	/* Some exporters refuse writable exports; reading needs none. */
	if (drmPrimeHandleToFD(fd, handle, DRM_CLOEXEC, &dmabuf) == 0)
		return dmabuf;
	return -errno;
}

/*
 * --dump: copy the frame out first and decode the copy, so the file holds exactly what was
 * decoded even when writing it is slower than the producer's repaint. Rows are laid out as
 * GStreamer's raw video of the same format: width * bytes per pixel, rounded up to 4.
 */
static void dump_and_decode(const uint8_t *pixels, struct fb_sample *s)
{
	const drmModeFB2 *fb2 = s->fb2;
	size_t row = (size_t)fb2->width * pattern_format_cpp(fb2->pixel_format);
	size_t stride = (row + 3) & ~(size_t)3;
	uint8_t *copy = row ? calloc(fb2->height, stride) : NULL;

	if (!copy) {
		s->err = -ENOMEM;
		s->reason = "cannot copy the frame for --dump";
		return;
	}
	for (uint32_t y = 0; y < fb2->height; y++)
		memcpy(copy + y * stride, pixels + (size_t)y * fb2->pitches[0], row);
	s->err = pattern_decode(
		copy, fb2->width, fb2->height, (uint32_t)stride, fb2->pixel_format, &s->pattern);
	s->reason = s->pattern.reason;
	if (fwrite(copy, stride, fb2->height, s->dump) != fb2->height) {
		s->err = -EIO;
		s->reason = "writing the --dump file failed";
	}
	free(copy);
}

static void decode_mapped(const uint8_t *map, bool is_cursor, struct fb_sample *s)
{
	const drmModeFB2 *fb2 = s->fb2;
	const uint8_t *pixels = map + fb2->offsets[0];

	if (is_cursor) {
		s->err = pattern_decode_cursor(
			pixels, fb2->width, fb2->height, fb2->pitches[0], &s->cursor_image);
		memcpy(&s->cursor_color, pixels, 4);
		s->reason = s->err ? "cursor image is not a pattern cursor" : NULL;
		return;
	}
	if (s->dump) {
		dump_and_decode(pixels, s);
		return;
	}
	s->err = pattern_decode(
		pixels, fb2->width, fb2->height, fb2->pitches[0], fb2->pixel_format, &s->pattern);
	s->reason = s->pattern.reason;
}

/* Map the DMA-BUF and decode it between DMA_BUF_IOCTL_SYNC start and end. */
static void read_dmabuf(int dmabuf, bool is_cursor, struct fb_sample *s)
{
	struct dma_buf_sync sync = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
	off_t size = lseek(dmabuf, 0, SEEK_END);
	uint64_t need =
		(uint64_t)s->fb2->offsets[0] + (uint64_t)s->fb2->pitches[0] * s->fb2->height;
	void *map;

	if (size <= 0 || (uint64_t)size < need || (uint64_t)size > MAX_MAP_SIZE) {
		s->err = -EINVAL;
		s->reason = "dma-buf size does not match the framebuffer";
		return;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, dmabuf, 0);
	if (map == MAP_FAILED) {
		s->err = -errno;
		s->reason = "mmap of the dma-buf failed";
		return;
	}
	ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
	decode_mapped(map, is_cursor, s);
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
	munmap(map, (size_t)size);
}

static void sample_fb(struct readback *rb, uint32_t fb_id, bool is_cursor, struct fb_sample *s)
{
	int dmabuf;

	memset(s, 0, sizeof(*s));
	s->dump = is_cursor ? NULL : rb->dump;
	s->fb2 = drmModeGetFB2(rb->drm_fd, fb_id);
	if (!s->fb2) {
		s->err = -errno;
		/* A producer re-creating its framebuffers can remove one between two reads. */
		s->reason = "GETFB2 failed (framebuffer gone?)";
		return;
	}
	if (!s->fb2->handles[0]) {
		s->err = -EPERM;
		s->reason = "no GEM handle (needs root or DRM master)";
		return;
	}
	if ((s->fb2->flags & DRM_MODE_FB_MODIFIERS) && s->fb2->modifier != DRM_FORMAT_MOD_LINEAR) {
		s->err = -ENOTSUP;
		s->reason = "not a linear buffer";
	} else if ((dmabuf = export_dmabuf(rb->drm_fd, s->fb2->handles[0])) < 0) {
		s->err = dmabuf;
		s->reason = "drmPrimeHandleToFD failed";
	} else {
		read_dmabuf(dmabuf, is_cursor, s);
		close(dmabuf);
	}
	close_handles(rb->drm_fd, s->fb2);
}

static const char *fourcc_str(uint32_t fourcc, char buf[5])
{
	for (int i = 0; i < 4; i++)
		buf[i] = (char)((fourcc >> (8 * i)) & 0xff);
	buf[4] = '\0';
	return buf;
}

static struct crtc_track *track_for(struct readback *rb, uint32_t crtc_id)
{
	for (uint32_t i = 0; i < rb->n_tracks; i++) {
		if (rb->tracks[i].crtc_id == crtc_id)
			return &rb->tracks[i];
	}
	if (rb->n_tracks == MAX_CRTCS)
		return NULL;
	rb->tracks[rb->n_tracks].crtc_id = crtc_id;
	return &rb->tracks[rb->n_tracks++];
}

static void note_frame(struct readback *rb, uint32_t crtc_id, uint32_t frame)
{
	struct crtc_track *t = track_for(rb, crtc_id);

	if (!t)
		return;
	if (!t->seen) {
		t->seen = true;
		t->first = frame;
	} else if (frame < t->last) {
		t->went_back = true;
	}
	t->last = frame;
}

static void print_sample(struct readback *rb, uint32_t crtc_id, uint32_t plane_id, uint32_t fb_id,
	bool is_cursor, const struct fb_sample *s)
{
	char cc[5];

	if (is_cursor)
		printf("cursor ");
	printf("crtc=%u fb=%u", crtc_id, fb_id);
	if (s->fb2)
		printf(" %ux%u fourcc=%s modifier=0x%" PRIx64 " explicit=%d", s->fb2->width,
			s->fb2->height, fourcc_str(s->fb2->pixel_format, cc), s->fb2->modifier,
			!!(s->fb2->flags & DRM_MODE_FB_MODIFIERS));
	if (s->err)
		printf(" error=\"%s\" (%s)\n", s->reason ? s->reason : "?", strerror(-s->err));
	else if (is_cursor)
		/* CRTC_X/Y: the image's top-left, what the producer logs as x, y. */
		printf(" image=%u color=0x%08x x=%" PRId64 " y=%" PRId64 "\n", s->cursor_image,
			s->cursor_color, (int64_t)plane_prop(rb->drm_fd, plane_id, "CRTC_X", 0),
			(int64_t)plane_prop(rb->drm_fd, plane_id, "CRTC_Y", 0));
	else
		printf(" frame=%u crtc_index=%u t_ns=%" PRIu64 "\n", s->pattern.frame,
			s->pattern.crtc_index, now_ns());
}

static void sample_plane(struct readback *rb, uint32_t crtc_id, uint64_t type)
{
	bool is_cursor = type == DRM_PLANE_TYPE_CURSOR;
	uint32_t fb_id = 0, plane_id = 0;
	struct fb_sample s = {0};

	/* The producer may remove the FB between our two ioctls (--recreate): read it again. */
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		drmModeFreeFB2(s.fb2);
		fb_id = plane_fb(rb, crtc_id, type, &plane_id);
		if (!fb_id)
			break;
		sample_fb(rb, fb_id, is_cursor, &s);
		if (s.fb2 || s.err != -ENOENT)
			break;
	}
	if (!fb_id) {
		if (!is_cursor) {
			printf("crtc=%u fb=0 error=\"no framebuffer on the primary plane\"\n",
				crtc_id);
			rb->failed = true;
		}
		return;
	}
	print_sample(rb, crtc_id, plane_id, fb_id, is_cursor, &s);
	if (s.err)
		rb->failed = true;
	else if (!is_cursor)
		note_frame(rb, crtc_id, s.pattern.frame);
	drmModeFreeFB2(s.fb2);
}

/* One sample of every active CRTC; returns how many were active. */
static int sample_all(struct readback *rb)
{
	drmModeRes *res = drmModeGetResources(rb->drm_fd);
	int active = 0;

	if (!res) {
		fprintf(stderr, "fb-readback: drmModeGetResources: %m\n");
		return -errno;
	}
	for (int i = 0; i < res->count_crtcs; i++) {
		drmModeCrtc *crtc;
		if (rb->only_crtc && res->crtcs[i] != rb->only_crtc)
			continue;
		crtc = drmModeGetCrtc(rb->drm_fd, res->crtcs[i]);
		if (crtc && crtc->mode_valid) {
			active++;
			sample_plane(rb, crtc->crtc_id, DRM_PLANE_TYPE_PRIMARY);
			if (rb->cursor)
				sample_plane(rb, crtc->crtc_id, DRM_PLANE_TYPE_CURSOR);
		}
		drmModeFreeCrtc(crtc);
	}
	drmModeFreeResources(res);
	fflush(stdout);
	return active;
}

static bool check_advancing(const struct readback *rb)
{
	bool ok = rb->n_tracks > 0;

	for (uint32_t i = 0; i < rb->n_tracks; i++) {
		const struct crtc_track *t = &rb->tracks[i];
		bool good = t->seen && !t->went_back && t->last > t->first;
		printf("advancing crtc=%u first=%u last=%u %s\n", t->crtc_id, t->first, t->last,
			good ? "ok" : "FAILED");
		ok &= good;
	}
	return ok;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fb-readback [--card NAME|PATH] [--crtc ID] [--count N] "
		   "[--interval-ms MS] [--cursor] [--expect-advancing] [--dump FILE]\n");
}

struct readback_options {
	const char *card;
	long count, interval_ms;
	bool expect_advancing;
	const char *dump_path;
};

/* Returns 0, 1 after --help, or -EINVAL. */
static int parse_options(int argc, char **argv, struct readback *rb, struct readback_options *o)
{
	static const struct option long_opts[] = {
		{"card", required_argument, NULL, 'c'},
		{"crtc", required_argument, NULL, 'C'},
		{"count", required_argument, NULL, 'n'},
		{"interval-ms", required_argument, NULL, 'i'},
		{"cursor", no_argument, NULL, 'k'},
		{"expect-advancing", no_argument, NULL, 'a'},
		{"dump", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	*o = (struct readback_options){.card = "card0", .count = 1, .interval_ms = 100};
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->card = optarg;
			break;
		case 'C':
			rb->only_crtc = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->count = strtol(optarg, NULL, 10);
			break;
		case 'i':
			o->interval_ms = strtol(optarg, NULL, 10);
			break;
		case 'k':
			rb->cursor = true;
			break;
		case 'a':
			o->expect_advancing = true;
			break;
		case 'D':
			o->dump_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return -EINVAL;
		}
	}
	return o->count < 1 || o->interval_ms < 0 || optind < argc ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	struct readback rb = {.drm_fd = -1};
	struct readback_options opts;
	char path[256];
	int ret;

	ret = parse_options(argc, argv, &rb, &opts);
	if (ret != 0) {
		if (ret < 0)
			usage(stderr);
		return ret < 0 ? 2 : 0;
	}
	if (opts.dump_path && !(rb.dump = fopen(opts.dump_path, "we"))) {
		fprintf(stderr, "fb-readback: cannot open %s: %m\n", opts.dump_path);
		return 2;
	}
	snprintf(path, sizeof(path), strchr(opts.card, '/') ? "%s" : "/dev/dri/%s", opts.card);
	rb.drm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (rb.drm_fd < 0) {
		fprintf(stderr, "fb-readback: cannot open %s: %m\n", path);
		return 1;
	}
	/* The first opener of a card with no master becomes master: don't lock a producer out. */
	if (drmIsMaster(rb.drm_fd))
		drmDropMaster(rb.drm_fd);
	ret = load_planes(&rb);
	for (long n = 0; n < opts.count && ret >= 0; n++) {
		if (n > 0)
			usleep((useconds_t)opts.interval_ms * 1000);
		ret = sample_all(&rb);
		if (ret == 0) {
			fprintf(stderr, "fb-readback: no active CRTC on %s\n", path);
			ret = -ENODEV;
		}
	}
	if (ret >= 0 && opts.expect_advancing && !check_advancing(&rb))
		ret = -EBADMSG;
	close(rb.drm_fd);
	if (rb.dump)
		fclose(rb.dump);
	return ret < 0 || rb.failed ? 1 : 0;
}
