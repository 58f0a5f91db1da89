// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.6: the approval gate, through the library, against the real
 * kernel.  evbus_publish_ask() waits for the approvers and gets what they
 * say: allowed (published, flagged approved), denied with the approver's
 * errno (nothing published, announced on $sys.approval.denied), modified
 * (payload, type, topic; flagged modified with the approver's id), the
 * default verdict when the deadline passes (ETIMEDOUT, a CANCELLED record
 * with EVBUS_CANCEL_EXPIRED) or the approver goes away (ECONNRESET), and
 * EINTR with a CANCELLED record (EVBUS_CANCEL_WITHDRAWN) when the
 * publisher is interrupted.  Requests carry the publisher's identity, the
 * deadline and the event as it would be delivered, through read() and
 * through the mapping; a chain asks the higher priority first and passes
 * the modified event on; a policy's ask rule makes a plain publish ask;
 * the counters of evbus_get_bus_stats() count every outcome; a verdict
 * that is wrong changes nothing.  The record walker's checks of requests
 * run without the module.
 *
 * Every test runs on a bus of its own (a new IPC namespace): the counters
 * and sequence numbers are the test's alone.  Tests that need the kernel
 * skip when it lacks the approval feature.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "lib_test.h"

/* Move this test process to a new IPC namespace: a bus of its own. */
#define LT_NEW_BUS() do {						\
	if (unshare(CLONE_NEWIPC))					\
		SKIP(return, "unshare(CLONE_NEWIPC): %s", strerror(errno)); \
} while (0)

/* Skip unless the module has the approval gate. */
#define LT_NEED_GATE(bus) do {						\
	struct evbus_version lt_v_;					\
	ASSERT_EQ(0, evbus_query((bus), &lt_v_));			\
	if (!(lt_v_.features & EVBUS_FEAT_APPROVAL))			\
		SKIP(return, "the module has no 'approval' feature");	\
} while (0)

#define SEC	1000000000ULL
#define MSEC	1000000ULL

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------- the publisher */

/* One evbus_publish_ask() in a thread of its own. */
struct ask {
	struct evbus *bus;
	const char *topic;
	const char *payload;
	uint32_t type;
	uint64_t deadline_ns;
	bool plain;		/* evbus_publish(): a policy rule asks */
	pthread_t th;
	pid_t tid;
	int ret;
	uint64_t seq;
	long long ms;		/* how long it waited */
};

static void *ask_fn(void *arg)
{
	struct ask *a = arg;
	EVBUS_OPTS(evbus_pub_opts, po, .type = a->type, .corr = 77);
	long long t0 = lt_now_ms();

	a->tid = lt_gettid();
	if (a->plain)
		a->ret = evbus_publish(a->bus, a->topic, a->payload,
				       strlen(a->payload), &po, &a->seq);
	else
		a->ret = evbus_publish_ask(a->bus, a->topic, a->payload,
					   strlen(a->payload), &po,
					   a->deadline_ns, &a->seq);
	a->ms = lt_now_ms() - t0;
	return NULL;
}

static int ask_start(struct ask *a, struct evbus *bus, const char *topic,
		     const char *payload, uint64_t deadline_ns)
{
	memset(a, 0, sizeof(*a));
	a->bus = bus;
	a->topic = topic;
	a->payload = payload;
	a->type = 5;
	a->deadline_ns = deadline_ns;
	a->ret = 1;
	a->seq = ~0ULL;
	return pthread_create(&a->th, NULL, ask_fn, a);
}

static int ask_join(struct ask *a)
{
	pthread_join(a->th, NULL);
	return a->ret;
}

/* ---------------------------------------------------------- the approver */

/* A request, copied out of its record. */
struct req {
	unsigned int kind;
	uint64_t id;
	uint32_t approver_id;
	uint32_t flags;
	uint64_t deadline_ns;
	struct evbus_event ev;		/* the fixed part */
	bool no_event;			/* rec->event stayed NULL */
	char topic[EVBUS_TOPIC_MAX + 1];
	char payload[128];
	size_t payload_len;
};

/*
 * The next record of bus within timeout_ms into *r: 0, or -errno
 * (-ETIMEDOUT when none came).  Requests and cancellations are copied;
 * other kinds keep only kind.
 */
static int next_rec(struct evbus *bus, struct req *r, int timeout_ms)
{
	const struct evbus_record *rec;
	const struct evbus_request *rq;
	const struct evbus_cancelled *cn;
	int ret = evbus_read(bus, &rec, timeout_ms);

	memset(r, 0, sizeof(*r));
	if (ret)
		return ret;
	r->kind = rec->kind;
	rq = evbus_record_request(rec);
	cn = evbus_record_cancelled(rec);
	if (rq) {
		r->id = rq->id;
		r->approver_id = rq->approver_id;
		r->flags = rq->flags;
		r->deadline_ns = rq->deadline_ns;
		memcpy(&r->ev, EVBUS_REQUEST_EVENT(rq), sizeof(r->ev));
		r->no_event = !rec->event;
	} else if (cn) {
		r->id = cn->id;
		r->approver_id = cn->approver_id;
		r->flags = cn->reason;
	} else if (rec->event) {
		memcpy(&r->ev, rec->event, sizeof(r->ev));
	}
	if (rq || rec->event) {
		snprintf(r->topic, sizeof(r->topic), "%s", rec->topic);
		r->payload_len = rec->payload_len;
		snprintf(r->payload, sizeof(r->payload), "%.*s",
			 (int)rec->payload_len, (const char *)rec->payload);
	}
	return 0;
}

/* Nothing comes within 200 ms: 0, else the kind that came (or -errno). */
static int quiet(struct evbus *bus)
{
	struct req r;
	int ret = next_rec(bus, &r, 200);

	return ret == -ETIMEDOUT ? 0 : ret ? ret : (int)r.kind;
}

static struct evbus_bus_stats stats(struct evbus *bus)
{
	struct evbus_bus_stats st;

	memset(&st, 0xcc, sizeof(st));
	if (evbus_get_bus_stats(bus, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* A publisher, an approver and a subscriber of "<pid>.#", on a new bus. */
#define SETUP(pub, appr, sub, deflt, id)				\
	LT_NEW_BUS();							\
	LT_OPEN(pub, 0);						\
	LT_NEED_GATE(pub);						\
	LT_OPEN(appr, 0);						\
	LT_OPEN(sub, 0);						\
	ASSERT_EQ(0, evbus_subscribe(sub, "gate.>", NULL));		\
	ASSERT_EQ(0, evbus_approver_add(appr, "gate.>", 0, (deflt), &(id))); \
	ASSERT_GE(id, 1);						\
	ASSERT_LE(id, EVBUS_APPROVER_ID_MAX)

/* ------------------------------------------------------------ outcomes */

/*
 * Allow: the request carries the publisher (pid, tid, uid, gid), the
 * deadline, and the event as it would be delivered (seq 0, type, corr,
 * topic, payload); after the verdict the event is published once, flagged
 * approved, and a second verdict is ENOENT.
 */
TEST(allow_publishes_the_event_flagged_approved)
{
	struct evbus *p, *a, *s;
	struct evbus_bus_stats st;
	uint64_t t0, t1;
	struct ask k;
	struct req r;
	uint32_t id = 0;

	SETUP(p, a, s, EVBUS_DENY, id);
	t0 = mono_ns();
	ASSERT_EQ(0, ask_start(&k, p, "gate.run", "ls -l", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	t1 = mono_ns();
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_TRUE(r.no_event);
	EXPECT_NE(0, r.id);
	EXPECT_EQ(id, r.approver_id);
	EXPECT_EQ(0, r.flags);
	/* CLOCK_MONOTONIC: 5 s after the call, which lies in [t0, t1]. */
	EXPECT_GE(r.deadline_ns, t0 + 5 * SEC);
	EXPECT_LE(r.deadline_ns, t1 + 5 * SEC);
	EXPECT_EQ(EVBUS_REC_EVENT, r.ev.hdr.kind);
	EXPECT_EQ(0, r.ev.seq);
	EXPECT_EQ(5, r.ev.type);
	EXPECT_EQ(77, r.ev.corr);
	EXPECT_EQ(0, r.ev.parent);
	EXPECT_EQ((uint32_t)getpid(), r.ev.pid);
	EXPECT_EQ((uint32_t)k.tid, r.ev.tid);
	EXPECT_EQ(geteuid(), r.ev.uid);
	EXPECT_EQ(getegid(), r.ev.gid);
	EXPECT_EQ(0, r.ev.flags);
	EXPECT_GE(r.ev.mono_ns, t0);
	EXPECT_LE(r.ev.mono_ns, t1);
	EXPECT_STREQ("gate.run", r.topic);
	EXPECT_STREQ("ls -l", r.payload);
	EXPECT_EQ(5, r.payload_len);
	/* Nothing is delivered while it waits. */
	EXPECT_EQ(0, quiet(s));
	st = stats(p);
	EXPECT_EQ(1, st.approval_pending);

	ASSERT_EQ(0, evbus_verdict_allow(a, r.id));
	ASSERT_EQ(0, ask_join(&k));
	EXPECT_NE(0, k.seq);
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(a, r.id));
	EXPECT_EQ(-ENOENT, evbus_verdict_deny(a, r.id, EPERM));

	ASSERT_EQ(0, next_rec(s, &r, 2000));
	ASSERT_EQ(EVBUS_REC_EVENT, r.kind);
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_EQ(EVBUS_EVENT_APPROVED, r.ev.flags);
	EXPECT_EQ(5, r.ev.type);
	EXPECT_EQ(77, r.ev.corr);
	EXPECT_STREQ("gate.run", r.topic);
	EXPECT_STREQ("ls -l", r.payload);
	EXPECT_EQ(0, quiet(s));
	EXPECT_EQ(0, quiet(a));

	st = stats(p);
	EXPECT_EQ(EVBUS_BUS_STATS_SIZE_VER2, st.size);
	EXPECT_EQ(1, st.approval_asked);
	EXPECT_EQ(1, st.approval_requests);
	EXPECT_EQ(1, st.approval_allowed);
	EXPECT_EQ(0, st.approval_modified);
	EXPECT_EQ(0, st.approval_denied);
	EXPECT_EQ(0, st.approval_expired);
	EXPECT_EQ(0, st.approval_gone);
	EXPECT_EQ(0, st.approval_withdrawn);
	EXPECT_EQ(1, st.approvers);
	EXPECT_EQ(0, st.approval_pending);
	EXPECT_EQ(1, st.published);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/* The same through the mapped ring: requests are records like any other. */
TEST(requests_come_through_the_mapping)
{
	struct evbus *p, *a, *s;
	struct evbus_mmap *m;
	struct ask k;
	struct req r;
	uint32_t id = 0;

	SETUP(p, a, s, EVBUS_DENY, id);
	ASSERT_EQ(0, evbus_mmap_open(a, &m));
	ASSERT_EQ(0, ask_start(&k, p, "gate.mapped", "via mmap", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(id, r.approver_id);
	EXPECT_STREQ("gate.mapped", r.topic);
	EXPECT_STREQ("via mmap", r.payload);
	ASSERT_EQ(0, evbus_verdict_allow(a, r.id));
	ASSERT_EQ(0, ask_join(&k));
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_STREQ("via mmap", r.payload);
	evbus_mmap_close(m);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/* Payload of a $sys.approval.denied event, checked for its shape. */
static void check_sys_denied(struct __test_metadata *_metadata,
			     struct evbus *s, uint32_t approver, uint32_t cause,
			     int error, const char *topic)
{
	const struct evbus_sys_approval *sa;
	const struct evbus_record *rec;

	ASSERT_EQ(0, evbus_read(s, &rec, 2000));
	ASSERT_NE(NULL, rec->event);
	EXPECT_STREQ("$sys.approval.denied", rec->topic);
	ASSERT_GE(rec->payload_len, sizeof(*sa) + strlen(topic));
	sa = rec->payload;
	EXPECT_NE(0, sa->file_id);
	EXPECT_EQ(approver, sa->approver_id);
	EXPECT_EQ(cause, sa->cause);
	EXPECT_EQ(error, sa->error);
	EXPECT_EQ(strlen(topic), sa->topic_len);
	EXPECT_EQ(0, memcmp(sa->topic, topic, strlen(topic)));
	EXPECT_EQ((uint32_t)getpid(), rec->event->pid);
}

/*
 * Deny: the publisher gets the approver's errno (EACCES for 0), nothing is
 * published, and the denial is announced on $sys.approval.denied.  An
 * errno beyond EVBUS_VERDICT_ERRNO_MAX is refused and changes nothing.
 */
TEST(deny_gives_the_publisher_the_errno)
{
	struct evbus *p, *a, *s, *sys;
	struct evbus_bus_stats st;
	struct ask k;
	struct req r;
	uint32_t id = 0;

	SETUP(p, a, s, EVBUS_ALLOW, id);
	LT_OPEN(sys, 0);
	ASSERT_EQ(0, evbus_subscribe(sys, "$sys.approval.denied", NULL));

	ASSERT_EQ(0, ask_start(&k, p, "gate.rm", "rm -rf /", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(-EINVAL, evbus_verdict_deny(a, r.id, EVBUS_VERDICT_ERRNO_MAX + 1));
	EXPECT_EQ(-EINVAL, evbus_verdict_deny(a, r.id, -1));
	EXPECT_EQ(1, stats(p).approval_pending);	/* still pending */
	ASSERT_EQ(0, evbus_verdict_deny(a, r.id, EPERM));
	EXPECT_EQ(-EPERM, ask_join(&k));
	EXPECT_EQ(~0ULL, k.seq);			/* not written */
	check_sys_denied(_metadata, sys, id, EVBUS_APPROVAL_DENIED, EPERM, "gate.rm");

	ASSERT_EQ(0, ask_start(&k, p, "gate.rm", "again", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(0, evbus_verdict_deny(a, r.id, 0));
	EXPECT_EQ(-EACCES, ask_join(&k));
	check_sys_denied(_metadata, sys, id, EVBUS_APPROVAL_DENIED, EACCES, "gate.rm");

	EXPECT_EQ(0, quiet(s));
	st = stats(p);
	EXPECT_EQ(2, st.approval_asked);
	EXPECT_EQ(2, st.approval_denied);
	EXPECT_EQ(0, st.approval_allowed);
	EXPECT_EQ(0, st.approval_pending);
	/* Only the two announcements on $sys.approval.denied went out. */
	EXPECT_EQ(2, st.published);
	evbus_close(sys);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/*
 * Modify: a new payload and type, then a new topic; delivered flagged
 * modified with the approver's id.  A topic the approver may not publish
 * on ($sys) is EACCES and changes nothing.
 */
TEST(modify_changes_payload_type_and_topic)
{
	struct evbus *p, *a, *s;
	struct evbus_bus_stats st;
	struct ask k;
	struct req r;
	uint32_t id = 0, want;

	SETUP(p, a, s, EVBUS_DENY, id);
	want = EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | id << 16;

	ASSERT_EQ(0, ask_start(&k, p, "gate.cfg", "level=debug", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(0, evbus_verdict_modify(a, r.id, NULL, "level=info", 10, 9));
	ASSERT_EQ(0, ask_join(&k));
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	ASSERT_EQ(EVBUS_REC_EVENT, r.kind);
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_EQ(want, r.ev.flags);
	EXPECT_EQ(id, EVBUS_EVENT_MODIFIER(r.ev.flags));
	EXPECT_EQ(9, r.ev.type);
	EXPECT_EQ(77, r.ev.corr);
	EXPECT_STREQ("gate.cfg", r.topic);
	EXPECT_STREQ("level=info", r.payload);
	EXPECT_EQ(10, r.payload_len);

	ASSERT_EQ(0, ask_start(&k, p, "gate.cfg", "x", 5 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	EXPECT_EQ(-EACCES, evbus_verdict_modify(a, r.id, "$sys.file.open", "y", 1, 0));
	EXPECT_EQ(-EINVAL, evbus_verdict_modify(a, r.id, "", "y", 1, 0));
	ASSERT_EQ(0, evbus_verdict_modify(a, r.id, "gate.moved", "", 0, 3));
	ASSERT_EQ(0, ask_join(&k));
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_EQ(want, r.ev.flags);
	EXPECT_EQ(3, r.ev.type);
	EXPECT_STREQ("gate.moved", r.topic);
	EXPECT_EQ(0, r.payload_len);
	EXPECT_EQ(0, quiet(s));

	st = stats(p);
	EXPECT_EQ(2, st.approval_allowed);
	EXPECT_EQ(2, st.approval_modified);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/*
 * The deadline passes: the default applies (deny: ETIMEDOUT, after the
 * deadline and not much later), the approver gets a CANCELLED record with
 * EVBUS_CANCEL_EXPIRED and the request's id, and a late verdict is ENOENT.
 * With a default of allow the event is published.
 */
TEST(deadline_gives_the_default_verdict)
{
	struct evbus *p, *a, *s, *a2;
	struct evbus_bus_stats st;
	struct ask k;
	struct req r, c;
	uint32_t id = 0, id2 = 0;

	SETUP(p, a, s, EVBUS_DENY, id);
	ASSERT_EQ(0, ask_start(&k, p, "gate.slow", "wait", 300 * MSEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(-ETIMEDOUT, ask_join(&k));
	EXPECT_GE(k.ms, 290);
	EXPECT_LT(k.ms, 3000);
	ASSERT_EQ(0, next_rec(a, &c, 2000));
	ASSERT_EQ(EVBUS_REC_CANCELLED, c.kind);
	EXPECT_EQ(r.id, c.id);
	EXPECT_EQ(id, c.approver_id);
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, c.flags);
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(a, r.id));
	EXPECT_EQ(0, quiet(s));
	st = stats(p);
	EXPECT_EQ(1, st.approval_expired);
	EXPECT_EQ(0, st.approval_pending);

	/* Default allow: published, unchanged. */
	ASSERT_EQ(0, evbus_approver_del(a, id));
	LT_OPEN(a2, 0);
	ASSERT_EQ(0, evbus_approver_add(a2, "gate.>", 0, EVBUS_ALLOW, &id2));
	EXPECT_NE(id, id2);
	ASSERT_EQ(0, ask_start(&k, p, "gate.slow", "anyway", 300 * MSEC));
	ASSERT_EQ(0, next_rec(a2, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(id2, r.approver_id);
	ASSERT_EQ(0, ask_join(&k));
	EXPECT_GE(k.ms, 290);
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	ASSERT_EQ(EVBUS_REC_EVENT, r.kind);
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_EQ(0, r.ev.flags & EVBUS_EVENT_MODIFIED);
	EXPECT_STREQ("anyway", r.payload);
	ASSERT_EQ(0, next_rec(a2, &c, 2000));
	EXPECT_EQ(EVBUS_REC_CANCELLED, c.kind);
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, c.flags);
	st = stats(p);
	EXPECT_EQ(2, st.approval_expired);
	EXPECT_EQ(1, st.approval_allowed);
	evbus_close(a2);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/*
 * The approver goes away with a request pending: the default at once
 * (deny: ECONNRESET), by close() and by evbus_approver_del() (allow).
 */
TEST(approver_gone_gives_the_default_at_once)
{
	struct evbus *p, *a, *s;
	struct evbus_bus_stats st;
	struct ask k;
	struct req r;
	uint32_t id = 0;

	SETUP(p, a, s, EVBUS_DENY, id);
	ASSERT_EQ(0, ask_start(&k, p, "gate.x", "closed", 10 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	evbus_close(a);
	EXPECT_EQ(-ECONNRESET, ask_join(&k));
	EXPECT_LT(k.ms, 5000);
	EXPECT_EQ(0, quiet(s));

	LT_OPEN(a, 0);
	ASSERT_EQ(0, evbus_approver_add(a, "gate.>", 0, EVBUS_ALLOW, &id));
	ASSERT_EQ(0, ask_start(&k, p, "gate.x", "deleted", 10 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	ASSERT_EQ(0, evbus_approver_del(a, id));
	EXPECT_EQ(-ENOENT, evbus_approver_del(a, id));
	ASSERT_EQ(0, ask_join(&k));
	EXPECT_LT(k.ms, 5000);
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(a, r.id));
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_STREQ("deleted", r.payload);

	st = stats(p);
	EXPECT_EQ(2, st.approval_gone);
	EXPECT_EQ(0, st.approvers);
	EXPECT_EQ(0, st.approval_pending);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * A signal interrupts the waiting publisher (a handler without
 * SA_RESTART): EINTR, nothing published, and the approver gets a CANCELLED
 * record with EVBUS_CANCEL_WITHDRAWN; its late verdict is ENOENT.
 */
TEST(interrupted_publisher_withdraws_the_request)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct evbus *p, *a, *s;
	struct ask k;
	struct req r, c;
	uint32_t id = 0;

	SETUP(p, a, s, EVBUS_ALLOW, id);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, ask_start(&k, p, "gate.int", "stop me", 10 * SEC));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ((uint32_t)k.tid, r.ev.tid);
	ASSERT_EQ(0, pthread_kill(k.th, SIGUSR1));
	EXPECT_EQ(-EINTR, ask_join(&k));
	EXPECT_LT(k.ms, 5000);
	ASSERT_EQ(0, next_rec(a, &c, 2000));
	ASSERT_EQ(EVBUS_REC_CANCELLED, c.kind);
	EXPECT_EQ(r.id, c.id);
	EXPECT_EQ(id, c.approver_id);
	EXPECT_EQ(EVBUS_CANCEL_WITHDRAWN, c.flags);
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(a, r.id));
	EXPECT_EQ(0, quiet(s));
	EXPECT_EQ(1, stats(p).approval_withdrawn);
	EXPECT_EQ(0, stats(p).published);
	evbus_close(s);
	evbus_close(a);
	evbus_close(p);
}

/*
 * A chain: the higher priority is asked first and alone; its modified
 * event is what the next one sees (flagged, with its id) and what is
 * delivered.
 */
TEST(chain_asks_by_priority_and_passes_changes_on)
{
	struct evbus *p, *lo, *hi, *s;
	uint32_t id_lo = 0, id_hi = 0;
	struct ask k;
	struct req r;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_GATE(p);
	LT_OPEN(lo, 0);
	LT_OPEN(hi, 0);
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe(s, "chain.>", NULL));
	ASSERT_EQ(0, evbus_approver_add(lo, "chain.>", -5, EVBUS_DENY, &id_lo));
	ASSERT_EQ(0, evbus_approver_add(hi, "chain.*", 10, EVBUS_DENY, &id_hi));
	ASSERT_EQ(0, ask_start(&k, p, "chain.a", "one", 5 * SEC));
	ASSERT_EQ(0, next_rec(hi, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(id_hi, r.approver_id);
	EXPECT_EQ(0, quiet(lo));
	/* Another file's request is not this one's to answer. */
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(lo, r.id));
	ASSERT_EQ(0, evbus_verdict_modify(hi, r.id, NULL, "two", 3, 6));
	ASSERT_EQ(0, next_rec(lo, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(id_lo, r.approver_id);
	EXPECT_STREQ("two", r.payload);
	EXPECT_EQ(6, r.ev.type);
	EXPECT_EQ(EVBUS_EVENT_MODIFIED, r.ev.flags & EVBUS_EVENT_MODIFIED);
	EXPECT_EQ(id_hi, EVBUS_EVENT_MODIFIER(r.ev.flags));
	ASSERT_EQ(0, evbus_verdict_allow(lo, r.id));
	ASSERT_EQ(0, ask_join(&k));
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	EXPECT_EQ(k.seq, r.ev.seq);
	EXPECT_EQ(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | id_hi << 16,
		  r.ev.flags);
	EXPECT_STREQ("two", r.payload);
	EXPECT_EQ(1, stats(p).approval_modified);
	EXPECT_EQ(2, stats(p).approval_requests);
	evbus_close(s);
	evbus_close(hi);
	evbus_close(lo);
	evbus_close(p);
}

/* No approver on the topic: published at once, not flagged. */
TEST(ask_without_an_approver_publishes_at_once)
{
	struct evbus *p, *s;
	struct req r;
	uint64_t seq = 0;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_GATE(p);
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe(s, "free.>", NULL));
	ASSERT_EQ(0, evbus_publish_ask(p, "free.x", "hi", 2, NULL, SEC, &seq));
	EXPECT_NE(0, seq);
	ASSERT_EQ(0, next_rec(s, &r, 2000));
	EXPECT_EQ(seq, r.ev.seq);
	EXPECT_EQ(0, r.ev.flags);
	EXPECT_EQ(1, stats(p).approval_asked);
	evbus_close(s);
	evbus_close(p);
}

/*
 * The policy: an ask rule makes a plain publish ask (the request says
 * mandatory), and with no approver it fails with ECONNREFUSED; the approve
 * right is checked on the pattern.
 */
TEST(policy_ask_rule_and_approve_right)
{
	struct evbus *p, *a;
	struct ask k;
	struct req r;
	uint32_t rule = 0, id = 0;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_GATE(p);
	ASSERT_EQ(0, evbus_policy_add(p, "must.>", EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
				      EVBUS_WHO_ALL, 0, 0, &rule));
	EXPECT_EQ(-EINVAL, evbus_policy_add(p, "must.>", EVBUS_ASK,
					    EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL,
					    0, 0, NULL));
	EXPECT_EQ(-ECONNREFUSED, evbus_publish(p, "must.x", "a", 1, NULL, NULL));
	EXPECT_EQ(1, stats(p).approval_nobody);

	LT_OPEN(a, 0);
	ASSERT_EQ(0, evbus_approver_add(a, "must.>", 0, EVBUS_DENY, &id));
	/* A plain publish, in a thread: it waits for the approver. */
	memset(&k, 0, sizeof(k));
	k.bus = p;
	k.topic = "must.x";
	k.payload = "plain";
	k.plain = true;
	k.ret = 1;
	ASSERT_EQ(0, pthread_create(&k.th, NULL, ask_fn, &k));
	ASSERT_EQ(0, next_rec(a, &r, 5000));
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(EVBUS_REQ_MANDATORY, r.flags);
	EXPECT_STREQ("plain", r.payload);
	ASSERT_EQ(0, evbus_verdict_allow(a, r.id));
	ASSERT_EQ(0, ask_join(&k));
	evbus_close(a);

	/* The approve right. */
	ASSERT_EQ(0, evbus_policy_clear(p, 0));
	ASSERT_EQ(0, evbus_policy_add(p, "secret.>", EVBUS_DENY, EVBUS_RIGHT_APPROVE,
				      EVBUS_WHO_ALL, 0, 0, NULL));
	LT_OPEN(a, 0);
	EXPECT_EQ(-EACCES, evbus_approver_add(a, "secret.x", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(-EACCES, evbus_approver_add(a, ">", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(0, evbus_approver_add(a, "open.>", 0, EVBUS_ALLOW, &id));
	evbus_close(a);
	evbus_close(p);
}

/* Bad arguments are refused before or by the kernel, changing nothing. */
TEST(bad_arguments)
{
	struct evbus *a;
	uint32_t id = 0xcccccccc;

	LT_NEW_BUS();
	LT_OPEN(a, 0);
	LT_NEED_GATE(a);
	EXPECT_EQ(-EINVAL, evbus_approver_add(NULL, "x", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(-EINVAL, evbus_approver_add(a, NULL, 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(-EINVAL, evbus_approver_add(a, "", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(-EINVAL, evbus_approver_add(a, "x", 0, 0, &id));
	EXPECT_EQ(-EINVAL, evbus_approver_add(a, "x", 0, EVBUS_ASK, &id));
	EXPECT_EQ(-EINVAL, evbus_approver_add(a, "a..b", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(0xcccccccc, id);
	EXPECT_EQ(0, stats(a).approvers);
	EXPECT_EQ(-ENOENT, evbus_approver_del(a, 1));
	EXPECT_EQ(-ENOENT, evbus_verdict_allow(a, 12345));
	EXPECT_EQ(-EINVAL, evbus_verdict_modify(a, 1, NULL, NULL, 1, 0));
	EXPECT_EQ(-EINVAL, evbus_verdict_allow(NULL, 1));
	EXPECT_EQ(-EINVAL, evbus_publish_ask(NULL, "x", "", 0, NULL, 0, NULL));
	evbus_close(a);
}

/* At most EVBUS_APPROVERS_MAX per file. */
TEST(approvers_per_file_are_capped)
{
	struct evbus *a;
	uint32_t id, ids[EVBUS_APPROVERS_MAX];
	int i, j;

	LT_NEW_BUS();
	LT_OPEN(a, 0);
	LT_NEED_GATE(a);
	for (i = 0; i < EVBUS_APPROVERS_MAX; i++) {
		ASSERT_EQ(0, evbus_approver_add(a, "cap.>", i, EVBUS_ALLOW, &ids[i]));
		for (j = 0; j < i; j++)
			EXPECT_NE(ids[j], ids[i]);
	}
	EXPECT_EQ(-ENOSPC, evbus_approver_add(a, "cap.>", 0, EVBUS_ALLOW, &id));
	EXPECT_EQ(EVBUS_APPROVERS_MAX, stats(a).approvers);
	evbus_close(a);
}

/* --------------------------------------------- the walker, without a kernel */

/* A request record around an event record at buf; its length. */
static size_t put_request(void *buf, uint64_t id, const char *topic,
			  const char *payload)
{
	struct evbus_request *rq = buf;
	size_t ev_len = lt_put_event((char *)buf + sizeof(*rq), topic, payload,
				     strlen(payload));

	memset(rq, 0, sizeof(*rq));
	rq->hdr.len = sizeof(*rq) + ev_len;
	rq->hdr.kind = EVBUS_REC_REQUEST;
	rq->hdr.hdr_len = sizeof(*rq);
	rq->approver_id = 3;
	rq->flags = EVBUS_REQ_MANDATORY;
	rq->id = id;
	rq->deadline_ns = 123456789;
	return rq->hdr.len;
}

TEST(walker_decodes_requests_and_cancellations)
{
	static uint64_t buf[256];
	const struct evbus_record *rec;
	const struct evbus_request *rq;
	const struct evbus_cancelled *cn;
	struct evbus_cancelled *c;
	struct evbus_rec_iter it;
	size_t len;

	len = put_request(buf, 42, "tool.run", "ls");
	c = (void *)((char *)buf + len);
	memset(c, 0, sizeof(*c));
	c->hdr.len = sizeof(*c);
	c->hdr.kind = EVBUS_REC_CANCELLED;
	c->hdr.hdr_len = sizeof(*c);
	c->approver_id = 3;
	c->reason = EVBUS_CANCEL_EXPIRED;
	c->id = 42;
	len += sizeof(*c);

	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(EVBUS_REC_REQUEST, rec->kind);
	EXPECT_EQ(NULL, rec->event);
	EXPECT_EQ(NULL, rec->lagged);
	EXPECT_EQ(NULL, evbus_record_cancelled(rec));
	EXPECT_EQ(NULL, evbus_record_revoked(rec));
	rq = evbus_record_request(rec);
	ASSERT_NE(NULL, rq);
	EXPECT_EQ(42, rq->id);
	EXPECT_EQ(3, rq->approver_id);
	EXPECT_EQ(EVBUS_REQ_MANDATORY, rq->flags);
	EXPECT_EQ(123456789, rq->deadline_ns);
	EXPECT_EQ(EVBUS_REC_EVENT, EVBUS_REQUEST_EVENT(rq)->hdr.kind);
	EXPECT_STREQ("tool.run", rec->topic);
	EXPECT_EQ(8, rec->topic_len);
	EXPECT_EQ(2, rec->payload_len);
	EXPECT_EQ(0, memcmp(rec->payload, "ls", 2));
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(EVBUS_REC_CANCELLED, rec->kind);
	EXPECT_EQ(NULL, evbus_record_request(rec));
	cn = evbus_record_cancelled(rec);
	ASSERT_NE(NULL, cn);
	EXPECT_EQ(42, cn->id);
	EXPECT_EQ(3, cn->approver_id);
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, cn->reason);
	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &rec));
}

TEST(walker_refuses_malformed_requests)
{
	static uint64_t buf[256];
	const struct evbus_record *rec;
	struct evbus_request *rq = (void *)buf;
	struct evbus_event *ev = (void *)(rq + 1);
	struct evbus_rec_iter it;
	size_t len;

	/* The carried event claims more than the request holds. */
	len = put_request(buf, 1, "a.b", "payload");
	ev->hdr.len += 8;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* ... a payload beyond its own record. */
	len = put_request(buf, 1, "a.b", "payload");
	ev->payload_len = 4096;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* ... a topic without its NUL. */
	len = put_request(buf, 1, "a.b", "payload");
	ev->topic_len = 2;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* ... not an event. */
	len = put_request(buf, 1, "a.b", "payload");
	ev->hdr.kind = EVBUS_REC_LAGGED;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* A fixed part too short, or misaligned. */
	len = put_request(buf, 1, "a.b", "payload");
	rq->hdr.hdr_len = sizeof(*rq) - 8;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	len = put_request(buf, 1, "a.b", "payload");
	rq->hdr.hdr_len = sizeof(*rq) + 4;
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* A cancellation too short. */
	memset(buf, 0, 16);
	rq->hdr.len = 16;
	rq->hdr.kind = EVBUS_REC_CANCELLED;
	rq->hdr.hdr_len = 16;
	ASSERT_EQ(0, evbus_records_init(&it, buf, 16));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	/* Well formed again: fine. */
	len = put_request(buf, 1, "a.b", "payload");
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));
	EXPECT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_STREQ("payload", (const char *)rec->payload);
}

TEST_HARNESS_MAIN
