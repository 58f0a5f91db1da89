// SPDX-License-Identifier: GPL-2.0
/*
 * Last wills (#17), against uapi/linux/evbus.h ("Last wills").
 *
 * Arming, replacing and clearing (ENOENT for a scope with no will, EINVAL
 * for CLEAR with anything else set); the will goes out when the open file
 * is released without having cleared it: on close(), on exit(), on a
 * SIGKILL, with EVBUS_EVENT_WILL and exactly the topic, payload, type,
 * corr and parent given, as sent by the process and thread that armed it
 * (also when another process, after fork() or SCM_RIGHTS, drops the last
 * descriptor); never when cleared; a file's wills last armed first; kept
 * in the history; never asking an approver.  Arming obeys the policy then:
 * EACCES as uid 1000 under a deny default or rule, on $sys.*, outside a
 * scoped file's publish scope, on a topic an EVBUS_ASK rule covers
 * (EVBUS_DENY_ASK), each counted and announced on $sys.policy.denied.
 * Caps: wills count with subscriptions against max_subs and max_user_subs
 * (ENOSPC, nothing changed), payloads past max_payload (EMSGSIZE), bad
 * sizes, flags, reserved fields and pointers (EINVAL, E2BIG, EFAULT) with
 * nothing changed; the sysfs counters wills and wills_fired.
 *
 * Every test runs on a bus of its own (a new IPC namespace, made by the
 * fixture), so seqs start at 1 and the bus's counters at zero.  "As uid
 * 1000" is a file a uid-1000 child opened and passed back, or a uid-1000
 * child doing the call itself where the sender of the will matters.
 */
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define REC_MS		3000	/* how long to wait for an event */
#define NONE_MS		150	/* how long nothing must come */
#define PMAX		256	/* payload bytes a test looks at */

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };

/* ------------------------------------------------- saved system state */

static const char *const param_names[] = {
	"max_subs", "max_user_subs", "max_payload",
};
#define NPARAMS	(sizeof(param_names) / sizeof(param_names[0]))

static struct {
	pid_t runner;
	int have[NPARAMS];
	unsigned long long val[NPARAMS];
} saved;

static void __attribute__((constructor)) save_state(void)
{
	saved.runner = getpid();
	for (size_t i = 0; i < NPARAMS; i++)
		saved.have[i] = !evt_param_get(param_names[i], &saved.val[i]);
	evt_dev_save_mode();
}

static void restore_state(void)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (saved.have[i])
			evt_param_set(param_names[i], saved.val[i]);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------------ helpers */

static void will_init(struct evbus_will *w, uint64_t scope, const char *topic,
		      const void *payload, uint32_t len)
{
	memset(w, 0, sizeof(*w));
	w->size = sizeof(*w);
	w->scope = scope;
	if (topic) {
		w->topic = (uintptr_t)topic;
		w->topic_len = strlen(topic);
	}
	w->payload = (uintptr_t)payload;
	w->payload_len = len;
}

static int will_raw(int fd, void *w)
{
	return ioctl(fd, EVBUS_IOC_WILL, w) ? -errno : 0;
}

/* Arm (or replace) the will of scope: 0 or -errno. */
static int will_arm_full(int fd, uint64_t scope, const char *topic,
			 const char *text, uint32_t type, uint64_t corr,
			 uint64_t parent)
{
	struct evbus_will w;

	will_init(&w, scope, topic, text, text ? strlen(text) : 0);
	w.type = type;
	w.corr = corr;
	w.parent = parent;
	return will_raw(fd, &w);
}

static int will_arm(int fd, uint64_t scope, const char *topic, const char *text)
{
	return will_arm_full(fd, scope, topic, text, 0, 0, 0);
}

static int will_clear(int fd, uint64_t scope)
{
	struct evbus_will w;

	will_init(&w, scope, NULL, NULL, 0);
	w.flags = EVBUS_WILL_CLEAR;
	return will_raw(fd, &w);
}

/* An event as a test looks at it. */
struct ev {
	uint16_t kind;
	uint32_t topic_len, payload_len;
	uint64_t seq;
	uint32_t pid, tid, uid, gid, type, flags;
	uint64_t corr, parent;
	char topic[EVBUS_TOPIC_MAX + 1];
	char payload[PMAX + 1];
	unsigned char raw[PMAX];	/* the payload's first bytes */
};

struct rdbuf {
	ssize_t off, len;
	char buf[256 * 1024];
};
static struct rdbuf *rdbufs[1024];

static void rd_close(int fd)
{
	if (fd < 0)
		return;
	if (fd < 1024 && rdbufs[fd])
		rdbufs[fd]->off = rdbufs[fd]->len = 0;
	close(fd);
}

/* The next record on fd within ms: 1 (in *e), 0 if none came, or -errno. */
static int next_rec(int fd, struct ev *e, int ms)
{
	struct rdbuf *b;
	int fl, waited = 0;
	ssize_t n;

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
			const struct evbus_event *ev = (const void *)h;

			if (!EVBUS_REC_OK(h, (size_t)(b->len - b->off)))
				return -EPROTO;
			b->off += h->len;
			memset(e, 0, sizeof(*e));
			e->kind = h->kind;
			if (h->kind != EVBUS_REC_EVENT)
				return 1;
			e->topic_len = ev->topic_len;
			e->payload_len = ev->payload_len;
			e->seq = ev->seq;
			e->pid = ev->pid;
			e->tid = ev->tid;
			e->uid = ev->uid;
			e->gid = ev->gid;
			e->type = ev->type;
			e->flags = ev->flags;
			e->corr = ev->corr;
			e->parent = ev->parent;
			memcpy(e->topic, EVBUS_EVENT_TOPIC(ev),
			       ev->topic_len <= EVBUS_TOPIC_MAX ? ev->topic_len : 0);
			memcpy(e->payload, EVBUS_EVENT_PAYLOAD(ev),
			       ev->payload_len < PMAX ? ev->payload_len : PMAX);
			memcpy(e->raw, e->payload, PMAX);
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
		if (waited >= ms)
			return 0;
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 10);
			waited += 10;
		}
	}
}

static void want_ev(struct __test_metadata *_metadata, int fd, struct ev *e,
		    const char *what)
{
	int ret = next_rec(fd, e, REC_MS);

	ASSERT_EQ(1, ret) TH_LOG("%s: no record within %d ms (%d)", what, REC_MS, ret);
	ASSERT_EQ(EVBUS_REC_EVENT, e->kind) TH_LOG("%s: record of kind %u", what, e->kind);
}

#define WANT_EV(fd, e, what)	want_ev(_metadata, fd, e, what)

#define WANT_NONE(fd, what) do {					\
	struct ev _e;							\
	int _ret = next_rec(fd, &_e, NONE_MS);				\
	EXPECT_EQ(0, _ret) TH_LOG("%s: unexpected record '%s' (kind %u)", \
				  what, _ret == 1 ? _e.topic : "",	\
				  _ret == 1 ? _e.kind : 0);		\
} while (0)

/* A will event: flags, topic and payload as given. */
#define WANT_WILL(fd, e, topic_, payload_, what) do {			\
	WANT_EV(fd, e, what);						\
	EXPECT_EQ(EVBUS_EVENT_WILL, (e)->flags) TH_LOG("%s", what);	\
	EXPECT_STREQ(topic_, (e)->topic) TH_LOG("%s", what);		\
	EXPECT_STREQ(payload_, (e)->payload) TH_LOG("%s", what);	\
} while (0)

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

static uint64_t bus_seq(int fd)
{
	struct evbus_bus_stats bs;

	return evt_bus_stats(fd, &bs) ? ~0ULL : bs.seq;
}

/* ------------------------------------------------------------ fixture */

FIXTURE(will) {
	int own;		/* root's file on the test's own bus */
	int sub;		/* root's subscriber of everything but $sys */
	uint32_t max_payload;
};

FIXTURE_SETUP(will)
{
	struct evbus_version v;

	self->own = self->sub = -1;
	restore_state();	/* a test that timed out may have left params */
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_sf_open();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, evt_version(self->own, &v));
	ASSERT_TRUE(v.features & EVBUS_FEAT_WILL)
		TH_LOG("the module does not have last wills");
	self->max_payload = v.max_payload;
	self->sub = sub_open(">");
	ASSERT_LE(0, self->sub);
	ASSERT_EQ(0, bus_seq(self->own));
}

FIXTURE_TEARDOWN(will)
{
	if (self->own >= 0) {
		evt_policy_clear(self->own);
		rd_close(self->own);
	}
	rd_close(self->sub);
	restore_state();
}

/* ======================================================= arm and clear */

/* A replacement replaces; a cleared will is gone; ENOENT for none. */
TEST_F(will, arm_replace_clear)
{
	struct ev e;
	int fd = evt_sf_open(), other = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	EXPECT_EQ(-ENOENT, will_clear(fd, 1));
	EXPECT_EQ(-ENOENT, will_clear(fd, 0));
	ASSERT_EQ(0, will_arm(fd, 1, "will.a", "first"));
	ASSERT_EQ(0, will_arm(fd, 1, "will.b", "second"));	/* replaces */
	ASSERT_EQ(0, will_arm(fd, 2, "will.c", "other"));
	ASSERT_EQ(0, will_arm(fd, 0, "will.z", "scope 0"));
	EXPECT_EQ(-ENOENT, will_clear(fd, 3));
	EXPECT_EQ(-ENOENT, will_clear(fd, ~0ULL));
	ASSERT_EQ(0, will_clear(fd, 2));
	EXPECT_EQ(-ENOENT, will_clear(fd, 2));
	ASSERT_EQ(0, will_clear(fd, 0));
	/* Another file's scope is not this file's. */
	EXPECT_EQ(-ENOENT, will_clear(other, 1));
	close(other);
	/* Arming publishes nothing. */
	WANT_NONE(self->sub, "arming");
	EXPECT_EQ(0, bus_seq(self->own));
	rd_close(fd);
	WANT_WILL(self->sub, &e, "will.b", "second", "the replacement");
	EXPECT_EQ(1, e.seq);
	WANT_NONE(self->sub, "the replaced and the cleared ones");
	EXPECT_EQ(1, bus_seq(self->own));
}

/* CLEAR with any other field set is EINVAL, and the will stays armed. */
TEST_F(will, clear_with_anything_else_is_einval)
{
	static const char *const what[] = {
		"topic", "topic_len", "payload", "payload_len", "type", "corr",
		"parent", "reserved", "flags bit 1", "flags bit 31",
	};
	struct evbus_will w;
	struct ev e;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 7, "will.x", "kept"));
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		will_init(&w, 7, NULL, NULL, 0);
		w.flags = EVBUS_WILL_CLEAR;
		switch (i) {
		case 0: w.topic = (uintptr_t)"will.x"; break;
		case 1: w.topic_len = 6; break;
		case 2: w.payload = (uintptr_t)"kept"; break;
		case 3: w.payload_len = 4; break;
		case 4: w.type = 1; break;
		case 5: w.corr = 1; break;
		case 6: w.parent = 1; break;
		case 7: w.reserved = 1; break;
		case 8: w.flags |= 1U << 1; break;
		default: w.flags |= 1U << 31; break;
		}
		EXPECT_EQ(-EINVAL, will_raw(fd, &w)) TH_LOG("CLEAR with %s", what[i]);
	}
	/* A full will with CLEAR: EINVAL too. */
	will_init(&w, 7, "will.x", "kept", 4);
	w.flags = EVBUS_WILL_CLEAR;
	EXPECT_EQ(-EINVAL, will_raw(fd, &w));
	rd_close(fd);
	WANT_WILL(self->sub, &e, "will.x", "kept", "still armed");
	WANT_NONE(self->sub, "one will");
}

/* ============================================================== firing */

struct armer {
	int fd;
	int ret;
	pid_t tid;
};

static void *arm_main(void *arg)
{
	struct armer *a = arg;

	static const char pay[] = "payload\0with a NUL";
	struct evbus_will w;

	a->tid = gettid();
	will_init(&w, 42, "will.close", pay, sizeof(pay) - 1);
	w.type = 0xdeadbeef;
	w.corr = 0x1122334455667788ULL;
	w.parent = 77;
	a->ret = will_raw(a->fd, &w);
	return NULL;
}

/*
 * close(): exactly the fields given, EVBUS_EVENT_WILL, the process and
 * thread that armed it, numbered and kept in the history.
 */
TEST_F(will, fires_on_close_exactly)
{
	struct evbus_bus_stats b0, bs;
	struct evbus_subscribe s;
	struct armer a = { 0 };
	pthread_t th;
	struct ev e;
	int fd, late;

	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, evt_pub(self->own, "will.before", "x"));
	a.fd = fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, arm_main, &a));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, a.ret) TH_LOG("WILL: %s", strerror(-a.ret));
	ASSERT_NE(getpid(), a.tid);
	WANT_EV(self->sub, &e, "will.before");
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	rd_close(fd);
	WANT_EV(self->sub, &e, "the will");
	EXPECT_EQ(2, e.seq);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.flags);
	EXPECT_STREQ("will.close", e.topic);
	EXPECT_EQ(10, e.topic_len);
	EXPECT_EQ(sizeof("payload\0with a NUL") - 1, e.payload_len);
	EXPECT_EQ(0, memcmp(e.raw, "payload\0with a NUL", e.payload_len));
	EXPECT_EQ(0xdeadbeef, e.type);
	EXPECT_EQ(0x1122334455667788ULL, e.corr);
	EXPECT_EQ(77, e.parent);
	EXPECT_EQ(getpid(), e.pid);
	EXPECT_EQ(a.tid, e.tid);
	EXPECT_EQ(geteuid(), e.uid);
	EXPECT_EQ(getegid(), e.gid);
	WANT_NONE(self->sub, "one will");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.seq);
	EXPECT_EQ(b0.published + 1, bs.published);
	EXPECT_EQ(b0.published_bytes + e.payload_len, bs.published_bytes);

	/* Kept in the history like any publish. */
	late = evt_sf_open();
	ASSERT_LE(0, late);
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_SINCE;
	s.since = 2;
	ASSERT_LT(0, evt_sub2(late, "will.>", &s));
	WANT_EV(late, &e, "the will replayed");
	EXPECT_EQ(2, e.seq);
	EXPECT_TRUE(e.flags & EVBUS_EVENT_REPLAYED);
	EXPECT_STREQ("will.close", e.topic);
	EXPECT_EQ(a.tid, e.tid);
	EXPECT_EQ(0xdeadbeef, e.type);
	rd_close(late);
}

/*
 * Replayed from the history, a will is still a will: EVBUS_EVENT_WILL
 * with EVBUS_EVENT_REPLAYED (a reader catching up after a crash must
 * tell the kernel's Failed from the process's own).
 */
TEST_F(will, replayed_will_keeps_its_flag)
{
	struct evbus_subscribe s;
	struct ev e;
	int fd = evt_sf_open(), late;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 1, "will.kept", "k"));
	ASSERT_EQ(1, evt_pub(self->own, "will.plain", "p"));
	rd_close(fd);
	WANT_EV(self->sub, &e, "will.plain");
	WANT_WILL(self->sub, &e, "will.kept", "k", "live");
	late = evt_sf_open();
	ASSERT_LE(0, late);
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_SINCE;
	s.since = 1;
	ASSERT_LT(0, evt_sub2(late, "will.>", &s));
	WANT_EV(late, &e, "the plain event replayed");
	EXPECT_EQ(EVBUS_EVENT_REPLAYED, e.flags);
	WANT_EV(late, &e, "the will replayed");
	EXPECT_STREQ("will.kept", e.topic);
	EXPECT_EQ(EVBUS_EVENT_WILL | EVBUS_EVENT_REPLAYED, e.flags)
		TH_LOG("a replayed will lost EVBUS_EVENT_WILL");
	rd_close(late);
}

/*
 * In a uid-1000 child: open, arm a will on will.<how>, then end as told:
 * 0 exit(), 1 close() and wait for SIGKILL, 2 wait for SIGKILL, 3 clear
 * and exit(), 4 clear and wait for SIGKILL.  The child writes 1 to ready
 * once armed.
 */
static pid_t will_child(int how, int ready)
{
	static const char *const topics[] = {
		"will.exit", "will.closed", "will.killed", "will.cleared",
		"will.cleared.killed",
	};
	pid_t pid = fork();
	int fd;
	char c = 1;

	if (pid)
		return pid;
	alarm(30);
	if (evt_become(&U1000))
		_exit(2);
	fd = evt_open();
	if (fd < 0)
		_exit(3);
	if (will_arm_full(fd, 1, topics[how], "gone", 5, 6, 7))
		_exit(4);
	if ((how == 3 || how == 4) && will_clear(fd, 1))
		_exit(5);
	if (how == 1)
		close(fd);
	if (write(ready, &c, 1) != 1)
		_exit(6);
	if (how == 0 || how == 3)
		_exit(0);
	for (;;)
		pause();
}

/* exit(), close() in the child and SIGKILL: each fires, as the child. */
TEST_F(will, fires_on_exit_close_and_sigkill)
{
	static const char *const topics[] = { "will.exit", "will.closed", "will.killed" };
	int p[2];
	pid_t pid;
	struct ev e;
	char c;

	for (int how = 0; how < 3; how++) {
		ASSERT_EQ(0, pipe(p));
		pid = will_child(how, p[1]);
		ASSERT_LT(0, pid);
		close(p[1]);
		ASSERT_EQ(1, read(p[0], &c, 1)) TH_LOG("child %d broke", how);
		close(p[0]);
		if (how == 1) {
			/* Closed while the child lives on. */
			WANT_WILL(self->sub, &e, topics[how], "gone", topics[how]);
			kill(pid, SIGKILL);
			EXPECT_EQ(128 + SIGKILL, evt_wait(pid));
		} else if (how == 2) {
			WANT_NONE(self->sub, "alive, not fired");
			kill(pid, SIGKILL);
			EXPECT_EQ(128 + SIGKILL, evt_wait(pid));
			WANT_WILL(self->sub, &e, topics[how], "gone", topics[how]);
		} else {
			EXPECT_EQ(0, evt_wait(pid));
			WANT_WILL(self->sub, &e, topics[how], "gone", topics[how]);
		}
		EXPECT_EQ(pid, e.pid) TH_LOG("%s", topics[how]);
		EXPECT_EQ(pid, e.tid) TH_LOG("%s", topics[how]);
		EXPECT_EQ(1000, e.uid) TH_LOG("%s", topics[how]);
		EXPECT_EQ(1000, e.gid) TH_LOG("%s", topics[how]);
		EXPECT_EQ(5, e.type);
		EXPECT_EQ(6, e.corr);
		EXPECT_EQ(7, e.parent);
		EXPECT_EQ(how + 1, e.seq);
		WANT_NONE(self->sub, "one will each");
	}
}

/* A cleared will never fires: close, exit or SIGKILL. */
TEST_F(will, not_when_cleared)
{
	int p[2], fd;
	pid_t pid;
	char c;

	for (int how = 3; how <= 4; how++) {
		ASSERT_EQ(0, pipe(p));
		pid = will_child(how, p[1]);
		ASSERT_LT(0, pid);
		close(p[1]);
		ASSERT_EQ(1, read(p[0], &c, 1)) TH_LOG("child %d broke", how);
		close(p[0]);
		if (how == 4)
			kill(pid, SIGKILL);
		evt_wait(pid);
		WANT_NONE(self->sub, "cleared");
	}
	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 9, "will.x", "no"));
	ASSERT_EQ(0, will_clear(fd, 9));
	/* Cleared, armed again, cleared again. */
	ASSERT_EQ(0, will_arm(fd, 9, "will.y", "no"));
	ASSERT_EQ(0, will_clear(fd, 9));
	rd_close(fd);
	WANT_NONE(self->sub, "cleared");
	EXPECT_EQ(0, bus_seq(self->own));
}

/*
 * fork(): the will belongs to the open file.  A uid-1000 child arms it
 * and forks a grandchild that keeps the descriptor; the child closes its
 * own and exits: nothing.  The grandchild's exit drops the last one: the
 * will fires, as sent by the child that armed it.
 */
TEST_F(will, after_fork_fires_when_the_last_descriptor_goes)
{
	int ready[2], go[2];
	pid_t child, *gc = evt_shared(sizeof(pid_t));
	struct ev e;
	char c;

	ASSERT_NE(NULL, gc);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		pid_t g;
		int fd;

		alarm(30);
		close(ready[0]);
		close(go[1]);
		if (evt_become(&U1000))
			_exit(2);
		fd = evt_open();
		if (fd < 0 || will_arm_full(fd, 3, "will.forked", "fork", 1, 2, 3))
			_exit(3);
		g = fork();
		if (g < 0)
			_exit(4);
		if (!g) {
			/* The grandchild: keeps fd until told. */
			if (read(go[0], &c, 1) != 1)
				_exit(5);
			_exit(0);
		}
		*gc = g;
		close(fd);
		if (write(ready[1], &c, 1) != 1)
			_exit(6);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, evt_wait(child));
	WANT_NONE(self->sub, "the grandchild still holds the file");
	ASSERT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	close(ready[0]);
	/* The grandchild is not ours to wait for: it was reparented. */
	WANT_WILL(self->sub, &e, "will.forked", "fork", "the last descriptor gone");
	EXPECT_EQ(child, e.pid);
	EXPECT_EQ(child, e.tid);
	EXPECT_NE(*gc, e.pid);
	EXPECT_EQ(1000, e.uid);
	EXPECT_EQ(1000, e.gid);
	EXPECT_EQ(1, e.type);
	EXPECT_EQ(2, e.corr);
	EXPECT_EQ(3, e.parent);
	WANT_NONE(self->sub, "once");
}

/*
 * fork() the other way: the test process arms and forks; its own close()
 * fires nothing while the child holds the file; the child's close does.
 */
TEST_F(will, after_fork_the_childs_close_fires_the_parents_will)
{
	int go[2], fd;
	pid_t child;
	struct ev e;
	char c;

	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 1, "will.parent", "p"));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		/* Clearing from the child works on the shared file too. */
		_exit(0);
	}
	close(go[0]);
	rd_close(fd);
	WANT_NONE(self->sub, "the child still holds the file");
	ASSERT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	ASSERT_EQ(0, evt_wait(child));
	WANT_WILL(self->sub, &e, "will.parent", "p", "the child's exit");
	EXPECT_EQ(getpid(), e.pid);
	EXPECT_EQ(gettid(), e.tid);
	EXPECT_EQ(0, e.uid);
}

/*
 * SCM_RIGHTS: a uid-1000 child arms a will and passes the file to the
 * test process, then exits: nothing.  The test process's close() fires
 * it, as sent by the (dead) child, with its uid.
 */
TEST_F(will, after_scm_rights_fires_on_the_receivers_close)
{
	int sv[2], fd, val = 0;
	pid_t child;
	struct ev e;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		alarm(30);
		close(sv[0]);
		if (evt_become(&U1000))
			_exit(2);
		fd = evt_open();
		if (fd < 0 || will_arm_full(fd, 1, "will.passed", "scm", 9, 8, 7))
			_exit(3);
		_exit(evt_send_fd(sv[1], fd, 0) ? 4 : 0);
	}
	close(sv[1]);
	fd = evt_recv_fd(sv[0], &val);
	close(sv[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_wait(child));
	WANT_NONE(self->sub, "the receiver holds the file");
	/* The receiver may clear nothing of another scope, and arm its own. */
	EXPECT_EQ(-ENOENT, will_clear(fd, 2));
	close(fd);
	WANT_WILL(self->sub, &e, "will.passed", "scm", "the receiver's close");
	EXPECT_EQ(child, e.pid);
	EXPECT_EQ(child, e.tid);
	EXPECT_EQ(1000, e.uid);
	EXPECT_EQ(1000, e.gid);
	EXPECT_EQ(9, e.type);
	EXPECT_EQ(8, e.corr);
	EXPECT_EQ(7, e.parent);
	WANT_NONE(self->sub, "once");
}

/* A file's wills go out last armed first, one seq after another. */
TEST_F(will, last_armed_first)
{
	static const char *const order[] = { "will.nine", "will.three", "will.five" };
	struct ev e;
	uint64_t seq0;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 5, "will.five", "5"));
	ASSERT_EQ(0, will_arm(fd, 3, "will.three", "3"));
	ASSERT_EQ(0, will_arm(fd, 1, "will.one", "1"));
	ASSERT_EQ(0, will_arm(fd, 9, "will.nine", "9"));
	ASSERT_EQ(0, will_clear(fd, 1));
	ASSERT_EQ(1, evt_pub(self->own, "will.mark", "m"));
	WANT_EV(self->sub, &e, "mark");
	seq0 = e.seq;
	rd_close(fd);
	for (int i = 0; i < 3; i++) {
		WANT_EV(self->sub, &e, order[i]);
		EXPECT_STREQ(order[i], e.topic);
		EXPECT_EQ(EVBUS_EVENT_WILL, e.flags);
		EXPECT_EQ(seq0 + 1 + i, e.seq);
	}
	WANT_NONE(self->sub, "three");
}

/*
 * A will is published as any event: filtered by subscriptions, never
 * asking an approver even on a topic one watches.
 */
TEST_F(will, never_asks_and_is_filtered)
{
	struct evbus_subscribe s;
	struct evbus_approver ap;
	struct ev e;
	int appr, typed, fd;

	appr = evt_sf_open();
	typed = evt_sf_open();
	fd = evt_sf_open();
	ASSERT_LE(0, appr);
	ASSERT_LE(0, typed);
	ASSERT_LE(0, fd);
	memset(&ap, 0, sizeof(ap));
	ap.pattern = (uintptr_t)"gate.>";
	ap.pattern_len = 6;
	ap.deflt = EVBUS_DENY;
	ASSERT_EQ(0, ioctl(appr, EVBUS_IOC_APPROVER_ADD, &ap));
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_TYPE;
	s.type_min = s.type_max = 2;
	ASSERT_LT(0, evt_sub2(typed, "gate.>", &s));
	ASSERT_EQ(0, will_arm_full(fd, 1, "gate.x", "one", 1, 0, 0));
	ASSERT_EQ(0, will_arm_full(fd, 2, "gate.y", "two", 2, 0, 0));
	rd_close(fd);
	WANT_WILL(self->sub, &e, "gate.y", "two", "not asked");
	WANT_WILL(self->sub, &e, "gate.x", "one", "not asked");
	WANT_NONE(appr, "the approver is not asked");
	WANT_WILL(typed, &e, "gate.y", "two", "type 2 only");
	WANT_NONE(typed, "type 1 filtered");
	rd_close(typed);
	rd_close(appr);
}

/* ========================================================= permissions */

struct denied {
	uint64_t file_id;
	uint32_t right, cause, rule_id;
	char topic[EVBUS_TOPIC_MAX + 1];
	uint32_t uid;
};

static void want_denied(struct __test_metadata *_metadata, int fd,
			struct denied *d)
{
	const struct evbus_sys_denied *sd;
	struct ev e;

	WANT_EV(fd, &e, "$sys.policy.denied");
	EXPECT_STREQ("$sys.policy.denied", e.topic);
	ASSERT_LE(sizeof(*sd), e.payload_len);
	ASSERT_GE(PMAX, e.payload_len);
	sd = (const void *)e.raw;
	memset(d, 0, sizeof(*d));
	d->file_id = sd->file_id;
	d->right = sd->right;
	d->cause = sd->cause;
	d->rule_id = sd->rule_id;
	d->uid = e.uid;
	EXPECT_EQ(sizeof(*sd) + sd->topic_len, e.payload_len);
	if (sd->topic_len <= EVBUS_TOPIC_MAX && sizeof(*sd) + sd->topic_len <= e.payload_len)
		memcpy(d->topic, sd->topic, sd->topic_len);
}

#define WANT_DENIED(mon, fid, cause_, rule_, topic_) do {		\
	struct denied _d;						\
	want_denied(_metadata, mon, &_d);				\
	EXPECT_EQ((uint64_t)(fid), _d.file_id) TH_LOG("%s", topic_);	\
	EXPECT_EQ(EVBUS_RIGHT_PUBLISH, _d.right) TH_LOG("%s", topic_);	\
	EXPECT_EQ(cause_, _d.cause) TH_LOG("%s", topic_);		\
	EXPECT_EQ((uint32_t)(rule_), _d.rule_id) TH_LOG("%s", topic_);	\
	EXPECT_STREQ(topic_, _d.topic);					\
} while (0)

/*
 * As uid 1000 under a default of deny and a deny rule: EACCES, counted
 * by cause and announced; an allow rule lets it arm; the policy is
 * checked when arming only, so a will armed before a deny rule fires.
 */
TEST_F(will, permission_denied_at_registration)
{
	struct evbus_bus_stats b0, bs;
	long long uid_file;
	int u, mon, rule;
	struct ev e;

	mon = sub_open("$sys.policy.denied");
	u = evt_open_as(&U1000);
	ASSERT_LE(0, mon);
	ASSERT_LE(0, u);
	uid_file = evt_file_id(u);
	ASSERT_LT(0, uid_file);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, will_arm(u, 1, "app.x", "no"));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_default + 1, bs.denied_default);
	EXPECT_EQ(b0.denied_rule, bs.denied_rule);
	WANT_DENIED(mon, uid_file, EVBUS_DENY_DEFAULT, 0, "app.x");
	/* Refused: nothing armed for that scope. */
	EXPECT_EQ(-ENOENT, will_clear(u, 1));

	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.>", 0));
	rule = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
			      EVBUS_WHO_UID, 1000, "app.secret.>", 0);
	ASSERT_LT(0, rule);
	/* The subscribe right is not the publish right. */
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "sub.>", 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, will_arm(u, 1, "app.secret.x", "no"));
	WANT_DENIED(mon, uid_file, EVBUS_DENY_RULE, rule, "app.secret.x");
	EXPECT_EQ(-EACCES, will_arm(u, 1, "sub.x", "no"));
	WANT_DENIED(mon, uid_file, EVBUS_DENY_DEFAULT, 0, "sub.x");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_rule + 1, bs.denied_rule);
	EXPECT_EQ(b0.denied_default + 1, bs.denied_default);
	/* A refused replacement leaves the armed will as it was. */
	ASSERT_EQ(0, will_arm(u, 1, "app.ok", "yes"));
	EXPECT_EQ(-EACCES, will_arm(u, 1, "app.secret.y", "no"));
	WANT_DENIED(mon, uid_file, EVBUS_DENY_RULE, rule, "app.secret.y");
	/* Checked when arming only: a deny rule added later does not stop it. */
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.ok", 0));
	WANT_NONE(self->sub, "nothing published yet");
	rd_close(u);
	WANT_WILL(self->sub, &e, "app.ok", "yes", "armed when allowed");
	WANT_NONE(self->sub, "one will");
	WANT_NONE(mon, "no refusal at firing");
	rd_close(mon);
}

/* $sys.*: EACCES for root too, counted as denied_reserved. */
TEST_F(will, sys_topics_are_refused)
{
	static const char *const sys[] = {
		"$sys.file.close", "$sys.policy.denied", "$sys.will", "$sys",
	};
	struct evbus_bus_stats b0, bs;
	int mon = sub_open("$sys.policy.denied"), fd = evt_sf_open();
	long long fid = evt_file_id(fd);

	ASSERT_LE(0, mon);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		EXPECT_EQ(-EACCES, will_arm(fd, i, sys[i], "x")) TH_LOG("%s", sys[i]);
		WANT_DENIED(mon, fid, EVBUS_DENY_RESERVED, 0, sys[i]);
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_reserved + 4, bs.denied_reserved);
	/* Invalid anywhere else. */
	EXPECT_EQ(-EINVAL, will_arm(fd, 9, "a.$sys", "x"));
	rd_close(fd);
	WANT_NONE(self->sub, "nothing armed");
	rd_close(mon);
}

/* A scoped file arms wills within its publish scope only. */
TEST_F(will, outside_the_publish_scope_is_refused)
{
	struct evbus_bus_stats b0, bs;
	int mon = sub_open("$sys.policy.denied"), fd = evt_sf_open();
	int none = evt_sf_open();
	long long fid = evt_file_id(fd);
	struct ev e;

	ASSERT_LE(0, mon);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, none);
	/* Subscribing to job.> is not publishing there. */
	ASSERT_EQ(0, evt_narrow1(fd, "app.>", "job.>"));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, will_arm(fd, 1, "job.x", "no"));
	WANT_DENIED(mon, fid, EVBUS_DENY_SCOPE, 0, "job.x");
	EXPECT_EQ(-EACCES, will_arm(fd, 1, "app", "no"));
	WANT_DENIED(mon, fid, EVBUS_DENY_SCOPE, 0, "app");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(b0.denied_scope + 2, bs.denied_scope);
	ASSERT_EQ(0, will_arm(fd, 1, "app.x", "yes"));
	/* An empty publish set: nothing at all. */
	ASSERT_EQ(0, evt_narrow(none, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	EXPECT_EQ(-EACCES, will_arm(none, 1, "app.x", "no"));
	WANT_DENIED(mon, evt_file_id(none), EVBUS_DENY_SCOPE, 0, "app.x");
	rd_close(none);
	rd_close(fd);
	WANT_WILL(self->sub, &e, "app.x", "yes", "within the scope");
	WANT_NONE(self->sub, "one will");
	rd_close(mon);
}

/*
 * A topic an EVBUS_ASK rule covers (for the caller): EACCES, announced
 * with EVBUS_DENY_ASK; other topics and other users are not the rule's.
 */
TEST_F(will, ask_rule_topic_is_refused)
{
	int mon = sub_open("$sys.policy.denied"), fd = evt_sf_open(), u;
	long long fid = evt_file_id(fd), ufid;
	struct evbus_bus_stats b0, bs;
	struct ev e;

	ASSERT_LE(0, mon);
	ASSERT_LE(0, fd);
	u = evt_open_as(&U1000);
	ASSERT_LE(0, u);
	ufid = evt_file_id(u);
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "gate.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ASK, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "mine.>", 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EACCES, will_arm(fd, 1, "gate.x", "no"));
	WANT_DENIED(mon, fid, EVBUS_DENY_ASK, 0, "gate.x");
	EXPECT_EQ(-EACCES, will_arm(u, 1, "gate.y.z", "no"));
	WANT_DENIED(mon, ufid, EVBUS_DENY_ASK, 0, "gate.y.z");
	EXPECT_EQ(-EACCES, will_arm(u, 1, "mine.x", "no"));
	WANT_DENIED(mon, ufid, EVBUS_DENY_ASK, 0, "mine.x");
	/* Not the rule's subject, or outside its pattern. */
	ASSERT_EQ(0, will_arm(fd, 2, "mine.x", "root"));
	ASSERT_EQ(0, will_arm(fd, 3, "other.x", "free"));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	/* Refused by a rule (struct evbus_bus_stats has no ask counter). */
	EXPECT_EQ(b0.denied_rule + 3, bs.denied_rule);
	EXPECT_EQ(b0.denied_default, bs.denied_default);
	EXPECT_EQ(b0.denied_scope, bs.denied_scope);
	EXPECT_EQ(b0.denied_reserved, bs.denied_reserved);
	EXPECT_EQ(b0.approval_asked, bs.approval_asked);
	rd_close(u);
	WANT_NONE(self->sub, "uid 1000 armed nothing");
	rd_close(fd);
	WANT_WILL(self->sub, &e, "other.x", "free", "last armed first");
	WANT_WILL(self->sub, &e, "mine.x", "root", "root's");
	WANT_NONE(self->sub, "two");
	WANT_NONE(mon, "no more refusals");
	rd_close(mon);
}

/* ================================================================ caps */

/*
 * max_subs: wills and subscriptions share it.  ENOSPC changes nothing; a
 * replacement takes no new room; clearing and unsubscribing make room.
 */
TEST_F(will, wills_count_against_max_subs)
{
	struct evbus_stats st0, st1;
	struct ev e;
	int fd = evt_sf_open(), sid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_param_set("max_subs", 3));
	sid = evt_sub(fd, "a.x");
	ASSERT_LT(0, sid);
	ASSERT_EQ(0, will_arm(fd, 1, "will.one", "1"));
	ASSERT_EQ(0, will_arm(fd, 2, "will.two", "2"));
	ASSERT_EQ(0, evt_stats(fd, &st0));
	EXPECT_EQ(-ENOSPC, will_arm(fd, 3, "will.three", "3"));
	EXPECT_EQ(-ENOSPC, evt_sub(fd, "a.y"));
	ASSERT_EQ(0, evt_stats(fd, &st1));
	EXPECT_EQ(st0.subscriptions, st1.subscriptions);
	EXPECT_EQ(-ENOENT, will_clear(fd, 3));
	/* A replacement is not one more. */
	ASSERT_EQ(0, will_arm(fd, 2, "will.two", "2b"));
	/* Room made by an unsubscribe, then by a clear. */
	ASSERT_EQ(0, evt_unsub(fd, sid));
	ASSERT_EQ(0, will_arm(fd, 3, "will.three", "3"));
	EXPECT_EQ(-ENOSPC, evt_sub(fd, "a.y"));
	ASSERT_EQ(0, will_clear(fd, 1));
	EXPECT_LT(0, evt_sub(fd, "a.y"));
	EXPECT_EQ(-ENOSPC, will_arm(fd, 1, "will.one", "1"));
	rd_close(fd);
	WANT_WILL(self->sub, &e, "will.three", "3", "three");
	WANT_WILL(self->sub, &e, "will.two", "2b", "two replaced");
	WANT_NONE(self->sub, "those two only");
}

/* max_user_subs: a user's wills and subscriptions, across files. */
TEST_F(will, wills_count_against_max_user_subs)
{
	unsigned long long was;
	struct ev e;
	int u1, u2, ret;

	if (evt_param_get("max_user_subs", &was))
		SKIP(return, "no max_user_subs");
	u1 = evt_open_as(&U1000);
	u2 = evt_open_as(&U1000);
	ASSERT_LE(0, u1);
	ASSERT_LE(0, u2);
	ASSERT_EQ(0, evt_param_set("max_user_subs", 3));
	ASSERT_EQ(0, will_arm(u1, 1, "will.u1", "a"));
	ASSERT_LT(0, evt_sub(u2, "a.x"));
	ASSERT_EQ(0, will_arm(u2, 1, "will.u2", "b"));
	EXPECT_EQ(-ENOSPC, will_arm(u1, 2, "will.u1.more", "c"));
	EXPECT_EQ(-ENOSPC, evt_sub(u1, "a.y"));
	EXPECT_EQ(-ENOSPC, will_arm(u2, 2, "will.u2.more", "c"));
	/* A replacement takes no room. */
	EXPECT_EQ(0, will_arm(u1, 1, "will.u1", "a2"));
	/* Root is not uid 1000. */
	EXPECT_EQ(0, will_arm(self->own, 1, "will.root", "r"));
	EXPECT_EQ(0, will_clear(self->own, 1));
	/* A fired will gives its room back. */
	rd_close(u2);
	WANT_WILL(self->sub, &e, "will.u2", "b", "u2's");
	ret = will_arm(u1, 2, "will.u1.more", "c");
	EXPECT_EQ(0, ret);
	rd_close(u1);
	WANT_WILL(self->sub, &e, "will.u1.more", "c", "u1's second");
	WANT_WILL(self->sub, &e, "will.u1", "a2", "u1's first");
	WANT_NONE(self->sub, "nothing else");
}

/* A payload of max_payload arms; one byte more is EMSGSIZE. */
TEST_F(will, payload_past_max_payload_is_emsgsize)
{
	uint32_t max = self->max_payload;
	char *big = malloc(max + 1);
	struct evbus_will w;
	struct ev e;
	int fd = evt_sf_open(), big_sub = evt_sf_open();

	ASSERT_NE(NULL, big);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, big_sub);
	/* A ring big enough for the big one. */
	ASSERT_EQ(0, evt_set_ring(big_sub, 4 * (max + 4096) > (16u << 20) ?
				  16u << 20 : 4 * (max + 4096), 0));
	ASSERT_LT(0, evt_sub(big_sub, "will.big"));
	memset(big, 'p', max + 1);
	will_init(&w, 1, "will.big", big, max + 1);
	EXPECT_EQ(-EMSGSIZE, will_raw(fd, &w));
	EXPECT_EQ(-ENOENT, will_clear(fd, 1));
	will_init(&w, 1, "will.big", big, max);
	ASSERT_EQ(0, will_raw(fd, &w));
	/* A too big replacement leaves the will as it was. */
	will_init(&w, 1, "will.big", big, ~0U);
	EXPECT_EQ(-EMSGSIZE, will_raw(fd, &w));
	/* An empty payload, with a NULL pointer, is fine. */
	will_init(&w, 2, "will.empty", NULL, 0);
	ASSERT_EQ(0, will_raw(fd, &w));
	rd_close(fd);
	WANT_EV(big_sub, &e, "the big one");
	EXPECT_EQ(max, e.payload_len);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.flags);
	rd_close(big_sub);
	/* The root subscriber's default ring may have lost the big one. */
	for (;;) {
		ASSERT_EQ(1, next_rec(self->sub, &e, REC_MS));
		if (e.kind == EVBUS_REC_EVENT && !strcmp(e.topic, "will.empty"))
			break;
	}
	EXPECT_EQ(EVBUS_EVENT_WILL, e.flags);
	EXPECT_EQ(0, e.payload_len);
	free(big);
}

/*
 * Bad sizes, flags, reserved fields, lengths and pointers: EINVAL, E2BIG,
 * EFAULT, and the will armed on that scope is left as it was.
 */
TEST_F(will, bad_arguments_change_nothing)
{
	char wbuf[4096 + 64];
	struct evbus_will w, *wb = (void *)wbuf;
	void *bad;
	struct ev e;
	int fd, u;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	fd = evt_sf_open();
	u = evt_open_as(&U1000);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, u);

	for (int who = 0; who < 2; who++) {
		int f = who ? u : fd;

		ASSERT_EQ(0, will_arm_full(f, 1, who ? "will.u" : "will.root",
					   "orig", 1, 2, 3));
#define BAD(err, arg, what) \
	EXPECT_EQ(-(err), will_raw(f, arg)) TH_LOG("%s (uid %d)", what, who ? 1000 : 0)
#define W(topic) will_init(&w, 1, topic, "new", 3)

		W("will.new"); w.flags = 1U << 1;	BAD(EINVAL, &w, "flags bit 1");
		W("will.new"); w.flags = 1U << 31;	BAD(EINVAL, &w, "flags bit 31");
		W("will.new"); w.reserved = 1;		BAD(EINVAL, &w, "reserved");
		W("will.new"); w.topic_len = 0;		BAD(EINVAL, &w, "topic_len 0");
		W("will.new"); w.topic_len = EVBUS_TOPIC_MAX + 1;
		BAD(EINVAL, &w, "topic_len 256");
		W("will..new");				BAD(EINVAL, &w, "empty segment");
		W("will.*");				BAD(EINVAL, &w, "a wildcard '*'");
		W("will.>");				BAD(EINVAL, &w, "a wildcard '>'");
		W(".will");				BAD(EINVAL, &w, "leading dot");
		W("will.new"); w.topic = (uintptr_t)bad; BAD(EFAULT, &w, "topic unmapped");
		W("will.new"); w.topic = 0;		BAD(EFAULT, &w, "topic NULL");
		W("will.new"); w.payload = (uintptr_t)bad; BAD(EFAULT, &w, "payload unmapped");
		W("will.new"); w.payload = 0;		BAD(EFAULT, &w, "payload NULL, len 3");
		W("will.new"); w.payload = (uintptr_t)bad - 1;
		w.payload_len = 2;			BAD(EFAULT, &w, "payload into a hole");
		/* Size-versioned. */
		W("will.new"); w.size = 0;		BAD(EINVAL, &w, "size 0");
		W("will.new"); w.size = EVBUS_WILL_SIZE_VER0 - 8;
		BAD(EINVAL, &w, "size VER0 - 8");
		W("will.new"); w.size = EVBUS_WILL_SIZE_VER0 - 1;
		BAD(EINVAL, &w, "size VER0 - 1");
		memset(wbuf, 0, sizeof(wbuf));
		will_init(wb, 1, "will.new", "new", 3);
		wb->size = EVBUS_WILL_SIZE_VER0 + 8;
		wbuf[EVBUS_WILL_SIZE_VER0 + 5] = 1;
		BAD(E2BIG, wbuf, "nonzero byte in a tail of 8");
		wbuf[EVBUS_WILL_SIZE_VER0 + 5] = 0;
		wb->size = 4096;
		wbuf[4095] = 1;
		BAD(E2BIG, wbuf, "nonzero last byte of a page-sized struct");
		wbuf[4095] = 0;
		wb->size = 4097;
		BAD(E2BIG, wbuf, "larger than a page, zero tail");
		wb->size = ~0U;
		BAD(E2BIG, wbuf, "size ~0");
		BAD(EFAULT, NULL, "NULL");
		BAD(EFAULT, bad, "unmapped");
		/* CLEAR on a bad struct. */
		will_init(&w, 1, NULL, NULL, 0);
		w.flags = EVBUS_WILL_CLEAR;
		w.size = 0;
		BAD(EINVAL, &w, "CLEAR with size 0");
#undef W
#undef BAD
	}
	/* A larger struct with a zero tail is valid: scope 2. */
	memset(wbuf, 0, sizeof(wbuf));
	will_init(wb, 2, "will.tail", "t", 1);
	wb->size = EVBUS_WILL_SIZE_VER0 + 8;
	ASSERT_EQ(0, will_raw(fd, wbuf));
	wb->size = 4096;
	wb->scope = 3;
	ASSERT_EQ(0, will_raw(fd, wbuf));
	ASSERT_EQ(0, will_clear(fd, 3));
	WANT_NONE(self->sub, "nothing published");

	rd_close(u);
	WANT_WILL(self->sub, &e, "will.u", "orig", "uid 1000's file's, unchanged");
	EXPECT_EQ(1, e.type);
	EXPECT_EQ(2, e.corr);
	EXPECT_EQ(3, e.parent);
	/* Sent as the process that armed it (root), not the file's opener. */
	EXPECT_EQ(0, e.uid);
	EXPECT_EQ(getpid(), e.pid);
	rd_close(fd);
	WANT_WILL(self->sub, &e, "will.tail", "t", "the larger struct's");
	WANT_WILL(self->sub, &e, "will.root", "orig", "root's, unchanged");
	EXPECT_EQ(1, e.type);
	WANT_NONE(self->sub, "nothing else");
	munmap(bad, 4096);
}

/* An O_RDONLY file may not arm a will: EBADF, as for publishing. */
TEST_F(will, needs_a_file_open_for_writing)
{
	int ro = open(EVBUS_DEV, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int64_t pub;

	ASSERT_LE(0, ro);
	pub = evt_pub(ro, "will.ro", "x");
	EXPECT_EQ(pub, (int64_t)will_arm(ro, 1, "will.ro", "x"))
		TH_LOG("WILL on O_RDONLY should fail as PUBLISH does (%s)",
		       strerror((int)-pub));
	rd_close(ro);
	WANT_NONE(self->sub, "nothing");
}

/* ============================================================= fdinfo */

/* The "evbus-will:" lines of fd's fdinfo, concatenated: 0 or -errno. */
static int will_lines(int fd, char *out, size_t cap)
{
	return evt_fdinfo_lines(fd, "evbus-will:", out, cap);
}

/* fdinfo shows one "evbus-will:\t<scope> <topic>" line per armed will. */
TEST_F(will, fdinfo_lines)
{
	char text[4096];
	struct ev e;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_lines(fd, text, sizeof(text)));
	EXPECT_STREQ("", text);
	ASSERT_EQ(0, will_arm(fd, 5, "will.a", "secret payload"));
	ASSERT_EQ(0, will_arm(fd, ~0ULL, "will.b", "b"));
	ASSERT_EQ(0, will_lines(fd, text, sizeof(text)));
	EXPECT_NE(NULL, strstr(text, "evbus-will:\t5 will.a\n")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "evbus-will:\t18446744073709551615 will.b\n"))
		TH_LOG("%s", text);
	EXPECT_EQ(NULL, strstr(text, "secret")) TH_LOG("the payload is shown");
	EXPECT_EQ(strlen("evbus-will:\t5 will.a\n") +
		  strlen("evbus-will:\t18446744073709551615 will.b\n"), strlen(text));
	/* A replacement shows its new topic; a cleared will goes. */
	ASSERT_EQ(0, will_arm(fd, 5, "will.c", "c"));
	ASSERT_EQ(0, will_clear(fd, ~0ULL));
	ASSERT_EQ(0, will_lines(fd, text, sizeof(text)));
	EXPECT_STREQ("evbus-will:\t5 will.c\n", text);
	rd_close(fd);
	WANT_WILL(self->sub, &e, "will.c", "c", "the one left");
}

/* ============================================================ counters */

/* /sys/kernel/evbus/stats/wills (armed now) and wills_fired, if there. */
TEST_F(will, sysfs_counters)
{
	long long w0 = evt_sysfs_stat("wills"), f0 = evt_sysfs_stat("wills_fired");
	struct ev e;
	int fd = evt_sf_open();

	if (w0 < 0 && f0 < 0)
		SKIP(return, "no wills / wills_fired counters in sysfs");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, will_arm(fd, 1, "will.a", "a"));
	ASSERT_EQ(0, will_arm(fd, 2, "will.b", "b"));
	ASSERT_EQ(0, will_arm(fd, 2, "will.b", "b2"));
	ASSERT_EQ(0, will_arm(fd, 3, "will.c", "c"));
	if (w0 >= 0)
		EXPECT_EQ(w0 + 3, evt_sysfs_stat("wills"));
	ASSERT_EQ(0, will_clear(fd, 3));
	EXPECT_EQ(-EACCES, will_arm(fd, 4, "$sys.x", "no"));
	if (w0 >= 0)
		EXPECT_EQ(w0 + 2, evt_sysfs_stat("wills"));
	if (f0 >= 0)
		EXPECT_EQ(f0, evt_sysfs_stat("wills_fired"));
	rd_close(fd);
	WANT_EV(self->sub, &e, "b");
	WANT_EV(self->sub, &e, "a");
	if (w0 >= 0)
		EXPECT_EQ(w0, evt_sysfs_stat("wills"));
	if (f0 >= 0)
		EXPECT_EQ(f0 + 2, evt_sysfs_stat("wills_fired"));
}

TEST_HARNESS_MAIN
