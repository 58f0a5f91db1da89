// SPDX-License-Identifier: GPL-2.0
/*
 * evbus publish and fan-out.
 *
 * A publish call goes through these steps (see the theory in evbus.h):
 *  1. stage: check each descriptor and copy its topic and payload into a
 *     staging buffer, a chunk of events at a time, no lock held; check
 *     the file may publish there (reserved topics, scope, policy);
 *  2. collect: walk the index under RCU for a run of events with one topic,
 *     gathering the matching files (targets) once for the run, minus the
 *     subscriptions whose filters refuse the event (a run with filtered
 *     subscriptions is one event long, since filters look at each event);
 *  3. reserve: per event, under bus.order_lock, take the next seq and
 *     reserve a slot in each target's ring (O(1) per ring), committing the
 *     run's previous slot there in the same hold of the ring's lock;
 *  4. write each slot with no bus-wide lock held;
 *  5. at the end of the run, commit the last slots and wake the targets
 *     that became readable, once per run;
 *  6. report seqs, reschedule, and go on with the next run or chunk.
 * A run ends at a new topic, after EVBUS_RUN_MAX events, or when the CPU
 * is wanted (need_resched()).  A fatal signal stops a batch between runs.
 *
 * With nowait (io_uring's IO_URING_F_NONBLOCK) nothing may sleep until the
 * first event is out: copies run with page faults disabled and allocations
 * do not wait, and whatever would block gives -EAGAIN, so io_uring retries
 * from a worker.  Once an event is published the call completes, blocking
 * if it must, so a retry never publishes an event twice.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/timekeeping.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>

#include "evbus.h"
#include "trace.h"

/* Publishers stage up to this many bytes of a batch at a time. */
#define EVBUS_STAGE_CHUNK	SZ_64K
/* A single small event is staged on the stack. */
#define EVBUS_STAGE_SMALL	256
/* At most this many events of one topic per RCU read section (a run). */
#define EVBUS_RUN_MAX		64
/* Targets kept on the stack before an allocation is needed. */
#define EVBUS_TARGETS_SMALL	8
/* Flags this module understands (kept here, not in uapi). */
#define EVBUS_BATCH_VALID	EVBUS_BATCH_SEQ
#define EVBUS_PUB_VALID		(EVBUS_PUB_RETAIN | EVBUS_PUB_ASK | \
				 EVBUS_PUB_WAIT)

/* A file an event goes to, and the slot reserved for it there. */
struct evbus_target {
	struct evbus_file *ef;
	const struct evbus_sub_entry *sub;	/* the first that matched */
	struct evbus_rec_hdr *slot;
	bool wake;
	u8 drop;			/* lossless, full: why it is lost */
};

/* Why an event is lost for a lossless reader. */
#define EVBUS_DROP_EXPIRED	1	/* the call's wait ran out */
#define EVBUS_DROP_FOREIGN	2	/* the publisher may not wait */
/* evbus_reserve_all(): wait for ctx->room, then try again */
#define EVBUS_WAIT_ROOM		1

struct evbus_pub_ctx {
	struct evbus_file *ef;		/* the publisher's file */
	struct evbus_bus *bus;
	bool nowait;			/* until the first event is out */
	struct io_uring_cmd *cmd;	/* EVBUS_URING_PUBLISH: may go async */
	u64 __user *useq;		/* ... and its seq, then */
	struct evbus_ask *ask;		/* the event the gate let through */
	bool kernel;			/* a $sys event: not the file's own */
	u64 rate_until;			/* the call's wait for tokens ends (0: none yet) */
	/* Lossless readers (lossless.c) */
	bool lossless;			/* the run has a lossless target */
	bool no_room_wait;		/* never waits for them (wills, ...) */
	bool wait_over;			/* the call's one wait ran out */
	u64 wait_end;			/* ... ends then (0: no wait yet) */
	struct evbus_room *room;	/* to wait on (a reference) */
	u32 room_gen;
	u64 room_wait_ns;		/* that ring's wait */
	u64 room_reader;		/* that ring's file id */
	struct evbus_target *tgt;	/* targets of the current run */
	u32 ntgt;			/* targets found (may exceed cap) */
	u32 cap;
	/* Filters: the event being collected, and its BPF window. */
	const struct evbus_msg *cur;
	bool filtered;			/* a matching subscription has filters */
	bool need_image;		/* a BPF filter matched, image is NULL */
	u32 nfiltered;			/* refusals in the last walk */
	const struct evbus_msg *image_msg;	/* what image holds */
	void *image;			/* EVBUS_FILTER_WINDOW bytes */
	/* Identity cache: most readers share the sender's namespaces. */
	struct pid_namespace *pid_ns;
	struct user_namespace *user_ns;
	struct evbus_ident ident;
	struct evbus_sender from;	/* current, as kernel ids */
	struct evbus_target small[EVBUS_TARGETS_SMALL];
};

static gfp_t evbus_pub_gfp(const struct evbus_pub_ctx *ctx)
{
	return ctx->nowait ? GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN : EVBUS_GFP;
}

/* No memory: -ENOMEM, or -EAGAIN while the caller must not wait. */
static int evbus_pub_nomem(const struct evbus_pub_ctx *ctx)
{
	return ctx->nowait ? -EAGAIN : -ENOMEM;
}

/* copy_from_user that does not sleep on a fault while nowait: 0 or -errno. */
static int evbus_copy_in(const struct evbus_pub_ctx *ctx, void *dst,
			 const void __user *src, size_t len)
{
	unsigned long left;

	if (!ctx->nowait)
		return copy_from_user(dst, src, len) ? -EFAULT : 0;
	pagefault_disable();
	left = copy_from_user(dst, src, len);
	pagefault_enable();
	return left ? -EAGAIN : 0;
}

static int evbus_put_seq(const struct evbus_pub_ctx *ctx, u64 seq,
			 u64 __user *useq)
{
	int ret;

	if (!ctx->nowait)
		return put_user(seq, useq);
	pagefault_disable();
	ret = put_user(seq, useq);
	pagefault_enable();
	return ret ? -EAGAIN : 0;
}

static void evbus_pub_ctx_init(struct evbus_pub_ctx *ctx, struct evbus_file *ef,
			       bool nowait)
{
	ctx->ef = ef;
	ctx->bus = ef->bus;
	ctx->nowait = nowait;
	ctx->tgt = ctx->small;
	ctx->cap = ARRAY_SIZE(ctx->small);
	ctx->pid_ns = NULL;
	ctx->user_ns = NULL;
	ctx->kernel = false;
	ctx->image = NULL;
	ctx->image_msg = NULL;
	ctx->cmd = NULL;
	ctx->useq = NULL;
	ctx->ask = NULL;
	ctx->rate_until = 0;
	ctx->no_room_wait = false;
	ctx->wait_over = false;
	ctx->wait_end = 0;
	ctx->room = NULL;
	ctx->from.uid = current_euid();
	ctx->from.gid = current_egid();
	ctx->from.tid = task_pid(current);
	ctx->from.tgid = task_tgid(current);
}

static void evbus_targets_free(struct evbus_pub_ctx *ctx)
{
	if (ctx->tgt != ctx->small)
		kvfree(ctx->tgt);
}

static void evbus_pub_ctx_free(struct evbus_pub_ctx *ctx)
{
	evbus_targets_free(ctx);
	kfree(ctx->image);
}

/*
 * May ef publish on this topic ($sys.*, its scope, the policy)?  0,
 * -EACCES (reported) or, if nowait, -EAGAIN; *ask is set if the policy
 * makes it go through the gate.  Also for wills and an approver's new
 * topic.
 */
int evbus_may_publish_on(struct evbus_file *ef, const char *topic, u32 len,
			 const struct evbus_segs *segs, bool *ask, bool nowait)
{
	struct evbus_pol_verdict v = {};

	if (segs->sys)
		v.cause = EVBUS_DENY_RESERVED;
	else if (!evbus_scope_may_publish(ef, topic, len))
		v.cause = EVBUS_DENY_SCOPE;
	else
		evbus_policy_check_publish(ef->bus, ef->cred, topic, segs, &v);
	*ask = v.ask;
	if (!v.cause)
		return 0;
	return evbus_deny(ef, EVBUS_RIGHT_PUBLISH, &v, topic, len, nowait);
}

static int evbus_may_publish(const struct evbus_pub_ctx *ctx, const char *topic,
			     u32 len, const struct evbus_segs *segs, bool *ask)
{
	return evbus_may_publish_on(ctx->ef, topic, len, segs, ask, ctx->nowait);
}

/* ------------------------------------------------------------ staging */

/*
 * Take p's rate tokens (rate.c): at once, or with EVBUS_PUB_WAIT waiting
 * up to the call's deadline, the first waiting event's, so a batch waits
 * at most one deadline in all.
 */
static int evbus_pub_rate(struct evbus_pub_ctx *ctx, const struct evbus_pub *p,
			  struct evbus_msg *m)
{
	u64 until = 0;

	if (p->flags & EVBUS_PUB_WAIT) {
		if (!ctx->rate_until)
			ctx->rate_until = evbus_rate_until(p->deadline_ns);
		until = ctx->rate_until;
	}
	m->rated_len = p->payload_len;
	return evbus_rate_take(ctx->ef, p->payload_len, until, ctx->nowait,
			       &m->rated);
}

/* m was staged but does not go out: its tokens go back. */
static void evbus_pub_unrate(const struct evbus_pub_ctx *ctx, struct evbus_msg *m)
{
	if (m->rated)
		evbus_rate_refund(ctx->ef, m->rated_len);
	m->rated = false;
}

/* Check one descriptor and copy its topic and payload to dst. */
static int evbus_stage_one(struct evbus_pub_ctx *ctx,
			   const struct evbus_pub *p, u32 limit, char *dst,
			   struct evbus_msg *m)
{
	bool ask = false;
	int ret;

	m->retain = NULL;
	m->rated = false;
	if ((p->flags & ~EVBUS_PUB_VALID) || p->reserved)
		return -EINVAL;
	if ((p->flags & EVBUS_PUB_WAIT) && !p->deadline_ns)
		return -EINVAL;
	if (!p->topic_len || p->topic_len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (p->payload_len > limit)
		return -EMSGSIZE;
	ret = evbus_copy_in(ctx, dst, u64_to_user_ptr(p->topic), p->topic_len);
	if (ret)
		return ret;
	if (evbus_topic_parse(dst, p->topic_len, &m->segs))
		return -EINVAL;
	ret = evbus_may_publish(ctx, dst, p->topic_len, &m->segs, &ask);
	if (ret)
		return ret;
	if (p->payload_len) {
		ret = evbus_copy_in(ctx, dst + p->topic_len,
				    u64_to_user_ptr(p->payload), p->payload_len);
		if (ret)
			return ret;
	}
	m->topic = dst;
	m->payload = dst + p->topic_len;
	m->topic_len = p->topic_len;
	m->payload_len = p->payload_len;
	m->type = p->type;
	m->corr = p->corr;
	m->parent = p->parent;
	m->rec_len = evbus_event_rec_len(p->topic_len, p->payload_len);
	m->pub_flags = p->flags;
	m->ev_flags = 0;
	m->ask = ask ? EVBUS_ASK_MANDATORY :
		 (p->flags & EVBUS_PUB_ASK) ? EVBUS_ASK_ASKED : 0;
	m->deadline_ns = p->deadline_ns;
	ret = evbus_pub_rate(ctx, p, m);
	if (ret)
		return ret;
	/* A retained value is what the gate lets through: staged after it. */
	if (m->ask)
		return 0;
	/* Last: a staged retained value is freed by whoever staged m. */
	ret = evbus_retained_stage(ctx->ef, m, &ctx->from,
				   evbus_pub_gfp(ctx));
	if (ret)
		evbus_pub_unrate(ctx, m);
	if (ret == -ENOMEM)
		return evbus_pub_nomem(ctx);
	return ret;
}

/* Where a call stages its events: a chunk of messages and their bytes. */
struct evbus_stage {
	struct evbus_msg *msg;
	char *buf;
	size_t size;
	u32 chunk;			/* messages per chunk */
	u32 limit;			/* max_payload, one value per call */
	struct evbus_msg msg1;
	char small[EVBUS_STAGE_SMALL];
};

static int evbus_stage_alloc(struct evbus_pub_ctx *ctx, struct evbus_stage *sg,
			     const struct evbus_pub *descs, u32 n)
{
	u32 i;

	sg->limit = READ_ONCE(ctx->bus->limits->max_payload);
	sg->msg = &sg->msg1;
	sg->buf = sg->small;
	sg->size = 0;
	sg->chunk = 1;
	/* Invalid sizes are rejected while staging; only bound them here. */
	for (i = 0; i < n; i++)
		sg->size = max_t(size_t, sg->size,
				 min_t(u32, descs[i].topic_len, EVBUS_TOPIC_MAX) +
				 min(descs[i].payload_len, sg->limit));
	if (n > 1) {
		sg->size = max_t(size_t, sg->size,
				 min_t(size_t, EVBUS_STAGE_CHUNK,
				       n * (EVBUS_TOPIC_MAX + 64)));
		sg->chunk = min_t(u32, n, EVBUS_STAGE_CHUNK / sizeof(*sg->msg));
		sg->msg = kvmalloc_array(sg->chunk, sizeof(*sg->msg),
					 evbus_pub_gfp(ctx));
	}
	if (sg->msg && (n > 1 || sg->size > sizeof(sg->small)))
		sg->buf = kvmalloc(sg->size, evbus_pub_gfp(ctx));
	return sg->msg && sg->buf ? 0 : evbus_pub_nomem(ctx);
}

static void evbus_stage_free(struct evbus_stage *sg)
{
	if (sg->msg != &sg->msg1)
		kvfree(sg->msg);
	if (sg->buf != sg->small)
		kvfree(sg->buf);
}

/*
 * Stage as many of descs[0..n) as fit, stopping at the first bad one.
 * Returns how many were staged; *err gets 0 or that one's errno.
 */
static u32 evbus_stage_chunk(struct evbus_pub_ctx *ctx, struct evbus_stage *sg,
			     const struct evbus_pub *descs, u32 n, int *err)
{
	size_t used = 0;
	u32 k;

	*err = 0;
	for (k = 0; k < sg->chunk && k < n; k++) {
		const struct evbus_pub *p = &descs[k];
		size_t len = (size_t)p->topic_len + p->payload_len;

		if (k && used + len > sg->size)
			break;
		*err = evbus_stage_one(ctx, p, sg->limit, sg->buf + used,
				       &sg->msg[k]);
		if (*err)
			break;
		/* An event that asks is the first and only one of its chunk. */
		if (sg->msg[k].ask) {
			k += !k;
			break;
		}
		used += len;
	}
	return k;
}

/* ----------------------------------------------------------- fan-out */

static void evbus_ident_for(struct evbus_pub_ctx *ctx, struct evbus_file *ef);

/*
 * Does sub's filter let the event being collected through?  A BPF filter
 * needs the window; without one, stop the walk (need_image) so the caller
 * can allocate it outside RCU and collect again.
 */
static bool evbus_sub_accepts(struct evbus_pub_ctx *ctx,
			      const struct evbus_sub_entry *sub)
{
	const struct evbus_filter *f = sub->filter;

	if (f->prog) {
		if (!ctx->image) {
			ctx->need_image = true;
			return false;
		}
		if (ctx->image_msg != ctx->cur) {
			evbus_filter_image(ctx->image, ctx->cur);
			ctx->image_msg = ctx->cur;
		}
		evbus_ident_for(ctx, sub->owner);
		evbus_filter_ident(ctx->image, &ctx->ident);
	}
	return evbus_filter_pass(f, ctx->cur, &ctx->from, ctx->image);
}

static bool evbus_add_target(struct evbus_index_entry *ent, void *arg)
{
	struct evbus_sub_entry *sub = container_of(ent, struct evbus_sub_entry, ent);
	struct evbus_file *ef = sub->owner;
	struct evbus_pub_ctx *ctx = arg;

	if (unlikely(sub->filter)) {
		ctx->filtered = true;
		if (!evbus_sub_accepts(ctx, sub)) {
			if (ctx->need_image)
				return false;
			ctx->nfiltered++;
			return true;
		}
	}
	if (unlikely(READ_ONCE(ef->ring.policy) == EVBUS_POLICY_LOSSLESS))
		ctx->lossless = true;
	if (ctx->ntgt < ctx->cap) {
		ctx->tgt[ctx->ntgt].ef = ef;
		ctx->tgt[ctx->ntgt].sub = sub;
		ctx->tgt[ctx->ntgt].slot = NULL;
		ctx->tgt[ctx->ntgt].wake = false;
		ctx->tgt[ctx->ntgt].drop = 0;
	}
	ctx->ntgt++;
	return true;
}

/*
 * Gather the files m goes to (a file once per matching pattern), as many as
 * fit; returns how many there are.  Caller holds rcu_read_lock().
 */
static u32 evbus_collect(struct evbus_pub_ctx *ctx, const struct evbus_msg *m)
{
	ctx->ntgt = 0;
	ctx->cur = m;
	ctx->lossless = false;
	ctx->filtered = false;
	ctx->need_image = false;
	ctx->nfiltered = 0;
	/* Staging slots are reused: never trust a window from before. */
	ctx->image_msg = NULL;
	evbus_index_match(&ctx->bus->index, m->topic, &m->segs,
			  evbus_add_target, ctx);
	return ctx->ntgt;
}

static int evbus_targets_grow(struct evbus_pub_ctx *ctx);

/* The last walk needs more room for targets, or a BPF window: 0 or -errno. */
static int evbus_collect_grow(struct evbus_pub_ctx *ctx)
{
	if (!ctx->need_image)
		return evbus_targets_grow(ctx);
	ctx->image = kmalloc(EVBUS_FILTER_WINDOW, evbus_pub_gfp(ctx));
	return ctx->image ? 0 : evbus_pub_nomem(ctx);
}

/*
 * Grow the targets to what the last walk found, with some room: bounded by
 * the subscriptions matching one topic, charged to the publisher.
 */
static int evbus_targets_grow(struct evbus_pub_ctx *ctx)
{
	u32 need = ctx->ntgt + ctx->ntgt / 4;
	struct evbus_target *tgt;

	tgt = kvmalloc_array(need, sizeof(*tgt), evbus_pub_gfp(ctx));
	if (!tgt)
		return evbus_pub_nomem(ctx);
	evbus_targets_free(ctx);
	ctx->tgt = tgt;
	ctx->cap = need;
	return 0;
}

static void evbus_ident_for(struct evbus_pub_ctx *ctx, struct evbus_file *ef)
{
	if (ctx->pid_ns != ef->pid_ns) {
		ctx->pid_ns = ef->pid_ns;
		ctx->ident.pid = pid_nr_ns(ctx->from.tgid, ef->pid_ns);
		ctx->ident.tid = pid_nr_ns(ctx->from.tid, ef->pid_ns);
	}
	if (ctx->user_ns != ef->user_ns) {
		ctx->user_ns = ef->user_ns;
		ctx->ident.uid = from_kuid_munged(ef->user_ns, ctx->from.uid);
		ctx->ident.gid = from_kgid_munged(ef->user_ns, ctx->from.gid);
	}
}

/* Does target t take the event numbered seq (see evbus_reserve_all())? */
static bool evbus_target_takes(const struct evbus_target *t, u64 seq)
{
	return !t->ef->replaying && seq >= t->sub->from &&
	       t->ef->match_seq != seq;
}

/* Is target i's file also an earlier target's (several patterns match)? */
static bool evbus_target_seen(const struct evbus_pub_ctx *ctx, u32 i)
{
	u32 j;

	for (j = 0; j < i; j++)
		if (ctx->tgt[j].ef == ctx->tgt[i].ef)
			return true;
	return false;
}

/* Why m is lost at t's full lossless ring: 0 if the publisher waits. */
static u8 evbus_lossless_drop(const struct evbus_pub_ctx *ctx,
			      const struct evbus_target *t,
			      const struct evbus_msg *m)
{
	if (ctx->kernel || ctx->no_room_wait ||
	    !evbus_lossless_may_wait(ctx->ef, t->ef, m))
		return EVBUS_DROP_FOREIGN;
	return ctx->wait_over ? EVBUS_DROP_EXPIRED : 0;
}

/*
 * Before m is numbered (order_lock held): does a lossless target lack
 * room for it?  If the publisher may wait for that reader, note the room
 * in ctx and return EVBUS_WAIT_ROOM; else mark why m is lost there.
 */
static int evbus_lossless_check(struct evbus_pub_ctx *ctx,
				const struct evbus_msg *m, u64 seq)
{
	struct evbus_room *room;
	u32 i, gen;
	u64 wait;

	for (i = 0; i < ctx->ntgt; i++) {
		struct evbus_target *t = &ctx->tgt[i];

		if (READ_ONCE(t->ef->ring.policy) != EVBUS_POLICY_LOSSLESS ||
		    !evbus_target_takes(t, seq))
			continue;
		room = evbus_ring_lossless_full(&t->ef->ring, m->rec_len, &gen,
						&wait);
		if (!room)
			continue;
		/* Full: its reader must hear of it (evbus_finish_run()). */
		t->wake = true;
		/* A file's first entry decides for it. */
		if (!evbus_target_seen(ctx, i)) {
			t->drop = evbus_lossless_drop(ctx, t, m);
			if (!t->drop) {
				ctx->room = room;
				ctx->room_gen = gen;
				ctx->room_wait_ns = wait;
				ctx->room_reader = t->ef->ring.file_id;
				return EVBUS_WAIT_ROOM;
			}
		}
		evbus_room_put(room);
	}
	return 0;
}

/* Count the losses at lossless readers by cause, once m is numbered. */
static void evbus_lossless_count(struct evbus_pub_ctx *ctx)
{
	u32 i;

	for (i = 0; i < ctx->ntgt; i++) {
		struct evbus_target *t = &ctx->tgt[i];

		if (t->drop && !t->slot) {
			if (t->drop == EVBUS_DROP_EXPIRED)
				evbus_count(ctx->bus->stats, lossless_expired, 1);
			else
				evbus_count(ctx->bus->stats, lossless_foreign, 1);
		}
		t->drop = 0;
	}
}

/*
 * Number m, keep it, and reserve its slots: the only step under
 * bus.order_lock.  0, -ENOSPC (nothing done) if its retained value does
 * not fit, or EVBUS_WAIT_ROOM (nothing done) if it must wait for a
 * lossless reader first.
 */
static int evbus_reserve_all(struct evbus_pub_ctx *ctx, struct evbus_msg *m)
{
	struct evbus_bus *bus = ctx->bus;
	u32 i;
	int ret;

	spin_lock(&bus->order_lock);
	/*
	 * First whether m must wait for a lossless reader: the retained
	 * check charges m's user for a value that is installed below, so
	 * nothing may return between the two.
	 */
	if (unlikely(ctx->lossless)) {
		ret = evbus_lossless_check(ctx, m, bus->seq + 1);
		if (ret) {
			spin_unlock(&bus->order_lock);
			return ret;
		}
	}
	if (unlikely(m->pub_flags & EVBUS_PUB_RETAIN) &&
	    evbus_retained_check(bus, m)) {
		spin_unlock(&bus->order_lock);
		return -ENOSPC;
	}
	m->seq = ++bus->seq;
	m->time_ns = ktime_get_real_ns();
	m->mono_ns = ktime_get_ns();
	trace_evbus_publish(ctx->ef->ring.file_id, m->seq, m->topic,
			    m->topic_len, m->payload_len, m->type);
	evbus_hist_append(bus, m, &ctx->from);
	if (unlikely(m->pub_flags & EVBUS_PUB_RETAIN))
		evbus_retained_install(bus, m);
	for (i = 0; i < ctx->ntgt; i++) {
		struct evbus_target *t = &ctx->tgt[i];

		/*
		 * A file catching up takes this event from the history; a
		 * subscription still queueing retained values takes it
		 * through the file's other ones only.
		 */
		if (t->ef->replaying || m->seq < t->sub->from)
			continue;
		/*
		 * A file with several matching patterns gets the event once,
		 * through its first entry (the same one for the whole run).
		 */
		if (t->ef->match_seq == m->seq)
			continue;
		t->ef->match_seq = m->seq;
		t->slot = evbus_ring_reserve(&t->ef->ring, m, t->slot, &t->wake);
	}
	spin_unlock(&bus->order_lock);
	if (unlikely(ctx->lossless))
		evbus_lossless_count(ctx);
	return 0;
}

/* Publish one staged event to the collected targets; RCU read held. */
static int evbus_publish_one(struct evbus_pub_ctx *ctx, struct evbus_msg *m)
{
	u32 i;
	int ret;

	ret = evbus_reserve_all(ctx, m);
	if (ret)
		return ret;
	for (i = 0; i < ctx->ntgt; i++) {
		struct evbus_target *t = &ctx->tgt[i];

		if (!t->slot)
			continue;
		evbus_ident_for(ctx, t->ef);
		evbus_ring_write(t->slot, m, &ctx->ident);
	}
	return 0;
}

/* The run is over: commit its last slots, wake who became readable. */
static void evbus_finish_run(struct evbus_pub_ctx *ctx)
{
	u32 i;

	for (i = 0; i < ctx->ntgt; i++) {
		struct evbus_target *t = &ctx->tgt[i];

		if (t->slot)
			t->wake |= evbus_ring_commit(&t->ef->ring, t->slot);
		t->slot = NULL;
		if (t->wake)
			wake_up_interruptible_poll(&t->ef->ring.wq,
						   EPOLLIN | EPOLLRDNORM);
	}
}

/*
 * Wait for the lossless reader evbus_lossless_check() found full, no lock
 * held: 0 to try again (room was made, or the call's wait ran out and the
 * event is now lost there), -EINTR on a fatal signal, or -EAGAIN while
 * nothing may sleep (io_uring retries from a worker).
 */
static int evbus_pub_wait_room(struct evbus_pub_ctx *ctx)
{
	struct evbus_room *room = ctx->room;
	u64 now = ktime_get_ns(), end, wait;
	int ret;

	ctx->room = NULL;
	if (ctx->nowait) {
		evbus_room_put(room);
		return -EAGAIN;
	}
	/* The call's first wait sets its one deadline. */
	wait = min(ctx->room_wait_ns, evbus_lossless_max_ns());
	if (!ctx->wait_end)
		ctx->wait_end = now + wait;
	end = min(ctx->wait_end, now + wait);
	ret = evbus_room_wait(ctx->ef, ctx->room_reader, room, ctx->room_gen,
			      end);
	if (ret == -ETIMEDOUT) {
		ctx->wait_over = true;
		ret = 0;
	}
	return ret;
}

/* How many of m[0..n) (n >= 1, at most a run) share m[0]'s topic. */
static u32 evbus_same_topic_run(const struct evbus_msg *m, u32 n)
{
	u32 i;

	n = min_t(u32, n, EVBUS_RUN_MAX);
	for (i = 1; i < n; i++)
		if (m[i].topic_len != m[0].topic_len ||
		    memcmp(m[i].topic, m[0].topic, m[0].topic_len))
			break;
	return i;
}

/*
 * Publish staged events m[0..k) in runs of one topic.  Returns how many
 * went out; *err is set if a run could not start (no memory, or a fatal
 * signal between runs).
 */
static u32 evbus_publish_staged(struct evbus_pub_ctx *ctx, struct evbus_msg *m,
				u32 k, int *err)
{
	u32 i = 0, j, run;
	u64 bytes = 0;

	*err = 0;
	while (i < k) {
		if (i && fatal_signal_pending(current)) {
			*err = -EINTR;
			break;
		}
		rcu_read_lock();
		while (evbus_collect(ctx, &m[i]) > ctx->cap || ctx->need_image) {
			rcu_read_unlock();
			*err = evbus_collect_grow(ctx);
			if (*err)
				goto out;
			rcu_read_lock();
		}
		/* Only the walk that is used counts its refusals. */
		if (ctx->nfiltered)
			evbus_count(ctx->bus->stats, filtered, ctx->nfiltered);
		run = ctx->filtered ? 1 : evbus_same_topic_run(&m[i], k - i);
		for (j = i; j < i + run; j++) {
			if (j > i && need_resched())
				break;
			*err = evbus_publish_one(ctx, &m[j]);
			if (*err)
				break;
			bytes += m[j].payload_len;
		}
		run = j - i;
		evbus_finish_run(ctx);
		rcu_read_unlock();
		if (run)
			ctx->nowait = false;	/* events are out: finish the call */
		i += run;
		/* m[i] waits for a lossless reader, then goes again. */
		if (*err == EVBUS_WAIT_ROOM)
			*err = evbus_pub_wait_room(ctx);
		if (*err)
			break;
		if (i < k)
			cond_resched();
	}
out:
	if (!ctx->kernel)
		atomic64_add(i, &ctx->ef->published);
	evbus_count(ctx->bus->stats, published, i);
	evbus_count(ctx->bus->stats, published_bytes, bytes);
	return i;
}

/*
 * m (alone in its chunk of a call of n events) asks for approval: pass the
 * gate (which may change m), then stage its retained value.  0, or -errno
 * with nothing to publish: -EAGAIN while nothing may wait (io_uring
 * retries from a worker), -EIOCBQUEUED when an io_uring publish goes on
 * without the caller.
 */
static int evbus_pub_gate(struct evbus_pub_ctx *ctx, struct evbus_msg *m,
			  u32 n)
{
	bool rated = m->rated;
	u32 rated_len = m->rated_len;
	int ret;

	if (ctx->nowait)
		return -EAGAIN;
	ret = evbus_gate_pass(ctx->ef, m, &ctx->from, n == 1 ? ctx->cmd : NULL,
			      ctx->useq, &ctx->ask);
	/* Going on without the caller, the ask owns the tokens. */
	if (ret == -EIOCBQUEUED)
		m->rated = false;
	if (ret)
		return ret;
	/* m is now what the gate let through; the tokens are as taken. */
	m->rated = rated;
	m->rated_len = rated_len;
	ret = evbus_retained_stage(ctx->ef, m, &ctx->from, EVBUS_GFP);
	if (ret) {
		evbus_gate_done(ctx->ask, ret);
		ctx->ask = NULL;
	}
	return ret;
}

/*
 * Publish descs[0..n) in order.  Returns the number published; *err gets
 * 0 or the errno of the first failing event (nothing after it goes out).
 * With udescs (EVBUS_BATCH_SEQ) each event's seq is written back there.
 */
static u32 evbus_publish(struct evbus_pub_ctx *ctx, const struct evbus_pub *descs,
			 struct evbus_pub __user *udescs, u32 n, u64 *first_seq,
			 int *err)
{
	struct evbus_stage sg;
	u32 done = 0, i, k, out, staged;
	int perr = 0;

	*first_seq = 0;
	*err = evbus_stage_alloc(ctx, &sg, descs, n);
	while (!*err && done < n) {
		k = evbus_stage_chunk(ctx, &sg, descs + done, n - done, err);
		staged = k;
		/*
		 * With EVBUS_BATCH_SEQ, an event whose seq cannot be reported
		 * is not published: probe each slot by writing back what the
		 * caller had there, before the event goes out.
		 */
		for (i = 0; udescs && i < k; i++) {
			perr = evbus_put_seq(ctx, descs[done + i].seq,
					     &udescs[done + i].seq);
			if (perr) {
				*err = perr == -EAGAIN ? perr : -EFAULT;
				k = i;
				break;
			}
		}
		/* Would block before anything is out: publish nothing. */
		if (*err == -EAGAIN && ctx->nowait)
			k = 0;
		if (k && sg.msg[0].ask) {
			perr = evbus_pub_gate(ctx, &sg.msg[0], n);
			if (perr) {
				*err = perr;
				k = 0;
			}
		}
		out = evbus_publish_staged(ctx, sg.msg, k, &perr);
		evbus_gate_done(ctx->ask, out ? 0 : perr);
		ctx->ask = NULL;
		/* What was staged and does not go out spends no tokens. */
		for (i = out; i < staged; i++)
			evbus_pub_unrate(ctx, &sg.msg[i]);
		/* Staged retained values not taken by the store go. */
		for (i = 0; i < staged; i++)
			evbus_retained_unstage(&sg.msg[i]);
		if (out && !done)
			*first_seq = sg.msg[0].seq;
		/*
		 * Report each seq in its descriptor.  The slots were probed
		 * above, so this fails only if the caller unmaps them
		 * meanwhile; the events stay published regardless.
		 */
		for (i = 0; udescs && i < out; i++)
			if (put_user(sg.msg[i].seq, &udescs[done + i].seq))
				break;
		done += out;
		if (out < k)
			*err = perr;
	}
	evbus_stage_free(&sg);
	return done;
}

/* ------------------------------------------------------------- ioctls */

/*
 * EVBUS_IOC_PUBLISH, and EVBUS_URING_PUBLISH (cmd): 0 or -errno, which
 * *fail gets too; -EIOCBQUEUED when cmd completes later (gate.c).
 */
long evbus_uring_publish(struct evbus_file *ef, void __user *argp, bool nowait,
			 struct io_uring_cmd *cmd, int *fail)
{
	u64 __user *useq = argp + offsetof(struct evbus_pub, seq);
	struct evbus_pub_ctx ctx;
	struct evbus_pub p;
	u64 seq;
	int err;

	evbus_pub_ctx_init(&ctx, ef, nowait);
	ctx.cmd = cmd;
	ctx.useq = useq;
	/* The seq slot must be writable before the event goes out. */
	err = evbus_copy_in(&ctx, &p, argp, sizeof(p));
	if (!err)
		err = evbus_put_seq(&ctx, p.seq, useq);
	if (!err)
		evbus_publish(&ctx, &p, NULL, 1, &seq, &err);
	evbus_pub_ctx_free(&ctx);
	if (err == -EIOCBQUEUED)
		return err;
	*fail = err;
	if (err)
		return err;
	/* Fails only if the caller unmapped the struct meanwhile. */
	return put_user(seq, useq) ? -EFAULT : 0;
}

long evbus_ioctl_publish(struct evbus_file *ef, void __user *argp, bool nowait,
			 int *fail)
{
	return evbus_uring_publish(ef, argp, nowait, NULL, fail);
}

/*
 * Publish m, which the gate let through for an io_uring publish (gate.c),
 * from the submitter's task; its retained value is staged here.  0 with
 * *seq, or -errno (counted by the caller).
 */
int evbus_publish_approved(struct evbus_file *ef, struct evbus_msg *m, u64 *seq)
{
	struct evbus_pub_ctx ctx;
	int err;

	evbus_pub_ctx_init(&ctx, ef, false);
	ctx.no_room_wait = true;	/* in the submitter's task work */
	err = evbus_retained_stage(ef, m, &ctx.from, EVBUS_GFP);
	if (!err) {
		evbus_publish_staged(&ctx, m, 1, &err);
		evbus_retained_unstage(m);
	}
	evbus_pub_ctx_free(&ctx);
	*seq = m->seq;
	return err;
}

/* Copy the batch's descriptors in, charged to the caller. */
static struct evbus_pub *evbus_batch_descs(struct evbus_pub_ctx *ctx,
					   const struct evbus_pub_batch *b,
					   int *err)
{
	struct evbus_pub *descs;

	descs = kvmalloc_array(b->count, sizeof(*descs), evbus_pub_gfp(ctx));
	if (!descs) {
		*err = evbus_pub_nomem(ctx);
		return NULL;
	}
	*err = evbus_copy_in(ctx, descs, u64_to_user_ptr(b->events),
			     array_size(b->count, sizeof(*descs)));
	if (*err) {
		kvfree(descs);
		return NULL;
	}
	return descs;
}

static bool evbus_batch_asks(const struct evbus_pub *descs, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (descs[i].flags & EVBUS_PUB_ASK)
			return true;
	return false;
}

/*
 * EVBUS_IOC_PUBLISH_BATCH.  Returns the number published, or -errno if
 * none was; *fail gets the errno of the event that stopped the batch (0 if
 * all went out).
 */
long evbus_ioctl_publish_batch(struct evbus_file *ef, void __user *argp,
			       bool nowait, int *fail)
{
	struct evbus_pub_ctx ctx;
	struct evbus_pub_batch b;
	struct evbus_pub *descs;
	u32 done = 0;
	int err;

	evbus_pub_ctx_init(&ctx, ef, nowait);
	err = evbus_copy_in(&ctx, &b, argp, sizeof(b));
	if (err) {
		*fail = err;
		return err;
	}
	b.first_seq = 0;
	err = -EINVAL;
	if ((b.flags & ~EVBUS_BATCH_VALID) || b.reserved32 || b.reserved[0] ||
	    b.reserved[1] || !b.count || b.count > EVBUS_BATCH_MAX)
		goto out;
	descs = evbus_batch_descs(&ctx, &b, &err);
	if (!descs)
		goto out;
	/* A batch that asks waits: never in io_uring's submitter (gate.c). */
	if (nowait && evbus_batch_asks(descs, b.count)) {
		kvfree(descs);
		err = -EAGAIN;
		goto out;
	}
	done = evbus_publish(&ctx, descs,
			     (b.flags & EVBUS_BATCH_SEQ) ? u64_to_user_ptr(b.events) : NULL,
			     b.count, &b.first_seq, &err);
	kvfree(descs);
out:
	evbus_pub_ctx_free(&ctx);
	*fail = err;
	/* Retried from a worker: nothing went out, nothing to report. */
	if (err == -EAGAIN && nowait && !done)
		return err;
	b.published = done;
	b.error = err;
	b.error_index = err ? done : b.count;
	/* Once events went out, their count beats a failed write-back. */
	if (copy_to_user(argp, &b, sizeof(b)) && !done)
		return -EFAULT;
	return done ? (long)done : err;
}

/*
 * A kernel event ($sys.*) about ef, sent as by the current task: no
 * policy, no scope, never the file's own publish.  It is numbered and
 * counted only if some subscription takes it (a kernel event nobody
 * watches costs a walk of the index and nothing else).  Runs where
 * sleeping is allowed; a failure (no memory) is counted like a
 * publisher's.
 */
void evbus_publish_kernel(struct evbus_file *ef, const char *topic, u32 len,
			  const void *payload, u32 payload_len)
{
	struct evbus_pub_ctx ctx;
	struct evbus_msg m = {
		.topic = topic,
		.topic_len = len,
		.payload = payload,
		.payload_len = payload_len,
		.rec_len = evbus_event_rec_len(len, payload_len),
	};
	int err;

	if (WARN_ON_ONCE(evbus_topic_parse(topic, len, &m.segs)))
		return;
	evbus_pub_ctx_init(&ctx, ef, false);
	ctx.kernel = true;
	/* Nobody would receive it: it is not an event of the bus at all. */
	rcu_read_lock();
	if (!evbus_collect(&ctx, &m) && !ctx.need_image) {
		rcu_read_unlock();
		evbus_pub_ctx_free(&ctx);
		return;
	}
	rcu_read_unlock();
	evbus_publish_staged(&ctx, &m, 1, &err);
	evbus_pub_ctx_free(&ctx);
	if (err)
		evbus_stats_publish_error(ef->bus, err);
}

/*
 * A will of ef (will.c) at its release, published as the process that
 * armed it: the kept record, flagged EVBUS_EVENT_WILL.  0 or -errno
 * (counted as a publisher's failure).
 */
int evbus_publish_will(struct evbus_file *ef, const struct evbus_hist_rec *rec)
{
	struct evbus_pub_ctx ctx;
	struct evbus_msg m;
	int err = -EINVAL;

	evbus_pub_ctx_init(&ctx, ef, false);
	ctx.no_room_wait = true;	/* at release: never held up */
	ctx.from.uid = rec->uid;
	ctx.from.gid = rec->gid;
	ctx.from.tgid = rec->tgid;
	ctx.from.tid = rec->tid;
	evbus_hist_msg(rec, &m, EVBUS_EVENT_WILL);
	if (!evbus_topic_parse(m.topic, m.topic_len, &m.segs))
		evbus_publish_staged(&ctx, &m, 1, &err);
	evbus_pub_ctx_free(&ctx);
	if (err)
		evbus_stats_publish_error(ef->bus, err);
	return err;
}
