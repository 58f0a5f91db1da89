// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user caps: open files, subscriptions, ring memory and buses.
 *
 * As the kernel's ucounts do for inotify instances, a user is a (user
 * namespace, kuid) pair, and what a file holds is charged at every level
 * from the opener's namespace up to the initial one: to (ns, euid), then to
 * (ns->parent, ns->owner), and so on.  Every level enforces the same cap
 * (the module parameter), so whoever creates a user namespace and maps
 * subordinate uids into it shares their own cap with everything inside.
 * The caps bound what one user can take from everybody else on a host
 * without memory cgroups; every allocation is charged to a memcg as well.
 *
 * An evbus_user is held by each file opened under it and by each child
 * level; it is freed with its last holder.  evbus_users_lock protects the
 * table, every refs and every count; the work under it is O(depth), and a
 * user namespace is at most 32 levels deep.
 */
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/cred.h>
#include <linux/user_namespace.h>

#include "evbus.h"

struct evbus_user {
	struct hlist_node node;		/* evbus_users */
	struct user_namespace *ns;	/* a reference */
	kuid_t uid;
	struct evbus_user *parent;	/* (ns->parent, ns->owner); NULL at top */
	unsigned int refs;
	u64 count[EVBUS_UC_COUNT];
	struct list_head buses;		/* top level: evbus_bus.user_link, bus.c's lock */
};

static DEFINE_HASHTABLE(evbus_users, 8);
static DEFINE_SPINLOCK(evbus_users_lock);

static u32 evbus_user_hash(const struct user_namespace *ns, kuid_t uid)
{
	return hash_ptr(ns, 32) ^ __kuid_val(uid);
}

static struct evbus_user *evbus_user_find(struct user_namespace *ns, kuid_t uid)
{
	struct evbus_user *u;

	lockdep_assert_held(&evbus_users_lock);
	hash_for_each_possible(evbus_users, u, node, evbus_user_hash(ns, uid))
		if (u->ns == ns && uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/*
 * The account at the top of u's namespaces: whom a rate limit counts
 * (rate.c), so that namespaces cannot multiply it.
 */
kuid_t evbus_user_account(const struct evbus_user *u)
{
	while (u->parent)
		u = u->parent;
	return u->uid;
}

/* Drop one reference on u and, for each level that goes, on its parent. */
void evbus_user_put(struct evbus_user *u)
{
	while (u) {
		struct evbus_user *parent = u->parent;
		bool gone;

		spin_lock(&evbus_users_lock);
		gone = !--u->refs;
		if (gone)
			hash_del(&u->node);
		spin_unlock(&evbus_users_lock);
		if (!gone)
			return;
		WARN_ON_ONCE(memchr_inv(u->count, 0, sizeof(u->count)));
		put_user_ns(u->ns);
		kfree(u);
		u = parent;
	}
}

/* The user (ns, uid) with a reference, created with its ancestors if new. */
static struct evbus_user *evbus_user_lookup(struct user_namespace *ns, kuid_t uid)
{
	struct evbus_user *u, *parent = NULL, *fresh;

	spin_lock(&evbus_users_lock);
	u = evbus_user_find(ns, uid);
	if (u)
		u->refs++;
	spin_unlock(&evbus_users_lock);
	if (u)
		return u;

	/* Bounded: namespaces nest at most 32 deep. */
	if (ns->parent) {
		parent = evbus_user_lookup(ns->parent, ns->owner);
		if (!parent)
			return NULL;
	}
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh) {
		evbus_user_put(parent);
		return NULL;
	}
	spin_lock(&evbus_users_lock);
	u = evbus_user_find(ns, uid);
	if (u) {
		u->refs++;	/* lost a race: the other one holds parent */
	} else {
		u = fresh;
		fresh = NULL;
		u->ns = get_user_ns(ns);
		u->uid = uid;
		u->parent = parent;
		parent = NULL;
		u->refs = 1;
		INIT_LIST_HEAD(&u->buses);
		hash_add(evbus_users, &u->node, evbus_user_hash(ns, uid));
	}
	spin_unlock(&evbus_users_lock);
	kfree(fresh);
	evbus_user_put(parent);
	return u;
}

/* The user a file opened with cred belongs to, or NULL (ENOMEM). */
struct evbus_user *evbus_user_get(const struct cred *cred)
{
	return evbus_user_lookup(cred->user_ns, cred->euid);
}

/*
 * The buses in bus.c's table (under its lock) charged to u's top-level
 * user, (initial user namespace, uid): every bus u or any user namespace
 * below it caused.  That level's max_user_buses bounds the list.
 */
struct list_head *evbus_user_buses(struct evbus_user *u)
{
	while (u->parent)	/* at most 32 levels */
		u = u->parent;
	return &u->buses;
}

/* Another holder of u (a bus it created). */
void evbus_user_get_ref(struct evbus_user *u)
{
	spin_lock(&evbus_users_lock);
	u->refs++;
	spin_unlock(&evbus_users_lock);
}

/* Charge n against max at every level: 0, or -EDQUOT with nothing charged. */
int evbus_user_charge(struct evbus_user *u, enum evbus_uc_type type,
		      u64 n, u64 max)
{
	struct evbus_user *i;
	int ret = 0;

	spin_lock(&evbus_users_lock);
	for (i = u; i; i = i->parent) {
		if (i->count[type] + n > max) {
			ret = -EDQUOT;
			goto out;
		}
	}
	for (i = u; i; i = i->parent)
		i->count[type] += n;
out:
	spin_unlock(&evbus_users_lock);
	return ret;
}

void evbus_user_uncharge(struct evbus_user *u, enum evbus_uc_type type, u64 n)
{
	struct evbus_user *i;

	spin_lock(&evbus_users_lock);
	for (i = u; i; i = i->parent) {
		WARN_ON_ONCE(i->count[type] < n);
		i->count[type] -= n;
	}
	spin_unlock(&evbus_users_lock);
}
