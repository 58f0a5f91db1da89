// SPDX-License-Identifier: GPL-2.0
/*
 * evbus topic policy: rules a bus's owner sets on who may publish and
 * subscribe where.
 *
 * A rule is (pattern, who, rights, verdict); who is everyone, a uid or a
 * gid, fixed as kernel ids when the rule is added, so a rule means the same
 * user seen from any namespace.  A call is checked against the credentials
 * its file was opened with (evbus_file.cred):
 *
 *   publish on topic T:  refused by a deny rule whose pattern matches T;
 *                        else allowed through the approval gate (gate.c)
 *                        by an ask rule that matches T; else allowed by
 *                        an allow rule that matches T; else the default.
 *   subscribe to P:      refused by a deny rule whose pattern overlaps P;
 *                        else allowed by an allow rule whose pattern
 *                        contains P (or the default of allow).
 *
 * Deny wins, so the order of rules never matters.  Subscription checks are
 * conservative: a subscription is never allowed to receive an event its
 * reader could not have subscribed to alone, so delivery needs no check.
 *
 * Cost.  Rules live in a trie like subscriptions (index.c), so a publish
 * check walks only the nodes on the topic's path: O(segments) lookups per
 * rule pattern sharing a prefix with the topic, plus the rules that match,
 * never the whole policy.  A subscribe check tests every rule (subset and
 * overlap are not trie walks), at most max_rules, under RCU with no lock.
 * An empty policy with a default of allow costs one load.
 *
 * Changes take policy.lock.  With EVBUS_POLICY_REVOKE a change then
 * rechecks every subscription on the bus and removes the ones now refused
 * (evbus_policy_revoke()), reporting each to its reader in band.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/cred.h>
#include <linux/user_namespace.h>
#include <linux/rculist.h>
#include <linux/fs.h>

#include "evbus.h"
#include "trace.h"

#define EVBUS_RIGHTS_VALID	(EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE | \
				 EVBUS_RIGHT_REPLAY | EVBUS_RIGHT_APPROVE | \
				 EVBUS_RIGHT_WAIT)
#define EVBUS_POLICY_VALID	EVBUS_POLICY_REVOKE

struct evbus_policy_rule {
	struct evbus_index_entry ent;	/* policy.index */
	struct list_head link;		/* policy.rules, by id */
	struct rcu_head rcu;
	u32 id;
	u32 verdict;			/* EVBUS_ALLOW, _DENY or _ASK */
	u32 rights;			/* EVBUS_RIGHT_* */
	u32 who;			/* EVBUS_WHO_* */
	kuid_t uid;			/* EVBUS_WHO_UID */
	kgid_t gid;			/* EVBUS_WHO_GID */
	struct evbus_segs segs;
	u16 pattern_len;
	char pattern[];
};

int evbus_policy_init(struct evbus_policy *pol)
{
	mutex_init(&pol->lock);
	INIT_LIST_HEAD(&pol->rules);
	pol->deflt = EVBUS_ALLOW;
	return evbus_index_init(&pol->index);
}

static void evbus_rule_del(struct evbus_policy *pol, struct evbus_policy_rule *r)
{
	evbus_index_del(&pol->index, &r->ent);
	list_del_rcu(&r->link);
	WRITE_ONCE(pol->nr_rules, pol->nr_rules - 1);
	kfree_rcu(r, rcu);
}

/* The bus is going: nobody can look any more. */
void evbus_policy_destroy(struct evbus_policy *pol)
{
	struct evbus_policy_rule *r, *tmp;

	list_for_each_entry_safe(r, tmp, &pol->rules, link)
		evbus_rule_del(pol, r);
	evbus_index_destroy(&pol->index);
	mutex_destroy(&pol->lock);
}

/* ---------------------------------------------------------------- checks */

/* egid or a supplementary group; group_info is sorted (groups_sort()). */
static bool evbus_cred_in_group(const struct cred *cred, kgid_t gid)
{
	const struct group_info *gi = cred->group_info;
	unsigned int lo = 0, hi = gi->ngroups;

	if (gid_eq(cred->egid, gid))
		return true;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (gid_gt(gid, gi->gid[mid]))
			lo = mid + 1;
		else if (gid_lt(gid, gi->gid[mid]))
			hi = mid;
		else
			return true;
	}
	return false;
}

static bool evbus_rule_applies(const struct evbus_policy_rule *r,
			       const struct cred *cred, u32 right)
{
	if (!(r->rights & right))
		return false;
	switch (r->who) {
	case EVBUS_WHO_UID:
		return uid_eq(cred->euid, r->uid);
	case EVBUS_WHO_GID:
		return evbus_cred_in_group(cred, r->gid);
	default:
		return true;
	}
}

struct evbus_pub_check {
	const struct cred *cred;
	struct evbus_pol_verdict *v;
	u32 right;			/* EVBUS_RIGHT_PUBLISH or _WAIT */
	bool allowed;
};

static bool evbus_rule_pub_fn(struct evbus_index_entry *ent, void *arg)
{
	struct evbus_policy_rule *r = container_of(ent, struct evbus_policy_rule, ent);
	struct evbus_pub_check *c = arg;

	if (!evbus_rule_applies(r, c->cred, c->right))
		return true;
	if (r->verdict != EVBUS_DENY) {
		c->allowed = true;
		c->v->ask |= r->verdict == EVBUS_ASK;
		return true;
	}
	c->v->cause = EVBUS_DENY_RULE;
	c->v->rule_id = r->id;
	return false;		/* deny wins: stop */
}

void evbus_policy_check_publish(struct evbus_bus *bus, const struct cred *cred,
				const char *topic, const struct evbus_segs *segs,
				struct evbus_pol_verdict *v)
{
	struct evbus_policy *pol = &bus->policy;
	struct evbus_pub_check c = {
		.cred = cred, .v = v, .right = EVBUS_RIGHT_PUBLISH,
	};

	v->cause = 0;
	v->rule_id = 0;
	v->ask = false;
	if (READ_ONCE(pol->nr_rules)) {
		rcu_read_lock();
		evbus_index_match(&pol->index, topic, segs, evbus_rule_pub_fn, &c);
		rcu_read_unlock();
	}
	if (v->cause)
		v->ask = false;
	else if (!c.allowed && READ_ONCE(pol->deflt) == EVBUS_DENY)
		v->cause = EVBUS_DENY_DEFAULT;
}

/*
 * May a publish by cred on topic wait for another user's lossless reader
 * (ring.c)?  Only an allow rule with EVBUS_RIGHT_WAIT that matches says
 * so, and no deny rule for it: the default never does.  Under RCU, no
 * lock; what a publish check costs.
 */
bool evbus_policy_may_wait(struct evbus_bus *bus, const struct cred *cred,
			   const char *topic, const struct evbus_segs *segs)
{
	struct evbus_policy *pol = &bus->policy;
	struct evbus_pol_verdict v = {};
	struct evbus_pub_check c = {
		.cred = cred, .v = &v, .right = EVBUS_RIGHT_WAIT,
	};

	if (!READ_ONCE(pol->nr_rules))
		return false;
	rcu_read_lock();
	evbus_index_match(&pol->index, topic, segs, evbus_rule_pub_fn, &c);
	rcu_read_unlock();
	return c.allowed && !v.cause;
}

/*
 * May cred have right (EVBUS_RIGHT_SUBSCRIBE or _REPLAY) on every topic of
 * pattern?  Refused by a deny rule for that right overlapping it; else
 * allowed by an allow rule it lies within, or the default.
 */
void evbus_policy_check_subscribe(struct evbus_bus *bus,
				  const struct cred *cred, const char *pattern,
				  const struct evbus_segs *segs, u32 right,
				  struct evbus_pol_verdict *v)
{
	struct evbus_policy *pol = &bus->policy;
	struct evbus_policy_rule *r;
	bool allowed = READ_ONCE(pol->deflt) == EVBUS_ALLOW;

	v->cause = 0;
	v->rule_id = 0;
	if (!READ_ONCE(pol->nr_rules))
		goto out;
	rcu_read_lock();
	list_for_each_entry_rcu(r, &pol->rules, link) {
		if (!evbus_rule_applies(r, cred, right))
			continue;
		if (r->verdict == EVBUS_DENY) {
			if (evbus_pattern_overlap(pattern, segs, r->pattern,
						  &r->segs)) {
				v->cause = EVBUS_DENY_RULE;
				v->rule_id = r->id;
				break;
			}
		} else if (!allowed) {
			allowed = evbus_pattern_within(pattern, segs, r->pattern,
						       &r->segs);
		}
	}
	rcu_read_unlock();
out:
	if (!v->cause && !allowed)
		v->cause = EVBUS_DENY_DEFAULT;
}

/* ------------------------------------------------------------ revocation */

/*
 * Take the subscriptions of ef that the policy now refuses out of the
 * index and the file, onto gone.  One index_lock hold each; bounded by the
 * file's own caps.  Returns how many.
 */
static u32 evbus_revoke_unlink(struct evbus_bus *bus, struct evbus_file *ef,
			       struct list_head *gone)
{
	struct evbus_sub_entry *sub;
	struct evbus_pol_verdict v;
	struct evbus_segs segs;
	unsigned long id;
	u32 n = 0;

	mutex_lock(&ef->lock);
	xa_for_each(&ef->subs, id, sub) {
		if (evbus_pattern_parse(sub->pattern, sub->pattern_len, &segs))
			continue;
		evbus_policy_check_subscribe(bus, ef->cred, sub->pattern,
					     &segs, EVBUS_RIGHT_SUBSCRIBE, &v);
		if (!v.cause)
			continue;
		evbus_sub_unlink(ef, sub, true);
		sub->notice.kind = EVBUS_REC_REVOKED;
		sub->notice.id = sub->id;
		sub->notice.reason = v.cause;
		list_add_tail(&sub->notice.link, gone);
		n++;
	}
	mutex_unlock(&ef->lock);
	return n;
}

/*
 * Remove every subscription the policy now refuses, wait once until no
 * publisher can still hold any of them, and tell each reader where its
 * subscription ended.  files_lock keeps every file from going away
 * meanwhile; the notices never wait for a reader (ring.c).
 */
static void evbus_policy_revoke(struct evbus_bus *bus)
{
	struct evbus_notice *nt, *tmp;
	struct evbus_file *ef;
	LIST_HEAD(gone);
	u32 n = 0;
	u64 seq;

	lockdep_assert_held(&bus->policy.lock);
	mutex_lock(&bus->files_lock);
	list_for_each_entry(ef, &bus->files, bus_link) {
		n += evbus_revoke_unlink(bus, ef, &gone);
		cond_resched();
	}
	if (n) {
		/* After this no publisher holds them: later seqs miss them. */
		synchronize_rcu();
		spin_lock(&bus->order_lock);
		seq = bus->seq;
		spin_unlock(&bus->order_lock);
		list_for_each_entry_safe(nt, tmp, &gone, link) {
			list_del(&nt->link);
			nt->seq = seq;
			evbus_ring_put_notice(&evbus_notice_sub(nt)->owner->ring, nt);
		}
	}
	mutex_unlock(&bus->files_lock);
	evbus_count(bus->stats, revoked, n);
}

/* ---------------------------------------------------------------- ioctls */

/* Check and copy a rule from userspace into a new, unlinked rule. */
static struct evbus_policy_rule *evbus_rule_new(const struct evbus_rule *ur)
{
	struct user_namespace *ns = current_user_ns();
	struct evbus_policy_rule *r;

	if ((ur->flags & ~EVBUS_POLICY_VALID) || ur->reserved ||
	    (ur->verdict != EVBUS_ALLOW && ur->verdict != EVBUS_DENY &&
	     ur->verdict != EVBUS_ASK) ||
	    (ur->verdict == EVBUS_ASK && ur->rights != EVBUS_RIGHT_PUBLISH) ||
	    !ur->rights || (ur->rights & ~EVBUS_RIGHTS_VALID) ||
	    !ur->pattern_len || ur->pattern_len > EVBUS_TOPIC_MAX)
		return ERR_PTR(-EINVAL);
	if (ur->who == EVBUS_WHO_ALL ? ur->id_value :
	    ur->who != EVBUS_WHO_UID && ur->who != EVBUS_WHO_GID)
		return ERR_PTR(-EINVAL);

	r = kzalloc(struct_size(r, pattern, ur->pattern_len), EVBUS_GFP);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->verdict = ur->verdict;
	r->rights = ur->rights;
	r->who = ur->who;
	r->uid = make_kuid(ns, ur->id_value);
	r->gid = make_kgid(ns, ur->id_value);
	r->pattern_len = ur->pattern_len;
	if (copy_from_user(r->pattern, u64_to_user_ptr(ur->pattern),
			   ur->pattern_len)) {
		kfree(r);
		return ERR_PTR(-EFAULT);
	}
	if (evbus_pattern_parse(r->pattern, r->pattern_len, &r->segs) ||
	    (ur->who == EVBUS_WHO_UID && !uid_valid(r->uid)) ||
	    (ur->who == EVBUS_WHO_GID && !gid_valid(r->gid))) {
		kfree(r);
		return ERR_PTR(-EINVAL);
	}
	return r;
}

/* Link r under the next id, reported to *uid first: 0 or -errno. */
static int evbus_rule_add(struct evbus_bus *bus, struct evbus_policy_rule *r,
			  u32 __user *uid)
{
	struct evbus_policy *pol = &bus->policy;
	int ret;

	lockdep_assert_held(&pol->lock);
	if (pol->nr_rules >= READ_ONCE(bus->limits->max_rules) ||
	    pol->next_id == U32_MAX)
		return -ENOSPC;
	r->id = pol->next_id + 1;
	if (put_user(r->id, uid))
		return -EFAULT;
	ret = evbus_index_add(&pol->index, &r->ent, r->pattern, &r->segs);
	if (ret)
		return ret;
	pol->next_id = r->id;
	list_add_tail_rcu(&r->link, &pol->rules);
	WRITE_ONCE(pol->nr_rules, pol->nr_rules + 1);
	return 0;
}

long evbus_ioctl_policy_add(struct file *file, void __user *argp)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_bus *bus = ef->bus;
	struct evbus_policy_rule *r;
	struct evbus_rule ur;
	int ret;

	if (copy_from_user(&ur, argp, sizeof(ur)))
		return -EFAULT;
	r = evbus_rule_new(&ur);
	if (IS_ERR(r))
		return PTR_ERR(r);
	ret = -EPERM;
	if (!evbus_bus_owner(bus, file))
		goto err_free;
	ret = mutex_lock_killable(&bus->policy.lock);
	if (ret)
		goto err_free;
	ret = evbus_rule_add(bus, r, argp + offsetof(struct evbus_rule, id));
	if (ret) {
		mutex_unlock(&bus->policy.lock);
		goto err_free;
	}
	trace_evbus_policy(bus->id, r->id, r->verdict, r->rights, r->pattern,
			   r->pattern_len);
	if (ur.flags & EVBUS_POLICY_REVOKE)
		evbus_policy_revoke(bus);
	mutex_unlock(&bus->policy.lock);
	return 0;

err_free:
	kfree(r);
	return ret;
}

static int evbus_policy_remove(struct evbus_policy *pol, u32 id)
{
	struct evbus_policy_rule *r;

	list_for_each_entry(r, &pol->rules, link) {
		if (r->id == id) {
			evbus_rule_del(pol, r);
			return 0;
		}
	}
	return -ENOENT;
}

static void evbus_policy_clear(struct evbus_policy *pol)
{
	struct evbus_policy_rule *r, *tmp;

	list_for_each_entry_safe(r, tmp, &pol->rules, link) {
		evbus_rule_del(pol, r);
		cond_resched();
	}
	WRITE_ONCE(pol->deflt, EVBUS_ALLOW);
}

static int evbus_policy_set_check(const struct evbus_policy_set *ps)
{
	if ((ps->flags & ~EVBUS_POLICY_VALID) || ps->reserved)
		return -EINVAL;
	switch (ps->op) {
	case EVBUS_POLICY_OP_DEFAULT:
		return ps->id || (ps->verdict != EVBUS_ALLOW &&
				  ps->verdict != EVBUS_DENY) ? -EINVAL : 0;
	case EVBUS_POLICY_OP_REMOVE:
		return ps->verdict || !ps->id ? -EINVAL : 0;
	case EVBUS_POLICY_OP_CLEAR:
		return ps->verdict || ps->id ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

long evbus_ioctl_policy_set(struct file *file, void __user *argp)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_bus *bus = ef->bus;
	struct evbus_policy *pol = &bus->policy;
	struct evbus_policy_set ps;
	int ret;

	if (copy_from_user(&ps, argp, sizeof(ps)))
		return -EFAULT;
	ret = evbus_policy_set_check(&ps);
	if (ret)
		return ret;
	if (!evbus_bus_owner(bus, file))
		return -EPERM;
	ret = mutex_lock_killable(&pol->lock);
	if (ret)
		return ret;
	if (ps.op == EVBUS_POLICY_OP_DEFAULT)
		WRITE_ONCE(pol->deflt, ps.verdict);
	else if (ps.op == EVBUS_POLICY_OP_REMOVE)
		ret = evbus_policy_remove(pol, ps.id);
	else
		evbus_policy_clear(pol);
	if (!ret) {
		trace_evbus_policy(bus->id, ps.id, ps.verdict, 0, "", 0);
		if (ps.flags & EVBUS_POLICY_REVOKE)
			evbus_policy_revoke(bus);
	}
	mutex_unlock(&pol->lock);
	return ret;
}

static void evbus_rule_info(const struct evbus_policy_rule *r,
			    struct evbus_rule_info *ri)
{
	struct user_namespace *ns = current_user_ns();

	memset(ri, 0, sizeof(*ri));
	ri->id = r->id;
	ri->verdict = r->verdict;
	ri->rights = r->rights;
	ri->who = r->who;
	if (r->who == EVBUS_WHO_UID)
		ri->id_value = from_kuid_munged(ns, r->uid);
	else if (r->who == EVBUS_WHO_GID)
		ri->id_value = from_kgid_munged(ns, r->gid);
	ri->pattern_len = r->pattern_len;
	memcpy(ri->pattern, r->pattern, r->pattern_len);
}

/* Anyone on the bus may read its policy: rules from start_id, in id order. */
long evbus_ioctl_policy_list(struct evbus_file *ef, void __user *argp)
{
	struct evbus_policy *pol = &ef->bus->policy;
	struct evbus_rule_info __user *out;
	struct evbus_policy_list pl;
	struct evbus_policy_rule *r;
	struct evbus_rule_info *ri;
	u32 n = 0;
	int ret;

	if (copy_from_user(&pl, argp, sizeof(pl)))
		return -EFAULT;
	if (pl.flags || pl.reserved)
		return -EINVAL;
	ri = kmalloc(sizeof(*ri), GFP_KERNEL_ACCOUNT);
	if (!ri)
		return -ENOMEM;
	out = u64_to_user_ptr(pl.rules);
	ret = mutex_lock_killable(&pol->lock);
	if (ret)
		goto out_free;
	list_for_each_entry(r, &pol->rules, link) {
		if (n == pl.count)
			break;
		if (r->id < pl.start_id)
			continue;
		evbus_rule_info(r, ri);
		if (copy_to_user(&out[n], ri, sizeof(*ri))) {
			ret = -EFAULT;
			break;
		}
		n++;
	}
	pl.count = n;
	pl.total = pol->nr_rules;
	pl.policy_default = pol->deflt;
	mutex_unlock(&pol->lock);
	if (!ret && copy_to_user(argp, &pl, sizeof(pl)))
		ret = -EFAULT;
out_free:
	kfree(ri);
	return ret;
}
