/* SPDX-License-Identifier: MIT */
/*
 * Which monitors kmscast publishes, decided in one place for the daemon's nodes and the
 * portal's offer, from the cards as the last rescan read them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config-file.h"
#include "outputs.h"

void outputs_finish(struct outputs *o)
{
	for (uint32_t i = 0; i < o->n_cards; i++) {
		kms_device_destroy(o->cards[i]);
	}
	o->n_cards = 0;
}

void outputs_refresh(struct outputs *o, const char *dri_dir)
{
	char names[KMS_MAX_CARDS][KMS_NAME_MAX];
	struct kms_device *next[KMS_MAX_CARDS] = {0};
	int n = kms_list_cards(dri_dir, names, KMS_MAX_CARDS);

	for (int i = 0; i < n; i++) {
		char path[300];

		for (uint32_t j = 0; j < o->n_cards; j++) {
			if (o->cards[j] && strcmp(o->card_names[j], names[i]) == 0) {
				next[i] = o->cards[j]; /* moved */
				o->cards[j] = NULL;
			}
		}
		if (next[i] && kms_device_refresh(next[i]) < 0) {
			kms_device_destroy(next[i]);
			next[i] = NULL;
		}
		snprintf(path, sizeof(path), "%.200s/%.*s", dri_dir, KMS_NAME_MAX - 1, names[i]);
		if (!next[i] && kms_device_open(path, &next[i]) < 0) {
			next[i] = NULL;
		}
	}
	outputs_finish(o);
	for (int i = 0; i < n && i < KMS_MAX_CARDS; i++) {
		o->cards[i] = next[i];
		snprintf(o->card_names[i], KMS_NAME_MAX, "%.*s", KMS_NAME_MAX - 1, names[i]);
	}
	o->n_cards = n > 0 ? (uint32_t)n : 0;
}

/* Lit, scanning out an FB, driving a connector, and listed in the "monitors" key. */
static const struct kms_connector *published(const struct outputs *o, struct kms_device *dev,
		const struct kms_crtc *crtc)
{
	const struct kms_connector *conn;

	if (!crtc->active || !crtc->primary || crtc->primary->state.fb_id == 0) {
		return NULL;
	}
	conn = kms_crtc_connector(dev, crtc);
	if (!conn) {
		return NULL;
	}
	if (o->config && !config_monitor_published(o->config, dev->name, conn->name,
				conn->has_edid ? conn->monitor.name : NULL)) {
		return NULL;
	}
	return conn;
}

void outputs_for_each(const struct outputs *o, outputs_fn fn, void *data)
{
	for (uint32_t c = 0; c < o->n_cards; c++) {
		struct kms_device *dev = o->cards[c];

		for (uint32_t i = 0; dev && i < dev->n_crtcs; i++) {
			const struct kms_connector *conn = published(o, dev, &dev->crtcs[i]);

			if (conn) {
				fn(data, dev, &dev->crtcs[i], conn);
			}
		}
	}
}
