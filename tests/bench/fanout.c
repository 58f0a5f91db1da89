// SPDX-License-Identifier: GPL-2.0
/*
 * fanout: one publisher, M subscriber processes, N events, over one of
 * several transports ("peers", struct bench_peer in bench.h, one per
 * peer_<name>.c).  This file is the harness: options, processes, pacing,
 * stamping and checking payloads, measuring, and the JSON line.
 *
 *   fanout --peer P [--workload W] [--m M] [--k K] [--n N] [--size BYTES]
 *          [--batch B] [--ring BYTES] [--rate R] [--stall-ms MS] [--uring]
 *          [--wake-events E] [--wake-delay-us D] [--mmap]
 *          [--policy-rules R] [--filter] [--history BYTES]
 *          [--rate-limits] [--lossless MS] [--quiet]
 *   fanout --peer P --reset
 *   fanout --list-peers
 *
 * Workloads (--workload, default fanout):
 *   fanout       the publisher publishes N events flat out, B per call
 *   selectivity  the same; meant with --k K subscribers to other topics
 *   batch        the same; meant with --batch B
 *   latency      the publisher is paced at --rate R events/s (default 1000,
 *                B events per call every B/R s) with clock_nanosleep()
 *   isolation    subscriber 0 is stopped (SIGSTOP) once everybody is ready;
 *                the publisher publishes flat out; subscriber 0 gets SIGCONT
 *                when publishing is done or, if the publisher is still
 *                stuck --stall-ms (default 2000; 0: never) of CLOCK_MONOTONIC
 *                after the first publish, from a timer ("stalled":true)
 *   replay       (evbus only, issue #15; --m 1, no --k) the bus's history is
 *                set to hold all N events (--history BYTES if given, else
 *                the next power of two of N * (160 + --size) bytes, the
 *                module's history_max raised to it; more than its 256 MiB
 *                ceiling is a usage error); the publisher publishes N events
 *                flat out with no subscriber; then ONE reader, in the same
 *                process, opens a file with a --ring ring (untimed),
 *                subscribes to the topic from the first event's seq
 *                (EVBUS_SUB_SINCE) and reads until it has all N.  The run
 *                fails unless it got every stamp 1..N once, in order, each
 *                flagged EVBUS_EVENT_REPLAYED, with seqs increasing from
 *                the first event's, and no loss notice.  With --mmap the
 *                reader consumes its mapped ring (poll() drives the
 *                replay); with --filter it subscribes with the filter too.
 * --k K adds K subscribers to topics "other.<i>" that never match.
 * --uring (evbus only): publish with io_uring EVBUS_URING_PUBLISH(_BATCH).
 * --wake-events E, --wake-delay-us D (evbus only): subscriber rings get
 * EVBUS_RING_WAKE with wake_events E and wake_delay_ns D * 1000; without
 * them, the module's default wake-ups (adaptive since issue #14).
 * --mmap (evbus only, issue #14): every subscriber maps its ring and
 * consumes records from the mapping (poll() when it is empty) instead of
 * calling read().
 * --policy-rules R (evbus only, issue #13): before the subscribers start,
 * the bus gets a policy of R allow rules on other topics ("svc.<i>.>" for
 * uid 1000 + i), a few rules on the path of BENCH_TOPIC, and a default of
 * deny, so every subscribe and every publish is checked against it; it is
 * cleared (EVBUS_POLICY_OP_CLEAR) in teardown.  Needs CAP_SYS_ADMIN.
 * --filter (evbus only): every subscriber subscribes with
 * EVBUS_IOC_SUBSCRIBE2 and a classic BPF filter that checks the topic
 * length, the payload length, the type and a payload word, and accepts
 * every event of the run (payloads of at least 20 bytes).
 * --history BYTES (evbus only, issue #15): before the run, as the bus's
 * owner (root), set the capacity of the bus's history (EVBUS_IOC_HISTORY,
 * EVBUS_HISTORY_SET; 0 turns it off, the module rounds up to a power of
 * two), raising the module's history_max and max_user_history_bytes if
 * needed; after the run, put back 1048576 (BENCH_HISTORY_DEFAULT, every
 * bus's default).  Without it the bus keeps the history it has.
 * --rate-limits (evbus only, issue #17): before the run, the publisher's
 * file gets a rate limit (EVBUS_IOC_RATE, EVBUS_RATE_FILE) and, as the
 * bus's owner (root), every user gets one (EVBUS_RATE_USER, EVBUS_WHO_ALL),
 * both of EVBUS_RATE_MAX events and bytes per second with bursts of
 * EVBUS_RATE_BURST_MAX: limits that never refuse anything, so that every
 * publish takes its tokens from both buckets.  The user limit is removed
 * after the run (the file's goes with the file).  (Not --rate: that is the
 * latency workload's pace.)
 * --lossless MS (evbus only, issue #17): every subscriber's ring is
 * EVBUS_POLICY_LOSSLESS with wait_ns MS ms (1..60000; the module's
 * lossless_max_ms is raised to MS if lower); the publisher has the readers'
 * euid, so it waits for room instead of dropping.  Any event lost at a
 * reader (a wait that ran out) fails the run, except in the isolation
 * workload, whose stopped reader is expected to lose once waits run out.
 * --reset: what the peer's reset hook undoes (evbus: clears the bus's
 * policy, puts back the 1 MiB history and removes the per-user rate limit
 * of --rate-limits, which a run killed before its teardown leaves
 * behind), then exit.
 *
 * Payloads are --size bytes (>= 16) and start with struct bench_stamp: a
 * sequence number 1..N and CLOCK_MONOTONIC just before the publish call.
 * Every subscriber checks that sequence numbers increase (seq_errors),
 * counts loss notices (lost, lag_records) and gaps in the sequence no
 * notice accounted for (lost_silent), and takes one latency sample per
 * event received: CLOCK_MONOTONIC after the receive call returned minus the
 * stamp.  It stops once received + lost + lost_silent reaches N, or at end
 * of stream (the events still missing then count as lost_silent), and
 * exits once every subscriber got there (exiting is expensive enough to
 * show up in the others' latency on one CPU).
 *
 * Measured (under tests/vm/run --icount, 1 ns = 1 guest instruction):
 *   wall_ns      CLOCK_MONOTONIC from just before the first publish to the
 *                last subscriber's exit
 *   publish_ns   from the first publish to the end of pub_close()
 *   pub CPU      the publisher's CLOCK_PROCESS_CPUTIME_ID over publish_ns
 *   CPU, ctx     getrusage(SELF) and getrusage(CHILDREN) deltas from just
 *                before publishing to after the subscribers were reaped,
 *                plus the broker's: a peer with a broker process (forked
 *                or external) names it in bench_broker_pid and the harness
 *                reads its CPU time (sum over /proc/PID/task/ * /schedstat,
 *                ns; /proc/PID/task/ * /stat utime+stime if absent) and
 *                voluntary+nonvoluntary context switches
 *                (/proc/PID/task/ * /status) after pub_open() and after the
 *                subscribers exited, while it still runs; it is reaped
 *                only in teardown(), after the second getrusage(), so it
 *                is never counted twice
 *   syscalls     hot-path calls counted by the code (publish, read, write,
 *                writev, io_uring_enter), not traced
 *   latency      a log-linear histogram (64 buckets per power of two, so
 *                within 1.6%) over every event received, except by the
 *                stopped subscriber 0 of the isolation workload; the max is
 *                exact
 * In the isolation workload received/lost/lost_silent still cover all M
 * subscribers; stopped_* is subscriber 0's share.
 * In the replay workload the reader's figures stand where the subscribers'
 * are: wall_ns is CLOCK_MONOTONIC from just before the subscribe to the
 * last event read (so events_per_s, deliveries_per_s, received_per_s are
 * replayed events/s and ns_per_delivery, ns_per_received instructions per
 * event replayed), cpu_ns_per_delivery the reader's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) per event over that span, ctx_switches its
 * context switches then, syscalls_sub its read() (poll() with --mmap)
 * calls; publish_ns, pub_cpu_ns_per_event, pub_events_per_s and ctx_pub
 * are the publishing phase's, with nobody subscribed; no latency samples.
 *
 * Output: one JSON object per run on stdout, one human line on stderr.
 * JSON fields: peer workload m k payload batch n ok wall_ns publish_ns
 * events_per_s deliveries received lost lag_records seq_errors
 * deliveries_per_s ns_per_delivery pub_cpu_ns_per_event cpu_ns_per_delivery
 * (publisher + subscribers + broker) broker_cpu_ns_per_event ctx_switches
 * ctx_pub ctx_per_delivery (all processes, broker included) syscalls
 * syscalls_pub syscalls_sub syscalls_broker syscalls_per_event
 * pub_syscalls_per_event lost_silent latency_p50_ns latency_p99_ns
 * latency_max_ns pub_events_per_s (n / publish_ns) broker (whether broker
 * figures were read) broker_ctx uring wake_events wake_delay_ns ring rate
 * (0 unless latency) stall_ms (0 unless isolation) stalled stopped_received
 * stopped_lost stopped_lost_silent (0 unless isolation) received_per_s
 * ns_per_received (what arrived: a peer that drops silently delivers less
 * than deliveries_per_s suggests) policy_rules (rules in the policy during
 * the run, 0: none) filter_insns (BPF instructions per subscriber's
 * filter, 0: none) mmap (subscribers read mmap()ed rings) history (the
 * bytes asked for with --history or by the replay workload, null: not
 * set) history_capacity (what the module set, null: not set)
 * pub_ns_per_event (publish_ns / n; with subscribers on the CPU, their
 * share too) replay_since replay_ns replay_subscribe_ns
 * replay_events_per_s replay_ns_per_event replay_cpu_ns_per_event
 * replay_unflagged replay_seq_errors (the replay workload's reader: the
 * same figures as above under their own names, the part of replay_ns
 * the subscribe call took (it waits for an RCU grace period: idle guest
 * time, not instructions), and the events not flagged replayed and with
 * a wrong seq; null in the other workloads) rate_limits (--rate-limits)
 * lossless_ms (--lossless MS, null: not lossless) rate_refused rate_waited
 * lossless_waits lossless_wait_ns lossless_expired lossless_foreign (the
 * bus's counters over the run with --rate-limits or --lossless: publishes
 * refused by a token bucket and that waited for tokens; the publisher's
 * waits for room in a lossless ring and the guest ns they took, events
 * lost at lossless readers once a wait ran out, and for a publisher that
 * may not wait; null without those options or if the module cannot tell).
 * Exit status:
 *   0  the run completed ("ok":true)
 *   1  the run failed: a JSON line with "ok":false was printed if the
 *      subscribers were forked (even if some failed to start) or, in the
 *      replay workload, if publishing or reading the replay failed; else
 *      (a failing setup(), add_others(), pub_open(), replay_open() or
 *      replay_start()) just a message
 *   2  usage error
 *   3  this peer cannot run this workload or option (not in its
 *      .workloads, an evbus-only option on another peer, or a hook returned
 *      -EOPNOTSUPP): a message on stderr, no JSON; run-bench skips the run
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench.h"

/* The peers built in: BENCH_PEER_LIST is "X(evbus) X(pipe) ..." (bench.mk). */
#ifndef BENCH_PEER_LIST
#error "build with -DBENCH_PEER_LIST='X(evbus) X(pipe) ...' (tests/bench/bench.mk)"
#endif
#define X(p) extern const struct bench_peer peer_##p;
BENCH_PEER_LIST
#undef X
#define X(p) &peer_##p,
static const struct bench_peer *const peers[] = { BENCH_PEER_LIST };
#undef X
#define NR_PEERS	(sizeof(peers) / sizeof(peers[0]))

#define ALIGN8(x)	(((x) + 7) & ~(size_t)7)
#define ULL(x)		((unsigned long long)(x))
#define TF(x)		((x) ? "true" : "false")
#define RX_MAX		4096		/* items per sub_recv() call */
#define STREAM_BUF	(256 * 1024)	/* bench_stream read buffer */

static const char *const workload_names[W_NR] = {
	[W_FANOUT] = "fanout", [W_LATENCY] = "latency",
	[W_SELECTIVITY] = "selectivity", [W_BATCH] = "batch",
	[W_ISOLATION] = "isolation", [W_REPLAY] = "replay",
};

struct bench_opt opt = {
	.peer = "evbus", .workload = "fanout", .w = W_FANOUT, .m = 1, .k = 0,
	.batch = 1, .size = 64, .ring = 4u << 20, .rate = 1000, .n = 20000,
	.history = -1, .lossless_ms = -1,
};
static unsigned int stall_ms = 2000;

pid_t bench_broker_pid;
struct bench_broker_res *bench_broker_res;
unsigned int bench_policy_rules, bench_filter_insns;
int64_t bench_history_capacity = -1;
struct bench_flow bench_flow;
static const struct bench_peer *peer;

/* ------------------------------------------------------ latency histogram */

/*
 * Values below LAT_SUB are exact; above, each power of two [2^e, 2^(e+1))
 * is split into LAT_SUB equal buckets.
 */
#define LAT_SUB_BITS	6
#define LAT_SUB		(1u << LAT_SUB_BITS)
#define LAT_BUCKETS	((64 - LAT_SUB_BITS + 1) * LAT_SUB)

static unsigned int lat_bucket(uint64_t v)
{
	unsigned int shift;

	if (v < LAT_SUB)
		return v;
	shift = 63 - __builtin_clzll(v) - LAT_SUB_BITS;
	return (shift + 1) * LAT_SUB + (unsigned int)((v >> shift) - LAT_SUB);
}

/* The middle of bucket b. */
static uint64_t lat_value(unsigned int b)
{
	unsigned int shift;

	if (b < LAT_SUB)
		return b;
	shift = b / LAT_SUB - 1;
	return ((uint64_t)(b % LAT_SUB + LAT_SUB) << shift) +
	       ((1ull << shift) >> 1);
}

/* ----------------------------------------------------- what children report */

struct sub_res {
	uint64_t received;	/* events received */
	uint64_t lost;		/* events reported lost by loss notices */
	uint64_t lost_silent;	/* gaps in seq no notice accounted for */
	uint64_t lag_records;	/* loss notices */
	uint64_t syscalls;	/* hot-path calls, counted by the peer */
	uint64_t seq_errors;	/* sequence numbers not strictly increasing */
	uint64_t lat_max;	/* ns */
	uint64_t cpu_ns;	/* the child's own CPU time */
	int64_t error;		/* 0 or an errno */
	uint32_t done;		/* finished (or found dead by the parent) */
};

/* Everything children write, in one MAP_SHARED mapping. */
struct shared {
	uint64_t hist[LAT_BUCKETS];	/* merged by subscribers at exit */
	struct bench_broker_res broker;
	uint32_t finished;		/* subscribers done */
	struct sub_res sub[BENCH_MAX_M];
};
static struct shared *sh;

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + tv.tv_usec * 1000ull;
}

void bench_die(const char *what)
{
	fprintf(stderr, "fanout: %s: %s\n", what, strerror(errno));
	exit(1);
}

void bench_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ------------------------------------------- framed streams (bench.h) */

size_t bench_frame_len(const char *topic)
{
	return sizeof(struct bench_frame) + ALIGN8(strlen(topic) + 1) +
	       ALIGN8(opt.size);
}

void bench_frames_build(void *buf, const char *topic, void *const *payload,
			unsigned int count)
{
	size_t tl = strlen(topic), ml = bench_frame_len(topic);
	char *p = buf;

	for (unsigned int i = 0; i < count; i++, p += ml) {
		struct bench_frame *f = (struct bench_frame *)p;
		char *t = p + sizeof(*f);

		memset(f, 0, sizeof(*f));
		f->len = ml;
		f->topic_len = tl;
		f->payload_len = opt.size;
		memset(t, 0, ALIGN8(tl + 1));
		memcpy(t, topic, tl);
		memcpy(t + ALIGN8(tl + 1), payload[i], opt.size);
	}
}

struct bench_stream {
	int fd;
	size_t have, off;	/* bytes in buf; bytes already returned */
	char *buf;
};

struct bench_stream *bench_stream_new(int fd)
{
	struct bench_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = fd;
	s->buf = aligned_alloc(8, STREAM_BUF);
	if (!s->buf) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

/* The complete frames in buf[off, have), up to max: count or -EPROTO. */
static int stream_parse(struct bench_stream *s, struct bench_rx *rx,
			unsigned int max)
{
	unsigned int n = 0;

	while (n < max && s->have - s->off >= sizeof(struct bench_frame)) {
		const struct bench_frame *f = (void *)(s->buf + s->off);
		size_t poff = sizeof(*f) + ALIGN8((size_t)f->topic_len + 1);

		if (f->len < sizeof(*f) || f->len > STREAM_BUF || (f->len & 7) ||
		    poff + f->payload_len > f->len)
			return -EPROTO;
		if (s->have - s->off < f->len)
			break;
		rx[n].payload = (const char *)f + poff;
		rx[n].len = f->payload_len;
		rx[n].lost = 0;
		n++;
		s->off += f->len;
	}
	return n;
}

int bench_stream_recv(struct bench_stream *s, struct bench_rx *rx,
		      unsigned int max, uint64_t *calls)
{
	for (;;) {
		int n = stream_parse(s, rx, max);
		ssize_t got;

		if (n)
			return n;
		/* No complete frame left: keep the partial one, read more. */
		memmove(s->buf, s->buf + s->off, s->have - s->off);
		s->have -= s->off;
		s->off = 0;
		got = read(s->fd, s->buf + s->have, STREAM_BUF - s->have);
		++*calls;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return s->have ? -EPROTO : 0;
		s->have += got;
	}
}

int bench_write_all(int fd, const void *buf, size_t len, uint64_t *calls)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		++*calls;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= w;
	}
	return 0;
}

/* ------------------------------------------------------------ subscribers */

struct sub_state {
	struct sub_res *r;
	uint64_t last;		/* last seq received */
	uint64_t notified;	/* lost per notices since the last event */
	int record_latency;
	uint64_t *hist;		/* private; merged into sh->hist at exit */
	unsigned int lo, hi;	/* buckets [lo, hi] may be nonzero */
};

static void sub_event(struct sub_state *st, const struct bench_rx *rx,
		      uint64_t now)
{
	struct sub_res *r = st->r;
	struct bench_stamp stamp;
	uint64_t gap, lat;

	if (rx->len != opt.size) {
		r->error = EPROTO;
		return;
	}
	memcpy(&stamp, rx->payload, sizeof(stamp));
	r->received++;
	if (stamp.seq <= st->last) {
		r->seq_errors++;
	} else {
		gap = stamp.seq - st->last - 1;
		if (gap > st->notified)
			r->lost_silent += gap - st->notified;
		st->notified = 0;
		st->last = stamp.seq;
	}
	lat = now > stamp.t_ns ? now - stamp.t_ns : 0;
	if (lat > r->lat_max)
		r->lat_max = lat;
	if (st->record_latency) {
		unsigned int b = lat_bucket(lat);

		st->hist[b]++;
		if (b < st->lo)
			st->lo = b;
		if (b > st->hi)
			st->hi = b;
	}
}

/* Pipes between the parent and the subscribers; see wait_subscribers(). */
static int all_done[2], release_fds[2];

/*
 * Report, count ourselves finished (the last one wakes the parent) and wait
 * for the release before exiting: exiting (a ring, buffers, the address
 * space to free) costs hundreds of thousands of instructions, which on one
 * CPU subscribers still waiting for the last events would count as latency.
 */
static void sub_finish(struct sub_state *st)
{
	char c = 1;

	for (unsigned int b = st->lo; b <= st->hi; b++)
		if (st->hist[b])
			__atomic_fetch_add(&sh->hist[b], st->hist[b],
					   __ATOMIC_RELAXED);
	st->r->cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	__atomic_store_n(&st->r->done, 1, __ATOMIC_SEQ_CST);
	if (__atomic_add_fetch(&sh->finished, 1, __ATOMIC_SEQ_CST) == opt.m &&
	    write(all_done[1], &c, 1) != 1)
		_exit(3);
	while (read(release_fds[0], &c, 1) < 0 && errno == EINTR)
		;
	_exit(st->r->error ? 2 : 0);
}

static void sub_main(unsigned int i, int ready)
{
	static struct bench_rx rx[RX_MAX];
	struct sub_state st = { .r = &sh->sub[i], .lo = LAT_BUCKETS - 1 };
	struct sub_res *r = st.r;
	int eof = 0;
	void *ctx;
	char c = 1;

	st.record_latency = !(opt.w == W_ISOLATION && i == 0);
	st.hist = calloc(LAT_BUCKETS, sizeof(*st.hist));
	errno = 0;
	ctx = st.hist ? peer->sub_open(i) : NULL;
	if (!ctx) {
		r->error = errno ? errno : EIO;
		fprintf(stderr, "fanout: %s: subscriber %u: %s\n", peer->name,
			i, strerror(r->error));
		_exit(2);
	}
	if (write(ready, &c, 1) != 1)
		_exit(3);
	close(ready);
	while (!r->error && r->received + r->lost + r->lost_silent < opt.n) {
		int cnt = peer->sub_recv(ctx, rx, RX_MAX, &r->syscalls);
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		if (cnt == -EINTR)
			continue;
		if (cnt < 0) {
			r->error = -cnt;
			break;
		}
		if (cnt == 0) {
			eof = 1;
			break;
		}
		for (int j = 0; j < cnt && !r->error; j++) {
			if (rx[j].payload) {
				sub_event(&st, &rx[j], now);
			} else {
				r->lost += rx[j].lost;
				r->lag_records++;
				st.notified += rx[j].lost;
			}
		}
	}
	/* At end of stream, whatever never came and was not notified. */
	if (eof && st.last < opt.n && opt.n - st.last > st.notified)
		r->lost_silent += opt.n - st.last - st.notified;
	sub_finish(&st);
}

/* ------------------------------------------------------- broker from /proc */

struct proc_sample {
	uint64_t cpu_ns, ctx;
	int ok;
};

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, buf, size - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = 0;
	return 0;
}

/* One thread's CPU time in ns: schedstat, else stat's utime + stime. */
static int task_cpu_ns(const char *dir, uint64_t *ns)
{
	char path[96], buf[1024], *p;
	unsigned long long v;
	unsigned long ut, st;

	snprintf(path, sizeof(path), "%s/schedstat", dir);
	if (!read_file(path, buf, sizeof(buf)) && sscanf(buf, "%llu", &v) == 1) {
		*ns = v;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/stat", dir);
	if (read_file(path, buf, sizeof(buf)) || !(p = strrchr(buf, ')')))
		return -1;
	/* Fields 3..13 precede utime (14) and stime (15). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	*ns = (uint64_t)(ut + st) * (1000000000ull / sysconf(_SC_CLK_TCK));
	return 0;
}

static int task_ctx(const char *dir, uint64_t *ctx)
{
	char path[96], buf[4096], *p;
	unsigned long v, nv;

	snprintf(path, sizeof(path), "%s/status", dir);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "voluntary_ctxt_switches:");
	if (!p || sscanf(p, "voluntary_ctxt_switches: %lu", &v) != 1)
		return -1;
	p = strstr(buf, "nonvoluntary_ctxt_switches:");
	if (!p || sscanf(p, "nonvoluntary_ctxt_switches: %lu", &nv) != 1)
		return -1;
	*ctx = v + nv;
	return 0;
}

/* Sum over the broker's threads (threads that exit in between are lost). */
static void proc_sample(pid_t pid, struct proc_sample *s)
{
	char path[32], dir[64];
	struct dirent *e;
	uint64_t ns, ctx;
	DIR *d;

	memset(s, 0, sizeof(*s));
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	s->ok = 1;
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name);

		if (tid <= 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%d", path, tid);
		if (task_cpu_ns(dir, &ns) || task_ctx(dir, &ctx)) {
			s->ok = 0;
			continue;
		}
		s->cpu_ns += ns;
		s->ctx += ctx;
	}
	closedir(d);
}

/* --------------------------------------------------------------- isolation */

static volatile sig_atomic_t stopped_running, stall_fired;
static pid_t stopped_pid;
static timer_t stall_timer;

static void on_stall(int sig)
{
	if (!stopped_running) {
		stopped_running = 1;
		stall_fired = 1;
		kill(stopped_pid, SIGCONT);
	}
}

/* Stop subscriber 0 and wait until it is stopped. */
static void isolation_stop(pid_t pid)
{
	int status;

	stopped_pid = pid;
	if (kill(pid, SIGSTOP))
		bench_die("SIGSTOP");
	while (waitpid(pid, &status, WUNTRACED) < 0)
		if (errno != EINTR)
			bench_die("waitpid (stop)");
	if (!WIFSTOPPED(status)) {
		fprintf(stderr, "fanout: subscriber 0 exited instead of stopping\n");
		stopped_running = 1;
	}
}

/* The deadline, armed just before the first publish. */
static void isolation_arm(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_value = {
		.tv_sec = stall_ms / 1000, .tv_nsec = stall_ms % 1000 * 1000000l } };
	struct sigaction sa = { .sa_handler = on_stall, .sa_flags = SA_RESTART };

	if (!stall_ms)
		return;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) ||
	    timer_create(CLOCK_MONOTONIC, &sev, &stall_timer) ||
	    timer_settime(stall_timer, 0, &its, NULL))
		bench_die("stall timer");
}

/* Publishing is over: disarm the deadline, let subscriber 0 run. */
static void isolation_release(void)
{
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (stall_ms)
		timer_delete(stall_timer);
	if (!stopped_running) {
		stopped_running = 1;
		kill(stopped_pid, SIGCONT);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- publisher */

/* Sleep until start + sent / rate (no sleep when behind). */
static void pace(uint64_t start, uint64_t sent)
{
	uint64_t at = start + sent * 1000000000ull / opt.rate;
	struct timespec ts = { .tv_sec = at / 1000000000ull,
			       .tv_nsec = at % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Publish seq 1..n; 0 or -errno. */
static int publish_all(void *const *payload, uint64_t start, uint64_t *calls)
{
	struct bench_stamp stamp;
	uint64_t seq = 1;

	while (seq <= opt.n) {
		unsigned int cnt = opt.n - seq + 1 < opt.batch ?
				   opt.n - seq + 1 : opt.batch;
		int ret;

		if (opt.w == W_LATENCY)
			pace(start, seq - 1);
		stamp.t_ns = now_ns(CLOCK_MONOTONIC);
		for (unsigned int j = 0; j < cnt; j++) {
			stamp.seq = seq + j;
			memcpy(payload[j], &stamp, sizeof(stamp));
		}
		ret = peer->publish(payload, cnt, calls);
		if (ret) {
			fprintf(stderr, "fanout: %s: publish (seq %llu): %s\n",
				peer->name, (unsigned long long)seq, strerror(-ret));
			return ret;
		}
		seq += cnt;
	}
	return 0;
}

/* ------------------------------------------------------------------ options */

static void usage(void)
{
	fprintf(stderr,
		"usage: fanout --peer P [--workload fanout|latency|selectivity|batch|isolation|replay]\n"
		"              [--m M] [--k K] [--n N] [--size BYTES] [--batch B]\n"
		"              [--ring BYTES] [--rate R] [--stall-ms MS] [--uring]\n"
		"              [--wake-events E] [--wake-delay-us D] [--mmap]\n"
		"              [--policy-rules R] [--filter] [--history BYTES]\n"
		"              [--rate-limits] [--lossless MS] [--quiet]\n"
		"       fanout --peer P --reset\n"
		"       fanout --list-peers\n"
		"peers built in:");
	for (size_t i = 0; i < NR_PEERS; i++)
		fprintf(stderr, " %s", peers[i]->name);
	fputc('\n', stderr);
	exit(2);
}

static void cannot(const char *why)
{
	fprintf(stderr, "fanout: peer %s cannot run %s: %s\n", opt.peer,
		opt.workload, why);
	exit(3);
}

static unsigned long long num(const char *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || end == v || *end)
		usage();
	return x;
}

/* --history BYTES: up to 1 TiB (the module refuses far less). */
static int64_t history_arg(const char *v)
{
	unsigned long long x = num(v);

	if (x > 1ull << 40)
		usage();
	return x;
}

static int flag(const char *a)
{
	if (!strcmp(a, "--quiet"))
		opt.quiet = 1;
	else if (!strcmp(a, "--uring"))
		opt.uring = 1;
	else if (!strcmp(a, "--filter"))
		opt.filter = 1;
	else if (!strcmp(a, "--mmap"))
		opt.mmap = 1;
	else if (!strcmp(a, "--reset"))
		opt.reset = 1;
	else if (!strcmp(a, "--rate-limits"))
		opt.rate_limits = 1;
	else if (!strcmp(a, "--list-peers")) {
		for (size_t i = 0; i < NR_PEERS; i++)
			printf("%s\n", peers[i]->name);
		exit(0);
	} else
		return 0;
	return 1;
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (flag(a))
			continue;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--peer"))
			opt.peer = v;
		else if (!strcmp(a, "--workload"))
			opt.workload = v;
		else if (!strcmp(a, "--m"))
			opt.m = num(v);
		else if (!strcmp(a, "--k"))
			opt.k = num(v);
		else if (!strcmp(a, "--n"))
			opt.n = num(v);
		else if (!strcmp(a, "--size"))
			opt.size = num(v);
		else if (!strcmp(a, "--batch"))
			opt.batch = num(v);
		else if (!strcmp(a, "--ring"))
			opt.ring = num(v);
		else if (!strcmp(a, "--rate"))
			opt.rate = num(v);
		else if (!strcmp(a, "--stall-ms"))
			stall_ms = num(v);
		else if (!strcmp(a, "--wake-events"))
			opt.wake_events = num(v);
		else if (!strcmp(a, "--wake-delay-us"))
			opt.wake_delay_ns = num(v) * 1000;
		else if (!strcmp(a, "--policy-rules"))
			opt.policy_rules = num(v);
		else if (!strcmp(a, "--history"))
			opt.history = history_arg(v);
		else if (!strcmp(a, "--lossless")) {
			opt.lossless_ms = num(v);
			if (opt.lossless_ms < 1 ||
			    opt.lossless_ms > BENCH_LOSSLESS_MAX_MS)
				usage();
		} else
			usage();
	}
	for (opt.w = 0; opt.w < W_NR; opt.w++)
		if (!strcmp(opt.workload, workload_names[opt.w]))
			break;
	if (opt.w == W_NR || opt.m < 1 || opt.m > BENCH_MAX_M || opt.batch < 1 ||
	    opt.batch > BENCH_MAX_BATCH || opt.n < 1 || opt.rate < 1 ||
	    opt.size < sizeof(struct bench_stamp) || opt.size > 64u << 20 ||
	    (opt.w == W_REPLAY && (opt.m != 1 || opt.k)))
		usage();
	for (size_t i = 0; i < NR_PEERS; i++)
		if (!strcmp(opt.peer, peers[i]->name))
			peer = peers[i];
	if (!peer)
		usage();
}

static void check_peer(void)
{
	if (!(peer->workloads & (1u << opt.w)))
		cannot("workload not supported by this peer");
	if (opt.w == W_REPLAY && (!peer->replay_open || !peer->replay_start))
		cannot("no replay hooks");
	if (strcmp(peer->name, "evbus") &&
	    (opt.uring || opt.wake_events || opt.wake_delay_ns ||
	     opt.policy_rules || opt.filter || opt.mmap || opt.history >= 0 ||
	     opt.rate_limits || opt.lossless_ms >= 0))
		cannot("--uring, --wake-*, --mmap, --policy-rules, --filter, --history, "
		       "--rate-limits and --lossless are evbus options");
	if (opt.w == W_REPLAY && opt.policy_rules)
		cannot("the --policy-rules policy grants no replay right");
	if (opt.filter && opt.size < BENCH_FILTER_MIN_SIZE)
		cannot("--filter checks a payload word after the stamp: --size 20 or more");
	if (opt.k && !peer->add_others)
		cannot("no subscribers to other topics (--k)");
}

/* ---------------------------------------------------------------------- run */

struct run {
	pid_t pids[BENCH_MAX_M];
	int status[BENCH_MAX_M];	/* exit status, once reaped[i] */
	char reaped[BENCH_MAX_M];
	unsigned int nsub;
	int failed;
	uint64_t pub_calls;
	uint64_t t0, t1, t2, c0, c1;
	struct rusage self0, self1, ch0, ch1;
	struct proc_sample b0, b1;
	/* W_REPLAY: the reader, from just before it subscribes to the end */
	uint64_t rt0, rt1, rc0, rc1;
	uint64_t rtsub;			/* when replay_start() returned */
	struct rusage rself0, rself1;
	uint64_t since;			/* transport seq it replays from */
	uint64_t unflagged;		/* events without BENCH_RX_REPLAYED */
	uint64_t tseq_errors;		/* transport seqs not since, since+... */
};

/* A hook failed before publishing; EOPNOTSUPP means "cannot run this". */
static void hook_failed(struct run *rn, const char *hook, int ret)
{
	fprintf(stderr, "fanout: %s: %s: %s\n", peer->name, hook, strerror(-ret));
	for (unsigned int i = 0; i < rn->nsub; i++)
		kill(rn->pids[i], SIGKILL);
	for (unsigned int i = 0; i < rn->nsub; i++)
		waitpid(rn->pids[i], NULL, 0);
	if (peer->teardown)
		peer->teardown();
	if (ret == -EOPNOTSUPP)
		cannot(hook);
	exit(1);
}

/* A subscriber died (or was killed): wake wait_subscribers(). */
static void on_sigchld(int sig)
{
	int saved = errno;
	char c = 0;

	/* Nonblocking: if the pipe is full, a wake-up is pending anyway. */
	if (write(all_done[1], &c, 1) < 0)
		c = 1;
	errno = saved;
}

/* Fork the subscribers and wait until each is ready (or gone). */
static void start_subscribers(struct run *rn)
{
	struct sigaction sa = { .sa_handler = on_sigchld,
				.sa_flags = SA_RESTART | SA_NOCLDSTOP };
	int ready[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) || pipe2(release_fds, O_CLOEXEC) ||
	    pipe2(all_done, O_CLOEXEC | O_NONBLOCK))
		bench_die("pipe");
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL))
		bench_die("sigaction");
	fflush(NULL);
	for (unsigned int i = 0; i < opt.m; i++) {
		pid_t pid = fork();

		if (pid < 0)
			bench_die("fork");
		if (!pid) {
			signal(SIGCHLD, SIG_DFL);
			close(ready[0]);
			close(release_fds[1]);
			close(all_done[0]);
			sub_main(i, ready[1]);
		}
		rn->pids[rn->nsub++] = pid;
	}
	close(ready[1]);
	close(release_fds[0]);
	for (unsigned int i = 0; i < opt.m; i++) {
		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "fanout: a subscriber failed to start\n");
			rn->failed = 1;
			break;
		}
	}
	close(ready[0]);
}

/* Reap subscribers that died without finishing; count them finished. */
static void reap_dead(struct run *rn)
{
	for (unsigned int i = 0; i < rn->nsub; i++) {
		if (rn->reaped[i] ||
		    waitpid(rn->pids[i], &rn->status[i], WNOHANG) <= 0)
			continue;
		rn->reaped[i] = 1;
		if (!__atomic_exchange_n(&sh->sub[i].done, 1, __ATOMIC_SEQ_CST))
			__atomic_add_fetch(&sh->finished, 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * Wait until every subscriber finished or died, release them, reap them.
 * all_done gets a byte from the last subscriber to finish and one from
 * on_sigchld() per dead child, so the parent is woken once in a normal run.
 */
static void wait_subscribers(struct run *rn)
{
	struct pollfd pfd = { .fd = all_done[0], .events = POLLIN };
	char buf[64];

	if (rn->failed)
		for (unsigned int i = 0; i < rn->nsub; i++)
			kill(rn->pids[i], SIGKILL);
	while (__atomic_load_n(&sh->finished, __ATOMIC_SEQ_CST) < rn->nsub) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			bench_die("poll");
		while (read(all_done[0], buf, sizeof(buf)) > 0)
			;
		reap_dead(rn);
	}
	close(release_fds[1]);
	for (unsigned int i = 0; i < rn->nsub; i++) {
		while (!rn->reaped[i] &&
		       waitpid(rn->pids[i], &rn->status[i], 0) < 0)
			if (errno != EINTR)
				bench_die("waitpid");
		rn->reaped[i] = 1;
		if (!WIFEXITED(rn->status[i]) || WEXITSTATUS(rn->status[i]))
			rn->failed = 1;
	}
	signal(SIGCHLD, SIG_DFL);
	close(all_done[0]);
	close(all_done[1]);
}

static void run(struct run *rn, void *const *payload)
{
	int ret;

	ret = peer->setup(opt.m);
	if (ret)
		hook_failed(rn, "setup", ret);
	start_subscribers(rn);
	if (!rn->failed && peer->add_others) {
		ret = peer->add_others(opt.k);
		if (ret)
			hook_failed(rn, "add_others", ret);
	}
	if (!rn->failed) {
		ret = peer->pub_open();
		if (ret)
			hook_failed(rn, "pub_open", ret);
	}
	if (!rn->failed && opt.w == W_ISOLATION)
		isolation_stop(rn->pids[0]);

	proc_sample(bench_broker_pid, &rn->b0);
	getrusage(RUSAGE_SELF, &rn->self0);
	getrusage(RUSAGE_CHILDREN, &rn->ch0);
	rn->c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	rn->t0 = now_ns(CLOCK_MONOTONIC);
	if (!rn->failed) {
		if (opt.w == W_ISOLATION)
			isolation_arm();
		if (publish_all(payload, rn->t0, &rn->pub_calls))
			rn->failed = 1;
		if (opt.w == W_ISOLATION)
			isolation_release();
		if (peer->pub_close)
			peer->pub_close();
	}
	rn->c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	rn->t1 = now_ns(CLOCK_MONOTONIC);
	wait_subscribers(rn);
	rn->t2 = now_ns(CLOCK_MONOTONIC);
	getrusage(RUSAGE_SELF, &rn->self1);
	getrusage(RUSAGE_CHILDREN, &rn->ch1);
	proc_sample(bench_broker_pid, &rn->b1);
	if (peer->teardown)
		peer->teardown();
}

/* ------------------------------------------------------------------ replay */

/*
 * W_REPLAY's history (issue #15), unless --history says otherwise: room
 * for all N events, generously (a kept event is about 96 bytes plus topic
 * and payload), rounded up to a power of two.  Past the module's ceiling
 * the run could not replay them all: a usage error.
 */
#define REPLAY_REC_BYTES	160		/* per event, plus the payload */
#define HISTORY_CEILING		(256ull << 20)	/* EVBUS_HISTORY_CEILING */

static void replay_history(void)
{
	uint64_t per = REPLAY_REC_BYTES + (uint64_t)opt.size, size = 4096;

	if (opt.w != W_REPLAY || opt.history >= 0)
		return;
	if (opt.n > HISTORY_CEILING / per) {
		fprintf(stderr, "fanout: replay: %llu events of %u B need more than "
			"the module's %llu-byte history ceiling: a smaller --n\n",
			ULL(opt.n), opt.size, ULL(HISTORY_CEILING));
		exit(2);
	}
	while (size < opt.n * per)
		size <<= 1;
	opt.history = size;
}

/*
 * Read the replay into sh->sub[0], as subscriber 0 would count it, and
 * check it: every stamp 1..N once and in order, every event flagged
 * replayed, transport seqs from rn->since on, increasing.
 */
static void replay_read(struct run *rn, void *ctx)
{
	static struct bench_rx rx[RX_MAX];
	struct sub_res *r = &sh->sub[0];
	struct bench_stamp stamp;
	uint64_t last = 0, tseq = 0, notified = 0;

	while (!r->error && r->received + r->lost + r->lost_silent < opt.n) {
		int cnt = peer->sub_recv(ctx, rx, RX_MAX, &r->syscalls);

		if (cnt == -EINTR)
			continue;
		if (cnt < 0) {
			r->error = -cnt;
			break;
		}
		if (cnt == 0) {		/* end of stream: the rest never came */
			if (opt.n - last > notified)
				r->lost_silent += opt.n - last - notified;
			break;
		}
		for (int j = 0; j < cnt; j++) {
			const struct bench_rx *x = &rx[j];

			if (!x->payload) {
				r->lost += x->lost;
				r->lag_records++;
				notified += x->lost;
				continue;
			}
			if (x->len != opt.size) {
				r->error = EPROTO;
				break;
			}
			memcpy(&stamp, x->payload, sizeof(stamp));
			r->received++;
			if (stamp.seq <= last) {
				r->seq_errors++;
			} else {
				if (stamp.seq - last - 1 > notified)
					r->lost_silent += stamp.seq - last - 1 - notified;
				notified = 0;
				last = stamp.seq;
			}
			if (!(x->flags & BENCH_RX_REPLAYED))
				rn->unflagged++;
			if (tseq ? x->seq <= tseq : x->seq != rn->since)
				rn->tseq_errors++;
			tseq = x->seq;
		}
	}
	if (r->error || r->received != opt.n || r->lost || r->lag_records ||
	    r->lost_silent || r->seq_errors || rn->unflagged || rn->tseq_errors) {
		fprintf(stderr, "fanout: replay: %llu of %llu events, %llu lost in "
			"%llu loss notices, %llu silently, %llu out of order, %llu "
			"not flagged replayed, %llu with a wrong transport seq%s%s\n",
			ULL(r->received), ULL(opt.n), ULL(r->lost),
			ULL(r->lag_records), ULL(r->lost_silent),
			ULL(r->seq_errors), ULL(rn->unflagged),
			ULL(rn->tseq_errors), r->error ? "; " : "",
			r->error ? strerror(r->error) : "");
		rn->failed = 1;
	}
}

/*
 * W_REPLAY: publish N events with no subscriber, then one reader, this
 * process, replays them from the history.  Publishing is timed as in
 * run() (t0..t1, c0..c1, self0..self1); the replay from just before the
 * subscribe to the last event read (rt0..rt1, rc0..rc1, rself0..rself1).
 */
static void run_replay(struct run *rn, void *const *payload)
{
	void *ctx;
	int ret;

	ret = peer->setup(1);
	if (ret)
		hook_failed(rn, "setup", ret);
	ret = peer->pub_open();
	if (ret)
		hook_failed(rn, "pub_open", ret);
	getrusage(RUSAGE_SELF, &rn->self0);
	rn->c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	rn->t0 = now_ns(CLOCK_MONOTONIC);
	if (publish_all(payload, rn->t0, &rn->pub_calls))
		rn->failed = 1;
	if (peer->pub_close)
		peer->pub_close();
	rn->c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	rn->t1 = now_ns(CLOCK_MONOTONIC);
	getrusage(RUSAGE_SELF, &rn->self1);
	if (!rn->failed) {
		errno = 0;
		ctx = peer->replay_open();
		if (!ctx)
			hook_failed(rn, "replay_open", errno ? -errno : -EIO);
		getrusage(RUSAGE_SELF, &rn->rself0);
		rn->rc0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		rn->rt0 = now_ns(CLOCK_MONOTONIC);
		ret = peer->replay_start(ctx, &rn->since);
		rn->rtsub = now_ns(CLOCK_MONOTONIC);
		if (ret)
			hook_failed(rn, "replay_start", ret);
		replay_read(rn, ctx);
		rn->rt1 = now_ns(CLOCK_MONOTONIC);
		rn->rc1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		getrusage(RUSAGE_SELF, &rn->rself1);
	}
	if (peer->teardown)
		peer->teardown();
}

/* ------------------------------------------------------------------ report */

struct totals {
	uint64_t received, lost, lost_silent, lagrec, sub_calls, seqerr;
	uint64_t lat_max, lat_p50, lat_p99;
};

static uint64_t percentile(uint64_t total, double p, uint64_t max)
{
	uint64_t rank = (uint64_t)(p * total + 0.999999), sum = 0;

	if (!total)
		return 0;
	for (unsigned int b = 0; b < LAT_BUCKETS; b++) {
		sum += sh->hist[b];
		if (sum >= rank)
			return lat_value(b) < max ? lat_value(b) : max;
	}
	return max;
}

static void sum_subscribers(struct run *rn, struct totals *t)
{
	uint64_t nlat = 0;

	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < opt.m; i++) {
		struct sub_res *r = &sh->sub[i];

		t->received += r->received;
		t->lost += r->lost;
		t->lost_silent += r->lost_silent;
		t->lagrec += r->lag_records;
		t->sub_calls += r->syscalls;
		t->seqerr += r->seq_errors;
		if (!(opt.w == W_ISOLATION && i == 0) && r->lat_max > t->lat_max)
			t->lat_max = r->lat_max;
		if (r->error) {
			fprintf(stderr, "fanout: subscriber %u: %s\n", i,
				strerror(r->error));
			rn->failed = 1;
		}
	}
	if (sh->broker.error) {
		fprintf(stderr, "fanout: broker: %s\n", strerror(sh->broker.error));
		rn->failed = 1;
	}
	for (unsigned int b = 0; b < LAT_BUCKETS; b++)
		nlat += sh->hist[b];
	t->lat_p50 = percentile(nlat, 0.50, t->lat_max);
	t->lat_p99 = percentile(nlat, 0.99, t->lat_max);
}

static void report(struct run *rn)
{
	struct totals t;
	struct sub_res *s0 = &sh->sub[0];
	int iso = opt.w == W_ISOLATION, have_broker = rn->b0.ok && rn->b1.ok;
	int rp = opt.w == W_REPLAY;
	char hist[32], hcap[32], rpl[512], flow[512], lms[32];

	sum_subscribers(rn, &t);
	/* A lossless run loses nothing unless a wait ran out: a failure. */
	if (opt.lossless_ms >= 0 && !iso && (t.lost || t.lost_silent)) {
		fprintf(stderr, "fanout: %s: lossless readers lost %llu events "
			"(+%llu silently)\n", peer->name, ULL(t.lost),
			ULL(t.lost_silent));
		rn->failed = 1;
	}

	uint64_t deliveries = opt.n * opt.m;
	uint64_t wall = rn->t2 - rn->t0, pub_ns = rn->t1 - rn->t0;
	uint64_t pub_cpu = rn->c1 - rn->c0;
	uint64_t ch_cpu = tv_ns(rn->ch1.ru_utime) + tv_ns(rn->ch1.ru_stime) -
			  tv_ns(rn->ch0.ru_utime) - tv_ns(rn->ch0.ru_stime);
	uint64_t self_cpu = tv_ns(rn->self1.ru_utime) + tv_ns(rn->self1.ru_stime) -
			    tv_ns(rn->self0.ru_utime) - tv_ns(rn->self0.ru_stime);
	uint64_t broker_cpu = have_broker ? rn->b1.cpu_ns - rn->b0.cpu_ns : 0;
	long broker_ctx = have_broker ? (long)(rn->b1.ctx - rn->b0.ctx) : 0;
	long ctx_pub = (rn->self1.ru_nvcsw + rn->self1.ru_nivcsw) -
		       (rn->self0.ru_nvcsw + rn->self0.ru_nivcsw);
	long ctx_ch = (rn->ch1.ru_nvcsw + rn->ch1.ru_nivcsw) -
		      (rn->ch0.ru_nvcsw + rn->ch0.ru_nivcsw);
	long ctx = ctx_pub + ctx_ch + broker_ctx;
	uint64_t broker_calls = sh->broker.syscalls;
	uint64_t syscalls = rn->pub_calls + t.sub_calls + broker_calls;
	double ev_s, del_s, pub_ev_s = pub_ns ? opt.n * 1e9 / pub_ns : 0;

	if (rp) {
		/* The reader's figures, over the replay only. */
		wall = rn->rt1 - rn->rt0;
		self_cpu = rn->rc1 - rn->rc0;
		ctx = (rn->rself1.ru_nvcsw + rn->rself1.ru_nivcsw) -
		      (rn->rself0.ru_nvcsw + rn->rself0.ru_nivcsw);
		if (!wall)	/* failed before replaying: keep the JSON valid */
			wall = 1;
		snprintf(rpl, sizeof(rpl), "\"replay_since\":%llu,\"replay_ns\":%llu,"
			 "\"replay_subscribe_ns\":%llu,"
			 "\"replay_events_per_s\":%.1f,\"replay_ns_per_event\":%.2f,"
			 "\"replay_cpu_ns_per_event\":%.2f,\"replay_unflagged\":%llu,"
			 "\"replay_seq_errors\":%llu", ULL(rn->since), ULL(wall),
			 ULL(rn->rtsub - rn->rt0),
			 t.received * 1e9 / wall,
			 t.received ? (double)wall / t.received : 0.0,
			 t.received ? (double)self_cpu / t.received : 0.0,
			 ULL(rn->unflagged), ULL(rn->tseq_errors));
	} else {
		snprintf(rpl, sizeof(rpl), "\"replay_since\":null,\"replay_ns\":null,"
			 "\"replay_subscribe_ns\":null,\"replay_events_per_s\":null,\"replay_ns_per_event\":null,"
			 "\"replay_cpu_ns_per_event\":null,\"replay_unflagged\":null,"
			 "\"replay_seq_errors\":null");
	}
	ev_s = opt.n * 1e9 / wall;
	del_s = deliveries * 1e9 / wall;
	snprintf(hist, sizeof(hist), opt.history < 0 ? "null" : "%lld",
		 (long long)opt.history);
	snprintf(hcap, sizeof(hcap), bench_history_capacity < 0 ? "null" : "%lld",
		 (long long)bench_history_capacity);
	snprintf(lms, sizeof(lms), opt.lossless_ms < 0 ? "null" : "%lld",
		 (long long)opt.lossless_ms);
	if (bench_flow.stats)
		snprintf(flow, sizeof(flow), "\"rate_refused\":%llu,\"rate_waited\":%llu,"
			 "\"lossless_waits\":%llu,\"lossless_wait_ns\":%llu,"
			 "\"lossless_expired\":%llu,\"lossless_foreign\":%llu",
			 ULL(bench_flow.rate_refused), ULL(bench_flow.rate_waited),
			 ULL(bench_flow.lossless_waits),
			 ULL(bench_flow.lossless_wait_ns),
			 ULL(bench_flow.lossless_expired),
			 ULL(bench_flow.lossless_foreign));
	else
		snprintf(flow, sizeof(flow), "\"rate_refused\":null,\"rate_waited\":null,"
			 "\"lossless_waits\":null,\"lossless_wait_ns\":null,"
			 "\"lossless_expired\":null,\"lossless_foreign\":null");

	if (bench_broker_pid > 0 && !have_broker)
		fprintf(stderr, "fanout: cannot read broker %d from /proc\n",
			(int)bench_broker_pid);
	printf("{\"peer\":\"%s\",\"workload\":\"%s\",\"m\":%u,\"k\":%u,"
	       "\"payload\":%u,\"batch\":%u,\"n\":%llu,\"ok\":%s,"
	       "\"wall_ns\":%llu,\"publish_ns\":%llu,\"events_per_s\":%.1f,"
	       "\"deliveries\":%llu,\"received\":%llu,\"lost\":%llu,\"lag_records\":%llu,"
	       "\"seq_errors\":%llu,\"deliveries_per_s\":%.1f,"
	       "\"ns_per_delivery\":%.2f,\"pub_cpu_ns_per_event\":%.2f,"
	       "\"cpu_ns_per_delivery\":%.2f,\"broker_cpu_ns_per_event\":%.2f,"
	       "\"ctx_switches\":%ld,\"ctx_pub\":%ld,\"ctx_per_delivery\":%.4f,"
	       "\"syscalls\":%llu,\"syscalls_pub\":%llu,\"syscalls_sub\":%llu,"
	       "\"syscalls_broker\":%llu,\"syscalls_per_event\":%.4f,"
	       "\"pub_syscalls_per_event\":%.4f,",
	       opt.peer, opt.workload, opt.m, opt.k, opt.size, opt.batch,
	       ULL(opt.n), TF(!rn->failed), ULL(wall), ULL(pub_ns), ev_s,
	       ULL(deliveries), ULL(t.received), ULL(t.lost), ULL(t.lagrec),
	       ULL(t.seqerr), del_s, (double)wall / deliveries,
	       (double)pub_cpu / opt.n,
	       (double)(self_cpu + ch_cpu + broker_cpu) / deliveries,
	       (double)broker_cpu / opt.n, ctx, ctx_pub,
	       (double)ctx / deliveries, ULL(syscalls), ULL(rn->pub_calls),
	       ULL(t.sub_calls), ULL(broker_calls), (double)syscalls / opt.n,
	       (double)rn->pub_calls / opt.n);
	printf("\"lost_silent\":%llu,\"latency_p50_ns\":%llu,"
	       "\"latency_p99_ns\":%llu,\"latency_max_ns\":%llu,"
	       "\"pub_events_per_s\":%.1f,\"broker\":%s,\"broker_ctx\":%ld,"
	       "\"uring\":%s,\"wake_events\":%u,\"wake_delay_ns\":%llu,"
	       "\"ring\":%u,\"rate\":%u,\"stall_ms\":%u,\"stalled\":%s,"
	       "\"stopped_received\":%llu,\"stopped_lost\":%llu,"
	       "\"stopped_lost_silent\":%llu,\"received_per_s\":%.1f,"
	       "\"ns_per_received\":%.2f,\"policy_rules\":%u,"
	       "\"filter_insns\":%u,\"mmap\":%s,\"history\":%s,"
	       "\"history_capacity\":%s,\"pub_ns_per_event\":%.2f,%s,"
	       "\"rate_limits\":%s,\"lossless_ms\":%s,%s}\n",
	       ULL(t.lost_silent), ULL(t.lat_p50), ULL(t.lat_p99),
	       ULL(t.lat_max), pub_ev_s, TF(have_broker), broker_ctx,
	       TF(opt.uring), opt.wake_events, ULL(opt.wake_delay_ns), opt.ring,
	       opt.w == W_LATENCY ? opt.rate : 0, iso ? stall_ms : 0,
	       TF(stall_fired), ULL(iso ? s0->received : 0),
	       ULL(iso ? s0->lost : 0), ULL(iso ? s0->lost_silent : 0),
	       t.received * 1e9 / wall,
	       t.received ? (double)wall / t.received : 0.0,
	       bench_policy_rules, bench_filter_insns, TF(opt.mmap), hist, hcap,
	       (double)pub_ns / opt.n, rpl, TF(opt.rate_limits), lms, flow);
	if (opt.quiet)
		return;
	if (rp) {
		fprintf(stderr,
			"%-6s %-11s %5uB N=%-6llu history %s  publish %8.1f ns/ev "
			"(pub CPU %.1f)  replay %11.0f ev/s %8.1f ns/ev  "
			"CPU %.1f ns/ev  subscribe %llu ns  ctx %ld  lost %llu+%llu silent%s\n",
			opt.peer, opt.workload, opt.size, ULL(opt.n), hcap,
			(double)pub_ns / opt.n, (double)pub_cpu / opt.n, ev_s,
			(double)wall / opt.n, (double)self_cpu / opt.n,
			ULL(rn->rtsub - rn->rt0), ctx,
			ULL(t.lost), ULL(t.lost_silent),
			rn->failed ? "  FAILED" : "");
		return;
	}
	fprintf(stderr,
		"%-6s %-11s M=%-3u K=%-4u %5uB batch=%-3u N=%-6llu %11.0f deliv/s "
		"%9.1f ns/deliv  pub %8.1f ns/ev  ctx/deliv %.4f  sys/ev %.3f  "
		"lat p50/p99/max %llu/%llu/%llu ns  lost %llu+%llu silent%s%s%s%s%s\n",
		opt.peer, opt.workload, opt.m, opt.k, opt.size, opt.batch,
		ULL(opt.n), del_s, (double)wall / deliveries,
		(double)pub_cpu / opt.n, (double)ctx / deliveries,
		(double)syscalls / opt.n, ULL(t.lat_p50), ULL(t.lat_p99),
		ULL(t.lat_max), ULL(t.lost), ULL(t.lost_silent),
		stall_fired ? "  STALLED" : "", rn->failed ? "  FAILED" : "",
		opt.mmap ? "  (mmap)" : "",
		opt.rate_limits ? "  (rate limits)" : "",
		opt.lossless_ms >= 0 ? "  (lossless)" : "");
	if (opt.lossless_ms >= 0 && bench_flow.stats)
		fprintf(stderr, "       lossless %lld ms: the publisher waited %llu times, "
			"%llu ns in all; %llu lost after a wait, %llu for a foreign "
			"publisher\n", (long long)opt.lossless_ms,
			ULL(bench_flow.lossless_waits),
			ULL(bench_flow.lossless_wait_ns),
			ULL(bench_flow.lossless_expired),
			ULL(bench_flow.lossless_foreign));
	if (iso)
		fprintf(stderr, "       stopped subscriber 0: received %llu, lost %llu, "
			"lost silently %llu; publisher %.0f events/s\n",
			ULL(s0->received), ULL(s0->lost), ULL(s0->lost_silent),
			pub_ev_s);
}

int main(int argc, char **argv)
{
	static struct run rn;
	void **payload;

	parse(argc, argv);
	if (opt.reset) {
		int ret = peer->reset ? peer->reset() : 0;

		if (ret)
			fprintf(stderr, "fanout: %s: reset: %s\n", peer->name,
				strerror(-ret));
		return ret ? 1 : 0;
	}
	check_peer();
	replay_history();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);	/* a dead reader: EPIPE, not death */
	bench_raise_nofile(2 * opt.k + 4 * opt.m + 64);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bench_die("mmap");
	bench_broker_res = &sh->broker;
	payload = calloc(opt.batch, sizeof(*payload));
	for (unsigned int i = 0; payload && i < opt.batch; i++) {
		payload[i] = aligned_alloc(8, ALIGN8(opt.size));
		if (!payload[i])
			break;
		memset(payload[i], 0xa5, opt.size);
	}
	if (!payload || !payload[opt.batch - 1])
		bench_die("payload buffers");
	if (opt.w == W_REPLAY)
		run_replay(&rn, payload);
	else
		run(&rn, payload);
	report(&rn);
	return rn.failed;
}
