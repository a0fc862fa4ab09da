/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanout-cache.h"

struct scanout_cache {
	struct scanout_cache *next;
	unsigned refs;
	char card[KMS_NAME_MAX];
	uint32_t crtc_id;
	struct scanout_set set; /* owns its fds */
};

/* Every cache of the process; a node is created or learns an FB a few times a minute. */
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scanout_cache *caches;

struct scanout_cache *scanout_cache_ref(const char *card, uint32_t crtc_id)
{
	struct scanout_cache *c;

	pthread_mutex_lock(&caches_lock);
	for (c = caches; c; c = c->next) {
		if (c->crtc_id == crtc_id && strcmp(c->card, card) == 0) {
			break;
		}
	}
	if (!c && (c = calloc(1, sizeof(*c)))) {
		snprintf(c->card, sizeof(c->card), "%s", card);
		c->crtc_id = crtc_id;
		c->next = caches;
		caches = c;
	}
	if (c) {
		c->refs++;
	}
	pthread_mutex_unlock(&caches_lock);
	return c;
}

void scanout_cache_unref(struct scanout_cache *cache)
{
	struct scanout_cache **p;

	if (!cache) {
		return;
	}
	pthread_mutex_lock(&caches_lock);
	if (--cache->refs > 0) {
		pthread_mutex_unlock(&caches_lock);
		return;
	}
	for (p = &caches; *p != cache; p = &(*p)->next) {
	}
	*p = cache->next;
	pthread_mutex_unlock(&caches_lock);
	scanout_set_clear(&cache->set);
	free(cache);
}

void scanout_cache_clear(struct scanout_cache *cache)
{
	if (!cache) {
		return;
	}
	pthread_mutex_lock(&caches_lock);
	scanout_set_clear(&cache->set);
	pthread_mutex_unlock(&caches_lock);
}

/*
 * The kernel hands a destroyed FB's id to the next one created: an id that still exists with
 * another geometry is another buffer. One with the same geometry cannot be told apart without
 * the privilege GETFB2 handles need: a node that takes such an entry finds out at its first
 * flip, when the helper, which never exported it on that node's connection, says so
 * (source-check.h).
 */
static bool still_there(struct kms_device *kms, const struct scanout_fb *fb)
{
	struct kms_fb_info info;

	if (kms_fb_get_info(kms, fb->fb_id, &info) < 0) {
		return false;
	}
	return info.width == fb->hfb.width && info.height == fb->hfb.height &&
			info.fourcc == fb->hfb.fourcc && info.modifier == fb->hfb.modifier;
}

int scanout_cache_put(struct scanout_cache *cache, struct kms_device *kms,
		const struct scanout_fb *fb)
{
	struct scanout_fb copy;
	int res = 0;

	pthread_mutex_lock(&caches_lock);
	for (uint32_t i = cache->set.n; i-- > 0;) {
		/* Same id, other buffers: the id was reused, the node checked it with the helper. */
		if (!scanout_fb_compatible(&cache->set.fbs[i], fb) ||
				!still_there(kms, &cache->set.fbs[i]) ||
				(cache->set.fbs[i].fb_id == fb->fb_id &&
				 !scanout_fb_same_buffers(&cache->set.fbs[i], fb))) {
			scanout_set_remove(&cache->set, i);
		}
	}
	if (scanout_set_find(&cache->set, fb->fb_id) >= 0 || cache->set.n == MAX_SCANOUT_FBS) {
		goto out;
	}
	if ((res = scanout_fb_dup(&copy, fb)) < 0) {
		goto out;
	}
	scanout_set_add(&cache->set, &copy);
out:
	pthread_mutex_unlock(&caches_lock);
	return res;
}

int scanout_cache_seed(struct scanout_cache *cache, struct kms_device *kms,
		struct scanout_set *set)
{
	struct scanout_fb copy;
	int added = 0, res = 0;

	if (set->n == 0) {
		return -EINVAL;
	}
	pthread_mutex_lock(&caches_lock);
	for (uint32_t i = 0; i < cache->set.n && set->n < MAX_SCANOUT_FBS; i++) {
		const struct scanout_fb *fb = &cache->set.fbs[i];

		if (scanout_set_find(set, fb->fb_id) >= 0 ||
				!scanout_fb_compatible(&set->fbs[0], fb) || !still_there(kms, fb)) {
			continue;
		}
		if ((res = scanout_fb_dup(&copy, fb)) < 0) {
			break;
		}
		scanout_set_add(set, &copy);
		added++;
	}
	pthread_mutex_unlock(&caches_lock);
	return added > 0 || res == 0 ? added : res;
}
