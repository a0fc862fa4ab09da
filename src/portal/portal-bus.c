/* SPDX-License-Identifier: MIT */
/*
 * The portal's bus connection in the PipeWire loop, and the small replies and checks every
 * method handler shares.
 *
 * sd-bus does its own buffering: a reply sent from a PipeWire callback may sit in the output
 * queue until the fd is writable. So every entry point ends with portal_bus_update(), which
 * asks sd-bus what it waits for (sd_bus_get_events/get_timeout) and re-arms the io source and
 * the timer to match.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <pipewire/pipewire.h>

#include "portal-internal.h"

PW_LOG_TOPIC_STATIC(portal_bus_topic, "kmscast.portal");
#define PW_LOG_TOPIC_DEFAULT portal_bus_topic

int portal_reply_response(sd_bus_message *call, uint32_t response)
{
	return sd_bus_reply_method_return(call, "ua{sv}", response, 0);
}

void portal_bus_update(struct portal *p)
{
	struct timespec value = {0, 0};
	uint64_t usec = UINT64_MAX;
	uint32_t mask = SPA_IO_IN;
	int events;

	if (!p->bus) {
		return;
	}
	events = sd_bus_get_events(p->bus);
	if (events > 0 && (events & POLLOUT)) {
		mask |= SPA_IO_OUT;
	}
	pw_loop_update_io(p->loop, p->bus_io, mask);
	if (sd_bus_get_timeout(p->bus, &usec) < 0 || usec == UINT64_MAX) {
		pw_loop_update_timer(p->loop, p->bus_timer, &value, NULL, true); /* disarm */
		return;
	}
	/* An absolute CLOCK_MONOTONIC time; 0 means now, and a zero timespec would disarm. */
	value.tv_sec = (time_t)(usec / 1000000);
	value.tv_nsec = (long)(usec % 1000000) * 1000;
	if (usec == 0) {
		value.tv_nsec = 1;
	}
	pw_loop_update_timer(p->loop, p->bus_timer, &value, NULL, true);
}

int portal_check_frontend(struct portal *p, sd_bus_message *m, sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);

	if (sender && p->frontend && !strcmp(sender, p->frontend)) {
		return 0;
	}
	pw_log_warn("refused %s.%s from %s: only the owner of %s may call the backend",
			sd_bus_message_get_interface(m), sd_bus_message_get_member(m),
			sender ? sender : "(no sender)", PORTAL_FRONTEND_NAME);
	return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
			"only the owner of %s may call this", PORTAL_FRONTEND_NAME);
}

static void process_bus(struct portal *p)
{
	int r;

	do {
		r = sd_bus_process(p->bus, NULL);
	} while (r > 0);
	if (r < 0) {
		/* The session bus is gone (the user logged out): the portal ends, nodes stay. */
		pw_log_error("session bus: %s; portal backend stopped", strerror(-r));
		pw_loop_update_io(p->loop, p->bus_io, 0);
		return;
	}
	portal_bus_update(p);
}

static void on_bus_io(void *data, int fd, uint32_t mask)
{
	process_bus(data);
}

static void on_bus_timer(void *data, uint64_t expirations)
{
	process_bus(data);
}

int portal_bus_attach(struct portal *p)
{
	PW_LOG_TOPIC_INIT(portal_bus_topic);
	p->bus_io = pw_loop_add_io(p->loop, sd_bus_get_fd(p->bus), SPA_IO_IN, false, on_bus_io, p);
	p->bus_timer = pw_loop_add_timer(p->loop, on_bus_timer, p);
	if (!p->bus_io || !p->bus_timer) {
		return -errno;
	}
	portal_bus_update(p);
	return 0;
}

void portal_bus_detach(struct portal *p)
{
	if (p->bus_io) {
		pw_loop_destroy_source(p->loop, p->bus_io);
	}
	p->bus_io = NULL;
	if (p->bus_timer) {
		pw_loop_destroy_source(p->loop, p->bus_timer);
	}
	p->bus_timer = NULL;
}
