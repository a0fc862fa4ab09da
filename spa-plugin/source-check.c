/* SPDX-License-Identifier: MIT */
/*
 * Checking each flip's FB against the buffers the set holds for its id (source-check.h): the
 * data loop asks, the main loop queues the request on the helper thread (a helper round trip
 * blocks, so it runs on neither loop), and the answer, back through the main loop, brings the
 * frame out on the data loop. One helper thread answers in the order it was asked, so frames
 * go out in the order the flips came; a request the helper thread refused is answered at once
 * and only marks its frame lost. On the vblank path a flip is asked about when its commit is
 * seen, while the FB is still the one committed (a failed check exports what the plane
 * shows, which then is that FB), and goes out once both its answer and its vblank are in.
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

/* The answer for the frame at the head, which its vblank latched: out, or lost. */
static void finish(struct impl *this, const struct check_frame *f)
{
	struct source_check *c = &this->check;
	int idx;

	if (!this->frame.started || !source_port_ready(&this->port)) {
		source_port_release_pending(&this->port, f->at.copied);
		return;
	}
	idx = scanout_set_find(&this->set, f->fb_id);
	if (!f->ok || idx < 0) {
		lose_frame(this, f);
		return;
	}
	if (this->frame.last_fb == f->fb_id) {
		c->verified_fb = f->fb_id;
	}
	source_frame_output_checked(this, idx, f->nsec, f->resend, &f->at);
}

/*
 * A frame out of the queue: dropped ones silently, answered ones out (or lost), the rest
 * (refused, or pushed out of a full queue) lost; one still before its vblank nowhere, since
 * its vblank asks again.
 */
static void leave(struct impl *this, const struct check_frame *f)
{
	if (!f->latched) {
		return;
	}
	if (f->dropped) {
		source_port_release_pending(&this->port, f->at.copied);
	} else if (f->refused || !f->answered) {
		lose_frame(this, f);
	} else {
		finish(this, f);
	}
}

/*
 * Frames leave from the head, in order: once refused, dropped, or answered and latched; a
 * frame still waiting for its answer or its vblank holds the ones after it.
 */
static void drain(struct impl *this)
{
	struct source_check *c = &this->check;

	while (c->n > 0) {
		struct check_frame f = c->queue[c->head];

		if (!f.refused && !f.dropped && !(f.answered && f.latched)) {
			break;
		}
		pop(c);
		leave(this, &f);
	}
}

static struct check_frame *find_seq(struct source_check *c, uint32_t seq)
{
	for (uint32_t i = 0; i < c->n; i++) {
		struct check_frame *f = &c->queue[(c->head + i) % CHECK_QUEUE];

		if (f->seq == seq) {
			return f;
		}
	}
	return NULL;
}

/* The newest frame of fb_id still waiting for its vblank. */
static struct check_frame *find_unlatched(struct source_check *c, uint32_t fb_id)
{
	for (uint32_t i = c->n; i-- > 0;) {
		struct check_frame *f = &c->queue[(c->head + i) % CHECK_QUEUE];

		if (!f->latched && f->fb_id == fb_id) {
			return f;
		}
	}
	return NULL;
}

static int do_checked(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		size_t size, void *user_data)
{
	struct impl *this = user_data;
	const struct check_msg *m = data;
	/* None: a frame lost to a full queue, or asked before a Start or Pause. */
	struct check_frame *f = find_seq(&this->check, m->seq);

	if (!f) {
		return 0;
	}
	if (m->refused) {
		/* Answered before the ones asked earlier: it waits, marked, for theirs. */
		f->refused = true;
	} else {
		f->answered = true;
		f->ok = m->ok;
	}
	drain(this);
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

/* Queues the frame f describes and asks the helper about it. */
static void ask(struct impl *this, struct check_frame f)
{
	struct source_check *c = &this->check;
	struct check_msg m = {.fb_id = f.fb_id};
	struct check_frame *slot;

	if (c->n == CHECK_QUEUE) {
		struct check_frame old = c->queue[c->head];

		pop(c);
		leave(this, &old);
	}
	f.seq = c->seq + 1;
	slot = &c->queue[(c->head + c->n) % CHECK_QUEUE];
	*slot = f;
	c->n++;
	m.seq = f.seq;
	__atomic_store_n(&c->seq, m.seq, __ATOMIC_RELEASE);
	publish_oldest(c);
	/* A full invoke queue runs nothing: this frame is lost, the next flip asks again. */
	if (spa_loop_invoke(this->main_loop, do_check, 0, &m, sizeof(m), false, this) < 0) {
		slot->refused = true;
		drain(this);
	}
}

void source_check_frame(struct impl *this, uint32_t fb_id, uint64_t nsec, bool resend,
		const struct frame_at_flip *at)
{
	/* A frame on its way already: the re-send would repeat it. */
	if (resend && this->check.n > 0) {
		source_port_release_pending(&this->port, at->copied);
		return;
	}
	ask(this, (struct check_frame){
		.fb_id = fb_id,
		.nsec = nsec,
		.resend = resend,
		.latched = true,
		.at = *at,
	});
}

void source_check_early(struct impl *this, uint32_t fb_id)
{
	ask(this, (struct check_frame){
		.fb_id = fb_id,
		.at = {.copied = SPA_ID_INVALID},
	});
}

int source_check_latch(struct impl *this, uint32_t fb_id, uint64_t nsec,
		const struct frame_at_flip *at)
{
	struct check_frame *f = find_unlatched(&this->check, fb_id);

	if (!f) {
		return -ENOENT;
	}
	f->latched = true;
	f->nsec = nsec;
	f->at = *at;
	drain(this);
	return 0;
}

void source_check_drop(struct impl *this, uint32_t fb_id)
{
	struct check_frame *f = find_unlatched(&this->check, fb_id);

	if (f) {
		f->latched = true;
		f->dropped = true;
		drain(this);
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
