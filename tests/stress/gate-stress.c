// SPDX-License-Identifier: GPL-2.0
/*
 * gate-stress: the approval gate (#16) under load, with approvers killed
 * and restarted, and exact accounting of every asking publish.
 *
 *   make stress-gate                 (tests/stress/stress.mk; VM, 60 s)
 *   tests/vm/run -- build/stress/gate-stress --duration 20
 *
 * Options (defaults in brackets):
 *   --publishers P     publisher processes [3]
 *   --subscribers S    subscriber processes [4]
 *   --duration SECS    wall-clock budget [10]
 *   --round-secs SECS  length of one round [4]
 *   --seed X           PRNG seed [time-based, printed]
 *   --no-kill          approvers are never killed
 *   --no-uring         publishers never ask through io_uring
 *   --verbose          per-round details
 *
 * Each round forks S subscribers, a chain of three approver processes on
 * "gs.>" (a modifier at priority 30, an allower at 20, a denier at 10)
 * and P publishers, for --round-secs.  Topics: gs.{a,b}.{0..3} asked with
 * EVBUS_PUB_ASK; gs.m.{0,1} asked because of an EVBUS_ASK rule (the
 * publisher does not ask; requests carry EVBUS_REQ_MANDATORY); gsn.0 under
 * an ask rule that no approver watches (ECONNREFUSED, always); gsx.0 asked
 * with nobody watching (published at once, not APPROVED).
 *
 * Every decision is a function of (seed, publisher, index), so everyone
 * can check it: the modifier modifies a quarter of the events (a new
 * payload and type, and for a third of those on gs.a.N the topic gs.b.N);
 * the denier denies a sixth with EKEYREJECTED.  Approvers now and then
 * answer late (past some deadlines: EVBUS_CANCEL_EXPIRED) or never; some
 * rounds give some of them a small ring (no room: the default at once).
 * The modifier and the denier are SIGKILLed and restarted at random
 * (their pending requests get their default at once: ECONNRESET for a
 * default of deny); the allower lives all round with a default of deny,
 * so an event that gets out went through its explicit allow.  Publishers
 * use the ioctl and io_uring (EVBUS_URING_PUBLISH, completing from task
 * work), deadlines of 1 ms .. 400 ms or 0 (approval_timeout_ms, set to
 * 300 for the run), and half of them take a SIGALRM every 15..40 ms (no
 * SA_RESTART: a waiting ioctl is withdrawn, EINTR).
 *
 * Checks:
 *  - every asking publish returns 0 with a seq (strictly increasing per
 *    publisher), or EKEYREJECTED (only for an event the denier denies),
 *    ETIMEDOUT, ECONNRESET, ENOBUFS, EINTR (ioctl only); gsn.0 always
 *    ECONNREFUSED, gsx.0 always 0; and within its deadline + 3 s;
 *  - approvers: each request is for one of their approvers, well formed,
 *    MANDATORY exactly on gs.m.*, the event seq 0 as the chain left it
 *    (modified exactly when MODIFIED, by a modifier's id, and APPROVED
 *    if flagged at all: a modifier restarted meanwhile is asked after
 *    the one asked first); a verdict gives 0, or
 *    ENOENT (expired, withdrawn); CANCELLED records are for their
 *    requests;
 *  - subscribers (">", "gs.>", "gs.*.*", "gs.*.1", "gs.m.*", "gsx.>":
 *    patterns that a rewritten topic does not leave): every event is well
 *    formed and carries exactly the published or the modified payload,
 *    type and topic; MODIFIED exactly for the modified ones, with a
 *    modifier's id; APPROVED on every gs.* event, never on gsx.0; every
 *    publish that returned 0 arrives exactly once at every subscriber
 *    whose pattern matches, with the seq the publisher got, or inside a
 *    LAGGED record (delivered + lost == matching); a publish that failed
 *    never arrives;
 *  - the bus's counters (EVBUS_IOC_BUS_STATS) moved by what the
 *    processes saw: approval_asked by every publish, approval_allowed by
 *    those that returned 0, approval_denied by the EKEYREJECTED ones,
 *    approval_withdrawn by the EINTR ones, approval_nobody by the
 *    ECONNREFUSED ones, approval_expired, _gone and _full by at least the
 *    ETIMEDOUT, ECONNRESET and ENOBUFS ones; approval_modified by the
 *    modified events (when the "gs.>" subscriber lost none);
 *    approval_requests by at least the requests the approvers read;
 *    approvers and approval_pending back to 0.  Those three outcome
 *    counters count steps that ended so, also when the approver's default
 *    was allow and the chain went on: the counters alone balance,
 *    approval_asked == approval_allowed + approval_denied +
 *    approval_expired + approval_gone + approval_full +
 *    approval_withdrawn + approval_nobody, only when every default is
 *    deny; rounds alternate between such a chain (checked exactly) and one
 *    whose modifier defaults to allow (checked as <=).
 *  - $sys.approval.denied: one announcement per refused publish (not the
 *    withdrawn ones), its cause and error matching the errno the
 *    publisher got, its file one of the publishers'.
 *
 * Output: a line per round and "stress: N passed, N failed" (N counts
 * rounds' checks).  Exit 0 all passed, 1 a check failed, 2 usage, 3 setup,
 * 4 skip (no /dev/evbus, or a module without the gate).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <liburing.h>

#include "evbus_test.h"

#define MAXP		8
#define MAXS		6
#define MAXEV		8192		/* per publisher per round */
#define MAXSEV		(MAXP * MAXEV)
#define MAXIDS		4096
#define NT		12
#define SLACK_NS	(3ULL * 1000 * 1000 * 1000)
#define TIMEOUT_MS	300		/* approval_timeout_ms for the run */
#define MAGIC_ORIG	0x47530001u
#define MAGIC_MOD	0x47530002u
#define DENY_ERR	EKEYREJECTED
#define ROLE_MOD	0
#define ROLE_ALLOW	1
#define ROLE_DENY	2

static const char *const topics[NT] = {
	"gs.a.0", "gs.a.1", "gs.a.2", "gs.a.3", "gs.b.0", "gs.b.1", "gs.b.2", "gs.b.3",
	"gs.m.0", "gs.m.1", "gsn.0", "gsx.0",
};
#define T_MAND0		8
#define T_NOBODY	10
#define T_NOAPPR	11

static const char *const sub_pats[] = { "gs.>", ">", "gs.*.*", "gs.*.1", "gs.m.*", "gsx.>" };

struct pubrec {
	uint64_t seq;		/* 0: failed */
	int32_t err;
	uint8_t topic, uring, done, pad;
};

struct subev {
	uint64_t seq;
	uint32_t idx;
	uint16_t pub;
	uint8_t mod, pad;
};

struct shm {
	volatile int go, stop_pub, stop_appr, drain;
	volatile int subs_ready;
	uint64_t seed;			/* the round's */
	uint32_t deflt[3];		/* the round's defaults per role */
	uint32_t small_ring[3], slow;
	uint32_t nev[MAXP];
	uint64_t file_id[MAXP];
	struct pubrec pub[MAXP][MAXEV];
	uint32_t nids[3];
	uint32_t ids[3][MAXIDS];
	uint64_t requests[3], verdicts[3], enoent[3], cancel_exp[3], cancel_wd[3];
	uint32_t nsub[MAXS];
	uint64_t sub_lost[MAXS];
	struct subev sub[MAXS][MAXSEV];
	unsigned long fails;
};
static struct shm *S;

static int g_pubs = 3, g_subs = 4, g_verbose, g_kill = 1, g_uring = 1;
static double g_duration = 10, g_round = 4;
static uint64_t g_seed;
static volatile sig_atomic_t g_alarms;

/* ------------------------------------------------------------- helpers */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return n ? (uint32_t)((mix(rng_state) >> 32) % n) : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (__atomic_add_fetch(&S->fails, 1, __ATOMIC_SEQ_CST) <= 30)
		fprintf(stderr, "gate-stress: FAIL: %s\n", buf);
}

/* The decisions about event (pub, idx) of this round. */
static uint64_t ev_hash(uint32_t pub, uint32_t idx)
{
	return mix(S->seed ^ ((uint64_t)pub << 40) ^ idx);
}

static bool dec_modify(uint64_t h)
{
	return h % 4 == 0;
}

static bool dec_rewrite(uint64_t h, uint32_t topic)
{
	return topic < 4 && (h >> 8) % 3 == 0;
}

static bool dec_deny(uint64_t h)
{
	return (h >> 16) % 6 == 0;
}

/* The payload of (pub, idx), original or modified, into buf: its length. */
static uint32_t make_payload(char *buf, uint32_t pub, uint32_t idx, uint32_t topic, bool mod)
{
	uint64_t h = ev_hash(pub, idx);
	uint32_t len = mod ? 16 + (uint32_t)((h >> 4) % 100) : 16 + (uint32_t)(h % 200), i;
	uint32_t hdr[4] = { mod ? MAGIC_MOD : MAGIC_ORIG, pub | topic << 16, idx, len };

	memcpy(buf, hdr, sizeof(hdr));
	for (i = 16; i < len; i++)
		buf[i] = (char)(mod ? (h ^ 0x5a) + i * 7 : h + i * 131);
	return len;
}

static uint32_t make_type(uint32_t pub, uint32_t idx, bool mod)
{
	uint32_t t = 0x47000000u | (pub << 16) | (idx & 0xffff);

	return mod ? t ^ 0x00ff00ffu : t;
}

/*
 * Is the event's content (topic, payload, type, flags) exactly what
 * (pub, idx) published, or what the modifier made of it?  NULL if so;
 * *pub, *idx, *mod filled.
 */
static const char *check_content(const struct evbus_event *ev, bool in_request,
				 uint32_t *pub, uint32_t *idx, bool *mod)
{
	static char want[256];
	const char *pay = EVBUS_EVENT_PAYLOAD(ev);
	uint32_t hdr[4], topic, wlen, modifier = EVBUS_EVENT_MODIFIER(ev->flags), i;
	bool found = false;

	if (ev->payload_len < 16)
		return "payload too short";
	memcpy(hdr, pay, sizeof(hdr));
	if (hdr[0] != MAGIC_ORIG && hdr[0] != MAGIC_MOD)
		return "payload magic";
	*mod = hdr[0] == MAGIC_MOD;
	*pub = hdr[1] & 0xffff;
	topic = hdr[1] >> 16;
	*idx = hdr[2];
	if (*pub >= MAXP || topic >= NT || *idx >= MAXEV)
		return "payload header";
	wlen = make_payload(want, *pub, *idx, topic, *mod);
	if (ev->payload_len != wlen || memcmp(pay, want, wlen))
		return "payload bytes";
	if (ev->type != make_type(*pub, *idx, *mod))
		return "type";
	if (*mod != !!(ev->flags & EVBUS_EVENT_MODIFIED))
		return "MODIFIED flag against the payload";
	if (*mod) {
		for (i = 0; i < S->nids[ROLE_MOD] && i < MAXIDS; i++)
			found |= S->ids[ROLE_MOD][i] == modifier;
		if (!found)
			return "modifier id not a modifier's";
		if (!dec_modify(ev_hash(*pub, *idx)))
			return "modified, but the modifier does not modify this one";
	} else if (modifier) {
		return "a modifier id without MODIFIED";
	}
	if (strcmp(EVBUS_EVENT_TOPIC(ev),
		   topics[*mod && dec_rewrite(ev_hash(*pub, *idx), topic) ? topic + 4 : topic]))
		return "topic";
	if (ev->flags & ~(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | 0xffff0000u))
		return "flags";
	if (!in_request && topic != T_NOAPPR && !(ev->flags & EVBUS_EVENT_APPROVED))
		return "not APPROVED, on a topic the allower approves";
	if (topic == T_NOAPPR && ev->flags)
		return "flags on a topic nobody approves";
	return NULL;
}

/* ------------------------------------------------------------ processes */

static void on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
}

static void publisher(int p)
{
	static char pay[256];
	struct io_uring ring;
	bool have_ring = false, ticking = p % 2 == 1;
	uint64_t prev = 0;
	uint32_t idx;
	int fd = evt_open();

	rng_state = mix(S->seed ^ (0x1000u + (unsigned)p));
	if (fd < 0) {
		fail("publisher %d: open: %s", p, strerror(errno));
		_exit(1);
	}
	S->file_id[p] = (uint64_t)evt_file_id(fd);
	if (g_uring && !io_uring_queue_init(8, &ring, 0))
		have_ring = true;
	while (!S->go)
		msleep(1);
	if (ticking) {
		struct sigaction sa;
		struct itimerval it;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;	/* no SA_RESTART */
		sigaction(SIGALRM, &sa, NULL);
		it.it_interval.tv_sec = it.it_value.tv_sec = 0;
		it.it_interval.tv_usec = it.it_value.tv_usec = 15000 + rnd(25000);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	for (idx = 0; idx < MAXEV && !S->stop_pub; idx++) {
		struct pubrec *pr = &S->pub[p][idx];
		uint32_t t = rnd(NT), r = rnd(100);
		uint64_t h = ev_hash((uint32_t)p, idx), dl, eff, t0, el;
		struct evbus_pub pb;
		bool uring = have_ring && rnd(4) == 0;
		int err = 0;

		memset(&pb, 0, sizeof(pb));
		pb.topic = (uintptr_t)topics[t];
		pb.topic_len = (uint32_t)strlen(topics[t]);
		pb.payload = (uintptr_t)pay;
		pb.payload_len = make_payload(pay, (uint32_t)p, idx, t, false);
		pb.type = make_type((uint32_t)p, idx, false);
		pb.corr = idx;
		/* Under an ask rule the publisher need not ask (but may). */
		pb.flags = t >= T_MAND0 && t <= T_NOBODY && rnd(3) ? 0 : EVBUS_PUB_ASK;
		dl = r < 10 ? 1000000 + rnd(20000000) : r < 20 ? 0 : r < 50 ? 100000000 :
		     200000000 + rnd(200000000);
		pb.deadline_ns = dl;
		eff = dl ? dl : TIMEOUT_MS * 1000000ULL;
		pr->topic = (uint8_t)t;
		pr->uring = uring;
		t0 = mono_ns();
		if (uring) {
			struct evbus_uring_cmd c = { .arg = (uintptr_t)&pb };
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct io_uring_cqe *cqe;
			int ret;

			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
			sqe->cmd_op = EVBUS_URING_PUBLISH;
			memcpy(&sqe->addr3, &c, sizeof(c));
			do
				ret = io_uring_submit(&ring);
			while (ret == -EINTR);
			if (ret != 1) {
				fail("publisher %d: io_uring_submit: %s", p, strerror(-ret));
				break;
			}
			do
				ret = io_uring_wait_cqe(&ring, &cqe);
			while (ret == -EINTR);
			if (ret) {
				fail("publisher %d: io_uring_wait_cqe: %s", p, strerror(-ret));
				break;
			}
			err = cqe->res < 0 ? -cqe->res : 0;
			io_uring_cqe_seen(&ring, cqe);
		} else if (ioctl(fd, EVBUS_IOC_PUBLISH, &pb)) {
			err = errno;
		}
		el = mono_ns() - t0;
		pr->err = err;
		pr->seq = err ? 0 : pb.seq;
		pr->done = 1;
		S->nev[p] = idx + 1;
		if (el > eff + SLACK_NS)
			fail("publisher %d: event %u on %s (deadline %llu ns) waited %.2f s", p, idx,
			     topics[t], (unsigned long long)eff, el / 1e9);
		if (!err) {
			if (pb.seq <= prev)
				fail("publisher %d: seq %llu after %llu", p,
				     (unsigned long long)pb.seq, (unsigned long long)prev);
			prev = pb.seq;
		}
		if (t == T_NOBODY ? err != ECONNREFUSED : t == T_NOAPPR ? err != 0 :
		    err && err != ETIMEDOUT && err != ECONNRESET && err != ENOBUFS &&
		    !(err == EINTR && !uring) && !(err == DENY_ERR && dec_deny(h)))
			fail("publisher %d: event %u on %s%s gave %s", p, idx, topics[t],
			     uring ? " (io_uring)" : "", err ? strerror(err) : "success");
	}
	if (ticking) {
		struct itimerval it;

		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (have_ring)
		io_uring_queue_exit(&ring);
	close(fd);
	_exit(0);
}

/* One approver process of a role; killed (SIGKILL) or told to stop. */
static void approver(int role, int inst)
{
	static char buf[1u << 17], pay[256];
	static const int32_t prio[3] = { 30, 20, 10 };
	struct evbus_approver ap;
	uint64_t max_id = 0;
	uint32_t id;
	int fd = evt_open_nb();

	rng_state = mix(S->seed ^ (0x2000u + (unsigned)role * 1000 + (unsigned)inst));
	if (fd < 0) {
		fail("approver %d: open: %s", role, strerror(errno));
		_exit(1);
	}
	if (S->small_ring[role])
		evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_OLDEST);
	memset(&ap, 0, sizeof(ap));
	ap.pattern = (uintptr_t)"gs.>";
	ap.pattern_len = 4;
	ap.priority = prio[role];
	ap.deflt = S->deflt[role];
	if (ioctl(fd, EVBUS_IOC_APPROVER_ADD, &ap)) {
		fail("approver %d: APPROVER_ADD: %s", role, strerror(errno));
		_exit(1);
	}
	id = ap.id;
	/* Known before it modifies anything: its id goes into the event. */
	S->ids[role][__atomic_fetch_add(&S->nids[role], 1, __ATOMIC_SEQ_CST) % MAXIDS] = id;
	while (!S->stop_appr) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		struct evbus_rec_hdr *h;
		ssize_t n, left;

		poll(&pf, 1, 20);
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_request *rq = (const void *)h;
			const struct evbus_cancelled *cn = (const void *)h;
			const struct evbus_event *ev;
			struct evbus_verdict v;
			uint32_t pub, idx, t;
			const char *why;
			bool mod;
			uint64_t hh;
			int e;

			if (h->kind == EVBUS_REC_CANCELLED) {
				if (h->len != sizeof(*cn) || cn->approver_id != id || !cn->id ||
				    cn->id > max_id ||
				    (cn->reason != EVBUS_CANCEL_EXPIRED && cn->reason != EVBUS_CANCEL_WITHDRAWN))
					fail("approver %d: CANCELLED approver %u id %llu reason %u (max id %llu)",
					     role, cn->approver_id, (unsigned long long)cn->id, cn->reason,
					     (unsigned long long)max_id);
				__atomic_add_fetch(cn->reason == EVBUS_CANCEL_EXPIRED ? &S->cancel_exp[role] :
						   &S->cancel_wd[role], 1, __ATOMIC_RELAXED);
				continue;
			}
			if (h->kind != EVBUS_REC_REQUEST) {
				fail("approver %d: a record of kind %u", role, h->kind);
				continue;
			}
			__atomic_add_fetch(&S->requests[role], 1, __ATOMIC_RELAXED);
			ev = EVBUS_REQUEST_EVENT(rq);
			if (h->hdr_len != sizeof(*rq) || rq->approver_id != id || !rq->id ||
			    rq->reserved || ev->hdr.kind != EVBUS_REC_EVENT ||
			    ev->hdr.hdr_len != sizeof(*ev) || h->len != sizeof(*rq) + ev->hdr.len ||
			    ev->seq || rq->deadline_ns <= ev->mono_ns) {
				fail("approver %d: malformed request %llu", role, (unsigned long long)rq->id);
				continue;
			}
			if (rq->id > max_id)
				max_id = rq->id;
			why = check_content(ev, true, &pub, &idx, &mod);
			if (why) {
				fail("approver %d: request %llu on %s: %s", role, (unsigned long long)rq->id,
				     EVBUS_EVENT_TOPIC(ev), why);
				continue;
			}
			memcpy(&t, (const char *)EVBUS_EVENT_PAYLOAD(ev) + 4, sizeof(t));
			t >>= 16;	/* the topic it was published on */
			if (!!(rq->flags & EVBUS_REQ_MANDATORY) != (t >= T_MAND0 && t < T_NOBODY) ||
			    (rq->flags & ~EVBUS_REQ_MANDATORY))
				fail("approver %d: request on %s with flags %#x", role, topics[t], rq->flags);
			/*
			 * Not always the first of the chain: a modifier restarted
			 * meanwhile (same priority, a later id) comes after the
			 * one that was asked first.
			 */
			if (ev->flags && !(ev->flags & EVBUS_EVENT_APPROVED))
				fail("approver %d: flags %#x without APPROVED", role, ev->flags);
			hh = ev_hash(pub, idx);
			/* Late now and then (past short deadlines), or never. */
			if (S->slow && rnd(40) == 0)
				msleep(rnd(400));
			if (rnd(300) == 0)
				continue;
			memset(&v, 0, sizeof(v));
			v.size = sizeof(v);
			v.id = rq->id;
			v.verdict = EVBUS_VERDICT_ALLOW;
			if (role == ROLE_MOD && dec_modify(hh)) {
				v.verdict = EVBUS_VERDICT_MODIFY;
				v.payload = (uintptr_t)pay;
				v.payload_len = make_payload(pay, pub, idx, t, true);
				v.type = make_type(pub, idx, true);
				if (dec_rewrite(hh, t)) {
					v.topic = (uintptr_t)topics[t + 4];
					v.topic_len = (uint32_t)strlen(topics[t + 4]);
				}
			} else if (role == ROLE_DENY && dec_deny(hh)) {
				v.verdict = EVBUS_VERDICT_DENY;
				v.error = DENY_ERR;
			}
			e = ioctl(fd, EVBUS_IOC_VERDICT, &v) ? errno : 0;
			if (e == ENOENT)
				__atomic_add_fetch(&S->enoent[role], 1, __ATOMIC_RELAXED);
			else if (e)
				fail("approver %d: verdict %u on request %llu: %s", role, v.verdict,
				     (unsigned long long)v.id, strerror(e));
			else
				__atomic_add_fetch(&S->verdicts[role], 1, __ATOMIC_RELAXED);
		}
	}
	close(fd);
	_exit(0);
}

static void subscriber(int s)
{
	static char buf[1u << 18];
	const char *pat = sub_pats[s % (int)(sizeof(sub_pats) / sizeof(sub_pats[0]))];
	int fd = evt_open_nb();
	bool drained = false;

	if (fd < 0 || evt_set_ring(fd, s == 0 ? 4u << 20 : 1u << 20, EVBUS_POLICY_DROP_OLDEST) ||
	    evt_sub(fd, pat) <= 0) {
		fail("subscriber %d: open/subscribe '%s': %s", s, pat, strerror(errno));
		_exit(1);
	}
	__atomic_add_fetch(&S->subs_ready, 1, __ATOMIC_SEQ_CST);
	while (!drained) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		struct evbus_rec_hdr *h;
		ssize_t n, left;
		bool last = S->drain;

		poll(&pf, 1, 20);
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN)
			fail("subscriber %d: read: %s", s, strerror(errno));
		if (n <= 0) {
			drained = last;
			continue;
		}
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_event *ev = (const void *)h;
			const struct evbus_lagged *lg = (const void *)h;
			uint32_t pub, idx, k;
			const char *why;
			bool mod;

			if (h->kind == EVBUS_REC_LAGGED) {
				S->sub_lost[s] += lg->lost;
				continue;
			}
			if (h->kind != EVBUS_REC_EVENT || h->hdr_len != sizeof(*ev) ||
			    h->len != sizeof(*ev) + EVBUS_ALIGN(ev->topic_len + 1) +
				      EVBUS_ALIGN(ev->payload_len)) {
				fail("subscriber %d: a record of kind %u, %u bytes", s, h->kind, h->len);
				continue;
			}
			why = check_content(ev, false, &pub, &idx, &mod);
			if (why) {
				fail("subscriber %d ('%s'): event %llu on %s flags %#x: %s", s, pat,
				     (unsigned long long)ev->seq, EVBUS_EVENT_TOPIC(ev), ev->flags, why);
				continue;
			}
			k = S->nsub[s];
			if (k >= MAXSEV) {
				fail("subscriber %d: more than %d events", s, MAXSEV);
				continue;
			}
			S->sub[s][k].seq = ev->seq;
			S->sub[s][k].pub = (uint16_t)pub;
			S->sub[s][k].idx = idx;
			S->sub[s][k].mod = mod;
			S->nsub[s] = k + 1;
		}
	}
	close(fd);
	_exit(0);
}

/* ----------------------------------------------------------------- parent */

static bool pat_matches(const char *pat, uint32_t t)
{
	const char *tp = topics[t];

	if (!strcmp(pat, ">"))
		return true;
	if (!strcmp(pat, "gs.>") || !strcmp(pat, "gs.*.*"))
		return !strncmp(tp, "gs.", 3);
	if (!strcmp(pat, "gs.*.1"))
		return !strncmp(tp, "gs.", 3) && tp[5] == '1';
	if (!strcmp(pat, "gs.m.*"))
		return !strncmp(tp, "gs.m.", 5);
	if (!strcmp(pat, "gsx.>"))
		return !strncmp(tp, "gsx.", 4);
	return false;
}

static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("gate-stress: fork");
		exit(3);
	}
	if (!pid)
		fn(arg);
	return pid;
}

static int g_inst;

static void approver_entry(int role)
{
	approver(role, g_inst);
}

#define D(x)	((long long)(x))

/* One round; returns the checks passed (and counts failures in S->fails). */
static unsigned int round_run(int ctl, unsigned int round, unsigned int *checks)
{
	static uint8_t *seen;
	struct evbus_bus_stats b0, b1;
	pid_t subs[MAXS], pubs[MAXP], appr[3];
	uint64_t n_asked = 0, n_ok = 0, n_den = 0, n_exp = 0, n_gone = 0, n_full = 0;
	uint64_t n_intr = 0, n_nobody = 0, n_other = 0, n_mod = 0, n_uring = 0, sysn[6] = { 0 };
	uint64_t kills = 0, sys_lost = 0, t_end;
	unsigned long fails0 = S->fails;
	bool all_deny;
	int p, s, r, sysfd, st;
	static char buf[1u << 18];
	ssize_t n;

	if (!seen)
		seen = calloc(MAXSEV, 1);
	memset(S, 0, offsetof(struct shm, fails));
	S->seed = mix(g_seed + round);
	rng_state = S->seed;
	all_deny = round % 2 == 0;
	S->deflt[ROLE_MOD] = all_deny ? EVBUS_DENY : EVBUS_ALLOW;
	S->deflt[ROLE_ALLOW] = EVBUS_DENY;	/* so whatever is published was allowed */
	S->deflt[ROLE_DENY] = EVBUS_DENY;
	for (r = 0; r < 3; r++)
		S->small_ring[r] = rnd(4) == 0;
	S->slow = rnd(2);

	sysfd = evt_open_nb();
	if (sysfd < 0 || evt_set_ring(sysfd, 4u << 20, EVBUS_POLICY_DROP_OLDEST) ||
	    evt_sub(sysfd, "$sys.approval.denied") <= 0) {
		fail("round %u: the $sys.approval.denied subscriber: %s", round, strerror(errno));
		return 0;
	}
	for (s = 0; s < g_subs; s++)
		subs[s] = spawn(subscriber, s);
	while (S->subs_ready < g_subs)
		msleep(2);
	for (r = 0; r < 3; r++) {
		g_inst = 0;
		appr[r] = spawn(approver_entry, r);
		while (!__atomic_load_n(&S->nids[r], __ATOMIC_SEQ_CST))
			msleep(2);
	}
	if (evt_bus_stats(ctl, &b0)) {
		fail("BUS_STATS: %s", strerror(errno));
		return 0;
	}
	for (p = 0; p < g_pubs; p++)
		pubs[p] = spawn(publisher, p);
	S->go = 1;
	t_end = mono_ns() + (uint64_t)(g_round * 1e9);
	while (mono_ns() < t_end) {
		msleep(30 + rnd(120));
		if (!g_kill)
			continue;
		/* The modifier or the denier: killed, maybe a gap, restarted. */
		r = rnd(2) ? ROLE_MOD : ROLE_DENY;
		kill(appr[r], SIGKILL);
		waitpid(appr[r], &st, 0);
		kills++;
		if (rnd(2))
			msleep(rnd(30));
		g_inst = (int)kills;
		appr[r] = spawn(approver_entry, r);
	}
	S->stop_pub = 1;
	for (p = 0; p < g_pubs; p++) {
		waitpid(pubs[p], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail("round %u: publisher %d exited with %#x", round, p, st);
	}
	S->stop_appr = 1;
	for (r = 0; r < 3; r++)
		waitpid(appr[r], &st, 0);
	S->drain = 1;
	for (s = 0; s < g_subs; s++) {
		waitpid(subs[s], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail("round %u: subscriber %d exited with %#x", round, s, st);
	}
	/* Every approver is gone: nothing may be pending. */
	if (evt_bus_stats(ctl, &b1)) {
		fail("BUS_STATS: %s", strerror(errno));
		return 0;
	}

	/* What the publishers saw. */
	for (p = 0; p < g_pubs; p++)
		for (uint32_t i = 0; i < S->nev[p]; i++) {
			const struct pubrec *pr = &S->pub[p][i];

			n_asked++;
			n_uring += pr->uring;
			switch (pr->err) {
			case 0: n_ok++; break;
			case DENY_ERR: n_den++; break;
			case ETIMEDOUT: n_exp++; break;
			case ECONNRESET: n_gone++; break;
			case ENOBUFS: n_full++; break;
			case EINTR: n_intr++; break;
			case ECONNREFUSED: n_nobody++; break;
			default: n_other++; break;
			}
		}

	/* $sys.approval.denied: one per refusal, by cause. */
	while ((n = read(sysfd, buf, sizeof(buf))) > 0) {
		struct evbus_rec_hdr *h;
		ssize_t left;

		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_event *ev = (const void *)h;
			const struct evbus_sys_approval *sa;
			static const int cause_err[6] = { 0, DENY_ERR, ETIMEDOUT, ECONNRESET,
							  ENOBUFS, ECONNREFUSED };
			bool ours = false;

			if (h->kind == EVBUS_REC_LAGGED) {
				sys_lost += ((const struct evbus_lagged *)h)->lost;
				continue;
			}
			if (h->kind != EVBUS_REC_EVENT || ev->payload_len < sizeof(*sa))
				continue;
			sa = EVBUS_EVENT_PAYLOAD(ev);
			for (p = 0; p < g_pubs; p++)
				ours |= sa->file_id == S->file_id[p];
			if (!ours)
				continue;	/* not this round's */
			if (sa->cause < 1 || sa->cause > 5 || sa->error != cause_err[sa->cause] ||
			    ev->payload_len != sizeof(*sa) + sa->topic_len) {
				fail("round %u: $sys.approval.denied cause %u error %d approver %u", round,
				     sa->cause, sa->error, sa->approver_id);
				continue;
			}
			sysn[sa->cause]++;
		}
	}
	close(sysfd);
	(*checks)++;
	if (!sys_lost && (sysn[1] != n_den || sysn[2] != n_exp || sysn[3] != n_gone ||
			  sysn[4] != n_full || sysn[5] != n_nobody))
		fail("round %u: $sys.approval.denied by cause: denied %llu expired %llu gone %llu full %llu nobody %llu; publishers got %llu %llu %llu %llu %llu",
		     round, D(sysn[1]), D(sysn[2]), D(sysn[3]), D(sysn[4]), D(sysn[5]), D(n_den),
		     D(n_exp), D(n_gone), D(n_full), D(n_nobody));

	/* Every subscriber: exactly once, or lost; nothing that failed. */
	for (s = 0; s < g_subs; s++) {
		const char *pat = sub_pats[s % (int)(sizeof(sub_pats) / sizeof(sub_pats[0]))];
		uint64_t expect = 0, got = 0, mods = 0;

		(*checks)++;
		memset(seen, 0, MAXSEV);
		for (uint32_t k = 0; k < S->nsub[s]; k++) {
			const struct subev *e = &S->sub[s][k];
			const struct pubrec *pr = &S->pub[e->pub][e->idx];

			if (e->pub >= g_pubs || e->idx >= S->nev[e->pub] || !pr->done) {
				fail("round %u: subscriber %d got event %llu of publisher %u index %u, never published",
				     round, s, D(e->seq), e->pub, e->idx);
				continue;
			}
			if (pr->err) {
				fail("round %u: subscriber %d got event %llu (publisher %u index %u on %s), whose publish failed with %s",
				     round, s, D(e->seq), e->pub, e->idx, topics[pr->topic], strerror(pr->err));
				continue;
			}
			if (pr->seq != e->seq)
				fail("round %u: subscriber %d got publisher %u index %u as seq %llu, published as %llu",
				     round, s, e->pub, e->idx, D(e->seq), D(pr->seq));
			if (seen[e->pub * MAXEV + e->idx]++)
				fail("round %u: subscriber %d got seq %llu twice", round, s, D(e->seq));
			else
				got++;
			mods += e->mod;
		}
		for (p = 0; p < g_pubs; p++)
			for (uint32_t i = 0; i < S->nev[p]; i++)
				expect += !S->pub[p][i].err && pat_matches(pat, S->pub[p][i].topic);
		if (got + S->sub_lost[s] != expect)
			fail("round %u: subscriber %d ('%s'): %llu delivered + %llu lost, %llu published that match",
			     round, s, pat, D(got), D(S->sub_lost[s]), D(expect));
		if (s == 0)
			n_mod = S->sub_lost[0] ? ~0ULL : mods;
	}

	/* The bus's counters. */
#define DELTA(f)	(b1.f - b0.f)
	(*checks)++;
	if (DELTA(approval_asked) != n_asked || DELTA(approval_allowed) != n_ok ||
	    DELTA(approval_denied) != n_den || DELTA(approval_withdrawn) != n_intr ||
	    DELTA(approval_nobody) != n_nobody || DELTA(approval_expired) < n_exp ||
	    DELTA(approval_gone) < n_gone || DELTA(approval_full) < n_full ||
	    (n_mod != ~0ULL && DELTA(approval_modified) != n_mod) || n_other)
		fail("round %u: counters: asked %llu allowed %llu modified %llu denied %llu expired %llu gone %llu full %llu withdrawn %llu nobody %llu; publishers: %llu asks, %llu ok (%llu modified), %llu denied, %llu ETIMEDOUT, %llu ECONNRESET, %llu ENOBUFS, %llu EINTR, %llu ECONNREFUSED, %llu other",
		     round, D(DELTA(approval_asked)), D(DELTA(approval_allowed)),
		     D(DELTA(approval_modified)), D(DELTA(approval_denied)),
		     D(DELTA(approval_expired)), D(DELTA(approval_gone)), D(DELTA(approval_full)),
		     D(DELTA(approval_withdrawn)), D(DELTA(approval_nobody)), D(n_asked), D(n_ok),
		     D(n_mod), D(n_den), D(n_exp), D(n_gone), D(n_full), D(n_intr), D(n_nobody),
		     D(n_other));
	(*checks)++;
	{
		uint64_t sum = DELTA(approval_allowed) + DELTA(approval_denied) +
			       DELTA(approval_expired) + DELTA(approval_gone) + DELTA(approval_full) +
			       DELTA(approval_withdrawn) + DELTA(approval_nobody);

		/* Steps that ended by a default of allow count too: only <= then. */
		if (all_deny ? sum != DELTA(approval_asked) : sum < DELTA(approval_asked))
			fail("round %u (%s): asked %llu, but allowed + denied + expired + gone + full + withdrawn + nobody = %llu",
			     round, all_deny ? "every default deny" : "the modifier's default allow",
			     D(DELTA(approval_asked)), D(sum));
	}
	(*checks)++;
	{
		uint64_t rq = S->requests[0] + S->requests[1] + S->requests[2];

		if (b1.approvers || b1.approval_pending || DELTA(approval_requests) < rq)
			fail("round %u: %llu approvers, %llu pending after the round; %llu requests, the approvers read %llu",
			     round, D(b1.approvers), D(b1.approval_pending),
			     D(DELTA(approval_requests)), D(rq));
	}
	printf("gate-stress: round %u (%s%s%s%s): %llu asks (%llu io_uring): %llu published (%llu modified), %llu denied, %llu expired, %llu gone, %llu no room, %llu withdrawn, %llu nobody; %llu approver kills; requests %llu, verdicts %llu, too late %llu, cancelled %llu expired %llu withdrawn; default-allow steps %lld\n",
	       round, all_deny ? "defaults deny" : "modifier default allow",
	       S->small_ring[0] || S->small_ring[1] || S->small_ring[2] ? ", small rings" : "",
	       S->slow ? ", slow approvers" : "", g_kill ? "" : ", no kills",
	       D(n_asked), D(n_uring), D(n_ok), D(n_mod == ~0ULL ? 0 : n_mod), D(n_den), D(n_exp),
	       D(n_gone), D(n_full), D(n_intr), D(n_nobody), D(kills),
	       D(S->requests[0] + S->requests[1] + S->requests[2]),
	       D(S->verdicts[0] + S->verdicts[1] + S->verdicts[2]),
	       D(S->enoent[0] + S->enoent[1] + S->enoent[2]),
	       D(S->cancel_exp[0] + S->cancel_exp[1] + S->cancel_exp[2]),
	       D(S->cancel_wd[0] + S->cancel_wd[1] + S->cancel_wd[2]),
	       (long long)(DELTA(approval_expired) + DELTA(approval_gone) + DELTA(approval_full)) -
		       (long long)(n_exp + n_gone + n_full));
	(void)fails0;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: gate-stress [--publishers P] [--subscribers S] [--duration SECS]\n"
			"                   [--round-secs SECS] [--seed X] [--no-kill] [--no-uring] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "publishers", 1, 0, 'p' }, { "subscribers", 1, 0, 's' },
		{ "duration", 1, 0, 'd' }, { "round-secs", 1, 0, 'r' }, { "seed", 1, 0, 'x' },
		{ "no-kill", 0, 0, 'k' }, { "no-uring", 0, 0, 'u' }, { "verbose", 0, 0, 'v' },
		{ 0, 0, 0, 0 },
	};
	unsigned long long timeout0 = 0;
	unsigned int round = 0, checks = 0;
	struct evbus_version ver;
	int c, ctl, rule_m, rule_n;
	uint64_t t_end;

	g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': g_pubs = atoi(optarg); break;
		case 's': g_subs = atoi(optarg); break;
		case 'd': g_duration = atof(optarg); break;
		case 'r': g_round = atof(optarg); break;
		case 'x': g_seed = strtoull(optarg, NULL, 0); break;
		case 'k': g_kill = 0; break;
		case 'u': g_uring = 0; break;
		case 'v': g_verbose = 1; break;
		default: usage();
		}
	}
	if (g_pubs < 1 || g_pubs > MAXP || g_subs < 1 || g_subs > MAXS || g_round <= 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = evt_open();
	if (ctl < 0 || evt_version(ctl, &ver)) {
		printf("gate-stress: SKIP: no %s\nstress: 0 passed, 0 failed\n", EVBUS_DEV);
		return 4;
	}
	if (!(ver.features & EVBUS_FEAT_APPROVAL)) {
		printf("gate-stress: SKIP: the module has no approval gate\nstress: 0 passed, 0 failed\n");
		return 4;
	}
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED) {
		perror("gate-stress: mmap");
		return 3;
	}
	signal(SIGPIPE, SIG_IGN);
	evt_param_get("approval_timeout_ms", &timeout0);
	evt_param_set("approval_timeout_ms", TIMEOUT_MS);
	/* gs.m.* asks whatever the publisher says; gsn.* too, and nobody watches it. */
	rule_m = evt_policy_add(ctl, EVBUS_ASK, EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, "gs.m.>", 0);
	rule_n = evt_policy_add(ctl, EVBUS_ASK, EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, "gsn.>", 0);
	if (rule_m <= 0 || rule_n <= 0) {
		fprintf(stderr, "gate-stress: adding the ask rules: %s\n", strerror(-(rule_m <= 0 ? rule_m : rule_n)));
		return 3;
	}
	printf("gate-stress: seed %#llx, %d publishers, %d subscribers, %.0f s in rounds of %.1f s%s%s\n",
	       (unsigned long long)g_seed, g_pubs, g_subs, g_duration, g_round,
	       g_kill ? ", approvers killed" : "", g_uring ? ", io_uring asks" : "");
	t_end = mono_ns() + (uint64_t)(g_duration * 1e9);
	do
		round_run(ctl, round++, &checks);
	while (mono_ns() + (uint64_t)(g_round * 1e9) / 2 < t_end);
	evt_policy_remove(ctl, (uint32_t)rule_m);
	evt_policy_remove(ctl, (uint32_t)rule_n);
	if (timeout0)
		evt_param_set("approval_timeout_ms", timeout0);
	close(ctl);
	if (S->fails > checks)
		checks = (unsigned int)S->fails;
	printf("stress: %lu passed, %lu failed\n", checks - (S->fails < checks ? S->fails : checks),
	       S->fails);
	return S->fails ? 1 : 0;
}
