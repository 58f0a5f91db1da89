// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.7: last wills and lifecycle scopes, through the library,
 * against the real kernel.  A will is armed, replaced and cleared
 * (ENOENT for a scope without one); it fires, flagged EVBUS_EVENT_WILL
 * and sent as the process that armed it, when the file goes: by
 * evbus_close(), by exit, by SIGKILL; never once cleared; after fork()
 * only when the last descriptor of the file is gone.  Arming obeys the
 * policy ($sys.*, deny and ask rules: EACCES).  Scopes publish
 * .started/.progress/.success/.failed with corr and parent linking them,
 * nest through parent seqs, are disarmed by evbus_scope_end(), and end
 * .failed through their wills, innermost first, when the process dies.
 *
 * Every test runs on a bus of its own (a new IPC namespace): sequence
 * numbers are the test's alone.  Tests skip when the module lacks the
 * will feature.
 */
#include <sched.h>
#include <signal.h>

#include "lib_test.h"

#define LT_NEW_BUS() do {						\
	if (unshare(CLONE_NEWIPC))					\
		SKIP(return, "unshare(CLONE_NEWIPC): %s", strerror(errno)); \
} while (0)

#define LT_NEED_WILL(bus) do {						\
	struct evbus_version lt_v_;					\
	ASSERT_EQ(0, evbus_query((bus), &lt_v_));			\
	if (!(lt_v_.features & EVBUS_FEAT_WILL))			\
		SKIP(return, "the module has no 'will' feature");	\
} while (0)

/* An event, copied out of its record. */
struct ev {
	struct evbus_event e;
	char topic[EVBUS_TOPIC_MAX + 1];
	char payload[256];
};

/* The next event of s within ms: 0, or the evbus_read() error. */
static int next_ev(struct evbus *s, struct ev *out, int ms)
{
	const struct evbus_record *rec;
	int ret;

	memset(out, 0, sizeof(*out));
	do {
		ret = evbus_read(s, &rec, ms);
		if (ret)
			return ret;
	} while (!rec->event);
	out->e = *rec->event;
	memcpy(out->topic, rec->topic, rec->topic_len);
	memcpy(out->payload, rec->payload,
	       rec->payload_len < sizeof(out->payload) - 1 ?
	       rec->payload_len : sizeof(out->payload) - 1);
	return 0;
}

/* A subscriber of "w.>" on this test's bus. */
static struct evbus *sub_open(void)
{
	EVBUS_OPTS(evbus_opts, o, .flags = EVBUS_OPEN_RDONLY);
	struct evbus *s = NULL;

	if (evbus_open(&s, &o))
		return NULL;
	if (evbus_subscribe(s, "w.>", NULL)) {
		evbus_close(s);
		return NULL;
	}
	return s;
}

/* Nothing more for s: a marker published now is its next event. */
static int nothing_but_marker(struct evbus *p, struct evbus *s)
{
	struct ev e;

	if (evbus_publish(p, "w.marker", "m", 1, NULL, NULL))
		return -1;
	if (next_ev(s, &e, 2000))
		return -2;
	return strcmp(e.topic, "w.marker") ? -3 : 0;
}

#define SETUP(p, s) do {						\
	LT_NEW_BUS();							\
	LT_OPEN(p, 0);							\
	LT_NEED_WILL(p);						\
	s = sub_open();							\
	ASSERT_NE(NULL, s);						\
} while (0)

/* A child: run fn, then tell the parent through wfd, then act. */
enum child_end { END_EXIT, END_PAUSE };

static pid_t child_arming(int *rfd, enum child_end end, uint64_t scope)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid) {
		close(fds[1]);
		*rfd = fds[0];
		return pid;
	}
	{
		EVBUS_OPTS(evbus_pub_opts, po, .type = 9, .corr = 8, .parent = 7);
		struct evbus *b;
		char c = 'x';

		close(fds[0]);
		if (evbus_open(&b, NULL) ||
		    evbus_will_set(b, scope, "w.dead", "gone", 4, &po))
			_exit(3);
		if (write(fds[1], &c, 1) != 1)
			_exit(4);
		if (end == END_PAUSE)
			for (;;)
				pause();
		_exit(0);	/* no evbus_close(): exit closes the file */
	}
}

static char wait_byte(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		return 0;
	close(fd);
	return c;
}

/* The will of child pid: w.dead "gone", type 9, corr 8, parent 7. */
static void check_child_will(struct __test_metadata *_metadata,
			     struct evbus *s, pid_t pid)
{
	struct ev e;

	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.dead", e.topic);
	EXPECT_STREQ("gone", e.payload);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ((uint32_t)pid, e.e.pid);
	EXPECT_EQ((uint32_t)pid, e.e.tid);
	EXPECT_EQ(geteuid(), e.e.uid);
	EXPECT_EQ(getegid(), e.e.gid);
	EXPECT_EQ(9, e.e.type);
	EXPECT_EQ(8, e.e.corr);
	EXPECT_EQ(7, e.e.parent);
	EXPECT_NE(0, e.e.seq);
}

/* Set, replace, clear; ENOENT for a scope without a will. */
TEST(set_replace_clear)
{
	struct evbus *p, *w, *s;
	struct ev e;

	SETUP(p, s);
	LT_OPEN(w, 0);
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, 5));
	ASSERT_EQ(0, evbus_will_set(w, 1, "w.one", "a", 1, NULL));
	ASSERT_EQ(0, evbus_will_set(w, 1, "w.one", "b", 1, NULL));	/* replaces */
	ASSERT_EQ(0, evbus_will_set(w, 2, "w.two", "c", 1, NULL));
	ASSERT_EQ(0, evbus_will_set(w, 3, "w.three", NULL, 0, NULL));
	EXPECT_EQ(0, evbus_will_clear(w, 3));
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, 3));
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, 99));
	/* Nothing is published while the file lives. */
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(w);
	/* Newest first: scope 2, then scope 1 with its replacement. */
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.two", e.topic);
	EXPECT_STREQ("c", e.payload);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ((uint32_t)getpid(), e.e.pid);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.one", e.topic);
	EXPECT_STREQ("b", e.payload);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(s);
	evbus_close(p);
}

TEST(fires_on_close)
{
	EVBUS_OPTS(evbus_pub_opts, po, .type = 9, .corr = 8, .parent = 7);
	struct evbus *p, *w, *s;

	SETUP(p, s);
	LT_OPEN(w, 0);
	ASSERT_EQ(0, evbus_will_set(w, 0, "w.dead", "gone", 4, &po));
	evbus_close(w);
	check_child_will(_metadata, s, getpid());
	evbus_close(s);
	evbus_close(p);
}

TEST(fires_on_exit)
{
	struct evbus *p, *s;
	pid_t pid;
	int fd;

	SETUP(p, s);
	pid = child_arming(&fd, END_EXIT, 4);
	ASSERT_GT(pid, 0);
	EXPECT_EQ('x', wait_byte(fd));
	ASSERT_EQ(0, lt_wait(pid));
	check_child_will(_metadata, s, pid);
	evbus_close(s);
	evbus_close(p);
}

TEST(fires_on_sigkill)
{
	struct evbus *p, *s;
	int fd, st;
	pid_t pid;

	SETUP(p, s);
	pid = child_arming(&fd, END_PAUSE, 4);
	ASSERT_GT(pid, 0);
	ASSERT_EQ('x', wait_byte(fd));
	/* Armed, and alive: nothing yet. */
	EXPECT_EQ(0, nothing_but_marker(p, s));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st));
	check_child_will(_metadata, s, pid);
	evbus_close(s);
	evbus_close(p);
}

/* A cleared will never fires, whatever ends the file. */
TEST(not_when_cleared)
{
	struct evbus *p, *w, *s;
	pid_t pid;

	SETUP(p, s);
	LT_OPEN(w, 0);
	ASSERT_EQ(0, evbus_will_set(w, 1, "w.dead", "x", 1, NULL));
	ASSERT_EQ(0, evbus_will_clear(w, 1));
	evbus_close(w);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct evbus *b;

		if (evbus_open(&b, NULL) ||
		    evbus_will_set(b, 1, "w.dead", "y", 1, NULL) ||
		    evbus_will_clear(b, 1))
			_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	waitpid(pid, NULL, 0);
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(s);
	evbus_close(p);
}

/*
 * After fork() the will is the open file's: closing one descriptor does
 * nothing, the last one fires it, still as the process that armed it.
 */
TEST(after_fork_fires_when_the_last_descriptor_goes)
{
	struct evbus *p, *w, *s;
	int go[2];
	struct ev e;
	pid_t pid;
	char c = 'g';

	SETUP(p, s);
	LT_OPEN(w, 0);
	ASSERT_EQ(0, evbus_will_set(w, 1, "w.forked", "f", 1, NULL));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(go[1]);
		/* Hold the file until told, then exit without closing it. */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(go[0]);
	evbus_close(w);		/* the child still holds the file */
	EXPECT_EQ(0, nothing_but_marker(p, s));
	ASSERT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	ASSERT_EQ(0, lt_wait(pid));
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.forked", e.topic);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ((uint32_t)getpid(), e.e.pid);	/* who armed it */
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(s);
	evbus_close(p);
}

/* Arming is checked as a publish: $sys.*, deny and ask rules. */
TEST(policy_at_registration)
{
	struct evbus *p, *w, *s;
	struct ev e;

	SETUP(p, s);
	ASSERT_EQ(0, evbus_policy_add(p, "w.secret.>", EVBUS_DENY,
				      EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, 0,
				      NULL));
	ASSERT_EQ(0, evbus_policy_add(p, "w.asks.>", EVBUS_ASK,
				      EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, 0,
				      NULL));
	LT_OPEN(w, 0);
	EXPECT_EQ(-EACCES, evbus_will_set(w, 1, "w.secret.x", "x", 1, NULL));
	EXPECT_EQ(-EACCES, evbus_will_set(w, 1, "w.asks.x", "x", 1, NULL));
	EXPECT_EQ(-EACCES, evbus_will_set(w, 1, "$sys.x", "x", 1, NULL));
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, 1));
	EXPECT_EQ(0, evbus_will_set(w, 1, "w.open", "x", 1, NULL));
	/* The rule changes later: the will was checked when armed. */
	ASSERT_EQ(0, evbus_policy_add(p, "w.open", EVBUS_DENY,
				      EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, 0,
				      NULL));
	evbus_close(w);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.open", e.topic);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	evbus_close(s);
	evbus_close(p);
}

TEST(bad_arguments)
{
	EVBUS_OPTS(evbus_pub_opts, retain, .flags = EVBUS_PUB_RETAIN);
	struct evbus *w;
	char big[EVBUS_TOPIC_MAX + 2];
	uint64_t id;

	LT_NEW_BUS();
	LT_OPEN(w, 0);
	LT_NEED_WILL(w);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(-EINVAL, evbus_will_set(NULL, 1, "w.x", NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, NULL, NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, "", NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, big, NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, "w.x", NULL, 3, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, "w.x", NULL, 0, &retain));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, "w..x", NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_set(w, 1, "w.*", NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_will_clear(NULL, 1));
	/* Scopes: a prefix with room for ".progress", this handle's ids only. */
	big[EVBUS_SCOPE_PREFIX_MAX + 1] = '\0';
	EXPECT_EQ(-EINVAL, evbus_scope_begin(w, big, NULL, 0, 0, &id));
	EXPECT_EQ(-EINVAL, evbus_scope_begin(w, "w.s", NULL, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, evbus_scope_update(w, 12345, "x", 1));
	EXPECT_EQ(-ENOENT, evbus_scope_end(w, 12345, true, NULL, 0));
	evbus_close(w);
}

/*
 * Scopes nest: outer.started (parent 0), inner.started (parent outer),
 * inner.progress and inner.success (corr = parent = inner), outer.failed
 * (corr = parent = outer, not a will); once ended, closing fires nothing.
 */
TEST(scopes_nest_and_end_disarms)
{
	struct evbus *p, *w, *s;
	uint64_t outer = 0, inner = 0;
	struct ev e;

	SETUP(p, s);
	LT_OPEN(w, 0);
	ASSERT_EQ(0, evbus_scope_begin(w, "w.job", "go", 2, 0, &outer));
	ASSERT_EQ(0, evbus_scope_begin(w, "w.job.step", NULL, 0, outer, &inner));
	ASSERT_EQ(0, evbus_scope_update(w, inner, "50%", 3));
	ASSERT_EQ(0, evbus_scope_end(w, inner, true, "done", 4));
	EXPECT_EQ(-ENOENT, evbus_scope_end(w, inner, true, NULL, 0));
	EXPECT_EQ(-ENOENT, evbus_scope_update(w, inner, NULL, 0));
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, inner));	/* disarmed */
	ASSERT_EQ(0, evbus_scope_end(w, outer, false, "bad", 3));
	EXPECT_EQ(-ENOENT, evbus_will_clear(w, outer));

	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.started", e.topic);
	EXPECT_STREQ("go", e.payload);
	EXPECT_EQ(outer, e.e.seq);
	EXPECT_EQ(0, e.e.parent);
	EXPECT_EQ(0, e.e.corr);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.started", e.topic);
	EXPECT_EQ(inner, e.e.seq);
	EXPECT_EQ(outer, e.e.parent);
	EXPECT_GT(inner, outer);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.progress", e.topic);
	EXPECT_STREQ("50%", e.payload);
	EXPECT_EQ(inner, e.e.corr);
	EXPECT_EQ(inner, e.e.parent);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.success", e.topic);
	EXPECT_STREQ("done", e.payload);
	EXPECT_EQ(inner, e.e.corr);
	EXPECT_EQ(inner, e.e.parent);
	EXPECT_EQ(0, e.e.flags);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.failed", e.topic);
	EXPECT_STREQ("bad", e.payload);
	EXPECT_EQ(outer, e.e.corr);
	EXPECT_EQ(outer, e.e.parent);
	EXPECT_EQ(0, e.e.flags);
	evbus_close(w);
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(s);
	evbus_close(p);
}

/* A process killed inside two scopes: both end failed, innermost first. */
TEST(scopes_end_failed_through_their_wills)
{
	struct evbus *p, *s;
	uint64_t ids[2] = { 0, 0 };
	int fds[2], st;
	struct ev e;
	pid_t pid;

	SETUP(p, s);
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct evbus *b;

		close(fds[0]);
		if (evbus_open(&b, NULL) ||
		    evbus_scope_begin(b, "w.job", NULL, 0, 0, &ids[0]) ||
		    evbus_scope_begin(b, "w.job.step", NULL, 0, ids[0], &ids[1]) ||
		    evbus_scope_update(b, ids[1], "1", 1))
			_exit(3);
		if (write(fds[1], ids, sizeof(ids)) != sizeof(ids))
			_exit(4);
		for (;;)
			pause();
	}
	close(fds[1]);
	ASSERT_EQ(sizeof(ids), read(fds[0], ids, sizeof(ids)));
	close(fds[0]);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));

	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.started", e.topic);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.started", e.topic);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.progress", e.topic);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.step.failed", e.topic);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ(ids[1], e.e.corr);
	EXPECT_EQ(ids[1], e.e.parent);
	EXPECT_EQ((uint32_t)pid, e.e.pid);
	EXPECT_EQ(0, e.e.payload_len);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.failed", e.topic);
	EXPECT_EQ(EVBUS_EVENT_WILL, e.e.flags);
	EXPECT_EQ(ids[0], e.e.corr);
	EXPECT_EQ(ids[0], e.e.parent);
	EXPECT_EQ(0, nothing_but_marker(p, s));
	evbus_close(s);
	evbus_close(p);
}

/* A scope whose will cannot be armed is ended at once and refused. */
TEST(scope_begin_refused_will_ends_it)
{
	struct evbus *p, *s, *w;
	uint64_t id = 0;
	struct ev e;

	SETUP(p, s);
	/* Publishing the Started event is allowed, arming the will not. */
	ASSERT_EQ(0, evbus_policy_add(p, "w.job.failed", EVBUS_ASK,
				      EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, 0,
				      NULL));
	LT_OPEN(w, 0);
	EXPECT_EQ(-EACCES, evbus_scope_begin(w, "w.job", NULL, 0, 0, &id));
	EXPECT_EQ(0, id);
	ASSERT_EQ(0, next_ev(s, &e, 5000));
	EXPECT_STREQ("w.job.started", e.topic);
	evbus_close(w);
	evbus_close(s);
	evbus_close(p);
}

TEST_HARNESS_MAIN
