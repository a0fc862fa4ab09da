/* SPDX-License-Identifier: MIT */
/*
 * Losing the card and opening it again (source-card.h). The old device's fd is closed, not
 * kept: the kernel frees a card's minor (its /dev/dri/cardN name) only once nothing holds the
 * old device, an fd or a dma-buf of it, so the node's own holds must go for the card to come
 * back under the name the node was configured with.
 */
#include <errno.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

struct kms_crtc *source_card_find_crtc(struct impl *this, struct kms_device *kms)
{
	struct kms_connector *conn;

	if (!this->card.by_connector) {
		return kms_device_find_crtc(kms, this->config.crtc_id);
	}
	conn = kms_device_find_connector(kms, this->config.connector);
	if (!conn || !conn->crtc_id) {
		return NULL;
	}
	return kms_device_find_crtc(kms, conn->crtc_id);
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
	/* The helper's connection holds the old card open too; the next export makes another. */
	helper_client_destroy(this->learn.helper);
	this->learn.helper = NULL;
	/* The cached FBs (dma-bufs of the old device) are gone for every node of the CRTC. */
	scanout_cache_clear(this->cache);
	/* The set's dma-bufs stay: slots may alias them. The first FB to join replaces them. */
	this->learn.set_stale = true;
	spa_log_warn(this->log, "%s: %s went away (%s); waiting for it to come back: frames "
			"resume by themselves once %s is back with %s lit. A card that comes back "
			"under another name needs a new node.", this->name, this->config.card,
			spa_strerror(err), this->config.card, this->config.connector);
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
	source_check_reset(this);
	cursor_set_plane(&this->cursor, s->kms, s->crtc->id, s->crtc->cursor);
	flip_source_set_card(&this->flip, s->kms->fd, s->crtc->id, s->crtc->has_vblank,
			this->refresh_mhz);
	return 0;
}

/* Opens the card and finds the CRTC lit; 0 once the node runs on it, else -errno. */
static int reopen(struct impl *this)
{
	struct source_config *c = &this->config;
	struct card_swap s = {0};
	int res;

	if ((res = kms_device_open(c->card, &s.kms)) < 0) {
		return res;
	}
	s.crtc = source_card_find_crtc(this, s.kms);
	if (!s.crtc || !s.crtc->active || !s.crtc->primary) {
		kms_device_destroy(s.kms);
		return -EAGAIN; /* back, but not lit yet: the compositor's modeset is to come */
	}
	if (s.crtc->id != c->crtc_id) {
		/* The cache is the CRTC's: the node's FBs are another CRTC's now. */
		scanout_cache_unref(this->cache);
		this->cache = scanout_cache_ref(c->card, s.crtc->id);
		spa_log_info(this->log, "%s: %s is on crtc %u now (was %u)", this->name,
				c->connector, s.crtc->id, c->crtc_id);
	}
	spa_loop_invoke(this->data_loop, do_swap_card, 0, &s, sizeof(s), true, this);
	this->card.lost = false;
	spa_log_info(this->log, "%s: %s is back: crtc %u, %s flip detection", this->name, c->card,
			c->crtc_id, this->flip.ops->name);
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

void source_card_finish(struct impl *this)
{
	if (this->card.reopen_timer) {
		spa_loop_utils_destroy_source(this->main_utils, this->card.reopen_timer);
	}
	this->card.reopen_timer = NULL;
}
