/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include <drm_fourcc.h>
#include <spa/debug/types.h>
#include <spa/param/video/type-info.h>

#include "format.h"
#include "test.h"

static void test_required(void)
{
	static const uint32_t required[] = {
		DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888,
		DRM_FORMAT_ABGR8888, DRM_FORMAT_XRGB2101010, DRM_FORMAT_ARGB2101010,
		DRM_FORMAT_XBGR2101010, DRM_FORMAT_ABGR2101010, DRM_FORMAT_RGB565,
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		test_assert(fmt_from_drm(required[i]) != NULL);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_XRGB8888)->spa_format, SPA_VIDEO_FORMAT_BGRx);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_RGB565)->spa_format, SPA_VIDEO_FORMAT_RGB16);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_XRGB2101010)->spa_format,
			SPA_VIDEO_FORMAT_xRGB_210LE);
	/* Direct scanout of video and HDR: the planes and formats SPA can express. */
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_NV12)->n_planes, 2);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_P010)->spa_format, SPA_VIDEO_FORMAT_P010_10LE);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_P010)->n_planes, 2);
	test_assert_int_eq(fmt_from_drm(DRM_FORMAT_ABGR16161616F)->spa_format,
			SPA_VIDEO_FORMAT_RGBA_F16);
	/* No SPA format for these: the node keeps its stream without them. */
	test_assert(fmt_from_drm(DRM_FORMAT_XRGB16161616) == NULL);
	test_assert(fmt_from_drm(DRM_FORMAT_XBGR16161616F) == NULL);
}

static void test_unknown(void)
{
	test_assert(fmt_from_drm(fourcc_code('Z', 'Z', 'Z', 'Z')) == NULL);
	test_assert(fmt_from_drm(0) == NULL);
	test_assert(fmt_from_spa(SPA_VIDEO_FORMAT_UNKNOWN) == NULL);
	test_assert(fmt_from_spa(SPA_VIDEO_FORMAT_I420) == NULL);
}

/* Each entry is found from both sides, and no two entries share either key. */
static void test_round_trip(void)
{
	unsigned int n;
	const struct fmt_info *t = fmt_table(&n);

	for (unsigned int i = 0; i < n; i++) {
		test_assert(fmt_from_drm(t[i].drm_fourcc) == &t[i]);
		test_assert(fmt_from_spa(t[i].spa_format) == &t[i]);
		test_assert(t[i].cpp > 0 && t[i].n_planes > 0);
	}
}

/*
 * An independent check of the byte-order rule: DRM's 32-bit RGB names give components
 * from the high bits of a little-endian word; SPA's give them in memory order. So
 * "XRGB8888" must map to "BGRx".
 */
static void test_names_agree(void)
{
	unsigned int n, checked = 0;
	const struct fmt_info *t = fmt_table(&n);

	for (unsigned int i = 0; i < n; i++) {
		const char *drm_name = t[i].name;
		const char *spa_name =
			spa_debug_type_find_short_name(spa_type_video_format, t[i].spa_format);
		char expected[5];

		test_assert(drm_name != NULL && spa_name != NULL);
		if (strlen(drm_name) == 8 && strcmp(drm_name + 4, "8888") == 0) {
			for (int c = 0; c < 4; c++) {
				char ch = drm_name[3 - c];
				expected[c] = ch == 'X' ? 'x' : ch;
			}
			expected[4] = '\0';
			test_assert_str_eq(spa_name, expected);
			checked++;
		}
		if (t[i].alpha)
			test_assert(strchr(drm_name, 'A') != NULL);
	}
	test_assert_int_eq(checked, 8);
}

TEST_MAIN(TEST(test_required), TEST(test_unknown), TEST(test_round_trip),
		TEST(test_names_agree))
