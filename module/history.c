// SPDX-License-Identifier: GPL-2.0
/*
 * evbus bus history: the most recent events of a bus, for replay.
 *
 * The history is a byte ring like a file's (mmap.c's memory, its data
 * mapped twice in a row so no record wraps), written by publishers under
 * bus.order_lock as each event is numbered: it holds, in seq order, every
 * event that fitted, oldest first, and evicts from the head to make room.
 * Positions are free-running and never reset, so a replaying reader whose
 * position fell below head knows exactly which seqs it lost.
 *
 * A record keeps the event as the kernel knows it (struct
 * evbus_hist_rec): kernel uid and gid, and references on the sender's
 * pids, dropped on eviction, so each reader gets the sender as seen from
 * its own namespaces, as live readers do.  The copy is of the event's
 * topic and payload, at most max_payload bytes, under order_lock: the
 * cost of one more reader, bounded by the payload ceiling.  Eviction is
 * O(records evicted), at most what one record's bytes displace.
 *
 * The history is allocated when its bus is made (module parameter
 * history_bytes), and set again by the bus's owner (EVBUS_IOC_HISTORY),
 * which empties it.  Its bytes are charged to whoever made it, against
 * max_user_history_bytes and that user's memory cgroup.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/log2.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/fs.h>

#include "evbus.h"

#define EVBUS_HISTORY_SIZE_VALID	EVBUS_HISTORY_SET

static u32 evbus_hist_rec_len(u32 topic_len, u32 payload_len)
{
	return EVBUS_ALIGN(sizeof(struct evbus_hist_rec) + topic_len +
			   payload_len);
}

struct evbus_hist_rec *evbus_hist_at(struct evbus_hist *h, u64 pos)
{
	return h->data + (pos & (h->size - 1));
}

/* Fill rec from m and its sender, taking references on the pids. */
void evbus_hist_fill(struct evbus_hist_rec *rec, const struct evbus_msg *m,
		     const struct evbus_sender *from)
{
	rec->len = evbus_hist_rec_len(m->topic_len, m->payload_len);
	rec->seq = m->seq;
	rec->time_ns = m->time_ns;
	rec->mono_ns = m->mono_ns;
	rec->corr = m->corr;
	rec->parent = m->parent;
	rec->tgid = get_pid(from->tgid);
	rec->tid = get_pid(from->tid);
	rec->uid = from->uid;
	rec->gid = from->gid;
	rec->type = m->type;
	rec->topic_len = m->topic_len;
	rec->payload_len = m->payload_len;
	/* What it was delivered with: approved, modified, a will. */
	rec->ev_flags = m->ev_flags & ~(EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED);
	memcpy(rec->data, m->topic, m->topic_len);
	memcpy(rec->data + m->topic_len, m->payload, m->payload_len);
}

/* Drop what a record holds.  Any context (put_pid() is). */
void evbus_hist_put(struct evbus_hist_rec *rec)
{
	put_pid(rec->tgid);
	put_pid(rec->tid);
}

/* The event a kept record is, to be queued with ev_flags added. */
void evbus_hist_msg(const struct evbus_hist_rec *rec, struct evbus_msg *m,
		    u32 ev_flags)
{
	memset(m, 0, sizeof(*m));
	m->seq = rec->seq;
	m->time_ns = rec->time_ns;
	m->mono_ns = rec->mono_ns;
	m->corr = rec->corr;
	m->parent = rec->parent;
	m->type = rec->type;
	m->topic_len = rec->topic_len;
	m->payload_len = rec->payload_len;
	m->topic = rec->data;
	m->payload = rec->data + rec->topic_len;
	m->rec_len = evbus_event_rec_len(rec->topic_len, rec->payload_len);
	m->ev_flags = rec->ev_flags | ev_flags;
}

/* The sender of a kept record as ef's reader sees it. */
void evbus_hist_ident(const struct evbus_hist_rec *rec, struct evbus_file *ef,
		      struct evbus_ident *id)
{
	id->pid = pid_nr_ns(rec->tgid, ef->pid_ns);
	id->tid = pid_nr_ns(rec->tid, ef->pid_ns);
	id->uid = from_kuid_munged(ef->user_ns, rec->uid);
	id->gid = from_kgid_munged(ef->user_ns, rec->gid);
}

/*
 * Does sub (of ef) take the kept event rec, seen as m?  The same test as a
 * live event's (filters included), with the sender the record kept.
 */
bool evbus_hist_takes(struct evbus_file *ef, const struct evbus_sub_entry *sub,
		      const struct evbus_hist_rec *rec, const struct evbus_msg *m,
		      void *image)
{
	struct evbus_sender from = {
		.uid = rec->uid,
		.gid = rec->gid,
		.tgid = rec->tgid,
		.tid = rec->tid,
	};
	struct evbus_ident id;

	evbus_hist_ident(rec, ef, &id);
	return evbus_sub_matches(sub, m, &from, &id, image);
}

/* Drop the oldest record; order_lock held. */
static void evbus_hist_evict(struct evbus_hist *h)
{
	struct evbus_hist_rec *rec = evbus_hist_at(h, h->head);

	evbus_hist_put(rec);
	h->head += rec->len;
	h->events--;
	h->evicted++;
}

/*
 * Keep m, just numbered; order_lock held.  An event larger than the whole
 * history is not kept (counted as skipped); a replay reports its seq.
 */
void evbus_hist_append(struct evbus_bus *bus, const struct evbus_msg *m,
		       const struct evbus_sender *from)
{
	struct evbus_hist *h = &bus->hist;
	u32 len = evbus_hist_rec_len(m->topic_len, m->payload_len);
	struct evbus_hist_rec *rec;

	lockdep_assert_held(&bus->order_lock);
	if (len > h->size) {
		h->skipped++;
		return;
	}
	while (h->tail - h->head + len > h->size)
		evbus_hist_evict(h);
	rec = evbus_hist_at(h, h->tail);
	evbus_hist_fill(rec, m, from);
	rec->prev_len = h->head == h->tail ? 0 : h->last_len;
	h->last_len = len;
	h->tail += len;
	h->events++;
}

/* Drop every record's references: the history's memory is private now. */
static void evbus_hist_drain(struct evbus_ring_mem *mem, u32 size, u64 head,
			     u64 tail)
{
	void *data = evbus_mem_data(mem);

	while (head != tail) {
		struct evbus_hist_rec *rec = data + (head & (size - 1));

		evbus_hist_put(rec);
		head += rec->len;
		cond_resched();
	}
}

/* Memory for a history of size bytes, charged to u: 0 or -errno. */
static int evbus_hist_alloc(struct evbus_user *u, u32 size,
			    struct evbus_ring_mem **mem)
{
	*mem = NULL;
	if (!size)
		return 0;
	if (evbus_user_charge(u, EVBUS_UC_HISTORY_BYTES, size,
			      READ_ONCE(evbus_limits.max_user_history_bytes)))
		return -EDQUOT;
	*mem = evbus_ring_mem_alloc(size);
	if (!*mem) {
		evbus_user_uncharge(u, EVBUS_UC_HISTORY_BYTES, size);
		return -ENOMEM;
	}
	return 0;
}

/* A history size as asked: 0, or a power of two of at least a page. */
static u32 evbus_hist_size(u64 want)
{
	if (!want)
		return 0;
	return roundup_pow_of_two(max_t(u64, want, PAGE_SIZE));
}

int evbus_hist_init(struct evbus_bus *bus, struct evbus_user *u)
{
	struct evbus_hist *h = &bus->hist;
	u32 size = evbus_hist_size(READ_ONCE(evbus_limits.history_bytes));
	int ret;

	ret = evbus_retained_init(bus);
	if (ret)
		return ret;
	ret = evbus_hist_alloc(u, size, &h->mem);
	if (ret) {
		evbus_retained_destroy(bus);
		return ret;
	}
	if (h->mem) {
		h->data = evbus_mem_data(h->mem);
		h->size = size;
	}
	h->charged = size;
	h->user = u;
	evbus_user_get_ref(u);
	return 0;
}

/* The bus is going: nobody can reach the history any more. */
void evbus_hist_destroy(struct evbus_bus *bus)
{
	struct evbus_hist *h = &bus->hist;

	evbus_retained_destroy(bus);
	if (h->mem) {
		evbus_hist_drain(h->mem, h->size, h->head, h->tail);
		evbus_ring_mem_free(h->mem);
	}
	evbus_hist_unhold(bus);
	evbus_user_put(h->user);
}

/*
 * Nothing holds the bus any more (bus.c): like the bus itself, its history
 * stops counting against its user now, though the memory goes with the
 * bus, a grace period later.
 */
void evbus_hist_unhold(struct evbus_bus *bus)
{
	struct evbus_hist *h = &bus->hist;
	u32 charged;

	spin_lock(&bus->order_lock);
	charged = h->charged;
	h->charged = 0;
	spin_unlock(&bus->order_lock);
	if (charged)
		evbus_user_uncharge(h->user, EVBUS_UC_HISTORY_BYTES, charged);
}

/*
 * EVBUS_HISTORY_SET: a new, empty history of size bytes, charged to the
 * caller.  Positions go on from the old tail, so a replaying reader sees
 * the old records as evicted.
 */
static int evbus_hist_resize(struct evbus_bus *bus, struct evbus_file *ef,
			     u32 size)
{
	struct evbus_hist *h = &bus->hist;
	struct evbus_ring_mem *mem, *old;
	struct evbus_user *old_user;
	u32 old_size, old_charged;
	u64 head, tail;
	int ret;

	ret = evbus_hist_alloc(ef->user, size, &mem);
	if (ret)
		return ret;
	evbus_user_get_ref(ef->user);
	spin_lock(&bus->order_lock);
	old = h->mem;
	old_size = h->size;
	old_user = h->user;
	old_charged = h->charged;
	head = h->head;
	tail = h->tail;
	h->evicted += h->events;
	h->mem = mem;
	h->data = mem ? evbus_mem_data(mem) : NULL;
	h->size = size;
	h->head = tail;
	h->events = 0;
	h->user = ef->user;
	h->charged = size;
	spin_unlock(&bus->order_lock);

	if (old) {
		evbus_hist_drain(old, old_size, head, tail);
		evbus_ring_mem_free(old);
	}
	if (old_charged)
		evbus_user_uncharge(old_user, EVBUS_UC_HISTORY_BYTES, old_charged);
	evbus_user_put(old_user);
	return 0;
}

static void evbus_hist_report(struct evbus_bus *bus, struct evbus_history *out)
{
	struct evbus_hist *h = &bus->hist;

	spin_lock(&bus->order_lock);
	out->capacity = h->size;
	out->bytes = h->tail - h->head;
	out->events = h->events;
	if (h->events) {
		out->oldest_seq = evbus_hist_at(h, h->head)->seq;
		out->newest_seq = evbus_hist_at(h, h->tail - h->last_len)->seq;
	}
	out->next_seq = bus->seq + 1;
	out->evicted = h->evicted;
	out->skipped = h->skipped;
	out->retained = h->nr_retained;
	out->retained_bytes = h->retained_bytes;
	spin_unlock(&bus->order_lock);
}

/* EVBUS_IOC_HISTORY: size-versioned like EVBUS_IOC_BUS_STATS. */
long evbus_ioctl_history(struct file *file, void __user *argp)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_bus *bus = ef->bus;
	struct evbus_history hs;
	u64 max;
	u32 size;
	int ret;

	ret = evbus_copy_sized(&hs, sizeof(hs), argp, EVBUS_HISTORY_SIZE_VER0,
			       &size);
	if (ret)
		return ret;
	if ((hs.flags & ~EVBUS_HISTORY_SIZE_VALID) ||
	    memchr_inv(hs.reserved, 0, sizeof(hs.reserved)) || hs.bytes ||
	    hs.events || hs.oldest_seq || hs.newest_seq || hs.next_seq ||
	    hs.evicted || hs.skipped || hs.replayed || hs.retained ||
	    hs.retained_bytes)
		return -EINVAL;
	if (!(hs.flags & EVBUS_HISTORY_SET) && hs.capacity)
		return -EINVAL;
	if (hs.flags & EVBUS_HISTORY_SET) {
		max = READ_ONCE(evbus_limits.history_max);
		if (hs.capacity > max || evbus_hist_size(hs.capacity) > max)
			return -EINVAL;
		if (!evbus_bus_owner(bus, file))
			return -EPERM;
		ret = evbus_hist_resize(bus, ef, evbus_hist_size(hs.capacity));
		if (ret)
			return ret;
	}
	memset(&hs, 0, sizeof(hs));
	hs.size = sizeof(hs);
	evbus_hist_report(bus, &hs);
	hs.replayed = evbus_bus_replayed(bus);
	if (copy_to_user(argp, &hs, min_t(u32, size, sizeof(hs))))
		return -EFAULT;
	if (size > sizeof(hs) &&
	    clear_user(argp + sizeof(hs), size - sizeof(hs)))
		return -EFAULT;
	return 0;
}
