// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Last wills and lifecycle scopes (LIBEVBUS_1.7).
 *
 * A will is one EVBUS_IOC_WILL (size-versioned: the library passes the
 * whole struct it knows): the kernel publishes it when the open file is
 * released without having cleared it, flagged EVBUS_EVENT_WILL and sent
 * as the process that armed it.  The kernel checks the topic, the policy,
 * the caps and the payload's size; a module from before wills answers
 * with ENOTTY, which becomes -EOPNOTSUPP here.
 *
 * Scopes build on it.  evbus_scope_begin() publishes "<prefix>.started"
 * (its seq is the scope's id), then arms the will of that id: an empty
 * "<prefix>.failed".  evbus_scope_update() publishes "<prefix>.progress",
 * evbus_scope_end() "<prefix>.success" or "<prefix>.failed" and then
 * clears the will.  Every event after Started has corr and parent set to
 * the scope's id; Started has the enclosing scope's id as parent.  The
 * handle remembers each open scope's prefix (a list under a mutex:
 * scope calls may run from several threads, like publishes).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct evbus_scope_ent {
	struct evbus_scope_ent *next;
	uint64_t id;
	size_t prefix_len;
	char prefix[];		/* NUL-terminated */
};

static pthread_mutex_t evbus_scope_lock = PTHREAD_MUTEX_INITIALIZER;

static int evbus_will_ioctl(struct evbus *bus, struct evbus_will *w)
{
	int ret;

	w->size = sizeof(*w);
	ret = sys_ioctl(bus->fd, EVBUS_IOC_WILL, w);
	/* An unknown ioctl: a module from before wills. */
	return ret == -ENOTTY ? -EOPNOTSUPP : ret;
}

EVBUS_API int evbus_will_set(struct evbus *bus, uint64_t scope,
			     const char *topic, const void *payload,
			     size_t len, const struct evbus_pub_opts *opts)
{
	struct evbus_will w;
	size_t tlen;

	if (!bus || !topic || (len && !payload))
		return -EINVAL;
	if (!OPTS_VALID(opts, evbus_pub_opts))
		return -EINVAL;
	/* A will is published as-is: no retained value, nobody to ask. */
	if (OPTS_GET(opts, flags, 0))
		return -EINVAL;
	tlen = strlen(topic);
	if (!tlen || tlen > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	memset(&w, 0, sizeof(w));
	w.scope = scope;
	w.topic = (uintptr_t)topic;
	w.topic_len = (uint32_t)tlen;
	w.payload = (uintptr_t)payload;
	w.payload_len = (uint32_t)len;
	w.type = OPTS_GET(opts, type, 0);
	w.corr = OPTS_GET(opts, corr, 0);
	w.parent = OPTS_GET(opts, parent, 0);
	return evbus_will_ioctl(bus, &w);
}

EVBUS_API int evbus_will_clear(struct evbus *bus, uint64_t scope)
{
	struct evbus_will w;

	if (!bus)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.flags = EVBUS_WILL_CLEAR;
	w.scope = scope;
	return evbus_will_ioctl(bus, &w);
}

/* ---------------------------------------------------------------- scopes */

/* "<prefix>.<suffix>" into buf (EVBUS_TOPIC_MAX + 1 bytes). */
static void evbus_scope_topic(char *buf, const char *prefix, size_t plen,
			      const char *suffix)
{
	size_t slen = strlen(suffix);

	memcpy(buf, prefix, plen);
	buf[plen] = '.';
	memcpy(buf + plen + 1, suffix, slen + 1);
}

/* The scope id of this handle, or NULL (the lock held). */
static struct evbus_scope_ent **evbus_scope_find(struct evbus *bus,
						 uint64_t id)
{
	struct evbus_scope_ent **pp;

	for (pp = &bus->scopes; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

/* Copy the topic of the scope's event suffix into buf: 0 or -ENOENT. */
static int evbus_scope_topic_of(struct evbus *bus, uint64_t id,
				const char *suffix, char *buf)
{
	struct evbus_scope_ent **pp;
	int ret = -ENOENT;

	pthread_mutex_lock(&evbus_scope_lock);
	pp = evbus_scope_find(bus, id);
	if (pp) {
		evbus_scope_topic(buf, (*pp)->prefix, (*pp)->prefix_len, suffix);
		ret = 0;
	}
	pthread_mutex_unlock(&evbus_scope_lock);
	return ret;
}

EVBUS_API int evbus_scope_begin(struct evbus *bus, const char *prefix,
				const void *data, size_t len, uint64_t parent,
				uint64_t *scope)
{
	EVBUS_OPTS(evbus_pub_opts, po, .parent = parent);
	char topic[EVBUS_TOPIC_MAX + 1];
	struct evbus_scope_ent *ent;
	uint64_t id;
	size_t plen;
	int ret;

	if (!bus || !prefix || !scope || (len && !data))
		return -EINVAL;
	plen = strlen(prefix);
	if (!plen || plen > EVBUS_SCOPE_PREFIX_MAX)
		return -EINVAL;
	/* Without wills a scope could not promise its end: refuse it whole. */
	if (evbus_lacks_feature(bus, EVBUS_FEAT_WILL))
		return -EOPNOTSUPP;
	ent = sys_calloc(1, sizeof(*ent) + plen + 1);
	if (!ent)
		return -ENOMEM;
	memcpy(ent->prefix, prefix, plen + 1);
	ent->prefix_len = plen;

	evbus_scope_topic(topic, prefix, plen, EVBUS_SCOPE_STARTED);
	ret = evbus_publish(bus, topic, data, len, &po, &id);
	if (ret)
		goto err;
	po.corr = id;
	po.parent = id;
	evbus_scope_topic(topic, prefix, plen, EVBUS_SCOPE_FAILED);
	ret = evbus_will_set(bus, id, topic, NULL, 0, &po);
	if (ret) {
		/* Started is out: end it rather than leave it open forever. */
		evbus_publish(bus, topic, NULL, 0, &po, NULL);
		goto err;
	}
	ent->id = id;
	pthread_mutex_lock(&evbus_scope_lock);
	ent->next = bus->scopes;
	bus->scopes = ent;
	pthread_mutex_unlock(&evbus_scope_lock);
	*scope = id;
	return 0;
err:
	sys_free(ent);
	return ret;
}

EVBUS_API int evbus_scope_update(struct evbus *bus, uint64_t scope,
				 const void *data, size_t len)
{
	EVBUS_OPTS(evbus_pub_opts, po, .corr = scope, .parent = scope);
	char topic[EVBUS_TOPIC_MAX + 1];
	int ret;

	if (!bus || (len && !data))
		return -EINVAL;
	ret = evbus_scope_topic_of(bus, scope, EVBUS_SCOPE_PROGRESS, topic);
	if (ret)
		return ret;
	return evbus_publish(bus, topic, data, len, &po, NULL);
}

EVBUS_API int evbus_scope_end(struct evbus *bus, uint64_t scope, bool ok,
			      const void *data, size_t len)
{
	EVBUS_OPTS(evbus_pub_opts, po, .corr = scope, .parent = scope);
	char topic[EVBUS_TOPIC_MAX + 1];
	struct evbus_scope_ent **pp, *ent = NULL;
	int ret;

	if (!bus || (len && !data))
		return -EINVAL;
	ret = evbus_scope_topic_of(bus, scope,
				   ok ? EVBUS_SCOPE_SUCCESS : EVBUS_SCOPE_FAILED,
				   topic);
	if (ret)
		return ret;
	/*
	 * The outcome first, then the will: a death between the two leaves
	 * a will after the outcome (the first terminal event counts), never
	 * a scope without one.  A failed publish keeps the scope and its
	 * will, for another try or for the will.
	 */
	ret = evbus_publish(bus, topic, data, len, &po, NULL);
	if (ret)
		return ret;
	ret = evbus_will_clear(bus, scope);
	pthread_mutex_lock(&evbus_scope_lock);
	pp = evbus_scope_find(bus, scope);
	if (pp) {
		ent = *pp;
		*pp = ent->next;
	}
	pthread_mutex_unlock(&evbus_scope_lock);
	sys_free(ent);
	return ret;
}

/* evbus_close(): forget the open scopes (their wills go with the file). */
void evbus_scopes_free(struct evbus *bus)
{
	struct evbus_scope_ent *ent, *next;

	for (ent = bus->scopes; ent; ent = next) {
		next = ent->next;
		sys_free(ent);
	}
	bus->scopes = NULL;
}
