/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus: a cross-process event bus on /dev/evbus.
 *
 * Theory of operation
 * -------------------
 * Objects.  A bus (struct evbus_bus, bus.c) owns a subscription index, a
 * sequence counter, a policy (policy.c), its limits and its counters.
 * There is one bus per IPC namespace, found through the namespace's
 * mqueue mount (see bus.c for why, and for how long a bus lives).  Every open file of
 * /dev/evbus is a struct evbus_file (dev.c) on one bus: a subscriber with
 * its own ring (ring.c) and a set of subscriptions (sub.c), and a
 * publisher (publish.c).  A subscription belongs to exactly one file and
 * sits in the bus's index (index.c), a trie of topic segments.  Nothing is
 * reference counted per event: an event is copied into each matching ring
 * at publish time, with the sender's identity already translated into that
 * reader's namespaces, and the publisher's buffers are freed on return.
 * Files, subscriptions and index nodes are freed after an RCU grace
 * period, so a publisher that found them in the index may still use them.
 *
 * Publish (publish.c).  Topic and payload are copied from userspace into a
 * staging buffer with no lock held.  The index is walked under
 * rcu_read_lock() only, collecting the files whose patterns match.  Then,
 * under the bus's order_lock, the event gets the next sequence number and
 * its timestamps, and space for its record is reserved in each matching
 * ring (a few stores under that ring's lock).  The record is copied into
 * every reserved slot after order_lock is dropped, and each slot is
 * committed under its ring's lock: when the same publisher reserves its
 * next event there (one hold of the ring lock for both), or at the end of
 * its run of events with one topic.  Reserving in seq order is what makes
 * every reader see sequence numbers in increasing order; a reader stops at
 * the first record not yet committed.  A full ring never makes the
 * publisher wait: the oldest committed records are evicted or the new
 * event is dropped, and either way the loss is counted and written into
 * the ring as a LAGGED record (ring.c).  order_lock is held for one
 * event at a time, and a batch reschedules between runs of events.
 *
 * Wake-ups (wake.c).  A ring wakes its readers only when it goes from
 * nothing to read to readable; a run of events with one topic in a batch
 * wakes each file once.  By default the batch and delay that make a ring
 * readable adapt to the reader's throughput with lib/dim, as NIC interrupt
 * moderation does: sparse traffic wakes at once, a stream at most once per
 * delay (500 us at most).  EVBUS_RING_WAKE fixes them; EVBUS_RING_IMMEDIATE
 * wakes on every first record.  Delays are an hrtimer firing in softirq
 * context and touching nothing but a flag and the wait queue.
 *
 * Permissions.  Every call is checked against the credentials its file
 * was opened with: a publish against the policy's rules (a walk of the
 * rule trie like a match) and the file's scope (scope.c); a subscribe
 * against every rule (subset and overlap tests) and the scope.  Topics
 * under "$sys" are published only by the kernel (sys.c).  A subscription
 * may carry filters (filter.c), run when its file is collected as a
 * target, with no lock held: a refused event is never reserved.
 *
 * Read.  read() and io_uring reads copy whole committed records from the
 * head of the ring.  mmap() (mmap.c) maps the ring itself: the reader
 * takes records in place and publishes its position in a control page,
 * which the kernel treats as an untrusted hint (ring.c).
 * io_uring publishes through ->uring_cmd (uring.c) with the ioctls' structs.
 *
 * History (history.c, replay.c, retained.c).  Under order_lock, every event
 * numbered on a bus is also copied into the bus's history, a byte ring
 * evicting its oldest records, and an event published with
 * EVBUS_PUB_RETAIN replaces its topic's retained value.  A file that
 * subscribes with EVBUS_SUB_SINCE or _LAST catches up: publishers skip it,
 * and its reader's read() and poll() copy matching history records into
 * its ring, a bounded batch at a time, until it has reached the newest
 * event; then, under order_lock, it goes live.  Both happen under
 * order_lock, so nothing falls between them, and every seq the history
 * lacks on the way is reported.  Retained values are queued in the
 * subscribing call, under order_lock, where the new subscription starts.
 *
 * Limits.  Ring size and subscriptions per file are module parameters
 * (bus.c); files, subscriptions and ring memory are also capped per user
 * (user.c), charged at every level of the user-namespace hierarchy as the
 * kernel's ucounts are.  Everything a caller makes the kernel allocate is
 * charged to its memory cgroup.  Counters: stats.c.
 *
 * Locks, in the order they nest:
 *   evbus_buses_lock    the table of buses (bus.c; only around lookups)
 *   evbus_policy.lock   policy changes (policy.c)
 *   evbus_bus.files_lock  the bus's list of files (open, close, revoke)
 *   evbus_file.lock     control ioctls of one file (subscriptions, ring setup)
 *   evbus_bus.index_lock  index changes (subscribe, unsubscribe, close);
 *                       O(topic depth) work per subscription under it
 *   evbus_bus.order_lock  the sequence counter, every file's match_seq and
 *                       replaying, the history, the retained values; held
 *                       for one event's reservations (O(matching rings)),
 *                       or one replay batch (a constant)
 *   evbus_ring.lock     one ring's positions, contents and counters
 *   evbus_users_lock    per-user counts (user.c; innermost)
 * The index is read under RCU and never needs a bus-wide lock.
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
#include <linux/rhashtable-types.h>
#include <linux/xarray.h>
#include <linux/sizes.h>
#include <linux/refcount.h>
#include <linux/workqueue.h>
#include <linux/uidgid.h>
#include <linux/dim.h>
#include <linux/hashtable.h>
#include <linux/evbus.h>

#include "topic.h"

struct bpf_prog;
struct cred;
struct file;
struct pid;
struct seq_file;
struct vfsmount;
struct evbus_user;
struct evbus_file;

/* Hard ceilings: module parameters can be lowered, never raised past them. */
#define EVBUS_PAYLOAD_CEILING	SZ_1M
#define EVBUS_RING_CEILING	SZ_256M
/* A ring is whole pages (mmap.c). */
#define EVBUS_RING_FLOOR	max_t(unsigned long, PAGE_SIZE, SZ_4K)
#define EVBUS_SUBS_CEILING	4096
#define EVBUS_HISTORY_CEILING	SZ_256M
#define EVBUS_RETAINED_CEILING	65536
#define EVBUS_RULES_CEILING	65536
#define EVBUS_APPROVAL_MS_CEILING	60000

/*
 * Allocations a caller causes are charged to its memory cgroup; past the
 * limit they fail (ENOMEM) instead of invoking the OOM killer.
 */
#define EVBUS_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/*
 * Module parameters (bus.c), read with READ_ONCE().  Ring sizes are powers
 * of two.  Every bus uses these for now.
 */
struct evbus_limits {
	unsigned int max_payload;
	unsigned int ring_default;
	unsigned int ring_min;
	unsigned int ring_max;
	unsigned int max_subs;		/* per file */
	unsigned int max_user_files;
	unsigned int max_user_ring_bytes;
	unsigned int max_user_subs;
	unsigned int max_user_buses;
	unsigned int max_rules;		/* per bus */
	unsigned int history_bytes;	/* per bus, at creation; 0: off */
	unsigned int history_max;	/* largest EVBUS_HISTORY_SET */
	unsigned int max_user_history_bytes;
	unsigned int max_retained;	/* per bus */
	unsigned int max_retained_bytes;	/* per bus */
	unsigned int max_user_retained;
	unsigned int max_user_retained_bytes;
	unsigned int approval_timeout_ms;	/* a publish's default deadline */
	unsigned int approval_max_ms;	/* longest deadline */
	unsigned int max_approvers;	/* per bus */
	unsigned int max_user_approvers;
	unsigned int max_user_asks;	/* publishes waiting for approval */
	unsigned int rate_wait_max_ms;	/* longest wait for rate tokens */
	unsigned int lossless_max_ms;	/* longest wait a lossless ring sets */
};

/*
 * Counters of one bus, per CPU, summed when read (stats.c).  All s64 so one
 * summing routine serves them all.  Identity, once no file is open:
 * deliveries = read_events + lost + queued_events + discarded.
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
	s64 discarded;		/* event records still queued when a file closed */
	s64 subscriptions;	/* subscriptions now */
	s64 open_files;		/* open files now */
	s64 publish_err_einval;
	s64 publish_err_efault;
	s64 publish_err_emsgsize;
	s64 publish_err_enomem;
	s64 publish_err_ebadf;
	s64 publish_err_other;
	s64 ioctl_errors;	/* every failed evbus ioctl */
	s64 filtered;		/* subscription x event refused by a filter */
	s64 denied_rule;	/* calls refused by a deny rule */
	s64 denied_default;	/* ... by a default of deny */
	s64 denied_scope;	/* ... by the file's scope */
	s64 denied_reserved;	/* publishes on $sys.* */
	s64 revoked;		/* subscriptions revoked by a policy change */
	s64 replayed;		/* event records queued from the history */
	/* The approval gate (gate.c), by outcome */
	s64 approval_asked;	/* publishes through the gate */
	s64 approval_requests;	/* requests queued to approvers */
	s64 approval_allowed;	/* asks published */
	s64 approval_modified;	/* ... changed by an approver */
	s64 approval_denied;	/* explicit denials */
	s64 approval_expired;	/* deadlines passed */
	s64 approval_gone;	/* approvers gone while asked */
	s64 approval_full;	/* approvers with no room */
	s64 approval_withdrawn;	/* publishers interrupted */
	s64 approval_nobody;	/* mandatory, nobody to ask */
	s64 approvers;		/* approvers now */
	s64 approval_pending;	/* requests pending now */
	s64 wills;		/* last wills armed now (will.c) */
	s64 wills_fired;	/* ... published at a file's release */
	/* Rate limits (rate.c) and lossless rings (ring.c) */
	s64 rate_refused_file;	/* publishes refused by a file's bucket */
	s64 rate_refused_user;	/* ... by the user's bucket */
	s64 rate_waited;	/* publishes that waited for tokens */
	s64 rate_wait_ns;	/* ... for this long in total */
	s64 rate_interrupted;	/* ... until a signal */
	s64 rate_users;		/* per-user limits now */
	s64 lossless_waits;	/* waits for room in a lossless ring */
	s64 lossless_wait_ns;	/* ... for this long in total */
	s64 lossless_expired;	/* losses there after a wait ran out */
	s64 lossless_foreign;	/* ... for a publisher that may not wait */
};

#define evbus_count(stats, field, n)	this_cpu_add((stats)->field, (n))

/* The root of the index: a trie node with no segment (index.c). */
struct evbus_node;

struct evbus_index {
	struct evbus_node *root;
	struct rhashtable children;	/* literal children of every node */
};

/*
 * What hangs on a node of an index (index.c): a subscription or a policy
 * rule, found by container_of().
 */
struct evbus_index_entry {
	struct hlist_node link;		/* writer lock; read under RCU */
	struct evbus_node *node;
	bool tail;			/* pattern ends with '>' */
};

/*
 * The topic policy of a bus (policy.c).  Rules are in an index by pattern
 * for publish checks and in a list by id for subscribe checks and
 * listing; both are read under RCU and changed under lock.  A bus with no
 * rules and a default of allow is never looked at (fast path).
 */
struct evbus_policy {
	struct mutex lock;		/* writers */
	struct evbus_index index;	/* rules by pattern */
	struct list_head rules;		/* by id, RCU */
	u32 nr_rules;			/* lock; READ_ONCE elsewhere */
	u32 next_id;			/* lock */
	u32 deflt;			/* EVBUS_ALLOW/DENY; READ_ONCE */
};

/*
 * An event kept by the bus (history.c): in the history's ring, and as a
 * retained value (retained.c).  The sender is kept as kernel ids and
 * referenced pids, so each reader sees it from its own namespaces, as a
 * live event.  prev_len lets a walk go backwards (EVBUS_SUB_LAST).
 */
struct evbus_hist_rec {
	u32 len;			/* whole record, multiple of 8 */
	u32 prev_len;			/* the record before it in the ring */
	u64 seq;
	u64 time_ns;
	u64 mono_ns;
	u64 corr;
	u64 parent;
	struct pid *tgid;		/* references */
	struct pid *tid;
	kuid_t uid;
	kgid_t gid;
	u32 type;
	u32 topic_len;
	u32 payload_len;
	u32 ev_flags;			/* EVBUS_EVENT_* it was delivered with */
	char data[];			/* topic, then payload */
};

/*
 * A bus's history (history.c): records in [head, tail) of a ring of size
 * bytes (a power of two, mapped twice in a row like a file's ring, so a
 * record never wraps); size 0 is off.  Everything here is under the bus's
 * order_lock: records are appended as events are numbered, so the history
 * holds, in seq order, every event that fitted, and a position below head
 * is known to be gone.
 */
struct evbus_hist {
	struct evbus_ring_mem *mem;
	void *data;
	u32 size;
	u32 last_len;			/* the newest record's length */
	u64 head;
	u64 tail;
	u64 events;			/* records held */
	u64 evicted;
	u64 skipped;			/* events not kept */
	struct evbus_user *user;	/* charged for charged bytes */
	u32 charged;			/* size, until the bus is unheld */
	/* Retained values (retained.c), by topic; list in seq order. */
	struct hlist_head *retained_hash;
	struct list_head retained;
	u32 nr_retained;
	u64 retained_bytes;
};

/*
 * A token bucket (rate.c): tokens for events and for payload bytes, in
 * billionths of a token, refilled at lim's rates up to its bursts; below
 * zero while waiters owe.  lock protects all of it.
 */
struct evbus_bucket {
	spinlock_t lock;
	struct evbus_rate_limit lim;
	s64 tokens[2];			/* events, bytes */
	bool on[2];			/* the dimension is limited */
	u64 last_ns;			/* CLOCK_MONOTONIC of the last refill */
};

struct evbus_rate_rules;
struct evbus_ubucket;

/*
 * A bus's per-user limits (rate.c): the owner's rules, replaced whole
 * under lock and read under RCU, gen bumped at each change; the accounts'
 * buckets, hashed by kuid under users_lock.
 */
struct evbus_bus_rate {
	struct mutex lock;
	struct evbus_rate_rules __rcu *rules;
	atomic_t gen;
	spinlock_t users_lock;
	DECLARE_HASHTABLE(users, 6);
};

/*
 * A bus: one per IPC namespace (bus.c).  Freed when its namespace is gone
 * (table ref dropped by the collector) and the last file on it is closed.
 */
struct evbus_bus {
	refcount_t ref;			/* files, plus one while in the table */
	atomic_t holders;		/* the table and open files: the charge */
	struct list_head link;		/* evbus_buses, stats.c */
	struct hlist_node hnode;	/* the table of live buses, bus.c */
	struct list_head user_link;	/* evbus_user_buses(creator), bus.c */
	u64 id;				/* unique while the module is loaded */
	u64 ipc_inum;			/* the namespace's inode number */
	struct vfsmount *mq_mnt;	/* the namespace's mqueue mount (key) */
	struct user_namespace *user_ns;	/* owns the IPC namespace */
	struct evbus_user *creator;	/* charged for the bus */
	const struct evbus_limits *limits;
	struct evbus_pcpu_stats __percpu *stats;

	struct mutex files_lock;	/* files */
	struct list_head files;		/* evbus_file.bus_link */
	struct evbus_policy policy;

	struct mutex index_lock;	/* index changes, approvers */
	struct evbus_index index;	/* read under RCU */
	/* Approvers (gate.c): by pattern, read under RCU; ids; how many. */
	struct evbus_index gate_index;
	struct xarray approver_ids;	/* id -> evbus_approver */
	u32 next_approver_id;		/* index_lock */
	u32 nr_approvers;		/* index_lock */

	struct evbus_bus_rate rate;	/* per-user rate limits (rate.c) */

	spinlock_t order_lock;		/* seq, match_seq, replaying, hist */
	u64 seq;			/* last sequence number given out */
	struct evbus_hist hist;
};

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
	u32 pub_flags;		/* EVBUS_PUB_* */
	u32 ev_flags;		/* EVBUS_EVENT_*, for the record */
	u32 ask;		/* EVBUS_ASK_*: goes through the gate first */
	u64 deadline_ns;	/* the publisher's, for the gate */
	bool rated;		/* its tokens were taken (rate.c) ... */
	u32 rated_len;		/* ... for a payload this long */
	const char *topic;
	const void *payload;
	struct evbus_segs segs;
	struct evbus_retained *retain;	/* the new retained value, staged */
};

/* Why an event goes through the approval gate (gate.c). */
#define EVBUS_ASK_ASKED		1	/* EVBUS_PUB_ASK */
#define EVBUS_ASK_MANDATORY	2	/* an EVBUS_ASK policy rule */

/* Who sent an event, as kernel ids (filters compare these). */
struct evbus_sender {
	kuid_t uid;
	kgid_t gid;
	struct pid *tgid;
	struct pid *tid;
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
	u32 flags;		/* EVBUS_LAGGED_* */
};

/*
 * A subscriber's ring of records, in the uapi record format, in memory that
 * maps its data twice in a row (mmap.c), so a record is contiguous even
 * where it wraps.  head, committed and tail are free-running byte
 * positions, head <= committed <= tail, never reset (a mapped reader
 * follows them).  [head, committed) holds finished records a reader may
 * take; [committed, tail) starts with a record a publisher reserved and is
 * still copying (kind EVBUS_REC_RESERVED), possibly followed by finished
 * ones.
 *
 * Every loss is in the ring as a LAGGED record, at the place of the lost
 * events in the stream.  Records evicted from the head (drop-oldest) are
 * replaced by one LAGGED record at the new head, in their space (it merges
 * with a LAGGED record already there).  Events dropped at the tail
 * (drop-newest, or a record that cannot be evicted) gather in tail_lag,
 * written into the ring just before the next record that fits, or as soon
 * as the ring is empty and its reader looks (read(), poll()).
 *
 * A mapped reader takes records by moving the control page's consumer_pos;
 * the kernel catches up (evbus_ring_sync()) before it needs head: when room
 * is short, on read() and on poll().  To evict, the kernel claims
 * consumer_pos first (EVBUS_MMAP_BUSY), so a record is either consumed or
 * lost, never both.
 */
/*
 * A notice the kernel owes a reader: a REVOKED one (policy.c), inside the
 * revoked subscription's entry, or a CANCELLED one (gate.c), allocated.
 * The ring queues it at once when it fits; when it does not (the oldest
 * record is an unread notice or request, or is still being written) it
 * waits on the ring's revoked_pending list and read() queues it as soon
 * as there is room, so whoever sends one never waits for a reader.
 */
struct evbus_notice {
	struct list_head link;		/* the sender's list, then revoked_pending */
	u16 kind;			/* EVBUS_REC_REVOKED or _CANCELLED */
	u32 id;				/* sub_id, or approver_id */
	u32 reason;			/* EVBUS_DENY_*, or EVBUS_CANCEL_* */
	u64 seq;			/* last seq it could receive, or request id */
};

/*
 * Adaptive wake-ups (wake.c): lib/dim's net_dim() picks a profile (a
 * delay and a batch) from the throughput the reader achieves, sampled at
 * every read() or poll() that consumed records, as a NIC driver samples at
 * every NAPI poll.  Under evbus_ring.lock, except dim.work.
 */
struct evbus_moder {
	struct dim dim;			/* profile_ix: the profile in force */
	u16 reads;			/* dim's "events": consuming calls */
	u64 records;			/* records consumed */
	u64 bytes;			/* bytes consumed */
	u64 sampled;			/* records at the last sample */
	ktime_t last_read;		/* the reader last consumed */
};

struct evbus_ring {
	u64 file_id;			/* for tracepoints; set at open */
	struct evbus_pcpu_stats __percpu *stats;	/* the bus's */
	spinlock_t lock;		/* protects all fields below */
	struct evbus_ring_mem *mem;	/* NULL until needed (mmap.c) */
	void *data;			/* mem's data: 2 * size bytes mapped */
	struct evbus_mmap_ctl *ctl;	/* mem's control page: untrusted */
	struct evbus_mmap_hdr *mhdr;	/* mem's header page */
	u32 size;			/* power of two, or 0 */
	u32 mapped;			/* live vmas of the ring (mmap.c) */
	bool claimed;			/* ctl->consumer_pos is EVBUS_MMAP_BUSY */
	u32 policy;			/* EVBUS_POLICY_* */
	u64 head;			/* oldest queued byte */
	u64 committed;			/* end of the finished records */
	u64 tail;			/* next byte to reserve */
	u64 queued;			/* event records queued (and reserved) */
	u64 queued_bytes;		/* event + lag record bytes, no fillers */
	struct evbus_lag tail_lag;
	u64 delivered;			/* event records read */
	u64 lost;			/* events dropped for this file */
	u64 lag_records;		/* LAGGED records read */
	/*
	 * Notices of revoked subscriptions not read yet, queued or pending.
	 * Their subscriptions still count against max_subs and
	 * max_user_subs until then, which bounds the list.
	 */
	struct list_head revoked_pending;
	u32 revoked;
	bool closed;			/* the file is closing: take nothing */
	/* EVBUS_POLICY_LOSSLESS (lossless.c): the wait, and who waits */
	u64 wait_ns;
	struct evbus_room *room;	/* set once, with the first lossless
					 * policy; freed with the ring */
	/*
	 * Wake-ups (wake.c).  wake_mode is EVBUS_RING_ADAPTIVE, _IMMEDIATE
	 * or _WAKE.  wake_events and wake_delay_ns are the batch and delay
	 * in force: set by SET_RING for EVBUS_RING_WAKE, by lib/dim's
	 * profile for adaptive, 0 for immediate (readable as soon as
	 * anything is committed).  wake_ready: the watermark or the fill
	 * level was reached, events were lost, or (adaptive) the reader was
	 * last woken long enough ago, since the ring was last empty.
	 */
	u32 wake_mode;
	u32 wake_events;
	u64 wake_delay_ns;
	bool wake_ready;
	bool wake_period;		/* a period started since last empty */
	struct evbus_moder moder;	/* adaptive state (wake.c) */
	/*
	 * Set without r->lock by the timer (softirq), cleared under it when
	 * the ring empties or the timer is re-armed.  A stale true on an
	 * empty ring is harmless: readable also needs something committed.
	 */
	bool wake_expired;
	struct hrtimer wake_timer;	/* the end of a period's delay */
	wait_queue_head_t wq;		/* readers and pollers */
};

/* Kind of a reserved record that its publisher is still writing. */
#define EVBUS_REC_RESERVED	0

struct evbus_file;
struct evbus_user;

/* A subscription's filters (filter.c); immutable once attached. */
struct evbus_filter {
	u32 flags;			/* EVBUS_SUB_* */
	kuid_t uid;
	kgid_t gid;
	struct pid *pid;
	u32 type_min;
	u32 type_max;
	struct bpf_prog *prog;
};

/*
 * One subscription: a pattern held by a file.  Linked into the index node
 * where the pattern ends (exact or '>' list) and into its file's id table.
 */
struct evbus_sub_entry {
	struct evbus_index_entry ent;	/* bus.index */
	struct evbus_file *owner;
	struct evbus_filter *filter;	/* NULL: none */
	struct evbus_notice notice;	/* once revoked */
	struct rcu_head rcu;
	/*
	 * Events from this seq on go through this subscription: 0 for a
	 * plain one, U64_MAX while EVBUS_SUB_RETAINED queues its values.
	 * Publishers read it under order_lock; replay (replay.c) uses it as
	 * the subscription's start.
	 */
	u64 from;
	u32 id;
	u16 pattern_len;
	char pattern[];			/* not NUL-terminated */
};

static inline struct evbus_sub_entry *
evbus_notice_sub(struct evbus_notice *n)
{
	return container_of(n, struct evbus_sub_entry, notice);
}

/* One pattern of a scope, parsed. */
struct evbus_scope_pat {
	struct evbus_segs segs;
	u16 len;
	char text[EVBUS_TOPIC_MAX];
};

/*
 * What a scoped file may do (scope.c): immutable, replaced whole under
 * evbus_file.lock and read under RCU.  A NULL scope is everything.
 */
struct evbus_file_scope {
	struct rcu_head rcu;
	u32 n_pub;
	u32 n_sub;
	bool all_pub;			/* kept from an unscoped file */
	bool all_sub;
	struct evbus_scope_pat pat[];	/* n_pub publish, then n_sub */
};

/*
 * Per open file of /dev/evbus.  Freed by free_work one RCU grace period
 * after release, when no publisher can still hold it.
 */
struct evbus_file {
	struct evbus_bus *bus;
	struct mutex lock;		/* control ioctls: subs, ring setup */
	struct xarray subs;		/* id -> evbus_sub_entry, under lock */
	u32 nr_subs;			/* under lock */
	u32 next_sub_id;		/* under lock, for xa_alloc_cyclic() */
	struct evbus_ring ring;
	struct evbus_user *user;	/* the opener's, for per-user caps */
	const struct cred *cred;	/* the opener's, for the policy */
	struct evbus_file_scope __rcu *scope;	/* lock; NULL: unscoped */
	struct list_head bus_link;	/* bus.files_lock */
	struct pid_namespace *pid_ns;	/* the opener's, for sender pids */
	struct user_namespace *user_ns;	/* the opener's, for sender ids */
	u64 match_seq;			/* bus.order_lock: last seq reserved */
	/*
	 * Catching up from the history (replay.c): publishers skip the
	 * file while replaying is set (bus.order_lock); replay is its
	 * cursor (lock).
	 */
	bool replaying;
	struct evbus_replay *replay;
	struct evbus_gate *gate;	/* lock; NULL until it approves (gate.c) */
	struct list_head wills;		/* lock: last wills, newest first (will.c) */
	u32 nr_wills;			/* lock */
	atomic64_t published;		/* events published through this file */
	/* Rate limits (rate.c): the file's bucket, its user's once used. */
	struct evbus_bucket rate;
	bool rate_on;			/* rate.lock: the file has a limit */
	struct evbus_ubucket *ubucket;	/* set once; freed with the file */
	atomic64_t rate_refused;
	atomic64_t rate_waited;
	struct rcu_work free_work;
};

/* rate.c */
void evbus_bucket_init(struct evbus_bucket *b);
int evbus_rate_take(struct evbus_file *ef, u32 len, u64 until, bool nowait,
		    bool *taken);
void evbus_rate_refund(struct evbus_file *ef, u32 len);
u64 evbus_rate_until(u64 deadline_ns);
long evbus_ioctl_rate(struct file *file, void __user *argp);
void evbus_rate_bus_init(struct evbus_bus *bus);
void evbus_rate_bus_destroy(struct evbus_bus *bus);
void evbus_rate_file_free(struct evbus_file *ef);
void evbus_rate_show(struct seq_file *m, struct evbus_file *ef);

/* dev.c */
int evbus_copy_sized(void *dst, size_t ksize, void __user *argp, u32 ver0,
		     u32 *usize);

/* bus.c */
extern struct evbus_limits evbus_limits;
struct evbus_bus *evbus_bus_get_current(struct evbus_user *u);
void evbus_bus_put(struct evbus_bus *bus);
void evbus_bus_add_file(struct evbus_bus *bus, struct evbus_file *ef);
void evbus_bus_del_file(struct evbus_bus *bus, struct evbus_file *ef);
bool evbus_bus_owner(struct evbus_bus *bus, struct file *file);
u32 evbus_ring_size(const struct evbus_limits *lim, u32 want);
int evbus_buses_init(struct workqueue_struct *wq);
void evbus_buses_exit(void);

/* history.c, replay.c, retained.c */
struct evbus_retained;
struct evbus_replay;
int evbus_hist_init(struct evbus_bus *bus, struct evbus_user *u);
void evbus_hist_destroy(struct evbus_bus *bus);
void evbus_hist_unhold(struct evbus_bus *bus);
void evbus_hist_append(struct evbus_bus *bus, const struct evbus_msg *m,
		       const struct evbus_sender *from);
void evbus_hist_fill(struct evbus_hist_rec *rec, const struct evbus_msg *m,
		     const struct evbus_sender *from);
void evbus_hist_put(struct evbus_hist_rec *rec);
void evbus_hist_msg(const struct evbus_hist_rec *rec, struct evbus_msg *m,
		    u32 ev_flags);
void evbus_hist_ident(const struct evbus_hist_rec *rec, struct evbus_file *ef,
		      struct evbus_ident *id);
struct evbus_hist_rec *evbus_hist_at(struct evbus_hist *h, u64 pos);
long evbus_ioctl_history(struct file *file, void __user *argp);
bool evbus_hist_takes(struct evbus_file *ef, const struct evbus_sub_entry *sub,
		      const struct evbus_hist_rec *rec, const struct evbus_msg *m,
		      void *image);
int evbus_retained_stage(struct evbus_file *ef, struct evbus_msg *m,
			 const struct evbus_sender *from, gfp_t gfp);
void evbus_retained_unstage(struct evbus_msg *m);
int evbus_retained_check(struct evbus_bus *bus, const struct evbus_msg *m);
void evbus_retained_install(struct evbus_bus *bus, struct evbus_msg *m);
int evbus_retained_init(struct evbus_bus *bus);
void evbus_retained_destroy(struct evbus_bus *bus);
int evbus_retained_send(struct evbus_file *ef, struct evbus_sub_entry *sub);
int evbus_replay_begin(struct evbus_file *ef, struct evbus_sub_entry *sub,
		       const struct evbus_subscribe *s);
void evbus_replay_join(struct evbus_file *ef, struct evbus_sub_entry *sub);
void evbus_replay_pump(struct evbus_file *ef, bool nowait);
void evbus_replay_free(struct evbus_file *ef);
bool evbus_sub_matches(const struct evbus_sub_entry *sub,
		       const struct evbus_msg *m,
		       const struct evbus_sender *from,
		       const struct evbus_ident *id, void *image);

/* gate.c */
struct evbus_ask;
struct evbus_gate;
struct io_uring_cmd;
int evbus_gate_init(void);
void evbus_gate_exit(void);
int evbus_gate_pass(struct evbus_file *ef, struct evbus_msg *m,
		    const struct evbus_sender *from, struct io_uring_cmd *cmd,
		    u64 __user *useq, struct evbus_ask **out);
void evbus_gate_done(struct evbus_ask *a, int err);
long evbus_ioctl_verdict(struct evbus_file *ef, void __user *argp);
long evbus_ioctl_approver_add(struct evbus_file *ef, void __user *argp);
long evbus_ioctl_approver_del(struct evbus_file *ef, u32 __user *argp);
void evbus_gate_release(struct evbus_file *ef);
void evbus_gate_show(struct seq_file *m, struct evbus_file *ef);

/* will.c */
long evbus_ioctl_will(struct evbus_file *ef, void __user *argp);
void evbus_will_fire(struct evbus_file *ef);
void evbus_will_show(struct seq_file *m, struct evbus_file *ef);

/* policy.c */
struct evbus_pol_verdict {
	int cause;			/* 0 (allowed) or EVBUS_DENY_* */
	u32 rule_id;
	bool ask;			/* publish: allowed through the gate */
};
int evbus_policy_init(struct evbus_policy *pol);
void evbus_policy_destroy(struct evbus_policy *pol);
void evbus_policy_check_publish(struct evbus_bus *bus, const struct cred *cred,
				const char *topic, const struct evbus_segs *segs,
				struct evbus_pol_verdict *v);
void evbus_policy_check_subscribe(struct evbus_bus *bus,
				  const struct cred *cred, const char *pattern,
				  const struct evbus_segs *segs, u32 right,
				  struct evbus_pol_verdict *v);
bool evbus_policy_may_wait(struct evbus_bus *bus, const struct cred *cred,
			   const char *topic, const struct evbus_segs *segs);
long evbus_ioctl_policy_add(struct file *file, void __user *argp);
long evbus_ioctl_policy_set(struct file *file, void __user *argp);
long evbus_ioctl_policy_list(struct evbus_file *ef, void __user *argp);

/* scope.c */
long evbus_ioctl_narrow(struct evbus_file *ef, void __user *argp);
bool evbus_scope_may_publish(struct evbus_file *ef, const char *topic,
			     u32 len);
bool evbus_scope_may_subscribe(struct evbus_file *ef, const char *pattern,
			       const struct evbus_segs *segs);
void evbus_scope_show(struct seq_file *m, struct evbus_file *ef);
void evbus_scope_free(struct evbus_file *ef);

/* filter.c */
struct evbus_subscribe;
struct evbus_filter_ctx;
int evbus_filter_attach(struct evbus_file *ef, const struct evbus_subscribe *s,
			struct evbus_filter **out);
void evbus_filter_free(struct evbus_filter *f);
bool evbus_filter_pass(const struct evbus_filter *f, const struct evbus_msg *m,
		       const struct evbus_sender *from, const void *image);
void evbus_filter_image(void *image, const struct evbus_msg *m);
void evbus_filter_ident(void *image, const struct evbus_ident *id);

/* sys.c: kernel events and refusals */
void evbus_sys_file_event(struct evbus_file *ef, bool open);
int evbus_deny(struct evbus_file *ef, u32 right, const struct evbus_pol_verdict *v,
	       const char *topic, u32 len, bool nowait);
void evbus_sys_approval_denied(struct evbus_file *ef, u32 approver_id,
			       u32 cause, int error, const char *topic, u32 len);

/* lossless.c */
struct evbus_room;
int evbus_room_alloc(struct evbus_ring *r);
void evbus_room_put(struct evbus_room *room);
struct evbus_room *evbus_room_get(struct evbus_room *room, u32 *gen);
void evbus_room_made(struct evbus_ring *r, bool closing);
void evbus_room_kick(struct evbus_ring *r);
int evbus_room_wait(struct evbus_file *pub, u64 reader, struct evbus_room *room,
		    u32 gen, u64 end);
bool evbus_lossless_may_wait(struct evbus_file *pub, struct evbus_file *reader,
			     const struct evbus_msg *m);
bool evbus_lossless_wait_ok(u64 wait_ns);
u64 evbus_lossless_max_ns(void);
struct evbus_room *evbus_ring_lossless_full(struct evbus_ring *r, u32 len,
					    u32 *gen, u64 *wait_ns);

/* ring.c, beside the event path */
void evbus_ring_revoke_begin(struct evbus_ring *r);
void evbus_ring_put_notice(struct evbus_ring *r, struct evbus_notice *n);
struct evbus_rec_hdr *evbus_ring_reserve_request(struct evbus_ring *r, u32 len);
bool evbus_ring_commit_request(struct evbus_ring *r, struct evbus_rec_hdr *slot);

/* stats.c */
int evbus_stats_init(void);
void evbus_stats_exit(void);
void evbus_stats_add_bus(struct evbus_bus *bus);
void evbus_stats_del_bus(struct evbus_bus *bus);
void evbus_stats_ring_alloc(s64 bytes);
void evbus_stats_ring_free(s64 bytes);
void evbus_stats_publish_error(struct evbus_bus *bus, int err);
void evbus_stats_call_error(struct evbus_bus *bus, long ret, int fail);
long evbus_ioctl_bus_stats(struct evbus_bus *bus, void __user *argp);
s64 evbus_bus_replayed(struct evbus_bus *bus);

/* user.c: per-user caps, charged up the user-namespace hierarchy */
enum evbus_uc_type {
	EVBUS_UC_FILES,
	EVBUS_UC_RING_BYTES,
	EVBUS_UC_SUBS,
	EVBUS_UC_BUSES,
	EVBUS_UC_HISTORY_BYTES,
	EVBUS_UC_RETAINED,
	EVBUS_UC_RETAINED_BYTES,
	EVBUS_UC_APPROVERS,
	EVBUS_UC_ASKS,
	EVBUS_UC_COUNT,
};
struct evbus_user *evbus_user_get(const struct cred *cred);
kuid_t evbus_user_account(const struct evbus_user *u);
void evbus_user_put(struct evbus_user *u);
void evbus_user_get_ref(struct evbus_user *u);
struct list_head *evbus_user_buses(struct evbus_user *u);
int evbus_user_charge(struct evbus_user *u, enum evbus_uc_type type,
		      u64 n, u64 max);
void evbus_user_uncharge(struct evbus_user *u, enum evbus_uc_type type, u64 n);

/* index.c; add and del under bus.index_lock, match under RCU */
int evbus_index_init(struct evbus_index *idx);
void evbus_index_destroy(struct evbus_index *idx);
int evbus_index_add(struct evbus_index *idx, struct evbus_index_entry *ent,
		    const char *pattern, const struct evbus_segs *segs);
void evbus_index_del(struct evbus_index *idx, struct evbus_index_entry *ent);
typedef bool (*evbus_match_fn)(struct evbus_index_entry *ent, void *arg);
bool evbus_index_match(struct evbus_index *idx, const char *topic,
		       const struct evbus_segs *segs, evbus_match_fn fn,
		       void *arg);

/* sub.c */
long evbus_ioctl_subscribe(struct evbus_file *ef, void __user *argp);
long evbus_ioctl_subscribe2(struct evbus_file *ef, void __user *argp);
void evbus_sub_unlink(struct evbus_file *ef, struct evbus_sub_entry *sub,
		      bool revoked);
void evbus_sub_free(struct evbus_sub_entry *sub);
long evbus_ioctl_unsubscribe(struct evbus_file *ef, u32 __user *argp);
void evbus_subs_release(struct evbus_file *ef);
bool evbus_sub_room(struct evbus_file *ef);

/* publish.c */
long evbus_ioctl_publish(struct evbus_file *ef, void __user *argp, bool nowait,
			 int *fail);
long evbus_ioctl_publish_batch(struct evbus_file *ef, void __user *argp,
			       bool nowait, int *fail);
void evbus_publish_kernel(struct evbus_file *ef, const char *topic, u32 len,
			  const void *payload, u32 payload_len);
int evbus_publish_approved(struct evbus_file *ef, struct evbus_msg *m, u64 *seq);
int evbus_publish_will(struct evbus_file *ef, const struct evbus_hist_rec *rec);
int evbus_may_publish_on(struct evbus_file *ef, const char *topic, u32 len,
			 const struct evbus_segs *segs, bool *ask, bool nowait);
long evbus_uring_publish(struct evbus_file *ef, void __user *argp, bool nowait,
			 struct io_uring_cmd *cmd, int *fail);

/* uring.c */
struct io_uring_cmd;
int evbus_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);

/* ring.c */
/*
 * Something to read: records, or a loss or a notice that the next read()
 * or poll() writes into the ring (a loss only once the ring is empty: it
 * comes after every record queued before it, reserved ones included).
 */
static inline bool evbus_ring_has_data(struct evbus_ring *r)
{
	u64 head = READ_ONCE(r->head);

	return head != READ_ONCE(r->committed) ||
	       (READ_ONCE(r->tail_lag.count) && head == READ_ONCE(r->tail)) ||
	       !list_empty(&r->revoked_pending);
}

/*
 * Racy read from poll() and wait_event(): both re-check after queueing on
 * r->wq, and every writer that makes the ring readable (a commit, the
 * wake timer, SET_RING) wakes r->wq after setting what this reads under
 * r->lock, so a stale answer is corrected.
 */
static inline bool evbus_ring_readable(struct evbus_ring *r)
{
	if (!evbus_ring_has_data(r))
		return false;
	return READ_ONCE(r->wake_mode) == EVBUS_RING_IMMEDIATE ||
	       READ_ONCE(r->wake_ready) || READ_ONCE(r->wake_expired);
}

/* mmap.c */
struct evbus_ring_mem;
struct vm_area_struct;
struct evbus_ring_mem *evbus_ring_mem_alloc(u32 size);
void evbus_ring_mem_free(struct evbus_ring_mem *mem);
void *evbus_mem_data(struct evbus_ring_mem *mem);
struct evbus_mmap_ctl *evbus_mem_ctl(struct evbus_ring_mem *mem);
struct evbus_mmap_hdr *evbus_mem_hdr(struct evbus_ring_mem *mem);
int evbus_mmap(struct file *file, struct vm_area_struct *vma);

/* wake.c */
void evbus_wake_init(struct evbus_ring *r);
void evbus_wake_free(struct evbus_ring *r);
void evbus_wake_set(struct evbus_ring *r, u32 mode, u32 events, u64 delay_ns);
void evbus_wake_update_ready(struct evbus_ring *r);
void evbus_wake_reset(struct evbus_ring *r);
void evbus_wake_committed(struct evbus_ring *r);
void evbus_wake_sample(struct evbus_ring *r);
void evbus_wake_get(struct evbus_ring *r, struct evbus_ring_cfg *cfg);
void evbus_wake_show(struct seq_file *m, struct evbus_ring *r);

void evbus_ring_init(struct evbus_ring *r, struct evbus_pcpu_stats __percpu *stats);
void evbus_ring_free(struct evbus_ring *r);
int evbus_ring_alloc(struct evbus_ring *r, struct evbus_user *u, u32 size);
int evbus_ring_configure(struct evbus_ring *r, struct evbus_user *u,
			 const struct evbus_ring_cfg *cfg, u32 size);
void evbus_ring_get_cfg(struct evbus_ring *r, struct evbus_ring_cfg *cfg);
void evbus_ring_close(struct evbus_ring *r, struct evbus_user *u);
void evbus_ring_discard(struct evbus_ring *r, struct evbus_user *u);
void evbus_ring_fill_stats(struct evbus_ring *r, struct evbus_stats *st);
struct evbus_rec_hdr *evbus_ring_reserve(struct evbus_ring *r,
					 const struct evbus_msg *m,
					 struct evbus_rec_hdr *prev, bool *wake);
int evbus_ring_reserve_replay(struct evbus_ring *r, u32 len,
			      struct evbus_lag *lag, struct evbus_rec_hdr **slot);
bool evbus_ring_drained(struct evbus_ring *r);
void evbus_ring_replay_lost(struct evbus_ring *r, u64 seq);
void evbus_ring_write(struct evbus_rec_hdr *slot, const struct evbus_msg *m,
		      const struct evbus_ident *id);
bool evbus_ring_commit(struct evbus_ring *r, struct evbus_rec_hdr *slot);
ssize_t evbus_ring_read(struct evbus_ring *r, struct iov_iter *to);
__poll_t evbus_ring_poll(struct evbus_ring *r);
u32 evbus_event_rec_len(u32 topic_len, u32 payload_len);

#define EVBUS_LAG_REC_LEN	((u32)sizeof(struct evbus_lagged))

#endif /* _EVBUS_INTERNAL_H */
