// SPDX-License-Identifier: GPL-2.0
/*
 * evbus scoped handles: EVBUS_IOC_NARROW.
 *
 * A file starts unscoped: it may do whatever the policy allows its
 * opener.  Narrowing gives it two sets of at most EVBUS_SCOPE_MAX patterns,
 * one for publishing and one for subscribing, and can only ever shrink
 * them: each new pattern must lie within a pattern the file already has
 * for that right.  The scope belongs to the open file, not to a process,
 * so it holds for whoever the descriptor is passed to.
 *
 * A scope is immutable: narrowing builds a new one and swaps the pointer
 * under evbus_file.lock; checks read it under RCU.  A publish check is
 * O(patterns x topic length), a subscribe check O(patterns x segments).
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>

#include "evbus.h"

#define EVBUS_SCOPE_VALID	(EVBUS_SCOPE_KEEP_PUBLISH | EVBUS_SCOPE_KEEP_SUBSCRIBE)

static bool evbus_set_contains(const struct evbus_scope_pat *set, u32 n,
			       const char *p, const struct evbus_segs *segs)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (evbus_pattern_within(p, segs, set[i].text, &set[i].segs))
			return true;
	return false;
}

bool evbus_scope_may_publish(struct evbus_file *ef, const char *topic, u32 len)
{
	struct evbus_file_scope *sc;
	bool ok = true;
	u32 i;

	rcu_read_lock();
	sc = rcu_dereference(ef->scope);
	if (sc && !sc->all_pub) {
		ok = false;
		for (i = 0; i < sc->n_pub && !ok; i++)
			ok = evbus_pattern_match(sc->pat[i].text, sc->pat[i].len,
						 topic, len);
	}
	rcu_read_unlock();
	return ok;
}

bool evbus_scope_may_subscribe(struct evbus_file *ef, const char *pattern,
			       const struct evbus_segs *segs)
{
	struct evbus_file_scope *sc;
	bool ok = true;

	rcu_read_lock();
	sc = rcu_dereference(ef->scope);
	if (sc && !sc->all_sub)
		ok = evbus_set_contains(sc->pat + sc->n_pub, sc->n_sub, pattern,
					segs);
	rcu_read_unlock();
	return ok;
}

/* Copy n patterns from userspace into pat[]: 0, -EFAULT or -EINVAL. */
static int evbus_scope_copy(struct evbus_scope_pat *pat, u64 uptr, u32 n)
{
	const struct evbus_pattern __user *up = u64_to_user_ptr(uptr);
	struct evbus_pattern p;
	u32 i;

	for (i = 0; i < n; i++) {
		if (copy_from_user(&p, &up[i], sizeof(p)))
			return -EFAULT;
		if (p.reserved || !p.len || p.len > EVBUS_TOPIC_MAX)
			return -EINVAL;
		if (copy_from_user(pat[i].text, u64_to_user_ptr(p.ptr), p.len))
			return -EFAULT;
		pat[i].len = p.len;
		if (evbus_pattern_parse(pat[i].text, p.len, &pat[i].segs))
			return -EINVAL;
	}
	return 0;
}

/* Is a set of the old scope everything (or is there no old scope)? */
static bool evbus_scope_all(const struct evbus_file_scope *old, bool pub)
{
	return !old || (pub ? old->all_pub : old->all_sub);
}

/* Is every pattern of the new set within the old one's set for the right? */
static bool evbus_scope_narrower(const struct evbus_file_scope *old, bool pub,
				 const struct evbus_scope_pat *set, u32 n)
{
	const struct evbus_scope_pat *o;
	u32 i, on;

	if (evbus_scope_all(old, pub))
		return true;
	o = old->pat + (pub ? 0 : old->n_pub);
	on = pub ? old->n_pub : old->n_sub;
	for (i = 0; i < n; i++)
		if (!evbus_set_contains(o, on, set[i].text, &set[i].segs))
			return false;
	return true;
}

/* Every subscription the file holds must stay within the new scope. */
static bool evbus_scope_fits_subs(struct evbus_file *ef,
				  const struct evbus_file_scope *sc)
{
	struct evbus_sub_entry *sub;
	struct evbus_segs segs;
	unsigned long id;

	lockdep_assert_held(&ef->lock);
	if (sc->all_sub)
		return true;
	xa_for_each(&ef->subs, id, sub) {
		if (evbus_pattern_parse(sub->pattern, sub->pattern_len, &segs) ||
		    !evbus_set_contains(sc->pat + sc->n_pub, sc->n_sub,
					sub->pattern, &segs))
			return false;
	}
	return true;
}

/* The set of the old scope a new one keeps, or NULL for everything. */
static const struct evbus_scope_pat *
evbus_scope_kept(const struct evbus_file_scope *old, bool pub, u32 *n)
{
	*n = 0;
	if (evbus_scope_all(old, pub))
		return NULL;
	*n = pub ? old->n_pub : old->n_sub;
	return old->pat + (pub ? 0 : old->n_pub);
}

/* Build the new scope from the request and the old scope (NULL: none). */
static struct evbus_file_scope *evbus_scope_build(const struct evbus_scope *us,
						  const struct evbus_file_scope *old)
{
	bool keep_pub = us->flags & EVBUS_SCOPE_KEEP_PUBLISH;
	bool keep_sub = us->flags & EVBUS_SCOPE_KEEP_SUBSCRIBE;
	const struct evbus_scope_pat *kp = NULL, *ks = NULL;
	u32 n_pub = us->n_publish, n_sub = us->n_subscribe;
	struct evbus_file_scope *sc;
	int ret = 0;

	if (keep_pub)
		kp = evbus_scope_kept(old, true, &n_pub);
	if (keep_sub)
		ks = evbus_scope_kept(old, false, &n_sub);
	sc = kzalloc(struct_size(sc, pat, n_pub + n_sub), EVBUS_GFP);
	if (!sc)
		return ERR_PTR(-ENOMEM);
	sc->n_pub = n_pub;
	sc->n_sub = n_sub;
	sc->all_pub = keep_pub && !kp;
	sc->all_sub = keep_sub && !ks;
	if (keep_pub)
		memcpy(sc->pat, kp, n_pub * sizeof(*kp));
	else
		ret = evbus_scope_copy(sc->pat, us->publish, n_pub);
	if (!ret && keep_sub)
		memcpy(sc->pat + n_pub, ks, n_sub * sizeof(*ks));
	else if (!ret)
		ret = evbus_scope_copy(sc->pat + n_pub, us->subscribe, n_sub);
	if (!ret && (!evbus_scope_narrower(old, true, sc->pat, n_pub) ||
		     !evbus_scope_narrower(old, false, sc->pat + n_pub, n_sub)))
		ret = -EACCES;
	if (ret) {
		kfree(sc);
		return ERR_PTR(ret);
	}
	return sc;
}

long evbus_ioctl_narrow(struct evbus_file *ef, void __user *argp)
{
	struct evbus_file_scope *sc, *old;
	struct evbus_scope us;
	int ret;

	if (copy_from_user(&us, argp, sizeof(us)))
		return -EFAULT;
	if ((us.flags & ~EVBUS_SCOPE_VALID) || us.reserved ||
	    us.n_publish > EVBUS_SCOPE_MAX || us.n_subscribe > EVBUS_SCOPE_MAX ||
	    ((us.flags & EVBUS_SCOPE_KEEP_PUBLISH) && us.n_publish) ||
	    ((us.flags & EVBUS_SCOPE_KEEP_SUBSCRIBE) && us.n_subscribe))
		return -EINVAL;
	ret = mutex_lock_killable(&ef->lock);
	if (ret)
		return ret;
	old = rcu_dereference_protected(ef->scope, lockdep_is_held(&ef->lock));
	sc = evbus_scope_build(&us, old);
	if (IS_ERR(sc)) {
		ret = PTR_ERR(sc);
		goto out_unlock;
	}
	if (!evbus_scope_fits_subs(ef, sc)) {
		kfree(sc);
		ret = -EBUSY;
		goto out_unlock;
	}
	rcu_assign_pointer(ef->scope, sc);
	if (old)
		kfree_rcu(old, rcu);
out_unlock:
	mutex_unlock(&ef->lock);
	return ret;
}

void evbus_scope_show(struct seq_file *m, struct evbus_file *ef)
{
	struct evbus_file_scope *sc;
	u32 i;

	sc = rcu_dereference_protected(ef->scope, lockdep_is_held(&ef->lock));
	if (!sc)
		return;
	if (sc->all_pub)
		seq_puts(m, "evbus-scope:\tpublish (unscoped)\n");
	if (sc->all_sub)
		seq_puts(m, "evbus-scope:\tsubscribe (unscoped)\n");
	for (i = 0; i < sc->n_pub + sc->n_sub; i++)
		seq_printf(m, "evbus-scope:\t%s %.*s\n",
			   i < sc->n_pub ? "publish" : "subscribe",
			   (int)sc->pat[i].len, sc->pat[i].text);
	if (!sc->n_pub && !sc->all_pub)
		seq_puts(m, "evbus-scope:\tpublish (none)\n");
	if (!sc->n_sub && !sc->all_sub)
		seq_puts(m, "evbus-scope:\tsubscribe (none)\n");
}

/* The file is freed: nobody reads its scope any more. */
void evbus_scope_free(struct evbus_file *ef)
{
	kfree(rcu_dereference_protected(ef->scope, true));
}
