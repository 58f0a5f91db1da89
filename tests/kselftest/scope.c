// SPDX-License-Identifier: GPL-2.0
/*
 * Scoped handles: EVBUS_IOC_NARROW (#13).
 *
 * A file narrowed to session.42.> can never widen again, whoever holds
 * it: widening is EACCES and leaves the scope as it was (fdinfo's
 * evbus-scope lines are compared byte for byte); subscribing or publishing
 * outside the scope is EACCES, counted in the bus's denied_scope, creates
 * no subscription, delivers nothing and takes no sequence number.  The
 * same holds for a handle passed over SCM_RIGHTS to a process that dropped
 * to uid 65534, and a scoped handle of root's cannot change the policy.
 * KEEP_PUBLISH / KEEP_SUBSCRIBE, narrowing to subsets of up to
 * EVBUS_SCOPE_MAX patterns, subscriptions outside a new scope (EBUSY) and
 * malformed requests (exact errno, nothing changed) are covered too.
 *
 * Every test runs on a bus of its own (a new IPC namespace), so the bus's
 * counters and sequence numbers start at zero and are asserted exactly.
 */
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define GUEST_UID	65534
#define SCOPE		"session.42.>"
#define MAXGOT		64

/* ------------------------------------------------------------ helpers */

/* A policy rule (the owner's EVBUS_IOC_POLICY_ADD): the id or -errno. */
static int scope_policy_add(int fd, uint32_t verdict, uint32_t rights,
			    uint32_t who, uint32_t id, const char *pattern)
{
	struct evbus_rule r;

	memset(&r, 0, sizeof(r));
	r.pattern = (uintptr_t)pattern;
	r.pattern_len = strlen(pattern);
	r.verdict = verdict;
	r.rights = rights;
	r.who = who;
	r.id_value = id;
	if (ioctl(fd, EVBUS_IOC_POLICY_ADD, &r))
		return -errno;
	return (int)r.id;
}

static int scope_policy_set(int fd, uint32_t op, uint32_t verdict, uint32_t id)
{
	struct evbus_policy_set ps;

	memset(&ps, 0, sizeof(ps));
	ps.op = op;
	ps.verdict = verdict;
	ps.id = id;
	return ioctl(fd, EVBUS_IOC_POLICY_SET, &ps) ? -errno : 0;
}

/* Publish a batch of topics (no payload): the ioctl's result or -errno. */
static long scope_pub_batch(int fd, const char *const *topics, uint32_t n,
			    struct evbus_pub_batch *b)
{
	struct evbus_pub ev[8];
	long ret;

	memset(ev, 0, sizeof(ev));
	for (uint32_t i = 0; i < n && i < 8; i++) {
		ev[i].topic = (uintptr_t)topics[i];
		ev[i].topic_len = strlen(topics[i]);
	}
	memset(b, 0, sizeof(*b));
	b->events = (uintptr_t)ev;
	b->count = n;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, b);
	return ret < 0 ? -errno : ret;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = "F", .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Assert the scope text of fd is exactly want. */
#define ASSERT_SCOPE(fd, want) do {					\
	char _t[4096];							\
	ASSERT_EQ(0, evt_scope_text(fd, _t, sizeof(_t)));		\
	EXPECT_STREQ(want, _t);						\
} while (0)

#define SCOPE_42 "evbus-scope:\tpublish session.42.>\n" \
		 "evbus-scope:\tsubscribe session.42.>\n"

FIXTURE(scope) {
	int w;		/* an unscoped watcher subscribed to ">" */
	int f;		/* the file under test, narrowed to session.42.> */
};

FIXTURE_SETUP(scope)
{
	ASSERT_EQ(0, evt_sf_new_bus());
	self->w = evt_sf_open();
	ASSERT_LE(0, self->w);
	ASSERT_LT(0, evt_sub(self->w, ">"));
	self->f = evt_sf_open();
	ASSERT_LE(0, self->f);
	ASSERT_SCOPE(self->f, "");
	ASSERT_EQ(0, evt_narrow1(self->f, SCOPE, SCOPE));
	ASSERT_SCOPE(self->f, SCOPE_42);
}

FIXTURE_TEARDOWN(scope)
{
	close(self->f);
	close(self->w);
}

/* ----------------------------------------------------------------- 1 --- */

TEST_F(scope, widening_is_eacces_and_changes_nothing)
{
	static const char *const all[] = { ">" };
	static const char *const wide[] = { "session.>" };
	static const char *const mixed[] = { "session.42.a", "session.43.a" };
	static const char *const other[] = { "other.x" };
	static const char *const star[] = { "session.*.a" };
	struct evbus_bus_stats bs;

	EXPECT_EQ(-EACCES, evt_narrow(self->f, all, 1, all, 1, 0));
	EXPECT_EQ(-EACCES, evt_narrow(self->f, wide, 1, wide, 1, 0));
	/* One set alone, the other kept. */
	EXPECT_EQ(-EACCES, evt_narrow(self->f, all, 1, NULL, 0,
				      EVBUS_SCOPE_KEEP_SUBSCRIBE));
	EXPECT_EQ(-EACCES, evt_narrow(self->f, NULL, 0, all, 1,
				      EVBUS_SCOPE_KEEP_PUBLISH));
	/* The publish set is fine, the subscribe set widens: all refused. */
	EXPECT_EQ(-EACCES, evt_narrow(self->f, mixed, 1, wide, 1, 0));
	/* One pattern of several outside. */
	EXPECT_EQ(-EACCES, evt_narrow(self->f, mixed, 2, mixed, 1, 0));
	EXPECT_EQ(-EACCES, evt_narrow(self->f, mixed, 1, mixed, 2, 0));
	EXPECT_EQ(-EACCES, evt_narrow(self->f, other, 1, other, 1, 0));
	EXPECT_EQ(-EACCES, evt_narrow(self->f, star, 1, star, 1, 0));
	ASSERT_SCOPE(self->f, SCOPE_42);

	/* Still exactly session.42.>: inside works, outside does not. */
	EXPECT_EQ(-EACCES, evt_sub(self->f, "session.43.a"));
	EXPECT_LT(0, evt_sub(self->f, "session.42.a"));
	/*
	 * A refused NARROW is not a denial of a call on the bus: the module
	 * counts only the two subscribes and no NARROW in denied_scope.
	 */
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(1, bs.denied_scope);
	EXPECT_EQ(0, bs.denied_rule + bs.denied_default + bs.denied_reserved);

	/* Narrowing to the same scope again is no widening. */
	EXPECT_EQ(0, evt_narrow1(self->f, SCOPE, SCOPE));
	ASSERT_SCOPE(self->f, SCOPE_42);
}

/* ----------------------------------------------------------------- 2 --- */

TEST_F(scope, subscribe_outside_is_eacces_counted_and_subscribes_nothing)
{
	static const char *const outside[] = {
		">", "session.>", "other.x", "session.*.a", "*.42.a",
		"session.42", "session.43.a", "$sys.>", "$sys.file.open",
	};
	const int n = sizeof(outside) / sizeof(outside[0]);
	struct evbus_subscribe s2;
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int i;

	for (i = 0; i < n; i++) {
		const char *t = outside[i];

		EXPECT_EQ(-EACCES, evt_sub(self->f, t))
			TH_LOG("subscribe %s from a session.42.> file", t ?: "");
	}
	/* SUBSCRIBE2, with and without a filter, is checked the same way. */
	memset(&s2, 0, sizeof(s2));
	EXPECT_EQ(-EACCES, evt_sub2(self->f, ">", &s2));
	memset(&s2, 0, sizeof(s2));
	s2.flags = EVBUS_SUB_TYPE;
	s2.type_min = 0;
	s2.type_max = ~0u;
	EXPECT_EQ(-EACCES, evt_sub2(self->f, "other.>", &s2));

	/* Nothing subscribed, not even a ring set up. */
	ASSERT_EQ(0, evt_stats(self->f, &st));
	EXPECT_EQ(0, st.subscriptions);
	EXPECT_EQ(0, st.capacity);
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(n + 2, bs.denied_scope);
	EXPECT_EQ(0, bs.denied_rule + bs.denied_default + bs.denied_reserved);
	EXPECT_EQ(1, bs.subscriptions);		/* the watcher's */

	/* Inside works, with both ioctls. */
	EXPECT_LT(0, evt_sub(self->f, "session.42.a"));
	EXPECT_LT(0, evt_sub(self->f, "session.42.>"));
	EXPECT_LT(0, evt_sub(self->f, "session.42.*.b"));
	memset(&s2, 0, sizeof(s2));
	s2.flags = EVBUS_SUB_TYPE;
	s2.type_max = 9;
	EXPECT_LT(0, evt_sub2(self->f, "session.42.c", &s2));
	ASSERT_EQ(0, evt_stats(self->f, &st));
	EXPECT_EQ(4, st.subscriptions);
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(n + 2, bs.denied_scope);
	EXPECT_EQ(5, bs.subscriptions);

	/* What the inside subscriptions receive: only what they match. */
	EXPECT_LT(0, evt_pub(self->w, "session.42.a", "x"));
	EXPECT_LT(0, evt_pub(self->w, "session.43.a", "x"));
	EXPECT_EQ(1, evt_sf_drain(self->f, NULL, 0, NULL));
}

/* ----------------------------------------------------------------- 3 --- */

TEST_F(scope, publish_outside_is_eacces_and_takes_no_seq)
{
	static const char *const outside[] = {
		"other.x", "session.43.a", "session.42", "session", "x.session.42.a",
	};
	const int n = sizeof(outside) / sizeof(outside[0]);
	static const char *const batch_bad[] = { "session.42.b", "other.y", "session.42.c" };
	static const char *const batch_first_bad[] = { "other.z", "session.42.d" };
	struct evt_got got[MAXGOT];
	struct evbus_pub_batch b;
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int i;

	for (i = 0; i < n; i++) {
		const char *t = outside[i];

		EXPECT_EQ(-EACCES, evt_pub(self->f, t, "leak"))
			TH_LOG("publish %s from a session.42.> file", t ?: "");
	}
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(0, bs.seq);
	EXPECT_EQ(0, bs.published);
	EXPECT_EQ(0, bs.deliveries);
	EXPECT_EQ(n, bs.denied_scope);
	ASSERT_EQ(0, evt_stats(self->f, &st));
	EXPECT_EQ(0, st.published);
	EXPECT_EQ(0, evt_sf_drain(self->w, NULL, 0, NULL));

	/* Inside: published, numbered 1, delivered to the watcher. */
	EXPECT_EQ(1, evt_pub(self->f, "session.42.a", "in"));
	EXPECT_EQ(2, evt_pub(self->f, "session.42.a.b.c", "in"));

	/* A batch stops at the first event outside the scope. */
	EXPECT_EQ(1, scope_pub_batch(self->f, batch_bad, 3, &b));
	EXPECT_EQ(1, b.published);
	EXPECT_EQ(-EACCES, b.error);
	EXPECT_EQ(1, b.error_index);
	EXPECT_EQ(3, b.first_seq);
	EXPECT_EQ(-EACCES, scope_pub_batch(self->f, batch_first_bad, 2, &b));

	ASSERT_EQ(3, evt_sf_drain(self->w, got, MAXGOT, NULL));
	EXPECT_EQ(1, got[0].seq);
	EXPECT_STREQ("session.42.a", got[0].topic);
	EXPECT_EQ(2, got[1].seq);
	EXPECT_STREQ("session.42.a.b.c", got[1].topic);
	EXPECT_EQ(3, got[2].seq);
	EXPECT_STREQ("session.42.b", got[2].topic);
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(3, bs.seq);
	EXPECT_EQ(3, bs.published);
	EXPECT_EQ(n + 2, bs.denied_scope);
	ASSERT_EQ(0, evt_stats(self->f, &st));
	EXPECT_EQ(3, st.published);

	/* $sys is refused as reserved before the scope is looked at. */
	EXPECT_EQ(-EACCES, evt_pub(self->f, "$sys.file.open", NULL));
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(n + 2, bs.denied_scope);
	EXPECT_EQ(1, bs.denied_reserved);
	EXPECT_EQ(3, bs.seq);
}

/* ----------------------------------------------------------------- 4 --- */

TEST_F(scope, keep_flags_leave_one_set_as_it_is)
{
	static const char *const a[] = { "a.>" };
	static const char *const ax[] = { "a.x" };
	int g;

	/* A fresh file: narrow only the subscribe set. */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	ASSERT_EQ(0, evt_narrow(g, NULL, 0, a, 1, EVBUS_SCOPE_KEEP_PUBLISH));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish (unscoped)\n"
			"evbus-scope:\tsubscribe a.>\n");
	EXPECT_LT(0, evt_pub(g, "z.z", NULL));		/* publish unscoped */
	EXPECT_EQ(-EACCES, evt_sub(g, "z.z"));
	EXPECT_LT(0, evt_sub(g, "a.b"));

	/* Then the publish set, keeping the subscribe set. */
	ASSERT_EQ(0, evt_narrow(g, ax, 1, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish a.x\n"
			"evbus-scope:\tsubscribe a.>\n");
	EXPECT_EQ(-EACCES, evt_pub(g, "z.z", NULL));
	EXPECT_EQ(-EACCES, evt_pub(g, "a.y", NULL));
	EXPECT_LT(0, evt_pub(g, "a.x", NULL));
	EXPECT_LT(0, evt_sub(g, "a.c.d"));		/* subscribe set kept */

	/* A KEEP flag with patterns for that set is malformed. */
	EXPECT_EQ(-EINVAL, evt_narrow(g, ax, 1, NULL, 0, EVBUS_SCOPE_KEEP_PUBLISH));
	EXPECT_EQ(-EINVAL, evt_narrow(g, NULL, 0, ax, 1, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	/* Keeping both changes nothing. */
	EXPECT_EQ(0, evt_narrow(g, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_PUBLISH |
						     EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish a.x\n"
			"evbus-scope:\tsubscribe a.>\n");

	/* An empty publish set (no KEEP): publishing is over. */
	ASSERT_EQ(0, evt_narrow(g, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(g, "evbus-scope:\tsubscribe a.>\n"
			"evbus-scope:\tpublish (none)\n");
	EXPECT_EQ(-EACCES, evt_pub(g, "a.x", NULL));
	/* And it cannot come back. */
	EXPECT_EQ(-EACCES, evt_narrow(g, ax, 1, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	EXPECT_EQ(-EACCES, evt_narrow(g, ax, 1, ax, 1, 0));
	ASSERT_SCOPE(g, "evbus-scope:\tsubscribe a.>\n"
			"evbus-scope:\tpublish (none)\n");
	close(g);

	/* KEEP on an already narrowed file keeps its patterns, not "all". */
	ASSERT_EQ(0, evt_narrow(self->f, NULL, 0, NULL, 0,
				EVBUS_SCOPE_KEEP_PUBLISH | EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(self->f, SCOPE_42);
	EXPECT_EQ(-EACCES, evt_pub(self->f, "z.z", NULL));

	/* An unscoped file that keeps both is scoped to everything. */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	ASSERT_EQ(0, evt_narrow(g, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_PUBLISH |
						     EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish (unscoped)\n"
			"evbus-scope:\tsubscribe (unscoped)\n");
	EXPECT_LT(0, evt_sub(g, ">"));
	EXPECT_LT(0, evt_pub(g, "z.z", NULL));
	close(g);
}

/* ----------------------------------------------------------------- 5 --- */

TEST_F(scope, narrowing_to_subsets_up_to_scope_max)
{
	char names[EVBUS_SCOPE_MAX + 1][32];
	const char *pats[EVBUS_SCOPE_MAX + 1];
	static const char *const sub3[] = { "s.3.>", "s.7.x", "s.7.*" };
	static const char *const out1[] = { "s.3.>", "s.16.x" };
	static const char *const gt[] = { ">" };
	static const char *const sys[] = { "$sys.>" };
	char want[4096], full[4096];
	int g, i, off = 0;

	for (i = 0; i <= EVBUS_SCOPE_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "s.%d.>", i);
		pats[i] = names[i];
	}
	g = evt_sf_open();
	ASSERT_LE(0, g);
	/* One more than EVBUS_SCOPE_MAX: EINVAL, for either set. */
	EXPECT_EQ(-EINVAL, evt_narrow(g, pats, EVBUS_SCOPE_MAX + 1, pats, 1, 0));
	EXPECT_EQ(-EINVAL, evt_narrow(g, pats, 1, pats, EVBUS_SCOPE_MAX + 1, 0));
	ASSERT_SCOPE(g, "");

	/* Exactly EVBUS_SCOPE_MAX in each set. */
	ASSERT_EQ(0, evt_narrow(g, pats, EVBUS_SCOPE_MAX, pats, EVBUS_SCOPE_MAX, 0));
	for (i = 0; i < EVBUS_SCOPE_MAX; i++)
		off += snprintf(want + off, sizeof(want) - off,
				"evbus-scope:\tpublish s.%d.>\n", i);
	for (i = 0; i < EVBUS_SCOPE_MAX; i++)
		off += snprintf(want + off, sizeof(want) - off,
				"evbus-scope:\tsubscribe s.%d.>\n", i);
	ASSERT_SCOPE(g, want);
	for (i = 0; i < EVBUS_SCOPE_MAX; i++) {
		char t[32];

		snprintf(t, sizeof(t), "s.%d.q", i);
		EXPECT_LT(0, evt_pub(g, t, NULL)) TH_LOG("publish %s", t);
	}
	EXPECT_EQ(-EACCES, evt_pub(g, "s.16.q", NULL));
	EXPECT_EQ(-EACCES, evt_sub(g, "s.16.q"));
	ASSERT_EQ(0, evt_scope_text(g, full, sizeof(full)));

	/* A subset, each pattern within one of the old ones. */
	EXPECT_EQ(-EACCES, evt_narrow(g, out1, 2, out1, 2, 0));
	EXPECT_EQ(-EACCES, evt_narrow(g, gt, 1, gt, 1, 0));
	ASSERT_SCOPE(g, full);
	ASSERT_EQ(0, evt_narrow(g, sub3, 3, sub3, 3, 0));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish s.3.>\n"
			"evbus-scope:\tpublish s.7.x\n"
			"evbus-scope:\tpublish s.7.*\n"
			"evbus-scope:\tsubscribe s.3.>\n"
			"evbus-scope:\tsubscribe s.7.x\n"
			"evbus-scope:\tsubscribe s.7.*\n");
	EXPECT_LT(0, evt_sub(g, "s.3.q.r"));
	EXPECT_LT(0, evt_sub(g, "s.7.y"));
	EXPECT_EQ(-EACCES, evt_sub(g, "s.7.>"));	/* wider than s.7.* */
	EXPECT_EQ(-EACCES, evt_sub(g, "s.0.a"));
	EXPECT_LT(0, evt_pub(g, "s.7.z", NULL));
	EXPECT_EQ(-EACCES, evt_pub(g, "s.7.z.z", NULL));
	EXPECT_EQ(-EACCES, evt_pub(g, "s.0.a", NULL));
	/* The old patterns that were dropped are gone for good. */
	EXPECT_EQ(-EACCES, evt_narrow(g, pats, 1, pats, 1, 0));
	close(g);

	/* ">" means application topics: a file narrowed to it loses $sys. */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	EXPECT_LT(0, evt_sub(self->w, "$sys.file.open"));	/* unscoped: fine */
	ASSERT_EQ(0, evt_narrow(g, gt, 1, gt, 1, 0));
	EXPECT_EQ(-EACCES, evt_sub(g, "$sys.file.open"));
	EXPECT_EQ(-EACCES, evt_sub(g, "$sys.>"));
	EXPECT_EQ(-EACCES, evt_narrow(g, gt, 1, sys, 1, 0));
	EXPECT_LT(0, evt_sub(g, "any.thing"));
	close(g);
}

/* ----------------------------------------------------------------- 6 --- */

TEST_F(scope, subscriptions_outside_a_new_scope_are_ebusy)
{
	static const char *const s42[] = { SCOPE };
	static const char *const other[] = { "other.>" };
	struct evt_got got[MAXGOT];
	struct evbus_stats st;
	int g, id_other, id_in;

	g = evt_sf_open();
	ASSERT_LE(0, g);
	id_other = evt_sub(g, "other.x");
	ASSERT_LT(0, id_other);
	id_in = evt_sub(g, "session.42.a");
	ASSERT_LT(0, id_in);

	/* other.x lies outside: EBUSY, and neither set changed. */
	EXPECT_EQ(-EBUSY, evt_narrow(g, s42, 1, s42, 1, 0));
	ASSERT_SCOPE(g, "");
	EXPECT_LT(0, evt_pub(g, "other.y", NULL));	/* publish still unscoped */
	/* An empty subscribe set with subscriptions held: EBUSY too. */
	EXPECT_EQ(-EBUSY, evt_narrow(g, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_PUBLISH));
	ASSERT_SCOPE(g, "");
	/* The publish set alone is not checked against subscriptions. */
	EXPECT_EQ(0, evt_narrow(g, other, 1, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	ASSERT_SCOPE(g, "evbus-scope:\tsubscribe (unscoped)\n"
			"evbus-scope:\tpublish other.>\n");
	ASSERT_EQ(0, evt_stats(g, &st));
	EXPECT_EQ(2, st.subscriptions);

	/* Without other.x it fits: the remaining subscription keeps working. */
	ASSERT_EQ(0, evt_unsub(g, id_other));
	ASSERT_EQ(0, evt_narrow(g, NULL, 0, s42, 1, EVBUS_SCOPE_KEEP_PUBLISH));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish other.>\n"
			"evbus-scope:\tsubscribe session.42.>\n");
	ASSERT_EQ(0, evt_sf_drain(g, NULL, 0, NULL));
	/* other.y above was seq 1. */
	EXPECT_EQ(2, evt_pub(self->w, "session.42.a", "kept"));
	EXPECT_EQ(3, evt_pub(self->w, "other.x", "gone"));
	ASSERT_EQ(1, evt_sf_drain(g, got, MAXGOT, NULL));
	EXPECT_EQ(2, got[0].seq);
	EXPECT_STREQ("session.42.a", got[0].topic);
	/* Its id is still valid (unsubscribing does not need the scope). */
	EXPECT_EQ(0, evt_unsub(g, id_in));
	EXPECT_EQ(-ENOENT, evt_unsub(g, id_in));
	close(g);
}

/* ----------------------------------------------------------------- 7 --- */

/* What the guest reports: the errno (0: success) of each attempt. */
struct guest_res {
	int setup;		/* 0, or the step that failed */
	int setup_errno;
	uid_t euid;
	int narrow_all, narrow_session, narrow_pub_only, narrow_sub_only;
	int narrow_same;
	int sub_all, sub_session, sub_other, sub2_all;
	int pub_other, pub_43, pub_sys, batch;
	int policy_add, policy_default, policy_clear;
	int pub_inside, sub_inside;
	int open_own;		/* open(/dev/evbus) of its own, when 0660 */
	char scope[512];
};

static int guest_errno(int ret)
{
	return ret < 0 ? -ret : 0;
}

/* The guest: drops to GUEST_UID, then gets the scoped handle. */
static void guest(int sock)
{
	static const char *const all[] = { ">" };
	static const char *const wide[] = { "session.>" };
	static const char *const s42[] = { SCOPE };
	static const char *const other_batch[] = { "other.z", "session.42.z" };
	struct evbus_pub_batch b;
	struct evbus_subscribe s2;
	struct guest_res r;
	int fd, ret;

	memset(&r, 0, sizeof(r));
	alarm(60);
	if (setgroups(0, NULL) || setresgid(GUEST_UID, GUEST_UID, GUEST_UID) ||
	    setresuid(GUEST_UID, GUEST_UID, GUEST_UID)) {
		r.setup = 1;
		r.setup_errno = errno;
		goto out;
	}
	r.euid = geteuid();
	/* Its own /proc/self/fdinfo stays readable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	fd = recv_fd(sock);
	if (fd < 0) {
		r.setup = 2;
		r.setup_errno = errno;
		goto out;
	}
	r.narrow_all = guest_errno(evt_narrow(fd, all, 1, all, 1, 0));
	r.narrow_session = guest_errno(evt_narrow(fd, wide, 1, wide, 1, 0));
	r.narrow_pub_only = guest_errno(evt_narrow(fd, all, 1, NULL, 0,
						   EVBUS_SCOPE_KEEP_SUBSCRIBE));
	r.narrow_sub_only = guest_errno(evt_narrow(fd, NULL, 0, all, 1,
						   EVBUS_SCOPE_KEEP_PUBLISH));
	r.sub_all = guest_errno(evt_sub(fd, ">"));
	r.sub_session = guest_errno(evt_sub(fd, "session.>"));
	r.sub_other = guest_errno(evt_sub(fd, "other.x"));
	memset(&s2, 0, sizeof(s2));
	r.sub2_all = guest_errno(evt_sub2(fd, ">", &s2));
	r.pub_other = guest_errno(evt_pub(fd, "other.x", "escape"));
	r.pub_43 = guest_errno(evt_pub(fd, "session.43.x", "escape"));
	r.pub_sys = guest_errno(evt_pub(fd, "$sys.file.open", NULL));
	ret = scope_pub_batch(fd, other_batch, 2, &b);
	r.batch = guest_errno(ret);
	r.policy_add = guest_errno(scope_policy_add(fd, EVBUS_ALLOW,
						    EVBUS_RIGHT_SUBSCRIBE,
						    EVBUS_WHO_ALL, 0, ">"));
	r.policy_default = guest_errno(scope_policy_set(fd, EVBUS_POLICY_OP_DEFAULT,
							EVBUS_DENY, 0));
	r.policy_clear = guest_errno(scope_policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0, 0));
	/* Narrowing to what it has is allowed (and changes nothing). */
	r.narrow_same = guest_errno(evt_narrow(fd, s42, 1, s42, 1, 0));
	/* What it may do. */
	r.sub_inside = guest_errno(evt_sub(fd, "session.42.a"));
	r.pub_inside = guest_errno(evt_pub(fd, "session.42.x", "inside"));
	ret = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
	r.open_own = ret < 0 ? errno : 0;
	if (ret >= 0)
		close(ret);
	evt_scope_text(fd, r.scope, sizeof(r.scope));
	close(fd);
out:
	if (write(sock, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(0);
}

TEST_F_TIMEOUT(scope, passed_handle_cannot_escape_as_another_uid, 120)
{
	struct evt_got got[MAXGOT];
	struct evbus_bus_stats bs;
	struct guest_res r;
	struct stat dev;
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		close(self->w);
		close(self->f);
		guest(sv[1]);
	}
	close(sv[1]);
	ASSERT_EQ(0, send_fd(sv[0], self->f));
	/* The guest holds the only reference now. */
	close(self->f);
	self->f = -1;
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(sizeof(r), read(sv[0], &r, sizeof(r)));
	ASSERT_EQ(0, wait_status(pid));
	close(sv[0]);
	ASSERT_EQ(0, r.setup) TH_LOG("guest step %d: %s", r.setup,
				     strerror(r.setup_errno));
	ASSERT_EQ(GUEST_UID, r.euid);

	EXPECT_EQ(EACCES, r.narrow_all);
	EXPECT_EQ(EACCES, r.narrow_session);
	EXPECT_EQ(EACCES, r.narrow_pub_only);
	EXPECT_EQ(EACCES, r.narrow_sub_only);
	EXPECT_EQ(0, r.narrow_same);
	EXPECT_EQ(EACCES, r.sub_all);
	EXPECT_EQ(EACCES, r.sub_session);
	EXPECT_EQ(EACCES, r.sub_other);
	EXPECT_EQ(EACCES, r.sub2_all);
	EXPECT_EQ(EACCES, r.pub_other);
	EXPECT_EQ(EACCES, r.pub_43);
	EXPECT_EQ(EACCES, r.pub_sys);
	EXPECT_EQ(EACCES, r.batch);
	EXPECT_EQ(EPERM, r.policy_add);
	EXPECT_EQ(EPERM, r.policy_default);
	EXPECT_EQ(EPERM, r.policy_clear);
	EXPECT_EQ(0, r.sub_inside);
	EXPECT_EQ(0, r.pub_inside);
	EXPECT_STREQ(SCOPE_42, r.scope);
	/* With the device root-only (its default), no unscoped file either. */
	if (!stat(EVBUS_DEV, &dev) && !(dev.st_mode & 0007))
		EXPECT_EQ(EACCES, r.open_own);

	/* The watcher got exactly the one event published inside. */
	ASSERT_EQ(1, evt_sf_drain(self->w, got, MAXGOT, NULL));
	EXPECT_EQ(1, got[0].seq);
	EXPECT_STREQ("session.42.x", got[0].topic);
	EXPECT_EQ(GUEST_UID, got[0].uid);
	EXPECT_EQ(GUEST_UID, got[0].gid);
	EXPECT_EQ((uint32_t)pid, got[0].pid);

	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(1, bs.seq);
	EXPECT_EQ(1, bs.published);
	/* sub >, session.>, other.x, SUBSCRIBE2 >, publish other.x,
	 * session.43.x, the batch's first event; $sys is "reserved". */
	EXPECT_EQ(7, bs.denied_scope);
	EXPECT_EQ(1, bs.denied_reserved);
	EXPECT_EQ(0, bs.denied_rule + bs.denied_default);
	EXPECT_EQ(0, bs.policy_rules);
	EXPECT_EQ(EVBUS_ALLOW, bs.policy_default);
	/* The guest's file is closed: only the watcher's subscription is left. */
	EXPECT_EQ(1, bs.subscriptions);
}

/* ----------------------------------------------------------------- 8 --- */

TEST_F(scope, scoped_handle_of_root_cannot_change_the_policy)
{
	struct evbus_policy_list pl;
	struct evbus_rule_info ri[2];
	struct evbus_bus_stats bs;
	int id, g;

	ASSERT_EQ(0, geteuid()) TH_LOG("needs root (the bus's owner)");
	/* Root's unscoped file owns the bus (the control). */
	id = scope_policy_add(self->w, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
			      EVBUS_WHO_ALL, 0, "x.>");
	ASSERT_LT(0, id);

	/* The scoped file of the same root process: EPERM on every change. */
	EXPECT_EQ(-EPERM, scope_policy_add(self->f, EVBUS_ALLOW,
					   EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL,
					   0, ">"));
	EXPECT_EQ(-EPERM, scope_policy_add(self->f, EVBUS_DENY,
					   EVBUS_RIGHT_PUBLISH, EVBUS_WHO_UID,
					   1000, "session.42.>"));
	EXPECT_EQ(-EPERM, scope_policy_set(self->f, EVBUS_POLICY_OP_DEFAULT,
					   EVBUS_DENY, 0));
	EXPECT_EQ(-EPERM, scope_policy_set(self->f, EVBUS_POLICY_OP_REMOVE, 0, id));
	EXPECT_EQ(-EPERM, scope_policy_set(self->f, EVBUS_POLICY_OP_CLEAR, 0, 0));
	/* Malformed requests are still EINVAL first. */
	EXPECT_EQ(-EINVAL, scope_policy_set(self->f, 99, 0, 0));

	/* Even a scope that keeps everything counts as scoped. */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	ASSERT_EQ(0, evt_narrow(g, NULL, 0, NULL, 0, EVBUS_SCOPE_KEEP_PUBLISH |
						     EVBUS_SCOPE_KEEP_SUBSCRIBE));
	EXPECT_EQ(-EPERM, scope_policy_set(g, EVBUS_POLICY_OP_CLEAR, 0, 0));
	EXPECT_EQ(-EPERM, scope_policy_add(g, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					   EVBUS_WHO_ALL, 0, ">"));
	close(g);

	/* Nothing changed; a scoped file may still read the policy. */
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(1, bs.policy_rules);
	EXPECT_EQ(EVBUS_ALLOW, bs.policy_default);
	memset(&pl, 0, sizeof(pl));
	memset(ri, 0, sizeof(ri));
	pl.rules = (uintptr_t)ri;
	pl.count = 2;
	ASSERT_EQ(0, ioctl(self->f, EVBUS_IOC_POLICY_LIST, &pl));
	EXPECT_EQ(1, pl.count);
	EXPECT_EQ(1, pl.total);
	EXPECT_EQ((uint32_t)id, ri[0].id);
	EXPECT_STREQ("x.>", ri[0].pattern);

	/* The unscoped file still may. */
	EXPECT_EQ(0, scope_policy_set(self->w, EVBUS_POLICY_OP_CLEAR, 0, 0));
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(0, bs.policy_rules);
}

/* ----------------------------------------------------------------- 9 --- */

TEST_F(scope, scope_and_policy_both_apply)
{
	struct evbus_bus_stats bs;

	ASSERT_LT(0, scope_policy_add(self->w, EVBUS_DENY, EVBUS_RIGHT_PUBLISH |
				      EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL, 0,
				      "session.42.secret"));
	/* Inside the scope, refused by the rule: counted as the rule's. */
	EXPECT_EQ(-EACCES, evt_sub(self->f, "session.42.secret"));
	EXPECT_EQ(-EACCES, evt_sub(self->f, "session.42.>"));	/* overlaps */
	EXPECT_EQ(-EACCES, evt_pub(self->f, "session.42.secret", NULL));
	/* Outside the scope: the scope refuses first. */
	EXPECT_EQ(-EACCES, evt_sub(self->f, "other.x"));
	EXPECT_EQ(-EACCES, evt_pub(self->f, "other.x", NULL));
	/* Allowed by both. */
	EXPECT_LT(0, evt_sub(self->f, "session.42.public"));
	EXPECT_EQ(1, evt_pub(self->f, "session.42.public", NULL));
	ASSERT_EQ(0, evt_sf_bus_stats(self->w, &bs));
	EXPECT_EQ(3, bs.denied_rule);
	EXPECT_EQ(2, bs.denied_scope);
	EXPECT_EQ(1, bs.seq);
	EXPECT_EQ(0, scope_policy_set(self->w, EVBUS_POLICY_OP_CLEAR, 0, 0));
}

/* ---------------------------------------------------------------- 10 --- */

TEST_F(scope, scope_belongs_to_the_open_file)
{
	struct evt_got got[MAXGOT];
	int d, g, st;
	pid_t pid;

	/* A dup shares the file, hence the scope. */
	d = dup(self->f);
	ASSERT_LE(0, d);
	ASSERT_SCOPE(d, SCOPE_42);
	EXPECT_EQ(-EACCES, evt_pub(d, "other.x", NULL));

	/* A child narrowing its inherited copy narrows the parent's too. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static const char *const a[] = { "session.42.a" };

		_exit(evt_narrow(self->f, a, 1, a, 1, 0) ? 1 : 0);
	}
	ASSERT_EQ(0, wait_status(pid));
	ASSERT_SCOPE(self->f, "evbus-scope:\tpublish session.42.a\n"
			      "evbus-scope:\tsubscribe session.42.a\n");
	EXPECT_EQ(-EACCES, evt_pub(d, "session.42.b", NULL));
	EXPECT_EQ(1, evt_pub(d, "session.42.a", NULL));
	close(d);

	/* A new open() by the same process is a new, unscoped file. */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	ASSERT_SCOPE(g, "");
	EXPECT_EQ(2, evt_pub(g, "other.x", NULL));
	close(g);

	st = evt_sf_drain(self->w, got, MAXGOT, NULL);
	ASSERT_EQ(2, st);
	EXPECT_STREQ("session.42.a", got[0].topic);
	EXPECT_STREQ("other.x", got[1].topic);
}

/* ---------------------------------------------------------------- 11 --- */

/* NARROW with sc as given: errno (0: success); the scope must not change. */
#define EXPECT_NARROW_FAILS(err, fd, sc, what) do {			\
	char _b[4096], _a[4096];					\
	ASSERT_EQ(0, evt_scope_text(fd, _b, sizeof(_b)));		\
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_NARROW, sc)) TH_LOG("%s", what); \
	EXPECT_EQ(err, errno) TH_LOG("%s: %s", what, strerror(errno));	\
	ASSERT_EQ(0, evt_scope_text(fd, _a, sizeof(_a)));		\
	EXPECT_STREQ(_b, _a);						\
} while (0)

static void bad_narrow(struct __test_metadata *_metadata, int fd)
{
	static const char *const bad_pats[] = {
		"a..b", ".a", "a.", "a.>.b", "ab*", "a>", "$x", "a.$sys", "a b",
		"a.#", "",
	};
	char *page, longpat[EVBUS_TOPIC_MAX + 2];
	struct evbus_pattern p[2], *tail;
	struct evbus_scope sc;
	unsigned int i;

	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + 4096, 4096));	/* page + 4096: unmapped */

	memset(p, 0, sizeof(p));
	p[0].ptr = (uintptr_t)"session.42.a";
	p[0].len = strlen("session.42.a");
	p[1] = p[0];
#define SC_RESET() do {							\
	memset(&sc, 0, sizeof(sc));					\
	sc.publish = sc.subscribe = (uintptr_t)p;			\
	sc.n_publish = sc.n_subscribe = 1;				\
} while (0)

	/* The struct itself. */
	SC_RESET();
	sc.flags = 1u << 2;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "unknown flag");
	SC_RESET();
	sc.flags = ~0u;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "all flags");
	SC_RESET();
	sc.reserved = 1;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "reserved");
	SC_RESET();
	sc.n_publish = EVBUS_SCOPE_MAX + 1;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "n_publish > EVBUS_SCOPE_MAX");
	SC_RESET();
	sc.n_subscribe = ~0u;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "n_subscribe ~0");
	EXPECT_NARROW_FAILS(EFAULT, fd, NULL, "NULL struct");
	EXPECT_NARROW_FAILS(EFAULT, fd, (void *)(page + 4096), "unmapped struct");
	/* The struct straddling into the unmapped page. */
	SC_RESET();
	memcpy(page + 4096 - 16, &sc, 16);
	EXPECT_NARROW_FAILS(EFAULT, fd, (void *)(page + 4096 - 16), "struct runs off the page");

	/* The pattern arrays. */
	SC_RESET();
	sc.publish = 0;
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "publish array NULL");
	SC_RESET();
	sc.subscribe = (uintptr_t)(page + 4096);
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "subscribe array unmapped");
	/* The second element of an array unmapped. */
	tail = (struct evbus_pattern *)(page + 4096) - 1;
	*tail = p[0];
	SC_RESET();
	sc.subscribe = (uintptr_t)tail;
	sc.n_subscribe = 2;
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "second pattern unmapped");
	SC_RESET();
	sc.publish = 1;		/* non-canonical junk */
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "publish array junk");

	/* Each pattern. */
	SC_RESET();
	p[1].ptr = 0;
	sc.n_publish = 2;
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "pattern text NULL");
	p[1] = p[0];
	p[1].ptr = (uintptr_t)(page + 4096 - 4);	/* runs off the page */
	memcpy(page + 4096 - 4, "sess", 4);
	EXPECT_NARROW_FAILS(EFAULT, fd, &sc, "pattern text runs off the page");
	p[1] = p[0];
	p[1].reserved = 1;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "pattern reserved");
	p[1] = p[0];
	p[1].len = 0;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "pattern len 0");
	memset(longpat, 'a', sizeof(longpat));
	p[1].ptr = (uintptr_t)longpat;
	p[1].len = EVBUS_TOPIC_MAX + 1;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "pattern len > EVBUS_TOPIC_MAX");
	for (i = 0; i < sizeof(bad_pats) / sizeof(bad_pats[0]); i++) {
		p[1].ptr = (uintptr_t)bad_pats[i];
		p[1].len = strlen(bad_pats[i]);
		if (!p[1].len)
			p[1].len = 1;	/* the NUL itself */
		SC_RESET();
		sc.n_subscribe = 2;
		EXPECT_NARROW_FAILS(EINVAL, fd, &sc, bad_pats[i]);
	}
	p[1] = p[0];
	/* A bad pattern is EINVAL even where a good one would be EACCES. */
	p[1].ptr = (uintptr_t)"x..y";
	p[1].len = 4;
	SC_RESET();
	sc.n_publish = 2;
	EXPECT_NARROW_FAILS(EINVAL, fd, &sc, "bad publish pattern");
	p[1] = p[0];
	munmap(page, 4096);
#undef SC_RESET
}

TEST_F(scope, narrow_rejects_bad_input_and_changes_nothing)
{
	int g;

	/* On the scoped file, and on an unscoped one (which must stay so). */
	bad_narrow(_metadata, self->f);
	ASSERT_SCOPE(self->f, SCOPE_42);
	g = evt_sf_open();
	ASSERT_LE(0, g);
	bad_narrow(_metadata, g);
	ASSERT_SCOPE(g, "");
	EXPECT_LT(0, evt_sub(g, ">"));
	close(g);
	/* Count 0 is no error: an empty set (nothing allowed). */
	g = evt_sf_open();
	ASSERT_LE(0, g);
	EXPECT_EQ(0, evt_narrow(g, NULL, 0, NULL, 0, 0));
	ASSERT_SCOPE(g, "evbus-scope:\tpublish (none)\n"
			"evbus-scope:\tsubscribe (none)\n");
	EXPECT_EQ(-EACCES, evt_sub(g, "a"));
	EXPECT_EQ(-EACCES, evt_pub(g, "a", NULL));
	close(g);

	/* The scoped file works as before. */
	EXPECT_LT(0, evt_sub(self->f, "session.42.a"));
	EXPECT_EQ(1, evt_pub(self->f, "session.42.a", NULL));
	EXPECT_EQ(1, evt_sf_drain(self->f, NULL, 0, NULL));
}

TEST_HARNESS_MAIN
