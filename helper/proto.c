/*
 * Parsing and building of wire records. Pure functions: no I/O, no allocation, no globals,
 * so the unit tests and the fuzzer can drive them with arbitrary bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "helper.h"

static int malformed(char *reason, size_t reason_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int malformed(char *reason, size_t reason_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, reason_size, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static size_t request_size(uint16_t type)
{
	switch (type) {
	case HELPER_MSG_HELLO:
		return sizeof(struct helper_msg_hello);
	case HELPER_MSG_EXPORT:
		return sizeof(struct helper_msg_export);
	default:
		return 0;
	}
}

/* Everything the kernel told us besides the bytes: truncated data, attached control data. */
static int check_meta(const struct helper_rx_meta *meta, char *reason, size_t reason_size)
{
	if (meta->msg_flags & MSG_TRUNC) {
		return malformed(reason, reason_size, "oversized message (more than %d bytes)",
			HELPER_MAX_MSG_SIZE);
	}
	/* Received with no control buffer: anything attached (fds) shows up only as this. */
	if (meta->msg_flags & MSG_CTRUNC) {
		return malformed(reason, reason_size,
			"request carries fds or other control data, requests carry none");
	}
	return 0;
}

static int check_header(
	const struct helper_msg_header *hdr, size_t len, char *reason, size_t reason_size)
{
	if (hdr->magic != HELPER_PROTO_MAGIC) {
		return malformed(reason, reason_size, "bad magic 0x%08x", hdr->magic);
	}
	if (hdr->version != HELPER_PROTO_VERSION) {
		snprintf(reason, reason_size, "unsupported protocol version %u (helper speaks %u)",
			hdr->version, HELPER_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hdr->size != len) {
		return malformed(reason, reason_size, "size field %u but record has %zu bytes",
			hdr->size, len);
	}
	size_t expected = request_size(hdr->type);
	if (expected == 0) {
		return malformed(reason, reason_size, "unknown message type 0x%x", hdr->type);
	}
	if (len != expected) {
		return malformed(reason, reason_size, "type 0x%x needs %zu bytes, got %zu",
			hdr->type, expected, len);
	}
	return 0;
}

static int parse_hello(
	const void *buf, struct helper_request *req, char *reason, size_t reason_size)
{
	struct helper_msg_hello msg;
	memcpy(&msg, buf, sizeof(msg));
	if (msg.reserved != 0) {
		return malformed(reason, reason_size, "hello: reserved field not zero");
	}
	if (msg.proto_version != HELPER_PROTO_VERSION) {
		snprintf(reason, reason_size, "unsupported protocol version %u (helper speaks %u)",
			msg.proto_version, HELPER_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	req->type = HELPER_MSG_HELLO;
	return 0;
}

static int parse_export(
	const void *buf, struct helper_request *req, char *reason, size_t reason_size)
{
	struct helper_msg_export msg;
	memcpy(&msg, buf, sizeof(msg));

	size_t name_len = strnlen(msg.card, sizeof(msg.card));
	if (name_len == sizeof(msg.card)) {
		return malformed(reason, reason_size, "export: card name not NUL-terminated");
	}
	for (size_t i = name_len; i < sizeof(msg.card); i++) {
		if (msg.card[i] != '\0') {
			return malformed(reason, reason_size, "export: card name not zero-padded");
		}
	}
	if (msg.plane != KMSCAST_PLANE_PRIMARY && msg.plane != KMSCAST_PLANE_CURSOR) {
		return malformed(reason, reason_size, "export: unknown plane kind %u", msg.plane);
	}
	if (msg.flags != 0 || msg.reserved != 0) {
		return malformed(reason, reason_size, "export: flags or reserved field not zero");
	}

	req->type = HELPER_MSG_EXPORT;
	memcpy(req->card, msg.card, sizeof(req->card));
	req->crtc_id = msg.crtc_id;
	req->plane = (enum kmscast_plane_kind)msg.plane;
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
	if (len == 0) {
		return malformed(reason, reason_size, "empty message");
	}
	if (len > HELPER_MAX_MSG_SIZE) {
		return malformed(reason, reason_size, "oversized message (%zu bytes)", len);
	}
	if (len < sizeof(struct helper_msg_header)) {
		return malformed(reason, reason_size, "short message (%zu bytes)", len);
	}

	struct helper_msg_header hdr;
	memcpy(&hdr, buf, sizeof(hdr));
	r = check_header(&hdr, len, reason, reason_size);
	if (r < 0) {
		return r;
	}
	req->seq = hdr.seq;

	if (hdr.type == HELPER_MSG_HELLO) {
		return parse_hello(buf, req, reason, reason_size);
	}
	return parse_export(buf, req, reason, reason_size);
}

bool helper_card_name_valid(const char *name)
{
	if (strncmp(name, "card", 4) != 0) {
		return false;
	}
	const char *digits = name + 4;
	size_t n = strlen(digits);
	if (n == 0 || n > 3 || (n > 1 && digits[0] == '0')) {
		return false;
	}
	unsigned int index = 0;
	for (size_t i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9') {
			return false;
		}
		index = index * 10 + (unsigned int)(digits[i] - '0');
	}
	return index <= HELPER_MAX_CARD_INDEX;
}

static void build_header(struct helper_msg_header *hdr, uint16_t type, uint32_t size, uint32_t seq)
{
	hdr->magic = HELPER_PROTO_MAGIC;
	hdr->version = HELPER_PROTO_VERSION;
	hdr->type = type;
	hdr->size = size;
	hdr->seq = seq;
}

void helper_build_error(struct helper_msg_error *msg, uint32_t seq, int error, const char *reason)
{
	memset(msg, 0, sizeof(*msg));
	build_header(&msg->hdr, HELPER_MSG_ERROR, sizeof(*msg), seq);
	msg->error = error;
	snprintf(msg->reason, sizeof(msg->reason), "%s", reason);
}

void helper_build_hello_reply(struct helper_msg_hello *msg, uint32_t seq)
{
	memset(msg, 0, sizeof(*msg));
	build_header(&msg->hdr, HELPER_MSG_HELLO_REPLY, sizeof(*msg), seq);
	msg->proto_version = HELPER_PROTO_VERSION;
}

void helper_build_fb_header(struct helper_msg_fb *msg, uint32_t seq)
{
	build_header(&msg->hdr, HELPER_MSG_FB, sizeof(*msg), seq);
}
