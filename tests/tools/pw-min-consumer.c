/* SPDX-License-Identifier: MIT */
/*
 * pw-min-consumer: the lightest PipeWire video consumer the benchmark and the soak can put
 * on a kmscast node. It receives each buffer and gives it straight back without touching
 * the pixels, and records per buffer, in memory (nothing is written while streaming):
 *
 *   buf t_ns=<CLOCK_MONOTONIC at receipt> id=<buffer id> seq=<header seq> pts=<header pts>
 *       flags=0x<header flags> size=<chunk size> frame=<decoded frame or -1>
 *
 * Frame identity. The benchmark needs to know which producer frame each buffer carried,
 * to count frames delivered, duplicated and lost. The buffer id says nothing (slots alias
 * FBs, and FBs are reused every n frames) and the header pts is the node's own claim. So
 * with --decode the consumer reads the frame number from the test pattern (pattern.h): the
 * buffer is mmapped once when it is added and pattern_decode() samples three cells per
 * column along the centre row of three bands, about 300 pixels of a frame, under
 * DMA_BUF_IOCTL_SYNC. That is independent of the node, and cheap enough not to change the
 * consumer's timing. Without --decode, frame=-1 and the analysis maps the header pts to the
 * producer's flip log instead.
 *
 * Measurement window: after --warmup buffers the window opens, and after --frames more it
 * closes and the consumer exits. At both edges it samples each --watch PID (utime+stime
 * ticks, the summed sum_exec_runtime ns of its threads, and their summed voluntary context
 * switches: each is a sleep the thread woke from, so a wake-up) and at the end its VmHWM:
 *
 *   window start_ns=<t> end_ns=<t> buffers=<n>
 *   watch pid=<p> name=<comm> ticks=<delta> run_ns=<delta> wakeups=<delta> hwm_kb=<VmHWM>
 *       rss_kb=<VmRSS>
 *   consumer format=<fmt> size=<W>x<H> modifier=0x<m> data=dmabuf|memfd|memptr buffers=<n>
 *
 * --no-dmabuf offers formats without a modifier and only MemFd/MemPtr buffers: kmscast's
 * SHM copy path. --duration SEC makes it run for a time instead (the soak's flapping
 * consumer), and SIGINT/SIGTERM end it early with the log written. Two hooks make link races
 * likely (t-node-relink.sh): --slow-buffers MS sleeps that long per buffer added, and
 * --leave-at-format N leaves when the Nth format arrives, i.e. during a renegotiation.
 *
 * --perf-ctl FIFO: writes "enable" to FIFO when the window opens and "disable" when it
 * closes, for a `perf stat --delay=-1 --control fifo:FIFO` counting the watched processes'
 * system calls over the same window (tests/bench/guest-bench.sh). --prop KEY=VALUE sets a
 * property of the stream's node (graph settings such as node.lock-quantum; up to 8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/dma-buf.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <pipewire/pipewire.h>
#include <spa/debug/types.h>
#include <spa/param/buffers.h>
#include <spa/buffer/meta.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/video/type-info.h>
#include <spa/pod/builder.h>
#include <spa/utils/result.h>

#include "pattern.h"

/* Bounds on what the command line asks for, so the record array is allocated once. */
#define MAX_RECORDS (1u << 20)
#define MAX_WATCH 8
#define MAX_PROPS 8
#define MAX_MAPS 64
#define NSEC_PER_SEC 1000000000ull

struct record {
	uint64_t t_ns;
	int64_t pts;
	uint64_t seq;
	uint32_t id;
	uint32_t flags;
	uint32_t size;
	int32_t frame;
};

struct cpu_sample {
	uint64_t ticks;
	uint64_t run_ns;
	uint64_t wakeups;
};

struct watch {
	pid_t pid;
	struct cpu_sample start, end;
};

/* A buffer's pixels, mapped once when PipeWire adds the buffer (only with --decode). */
struct mapping {
	bool used; /* a pw_buffer holds this entry (its user_data is the index + 1) */
	void *base; /* MAP_FAILED when not mapped by us */
	size_t len;
	int fd; /* borrowed from the pw_buffer, for DMA_BUF_IOCTL_SYNC; -1 for SHM */
};

struct consumer {
	struct pw_main_loop *loop;
	struct pw_stream *stream;
	struct spa_hook stream_listener;
	struct spa_video_info_raw format;
	uint32_t fourcc;
	bool have_format;
	uint32_t data_type;
	uint32_t n_buffers, max_buffers;
	/*
	 * PipeWire 0.3.65's stream emits remove_buffer and param_changed on the main thread
	 * while the data thread may be decoding (a renegotiation the node starts while
	 * streaming): maps[] and format are only touched under this lock.
	 */
	pthread_mutex_t lock;
	struct mapping maps[MAX_MAPS];
	/*
	 * Why buffers were not decoded: the first of each reason after a format is said on
	 * stderr, so that a run of undecoded frames in a log can be told from a lost one.
	 */
	uint32_t undecoded_said;

	/* options */
	uint32_t target;
	uint64_t warmup, frames, duration_s;
	bool decode, no_dmabuf;
	/* test hooks for link races (t-node-relink.sh) */
	uint32_t leave_at_format, n_formats, slow_buffers_ms;
	const char *log_path;
	struct watch watch[MAX_WATCH];
	uint32_t n_watch;
	char *props[MAX_PROPS]; /* --prop KEY=VALUE, into argv */
	uint32_t n_props;
	int perf_ctl; /* --perf-ctl's FIFO, -1 without */

	/* streaming state, touched by the data thread only until it stops */
	struct record *records;
	uint64_t n_records, n_seen;
	uint64_t window_start_ns, window_end_ns, window_buffers;
	bool window_open, window_done;
	uint64_t stop_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The voluntary context switches of one thread (/proc/PID/task/TID/status). */
static uint64_t thread_wakeups(pid_t pid, const char *tid)
{
	char path[80], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", pid, tid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* utime+stime (ticks) of PID, and the sums of its threads' run time in ns and wake-ups. */
static void sample_cpu(pid_t pid, struct cpu_sample *out)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0, ns, a, b;
	FILE *f;

	*out = (struct cpu_sample){0};
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			/* fields 14 and 15: utime, stime; 11 fields follow the state */
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
					 &ut, &st) == 2)
				out->ticks = ut + st;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		if (fscanf(f, "%llu %llu %llu", &ns, &a, &b) == 3)
			out->run_ns += ns;
		fclose(f);
		out->wakeups += thread_wakeups(pid, e->d_name);
	}
	closedir(d);
}

/* The value of KEY (e.g. "VmHWM:") in /proc/PID/status, and the Name into comm[32]. */
static void status_kb(pid_t pid, const char *key, char comm[32], uint64_t *kb)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	*kb = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (comm && !strncmp(line, "Name:", 5))
			sscanf(line + 5, " %31s", comm);
		if (!strncmp(line, key, klen))
			*kb = strtoull(line + klen, NULL, 10);
	}
	fclose(f);
}

static uint32_t spa_to_fourcc(uint32_t spa_format)
{
	switch (spa_format) {
	case SPA_VIDEO_FORMAT_BGRx: return DRM_FORMAT_XRGB8888;
	case SPA_VIDEO_FORMAT_BGRA: return DRM_FORMAT_ARGB8888;
	case SPA_VIDEO_FORMAT_RGBx: return DRM_FORMAT_XBGR8888;
	case SPA_VIDEO_FORMAT_RGBA: return DRM_FORMAT_ABGR8888;
	case SPA_VIDEO_FORMAT_RGB16: return DRM_FORMAT_RGB565;
	default: return 0;
	}
}

static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = {.flags = flags | DMA_BUF_SYNC_READ};

	if (fd >= 0)
		while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && errno == EINTR)
			;
}

enum undecoded {
	UNDECODED_NO_FORMAT = 1u << 0,
	UNDECODED_NOT_MAPPED = 1u << 1,
	UNDECODED_OUTSIDE = 1u << 2,
	UNDECODED_PATTERN = 1u << 3,
};

static int32_t undecoded(struct consumer *c, struct pw_buffer *b, enum undecoded why,
			 const char *detail)
{
	const struct spa_data *d = &b->buffer->datas[0];

	if (!(c->undecoded_said & why)) {
		/* A dma-buf's size: one that is not the format's says the fd is another buffer. */
		off_t fd_size = d->type == SPA_DATA_DmaBuf && d->fd >= 0
					? lseek((int)d->fd, 0, SEEK_END) : -1;

		c->undecoded_said |= why;
		fprintf(stderr,
			"pw-min-consumer: t_ns=%" PRIu64 " a buffer not decoded: %s (entry %u, "
			"type %u, fd size %lld, maxsize %u, mapoffset %u, chunk offset %u size %u "
			"stride %d, format %ux%u fourcc 0x%08x)\n",
			now_ns(), detail, (unsigned)(uintptr_t)b->user_data, d->type,
			(long long)fd_size, d->maxsize, d->mapoffset,
			d->chunk ? d->chunk->offset : 0, d->chunk ? d->chunk->size : 0,
			d->chunk ? d->chunk->stride : 0, c->format.size.width, c->format.size.height,
			c->fourcc);
	}
	return -1;
}

static int32_t decode_locked(struct consumer *c, struct pw_buffer *b)
{
	struct spa_data *d = &b->buffer->datas[0];
	struct pattern_result res;
	const uint8_t *pixels;
	size_t len, need;
	struct mapping *m = NULL;
	int32_t frame = -1;

	if (!c->fourcc || !d->chunk || d->chunk->size == 0 || d->chunk->stride <= 0)
		return undecoded(c, b, UNDECODED_NO_FORMAT, "no format, or an empty chunk");
	if (d->type == SPA_DATA_DmaBuf) {
		uintptr_t i = (uintptr_t)b->user_data;

		if (i == 0 || i > MAX_MAPS || c->maps[i - 1].base == MAP_FAILED)
			return undecoded(c, b, UNDECODED_NOT_MAPPED, "not mapped");
		m = &c->maps[i - 1];
		pixels = m->base;
		len = m->len;
	} else {
		if (!d->data)
			return undecoded(c, b, UNDECODED_NOT_MAPPED, "not mapped by PipeWire");
		pixels = d->data;
		len = d->maxsize;
	}
	/* A chunk that does not fit its buffer (a format change in flight) is not decoded. */
	need = (size_t)d->chunk->offset + (size_t)d->chunk->stride * c->format.size.height;
	if (need > len)
		return undecoded(c, b, UNDECODED_OUTSIDE, "the chunk is larger than the mapping");
	pixels += d->chunk->offset;
	if (m)
		dmabuf_sync(m->fd, DMA_BUF_SYNC_START);
	if (pattern_decode(pixels, c->format.size.width, c->format.size.height,
			    (uint32_t)d->chunk->stride, c->fourcc, &res) == 0)
		frame = (int32_t)res.frame;
	if (m)
		dmabuf_sync(m->fd, DMA_BUF_SYNC_END);
	if (frame < 0)
		return undecoded(c, b, UNDECODED_PATTERN, res.reason ? res.reason : "no pattern");
	return frame;
}

static int32_t decode_frame(struct consumer *c, struct pw_buffer *b)
{
	int32_t frame;

	pthread_mutex_lock(&c->lock);
	frame = decode_locked(c, b);
	pthread_mutex_unlock(&c->lock);
	return frame;
}

static void window_edge(struct consumer *c, bool start, uint64_t t)
{
	static const char enable[] = "enable\n", disable[] = "disable\n";

	/* perf first at the start and last at the end: its window holds the CPU samples' */
	if (start && c->perf_ctl >= 0 && write(c->perf_ctl, enable, strlen(enable)) < 0)
		fprintf(stderr, "pw-min-consumer: --perf-ctl: %m\n");
	for (uint32_t i = 0; i < c->n_watch; i++)
		sample_cpu(c->watch[i].pid, start ? &c->watch[i].start : &c->watch[i].end);
	if (!start && c->perf_ctl >= 0 && write(c->perf_ctl, disable, strlen(disable)) < 0)
		fprintf(stderr, "pw-min-consumer: --perf-ctl: %m\n");
	if (start) {
		c->window_open = true;
		c->window_start_ns = t;
	} else {
		c->window_done = true;
		c->window_end_ns = t;
	}
}

static void on_process(void *data)
{
	struct consumer *c = data;
	struct pw_buffer *b;

	while ((b = pw_stream_dequeue_buffer(c->stream))) {
		struct spa_buffer *buf = b->buffer;
		struct spa_meta_header *h =
			spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));
		uint64_t t = now_ns();
		struct record *r;

		if (c->n_records < MAX_RECORDS && !c->window_done) {
			r = &c->records[c->n_records++];
			*r = (struct record){
				.t_ns = t,
				.pts = h ? h->pts : -1,
				.seq = h ? h->seq : 0,
				.id = (uint32_t)((uintptr_t)b->user_data),
				.flags = h ? h->flags : 0,
				.size = buf->datas[0].chunk ? buf->datas[0].chunk->size : 0,
				.frame = c->decode ? decode_frame(c, b) : -1,
			};
		}
		pw_stream_queue_buffer(c->stream, b);
		c->n_seen++;
		if (c->window_open && !c->window_done)
			c->window_buffers++;
		if (!c->window_open && c->n_seen >= c->warmup)
			window_edge(c, true, t);
		else if (c->window_open && !c->window_done && c->frames &&
				c->window_buffers >= c->frames)
			window_edge(c, false, t);
		if (c->window_done || (c->stop_ns && t >= c->stop_ns)) {
			pw_main_loop_quit(c->loop);
			break;
		}
	}
}

static void on_add_buffer(void *data, struct pw_buffer *b)
{
	struct consumer *c = data;
	struct spa_data *d = &b->buffer->datas[0];
	uint32_t i;

	pthread_mutex_lock(&c->lock);
	c->n_buffers++;
	c->max_buffers = SPA_MAX(c->max_buffers, c->n_buffers);
	c->data_type = d->type;
	/*
	 * A free entry, not the count of buffers: an entry another buffer still holds would be
	 * unmapped under this one when that buffer goes.
	 */
	for (i = 0; i < MAX_MAPS && c->maps[i].used; i++)
		;
	if (i == MAX_MAPS) {
		/* user_data 0: never decoded (more buffers than MAX_MAPS at once) */
		b->user_data = NULL;
		pthread_mutex_unlock(&c->lock);
		fprintf(stderr, "pw-min-consumer: more than %u buffers (not decoded)\n", MAX_MAPS);
		return;
	}
	/* user_data is the entry's index + 1; 0 means "no entry" */
	b->user_data = (void *)(uintptr_t)(i + 1);
	c->maps[i] = (struct mapping){.used = true, .base = MAP_FAILED, .fd = -1};
	if (c->decode && d->type == SPA_DATA_DmaBuf && d->fd >= 0) {
		/* maxsize is the plane's size; pages are only faulted in for the sampled rows. */
		c->maps[i].len = d->maxsize + d->mapoffset;
		c->maps[i].base = mmap(NULL, c->maps[i].len, PROT_READ, MAP_SHARED, (int)d->fd, 0);
		c->maps[i].fd = (int)d->fd; /* fd still owned by the pw_buffer */
		if (c->maps[i].base == MAP_FAILED)
			fprintf(stderr, "pw-min-consumer: mmap dma-buf: %m (frames not decoded)\n");
	}
	pthread_mutex_unlock(&c->lock);
	/* An application importing each buffer (into GL, say) keeps its link allocating. */
	if (c->slow_buffers_ms)
		usleep(c->slow_buffers_ms * 1000u);
}

static void on_remove_buffer(void *data, struct pw_buffer *b)
{
	struct consumer *c = data;
	uintptr_t i = (uintptr_t)b->user_data;

	pthread_mutex_lock(&c->lock);
	c->n_buffers--;
	if (i >= 1 && i <= MAX_MAPS) {
		if (c->maps[i - 1].base != MAP_FAILED)
			munmap(c->maps[i - 1].base, c->maps[i - 1].len);
		c->maps[i - 1] = (struct mapping){.used = false, .base = MAP_FAILED, .fd = -1};
	}
	b->user_data = NULL;
	pthread_mutex_unlock(&c->lock);
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct consumer *c = data;
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[2];
	uint32_t media_type, media_subtype, types;

	if (!param || id != SPA_PARAM_Format)
		return;
	if (spa_format_parse(param, &media_type, &media_subtype) < 0 ||
			media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw)
		return;
	pthread_mutex_lock(&c->lock);
	spa_zero(c->format);
	spa_format_video_raw_parse(param, &c->format);
	c->fourcc = spa_to_fourcc(c->format.format);
	c->have_format = true;
	c->undecoded_said = 0;
	pthread_mutex_unlock(&c->lock);
	fprintf(stderr, "pw-min-consumer: t_ns=%" PRIu64 " format %ux%u\n", now_ns(),
			c->format.size.width, c->format.size.height);
	/* Leaving when a format comes again leaves in the middle of a renegotiation. */
	if (c->leave_at_format && ++c->n_formats == c->leave_at_format) {
		fprintf(stderr, "pw-min-consumer: t_ns=%" PRIu64 " leaving at format %u\n",
				now_ns(), c->n_formats);
		pw_main_loop_quit(c->loop);
	}
	/* A modifier means the dma-buf path; without one, shared memory only. */
	types = (c->format.flags & SPA_VIDEO_FLAG_MODIFIER) ? 1u << SPA_DATA_DmaBuf
							    : (1u << SPA_DATA_MemFd) |
								      (1u << SPA_DATA_MemPtr);
	params[0] = spa_pod_builder_add_object(&b,
			SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
			SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(8, 2, 32),
			SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(types));
	params[1] = spa_pod_builder_add_object(&b,
			SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
			SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
			SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
	pw_stream_update_params(c->stream, params, 2);
}

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state,
		const char *error)
{
	struct consumer *c = data;

	/* Timed, so that a silence in the log can be matched with the stream's states. */
	fprintf(stderr, "pw-min-consumer: t_ns=%" PRIu64 " %s -> %s%s%s\n", now_ns(),
			pw_stream_state_as_string(old), pw_stream_state_as_string(state),
			error ? ": " : "", error ? error : "");
	/* A stream that was up and went down (node gone, PipeWire restarted) is over: the
	 * caller reconnects with a fresh consumer, as an application would. */
	if (state == PW_STREAM_STATE_ERROR ||
			(state == PW_STREAM_STATE_UNCONNECTED && old != PW_STREAM_STATE_UNCONNECTED))
		pw_main_loop_quit(c->loop);
}

static const struct pw_stream_events stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = on_state_changed,
	.param_changed = on_param_changed,
	.add_buffer = on_add_buffer,
	.remove_buffer = on_remove_buffer,
	.process = on_process,
};

/* One EnumFormat: 32-bit RGB formats, any size and rate, with or without modifiers. */
static const struct spa_pod *build_format(struct spa_pod_builder *b, bool dmabuf)
{
	struct spa_pod_frame f[2];

	spa_pod_builder_push_object(b, &f[0], SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b, SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			SPA_FORMAT_VIDEO_format,
			SPA_POD_CHOICE_ENUM_Id(5, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx,
					SPA_VIDEO_FORMAT_BGRA, SPA_VIDEO_FORMAT_RGBx,
					SPA_VIDEO_FORMAT_RGBA),
			SPA_FORMAT_VIDEO_size,
			SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(1920, 1080),
					&SPA_RECTANGLE(1, 1), &SPA_RECTANGLE(16384, 16384)),
			SPA_FORMAT_VIDEO_framerate,
			SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(60, 1), &SPA_FRACTION(0, 1),
					&SPA_FRACTION(1000, 1)),
			0);
	if (dmabuf) {
		/* As gst pipewiresrc 1.22 offers: implicit and linear, the node picks. */
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier,
				SPA_POD_PROP_FLAG_MANDATORY | SPA_POD_PROP_FLAG_DONT_FIXATE);
		spa_pod_builder_push_choice(b, &f[1], SPA_CHOICE_Enum, 0);
		spa_pod_builder_long(b, (int64_t)DRM_FORMAT_MOD_INVALID);
		spa_pod_builder_long(b, (int64_t)DRM_FORMAT_MOD_INVALID);
		spa_pod_builder_long(b, (int64_t)DRM_FORMAT_MOD_LINEAR);
		spa_pod_builder_pop(b, &f[1]);
	}
	return spa_pod_builder_pop(b, &f[0]);
}

static const char *data_type_name(uint32_t t)
{
	switch (t) {
	case SPA_DATA_DmaBuf: return "dmabuf";
	case SPA_DATA_MemFd: return "memfd";
	case SPA_DATA_MemPtr: return "memptr";
	default: return "none";
	}
}

static int write_log(struct consumer *c)
{
	FILE *f = c->log_path ? fopen(c->log_path, "we") : stdout;

	if (!f) {
		fprintf(stderr, "pw-min-consumer: %s: %m\n", c->log_path);
		return -errno;
	}
	fprintf(f, "consumer format=%s size=%ux%u modifier=0x%" PRIx64 " data=%s buffers=%u\n",
			spa_debug_type_find_short_name(spa_type_video_format, c->format.format),
			c->format.size.width, c->format.size.height, c->format.modifier,
			data_type_name(c->data_type), c->max_buffers);
	for (uint64_t i = 0; i < c->n_records; i++) {
		const struct record *r = &c->records[i];

		fprintf(f, "buf t_ns=%" PRIu64 " id=%u seq=%" PRIu64 " pts=%" PRId64
				" flags=0x%x size=%u frame=%d\n",
				r->t_ns, r->id ? r->id - 1 : 0, r->seq, r->pts, r->flags, r->size,
				r->frame);
	}
	fprintf(f, "window start_ns=%" PRIu64 " end_ns=%" PRIu64 " buffers=%" PRIu64
			" complete=%d\n",
			c->window_start_ns, c->window_end_ns, c->window_buffers, c->window_done);
	for (uint32_t i = 0; i < c->n_watch; i++) {
		struct watch *w = &c->watch[i];
		char comm[32] = "?";
		uint64_t hwm, rss;

		status_kb(w->pid, "VmHWM:", comm, &hwm);
		status_kb(w->pid, "VmRSS:", NULL, &rss);
		fprintf(f, "watch pid=%d name=%s ticks=%" PRIu64 " run_ns=%" PRIu64
				" wakeups=%" PRIu64 " hwm_kb=%" PRIu64 " rss_kb=%" PRIu64 "\n",
				w->pid, comm, w->end.ticks - w->start.ticks,
				w->end.run_ns - w->start.run_ns, w->end.wakeups - w->start.wakeups,
				hwm, rss);
	}
	if (f != stdout)
		fclose(f);
	return 0;
}

static void on_signal(void *data, int signo)
{
	struct consumer *c = data;

	pw_main_loop_quit(c->loop);
}

/* --duration: also ends a consumer that never got a buffer. */
static void on_timeout(void *data, uint64_t expirations)
{
	struct consumer *c = data;

	pw_main_loop_quit(c->loop);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pw-min-consumer --target NODE_ID [--frames N] [--warmup K]\n"
		   "         [--duration SEC] [--decode] [--no-dmabuf] [--watch PID]...\n"
		   "         [--log FILE] [--leave-at-format N] [--slow-buffers MS]\n"
		   "         [--perf-ctl FIFO] [--prop KEY=VALUE]...\n");
}

static int parse_args(struct consumer *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"frames", required_argument, NULL, 'n'},
		{"warmup", required_argument, NULL, 'w'},
		{"duration", required_argument, NULL, 'd'},
		{"decode", no_argument, NULL, 'D'},
		{"no-dmabuf", no_argument, NULL, 'S'},
		{"watch", required_argument, NULL, 'p'},
		{"log", required_argument, NULL, 'l'},
		{"leave-at-format", required_argument, NULL, 'F'},
		{"slow-buffers", required_argument, NULL, 'B'},
		{"perf-ctl", required_argument, NULL, 'P'},
		{"prop", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int o;

	c->target = PW_ID_ANY;
	c->perf_ctl = -1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': c->target = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'n': c->frames = strtoull(optarg, NULL, 10); break;
		case 'w': c->warmup = strtoull(optarg, NULL, 10); break;
		case 'd': c->duration_s = strtoull(optarg, NULL, 10); break;
		case 'D': c->decode = true; break;
		case 'S': c->no_dmabuf = true; break;
		case 'l': c->log_path = optarg; break;
		case 'F': c->leave_at_format = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'B': c->slow_buffers_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'P':
			/* read-write: opening a FIFO so never waits for its reader */
			c->perf_ctl = open(optarg, O_RDWR | O_CLOEXEC);
			if (c->perf_ctl < 0) {
				int err = errno;

				fprintf(stderr, "pw-min-consumer: --perf-ctl %s: %s\n", optarg,
						strerror(err));
				return -err;
			}
			break;
		case 'r':
			/* A stream property, as a graph setting a consumer can carry
			 * (node.lock-quantum, node.force-rate): tests/bench tries them. */
			if (!strchr(optarg, '=') || c->n_props == MAX_PROPS) {
				fprintf(stderr, "pw-min-consumer: --prop KEY=VALUE, at most %d\n",
						MAX_PROPS);
				return -EINVAL;
			}
			c->props[c->n_props++] = optarg;
			break;
		case 'p':
			if (c->n_watch == MAX_WATCH) {
				fprintf(stderr, "pw-min-consumer: more than %d --watch\n", MAX_WATCH);
				return -E2BIG;
			}
			c->watch[c->n_watch++].pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (c->frames > MAX_RECORDS - c->warmup) {
		fprintf(stderr, "pw-min-consumer: at most %u frames\n", MAX_RECORDS);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct consumer c = {0};
	uint8_t buffer[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof(buffer));
	const struct spa_pod *params[1];
	struct pw_properties *props;
	int res;

	if (parse_args(&c, argc, argv) < 0)
		return 2;
	c.records = calloc(MAX_RECORDS, sizeof(*c.records));
	if (!c.records)
		return 1;
	pthread_mutex_init(&c.lock, NULL);
	pw_init(&argc, &argv);
	c.loop = pw_main_loop_new(NULL);
	pw_loop_add_signal(pw_main_loop_get_loop(c.loop), SIGINT, on_signal, &c);
	pw_loop_add_signal(pw_main_loop_get_loop(c.loop), SIGTERM, on_signal, &c);
	props = pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
			PW_KEY_MEDIA_ROLE, "Screen", NULL);
	for (uint32_t i = 0; i < c.n_props; i++) {
		char *eq = strchr(c.props[i], '=');

		*eq = '\0';
		pw_properties_set(props, c.props[i], eq + 1);
	}
	c.stream = pw_stream_new_simple(pw_main_loop_get_loop(c.loop), "pw-min-consumer", props,
			&stream_events, &c);
	params[0] = build_format(&b, !c.no_dmabuf);
	/* RT_PROCESS: buffers are taken on the data thread, as a real-time consumer does. */
	res = pw_stream_connect(c.stream, PW_DIRECTION_INPUT, c.target,
			PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS |
					PW_STREAM_FLAG_RT_PROCESS,
			params, 1);
	if (res < 0) {
		fprintf(stderr, "pw-min-consumer: connect: %s\n", spa_strerror(res));
		return 1;
	}
	if (c.duration_s) {
		struct spa_source *timer = pw_loop_add_timer(pw_main_loop_get_loop(c.loop),
				on_timeout, &c);
		struct timespec ts = {.tv_sec = (time_t)c.duration_s};

		c.stop_ns = now_ns() + c.duration_s * NSEC_PER_SEC;
		pw_loop_update_timer(pw_main_loop_get_loop(c.loop), timer, &ts, NULL, false);
	}
	pw_main_loop_run(c.loop);
	pw_stream_disconnect(c.stream);
	res = write_log(&c);
	pw_stream_destroy(c.stream);
	pw_main_loop_destroy(c.loop);
	pw_deinit();
	free(c.records);
	if (c.perf_ctl >= 0)
		close(c.perf_ctl);
	pthread_mutex_destroy(&c.lock);
	if (res < 0)
		return 1;
	/* With --frames, an incomplete window is a failure the caller must see. */
	return c.frames && !c.window_done ? 3 : 0;
}
