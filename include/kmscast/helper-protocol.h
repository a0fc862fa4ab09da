/*
 * The kmscast-helper wire protocol. Both kmscast-helper (helper/) and its unprivileged
 * client (src/lib/helper-client.c) include this header and nothing else defines the wire format.
 * docs/protocol.md describes the same thing in prose; keep the two in sync.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (a socketpair in spawned mode, a listening
 * socket in socket-activated mode). Every message is one SEQPACKET record of exactly the size
 * of its struct below; there is no framing inside a record and no message spans two records.
 * Both ends run on the same host, so fields are in host byte order.
 */
#ifndef KMSCAST_HELPER_PROTOCOL_H
#define KMSCAST_HELPER_PROTOCOL_H

#include <stdint.h>

/* "KMSH" read as a little-endian u32; catches a peer that speaks something else entirely. */
#define HELPER_PROTO_MAGIC 0x48534d4bu
#define HELPER_PROTO_VERSION 2 /* 2: CHECK and SAME */

/*
 * Limits. Everything a peer controls is bounded by one of these.
 * HELPER_MAX_MSG_SIZE is the largest record either side accepts; receivers read with a buffer
 * of exactly this size and treat MSG_TRUNC as an oversized (malformed) message.
 */
#define HELPER_MAX_MSG_SIZE 256
#define HELPER_MAX_PLANES 4
#define HELPER_MAX_FDS 4 /* one per distinct buffer object, at most one per plane */
#define HELPER_MAX_CARD_NAME 16 /* "card" + digits + NUL */
#define HELPER_MAX_CARD_INDEX 255 /* /dev/dri/card0 .. card255 */
#define HELPER_MAX_REASON 96 /* error reason text, NUL-terminated */
#define HELPER_MAX_CARDS 8 /* card fds the helper caches per connection */
/*
 * Primary-plane FBs per connection whose buffer objects the helper keeps a GEM handle on, so
 * that CHECK can tell them from a later FB under the same id (least recently used goes first).
 */
#define HELPER_MAX_KEPT_FBS 16
#define HELPER_MAX_CLIENTS 16 /* concurrent connections in socket-activated mode */
/*
 * Connections one uid may hold in socket-activated mode: one per CRTC node of a daemon plus a
 * probe fits, and at least two users can always get in.
 */
#define HELPER_MAX_CLIENTS_PER_UID (HELPER_MAX_CLIENTS / 2)
#define HELPER_HELLO_TIMEOUT_MS 5000 /* a connection must say hello within this */
/*
 * Socket-activated mode: a connection with no request for this long is closed with
 * ERROR(-ECONNRESET), so forgotten connections give their slot back. The client treats that
 * like any lost connection and reconnects on its next export.
 */
#define HELPER_IDLE_TIMEOUT_MS 60000

enum helper_msg_type {
	/* client -> helper */
	HELPER_MSG_HELLO = 1,
	HELPER_MSG_EXPORT = 2,
	HELPER_MSG_CHECK = 3,
	/* helper -> client */
	HELPER_MSG_HELLO_REPLY = 0x101,
	HELPER_MSG_FB = 0x102,
	HELPER_MSG_SAME = 0x103,
	HELPER_MSG_ERROR = 0x1ff,
};

/* Which plane of the CRTC to export. The numeric values are on the wire. */
enum kmscast_plane_kind {
	KMSCAST_PLANE_PRIMARY = 1,
	KMSCAST_PLANE_CURSOR = 2,
};

struct helper_msg_header {
	uint32_t magic; /* HELPER_PROTO_MAGIC */
	uint16_t version; /* HELPER_PROTO_VERSION */
	uint16_t type; /* enum helper_msg_type */
	uint32_t size; /* size of the whole record, must equal the type's struct size */
	uint32_t seq; /* chosen by the client, echoed in the reply */
};

/*
 * HELPER_MSG_HELLO and HELPER_MSG_HELLO_REPLY. The client sends HELLO first; nothing else is
 * accepted before it. The helper answers with HELLO_REPLY, or with ERROR
 * (-EPROTONOSUPPORT) and a close when the header's version differs from its own.
 */
struct helper_msg_hello {
	struct helper_msg_header hdr;
	uint32_t proto_version; /* HELPER_PROTO_VERSION of the sender */
	uint32_t reserved; /* must be 0 */
};

/*
 * HELPER_MSG_EXPORT: "give me the framebuffer on this plane of this CRTC, now".
 * Only identifiers travel: the request never names a framebuffer or a buffer object, so the
 * helper can only ever export what is being scanned out. Carries no fds.
 */
struct helper_msg_export {
	struct helper_msg_header hdr;
	char card[HELPER_MAX_CARD_NAME]; /* "cardN", NUL-terminated, zero-padded */
	uint32_t crtc_id; /* KMS object id of the CRTC */
	uint32_t plane; /* enum kmscast_plane_kind */
	uint32_t flags; /* must be 0 */
	uint32_t reserved; /* must be 0 */
};

/*
 * HELPER_MSG_CHECK: "is framebuffer fb_id still the one you exported to me under that id?"
 * The kernel gives a destroyed FB's id to the next FB created, so an id alone does not name a
 * buffer. The helper answers for primary-plane FBs it exported on this connection (it keeps a
 * GEM handle on their buffer objects, at most HELPER_MAX_KEPT_FBS): SAME when GETFB2 of
 * fb_id still reaches the same buffer objects; otherwise ERROR with -ESTALE (another buffer
 * now, or an id this connection has no record of: export again) or -ENOENT (no such FB).
 * Carries no fds and returns none, so it bypasses the seat check: nothing leaves the helper
 * but whether a buffer the peer already holds is still on that id.
 */
struct helper_msg_check {
	struct helper_msg_header hdr;
	char card[HELPER_MAX_CARD_NAME]; /* "cardN", NUL-terminated, zero-padded */
	uint32_t fb_id;
	uint32_t flags; /* must be 0 */
};

/* HELPER_MSG_SAME: the reply to a CHECK whose FB is unchanged. */
struct helper_msg_same {
	struct helper_msg_header hdr;
	uint32_t fb_id;
	uint32_t reserved; /* 0 */
};

/* helper_msg_fb::flags */
#define HELPER_FB_MODIFIER_EXPLICIT (1u << 0) /* GETFB2 reported DRM_MODE_FB_MODIFIERS */

/*
 * HELPER_MSG_FB: the reply to EXPORT. n_fds DMA-BUF fds ride along as one SCM_RIGHTS
 * control message, one per distinct buffer object; plane i's data lives in
 * fds[plane_fd_index[i]] at offsets[i] with pitches[i].
 */
struct helper_msg_fb {
	struct helper_msg_header hdr;
	uint32_t fb_id;
	uint32_t width;
	uint32_t height;
	uint32_t fourcc;
	uint64_t modifier; /* DRM_FORMAT_MOD_INVALID when HELPER_FB_MODIFIER_EXPLICIT is clear */
	uint32_t flags; /* HELPER_FB_* */
	uint32_t n_planes; /* 1..HELPER_MAX_PLANES */
	uint32_t offsets[HELPER_MAX_PLANES];
	uint32_t pitches[HELPER_MAX_PLANES];
	uint32_t plane_fd_index[HELPER_MAX_PLANES]; /* < n_fds for planes < n_planes */
	uint32_t n_fds; /* 1..HELPER_MAX_FDS, equals the fds attached */
	/*
	 * Diagnostic only: the GEM handle numbers the helper got from GETFB2 for each plane.
	 * A cursor FB's were closed before this reply was sent; a primary FB's stay open while
	 * the helper keeps the FB for CHECK. They mean nothing outside the helper's own open
	 * file of the card; tests use them to see that handles are not leaked.
	 */
	uint32_t gem_handles[HELPER_MAX_PLANES];
	uint32_t reserved; /* 0; keeps the struct free of implicit padding */
};

/*
 * HELPER_MSG_ERROR: a failed request (the connection stays usable) or, right before the
 * helper closes the connection, the reason it did so.
 */
struct helper_msg_error {
	struct helper_msg_header hdr;
	int32_t error; /* negative errno */
	char reason[HELPER_MAX_REASON]; /* NUL-terminated, for logs and humans */
};

_Static_assert(sizeof(struct helper_msg_header) == 16, "wire header size");
_Static_assert(sizeof(struct helper_msg_hello) == 24, "wire hello size");
_Static_assert(sizeof(struct helper_msg_export) == 48, "wire export size");
_Static_assert(sizeof(struct helper_msg_fb) == 120, "wire fb size");
_Static_assert(sizeof(struct helper_msg_error) == 116, "wire error size");
_Static_assert(sizeof(struct helper_msg_check) == 40, "wire check size");
_Static_assert(sizeof(struct helper_msg_same) == 24, "wire same size");

_Static_assert(sizeof(struct helper_msg_fb) <= HELPER_MAX_MSG_SIZE, "fb fits");
_Static_assert(sizeof(struct helper_msg_error) <= HELPER_MAX_MSG_SIZE, "error fits");

#endif
