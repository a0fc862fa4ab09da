/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_PORT_H
#define KMSCAST_SOURCE_PORT_H

/*
 * The node's one output port and its buffer slots, as PipeWire's v4l2 source keeps its
 * struct port apart from struct impl. A slot either aliases a scanout FB (the dma-buf path,
 * zero copy), or owns memory filled by a CPU copy: a MemFd per plane (the SHM path, shm-copy.c)
 * or a dma-buf of the node's own (a spare, spare-slot.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spa/buffer/buffer.h>
#include <spa/buffer/meta.h>
#include <spa/node/io.h>
#include <spa/node/node.h>
#include <spa/param/video/raw.h>

#include "scanout-set.h"

struct impl;

/*
 * Buffer slots a link may allocate. pipewiresrc asks for at least 8 (0.3.65). The default
 * gives each FB of the set at least SLOTS_PER_FB aliases, so that a consumer still reading one
 * alias does not cost the next frame on that FB.
 */
#define MAX_SLOTS 48
#define DEFAULT_SLOTS 16
#define SLOTS_PER_FB 3
#define MIN_SLOTS 2
/*
 * Spare slots per allocation (spare-slot.c): a consumer holds one or two, the next frame
 * fills one, and the least recently used one goes next, so that a slot the consumer may still
 * be reading (the graph's io area says HAVE_DATA while it takes it) is not refilled at once.
 */
#define SPARE_SLOTS 4
/*
 * The SHM path's memory per link. Its buffers are whole frames of the node's own, so
 * MAX_SLOTS of them at 4K XRGB8888 would be 1.6 GB; a link gets at most as many as fit in
 * SHM_MAX_BYTES (never fewer than MIN_SLOTS), which holds 8 such frames: pipewiresrc asks for
 * at least 8 (0.3.65). A larger frame gets fewer, and a consumer that insists on more fails
 * to negotiate the format without a modifier rather than pin gigabytes. The default is
 * SHM_DEFAULT_SLOTS: each frame is copied afresh into the least recently used free buffer,
 * so beyond the one or two a consumer holds and the one being filled, more buffers buy
 * nothing (unlike aliases, which must cover every FB of the set).
 */
#define SHM_MAX_BYTES (256u << 20)
#define SHM_DEFAULT_SLOTS 8

enum source_path {
	PATH_NONE,
	PATH_DMABUF, /* slots alias the scanout FBs: zero copy */
	PATH_SHM, /* slots are MemFd buffers filled by a CPU copy */
};

/*
 * Where the copy of one plane goes (the SHM path, a spare): memory the slot owns, or
 * PipeWire's when the node did not allocate.
 */
struct slot_plane {
	int fd; /* owned: a MemFd (PATH_SHM) or a spare's dma-buf; -1 for PipeWire's memory */
	void *map; /* owned mapping of fd, map_size bytes; NULL for PipeWire's memory */
	size_t map_size;
	uint8_t *dst; /* map, or PipeWire's memory (not owned) */
	size_t dst_size;
	uint32_t dst_stride;
};

/* A slot's FB id when its FB's id now names other buffers; no KMS id (positive ints) is this. */
#define SLOT_RETIRED UINT32_MAX

struct slot {
	uint32_t id;
	struct spa_buffer *buf;
	uint32_t fb_id; /* PATH_DMABUF: the FB this slot aliases, 0 for a spare, SLOT_RETIRED */
	bool spare; /* PATH_DMABUF: our own dma-buf, filled by a copy (spare-slot.c) */
	bool busy; /* handed out, not recycled yet */
	/*
	 * Holds a flip copied at its vblank until its check's answer (source-frame.c): not the
	 * consumer's, so a recycle of what the consumer gave back leaves it alone.
	 */
	bool pending;
	uint64_t last_used; /* tick count when last handed out, for LRU */
	struct spa_meta_header *header;
	struct spa_meta_region *crop;
	struct spa_meta_region *damage; /* the first region of SPA_META_VideoDamage */
	uint32_t n_damage; /* regions it has room for */
	struct spa_meta_cursor *cursor;
	size_t cursor_size;
	uint32_t n_planes; /* PATH_SHM or a spare: planes[] in use; else 0 */
	struct slot_plane planes[HELPER_MAX_PLANES]; /* fds -1 from init_slot on */
};

struct source_port {
	/* Main loop. */
	uint64_t info_all;
	struct spa_port_info info;
#define PORT_EnumFormat 0
#define PORT_Meta 1
#define PORT_IO 2
#define PORT_Format 3
#define PORT_Buffers 4
#define N_PORT_PARAMS 5
	struct spa_param_info params[N_PORT_PARAMS];
	bool have_format;
	struct spa_video_info_raw format; /* the data loop reads its max_framerate */
	enum source_path path; /* chosen by the last use_buffers */
	uint32_t n_alias_fbs; /* FBs the last allocation's dma-buf slots alias; 0 for none */

	/* Data loop: the main loop swaps the table through a blocking invoke. */
	struct slot slots[MAX_SLOTS];
	uint32_t n_slots;
	enum source_path slots_path; /* the path of the slots installed */
	struct spa_io_buffers *io;
};

/* The port's info and params before any format. */
void source_port_init(struct source_port *port);

/* Main loop: the port methods. Return 0 or -errno. */
int source_port_set_format(struct impl *this, uint32_t flags, const struct spa_pod *format);
int source_port_use_buffers(struct impl *this, uint32_t flags, struct spa_buffer **buffers,
		uint32_t n_buffers);
/* Main loop: drops the slots (a blocking invoke) and frees what they owned. */
void source_port_clear_slots(struct impl *this);

/* Data loop: whether the port can carry a frame: the graph gave it an io area and buffers. */
static inline bool source_port_ready(const struct source_port *port)
{
	return port->io && port->n_slots > 0;
}

/* Data loop: buffer_id may carry a frame again. */
void source_port_recycle(struct source_port *port, uint32_t buffer_id);
/*
 * Data loop: the least recently used free slot for fb_id: on the dma-buf path one that
 * aliases it, on the SHM path any. NULL sets *held when slots alias the FB but all are busy
 * or pending.
 */
struct slot *source_port_pick_slot(struct source_port *port, uint32_t fb_id, bool *held);
/*
 * Data loop: the dma-buf slots that alias an FB no longer in set (destroyed, of an old format,
 * or its id reused for other buffers) are never picked again, until the next allocation
 * replaces them: a new FB may take the id.
 */
void source_port_retire_missing(struct source_port *port, const struct scanout_set *set);
/* Data loop: a pending slot's frame was lost: the slot is free again. */
void source_port_release_pending(struct source_port *port, uint32_t slot_id);
/*
 * Main loop: a whole swapchain was re-created: the dma-buf slots alias no FB of set any more
 * (each one's FB left it), and set has at least as many FBs as the slots were made for. The
 * link's buffers then serve nothing on screen; the set is likely complete.
 */
bool source_port_swapchain_replaced(const struct source_port *port,
		const struct scanout_set *set);
/* The chunks of a slot that aliases fb: fb's planes as they are. */
void slot_fill_chunks(struct slot *slot, const struct scanout_fb *fb);

/* shm-copy.c */
/* Bytes of plane i of fb as the SHM path copies it: pitch times rows. */
size_t shm_plane_bytes(const struct scanout_fb *fb, uint32_t i);
/* Bytes of a frame of fb, every plane, as the SHM path copies it. */
uint64_t shm_frame_bytes(const struct scanout_fb *fb);
/* How many SHM buffers of fb's frames (every plane) a link may have: SHM_MAX_BYTES' worth,
 * within [MIN_SLOTS, MAX_SLOTS]. */
uint32_t shm_max_slots(const struct scanout_fb *fb);
/*
 * A MemFd per plane of fb for the slot, which owns them; buf's datas (one per plane) point at
 * them. Returns 0, -EINVAL when buf has not one data per plane, -ENOTSUP when a data takes no
 * MemFd, or -errno; on error the slot owns nothing.
 */
int shm_slot_alloc(struct slot *slot, struct spa_buffer *buf, const struct scanout_fb *fb);
/*
 * The slot copies fb's planes into buf's memory, which PipeWire allocated and keeps. Returns
 * 0, or -EINVAL when buf has not one mapped data per plane, each large enough.
 */
int shm_slot_use(struct slot *slot, struct spa_buffer *buf, const struct scanout_fb *fb);
/* Frees what a SHM slot or a spare owns; accepts a half-built slot (fds -1 where none). */
void shm_slot_free(struct slot *slot);
/*
 * Copies every plane of fb into the slot's planes (SHM or spare) and fills the chunks, each
 * plane from the dma-buf that holds it (mapped by scanout_fb_map if it is not yet). Data
 * loop: never waits. Returns 0; -EBUSY, copying nothing, while the writers' fences of any
 * dma-buf of the FB it reads (or a spare's readers') have not signalled; -ENOSPC when the
 * slot's memory does not fit fb (a new format: the link is being renegotiated); -ENOTSUP or
 * -EINVAL for an FB it cannot read; or -errno from mapping fb.
 */
int shm_copy_frame(struct slot *slot, struct scanout_fb *fb);

/* spare-slot.c */
/*
 * Makes slot a spare: a new dma-buf of fb's layout, made on card_fd (borrowed). Returns 0 or
 * -errno.
 */
int spare_slot_alloc(struct slot *slot, struct spa_data *d, int card_fd,
		const struct scanout_fb *fb);
/* How many spares the current allocation has: none when the consumer's buffer count left no
 * room for them beside SLOTS_PER_FB aliases of each FB. */
uint32_t spare_slots_held(const struct source_port *port);
/* The least recently used free spare, or NULL. Data loop. */
struct slot *spare_slot_pick(struct source_port *port);

#endif
