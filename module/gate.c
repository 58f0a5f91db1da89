// SPDX-License-Identifier: GPL-2.0
/*
 * evbus approval gate: approvers allow, deny or modify an event before it
 * is numbered and delivered.
 *
 * Theory of operation
 * -------------------
 * An approver (struct evbus_approver_ent) is a pattern in the bus's gate
 * index, held by a file, with a priority and a default verdict.  A file
 * with approvers has a gate (struct evbus_gate): the table of requests
 * pending at it, a hash by id under the gate's lock.  The gate is reference
 * counted, so whoever waits on a request can always take its lock, and
 * its file is only touched under that lock while the gate is not dead.
 *
 * A publish that asks (struct evbus_ask) copies its event, then walks the
 * chain: the approvers whose patterns match the topic, highest priority
 * first, found afresh at each step (the one after the last asked), so a
 * chain follows approvers that come and go, and a modified topic.  Each
 * step puts the ask into the approver's table and a request record into
 * its ring (never evicting: no room is the default verdict at once), and
 * waits.  Whoever takes the ask out of the table, under the gate's lock,
 * decides the step: the approver's verdict, the publisher at its deadline
 * or on a signal, or the approver's file going (default verdict).  So
 * each step ends exactly once, and a verdict that comes second finds
 * nothing (ENOENT).  The publisher then applies the outcome and goes on.
 *
 * Waits.  A publish call waits interruptibly with an hrtimer to the
 * deadline.  An io_uring publish waits for nothing: it returns
 * -EIOCBQUEUED, the deadline is a delayed work, and whoever decides a
 * step queues task work to the submitter, which takes the next step, or
 * publishes and posts the CQE, in the submitter's own context (its
 * credentials, its memory cgroup, its user memory for the seq).
 *
 * Bounds.  A request table holds at most EVBUS_APPROVER_PENDING_MAX asks,
 * walked whole only when its file goes or an approver is removed.  An ask
 * is charged to its publisher (max_user_asks, its memory cgroup), an
 * approver to its file's user (max_user_approvers) and the bus
 * (max_approvers).  Finding the next approver is a walk of the gate index
 * under RCU, like a publish's.
 *
 * Locks: evbus_file.lock (approvers of a file) > bus.index_lock (the gate
 * index and ids) ; evbus_gate.lock > evbus_ring.lock.  Nothing on the
 * path of a request allocates but the ask itself: the table is a hash.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/pid.h>
#include <linux/workqueue.h>
#include <linux/fs.h>
#include <linux/hashtable.h>

#include "evbus.h"
#include "compat.h"
#include "trace.h"

struct evbus_approver_ent {
	struct evbus_index_entry ent;	/* bus.gate_index; read under RCU */
	struct list_head link;		/* evbus_gate.approvers */
	struct evbus_gate *gate;	/* its file's */
	struct rcu_head rcu;
	s32 priority;
	u32 id;				/* bus.approver_ids */
	u32 deflt;			/* EVBUS_ALLOW or EVBUS_DENY */
	u16 pattern_len;
	char pattern[];
};

/* Requests pending at a gate, by id: at most EVBUS_APPROVER_PENDING_MAX. */
#define EVBUS_GATE_HASH_BITS	6

struct evbus_gate {
	refcount_t ref;			/* the file, and every ask asking it */
	spinlock_t lock;		/* the table, dead, and its asks' steps */
	DECLARE_HASHTABLE(pending, EVBUS_GATE_HASH_BITS);	/* asks by id */
	u32 next_id;			/* lock */
	u32 npending;			/* lock: asks in the table */
	bool dead;			/* lock: the file is going */
	struct evbus_file *ef;		/* while !dead */
	struct list_head approvers;	/* ef->lock */
	u32 nr_approvers;		/* ef->lock */
	struct rcu_head rcu;
};

/* EVBUS_IOC_APPROVER_ADD's argument, checked and copied in. */
struct evbus_approver_req {
	struct evbus_approver a;
	char pattern[EVBUS_TOPIC_MAX];
	struct evbus_segs segs;
};

/* Where an ask is in its gate's table. */
#define EVBUS_ASK_OUT		0
#define EVBUS_ASK_RESERVED	1	/* its request is being written */
#define EVBUS_ASK_PENDING	2	/* a verdict may decide it */

/* What ended a step, besides EVBUS_APPROVAL_* (uapi). */
#define EVBUS_STEP_ALLOWED	0
#define EVBUS_STEP_MODIFIED	(-1)
#define EVBUS_STEP_QUEUED	(-2)
#define EVBUS_STEP_WITHDRAWN	(-3)

/* Ranks order a chain: higher priority first, then lower id. */
#define EVBUS_RANK_TOP		S64_MAX

struct evbus_ask {
	refcount_t ref;			/* publisher, table, expire work */
	struct evbus_file *ef;		/* the publisher's, while it waits */
	struct evbus_user *user;	/* charged; a reference */
	struct evbus_hist_rec *rec;	/* the event as the chain left it */
	u64 deadline;			/* CLOCK_MONOTONIC, ns */
	u32 pub_flags;			/* EVBUS_PUB_* */
	u32 ev_flags;			/* APPROVED, MODIFIED | modifier << 16 */
	u32 req_flags;			/* EVBUS_REQ_* */
	u32 steps;			/* approvers met so far */
	s64 rank;			/* of the last approver met */
	/* The step: the approver asked, and its outcome (the gate's lock) */
	struct evbus_gate *gate;	/* a reference while asking */
	struct hlist_node hnode;	/* gate->pending */
	u32 state;			/* EVBUS_ASK_* in gate->pending */
	u32 id;				/* in gate->pending */
	u32 approver_id;
	u32 deflt;
	int outcome;			/* EVBUS_STEP_* or EVBUS_APPROVAL_* */
	int error;			/* an approver's deny */
	struct evbus_hist_rec *mod;	/* an approver's modification */
	bool done;			/* outcome set: acquire/release */
	wait_queue_head_t wq;
	struct evbus_notice *notice;	/* spare, for a cancellation */
	struct list_head drop;		/* evbus_gate_drop()'s list */
	/* io_uring (cmd set): completes in the submitter's task work */
	struct io_uring_cmd *cmd;
	struct mm_struct *mm;		/* the submitter's; compared only */
	u64 __user *useq;
	struct delayed_work expire;
	/* The publisher's rate tokens, given back if nothing goes out */
	bool rated;
	u32 rated_len;
};

static struct workqueue_struct *evbus_gate_wq;

static s64 evbus_rank(s32 priority, u32 id)
{
	return ((s64)priority << 16) | (EVBUS_APPROVER_ID_MAX - id);
}

static void evbus_gate_put(struct evbus_gate *g)
{
	if (refcount_dec_and_test(&g->ref))
		kfree_rcu(g, rcu);
}

/* ------------------------------------------------------------ asks */

static void evbus_rec_free(struct evbus_hist_rec *rec)
{
	if (!rec)
		return;
	evbus_hist_put(rec);
	kvfree(rec);
}

static void evbus_ask_put(struct evbus_ask *a)
{
	if (!refcount_dec_and_test(&a->ref))
		return;
	WARN_ON_ONCE(a->gate);
	evbus_rec_free(a->rec);
	evbus_rec_free(a->mod);
	kfree(a->notice);
	/* The last reference may be a table's, after the publisher left. */
	evbus_user_uncharge(a->user, EVBUS_UC_ASKS, 1);
	evbus_user_put(a->user);
	kfree(a);
}

static void evbus_ask_expire_fn(struct work_struct *work);
static void evbus_ask_arm(struct evbus_ask *a);

/*
 * A new ask for m, staged by ef's publisher (from), charged to it: NULL
 * with *err -EAGAIN past max_user_asks, or -ENOMEM.
 */
static struct evbus_ask *evbus_ask_new(struct evbus_file *ef,
				       const struct evbus_msg *m,
				       const struct evbus_sender *from, int *err)
{
	const struct evbus_limits *lim = ef->bus->limits;
	u64 max = READ_ONCE(lim->approval_max_ms) * NSEC_PER_MSEC;
	u64 wait = m->deadline_ns;
	struct evbus_ask *a;

	*err = -EAGAIN;
	if (evbus_user_charge(ef->user, EVBUS_UC_ASKS, 1,
			      READ_ONCE(lim->max_user_asks)))
		return NULL;
	*err = -ENOMEM;
	a = kzalloc(sizeof(*a), EVBUS_GFP);
	if (!a)
		goto err_uncharge;
	a->ef = ef;
	a->user = ef->user;
	a->rated = m->rated;
	a->rated_len = m->rated_len;
	a->rec = kvmalloc(struct_size(a->rec, data,
				      m->topic_len + m->payload_len), EVBUS_GFP);
	a->notice = kzalloc(sizeof(*a->notice), EVBUS_GFP);
	if (!a->rec || !a->notice) {
		kvfree(a->rec);
		kfree(a->notice);
		kfree(a);
		goto err_uncharge;
	}
	evbus_hist_fill(a->rec, m, from);
	a->rec->seq = 0;
	a->rec->time_ns = ktime_get_real_ns();
	a->rec->mono_ns = ktime_get_ns();
	if (!wait)
		wait = READ_ONCE(lim->approval_timeout_ms) * NSEC_PER_MSEC;
	a->deadline = a->rec->mono_ns + min(wait, max);
	a->pub_flags = m->pub_flags;
	a->req_flags = m->ask == EVBUS_ASK_MANDATORY ? EVBUS_REQ_MANDATORY : 0;
	a->rank = EVBUS_RANK_TOP;
	evbus_user_get_ref(a->user);
	refcount_set(&a->ref, 1);
	init_waitqueue_head(&a->wq);
	INIT_DELAYED_WORK(&a->expire, evbus_ask_expire_fn);
	evbus_count(ef->bus->stats, approval_asked, 1);
	return a;

err_uncharge:
	evbus_user_uncharge(ef->user, EVBUS_UC_ASKS, 1);
	return NULL;
}

static void evbus_ask_trace(struct evbus_ask *a, int outcome, int error)
{
	trace_evbus_approval(a->ef->ring.file_id, a->approver_id, a->id,
			     outcome, error);
}

static void evbus_ask_count(struct evbus_ask *a, int outcome)
{
	struct evbus_pcpu_stats __percpu *st = a->ef->bus->stats;

	switch (outcome) {
	case EVBUS_APPROVAL_DENIED:
		evbus_count(st, approval_denied, 1);
		break;
	case EVBUS_APPROVAL_EXPIRED:
		evbus_count(st, approval_expired, 1);
		break;
	case EVBUS_APPROVAL_GONE:
		evbus_count(st, approval_gone, 1);
		break;
	case EVBUS_APPROVAL_FULL:
		evbus_count(st, approval_full, 1);
		break;
	case EVBUS_STEP_WITHDRAWN:
		evbus_count(st, approval_withdrawn, 1);
		break;
	}
}

static void evbus_ask_kick(struct evbus_ask *a);

/* a's step ended before anyone waited for it (no room, gone, too late). */
static void evbus_ask_end_now(struct evbus_ask *a, int outcome)
{
	a->outcome = outcome;
	evbus_ask_count(a, outcome);
	evbus_ask_trace(a, outcome, 0);
}

/*
 * Decide the step of a, just taken out of g's table (the gate's lock
 * held), and tell whoever waits.  The table's reference is the caller's
 * to drop, after the lock.
 */
static void evbus_ask_decide(struct evbus_gate *g, struct evbus_ask *a,
			     int outcome, int error, struct evbus_hist_rec *mod)
{
	lockdep_assert_held(&g->lock);
	a->outcome = outcome;
	a->error = error;
	a->mod = mod;
	evbus_ask_count(a, outcome);
	evbus_ask_trace(a, outcome, error);
	/* Pairs with the waiter's acquire: it reads the outcome after done. */
	smp_store_release(&a->done, true);
	if (a->cmd)
		evbus_ask_kick(a);
	else
		wake_up(&a->wq);
}

static struct evbus_ask *evbus_gate_find(struct evbus_gate *g, u32 id)
{
	struct evbus_ask *a;

	hash_for_each_possible(g->pending, a, hnode, id)
		if (a->id == id)
			return a;
	return NULL;
}

/* Put a into g's table, reserved under a fresh id (g's lock held). */
static void evbus_gate_reserve(struct evbus_gate *g, struct evbus_ask *a)
{
	u32 id;

	lockdep_assert_held(&g->lock);
	do {
		id = ++g->next_id;
	} while (!id || evbus_gate_find(g, id));
	a->id = id;
	a->state = EVBUS_ASK_RESERVED;
	hash_add(g->pending, &a->hnode, id);
	g->npending++;
	evbus_count(a->ef->bus->stats, approval_pending, 1);
}

static void evbus_gate_unlink(struct evbus_gate *g, struct evbus_ask *a)
{
	hash_del(&a->hnode);
	a->state = EVBUS_ASK_OUT;
	g->npending--;
	evbus_count(a->ef->bus->stats, approval_pending, -1);
}

/*
 * Take a out of g's table if it is pending there under id (g's lock
 * held): whoever takes it decides its step.
 */
static bool evbus_ask_take(struct evbus_gate *g, u32 id, struct evbus_ask *a)
{
	lockdep_assert_held(&g->lock);
	if (evbus_gate_find(g, id) != a || a->state != EVBUS_ASK_PENDING)
		return false;
	evbus_gate_unlink(g, a);
	return true;
}

/*
 * The publisher gives up the step (deadline, signal): if it is still
 * pending, it ends so, and the approver gets a CANCELLED record.
 */
static void evbus_ask_withdraw(struct evbus_ask *a, int outcome)
{
	struct evbus_gate *g = a->gate;
	bool taken;

	spin_lock(&g->lock);
	taken = evbus_ask_take(g, a->id, a);
	if (taken) {
		if (!g->dead && a->notice) {
			a->notice->kind = EVBUS_REC_CANCELLED;
			a->notice->id = a->approver_id;
			a->notice->reason = outcome == EVBUS_APPROVAL_EXPIRED ?
					    EVBUS_CANCEL_EXPIRED :
					    EVBUS_CANCEL_WITHDRAWN;
			a->notice->seq = a->id;
			evbus_ring_put_notice(&g->ef->ring, a->notice);
			/* The chain asks nobody after a withdrawal. */
			a->notice = NULL;
		}
		evbus_ask_decide(g, a, outcome, 0, NULL);
	}
	spin_unlock(&g->lock);
	if (taken)
		evbus_ask_put(a);
}

/* The request record for a's step, into the reserved slot (ef: approver). */
static void evbus_request_write(struct evbus_rec_hdr *slot, struct evbus_ask *a,
				struct evbus_file *ef)
{
	struct evbus_request *rq = container_of(slot, struct evbus_request, hdr);
	struct evbus_event *ev = (struct evbus_event *)(rq + 1);
	struct evbus_ident id;
	struct evbus_msg m;

	rq->approver_id = a->approver_id;
	rq->flags = a->req_flags;
	rq->id = a->id;
	rq->deadline_ns = a->deadline;
	rq->reserved = 0;
	evbus_hist_msg(a->rec, &m, a->ev_flags);
	evbus_hist_ident(a->rec, ef, &id);
	ev->hdr.len = m.rec_len;
	ev->hdr.kind = EVBUS_REC_EVENT;
	ev->hdr.hdr_len = sizeof(*ev);
	evbus_ring_write(&ev->hdr, &m, &id);
}

/*
 * Ask approver (of gate g, a reference now a's) for a's step.  Returns
 * true if the request is pending; false if the step ended at once (no
 * room, the file going: a->outcome says which), or -errno.
 *
 * The id is reserved first and the ask stored under it only once its
 * request is written, so nobody can decide a step whose record is still
 * being written (the record is made from a's event, which a decision may
 * replace).  The approver's file is not freed before a grace period after
 * its gate is dead, and it was not when the slot was reserved.
 */
static int evbus_ask_queue(struct evbus_ask *a, struct evbus_gate *g)
{
	u32 len = sizeof(struct evbus_request) +
		  evbus_event_rec_len(a->rec->topic_len, a->rec->payload_len);
	struct evbus_rec_hdr *slot = NULL;
	struct evbus_file *ef;
	int outcome = 0;

	a->gate = g;
	a->done = false;
	spin_lock(&g->lock);
	if (g->dead)
		outcome = EVBUS_APPROVAL_GONE;
	else if (g->npending >= EVBUS_APPROVER_PENDING_MAX)
		outcome = EVBUS_APPROVAL_FULL;
	else
		slot = evbus_ring_reserve_request(&g->ef->ring, len);
	if (!outcome && !slot)
		outcome = EVBUS_APPROVAL_FULL;
	if (outcome) {
		spin_unlock(&g->lock);
		evbus_ask_end_now(a, outcome);
		return false;
	}
	evbus_gate_reserve(g, a);
	ef = g->ef;
	rcu_read_lock();
	spin_unlock(&g->lock);
	evbus_request_write(slot, a, ef);

	spin_lock(&g->lock);
	if (g->dead) {
		/* The file went meanwhile (its drop passed a reserved ask). */
		evbus_gate_unlink(g, a);
		outcome = EVBUS_APPROVAL_GONE;
	} else {
		a->state = EVBUS_ASK_PENDING;
		refcount_inc(&a->ref);			/* the table's */
		evbus_count(a->ef->bus->stats, approval_requests, 1);
		evbus_ask_trace(a, EVBUS_STEP_QUEUED, 0);
		if (a->cmd)
			evbus_ask_arm(a);
	}
	spin_unlock(&g->lock);
	if (evbus_ring_commit_request(&ef->ring, slot))
		wake_up_interruptible_poll(&ef->ring.wq, EPOLLIN | EPOLLRDNORM);
	rcu_read_unlock();
	if (outcome) {
		evbus_ask_end_now(a, outcome);
		return false;
	}
	return true;
}

/* The next approver of a's chain: the best-ranked below a->rank. */
struct evbus_next {
	struct evbus_approver_ent *best;
	s64 below;
	s64 rank;
};

static bool evbus_next_fn(struct evbus_index_entry *ent, void *arg)
{
	struct evbus_approver_ent *ap = container_of(ent, struct evbus_approver_ent, ent);
	struct evbus_next *n = arg;
	s64 rank = evbus_rank(ap->priority, ap->id);

	if (rank < n->below && (!n->best || rank > n->rank)) {
		n->best = ap;
		n->rank = rank;
	}
	return true;
}

/*
 * Find the next approver for a's event and take a reference on its gate;
 * fills in the step.  False at the end of the chain.
 */
static bool evbus_ask_find(struct evbus_ask *a, struct evbus_gate **gp)
{
	struct evbus_bus *bus = a->ef->bus;
	struct evbus_next n = { .below = a->rank };
	struct evbus_segs segs;

	if (evbus_topic_parse(a->rec->data, a->rec->topic_len, &segs))
		return false;
	rcu_read_lock();
	for (;;) {
		n.best = NULL;
		evbus_index_match(&bus->gate_index, a->rec->data, &segs,
				  evbus_next_fn, &n);
		if (!n.best)
			break;
		/* A gate whose file just let go of it is skipped. */
		if (refcount_inc_not_zero(&n.best->gate->ref))
			break;
		n.below = n.rank;
	}
	if (n.best) {
		*gp = n.best->gate;
		a->outcome = EVBUS_STEP_ALLOWED;
		a->approver_id = n.best->id;
		a->deflt = n.best->deflt;
		a->rank = n.rank;
		a->steps++;
	}
	rcu_read_unlock();
	return n.best;
}

/* The default verdict of a's step, which ended by outcome: 0 or -errno. */
static int evbus_ask_default(struct evbus_ask *a, int outcome)
{
	if (a->deflt == EVBUS_ALLOW)
		return 0;
	switch (outcome) {
	case EVBUS_APPROVAL_EXPIRED:
		return -ETIMEDOUT;
	case EVBUS_APPROVAL_GONE:
		return -ECONNRESET;
	default:
		return -ENOBUFS;
	}
}

/*
 * Take the next step of a's chain.  1: a request is pending, wait for
 * it; 0: the chain is over and allowed the event; -errno: refused.
 * Steps that end at once (no room, a file going, the deadline passed
 * already) apply their approver's default and go on.
 */
static int evbus_ask_next(struct evbus_ask *a)
{
	struct evbus_gate *g;
	int ret;

	for (;;) {
		if (!evbus_ask_find(a, &g)) {
			if (!a->steps && (a->req_flags & EVBUS_REQ_MANDATORY)) {
				evbus_ask_end_now(a, EVBUS_APPROVAL_NOBODY);
				evbus_count(a->ef->bus->stats, approval_nobody, 1);
				return -ECONNREFUSED;
			}
			return 0;
		}
		if (ktime_get_ns() >= a->deadline) {
			/* Too late to ask: its default, without asking. */
			evbus_ask_end_now(a, EVBUS_APPROVAL_EXPIRED);
		} else {
			ret = evbus_ask_queue(a, g);
			if (ret > 0)
				return 1;
			if (ret < 0) {
				a->gate = NULL;
				evbus_gate_put(g);
				return ret;
			}
		}
		a->gate = NULL;
		evbus_gate_put(g);
		ret = evbus_ask_default(a, a->outcome);
		if (ret)
			return ret;
	}
}

/* The step is decided: apply its outcome.  0 to go on, or -errno. */
static int evbus_ask_settle(struct evbus_ask *a)
{
	struct evbus_hist_rec *mod = a->mod;

	evbus_gate_put(a->gate);
	a->gate = NULL;
	switch (a->outcome) {
	case EVBUS_STEP_ALLOWED:
		a->ev_flags |= EVBUS_EVENT_APPROVED;
		return 0;
	case EVBUS_STEP_MODIFIED:
		a->mod = NULL;
		evbus_rec_free(a->rec);
		a->rec = mod;
		a->ev_flags &= 0xffff;
		a->ev_flags |= EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED |
			       a->approver_id << 16;
		return 0;
	case EVBUS_APPROVAL_DENIED:
		return -a->error;
	case EVBUS_STEP_WITHDRAWN:
		return -EINTR;
	default:
		return evbus_ask_default(a, a->outcome);
	}
}

/* Wait for a's step, until its deadline, interruptibly. */
static void evbus_ask_wait(struct evbus_ask *a)
{
	s64 left = a->deadline - ktime_get_ns();
	int ret = -ETIME;

	/* Acquire pairs with evbus_ask_decide()'s release of done. */
	if (left > 0)
		ret = wait_event_interruptible_hrtimeout(a->wq,
					smp_load_acquire(&a->done),
					ns_to_ktime(left));
	if (ret)
		evbus_ask_withdraw(a, ret == -ETIME ? EVBUS_APPROVAL_EXPIRED :
					       EVBUS_STEP_WITHDRAWN);
	/*
	 * Decided by us, or by whoever took it out of the table first.  A
	 * gate's drop takes its asks out under the lock and decides each
	 * right after, outside it: until then the outcome is not written,
	 * so wait for it (bounded: the drop does nothing else meanwhile).
	 */
	wait_event(a->wq, smp_load_acquire(&a->done));
}

/* The chain refused a's event with -err: announce it. */
static void evbus_ask_refused(struct evbus_ask *a, int err)
{
	/* Not a refusal: withdrawn, or no memory to ask with. */
	if (a->outcome <= 0)
		return;
	evbus_sys_approval_denied(a->ef, a->approver_id, a->outcome, -err,
				  a->rec->data, a->rec->topic_len);
}

/* The event the chain let through, as m (pointing into a's record). */
static void evbus_ask_msg(struct evbus_ask *a, struct evbus_msg *m)
{
	u32 pub_flags = a->pub_flags;

	evbus_hist_msg(a->rec, m, a->ev_flags);
	m->pub_flags = pub_flags;
	/* Parsed when asked, or checked by the approver that changed it. */
	WARN_ON_ONCE(evbus_topic_parse(m->topic, m->topic_len, &m->segs));
}

/*
 * m (staged by ef, from) asks for approval: walk the chain, waiting for
 * each approver.  0 with *out the ask, whose record m now points into
 * (free it with evbus_gate_done() after publishing), or -errno with
 * nothing to publish.  An io_uring publish (cmd) that must wait returns
 * -EIOCBQUEUED instead: the chain goes on without it, and completes cmd.
 */
int evbus_gate_pass(struct evbus_file *ef, struct evbus_msg *m,
		    const struct evbus_sender *from, struct io_uring_cmd *cmd,
		    u64 __user *useq, struct evbus_ask **out)
{
	struct evbus_ask *a;
	int ret;

	a = evbus_ask_new(ef, m, from, &ret);
	if (!a)
		return ret;
	if (cmd) {
		BUILD_BUG_ON(sizeof(a) > sizeof(cmd->pdu));
		a->cmd = cmd;
		a->mm = current->mm;
		a->useq = useq;
		*(struct evbus_ask **)cmd->pdu = a;
	}
	ret = evbus_ask_next(a);
	if (ret == 1 && cmd)
		return -EIOCBQUEUED;	/* a is the chain's now */
	while (ret == 1) {
		evbus_ask_wait(a);
		ret = evbus_ask_settle(a) ?: evbus_ask_next(a);
	}
	if (ret) {
		evbus_ask_refused(a, ret);
		evbus_ask_put(a);
		return ret;
	}
	evbus_ask_msg(a, m);
	*out = a;
	return 0;
}

/* The event a let through was published (or not: err). */
void evbus_gate_done(struct evbus_ask *a, int err)
{
	if (!a)
		return;
	if (!err) {
		evbus_count(a->ef->bus->stats, approval_allowed, 1);
		if (a->ev_flags & EVBUS_EVENT_MODIFIED)
			evbus_count(a->ef->bus->stats, approval_modified, 1);
	}
	evbus_ask_put(a);
}

/* ------------------------------------------------------------ io_uring */

/* The deadline of an io_uring ask's step. */
static void evbus_ask_expire_fn(struct work_struct *work)
{
	struct evbus_ask *a = container_of(to_delayed_work(work),
					   struct evbus_ask, expire);

	evbus_ask_withdraw(a, EVBUS_APPROVAL_EXPIRED);
	evbus_ask_put(a);			/* the work's */
}

static void evbus_ask_arm(struct evbus_ask *a)
{
	s64 left = a->deadline - ktime_get_ns();

	refcount_inc(&a->ref);			/* the work's */
	queue_delayed_work(evbus_gate_wq, &a->expire,
			   left > 0 ? nsecs_to_jiffies(left) + 1 : 0);
}

/*
 * Publish what an io_uring ask let through, from the submitter's task;
 * the caller's reference on a goes.
 */
static int evbus_ask_publish(struct evbus_ask *a)
{
	u64 __user *useq = a->useq;
	struct evbus_msg m;
	u64 seq = 0;
	int ret;

	evbus_ask_msg(a, &m);
	ret = evbus_publish_approved(a->ef, &m, &seq);
	if (ret && a->rated)
		evbus_rate_refund(a->ef, a->rated_len);
	evbus_gate_done(a, ret);
	/* The slot was probed before the ask: fails only if unmapped since. */
	if (!ret && put_user(seq, useq))
		ret = -EFAULT;
	return ret;
}

static void evbus_ask_uring_cb(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct evbus_ask *a = *(struct evbus_ask **)cmd->pdu;
	struct evbus_bus *bus = a->ef->bus;	/* io_uring holds the file */
	int ret;

	if (cancel_delayed_work_sync(&a->expire))
		evbus_ask_put(a);		/* the work's */
	ret = evbus_ask_settle(a);
	/*
	 * Not the submitter (io_uring runs this from a kworker once the
	 * task is gone), or it is exiting: nothing is published.
	 */
	if (!ret && (current->mm != a->mm || (current->flags & PF_EXITING)))
		ret = -ECANCELED;
	if (!ret)
		ret = evbus_ask_next(a);
	if (ret == 1)
		return;			/* the next step is pending */
	if (ret) {
		if (ret != -ECANCELED)
			evbus_ask_refused(a, ret);
		if (a->rated)
			evbus_rate_refund(a->ef, a->rated_len);
		evbus_ask_put(a);
	} else {
		ret = evbus_ask_publish(a);
	}
	evbus_stats_call_error(bus, ret, ret);
	io_uring_cmd_done(cmd, ret, 0, issue_flags);
}

/* The step of an io_uring ask is decided: go on in the submitter's task. */
static void evbus_ask_kick(struct evbus_ask *a)
{
	io_uring_cmd_complete_in_task(a->cmd, evbus_ask_uring_cb);
}

/* ------------------------------------------------------------ verdicts */

#define EVBUS_VERDICT_FLAGS_VALID	0

/* Is the verdict well formed?  Only MODIFY's fields may be set for it. */
static int evbus_verdict_check(const struct evbus_verdict *v)
{
	bool mod = v->verdict == EVBUS_VERDICT_MODIFY;

	if (v->flags || v->reserved)
		return -EINVAL;
	if (v->verdict < EVBUS_VERDICT_ALLOW || v->verdict > EVBUS_VERDICT_MODIFY)
		return -EINVAL;
	if (v->verdict != EVBUS_VERDICT_DENY && v->error)
		return -EINVAL;
	if (v->error < 0 || v->error > EVBUS_VERDICT_ERRNO_MAX)
		return -EINVAL;
	if (!mod && (v->type || v->payload || v->payload_len || v->topic ||
		     v->topic_len))
		return -EINVAL;
	if (v->topic_len > EVBUS_TOPIC_MAX || (!v->topic_len && v->topic))
		return -EINVAL;
	return 0;
}

/*
 * The replacement an approver (ef) gives a's event: built from a copy of
 * the pending event's header (hdr, topic) and the approver's topic and
 * payload, which it must be allowed to publish.  NULL with *err.
 */
static struct evbus_hist_rec *
evbus_verdict_modify(struct evbus_file *ef, const struct evbus_verdict *v,
		     const struct evbus_hist_rec *hdr, const char *topic,
		     int *err)
{
	u32 tlen = v->topic_len ?: hdr->topic_len;
	struct evbus_hist_rec *rec;
	struct evbus_segs segs;
	bool ask;

	*err = -EMSGSIZE;
	if (v->payload_len > READ_ONCE(ef->bus->limits->max_payload))
		return NULL;
	*err = -ENOMEM;
	rec = kvmalloc(struct_size(rec, data, tlen + v->payload_len), EVBUS_GFP);
	if (!rec)
		return NULL;
	*rec = *hdr;
	rec->tgid = NULL;
	rec->tid = NULL;
	rec->topic_len = tlen;
	rec->payload_len = v->payload_len;
	rec->type = v->type;
	*err = -EFAULT;
	if (v->topic_len) {
		if (copy_from_user(rec->data, u64_to_user_ptr(v->topic), tlen))
			goto err;
	} else {
		memcpy(rec->data, topic, tlen);
	}
	if (copy_from_user(rec->data + tlen, u64_to_user_ptr(v->payload),
			   v->payload_len))
		goto err;
	*err = -EINVAL;
	if (evbus_topic_parse(rec->data, tlen, &segs))
		goto err;
	if (v->topic_len) {
		/* A new topic: within the approver's own publish rights. */
		*err = evbus_may_publish_on(ef, rec->data, tlen, &segs, &ask,
					    false);
		if (*err)
			goto err;
	}
	rec->tgid = get_pid(hdr->tgid);
	rec->tid = get_pid(hdr->tid);
	rec->len = 0;		/* not in a history */
	return rec;
err:
	kvfree(rec);
	return NULL;
}

/*
 * The ask pending at g under id, with a reference, and (for MODIFY) a copy
 * of its event's header and topic, taken while nothing can change them.
 */
static struct evbus_ask *evbus_verdict_find(struct evbus_gate *g, u64 id,
					    struct evbus_hist_rec *hdr,
					    char *topic)
{
	struct evbus_ask *a = NULL;

	if (!id || id > U32_MAX)
		return NULL;
	spin_lock(&g->lock);
	a = evbus_gate_find(g, id);
	if (a && a->state == EVBUS_ASK_PENDING) {
		refcount_inc(&a->ref);
		*hdr = *a->rec;
		get_pid(hdr->tgid);
		get_pid(hdr->tid);
		memcpy(topic, a->rec->data, a->rec->topic_len);
	} else {
		a = NULL;
	}
	spin_unlock(&g->lock);
	return a;
}

static int evbus_verdict_outcome(u32 verdict)
{
	if (verdict == EVBUS_VERDICT_ALLOW)
		return EVBUS_STEP_ALLOWED;
	if (verdict == EVBUS_VERDICT_MODIFY)
		return EVBUS_STEP_MODIFIED;
	return EVBUS_APPROVAL_DENIED;
}

/* EVBUS_IOC_VERDICT: 0, or -errno with the request as it was. */
long evbus_ioctl_verdict(struct evbus_file *ef, void __user *argp)
{
	struct evbus_gate *g = READ_ONCE(ef->gate);
	struct evbus_hist_rec *mod = NULL, hdr;
	char topic[EVBUS_TOPIC_MAX];
	struct evbus_verdict v;
	struct evbus_ask *a;
	u32 usize;
	int ret;

	ret = evbus_copy_sized(&v, sizeof(v), argp, EVBUS_VERDICT_SIZE_VER0,
			       &usize);
	if (ret)
		return ret;
	ret = evbus_verdict_check(&v);
	if (ret)
		return ret;
	/* An approver's gate lives as long as its file. */
	if (!g)
		return -ENOENT;
	a = evbus_verdict_find(g, v.id, &hdr, topic);
	if (!a)
		return -ENOENT;
	if (v.verdict == EVBUS_VERDICT_MODIFY)
		mod = evbus_verdict_modify(ef, &v, &hdr, topic, &ret);
	put_pid(hdr.tgid);
	put_pid(hdr.tid);
	if (v.verdict == EVBUS_VERDICT_MODIFY && !mod)
		goto out;
	ret = -ENOENT;
	spin_lock(&g->lock);
	if (evbus_ask_take(g, v.id, a)) {
		evbus_ask_decide(g, a, evbus_verdict_outcome(v.verdict),
				 v.error ?: EACCES, mod);
		mod = NULL;
		ret = 0;
	}
	spin_unlock(&g->lock);
	if (!ret)
		evbus_ask_put(a);		/* the table's */
out:
	evbus_rec_free(mod);
	evbus_ask_put(a);
	return ret;
}

/* ------------------------------------------------------------ approvers */

/*
 * End every request pending at g (of approver id, or all if 0, and then
 * the gate is dead): each gets its approver's default, now.  Bounded by
 * EVBUS_APPROVER_PENDING_MAX.
 */
static void evbus_gate_drop(struct evbus_gate *g, u32 id)
{
	struct evbus_ask *a;
	struct evbus_ask *tmp2;
	struct hlist_node *tmp;
	unsigned int bkt;
	LIST_HEAD(drop);

	spin_lock(&g->lock);
	if (!id)
		g->dead = true;
	hash_for_each_safe(g->pending, bkt, tmp, a, hnode) {
		/* A reserved one finds the gate dead when it is written. */
		if (a->state != EVBUS_ASK_PENDING ||
		    (id && a->approver_id != id))
			continue;
		evbus_gate_unlink(g, a);
		list_add(&a->drop, &drop);
	}
	spin_unlock(&g->lock);
	/*
	 * Taken out, so ours to decide; each off the list before it is
	 * decided: a decided ask goes on to its next approver at once, whose
	 * file may be closing too and put it on a list of its own.
	 */
	list_for_each_entry_safe(a, tmp2, &drop, drop) {
		list_del(&a->drop);
		spin_lock(&g->lock);
		evbus_ask_decide(g, a, EVBUS_APPROVAL_GONE, 0, NULL);
		spin_unlock(&g->lock);
		evbus_ask_put(a);		/* the table's */
	}
}

/* Unlink ap from the bus (ef->lock held); its requests get its default. */
static void evbus_approver_del(struct evbus_file *ef, struct evbus_approver_ent *ap)
{
	struct evbus_bus *bus = ef->bus;

	mutex_lock(&bus->index_lock);
	evbus_index_del(&bus->gate_index, &ap->ent);
	xa_erase(&bus->approver_ids, ap->id);
	bus->nr_approvers--;
	mutex_unlock(&bus->index_lock);
	list_del(&ap->link);
	ap->gate->nr_approvers--;
	evbus_gate_drop(ap->gate, ap->id);
	evbus_user_uncharge(ef->user, EVBUS_UC_APPROVERS, 1);
	evbus_count(bus->stats, approvers, -1);
	kfree_rcu(ap, rcu);
}

/* ef's gate, made on its first approver (ef->lock held). */
static struct evbus_gate *evbus_gate_get(struct evbus_file *ef)
{
	struct evbus_gate *g = ef->gate;

	if (g)
		return g;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return NULL;
	refcount_set(&g->ref, 1);		/* the file's */
	spin_lock_init(&g->lock);
	hash_init(g->pending);
	g->ef = ef;
	INIT_LIST_HEAD(&g->approvers);
	WRITE_ONCE(ef->gate, g);
	return g;
}

/* May ef approve on pattern?  0, or -EACCES (reported). */
static int evbus_may_approve(struct evbus_file *ef, const char *pattern, u32 len,
			     const struct evbus_segs *segs)
{
	struct evbus_pol_verdict v = {};

	if (!evbus_scope_may_subscribe(ef, pattern, segs))
		v.cause = EVBUS_DENY_SCOPE;
	else
		evbus_policy_check_subscribe(ef->bus, ef->cred, pattern, segs,
					     EVBUS_RIGHT_APPROVE, &v);
	if (!v.cause)
		return 0;
	return evbus_deny(ef, EVBUS_RIGHT_APPROVE, &v, pattern, len, false);
}

/* Charge one approver to ef, its user and its bus (ef->lock held). */
static int evbus_approver_charge(struct evbus_file *ef, struct evbus_gate *g)
{
	const struct evbus_limits *lim = ef->bus->limits;

	if (g->nr_approvers >= EVBUS_APPROVERS_MAX)
		return -ENOSPC;
	if (evbus_user_charge(ef->user, EVBUS_UC_APPROVERS, 1,
			      READ_ONCE(lim->max_user_approvers)))
		return -ENOSPC;
	return 0;
}

/* Put ap into the bus (ef->lock held): an id, the index.  0 or -errno. */
static int evbus_approver_link(struct evbus_file *ef, struct evbus_approver_ent *ap,
			       const struct evbus_segs *segs)
{
	struct evbus_bus *bus = ef->bus;
	int ret;

	ret = mutex_lock_killable(&bus->index_lock);
	if (ret)
		return ret;
	ret = -ENOSPC;
	if (bus->nr_approvers >= READ_ONCE(bus->limits->max_approvers))
		goto out;
	ret = xa_alloc_cyclic(&bus->approver_ids, &ap->id, ap,
			      XA_LIMIT(1, EVBUS_APPROVER_ID_MAX),
			      &bus->next_approver_id, GFP_KERNEL_ACCOUNT);
	if (ret < 0) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto out;
	}
	ret = evbus_index_add(&bus->gate_index, &ap->ent, ap->pattern, segs);
	if (ret) {
		xa_erase(&bus->approver_ids, ap->id);
		goto out;
	}
	bus->nr_approvers++;
out:
	mutex_unlock(&bus->index_lock);
	return ret;
}

static int evbus_approver_copy_in(struct evbus_approver_req *req,
				  void __user *argp);

/* EVBUS_IOC_APPROVER_ADD */
long evbus_ioctl_approver_add(struct evbus_file *ef, void __user *argp)
{
	const struct evbus_limits *lim = ef->bus->limits;
	struct evbus_approver_ent *ap;
	struct evbus_approver_req req;
	struct evbus_gate *g;
	bool had_ring;
	int ret;

	ret = evbus_approver_copy_in(&req, argp);
	if (ret)
		return ret;
	ap = kzalloc(struct_size(ap, pattern, req.a.pattern_len), EVBUS_GFP);
	if (!ap)
		return -ENOMEM;
	ap->priority = req.a.priority;
	ap->deflt = req.a.deflt;
	ap->pattern_len = req.a.pattern_len;
	memcpy(ap->pattern, req.pattern, req.a.pattern_len);
	ret = mutex_lock_killable(&ef->lock);
	if (ret)
		goto err_free;
	ret = evbus_may_approve(ef, ap->pattern, ap->pattern_len, &req.segs);
	if (ret)
		goto err_unlock;
	ret = -ENOMEM;
	g = evbus_gate_get(ef);
	if (!g)
		goto err_unlock;
	ret = evbus_approver_charge(ef, g);
	if (ret)
		goto err_unlock;
	/* Requests come through the ring. */
	had_ring = !!ef->ring.mem;
	ret = evbus_ring_alloc(&ef->ring, ef->user,
			       evbus_ring_size(lim, READ_ONCE(lim->ring_default)));
	if (ret)
		goto err_uncharge;
	ap->gate = g;
	ret = evbus_approver_link(ef, ap, &req.segs);
	if (ret)
		goto err_ring;
	list_add_tail(&ap->link, &g->approvers);
	g->nr_approvers++;
	mutex_unlock(&ef->lock);
	evbus_count(ef->bus->stats, approvers, 1);
	/* The id is reported once it is live; a fault leaves it registered. */
	return put_user(ap->id, (u32 __user *)(argp +
			offsetof(struct evbus_approver, id))) ? -EFAULT : 0;

err_ring:
	/* A failed call leaves the file as it was: no request reached it. */
	if (!had_ring)
		evbus_ring_discard(&ef->ring, ef->user);
err_uncharge:
	evbus_user_uncharge(ef->user, EVBUS_UC_APPROVERS, 1);
err_unlock:
	mutex_unlock(&ef->lock);
err_free:
	kfree(ap);
	return ret;
}

/* EVBUS_IOC_APPROVER_DEL */
long evbus_ioctl_approver_del(struct evbus_file *ef, u32 __user *argp)
{
	struct evbus_approver_ent *ap;
	struct evbus_gate *g;
	int ret = -ENOENT;
	u32 id;

	if (get_user(id, argp))
		return -EFAULT;
	mutex_lock(&ef->lock);
	g = ef->gate;
	if (g) {
		list_for_each_entry(ap, &g->approvers, link) {
			if (ap->id != id)
				continue;
			evbus_approver_del(ef, ap);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&ef->lock);
	return ret;
}

/* The file is going: its approvers go, and every request it holds ends. */
void evbus_gate_release(struct evbus_file *ef)
{
	struct evbus_approver_ent *ap, *tmp;
	struct evbus_gate *g = ef->gate;

	if (!g)
		return;
	mutex_lock(&ef->lock);
	list_for_each_entry_safe(ap, tmp, &g->approvers, link)
		evbus_approver_del(ef, ap);
	mutex_unlock(&ef->lock);
	evbus_gate_drop(g, 0);
	WRITE_ONCE(ef->gate, NULL);
	evbus_gate_put(g);
}

void evbus_gate_show(struct seq_file *m, struct evbus_file *ef)
{
	struct evbus_approver_ent *ap;
	struct evbus_gate *g;

	mutex_lock(&ef->lock);
	g = ef->gate;
	/* A file that never got an approver shows nothing. */
	if (g && (g->nr_approvers || READ_ONCE(g->npending))) {
		seq_printf(m, "evbus-approval-pending:\t%u\n",
			   READ_ONCE(g->npending));
		list_for_each_entry(ap, &g->approvers, link)
			seq_printf(m, "evbus-approver:\t%u %d %s %.*s\n", ap->id,
				   ap->priority,
				   ap->deflt == EVBUS_ALLOW ? "allow" : "deny",
				   ap->pattern_len, ap->pattern);
	}
	mutex_unlock(&ef->lock);
}

/* ------------------------------------------------------------ copy in */

#define EVBUS_APPROVER_FLAGS_VALID	0

static int evbus_approver_copy_in(struct evbus_approver_req *req,
				  void __user *argp)
{
	struct evbus_approver *a = &req->a;

	BUILD_BUG_ON(sizeof(*a) != 32);
	if (copy_from_user(a, argp, sizeof(*a)))
		return -EFAULT;
	if ((a->flags & ~EVBUS_APPROVER_FLAGS_VALID) || a->reserved)
		return -EINVAL;
	if (a->deflt != EVBUS_ALLOW && a->deflt != EVBUS_DENY)
		return -EINVAL;
	if (!a->pattern_len || a->pattern_len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (copy_from_user(req->pattern, u64_to_user_ptr(a->pattern),
			   a->pattern_len))
		return -EFAULT;
	if (evbus_pattern_parse(req->pattern, a->pattern_len, &req->segs))
		return -EINVAL;
	return 0;
}

int evbus_gate_init(void)
{
	evbus_gate_wq = alloc_workqueue("evbus_gate", WQ_UNBOUND, 0);
	return evbus_gate_wq ? 0 : -ENOMEM;
}

void evbus_gate_exit(void)
{
	destroy_workqueue(evbus_gate_wq);
}
