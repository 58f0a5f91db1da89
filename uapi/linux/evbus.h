/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * evbus: a cross-process event bus on /dev/evbus.
 *
 * Every open file is a subscriber with its own ring and may also publish.
 * Publishing is an ioctl; delivery is read() of whole records, with poll()
 * readiness.  The kernel stamps every event with a global sequence number,
 * two clocks and the sender's identity, and reports every event a
 * subscriber lost in an in-band LAGGED record.
 *
 * Rules for this header: fixed-width types only, user pointers as __u64,
 * explicit padding, every struct a multiple of 8 bytes, reserved fields that
 * the kernel requires to be zero.  Valid-flag masks live in the module.
 */
#ifndef _UAPI_LINUX_EVBUS_H
#define _UAPI_LINUX_EVBUS_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define EVBUS_ABI_VERSION	1

/* Feature bits returned by EVBUS_IOC_VERSION. */
#define EVBUS_FEAT_PUBLISH	(1ULL << 0)	/* EVBUS_IOC_PUBLISH */
#define EVBUS_FEAT_BATCH	(1ULL << 1)	/* EVBUS_IOC_PUBLISH_BATCH */
#define EVBUS_FEAT_WILDCARD	(1ULL << 2)	/* '*' and '>' patterns */
#define EVBUS_FEAT_DROP_NEWEST	(1ULL << 3)	/* EVBUS_POLICY_DROP_NEWEST */
#define EVBUS_FEAT_NS_XLATE	(1ULL << 4)	/* pid/uid seen from reader's ns */

/* Limits that are part of the ABI. */
#define EVBUS_TOPIC_MAX		255	/* bytes, excluding the NUL */
#define EVBUS_SEGMENTS_MAX	20	/* dot-separated segments */
#define EVBUS_BATCH_MAX		1024	/* events per EVBUS_IOC_PUBLISH_BATCH */

/*
 * EVBUS_IOC_VERSION: ABI handshake.  Userspace zeroes the struct; the kernel
 * fills in abi_version, features and the current limits.  Nonzero flags or
 * reserved fields give EINVAL.
 */
struct evbus_version {
	__u32 abi_version;	/* out: EVBUS_ABI_VERSION */
	__u32 flags;		/* in: must be 0 */
	__u64 features;		/* out: EVBUS_FEAT_* */
	__u32 max_payload;	/* out: current max payload, bytes */
	__u32 max_subs;		/* out: subscriptions per file */
	__u32 ring_default;	/* out: default ring size, bytes */
	__u32 ring_max;		/* out: largest ring, bytes */
	__u64 reserved[4];	/* must be 0 */
};

/*
 * EVBUS_IOC_SUBSCRIBE: add a pattern to this file.  Patterns are topics
 * with two wildcards: '*' matches exactly one segment, '>' as the last
 * segment matches one or more remaining segments.  Returns the id in
 * sub_id; ids are unique among the file's subscriptions and an id comes
 * back only after 2^32 further subscribes on the file.  ENOSPC past the
 * module's max_subs per file or max_user_subs per user; a failed call
 * leaves the file unchanged (no ring is set up).
 */
struct evbus_sub {
	__u64 pattern;		/* in: user pointer, not NUL-terminated */
	__u32 pattern_len;	/* in: 1..EVBUS_TOPIC_MAX */
	__u32 flags;		/* in: must be 0 */
	__u32 sub_id;		/* out */
	__u32 reserved;		/* must be 0 */
};

/*
 * EVBUS_IOC_PUBLISH: publish one event.  The kernel stamps seq, both clocks
 * and the sender's identity; the publisher supplies topic, payload, type,
 * corr and parent, which are carried verbatim.
 */
struct evbus_pub {
	__u64 topic;		/* in: user pointer, not NUL-terminated */
	__u64 payload;		/* in: user pointer, may be 0 if payload_len 0 */
	__u32 topic_len;	/* in: 1..EVBUS_TOPIC_MAX */
	__u32 payload_len;	/* in: 0..max_payload */
	__u32 type;		/* in: application type code */
	__u32 flags;		/* in: EVBUS_PUB_* */
	__u64 corr;		/* in: correlation id */
	__u64 parent;		/* in: parent sequence number */
	__u64 seq;		/* out: assigned sequence number */
	__u64 deadline_ns;	/* in: longest wait for approval (0: default),
				 * or with EVBUS_PUB_WAIT for rate tokens */
	__u64 reserved;		/* must be 0 */
};

/*
 * EVBUS_IOC_PUBLISH_BATCH: publish 1..EVBUS_BATCH_MAX events, in order, like
 * a partial write():
 *  - every event is validated and published in turn; the first one that
 *    fails stops the batch and nothing after it is published;
 *  - the ioctl returns the number of events published (> 0), or -1 with
 *    errno set when the very first event failed (nothing published);
 *  - first_seq, published, error (0 or a negative errno) and error_index
 *    (index of the failing event, or count) are always written back (a
 *    struct that cannot be written gives EFAULT if nothing was published);
 *  - with EVBUS_BATCH_SEQ, each published event's sequence number is also
 *    written to its own evbus_pub.seq (numbers within a batch increase, but
 *    other publishers' events may interleave); an event whose descriptor is
 *    not writable is not published: the batch stops before it with -EFAULT.
 * Each event is published whole or not at all.  Events with one topic in
 * a row are fanned out together: a subscriber is woken at most once per
 * such run (of up to 64 events).  A fatal signal stops a batch between
 * runs.
 */
/* Flags for struct evbus_pub_batch. */
#define EVBUS_BATCH_SEQ		(1U << 0)	/* write back each event's seq */

struct evbus_pub_batch {
	__u64 events;		/* in: user pointer to struct evbus_pub[count] */
	__u32 count;		/* in: 1..EVBUS_BATCH_MAX */
	__u32 flags;		/* in: EVBUS_BATCH_* */
	__u64 first_seq;	/* out: seq of the first published event */
	__u32 published;	/* out: events published */
	__s32 error;		/* out: 0, or -errno of the failing event */
	__u32 error_index;	/* out: index of the failing event, or count */
	__u32 reserved32;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/* Overflow policies. */
#define EVBUS_POLICY_DROP_OLDEST	0	/* default: oldest make room (not one
						 * still being written: then the
						 * new event is dropped) */
#define EVBUS_POLICY_DROP_NEWEST	1	/* the new event is dropped */
#define EVBUS_POLICY_LOSSLESS		2	/* the publisher waits (see below) */

/*
 * Lossless rings (EVBUS_FEAT_LOSSLESS).  A publisher whose event does not
 * fit in a lossless ring waits, up to the ring's wait_ns, for its reader
 * to make room (read(), or poll() after consuming from the mapping).  It
 * waits only if it agreed to: its file was opened with the reader's euid,
 * or a policy allow rule gives it EVBUS_RIGHT_WAIT on the topic (the
 * default never does).  For any other publisher, and once a wait has run
 * out, the ring is drop-newest: the event is lost for that reader alone,
 * with an exact LAGGED record as ever.  A waiting publisher holds no lock
 * and no reference that would keep the reader's file open; SIGKILL ends
 * its wait (the event not yet published is not, and the call reports what
 * went out before).  A call waits at most one deadline in total, whatever
 * it publishes and to however many readers: the first wait's.  Waits and
 * the losses by cause are counted in struct evbus_bus_stats.
 */
/*
 * EVBUS_IOC_SET_RING / EVBUS_IOC_GET_RING: ring capacity and overflow
 * policy.  size is rounded up to a power of two and must lie within the
 * module's ring_min..ring_max, themselves powers of two, at least a page
 * (EINVAL otherwise); changing the size needs an empty ring (EBUSY
 * otherwise).  size 0 keeps the current size.  While the ring is mapped
 * (see below), changing its size or its policy gives EBUSY.
 */
/*
 * Wake-ups: one of three modes in flags (SET_RING always sets the whole
 * configuration; GET_RING reports the mode in force).
 *
 * EVBUS_RING_ADAPTIVE, the default (flags 0 in SET_RING asks for it too):
 * interrupt moderation as NIC drivers do it, with the kernel's lib/dim.  A
 * record that arrives when the reader was last woken at least the current
 * delay ago wakes it at once, so sparse traffic is never delayed; under a
 * steady stream wake-ups are spaced by that delay, or come as soon as the
 * current batch of records is queued.  lib/dim moves the (delay, batch)
 * pair along a fixed table of profiles, from (0, 1) up to
 * (EVBUS_ADAPTIVE_DELAY_MAX_NS, EVBUS_ADAPTIVE_EVENTS_MAX), by the
 * throughput the reader achieves; losses and a ring three quarters full
 * wake at once.  The added latency is thus never more than
 * EVBUS_ADAPTIVE_DELAY_MAX_NS.  fdinfo shows the profile in force.
 * GET_RING reports wake_events and wake_delay_ns as 0.
 *
 * EVBUS_RING_IMMEDIATE: a reader sleeping in read() or poll() is woken as
 * soon as one record is queued (the default before adaptive wake-ups).
 *
 * EVBUS_RING_WAKE, fixed coalescing: the file becomes readable (and its
 * sleepers are woken) only once wake_events records are queued, or
 * wake_delay_ns after the oldest unread record was queued (0: no timer),
 * or when events were lost or the ring is full (three quarters of its
 * bytes in use, so the reader is woken before anything is lost).
 *
 * In every mode a non-blocking read() returns whatever is queued.
 */
#define EVBUS_RING_WAKE		(1U << 0)
#define EVBUS_RING_IMMEDIATE	(1U << 1)
#define EVBUS_RING_ADAPTIVE	(1U << 2)
#define EVBUS_RING_VALID	(EVBUS_RING_WAKE | EVBUS_RING_IMMEDIATE | \
				 EVBUS_RING_ADAPTIVE)
#define EVBUS_WAKE_EVENTS_MAX	65536U
#define EVBUS_WAKE_DELAY_MAX	1000000000ULL	/* 1 s */
#define EVBUS_ADAPTIVE_DELAY_MAX_NS	500000ULL	/* 500 us */
#define EVBUS_ADAPTIVE_EVENTS_MAX	32U

struct evbus_ring_cfg {
	__u32 size;		/* in/out: bytes */
	__u32 policy;		/* in/out: EVBUS_POLICY_* */
	__u32 flags;		/* in/out: EVBUS_RING_* */
	__u32 wake_events;	/* in/out: 1..EVBUS_WAKE_EVENTS_MAX with
				 * EVBUS_RING_WAKE, else 0 */
	__u64 wake_delay_ns;	/* in/out: 0..EVBUS_WAKE_DELAY_MAX with
				 * EVBUS_RING_WAKE, else 0 */
	__u64 wait_ns;		/* in/out: EVBUS_POLICY_LOSSLESS: longest a
				 * publisher waits for room, 1 ns up to the
				 * module's lossless_max_ms; else 0 */
};

/* EVBUS_IOC_STATS: this file's counters. */
struct evbus_stats {
	__u64 queued_events;	/* records queued now */
	__u64 queued_bytes;	/* bytes of records queued now */
	__u64 delivered;	/* event records read (read() or mapping) */
	__u64 lost;		/* events dropped for this file */
	__u64 lag_records;	/* LAGGED records read (read() or mapping) */
	__u64 published;	/* events this file published */
	__u32 capacity;		/* ring size, bytes (0: no ring yet) */
	__u32 policy;		/* EVBUS_POLICY_* */
	__u32 subscriptions;	/* subscriptions held */
	__u32 flags;		/* in: must be 0 */
	__u64 reserved[4];	/* in: must be 0 */
};

#define EVBUS_IOC_MAGIC		0xEB	/* unassigned in ioctl-number.rst (6.1) */

#define EVBUS_IOC_VERSION	_IOWR(EVBUS_IOC_MAGIC, 0x00, struct evbus_version)
#define EVBUS_IOC_SUBSCRIBE	_IOWR(EVBUS_IOC_MAGIC, 0x01, struct evbus_sub)
#define EVBUS_IOC_UNSUBSCRIBE	_IOW(EVBUS_IOC_MAGIC, 0x02, __u32)
#define EVBUS_IOC_PUBLISH	_IOWR(EVBUS_IOC_MAGIC, 0x03, struct evbus_pub)
#define EVBUS_IOC_PUBLISH_BATCH	_IOWR(EVBUS_IOC_MAGIC, 0x04, struct evbus_pub_batch)
#define EVBUS_IOC_SET_RING	_IOWR(EVBUS_IOC_MAGIC, 0x05, struct evbus_ring_cfg)
#define EVBUS_IOC_GET_RING	_IOR(EVBUS_IOC_MAGIC, 0x06, struct evbus_ring_cfg)
#define EVBUS_IOC_STATS		_IOWR(EVBUS_IOC_MAGIC, 0x07, struct evbus_stats)

/*
 * io_uring.  IORING_OP_URING_CMD on an evbus file publishes: sqe->cmd_op is
 * EVBUS_URING_PUBLISH or EVBUS_URING_PUBLISH_BATCH and the command area of
 * the SQE (16 bytes in a 64-byte SQE) holds struct evbus_uring_cmd, whose
 * arg points to the same struct evbus_pub / evbus_pub_batch the ioctls
 * take.  The CQE's res is 0 once every event was published, or the -errno
 * the ioctl would report (for a batch: of the event that stopped it, with
 * published/error_index saying how far it got); never a count.  The same
 * fields are written back as by the ioctls.  A command issued inline that
 * would have to sleep before its first event goes out (a user page not
 * resident, memory that must be waited for) is completed by an io_uring
 * worker instead.  The event's tid is that of the thread that issued the
 * command: with IOSQE_ASYNC, SQPOLL or a command completed by a worker, an
 * io_uring thread of the same process (pid is the same).  IORING_OP_READ
 * (and, from Linux 6.7, IORING_OP_READ_MULTISHOT) behave exactly like
 * read().
 */
#define EVBUS_URING_PUBLISH		1
#define EVBUS_URING_PUBLISH_BATCH	2

struct evbus_uring_cmd {
	__u64 arg;		/* user pointer to the command's struct */
	__u32 flags;		/* must be 0 */
	__u32 reserved;		/* must be 0 */
};

#define EVBUS_FEAT_URING_CMD	(1ULL << 5)	/* EVBUS_URING_* commands */
#define EVBUS_FEAT_NOWAIT_READ	(1ULL << 6)	/* poll-driven io_uring reads */
#define EVBUS_FEAT_RING_WAKE	(1ULL << 7)	/* EVBUS_RING_WAKE coalescing */
#define EVBUS_FEAT_IPC_NS	(1ULL << 8)	/* a bus per IPC namespace */
#define EVBUS_FEAT_POLICY	(1ULL << 9)	/* EVBUS_IOC_POLICY_* topic policy */
#define EVBUS_FEAT_SYS_TOPICS	(1ULL << 10)	/* kernel events on $sys.* */
#define EVBUS_FEAT_SCOPE	(1ULL << 11)	/* EVBUS_IOC_NARROW scoped handles */
#define EVBUS_FEAT_SUB_FILTER	(1ULL << 12)	/* EVBUS_IOC_SUBSCRIBE2 filters */
#define EVBUS_FEAT_SUB_BPF	(1ULL << 13)	/* classic BPF on a subscription */
#define EVBUS_FEAT_BUS_STATS	(1ULL << 14)	/* EVBUS_IOC_BUS_STATS */
#define EVBUS_FEAT_MMAP		(1ULL << 15)	/* mmap() of the ring */
#define EVBUS_FEAT_ADAPTIVE_WAKE (1ULL << 16)	/* EVBUS_RING_ADAPTIVE, IMMEDIATE */
#define EVBUS_FEAT_HISTORY	(1ULL << 17)	/* history, replay, EVBUS_IOC_HISTORY */
#define EVBUS_FEAT_RETAINED	(1ULL << 18)	/* EVBUS_PUB_RETAIN, EVBUS_SUB_RETAINED */
#define EVBUS_FEAT_APPROVAL	(1ULL << 19)	/* approvers, EVBUS_PUB_ASK */
#define EVBUS_FEAT_WILL		(1ULL << 20)	/* EVBUS_IOC_WILL last wills */
#define EVBUS_FEAT_RATE		(1ULL << 21)	/* EVBUS_IOC_RATE, EVBUS_PUB_WAIT */
#define EVBUS_FEAT_LOSSLESS	(1ULL << 22)	/* EVBUS_POLICY_LOSSLESS rings */

/*
 * Buses.  A process reaches the bus of its IPC namespace, as POSIX message
 * queues do: each bus has its own sequence numbers, subscriptions, policy
 * and counters, and nothing crosses between buses.  A bus lives as long as
 * its IPC namespace, and longer while a file opened on it is still open.
 *
 * EVBUS_IOC_BUS_STATS: the counters of the caller's bus (the module's sysfs
 * counters are totals over all buses).  Size-versioned: userspace sets
 * size to the sizeof() it was built with (at least
 * EVBUS_BUS_STATS_SIZE_VER0) and zeroes flags; the kernel fills in what it
 * knows, up to size bytes, and zeroes any tail it does not know.
 */
struct evbus_bus_stats {
	__u32 size;		/* in: sizeof(struct evbus_bus_stats) */
	__u32 flags;		/* in: must be 0 */
	__u64 bus_id;		/* out: unique while the module is loaded */
	__u64 ipc_ns;		/* out: inode number of the IPC namespace */
	__u64 seq;		/* out: last sequence number given out */
	__u64 published;	/* events published */
	__u64 published_bytes;	/* payload bytes published */
	__u64 deliveries;	/* event x matching file, queued or lost */
	__u64 lost;		/* deliveries dropped by full rings */
	__u64 read_events;	/* event records read (read() or mapping) */
	__u64 read_bytes;	/* record bytes read (read() or mapping) */
	__u64 lag_records;	/* LAGGED records read (read() or mapping) */
	__u64 queued_events;	/* event records in rings now */
	__u64 queued_bytes;	/* record bytes in rings now */
	__u64 discarded;	/* records still queued when a file closed */
	__u64 subscriptions;	/* subscriptions now */
	__u64 open_files;	/* open files now */
	__u64 filtered;		/* deliveries a subscription filter refused */
	__u64 denied_rule;	/* calls refused by a deny rule */
	__u64 denied_default;	/* calls refused by a default of deny */
	__u64 denied_scope;	/* calls refused by a file's scope */
	__u64 denied_reserved;	/* publishes refused on $sys.* */
	__u64 revoked;		/* subscriptions revoked by a policy change */
	__u64 policy_rules;	/* rules in the policy now */
	__u32 policy_default;	/* EVBUS_ALLOW or EVBUS_DENY */
	__u32 reserved;		/* 0 */
	/* EVBUS_BUS_STATS_SIZE_VER1: the approval gate, by outcome */
	__u64 approval_asked;	/* publishes that went through the gate */
	__u64 approval_requests;	/* requests queued to approvers */
	__u64 approval_allowed;	/* asks published */
	__u64 approval_modified;	/* ... of which some approver changed */
	__u64 approval_denied;	/* explicit denials */
	__u64 approval_expired;	/* steps ended by the deadline (default) */
	__u64 approval_gone;	/* steps ended by the approver going */
	__u64 approval_full;	/* steps ended by no room at the approver */
	__u64 approval_withdrawn;	/* publishers interrupted */
	__u64 approval_nobody;	/* mandatory with no approver */
	__u64 approvers;	/* approvers now */
	__u64 approval_pending;	/* requests pending now */
	/* EVBUS_BUS_STATS_SIZE_VER2: rate limits and lossless rings */
	__u64 rate_refused_file;	/* publishes refused by a file's bucket */
	__u64 rate_refused_user;	/* ... by the user's bucket */
	__u64 rate_waited;	/* publishes that waited for tokens */
	__u64 rate_wait_ns;	/* ... and how long, in total */
	__u64 rate_interrupted;	/* waits for tokens a signal ended */
	__u64 rate_users;	/* per-user limits in force now */
	__u64 lossless_waits;	/* waits for room in a lossless ring */
	__u64 lossless_wait_ns;	/* ... and how long, in total */
	__u64 lossless_expired;	/* events lost there once a wait ran out */
	__u64 lossless_foreign;	/* ... for a publisher that may not wait */
};
#define EVBUS_BUS_STATS_SIZE_VER0	192
#define EVBUS_BUS_STATS_SIZE_VER1	288	/* approval_* */
#define EVBUS_BUS_STATS_SIZE_VER2	368	/* rate_*, lossless_* */

/*
 * Topic policy of a bus, set by its owner: a process with CAP_SYS_ADMIN in
 * the user namespace that owns the bus's IPC namespace (both the caller
 * and the credentials the file was opened with; EPERM otherwise, and from
 * a scoped file).
 *
 * A rule is (pattern, who, rights, verdict).  A call is checked against
 * the credentials its file was opened with, as for any file descriptor:
 *  - publishing on topic T needs EVBUS_RIGHT_PUBLISH: refused if a deny
 *    rule for the caller has a pattern that matches T; else allowed
 *    through the approval gate if an EVBUS_ASK rule's does (see below);
 *    else allowed if an allow rule's pattern matches T; else the bus's
 *    default applies;
 *  - subscribing to pattern P needs EVBUS_RIGHT_SUBSCRIBE: refused if any
 *    deny rule's pattern has a topic in common with P; else allowed if P
 *    lies within an allow rule's pattern (every topic P matches, it
 *    matches) or the default is allow.  So a subscription never receives
 *    an event its reader could not have subscribed to on its own;
 *  - a subscription that reaches into the past (EVBUS_SUB_SINCE, _LAST or
 *    _RETAINED) needs EVBUS_RIGHT_REPLAY on its pattern too, checked the
 *    same way as EVBUS_RIGHT_SUBSCRIBE.
 * Refusals are EACCES, change nothing, are counted by cause in
 * struct evbus_bus_stats, fire the evbus_denied tracepoint and publish
 * $sys.policy.denied.  Changing the policy leaves existing subscriptions
 * alone unless the change carries EVBUS_POLICY_REVOKE: then every
 * subscription the new policy would refuse is removed, and its reader
 * gets an EVBUS_REC_REVOKED record at that point of its stream (or, when
 * its ring cannot take the record without dropping an unread one, as soon
 * as read() has made room; the record's seq says where the subscription
 * ended).  The change never waits for a reader.  A revoked subscription
 * counts against the file's and the user's subscription caps until its
 * record is read.
 */
#define EVBUS_ALLOW		1
#define EVBUS_DENY		2
#define EVBUS_ASK		3	/* publish rules only: see the gate */

#define EVBUS_RIGHT_PUBLISH	(1U << 0)
#define EVBUS_RIGHT_SUBSCRIBE	(1U << 1)
#define EVBUS_RIGHT_REPLAY	(1U << 2)	/* replay and retained values */
#define EVBUS_RIGHT_APPROVE	(1U << 3)	/* EVBUS_IOC_APPROVER_ADD */
#define EVBUS_RIGHT_WAIT	(1U << 4)	/* publishes may wait for lossless
						 * readers of other users (allow
						 * rules only grant it) */

#define EVBUS_WHO_ALL		0	/* everyone; id must be 0 */
#define EVBUS_WHO_UID		1	/* files opened with this euid */
#define EVBUS_WHO_GID		2	/* ... with this egid or supplementary gid */

#define EVBUS_POLICY_REVOKE	(1U << 0)	/* recheck subscriptions */

/* EVBUS_IOC_POLICY_ADD: add a rule; id is returned. ENOSPC past max_rules. */
struct evbus_rule {
	__u64 pattern;		/* in: user pointer, not NUL-terminated */
	__u32 pattern_len;	/* in: 1..EVBUS_TOPIC_MAX */
	__u32 id;		/* out: rule id, never reused on this bus */
	__u32 verdict;		/* in: EVBUS_ALLOW, _DENY, or _ASK (whose
				 * rights must be EVBUS_RIGHT_PUBLISH) */
	__u32 rights;		/* in: EVBUS_RIGHT_*, at least one */
	__u32 who;		/* in: EVBUS_WHO_* */
	__u32 id_value;		/* in: uid or gid in the caller's user ns */
	__u32 flags;		/* in: EVBUS_POLICY_REVOKE */
	__u32 reserved;		/* must be 0 */
};

/*
 * EVBUS_IOC_POLICY_SET: change the default verdict, remove one rule or all.
 * op EVBUS_POLICY_OP_DEFAULT sets verdict; EVBUS_POLICY_OP_REMOVE removes
 * rule id (ENOENT if none); EVBUS_POLICY_OP_CLEAR removes every rule and
 * restores the default of allow.
 */
#define EVBUS_POLICY_OP_DEFAULT	1
#define EVBUS_POLICY_OP_REMOVE	2
#define EVBUS_POLICY_OP_CLEAR	3

struct evbus_policy_set {
	__u32 op;		/* in: EVBUS_POLICY_OP_* */
	__u32 flags;		/* in: EVBUS_POLICY_REVOKE */
	__u32 verdict;		/* in: for OP_DEFAULT, else 0 */
	__u32 id;		/* in: for OP_REMOVE, else 0 */
	__u64 reserved;		/* must be 0 */
};

/*
 * EVBUS_IOC_POLICY_LIST: anyone on the bus may read its policy.  Rules
 * are returned in id order starting at the first id >= start_id, up to
 * count of them; count is set to how many were written and total to the
 * number of rules.  uid and gid are shown in the caller's user namespace.
 */
struct evbus_rule_info {
	__u32 id;
	__u32 verdict;
	__u32 rights;
	__u32 who;
	__u32 id_value;
	__u32 pattern_len;
	char pattern[EVBUS_TOPIC_MAX + 1];	/* NUL-terminated */
};

struct evbus_policy_list {
	__u64 rules;		/* in: user pointer to evbus_rule_info[count] */
	__u32 count;		/* in: room; out: rules written */
	__u32 start_id;		/* in: first id to consider */
	__u32 total;		/* out: rules in the policy */
	__u32 policy_default;	/* out: EVBUS_ALLOW or EVBUS_DENY */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved;		/* must be 0 */
};

/*
 * Scoped handles.  EVBUS_IOC_NARROW irreversibly narrows what this open
 * file may publish and subscribe to, for whoever holds it (also after it
 * is passed over SCM_RIGHTS or inherited).  Each set is up to
 * EVBUS_SCOPE_MAX patterns; a file starts unscoped (everything the policy
 * allows).  Every new pattern must lie within a pattern the file already
 * has for that right, else EACCES and nothing changes; every existing
 * subscription must lie within the new subscribe set, else EBUSY.  An
 * empty set means nothing may be done with that right.  With
 * EVBUS_SCOPE_KEEP_PUBLISH (or _SUBSCRIBE) that set is left as it is.
 * A scoped file cannot change the policy.
 */
#define EVBUS_SCOPE_MAX			16
#define EVBUS_SCOPE_KEEP_PUBLISH	(1U << 0)
#define EVBUS_SCOPE_KEEP_SUBSCRIBE	(1U << 1)

struct evbus_pattern {
	__u64 ptr;		/* user pointer, not NUL-terminated */
	__u32 len;		/* 1..EVBUS_TOPIC_MAX */
	__u32 reserved;		/* must be 0 */
};

struct evbus_scope {
	__u64 publish;		/* in: user pointer to evbus_pattern[n_publish] */
	__u64 subscribe;	/* in: user pointer to evbus_pattern[n_subscribe] */
	__u32 n_publish;	/* in: 0..EVBUS_SCOPE_MAX */
	__u32 n_subscribe;	/* in: 0..EVBUS_SCOPE_MAX */
	__u32 flags;		/* in: EVBUS_SCOPE_* */
	__u32 reserved;		/* must be 0 */
};

/*
 * EVBUS_IOC_SUBSCRIBE2: subscribe with filters, applied before anything is
 * queued to this file (a refused event costs the reader nothing and is
 * counted in struct evbus_bus_stats.filtered).  Size-versioned like
 * openat2(): size is the sizeof() userspace was built with, at least
 * EVBUS_SUBSCRIBE_SIZE_VER0; fields the kernel does not know must be zero
 * (E2BIG otherwise).
 *  - EVBUS_SUB_FROM_UID/GID: the sender's euid/egid, given in the caller's
 *    user namespace; EVBUS_SUB_FROM_PID: the sender's process (tgid), in
 *    the caller's pid namespace (ESRCH if it does not exist);
 *  - EVBUS_SUB_TYPE: type_min <= type <= type_max;
 *  - EVBUS_SUB_FILTER: a classic BPF program (struct sock_filter[],
 *    1..EVBUS_FILTER_MAX_INSNS instructions) run on the event record as
 *    read() returns it, in host byte order, except that seq, time_ns and
 *    mono_ns read as 0 (the filter runs before the event is numbered).
 *    Loads are 32-bit, absolute, 4-byte aligned and below
 *    EVBUS_FILTER_WINDOW; bytes past the record's end read as 0, and
 *    BPF_LEN loads give EVBUS_FILTER_WINDOW (the record's own length is
 *    hdr.len, at offset 0).  A nonzero return delivers.
 *    Anything else is refused with EINVAL when attaching.
 * sub_id is written back as by EVBUS_IOC_SUBSCRIBE.
 *
 * Reaching into the past (EVBUS_SUBSCRIBE_SIZE_VER1; at most one of these,
 * EINVAL otherwise; each needs EVBUS_RIGHT_REPLAY, see the policy):
 *  - EVBUS_SUB_SINCE: first the events of the bus's history (see
 *    EVBUS_IOC_HISTORY) from seq since on, then live ones;
 *  - EVBUS_SUB_LAST: first the last `last` events of the history that the
 *    subscription matches (fewer if the history holds fewer), then live;
 *  - EVBUS_SUB_RETAINED: first the retained value (EVBUS_PUB_RETAIN) of
 *    every topic the pattern matches, then live events.
 * Replayed events pass the subscription's filters as live ones do, carry
 * their original seq, clocks and sender (seen from the reader's
 * namespaces), and EVBUS_EVENT_REPLAYED or EVBUS_EVENT_RETAINED in flags,
 * besides the flags they went out with (EVBUS_EVENT_APPROVED, _MODIFIED
 * and its modifier, _WILL).
 *
 * Replay (SINCE, LAST).  The file catches up from the history and then
 * goes live, with no gap and no duplicate at the join: its stream is every
 * event from the start that any of its subscriptions matches, once, in
 * seq order, each one either delivered or inside a LAGGED record.  While
 * it catches up the file is always readable; read() and poll() copy
 * history into the ring as the reader makes room (so replay never
 * overflows the ring, and each call does bounded work), and the file goes
 * live once it has reached the newest event.  What the history no longer
 * holds when the reader gets there (evicted meanwhile, older than the
 * history, or never kept) is reported by one LAGGED record per gap, with
 * the exact range and EVBUS_LAGGED_HISTORY.  Replay needs a file that has
 * not queued anything yet (EBUSY otherwise); several subscriptions of
 * that file may ask for it, each from its own start.  since must lie in
 * 1..the seq the next event will get (ERANGE otherwise: another bus, or a
 * bus created again).
 *
 * Retained values (RETAINED) are queued at once, in seq order, as if
 * published again at the moment of the call, following the ring's
 * overflow policy; the subscription receives live events from the next
 * seq on.  Not on a file that is catching up (EBUSY).
 */
#define EVBUS_SUB_FROM_UID	(1U << 0)
#define EVBUS_SUB_FROM_GID	(1U << 1)
#define EVBUS_SUB_FROM_PID	(1U << 2)
#define EVBUS_SUB_TYPE		(1U << 3)
#define EVBUS_SUB_FILTER	(1U << 4)
#define EVBUS_SUB_SINCE		(1U << 5)
#define EVBUS_SUB_LAST		(1U << 6)
#define EVBUS_SUB_RETAINED	(1U << 7)

#define EVBUS_FILTER_MAX_INSNS	256
#define EVBUS_FILTER_WINDOW	1024

struct evbus_subscribe {
	__u32 size;		/* in: sizeof(struct evbus_subscribe) */
	__u32 flags;		/* in: EVBUS_SUB_* */
	__u64 pattern;		/* in: user pointer, not NUL-terminated */
	__u32 pattern_len;	/* in: 1..EVBUS_TOPIC_MAX */
	__u32 sub_id;		/* out */
	__u32 from_uid;		/* in: with EVBUS_SUB_FROM_UID */
	__u32 from_gid;		/* in: with EVBUS_SUB_FROM_GID */
	__u32 from_pid;		/* in: with EVBUS_SUB_FROM_PID */
	__u32 type_min;		/* in: with EVBUS_SUB_TYPE */
	__u32 type_max;		/* in: with EVBUS_SUB_TYPE */
	__u32 filter_len;	/* in: with EVBUS_SUB_FILTER, instructions */
	__u64 filter;		/* in: user pointer to struct sock_filter[] */
	__u64 since;		/* in: with EVBUS_SUB_SINCE, first seq */
	__u32 last;		/* in: with EVBUS_SUB_LAST, events (>= 1) */
	__u32 reserved;		/* must be 0 */
};
#define EVBUS_SUBSCRIBE_SIZE_VER0	56
#define EVBUS_SUBSCRIBE_SIZE_VER1	72	/* since, last */

/*
 * Kernel topics.  A topic whose first segment is "$sys" is published only
 * by the kernel (EACCES for anyone else); '$' is allowed nowhere else.  A
 * pattern reaches $sys topics only if its first segment is "$sys" itself:
 * '*' and '>' in the first segment never match it.  The sender fields of
 * these events are those of the process concerned.
 *   $sys.file.open, $sys.file.close   payload struct evbus_sys_file
 *   $sys.policy.denied                payload struct evbus_sys_denied
 */
#define EVBUS_SYS_PREFIX	"$sys"

struct evbus_sys_file {
	__u64 file_id;		/* the file's id, as in its fdinfo */
};

#define EVBUS_DENY_RULE		1	/* a deny rule */
#define EVBUS_DENY_DEFAULT	2	/* no allow rule, default deny */
#define EVBUS_DENY_SCOPE	3	/* outside the file's scope */
#define EVBUS_DENY_RESERVED	4	/* publish on $sys.* */
#define EVBUS_DENY_ASK		5	/* a will on a topic an ask rule covers */

struct evbus_sys_denied {
	__u64 file_id;		/* the refused file */
	__u32 right;		/* EVBUS_RIGHT_* refused */
	__u32 cause;		/* EVBUS_DENY_* */
	__u32 rule_id;		/* with EVBUS_DENY_RULE, else 0 */
	__u32 topic_len;	/* bytes of topic that follow */
	char topic[];		/* topic or pattern refused, no NUL */
};

#define EVBUS_IOC_SUBSCRIBE2	_IOC(_IOC_READ | _IOC_WRITE, EVBUS_IOC_MAGIC, \
				     0x08, EVBUS_SUBSCRIBE_SIZE_VER0)
#define EVBUS_IOC_NARROW	_IOW(EVBUS_IOC_MAGIC, 0x09, struct evbus_scope)
#define EVBUS_IOC_BUS_STATS	_IOC(_IOC_READ | _IOC_WRITE, EVBUS_IOC_MAGIC, \
				     0x0a, EVBUS_BUS_STATS_SIZE_VER0)
#define EVBUS_IOC_POLICY_ADD	_IOWR(EVBUS_IOC_MAGIC, 0x0b, struct evbus_rule)
#define EVBUS_IOC_POLICY_SET	_IOW(EVBUS_IOC_MAGIC, 0x0c, struct evbus_policy_set)
#define EVBUS_IOC_POLICY_LIST	_IOWR(EVBUS_IOC_MAGIC, 0x0d, struct evbus_policy_list)

/*
 * History and retained values.
 *
 * Every bus keeps its most recent events, whoever published them, in a
 * history of bounded bytes (module parameter history_bytes; 0 turns it
 * off), oldest evicted first, for replay (EVBUS_SUB_SINCE, _LAST).  An
 * event larger than the history is not kept.  The history is charged to
 * the user who created the bus, or who last set its capacity
 * (max_user_history_bytes), and to that user's memory cgroup.
 *
 * A publish with EVBUS_PUB_RETAIN also makes the event its topic's
 * retained value, replacing the previous one; with an empty payload it
 * clears it (and is published as usual).  Retained values are bounded per
 * bus in count and bytes (max_retained, max_retained_bytes) and per user
 * (max_user_retained, max_user_retained_bytes), charged to the publisher:
 * ENOSPC, with nothing published, past any of them.
 *
 * EVBUS_IOC_HISTORY: the history's state, size-versioned like
 * EVBUS_IOC_BUS_STATS.  With EVBUS_HISTORY_SET the bus's owner (as for
 * the policy; EPERM otherwise) sets its capacity first: a new capacity
 * empties the history (bytes rounded up to a page, 0 turns it off,
 * EINVAL past the module's history_max, EDQUOT past the owner's
 * max_user_history_bytes).
 */
#define EVBUS_PUB_RETAIN	(1U << 0)	/* struct evbus_pub.flags */

#define EVBUS_HISTORY_SET	(1U << 0)

struct evbus_history {
	__u32 size;		/* in: sizeof(struct evbus_history) */
	__u32 flags;		/* in: EVBUS_HISTORY_SET */
	__u64 capacity;		/* in (SET): bytes; out: bytes */
	__u64 bytes;		/* out: bytes held */
	__u64 events;		/* out: events held */
	__u64 oldest_seq;	/* out: oldest held, 0 if none */
	__u64 newest_seq;	/* out: newest held, 0 if none */
	__u64 next_seq;		/* out: the seq the next event will get */
	__u64 evicted;		/* out: events evicted to make room */
	__u64 skipped;		/* out: events not kept (larger than the history) */
	__u64 replayed;		/* out: events delivered from the history */
	__u64 retained;		/* out: retained values held */
	__u64 retained_bytes;	/* out: bytes of retained values */
	__u64 reserved[4];	/* out: 0 */
};
#define EVBUS_HISTORY_SIZE_VER0	128

#define EVBUS_IOC_HISTORY	_IOC(_IOC_READ | _IOC_WRITE, EVBUS_IOC_MAGIC, \
				     0x0e, EVBUS_HISTORY_SIZE_VER0)

/*
 * Approval gate (EVBUS_FEAT_APPROVAL).
 *
 * Approvers.  A file registers as an approver for a pattern with
 * EVBUS_IOC_APPROVER_ADD, with a priority and a default verdict
 * (EVBUS_ALLOW or EVBUS_DENY); this needs EVBUS_RIGHT_APPROVE on the
 * pattern, checked as EVBUS_RIGHT_SUBSCRIBE is, and the file's subscribe
 * scope.  The id returned (1..EVBUS_APPROVER_ID_MAX) is unique among the
 * bus's approvers; ids are handed out in turn, so one comes back only
 * after the others were used.  Approvers are capped per file
 * (EVBUS_APPROVERS_MAX), per bus and per user (module parameters
 * max_approvers, max_user_approvers; ENOSPC).  EVBUS_IOC_APPROVER_DEL
 * removes one (ENOENT if the file has no such approver); closing the file
 * removes them all.  Either way its pending requests get its default
 * verdict at once.
 *
 * Asking.  A publish asks for approval with EVBUS_PUB_ASK, or because the
 * bus's policy has an EVBUS_ASK rule for the publisher whose pattern
 * matches the topic (a publisher cannot skip that).  It waits at most
 * deadline_ns (0: the module's approval_timeout_ms; longer than its
 * approval_max_ms is cut to that), interruptibly.  The event goes, in
 * turn, to every approver whose pattern matches its topic, highest
 * priority first (ties: lower id first): a chain.  Each approver gets an
 * EVBUS_REC_REQUEST record in its ring, read through read(), poll() and
 * the mapping like any record, with the event as it would be delivered
 * (seq 0, clocks of the publish call, the publisher as seen from the
 * approver's namespaces, the flags of what the chain did so far), and
 * answers with EVBUS_IOC_VERDICT:
 *  - EVBUS_VERDICT_ALLOW: the next approver is asked; after the last,
 *    the event is numbered and delivered (EVBUS_EVENT_APPROVED);
 *  - EVBUS_VERDICT_DENY: the publish fails with errno `error` (1..
 *    EVBUS_VERDICT_ERRNO_MAX; 0 gives EACCES) and nothing is published;
 *  - EVBUS_VERDICT_MODIFY: the event goes on with a new payload and type,
 *    and a new topic if topic_len is not 0, which the approver itself
 *    must be allowed to publish on (EACCES otherwise); the next approver
 *    sees it so, and it is delivered with EVBUS_EVENT_MODIFIED and the
 *    approver's id (EVBUS_EVENT_MODIFIER).  A new topic's chain goes on
 *    from where the old one was (lower priorities only).
 * An ASK publish on a topic no approver watches goes out at once; one a
 * policy rule makes ask fails with ECONNREFUSED (no one to ask).
 *
 * Every wait ends, each way counted in struct evbus_bus_stats and traced
 * (tracepoint evbus_approval):
 *  - the deadline passes: the approver's default verdict applies, and so
 *    does every later approver's without asking it; the approver gets an
 *    EVBUS_REC_CANCELLED record (EVBUS_CANCEL_EXPIRED).  A default of
 *    deny gives ETIMEDOUT;
 *  - the approver is removed or its file closed (or its process dies):
 *    its default verdict, at once (deny: ECONNRESET);
 *  - the approver's ring has no room for the request without dropping
 *    anything, or it has EVBUS_APPROVER_PENDING_MAX requests pending: its
 *    default verdict, at once (deny: ENOBUFS).  A request is never
 *    evicted from a ring;
 *  - the publisher gets a signal: the request is withdrawn, the approver
 *    gets an EVBUS_REC_CANCELLED record (EVBUS_CANCEL_WITHDRAWN), and the
 *    publish fails with EINTR (nothing published);
 *  - a verdict for a request that is not pending at this file (answered,
 *    withdrawn, expired, another file's): ENOENT, nothing changes.
 * A denied event is announced on $sys.approval.denied (struct
 * evbus_sys_approval), to whoever the policy lets subscribe there.
 * Asking publishes in progress (on any topic, from the call until the
 * chain ends) are capped per user (max_user_asks; EAGAIN, nothing done).
 *
 * In a batch, an event that asks is published after the events before it
 * and waits like a single one; a denial stops the batch there.  Under
 * io_uring, EVBUS_URING_PUBLISH of an event that asks completes when the
 * chain is done, with no thread waiting meanwhile (the verdicts run the
 * chain on; the event is published, and the CQE posted, from the
 * submitter's task work).  A batch under io_uring that asks waits in an
 * io_uring worker.
 */
#define EVBUS_PUB_ASK		(1U << 1)	/* struct evbus_pub.flags */

#define EVBUS_APPROVER_ID_MAX		65535
#define EVBUS_APPROVERS_MAX		16	/* per file */
#define EVBUS_APPROVER_PENDING_MAX	1024	/* requests per approver file */
#define EVBUS_VERDICT_ERRNO_MAX		511

/* EVBUS_IOC_APPROVER_ADD */
struct evbus_approver {
	__u64 pattern;		/* in: user pointer, not NUL-terminated */
	__u32 pattern_len;	/* in: 1..EVBUS_TOPIC_MAX */
	__u32 id;		/* out: 1..EVBUS_APPROVER_ID_MAX */
	__s32 priority;		/* in: higher is asked first */
	__u32 deflt;		/* in: EVBUS_ALLOW or EVBUS_DENY */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved;		/* must be 0 */
};

/* EVBUS_IOC_VERDICT: size-versioned like EVBUS_IOC_SUBSCRIBE2. */
#define EVBUS_VERDICT_ALLOW	1
#define EVBUS_VERDICT_DENY	2
#define EVBUS_VERDICT_MODIFY	3

struct evbus_verdict {
	__u32 size;		/* in: sizeof(struct evbus_verdict) */
	__u32 verdict;		/* in: EVBUS_VERDICT_* */
	__u64 id;		/* in: the request's id */
	__s32 error;		/* in: DENY: errno for the publisher, or 0 */
	__u32 type;		/* in: MODIFY: the new type */
	__u64 payload;		/* in: MODIFY: user pointer */
	__u32 payload_len;	/* in: MODIFY: 0..max_payload */
	__u32 topic_len;	/* in: MODIFY: 0 keeps the topic */
	__u64 topic;		/* in: MODIFY with topic_len: user pointer */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved;		/* must be 0 */
};
#define EVBUS_VERDICT_SIZE_VER0	56

#define EVBUS_IOC_APPROVER_ADD	_IOWR(EVBUS_IOC_MAGIC, 0x0f, struct evbus_approver)
#define EVBUS_IOC_APPROVER_DEL	_IOW(EVBUS_IOC_MAGIC, 0x10, __u32)
#define EVBUS_IOC_VERDICT	_IOC(_IOC_WRITE, EVBUS_IOC_MAGIC, 0x11, \
				     EVBUS_VERDICT_SIZE_VER0)

/* struct evbus_sys_approval.cause, and the tracepoint's outcome */
#define EVBUS_APPROVAL_DENIED		1	/* an approver said deny */
#define EVBUS_APPROVAL_EXPIRED		2	/* deadline, default deny */
#define EVBUS_APPROVAL_GONE		3	/* approver gone, default deny */
#define EVBUS_APPROVAL_FULL		4	/* no room, default deny */
#define EVBUS_APPROVAL_NOBODY		5	/* mandatory, no approver */

/* $sys.approval.denied: an event that asked was not published. */
struct evbus_sys_approval {
	__u64 file_id;		/* the publisher's file */
	__u32 approver_id;	/* the approver that denied, or 0 */
	__u32 cause;		/* EVBUS_APPROVAL_* */
	__s32 error;		/* the errno the publisher got (positive) */
	__u32 topic_len;	/* bytes of topic that follow */
	char topic[];		/* no NUL */
};

/*
 * Last wills (EVBUS_FEAT_WILL).  EVBUS_IOC_WILL arms the will of one scope
 * of this file (any u64 the caller chooses, e.g. the seq of the event that
 * started it): an event the kernel publishes when the open file is
 * released without having cleared it, however that happens (close(),
 * exit, a crash, SIGKILL).  A will of a scope that has one replaces it;
 * EVBUS_WILL_CLEAR (with nothing else set) disarms it (ENOENT if none).
 *
 * The will is published with the topic, payload, type, corr and parent
 * given here, EVBUS_EVENT_WILL in flags, and as sender the process (and
 * thread) that armed it, with its euid and egid then; a file's wills go
 * out last armed first (a replaced will keeps its place).  It is a publish like any other (numbered, kept in
 * the history, filtered), but never asks for approval.
 *
 * Arming obeys the policy then: the publish right on the topic (EACCES,
 * reported as refusals are; $sys.* is refused; a topic an ask rule covers
 * gives EACCES with EVBUS_DENY_ASK), and the file's scope.  Each will
 * counts as a subscription against max_subs and max_user_subs (ENOSPC);
 * its payload is at most max_payload (EMSGSIZE); its memory is charged to
 * the caller's memory cgroup.  A will belongs to the open file, not to a
 * process: after fork() or SCM_RIGHTS it fires when the last descriptor of
 * the file is gone.  Size-versioned like EVBUS_IOC_SUBSCRIBE2.
 */
#define EVBUS_WILL_CLEAR	(1U << 0)

struct evbus_will {
	__u32 size;		/* in: sizeof(struct evbus_will) */
	__u32 flags;		/* in: EVBUS_WILL_CLEAR */
	__u64 scope;		/* in: which of this file's wills */
	__u64 topic;		/* in: user pointer, not NUL-terminated */
	__u64 payload;		/* in: user pointer, may be 0 if payload_len 0 */
	__u32 topic_len;	/* in: 1..EVBUS_TOPIC_MAX (0 with CLEAR) */
	__u32 payload_len;	/* in: 0..max_payload */
	__u32 type;		/* in: the event's type */
	__u32 reserved;		/* must be 0 */
	__u64 corr;		/* in: the event's corr */
	__u64 parent;		/* in: the event's parent */
};
#define EVBUS_WILL_SIZE_VER0	64

#define EVBUS_IOC_WILL		_IOC(_IOC_WRITE, EVBUS_IOC_MAGIC, 0x12, \
				     EVBUS_WILL_SIZE_VER0)

/*
 * Rate limits (EVBUS_FEAT_RATE).  A publish spends tokens from up to two
 * token buckets: its file's, and its user's on this bus.  Each bucket may
 * limit events per second and payload bytes per second, each with a
 * burst (the bucket's depth, what it holds when full); a rate of 0 leaves
 * that dimension unlimited (and its burst must be 0).
 *
 * A publish that finds too few tokens fails with EAGAIN and changes
 * nothing: no event, no token spent.  With EVBUS_PUB_WAIT it waits for
 * them instead, up to deadline_ns (1 ns up to the module's
 * rate_wait_max_ms; 0 is EINVAL), interruptibly (EINTR), under io_uring in
 * a worker, never holding a lock; a wait the deadline could not cover is
 * EAGAIN at once.  A waiting publish reserves its tokens (the bucket goes
 * below zero) so waiters are served in turn and nobody overtakes them; an
 * interrupted wait gives them back.  A payload larger than a byte burst
 * can never pass: EMSGSIZE.  Tokens are spent only by events that go out
 * (a batch's refused tail, an ask the gate denies, spend nothing), and a
 * will is paid for when it is armed.  Kernel events ($sys.*) are free.
 *
 * A file's limit starts unlimited and may only be tightened, by anyone
 * holding it (EVBUS_RATE_FILE; looser is EPERM): hand a process a file
 * with a limit and it cannot raise it.  A user's limit is the bus owner's
 * (EVBUS_RATE_USER, owner only as for the policy): for one uid, or for
 * every user without a limit of its own (EVBUS_WHO_ALL); all-zero limits
 * remove it.  A user is the account at the top of its user namespaces, as
 * for the per-user caps (an unprivileged container's uids are its
 * creator's), so namespaces cannot multiply a limit.  Refusals are
 * counted by bucket in struct evbus_bus_stats and fire the evbus_rate
 * tracepoint; fdinfo shows the file's buckets.
 */
#define EVBUS_PUB_WAIT		(1U << 2)	/* struct evbus_pub.flags */

#define EVBUS_RATE_GET		0	/* this file's limits and buckets */
#define EVBUS_RATE_FILE		1	/* tighten this file's limit */
#define EVBUS_RATE_USER		2	/* owner: set or remove a user's limit */
#define EVBUS_RATE_USER_GET	3	/* a user's limit (ENOENT: none set) */

#define EVBUS_RATE_MAX		(1ULL << 40)	/* per second, either unit */
#define EVBUS_RATE_BURST_MAX	(1ULL << 32)

struct evbus_rate_limit {
	__u64 events_per_sec;	/* 0: events unlimited */
	__u64 events_burst;	/* 1..EVBUS_RATE_BURST_MAX, or 0 */
	__u64 bytes_per_sec;	/* payload bytes; 0: unlimited */
	__u64 bytes_burst;	/* 1..EVBUS_RATE_BURST_MAX, or 0 */
};

struct evbus_rate {
	__u32 size;		/* in: sizeof(struct evbus_rate) */
	__u32 op;		/* in: EVBUS_RATE_* */
	__u32 who;		/* in: _USER, _USER_GET: EVBUS_WHO_UID or _ALL */
	__u32 id_value;		/* in: with EVBUS_WHO_UID, a uid in the
				 * caller's user namespace; else 0 */
	struct evbus_rate_limit limit;	/* in: _FILE, _USER; out: _GET (the
					 * file's), _USER_GET */
	struct evbus_rate_limit user;	/* out: _GET: the file's user's */
	__s64 events_tokens;	/* out: _GET: whole tokens in the file's */
	__s64 bytes_tokens;	/*	bucket (below 0 while waiters owe) */
	__s64 user_events_tokens;	/* out: _GET: the user's bucket */
	__s64 user_bytes_tokens;
	__u64 refused;		/* out: _GET: this file's publishes refused */
	__u64 waited;		/* out: _GET: ... and that waited */
};
#define EVBUS_RATE_SIZE_VER0	128

#define EVBUS_IOC_RATE		_IOC(_IOC_READ | _IOC_WRITE, EVBUS_IOC_MAGIC, \
				     0x13, EVBUS_RATE_SIZE_VER0)

/*
 * The name of every EVBUS_FEAT_* bit, for tools that print them: a new bit
 * gets its name here, beside its definition.  EVBUS_FEAT_NAMES(X) expands
 * to X(EVBUS_FEAT_..., "name") once per bit, in bit order.
 */
#define EVBUS_FEAT_NAMES(X)						\
	X(EVBUS_FEAT_PUBLISH,		"publish")			\
	X(EVBUS_FEAT_BATCH,		"batch")			\
	X(EVBUS_FEAT_WILDCARD,		"wildcard")			\
	X(EVBUS_FEAT_DROP_NEWEST,	"drop-newest")			\
	X(EVBUS_FEAT_NS_XLATE,		"ns-xlate")			\
	X(EVBUS_FEAT_URING_CMD,		"uring-cmd")			\
	X(EVBUS_FEAT_NOWAIT_READ,	"nowait-read")			\
	X(EVBUS_FEAT_RING_WAKE,		"ring-wake")			\
	X(EVBUS_FEAT_IPC_NS,		"ipc-ns")			\
	X(EVBUS_FEAT_POLICY,		"policy")			\
	X(EVBUS_FEAT_SYS_TOPICS,	"sys-topics")			\
	X(EVBUS_FEAT_SCOPE,		"scope")			\
	X(EVBUS_FEAT_SUB_FILTER,	"sub-filter")			\
	X(EVBUS_FEAT_SUB_BPF,		"sub-bpf")			\
	X(EVBUS_FEAT_BUS_STATS,		"bus-stats")			\
	X(EVBUS_FEAT_MMAP,		"mmap")				\
	X(EVBUS_FEAT_ADAPTIVE_WAKE,	"adaptive-wake")			\
	X(EVBUS_FEAT_HISTORY,		"history")			\
	X(EVBUS_FEAT_RETAINED,		"retained")			\
	X(EVBUS_FEAT_APPROVAL,		"approval")			\
	X(EVBUS_FEAT_WILL,		"will")				\
	X(EVBUS_FEAT_RATE,		"rate")				\
	X(EVBUS_FEAT_LOSSLESS,		"lossless")

/*
 * Records returned by read().  Every record starts with struct
 * evbus_rec_hdr; len covers the whole record including padding and is a
 * multiple of 8, so records can be walked with EVBUS_REC_NEXT().  The same
 * layout is what the ring holds and what a mapped ring shows.  Readers
 * skip EVBUS_REC_PAD records (read() never returns them; rings stopped
 * writing them when they became mappable, but a reader must still skip
 * one).
 */
#define EVBUS_REC_EVENT		1
#define EVBUS_REC_LAGGED	2
#define EVBUS_REC_PAD		3	/* ring filler, skipped by read() */
#define EVBUS_REC_REVOKED	4	/* a subscription was revoked */
#define EVBUS_REC_REQUEST	5	/* an approver is asked */
#define EVBUS_REC_CANCELLED	6	/* a request is over unanswered */

#define EVBUS_REC_ALIGN		8

struct evbus_rec_hdr {
	__u32 len;		/* whole record, bytes, multiple of 8 */
	__u16 kind;		/* EVBUS_REC_* */
	__u16 hdr_len;		/* size of the fixed part for this kind */
};

/*
 * An event.  The topic follows the fixed part at offset hdr_len, NUL
 * terminated; the payload follows at offset hdr_len + topic_off_len,
 * where topic_off_len is topic_len + 1 rounded up to 8.
 */
struct evbus_event {
	struct evbus_rec_hdr hdr;
	__u32 topic_len;	/* bytes, excluding the NUL */
	__u32 payload_len;	/* bytes */
	__u64 seq;		/* global sequence number */
	__u64 time_ns;		/* CLOCK_REALTIME at publish */
	__u64 mono_ns;		/* CLOCK_MONOTONIC at publish */
	__u32 pid;		/* sender tgid in the reader's pid ns, or 0 */
	__u32 tid;		/* sender tid in the reader's pid ns, or 0 */
	__u32 uid;		/* sender euid in the reader's user ns */
	__u32 gid;		/* sender egid in the reader's user ns */
	__u32 type;		/* application type code */
	__u32 flags;		/* EVBUS_EVENT_* */
	__u64 corr;		/* correlation id */
	__u64 parent;		/* parent sequence number */
};

/* struct evbus_event.flags */
#define EVBUS_EVENT_REPLAYED	(1U << 0)	/* from the history (SINCE, LAST) */
#define EVBUS_EVENT_RETAINED	(1U << 1)	/* a retained value (RETAINED) */
#define EVBUS_EVENT_APPROVED	(1U << 2)	/* allowed by at least one approver */
#define EVBUS_EVENT_MODIFIED	(1U << 3)	/* changed by an approver: */
#define EVBUS_EVENT_WILL	(1U << 4)	/* a last will (EVBUS_IOC_WILL) */
/* the id of the last approver that changed it (EVBUS_EVENT_MODIFIED) */
#define EVBUS_EVENT_MODIFIER(flags)	((__u32)(flags) >> 16)

/*
 * Events lost for this file: 'lost' events with sequence numbers from
 * first_seq to last_seq inclusive (the range also spans events that never
 * matched this file).  Delivered in order, before any event after the gap.
 * With EVBUS_LAGGED_HISTORY, a replay found seqs of the range missing from
 * the history (evicted, older than it, or never kept): nothing is known of
 * those events any more, so lost counts every missing seq, whether or not
 * it would have matched (the range's other seqs were there and did not
 * match).
 */
#define EVBUS_LAGGED_HISTORY	(1U << 0)	/* not in the history any more */

struct evbus_lagged {
	struct evbus_rec_hdr hdr;
	__u32 flags;		/* EVBUS_LAGGED_* */
	__u32 reserved;		/* 0 */
	__u64 lost;
	__u64 first_seq;
	__u64 last_seq;
};

/*
 * A subscription of this file was removed by a policy change
 * (EVBUS_POLICY_REVOKE).  Events after seq are no longer delivered through
 * it; events up to seq that it matched were queued as usual.
 */
struct evbus_revoked {
	struct evbus_rec_hdr hdr;
	__u32 sub_id;		/* the subscription removed */
	__u32 reason;		/* EVBUS_DENY_RULE or EVBUS_DENY_DEFAULT */
	__u64 seq;		/* last seq the subscription could receive */
};

/*
 * A request to this file as an approver (EVBUS_IOC_APPROVER_ADD): answer
 * it with EVBUS_IOC_VERDICT and its id.  The event follows the fixed part
 * at offset hdr_len, a whole event record (its own header, kind
 * EVBUS_REC_EVENT) as it would be delivered, seq 0.  hdr.len covers both.
 */
#define EVBUS_REQ_MANDATORY	(1U << 0)	/* a policy rule made it ask */

struct evbus_request {
	struct evbus_rec_hdr hdr;
	__u32 approver_id;	/* which of this file's approvers is asked */
	__u32 flags;		/* EVBUS_REQ_* */
	__u64 id;		/* for EVBUS_IOC_VERDICT */
	__u64 deadline_ns;	/* CLOCK_MONOTONIC: the default verdict then */
	__u64 reserved;		/* 0 */
};

#define EVBUS_REQUEST_EVENT(rq)						\
	((const struct evbus_event *)((const char *)(rq) + (rq)->hdr.hdr_len))

/* A request this file was asked will get no verdict from it. */
#define EVBUS_CANCEL_WITHDRAWN	1	/* the publisher was interrupted */
#define EVBUS_CANCEL_EXPIRED	2	/* the deadline passed */

struct evbus_cancelled {
	struct evbus_rec_hdr hdr;
	__u32 approver_id;
	__u32 reason;		/* EVBUS_CANCEL_* */
	__u64 id;
};

#define EVBUS_ALIGN(x)		(((x) + EVBUS_REC_ALIGN - 1) & ~(__u64)(EVBUS_REC_ALIGN - 1))

/* Does buf (len bytes left) start with a complete, well-formed record? */
#define EVBUS_REC_OK(rec, left)						\
	((left) >= sizeof(struct evbus_rec_hdr) &&			\
	 (rec)->len >= sizeof(struct evbus_rec_hdr) &&			\
	 (rec)->len <= (left) && ((rec)->len & (EVBUS_REC_ALIGN - 1)) == 0)

/* Step to the next record; 'left' is decreased by the record's length. */
#define EVBUS_REC_NEXT(rec, left)					\
	((left) -= (rec)->len,						\
	 (struct evbus_rec_hdr *)((char *)(rec) + (rec)->len))

#define EVBUS_EVENT_TOPIC(ev)	((const char *)(ev) + (ev)->hdr.hdr_len)
#define EVBUS_EVENT_PAYLOAD(ev)						\
	((const void *)((const char *)(ev) + (ev)->hdr.hdr_len +	\
			EVBUS_ALIGN((ev)->topic_len + 1)))

/*
 * mmap()ed rings (EVBUS_FEAT_MMAP).  A file's ring can be mapped into the
 * reader, as BPF ring buffers are; offsets and lengths are in units of the
 * system page size (sysconf(_SC_PAGESIZE)), and mappings must be
 * MAP_SHARED (EINVAL otherwise):
 *
 *   page offset 0   struct evbus_mmap_ctl, one page: the only page that
 *                   may be mapped writable, by a mapping of exactly that
 *                   page; the reader publishes its position here
 *   page offset 1   struct evbus_mmap_hdr, one page, read-only
 *   page offset 2   the ring's data, size bytes, mapped twice in a row, so
 *                   a record that wraps around the end is still contiguous
 *
 * A writable mapping of anything but the control page, or an executable
 * mapping, gives EPERM (and read-only mappings cannot be made writable
 * later); a range beyond the ring gives EINVAL.  The ring must exist
 * (ENODATA before the first subscription or a SET_RING with a size).
 * Mappings survive fork(), close() of the descriptor and exec() like any
 * shared mapping, and keep the file open until they are all gone.  While
 * the ring is mapped it cannot be resized, nor its policy changed (EBUSY).
 *
 * Positions are free-running byte counts (never reset, never wrapping in
 * practice); the record at position p starts at data + (p & (size - 1)).
 * producer_pos only grows; records in [consumer_pos, producer_pos) are
 * whole and exactly what read() would return, LAGGED and REVOKED records
 * included (a loss while the ring is empty is written into the ring on the
 * next poll(), read() or record).
 *
 * Reading, in C11 terms:
 *  1. c = acquire-load of ctl->consumer_pos.  If c has EVBUS_MMAP_BUSY set,
 *     the kernel is rewriting the head of the ring: call poll() (a zero
 *     timeout will do; it waits for the kernel to finish) and start again.
 *  2. p = acquire-load of hdr->producer_pos.  c == p: nothing to read;
 *     poll() or epoll for POLLIN (which also tells the kernel how far the
 *     reader got, and wakes it as read() readers are woken).
 *  3. Without EVBUS_MMAP_OVERWRITE in hdr->flags (drop-newest), records
 *     in [c, p) stay where they are until consumer_pos passes them: use
 *     them in place, then release-store the new position.
 *  4. With EVBUS_MMAP_OVERWRITE (drop-oldest), a publisher may take back
 *     records the reader has not consumed, and overwrite them.  Copy the
 *     records out, then compare-and-swap ctl->consumer_pos from c to the
 *     end of what was copied, with release ordering.  If it succeeds the
 *     copies are whole and are the reader's.  If it fails the kernel took
 *     them back first: they count as lost, in a LAGGED record that now
 *     starts at consumer_pos; discard the copies and start again at 1.
 *     The kernel claims the head the same way (it exchanges consumer_pos
 *     for EVBUS_MMAP_BUSY before it evicts, and stores the new position
 *     after writing the LAGGED record), so a record is either consumed or
 *     reported lost, never both, and a torn record is never accepted.
 *
 * The kernel trusts nothing in the control page: a consumer_pos that is
 * behind the kernel's view, beyond producer_pos or not on a record
 * boundary is ignored or rounded down to the record that contains it, and
 * only that reader's stream suffers.
 */
#define EVBUS_MMAP_CTL_PGOFF	0
#define EVBUS_MMAP_HDR_PGOFF	1
#define EVBUS_MMAP_DATA_PGOFF	2
#define EVBUS_MMAP_BUSY		(1ULL << 63)

/* hdr->flags */
#define EVBUS_MMAP_OVERWRITE	(1U << 0)	/* drop-oldest: see above */

struct evbus_mmap_ctl {
	__u64 consumer_pos;	/* written by the reader (and the kernel) */
};

struct evbus_mmap_hdr {
	__u64 producer_pos;	/* end of the whole records */
	__u32 size;		/* bytes of data (a power of two) */
	__u32 flags;		/* EVBUS_MMAP_* */
	__u64 reserved[6];	/* 0 */
};

#endif /* _UAPI_LINUX_EVBUS_H */
