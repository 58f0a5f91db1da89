// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * What a handle may do: narrowing its file to a scope, the topic policy of
 * its bus, and the bus's own counters.  Each call is one ioctl; the kernel
 * checks everything (patterns, owner, scope), the library only refuses
 * what it cannot even express.
 */
#include <string.h>

#include "internal.h"

/* Fill pats[] from n NUL-terminated strings; -EINVAL for a bad one. */
static int evbus_patterns(struct evbus_pattern *pats, const char *const *strs,
			  unsigned int n)
{
	unsigned int i;
	size_t len;

	if (n > EVBUS_SCOPE_MAX)
		return -EINVAL;
	if (n && !strs)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!strs[i])
			return -EINVAL;
		len = strlen(strs[i]);
		if (!len || len > EVBUS_TOPIC_MAX)
			return -EINVAL;
		pats[i].ptr = (uintptr_t)strs[i];
		pats[i].len = (uint32_t)len;
		pats[i].reserved = 0;
	}
	return 0;
}

EVBUS_API int evbus_narrow(struct evbus *bus, const char *const *publish,
			   unsigned int n_publish, const char *const *subscribe,
			   unsigned int n_subscribe, unsigned int flags)
{
	struct evbus_pattern pub[EVBUS_SCOPE_MAX], sub[EVBUS_SCOPE_MAX];
	struct evbus_scope sc;
	int ret;

	if (!bus)
		return -EINVAL;
	ret = evbus_patterns(pub, publish, n_publish);
	if (!ret)
		ret = evbus_patterns(sub, subscribe, n_subscribe);
	if (ret)
		return ret;
	memset(&sc, 0, sizeof(sc));
	sc.publish = (uintptr_t)pub;
	sc.subscribe = (uintptr_t)sub;
	sc.n_publish = n_publish;
	sc.n_subscribe = n_subscribe;
	sc.flags = flags;
	return sys_ioctl(bus->fd, EVBUS_IOC_NARROW, &sc);
}

EVBUS_API int evbus_policy_add(struct evbus *bus, const char *pattern,
			       uint32_t verdict, uint32_t rights, uint32_t who,
			       uint32_t id, uint32_t flags, uint32_t *rule_id)
{
	struct evbus_rule r;
	uint32_t len;
	int ret;

	ret = evbus_pattern_arg(bus, pattern, &len);
	if (ret)
		return ret;
	memset(&r, 0, sizeof(r));
	r.pattern = (uintptr_t)pattern;
	r.pattern_len = len;
	r.verdict = verdict;
	r.rights = rights;
	r.who = who;
	r.id_value = id;
	r.flags = flags;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_POLICY_ADD, &r);
	if (!ret && rule_id)
		*rule_id = r.id;
	return ret;
}

static int evbus_policy_set(struct evbus *bus, uint32_t op, uint32_t verdict,
			    uint32_t id, uint32_t flags)
{
	struct evbus_policy_set ps;

	if (!bus)
		return -EINVAL;
	memset(&ps, 0, sizeof(ps));
	ps.op = op;
	ps.verdict = verdict;
	ps.id = id;
	ps.flags = flags;
	return sys_ioctl(bus->fd, EVBUS_IOC_POLICY_SET, &ps);
}

EVBUS_API int evbus_policy_remove(struct evbus *bus, uint32_t rule_id,
				  uint32_t flags)
{
	return evbus_policy_set(bus, EVBUS_POLICY_OP_REMOVE, 0, rule_id, flags);
}

EVBUS_API int evbus_policy_default(struct evbus *bus, uint32_t verdict,
				   uint32_t flags)
{
	return evbus_policy_set(bus, EVBUS_POLICY_OP_DEFAULT, verdict, 0, flags);
}

EVBUS_API int evbus_policy_clear(struct evbus *bus, uint32_t flags)
{
	return evbus_policy_set(bus, EVBUS_POLICY_OP_CLEAR, 0, 0, flags);
}

EVBUS_API int evbus_policy_list(struct evbus *bus, uint32_t start_id,
				struct evbus_rule_info *rules,
				unsigned int count, uint32_t *total,
				uint32_t *def)
{
	struct evbus_policy_list pl;
	int ret;

	if (!bus || (count && !rules) || count > INT32_MAX)
		return -EINVAL;
	memset(&pl, 0, sizeof(pl));
	pl.rules = (uintptr_t)rules;
	pl.count = count;
	pl.start_id = start_id;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_POLICY_LIST, &pl);
	if (ret)
		return ret;
	if (total)
		*total = pl.total;
	if (def)
		*def = pl.policy_default;
	return (int)pl.count;
}

/*
 * struct evbus_bus_stats grew in LIBEVBUS_1.6 (the approval counters, 192
 * to 288 bytes) and in LIBEVBUS_1.8 (rate limits and lossless rings, 368
 * bytes).  Programs built against 1.3 to 1.5 pass the smallest struct to
 * evbus_get_bus_stats@LIBEVBUS_1.3, those built against 1.6 or 1.7 the
 * 288-byte one to @LIBEVBUS_1.6, and each fills only that; those built
 * now bind to evbus_get_bus_stats@@LIBEVBUS_1.8.  The kernel takes any
 * size from EVBUS_BUS_STATS_SIZE_VER0 on and zeroes a tail it does not
 * know.
 */
static int evbus_bus_stats(struct evbus *bus, struct evbus_bus_stats *stats,
			   uint32_t size)
{
	if (!bus || !stats)
		return -EINVAL;
	memset(stats, 0, size);
	stats->size = size;
	return sys_ioctl(bus->fd, EVBUS_IOC_BUS_STATS, stats);
}

EVBUS_API int evbus_get_bus_stats_v13(struct evbus *bus,
				      struct evbus_bus_stats *stats);
EVBUS_API int evbus_get_bus_stats_v13(struct evbus *bus,
				      struct evbus_bus_stats *stats)
{
	return evbus_bus_stats(bus, stats, EVBUS_BUS_STATS_SIZE_VER0);
}
__asm__(".symver evbus_get_bus_stats_v13, evbus_get_bus_stats@LIBEVBUS_1.3");

EVBUS_API int evbus_get_bus_stats_v16(struct evbus *bus,
				      struct evbus_bus_stats *stats);
EVBUS_API int evbus_get_bus_stats_v16(struct evbus *bus,
				      struct evbus_bus_stats *stats)
{
	return evbus_bus_stats(bus, stats, EVBUS_BUS_STATS_SIZE_VER1);
}
__asm__(".symver evbus_get_bus_stats_v16, evbus_get_bus_stats@LIBEVBUS_1.6");

EVBUS_API int evbus_get_bus_stats_v18(struct evbus *bus,
				      struct evbus_bus_stats *stats);
EVBUS_API int evbus_get_bus_stats_v18(struct evbus *bus,
				      struct evbus_bus_stats *stats)
{
	return evbus_bus_stats(bus, stats, sizeof(*stats));
}
__asm__(".symver evbus_get_bus_stats_v18, evbus_get_bus_stats@@LIBEVBUS_1.8");

_Static_assert(sizeof(struct evbus_bus_stats) == EVBUS_BUS_STATS_SIZE_VER2,
	       "evbus_get_bus_stats@@LIBEVBUS_1.8 fills the VER2 struct");
