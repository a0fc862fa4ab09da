/* SPDX-License-Identifier: MIT */
/*
 * Checking each flip's FB against the buffers the set holds for its id (source-check.h): the
 * data loop asks, the main loop queues the request on the helper thread (a helper round trip
 * blocks, so it runs on neither loop), and the answer, back through the main loop, brings the
 * frame out on the data loop. One helper thread answers in the order it was asked, so frames
 * go out in the order the flips came; a request the helper thread refused is answered at once
 * and only marks its frame lost.
 */
#include <errno.h>

#include <spa/utils/result.h>

#include "kmscast-source.h"

struct check_msg {
	uint32_t fb_id;
	uint32_t seq;
	bool ok; /* fb_id's entry in the set holds the buffers on screen */
	bool refused; /* never asked: the helper thread's queue was full */
};

/* A flip that cannot go out: the consumer sees a gap, as for an FB not in the set yet. */
static void lose_frame(struct impl *this, const struct check_frame *f)
{
	source_port_release_pending(&this->port, f->at.copied); /* its copy goes nowhere */
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

/* The frames at the head whose requests were refused: their answers came already. */
static void pop_refused(struct impl *this)
{
	struct source_check *c = &this->check;

	while (c->n > 0 && c->queue[c->head].refused) {
		lose_frame(this, &c->queue[c->head]);
		pop(c);
	}
}

/*
 * A refused request is answered before the ones asked earlier: its frame waits, marked, for
 * those answers, so that they still find their frames at the head in order.
 */
static void mark_refused(struct impl *this, uint32_t seq)
{
	struct source_check *c = &this->check;

	for (uint32_t i = 0; i < c->n; i++) {
		struct check_frame *f = &c->queue[(c->head + i) % CHECK_QUEUE];

		if (f->seq == seq) {
			f->refused = true;
		}
	}
	pop_refused(this);
}

/* The answer for the frame at the head: out, or lost. */
static void answer(struct impl *this, const struct check_msg *m)
{
	struct source_check *c = &this->check;
	struct check_frame f = c->queue[c->head];
	int idx;

	pop(c);
	if (!this->frame.started || !source_port_ready(&this->port)) {
		source_port_release_pending(&this->port, f.at.copied);
		return;
	}
	idx = scanout_set_find(&this->set, f.fb_id);
	if (!m->ok || idx < 0) {
		lose_frame(this, &f);
		return;
	}
	if (this->frame.last_fb == f.fb_id) {
		c->verified_fb = f.fb_id;
	}
	source_frame_output_checked(this, idx, f.nsec, f.resend, &f.at);
}

static int do_checked(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	const struct check_msg *m = data;
	struct source_check *c = &this->check;

	if (m->refused) {
		mark_refused(this, m->seq);
		return 0;
	}
	/* For a frame lost to a full queue, or asked before a Start or Pause. */
	if (c->n == 0 || c->queue[c->head].seq != m->seq) {
		return 0;
	}
	answer(this, m);
	pop_refused(this);
	return 0;
}

static int do_check(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	struct check_msg m = *(const struct check_msg *)data;
	struct source_check *c = &this->check;
	struct source_helper_job job = {
		.op = SOURCE_HELPER_CHECK,
		.crtc_id = this->config.crtc_id,
		.fb_id = m.fb_id,
		.seq = m.seq,
		.tag = LEARN_JOB_CHECK,
	};

	/* Lost already: the data loop's queue overflowed while this waited. */
	if (this->closing || (int32_t)(m.seq - __atomic_load_n(&c->oldest, __ATOMIC_ACQUIRE)) < 0) {
		return 0;
	}
	/* Answered in source_check_done, unless refused (counted and logged): answer it now. */
	if (source_learn_submit(this, &job) < 0) {
		m.refused = true;
		spa_loop_invoke(this->data_loop, do_checked, 0, &m, sizeof(m), false, this);
	}
	return 0;
}

void source_check_done(struct impl *this, struct source_helper_job *job)
{
	struct source_check *c = &this->check;
	struct check_msg m = {.fb_id = job->fb_id, .seq = job->seq};
	uint32_t exported = job->fb.fb_id;
	int res = job->check_res;

	if (this->closing) {
		return;
	}
	this->stats.n.checks++;
	if (res == 0) {
		m.ok = true;
	} else {
		if (res != -ESTALE && res != -ENOENT && res != -ENOTCONN && !c->warned_failed) {
			spa_log_warn(this->log, "%s: check of FB %u: %s (%s); exporting it again "
					"instead", this->name, m.fb_id, spa_strerror(res),
					job->check_error);
			c->warned_failed = true;
		}
		/*
		 * Another buffer under the id, or a helper that has no record of it (restarted,
		 * or the FB came from the process's cache): the helper thread exported what was
		 * on screen right after, which replaces the entry if its buffers differ. The
		 * screen may have moved on: the FB in question may be gone, its frame not known
		 * good.
		 */
		m.ok = source_learn_take(this, job) == 0 && exported == m.fb_id;
	}
	spa_loop_invoke(this->data_loop, do_checked, 0, &m, sizeof(m), false, this);
}

void source_check_frame(struct impl *this, uint32_t fb_id, uint64_t nsec, bool resend,
		const struct frame_at_flip *at)
{
	struct source_check *c = &this->check;
	struct check_frame *f;
	struct check_msg m = {.fb_id = fb_id};

	/* A frame on its way already: the re-send would repeat it. */
	if (resend && c->n > 0) {
		source_port_release_pending(&this->port, at->copied);
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
		.at = *at,
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

	for (uint32_t i = 0; i < c->n; i++) {
		source_port_release_pending(&this->port,
				c->queue[(c->head + i) % CHECK_QUEUE].at.copied);
	}
	c->n = 0;
	c->verified_fb = 0;
	publish_oldest(c);
}

void source_check_forget_slots(struct impl *this)
{
	struct source_check *c = &this->check;

	/* Their answers then go out as if nothing had been copied: a copy at that time. */
	for (uint32_t i = 0; i < c->n; i++) {
		c->queue[(c->head + i) % CHECK_QUEUE].at.copied = SPA_ID_INVALID;
	}
}
