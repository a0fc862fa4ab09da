/* SPDX-License-Identifier: MIT */
/*
 * The scanout set without DRM: memfds stand in for the helper's dma-bufs (lseek and fstat,
 * which is all the set does with them, behave the same).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "scanout-set.h"
#include "spa-compat.h"
#include "test.h"

static struct helper_fb fake_fb(uint32_t fb_id, uint32_t width, uint32_t height)
{
	struct helper_fb hfb = {
		.fb_id = fb_id, .width = width, .height = height,
		.fourcc = DRM_FORMAT_XRGB8888, .modifier = DRM_FORMAT_MOD_LINEAR,
		.modifier_explicit = true, .n_planes = 1, .pitches = {width * 4}, .n_fds = 1,
		.fds = {-1, -1, -1, -1},
	};

	hfb.fds[0] = memfd_create("fake-dmabuf", MFD_CLOEXEC);
	test_assert(hfb.fds[0] >= 0);
	test_assert(ftruncate(hfb.fds[0], (off_t)width * 4 * height) == 0);
	return hfb;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_init_measures(void)
{
	struct helper_fb hfb = fake_fb(10, 64, 48);
	int fd = hfb.fds[0];
	struct scanout_fb fb;

	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert_int_eq(hfb.n_fds, 0); /* ownership moved */
	test_assert_int_eq(fb.fd_size[0], 64 * 4 * 48);
	test_assert_int_eq(fb.plane_size[0], 64 * 4 * 48);
	test_assert(fb.fd_ino[0] != 0);
	test_assert_int_eq(scanout_fb_map(&fb), 0);
	scanout_fb_finish(&fb);
	test_assert(!fd_open(fd));
}

static void test_rejects_bad_layout(void)
{
	struct helper_fb hfb = fake_fb(11, 64, 48);
	int fd = hfb.fds[0];
	struct scanout_fb fb;

	hfb.offsets[0] = 1 << 30; /* past the object: a lying peer */
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), -EINVAL);
	test_assert(!fd_open(fd)); /* closed on error too */
}

static void test_tiled_not_mappable(void)
{
	struct helper_fb hfb = fake_fb(12, 64, 48);
	struct scanout_fb fb;

	hfb.modifier = I915_FORMAT_MOD_X_TILED;
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert_int_eq(scanout_fb_map(&fb), -ENOTSUP);
	scanout_fb_finish(&fb);
}

/* What a consumer of the node's dma-bufs is told it may mmap (SPA_DATA_FLAG_MAPPABLE). */
static void test_data_flags(void)
{
	struct helper_fb hfb = fake_fb(13, 64, 48);
	struct scanout_fb fb;
	char path[64];
	int wronly;

	/* Explicit LINEAR, and the fd maps: MAPPABLE. */
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert(fb.mappable);
	test_assert_int_eq(scanout_fb_data_flags(&fb),
			SPA_DATA_FLAG_READABLE | SPA_DATA_FLAG_MAPPABLE);
	scanout_fb_finish(&fb);

	/* No modifier at all: the format without one promises linear memory. */
	hfb = fake_fb(14, 64, 48);
	hfb.modifier_explicit = false;
	hfb.modifier = DRM_FORMAT_MOD_INVALID;
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert_int_eq(scanout_fb_data_flags(&fb),
			SPA_DATA_FLAG_READABLE | SPA_DATA_FLAG_MAPPABLE);
	scanout_fb_finish(&fb);

	/* Tiled: its mapping would hold tiles, whether or not the fd maps. */
	hfb = fake_fb(15, 64, 48);
	hfb.modifier = I915_FORMAT_MOD_Y_TILED;
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert(!fb.mappable);
	test_assert_int_eq(scanout_fb_data_flags(&fb), SPA_DATA_FLAG_READABLE);
	scanout_fb_finish(&fb);

	/*
	 * Linear, but the fd does not map (an exporter without mmap): a write-only reopen of a
	 * memfd measures like one yet refuses a PROT_READ mapping.
	 */
	hfb = fake_fb(16, 64, 48);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", hfb.fds[0]);
	wronly = open(path, O_WRONLY | O_CLOEXEC);
	test_assert(wronly >= 0);
	close(hfb.fds[0]);
	hfb.fds[0] = wronly;
	test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
	test_assert(!fb.mappable);
	test_assert_int_eq(scanout_fb_data_flags(&fb), SPA_DATA_FLAG_READABLE);
	scanout_fb_finish(&fb);
}

static void test_set_bounds_and_order(void)
{
	struct scanout_set set = {0};
	struct scanout_fb fb;
	int fds[MAX_SCANOUT_FBS];

	for (uint32_t i = 0; i < MAX_SCANOUT_FBS; i++) {
		struct helper_fb hfb = fake_fb(100 + i, 32, 32);

		fds[i] = hfb.fds[0];
		test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
		test_assert_int_eq(scanout_set_add(&set, &fb), (int)i);
	}
	{
		struct helper_fb hfb = fake_fb(200, 32, 32);

		test_assert_int_eq(scanout_fb_init(&fb, &hfb), 0);
		test_assert_int_eq(scanout_set_add(&set, &fb), -ENOSPC);
		scanout_fb_finish(&fb);
	}
	test_assert_int_eq(scanout_set_find(&set, 103), 3);
	test_assert_int_eq(scanout_set_find(&set, 999), -1);
	scanout_set_remove(&set, 3);
	test_assert(!fd_open(fds[3]));
	test_assert_int_eq(set.n, MAX_SCANOUT_FBS - 1);
	test_assert_int_eq(scanout_set_find(&set, 104), 3); /* order kept */
	test_assert(scanout_fb_compatible(&set.fbs[0], &set.fbs[1]));
	scanout_set_clear(&set);
	for (uint32_t i = 0; i < MAX_SCANOUT_FBS; i++)
		test_assert(!fd_open(fds[i]));
}

static void test_compatible(void)
{
	struct helper_fb a = fake_fb(1, 64, 48), b = fake_fb(2, 80, 48);
	struct scanout_fb fa, fb;

	test_assert_int_eq(scanout_fb_init(&fa, &a), 0);
	test_assert_int_eq(scanout_fb_init(&fb, &b), 0);
	test_assert(!scanout_fb_compatible(&fa, &fb)); /* a mode change needs a new format */
	fb.hfb.width = 64;
	fb.hfb.pitches[0] = 64 * 4;
	test_assert(scanout_fb_compatible(&fa, &fb));
	fb.hfb.modifier_explicit = false; /* implicit vs explicit LINEAR: not the same promise */
	test_assert(!scanout_fb_compatible(&fa, &fb));
	scanout_fb_finish(&fa);
	scanout_fb_finish(&fb);
}

/*
 * An id reused by the kernel: same id and layout, another buffer object. Only the fds' inodes
 * tell; two exports of one object (here: one memfd twice) are the same buffers.
 */
static void test_same_buffers(void)
{
	struct helper_fb a = fake_fb(7, 64, 48), b = fake_fb(7, 64, 48), again = a;
	struct scanout_fb fa, fb, fagain;

	again.fds[0] = fcntl(a.fds[0], F_DUPFD_CLOEXEC, 0);
	test_assert(again.fds[0] >= 0);
	test_assert_int_eq(scanout_fb_init(&fa, &a), 0);
	test_assert_int_eq(scanout_fb_init(&fb, &b), 0);
	test_assert_int_eq(scanout_fb_init(&fagain, &again), 0);
	test_assert(scanout_fb_compatible(&fa, &fb));
	test_assert(!scanout_fb_same_buffers(&fa, &fb));
	test_assert(scanout_fb_same_buffers(&fa, &fagain));
	scanout_fb_finish(&fa);
	scanout_fb_finish(&fb);
	scanout_fb_finish(&fagain);
}

TEST_MAIN(TEST(test_init_measures), TEST(test_rejects_bad_layout), TEST(test_tiled_not_mappable),
		TEST(test_data_flags), TEST(test_set_bounds_and_order), TEST(test_compatible),
		TEST(test_same_buffers))
