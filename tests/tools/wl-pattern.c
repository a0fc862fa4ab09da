/*
 * wl-pattern: the smallest Wayland client that animates a real compositor's screen: one
 * fullscreen xdg-shell toplevel showing the test pattern (pattern.h), a new frame number at
 * every frame callback, the way a game or a video player paces itself by the compositor.
 * The buffers are wl_shm memory, which KMS cannot scan out, so the compositor composites
 * each frame into its own swapchain and flips: one flip per frame drawn. One line per frame
 * committed:
 *
 *   draw frame=<k> t_ns=<CLOCK_MONOTONIC ns>
 *
 *   wl-pattern [--frames N] [--size WxH]
 *
 * It connects to $WAYLAND_DISPLAY and exits after N frames (default: run until killed).
 * The size is the first configure's, or --size where that says 0x0 (sway 1.7 sizes a
 * fullscreen window only after it maps: the size must then be the output's mode).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <wayland-client.h>

#include "pattern.h"
#include "xdg-shell-client-protocol.h"

#define NSEC_PER_SEC 1000000000ull
/*
 * The compositor keeps the buffer it shows and may keep the one before until its next
 * repaint: two are not always enough (weston-simple-shm 10 aborts on sway 1.7 with "Both
 * buffers busy at redraw()").
 */
#define N_BUFFERS 4

struct buffer {
	struct wl_buffer *wl;
	void *pixels;
	bool busy;
};

struct client {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	struct wl_callback *frame_cb;
	struct buffer buffers[N_BUFFERS];
	int32_t width, height;
	bool configured;
	bool closed;
	bool frame_due;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {.ping = wm_base_ping};

static void registry_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version)
{
	struct client *c = data;

	if (strcmp(interface, wl_compositor_interface.name) == 0) {
		c->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (strcmp(interface, wl_shm_interface.name) == 0) {
		c->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, xdg_wm_base_interface.name) == 0) {
		c->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(c->wm_base, &wm_base_listener, c);
	}
}

static void registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = registry_global,
	.global_remove = registry_global_remove,
};

static void xdg_surface_configure(void *data, struct xdg_surface *xdg_surface, uint32_t serial)
{
	struct client *c = data;

	xdg_surface_ack_configure(xdg_surface, serial);
	c->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = xdg_surface_configure,
};

static void toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t width,
		int32_t height, struct wl_array *states)
{
	struct client *c = data;

	/* Fullscreen: the output's size. The buffers are made once: a later size is only
	 * reported. */
	if (width > 0 && height > 0 && c->width == 0) {
		c->width = width;
		c->height = height;
	} else if (width > 0 && height > 0 && (width != c->width || height != c->height)) {
		fprintf(stderr, "wl-pattern: configured %dx%d, drawing %dx%d\n", width, height,
				c->width, c->height);
	}
}

static void toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
	struct client *c = data;

	c->closed = true;
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

static void buffer_release(void *data, struct wl_buffer *wl_buffer)
{
	struct buffer *b = data;

	b->busy = false;
}

static const struct wl_buffer_listener buffer_listener = {.release = buffer_release};

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct client *c = data;

	wl_callback_destroy(cb);
	c->frame_cb = NULL;
	c->frame_due = true;
}

static const struct wl_callback_listener frame_listener = {.done = frame_done};

static int make_buffers(struct client *c)
{
	uint32_t stride = (uint32_t)c->width * 4;
	size_t size = (size_t)stride * (size_t)c->height;
	struct wl_shm_pool *pool;
	uint8_t *map;
	int fd;

	fd = memfd_create("wl-pattern", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)(size * N_BUFFERS)) < 0) {
		perror("wl-pattern: memfd");
		return -1;
	}
	map = mmap(NULL, size * N_BUFFERS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("wl-pattern: mmap");
		close(fd);
		return -1;
	}
	pool = wl_shm_create_pool(c->shm, fd, (int32_t)(size * N_BUFFERS));
	for (int i = 0; i < N_BUFFERS; i++) {
		struct buffer *b = &c->buffers[i];

		b->pixels = map + size * (size_t)i;
		if (pattern_paint_full(b->pixels, (uint32_t)c->width, (uint32_t)c->height, stride,
					DRM_FORMAT_XRGB8888, 0, 0) < 0) {
			fprintf(stderr, "wl-pattern: the pattern does not fit %dx%d\n", c->width,
					c->height);
			return -1;
		}
		b->wl = wl_shm_pool_create_buffer(pool, (int32_t)(size * (size_t)i), c->width,
				c->height, (int32_t)stride, WL_SHM_FORMAT_XRGB8888);
		wl_buffer_add_listener(b->wl, &buffer_listener, b);
	}
	wl_shm_pool_destroy(pool);
	close(fd); /* the pool and our mapping keep the memory */
	return 0;
}

static struct buffer *free_buffer(struct client *c)
{
	for (int i = 0; i < N_BUFFERS; i++) {
		if (!c->buffers[i].busy) {
			return &c->buffers[i];
		}
	}
	return NULL;
}

static void draw(struct client *c, struct buffer *b, uint32_t k)
{
	pattern_paint_frame(b->pixels, (uint32_t)c->width, (uint32_t)c->height,
			(uint32_t)c->width * 4, DRM_FORMAT_XRGB8888, 0, k);
	wl_surface_attach(c->surface, b->wl, 0, 0);
	wl_surface_damage_buffer(c->surface, 0, 0, c->width, c->height);
	c->frame_cb = wl_surface_frame(c->surface);
	wl_callback_add_listener(c->frame_cb, &frame_listener, c);
	wl_surface_commit(c->surface);
	b->busy = true;
	c->frame_due = false;
	printf("draw frame=%" PRIu32 " t_ns=%" PRIu64 "\n", k, now_ns());
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"frames", required_argument, NULL, 'n'},
		{"size", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct client c = {0};
	unsigned long frames = 0;
	int32_t size_w = 0, size_h = 0;
	struct wl_registry *registry;
	uint32_t k = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'n': frames = strtoul(optarg, NULL, 0); break;
		case 's':
			if (sscanf(optarg, "%dx%d", &size_w, &size_h) != 2 || size_w <= 0 ||
					size_h <= 0 || size_w > PATTERN_MAX_DIM ||
					size_h > PATTERN_MAX_DIM) {
				fprintf(stderr, "wl-pattern: --size wants WxH\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: wl-pattern [--frames N] [--size WxH]\n");
			return 2;
		}
	}
	c.display = wl_display_connect(NULL);
	if (!c.display) {
		fprintf(stderr, "wl-pattern: cannot connect to the Wayland display\n");
		return 1;
	}
	registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(registry, &registry_listener, &c);
	wl_display_roundtrip(c.display);
	if (!c.compositor || !c.shm || !c.wm_base) {
		fprintf(stderr, "wl-pattern: the compositor lacks wl_compositor, wl_shm or xdg_wm_base\n");
		return 1;
	}
	c.surface = wl_compositor_create_surface(c.compositor);
	c.xdg_surface = xdg_wm_base_get_xdg_surface(c.wm_base, c.surface);
	xdg_surface_add_listener(c.xdg_surface, &xdg_surface_listener, &c);
	c.toplevel = xdg_surface_get_toplevel(c.xdg_surface);
	xdg_toplevel_add_listener(c.toplevel, &toplevel_listener, &c);
	xdg_toplevel_set_app_id(c.toplevel, "wl-pattern");
	xdg_toplevel_set_fullscreen(c.toplevel, NULL);
	wl_surface_commit(c.surface);
	while (!c.configured && wl_display_dispatch(c.display) >= 0) {
	}
	if (c.configured && c.width == 0) {
		c.width = size_w;
		c.height = size_h;
	}
	if (!c.configured || c.width <= 0 || c.height <= 0) {
		fprintf(stderr, "wl-pattern: no fullscreen size from the compositor\n");
		return 1;
	}
	fprintf(stderr, "wl-pattern: fullscreen %dx%d\n", c.width, c.height);
	if (make_buffers(&c) < 0) {
		return 1;
	}
	c.frame_due = true;
	while (!c.closed && (frames == 0 || k < frames)) {
		struct buffer *b;

		if (c.frame_due && (b = free_buffer(&c))) {
			draw(&c, b, k++);
		}
		if (wl_display_dispatch(c.display) < 0) {
			fprintf(stderr, "wl-pattern: the display connection failed: %s\n",
					strerror(errno));
			return 1;
		}
	}
	wl_display_disconnect(c.display);
	return 0;
}
