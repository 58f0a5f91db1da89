// SPDX-License-Identifier: GPL-2.0
/*
 * evbus rate limits: a token bucket per file, and one per user and bus.
 *
 * A bucket holds tokens for events and for payload bytes, each refilled
 * at its rate up to its burst, counted in billionths of a token so that a
 * refill is elapsed ns times the rate per second, with no rounding.  A
 * publish takes one event token and payload_len byte tokens from every
 * limited bucket of its file at once, or none: the file's bucket lock,
 * then the user's.  A publish that may wait and finds too few tokens
 * takes them anyway (the bucket goes below zero, at most one burst) and
 * sleeps exactly until the refill has paid the debt, so waiters are
 * served in turn; an interrupted wait gives its tokens back.  Events that
 * are staged but never go out give theirs back too (evbus_rate_refund()).
 *
 * A user is the account at the top of its user namespaces (user.c), so an
 * unprivileged container's uids share their creator's bucket.  The owner
 * sets limits as a small array of rules, replaced whole under rate.lock
 * and read under RCU; each change bumps rate.gen, and a user bucket
 * re-reads its limit when it sees a new generation.  User buckets live in
 * a per-bus hash under rate.users_lock, held by the files that use them
 * and kept, once none does, until they are full again (closing and
 * reopening must not refill one): at most one per account that published
 * under a limit, freed with the bus.
 *
 * Locks: a file's bucket lock is taken by that file's publishers; a user
 * bucket's by that user's; rate.users_lock by any file's first limited
 * publish and its release, for O(1) hash work (a chain holds one user's
 * bucket per account, at most the accounts with files open).
 */
#include <linux/slab.h>
#include <linux/hashtable.h>
#include <linux/sched/signal.h>
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <linux/overflow.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/cred.h>
#include <linux/fs.h>

#include "evbus.h"
#include "trace.h"

/* Per-user limits a bus holds at most. */
#define EVBUS_RATE_RULES_MAX	256
/* A token, in the units buckets count in. */
#define EVBUS_TOKEN		NSEC_PER_SEC

enum { EVBUS_DIM_EVENTS, EVBUS_DIM_BYTES, EVBUS_DIMS };

/* One owner's limit: for the account uid, or (all) every other one. */
struct evbus_rate_rule {
	kuid_t uid;
	bool all;
	struct evbus_rate_limit lim;
};

struct evbus_rate_rules {
	struct rcu_head rcu;
	u32 nr;
	struct evbus_rate_rule rule[];
};

/* The bucket of an account on a bus, shared by its files. */
struct evbus_ubucket {
	struct hlist_node node;		/* rate.users, users_lock */
	kuid_t uid;
	unsigned int refs;		/* files holding it; users_lock */
	u32 gen;			/* b.lock: the rules lim comes from */
	struct evbus_bucket b;
};

/* ------------------------------------------------------------ buckets */

static void evbus_lim_get(const struct evbus_rate_limit *l, u64 rate[EVBUS_DIMS],
			  u64 burst[EVBUS_DIMS])
{
	rate[EVBUS_DIM_EVENTS] = l->events_per_sec;
	burst[EVBUS_DIM_EVENTS] = l->events_burst;
	rate[EVBUS_DIM_BYTES] = l->bytes_per_sec;
	burst[EVBUS_DIM_BYTES] = l->bytes_burst;
}

void evbus_bucket_init(struct evbus_bucket *b)
{
	spin_lock_init(&b->lock);
}

static bool evbus_lim_none(const struct evbus_rate_limit *l)
{
	return !l->events_per_sec && !l->bytes_per_sec;
}

/* A new limit: a full bucket, or what it held if that is less. */
static void evbus_bucket_set(struct evbus_bucket *b,
			     const struct evbus_rate_limit *l, u64 now)
{
	u64 rate[EVBUS_DIMS], burst[EVBUS_DIMS];
	int i;

	lockdep_assert_held(&b->lock);
	evbus_lim_get(l, rate, burst);
	for (i = 0; i < EVBUS_DIMS; i++) {
		s64 cap = burst[i] * EVBUS_TOKEN;

		if (!rate[i] || !b->on[i] || b->tokens[i] > cap)
			b->tokens[i] = cap;
		b->on[i] = rate[i] != 0;
	}
	b->lim = *l;
	b->last_ns = now;
}

/* Add what the rates earned since the last refill, up to each burst. */
static void evbus_bucket_refill(struct evbus_bucket *b, u64 now)
{
	u64 rate[EVBUS_DIMS], burst[EVBUS_DIMS];
	u64 dt = now - b->last_ns;
	int i;

	lockdep_assert_held(&b->lock);
	/* A caller that read the clock before another refilled: no time. */
	if ((s64)dt <= 0)
		return;
	b->last_ns = now;
	evbus_lim_get(&b->lim, rate, burst);
	for (i = 0; i < EVBUS_DIMS; i++) {
		s64 cap = burst[i] * EVBUS_TOKEN;
		u64 need, add;

		if (!rate[i] || b->tokens[i] >= cap)
			continue;
		need = cap - b->tokens[i];	/* at most two bursts */
		if (check_mul_overflow(dt, rate[i], &add) || add >= need)
			b->tokens[i] = cap;
		else
			b->tokens[i] += add;
	}
}

/*
 * How long until b can pay cost[]: 0 if now, U64_MAX if never within one
 * burst of debt (a payload over the byte burst is refused before).
 */
static u64 evbus_bucket_wait(const struct evbus_bucket *b,
			     const s64 cost[EVBUS_DIMS])
{
	u64 rate[EVBUS_DIMS], burst[EVBUS_DIMS], wait = 0;
	int i;

	evbus_lim_get(&b->lim, rate, burst);
	for (i = 0; i < EVBUS_DIMS; i++) {
		s64 cap = burst[i] * EVBUS_TOKEN;

		if (!rate[i] || b->tokens[i] >= cost[i])
			continue;
		if (b->tokens[i] - cost[i] < -cap)
			return U64_MAX;
		wait = max(wait, DIV64_U64_ROUND_UP(cost[i] - b->tokens[i],
						    rate[i]));
	}
	return wait;
}

static void evbus_bucket_add(struct evbus_bucket *b, const s64 cost[EVBUS_DIMS],
			     int sign)
{
	u64 rate[EVBUS_DIMS], burst[EVBUS_DIMS];
	int i;

	evbus_lim_get(&b->lim, rate, burst);
	for (i = 0; i < EVBUS_DIMS; i++)
		if (rate[i])
			b->tokens[i] = min_t(s64, b->tokens[i] + sign * cost[i],
					     burst[i] * EVBUS_TOKEN);
}

/* ------------------------------------------------------ user limits */

/* The owner's limit for account uid, or NULL; under RCU. */
static const struct evbus_rate_limit *
evbus_rate_rule_for(const struct evbus_rate_rules *rules, kuid_t uid)
{
	const struct evbus_rate_limit *all = NULL;
	u32 i;

	for (i = 0; rules && i < rules->nr; i++) {
		if (rules->rule[i].all)
			all = &rules->rule[i].lim;
		else if (uid_eq(rules->rule[i].uid, uid))
			return &rules->rule[i].lim;
	}
	return all;
}

/* Re-read ub's limit if the rules changed since; ub->b.lock held. */
static void evbus_ubucket_sync(struct evbus_bus *bus, struct evbus_ubucket *ub,
			       u64 now)
{
	static const struct evbus_rate_limit none;
	const struct evbus_rate_limit *l;
	u32 gen = atomic_read(&bus->rate.gen);

	if (ub->gen == gen)
		return;
	WRITE_ONCE(ub->gen, gen);
	rcu_read_lock();
	l = evbus_rate_rule_for(rcu_dereference(bus->rate.rules), ub->uid);
	if (!l)
		l = &none;
	if (memcmp(l, &ub->b.lim, sizeof(*l)))
		evbus_bucket_set(&ub->b, l, now);
	rcu_read_unlock();
}

static struct evbus_ubucket *evbus_ubucket_find(struct evbus_bus *bus, kuid_t uid)
{
	struct evbus_ubucket *ub;

	lockdep_assert_held(&bus->rate.users_lock);
	hash_for_each_possible(bus->rate.users, ub, node, __kuid_val(uid))
		if (uid_eq(ub->uid, uid))
			return ub;
	return NULL;
}

/*
 * ef's user bucket, found or made on its first limited publish and held
 * until the file is freed.  NULL if there is no memory (-ENOMEM or, with
 * nowait, -EAGAIN).
 */
static struct evbus_ubucket *evbus_ubucket_get(struct evbus_file *ef,
					       bool nowait, int *err)
{
	struct evbus_bus *bus = ef->bus;
	struct evbus_ubucket *ub, *fresh;
	kuid_t uid = evbus_user_account(ef->user);

	ub = READ_ONCE(ef->ubucket);
	if (ub)
		return ub;
	fresh = kzalloc(sizeof(*fresh), nowait ? GFP_NOWAIT | __GFP_ACCOUNT :
			GFP_KERNEL_ACCOUNT);
	if (!fresh) {
		*err = nowait ? -EAGAIN : -ENOMEM;
		return NULL;
	}
	fresh->uid = uid;
	fresh->gen = atomic_read(&bus->rate.gen) - 1;	/* read the rules */
	evbus_bucket_init(&fresh->b);
	spin_lock(&bus->rate.users_lock);
	ub = evbus_ubucket_find(bus, uid);
	if (!ub) {
		ub = fresh;
		fresh = NULL;
		hash_add(bus->rate.users, &ub->node, __kuid_val(uid));
	}
	ub->refs++;
	if (cmpxchg(&ef->ubucket, NULL, ub)) {	/* another thread was first */
		ub->refs--;
		ub = ef->ubucket;
	}
	spin_unlock(&bus->rate.users_lock);
	kfree(fresh);
	return ub;
}

/* ------------------------------------------------------------ publish */

/* Sleep until the absolute CLOCK_MONOTONIC time end, or a signal. */
static int evbus_rate_sleep(u64 end)
{
	ktime_t t = ns_to_ktime(end);

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (signal_pending(current)) {
			__set_current_state(TASK_RUNNING);
			return -EINTR;
		}
		if (!schedule_hrtimeout_range(&t, 0, HRTIMER_MODE_ABS))
			return 0;
	}
}

/*
 * Take cost from b, refilled at now: 0 if paid, with *wait 0, or, with
 * until set, reserved to be paid by *wait ns from now (not past until);
 * -EAGAIN if too few tokens, -EMSGSIZE if a payload of len never fits.
 * Nothing is taken on error.
 */
static int evbus_bucket_take(struct evbus_bucket *b, const s64 cost[EVBUS_DIMS],
			     u32 len, u64 now, u64 until, u64 *wait)
{
	int ret = 0;

	spin_lock(&b->lock);
	evbus_bucket_refill(b, now);
	*wait = evbus_bucket_wait(b, cost);
	if (b->lim.bytes_per_sec && len > b->lim.bytes_burst)
		ret = -EMSGSIZE;
	else if (*wait && (!until || *wait == U64_MAX || now + *wait > until))
		ret = -EAGAIN;
	else
		evbus_bucket_add(b, cost, -1);
	spin_unlock(&b->lock);
	return ret;
}

static void evbus_bucket_give(struct evbus_bucket *b, const s64 cost[EVBUS_DIMS])
{
	spin_lock(&b->lock);
	evbus_bucket_add(b, cost, 1);
	spin_unlock(&b->lock);
}

/* The user's bucket, its limit re-read if the rules changed. */
static int evbus_ubucket_take(struct evbus_file *ef, struct evbus_ubucket *ub,
			      const s64 cost[EVBUS_DIMS], u32 len, u64 now,
			      u64 until, u64 *wait)
{
	/* The rules rarely change: look at the generation unlocked first. */
	if (READ_ONCE(ub->gen) != (u32)atomic_read(&ef->bus->rate.gen)) {
		spin_lock(&ub->b.lock);
		evbus_ubucket_sync(ef->bus, ub, now);
		spin_unlock(&ub->b.lock);
	}
	return evbus_bucket_take(&ub->b, cost, len, now, until, wait);
}

/* A refusal: counted by bucket, traced. */
static int evbus_rate_refused(struct evbus_file *ef, bool user, u32 len, int err)
{
	if (err != -EAGAIN)
		return err;
	if (user)
		evbus_count(ef->bus->stats, rate_refused_user, 1);
	else
		evbus_count(ef->bus->stats, rate_refused_file, 1);
	atomic64_inc(&ef->rate_refused);
	trace_evbus_rate(ef->ring.file_id, len, user, 0, -EAGAIN);
	return -EAGAIN;
}

static void evbus_rate_give(struct evbus_file *ef, struct evbus_ubucket *ub,
			    const s64 cost[EVBUS_DIMS])
{
	evbus_bucket_give(&ef->rate, cost);
	if (ub)
		evbus_bucket_give(&ub->b, cost);
}

/* Wait the reserved tokens in; give them back if a signal comes first. */
static int evbus_rate_wait(struct evbus_file *ef, struct evbus_ubucket *ub,
			   const s64 cost[EVBUS_DIMS], u64 end, u64 wait,
			   bool user, u32 len)
{
	int ret;

	ret = evbus_rate_sleep(end);
	if (ret) {
		evbus_rate_give(ef, ub, cost);
		evbus_count(ef->bus->stats, rate_interrupted, 1);
	} else {
		evbus_count(ef->bus->stats, rate_waited, 1);
		evbus_count(ef->bus->stats, rate_wait_ns, wait);
		atomic64_inc(&ef->rate_waited);
	}
	trace_evbus_rate(ef->ring.file_id, len, user, wait, ret);
	return ret;
}

/*
 * An event of len payload bytes is about to go out from ef: take its
 * tokens, from the file's bucket and then the user's (giving the first
 * back if the second refuses).  until is 0 (refuse at once) or the
 * CLOCK_MONOTONIC time a wait must end by.  0 when taken (*taken set if
 * any bucket was charged), else -EAGAIN, -EMSGSIZE, -EINTR or -ENOMEM
 * with nothing taken; with nowait, -EAGAIN (uncounted) for anything
 * that would sleep or be refused, so that io_uring's worker decides.
 */
int evbus_rate_take(struct evbus_file *ef, u32 len, u64 until, bool nowait,
		    bool *taken)
{
	s64 cost[EVBUS_DIMS] = { EVBUS_TOKEN, (s64)len * EVBUS_TOKEN };
	struct evbus_ubucket *ub = NULL;
	u64 now, wf = 0, wu = 0;
	int err = 0;

	*taken = false;
	if (READ_ONCE(ef->ubucket) || rcu_access_pointer(ef->bus->rate.rules)) {
		ub = evbus_ubucket_get(ef, nowait, &err);
		if (!ub)
			return err;
	} else if (!READ_ONCE(ef->rate_on)) {
		return 0;
	}
	if (nowait)
		until = 0;
	now = ktime_get_ns();
	err = evbus_bucket_take(&ef->rate, cost, len, now, until, &wf);
	if (err)
		return nowait ? -EAGAIN : evbus_rate_refused(ef, false, len, err);
	if (ub)
		err = evbus_ubucket_take(ef, ub, cost, len, now, until, &wu);
	if (err) {
		evbus_bucket_give(&ef->rate, cost);
		return nowait ? -EAGAIN : evbus_rate_refused(ef, true, len, err);
	}
	*taken = true;
	if (!wf && !wu)
		return 0;
	return evbus_rate_wait(ef, ub, cost, now + max(wf, wu), max(wf, wu),
			       wu > wf, len);
}

/* An event whose tokens were taken did not go out: give them back. */
void evbus_rate_refund(struct evbus_file *ef, u32 len)
{
	s64 cost[EVBUS_DIMS] = { EVBUS_TOKEN, (s64)len * EVBUS_TOKEN };

	evbus_rate_give(ef, READ_ONCE(ef->ubucket), cost);
}

/* ------------------------------------------------------------- ioctl */

#define EVBUS_RATE_WAIT_MAX_NS	(60 * NSEC_PER_SEC)

static int evbus_lim_check(const struct evbus_rate_limit *l)
{
	if (l->events_per_sec > EVBUS_RATE_MAX || l->bytes_per_sec > EVBUS_RATE_MAX ||
	    l->events_burst > EVBUS_RATE_BURST_MAX ||
	    l->bytes_burst > EVBUS_RATE_BURST_MAX)
		return -EINVAL;
	if (!l->events_per_sec != !l->events_burst ||
	    !l->bytes_per_sec != !l->bytes_burst)
		return -EINVAL;
	return 0;
}

/* Is n no looser than o in every dimension? */
static bool evbus_lim_tighter(const struct evbus_rate_limit *n,
			      const struct evbus_rate_limit *o)
{
	if (o->events_per_sec && (!n->events_per_sec ||
				  n->events_per_sec > o->events_per_sec ||
				  n->events_burst > o->events_burst))
		return false;
	if (o->bytes_per_sec && (!n->bytes_per_sec ||
				 n->bytes_per_sec > o->bytes_per_sec ||
				 n->bytes_burst > o->bytes_burst))
		return false;
	return true;
}

static int evbus_rate_set_file(struct evbus_file *ef,
			       const struct evbus_rate_limit *l)
{
	int ret = 0;

	spin_lock(&ef->rate.lock);
	if (!evbus_lim_tighter(l, &ef->rate.lim)) {
		ret = -EPERM;
	} else {
		evbus_bucket_refill(&ef->rate, ktime_get_ns());
		evbus_bucket_set(&ef->rate, l, ktime_get_ns());
		WRITE_ONCE(ef->rate_on, !evbus_lim_none(l));
	}
	spin_unlock(&ef->rate.lock);
	return ret;
}

/* The rules with the one for (uid, all) replaced by l, or removed. */
static struct evbus_rate_rules *
evbus_rules_with(const struct evbus_rate_rules *old, kuid_t uid, bool all,
		 const struct evbus_rate_limit *l, int *err)
{
	u32 n = old ? old->nr : 0, i, j = 0;
	struct evbus_rate_rules *new;

	new = kzalloc(struct_size(new, rule, n + 1), GFP_KERNEL_ACCOUNT);
	if (!new) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (old->rule[i].all != all ||
		    (!all && !uid_eq(old->rule[i].uid, uid)))
			new->rule[j++] = old->rule[i];
	if (!evbus_lim_none(l)) {
		if (j >= EVBUS_RATE_RULES_MAX) {
			kfree(new);
			*err = -ENOSPC;
			return NULL;
		}
		new->rule[j].uid = uid;
		new->rule[j].all = all;
		new->rule[j++].lim = *l;
	} else if (j == n) {
		kfree(new);
		*err = -ENOENT;		/* nothing to remove */
		return NULL;
	}
	new->nr = j;
	return new;
}

static int evbus_rate_who(const struct evbus_rate *r, kuid_t *uid, bool *all)
{
	*all = r->who == EVBUS_WHO_ALL;
	if (*all)
		return r->id_value ? -EINVAL : 0;
	if (r->who != EVBUS_WHO_UID)
		return -EINVAL;
	*uid = make_kuid(current_user_ns(), r->id_value);
	return uid_valid(*uid) ? 0 : -EINVAL;
}

static int evbus_rate_set_user(struct file *file, const struct evbus_rate *r)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_bus *bus = ef->bus;
	struct evbus_rate_rules *old, *new;
	kuid_t uid = GLOBAL_ROOT_UID;
	bool all;
	int ret;

	ret = evbus_rate_who(r, &uid, &all);
	if (ret)
		return ret;
	if (!evbus_bus_owner(bus, file))
		return -EPERM;
	ret = mutex_lock_killable(&bus->rate.lock);
	if (ret)
		return ret;
	old = rcu_dereference_protected(bus->rate.rules,
					lockdep_is_held(&bus->rate.lock));
	new = evbus_rules_with(old, uid, all, &r->limit, &ret);
	if (new) {
		evbus_count(bus->stats, rate_users,
			    (s64)new->nr - (old ? old->nr : 0));
		if (!new->nr) {
			kfree(new);
			new = NULL;
		}
		rcu_assign_pointer(bus->rate.rules, new);
		atomic_inc(&bus->rate.gen);
		if (old)
			kfree_rcu(old, rcu);
	}
	mutex_unlock(&bus->rate.lock);
	return ret;
}

static int evbus_rate_get_user(struct evbus_bus *bus, struct evbus_rate *r)
{
	const struct evbus_rate_rules *rules;
	const struct evbus_rate_limit *l = NULL;
	kuid_t uid = GLOBAL_ROOT_UID;
	bool all;
	u32 i;
	int ret;

	ret = evbus_rate_who(r, &uid, &all);
	if (ret)
		return ret;
	rcu_read_lock();
	rules = rcu_dereference(bus->rate.rules);
	for (i = 0; rules && i < rules->nr; i++)
		if (rules->rule[i].all == all &&
		    (all || uid_eq(rules->rule[i].uid, uid)))
			l = &rules->rule[i].lim;
	if (l)
		r->limit = *l;
	rcu_read_unlock();
	return l ? 0 : -ENOENT;
}

/* Whole tokens, rounded down (towards minus infinity: a debt shows). */
static s64 evbus_whole(s64 t)
{
	s64 q = div_s64(t, EVBUS_TOKEN);

	return q * EVBUS_TOKEN > t ? q - 1 : q;
}

/* A dimension's whole tokens, 0 if it is not limited; b->lock held. */
static s64 evbus_tokens(const struct evbus_bucket *b, int dim)
{
	return b->on[dim] ? evbus_whole(b->tokens[dim]) : 0;
}

static void evbus_rate_get(struct evbus_file *ef, struct evbus_rate *r)
{
	struct evbus_ubucket *ub = READ_ONCE(ef->ubucket);
	const struct evbus_rate_limit *l;
	u64 now = ktime_get_ns();
	int err;

	/* The user's bucket as the next publish meets it. */
	if (!ub && rcu_access_pointer(ef->bus->rate.rules))
		ub = evbus_ubucket_get(ef, false, &err);
	spin_lock(&ef->rate.lock);
	evbus_bucket_refill(&ef->rate, now);
	r->limit = ef->rate.lim;
	r->events_tokens = evbus_tokens(&ef->rate, EVBUS_DIM_EVENTS);
	r->bytes_tokens = evbus_tokens(&ef->rate, EVBUS_DIM_BYTES);
	spin_unlock(&ef->rate.lock);
	if (ub) {
		spin_lock(&ub->b.lock);
		evbus_ubucket_sync(ef->bus, ub, now);
		evbus_bucket_refill(&ub->b, now);
		r->user = ub->b.lim;
		r->user_events_tokens = evbus_tokens(&ub->b, EVBUS_DIM_EVENTS);
		r->user_bytes_tokens = evbus_tokens(&ub->b, EVBUS_DIM_BYTES);
		spin_unlock(&ub->b.lock);
	} else {
		/* No bucket yet: what the user's first publish will meet. */
		rcu_read_lock();
		l = evbus_rate_rule_for(rcu_dereference(ef->bus->rate.rules),
					evbus_user_account(ef->user));
		if (l) {
			r->user = *l;
			r->user_events_tokens = l->events_burst;
			r->user_bytes_tokens = l->bytes_burst;
		}
		rcu_read_unlock();
	}
	r->refused = atomic64_read(&ef->rate_refused);
	r->waited = atomic64_read(&ef->rate_waited);
}

long evbus_ioctl_rate(struct file *file, void __user *argp)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_rate r;
	u32 usize;
	int ret;

	ret = evbus_copy_sized(&r, sizeof(r), argp, EVBUS_RATE_SIZE_VER0, &usize);
	if (ret)
		return ret;
	switch (r.op) {
	case EVBUS_RATE_GET:
	case EVBUS_RATE_USER_GET:
		if (memchr_inv(&r.user, 0, sizeof(r) -
			       offsetof(struct evbus_rate, user)) ||
		    (r.op == EVBUS_RATE_GET &&
		     (r.who || r.id_value ||
		      memchr_inv(&r.limit, 0, sizeof(r.limit)))) ||
		    (r.op == EVBUS_RATE_USER_GET &&
		     memchr_inv(&r.limit, 0, sizeof(r.limit))))
			return -EINVAL;
		if (r.op == EVBUS_RATE_GET)
			evbus_rate_get(ef, &r);
		else
			ret = evbus_rate_get_user(ef->bus, &r);
		if (ret)
			return ret;
		if (usize > sizeof(r) && clear_user(argp + sizeof(r), usize - sizeof(r)))
			return -EFAULT;
		return copy_to_user(argp, &r, sizeof(r)) ? -EFAULT : 0;
	case EVBUS_RATE_FILE:
	case EVBUS_RATE_USER:
		if (memchr_inv(&r.user, 0, sizeof(r) -
			       offsetof(struct evbus_rate, user)) ||
		    (r.op == EVBUS_RATE_FILE && (r.who || r.id_value)))
			return -EINVAL;
		ret = evbus_lim_check(&r.limit);
		if (ret)
			return ret;
		if (r.op == EVBUS_RATE_FILE)
			return evbus_rate_set_file(ef, &r.limit);
		return evbus_rate_set_user(file, &r);
	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------- lifetime */

/*
 * The deadline of a waiting publish of deadline_ns, within the module's
 * bound; 0 if it asked for none (refuse rather than wait).
 */
u64 evbus_rate_until(u64 deadline_ns)
{
	u64 max = (u64)READ_ONCE(evbus_limits.rate_wait_max_ms) * NSEC_PER_MSEC;

	return ktime_get_ns() + min3(deadline_ns, max, EVBUS_RATE_WAIT_MAX_NS);
}

void evbus_rate_bus_init(struct evbus_bus *bus)
{
	mutex_init(&bus->rate.lock);
	spin_lock_init(&bus->rate.users_lock);
	hash_init(bus->rate.users);
}

void evbus_rate_bus_destroy(struct evbus_bus *bus)
{
	struct evbus_rate_rules *rules = rcu_dereference_protected(bus->rate.rules, 1);

	struct evbus_ubucket *ub;
	struct hlist_node *tmp;
	int bkt;

	if (rules)
		evbus_count(bus->stats, rate_users, -(s64)rules->nr);
	kfree(rules);
	hash_for_each_safe(bus->rate.users, bkt, tmp, ub, node) {
		WARN_ON_ONCE(ub->refs);
		kfree(ub);
	}
	mutex_destroy(&bus->rate.lock);
}

/* Is every limited dimension of b full (nothing owed, nothing spent)? */
static bool evbus_bucket_full(struct evbus_bucket *b, u64 now)
{
	u64 rate[EVBUS_DIMS], burst[EVBUS_DIMS];
	bool full = true;
	int i;

	spin_lock(&b->lock);
	evbus_bucket_refill(b, now);
	evbus_lim_get(&b->lim, rate, burst);
	for (i = 0; i < EVBUS_DIMS; i++)
		if (rate[i] && b->tokens[i] < (s64)(burst[i] * EVBUS_TOKEN))
			full = false;
	spin_unlock(&b->lock);
	return full;
}

/*
 * The file is freed: its hold on its user's bucket goes.  A bucket no
 * file holds stays while it is not full, so that closing and reopening
 * the device does not refill it; a full one is just what a new one would
 * be, and goes.  So the buckets a bus keeps are at most one per account
 * that published under a limit on it (accounts are not something an
 * unprivileged user can make more of: user.c).
 */
void evbus_rate_file_free(struct evbus_file *ef)
{
	struct evbus_ubucket *ub = ef->ubucket;
	struct evbus_bus *bus = ef->bus;
	bool gone = false;

	if (!ub)
		return;
	spin_lock(&bus->rate.users_lock);
	if (!--ub->refs && evbus_bucket_full(&ub->b, ktime_get_ns())) {
		hash_del(&ub->node);
		gone = true;
	}
	spin_unlock(&bus->rate.users_lock);
	if (gone)
		kfree(ub);
}

static void evbus_lim_show(struct seq_file *m, const char *who,
			   struct evbus_bucket *b, u64 now)
{
	struct evbus_rate_limit l;
	s64 ev, by;

	spin_lock(&b->lock);
	evbus_bucket_refill(b, now);
	l = b->lim;
	ev = evbus_tokens(b, EVBUS_DIM_EVENTS);
	by = evbus_tokens(b, EVBUS_DIM_BYTES);
	spin_unlock(&b->lock);
	if (evbus_lim_none(&l))
		return;
	seq_printf(m, "evbus-rate-%s:\t%llu/%llu events %llu/%llu bytes tokens %lld %lld\n",
		   who, l.events_per_sec, l.events_burst, l.bytes_per_sec,
		   l.bytes_burst, ev, by);
}

/*
 * fdinfo: each limited bucket as rate/burst per dimension and its whole
 * tokens now, and the file's refusals and waits.
 */
void evbus_rate_show(struct seq_file *m, struct evbus_file *ef)
{
	struct evbus_ubucket *ub = READ_ONCE(ef->ubucket);
	u64 now = ktime_get_ns();

	evbus_lim_show(m, "file", &ef->rate, now);
	if (ub) {
		spin_lock(&ub->b.lock);
		evbus_ubucket_sync(ef->bus, ub, now);
		spin_unlock(&ub->b.lock);
		evbus_lim_show(m, "user", &ub->b, now);
	}
	seq_printf(m, "evbus-rate-refused:\t%lld\n", (s64)atomic64_read(&ef->rate_refused));
	seq_printf(m, "evbus-rate-waited:\t%lld\n", (s64)atomic64_read(&ef->rate_waited));
}
