// SPDX-License-Identifier: GPL-2.0
/*
 * The approval gate (#16), against uapi/linux/evbus.h ("Approval gate").
 *
 * One test per way an asking publish ends: allowed, denied with an errno,
 * modified, the deadline passing (default allow and default deny), the
 * approver removed, closed or killed, its ring full, the publisher
 * interrupted or killed, a second or unknown verdict; then chains of
 * three approvers (order, modification seen down the chain, the last
 * modifier's id, a new topic's chain), approval made mandatory by an
 * EVBUS_ASK policy rule, EVBUS_RIGHT_APPROVE, hostile input from an
 * unprivileged uid (other files' request ids, oversize or forbidden
 * modifications, racing double verdicts, malformed structs), io_uring
 * publishes that complete on the verdict, batches, $sys.approval.denied
 * and the approval_* counters of struct evbus_bus_stats; and the caps:
 * max_user_asks, EVBUS_APPROVER_PENDING_MAX, max_approvers and
 * max_user_approvers (also across user namespaces), each lowered (or
 * raised) for its test and restored after.
 *
 * Every test runs on a bus of its own (a new IPC namespace, made by the
 * fixture), so seqs start at 1 and the bus's counters at zero.  An asking
 * publish blocks, so publishers run in threads (struct ask) or child
 * processes while the test process answers as the approver.  "As uid
 * 1000" is a file a uid-1000 child opened and passed back (every check
 * uses the credentials a file was opened with) or, where it matters that
 * the caller itself is unprivileged, a uid-1000 child doing the call.
 */
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include "evbus_test.h"
#include "evbus_mmap.h"
#include "kselftest_harness.h"

#define MS		1000000ULL		/* ns */
#define SEC		(1000 * MS)
#define LONG_NS		(20 * SEC)	/* a deadline no test waits for */
#define SHORT_NS	(300 * MS)	/* a deadline tests wait out */
#define REC_MS		5000		/* how long to wait for a record */
#define DONE_MS		10000		/* ... for a publish that should end */
#define PMAX		1024		/* payload bytes a test looks at */
#define RDBUF		(256 * 1024)

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };
static const struct evt_ids U1001 = { 1001, 1001, 0, { 0 } };

/* ------------------------------------------------- saved system state */

/* The caps the tests lower or raise (restored like the deadlines). */
static const char *const cap_names[] = {
	"max_user_asks", "max_approvers", "max_user_approvers",
};
#define NCAPS	(sizeof(cap_names) / sizeof(cap_names[0]))

/* Debian's switch for unprivileged user namespaces. */
#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

static struct {
	pid_t runner;
	int have_timeout, have_max;
	unsigned long long timeout_ms, max_ms;
	int have_cap[NCAPS];
	unsigned long long cap[NCAPS];
	char userns_clone[8];	/* "" if the sysctl does not exist */
} saved;

static void __attribute__((constructor)) save_state(void)
{
	int fd;

	saved.runner = getpid();
	saved.have_timeout = !evt_param_get("approval_timeout_ms",
					    &saved.timeout_ms);
	saved.have_max = !evt_param_get("approval_max_ms", &saved.max_ms);
	for (size_t i = 0; i < NCAPS; i++)
		saved.have_cap[i] = !evt_param_get(cap_names[i], &saved.cap[i]);
	fd = open(USERNS_CLONE, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, saved.userns_clone,
				 sizeof(saved.userns_clone) - 1);

		saved.userns_clone[n > 0 ? n : 0] = 0;
		close(fd);
	}
	evt_dev_save_mode();
}

static void restore_state(void)
{
	if (saved.have_timeout)
		evt_param_set("approval_timeout_ms", saved.timeout_ms);
	if (saved.have_max)
		evt_param_set("approval_max_ms", saved.max_ms);
	for (size_t i = 0; i < NCAPS; i++)
		if (saved.have_cap[i])
			evt_param_set(cap_names[i], saved.cap[i]);
	if (saved.userns_clone[0])
		evt_write_text(USERNS_CLONE, saved.userns_clone);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------------ helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* EVBUS_IOC_APPROVER_ADD: the id (> 0), or -errno. */
static int appr_add(int fd, const char *pattern, int32_t prio, uint32_t deflt)
{
	struct evbus_approver a;

	memset(&a, 0, sizeof(a));
	a.pattern = (uintptr_t)pattern;
	a.pattern_len = strlen(pattern);
	a.priority = prio;
	a.deflt = deflt;
	if (ioctl(fd, EVBUS_IOC_APPROVER_ADD, &a))
		return -errno;
	return (int)a.id;
}

static int appr_add_raw(int fd, struct evbus_approver *a)
{
	return ioctl(fd, EVBUS_IOC_APPROVER_ADD, a) ? -errno : 0;
}

static int appr_del(int fd, uint32_t id)
{
	return ioctl(fd, EVBUS_IOC_APPROVER_DEL, &id) ? -errno : 0;
}

static void vd_init(struct evbus_verdict *v, uint32_t verdict, uint64_t id)
{
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	v->verdict = verdict;
	v->id = id;
}

static int vd_raw(int fd, void *v)
{
	return ioctl(fd, EVBUS_IOC_VERDICT, v) ? -errno : 0;
}

static int v_allow(int fd, uint64_t id)
{
	struct evbus_verdict v;

	vd_init(&v, EVBUS_VERDICT_ALLOW, id);
	return vd_raw(fd, &v);
}

static int v_deny(int fd, uint64_t id, int32_t err)
{
	struct evbus_verdict v;

	vd_init(&v, EVBUS_VERDICT_DENY, id);
	v.error = err;
	return vd_raw(fd, &v);
}

/* Modify: topic NULL keeps the topic. */
static void vd_modify(struct evbus_verdict *v, uint64_t id, const char *topic,
		      const void *payload, uint32_t len, uint32_t type)
{
	vd_init(v, EVBUS_VERDICT_MODIFY, id);
	v->type = type;
	v->payload = (uintptr_t)payload;
	v->payload_len = len;
	if (topic) {
		v->topic = (uintptr_t)topic;
		v->topic_len = strlen(topic);
	}
}

static int v_modify(int fd, uint64_t id, const char *topic, const char *text,
		    uint32_t type)
{
	struct evbus_verdict v;

	vd_modify(&v, id, topic, text, strlen(text), type);
	return vd_raw(fd, &v);
}

/* An event as a test looks at it (a delivered one, or a request's). */
struct ev {
	uint16_t kind, hdr_len;
	uint32_t len, topic_len, payload_len;
	uint64_t seq, time_ns, mono_ns;
	uint32_t pid, tid, uid, gid, type, flags;
	uint64_t corr, parent;
	char topic[EVBUS_TOPIC_MAX + 1];
	char payload[PMAX + 1];
};

/* Any record as a test looks at it. */
struct rec {
	uint16_t kind, hdr_len;
	uint32_t len;
	uint32_t approver_id;	/* REQUEST, CANCELLED */
	uint32_t flags;		/* REQUEST: EVBUS_REQ_*; LAGGED */
	uint32_t reason;	/* CANCELLED */
	uint64_t id, deadline_ns, reserved;
	uint64_t lost;		/* LAGGED */
	int ev_ok;		/* REQUEST: the embedded event is well formed */
	struct ev ev;		/* EVENT, or REQUEST's embedded event */
};

static int parse_ev(const struct evbus_event *e, size_t room, struct ev *o)
{
	memset(o, 0, sizeof(*o));
	if (room < sizeof(*e) || e->hdr.len > room ||
	    e->hdr.hdr_len < sizeof(*e) || e->topic_len > EVBUS_TOPIC_MAX ||
	    e->hdr.hdr_len + EVBUS_ALIGN(e->topic_len + 1) +
	    EVBUS_ALIGN(e->payload_len) > e->hdr.len)
		return -EPROTO;
	o->kind = e->hdr.kind;
	o->hdr_len = e->hdr.hdr_len;
	o->len = e->hdr.len;
	o->topic_len = e->topic_len;
	o->payload_len = e->payload_len;
	o->seq = e->seq;
	o->time_ns = e->time_ns;
	o->mono_ns = e->mono_ns;
	o->pid = e->pid;
	o->tid = e->tid;
	o->uid = e->uid;
	o->gid = e->gid;
	o->type = e->type;
	o->flags = e->flags;
	o->corr = e->corr;
	o->parent = e->parent;
	memcpy(o->topic, EVBUS_EVENT_TOPIC(e), e->topic_len);
	memcpy(o->payload, EVBUS_EVENT_PAYLOAD(e),
	       e->payload_len < PMAX ? e->payload_len : PMAX);
	return 0;
}

static void parse_rec(const struct evbus_rec_hdr *h, struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = h->kind;
	r->hdr_len = h->hdr_len;
	r->len = h->len;
	switch (h->kind) {
	case EVBUS_REC_EVENT:
		r->ev_ok = !parse_ev((const void *)h, h->len, &r->ev);
		break;
	case EVBUS_REC_REQUEST: {
		const struct evbus_request *rq = (const void *)h;

		if (h->len < sizeof(*rq) || h->hdr_len < sizeof(*rq) ||
		    h->hdr_len > h->len)
			break;
		r->approver_id = rq->approver_id;
		r->flags = rq->flags;
		r->id = rq->id;
		r->deadline_ns = rq->deadline_ns;
		r->reserved = rq->reserved;
		r->ev_ok = !parse_ev(EVBUS_REQUEST_EVENT(rq),
				     h->len - h->hdr_len, &r->ev);
		break;
	}
	case EVBUS_REC_CANCELLED: {
		const struct evbus_cancelled *c = (const void *)h;

		if (h->len < sizeof(*c))
			break;
		r->approver_id = c->approver_id;
		r->reason = c->reason;
		r->id = c->id;
		break;
	}
	case EVBUS_REC_LAGGED: {
		const struct evbus_lagged *l = (const void *)h;

		if (h->len < sizeof(*l))
			break;
		r->flags = l->flags;
		r->lost = l->lost;
		break;
	}
	}
}

/* What read() returned on an fd and the tests have not looked at yet. */
struct rdbuf {
	ssize_t off, len;
	char buf[RDBUF];
};
static struct rdbuf *rdbufs[1024];

/* Close an fd the tests read records from (forgets what was buffered). */
static void rd_close(int fd)
{
	if (fd < 0)
		return;
	if (fd < 1024 && rdbufs[fd])
		rdbufs[fd]->off = rdbufs[fd]->len = 0;
	close(fd);
}

/*
 * The next record on fd, waiting up to ms: 1 (in *r), 0 if none came, or
 * -errno.  The fd is made nonblocking; poll() says when to read.
 */
static int next_rec(int fd, struct rec *r, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	struct rdbuf *b;
	ssize_t n;
	int fl;

	if (fd < 0 || fd >= 1024)
		return -EBADF;
	if (!rdbufs[fd]) {
		rdbufs[fd] = calloc(1, sizeof(struct rdbuf));
		if (!rdbufs[fd])
			return -ENOMEM;
	}
	b = rdbufs[fd];
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	for (;;) {
		if (b->off < b->len) {
			struct evbus_rec_hdr *h = (void *)(b->buf + b->off);

			if (!EVBUS_REC_OK(h, (size_t)(b->len - b->off)))
				return -EPROTO;
			parse_rec(h, r);
			b->off += h->len;
			return 1;
		}
		n = read(fd, b->buf, sizeof(b->buf));
		if (n > 0) {
			b->off = 0;
			b->len = n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (now_ns() >= end)
			return 0;
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			uint64_t left = (end - now_ns()) / MS + 1;

			poll(&p, 1, left > 20 ? 20 : (int)left);
		}
	}
}

/* The next record on fd, which must come within ms and be of kind. */
static void want_rec(struct __test_metadata *_metadata, int fd, uint16_t kind,
		     struct rec *r, int ms, const char *what)
{
	int ret = next_rec(fd, r, ms);

	ASSERT_EQ(1, ret) TH_LOG("%s: no record within %d ms (%d)", what, ms, ret);
	ASSERT_EQ(kind, r->kind) TH_LOG("%s: a record of kind %u, not %u",
					 what, r->kind, kind);
	if (kind == EVBUS_REC_REQUEST || kind == EVBUS_REC_EVENT) {
		ASSERT_TRUE(r->ev_ok) TH_LOG("%s: malformed event", what);
	}
}

#define WANT_REQ(fd, r, what)	want_rec(_metadata, fd, EVBUS_REC_REQUEST, r, REC_MS, what)
#define WANT_EV(fd, r, what)	want_rec(_metadata, fd, EVBUS_REC_EVENT, r, REC_MS, what)
#define WANT_CANCEL(fd, r, what) want_rec(_metadata, fd, EVBUS_REC_CANCELLED, r, REC_MS, what)

/* Nothing arrives on fd within ms. */
#define WANT_NONE(fd, ms, what) do {					\
	struct rec _r;							\
	int _ret = next_rec(fd, &_r, ms);				\
	EXPECT_EQ(0, _ret) TH_LOG("%s: unexpected record of kind %u",	\
				  what, _ret == 1 ? _r.kind : 0);	\
} while (0)

/*
 * A subscriber of "gate.>" (sub) and an approver of it (ap, id) with a
 * default of deflt: what most tests start from.
 */
#define GATE_PAIR(sub, ap, id, deflt) do {				\
	(sub) = sub_open("gate.>");					\
	(ap) = evt_sf_open();						\
	ASSERT_LE(0, sub);						\
	ASSERT_LE(0, ap);						\
	(id) = appr_add(ap, "gate.>", 0, deflt);			\
	ASSERT_LT(0, id) TH_LOG("APPROVER_ADD: %s", strerror(-(id)));	\
} while (0)

/*
 * ap gets a CANCELLED record for request req of its approver id, for
 * reason; a verdict for it is too late then.
 */
#define WANT_CANCELLED(ap, req, id, why) do {				\
	struct rec _c;							\
									\
	WANT_CANCEL(ap, &_c, "the approver learns");			\
	EXPECT_EQ(why, _c.reason);					\
	EXPECT_EQ((req)->id, _c.id);					\
	EXPECT_EQ((uint32_t)(id), _c.approver_id);			\
	EXPECT_EQ(-ENOENT, v_allow(ap, (req)->id));			\
} while (0)

/* ------------------------------------------------------------ publishers */

/* A publish in a thread of its own: it may wait for approval. */
struct ask {
	int fd;
	struct evbus_pub p;
	char topic[EVBUS_TOPIC_MAX + 1];
	char payload[PMAX];
	pthread_t th;
	int started;
	pid_t tid;
	int ret;		/* 0 or -errno */
	int done;
	uint64_t t0, t1;	/* CLOCK_MONOTONIC around the ioctl */
};

static void ask_init(struct ask *a, int fd, const char *topic,
		     const char *payload, uint32_t flags, uint64_t deadline_ns)
{
	memset(a, 0, sizeof(*a));
	a->fd = fd;
	snprintf(a->topic, sizeof(a->topic), "%s", topic);
	snprintf(a->payload, sizeof(a->payload), "%s", payload);
	a->p.topic = (uintptr_t)a->topic;
	a->p.topic_len = strlen(a->topic);
	a->p.payload = (uintptr_t)a->payload;
	a->p.payload_len = strlen(a->payload);
	a->p.flags = flags;
	a->p.deadline_ns = deadline_ns;
}

static void *ask_main(void *arg)
{
	struct ask *a = arg;
	int ret;

	__atomic_store_n(&a->tid, gettid(), __ATOMIC_RELEASE);
	a->t0 = now_ns();
	ret = ioctl(a->fd, EVBUS_IOC_PUBLISH, &a->p) ? -errno : 0;
	a->t1 = now_ns();
	a->ret = ret;
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int ask_start(struct ask *a)
{
	int ret = pthread_create(&a->th, NULL, ask_main, a);

	if (!ret)
		a->started = 1;
	return ret;
}

/* Did the publish return within ms?  (The thread is joined if so.) */
static int ask_wait(struct ask *a, int ms)
{
	struct timespec ts;

	if (!a->started)
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(a->th, NULL, &ts))
		return 0;
	a->started = 0;
	return 1;
}

static int ask_pending(struct ask *a)
{
	return !__atomic_load_n(&a->done, __ATOMIC_ACQUIRE);
}

/* Start an asking publish on fd (fields are in a->p after ask_init). */
#define ASK(a, fd, topic, payload, flags, deadline) do {		\
	ask_init(a, fd, topic, payload, flags, deadline);		\
	ASSERT_EQ(0, ask_start(a));					\
} while (0)

/* The publish a returns within DONE_MS with ret (0 or -errno). */
#define ASK_ENDS(a, want) do {						\
	ASSERT_TRUE(ask_wait(a, DONE_MS))				\
		TH_LOG("the publish is still waiting");			\
	EXPECT_EQ(want, (a)->ret) TH_LOG("publish: %s",			\
					 strerror(-(a)->ret));		\
} while (0)

/* ------------------------------------------------------------ counters */

enum { C_ASKED, C_REQUESTS, C_ALLOWED, C_MODIFIED, C_DENIED, C_EXPIRED,
       C_GONE, C_FULL, C_WITHDRAWN, C_NOBODY, C_N };
static const char *const c_name[C_N] = {
	"approval_asked", "approval_requests", "approval_allowed",
	"approval_modified", "approval_denied", "approval_expired",
	"approval_gone", "approval_full", "approval_withdrawn",
	"approval_nobody",
};

static void ctr_vec(const struct evbus_bus_stats *bs, uint64_t v[C_N])
{
	const __u64 *p = &bs->approval_asked;

	for (int i = 0; i < C_N; i++)
		v[i] = p[i];
}

/*
 * Every approval_* counter of own's bus moved by exactly d[] since
 * *before (then *before is updated), and nothing is pending.
 */
static void expect_moved(struct __test_metadata *_metadata, int own,
			 struct evbus_bus_stats *before, const uint64_t d[C_N],
			 int line)
{
	struct evbus_bus_stats now;
	uint64_t a[C_N], b[C_N];

	ASSERT_EQ(0, evt_bus_stats(own, &now));
	ctr_vec(before, a);
	ctr_vec(&now, b);
	for (int i = 0; i < C_N; i++) {
		EXPECT_EQ(d[i], b[i] - a[i])
			TH_LOG("line %d: %s moved by %llu, not %llu", line,
			       c_name[i], (unsigned long long)(b[i] - a[i]),
			       (unsigned long long)d[i]);
	}
	EXPECT_EQ(0, now.approval_pending) TH_LOG("line %d", line);
	*before = now;
}

#define EXPECT_MOVED(before, ...)					\
	expect_moved(_metadata, self->own, &(before),			\
		     (const uint64_t[C_N]){ __VA_ARGS__ }, __LINE__)

/* ------------------------------------------------------------ fixture */

FIXTURE(gate) {
	int own;		/* root's file on the test's own bus */
	uint32_t max_payload;
};

FIXTURE_SETUP(gate)
{
	struct evbus_bus_stats bs;
	struct evbus_version v;

	self->own = -1;
	restore_state();	/* a test that timed out may have left params */
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_sf_open();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, evt_version(self->own, &v));
	ASSERT_TRUE(v.features & EVBUS_FEAT_APPROVAL)
		TH_LOG("the module does not have the approval gate");
	self->max_payload = v.max_payload;
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	ASSERT_EQ(0, bs.seq);
	ASSERT_EQ(0, bs.approvers);
	ASSERT_EQ(0, bs.approval_asked);
	ASSERT_EQ(0, bs.approval_pending);
}

FIXTURE_TEARDOWN(gate)
{
	if (self->own >= 0) {
		evt_policy_clear(self->own);
		rd_close(self->own);
	}
	restore_state();
}

/* A nonblocking root file subscribed to pattern (NULL: none). */
static int sub_open(const char *pattern)
{
	int fd = evt_sf_open();

	if (fd >= 0 && pattern && evt_sub(fd, pattern) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* =============================================================== allow */

/*
 * Allow: the request carries everything the event will carry (seq 0),
 * the publisher waits until the verdict and then gets the seq, and the
 * subscriber gets the event flagged APPROVED, nothing before.
 */
TEST_F(gate, allow_publishes_after_the_verdict)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	struct pollfd pfd;
	struct rec r, e;
	int ap, sub, id;
	uint64_t t_read;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, EVBUS_DENY);
	ASSERT_GE(EVBUS_APPROVER_ID_MAX, id);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.approvers);

	ask_init(&a, self->own, "gate.x", "hello", EVBUS_PUB_ASK, LONG_NS);
	a.p.type = 7;
	a.p.corr = 0x1122334455667788ULL;
	a.p.parent = 5;
	ASSERT_EQ(0, ask_start(&a));

	/* The approver's file becomes readable with the request. */
	pfd.fd = ap;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, REC_MS));
	EXPECT_TRUE(pfd.revents & POLLIN);
	WANT_REQ(ap, &r, "the request");
	t_read = now_ns();
	EXPECT_EQ(sizeof(struct evbus_request), r.hdr_len);
	EXPECT_EQ(r.hdr_len + r.ev.len, r.len);
	EXPECT_EQ(0, r.len % EVBUS_REC_ALIGN);
	EXPECT_NE(0, r.id);
	EXPECT_EQ(id, r.approver_id);
	EXPECT_EQ(0, r.flags);			/* not mandatory */
	EXPECT_EQ(0, r.reserved);
	EXPECT_LT(t_read, r.deadline_ns);	/* in the future */
	EXPECT_LE(a.t0 + LONG_NS, r.deadline_ns);
	EXPECT_GE(t_read + LONG_NS, r.deadline_ns);
	/* The event as it would be delivered, seq 0. */
	EXPECT_EQ(EVBUS_REC_EVENT, r.ev.kind);
	EXPECT_EQ(sizeof(struct evbus_event), r.ev.hdr_len);
	EXPECT_EQ(sizeof(struct evbus_event) + EVBUS_ALIGN(strlen("gate.x") + 1) +
		  EVBUS_ALIGN(5), r.ev.len);
	EXPECT_STREQ("gate.x", r.ev.topic);
	EXPECT_EQ(6, r.ev.topic_len);
	EXPECT_EQ(5, r.ev.payload_len);
	EXPECT_STREQ("hello", r.ev.payload);
	EXPECT_EQ(7, r.ev.type);
	EXPECT_EQ(0x1122334455667788ULL, r.ev.corr);
	EXPECT_EQ(5, r.ev.parent);
	EXPECT_EQ(0, r.ev.seq);
	EXPECT_EQ(0, r.ev.flags);
	EXPECT_EQ(getpid(), r.ev.pid);
	EXPECT_EQ(__atomic_load_n(&a.tid, __ATOMIC_ACQUIRE), r.ev.tid);
	EXPECT_EQ(geteuid(), r.ev.uid);
	EXPECT_EQ(getegid(), r.ev.gid);
	EXPECT_LE(a.t0, r.ev.mono_ns);
	EXPECT_GE(t_read, r.ev.mono_ns);

	/* Nothing goes out, and the publisher waits, until the verdict. */
	WANT_NONE(sub, 100, "before the verdict");
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.approval_pending);
	EXPECT_EQ(0, bs.seq);

	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	WANT_EV(sub, &e, "the approved event");
	EXPECT_EQ(a.p.seq, e.ev.seq);
	EXPECT_STREQ("gate.x", e.ev.topic);
	EXPECT_STREQ("hello", e.ev.payload);
	EXPECT_EQ(7, e.ev.type);
	EXPECT_EQ(0x1122334455667788ULL, e.ev.corr);
	EXPECT_EQ(5, e.ev.parent);
	EXPECT_EQ(getpid(), e.ev.pid);
	EXPECT_EQ(a.tid, e.ev.tid);
	EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
	WANT_NONE(sub, 50, "one event only");
	WANT_NONE(ap, 50, "no other record for the approver");

	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.seq);
	EXPECT_EQ(1, bs.approvers);
	rd_close(sub);
	rd_close(ap);
}

/* An ASK publish that no approver's pattern matches goes out at once. */
TEST_F(gate, ask_with_no_matching_approver_goes_out_at_once)
{
	struct evbus_bus_stats bs;
	struct evbus_pub p;
	struct rec e;
	int ap = evt_sf_open(), sub = sub_open(">");

	ASSERT_LE(0, ap);
	ASSERT_LE(0, sub);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)"other.x";
	p.topic_len = 7;
	p.flags = EVBUS_PUB_ASK;
	p.deadline_ns = LONG_NS;
	ASSERT_EQ(0, ioctl(self->own, EVBUS_IOC_PUBLISH, &p));
	EXPECT_EQ(1, p.seq);
	WANT_EV(sub, &e, "the event");
	EXPECT_EQ(0, e.ev.flags);
	WANT_NONE(ap, 50, "the approver is not asked");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approval_requests);
	EXPECT_EQ(0, bs.approval_pending);
	/* And a publish without EVBUS_PUB_ASK on the approver's topic too. */
	EXPECT_EQ(2, evt_pub(self->own, "gate.x", "plain"));
	WANT_NONE(ap, 50, "a plain publish does not ask");
	rd_close(sub);
	rd_close(ap);
}

/* A request is read through a mapped ring like any record. */
TEST_F(gate, request_through_the_mapped_ring)
{
	static struct ask a;
	static char buf[65536];
	struct evt_map m;
	struct pollfd pfd;
	ssize_t n;
	int ap, id;
	struct rec r;

	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_EQ(0, evt_set_ring(ap, 65536, EVBUS_POLICY_DROP_NEWEST));
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, evt_map(&m, ap));
	ASK(&a, self->own, "gate.x", "mapped", EVBUS_PUB_ASK, LONG_NS);
	pfd.fd = ap;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, REC_MS));
	n = evt_map_drain(&m, buf, sizeof(buf));
	ASSERT_LT(0, n);
	ASSERT_TRUE(EVBUS_REC_OK((struct evbus_rec_hdr *)buf, (size_t)n));
	parse_rec((struct evbus_rec_hdr *)buf, &r);
	ASSERT_EQ(EVBUS_REC_REQUEST, r.kind);
	EXPECT_EQ(n, r.len) TH_LOG("one record");
	ASSERT_TRUE(r.ev_ok);
	EXPECT_EQ(id, r.approver_id);
	EXPECT_STREQ("mapped", r.ev.payload);
	EXPECT_EQ(0, r.ev.seq);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	/* read() has nothing more: the mapping consumed it. */
	WANT_NONE(ap, 50, "consumed through the mapping");
	evt_unmap(&m);
	rd_close(ap);
}

/* ================================================================ deny */

TEST_F(gate, deny_gives_the_errno_and_publishes_nothing)
{
	static const int errs[] = { ENOMSG, EPERM, EVBUS_VERDICT_ERRNO_MAX };
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	int ap, sub, id;
	struct rec r;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, EVBUS_ALLOW);
	for (unsigned int i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		ASK(&a, self->own, "gate.x", "no", EVBUS_PUB_ASK, LONG_NS);
		WANT_REQ(ap, &r, "the request");
		ASSERT_EQ(0, v_deny(ap, r.id, errs[i]));
		ASK_ENDS(&a, -errs[i]);
		EXPECT_EQ(0, a.p.seq);
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_DENIED] = 1);
	}
	/* error 0: EACCES. */
	ASK(&a, self->own, "gate.x", "no", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_deny(ap, r.id, 0));
	ASK_ENDS(&a, -EACCES);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_DENIED] = 1);

	WANT_NONE(sub, 100, "nothing was published");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.seq);
	EXPECT_EQ(0, bs.published);
	/* The next one is numbered 1: a denial takes no seq. */
	ASK(&a, self->own, "gate.x", "yes", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	rd_close(sub);
	rd_close(ap);
}

/* ============================================================== modify */

TEST_F(gate, modify_changes_payload_type_and_topic)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, sub, id;
	struct rec r, e;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	sub = sub_open(">");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);

	/* Payload and type; the topic stays (topic_len 0). */
	ask_init(&a, self->own, "gate.x", "original", EVBUS_PUB_ASK, LONG_NS);
	a.p.type = 1;
	a.p.corr = 99;
	a.p.parent = 3;
	ASSERT_EQ(0, ask_start(&a));
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_modify(ap, r.id, NULL, "changed!!", 9));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	WANT_EV(sub, &e, "the modified event");
	EXPECT_EQ(1, e.ev.seq);
	EXPECT_STREQ("gate.x", e.ev.topic);
	EXPECT_STREQ("changed!!", e.ev.payload);
	EXPECT_EQ(9, e.ev.payload_len);
	EXPECT_EQ(9, e.ev.type);
	EXPECT_EQ(99, e.ev.corr);
	EXPECT_EQ(3, e.ev.parent);
	EXPECT_EQ(getpid(), e.ev.pid);
	EXPECT_TRUE(e.ev.flags & EVBUS_EVENT_MODIFIED);
	EXPECT_EQ(id, EVBUS_EVENT_MODIFIER(e.ev.flags));
	EXPECT_EQ(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | ((uint32_t)id << 16),
		  e.ev.flags);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_MODIFIED] = 1);

	/* A new topic (root may publish there), an empty payload. */
	ASK(&a, self->own, "gate.y", "original", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_modify(ap, r.id, "moved.here", "", 0));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(2, a.p.seq);
	WANT_EV(sub, &e, "the moved event");
	EXPECT_EQ(2, e.ev.seq);
	EXPECT_STREQ("moved.here", e.ev.topic);
	EXPECT_EQ(0, e.ev.payload_len);
	EXPECT_EQ(0, e.ev.type);
	EXPECT_EQ(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | ((uint32_t)id << 16),
		  e.ev.flags);
	WANT_NONE(sub, 50, "one event each");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_MODIFIED] = 1);

	/* The largest payload the bus takes is a valid modification. */
	{
		char *big = malloc(self->max_payload);
		struct evbus_verdict v;

		ASSERT_NE(NULL, big);
		memset(big, 'm', self->max_payload);
		ASK(&a, self->own, "gate.z", "small", EVBUS_PUB_ASK, LONG_NS);
		WANT_REQ(ap, &r, "the request");
		vd_modify(&v, r.id, NULL, big, self->max_payload, 4);
		ASSERT_EQ(0, vd_raw(ap, &v));
		ASK_ENDS(&a, 0);
		WANT_EV(sub, &e, "the big event");
		EXPECT_EQ(self->max_payload, e.ev.payload_len);
		EXPECT_EQ(0, memcmp(e.ev.payload, big, PMAX));
		free(big);
	}
	rd_close(sub);
	rd_close(ap);
}

/* ============================================================ deadline */

FIXTURE(gate_default) {
	int own;
	uint32_t max_payload;
};

FIXTURE_VARIANT(gate_default) {
	uint32_t deflt;
};
FIXTURE_VARIANT_ADD(gate_default, allow) { .deflt = EVBUS_ALLOW };
FIXTURE_VARIANT_ADD(gate_default, deny) { .deflt = EVBUS_DENY };


FIXTURE_SETUP(gate_default)
{
	/* The same as gate's. */
	struct evbus_bus_stats bs;

	self->own = -1;
	restore_state();
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_sf_open();
	ASSERT_LE(0, self->own);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	ASSERT_EQ(0, bs.seq);
	ASSERT_EQ(0, bs.approvers);
}

FIXTURE_TEARDOWN(gate_default)
{
	if (self->own >= 0) {
		evt_policy_clear(self->own);
		rd_close(self->own);
	}
	restore_state();
}

/* What a default verdict gives the publisher: 0 (published) or errno. */
static int dflt_ret(uint32_t deflt, int deny_errno)
{
	return deflt == EVBUS_ALLOW ? 0 : -deny_errno;
}

/*
 * The publisher got the default verdict: published (seq 1 on the fresh
 * bus, delivered to sub, not modified), or nothing published.
 */
static void check_default(struct __test_metadata *_metadata, uint32_t deflt,
			  struct ask *a, int sub)
{
	struct rec e;

	if (deflt == EVBUS_ALLOW) {
		EXPECT_EQ(1, a->p.seq);
		WANT_EV(sub, &e, "published by default");
		EXPECT_EQ(a->p.seq, e.ev.seq);
		EXPECT_STREQ(a->topic, e.ev.topic);
		EXPECT_STREQ(a->payload, e.ev.payload);
		EXPECT_EQ(0, e.ev.flags & EVBUS_EVENT_MODIFIED);
	} else {
		EXPECT_EQ(0, a->p.seq);
		WANT_NONE(sub, 100, "nothing published");
	}
}

/* The deadline passes: default verdict, CANCELLED EXPIRED, late ENOENT. */
TEST_F(gate_default, deadline_gives_the_default)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, sub, id;
	struct rec r, c;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, variant->deflt);
	ASK(&a, self->own, "gate.x", "late", EVBUS_PUB_ASK, SHORT_NS);
	WANT_REQ(ap, &r, "the request");
	EXPECT_LE(a.t0 + SHORT_NS, r.deadline_ns);
	ASK_ENDS(&a, dflt_ret(variant->deflt, ETIMEDOUT));
	/* Not before the deadline (a little timer slack allowed). */
	EXPECT_LE(r.deadline_ns, a.t1 + MS);
	EXPECT_LE(a.t0 + SHORT_NS, a.t1 + MS);
	check_default(_metadata, variant->deflt, &a, sub);
	WANT_CANCEL(ap, &c, "the approver learns");
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, c.reason);
	EXPECT_EQ(r.id, c.id);
	EXPECT_EQ(id, c.approver_id);
	EXPECT_EQ(sizeof(struct evbus_cancelled), c.len);
	EXPECT_EQ(sizeof(struct evbus_cancelled), c.hdr_len);
	/* Too late: nothing changes. */
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id));
	EXPECT_EQ(-ENOENT, v_deny(ap, r.id, 0));
	if (variant->deflt == EVBUS_ALLOW) {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1,
			     [C_ALLOWED] = 1, [C_EXPIRED] = 1);
	} else {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1,
			     [C_EXPIRED] = 1);
	}
	WANT_NONE(sub, 50, "no late event");
	rd_close(sub);
	rd_close(ap);
}

/*
 * The approver goes away with a request pending, three ways: its file is
 * closed, its approver is removed (EVBUS_IOC_APPROVER_DEL), its process
 * is killed.  The default applies at once, well before the deadline.
 */
TEST_F(gate_default, approver_closed_gives_the_default_at_once)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, sub;
	struct rec r;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	sub = sub_open("gate.>");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, variant->deflt));
	ASK(&a, self->own, "gate.x", "orphan", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	EXPECT_TRUE(ask_pending(&a));
	rd_close(ap);
	ASK_ENDS(&a, dflt_ret(variant->deflt, ECONNRESET));
	EXPECT_GT(a.t0 + LONG_NS, a.t1);
	check_default(_metadata, variant->deflt, &a, sub);
	if (variant->deflt == EVBUS_ALLOW) {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1,
			     [C_ALLOWED] = 1, [C_GONE] = 1);
	} else {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_GONE] = 1);
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(0, b0.approvers);
	rd_close(sub);
}

TEST_F(gate_default, approver_removed_gives_the_default_at_once)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, sub, id, id2;
	struct rec r;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, variant->deflt);
	id2 = appr_add(ap, "other.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id2);
	ASK(&a, self->own, "gate.x", "orphan", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	EXPECT_EQ(-ENOENT, appr_del(ap, 60000 == id ? 60001 : 60000));
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, appr_del(ap, id));
	ASK_ENDS(&a, dflt_ret(variant->deflt, ECONNRESET));
	EXPECT_GT(a.t0 + LONG_NS, a.t1);
	check_default(_metadata, variant->deflt, &a, sub);
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id));
	EXPECT_EQ(-ENOENT, appr_del(ap, id));
	if (variant->deflt == EVBUS_ALLOW) {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1,
			     [C_ALLOWED] = 1, [C_GONE] = 1);
	} else {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_GONE] = 1);
	}
	EXPECT_EQ(1, b0.approvers);	/* other.> is still there */
	rd_close(sub);
	rd_close(ap);
}

/*
 * A child process registers an approver, reads the request and is killed
 * with SIGKILL: the publisher gets the default at once.
 */
TEST_F(gate_default, approver_killed_gives_the_default_at_once)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int pfd[2], sub, id = 0;
	struct pollfd p;
	uint64_t rid = 0;
	pid_t pid;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	sub = sub_open("gate.>");
	ASSERT_LE(0, sub);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rec r;
		int fd = evt_open();

		close(pfd[0]);
		id = fd < 0 ? -1 : appr_add(fd, "gate.>", 0, variant->deflt);
		if (write(pfd[1], &id, sizeof(id)) != sizeof(id) || id <= 0)
			_exit(1);
		if (next_rec(fd, &r, REC_MS) != 1 || r.kind != EVBUS_REC_REQUEST)
			_exit(2);
		if (write(pfd[1], &r.id, sizeof(r.id)) != sizeof(r.id))
			_exit(3);
		for (;;)
			pause();
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, REC_MS));
	ASSERT_EQ(sizeof(id), read(pfd[0], &id, sizeof(id)));
	ASSERT_LT(0, id);
	ASK(&a, self->own, "gate.x", "orphan", EVBUS_PUB_ASK, LONG_NS);
	ASSERT_EQ(1, poll(&p, 1, REC_MS));
	ASSERT_EQ(sizeof(rid), read(pfd[0], &rid, sizeof(rid)));
	EXPECT_NE(0, rid);
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, evt_wait(pid));
	ASK_ENDS(&a, dflt_ret(variant->deflt, ECONNRESET));
	EXPECT_GT(a.t0 + LONG_NS, a.t1);
	check_default(_metadata, variant->deflt, &a, sub);
	if (variant->deflt == EVBUS_ALLOW) {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1,
			     [C_ALLOWED] = 1, [C_GONE] = 1);
	} else {
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_GONE] = 1);
	}
	EXPECT_EQ(0, b0.approvers);
	close(pfd[0]);
	rd_close(sub);
}

/*
 * Fill a tiny ring (ring_min, 4096 bytes) with events of a topic the
 * approver subscribes to, until one is lost: there is then no room for a
 * request (larger than any of those events) without dropping something.
 */
static void fill_ring(struct __test_metadata *_metadata, int own, int ap)
{
	static const char pad[100] = { 0 };
	struct evbus_stats st;
	int i;

	for (i = 0; i < 200; i++) {
		ASSERT_LT(0, evt_pub_full(own, "fill.x", pad, sizeof(pad), 0, 0, 0));
		ASSERT_EQ(0, evt_stats(ap, &st));
		if (st.lost)
			break;
	}
	ASSERT_EQ(1, st.lost) TH_LOG("the ring never filled");
	ASSERT_EQ(4096, st.capacity);
}

/* The approver's ring is full: default at once, counted, no request. */
TEST_F(gate_default, ring_full_gives_the_default_at_once)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	struct evbus_stats st0, st;
	int ap, sub, id, n;
	struct rec r;

	sub = sub_open("gate.>");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_EQ(0, evt_set_ring(ap, 4096, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, evt_sub(ap, "fill.x"));
	id = appr_add(ap, "gate.>", 0, variant->deflt);
	ASSERT_LT(0, id);
	fill_ring(_metadata, self->own, ap);
	ASSERT_EQ(0, evt_stats(ap, &st0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	ASK(&a, self->own, "gate.x", "no room", EVBUS_PUB_ASK, LONG_NS);
	ASK_ENDS(&a, dflt_ret(variant->deflt, ENOBUFS));
	EXPECT_GT(a.t0 + LONG_NS, a.t1);
	if (variant->deflt == EVBUS_ALLOW) {
		struct rec e;

		EXPECT_LT(0, a.p.seq);
		WANT_EV(sub, &e, "published by default");
		EXPECT_EQ(a.p.seq, e.ev.seq);
		EXPECT_EQ(0, e.ev.flags & EVBUS_EVENT_MODIFIED);
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_ALLOWED] = 1, [C_FULL] = 1);
	} else {
		EXPECT_EQ(0, a.p.seq);
		WANT_NONE(sub, 50, "nothing published");
		EXPECT_MOVED(b0, [C_ASKED] = 1, [C_FULL] = 1);
	}
	/* Nothing was dropped for the request: the ring is as it was. */
	ASSERT_EQ(0, evt_stats(ap, &st));
	EXPECT_EQ(st0.lost, st.lost);
	EXPECT_EQ(st0.queued_events, st.queued_events);
	EXPECT_EQ(st0.queued_bytes, st.queued_bytes);
	/* Only the fill events (and their LAGGED record) are queued. */
	n = 0;
	while (next_rec(ap, &r, 50) == 1) {
		EXPECT_NE(EVBUS_REC_REQUEST, r.kind);
		n += r.kind == EVBUS_REC_EVENT;
	}
	EXPECT_EQ(st0.queued_events, n);
	/* With room again, the next ask reaches the approver. */
	ASK(&a, self->own, "gate.x", "room", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	EXPECT_EQ(id, r.approver_id);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	rd_close(sub);
	rd_close(ap);
}

/* A request already queued is never evicted by later events. */
TEST_F(gate, request_is_never_evicted_from_a_ring)
{
	static struct ask a;
	static const char pad[100] = { 0 };
	int ap, id, i, seen = 0;
	struct rec r;

	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_EQ(0, evt_set_ring(ap, 4096, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, evt_sub(ap, "fill.x"));
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASK(&a, self->own, "gate.x", "keep me", EVBUS_PUB_ASK, LONG_NS);
	/* Wait until it is queued (without reading it). */
	for (i = 0; i < 500; i++) {
		struct evbus_bus_stats bs;

		ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
		if (bs.approval_requests)
			break;
		usleep(10000);
	}
	for (i = 0; i < 200; i++) {
		ASSERT_LT(0, evt_pub_full(self->own, "fill.x", pad, sizeof(pad),
					  0, 0, 0));
	}
	while (next_rec(ap, &r, 50) == 1) {
		if (r.kind != EVBUS_REC_REQUEST)
			continue;
		seen++;
		EXPECT_STREQ("keep me", r.ev.payload);
		EXPECT_EQ(0, v_allow(ap, r.id));
	}
	EXPECT_EQ(1, seen);
	ASK_ENDS(&a, 0);
	rd_close(ap);
}

/* ============================================= second and unknown verdicts */

TEST_F(gate, second_and_unknown_verdicts_are_enoent)
{
	static struct ask a;
	uint64_t old;
	struct evbus_bus_stats b0, bs;
	int ap, sub, id;
	struct rec r, e;

	GATE_PAIR(sub, ap, id, EVBUS_DENY);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	/* Unknown ids while nothing is pending. */
	EXPECT_EQ(-ENOENT, v_allow(ap, 0));
	EXPECT_EQ(-ENOENT, v_allow(ap, 1));
	EXPECT_EQ(-ENOENT, v_deny(ap, ~0ULL, 0));

	ASK(&a, self->own, "gate.x", "once", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	/* Unknown ids while one is pending change nothing. */
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id + 1));
	EXPECT_EQ(-ENOENT, v_deny(ap, r.id - 1, 0));
	EXPECT_EQ(-ENOENT, v_modify(ap, r.id ^ (1ULL << 40), NULL, "x", 0));
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.approval_pending);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	/* The second verdict, of any kind: ENOENT, nothing changes. */
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id));
	EXPECT_EQ(-ENOENT, v_deny(ap, r.id, EPERM));
	EXPECT_EQ(-ENOENT, v_modify(ap, r.id, NULL, "again", 0));
	WANT_EV(sub, &e, "the event");
	EXPECT_STREQ("once", e.ev.payload);
	WANT_NONE(sub, 100, "once only");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.seq);

	/* Ids are not reused: the next request has another one. */
	old = r.id;
	ASK(&a, self->own, "gate.x", "twice", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	EXPECT_NE(old, r.id);
	EXPECT_EQ(-ENOENT, v_allow(ap, old));
	ASSERT_EQ(0, v_deny(ap, r.id, EPERM));
	ASK_ENDS(&a, -EPERM);
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id));
	rd_close(sub);
	rd_close(ap);
}

/* ============================================== the publisher goes away */

static void nop_handler(int sig)
{
}

TEST_F(gate, publisher_interrupted_withdraws_the_request)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	struct sigaction sa;
	int ap, sub, id;
	struct rec r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nop_handler;	/* no SA_RESTART */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, EVBUS_ALLOW);
	ASK(&a, self->own, "gate.x", "impatient", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	usleep(50000);
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, pthread_kill(a.th, SIGUSR1));
	ASK_ENDS(&a, -EINTR);
	EXPECT_EQ(0, a.p.seq);
	EXPECT_GT(a.t0 + LONG_NS, a.t1);
	WANT_CANCELLED(ap, &r, id, EVBUS_CANCEL_WITHDRAWN);
	WANT_NONE(sub, 100, "nothing published (not even the default allow)");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_WITHDRAWN] = 1);
	rd_close(sub);
	rd_close(ap);
}

/* A publisher killed while it waits: the approver learns of it. */
TEST_F(gate, publisher_killed_withdraws_the_request)
{
	struct evbus_bus_stats b0;
	int ap, sub, id;
	struct rec r;
	pid_t pid;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	GATE_PAIR(sub, ap, id, EVBUS_ALLOW);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct evbus_pub p;
		int fd = evt_open();

		memset(&p, 0, sizeof(p));
		p.topic = (uintptr_t)"gate.x";
		p.topic_len = 6;
		p.flags = EVBUS_PUB_ASK;
		p.deadline_ns = LONG_NS;
		ioctl(fd, EVBUS_IOC_PUBLISH, &p);
		_exit(9);
	}
	WANT_REQ(ap, &r, "the request");
	EXPECT_EQ(pid, r.ev.pid);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, evt_wait(pid));
	WANT_CANCELLED(ap, &r, id, EVBUS_CANCEL_WITHDRAWN);
	WANT_NONE(sub, 100, "nothing published");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_WITHDRAWN] = 1);
	rd_close(sub);
	rd_close(ap);
}

/* =============================================================== chains */

/*
 * Three approvers in three files, added in an order unlike their
 * priorities: they are asked highest priority first, one at a time; each
 * sees the event as the one before left it (flags included); the event
 * is delivered with the last modifier's id, which is not the last
 * approver's.
 */
TEST_F(gate, chain_of_three_in_priority_order)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int lo, mid, hi, ilo, imid, ihi, sub;
	struct rec r, e;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	sub = sub_open("gate.>");
	lo = evt_sf_open();
	mid = evt_sf_open();
	hi = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, lo);
	ASSERT_LE(0, mid);
	ASSERT_LE(0, hi);
	ilo = appr_add(lo, ">", -3, EVBUS_DENY);
	ihi = appr_add(hi, "gate.x", 10, EVBUS_DENY);
	imid = appr_add(mid, "gate.*", 5, EVBUS_DENY);
	ASSERT_LT(0, ilo);
	ASSERT_LT(0, imid);
	ASSERT_LT(0, ihi);
	EXPECT_NE(ilo, imid);
	EXPECT_NE(imid, ihi);
	EXPECT_NE(ilo, ihi);

	ask_init(&a, self->own, "gate.x", "p0", EVBUS_PUB_ASK, LONG_NS);
	a.p.type = 100;
	a.p.corr = 42;
	ASSERT_EQ(0, ask_start(&a));

	WANT_REQ(hi, &r, "the first approver");
	EXPECT_EQ(ihi, r.approver_id);
	EXPECT_STREQ("p0", r.ev.payload);
	EXPECT_EQ(100, r.ev.type);
	EXPECT_EQ(0, r.ev.flags);
	WANT_NONE(mid, 100, "the second is not asked yet");
	WANT_NONE(lo, 0, "the third is not asked yet");
	ASSERT_EQ(0, v_modify(hi, r.id, NULL, "p1", 101));

	WANT_REQ(mid, &r, "the second approver");
	EXPECT_EQ(imid, r.approver_id);
	EXPECT_STREQ("gate.x", r.ev.topic);
	EXPECT_STREQ("p1", r.ev.payload);
	EXPECT_EQ(2, r.ev.payload_len);
	EXPECT_EQ(101, r.ev.type);
	EXPECT_EQ(42, r.ev.corr);
	EXPECT_EQ(0, r.ev.seq);
	EXPECT_TRUE(r.ev.flags & EVBUS_EVENT_MODIFIED);
	EXPECT_EQ(ihi, EVBUS_EVENT_MODIFIER(r.ev.flags));
	WANT_NONE(lo, 100, "the third is not asked yet");
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, v_modify(mid, r.id, NULL, "p2-longer", 102));

	WANT_REQ(lo, &r, "the third approver");
	EXPECT_EQ(ilo, r.approver_id);
	EXPECT_STREQ("p2-longer", r.ev.payload);
	EXPECT_EQ(102, r.ev.type);
	EXPECT_TRUE(r.ev.flags & EVBUS_EVENT_MODIFIED);
	EXPECT_EQ(imid, EVBUS_EVENT_MODIFIER(r.ev.flags));
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, v_allow(lo, r.id));

	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	WANT_EV(sub, &e, "the event");
	EXPECT_STREQ("p2-longer", e.ev.payload);
	EXPECT_EQ(102, e.ev.type);
	EXPECT_EQ(42, e.ev.corr);
	EXPECT_EQ(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED |
		  ((uint32_t)imid << 16), e.ev.flags);
	WANT_NONE(hi, 50, "asked once");
	WANT_NONE(mid, 0, "asked once");
	WANT_NONE(lo, 0, "asked once");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 3, [C_ALLOWED] = 1,
		     [C_MODIFIED] = 1);

	/* A denial in the middle: the last is never asked. */
	ASK(&a, self->own, "gate.x", "q", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(hi, &r, "first");
	ASSERT_EQ(0, v_allow(hi, r.id));
	WANT_REQ(mid, &r, "second");
	EXPECT_EQ(0, r.ev.flags & EVBUS_EVENT_MODIFIED);
	ASSERT_EQ(0, v_deny(mid, r.id, EPERM));
	ASK_ENDS(&a, -EPERM);
	WANT_NONE(lo, 100, "the third is not asked after a denial");
	WANT_NONE(sub, 0, "nothing published");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 2, [C_DENIED] = 1);

	/* Only the approvers whose pattern matches are in the chain. */
	ASK(&a, self->own, "gate.y", "r", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(mid, &r, "gate.* matches gate.y");
	ASSERT_EQ(0, v_allow(mid, r.id));
	WANT_REQ(lo, &r, "> matches gate.y");
	ASSERT_EQ(0, v_allow(lo, r.id));
	ASK_ENDS(&a, 0);
	WANT_NONE(hi, 50, "gate.x does not match gate.y");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 2, [C_ALLOWED] = 1);
	rd_close(sub);
	rd_close(lo);
	rd_close(mid);
	rd_close(hi);
}

/* Equal priorities: the lower id is asked first; one file, two approvers. */
TEST_F(gate, chain_ties_ask_the_lower_id_first)
{
	static struct ask a;
	int f1, f2, i1, i2, i3;
	struct rec r;

	f1 = evt_sf_open();
	f2 = evt_sf_open();
	ASSERT_LE(0, f1);
	ASSERT_LE(0, f2);
	i1 = appr_add(f2, "gate.>", 7, EVBUS_DENY);
	i2 = appr_add(f1, "gate.>", 7, EVBUS_DENY);
	i3 = appr_add(f1, "gate.x", 7, EVBUS_DENY);
	ASSERT_LT(0, i1);
	ASSERT_LT(0, i2);
	ASSERT_LT(0, i3);
	ASSERT_LT(i1, i2) TH_LOG("ids are handed out in turn on a new bus");
	ASSERT_LT(i2, i3);
	ASK(&a, self->own, "gate.x", "t", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(f2, &r, "lowest id first");
	EXPECT_EQ(i1, r.approver_id);
	WANT_NONE(f1, 100, "one at a time");
	ASSERT_EQ(0, v_allow(f2, r.id));
	WANT_REQ(f1, &r, "then the next id");
	EXPECT_EQ(i2, r.approver_id);
	ASSERT_EQ(0, v_allow(f1, r.id));
	WANT_REQ(f1, &r, "then the last");
	EXPECT_EQ(i3, r.approver_id);
	/* The verdict is for the request, whichever approver of the file. */
	ASSERT_EQ(0, v_allow(f1, r.id));
	ASK_ENDS(&a, 0);
	rd_close(f1);
	rd_close(f2);
}

/*
 * A modification to another topic: the chain goes on with the approvers
 * of the new topic below the modifier's priority only.
 */
TEST_F(gate, chain_goes_on_below_after_a_new_topic)
{
	static struct ask a;
	int fa, fb, fd_hi, sub, ia, ib, ihi;
	struct rec r, e;

	sub = sub_open(">");
	fa = evt_sf_open();
	fb = evt_sf_open();
	fd_hi = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_LE(0, fd_hi);
	ia = appr_add(fa, "gate.>", 10, EVBUS_DENY);
	ib = appr_add(fb, "other.>", 5, EVBUS_DENY);
	ihi = appr_add(fd_hi, "other.>", 20, EVBUS_DENY);
	ASSERT_LT(0, ia);
	ASSERT_LT(0, ib);
	ASSERT_LT(0, ihi);
	ASK(&a, self->own, "gate.x", "from gate", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(fa, &r, "gate.> first");
	ASSERT_EQ(0, v_modify(fa, r.id, "other.x", "moved", 5));
	WANT_REQ(fb, &r, "other.> below 10");
	EXPECT_EQ(ib, r.approver_id);
	EXPECT_STREQ("other.x", r.ev.topic);
	EXPECT_STREQ("moved", r.ev.payload);
	EXPECT_EQ(ia, EVBUS_EVENT_MODIFIER(r.ev.flags));
	ASSERT_EQ(0, v_allow(fb, r.id));
	ASK_ENDS(&a, 0);
	WANT_NONE(fd_hi, 100, "priority 20 is above the modifier's");
	WANT_EV(sub, &e, "the event");
	EXPECT_STREQ("other.x", e.ev.topic);
	EXPECT_EQ(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | ((uint32_t)ia << 16),
		  e.ev.flags);
	rd_close(sub);
	rd_close(fa);
	rd_close(fb);
	rd_close(fd_hi);
}

/*
 * The deadline passes in the middle of a chain: that approver's default,
 * and every later one's without asking it.
 */
TEST_F(gate, deadline_in_a_chain_skips_the_rest)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int f1, f2, f3, sub;
	struct rec r, c;

	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	sub = sub_open("gate.>");
	f1 = evt_sf_open();
	f2 = evt_sf_open();
	f3 = evt_sf_open();
	ASSERT_LE(0, f1);
	ASSERT_LE(0, f2);
	ASSERT_LE(0, f3);
	ASSERT_LT(0, appr_add(f1, "gate.>", 3, EVBUS_DENY));
	ASSERT_LT(0, appr_add(f2, "gate.>", 2, EVBUS_ALLOW));
	ASSERT_LT(0, appr_add(f3, "gate.>", 1, EVBUS_DENY));
	ASK(&a, self->own, "gate.x", "slow", EVBUS_PUB_ASK, SHORT_NS);
	WANT_REQ(f1, &r, "first");
	ASSERT_EQ(0, v_allow(f1, r.id));
	WANT_REQ(f2, &r, "second, which never answers");
	/* f2 allows by default; f3's default is deny, and it is not asked. */
	ASK_ENDS(&a, -ETIMEDOUT);
	WANT_CANCEL(f2, &c, "f2 learns");
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, c.reason);
	EXPECT_EQ(r.id, c.id);
	WANT_NONE(f3, 100, "f3 is never asked");
	WANT_NONE(sub, 0, "nothing published");
	/*
	 * approval_expired counts steps the deadline ended (README, the
	 * counters): f2's, and f3's, ended unasked.
	 */
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 2, [C_EXPIRED] = 2);
	rd_close(sub);
	rd_close(f1);
	rd_close(f2);
	rd_close(f3);
}

/* One approver of a chain closes: its default allow lets the next be asked. */
TEST_F(gate, chain_goes_on_past_a_closed_approver)
{
	static struct ask a;
	int f1, f2;
	struct rec r;

	f1 = evt_sf_open();
	f2 = evt_sf_open();
	ASSERT_LE(0, f1);
	ASSERT_LE(0, f2);
	ASSERT_LT(0, appr_add(f1, "gate.>", 2, EVBUS_ALLOW));
	ASSERT_LT(0, appr_add(f2, "gate.>", 1, EVBUS_DENY));
	ASK(&a, self->own, "gate.x", "go on", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(f1, &r, "first");
	rd_close(f1);
	WANT_REQ(f2, &r, "second, after the first closed");
	EXPECT_STREQ("go on", r.ev.payload);
	ASSERT_EQ(0, v_deny(f2, r.id, EXDEV));
	ASK_ENDS(&a, -EXDEV);
	rd_close(f2);
}

/* =========================================================== mandatory */

/* An EVBUS_ASK rule gates a publish that did not ask. */
TEST_F(gate, ask_rule_makes_approval_mandatory)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, sub, id, rid;
	struct rec r, e;

	sub = sub_open(">");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	rid = evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
			     EVBUS_WHO_ALL, 0, "gate.>", 0);
	ASSERT_LT(0, rid) TH_LOG("POLICY_ADD ask: %s", strerror(-rid));
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	/* No EVBUS_PUB_ASK: still gated. */
	ASK(&a, self->own, "gate.x", "must ask", 0, LONG_NS);
	WANT_REQ(ap, &r, "the mandatory request");
	EXPECT_EQ(EVBUS_REQ_MANDATORY, r.flags);
	EXPECT_STREQ("must ask", r.ev.payload);
	WANT_NONE(sub, 100, "nothing before the verdict");
	EXPECT_TRUE(ask_pending(&a));
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	WANT_EV(sub, &e, "the event");
	EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);

	/* A denial of a mandatory ask, by a plain evt_pub(). */
	ASK(&a, self->own, "gate.y", "no", 0, 0);
	WANT_REQ(ap, &r, "the mandatory request");
	ASSERT_EQ(0, v_deny(ap, r.id, EPERM));
	ASK_ENDS(&a, -EPERM);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_DENIED] = 1);

	/* Outside the rule's pattern: not gated. */
	EXPECT_EQ(2, evt_pub(self->own, "other.x", "free"));
	WANT_NONE(ap, 50, "other.x is not gated");

	/* With no approver: ECONNREFUSED, nothing published. */
	rd_close(ap);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-ECONNREFUSED, evt_pub(self->own, "gate.x", "nobody"));
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_NOBODY] = 1);
	/* An explicit ask on such a topic: the same. */
	ASK(&a, self->own, "gate.x", "nobody", EVBUS_PUB_ASK, LONG_NS);
	ASK_ENDS(&a, -ECONNREFUSED);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_NOBODY] = 1);
	WANT_EV(sub, &e, "other.x only");
	EXPECT_STREQ("other.x", e.ev.topic);
	WANT_NONE(sub, 50, "nothing else");
	/* Removing the rule ends it. */
	ASSERT_EQ(0, evt_policy_remove(self->own, rid));
	EXPECT_EQ(3, evt_pub(self->own, "gate.x", "free now"));
	rd_close(sub);
}

/*
 * Rule precedence for publishing: deny > ask > allow > default, for the
 * rule's subject only; EVBUS_ASK is for publish rules only.
 */
TEST_F(gate, ask_rule_precedence)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	int ap, u, u2, ret;
	struct rec r;

	ap = evt_sf_open();
	u = evt_open_as(&U1000);
	u2 = evt_open_as(&U1001);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, u);
	ASSERT_LE(0, u2);
	ASSERT_LT(0, appr_add(ap, "app.>", 0, EVBUS_DENY));

	/* Not for subscribing, replay or approving. */
	EXPECT_EQ(-EINVAL, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_SUBSCRIBE,
					  EVBUS_WHO_ALL, 0, "app.>", 0));
	EXPECT_EQ(-EINVAL, evt_policy_add(self->own, EVBUS_ASK,
					  EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE,
					  EVBUS_WHO_ALL, 0, "app.>", 0));
	EXPECT_EQ(-EINVAL, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_APPROVE,
					  EVBUS_WHO_ALL, 0, "app.>", 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.policy_rules);

	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.secret.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "lone.>", 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	/* deny beats ask: EACCES, no request. */
	EXPECT_EQ(-EACCES, evt_pub(u, "app.secret.x", "s"));
	WANT_NONE(ap, 100, "a denied publish asks nobody");
	EXPECT_MOVED(b0, [C_ASKED] = 0);
	/* ask beats allow. */
	ASK(&a, u, "app.x", "asked", 0, LONG_NS);
	WANT_REQ(ap, &r, "ask beats allow");
	EXPECT_EQ(EVBUS_REQ_MANDATORY, r.flags);
	EXPECT_EQ(geteuid(), r.ev.uid);	/* the caller's, not the file's */
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	/* ask beats the default deny: with nobody to ask, ECONNREFUSED. */
	ret = evt_pub(u, "lone.x", "l");
	EXPECT_EQ(-ECONNREFUSED, ret);
	/* Other users are not the rule's subject: the default (deny). */
	EXPECT_EQ(-EACCES, evt_pub(u2, "app.x", "o"));
	EXPECT_EQ(-EACCES, evt_pub(u2, "lone.x", "o"));
	WANT_NONE(ap, 100, "nobody else is asked");
	EXPECT_MOVED(b0, [C_ASKED] = 2, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_NOBODY] = 1);
	close(u);
	close(u2);
	rd_close(ap);
}

/* ========================================================= permissions */

/* Registering needs EVBUS_RIGHT_APPROVE on the pattern, as subscribing. */
TEST_F(gate, approver_add_needs_the_approve_right)
{
	struct evbus_bus_stats b0, bs;
	int u, u2, id;

	u = evt_open_as(&U1000);
	u2 = evt_open_as(&U1001);
	ASSERT_LE(0, u);
	ASSERT_LE(0, u2);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, appr_add(u, "gate.>", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_default + 1, bs.denied_default);
	EXPECT_EQ(0, bs.approvers);
	/* Subscribe and publish rights are not the approve right. */
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW,
				    EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE |
				    EVBUS_RIGHT_REPLAY, EVBUS_WHO_UID, 1000,
				    "gate.>", 0));
	EXPECT_EQ(-EACCES, appr_add(u, "gate.>", 0, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_APPROVE,
				    EVBUS_WHO_UID, 1000, "gate.>", 0));
	id = appr_add(u, "gate.>", 0, EVBUS_DENY);
	EXPECT_LT(0, id);
	EXPECT_LT(0, appr_add(u, "gate.x.y", 0, EVBUS_ALLOW));
	/* Only within the rule's pattern. */
	EXPECT_EQ(-EACCES, appr_add(u, ">", 0, EVBUS_DENY));
	EXPECT_EQ(-EACCES, appr_add(u, "*.x", 0, EVBUS_DENY));
	EXPECT_EQ(-EACCES, appr_add(u, "other.x", 0, EVBUS_DENY));
	/* The rule's subject only. */
	EXPECT_EQ(-EACCES, appr_add(u2, "gate.>", 0, EVBUS_DENY));
	/* Root too is bound by the policy. */
	EXPECT_EQ(-EACCES, appr_add(self->own, "gate.>", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.approvers);

	/* A deny rule overlapping the pattern refuses it, under allow. */
	ASSERT_EQ(0, evt_policy_clear(self->own));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_APPROVE,
				    EVBUS_WHO_UID, 1001, "gate.secret.>", 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, appr_add(u2, "gate.>", 0, EVBUS_DENY));
	EXPECT_EQ(-EACCES, appr_add(u2, "gate.*.x", 0, EVBUS_DENY));
	EXPECT_LT(0, appr_add(u2, "gate.public.>", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_rule + 2, bs.denied_rule);
	EXPECT_EQ(3, bs.approvers);
	close(u);
	close(u2);
}

/* A scoped file approves only within its subscribe scope. */
TEST_F(gate, approver_add_within_the_subscribe_scope)
{
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_narrow1(fd, "gate.>", "app.>"));
	EXPECT_EQ(-EACCES, appr_add(fd, "gate.>", 0, EVBUS_DENY));
	EXPECT_EQ(-EACCES, appr_add(fd, ">", 0, EVBUS_DENY));
	EXPECT_LT(0, appr_add(fd, "app.x", 0, EVBUS_DENY));
	EXPECT_LT(0, appr_add(fd, "app.>", 0, EVBUS_DENY));
	close(fd);
}

/* At most EVBUS_APPROVERS_MAX per file; ids unique and not reused at once. */
TEST_F(gate, approvers_per_file_are_capped)
{
	int fd = evt_sf_open(), other = evt_sf_open(), ids[EVBUS_APPROVERS_MAX];
	struct evbus_bus_stats bs;
	char pat[32];
	int id;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	for (int i = 0; i < EVBUS_APPROVERS_MAX; i++) {
		snprintf(pat, sizeof(pat), "gate.%d", i);
		ids[i] = appr_add(fd, pat, i, EVBUS_DENY);
		ASSERT_LT(0, ids[i]) TH_LOG("approver %d: %s", i, strerror(-ids[i]));
		ASSERT_GE(EVBUS_APPROVER_ID_MAX, ids[i]);
		for (int j = 0; j < i; j++) {
			EXPECT_NE(ids[j], ids[i]);
		}
	}
	EXPECT_EQ(-ENOSPC, appr_add(fd, "gate.extra", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(EVBUS_APPROVERS_MAX, bs.approvers);
	/* Another file is not affected. */
	EXPECT_LT(0, appr_add(other, "gate.extra", 0, EVBUS_DENY));
	/* Removing one makes room; the new one gets a new id. */
	EXPECT_EQ(-ENOENT, appr_del(fd, 0));
	ASSERT_EQ(0, appr_del(fd, ids[3]));
	EXPECT_EQ(-ENOENT, appr_del(fd, ids[3]));
	id = appr_add(fd, "gate.extra", 0, EVBUS_DENY);
	EXPECT_LT(0, id);
	EXPECT_NE(ids[3], id);
	EXPECT_EQ(-ENOSPC, appr_add(fd, "gate.extra2", 0, EVBUS_DENY));
	/* Another file's approver cannot be removed. */
	EXPECT_EQ(-ENOENT, appr_del(other, ids[0]));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(EVBUS_APPROVERS_MAX + 1, bs.approvers);
	close(fd);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.approvers);
	close(other);
}

/* =========================================================== hostile */

/*
 * In a child running as uid 1000: open the bus, register an approver on
 * "evil.>", then give a verdict for request id (of another file).  The
 * verdict's errno (0 if it worked), 200+ if the child broke.
 */
static int verdict_as_user(const struct evt_ids *ids, uint64_t id, uint32_t verdict)
{
	pid_t pid = fork();
	int fd, ret;

	if (pid < 0)
		return 250;
	if (pid)
		return evt_wait(pid);
	alarm(20);
	if (evt_become(ids))
		_exit(200);
	fd = evt_open();
	if (fd < 0)
		_exit(201);
	if (appr_add(fd, "evil.>", 0, EVBUS_ALLOW) <= 0)
		_exit(202);
	if (verdict == EVBUS_VERDICT_DENY)
		ret = v_deny(fd, id, EPERM);
	else if (verdict == EVBUS_VERDICT_MODIFY)
		ret = v_modify(fd, id, NULL, "pwned", 0);
	else
		ret = v_allow(fd, id);
	_exit(ret < 0 ? -ret : 0);
}

TEST_F(gate, verdict_for_another_files_request_is_enoent)
{
	static struct ask a;
	struct evbus_bus_stats b0;
	int ap, ap2, sub, u, id;
	struct rec r, e;

	sub = sub_open("gate.>");
	ap = evt_open_as(&U1000);
	ap2 = evt_open_as(&U1000);	/* same user, another file */
	u = evt_open_as(&U1001);
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, ap2);
	ASSERT_LE(0, u);
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASSERT_LT(0, appr_add(ap2, "other.>", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASK(&a, self->own, "gate.x", "mine", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	/* Real unprivileged processes, every verdict kind. */
	EXPECT_EQ(ENOENT, verdict_as_user(&U1001, r.id, EVBUS_VERDICT_ALLOW));
	EXPECT_EQ(ENOENT, verdict_as_user(&U1001, r.id, EVBUS_VERDICT_DENY));
	EXPECT_EQ(ENOENT, verdict_as_user(&U1000, r.id, EVBUS_VERDICT_MODIFY));
	/* Other files: another user's, the same user's, root's own. */
	EXPECT_EQ(-ENOENT, v_allow(u, r.id));
	EXPECT_EQ(-ENOENT, v_deny(ap2, r.id, EPERM));
	EXPECT_EQ(-ENOENT, v_modify(ap2, r.id, NULL, "pwned", 0));
	EXPECT_EQ(-ENOENT, v_allow(self->own, r.id));
	EXPECT_TRUE(ask_pending(&a));
	/* The owner's verdict still works, and nothing else happened. */
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	WANT_EV(sub, &e, "the event");
	EXPECT_STREQ("mine", e.ev.payload);
	EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);
	close(u);
	rd_close(ap2);
	rd_close(ap);
	rd_close(sub);
}

/*
 * Every malformed verdict fails with its errno and leaves the request
 * pending: a correct verdict afterwards still works.
 */
TEST_F(gate, bad_modify_leaves_the_request_pending)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	struct evbus_verdict v;
	char *big;
	void *bad;
	int ap, sub, id, n;
	struct rec r, e;

	big = malloc(self->max_payload + 1);
	ASSERT_NE(NULL, big);
	memset(big, 'x', self->max_payload + 1);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	sub = sub_open(">");
	ap = evt_open_as(&U1000);
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	/* uid 1000 may not publish on secret.> (the policy) nor $sys.*. */
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "secret.>", 0));
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASK(&a, self->own, "gate.x", "intact", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");

#define BAD_VERDICT(err, what) do {					\
	EXPECT_EQ(-(err), vd_raw(ap, &v)) TH_LOG("%s", what);		\
	EXPECT_TRUE(ask_pending(&a)) TH_LOG("%s", what);		\
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));			\
	EXPECT_EQ(1, bs.approval_pending) TH_LOG("%s", what);		\
	EXPECT_EQ(0, bs.seq) TH_LOG("%s", what);			\
} while (0)

	vd_modify(&v, r.id, NULL, big, self->max_payload + 1, 0);
	BAD_VERDICT(EMSGSIZE, "payload over max_payload");
	vd_modify(&v, r.id, NULL, big, ~0U, 0);
	BAD_VERDICT(EMSGSIZE, "payload_len ~0");
	vd_modify(&v, r.id, "secret.x", "s", 1, 0);
	BAD_VERDICT(EACCES, "a topic the approver may not publish on");
	vd_modify(&v, r.id, "$sys.approval.denied", "s", 1, 0);
	BAD_VERDICT(EACCES, "a $sys topic");
	vd_modify(&v, r.id, "$sys.file.open", "s", 1, 0);
	BAD_VERDICT(EACCES, "another $sys topic");
	vd_modify(&v, r.id, NULL, bad, 16, 0);
	BAD_VERDICT(EFAULT, "payload pointer unmapped");
	vd_modify(&v, r.id, "gate.y", NULL, 16, 0);
	BAD_VERDICT(EFAULT, "payload pointer NULL with a length");
	vd_modify(&v, r.id, NULL, "s", 1, 0);
	v.topic = (uintptr_t)bad;
	v.topic_len = 6;
	BAD_VERDICT(EFAULT, "topic pointer unmapped");
	vd_modify(&v, r.id, "gate..x", "s", 1, 0);
	BAD_VERDICT(EINVAL, "an invalid topic");
	vd_modify(&v, r.id, "gate.*", "s", 1, 0);
	BAD_VERDICT(EINVAL, "a wildcard topic");
	vd_modify(&v, r.id, "gate.x", "s", 1, 0);
	v.topic_len = EVBUS_TOPIC_MAX + 1;
	v.topic = (uintptr_t)big;
	BAD_VERDICT(EINVAL, "a topic over EVBUS_TOPIC_MAX");
	vd_modify(&v, r.id, "gate.x", "s", 1, 0);
	v.flags = 1;
	BAD_VERDICT(EINVAL, "modify flags");
	vd_modify(&v, r.id, "gate.x", "s", 1, 0);
	v.reserved = 1;
	BAD_VERDICT(EINVAL, "modify reserved");

	/* Nothing reached the subscriber, and the request is intact. */
	n = 0;
	while (next_rec(sub, &e, 0) == 1)
		n++;
	EXPECT_EQ(0, n);
	ASSERT_EQ(0, v_modify(ap, r.id, "gate.final", "good", 3));
	ASK_ENDS(&a, 0);
	WANT_EV(sub, &e, "the event");
	EXPECT_STREQ("gate.final", e.ev.topic);
	EXPECT_STREQ("good", e.ev.payload);
	EXPECT_EQ(3, e.ev.type);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_MODIFIED] = 1);

	/* A scoped approver may move events only within its publish scope. */
	{
		int sc = evt_sf_open();
		const char *pub[] = { "gate.>" }, *subs[] = { "gate.>" };

		ASSERT_LE(0, sc);
		ASSERT_LT(0, appr_add(sc, "gate.>", 100, EVBUS_DENY));
		ASSERT_EQ(0, evt_narrow(sc, pub, 1, subs, 1, 0));
		ASK(&a, self->own, "gate.x", "scoped", EVBUS_PUB_ASK, LONG_NS);
		WANT_REQ(sc, &r, "the scoped approver's request");
		EXPECT_EQ(-EACCES, v_modify(sc, r.id, "other.x", "o", 0));
		EXPECT_TRUE(ask_pending(&a));
		ASSERT_EQ(0, v_modify(sc, r.id, "gate.z", "z", 0));
		WANT_REQ(ap, &r, "then uid 1000's");
		EXPECT_STREQ("gate.z", r.ev.topic);
		ASSERT_EQ(0, v_allow(ap, r.id));
		ASK_ENDS(&a, 0);
		rd_close(sc);
	}
	munmap(bad, 4096);
	free(big);
	rd_close(ap);
	rd_close(sub);
}

/* Malformed structs: EINVAL (or their errno), nothing changes. */
TEST_F(gate, bad_flags_and_reserved_are_einval)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	struct evbus_approver ar;
	struct evbus_verdict v;
	struct evbus_pub p;
	char vbuf[4096 + 8];
	void *bad;
	int ap, u, id, ret;
	struct rec r;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	ap = evt_sf_open();
	u = evt_open_as(&U1000);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, u);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	/* EVBUS_IOC_APPROVER_ADD, as root and as uid 1000. */
	for (int who = 0; who < 2; who++) {
		int fd = who ? u : ap;

#define BAD_ADD(err, what) do {						\
	ret = appr_add_raw(fd, &ar);					\
	EXPECT_EQ(-(err), ret) TH_LOG("%s (uid %d)", what, who ? 1000 : 0); \
	EXPECT_EQ(0, ar.id) TH_LOG("%s: id written", what);		\
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));			\
	EXPECT_EQ(0, bs.approvers) TH_LOG("%s", what);			\
} while (0)
#define ADD_INIT(pat) do {						\
	memset(&ar, 0, sizeof(ar));					\
	ar.pattern = (uintptr_t)(pat);					\
	ar.pattern_len = strlen(pat);					\
	ar.deflt = EVBUS_DENY;						\
} while (0)

		ADD_INIT("gate.>");
		ar.flags = 1;
		BAD_ADD(EINVAL, "flags 1");
		ADD_INIT("gate.>");
		ar.flags = 1U << 31;
		BAD_ADD(EINVAL, "flags bit 31");
		ADD_INIT("gate.>");
		ar.reserved = 1;
		BAD_ADD(EINVAL, "reserved");
		ADD_INIT("gate.>");
		ar.deflt = 0;
		BAD_ADD(EINVAL, "deflt 0");
		ADD_INIT("gate.>");
		ar.deflt = EVBUS_ASK;
		BAD_ADD(EINVAL, "deflt EVBUS_ASK");
		ADD_INIT("gate.>");
		ar.deflt = 0xffffffff;
		BAD_ADD(EINVAL, "deflt ~0");
		ADD_INIT("gate.>");
		ar.pattern_len = 0;
		BAD_ADD(EINVAL, "pattern_len 0");
		ADD_INIT("gate.>");
		ar.pattern_len = EVBUS_TOPIC_MAX + 1;
		BAD_ADD(EINVAL, "pattern_len 256");
		ADD_INIT("gate..x");
		BAD_ADD(EINVAL, "invalid pattern");
		ADD_INIT("gate.>.x");
		BAD_ADD(EINVAL, "'>' not last");
		ADD_INIT("gate.>");
		ar.pattern = (uintptr_t)bad;
		BAD_ADD(EFAULT, "pattern unmapped");
		EXPECT_EQ(-EFAULT, ioctl(fd, EVBUS_IOC_APPROVER_ADD, NULL) ? -errno : 0);
		EXPECT_EQ(-EFAULT, ioctl(fd, EVBUS_IOC_APPROVER_DEL, NULL) ? -errno : 0);
	}

	/* EVBUS_IOC_PUBLISH: unknown flags, reserved. */
	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)"gate.x";
	p.topic_len = 6;
	p.flags = EVBUS_PUB_ASK | (1U << 3);
	EXPECT_EQ(-EINVAL, ioctl(self->own, EVBUS_IOC_PUBLISH, &p) ? -errno : 0);
	p.flags = EVBUS_PUB_ASK;
	p.reserved = 1;
	EXPECT_EQ(-EINVAL, ioctl(self->own, EVBUS_IOC_PUBLISH, &p) ? -errno : 0);
	EXPECT_EQ(0, p.seq);

	/* EVBUS_IOC_VERDICT, on a pending request. */
	id = appr_add(u, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASK(&a, self->own, "gate.x", "target", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(u, &r, "the request");

#define BAD_V(err, arg, what) do {					\
	EXPECT_EQ(-(err), vd_raw(u, arg)) TH_LOG("%s", what);		\
	EXPECT_TRUE(ask_pending(&a)) TH_LOG("%s", what);		\
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));			\
	EXPECT_EQ(1, bs.approval_pending) TH_LOG("%s", what);		\
	EXPECT_EQ(0, bs.approval_allowed + bs.approval_denied) TH_LOG("%s", what); \
} while (0)

	vd_init(&v, EVBUS_VERDICT_ALLOW, r.id);
	v.flags = 1;
	BAD_V(EINVAL, &v, "verdict flags");
	vd_init(&v, EVBUS_VERDICT_ALLOW, r.id);
	v.reserved = 1;
	BAD_V(EINVAL, &v, "verdict reserved");
	vd_init(&v, 0, r.id);
	BAD_V(EINVAL, &v, "verdict 0");
	vd_init(&v, 4, r.id);
	BAD_V(EINVAL, &v, "verdict 4");
	vd_init(&v, 0xffffffff, r.id);
	BAD_V(EINVAL, &v, "verdict ~0");
	vd_init(&v, EVBUS_VERDICT_DENY, r.id);
	v.error = -1;
	BAD_V(EINVAL, &v, "deny error -1");
	v.error = -EPERM;
	BAD_V(EINVAL, &v, "deny error -EPERM");
	v.error = EVBUS_VERDICT_ERRNO_MAX + 1;
	BAD_V(EINVAL, &v, "deny error 512");
	v.error = 0x7fffffff;
	BAD_V(EINVAL, &v, "deny error INT_MAX");
	/* Size-versioned. */
	vd_init(&v, EVBUS_VERDICT_ALLOW, r.id);
	v.size = 0;
	BAD_V(EINVAL, &v, "size 0");
	v.size = EVBUS_VERDICT_SIZE_VER0 - 8;
	BAD_V(EINVAL, &v, "size VER0 - 8");
	memset(vbuf, 0, sizeof(vbuf));
	vd_init((void *)vbuf, EVBUS_VERDICT_ALLOW, r.id);
	((struct evbus_verdict *)vbuf)->size = EVBUS_VERDICT_SIZE_VER0 + 8;
	vbuf[EVBUS_VERDICT_SIZE_VER0 + 3] = 1;
	BAD_V(E2BIG, vbuf, "nonzero byte in a tail of 8");
	vbuf[EVBUS_VERDICT_SIZE_VER0 + 3] = 0;
	BAD_V(EFAULT, NULL, "NULL");
	BAD_V(EFAULT, bad, "unmapped");

	/* A larger struct with a zero tail is a valid verdict. */
	((struct evbus_verdict *)vbuf)->size = EVBUS_VERDICT_SIZE_VER0 + 8;
	ASSERT_EQ(0, vd_raw(u, vbuf));
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);

	/*
	 * As EVBUS_IOC_SUBSCRIBE2 (and openat2()): a struct larger than a
	 * page is E2BIG even with a zero tail, and so is size ~0.  Each on
	 * a request of its own, so that one accepted does not hide the next.
	 */
	for (int i = 0; i < 2; i++) {
		uint32_t size = i ? ~0U : 4097;

		ASK(&a, self->own, "gate.x", "target", EVBUS_PUB_ASK, LONG_NS);
		WANT_REQ(u, &r, "the request");
		memset(vbuf, 0, sizeof(vbuf));
		vd_init((void *)vbuf, EVBUS_VERDICT_DENY, r.id);
		((struct evbus_verdict *)vbuf)->size = size;
		EXPECT_EQ(-E2BIG, vd_raw(u, vbuf)) TH_LOG("size %u, zero tail", size);
		EXPECT_TRUE(ask_pending(&a)) TH_LOG("size %u was taken", size);
		v_allow(u, r.id);	/* ENOENT if the oversize one was taken */
		ASSERT_TRUE(ask_wait(&a, DONE_MS));
	}
	munmap(bad, 4096);
	rd_close(u);
	rd_close(ap);
}

/*
 * Two threads give a verdict for the same request at the same time:
 * exactly one wins, the other gets ENOENT, and the publisher gets the
 * winner's verdict.  Many rounds, as uid 1000.
 */
struct racer {
	pthread_barrier_t *bar;
	int fd;
	uint64_t id;
	int kind;		/* 0 allow, 1 deny EXDEV, 2 modify */
	int ret;
};

static void *race_main(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->bar);
	if (r->kind == 0)
		r->ret = v_allow(r->fd, r->id);
	else if (r->kind == 1)
		r->ret = v_deny(r->fd, r->id, EXDEV);
	else
		r->ret = v_modify(r->fd, r->id, NULL, "modified", 5);
	return NULL;
}

TEST_F_TIMEOUT(gate, racing_double_verdicts_one_wins, 120)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	pthread_barrier_t bar;
	int ap, sub, id, wins[3] = { 0 }, published = 0;
	const int rounds = 60;
	struct rec r, e;

	sub = sub_open("gate.>");
	ap = evt_open_as(&U1000);
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	id = appr_add(ap, "gate.>", 0, EVBUS_ALLOW);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	for (int i = 0; i < rounds; i++) {
		struct racer rc[2];
		pthread_t th[2];
		int k0 = i % 3, k1 = (i + 1 + (i / 3) % 2) % 3, w;

		ASK(&a, self->own, "gate.x", "race", EVBUS_PUB_ASK, LONG_NS);
		WANT_REQ(ap, &r, "the request");
		ASSERT_EQ(0, pthread_barrier_init(&bar, NULL, 2));
		for (int t = 0; t < 2; t++) {
			rc[t].bar = &bar;
			rc[t].fd = ap;
			rc[t].id = r.id;
			rc[t].kind = t ? k1 : k0;
			rc[t].ret = 1;
			ASSERT_EQ(0, pthread_create(&th[t], NULL, race_main, &rc[t]));
		}
		for (int t = 0; t < 2; t++) {
			ASSERT_EQ(0, pthread_join(th[t], NULL));
		}
		pthread_barrier_destroy(&bar);
		ASSERT_TRUE((rc[0].ret == 0 && rc[1].ret == -ENOENT) ||
			    (rc[1].ret == 0 && rc[0].ret == -ENOENT))
			TH_LOG("round %d: %d and %d", i, rc[0].ret, rc[1].ret);
		w = rc[0].ret == 0 ? rc[0].kind : rc[1].kind;
		wins[w]++;
		ASK_ENDS(&a, w == 1 ? -EXDEV : 0);
		if (w != 1) {
			published++;
			WANT_EV(sub, &e, "the winner's event");
			EXPECT_EQ(a.p.seq, e.ev.seq);
			if (w == 2) {
				EXPECT_STREQ("modified", e.ev.payload);
				EXPECT_EQ(5, e.ev.type);
			} else {
				EXPECT_STREQ("race", e.ev.payload);
				EXPECT_EQ(0, e.ev.type);
			}
		}
		WANT_NONE(sub, 0, "one event at most");
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(rounds, bs.approval_asked - b0.approval_asked);
	EXPECT_EQ(rounds, bs.approval_requests - b0.approval_requests);
	EXPECT_EQ(published, bs.approval_allowed - b0.approval_allowed);
	EXPECT_EQ(wins[2], bs.approval_modified - b0.approval_modified);
	EXPECT_EQ(wins[1], bs.approval_denied - b0.approval_denied);
	EXPECT_EQ(published, bs.seq);
	EXPECT_EQ(0, bs.approval_pending);
	TH_LOG("wins: allow %d, deny %d, modify %d", wins[0], wins[1], wins[2]);
	rd_close(ap);
	rd_close(sub);
}

/* ============================================================ deadlines */

/* deadline_ns 0 is approval_timeout_ms; longer than approval_max_ms is cut. */
TEST_F_TIMEOUT(gate, deadline_default_and_cap, 60)
{
	static struct ask a;
	unsigned long long tmo = 0, max = 0;
	uint64_t t_read;
	int ap;
	struct rec r;

	ASSERT_EQ(0, evt_param_get("approval_timeout_ms", &tmo));
	ASSERT_EQ(0, evt_param_get("approval_max_ms", &max));
	EXPECT_EQ(5000, tmo);
	EXPECT_LE(tmo, max);
	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));

	ASK(&a, self->own, "gate.x", "default", EVBUS_PUB_ASK, 0);
	WANT_REQ(ap, &r, "deadline 0");
	t_read = now_ns();
	EXPECT_LE(a.t0 + tmo * MS, r.deadline_ns);
	EXPECT_GE(t_read + tmo * MS, r.deadline_ns);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);

	ASK(&a, self->own, "gate.x", "capped", EVBUS_PUB_ASK, max * MS + 3600 * SEC);
	WANT_REQ(ap, &r, "deadline past the cap");
	t_read = now_ns();
	EXPECT_LE(a.t0 + max * MS, r.deadline_ns);
	EXPECT_GE(t_read + max * MS, r.deadline_ns);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);

	ASK(&a, self->own, "gate.x", "huge", EVBUS_PUB_ASK, ~0ULL);
	WANT_REQ(ap, &r, "deadline ~0");
	t_read = now_ns();
	EXPECT_GE(t_read + max * MS, r.deadline_ns);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);

	/* The parameters apply at run time. */
	ASSERT_EQ(0, evt_param_set("approval_timeout_ms", 200));
	ASK(&a, self->own, "gate.x", "short", EVBUS_PUB_ASK, 0);
	WANT_REQ(ap, &r, "deadline 0 after approval_timeout_ms=200");
	ASK_ENDS(&a, -ETIMEDOUT);
	WANT_CANCEL(ap, &r, "expired");
	EXPECT_LE(a.t0 + 200 * MS, a.t1 + MS);
	EXPECT_GT(a.t0 + 4 * SEC, a.t1);
	ASSERT_EQ(0, evt_param_set("approval_max_ms", 300));
	ASK(&a, self->own, "gate.x", "cut", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "deadline 20 s after approval_max_ms=300");
	ASK_ENDS(&a, -ETIMEDOUT);
	EXPECT_LE(a.t0 + 300 * MS, a.t1 + MS);
	EXPECT_GT(a.t0 + 4 * SEC, a.t1);
	restore_state();
	rd_close(ap);
}

/* ============================================================== batches */

/* A batch publish in a thread of its own. */
struct batch_arg {
	int fd;
	struct evbus_pub_batch *b;
	int ret;		/* events published, or -errno */
};

static void *batch_main(void *arg)
{
	struct batch_arg *x = arg;
	int n = ioctl(x->fd, EVBUS_IOC_PUBLISH_BATCH, x->b);

	x->ret = n < 0 ? -errno : n;
	return NULL;
}

TEST_F(gate, batch_waits_at_an_ask_and_a_denial_stops_it)
{
	static const char *const topics[3] = {
		"gate.before", "gate.asked", "gate.after",
	};
	static struct evbus_pub ev[3];
	static struct evbus_pub_batch b;
	static struct batch_arg arg;
	int ap, sub;
	struct rec r, e;
	pthread_t th;

	sub = sub_open("gate.>");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.asked", 0, EVBUS_ALLOW));
	for (int deny = 1; deny >= 0; deny--) {
		memset(ev, 0, sizeof(ev));
		for (int i = 0; i < 3; i++) {
			ev[i].topic = (uintptr_t)topics[i];
			ev[i].topic_len = strlen(topics[i]);
		}
		ev[1].flags = EVBUS_PUB_ASK;
		ev[1].deadline_ns = LONG_NS;
		memset(&b, 0, sizeof(b));
		b.events = (uintptr_t)ev;
		b.count = 3;
		b.flags = EVBUS_BATCH_SEQ;
		arg.fd = self->own;
		arg.b = &b;
		arg.ret = 1000;
		ASSERT_EQ(0, pthread_create(&th, NULL, batch_main, &arg));
		/* The first event is out before the ask is answered. */
		WANT_EV(sub, &e, "the event before the ask");
		EXPECT_STREQ("gate.before", e.ev.topic);
		WANT_REQ(ap, &r, "the ask in the batch");
		EXPECT_STREQ("gate.asked", r.ev.topic);
		WANT_NONE(sub, 100, "the batch waits");
		if (deny) {
			ASSERT_EQ(0, v_deny(ap, r.id, EXDEV));
		} else {
			ASSERT_EQ(0, v_allow(ap, r.id));
		}
		ASSERT_EQ(0, pthread_join(th, NULL));
		if (deny) {
			EXPECT_EQ(1, arg.ret);
			EXPECT_EQ(1, b.published);
			EXPECT_EQ(-EXDEV, b.error);
			EXPECT_EQ(1, b.error_index);
			EXPECT_EQ(1, b.first_seq);
			EXPECT_EQ(1, ev[0].seq);
			EXPECT_EQ(0, ev[1].seq);
			EXPECT_EQ(0, ev[2].seq);
			WANT_NONE(sub, 100, "nothing after the denial");
		} else {
			EXPECT_EQ(3, arg.ret);
			EXPECT_EQ(3, b.published);
			EXPECT_EQ(0, b.error);
			EXPECT_EQ(3, b.error_index);
			EXPECT_EQ(2, ev[0].seq);
			EXPECT_EQ(3, ev[1].seq);
			EXPECT_EQ(4, ev[2].seq);
			WANT_EV(sub, &e, "the asked event");
			EXPECT_STREQ("gate.asked", e.ev.topic);
			EXPECT_EQ(ev[1].seq, e.ev.seq);
			EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
			WANT_EV(sub, &e, "the event after");
			EXPECT_STREQ("gate.after", e.ev.topic);
			EXPECT_EQ(0, e.ev.flags);
		}
	}
	rd_close(sub);
	rd_close(ap);
}

/* ============================================================= io_uring */

/* A minimal io_uring, without liburing (kselftests link nothing else). */
struct uring {
	int fd;
	unsigned int *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *u, unsigned int entries)
{
	struct io_uring_params p;
	size_t sq_sz, cq_sz;
	void *sq, *cq, *sqes;

	memset(&p, 0, sizeof(p));
	u->fd = syscall(__NR_io_uring_setup, entries, &p);
	if (u->fd < 0)
		return -errno;
	sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_sz = cq_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
	sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  u->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		    IORING_OFF_SQES);
	if (sqes == MAP_FAILED)
		return -errno;
	u->sq_head = (void *)((char *)sq + p.sq_off.head);
	u->sq_tail = (void *)((char *)sq + p.sq_off.tail);
	u->sq_mask = (void *)((char *)sq + p.sq_off.ring_mask);
	u->sq_array = (void *)((char *)sq + p.sq_off.array);
	u->cq_head = (void *)((char *)cq + p.cq_off.head);
	u->cq_tail = (void *)((char *)cq + p.cq_off.tail);
	u->cq_mask = (void *)((char *)cq + p.cq_off.ring_mask);
	u->cqes = (void *)((char *)cq + p.cq_off.cqes);
	u->sqes = sqes;
	return 0;
}

/* Submit EVBUS_URING_PUBLISH of *pub on fd: 0 or -errno. */
static int uring_publish(struct uring *u, int fd, struct evbus_pub *pub,
			 uint64_t user_data)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	struct evbus_uring_cmd c;
	long ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = EVBUS_URING_PUBLISH;
	sqe->user_data = user_data;
	memset(&c, 0, sizeof(c));
	c.arg = (uintptr_t)pub;
	memcpy((char *)sqe + 48, &c, sizeof(c));	/* the command area */
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0);
	if (ret < 0)
		return -errno;
	return ret == 1 ? 0 : -EIO;
}

/* A CQE within ms: 1 (in *out), or 0. */
static int uring_cqe(struct uring *u, struct io_uring_cqe *out, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;

	for (;;) {
		unsigned int head = *u->cq_head;
		unsigned int tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);

		if (head != tail) {
			*out = u->cqes[head & *u->cq_mask];
			__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
			return 1;
		}
		if (now_ns() >= end)
			return 0;
		/* Run any task work, then sleep a little. */
		syscall(__NR_io_uring_enter, u->fd, 0, 0, IORING_ENTER_GETEVENTS,
			NULL, 0);
		{
			struct pollfd p = { .fd = u->fd, .events = POLLIN };

			poll(&p, 1, 10);
		}
	}
}

/*
 * io_uring worker threads (iou-wrk-*) of this process now; *in_evbus
 * (may be NULL) gets how many of them sleep in an evbus function (wchan).
 */
static int iou_workers(int *in_evbus)
{
	char path[300], comm[64];
	struct dirent *d;
	int n = 0;
	DIR *dir = opendir("/proc/self/task");

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk", 7)) {
			n++;
			fclose(f);
			snprintf(path, sizeof(path), "/proc/self/task/%s/wchan",
				 d->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (in_evbus && fgets(comm, sizeof(comm), f) &&
			    !strncmp(comm, "evbus", 5))
				(*in_evbus)++;
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/*
 * EVBUS_URING_PUBLISH of an asking event completes only after the
 * verdict, with no worker thread meanwhile: res 0 and the seq written
 * back, or res the denial's -errno.  Several pending at once are numbered
 * in the order they are allowed.
 */
TEST_F(gate, uring_publish_completes_on_the_verdict)
{
	static struct evbus_pub p[8];
	static char payload[8][8];
	struct io_uring_cqe cqe;
	struct uring u;
	uint64_t ids[8];
	int ap, sub, ret, nwait, nwork;
	struct rec r, e;

	sub = sub_open("gate.>");
	ap = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	ret = uring_init(&u, 16);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_setup: %s", strerror(-ret));

	for (int i = 0; i < 8; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		snprintf(payload[i], sizeof(payload[i]), "u%d", i);
		p[i].topic = (uintptr_t)"gate.x";
		p[i].topic_len = 6;
		p[i].payload = (uintptr_t)payload[i];
		p[i].payload_len = strlen(payload[i]);
		p[i].flags = EVBUS_PUB_ASK;
		p[i].deadline_ns = LONG_NS;
	}
	/* One, allowed. */
	ASSERT_EQ(0, uring_publish(&u, self->own, &p[0], 100));
	WANT_REQ(ap, &r, "the request");
	EXPECT_STREQ("u0", r.ev.payload);
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 200)) TH_LOG("completed before the verdict");
	EXPECT_EQ(0, p[0].seq);
	nwait = 0;
	iou_workers(&nwait);
	EXPECT_EQ(0, nwait) TH_LOG("an io_uring worker waits in evbus");
	WANT_NONE(sub, 0, "nothing before the verdict");
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(100, cqe.user_data);
	EXPECT_EQ(0, cqe.res);
	EXPECT_EQ(1, p[0].seq);
	WANT_EV(sub, &e, "the event");
	EXPECT_EQ(1, e.ev.seq);
	EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
	EXPECT_EQ(getpid(), e.ev.pid);

	/* One, denied. */
	ASSERT_EQ(0, uring_publish(&u, self->own, &p[1], 101));
	WANT_REQ(ap, &r, "the request");
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 100));
	ASSERT_EQ(0, v_deny(ap, r.id, EXDEV));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(101, cqe.user_data);
	EXPECT_EQ(-EXDEV, cqe.res);
	EXPECT_EQ(0, p[1].seq);
	WANT_NONE(sub, 50, "nothing published");

	/* Six at once, no thread waiting; allowed in reverse order. */
	for (int i = 2; i < 8; i++) {
		ASSERT_EQ(0, uring_publish(&u, self->own, &p[i], 100 + i));
	}
	/* Issued by workers, they may reach the approver in any order. */
	memset(ids, 0, sizeof(ids));
	for (int i = 2; i < 8; i++) {
		int k;

		WANT_REQ(ap, &r, "one of six");
		k = r.ev.payload[1] - '0';
		ASSERT_TRUE(k >= 2 && k < 8) TH_LOG("payload %s", r.ev.payload);
		EXPECT_EQ(0, ids[k]) TH_LOG("u%d asked twice", k);
		ids[k] = r.id;
	}
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 100));
	/*
	 * A worker may issue an ask (it may sleep), but none waits for a
	 * verdict: fewer workers than pending asks, none asleep in evbus.
	 */
	nwait = 0;
	nwork = iou_workers(&nwait);
	EXPECT_GT(6, nwork) TH_LOG("a worker per pending ask: %d", nwork);
	EXPECT_EQ(0, nwait) TH_LOG("io_uring workers wait in evbus");
	{
		struct evbus_bus_stats bs;

		ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
		EXPECT_EQ(6, bs.approval_pending);
	}
	for (int i = 7; i >= 2; i--) {
		ASSERT_EQ(0, v_allow(ap, ids[i]));
		ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
		EXPECT_EQ(100 + i, cqe.user_data);
		EXPECT_EQ(0, cqe.res);
		EXPECT_EQ(1 + (8 - i), p[i].seq) TH_LOG("numbered when allowed");
	}
	rd_close(sub);
	rd_close(ap);
	close(u.fd);
}

/* io_uring asks end by the deadline and by the approver closing too. */
TEST_F(gate, uring_publish_gets_the_default)
{
	static struct evbus_pub p;
	struct io_uring_cqe cqe;
	struct uring u;
	int ap, ret;
	struct rec r;

	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	ret = uring_init(&u, 4);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_setup: %s", strerror(-ret));
	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)"gate.x";
	p.topic_len = 6;
	p.flags = EVBUS_PUB_ASK;
	p.deadline_ns = SHORT_NS;
	ASSERT_EQ(0, uring_publish(&u, self->own, &p, 1));
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(-ETIMEDOUT, cqe.res);
	WANT_CANCEL(ap, &r, "expired");
	EXPECT_EQ(EVBUS_CANCEL_EXPIRED, r.reason);

	p.deadline_ns = LONG_NS;
	ASSERT_EQ(0, uring_publish(&u, self->own, &p, 2));
	WANT_REQ(ap, &r, "the request");
	rd_close(ap);
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(2, cqe.user_data);
	EXPECT_EQ(-ECONNRESET, cqe.res);
	close(u.fd);
}

/* ========================================================== announcements */

/* One $sys.approval.denied event as a test looks at it. */
struct denied {
	uint64_t seq, file_id;
	uint32_t pid, approver_id, cause, topic_len;
	int32_t error;
	char topic[EVBUS_TOPIC_MAX + 1];
};

static void want_denied(struct __test_metadata *_metadata, int fd,
			struct denied *d)
{
	const struct evbus_sys_approval *sa;
	struct rec e;

	WANT_EV(fd, &e, "$sys.approval.denied");
	EXPECT_STREQ("$sys.approval.denied", e.ev.topic);
	ASSERT_LE(sizeof(*sa), e.ev.payload_len);
	sa = (const void *)e.ev.payload;
	memset(d, 0, sizeof(*d));
	d->seq = e.ev.seq;
	d->pid = e.ev.pid;
	d->file_id = sa->file_id;
	d->approver_id = sa->approver_id;
	d->cause = sa->cause;
	d->error = sa->error;
	d->topic_len = sa->topic_len;
	EXPECT_EQ(sizeof(*sa) + sa->topic_len, e.ev.payload_len);
	if (sa->topic_len <= EVBUS_TOPIC_MAX &&
	    sizeof(*sa) + sa->topic_len <= e.ev.payload_len)
		memcpy(d->topic, sa->topic, sa->topic_len);
}

TEST_F(gate, denials_are_announced_on_sys_approval_denied)
{
	static struct ask a;
	long long file_id;
	int ap, mon, id, rid;
	struct denied d;
	struct rec r;

	mon = sub_open("$sys.approval.denied");
	ap = evt_sf_open();
	ASSERT_LE(0, mon);
	ASSERT_LE(0, ap);
	file_id = evt_file_id(self->own);
	ASSERT_LT(0, file_id);
	id = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	ASSERT_LT(0, id);

	/* An approver said deny. */
	ASK(&a, self->own, "gate.denied", "d", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_deny(ap, r.id, EXDEV));
	ASK_ENDS(&a, -EXDEV);
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(file_id, d.file_id);
	EXPECT_EQ(id, d.approver_id);
	EXPECT_EQ(EVBUS_APPROVAL_DENIED, d.cause);
	EXPECT_EQ(EXDEV, d.error);
	EXPECT_EQ(11, d.topic_len);
	EXPECT_STREQ("gate.denied", d.topic);
	EXPECT_EQ(getpid(), d.pid);

	/* The deadline, default deny. */
	ASK(&a, self->own, "gate.late", "d", EVBUS_PUB_ASK, SHORT_NS);
	WANT_REQ(ap, &r, "the request");
	ASK_ENDS(&a, -ETIMEDOUT);
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(EVBUS_APPROVAL_EXPIRED, d.cause);
	EXPECT_EQ(ETIMEDOUT, d.error);
	EXPECT_EQ(id, d.approver_id);
	EXPECT_STREQ("gate.late", d.topic);
	WANT_CANCEL(ap, &r, "expired");

	/* No room, default deny. */
	{
		int tiny = evt_sf_open(), tid;

		ASSERT_LE(0, tiny);
		ASSERT_EQ(0, evt_set_ring(tiny, 4096, EVBUS_POLICY_DROP_OLDEST));
		ASSERT_LT(0, evt_sub(tiny, "fill.x"));
		tid = appr_add(tiny, "full.>", 0, EVBUS_DENY);
		ASSERT_LT(0, tid);
		fill_ring(_metadata, self->own, tiny);
		ASK(&a, self->own, "full.x", "d", EVBUS_PUB_ASK, LONG_NS);
		ASK_ENDS(&a, -ENOBUFS);
		want_denied(_metadata, mon, &d);
		EXPECT_EQ(EVBUS_APPROVAL_FULL, d.cause);
		EXPECT_EQ(ENOBUFS, d.error);
		EXPECT_EQ(tid, d.approver_id);
		EXPECT_STREQ("full.x", d.topic);
		rd_close(tiny);
	}

	/* The approver gone, default deny. */
	ASK(&a, self->own, "gate.gone", "d", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	rd_close(ap);
	ASK_ENDS(&a, -ECONNRESET);
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(EVBUS_APPROVAL_GONE, d.cause);
	EXPECT_EQ(ECONNRESET, d.error);
	EXPECT_EQ(id, d.approver_id);
	EXPECT_STREQ("gate.gone", d.topic);

	/* Mandatory, nobody to ask. */
	rid = evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
			     EVBUS_WHO_ALL, 0, "must.>", 0);
	ASSERT_LT(0, rid);
	EXPECT_EQ(-ECONNREFUSED, evt_pub(self->own, "must.x", "d"));
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(EVBUS_APPROVAL_NOBODY, d.cause);
	EXPECT_EQ(ECONNREFUSED, d.error);
	EXPECT_EQ(0, d.approver_id);
	EXPECT_EQ(file_id, d.file_id);
	EXPECT_STREQ("must.x", d.topic);

	WANT_NONE(mon, 100, "one announcement per denial");
	rd_close(mon);
}

/* Whoever the policy keeps from $sys.approval.denied does not see it. */
TEST_F(gate, sys_approval_denied_follows_the_policy)
{
	static struct ask a;
	int ap, u, mon;
	struct rec r;

	ap = evt_sf_open();
	mon = sub_open("$sys.approval.denied");
	u = evt_open_as(&U1000);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, mon);
	ASSERT_LE(0, u);
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "$sys.approval.>", 0));
	EXPECT_EQ(-EACCES, evt_sub(u, "$sys.approval.denied"));
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	ASK(&a, self->own, "gate.x", "d", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "the request");
	ASSERT_EQ(0, v_deny(ap, r.id, 0));
	ASK_ENDS(&a, -EACCES);
	WANT_EV(mon, &r, "root sees it");
	EXPECT_STREQ("$sys.approval.denied", r.ev.topic);
	WANT_NONE(u, 100, "uid 1000 does not");
	rd_close(u);
	rd_close(mon);
	rd_close(ap);
}

/* ============================================================= counters */

/*
 * Every outcome once, in one bus, each counter checked after each; the
 * gauges (approvers, approval_pending) follow; an old-sized BUS_STATS
 * gets nothing past its size.
 */
TEST_F_TIMEOUT(gate, counters_move_exactly, 60)
{
	static struct ask a;
	struct evbus_bus_stats b0, bs;
	struct sigaction sa;
	int ap, ap2, rid;
	char buf[EVBUS_BUS_STATS_SIZE_VER2];
	struct rec r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nop_handler;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	ASSERT_LT(0, appr_add(ap, "dflt.>", 0, EVBUS_ALLOW));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(2, b0.approvers);
	EXPECT_EQ(0, b0.approval_pending);

	/* allow */
	ASK(&a, self->own, "gate.x", "c", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "allow");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.approval_pending);
	EXPECT_EQ(1, bs.approval_asked);
	EXPECT_EQ(1, bs.approval_requests);
	ASSERT_EQ(0, v_allow(ap, r.id));
	ASK_ENDS(&a, 0);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1);
	/* modify */
	ASK(&a, self->own, "gate.x", "c", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "modify");
	ASSERT_EQ(0, v_modify(ap, r.id, NULL, "m", 0));
	ASK_ENDS(&a, 0);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_MODIFIED] = 1);
	/* deny */
	ASK(&a, self->own, "gate.x", "c", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "deny");
	ASSERT_EQ(0, v_deny(ap, r.id, 0));
	ASK_ENDS(&a, -EACCES);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_DENIED] = 1);
	/* expired, default deny and default allow */
	ASK(&a, self->own, "gate.x", "c", EVBUS_PUB_ASK, SHORT_NS);
	WANT_REQ(ap, &r, "expire");
	ASK_ENDS(&a, -ETIMEDOUT);
	WANT_CANCEL(ap, &r, "expired");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_EXPIRED] = 1);
	ASK(&a, self->own, "dflt.x", "c", EVBUS_PUB_ASK, SHORT_NS);
	WANT_REQ(ap, &r, "expire");
	ASK_ENDS(&a, 0);
	WANT_CANCEL(ap, &r, "expired");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_ALLOWED] = 1,
		     [C_EXPIRED] = 1);
	/* withdrawn */
	ASK(&a, self->own, "gate.x", "c", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "withdraw");
	usleep(50000);
	ASSERT_EQ(0, pthread_kill(a.th, SIGUSR1));
	ASK_ENDS(&a, -EINTR);
	WANT_CANCEL(ap, &r, "withdrawn");
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_WITHDRAWN] = 1);
	/* errors change nothing */
	EXPECT_EQ(-ENOENT, v_allow(ap, r.id));
	EXPECT_EQ(-ENOENT, v_modify(ap, r.id, NULL, "late", 0));
	EXPECT_MOVED(b0, [C_ASKED] = 0);
	/* gone */
	ap2 = evt_sf_open();
	ASSERT_LE(0, ap2);
	ASSERT_LT(0, appr_add(ap2, "gone.>", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.approvers);
	ASK(&a, self->own, "gone.x", "c", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap2, &r, "gone");
	rd_close(ap2);
	ASK_ENDS(&a, -ECONNRESET);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_REQUESTS] = 1, [C_GONE] = 1);
	EXPECT_EQ(2, b0.approvers);
	/* full */
	ap2 = evt_sf_open();
	ASSERT_LE(0, ap2);
	ASSERT_EQ(0, evt_set_ring(ap2, 4096, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, evt_sub(ap2, "fill.x"));
	ASSERT_LT(0, appr_add(ap2, "full.>", 0, EVBUS_DENY));
	fill_ring(_metadata, self->own, ap2);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASK(&a, self->own, "full.x", "c", EVBUS_PUB_ASK, LONG_NS);
	ASK_ENDS(&a, -ENOBUFS);
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_FULL] = 1);
	rd_close(ap2);
	/* nobody */
	rid = evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
			     EVBUS_WHO_ALL, 0, "must.>", 0);
	ASSERT_LT(0, rid);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-ECONNREFUSED, evt_pub(self->own, "must.x", "c"));
	EXPECT_MOVED(b0, [C_ASKED] = 1, [C_NOBODY] = 1);

	/* A VER0-sized BUS_STATS is filled up to its size and not beyond. */
	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, EVBUS_BUS_STATS_SIZE_VER0);
	((struct evbus_bus_stats *)buf)->size = EVBUS_BUS_STATS_SIZE_VER0;
	ASSERT_EQ(0, ioctl(self->own, EVBUS_IOC_BUS_STATS, buf));
	for (size_t i = EVBUS_BUS_STATS_SIZE_VER0; i < sizeof(buf); i++) {
		ASSERT_EQ(0xa5, (unsigned char)buf[i]) TH_LOG("byte %zu", i);
	}
	EXPECT_EQ(b0.published, ((struct evbus_bus_stats *)buf)->published);
	rd_close(ap);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approvers);
}

/* ================================================================ caps */

/*
 * The "evbus-approver:" lines of fd's fdinfo (one per approver it holds),
 * concatenated into out (may be NULL): how many, or -errno.
 */
static int appr_lines(int fd, char *out, size_t cap)
{
	char path[64], line[512];
	size_t used = 0;
	int n = 0;
	FILE *f;

	if (out && cap)
		out[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		if (strncmp(line, "evbus-approver:\t", 16))
			continue;
		n++;
		if (out && used + len < cap) {
			memcpy(out + used, line, len + 1);
			used += len;
		}
	}
	fclose(f);
	return n;
}

/* fd's approvers are exactly want (fdinfo lines, "" for none). */
#define EXPECT_APPROVERS(fd, want) do {					\
	char _got[2048];						\
	int _n = appr_lines(fd, _got, sizeof(_got));			\
	EXPECT_LE(0, _n);						\
	EXPECT_STREQ(want, _got);					\
} while (0)

/* An asking publish of topic (empty payload), for io_uring. */
static void pub_ask(struct evbus_pub *p, const char *topic, uint64_t corr,
		    uint64_t deadline_ns)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = strlen(topic);
	p->corr = corr;
	p->flags = EVBUS_PUB_ASK;
	p->deadline_ns = deadline_ns;
}

/*
 * A process of its own running as ids, on a file of its own, publishes
 * on topic asking for approval (deadline LONG_NS): 0 if it was
 * published, the errno, or 200+ if the child broke.
 */
static int ask_as_user(const struct evt_ids *ids, const char *topic)
{
	struct evbus_pub p;
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return 250;
	if (pid)
		return evt_wait(pid);
	alarm(40);
	if (evt_become(ids))
		_exit(200);
	fd = evt_open();
	if (fd < 0)
		_exit(201);
	pub_ask(&p, topic, 0, LONG_NS);
	_exit(ioctl(fd, EVBUS_IOC_PUBLISH, &p) ? errno : 0);
}

/*
 * A process of its own running as ids, on a file of its own, registers an
 * approver of pattern: 0 if it could, the errno, or 200+ if the child
 * broke.  (Its approver goes with it.)
 */
static int approver_as_user(const struct evt_ids *ids, const char *pattern)
{
	pid_t pid = fork();
	int fd, id;

	if (pid < 0)
		return 250;
	if (pid)
		return evt_wait(pid);
	alarm(20);
	if (evt_become(ids))
		_exit(200);
	fd = evt_open();
	if (fd < 0)
		_exit(201);
	id = appr_add(fd, pattern, 0, EVBUS_DENY);
	if (id > 0 && appr_lines(fd, NULL, 0) != 1)
		_exit(202);
	_exit(id < 0 ? -id : 0);
}

#define ASKS_CAP	4

/*
 * max_user_asks: uid 1000 with ASKS_CAP io_uring asks pending at an
 * approver that does not answer can ask no more, however it asks (an
 * ioctl or io_uring on the same file, a process and a file of its own):
 * EAGAIN at once, nothing asked, nothing published.  Another user and a
 * publish that does not ask are not held back.  An answer gives one ask
 * back; the approver closing gives them all back, exactly.
 */
TEST_F_TIMEOUT(gate, max_user_asks_caps_a_users_pending_asks, 120)
{
	static struct evbus_pub p[ASKS_CAP + 1];
	static struct ask a, b;
	struct evbus_bus_stats b0, bs;
	struct io_uring_cqe cqe;
	uint64_t ids[ASKS_CAP];
	int ap, pub, other, sub, ret, i;
	unsigned int seen;
	struct uring u;
	struct rec r;

	ASSERT_EQ(0, evt_param_set("max_user_asks", ASKS_CAP));
	sub = sub_open("gate.>");
	ap = evt_sf_open();
	pub = evt_open_as(&U1000);
	other = evt_open_as(&U1001);
	ASSERT_LE(0, sub);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, pub);
	ASSERT_LE(0, other);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	ret = uring_init(&u, 16);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	/* uid 1000 fills its cap; the requests come in any order. */
	for (i = 0; i < ASKS_CAP; i++) {
		pub_ask(&p[i], "gate.x", 1 + i, LONG_NS);
		ASSERT_EQ(0, uring_publish(&u, pub, &p[i], 1 + i));
	}
	seen = 0;
	for (i = 0; i < ASKS_CAP; i++) {
		WANT_REQ(ap, &r, "one of the asks up to the cap");
		/* The sender is the caller; the file's user is charged. */
		EXPECT_EQ(geteuid(), r.ev.uid);
		ASSERT_LE(1, r.ev.corr);
		ASSERT_GE(ASKS_CAP, r.ev.corr);
		seen |= 1U << r.ev.corr;
		ids[r.ev.corr - 1] = r.id;
	}
	ASSERT_EQ(((1U << ASKS_CAP) - 1) << 1, seen) TH_LOG("each ask once");
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 100)) TH_LOG("an ask completed: %d",
						      cqe.res);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(ASKS_CAP, bs.approval_pending);

	/* One more: an ioctl on the same file, ... */
	ASK(&a, pub, "gate.x", "over", EVBUS_PUB_ASK, LONG_NS);
	ASK_ENDS(&a, -EAGAIN);
	EXPECT_EQ(0, a.p.seq);
	/* ... io_uring on the same file, ... */
	pub_ask(&p[ASKS_CAP], "gate.x", 99, LONG_NS);
	ASSERT_EQ(0, uring_publish(&u, pub, &p[ASKS_CAP], 99));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS)) TH_LOG("the ask past the cap waits");
	EXPECT_EQ(99, cqe.user_data);
	EXPECT_EQ(-EAGAIN, cqe.res);
	EXPECT_EQ(0, p[ASKS_CAP].seq);
	/* ... a uid-1000 process on a file of its own. */
	EXPECT_EQ(EAGAIN, ask_as_user(&U1000, "gate.x"));
	/* Nothing was asked or published. */
	WANT_NONE(ap, 100, "no request past the cap");
	WANT_NONE(sub, 0, "nothing published");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.seq);
	EXPECT_EQ(ASKS_CAP, bs.approval_pending);
	EXPECT_EQ(ASKS_CAP, bs.approval_asked - b0.approval_asked);
	EXPECT_EQ(ASKS_CAP, bs.approval_requests - b0.approval_requests);
	EXPECT_EQ(0, bs.approval_full - b0.approval_full);
	EXPECT_EQ(0, bs.approval_denied - b0.approval_denied);
	EXPECT_EQ(0, bs.approval_gone - b0.approval_gone);

	/* Another user still asks; a publish that does not ask goes out. */
	ASK(&b, other, "gate.x", "1001", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "uid 1001's ask");
	EXPECT_STREQ("1001", r.ev.payload);
	ASSERT_EQ(0, v_deny(ap, r.id, EXDEV));
	ASK_ENDS(&b, -EXDEV);
	EXPECT_EQ(1, evt_pub(pub, "free.x", "no ask"));

	/* An answer gives one back: the next ask reaches the approver. */
	ASSERT_EQ(0, v_allow(ap, ids[0]));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_EQ(0, cqe.res);
	EXPECT_EQ(2, p[0].seq);
	ASK(&a, pub, "gate.x", "again", EVBUS_PUB_ASK, LONG_NS);
	WANT_REQ(ap, &r, "an ask after an answer");
	EXPECT_STREQ("again", r.ev.payload);
	EXPECT_EQ(EAGAIN, ask_as_user(&U1000, "gate.x"));

	/* The approver closes: every ask ends, and the whole cap is back. */
	rd_close(ap);
	ASK_ENDS(&a, -ECONNRESET);
	seen = 0;
	for (i = 1; i < ASKS_CAP; i++) {
		ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
		EXPECT_EQ(-ECONNRESET, cqe.res);
		ASSERT_GE(ASKS_CAP, cqe.user_data);
		seen |= 1U << cqe.user_data;
	}
	EXPECT_EQ(((1U << (ASKS_CAP + 1)) - 1) & ~3U, seen) TH_LOG("asks 2.. each once");
	ap = evt_sf_open();
	ASSERT_LE(0, ap);
	ASSERT_LT(0, appr_add(ap, "gate.>", 0, EVBUS_DENY));
	for (i = 0; i < ASKS_CAP; i++) {
		pub_ask(&p[i], "gate.x", 1 + i, LONG_NS);
		ASSERT_EQ(0, uring_publish(&u, pub, &p[i], 11 + i));
	}
	for (i = 0; i < ASKS_CAP; i++)
		WANT_REQ(ap, &r, "the cap again, all of it");
	EXPECT_EQ(EAGAIN, ask_as_user(&U1000, "gate.x"));
	WANT_NONE(ap, 50, "no request past the cap");
	rd_close(ap);
	for (i = 0; i < ASKS_CAP; i++) {
		ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
		EXPECT_EQ(-ECONNRESET, cqe.res);
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approval_pending);
	close(u.fd);
	close(other);
	close(pub);
	rd_close(sub);
}

#define PENDING_MAX	EVBUS_APPROVER_PENDING_MAX
#define PEND_NS		(60 * SEC)	/* approval_max_ms at most: the test ends first */

/*
 * EVBUS_APPROVER_PENDING_MAX: 1024 io_uring asks (uid 1000's, with
 * max_user_asks raised; in flight, no thread each) pending at one approver
 * file whose ring has room for far more requests.  The next ask to any
 * approver of that file gets that approver's default at once (deny:
 * ENOBUFS; allow: published), counted in approval_full and announced;
 * another file's approver is asked as usual; one answer makes room for
 * exactly one more; closing the file ends them all.
 */
TEST_F_TIMEOUT(gate, approver_pending_max_gives_the_default_at_once, 300)
{
	static struct evbus_pub p[PENDING_MAX + 1];
	static uint64_t ids[PENDING_MAX];
	static unsigned char seen[PENDING_MAX + 1];
	static struct ask a, b;
	struct evbus_bus_stats b0, bs;
	struct io_uring_cqe cqe;
	struct evbus_stats st;
	int ap, ap3, pub, sub, mon, id1, id2, ret, i, n;
	long long fid;
	struct denied d;
	struct uring u;
	struct rec r, e;

	ASSERT_EQ(0, evt_param_set("max_user_asks", 2 * PENDING_MAX));
	ASSERT_EQ(0, evt_param_set("approval_max_ms", PEND_NS / MS));
	sub = sub_open("gate.>");
	mon = sub_open("$sys.approval.denied");
	ap = evt_sf_open();
	ap3 = evt_sf_open();
	pub = evt_open_as(&U1000);
	ASSERT_LE(0, sub);
	ASSERT_LE(0, mon);
	ASSERT_LE(0, ap);
	ASSERT_LE(0, ap3);
	ASSERT_LE(0, pub);
	ASSERT_LT(0, evt_sub(sub, "other.>"));
	/* 1 MiB: room for 8 times the requests (128 bytes each). */
	ASSERT_EQ(0, evt_set_ring(ap, 1 << 20, EVBUS_POLICY_DROP_OLDEST));
	id1 = appr_add(ap, "gate.>", 0, EVBUS_DENY);
	id2 = appr_add(ap, "other.>", 0, EVBUS_ALLOW);
	ASSERT_LT(0, id1);
	ASSERT_LT(0, id2);
	ASSERT_LT(0, appr_add(ap3, "third.>", 0, EVBUS_DENY));
	fid = evt_file_id(pub);
	ASSERT_LT(0, fid);
	ret = uring_init(&u, 2 * PENDING_MAX);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

	for (i = 0; i < PENDING_MAX; i++) {
		pub_ask(&p[i], "gate.x", 1 + i, PEND_NS);
		ret = uring_publish(&u, pub, &p[i], 1 + i);
		ASSERT_EQ(0, ret) TH_LOG("ask %d: %s", i, strerror(-ret));
	}
	/* Every one is pending (the requests come in any order). */
	for (i = 0; i < PENDING_MAX; i++) {
		WANT_REQ(ap, &r, "a request up to the cap");
		ASSERT_EQ(id1, r.approver_id);
		ASSERT_LE(1, r.ev.corr);
		ASSERT_GE(PENDING_MAX, r.ev.corr);
		ASSERT_EQ(0, seen[r.ev.corr]) TH_LOG("ask %llu asked twice",
						     (unsigned long long)r.ev.corr);
		seen[r.ev.corr] = 1;
		ids[r.ev.corr - 1] = r.id;
	}
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 100))
		TH_LOG("ask %llu completed: %d", (unsigned long long)cqe.user_data,
		       cqe.res);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(PENDING_MAX, bs.approval_pending);
	EXPECT_EQ(PENDING_MAX, bs.approval_asked - b0.approval_asked);
	EXPECT_EQ(PENDING_MAX, bs.approval_requests - b0.approval_requests);
	EXPECT_EQ(0, bs.approval_full - b0.approval_full);
	EXPECT_EQ(PENDING_MAX, evt_fdinfo_num(ap, "evbus-approval-pending"));
	/* The requests were read: the ring has all its room. */
	WANT_NONE(ap, 0, "only the requests");
	ASSERT_EQ(0, evt_stats(ap, &st));
	EXPECT_EQ(1 << 20, st.capacity);
	EXPECT_EQ(0, st.lost);

	/* The 1025th, io_uring: the default (deny) at once, no request. */
	pub_ask(&p[PENDING_MAX], "gate.x", 5000, PEND_NS);
	ASSERT_EQ(0, uring_publish(&u, pub, &p[PENDING_MAX], 5000));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS)) TH_LOG("the 1025th ask waits");
	EXPECT_EQ(5000, cqe.user_data);
	EXPECT_EQ(-ENOBUFS, cqe.res);
	EXPECT_EQ(0, p[PENDING_MAX].seq);
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(EVBUS_APPROVAL_FULL, d.cause);
	EXPECT_EQ(ENOBUFS, d.error);
	EXPECT_EQ(id1, d.approver_id);
	EXPECT_EQ(fid, d.file_id);
	EXPECT_STREQ("gate.x", d.topic);
	/* An ioctl ask to the same file's other approver: its default, allow. */
	ASK(&a, pub, "other.x", "full", EVBUS_PUB_ASK, PEND_NS);
	ASK_ENDS(&a, 0);
	EXPECT_LT(0, a.p.seq);
	WANT_EV(sub, &e, "published by default");
	EXPECT_EQ(a.p.seq, e.ev.seq);
	EXPECT_STREQ("other.x", e.ev.topic);
	EXPECT_STREQ("full", e.ev.payload);
	EXPECT_EQ(0, e.ev.flags & EVBUS_EVENT_MODIFIED);
	WANT_NONE(ap, 100, "no request past the cap");
	WANT_NONE(sub, 0, "nothing else published");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.approval_full - b0.approval_full);
	EXPECT_EQ(PENDING_MAX + 2, bs.approval_asked - b0.approval_asked);
	EXPECT_EQ(PENDING_MAX, bs.approval_requests - b0.approval_requests);
	EXPECT_EQ(1, bs.approval_allowed - b0.approval_allowed);
	EXPECT_EQ(0, bs.approval_denied - b0.approval_denied);
	EXPECT_EQ(PENDING_MAX, bs.approval_pending);

	/* Another approver file is asked as usual. */
	ASK(&b, pub, "third.x", "3", EVBUS_PUB_ASK, PEND_NS);
	WANT_REQ(ap3, &r, "another file's approver");
	EXPECT_STREQ("3", r.ev.payload);
	ASSERT_EQ(0, v_deny(ap3, r.id, EXDEV));
	ASK_ENDS(&b, -EXDEV);
	want_denied(_metadata, mon, &d);
	EXPECT_EQ(EVBUS_APPROVAL_DENIED, d.cause);
	EXPECT_EQ(EXDEV, d.error);

	/* One answer makes room for exactly one. */
	ASSERT_EQ(0, v_allow(ap, ids[0]));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_EQ(0, cqe.res);
	EXPECT_LT(0, p[0].seq);
	WANT_EV(sub, &e, "the answered one");
	EXPECT_EQ(p[0].seq, e.ev.seq);
	EXPECT_EQ(1, e.ev.corr);
	EXPECT_EQ(EVBUS_EVENT_APPROVED, e.ev.flags);
	ASK(&a, pub, "gate.y", "room", EVBUS_PUB_ASK, PEND_NS);
	WANT_REQ(ap, &r, "the one there is room for");
	EXPECT_EQ(id1, r.approver_id);
	EXPECT_STREQ("gate.y", r.ev.topic);
	EXPECT_EQ(PENDING_MAX, evt_fdinfo_num(ap, "evbus-approval-pending"));
	pub_ask(&p[PENDING_MAX], "gate.x", 5001, PEND_NS);
	ASSERT_EQ(0, uring_publish(&u, pub, &p[PENDING_MAX], 5001));
	ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS));
	EXPECT_EQ(5001, cqe.user_data);
	EXPECT_EQ(-ENOBUFS, cqe.res);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.approval_full - b0.approval_full);

	/* Closing the approver's file ends them all with its default. */
	rd_close(mon);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	rd_close(ap);
	ASK_ENDS(&a, -ECONNRESET);
	n = 0;
	for (i = 1; i < PENDING_MAX; i++) {
		ASSERT_EQ(1, uring_cqe(&u, &cqe, DONE_MS)) TH_LOG("%d ended", i);
		n += cqe.res == -ECONNRESET;
	}
	EXPECT_EQ(PENDING_MAX - 1, n);
	EXPECT_EQ(0, uring_cqe(&u, &cqe, 50));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approval_pending);
	EXPECT_EQ(PENDING_MAX, bs.approval_gone - b0.approval_gone);
	WANT_NONE(sub, 0, "none of them published");
	close(u.fd);
	close(pub);
	rd_close(ap3);
	rd_close(sub);
}

/*
 * max_approvers: the bus holds 3 (two of uid 1000's, one of uid 1001's);
 * the next APPROVER_ADD fails with ENOSPC for any file (root's too, and a
 * uid-1000 process's own) and registers nothing: fdinfo, the approvers
 * counter, and an ask on its pattern goes out unasked.  The refusals
 * charged uid 1000 nothing (its own cap, 3, still has room for one); a
 * removal makes room for one; a raised cap applies at once.
 */
TEST_F(gate, max_approvers_caps_a_bus)
{
	static struct ask a;
	struct evbus_bus_stats bs;
	int f, g, o, id;

	ASSERT_EQ(0, evt_param_set("max_approvers", 3));
	ASSERT_EQ(0, evt_param_set("max_user_approvers", 3));
	f = evt_open_as(&U1000);
	g = evt_open_as(&U1000);
	o = evt_open_as(&U1001);
	ASSERT_LE(0, f);
	ASSERT_LE(0, g);
	ASSERT_LE(0, o);
	/* A new bus hands ids out from 1. */
	EXPECT_EQ(1, appr_add(f, "gate.a", 1, EVBUS_DENY));
	EXPECT_EQ(2, appr_add(f, "gate.b", -2, EVBUS_ALLOW));
	EXPECT_EQ(3, appr_add(o, "gate.c", 3, EVBUS_DENY));

	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(-ENOSPC, appr_add(f, "gate.x", 0, EVBUS_DENY));
		EXPECT_EQ(-ENOSPC, appr_add(g, "gate.x", 0, EVBUS_ALLOW));
		EXPECT_EQ(-ENOSPC, appr_add(o, "gate.x", 0, EVBUS_DENY));
		EXPECT_EQ(-ENOSPC, appr_add(self->own, "gate.x", 0, EVBUS_DENY));
	}
	EXPECT_EQ(ENOSPC, approver_as_user(&U1000, "gate.x"));
	EXPECT_APPROVERS(f, "evbus-approver:\t1 1 deny gate.a\n"
			    "evbus-approver:\t2 -2 allow gate.b\n");
	EXPECT_APPROVERS(g, "");
	EXPECT_APPROVERS(o, "evbus-approver:\t3 3 deny gate.c\n");
	EXPECT_APPROVERS(self->own, "");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.approvers);
	ASK(&a, self->own, "gate.x", "unasked", EVBUS_PUB_ASK, LONG_NS);
	ASK_ENDS(&a, 0);
	EXPECT_EQ(1, a.p.seq);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approval_requests);

	/* A removal makes room for one, which uid 1000 may still take. */
	ASSERT_EQ(0, appr_del(o, 3));
	id = appr_add(g, "gate.d", 0, EVBUS_DENY);
	EXPECT_LT(0, id) TH_LOG("uid 1000's refusals were charged: %s",
				strerror(-id));
	EXPECT_EQ(-ENOSPC, appr_add(o, "gate.e", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.approvers);
	/* The parameter applies at once. */
	ASSERT_EQ(0, evt_param_set("max_approvers", 4));
	EXPECT_LT(0, appr_add(o, "gate.e", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(o, "gate.f", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(self->own, "gate.f", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(4, bs.approvers);
	close(f);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.approvers);
	close(g);
	close(o);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.approvers);
}

/*
 * max_user_approvers: uid 1000's files share one cap (3): past it,
 * ENOSPC on every one of its files, and for a uid-1000 process of its
 * own, registering nothing; uid 1001 and root are not held back.
 * Removing or closing gives back exactly what it held.
 */
TEST_F(gate, max_user_approvers_caps_a_user_across_files)
{
	struct evbus_bus_stats bs;
	int f, g, h, o, id;

	ASSERT_EQ(0, evt_param_set("max_user_approvers", 3));
	f = evt_open_as(&U1000);
	g = evt_open_as(&U1000);
	h = evt_open_as(&U1000);
	o = evt_open_as(&U1001);
	ASSERT_LE(0, f);
	ASSERT_LE(0, g);
	ASSERT_LE(0, h);
	ASSERT_LE(0, o);
	EXPECT_EQ(1, appr_add(f, "gate.a", 0, EVBUS_DENY));
	EXPECT_EQ(2, appr_add(f, "gate.b", 0, EVBUS_DENY));
	EXPECT_EQ(3, appr_add(g, "gate.c", 0, EVBUS_ALLOW));

	EXPECT_EQ(-ENOSPC, appr_add(g, "gate.x", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(f, "gate.x", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(h, "gate.x", 0, EVBUS_DENY));
	EXPECT_EQ(ENOSPC, approver_as_user(&U1000, "gate.x"));
	EXPECT_APPROVERS(f, "evbus-approver:\t1 0 deny gate.a\n"
			    "evbus-approver:\t2 0 deny gate.b\n");
	EXPECT_APPROVERS(g, "evbus-approver:\t3 0 allow gate.c\n");
	EXPECT_APPROVERS(h, "");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.approvers);

	/* Other users are not held back. */
	EXPECT_LT(0, appr_add(o, "gate.o", 0, EVBUS_DENY));
	EXPECT_EQ(0, approver_as_user(&U1001, "gate.p"));
	EXPECT_LT(0, appr_add(self->own, "gate.r", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(5, bs.approvers);

	/* A removal gives one back, to any of uid 1000's files. */
	ASSERT_EQ(0, appr_del(f, 1));
	id = appr_add(h, "gate.d", 0, EVBUS_DENY);
	EXPECT_LT(0, id);
	EXPECT_EQ(-ENOSPC, appr_add(f, "gate.x", 0, EVBUS_DENY));
	/* Closing a file gives back what it held (gate.b), no more. */
	close(f);
	id = appr_add(h, "gate.e", 0, EVBUS_DENY);
	EXPECT_LT(0, id);
	EXPECT_EQ(-ENOSPC, appr_add(h, "gate.x", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(g, "gate.x", 0, EVBUS_DENY));
	EXPECT_EQ(2, appr_lines(h, NULL, 0));
	EXPECT_EQ(1, appr_lines(g, NULL, 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(5, bs.approvers);
	close(g);
	close(h);
	close(o);
}

/* What the user-namespace worker saw, level by level. */
struct ns_res {
	int step, err;		/* a setup step that failed, and its errno */
	int ok[2];		/* approvers registered at each level */
	int refused[2];		/* errno of the first refusal (0: none) */
	int lines[2];		/* evbus-approver lines of that file */
	int uid_in[2];		/* euid inside */
};

/*
 * Into a new user namespace, mapping only ourselves (as uid 0 inside), as
 * any unprivileged process may: 0, or the step that failed (4: no user
 * namespaces) with *err.
 */
static int userns_self(int *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int ret;

	if (unshare(CLONE_NEWUSER)) {
		*err = errno;
		return errno == EINVAL ? 4 : 10;
	}
	ret = evt_write_text("/proc/self/setgroups", "deny");
	if (ret) {
		*err = -ret;
		return 11;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)uid);
	ret = evt_write_text("/proc/self/uid_map", map);
	if (ret) {
		*err = -ret;
		return 12;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)gid);
	ret = evt_write_text("/proc/self/gid_map", map);
	if (ret) {
		*err = -ret;
		return 13;
	}
	return 0;
}

/*
 * The worker: uid 1000 makes a user namespace, registers approvers there
 * until refused, makes one inside that and does the same; it reports on
 * ready_w and holds everything until go_r reaches EOF.
 */
static void __attribute__((noreturn))
userns_worker(struct ns_res *res, int ready_w, int go_r)
{
	char pat[32], c;
	int fd, id;

	alarm(60);
	/* Dumpable again, so that it may write its own /proc maps. */
	if (evt_become(&U1000) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) {
		res->step = 1;
		res->err = errno;
		goto out;
	}
	for (int lvl = 0; lvl < 2; lvl++) {
		res->step = userns_self(&res->err);
		if (res->step)
			goto out;
		res->uid_in[lvl] = geteuid();
		fd = evt_open();
		if (fd < 0) {
			res->step = 20 + lvl;
			res->err = errno;
			goto out;
		}
		for (int k = 0; k < 8; k++) {
			snprintf(pat, sizeof(pat), "ns%d.a%d", lvl, k);
			id = appr_add(fd, pat, 0, EVBUS_DENY);
			if (id < 0) {
				res->refused[lvl] = -id;
				break;
			}
			res->ok[lvl]++;
		}
		res->lines[lvl] = appr_lines(fd, NULL, 0);
	}
out:
	if (write(ready_w, "r", 1) != 1)
		_exit(3);
	while (read(go_r, &c, 1) > 0)
		;
	_exit(0);
}

/*
 * max_user_approvers across user namespaces: a user namespace uid 1000
 * makes (and one inside that) is charged to uid 1000 as well, so it
 * cannot multiply the cap: with 1 of 3 held outside, the namespace gets
 * exactly 2 and the one inside it none; meanwhile uid 1000 is at its cap
 * outside too.  When the namespaces' files go, the whole cap is back.
 */
TEST_F_TIMEOUT(gate, max_user_approvers_not_multiplied_by_user_namespaces, 90)
{
	struct ns_res *res = evt_shared(sizeof(*res));
	struct evbus_bus_stats bs;
	int f, o, ready[2], go[2], st;
	pid_t pid;
	char c;

	if (access("/proc/self/ns/user", F_OK))
		SKIP(return, "no user namespaces in this kernel");
	if (saved.userns_clone[0] == '0')
		ASSERT_EQ(0, evt_write_text(USERNS_CLONE, "1"));
	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, evt_param_set("max_user_approvers", 3));
	f = evt_open_as(&U1000);
	o = evt_open_as(&U1001);
	ASSERT_LE(0, f);
	ASSERT_LE(0, o);
	ASSERT_EQ(1, appr_add(f, "gate.out", 0, EVBUS_DENY));

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		userns_worker(res, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	st = read(ready[0], &c, 1);
	if (st != 1) {
		close(go[1]);
		ASSERT_EQ(1, st) TH_LOG("the worker died: %d", evt_wait(pid));
	}
	if (res->step == 4) {
		close(go[1]);
		evt_wait(pid);
		SKIP(return, "unshare(CLONE_NEWUSER): EINVAL, no user namespaces");
	}
	if (res->step) {
		close(go[1]);
		evt_wait(pid);
		ASSERT_EQ(0, res->step) TH_LOG("worker step %d: %s", res->step,
					       strerror(res->err));
	}
	EXPECT_EQ(0, res->uid_in[0]);
	EXPECT_EQ(0, res->uid_in[1]);
	EXPECT_EQ(2, res->ok[0]) TH_LOG("uid 1000's namespace registered %d "
					"with 1 of 3 held outside", res->ok[0]);
	EXPECT_EQ(ENOSPC, res->refused[0]) TH_LOG("%s", strerror(res->refused[0]));
	EXPECT_EQ(2, res->lines[0]);
	EXPECT_EQ(0, res->ok[1]) TH_LOG("a namespace in it registered %d",
					res->ok[1]);
	EXPECT_EQ(ENOSPC, res->refused[1]) TH_LOG("%s", strerror(res->refused[1]));
	EXPECT_EQ(0, res->lines[1]);

	/* While the namespace holds them, uid 1000 is at its cap outside. */
	EXPECT_EQ(-ENOSPC, appr_add(f, "gate.out2", 0, EVBUS_DENY));
	EXPECT_EQ(ENOSPC, approver_as_user(&U1000, "gate.p"));
	EXPECT_APPROVERS(f, "evbus-approver:\t1 0 deny gate.out\n");
	/* Another user is not. */
	EXPECT_LT(0, appr_add(o, "gate.o", 0, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(4, bs.approvers);

	/* The namespaces' files go: the whole cap is back, no more. */
	close(go[1]);
	EXPECT_EQ(0, evt_wait(pid));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.approvers);
	EXPECT_LT(0, appr_add(f, "gate.out2", 0, EVBUS_DENY));
	EXPECT_LT(0, appr_add(f, "gate.out3", 0, EVBUS_DENY));
	EXPECT_EQ(-ENOSPC, appr_add(f, "gate.out4", 0, EVBUS_DENY));
	EXPECT_EQ(3, appr_lines(f, NULL, 0));
	close(ready[0]);
	close(f);
	close(o);
	munmap(res, sizeof(*res));
}

TEST_HARNESS_MAIN
