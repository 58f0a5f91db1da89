// SPDX-License-Identifier: GPL-2.0
/*
 * evbus replay: a file catching up from its bus's history before it goes
 * live (EVBUS_SUB_SINCE, EVBUS_SUB_LAST).
 *
 * A file that asks for replay stops taking live events: publishers skip
 * it while ef->replaying is set (under bus.order_lock).  Every event they
 * number meanwhile is in the history (history.c), or is known to be
 * missing from it.  The reader's read() and poll() then walk the history
 * from a cursor, a batch per hold of order_lock, and queue each event a
 * subscription of the file takes (from that subscription's start on,
 * through its pattern and filters) in the file's ring, flagged
 * EVBUS_EVENT_REPLAYED.  Every seq the history lacks on the way (evicted
 * before the cursor got there, older than the history, never kept) goes
 * into one LAGGED record per gap, flagged EVBUS_LAGGED_HISTORY.  When the
 * cursor reaches the end of the history, the file goes live in the same
 * hold of order_lock: the next event numbered is delivered as usual, so
 * the stream has no gap and no duplicate at the join.
 *
 * Replay never overflows the ring: a record is queued only when there is
 * room, and the walk waits for the reader otherwise.  Work per hold is
 * bounded (EVBUS_REPLAY_WORK subscription tests), and so is the number of
 * holds per call.  The cursor lives under evbus_file.lock.
 *
 * A subscription that joins a replaying file starts where it joins; one
 * asking for replay is taken only while the file has queued nothing
 * (then the walk starts again from the earliest start), and a file that
 * is live must have nothing queued either, so the stream stays in seq
 * order.  New subscriptions are visible to every publisher (RCU) before
 * the file can go live (sub.c).
 */
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/poll.h>

#include "evbus.h"

/* Subscription tests per hold of order_lock. */
#define EVBUS_REPLAY_WORK	4096
/* Holds of order_lock per read() or poll(). */
#define EVBUS_REPLAY_HOLDS	16
/* Records walked back per hold, for EVBUS_SUB_LAST. */
#define EVBUS_REPLAY_BACK	256

struct evbus_replay {
	u64 pos;			/* history position of the next record */
	u64 next;			/* first seq not accounted for yet */
	u64 start;			/* the earliest start of a subscription */
	bool sent;			/* records were queued: no rewinding */
	struct evbus_lag lag;		/* seqs missing from the history */
	void *image;			/* a BPF filter's window */
};

/* Seqs first..last are missing from the history. */
static void evbus_replay_gap(struct evbus_replay *rp, u64 first, u64 last)
{
	if (!rp->lag.count)
		rp->lag.first = first;
	rp->lag.last = last;
	rp->lag.count += last - first + 1;
	rp->lag.flags = EVBUS_LAGGED_HISTORY;
}

/*
 * A loss of kind flags (0 or EVBUS_LAGGED_HISTORY) is about to join the
 * pending lag: one of the other kind is written first, so each LAGGED
 * record means one thing.  0 or -ENOSPC (the reader makes room).
 */
static int evbus_replay_lag_kind(struct evbus_file *ef, u32 flags)
{
	struct evbus_replay *rp = ef->replay;
	struct evbus_rec_hdr *slot;

	if (!rp->lag.count || rp->lag.flags == flags)
		return 0;
	if (evbus_ring_reserve_replay(&ef->ring, 0, &rp->lag, &slot))
		return -ENOSPC;
	rp->sent = true;
	return 0;
}

/*
 * EVBUS_SUB_LAST: the seq at which sub's last `last` matching events in
 * the history start (the oldest of them if there are fewer; the next seq
 * if there are none), walking back from the newest, EVBUS_REPLAY_BACK
 * records per hold.  0 or -EINTR.
 */
static int evbus_replay_last(struct evbus_file *ef, struct evbus_sub_entry *sub,
			     u32 last, void *image, u64 *start)
{
	struct evbus_bus *bus = ef->bus;
	struct evbus_hist *h = &bus->hist;
	u64 pos, back;
	u32 found = 0, n;

	spin_lock(&bus->order_lock);
	*start = bus->seq + 1;
	pos = h->tail;
	back = h->head == h->tail ? 0 : h->last_len;
	for (n = 0; back && found < last; n++) {
		struct evbus_hist_rec *rec;
		struct evbus_msg m;

		if (n == EVBUS_REPLAY_BACK) {
			n = 0;
			spin_unlock(&bus->order_lock);
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
			spin_lock(&bus->order_lock);
		}
		/* Evicted or emptied meanwhile: start from what is left. */
		if (pos - back < h->head)
			break;
		rec = evbus_hist_at(h, pos - back);
		evbus_hist_msg(rec, &m, 0);
		if (evbus_hist_takes(ef, sub, rec, &m, image)) {
			found++;
			*start = rec->seq;
		}
		pos -= back;
		back = pos == h->head ? 0 : rec->prev_len;
	}
	spin_unlock(&bus->order_lock);
	return 0;
}

/* Nothing queued and nothing waiting to be: a stream can start here. */
static bool evbus_replay_may_start(struct evbus_file *ef)
{
	if (ef->replaying)
		return !ef->replay->sent;
	return evbus_ring_drained(&ef->ring);
}

/*
 * sub asks for replay (EVBUS_SUB_SINCE or _LAST); it is in the index with
 * from U64_MAX, and every publisher sees it.  Make ef catch up from sub's
 * start.  ef->lock held.  0, -ENOMEM, -EINTR, -EBUSY (the file has
 * records queued, or its replay has queued some) or -ERANGE (since is
 * beyond the next seq).
 */
int evbus_replay_begin(struct evbus_file *ef, struct evbus_sub_entry *sub,
		       const struct evbus_subscribe *s)
{
	struct evbus_bus *bus = ef->bus;
	struct evbus_replay *rp = ef->replay;
	struct evbus_sub_entry *other;
	unsigned long id;
	u64 start = s->since;
	int ret = 0;

	lockdep_assert_held(&ef->lock);
	if (!rp) {
		rp = kzalloc(sizeof(*rp), EVBUS_GFP);
		if (!rp)
			return -ENOMEM;
		rp->image = kmalloc(EVBUS_FILTER_WINDOW, EVBUS_GFP);
		if (!rp->image) {
			kfree(rp);
			return -ENOMEM;
		}
		ef->replay = rp;	/* kept until the file goes */
	}
	if (s->flags & EVBUS_SUB_LAST) {
		ret = evbus_replay_last(ef, sub, s->last, rp->image, &start);
		if (ret)
			return ret;
	}

	spin_lock(&bus->order_lock);
	if (!evbus_replay_may_start(ef)) {
		ret = -EBUSY;
	} else if (start > bus->seq + 1) {
		ret = -ERANGE;
	} else {
		if (!ef->replaying) {
			/* Live until now, with nothing queued: they start here. */
			xa_for_each(&ef->subs, id, other)
				if (other != sub)
					other->from = bus->seq + 1;
			rp->start = U64_MAX;
		}
		sub->from = start;
		/* Nothing queued yet: walk again from the earliest start. */
		rp->start = min(rp->start, start);
		rp->next = rp->start;
		rp->pos = bus->hist.head;
		memset(&rp->lag, 0, sizeof(rp->lag));
		WRITE_ONCE(ef->replaying, true);
	}
	spin_unlock(&bus->order_lock);
	return ret;
}

/* A plain subscription joins a replaying file: it starts now. */
void evbus_replay_join(struct evbus_file *ef, struct evbus_sub_entry *sub)
{
	spin_lock(&ef->bus->order_lock);
	sub->from = ef->bus->seq + 1;
	spin_unlock(&ef->bus->order_lock);
}

/* Does a subscription of ef take rec?  order_lock and ef->lock held. */
static bool evbus_replay_match(struct evbus_file *ef,
			       const struct evbus_hist_rec *rec,
			       const struct evbus_msg *m)
{
	struct evbus_sub_entry *sub;
	unsigned long id;

	xa_for_each(&ef->subs, id, sub)
		if (rec->seq >= sub->from &&
		    evbus_hist_takes(ef, sub, rec, m, ef->replay->image))
			return true;
	return false;
}

/*
 * Queue rec (with the pending lag before it) if the ring has room: 0 or
 * -ENOSPC.
 */
static int evbus_replay_queue(struct evbus_file *ef,
			      const struct evbus_hist_rec *rec,
			      const struct evbus_msg *m, bool *wake)
{
	struct evbus_replay *rp = ef->replay;
	struct evbus_rec_hdr *slot;
	struct evbus_ident id;
	int ret;

	/*
	 * Larger than the whole ring: lost for this file, as it would be
	 * live, and reported the same way (never waited for).
	 */
	if (m->rec_len > ef->ring.size) {
		ret = evbus_replay_lag_kind(ef, 0);
		if (ret)
			return ret;
		if (!rp->lag.count)
			rp->lag.first = rec->seq;
		rp->lag.last = rec->seq;
		rp->lag.count++;
		evbus_ring_replay_lost(&ef->ring, rec->seq);
		rp->sent = true;	/* counted lost: no walking back now */
		return 0;
	}
	ret = evbus_replay_lag_kind(ef, 0);
	if (ret)
		return ret;
	/* The lag alone first if the two could never fit together. */
	if (rp->lag.count && m->rec_len + EVBUS_LAG_REC_LEN > ef->ring.size) {
		ret = evbus_ring_reserve_replay(&ef->ring, 0, &rp->lag, &slot);
		if (ret)
			return ret;
		rp->sent = true;
	}
	ret = evbus_ring_reserve_replay(&ef->ring, m->rec_len, &rp->lag, &slot);
	if (ret)
		return ret;
	evbus_hist_ident(rec, ef, &id);
	evbus_ring_write(slot, m, &id);
	*wake |= evbus_ring_commit(&ef->ring, slot);
	rp->sent = true;
	evbus_count(ef->bus->stats, replayed, 1);
	return 0;
}

/*
 * The cursor is at the end of the history: account for the seqs it never
 * held, write the pending lag, and go live.  Returns -ENOSPC (still
 * replaying) if the ring has no room for the lag.  order_lock held.
 */
static int evbus_replay_finish(struct evbus_file *ef, bool *wake)
{
	struct evbus_replay *rp = ef->replay;
	u64 seq = ef->bus->seq;
	struct evbus_rec_hdr *slot;
	int ret;

	if (seq >= rp->next) {
		ret = evbus_replay_lag_kind(ef, EVBUS_LAGGED_HISTORY);
		if (ret)
			return ret;
		evbus_replay_gap(rp, rp->next, seq);
		rp->next = seq + 1;
	}
	if (rp->lag.count) {
		ret = evbus_ring_reserve_replay(&ef->ring, 0, &rp->lag, &slot);
		if (ret)
			return ret;
		rp->sent = true;
		*wake = true;
	}
	WRITE_ONCE(ef->replaying, false);
	return 0;
}

/*
 * One hold of order_lock: walk the history from the cursor, queueing what
 * the file takes.  Returns 0 to go on, -ENOSPC when the ring is full, or
 * 1 once the file is live.
 */
static int evbus_replay_batch(struct evbus_file *ef, bool *wake)
{
	struct evbus_bus *bus = ef->bus;
	struct evbus_hist *h = &bus->hist;
	struct evbus_replay *rp = ef->replay;
	u32 budget = max_t(u32, EVBUS_REPLAY_WORK / max(ef->nr_subs, 1U), 1);
	struct evbus_msg m;
	int ret = 0;

	spin_lock(&bus->order_lock);
	/* Evicted past the cursor: the gap shows at the next record. */
	if (rp->pos < h->head)
		rp->pos = h->head;
	for (; rp->pos != h->tail && budget; budget--) {
		struct evbus_hist_rec *rec = evbus_hist_at(h, rp->pos);

		if (rec->seq >= rp->start) {
			if (rec->seq > rp->next) {
				ret = evbus_replay_lag_kind(ef, EVBUS_LAGGED_HISTORY);
				if (ret)
					break;
				evbus_replay_gap(rp, rp->next, rec->seq - 1);
			}
			rp->next = rec->seq;
			evbus_hist_msg(rec, &m, EVBUS_EVENT_REPLAYED);
			if (evbus_replay_match(ef, rec, &m)) {
				ret = evbus_replay_queue(ef, rec, &m, wake);
				if (ret)
					break;
			}
			rp->next = rec->seq + 1;
		}
		rp->pos += rec->len;
	}
	if (!ret && rp->pos == h->tail) {
		ret = evbus_replay_finish(ef, wake);
		if (!ret)
			ret = 1;
	}
	spin_unlock(&bus->order_lock);
	return ret;
}

/*
 * The reader looks (read(), poll()): move the replay on, a bounded number
 * of batches, until the ring is full or the file is live.  With nowait
 * (poll(), non-blocking and io_uring reads) it never sleeps on the lock.
 */
void evbus_replay_pump(struct evbus_file *ef, bool nowait)
{
	bool wake = false;
	int i, ret = 0;

	if (nowait) {
		if (!mutex_trylock(&ef->lock))
			return;
	} else if (mutex_lock_killable(&ef->lock)) {
		return;
	}
	for (i = 0; i < EVBUS_REPLAY_HOLDS && ef->replaying && !ret; i++) {
		if (i)
			cond_resched();
		ret = evbus_replay_batch(ef, &wake);
	}
	mutex_unlock(&ef->lock);
	if (wake)
		wake_up_interruptible_poll(&ef->ring.wq, EPOLLIN | EPOLLRDNORM);
}

/* The file is being freed. */
void evbus_replay_free(struct evbus_file *ef)
{
	if (!ef->replay)
		return;
	kfree(ef->replay->image);
	kfree(ef->replay);
}
