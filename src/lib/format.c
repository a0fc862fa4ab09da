/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>
#include <spa/param/video/raw.h>

#include "format.h"

#define RGB(drm, spa, bytes, has_alpha) \
	{DRM_FORMAT_##drm, #drm, SPA_VIDEO_FORMAT_##spa, 1, bytes, has_alpha}

static const struct fmt_info formats[] = {
	RGB(XRGB8888, BGRx, 4, false),
	RGB(ARGB8888, BGRA, 4, true),
	RGB(XBGR8888, RGBx, 4, false),
	RGB(ABGR8888, RGBA, 4, true),
	RGB(RGBX8888, xBGR, 4, false),
	RGB(RGBA8888, ABGR, 4, true),
	RGB(BGRX8888, xRGB, 4, false),
	RGB(BGRA8888, ARGB, 4, true),
	RGB(RGB888, BGR, 3, false),
	RGB(BGR888, RGB, 3, false),
	RGB(XRGB2101010, xRGB_210LE, 4, false),
	RGB(ARGB2101010, ARGB_210LE, 4, true),
	RGB(XBGR2101010, xBGR_210LE, 4, false),
	RGB(ABGR2101010, ABGR_210LE, 4, true),
	RGB(RGBX1010102, RGBx_102LE, 4, false),
	RGB(RGBA1010102, RGBA_102LE, 4, true),
	RGB(BGRX1010102, BGRx_102LE, 4, false),
	RGB(BGRA1010102, BGRA_102LE, 4, true),
	RGB(RGB565, RGB16, 2, false),
	RGB(BGR565, BGR16, 2, false),
	{DRM_FORMAT_YUYV, "YUYV", SPA_VIDEO_FORMAT_YUY2, 1, 2, false},
	{DRM_FORMAT_UYVY, "UYVY", SPA_VIDEO_FORMAT_UYVY, 1, 2, false},
	{DRM_FORMAT_NV12, "NV12", SPA_VIDEO_FORMAT_NV12, 2, 1, false},
	/* 10 bits in the high bits of 16-bit little-endian words, a Y plane and a CbCr one. */
	{DRM_FORMAT_P010, "P010", SPA_VIDEO_FORMAT_P010_10LE, 2, 2, false},
	/* fp16 HDR, R first in memory; SPA has no padded fp16 (XBGR16161616F stays out). */
	{DRM_FORMAT_ABGR16161616F, "ABGR16161616F", SPA_VIDEO_FORMAT_RGBA_F16, 1, 8, true},
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

const struct fmt_info *fmt_from_drm(uint32_t fourcc)
{
	for (unsigned int i = 0; i < N_FORMATS; i++) {
		if (formats[i].drm_fourcc == fourcc) {
			return &formats[i];
		}
	}
	return NULL;
}

const struct fmt_info *fmt_from_spa(uint32_t spa_format)
{
	for (unsigned int i = 0; i < N_FORMATS; i++) {
		if (formats[i].spa_format == spa_format) {
			return &formats[i];
		}
	}
	return NULL;
}

const struct fmt_info *fmt_table(unsigned int *n)
{
	*n = N_FORMATS;
	return formats;
}
