/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_H
#define KMSCAST_SOURCE_H

/*
 * Private to the api.kmscast.source node. struct impl holds what the whole node shares (its
 * support, SPA info and hooks, the CRTC, the scanout set) and one state struct per concern,
 * each declared beside the file that changes it:
 *   kmscast-source.c  the handle and its factory: init, clear, opening the CRTC
 *   source-node.c     SPA node methods; node and port info events
 *   source-props.c    struct source_config from the factory info; the node's info dict
 *   source-port.c     struct source_port: the format, the buffer slots, the zero-copy aliases
 *   shm-copy.c        the SHM path's MemFd slots and the CPU copy
 *   spare-slot.c      dma-bufs of the node's own for FBs newer than the allocation
 *   source-params.c   the pods it announces (EnumFormat, Format, Buffers, Meta, IO)
 *   source-frame.c    struct source_frame, data loop: one tick per vblank/poll, picks the slot,
 *                     fills metadata
 *   handoff.c         struct handoff: the io area when another node drives the graph
 *   source-learn.c    struct source_learn, main loop: asks the helper thread for new FBs,
 *                     learns them as they come back, renegotiates
 *   source-helper.c   struct source_helper: the helper thread, owner of the helper connection
 *   source-card.c     struct source_card: the card going away, and opening it again
 *   relink-guard.c    struct relink_guard: the stranded-link workaround (servers < 0.3.85)
 *   cursor.c          struct cursor: the cursor plane as SPA_META_Cursor
 *   flip-source.c     struct flip_source: vblank or timer wake-ups
 *   source-stats.c    struct source_stats: the counters and their log lines
 *   scanout-set.c     the FBs a node aliases; scanout-cache.c what the process learned
 *
 * Threads: node methods run on the main loop, ticks and process() on the data loop, helper
 * round trips on the node's helper thread (source-helper.h), whose results come back to the
 * main loop through an event source (source-learn.c). The
 * scanout set and the slot table are only changed on the data loop (the main loop changes them
 * through a blocking spa_loop_invoke), so the data loop reads them without locks.
 */

#include <stdbool.h>
#include <stdint.h>

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
#include "kms.h"
#include "scanout-cache.h"
#include "scanout-set.h"
#include "source-card.h"
#include "source-check.h"
#include "source-frame.h"
#include "source-learn.h"
#include "source-port.h"
#include "source-props.h"
#include "source-stats.h"

struct impl {
	struct spa_handle handle;
	struct spa_node node;

	/* Support, from the host. */
	struct spa_log *log;
	struct spa_loop *main_loop;
	struct spa_loop_utils *main_utils;
	struct spa_loop *data_loop;
	struct spa_system *data_system;

	/* The node's SPA face, main loop. */
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

	struct source_config config; /* fixed after init */

	/*
	 * The CRTC: the card fd is ours. NULL while the card is away (source-card.c); changed
	 * on the data loop only, with the flip source stopped.
	 */
	struct kms_device *kms;
	uint32_t refresh_mhz;
	struct scanout_cache *cache; /* one reference; shared with this CRTC's other nodes */
	struct scanout_set set; /* changed on the data loop only (the threads rule above) */
	bool closing; /* impl_clear runs: queued learn requests are ignored */

	struct source_port port;
	struct source_learn learn;
	struct source_card card;
	struct source_check check;
	struct flip_source flip;
	struct source_frame frame;
	struct cursor cursor;
	/* The graph's, set by set_io; the data loop reads them. */
	struct spa_io_clock *clock;
	struct spa_io_position *position;
	struct source_stats stats;
};

/* The refresh rate in whole Hz, for the graph's clock; 60 when the mode's is unknown. */
static inline uint32_t source_refresh_hz(const struct impl *this)
{
	uint32_t hz = (this->refresh_mhz + 500) / 1000;

	return hz ? hz : 60;
}

/* One refresh period in ns; 60 Hz's when the mode's refresh is unknown. */
static inline uint64_t source_period_ns(const struct impl *this)
{
	return SPA_NSEC_PER_SEC * 1000ull / (this->refresh_mhz ? this->refresh_mhz : 60000);
}

/*
 * The mode's refresh as maxFramerate, exact: mHz over 1000 in lowest terms (59.94 Hz is
 * 2997/50, vkms's 60.004 Hz 15001/250), as mutter advertises its monitor's. 60/1 when the
 * mode's is unknown (a 0/1 bound would make PipeWire 1.6 refuse the maxFramerate range).
 */
static inline struct spa_fraction source_refresh_fraction(const struct impl *this)
{
	uint32_t a = this->refresh_mhz, b = 1000;

	if (a == 0) {
		return SPA_FRACTION(60, 1);
	}
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return SPA_FRACTION(this->refresh_mhz / a, 1000 / a);
}

/*
 * Whether a link on the format without a modifier aliases the FBs when its consumer takes
 * dma-bufs (kmscast.modifierless-dmabuf, a linear FB, not a copy node); else such a link is
 * always served by copies.
 */
static inline bool source_modifierless_may_alias(const struct impl *this)
{
	return !this->config.copy_only && this->config.modifierless_dmabuf && this->set.n > 0 &&
			scanout_fb_linear(&this->set.fbs[0].hfb);
}

/* kmscast-source.c: starts or stops the flip source on the data loop (a blocking invoke). */
void source_flip_set_running(struct impl *this, bool run);

/* source-node.c: the node methods; kmscast-source.c's handle hands them out. */
extern const struct spa_node_methods source_node_methods;
/* Emits node or port info with the changed flags (all of them when full). Main loop. */
void source_emit_node_info(struct impl *this, bool full);
void source_emit_port_info(struct impl *this, bool full);
/* Announces a changed EnumFormat on the node and the port, so that the link reallocates. */
void source_announce_enum_format(struct impl *this);

/* source-params.c */
int source_port_enum_params(struct impl *this, int seq, uint32_t id, uint32_t start,
		uint32_t num, const struct spa_pod *filter);
/* Fills *info from the set's first FB; -EIO when the set is empty, -ENOTSUP when its fourcc
 * has no SPA video format. */
int source_set_format_info(struct impl *this, struct spa_video_info_raw *info, bool modifier);

/* spare-slot.c */
/* Whether this node uses spares (servers 1.0 to 1.5) and the set's FBs can be copied into
 * them (linear, one plane). */
bool spare_slots_possible(const struct impl *this);

#endif
