/*
 * x-pattern: the smallest X11 client that changes what a real X server shows: one
 * override-redirect window over the whole screen, the test pattern (pattern.h) drawn into it
 * with XPutImage at --rate Hz, frame after frame. Under Xorg's modesetting driver without
 * acceleration that is front-buffer rendering: the server copies damage into its scanout
 * buffer and marks it with DIRTYFB; nothing flips. One line per frame drawn, after XSync:
 *
 *   draw frame=<k> t_ns=<CLOCK_MONOTONIC ns>
 *
 *   x-pattern [--display NAME] [--rate HZ] [--frames N]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <drm_fourcc.h>

#include "pattern.h"

#define NSEC_PER_SEC 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NSEC_PER_SEC), .tv_nsec = (long)(t % NSEC_PER_SEC)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
	}
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"display", required_argument, NULL, 'd'},
		{"rate", required_argument, NULL, 'r'},
		{"frames", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	const char *display_name = NULL;
	unsigned long rate = 10, frames = 100;
	XSetWindowAttributes attrs = {.override_redirect = True, .background_pixel = 0};
	Display *dpy;
	Window win;
	XImage *img;
	GC gc;
	uint32_t w, h;
	uint64_t t;
	int opt, screen;

	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'd': display_name = optarg; break;
		case 'r': rate = strtoul(optarg, NULL, 0); break;
		case 'n': frames = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: x-pattern [--display NAME] [--rate HZ] [--frames N]\n");
			return 2;
		}
	}
	if (rate == 0 || rate > 1000) {
		fprintf(stderr, "x-pattern: --rate must be 1..1000\n");
		return 2;
	}
	dpy = XOpenDisplay(display_name);
	if (!dpy) {
		fprintf(stderr, "x-pattern: cannot open display %s\n", XDisplayName(display_name));
		return 1;
	}
	screen = DefaultScreen(dpy);
	w = (uint32_t)DisplayWidth(dpy, screen);
	h = (uint32_t)DisplayHeight(dpy, screen);
	if (DefaultDepth(dpy, screen) != 24) {
		fprintf(stderr, "x-pattern: depth %d, want 24\n", DefaultDepth(dpy, screen));
		return 1;
	}
	win = XCreateWindow(dpy, RootWindow(dpy, screen), 0, 0, w, h, 0, CopyFromParent,
		InputOutput, CopyFromParent, CWOverrideRedirect | CWBackPixel, &attrs);
	XMapRaised(dpy, win);
	gc = XCreateGC(dpy, win, 0, NULL);
	/* ZPixmap at depth 24 is 32 bits per pixel, B G R x in memory on little-endian hosts:
	 * XR24. Xlib frees data with the image. */
	img = XCreateImage(dpy, DefaultVisual(dpy, screen), 24, ZPixmap, 0,
		calloc((size_t)w * h, 4), w, h, 32, (int)w * 4);
	if (!img || !img->data || img->bits_per_pixel != 32) {
		fprintf(stderr, "x-pattern: cannot make a %ux%u image\n", w, h);
		return 1;
	}
	if (pattern_paint_full(img->data, w, h, w * 4, DRM_FORMAT_XRGB8888, 0, 0) < 0) {
		fprintf(stderr, "x-pattern: the pattern does not fit %ux%u\n", w, h);
		return 1;
	}
	t = now_ns();
	for (unsigned long k = 0; k < frames; k++) {
		pattern_paint_frame(img->data, w, h, w * 4, DRM_FORMAT_XRGB8888, 0, (uint32_t)k);
		XPutImage(dpy, win, gc, img, 0, 0, 0, 0, w, h);
		XSync(dpy, False);
		printf("draw frame=%lu t_ns=%" PRIu64 "\n", k, now_ns());
		fflush(stdout);
		t += NSEC_PER_SEC / rate;
		sleep_until(t);
	}
	XDestroyImage(img);
	XFreeGC(dpy, gc);
	XCloseDisplay(dpy);
	return 0;
}
