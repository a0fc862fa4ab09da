/* SPDX-License-Identifier: MIT */
/*
 * gem-handles PID [MAX]: counts the GEM handles alive in PID's open DRM card files, for the
 * soak's "GEM handle numbers not climbing" check. Run as root inside the bench VM.
 *
 * GEM handles belong to a DRM file (struct drm_file), and nothing in kernel 6.1 lists them:
 * fdinfo of a card fd has no per-handle data for vkms or virtio-gpu, and debugfs' gem_names
 * shows flink names only. So the probe takes a duplicate of each of PID's card fds with
 * pidfd_getfd(2) (same open file, same handle table) and asks DRM_IOCTL_MODE_MAP_DUMB for
 * every handle in 1..MAX: ENOENT means no such handle. MAP_DUMB only creates the object's
 * fake mmap offset, which every dumb buffer may have; it takes no reference and leaves the
 * table as it found it. The helper keeps the handles of the last 16 primary FBs it exported
 * per connection (CHECK compares buffers through them) and closes every other one right
 * after its export, so between exports the count stays within that; the highest live handle
 * is printed too.
 *
 * Output: "gem pid=<pid> files=<n> handles=<live> max_handle=<highest or 0>"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <dirent.h>

#include <drm.h>
#include <drm_mode.h>

/* Handles are allocated lowest-first (idr); a leak shows as a count well below this. */
#define DEFAULT_MAX_HANDLE 4096u
#define MAX_HANDLE_LIMIT 1000000u

static int getfd(int pidfd, int target)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
}

static int count_handles(int fd, unsigned max, unsigned *live, unsigned *highest)
{
	for (unsigned h = 1; h <= max; h++) {
		struct drm_mode_map_dumb req = {.handle = h};

		if (ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &req) == 0) {
			(*live)++;
			*highest = h;
		} else if (errno != ENOENT && errno != EINVAL) {
			return -errno;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[64], link[256];
	unsigned max = DEFAULT_MAX_HANDLE, live = 0, highest = 0, files = 0;
	struct dirent *e;
	int pid, pidfd;
	DIR *d;

	if (argc < 2) {
		fprintf(stderr, "usage: gem-handles PID [MAX_HANDLE]\n");
		return 2;
	}
	pid = atoi(argv[1]);
	if (argc > 2)
		max = (unsigned)strtoul(argv[2], NULL, 10);
	if (max == 0 || max > MAX_HANDLE_LIMIT) {
		fprintf(stderr, "gem-handles: MAX_HANDLE must be 1..%u\n", MAX_HANDLE_LIMIT);
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "gem-handles: pidfd_open %d: %m\n", pid);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path))) {
		fprintf(stderr, "gem-handles: %s: %m\n", path);
		return 1;
	}
	while ((e = readdir(d))) {
		char fdpath[96];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%.16s", path, e->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "/dev/dri/card", 13) != 0)
			continue;
		fd = getfd(pidfd, atoi(e->d_name));
		if (fd < 0) {
			fprintf(stderr, "gem-handles: pidfd_getfd %d/%s: %m\n", pid, e->d_name);
			return 1;
		}
		files++;
		if (count_handles(fd, max, &live, &highest) < 0) {
			fprintf(stderr, "gem-handles: MAP_DUMB: %m\n");
			return 1;
		}
		close(fd);
	}
	closedir(d);
	close(pidfd);
	printf("gem pid=%d files=%u handles=%u max_handle=%u\n", pid, files, live, highest);
	return 0;
}
