// SPDX-License-Identifier: GPL-2.0
/*
 * evbus buses and their limits.
 *
 * A bus is what publishers and subscribers meet on: its index, its
 * sequence counter, its policy, its counters.  A process reaches the bus
 * of its IPC namespace, as it reaches that namespace's POSIX message
 * queues: containers get their own bus, and processes sharing an IPC
 * namespace share one.
 *
 * Finding the namespace's bus.  A module can neither hold a reference on
 * an IPC namespace (put_ipc_ns() is not exported) nor be told when one
 * dies, and a namespace's address and inode number are reused once it is
 * freed.  But every IPC namespace has its own mqueue mount, and when the
 * namespace dies the kernel clears that mount's superblock s_fs_info
 * (mq_clear_sbinfo(), under mq_lock).  So a bus holds a reference on the
 * mount (mntget(), which keeps the mount and its superblock, not the
 * namespace), is keyed by it in a table (no other namespace can have that
 * mount while we hold it), and is known dead once s_fs_info is NULL.
 *
 * Lifetime.  A bus lives as long as its IPC namespace, and longer while a
 * file opened on it is still open: the table holds one reference, every
 * file one.  A collector (a delayed work, every EVBUS_GC_PERIOD) drops the
 * table's reference of buses whose namespace is gone.  The policy lives
 * and dies with its bus.  The bus is charged to the user who first opened
 * the device in the namespace (max_user_buses, EMFILE past it) and its
 * memory to that user's memory cgroup.  The charge counts what keeps a
 * bus in use, as max_user_files counts open files: it goes when the bus
 * has left the table and its last file is closed, even though the memory
 * follows a grace period later (publishers may still hold the files).  A
 * user at the cap has the buses of its dead namespaces taken out of the
 * table at once, so it is never refused for namespaces that are gone.
 *
 * The limits are module parameters, validated when written and read with
 * READ_ONCE() where used, so a change applies to the next call.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/nsproxy.h>
#include <linux/mount.h>
#include <linux/fs.h>
#include <linux/user_namespace.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "evbus.h"

struct evbus_limits evbus_limits = {
	.max_payload = SZ_64K,
	.ring_default = SZ_128K,
	.ring_min = SZ_4K,
	.ring_max = SZ_16M,
	.max_subs = 64,
	.max_user_files = 1024,
	.max_user_ring_bytes = SZ_256M,
	.max_user_subs = 8192,
	.max_user_buses = 64,
	.max_rules = 4096,
	.history_bytes = SZ_1M,
	.history_max = SZ_64M,
	.max_user_history_bytes = SZ_64M,
	.max_retained = 1024,
	.max_retained_bytes = SZ_4M,
	.max_user_retained = 256,
	.max_user_retained_bytes = SZ_1M,
	.approval_timeout_ms = 5000,
	.approval_max_ms = 30000,
	.max_approvers = 256,
	.max_user_approvers = 64,
	.max_user_asks = 256,
	.rate_wait_max_ms = 30000,
	.lossless_max_ms = 10000,
};

/* ------------------------------------------------------------ parameters */

static int evbus_param_set_payload(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_PAYLOAD_CEILING);
}

/* Ring sizes are powers of two, so a ring is never bigger than ring_max. */
static int evbus_param_set_ring(const char *val, const struct kernel_param *kp)
{
	struct evbus_limits *lim = &evbus_limits;
	unsigned int v, *p = kp->arg;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v < EVBUS_RING_FLOOR || v > EVBUS_RING_CEILING || !is_power_of_2(v))
		return -EINVAL;
	/* Writes are serialised by the module's parameter lock. */
	if ((p == &lim->ring_min && v > lim->ring_max) ||
	    (p == &lim->ring_max && v < lim->ring_min))
		return -EINVAL;
	WRITE_ONCE(*p, v);
	return 0;
}

static int evbus_param_set_subs(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, EVBUS_SUBS_CEILING);
}

static int evbus_param_set_user_files(const char *val,
				      const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 1U << 20);
}

static int evbus_param_set_user_ring(const char *val,
				     const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, EVBUS_RING_FLOOR, UINT_MAX);
}

static int evbus_param_set_user_subs(const char *val,
				     const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 1U << 20);
}

#define EVBUS_PARAM_OPS(_name, _set)				\
	static const struct kernel_param_ops _name = {		\
		.set = _set,					\
		.get = param_get_uint,				\
	}

EVBUS_PARAM_OPS(evbus_payload_ops, evbus_param_set_payload);
EVBUS_PARAM_OPS(evbus_ring_ops, evbus_param_set_ring);
EVBUS_PARAM_OPS(evbus_subs_ops, evbus_param_set_subs);
EVBUS_PARAM_OPS(evbus_user_files_ops, evbus_param_set_user_files);
EVBUS_PARAM_OPS(evbus_user_ring_ops, evbus_param_set_user_ring);
EVBUS_PARAM_OPS(evbus_user_subs_ops, evbus_param_set_user_subs);

static int evbus_param_set_user_buses(const char *val,
				      const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 1U << 16);
}

static int evbus_param_set_rules(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_RULES_CEILING);
}

EVBUS_PARAM_OPS(evbus_user_buses_ops, evbus_param_set_user_buses);
EVBUS_PARAM_OPS(evbus_rules_ops, evbus_param_set_rules);

static int evbus_param_set_history(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_HISTORY_CEILING);
}

static int evbus_param_set_retained(const char *val,
				    const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_RETAINED_CEILING);
}

static int evbus_param_set_bytes(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, UINT_MAX);
}

static int evbus_param_set_approval_ms(const char *val,
				       const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, EVBUS_APPROVAL_MS_CEILING);
}

static int evbus_param_set_approvers(const char *val,
				     const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_APPROVER_ID_MAX);
}

EVBUS_PARAM_OPS(evbus_approval_ms_ops, evbus_param_set_approval_ms);
EVBUS_PARAM_OPS(evbus_approvers_ops, evbus_param_set_approvers);
EVBUS_PARAM_OPS(evbus_history_ops, evbus_param_set_history);
EVBUS_PARAM_OPS(evbus_retained_ops, evbus_param_set_retained);
EVBUS_PARAM_OPS(evbus_bytes_ops, evbus_param_set_bytes);

module_param_cb(max_payload, &evbus_payload_ops, &evbus_limits.max_payload, 0644);
MODULE_PARM_DESC(max_payload, "Largest event payload in bytes (default 65536, at most 1 MiB)");
module_param_cb(ring_default, &evbus_ring_ops, &evbus_limits.ring_default, 0644);
MODULE_PARM_DESC(ring_default, "Ring size of a new subscriber in bytes, a power of two (default 131072)");
module_param_cb(ring_min, &evbus_ring_ops, &evbus_limits.ring_min, 0644);
MODULE_PARM_DESC(ring_min, "Smallest ring EVBUS_IOC_SET_RING accepts, a power of two (default 4096)");
module_param_cb(ring_max, &evbus_ring_ops, &evbus_limits.ring_max, 0644);
MODULE_PARM_DESC(ring_max, "Largest ring EVBUS_IOC_SET_RING accepts, a power of two (default 16 MiB, at most 256 MiB)");
module_param_cb(max_subs, &evbus_subs_ops, &evbus_limits.max_subs, 0644);
MODULE_PARM_DESC(max_subs, "Subscriptions per open file (default 64, at most 4096)");
module_param_cb(max_user_files, &evbus_user_files_ops, &evbus_limits.max_user_files, 0644);
MODULE_PARM_DESC(max_user_files, "Open evbus files per user (default 1024; EMFILE past it)");
module_param_cb(max_user_ring_bytes, &evbus_user_ring_ops, &evbus_limits.max_user_ring_bytes, 0644);
MODULE_PARM_DESC(max_user_ring_bytes, "Ring memory per user in bytes (default 256 MiB; EDQUOT past it)");
module_param_cb(max_user_subs, &evbus_user_subs_ops, &evbus_limits.max_user_subs, 0644);
MODULE_PARM_DESC(max_user_subs, "Subscriptions per user over all their files (default 8192; ENOSPC past it)");
module_param_cb(max_user_buses, &evbus_user_buses_ops, &evbus_limits.max_user_buses, 0644);
MODULE_PARM_DESC(max_user_buses, "Buses (IPC namespaces) a user may cause (default 64; EMFILE past it)");
module_param_cb(max_rules, &evbus_rules_ops, &evbus_limits.max_rules, 0644);
MODULE_PARM_DESC(max_rules, "Policy rules per bus (default 4096, at most 65536; ENOSPC past it)");
module_param_cb(history_bytes, &evbus_history_ops, &evbus_limits.history_bytes, 0644);
MODULE_PARM_DESC(history_bytes, "History of a new bus, bytes (default 1 MiB, rounded up to a power of two; 0: none; at most 256 MiB)");
module_param_cb(history_max, &evbus_history_ops, &evbus_limits.history_max, 0644);
MODULE_PARM_DESC(history_max, "Largest history a bus owner may set, bytes (default 64 MiB, at most 256 MiB)");
module_param_cb(max_user_history_bytes, &evbus_bytes_ops, &evbus_limits.max_user_history_bytes, 0644);
MODULE_PARM_DESC(max_user_history_bytes, "History bytes per user, over the buses it made or sized (default 64 MiB; EDQUOT past it)");
module_param_cb(max_retained, &evbus_retained_ops, &evbus_limits.max_retained, 0644);
MODULE_PARM_DESC(max_retained, "Retained values per bus (default 1024, at most 65536; ENOSPC past it)");
module_param_cb(max_retained_bytes, &evbus_bytes_ops, &evbus_limits.max_retained_bytes, 0644);
MODULE_PARM_DESC(max_retained_bytes, "Bytes of retained values per bus (default 4 MiB; ENOSPC past it)");
module_param_cb(max_user_retained, &evbus_retained_ops, &evbus_limits.max_user_retained, 0644);
MODULE_PARM_DESC(max_user_retained, "Retained values per user (default 256; ENOSPC past it)");
module_param_cb(max_user_retained_bytes, &evbus_bytes_ops, &evbus_limits.max_user_retained_bytes, 0644);
MODULE_PARM_DESC(max_user_retained_bytes, "Bytes of retained values per user (default 1 MiB; ENOSPC past it)");
module_param_cb(approval_timeout_ms, &evbus_approval_ms_ops, &evbus_limits.approval_timeout_ms, 0644);
MODULE_PARM_DESC(approval_timeout_ms, "Wait for approval when a publish gives no deadline, ms (default 5000)");
module_param_cb(approval_max_ms, &evbus_approval_ms_ops, &evbus_limits.approval_max_ms, 0644);
MODULE_PARM_DESC(approval_max_ms, "Longest wait for approval, ms (default 30000, at most 60000)");
module_param_cb(max_approvers, &evbus_approvers_ops, &evbus_limits.max_approvers, 0644);
MODULE_PARM_DESC(max_approvers, "Approvers per bus (default 256; ENOSPC past it)");
module_param_cb(max_user_approvers, &evbus_approvers_ops, &evbus_limits.max_user_approvers, 0644);
MODULE_PARM_DESC(max_user_approvers, "Approvers per user (default 64; ENOSPC past it)");
module_param_cb(max_user_asks, &evbus_approvers_ops, &evbus_limits.max_user_asks, 0644);
module_param_cb(rate_wait_max_ms, &evbus_approval_ms_ops, &evbus_limits.rate_wait_max_ms, 0644);
MODULE_PARM_DESC(rate_wait_max_ms, "Longest wait for rate tokens (EVBUS_PUB_WAIT), ms (default 30000, at most 60000)");
module_param_cb(lossless_max_ms, &evbus_approval_ms_ops, &evbus_limits.lossless_max_ms, 0644);
MODULE_PARM_DESC(lossless_max_ms, "Longest wait a lossless ring may make a publisher wait, ms (default 10000, at most 60000)");
MODULE_PARM_DESC(max_user_asks, "Publishes per user waiting for approval at once (default 256; EAGAIN past it)");

/*
 * The size a ring request gets: within ring_min..ring_max and a power of
 * two.  Both bounds are powers of two, so rounding up stays within them.
 */
u32 evbus_ring_size(const struct evbus_limits *lim, u32 want)
{
	/* At least a page: ring_min's default is 4 KiB on every arch. */
	u32 lo = max_t(u32, READ_ONCE(lim->ring_min), EVBUS_RING_FLOOR);

	return roundup_pow_of_two(clamp(want, lo,
					max_t(u32, lo, READ_ONCE(lim->ring_max))));
}

/* ------------------------------------------------------------------ bus */

#define EVBUS_GC_PERIOD		(5 * HZ)

/* Live buses by their namespace's mqueue mount. */
static DEFINE_HASHTABLE(evbus_bus_table, 8);
/* The table, evbus_nr_live, and each user's list of its buses in the table. */
static DEFINE_MUTEX(evbus_bus_lock);
static unsigned int evbus_nr_live;
static atomic64_t evbus_bus_ids = ATOMIC64_INIT(0);
static struct workqueue_struct *evbus_bus_wq;
static void evbus_bus_gc(struct work_struct *work);
static DECLARE_DELAYED_WORK(evbus_gc_work, evbus_bus_gc);

static bool evbus_bus_ns_dead(const struct evbus_bus *bus)
{
	/* Cleared under mq_lock when the namespace's last reference goes. */
	return !READ_ONCE(bus->mq_mnt->mnt_sb->s_fs_info);
}

static struct evbus_bus *evbus_bus_create(struct ipc_namespace *ns,
					  struct evbus_user *u)
{
	struct evbus_bus *bus;
	int ret = -ENOMEM;

	if (evbus_user_charge(u, EVBUS_UC_BUSES, 1,
			      READ_ONCE(evbus_limits.max_user_buses)))
		return ERR_PTR(-EMFILE);
	bus = kzalloc(sizeof(*bus), GFP_KERNEL_ACCOUNT);
	if (!bus)
		goto err_uncharge;
	bus->stats = alloc_percpu_gfp(struct evbus_pcpu_stats, GFP_KERNEL_ACCOUNT);
	if (!bus->stats)
		goto err_free_bus;
	if (evbus_index_init(&bus->index))
		goto err_free_stats;
	if (evbus_index_init(&bus->gate_index))
		goto err_free_index;
	if (evbus_policy_init(&bus->policy))
		goto err_free_gate;
	ret = evbus_hist_init(bus, u);
	if (ret)
		goto err_free_policy;
	refcount_set(&bus->ref, 1);
	atomic_set(&bus->holders, 1);	/* the table's */
	bus->id = atomic64_inc_return(&evbus_bus_ids);
	bus->ipc_inum = ns->ns.inum;
	bus->mq_mnt = mntget(ns->mq_mnt);
	bus->user_ns = get_user_ns(ns->user_ns);
	bus->creator = u;
	evbus_user_get_ref(u);
	bus->limits = &evbus_limits;
	mutex_init(&bus->files_lock);
	INIT_LIST_HEAD(&bus->files);
	mutex_init(&bus->index_lock);
	xa_init_flags(&bus->approver_ids, XA_FLAGS_ALLOC1);
	spin_lock_init(&bus->order_lock);
	evbus_rate_bus_init(bus);
	evbus_stats_add_bus(bus);
	return bus;

err_free_policy:
	evbus_policy_destroy(&bus->policy);
err_free_gate:
	evbus_index_destroy(&bus->gate_index);
err_free_index:
	evbus_index_destroy(&bus->index);
err_free_stats:
	free_percpu(bus->stats);
err_free_bus:
	kfree(bus);
err_uncharge:
	evbus_user_uncharge(u, EVBUS_UC_BUSES, 1);
	return ERR_PTR(ret);
}

/* The table or an open file lets go of the bus: the last one uncharges it. */
static void evbus_bus_unhold(struct evbus_bus *bus)
{
	if (atomic_dec_and_test(&bus->holders)) {
		evbus_user_uncharge(bus->creator, EVBUS_UC_BUSES, 1);
		evbus_hist_unhold(bus);
	}
}

/* Take a bus out of the table; the caller then drops the table's reference. */
static void evbus_bus_unhash(struct evbus_bus *bus)
{
	lockdep_assert_held(&evbus_bus_lock);
	hash_del(&bus->hnode);
	list_del(&bus->user_link);
	evbus_nr_live--;
	evbus_bus_unhold(bus);
}

/*
 * u is at max_user_buses: free the buses of its (top-level) user whose
 * namespace is gone now rather than at the collector's next pass, so that
 * a user whose containers come and go is not refused for a few seconds.
 * Bounded by that user's own cap.  Returns how many buses left the table.
 */
static int evbus_bus_reap_user(struct evbus_user *u)
{
	struct evbus_bus *bus, *tmp;
	int n = 0;

	lockdep_assert_held(&evbus_bus_lock);
	list_for_each_entry_safe(bus, tmp, evbus_user_buses(u), user_link) {
		if (!evbus_bus_ns_dead(bus))
			continue;
		evbus_bus_unhash(bus);	/* uncharged if no file is open on it */
		evbus_bus_put(bus);
		n++;
	}
	return n;
}

/*
 * The bus of the calling process's IPC namespace, with a reference;
 * created, and charged to u, if it has none yet.
 */
struct evbus_bus *evbus_bus_get_current(struct evbus_user *u)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct evbus_bus *bus;

	if (!ns->mq_mnt)
		return ERR_PTR(-EOPNOTSUPP);
	mutex_lock(&evbus_bus_lock);
	hash_for_each_possible(evbus_bus_table, bus, hnode,
			       (unsigned long)ns->mq_mnt) {
		if (bus->mq_mnt == ns->mq_mnt) {
			refcount_inc(&bus->ref);
			atomic_inc(&bus->holders);	/* the caller's file */
			goto out;
		}
	}
	bus = evbus_bus_create(ns, u);
	if (PTR_ERR_OR_ZERO(bus) == -EMFILE && evbus_bus_reap_user(u))
		bus = evbus_bus_create(ns, u);
	if (IS_ERR(bus)) {
		/* Dead namespaces' buses may be what holds the user back. */
		mod_delayed_work(evbus_bus_wq, &evbus_gc_work, 0);
		goto out;
	}
	hash_add(evbus_bus_table, &bus->hnode, (unsigned long)ns->mq_mnt);
	list_add(&bus->user_link, evbus_user_buses(u));
	refcount_inc(&bus->ref);
	atomic_inc(&bus->holders);	/* the table's, and the caller's */
	if (++evbus_nr_live == 2)
		mod_delayed_work(evbus_bus_wq, &evbus_gc_work, EVBUS_GC_PERIOD);
out:
	mutex_unlock(&evbus_bus_lock);
	return bus;
}

/* Drop a reference; the last one frees the bus (its files are all gone). */
void evbus_bus_put(struct evbus_bus *bus)
{
	if (!refcount_dec_and_test(&bus->ref))
		return;
	WARN_ON(!list_empty(&bus->files));
	evbus_rate_bus_destroy(bus);
	evbus_stats_del_bus(bus);	/* its counters join the retired totals */
	evbus_hist_destroy(bus);
	evbus_policy_destroy(&bus->policy);
	evbus_index_destroy(&bus->gate_index);
	xa_destroy(&bus->approver_ids);
	evbus_index_destroy(&bus->index);
	mutex_destroy(&bus->index_lock);
	mutex_destroy(&bus->files_lock);
	free_percpu(bus->stats);
	mntput(bus->mq_mnt);
	put_user_ns(bus->user_ns);
	evbus_user_put(bus->creator);
	kfree(bus);
}

/* Take the buses of dead namespaces out of the table. */
static void evbus_bus_gc(struct work_struct *work)
{
	struct evbus_bus *bus;
	struct hlist_node *tmp;
	HLIST_HEAD(dead);
	int bkt;

	mutex_lock(&evbus_bus_lock);
	hash_for_each_safe(evbus_bus_table, bkt, tmp, bus, hnode) {
		if (!evbus_bus_ns_dead(bus))
			continue;
		evbus_bus_unhash(bus);
		hlist_add_head(&bus->hnode, &dead);
	}
	if (evbus_nr_live > 1)
		mod_delayed_work(evbus_bus_wq, &evbus_gc_work, EVBUS_GC_PERIOD);
	mutex_unlock(&evbus_bus_lock);

	hlist_for_each_entry_safe(bus, tmp, &dead, hnode)
		evbus_bus_put(bus);
}

void evbus_bus_add_file(struct evbus_bus *bus, struct evbus_file *ef)
{
	mutex_lock(&bus->files_lock);
	list_add_tail(&ef->bus_link, &bus->files);
	mutex_unlock(&bus->files_lock);
}

/* The file is closed: it no longer holds the bus (its reference stays). */
void evbus_bus_del_file(struct evbus_bus *bus, struct evbus_file *ef)
{
	mutex_lock(&bus->files_lock);
	list_del(&ef->bus_link);
	mutex_unlock(&bus->files_lock);
	evbus_bus_unhold(bus);
}

/*
 * May this call change the bus's policy?  Its owner is whoever has
 * CAP_SYS_ADMIN in the user namespace owning the IPC namespace: the caller
 * and the file's opener both, and the file must not be scoped.
 */
bool evbus_bus_owner(struct evbus_bus *bus, struct file *file)
{
	struct evbus_file *ef = file->private_data;

	return !rcu_access_pointer(ef->scope) &&
	       file_ns_capable(file, bus->user_ns, CAP_SYS_ADMIN) &&
	       ns_capable(bus->user_ns, CAP_SYS_ADMIN);
}

int evbus_buses_init(struct workqueue_struct *wq)
{
	evbus_bus_wq = wq;
	return 0;
}

/* Module exit: no file is open, so dropping the table's refs frees all. */
void evbus_buses_exit(void)
{
	struct evbus_bus *bus;
	struct hlist_node *tmp;
	int bkt;

	cancel_delayed_work_sync(&evbus_gc_work);
	mutex_lock(&evbus_bus_lock);
	hash_for_each_safe(evbus_bus_table, bkt, tmp, bus, hnode) {
		evbus_bus_unhash(bus);
		evbus_bus_put(bus);
	}
	mutex_unlock(&evbus_bus_lock);
}
