// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Rate limits and lossless rings (LIBEVBUS_1.8).
 *
 * Every rate call is one EVBUS_IOC_RATE (size-versioned: the library
 * passes the whole struct it knows) with its op: EVBUS_RATE_GET for the
 * handle's buckets, _FILE to tighten the handle's own limit, _USER (the
 * bus's owner) to set or remove a user's, _USER_GET to read one.  The
 * kernel checks the limits, who may change what and whether a limit is
 * looser; a module from before rate limits answers with ENOTTY, which
 * becomes -EOPNOTSUPP here.
 *
 * A waiting publish is evbus_publish() with EVBUS_PUB_WAIT and a deadline
 * (as evbus_publish_ask() is with EVBUS_PUB_ASK: struct evbus_pub_opts
 * did not grow).  A lossless ring is EVBUS_IOC_SET_RING with
 * EVBUS_POLICY_LOSSLESS and the ring's wait_ns, the rest of its
 * configuration (wake-ups) kept; evbus_set_ring() in bus.c keeps a
 * lossless ring's wait_ns and clears it for the other policies.
 */
#include <string.h>

#include "internal.h"

/* One EVBUS_IOC_RATE of r (size and op filled in here). */
static int evbus_rate_ioctl(struct evbus *bus, struct evbus_rate *r,
			    uint32_t op)
{
	int ret;

	r->size = sizeof(*r);
	r->op = op;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_RATE, r);
	/* An unknown ioctl: a module from before rate limits. */
	return ret == -ENOTTY ? -EOPNOTSUPP : ret;
}

EVBUS_API int evbus_rate_get(struct evbus *bus, struct evbus_rate *out)
{
	struct evbus_rate r;
	int ret;

	if (!bus || !out)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	ret = evbus_rate_ioctl(bus, &r, EVBUS_RATE_GET);
	if (!ret)
		*out = r;
	return ret;
}

EVBUS_API int evbus_rate_limit(struct evbus *bus,
			       const struct evbus_rate_limit *lim)
{
	struct evbus_rate r;

	if (!bus || !lim)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.limit = *lim;
	return evbus_rate_ioctl(bus, &r, EVBUS_RATE_FILE);
}

EVBUS_API int evbus_rate_limit_user(struct evbus *bus, uint32_t who,
				    uint32_t uid,
				    const struct evbus_rate_limit *lim)
{
	struct evbus_rate r;

	if (!bus)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.who = who;
	r.id_value = uid;
	if (lim)		/* NULL: no limit, i.e. remove it */
		r.limit = *lim;
	return evbus_rate_ioctl(bus, &r, EVBUS_RATE_USER);
}

EVBUS_API int evbus_rate_user_get(struct evbus *bus, uint32_t who,
				  uint32_t uid, struct evbus_rate_limit *out)
{
	struct evbus_rate r;
	int ret;

	if (!bus || !out)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.who = who;
	r.id_value = uid;
	ret = evbus_rate_ioctl(bus, &r, EVBUS_RATE_USER_GET);
	if (!ret)
		*out = r.limit;
	return ret;
}

EVBUS_API int evbus_publish_wait(struct evbus *bus, const char *topic,
				 const void *data, size_t len,
				 const struct evbus_pub_opts *opts,
				 uint64_t deadline_ns, uint64_t *seq)
{
	EVBUS_OPTS(evbus_pub_opts, po, .flags = EVBUS_PUB_WAIT);

	/* deadline_ns 0 goes to the kernel too, which refuses it (EINVAL). */
	if (!OPTS_VALID(opts, evbus_pub_opts))
		return -EINVAL;
	po.type = OPTS_GET(opts, type, 0);
	po.flags |= OPTS_GET(opts, flags, 0);
	po.corr = OPTS_GET(opts, corr, 0);
	po.parent = OPTS_GET(opts, parent, 0);
	return evbus_publish_deadline(bus, topic, data, len, &po, deadline_ns,
				      seq);
}

EVBUS_API int evbus_set_ring_lossless(struct evbus *bus, uint32_t size,
				      uint64_t wait_ns)
{
	struct evbus_ring_cfg cfg;
	int ret;

	if (!bus)
		return -EINVAL;
	memset(&cfg, 0, sizeof(cfg));
	ret = sys_ioctl(bus->fd, EVBUS_IOC_GET_RING, &cfg);
	if (ret)
		return ret;
	cfg.size = size;
	cfg.policy = EVBUS_POLICY_LOSSLESS;
	cfg.wait_ns = wait_ns;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_SET_RING, &cfg);
	/* A module from before lossless rings: an unknown policy. */
	if (ret == -EINVAL && evbus_lacks_feature(bus, EVBUS_FEAT_LOSSLESS))
		return -EOPNOTSUPP;
	return ret;
}
