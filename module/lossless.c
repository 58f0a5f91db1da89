// SPDX-License-Identifier: GPL-2.0
/*
 * evbus lossless rings: a publisher waits for a reader to make room.
 *
 * A ring set to EVBUS_POLICY_LOSSLESS gets a room: a refcounted wait queue
 * that outlives the ring for whoever waits on it.  Under bus.order_lock,
 * before an event is numbered, the publisher checks each lossless target
 * it goes to (evbus_ring_lossless_full()); if one has no room and the
 * publisher may wait for it, it takes a reference on that ring's room,
 * notes the room's generation, and lets go of every lock and of RCU.  It
 * sleeps (killable, never past the call's one deadline) until the reader
 * consumes records, which bumps the generation and wakes the room, or
 * the file closes; then it looks up the targets again and retries.  Only
 * the room is held while waiting, never the reader's file, so a waiting
 * publisher cannot keep a file alive nor hold up its release.
 *
 * Nothing changes for the reader's other publishers: one that may not
 * wait, or whose wait ran out, meets a drop-newest ring, and its loss is
 * reported exactly as any other.  A room's lock is its wait queue's; the
 * reader wakes it under ring.lock, only when someone sleeps there.
 */
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/sched/signal.h>
#include <linux/cred.h>

#include "evbus.h"
#include "trace.h"

struct evbus_room {
	refcount_t ref;			/* the ring, and each waiter */
	wait_queue_head_t wq;		/* publishers waiting for room */
	u32 gen;			/* bumped when the reader makes room */
	bool closed;			/* the file is gone: stop waiting */
};

/*
 * Give r a room before its policy becomes lossless; evbus_file.lock held
 * (ring setup is serialised).  0 or -ENOMEM.
 */
int evbus_room_alloc(struct evbus_ring *r)
{
	struct evbus_room *room;

	if (r->room)
		return 0;
	room = kzalloc(sizeof(*room), GFP_KERNEL_ACCOUNT);
	if (!room)
		return -ENOMEM;
	refcount_set(&room->ref, 1);
	init_waitqueue_head(&room->wq);
	spin_lock(&r->lock);
	r->room = room;
	spin_unlock(&r->lock);
	return 0;
}

void evbus_room_put(struct evbus_room *room)
{
	if (room && refcount_dec_and_test(&room->ref))
		kfree(room);
}

/* A waiter's reference, and the generation it waits to see change. */
struct evbus_room *evbus_room_get(struct evbus_room *room, u32 *gen)
{
	refcount_inc(&room->ref);
	*gen = READ_ONCE(room->gen);
	return room;
}

/* The reader made room (or the file is closing); ring.lock held. */
void evbus_room_made(struct evbus_ring *r, bool closing)
{
	struct evbus_room *room = r->room;

	lockdep_assert_held(&r->lock);
	if (!room)
		return;
	if (closing)
		WRITE_ONCE(room->closed, true);
	/*
	 * Always a new generation: a publisher that read the old one under
	 * ring.lock and is not asleep yet must not miss it.  The barrier in
	 * wq_has_sleeper() pairs with the one in its prepare_to_wait().
	 */
	WRITE_ONCE(room->gen, room->gen + 1);
	if (wq_has_sleeper(&room->wq))
		wake_up_all(&room->wq);
}

/*
 * The reader's ring or subscriptions changed (SET_RING, an unsubscribe, a
 * revocation): publishers waiting for room look again, and go on if they
 * need not wait for this reader any more.
 */
void evbus_room_kick(struct evbus_ring *r)
{
	/* Set once, before anyone could wait on it. */
	if (!READ_ONCE(r->room))
		return;
	spin_lock(&r->lock);
	evbus_room_made(r, false);
	spin_unlock(&r->lock);
}

static bool evbus_room_changed(struct evbus_room *room, u32 gen)
{
	return READ_ONCE(room->gen) != gen || READ_ONCE(room->closed);
}

/*
 * Wait on room (a reference, which this drops) until its generation is
 * no longer gen, or until end (CLOCK_MONOTONIC ns).  0 if the reader made
 * room (retry), -ETIMEDOUT at the deadline, -EINTR on a fatal signal.
 * Counted and traced as the publisher pub's wait for reader.
 */
int evbus_room_wait(struct evbus_file *pub, u64 reader, struct evbus_room *room,
		    u32 gen, u64 end)
{
	u64 start = ktime_get_ns();
	long left, ret;

	if (start >= end) {
		evbus_room_put(room);
		return -ETIMEDOUT;
	}
	left = nsecs_to_jiffies(end - start) + 1;
	ret = wait_event_killable_timeout(room->wq,
					  evbus_room_changed(room, gen), left);
	evbus_room_put(room);
	evbus_count(pub->bus->stats, lossless_waits, 1);
	evbus_count(pub->bus->stats, lossless_wait_ns, ktime_get_ns() - start);
	trace_evbus_lossless_wait(pub->ring.file_id, reader,
				  ktime_get_ns() - start, ret > 0);
	if (ret < 0)
		return -EINTR;
	return ret ? 0 : -ETIMEDOUT;
}

/*
 * May pub's event on topic m wait for reader's lossless ring?  Its file
 * was opened with the reader's euid, or the policy gives it
 * EVBUS_RIGHT_WAIT there.
 */
bool evbus_lossless_may_wait(struct evbus_file *pub, struct evbus_file *reader,
			     const struct evbus_msg *m)
{
	if (uid_eq(pub->cred->euid, reader->cred->euid))
		return true;
	return evbus_policy_may_wait(pub->bus, pub->cred, m->topic, &m->segs);
}

/*
 * The longest wait now: a ring set before lossless_max_ms was lowered
 * makes publishers wait no longer than the new bound.
 */
u64 evbus_lossless_max_ns(void)
{
	return (u64)READ_ONCE(evbus_limits.lossless_max_ms) * NSEC_PER_MSEC;
}

/* The deadline a lossless ring may set: 1 ns up to lossless_max_ms. */
bool evbus_lossless_wait_ok(u64 wait_ns)
{
	return wait_ns && wait_ns <= evbus_lossless_max_ns();
}
