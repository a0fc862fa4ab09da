/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SOURCE_CARD_H
#define KMSCAST_SOURCE_CARD_H

/*
 * The card going away and coming back. A driver unbound or a device unplugged leaves the
 * node's card fd dead: every ioctl on it answers ENODEV from then on, and the fd never turns
 * usable again. The flip source reports it (flip_source_events.card_lost); the node then, on
 * its main loop, lets go of the old device (its kms_device, the helper's connection, the
 * process's cached FBs of the CRTC) and opens the card again by the name it was configured
 * with, on a timer with backoff, until the CRTC it serves is lit again.
 */

#include <stdbool.h>
#include <stdint.h>

#include <spa/support/loop.h>

#include "kms.h"

struct impl;
struct kms_crtc;
struct kms_device;

/* The first wait for the card to come back, doubled after each failed try up to the last. */
#define CARD_REOPEN_FIRST_NS (500 * SPA_NSEC_PER_MSEC)
#define CARD_REOPEN_MAX_NS (5000ull * SPA_NSEC_PER_MSEC)

struct source_card {
	/* Main loop. */
	/*
	 * The device the card was opened on (bus and address), read at open: a device bound
	 * again while something still holds the old one (a consumer's imported dma-bufs, the
	 * node's own set) gets another minor, card1 for card0, and is found by this.
	 */
	struct _drmDevice *device;
	char name[KMS_NAME_MAX]; /* the card's name now: "card0", "card1" once bound again */
	struct spa_source *reopen_timer;
	uint64_t wait_ns; /* the next wait before a try; 0 while the card is up */
	bool lost; /* the card went away: this->kms is NULL until it is back */
	/* Asked for a connector rather than a CRTC id: found by its name again. Fixed at init. */
	bool by_connector;
};

/* The reopen timer. Main loop. Returns 0 or -errno. */
int source_card_init(struct impl *this);
/* Records the device of the card the node opened (this->kms). Main loop. */
void source_card_opened(struct impl *this);
/* Destroys the timer. Accepts a half-initialised node. */
void source_card_finish(struct impl *this);

/*
 * The CRTC the node serves on kms: the configured connector's when by_connector, else the
 * configured CRTC id's. NULL when there is none.
 */
struct kms_crtc *source_card_find_crtc(struct impl *this, struct kms_device *kms);

/*
 * Data loop (the flip source's card_lost): queues the main loop's handling, which closes the
 * old device and opens the card again. Never blocks.
 */
void source_card_lost(struct impl *this, int err);

#endif
