/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus internals shared by main.c (device, publish, read), index.c
 * (subscription index) and ring.c (per-file ring and lag accounting).
 * The theory of operation is at the top of main.c.
 */
#ifndef _EVBUS_INTERNAL_H
#define _EVBUS_INTERNAL_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/percpu.h>
#include <linux/uio.h>
#include <linux/hrtimer.h>
#include <linux/evbus.h>

#include "topic.h"

/* One event being published: built once, copied into every matching ring. */
struct evbus_msg {
	u64 seq;
	u64 time_ns;
	u64 mono_ns;
	u64 corr;
	u64 parent;
	u32 type;
	u32 topic_len;
	u32 payload_len;
	u32 rec_len;		/* event record length in a ring */
	const char *topic;
	const void *payload;
	struct evbus_segs segs;
};

/* The sender as one subscriber sees it (pid and user namespaces). */
struct evbus_ident {
	u32 pid;
	u32 tid;
	u32 uid;
	u32 gid;
};

/* A run of lost events: count, and the first and last lost seq. */
struct evbus_lag {
	u64 count;
	u64 first;
	u64 last;
};

/*
 * A subscriber's ring of records, in the uapi record format.  Records never
 * wrap: one that does not fit before the end is preceded by an
 * EVBUS_REC_PAD filler.  head and tail are free-running byte positions.
 *
 * Lost events that are not in the ring are kept as two runs:
 * head_lag, lost before the oldest queued record (drop-oldest evictions),
 * read first; tail_lag, lost after the newest (drop-newest), written into
 * the ring as a LAGGED record just before the next event that fits.  An
 * empty ring never has a tail_lag: it is folded into head_lag.
 */
struct evbus_ring {
	u64 file_id;			/* for tracepoints; set at open */
	spinlock_t lock;		/* protects all fields below */
	void *data;			/* size bytes, NULL until needed */
	u32 size;			/* power of two, or 0 */
	u32 policy;			/* EVBUS_POLICY_* */
	u64 head;			/* oldest queued byte */
	u64 tail;			/* next byte to write */
	u64 queued;			/* event + lag records queued */
	u64 queued_bytes;		/* their bytes, fillers excluded */
	struct evbus_lag head_lag;
	struct evbus_lag tail_lag;
	u64 delivered;			/* event records read */
	u64 lost;			/* events dropped for this file */
	u64 lag_records;		/* LAGGED records read */
	/*
	 * Wake-up coalescing (EVBUS_RING_WAKE); wake_events 0 means off:
	 * readable as soon as anything is queued.  wake_ready: the watermark
	 * was reached or events were lost since the ring was last empty.
	 */
	u32 wake_events;
	u64 wake_delay_ns;
	bool wake_ready;
	/*
	 * Set without r->lock by the timer (softirq), cleared under it when
	 * the ring empties or the timer is re-armed.  A stale true on an
	 * empty ring is harmless: readable also needs something queued.
	 */
	bool wake_expired;
	struct hrtimer wake_timer;	/* wake_delay_ns after the first record */
	wait_queue_head_t wq;		/* readers and pollers */
};

struct evbus_file;

/*
 * One subscription: a pattern held by a file.  Linked into the index node
 * where the pattern ends (exact or '>' list) and into its file's list.
 */
struct evbus_sub_entry {
	struct hlist_node node_link;	/* bus.lock */
	struct list_head file_link;	/* evbus_file.lock and bus.lock */
	struct evbus_file *owner;
	struct evbus_node *node;
	u32 id;
	u16 pattern_len;
	bool tail;			/* pattern ends with '>' */
	char pattern[];			/* not NUL-terminated */
};

/* Per open file of /dev/evbus. */
struct evbus_file {
	struct mutex lock;		/* serialises control ioctls: subs, ring setup */
	struct list_head subs;		/* evbus_sub_entry.file_link */
	u32 nr_subs;
	u32 next_sub_id;
	struct evbus_ring ring;
	struct evbus_user *user;	/* the opener's euid, for per-user caps */
	struct pid_namespace *pid_ns;	/* the opener's, for sender pids */
	struct user_namespace *user_ns;	/* the opener's, for sender ids */
	/* bus.lock: */
	u64 match_seq;			/* last seq delivered, to deliver once */
	struct list_head wake_link;	/* on the publisher's wake list */
	atomic64_t published;		/* events published through this file */
};

/*
 * stats.c: global counters, per CPU, summed when /sys/kernel/evbus/stats/
 * is read.  All s64 so one summing routine serves them all.
 */
struct evbus_pcpu_stats {
	s64 published;		/* events published */
	s64 published_bytes;	/* payload bytes published */
	s64 deliveries;		/* event x matching file, queued or lost */
	s64 lost;		/* deliveries dropped by a full ring */
	s64 read_events;	/* event records returned by read() */
	s64 read_bytes;		/* bytes returned by read() */
	s64 lag_records;	/* LAGGED records returned by read() */
	s64 queued_events;	/* event records in rings now */
	s64 queued_bytes;	/* event and LAGGED record bytes in rings now */
	s64 subscriptions;	/* subscriptions now */
	s64 open_files;		/* open files now */
	s64 publish_err_einval;
	s64 publish_err_efault;
	s64 publish_err_emsgsize;
	s64 publish_err_enomem;
	s64 publish_err_ebadf;
	s64 publish_err_other;
	s64 ioctl_errors;	/* every failed evbus ioctl */
};
DECLARE_PER_CPU(struct evbus_pcpu_stats, evbus_pcpu_stats);
#define evbus_count(field, n)	this_cpu_add(evbus_pcpu_stats.field, (n))

int evbus_stats_init(void);
void evbus_stats_exit(void);
void evbus_stats_ring_alloc(s64 bytes);
void evbus_stats_ring_free(s64 bytes);
void evbus_stats_publish_error(int err);

/* user.c: per-user caps */
struct evbus_user;
int evbus_user_get(struct evbus_file *ef, unsigned int max_files);
void evbus_user_put(struct evbus_file *ef);
int evbus_user_charge(struct evbus_file *ef, u64 bytes, u64 max_bytes);
void evbus_user_uncharge(struct evbus_file *ef, u64 bytes);

/* index.c; callers hold bus.lock. */
void evbus_index_exit(void);
int evbus_index_add(struct evbus_sub_entry *sub, const struct evbus_segs *segs);
void evbus_index_del(struct evbus_sub_entry *sub);
typedef void (*evbus_match_fn)(struct evbus_file *ef, void *arg);
void evbus_index_match(const struct evbus_msg *msg, evbus_match_fn fn, void *arg);
extern struct mutex evbus_bus_lock;

/* ring.c */
static inline bool evbus_ring_has_data(struct evbus_ring *r)
{
	return READ_ONCE(r->head) != READ_ONCE(r->tail) ||
	       READ_ONCE(r->head_lag.count);
}

/*
 * Racy read from poll() and wait_event(): both re-check after queueing on
 * r->wq, and every writer that makes the ring readable (a publisher, the
 * wake timer, SET_RING) wakes r->wq after setting what this reads, so a
 * stale answer is corrected.  Publishers call it under r->lock.
 */
static inline bool evbus_ring_readable(struct evbus_ring *r)
{
	if (!evbus_ring_has_data(r))
		return false;
	return !READ_ONCE(r->wake_events) || READ_ONCE(r->wake_ready) ||
	       READ_ONCE(r->wake_expired);
}

void evbus_ring_init(struct evbus_ring *r);
void evbus_ring_free(struct evbus_ring *r);
void evbus_ring_set_wake(struct evbus_ring *r, u32 events, u64 delay_ns);
bool evbus_ring_push(struct evbus_ring *r, const struct evbus_msg *msg, u32 n,
		     const struct evbus_ident *id);
ssize_t evbus_ring_read(struct evbus_ring *r, struct iov_iter *to);
u32 evbus_event_rec_len(u32 topic_len, u32 payload_len);

#define EVBUS_LAG_REC_LEN	((u32)sizeof(struct evbus_lagged))

#endif /* _EVBUS_INTERNAL_H */
