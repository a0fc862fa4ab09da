/* SPDX-License-Identifier: MIT */
/*
 * The pods a node announces, without DRM: a set of one linear FB and a node struct that
 * never met a card. What matters here is kmscast.copy: a copy node must offer no modifier
 * and no DmaBuf, so that no consumer can negotiate the scanout buffers themselves.
 */
#include <errno.h>
#include <string.h>

#include <drm_fourcc.h>

#include <spa/param/buffers.h>
#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/iter.h>

#include "kmscast-source.h"
#include "test.h"

#define MAX_PARAMS 4

static struct {
	uint32_t n;
	uint8_t storage[MAX_PARAMS][1024];
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
	node.renegotiate_midstream = true;
	node.copy_only = copy_only;
	*hfb = (struct helper_fb){
		.fb_id = 10, .width = 64, .height = 48, .fourcc = DRM_FORMAT_XRGB8888,
		.modifier = DRM_FORMAT_MOD_LINEAR, .modifier_explicit = true, .n_planes = 1,
		.pitches = {64 * 4}, .n_fds = 1, .fds = {-1, -1, -1, -1},
	};
	node.set.fbs[0].fb_id = 10;
	node.set.fbs[0].plane_size[0] = 64 * 4 * 48;
	node.set.n = 1;
}

static uint32_t enum_params(uint32_t id)
{
	got.n = 0;
	test_assert_int_eq(source_port_enum_params(&node, 0, id, 0, MAX_PARAMS, NULL), 0);
	return got.n;
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

	test_assert_int_eq(source_set_format_info(&node, &node.format, modifier), 0);
	node.have_format = true;
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

TEST_MAIN(TEST(test_zero_copy_node), TEST(test_copy_node))
