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
 * The ring owns its memory (mmap.c): evbus_ring_alloc() on the first
 * subscription, evbus_ring_configure() to resize an empty, unmapped ring,
 * evbus_ring_free() when the file is freed.  Memory is charged to the
 * caller's memcg and to the file's user (user.c).  The data is mapped
 * twice in a row, so records never wrap and need no fillers.
 *
 * A mapped reader consumes by moving consumer_pos in the control page;
 * the kernel catches up under r->lock when it needs to know (room is
 * short, read(), poll(), statistics): evbus_ring_sync() walks the records
 * from head up to that position, and counts them read as read() would.
 * The walk is bounded by the ring's size and each record is walked once.
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

void evbus_ring_init(struct evbus_ring *r, struct evbus_pcpu_stats __percpu *stats)
{
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	INIT_LIST_HEAD(&r->revoked_pending);
	r->stats = stats;
	r->policy = EVBUS_POLICY_DROP_OLDEST;
	evbus_wake_init(r);
}

/* ------------------------------------------------------------ memory */

/* Make mem the ring's memory; r->lock held or the ring not yet shared. */
static void evbus_ring_set_mem(struct evbus_ring *r, struct evbus_ring_mem *mem,
			       u32 size)
{
	r->mem = mem;
	r->data = evbus_mem_data(mem);
	r->ctl = evbus_mem_ctl(mem);
	r->mhdr = evbus_mem_hdr(mem);
	r->size = size;
	r->head = 0;
	r->committed = 0;
	r->tail = 0;
	r->mhdr->flags = r->policy == EVBUS_POLICY_DROP_OLDEST ?
			 EVBUS_MMAP_OVERWRITE : 0;
}

/*
 * Allocate the ring of a file that has none; the caller serialises ring
 * setup (evbus_file.lock).  0, -EDQUOT or -ENOMEM.
 */
int evbus_ring_alloc(struct evbus_ring *r, struct evbus_user *u, u32 size)
{
	struct evbus_ring_mem *mem;

	if (r->mem)
		return 0;
	if (evbus_user_charge(u, EVBUS_UC_RING_BYTES, size,
			      READ_ONCE(evbus_limits.max_user_ring_bytes)))
		return -EDQUOT;
	mem = evbus_ring_mem_alloc(size);
	if (!mem) {
		evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
		return -ENOMEM;
	}
	spin_lock(&r->lock);
	evbus_ring_set_mem(r, mem, size);
	spin_unlock(&r->lock);
	evbus_stats_ring_alloc(size);
	return 0;
}

/*
 * Undo evbus_ring_alloc() for a ring that never had a subscription, so no
 * publisher can have found it.  mmap() does not take evbus_file.lock, so
 * the ring may have been mapped meanwhile: then it stays, with the file.
 */
void evbus_ring_discard(struct evbus_ring *r, struct evbus_user *u)
{
	struct evbus_ring_mem *mem;
	u32 size;

	spin_lock(&r->lock);
	if (r->mapped) {
		/* Keep it: a mapping pins it; it goes with the file. */
		spin_unlock(&r->lock);
		return;
	}
	mem = r->mem;
	size = r->size;
	r->mem = NULL;
	r->data = NULL;
	r->ctl = NULL;
	r->mhdr = NULL;
	r->size = 0;
	spin_unlock(&r->lock);
	evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
	evbus_stats_ring_free(size);
	evbus_ring_mem_free(mem);
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

/* A notice is written or will never be: whatever holds it goes. */
static void evbus_notice_free(struct evbus_notice *n)
{
	if (n->kind == EVBUS_REC_REVOKED)
		evbus_sub_free(evbus_notice_sub(n));
	else
		kfree(n);
}

/*
 * A grace period after evbus_ring_close(), and after the last mapping went
 * (a vma holds the file): nobody can touch the ring.
 */
void evbus_ring_free(struct evbus_ring *r)
{
	evbus_room_put(r->room);
	r->room = NULL;
	evbus_wake_free(r);
	evbus_ring_mem_free(r->mem);
	r->mem = NULL;
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

/* ---------------------------------------------------- mapped readers */

/* Records of each kind in a run that was read or consumed. */
struct evbus_run {
	u32 events;
	u32 lags;
	u32 revoked;
	u32 others;			/* requests, CANCELLED notices */
};

static void evbus_run_add(struct evbus_run *run, const struct evbus_rec_hdr *h)
{
	if (h->kind == EVBUS_REC_EVENT)
		run->events++;
	else if (h->kind == EVBUS_REC_LAGGED)
		run->lags++;
	else if (h->kind == EVBUS_REC_REVOKED)
		run->revoked++;
	else
		run->others++;
}


/* Account a run of records that the reader took (read() or the mapping). */
static void evbus_ring_consume(struct evbus_ring *r, u32 len,
			       const struct evbus_run *run);

/*
 * Catch up with a reader that consumed up to position c: whole records
 * only, so a position inside a record counts up to that record's start,
 * and one behind head or beyond committed (or EVBUS_MMAP_BUSY) counts
 * nothing.  Nothing the reader writes makes the kernel look outside
 * [head, committed).  Work: the records consumed, each walked once.
 */
static void evbus_ring_catch_up(struct evbus_ring *r, u64 c)
{
	struct evbus_run run = {};
	u64 pos = r->head;

	lockdep_assert_held(&r->lock);
	if (c - pos > r->committed - pos)
		return;
	while (pos != c) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, pos);

		if (h->len > c - pos)
			break;
		evbus_run_add(&run, h);
		pos += h->len;
	}
	if (pos != r->head) {
		evbus_count(r->stats, read_bytes, pos - r->head);
		evbus_ring_consume(r, pos - r->head, &run);
	}
}

/*
 * Learn how far a mapped reader got.  Acquire pairs with the reader's
 * release of consumer_pos: its reads of the records are done before the
 * kernel reuses their space.
 */
static void evbus_ring_sync(struct evbus_ring *r)
{
	if (r->mem)
		evbus_ring_catch_up(r, smp_load_acquire(&r->ctl->consumer_pos));
}

/*
 * The file is closing: its ring takes nothing more, what a mapped reader
 * took before it went counts as read, what the ring still holds (reserved
 * records included) is counted as discarded, and its memory
 * leaves its user's cap and the ring_bytes gauge.  Publishers that found
 * the file before it left the index may still write and commit reserved
 * slots; the memory goes in evbus_ring_free(), a grace period later.
 */
void evbus_ring_close(struct evbus_ring *r, struct evbus_user *u)
{
	struct evbus_notice *n, *tmp;
	LIST_HEAD(pending);

	spin_lock(&r->lock);
	r->closed = true;
	evbus_ring_sync(r);
	evbus_room_made(r, true);	/* waiting publishers stop */
	list_splice_init(&r->revoked_pending, &pending);
	evbus_ring_notices_gone(r, r->revoked);
	evbus_count(r->stats, discarded, r->queued);
	evbus_count(r->stats, queued_events, -(s64)r->queued);
	evbus_count(r->stats, queued_bytes, -(s64)r->queued_bytes);
	r->queued = 0;
	r->queued_bytes = 0;
	spin_unlock(&r->lock);
	list_for_each_entry_safe(n, tmp, &pending, link)
		evbus_notice_free(n);
	if (r->mem) {
		evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, r->size);
		evbus_stats_ring_free(r->size);
	}
}

/*
 * Take the head for the kernel (read(), evictions): a mapped reader's
 * compare-and-swap of consumer_pos now fails, so what it copied before is
 * either counted consumed here or discarded by it, never both.  Released
 * by evbus_ring_unclaim() in the same hold of r->lock; a claim inside a
 * claim (an eviction for a notice that read() queues) is the outer one's.
 * Returns whether this call claimed.
 */
static bool evbus_ring_claim(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (r->claimed)
		return false;
	evbus_ring_catch_up(r, xchg(&r->ctl->consumer_pos, EVBUS_MMAP_BUSY));
	r->claimed = true;
	return true;
}

static void evbus_ring_unclaim(struct evbus_ring *r, bool claimed)
{
	if (!claimed)
		return;
	r->claimed = false;
	/* After every record the reader may now read was written. */
	smp_store_release(&r->ctl->consumer_pos, r->head);
}

/* ------------------------------------------------------ configuration */

/*
 * SET_RING, validated by the caller, under evbus_file.lock: a new size
 * (0 keeps it) needs an empty ring with nothing reserved; policy and
 * wake-up settings always apply.  A mapped ring keeps its size and policy
 * (a reader relies on both).  0 or -errno, with the ring unchanged on
 * error.
 */
int evbus_ring_configure(struct evbus_ring *r, struct evbus_user *u,
			 const struct evbus_ring_cfg *cfg, u32 size)
{
	struct evbus_ring_mem *mem = NULL, *old = NULL;
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
		mem = evbus_ring_mem_alloc(size);
		if (!mem) {
			evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
			return -ENOMEM;
		}
	}

	spin_lock(&r->lock);
	if (r->mapped && (mem || cfg->policy != r->policy)) {
		ret = -EBUSY;
	} else if (mem && (!evbus_ring_empty(r) || r->tail_lag.count)) {
		ret = -EBUSY;
	} else {
		r->policy = cfg->policy;
		r->wait_ns = cfg->wait_ns;
		/* Publishers waiting for room may not have to any more. */
		evbus_room_made(r, false);
		if (mem) {
			old = r->mem;
			evbus_ring_set_mem(r, mem, size);
		} else if (r->mhdr) {
			r->mhdr->flags = r->policy == EVBUS_POLICY_DROP_OLDEST ?
					 EVBUS_MMAP_OVERWRITE : 0;
		}
		evbus_wake_set(r, cfg->flags ? cfg->flags : EVBUS_RING_ADAPTIVE,
			       cfg->wake_events, cfg->wake_delay_ns);
		readable = evbus_ring_readable(r);
	}
	spin_unlock(&r->lock);

	/* A lower watermark (or none) may have made queued records due. */
	if (readable)
		wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
	if (ret) {			/* EBUSY: new memory, if any, goes */
		if (mem) {
			evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, size);
			evbus_ring_mem_free(mem);
		}
		return ret;
	}
	if (mem) {
		evbus_stats_ring_alloc(size);
		if (old) {
			evbus_stats_ring_free(old_size);
			evbus_user_uncharge(u, EVBUS_UC_RING_BYTES, old_size);
			evbus_ring_mem_free(old);
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
	cfg->wait_ns = r->wait_ns;
	evbus_wake_get(r, cfg);
	spin_unlock(&r->lock);
}

void evbus_ring_fill_stats(struct evbus_ring *r, struct evbus_stats *st)
{
	spin_lock(&r->lock);
	evbus_ring_sync(r);
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

/*
 * Losses arrive in seq order, except retained values (queued with their
 * original seqs): the range covers them all either way.
 */
static void evbus_lag_add(struct evbus_lag *lag, u64 count, u64 first, u64 last)
{
	if (!lag->count || first < lag->first)
		lag->first = first;
	if (!lag->count || last > lag->last)
		lag->last = last;
	lag->count += count;
}

/* A drained ring with no loss to report starts a new wake-up period. */
static void evbus_ring_idle(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (!evbus_ring_empty(r))
		return;
	WARN_ON_ONCE(r->queued || r->queued_bytes);
	if (!r->tail_lag.count)
		evbus_wake_reset(r);
}

/* Fold the committed record at head into *gone (events count as lost). */
static void evbus_ring_drop_head(struct evbus_ring *r, struct evbus_lag *gone)
{
	struct evbus_rec_hdr *h = evbus_ring_at(r, r->head);

	lockdep_assert_held(&r->lock);
	if (h->kind == EVBUS_REC_EVENT) {
		struct evbus_event *ev = (struct evbus_event *)h;

		evbus_lag_add(gone, 1, ev->seq, ev->seq);
		r->lost++;
		r->queued--;
		evbus_count(r->stats, lost, 1);
		trace_evbus_drop(r->file_id, ev->seq, true, r->lost);
		evbus_count(r->stats, queued_events, -1);
	} else if (h->kind == EVBUS_REC_LAGGED) {
		struct evbus_lagged *lg = (struct evbus_lagged *)h;

		evbus_lag_add(gone, lg->lost, lg->first_seq, lg->last_seq);
		gone->flags |= lg->flags;
	}
	r->queued_bytes -= h->len;
	evbus_count(r->stats, queued_bytes, -(s64)h->len);
	r->head += h->len;
}

/*
 * Can an event be evicted: is the first record from head that is not a
 * LAGGED record a committed event?  Reserved records, notices and
 * requests are never evicted, nor anything after them.
 */
static bool evbus_ring_evictable(struct evbus_ring *r)
{
	u64 pos;

	for (pos = r->head; pos != r->committed;) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, pos);

		if (h->kind == EVBUS_REC_EVENT)
			return true;
		if (h->kind != EVBUS_REC_LAGGED)
			return false;
		pos += h->len;
	}
	return false;
}

/*
 * Evict the oldest event into *gone, with the LAGGED records around it:
 * they are adjacent to it, and consecutive losses are reported as one
 * record.  The caller checked evbus_ring_evictable().
 */
static void evbus_ring_evict(struct evbus_ring *r, struct evbus_lag *gone)
{
	u16 kind;

	do {
		kind = ((struct evbus_rec_hdr *)evbus_ring_at(r, r->head))->kind;
		evbus_ring_drop_head(r, gone);
	} while (kind != EVBUS_REC_EVENT);
	while (r->head != r->committed) {
		kind = ((struct evbus_rec_hdr *)evbus_ring_at(r, r->head))->kind;
		if (kind != EVBUS_REC_LAGGED)
			break;
		evbus_ring_drop_head(r, gone);
	}
}

/* Take len contiguous bytes at tail (the data is mapped twice). */
static void *evbus_ring_take(struct evbus_ring *r, u32 len)
{
	void *p = evbus_ring_at(r, r->tail);

	r->tail += len;
	return p;
}

/* Reserve a record of len bytes at tail, which has room; r->lock held. */
static struct evbus_rec_hdr *evbus_ring_take_event(struct evbus_ring *r, u32 len)
{
	struct evbus_rec_hdr *h = evbus_ring_take(r, len);

	h->len = len;
	h->kind = EVBUS_REC_RESERVED;
	h->hdr_len = sizeof(struct evbus_event);
	r->queued++;
	r->queued_bytes += len;
	evbus_count(r->stats, queued_events, 1);
	evbus_count(r->stats, queued_bytes, len);
	return h;
}

/* Write a LAGGED record for lag at p. */
static void evbus_ring_write_lag(struct evbus_ring *r, void *p,
				 const struct evbus_lag *lag)
{
	struct evbus_lagged *lg = p;

	memset(lg, 0, sizeof(*lg));
	lg->hdr.len = EVBUS_LAG_REC_LEN;
	lg->hdr.kind = EVBUS_REC_LAGGED;
	lg->hdr.hdr_len = sizeof(*lg);
	lg->flags = lag->flags;
	lg->lost = lag->count;
	lg->first_seq = lag->first;
	lg->last_seq = lag->last;
	r->queued_bytes += EVBUS_LAG_REC_LEN;
	evbus_count(r->stats, queued_bytes, EVBUS_LAG_REC_LEN);
}

/* Write the pending tail_lag at tail; the caller checked the space. */
static void evbus_ring_put_tail_lag(struct evbus_ring *r)
{
	evbus_ring_write_lag(r, evbus_ring_take(r, EVBUS_LAG_REC_LEN),
			     &r->tail_lag);
	memset(&r->tail_lag, 0, sizeof(r->tail_lag));
}

static bool evbus_ring_fits(struct evbus_ring *r, u64 need)
{
	return need <= r->size - (r->tail - r->head);
}

/*
 * Evict until need bytes fit (a LAGGED record for what goes included):
 * the head is claimed from a mapped reader meanwhile.  The events evicted
 * become one LAGGED record at the new head, in their space.  Returns
 * whether need fits now.
 */
static bool evbus_ring_evict_for(struct evbus_ring *r, u64 need)
{
	struct evbus_lag gone = {};
	bool claimed, fits;

	claimed = evbus_ring_claim(r);
	for (;;) {
		fits = evbus_ring_fits(r, need + (gone.count ? EVBUS_LAG_REC_LEN : 0));
		if (fits || !evbus_ring_evictable(r))
			break;
		evbus_ring_evict(r, &gone);
	}
	if (gone.count) {
		/* An event of at least this size was evicted: there is room. */
		r->head -= EVBUS_LAG_REC_LEN;
		evbus_ring_write_lag(r, evbus_ring_at(r, r->head), &gone);
		WRITE_ONCE(r->wake_ready, true);	/* a loss: worth a wake-up */
	}
	evbus_ring_unclaim(r, claimed);
	return fits;
}

/*
 * Make room for a record of len bytes (and a pending LAGGED record before
 * it): true if it fits now.  evict: drop the oldest events if needed.
 * Evicting cannot help a record larger than the whole ring, nor get past
 * one that is still being written, nor past a notice or a request.
 */
static bool evbus_ring_make_room(struct evbus_ring *r, u32 len, bool evict)
{
	u64 need = len + (r->tail_lag.count ? EVBUS_LAG_REC_LEN : 0);

	if (evbus_ring_fits(r, need))
		return true;
	evbus_ring_sync(r);		/* a mapped reader may have made room */
	evbus_ring_idle(r);
	if (evbus_ring_fits(r, need))
		return true;
	if (!evict || len > r->size)
		return false;
	return evbus_ring_evict_for(r, need);
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
	/* A mapped reader sees whole records only: after their bytes. */
	smp_store_release(&r->mhdr->producer_pos, r->committed);
}

/*
 * Finish a written slot: readers may take it once every record before it
 * is finished too.  Returns true if the ring became readable, i.e. a
 * reader needs a wake-up.  A coalescing ring may start a period instead
 * (wake.c).
 */
static bool evbus_ring_commit_locked(struct evbus_ring *r,
				     struct evbus_rec_hdr *slot)
{
	struct evbus_event *ev = container_of(slot, struct evbus_event, hdr);
	bool was_readable;

	lockdep_assert_held(&r->lock);
	was_readable = evbus_ring_readable(r);
	slot->kind = EVBUS_REC_EVENT;
	evbus_ring_advance(r);
	evbus_wake_committed(r);
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
		evbus_lag_add(&r->tail_lag, 1, m->seq, m->seq);
		r->lost++;
		evbus_count(r->stats, lost, 1);
		trace_evbus_drop(r->file_id, m->seq, false, r->lost);
		evbus_wake_update_ready(r);
		*wake |= !was_readable && evbus_ring_readable(r);
		goto out;
	}
	if (r->tail_lag.count)
		evbus_ring_put_tail_lag(r);
	h = evbus_ring_take_event(r, m->rec_len);
out:
	spin_unlock(&r->lock);
	return h;
}

/*
 * A lossless ring (lossless.c): must a publisher wait before a record of
 * len bytes fits?  If so, returns the ring's room with a reference, *gen
 * its generation and *wait_ns the ring's wait; else NULL.  The caller
 * holds bus.order_lock, so until it reserves only the reader changes the
 * ring, and only to make room.  A record larger than the ring never fits:
 * no wait.
 */
struct evbus_room *evbus_ring_lossless_full(struct evbus_ring *r, u32 len,
					    u32 *gen, u64 *wait_ns)
{
	struct evbus_room *room = NULL;

	spin_lock(&r->lock);
	if (r->policy == EVBUS_POLICY_LOSSLESS && !r->closed && r->room &&
	    len <= r->size && !evbus_ring_make_room(r, len, false)) {
		room = evbus_room_get(r->room, gen);
		*wait_ns = r->wait_ns;
		/*
		 * Full: readable in every wake-up mode, or a coalescing
		 * reader asleep in read() and the publisher would wait for
		 * each other until the deadline (the caller wakes it).
		 */
		WRITE_ONCE(r->wake_ready, true);
	}
	spin_unlock(&r->lock);
	return room;
}

/*
 * Replay (replay.c): room for a record of len bytes (0: none), after a
 * LAGGED record for *lag if it counts anything (written, then cleared).
 * Nothing is evicted or lost: -ENOSPC if the ring has no room now, and
 * the reader will make some.  On success *slot is reserved (NULL if len
 * is 0), to write and commit as a publisher does.  The file is catching
 * up, so no publisher reserves here; the caller holds order_lock.
 */
int evbus_ring_reserve_replay(struct evbus_ring *r, u32 len,
			      struct evbus_lag *lag, struct evbus_rec_hdr **slot)
{
	u32 need = len + (lag->count ? EVBUS_LAG_REC_LEN : 0);
	int ret = 0;

	*slot = NULL;
	spin_lock(&r->lock);
	if (r->closed || !evbus_ring_make_room(r, need, false)) {
		ret = -ENOSPC;
		goto out;
	}
	if (lag->count) {
		evbus_ring_write_lag(r, evbus_ring_take(r, EVBUS_LAG_REC_LEN), lag);
		memset(lag, 0, sizeof(*lag));
		WRITE_ONCE(r->wake_ready, true);	/* a loss: worth a wake-up */
	}
	if (len) {
		evbus_count(r->stats, deliveries, 1);
		*slot = evbus_ring_take_event(r, len);
	} else {
		evbus_ring_advance(r);
	}
out:
	spin_unlock(&r->lock);
	return ret;
}

/*
 * Replay: an event larger than the whole ring is lost for this file, and
 * counted, as a live one would be; the caller reports it in a LAGGED
 * record.
 */
void evbus_ring_replay_lost(struct evbus_ring *r, u64 seq)
{
	spin_lock(&r->lock);
	evbus_count(r->stats, deliveries, 1);
	r->lost++;
	evbus_count(r->stats, lost, 1);
	trace_evbus_drop(r->file_id, seq, false, r->lost);
	spin_unlock(&r->lock);
}

/*
 * Could a stream start here: nothing queued, reserved, lost or waiting to
 * be queued, as far as the reader got?
 */
bool evbus_ring_drained(struct evbus_ring *r)
{
	bool drained;

	spin_lock(&r->lock);
	evbus_ring_sync(r);
	drained = evbus_ring_empty(r) && !r->tail_lag.count &&
		  list_empty(&r->revoked_pending);
	spin_unlock(&r->lock);
	return drained;
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
	ev->flags = m->ev_flags;
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
 * Notices.  A revoked subscription's notice (in its entry), or a request's
 * cancellation (gate.c), must reach the reader and must never make its
 * sender wait for it: it is queued under either policy by evicting the
 * oldest events (counted and reported as lost, as always; not in a mapped
 * drop-newest ring), and is never evicted itself.  When that cannot make
 * room (the oldest record is an unread notice or request, or one still
 * being written) it waits on revoked_pending, and read() or poll() queues
 * it once there is room.  A REVOKED notice's seq tells the reader where
 * the subscription ended either way.
 */

/* A subscription of this ring's file is being revoked: count its notice. */
void evbus_ring_revoke_begin(struct evbus_ring *r)
{
	spin_lock(&r->lock);
	r->revoked++;
	spin_unlock(&r->lock);
}

/* Write notice n's record at p (REVOKED and CANCELLED have one size). */
static void evbus_notice_write(void *p, const struct evbus_notice *n)
{
	struct evbus_revoked *rv = p;
	struct evbus_cancelled *cn = p;

	BUILD_BUG_ON(sizeof(*rv) != sizeof(*cn));
	memset(rv, 0, sizeof(*rv));
	rv->hdr.len = sizeof(*rv);
	rv->hdr.kind = n->kind;
	rv->hdr.hdr_len = sizeof(*rv);
	if (n->kind == EVBUS_REC_REVOKED) {
		rv->sub_id = n->id;
		rv->reason = n->reason;
		rv->seq = n->seq;
	} else {
		cn->approver_id = n->id;
		cn->reason = n->reason;
		cn->id = n->seq;
	}
}

/* Queue notice n if it fits now (evicting events); true if it did. */
static bool evbus_ring_queue_notice(struct evbus_ring *r,
				    const struct evbus_notice *n)
{
	u32 len = sizeof(struct evbus_revoked);

	lockdep_assert_held(&r->lock);
	/*
	 * A mapped drop-newest reader relies on unread records staying put:
	 * the notice waits for room there instead.
	 */
	if (!evbus_ring_make_room(r, len,
				  r->policy == EVBUS_POLICY_DROP_OLDEST ||
				  !r->mapped))
		return false;
	if (r->tail_lag.count)
		evbus_ring_put_tail_lag(r);
	evbus_notice_write(evbus_ring_take(r, len), n);
	r->queued_bytes += len;
	evbus_count(r->stats, queued_bytes, len);
	evbus_ring_advance(r);
	return true;
}

/* Queue the pending notices that fit now, oldest first; r->lock held. */
static void evbus_ring_flush_revoked(struct evbus_ring *r)
{
	struct evbus_notice *n, *tmp;

	list_for_each_entry_safe(n, tmp, &r->revoked_pending, link) {
		if (!evbus_ring_queue_notice(r, n))
			break;
		list_del(&n->link);
		evbus_notice_free(n);
	}
}

/*
 * Hand a notice to the reader: for a revoked subscription (unlinked,
 * unreachable), the entry goes with it; a cancellation is freed once
 * written.  Never waits.
 */
void evbus_ring_put_notice(struct evbus_ring *r, struct evbus_notice *n)
{
	bool wake;

	spin_lock(&r->lock);
	if (r->closed) {
		if (n->kind == EVBUS_REC_REVOKED)
			evbus_ring_notices_gone(r, 1);
		spin_unlock(&r->lock);
		evbus_notice_free(n);
		return;
	}
	wake = !evbus_ring_readable(r);
	WRITE_ONCE(r->wake_ready, true);	/* a notice is worth a wake-up */
	if (list_empty(&r->revoked_pending) && evbus_ring_queue_notice(r, n)) {
		evbus_notice_free(n);
	} else {
		list_add_tail(&n->link, &r->revoked_pending);
		wake = true;		/* the reader makes room for it */
	}
	wake = wake && evbus_ring_readable(r);
	spin_unlock(&r->lock);
	if (wake)
		wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
}

/*
 * A request to this file as an approver (gate.c): len bytes reserved only
 * in free space (nothing is evicted for it: a request either goes in
 * whole or its asker learns at once), after a pending LAGGED record.
 * NULL if it does not fit now.  Write it, then commit it with
 * evbus_ring_commit_request().
 */
struct evbus_rec_hdr *evbus_ring_reserve_request(struct evbus_ring *r, u32 len)
{
	struct evbus_rec_hdr *h = NULL;

	spin_lock(&r->lock);
	if (r->closed || !r->mem || !evbus_ring_make_room(r, len, false))
		goto out;
	if (r->tail_lag.count)
		evbus_ring_put_tail_lag(r);
	h = evbus_ring_take(r, len);
	h->len = len;
	h->kind = EVBUS_REC_RESERVED;
	h->hdr_len = sizeof(struct evbus_request);
	r->queued_bytes += len;
	evbus_count(r->stats, queued_bytes, len);
out:
	spin_unlock(&r->lock);
	return h;
}

/* A written request: readable at once.  True if the reader needs a wake-up. */
bool evbus_ring_commit_request(struct evbus_ring *r, struct evbus_rec_hdr *slot)
{
	bool was_readable, wake;

	spin_lock(&r->lock);
	was_readable = evbus_ring_readable(r);
	slot->kind = EVBUS_REC_REQUEST;
	evbus_ring_advance(r);
	WRITE_ONCE(r->wake_ready, true);	/* someone waits for the answer */
	wake = !was_readable && evbus_ring_readable(r);
	spin_unlock(&r->lock);
	return wake;
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

/*
 * The run of whole committed records from head that read() copies with one
 * copy_to_iter() (contiguous: the data is mapped twice): at most space
 * bytes, and more than budget bytes only when the first record alone is.
 * Returns its length, 0 if the first record does not fit in space.
 */
static u32 evbus_ring_run(struct evbus_ring *r, size_t space, size_t budget,
			  struct evbus_run *run)
{
	u64 pos = r->head;
	u32 len = 0;

	lockdep_assert_held(&r->lock);
	memset(run, 0, sizeof(*run));
	while (pos != r->committed) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, pos);

		if (len + h->len > space || (len && len + h->len > budget))
			break;
		evbus_run_add(run, h);
		len += h->len;
		pos += h->len;
	}
	return len;
}

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
	r->moder.records += run->events + run->lags + run->revoked + run->others;
	r->moder.bytes += len;
	evbus_room_made(r, false);	/* lossless: publishers may go on */
}

/*
 * The reader looks (read(), poll()): take what a mapped reader consumed,
 * queue what waited for room, and once the ring is empty write a pending
 * loss into it.
 */
static void evbus_ring_look(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	evbus_ring_sync(r);
	evbus_ring_flush_revoked(r);
	if (evbus_ring_empty(r) && r->tail_lag.count) {
		evbus_ring_put_tail_lag(r);
		evbus_ring_advance(r);
	}
	evbus_ring_idle(r);
}

/* poll() of a mapped ring: readiness after catching up with the reader. */
__poll_t evbus_ring_poll(struct evbus_ring *r)
{
	bool readable;

	spin_lock(&r->lock);
	if (r->mem) {
		evbus_ring_look(r);
		evbus_wake_sample(r);
		/* Records it had not seen consumed may start a period now. */
		if (r->head != r->committed)
			evbus_wake_committed(r);
	}
	readable = evbus_ring_readable(r);
	spin_unlock(&r->lock);
	return readable ? EPOLLIN | EPOLLRDNORM : 0;
}

/*
 * Copy whole records to the iterator.  Returns bytes copied, -EAGAIN if
 * there is nothing to read, -EINVAL if the next record does not fit, or
 * -EFAULT if the buffer is bad before anything was copied.  Runs of
 * adjacent records go out with one copy; where the buffer turns bad part
 * way, the records before the bad byte are still returned.  The head is
 * claimed from a mapped reader of the same file while the lock is held.
 */
ssize_t evbus_ring_read(struct evbus_ring *r, struct iov_iter *to)
{
	size_t copied = 0, held, want = 0, room, good = SIZE_MAX, left;
	bool too_small = false;
	struct evbus_run run;

retry:
	spin_lock(&r->lock);
	if (!r->mem) {
		spin_unlock(&r->lock);
		return -EAGAIN;
	}
	evbus_ring_claim(r);		/* never nested: read() is outermost */
	for (held = 0;; held += want) {
		evbus_ring_look(r);
		if (r->head == r->committed)
			break;
		/* good: bytes of the buffer known to be writable, if limited */
		room = min(iov_iter_count(to), good);
		/* Bound the time writers can spin on r->lock behind us. */
		if (held >= EVBUS_READ_CHUNK) {
			evbus_ring_unclaim(r, true);
			spin_unlock(&r->lock);
			cond_resched();
			goto retry;
		}
		/* One copy for the run of records that fits. */
		want = evbus_ring_run(r, room, EVBUS_READ_CHUNK - held, &run);
		if (!want) {
			too_small = true;
			break;
		}
		if (!evbus_copy_rec(evbus_ring_at(r, r->head), want, to))
			goto fault;
		evbus_ring_consume(r, want, &run);
		copied += want;
		if (good != SIZE_MAX)
			good -= want;
	}
	evbus_wake_sample(r);
	evbus_ring_unclaim(r, true);
	spin_unlock(&r->lock);

	if (copied) {
		evbus_count(r->stats, read_bytes, copied);
		return copied;
	}
	if (too_small)
		return good == SIZE_MAX ? -EINVAL : -EFAULT;
	return -EAGAIN;

fault:
	evbus_ring_unclaim(r, true);
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
