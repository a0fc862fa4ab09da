/* SPDX-License-Identifier: MIT */
/*
 * portal-remote: what an app can do with the PipeWire fd that OpenPipeWireRemote returned.
 * Not a unit test: a driver for tests/vm/t-portal-*.sh.
 *
 *   portal-remote --fd N --list
 *       prints "global <id> <type> <node.name>" for every global the remote can see
 *   portal-remote --fd N --destroy ID
 *       destroys global ID through the registry, as an app with RWX on it can
 *   portal-remote --fd N --node ID --frames K --out FILE [--shm]
 *       captures K frames of ID as packed BGRx rows into FILE; --shm offers no DMA-BUF
 *       (formats without a modifier, MemFd/MemPtr buffers only), so the node must serve it
 *       from its SHM copy path. --modifier offers LINEAR as the modifier and takes DMA-BUFs
 *       only, as OBS does when its GPU can import them. --any offers both, the format with
 *       the modifier first, as OBS and libwebrtc do: DMA-BUFs where the node offers the
 *       modifier, else MemFd/MemPtr. Prints "format WxH data=memfd|memptr|dmabuf".
 *   portal-remote --direct ...
 *       the same on the user's own PipeWire socket instead of a portal fd (a host client).
 * Exit status 0, 1 on failure or after 20 s without the wanted frames.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <pipewire/pipewire.h>
#include <spa/param/buffers.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>
#include <spa/utils/result.h>

#define TIMEOUT_S 20

struct remote {
	struct pw_main_loop *main_loop;
	struct pw_context *context;
	struct pw_core *core;
	struct pw_registry *registry;
	struct spa_hook core_listener, registry_listener, stream_listener;
	struct pw_stream *stream;
	struct spa_video_info_raw format;
	bool shm, modifier, any, listing;
	uint32_t destroy_id;
	int sync_seq;
	uint32_t frames_wanted, frames;
	FILE *out;
	int status;
};

static void on_global(void *data, uint32_t id, uint32_t permissions, const char *type,
		uint32_t version, const struct spa_dict *props)
{
	const char *name = props ? spa_dict_lookup(props, PW_KEY_NODE_NAME) : NULL;

	printf("global %u %s %s\n", id, type, name ? name : "-");
}

static const struct pw_registry_events registry_events = {
	PW_VERSION_REGISTRY_EVENTS,
	.global = on_global,
};

static void on_core_done(void *data, uint32_t id, int seq)
{
	struct remote *r = data;

	if (r->listing && id == PW_ID_CORE && seq == r->sync_seq)
		pw_main_loop_quit(r->main_loop);
}

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message)
{
	struct remote *r = data;

	fprintf(stderr, "portal-remote: error on %u: %s (%s)\n", id, message, spa_strerror(res));
	if (id == PW_ID_CORE || (r->stream && !r->listing)) {
		r->status = 1;
		pw_main_loop_quit(r->main_loop);
	}
}

static const struct pw_core_events core_events = {
	PW_VERSION_CORE_EVENTS,
	.done = on_core_done,
	.error = on_core_error,
};

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct remote *r = data;
	uint8_t buf[512];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
	const struct spa_pod *params[1];
	int types = r->shm ? (1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr)
		    : r->modifier ? (1 << SPA_DATA_DmaBuf)
		    : (1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_DmaBuf);

	if (!param || id != SPA_PARAM_Format)
		return;
	if (spa_format_video_raw_parse(param, &r->format) < 0)
		return;
	/* As OBS: dma-bufs for the format with a modifier, memory for the one without. */
	if (r->any)
		types = (r->format.flags & SPA_VIDEO_FLAG_MODIFIER) ? (1 << SPA_DATA_DmaBuf)
				: (1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr);
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers,
			SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
			SPA_POD_CHOICE_RANGE_Int(8, 2, 32), SPA_PARAM_BUFFERS_dataType,
			SPA_POD_CHOICE_FLAGS_Int(types));
	pw_stream_update_params(r->stream, params, 1);
}

static void write_frame(struct remote *r, struct spa_buffer *buf)
{
	struct spa_data *d = &buf->datas[0];
	uint32_t w = r->format.size.width, h = r->format.size.height;
	uint32_t stride = d->chunk->stride ? (uint32_t)d->chunk->stride : w * 4;
	uint8_t *map = NULL, *base = d->data;

	if (!base && d->type == SPA_DATA_DmaBuf) {
		map = mmap(NULL, d->maxsize + d->mapoffset, PROT_READ, MAP_SHARED, (int)d->fd, 0);
		if (map == MAP_FAILED)
			return;
		base = map + d->mapoffset;
	}
	if (!base || d->chunk->size == 0)
		goto out;
	for (uint32_t y = 0; y < h; y++)
		fwrite(base + d->chunk->offset + (size_t)y * stride, 1, (size_t)w * 4, r->out);
	if (r->frames == 0)
		printf("format %ux%u data=%s\n", w, h,
				d->type == SPA_DATA_DmaBuf ? "dmabuf"
				: d->type == SPA_DATA_MemFd ? "memfd" : "memptr");
	r->frames++;
out:
	if (map)
		munmap(map, d->maxsize + d->mapoffset);
}

static void on_process(void *data)
{
	struct remote *r = data;
	struct pw_buffer *b = pw_stream_dequeue_buffer(r->stream);

	if (!b)
		return;
	if (r->frames < r->frames_wanted)
		write_frame(r, b->buffer);
	pw_stream_queue_buffer(r->stream, b);
	if (r->frames >= r->frames_wanted)
		pw_main_loop_quit(r->main_loop);
}

static const struct pw_stream_events stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.param_changed = on_param_changed,
	.process = on_process,
};

/* BGRx only; without a modifier property it matches the SHM EnumFormat of the node. */
static const struct spa_pod *build_format(struct spa_pod_builder *b, bool modifier)
{
	struct spa_pod_frame f, c;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b, SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_format, SPA_POD_Id(SPA_VIDEO_FORMAT_BGRx),
			SPA_FORMAT_VIDEO_size,
			SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(1024, 768),
					&SPA_RECTANGLE(1, 1), &SPA_RECTANGLE(8192, 8192)),
			SPA_FORMAT_VIDEO_framerate,
			SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(60, 1), &SPA_FRACTION(0, 1),
					&SPA_FRACTION(1000, 1)), 0);
	if (modifier) {
		/* As OBS builds it: an enum whose first value is the default. 0 is LINEAR. */
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier,
				SPA_POD_PROP_FLAG_MANDATORY | SPA_POD_PROP_FLAG_DONT_FIXATE);
		spa_pod_builder_push_choice(b, &c, SPA_CHOICE_Enum, 0);
		spa_pod_builder_long(b, 0);
		spa_pod_builder_long(b, 0);
		spa_pod_builder_pop(b, &c);
	}
	return spa_pod_builder_pop(b, &f);
}

static int connect_stream(struct remote *r, uint32_t node)
{
	uint8_t buf[2048];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
	const struct spa_pod *params[2];
	uint32_t n = 0;

	r->stream = pw_stream_new(r->core, "portal-remote",
			pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY,
					"Capture", PW_KEY_MEDIA_ROLE, "Screen", NULL));
	if (!r->stream)
		return -errno;
	pw_stream_add_listener(r->stream, &r->stream_listener, &stream_events, r);
	if (r->modifier || r->any)
		params[n++] = build_format(&b, true);
	if (!r->modifier)
		params[n++] = build_format(&b, false);
	return pw_stream_connect(r->stream, PW_DIRECTION_INPUT, node,
			PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, n);
}

static void on_timeout(void *data, uint64_t expirations)
{
	struct remote *r = data;

	fprintf(stderr, "portal-remote: timeout after %d s (%u frames)\n", TIMEOUT_S, r->frames);
	r->status = 1;
	pw_main_loop_quit(r->main_loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"fd", required_argument, NULL, 'f'},
		{"list", no_argument, NULL, 'l'},
		{"node", required_argument, NULL, 'n'},
		{"frames", required_argument, NULL, 'k'},
		{"out", required_argument, NULL, 'o'},
		{"shm", no_argument, NULL, 's'},
		{"modifier", no_argument, NULL, 'M'},
		{"any", no_argument, NULL, 'a'},
		{"direct", no_argument, NULL, 'D'},
		{"destroy", required_argument, NULL, 'd'},
		{0},
	};
	struct remote r = {.frames_wanted = 10, .destroy_id = SPA_ID_INVALID};
	struct timespec timeout = {TIMEOUT_S, 0};
	struct spa_source *timer;
	const char *out = NULL;
	int fd = -1, c;
	bool direct = false;
	uint32_t node = SPA_ID_INVALID;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fd = atoi(optarg); break;
		case 'l': r.listing = true; break;
		case 'n': node = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'k': r.frames_wanted = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 's': r.shm = true; break;
		case 'M': r.modifier = true; break;
		case 'a': r.any = true; break;
		case 'D': direct = true; break;
		case 'd':
			r.destroy_id = (uint32_t)strtoul(optarg, NULL, 10);
			r.listing = true;
			break;
		default: return 2;
		}
	}
	if ((fd < 0 && !direct) || (!r.listing && (node == SPA_ID_INVALID || !out))) {
		fprintf(stderr, "usage: portal-remote (--fd N | --direct) (--list | --node ID "
				"--frames K --out FILE [--shm | --modifier | --any])\n");
		return 2;
	}
	pw_init(&argc, &argv);
	r.main_loop = pw_main_loop_new(NULL);
	r.context = pw_context_new(pw_main_loop_get_loop(r.main_loop), NULL, 0);
	/* fd now owned by the core */
	r.core = direct ? pw_context_connect(r.context, NULL, 0)
			: pw_context_connect_fd(r.context, fd, NULL, 0);
	if (!r.core) {
		fprintf(stderr, "portal-remote: connect: %m\n");
		return 1;
	}
	pw_core_add_listener(r.core, &r.core_listener, &core_events, &r);
	timer = pw_loop_add_timer(pw_main_loop_get_loop(r.main_loop), on_timeout, &r);
	pw_loop_update_timer(pw_main_loop_get_loop(r.main_loop), timer, &timeout, NULL, false);
	if (r.listing) {
		r.registry = pw_core_get_registry(r.core, PW_VERSION_REGISTRY, 0);
		if (r.destroy_id != SPA_ID_INVALID)
			pw_registry_destroy(r.registry, r.destroy_id);
		else
			pw_registry_add_listener(r.registry, &r.registry_listener, &registry_events,
					&r);
		r.sync_seq = pw_core_sync(r.core, PW_ID_CORE, 0);
	} else {
		r.out = fopen(out, "w");
		if (!r.out || connect_stream(&r, node) < 0) {
			fprintf(stderr, "portal-remote: cannot capture node %u: %m\n", node);
			return 1;
		}
	}
	pw_main_loop_run(r.main_loop);
	if (!r.listing && r.frames < r.frames_wanted)
		r.status = 1;
	if (r.out)
		fclose(r.out);
	if (r.stream)
		pw_stream_destroy(r.stream);
	if (r.registry)
		pw_proxy_destroy((struct pw_proxy *)r.registry);
	pw_core_disconnect(r.core);
	pw_context_destroy(r.context);
	pw_main_loop_destroy(r.main_loop);
	pw_deinit();
	return r.status;
}
