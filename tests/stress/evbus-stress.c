// SPDX-License-Identifier: GPL-2.0
/*
 * evbus-stress: randomized multi-process stress test of /dev/evbus with
 * exact, end-to-end accounting of every event.
 *
 * README
 * ------
 *   make stress                      (tests/stress/stress.mk; VM, 120 s)
 *   tests/vm/run -- build/stress/evbus-stress --duration 20
 *   tests/vm/run --debug -- build/stress/evbus-stress --faults --duration 30
 *
 * Options (defaults in brackets):
 *   --publishers P       publisher processes [3]
 *   --subscribers S      subscriber processes [5]
 *   --events N           events per publisher in total (0: unlimited) [0]
 *   --duration SECS      wall-clock budget (0: unlimited) [30 unless --events]
 *   --round-secs SECS    length of one round [10]
 *   --round-events N     events per publisher per round, at most [200000]
 *   --seed X             PRNG seed [time-based, printed]
 *   --faults             fault injection (failslab/fail_page_alloc, debug kernel)
 *   --fault-probability P  percent for --faults [10]
 *   --efault-batches PCT percent of publisher calls that are EVBUS_BATCH_SEQ
 *                        batches with read-only descriptors [2]
 *   --no-sysfs           skip the /sys/kernel/evbus/stats checks
 *   --no-history         no replaying or retained subscribers, no retained
 *                        publishes, the bus's history left alone
 *   --no-lossless        no lossless subscribers (#17)
 *   --no-rate            no rate-limited publishers (#17)
 *   --verbose            per-process details
 *
 * The run is a sequence of rounds.  Each round forks S subscribers and P
 * publishers with fresh random configurations, lets them run for up to
 * --round-secs (or --round-events), drains and closes everything, and then
 * the parent checks the round.  Rounds repeat until --duration or --events
 * is used up.  Rounds keep the memory bounded (every event is recorded) and
 * vary the configurations: patterns, ring sizes, policies, reader styles.
 *
 * Subscribers: 1-3 patterns over the topic space st.{a..d}.{0..3}[.z]
 * with '*' and '>' wildcards (sometimes overlapping, sometimes matching
 * nothing), a ring of 4 KiB..1 MiB (power of two or not, or the default),
 * drop-oldest or drop-newest, and a reader style: poll, epoll, blocking
 * read() interrupted by a 20 ms itimer, or a nonblocking spin.  Reads use
 * random buffer sizes, sometimes too small (EINVAL), readv() with random
 * splits, buffers whose pages were just dropped (fault-in and retry path)
 * and buffers that run into a PROT_NONE page (EFAULT or a short read).
 * Reader profiles: fast, slow (short sleeps), stalling (50-300 ms stalls)
 * and abandoning (stops reading at a random point and closes with records
 * still queued).  Subscribers flip their policy now and then and try to
 * resize their ring (EBUSY unless empty).
 *
 * Publishers: single EVBUS_IOC_PUBLISH or EVBUS_IOC_PUBLISH_BATCH of 1..64
 * events with EVBUS_BATCH_SEQ; payloads of 0..4096 bytes that encode the
 * publisher, the event index and a checksum (a 16-byte header and a
 * trailing FNV-1a for payloads of 24 bytes and more; the rest of the
 * payload is a keyed pseudo-random stream; type/corr/parent carry the
 * publisher, topic, index and a checksum of the whole payload too).  Every
 * published (seq, index, topic, length) is logged into shared memory.
 *
 * History, replay and retained values (#15; not with --no-history, nor
 * on a module without them): before each round the parent clears every
 * retained value on the bus, sets the bus's history to 1 MiB, 256 KiB,
 * 64 KiB, 16 KiB or 4 KiB (EVBUS_HISTORY_SET, which empties it, so nothing
 * replayed is from an earlier round) and notes the next seq.  Publishers
 * make 0, 5 or 25% of their publishes retained (EVBUS_PUB_RETAIN; 15% of
 * those without a payload: clears).  A third of the subscribers (at least
 * one a round) reach into the past, subscribing only some time (0..60% of the round) after
 * the publishers start: with EVBUS_SUB_SINCE on each of their patterns
 * (each from the next seq, a little or a lot before it, or the round's
 * first seq), with EVBUS_SUB_LAST (1..8, up to 300, or a million events)
 * or EVBUS_SUB_RETAINED on their one pattern; a third of them on ">" or
 * "st.>", every topic, so that no seq may go missing.  They never abandon,
 * and read until their file is live and empty (a file catching up is
 * always readable to poll()).
 *
 * Rate limits and lossless rings (#17; not with --no-rate, --no-lossless,
 * nor on a module without them).  Every round, a third of the publishers
 * (at least one) limit their own file (EVBUS_RATE_FILE: 500..20500
 * events/s with a burst of 1..64, half of them 1..16 MiB/s of payload with
 * a burst of 64 KiB..1 MiB, so every payload fits) once the round starts;
 * most of them publish with EVBUS_PUB_WAIT and a deadline of 0.5..1.5 s,
 * a third of those with a 20 ms itimer (no SA_RESTART) that interrupts
 * their waits (EINTR), the others are refused (EAGAIN).  A refused or
 * interrupted publish (or the tail of a batch) is not logged, so the
 * conservation checks prove it reached nobody.  Rounds take turns: no
 * lossless subscribers; about half the subscribers that do not replay (at
 * least one) lossless and keeping up (fast or slow readers, a wait of 5 s:
 * every publisher has their uid and waits for them); or lossless and
 * stalling or abandoning (at least one), with a short wait (1..30 ms,
 * 1..5 ms when abandoning) and a ring of 8..64 KiB, so they lose events.
 * A lossless ring keeps its policy (a flip sets it lossless again) and at
 * least 8 KiB (an event of 4 KiB always fits).
 *
 * Checks, for every subscriber of every round:
 *   (a) every delivered event is well formed (lengths, padding, NUL,
 *       flags), matches one of the subscriber's patterns, carries exactly
 *       the payload its publisher sent (no half-delivered or mixed event),
 *       the sender's pid/tid/uid/gid, and its (seq, topic, index) is what
 *       the publisher logged for that seq;
 *   (b) seqs strictly increase (no duplicates), mono_ns never decreases;
 *   (c) each LAGGED record lies strictly between the neighbouring
 *       delivered seqs (and after any earlier LAGGED record), its first
 *       and last seq are matching published events, and 'lost' is exactly
 *       the number of this subscriber's matching events in [first,last];
 *   (d) every matching published event is delivered exactly once or
 *       reported lost: delivered + sum(lost) == matching (for abandoning
 *       subscribers: + queued + lost-not-yet-reported, from EVBUS_IOC_STATS);
 *   and the file's EVBUS_IOC_STATS agree (delivered, lost, lag_records,
 *   nothing queued after draining);
 *   (l) #17: a lossless subscriber of a round where they keep up loses
 *       nothing (no LAGGED record, STATS lost 0); one that stalls is
 *       checked as any other, (c) and (d) exactly;
 *   (e) for a subscriber reaching into the past, instead (verify_past()):
 *       every event one of its subscriptions takes from its start on
 *       (SINCE: its since; LAST: where the stream starts; RETAINED: the
 *       join) is delivered once, as published, or lies inside a LAGGED
 *       record, seqs strictly increasing; replayed or retained events and
 *       LAGGED records with EVBUS_LAGGED_HISTORY come before live events;
 *       a LAGGED record without HISTORY counts exactly the expected events
 *       of its range, one with it at least those and at most the range;
 *       LAST starts at most last_k matching events before the call and at
 *       least as many as the history held; each retained value is its
 *       topic's newest retained publish before the call (or one made
 *       during it), once, and every topic that had one gets it or loses it
 *       in a LAGGED record; fdinfo says the file is live after draining.
 * Per round, globally (unless --no-sysfs; nobody else may use evbus then):
 *   /sys/kernel/evbus/stats moved exactly: published, published_bytes,
 *   deliveries (= sum over events of matching subscribers), lost,
 *   read_events, read_bytes, lag_records, publish_err_* and ioctl_errors
 *   as counted by the processes; queued_events, queued_bytes, open_files,
 *   subscriptions and ring_bytes back to their start values (a past
 *   subscriber counts as deliveries what it was given: read, lost and
 *   queued); replayed moved by at least the replayed events read and at
 *   most those plus what the replaying subscribers lost or left queued.
 *   #17: publish_err_other moved by the refused and interrupted publishes
 *   (and batches), rate_refused_file and rate_interrupted by those seen
 *   (plus at most one per call that failed otherwise after staging: a
 *   read-only descriptor, ENOMEM), rate_waited by the publishers' GETs'
 *   waited, lossless_expired by exactly what the lossless subscribers
 *   lost (STATS), rate_refused_user and lossless_foreign not at all.
 * Every rate-limited publisher (#17): GET shows its limit and full
 *   buckets when set; it published at most a burst plus the rate times
 *   the time since (events and payload bytes); EAGAIN for a publisher that
 *   waits only after half its deadline went by; GET at the end: the limit,
 *   refusals as seen (see above), tokens within a burst of 0.
 * Every publisher: seqs strictly increase, batches report consistent
 * first_seq/published/error/error_index, EVBUS_IOC_STATS.published agrees.
 * At the end the bus's history gets its capacity found at start back, and
 * no retained value is left on it.
 *
 * Output: a block per round, totals, and "stress: N passed, N failed"
 * (N counts checks: one per subscriber, per publisher and per round's
 * global counters).  Exit status: 0 all passed, 1 a check failed,
 * 2 usage, 3 setup (no /dev/evbus, fork, memory), 4 --faults requested
 * but fault injection is not available (needs the debug kernel:
 * tests/vm/run --debug).
 *
 * --faults: failslab and fail_page_alloc in debugfs are set to fail with
 * the given probability (task-filter=Y, interval 1, times -1, verbose 0,
 * ignore-gfp-wait=N, fail_page_alloc also ignore-gfp-highmem=N and
 * min-order 0), and every process writes 1 to /proc/self/make-it-fail just
 * before each evbus open()/ioctl() and 0 just after, so only evbus calls
 * see allocation failures.  ENOMEM is then an allowed outcome of open,
 * SUBSCRIBE, SET_RING and PUBLISH(_BATCH) (counted and printed); a failed
 * publish is not logged, so the conservation checks prove it reached
 * nobody, and a batch that returns n < count must have published exactly
 * n.  Any other error is a failure.  Injection is switched off and the
 * previous debugfs values restored at the end (also on SIGINT/SIGTERM).
 *
 * Bugs this test found, fixed in the module (reproducers stay in
 * tests/stress/batch-repro.c and replay-repro.c):
 *   1. a batch with read-only descriptors and EVBUS_BATCH_SEQ published
 *      events the caller was told were not published (--efault-batches);
 *   2. a batch failing at its first event was not counted in sysfs
 *      ioctl_errors (an unsigned conditional in the return path);
 *   3. a single publish with a read-only struct was delivered, then
 *      reported as EFAULT;
 *   4. a replay (EVBUS_SUB_SINCE, _LAST) that met in the history an event
 *      larger than the reader's whole ring never got past it, so the file
 *      caught up for ever, always readable with nothing to read (fixed in
 *      d1cd518; tests/stress/replay-repro.c).  A subscriber stuck so 20 s
 *      after the publishers stopped is reported as such.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "evbus_test.h"
#include "evbus_mmap.h"

/* ------------------------------------------------------------ constants */

#define MAXP		32
#define MAXS		64
#define MAXPAT		3
#define PATLEN		48
#define NTOPICS		32		/* st.{a..d}.{0..3} and st.{a..d}.{0..3}.z */
#define TOPICLEN	16
#define PAYLOAD_MAX	4096
#define BATCH_MAX	64
#define EV_HDR		((uint32_t)sizeof(struct evbus_event))
#define LAG_LEN		((uint32_t)sizeof(struct evbus_lagged))
/* The largest event record: 80 + ALIGN(strlen("st.a.0.z") + 1) + 4096. */
#define MAXREC		(EV_HDR + 16 + PAYLOAD_MAX)
#define READBUF_MAX	(256 * 1024)
#define GUARD_SPAN	(16 * 1024)
#define MAGIC		0x45565354u	/* "EVST" */
#define TYPE_MAGIC	0x53000000u

#define SREC_EVENT	1
#define SREC_LAG	2

/* ------------------------------------------------------------------ rng */

struct rng {
	uint64_t s;
};

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) *
		     0xbf58476d1ce4e5b9ULL ^ c * 0x94d049bb133111ebULL;

	splitmix64(&s);
	return splitmix64(&s);
}

static uint32_t rnd(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(splitmix64(&r->s) % n) : 0;
}

static bool chance(struct rng *r, uint32_t pct_x10)	/* per mille */
{
	return rnd(r, 1000) < pct_x10;
}

/* ------------------------------------------------------------- helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_us(uint32_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int load_int(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_int(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint32_t fnv32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

static const char *policy_name(uint32_t p)
{
	return p == EVBUS_POLICY_LOSSLESS ? "lossless" :
	       p == EVBUS_POLICY_DROP_NEWEST ? "drop-newest" : "drop-oldest";
}

/* -------------------------------------------------------- fault inject */

static int mif_fd = -1;			/* /proc/self/make-it-fail, per process */
static char mif_on_buf[2], mif_off_buf[2];	/* written at runtime: resident */

static void mif_open(void)
{
	mif_on_buf[0] = '1';
	mif_off_buf[0] = '0';
	mif_fd = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
}

static void mif_set(bool on)
{
	if (mif_fd < 0)
		return;
	for (int tries = 0; tries < 100; tries++) {
		if (write(mif_fd, on ? mif_on_buf : mif_off_buf, 1) == 1)
			return;
	}
	fprintf(stderr, "stress: cannot write /proc/self/make-it-fail: %m\n");
	_exit(3);
}

/* An evbus ioctl with fault injection armed around it (when enabled). */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int r, e;

	mif_set(true);
	r = ioctl(fd, req, arg);
	e = errno;
	mif_set(false);
	errno = e;
	return r;
}

static int xopen(bool nonblock)
{
	int fd, e;

	mif_set(true);
	fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
	e = errno;
	mif_set(false);
	errno = e;
	return fd;
}

/* --------------------------------------------------------------- topics */

static void topic_name(int t, char *out)
{
	if (t < 16)
		snprintf(out, TOPICLEN, "st.%c.%d", 'a' + t / 4, t % 4);
	else
		snprintf(out, TOPICLEN, "st.%c.%d.z", 'a' + (t - 16) / 4, (t - 16) % 4);
}

/* Reference matcher: '*' one segment, trailing '>' one or more. */
static bool pattern_match(const char *pat, const char *topic)
{
	const char *p = pat, *t = topic;

	for (;;) {
		const char *pe = strchrnul(p, '.'), *te = strchrnul(t, '.');
		size_t pl = pe - p, tl = te - t;

		if (pl == 1 && *p == '>' && !*pe)
			return true;	/* t is a remaining (nonempty) segment */
		if (!(pl == 1 && *p == '*') && (pl != tl || memcmp(p, t, pl)))
			return false;
		if (!*pe || !*te)
			return !*pe && !*te;
		p = pe + 1;
		t = te + 1;
	}
}

static void gen_pattern(struct rng *r, char *out)
{
	static const char seg4[] = { 'z', '*', '>' };
	char s2, s3;
	int n;

	switch (rnd(r, 20)) {
	case 0:
		strcpy(out, "st.>");
		return;
	case 1:
		strcpy(out, "*.>");
		return;
	case 2:
		strcpy(out, rnd(r, 2) ? "st.e.>" : "other.*.0");	/* nothing */
		return;
	case 3:
		strcpy(out, "*.*.*");
		return;
	}
	n = rnd(r, 10);
	s2 = n < 7 ? 'a' + rnd(r, 4) : n < 9 ? '*' : '>';
	if (s2 == '>') {
		strcpy(out, "st.>");
		return;
	}
	n = rnd(r, 20);
	s3 = n < 12 ? '0' + rnd(r, 4) : n < 17 ? '*' : '>';
	if (s3 == '>' || rnd(r, 10) >= 3) {
		snprintf(out, PATLEN, "%s.%c.%c", rnd(r, 12) ? "st" : "*", s2, s3);
		return;
	}
	snprintf(out, PATLEN, "st.%c.%c.%c", s2, s3, seg4[rnd(r, 3)]);
}

/* ------------------------------------------------------------- payload */

/*
 * The payload of (pub, idx): a keyed pseudo-random stream; from 24 bytes
 * on, a header {magic, pub, topic, idx} and a trailing FNV-1a of the rest.
 */
static void gen_payload(uint8_t *buf, uint32_t len, uint32_t pub, uint32_t idx,
			uint32_t topic)
{
	uint64_t s = mix3(pub, idx, topic ^ ((uint64_t)len << 8));
	uint32_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = splitmix64(&s);

		memcpy(buf + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = splitmix64(&s);

		memcpy(buf + i, &v, len - i);
	}
	if (len >= 24) {
		uint32_t m = MAGIC, h;
		uint16_t p16 = pub, t16 = topic;
		uint64_t i64 = idx;

		memcpy(buf, &m, 4);
		memcpy(buf + 4, &p16, 2);
		memcpy(buf + 6, &t16, 2);
		memcpy(buf + 8, &i64, 8);
		h = fnv32(buf, len - 4);
		memcpy(buf + len - 4, &h, 4);
	}
}

static uint64_t payload_sum(const uint8_t *buf, uint32_t len)
{
	return fnv64(buf, len) ^ ((uint64_t)len << 48);
}

static uint32_t pick_len(struct rng *r, uint32_t max)
{
	uint32_t n = rnd(r, 100), len;

	if (n < 3)
		len = 0;
	else if (n < 6)
		len = max;
	else if (n < 45)
		len = rnd(r, 65);
	else if (n < 85)
		len = 65 + rnd(r, 960);
	else
		len = 1025 + rnd(r, 3072);
	return len > max ? max : len;
}

/* --------------------------------------------------------- shared state */

/* One published event, as its publisher logged it. */
struct pubrec {
	uint64_t seq;
	uint32_t idx;
	uint16_t topic;		/* | PUBREC_RETAIN: published with EVBUS_PUB_RETAIN */
	uint16_t len;
};
#define PUBREC_RETAIN	0x8000u

/* One record as a subscriber read it. */
struct srec {
	uint64_t a;		/* EVENT: seq          LAG: first_seq */
	uint64_t b;		/* EVENT: pub<<32|idx  LAG: last_seq */
	uint64_t c;		/* EVENT: topic<<32|len LAG: lost */
	uint32_t kind;
	uint32_t flags;		/* the record's flags (EVBUS_EVENT_*, EVBUS_LAGGED_*) */
};

enum { MODE_POLL, MODE_EPOLL, MODE_BLOCK, MODE_SPIN, NMODES };
/* Subscribers that reach into the past (#15), late in the round. */
enum { PAST_NONE, PAST_SINCE, PAST_LAST, PAST_RETAINED, NPAST };
static const char *const past_names[] = { "", "since", "last", "retained" };
enum { PROF_FAST, PROF_SLOW, PROF_STALL, PROF_ABANDON, NPROFS };
static const char *const mode_names[] = { "poll", "epoll", "block", "spin" };
static const char *const prof_names[] = { "fast", "slow", "stalling", "abandoning" };

struct sub_cfg {
	int npat;
	char pat[MAXPAT][PATLEN];
	uint32_t ring_req;	/* 0: keep the default size */
	uint32_t policy;
	int mode;
	int prof;
	uint32_t read_max;	/* largest read() size */
	uint32_t abandon_after;	/* reads before an abandoning reader stops */
	int mmap;		/* also takes records through the mapped ring */
	uint64_t seed;
	/* #15: PAST_*, subscribed delay_pct% of the round after the publishers
	 * start; SINCE: each pattern since_back[p] seqs before the next one
	 * (-1: from the round's first seq); LAST: last_k events */
	int past;
	int delay_pct;
	int since_back[MAXPAT];
	uint32_t last_k;
	/* #17: a lossless ring's wait_ns (0: drop-oldest/-newest as policy) */
	uint64_t wait_ns;
};

/*
 * Rounds with lossless subscribers (#17), by turns: none; readers that keep
 * up (fast or slow, a long wait: none may lose anything); and readers that
 * stall or abandon, with a short wait (what they lose is exact, and is
 * what lossless_expired counts: every publisher has their uid).
 */
enum { LL_NONE, LL_KEEPUP, LL_STALL, NLL };
static const char *const ll_names[] = { "none", "keeping up", "stalling" };
#define LL_KEEPUP_WAIT_NS	5000000000ULL

/* A publisher's file limit (#17), and how it publishes against it. */
struct pub_cfg {
	int rate;		/* EVBUS_RATE_FILE set on its file */
	struct evbus_rate_limit lim;
	int wait;		/* EVBUS_PUB_WAIT with deadline_ns */
	uint64_t deadline_ns;
	int intr;		/* a 20 ms itimer interrupts its waits (EINTR) */
};

struct sub_res {
	int ready;
	int pat_ok[MAXPAT];
	uint32_t ring_size;	/* GET_RING after setup */
	uint32_t ring_policy;
	uint64_t n;		/* records in the stream */
	uint64_t delivered, lost_reported, lags, read_bytes;
	uint64_t reads, read_calls, eagain, eintr;
	uint64_t small_einval, readv_calls, dontneed_reads, guard_reads, guard_efault;
	uint64_t map_takes, map_taken_back;
	uint64_t policy_flips, resize_ok, resize_ebusy;
	uint64_t enomem_open, enomem_sub, enomem_ring, ioctl_fail;
	uint64_t errors;	/* integrity failures seen while reading */
	int drained;		/* 0: abandoned, queued records left at close */
	int fatal;
	struct evbus_stats st;	/* just before close */
	/* #15, past subscribers: each pattern's since, the next seq just
	 * before and just after subscribing (and the oldest held after) */
	uint64_t since[MAXPAT];
	uint64_t next_before, next_after, oldest_after;
	uint64_t replayed, retained;	/* such events read */
	int still_replaying;	/* fdinfo said so after draining */
	char err[512];
};

struct pub_res {
	uint64_t n;		/* records logged */
	uint64_t calls_single, calls_batch, ev_single, ev_batch, payload_bytes;
	uint64_t enomem_open, enomem_single, enomem_batch, partial_batches;
	uint64_t batch_nowriteback;	/* failed batch left the header unwritten */
	uint64_t batch_first_fail;	/* failed batch that wrote its header back */
	uint64_t efault_batches;
	uint64_t retain_pubs, retain_clears;	/* EVBUS_PUB_RETAIN, with and without a payload */
	uint64_t ioctl_fail, pub_err_enomem, pub_err_efault;
	/* #17: refused (EAGAIN) and interrupted (EINTR) publishes of a
	 * rate-limited file, counted in publish_err_other; GET at the end */
	uint64_t refused, interrupted, pub_err_other;
	/*
	 * Calls that failed for another reason (a read-only descriptor, or
	 * ENOMEM under --faults) after staging may have hidden one refusal or
	 * interruption of a later event of theirs (the module counts it as it
	 * stages): the counters lie between what was seen and that many more.
	 */
	uint64_t rate_hidden;
	struct evbus_rate rt;
	uint64_t errors;
	int fatal;
	struct evbus_stats st;
	char err[512];
};

struct shared {
	int ready;
	int go;
	int done;
	int pad;
	uint64_t deadline_ns;	/* publishers stop here */
	uint64_t target;	/* events per publisher this round */
	uint64_t round_ns;	/* the round's length */
	uint64_t round_base;	/* #15: the seq of the round's first event */
	uint64_t hist_cap;	/* #15: the history's capacity this round */
	int retain_pct;		/* #15: publishes with EVBUS_PUB_RETAIN, percent */
	int ll_mode;		/* #17: LL_* */
	struct pub_cfg pcfg[MAXP];
	pid_t pub_pid[MAXP];
	struct sub_cfg scfg[MAXS];
	struct sub_res sres[MAXS];
	struct pub_res pres[MAXP];
};

/* ------------------------------------------------------------- options */

static struct {
	int pubs, subs;
	uint64_t events;
	double duration;
	double round_secs;
	uint64_t round_events;
	uint64_t seed;
	bool faults;
	int fault_prob;
	int efault_pct;
	bool sysfs;
	bool verbose;
	bool history;		/* #15: history, replay, retained values */
	bool lossless, rate;	/* #17: lossless subscribers, rate-limited publishers */
	uint64_t hist_cap0;	/* the history's capacity found, put back at the end */
	uint32_t max_payload;	/* min(PAYLOAD_MAX, the module's) */
	uint32_t ring_min, ring_max;
} opt = {
	.pubs = 3, .subs = 5, .round_secs = 10, .round_events = 200000,
	.fault_prob = 10, .sysfs = true, .efault_pct = 2, .history = true,
	.lossless = true, .rate = true,
};

/* Per-round layout. */
static struct shared *sh;
static struct pubrec *plog;	/* [MAXP][pcap] */
static struct srec *slog;	/* [MAXS][scap] */
static uint64_t pcap, scap;

/* Record a failure message in a child's result (first one wins). */
static void child_err(char *buf, uint64_t *count, const char *fmt, ...)
{
	va_list ap;

	if ((*count)++ == 0) {
		va_start(ap, fmt);
		vsnprintf(buf, 512, fmt, ap);
		va_end(ap);
	}
}

/* ----------------------------------------------------------- publisher */

struct pub_ctx {
	int id, fd;
	struct rng rng;
	const struct pub_cfg *cfg;	/* #17: its rate limit */
	struct pub_res *res;
	struct pubrec *log;
	char topics[NTOPICS][TOPICLEN];
	uint8_t *payload;		/* [BATCH_MAX][PAYLOAD_MAX] */
	struct evbus_pub *descs;	/* [BATCH_MAX] */
	struct evbus_pub *ro_descs;	/* one page, read-only while in use */
	uint32_t next_idx;
	uint64_t last_seq;
};

#define PERR(c, ...) child_err((c)->res->err, &(c)->res->errors, __VA_ARGS__)

static void pub_fill(struct pub_ctx *c, struct evbus_pub *d, uint8_t *pl,
		     uint32_t idx)
{
	uint32_t t = rnd(&c->rng, 100) < 20 ? rnd(&c->rng, 4) : rnd(&c->rng, NTOPICS);
	uint32_t len = pick_len(&c->rng, opt.max_payload);
	/* #15: a retained value, set or replaced, or cleared (no payload). */
	bool retain = sh->retain_pct && (int)rnd(&c->rng, 100) < sh->retain_pct;

	if (retain && rnd(&c->rng, 100) < 15)
		len = 0;
	gen_payload(pl, len, c->id, idx, t);
	memset(d, 0, sizeof(*d));
	if (retain)
		d->flags = EVBUS_PUB_RETAIN;
	/* #17: waiting for the tokens of its rate-limited file */
	if (c->cfg->wait) {
		d->flags |= EVBUS_PUB_WAIT;
		d->deadline_ns = c->cfg->deadline_ns;
	}
	d->topic = (uintptr_t)c->topics[t];
	d->topic_len = strlen(c->topics[t]);
	d->payload = (uintptr_t)pl;
	d->payload_len = len;
	d->type = TYPE_MAGIC | (c->id << 8) | t;
	d->corr = idx;
	d->parent = payload_sum(pl, len);
	d->seq = 0xdeadbeefdeadbeefULL;
}

static void pub_log(struct pub_ctx *c, const struct evbus_pub *d, uint64_t seq)
{
	struct pubrec *r;

	if (seq <= c->last_seq || seq == 0xdeadbeefdeadbeefULL)
		PERR(c, "publisher %d: seq %" PRIu64 " after %" PRIu64, c->id, seq,
		     c->last_seq);
	c->last_seq = seq;
	if (c->res->n >= pcap) {
		PERR(c, "publisher %d: log full", c->id);
		return;
	}
	r = &c->log[c->res->n];
	r->seq = seq;
	r->idx = (uint32_t)d->corr;
	r->topic = (d->type & 0xff) | (d->flags & EVBUS_PUB_RETAIN ? PUBREC_RETAIN : 0);
	r->len = d->payload_len;
	if (d->flags & EVBUS_PUB_RETAIN) {
		c->res->retain_pubs++;
		c->res->retain_clears += !d->payload_len;
	}
	c->res->payload_bytes += d->payload_len;
	/* Publish the record before the count (the parent reads after wait). */
	__atomic_store_n(&c->res->n, c->res->n + 1, __ATOMIC_RELEASE);
}

/*
 * A publish of a rate-limited file (#17) refused (EAGAIN) or interrupted
 * while it waited for tokens (EINTR), after t ns in the call: counted, and
 * true if its file may give that.  One that waits gets EAGAIN only when
 * the tokens are further off than its deadline: only after a call that
 * took half of it (TCG's sleeps overrun).
 */
static bool pub_rate_err(struct pub_ctx *c, int e, uint64_t t)
{
	if (!c->cfg->rate || (e != EAGAIN && e != EINTR))
		return false;
	if (e == EINTR && !(c->cfg->intr && c->cfg->wait))
		return false;
	if (e == EAGAIN && c->cfg->wait && t < c->cfg->deadline_ns / 2)
		PERR(c, "publisher %d: EAGAIN %.3f ms into a call waiting up to %.3f ms for tokens",
		     c->id, t / 1e6, c->cfg->deadline_ns / 1e6);
	if (e == EAGAIN)
		c->res->refused++;
	else
		c->res->interrupted++;
	c->res->pub_err_other++;
	return true;
}

static void pub_single(struct pub_ctx *c)
{
	struct evbus_pub *d = &c->descs[0];
	uint64_t t0;

	pub_fill(c, d, c->payload, c->next_idx++);
	c->res->calls_single++;
	t0 = now_ns();
	if (xioctl(c->fd, EVBUS_IOC_PUBLISH, d)) {
		c->res->ioctl_fail++;
		if (pub_rate_err(c, errno, now_ns() - t0))
			return;
		if (errno == ENOMEM && opt.faults) {
			c->res->enomem_single++;
			c->res->pub_err_enomem++;
			return;
		}
		PERR(c, "publisher %d: EVBUS_IOC_PUBLISH: %s", c->id, strerror(errno));
		return;
	}
	c->res->ev_single++;
	pub_log(c, d, d->seq);
}

static void pub_batch(struct pub_ctx *c, bool ro)
{
	uint32_t n = rnd(&c->rng, 100) < 15 ? BATCH_MAX : 1 + rnd(&c->rng, BATCH_MAX);
	struct evbus_pub *descs = ro ? c->ro_descs : c->descs;
	struct evbus_pub_batch b;
	uint64_t t0;
	int ret, e;

	if (ro) {
		n = 2 + rnd(&c->rng, 4096 / sizeof(*descs) - 1);	/* <= BATCH_MAX */
		if (mprotect(descs, 4096, PROT_READ | PROT_WRITE)) {
			PERR(c, "mprotect: %m");
			return;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		pub_fill(c, &descs[i], c->payload + (size_t)(i % BATCH_MAX) * PAYLOAD_MAX,
			 c->next_idx++);
	if (ro && mprotect(descs, 4096, PROT_READ)) {
		PERR(c, "mprotect: %m");
		return;
	}
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)descs;
	b.count = n;
	b.flags = EVBUS_BATCH_SEQ;
	b.first_seq = 0xdeadbeefdeadbeefULL;
	b.published = 0xdeadbeef;
	b.error = 0x7eadbeef;
	b.error_index = 0xdeadbeef;
	c->res->calls_batch++;
	t0 = now_ns();
	ret = xioctl(c->fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	e = errno;
	t0 = now_ns() - t0;

	if (ro) {
		c->res->efault_batches++;
		c->res->ioctl_fail++;
		/* Under --faults the batch may fail before its seq probe. */
		if (ret == -1 && e == ENOMEM && opt.faults) {
			c->res->enomem_batch++;
			c->res->pub_err_enomem++;
			c->res->rate_hidden += !!c->cfg->rate;
			if (b.published != 0 || b.error != -ENOMEM || b.error_index != 0)
				PERR(c, "publisher %d: failed read-only batch wrote back published %u error %d error_index %u",
				     c->id, b.published, b.error, b.error_index);
			return;
		}
		/* #17: refused or interrupted while staging, before the seq probe */
		if (ret == -1 && pub_rate_err(c, e, t0)) {
			if (b.published != 0 || b.error != -e || b.error_index != 0)
				PERR(c, "publisher %d: refused read-only batch wrote back published %u error %d error_index %u",
				     c->id, b.published, b.error, b.error_index);
			return;
		}
		c->res->pub_err_efault++;
		c->res->rate_hidden += !!c->cfg->rate;
		/* Documented: an unwritable descriptor is not published. */
		if (ret != -1 || e != EFAULT || b.published != 0 ||
		    b.error != -EFAULT || b.error_index != 0) {
			PERR(c, "publisher %d: read-only batch of %u: ret %d (%s) published %u error %d error_index %u",
			     c->id, n, ret, ret < 0 ? strerror(e) : "-", b.published,
			     b.error, b.error_index);
		}
		return;
	}

	if (ret < 0) {
		c->res->ioctl_fail++;
		if (pub_rate_err(c, e, t0)) {
			if (b.published != 0 || b.error != -e || b.error_index != 0)
				PERR(c, "publisher %d: refused batch wrote back published %u error %d error_index %u",
				     c->id, b.published, b.error, b.error_index);
			return;
		}
		if (e == ENOMEM && opt.faults) {
			c->res->enomem_batch++;
			c->res->pub_err_enomem++;
			c->res->rate_hidden += !!c->cfg->rate;
			if (b.published == 0xdeadbeef) {
				/* Failed before staging (vmemdup_user). */
				c->res->batch_nowriteback++;
				return;
			}
			c->res->batch_first_fail++;
			if (b.published != 0 || b.error != -ENOMEM || b.error_index != 0)
				PERR(c, "publisher %d: failed batch wrote back published %u error %d error_index %u",
				     c->id, b.published, b.error, b.error_index);
			return;
		}
		if (b.published != 0xdeadbeef)
			c->res->batch_first_fail++;
		PERR(c, "publisher %d: EVBUS_IOC_PUBLISH_BATCH(%u): %s", c->id, n,
		     strerror(e));
		return;
	}
	if ((uint32_t)ret > n || b.published != (uint32_t)ret) {
		PERR(c, "publisher %d: batch of %u returned %d, published %u", c->id, n,
		     ret, b.published);
		return;
	}
	if ((uint32_t)ret < n) {
		c->res->partial_batches++;
		if (b.error == -ENOMEM && opt.faults)
			c->res->pub_err_enomem++, c->res->rate_hidden += !!c->cfg->rate;
		else if (b.error < 0 && pub_rate_err(c, -b.error, t0))
			;	/* its tail spent no tokens, went nowhere */
		else
			PERR(c, "publisher %d: batch of %u stopped at %d: error %d",
			     c->id, n, ret, b.error);
		if (b.error_index != (uint32_t)ret)
			PERR(c, "publisher %d: partial batch %d/%u has error_index %u",
			     c->id, ret, n, b.error_index);
	} else if (b.error || b.error_index != n) {
		PERR(c, "publisher %d: full batch of %u: error %d error_index %u",
		     c->id, n, b.error, b.error_index);
	}
	if (descs[0].seq != b.first_seq)
		PERR(c, "publisher %d: first_seq %" PRIu64 " but descs[0].seq %" PRIu64,
		     c->id, (uint64_t)b.first_seq, (uint64_t)descs[0].seq);
	for (int i = 0; i < ret; i++)
		pub_log(c, &descs[i], descs[i].seq);
	for (uint32_t i = ret; i < n; i++) {
		if (descs[i].seq != 0xdeadbeefdeadbeefULL)
			PERR(c, "publisher %d: unpublished batch event %u got seq %" PRIu64,
			     c->id, i, (uint64_t)descs[i].seq);
	}
	c->res->ev_batch += ret;
}

static void on_alarm(int sig);

static void run_publisher(int id, uint64_t seed)
{
	struct pub_ctx c = { .id = id };
	struct pub_res *res = &sh->pres[id];
	const struct pub_cfg *pc = &sh->pcfg[id];
	uint64_t t_set = 0, t_end;

	c.rng.s = seed;
	c.res = res;
	c.cfg = pc;
	c.log = plog + (size_t)id * pcap;
	if (opt.faults)
		mif_open();
	for (int t = 0; t < NTOPICS; t++)
		topic_name(t, c.topics[t]);
	c.payload = mmap(NULL, (size_t)BATCH_MAX * PAYLOAD_MAX, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	c.descs = calloc(BATCH_MAX, sizeof(*c.descs));
	c.ro_descs = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c.payload == MAP_FAILED || !c.descs || c.ro_descs == MAP_FAILED) {
		snprintf(res->err, sizeof(res->err), "publisher %d: out of memory", id);
		res->fatal = 1;
		_exit(3);
	}
	memset(c.descs, 0, BATCH_MAX * sizeof(*c.descs));
	for (int tries = 0;; tries++) {
		c.fd = xopen(false);
		if (c.fd >= 0)
			break;
		if (errno == ENOMEM && opt.faults && tries < 1000) {
			res->enomem_open++;
			continue;
		}
		snprintf(res->err, sizeof(res->err), "publisher %d: open: %m", id);
		res->fatal = 1;
		_exit(3);
	}
	while (!load_int(&sh->go))
		sleep_us(200);
	/*
	 * #17: a rate-limited file, its bucket full from now on: GET shows
	 * the limit and a whole burst.  A 20 ms itimer (no SA_RESTART)
	 * interrupts some of its waits for tokens.
	 */
	if (pc->rate) {
		struct evbus_rate r;

		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.op = EVBUS_RATE_FILE;
		r.limit = pc->lim;
		t_set = now_ns();
		if (xioctl(c.fd, EVBUS_IOC_RATE, &r)) {
			res->ioctl_fail++;
			PERR(&c, "publisher %d: EVBUS_RATE_FILE: %m", id);
		}
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.op = EVBUS_RATE_GET;
		if (xioctl(c.fd, EVBUS_IOC_RATE, &r)) {
			res->ioctl_fail++;
			PERR(&c, "publisher %d: EVBUS_RATE_GET: %m", id);
		} else if (memcmp(&r.limit, &pc->lim, sizeof(r.limit)) ||
			   r.events_tokens != (int64_t)pc->lim.events_burst ||
			   r.bytes_tokens != (int64_t)pc->lim.bytes_burst || r.refused || r.waited) {
			PERR(&c, "publisher %d: GET after FILE %llu/%llu ev %llu/%llu B: %llu/%llu ev %llu/%llu B, tokens %lld %lld",
			     id, (unsigned long long)pc->lim.events_per_sec,
			     (unsigned long long)pc->lim.events_burst,
			     (unsigned long long)pc->lim.bytes_per_sec,
			     (unsigned long long)pc->lim.bytes_burst,
			     (unsigned long long)r.limit.events_per_sec,
			     (unsigned long long)r.limit.events_burst,
			     (unsigned long long)r.limit.bytes_per_sec,
			     (unsigned long long)r.limit.bytes_burst,
			     (long long)r.events_tokens, (long long)r.bytes_tokens);
		}
		if (pc->intr) {
			struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
			struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

			sigaction(SIGALRM, &sa, NULL);
			setitimer(ITIMER_REAL, &it, NULL);
		}
	}

	while (res->ev_single + res->ev_batch < sh->target && now_ns() < sh->deadline_ns) {
		uint32_t op = rnd(&c.rng, 100);

		if (opt.efault_pct && (int)rnd(&c.rng, 100) < opt.efault_pct)
			pub_batch(&c, true);
		else if (op < 30)
			pub_single(&c);
		else
			pub_batch(&c, false);
		if (res->errors > 20)
			break;
		if (chance(&c.rng, 20))
			sleep_us(rnd(&c.rng, 3000));
	}
	t_end = now_ns();
	if (pc->rate) {
		struct itimerval it = { { 0, 0 }, { 0, 0 } };
		double secs = (t_end - t_set) / 1e9;
		uint64_t n = res->ev_single + res->ev_batch;

		setitimer(ITIMER_REAL, &it, NULL);
		/* A token bucket lets through a burst, then rate per second. */
		if (n > pc->lim.events_burst + pc->lim.events_per_sec * secs + 1 ||
		    (pc->lim.bytes_per_sec &&
		     res->payload_bytes > pc->lim.bytes_burst + pc->lim.bytes_per_sec * secs + 1))
			PERR(&c, "publisher %d: %" PRIu64 " events, %" PRIu64 " bytes in %.3f s through %llu/s (burst %llu), %llu B/s (burst %llu)",
			     id, n, res->payload_bytes, secs,
			     (unsigned long long)pc->lim.events_per_sec,
			     (unsigned long long)pc->lim.events_burst,
			     (unsigned long long)pc->lim.bytes_per_sec,
			     (unsigned long long)pc->lim.bytes_burst);
		memset(&res->rt, 0, sizeof(res->rt));
		res->rt.size = sizeof(res->rt);
		res->rt.op = EVBUS_RATE_GET;
		if (xioctl(c.fd, EVBUS_IOC_RATE, &res->rt)) {
			res->ioctl_fail++;
			PERR(&c, "publisher %d: EVBUS_RATE_GET: %m", id);
		} else if (res->rt.refused < res->refused ||
			   res->rt.refused > res->refused + res->rate_hidden ||
			   res->rt.waited > n + BATCH_MAX * res->rate_hidden ||
			   memcmp(&res->rt.limit, &pc->lim, sizeof(pc->lim)) ||
			   res->rt.events_tokens > (int64_t)pc->lim.events_burst ||
			   res->rt.events_tokens < -(int64_t)pc->lim.events_burst) {
			PERR(&c, "publisher %d: GET at the end: refused %llu (%" PRIu64 " seen, %" PRIu64 " calls that may hide one), waited %llu of %" PRIu64 " events, tokens %lld",
			     id, (unsigned long long)res->rt.refused, res->refused, res->rate_hidden,
			     (unsigned long long)res->rt.waited, n, (long long)res->rt.events_tokens);
		}
	}
	memset(&res->st, 0, sizeof(res->st));
	if (xioctl(c.fd, EVBUS_IOC_STATS, &res->st)) {
		res->ioctl_fail++;
		PERR(&c, "publisher %d: EVBUS_IOC_STATS: %m", id);
	}
	close(c.fd);
	_exit(0);
}

/* ---------------------------------------------------------- subscriber */

struct sub_ctx {
	int id, fd, epfd;
	struct rng rng;
	struct sub_cfg *cfg;
	struct sub_res *res;
	struct srec *out;
	bool match[NTOPICS];
	char topics[NTOPICS][TOPICLEN];
	uint8_t *buf;		/* READBUF_MAX, page aligned */
	uint8_t *iovbuf;	/* READBUF_MAX + gaps, for readv */
	uint8_t *guard;		/* GUARD_SPAN bytes, then a PROT_NONE page */
	uint8_t *expect;	/* PAYLOAD_MAX */
	uint64_t prev_seq, prev_mono, lag_end;
	bool last_was_lag;
	bool mapped;		/* map holds the ring (cfg->mmap) */
	struct evt_map map;
	uint32_t euid, egid;
	uint32_t ev_flags;	/* event flags its subscriptions may bring (#15) */
	uint32_t lag_flags;	/* and LAGGED flags */
};

#define SERR(c, ...) child_err((c)->res->err, &(c)->res->errors, __VA_ARGS__)

static void sub_store(struct sub_ctx *c, uint32_t kind, uint64_t a, uint64_t b,
		      uint64_t cc, uint32_t flags)
{
	struct srec *r;

	if (c->res->n >= scap) {
		SERR(c, "sub %d: record log full", c->id);
		return;
	}
	r = &c->out[c->res->n];
	r->a = a;
	r->b = b;
	r->c = cc;
	r->kind = kind;
	r->flags = flags;
	c->res->n++;
}

/* Check one event record (a); returns false after logging the failure. */
static bool sub_check_event(struct sub_ctx *c, const struct evbus_event *ev)
{
	const char *topic = EVBUS_EVENT_TOPIC(ev);
	const uint8_t *pl = EVBUS_EVENT_PAYLOAD(ev);
	uint32_t tpad = EVBUS_ALIGN(ev->topic_len + 1);
	uint32_t pub = (ev->type >> 8) & 0xff, t = ev->type & 0xff;
	uint32_t idx = (uint32_t)ev->corr;

	if (ev->hdr.hdr_len != EV_HDR ||
	    ev->hdr.len != EV_HDR + tpad + EVBUS_ALIGN(ev->payload_len) ||
	    (ev->flags & ~c->ev_flags)) {
		SERR(c, "sub %d seq %llu: bad header len %u hdr_len %u topic_len %u payload_len %u flags %u",
		     c->id, (unsigned long long)ev->seq, ev->hdr.len, ev->hdr.hdr_len,
		     ev->topic_len, ev->payload_len, ev->flags);
		return false;
	}
	if ((ev->type & 0xff000000u) != TYPE_MAGIC || pub >= (uint32_t)opt.pubs ||
	    t >= NTOPICS || ev->corr >> 32) {
		SERR(c, "sub %d seq %llu: foreign event type %#x corr %llu",
		     c->id, (unsigned long long)ev->seq, ev->type,
		     (unsigned long long)ev->corr);
		return false;
	}
	if (ev->topic_len != strlen(c->topics[t]) ||
	    memcmp(topic, c->topics[t], ev->topic_len + 1)) {
		SERR(c, "sub %d seq %llu: topic '%.*s' but the payload says %s",
		     c->id, (unsigned long long)ev->seq, (int)ev->topic_len, topic,
		     c->topics[t]);
		return false;
	}
	for (uint32_t i = ev->topic_len + 1; i < tpad; i++) {
		if (topic[i]) {
			SERR(c, "sub %d seq %llu: nonzero topic padding", c->id,
			     (unsigned long long)ev->seq);
			return false;
		}
	}
	for (uint32_t i = ev->payload_len; i < EVBUS_ALIGN(ev->payload_len); i++) {
		if (pl[i]) {
			SERR(c, "sub %d seq %llu: nonzero payload padding", c->id,
			     (unsigned long long)ev->seq);
			return false;
		}
	}
	if (!c->match[t]) {
		SERR(c, "sub %d seq %llu: topic %s matches none of its patterns",
		     c->id, (unsigned long long)ev->seq, c->topics[t]);
		return false;
	}
	if (ev->payload_len > opt.max_payload) {
		SERR(c, "sub %d seq %llu: payload_len %u", c->id,
		     (unsigned long long)ev->seq, ev->payload_len);
		return false;
	}
	if (ev->payload_len >= 24) {
		uint32_t m, h;
		uint16_t p16, t16;
		uint64_t i64;

		memcpy(&m, pl, 4);
		memcpy(&p16, pl + 4, 2);
		memcpy(&t16, pl + 6, 2);
		memcpy(&i64, pl + 8, 8);
		memcpy(&h, pl + ev->payload_len - 4, 4);
		if (m != MAGIC || p16 != pub || t16 != t || i64 != idx ||
		    h != fnv32(pl, ev->payload_len - 4)) {
			SERR(c, "sub %d seq %llu: payload header/checksum mismatch (pub %u/%u topic %u/%u idx %llu/%u)",
			     c->id, (unsigned long long)ev->seq, p16, pub, t16, t,
			     (unsigned long long)i64, idx);
			return false;
		}
	}
	gen_payload(c->expect, ev->payload_len, pub, idx, t);
	if (memcmp(c->expect, pl, ev->payload_len) ||
	    ev->parent != payload_sum(pl, ev->payload_len)) {
		SERR(c, "sub %d seq %llu: payload of pub %u idx %u (%u bytes) corrupted",
		     c->id, (unsigned long long)ev->seq, pub, idx, ev->payload_len);
		return false;
	}
	if (ev->pid != (uint32_t)sh->pub_pid[pub] || ev->tid != ev->pid ||
	    ev->uid != c->euid || ev->gid != c->egid) {
		SERR(c, "sub %d seq %llu: sender pid %u tid %u uid %u gid %u, expected pid %d uid %u gid %u",
		     c->id, (unsigned long long)ev->seq, ev->pid, ev->tid, ev->uid,
		     ev->gid, sh->pub_pid[pub], c->euid, c->egid);
		return false;
	}
	if (!ev->time_ns || ev->mono_ns < c->prev_mono) {
		SERR(c, "sub %d seq %llu: mono_ns %llu after %llu (time_ns %llu)",
		     c->id, (unsigned long long)ev->seq, (unsigned long long)ev->mono_ns,
		     (unsigned long long)c->prev_mono, (unsigned long long)ev->time_ns);
		return false;
	}
	return true;
}

/* Walk the records of one read() (b). */
static void sub_parse(struct sub_ctx *c, const uint8_t *buf, ssize_t len)
{
	struct evbus_rec_hdr *h;
	ssize_t left;

	c->res->read_bytes += len;
	c->res->reads++;
	evt_for_each_rec(h, buf, len, left) {
		if (h->kind == EVBUS_REC_EVENT) {
			const struct evbus_event *ev = (const void *)h;

			if (h->len < EV_HDR) {
				SERR(c, "sub %d: event record of %u bytes", c->id, h->len);
				return;
			}
			if (ev->seq <= c->prev_seq || ev->seq <= c->lag_end)
				SERR(c, "sub %d: seq %llu after seq %llu / lag ending %llu",
				     c->id, (unsigned long long)ev->seq,
				     (unsigned long long)c->prev_seq,
				     (unsigned long long)c->lag_end);
			sub_check_event(c, ev);
			c->prev_seq = ev->seq;
			c->prev_mono = ev->mono_ns;
			c->res->delivered++;
			c->last_was_lag = false;
			c->res->replayed += !!(ev->flags & EVBUS_EVENT_REPLAYED);
			c->res->retained += !!(ev->flags & EVBUS_EVENT_RETAINED);
			sub_store(c, SREC_EVENT, ev->seq,
				  (uint64_t)((ev->type >> 8) & 0xff) << 32 | (uint32_t)ev->corr,
				  (uint64_t)(ev->type & 0xff) << 32 | ev->payload_len, ev->flags);
		} else if (h->kind == EVBUS_REC_LAGGED) {
			const struct evbus_lagged *lg = (const void *)h;

			if (h->len != LAG_LEN || h->hdr_len != LAG_LEN ||
			    (lg->flags & ~c->lag_flags) || lg->reserved) {
				SERR(c, "sub %d: bad LAGGED record len %u hdr_len %u flags %u",
				     c->id, h->len, h->hdr_len, lg->flags);
				return;
			}
			if (!lg->lost || lg->first_seq > lg->last_seq ||
			    lg->first_seq <= c->prev_seq || lg->first_seq <= c->lag_end ||
			    lg->lost > lg->last_seq - lg->first_seq + 1)
				SERR(c, "sub %d: LAGGED lost %llu [%llu,%llu] after seq %llu / lag ending %llu",
				     c->id, (unsigned long long)lg->lost,
				     (unsigned long long)lg->first_seq,
				     (unsigned long long)lg->last_seq,
				     (unsigned long long)c->prev_seq,
				     (unsigned long long)c->lag_end);
			c->lag_end = lg->last_seq;
			c->res->lost_reported += lg->lost;
			c->res->lags++;
			c->last_was_lag = true;
			sub_store(c, SREC_LAG, lg->first_seq, lg->last_seq, lg->lost, lg->flags);
		} else {
			SERR(c, "sub %d: record kind %u len %u from read()", c->id,
			     h->kind, h->len);
			return;
		}
	}
	if (left)
		SERR(c, "sub %d: read() returned %zd bytes with %zd left over (not whole records)",
		     c->id, len, left);
}

/* One read() in a random style; the records end up in c->buf. */
static ssize_t sub_read(struct sub_ctx *c)
{
	uint32_t size = MAXREC + rnd(&c->rng, c->cfg->read_max - MAXREC + 1);
	uint32_t v = rnd(&c->rng, 1000);
	ssize_t r;

	c->res->read_calls++;
	/*
	 * A mapped reader takes most of its records through the mapping (the
	 * same records, by the protocol of uapi/linux/evbus.h), and reads
	 * the rest: both move one position.
	 */
	if (c->mapped && v < 600) {
		uint64_t back = c->map.cas_failures;

		r = evt_map_take(&c->map, c->buf, size);
		c->res->map_taken_back += c->map.cas_failures - back;
		if (r > 0) {
			c->res->map_takes++;
			return r;
		}
		if (r < 0) {
			SERR(c, "sub %d: take from the mapped ring: %s", c->id,
			     strerror((int)-r));
			return -3;
		}
		/* Nothing mapped to take: read() waits, or says EAGAIN. */
		return read(c->fd, c->buf, size);
	}
	if (v < 60) {
		/* Possibly too small for the next record: EINVAL, nothing lost. */
		uint32_t small = 1 + rnd(&c->rng, MAXREC - 1);

		r = read(c->fd, c->buf, small);
		if (r >= 0 || errno != EINVAL)
			return r;
		c->res->small_einval++;
		c->res->read_calls++;
		return read(c->fd, c->buf, size);
	}
	if (v < 160) {
		/* readv into 2..6 pieces with gaps between them. */
		struct iovec iov[6];
		int n = 2 + rnd(&c->rng, 5), k;
		size_t off = 0, left = size, got, pos;

		for (k = 0; k < n; k++) {
			size_t piece = k == n - 1 ? left : rnd(&c->rng, left + 1);

			iov[k].iov_base = c->iovbuf + off;
			iov[k].iov_len = piece;
			off += piece + 64;
			left -= piece;
		}
		c->res->readv_calls++;
		r = readv(c->fd, iov, n);
		if (r <= 0)
			return r;
		for (k = 0, pos = 0, got = r; k < n && got; k++) {
			size_t m = got < iov[k].iov_len ? got : iov[k].iov_len;

			memcpy(c->buf + pos, iov[k].iov_base, m);
			pos += m;
			got -= m;
		}
		return r;
	}
	if (v < 210) {
		/* Unpopulated destination: the copy faults, is faulted in, retried. */
		c->res->dontneed_reads++;
		madvise(c->buf, READBUF_MAX, MADV_DONTNEED);
		return read(c->fd, c->buf, size);
	}
	if (v < 240) {
		/* The buffer runs into a PROT_NONE page after 'avail' bytes. */
		uint32_t avail = rnd(&c->rng, GUARD_SPAN + 1);
		uint8_t *start = c->guard + GUARD_SPAN - avail;

		c->res->guard_reads++;
		r = read(c->fd, start, MAXREC + rnd(&c->rng, 8192));
		if (r < 0 && errno == EFAULT) {
			c->res->guard_efault++;
			errno = EAGAIN;
			return -2;	/* nothing consumed; try again */
		}
		if (r > (ssize_t)avail) {
			SERR(c, "sub %d: read() into %u good bytes returned %zd", c->id,
			     avail, r);
			return -3;
		}
		if (r > 0)
			memcpy(c->buf, start, r);
		return r;
	}
	return read(c->fd, c->buf, size);
}

static void sub_ring_games(struct sub_ctx *c)
{
	struct evbus_ring_cfg rc;

	if (chance(&c->rng, 5)) {
		memset(&rc, 0, sizeof(rc));
		rc.policy = rnd(&c->rng, 2);
		/* #17: a lossless reader stays one, its wait set again */
		if (c->cfg->wait_ns) {
			rc.policy = EVBUS_POLICY_LOSSLESS;
			rc.wait_ns = c->cfg->wait_ns;
		}
		/* Half the time with wake-up coalescing (always with a delay). */
		if (chance(&c->rng, 500)) {
			rc.flags = EVBUS_RING_WAKE;
			rc.wake_events = 1 + rnd(&c->rng, 64);
			rc.wake_delay_ns = 100000 + rnd(&c->rng, 2000000);
		}
		if (xioctl(c->fd, EVBUS_IOC_SET_RING, &rc)) {
			c->res->ioctl_fail++;
			if (errno == ENOMEM && opt.faults)
				c->res->enomem_ring++;
			else if (errno == EBUSY && c->mapped)
				c->res->resize_ebusy++;	/* a mapped ring keeps its policy */
			else
				SERR(c, "sub %d: SET_RING policy %u: %m", c->id, rc.policy);
		} else {
			c->res->policy_flips++;
		}
	}
	if (chance(&c->rng, 5)) {
		uint32_t sz = 1u << (12 + rnd(&c->rng, 9));

		/* Keep the current policy, change the size. */
		memset(&rc, 0, sizeof(rc));
		if (xioctl(c->fd, EVBUS_IOC_GET_RING, &rc)) {
			c->res->ioctl_fail++;
			SERR(c, "sub %d: GET_RING: %m", c->id);
			return;
		}
		rc.size = sz < opt.ring_min ? opt.ring_min : sz > opt.ring_max ? opt.ring_max : sz;
		/* #17: a lossless ring keeps at least 8 KiB (an event of 4 KiB always fits) */
		if (c->cfg->wait_ns && rc.size < 8192)
			rc.size = 8192;
		/* The wake-up setting and a lossless wait_ns read back are kept. */
		if (xioctl(c->fd, EVBUS_IOC_SET_RING, &rc)) {
			c->res->ioctl_fail++;
			if (errno == EBUSY)
				c->res->resize_ebusy++;
			else if (errno == ENOMEM && opt.faults)
				c->res->enomem_ring++;
			else
				SERR(c, "sub %d: SET_RING size %u: %m", c->id, rc.size);
		} else {
			c->res->resize_ok++;
		}
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* EVBUS_IOC_HISTORY without EVBUS_HISTORY_SET: 0 or -errno. */
static int hist_get(int fd, struct evbus_history *h)
{
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	return ioctl(fd, EVBUS_IOC_HISTORY, h) ? -errno : 0;
}

/* Map the ring (cfg->mmap), once it exists. */
static void sub_map(struct sub_ctx *c)
{
	int ret;

	if (!c->cfg->mmap)
		return;
	ret = evt_map(&c->map, c->fd);
	if (!ret)
		c->mapped = true;
	else if (!(ret == -ENOMEM && opt.faults))
		SERR(c, "sub %d: mmap of the ring: %s", c->id, strerror(-ret));
}

/*
 * A subscriber reaching into the past (#15), late in the round: every
 * pattern with EVBUS_SUB_SINCE (each from its own seq, a little or a lot
 * before the next one, or from the round's first), or its one pattern
 * with EVBUS_SUB_LAST or EVBUS_SUB_RETAINED.  The next seq just before
 * and after go to the parent, which checks the stream against them.
 */
static void sub_past(struct sub_ctx *c)
{
	struct sub_cfg *cfg = c->cfg;
	struct sub_res *res = c->res;
	struct evbus_history h;
	int ret;

	ret = hist_get(c->fd, &h);
	if (ret) {
		res->ioctl_fail++;
		SERR(c, "sub %d: EVBUS_IOC_HISTORY: %s", c->id, strerror(-ret));
		return;
	}
	res->next_before = h.next_seq;
	for (int p = 0; p < cfg->npat; p++) {
		struct evbus_subscribe sb;

		memset(&sb, 0, sizeof(sb));
		sb.size = sizeof(sb);
		sb.pattern = (uintptr_t)cfg->pat[p];
		sb.pattern_len = strlen(cfg->pat[p]);
		if (cfg->past == PAST_SINCE) {
			uint64_t base = sh->round_base, back = cfg->since_back[p];

			sb.flags = EVBUS_SUB_SINCE;
			sb.since = cfg->since_back[p] < 0 || h.next_seq < base + back ?
				   base : h.next_seq - back;
			res->since[p] = sb.since;
		} else if (cfg->past == PAST_LAST) {
			sb.flags = EVBUS_SUB_LAST;
			sb.last = cfg->last_k;
		} else {
			sb.flags = EVBUS_SUB_RETAINED;
		}
		for (int tries = 0; tries < 50; tries++) {
			if (!xioctl(c->fd, EVBUS_IOC_SUBSCRIBE2, &sb)) {
				res->pat_ok[p] = 1;
				break;
			}
			res->ioctl_fail++;
			if (errno != ENOMEM || !opt.faults) {
				SERR(c, "sub %d: SUBSCRIBE2 %s %s since %llu last %u: %m", c->id,
				     cfg->pat[p], past_names[cfg->past],
				     (unsigned long long)sb.since, sb.last);
				break;
			}
			res->enomem_sub++;
		}
		if (!res->pat_ok[p])
			continue;
		for (int t = 0; t < NTOPICS; t++)
			c->match[t] |= pattern_match(cfg->pat[p], c->topics[t]);
	}
	ret = hist_get(c->fd, &h);
	if (ret) {
		res->ioctl_fail++;
		SERR(c, "sub %d: EVBUS_IOC_HISTORY: %s", c->id, strerror(-ret));
		return;
	}
	res->next_after = h.next_seq;
	res->oldest_after = h.oldest_seq;
}

static void run_subscriber(int id)
{
	struct sub_cfg *cfg = &sh->scfg[id];
	struct sub_res *res = &sh->sres[id];
	struct sub_ctx c = { .id = id, .cfg = cfg, .res = res };
	struct evbus_ring_cfg rc;
	bool reading = true;
	int npat = 0;
	uint64_t stuck_since = 0;	/* done, yet nothing to read while catching up */

	c.rng.s = cfg->seed;
	c.out = slog + (size_t)id * scap;
	c.euid = geteuid();
	c.egid = getegid();
	if (opt.faults)
		mif_open();
	for (int t = 0; t < NTOPICS; t++)
		topic_name(t, c.topics[t]);
	c.buf = mmap(NULL, READBUF_MAX, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.iovbuf = mmap(NULL, READBUF_MAX + 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.guard = mmap(NULL, GUARD_SPAN + 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.expect = malloc(PAYLOAD_MAX);
	if (c.buf == MAP_FAILED || c.iovbuf == MAP_FAILED || c.guard == MAP_FAILED ||
	    !c.expect || mprotect(c.guard + GUARD_SPAN, 4096, PROT_NONE)) {
		snprintf(res->err, sizeof(res->err), "sub %d: out of memory", id);
		res->fatal = 1;
		_exit(3);
	}

	for (int tries = 0;; tries++) {
		c.fd = xopen(cfg->mode != MODE_BLOCK);
		if (c.fd >= 0)
			break;
		if (errno == ENOMEM && opt.faults && tries < 1000) {
			res->enomem_open++;
			continue;
		}
		snprintf(res->err, sizeof(res->err), "sub %d: open: %m", id);
		res->fatal = 1;
		_exit(3);
	}
	/* The ring first (a resize needs an empty ring), then the patterns. */
	for (int tries = 0; tries < 20; tries++) {
		memset(&rc, 0, sizeof(rc));
		rc.size = cfg->ring_req;
		rc.policy = cfg->policy;
		if (cfg->wait_ns) {	/* #17 */
			rc.policy = EVBUS_POLICY_LOSSLESS;
			rc.wait_ns = cfg->wait_ns;
		}
		if (!xioctl(c.fd, EVBUS_IOC_SET_RING, &rc))
			break;
		res->ioctl_fail++;
		if (errno != ENOMEM || !opt.faults) {
			SERR(&c, "sub %d: SET_RING %u %s: %m", id, cfg->ring_req,
			     policy_name(cfg->policy));
			break;
		}
		res->enomem_ring++;
	}
	if (cfg->past == PAST_SINCE || cfg->past == PAST_LAST) {
		c.ev_flags = EVBUS_EVENT_REPLAYED;
		c.lag_flags = EVBUS_LAGGED_HISTORY;
	} else if (cfg->past == PAST_RETAINED) {
		c.ev_flags = EVBUS_EVENT_RETAINED;
	}
	/* A subscriber reaching into the past subscribes later (sub_past()). */
	for (int p = 0; p < cfg->npat && !cfg->past; p++) {
		for (int tries = 0; tries < 50; tries++) {
			int r = (mif_set(true), evt_sub(c.fd, cfg->pat[p]));

			mif_set(false);
			if (r > 0) {
				res->pat_ok[p] = 1;
				npat++;
				break;
			}
			res->ioctl_fail++;
			if (r != -ENOMEM || !opt.faults) {
				SERR(&c, "sub %d: SUBSCRIBE %s: %s", id, cfg->pat[p],
				     strerror(-r));
				break;
			}
			res->enomem_sub++;
		}
		if (!res->pat_ok[p])
			continue;
		for (int t = 0; t < NTOPICS; t++)
			c.match[t] |= pattern_match(cfg->pat[p], c.topics[t]);
	}
	memset(&rc, 0, sizeof(rc));
	if (xioctl(c.fd, EVBUS_IOC_GET_RING, &rc)) {
		res->ioctl_fail++;
		SERR(&c, "sub %d: GET_RING: %m", id);
	}
	res->ring_size = rc.size;
	res->ring_policy = rc.policy;
	if (cfg->ring_req && res->ring_size < cfg->ring_req && res->enomem_ring == 0)
		SERR(&c, "sub %d: asked for a %u-byte ring, got %u", id, cfg->ring_req,
		     rc.size);
	if (res->ring_size & (res->ring_size - 1))
		SERR(&c, "sub %d: ring size %u is not a power of two", id, rc.size);
	if (!cfg->past)
		sub_map(&c);

	if (cfg->mode == MODE_EPOLL) {
		struct epoll_event ee = { .events = EPOLLIN };

		c.epfd = epoll_create1(EPOLL_CLOEXEC);
		if (c.epfd < 0 || epoll_ctl(c.epfd, EPOLL_CTL_ADD, c.fd, &ee)) {
			snprintf(res->err, sizeof(res->err), "sub %d: epoll: %m", id);
			res->fatal = 1;
			_exit(3);
		}
	} else if (cfg->mode == MODE_BLOCK) {
		struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
		struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_RELEASE);
	store_int(&res->ready, 1);
	if (cfg->past) {
		uint64_t t_go, wait;

		while (!load_int(&sh->go))
			sleep_us(1000);
		t_go = now_ns();
		wait = sh->round_ns / 100 * cfg->delay_pct;
		while (now_ns() - t_go < wait && !load_int(&sh->done))
			sleep_us(2000);
		sub_past(&c);
		sub_map(&c);
	}

	for (;;) {
		int done = load_int(&sh->done);
		ssize_t r;

		if (!reading) {
			if (done)
				break;
			sleep_us(5000);
			continue;
		}
		r = sub_read(&c);
		if (r > 0) {
			stuck_since = 0;
			sub_parse(&c, c.buf, r);
			if (cfg->prof == PROF_ABANDON && res->reads >= cfg->abandon_after)
				reading = false;
			else if (cfg->prof == PROF_SLOW && chance(&c.rng, 300))
				sleep_us(rnd(&c.rng, 2000));
			else if (cfg->prof == PROF_STALL && chance(&c.rng, 15))
				sleep_us(50000 + rnd(&c.rng, 250000));
			sub_ring_games(&c);
			continue;
		}
		if (r == -3)
			break;
		if (r == 0) {
			SERR(&c, "sub %d: read() returned 0", id);
			break;
		}
		if (r == -2)
			continue;
		if (errno == EINTR) {
			res->eintr++;
			if (done) {
				/* Drain without blocking from now on. */
				fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
			}
			continue;
		}
		if (errno != EAGAIN) {
			SERR(&c, "sub %d: read(): %m", id);
			break;
		}
		res->eagain++;
		if (done) {
			/* A file catching up is readable until it is live (#15). */
			if (cfg->past) {
				struct pollfd pfd = { .fd = c.fd, .events = POLLIN };

				if (!stuck_since)
					stuck_since = now_ns();
				if (now_ns() - stuck_since > 20000000000ULL) {
					memset(&rc, 0, sizeof(rc));
					ioctl(c.fd, EVBUS_IOC_GET_RING, &rc);
					SERR(&c, "sub %d: still catching up (fdinfo evbus-replaying %d) 20 s after the publishers stopped, with nothing to read: a %u-byte ring (an event in the history larger than the ring? tests/stress/replay-repro.c)",
					     id, evt_replaying(c.fd), rc.size);
					break;
				}
				if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
					continue;
			}
			break;		/* everything published is in */
		}
		sub_ring_games(&c);
		switch (cfg->mode) {
		case MODE_POLL: {
			struct pollfd pfd = { .fd = c.fd, .events = POLLIN };

			poll(&pfd, 1, 10);
			break;
		}
		case MODE_EPOLL: {
			struct epoll_event ee;

			epoll_wait(c.epfd, &ee, 1, 10);
			break;
		}
		case MODE_SPIN:
			if (chance(&c.rng, 100))
				sleep_us(100);
			else
				sched_yield();
			break;
		case MODE_BLOCK:	/* not reached: blocking reads do not EAGAIN */
			sleep_us(1000);
			break;
		}
	}
	if (cfg->mode == MODE_BLOCK) {
		struct itimerval it = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &it, NULL);
	}
	res->drained = reading;
	if (cfg->past && reading)
		res->still_replaying = evt_replaying(c.fd);
	memset(&res->st, 0, sizeof(res->st));
	if (xioctl(c.fd, EVBUS_IOC_STATS, &res->st)) {
		res->ioctl_fail++;
		SERR(&c, "sub %d: EVBUS_IOC_STATS: %m", id);
	}
	close(c.fd);
	_exit(0);
}

/* -------------------------------------------------------------- sysfs */

static const char *const stat_names[] = {
	"published", "published_bytes", "deliveries", "lost", "read_events",
	"read_bytes", "lag_records", "queued_events", "queued_bytes",
	"subscriptions", "open_files", "ring_bytes", "publish_err_einval",
	"publish_err_efault", "publish_err_emsgsize", "publish_err_enomem",
	"publish_err_ebadf", "publish_err_other", "ioctl_errors",
};
enum {
	S_PUBLISHED, S_PUBLISHED_BYTES, S_DELIVERIES, S_LOST, S_READ_EVENTS,
	S_READ_BYTES, S_LAG_RECORDS, S_QUEUED_EVENTS, S_QUEUED_BYTES,
	S_SUBSCRIPTIONS, S_OPEN_FILES, S_RING_BYTES, S_ERR_EINVAL, S_ERR_EFAULT,
	S_ERR_EMSGSIZE, S_ERR_ENOMEM, S_ERR_EBADF, S_ERR_OTHER, S_IOCTL_ERRORS,
	NSTATS
};

/* #17: the rate and lossless counters (-1 each without them). */
static const char *const rl_names[] = {
	"rate_refused_file", "rate_refused_user", "rate_waited", "rate_interrupted",
	"lossless_waits", "lossless_expired", "lossless_foreign",
};
enum { R_REFUSED_FILE, R_REFUSED_USER, R_WAITED, R_INTERRUPTED, R_LL_WAITS, R_LL_EXPIRED,
       R_LL_FOREIGN, NRLSTATS };

static void rl_stats(long long *v)
{
	char path[128];

	for (int i = 0; i < NRLSTATS; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", rl_names[i]);
		v[i] = evt_read_num(path);
	}
}

static bool read_stats(int64_t *v)
{
	char path[128];

	for (int i = 0; i < NSTATS; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", stat_names[i]);
		f = fopen(path, "r");
		if (!f)
			return false;
		if (fscanf(f, "%" SCNd64, &v[i]) != 1) {
			fclose(f);
			return false;
		}
		fclose(f);
	}
	return true;
}

/* ------------------------------------------------- fault injection knobs */

struct knob {
	const char *path;
	const char *val;
	bool optional;
	char saved[64];
	bool set;
};

static struct knob knobs[] = {
	{ "/sys/kernel/debug/failslab/probability", "0" },	/* off while setting */
	{ "/sys/kernel/debug/failslab/task-filter", "Y" },
	{ "/sys/kernel/debug/failslab/interval", "1" },
	{ "/sys/kernel/debug/failslab/times", "-1" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/failslab/space", "0" },
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/probability", "0", true },
	{ "/sys/kernel/debug/fail_page_alloc/task-filter", "Y", true },
	{ "/sys/kernel/debug/fail_page_alloc/interval", "1", true },
	{ "/sys/kernel/debug/fail_page_alloc/times", "-1", true },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0", true },
	{ "/sys/kernel/debug/fail_page_alloc/space", "0", true },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N", true },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N", true },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0", true },
};
#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))
static bool fi_page;		/* fail_page_alloc present */
static bool fi_armed;

static bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

static bool read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static void fi_disarm(void)
{
	if (!fi_armed)
		return;
	fi_armed = false;
	/* Probability first, then the rest, in reverse. */
	write_file("/sys/kernel/debug/failslab/probability", "0");
	if (fi_page)
		write_file("/sys/kernel/debug/fail_page_alloc/probability", "0");
	for (int i = NKNOBS - 1; i >= 0; i--)
		if (knobs[i].set)
			write_file(knobs[i].path, knobs[i].saved);
}

/* 0 armed, or exit status 4 with a message. */
static int fi_arm(void)
{
	char prob[16];

	if (access("/sys/kernel/debug/failslab", F_OK)) {
		fprintf(stderr, "stress: --faults needs /sys/kernel/debug/failslab "
			"(CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS, debugfs "
			"mounted; the debug kernel: tests/vm/run --debug): %m\n");
		return 4;
	}
	if (access("/proc/self/make-it-fail", W_OK)) {
		fprintf(stderr, "stress: --faults needs a writable /proc/self/make-it-fail: %m\n");
		return 4;
	}
	fi_page = !access("/sys/kernel/debug/fail_page_alloc", F_OK);
	fi_armed = true;
	for (size_t i = 0; i < NKNOBS; i++) {
		struct knob *k = &knobs[i];

		if (k->optional && !fi_page)
			continue;
		if (!read_file(k->path, k->saved, sizeof(k->saved))) {
			if (k->optional)
				continue;
			fprintf(stderr, "stress: --faults: cannot read %s: %m\n", k->path);
			fi_disarm();
			return 4;
		}
		k->set = true;
		if (!write_file(k->path, k->val)) {
			fprintf(stderr, "stress: --faults: cannot write %s: %m\n", k->path);
			fi_disarm();
			return 4;
		}
	}
	snprintf(prob, sizeof(prob), "%d", opt.fault_prob);
	if (!write_file("/sys/kernel/debug/failslab/probability", prob) ||
	    (fi_page && !write_file("/sys/kernel/debug/fail_page_alloc/probability", prob))) {
		fprintf(stderr, "stress: --faults: cannot set the probability: %m\n");
		fi_disarm();
		return 4;
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;
static pid_t children[MAXP + MAXS];
static int nchildren;

static void on_stop(int sig)
{
	stop_requested = 1;
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	fi_disarm();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ------------------------------------------------------------ checking */

struct allev {
	uint64_t seq;
	uint32_t idx;
	uint16_t topic;
	uint16_t len;
	uint16_t pub;
	uint8_t retain;		/* published with EVBUS_PUB_RETAIN */
};

static int cmp_allev(const void *a, const void *b)
{
	uint64_t x = ((const struct allev *)a)->seq, y = ((const struct allev *)b)->seq;

	return x < y ? -1 : x > y;
}

static struct {
	uint64_t checks_pass, checks_fail;
	uint64_t published, delivered, lost, lags, matching;
	uint64_t calls_single, calls_batch, ev_batch;
	uint64_t enomem_open, enomem_sub, enomem_ring, enomem_single, enomem_batch;
	uint64_t partial_batches, batch_nowriteback, efault_batches;
	uint64_t small_einval, readv_calls, dontneed_reads, guard_reads, guard_efault;
	uint64_t map_takes, map_taken_back, mapped_readers;
	uint64_t resize_ok, resize_ebusy, policy_flips, abandoned;
	uint64_t past_subs[NPAST], replayed, retained_ev, hist_lags, retain_pubs, retain_clears;
	/* #17 */
	uint64_t ll_subs[NLL], ll_delivered, ll_lost, ll_waits, rate_pubs, rate_events;
	uint64_t rate_refused, rate_interrupted, rate_waited;
	int rounds;
} tot;

static void check_result(bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		tot.checks_pass++;
		return;
	}
	tot.checks_fail++;
	printf("  FAIL %s: ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A message per failure kind, at most a few per subscriber. */
#define VFAIL(...)							\
	do {								\
		if (nfail++ < 5) {					\
			printf("  sub %d: ", s);			\
			printf(__VA_ARGS__);				\
			printf("\n");					\
		}							\
	} while (0)

/*
 * Walk subscriber s's stream alongside every published event in seq order.
 * Returns the number of its matching events (for the deliveries counter).
 */
static uint64_t verify_sub(int s, const struct allev *all, size_t nall,
			   const uint64_t *per_topic, uint64_t *lost_total, uint64_t *ll_lost)
{
	struct sub_cfg *cfg = &sh->scfg[s];
	struct sub_res *res = &sh->sres[s];
	const struct srec *rec = slog + (size_t)s * scap;
	bool match[NTOPICS] = { 0 };
	char topics[NTOPICS][TOPICLEN];
	uint64_t matching = 0, delivered = 0, lost = 0, lags = 0, adjacent = 0;
	uint64_t prev = 0, lag_end = 0, missing, remaining = 0;
	bool prev_lag = false;
	size_t j = 0;
	int nfail = 0;
	char pats[MAXPAT * (PATLEN + 3)] = "", qbuf[24];

	for (int t = 0; t < NTOPICS; t++)
		topic_name(t, topics[t]);
	for (int p = 0; p < cfg->npat; p++) {
		if (!res->pat_ok[p]) {
			strcat(pats, "!");	/* failed with ENOMEM */
		} else {
			for (int t = 0; t < NTOPICS; t++)
				match[t] |= pattern_match(cfg->pat[p], topics[t]);
		}
		strcat(pats, cfg->pat[p]);
		if (p + 1 < cfg->npat)
			strcat(pats, " ");
	}
	for (int t = 0; t < NTOPICS; t++)
		if (match[t])
			matching += per_topic[t];

	if (res->errors)
		VFAIL("%" PRIu64 " error(s) while reading, first: %s", res->errors, res->err);
	if (!res->ready || res->fatal)
		VFAIL("did not run: %s", res->err);

	for (uint64_t i = 0; i < res->n; i++) {
		const struct srec *r = &rec[i];

		if (r->kind == SREC_EVENT) {
			uint64_t seq = r->a;

			if (seq <= prev || seq <= lag_end)
				VFAIL("(b) seq %" PRIu64 " after seq %" PRIu64 " / lag ending %" PRIu64,
				      seq, prev, lag_end);
			for (missing = 0; j < nall && all[j].seq < seq; j++)
				missing += match[all[j].topic];
			if (missing)
				VFAIL("(d) %" PRIu64 " matching event(s) before seq %" PRIu64
				      " neither delivered nor reported lost", missing, seq);
			if (j == nall || all[j].seq != seq) {
				VFAIL("(a) delivered seq %" PRIu64 " (pub %u idx %u) was never published",
				      seq, (unsigned)(r->b >> 32), (unsigned)r->b);
			} else {
				const struct allev *e = &all[j];

				if ((r->b >> 32) != e->pub || (uint32_t)r->b != e->idx ||
				    (r->c >> 32) != e->topic || (uint32_t)r->c != e->len)
					VFAIL("(a) seq %" PRIu64 " delivered as pub %u idx %u topic %s len %u, published as pub %u idx %u topic %s len %u",
					      seq, (unsigned)(r->b >> 32), (unsigned)r->b,
					      topics[(r->c >> 32) % NTOPICS], (unsigned)r->c,
					      e->pub, e->idx, topics[e->topic], e->len);
				if (!match[e->topic])
					VFAIL("(a) seq %" PRIu64 " topic %s matches no pattern",
					      seq, topics[e->topic]);
				j++;
			}
			prev = seq;
			delivered++;
			prev_lag = false;
		} else {
			uint64_t first = r->a, last = r->b, n = r->c, cnt = 0, last_m = 0;

			if (!n || first > last || first <= prev || first <= lag_end)
				VFAIL("(c) LAGGED lost %" PRIu64 " [%" PRIu64 ",%" PRIu64
				      "] after seq %" PRIu64 " / lag ending %" PRIu64,
				      n, first, last, prev, lag_end);
			for (missing = 0; j < nall && all[j].seq < first; j++)
				missing += match[all[j].topic];
			if (missing)
				VFAIL("(d) %" PRIu64 " matching event(s) before LAGGED [%" PRIu64
				      ",%" PRIu64 "] neither delivered nor reported lost",
				      missing, first, last);
			if (j == nall || all[j].seq != first || !match[all[j].topic])
				VFAIL("(c) LAGGED first_seq %" PRIu64 " is not a matching published event",
				      first);
			for (; j < nall && all[j].seq <= last; j++) {
				if (match[all[j].topic]) {
					cnt++;
					last_m = all[j].seq;
				}
			}
			if (last_m != last)
				VFAIL("(c) LAGGED last_seq %" PRIu64 " is not a matching published event (last matching in range: %" PRIu64 ")",
				      last, last_m);
			if (cnt != n)
				VFAIL("(c) LAGGED [%" PRIu64 ",%" PRIu64 "] says lost %" PRIu64
				      ", %" PRIu64 " matching events were published in that range",
				      first, last, n, cnt);
			if (prev_lag)
				adjacent++;
			lag_end = last;
			lost += n;
			lags++;
			prev_lag = true;
		}
	}
	for (; j < nall; j++)
		remaining += match[all[j].topic];

	if (res->drained) {
		if (remaining)
			VFAIL("(d) %" PRIu64 " trailing matching event(s) neither delivered nor reported lost",
			      remaining);
		if (delivered + lost != matching)
			VFAIL("(d) delivered %" PRIu64 " + lost %" PRIu64 " != matching %" PRIu64,
			      delivered, lost, matching);
		if (res->st.lost != lost || res->st.queued_events || res->st.queued_bytes)
			VFAIL("STATS after draining: lost %llu (LAGGED said %" PRIu64 "), queued %llu events %llu bytes",
			      (unsigned long long)res->st.lost, lost,
			      (unsigned long long)res->st.queued_events,
			      (unsigned long long)res->st.queued_bytes);
	} else {
		uint64_t unreported = res->st.lost - lost;

		if (res->st.lost < lost ||
		    remaining != res->st.queued_events + unreported)
			VFAIL("(d) abandoned: %" PRIu64 " trailing matching events, but STATS has %llu queued + %" PRIu64 " lost not yet reported",
			      remaining, (unsigned long long)res->st.queued_events,
			      unreported);
		if (delivered + res->st.lost + res->st.queued_events != matching)
			VFAIL("(d) abandoned: delivered %" PRIu64 " + lost %llu + queued %llu != matching %" PRIu64,
			      delivered, (unsigned long long)res->st.lost,
			      (unsigned long long)res->st.queued_events, matching);
	}
	if (res->st.delivered != delivered || res->st.lag_records != lags ||
	    res->st.subscriptions != (uint32_t)(res->pat_ok[0] + res->pat_ok[1] + res->pat_ok[2]) ||
	    res->st.published)
		VFAIL("STATS: delivered %llu (read %" PRIu64 "), lag_records %llu (read %" PRIu64 "), subscriptions %u, published %llu",
		      (unsigned long long)res->st.delivered, delivered,
		      (unsigned long long)res->st.lag_records, lags,
		      res->st.subscriptions, (unsigned long long)res->st.published);
	if (res->delivered != delivered || res->lags != lags || res->lost_reported != lost)
		VFAIL("internal: stream and counters disagree");
	/*
	 * (l) #17: a lossless reader that keeps up loses nothing: its
	 * publishers (its uid) waited for it, and it read on within the wait.
	 */
	if (res->ring_policy == EVBUS_POLICY_LOSSLESS) {
		if (sh->ll_mode == LL_KEEPUP && (lost || lags || res->st.lost))
			VFAIL("(l) a lossless reader keeping up (wait %.1f s) lost %llu event(s), %" PRIu64 " LAGGED record(s)",
			      cfg->wait_ns / 1e9, (unsigned long long)res->st.lost, lags);
		*ll_lost += res->st.lost;
		tot.ll_subs[sh->ll_mode]++;
		tot.ll_delivered += delivered;
		tot.ll_lost += res->st.lost;
	}

	snprintf(qbuf, sizeof(qbuf), "%llu", (unsigned long long)res->st.queued_events);
	printf("  sub %d [%s] ring %u %s %s/%s: matching %" PRIu64 " delivered %" PRIu64
	       " lost %" PRIu64 " (%" PRIu64 " LAGGED%s)%s%s%s\n",
	       s, pats, res->ring_size, policy_name(res->ring_policy),
	       mode_names[cfg->mode], prof_names[cfg->prof], matching, delivered,
	       res->drained ? lost : (uint64_t)res->st.lost, lags,
	       adjacent ? ", some adjacent" : "",
	       res->drained ? "" : " abandoned, queued at close: ",
	       res->drained ? "" : qbuf, nfail ? " FAIL" : " ok");
	if (opt.verbose)
		printf("    reads %" PRIu64 "/%" PRIu64 " calls, EAGAIN %" PRIu64 ", EINTR %" PRIu64
		       ", small EINVAL %" PRIu64 ", readv %" PRIu64 ", dontneed %" PRIu64
		       ", guard %" PRIu64 " (EFAULT %" PRIu64 "), flips %" PRIu64 ", resize %" PRIu64
		       "/%" PRIu64 " EBUSY, queued at close %llu, ENOMEM open/sub/ring %" PRIu64
		       "/%" PRIu64 "/%" PRIu64 "\n",
		       res->reads, res->read_calls, res->eagain, res->eintr, res->small_einval,
		       res->readv_calls, res->dontneed_reads, res->guard_reads, res->guard_efault,
		       res->policy_flips, res->resize_ok, res->resize_ebusy,
		       (unsigned long long)res->st.queued_events, res->enomem_open,
		       res->enomem_sub, res->enomem_ring);
	check_result(nfail == 0, "subscriber", "sub %d: %d problem(s)", s, nfail);

	tot.delivered += delivered;
	tot.lost += res->drained ? lost : res->st.lost;
	tot.lags += lags;
	tot.matching += matching;
	tot.abandoned += !res->drained;
	*lost_total += res->st.lost;
	return matching;
}

/* Does a subscription of a past subscriber take e (see verify_past())? */
static bool past_takes(bool (*match)[NTOPICS], const uint64_t *start, int npat,
		       const struct allev *e)
{
	for (int p = 0; p < npat; p++)
		if (match[p][e->topic] && e->seq >= start[p])
			return true;
	return false;
}

/*
 * Walk the stream of past subscriber s (#15) alongside every published
 * event.  An event is expected if one of its subscriptions takes it: the
 * topic matches the pattern, the seq is at or past the subscription's
 * start (SINCE: its since; LAST: where the stream starts; RETAINED: the
 * join, between next_before and next_after, taken as next_after until a
 * live event shows it earlier).  Checks:
 *  (b) seqs strictly increase; replayed (or retained) events come first,
 *      then live ones, and a LAGGED record with EVBUS_LAGGED_HISTORY only
 *      before the first live event;
 *  (a) every delivered event was published as delivered (payload, sender
 *      and all, by sub_check_event()) and is expected, or (RETAINED) is a
 *      retained value or a live event of the join's window;
 *  (d) no expected event is missing: each is delivered once or lies
 *      inside a LAGGED record;
 *  (c) a LAGGED record without HISTORY (SINCE, LAST) counts exactly the
 *      expected events of its range, from one to another; with it (or on a
 *      RETAINED subscriber, where retained values may be lost too), at
 *      least those, and at most the range;
 *  LAST: at most last_k matching events from the start of the stream to
 *      the next seq before the call, and at least as many as the history
 *      held after it (fewer only if it held fewer);
 *  RETAINED: each retained value is its topic's newest retained publish
 *      (with a payload) before the call, or one made during it, once per
 *      topic; a topic whose value was set before the call and could not
 *      change during it gets it, or has it inside a LAGGED record;
 *  the file is live (fdinfo) once drained; STATS agree (lost: the ring's
 *  losses, which LAGGED records with HISTORY may hold besides the seqs
 *  missing from the history).
 * Returns what the file was given, delivered + lost + queued, for the
 * deliveries counter.
 */
static uint64_t verify_past(int s, const struct allev *all, size_t nall,
			    uint64_t *lost_total)
{
	struct sub_cfg *cfg = &sh->scfg[s];
	struct sub_res *res = &sh->sres[s];
	const struct srec *rec = slog + (size_t)s * scap;
	bool match[MAXPAT][NTOPICS], any[NTOPICS] = { 0 }, window[NTOPICS] = { 0 };
	uint64_t start[MAXPAT], last_ret[NTOPICS] = { 0 }, rseq[NTOPICS] = { 0 };
	uint16_t last_ret_len[NTOPICS] = { 0 };
	char topics[NTOPICS][TOPICLEN];
	uint64_t expected = 0, delivered = 0, lost = 0, lost0 = 0, lags = 0, hlags = 0;
	uint64_t prev = 0, lag_end = 0, missing, remaining = 0;
	struct { uint64_t a, b; } lagr[256];
	int nlagr = 0, nfail = 0, nsub = 0;
	bool live = false;
	size_t j = 0;
	char pats[MAXPAT * (PATLEN + 24)] = "";

	memset(match, 0, sizeof(match));
	for (int t = 0; t < NTOPICS; t++)
		topic_name(t, topics[t]);
	for (int p = 0; p < cfg->npat; p++) {
		size_t n = strlen(pats);

		if (res->pat_ok[p]) {
			nsub++;
			for (int t = 0; t < NTOPICS; t++) {
				match[p][t] = pattern_match(cfg->pat[p], topics[t]);
				any[t] |= match[p][t];
			}
		}
		start[p] = cfg->past == PAST_SINCE ? res->since[p] :
			   cfg->past == PAST_LAST ? (res->n ? rec[0].a : UINT64_MAX) :
			   res->next_after;
		if (cfg->past == PAST_SINCE)
			snprintf(pats + n, sizeof(pats) - n, "%s%s%s@%llu", p ? " " : "",
				 res->pat_ok[p] ? "" : "!", cfg->pat[p],
				 (unsigned long long)res->since[p]);
		else
			snprintf(pats + n, sizeof(pats) - n, "%s%s", res->pat_ok[p] ? "" : "!",
				 cfg->pat[p]);
	}
	if (cfg->past == PAST_RETAINED) {
		for (size_t k = 0; k < nall; k++) {
			const struct allev *e = &all[k];

			if (!e->retain || !match[0][e->topic])
				continue;
			if (e->seq < res->next_before) {
				last_ret[e->topic] = e->seq;
				last_ret_len[e->topic] = e->len;
			} else if (e->seq < res->next_after) {
				window[e->topic] = true;
			}
		}
	}

	if (res->errors)
		VFAIL("%" PRIu64 " error(s) while reading, first: %s", res->errors, res->err);
	if (!res->ready || res->fatal)
		VFAIL("did not run: %s", res->err);

	for (uint64_t i = 0; i < res->n; i++) {
		const struct srec *r = &rec[i];

		if (r->kind == SREC_EVENT) {
			uint64_t seq = r->a;

			if (seq <= prev || seq <= lag_end)
				VFAIL("(b) seq %" PRIu64 " after seq %" PRIu64 " / lag ending %" PRIu64,
				      seq, prev, lag_end);
			if (r->flags && live) {
				VFAIL("(b) %s event seq %" PRIu64 " after live ones",
				      r->flags & EVBUS_EVENT_RETAINED ? "a retained" : "a replayed", seq);
			} else if (!r->flags && !live) {
				live = true;
				/* The join is at or before the first live event. */
				if (cfg->past == PAST_RETAINED && seq < start[0])
					start[0] = seq;
			}
			for (missing = 0; j < nall && all[j].seq < seq; j++)
				missing += past_takes(match, start, cfg->npat, &all[j]);
			if (missing)
				VFAIL("(d) %" PRIu64 " expected event(s) before seq %" PRIu64
				      " neither delivered nor reported lost", missing, seq);
			if (j == nall || all[j].seq != seq) {
				VFAIL("(a) delivered seq %" PRIu64 " (pub %u idx %u, flags %#x) was never published this round",
				      seq, (unsigned)(r->b >> 32), (unsigned)r->b, r->flags);
			} else {
				const struct allev *e = &all[j];

				if ((r->b >> 32) != e->pub || (uint32_t)r->b != e->idx ||
				    (r->c >> 32) != e->topic || (uint32_t)r->c != e->len)
					VFAIL("(a) seq %" PRIu64 " delivered as pub %u idx %u topic %s len %u, published as pub %u idx %u topic %s len %u",
					      seq, (unsigned)(r->b >> 32), (unsigned)r->b,
					      topics[(r->c >> 32) % NTOPICS], (unsigned)r->c,
					      e->pub, e->idx, topics[e->topic], e->len);
				if (!any[e->topic]) {
					VFAIL("(a) seq %" PRIu64 " topic %s matches no pattern",
					      seq, topics[e->topic]);
				} else if (r->flags & EVBUS_EVENT_RETAINED) {
					if (!e->retain || !e->len ||
					    (seq != last_ret[e->topic] &&
					     (seq < res->next_before || seq >= res->next_after)))
						VFAIL("(a) retained value seq %" PRIu64 " on %s (published %s, %u bytes): the topic's newest before the call is seq %" PRIu64 ", the call was between seqs %" PRIu64 " and %" PRIu64,
						      seq, topics[e->topic], e->retain ? "retained" : "not retained",
						      e->len, last_ret[e->topic], res->next_before,
						      res->next_after);
					if (rseq[e->topic])
						VFAIL("(a) two retained values on %s: seqs %" PRIu64 " and %" PRIu64,
						      topics[e->topic], rseq[e->topic], seq);
					rseq[e->topic] = seq;
				} else if (!past_takes(match, start, cfg->npat, e) &&
					   !(cfg->past == PAST_RETAINED && !r->flags &&
					     seq >= res->next_before)) {
					VFAIL("(a) seq %" PRIu64 " on %s (flags %#x) is before its subscription's start",
					      seq, topics[e->topic], r->flags);
				}
				j++;
			}
			prev = seq;
			delivered++;
		} else {
			uint64_t first = r->a, last = r->b, n = r->c, cnt = 0, first_m = 0, last_m = 0;

			if (!n || first > last || first <= prev || first <= lag_end ||
			    n > last - first + 1)
				VFAIL("(c) LAGGED lost %" PRIu64 " [%" PRIu64 ",%" PRIu64 "] flags %#x after seq %"
				      PRIu64 " / lag ending %" PRIu64, n, first, last, r->flags, prev,
				      lag_end);
			if ((r->flags & EVBUS_LAGGED_HISTORY) && live)
				VFAIL("(b) LAGGED [%" PRIu64 ",%" PRIu64 "] with EVBUS_LAGGED_HISTORY after live events",
				      first, last);
			for (missing = 0; j < nall && all[j].seq < first; j++)
				missing += past_takes(match, start, cfg->npat, &all[j]);
			if (missing)
				VFAIL("(d) %" PRIu64 " expected event(s) before LAGGED [%" PRIu64
				      ",%" PRIu64 "] neither delivered nor reported lost",
				      missing, first, last);
			for (; j < nall && all[j].seq <= last; j++) {
				if (past_takes(match, start, cfg->npat, &all[j])) {
					cnt++;
					if (!first_m)
						first_m = all[j].seq;
					last_m = all[j].seq;
				}
			}
			if (!r->flags && cfg->past != PAST_RETAINED) {
				if (cnt != n || first_m != first || last_m != last)
					VFAIL("(c) LAGGED [%" PRIu64 ",%" PRIu64 "] says lost %" PRIu64
					      ": %" PRIu64 " expected events in that range, from %" PRIu64
					      " to %" PRIu64, first, last, n, cnt, first_m, last_m);
				lost0 += n;
			} else if (n < cnt) {
				VFAIL("(c) LAGGED [%" PRIu64 ",%" PRIu64 "] flags %#x says lost %" PRIu64
				      ", but %" PRIu64 " expected events were published in that range",
				      first, last, r->flags, n, cnt);
			}
			if (nlagr < (int)(sizeof(lagr) / sizeof(lagr[0]))) {
				lagr[nlagr].a = first;
				lagr[nlagr++].b = last;
			}
			hlags += !!(r->flags & EVBUS_LAGGED_HISTORY);
			lag_end = last;
			lost += n;
			lags++;
		}
	}
	for (; j < nall; j++)
		remaining += past_takes(match, start, cfg->npat, &all[j]);
	for (size_t k = 0; k < nall; k++)
		expected += past_takes(match, start, cfg->npat, &all[k]);

	if (cfg->past == PAST_LAST && res->pat_ok[0] && res->n) {
		uint64_t s0 = rec[0].a, m_before = 0, m_after = 0, m_hist = 0, want;

		for (size_t k = 0; k < nall; k++) {
			const struct allev *e = &all[k];

			if (!match[0][e->topic])
				continue;
			m_before += e->seq >= s0 && e->seq < res->next_before;
			m_after += e->seq >= s0 && e->seq < res->next_after;
			m_hist += res->oldest_after && e->seq >= res->oldest_after &&
				  e->seq < res->next_before;
		}
		if (m_before > cfg->last_k)
			VFAIL("LAST %u: the stream starts at seq %" PRIu64 ", %" PRIu64
			      " matching events before the call (next seq %" PRIu64 ")",
			      cfg->last_k, s0, m_before, res->next_before);
		/* A history too small for some events has not kept them all. */
		want = m_hist < cfg->last_k ? m_hist : cfg->last_k;
		if (sh->hist_cap >= 65536 && m_after < want)
			VFAIL("LAST %u: the stream starts at seq %" PRIu64 ", %" PRIu64
			      " matching events up to just after the call (next seq %" PRIu64
			      "), but the history held %" PRIu64 " from seq %" PRIu64,
			      cfg->last_k, s0, m_after, res->next_after, m_hist,
			      res->oldest_after);
	}
	if (cfg->past == PAST_RETAINED && res->pat_ok[0] && res->drained) {
		for (int t = 0; t < NTOPICS; t++) {
			bool covered = false;

			if (!match[0][t] || !last_ret[t] || !last_ret_len[t] || window[t] || rseq[t])
				continue;
			for (int k = 0; k < nlagr && !covered; k++)
				covered = lagr[k].a <= last_ret[t] && last_ret[t] <= lagr[k].b;
			if (!covered)
				VFAIL("(d) the retained value of %s (seq %" PRIu64
				      ") neither delivered nor reported lost", topics[t], last_ret[t]);
		}
	}

	if (res->drained) {
		if (remaining)
			VFAIL("(d) %" PRIu64 " trailing expected event(s) neither delivered nor reported lost",
			      remaining);
		if (res->st.queued_events || res->st.queued_bytes)
			VFAIL("STATS after draining: queued %llu events %llu bytes",
			      (unsigned long long)res->st.queued_events,
			      (unsigned long long)res->st.queued_bytes);
		if (cfg->past == PAST_RETAINED ? res->st.lost != lost :
		    res->st.lost < lost0 || res->st.lost > lost)
			VFAIL("STATS after draining: lost %llu, LAGGED records said %" PRIu64
			      " (%" PRIu64 " without EVBUS_LAGGED_HISTORY)",
			      (unsigned long long)res->st.lost, lost, lost0);
		if (res->still_replaying)
			VFAIL("fdinfo after draining: evbus-replaying %d", res->still_replaying);
	}
	if (res->st.delivered != delivered || res->st.lag_records != lags ||
	    res->st.subscriptions != (uint32_t)nsub || res->st.published)
		VFAIL("STATS: delivered %llu (read %" PRIu64 "), lag_records %llu (read %" PRIu64 "), subscriptions %u, published %llu",
		      (unsigned long long)res->st.delivered, delivered,
		      (unsigned long long)res->st.lag_records, lags,
		      res->st.subscriptions, (unsigned long long)res->st.published);
	if (res->delivered != delivered || res->lags != lags || res->lost_reported != lost)
		VFAIL("internal: stream and counters disagree");

	printf("  sub %d %s", s, past_names[cfg->past]);
	if (cfg->past == PAST_LAST)
		printf(" %u", cfg->last_k);
	printf(" [%s] seqs %" PRIu64 "..%" PRIu64 " ring %u %s %s/%s: expected %" PRIu64
	       " delivered %" PRIu64 " (replayed %" PRIu64 ", retained %" PRIu64 ") lost %"
	       PRIu64 " (%" PRIu64 " LAGGED, %" PRIu64 " HISTORY)%s\n",
	       pats, res->next_before, res->next_after, res->ring_size,
	       policy_name(res->ring_policy), mode_names[cfg->mode], prof_names[cfg->prof],
	       expected, delivered, res->replayed, res->retained, lost, lags, hlags,
	       nfail ? " FAIL" : " ok");
	check_result(nfail == 0, "subscriber", "sub %d: %d problem(s)", s, nfail);

	tot.delivered += delivered;
	tot.lost += lost;
	tot.lags += lags;
	tot.matching += expected;
	tot.past_subs[cfg->past]++;
	tot.replayed += res->replayed;
	tot.retained_ev += res->retained;
	tot.hist_lags += hlags;
	*lost_total += res->st.lost;
	return res->st.delivered + res->st.lost + res->st.queued_events;
}

/* ------------------------------------------------------------- a round */

static void gen_past_cfg(struct rng *r, struct sub_cfg *c);

static void gen_sub_cfg(struct rng *r, struct sub_cfg *c)
{
	uint32_t n;

	memset(c, 0, sizeof(*c));
	c->npat = 1 + rnd(r, MAXPAT);
	for (int p = 0; p < c->npat; p++)
		gen_pattern(r, c->pat[p]);
	n = rnd(r, 10);
	if (n < 5)
		c->ring_req = 1u << (12 + rnd(r, 9));		/* 4 KiB .. 1 MiB */
	else if (n < 8)
		c->ring_req = 4096 + rnd(r, (1u << 20) - 4096 + 1);
	else
		c->ring_req = 0;				/* the default */
	if (c->ring_req && c->ring_req < opt.ring_min)
		c->ring_req = opt.ring_min;
	if (c->ring_req > opt.ring_max)
		c->ring_req = opt.ring_max;
	c->policy = rnd(r, 2);
	c->mode = rnd(r, NMODES);
	n = rnd(r, 20);
	c->prof = n < 5 ? PROF_FAST : n < 12 ? PROF_SLOW : n < 18 ? PROF_STALL : PROF_ABANDON;
	n = rnd(r, 3);
	c->read_max = n == 0 ? 2 * MAXREC : n == 1 ? 65536 : READBUF_MAX;
	c->abandon_after = rnd(r, 200);
	c->mmap = rnd(r, 3) == 0;
	c->seed = splitmix64(&r->s);
	/* #15: a third reach into the past (at least one a round, see
	 * run_round()), and read it all. */
	if (opt.history && rnd(r, 3) == 0)
		gen_past_cfg(r, c);
}

/* A subscriber that reaches into the past (#15). */
static void gen_past_cfg(struct rng *r, struct sub_cfg *c)
{
	uint32_t n = rnd(r, 10);

	c->past = n < 5 ? PAST_SINCE : n < 8 ? PAST_LAST : PAST_RETAINED;
	if (c->past != PAST_SINCE)
		c->npat = 1;
	/* Now and then every topic, so that no seq may be missing. */
	if (rnd(r, 3) == 0)
		strcpy(c->pat[0], rnd(r, 2) ? ">" : "st.>");
	if (c->prof == PROF_ABANDON)
		c->prof = PROF_SLOW;
	c->delay_pct = rnd(r, 60);
	for (int p = 0; p < c->npat; p++) {
		n = rnd(r, 10);
		c->since_back[p] = n < 2 ? 0 : n < 5 ? 1 + (int)rnd(r, 50) :
				   n < 8 ? 51 + (int)rnd(r, 3000) : -1;
	}
	n = rnd(r, 10);
	c->last_k = n < 4 ? 1 + rnd(r, 8) : n < 8 ? 9 + rnd(r, 300) : 1000000;
}

/*
 * #17: this round's lossless subscribers (sh->ll_mode): about half the
 * subscribers that do not reach into the past, at least one, with a ring
 * of at least 8 KiB (an event of 4 KiB always fits).  Keeping up: fast or
 * slow readers, a wait of LL_KEEPUP_WAIT_NS (none may lose anything: a
 * call waits once, so no reader may stall in such a round).  Stalling:
 * short waits (1..30 ms, 1..5 for a reader that abandons), at least one
 * reader that stalls or abandons, rings of 8..64 KiB so that they fill.
 */
static void gen_lossless(struct rng *r)
{
	int n = 0, slow = 0, first = -1;

	for (int s = 0; s < opt.subs; s++)
		sh->scfg[s].wait_ns = 0;
	if (sh->ll_mode == LL_NONE)
		return;
	/* About half, and at least one (the first that does not replay). */
	for (int pass = 0; pass < 2 && !n; pass++) {
		for (int s = 0; s < opt.subs; s++) {
			struct sub_cfg *c = &sh->scfg[s];

			if (c->past || (pass ? n != 0 : rnd(r, 2) != 0))
				continue;
			n++;
			if (first < 0)
				first = s;
			if (sh->ll_mode == LL_KEEPUP) {
				if (c->prof == PROF_STALL || c->prof == PROF_ABANDON)
					c->prof = PROF_SLOW;
				c->wait_ns = LL_KEEPUP_WAIT_NS;
				if (c->ring_req && c->ring_req < 8192)
					c->ring_req = 8192;
			} else {
				slow += c->prof == PROF_STALL || c->prof == PROF_ABANDON;
				c->wait_ns = c->prof == PROF_ABANDON ? 1000000 + rnd(r, 4000000) :
					     1000000 + rnd(r, 29000000);
				/* Small enough for a stall to fill it. */
				c->ring_req = 8192u << rnd(r, 4);
			}
		}
	}
	if (sh->ll_mode == LL_STALL && first >= 0 && !slow)
		sh->scfg[first].prof = PROF_STALL;
}

/*
 * #17: this round's rate-limited publishers: a third, at least one, each
 * with a file limit of 500..20500 events/s (a burst of 1..64), sometimes
 * 1..16 MiB/s of payload too (a burst of at least 64 KiB: every payload
 * fits); most wait for their tokens (EVBUS_PUB_WAIT, 0.5..1.5 s), some of
 * those with an itimer interrupting them, the rest are refused (EAGAIN).
 */
static void gen_rate(struct rng *r)
{
	int any = 0;

	for (int p = 0; p < opt.pubs; p++) {
		struct pub_cfg *pc = &sh->pcfg[p];

		memset(pc, 0, sizeof(*pc));
		if (!opt.rate || (rnd(r, 3) && (any || p + 1 < opt.pubs)))
			continue;
		any = 1;
		pc->rate = 1;
		pc->lim.events_per_sec = 500 + rnd(r, 20000);
		pc->lim.events_burst = 1 + rnd(r, 64);
		if (rnd(r, 2)) {
			pc->lim.bytes_per_sec = (uint64_t)(1 + rnd(r, 16)) << 20;
			pc->lim.bytes_burst = 65536 + rnd(r, 1u << 20);
		}
		pc->wait = rnd(r, 5) != 0;
		pc->deadline_ns = 500000000ULL + rnd(r, 1000) * 1000000ULL;
		pc->intr = pc->wait && !rnd(r, 3);
	}
}

/* Wait for pids[0..n) until deadline; kill them all past it. */
static int wait_all(pid_t *pids, int n, uint64_t deadline, const char *what)
{
	int left = n, bad = 0, status;

	while (left) {
		for (int i = 0; i < n; i++) {
			pid_t p;

			if (pids[i] <= 0)
				continue;
			p = waitpid(pids[i], &status, WNOHANG);
			if (p == 0)
				continue;
			if (p < 0) {
				printf("  FAIL %s %d (pid %d): waitpid: %s\n", what, i,
				       pids[i], strerror(errno));
				bad++;
			} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				printf("  FAIL %s %d (pid %d) ended with status %#x\n", what, i,
				       p, status);
				bad++;
			}
			pids[i] = -pids[i];
			left--;
		}
		if (!left)
			break;
		if (now_ns() > deadline) {
			printf("  FAIL %s: still running past the deadline, killing them\n", what);
			for (int i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			deadline = UINT64_MAX;
			bad++;
		}
		sleep_us(2000);
	}
	return bad;
}

/*
 * Clear every retained value on fd's bus (#15): an EVBUS_SUB_RETAINED
 * subscription to ">" finds them, an empty retained publish clears each.
 * Retained values outlive rounds, so each round starts without any (and
 * the run leaves none).  Returns how many are left, or -1.
 */
static long clear_retained(int fd, uint64_t *cleared)
{
	static uint8_t buf[READBUF_MAX];
	struct evbus_history h;
	int pass;

	for (pass = 0; pass < 16; pass++) {
		struct evbus_subscribe sb;
		struct evbus_rec_hdr *rh;
		ssize_t n, left;
		int rfd;

		if (hist_get(fd, &h))
			return -1;
		if (!h.retained)
			return 0;
		rfd = evt_open_nb();
		if (rfd < 0)
			return -1;
		evt_set_ring(rfd, opt.ring_max, EVBUS_POLICY_DROP_NEWEST);
		memset(&sb, 0, sizeof(sb));
		sb.size = sizeof(sb);
		sb.pattern = (uintptr_t)">";
		sb.pattern_len = 1;
		sb.flags = EVBUS_SUB_RETAINED;
		if (ioctl(rfd, EVBUS_IOC_SUBSCRIBE2, &sb)) {
			close(rfd);
			return -1;
		}
		while ((n = read(rfd, buf, sizeof(buf))) > 0) {
			evt_for_each_rec(rh, buf, n, left) {
				const struct evbus_event *ev = (const void *)rh;
				struct evbus_pub p;

				if (rh->kind != EVBUS_REC_EVENT || !(ev->flags & EVBUS_EVENT_RETAINED))
					continue;
				memset(&p, 0, sizeof(p));
				p.topic = (uintptr_t)EVBUS_EVENT_TOPIC(ev);
				p.topic_len = ev->topic_len;
				p.flags = EVBUS_PUB_RETAIN;
				if (!ioctl(fd, EVBUS_IOC_PUBLISH, &p))
					(*cleared)++;
			}
		}
		close(rfd);
	}
	return hist_get(fd, &h) ? -1 : (long)h.retained;
}

/* EVBUS_HISTORY_SET capacity on fd's bus: 0 or -errno. */
static int hist_set(int fd, uint64_t capacity, struct evbus_history *h)
{
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	h->flags = EVBUS_HISTORY_SET;
	h->capacity = capacity;
	return ioctl(fd, EVBUS_IOC_HISTORY, h) ? -errno : 0;
}

/*
 * A round's history (#15): no retained values, an empty history of
 * capacity bytes (so nothing replayed is from an earlier round), and the
 * seq the round's first event will get.  0, or 1 after a FAIL line.
 */
static int round_history(uint64_t capacity, uint64_t *base)
{
	struct evbus_history h;
	uint64_t cleared = 0;
	long left;
	int fd = evt_open(), ret;

	if (fd < 0) {
		printf("  FAIL history: open: %s\n", strerror(errno));
		return 1;
	}
	left = clear_retained(fd, &cleared);
	ret = hist_set(fd, capacity, &h);
	if (left || ret || h.capacity != capacity || h.events || h.bytes) {
		printf("  FAIL history: %ld retained values left (%" PRIu64 " cleared); EVBUS_HISTORY_SET %" PRIu64
		       ": %s, capacity %llu, %llu events\n", left, cleared, capacity,
		       ret ? strerror(-ret) : "ok", (unsigned long long)h.capacity,
		       (unsigned long long)h.events);
		close(fd);
		return 1;
	}
	*base = h.next_seq;
	close(fd);
	return 0;
}

static int run_round(int round, uint64_t target, double secs, uint64_t *min_pub)
{
	struct rng r = { mix3(opt.seed, round, 0x726f756e64ULL) };
	pid_t spid[MAXS], ppid[MAXP];
	int64_t st0[NSTATS], st1[NSTATS];
	bool have_stats = false;
	size_t shsize = sizeof(struct shared);
	size_t plsize, slsize, nall = 0;
	struct allev *all;
	uint64_t per_topic[NTOPICS] = { 0 }, deliveries = 0, lost_total = 0;
	uint64_t t0, pub_total = 0, pub_bytes = 0, ioctl_fail = 0, read_bytes = 0;
	uint64_t lags = 0, read_events = 0, err_enomem = 0, err_efault = 0;
	uint64_t batch_first_fail = 0;
	uint64_t replayed_read = 0, replayed_max = 0;
	/* #17: what the rate and lossless counters must move by */
	uint64_t ll_lost = 0, refused = 0, interrupted = 0, waited = 0, err_other = 0, hidden = 0;
	long long rl0[NRLSTATS], rl1[NRLSTATS];
	int past = 0, retained_subs = 0;
	long long replayed0 = -1, replayed1;
	int bad = 0;
	size_t i;

	pcap = target + BATCH_MAX + 64;
	scap = 2 * pcap * opt.pubs + 64;
	plsize = (size_t)opt.pubs * pcap * sizeof(struct pubrec);
	slsize = (size_t)opt.subs * scap * sizeof(struct srec);
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	plog = mmap(NULL, plsize, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	slog = mmap(NULL, slsize, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED || plog == MAP_FAILED || slog == MAP_FAILED) {
		fprintf(stderr, "stress: mmap: %m\n");
		exit(3);
	}
	for (int s = 0; s < opt.subs; s++) {
		gen_sub_cfg(&r, &sh->scfg[s]);
		past += sh->scfg[s].past != PAST_NONE;
		retained_subs += sh->scfg[s].past == PAST_RETAINED;
	}
	if (opt.history && !past)
		gen_past_cfg(&r, &sh->scfg[rnd(&r, opt.subs)]);
	/* #17: lossless subscribers by turns, rate-limited publishers in every round */
	sh->ll_mode = opt.lossless ? round % NLL : LL_NONE;
	gen_lossless(&r);
	gen_rate(&r);
	sh->target = target;
	sh->round_ns = (uint64_t)(secs * 1e9);
	if (opt.history) {
		static const uint64_t caps[] = { 1u << 20, 1u << 20, 256u << 10, 64u << 10,
						 16u << 10, 4096 };
		uint32_t n = rnd(&r, 10);

		/* None sometimes, but some for a retained subscriber. */
		sh->retain_pct = n < 3 && !retained_subs ? 0 : n < 7 ? 5 : 25;
		sh->hist_cap = caps[rnd(&r, sizeof(caps) / sizeof(caps[0]))];
		if (round_history(sh->hist_cap, &sh->round_base)) {
			bad++;
			sh->round_base = 1;
		}
	}

	if (opt.sysfs) {
		rl_stats(rl0);
		have_stats = read_stats(st0);
		if (!have_stats && round == 1)
			printf("stress: /sys/kernel/evbus/stats unreadable, skipping the global counter checks\n");
		replayed0 = evt_read_num("/sys/kernel/evbus/stats/replayed");
	}

	printf("round %d: %d publishers, %d subscribers, up to %" PRIu64 " events each or %.1fs\n",
	       round, opt.pubs, opt.subs, target, secs);
	if (opt.history)
		printf("  history %" PRIu64 " bytes from seq %" PRIu64 ", %d%% retained publishes\n",
		       sh->hist_cap, sh->round_base, sh->retain_pct);
	if (opt.lossless) {
		printf("  lossless subscribers (#17): %s", ll_names[sh->ll_mode]);
		for (int s = 0; s < opt.subs; s++)
			if (sh->scfg[s].wait_ns)
				printf(", sub %d (%s, %.3f ms)", s, prof_names[sh->scfg[s].prof],
				       sh->scfg[s].wait_ns / 1e6);
		printf("\n");
	}
	fflush(stdout);
	nchildren = 0;
	for (int s = 0; s < opt.subs; s++) {
		spid[s] = fork();
		if (spid[s] < 0) {
			fprintf(stderr, "stress: fork: %m\n");
			exit(3);
		}
		if (!spid[s])
			run_subscriber(s);
		children[nchildren++] = spid[s];
	}
	t0 = now_ns();
	while (load_int(&sh->ready) < opt.subs) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0 || now_ns() - t0 > 120000000000ULL) {
			printf("  FAIL subscribers did not get ready (%d of %d)\n",
			       load_int(&sh->ready), opt.subs);
			for (int s = 0; s < opt.subs; s++) {
				if (sh->sres[s].err[0])
					printf("  sub %d: %s\n", s, sh->sres[s].err);
				kill(spid[s], SIGKILL);
			}
			while (wait(NULL) > 0)
				;
			tot.checks_fail++;
			munmap(sh, shsize);
			munmap(plog, plsize);
			munmap(slog, slsize);
			sh = NULL;
			return 1;
		}
		sleep_us(1000);
	}
	for (int p = 0; p < opt.pubs; p++) {
		ppid[p] = fork();
		if (ppid[p] < 0) {
			fprintf(stderr, "stress: fork: %m\n");
			exit(3);
		}
		if (!ppid[p])
			run_publisher(p, mix3(opt.seed, round, 1000 + p));
		sh->pub_pid[p] = ppid[p];
		children[nchildren++] = ppid[p];
	}
	t0 = now_ns();
	sh->deadline_ns = t0 + (uint64_t)(secs * 1e9);
	store_int(&sh->go, 1);
	bad += wait_all(ppid, opt.pubs, sh->deadline_ns + 180000000000ULL, "publisher");
	store_int(&sh->done, 1);
	bad += wait_all(spid, opt.subs, now_ns() + 180000000000ULL, "subscriber");
	nchildren = 0;
	printf("  ran %.2fs\n", (now_ns() - t0) / 1e9);

	if (have_stats && !read_stats(st1))
		have_stats = false;
	if (have_stats)
		rl_stats(rl1);

	/* Every published event, in seq order. */
	for (int p = 0; p < opt.pubs; p++)
		nall += sh->pres[p].n;
	all = malloc((nall + 1) * sizeof(*all));
	if (!all) {
		fprintf(stderr, "stress: out of memory\n");
		exit(3);
	}
	nall = 0;
	for (int p = 0; p < opt.pubs; p++) {
		struct pub_res *pr = &sh->pres[p];
		const struct pubrec *lg = plog + (size_t)p * pcap;
		int nfail = 0;

		for (uint64_t k = 0; k < pr->n; k++) {
			all[nall].seq = lg[k].seq;
			all[nall].idx = lg[k].idx;
			all[nall].topic = lg[k].topic & ~PUBREC_RETAIN;
			all[nall].retain = !!(lg[k].topic & PUBREC_RETAIN);
			all[nall].len = lg[k].len;
			all[nall].pub = p;
			nall++;
			per_topic[lg[k].topic & ~PUBREC_RETAIN]++;
			if (k && (lg[k].seq <= lg[k - 1].seq || lg[k].idx <= lg[k - 1].idx))
				nfail++;
		}
		pub_total += pr->n;
		pub_bytes += pr->payload_bytes;
		if (pr->n < *min_pub)
			*min_pub = pr->n;
		ioctl_fail += pr->ioctl_fail;
		err_enomem += pr->pub_err_enomem;
		err_efault += pr->pub_err_efault;
		err_other += pr->pub_err_other;
		if (sh->pcfg[p].rate) {
			refused += pr->refused;
			interrupted += pr->interrupted;
			hidden += pr->rate_hidden;
			waited += pr->rt.waited;
			tot.rate_pubs++;
			tot.rate_events += pr->n;
			tot.rate_refused += pr->refused;
			tot.rate_interrupted += pr->interrupted;
			tot.rate_waited += pr->rt.waited;
		}
		batch_first_fail += pr->batch_first_fail;
		if (pr->errors || pr->fatal)
			printf("  pub %d: %" PRIu64 " error(s), first: %s\n", p, pr->errors, pr->err);
		if (nfail)
			printf("  pub %d: log not in seq/index order\n", p);
		if (pr->st.published != pr->n)
			printf("  pub %d: STATS published %llu, logged %" PRIu64 "\n", p,
			       (unsigned long long)pr->st.published, pr->n);
		if (pr->st.capacity || pr->st.subscriptions || pr->st.delivered)
			printf("  pub %d: STATS of a publisher-only file: capacity %u subscriptions %u delivered %llu\n",
			       p, pr->st.capacity, pr->st.subscriptions,
			       (unsigned long long)pr->st.delivered);
		printf("  pub %d: published %" PRIu64 " (%" PRIu64 " single, %" PRIu64
		       " in %" PRIu64 " batches)%s",
		       p, pr->n, pr->ev_single, pr->ev_batch, pr->calls_batch,
		       pr->efault_batches ? "" : "");
		if (opt.faults)
			printf(", ENOMEM open %" PRIu64 " single %" PRIu64 " batch %" PRIu64
			       " partial %" PRIu64, pr->enomem_open, pr->enomem_single,
			       pr->enomem_batch, pr->partial_batches);
		if (pr->efault_batches)
			printf(", read-only batches %" PRIu64, pr->efault_batches);
		if (sh->pcfg[p].rate)
			printf(", rate %llu/s burst %llu%s%s%s: %" PRIu64 " refused, %" PRIu64
			       " interrupted, %llu waited",
			       (unsigned long long)sh->pcfg[p].lim.events_per_sec,
			       (unsigned long long)sh->pcfg[p].lim.events_burst,
			       sh->pcfg[p].lim.bytes_per_sec ? " and bytes" : "",
			       sh->pcfg[p].wait ? ", waiting" : "",
			       sh->pcfg[p].intr ? " (itimer)" : "", pr->refused, pr->interrupted,
			       (unsigned long long)pr->rt.waited);
		printf("\n");
		check_result(!pr->errors && !pr->fatal && !nfail && pr->st.published == pr->n &&
			     !pr->st.capacity && !pr->st.subscriptions,
			     "publisher", "pub %d", p);
		tot.calls_single += pr->calls_single;
		tot.calls_batch += pr->calls_batch;
		tot.ev_batch += pr->ev_batch;
		tot.enomem_open += pr->enomem_open;
		tot.enomem_single += pr->enomem_single;
		tot.enomem_batch += pr->enomem_batch;
		tot.partial_batches += pr->partial_batches;
		tot.batch_nowriteback += pr->batch_nowriteback;
		tot.efault_batches += pr->efault_batches;
		tot.retain_pubs += pr->retain_pubs;
		tot.retain_clears += pr->retain_clears;
	}
	qsort(all, nall, sizeof(*all), cmp_allev);
	for (i = 1; i < nall; i++) {
		if (all[i].seq == all[i - 1].seq) {
			check_result(false, "publishers", "seq %" PRIu64 " logged by pub %u and pub %u",
				     all[i].seq, all[i - 1].pub, all[i].pub);
			break;
		}
	}
	tot.published += pub_total;

	for (int s = 0; s < opt.subs; s++) {
		struct sub_res *sr = &sh->sres[s];

		if (sh->scfg[s].past) {
			deliveries += verify_past(s, all, nall, &lost_total);
			if (sh->scfg[s].past != PAST_RETAINED) {
				replayed_read += sr->replayed;
				replayed_max += sr->replayed + sr->st.lost + sr->st.queued_events;
			}
		} else {
			deliveries += verify_sub(s, all, nall, per_topic, &lost_total, &ll_lost);
		}
		ioctl_fail += sr->ioctl_fail;
		read_bytes += sr->read_bytes;
		lags += sr->lags;
		read_events += sr->delivered;
		tot.enomem_open += sr->enomem_open;
		tot.enomem_sub += sr->enomem_sub;
		tot.enomem_ring += sr->enomem_ring;
		tot.small_einval += sr->small_einval;
		tot.readv_calls += sr->readv_calls;
		tot.dontneed_reads += sr->dontneed_reads;
		tot.guard_reads += sr->guard_reads;
		tot.guard_efault += sr->guard_efault;
		tot.map_takes += sr->map_takes;
		tot.map_taken_back += sr->map_taken_back;
		tot.mapped_readers += sh->scfg[s].mmap;
		tot.resize_ok += sr->resize_ok;
		tot.resize_ebusy += sr->resize_ebusy;
		tot.policy_flips += sr->policy_flips;
	}

	if (have_stats) {
		struct {
			int i;
			int64_t want;
		} exp[] = {
			{ S_PUBLISHED, (int64_t)pub_total },
			{ S_PUBLISHED_BYTES, (int64_t)pub_bytes },
			{ S_DELIVERIES, (int64_t)deliveries },
			{ S_LOST, (int64_t)lost_total },
			{ S_READ_EVENTS, (int64_t)read_events },
			{ S_READ_BYTES, (int64_t)read_bytes },
			{ S_LAG_RECORDS, (int64_t)lags },
			{ S_QUEUED_EVENTS, 0 },
			{ S_QUEUED_BYTES, 0 },
			{ S_SUBSCRIPTIONS, 0 },
			{ S_OPEN_FILES, 0 },
			{ S_RING_BYTES, 0 },
			{ S_ERR_EINVAL, 0 },
			{ S_ERR_EFAULT, (int64_t)err_efault },
			{ S_ERR_EMSGSIZE, 0 },
			{ S_ERR_ENOMEM, (int64_t)err_enomem },
			{ S_ERR_EBADF, 0 },
			{ S_ERR_OTHER, (int64_t)err_other },	/* #17: refused, interrupted */
			{ S_IOCTL_ERRORS, (int64_t)ioctl_fail },
		};
		int nfail = 0;

		for (i = 0; i < sizeof(exp) / sizeof(exp[0]); i++) {
			int64_t d = st1[exp[i].i] - st0[exp[i].i];

			if (d != exp[i].want) {
				printf("  sysfs %s moved by %" PRId64 ", expected %" PRId64 "\n",
				       stat_names[exp[i].i], d, exp[i].want);
				if (exp[i].i == S_IOCTL_ERRORS && batch_first_fail &&
				    exp[i].want - d == (int64_t)batch_first_fail)
					printf("  (short by the %" PRIu64 " batches that failed at their first event: known module bug, see tests/stress/batch-repro.c, ioctl-errors)\n",
					       batch_first_fail);
				nfail++;
			} else if (opt.verbose) {
				printf("    sysfs %s moved by %" PRId64 " as expected\n",
				       stat_names[exp[i].i], d);
			}
		}
		/*
		 * #17: refusals, waits and interruptions are the rate-limited
		 * publishers'; every loss at a lossless ring is one after a
		 * wait ran out (every publisher has the readers' uid).
		 */
		{
			struct {
				int i;
				long long want, slack;
			} rl[] = {
				{ R_REFUSED_FILE, (long long)refused, (long long)hidden },
				{ R_REFUSED_USER, 0, 0 },
				{ R_WAITED, (long long)waited, 0 },
				{ R_INTERRUPTED, (long long)interrupted, (long long)hidden },
				{ R_LL_EXPIRED, (long long)ll_lost, 0 },
				{ R_LL_FOREIGN, 0, 0 },
			};

			for (i = 0; i < sizeof(rl) / sizeof(rl[0]); i++) {
				long long d = rl1[rl[i].i] - rl0[rl[i].i];

				if (rl0[rl[i].i] < 0 || rl1[rl[i].i] < 0)
					continue;	/* a module without them */
				if (d < rl[i].want || d > rl[i].want + rl[i].slack) {
					printf("  sysfs %s moved by %lld, expected %lld (+%lld)\n",
					       rl_names[rl[i].i], d, rl[i].want, rl[i].slack);
					nfail++;
				}
			}
			if (rl0[R_LL_WAITS] >= 0 && rl1[R_LL_WAITS] >= 0)
				tot.ll_waits += rl1[R_LL_WAITS] - rl0[R_LL_WAITS];
		}
		/* #15: replayed counts what replay queued, read or lost since. */
		replayed1 = evt_read_num("/sys/kernel/evbus/stats/replayed");
		if (replayed0 >= 0 && replayed1 >= 0 &&
		    (replayed1 - replayed0 < (long long)replayed_read ||
		     replayed1 - replayed0 > (long long)replayed_max)) {
			printf("  sysfs replayed moved by %lld, expected %" PRIu64 "..%" PRIu64 "\n",
			       replayed1 - replayed0, replayed_read, replayed_max);
			nfail++;
		}
		printf("  sysfs: published %+" PRId64 " deliveries %+" PRId64 " lost %+" PRId64
		       " read_events %+" PRId64 " lag_records %+" PRId64 ", queued_events %" PRId64
		       " -> %" PRId64 "%s\n",
		       st1[S_PUBLISHED] - st0[S_PUBLISHED], st1[S_DELIVERIES] - st0[S_DELIVERIES],
		       st1[S_LOST] - st0[S_LOST], st1[S_READ_EVENTS] - st0[S_READ_EVENTS],
		       st1[S_LAG_RECORDS] - st0[S_LAG_RECORDS], st0[S_QUEUED_EVENTS],
		       st1[S_QUEUED_EVENTS], nfail ? " FAIL" : " ok");
		check_result(!nfail, "sysfs", "round %d: %d counter(s) off", round, nfail);
	}
	if (bad)
		check_result(false, "processes", "round %d: %d process(es) failed", round, bad);
	free(all);
	munmap(sh, shsize);
	munmap(plog, plsize);
	munmap(slog, slsize);
	sh = NULL;
	fflush(stdout);
	return bad;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: evbus-stress [--publishers P] [--subscribers S] [--events N]\n"
		"                    [--duration SECS] [--round-secs SECS] [--round-events N]\n"
		"                    [--seed X] [--faults] [--fault-probability PCT]\n"
		"                    [--efault-batches PCT] [--no-sysfs] [--no-history]\n"
		"                    [--no-lossless] [--no-rate] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "publishers", required_argument, NULL, 'p' },
		{ "subscribers", required_argument, NULL, 's' },
		{ "events", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "round-secs", required_argument, NULL, 'R' },
		{ "round-events", required_argument, NULL, 'E' },
		{ "seed", required_argument, NULL, 'S' },
		{ "faults", no_argument, NULL, 'f' },
		{ "fault-probability", required_argument, NULL, 'P' },
		{ "efault-batches", required_argument, NULL, 'e' },
		{ "no-sysfs", no_argument, NULL, 'N' },
		{ "no-history", no_argument, NULL, 'H' },
		{ "no-lossless", no_argument, NULL, 'L' },
		{ "no-rate", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool have_seed = false, have_duration = false;
	struct evbus_version ver;
	uint64_t start, per_pub_done = 0, min_pub;
	int c, fd, round = 0, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "p:s:n:d:S:fvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'p': opt.pubs = atoi(optarg); break;
		case 's': opt.subs = atoi(optarg); break;
		case 'n': opt.events = strtoull(optarg, NULL, 0); break;
		case 'd': opt.duration = atof(optarg); have_duration = true; break;
		case 'R': opt.round_secs = atof(optarg); break;
		case 'E': opt.round_events = strtoull(optarg, NULL, 0); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 0); have_seed = true; break;
		case 'f': opt.faults = true; break;
		case 'P': opt.fault_prob = atoi(optarg); break;
		case 'e': opt.efault_pct = atoi(optarg); break;
		case 'N': opt.sysfs = false; break;
		case 'H': opt.history = false; break;
		case 'L': opt.lossless = false; break;
		case 'T': opt.rate = false; break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc || opt.pubs < 1 || opt.pubs > MAXP || opt.subs < 1 ||
	    opt.subs > MAXS || opt.round_secs <= 0 || opt.round_events < 1 ||
	    opt.fault_prob < 0 || opt.fault_prob > 100 || opt.efault_pct < 0 ||
	    opt.efault_pct > 100 || opt.duration < 0)
		usage();
	if (!have_duration && !opt.events)
		opt.duration = 30;
	if (!have_seed)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	fd = evt_open();
	if (fd < 0) {
		fprintf(stderr, "stress: cannot open %s: %m (is evbus.ko loaded?)\n", EVBUS_DEV);
		return 3;
	}
	memset(&ver, 0, sizeof(ver));
	if (ioctl(fd, EVBUS_IOC_VERSION, &ver) || ver.abi_version != EVBUS_ABI_VERSION ||
	    !(ver.features & EVBUS_FEAT_BATCH) || !(ver.features & EVBUS_FEAT_WILDCARD) ||
	    !(ver.features & EVBUS_FEAT_DROP_NEWEST)) {
		fprintf(stderr, "stress: EVBUS_IOC_VERSION: ABI %u features %#llx: %m\n",
			ver.abi_version, (unsigned long long)ver.features);
		return 3;
	}
	/* #15: replaying and retained subscribers need the feature, and to
	 * own the bus (each round sets its history). */
	if (opt.history) {
		struct evbus_history h;
		int e;

		if (!(ver.features & EVBUS_FEAT_HISTORY) || !(ver.features & EVBUS_FEAT_RETAINED)) {
			printf("stress: note: no history or retained values in this module, none tested\n");
			opt.history = false;
		} else if ((e = hist_get(fd, &h)) || (e = hist_set(fd, h.capacity, &h))) {
			printf("stress: note: EVBUS_IOC_HISTORY: %s; history and retained values not tested\n",
			       strerror(-e));
			opt.history = false;
		} else {
			opt.hist_cap0 = h.capacity;
		}
	}
	/* #17: lossless subscribers and rate-limited publishers need them. */
	if ((opt.lossless && !(ver.features & EVBUS_FEAT_LOSSLESS)) ||
	    (opt.rate && !(ver.features & EVBUS_FEAT_RATE))) {
		printf("stress: note: no %s in this module, not tested\n",
		       !(ver.features & EVBUS_FEAT_LOSSLESS) ? "lossless rings" : "rate limits");
		opt.lossless &= !!(ver.features & EVBUS_FEAT_LOSSLESS);
		opt.rate &= !!(ver.features & EVBUS_FEAT_RATE);
	}
	close(fd);
	opt.max_payload = ver.max_payload < PAYLOAD_MAX ? ver.max_payload : PAYLOAD_MAX;
	opt.ring_max = ver.ring_max < (1u << 20) ? ver.ring_max : (1u << 20);
	opt.ring_min = 4096;
	{
		char buf[32];

		if (read_file("/sys/module/evbus/parameters/ring_min", buf, sizeof(buf)))
			opt.ring_min = strtoul(buf, NULL, 0);
		if (opt.ring_min > opt.ring_max)
			opt.ring_min = opt.ring_max;
	}

	if (opt.faults) {
		rc = fi_arm();
		if (rc) {
			printf("stress: --faults unavailable, nothing was run\n");
			return rc;
		}
		signal(SIGINT, on_stop);
		signal(SIGTERM, on_stop);
		signal(SIGHUP, on_stop);
	}

	printf("stress: seed %#" PRIx64 ", %d publishers, %d subscribers, ", opt.seed,
	       opt.pubs, opt.subs);
	if (opt.events)
		printf("%" PRIu64 " events per publisher, ", opt.events);
	if (opt.duration)
		printf("%.0fs, ", opt.duration);
	printf("rounds of %.0fs/%" PRIu64 " events%s%s\n", opt.round_secs, opt.round_events,
	       opt.faults ? ", fault injection " : "",
	       opt.faults ? (fi_page ? "(failslab + fail_page_alloc)" : "(failslab)") : "");
	if (opt.faults)
		printf("stress: failslab/fail_page_alloc probability %d%%, task-filter, armed around evbus open/ioctl\n",
		       opt.fault_prob);

	start = now_ns();
	for (;;) {
		double left = opt.duration ? opt.duration - (now_ns() - start) / 1e9 : 1e9;
		uint64_t target = opt.round_events;
		double secs = opt.round_secs;

		if (stop_requested)
			break;
		if (opt.events) {
			if (per_pub_done >= opt.events)
				break;
			if (opt.events - per_pub_done < target)
				target = opt.events - per_pub_done;
		}
		if (left < 0.5 && round)
			break;
		if (left < secs)
			secs = left < 0.5 ? 0.5 : left;
		round++;
		min_pub = UINT64_MAX;
		run_round(round, target, secs, &min_pub);
		tot.rounds = round;
		/* A round ends by count or by time: go on from the slowest publisher. */
		if (min_pub == UINT64_MAX || (!min_pub && !opt.duration))
			min_pub = target;	/* a broken round: do not loop forever */
		per_pub_done += min_pub;
	}
	fi_disarm();
	/* Leave the bus with its history as found and no retained value. */
	if (opt.history) {
		struct evbus_history h;
		uint64_t cleared = 0;
		long left = -1;
		int e = -EBADF;

		fd = evt_open();
		if (fd >= 0) {
			left = clear_retained(fd, &cleared);
			e = hist_set(fd, opt.hist_cap0, &h);
			close(fd);
		}
		if (left || e) {
			printf("stress: FAIL putting the bus back: %ld retained values left, history capacity %" PRIu64 ": %s\n",
			       left, opt.hist_cap0, e ? strerror(-e) : "ok");
			tot.checks_fail++;
		}
	}

	printf("\nstress: %d round(s) in %.1fs: published %" PRIu64 " events (%" PRIu64
	       " single calls, %" PRIu64 " batch calls), matching deliveries %" PRIu64
	       ", delivered %" PRIu64 ", lost %" PRIu64 " in %" PRIu64 " LAGGED records, %" PRIu64
	       " abandoning readers\n",
	       tot.rounds, (now_ns() - start) / 1e9, tot.published, tot.calls_single,
	       tot.calls_batch, tot.matching, tot.delivered, tot.lost, tot.lags,
	       tot.abandoned);
	printf("stress: reads: %" PRIu64 " too-small EINVAL, %" PRIu64 " readv, %" PRIu64
	       " fault-in, %" PRIu64 " guard-page (%" PRIu64 " EFAULT); ring: %" PRIu64
	       " policy flips, %" PRIu64 " resizes, %" PRIu64 " EBUSY\n",
	       tot.small_einval, tot.readv_calls, tot.dontneed_reads, tot.guard_reads,
	       tot.guard_efault, tot.policy_flips, tot.resize_ok, tot.resize_ebusy);
	printf("stress: mapped readers: %" PRIu64 ", %" PRIu64 " takes from the mapping, %"
	       PRIu64 " taken back by a publisher first\n",
	       tot.mapped_readers, tot.map_takes, tot.map_taken_back);
	if (opt.faults)
		printf("stress: ENOMEM: open %" PRIu64 ", subscribe %" PRIu64 ", set_ring %" PRIu64
		       ", publish %" PRIu64 ", batch %" PRIu64 " (+%" PRIu64 " partial; %" PRIu64
		       " failed batches left the header unwritten)\n",
		       tot.enomem_open, tot.enomem_sub, tot.enomem_ring, tot.enomem_single,
		       tot.enomem_batch, tot.partial_batches, tot.batch_nowriteback);
	if (tot.efault_batches)
		printf("stress: %" PRIu64 " read-only-descriptor batches\n", tot.efault_batches);
	if (opt.history)
		printf("stress: history (#15): %" PRIu64 " since, %" PRIu64 " last and %" PRIu64
		       " retained subscribers; %" PRIu64 " replayed and %" PRIu64
		       " retained events read, %" PRIu64 " history lags; %" PRIu64
		       " retained publishes (%" PRIu64 " clears)\n",
		       tot.past_subs[PAST_SINCE], tot.past_subs[PAST_LAST],
		       tot.past_subs[PAST_RETAINED], tot.replayed, tot.retained_ev, tot.hist_lags,
		       tot.retain_pubs, tot.retain_clears);
	if (opt.lossless || opt.rate)
		printf("stress: rate limits and lossless rings (#17): lossless subscribers %" PRIu64
		       " keeping up (none may lose) and %" PRIu64 " stalling or abandoning: %" PRIu64
		       " delivered, %" PRIu64 " lost after a wait (exact), %" PRIu64
		       " publisher waits; %" PRIu64 " rate-limited publishers: %" PRIu64
		       " events, %" PRIu64 " waited for tokens, %" PRIu64 " refused, %" PRIu64
		       " interrupted\n",
		       tot.ll_subs[LL_KEEPUP], tot.ll_subs[LL_STALL], tot.ll_delivered, tot.ll_lost,
		       tot.ll_waits, tot.rate_pubs, tot.rate_events, tot.rate_waited,
		       tot.rate_refused, tot.rate_interrupted);
	printf("stress: %" PRIu64 " passed, %" PRIu64 " failed\n", tot.checks_pass,
	       tot.checks_fail);
	return tot.checks_fail ? 1 : 0;
}
