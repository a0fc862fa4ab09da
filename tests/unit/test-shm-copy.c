/* SPDX-License-Identifier: MIT */
/*
 * The SHM path's copy without DRM: a memfd stands in for each of the FB's dma-bufs (it maps,
 * and polls ready, as a dma-buf without pending fences does), and pipes for a dma-buf whose
 * fences are pending (poll says not readable, or not writable). Every byte of every plane
 * is checked against the source's layout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "source-port.h"
#include "spa-compat.h"
#include "test.h"

/* The FB's byte at offset k: no period a wrong row or plane offset would hide in. */
static uint8_t src_byte(size_t k)
{
	return (uint8_t)(((uint32_t)k * 2654435761u) >> 24);
}

/*
 * Byte k of the FB's fd j: another sequence in each fd, so that a plane read from the wrong
 * object at the right offset still shows.
 */
static uint8_t fd_byte(uint32_t j, size_t k)
{
	return src_byte(k + (size_t)j * 1000003);
}

static const uint8_t SENTINEL = 0x5a;

/* The layout of a test FB: plane i at offsets[i] of fd fd_index[i], fd j sizes[j] bytes. */
struct fb_layout {
	uint32_t fourcc, width, height;
	uint32_t n_planes, pitches[4], offsets[4], fd_index[4];
	uint32_t n_fds;
	size_t sizes[4];
};

/* A memfd of size bytes standing in for the FB's fd j, filled with fd_byte(j, ·). */
static int make_object(uint32_t j, size_t size)
{
	int fd = memfd_create("fake-dmabuf", MFD_CLOEXEC);
	uint8_t *map;

	test_assert(fd >= 0);
	test_assert(ftruncate(fd, (off_t)size) == 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	test_assert(map != MAP_FAILED);
	for (size_t k = 0; k < size; k++) {
		map[k] = fd_byte(j, k);
	}
	munmap(map, size);
	return fd;
}

/* A linear FB of l's layout, not mapped yet; fb owns its memfds. */
static void make_fb_layout(struct scanout_fb *fb, const struct fb_layout *l)
{
	struct helper_fb hfb = {
		.fb_id = 20, .width = l->width, .height = l->height, .fourcc = l->fourcc,
		.modifier = DRM_FORMAT_MOD_LINEAR, .modifier_explicit = true,
		.n_planes = l->n_planes, .n_fds = l->n_fds, .fds = {-1, -1, -1, -1},
	};

	for (uint32_t i = 0; i < l->n_planes; i++) {
		hfb.pitches[i] = l->pitches[i];
		hfb.offsets[i] = l->offsets[i];
		hfb.plane_fd_index[i] = l->fd_index[i];
	}
	for (uint32_t j = 0; j < l->n_fds; j++) {
		hfb.fds[j] = make_object(j, l->sizes[j]);
	}
	test_assert_int_eq(scanout_fb_init(fb, &hfb), 0);
}

/* A linear FB of one memfd holding every plane at offsets[i], mapped. */
static void make_fb(struct scanout_fb *fb, uint32_t fourcc, uint32_t width, uint32_t height,
		uint32_t n_planes, const uint32_t *pitches, const uint32_t *offsets, size_t size)
{
	struct fb_layout l = {
		.fourcc = fourcc, .width = width, .height = height, .n_planes = n_planes,
		.n_fds = 1, .sizes = {size},
	};

	for (uint32_t i = 0; i < n_planes; i++) {
		l.pitches[i] = pitches[i];
		l.offsets[i] = offsets[i];
	}
	make_fb_layout(fb, &l);
	test_assert_int_eq(scanout_fb_map(fb), 0);
}

/* A buffer of n datas, as PipeWire hands them to use_buffers. */
struct test_buffer {
	struct spa_buffer buf;
	struct spa_data datas[4];
	struct spa_chunk chunks[4];
};

static void make_buffer(struct test_buffer *t, uint32_t n, uint32_t types)
{
	memset(t, 0, sizeof(*t));
	t->buf.n_datas = n;
	t->buf.datas = t->datas;
	for (uint32_t i = 0; i < n; i++) {
		t->datas[i].type = types;
		t->datas[i].fd = -1;
		t->datas[i].chunk = &t->chunks[i];
	}
}

static void init_slot(struct slot *slot, struct test_buffer *t)
{
	memset(slot, 0, sizeof(*slot));
	slot->buf = &t->buf;
	for (uint32_t i = 0; i < HELPER_MAX_PLANES; i++) {
		slot->planes[i].fd = -1;
	}
}

/*
 * Plane i of the copy, dst with dst_stride, holds the FB's rows: the first
 * min(pitch, dst_stride) bytes of each, and the rest of a wider row is left alone.
 */
static void check_plane(const struct scanout_fb *fb, uint32_t i, const uint8_t *dst,
		uint32_t dst_stride)
{
	uint32_t pitch = fb->hfb.pitches[i];
	uint32_t rows = scanout_fb_plane_rows(&fb->hfb, i);
	uint32_t row = pitch < dst_stride ? pitch : dst_stride;

	for (uint32_t y = 0; y < rows; y++) {
		const uint8_t *line = dst + (size_t)y * dst_stride;
		size_t src = fb->hfb.offsets[i] + (size_t)y * pitch;

		for (uint32_t x = 0; x < dst_stride; x++) {
			uint8_t want = x < row ? fd_byte(fb->hfb.plane_fd_index[i], src + x) :
					SENTINEL;

			if (line[x] != want) {
				test_fail("plane %u row %u byte %u: 0x%02x, expected 0x%02x", i, y,
						x, line[x], want);
			}
		}
	}
}

static int open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	test_assert(dir != NULL);
	while (readdir(dir) != NULL) {
		n++;
	}
	closedir(dir);
	return n;
}

/* NV12, 64x47 (24 chroma rows), pitch 80, the chroma plane at an offset in the same object. */
static void make_nv12(struct scanout_fb *fb)
{
	static const uint32_t pitches[] = {80, 80}, offsets[] = {0, 80 * 48};

	make_fb(fb, DRM_FORMAT_NV12, 64, 47, 2, pitches, offsets, 80 * 48 + 80 * 24);
}

/* The node's own memory: a MemFd per plane, at the FB's pitch; what a consumer maps. */
static void test_nv12_memfd(void)
{
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;
	int before = open_fds();

	make_nv12(&fb);
	make_buffer(&t, 2, (1u << SPA_DATA_MemFd) | (1u << SPA_DATA_MemPtr));
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &fb), 0);
	test_assert_int_eq(slot.n_planes, 2);
	for (uint32_t i = 0; i < 2; i++) {
		memset(t.datas[i].data, SENTINEL, t.datas[i].maxsize);
	}
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	for (uint32_t i = 0; i < 2; i++) {
		uint32_t rows = i == 0 ? 47 : 24;
		uint8_t *view;

		test_assert_int_eq(t.datas[i].type, SPA_DATA_MemFd);
		test_assert(t.datas[i].fd >= 0 && t.datas[i].fd == slot.planes[i].fd);
		test_assert_int_eq(t.datas[i].maxsize, 80 * rows);
		test_assert_int_eq(t.chunks[i].offset, 0);
		test_assert_int_eq(t.chunks[i].stride, 80);
		test_assert_int_eq(t.chunks[i].size, 80 * rows);
		/* Through a mapping of the data's fd, as the consumer sees it. */
		view = mmap(NULL, t.datas[i].maxsize, PROT_READ, MAP_SHARED, t.datas[i].fd, 0);
		test_assert(view != MAP_FAILED);
		check_plane(&fb, i, view, 80);
		munmap(view, t.datas[i].maxsize);
	}
	test_assert(t.datas[0].fd != t.datas[1].fd);
	shm_slot_free(&slot);
	test_assert_int_eq(slot.planes[0].fd, -1);
	test_assert_int_eq(slot.planes[1].fd, -1);
	scanout_fb_finish(&fb);
	test_assert_int_eq(open_fds(), before);
}

/* PipeWire's memory, whose chunks came with a stride of their own, wider than the FB's. */
static void test_nv12_pipewire_memory(void)
{
	static uint8_t mem[2][96 * 47];
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;

	make_nv12(&fb);
	make_buffer(&t, 2, SPA_DATA_MemPtr);
	for (uint32_t i = 0; i < 2; i++) {
		memset(mem[i], SENTINEL, sizeof(mem[i]));
		t.datas[i].data = mem[i];
		t.datas[i].maxsize = sizeof(mem[i]);
		t.chunks[i].stride = 96;
	}
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_use(&slot, &t.buf, &fb), 0);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem[0], 96);
	check_plane(&fb, 1, mem[1], 96);
	test_assert_int_eq(t.chunks[0].size, 96 * 47);
	test_assert_int_eq(t.chunks[1].size, 96 * 24);
	test_assert_int_eq(t.chunks[1].stride, 96);
	/* Too small for a plane at its stride: refused when the buffers come, not copied into. */
	t.datas[1].maxsize = 96 * 24 - 1;
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_use(&slot, &t.buf, &fb), -EINVAL);
	/* One data for two planes: the link was negotiated for another format. */
	t.buf.n_datas = 1;
	test_assert_int_eq(shm_slot_use(&slot, &t.buf, &fb), -EINVAL);
	scanout_fb_finish(&fb);
}

/* XRGB: a memfd at the FB's pitch, and PipeWire's memory narrower than the FB's padded rows. */
static void test_xrgb(void)
{
	static const uint32_t pitches[] = {288}, offsets[] = {0};
	static uint8_t mem[256 * 48];
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;

	make_fb(&fb, DRM_FORMAT_XRGB8888, 64, 48, 1, pitches, offsets, 288 * 48);
	make_buffer(&t, 1, 1u << SPA_DATA_MemFd);
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &fb), 0);
	memset(t.datas[0].data, SENTINEL, t.datas[0].maxsize);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, t.datas[0].data, 288);
	test_assert_int_eq(t.chunks[0].stride, 288);
	test_assert_int_eq(t.chunks[0].size, 288 * 48);
	shm_slot_free(&slot);

	make_buffer(&t, 1, SPA_DATA_MemPtr);
	memset(mem, SENTINEL, sizeof(mem));
	t.datas[0].data = mem;
	t.datas[0].maxsize = sizeof(mem);
	t.chunks[0].stride = 256;
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_use(&slot, &t.buf, &fb), 0);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem, 256);
	scanout_fb_finish(&fb);
}

/* A second plane's data that takes no MemFd: the first plane's memfd is not left behind. */
static void test_partial_alloc_frees(void)
{
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;
	int before;

	make_nv12(&fb);
	before = open_fds();
	make_buffer(&t, 2, 1u << SPA_DATA_MemFd);
	t.datas[1].type = 1u << SPA_DATA_MemPtr;
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &fb), -ENOTSUP);
	test_assert_int_eq(slot.n_planes, 0);
	test_assert_int_eq(slot.planes[0].fd, -1);
	test_assert(slot.planes[0].map == NULL);
	test_assert_int_eq(open_fds(), before);
	scanout_fb_finish(&fb);
}

/* What the copy refuses: a slot of another layout, a plane outside its object or the FB's fds. */
static void test_refusals(void)
{
	static const uint32_t pitches[] = {256}, offsets[] = {0};
	struct scanout_fb fb, nv12;
	struct test_buffer t;
	struct slot slot;

	make_fb(&fb, DRM_FORMAT_XRGB8888, 64, 48, 1, pitches, offsets, 256 * 48);
	make_nv12(&nv12);
	make_buffer(&t, 1, 1u << SPA_DATA_MemFd);
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &fb), 0);
	test_assert_int_eq(shm_copy_frame(&slot, &nv12), -ENOSPC);
	shm_slot_free(&slot);
	make_buffer(&t, 2, 1u << SPA_DATA_MemFd);
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &nv12), 0);
	/* An fd index past the FB's fds: scanout_fb_init refuses one; the copy checks too. */
	nv12.hfb.plane_fd_index[1] = 1;
	test_assert_int_eq(shm_copy_frame(&slot, &nv12), -EINVAL);
	nv12.hfb.plane_fd_index[1] = 0;
	nv12.hfb.offsets[1] += 80; /* its last row past the object */
	test_assert_int_eq(shm_copy_frame(&slot, &nv12), -EINVAL);
	nv12.hfb.offsets[1] -= 80;
	test_assert_int_eq(shm_copy_frame(&slot, &nv12), 0);
	shm_slot_free(&slot);
	scanout_fb_finish(&nv12);
	scanout_fb_finish(&fb);
}

static bool all_sentinel(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k] != SENTINEL) {
			return false;
		}
	}
	return true;
}

/*
 * An FB whose writers' fences are pending polls not readable, and a spare the consumer's GPU
 * still reads polls not writable: the copy returns -EBUSY at once and writes nothing; it goes
 * ahead once they poll ready.
 */
static void test_busy(void)
{
	static const uint32_t pitches[] = {256}, offsets[] = {0};
	static uint8_t mem[256 * 48];
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;
	int fb_fd, readers[2], writers[2];
	char c = 0;

	make_fb(&fb, DRM_FORMAT_XRGB8888, 64, 48, 1, pitches, offsets, 256 * 48);
	make_buffer(&t, 1, SPA_DATA_MemPtr);
	memset(mem, SENTINEL, sizeof(mem));
	t.datas[0].data = mem;
	t.datas[0].maxsize = sizeof(mem);
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_use(&slot, &t.buf, &fb), 0);

	/* The FB: an empty pipe's read end for its fd; the mapping stays the memfd's. */
	test_assert(pipe2(readers, O_CLOEXEC | O_NONBLOCK) == 0);
	fb_fd = fb.hfb.fds[0];
	fb.hfb.fds[0] = readers[0];
	test_assert_int_eq(shm_copy_frame(&slot, &fb), -EBUSY);
	test_assert(all_sentinel(mem, sizeof(mem)));
	test_assert_int_eq(t.chunks[0].size, 0);
	test_assert(write(readers[1], &c, 1) == 1);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem, 256);

	/* A spare: a full pipe's write end for its dma-buf. */
	test_assert(pipe2(writers, O_CLOEXEC | O_NONBLOCK) == 0);
	while (write(writers[1], mem, sizeof(mem)) > 0) {
		;
	}
	test_assert_int_eq(errno, EAGAIN);
	memset(mem, SENTINEL, sizeof(mem));
	slot.spare = true;
	slot.planes[0].fd = writers[1]; /* the test's, not the slot's: never freed here */
	test_assert_int_eq(shm_copy_frame(&slot, &fb), -EBUSY);
	test_assert(all_sentinel(mem, sizeof(mem)));
	while (read(writers[0], mem, sizeof(mem)) > 0) {
		;
	}
	memset(mem, SENTINEL, sizeof(mem));
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem, 256);

	fb.hfb.fds[0] = fb_fd;
	close(readers[0]);
	close(readers[1]);
	close(writers[0]);
	close(writers[1]);
	scanout_fb_finish(&fb);
}

/*
 * NV12, 64x47 (24 chroma rows), each plane in a buffer object of its own, as some drivers and
 * video decoders allocate it; neither plane at offset 0 nor at a pitch of the width.
 */
static const struct fb_layout nv12_two_objects = {
	.fourcc = DRM_FORMAT_NV12, .width = 64, .height = 47, .n_planes = 2,
	.pitches = {80, 96}, .offsets = {64, 128}, .fd_index = {0, 1},
	.n_fds = 2, .sizes = {64 + 80 * 47 + 16, 128 + 96 * 24},
};

/* The mappings of the test's fake dma-bufs this process holds, from /proc/self/maps. */
static int fake_dmabuf_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	test_assert(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, "memfd:fake-dmabuf") != NULL;
	}
	fclose(f);
	return n;
}

/* PipeWire's memory for both planes, filled with SENTINEL, at the FB's pitches or stride. */
static void use_pipewire_memory(struct slot *slot, struct test_buffer *t,
		const struct scanout_fb *fb, uint8_t (*mem)[104 * 47], uint32_t stride)
{
	make_buffer(t, 2, SPA_DATA_MemPtr);
	for (uint32_t i = 0; i < 2; i++) {
		memset(mem[i], SENTINEL, sizeof(mem[i]));
		t->datas[i].data = mem[i];
		t->datas[i].maxsize = sizeof(mem[i]);
		t->chunks[i].stride = (int32_t)stride;
	}
	init_slot(slot, t);
	test_assert_int_eq(shm_slot_use(slot, &t->buf, fb), 0);
}

/* Each plane is read from its own object: one mapping per fd, owned by the entry alone. */
static void test_nv12_two_objects(void)
{
	static uint8_t mem[2][104 * 47];
	struct scanout_fb fb, dup;
	struct test_buffer t;
	struct slot slot;
	int before = open_fds(), maps = fake_dmabuf_maps();

	make_fb_layout(&fb, &nv12_two_objects);
	test_assert_int_eq(scanout_fb_map(&fb), 0);
	test_assert(fb.maps[0] != NULL && fb.maps[1] != NULL);
	test_assert_int_eq(fake_dmabuf_maps(), maps + 2);
	test_assert_int_eq(scanout_fb_map(&fb), 0); /* mapped already: nothing more */
	test_assert_int_eq(fake_dmabuf_maps(), maps + 2);

	/* The node's own MemFds, at the FB's pitches: a plane at a time. */
	make_buffer(&t, 2, 1u << SPA_DATA_MemFd);
	init_slot(&slot, &t);
	test_assert_int_eq(shm_slot_alloc(&slot, &t.buf, &fb), 0);
	for (uint32_t i = 0; i < 2; i++) {
		memset(t.datas[i].data, SENTINEL, t.datas[i].maxsize);
	}
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, t.datas[0].data, 80);
	check_plane(&fb, 1, t.datas[1].data, 96);
	test_assert_int_eq(t.chunks[0].size, 80 * 47);
	test_assert_int_eq(t.chunks[1].size, 96 * 24);
	test_assert_int_eq(t.chunks[1].stride, 96);
	shm_slot_free(&slot);

	/* PipeWire's memory at a stride of its own: row by row. */
	use_pipewire_memory(&slot, &t, &fb, mem, 104);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem[0], 104);
	check_plane(&fb, 1, mem[1], 104);
	test_assert_int_eq(t.chunks[1].size, 104 * 24);

	/* A copy of the entry gets fds of its own and none of the mappings. */
	test_assert_int_eq(scanout_fb_dup(&dup, &fb), 0);
	test_assert(dup.maps[0] == NULL && dup.maps[1] == NULL);
	scanout_fb_finish(&dup);
	test_assert_int_eq(fake_dmabuf_maps(), maps + 2);

	scanout_fb_finish(&fb);
	test_assert_int_eq(fake_dmabuf_maps(), maps);
	test_assert_int_eq(open_fds(), before);
}

/* The UV plane's object a byte short of its last row: refused, nothing copied. */
static void test_nv12_second_object_short(void)
{
	static uint8_t mem[2][104 * 47];
	struct fb_layout l = nv12_two_objects;
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;

	l.sizes[1] -= 1;
	make_fb_layout(&fb, &l);
	test_assert_int_eq(scanout_fb_map(&fb), 0);
	use_pipewire_memory(&slot, &t, &fb, mem, 0);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), -EINVAL);
	test_assert(all_sentinel(mem[0], sizeof(mem[0])));
	test_assert(all_sentinel(mem[1], sizeof(mem[1])));
	test_assert_int_eq(t.chunks[0].size, 0);
	test_assert_int_eq(t.chunks[1].size, 0);
	scanout_fb_finish(&fb);
}

/*
 * The UV plane's object does not map (an exporter without mmap; a write-only reopen of the
 * memfd): the Y plane's mapping is undone, and the copy fails with mmap's errno.
 */
static void test_nv12_second_object_unmappable(void)
{
	static uint8_t mem[2][104 * 47];
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;
	char path[64];
	int wronly, maps = fake_dmabuf_maps();

	make_fb_layout(&fb, &nv12_two_objects);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fb.hfb.fds[1]);
	wronly = open(path, O_WRONLY | O_CLOEXEC);
	test_assert(wronly >= 0);
	close(fb.hfb.fds[1]);
	fb.hfb.fds[1] = wronly; /* now owned by fb */
	test_assert_int_eq(scanout_fb_map(&fb), -EACCES);
	test_assert(fb.maps[0] == NULL && fb.maps[1] == NULL);
	test_assert_int_eq(fake_dmabuf_maps(), maps);
	use_pipewire_memory(&slot, &t, &fb, mem, 0);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), -EACCES);
	test_assert(all_sentinel(mem[0], sizeof(mem[0])));
	test_assert(all_sentinel(mem[1], sizeof(mem[1])));
	test_assert_int_eq(fake_dmabuf_maps(), maps);
	scanout_fb_finish(&fb);
}

/*
 * Only the UV plane's object has pending fences: -EBUSY and nothing copied, not even the
 * ready Y plane; both once it polls ready.
 */
static void test_busy_second_object(void)
{
	static uint8_t mem[2][104 * 47];
	struct scanout_fb fb;
	struct test_buffer t;
	struct slot slot;
	int uv_fd, readers[2];
	char c = 0;

	make_fb_layout(&fb, &nv12_two_objects);
	test_assert_int_eq(scanout_fb_map(&fb), 0);
	use_pipewire_memory(&slot, &t, &fb, mem, 0);

	/* An empty pipe's read end for fd 1; the mapping stays the memfd's. */
	test_assert(pipe2(readers, O_CLOEXEC | O_NONBLOCK) == 0);
	uv_fd = fb.hfb.fds[1];
	fb.hfb.fds[1] = readers[0];
	test_assert_int_eq(shm_copy_frame(&slot, &fb), -EBUSY);
	test_assert(all_sentinel(mem[0], sizeof(mem[0])));
	test_assert(all_sentinel(mem[1], sizeof(mem[1])));
	test_assert_int_eq(t.chunks[0].size, 0);
	test_assert_int_eq(t.chunks[1].size, 0);
	test_assert(write(readers[1], &c, 1) == 1);
	test_assert_int_eq(shm_copy_frame(&slot, &fb), 0);
	check_plane(&fb, 0, mem[0], 80);
	check_plane(&fb, 1, mem[1], 96);

	fb.hfb.fds[1] = uv_fd;
	close(readers[0]);
	close(readers[1]);
	scanout_fb_finish(&fb);
}

TEST_MAIN(TEST(test_nv12_memfd), TEST(test_nv12_pipewire_memory), TEST(test_xrgb),
		TEST(test_partial_alloc_frees), TEST(test_refusals), TEST(test_busy),
		TEST(test_nv12_two_objects), TEST(test_nv12_second_object_short),
		TEST(test_nv12_second_object_unmappable), TEST(test_busy_second_object))
