// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.3: inherited handles (EVBUS_FD), scoped handles, the topic
 * policy, filtered subscriptions, the tcpdump -ddd parser, REVOKED
 * records and per-bus counters.  Every test that touches the policy runs
 * in an IPC namespace of its own (a bus of its own), so tests never see
 * each other's rules.
 */
#include <sched.h>
#include <signal.h>
#include <linux/filter.h>
#include <sys/stat.h>

#include "lib_test.h"

/* Move this test process to a new IPC namespace: a bus of its own. */
#define LT_NEW_BUS() do {						\
	if (unshare(CLONE_NEWIPC))					\
		SKIP(return, "unshare(CLONE_NEWIPC): %s", strerror(errno)); \
} while (0)

/* A pid below pid_max that no process has now, or 0. */
static uint32_t lt_free_pid(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	long max = 0, p;

	if (!f || fscanf(f, "%ld", &max) != 1)
		max = 32768;
	if (f)
		fclose(f);
	for (p = max - 1; p > 300; p--)
		if (kill((pid_t)p, 0) && errno == ESRCH)
			return (uint32_t)p;
	return 0;
}

static int lt_read_one(struct evbus *bus, const struct evbus_record **rec)
{
	return evbus_read(bus, rec, 2000);
}

/* ------------------------------------------------------------ EVBUS_FD */

TEST(evbus_fd_is_used_and_duplicated)
{
	EVBUS_OPTS(evbus_opts, no_env, .flags = EVBUS_OPEN_NO_ENV);
	EVBUS_OPTS(evbus_opts, by_path, .path = EVBUS_DEVICE_PATH);
	struct evbus *parent, *child, *other;
	const struct evbus_record *rec;
	struct evbus_stats st;
	char num[16], topic[64];
	int fd;

	LT_OPEN(parent, EVBUS_OPEN_NO_ENV);
	fd = evbus_fd(parent);
	snprintf(num, sizeof(num), "%d", fd);
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, num, 1));

	/* The inherited file, not a new one: a subscription made through
	 * one handle delivers to the other. */
	ASSERT_EQ(0, evbus_open(&child, NULL));
	ASSERT_NE(fd, evbus_fd(child));
	EXPECT_TRUE(fcntl(evbus_fd(child), F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(evbus_fd(child), F_GETFL) & O_NONBLOCK);
	lt_topic(topic, sizeof(topic), "fd");
	ASSERT_EQ(0, evbus_subscribe(child, topic, NULL));
	ASSERT_EQ(0, evbus_get_stats(parent, &st));
	EXPECT_EQ(1, st.subscriptions);

	ASSERT_EQ(0, evbus_publish(child, topic, "x", 1, NULL, NULL));
	ASSERT_EQ(0, lt_read_one(parent, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_STREQ(topic, rec->topic);

	/* Closing the child's handle leaves the inherited descriptor open. */
	evbus_close(child);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) < 0);

	/* EVBUS_OPEN_NO_ENV and an explicit path open a new file. */
	ASSERT_EQ(0, evbus_open(&other, &no_env));
	ASSERT_EQ(0, evbus_get_stats(other, &st));
	EXPECT_EQ(0, st.subscriptions);
	evbus_close(other);
	ASSERT_EQ(0, evbus_open(&other, &by_path));
	ASSERT_EQ(0, evbus_get_stats(other, &st));
	EXPECT_EQ(0, st.subscriptions);
	evbus_close(other);
	unsetenv(EVBUS_FD_ENV);
	evbus_close(parent);
}

TEST(evbus_fd_bad_values)
{
	struct evbus *bus = (void *)1;
	char num[16];
	int nfd, r;

	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, "12abc", 1));
	EXPECT_EQ(-EBADF, evbus_open(&bus, NULL));
	EXPECT_EQ(NULL, bus);
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, "-1", 1));
	EXPECT_EQ(-EBADF, evbus_open(&bus, NULL));
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, "99999999999", 1));
	EXPECT_EQ(-EBADF, evbus_open(&bus, NULL));
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, "1000", 1));
	EXPECT_EQ(-EBADF, evbus_open(&bus, NULL));	/* not open */

	/* Open, but not the device: a regular file, a character device
	 * that is not evbus. */
	nfd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nfd);
	snprintf(num, sizeof(num), "%d", nfd);
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, num, 1));
	EXPECT_EQ(-ENOTTY, evbus_open(&bus, NULL));
	close(nfd);
	nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nfd);
	snprintf(num, sizeof(num), "%d", nfd);
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, num, 1));
	EXPECT_EQ(-ENOTTY, evbus_open(&bus, NULL));
	/* The bad descriptor was left as it was. */
	EXPECT_EQ(0, fcntl(nfd, F_GETFL) & O_NONBLOCK);
	close(nfd);

	/* Empty means unset. */
	ASSERT_EQ(0, setenv(EVBUS_FD_ENV, "", 1));
	r = evbus_open(&bus, NULL);
	if (r == -ENOENT)
		SKIP(return, "no /dev/evbus");
	ASSERT_EQ(0, r);
	evbus_close(bus);
	unsetenv(EVBUS_FD_ENV);
}

/* -------------------------------------------------------------- scopes */

TEST(narrow_binds_the_handle)
{
	const char *const pub[] = { "session.42.>" };
	const char *const sub[] = { "session.42.>", "news.*" };
	const char *const wide[] = { ">" };
	struct evbus *bus, *spy;
	struct evbus_bus_stats bs;
	uint64_t denied;
	const struct evbus_record *rec;

	LT_NEW_BUS();
	LT_OPEN(bus, 0);
	LT_OPEN(spy, 0);
	ASSERT_EQ(0, evbus_subscribe(spy, ">", NULL));

	EXPECT_EQ(-EINVAL, evbus_narrow(bus, NULL, 1, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, evbus_narrow(bus, pub, EVBUS_SCOPE_MAX + 1, NULL, 0, 0));
	ASSERT_EQ(0, evbus_narrow(bus, pub, 1, sub, 2, 0));

	ASSERT_EQ(0, evbus_get_bus_stats(bus, &bs));
	denied = bs.denied_scope;
	EXPECT_EQ(-EACCES, evbus_narrow(bus, wide, 1, NULL, 0, EVBUS_SCOPE_KEEP_SUBSCRIBE));
	EXPECT_EQ(-EACCES, evbus_subscribe(bus, ">", NULL));
	EXPECT_EQ(-EACCES, evbus_subscribe(bus, "session.>", NULL));
	EXPECT_EQ(-EACCES, evbus_publish(bus, "session.43.x", "n", 1, NULL, NULL));
	EXPECT_EQ(0, evbus_subscribe(bus, "session.42.in", NULL));
	EXPECT_EQ(0, evbus_subscribe(bus, "news.today", NULL));
	EXPECT_EQ(0, evbus_publish(bus, "session.42.out", "y", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_get_bus_stats(bus, &bs));
	EXPECT_LE(denied + 3, bs.denied_scope);

	/* Only the allowed publish reached anyone. */
	ASSERT_EQ(0, lt_read_one(spy, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_STREQ("session.42.out", rec->topic);
	EXPECT_EQ(-EAGAIN, evbus_read(spy, &rec, 0));
	evbus_close(spy);
	evbus_close(bus);
}

/* -------------------------------------------------------------- policy */

TEST(policy_add_list_remove_clear)
{
	struct evbus_rule_info rules[4];
	uint32_t id1, id2, total, def;
	struct evbus_bus_stats bs;
	struct evbus *bus;
	int n;

	LT_NEW_BUS();
	LT_OPEN(bus, 0);
	n = evbus_policy_list(bus, 0, rules, 4, &total, &def);
	ASSERT_EQ(0, n);
	EXPECT_EQ(0, total);
	EXPECT_EQ(EVBUS_ALLOW, def);

	ASSERT_EQ(0, evbus_policy_add(bus, "app.secret.>", EVBUS_DENY,
				      EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_UID, 4321,
				      0, &id1));
	ASSERT_EQ(0, evbus_policy_add(bus, "app.>", EVBUS_ALLOW,
				      EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE,
				      EVBUS_WHO_ALL, 0, 0, &id2));
	EXPECT_LT(id1, id2);
	/* Bad input changes nothing. */
	EXPECT_EQ(-EINVAL, evbus_policy_add(bus, "app.>", 7, EVBUS_RIGHT_PUBLISH,
					    EVBUS_WHO_ALL, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_policy_add(bus, "", EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
					    EVBUS_WHO_ALL, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_policy_add(bus, "app.>", EVBUS_ALLOW, 0,
					    EVBUS_WHO_ALL, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_policy_add(bus, "app.>", EVBUS_ALLOW,
					    EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL,
					    0, 0x80, NULL));

	n = evbus_policy_list(bus, 0, rules, 4, &total, &def);
	ASSERT_EQ(2, n);
	EXPECT_EQ(2, total);
	EXPECT_EQ(id1, rules[0].id);
	EXPECT_EQ(EVBUS_DENY, rules[0].verdict);
	EXPECT_EQ(EVBUS_RIGHT_SUBSCRIBE, rules[0].rights);
	EXPECT_EQ(EVBUS_WHO_UID, rules[0].who);
	EXPECT_EQ(4321, rules[0].id_value);
	EXPECT_STREQ("app.secret.>", rules[0].pattern);
	EXPECT_STREQ("app.>", rules[1].pattern);
	/* Paging: one at a time, from an id. */
	EXPECT_EQ(1, evbus_policy_list(bus, id1 + 1, rules, 1, NULL, NULL));
	EXPECT_EQ(id2, rules[0].id);
	EXPECT_EQ(0, evbus_policy_list(bus, 0, NULL, 0, &total, NULL));
	EXPECT_EQ(2, total);

	ASSERT_EQ(0, evbus_policy_default(bus, EVBUS_DENY, 0));
	ASSERT_EQ(0, evbus_get_bus_stats(bus, &bs));
	EXPECT_EQ(2, bs.policy_rules);
	EXPECT_EQ(EVBUS_DENY, bs.policy_default);
	EXPECT_EQ(-EACCES, evbus_publish(bus, "other.x", "", 0, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(bus, "app.x", "", 0, NULL, NULL));

	ASSERT_EQ(0, evbus_policy_remove(bus, id1, 0));
	EXPECT_EQ(-ENOENT, evbus_policy_remove(bus, id1, 0));
	ASSERT_EQ(0, evbus_policy_clear(bus, 0));
	EXPECT_EQ(0, evbus_policy_list(bus, 0, rules, 4, &total, &def));
	EXPECT_EQ(0, total);
	EXPECT_EQ(EVBUS_ALLOW, def);
	evbus_close(bus);
}

TEST(policy_changes_need_the_owner)
{
	struct evbus *bus;
	struct stat st;
	pid_t pid;

	LT_NEW_BUS();
	if (getuid())
		SKIP(return, "needs root to drop to another uid");
	if (stat(EVBUS_DEVICE_PATH, &st) || chmod(EVBUS_DEVICE_PATH, 0666))
		SKIP(return, "cannot open the device to uid 65534");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint32_t total;
		int r;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (evbus_open(&bus, NULL))
			_exit(11);
		r = evbus_policy_add(bus, "x", EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				     EVBUS_WHO_ALL, 0, 0, NULL);
		if (r != -EPERM)
			_exit(12);
		if (evbus_policy_default(bus, EVBUS_DENY, 0) != -EPERM ||
		    evbus_policy_clear(bus, 0) != -EPERM ||
		    evbus_policy_remove(bus, 1, 0) != -EPERM)
			_exit(13);
		/* Anyone may read it. */
		if (evbus_policy_list(bus, 0, NULL, 0, &total, NULL) || total)
			_exit(14);
		_exit(0);
	}
	EXPECT_EQ(0, lt_wait(pid));
	chmod(EVBUS_DEVICE_PATH, st.st_mode & 07777);
}

TEST(revoked_record_reaches_the_reader)
{
	const struct evbus_revoked *rv;
	const struct evbus_record *rec;
	struct evbus *owner, *reader;
	uint32_t sub, keep;
	uint64_t seq;

	LT_NEW_BUS();
	LT_OPEN(owner, 0);
	LT_OPEN(reader, 0);
	ASSERT_EQ(0, evbus_subscribe(reader, "app.secret.>", &sub));
	ASSERT_EQ(0, evbus_subscribe(reader, "app.public", &keep));
	ASSERT_EQ(0, evbus_publish(owner, "app.secret.a", "1", 1, NULL, &seq));
	/* Without REVOKE, nothing happens to existing subscriptions. */
	ASSERT_EQ(0, evbus_policy_add(owner, "app.secret.>", EVBUS_DENY,
				      EVBUS_RIGHT_SUBSCRIBE, EVBUS_WHO_ALL, 0,
				      0, NULL));
	ASSERT_EQ(0, lt_read_one(reader, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(seq, rec->event->seq);
	EXPECT_EQ(NULL, evbus_record_revoked(rec));
	ASSERT_EQ(0, evbus_policy_default(owner, EVBUS_ALLOW, EVBUS_POLICY_REVOKE));

	ASSERT_EQ(0, lt_read_one(reader, &rec));
	rv = evbus_record_revoked(rec);
	ASSERT_NE(NULL, rv);
	EXPECT_EQ(NULL, rec->event);
	EXPECT_EQ(NULL, rec->lagged);
	EXPECT_EQ(sub, rv->sub_id);
	EXPECT_EQ(EVBUS_DENY_RULE, rv->reason);
	EXPECT_EQ(seq, rv->seq);
	/* The other subscription still delivers; the revoked one does not. */
	ASSERT_EQ(0, evbus_publish(owner, "app.secret.b", "2", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(owner, "app.public", "3", 1, NULL, &seq));
	ASSERT_EQ(0, lt_read_one(reader, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(seq, rec->event->seq);
	EXPECT_EQ(-EAGAIN, evbus_read(reader, &rec, 0));
	/* It is gone: unsubscribing it finds nothing. */
	EXPECT_EQ(-ENOENT, evbus_unsubscribe(reader, sub));
	evbus_close(reader);
	evbus_close(owner);
}

/* ------------------------------------------------------------- filters */

TEST(subscribe_opts_type_and_sender)
{
	EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_TYPE, .type_min = 5,
		   .type_max = 7);
	EVBUS_OPTS(evbus_sub_opts, nobody, .flags = EVBUS_SUB_FROM_PID);
	EVBUS_OPTS(evbus_sub_opts, me, .flags = EVBUS_SUB_FROM_PID |
		   EVBUS_SUB_FROM_UID);
	const struct evbus_record *rec;
	struct evbus_bus_stats bs;
	struct evbus *bus;
	char topic[64], t2[64];
	uint32_t t, got = 0;

	LT_NEW_BUS();
	LT_OPEN(bus, 0);
	lt_topic(topic, sizeof(topic), "typed");
	ASSERT_EQ(0, evbus_subscribe_opts(bus, topic, &so, NULL));
	for (t = 3; t <= 9; t++) {
		EVBUS_OPTS(evbus_pub_opts, po, .type = t);
		ASSERT_EQ(0, evbus_publish(bus, topic, "", 0, &po, NULL));
	}
	while (!evbus_read(bus, &rec, 0)) {
		ASSERT_NE(NULL, rec->event);
		got |= 1U << rec->event->type;
	}
	EXPECT_EQ((1U << 5) | (1U << 6) | (1U << 7), got);
	ASSERT_EQ(0, evbus_get_bus_stats(bus, &bs));
	EXPECT_EQ(4, bs.filtered);

	/* The library rejects what it cannot pass on. */
	so.flags = 1U << 30;
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(bus, topic, &so, NULL));
	so.flags = 0;
	so.reserved0 = 1;
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(bus, topic, &so, NULL));
	/* From a process that does not exist (below pid_max: else EINVAL). */
	nobody.from_pid = lt_free_pid();
	ASSERT_NE(0, nobody.from_pid);
	EXPECT_EQ(-ESRCH, evbus_subscribe_opts(bus, topic, &nobody, NULL));
	/* Only this process's own events: all of them. */
	me.from_pid = (uint32_t)getpid();
	me.from_uid = (uint32_t)geteuid();
	lt_topic(t2, sizeof(t2), "mine");
	ASSERT_EQ(0, evbus_subscribe_opts(bus, t2, &me, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t2, "m", 1, NULL, NULL));
	ASSERT_EQ(0, lt_read_one(bus, &rec));
	EXPECT_STREQ(t2, rec->topic);
	evbus_close(bus);
}

static const char payload_len_is_3[] =
	"# accept events whose payload_len (offset 12) is 3\n"
	"4\n"
	"32 0 0 12\n"
	"21 0 1 3\n"
	"6 0 0 1\n"
	"6 0 0 0\n";

TEST(filter_parse_and_attach)
{
	struct sock_filter prog[EVBUS_FILTER_MAX_INSNS];
	const struct evbus_record *rec;
	struct evbus *bus;
	char topic[64];
	int n;

	n = evbus_filter_parse(payload_len_is_3, prog, EVBUS_FILTER_MAX_INSNS, NULL);
	ASSERT_EQ(4, n);
	EXPECT_EQ(BPF_LD | BPF_W | BPF_ABS, prog[0].code);
	EXPECT_EQ(12, prog[0].k);
	EXPECT_EQ(BPF_JMP | BPF_JEQ | BPF_K, prog[1].code);
	EXPECT_EQ(1, prog[1].jf);
	EXPECT_EQ(BPF_RET | BPF_K, prog[3].code);

	LT_NEW_BUS();
	LT_OPEN(bus, 0);
	lt_topic(topic, sizeof(topic), "bpf");
	{
		EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_FILTER,
			   .filter = prog, .filter_len = (uint32_t)n);
		ASSERT_EQ(0, evbus_subscribe_opts(bus, topic, &so, NULL));
	}
	ASSERT_EQ(0, evbus_publish(bus, topic, "abcd", 4, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, topic, "abc", 3, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, topic, "", 0, NULL, NULL));
	ASSERT_EQ(0, lt_read_one(bus, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(3, rec->payload_len);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));

	/* A load past the window is refused when attaching. */
	prog[0].k = EVBUS_FILTER_WINDOW;
	{
		EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_FILTER,
			   .filter = prog, .filter_len = (uint32_t)n);
		EXPECT_EQ(-EINVAL, evbus_subscribe_opts(bus, topic, &so, NULL));
	}
	evbus_close(bus);
}

TEST(filter_parse_rejects_bad_text)
{
	struct sock_filter prog[8];
	unsigned int line;

	EXPECT_EQ(-EINVAL, evbus_filter_parse("", prog, 8, &line));
	EXPECT_EQ(1, line);
	EXPECT_EQ(-EINVAL, evbus_filter_parse("0\n", prog, 8, &line));
	EXPECT_EQ(1, line);
	EXPECT_EQ(-EINVAL, evbus_filter_parse("2\n6 0 0 1\n", prog, 8, &line));
	EXPECT_EQ(3, line);	/* one instruction missing */
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 0 1\n6 0 0 0\n", prog, 8, &line));
	EXPECT_EQ(3, line);	/* one too many */
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 0\n", prog, 8, &line));
	EXPECT_EQ(2, line);
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 256 1\n", prog, 8, &line));
	EXPECT_EQ(2, line);	/* jf is 8 bits */
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n65536 0 0 1\n", prog, 8, &line));
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 0 4294967296\n", prog, 8, &line));
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 0 -1\n", prog, 8, &line));
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n6 0 0 0x1\n", prog, 8, &line));
	EXPECT_EQ(-EINVAL, evbus_filter_parse("1\n{ 0x6, 0, 0, 1 },\n", prog, 8, &line));
	EXPECT_EQ(-E2BIG, evbus_filter_parse("9\n", prog, 8, &line));
	/* Blank lines, comments, CRLF and a missing final newline are fine. */
	EXPECT_EQ(1, evbus_filter_parse("\n# c\n 1 \r\n\n6 0 0 4294967295 # all", prog, 8, &line));
	EXPECT_EQ(0xffffffffU, prog[0].k);
	EXPECT_EQ(-EINVAL, evbus_filter_parse(NULL, prog, 8, NULL));
}

/* ----------------------------------------------------------- bus stats */

TEST(bus_stats_are_per_namespace)
{
	struct evbus_bus_stats a, b;
	struct evbus *bus, *nbus;
	struct stat st;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_get_bus_stats(bus, &a));
	ASSERT_EQ(0, stat("/proc/self/ns/ipc", &st));
	EXPECT_EQ((uint64_t)st.st_ino, a.ipc_ns);
	EXPECT_NE(0, a.bus_id);
	EXPECT_LE(1, a.open_files);

	LT_NEW_BUS();
	LT_OPEN(nbus, 0);
	ASSERT_EQ(0, evbus_publish(nbus, "ns.x", "", 0, NULL, NULL));
	ASSERT_EQ(0, evbus_get_bus_stats(nbus, &b));
	EXPECT_NE(a.bus_id, b.bus_id);
	EXPECT_NE(a.ipc_ns, b.ipc_ns);
	EXPECT_EQ(1, b.published);
	EXPECT_EQ(1, b.open_files);
	/* The old file still reaches its own bus. */
	ASSERT_EQ(0, evbus_get_bus_stats(bus, &b));
	EXPECT_EQ(a.bus_id, b.bus_id);
	evbus_close(nbus);
	evbus_close(bus);
	EXPECT_EQ(-EINVAL, evbus_get_bus_stats(NULL, &a));
}

TEST_HARNESS_MAIN
