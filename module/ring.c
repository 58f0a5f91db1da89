// SPDX-License-Identifier: GPL-2.0
/*
 * evbus per-file rings: their memory, queueing records, overflow policies,
 * exact lag accounting, wake-ups and read().
 *
 * A publisher reserves a record under bus.order_lock and then r->lock
 * (evbus_ring_reserve), writes it with no lock held (evbus_ring_write) and
 * commits it under r->lock (evbus_ring_commit, or in the same hold as its
 * next reservation in this ring), as the BPF ring buffer does.  Readers take only r->lock and see records up to r->committed.
 * read() (and io_uring reads) copy records to userspace with page faults
 * disabled while holding r->lock, so the ring never has to pin or bounce
 * records; when a copy would fault, the lock is dropped, the user buffer
 * faulted in, and the walk restarts from the (possibly changed) head.
 *
 * The ring owns its memory: evbus_ring_alloc() on the first subscription,
 * evbus_ring_configure() to resize an empty ring, evbus_ring_free() when
 * the file is freed.  Memory is charged to the caller's memcg and to the
 * file's user (user.c).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/uio.h>

#include "evbus.h"
#include "trace.h"

/* Bytes read() copies per hold of ring.lock. */
#define EVBUS_READ_CHUNK	SZ_64K

u32 evbus_event_rec_len(u32 topic_len, u32 payload_len)
{
	return sizeof(struct evbus_event) + EVBUS_ALIGN(topic_len + 1) +
	       EVBUS_ALIGN(payload_len);
}

/* wake_delay_ns after the first record of a coalesced ring: wake readers. */
static enum hrtimer_restart evbus_wake_timer_fn(struct hrtimer *t)
{
	struct evbus_ring *r = container_of(t, struct evbus_ring, wake_timer);

	WRITE_ONCE(r->wake_expired, true);
	wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
	return HRTIMER_NORESTART;
}

void evbus_ring_init(struct evbus_ring *r, struct evbus_pcpu_stats __percpu *stats)
{
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	INIT_LIST_HEAD(&r->revoked_pending);
	r->stats = stats;
	r->policy = EVBUS_POLICY_DROP_OLDEST;
	/* Soft: the callback runs in softirq context, never in hardirq. */
	hrtimer_init(&r->wake_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	r->wake_timer.function = evbus_wake_timer_fn;
}

/* ------------------------------------------------------------ memory */

/*
 * Allocate the ring of a file that has none; the caller serialises ring
 * setup (evbus_file.lock).  0, -EDQUOT or -ENOMEM.
 */
int evbus_ring_alloc(struct evbus_ring *r, struct evbus_user *u, u32 size)
{
	void *data;

	if (r->data)
		return 0;
	if (evbus_user_charge(u, EVBUS_UC_RING_BYTES, size,
			      READ_ONCE(evbus_limits.max_user_ring_bytes)))
		return -EDQUOT;
	data = kvmalloc(size, EVBUS_GFP);
	if (!data) {
		evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
		return -ENOMEM;
	}
	spin_lock(&r->lock);
	r->data = data;
	r->size = size;
	spin_unlock(&r->lock);
	evbus_stats_ring_alloc(size);
	return 0;
}

/*
 * Undo evbus_ring_alloc() for a ring that never had a subscription, so no
 * publisher can have found it.
 */
void evbus_ring_discard(struct evbus_ring *r, struct evbus_user *u)
{
	void *data;
	u32 size;

	spin_lock(&r->lock);
	data = r->data;
	size = r->size;
	r->data = NULL;
	r->size = 0;
	spin_unlock(&r->lock);
	evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
	evbus_stats_ring_free(size);
	kvfree(data);
}

/* n notices were read or discarded: their subscriptions stop counting. */
static void evbus_ring_notices_gone(struct evbus_ring *r, u32 n)
{
	struct evbus_file *ef = container_of(r, struct evbus_file, ring);

	lockdep_assert_held(&r->lock);
	if (!n)
		return;
	WARN_ON_ONCE(r->revoked < n);
	r->revoked -= n;
	evbus_user_uncharge(ef->user, EVBUS_UC_SUBS, n);
}

/*
 * The file is closing: its ring takes nothing more, what it still holds
 * (reserved records included) is counted as discarded, and its memory
 * leaves its user's cap and the ring_bytes gauge.  Publishers that found
 * the file before it left the index may still write and commit reserved
 * slots; the memory goes in evbus_ring_free(), a grace period later.
 */
void evbus_ring_close(struct evbus_ring *r, struct evbus_user *u)
{
	struct evbus_revoke_notice *n, *tmp;
	LIST_HEAD(pending);

	spin_lock(&r->lock);
	r->closed = true;
	list_splice_init(&r->revoked_pending, &pending);
	evbus_ring_notices_gone(r, r->revoked);
	evbus_count(r->stats, discarded, r->queued);
	evbus_count(r->stats, queued_events, -(s64)r->queued);
	evbus_count(r->stats, queued_bytes, -(s64)r->queued_bytes);
	r->queued = 0;
	r->queued_bytes = 0;
	spin_unlock(&r->lock);
	list_for_each_entry_safe(n, tmp, &pending, link)
		evbus_sub_free(evbus_notice_sub(n));
	if (r->data) {
		evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, r->size);
		evbus_stats_ring_free(r->size);
	}
}

/* A grace period after evbus_ring_close(): nobody can touch the ring. */
void evbus_ring_free(struct evbus_ring *r)
{
	hrtimer_cancel(&r->wake_timer);
	kvfree(r->data);
	r->data = NULL;
	r->size = 0;
}

static inline void *evbus_ring_at(struct evbus_ring *r, u64 pos)
{
	return r->data + (pos & (r->size - 1));
}

static inline bool evbus_ring_empty(struct evbus_ring *r)
{
	return r->head == r->tail;
}

/* ---------------------------------------------------------- wake-ups */

/*
 * Coalesced ring: the watermark is reached, three quarters of the ring are
 * in use, or something was lost.
 */
static void evbus_ring_update_ready(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (r->wake_events &&
	    (r->queued >= r->wake_events || r->head_lag.count ||
	     r->tail_lag.count || (r->tail - r->head) >= r->size / 4 * 3))
		WRITE_ONCE(r->wake_ready, true);
}

/* A drained ring starts a new coalescing period. */
static void evbus_ring_wake_reset(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	WRITE_ONCE(r->wake_ready, false);
	WRITE_ONCE(r->wake_expired, false);
}

/* SET_RING: events 0 turns coalescing off. */
static void evbus_ring_set_wake(struct evbus_ring *r, u32 events, u64 delay_ns)
{
	lockdep_assert_held(&r->lock);
	WRITE_ONCE(r->wake_events, events);
	WRITE_ONCE(r->wake_delay_ns, delay_ns);
	evbus_ring_wake_reset(r);
	evbus_ring_update_ready(r);
	/*
	 * Records already queued wait at most one delay from now; a timer
	 * queued for an older, longer delay must not outlive the new one.
	 */
	if (events && delay_ns && evbus_ring_has_data(r))
		hrtimer_start(&r->wake_timer, ns_to_ktime(delay_ns),
			      HRTIMER_MODE_REL_SOFT);
	else
		hrtimer_try_to_cancel(&r->wake_timer);
}

/*
 * A record was committed into a coalesced ring that had nothing to read
 * (was_empty): a new period, so arm the timer.  A timer still queued from
 * an earlier one expires sooner than a new one would: keep it and save the
 * re-arm (under a steady stream, one timer per delay instead of one per
 * batch); it, or a callback still running, may wake the reader early, no
 * more.
 */
static void evbus_ring_wake_period(struct evbus_ring *r, bool was_empty)
{
	lockdep_assert_held(&r->lock);
	evbus_ring_update_ready(r);
	if (!was_empty || r->wake_ready || !r->wake_delay_ns)
		return;
	WRITE_ONCE(r->wake_expired, false);
	if (!hrtimer_is_queued(&r->wake_timer))
		hrtimer_start(&r->wake_timer, ns_to_ktime(r->wake_delay_ns),
			      HRTIMER_MODE_REL_SOFT);
}

/* ------------------------------------------------------ configuration */

/*
 * SET_RING, validated by the caller, under evbus_file.lock: a new size
 * (0 keeps it) needs an empty ring with nothing reserved; policy and
 * wake-up settings always apply.  0 or -errno, with the ring unchanged on
 * error.
 */
int evbus_ring_configure(struct evbus_ring *r, struct evbus_user *u,
			 const struct evbus_ring_cfg *cfg, u32 size)
{
	void *data = NULL, *old = NULL;
	u32 old_size = r->size;		/* stable: evbus_file.lock */
	bool readable = false;
	int ret = 0;

	if (size && size != old_size) {
		/* The old ring is given back right after: judge as if it were. */
		ret = evbus_user_charge(u, EVBUS_UC_RING_BYTES, size,
					(u64)READ_ONCE(evbus_limits.max_user_ring_bytes) +
					old_size);
		if (ret)
			return ret;
		data = kvmalloc(size, EVBUS_GFP);
		if (!data) {
			evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
			return -ENOMEM;
		}
	}

	spin_lock(&r->lock);
	if (data && (!evbus_ring_empty(r) || r->head_lag.count)) {
		ret = -EBUSY;
	} else {
		if (data) {
			old = r->data;
			r->data = data;
			r->size = size;
			r->head = 0;
			r->committed = 0;
			r->tail = 0;
		}
		r->policy = cfg->policy;
		evbus_ring_set_wake(r, cfg->wake_events, cfg->wake_delay_ns);
		readable = evbus_ring_readable(r);
	}
	spin_unlock(&r->lock);

	/* A lower watermark (or none) may have made queued records due. */
	if (readable)
		wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
	if (ret) {			/* EBUSY: the new memory goes */
		evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
		kvfree(data);
		return ret;
	}
	if (data) {
		evbus_stats_ring_alloc(size);
		if (old) {
			evbus_stats_ring_free(old_size);
			evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, old_size);
			kvfree(old);
		}
	}
	return 0;
}

void evbus_ring_get_cfg(struct evbus_ring *r, struct evbus_ring_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	spin_lock(&r->lock);
	cfg->size = r->size;
	cfg->policy = r->policy;
	if (r->wake_events) {
		cfg->flags = EVBUS_RING_WAKE;
		cfg->wake_events = r->wake_events;
		cfg->wake_delay_ns = r->wake_delay_ns;
	}
	spin_unlock(&r->lock);
}

void evbus_ring_fill_stats(struct evbus_ring *r, struct evbus_stats *st)
{
	spin_lock(&r->lock);
	st->queued_events = r->queued;
	st->queued_bytes = r->queued_bytes;
	st->delivered = r->delivered;
	st->lost = r->lost;
	st->lag_records = r->lag_records;
	st->capacity = r->size;
	st->policy = r->policy;
	spin_unlock(&r->lock);
}

/* ------------------------------------------------------------ queueing */

static void evbus_lag_add(struct evbus_lag *lag, u64 count, u64 first, u64 last)
{
	if (!lag->count)
		lag->first = first;
	lag->last = last;
	lag->count += count;
}

/* An empty ring has no tail_lag: the two runs are adjacent, merge them. */
static void evbus_ring_normalize(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (!evbus_ring_empty(r))
		return;
	r->head = 0;
	r->committed = 0;
	r->tail = 0;
	WARN_ON_ONCE(r->queued || r->queued_bytes);
	if (!r->head_lag.count && !r->tail_lag.count)
		evbus_ring_wake_reset(r);
	if (r->tail_lag.count) {
		evbus_lag_add(&r->head_lag, r->tail_lag.count,
			      r->tail_lag.first, r->tail_lag.last);
		memset(&r->tail_lag, 0, sizeof(r->tail_lag));
	}
}

/* Bytes a run of records would take from tail on, fillers included. */
static u64 evbus_ring_need(struct evbus_ring *r, const u32 *lens, int n)
{
	u64 pos = r->tail;
	int i;

	for (i = 0; i < n; i++) {
		u64 off = pos & (r->size - 1);

		if (off + lens[i] > r->size)
			pos += r->size - off;
		pos += lens[i];
	}
	return pos - r->tail;
}

/* Fold the committed record at head into head_lag (events count as lost). */
static void evbus_ring_drop_head(struct evbus_ring *r)
{
	struct evbus_rec_hdr *h = evbus_ring_at(r, r->head);

	lockdep_assert_held(&r->lock);
	if (h->kind == EVBUS_REC_EVENT) {
		struct evbus_event *ev = (struct evbus_event *)h;

		evbus_lag_add(&r->head_lag, 1, ev->seq, ev->seq);
		r->lost++;
		r->queued--;
		evbus_count(r->stats, lost, 1);
		trace_evbus_drop(r->file_id, ev->seq, true, r->lost);
		evbus_count(r->stats, queued_events, -1);
	} else if (h->kind == EVBUS_REC_LAGGED) {
		struct evbus_lagged *lg = (struct evbus_lagged *)h;

		evbus_lag_add(&r->head_lag, lg->lost, lg->first_seq,
			      lg->last_seq);
	}
	if (h->kind != EVBUS_REC_PAD) {
		r->queued_bytes -= h->len;
		evbus_count(r->stats, queued_bytes, -(s64)h->len);
	}
	r->head += h->len;
}

/* Can the record at head be evicted?  Not a REVOKED notice: never lost. */
static bool evbus_ring_evictable(struct evbus_ring *r)
{
	return r->head != r->committed &&
	       ((struct evbus_rec_hdr *)evbus_ring_at(r, r->head))->kind !=
	       EVBUS_REC_REVOKED;
}

/*
 * Evict the oldest record.  A LAGGED record (or filler) that becomes the
 * head is folded in too: it is adjacent to head_lag, and consecutive
 * losses are reported as one record.  Reserved records and REVOKED
 * notices are never touched.
 */
static void evbus_ring_evict(struct evbus_ring *r)
{
	evbus_ring_drop_head(r);
	while (r->head != r->committed) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, r->head);

		if (h->kind == EVBUS_REC_EVENT || h->kind == EVBUS_REC_REVOKED)
			break;
		evbus_ring_drop_head(r);
	}
}

/* Take len contiguous bytes at tail; the caller checked the space. */
static void *evbus_ring_take(struct evbus_ring *r, u32 len)
{
	u64 off = r->tail & (r->size - 1);
	void *p;

	if (off + len > r->size) {
		struct evbus_rec_hdr *pad = evbus_ring_at(r, r->tail);

		/* Zeroed: a mapped ring must not show stale kernel bytes. */
		memset(pad, 0, r->size - off);
		pad->len = r->size - off;
		pad->kind = EVBUS_REC_PAD;
		pad->hdr_len = sizeof(*pad);
		r->tail += pad->len;
	}
	p = evbus_ring_at(r, r->tail);
	r->tail += len;
	return p;
}

static void evbus_ring_put_lag(struct evbus_ring *r, const struct evbus_lag *lag)
{
	struct evbus_lagged *lg = evbus_ring_take(r, EVBUS_LAG_REC_LEN);

	memset(lg, 0, sizeof(*lg));
	lg->hdr.len = EVBUS_LAG_REC_LEN;
	lg->hdr.kind = EVBUS_REC_LAGGED;
	lg->hdr.hdr_len = sizeof(*lg);
	lg->lost = lag->count;
	lg->first_seq = lag->first;
	lg->last_seq = lag->last;
	r->queued_bytes += EVBUS_LAG_REC_LEN;
	evbus_count(r->stats, queued_bytes, EVBUS_LAG_REC_LEN);
}

/*
 * Make room for a record of len bytes (and a pending LAGGED record): true
 * if it fits now.  evict: drop the oldest records if needed.
 */
static bool evbus_ring_make_room(struct evbus_ring *r, u32 len, bool evict)
{
	u32 lens[2];
	int n;

	for (;;) {
		evbus_ring_normalize(r);
		n = 0;
		if (r->tail_lag.count)
			lens[n++] = EVBUS_LAG_REC_LEN;
		lens[n++] = len;
		if (evbus_ring_need(r, lens, n) <= r->size - (r->tail - r->head))
			return true;
		/*
		 * Evicting cannot help a record larger than the whole ring,
		 * nor get past one that is still being written.
		 */
		if (!evict || !evbus_ring_evictable(r) || len > r->size)
			return false;
		evbus_ring_evict(r);
	}
}

/* Move committed over every finished record that follows it. */
static void evbus_ring_advance(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	while (r->committed != r->tail) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, r->committed);

		if (h->kind == EVBUS_REC_RESERVED)
			break;
		WRITE_ONCE(r->committed, r->committed + h->len);
	}
}

/*
 * Finish a written slot: readers may take it once every record before it
 * is finished too.  Returns true if the ring became readable, i.e. a
 * reader needs a wake-up.  A coalesced ring that gets its first record
 * arms the wake timer instead.
 */
static bool evbus_ring_commit_locked(struct evbus_ring *r,
				     struct evbus_rec_hdr *slot)
{
	struct evbus_event *ev = container_of(slot, struct evbus_event, hdr);
	bool was_readable, was_empty;

	lockdep_assert_held(&r->lock);
	was_empty = r->head == r->committed && !r->head_lag.count;
	was_readable = evbus_ring_readable(r);
	slot->kind = EVBUS_REC_EVENT;
	evbus_ring_advance(r);
	if (r->wake_events)
		evbus_ring_wake_period(r, was_empty);
	trace_evbus_deliver(r->file_id, ev->seq, r->queued);
	return !was_readable && evbus_ring_readable(r);
}

bool evbus_ring_commit(struct evbus_ring *r, struct evbus_rec_hdr *slot)
{
	bool wake;

	spin_lock(&r->lock);
	wake = evbus_ring_commit_locked(r, slot);
	spin_unlock(&r->lock);
	return wake;
}

/*
 * Reserve the record of m, or count m lost for this file; caller holds
 * bus.order_lock, so rings get records in seq order.  Returns the slot to
 * write and commit, or NULL.  prev, if not NULL, is the caller's previous
 * slot in this ring, now written: it is committed first, under the same
 * hold of r->lock.  *wake is set if that, or a loss, made the ring
 * readable.  Work: O(1) plus the records evicted.  A closed ring takes
 * nothing and counts no delivery.
 */
struct evbus_rec_hdr *evbus_ring_reserve(struct evbus_ring *r,
					 const struct evbus_msg *m,
					 struct evbus_rec_hdr *prev, bool *wake)
{
	struct evbus_rec_hdr *h = NULL;
	bool was_readable;

	spin_lock(&r->lock);
	/* The caller's previous slot here, written since: one lock for both. */
	if (prev)
		*wake |= evbus_ring_commit_locked(r, prev);
	if (r->closed)
		goto out;
	evbus_count(r->stats, deliveries, 1);
	was_readable = evbus_ring_readable(r);
	if (!evbus_ring_make_room(r, m->rec_len,
				  r->policy == EVBUS_POLICY_DROP_OLDEST)) {
		/* An empty ring keeps its losses in head_lag (see normalize). */
		evbus_lag_add(evbus_ring_empty(r) ? &r->head_lag : &r->tail_lag,
			      1, m->seq, m->seq);
		r->lost++;
		evbus_count(r->stats, lost, 1);
		trace_evbus_drop(r->file_id, m->seq, false, r->lost);
		evbus_ring_update_ready(r);
		*wake |= !was_readable && evbus_ring_readable(r);
		goto out;
	}
	if (r->tail_lag.count) {
		evbus_ring_put_lag(r, &r->tail_lag);
		memset(&r->tail_lag, 0, sizeof(r->tail_lag));
	}
	h = evbus_ring_take(r, m->rec_len);
	h->len = m->rec_len;
	h->kind = EVBUS_REC_RESERVED;
	h->hdr_len = sizeof(struct evbus_event);
	r->queued++;
	r->queued_bytes += m->rec_len;
	evbus_count(r->stats, queued_events, 1);
	evbus_count(r->stats, queued_bytes, m->rec_len);
out:
	spin_unlock(&r->lock);
	return h;
}

/*
 * Write the event record into a reserved slot, with no lock held: the slot
 * is the publisher's until it commits.  Every byte is written: padding
 * (1..8 bytes after the topic, 0..7 after the payload) lies within the
 * field's last 8-byte word, zeroed before the copy over it.
 */
void evbus_ring_write(struct evbus_rec_hdr *slot, const struct evbus_msg *m,
		      const struct evbus_ident *id)
{
	struct evbus_event *ev = container_of(slot, struct evbus_event, hdr);
	u32 toff = sizeof(*ev), tpad = EVBUS_ALIGN(m->topic_len + 1), ppad;
	char *p;

	ev->topic_len = m->topic_len;
	ev->payload_len = m->payload_len;
	ev->seq = m->seq;
	ev->time_ns = m->time_ns;
	ev->mono_ns = m->mono_ns;
	ev->pid = id->pid;
	ev->tid = id->tid;
	ev->uid = id->uid;
	ev->gid = id->gid;
	ev->type = m->type;
	ev->flags = 0;
	ev->corr = m->corr;
	ev->parent = m->parent;

	p = (char *)ev + toff;
	*(u64 *)(p + tpad - 8) = 0;
	memcpy(p, m->topic, m->topic_len);
	p += tpad;
	ppad = m->rec_len - toff - tpad;
	if (ppad) {
		*(u64 *)(p + ppad - 8) = 0;
		memcpy(p, m->payload, m->payload_len);
	}
}

/*
 * REVOKED notices.  A revoked subscription's notice (struct
 * evbus_revoke_notice, in its entry) must reach the reader and must never
 * make the revoker wait for it: it is queued under either policy by
 * evicting the oldest events (counted and reported as lost, as always),
 * and is never evicted itself.  When even that cannot make room (the
 * oldest record is an unread notice, or one still being written) it waits
 * on revoked_pending, and read() queues it once it has made room; its seq
 * tells the reader where the subscription ended either way.
 */

/* A subscription of this ring's file is being revoked: count its notice. */
void evbus_ring_revoke_begin(struct evbus_ring *r)
{
	spin_lock(&r->lock);
	r->revoked++;
	spin_unlock(&r->lock);
}

/* Queue notice n if it fits now (evicting events); true if it did. */
static bool evbus_ring_queue_notice(struct evbus_ring *r,
				    const struct evbus_revoke_notice *n)
{
	struct evbus_revoked *rv;

	lockdep_assert_held(&r->lock);
	if (!evbus_ring_make_room(r, sizeof(*rv), true))
		return false;
	if (r->tail_lag.count) {
		evbus_ring_put_lag(r, &r->tail_lag);
		memset(&r->tail_lag, 0, sizeof(r->tail_lag));
	}
	rv = evbus_ring_take(r, sizeof(*rv));
	memset(rv, 0, sizeof(*rv));
	rv->hdr.len = sizeof(*rv);
	rv->hdr.kind = EVBUS_REC_REVOKED;
	rv->hdr.hdr_len = sizeof(*rv);
	rv->sub_id = n->sub_id;
	rv->reason = n->reason;
	rv->seq = n->seq;
	r->queued_bytes += sizeof(*rv);
	evbus_count(r->stats, queued_bytes, sizeof(*rv));
	evbus_ring_advance(r);
	return true;
}

/* Queue the pending notices that fit now, oldest first; r->lock held. */
static void evbus_ring_flush_revoked(struct evbus_ring *r)
{
	struct evbus_revoke_notice *n, *tmp;

	list_for_each_entry_safe(n, tmp, &r->revoked_pending, link) {
		if (!evbus_ring_queue_notice(r, n))
			break;
		list_del(&n->link);
		evbus_sub_free(evbus_notice_sub(n));
	}
}

/*
 * Hand the notice of a revoked (unlinked, unreachable) subscription to its
 * reader; the subscription entry goes with it.  Never waits.
 */
void evbus_ring_put_revoked(struct evbus_ring *r, struct evbus_revoke_notice *n)
{
	bool wake;

	spin_lock(&r->lock);
	if (r->closed) {
		evbus_ring_notices_gone(r, 1);
		spin_unlock(&r->lock);
		evbus_sub_free(evbus_notice_sub(n));
		return;
	}
	wake = !evbus_ring_readable(r);
	r->wake_ready = true;		/* a notice is worth a wake-up */
	if (list_empty(&r->revoked_pending) && evbus_ring_queue_notice(r, n)) {
		evbus_sub_free(evbus_notice_sub(n));
	} else {
		list_add_tail(&n->link, &r->revoked_pending);
		wake = true;		/* the reader makes room for it */
	}
	wake = wake && evbus_ring_readable(r);
	spin_unlock(&r->lock);
	if (wake)
		wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
}

/* ---------------------------------------------------------------- read */

/*
 * Copy records to the iterator with page faults disabled (we hold
 * r->lock).  All or nothing: a short copy is undone and reported.
 */
static bool evbus_copy_rec(const void *rec, size_t len, struct iov_iter *to)
{
	size_t n;

	pagefault_disable();
	n = copy_to_iter(rec, len, to);
	pagefault_enable();
	if (n == len)
		return true;
	iov_iter_revert(to, n);
	return false;
}

struct evbus_run {
	u32 events;
	u32 lags;
	u32 revoked;
};

/*
 * The run of whole committed records from head that read() copies with one
 * copy_to_iter(): contiguous in memory (it stops at a filler and where the
 * ring wraps), at most space bytes, and more than budget bytes only when
 * the first record alone is.  Returns its length, 0 if the first record
 * does not fit in space.
 */
static u32 evbus_ring_run(struct evbus_ring *r, size_t space, size_t budget,
			  struct evbus_run *run)
{
	u64 pos = r->head;
	u32 len = 0;

	lockdep_assert_held(&r->lock);
	run->events = 0;
	run->lags = 0;
	run->revoked = 0;
	while (pos != r->committed) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, pos);

		if (h->kind == EVBUS_REC_PAD || len + h->len > space ||
		    (len && (len + h->len > budget || !(pos & (r->size - 1)))))
			break;
		if (h->kind == EVBUS_REC_EVENT)
			run->events++;
		else if (h->kind == EVBUS_REC_LAGGED)
			run->lags++;
		else if (h->kind == EVBUS_REC_REVOKED)
			run->revoked++;
		len += h->len;
		pos += h->len;
	}
	return len;
}

/* Account a run of records that was copied out. */
static void evbus_ring_consume(struct evbus_ring *r, u32 len,
			       const struct evbus_run *run)
{
	r->delivered += run->events;
	r->queued -= run->events;
	evbus_count(r->stats, read_events, run->events);
	evbus_count(r->stats, queued_events, -(s64)run->events);
	if (run->lags) {
		r->lag_records += run->lags;
		evbus_count(r->stats, lag_records, run->lags);
	}
	evbus_ring_notices_gone(r, run->revoked);
	r->queued_bytes -= len;
	evbus_count(r->stats, queued_bytes, -(s64)len);
	r->head += len;
}

/* Copy the pending head_lag out as a LAGGED record: bytes, 0 or -errno. */
static int evbus_ring_read_lag(struct evbus_ring *r, struct iov_iter *to,
			       size_t room)
{
	struct evbus_lagged lg = {
		.hdr.len = sizeof(lg),
		.hdr.kind = EVBUS_REC_LAGGED,
		.hdr.hdr_len = sizeof(lg),
		.lost = r->head_lag.count,
		.first_seq = r->head_lag.first,
		.last_seq = r->head_lag.last,
	};

	if (sizeof(lg) > room)
		return -EINVAL;
	if (!evbus_copy_rec(&lg, sizeof(lg), to))
		return -EFAULT;
	memset(&r->head_lag, 0, sizeof(r->head_lag));
	r->lag_records++;
	evbus_count(r->stats, lag_records, 1);
	return sizeof(lg);
}

/*
 * Copy whole records to the iterator.  Returns bytes copied, -EAGAIN if
 * there is nothing to read, -EINVAL if the next record does not fit, or
 * -EFAULT if the buffer is bad before anything was copied.  Runs of
 * adjacent records go out with one copy; where the buffer turns bad part
 * way, the records before the bad byte are still returned.
 */
ssize_t evbus_ring_read(struct evbus_ring *r, struct iov_iter *to)
{
	size_t copied = 0, held, want = 0, room, good = SIZE_MAX, left;
	bool too_small = false;
	struct evbus_run run;
	int n;

retry:
	spin_lock(&r->lock);
	evbus_ring_flush_revoked(r);
	for (held = 0;; held += want) {
		struct evbus_rec_hdr *h;

		if (evbus_ring_empty(r))
			evbus_ring_normalize(r);
		/* good: bytes of the buffer known to be writable, if limited */
		room = min(iov_iter_count(to), good);

		/* Step 1: losses before the oldest record come first. */
		if (r->head_lag.count) {
			want = sizeof(struct evbus_lagged);
			n = evbus_ring_read_lag(r, to, room);
			if (n == -EFAULT)
				goto fault;
			if (n < 0) {
				too_small = true;
				break;
			}
			goto copied;
		}
		/* Step 2: committed records, skipping a filler. */
		if (r->head == r->committed)
			break;
		h = evbus_ring_at(r, r->head);
		if (h->kind == EVBUS_REC_PAD) {
			r->head += h->len;
			want = 0;
			continue;
		}
		/* Bound the time writers can spin on r->lock behind us. */
		if (held >= EVBUS_READ_CHUNK) {
			spin_unlock(&r->lock);
			cond_resched();
			goto retry;
		}
		/* Step 3: one copy for the run of records that fits. */
		want = evbus_ring_run(r, room, EVBUS_READ_CHUNK - held, &run);
		if (!want) {
			too_small = true;
			break;
		}
		if (!evbus_copy_rec(h, want, to))
			goto fault;
		evbus_ring_consume(r, want, &run);
copied:
		copied += want;
		if (good != SIZE_MAX)
			good -= want;
	}
	/* What was read made room: pending notices come next. */
	evbus_ring_flush_revoked(r);
	spin_unlock(&r->lock);

	if (copied) {
		evbus_count(r->stats, read_bytes, copied);
		return copied;
	}
	if (too_small)
		return good == SIZE_MAX ? -EINVAL : -EFAULT;
	return -EAGAIN;

fault:
	spin_unlock(&r->lock);
	/*
	 * Fault the destination in with the lock dropped, then try again,
	 * only as far as it could be faulted in.
	 */
	left = fault_in_iov_iter_writeable(to, want);
	if (left == want) {
		if (!copied)
			return -EFAULT;
		evbus_count(r->stats, read_bytes, copied);
		return copied;
	}
	if (left)
		good = want - left;
	cond_resched();
	goto retry;
}
