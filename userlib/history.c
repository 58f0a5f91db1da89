// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * History, replay on subscribe and retained values (LIBEVBUS_1.5).
 *
 * The subscribe and publish helpers are evbus_subscribe_opts() and
 * evbus_publish() with one flag set; the history's state and capacity are
 * EVBUS_IOC_HISTORY, size-versioned like EVBUS_IOC_BUS_STATS.  The kernel
 * checks everything (ranges, exclusions, rights, the owner).
 */
#include <string.h>

#include "internal.h"

EVBUS_API int evbus_subscribe_since(struct evbus *bus, const char *pattern,
				    uint64_t since, uint32_t *sub_id)
{
	EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_SINCE, .since = since);

	return evbus_subscribe_opts(bus, pattern, &so, sub_id);
}

EVBUS_API int evbus_subscribe_last(struct evbus *bus, const char *pattern,
				   uint32_t last, uint32_t *sub_id)
{
	EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_LAST, .last = last);

	return evbus_subscribe_opts(bus, pattern, &so, sub_id);
}

EVBUS_API int evbus_subscribe_retained(struct evbus *bus, const char *pattern,
				       uint32_t *sub_id)
{
	EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_RETAINED);

	return evbus_subscribe_opts(bus, pattern, &so, sub_id);
}

EVBUS_API int evbus_publish_retained(struct evbus *bus, const char *topic,
				     const void *data, size_t len)
{
	EVBUS_OPTS(evbus_pub_opts, po, .flags = EVBUS_PUB_RETAIN);

	return evbus_publish(bus, topic, data, len, &po, NULL);
}

/* One EVBUS_IOC_HISTORY into *h: 0 or -errno. */
static int evbus_history(struct evbus *bus, struct evbus_history *h,
			 uint32_t flags, uint64_t capacity)
{
	int ret;

	if (!bus || !h)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	h->flags = flags;
	h->capacity = capacity;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_HISTORY, h);
	/* An unknown ioctl: a module from before history. */
	return ret == -ENOTTY ? -EOPNOTSUPP : ret;
}

EVBUS_API int evbus_get_history(struct evbus *bus, struct evbus_history *h)
{
	return evbus_history(bus, h, 0, 0);
}

EVBUS_API int evbus_set_history_capacity(struct evbus *bus, uint64_t bytes)
{
	struct evbus_history h;

	return evbus_history(bus, &h, EVBUS_HISTORY_SET, bytes);
}
