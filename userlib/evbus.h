/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libevbus: a thin client library for /dev/evbus.
 *
 * One struct evbus is one open file of the device: a subscriber with its
 * own ring, and a publisher.  Every function maps onto one ioctl or one
 * read(), returns 0 (or a count) on success and a negative errno on
 * failure, and never changes errno.  Option structs start with their own
 * size so they can grow without breaking binaries; declare them with
 * EVBUS_OPTS().  See evbus(7) for an overview and one man page per
 * function for the details.
 *
 * A handle is not thread-safe for evbus_read(); the publish and subscribe
 * calls only use the file descriptor and may run concurrently.
 */
#ifndef _EVBUS_H
#define _EVBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/evbus.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVBUS_LIB_VERSION_MAJOR	1
#define EVBUS_LIB_VERSION_MINOR	9
#define EVBUS_LIB_VERSION_PATCH	0
#define EVBUS_LIB_VERSION	"1.9.0"

#define EVBUS_DEVICE_PATH	"/dev/evbus"
/* An inherited handle: the descriptor number of an open /dev/evbus file. */
#define EVBUS_FD_ENV		"EVBUS_FD"

/*
 * Declare an option struct with its size filled in and every other field,
 * padding and reserved ones included, zero:
 *	EVBUS_OPTS(evbus_pub_opts, po, .type = 7);
 * Option structs have no implicit padding, so "zero" is well defined.
 */
#define EVBUS_OPTS(TYPE, NAME, ...)					\
	struct TYPE NAME = {						\
		.sz = sizeof(struct TYPE),				\
		__VA_ARGS__						\
	}

struct evbus;

/* evbus_opts.flags */
#define EVBUS_OPEN_RDONLY	(1U << 0)	/* subscribe only */
#define EVBUS_OPEN_WRONLY	(1U << 1)	/* publish only */
#define EVBUS_OPEN_NO_ENV	(1U << 2)	/* ignore EVBUS_FD (LIBEVBUS_1.3) */

/*
 * With path NULL, evbus_open() uses the descriptor in $EVBUS_FD when it is
 * set (a scoped handle from `evbus exec`; see evbus_open(3)), else opens
 * EVBUS_DEVICE_PATH.
 */
struct evbus_opts {
	size_t sz;		/* sizeof(struct evbus_opts) */
	const char *path;	/* device node; NULL: $EVBUS_FD or EVBUS_DEVICE_PATH */
	unsigned int flags;	/* EVBUS_OPEN_* */
	unsigned int reserved0;	/* must be 0 */
	size_t read_buf;	/* initial read buffer, bytes; 0: 64 KiB */
};

/*
 * Publish options: type, corr and parent are carried verbatim to every
 * subscriber.  flags are the uapi's EVBUS_PUB_* (LIBEVBUS_1.5; the field
 * was reserved0, which had to be 0): EVBUS_PUB_RETAIN also makes the event
 * its topic's retained value (an empty payload clears it); EVBUS_PUB_ASK
 * (LIBEVBUS_1.6) sends it through the approval gate first, waiting the
 * module's default at most (evbus_publish_ask() takes a deadline).
 * EVBUS_PUB_WAIT (LIBEVBUS_1.8) needs a deadline: see evbus_publish_wait().
 * Flags this library does not know go to the kernel, which refuses them
 * (-EINVAL).
 */
struct evbus_pub_opts {
	size_t sz;		/* sizeof(struct evbus_pub_opts) */
	uint32_t type;		/* application type code */
	uint32_t flags;		/* EVBUS_PUB_RETAIN, EVBUS_PUB_ASK */
	uint64_t corr;		/* correlation id */
	uint64_t parent;	/* parent sequence number */
};

/*
 * One record from evbus_read().  It and everything it points to belong to
 * the handle and stay valid until the next evbus_read() or evbus_close().
 * Records of a kind this library does not know have kind set and both
 * event and lagged NULL: skip them.  An EVBUS_REC_REVOKED record (checked
 * by the walker) is read with evbus_record_revoked().  An EVBUS_REC_REQUEST
 * (LIBEVBUS_1.6: this handle is an approver) is read with
 * evbus_record_request(); event stays NULL, as the request is not a
 * delivered event, but topic and payload are those of the event it
 * carries, checked as an event record's are.  An EVBUS_REC_CANCELLED is
 * read with evbus_record_cancelled().
 */
struct evbus_record {
	unsigned int kind;			/* EVBUS_REC_* */
	unsigned int len;			/* bytes of the raw record */
	const struct evbus_rec_hdr *hdr;	/* the raw record */
	const struct evbus_event *event;	/* EVBUS_REC_EVENT, else NULL */
	const struct evbus_lagged *lagged;	/* EVBUS_REC_LAGGED, else NULL */
	const char *topic;			/* events, requests: NUL-terminated */
	size_t topic_len;
	const void *payload;			/* events, requests: payload_len bytes */
	size_t payload_len;
};

/* The device */
int evbus_open(struct evbus **bus, const struct evbus_opts *opts);
void evbus_close(struct evbus *bus);
int evbus_fd(const struct evbus *bus);
int evbus_query(struct evbus *bus, struct evbus_version *ver);

/* Subscriptions */
int evbus_subscribe(struct evbus *bus, const char *pattern, uint32_t *sub_id);
int evbus_unsubscribe(struct evbus *bus, uint32_t sub_id);

/* Publishing */
int evbus_publish(struct evbus *bus, const char *topic, const void *data,
		  size_t len, const struct evbus_pub_opts *opts, uint64_t *seq);
int evbus_publish_batch(struct evbus *bus, const struct evbus_pub *events,
			unsigned int count, uint64_t *first_seq);

/* Fill one batch entry; set type, corr and parent afterwards if needed. */
static inline void evbus_pub_prep(struct evbus_pub *p, const char *topic,
				  const void *data, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = (uint32_t)strlen(topic);
	p->payload = (uintptr_t)data;
	p->payload_len = (uint32_t)len;
}

/* Receiving */
int evbus_read(struct evbus *bus, const struct evbus_record **rec,
	       int timeout_ms);

/*
 * Ring and counters.  evbus_set_ring() with EVBUS_POLICY_LOSSLESS keeps
 * the wait of a ring that is lossless already; evbus_set_ring_lossless()
 * (LIBEVBUS_1.8) sets one.
 */
int evbus_set_ring(struct evbus *bus, uint32_t size, uint32_t policy);
int evbus_get_ring(struct evbus *bus, uint32_t *size, uint32_t *policy);

/*
 * Wake-up coalescing (LIBEVBUS_1.2): wake this handle's readers only once
 * events records are queued, or delay_ns after the first one (0: no timer),
 * or on a loss.  events 0 (with delay_ns 0) turns it off.  See
 * evbus_set_wake(3).
 */
int evbus_set_wake(struct evbus *bus, uint32_t events, uint64_t delay_ns);
int evbus_get_wake(struct evbus *bus, uint32_t *events, uint64_t *delay_ns);
/*
 * Wake-up modes (LIBEVBUS_1.4): adaptive (the default: lib/dim moderation,
 * sparse traffic at once, a stream at most every 500 us), immediate
 * (evbus_set_wake(bus, 0, 0)) or fixed (evbus_set_wake(bus, N, ns)).
 * evbus_get_wake_mode() gives EVBUS_RING_ADAPTIVE, _IMMEDIATE or _WAKE.
 */
int evbus_set_wake_adaptive(struct evbus *bus);
int evbus_get_wake_mode(struct evbus *bus, uint32_t *mode);

/*
 * The mapped ring (LIBEVBUS_1.4), shaped like libbpf's ring_buffer:
 * evbus_mmap_open() maps the handle's ring (creating it if there is none);
 * from then on evbus_read() takes records from the mapping too.
 * evbus_mmap_consume() calls fn for each record available now (a nonzero
 * return stops after that record: a negative one is returned, else the
 * count); evbus_mmap_poll() waits up to timeout_ms first.  Records are
 * valid until the next call.  See evbus_mmap_open(3).
 */
struct evbus_mmap;
typedef int (*evbus_record_fn)(void *ctx, const struct evbus_record *rec);

int evbus_mmap_open(struct evbus *bus, struct evbus_mmap **m);
void evbus_mmap_close(struct evbus_mmap *m);
int evbus_mmap_consume(struct evbus_mmap *m, evbus_record_fn fn, void *ctx);
int evbus_mmap_poll(struct evbus_mmap *m, evbus_record_fn fn, void *ctx,
		    int timeout_ms);
int evbus_get_stats(struct evbus *bus, struct evbus_stats *stats);

/* Topic and pattern syntax, checked without the device */
int evbus_check_topic(const char *topic, const char **why);
int evbus_check_pattern(const char *pattern, const char **why);
/* Does pattern match topic?  1 or 0; -EINVAL if either is invalid. */
int evbus_match(const char *pattern, const char *topic);

/*
 * The revocation a record reports (a subscription of this handle removed
 * by a policy change), or NULL if it reports something else.
 */
static inline const struct evbus_revoked *
evbus_record_revoked(const struct evbus_record *rec)
{
	if (!rec || rec->kind != EVBUS_REC_REVOKED)
		return NULL;
	return (const struct evbus_revoked *)rec->hdr;
}

/* ============ permissions, scopes and filters (LIBEVBUS_1.3) ============ */
/*
 * Subscribing with filters (see evbus_subscribe_opts(3)): flags are the
 * uapi's EVBUS_SUB_* and say which fields apply.  filter is a classic BPF
 * program of filter_len instructions (evbus_filter_parse() reads the text
 * `tcpdump -ddd` prints); the kernel copies it during the call.
 * since and last (LIBEVBUS_1.5) start the subscription in the past: see
 * evbus_subscribe_since(3).  A caller built against 1.3 or 1.4 passes the
 * smaller sz and gets zeros for them.
 */
struct sock_filter;

struct evbus_sub_opts {
	size_t sz;			/* sizeof(struct evbus_sub_opts) */
	uint32_t flags;			/* EVBUS_SUB_* */
	uint32_t from_uid;		/* EVBUS_SUB_FROM_UID */
	uint32_t from_gid;		/* EVBUS_SUB_FROM_GID */
	uint32_t from_pid;		/* EVBUS_SUB_FROM_PID */
	uint32_t type_min;		/* EVBUS_SUB_TYPE, inclusive */
	uint32_t type_max;
	const struct sock_filter *filter; /* EVBUS_SUB_FILTER */
	uint32_t filter_len;		/* instructions */
	uint32_t reserved0;		/* must be 0 */
	uint64_t since;			/* EVBUS_SUB_SINCE: first seq (LIBEVBUS_1.5) */
	uint32_t last;			/* EVBUS_SUB_LAST: events, >= 1 (LIBEVBUS_1.5) */
	uint32_t reserved1;		/* must be 0 */
};

int evbus_subscribe_opts(struct evbus *bus, const char *pattern,
			 const struct evbus_sub_opts *opts, uint32_t *sub_id);

/*
 * Parse classic BPF in the text form `tcpdump -ddd` prints: a count, then
 * "code jt jf k" per line (decimal; blank lines and '#' comments are
 * skipped).  Returns the number of instructions written to prog (at most
 * max), -E2BIG if the program has more, or -EINVAL with *bad_line (if not
 * NULL) set to the 1-based line that is wrong.
 */
int evbus_filter_parse(const char *text, struct sock_filter *prog,
		       unsigned int max, unsigned int *bad_line);

/*
 * Narrow the handle's file, irreversibly, to publishing on topics matching
 * one of publish[] and subscribing within one of subscribe[]; flags
 * EVBUS_SCOPE_KEEP_PUBLISH or _SUBSCRIBE leave that set as it is.  Every
 * holder of the file, also after SCM_RIGHTS or exec, is bound by it.
 */
int evbus_narrow(struct evbus *bus, const char *const *publish,
		 unsigned int n_publish, const char *const *subscribe,
		 unsigned int n_subscribe, unsigned int flags);

/*
 * The topic policy of the handle's bus.  Changes need the bus's owner
 * (-EPERM); flags is 0 or EVBUS_POLICY_REVOKE.  who is EVBUS_WHO_ALL (id
 * 0), EVBUS_WHO_UID or EVBUS_WHO_GID (id in the caller's user namespace).
 * evbus_policy_list() fills up to count rules with ids >= start_id and
 * returns how many; total and def (EVBUS_ALLOW or EVBUS_DENY) may be NULL.
 */
int evbus_policy_add(struct evbus *bus, const char *pattern, uint32_t verdict,
		     uint32_t rights, uint32_t who, uint32_t id, uint32_t flags,
		     uint32_t *rule_id);
int evbus_policy_remove(struct evbus *bus, uint32_t rule_id, uint32_t flags);
int evbus_policy_default(struct evbus *bus, uint32_t verdict, uint32_t flags);
int evbus_policy_clear(struct evbus *bus, uint32_t flags);
int evbus_policy_list(struct evbus *bus, uint32_t start_id,
		      struct evbus_rule_info *rules, unsigned int count,
		      uint32_t *total, uint32_t *def);

/*
 * The counters of the handle's bus (the bus of its IPC namespace).  Since
 * LIBEVBUS_1.6 the struct has the approval gate's counters
 * (EVBUS_BUS_STATS_SIZE_VER1), since LIBEVBUS_1.8 those of rate limits
 * and lossless rings (EVBUS_BUS_STATS_SIZE_VER2); programs built against
 * an older library keep the version of the call that fills the smaller
 * struct.
 */
int evbus_get_bus_stats(struct evbus *bus, struct evbus_bus_stats *stats);
/* ========== end of permissions, scopes and filters (LIBEVBUS_1.3) ========== */

/* ============ history, replay and retained values (LIBEVBUS_1.5) ============ */
/*
 * Every bus keeps its most recent events (1 MiB by default) for replay,
 * and one retained value per topic (see evbus_subscribe_since(3) and
 * evbus_get_history(3)).  A subscription may start in the past, at most
 * one way, on a handle that has queued nothing yet (-EBUSY otherwise):
 *  - evbus_subscribe_since(): the history's events from seq since on, then
 *    live ones, with no gap and no duplicate at the join; since lies in
 *    1..the next seq (-EINVAL for 0, -ERANGE beyond the next seq: another
 *    bus, or one created again).  What the history no longer holds comes
 *    as a LAGGED record
 *    with EVBUS_LAGGED_HISTORY and the exact range;
 *  - evbus_subscribe_last(): the last `last` events it matches, then live;
 *  - evbus_subscribe_retained(): the retained value of every topic it
 *    matches (with their original seq), then live.
 * Replayed events carry EVBUS_EVENT_REPLAYED, retained ones
 * EVBUS_EVENT_RETAINED, in struct evbus_event.flags.  Reaching into the
 * past needs the policy's EVBUS_RIGHT_REPLAY too (-EACCES).
 *
 * Resuming after a restart: persist the seq of the last event processed
 * (LAST), subscribe with since = LAST + 1, and get every event missed or an
 * exact LAGGED record for what the history lost; -ERANGE: a different bus,
 * start over.
 *
 * evbus_publish_retained() publishes len bytes on topic and makes them its
 * retained value (len 0 clears it).  evbus_get_history() fills in the
 * bus's history state (it sets h->size itself); evbus_set_history_capacity()
 * sets the history's size in bytes, 0 turning it off (the bus's owner
 * only: -EPERM), and empties it.  -EOPNOTSUPP: the module has no history
 * (feature history) or no retained values (feature retained).
 */
int evbus_subscribe_since(struct evbus *bus, const char *pattern,
			  uint64_t since, uint32_t *sub_id);
int evbus_subscribe_last(struct evbus *bus, const char *pattern,
			 uint32_t last, uint32_t *sub_id);
int evbus_subscribe_retained(struct evbus *bus, const char *pattern,
			     uint32_t *sub_id);
int evbus_publish_retained(struct evbus *bus, const char *topic,
			   const void *data, size_t len);
int evbus_get_history(struct evbus *bus, struct evbus_history *h);
int evbus_set_history_capacity(struct evbus *bus, uint64_t bytes);
/* ========== end of history, replay and retained values (LIBEVBUS_1.5) ========== */

/* ======================= the approval gate (LIBEVBUS_1.6) ======================= */
/*
 * See evbus_publish_ask(3) and evbus_approver_add(3).  Publisher side:
 * evbus_publish_ask() is evbus_publish() with EVBUS_PUB_ASK and a deadline
 * (0: the module's approval_timeout_ms); it returns once the event is
 * published (0, *seq set) or refused: -errno is the approver's denial,
 * -ETIMEDOUT, -ECONNRESET or -ENOBUFS when a default verdict of deny
 * applied (deadline, approver gone, no room), -ECONNREFUSED when a policy
 * rule makes the topic ask and no one approves it, -EINTR when a signal
 * withdrew it (nothing published).  -EOPNOTSUPP: the module has no gate.
 *
 * Approver side: evbus_approver_add() registers the handle as an approver
 * of pattern with a priority (higher first) and a default verdict
 * (EVBUS_ALLOW or EVBUS_DENY) for the deadline and for its going away;
 * requests come through evbus_read() (or the mapping) as EVBUS_REC_REQUEST
 * records, each answered once with evbus_verdict_allow(), _deny() (a
 * positive errno for the publisher, 0: EACCES) or _modify() (a new
 * payload and type, and a new topic if topic is not NULL).  A request
 * that ends unanswered (deadline, publisher interrupted) comes back as an
 * EVBUS_REC_CANCELLED record; a verdict for it gives -ENOENT.
 * evbus_approver_del() and evbus_close() apply the default verdict to the
 * pending requests at once.
 */
int evbus_publish_ask(struct evbus *bus, const char *topic, const void *data,
		      size_t len, const struct evbus_pub_opts *opts,
		      uint64_t deadline_ns, uint64_t *seq);
int evbus_approver_add(struct evbus *bus, const char *pattern, int32_t priority,
		       uint32_t deflt, uint32_t *approver_id);
int evbus_approver_del(struct evbus *bus, uint32_t approver_id);
int evbus_verdict_allow(struct evbus *bus, uint64_t req_id);
int evbus_verdict_deny(struct evbus *bus, uint64_t req_id, int error);
int evbus_verdict_modify(struct evbus *bus, uint64_t req_id, const char *topic,
			 const void *payload, size_t len, uint32_t type);

/* The request a record carries (checked by the walker), or NULL. */
static inline const struct evbus_request *
evbus_record_request(const struct evbus_record *rec)
{
	if (!rec || rec->kind != EVBUS_REC_REQUEST)
		return NULL;
	return (const struct evbus_request *)rec->hdr;
}

/* The cancellation a record reports, or NULL. */
static inline const struct evbus_cancelled *
evbus_record_cancelled(const struct evbus_record *rec)
{
	if (!rec || rec->kind != EVBUS_REC_CANCELLED)
		return NULL;
	return (const struct evbus_cancelled *)rec->hdr;
}
/* ===================== end of the approval gate (LIBEVBUS_1.6) ===================== */

/* ============= last wills and lifecycle scopes (LIBEVBUS_1.7) ============= */
/*
 * See evbus_will_set(3) and evbus_scope_begin(3).  evbus_will_set() arms
 * (or replaces) the will of scope, any u64 the caller chooses: an event
 * with topic, payload and opts' type, corr and parent (opts->flags must
 * be 0) that the kernel publishes when the handle's open file is released
 * without evbus_will_clear(bus, scope) (-ENOENT: no such will) having
 * disarmed it: evbus_close(), exit, a crash, SIGKILL.  It comes flagged
 * EVBUS_EVENT_WILL, sent by the process that armed it.  After fork() or
 * SCM_RIGHTS the will belongs to the open file: it fires when the last
 * descriptor of it goes.  Arming is checked as a publish is then
 * (-EACCES, also for a topic an ask rule covers), and counts as a
 * subscription (-ENOSPC).  -EOPNOTSUPP: the module has no wills.
 *
 * Lifecycle scopes (Alien-style): evbus_scope_begin() publishes
 * "<prefix>.started" with parent = the enclosing scope's id (0: none); its
 * seq is the new scope's id (*scope), and the handle arms a will of that
 * id: an empty "<prefix>.failed".  evbus_scope_update() publishes
 * "<prefix>.progress"; evbus_scope_end() publishes "<prefix>.success" (ok)
 * or "<prefix>.failed" and disarms the will.  Every event after Started
 * has corr and parent = the scope's id; the first terminal event of a
 * scope is its outcome.  A scope is the handle's: the others give -ENOENT.
 * (These scopes are unrelated to a narrowed handle's, evbus_narrow().)
 */
#define EVBUS_SCOPE_STARTED	"started"
#define EVBUS_SCOPE_PROGRESS	"progress"
#define EVBUS_SCOPE_SUCCESS	"success"
#define EVBUS_SCOPE_FAILED	"failed"
/* The longest prefix: room for ".progress". */
#define EVBUS_SCOPE_PREFIX_MAX	(EVBUS_TOPIC_MAX - 9)

int evbus_will_set(struct evbus *bus, uint64_t scope, const char *topic,
		   const void *payload, size_t len,
		   const struct evbus_pub_opts *opts);
int evbus_will_clear(struct evbus *bus, uint64_t scope);
int evbus_scope_begin(struct evbus *bus, const char *prefix, const void *data,
		      size_t len, uint64_t parent, uint64_t *scope);
int evbus_scope_update(struct evbus *bus, uint64_t scope, const void *data,
		       size_t len);
int evbus_scope_end(struct evbus *bus, uint64_t scope, bool ok,
		    const void *data, size_t len);
/* =========== end of last wills and lifecycle scopes (LIBEVBUS_1.7) =========== */

/* ============ rate limits and lossless rings (LIBEVBUS_1.8) ============ */
/*
 * See evbus_rate_limit(3), evbus_publish_wait(3) and
 * evbus_set_ring_lossless(3).  A publish spends tokens from up to two
 * token buckets: its file's, and its user's on this bus.  struct
 * evbus_rate_limit gives events and payload bytes per second, each with a
 * burst (the bucket's depth); a rate of 0 leaves that dimension
 * unlimited (its burst must be 0 too).  Over a limit a publish fails with
 * -EAGAIN and changes nothing; a payload larger than a byte burst is
 * -EMSGSIZE.
 *
 * evbus_rate_get() fills the handle's limit and tokens, its user's (what
 * the kernel applies to the caller: limit in out->user), and the file's
 * refusals and waits.  evbus_rate_limit() tightens the handle's own limit
 * (a looser one, or none, is -EPERM), for it and every holder of the file
 * after fork(), SCM_RIGHTS or exec.  evbus_rate_limit_user() sets the
 * limit of a user of the bus: who is EVBUS_WHO_UID with uid in the
 * caller's user namespace, or EVBUS_WHO_ALL (uid 0) for every user
 * without one of its own; lim NULL or all-zero removes it (-ENOENT: there
 * was none).  The bus's owner only (-EPERM).  evbus_rate_user_get() reads
 * one (-ENOENT: none set).
 *
 * evbus_publish_wait() is evbus_publish() with EVBUS_PUB_WAIT: short of
 * tokens, it waits for them, interruptibly (-EINTR, nothing published),
 * up to deadline_ns (1 ns up to the module's rate_wait_max_ms; 0 is
 * -EINVAL); a wait the deadline cannot cover is -EAGAIN at once.  With
 * EVBUS_PUB_ASK in opts too, deadline_ns is the approval's deadline as
 * well.
 *
 * evbus_set_ring_lossless() makes the handle's ring lossless: a publisher
 * whose event does not fit waits, up to wait_ns (1 ns up to the module's
 * lossless_max_ms), for this handle to read, if it agreed to (its file was
 * opened with this reader's euid, or the policy gives it EVBUS_RIGHT_WAIT
 * on the topic); for others, and once the wait runs out, the ring drops
 * the new event (a LAGGED record says so).  size 0 keeps the size.
 * -EOPNOTSUPP: the module has no rate limits (feature rate) or no
 * lossless rings (feature lossless).
 */
int evbus_rate_get(struct evbus *bus, struct evbus_rate *out);
int evbus_rate_limit(struct evbus *bus, const struct evbus_rate_limit *lim);
int evbus_rate_limit_user(struct evbus *bus, uint32_t who, uint32_t uid,
			  const struct evbus_rate_limit *lim);
int evbus_rate_user_get(struct evbus *bus, uint32_t who, uint32_t uid,
			struct evbus_rate_limit *out);
int evbus_publish_wait(struct evbus *bus, const char *topic, const void *data,
		       size_t len, const struct evbus_pub_opts *opts,
		       uint64_t deadline_ns, uint64_t *seq);
int evbus_set_ring_lossless(struct evbus *bus, uint32_t size, uint64_t wait_ns);
/* ========== end of rate limits and lossless rings (LIBEVBUS_1.8) ========== */

/* The library's own version, at run time */
const char *evbus_lib_version(void);
int evbus_lib_version_major(void);
int evbus_lib_version_minor(void);

/* ====================== io_uring helpers (LIBEVBUS_1.1) ====================== */
/*
 * Publishing and reading through io_uring with liburing.  These functions
 * only fill SQEs, probe and parse buffers; the ring, submission and
 * completions stay the caller's (liburing's).  libevbus itself does not
 * link liburing: a program that uses these links -luring itself, as it
 * calls liburing anyway.  See evbus_prep_publish(3), evbus_records_next(3)
 * and evbus_uring_probe(3).
 *
 * Nothing here needs <liburing.h>: the liburing types are only pointed to.
 */
struct io_uring;
struct io_uring_sqe;

/* evbus_uring_probe() result bits. */
#define EVBUS_URING_CAN_PUBLISH		(1U << 0)	/* IORING_OP_URING_CMD publish */
#define EVBUS_URING_CAN_READ		(1U << 1)	/* IORING_OP_READ waits by polling */
#define EVBUS_URING_CAN_READ_MULTISHOT	(1U << 2)	/* IORING_OP_READ_MULTISHOT (6.7+) */

int evbus_uring_probe(struct io_uring *ring, int fd);

/*
 * Fill a whole 64-byte SQE (user_data and flags included: set those after)
 * with an IORING_OP_URING_CMD publishing pub, or the batch b, on fd.  The
 * command area holds a copy of the struct evbus_uring_cmd, so cmd (NULL for
 * the default: flags and reserved 0) need not outlive the call; pub, or b
 * with its events, topics and payloads, must stay in place until the CQE:
 * the kernel reads them when it issues the request and writes seq (and
 * the batch's result fields) back before completing it.
 */
int evbus_prep_publish(struct io_uring_sqe *sqe, int fd, struct evbus_pub *pub,
		       const struct evbus_uring_cmd *cmd);
int evbus_prep_publish_batch(struct io_uring_sqe *sqe, int fd,
			     struct evbus_pub_batch *b,
			     const struct evbus_uring_cmd *cmd);

/*
 * IORING_OP_READ of up to len bytes into buf (whole records, like read()),
 * and IORING_OP_READ_MULTISHOT from the provided buffers of group
 * buf_group (each buffer at least as big as the largest record).
 */
int evbus_prep_read(struct io_uring_sqe *sqe, int fd, void *buf, unsigned int len);
int evbus_prep_read_multishot(struct io_uring_sqe *sqe, int fd,
			      unsigned int buf_group);

/*
 * Walk the records of a buffer filled by read() or an io_uring read (the
 * same walker evbus_read() uses).  The records handed out point into buf,
 * which must outlive them.
 *	struct evbus_rec_iter it;
 *	const struct evbus_record *rec;
 *	evbus_records_init(&it, buf, cqe->res);
 *	while (!(ret = evbus_records_next(&it, &rec)))
 *		...;
 *	(ret is -ENODATA at the end, -EBADMSG for a malformed buffer)
 */
struct evbus_rec_iter {
	const unsigned char *buf;
	size_t len;
	size_t off;			/* next record */
	struct evbus_record rec;	/* what evbus_records_next() hands out */
	uint64_t reserved[2];
};

int evbus_records_init(struct evbus_rec_iter *it, const void *buf, size_t len);
int evbus_records_next(struct evbus_rec_iter *it, const struct evbus_record **rec);
int evbus_parse_records(const void *buf, size_t len,
			int (*cb)(const struct evbus_record *rec, void *arg),
			void *arg);
/* ==================== end of io_uring helpers (LIBEVBUS_1.1) ================== */

#ifdef __cplusplus
}
#endif

#endif /* _EVBUS_H */
