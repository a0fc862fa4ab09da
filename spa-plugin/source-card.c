/* SPDX-License-Identifier: MIT */
/*
 * Losing the card and opening it again (source-card.h). The old device's fd is closed, not
 * kept: the kernel frees a card's minor (its /dev/dri/cardN name) only once nothing holds the
 * old device, an fd or a dma-buf of it, so the node's own holds must go for the card to come
 * back under the name the node was configured with.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xf86drm.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

struct kms_crtc *source_card_find_crtc(struct impl *this, struct kms_device *kms)
{
	struct kms_connector *conn;

	if (!this->card.by_connector) {
		return kms_device_find_crtc(kms, this->config.crtc_id);
	}
	conn = kms_device_find_connector(kms, this->config.connector);
	if (conn) {
		return conn->crtc_id ? kms_device_find_crtc(kms, conn->crtc_id) : NULL;
	}
	/*
	 * Connector names count per type across all devices (Virtual-1, Virtual-2): a device
	 * bound again while its old self is still held gets new ones. Its CRTC ids are its
	 * own, so the CRTC served before is the same pipe on it. 0 before the first open.
	 */
	return this->config.crtc_id ? kms_device_find_crtc(kms, this->config.crtc_id) : NULL;
}

static void arm_reopen(struct impl *this)
{
	struct timespec value = {
		this->card.wait_ns / SPA_NSEC_PER_SEC,
		this->card.wait_ns % SPA_NSEC_PER_SEC,
	};

	spa_loop_utils_update_timer(this->main_utils, this->card.reopen_timer, &value, NULL,
			false);
}

/* Data loop, the flip source stopped: nothing may use the old device after this. */
static int do_drop_card(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;

	this->kms = NULL; /* the main loop destroys it after this returns */
	cursor_set_plane(&this->cursor, NULL, 0, NULL);
	this->frame.last_fb = 0;
	return 0;
}

static void lose_card(struct impl *this, int err)
{
	struct source_card *card = &this->card;
	struct kms_device *old = this->kms;

	if (this->closing || card->lost) {
		return;
	}
	card->lost = true;
	source_flip_set_running(this, false);
	spa_loop_invoke(this->data_loop, do_drop_card, 0, NULL, 0, true, this);
	kms_device_destroy(old); /* closes the node's card fd */
	/*
	 * The helper's connection holds the old card open too: the helper thread closes it before
	 * its next request, and the next export makes another. Jobs asked before now come back
	 * as the old card's and are dropped.
	 */
	source_learn_drop_helper(this);
	/* The cached FBs (dma-bufs of the old device) are gone for every node of the CRTC. */
	scanout_cache_clear(this->cache);
	/* The set's dma-bufs stay: slots may alias them. The first FB to join replaces them. */
	this->learn.set_stale = true;
	spa_log_warn(this->log, "%s: %s went away (%s); waiting for it to come back: frames "
			"resume by themselves once its device is back with %s lit, under "
			"whatever name.", this->name, this->config.card, spa_strerror(err),
			this->config.connector);
	card->wait_ns = CARD_REOPEN_FIRST_NS;
	arm_reopen(this);
}

static int do_card_lost(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	lose_card(user_data, *(const int *)data);
	return 0;
}

void source_card_lost(struct impl *this, int err)
{
	/*
	 * A full invoke queue runs nothing: the flip source reported once and stays stopped, so
	 * the node would wait for good. The main loop drains its queue; this is its only miss.
	 */
	if (spa_loop_invoke(this->main_loop, do_card_lost, 0, &err, sizeof(err), false, this) < 0) {
		spa_log_error(this->log, "%s: the card went away and the main loop's queue is "
				"full: the node stops; recreate it", this->name);
	}
}

struct card_swap {
	struct kms_device *kms;
	const struct kms_crtc *crtc; /* in kms */
};

/* Data loop, the flip source stopped: the new device in place of none. */
static int do_swap_card(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	const struct card_swap *s = data;

	this->kms = s->kms; /* now owned by the node */
	this->config.crtc_id = s->crtc->id;
	this->frame.primary = *s->crtc->primary;
	this->frame.last_fb = 0;
	this->frame.latch.fb_id = 0; /* an FB of the old card */
	source_check_reset(this);
	cursor_set_plane(&this->cursor, s->kms, s->crtc->id, s->crtc->cursor);
	flip_source_set_card(&this->flip, s->kms->fd, s->crtc->id, s->crtc->has_vblank,
			this->refresh_mhz);
	return 0;
}

/* Most cards a reopen looks through for the node's device. */
#define CARD_MAX_DEVICES 64

/*
 * Opens the card on the node's device, under the name it has now: the configured one when
 * the device was not recorded. Returns 0 or -errno (-ENODEV: not back yet).
 */
static int open_same_device(struct impl *this, struct kms_device **out)
{
	drmDevicePtr devices[CARD_MAX_DEVICES];
	int n, res = -ENODEV;

	if (!this->card.device) {
		return kms_device_open(this->config.card, out);
	}
	if ((n = drmGetDevices2(0, devices, CARD_MAX_DEVICES)) < 0) {
		return n;
	}
	for (int i = 0; i < n && res == -ENODEV; i++) {
		if ((devices[i]->available_nodes & (1 << DRM_NODE_PRIMARY)) &&
				drmDevicesEqual(devices[i], this->card.device)) {
			res = kms_device_open(devices[i]->nodes[DRM_NODE_PRIMARY], out);
		}
	}
	drmFreeDevices(devices, n);
	return res;
}

/* Opens the card and finds the CRTC lit; 0 once the node runs on it, else -errno. */
static int reopen(struct impl *this)
{
	struct source_config *c = &this->config;
	struct card_swap s = {0};
	struct kms_connector *conn;
	int res;

	if ((res = open_same_device(this, &s.kms)) < 0) {
		return res;
	}
	s.crtc = source_card_find_crtc(this, s.kms);
	if (!s.crtc || !s.crtc->active || !s.crtc->primary) {
		kms_device_destroy(s.kms);
		return -EAGAIN; /* back, but not lit yet: the compositor's modeset is to come */
	}
	if (s.crtc->id != c->crtc_id || strcmp(s.kms->name, this->card.name) != 0) {
		/* The cache is the card's and CRTC's: the node's FBs are another's now. */
		scanout_cache_unref(this->cache);
		this->cache = scanout_cache_ref(s.kms->name, s.crtc->id);
		spa_log_info(this->log, "%s: %s is on %s crtc %u now (was %s crtc %u)", this->name,
				c->connector, s.kms->name, s.crtc->id, this->card.name, c->crtc_id);
	}
	snprintf(this->card.name, sizeof(this->card.name), "%s", s.kms->name);
	spa_loop_invoke(this->data_loop, do_swap_card, 0, &s, sizeof(s), true, this);
	this->card.lost = false;
	conn = kms_crtc_connector(s.kms, s.crtc);
	spa_log_info(this->log, "%s: %s is back as %s: crtc %u, connector %s, %s flip detection",
			this->name, c->card, s.kms->name, c->crtc_id, conn ? conn->name : "none",
			this->flip.ops->name);
	source_learn_check_refresh(this);
	source_flip_set_running(this, true);
	/* Not fatal: every tick on an unknown FB asks again. */
	source_learn_now(this);
	return 0;
}

static void on_reopen_timer(void *data, uint64_t expirations)
{
	struct impl *this = data;
	struct source_card *card = &this->card;
	int res;

	if (this->closing || !card->lost) {
		return;
	}
	if ((res = reopen(this)) == 0) {
		card->wait_ns = 0;
		return;
	}
	spa_log_debug(this->log, "%s: %s not back yet: %s", this->name, this->config.card,
			spa_strerror(res));
	card->wait_ns = SPA_MIN(card->wait_ns * 2, CARD_REOPEN_MAX_NS);
	arm_reopen(this);
}

int source_card_init(struct impl *this)
{
	this->card.by_connector = this->config.crtc_id == 0;
	this->card.reopen_timer = spa_loop_utils_add_timer(this->main_utils, on_reopen_timer, this);
	return this->card.reopen_timer ? 0 : -errno;
}

void source_card_opened(struct impl *this)
{
	drmDevicePtr device = NULL;

	snprintf(this->card.name, sizeof(this->card.name), "%s", this->kms->name);
	/* Not fatal: without it a reopen tries the configured name only. */
	if (drmGetDevice2(this->kms->fd, 0, &device) == 0) {
		drmFreeDevice(&this->card.device);
		this->card.device = device;
	}
}

void source_card_finish(struct impl *this)
{
	drmFreeDevice(&this->card.device);
	if (this->card.reopen_timer) {
		spa_loop_utils_destroy_source(this->main_utils, this->card.reopen_timer);
	}
	this->card.reopen_timer = NULL;
}
