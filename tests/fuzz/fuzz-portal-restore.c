/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the portal's restore data. SelectSources hands back, as a variant,
 * whatever the frontend's permission store keeps under the app's restore token: the reader
 * must take any variant, of any shape, and never read past it or overflow its table.
 *
 * The input is the body of a method call whose signature is "v". It is wrapped in a
 * little-endian D-Bus header and written, behind a fake server's auth lines, into a
 * socketpair whose other end is a real sd-bus connection; sd-bus parses it as it would a
 * message from the bus, and a filter hands it to portal_restore_read (both versions: 2 with
 * its bounded app id and "remembered" flag, and 1) and, when that finds entries,
 * portal_restore_match. sd-bus checks the marshalling; the shape is ours to check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "portal-restore.h"

/* Well above anything the frontend stores; libFuzzer's default -max_len is 4096. */
#define FUZZ_MAX_BODY (64 * 1024)
#define HEADER_MAX 128
#define MAX_PROCESS 16

struct message_builder {
	uint8_t *buf;
	size_t pos;
};

static void put(struct message_builder *b, const void *data, size_t n)
{
	memcpy(b->buf + b->pos, data, n);
	b->pos += n;
}

static void put_u8(struct message_builder *b, uint8_t v)
{
	put(b, &v, 1);
}

static void align(struct message_builder *b, size_t to)
{
	while (b->pos % to) {
		b->buf[b->pos++] = 0;
	}
}

/* A header field (code, variant of type sig) holding a string-like value. */
static void put_field(struct message_builder *b, uint8_t code, char sig, const char *value)
{
	uint32_t len = (uint32_t)strlen(value);
	align(b, 8);
	put_u8(b, code);
	put_u8(b, 1);
	put_u8(b, (uint8_t)sig);
	put_u8(b, 0);
	if (sig == 'g') {
		put_u8(b, (uint8_t)len);
	} else {
		align(b, 4);
		put(b, &len, 4);
	}
	put(b, value, len + 1);
}

/* A METHOD_CALL /a C with signature "v", no reply expected, and body as its body. */
static size_t build_message(uint8_t *out, const uint8_t *body, size_t size)
{
	struct message_builder b = {.buf = out, .pos = 0};
	uint32_t body_len = (uint32_t)size, serial = 1, fields_len;
	put_u8(&b, 'l');
	put_u8(&b, 1); /* METHOD_CALL */
	put_u8(&b, 1); /* NO_REPLY_EXPECTED */
	put_u8(&b, 1); /* protocol version */
	put(&b, &body_len, 4);
	put(&b, &serial, 4);
	b.pos += 4; /* the fields' length, below */
	put_field(&b, 1, 'o', "/a");
	put_field(&b, 3, 's', "C");
	put_field(&b, 8, 'g', "v");
	fields_len = (uint32_t)(b.pos - 16);
	memcpy(out + 12, &fields_len, 4);
	align(&b, 8);
	put(&b, body, size);
	return b.pos;
}

static const struct portal_monitor avail[] = {
	{.card = "card0", .connector = "HDMI-A-1", .has_edid = true,
		.edid = {.name = "DELL U2415", .vendor = "DEL", .product = 0xa0b1, .serial = 1}},
	{.card = "card0", .connector = "Virtual-1"},
	{.card = "card1", .connector = "DP-2", .has_edid = true,
		.edid = {.name = "DELL U2415", .vendor = "DEL", .product = 0xa0b1, .serial = 1}},
};

static void check_entry(const struct portal_restore_entry *e)
{
	if (strnlen(e->card, sizeof(e->card)) == sizeof(e->card) ||
		strnlen(e->connector, sizeof(e->connector)) == sizeof(e->connector) ||
		strnlen(e->vendor, sizeof(e->vendor)) == sizeof(e->vendor) ||
		strnlen(e->name, sizeof(e->name)) == sizeof(e->name)) {
		abort();
	}
}

static int on_message(sd_bus_message *m, void *data, sd_bus_error *error)
{
	static struct portal_restore restore;
	struct portal_monitor matched[PORTAL_MAX_MONITORS];
	bool *seen = data;

	if (!sd_bus_message_is_method_call(m, NULL, "C")) {
		return 0;
	}
	*seen = true;
	int n = portal_restore_read(m, &restore);
	if (n > PORTAL_MAX_MONITORS || (n >= 0 && restore.n_entries != (uint32_t)n) ||
		strnlen(restore.app_id, sizeof(restore.app_id)) == sizeof(restore.app_id)) {
		abort();
	}
	for (int i = 0; i < n; i++) {
		check_entry(&restore.entries[i]);
	}
	if (n > 0) {
		(void)portal_restore_match(restore.entries, (uint32_t)n, avail,
			sizeof(avail) / sizeof(avail[0]), matched);
	}
	return 1; /* handled: no reply, no method lookup */
}

/*
 * sd-bus sends its whole AUTH dialogue at once. Since systemd 247 it sends EXTERNAL without
 * an initial response, followed by "DATA", and then waits for the server's DATA challenge
 * before OK; it wants AGREE_UNIX_FD only if it asked to pass fds.
 */
static int answer_auth(int server)
{
	char request[256];
	ssize_t n = recv(server, request, sizeof(request), MSG_DONTWAIT);
	if (n <= 0) {
		return -EIO;
	}
	char reply[128];
	snprintf(reply, sizeof(reply), "%sOK 0123456789abcdef0123456789abcdef\r\n%s",
		memmem(request, (size_t)n, "\r\nDATA\r\n", 8) ? "DATA\r\n" : "",
		memmem(request, (size_t)n, "NEGOTIATE_UNIX_FD", 17) ? "AGREE_UNIX_FD\r\n" : "");
	if (send(server, reply, strlen(reply), MSG_NOSIGNAL) != (ssize_t)strlen(reply)) {
		return -EIO;
	}
	return 0;
}

static void feed(const uint8_t *body, size_t size)
{
	static uint8_t message[HEADER_MAX + FUZZ_MAX_BODY];
	sd_bus *bus = NULL;
	sd_bus_slot *filter = NULL;
	bool seen = false;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || sd_bus_new(&bus) < 0 ||
		sd_bus_set_fd(bus, sv[0], sv[0]) < 0) { /* sv[0] now owned by bus */
		abort();
	}
	if (sd_bus_add_filter(bus, &filter, on_message, &seen) < 0 || sd_bus_start(bus) < 0 ||
		answer_auth(sv[1]) < 0) {
		abort();
	}
	size_t len = build_message(message, body, size);
	if (send(sv[1], message, len, MSG_NOSIGNAL) != (ssize_t)len) {
		abort();
	}
	shutdown(sv[1], SHUT_WR);
	/* Auth, then the message; a malformed one ends the connection with an error. */
	for (int i = 0; i < MAX_PROCESS && !seen; i++) {
		if (sd_bus_process(bus, NULL) < 0) {
			break;
		}
	}
	sd_bus_slot_unref(filter);
	sd_bus_close_unref(bus);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int open_fds = -1;
	if (open_fds < 0) {
		open_fds = fuzz_fd_baseline();
	}
	if (size > FUZZ_MAX_BODY) {
		return 0;
	}
	feed(data, size);
	if (fuzz_open_fds() != open_fds) {
		abort(); /* an fd leaked */
	}
	return 0;
}
