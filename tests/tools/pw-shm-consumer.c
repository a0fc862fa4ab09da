/* SPDX-License-Identifier: MIT */
/*
 * pw-shm-consumer: a small pw_stream video consumer for kmscast's vm tests.
 *
 * By default it offers no dma-buf: formats without a modifier and MemFd/MemPtr buffers only,
 * i.e. kmscast's SHM copy path. --dmabuf also accepts (linear) dma-bufs, which it maps.
 * For every buffer it prints one line:
 *
 *   buf n=<i> seq=<header seq> pts=<header pts> flags=0x<header flags> size=<W>x<H>
 *       stride=<s> chunk=<bytes> data=memfd|memptr|dmabuf frame=<decoded, -2 torn, else -1>
 *       crop=<x>,<y>,<w>,<h> read_ns=<CLOCK_MONOTONIC when the decode ended, or 0>
 *
 * Torn is a frame read while the producer painted it again: a mapped dma-buf read later
 * than the producer's swapchain allows. read_ns against the next buffer's pts (the vblank
 * that put the next FB on screen, from which the producer may paint this one again) tells
 * a read that came too late from a buffer that was bad when it was handed over.
 *
 * and with --cursor, when the buffer carries SPA_META_Cursor:
 *
 *   cursor n=<i> id=<id> x=<x> y=<y> hot_x=<hx> hot_y=<hy> bitmap=<W>x<H>|none|same
 *       index=<cursor image index decoded from the bitmap or -1>
 *
 * --damage asks for SPA_META_VideoDamage as libwebrtc does (1 to 16 regions) and prints, after
 * each buffer line, "damage n=<i> <x>,<y>,<w>,<h>[;...]" with its valid regions, or "empty"
 * when it has none (nothing changed), or "none" without the meta.
 * --no-crop asks for no SPA_META_VideoCrop.
 * --memptr offers MemPtr buffers only, as a consumer that cannot map an fd itself does
 * (nothing may be handed to it but memory already mapped in its process).
 * --blocks decodes the blocks pattern (frame number mod 4096) instead of the bands.
 * --max-fps N asks for a maxFramerate of at most N (0 to N, N preferred), as OBS and browsers
 * do; without it, the node's own (the screen's rate).
 * --refps N:F renegotiates after N frames: a new EnumFormat asking a maxFramerate of at most F
 * replaces the first (pw_stream_update_params), as libwebrtc's
 * SharedScreenCastStream::UpdateScreenCastStreamFrameRate does when its capturer's frame rate
 * changes; the stream keeps running and the link negotiates a new format. Each format then
 * prints "format n=<buffers before it> max-framerate=<num>/<denom>" among the buffer lines.
 * --out FILE gets each full frame (W*4 bytes per row, no padding) for pattern-check. Frames
 * are kept in memory and written at exit: a consumer slower than the producer would see its
 * buffers reused (PipeWire 0.3.65 recycles output buffers per cycle).
 * It exits after --frames buffers carrying pixels, or after --timeout seconds (status 1).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/dma-buf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <drm_fourcc.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/debug/types.h>
#include <spa/param/video/type-info.h>
#include <spa/utils/result.h>

#include "pattern.h"

#define MAX_BUFFERS 64

struct mapping {
	void *ptr;
	size_t size;
};

struct consumer {
	struct pw_main_loop *loop;
	struct pw_stream *stream;
	struct spa_hook stream_listener;
	struct spa_video_info_raw format;
	uint32_t fourcc;
	bool have_format;
	bool dmabuf, memptr, cursor, decode, damage, no_crop;
	bool blocks; /* decode the blocks pattern (kms-producer --pattern blocks) */
	uint32_t max_fps; /* --max-fps: a maxFramerate of at most this, as OBS and browsers ask */
	uint32_t refps_at, refps_fps; /* --refps: after refps_at frames, ask refps_fps */
	struct spa_source *refps; /* signalled from process, renegotiates on the main loop */
	uint32_t frames, n_frames, n_buffers;
	FILE *out;
	uint8_t *frames_mem; /* --out: frames * W * H * 4 bytes, written at exit */
	size_t frames_len, frames_cap;
	struct mapping maps[MAX_BUFFERS];
	int status;
};

static uint32_t drm_fourcc_of(uint32_t spa_format)
{
	switch (spa_format) {
	case SPA_VIDEO_FORMAT_BGRx: return DRM_FORMAT_XRGB8888;
	case SPA_VIDEO_FORMAT_BGRA: return DRM_FORMAT_ARGB8888;
	case SPA_VIDEO_FORMAT_RGBx: return DRM_FORMAT_XBGR8888;
	case SPA_VIDEO_FORMAT_RGBA: return DRM_FORMAT_ABGR8888;
	default: return 0;
	}
}

static void unmap_all(struct consumer *c)
{
	for (int i = 0; i < MAX_BUFFERS; i++) {
		if (c->maps[i].ptr)
			munmap(c->maps[i].ptr, c->maps[i].size);
		c->maps[i].ptr = NULL;
	}
}

/* The pixels of plane 0: MemFd/MemPtr are mapped by the stream, dma-bufs by us, once. */
static const uint8_t *buffer_pixels(struct consumer *c, struct pw_buffer *b, const char **kind)
{
	struct spa_data *d = &b->buffer->datas[0];
	uint32_t id = (uint32_t)(uintptr_t)b->user_data;

	if (d->type == SPA_DATA_DmaBuf) {
		*kind = "dmabuf";
		if (id >= MAX_BUFFERS)
			return NULL;
		if (!c->maps[id].ptr) {
			void *p = mmap(NULL, d->maxsize + d->mapoffset, PROT_READ, MAP_SHARED, d->fd, 0);

			if (p == MAP_FAILED)
				return NULL;
			c->maps[id] = (struct mapping){p, d->maxsize + d->mapoffset};
		}
		return (const uint8_t *)c->maps[id].ptr + d->mapoffset;
	}
	*kind = d->type == SPA_DATA_MemFd ? "memfd" : "memptr";
	return d->data;
}

static void print_cursor(struct consumer *c, struct spa_buffer *buf)
{
	struct spa_meta_cursor *mc;
	struct spa_meta_bitmap *bm;
	char bitmap[32] = "same";
	uint32_t index = 0;
	int decoded = -1;

	mc = spa_buffer_find_meta_data(buf, SPA_META_Cursor, sizeof(*mc));
	if (!mc || !spa_meta_cursor_is_valid(mc))
		return;
	if (mc->bitmap_offset >= sizeof(*mc)) {
		bm = SPA_PTROFF(mc, mc->bitmap_offset, struct spa_meta_bitmap);
		if (bm->offset >= sizeof(*bm) && bm->size.width > 0) {
			snprintf(bitmap, sizeof(bitmap), "%ux%u", bm->size.width, bm->size.height);
			if (pattern_decode_cursor(SPA_PTROFF(bm, bm->offset, void),
					bm->size.width, bm->size.height, (uint32_t)bm->stride,
					&index) == 0)
				decoded = (int)index;
		} else {
			snprintf(bitmap, sizeof(bitmap), "none");
		}
	}
	printf("cursor n=%u id=%u x=%d y=%d hot_x=%d hot_y=%d bitmap=%s index=%d\n", c->n_buffers,
			mc->id, mc->position.x, mc->position.y, mc->hotspot.x, mc->hotspot.y, bitmap,
			decoded);
}

/* The valid regions of SPA_META_VideoDamage, up to the first invalid one, into out. */
static const char *damage_text(struct spa_buffer *buf, char *out, size_t size)
{
	struct spa_meta *m = spa_buffer_find_meta(buf, SPA_META_VideoDamage);
	struct spa_meta_region *r;
	size_t len = 0;

	if (!m)
		return "none";
	out[0] = '\0';
	spa_meta_for_each(r, m) {
		if (!spa_meta_region_is_valid(r) || len >= size)
			break;
		len += (size_t)snprintf(out + len, size - len, "%s%d,%d,%u,%u", len ? ";" : "",
				r->region.position.x, r->region.position.y, r->region.size.width,
				r->region.size.height);
	}
	return out[0] ? out : "empty";
}

static void keep_frame(struct consumer *c, const uint8_t *px, uint32_t stride)
{
	size_t row = (size_t)c->format.size.width * 4, size = row * c->format.size.height;

	if (c->frames_len + size > c->frames_cap) {
		size_t cap = (c->frames_cap ? c->frames_cap * 2 : size * 16);
		uint8_t *mem = realloc(c->frames_mem, cap);

		if (!mem)
			return;
		c->frames_mem = mem;
		c->frames_cap = cap;
	}
	for (uint32_t y = 0; y < c->format.size.height; y++)
		memcpy(c->frames_mem + c->frames_len + y * row, px + (size_t)y * stride, row);
	c->frames_len += size;
}

static void handle_buffer(struct consumer *c, struct pw_buffer *b)
{
	struct spa_buffer *buf = b->buffer;
	struct spa_data *d = &buf->datas[0];
	struct spa_meta_header *h = spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));
	struct spa_meta_region *crop = spa_buffer_find_meta_data(buf, SPA_META_VideoCrop,
			sizeof(*crop));
	uint32_t stride = d->chunk->stride > 0 ? (uint32_t)d->chunk->stride :
			c->format.size.width * 4;
	const char *kind = "?";
	const uint8_t *px = buffer_pixels(c, b, &kind);
	struct pattern_result res = {0};
	struct dma_buf_sync sync = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
	struct timespec read_end = {0};
	char damage[128];
	int frame = -1;

	c->n_buffers++;
	if (px && d->chunk->size > 0) {
		px += d->chunk->offset;
		if (d->type == SPA_DATA_DmaBuf)
			ioctl(d->fd, DMA_BUF_IOCTL_SYNC, &sync);
		uint32_t blocks_frame;
		if (c->blocks) {
			if (pattern_blocks_decode(px, c->format.size.width, c->format.size.height,
					stride, c->fourcc, &blocks_frame) == 0)
				frame = (int)blocks_frame;
		} else if (pattern_decode(px, c->format.size.width, c->format.size.height, stride,
				c->fourcc, &res) == 0) {
			frame = (int)res.frame;
		} else if (res.reason && strstr(res.reason, "torn")) {
			frame = -2;
		}
		clock_gettime(CLOCK_MONOTONIC, &read_end);
		if (c->out)
			keep_frame(c, px, stride);
		if (d->type == SPA_DATA_DmaBuf) {
			sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
			ioctl(d->fd, DMA_BUF_IOCTL_SYNC, &sync);
		}
	}
	printf("buf n=%u seq=%" PRIu64 " pts=%" PRId64 " flags=0x%x size=%ux%u stride=%u chunk=%u "
			"data=%s frame=%d crop=%d,%d,%u,%u read_ns=%" PRIu64 "\n", c->n_buffers,
			h ? h->seq : 0,
			h ? h->pts : 0, h ? h->flags : 0, c->format.size.width,
			c->format.size.height, stride, d->chunk->size, kind, frame,
			crop ? crop->region.position.x : 0, crop ? crop->region.position.y : 0,
			crop ? crop->region.size.width : 0, crop ? crop->region.size.height : 0,
			(uint64_t)read_end.tv_sec * 1000000000u + (uint64_t)read_end.tv_nsec);
	if (c->damage)
		printf("damage n=%u %s\n", c->n_buffers, damage_text(buf, damage, sizeof(damage)));
	if (c->cursor)
		print_cursor(c, buf);
	if (d->chunk->size > 0 && ++c->n_frames >= c->frames) {
		c->status = 0;
		pw_main_loop_quit(c->loop);
	}
	if (c->refps && c->n_frames == c->refps_at && d->chunk->size > 0)
		pw_loop_signal_event(pw_main_loop_get_loop(c->loop), c->refps);
}

static void on_process(void *data)
{
	struct consumer *c = data;
	struct pw_buffer *b;

	while ((b = pw_stream_dequeue_buffer(c->stream)) != NULL) {
		if (c->have_format && c->n_frames < c->frames)
			handle_buffer(c, b);
		pw_stream_queue_buffer(c->stream, b);
	}
}

static void on_add_buffer(void *data, struct pw_buffer *b)
{
	static uint32_t next_id;

	b->user_data = (void *)(uintptr_t)(next_id++ % MAX_BUFFERS);
}

static void update_params(struct consumer *c)
{
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[5];
	uint32_t n = 0;
	int types = (1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr);

	if (c->memptr)
		types = 1 << SPA_DATA_MemPtr;
	if (c->dmabuf)
		types |= 1 << SPA_DATA_DmaBuf;
	params[n++] = spa_pod_builder_add_object(&b,
			SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
			SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(16, 2, MAX_BUFFERS),
			SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
			SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(types));
	params[n++] = spa_pod_builder_add_object(&b,
			SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
			SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
			SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
	if (!c->no_crop)
		params[n++] = spa_pod_builder_add_object(&b,
				SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
				SPA_PARAM_META_type, SPA_POD_Id(SPA_META_VideoCrop),
				SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_region)));
	if (c->damage)
		params[n++] = spa_pod_builder_add_object(&b,
				SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
				SPA_PARAM_META_type, SPA_POD_Id(SPA_META_VideoDamage),
				SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(
						sizeof(struct spa_meta_region) * 16,
						sizeof(struct spa_meta_region) * 1,
						sizeof(struct spa_meta_region) * 16));
	if (c->cursor) {
		size_t size = sizeof(struct spa_meta_cursor) + sizeof(struct spa_meta_bitmap) +
				256 * 256 * 4;

		params[n++] = spa_pod_builder_add_object(&b,
				SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
				SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Cursor),
				SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(size,
						sizeof(struct spa_meta_cursor), size));
	}
	pw_stream_update_params(c->stream, params, n);
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct consumer *c = data;

	if (id != SPA_PARAM_Format || param == NULL)
		return;
	if (spa_format_video_raw_parse(param, &c->format) < 0)
		return;
	c->fourcc = drm_fourcc_of(c->format.format);
	c->have_format = true;
	/* --refps: where in the buffers each format began, for the rate of each part. */
	if (c->refps_at > 0)
		printf("format n=%u max-framerate=%u/%u\n", c->n_buffers,
				c->format.max_framerate.num, c->format.max_framerate.denom);
	unmap_all(c);
	fprintf(stderr, "pw-shm-consumer: format %s %ux%u modifier=%s max-framerate=%u/%u\n",
			spa_debug_type_find_short_name(spa_type_video_format, c->format.format),
			c->format.size.width, c->format.size.height,
			(c->format.flags & SPA_VIDEO_FLAG_MODIFIER) ? "yes" : "no",
			c->format.max_framerate.num, c->format.max_framerate.denom);
	update_params(c);
}

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state,
		const char *error)
{
	fprintf(stderr, "pw-shm-consumer: %s -> %s%s%s\n", pw_stream_state_as_string(old),
			pw_stream_state_as_string(state), error ? ": " : "", error ? error : "");
}

static const struct pw_stream_events stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = on_state_changed,
	.param_changed = on_param_changed,
	.add_buffer = on_add_buffer,
	.process = on_process,
};

static void on_timeout(void *data, uint64_t expirations)
{
	struct consumer *c = data;

	fprintf(stderr, "pw-shm-consumer: timeout after %u frames\n", c->n_frames);
	pw_main_loop_quit(c->loop);
}

static void on_signal(void *data, int sig)
{
	pw_main_loop_quit(((struct consumer *)data)->loop);
}

static const struct spa_pod *format_param(struct spa_pod_builder *b, uint32_t max_fps)
{
	struct spa_pod_frame f;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b,
			SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(5, SPA_VIDEO_FORMAT_BGRx,
					SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRA,
					SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA),
			SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(640, 480),
					&SPA_RECTANGLE(1, 1), &SPA_RECTANGLE(16384, 16384)),
			SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(0, 1),
					&SPA_FRACTION(0, 1), &SPA_FRACTION(1000, 1)), 0);
	/* As libwebrtc asks: maxFramerate from 0 to its rate, preferring its rate. */
	if (max_fps > 0)
		spa_pod_builder_add(b, SPA_FORMAT_VIDEO_maxFramerate,
				SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(max_fps, 1),
						&SPA_FRACTION(0, 1), &SPA_FRACTION(max_fps, 1)), 0);
	return spa_pod_builder_pop(b, &f);
}

/* --refps: the new EnumFormat, as libwebrtc's renegotiation sends it with the stream running. */
static void on_refps(void *data, uint64_t count)
{
	struct consumer *c = data;
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[1];
	int res;

	params[0] = format_param(&b, c->refps_fps);
	res = pw_stream_update_params(c->stream, params, 1);
	fprintf(stderr, "pw-shm-consumer: renegotiate after %u frames: max-framerate %u/1: %s\n",
			c->n_frames, c->refps_fps, res < 0 ? spa_strerror(res) : "asked");
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s --target ID|NAME [--frames N] [--out FILE] [--dmabuf] "
			"[--memptr] [--cursor] [--damage] [--no-crop] [--blocks] [--max-fps N] "
			"[--refps N:F] [--timeout SEC]\n", argv0);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"frames", required_argument, NULL, 'n'},
		{"out", required_argument, NULL, 'o'},
		{"dmabuf", no_argument, NULL, 'd'},
		{"memptr", no_argument, NULL, 'p'},
		{"cursor", no_argument, NULL, 'c'},
		{"damage", no_argument, NULL, 'D'},
		{"no-crop", no_argument, NULL, 'C'},
		{"blocks", no_argument, NULL, 'b'},
		{"max-fps", required_argument, NULL, 'm'},
		{"refps", required_argument, NULL, 'r'},
		{"timeout", required_argument, NULL, 'T'},
		{0},
	};
	struct consumer c = {.frames = 60, .status = 1};
	const char *target = NULL;
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[1];
	struct spa_source *timer;
	struct timespec timeout = {30, 0};
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': target = optarg; break;
		case 'n': c.frames = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'o':
			c.out = fopen(optarg, "we");
			if (!c.out) {
				perror(optarg);
				return 1;
			}
			break;
		case 'd': c.dmabuf = true; break;
		case 'p': c.memptr = true; break;
		case 'c': c.cursor = true; break;
		case 'D': c.damage = true; break;
		case 'C': c.no_crop = true; break;
		case 'b': c.blocks = true; break;
		case 'm': c.max_fps = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r':
			if (sscanf(optarg, "%u:%u", &c.refps_at, &c.refps_fps) != 2 ||
					c.refps_at == 0 || c.refps_fps == 0) {
				fprintf(stderr, "pw-shm-consumer: --refps wants FRAMES:FPS, both > 0\n");
				return 2;
			}
			break;
		case 'T': timeout.tv_sec = strtol(optarg, NULL, 0); break;
		default: return usage(argv[0]);
		}
	}
	if (!target)
		return usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	pw_init(&argc, &argv);
	c.loop = pw_main_loop_new(NULL);
	pw_loop_add_signal(pw_main_loop_get_loop(c.loop), SIGINT, on_signal, &c);
	pw_loop_add_signal(pw_main_loop_get_loop(c.loop), SIGTERM, on_signal, &c);
	timer = pw_loop_add_timer(pw_main_loop_get_loop(c.loop), on_timeout, &c);
	pw_loop_update_timer(pw_main_loop_get_loop(c.loop), timer, &timeout, NULL, false);
	if (c.refps_at > 0)
		c.refps = pw_loop_add_event(pw_main_loop_get_loop(c.loop), on_refps, &c);
	c.stream = pw_stream_new_simple(pw_main_loop_get_loop(c.loop), "pw-shm-consumer",
			pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
					PW_KEY_MEDIA_ROLE, "Screen", PW_KEY_TARGET_OBJECT, target,
					NULL),
			&stream_events, &c);
	params[0] = format_param(&b, c.max_fps);
	if (pw_stream_connect(c.stream, PW_DIRECTION_INPUT, PW_ID_ANY,
			PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1) < 0) {
		fprintf(stderr, "pw-shm-consumer: connect failed\n");
		return 1;
	}
	pw_main_loop_run(c.loop);
	fprintf(stderr, "pw-shm-consumer: %u buffers, %u frames\n", c.n_buffers, c.n_frames);
	pw_stream_destroy(c.stream);
	unmap_all(&c);
	if (c.out) {
		fwrite(c.frames_mem, 1, c.frames_len, c.out);
		fclose(c.out);
	}
	free(c.frames_mem);
	pw_main_loop_destroy(c.loop);
	pw_deinit();
	return c.status;
}
