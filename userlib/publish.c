// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Publishing: one event per EVBUS_IOC_PUBLISH, or many per
 * EVBUS_IOC_PUBLISH_BATCH.  An asking publish (EVBUS_PUB_ASK) is the same
 * ioctl, which then waits for the approvers (approval.c has the rest of
 * the gate), and so is a publish that waits for rate tokens
 * (EVBUS_PUB_WAIT, rate.c).  The kernel validates topics and sizes; the
 * library only refuses what cannot be described in the ABI's fields.
 */
#include <string.h>

#include "internal.h"

/*
 * evbus_publish(), evbus_publish_ask() and evbus_publish_wait(): one
 * EVBUS_IOC_PUBLISH.
 */
int evbus_publish_deadline(struct evbus *bus, const char *topic,
			   const void *data, size_t len,
			   const struct evbus_pub_opts *opts,
			   uint64_t deadline_ns, uint64_t *seq)
{
	struct evbus_pub p;
	size_t tlen;
	int ret;

	if (!bus || !topic || (len && !data))
		return -EINVAL;
	/* flags go to the kernel as given: it refuses what it does not know. */
	if (!OPTS_VALID(opts, evbus_pub_opts))
		return -EINVAL;
	tlen = strlen(topic);
	if (!tlen || tlen > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (len > UINT32_MAX)
		return -EMSGSIZE;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = (uint32_t)tlen;
	p.payload = (uintptr_t)data;
	p.payload_len = (uint32_t)len;
	p.type = OPTS_GET(opts, type, 0);
	p.flags = OPTS_GET(opts, flags, 0);
	p.corr = OPTS_GET(opts, corr, 0);
	p.parent = OPTS_GET(opts, parent, 0);
	p.deadline_ns = deadline_ns;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_PUBLISH, &p);
	if (ret == -EINVAL && (p.flags & EVBUS_PUB_RETAIN) &&
	    evbus_lacks_feature(bus, EVBUS_FEAT_RETAINED))
		return -EOPNOTSUPP;	/* a module from before retained values */
	/* A module from before rate limits: an unknown flag. */
	if (ret == -EINVAL && (p.flags & EVBUS_PUB_WAIT) &&
	    evbus_lacks_feature(bus, EVBUS_FEAT_RATE))
		return -EOPNOTSUPP;
	/* A module from before the gate: an unknown flag, or reserved[0]. */
	if (ret == -EINVAL && ((p.flags & EVBUS_PUB_ASK) || p.deadline_ns) &&
	    evbus_lacks_feature(bus, EVBUS_FEAT_APPROVAL))
		return -EOPNOTSUPP;
	if (ret)
		return ret;
	if (seq)
		*seq = p.seq;
	return 0;
}

EVBUS_API int evbus_publish(struct evbus *bus, const char *topic,
			    const void *data, size_t len,
			    const struct evbus_pub_opts *opts, uint64_t *seq)
{
	return evbus_publish_deadline(bus, topic, data, len, opts, 0, seq);
}

/* One ioctl of at most EVBUS_BATCH_MAX events: published count or -errno. */
static int evbus_batch_chunk(struct evbus *bus, const struct evbus_pub *events,
			     unsigned int count, uint64_t *first_seq)
{
	struct evbus_pub_batch b;
	int ret;

	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)events;
	b.count = count;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	if (ret <= 0)
		return ret ? ret : -EIO;	/* 0 is not in the ABI */
	*first_seq = b.first_seq;
	return ret;
}

/*
 * Like write(): events go out in order, in chunks of EVBUS_BATCH_MAX, up to
 * the first one that fails.  Returns how many were published, or -errno if
 * the very first one failed.  Calling again from the failing event reports
 * its error.
 */
EVBUS_API int evbus_publish_batch(struct evbus *bus,
				  const struct evbus_pub *events,
				  unsigned int count, uint64_t *first_seq)
{
	unsigned int done = 0;
	uint64_t seq;
	int ret;

	if (!bus || !events || !count || count > INT32_MAX)
		return -EINVAL;
	while (done < count) {
		unsigned int n = count - done;

		if (n > EVBUS_BATCH_MAX)
			n = EVBUS_BATCH_MAX;
		ret = evbus_batch_chunk(bus, events + done, n, &seq);
		if (ret < 0)
			return done ? (int)done : ret;
		if (!done && first_seq)
			*first_seq = seq;
		done += ret;
		if ((unsigned int)ret < n)
			break;
	}
	return (int)done;
}
