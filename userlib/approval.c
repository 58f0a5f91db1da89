// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The approval gate (LIBEVBUS_1.6): asking publishes on one side,
 * approvers and their verdicts on the other.
 *
 * An asking publish is evbus_publish() with EVBUS_PUB_ASK and a deadline
 * (struct evbus_pub_opts did not grow: its size is fixed by 1.0 callers);
 * registering is EVBUS_IOC_APPROVER_ADD, a verdict one EVBUS_IOC_VERDICT
 * (size-versioned: the library passes the whole struct it knows).  The
 * requests themselves come through evbus_read() like any record
 * (records.c decodes them).  The kernel checks everything else: patterns,
 * rights, ranges, and whether a request is pending at this file.
 *
 * A module from before the gate answers the new ioctls with ENOTTY, which
 * becomes -EOPNOTSUPP here.
 */
#include <string.h>

#include "internal.h"

EVBUS_API int evbus_publish_ask(struct evbus *bus, const char *topic,
				const void *data, size_t len,
				const struct evbus_pub_opts *opts,
				uint64_t deadline_ns, uint64_t *seq)
{
	EVBUS_OPTS(evbus_pub_opts, po, .flags = EVBUS_PUB_ASK);

	if (!OPTS_VALID(opts, evbus_pub_opts))
		return -EINVAL;
	po.type = OPTS_GET(opts, type, 0);
	po.flags |= OPTS_GET(opts, flags, 0);
	po.corr = OPTS_GET(opts, corr, 0);
	po.parent = OPTS_GET(opts, parent, 0);
	return evbus_publish_deadline(bus, topic, data, len, &po, deadline_ns,
				      seq);
}

/* An unknown ioctl: a module from before the gate. */
static int evbus_gate_ioctl(struct evbus *bus, unsigned long req, void *arg)
{
	int ret = sys_ioctl(bus->fd, req, arg);

	return ret == -ENOTTY ? -EOPNOTSUPP : ret;
}

EVBUS_API int evbus_approver_add(struct evbus *bus, const char *pattern,
				 int32_t priority, uint32_t deflt,
				 uint32_t *approver_id)
{
	struct evbus_approver a;
	uint32_t len;
	int ret;

	ret = evbus_pattern_arg(bus, pattern, &len);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.pattern = (uintptr_t)pattern;
	a.pattern_len = len;
	a.priority = priority;
	a.deflt = deflt;
	ret = evbus_gate_ioctl(bus, EVBUS_IOC_APPROVER_ADD, &a);
	if (!ret && approver_id)
		*approver_id = a.id;
	return ret;
}

EVBUS_API int evbus_approver_del(struct evbus *bus, uint32_t approver_id)
{
	if (!bus)
		return -EINVAL;
	return evbus_gate_ioctl(bus, EVBUS_IOC_APPROVER_DEL, &approver_id);
}

/* One EVBUS_IOC_VERDICT of the whole struct v (size filled in here). */
static int evbus_verdict(struct evbus *bus, struct evbus_verdict *v)
{
	if (!bus)
		return -EINVAL;
	v->size = sizeof(*v);
	return evbus_gate_ioctl(bus, EVBUS_IOC_VERDICT, v);
}

EVBUS_API int evbus_verdict_allow(struct evbus *bus, uint64_t req_id)
{
	struct evbus_verdict v;

	memset(&v, 0, sizeof(v));
	v.verdict = EVBUS_VERDICT_ALLOW;
	v.id = req_id;
	return evbus_verdict(bus, &v);
}

EVBUS_API int evbus_verdict_deny(struct evbus *bus, uint64_t req_id, int error)
{
	struct evbus_verdict v;

	memset(&v, 0, sizeof(v));
	v.verdict = EVBUS_VERDICT_DENY;
	v.id = req_id;
	v.error = error;
	return evbus_verdict(bus, &v);
}

EVBUS_API int evbus_verdict_modify(struct evbus *bus, uint64_t req_id,
				   const char *topic, const void *payload,
				   size_t len, uint32_t type)
{
	struct evbus_verdict v;
	size_t tlen = 0;

	if (len && !payload)
		return -EINVAL;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (topic) {
		tlen = strlen(topic);
		if (!tlen || tlen > EVBUS_TOPIC_MAX)
			return -EINVAL;
	}
	memset(&v, 0, sizeof(v));
	v.verdict = EVBUS_VERDICT_MODIFY;
	v.id = req_id;
	v.type = type;
	v.payload = (uintptr_t)payload;
	v.payload_len = (uint32_t)len;
	v.topic = (uintptr_t)topic;
	v.topic_len = (uint32_t)tlen;
	return evbus_verdict(bus, &v);
}
