// SPDX-License-Identifier: GPL-2.0
/*
 * evbus subscriptions: SUBSCRIBE, UNSUBSCRIBE and what a closing file
 * takes out of the index.
 *
 * A file's subscriptions are kept in an xarray by id, under
 * evbus_file.lock; ids are allocated cyclically, so they are unique among
 * the file's live subscriptions and come back only after 2^32 more
 * subscribes.  Each subscription is charged to the file's per-file cap
 * (max_subs) and to its user (max_user_subs), and enters the bus's index
 * under bus.index_lock.  It is freed a grace period after it leaves the
 * index, since publishers walk the index under RCU.
 *
 * EVBUS_IOC_SUBSCRIBE2 is the size-versioned form, with filters
 * (filter.c) and a start in the past: replay from the history
 * (replay.c) or the retained values (retained.c).  Both check the file's
 * scope and the bus's policy under evbus_file.lock before anything is
 * charged.  A subscription that reaches into the past, or joins a file
 * catching up, enters the index not yet live (from U64_MAX), and waits
 * for RCU so that every publisher sees it before it starts.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched.h>

#include "evbus.h"
#include "trace.h"

#define EVBUS_SUB_PAST		(EVBUS_SUB_SINCE | EVBUS_SUB_LAST | \
				 EVBUS_SUB_RETAINED)

struct evbus_sub_req {
	struct evbus_subscribe s;
	u32 __user *id_out;		/* where sub_id goes */
	struct evbus_segs segs;
	char pattern[EVBUS_TOPIC_MAX];
};

/* The pattern of a request: copy and parse, 0, -EFAULT or -EINVAL. */
static int evbus_sub_pattern(struct evbus_sub_req *req)
{
	const struct evbus_subscribe *s = &req->s;

	if (!s->pattern_len || s->pattern_len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (copy_from_user(req->pattern, u64_to_user_ptr(s->pattern),
			   s->pattern_len))
		return -EFAULT;
	if (evbus_pattern_parse(req->pattern, s->pattern_len, &req->segs))
		return -EINVAL;
	return 0;
}

/* EVBUS_IOC_SUBSCRIBE's struct is SUBSCRIBE2's with no filters. */
static int evbus_sub_copy_in(struct evbus_sub_req *req, void __user *argp)
{
	struct evbus_sub s;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.flags || s.reserved)
		return -EINVAL;
	memset(&req->s, 0, sizeof(req->s));
	req->s.pattern = s.pattern;
	req->s.pattern_len = s.pattern_len;
	req->id_out = argp + offsetof(struct evbus_sub, sub_id);
	return evbus_sub_pattern(req);
}

/* At most one start in the past, with its field and no other's. */
static int evbus_sub_past_check(const struct evbus_subscribe *s)
{
	u32 past = s->flags & EVBUS_SUB_PAST;

	if (s->reserved || (past & (past - 1)))
		return -EINVAL;
	if (!(s->flags & EVBUS_SUB_SINCE) != !s->since)
		return -EINVAL;
	if (!(s->flags & EVBUS_SUB_LAST) != !s->last)
		return -EINVAL;
	return 0;
}

/* Size-versioned, as openat2(): 0, -EFAULT, -EINVAL or -E2BIG. */
static int evbus_sub2_copy_in(struct evbus_sub_req *req, void __user *argp)
{
	u32 size;
	int ret;

	ret = evbus_copy_sized(&req->s, sizeof(req->s), argp,
			       EVBUS_SUBSCRIBE_SIZE_VER0, &size);
	if (ret)
		return ret;
	ret = evbus_sub_past_check(&req->s);
	if (ret)
		return ret;
	req->id_out = argp + offsetof(struct evbus_subscribe, sub_id);
	return evbus_sub_pattern(req);
}

/*
 * May ef subscribe to the request's pattern?  Checked under ef->lock, so a
 * policy change that revokes (it takes ef->lock after changing) cannot
 * miss a subscription checked against the old policy.
 */
static int evbus_may_subscribe(struct evbus_file *ef, struct evbus_sub_req *req)
{
	u32 right = EVBUS_RIGHT_SUBSCRIBE;
	struct evbus_pol_verdict v = {};

	lockdep_assert_held(&ef->lock);
	if (!evbus_scope_may_subscribe(ef, req->pattern, &req->segs)) {
		v.cause = EVBUS_DENY_SCOPE;
	} else {
		evbus_policy_check_subscribe(ef->bus, ef->cred, req->pattern,
					     &req->segs, right, &v);
		/* Reaching into the past is a right of its own. */
		if (!v.cause && (req->s.flags & EVBUS_SUB_PAST)) {
			right = EVBUS_RIGHT_REPLAY;
			evbus_policy_check_subscribe(ef->bus, ef->cred,
						     req->pattern, &req->segs,
						     right, &v);
		}
	}
	if (!v.cause)
		return 0;
	return evbus_deny(ef, right, &v, req->pattern, req->s.pattern_len,
			  false);
}

/*
 * Room for one more subscription in the file (ef->lock held)?  Revoked
 * ones count until their notices are read (ring.c), wills (will.c) as
 * long as they are armed.
 */
bool evbus_sub_room(struct evbus_file *ef)
{
	lockdep_assert_held(&ef->lock);
	return ef->nr_subs + ef->nr_wills + READ_ONCE(ef->ring.revoked) <
	       READ_ONCE(ef->bus->limits->max_subs);
}

/* Charge one subscription to the file and its user: 0 or -ENOSPC. */
static int evbus_sub_charge(struct evbus_file *ef)
{
	if (!evbus_sub_room(ef))
		return -ENOSPC;
	if (evbus_user_charge(ef->user, EVBUS_UC_SUBS, 1,
			      READ_ONCE(ef->bus->limits->max_user_subs)))
		return -ENOSPC;
	ef->nr_subs++;
	return 0;
}

static void evbus_sub_uncharge(struct evbus_file *ef, u32 n)
{
	ef->nr_subs -= n;
	evbus_user_uncharge(ef->user, EVBUS_UC_SUBS, n);
}

/* Add sub to the file and the index; ef->lock held.  0 or -errno. */
static int evbus_sub_add(struct evbus_file *ef, struct evbus_sub_entry *sub,
			 struct evbus_sub_req *req)
{
	struct evbus_bus *bus = ef->bus;
	int ret;

	ret = xa_alloc_cyclic(&ef->subs, &sub->id, sub, XA_LIMIT(1, U32_MAX),
			      &ef->next_sub_id, GFP_KERNEL_ACCOUNT);
	if (ret < 0)
		return ret == -EBUSY ? -ENOSPC : ret;
	/* Report the id before the subscription can be seen. */
	ret = -EFAULT;
	if (put_user(sub->id, req->id_out))
		goto err_erase;
	ret = mutex_lock_killable(&bus->index_lock);
	if (ret)
		goto err_erase;
	ret = evbus_index_add(&bus->index, &sub->ent, sub->pattern, &req->segs);
	mutex_unlock(&bus->index_lock);
	if (ret)
		goto err_erase;
	return 0;

err_erase:
	xa_erase(&ef->subs, sub->id);
	return ret;
}

/*
 * sub is in the index.  A subscription that is not live yet (from
 * U64_MAX) starts once every publisher sees it: replaying from the
 * history, after its retained values, or (joining a file that catches
 * up) now.  0 or -errno, with nothing delivered through it.
 */
static int evbus_sub_start(struct evbus_file *ef, struct evbus_sub_entry *sub,
			   const struct evbus_subscribe *s)
{
	if (sub->from != U64_MAX)
		return 0;
	synchronize_rcu();
	if (s->flags & (EVBUS_SUB_SINCE | EVBUS_SUB_LAST))
		return evbus_replay_begin(ef, sub, s);
	if (s->flags & EVBUS_SUB_RETAINED)
		return evbus_retained_send(ef, sub);
	evbus_replay_join(ef, sub);
	return 0;
}

static long evbus_subscribe(struct evbus_file *ef, struct evbus_sub_req *req)
{
	const struct evbus_limits *lim = ef->bus->limits;
	struct evbus_sub_entry *sub;
	bool had_ring;
	u32 next_id;
	int ret;

	sub = kzalloc(struct_size(sub, pattern, req->s.pattern_len), EVBUS_GFP);
	if (!sub)
		return -ENOMEM;
	memcpy(sub->pattern, req->pattern, req->s.pattern_len);
	sub->pattern_len = req->s.pattern_len;
	sub->owner = ef;
	ret = evbus_filter_attach(ef, &req->s, &sub->filter);
	if (ret)
		goto err_free;

	ret = mutex_lock_killable(&ef->lock);
	if (ret)
		goto err_free;
	ret = evbus_may_subscribe(ef, req);
	if (ret)
		goto err_unlock;
	/* Retained values go into the ring now: not before replayed ones. */
	ret = -EBUSY;
	if ((req->s.flags & EVBUS_SUB_RETAINED) && ef->replaying)
		goto err_unlock;
	ret = evbus_sub_charge(ef);
	if (ret)
		goto err_unlock;
	had_ring = !!ef->ring.data;
	ret = evbus_ring_alloc(&ef->ring, ef->user,
			       evbus_ring_size(lim, READ_ONCE(lim->ring_default)));
	if (ret)
		goto err_uncharge;
	next_id = ef->next_sub_id;
	/* Not live until it starts (below); ef->replaying is ours to read. */
	if ((req->s.flags & EVBUS_SUB_PAST) || ef->replaying)
		sub->from = U64_MAX;
	ret = evbus_sub_add(ef, sub, req);
	if (ret)
		goto err_ring;
	ret = evbus_sub_start(ef, sub, &req->s);
	if (ret)
		goto err_unlink;
	trace_evbus_subscribe(ef->ring.file_id, sub->id, sub->pattern,
			      sub->pattern_len);
	mutex_unlock(&ef->lock);
	evbus_count(ef->bus->stats, subscriptions, 1);
	return 0;

err_unlink:
	/* Nothing went through it: it was never live. */
	mutex_lock(&ef->bus->index_lock);
	evbus_index_del(&ef->bus->index, &sub->ent);
	mutex_unlock(&ef->bus->index_lock);
	xa_erase(&ef->subs, sub->id);
	ef->next_sub_id = next_id;
	if (!had_ring)
		evbus_ring_discard(&ef->ring, ef->user);
	evbus_sub_uncharge(ef, 1);
	mutex_unlock(&ef->lock);
	/* Publishers may have found it: free it after them. */
	evbus_sub_free(sub);
	return ret;

err_ring:
	/* A failed call leaves the file as it was: a new ring goes too. */
	ef->next_sub_id = next_id;
	if (!had_ring)
		evbus_ring_discard(&ef->ring, ef->user);
err_uncharge:
	evbus_sub_uncharge(ef, 1);
err_unlock:
	mutex_unlock(&ef->lock);
err_free:
	evbus_filter_free(sub->filter);
	kfree(sub);
	return ret;
}

long evbus_ioctl_subscribe(struct evbus_file *ef, void __user *argp)
{
	struct evbus_sub_req req;
	int ret;

	ret = evbus_sub_copy_in(&req, argp);
	return ret ?: evbus_subscribe(ef, &req);
}

long evbus_ioctl_subscribe2(struct evbus_file *ef, void __user *argp)
{
	struct evbus_sub_req req;
	int ret;

	ret = evbus_sub2_copy_in(&req, argp);
	return ret ?: evbus_subscribe(ef, &req);
}

static void evbus_sub_free_rcu(struct rcu_head *head)
{
	struct evbus_sub_entry *sub = container_of(head, struct evbus_sub_entry,
						   rcu);

	evbus_filter_free(sub->filter);
	kfree(sub);
}

/* Free sub once no publisher can still see it. */
void evbus_sub_free(struct evbus_sub_entry *sub)
{
	call_rcu(&sub->rcu, evbus_sub_free_rcu);
}

/*
 * Take sub out of the index and the file; ef->lock held.  A revoked one
 * keeps its charge to the user until its notice is read (ring.c).
 */
void evbus_sub_unlink(struct evbus_file *ef, struct evbus_sub_entry *sub,
		      bool revoked)
{
	lockdep_assert_held(&ef->lock);
	mutex_lock(&ef->bus->index_lock);
	evbus_index_del(&ef->bus->index, &sub->ent);
	mutex_unlock(&ef->bus->index_lock);
	xa_erase(&ef->subs, sub->id);
	if (revoked) {
		ef->nr_subs--;
		evbus_ring_revoke_begin(&ef->ring);
	} else {
		evbus_sub_uncharge(ef, 1);
	}
	trace_evbus_unsubscribe(ef->ring.file_id, sub->id);
	evbus_count(ef->bus->stats, subscriptions, -1);
	/* Publishers waiting for room here may not have to any more. */
	evbus_room_kick(&ef->ring);
}

long evbus_ioctl_unsubscribe(struct evbus_file *ef, u32 __user *argp)
{
	struct evbus_sub_entry *sub;
	u32 id;
	int ret;

	if (get_user(id, argp))
		return -EFAULT;
	ret = mutex_lock_killable(&ef->lock);
	if (ret)
		return ret;
	sub = xa_load(&ef->subs, id);
	ret = -ENOENT;
	if (!sub)
		goto out_unlock;
	evbus_sub_unlink(ef, sub, false);
	evbus_sub_free(sub);
	ret = 0;
out_unlock:
	mutex_unlock(&ef->lock);
	return ret;
}

/*
 * The file is closing: take its subscriptions out of the index, one
 * index_lock hold each (bounded by the file's own caps), and free them
 * after a grace period.
 */
void evbus_subs_release(struct evbus_file *ef)
{
	struct evbus_sub_entry *sub;
	unsigned long id;
	u32 n = ef->nr_subs;

	xa_for_each(&ef->subs, id, sub) {
		mutex_lock(&ef->bus->index_lock);
		evbus_index_del(&ef->bus->index, &sub->ent);
		mutex_unlock(&ef->bus->index_lock);
		evbus_sub_free(sub);
		cond_resched();
	}
	xa_destroy(&ef->subs);
	if (n)
		evbus_sub_uncharge(ef, n);
	evbus_count(ef->bus->stats, subscriptions, -(s64)n);
}
