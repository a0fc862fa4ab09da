/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_RELINK_GUARD_H
#define KMSCAST_RELINK_GUARD_H

/*
 * A workaround for PipeWire servers before 0.3.85, kept apart so that it can be deleted once
 * the oldest supported server has the fix. Pure: events and times in, a decision out.
 *
 * The bug (PipeWire issue 3619, fixed by "impl-link: reset state to INIT if not destroyed"):
 * when a node goes idle while one of its links renegotiates, as when another consumer leaves
 * just then, pw_impl_link_deactivate() marks that link prepared. It is activated and never
 * gets its buffers: its consumer receives nothing until the next renegotiation.
 *
 * The node cannot see links, only this: after a renegotiation it asked for, the port's new
 * buffers, then a Pause within RELINK_AFTER_BUFFERS_NS, then a Start within
 * RELINK_RESTART_NS of the Pause (the stranded link, marked prepared, restarts the graph at
 * once; a consumer that really connects takes a whole negotiation). The guard then asks for
 * one more renegotiation, at most MAX_RELINKS in a row. Measured under TCG: in all five
 * stranded cases the Pause came 1 to 123 ms after the buffers and the Start 4 to 13 ms after
 * the Pause. A lone consumer's renegotiation often pauses the node too, but before the
 * buffers arrive, and strands nothing.
 */

#include <stdbool.h>
#include <stdint.h>

#define RELINK_AFTER_BUFFERS_NS (500ull * 1000000ull)
#define RELINK_RESTART_NS (30ull * 1000000ull)
#define MAX_RELINKS 3

struct relink_guard {
	bool enabled; /* the server has the bug */
	bool renegotiating; /* asked for, no buffers since */
	uint64_t window_end; /* a Pause before it arms a relink; 0: no window */
	uint64_t paused_ns; /* when a Pause armed a relink, 0 when none is armed */
	uint32_t relinks; /* relinks since the last renegotiation for another reason */
};

enum relink_decision {
	RELINK_NONE,
	RELINK_NOW, /* renegotiate once more: a link may be stranded */
	RELINK_GIVE_UP, /* it would be stranded again; MAX_RELINKS in a row already */
};

/*
 * True when a server of this version ("major.minor.micro", as its core info says) has the
 * bug: 0.x before 0.3.85. A version that starts with 1 or more is not affected whatever
 * follows ("1.6", "1.6.9-rc1"); NULL, or a 0.x or other text that does not parse, counts as
 * affected, since then the server may be an old one.
 */
bool relink_guard_server_affected(const char *server_version);

void relink_guard_init(struct relink_guard *g, bool enabled);
/* The node asked for a renegotiation; relink says it was one this guard decided on. */
void relink_guard_renegotiate(struct relink_guard *g, bool relink);
/* The port got buffers, the node paused or started, at now (CLOCK_MONOTONIC ns, > 0). */
void relink_guard_buffers(struct relink_guard *g, uint64_t now);
void relink_guard_paused(struct relink_guard *g, uint64_t now);
enum relink_decision relink_guard_started(struct relink_guard *g, uint64_t now);

#endif
