/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include <drm_fourcc.h>

#include <spa/param/buffers.h>
#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/filter.h>
#include <spa/utils/result.h>

#include "format.h"
#include "kmscast-source.h"

int source_set_format_info(struct impl *this, struct spa_video_info_raw *info, bool modifier)
{
	const struct helper_fb *hfb;
	const struct fmt_info *fmt;
	char name[5];

	if (this->set.n == 0) {
		return -EIO;
	}
	hfb = &this->set.fbs[0].hfb;
	fmt = fmt_from_drm(hfb->fourcc);
	if (!fmt) {
		spa_log_error(this->log, "%s: FB %u has format %s, which has no SPA video format",
				this->name, hfb->fb_id, kms_fourcc_str(hfb->fourcc, name));
		return -ENOTSUP;
	}
	*info = (struct spa_video_info_raw){
		.format = fmt->spa_format,
		.size = SPA_RECTANGLE(hfb->width, hfb->height),
		.framerate = SPA_FRACTION(0, 1),
		.max_framerate = source_refresh_fraction(this),
	};
	if (modifier) {
		info->flags = SPA_VIDEO_FLAG_MODIFIER;
		/* An FB added without DRM_MODE_FB_MODIFIERS has an implicit layout. */
		info->modifier = hfb->modifier_explicit ? hfb->modifier : DRM_FORMAT_MOD_INVALID;
	}
	return 0;
}

static bool set_is_linear(const struct impl *this)
{
	return scanout_fb_linear(&this->set.fbs[0].hfb);
}

/*
 * #0: the dma-buf format, the FB's exact modifier, MANDATORY: an FB cannot change its layout,
 *     so a consumer that can't take this modifier must not get it.
 * #1: the same without a modifier, i.e. linear memory; served zero-copy to consumers that
 *     take linear dma-bufs, else by a CPU copy into MemFd buffers.
 * A copy node (kmscast.copy) offers #1 alone, as its index 0.
 */
static struct spa_pod *build_enum_format(struct impl *this, uint32_t index,
		struct spa_pod_builder *b)
{
	struct spa_video_info_raw info;
	struct spa_pod_frame f;

	if (this->config.copy_only && index++ > 0) {
		return NULL;
	}
	if (index > 1 || source_set_format_info(this, &info, index == 0) < 0) {
		return NULL;
	}
	if (index == 1 && this->set.fbs[0].hfb.n_planes > 1 && !set_is_linear(this)) {
		return NULL;
	}
	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b,
			SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_format, SPA_POD_Id(info.format),
			0);
	if (index == 0) {
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier, SPA_POD_PROP_FLAG_MANDATORY);
		spa_pod_builder_long(b, (int64_t)info.modifier);
	}
	/*
	 * framerate 0/1 (variable) is a fixed value; a 0/1 bound in a range, or a range whose
	 * bounds meet, is what PipeWire 1.6's stricter choice checks refuse.
	 */
	spa_pod_builder_add(b,
			SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&info.size),
			SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&info.framerate),
			0);
	if (info.max_framerate.num > info.max_framerate.denom) {
		spa_pod_builder_add(b, SPA_FORMAT_VIDEO_maxFramerate,
				SPA_POD_CHOICE_RANGE_Fraction(&info.max_framerate,
						&SPA_FRACTION(1, 1), &info.max_framerate),
				0);
	} else {
		spa_pod_builder_add(b, SPA_FORMAT_VIDEO_maxFramerate,
				SPA_POD_Fraction(&info.max_framerate), 0);
	}
	return spa_pod_builder_pop(b, &f);
}

/*
 * The negotiated format. Not spa_format_video_raw_build(): in 0.3.65 it passes maxFramerate
 * by value where the builder wants a pointer, and crashes on any format that has one.
 */
static struct spa_pod *build_format(struct impl *this, struct spa_pod_builder *b)
{
	const struct spa_video_info_raw *info = &this->port.format;
	struct spa_pod_frame f;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_Format);
	spa_pod_builder_add(b,
			SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_format, SPA_POD_Id(info->format),
			SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&info->size),
			SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&info->framerate),
			0);
	if (info->flags & SPA_VIDEO_FLAG_MODIFIER) {
		spa_pod_builder_add(b, SPA_FORMAT_VIDEO_modifier,
				SPA_POD_Long((int64_t)info->modifier), 0);
	}
	if (info->max_framerate.denom != 0) {
		spa_pod_builder_add(b, SPA_FORMAT_VIDEO_maxFramerate,
				SPA_POD_Fraction(&info->max_framerate), 0);
	}
	return spa_pod_builder_pop(b, &f);
}

/*
 * One Buffers param: blocks datas per buffer, and from MIN_SLOTS to max buffers, def by
 * default (the count PipeWire picks unless the peer's range excludes it).
 */
static struct spa_pod *buffers_param(struct spa_pod_builder *b, uint32_t types, uint32_t blocks,
		uint32_t size, uint32_t stride, int32_t def, int32_t max)
{
	struct spa_pod_frame f;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers);
	/* A range whose bounds meet is what PipeWire 1.6's stricter choice checks refuse. */
	if (max > MIN_SLOTS) {
		spa_pod_builder_add(b, SPA_PARAM_BUFFERS_buffers,
				SPA_POD_CHOICE_RANGE_Int(def, MIN_SLOTS, max), 0);
	} else {
		spa_pod_builder_add(b, SPA_PARAM_BUFFERS_buffers, SPA_POD_Int(MIN_SLOTS), 0);
	}
	spa_pod_builder_add(b,
			SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(blocks),
			SPA_PARAM_BUFFERS_size, SPA_POD_Int(size),
			SPA_PARAM_BUFFERS_stride, SPA_POD_Int(stride),
			SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(types),
			0);
	return spa_pod_builder_pop(b, &f);
}

/* The dma-buf path: SLOTS_PER_FB aliases of each FB of the set, and the spares. */
static struct spa_pod *dmabuf_buffers(struct impl *this, struct spa_pod_builder *b)
{
	const struct scanout_fb *fb = &this->set.fbs[0];
	bool modifier = this->port.format.flags & SPA_VIDEO_FLAG_MODIFIER;
	int32_t spares = modifier && spare_slots_possible(this) ? SPARE_SLOTS : 0;
	int32_t slots = SPA_CLAMP((int32_t)this->set.n * SLOTS_PER_FB + spares, DEFAULT_SLOTS,
			MAX_SLOTS);

	return buffers_param(b, 1u << SPA_DATA_DmaBuf, fb->hfb.n_planes, fb->plane_size[0],
			fb->hfb.pitches[0], slots, MAX_SLOTS);
}

/*
 * The SHM path: whole frames of the node's own (or PipeWire's), each plane in a data of its
 * own, as many as fit in SHM_MAX_BYTES. PipeWire gives every data the same size: the
 * largest plane's.
 */
static struct spa_pod *shm_buffers(struct impl *this, struct spa_pod_builder *b,
		uint32_t types)
{
	const struct scanout_fb *fb = &this->set.fbs[0];
	int32_t max = (int32_t)shm_max_slots(fb);
	size_t size = 0;

	for (uint32_t i = 0; i < fb->hfb.n_planes; i++) {
		size = SPA_MAX(size, shm_plane_bytes(fb, i));
	}
	return buffers_param(b, types, fb->hfb.n_planes, (uint32_t)size, fb->hfb.pitches[0],
			SPA_MIN(SHM_DEFAULT_SLOTS, max), max);
}

static struct spa_pod *build_buffers(struct impl *this, uint32_t index,
		struct spa_pod_builder *b)
{
	uint32_t memory = (1u << SPA_DATA_MemFd) | (1u << SPA_DATA_MemPtr);

	if (this->port.format.flags & SPA_VIDEO_FLAG_MODIFIER) {
		return index == 0 ? dmabuf_buffers(this, b) : NULL;
	}
	/*
	 * Without a modifier the link aliases the FBs if its consumer takes dma-bufs and copies
	 * if not, which only use_buffers learns (choose_path). One param could not both give
	 * aliases their count and bound the copies' memory, so there are two, the dma-buf one
	 * first: PipeWire takes the first that the peer's Buffers param intersects
	 * (pw_buffers_negotiate, 0.3.65 to 1.6), and a dataType of memory only intersects the
	 * second.
	 */
	if (source_modifierless_may_alias(this)) {
		switch (index) {
		case 0:
			return dmabuf_buffers(this, b);
		case 1:
			return shm_buffers(this, b, memory);
		default:
			return NULL;
		}
	}
	/* Copies only. A linear FB still says DmaBuf: the link gets MemFd all the same. */
	if (set_is_linear(this) && !this->config.copy_only) {
		memory |= 1u << SPA_DATA_DmaBuf;
	}
	return index == 0 ? shm_buffers(this, b, memory) : NULL;
}

static struct spa_pod *build_meta(struct impl *this, uint32_t index, struct spa_pod_builder *b)
{
	static const struct {
		uint32_t type;
		uint32_t size;
	} metas[] = {
		{SPA_META_Header, sizeof(struct spa_meta_header)},
		{SPA_META_VideoCrop, sizeof(struct spa_meta_region)},
		/* One region: the whole picture (source-frame.c says why). */
		{SPA_META_VideoDamage, sizeof(struct spa_meta_region)},
		/* Last: it is the one that may be left out, which ends the list. */
		{SPA_META_Cursor, CURSOR_META_SIZE},
	};

	if (index >= SPA_N_ELEMENTS(metas)) {
		return NULL;
	}
	if (metas[index].type == SPA_META_Cursor && (!cursor_available(&this->cursor) ||
			this->config.cursor_hidden)) {
		return NULL;
	}
	return spa_pod_builder_add_object(b,
			SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
			SPA_PARAM_META_type, SPA_POD_Id(metas[index].type),
			SPA_PARAM_META_size, SPA_POD_Int(metas[index].size));
}

static struct spa_pod *build_io(uint32_t index, struct spa_pod_builder *b)
{
	switch (index) {
	case 0:
		return spa_pod_builder_add_object(b,
				SPA_TYPE_OBJECT_ParamIO, SPA_PARAM_IO,
				SPA_PARAM_IO_id, SPA_POD_Id(SPA_IO_Buffers),
				SPA_PARAM_IO_size, SPA_POD_Int(sizeof(struct spa_io_buffers)));
	case 1:
		return spa_pod_builder_add_object(b,
				SPA_TYPE_OBJECT_ParamIO, SPA_PARAM_IO,
				SPA_PARAM_IO_id, SPA_POD_Id(SPA_IO_Clock),
				SPA_PARAM_IO_size, SPA_POD_Int(sizeof(struct spa_io_clock)));
	default:
		return NULL;
	}
}

/* Returns the param at index, NULL past the end; *res < 0 for an unknown or unready id. */
static struct spa_pod *build_param(struct impl *this, uint32_t id, uint32_t index,
		struct spa_pod_builder *b, int *res)
{
	*res = 0;
	switch (id) {
	case SPA_PARAM_EnumFormat:
		return build_enum_format(this, index, b);
	case SPA_PARAM_Format:
		if (!this->port.have_format) {
			*res = -EIO;
			return NULL;
		}
		return index == 0 ? build_format(this, b) : NULL;
	case SPA_PARAM_Buffers:
		if (!this->port.have_format || this->set.n == 0) {
			*res = -EIO;
			return NULL;
		}
		return build_buffers(this, index, b);
	case SPA_PARAM_Meta:
		return build_meta(this, index, b);
	case SPA_PARAM_IO:
		return build_io(index, b);
	default:
		*res = -ENOENT;
		return NULL;
	}
}

int source_port_enum_params(struct impl *this, int seq, uint32_t id, uint32_t start,
		uint32_t num, const struct spa_pod *filter)
{
	struct spa_result_node_params result = {.id = id, .next = start};
	uint8_t buffer[1024];
	struct spa_pod_builder b;
	struct spa_pod *param;
	uint32_t count = 0;
	int res;

	while (count < num) {
		result.index = result.next++;
		spa_pod_builder_init(&b, buffer, sizeof(buffer));
		param = build_param(this, id, result.index, &b, &res);
		if (res < 0) {
			return res;
		}
		if (param == NULL) {
			break;
		}
		if (spa_pod_filter(&b, &result.param, param, filter) < 0) {
			continue;
		}
		spa_node_emit_result(&this->hooks, seq, 0, SPA_RESULT_TYPE_NODE_PARAMS, &result);
		count++;
	}
	return 0;
}
