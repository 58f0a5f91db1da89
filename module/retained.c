// SPDX-License-Identifier: GPL-2.0
/*
 * evbus retained values: the newest event published with EVBUS_PUB_RETAIN
 * on each exact topic of a bus, MQTT's retained messages.
 *
 * A publisher stages the new value with no lock held: it allocates it,
 * charged to its memory cgroup, and copies the event into it (struct
 * evbus_hist_rec, as the history keeps events).  Under bus.order_lock,
 * before the event is numbered, the caps are checked and charged: per bus
 * (max_retained, max_retained_bytes) and per user at every level of the
 * user-namespace hierarchy (max_user_retained, max_user_retained_bytes),
 * judging a replacement as if the value it replaces were gone.  ENOSPC
 * stops the publish with nothing changed.  Once numbered, the value
 * replaces its topic's previous one; an empty payload only removes it.
 * Work under order_lock: a lookup in a hash of fixed size, bounded by the
 * per-bus cap.
 *
 * The values are also on a list in seq order (a new value goes to the
 * tail), which EVBUS_SUB_RETAINED walks under order_lock, queueing the
 * matching ones in the new subscription's ring where its live events
 * start.  A value is reference counted: the store holds one, and a
 * subscriber copying it out of the lock another.
 */
#include <linux/slab.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/poll.h>

#include "evbus.h"

#define EVBUS_RETAINED_HASH_BITS	8

struct evbus_retained {
	struct hlist_node hnode;	/* hist.retained_hash */
	struct list_head link;		/* hist.retained, in seq order */
	struct evbus_user *user;	/* the publisher's, charged */
	refcount_t ref;
	u32 charge;			/* bytes charged */
	struct evbus_hist_rec rec;
};

static u32 evbus_retained_hash(const char *topic, u32 len)
{
	return evbus_hash(0, topic, len) &
	       ((1U << EVBUS_RETAINED_HASH_BITS) - 1);
}

static void evbus_retained_put(struct evbus_retained *rt)
{
	if (!refcount_dec_and_test(&rt->ref))
		return;
	evbus_hist_put(&rt->rec);
	evbus_user_put(rt->user);
	kfree(rt);
}

/*
 * Stage m's new retained value (EVBUS_PUB_RETAIN with a payload), sent by
 * current through ef: 0, -ENOSPC if it could never fit, or -ENOMEM.
 */
int evbus_retained_stage(struct evbus_file *ef, struct evbus_msg *m,
			 const struct evbus_sender *from, gfp_t gfp)
{
	struct evbus_retained *rt;
	size_t size;

	m->retain = NULL;
	if (!(m->pub_flags & EVBUS_PUB_RETAIN) || !m->payload_len)
		return 0;
	size = offsetof(struct evbus_retained, rec.data) + m->topic_len +
	       m->payload_len;
	if (size > READ_ONCE(evbus_limits.max_retained_bytes) ||
	    size > READ_ONCE(evbus_limits.max_user_retained_bytes))
		return -ENOSPC;
	rt = kmalloc(size, gfp);
	if (!rt)
		return -ENOMEM;
	evbus_hist_fill(&rt->rec, m, from);
	rt->user = ef->user;
	evbus_user_get_ref(ef->user);
	rt->charge = size;
	refcount_set(&rt->ref, 1);
	m->retain = rt;
	return 0;
}

/* m was not published: its staged value goes. */
void evbus_retained_unstage(struct evbus_msg *m)
{
	if (m->retain)
		evbus_retained_put(m->retain);
	m->retain = NULL;
}

static struct evbus_retained *evbus_retained_find(struct evbus_hist *h,
						  const char *topic, u32 len)
{
	struct evbus_retained *rt;

	hlist_for_each_entry(rt, &h->retained_hash[evbus_retained_hash(topic, len)],
			     hnode)
		if (rt->rec.topic_len == len && !memcmp(rt->rec.data, topic, len))
			return rt;
	return NULL;
}

/* Take rt out of the store: its user is uncharged now, its memory later. */
static void evbus_retained_unlink(struct evbus_hist *h,
				  struct evbus_retained *rt)
{
	hlist_del(&rt->hnode);
	list_del(&rt->link);
	h->nr_retained--;
	h->retained_bytes -= rt->charge;
	evbus_user_uncharge(rt->user, EVBUS_UC_RETAINED, 1);
	evbus_user_uncharge(rt->user, EVBUS_UC_RETAINED_BYTES, rt->charge);
	evbus_retained_put(rt);
}

/*
 * Before m (EVBUS_PUB_RETAIN) is numbered, under order_lock: does its new
 * value fit the caps, counting the value it replaces as gone?  Charges
 * its user: 0 or -ENOSPC, with nothing charged.
 */
int evbus_retained_check(struct evbus_bus *bus, const struct evbus_msg *m)
{
	const struct evbus_limits *lim = &evbus_limits;
	struct evbus_hist *h = &bus->hist;
	struct evbus_retained *rt = m->retain, *old;
	u64 n, bytes, slack_n = 0, slack_b = 0;

	lockdep_assert_held(&bus->order_lock);
	if (!rt)
		return 0;
	old = evbus_retained_find(h, m->topic, m->topic_len);
	n = h->nr_retained + 1;
	bytes = h->retained_bytes + rt->charge;
	if (old) {
		n--;
		bytes -= old->charge;
		if (old->user == rt->user) {
			slack_n = 1;
			slack_b = old->charge;
		}
	}
	if (n > READ_ONCE(lim->max_retained) ||
	    bytes > READ_ONCE(lim->max_retained_bytes))
		return -ENOSPC;
	if (evbus_user_charge(rt->user, EVBUS_UC_RETAINED, 1,
			      READ_ONCE(lim->max_user_retained) + slack_n))
		return -ENOSPC;
	if (evbus_user_charge(rt->user, EVBUS_UC_RETAINED_BYTES, rt->charge,
			      READ_ONCE(lim->max_user_retained_bytes) + slack_b)) {
		evbus_user_uncharge(rt->user, EVBUS_UC_RETAINED, 1);
		return -ENOSPC;
	}
	return 0;
}

/*
 * m (EVBUS_PUB_RETAIN), checked, is numbered: it becomes its topic's value,
 * or (empty payload) removes it.  order_lock held.
 */
void evbus_retained_install(struct evbus_bus *bus, struct evbus_msg *m)
{
	struct evbus_hist *h = &bus->hist;
	struct evbus_retained *rt = m->retain, *old;

	lockdep_assert_held(&bus->order_lock);
	old = evbus_retained_find(h, m->topic, m->topic_len);
	if (old)
		evbus_retained_unlink(h, old);
	if (!rt)
		return;
	rt->rec.seq = m->seq;
	rt->rec.time_ns = m->time_ns;
	rt->rec.mono_ns = m->mono_ns;
	hlist_add_head(&rt->hnode,
		       &h->retained_hash[evbus_retained_hash(m->topic, m->topic_len)]);
	list_add_tail(&rt->link, &h->retained);
	h->nr_retained++;
	h->retained_bytes += rt->charge;
	m->retain = NULL;		/* the store's now */
}

int evbus_retained_init(struct evbus_bus *bus)
{
	struct evbus_hist *h = &bus->hist;

	INIT_LIST_HEAD(&h->retained);
	h->retained_hash = kcalloc(1U << EVBUS_RETAINED_HASH_BITS,
				   sizeof(*h->retained_hash), GFP_KERNEL_ACCOUNT);
	return h->retained_hash ? 0 : -ENOMEM;
}

/* The bus is going. */
void evbus_retained_destroy(struct evbus_bus *bus)
{
	struct evbus_hist *h = &bus->hist;
	struct evbus_retained *rt, *tmp;

	list_for_each_entry_safe(rt, tmp, &h->retained, link) {
		evbus_retained_unlink(h, rt);
		cond_resched();
	}
	kfree(h->retained_hash);
}

/* ----------------------------------------------- EVBUS_SUB_RETAINED */

/* A value being sent to a new subscription, and its slot in the ring. */
struct evbus_retained_out {
	struct evbus_retained *rt;
	struct evbus_rec_hdr *slot;
};

/*
 * Queue in sub's ring, under order_lock, every value sub takes, oldest
 * first; sub goes live in the same hold.  Returns how many were taken
 * (at most cap), or -ENOBUFS if more than cap values exist.
 */
static int evbus_retained_reserve(struct evbus_file *ef,
				  struct evbus_sub_entry *sub,
				  struct evbus_retained_out *out, u32 cap,
				  void *image, bool *wake)
{
	struct evbus_bus *bus = ef->bus;
	struct evbus_hist *h = &bus->hist;
	struct evbus_retained *rt;
	struct evbus_msg m;
	u32 n = 0;

	spin_lock(&bus->order_lock);
	if (h->nr_retained > cap) {
		spin_unlock(&bus->order_lock);
		return -ENOBUFS;
	}
	list_for_each_entry(rt, &h->retained, link) {
		evbus_hist_msg(&rt->rec, &m, EVBUS_EVENT_RETAINED);
		if (!evbus_hist_takes(ef, sub, &rt->rec, &m, image))
			continue;
		refcount_inc(&rt->ref);
		out[n].rt = rt;
		out[n].slot = evbus_ring_reserve(&ef->ring, &m, NULL, wake);
		n++;
	}
	/* Every event numbered from now on goes through sub. */
	WRITE_ONCE(sub->from, 0);
	spin_unlock(&bus->order_lock);
	return n;
}

/*
 * EVBUS_SUB_RETAINED: sub is in the index, not yet live (from U64_MAX),
 * and every publisher sees it (the caller waited for RCU).  Queue the
 * values it matches and make it live, with no gap between: 0 or -ENOMEM.
 */
int evbus_retained_send(struct evbus_file *ef, struct evbus_sub_entry *sub)
{
	struct evbus_retained_out *out;
	void *image = NULL;
	bool wake = false;
	u32 cap;
	int n, i;

	if (sub->filter && sub->filter->prog) {
		image = kmalloc(EVBUS_FILTER_WINDOW, EVBUS_GFP);
		if (!image)
			return -ENOMEM;
	}
	do {
		cap = READ_ONCE(ef->bus->hist.nr_retained) + 16;
		out = kvmalloc_array(cap, sizeof(*out), EVBUS_GFP);
		if (!out) {
			kfree(image);
			return -ENOMEM;
		}
		n = evbus_retained_reserve(ef, sub, out, cap, image, &wake);
		if (n < 0)
			kvfree(out);
	} while (n < 0);

	for (i = 0; i < n; i++) {
		struct evbus_ident id;
		struct evbus_msg m;

		if (out[i].slot) {
			evbus_hist_msg(&out[i].rt->rec, &m, EVBUS_EVENT_RETAINED);
			evbus_hist_ident(&out[i].rt->rec, ef, &id);
			evbus_ring_write(out[i].slot, &m, &id);
			wake |= evbus_ring_commit(&ef->ring, out[i].slot);
		}
		evbus_retained_put(out[i].rt);
	}
	if (wake)
		wake_up_interruptible_poll(&ef->ring.wq, EPOLLIN | EPOLLRDNORM);
	kvfree(out);
	kfree(image);
	return 0;
}
