// SPDX-License-Identifier: GPL-2.0
/*
 * evbus counters, one value per file in /sys/kernel/evbus/stats/: totals
 * over every bus.
 *
 * Counters that move on the publish and read paths are per-CPU and summed
 * when read, so the hot paths never share a cache line.  Gauges (queued
 * events and bytes) are per-CPU deltas too: one CPU's part can be negative,
 * the sum cannot.  Ring memory changes only on ring setup and close, is
 * not a bus's, and is a plain atomic.
 */
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/percpu.h>
#include <linux/atomic.h>
#include <linux/uaccess.h>

#include "evbus.h"

static atomic64_t evbus_ring_bytes = ATOMIC64_INIT(0);
static atomic64_t evbus_ring_bytes_max = ATOMIC64_INIT(0);
static struct kobject *evbus_kobj;

/*
 * Every bus's counters, and what buses that are gone left behind: the
 * sysfs files are totals over all of them.
 */
static LIST_HEAD(evbus_buses);
static DEFINE_MUTEX(evbus_buses_lock);	/* the list and evbus_retired */
static struct evbus_pcpu_stats evbus_retired;

#define EVBUS_NR_STATS	(sizeof(struct evbus_pcpu_stats) / sizeof(s64))

void evbus_stats_add_bus(struct evbus_bus *bus)
{
	mutex_lock(&evbus_buses_lock);
	list_add_tail(&bus->link, &evbus_buses);
	mutex_unlock(&evbus_buses_lock);
}

static s64 evbus_bus_sum(struct evbus_bus *bus, size_t off)
{
	s64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *(s64 *)((char *)per_cpu_ptr(bus->stats, cpu) + off);
	return sum;
}

s64 evbus_bus_replayed(struct evbus_bus *bus)
{
	return evbus_bus_sum(bus, offsetof(struct evbus_pcpu_stats, replayed));
}

/* The bus is going: keep its counters in the totals. */
void evbus_stats_del_bus(struct evbus_bus *bus)
{
	size_t i;

	mutex_lock(&evbus_buses_lock);
	list_del(&bus->link);
	for (i = 0; i < EVBUS_NR_STATS; i++)
		((s64 *)&evbus_retired)[i] += evbus_bus_sum(bus, i * sizeof(s64));
	mutex_unlock(&evbus_buses_lock);
}

/* The total of one counter over every bus, live or gone. */
static s64 evbus_sum(size_t off)
{
	struct evbus_bus *bus;
	s64 sum;

	mutex_lock(&evbus_buses_lock);
	sum = *(s64 *)((char *)&evbus_retired + off);
	list_for_each_entry(bus, &evbus_buses, link)
		sum += evbus_bus_sum(bus, off);
	mutex_unlock(&evbus_buses_lock);
	return sum;
}

void evbus_stats_ring_alloc(s64 bytes)
{
	s64 now = atomic64_add_return(bytes, &evbus_ring_bytes);
	s64 max = atomic64_read(&evbus_ring_bytes_max);

	while (now > max) {
		s64 old = atomic64_cmpxchg(&evbus_ring_bytes_max, max, now);

		if (old == max)
			break;
		max = old;
	}
}

void evbus_stats_ring_free(s64 bytes)
{
	atomic64_sub(bytes, &evbus_ring_bytes);
}

/* A failed publish or batch: count it by cause. */
void evbus_stats_publish_error(struct evbus_bus *bus, int err)
{
	struct evbus_pcpu_stats __percpu *st = bus->stats;

	switch (err) {
	case -EINVAL:
		evbus_count(st, publish_err_einval, 1);
		break;
	case -EFAULT:
		evbus_count(st, publish_err_efault, 1);
		break;
	case -EMSGSIZE:
		evbus_count(st, publish_err_emsgsize, 1);
		break;
	case -ENOMEM:
		evbus_count(st, publish_err_enomem, 1);
		break;
	case -EBADF:
		evbus_count(st, publish_err_ebadf, 1);
		break;
	default:
		evbus_count(st, publish_err_other, 1);
		break;
	}
}

/*
 * The one place a call's failure is counted: ret is what an ioctl or
 * io_uring command returns, fail the errno of a failed publish (or 0).
 */
void evbus_stats_call_error(struct evbus_bus *bus, long ret, int fail)
{
	if (fail)
		evbus_stats_publish_error(bus, fail);
	if (ret < 0 && ret != -ENOIOCTLCMD)
		evbus_count(bus->stats, ioctl_errors, 1);
}

#define EVBUS_BUS_SUM(bus, f) \
	((u64)evbus_bus_sum(bus, offsetof(struct evbus_pcpu_stats, f)))

/* EVBUS_IOC_BUS_STATS: the caller's bus, size-versioned. */
long evbus_ioctl_bus_stats(struct evbus_bus *bus, void __user *argp)
{
	struct evbus_bus_stats bs = {};
	u32 size, flags;

	if (get_user(size, (u32 __user *)argp) ||
	    get_user(flags, (u32 __user *)(argp + sizeof(u32))))
		return -EFAULT;
	if (size < EVBUS_BUS_STATS_SIZE_VER0 || flags)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	bs.size = min_t(u32, size, sizeof(bs));
	bs.bus_id = bus->id;
	bs.ipc_ns = bus->ipc_inum;
	spin_lock(&bus->order_lock);
	bs.seq = bus->seq;
	spin_unlock(&bus->order_lock);
	bs.published = EVBUS_BUS_SUM(bus, published);
	bs.published_bytes = EVBUS_BUS_SUM(bus, published_bytes);
	bs.deliveries = EVBUS_BUS_SUM(bus, deliveries);
	bs.lost = EVBUS_BUS_SUM(bus, lost);
	bs.read_events = EVBUS_BUS_SUM(bus, read_events);
	bs.read_bytes = EVBUS_BUS_SUM(bus, read_bytes);
	bs.lag_records = EVBUS_BUS_SUM(bus, lag_records);
	bs.queued_events = EVBUS_BUS_SUM(bus, queued_events);
	bs.queued_bytes = EVBUS_BUS_SUM(bus, queued_bytes);
	bs.discarded = EVBUS_BUS_SUM(bus, discarded);
	bs.subscriptions = EVBUS_BUS_SUM(bus, subscriptions);
	bs.open_files = EVBUS_BUS_SUM(bus, open_files);
	bs.filtered = EVBUS_BUS_SUM(bus, filtered);
	bs.denied_rule = EVBUS_BUS_SUM(bus, denied_rule);
	bs.denied_default = EVBUS_BUS_SUM(bus, denied_default);
	bs.denied_scope = EVBUS_BUS_SUM(bus, denied_scope);
	bs.denied_reserved = EVBUS_BUS_SUM(bus, denied_reserved);
	bs.revoked = EVBUS_BUS_SUM(bus, revoked);
	bs.policy_rules = READ_ONCE(bus->policy.nr_rules);
	bs.policy_default = READ_ONCE(bus->policy.deflt);
	bs.approval_asked = EVBUS_BUS_SUM(bus, approval_asked);
	bs.approval_requests = EVBUS_BUS_SUM(bus, approval_requests);
	bs.approval_allowed = EVBUS_BUS_SUM(bus, approval_allowed);
	bs.approval_modified = EVBUS_BUS_SUM(bus, approval_modified);
	bs.approval_denied = EVBUS_BUS_SUM(bus, approval_denied);
	bs.approval_expired = EVBUS_BUS_SUM(bus, approval_expired);
	bs.approval_gone = EVBUS_BUS_SUM(bus, approval_gone);
	bs.approval_full = EVBUS_BUS_SUM(bus, approval_full);
	bs.approval_withdrawn = EVBUS_BUS_SUM(bus, approval_withdrawn);
	bs.approval_nobody = EVBUS_BUS_SUM(bus, approval_nobody);
	bs.approvers = EVBUS_BUS_SUM(bus, approvers);
	bs.approval_pending = EVBUS_BUS_SUM(bus, approval_pending);
	bs.rate_refused_file = EVBUS_BUS_SUM(bus, rate_refused_file);
	bs.rate_refused_user = EVBUS_BUS_SUM(bus, rate_refused_user);
	bs.rate_waited = EVBUS_BUS_SUM(bus, rate_waited);
	bs.rate_wait_ns = EVBUS_BUS_SUM(bus, rate_wait_ns);
	bs.rate_interrupted = EVBUS_BUS_SUM(bus, rate_interrupted);
	bs.rate_users = EVBUS_BUS_SUM(bus, rate_users);
	bs.lossless_waits = EVBUS_BUS_SUM(bus, lossless_waits);
	bs.lossless_wait_ns = EVBUS_BUS_SUM(bus, lossless_wait_ns);
	bs.lossless_expired = EVBUS_BUS_SUM(bus, lossless_expired);
	bs.lossless_foreign = EVBUS_BUS_SUM(bus, lossless_foreign);
	/* A newer caller's tail we do not know about reads as zeroes. */
	if (size > sizeof(bs) &&
	    clear_user(argp + sizeof(bs), size - sizeof(bs)))
		return -EFAULT;
	return copy_to_user(argp, &bs, min_t(u32, size, sizeof(bs))) ? -EFAULT : 0;
}

struct evbus_stat_attr {
	struct kobj_attribute attr;
	size_t off;			/* in struct evbus_pcpu_stats */
};

static ssize_t evbus_stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	struct evbus_stat_attr *sa = container_of(attr, struct evbus_stat_attr, attr);

	return sysfs_emit(buf, "%lld\n", evbus_sum(sa->off));
}

#define EVBUS_STAT(_name)						\
	static struct evbus_stat_attr evbus_attr_##_name = {		\
		.attr = __ATTR(_name, 0444, evbus_stat_show, NULL),	\
		.off = offsetof(struct evbus_pcpu_stats, _name),	\
	}

EVBUS_STAT(published);
EVBUS_STAT(published_bytes);
EVBUS_STAT(deliveries);
EVBUS_STAT(lost);
EVBUS_STAT(read_events);
EVBUS_STAT(read_bytes);
EVBUS_STAT(lag_records);
EVBUS_STAT(queued_events);
EVBUS_STAT(queued_bytes);
EVBUS_STAT(discarded);
EVBUS_STAT(subscriptions);
EVBUS_STAT(open_files);
EVBUS_STAT(publish_err_einval);
EVBUS_STAT(publish_err_efault);
EVBUS_STAT(publish_err_emsgsize);
EVBUS_STAT(publish_err_enomem);
EVBUS_STAT(publish_err_ebadf);
EVBUS_STAT(publish_err_other);
EVBUS_STAT(ioctl_errors);
EVBUS_STAT(filtered);
EVBUS_STAT(denied_rule);
EVBUS_STAT(denied_default);
EVBUS_STAT(denied_scope);
EVBUS_STAT(denied_reserved);
EVBUS_STAT(revoked);
EVBUS_STAT(replayed);
EVBUS_STAT(approval_asked);
EVBUS_STAT(approval_requests);
EVBUS_STAT(approval_allowed);
EVBUS_STAT(approval_modified);
EVBUS_STAT(approval_denied);
EVBUS_STAT(approval_expired);
EVBUS_STAT(approval_gone);
EVBUS_STAT(approval_full);
EVBUS_STAT(approval_withdrawn);
EVBUS_STAT(approval_nobody);
EVBUS_STAT(approvers);
EVBUS_STAT(approval_pending);
EVBUS_STAT(wills);
EVBUS_STAT(wills_fired);
EVBUS_STAT(rate_refused_file);
EVBUS_STAT(rate_refused_user);
EVBUS_STAT(rate_waited);
EVBUS_STAT(rate_wait_ns);
EVBUS_STAT(rate_interrupted);
EVBUS_STAT(rate_users);
EVBUS_STAT(lossless_waits);
EVBUS_STAT(lossless_wait_ns);
EVBUS_STAT(lossless_expired);
EVBUS_STAT(lossless_foreign);

static ssize_t buses_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	struct evbus_bus *bus;
	unsigned int n = 0;

	mutex_lock(&evbus_buses_lock);
	list_for_each_entry(bus, &evbus_buses, link)
		n++;
	mutex_unlock(&evbus_buses_lock);
	return sysfs_emit(buf, "%u\n", n);
}

static ssize_t ring_bytes_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&evbus_ring_bytes));
}

static ssize_t ring_bytes_max_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&evbus_ring_bytes_max));
}

static struct kobj_attribute evbus_attr_ring_bytes = __ATTR_RO(ring_bytes);
static struct kobj_attribute evbus_attr_ring_bytes_max = __ATTR_RO(ring_bytes_max);
static struct kobj_attribute evbus_attr_buses = __ATTR_RO(buses);

static struct attribute *evbus_stat_attrs[] = {
	&evbus_attr_published.attr.attr,
	&evbus_attr_published_bytes.attr.attr,
	&evbus_attr_deliveries.attr.attr,
	&evbus_attr_lost.attr.attr,
	&evbus_attr_read_events.attr.attr,
	&evbus_attr_read_bytes.attr.attr,
	&evbus_attr_lag_records.attr.attr,
	&evbus_attr_queued_events.attr.attr,
	&evbus_attr_queued_bytes.attr.attr,
	&evbus_attr_discarded.attr.attr,
	&evbus_attr_subscriptions.attr.attr,
	&evbus_attr_open_files.attr.attr,
	&evbus_attr_publish_err_einval.attr.attr,
	&evbus_attr_publish_err_efault.attr.attr,
	&evbus_attr_publish_err_emsgsize.attr.attr,
	&evbus_attr_publish_err_enomem.attr.attr,
	&evbus_attr_publish_err_ebadf.attr.attr,
	&evbus_attr_publish_err_other.attr.attr,
	&evbus_attr_ioctl_errors.attr.attr,
	&evbus_attr_filtered.attr.attr,
	&evbus_attr_denied_rule.attr.attr,
	&evbus_attr_denied_default.attr.attr,
	&evbus_attr_denied_scope.attr.attr,
	&evbus_attr_denied_reserved.attr.attr,
	&evbus_attr_revoked.attr.attr,
	&evbus_attr_replayed.attr.attr,
	&evbus_attr_approval_asked.attr.attr,
	&evbus_attr_approval_requests.attr.attr,
	&evbus_attr_approval_allowed.attr.attr,
	&evbus_attr_approval_modified.attr.attr,
	&evbus_attr_approval_denied.attr.attr,
	&evbus_attr_approval_expired.attr.attr,
	&evbus_attr_approval_gone.attr.attr,
	&evbus_attr_approval_full.attr.attr,
	&evbus_attr_approval_withdrawn.attr.attr,
	&evbus_attr_approval_nobody.attr.attr,
	&evbus_attr_approvers.attr.attr,
	&evbus_attr_approval_pending.attr.attr,
	&evbus_attr_wills.attr.attr,
	&evbus_attr_wills_fired.attr.attr,
	&evbus_attr_rate_refused_file.attr.attr,
	&evbus_attr_rate_refused_user.attr.attr,
	&evbus_attr_rate_waited.attr.attr,
	&evbus_attr_rate_wait_ns.attr.attr,
	&evbus_attr_rate_interrupted.attr.attr,
	&evbus_attr_rate_users.attr.attr,
	&evbus_attr_lossless_waits.attr.attr,
	&evbus_attr_lossless_wait_ns.attr.attr,
	&evbus_attr_lossless_expired.attr.attr,
	&evbus_attr_lossless_foreign.attr.attr,
	&evbus_attr_buses.attr,
	&evbus_attr_ring_bytes.attr,
	&evbus_attr_ring_bytes_max.attr,
	NULL,
};

static const struct attribute_group evbus_stat_group = {
	.name = "stats",
	.attrs = evbus_stat_attrs,
};

int evbus_stats_init(void)
{
	int ret;

	evbus_kobj = kobject_create_and_add("evbus", kernel_kobj);
	if (!evbus_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(evbus_kobj, &evbus_stat_group);
	if (ret)
		kobject_put(evbus_kobj);
	return ret;
}

void evbus_stats_exit(void)
{
	sysfs_remove_group(evbus_kobj, &evbus_stat_group);
	kobject_put(evbus_kobj);
}
