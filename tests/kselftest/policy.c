// SPDX-License-Identifier: GPL-2.0
/*
 * Topic policy (#13): rules (allow/deny x publish/subscribe x uid/gid/all),
 * the default, deny winning, the subset check on subscriptions, what a
 * refusal does and does not do (EACCES, nothing delivered, no sequence
 * number, counted by cause, traced), who may change the policy (EPERM for
 * everyone but the owner), malformed requests (EINVAL, nothing changed),
 * max_rules, listing, removal, and revocation.
 *
 * Every test runs in its own IPC namespace (the harness forks each test;
 * the fixture unshares), so it has a bus of its own with an empty policy
 * and a default of allow, and nothing it does reaches other tests or the
 * VM's initial bus.  The fixture still clears the policy at the end.
 *
 * "As uid U" means one of two things: a child process that drops to U and
 * does the call itself (the variant tests and the EPERM checks), or a file
 * that such a child opened and passed back over SCM_RIGHTS: every check
 * uses the credentials a file was opened with, so the test process can
 * then drive it and assert directly.
 */
#include "evbus_test.h"
#include "kselftest_harness.h"

#define BUF_SIZE	(256 * 1024)
#define TRACE_DIR	"/sys/kernel/tracing/"

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };
static const struct evt_ids U1001 = { 1001, 1001, 0, { 0 } };
/* In group 2000 by egid, and by a supplementary group only. */
static const struct evt_ids G2000_EGID = { 1002, 2000, 0, { 0 } };
static const struct evt_ids G2000_SUPP = { 1003, 1003, 2, { 1003, 2000 } };
static const struct evt_ids NOBODY = { 65534, 65534, 0, { 0 } };

/* ------------------------------------------------- saved system state */

static struct {
	pid_t runner;
	int have_max_rules;
	unsigned long long max_rules;
} saved;

static void __attribute__((constructor)) save_state(void)
{
	saved.runner = getpid();
	saved.have_max_rules = !evt_param_get("max_rules", &saved.max_rules);
	evt_dev_save_mode();
}

static void restore_state(void)
{
	if (saved.have_max_rules)
		evt_param_set("max_rules", saved.max_rules);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------------ helpers */

/* Publish a short event: 0 or -errno (the seq is not wanted). */
static int try_pub(int fd, const char *topic)
{
	int64_t seq = evt_pub(fd, topic, "p");

	return seq < 0 ? (int)seq : 0;
}

static int try_sub(int fd, const char *pattern)
{
	int id = evt_sub(fd, pattern);

	return id < 0 ? id : 0;
}

/* EVBUS_IOC_SUBSCRIBE2 with no filter: the id, or -errno. */
static int sub2(int fd, const char *pattern)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &s))
		return -errno;
	return (int)s.sub_id;
}

enum op { OP_PUB, OP_SUB, OP_SUB2, OP_POLICY_ADD, OP_POLICY_DEFAULT,
	  OP_POLICY_CLEAR, OP_POLICY_LIST };

/*
 * In a child process that drops to ids, opens the device and does op with
 * arg: 0, or the errno of the call (200+: the child itself broke).
 */
static int as_user(const struct evt_ids *ids, enum op op, const char *arg)
{
	struct evbus_policy_list pl;
	struct evbus_rule_info ri[4];
	pid_t pid = fork();
	int fd, ret = 0;

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
	switch (op) {
	case OP_PUB:
		ret = try_pub(fd, arg);
		break;
	case OP_SUB:
		ret = try_sub(fd, arg);
		break;
	case OP_SUB2:
		ret = sub2(fd, arg);
		ret = ret < 0 ? ret : 0;
		break;
	case OP_POLICY_ADD:
		ret = evt_policy_add(fd, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				     EVBUS_WHO_ALL, 0, arg, 0);
		ret = ret < 0 ? ret : 0;
		break;
	case OP_POLICY_DEFAULT:
		ret = evt_policy_default(fd, EVBUS_ALLOW);
		break;
	case OP_POLICY_CLEAR:
		ret = evt_policy_clear(fd);
		break;
	case OP_POLICY_LIST:
		ret = evt_policy_list(fd, ri, 4, 0, &pl);
		break;
	}
	_exit(ret < 0 ? -ret : 0);
}

/* The policy as LIST shows it (up to 16 rules), to compare before/after. */
struct snap {
	struct evbus_policy_list pl;
	struct evbus_rule_info ri[16];
	struct evbus_bus_stats bs;
};

static int take_snap(int fd, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	return evt_policy_list(fd, s->ri, 16, 0, &s->pl) ?: evt_bus_stats(fd, &s->bs);
}

static void expect_same_policy(struct __test_metadata *_metadata,
			       const struct snap *a, const struct snap *b,
			       const char *what)
{
	EXPECT_EQ(a->pl.total, b->pl.total) TH_LOG("%s: rule count changed", what);
	EXPECT_EQ(a->pl.count, b->pl.count) TH_LOG("%s: listing changed", what);
	EXPECT_EQ(a->pl.policy_default, b->pl.policy_default)
		TH_LOG("%s: default changed", what);
	EXPECT_EQ(0, memcmp(a->ri, b->ri, sizeof(a->ri)))
		TH_LOG("%s: a rule changed", what);
	EXPECT_EQ(a->bs.policy_rules, b->bs.policy_rules)
		TH_LOG("%s: bus stats rule count changed", what);
	EXPECT_EQ(a->bs.policy_default, b->bs.policy_default)
		TH_LOG("%s: bus stats default changed", what);
}

/* A fresh bus of the test's own: its own IPC namespace, opened by root. */
static void bus_setup(struct __test_metadata *_metadata, int *own)
{
	struct evbus_bus_stats bs;

	*own = -1;
	restore_state();	/* a test that timed out may have left max_rules */
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	*own = evt_open_bus();
	ASSERT_LE(0, *own) TH_LOG("open: %s", strerror(-*own));
	ASSERT_EQ(0, evt_bus_stats(*own, &bs));
	/* A new bus starts with no rules and a default of allow. */
	ASSERT_EQ(0, bs.policy_rules);
	ASSERT_EQ(EVBUS_ALLOW, bs.policy_default);
	ASSERT_EQ(evt_ipc_ns_ino(), bs.ipc_ns);
}

static void bus_teardown(struct __test_metadata *_metadata, int own)
{
	if (own >= 0) {
		EXPECT_EQ(0, evt_policy_clear(own));
		close(own);
	}
	restore_state();
}

/* ------------------------------------------- one rule, each subject */

/*
 * One rule on "app.>" for one right and one kind of subject, against the
 * opposite default: the rule decides exactly the subject's calls with that
 * right within app.>; the other right, other topics and other users get
 * the default.  Each call is made by a real process running as the user.
 */
FIXTURE(rule) {
	int own;
};

FIXTURE_VARIANT(rule) {
	uint32_t verdict;
	uint32_t right;
	uint32_t who;
};

#define RULE_VARIANT(v, r, w)						\
	FIXTURE_VARIANT_ADD(rule, v##_##r##_##w) {			\
		.verdict = EVBUS_##v, .right = EVBUS_RIGHT_##r,		\
		.who = EVBUS_WHO_##w,					\
	}

RULE_VARIANT(ALLOW, PUBLISH, UID);
RULE_VARIANT(ALLOW, PUBLISH, GID);
RULE_VARIANT(ALLOW, PUBLISH, ALL);
RULE_VARIANT(ALLOW, SUBSCRIBE, UID);
RULE_VARIANT(ALLOW, SUBSCRIBE, GID);
RULE_VARIANT(ALLOW, SUBSCRIBE, ALL);
RULE_VARIANT(DENY, PUBLISH, UID);
RULE_VARIANT(DENY, PUBLISH, GID);
RULE_VARIANT(DENY, PUBLISH, ALL);
RULE_VARIANT(DENY, SUBSCRIBE, UID);
RULE_VARIANT(DENY, SUBSCRIBE, GID);
RULE_VARIANT(DENY, SUBSCRIBE, ALL);

FIXTURE_SETUP(rule)
{
	bus_setup(_metadata, &self->own);
}

FIXTURE_TEARDOWN(rule)
{
	bus_teardown(_metadata, self->own);
}

/* Do right on arg as ids: publish topic arg, or subscribe to pattern arg. */
static int do_right(const struct evt_ids *ids, uint32_t right, const char *arg,
		    int v2)
{
	if (right == EVBUS_RIGHT_PUBLISH)
		return as_user(ids, OP_PUB, arg);
	return as_user(ids, v2 ? OP_SUB2 : OP_SUB, arg);
}

TEST_F_TIMEOUT(rule, decides_exactly_its_subject_and_right, 120)
{
	const struct evt_ids *match[2], *other = NULL;
	uint32_t id_value = 0, other_right;
	int nmatch = 0, id, rule_e, dflt_e;
	struct evbus_bus_stats bs;

	switch (variant->who) {
	case EVBUS_WHO_UID:
		match[nmatch++] = &U1000;
		other = &U1001;
		id_value = 1000;
		break;
	case EVBUS_WHO_GID:
		match[nmatch++] = &G2000_EGID;
		match[nmatch++] = &G2000_SUPP;
		other = &U1001;
		id_value = 2000;
		break;
	default:
		match[nmatch++] = &U1000;
		match[nmatch++] = &NOBODY;
		break;
	}
	other_right = variant->right == EVBUS_RIGHT_PUBLISH ?
		      EVBUS_RIGHT_SUBSCRIBE : EVBUS_RIGHT_PUBLISH;
	/* What the rule gives, and what the (opposite) default gives. */
	rule_e = variant->verdict == EVBUS_ALLOW ? 0 : EACCES;
	dflt_e = variant->verdict == EVBUS_ALLOW ? EACCES : 0;

	ASSERT_EQ(0, evt_policy_default(self->own, variant->verdict == EVBUS_ALLOW ?
					EVBUS_DENY : EVBUS_ALLOW));
	id = evt_policy_add(self->own, variant->verdict, variant->right,
			    variant->who, id_value, "app.>", 0);
	ASSERT_EQ(1, id);

	for (int i = 0; i < nmatch; i++) {
		const struct evt_ids *u = match[i];

		EXPECT_EQ(rule_e, do_right(u, variant->right, "app.x", 0))
			TH_LOG("uid %d gid %d: the rule's right within app.>",
			       u->uid, u->gid);
		EXPECT_EQ(rule_e, do_right(u, variant->right, "app.x.y", 1))
			TH_LOG("uid %d: the rule's right (SUBSCRIBE2 if subscribe)",
			       u->uid);
		EXPECT_EQ(dflt_e, do_right(u, variant->right, "web.x", 0))
			TH_LOG("uid %d: the rule's right outside app.>", u->uid);
		EXPECT_EQ(dflt_e, do_right(u, other_right, "app.x", 0))
			TH_LOG("uid %d: the other right within app.>", u->uid);
	}
	if (other) {
		EXPECT_EQ(dflt_e, do_right(other, variant->right, "app.x", 0))
			TH_LOG("uid %d gid %d is not the rule's subject",
			       other->uid, other->gid);
	}

	/* Counted by cause: each refusal above was by the rule or the default. */
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	if (variant->verdict == EVBUS_DENY) {
		EXPECT_EQ(2 * nmatch, bs.denied_rule);
		EXPECT_EQ(0, bs.denied_default);
	} else {
		EXPECT_EQ(0, bs.denied_rule);
		EXPECT_EQ(2 * nmatch + (other ? 1 : 0), bs.denied_default);
	}
}

/* ------------------------------------------------------------- policy */

FIXTURE(policy) {
	int own;
};

FIXTURE_SETUP(policy)
{
	bus_setup(_metadata, &self->own);
}

FIXTURE_TEARDOWN(policy)
{
	bus_teardown(_metadata, self->own);
}

TEST_F(policy, default_allow_then_deny_then_allow)
{
	struct evbus_policy_list pl;
	struct evbus_bus_stats bs;

	EXPECT_EQ(0, as_user(&U1000, OP_PUB, "app.x"));
	EXPECT_EQ(0, as_user(&U1000, OP_SUB, ">"));

	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(EVBUS_DENY, bs.policy_default);
	EXPECT_EQ(0, bs.policy_rules);
	ASSERT_EQ(0, evt_policy_list(self->own, NULL, 0, 0, &pl));
	EXPECT_EQ(EVBUS_DENY, pl.policy_default);
	EXPECT_EQ(0, pl.total);
	EXPECT_EQ(EACCES, as_user(&U1000, OP_PUB, "app.x"));
	EXPECT_EQ(EACCES, as_user(&U1000, OP_SUB, "app.x"));
	EXPECT_EQ(EACCES, as_user(&NOBODY, OP_SUB2, "app.x"));
	/* The policy binds root and the owner too. */
	EXPECT_EQ(-EACCES, try_pub(self->own, "app.x"));
	EXPECT_EQ(-EACCES, try_sub(self->own, "app.x"));

	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_ALLOW));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(EVBUS_ALLOW, bs.policy_default);
	EXPECT_EQ(0, as_user(&U1000, OP_PUB, "app.x"));
	EXPECT_EQ(0, as_user(&U1000, OP_SUB, "app.x"));
	EXPECT_EQ(0, try_pub(self->own, "app.x"));
}

TEST_F(policy, deny_wins_whatever_the_order)
{
	int fd = evt_open_as(&U1000), other = evt_open_as(&U1001);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	for (int order = 0; order < 2; order++) {
		ASSERT_EQ(0, evt_policy_clear(self->own));
		ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
		if (order) {
			ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY,
						    EVBUS_RIGHT_PUBLISH, EVBUS_WHO_UID,
						    1000, "app.secret.>", 0));
		}
		ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW,
					    EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE,
					    EVBUS_WHO_ALL, 0, "app.>", 0));
		/* An allow rule for exactly the topic does not beat the deny. */
		ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW,
					    EVBUS_RIGHT_PUBLISH, EVBUS_WHO_UID, 1000,
					    "app.secret.x", 0));
		if (!order) {
			ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY,
						    EVBUS_RIGHT_PUBLISH, EVBUS_WHO_UID,
						    1000, "app.secret.>", 0));
		}
		EXPECT_EQ(-EACCES, try_pub(fd, "app.secret.x")) TH_LOG("order %d", order);
		EXPECT_EQ(-EACCES, try_pub(fd, "app.secret.y.z")) TH_LOG("order %d", order);
		EXPECT_EQ(0, try_pub(fd, "app.public.x")) TH_LOG("order %d", order);
		EXPECT_EQ(0, try_pub(fd, "app.secret")) TH_LOG("order %d", order);
		EXPECT_EQ(0, try_pub(other, "app.secret.x")) TH_LOG("order %d", order);
		/* The deny rule is about publishing only. */
		EXPECT_EQ(0, try_sub(fd, "app.secret.>")) TH_LOG("order %d", order);
	}
	close(fd);
	close(other);
}

/* README, "Rules, and how a call is decided": the table's rows and more. */
TEST_F(policy, subscription_must_lie_within_an_allow_rule)
{
	static const struct { const char *pattern; int err; } within_app[] = {
		{ "app.*.created", 0 }, { "app.>", 0 }, { "app.x", 0 },
		{ "app.*", 0 }, { "app.x.>", 0 },
		{ ">", -EACCES }, { "*.created", -EACCES }, { "app", -EACCES },
		{ "*.>", -EACCES }, { "*.x.y", -EACCES }, { "web.x", -EACCES },
	};
	int fd = evt_open_as(&U1000);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, "app.>", 0));
	for (size_t i = 0; i < ARRAY_SIZE(within_app); i++) {
		EXPECT_EQ(within_app[i].err, try_sub(fd, within_app[i].pattern))
			TH_LOG("allow subscribe app.>: subscribe %s",
			       within_app[i].pattern);
	}

	/* Within the union of two rules but within neither: refused. */
	ASSERT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, "app.a.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, "app.b.>", 0));
	EXPECT_EQ(-EACCES, try_sub(fd, "app.*.x"));
	EXPECT_EQ(0, try_sub(fd, "app.a.x"));
	EXPECT_EQ(0, try_sub(fd, "app.b.*"));

	/* Publishing: the topic must match an allow rule. */
	ASSERT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "app.*.created", 0));
	EXPECT_EQ(0, try_pub(fd, "app.eu.created"));
	EXPECT_EQ(-EACCES, try_pub(fd, "app.eu.deleted"));
	EXPECT_EQ(-EACCES, try_pub(fd, "app.eu.x.created"));
	EXPECT_EQ(-EACCES, try_pub(fd, "app.created"));
	close(fd);
}

TEST_F(policy, wide_subscription_overlapping_a_deny_is_eacces)
{
	static const struct { const char *pattern; int err; } cases[] = {
		{ "app.>", -EACCES }, { "app.*.x", -EACCES },
		{ "app.secret.x", -EACCES }, { "app.*.*.>", -EACCES },
		{ "app.secret.>", -EACCES },
		{ "app.public.>", 0 }, { "app.*", 0 }, { "app.secret", 0 },
		{ "app.public.*.x", 0 },
	};
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int fd = evt_open_as(&U1000), deny, r;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, "app.>", 0));
	deny = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
			      EVBUS_WHO_ALL, 0, "app.secret.>", 0);
	ASSERT_EQ(2, deny);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		EXPECT_EQ(cases[i].err, try_sub(fd, cases[i].pattern))
			TH_LOG("subscribe %s with app.secret.> denied",
			       cases[i].pattern);
		r = sub2(fd, cases[i].pattern);
		if (r > 0)
			r = 0;
		EXPECT_EQ(cases[i].err, r)
			TH_LOG("SUBSCRIBE2 %s with app.secret.> denied",
			       cases[i].pattern);
	}
	/* Refusals subscribed nothing: 4 allowed patterns, twice each. */
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(8, st.subscriptions);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(10, bs.denied_rule);
	EXPECT_EQ(0, bs.denied_default);
	EXPECT_EQ(8, bs.subscriptions);

	/* With a default of allow, the deny still makes '>' too wide. */
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_ALLOW));
	EXPECT_EQ(-EACCES, try_sub(fd, ">"));
	EXPECT_EQ(0, try_sub(fd, "web.>"));
	close(fd);
}

TEST_F(policy, denied_publish_delivers_nothing_and_takes_no_seq)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[8];
	static const char *const want[] = { "app.a", "app.b", "app.c", "app.e" };
	struct evbus_pub ev[3];
	struct evbus_pub_batch b;
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int rd = evt_open(), fd = evt_open_as(&U1000), n, ret;
	int64_t s1, s2, s3;
	ssize_t len;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(rd, ">"));
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.secret.>", 0));

	s1 = evt_pub(self->own, "app.a", "1");
	ASSERT_EQ(1, s1);
	EXPECT_EQ(-EACCES, evt_pub(fd, "app.secret.x", "no"));
	s2 = evt_pub(fd, "app.b", "2");
	EXPECT_EQ(s1 + 1, s2) TH_LOG("the refused publish took a sequence number");

	/* A batch stops at the refused event, as at any failing one. */
	memset(ev, 0, sizeof(ev));
	memset(&b, 0, sizeof(b));
	ev[0].topic = (uintptr_t)"app.c";
	ev[0].topic_len = 5;
	ev[1].topic = (uintptr_t)"app.secret.y";
	ev[1].topic_len = 12;
	ev[2].topic = (uintptr_t)"app.d";
	ev[2].topic_len = 5;
	b.events = (uintptr_t)ev;
	b.count = 3;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	EXPECT_EQ(1, ret);
	EXPECT_EQ(1, b.published);
	EXPECT_EQ(-EACCES, b.error);
	EXPECT_EQ(1, b.error_index);
	EXPECT_EQ(s2 + 1, b.first_seq);
	/* A batch whose first event is refused publishes nothing. */
	b.events = (uintptr_t)&ev[1];
	b.count = 2;
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, b.published);

	s3 = evt_pub(self->own, "app.e", "3");
	EXPECT_EQ(s2 + 2, s3) TH_LOG("refused events took sequence numbers");

	len = evt_drain(rd, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 8);
	ASSERT_EQ(4, n) TH_LOG("the reader got %d records, not the 4 allowed events", n);
	for (int i = 0; i < 4; i++) {
		const struct evbus_event *e = evt_as_event(rec[i]);

		ASSERT_NE(NULL, e);
		EXPECT_STREQ(want[i], EVBUS_EVENT_TOPIC(e));
		EXPECT_EQ(s1 + i, e->seq);
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(s3, bs.seq);
	EXPECT_EQ(4, bs.published);
	EXPECT_EQ(3, bs.denied_rule);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(2, st.published);
	close(fd);
	close(rd);
}

TEST_F(policy, non_owner_gets_eperm_and_changes_nothing)
{
	struct snap before, after;
	int fd = evt_open_as(&U1000), id, st;
	pid_t pid;

	ASSERT_LE(0, fd);
	id = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
			    EVBUS_WHO_ALL, 0, "x.>", 0);
	ASSERT_EQ(1, id);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(0, take_snap(self->own, &before));

	/* A file uid 1000 opened, used by root: the opener is not the owner. */
	EXPECT_EQ(-EPERM, evt_policy_add(fd, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
					 EVBUS_WHO_ALL, 0, "x.>", 0));
	EXPECT_EQ(-EPERM, evt_policy_add(fd, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
					 EVBUS_WHO_ALL, 0, "x.>", EVBUS_POLICY_REVOKE));
	EXPECT_EQ(-EPERM, evt_policy_default(fd, EVBUS_ALLOW));
	EXPECT_EQ(-EPERM, evt_policy_remove(fd, id));
	EXPECT_EQ(-EPERM, evt_policy_clear(fd));
	EXPECT_EQ(-EPERM, evt_policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0, 0,
					 EVBUS_POLICY_REVOKE));

	/* An unprivileged process with its own file. */
	EXPECT_EQ(EPERM, as_user(&U1000, OP_POLICY_ADD, "y.>"));
	EXPECT_EQ(EPERM, as_user(&NOBODY, OP_POLICY_DEFAULT, NULL));
	EXPECT_EQ(EPERM, as_user(&U1001, OP_POLICY_CLEAR, NULL));
	/* Anyone may read the policy. */
	EXPECT_EQ(0, as_user(&U1000, OP_POLICY_LIST, NULL));

	/* Root's own file, used by a process that dropped to uid 1000. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (evt_become(&U1000))
			_exit(200);
		_exit(-evt_policy_clear(self->own));
	}
	st = evt_wait(pid);
	EXPECT_EQ(EPERM, st) TH_LOG("root's file in an unprivileged process");

	ASSERT_EQ(0, take_snap(self->own, &after));
	expect_same_policy(_metadata, &before, &after, "after refused changes");
	/* The list a non-owner sees is the owner's. */
	ASSERT_EQ(0, take_snap(fd, &after));
	expect_same_policy(_metadata, &before, &after, "listed by uid 1000");
	/* No id was taken by the refused adds. */
	EXPECT_EQ(2, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "z.>", 0));
	close(fd);
}

/* A rule that is good except for what a case changes. */
static void good_rule(struct evbus_rule *r, const char *pattern)
{
	memset(r, 0, sizeof(*r));
	r->pattern = (uintptr_t)pattern;
	r->pattern_len = strlen(pattern);
	r->verdict = EVBUS_DENY;
	r->rights = EVBUS_RIGHT_PUBLISH;
	r->who = EVBUS_WHO_UID;
	r->id_value = 1000;
}

static int add_raw(int fd, struct evbus_rule *r)
{
	return ioctl(fd, EVBUS_IOC_POLICY_ADD, r) ? -errno : 0;
}

static int set_raw(int fd, struct evbus_policy_set *ps)
{
	return ioctl(fd, EVBUS_IOC_POLICY_SET, ps) ? -errno : 0;
}

TEST_F(policy, bad_input_is_einval_and_changes_nothing)
{
	static const char *const bad_patterns[] = {
		"a..b", ".a", "a.", "a.>.b", "ab*", "a>", "a b", "a/b",
		"app.$sys", "$foo.x", "$", "$sys$.x", "*$sys", "a.\xc3\xa9",
	};
	static char longpat[EVBUS_TOPIC_MAX + 2];
	struct snap before, after;
	struct evbus_rule r;
	struct evbus_policy_set ps;
	struct evbus_policy_list pl;
	struct evbus_rule_info ri[2];
	struct {
		struct evbus_bus_stats bs;
		unsigned char tail[64];
	} big;
	char what[96];

	/* Some state for a bad call to damage. */
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_GID, 2000, "app.>", 0));
	ASSERT_EQ(2, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "app.secret.>", 0));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_EQ(0, take_snap(self->own, &before));

#define ADD_CASE(desc, change) do {					\
		good_rule(&r, "bad.x");					\
		change;							\
		EXPECT_EQ(-EINVAL, add_raw(self->own, &r)) TH_LOG("add: %s", desc); \
	} while (0)
	ADD_CASE("unknown flag", r.flags = 1U << 1);
	ADD_CASE("high flag", r.flags = 1U << 31);
	ADD_CASE("reserved", r.reserved = 1);
	ADD_CASE("verdict 0", r.verdict = 0);
	ADD_CASE("verdict 4", r.verdict = 4);
	ADD_CASE("ask with subscribe", (r.verdict = EVBUS_ASK,
		 r.rights = EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE));
	ADD_CASE("no rights", r.rights = 0);
	ADD_CASE("unknown right", r.rights = 1U << 5);
	ADD_CASE("known and unknown rights", r.rights = EVBUS_RIGHT_PUBLISH | (1U << 6));
	ADD_CASE("who 3", r.who = 3);
	ADD_CASE("who ~0", r.who = ~0U);
	ADD_CASE("everyone with an id", (r.who = EVBUS_WHO_ALL, r.id_value = 7));
	ADD_CASE("uid -1", r.id_value = ~0U);
	ADD_CASE("gid -1", (r.who = EVBUS_WHO_GID, r.id_value = ~0U));
	ADD_CASE("pattern_len 0", r.pattern_len = 0);
	memset(longpat, 'a', sizeof(longpat) - 1);
	ADD_CASE("pattern_len 256", (r.pattern = (uintptr_t)longpat,
				     r.pattern_len = EVBUS_TOPIC_MAX + 1));
	ADD_CASE("NUL in the pattern", (r.pattern = (uintptr_t)"a\0b", r.pattern_len = 3));
	for (size_t i = 0; i < ARRAY_SIZE(bad_patterns); i++) {
		snprintf(what, sizeof(what), "pattern \"%s\"", bad_patterns[i]);
		ADD_CASE(what, (r.pattern = (uintptr_t)bad_patterns[i],
				r.pattern_len = strlen(bad_patterns[i])));
	}
#undef ADD_CASE
	good_rule(&r, "bad.x");
	r.pattern = 8;
	EXPECT_EQ(-EFAULT, add_raw(self->own, &r));

#define SET_CASE(desc, err, ...) do {					\
		struct evbus_policy_set _ps = { __VA_ARGS__ };		\
		ps = _ps;						\
		EXPECT_EQ(err, set_raw(self->own, &ps)) TH_LOG("set: %s", desc); \
	} while (0)
	SET_CASE("op 0", -EINVAL, .op = 0);
	SET_CASE("op 4", -EINVAL, .op = 4);
	SET_CASE("op ~0", -EINVAL, .op = ~0U);
	SET_CASE("clear, unknown flag", -EINVAL, .op = EVBUS_POLICY_OP_CLEAR, .flags = 2);
	SET_CASE("clear, reserved", -EINVAL, .op = EVBUS_POLICY_OP_CLEAR, .reserved = 1);
	SET_CASE("clear with a verdict", -EINVAL, .op = EVBUS_POLICY_OP_CLEAR,
		 .verdict = EVBUS_ALLOW);
	SET_CASE("clear with an id", -EINVAL, .op = EVBUS_POLICY_OP_CLEAR, .id = 1);
	SET_CASE("default 0", -EINVAL, .op = EVBUS_POLICY_OP_DEFAULT, .verdict = 0);
	SET_CASE("default ask", -EINVAL, .op = EVBUS_POLICY_OP_DEFAULT, .verdict = EVBUS_ASK);
	SET_CASE("default with an id", -EINVAL, .op = EVBUS_POLICY_OP_DEFAULT,
		 .verdict = EVBUS_ALLOW, .id = 1);
	SET_CASE("remove id 0", -EINVAL, .op = EVBUS_POLICY_OP_REMOVE, .id = 0);
	SET_CASE("remove with a verdict", -EINVAL, .op = EVBUS_POLICY_OP_REMOVE,
		 .id = 1, .verdict = EVBUS_ALLOW);
	SET_CASE("remove, reserved", -EINVAL, .op = EVBUS_POLICY_OP_REMOVE,
		 .id = 1, .reserved = 1ULL << 63);
	SET_CASE("remove an unknown id", -ENOENT, .op = EVBUS_POLICY_OP_REMOVE, .id = 3);
	SET_CASE("remove id ~0", -ENOENT, .op = EVBUS_POLICY_OP_REMOVE, .id = ~0U);
#undef SET_CASE

	memset(&pl, 0, sizeof(pl));
	pl.rules = (uintptr_t)ri;
	pl.count = 2;
	pl.flags = 1;
	EXPECT_EQ(-1, ioctl(self->own, EVBUS_IOC_POLICY_LIST, &pl));
	EXPECT_EQ(EINVAL, errno);
	pl.flags = 0;
	pl.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->own, EVBUS_IOC_POLICY_LIST, &pl));
	EXPECT_EQ(EINVAL, errno);
	pl.reserved = 0;
	pl.rules = 8;
	EXPECT_EQ(-1, ioctl(self->own, EVBUS_IOC_POLICY_LIST, &pl));
	EXPECT_EQ(EFAULT, errno);

	/* BUS_STATS is size-versioned: too small, flags, too big. */
	memset(&big, 0xff, sizeof(big));
	big.bs.size = EVBUS_BUS_STATS_SIZE_VER0 - 8;
	big.bs.flags = 0;
	EXPECT_EQ(-1, ioctl(self->own, EVBUS_IOC_BUS_STATS, &big));
	EXPECT_EQ(EINVAL, errno);
	big.bs.size = sizeof(big.bs);
	big.bs.flags = 1;
	EXPECT_EQ(-1, ioctl(self->own, EVBUS_IOC_BUS_STATS, &big));
	EXPECT_EQ(EINVAL, errno);
	/* A newer caller's larger struct: the tail it has is zeroed. */
	big.bs.size = sizeof(big);
	big.bs.flags = 0;
	EXPECT_EQ(0, ioctl(self->own, EVBUS_IOC_BUS_STATS, &big));
	for (size_t i = 0; i < sizeof(big.tail); i++) {
		if (big.tail[i]) {
			EXPECT_EQ(0, big.tail[i]) TH_LOG("tail byte %zu not zeroed", i);
			break;
		}
	}
	EXPECT_EQ(2, big.bs.policy_rules);
	EXPECT_EQ(0, big.bs.reserved);

	ASSERT_EQ(0, take_snap(self->own, &after));
	expect_same_policy(_metadata, &before, &after, "after bad calls");
	/* No id was taken by a refused add. */
	EXPECT_EQ(3, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "ok.>", 0));
}

TEST_F(policy, max_rules_caps_the_policy)
{
	unsigned long long v = 0;
	struct evbus_policy_list pl;
	char pat[32];

	ASSERT_EQ(0, evt_param_set("max_rules", 4));
	for (int i = 1; i <= 4; i++) {
		snprintf(pat, sizeof(pat), "cap.r%d", i);
		EXPECT_EQ(i, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					    EVBUS_WHO_ALL, 0, pat, 0));
	}
	EXPECT_EQ(-ENOSPC, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					  EVBUS_WHO_ALL, 0, "cap.r5", 0));
	ASSERT_EQ(0, evt_policy_list(self->own, NULL, 0, 0, &pl));
	EXPECT_EQ(4, pl.total);
	/* Room again after a removal; the next id is still new. */
	EXPECT_EQ(0, evt_policy_remove(self->own, 2));
	EXPECT_EQ(5, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "cap.r5", 0));
	EXPECT_EQ(-ENOSPC, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
					  EVBUS_WHO_ALL, 0, "cap.r6", 0));
	/* Lowering the cap below the policy keeps the rules, refuses more. */
	ASSERT_EQ(0, evt_param_set("max_rules", 0));
	EXPECT_EQ(-ENOSPC, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					  EVBUS_WHO_ALL, 0, "cap.r6", 0));
	ASSERT_EQ(0, evt_policy_list(self->own, NULL, 0, 0, &pl));
	EXPECT_EQ(4, pl.total);
	EXPECT_EQ(-EACCES, try_pub(self->own, "cap.r5"));
	/* The parameter's range is 0..65536. */
	EXPECT_EQ(-EINVAL, evt_param_set("max_rules", 65537));
	ASSERT_EQ(0, evt_param_get("max_rules", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, evt_param_set("max_rules", 65536));
}

static void expect_rule(struct __test_metadata *_metadata,
			const struct evbus_rule_info *ri, uint32_t id,
			uint32_t verdict, uint32_t rights, uint32_t who,
			uint32_t id_value, const char *pattern)
{
	size_t len = strlen(pattern);

	EXPECT_EQ(id, ri->id);
	EXPECT_EQ(verdict, ri->verdict) TH_LOG("rule %u", id);
	EXPECT_EQ(rights, ri->rights) TH_LOG("rule %u", id);
	EXPECT_EQ(who, ri->who) TH_LOG("rule %u", id);
	EXPECT_EQ(id_value, ri->id_value) TH_LOG("rule %u", id);
	EXPECT_EQ(len, ri->pattern_len) TH_LOG("rule %u", id);
	EXPECT_EQ(0, memcmp(ri->pattern, pattern, len + 1)) TH_LOG("rule %u: '%s'",
								   id, ri->pattern);
	for (size_t i = len; i < sizeof(ri->pattern); i++)
		if (ri->pattern[i]) {
			EXPECT_EQ(0, ri->pattern[i]) TH_LOG("rule %u: byte %zu after the pattern",
							    id, i);
			break;
		}
}

/* The rules as seen from a user namespace mapping 0 <-> 1000, 0 <-> 2000 (gids). */
struct ns_view {
	int err;
	struct evbus_policy_list pl;
	struct evbus_rule_info ri[8];
};

TEST_F(policy, list_shows_rules_in_id_order_with_their_fields)
{
	const uint32_t PS = EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE;
	struct evbus_rule_info ri[8];
	struct evbus_policy_list pl;
	struct ns_view *view = evt_shared(sizeof(*view));
	int ready[2], go[2], fd;
	char path[64], c;
	pid_t pid;

	ASSERT_NE(NULL, view);
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 1000, "app.>", 0));
	ASSERT_EQ(2, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_GID, 2000, "app.secret.*", 0));
	ASSERT_EQ(3, evt_policy_add(self->own, EVBUS_ALLOW, PS, EVBUS_WHO_ALL, 0,
				    "$sys.>", 0));
	ASSERT_EQ(4, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_UID, 0, "root.only", 0));

	memset(ri, 0x5a, sizeof(ri));
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 8, 0, &pl));
	EXPECT_EQ(4, pl.count);
	EXPECT_EQ(4, pl.total);
	EXPECT_EQ(EVBUS_ALLOW, pl.policy_default);
	expect_rule(_metadata, &ri[0], 1, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
		    EVBUS_WHO_UID, 1000, "app.>");
	expect_rule(_metadata, &ri[1], 2, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
		    EVBUS_WHO_GID, 2000, "app.secret.*");
	expect_rule(_metadata, &ri[2], 3, EVBUS_ALLOW, PS, EVBUS_WHO_ALL, 0, "$sys.>");
	expect_rule(_metadata, &ri[3], 4, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
		    EVBUS_WHO_UID, 0, "root.only");
	/* Nothing written past count. */
	EXPECT_EQ(0x5a5a5a5a, ri[4].id);

	/* Paging by start_id and count. */
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 2, 0, &pl));
	EXPECT_EQ(2, pl.count);
	EXPECT_EQ(4, pl.total);
	EXPECT_EQ(1, ri[0].id);
	EXPECT_EQ(2, ri[1].id);
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 2, 3, &pl));
	EXPECT_EQ(2, pl.count);
	EXPECT_EQ(3, ri[0].id);
	EXPECT_EQ(4, ri[1].id);
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 8, 4, &pl));
	EXPECT_EQ(1, pl.count);
	EXPECT_EQ(4, ri[0].id);
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 8, 5, &pl));
	EXPECT_EQ(0, pl.count);
	EXPECT_EQ(4, pl.total);
	ASSERT_EQ(0, evt_policy_list(self->own, NULL, 0, 0, &pl));
	EXPECT_EQ(0, pl.count);
	EXPECT_EQ(4, pl.total);

	/* Seen from a user namespace: uid 1000 is 0 there, gid 2000 is 0, 0 unmapped. */
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(20);
		close(go[1]);
		view->err = unshare(CLONE_NEWUSER) ? errno : 0;
		if (write(ready[1], "r", 1) != 1 || view->err)
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		view->err = evt_policy_list(self->own, view->ri, 8, 0, &view->pl);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	if (view->err == EINVAL || view->err == EPERM) {
		close(go[1]);
		evt_wait(pid);
		SKIP(return, "no user namespaces: %s", strerror(view->err));
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	ASSERT_EQ(0, evt_write_text(path, "0 1000 1\n"));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	ASSERT_EQ(0, evt_write_text(path, "0 2000 1\n"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, evt_wait(pid));
	EXPECT_EQ(0, view->err);
	EXPECT_EQ(4, view->pl.count);
	expect_rule(_metadata, &view->ri[0], 1, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
		    EVBUS_WHO_UID, 0, "app.>");
	expect_rule(_metadata, &view->ri[1], 2, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
		    EVBUS_WHO_GID, 0, "app.secret.*");
	expect_rule(_metadata, &view->ri[3], 4, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
		    EVBUS_WHO_UID, 65534, "root.only");

	/* Ids are never reused on the bus, not even after a clear. */
	EXPECT_EQ(0, evt_policy_remove(self->own, 4));
	EXPECT_EQ(5, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "x.y", 0));
	EXPECT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 8, 0, &pl));
	EXPECT_EQ(0, pl.count);
	EXPECT_EQ(0, pl.total);
	EXPECT_EQ(EVBUS_ALLOW, pl.policy_default);
	EXPECT_EQ(6, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "x.y", 0));

	/* A non-owner reads the same list. */
	fd = evt_open_as(&NOBODY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_policy_list(fd, ri, 8, 0, &pl));
	EXPECT_EQ(1, pl.count);
	expect_rule(_metadata, &ri[0], 6, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
		    EVBUS_WHO_ALL, 0, "x.y");
	close(fd);
}

TEST_F(policy, remove_and_clear_restore_access)
{
	struct evbus_bus_stats bs;
	int fd = evt_open_as(&U1000), r1, r2;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	r1 = evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
			    EVBUS_WHO_ALL, 0, "app.>", 0);
	r2 = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
			    EVBUS_WHO_UID, 1000, "app.x", 0);
	ASSERT_EQ(1, r1);
	ASSERT_EQ(2, r2);
	EXPECT_EQ(-EACCES, try_pub(fd, "app.x"));
	EXPECT_EQ(0, try_pub(fd, "app.y"));
	EXPECT_EQ(-EACCES, try_pub(fd, "web.z"));

	EXPECT_EQ(0, evt_policy_remove(self->own, r2));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.policy_rules);
	EXPECT_EQ(0, try_pub(fd, "app.x"));
	EXPECT_EQ(-ENOENT, evt_policy_remove(self->own, r2));

	EXPECT_EQ(0, evt_policy_remove(self->own, r1));
	EXPECT_EQ(-EACCES, try_pub(fd, "app.y"));

	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "web.>", 0));
	EXPECT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.policy_rules);
	EXPECT_EQ(EVBUS_ALLOW, bs.policy_default);
	EXPECT_EQ(0, try_pub(fd, "web.z"));
	EXPECT_EQ(0, try_pub(fd, "app.x"));
	close(fd);
}

TEST_F(policy, change_without_revoke_keeps_subscriptions)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[8];
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int fd = evt_open_as(&U1000), n;
	ssize_t len;

	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(fd, "app.>"));
	ASSERT_LT(0, evt_sub(fd, "web.>"));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, ">", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "app.>", 0));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));

	ASSERT_EQ(1, evt_pub(self->own, "app.a", "1"));
	ASSERT_EQ(2, evt_pub(self->own, "web.b", "2"));
	len = evt_drain(fd, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 8);
	ASSERT_EQ(2, n);
	EXPECT_STREQ("app.a", EVBUS_EVENT_TOPIC(evt_as_event(rec[0])));
	EXPECT_STREQ("web.b", EVBUS_EVENT_TOPIC(evt_as_event(rec[1])));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(2, st.subscriptions);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.revoked);
	EXPECT_EQ(2, bs.subscriptions);
	/* New subscriptions are checked against the new policy. */
	EXPECT_EQ(-EACCES, try_sub(fd, "app.y"));
	EXPECT_EQ(-EACCES, try_sub(fd, "web.y"));
	close(fd);
}

static void expect_revoked(struct __test_metadata *_metadata,
			   const struct evbus_rec_hdr *rec, int sub_id,
			   uint32_t reason, uint64_t seq)
{
	const struct evbus_revoked *rv = (const void *)rec;

	ASSERT_NE(NULL, rec);
	ASSERT_EQ(EVBUS_REC_REVOKED, rec->kind) TH_LOG("not a REVOKED record");
	EXPECT_EQ(sizeof(*rv), rec->len);
	EXPECT_EQ(sizeof(*rv), rec->hdr_len);
	EXPECT_EQ(sub_id, rv->sub_id);
	EXPECT_EQ(reason, rv->reason) TH_LOG("sub %d", sub_id);
	EXPECT_EQ(seq, rv->seq) TH_LOG("sub %d", sub_id);
}

static void expect_event(struct __test_metadata *_metadata,
			 const struct evbus_rec_hdr *rec, const char *topic,
			 uint64_t seq)
{
	const struct evbus_event *e = evt_as_event(rec);

	ASSERT_NE(NULL, e) TH_LOG("expected event %s (seq %llu)", topic,
				  (unsigned long long)seq);
	EXPECT_STREQ(topic, EVBUS_EVENT_TOPIC(e));
	EXPECT_EQ(seq, e->seq) TH_LOG("%s", topic);
}

TEST_F(policy, revoke_removes_exactly_the_refused_subscriptions)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[16];
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int a = evt_open_as(&U1000), b = evt_open_as(&U1001);
	int c = evt_open_as(&U1000);
	int s1, s2, s3, s4, t1, u1, n, keep;
	long long revoked0 = evt_sysfs_stat("revoked");
	ssize_t len;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_LE(0, revoked0);
	s1 = evt_sub(a, "app.secret.>");
	s2 = evt_sub(a, "app.public.>");
	s3 = evt_sub(a, "app.>");
	s4 = evt_sub(a, "web.x");
	t1 = evt_sub(b, "app.secret.>");
	u1 = evt_sub(c, "other.x");
	ASSERT_LT(0, s1);
	ASSERT_LT(0, s2);
	ASSERT_LT(0, s3);
	ASSERT_LT(0, s4);
	ASSERT_LT(0, t1);
	ASSERT_LT(0, u1);

	ASSERT_EQ(1, evt_pub(self->own, "app.secret.a", "1"));
	/* Revoke what uid 1000 may no longer subscribe to: s1 and s3. */
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "app.secret.>",
				    EVBUS_POLICY_REVOKE));
	ASSERT_EQ(2, evt_pub(self->own, "app.secret.b", "2"));
	ASSERT_EQ(3, evt_pub(self->own, "app.public.c", "3"));
	ASSERT_EQ(4, evt_pub(self->own, "other.x", "4"));
	ASSERT_EQ(5, evt_pub(self->own, "web.x", "5"));

	len = evt_drain(a, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(5, n) TH_LOG("uid 1000's reader: %d records", n);
	expect_event(_metadata, rec[0], "app.secret.a", 1);
	expect_revoked(_metadata, rec[1], s1, EVBUS_DENY_RULE, 1);
	expect_revoked(_metadata, rec[2], s3, EVBUS_DENY_RULE, 1);
	expect_event(_metadata, rec[3], "app.public.c", 3);
	expect_event(_metadata, rec[4], "web.x", 5);
	ASSERT_EQ(0, evt_stats(a, &st));
	EXPECT_EQ(2, st.subscriptions);
	EXPECT_EQ(-ENOENT, evt_unsub(a, s1));
	EXPECT_EQ(-ENOENT, evt_unsub(a, s3));

	/* Another uid's identical subscription stays. */
	len = evt_drain(b, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(2, n);
	expect_event(_metadata, rec[0], "app.secret.a", 1);
	expect_event(_metadata, rec[1], "app.secret.b", 2);
	/* And the same uid's unaffected file. */
	len = evt_drain(c, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(1, n);
	expect_event(_metadata, rec[0], "other.x", 4);

	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.revoked);
	EXPECT_EQ(4, bs.subscriptions);

	/*
	 * A default of deny with REVOKE: what lies within no allow rule goes,
	 * for the default (root needs an allow rule to publish, added first).
	 */
	ASSERT_EQ(2, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, ">", 0));
	keep = evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
			      EVBUS_WHO_ALL, 0, "app.public.>", 0);
	ASSERT_EQ(3, keep);
	ASSERT_EQ(0, evt_policy_set(self->own, EVBUS_POLICY_OP_DEFAULT, EVBUS_DENY,
				    0, EVBUS_POLICY_REVOKE));
	ASSERT_EQ(6, evt_pub(self->own, "app.public.d", "6"));
	ASSERT_EQ(7, evt_pub(self->own, "web.x", "7"));

	len = evt_drain(a, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(2, n);
	expect_revoked(_metadata, rec[0], s4, EVBUS_DENY_DEFAULT, 5);
	expect_event(_metadata, rec[1], "app.public.d", 6);
	len = evt_drain(b, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(1, n);
	expect_revoked(_metadata, rec[0], t1, EVBUS_DENY_DEFAULT, 5);
	len = evt_drain(c, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(1, n);
	expect_revoked(_metadata, rec[0], u1, EVBUS_DENY_DEFAULT, 5);

	/* Removing the allow rule with REVOKE takes the last one. */
	ASSERT_EQ(0, evt_policy_set(self->own, EVBUS_POLICY_OP_REMOVE, 0, keep,
				    EVBUS_POLICY_REVOKE));
	len = evt_drain(a, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(1, n);
	expect_revoked(_metadata, rec[0], s2, EVBUS_DENY_DEFAULT, 7);
	ASSERT_EQ(0, evt_stats(a, &st));
	EXPECT_EQ(0, st.subscriptions);

	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(6, bs.revoked);
	EXPECT_EQ(0, bs.subscriptions);
	EXPECT_EQ(revoked0 + 6, evt_sysfs_stat("revoked"));
	/* Revocations are not refusals. */
	EXPECT_EQ(0, bs.denied_rule);
	EXPECT_EQ(0, bs.denied_default);
	close(a);
	close(b);
	close(c);
}

/* EVBUS_IOC_NARROW to publish on pattern only (subscribe set kept). */
static int narrow_publish(int fd, const char *pattern)
{
	struct evbus_pattern p = { .ptr = (uintptr_t)pattern, .len = strlen(pattern) };
	struct evbus_scope sc;

	memset(&sc, 0, sizeof(sc));
	sc.publish = (uintptr_t)&p;
	sc.n_publish = 1;
	sc.flags = EVBUS_SCOPE_KEEP_SUBSCRIBE;
	return ioctl(fd, EVBUS_IOC_NARROW, &sc) ? -errno : 0;
}

TEST_F(policy, denials_are_counted_by_cause)
{
	static const char *const causes[] = {
		"denied_rule", "denied_default", "denied_scope", "denied_reserved",
	};
	const long long want[] = { 2, 3, 1, 1 };
	long long before[4], after[4];
	struct evbus_bus_stats bs;
	int fd = evt_open_as(&U1000), scoped = evt_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, scoped);
	ASSERT_EQ(0, narrow_publish(scoped, "app.a.>"));
	for (int i = 0; i < 4; i++) {
		before[i] = evt_sysfs_stat(causes[i]);
		ASSERT_LE(0, before[i]) TH_LOG("no sysfs counter %s", causes[i]);
	}
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW,
				    EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, "app.>", 0));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "app.secret.>", 0));

	EXPECT_EQ(-EACCES, try_pub(fd, "app.secret.x"));	/* rule */
	EXPECT_EQ(-EACCES, try_pub(fd, "app.secret.y"));	/* rule */
	EXPECT_EQ(-EACCES, try_pub(fd, "web.x"));		/* default */
	EXPECT_EQ(-EACCES, try_sub(fd, "web.>"));		/* default */
	EXPECT_EQ(-EACCES, try_sub(fd, ">"));			/* default */
	EXPECT_EQ(-EACCES, try_pub(scoped, "app.b"));		/* scope */
	EXPECT_EQ(-EACCES, try_pub(fd, "$sys.x"));		/* reserved */
	/* Not refusals: allowed calls, and malformed ones (EINVAL). */
	EXPECT_EQ(0, try_pub(fd, "app.x"));
	EXPECT_EQ(0, try_pub(scoped, "app.a.b"));
	EXPECT_EQ(-EINVAL, try_pub(fd, "app..x"));

	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(want[0], bs.denied_rule);
	EXPECT_EQ(want[1], bs.denied_default);
	EXPECT_EQ(want[2], bs.denied_scope);
	EXPECT_EQ(want[3], bs.denied_reserved);
	EXPECT_EQ(2, bs.published);
	for (int i = 0; i < 4; i++) {
		after[i] = evt_sysfs_stat(causes[i]);
		EXPECT_EQ(want[i], after[i] - before[i]) {
			TH_LOG("sysfs %s", causes[i]);
		}
	}
	close(scoped);
	close(fd);
}

/* A whole small tracefs file, or NULL. */
static char *read_all(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *s = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !s) {
		free(s);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, s + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096)
			s = realloc(s, cap *= 2);
	}
	s[len] = 0;
	close(fd);
	return s;
}

/* What the refused process reports to the test. */
struct refused {
	int pid;
	long long file_id;
	int pub_err, sub_err;
};

TEST_F(policy, denied_tracepoint_fires_with_who_and_what)
{
	struct refused *r = evt_shared(sizeof(*r));
	struct evbus_bus_stats bs;
	char want[256], on[8] = "";
	char *trace;
	int rule, fd;
	pid_t pid;

	ASSERT_NE(NULL, r);
	if (access(TRACE_DIR "events/evbus/evbus_denied/enable", W_OK))
		SKIP(return, "tracefs absent (no %s): evbus_denied not checked",
		     TRACE_DIR "events/evbus/evbus_denied");
	fd = open(TRACE_DIR "tracing_on", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, on, 1) != 1)
			on[0] = 0;
		close(fd);
	}
	ASSERT_EQ(0, evt_write_text(TRACE_DIR "tracing_on", "0"));
	fd = open(TRACE_DIR "trace", O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, evt_write_text(TRACE_DIR "events/evbus/evbus_denied/enable", "1"));
	ASSERT_EQ(0, evt_write_text(TRACE_DIR "events/evbus/evbus_policy/enable", "1"));
	ASSERT_EQ(0, evt_write_text(TRACE_DIR "tracing_on", "1"));

	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	rule = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
			      EVBUS_WHO_UID, 1000, "app.secret.>", 0);
	ASSERT_EQ(1, rule);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(20);
		if (evt_become(&U1000))
			_exit(2);
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		r->pid = getpid();
		r->file_id = evt_file_id(fd);
		r->pub_err = try_pub(fd, "app.secret.x");
		r->sub_err = try_sub(fd, "web.>");
		_exit(0);
	}
	ASSERT_EQ(0, evt_wait(pid));

	evt_write_text(TRACE_DIR "tracing_on", "0");
	evt_write_text(TRACE_DIR "events/evbus/evbus_denied/enable", "0");
	evt_write_text(TRACE_DIR "events/evbus/evbus_policy/enable", "0");
	trace = read_all(TRACE_DIR "trace");
	if (on[0])
		evt_write_text(TRACE_DIR "tracing_on", on[0] == '1' ? "1" : "0");
	ASSERT_NE(NULL, trace);
	EXPECT_EQ(-EACCES, r->pub_err);
	EXPECT_EQ(-EACCES, r->sub_err);
	ASSERT_LT(0, r->file_id);

	snprintf(want, sizeof(want),
		 "evbus_denied: file=%lld pid=%d uid=1000 right=publish cause=rule rule=%d topic=app.secret.x",
		 r->file_id, r->pid, rule);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	snprintf(want, sizeof(want),
		 "evbus_denied: file=%lld pid=%d uid=1000 right=subscribe cause=default rule=0 topic=web.>",
		 r->file_id, r->pid);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	snprintf(want, sizeof(want),
		 "evbus_policy: bus=%llu pid=%d rule=%d verdict=%d rights=0x1 pattern=app.secret.>",
		 (unsigned long long)bs.bus_id, getpid(), rule, EVBUS_DENY);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	free(trace);
}

/*
 * Read fd until it is empty and check its REVOKED notices: each sub id in
 * 1..nsubs exactly once, ids up to split with seq1 and after it with seq2,
 * and all of the first group before any of the second.  Returns how many,
 * or -1 (with why).
 */
static int drain_notices(struct __test_metadata *_metadata, int fd, int nsubs,
			 int split, uint64_t seq1, uint64_t seq2)
{
	static char buf[1 << 20];
	const struct evbus_rec_hdr *h;
	ssize_t len = evt_drain(fd, buf, sizeof(buf)), left;
	uint8_t seen[256] = {};
	int n = 0, second = 0;

	if (len < 0 || nsubs >= 256)
		return -1;
	evt_for_each_rec(h, buf, len, left) {
		const struct evbus_revoked *rv = (const void *)h;
		bool first;

		if (h->kind != EVBUS_REC_REVOKED)
			continue;
		first = rv->sub_id <= (uint32_t)split;
		if (!rv->sub_id || rv->sub_id > (uint32_t)nsubs || seen[rv->sub_id] ||
		    rv->seq != (first ? seq1 : seq2) || (first && second)) {
			TH_LOG("notice %d: sub %u seq %llu", n, rv->sub_id,
			       (unsigned long long)rv->seq);
			return -1;
		}
		seen[rv->sub_id] = 1;
		second += !first;
		n++;
	}
	return n;
}

/*
 * A reader that never reads cannot make a revocation wait: with notices
 * filling the head of a 4 KiB ring and events behind them, the change
 * returns, the notices that do not fit follow once the reader reads, every
 * one exactly once, and revoked subscriptions count against max_subs until
 * then (the fuzzer found the revoker spinning here, holding files_lock).
 */
TEST_F_TIMEOUT(policy, revocation_never_waits_for_a_reader, 120)
{
	unsigned long long max_subs = 0;
	struct evbus_bus_stats bs;
	int rd, pub, i, half, rule;
	uint64_t seq1;
	char pat[32];

	ASSERT_EQ(0, evt_param_get("max_subs", &max_subs));
	ASSERT_LE(4, max_subs);
	ASSERT_GE(128, max_subs);
	half = (int)max_subs / 2;
	rd = evt_open();
	pub = evt_open();
	ASSERT_LE(0, rd);
	ASSERT_LE(0, pub);
	ASSERT_EQ(0, evt_set_ring(rd, 4096, EVBUS_POLICY_DROP_OLDEST));

	/* Round 1: half the subscriptions revoked, their notices queued. */
	for (i = 0; i < half; i++) {
		snprintf(pat, sizeof(pat), "rv.a%d", i);
		ASSERT_EQ(i + 1, evt_sub(rd, pat));
	}
	ASSERT_EQ(0, evt_bus_stats(pub, &bs));
	seq1 = bs.seq;
	rule = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
			      EVBUS_WHO_ALL, 0, "rv.>", EVBUS_POLICY_REVOKE);
	ASSERT_LT(0, rule);
	ASSERT_EQ(0, evt_policy_remove(self->own, rule));

	/* Unread, they still count: only max_subs - half more. */
	for (i = 0; i < (int)max_subs - half; i++) {
		snprintf(pat, sizeof(pat), "rv.b%d", i);
		ASSERT_EQ(half + i + 1, evt_sub(rd, pat));
	}
	EXPECT_EQ(-ENOSPC, evt_sub(rd, "rv.one_more"));

	/* Events fill the ring behind the notices, which are never evicted. */
	for (i = 0; i < 400; i++)
		ASSERT_LT(0, evt_pub(pub, "rv.b0", "0123456789abcdef"));

	/* Round 2: no room for these notices; the change returns anyway. */
	rule = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
			      EVBUS_WHO_ALL, 0, "rv.>", EVBUS_POLICY_REVOKE);
	ASSERT_LT(0, rule);
	ASSERT_EQ(0, evt_policy_remove(self->own, rule));
	ASSERT_EQ(0, evt_bus_stats(pub, &bs));
	EXPECT_EQ(max_subs, bs.revoked);
	EXPECT_EQ(-ENOSPC, evt_sub(rd, "rv.still_full"));

	/* Reading delivers every notice once, round 1's first. */
	EXPECT_EQ((int)max_subs, drain_notices(_metadata, rd, (int)max_subs,
					       half, seq1, bs.seq));
	/* Read: the subscriptions no longer count. */
	EXPECT_LT(0, evt_sub(rd, "rv.x"));
	close(rd);
	close(pub);
}

TEST_HARNESS_MAIN
