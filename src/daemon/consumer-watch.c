/* SPDX-License-Identifier: MIT */
/*
 * The registry side of consumer-watch.h. kmscast's own nodes are recognised by their
 * Video/Source class and kmscast.* name (the daemon's and the portal's alike), formatless
 * streams by their Stream/Input/Unknown class; only the latter are bound, to read their
 * target from the node info, and each is let go once its info has been read. A formatless
 * stream that targets a kmscast node is failed with a reason, through its client, the way
 * WirePlumber 0.5 fails a stream whose target it cannot find.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <pipewire/pipewire.h>
#include <spa/utils/string.h>

#include "consumer-watch.h"
#include "kmscast/node.h"

PW_LOG_TOPIC_STATIC(watch_topic, "kmscast.watch");
#define PW_LOG_TOPIC_DEFAULT watch_topic

/*
 * PW_KEY_NODE_TARGET, deprecated (PipeWire 0.3.64) and so spelled out here: what pipewiresrc
 * path=ID sets, gst 1.22's included.
 */
#define KEY_NODE_TARGET "node.target"
/* The media.class a stream gets from pw_stream_connect() with no format. */
#define FORMATLESS_CLASS "Stream/Input/Unknown"
/*
 * Any client can create nodes and name them: both tables have a limit. A node beyond it is
 * not watched (and says so at debug level); the daemon itself publishes at most
 * KMS_MAX_CARDS * 4 nodes plus the portal's.
 */
#define MAX_SOURCES 64
#define MAX_STREAMS 16
#define NAME_MAX_LEN 128

struct source {
	uint32_t id; /* SPA_ID_INVALID: free */
	uint64_t serial;
	char name[NAME_MAX_LEN];
};

struct stream {
	struct consumer_watch *watch;
	uint32_t id; /* SPA_ID_INVALID: free */
	struct pw_proxy *proxy; /* owned */
	struct spa_hook listener;
};

struct consumer_watch {
	struct pw_registry *registry; /* owned */
	struct spa_hook registry_listener;
	struct source sources[MAX_SOURCES];
	struct stream streams[MAX_STREAMS];
};

bool consumer_watch_target_matches(const char *target, uint32_t id, uint64_t serial,
		const char *name)
{
	uint64_t v;

	if (!target || !target[0]) {
		return false;
	}
	if (name && spa_streq(target, name)) {
		return true;
	}
	/*
	 * A number is an object id (node.target) or a serial (target.object, PipeWire >=
	 * 0.3.64); serial UINT64_MAX is a node whose serial is unknown.
	 */
	if (!spa_atou64(target, &v, 10)) {
		return false;
	}
	return v == id || (serial != UINT64_MAX && v == serial);
}

static void stream_release(struct stream *s)
{
	if (s->id == SPA_ID_INVALID) {
		return;
	}
	spa_hook_remove(&s->listener);
	pw_proxy_destroy(s->proxy);
	s->proxy = NULL;
	s->id = SPA_ID_INVALID;
}

static const struct source *find_target(struct consumer_watch *w, const char *target)
{
	for (size_t i = 0; i < MAX_SOURCES; i++) {
		const struct source *src = &w->sources[i];

		if (src->id != SPA_ID_INVALID &&
				consumer_watch_target_matches(target, src->id, src->serial, src->name)) {
			return src;
		}
	}
	return NULL;
}

/*
 * The advice, for the daemon's log and for the stream's application: pipewiresrc posts it
 * as "stream error: ..." and gst-launch-1.0 exits with it, instead of waiting 30 s for a
 * format that never comes.
 */
#define FORMATLESS_ADVICE \
	"%s serves no stream that offers no video format; gst pipewiresrc offers none when " \
	"the next element takes any caps (fakesink, appsink, filesink): put a caps filter " \
	"after it, 'video/x-raw(memory:DMABuf)' (GStreamer 1.22) or " \
	"'video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=XR24' (1.24 and later; the " \
	"FB's fourcc, see kmscast --list), or videoconvert for mapped frames"

/*
 * Sends the stream's client an error on the stream's node, which its pw_stream reports as
 * an ERROR state with the message. Needs W permission on the client, which a session
 * manager's default grants every unsandboxed client; without it the server ignores the
 * call, and the log line stays the only explanation.
 */
static void fail_stream(struct consumer_watch *w, uint32_t node_id, const char *client_id,
		const char *advice)
{
	struct pw_proxy *client;
	uint32_t id;

	if (!client_id || !spa_atou32(client_id, &id, 10)) {
		pw_log_debug("formatless stream %u: no client.id", node_id);
		return;
	}
	client = pw_registry_bind(w->registry, id, PW_TYPE_INTERFACE_Client, PW_VERSION_CLIENT, 0);
	if (!client) {
		pw_log_debug("formatless stream %u: bind client %u: %m", node_id, id);
		return;
	}
	pw_client_error((struct pw_client *)client, node_id, -EINVAL, advice);
	/* Queued behind the error on the same connection: the error goes out first. */
	pw_proxy_destroy(client);
}

static void on_stream_info(void *data, const struct pw_node_info *info)
{
	struct stream *s = data;
	const struct source *src;
	const char *target, *who;
	char advice[512];

	if (!(info->change_mask & PW_NODE_CHANGE_MASK_PROPS) || !info->props) {
		return;
	}
	target = spa_dict_lookup(info->props, PW_KEY_TARGET_OBJECT);
	if (!target) {
		target = spa_dict_lookup(info->props, KEY_NODE_TARGET);
	}
	src = find_target(s->watch, target);
	if (src) {
		who = spa_dict_lookup(info->props, PW_KEY_APP_NAME);
		if (!who) {
			who = spa_dict_lookup(info->props, PW_KEY_NODE_NAME);
		}
		snprintf(advice, sizeof(advice), FORMATLESS_ADVICE, src->name);
		pw_log_warn("%s (node %u) asks for %s with no video format (media.class "
				FORMATLESS_CLASS "), so the session manager will not link it and "
				"it gets no frames; the stream is failed with: %s",
				who ? who : "a client", s->id, src->name, advice);
		fail_stream(s->watch, s->id, spa_dict_lookup(info->props, PW_KEY_CLIENT_ID),
				advice);
	}
	stream_release(s);
}

static const struct pw_node_events stream_events = {
	PW_VERSION_NODE_EVENTS,
	.info = on_stream_info,
};

static void watch_stream(struct consumer_watch *w, uint32_t id, const char *type)
{
	struct stream *s = NULL;

	for (size_t i = 0; i < MAX_STREAMS && !s; i++) {
		if (w->streams[i].id == SPA_ID_INVALID) {
			s = &w->streams[i];
		}
	}
	if (!s) {
		pw_log_debug("formatless stream %u not watched: %d already are", id, MAX_STREAMS);
		return;
	}
	s->proxy = pw_registry_bind(w->registry, id, type, PW_VERSION_NODE, 0);
	if (!s->proxy) {
		pw_log_debug("formatless stream %u: bind: %m", id);
		return;
	}
	s->id = id;
	pw_proxy_add_object_listener(s->proxy, &s->listener, &stream_events, s);
}

static void add_source(struct consumer_watch *w, uint32_t id, const struct spa_dict *props)
{
	const char *name = spa_dict_lookup(props, PW_KEY_NODE_NAME);
	const char *serial = spa_dict_lookup(props, PW_KEY_OBJECT_SERIAL);
	struct source *src = NULL;

	if (!name || !spa_strstartswith(name, KMSCAST_NODE_NAME_PREFIX)) {
		return;
	}
	for (size_t i = 0; i < MAX_SOURCES && !src; i++) {
		if (w->sources[i].id == SPA_ID_INVALID) {
			src = &w->sources[i];
		}
	}
	if (!src) {
		pw_log_debug("%s not watched: %d sources already are", name, MAX_SOURCES);
		return;
	}
	src->id = id;
	src->serial = UINT64_MAX;
	if (serial && !spa_atou64(serial, &src->serial, 10)) {
		src->serial = UINT64_MAX;
	}
	snprintf(src->name, sizeof(src->name), "%s", name);
}

static void on_global(void *data, uint32_t id, uint32_t permissions, const char *type,
		uint32_t version, const struct spa_dict *props)
{
	struct consumer_watch *w = data;
	const char *class;

	if (!spa_streq(type, PW_TYPE_INTERFACE_Node) || !props) {
		return;
	}
	class = spa_dict_lookup(props, PW_KEY_MEDIA_CLASS);
	if (spa_streq(class, "Video/Source")) {
		add_source(w, id, props);
	} else if (spa_streq(class, FORMATLESS_CLASS)) {
		watch_stream(w, id, type);
	}
}

static void on_global_remove(void *data, uint32_t id)
{
	struct consumer_watch *w = data;

	for (size_t i = 0; i < MAX_SOURCES; i++) {
		if (w->sources[i].id == id) {
			w->sources[i].id = SPA_ID_INVALID;
		}
	}
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		if (w->streams[i].id == id) {
			stream_release(&w->streams[i]);
		}
	}
}

static const struct pw_registry_events registry_events = {
	PW_VERSION_REGISTRY_EVENTS,
	.global = on_global,
	.global_remove = on_global_remove,
};

int consumer_watch_new(struct pw_core *core, struct consumer_watch **out)
{
	struct consumer_watch *w;

	PW_LOG_TOPIC_INIT(watch_topic);
	w = calloc(1, sizeof(*w));
	if (!w) {
		return -errno;
	}
	for (size_t i = 0; i < MAX_SOURCES; i++) {
		w->sources[i].id = SPA_ID_INVALID;
	}
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		w->streams[i].watch = w;
		w->streams[i].id = SPA_ID_INVALID;
	}
	w->registry = pw_core_get_registry(core, PW_VERSION_REGISTRY, 0);
	if (!w->registry) {
		int res = -errno;

		free(w);
		return res;
	}
	pw_registry_add_listener(w->registry, &w->registry_listener, &registry_events, w);
	*out = w;
	return 0;
}

void consumer_watch_destroy(struct consumer_watch *w)
{
	if (!w) {
		return;
	}
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		stream_release(&w->streams[i]);
	}
	spa_hook_remove(&w->registry_listener);
	pw_proxy_destroy((struct pw_proxy *)w->registry);
	free(w);
}
