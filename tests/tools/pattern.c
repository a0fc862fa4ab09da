#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <drm_fourcc.h>

#include "pattern.h"

/* Cursor pixels are stored as host uint32_t ARGB; DRM's ARGB8888 is little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "DRM formats are little-endian");

/*
 * Byte layout of one pixel. DRM fourccs name little-endian words, so XR24 (XRGB8888) is
 * the byte sequence B, G, R, X in memory, i.e. GStreamer's BGRx.
 */
struct pixel_format {
	uint32_t fourcc;
	const char *gst_name;
	uint8_t cpp;
	/* Byte offsets of R, G, B and of the padding or alpha byte (cpp 4 only). */
	uint8_t r, g, b, x;
	bool rgb565;
};

static const struct pixel_format formats[] = {
	{DRM_FORMAT_XRGB8888, "BGRx", 4, 2, 1, 0, 3, false},
	{DRM_FORMAT_ARGB8888, "BGRA", 4, 2, 1, 0, 3, false},
	{DRM_FORMAT_XBGR8888, "RGBx", 4, 0, 1, 2, 3, false},
	{DRM_FORMAT_ABGR8888, "RGBA", 4, 0, 1, 2, 3, false},
	{DRM_FORMAT_BGRX8888, "xRGB", 4, 1, 2, 3, 0, false},
	{DRM_FORMAT_RGBX8888, "xBGR", 4, 3, 2, 1, 0, false},
	{DRM_FORMAT_RGB888, "BGR", 3, 2, 1, 0, 0, false},
	{DRM_FORMAT_BGR888, "RGB", 3, 0, 1, 2, 0, false},
	{DRM_FORMAT_RGB565, "RGB16", 2, 0, 0, 0, 0, true},
};

struct rgb {
	uint8_t r, g, b;
};

enum cell_colour {
	CELL_BLACK,
	CELL_WHITE,
	CELL_RED,
	CELL_BLUE,
	CELL_UNCLEAR,
};

static const struct rgb colour_black = {0, 0, 0};
static const struct rgb colour_white = {255, 255, 255};
static const struct rgb colour_red = {255, 0, 0};
static const struct rgb colour_blue = {0, 0, 255};

struct geometry {
	uint32_t cell_w;
	uint32_t band_h;
	uint32_t band_y[PATTERN_BANDS];
};

static const struct pixel_format *find_format(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	}
	return NULL;
}

uint32_t pattern_format_cpp(uint32_t fourcc)
{
	const struct pixel_format *fmt = find_format(fourcc);

	return fmt ? fmt->cpp : 0;
}

uint32_t pattern_format_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(formats[i].gst_name, name) == 0)
			return formats[i].fourcc;
	}
	if (strlen(name) == 4) {
		uint32_t fourcc = fourcc_code(name[0], name[1], name[2], name[3]);
		if (find_format(fourcc))
			return fourcc;
	}
	return 0;
}

static int get_geometry(uint32_t width, uint32_t height, uint32_t stride,
	const struct pixel_format *fmt, struct geometry *geo)
{
	if (!fmt || width < PATTERN_MIN_WIDTH || height < PATTERN_MIN_HEIGHT ||
		width > PATTERN_MAX_DIM || height > PATTERN_MAX_DIM ||
		stride < (uint64_t)width * fmt->cpp)
		return -EINVAL;
	geo->cell_w = width / PATTERN_COLUMNS;
	geo->band_h = height / PATTERN_BAND_DIVISOR;
	if (geo->band_h > PATTERN_BAND_MAX_HEIGHT)
		geo->band_h = PATTERN_BAND_MAX_HEIGHT;
	geo->band_y[0] = 0;
	geo->band_y[1] = (height - geo->band_h) / 2;
	geo->band_y[2] = height - geo->band_h;
	return 0;
}

static void store_pixel(uint8_t *p, const struct pixel_format *fmt, struct rgb c)
{
	if (fmt->rgb565) {
		uint16_t v = (uint16_t)(((c.r >> 3) << 11) | ((c.g >> 2) << 5) | (c.b >> 3));
		p[0] = (uint8_t)(v & 0xff);
		p[1] = (uint8_t)(v >> 8);
		return;
	}
	p[fmt->r] = c.r;
	p[fmt->g] = c.g;
	p[fmt->b] = c.b;
	if (fmt->cpp == 4)
		p[fmt->x] = 0xff;
}

static struct rgb load_pixel(const uint8_t *p, const struct pixel_format *fmt)
{
	struct rgb c;

	if (fmt->rgb565) {
		uint16_t v = (uint16_t)(p[0] | (p[1] << 8));
		/* Expand 5/6 bits to 8 by replicating the top bits, as display hardware does. */
		c.r = (uint8_t)(((v >> 11) << 3) | (v >> 13));
		c.g = (uint8_t)((((v >> 5) & 0x3f) << 2) | ((v >> 9) & 0x3));
		c.b = (uint8_t)(((v & 0x1f) << 3) | ((v >> 2) & 0x7));
		return c;
	}
	c.r = p[fmt->r];
	c.g = p[fmt->g];
	c.b = p[fmt->b];
	return c;
}

/* Thresholds leave room for limited-range YUV round trips and 565 quantisation. */
static enum cell_colour classify(struct rgb c)
{
	bool r = c.r > 192, g = c.g > 192, b = c.b > 192;
	bool r0 = c.r < 64, g0 = c.g < 64, b0 = c.b < 64;

	if (r0 && g0 && b0)
		return CELL_BLACK;
	if (r && g && b)
		return CELL_WHITE;
	if (r && g0 && b0)
		return CELL_RED;
	if (r0 && g0 && b)
		return CELL_BLUE;
	return CELL_UNCLEAR;
}

static uint32_t make_word(uint32_t crtc_index, uint32_t frame)
{
	return (PATTERN_MAGIC << 24) | ((crtc_index & PATTERN_CRTC_MASK) << PATTERN_FRAME_BITS) |
	       (frame & PATTERN_FRAME_MASK);
}

static struct rgb column_colour(uint32_t word, uint32_t column)
{
	if (column == 0)
		return colour_red;
	if (column == PATTERN_COLUMNS - 1)
		return colour_blue;
	return (word >> (PATTERN_BITS - column)) & 1 ? colour_white : colour_black;
}

/* Paint the first row of a band, then copy it down: a row copy is far cheaper under TCG. */
static void paint_band(uint8_t *pixels, uint32_t width, uint32_t stride,
	const struct pixel_format *fmt, const struct geometry *geo, uint32_t band, uint32_t word)
{
	uint8_t *row = pixels + (size_t)geo->band_y[band] * stride;
	uint32_t painted = geo->cell_w * PATTERN_COLUMNS;

	for (uint32_t x = 0; x < painted; x++)
		store_pixel(row + (size_t)x * fmt->cpp, fmt, column_colour(word, x / geo->cell_w));
	/* The few pixels right of the last cell stay black so they never look like a marker. */
	for (uint32_t x = painted; x < width; x++)
		store_pixel(row + (size_t)x * fmt->cpp, fmt, colour_black);
	for (uint32_t y = 1; y < geo->band_h; y++)
		memcpy(row + (size_t)y * stride, row, (size_t)width * fmt->cpp);
}

static void paint_background(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
	const struct pixel_format *fmt, uint32_t crtc_index)
{
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = pixels + (size_t)y * stride;
		for (uint32_t x = 0; x < width; x++) {
			struct rgb c = {
				.r = (uint8_t)(x * 255 / width),
				.g = (uint8_t)(y * 255 / height),
				.b = (uint8_t)(0x40 + (crtc_index & PATTERN_CRTC_MASK) * 0x30),
			};
			/* A 64-pixel grid makes scaling and offsets visible in screenshots. */
			if (x % 64 == 0 || y % 64 == 0)
				c = (struct rgb){0x80, 0x80, 0x80};
			store_pixel(row + (size_t)x * fmt->cpp, fmt, c);
		}
	}
}

int pattern_paint_frame(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t crtc_index, uint32_t frame)
{
	const struct pixel_format *fmt = find_format(fourcc);
	struct geometry geo;
	int ret;

	if (crtc_index > PATTERN_CRTC_MASK)
		return -EINVAL;
	ret = get_geometry(width, height, stride, fmt, &geo);
	if (ret < 0)
		return ret;
	for (uint32_t band = 0; band < PATTERN_BANDS; band++)
		paint_band(pixels, width, stride, fmt, &geo, band, make_word(crtc_index, frame));
	return 0;
}

int pattern_paint_full(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t crtc_index, uint32_t frame)
{
	const struct pixel_format *fmt = find_format(fourcc);
	struct geometry geo;
	int ret;

	if (crtc_index > PATTERN_CRTC_MASK)
		return -EINVAL;
	ret = get_geometry(width, height, stride, fmt, &geo);
	if (ret < 0)
		return ret;
	paint_background(pixels, width, height, stride, fmt, crtc_index);
	return pattern_paint_frame(pixels, width, height, stride, fourcc, crtc_index, frame);
}

/*
 * Sample a cell at a quarter, half and three quarters of its width on the band's centre
 * row; all three must agree, which catches rows shifted by a wrong stride.
 */
static enum cell_colour sample_cell(const uint8_t *pixels, uint32_t stride,
	const struct pixel_format *fmt, const struct geometry *geo, uint32_t band, uint32_t column)
{
	const uint8_t *row = pixels + (size_t)(geo->band_y[band] + geo->band_h / 2) * stride;
	uint32_t x0 = column * geo->cell_w;
	uint32_t xs[3] = {x0 + geo->cell_w / 4, x0 + geo->cell_w / 2, x0 + geo->cell_w * 3 / 4};
	enum cell_colour first = CELL_UNCLEAR;

	for (int i = 0; i < 3; i++) {
		enum cell_colour c = classify(load_pixel(row + (size_t)xs[i] * fmt->cpp, fmt));
		if (i == 0)
			first = c;
		else if (c != first)
			return CELL_UNCLEAR;
	}
	return first;
}

static int decode_band(const uint8_t *pixels, uint32_t stride, const struct pixel_format *fmt,
	const struct geometry *geo, uint32_t band, uint32_t *word, const char **reason)
{
	uint32_t w = 0;

	if (sample_cell(pixels, stride, fmt, geo, band, 0) != CELL_RED ||
		sample_cell(pixels, stride, fmt, geo, band, PATTERN_COLUMNS - 1) != CELL_BLUE) {
		*reason = "marker colours wrong (channel order, stride or not a pattern frame)";
		return -EBADMSG;
	}
	for (uint32_t column = 1; column <= PATTERN_BITS; column++) {
		enum cell_colour c = sample_cell(pixels, stride, fmt, geo, band, column);
		if (c != CELL_BLACK && c != CELL_WHITE) {
			*reason = "a cell is neither black nor white";
			return -EBADMSG;
		}
		w = (w << 1) | (c == CELL_WHITE);
	}
	if (w >> 24 != PATTERN_MAGIC) {
		*reason = "bad magic";
		return -EBADMSG;
	}
	*word = w;
	return 0;
}

int pattern_decode(const void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, struct pattern_result *out)
{
	const struct pixel_format *fmt = find_format(fourcc);
	struct geometry geo;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = get_geometry(width, height, stride, fmt, &geo);
	if (ret < 0) {
		out->reason = "unsupported size, stride or format";
		return ret;
	}
	for (uint32_t band = 0; band < PATTERN_BANDS; band++) {
		ret = decode_band(pixels, stride, fmt, &geo, band, &out->words[band], &out->reason);
		if (ret < 0)
			return ret;
	}
	if (out->words[0] != out->words[1] || out->words[1] != out->words[2]) {
		out->reason = "torn: bands carry different words";
		return -EBADMSG;
	}
	out->frame = out->words[0] & PATTERN_FRAME_MASK;
	out->crtc_index = (out->words[0] >> PATTERN_FRAME_BITS) & PATTERN_CRTC_MASK;
	return 0;
}

uint32_t pattern_cursor_color(uint32_t frame)
{
	uint32_t index = frame / PATTERN_CURSOR_PERIOD;

	/* Opaque, red 0xc0, image index in green and blue: visible and decodable. */
	return 0xff000000u | (0xc0u << 16) | (index & 0xffffu);
}

bool pattern_cursor_color_index(uint32_t argb, uint32_t *index)
{
	if ((argb & 0xffff0000u) != 0xffc00000u)
		return false;
	*index = argb & 0xffffu;
	return true;
}

void pattern_paint_cursor(
	void *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t frame)
{
	uint32_t argb = pattern_cursor_color(frame);

	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = (uint8_t *)pixels + (size_t)y * stride;
		for (uint32_t x = 0; x < width; x++)
			memcpy(row + (size_t)x * 4, &argb, 4);
	}
}

int pattern_decode_cursor(
	const void *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t *index)
{
	uint32_t first, argb;

	if (width == 0 || height == 0 || stride < (uint64_t)width * 4)
		return -EINVAL;
	memcpy(&first, pixels, 4);
	for (uint32_t y = 0; y < height; y++) {
		const uint8_t *row = (const uint8_t *)pixels + (size_t)y * stride;
		for (uint32_t x = 0; x < width; x++) {
			memcpy(&argb, row + (size_t)x * 4, 4);
			if (argb != first)
				return -EBADMSG;
		}
	}
	return pattern_cursor_color_index(first, index) ? 0 : -EBADMSG;
}

static uint32_t blocks_word(uint32_t frame)
{
	uint32_t n = frame & PATTERN_BLOCKS_FRAME_MASK, gray = n ^ (n >> 1);

	return gray << PATTERN_BLOCKS_FRAME_BITS | (~gray & PATTERN_BLOCKS_FRAME_MASK);
}

static bool blocks_geometry_ok(
	uint32_t width, uint32_t height, uint32_t stride, const struct pixel_format *fmt)
{
	return fmt && width >= PATTERN_BLOCKS_COLUMNS && height >= PATTERN_BLOCKS_ROWS &&
	       width <= PATTERN_MAX_DIM && height <= PATTERN_MAX_DIM &&
	       stride >= (uint64_t)width * fmt->cpp;
}

/* Paint one row of block row r, then copy it down: row copies are cheap under TCG. */
int pattern_blocks_paint(void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t frame)
{
	const struct pixel_format *fmt = find_format(fourcc);
	uint32_t word = blocks_word(frame);

	if (!blocks_geometry_ok(width, height, stride, fmt))
		return -EINVAL;
	for (uint32_t r = 0; r < PATTERN_BLOCKS_ROWS; r++) {
		uint32_t y0 = r * height / PATTERN_BLOCKS_ROWS;
		uint32_t y1 = (r + 1) * height / PATTERN_BLOCKS_ROWS;
		uint8_t *row = (uint8_t *)pixels + (size_t)y0 * stride;

		for (uint32_t x = 0; x < width; x++) {
			uint32_t c = x * PATTERN_BLOCKS_COLUMNS / width;
			uint32_t bit = PATTERN_BLOCKS_BITS - 1 - (r * PATTERN_BLOCKS_COLUMNS + c);
			store_pixel(row + (size_t)x * fmt->cpp, fmt,
				(word >> bit) & 1 ? colour_white : colour_black);
		}
		for (uint32_t y = y0 + 1; y < y1; y++)
			memcpy((uint8_t *)pixels + (size_t)y * stride, row,
				(size_t)width * fmt->cpp);
	}
	return 0;
}

/* Mean of (R + G + B) / 3 over the central half of a block, every few pixels. */
static uint32_t block_mean(const uint8_t *pixels, uint32_t stride, const struct pixel_format *fmt,
	uint32_t x0, uint32_t x1, uint32_t y0, uint32_t y1)
{
	uint32_t w = x1 - x0, h = y1 - y0, step_x = w / 8 ? w / 8 : 1, step_y = h / 8 ? h / 8 : 1;
	uint64_t sum = 0, n = 0;

	for (uint32_t y = y0 + h / 4; y <= y0 + h * 3 / 4 && y < y1; y += step_y) {
		for (uint32_t x = x0 + w / 4; x <= x0 + w * 3 / 4 && x < x1; x += step_x) {
			struct rgb c =
				load_pixel(pixels + (size_t)y * stride + (size_t)x * fmt->cpp, fmt);
			sum += c.r + c.g + c.b;
			n += 3;
		}
	}
	return (uint32_t)(sum / n);
}

int pattern_blocks_decode(const void *pixels, uint32_t width, uint32_t height, uint32_t stride,
	uint32_t fourcc, uint32_t *frame)
{
	const struct pixel_format *fmt = find_format(fourcc);
	uint32_t word = 0;

	if (!blocks_geometry_ok(width, height, stride, fmt))
		return -EINVAL;
	for (uint32_t k = 0; k < PATTERN_BLOCKS_BITS; k++) {
		uint32_t c = k % PATTERN_BLOCKS_COLUMNS, r = k / PATTERN_BLOCKS_COLUMNS;
		uint32_t mean = block_mean(pixels, stride, fmt, c * width / PATTERN_BLOCKS_COLUMNS,
			(c + 1) * width / PATTERN_BLOCKS_COLUMNS, r * height / PATTERN_BLOCKS_ROWS,
			(r + 1) * height / PATTERN_BLOCKS_ROWS);

		/* Mid-grey is neither: a block caught between two frames must not pass as one. */
		if (mean > 96 && mean < 160)
			return -EBADMSG;
		word = word << 1 | (mean >= 160);
	}
	uint32_t gray = word >> PATTERN_BLOCKS_FRAME_BITS, n = 0;

	if ((word & PATTERN_BLOCKS_FRAME_MASK) != (~gray & PATTERN_BLOCKS_FRAME_MASK))
		return -EBADMSG;
	for (; gray; gray >>= 1)
		n ^= gray;
	*frame = n;
	return 0;
}
