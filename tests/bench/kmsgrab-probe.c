/* SPDX-License-Identifier: MIT */
/*
 * kmsgrab-probe.so: LD_PRELOADed into `ffmpeg -f kmsgrab` by the benchmark, to learn which
 * scanout FB each grabbed frame was without downloading any pixels.
 *
 * ffmpeg 5.1's kmsgrab reads each frame by calling drmModeGetPlane() on its plane, then
 * exports that plane's FB (GETFB2 + PRIME). It never waits for a flip: it samples at
 * -framerate on its own clock. This probe wraps drmModeGetPlane(), which libavdevice calls
 * through libdrm's dynamic symbol, and records CLOCK_MONOTONIC and the FB id of every call
 * in memory. The benchmark maps (time, FB) to the producer's flip log: the frame grabbed is
 * the last flip at or before the call whose FB is that id. Cost: one clock_gettime per frame.
 *
 * Measurement window, as pw-min-consumer's: after KMSCAST_PROBE_WARMUP grabs the probe
 * samples its own process's CPU (utime+stime ticks, the threads' run time in ns and their
 * voluntary context switches, i.e. wake-ups), and again after KMSCAST_PROBE_FRAMES more.
 * With KMSCAST_PROBE_PERF_CTL, a perf stat control FIFO, it writes "enable" there after the
 * first sample and "disable" before the second, so that perf counts ffmpeg's system calls
 * over the window and not the probe's own reads of /proc. At exit it writes to
 * KMSCAST_PROBE_LOG:
 *
 *   grab t_ns=<t> fb=<id>
 *   window start_ns=<t> end_ns=<t> buffers=<n> complete=<0|1>
 *   watch pid=<self> name=ffmpeg ticks=<d> run_ns=<d> wakeups=<d> hwm_kb=<VmHWM>
 *       rss_kb=<VmRSS>
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xf86drmMode.h>

#define MAX_GRABS (1u << 20)

struct grab {
	uint64_t t_ns;
	uint32_t fb_id;
};

struct cpu_sample {
	unsigned long long ticks, run_ns, wakeups;
};

static struct {
	drmModePlanePtr (*real_get_plane)(int, uint32_t);
	struct grab *grabs;
	uint64_t n, warmup, frames;
	uint64_t start_ns, end_ns;
	struct cpu_sample start, end;
	bool started, ended;
} probe;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sample_self(struct cpu_sample *out)
{
	char path[96], buf[1024];
	unsigned long long ut, st, ns, a, b;
	FILE *f;
	DIR *d;

	*out = (struct cpu_sample){0};
	if ((f = fopen("/proc/self/stat", "re"))) {
		char *p;

		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
				sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
						&ut, &st) == 2)
			out->ticks = ut + st;
		fclose(f);
	}
	if (!(d = opendir("/proc/self/task")))
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/schedstat", e->d_name);
		if ((f = fopen(path, "re"))) {
			if (fscanf(f, "%llu %llu %llu", &ns, &a, &b) == 3)
				out->run_ns += ns;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/status", e->d_name);
		if ((f = fopen(path, "re"))) {
			while (fgets(buf, sizeof(buf), f))
				if (sscanf(buf, "voluntary_ctxt_switches: %llu", &a) == 1) {
					out->wakeups += a;
					break;
				}
			fclose(f);
		}
	}
	closedir(d);
}

__attribute__((constructor)) static void probe_init(void)
{
	const char *w = getenv("KMSCAST_PROBE_WARMUP"), *n = getenv("KMSCAST_PROBE_FRAMES");

	probe.real_get_plane = (drmModePlanePtr(*)(int, uint32_t))dlsym(RTLD_NEXT,
			"drmModeGetPlane");
	probe.grabs = calloc(MAX_GRABS, sizeof(*probe.grabs));
	probe.warmup = w ? strtoull(w, NULL, 10) : 0;
	probe.frames = n ? strtoull(n, NULL, 10) : 0;
}

/* Overrides libdrm's drmModeGetPlane for the whole process. */
/* Writes CMD to the perf control FIFO, when the benchmark gave one. */
static void perf_ctl(const char *cmd)
{
	const char *path = getenv("KMSCAST_PROBE_PERF_CTL");
	int fd;

	/* read-write: opening a FIFO so never waits for its reader */
	if (!path || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return;
	if (write(fd, cmd, strlen(cmd)) < 0)
		fprintf(stderr, "kmsgrab-probe: %s: %m\n", path);
	close(fd);
}

drmModePlanePtr drmModeGetPlane(int fd, uint32_t plane_id)
{
	drmModePlanePtr plane = probe.real_get_plane ? probe.real_get_plane(fd, plane_id) : NULL;
	uint64_t t = now_ns();

	if (plane && probe.grabs && probe.n < MAX_GRABS) {
		probe.grabs[probe.n++] = (struct grab){.t_ns = t, .fb_id = plane->fb_id};
		if (!probe.started && probe.n > probe.warmup) {
			probe.started = true;
			probe.start_ns = t;
			sample_self(&probe.start);
			perf_ctl("enable\n");
		} else if (probe.started && !probe.ended && probe.frames &&
				probe.n - probe.warmup > probe.frames) {
			probe.ended = true;
			probe.end_ns = t;
			perf_ctl("disable\n");
			sample_self(&probe.end);
		}
	}
	return plane;
}

static unsigned long long status_kb(const char *key)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			kb = strtoull(line + strlen(key), NULL, 10);
	fclose(f);
	return kb;
}

__attribute__((destructor)) static void probe_finish(void)
{
	const char *path = getenv("KMSCAST_PROBE_LOG");
	FILE *f;

	/* Only the process that grabbed writes: a wrapper (timeout, env) inherits the preload. */
	if (!path || !probe.grabs || probe.n == 0 || !(f = fopen(path, "we")))
		return;
	/* kmsgrab asks for the plane once while probing the stream: that is no frame. */
	for (uint64_t i = 0; i < probe.n; i++)
		fprintf(f, "grab t_ns=%" PRIu64 " fb=%u\n", probe.grabs[i].t_ns,
				probe.grabs[i].fb_id);
	fprintf(f, "window start_ns=%" PRIu64 " end_ns=%" PRIu64 " buffers=%" PRIu64
			" complete=%d\n",
			probe.start_ns, probe.end_ns, probe.ended ? probe.frames : 0, probe.ended);
	fprintf(f, "watch pid=%d name=ffmpeg ticks=%llu run_ns=%llu wakeups=%llu hwm_kb=%llu "
		   "rss_kb=%llu\n",
			(int)getpid(), probe.end.ticks - probe.start.ticks,
			probe.end.run_ns - probe.start.run_ns,
			probe.end.wakeups - probe.start.wakeups, status_kb("VmHWM:"),
			status_kb("VmRSS:"));
	fclose(f);
}
