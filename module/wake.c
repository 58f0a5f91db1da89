// SPDX-License-Identifier: GPL-2.0
/*
 * evbus wake-ups: when a ring becomes readable, i.e. when its sleeping
 * readers are woken.  Three modes (uapi EVBUS_RING_*):
 *
 * IMMEDIATE: readable as soon as one record is committed.
 *
 * WAKE (fixed coalescing, set by the user): readable once wake_events
 * records are queued, or wake_delay_ns after the first record of a period
 * (an hrtimer), or on a loss, or when three quarters of the ring are in
 * use.  A period starts with the first record after the ring was empty.
 *
 * ADAPTIVE, the default: interrupt moderation as NIC drivers do it with
 * lib/dim.  The batch and delay in force come from a table of profiles;
 * net_dim() moves along the table by the throughput the reader achieves,
 * sampled at each read() or poll() that consumed records (its "event" is
 * such a call, as a NAPI poll is for a NIC; drivers such as ice keep their
 * own profile tables the same way).  A period starts as under WAKE, but
 * its timer fires wake_delay_ns after the reader last consumed, and a
 * record that arrives later than that makes the ring readable at once:
 * sparse traffic is never delayed, a steady stream gets at most one wake-up
 * per delay, and the delay never exceeds EVBUS_ADAPTIVE_DELAY_MAX_NS.
 *
 * The timer callback runs in softirq context and touches only wake_expired
 * and the wait queue; everything else is under evbus_ring.lock.
 */
#include <linux/dim.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/seq_file.h>

#include "evbus.h"

/*
 * net_dim() steps dim.profile_ix over 0..4 (NET_DIM_PARAMS_NUM_PROFILES,
 * private to lib/dim in 6.1), the index of this table.  Profile 0 is no
 * moderation at all.
 */
#define EVBUS_DIM_PROFILES	5

static const struct {
	u32 events;
	u32 delay_us;
} evbus_profiles[EVBUS_DIM_PROFILES] = {
	{ 1, 0 }, { 4, 50 }, { 8, 100 }, { 16, 250 },
	{ EVBUS_ADAPTIVE_EVENTS_MAX, EVBUS_ADAPTIVE_DELAY_MAX_NS / NSEC_PER_USEC },
};

static const char *const evbus_wake_names[] = {
	[EVBUS_RING_WAKE] = "fixed",
	[EVBUS_RING_IMMEDIATE] = "immediate",
	[EVBUS_RING_ADAPTIVE] = "adaptive",
};

/* The delay of a period is over: wake readers. */
static enum hrtimer_restart evbus_wake_timer_fn(struct hrtimer *t)
{
	struct evbus_ring *r = container_of(t, struct evbus_ring, wake_timer);

	WRITE_ONCE(r->wake_expired, true);
	wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
	return HRTIMER_NORESTART;
}

static void evbus_wake_apply_profile(struct evbus_ring *r)
{
	unsigned int ix = min_t(unsigned int, r->moder.dim.profile_ix,
				EVBUS_DIM_PROFILES - 1);

	lockdep_assert_held(&r->lock);
	WRITE_ONCE(r->wake_events, evbus_profiles[ix].events);
	WRITE_ONCE(r->wake_delay_ns,
		   (u64)evbus_profiles[ix].delay_us * NSEC_PER_USEC);
}

/* net_dim() chose a new profile: apply it, and measure again. */
static void evbus_dim_work(struct work_struct *work)
{
	struct dim *dim = container_of(work, struct dim, work);
	struct evbus_ring *r = container_of(dim, struct evbus_ring, moder.dim);

	spin_lock(&r->lock);
	if (r->wake_mode == EVBUS_RING_ADAPTIVE)
		evbus_wake_apply_profile(r);
	dim->state = DIM_START_MEASURE;
	spin_unlock(&r->lock);
}

void evbus_wake_init(struct evbus_ring *r)
{
	/* Soft: the callback runs in softirq context, never in hardirq. */
	hrtimer_init(&r->wake_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	r->wake_timer.function = evbus_wake_timer_fn;
	INIT_WORK(&r->moder.dim.work, evbus_dim_work);
	r->moder.dim.mode = DIM_CQ_PERIOD_MODE_START_FROM_EQE;
	r->wake_mode = EVBUS_RING_ADAPTIVE;
	r->wake_events = evbus_profiles[0].events;
}

/* The ring is going: nothing may run for it any more. */
void evbus_wake_free(struct evbus_ring *r)
{
	hrtimer_cancel(&r->wake_timer);
	cancel_work_sync(&r->moder.dim.work);
}

/*
 * Coalescing modes: the watermark is reached, three quarters of the ring
 * are in use, or something is waiting to be reported lost.
 */
void evbus_wake_update_ready(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	if (r->wake_mode != EVBUS_RING_IMMEDIATE &&
	    (r->queued >= r->wake_events || r->tail_lag.count ||
	     (r->tail - r->head) >= r->size / 4 * 3))
		WRITE_ONCE(r->wake_ready, true);
}

/* A drained ring starts a new period with its next record. */
void evbus_wake_reset(struct evbus_ring *r)
{
	lockdep_assert_held(&r->lock);
	r->wake_period = false;
	WRITE_ONCE(r->wake_ready, false);
	WRITE_ONCE(r->wake_expired, false);
}

/*
 * A record was committed (or a poll found records the kernel had not seen
 * consumed): start a period if none is under way.  A timer still queued
 * from an earlier period expires sooner than a new one would; it, or a
 * callback still running, may wake the reader early, no more.  A stream
 * that never drains the ring stays in one period: readable from its first
 * wake-up on, as for a reader that keeps up.
 */
void evbus_wake_committed(struct evbus_ring *r)
{
	ktime_t now, due;

	lockdep_assert_held(&r->lock);
	if (r->wake_mode == EVBUS_RING_IMMEDIATE)
		return;
	evbus_wake_update_ready(r);
	if (r->wake_period)
		return;
	r->wake_period = true;
	/* A timer of the last period that fired on the drained ring. */
	WRITE_ONCE(r->wake_expired, false);
	if (!r->wake_delay_ns)
		return;
	if (r->wake_mode == EVBUS_RING_WAKE) {
		hrtimer_start(&r->wake_timer, ns_to_ktime(r->wake_delay_ns),
			      HRTIMER_MODE_REL_SOFT);
		return;
	}
	/* Adaptive: at most one wake-up per delay, none ever later. */
	now = ktime_get();
	due = ktime_add_ns(r->moder.last_read, r->wake_delay_ns);
	if (!ktime_before(now, due)) {
		WRITE_ONCE(r->wake_ready, true);
		return;
	}
	hrtimer_start(&r->wake_timer, ktime_sub(due, now), HRTIMER_MODE_REL_SOFT);
}

/*
 * A read() or poll() consumed records since the last sample: one lib/dim
 * "event".  net_dim() may pick a new profile and queue dim.work to apply it.
 */
void evbus_wake_sample(struct evbus_ring *r)
{
	struct evbus_moder *md = &r->moder;
	struct dim_sample s;

	lockdep_assert_held(&r->lock);
	if (md->records == md->sampled)
		return;
	md->sampled = md->records;
	dim_update_sample(++md->reads, md->records, md->bytes, &s);
	md->last_read = s.time;
	if (r->wake_mode == EVBUS_RING_ADAPTIVE)
		net_dim(&md->dim, s);
}

/* SET_RING: mode and, for EVBUS_RING_WAKE, its batch and delay. */
void evbus_wake_set(struct evbus_ring *r, u32 mode, u32 events, u64 delay_ns)
{
	lockdep_assert_held(&r->lock);
	WRITE_ONCE(r->wake_mode, mode);
	if (mode == EVBUS_RING_ADAPTIVE) {
		evbus_wake_apply_profile(r);
	} else {
		WRITE_ONCE(r->wake_events, events);
		WRITE_ONCE(r->wake_delay_ns, delay_ns);
	}
	evbus_wake_reset(r);
	/*
	 * Records already queued wait at most one delay from now; a timer
	 * queued for an older, longer delay must not outlive the new one.
	 */
	hrtimer_try_to_cancel(&r->wake_timer);
	if (r->head != r->committed)
		evbus_wake_committed(r);
}

void evbus_wake_get(struct evbus_ring *r, struct evbus_ring_cfg *cfg)
{
	lockdep_assert_held(&r->lock);
	cfg->flags = r->wake_mode;
	if (r->wake_mode == EVBUS_RING_WAKE) {
		cfg->wake_events = r->wake_events;
		cfg->wake_delay_ns = r->wake_delay_ns;
	}
}

/* fdinfo: the mode, the batch and delay in force, and adaptive's bounds. */
void evbus_wake_show(struct seq_file *m, struct evbus_ring *r)
{
	u32 mode = READ_ONCE(r->wake_mode);

	seq_printf(m, "evbus-wake:\t%u %llu\n", READ_ONCE(r->wake_events),
		   READ_ONCE(r->wake_delay_ns));
	seq_printf(m, "evbus-wake-mode:\t%s\n", evbus_wake_names[mode]);
	if (mode == EVBUS_RING_ADAPTIVE)
		seq_printf(m, "evbus-wake-adaptive:\tprofile %u of %u, largest batch %u, largest delay %llu ns\n",
			   READ_ONCE(r->moder.dim.profile_ix),
			   EVBUS_DIM_PROFILES, EVBUS_ADAPTIVE_EVENTS_MAX,
			   EVBUS_ADAPTIVE_DELAY_MAX_NS);
}
