/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_H
#define KMSCAST_SOURCE_H

/*
 * Private to the api.kmscast.source node. The node is split by concern:
 *   kmscast-source.c  SPA node methods, lifecycle, props
 *   source-params.c   the pods it announces (EnumFormat, Format, Buffers, Meta, IO)
 *   source-frame.c    data loop: one tick per vblank/poll, picks the slot, fills metadata
 *   handoff.c         the io area when another node drives the graph
 *   source-learn.c    main loop: exports new FBs through the helper, renegotiates
 *   shm-copy.c        the SHM path's MemFd buffers and CPU copy
 *   cursor.c          the cursor plane as SPA_META_Cursor
 *   scanout-set.c     the FBs a node aliases; scanout-cache.c what the process learned
 *
 * Threads: node methods run on the main loop, ticks and process() on the data loop. The
 * scanout set and the slot table are only changed on the data loop (the main loop changes them
 * through a blocking spa_loop_invoke), so the data loop reads them without locks.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/buffer/meta.h>
#include <spa/node/io.h>
#include <spa/node/node.h>
#include <spa/node/utils.h>
#include <spa/param/video/format.h>
#include <spa/support/log.h>
#include <spa/support/loop.h>
#include <spa/support/plugin.h>
#include <spa/support/system.h>
#include <spa/utils/hook.h>

#include "cursor.h"
#include "flip-source.h"
#include "handoff.h"
#include "helper-client.h"
#include "kms.h"
#include "relink-guard.h"
#include "scanout-cache.h"
#include "scanout-set.h"

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
 * A static screen (no flip for RESEND_IDLE_NS) goes out again every DEFAULT_RESEND_MS
 * (kmscast.resend-ms; 0: never), never faster than the consumer's maximum framerate: 20 Hz
 * shows front-buffer rendering
 * (X11 without page flips, the console) at half its rate or better up to 20 Hz, and costs a
 * desktop that flips nothing (resend_due in source-frame.c).
 */
#define DEFAULT_RESEND_MS 50
#define MAX_RESEND_MS 60000
/*
 * Re-sends wait until the screen has not flipped for this long: a compositor that misses a
 * few vblanks (a busy machine) is not static, and re-sending would repeat its last frame.
 */
#define RESEND_IDLE_NS (500 * SPA_NSEC_PER_MSEC)

/* How long an unknown FB keeps an idle node ticking at the full rate; see source-frame.c. */
#define LEARN_BURST_NS (1000 * SPA_NSEC_PER_MSEC)

/*
 * How long the set must stay unchanged before the link is renegotiated: longer than one turn
 * of a compositor's swapchain (3 or 4 FBs at 60 Hz), so that a re-created swapchain costs one
 * reallocation, not one per FB. Frames on FBs outside the buffers are lost meanwhile.
 */
#define RENEGOTIATE_DEBOUNCE_NS (120 * SPA_NSEC_PER_MSEC)

enum source_path {
	PATH_NONE,
	PATH_DMABUF, /* slots alias the scanout FBs: zero copy */
	PATH_SHM, /* slots are MemFd buffers filled by a CPU copy */
};

struct slot {
	uint32_t id;
	struct spa_buffer *buf;
	uint32_t fb_id; /* PATH_DMABUF: the FB this slot aliases, 0 for a spare */
	bool spare; /* PATH_DMABUF: our own dma-buf, filled by a copy (spare-slot.c) */
	bool busy; /* handed out, not recycled yet */
	uint64_t last_used; /* tick count when last handed out, for LRU */
	struct spa_meta_header *header;
	struct spa_meta_region *crop;
	struct spa_meta_cursor *cursor;
	size_t cursor_size;
	int shm_fd; /* PATH_SHM: owned memfd; a spare: owned dma-buf; else -1 */
	void *shm_map; /* PATH_SHM or a spare: owned mapping */
	size_t shm_size;
};

struct source_stats {
	uint64_t ticks;
	uint64_t flips; /* FB_ID changes seen */
	uint64_t delivered;
	uint64_t cursor_only; /* buffers that carried only a cursor update */
	uint64_t dropped_busy; /* every alias of the FB still held */
	uint64_t dropped_unknown; /* FB not in the buffers yet */
	uint64_t dropped_unconsumed; /* replaced before the graph took it */
	uint64_t renegotiations;
	uint64_t exports;
	uint64_t resent; /* the FB on screen again: no flip for a while, or a new consumer */
	uint64_t copied; /* frames on an FB newer than the buffers, copied into a spare */
};

struct impl {
	struct spa_handle handle;
	struct spa_node node;

	struct spa_log *log;
	struct spa_loop *main_loop;
	struct spa_loop_utils *main_utils;
	struct spa_loop *data_loop;
	struct spa_system *data_system;

	struct spa_hook_list hooks;
	struct spa_callbacks callbacks;

	uint64_t info_all;
	struct spa_node_info info;
#define NODE_EnumFormat 0
#define NODE_Format 1
#define N_NODE_PARAMS 2
	struct spa_param_info params[N_NODE_PARAMS];
	struct spa_dict_item info_items[10];
	struct spa_dict info_dict; /* over info_items; info.props points here */
	char crtc_str[16];
	char description[128];
	char name[96];

	uint64_t port_info_all;
	struct spa_port_info port_info;
#define PORT_EnumFormat 0
#define PORT_Meta 1
#define PORT_IO 2
#define PORT_Format 3
#define PORT_Buffers 4
#define N_PORT_PARAMS 5
	struct spa_param_info port_params[N_PORT_PARAMS];

	/* Configuration, from the factory info dict. */
	char card[KMS_NAME_MAX];
	char connector[KMS_NAME_MAX];
	uint32_t crtc_id;
	struct helper_client_options helper_opts;
	char helper_path[256];
	char helper_socket[256];

	struct scanout_cache *cache; /* one reference; shared with this CRTC's other nodes */
	/* KMS: the card fd is ours; primary and cursor are copies the data loop owns. */
	struct kms_device *kms;
	struct kms_plane primary;
	struct kms_plane cursor_plane;
	bool has_cursor_plane;
	/*
	 * kmscast.modifierless-dmabuf: serve the EnumFormat without a modifier with dma-bufs
	 * when the consumer takes them (true, the default: gst pipewiresrc negotiates no
	 * modifier and still imports them), or always by CPU copy (false: the portal
	 * convention of mutter and xdg-desktop-portal-wlr, which apps such as OBS rely on to
	 * fall back when they cannot import the FB's modifier).
	 */
	bool modifierless_dmabuf;
	/*
	 * kmscast.copy: only the format without a modifier, only MemFd/MemPtr buffers, always
	 * PATH_SHM. A consumer that imports a scanout dma-buf may draw on the live screen; a
	 * copy node's consumer only ever holds our copies.
	 */
	bool copy_only;
	bool cursor_hidden; /* kmscast.cursor-mode=hidden: no SPA_META_Cursor offered */
	char name_prop[96]; /* node.name from the factory info (a portal session's), or empty */
	uint32_t refresh_mhz;
	struct helper_client *helper; /* NULL until first use, again after a helper crash */

	/* Main loop state. */
	bool have_format;
	struct spa_video_info_raw format;
	enum source_path path;
	struct spa_source *renegotiate_timer;
	bool renegotiate_pending;
	/*
	 * Whether a new FB of the same format renegotiates a running stream, or waits for the
	 * next Pause while spare slots carry its frames (servers 1.0 to 1.5, whose pipewiresrc
	 * ends a stream that gets a format mid-stream).
	 */
	bool renegotiate_midstream;
	bool renegotiate_at_pause; /* FBs joined while streaming; their aliases are owed */
	struct relink_guard relink; /* servers before 0.3.85 only */
	bool relink_pending; /* the scheduled renegotiation is a relink */
	bool closing; /* impl_clear runs: queued learn requests are ignored */
	bool warned_full; /* logged once that the set is full of live FBs */
	uint64_t ready_ns; /* data loop: when the node last woke the graph (ready()) */
	bool warned_stale_io; /* logged once per node that the graph left a frame unread */
	bool warned_no_spares; /* logged a mid-stream renegotiation for want of spares, since
				  the last allocation */

	/* Data loop state. */
	struct flip_source flip;
	struct scanout_set set;
	struct slot slots[MAX_SLOTS];
	uint32_t n_slots;
	enum source_path slots_path;
	bool started;
	uint32_t last_fb;
	uint64_t learn_burst_end; /* full-rate ticks until then (CLOCK_MONOTONIC ns) */
	bool learn_inflight; /* a learn request is queued on the main loop (atomic) */
	bool discont; /* a frame was lost since the last one delivered */
	/*
	 * A consumer that just started, or got new buffers, is owed the screen within a period
	 * even if nothing flips: frame_due_ns is when it became owed, 0 when nothing is.
	 */
	uint64_t frame_due_ns;
	uint64_t last_frame_ns; /* when a frame last went out (a flip or a re-send) */
	uint64_t last_flip_ns; /* when the primary plane last showed a new FB */
	uint64_t resend_ns; /* kmscast.resend-ms: re-send a static screen this often; 0 never */
	bool resend_requested; /* RequestProcess: a consumer asks for a frame now */
	uint64_t seq;
	struct handoff handoff; /* the newest frame, while another node drives */
	struct spa_io_buffers *io;
	struct spa_io_clock *clock;
	struct spa_io_position *position;
	struct cursor_state cursor;
	struct source_stats stats;
	struct source_stats stream_base; /* stats at the last Start */
	uint64_t stream_base_missed;
};

/* The refresh rate in whole Hz; 60 when the mode's is unknown (0 would make 1.6 refuse the
 * maxFramerate range, 0/1 to 1/1, as an impossible one). */
static inline uint32_t source_refresh_hz(const struct impl *this)
{
	uint32_t hz = (this->refresh_mhz + 500) / 1000;

	return hz ? hz : 60;
}

/* source-params.c */
int source_port_enum_params(struct impl *this, int seq, uint32_t id, uint32_t start,
		uint32_t num, const struct spa_pod *filter);
/* Fills *info from the set's first FB; -EIO when the set is empty, -ENOTSUP when its fourcc
 * has no SPA video format. */
int source_set_format_info(struct impl *this, struct spa_video_info_raw *info, bool modifier);

/* source-frame.c: data loop */
extern const struct flip_source_events source_flip_events;
/* Recycles buffer_id: it may alias an FB again. */
void source_recycle(struct impl *this, uint32_t buffer_id);
int source_process(struct impl *this);

/* source-learn.c: main loop */
/* Exports the FB on screen and adds it to the set. Returns 0 or -errno. */
int source_learn_now(struct impl *this);
/* Queued from the data loop when an FB outside the set appears. */
void source_request_learn(struct impl *this, uint32_t fb_id);
/* Renegotiates once the set has been still for RENEGOTIATE_DEBOUNCE_NS. Main loop. */
void source_schedule_renegotiate(struct impl *this);
/* Announces a changed EnumFormat so that the link reallocates. */
void source_renegotiate(struct impl *this, const char *why);
/* The graph paused, started or gave the port buffers: the relink guard's events. */
void source_relink_paused(struct impl *this);
void source_relink_started(struct impl *this);
void source_relink_buffers(struct impl *this);
int source_learn_init(struct impl *this);
void source_learn_finish(struct impl *this);
/* Emits port info with the changed param flags. Main loop. */
void source_emit_port_info(struct impl *this, bool full);
void source_emit_node_info(struct impl *this, bool full);

/* shm-copy.c */
int shm_slot_alloc(struct impl *this, struct slot *slot, struct spa_data *d);
/* Frees what a SHM slot or a spare owns. */
void shm_slot_free(struct slot *slot);
/* Copies fb into the slot's own memory (SHM or spare); fills the chunk. Data loop. Returns 0
 * or -errno. */
int shm_copy_frame(struct impl *this, struct slot *slot, struct scanout_fb *fb);

/* spare-slot.c */
/* Whether this node uses spares (servers 1.0 to 1.5) and the set's FBs can be copied into
 * them (linear, one plane). */
bool spare_slots_possible(const struct impl *this);
/* How many spares the current allocation has: none when the consumer's buffer count left no
 * room for them beside SLOTS_PER_FB aliases of each FB. */
uint32_t spare_slots_held(const struct impl *this);
/* Makes slot a spare backed by a new dma-buf of the set's layout. Returns 0 or -errno. */
int spare_slot_alloc(struct impl *this, struct slot *slot, struct spa_data *d);
/* The least recently used free spare, or NULL. Data loop. */
struct slot *spare_slot_pick(struct impl *this);

#endif
