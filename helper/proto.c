/*
 * Parsing and building of wire records. Pure functions: no I/O, no allocation, no globals,
 * so the unit tests and the fuzzer can drive them with arbitrary bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "helper.h"

/* Everything the kernel told us besides the bytes: truncated data, attached control data. */
static int check_meta(const struct helper_rx_meta *meta, char *reason, size_t reason_size)
{
	if (meta->msg_flags & MSG_TRUNC) {
		return helper_fail(reason, reason_size, -EPROTO,
			"oversized message (more than %d bytes)", HELPER_MAX_MSG_SIZE);
	}
	/* Received with no control buffer: anything attached (fds) shows up only as this. */
	if (meta->msg_flags & MSG_CTRUNC) {
		return helper_fail(reason, reason_size, -EPROTO,
			"request carries fds or other control data, requests carry none");
	}
	return 0;
}

static int parse_hello(
	const void *buf, struct helper_request *req, char *reason, size_t reason_size)
{
	struct helper_msg_hello msg;
	memcpy(&msg, buf, sizeof(msg));
	if (msg.reserved != 0) {
		return helper_fail(reason, reason_size, -EPROTO, "hello: reserved field not zero");
	}
	if (msg.proto_version != HELPER_PROTO_VERSION) {
		snprintf(reason, reason_size, "unsupported protocol version %u (helper speaks %u)",
			msg.proto_version, HELPER_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	req->type = HELPER_MSG_HELLO;
	return 0;
}

/*
 * A card field must be NUL-terminated and zero-padded; the name before the NUL is checked by
 * whoever uses it. what names the request in the reason.
 */
static int check_card_field(
	const char card[HELPER_MAX_CARD_NAME], const char *what, char *reason, size_t reason_size)
{
	size_t name_len = strnlen(card, HELPER_MAX_CARD_NAME);
	if (name_len == HELPER_MAX_CARD_NAME) {
		return helper_fail(
			reason, reason_size, -EPROTO, "%s: card name not NUL-terminated", what);
	}
	for (size_t i = name_len; i < HELPER_MAX_CARD_NAME; i++) {
		if (card[i] != '\0') {
			return helper_fail(reason, reason_size, -EPROTO,
				"%s: card name not zero-padded", what);
		}
	}
	return 0;
}

static int parse_export(
	const void *buf, struct helper_request *req, char *reason, size_t reason_size)
{
	struct helper_msg_export msg;
	memcpy(&msg, buf, sizeof(msg));

	int r = check_card_field(msg.card, "export", reason, reason_size);
	if (r < 0) {
		return r;
	}
	if (msg.plane != KMSCAST_PLANE_PRIMARY && msg.plane != KMSCAST_PLANE_CURSOR) {
		return helper_fail(
			reason, reason_size, -EPROTO, "export: unknown plane kind %u", msg.plane);
	}
	if (msg.flags != 0 || msg.reserved != 0) {
		return helper_fail(
			reason, reason_size, -EPROTO, "export: flags or reserved field not zero");
	}

	req->type = HELPER_MSG_EXPORT;
	memcpy(req->card, msg.card, sizeof(req->card));
	req->crtc_id = msg.crtc_id;
	req->plane = (enum kmscast_plane_kind)msg.plane;
	return 0;
}

/*
 * Unlike EXPORT, a CHECK with a bad card name is malformed, not merely failed: it can only
 * name a card this connection exported from, which the client named by the same rule.
 */
static int parse_check(
	const void *buf, struct helper_request *req, char *reason, size_t reason_size)
{
	struct helper_msg_check msg;
	memcpy(&msg, buf, sizeof(msg));

	int r = check_card_field(msg.card, "check", reason, reason_size);
	if (r < 0) {
		return r;
	}
	if (!wire_card_name_valid(msg.card)) {
		return helper_fail(reason, reason_size, -EPROTO, "check: invalid card name");
	}
	if (msg.flags != 0) {
		return helper_fail(reason, reason_size, -EPROTO, "check: flags not zero");
	}

	req->type = HELPER_MSG_CHECK;
	memcpy(req->card, msg.card, sizeof(req->card));
	req->fb_id = msg.fb_id;
	return 0;
}

int helper_parse_request(const void *buf, size_t len, const struct helper_rx_meta *meta,
	struct helper_request *req, char *reason, size_t reason_size)
{
	memset(req, 0, sizeof(*req));
	int r = check_meta(meta, reason, reason_size);
	if (r < 0) {
		return r;
	}
	struct helper_msg_header hdr;
	r = wire_header_check(WIRE_REQUEST, buf, len, &hdr, reason, reason_size);
	if (r < 0) {
		return r;
	}
	req->seq = hdr.seq;

	/* wire_header_check let through only request types, each at its exact size. */
	switch (hdr.type) {
	case HELPER_MSG_HELLO:
		return parse_hello(buf, req, reason, reason_size);
	case HELPER_MSG_EXPORT:
		return parse_export(buf, req, reason, reason_size);
	case HELPER_MSG_CHECK:
		return parse_check(buf, req, reason, reason_size);
	default:
		return helper_fail(
			reason, reason_size, -EPROTO, "unknown message type 0x%x", hdr.type);
	}
}

void helper_build_error(struct helper_msg_error *msg, uint32_t seq, int error, const char *reason)
{
	memset(msg, 0, sizeof(*msg));
	wire_header_init(&msg->hdr, HELPER_MSG_ERROR, sizeof(*msg), seq);
	msg->error = error;
	snprintf(msg->reason, sizeof(msg->reason), "%s", reason);
}

void helper_build_hello_reply(struct helper_msg_hello *msg, uint32_t seq)
{
	memset(msg, 0, sizeof(*msg));
	wire_header_init(&msg->hdr, HELPER_MSG_HELLO_REPLY, sizeof(*msg), seq);
	msg->proto_version = HELPER_PROTO_VERSION;
}

void helper_build_fb_header(struct helper_msg_fb *msg, uint32_t seq)
{
	wire_header_init(&msg->hdr, HELPER_MSG_FB, sizeof(*msg), seq);
}

void helper_build_same_reply(struct helper_msg_same *msg, uint32_t seq, uint32_t fb_id)
{
	memset(msg, 0, sizeof(*msg));
	wire_header_init(&msg->hdr, HELPER_MSG_SAME, sizeof(*msg), seq);
	msg->fb_id = fb_id;
}
