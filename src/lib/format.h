/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_FORMAT_H
#define KMSCAST_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The one table between DRM fourccs and SPA video formats. DRM names its packed formats
 * by the bit order of a little-endian word (XRGB8888 is bytes B,G,R,X in memory); SPA,
 * like GStreamer, by byte order (BGRx). 16-bit RGB is the exception in both: host-endian
 * words with red in the high bits.
 */
struct fmt_info {
	uint32_t drm_fourcc;
	const char *name; /* DRM's long name: "XRGB8888" */
	uint32_t spa_format; /* enum spa_video_format */
	uint8_t n_planes;
	uint8_t cpp; /* bytes per pixel of plane 0 */
	bool alpha;
};

/* The entry for a DRM fourcc, or NULL when kmscast cannot describe it to PipeWire. */
const struct fmt_info *fmt_from_drm(uint32_t fourcc);

/* The entry for an SPA video format, or NULL. */
const struct fmt_info *fmt_from_spa(uint32_t spa_format);

/* Every entry, for tests and for --list. Sets *n. */
const struct fmt_info *fmt_table(unsigned int *n);

#endif
