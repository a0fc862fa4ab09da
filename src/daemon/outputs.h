/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_OUTPUTS_H
#define KMSCAST_OUTPUTS_H

#include <stdint.h>

#include "kms.h"

struct kmscast_config;

/*
 * The daemon's view of KMS: the cards of the last rescan, and the one rule for which of
 * their monitors kmscast publishes. Both the daemon's shared nodes and the portal's offer
 * are taken from it.
 */
struct outputs {
	const struct kmscast_config *config; /* not owned; NULL: every lit monitor */
	struct kms_device *cards[KMS_MAX_CARDS]; /* owned, by card index in the last listing */
	char card_names[KMS_MAX_CARDS][KMS_NAME_MAX];
	uint32_t n_cards;
};

/*
 * Re-reads the cards in dri_dir: opens new ones, refreshes known ones; a card that vanished
 * or fails is dropped (its slot is NULL).
 */
void outputs_refresh(struct outputs *o, const char *dri_dir);

/* Closes every card. */
void outputs_finish(struct outputs *o);

/*
 * Called once per published monitor: a CRTC that is lit, scans out an FB and drives
 * connector conn, which the configuration's "monitors" key lists (or there is no such key).
 */
typedef void (*outputs_fn)(void *data, struct kms_device *dev, const struct kms_crtc *crtc,
		const struct kms_connector *conn);

/* Calls fn for every published monitor, in card and CRTC order. */
void outputs_for_each(const struct outputs *o, outputs_fn fn, void *data);

#endif
