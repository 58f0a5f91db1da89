// SPDX-License-Identifier: GPL-2.0
/*
 * evbus buses and their limits.
 *
 * A bus is what publishers and subscribers meet on: its index, its
 * sequence counter, its counters.  Every file holds a reference to the bus
 * it was opened on; the module holds one on the default bus.  Which bus a
 * process reaches is decided here, in evbus_bus_get_current(): for now
 * every process reaches the default bus.
 *
 * The limits are module parameters, validated when written and read with
 * READ_ONCE() where used, so a change applies to the next call.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>

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
};

static struct evbus_bus *evbus_default_bus;

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

/*
 * The size a ring request gets: within ring_min..ring_max and a power of
 * two.  Both bounds are powers of two, so rounding up stays within them.
 */
u32 evbus_ring_size(const struct evbus_limits *lim, u32 want)
{
	return roundup_pow_of_two(clamp(want, READ_ONCE(lim->ring_min),
					READ_ONCE(lim->ring_max)));
}

/* ------------------------------------------------------------------ bus */

static struct evbus_bus *evbus_bus_create(void)
{
	struct evbus_bus *bus;

	bus = kzalloc(sizeof(*bus), GFP_KERNEL_ACCOUNT);
	if (!bus)
		return NULL;
	bus->stats = alloc_percpu_gfp(struct evbus_pcpu_stats, GFP_KERNEL_ACCOUNT);
	if (!bus->stats)
		goto err_free_bus;
	if (evbus_index_init(&bus->index))
		goto err_free_stats;
	refcount_set(&bus->ref, 1);
	bus->limits = &evbus_limits;
	mutex_init(&bus->index_lock);
	spin_lock_init(&bus->order_lock);
	evbus_stats_add_bus(bus);
	return bus;

err_free_stats:
	free_percpu(bus->stats);
err_free_bus:
	kfree(bus);
	return NULL;
}

/* The bus the calling process reaches, with a reference. */
struct evbus_bus *evbus_bus_get_current(void)
{
	struct evbus_bus *bus = evbus_default_bus;

	refcount_inc(&bus->ref);
	return bus;
}

/* Drop a reference; the last one frees the bus (its files are all gone). */
void evbus_bus_put(struct evbus_bus *bus)
{
	if (!refcount_dec_and_test(&bus->ref))
		return;
	evbus_stats_del_bus(bus);	/* its counters join the retired totals */
	evbus_index_destroy(&bus->index);
	mutex_destroy(&bus->index_lock);
	free_percpu(bus->stats);
	kfree(bus);
}

int evbus_bus_init_default(void)
{
	evbus_default_bus = evbus_bus_create();
	return evbus_default_bus ? 0 : -ENOMEM;
}

void evbus_bus_exit_default(void)
{
	evbus_bus_put(evbus_default_bus);
	evbus_default_bus = NULL;
}
