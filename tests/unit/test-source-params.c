/* SPDX-License-Identifier: MIT */
/*
 * The pods a node announces, without DRM: a set of one linear FB and a node struct that
 * never met a card. What matters here is kmscast.copy: a copy node must offer no modifier
 * and no DmaBuf, so that no consumer can negotiate the scanout buffers themselves.
 */
#include <errno.h>
#include <string.h>

#include <drm_fourcc.h>

#include <spa/buffer/meta.h>
#include <spa/param/buffers.h>
#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/compare.h>
#include <spa/pod/filter.h>
#include <spa/pod/iter.h>

#include "kmscast-source.h"
#include "test.h"

#define MAX_PARAMS 4

static struct {
	uint32_t n;
	/* Pods hold 64-bit values: 8-aligned, or spa_pod_compare's loads are misaligned (UBSan). */
	uint8_t storage[MAX_PARAMS][1024] SPA_ALIGNED(8);
} got;

static void on_result(void *data, int seq, int res, uint32_t type, const void *result)
{
	const struct spa_result_node_params *r = result;

	test_assert(type == SPA_RESULT_TYPE_NODE_PARAMS);
	test_assert(got.n < MAX_PARAMS);
	test_assert(SPA_POD_SIZE(r->param) <= sizeof(got.storage[0]));
	memcpy(got.storage[got.n++], r->param, SPA_POD_SIZE(r->param));
}

static const struct spa_node_events events = {
	SPA_VERSION_NODE_EVENTS,
	.result = on_result,
};

static struct impl node;
static struct spa_hook listener;

static void node_reset(bool copy_only)
{
	struct helper_fb *hfb = &node.set.fbs[0].hfb;

	memset(&node, 0, sizeof(node));
	spa_hook_list_init(&node.hooks);
	spa_hook_list_append(&node.hooks, &listener, &events, NULL);
	snprintf(node.name, sizeof(node.name), "test");
	node.refresh_mhz = 60000;
	node.config.renegotiate_midstream = true;
	node.config.copy_only = copy_only;
	*hfb = (struct helper_fb){
		.fb_id = 10, .width = 64, .height = 48, .fourcc = DRM_FORMAT_XRGB8888,
		.modifier = DRM_FORMAT_MOD_LINEAR, .modifier_explicit = true, .n_planes = 1,
		.pitches = {64 * 4}, .n_fds = 1, .fds = {-1, -1, -1, -1},
	};
	node.set.fbs[0].fb_id = 10;
	node.set.fbs[0].plane_size[0] = 64 * 4 * 48;
	node.set.n = 1;
}

static uint32_t enum_params_filtered(uint32_t id, const struct spa_pod *filter)
{
	got.n = 0;
	test_assert_int_eq(source_port_enum_params(&node, 0, id, 0, MAX_PARAMS, filter), 0);
	return got.n;
}

static uint32_t enum_params(uint32_t id)
{
	return enum_params_filtered(id, NULL);
}

static bool has_modifier(uint32_t i)
{
	return spa_pod_find_prop((const struct spa_pod *)got.storage[i], NULL,
			SPA_FORMAT_VIDEO_modifier) != NULL;
}

/* The Buffers param's dataType flags, after a Format was set (with a modifier or not). */
static uint32_t buffer_types(bool modifier)
{
	const struct spa_pod_prop *prop;
	const struct spa_pod *value;
	uint32_t n_values, choice;
	int32_t types = 0;

	test_assert_int_eq(source_set_format_info(&node, &node.port.format, modifier), 0);
	node.port.have_format = true;
	test_assert_int_eq(enum_params(SPA_PARAM_Buffers), 1);
	prop = spa_pod_find_prop((const struct spa_pod *)got.storage[0], NULL,
			SPA_PARAM_BUFFERS_dataType);
	test_assert(prop != NULL);
	/* A Flags choice: its first value is the set of types. */
	value = spa_pod_get_values(&prop->value, &n_values, &choice);
	test_assert(n_values >= 1 && spa_pod_get_int(value, &types) == 0);
	return (uint32_t)types;
}

static void test_zero_copy_node(void)
{
	node_reset(false);
	test_assert_int_eq(enum_params(SPA_PARAM_EnumFormat), 2);
	test_assert(has_modifier(0));
	test_assert(!has_modifier(1));
	test_assert(buffer_types(true) == 1u << SPA_DATA_DmaBuf);
	/* The format without a modifier: dma-bufs too, the FB being linear. */
	test_assert(buffer_types(false) & (1u << SPA_DATA_DmaBuf));
}

static void test_copy_node(void)
{
	uint32_t types;

	node_reset(true);
	test_assert_int_eq(enum_params(SPA_PARAM_EnumFormat), 1);
	test_assert(!has_modifier(0));
	types = buffer_types(false);
	test_assert(!(types & (1u << SPA_DATA_DmaBuf)));
	test_assert(types & (1u << SPA_DATA_MemFd));
}

/*
 * Whether value (of a Fraction prop) is 0/x: variable framerate, meaningful as a fixed value
 * only. Other types have no such value.
 */
static bool zero_fraction(uint32_t type, const void *value)
{
	return type == SPA_TYPE_Fraction && ((const struct spa_fraction *)value)->num == 0;
}

/*
 * One prop's choice is well-formed: a Range or Step with min < max and the default inside,
 * an Enum whose default is one of its alternatives, a Flags with a value, and no 0/1
 * fraction anywhere but as a fixed value. PipeWire 1.6 refuses impossible ranges when it
 * filters; a degenerate one (min == max, a 0/1 bound) is one filter away from that.
 */
static void check_prop(uint32_t param_id, const struct spa_pod_prop *prop)
{
	const struct spa_pod *value;
	uint32_t n_values, choice, type, size;
	const uint8_t *vals;

	value = spa_pod_get_values(&prop->value, &n_values, &choice);
	type = value->type;
	size = value->size;
	vals = SPA_POD_BODY_CONST(value);
	if (type == SPA_TYPE_Fraction) {
		for (uint32_t i = 0; i < n_values; i++) {
			if (((const struct spa_fraction *)(vals + i * size))->denom == 0)
				test_fail("param %u key %u: a fraction over 0", param_id, prop->key);
		}
	}
	switch (choice) {
	case SPA_CHOICE_None:
		test_assert_int_eq(n_values, 1);
		return;
	case SPA_CHOICE_Range:
	case SPA_CHOICE_Step: {
		const void *def = vals, *min = vals + size, *max = vals + 2 * size;

		test_assert_int_eq(n_values, choice == SPA_CHOICE_Range ? 3 : 4);
		if (spa_pod_compare_value(type, min, max, size) >= 0)
			test_fail("param %u key %u: range with min >= max", param_id, prop->key);
		if (spa_pod_compare_value(type, def, min, size) < 0 ||
				spa_pod_compare_value(type, def, max, size) > 0)
			test_fail("param %u key %u: default outside [min, max]", param_id, prop->key);
		break;
	}
	case SPA_CHOICE_Enum: {
		bool found = false;

		test_assert(n_values >= 2);
		/* One alternative, the default: fixed in effect (0.3.65's filter writes these). */
		if (n_values == 2 && spa_pod_compare_value(type, vals, vals + size, size) == 0)
			return;
		for (uint32_t i = 1; i < n_values; i++)
			found |= spa_pod_compare_value(type, vals, vals + i * size, size) == 0;
		if (!found)
			test_fail("param %u key %u: enum default not an alternative", param_id,
					prop->key);
		break;
	}
	case SPA_CHOICE_Flags:
		test_assert(n_values >= 1);
		return; /* flags are a set, not numbers */
	default:
		test_fail("param %u key %u: choice type %u", param_id, prop->key, choice);
	}
	for (uint32_t i = 0; i < n_values; i++) {
		if (zero_fraction(type, vals + i * size))
			test_fail("param %u key %u: 0/1 inside a choice", param_id, prop->key);
	}
}

/*
 * Every prop of param is well-formed, and SPA's own tools take it: a filter against itself
 * keeps it, and a fixated copy is fixated.
 */
static void check_param(uint32_t param_id, const struct spa_pod *param)
{
	const struct spa_pod_object *obj = (const struct spa_pod_object *)param;
	const struct spa_pod_prop *prop;
	uint8_t buf[1024] SPA_ALIGNED(8), fixed[1024] SPA_ALIGNED(8);
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
	struct spa_pod *result;
	uint32_t n_props = 0;

	test_assert(spa_pod_is_object(param));
	SPA_POD_OBJECT_FOREACH(obj, prop) {
		check_prop(param_id, prop);
		n_props++;
	}
	test_assert(n_props > 0);
	test_assert(spa_pod_filter(&b, &result, param, param) >= 0);
	test_assert(SPA_POD_SIZE(param) <= sizeof(fixed));
	memcpy(fixed, param, SPA_POD_SIZE(param));
	test_assert(spa_pod_fixate((struct spa_pod *)fixed) >= 0);
	test_assert(spa_pod_is_fixated((struct spa_pod *)fixed));
}

static void check_all(uint32_t id)
{
	uint32_t n = enum_params(id);

	for (uint32_t i = 0; i < n; i++)
		check_param(id, (const struct spa_pod *)got.storage[i]);
}

/* Every param the node can announce, for a node as configured, before and after a Format. */
static void check_every_param(void)
{
	check_all(SPA_PARAM_EnumFormat);
	check_all(SPA_PARAM_Meta);
	check_all(SPA_PARAM_IO);
	for (int modifier = 0; modifier <= 1; modifier++) {
		if (modifier && node.config.copy_only)
			break;
		test_assert_int_eq(source_set_format_info(&node, &node.port.format, modifier), 0);
		node.port.have_format = true;
		check_all(SPA_PARAM_Format);
		check_all(SPA_PARAM_Buffers);
		node.port.have_format = false;
	}
}

static void test_params_well_formed(void)
{
	static const uint32_t refresh_mhz[] = {60000, 59940, 144000, 1000, 0};
	struct helper_fb *hfb;

	for (uint32_t i = 0; i < SPA_N_ELEMENTS(refresh_mhz); i++) {
		for (int copy = 0; copy <= 1; copy++) {
			node_reset(copy);
			node.refresh_mhz = refresh_mhz[i];
			node.cursor.has_plane = true;
			check_every_param();
		}
	}
	/* An FB without an explicit modifier, a tiled one, spares (servers 1.0 to 1.5). */
	node_reset(false);
	hfb = &node.set.fbs[0].hfb;
	hfb->modifier_explicit = false;
	hfb->modifier = DRM_FORMAT_MOD_INVALID;
	check_every_param();
	node_reset(false);
	node.set.fbs[0].hfb.modifier = I915_FORMAT_MOD_X_TILED;
	check_every_param();
	node_reset(false);
	node.config.renegotiate_midstream = false;
	check_every_param();
}

/*
 * The EnumFormat against a screencast consumer's filter (framerate and maxFramerate ranges
 * from 0/1 to 60/1, as libwebrtc and OBS offer them): the result is well-formed and fixates
 * to variable framerate with the screen's rate, capped at the consumer's, as maxFramerate.
 */
static void test_consumer_filter(void)
{
	static const struct {
		uint32_t refresh_mhz;
		struct spa_fraction max;
	} cases[] = {
		{60000, {60, 1}},
		{144000, {60, 1}},
		{30000, {30, 1}},
		{1000, {1, 1}},
		/* The mode's exact rate, in lowest terms: NTSC-style 59.94 Hz, vkms's 60.004. */
		{59940, {2997, 50}},
		{60004, {60, 1}},
		{29970, {2997, 100}},
	};
	uint8_t fbuf[512] SPA_ALIGNED(8);
	struct spa_pod_builder fb = SPA_POD_BUILDER_INIT(fbuf, sizeof(fbuf));
	struct spa_video_info_raw info;
	struct spa_pod *filter;

	filter = spa_pod_builder_add_object(&fb, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
			SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(
					&SPA_FRACTION(0, 1), &SPA_FRACTION(0, 1),
					&SPA_FRACTION(60, 1)),
			SPA_FORMAT_VIDEO_maxFramerate, SPA_POD_CHOICE_RANGE_Fraction(
					&SPA_FRACTION(60, 1), &SPA_FRACTION(0, 1),
					&SPA_FRACTION(60, 1)));
	for (uint32_t i = 0; i < SPA_N_ELEMENTS(cases); i++) {
		node_reset(true);
		node.refresh_mhz = cases[i].refresh_mhz;
		test_assert_int_eq(enum_params_filtered(SPA_PARAM_EnumFormat, filter), 1);
		check_param(SPA_PARAM_EnumFormat, (const struct spa_pod *)got.storage[0]);
		test_assert(spa_pod_fixate((struct spa_pod *)got.storage[0]) >= 0);
		test_assert(spa_format_video_raw_parse((const struct spa_pod *)got.storage[0],
				&info) >= 0);
		test_assert_int_eq(info.framerate.num, 0);
		test_assert_int_eq(info.max_framerate.num, cases[i].max.num);
		test_assert_int_eq(info.max_framerate.denom, cases[i].max.denom);
	}
}

/* The advertised refresh: exact, in lowest terms, and 60/1 for an unknown mode. */
static void test_refresh_fraction(void)
{
	static const struct {
		uint32_t refresh_mhz;
		struct spa_fraction want;
	} cases[] = {
		{60000, {60, 1}}, {59940, {2997, 50}}, {60004, {15001, 250}}, {143856, {17982, 125}},
		{75000, {75, 1}}, {0, {60, 1}}, {1, {1, 1000}},
	};

	for (uint32_t i = 0; i < SPA_N_ELEMENTS(cases); i++) {
		struct spa_fraction f;

		node_reset(false);
		node.refresh_mhz = cases[i].refresh_mhz;
		f = source_refresh_fraction(&node);
		test_assert_int_eq(f.num, cases[i].want.num);
		test_assert_int_eq(f.denom, cases[i].want.denom);
	}
}

/* Param i's Int prop key, fixed. */
static int32_t param_int(uint32_t i, uint32_t key)
{
	const struct spa_pod_prop *prop;
	int32_t v = 0;

	prop = spa_pod_find_prop((const struct spa_pod *)got.storage[i], NULL, key);
	test_assert(prop != NULL);
	test_assert(spa_pod_get_int(&prop->value, &v) == 0);
	return v;
}

/* Param i's buffer count: its default and bounds (all three the value when fixed). */
static void buffers_range(uint32_t i, int32_t *def, int32_t *min, int32_t *max)
{
	const struct spa_pod_prop *prop;
	const struct spa_pod *value;
	const int32_t *vals;
	uint32_t n_values, choice;

	prop = spa_pod_find_prop((const struct spa_pod *)got.storage[i], NULL,
			SPA_PARAM_BUFFERS_buffers);
	test_assert(prop != NULL);
	value = spa_pod_get_values(&prop->value, &n_values, &choice);
	test_assert(value->type == SPA_TYPE_Int);
	vals = SPA_POD_BODY_CONST(value);
	if (choice == SPA_CHOICE_None) {
		*def = *min = *max = vals[0];
		return;
	}
	test_assert_int_eq(choice, SPA_CHOICE_Range);
	*def = vals[0];
	*min = vals[1];
	*max = vals[2];
}

/* Param i's dataType flags. */
static uint32_t param_types(uint32_t i)
{
	const struct spa_pod_prop *prop;
	const struct spa_pod *value;
	uint32_t n_values, choice;
	int32_t types = 0;

	prop = spa_pod_find_prop((const struct spa_pod *)got.storage[i], NULL,
			SPA_PARAM_BUFFERS_dataType);
	test_assert(prop != NULL);
	value = spa_pod_get_values(&prop->value, &n_values, &choice);
	test_assert(spa_pod_get_int(value, &types) == 0);
	return (uint32_t)types;
}

/* The set's FB becomes width x height of fourcc, every plane at pitch, planes one after another. */
static void set_fb(uint32_t width, uint32_t height, uint32_t fourcc, uint32_t n_planes,
		uint32_t pitch)
{
	struct scanout_fb *fb = &node.set.fbs[0];
	uint32_t offset = 0;

	fb->hfb.width = width;
	fb->hfb.height = height;
	fb->hfb.fourcc = fourcc;
	fb->hfb.n_planes = n_planes;
	for (uint32_t i = 0; i < n_planes; i++) {
		fb->hfb.pitches[i] = pitch;
		fb->hfb.offsets[i] = offset;
		fb->plane_size[i] = pitch * scanout_fb_plane_rows(&fb->hfb, i);
		offset += fb->plane_size[i];
	}
}

/* The Buffers params after a Format without a modifier: how many. */
static uint32_t modifierless_buffers(void)
{
	test_assert_int_eq(source_set_format_info(&node, &node.port.format, false), 0);
	node.port.have_format = true;
	return enum_params(SPA_PARAM_Buffers);
}

/*
 * The SHM path's Buffers: a data per plane, each as large as the largest plane, and no more
 * buffers than SHM_MAX_BYTES holds of whole frames (8 at 4K XRGB, 2 at 8K: fixed, not a
 * range whose bounds meet), 8 by default when they fit.
 */
static void test_shm_buffers(void)
{
	static const struct {
		uint32_t width, height, fourcc, n_planes, pitch;
		int32_t def, max;
		uint32_t size;
	} cases[] = {
		{64, 48, DRM_FORMAT_XRGB8888, 1, 256, 8, MAX_SLOTS, 256 * 48},
		{1920, 1080, DRM_FORMAT_XRGB8888, 1, 7680, 8, 32, 7680 * 1080},
		{3840, 2160, DRM_FORMAT_XRGB8888, 1, 15360, 8, 8, 15360 * 2160},
		{7680, 4320, DRM_FORMAT_XRGB8888, 1, 30720, MIN_SLOTS, MIN_SLOTS, 30720 * 4320},
		/* 4K NV12: 12 MiB a frame, 21 of them. */
		{3840, 2160, DRM_FORMAT_NV12, 2, 3840, 8, 21, 3840 * 2160},
		{1920, 1080, DRM_FORMAT_NV12, 2, 1920, 8, MAX_SLOTS, 1920 * 1080},
	};

	for (uint32_t i = 0; i < SPA_N_ELEMENTS(cases); i++) {
		int32_t def, min, max;

		node_reset(true);
		set_fb(cases[i].width, cases[i].height, cases[i].fourcc, cases[i].n_planes,
				cases[i].pitch);
		test_assert_int_eq(modifierless_buffers(), 1);
		check_param(SPA_PARAM_Buffers, (const struct spa_pod *)got.storage[0]);
		test_assert_int_eq(param_int(0, SPA_PARAM_BUFFERS_blocks), cases[i].n_planes);
		test_assert_int_eq(param_int(0, SPA_PARAM_BUFFERS_size), cases[i].size);
		test_assert_int_eq(param_int(0, SPA_PARAM_BUFFERS_stride), cases[i].pitch);
		buffers_range(0, &def, &min, &max);
		test_assert_int_eq(def, cases[i].def);
		test_assert_int_eq(min, MIN_SLOTS);
		test_assert_int_eq(max, cases[i].max);
		test_assert_int_eq(shm_max_slots(&node.set.fbs[0]), cases[i].max);
		test_assert((uint64_t)max * shm_frame_bytes(&node.set.fbs[0]) <= SHM_MAX_BYTES ||
				max == MIN_SLOTS);
	}
}

/*
 * A node whose format without a modifier may alias the FBs (kmscast.modifierless-dmabuf):
 * the dma-buf offer first, with the aliases' count, then the SHM one, bounded. Without the
 * property, or for a tiled FB, only the SHM one.
 */
static void test_modifierless_offers(void)
{
	int32_t def, min, max;

	node_reset(false);
	node.config.modifierless_dmabuf = true;
	set_fb(3840, 2160, DRM_FORMAT_XRGB8888, 1, 15360);
	test_assert_int_eq(modifierless_buffers(), 2);
	test_assert_int_eq(param_types(0), 1u << SPA_DATA_DmaBuf);
	buffers_range(0, &def, &min, &max);
	test_assert_int_eq(def, DEFAULT_SLOTS);
	test_assert_int_eq(max, MAX_SLOTS);
	test_assert_int_eq(param_types(1), (1u << SPA_DATA_MemFd) | (1u << SPA_DATA_MemPtr));
	buffers_range(1, &def, &min, &max);
	test_assert_int_eq(def, 8);
	test_assert_int_eq(max, 8);
	check_every_param();

	node.config.modifierless_dmabuf = false;
	test_assert_int_eq(modifierless_buffers(), 1);
	buffers_range(0, &def, &min, &max);
	test_assert_int_eq(max, 8);

	node.config.modifierless_dmabuf = true;
	node.set.fbs[0].hfb.modifier = I915_FORMAT_MOD_X_TILED;
	test_assert_int_eq(modifierless_buffers(), 1);
	test_assert(!(param_types(0) & (1u << SPA_DATA_DmaBuf)));
	buffers_range(0, &def, &min, &max);
	test_assert_int_eq(max, 8);
}

/*
 * The metas a node offers: Header, VideoCrop and VideoDamage, one region of it (the node
 * marks the whole picture), before Cursor, the one that is left out when the CRTC has no
 * cursor plane: it must not take VideoDamage out with it.
 */
static void test_metas(void)
{
	static const uint32_t want[] = {SPA_META_Header, SPA_META_VideoCrop, SPA_META_VideoDamage};
	uint32_t type, size;

	node_reset(false);
	test_assert_int_eq(enum_params(SPA_PARAM_Meta), SPA_N_ELEMENTS(want));
	for (uint32_t i = 0; i < SPA_N_ELEMENTS(want); i++) {
		test_assert_int_eq(spa_pod_parse_object((const struct spa_pod *)got.storage[i],
				SPA_TYPE_OBJECT_ParamMeta, NULL,
				SPA_PARAM_META_type, SPA_POD_Id(&type),
				SPA_PARAM_META_size, SPA_POD_Int(&size)), 2);
		test_assert_int_eq(type, want[i]);
		if (type == SPA_META_VideoDamage)
			test_assert_int_eq(size, sizeof(struct spa_meta_region));
	}
}

TEST_MAIN(TEST(test_zero_copy_node), TEST(test_copy_node), TEST(test_params_well_formed),
		TEST(test_consumer_filter), TEST(test_refresh_fraction), TEST(test_shm_buffers),
		TEST(test_modifierless_offers), TEST(test_metas))
