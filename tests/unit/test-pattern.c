/* Unit tests for the test pattern (tests/tools/pattern.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "pattern.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

struct size {
	uint32_t w, h;
};

static const struct size sizes[] = {
	{1024, 768},
	{1280, 800},
	{1920, 1080},
	{3840, 2160},
	{1366, 768},
	{641, 479},
	{PATTERN_MIN_WIDTH, PATTERN_MIN_HEIGHT},
};

static const uint32_t all_formats[] = {
	DRM_FORMAT_XRGB8888,
	DRM_FORMAT_ARGB8888,
	DRM_FORMAT_XBGR8888,
	DRM_FORMAT_ABGR8888,
	DRM_FORMAT_BGRX8888,
	DRM_FORMAT_RGBX8888,
	DRM_FORMAT_RGB888,
	DRM_FORMAT_BGR888,
	DRM_FORMAT_RGB565,
};

static const uint32_t frames[] = {0, 1, 2, 59, 60, 12345, PATTERN_FRAME_MASK};

struct image {
	uint8_t *pixels;
	uint32_t w, h, stride, fourcc;
};

static struct image image_create(uint32_t w, uint32_t h, uint32_t fourcc, uint32_t pad)
{
	struct image img = {.w = w, .h = h, .fourcc = fourcc};

	img.stride = w * pattern_format_cpp(fourcc) + pad;
	img.pixels = calloc(img.h, img.stride);
	if (!img.pixels) {
		perror("calloc");
		exit(99);
	}
	return img;
}

static int paint_full(struct image *img, uint32_t crtc, uint32_t frame)
{
	return pattern_paint_full(
		img->pixels, img->w, img->h, img->stride, img->fourcc, crtc, frame);
}

static int decode(const struct image *img, struct pattern_result *res)
{
	return pattern_decode(img->pixels, img->w, img->h, img->stride, img->fourcc, res);
}

static void test_round_trip(void)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t f = 0; f < sizeof(all_formats) / sizeof(all_formats[0]); f++) {
			/* Padded strides, as dumb buffers and GStreamer produce. */
			struct image img = image_create(sizes[s].w, sizes[s].h, all_formats[f], 64);
			uint32_t crtc = (uint32_t)(s + f) % 16;
			struct pattern_result res;

			CHECK(paint_full(&img, crtc, 7) == 0, "paint %ux%u", img.w, img.h);
			for (size_t k = 0; k < sizeof(frames) / sizeof(frames[0]); k++) {
				CHECK(pattern_paint_frame(img.pixels, img.w, img.h, img.stride,
					      img.fourcc, crtc, frames[k]) == 0,
					"repaint");
				int ret = decode(&img, &res);
				CHECK(ret == 0 && res.frame == frames[k] && res.crtc_index == crtc,
					"%ux%u fourcc %.4s frame %u: ret %d frame %u crtc %u (%s)",
					img.w, img.h, (char *)&img.fourcc, frames[k], ret,
					res.frame, res.crtc_index, res.reason ? res.reason : "");
			}
			free(img.pixels);
		}
	}
}

/* A frame assembled from two frames at a row boundary, as a mid-scanout flip shows it. */
static void test_torn(void)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct image a = image_create(sizes[s].w, sizes[s].h, DRM_FORMAT_XRGB8888, 0);
		struct image b = image_create(sizes[s].w, sizes[s].h, DRM_FORMAT_XRGB8888, 0);
		uint32_t tears[] = {a.h / 4, a.h * 3 / 4};
		struct pattern_result res;

		paint_full(&a, 1, 1000);
		paint_full(&b, 1, 1001);
		for (int t = 0; t < 2; t++) {
			struct image torn = image_create(a.w, a.h, a.fourcc, 0);
			size_t split = (size_t)tears[t] * a.stride;
			memcpy(torn.pixels, a.pixels, split);
			memcpy(torn.pixels + split, b.pixels + split,
				(size_t)a.h * a.stride - split);
			CHECK(decode(&torn, &res) == -EBADMSG, "%ux%u tear at %u not detected", a.w,
				a.h, tears[t]);
			CHECK(res.reason && strstr(res.reason, "torn"), "reason %s", res.reason);
			free(torn.pixels);
		}
		free(a.pixels);
		free(b.pixels);
	}
}

/* Overwrite magic bit 31 (column 1) in every band, using the documented geometry. */
static void test_bad_magic(void)
{
	struct image img = image_create(1920, 1080, DRM_FORMAT_XRGB8888, 0);
	uint32_t cell_w = img.w / PATTERN_COLUMNS, band_h = img.h / PATTERN_BAND_DIVISOR;
	uint32_t band_y[3];

	if (band_h > PATTERN_BAND_MAX_HEIGHT)
		band_h = PATTERN_BAND_MAX_HEIGHT;
	band_y[0] = 0;
	band_y[1] = (img.h - band_h) / 2;
	band_y[2] = img.h - band_h;
	struct pattern_result res;

	paint_full(&img, 0, 5);
	CHECK(decode(&img, &res) == 0 && res.frame == 5, "baseline");
	for (int b = 0; b < 3; b++) {
		for (uint32_t y = band_y[b]; y < band_y[b] + band_h; y++)
			memset(img.pixels + (size_t)y * img.stride + (size_t)cell_w * 4, 0,
				(size_t)cell_w * 4);
	}
	CHECK(decode(&img, &res) == -EBADMSG, "bad magic not detected");
	CHECK(res.reason && strcmp(res.reason, "bad magic") == 0, "reason %s", res.reason);
	free(img.pixels);
}

static void test_wrong_stride(void)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t f = 0; f < sizeof(all_formats) / sizeof(all_formats[0]); f++) {
			uint32_t cpp = pattern_format_cpp(all_formats[f]);
			struct pattern_result res;
			struct image img;

			/* 4K in one format is enough; it would dominate the run time. */
			if (sizes[s].w > 2000 && f > 0)
				continue;
			img = image_create(sizes[s].w, sizes[s].h, all_formats[f], cpp);

			paint_full(&img, 2, 4242);
			/* One pixel short: still a valid stride for the width, but wrong. */
			CHECK(pattern_decode(img.pixels, img.w, img.h, img.stride - cpp, img.fourcc,
				      &res) == -EBADMSG,
				"%ux%u %.4s stride-1px decoded frame %u", img.w, img.h,
				(char *)&img.fourcc, res.frame);
			free(img.pixels);
		}
	}
}

static void test_wrong_channel_order(void)
{
	struct image img = image_create(1280, 800, DRM_FORMAT_XRGB8888, 0);
	struct pattern_result res;

	paint_full(&img, 3, 99);
	CHECK(pattern_decode(img.pixels, img.w, img.h, img.stride, DRM_FORMAT_XBGR8888, &res) ==
			-EBADMSG,
		"BGRx read as RGBx decoded");
	free(img.pixels);
}

/* BT.601 limited range, 4:2:0 chroma: what videoconvert does via I420. */
static void yuv420_round_trip(struct image *img)
{
	uint32_t w = img->w & ~1u, h = img->h & ~1u;

	for (uint32_t y = 0; y < h; y += 2) {
		for (uint32_t x = 0; x < w; x += 2) {
			double luma[4], cb = 0, cr = 0;
			for (int i = 0; i < 4; i++) {
				uint8_t *p = img->pixels + (size_t)(y + i / 2) * img->stride +
					     (size_t)(x + i % 2) * 4;
				double r = p[2], g = p[1], b = p[0];
				luma[i] = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
				cb += (128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255) / 4;
				cr += (128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255) / 4;
			}
			for (int i = 0; i < 4; i++) {
				uint8_t *p = img->pixels + (size_t)(y + i / 2) * img->stride +
					     (size_t)(x + i % 2) * 4;
				double yy = (luma[i] - 16) * 255 / 219;
				double v[3] = {
					yy + 1.402 * (cr - 128) * 255 / 224,
					yy - (0.344136 * (cb - 128) + 0.714136 * (cr - 128)) * 255 /
							224,
					yy + 1.772 * (cb - 128) * 255 / 224,
				};
				for (int c = 0; c < 3; c++) {
					double q = v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c];
					p[2 - c] = (uint8_t)(q + 0.5);
				}
			}
		}
	}
}

static void test_conversions(void)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct image img = image_create(sizes[s].w, sizes[s].h, DRM_FORMAT_XRGB8888, 0);
		struct image rgb = image_create(sizes[s].w, sizes[s].h, DRM_FORMAT_BGR888, 0);
		struct pattern_result res;

		paint_full(&img, 1, 777);
		/* BGRx -> RGB, as videoconvert ! video/x-raw,format=RGB writes it. */
		for (uint32_t y = 0; y < img.h; y++) {
			for (uint32_t x = 0; x < img.w; x++) {
				uint8_t *src = img.pixels + (size_t)y * img.stride + x * 4;
				uint8_t *dst = rgb.pixels + (size_t)y * rgb.stride + x * 3;
				dst[0] = src[2];
				dst[1] = src[1];
				dst[2] = src[0];
			}
		}
		CHECK(decode(&rgb, &res) == 0 && res.frame == 777 && res.crtc_index == 1,
			"%ux%u RGB: %s", rgb.w, rgb.h, res.reason ? res.reason : "");
		/* 4:2:0 chroma needs cells and bands wider than 2x2 pixels. */
		if (img.w < 640)
			goto next;
		yuv420_round_trip(&img);
		CHECK(decode(&img, &res) == 0 && res.frame == 777 && res.crtc_index == 1,
			"%ux%u I420 round trip: %s", img.w, img.h, res.reason ? res.reason : "");
	next:
		free(img.pixels);
		free(rgb.pixels);
	}
}

static void test_bad_input(void)
{
	struct image img = image_create(1024, 768, DRM_FORMAT_XRGB8888, 0);
	struct pattern_result res;

	CHECK(paint_full(&img, 16, 0) == -EINVAL, "crtc index 16 accepted");
	CHECK(pattern_paint_full(img.pixels, 1024, 768, 1024 * 4, DRM_FORMAT_NV12, 0, 0) == -EINVAL,
		"NV12 accepted");
	CHECK(pattern_decode(img.pixels, 1024, 768, 1023 * 4, img.fourcc, &res) == -EINVAL,
		"short stride accepted");
	CHECK(pattern_decode(img.pixels, PATTERN_MIN_WIDTH - 1, 768, 1024 * 4, img.fourcc, &res) ==
			-EINVAL,
		"tiny width accepted");
	/* An all-black buffer is not a pattern frame. */
	CHECK(decode(&img, &res) == -EBADMSG, "black frame decoded");
	CHECK(pattern_format_from_name("BGRx") == DRM_FORMAT_XRGB8888, "BGRx");
	CHECK(pattern_format_from_name("RGB") == DRM_FORMAT_BGR888, "RGB");
	CHECK(pattern_format_from_name("XB24") == DRM_FORMAT_XBGR8888, "XB24");
	CHECK(pattern_format_from_name("NV12") == 0, "NV12");
	free(img.pixels);
}

static void test_cursor(void)
{
	uint32_t pixels[64 * 64], index;

	for (uint32_t k = 0; k < 200; k += 13) {
		pattern_paint_cursor(pixels, 64, 64, 256, k);
		CHECK(pattern_decode_cursor(pixels, 64, 64, 256, &index) == 0 &&
				index == k / PATTERN_CURSOR_PERIOD,
			"cursor frame %u index %u", k, index);
	}
	pixels[64 * 64 - 1] = 0;
	CHECK(pattern_decode_cursor(pixels, 64, 64, 256, &index) == -EBADMSG, "non-uniform");
	CHECK(pattern_cursor_color(0) != pattern_cursor_color(PATTERN_CURSOR_PERIOD), "changes");
	CHECK(pattern_cursor_color(0) == pattern_cursor_color(PATTERN_CURSOR_PERIOD - 1), "stable");
}

/* Every block painted over with grey, then degraded the way a lossy codec degrades it. */
static void test_blocks(void)
{
	static const uint32_t block_frames[] = {0, 1, 255, 256, 2047, 2048, 4095, 4096, 4242};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t f = 0; f < sizeof(all_formats) / sizeof(all_formats[0]); f++) {
			struct image img = image_create(sizes[s].w, sizes[s].h, all_formats[f], 12);
			for (size_t k = 0; k < sizeof(block_frames) / sizeof(block_frames[0]);
				k++) {
				uint32_t frame = UINT32_MAX;
				CHECK(pattern_blocks_paint(img.pixels, img.w, img.h, img.stride,
					      img.fourcc, block_frames[k]) == 0,
					"paint");
				CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride,
					      img.fourcc, &frame) == 0 &&
						frame == (block_frames[k] &
								 PATTERN_BLOCKS_FRAME_MASK),
					"%ux%u %.4s frame %u -> %u", img.w, img.h,
					(char *)&img.fourcc, block_frames[k], frame);
			}
			free(img.pixels);
		}
	}

	struct image img = image_create(640, 480, DRM_FORMAT_XRGB8888, 0);
	uint32_t frame;

	/* 4:2:0 chroma plus noise of +-60 on every byte: still the same frame. */
	pattern_blocks_paint(img.pixels, img.w, img.h, img.stride, img.fourcc, 1234);
	yuv420_round_trip(&img);
	srand(1);
	for (size_t i = 0; i < (size_t)img.h * img.stride; i++) {
		int v = img.pixels[i] + rand() % 121 - 60;
		img.pixels[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
	CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride, img.fourcc, &frame) ==
				0 &&
			frame == 1234,
		"noisy I420 frame -> %u", frame);

	/* All black and all white are not frames; nor is a block half way between two frames. */
	memset(img.pixels, 0, (size_t)img.h * img.stride);
	CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride, img.fourcc, &frame) ==
			-EBADMSG,
		"black frame decoded");
	memset(img.pixels, 0xff, (size_t)img.h * img.stride);
	CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride, img.fourcc, &frame) ==
			-EBADMSG,
		"white frame decoded");
	pattern_blocks_paint(img.pixels, img.w, img.h, img.stride, img.fourcc, 77);
	for (uint32_t y = 0; y < img.h / 4; y++)
		memset(img.pixels + (size_t)y * img.stride, 0x80, (size_t)img.w / 6 * 4);
	CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride, img.fourcc, &frame) ==
			-EBADMSG,
		"grey block decoded");
	/* A single flipped block fails the check. */

	pattern_blocks_paint(img.pixels, img.w, img.h, img.stride, img.fourcc, 77);
	for (uint32_t y = 0; y < img.h / 4; y++)
		for (uint32_t x = 0; x < img.w / 6 * 4; x++)
			img.pixels[(size_t)y * img.stride + x] ^= 0xff;
	CHECK(pattern_blocks_decode(img.pixels, img.w, img.h, img.stride, img.fourcc, &frame) ==
			-EBADMSG,
		"frame with a flipped block decoded as %u", frame);
	CHECK(pattern_blocks_paint(img.pixels, 5, 480, img.stride, img.fourcc, 0) == -EINVAL,
		"5 pixels wide accepted");
	free(img.pixels);
}

/* The centre pixel's blue byte of each block of an XRGB8888 image, as a 24-bit word. */
static uint32_t blocks_centres(const struct image *img)
{
	uint32_t word = 0;

	for (uint32_t k = 0; k < PATTERN_BLOCKS_BITS; k++) {
		uint32_t c = k % PATTERN_BLOCKS_COLUMNS, r = k / PATTERN_BLOCKS_COLUMNS;
		uint32_t x = (2 * c + 1) * img->w / (2 * PATTERN_BLOCKS_COLUMNS);
		uint32_t y = (2 * r + 1) * img->h / (2 * PATTERN_BLOCKS_ROWS);
		word = word << 1 | (img->pixels[(size_t)y * img->stride + (size_t)x * 4] > 128);
	}
	return word;
}

/* From each frame to the next, across the wrap too, exactly two blocks change. */
static void test_blocks_gray(void)
{
	struct image img = image_create(320, 240, DRM_FORMAT_XRGB8888, 0);
	uint32_t prev = 0;

	for (uint32_t f = 0; f <= PATTERN_BLOCKS_FRAME_MASK + 1; f++) {
		pattern_blocks_paint(img.pixels, img.w, img.h, img.stride, img.fourcc, f);
		uint32_t now = blocks_centres(&img);
		if (f > 0)
			CHECK(__builtin_popcount(now ^ prev) == 2, "frame %u changes %d blocks", f,
				__builtin_popcount(now ^ prev));
		prev = now;
	}
	free(img.pixels);
}

int main(void)
{
	test_round_trip();
	test_torn();
	test_bad_magic();
	test_wrong_stride();
	test_wrong_channel_order();
	test_conversions();
	test_bad_input();
	test_cursor();
	test_blocks();
	test_blocks_gray();
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("all pattern checks passed\n");
	return 0;
}
