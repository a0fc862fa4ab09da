/* SPDX-License-Identifier: MIT */
/*
 * Driver for the kmscast-helper vm tests (tests/vm/t-helper-*.sh); not a unit test itself.
 *
 *   test-helper-vmtool probe [--socket PATH]
 *       kmscast_probe(): what `kmscast --probe` prints.
 *   test-helper-vmtool export [--socket PATH] CARD CRTC primary|cursor
 *       one export; decodes the producer's pattern from the DMA-BUF and prints
 *       "fb=<id> frame=<k> crtc_index=<i>" (primary) or "fb=<id> cursor_index=<n>" (cursor),
 *       or "error=<-errno> reason=<text>" and exits 2 when the helper refused.
 *   test-helper-vmtool stress [--socket PATH] CARD CRTC N [respawn-ok]
 *       prints "hold1 pid=<helper pid> fds=<ours>", waits for a line on stdin, does N
 *       exports, prints "hold2 pid=<pid> fds=<ours> handles_min=<h> handles_max=<h>
 *       last_handles=<h> kept=<n> kept_handles=<h>,<h>,...", waits for a line on stdin
 *       again, exits. kept_handles are the handles the helper still keeps open for CHECK
 *       (those of the last export of each of the HELPER_MAX_KEPT_FBS FBs exported last; "-"
 *       for none), kept how many. Exits 1 if any export failed, our fd count changed, or
 *       (without respawn-ok) the helper changed.
 *   test-helper-vmtool onscreen CARD CRTC PRODUCER_LOG N
 *       N times: reads the fb of the producer's last "flip crtc=CRTC" line, exports, reads it
 *       again; when no completed flip raced the export, the exported fb must be that one or
 *       the next one in the producer's cycle (a flip already committed to the plane, whose
 *       completion the producer has not logged yet), never the third, offscreen one. Prints
 *       "onscreen samples=<race-free> shown=<n> pending=<n> distinct=<fbs>", exits 1 on a
 *       mismatch.
 *   test-helper-vmtool fnv-frames FILE WIDTH HEIGHT BPP
 *       FNV-1a 64 of each frame of a raw video file (rows of WIDTH * BPP bytes), one
 *       "0x<hex>" line per frame: the checksum `kmscast --probe` prints for that image.
 *   test-helper-vmtool gemclose PID HANDLE...        (as root)
 *       borrows each DRM fd of process PID with pidfd_getfd (same open file, so the same
 *       GEM handle table) and checks that GEM_CLOSE of every HANDLE fails with EINVAL. As a
 *       control it first mints a handle in that table with GETFB2 and closes it (must work).
 *   test-helper-vmtool refuse-uid HELPER UID         (as root)
 *       runs HELPER --fd 3 as UID (group kmscast) on a socketpair created by root; prints the
 *       helper's error.
 *   test-helper-vmtool conns SOCKET N
 *       opens N + 1 raw connections to SOCKET one after the other, each saying hello, and
 *       prints "conn <i> ok" for a hello reply or "conn <i> error=<-errno> reason=<text>" for
 *       an error record (else "conn <i> no-reply=<r>"); keeps the accepted ones open. Prints
 *       "hold accepted=<k>", waits for a line on stdin, closes the first accepted connection,
 *       prints "closed 1", opens one more (conn N + 2, printed the same way), prints "done",
 *       and exits 0: the script judges the transcript. Exits 1 only on a local failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "helper-client.h"
#include "pattern.h"
#include "probe.h"
#include "test-helper-util.h"

static struct helper_client_options options(int *argc, char ***argv)
{
	struct helper_client_options opts = {.mode = HELPER_MODE_SPAWN, .timeout_ms = 5000};
	if (*argc >= 2 && strcmp((*argv)[0], "--socket") == 0) {
		opts.mode = HELPER_MODE_SOCKET;
		opts.socket_path = (*argv)[1];
		*argc -= 2;
		*argv += 2;
	}
	return opts;
}

static struct helper_client *client_or_die(const struct helper_client_options *opts)
{
	struct helper_client *client = NULL;
	if (helper_client_create(opts, &client) < 0) {
		exit(1);
	}
	return client;
}

static int decode(const struct helper_fb *fb, enum kmscast_plane_kind kind)
{
	int fd = fb->fds[fb->plane_fd_index[0]];
	off_t size = lseek(fd, 0, SEEK_END);
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("mmap-error=%d\n", -errno);
		return 1;
	}
	const uint8_t *pixels = (const uint8_t *)map + fb->offsets[0];
	struct stat st;
	fstat(fd, &st);
	printf("fb=%u size=%ux%u modifier=0x%" PRIx64 " %s fds=%u handle=%u inode=%lu ", fb->fb_id,
		fb->width, fb->height, fb->modifier,
		fb->modifier_explicit ? "explicit" : "implicit", fb->n_fds,
		fb->helper_gem_handles[0], (unsigned long)st.st_ino);
	int r;
	if (kind == KMSCAST_PLANE_CURSOR) {
		uint32_t index = 0;
		r = pattern_decode_cursor(pixels, fb->width, fb->height, fb->pitches[0], &index);
		printf("cursor_index=%u\n", r == 0 ? index : 9999);
	} else {
		struct pattern_result res;
		r = pattern_decode(pixels, fb->width, fb->height, fb->pitches[0], fb->fourcc, &res);
		if (r == 0) {
			printf("frame=%u crtc_index=%u\n", res.frame, res.crtc_index);
		} else {
			printf("decode-error=%s\n", res.reason ? res.reason : "?");
		}
	}
	munmap(map, (size_t)size);
	return r == 0 ? 0 : 1;
}

static int cmd_export(int argc, char **argv)
{
	struct helper_client_options opts = options(&argc, &argv);
	if (argc != 3) {
		return 64;
	}
	enum kmscast_plane_kind kind =
		strcmp(argv[2], "cursor") == 0 ? KMSCAST_PLANE_CURSOR : KMSCAST_PLANE_PRIMARY;
	struct helper_client *client = client_or_die(&opts);
	struct helper_fb fb;
	int r = helper_client_export(client, argv[0], (uint32_t)atoi(argv[1]), kind, &fb);
	if (r < 0) {
		printf("error=%d reason=%s\n", r, helper_client_last_error(client));
		helper_client_destroy(client);
		return 2;
	}
	r = decode(&fb, kind);
	helper_fb_finish(&fb);
	helper_client_destroy(client);
	return r;
}

static void wait_line(void)
{
	char line[64];
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		return;
	}
}

/*
 * What the helper keeps for CHECK after a run of primary-plane exports on one connection: the
 * GEM handles of the last export of each FB id, for the HELPER_MAX_KEPT_FBS ids exported last
 * (helper/export.c replaces an id's entry, else evicts the least recently used).
 */
struct kept_model {
	uint32_t fb_id[HELPER_MAX_KEPT_FBS];
	uint32_t handles[HELPER_MAX_KEPT_FBS][HELPER_MAX_PLANES];
	uint64_t last_use[HELPER_MAX_KEPT_FBS];
	uint64_t clock;
};

static void kept_note(struct kept_model *m, const struct helper_fb *fb)
{
	size_t slot = 0;
	for (size_t i = 0; i < HELPER_MAX_KEPT_FBS; i++) {
		if (m->fb_id[i] == fb->fb_id) {
			slot = i;
			break;
		}
		slot = m->last_use[i] < m->last_use[slot] ? i : slot; /* free slots have 0 */
	}
	m->fb_id[slot] = fb->fb_id;
	memset(m->handles[slot], 0, sizeof(m->handles[slot]));
	for (uint32_t p = 0; p < fb->n_planes && p < HELPER_MAX_PLANES; p++) {
		m->handles[slot][p] = fb->helper_gem_handles[p];
	}
	m->last_use[slot] = ++m->clock;
}

/* Prints " kept=<n> kept_handles=<list>": the distinct kept handles. */
static void kept_print(const struct kept_model *m)
{
	uint32_t seen[HELPER_MAX_KEPT_FBS * HELPER_MAX_PLANES];
	size_t n = 0;
	for (size_t i = 0; i < HELPER_MAX_KEPT_FBS; i++) {
		for (size_t p = 0; p < HELPER_MAX_PLANES && m->fb_id[i] != 0; p++) {
			uint32_t h = m->handles[i][p];
			bool dup = h == 0;
			for (size_t j = 0; j < n && !dup; j++) {
				dup = seen[j] == h;
			}
			if (!dup) {
				seen[n++] = h;
			}
		}
	}
	printf(" kept=%zu kept_handles=", n);
	for (size_t j = 0; j < n; j++) {
		printf("%s%u", j ? "," : "", seen[j]);
	}
	printf("%s\n", n == 0 ? "-" : "");
}

static int cmd_stress(int argc, char **argv)
{
	struct helper_client_options opts = options(&argc, &argv);
	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "respawn-ok") == 0)) {
		return 64;
	}
	bool respawn_ok = argc == 4;
	struct helper_client *client = client_or_die(&opts);
	uint32_t crtc = (uint32_t)atoi(argv[1]);
	long n = atol(argv[2]);
	struct helper_fb fb;
	struct kept_model kept = {.clock = 0};
	if (helper_client_export(client, argv[0], crtc, KMSCAST_PLANE_PRIMARY, &fb) < 0) {
		printf("error %s\n", helper_client_last_error(client));
		return 1;
	}
	kept_note(&kept, &fb);
	helper_fb_finish(&fb);
	int pid = helper_client_helper_pid(client), kept_pid = pid;
	int fds_before = count_fds();
	printf("hold1 pid=%d fds=%d\n", pid, fds_before);
	wait_line();

	uint32_t hmin = UINT32_MAX, hmax = 0, last[HELPER_MAX_PLANES] = {0};
	for (long i = 0; i < n; i++) {
		int r = helper_client_export(client, argv[0], crtc, KMSCAST_PLANE_PRIMARY, &fb);
		if (r < 0) {
			printf("export %ld failed: %d %s\n", i, r,
				helper_client_last_error(client));
			return 1;
		}
		for (uint32_t p = 0; p < fb.n_planes; p++) {
			uint32_t h = fb.helper_gem_handles[p];
			hmin = h < hmin ? h : hmin;
			hmax = h > hmax ? h : hmax;
			last[p] = h;
		}
		if (helper_client_helper_pid(client) != kept_pid) {
			/* A new helper (respawn-ok) keeps nothing of the old one's. */
			memset(&kept, 0, sizeof(kept));
			kept_pid = helper_client_helper_pid(client);
		}
		kept_note(&kept, &fb);
		helper_fb_finish(&fb);
	}
	int fds_after = count_fds();
	printf("hold2 pid=%d fds=%d handles_min=%u handles_max=%u last_handles=%u",
		helper_client_helper_pid(client), fds_after, hmin, hmax, last[0]);
	kept_print(&kept);
	wait_line();
	int ok = fds_after == fds_before && (respawn_ok || helper_client_helper_pid(client) == pid);
	helper_client_destroy(client);
	return ok ? 0 : 1;
}

/* fb id of the last "<what> crtc=<crtc> " line of the producer log, 0 if none; with cycle,
 * also collects the fb ids of all such lines (fb-create: the flip order). */
static uint32_t log_fbs(
	const char *log, const char *what, uint32_t crtc, uint32_t *cycle, int *n_cycle)
{
	FILE *f = fopen(log, "re");
	if (f == NULL) {
		return 0;
	}
	char line[512], prefix[48];
	snprintf(prefix, sizeof(prefix), "%s crtc=%u ", what, crtc);
	uint32_t fb = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, " fb=");
		if (strncmp(line, prefix, strlen(prefix)) == 0 && p != NULL) {
			fb = (uint32_t)strtoul(p + 4, NULL, 10);
			if (cycle != NULL && *n_cycle < 16) {
				cycle[(*n_cycle)++] = fb;
			}
		}
	}
	fclose(f);
	return fb;
}

static uint32_t last_flip_fb(const char *log, uint32_t crtc)
{
	return log_fbs(log, "flip", crtc, NULL, NULL);
}

static uint32_t next_in_cycle(const uint32_t *cycle, int n, uint32_t fb)
{
	for (int i = 0; i < n; i++) {
		if (cycle[i] == fb) {
			return cycle[(i + 1) % n];
		}
	}
	return 0;
}

static int cmd_onscreen(int argc, char **argv)
{
	if (argc != 4) {
		return 64;
	}
	struct helper_client_options opts = {.mode = HELPER_MODE_SPAWN, .timeout_ms = 5000};
	struct helper_client *client = client_or_die(&opts);
	uint32_t crtc = (uint32_t)atoi(argv[1]);
	int n = atoi(argv[3]), samples = 0, distinct = 0, shown = 0, pending = 0, n_cycle = 0;
	uint32_t seen[64], cycle[16];
	log_fbs(argv[2], "fb-create", crtc, cycle, &n_cycle);
	if (n_cycle < 3) {
		printf("producer log has %d fb-create lines\n", n_cycle);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct helper_fb fb;
		uint32_t before = last_flip_fb(argv[2], crtc);
		int r = helper_client_export(client, argv[0], crtc, KMSCAST_PLANE_PRIMARY, &fb);
		uint32_t after = last_flip_fb(argv[2], crtc);
		if (r < 0) {
			printf("export failed: %s\n", helper_client_last_error(client));
			return 1;
		}
		uint32_t got = fb.fb_id;
		helper_fb_finish(&fb);
		if (before != after || before == 0) {
			continue; /* a flip raced the export: no verdict */
		}
		if (got != before && got != next_in_cycle(cycle, n_cycle, before)) {
			printf("MISMATCH: fb %u on screen, fb %u exported\n", before, got);
			return 1;
		}
		shown += got == before;
		pending += got != before;
		samples++;
		bool known = false;
		for (int j = 0; j < distinct; j++) {
			known |= seen[j] == got;
		}
		if (!known && distinct < 64) {
			seen[distinct++] = got;
		}
		usleep(50 * 1000);
	}
	printf("onscreen samples=%d shown=%d pending=%d distinct=%d\n", samples, shown, pending,
		distinct);
	helper_client_destroy(client);
	return 0;
}

static int cmd_fnv_frames(int argc, char **argv)
{
	if (argc != 4) {
		return 64;
	}
	size_t frame = (size_t)atol(argv[1]) * (size_t)atol(argv[3]) * (size_t)atol(argv[2]);
	FILE *f = fopen(argv[0], "rbe");
	uint8_t *buf = frame > 0 ? malloc(frame) : NULL;
	if (f == NULL || buf == NULL) {
		return 1;
	}
	while (fread(buf, 1, frame, f) == frame) {
		uint64_t h = 0xcbf29ce484222325ull;
		for (size_t i = 0; i < frame; i++) {
			h = (h ^ buf[i]) * 0x100000001b3ull;
		}
		printf("0x%016" PRIx64 "\n", h);
	}
	free(buf);
	fclose(f);
	return 0;
}

static bool is_drm_fd(int pid, int fd)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 226;
}

/* A handle minted in the borrowed file's table and closed again: proves the method works. */
static int control_handle(int card)
{
	drmModeRes *res = drmModeGetResources(card);
	int r = -1;
	for (int i = 0; res != NULL && i < res->count_crtcs && r < 0; i++) {
		drmModeCrtc *crtc = drmModeGetCrtc(card, res->crtcs[i]);
		if (crtc != NULL && crtc->buffer_id != 0) {
			drmModeFB2 *fb2 = drmModeGetFB2(card, crtc->buffer_id);
			if (fb2 != NULL && fb2->handles[0] != 0) {
				r = drmCloseBufferHandle(card, fb2->handles[0]);
				printf("control: GETFB2 handle %u in the helper's file, GEM_CLOSE "
				       "-> %d\n",
					fb2->handles[0], r);
			}
			drmModeFreeFB2(fb2);
		}
		drmModeFreeCrtc(crtc);
	}
	drmModeFreeResources(res);
	return r;
}

static int cmd_gemclose(int argc, char **argv)
{
	if (argc < 2) {
		return 64;
	}
	int pid = atoi(argv[0]);
	int pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		perror("pidfd_open");
		return 1;
	}
	int checked = 0, failures = 0;
	for (int fd = 0; fd < 64; fd++) {
		if (!is_drm_fd(pid, fd)) {
			continue;
		}
		int card = pidfd_getfd(pidfd, fd, 0);
		if (card < 0) {
			perror("pidfd_getfd");
			return 1;
		}
		failures += control_handle(card) != 0;
		for (int i = 1; i < argc; i++) {
			struct drm_gem_close req = {.handle = (uint32_t)atoi(argv[i])};
			int r = drmIoctl(card, DRM_IOCTL_GEM_CLOSE, &req);
			int err = r < 0 ? errno : 0;
			printf("helper fd %d: GEM_CLOSE %s -> %s\n", fd, argv[i],
				err ? strerror(err) : "closed (LEAKED)");
			failures += err != EINVAL;
			checked++;
		}
		close(card);
	}
	close(pidfd);
	printf("gemclose checked=%d failures=%d\n", checked, failures);
	return checked > 0 && failures == 0 ? 0 : 1;
}

static int cmd_refuse_uid(int argc, char **argv)
{
	if (argc != 2) {
		return 64;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return 1;
	}
	uid_t uid = (uid_t)atoi(argv[1]);
	/* In group kmscast, so the 0750 root:kmscast helper is executable for it. */
	struct group *grp = getgrnam("kmscast");
	gid_t groups[1] = {grp != NULL ? grp->gr_gid : (gid_t)uid};
	pid_t pid = fork();
	if (pid == 0) {
		dup2(sv[1], 3);
		if (setgroups(1, groups) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
			_exit(99);
		}
		execl(argv[0], "kmscast-helper", "--fd", "3", (char *)NULL);
		_exit(98);
	}
	close(sv[1]);
	struct helper_msg_error err;
	int n = recv_record(sv[0], &err, sizeof(err), 5000, NULL);
	int status = 0;
	waitpid(pid, &status, 0);
	if (n != (int)sizeof(err) || err.hdr.type != HELPER_MSG_ERROR) {
		printf("no error reply (%d), helper status %d\n", n, status);
		return 1;
	}
	printf("refused error=%d reason=%s exit=%d\n", err.error, err.reason,
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return err.error == -EACCES ? 0 : 1;
}

#define MAX_HELD_CONNS (HELPER_MAX_CLIENTS + 1)

/*
 * Connects to path, says hello and reads the first record. Returns the connected fd when the
 * helper answered the hello; otherwise prints what came and returns -1 (or -2 on a local
 * failure).
 */
static int open_conn(const char *path, int i)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		return -2;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -2;
	}
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		printf("conn %d connect-error=%d\n", i, -errno);
		close(fd);
		return -1;
	}
	/* A refused peer may be closed already (EPIPE here); its error record is still queued. */
	struct helper_msg_hello hello = make_hello(1);
	(void)send_with_fds(fd, &hello, sizeof(hello), -1, 0);
	union {
		struct helper_msg_header hdr;
		struct helper_msg_hello hello;
		struct helper_msg_error err;
	} rec;
	int n = recv_record(fd, &rec, sizeof(rec), 5000, NULL);
	if (n == -ECONNRESET) {
		/* The helper closed with our hello unread: the reset comes before the record. */
		n = recv_record(fd, &rec, sizeof(rec), 5000, NULL);
	}
	if (n == (int)sizeof(rec.hello) && rec.hdr.type == HELPER_MSG_HELLO_REPLY) {
		printf("conn %d ok\n", i);
		return fd;
	}
	if (n == (int)sizeof(rec.err) && rec.hdr.type == HELPER_MSG_ERROR) {
		printf("conn %d error=%d reason=%.*s\n", i, (int)rec.err.error,
			(int)sizeof(rec.err.reason), rec.err.reason);
	} else {
		printf("conn %d no-reply=%d\n", i, n);
	}
	close(fd);
	return -1;
}

static int cmd_conns(int argc, char **argv)
{
	int n = argc == 2 ? atoi(argv[1]) : 0;
	if (n < 1 || n + 2 > MAX_HELD_CONNS) {
		return 64;
	}
	int held[MAX_HELD_CONNS];
	int n_held = 0, r = 0;
	for (int i = 1; i <= n + 1 && r == 0; i++) {
		int fd = open_conn(argv[0], i);
		r = fd == -2 ? 1 : 0;
		if (fd >= 0) {
			held[n_held++] = fd; /* fd now owned by held[] */
		}
	}
	if (r == 0) {
		printf("hold accepted=%d\n", n_held);
		wait_line();
	}
	if (r == 0 && n_held > 0) {
		close(held[0]);
		held[0] = -1;
		printf("closed 1\n");
		int fd = open_conn(argv[0], n + 2);
		r = fd == -2 ? 1 : 0;
		held[0] = fd;
		printf("done\n");
	}
	for (int i = 0; i < n_held; i++) {
		if (held[i] >= 0) {
			close(held[i]);
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: see the comment at the top of test-helper-vmtool.c\n");
		return 64;
	}
	const char *cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (strcmp(cmd, "probe") == 0) {
		struct helper_client_options opts = options(&argc, &argv);
		return kmscast_probe(&opts, stdout) == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "export") == 0) {
		return cmd_export(argc, argv);
	}
	if (strcmp(cmd, "stress") == 0) {
		return cmd_stress(argc, argv);
	}
	if (strcmp(cmd, "onscreen") == 0) {
		return cmd_onscreen(argc, argv);
	}
	if (strcmp(cmd, "fnv-frames") == 0) {
		return cmd_fnv_frames(argc, argv);
	}
	if (strcmp(cmd, "gemclose") == 0) {
		return cmd_gemclose(argc, argv);
	}
	if (strcmp(cmd, "refuse-uid") == 0) {
		return cmd_refuse_uid(argc, argv);
	}
	if (strcmp(cmd, "conns") == 0) {
		return cmd_conns(argc, argv);
	}
	return 64;
}
