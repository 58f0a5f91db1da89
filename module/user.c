// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user caps: how many evbus files one user (by effective uid at open)
 * may hold open, and how much ring memory they may pin.  Ring memory is
 * also charged to the opener's memory cgroup (GFP_KERNEL_ACCOUNT); these
 * caps bound what one user can take from everybody else on a host without
 * memory cgroups.
 */
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/cred.h>

#include "evbus.h"

struct evbus_user {
	struct hlist_node node;		/* evbus_users, evbus_users_lock */
	kuid_t uid;
	unsigned int files;		/* evbus_users_lock */
	u64 ring_bytes;			/* evbus_users_lock */
};

static DEFINE_HASHTABLE(evbus_users, 6);
static DEFINE_SPINLOCK(evbus_users_lock);	/* the table and every user */

static struct evbus_user *evbus_user_find(kuid_t uid)
{
	struct evbus_user *u;

	lockdep_assert_held(&evbus_users_lock);
	hash_for_each_possible(evbus_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Count one more open file for the caller's euid: 0, -EMFILE or -ENOMEM. */
int evbus_user_get(struct evbus_file *ef, unsigned int max_files)
{
	kuid_t uid = current_euid();
	struct evbus_user *u, *fresh;
	int ret = 0;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return -ENOMEM;
	spin_lock(&evbus_users_lock);
	u = evbus_user_find(uid);
	if (!u) {
		u = fresh;
		fresh = NULL;
		u->uid = uid;
		hash_add(evbus_users, &u->node, __kuid_val(uid));
	}
	if (u->files >= max_files) {
		ret = -EMFILE;
		if (!u->files && !u->ring_bytes) {
			hash_del(&u->node);
			fresh = u;
		}
	} else {
		u->files++;
		ef->user = u;
	}
	spin_unlock(&evbus_users_lock);
	kfree(fresh);
	return ret;
}

void evbus_user_put(struct evbus_file *ef)
{
	struct evbus_user *u = ef->user, *gone = NULL;

	spin_lock(&evbus_users_lock);
	if (!--u->files && !u->ring_bytes) {
		hash_del(&u->node);
		gone = u;
	}
	spin_unlock(&evbus_users_lock);
	kfree(gone);
}

/* Reserve ring memory against the user's cap: 0 or -EDQUOT. */
int evbus_user_charge(struct evbus_file *ef, u64 bytes, u64 max_bytes)
{
	struct evbus_user *u = ef->user;
	int ret = 0;

	spin_lock(&evbus_users_lock);
	if (u->ring_bytes + bytes > max_bytes)
		ret = -EDQUOT;
	else
		u->ring_bytes += bytes;
	spin_unlock(&evbus_users_lock);
	return ret;
}

void evbus_user_uncharge(struct evbus_file *ef, u64 bytes)
{
	struct evbus_user *u = ef->user;

	spin_lock(&evbus_users_lock);
	WARN_ON_ONCE(u->ring_bytes < bytes);
	u->ring_bytes -= bytes;
	spin_unlock(&evbus_users_lock);
}
