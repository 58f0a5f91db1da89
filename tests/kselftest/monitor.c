// SPDX-License-Identifier: GPL-2.0
/*
 * Monitoring: the sysfs counters add up exactly to what a workload implies,
 * failed calls move only the error counters, module parameters reject
 * nonsense, fdinfo shows per-file state and every tracepoint fires.
 */
#include <poll.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define STATS_DIR	"/sys/kernel/evbus/stats/"
#define PARAM_DIR	"/sys/module/evbus/parameters/"
#define TRACE_DIR	"/sys/kernel/tracing/"

static const char *const counter_names[] = {
	"published", "published_bytes", "deliveries", "lost", "read_events",
	"read_bytes", "lag_records", "queued_events", "queued_bytes",
	"subscriptions", "open_files", "ring_bytes", "ring_bytes_max",
	"publish_err_einval", "publish_err_efault", "publish_err_emsgsize",
	"publish_err_enomem", "publish_err_ebadf", "publish_err_other",
	"ioctl_errors", "discarded",
};
#define NR_COUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))

enum {
	C_PUBLISHED, C_PUBLISHED_BYTES, C_DELIVERIES, C_LOST, C_READ_EVENTS,
	C_READ_BYTES, C_LAG_RECORDS, C_QUEUED_EVENTS, C_QUEUED_BYTES,
	C_SUBSCRIPTIONS, C_OPEN_FILES, C_RING_BYTES, C_RING_BYTES_MAX,
	C_ERR_EINVAL, C_ERR_EFAULT, C_ERR_EMSGSIZE, C_ERR_ENOMEM, C_ERR_EBADF,
	C_ERR_OTHER, C_IOCTL_ERRORS, C_DISCARDED,
};

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (!*val) {
		close(fd);
		return 0;
	}
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static void snap(long long *c)
{
	char path[128];

	for (size_t i = 0; i < NR_COUNTERS; i++) {
		snprintf(path, sizeof(path), STATS_DIR "%s", counter_names[i]);
		c[i] = evt_read_num(path);
	}
}

/* Read everything queued; tally events, payload-free bytes and losses. */
struct tally {
	long long events, lag_records, lost, bytes;
};

static void drain(int fd, struct tally *t)
{
	static char buf[1 << 16];
	struct evbus_rec_hdr *h;
	ssize_t n, left;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		t->bytes += n;
		evt_for_each_rec(h, buf, n, left) {
			if (h->kind == EVBUS_REC_EVENT)
				t->events++;
			else if (h->kind == EVBUS_REC_LAGGED) {
				t->lag_records++;
				t->lost += ((struct evbus_lagged *)h)->lost;
			}
		}
	}
}

TEST(counters_exist_and_are_numbers)
{
	long long c[NR_COUNTERS];

	snap(c);
	for (size_t i = 0; i < NR_COUNTERS; i++) {
		EXPECT_LE(0, c[i]) {
			TH_LOG("counter %s unreadable or negative", counter_names[i]);
		}
	}
}

/*
 * Three subscribers (one with a small ring so it loses events), two
 * publisher processes: every counter moves by exactly what happened.
 */
TEST(counters_match_a_multi_process_workload)
{
	const char *patterns[3] = { "mon.work.>", "mon.work.a.*", "mon.work.b.x" };
	const unsigned int ring[3] = { 1 << 20, 4096, 1 << 20 };
	const char *topics[2] = { "mon.work.a.x", "mon.work.b.x" };
	/* Which subscriber each topic reaches: a.x -> 0,1; b.x -> 0,2. */
	const int fanout[2] = { 2, 2 };
	const int per_pub = 200, payload = 100;
	long long before[NR_COUNTERS], mid[NR_COUNTERS], after[NR_COUNTERS];
	struct tally t = {};
	int fds[3];
	char data[128];

	snap(before);
	for (int i = 0; i < 3; i++) {
		fds[i] = evt_open_nb();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, evt_set_ring(fds[i], ring[i], EVBUS_POLICY_DROP_OLDEST));
		ASSERT_LT(0, evt_sub(fds[i], patterns[i]));
	}
	/* A second pattern on subscriber 0 that also matches: still one delivery. */
	ASSERT_LT(0, evt_sub(fds[0], "mon.work.*.x"));

	memset(data, 'p', sizeof(data));
	for (int p = 0; p < 2; p++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			int fd = evt_open();

			for (int i = 0; i < per_pub; i++)
				if (evt_pub_full(fd, topics[p], data, payload, 0, 0, 0) <= 0)
					_exit(1);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		ASSERT_LT(0, wait(&status));
		ASSERT_EQ(0, status);
	}

	snap(mid);
	EXPECT_EQ(2 * per_pub, mid[C_PUBLISHED] - before[C_PUBLISHED]);
	EXPECT_EQ(2LL * per_pub * payload,
		  mid[C_PUBLISHED_BYTES] - before[C_PUBLISHED_BYTES]);
	EXPECT_EQ((long long)per_pub * (fanout[0] + fanout[1]),
		  mid[C_DELIVERIES] - before[C_DELIVERIES]);
	EXPECT_EQ(4, mid[C_SUBSCRIPTIONS] - before[C_SUBSCRIPTIONS]);
	EXPECT_EQ(3, mid[C_OPEN_FILES] - before[C_OPEN_FILES]);
	EXPECT_EQ((1 << 20) * 2 + 4096, mid[C_RING_BYTES] - before[C_RING_BYTES]);
	EXPECT_LE(mid[C_RING_BYTES], mid[C_RING_BYTES_MAX]);
	/* Nothing read yet: every delivery is queued or lost. */
	EXPECT_EQ(mid[C_DELIVERIES] - before[C_DELIVERIES],
		  (mid[C_QUEUED_EVENTS] - before[C_QUEUED_EVENTS]) +
		  (mid[C_LOST] - before[C_LOST]));
	EXPECT_LT(0, mid[C_LOST] - before[C_LOST]);

	for (int i = 0; i < 3; i++)
		drain(fds[i], &t);
	snap(after);
	EXPECT_EQ(t.lost, after[C_LOST] - before[C_LOST]);
	EXPECT_EQ(t.events, after[C_READ_EVENTS] - before[C_READ_EVENTS]);
	EXPECT_EQ(t.lag_records, after[C_LAG_RECORDS] - before[C_LAG_RECORDS]);
	EXPECT_EQ(t.bytes, after[C_READ_BYTES] - before[C_READ_BYTES]);
	EXPECT_EQ(after[C_DELIVERIES] - before[C_DELIVERIES], t.events + t.lost);
	EXPECT_EQ(before[C_QUEUED_EVENTS], after[C_QUEUED_EVENTS]);
	EXPECT_EQ(before[C_QUEUED_BYTES], after[C_QUEUED_BYTES]);

	for (int i = 0; i < 3; i++)
		close(fds[i]);
	snap(after);
	EXPECT_EQ(before[C_DISCARDED], after[C_DISCARDED]);
	EXPECT_EQ(before[C_OPEN_FILES], after[C_OPEN_FILES]);
	EXPECT_EQ(before[C_SUBSCRIPTIONS], after[C_SUBSCRIPTIONS]);
	EXPECT_EQ(before[C_RING_BYTES], after[C_RING_BYTES]);
	EXPECT_EQ(before[C_IOCTL_ERRORS], after[C_IOCTL_ERRORS]);
}

/*
 * deliveries = read_events + lost + queued_events + discarded holds across
 * a close: what a file still had queued when it closed is discarded, not
 * forgotten.
 */
TEST(closing_with_queued_events_counts_them_discarded)
{
	long long before[NR_COUNTERS], after[NR_COUNTERS], d[NR_COUNTERS];
	struct tally t = {};
	int fd = evt_open_nb(), pub = evt_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, pub);
	snap(before);
	ASSERT_LT(0, evt_sub(fd, "mon.disc.>"));
	for (int i = 0; i < 4; i++)
		ASSERT_LT(0, evt_pub(pub, "mon.disc.a", "read"));
	drain(fd, &t);
	EXPECT_EQ(4, t.events);
	for (int i = 0; i < 6; i++)
		ASSERT_LT(0, evt_pub(pub, "mon.disc.a", "left behind"));
	close(fd);
	snap(after);
	for (size_t i = 0; i < NR_COUNTERS; i++)
		d[i] = after[i] - before[i];
	EXPECT_EQ(10, d[C_DELIVERIES]);
	EXPECT_EQ(4, d[C_READ_EVENTS]);
	EXPECT_EQ(6, d[C_DISCARDED]);
	EXPECT_EQ(0, d[C_QUEUED_EVENTS]);
	EXPECT_EQ(0, d[C_QUEUED_BYTES]);
	EXPECT_EQ(d[C_DELIVERIES], d[C_READ_EVENTS] + d[C_LOST] +
		  d[C_QUEUED_EVENTS] + d[C_DISCARDED]);
	close(pub);
}

/* Each failed call moves its error counter and ioctl_errors, nothing else. */
TEST(failed_calls_move_only_error_counters)
{
	long long before[NR_COUNTERS], after[NR_COUNTERS];
	static char big[65537];
	struct evbus_pub p;
	int fd = evt_open(), ro = open(EVBUS_DEV, O_RDONLY | O_CLOEXEC);
	struct {
		const char *what;
		int idx;
	} cases[] = {
		{ "bad topic", C_ERR_EINVAL },
		{ "payload too big", C_ERR_EMSGSIZE },
		{ "bad payload pointer", C_ERR_EFAULT },
		{ "read-only file", C_ERR_EBADF },
		{ "too many subscriptions", -1 },
	};

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ro);
	for (int i = 0; i < 64; i++) {
		char pat[32];

		snprintf(pat, sizeof(pat), "mon.err.%d", i);
		ASSERT_LT(0, evt_sub(fd, pat));
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		snap(before);
		switch (c) {
		case 0:
			EXPECT_EQ(-EINVAL, evt_pub(fd, "mon..err", "x"));
			break;
		case 1:
			EXPECT_EQ(-EMSGSIZE, evt_pub_full(fd, "mon.err.0", big,
							  sizeof(big), 0, 0, 0));
			break;
		case 2:
			memset(&p, 0, sizeof(p));
			p.topic = (uintptr_t)"mon.err.0";
			p.topic_len = 9;
			p.payload = 8;
			p.payload_len = 8;
			EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_PUBLISH, &p));
			EXPECT_EQ(EFAULT, errno);
			break;
		case 3:
			EXPECT_EQ(-EBADF, evt_pub(ro, "mon.err.0", "x"));
			break;
		case 4:
			EXPECT_EQ(-ENOSPC, evt_sub(fd, "mon.err.overflow"));
			break;
		}
		snap(after);
		for (size_t i = 0; i < NR_COUNTERS; i++) {
			long long want = 0;

			if ((int)i == cases[c].idx || i == C_IOCTL_ERRORS)
				want = 1;
			EXPECT_EQ(want, after[i] - before[i]) {
				TH_LOG("%s: %s moved by %lld", cases[c].what,
				       counter_names[i], after[i] - before[i]);
			}
		}
	}
	close(ro);
	close(fd);
}

TEST(parameters_reject_nonsense_and_keep_old_value)
{
	static const struct {
		const char *param, *bad;
	} bad[] = {
		{ "max_subs", "0" }, { "max_subs", "4097" }, { "max_subs", "abc" },
		{ "max_payload", "1048577" }, { "max_payload", "-1" },
		{ "ring_default", "100" }, { "ring_default", "536870912" },
		{ "ring_min", "1024" }, { "ring_max", "2048" },
		{ "ring_min", "33554432" },	/* above ring_max (16 MiB) */
	};
	char path[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long old, now;

		snprintf(path, sizeof(path), PARAM_DIR "%s", bad[i].param);
		old = evt_read_num(path);
		ASSERT_LT(0, old);
		EXPECT_EQ(-EINVAL, write_str(path, bad[i].bad)) {
			TH_LOG("%s accepted '%s'", bad[i].param, bad[i].bad);
		}
		now = evt_read_num(path);
		EXPECT_EQ(old, now);
	}
}

TEST(max_payload_parameter_takes_effect)
{
	char data[200] = {};
	int fd = evt_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_str(PARAM_DIR "max_payload", "100"));
	EXPECT_LT(0, evt_pub_full(fd, "mon.param", data, 100, 0, 0, 0));
	EXPECT_EQ(-EMSGSIZE, evt_pub_full(fd, "mon.param", data, 101, 0, 0, 0));
	ASSERT_EQ(0, write_str(PARAM_DIR "max_payload", "65536"));
	EXPECT_LT(0, evt_pub_full(fd, "mon.param", data, 101, 0, 0, 0));
	close(fd);
}

TEST(fdinfo_shows_ring_and_subscriptions)
{
	char path[64], text[2048];
	char buf[4096];
	ssize_t n;
	int fd = evt_open(), ffd;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_set_ring(fd, 8192, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_EQ(1, evt_sub(fd, "mon.fdinfo.>"));
	for (int i = 0; i < 3; i++)
		ASSERT_LT(0, evt_pub(fd, "mon.fdinfo.x", "hello"));
	ASSERT_LT(0, read(fd, buf, 80 + 16 + 8));

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ffd = open(path, O_RDONLY);
	ASSERT_LE(0, ffd);
	n = read(ffd, text, sizeof(text) - 1);
	ASSERT_LT(0, n);
	text[n] = 0;
	close(ffd);
	EXPECT_NE(NULL, strstr(text, "evbus-ring:\t8192\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-policy:\tdrop-newest\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-queued:\t2\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-delivered:\t1\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-lost:\t0\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-published:\t3\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-subscriptions:\t1\n"));
	EXPECT_NE(NULL, strstr(text, "evbus-sub:\t1 mon.fdinfo.>\n"));
	close(fd);
}

static char *read_all(const char *path)
{
	size_t cap = 1 << 20, len = 0;
	char *s = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!s || fd < 0) {
		free(s);
		return NULL;
	}
	while (len < cap - 1 && (n = read(fd, s + len, cap - 1 - len)) > 0)
		len += n;
	s[len] = 0;
	close(fd);
	return s;
}

TEST(tracepoints_fire_with_fields)
{
	char data[5000] = {}, want[256], fdid[64], path[64];
	long long file_id = -1;
	int fd, id;
	int64_t seq, big;
	char *trace, *info, *p;

	if (access(TRACE_DIR "events/evbus/enable", W_OK))
		SKIP(return, "tracefs not mounted");
	ASSERT_EQ(0, write_str(TRACE_DIR "tracing_on", "0"));
	ASSERT_EQ(0, write_str(TRACE_DIR "trace", ""));
	ASSERT_EQ(0, write_str(TRACE_DIR "events/evbus/enable", "1"));
	ASSERT_EQ(0, write_str(TRACE_DIR "tracing_on", "1"));

	fd = evt_open_nb();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_NEWEST));
	id = evt_sub(fd, "mon.trace.*");
	ASSERT_LT(0, id);
	seq = evt_pub_full(fd, "mon.trace.x", "abc", 3, 7, 0, 0);
	ASSERT_LT(0, seq);
	big = evt_pub_full(fd, "mon.trace.y", data, sizeof(data), 0, 0, 0);
	ASSERT_LT(0, big);
	ASSERT_EQ(0, evt_unsub(fd, id));

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = read_all(path);
	ASSERT_NE(NULL, info);
	p = strstr(info, "evbus-id:\t");
	ASSERT_NE(NULL, p);
	file_id = strtoll(p + strlen("evbus-id:\t"), NULL, 10);
	free(info);
	close(fd);

	ASSERT_EQ(0, write_str(TRACE_DIR "tracing_on", "0"));
	ASSERT_EQ(0, write_str(TRACE_DIR "events/evbus/enable", "0"));
	trace = read_all(TRACE_DIR "trace");
	ASSERT_NE(NULL, trace);
	snprintf(fdid, sizeof(fdid), "file=%lld", file_id);

	snprintf(want, sizeof(want), "evbus_subscribe: %s sub=%d pattern=mon.trace.*",
		 fdid, id);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	snprintf(want, sizeof(want),
		 "evbus_publish: %s seq=%lld pid=%d topic=mon.trace.x len=3 type=7",
		 fdid, (long long)seq, getpid());
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	snprintf(want, sizeof(want), "evbus_deliver: %s seq=%lld queued=1",
		 fdid, (long long)seq);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	snprintf(want, sizeof(want), "evbus_drop: %s seq=%lld dropped lost=1",
		 fdid, (long long)big);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	snprintf(want, sizeof(want), "evbus_unsubscribe: %s sub=%d", fdid, id);
	EXPECT_NE(NULL, strstr(trace, want)) TH_LOG("missing: %s", want);
	free(trace);
}

TEST_HARNESS_MAIN
