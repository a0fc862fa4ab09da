/* SPDX-License-Identifier: MIT */
/*
 * The portal backend on a private dbus-daemon, against a fake portal_host. The client side
 * makes the calls xdg-desktop-portal's frontend makes, asynchronously, from the same loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pipewire/pipewire.h>
#include <systemd/sd-bus.h>

#include "kmscast/node.h"
#include "portal-restore.h"
#include "portal-seat.h"
#include "portal.h"
#include "test.h"

#define FAKE_MAX_NODES 8
#define DEST PORTAL_BUS_NAME
#define SC PORTAL_SCREENCAST_IFACE

extern char **environ;

struct portal_node {
	bool used, readied;
	struct portal_monitor monitor;
	char name[128], cursor[16], session[128];
	char copy[8]; /* kmscast.copy, "" when absent */
	uint32_t id;
	const struct portal_node_events *events;
	void *data;
};

static struct {
	struct portal_monitor monitors[4];
	uint32_t n_monitors;
	struct portal_node nodes[FAKE_MAX_NODES];
	uint32_t n_live, n_created;
	bool hold_ready;
	uint32_t next_id;
} fake;

static pid_t bus_pid;
static char bus_address[256];
static struct pw_loop *loop;
static sd_bus *client;
static struct portal *portal;
static char tmpdir[] = "/tmp/kmscast-portal-test-XXXXXX";
/* $XDG_RUNTIME_DIR for the portal: one Flatpak instance, of FLATPAK_APP. */
static char runtime_dir[sizeof(tmpdir) + 16];
#define FLATPAK_APP "org.example.Flatpak"

/* ---- the fake host ----------------------------------------------------------------------- */

static int fake_list(void *host, struct portal_monitor *out, uint32_t max)
{
	uint32_t n = fake.n_monitors < max ? fake.n_monitors : max;

	memcpy(out, fake.monitors, sizeof(out[0]) * n);
	return (int)n;
}

static struct portal_node *fake_create(void *host, const struct portal_monitor *monitor,
		const struct spa_dict *props, const struct portal_node_events *events, void *data)
{
	for (int i = 0; i < FAKE_MAX_NODES; i++) {
		struct portal_node *n = &fake.nodes[i];
		const char *v;

		if (n->used)
			continue;
		memset(n, 0, sizeof(*n));
		n->used = true;
		n->monitor = *monitor;
		n->events = events;
		n->data = data;
		n->id = fake.next_id++;
		if ((v = spa_dict_lookup(props, "node.name")))
			snprintf(n->name, sizeof(n->name), "%s", v);
		if ((v = spa_dict_lookup(props, KMSCAST_KEY_CURSOR_MODE)))
			snprintf(n->cursor, sizeof(n->cursor), "%s", v);
		if ((v = spa_dict_lookup(props, KMSCAST_KEY_COPY)))
			snprintf(n->copy, sizeof(n->copy), "%s", v);
		if ((v = spa_dict_lookup(props, "kmscast.portal.session")))
			snprintf(n->session, sizeof(n->session), "%s", v);
		fake.n_live++;
		fake.n_created++;
		return n;
	}
	errno = ENOSPC;
	return NULL;
}

static void fake_destroy(void *host, struct portal_node *node)
{
	if (!node)
		return;
	test_assert(node->used);
	node->used = false;
	fake.n_live--;
}

/* ---- the fake logind and udev ----------------------------------------------------------- */

static struct {
	bool no_logind;
	const char *active[2]; /* the user's active seats */
	uint32_t n_active;
	const char *card1_seat; /* card0 is on seat0 */
} fake_seat;

static bool fake_logind_running(void *data)
{
	return !fake_seat.no_logind;
}

static int fake_active_seats(void *data, char (*seats)[SEAT_MAX_NAME], uint32_t max)
{
	uint32_t n = 0;

	for (; n < fake_seat.n_active && n < max; n++)
		snprintf(seats[n], SEAT_MAX_NAME, "%s", fake_seat.active[n]);
	return (int)n;
}

static int fake_card_seat(void *data, const char *card, char *seat, size_t size)
{
	snprintf(seat, size, "%s", strcmp(card, "card1") == 0 ? fake_seat.card1_seat : "seat0");
	return 0;
}

static const struct portal_seat_ops fake_seat_ops = {
	.logind_running = fake_logind_running,
	.active_seats = fake_active_seats,
	.card_seat = fake_card_seat,
};

/* The user is active on seat0, where every card is. */
static void fake_seat_reset(void)
{
	memset(&fake_seat, 0, sizeof(fake_seat));
	fake_seat.active[0] = "seat0";
	fake_seat.n_active = 1;
	fake_seat.card1_seat = "seat0";
}

static const struct portal_host_ops fake_ops = {
	.list_monitors = fake_list,
	.create_node = fake_create,
	.destroy_node = fake_destroy,
};

static void fake_deliver(void)
{
	for (int i = 0; i < FAKE_MAX_NODES && !fake.hold_ready; i++) {
		struct portal_node *n = &fake.nodes[i];

		if (n->used && !n->readied) {
			n->readied = true;
			n->events->ready(n->data, n->id);
		}
	}
}

static struct portal_monitor fake_monitor(const char *connector, int32_t x, uint32_t w,
		uint32_t h)
{
	struct portal_monitor m = {.width = w, .height = h, .x = x, .y = 0, .crtc_id = 40};

	snprintf(m.card, sizeof(m.card), "card0");
	snprintf(m.connector, sizeof(m.connector), "%s", connector);
	m.has_edid = true;
	snprintf(m.edid.vendor, sizeof(m.edid.vendor), "QEM");
	snprintf(m.edid.name, sizeof(m.edid.name), "%s mon", connector);
	m.edid.product = 0x1234;
	m.edid.serial = (uint32_t)x + 1;
	return m;
}

static void fake_reset(uint32_t n_monitors)
{
	fake_seat_reset();
	memset(&fake, 0, sizeof(fake));
	fake.next_id = 100;
	fake.n_monitors = n_monitors;
	fake.monitors[0] = fake_monitor("Virtual-1", 0, 1280, 800);
	fake.monitors[1] = fake_monitor("Virtual-2", 1280, 1024, 768);
}

/* ---- bus and loop ------------------------------------------------------------------------ */

static void start_bus(void)
{
	char *argv[] = {"dbus-daemon", "--session", "--nofork", "--print-address=1", NULL};
	posix_spawn_file_actions_t fa;
	int fds[2];
	ssize_t n;

	test_assert(pipe2(fds, O_CLOEXEC) == 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	test_assert(posix_spawnp(&bus_pid, "dbus-daemon", &fa, NULL, argv, environ) == 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], bus_address, sizeof(bus_address) - 1);
	test_assert(n > 0);
	bus_address[strcspn(bus_address, "\n")] = '\0';
	close(fds[0]);
}

static sd_bus *connect_client(void)
{
	sd_bus *bus;

	test_assert(sd_bus_new(&bus) >= 0);
	test_assert(sd_bus_set_address(bus, bus_address) >= 0);
	test_assert(sd_bus_set_bus_client(bus, 1) >= 0);
	test_assert(sd_bus_start(bus) >= 0);
	return bus;
}

/* The client plays xdg-desktop-portal: the backend serves only the owner of its name. */
static sd_bus *connect_frontend(void)
{
	sd_bus *bus = connect_client();

	test_assert(sd_bus_request_name(bus, PORTAL_FRONTEND_NAME, 0) >= 0);
	return bus;
}

/* Hands the frontend's name from one connection to another. */
static void move_frontend(sd_bus *from, sd_bus *to)
{
	test_assert(sd_bus_release_name(from, PORTAL_FRONTEND_NAME) >= 0);
	test_assert(sd_bus_request_name(to, PORTAL_FRONTEND_NAME, 0) >= 0);
}

static void spin_once(void)
{
	while (sd_bus_process(client, NULL) > 0)
		;
	pw_loop_iterate(loop, 2);
	fake_deliver();
	while (sd_bus_process(client, NULL) > 0)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void spin_until(const bool *flag, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (!*flag) {
		if (now_ms() > end)
			test_fail("timed out after %d ms", ms);
		spin_once();
	}
}

static void spin_for(int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (now_ms() < end)
		spin_once();
}

static void start_portal_opts(struct portal_options opts)
{
	opts.bus_address = bus_address;
	opts.runtime_dir = runtime_dir;
	opts.seat_ops = &fake_seat_ops;
	test_assert_int_eq(portal_create(loop, &fake_ops, NULL, &opts, &portal), 0);
}

/*
 * consent = never, the behaviour before the consent step: the first monitor or all, the
 * chooser only among several. The tests of the sessions' mechanics run there.
 */
static void start_portal_copies(const char *chooser, enum portal_copies copies)
{
	start_portal_opts((struct portal_options){.chooser = chooser, .copies = copies,
			.consent = PORTAL_CONSENT_NEVER});
}

static void start_portal(const char *chooser)
{
	start_portal_copies(chooser, PORTAL_COPIES_SANDBOXED);
}

/* consent = ask (the default), with chooser through the shell or program run directly. */
static void start_portal_ask(const char *chooser, const char *program)
{
	start_portal_opts((struct portal_options){.chooser = chooser, .consent_program = program});
}

/* A running Flatpak instance of FLATPAK_APP, as flatpak run leaves it. */
static void fake_flatpak_instance(void)
{
	char path[sizeof(runtime_dir) + 64];
	FILE *f;

	snprintf(runtime_dir, sizeof(runtime_dir), "%s/runtime", tmpdir);
	test_assert(mkdir(runtime_dir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.flatpak", runtime_dir);
	test_assert(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.flatpak/4242", runtime_dir);
	test_assert(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.flatpak/4242/info", runtime_dir);
	f = fopen(path, "w");
	test_assert(f);
	fputs("[Application]\nname=" FLATPAK_APP "\nruntime=runtime/org.example.Platform\n"
	      "\n[Instance]\ninstance-id=4242\n", f);
	test_assert(fclose(f) == 0);
}

static void stop_portal(void)
{
	portal_destroy(portal);
	portal = NULL;
	test_assert_int_eq(fake.n_live, 0);
}

/* ---- calls ------------------------------------------------------------------------------- */

struct pending {
	bool done;
	sd_bus_message *reply;
};

static int on_reply(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct pending *p = data;

	p->reply = sd_bus_message_ref(m);
	p->done = true;
	return 0;
}

static void call_async(sd_bus *bus, sd_bus_message *m, struct pending *p)
{
	p->done = false;
	p->reply = NULL;
	test_assert(sd_bus_call_async(bus, NULL, m, on_reply, p, 10 * 1000000) >= 0);
	sd_bus_message_unref(m);
}

static sd_bus_message *call(sd_bus_message *m)
{
	struct pending p;

	call_async(client, m, &p);
	spin_until(&p.done, 5000);
	return p.reply;
}

/* A call from another connection than the client's. */
static sd_bus_message *call_from(sd_bus *bus, sd_bus_message *m)
{
	uint64_t end = now_ms() + 5000;
	struct pending p;

	call_async(bus, m, &p);
	while (!p.done) {
		if (now_ms() > end)
			test_fail("timed out");
		while (sd_bus_process(bus, NULL) > 0)
			;
		spin_once();
	}
	return p.reply;
}

static void assert_access_denied(sd_bus_message *reply)
{
	if (!sd_bus_message_is_method_error(reply, SD_BUS_ERROR_ACCESS_DENIED))
		test_fail("expected AccessDenied, got %s",
				sd_bus_message_is_method_error(reply, NULL)
						? sd_bus_message_get_error(reply)->name
						: "a method return");
	sd_bus_message_unref(reply);
}

static sd_bus_message *new_call(sd_bus *bus, const char *path, const char *iface,
		const char *method)
{
	sd_bus_message *m = NULL;

	test_assert(sd_bus_message_new_method_call(bus, &m, DEST, path, iface, method) >= 0);
	return m;
}

/* Reads the response code; leaves the message at the results dict. */
static uint32_t response_of(sd_bus_message *reply)
{
	uint32_t response;

	if (sd_bus_message_is_method_error(reply, NULL))
		test_fail("error reply: %s", sd_bus_message_get_error(reply)->message);
	test_assert(sd_bus_message_read(reply, "u", &response) > 0);
	return response;
}

static uint32_t get_property(const char *name)
{
	sd_bus_message *m = new_call(client, PORTAL_OBJECT_PATH, "org.freedesktop.DBus.Properties",
			"Get");
	sd_bus_message *reply;
	uint32_t value;

	test_assert(sd_bus_message_append(m, "ss", SC, name) >= 0);
	reply = call(m);
	test_assert(sd_bus_message_read(reply, "v", "u", &value) > 0);
	sd_bus_message_unref(reply);
	return value;
}

static uint32_t create_session_as(const char *session, const char *app_id)
{
	sd_bus_message *m = new_call(client, PORTAL_OBJECT_PATH, SC, "CreateSession");
	sd_bus_message *reply;
	uint32_t r;

	test_assert(sd_bus_message_append(m, "oosa{sv}", "/org/freedesktop/portal/desktop/request/1_1/c",
			    session, app_id, 0) >= 0);
	reply = call(m);
	r = response_of(reply);
	sd_bus_message_unref(reply);
	return r;
}

struct select {
	uint32_t types, cursor_mode, persist_mode;
	int multiple;
	sd_bus_message *restore_from; /* a Start reply positioned at its restore_data variant */
};

static sd_bus_message *select_call(sd_bus *bus, const char *request, const char *session,
		const struct select *s)
{
	sd_bus_message *m = new_call(bus, PORTAL_OBJECT_PATH, SC, "SelectSources");

	test_assert(sd_bus_message_append(m, "oos", request, session, "org.example.App") >= 0);
	test_assert(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
	test_assert(sd_bus_message_append(m, "{sv}", "types", "u", s->types) >= 0);
	test_assert(sd_bus_message_append(m, "{sv}", "multiple", "b", s->multiple) >= 0);
	test_assert(sd_bus_message_append(m, "{sv}", "cursor_mode", "u", s->cursor_mode) >= 0);
	test_assert(sd_bus_message_append(m, "{sv}", "persist_mode", "u", s->persist_mode) >= 0);
	if (s->restore_from) {
		test_assert(sd_bus_message_open_container(m, 'e', "sv") >= 0);
		test_assert(sd_bus_message_append(m, "s", "restore_data") >= 0);
		test_assert(sd_bus_message_copy(m, s->restore_from, false) >= 0);
		test_assert(sd_bus_message_close_container(m) >= 0);
	}
	test_assert(sd_bus_message_close_container(m) >= 0);
	return m;
}

static uint32_t select_sources(const char *session, const struct select *s)
{
	sd_bus_message *reply = call(select_call(client, "/org/freedesktop/portal/desktop/request/1_1/s",
			session, s));
	uint32_t r = response_of(reply);

	sd_bus_message_unref(reply);
	return r;
}

struct stream {
	uint32_t node_id, source_type;
	int32_t x, y, w, h;
	char id[64];
};

static void read_stream_props(sd_bus_message *m, struct stream *s)
{
	const char *key;

	test_assert(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		test_assert(sd_bus_message_read(m, "s", &key) > 0);
		if (!strcmp(key, "id")) {
			const char *id;

			test_assert(sd_bus_message_read(m, "v", "s", &id) > 0);
			snprintf(s->id, sizeof(s->id), "%s", id);
		} else if (!strcmp(key, "position")) {
			test_assert(sd_bus_message_read(m, "v", "(ii)", &s->x, &s->y) > 0);
		} else if (!strcmp(key, "size")) {
			test_assert(sd_bus_message_read(m, "v", "(ii)", &s->w, &s->h) > 0);
		} else if (!strcmp(key, "source_type")) {
			test_assert(sd_bus_message_read(m, "v", "u", &s->source_type) > 0);
		} else {
			test_fail("unexpected stream property %s", key);
		}
		test_assert(sd_bus_message_exit_container(m) >= 0);
	}
	test_assert(sd_bus_message_exit_container(m) >= 0);
}

struct started {
	uint32_t response, n_streams, persist_mode;
	struct stream streams[4];
	sd_bus_message *restore; /* positioned at the restore_data variant, or NULL */
};

static void read_started(sd_bus_message *reply, struct started *st)
{
	const char *key;

	memset(st, 0, sizeof(*st));
	st->response = response_of(reply);
	test_assert(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
	while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
		test_assert(sd_bus_message_read(reply, "s", &key) > 0);
		if (!strcmp(key, "streams")) {
			test_assert(sd_bus_message_enter_container(reply, 'v', "a(ua{sv})") > 0);
			test_assert(sd_bus_message_enter_container(reply, 'a', "(ua{sv})") > 0);
			while (sd_bus_message_enter_container(reply, 'r', "ua{sv}") > 0) {
				struct stream *s = &st->streams[st->n_streams++];

				test_assert(sd_bus_message_read(reply, "u", &s->node_id) > 0);
				read_stream_props(reply, s);
				test_assert(sd_bus_message_exit_container(reply) >= 0);
			}
			test_assert(sd_bus_message_exit_container(reply) >= 0);
			test_assert(sd_bus_message_exit_container(reply) >= 0);
		} else if (!strcmp(key, "persist_mode")) {
			test_assert(sd_bus_message_read(reply, "v", "u", &st->persist_mode) > 0);
		} else if (!strcmp(key, "restore_data")) {
			/* Leave the reply here for the next SelectSources to copy from. */
			st->restore = reply;
			return;
		} else {
			test_fail("unexpected result %s", key);
		}
		test_assert(sd_bus_message_exit_container(reply) >= 0);
	}
	sd_bus_message_unref(reply);
}

static sd_bus_message *start_call(const char *session)
{
	sd_bus_message *m = new_call(client, PORTAL_OBJECT_PATH, SC, "Start");

	test_assert(sd_bus_message_append(m, "oossa{sv}", "/org/freedesktop/portal/desktop/request/1_1/t",
			    session, "org.example.App", "", 0) >= 0);
	return m;
}

static void start(const char *session, struct started *st)
{
	read_started(call(start_call(session)), st);
}

static void close_session(const char *session)
{
	sd_bus_message_unref(call(new_call(client, session, PORTAL_SESSION_IFACE, "Close")));
}

static const struct select monitor_only = {.types = PORTAL_SOURCE_MONITOR,
		.cursor_mode = PORTAL_CURSOR_HIDDEN};

/* ---- tests ------------------------------------------------------------------------------- */

/* A host app: xdg-desktop-portal >= 1.18 names those too. */
static uint32_t create_session(const char *session)
{
	return create_session_as(session, "org.example.App");
}

static void test_properties(void)
{
	fake_reset(1);
	start_portal(NULL);
	test_assert_int_eq(get_property("AvailableSourceTypes"), PORTAL_SOURCE_MONITOR);
	/* No "embedded": the cursor plane is never drawn into the frames. */
	test_assert_int_eq(get_property("AvailableCursorModes"),
			PORTAL_CURSOR_HIDDEN | PORTAL_CURSOR_METADATA);
	test_assert_int_eq(get_property("version"), 4);
	stop_portal();
}

static void test_single_monitor_flow(void)
{
	const char *session = "/org/freedesktop/portal/desktop/session/1_1/a";
	struct select s = monitor_only;
	struct started st;

	fake_reset(1);
	fake.monitors[0].x = 64; /* a CRTC showing part of a bigger framebuffer */
	fake.monitors[0].y = 32;
	start_portal("exit 1"); /* one monitor: the chooser must not run */
	test_assert_int_eq(create_session(session), 0);
	test_assert_int_eq(portal_session_count(portal), 1);
	s.cursor_mode = PORTAL_CURSOR_METADATA;
	test_assert_int_eq(select_sources(session, &s), 0);
	test_assert_int_eq(fake.n_live, 0); /* nodes come with Start, not before */
	start(session, &st);
	test_assert_int_eq(st.response, 0);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_int_eq(st.streams[0].node_id, 100);
	test_assert_int_eq(st.streams[0].source_type, PORTAL_SOURCE_MONITOR);
	test_assert_int_eq(st.streams[0].x, 64);
	test_assert_int_eq(st.streams[0].y, 32);
	test_assert_int_eq(st.streams[0].w, 1280);
	test_assert_int_eq(st.streams[0].h, 800);
	test_assert_str_eq(st.streams[0].id, "Virtual-1");
	test_assert(st.restore == NULL); /* persist_mode 0 */
	test_assert_int_eq(fake.n_live, 1);
	test_assert_str_eq(fake.nodes[0].name, "kmscast.card0.Virtual-1.portal-1");
	test_assert_str_eq(fake.nodes[0].cursor, "metadata");
	test_assert_str_eq(fake.nodes[0].session, session);
	close_session(session);
	test_assert_int_eq(fake.n_live, 0);
	test_assert_int_eq(portal_session_count(portal), 0);
	stop_portal();
}

static void test_window_only_refused(void)
{
	const char *session = "/org/freedesktop/portal/desktop/session/1_1/w";
	struct select s = monitor_only;

	fake_reset(1);
	start_portal(NULL);
	test_assert_int_eq(create_session(session), 0);
	s.types = PORTAL_SOURCE_WINDOW;
	test_assert_int_eq(select_sources(session, &s), PORTAL_RESPONSE_OTHER);
	s.types = PORTAL_SOURCE_WINDOW | PORTAL_SOURCE_MONITOR;
	test_assert_int_eq(select_sources(session, &s), 0);
	s.cursor_mode = PORTAL_CURSOR_EMBEDDED; /* not advertised */
	test_assert_int_eq(select_sources(session, &s), PORTAL_RESPONSE_OTHER);
	close_session(session);
	stop_portal();
}

static void test_default_choice(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/d1";
	const char *b = "/org/freedesktop/portal/desktop/session/1_1/d2";
	struct select s = monitor_only;
	struct started st;

	fake_reset(2);
	start_portal(NULL);
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), 0);
	start(a, &st);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-1");
	test_assert_int_eq(create_session(b), 0);
	s.multiple = 1;
	test_assert_int_eq(select_sources(b, &s), 0);
	start(b, &st);
	test_assert_int_eq(st.n_streams, 2);
	test_assert_str_eq(st.streams[1].id, "Virtual-2");
	test_assert_int_eq(st.streams[1].x, 1280);
	/* Two sessions on one monitor: a node each. */
	test_assert_int_eq(fake.n_live, 3);
	test_assert(st.streams[0].node_id != 100);
	close_session(a);
	test_assert_int_eq(fake.n_live, 2);
	close_session(b);
	stop_portal();
}

static bool file_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return access(path, F_OK) == 0;
}

static void test_chooser_and_restore(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/r1";
	const char *b = "/org/freedesktop/portal/desktop/session/1_1/r2";
	char chooser[512];
	struct select s = monitor_only;
	struct started st, st2;

	fake_reset(2);
	/* Picks the second line, and leaves a mark each time it runs. */
	snprintf(chooser, sizeof(chooser), "cat > %s/input; touch %s/ran; sed -n 2p %s/input",
			tmpdir, tmpdir, tmpdir);
	start_portal(chooser);
	test_assert_int_eq(create_session(a), 0);
	s.persist_mode = 2;
	test_assert_int_eq(select_sources(a, &s), 0);
	test_assert(file_exists("ran"));
	start(a, &st);
	test_assert_int_eq(st.response, 0);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-2");
	test_assert_int_eq(st.persist_mode, 2);
	test_assert(st.restore);
	close_session(a);

	/* The frontend hands restore_data back: same monitor, no chooser. */
	snprintf(chooser, sizeof(chooser), "%s/ran", tmpdir);
	unlink(chooser);
	test_assert_int_eq(create_session(b), 0);
	s.restore_from = st.restore;
	test_assert_int_eq(select_sources(b, &s), 0);
	test_assert(!file_exists("ran"));
	sd_bus_message_unref(st.restore);
	start(b, &st2);
	test_assert_int_eq(st2.n_streams, 1);
	test_assert_str_eq(st2.streams[0].id, "Virtual-2");
	sd_bus_message_unref(st2.restore);
	close_session(b);
	stop_portal();
}

static void test_chooser_cancel(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/c1";
	struct select s = monitor_only;

	fake_reset(2);
	start_portal("exit 1");
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_CANCELLED);
	close_session(a);
	stop_portal();
	/* Any other status: no answer could be had, which is not the user's "no". */
	fake_reset(2);
	start_portal("exit 3");
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_OTHER);
	close_session(a);
	stop_portal();
	/* A chooser naming no monitor is a cancel too. */
	fake_reset(2);
	start_portal("echo HDMI-A-9");
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_CANCELLED);
	close_session(a);
	stop_portal();
}

/* A slow chooser blocks nothing: another session is served meanwhile, and Request.Close
 * ends the chooser at once. */
static void test_chooser_async_and_request_close(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/s1";
	const char *b = "/org/freedesktop/portal/desktop/session/1_1/s2";
	const char *req = "/org/freedesktop/portal/desktop/request/1_1/slow";
	struct select s = monitor_only;
	struct pending p;
	uint32_t response;
	uint64_t t0;

	fake_reset(2);
	start_portal("sleep 30; echo Virtual-1");
	test_assert_int_eq(create_session(a), 0);
	call_async(client, select_call(client, req, a, &s), &p);
	spin_for(200);
	test_assert(!p.done);
	t0 = now_ms();
	test_assert_int_eq(create_session(b), 0);
	test_assert(now_ms() - t0 < 1000);
	sd_bus_message_unref(call(new_call(client, req, PORTAL_REQUEST_IFACE, "Close")));
	spin_until(&p.done, 2000);
	response = response_of(p.reply);
	test_assert_int_eq(response, PORTAL_RESPONSE_CANCELLED);
	sd_bus_message_unref(p.reply);
	test_assert(now_ms() - t0 < 2000);
	close_session(a);
	close_session(b);
	stop_portal();
}

static bool closed_seen;

static int on_closed(sd_bus_message *m, void *data, sd_bus_error *error)
{
	closed_seen = true;
	return 0;
}

static void test_monitor_gone_emits_closed(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/g1";
	struct select s = monitor_only;
	sd_bus_slot *match = NULL;
	struct started st;

	fake_reset(1);
	start_portal(NULL);
	test_assert(sd_bus_match_signal(client, &match, NULL, a, PORTAL_SESSION_IFACE, "Closed",
			    on_closed, NULL) >= 0);
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), 0);
	start(a, &st);
	test_assert_int_eq(fake.n_live, 1);
	closed_seen = false;
	fake.nodes[0].events->gone(fake.nodes[0].data, -ENODEV);
	spin_until(&closed_seen, 2000);
	test_assert_int_eq(fake.n_live, 0);
	test_assert_int_eq(portal_session_count(portal), 0);
	sd_bus_slot_unref(match);
	stop_portal();
}

static void test_node_fails_before_ready(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/f1";
	struct select s = monitor_only;
	struct pending p;
	struct started st;

	fake_reset(1);
	start_portal(NULL);
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), 0);
	fake.hold_ready = true;
	call_async(client, start_call(a), &p);
	spin_for(100);
	test_assert(!p.done);
	fake.nodes[0].events->gone(fake.nodes[0].data, -EPIPE);
	spin_until(&p.done, 2000);
	read_started(p.reply, &st);
	test_assert_int_eq(st.response, PORTAL_RESPONSE_OTHER);
	test_assert_int_eq(fake.n_live, 0);
	close_session(a);
	stop_portal();
}

/* Apps reach the backend through the frontend only: any other caller is refused. */
static void test_only_frontend_served(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/n1";
	const char *req = "/org/freedesktop/portal/desktop/request/1_1/n1";
	sd_bus *other = connect_client();
	struct select s = monitor_only;
	sd_bus_message *m;
	struct pending p;
	uint32_t value;

	fake_reset(2);
	start_portal("sleep 30; echo Virtual-1");
	m = new_call(other, PORTAL_OBJECT_PATH, SC, "CreateSession");
	test_assert(sd_bus_message_append(m, "oosa{sv}", "/r/o", "/s/o", "org.example.Evil", 0) >= 0);
	assert_access_denied(call_from(other, m));
	test_assert_int_eq(portal_session_count(portal), 0);

	test_assert_int_eq(create_session(a), 0);
	assert_access_denied(call_from(other, select_call(other, "/r/x", a, &s)));
	m = new_call(other, PORTAL_OBJECT_PATH, SC, "Start");
	test_assert(sd_bus_message_append(m, "oossa{sv}", "/r/y", a, "org.example.Evil", "", 0) >= 0);
	assert_access_denied(call_from(other, m));
	assert_access_denied(call_from(other, new_call(other, a, PORTAL_SESSION_IFACE, "Close")));
	test_assert_int_eq(portal_session_count(portal), 1);

	/* A pending request survives a stranger's Request.Close. */
	call_async(client, select_call(client, req, a, &s), &p);
	spin_for(100);
	assert_access_denied(call_from(other, new_call(other, req, PORTAL_REQUEST_IFACE, "Close")));
	spin_for(100);
	test_assert(!p.done);
	sd_bus_message_unref(call(new_call(client, req, PORTAL_REQUEST_IFACE, "Close")));
	spin_until(&p.done, 2000);
	test_assert_int_eq(response_of(p.reply), PORTAL_RESPONSE_CANCELLED);
	sd_bus_message_unref(p.reply);

	/* Properties stay readable: the frontend reads them before it owns its name. */
	m = new_call(other, PORTAL_OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get");
	test_assert(sd_bus_message_append(m, "ss", SC, "version") >= 0);
	m = call_from(other, m);
	test_assert(sd_bus_message_read(m, "v", "u", &value) > 0);
	test_assert_int_eq(value, PORTAL_SCREENCAST_VERSION);
	sd_bus_message_unref(m);

	close_session(a);
	test_assert_int_eq(portal_session_count(portal), 0);
	sd_bus_flush_close_unref(other);
	stop_portal();
}

/*
 * The frontend's name passes to another connection (the portal was restarted with the old
 * one still alive): the new owner is served, but the old owner's session and request are
 * not its to use or close.
 */
static void test_close_by_non_owner_refused(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/x1";
	const char *req = "/org/freedesktop/portal/desktop/request/1_1/x1";
	sd_bus *other = connect_client();
	struct select s = monitor_only;
	sd_bus_message *m;
	struct pending p;

	fake_reset(2);
	start_portal("sleep 30; echo Virtual-1");
	test_assert_int_eq(create_session(a), 0);
	call_async(client, select_call(client, req, a, &s), &p);
	spin_for(100);
	move_frontend(client, other);

	assert_access_denied(call_from(other, new_call(other, req, PORTAL_REQUEST_IFACE, "Close")));
	assert_access_denied(call_from(other, new_call(other, a, PORTAL_SESSION_IFACE, "Close")));
	assert_access_denied(call_from(other, select_call(other, "/r/x", a, &s)));
	test_assert_int_eq(portal_session_count(portal), 1);
	test_assert(!p.done);
	/* The new owner is served for sessions of its own. */
	m = new_call(other, PORTAL_OBJECT_PATH, SC, "CreateSession");
	test_assert(sd_bus_message_append(m, "oosa{sv}", "/r/n", "/s/n", "org.example.App", 0) >= 0);
	m = call_from(other, m);
	test_assert_int_eq(response_of(m), PORTAL_RESPONSE_SUCCESS);
	sd_bus_message_unref(m);
	sd_bus_message_unref(call_from(other, new_call(other, "/s/n", PORTAL_SESSION_IFACE,
			"Close")));
	test_assert_int_eq(portal_session_count(portal), 1);
	/* Not even its creator is served once it no longer owns the frontend's name. */
	assert_access_denied(call(new_call(client, a, PORTAL_SESSION_IFACE, "Close")));

	move_frontend(other, client);
	sd_bus_message_unref(call(new_call(client, req, PORTAL_REQUEST_IFACE, "Close")));
	spin_until(&p.done, 2000);
	test_assert_int_eq(response_of(p.reply), PORTAL_RESPONSE_CANCELLED);
	sd_bus_message_unref(p.reply);
	close_session(a);
	test_assert_int_eq(portal_session_count(portal), 0);
	sd_bus_flush_close_unref(other);
	stop_portal();
}

static void test_frontend_exit(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/o1";
	struct select s = monitor_only;
	struct started st;

	fake_reset(1);
	start_portal(NULL);
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), 0);
	start(a, &st);
	test_assert_int_eq(fake.n_live, 1);
	/* The frontend dies: its sessions and their nodes go with it. */
	sd_bus_flush_close_unref(client);
	client = connect_client();
	for (int i = 0; i < 200 && portal_session_count(portal) > 0; i++)
		spin_once();
	test_assert_int_eq(portal_session_count(portal), 0);
	test_assert_int_eq(fake.n_live, 0);
	/* Until a new one starts nobody is served; then the portal follows the name. */
	{
		sd_bus_message *m = new_call(client, PORTAL_OBJECT_PATH, SC, "CreateSession");

		test_assert(sd_bus_message_append(m, "oosa{sv}", "/r/z", a, "org.example.App",
				    0) >= 0);
		assert_access_denied(call(m));
	}
	test_assert(sd_bus_request_name(client, PORTAL_FRONTEND_NAME, 0) >= 0);
	test_assert_int_eq(create_session(a), 0);
	close_session(a);
	stop_portal();
}

static void test_name_taken(void)
{
	struct portal_options opts = {.bus_address = bus_address};
	struct portal *second = NULL;

	fake_reset(1);
	start_portal(NULL);
	test_assert_int_eq(portal_create(loop, &fake_ops, NULL, &opts, &second), -EEXIST);
	stop_portal();
}

/* The kmscast.copy property of the node a session of app_id gets ("" when it has none). */
static const char *node_copy_prop(const char *app_id)
{
	static char copy[sizeof(fake.nodes[0].copy)];
	const char *session = "/org/freedesktop/portal/desktop/session/1_1/copies";
	struct select s = monitor_only;
	struct started st;

	test_assert_int_eq(create_session_as(session, app_id), 0);
	test_assert_int_eq(select_sources(session, &s), 0);
	start(session, &st);
	test_assert_int_eq(st.response, 0);
	test_assert_int_eq(fake.n_live, 1);
	for (int i = 0; i < FAKE_MAX_NODES; i++) {
		if (fake.nodes[i].used)
			snprintf(copy, sizeof(copy), "%s", fake.nodes[i].copy);
	}
	close_session(session);
	test_assert_int_eq(fake.n_live, 0);
	return copy;
}

static void test_sandboxed_apps_get_copies(void)
{
	fake_reset(1);
	start_portal(NULL); /* portal-copies = sandboxed, the default */
	test_assert_str_eq(node_copy_prop(FLATPAK_APP), "true");
	test_assert_str_eq(node_copy_prop("snap.example"), "true");
	/* Host apps keep zero copy, with an id (xdg-desktop-portal >= 1.18) or without. */
	test_assert_str_eq(node_copy_prop("org.example.App"), "");
	test_assert_str_eq(node_copy_prop(""), "");
	stop_portal();

	start_portal_copies(NULL, PORTAL_COPIES_NONE);
	test_assert_str_eq(node_copy_prop(FLATPAK_APP), "");
	stop_portal();
	start_portal_copies(NULL, PORTAL_COPIES_ALL);
	test_assert_str_eq(node_copy_prop("org.example.App"), "true");
	test_assert_str_eq(node_copy_prop(""), "true");
	stop_portal();
}

/* ---- consent ----------------------------------------------------------------------------- */

static void read_tmp(const char *name, char *buf, size_t size)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "r");
	if (!f)
		test_fail("%s: %m", path);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void write_tmp(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	test_assert(f);
	fputs(text, f);
	test_assert(fclose(f) == 0);
	test_assert(chmod(path, mode) == 0);
}

static void unlink_tmp(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

/*
 * A stand-in for kmscast-consent: records its stdin and the protocol's environment, then
 * prints the file "answer" (else the first monitor offered) and exits with the status in
 * "status" (else 0). Returns its path; it runs directly or through the shell.
 */
static const char *consent_script(const char *answer, int status)
{
	static char path[256];
	char text[1024], st[16];

	snprintf(text, sizeof(text),
			"#!/bin/sh\n"
			"dir='%s'\n"
			"cat > \"$dir/input\"\n"
			"printf '%%s' \"$KMSCAST_APP_ID\" > \"$dir/app_id\"\n"
			"tr '\\0' '\\n' < /proc/$$/environ | grep -c '^KMSCAST_APP_ID=' "
			"> \"$dir/app_id_count\"\n"
			"printf '%%s %%s' \"$KMSCAST_MULTIPLE\" \"$KMSCAST_PERSIST\" > \"$dir/flags\"\n"
			"touch \"$dir/ran\"\n"
			"if [ -s \"$dir/answer\" ]; then cat \"$dir/answer\"; "
			"else head -n 1 \"$dir/input\" | cut -f 1; fi\n"
			"exit \"$(cat \"$dir/status\")\"\n",
			tmpdir);
	write_tmp("consent.sh", text, 0755);
	write_tmp("answer", answer, 0644);
	snprintf(st, sizeof(st), "%d", status);
	write_tmp("status", st, 0644);
	unlink_tmp("ran");
	unlink_tmp("input");
	snprintf(path, sizeof(path), "%s/consent.sh", tmpdir);
	return path;
}

/* One monitor is asked about too, with the app's id, "multiple" and persist mode. */
static void test_consent_one_monitor_asks(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k1";
	struct select s = monitor_only;
	char buf[512];
	struct started st;

	fake_reset(1);
	/* The daemon's own environment must not speak for the app. */
	setenv("KMSCAST_APP_ID", "org.example.Forged", 1);
	start_portal_ask(NULL, consent_script("", 0));
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_SUCCESS);
	test_assert(file_exists("ran"));
	read_tmp("input", buf, sizeof(buf));
	test_assert_str_eq(buf, "card0:Virtual-1\tVirtual-1 mon 1280x800\n");
	read_tmp("app_id", buf, sizeof(buf));
	test_assert_str_eq(buf, "org.example.App");
	read_tmp("app_id_count", buf, sizeof(buf));
	test_assert_str_eq(buf, "1\n");
	read_tmp("flags", buf, sizeof(buf));
	test_assert_str_eq(buf, "0 0");
	start(a, &st);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-1");
	close_session(a);
	unsetenv("KMSCAST_APP_ID");
	stop_portal();
}

static uint32_t consent_response(const char *chooser, const char *program)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k2";
	uint32_t response;

	start_portal_ask(chooser, program);
	test_assert_int_eq(create_session(a), 0);
	response = select_sources(a, &monitor_only);
	close_session(a);
	stop_portal();
	return response;
}

/* Exit 1 is "no"; anything else, or nothing to run, is a refusal. */
static void test_consent_failures(void)
{
	fake_reset(1);
	test_assert_int_eq(consent_response(consent_script("", 1), NULL),
			PORTAL_RESPONSE_CANCELLED);
	test_assert_int_eq(consent_response(consent_script("", 3), NULL), PORTAL_RESPONSE_OTHER);
	test_assert(file_exists("ran"));
	test_assert_int_eq(consent_response(NULL, consent_script("", 3)), PORTAL_RESPONSE_OTHER);
	test_assert_int_eq(consent_response("kill -9 $$", NULL), PORTAL_RESPONSE_OTHER);
	/* A chooser answering 0 with a monitor printed is still a "yes", whatever the shell. */
	test_assert_int_eq(consent_response(consent_script("", 0), NULL),
			PORTAL_RESPONSE_SUCCESS);
	test_assert_int_eq(consent_response("/nonexistent/kmscast-consent", NULL),
			PORTAL_RESPONSE_OTHER);
	test_assert_int_eq(consent_response(NULL, "/nonexistent/kmscast-consent"),
			PORTAL_RESPONSE_OTHER);
	/* Built without the dialog and no chooser set: refused, never shared. */
	test_assert_int_eq(consent_response(NULL, NULL), PORTAL_RESPONSE_OTHER);
	test_assert_int_eq(fake.n_created, 0);
}

/* The dialog runs without a shell; the app id reaches it as a value, never as code. */
static void test_consent_program_direct(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k3";
	char app_id[PORTAL_MAX_APP_ID + 2], buf[512];
	struct select s = monitor_only;

	fake_reset(2);
	snprintf(app_id, sizeof(app_id), "org.example.App';touch %s/pwned;'$(touch %s/pwned)",
			tmpdir, tmpdir);
	start_portal_ask(NULL, consent_script("card0:Virtual-2\n", 0));
	test_assert_int_eq(create_session_as(a, app_id), 0);
	s.multiple = 1;
	s.persist_mode = 2;
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_SUCCESS);
	test_assert(file_exists("ran"));
	test_assert(!file_exists("pwned"));
	read_tmp("app_id", buf, sizeof(buf));
	test_assert_str_eq(buf, app_id);
	read_tmp("flags", buf, sizeof(buf));
	test_assert_str_eq(buf, "1 2");
	read_tmp("input", buf, sizeof(buf));
	test_assert_str_eq(buf, "card0:Virtual-1\tVirtual-1 mon 1280x800\n"
				"card0:Virtual-2\tVirtual-2 mon 1024x768\n");
	close_session(a);
	/* An app id longer than a D-Bus name is refused at CreateSession. */
	memset(app_id, 'a', sizeof(app_id) - 1);
	app_id[sizeof(app_id) - 1] = '\0';
	test_assert_int_eq(create_session_as(a, app_id), PORTAL_RESPONSE_OTHER);
	stop_portal();
}

/* consent = never: the old default, no dialog even with a chooser set and one monitor. */
static void test_consent_never(void)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k4";
	struct started st;

	fake_reset(1);
	start_portal_opts((struct portal_options){.chooser = consent_script("", 1),
			.consent_program = "/nonexistent", .consent = PORTAL_CONSENT_NEVER});
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &monitor_only), PORTAL_RESPONSE_SUCCESS);
	test_assert(!file_exists("ran"));
	start(a, &st);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-1");
	close_session(a);
	stop_portal();
}

/* Puts a Start reply back at its restore_data variant, for another SelectSources. */
static sd_bus_message *rewind_to_restore(sd_bus_message *reply)
{
	const char *key;

	test_assert(sd_bus_message_rewind(reply, true) >= 0);
	test_assert(sd_bus_message_skip(reply, "u") >= 0);
	test_assert(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
	while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
		test_assert(sd_bus_message_read(reply, "s", &key) > 0);
		if (!strcmp(key, "restore_data"))
			return reply;
		test_assert(sd_bus_message_skip(reply, "v") >= 0);
		test_assert(sd_bus_message_exit_container(reply) >= 0);
	}
	test_fail("no restore_data");
}

/* A session of app_id with restore_from: whether the dialog ran, and what it was offered. */
static bool asked_with_restore(const char *app_id, sd_bus_message *restore_from, char *input,
		size_t size)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k6";
	struct select s = monitor_only;
	struct started st;
	bool ran;

	unlink_tmp("ran");
	s.persist_mode = 2;
	s.restore_from = rewind_to_restore(restore_from);
	test_assert_int_eq(create_session_as(a, app_id), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_SUCCESS);
	ran = file_exists("ran");
	if (ran)
		read_tmp("input", input, size);
	start(a, &st);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-2");
	if (st.restore)
		sd_bus_message_unref(st.restore);
	close_session(a);
	return ran;
}

/* The first session of org.example.App: the dialog picks Virtual-2, "remember" or not. */
static sd_bus_message *first_choice(const char *answer)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/k5";
	struct select s = monitor_only;
	struct started st;

	consent_script(answer, 0);
	s.persist_mode = 2;
	test_assert_int_eq(create_session(a), 0);
	test_assert_int_eq(select_sources(a, &s), PORTAL_RESPONSE_SUCCESS);
	test_assert(file_exists("ran"));
	start(a, &st);
	test_assert_int_eq(st.n_streams, 1);
	test_assert_str_eq(st.streams[0].id, "Virtual-2");
	test_assert(st.restore);
	close_session(a);
	return st.restore;
}

static void test_consent_remember(void)
{
	sd_bus_message *restore;
	char input[512];

	fake_reset(2);
	start_portal_ask(consent_script("", 0), NULL);
	/* Remembered, same app: no dialog. Another app with the same data: asked. */
	restore = first_choice("card0:Virtual-2\nremember\n");
	test_assert(!asked_with_restore("org.example.App", restore, input, sizeof(input)));
	test_assert(asked_with_restore("org.example.Other", restore, input, sizeof(input)));
	sd_bus_message_unref(restore);
	/* Not remembered: asked, with the restored monitor offered first. */
	restore = first_choice("card0:Virtual-2\n");
	test_assert(asked_with_restore("org.example.App", restore, input, sizeof(input)));
	test_assert_int_eq(strncmp(input, "card0:Virtual-2\t", 16), 0);
	sd_bus_message_unref(restore);
	stop_portal();
}

/* ---- seats ------------------------------------------------------------------------------- */

/* What the dialog was offered ("" when it did not run), and the answer to SelectSources. */
static uint32_t offered(char *input, size_t size)
{
	const char *a = "/org/freedesktop/portal/desktop/session/1_1/q1";
	uint32_t response;

	unlink_tmp("ran");
	input[0] = '\0';
	test_assert_int_eq(create_session(a), 0);
	response = select_sources(a, &monitor_only);
	if (file_exists("ran"))
		read_tmp("input", input, size);
	close_session(a);
	return response;
}

static void test_seat_filter(void)
{
	char input[512];

	fake_reset(2);
	snprintf(fake.monitors[1].card, sizeof(fake.monitors[1].card), "card1");
	fake_seat.card1_seat = "seat1";
	start_portal_ask(consent_script("", 0), NULL);
	/* Active on seat0: card0's monitor only. */
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_SUCCESS);
	test_assert_str_eq(input, "card0:Virtual-1\tVirtual-1 mon 1280x800\n");
	/* A dialog naming the other seat's monitor gets nothing. */
	consent_script("card1:Virtual-2\n", 0);
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_CANCELLED);
	consent_script("", 0);
	/* Active on seat1 only: card1's. */
	fake_seat.active[0] = "seat1";
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_SUCCESS);
	test_assert_str_eq(input, "card1:Virtual-2\tVirtual-2 mon 1024x768\n");
	/* Active on a seat with no monitor, or on none: refused, nothing asked. */
	fake_seat.active[0] = "seat2";
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_OTHER);
	test_assert_str_eq(input, "");
	fake_seat.n_active = 0;
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_OTHER);
	test_assert_str_eq(input, "");
	/* No logind: no seats to keep apart, all offered. */
	fake_seat.no_logind = true;
	test_assert_int_eq(offered(input, sizeof(input)), PORTAL_RESPONSE_SUCCESS);
	test_assert_str_eq(input, "card0:Virtual-1\tVirtual-1 mon 1280x800\n"
				  "card1:Virtual-2\tVirtual-2 mon 1024x768\n");
	stop_portal();
	/* consent = never still shares only the user's seat's monitors. */
	fake_seat.no_logind = false;
	fake_seat.n_active = 1;
	fake_seat.active[0] = "seat1";
	start_portal(NULL);
	{
		const char *a = "/org/freedesktop/portal/desktop/session/1_1/q2";
		struct started st;

		test_assert_int_eq(create_session(a), 0);
		test_assert_int_eq(select_sources(a, &monitor_only), 0);
		start(a, &st);
		test_assert_int_eq(st.n_streams, 1);
		test_assert_str_eq(st.streams[0].id, "Virtual-2");
		close_session(a);
		fake_seat.n_active = 0;
		test_assert_int_eq(create_session(a), 0);
		test_assert_int_eq(select_sources(a, &monitor_only), PORTAL_RESPONSE_OTHER);
		close_session(a);
	}
	stop_portal();
}

static void kill_bus(void)
{
	if (bus_pid > 0)
		kill(bus_pid, SIGTERM);
}

int main(void)
{
	static const struct test_case cases[] = {
		TEST(test_properties),
		TEST(test_single_monitor_flow),
		TEST(test_window_only_refused),
		TEST(test_default_choice),
		TEST(test_chooser_and_restore),
		TEST(test_chooser_cancel),
		TEST(test_chooser_async_and_request_close),
		TEST(test_monitor_gone_emits_closed),
		TEST(test_node_fails_before_ready),
		TEST(test_only_frontend_served),
		TEST(test_close_by_non_owner_refused),
		TEST(test_frontend_exit),
		TEST(test_name_taken),
		TEST(test_sandboxed_apps_get_copies),
		TEST(test_consent_one_monitor_asks),
		TEST(test_consent_failures),
		TEST(test_consent_program_direct),
		TEST(test_consent_never),
		TEST(test_consent_remember),
		TEST(test_seat_filter),
	};

	signal(SIGPIPE, SIG_IGN);
	test_assert(mkdtemp(tmpdir));
	fake_flatpak_instance();
	pw_init(NULL, NULL);
	loop = pw_loop_new(NULL);
	test_assert(loop);
	pw_loop_enter(loop);
	start_bus();
	atexit(kill_bus); /* a failed check exits: take the dbus-daemon along */
	client = connect_frontend();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].func();
		printf("ok %zu - %s\n", i + 1, cases[i].name);
	}
	sd_bus_flush_close_unref(client);
	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
	bus_pid = 0;
	pw_loop_leave(loop);
	pw_loop_destroy(loop);
	pw_deinit();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
