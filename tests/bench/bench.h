/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peer interface of the fan-out benchmark (tests/bench/fanout.c).
 *
 * fanout.c is the harness: it parses options, forks one process per
 * subscriber, paces or floods the publisher, stamps every payload, checks
 * sequence numbers, measures time, CPU, context switches and syscalls, and
 * prints one JSON line per run.  A peer is one transport (evbus, pipe, unix
 * broker, POSIX mqueue, ZeroMQ, D-Bus) and only moves bytes: it implements
 * struct bench_peer in its own file, peer_<name>.c.
 *
 * Processes:
 *   parent      setup(m) -> fork m subscribers -> wait until all are ready
 *               -> add_others(k) -> pub_open() -> publish()... -> pub_close()
 *               -> wait for the subscribers -> teardown()
 *   subscriber  sub_open(i) -> (harness signals ready) -> sub_recv()... ->
 *               _exit
 *   replay      (W_REPLAY, issue #15; no subscriber processes) setup(1) ->
 *               pub_open() -> publish()... -> pub_close() -> replay_open()
 *               -> replay_start() -> sub_recv()... -> teardown(), all in
 *               the parent
 * A peer that needs a broker process forks it in setup() (or attaches to a
 * running daemon) and reports its pid in bench_broker_pid, so the harness
 * can read its CPU time and context switches from /proc.
 *
 * Payloads: every event's payload is opt.size bytes (at least
 * sizeof(struct bench_stamp)) and begins with a struct bench_stamp the
 * harness fills in; peers carry payloads opaquely and deliver them intact.
 * Topics: subscribers subscribe to BENCH_TOPIC; the K "others" subscribe to
 * "other.<i>" (i = 0..k-1), which never match.  How a peer expresses a topic
 * (evbus topic, D-Bus signal member, ZeroMQ prefix, a routing table in a
 * broker) is the peer's business; it must filter, not deliver everything.
 */
#ifndef EVBUS_BENCH_H
#define EVBUS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_TOPIC	"bench.fanout"
#define BENCH_MAX_M	1024
#define BENCH_MAX_BATCH	64

enum bench_workload {
	W_FANOUT,		/* flat out, one publish call per opt.batch events */
	W_LATENCY,		/* paced at opt.rate events/s */
	W_SELECTIVITY,		/* fanout with k non-matching subscribers */
	W_BATCH,		/* fanout, opt.batch events per publish call */
	W_ISOLATION,		/* fanout with subscriber 0 stopped (SIGSTOP) */
	W_REPLAY,		/* (issue #15) publish with no subscriber, then
				 * one reader replays it all from the history */
	W_NR,
};
/* Every live-stream workload: all but W_REPLAY, which needs replay hooks. */
#define W_ALL		((1u << W_REPLAY) - 1)

struct bench_opt {
	const char *peer, *workload;
	enum bench_workload w;
	unsigned int m;		/* matching subscribers */
	unsigned int k;		/* non-matching subscribers */
	unsigned int batch;	/* events per publish call, 1..BENCH_MAX_BATCH */
	unsigned int size;	/* payload bytes, >= sizeof(struct bench_stamp) */
	unsigned int ring;	/* evbus ring / socket buffer / queue bytes */
	unsigned int rate;	/* W_LATENCY: events per second */
	unsigned int wake_events; /* evbus: EVBUS_RING_WAKE watermark (0: off) */
	uint64_t wake_delay_ns;	/* evbus: EVBUS_RING_WAKE max delay */
	int uring;		/* evbus: publish through io_uring */
	int mmap;		/* evbus (issue #14): subscribers read their
				 * mmap()ed ring instead of calling read() */
	uint64_t n;		/* events to publish */
	int quiet;
	/* evbus (issue #13): what every publish and delivery is checked by */
	unsigned int policy_rules; /* > 0: a policy of that many rules on other
				    * topics, a few on BENCH_TOPIC, default deny */
	int filter;		/* subscribers attach a classic BPF filter */
	int reset;		/* --reset: undo a run's leftovers, then exit */
	/* evbus (issue #15): the bus's history capacity for the run */
	int64_t history;	/* bytes (--history, or W_REPLAY's own); -1: as is */
	/* evbus (issue #17): flow control */
	int rate_limits;	/* --rate-limits: the publisher's file and every
				 * user get a limit that never refuses, so each
				 * publish checks both token buckets */
	int64_t lossless_ms;	/* --lossless MS: subscriber rings are
				 * EVBUS_POLICY_LOSSLESS with wait_ns MS ms;
				 * -1: the usual DROP_OLDEST */
};
extern struct bench_opt opt;

/* The first bytes of every payload. */
struct bench_stamp {
	uint64_t seq;		/* 1, 2, ... in publish order */
	uint64_t t_ns;		/* CLOCK_MONOTONIC just before the publish call */
};

/* One item a subscriber received. */
struct bench_rx {
	const void *payload;	/* NULL for a loss notice */
	uint32_t len;		/* payload bytes */
	uint64_t lost;		/* loss notice: this many events were lost */
	/*
	 * Read by W_REPLAY only, so only peers with replay hooks fill them
	 * in: the transport's sequence number of the event, and
	 * BENCH_RX_REPLAYED if it came from the history.
	 */
	uint64_t seq;
	uint32_t flags;
};
#define BENCH_RX_REPLAYED	(1u << 0)

struct bench_peer {
	const char *name;
	unsigned int workloads;	/* 1u << W_* this peer can run */

	/* Parent, before forking subscribers.  0 or -errno. */
	int (*setup)(unsigned int m);
	/*
	 * Subscriber i (0..m-1), in its own process: connect, subscribe to
	 * BENCH_TOPIC and be ready to receive (nothing published before this
	 * returns may be missed).  Returns a context or NULL with errno set.
	 */
	void *(*sub_open)(unsigned int i);
	/*
	 * Subscriber: block until something arrives, then return up to max
	 * items in rx (valid until the next call): the count, 0 at end of
	 * stream, or -errno.  Adds the syscalls it made to *calls.
	 */
	int (*sub_recv)(void *ctx, struct bench_rx *rx, unsigned int max,
			uint64_t *calls);
	/* Parent, after the subscribers are ready: k non-matching ones. */
	int (*add_others)(unsigned int k);
	/* Parent: become the publisher.  0 or -errno. */
	int (*pub_open)(void);
	/*
	 * Parent: publish count (1..opt.batch) events whose payloads are
	 * payload[0..count), each opt.size bytes, with as few calls as the
	 * transport allows (one call when opt.batch > 1 and the transport can
	 * batch).  0 or -errno; adds the syscalls made to *calls.
	 */
	int (*publish)(void *const *payload, unsigned int count,
		       uint64_t *calls);
	/* Parent: publishing is over (stream peers close so readers see EOF). */
	void (*pub_close)(void);
	/* Parent, after the subscribers exited.  May be NULL. */
	void (*teardown)(void);
	/*
	 * fanout --reset: undo what a run killed before its teardown() could
	 * leave behind on the transport (evbus: a policy on the bus).  0 or
	 * -errno.  May be NULL (nothing to undo).
	 */
	int (*reset)(void);
	/*
	 * W_REPLAY (issue #15); NULL for a peer that cannot replay.  setup()
	 * made the transport keep opt.history bytes of events.  After
	 * publishing with no subscriber and pub_close(), in the parent:
	 * replay_open() opens a reader (untimed: connect, ring), or returns
	 * NULL with errno set; replay_start() asks it, timed, for everything
	 * since the first event published in this run, whose transport
	 * sequence number it stores in *since: 0 or -errno.  Then sub_recv()
	 * reads the replay, filling in rx[].seq and rx[].flags.
	 */
	void *(*replay_open)(void);
	int (*replay_start)(void *ctx, uint64_t *since);
};

extern const struct bench_peer peer_evbus, peer_pipe, peer_unix,
	peer_mqueue, peer_zmq, peer_dbus;

/* Set by a peer whose setup() runs or attaches to a broker process. */
extern pid_t bench_broker_pid;

/*
 * Set by a peer that ran with --policy-rules or --filter (issue #13), for
 * the JSON line: the rules in the policy during the run, and the BPF
 * instructions of each subscriber's filter.  --filter needs payloads of
 * at least BENCH_FILTER_MIN_SIZE bytes (a word after the stamp).
 */
extern unsigned int bench_policy_rules, bench_filter_insns;
#define BENCH_FILTER_MIN_SIZE	20

/*
 * Set by a peer that set its history (issue #15: opt.history >= 0) to the
 * capacity the transport reports it got (evbus rounds up), for the JSON
 * line; -1 otherwise.  After the run the peer puts back
 * BENCH_HISTORY_DEFAULT (the module's default, 1 MiB).
 */
extern int64_t bench_history_capacity;
#define BENCH_HISTORY_DEFAULT	1048576

/*
 * Flow control (issue #17), for the JSON line: what a peer that ran with
 * --rate-limits or --lossless read from its bus's counters
 * (EVBUS_IOC_BUS_STATS) over the run, from setup() to teardown().  stats
 * is 0 when nothing was read (another peer, neither option, or a module
 * without the counters); the figures are then reported as null.
 */
struct bench_flow {
	int stats;			/* the counters below were read */
	uint64_t rate_refused;		/* publishes refused (file + user) */
	uint64_t rate_waited;		/* publishes that waited for tokens */
	uint64_t lossless_waits;	/* publisher waits for room */
	uint64_t lossless_wait_ns;	/* ... and how long, in total */
	uint64_t lossless_expired;	/* events lost once a wait ran out */
	uint64_t lossless_foreign;	/* ... for a publisher that may not wait */
};
extern struct bench_flow bench_flow;
#define BENCH_LOSSLESS_MAX_MS	60000	/* the module's ceiling */

/* Harness helpers peers may use. */
void bench_die(const char *what) __attribute__((noreturn));
void bench_raise_nofile(unsigned long want);

/*
 * Added for the harness/peer split (additive; nothing above changed).
 *
 * bench_broker_res: shared memory (MAP_SHARED, zeroed, mapped before
 * setup()) where a broker process a peer forked reports what /proc cannot
 * tell: its hot-path syscalls and the first error it hit (an errno).  The
 * harness reads it after teardown().  External daemons leave it alone.
 *
 * Rule for brokers: the harness samples bench_broker_pid's CPU time and
 * context switches from /proc after pub_open() and again after the
 * subscribers exited, before teardown(); a forked broker must still be
 * alive then (not reaped), and teardown() is where it may exit and be
 * waited for.
 */
struct bench_broker_res {
	uint64_t syscalls;
	int64_t error;
};
extern struct bench_broker_res *bench_broker_res;

/*
 * Framed byte streams for stream transports (pipe, unix): a message is
 * struct bench_frame, the topic NUL-padded to a multiple of 8, then the
 * payload padded to a multiple of 8.  bench_frame_len(): bytes of one
 * message of opt.size payload on topic.  bench_frames_build(): count
 * messages back to back into buf (bench_frame_len(topic) * count bytes,
 * 8-aligned).  A bench_stream reads frames from a stream fd into
 * struct bench_rx items (payload points into its buffer; valid until the
 * next call): bench_stream_recv() follows the sub_recv() contract.
 */
struct bench_frame {
	uint32_t len;		/* whole message, multiple of 8 */
	uint16_t topic_len;	/* bytes, excluding the NUL */
	uint16_t flags;		/* 0 */
	uint32_t payload_len;	/* bytes */
	uint32_t reserved;	/* 0 */
};

size_t bench_frame_len(const char *topic);
void bench_frames_build(void *buf, const char *topic,
			void *const *payload, unsigned int count);
struct bench_stream *bench_stream_new(int fd);
int bench_stream_recv(struct bench_stream *s, struct bench_rx *rx,
		      unsigned int max, uint64_t *calls);
/* write() all of buf, retrying EINTR and partial writes: 0 or -errno. */
int bench_write_all(int fd, const void *buf, size_t len, uint64_t *calls);

#endif
