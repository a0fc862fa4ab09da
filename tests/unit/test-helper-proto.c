/* SPDX-License-Identifier: MIT */
/* The pure protocol functions: the helper's request parser and the client's reply parser. */
#include <errno.h>
#include <sys/socket.h>

#include <drm_fourcc.h>

#include "helper-client.h"
#include "helper.h"
#include "test-helper-util.h"

static int parse(const void *buf, size_t len, const struct helper_rx_meta *meta,
	struct helper_request *req, const char *want_reason)
{
	char reason[HELPER_MAX_REASON] = "";
	struct helper_rx_meta none = {0};
	int r = helper_parse_request(buf, len, meta ? meta : &none, req, reason, sizeof(reason));
	if (want_reason != NULL && strstr(reason, want_reason) == NULL) {
		test_fail("reason \"%s\" does not mention \"%s\"", reason, want_reason);
	}
	return r;
}

static void test_valid_requests(void)
{
	struct helper_request req;
	struct helper_msg_hello hello = make_hello(7);
	test_assert_int_eq(parse(&hello, sizeof(hello), NULL, &req, NULL), 0);
	test_assert_int_eq(req.type, HELPER_MSG_HELLO);
	test_assert_int_eq(req.seq, 7);

	struct helper_msg_export exp = make_export(8, "card12", 37, KMSCAST_PLANE_CURSOR);
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, NULL), 0);
	test_assert_int_eq(req.type, HELPER_MSG_EXPORT);
	test_assert_str_eq(req.card, "card12");
	test_assert_int_eq(req.crtc_id, 37);
	test_assert_int_eq(req.plane, KMSCAST_PLANE_CURSOR);
}

static void test_bad_sizes(void)
{
	struct helper_request req;
	uint8_t buf[HELPER_MAX_MSG_SIZE + 8] = {0};
	struct helper_msg_hello hello = make_hello(1);
	memcpy(buf, &hello, sizeof(hello));
	test_assert_int_eq(parse(buf, 0, NULL, &req, "empty message"), -EPROTO);
	for (size_t len = 1; len < sizeof(struct helper_msg_header); len++) {
		test_assert_int_eq(parse(buf, len, NULL, &req, "short message"), -EPROTO);
	}
	test_assert_int_eq(parse(buf, HELPER_MAX_MSG_SIZE + 1, NULL, &req, "oversized"), -EPROTO);
	struct helper_rx_meta trunc = {.msg_flags = MSG_TRUNC};
	test_assert_int_eq(parse(buf, sizeof(hello), &trunc, &req, "oversized"), -EPROTO);
	/* Header complete, body short or long: the size field and the type disagree. */
	for (size_t len = sizeof(struct helper_msg_header); len < sizeof(buf); len++) {
		if (len == sizeof(hello)) {
			continue;
		}
		struct helper_msg_hello h = hello;
		h.hdr.size = (uint32_t)len;
		memcpy(buf, &h, sizeof(h));
		test_assert_int_eq(parse(buf, len, NULL, &req, NULL), -EPROTO);
	}
}

static void test_bad_header(void)
{
	struct helper_request req;
	struct helper_msg_hello hello = make_hello(1);
	hello.hdr.magic = 0;
	test_assert_int_eq(parse(&hello, sizeof(hello), NULL, &req, "bad magic"), -EPROTO);
	hello = make_hello(1);
	hello.hdr.version = 1; /* a client from before CHECK */
	test_assert_int_eq(parse(&hello, sizeof(hello), NULL, &req, "version 1"), -EPROTONOSUPPORT);
	hello = make_hello(1);
	hello.hdr.type = HELPER_MSG_ERROR;
	test_assert_int_eq(
		parse(&hello, sizeof(hello), NULL, &req, "unknown message type"), -EPROTO);
	hello = make_hello(1);
	hello.reserved = 1;
	test_assert_int_eq(parse(&hello, sizeof(hello), NULL, &req, "reserved"), -EPROTO);
}

static void test_control_data(void)
{
	struct helper_request req;
	struct helper_msg_hello hello = make_hello(1);
	struct helper_rx_meta ctrunc = {.msg_flags = MSG_CTRUNC};
	struct helper_rx_meta trunc = {.msg_flags = MSG_TRUNC};
	test_assert_int_eq(parse(&hello, sizeof(hello), &ctrunc, &req, "carries fds"), -EPROTO);
	test_assert_int_eq(parse(&hello, sizeof(hello), &trunc, &req, "oversized"), -EPROTO);
}

static void test_bad_export_fields(void)
{
	struct helper_request req;
	struct helper_msg_export exp = make_export(1, "card0", 1, 0);
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, "plane kind 0"), -EPROTO);
	exp = make_export(1, "card0", 1, KMSCAST_PLANE_PRIMARY);
	exp.flags = 1;
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, "not zero"), -EPROTO);
	exp = make_export(1, "card0", 1, KMSCAST_PLANE_PRIMARY);
	exp.card[7] = 'x';
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, "zero-padded"), -EPROTO);
	memset(exp.card, 'a', sizeof(exp.card));
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, "NUL-terminated"), -EPROTO);
	/* A syntactically bad name is a failed request, not a malformed one: the backend says. */
	exp = make_export(1, "../../etc", 1, KMSCAST_PLANE_PRIMARY);
	test_assert_int_eq(parse(&exp, sizeof(exp), NULL, &req, NULL), 0);
}

static void test_check_requests(void)
{
	struct helper_request req;
	struct helper_msg_check check = make_check(9, "card255", 4242);
	test_assert_int_eq(parse(&check, sizeof(check), NULL, &req, NULL), 0);
	test_assert_int_eq(req.type, HELPER_MSG_CHECK);
	test_assert_int_eq(req.seq, 9);
	test_assert_str_eq(req.card, "card255");
	test_assert_int_eq(req.fb_id, 4242);

	/* Exactly 40 bytes, whatever the size field says. */
	uint8_t buf[sizeof(check) + 8] = {0};
	for (size_t len = sizeof(struct helper_msg_header); len < sizeof(buf); len++) {
		if (len == sizeof(check)) {
			continue;
		}
		check.hdr.size = (uint32_t)len;
		memcpy(buf, &check, sizeof(check));
		test_assert_int_eq(parse(buf, len, NULL, &req, NULL), -EPROTO);
	}

	/* Unlike EXPORT, a bad card name is malformed: the client lists cards by the rule. */
	const char *bad_cards[] = {"", "card", "card01", "card256", "../card0", "renderD128"};
	for (size_t i = 0; i < sizeof(bad_cards) / sizeof(bad_cards[0]); i++) {
		check = make_check(9, bad_cards[i], 1);
		test_assert_int_eq(
			parse(&check, sizeof(check), NULL, &req, "check: invalid card name"),
			-EPROTO);
	}
	check = make_check(9, "card0", 1);
	check.card[7] = 'x';
	test_assert_int_eq(parse(&check, sizeof(check), NULL, &req, "zero-padded"), -EPROTO);
	memset(check.card, '1', sizeof(check.card));
	test_assert_int_eq(parse(&check, sizeof(check), NULL, &req, "NUL-terminated"), -EPROTO);

	check = make_check(9, "card0", 1);
	check.flags = 1u << 31;
	test_assert_int_eq(parse(&check, sizeof(check), NULL, &req, "flags not zero"), -EPROTO);

	/* A reply type sent to the helper is unknown to it. */
	struct helper_msg_same same;
	helper_build_same_reply(&same, 9, 1);
	test_assert_int_eq(
		parse(&same, sizeof(same), NULL, &req, "unknown message type 0x103"), -EPROTO);
}

static struct helper_msg_fb make_fb(uint32_t seq)
{
	struct helper_msg_fb fb;
	memset(&fb, 0, sizeof(fb));
	helper_build_fb_header(&fb, seq);
	fb.fb_id = 5;
	fb.width = 64;
	fb.height = 64;
	fb.fourcc = DRM_FORMAT_ARGB8888;
	fb.modifier = 0;
	fb.flags = HELPER_FB_MODIFIER_EXPLICIT;
	fb.n_planes = 2;
	fb.n_fds = 1;
	fb.pitches[0] = 256;
	fb.pitches[1] = 128;
	fb.offsets[1] = 16384;
	return fb;
}

static int parse_reply(const void *buf, size_t len, size_t n_fds, uint32_t seq, uint16_t *type,
	struct helper_fb *fb)
{
	char reason[HELPER_MAX_REASON];
	return helper_client_parse_reply(buf, len, n_fds, seq, type, fb, reason, sizeof(reason));
}

static void test_client_reply_parser(void)
{
	uint16_t type;
	struct helper_fb fb;
	struct helper_msg_fb msg = make_fb(3);
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 1, 3, &type, &fb), 0);
	test_assert_int_eq(type, HELPER_MSG_FB);
	test_assert_int_eq(fb.n_planes, 2);
	test_assert_int_eq(fb.offsets[1], 16384);
	test_assert(fb.modifier_explicit);
	test_assert_int_eq(fb.modifier, 0);
	msg.flags = 0;
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 1, 3, &type, &fb), 0);
	test_assert(!fb.modifier_explicit);
	test_assert(fb.modifier == DRM_FORMAT_MOD_INVALID);

	/* fds received must match n_fds; indices must be in range and every fd used. */
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 2, 3, &type, &fb), -EPROTO);
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 0, 3, &type, &fb), -EPROTO);
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 1, 4, &type, &fb), -EPROTO);
	msg.plane_fd_index[1] = 1;
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 1, 3, &type, &fb), -EPROTO);
	msg = make_fb(3);
	msg.n_fds = 2;
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 2, 3, &type, &fb), -EPROTO);
	msg = make_fb(3);
	msg.n_planes = HELPER_MAX_PLANES + 1;
	test_assert_int_eq(parse_reply(&msg, sizeof(msg), 1, 3, &type, &fb), -EPROTO);
	msg = make_fb(3);
	test_assert_int_eq(parse_reply(&msg, sizeof(msg) - 1, 1, 3, &type, &fb), -EPROTO);

	struct helper_msg_error err;
	helper_build_error(&err, 4, -ENODATA, "CRTC 5 is off");
	test_assert_int_eq(parse_reply(&err, sizeof(err), 0, 4, &type, &fb), -ENODATA);
	test_assert_int_eq(parse_reply(&err, sizeof(err), 1, 4, &type, &fb), -EPROTO);
	helper_build_error(&err, 4, 5, "positive");
	test_assert_int_eq(parse_reply(&err, sizeof(err), 0, 4, &type, &fb), -EPROTO);

	struct helper_msg_hello hello;
	helper_build_hello_reply(&hello, 1);
	test_assert_int_eq(parse_reply(&hello, sizeof(hello), 0, 1, &type, &fb), 0);
	test_assert_int_eq(type, HELPER_MSG_HELLO_REPLY);
}

/* SAME: exactly 24 bytes, no fds, reserved 0, the request's seq; only fb->fb_id is written. */
static void test_client_same_reply(void)
{
	uint16_t type;
	struct helper_fb fb;
	struct helper_msg_same same;
	helper_build_same_reply(&same, 6, 4242);
	test_assert_int_eq(same.hdr.type, HELPER_MSG_SAME);
	test_assert_int_eq(same.hdr.size, 24);
	memset(&fb, 0, sizeof(fb));
	fb.width = 99;
	test_assert_int_eq(parse_reply(&same, sizeof(same), 0, 6, &type, &fb), 0);
	test_assert_int_eq(type, HELPER_MSG_SAME);
	test_assert_int_eq(fb.fb_id, 4242);
	test_assert_int_eq(fb.width, 99);

	test_assert_int_eq(parse_reply(&same, sizeof(same), 1, 6, &type, &fb), -EPROTO);
	test_assert_int_eq(parse_reply(&same, sizeof(same), 0, 7, &type, &fb), -EPROTO);
	test_assert_int_eq(parse_reply(&same, sizeof(same) - 1, 0, 6, &type, &fb), -EPROTO);
	uint8_t longer[sizeof(same) + 4] = {0};
	memcpy(longer, &same, sizeof(same));
	((struct helper_msg_header *)(void *)longer)->size = sizeof(longer);
	test_assert_int_eq(parse_reply(longer, sizeof(longer), 0, 6, &type, &fb), -EPROTO);
	same.reserved = 1;
	test_assert_int_eq(parse_reply(&same, sizeof(same), 0, 6, &type, &fb), -EPROTO);

	/* A CHECK is a request: the client does not take it as a reply. */
	struct helper_msg_check check = make_check(6, "card0", 4242);
	test_assert_int_eq(parse_reply(&check, sizeof(check), 0, 6, &type, &fb), -EPROTO);
}

TEST_MAIN(TEST(test_valid_requests), TEST(test_bad_sizes), TEST(test_bad_header),
	TEST(test_control_data), TEST(test_bad_export_fields), TEST(test_client_reply_parser),
	TEST(test_check_requests), TEST(test_client_same_reply))
