// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel topics (#13): "$sys" as a first segment is the kernel's.  Nobody
 * else publishes there (EACCES, counted in denied_reserved), '$' is invalid
 * anywhere else (EINVAL), wildcards in the first segment never reach
 * kernel events, and the kernel publishes $sys.file.open/close (with the
 * holder's pid and uid, as every event carries its sender's) and
 * $sys.policy.denied (who was refused what, struct evbus_sys_denied).  The
 * owner may deny subscribing to them.
 *
 * Every test runs in its own IPC namespace, so on a bus of its own: the
 * kernel events it sees are those of its own files only.
 */
#include "evbus_test.h"
#include "kselftest_harness.h"

#define BUF_SIZE	(256 * 1024)

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };
static const struct evt_ids U1001 = { 1001, 1001, 0, { 0 } };

static pid_t runner;

static void __attribute__((constructor)) save_state(void)
{
	runner = getpid();
	evt_dev_save_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == runner)
		evt_dev_restore_mode();
}

FIXTURE(sys) {
	int own;
};

FIXTURE_SETUP(sys)
{
	struct evbus_bus_stats bs;

	self->own = -1;
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_open_bus();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(-self->own));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	ASSERT_EQ(0, bs.policy_rules);
	ASSERT_EQ(0, bs.seq);
}

FIXTURE_TEARDOWN(sys)
{
	if (self->own >= 0) {
		EXPECT_EQ(0, evt_policy_clear(self->own));
		close(self->own);
	}
	evt_dev_restore_mode();
}

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

static int sub2(int fd, const char *pattern)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &s))
		return -errno;
	return 0;
}

/* The topics of the events queued on fd, as "a|b|c|" ("!KIND|" for others). */
static void topics(int fd, char *out, size_t cap)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[64];
	ssize_t len = evt_drain(fd, buf, sizeof(buf));
	int n = evt_records(buf, len, rec, 64);

	out[0] = 0;
	for (int i = 0; i < n && i < 64; i++) {
		const struct evbus_event *e = evt_as_event(rec[i]);
		size_t l = strlen(out);

		snprintf(out + l, cap - l, "%s|", e ? EVBUS_EVENT_TOPIC(e) : "!KIND");
	}
}

/* The payload of a $sys.policy.denied event, checked for its shape. */
static const struct evbus_sys_denied *denied_of(struct __test_metadata *_metadata,
						const struct evbus_event *e)
{
	const struct evbus_sys_denied *d;

	if (!e) {
		EXPECT_NE(NULL, e);
		return NULL;
	}
	EXPECT_STREQ("$sys.policy.denied", EVBUS_EVENT_TOPIC(e));
	if (e->payload_len < sizeof(*d)) {
		EXPECT_LE(sizeof(*d), e->payload_len);
		return NULL;
	}
	d = EVBUS_EVENT_PAYLOAD(e);
	EXPECT_EQ(sizeof(*d) + d->topic_len, e->payload_len);
	return d;
}

static void expect_denied(struct __test_metadata *_metadata,
			  const struct evbus_event *e, long long file_id,
			  uint32_t right, uint32_t cause, uint32_t rule,
			  const char *topic)
{
	const struct evbus_sys_denied *d = denied_of(_metadata, e);

	if (!d)
		return;
	EXPECT_EQ(file_id, d->file_id) TH_LOG("%s", topic);
	EXPECT_EQ(right, d->right) TH_LOG("%s", topic);
	EXPECT_EQ(cause, d->cause) TH_LOG("%s", topic);
	EXPECT_EQ(rule, d->rule_id) TH_LOG("%s", topic);
	EXPECT_EQ(strlen(topic), d->topic_len) TH_LOG("%s", topic);
	if (d->topic_len == strlen(topic)) {
		EXPECT_EQ(0, memcmp(d->topic, topic, d->topic_len))
			TH_LOG("refused topic '%.*s', not '%s'", (int)d->topic_len,
			       d->topic, topic);
	}
}

TEST_F(sys, publishing_on_sys_is_eacces_and_counted)
{
	static const char *const reserved[] = {
		"$sys.file.open", "$sys.file.close", "$sys.policy.denied",
		"$sys.x", "$sys", "$sys.a.b.c.d",
	};
	const int nres = ARRAY_SIZE(reserved);
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[64];
	struct evbus_pub ev[2];
	struct evbus_pub_batch b;
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int fd = evt_open_as(&U1000), watch = evt_open(), n, k = 0;
	long long own_id = evt_file_id(self->own), fd_id = evt_file_id(fd);
	long long before = evt_sysfs_stat("denied_reserved");
	ssize_t len;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, watch);
	ASSERT_LE(0, before);
	ASSERT_LT(0, own_id);
	ASSERT_LT(0, fd_id);
	ASSERT_LT(0, evt_sub(watch, "$sys.>"));

	for (int i = 0; i < nres; i++) {
		EXPECT_EQ(-EACCES, evt_pub(self->own, reserved[i], "forged"))
			TH_LOG("root published on %s", reserved[i]);
		EXPECT_EQ(-EACCES, evt_pub(fd, reserved[i], "forged"))
			TH_LOG("uid 1000 published on %s", reserved[i]);
	}
	/* A batch stops at the reserved topic. */
	memset(ev, 0, sizeof(ev));
	memset(&b, 0, sizeof(b));
	ev[0].topic = (uintptr_t)"app.ok";
	ev[0].topic_len = 6;
	ev[1].topic = (uintptr_t)"$sys.x";
	ev[1].topic_len = 6;
	b.events = (uintptr_t)ev;
	b.count = 2;
	EXPECT_EQ(1, ioctl(self->own, EVBUS_IOC_PUBLISH_BATCH, &b));
	EXPECT_EQ(-EACCES, b.error);
	EXPECT_EQ(1, b.error_index);

	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2 * nres + 1, bs.denied_reserved);
	EXPECT_EQ(0, bs.denied_rule);
	EXPECT_EQ(0, bs.denied_default);
	EXPECT_EQ(before + 2 * nres + 1, evt_sysfs_stat("denied_reserved"));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.published);

	/* What the watcher got: refusals only, never a forged event. */
	len = evt_drain(watch, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 64);
	ASSERT_EQ(2 * nres + 1, n);
	for (int i = 0; i < nres; i++) {
		for (int who = 0; who < 2; who++) {
			const struct evbus_event *e = evt_as_event(rec[k++]);

			expect_denied(_metadata, e, who ? fd_id : own_id,
				      EVBUS_RIGHT_PUBLISH, EVBUS_DENY_RESERVED, 0,
				      reserved[i]);
			if (e) {
				EXPECT_EQ(getpid(), e->pid);
			}
		}
	}
	expect_denied(_metadata, evt_as_event(rec[k]), own_id, EVBUS_RIGHT_PUBLISH,
		      EVBUS_DENY_RESERVED, 0, "$sys.x");
	close(watch);
	close(fd);
}

TEST_F(sys, dollar_outside_a_leading_sys_segment_is_einval)
{
	static const char *const bad_topics[] = {
		"app.$sys", "$sysx.a", "$SYS.a", "$", "$.a", "a$b", "app.$",
		"$sys$", "sys$.a", "$$sys.a", "$sys.$x", "$sys.a$", "a.$sys.b",
	};
	static const char *const bad_patterns[] = {
		"app.$sys.>", "$*", "$>", "*.$sys", "$sysx.>", "$sys.$x", "$.>",
		"$sys*", "$sys>", "app.$sys",
	};
	static const char *const good_patterns[] = {
		"$sys", "$sys.>", "$sys.*.open", "$sys.file.*", "$sys.policy.denied",
	};
	const int nbt = ARRAY_SIZE(bad_topics);
	const int nbp = ARRAY_SIZE(bad_patterns);
	const int ngp = ARRAY_SIZE(good_patterns);
	long long einval0 = evt_sysfs_stat("publish_err_einval");
	struct evbus_policy_list pl;
	struct evbus_bus_stats bs;
	struct evbus_stats st;

	ASSERT_LE(0, einval0);
	for (int i = 0; i < nbt; i++) {
		EXPECT_EQ(-EINVAL, evt_pub(self->own, bad_topics[i], NULL))
			TH_LOG("publish %s", bad_topics[i]);
		/* A bad topic is no pattern either. */
		EXPECT_EQ(-EINVAL, try_sub(self->own, bad_topics[i]))
			TH_LOG("subscribe %s", bad_topics[i]);
	}
	for (int i = 0; i < nbp; i++) {
		EXPECT_EQ(-EINVAL, try_sub(self->own, bad_patterns[i]))
			TH_LOG("subscribe %s", bad_patterns[i]);
		EXPECT_EQ(-EINVAL, sub2(self->own, bad_patterns[i]))
			TH_LOG("SUBSCRIBE2 %s", bad_patterns[i]);
		EXPECT_EQ(-EINVAL, evt_policy_add(self->own, EVBUS_DENY,
						  EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL,
						  0, bad_patterns[i], 0))
			TH_LOG("rule on %s", bad_patterns[i]);
	}
	for (int i = 0; i < ngp; i++) {
		EXPECT_EQ(0, try_sub(self->own, good_patterns[i]))
			TH_LOG("subscribe %s", good_patterns[i]);
		EXPECT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW,
					    EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL,
					    0, good_patterns[i], 0))
			TH_LOG("rule on %s", good_patterns[i]);
	}
	ASSERT_EQ(0, evt_stats(self->own, &st));
	EXPECT_EQ(ngp, st.subscriptions);
	EXPECT_EQ(0, st.published);
	ASSERT_EQ(0, evt_policy_list(self->own, NULL, 0, 0, &pl));
	EXPECT_EQ(ngp, pl.total);
	/* Malformed is not refused: EINVAL is counted as such, not as a denial. */
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.denied_reserved);
	EXPECT_EQ(0, bs.denied_rule);
	EXPECT_EQ(einval0 + nbt, evt_sysfs_stat("publish_err_einval"));
}

/* A child process opens the device (as ids) and closes it: its file id. */
struct holder {
	pid_t pid;
	long long file_id;
	int err;
};

static void open_close_as(const struct evt_ids *ids, struct holder *h)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		h->err = errno;
		return;
	}
	if (!pid) {
		alarm(20);
		if (ids && evt_become(ids))
			_exit(2);
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		h->pid = getpid();
		h->file_id = evt_file_id(fd);
		close(fd);
		_exit(0);
	}
	h->err = evt_wait(pid);
}

TEST_F(sys, wildcards_in_the_first_segment_never_match_kernel_events)
{
	static const struct { const char *pattern, *want; } subs[] = {
		{ ">",			"app.file.open|" },
		{ "*.file.open",	"app.file.open|" },
		{ "*.*.*",		"app.file.open|" },
		{ "*.file.>",		"app.file.open|" },
		{ "*.>",		"app.file.open|" },
		{ "$sys.>",		"$sys.file.open|$sys.file.close|" },
		{ "$sys.file.open",	"$sys.file.open|" },
		{ "$sys.file.close",	"$sys.file.close|" },
		{ "$sys.*.*",		"$sys.file.open|$sys.file.close|" },
		{ "$sys.file.*",	"$sys.file.open|$sys.file.close|" },
		{ "$sys.*.open",	"$sys.file.open|" },
		{ "$sys",		"" },
	};
	const int nsubs = ARRAY_SIZE(subs);
	struct holder *h = evt_shared(sizeof(*h));
	struct evbus_bus_stats bs;
	char got[1024];
	int fds[16];

	ASSERT_NE(NULL, h);
	for (int i = 0; i < nsubs; i++) {
		fds[i] = evt_open();
		ASSERT_LE(0, fds[i]);
	}
	for (int i = 0; i < nsubs; i++) {
		ASSERT_LT(0, evt_sub(fds[i], subs[i].pattern));
	}
	/* Nothing was numbered yet: no kernel event had a taker when the files opened. */
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.seq);

	open_close_as(&U1000, h);
	ASSERT_EQ(0, h->err);
	ASSERT_EQ(3, evt_pub(self->own, "app.file.open", "app"));
	for (int i = 0; i < nsubs; i++) {
		topics(fds[i], got, sizeof(got));
		EXPECT_STREQ(subs[i].want, got) TH_LOG("subscriber of %s", subs[i].pattern);
	}
	for (int i = 0; i < nsubs; i++)
		close(fds[i]);
}

static void expect_sys_file(struct __test_metadata *_metadata,
			    const struct evbus_rec_hdr *rec, const char *topic,
			    pid_t pid, uid_t uid, gid_t gid, long long file_id)
{
	const struct evbus_event *e = evt_as_event(rec);
	const struct evbus_sys_file *f;

	ASSERT_NE(NULL, e) TH_LOG("no %s event", topic);
	EXPECT_STREQ(topic, EVBUS_EVENT_TOPIC(e));
	EXPECT_EQ(pid, e->pid) TH_LOG("%s", topic);
	EXPECT_EQ(pid, e->tid) TH_LOG("%s", topic);
	EXPECT_EQ(uid, e->uid) TH_LOG("%s", topic);
	EXPECT_EQ(gid, e->gid) TH_LOG("%s", topic);
	EXPECT_EQ(0, e->type);
	EXPECT_EQ(0, e->flags);
	EXPECT_EQ(0, e->corr);
	EXPECT_EQ(0, e->parent);
	EXPECT_NE(0, e->time_ns);
	EXPECT_NE(0, e->mono_ns);
	ASSERT_EQ(sizeof(*f), e->payload_len);
	f = EVBUS_EVENT_PAYLOAD(e);
	EXPECT_EQ(file_id, f->file_id) TH_LOG("%s", topic);
}

TEST_F(sys, file_open_and_close_carry_the_holders_identity)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[16];
	struct holder *h = evt_shared(sizeof(*h));
	int watch = evt_open(), one = evt_open(), n, fd;
	long long fd_id;
	ssize_t len;
	pid_t pid;

	ASSERT_NE(NULL, h);
	ASSERT_LE(0, watch);
	ASSERT_LE(0, one);
	ASSERT_LT(0, evt_sub(watch, "$sys.>"));
	ASSERT_LT(0, evt_sub(one, "$sys.file.open"));

	/* An unprivileged process opens and closes. */
	open_close_as(&U1000, h);
	ASSERT_EQ(0, h->err);
	ASSERT_LT(0, h->file_id);
	len = evt_drain(watch, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(2, n);
	expect_sys_file(_metadata, rec[0], "$sys.file.open", h->pid, 1000, 1000,
			h->file_id);
	expect_sys_file(_metadata, rec[1], "$sys.file.close", h->pid, 1000, 1000,
			h->file_id);
	EXPECT_EQ(1, ((const struct evbus_event *)rec[0])->seq);
	EXPECT_EQ(2, ((const struct evbus_event *)rec[1])->seq);
	len = evt_drain(one, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(1, n);
	expect_sys_file(_metadata, rec[0], "$sys.file.open", h->pid, 1000, 1000,
			h->file_id);

	/* The holder at close time is whoever closes: here root, not the opener. */
	fd = evt_open_as(&U1001);
	ASSERT_LE(0, fd);
	fd_id = evt_file_id(fd);
	ASSERT_LT(0, fd_id);
	close(fd);
	len = evt_drain(watch, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(2, n);
	ASSERT_NE(NULL, evt_as_event(rec[0]));
	EXPECT_NE(getpid(), evt_as_event(rec[0])->pid);
	expect_sys_file(_metadata, rec[0], "$sys.file.open",
			evt_as_event(rec[0])->pid, 1001, 1001, fd_id);
	expect_sys_file(_metadata, rec[1], "$sys.file.close", getpid(), 0, 0, fd_id);

	/* Files of another bus are not this bus's business. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(30);
		if (evt_new_ipc_ns())
			_exit(2);
		fd = evt_open_bus();
		if (fd < 0)
			_exit(3);
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(0, evt_wait(pid));
	len = evt_drain(watch, buf, sizeof(buf));
	EXPECT_EQ(0, len) TH_LOG("a file of another bus was reported here");
	close(one);
	close(watch);
}

struct refused {
	pid_t pid;
	long long file_id;
	int err[4];
};

TEST_F(sys, policy_denied_says_who_was_refused_what)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[16];
	struct refused *r = evt_shared(sizeof(*r));
	struct evbus_pattern p = { .ptr = (uintptr_t)"app.a.>", .len = 7 };
	struct evbus_scope sc;
	int watch = evt_open(), scoped = evt_open(), n, rule, fd;
	long long scoped_id = evt_file_id(scoped);
	uint64_t seq0 = 0;
	ssize_t len;
	pid_t pid;

	ASSERT_NE(NULL, r);
	ASSERT_LE(0, watch);
	ASSERT_LE(0, scoped);
	ASSERT_LT(0, evt_sub(watch, "$sys.policy.denied"));
	memset(&sc, 0, sizeof(sc));
	sc.publish = (uintptr_t)&p;
	sc.n_publish = 1;
	sc.flags = EVBUS_SCOPE_KEEP_SUBSCRIBE;
	ASSERT_EQ(0, ioctl(scoped, EVBUS_IOC_NARROW, &sc));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	rule = evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
			      EVBUS_WHO_UID, 1000, "app.secret.>", 0);
	ASSERT_EQ(1, rule);
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "app.>", 0));

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
		r->err[0] = try_pub(fd, "app.secret.x");
		r->err[1] = try_sub(fd, ">");
		r->err[2] = try_pub(fd, "$sys.file.open");
		r->err[3] = sub2(fd, "web.>");
		_exit(0);
	}
	ASSERT_EQ(0, evt_wait(pid));
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(-EACCES, r->err[i]) TH_LOG("call %d", i);
	}
	EXPECT_EQ(-EACCES, try_pub(scoped, "app.b"));

	len = evt_drain(watch, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 16);
	ASSERT_EQ(5, n);
	expect_denied(_metadata, evt_as_event(rec[0]), r->file_id,
		      EVBUS_RIGHT_PUBLISH, EVBUS_DENY_RULE, rule, "app.secret.x");
	expect_denied(_metadata, evt_as_event(rec[1]), r->file_id,
		      EVBUS_RIGHT_SUBSCRIBE, EVBUS_DENY_DEFAULT, 0, ">");
	expect_denied(_metadata, evt_as_event(rec[2]), r->file_id,
		      EVBUS_RIGHT_PUBLISH, EVBUS_DENY_RESERVED, 0, "$sys.file.open");
	expect_denied(_metadata, evt_as_event(rec[3]), r->file_id,
		      EVBUS_RIGHT_SUBSCRIBE, EVBUS_DENY_DEFAULT, 0, "web.>");
	expect_denied(_metadata, evt_as_event(rec[4]), scoped_id,
		      EVBUS_RIGHT_PUBLISH, EVBUS_DENY_SCOPE, 0, "app.b");
	/* Sent as by the refused process, numbered in order. */
	for (int i = 0; i < n; i++) {
		const struct evbus_event *e = evt_as_event(rec[i]);

		ASSERT_NE(NULL, e);
		EXPECT_EQ(i < 4 ? r->pid : getpid(), e->pid) TH_LOG("event %d", i);
		EXPECT_EQ(i < 4 ? 1000 : 0, e->uid) TH_LOG("event %d", i);
		EXPECT_EQ(i < 4 ? 1000 : 0, e->gid) TH_LOG("event %d", i);
		if (i) {
			EXPECT_EQ(seq0 + 1, e->seq) TH_LOG("event %d", i);
		}
		seq0 = e->seq;
	}
	close(scoped);
	close(watch);
}

TEST_F(sys, owner_can_deny_subscribing_to_sys)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[8];
	const struct evbus_revoked *rv;
	struct holder *h = evt_shared(sizeof(*h));
	int fd = evt_open_as(&U1000), other = evt_open_as(&U1001), sid, n;
	char got[256];
	ssize_t len;

	ASSERT_NE(NULL, h);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	/* With no policy anyone may watch who uses the bus. */
	sid = evt_sub(fd, "$sys.>");
	ASSERT_LT(0, sid);
	ASSERT_LT(0, evt_sub(other, "$sys.file.*"));

	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "$sys.>",
				    EVBUS_POLICY_REVOKE));
	len = evt_drain(fd, buf, sizeof(buf));
	n = evt_records(buf, len, rec, 8);
	ASSERT_EQ(1, n);
	ASSERT_EQ(EVBUS_REC_REVOKED, rec[0]->kind);
	rv = (const void *)rec[0];
	EXPECT_EQ(sid, rv->sub_id);
	EXPECT_EQ(EVBUS_DENY_RULE, rv->reason);

	EXPECT_EQ(-EACCES, try_sub(fd, "$sys.>"));
	EXPECT_EQ(-EACCES, try_sub(fd, "$sys.file.open"));
	EXPECT_EQ(-EACCES, try_sub(fd, "$sys.*.open"));
	EXPECT_EQ(-EACCES, sub2(fd, "$sys.policy.denied"));
	/* Application topics are untouched: '>' does not reach $sys. */
	EXPECT_EQ(0, try_sub(fd, ">"));
	EXPECT_EQ(0, try_sub(fd, "app.>"));

	/* uid 1000 sees no presence events any more; uid 1001 still does. */
	open_close_as(NULL, h);
	ASSERT_EQ(0, h->err);
	topics(fd, got, sizeof(got));
	EXPECT_STREQ("", got);
	topics(other, got, sizeof(got));
	EXPECT_STREQ("$sys.file.open|$sys.file.close|", got);

	/* Default deny, $sys for uid 1000 only (README's example). */
	ASSERT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_UID, 1000, "$sys.>", 0));
	EXPECT_EQ(0, try_sub(fd, "$sys.>"));
	EXPECT_EQ(0, try_sub(fd, "$sys.file.open"));
	EXPECT_EQ(-EACCES, try_sub(fd, ">"));
	EXPECT_EQ(-EACCES, try_sub(fd, "app.x"));
	EXPECT_EQ(-EACCES, try_sub(other, "$sys.>"));

	/* An allow rule on '>' does not cover $sys either. */
	ASSERT_EQ(0, evt_policy_clear(self->own));
	ASSERT_EQ(0, evt_policy_default(self->own, EVBUS_DENY));
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				    EVBUS_WHO_ALL, 0, ">", 0));
	EXPECT_EQ(0, try_sub(other, "app.>"));
	EXPECT_EQ(-EACCES, try_sub(other, "$sys.>"));
	EXPECT_EQ(-EACCES, try_sub(other, "$sys.file.open"));
	close(fd);
	close(other);
}

TEST_HARNESS_MAIN
