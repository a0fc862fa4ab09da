/* SPDX-License-Identifier: MIT */
/*
 * Checking each flip's FB against the buffers the set holds for its id (source-check.h): the
 * data loop asks, the main loop asks the helper (a blocking round trip, so never on the data
 * loop), and the answer brings the frame out on the data loop, in the order the flips came.
 */
#include <errno.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

struct check_msg {
	uint32_t fb_id;
	uint32_t seq;
	bool ok; /* fb_id's entry in the set holds the buffers on screen */
};

/* A flip that cannot go out: the consumer sees a gap, as for an FB not in the set yet. */
static void lose_frame(struct impl *this, const struct check_frame *f)
{
	if (!f->resend) {
		this->stats.n.dropped_unknown++;
		this->frame.discont = true;
	}
}

/* Tells the main loop which requests are still wanted: none older than the queue's head. */
static void publish_oldest(struct source_check *c)
{
	__atomic_store_n(&c->oldest, c->n > 0 ? c->queue[c->head].seq : c->seq + 1,
			__ATOMIC_RELEASE);
}

static void pop(struct source_check *c)
{
	c->head = (c->head + 1) % CHECK_QUEUE;
	c->n--;
	publish_oldest(c);
}

static int do_checked(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	const struct check_msg *m = data;
	struct source_check *c = &this->check;
	struct check_frame f;
	int idx;

	/* For a frame lost to a full queue, or asked before a Start or Pause. */
	if (c->n == 0 || c->queue[c->head].seq != m->seq) {
		return 0;
	}
	f = c->queue[c->head];
	pop(c);
	if (!this->frame.started || !source_port_ready(&this->port)) {
		return 0;
	}
	idx = scanout_set_find(&this->set, f.fb_id);
	if (!m->ok || idx < 0) {
		lose_frame(this, &f);
		return 0;
	}
	if (this->frame.last_fb == f.fb_id) {
		c->verified_fb = f.fb_id;
	}
	source_frame_output_checked(this, idx, f.nsec, f.resend);
	return 0;
}

static int do_check(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct check_msg m = *(const struct check_msg *)data;
	struct source_check *c = &this->check;
	int res;

	/* Lost already: the data loop's queue overflowed while this waited. */
	if (this->closing || (int32_t)(m.seq - __atomic_load_n(&c->oldest, __ATOMIC_ACQUIRE)) < 0) {
		return 0;
	}
	res = this->learn.helper ?
			helper_client_check(this->learn.helper, this->card.name, m.fb_id) :
			-ENOTCONN;
	this->stats.n.checks++;
	if (res == 0) {
		m.ok = true;
	} else {
		if (res != -ESTALE && res != -ENOENT && res != -ENOTCONN && !c->warned_failed) {
			spa_log_warn(this->log, "%s: check of FB %u: %s (%s); exporting it again "
					"instead", this->name, m.fb_id, spa_strerror(res),
					helper_client_last_error(this->learn.helper));
			c->warned_failed = true;
		}
		/*
		 * Another buffer under the id, or a helper that has no record of it (restarted,
		 * or the FB came from the process's cache): export what is on screen, which
		 * replaces the entry if its buffers differ.
		 */
		m.ok = source_learn_verify(this, m.fb_id) == 0;
	}
	spa_loop_invoke(this->data_loop, do_checked, 0, &m, sizeof(m), false, this);
	return 0;
}

void source_check_frame(struct impl *this, uint32_t fb_id, uint64_t nsec, bool resend)
{
	struct source_check *c = &this->check;
	struct check_frame *f;
	struct check_msg m = {.fb_id = fb_id};

	/* A frame on its way already: the re-send would repeat it. */
	if (resend && c->n > 0) {
		return;
	}
	if (c->n == CHECK_QUEUE) {
		lose_frame(this, &c->queue[c->head]);
		pop(c);
	}
	f = &c->queue[(c->head + c->n) % CHECK_QUEUE];
	*f = (struct check_frame){
		.fb_id = fb_id,
		.seq = c->seq + 1,
		.nsec = nsec,
		.resend = resend,
	};
	c->n++;
	m.seq = f->seq;
	__atomic_store_n(&c->seq, m.seq, __ATOMIC_RELEASE);
	publish_oldest(c);
	/* A full invoke queue runs nothing: this frame is lost, the next flip asks again. */
	if (spa_loop_invoke(this->main_loop, do_check, 0, &m, sizeof(m), false, this) < 0) {
		c->n--;
		lose_frame(this, f);
		publish_oldest(c);
	}
}

void source_check_reset(struct impl *this)
{
	struct source_check *c = &this->check;

	c->n = 0;
	c->verified_fb = 0;
	publish_oldest(c);
}
