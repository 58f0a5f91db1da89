// SPDX-License-Identifier: GPL-2.0
/*
 * evbus per-file rings: queueing records, overflow policies, exact lag
 * accounting and read().
 *
 * Writers (publishers) hold bus.lock and then ring.lock; readers take only
 * ring.lock.  read() (and io_uring reads) copy records to userspace with
 * page faults disabled while holding ring.lock, so the ring never has to
 * pin or bounce records; when a copy would fault, the lock is dropped, the
 * user buffer faulted in, and the walk restarts from the (possibly
 * changed) head.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
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

void evbus_ring_init(struct evbus_ring *r)
{
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	r->policy = EVBUS_POLICY_DROP_OLDEST;
	/* Soft: the callback runs in softirq context, never in hardirq. */
	hrtimer_init(&r->wake_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	r->wake_timer.function = evbus_wake_timer_fn;
}

/*
 * The file is gone: nothing can queue into the ring any more (its
 * subscriptions left the index under bus.lock).  Its queued records leave
 * the global gauges.
 */
void evbus_ring_free(struct evbus_ring *r)
{
	hrtimer_cancel(&r->wake_timer);
	evbus_count(queued_events, -(s64)r->queued);
	evbus_count(queued_bytes, -(s64)r->queued_bytes);
	if (r->data)
		evbus_stats_ring_free(r->size);
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

/* Coalesced ring: the watermark is reached or something was lost. */
static void evbus_ring_update_ready(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (r->wake_events &&
	    (r->queued >= r->wake_events || r->head_lag.count ||
	     r->tail_lag.count))
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
void evbus_ring_set_wake(struct evbus_ring *r, u32 events, u64 delay_ns)
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

/* Fold the record at head into head_lag (events are counted as lost). */
static void evbus_ring_drop_head(struct evbus_ring *r)
{
	struct evbus_rec_hdr *h = evbus_ring_at(r, r->head);

	lockdep_assert_held(&r->lock);
	if (h->kind == EVBUS_REC_EVENT) {
		struct evbus_event *ev = (struct evbus_event *)h;

		evbus_lag_add(&r->head_lag, 1, ev->seq, ev->seq);
		r->lost++;
		r->queued--;
		evbus_count(lost, 1);
		trace_evbus_drop(r->file_id, ev->seq, true, r->lost);
		evbus_count(queued_events, -1);
	} else if (h->kind == EVBUS_REC_LAGGED) {
		struct evbus_lagged *lg = (struct evbus_lagged *)h;

		evbus_lag_add(&r->head_lag, lg->lost, lg->first_seq,
			      lg->last_seq);
	}
	if (h->kind != EVBUS_REC_PAD) {
		r->queued_bytes -= h->len;
		evbus_count(queued_bytes, -(s64)h->len);
	}
	r->head += h->len;
}

/*
 * Evict the oldest record.  A LAGGED record (or filler) that becomes the
 * head is folded in too: it is adjacent to head_lag, and consecutive
 * losses are reported as one record.
 */
static void evbus_ring_evict(struct evbus_ring *r)
{
	evbus_ring_drop_head(r);
	while (!evbus_ring_empty(r)) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, r->head);

		if (h->kind == EVBUS_REC_EVENT)
			break;
		evbus_ring_drop_head(r);
	}
}

/* Reserve len contiguous bytes at tail; the caller checked the space. */
static void *evbus_ring_reserve(struct evbus_ring *r, u32 len)
{
	u64 off = r->tail & (r->size - 1);
	void *p;

	if (off + len > r->size) {
		struct evbus_rec_hdr *pad = evbus_ring_at(r, r->tail);

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
	struct evbus_lagged *lg = evbus_ring_reserve(r, EVBUS_LAG_REC_LEN);

	memset(lg, 0, sizeof(*lg));
	lg->hdr.len = EVBUS_LAG_REC_LEN;
	lg->hdr.kind = EVBUS_REC_LAGGED;
	lg->hdr.hdr_len = sizeof(*lg);
	lg->lost = lag->count;
	lg->first_seq = lag->first;
	lg->last_seq = lag->last;
	r->queued_bytes += EVBUS_LAG_REC_LEN;
	evbus_count(queued_bytes, EVBUS_LAG_REC_LEN);
}

static void evbus_ring_put_event(struct evbus_ring *r,
				 const struct evbus_msg *m,
				 const struct evbus_ident *id)
{
	struct evbus_event *ev;
	u32 toff = sizeof(*ev), tpad = EVBUS_ALIGN(m->topic_len + 1), ppad;
	char *p;

	ev = evbus_ring_reserve(r, m->rec_len);
	ev->hdr.len = m->rec_len;
	ev->hdr.kind = EVBUS_REC_EVENT;
	ev->hdr.hdr_len = sizeof(*ev);
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

	/*
	 * Topic, NUL, payload; every padding byte is written too.  Padding
	 * (1..8 bytes after the topic, 0..7 after the payload) lies within
	 * the field's last 8-byte word: zero that word, then copy over it.
	 */
	p = (char *)ev + toff;
	*(u64 *)(p + tpad - 8) = 0;
	memcpy(p, m->topic, m->topic_len);
	p += tpad;
	ppad = m->rec_len - toff - tpad;
	if (ppad) {
		*(u64 *)(p + ppad - 8) = 0;
		memcpy(p, m->payload, m->payload_len);
	}
	r->queued++;
	r->queued_bytes += m->rec_len;
	evbus_count(queued_events, 1);
	evbus_count(queued_bytes, m->rec_len);
}

/* Queue one event, or count it lost for this file; r->lock held. */
static void evbus_ring_queue(struct evbus_ring *r, const struct evbus_msg *m,
			     const struct evbus_ident *id)
{
	u32 lens[2];
	u64 need;
	int n;

	for (;;) {
		evbus_ring_normalize(r);
		n = 0;
		if (r->tail_lag.count)
			lens[n++] = EVBUS_LAG_REC_LEN;
		lens[n++] = m->rec_len;
		need = evbus_ring_need(r, lens, n);
		if (need <= r->size - (r->tail - r->head))
			break;
		/* Evicting cannot help a record larger than the whole ring. */
		if (r->policy != EVBUS_POLICY_DROP_OLDEST ||
		    evbus_ring_empty(r) || m->rec_len > r->size)
			goto drop;
		evbus_ring_evict(r);
	}
	if (r->tail_lag.count) {
		evbus_ring_put_lag(r, &r->tail_lag);
		memset(&r->tail_lag, 0, sizeof(r->tail_lag));
	}
	evbus_ring_put_event(r, m, id);
	trace_evbus_deliver(r->file_id, m->seq, r->queued);
	return;

drop:
	/* An empty ring keeps its losses in head_lag (see normalize). */
	evbus_lag_add(evbus_ring_empty(r) ? &r->head_lag : &r->tail_lag,
		      1, m->seq, m->seq);
	r->lost++;
	evbus_count(lost, 1);
	trace_evbus_drop(r->file_id, m->seq, false, r->lost);
}

/*
 * Queue events m[0..n) (in seq order), each one or counted lost, under one
 * hold of r->lock.  Returns true if the ring became readable (see
 * evbus_ring_readable()), i.e. a reader needs a wake-up.  A coalesced ring
 * that receives its first record arms the wake timer instead.
 */
bool evbus_ring_push(struct evbus_ring *r, const struct evbus_msg *m, u32 n,
		     const struct evbus_ident *id)
{
	bool was_readable, was_empty;
	u32 i;

	spin_lock(&r->lock);
	was_empty = evbus_ring_empty(r) && !r->head_lag.count;
	was_readable = evbus_ring_readable(r);
	for (i = 0; i < n; i++)
		evbus_ring_queue(r, &m[i], id);
	if (r->wake_events) {
		evbus_ring_update_ready(r);
		if (was_empty && !r->wake_ready && r->wake_delay_ns) {
			/*
			 * A new period.  A timer still queued from an earlier
			 * one expires sooner than a new one would: keep it and
			 * save the re-arm (under a steady stream, one timer per
			 * delay instead of one per batch); it, or a callback
			 * still running, may wake the reader early, no more.
			 */
			WRITE_ONCE(r->wake_expired, false);
			if (!hrtimer_is_queued(&r->wake_timer))
				hrtimer_start(&r->wake_timer,
					      ns_to_ktime(r->wake_delay_ns),
					      HRTIMER_MODE_REL_SOFT);
		}
	}
	spin_unlock(&r->lock);
	return !was_readable && evbus_ring_readable(r);
}

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
};

/*
 * The run of whole records from head that read() copies with one
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
	while (pos != r->tail) {
		struct evbus_rec_hdr *h = evbus_ring_at(r, pos);

		if (h->kind == EVBUS_REC_PAD || len + h->len > space ||
		    (len && (len + h->len > budget || !(pos & (r->size - 1)))))
			break;
		if (h->kind == EVBUS_REC_EVENT)
			run->events++;
		else
			run->lags++;
		len += h->len;
		pos += h->len;
	}
	return len;
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
	size_t copied = 0, held, want, room, good = SIZE_MAX;
	bool too_small = false;
	struct evbus_lagged lg;
	struct evbus_run run;
	size_t left;

retry:
	spin_lock(&r->lock);
	for (held = 0;; held += want) {
		struct evbus_rec_hdr *h;

		if (evbus_ring_empty(r))
			evbus_ring_normalize(r);
		/* good: bytes of the buffer known to be writable, if limited */
		room = min(iov_iter_count(to), good);

		if (r->head_lag.count) {
			want = sizeof(lg);
			if (want > room) {
				too_small = true;
				break;
			}
			memset(&lg, 0, sizeof(lg));
			lg.hdr.len = sizeof(lg);
			lg.hdr.kind = EVBUS_REC_LAGGED;
			lg.hdr.hdr_len = sizeof(lg);
			lg.lost = r->head_lag.count;
			lg.first_seq = r->head_lag.first;
			lg.last_seq = r->head_lag.last;
			if (!evbus_copy_rec(&lg, want, to))
				goto fault;
			memset(&r->head_lag, 0, sizeof(r->head_lag));
			r->lag_records++;
			evbus_count(lag_records, 1);
			copied += want;
			if (good != SIZE_MAX)
				good -= want;
			continue;
		}
		if (evbus_ring_empty(r))
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
		want = evbus_ring_run(r, room, EVBUS_READ_CHUNK - held, &run);
		if (!want) {
			too_small = true;
			break;
		}
		if (!evbus_copy_rec(h, want, to))
			goto fault;
		/* Every record in the run is an event or a LAGGED record. */
		r->delivered += run.events;
		r->queued -= run.events;
		evbus_count(read_events, run.events);
		evbus_count(queued_events, -(s64)run.events);
		if (run.lags) {
			r->lag_records += run.lags;
			evbus_count(lag_records, run.lags);
		}
		r->queued_bytes -= want;
		evbus_count(queued_bytes, -(s64)want);
		r->head += want;
		copied += want;
		if (good != SIZE_MAX)
			good -= want;
	}
	spin_unlock(&r->lock);

	if (copied) {
		evbus_count(read_bytes, copied);
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
		evbus_count(read_bytes, copied);
		return copied;
	}
	if (left)
		good = want - left;
	cond_resched();
	goto retry;
}
