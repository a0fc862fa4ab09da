/*
 * Machine-checkable test frame pattern.
 *
 * A frame carries one 32-bit word, (PATTERN_MAGIC << 24) | (crtc_index << 20) | frame,
 * painted three times: as a band at the top, in the middle and at the bottom of the
 * frame. A band is one row of PATTERN_COLUMNS cells of equal width starting at x = 0:
 *
 *   column 0        pure red    (marker: proves the channel order survived)
 *   columns 1..32   word bit 31 .. bit 0, white = 1, black = 0
 *   column 33       pure blue   (marker)
 *
 * Geometry, in pixels, from the frame size only:
 *   cell_w = width / PATTERN_COLUMNS
 *   band_h = min(height / PATTERN_BAND_DIVISOR, PATTERN_BAND_MAX_HEIGHT)
 *   bands at y = 0, y = (height - band_h) / 2 and y = height - band_h
 * Everything outside the bands is a static background, painted once per buffer.
 *
 * A frame decodes as whole and untorn when the three bands carry the same word with a
 * valid magic and both markers have the right colour. Cells are sampled at three points
 * along their centre row and must be decisively black, white, red or blue, so the
 * pattern survives RGB/BGR/YUV conversions but not a wrong stride or channel order.
 */
#ifndef KMSCAST_TESTS_PATTERN_H
#define KMSCAST_TESTS_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#define PATTERN_MAGIC 0xa5u
#define PATTERN_FRAME_BITS 20
#define PATTERN_FRAME_MASK ((1u << PATTERN_FRAME_BITS) - 1)
#define PATTERN_CRTC_MASK 0xfu
#define PATTERN_BITS 32
#define PATTERN_COLUMNS (PATTERN_BITS + 2)
#define PATTERN_BAND_DIVISOR 24
/* Taller bands buy nothing; at 4K they would triple the per-frame painting. */
#define PATTERN_BAND_MAX_HEIGHT 32
#define PATTERN_BANDS 3
/* Smallest frame whose cells are 2x2 pixels. */
#define PATTERN_MIN_WIDTH (PATTERN_COLUMNS * 2)
#define PATTERN_MIN_HEIGHT (PATTERN_BAND_DIVISOR * 2)
/* Largest frame accepted; bounds the arithmetic on caller-supplied sizes. */
#define PATTERN_MAX_DIM 16384

/*
 * The blocks pattern, for consumers that see the frames only after lossy video coding (a
 * browser's WebRTC loop): the whole frame is a grid of PATTERN_BLOCKS_COLUMNS x
 * PATTERN_BLOCKS_ROWS blocks, each black or white (white = 1). Block k, row-major from the
 * top left, carries bit 23 - k of the word g << 12 | (~g & 0xfff), where g is the Gray code
 * of frame mod 4096: the top half holds g, the bottom half its complement.
 * Block (c, r) covers x in [c * width / 6, (c + 1) * width / 6) and y in
 * [r * height / 4, (r + 1) * height / 4), so a decoder needs only the frame's size, and a
 * crop or an offset shows up as a wrong word.
 * Why so: flat blocks of 50 pixels and more stay black or white through a codec even at low
 * bitrates, where the bands' cells blur into grey. The Gray code changes one bit, so two
 * blocks, from a frame to the next: an encoder short of CPU codes two blocks of change per
 * frame, not half the picture. The complement rejects a block caught half way, all black
 * and all white.
 */
#define PATTERN_BLOCKS_COLUMNS 6
#define PATTERN_BLOCKS_ROWS 4
#define PATTERN_BLOCKS_BITS (PATTERN_BLOCKS_COLUMNS * PATTERN_BLOCKS_ROWS)
#define PATTERN_BLOCKS_FRAME_BITS 12
#define PATTERN_BLOCKS_FRAME_MASK ((1u << PATTERN_BLOCKS_FRAME_BITS) - 1)

/* The cursor image: a square of one opaque ARGB colour that changes every this many frames. */
#define PATTERN_CURSOR_PERIOD 30

struct pattern_result {
	uint32_t frame;
	uint32_t crtc_index;
	/* Raw words of the top, middle and bottom band; 0 where a band did not decode. */
	uint32_t words[PATTERN_BANDS];
	/* Static string saying why decoding failed, NULL on success. */
	const char *reason;
};

/*
 * Bytes per pixel of a DRM fourcc the pattern can paint and decode, or 0 when it is not
 * supported. Supported: XR24 AR24 XB24 AB24 RX24 BX24 RG24 BG24 RG16.
 */
uint32_t pattern_format_cpp(uint32_t fourcc);

/*
 * Map a GStreamer raw video format name (BGRx, RGBx, xRGB, xBGR, BGRA, RGBA, RGB, BGR,
 * RGB16) or a DRM fourcc string ("XR24") to a DRM fourcc. Returns 0 when unknown.
 */
uint32_t pattern_format_from_name(const char *name);

/*
 * Paint the background and the bands of a new buffer. The caller owns pixels, which must
 * hold stride * height bytes. Returns 0, or -EINVAL for a size, stride, format or crtc
 * index the pattern cannot carry.
 */
int pattern_paint_full(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t crtc_index, uint32_t frame);

/*
 * Repaint only the bands of a buffer that pattern_paint_full() painted before with the
 * same geometry. About 1/8 of the cost of a full paint. Returns as pattern_paint_full().
 */
int pattern_paint_frame(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t crtc_index, uint32_t frame);

/*
 * Decode a frame. Fills out (including out->reason on failure) and returns 0 when the
 * frame is whole and untorn, -EBADMSG when the bands disagree, a marker or the magic is
 * wrong or a cell is not decisively coloured, and -EINVAL for an unusable size, stride
 * or format.
 */
int pattern_decode(const void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, struct pattern_result *out);

/*
 * Paint the blocks pattern of frame over the whole buffer. Same buffer contract and return
 * values as pattern_paint_full(); the frame must be at least PATTERN_BLOCKS_COLUMNS x
 * PATTERN_BLOCKS_ROWS pixels.
 */
int pattern_blocks_paint(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t frame);

/*
 * Decode a blocks-pattern frame: each block's mean over its central half must be decisively
 * dark or light, and the bottom half must be the top half's complement. Fills *frame
 * (0..PATTERN_BLOCKS_FRAME_MASK) and returns 0, or -EBADMSG, or -EINVAL for an unusable
 * size, stride or format.
 */
int pattern_blocks_decode(const void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t *frame);

/* The opaque ARGB8888 fill colour of the cursor while showing this frame. */
uint32_t pattern_cursor_color(uint32_t frame);

/* Which cursor image a colour from pattern_cursor_color() stands for (frame / 30). */
bool pattern_cursor_color_index(uint32_t argb, uint32_t *index);

/* Fill an ARGB8888 cursor image with pattern_cursor_color(frame). */
void pattern_paint_cursor(
	void *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t frame);

/*
 * Check that an ARGB8888 cursor image is one uniform pattern colour and return its index
 * (frame / PATTERN_CURSOR_PERIOD) in *index. Returns 0 or -EBADMSG.
 */
int pattern_decode_cursor(
	const void *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t *index);

#endif
