// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery: topic and pattern validation, wildcard matching, subscription
 * bookkeeping, sequence numbering across processes, event metadata and
 * its translation into the reader's pid and user namespaces.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <grp.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define RDBUF	(256 * 1024)

/* Publish with an explicit topic length (topic may contain a NUL). */
static int64_t pub_raw(int fd, const char *topic, size_t len)
{
	struct evbus_pub p;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = len;
	if (ioctl(fd, EVBUS_IOC_PUBLISH, &p))
		return -errno;
	return (int64_t)p.seq;
}

static int sub_raw(int fd, const char *pattern, size_t len)
{
	struct evbus_sub s;

	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = len;
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE, &s))
		return -errno;
	return (int)s.sub_id;
}

/*
 * Read everything queued on a nonblocking fd into one malloc()ed buffer of
 * whole records; returns the byte count (or -errno).  *out is freed by the
 * caller.
 */
static ssize_t drain(int fd, char **out)
{
	size_t cap = RDBUF, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	for (;;) {
		if (cap - len < 65536 + 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += n;
	}
	*out = buf;
	return len;
}

/* Collect the topics of the event records in buf, as one "a|b|c" string. */
static void topics_of(const char *buf, size_t len, char *out, size_t outlen)
{
	struct evbus_rec_hdr *h;
	ssize_t left;

	out[0] = 0;
	evt_for_each_rec(h, buf, len, left) {
		const struct evbus_event *ev = (const void *)h;

		if (h->kind != EVBUS_REC_EVENT) {
			strncat(out, "!LAG|", outlen - strlen(out) - 1);
			continue;
		}
		strncat(out, EVBUS_EVENT_TOPIC(ev), outlen - strlen(out) - 1);
		strncat(out, "|", outlen - strlen(out) - 1);
	}
}

static void drain_topics(struct __test_metadata *_metadata, int fd,
			 char *out, size_t outlen)
{
	char *buf;
	ssize_t n = drain(fd, &buf);

	ASSERT_LE(0, n);
	topics_of(buf, n, out, outlen);
	free(buf);
}

/* ---------------------------------------------------------------- 1 --- */

#define EXPECT_PUB_EINVAL(fd, t, l) do {				\
	struct evbus_stats _b, _a;					\
	ASSERT_EQ(0, evt_stats(fd, &_b));				\
	EXPECT_EQ(-EINVAL, pub_raw(fd, t, l)) {				\
		TH_LOG("publish \"%.*s\" (len %zu) accepted", (int)(l), t, (size_t)(l)); \
	}								\
	ASSERT_EQ(0, evt_stats(fd, &_a));				\
	EXPECT_EQ(_b.published, _a.published);				\
	EXPECT_EQ(_b.subscriptions, _a.subscriptions);			\
} while (0)

#define EXPECT_SUB_EINVAL(fd, t, l) do {				\
	struct evbus_stats _b, _a;					\
	ASSERT_EQ(0, evt_stats(fd, &_b));				\
	EXPECT_EQ(-EINVAL, sub_raw(fd, t, l)) {				\
		TH_LOG("pattern \"%.*s\" (len %zu) accepted", (int)(l), t, (size_t)(l)); \
	}								\
	ASSERT_EQ(0, evt_stats(fd, &_a));				\
	EXPECT_EQ(_b.published, _a.published);				\
	EXPECT_EQ(_b.subscriptions, _a.subscriptions);			\
} while (0)

#define EXPECT_PUB_OK(fd, t) EXPECT_LT(0, pub_raw(fd, t, strlen(t))) {	\
	TH_LOG("publish \"%s\" rejected", t); }
#define EXPECT_SUB_OK(fd, t) EXPECT_LT(0, sub_raw(fd, t, strlen(t))) {	\
	TH_LOG("pattern \"%s\" rejected", t); }

/* Rejections common to topics and patterns, applied through op. */
static const char *const bad_common[] = {
	".rules.lead", "rules.trail.", "rules..double", ".", "..",
	"rules.sp ace", "rules/slash", "rules.#hash", "rules.\xc3\xa9t\xc3\xa9",
	"rules.tab\t", "rules.q?", "rules.plus+", "rules.at@",
};

TEST(topic_rules_on_publish)
{
	char topic[300];
	int fd = evt_open();

	ASSERT_LE(0, fd);

	/* Length: 255 ok, 256 EINVAL; empty EINVAL. */
	memset(topic, 'a', sizeof(topic));
	memcpy(topic, "rules.", 6);
	EXPECT_LT(0, pub_raw(fd, topic, 255));
	EXPECT_PUB_EINVAL(fd, topic, 256);
	EXPECT_PUB_EINVAL(fd, topic, 0);
	EXPECT_PUB_EINVAL(fd, "", 0);

	/* Segments: 20 ok, 21 EINVAL. */
	strcpy(topic, "rules");
	for (int i = 1; i < 20; i++)
		strcat(topic, ".s");
	EXPECT_PUB_OK(fd, topic);
	strcat(topic, ".s");
	EXPECT_PUB_EINVAL(fd, topic, strlen(topic));

	for (size_t i = 0; i < sizeof(bad_common) / sizeof(bad_common[0]); i++)
		EXPECT_PUB_EINVAL(fd, bad_common[i], strlen(bad_common[i]));
	/* A NUL inside the counted topic. */
	EXPECT_PUB_EINVAL(fd, "rules.nul\0inside", 16);
	EXPECT_PUB_EINVAL(fd, "rules.nul\0", 10);
	/* A lone UTF-8 lead byte. */
	EXPECT_PUB_EINVAL(fd, "rules.\xc3", 7);

	/* Wildcards are for patterns only. */
	EXPECT_PUB_EINVAL(fd, "rules.*", 7);
	EXPECT_PUB_EINVAL(fd, "rules.>", 7);
	EXPECT_PUB_EINVAL(fd, "*", 1);
	EXPECT_PUB_EINVAL(fd, ">", 1);
	EXPECT_PUB_EINVAL(fd, "rules.a*b", 9);

	/* The whole allowed alphabet. */
	EXPECT_PUB_OK(fd, "rules.ABCDEFGHIJKLMNOPQRSTUVWXYZ.abcdefghijklmnopqrstuvwxyz");
	EXPECT_PUB_OK(fd, "rules.0123456789._:-.-.:._");
	EXPECT_PUB_OK(fd, "x");
	close(fd);
}

TEST(pattern_rules_on_subscribe)
{
	struct evbus_stats st;
	char pat[300];
	int fd = evt_open();

	ASSERT_LE(0, fd);

	memset(pat, 'p', sizeof(pat));
	memcpy(pat, "prules.", 7);
	EXPECT_LT(0, sub_raw(fd, pat, 255));
	EXPECT_SUB_EINVAL(fd, pat, 256);
	EXPECT_SUB_EINVAL(fd, pat, 0);

	strcpy(pat, "prules");
	for (int i = 1; i < 20; i++)
		strcat(pat, ".*");
	EXPECT_SUB_OK(fd, pat);
	strcat(pat, ".s");
	EXPECT_SUB_EINVAL(fd, pat, strlen(pat));
	/* 21 segments even when the last one is '>'. */
	pat[strlen(pat) - 1] = '>';
	EXPECT_SUB_EINVAL(fd, pat, strlen(pat));

	for (size_t i = 0; i < sizeof(bad_common) / sizeof(bad_common[0]); i++)
		EXPECT_SUB_EINVAL(fd, bad_common[i], strlen(bad_common[i]));
	EXPECT_SUB_EINVAL(fd, "prules.nul\0inside", 17);
	EXPECT_SUB_EINVAL(fd, "prules.\xc3", 8);

	/* '*' anywhere as a whole segment; '>' only last. */
	EXPECT_SUB_OK(fd, "*");
	EXPECT_SUB_OK(fd, ">");
	EXPECT_SUB_OK(fd, "*.prules.x");
	EXPECT_SUB_OK(fd, "prules.*.x");
	EXPECT_SUB_OK(fd, "prules.x.*");
	EXPECT_SUB_OK(fd, "*.*.*");
	EXPECT_SUB_OK(fd, "prules.>");
	EXPECT_SUB_OK(fd, "*.>");
	EXPECT_SUB_OK(fd, "prules.Az09_:-");

	EXPECT_SUB_EINVAL(fd, "a.>.b", 5);
	EXPECT_SUB_EINVAL(fd, ">.a", 3);
	EXPECT_SUB_EINVAL(fd, ">.>", 3);
	EXPECT_SUB_EINVAL(fd, "ab*", 3);
	EXPECT_SUB_EINVAL(fd, "*b", 2);
	EXPECT_SUB_EINVAL(fd, "a>", 2);
	EXPECT_SUB_EINVAL(fd, ">a", 2);
	EXPECT_SUB_EINVAL(fd, "**", 2);
	EXPECT_SUB_EINVAL(fd, "prules.**", 9);
	EXPECT_SUB_EINVAL(fd, "prules.*>", 9);
	EXPECT_SUB_EINVAL(fd, "prules.>>", 9);
	EXPECT_SUB_EINVAL(fd, "prules.*.", 9);
	EXPECT_SUB_EINVAL(fd, "prules.>.", 9);

	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.published);
	EXPECT_EQ(11, st.subscriptions);
	close(fd);
}

/* ---------------------------------------------------------------- 2 --- */

TEST(wildcard_delivery)
{
	char got[4096];
	int star = evt_open_nb(), tail = evt_open_nb(), all = evt_open_nb();
	int one = evt_open_nb(), two = evt_open_nb(), pub = evt_open();

	ASSERT_LE(0, one);
	ASSERT_LE(0, two);
	ASSERT_LE(0, star);
	ASSERT_LE(0, tail);
	ASSERT_LE(0, all);
	ASSERT_LE(0, pub);
	/* A big ring so that unrelated traffic cannot make "all" lag. */
	ASSERT_EQ(0, evt_set_ring(all, 4 << 20, 0));
	ASSERT_LT(0, evt_sub(star, "wcd.*.input"));
	ASSERT_LT(0, evt_sub(tail, "wca.>"));
	ASSERT_LT(0, evt_sub(all, ">"));
	ASSERT_LT(0, evt_sub(one, "*"));
	ASSERT_LT(0, evt_sub(two, "wcd.*.*"));

	ASSERT_LT(0, evt_pub(pub, "wcd.x.input", "1"));
	ASSERT_LT(0, evt_pub(pub, "wcd.x.y.input", "2"));
	ASSERT_LT(0, evt_pub(pub, "wcd.input", "3"));
	ASSERT_LT(0, evt_pub(pub, "wcd.x.output", "4"));
	ASSERT_LT(0, evt_pub(pub, "wcd.yy.input", "5"));
	ASSERT_LT(0, evt_pub(pub, "wcd.x.input.z", "6"));
	ASSERT_LT(0, evt_pub(pub, "wca", "7"));
	ASSERT_LT(0, evt_pub(pub, "wca.b", "8"));
	ASSERT_LT(0, evt_pub(pub, "wca.b.c", "9"));
	ASSERT_LT(0, evt_pub(pub, "wcax.b", "10"));
	ASSERT_LT(0, evt_pub(pub, "x.wca.b", "11"));

	drain_topics(_metadata, star, got, sizeof(got));
	EXPECT_STREQ("wcd.x.input|wcd.yy.input|", got);
	drain_topics(_metadata, tail, got, sizeof(got));
	EXPECT_STREQ("wca.b|wca.b.c|", got);
	/* '*' alone: single-segment topics only. */
	drain_topics(_metadata, one, got, sizeof(got));
	EXPECT_STREQ("wca|", got);
	drain_topics(_metadata, two, got, sizeof(got));
	EXPECT_STREQ("wcd.x.input|wcd.x.output|wcd.yy.input|", got);
	drain_topics(_metadata, all, got, sizeof(got));
	/* Other tests do not run concurrently: exactly our events. */
	EXPECT_STREQ("wcd.x.input|wcd.x.y.input|wcd.input|wcd.x.output|"
		     "wcd.yy.input|wcd.x.input.z|wca|wca.b|wca.b.c|wcax.b|"
		     "x.wca.b|", got);
	close(one);
	close(two);
	close(star);
	close(tail);
	close(all);
	close(pub);
}

/* ---------------------------------------------------------------- 3 --- */

static int count_events(struct __test_metadata *_metadata, int fd)
{
	char *buf;
	struct evbus_rec_hdr *h;
	ssize_t left, n = drain(fd, &buf);
	int cnt = 0;

	EXPECT_LE(0, n);
	if (n < 0)
		return -1;
	evt_for_each_rec(h, buf, n, left)
		cnt += h->kind == EVBUS_REC_EVENT;
	free(buf);
	return cnt;
}

TEST(overlapping_subs_deliver_once_and_unsubscribe)
{
	struct evbus_stats st;
	int fd = evt_open_nb(), pub = evt_open();
	int id1, id2, id3;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, pub);
	id1 = evt_sub(fd, "ovl.a.b");
	id2 = evt_sub(fd, "ovl.*.b");
	id3 = evt_sub(fd, "ovl.>");
	ASSERT_LT(0, id1);
	ASSERT_LT(0, id2);
	ASSERT_LT(0, id3);
	EXPECT_NE(id1, id2);
	EXPECT_NE(id1, id3);
	EXPECT_NE(id2, id3);
	/* The same pattern twice is two subscriptions with distinct ids. */
	int id4 = evt_sub(fd, "ovl.a.b");

	ASSERT_LT(0, id4);
	EXPECT_NE(id1, id4);
	EXPECT_NE(id2, id4);
	EXPECT_NE(id3, id4);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(4, st.subscriptions);

	ASSERT_LT(0, evt_pub(pub, "ovl.a.b", "x"));
	EXPECT_EQ(1, count_events(_metadata, fd));

	EXPECT_EQ(0, evt_unsub(fd, id1));
	EXPECT_EQ(0, evt_unsub(fd, id3));
	ASSERT_LT(0, evt_pub(pub, "ovl.a.b", "x"));
	EXPECT_EQ(1, count_events(_metadata, fd));
	EXPECT_EQ(0, evt_unsub(fd, id4));
	ASSERT_LT(0, evt_pub(pub, "ovl.a.b", "x"));
	EXPECT_EQ(1, count_events(_metadata, fd));
	EXPECT_EQ(0, evt_unsub(fd, id2));
	ASSERT_LT(0, evt_pub(pub, "ovl.a.b", "x"));
	ASSERT_LT(0, evt_pub(pub, "ovl.c", "x"));
	EXPECT_EQ(0, count_events(_metadata, fd));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.subscriptions);

	/* Unknown and already-removed ids. */
	EXPECT_EQ(-ENOENT, evt_unsub(fd, id1));
	EXPECT_EQ(-ENOENT, evt_unsub(fd, 0));
	EXPECT_EQ(-ENOENT, evt_unsub(fd, 0xfffffff0u));
	/* Ids of another file are not ours. */
	int oid = evt_sub(pub, "ovl.other");

	ASSERT_LT(0, oid);
	int nid = evt_sub(fd, "ovl.new");

	ASSERT_LT(0, nid);
	EXPECT_NE(id1, nid);
	EXPECT_NE(id2, nid);
	EXPECT_NE(id3, nid);
	EXPECT_NE(id4, nid);
	if (oid != nid)
		EXPECT_EQ(-ENOENT, evt_unsub(fd, oid));
	EXPECT_EQ(0, evt_unsub(pub, oid));
	EXPECT_EQ(0, evt_unsub(fd, nid));
	close(fd);
	close(pub);
}

/* ---------------------------------------------------------------- 4 --- */

/*
 * Read from fd until want event records (LAGGED records count too, so a
 * test sees them) have arrived or timeout_ms passes with nothing new.
 * Returns the number of bytes in buf.
 */
static ssize_t read_records(int fd, char *buf, size_t cap, int want,
			    int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	int got = 0;

	while (got < want) {
		struct evbus_rec_hdr *h;
		ssize_t n, left;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		evt_for_each_rec(h, buf + len, n, left)
			got++;
		len += n;
		if (cap - len < 4096)
			break;
	}
	return len;
}

#define SEQ_CHILDREN	4
#define SEQ_PER_CHILD	300

TEST(seq_strictly_increasing_across_processes)
{
	uint64_t sent[SEQ_CHILDREN][SEQ_PER_CHILD];
	uint64_t got[SEQ_CHILDREN][SEQ_PER_CHILD];
	int ngot[SEQ_CHILDREN] = {}, pipes[SEQ_CHILDREN][2];
	pid_t pids[SEQ_CHILDREN];
	struct evbus_rec_hdr *h;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	uint64_t last = 0;
	ssize_t n, left;
	int sub = evt_open(), total = 0, lagged = 0;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, sub);
	ASSERT_EQ(0, evt_set_ring(sub, 4 << 20, 0));
	ASSERT_LT(0, evt_sub(sub, "seqtest.>"));

	for (int c = 0; c < SEQ_CHILDREN; c++) {
		ASSERT_EQ(0, pipe(pipes[c]));
		pids[c] = fork();
		ASSERT_LE(0, pids[c]);
		if (pids[c] == 0) {
			uint64_t seqs[SEQ_PER_CHILD];
			char topic[32];
			int fd = evt_open();

			alarm(60);
			if (fd < 0)
				_exit(2);
			snprintf(topic, sizeof(topic), "seqtest.%d", c);
			for (int i = 0; i < SEQ_PER_CHILD; i++) {
				int64_t s = evt_pub_full(fd, topic, &i,
							 sizeof(i), c, i, 0);
				if (s <= 0)
					_exit(3);
				seqs[i] = s;
			}
			if (write(pipes[c][1], seqs, sizeof(seqs)) !=
			    sizeof(seqs))
				_exit(4);
			_exit(0);
		}
		close(pipes[c][1]);
	}
	for (int c = 0; c < SEQ_CHILDREN; c++) {
		size_t off = 0;
		int status;

		while (off < sizeof(sent[c])) {
			n = read(pipes[c][0], (char *)sent[c] + off,
				 sizeof(sent[c]) - off);
			if (n <= 0)
				break;
			off += n;
		}
		close(pipes[c][0]);
		ASSERT_EQ(pids[c], waitpid(pids[c], &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			TH_LOG("child %d status 0x%x", c, status);
		}
		ASSERT_EQ(sizeof(sent[c]), off);
	}

	n = read_records(sub, buf, cap, SEQ_CHILDREN * SEQ_PER_CHILD, 5000);
	evt_for_each_rec(h, buf, n, left) {
		const struct evbus_event *ev = (const void *)h;
		int c;

		if (h->kind != EVBUS_REC_EVENT) {
			lagged++;
			continue;
		}
		total++;
		EXPECT_LT(last, ev->seq) {
			TH_LOG("seq %llu after %llu", (unsigned long long)ev->seq,
			       (unsigned long long)last);
		}
		last = ev->seq;
		ASSERT_EQ(1, sscanf(EVBUS_EVENT_TOPIC(ev), "seqtest.%d", &c));
		ASSERT_TRUE(c >= 0 && c < SEQ_CHILDREN);
		ASSERT_EQ(c, ev->type);
		ASSERT_GT(SEQ_PER_CHILD, ngot[c]);
		/* Each child's events arrive in its own publish order. */
		EXPECT_EQ(ngot[c], ev->corr);
		got[c][ngot[c]++] = ev->seq;
	}
	EXPECT_EQ(0, lagged);
	EXPECT_EQ(SEQ_CHILDREN * SEQ_PER_CHILD, total);
	for (int c = 0; c < SEQ_CHILDREN; c++) {
		EXPECT_EQ(SEQ_PER_CHILD, ngot[c]);
		for (int i = 0; i < ngot[c]; i++) {
			if (sent[c][i] == got[c][i])
				continue;
			EXPECT_EQ(sent[c][i], got[c][i]) {
				TH_LOG("child %d event %d", c, i);
			}
			break;
		}
	}
	free(buf);
	close(sub);
}

/* ---------------------------------------------------------------- 5 --- */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Check the layout of one event record that read() returned alone in a
 * 0xcc-filled buffer of size cap: length, header, topic, payload, padding.
 */
static void check_event_layout(struct __test_metadata *_metadata,
			       const char *buf, ssize_t n, size_t cap,
			       const char *topic, const void *payload,
			       size_t plen)
{
	const struct evbus_event *ev = (const void *)buf;
	size_t tl = strlen(topic);
	size_t want = sizeof(struct evbus_event) + EVBUS_ALIGN(tl + 1) +
		      EVBUS_ALIGN(plen);
	const char *t, *p;

	ASSERT_EQ(want, n);
	ASSERT_EQ(want, ev->hdr.len);
	EXPECT_EQ(EVBUS_REC_EVENT, ev->hdr.kind);
	EXPECT_EQ(sizeof(struct evbus_event), ev->hdr.hdr_len);
	EXPECT_EQ(tl, ev->topic_len);
	EXPECT_EQ(plen, ev->payload_len);
	EXPECT_EQ(0, ev->flags);
	t = EVBUS_EVENT_TOPIC(ev);
	EXPECT_EQ(buf + 80, t);
	EXPECT_EQ(0, memcmp(t, topic, tl));
	EXPECT_EQ(0, t[tl]);
	EXPECT_STREQ(topic, t);
	for (size_t i = tl + 1; i < EVBUS_ALIGN(tl + 1); i++) {
		EXPECT_EQ(0, t[i]) {
			TH_LOG("topic padding byte %zu is 0x%02x", i,
			       (unsigned char)t[i]);
		}
	}
	p = EVBUS_EVENT_PAYLOAD(ev);
	EXPECT_EQ(buf + 80 + EVBUS_ALIGN(tl + 1), p);
	if (plen)
		EXPECT_EQ(0, memcmp(p, payload, plen));
	for (size_t i = plen; i < EVBUS_ALIGN(plen); i++) {
		EXPECT_EQ(0, p[i]) {
			TH_LOG("payload padding byte %zu is 0x%02x", i,
			       (unsigned char)p[i]);
		}
	}
	/* Nothing written past the record. */
	for (size_t i = n; i < cap; i++) {
		if ((unsigned char)buf[i] != 0xcc) {
			EXPECT_EQ(0xcc, (unsigned char)buf[i]) {
				TH_LOG("byte %zu past the record written", i);
			}
			break;
		}
	}
}

/* Blocking read of exactly one record into a 0xcc-filled buffer. */
static ssize_t read_one(int fd, char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	memset(buf, 0xcc, cap);
	if (poll(&pfd, 1, 5000) != 1)
		return -ETIMEDOUT;
	return read(fd, buf, cap);
}

TEST(metadata_layout_and_verbatim_fields)
{
	static const char topic[] = "meta.layout.check";
	static const unsigned char bin[] = {
		0, 1, 0, 0, 0xff, 0, 0xcc, 0, 0, 0x80, 0, 'x', 0,
	};
	char buf[4096], big_payload[1000];
	const struct evbus_event *ev = (const void *)buf;
	int sub = evt_open(), pub = evt_open();
	uint64_t rt0, rt1, mo0, mo1;
	int64_t seq;
	ssize_t n;

	ASSERT_LE(0, sub);
	ASSERT_LE(0, pub);
	ASSERT_LT(0, evt_sub(sub, "meta.layout.>"));

	/* Binary payload with embedded zeros; huge verbatim fields. */
	rt0 = now_ns(CLOCK_REALTIME);
	mo0 = now_ns(CLOCK_MONOTONIC);
	seq = evt_pub_full(pub, topic, bin, sizeof(bin), 0xfeedf00d,
			   0xdeadbeefcafef00dull, 0xfffffffffffffffeull);
	mo1 = now_ns(CLOCK_MONOTONIC);
	rt1 = now_ns(CLOCK_REALTIME);
	ASSERT_LT(0, seq);
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), topic, bin,
			   sizeof(bin));
	EXPECT_EQ(seq, ev->seq);
	EXPECT_EQ(0xfeedf00d, ev->type);
	EXPECT_EQ(0xdeadbeefcafef00dull, ev->corr);
	EXPECT_EQ(0xfffffffffffffffeull, ev->parent);
	EXPECT_LE(rt0, ev->time_ns);
	EXPECT_GE(rt1, ev->time_ns);
	EXPECT_LE(mo0, ev->mono_ns);
	EXPECT_GE(mo1, ev->mono_ns);
	EXPECT_EQ(getpid(), ev->pid);
	EXPECT_EQ(gettid(), ev->tid);
	EXPECT_EQ(geteuid(), ev->uid);
	EXPECT_EQ(getegid(), ev->gid);

	/* Empty payload; topic length a multiple of 8 minus one and of 8. */
	ASSERT_LT(0, evt_pub_full(pub, "meta.layout.abcd", NULL, 0, 0, 0, 0));
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), "meta.layout.abcd",
			   NULL, 0);
	EXPECT_EQ(0, ev->type);
	EXPECT_EQ(0, ev->corr);
	EXPECT_EQ(0, ev->parent);
	ASSERT_LT(0, evt_pub_full(pub, "meta.layout.abcde", "12345678", 8,
				  0, 0, 0));
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), "meta.layout.abcde",
			   "12345678", 8);

	/* Every payload length mod 8, and a larger one. */
	for (size_t i = 0; i < sizeof(big_payload); i++)
		big_payload[i] = i * 7 + 3;
	for (size_t len = 1; len <= 17; len++) {
		ASSERT_LT(0, evt_pub_full(pub, "meta.layout.x", big_payload,
					  len, 0, 0, 0));
		n = read_one(sub, buf, sizeof(buf));
		check_event_layout(_metadata, buf, n, sizeof(buf),
				   "meta.layout.x", big_payload, len);
	}
	ASSERT_LT(0, evt_pub_full(pub, "meta.layout.big", big_payload,
				  sizeof(big_payload), 0, 0, 0));
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), "meta.layout.big",
			   big_payload, sizeof(big_payload));
	close(sub);
	close(pub);
}

struct thr_pub {
	int fd;
	pid_t tid;
	int64_t seq;
};

static void *thread_publish(void *arg)
{
	struct thr_pub *tp = arg;

	tp->tid = gettid();
	tp->seq = evt_pub(tp->fd, "meta.thread", "from thread");
	return NULL;
}

TEST(metadata_pid_tid_from_second_thread)
{
	char buf[1024];
	const struct evbus_event *ev = (const void *)buf;
	struct thr_pub tp = {};
	pthread_t th;
	int sub = evt_open(), pub = evt_open();
	ssize_t n;

	ASSERT_LE(0, sub);
	ASSERT_LE(0, pub);
	ASSERT_LT(0, evt_sub(sub, "meta.thread"));
	tp.fd = pub;
	ASSERT_EQ(0, pthread_create(&th, NULL, thread_publish, &tp));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LT(0, tp.seq);
	ASSERT_NE(gettid(), tp.tid);
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), "meta.thread",
			   "from thread", 11);
	EXPECT_EQ(tp.seq, ev->seq);
	EXPECT_EQ(getpid(), ev->pid);
	EXPECT_EQ(tp.tid, ev->tid);
	EXPECT_NE(ev->pid, ev->tid);

	/* And from the main thread of the same process. */
	ASSERT_LT(0, evt_pub(pub, "meta.thread", "from thread"));
	n = read_one(sub, buf, sizeof(buf));
	ASSERT_LT(0, n);
	EXPECT_EQ(getpid(), ev->pid);
	EXPECT_EQ(gettid(), ev->tid);
	close(sub);
	close(pub);
}

/* Fork a child that drops to uid/gid and publishes topic; returns its pid. */
static pid_t publish_as(uid_t uid, gid_t gid, const char *topic)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd;

		alarm(20);
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			_exit(2);
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		if (evt_pub(fd, topic, "dropped") <= 0)
			_exit(4);
		_exit(0);
	}
	return pid;
}

static int wait_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(metadata_uid_gid_of_unprivileged_publisher)
{
	char buf[1024];
	const struct evbus_event *ev = (const void *)buf;
	int sub = evt_open();
	pid_t pid;
	ssize_t n;
	int ret;

	ASSERT_LE(0, sub);
	ASSERT_LT(0, evt_sub(sub, "meta.cred"));
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
	pid = publish_as(1234, 4321, "meta.cred");
	ASSERT_LT(0, pid);
	ret = wait_ok(pid);
	chmod(EVBUS_DEV, 0660);
	ASSERT_EQ(0, ret);
	n = read_one(sub, buf, sizeof(buf));
	check_event_layout(_metadata, buf, n, sizeof(buf), "meta.cred",
			   "dropped", 7);
	EXPECT_EQ(pid, ev->pid);
	EXPECT_EQ(pid, ev->tid);
	EXPECT_EQ(1234, ev->uid);
	EXPECT_EQ(4321, ev->gid);
	close(sub);
}

/* ---------------------------------------------------------------- 6 --- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static ssize_t read_all(int fd, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	return off;
}

/* A length-prefixed blob over a pipe. */
static int send_blob(int fd, const void *buf, uint32_t len)
{
	if (write_all(fd, &len, sizeof(len)))
		return -1;
	return write_all(fd, buf, len);
}

static ssize_t recv_blob(int fd, void *buf, uint32_t cap)
{
	uint32_t len;

	if (read_all(fd, &len, sizeof(len)) != sizeof(len) || len > cap)
		return -1;
	if (read_all(fd, buf, len) != len)
		return -1;
	return len;
}

/* Wait up to 10 s for one byte on fd; 1 if it came, 0 on EOF/timeout. */
static int wait_byte(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, 10000) != 1)
		return 0;
	return read(fd, &c, 1) == 1;
}

/* The n-th event record in buf, or NULL. */
static const struct evbus_event *nth_event(const char *buf, size_t len, int nth)
{
	struct evbus_rec_hdr *h;
	ssize_t left;

	evt_for_each_rec(h, buf, len, left) {
		if (h->kind == EVBUS_REC_EVENT && nth-- == 0)
			return (const void *)h;
	}
	return NULL;
}

TEST(pid_namespace_translation)
{
	int ready[2], info[2], data[2];
	char buf[4096], gbuf[4096];
	const struct evbus_event *ev;
	int sub = evt_open(), pub = evt_open();
	pid_t child, outer_gc = 0;
	int64_t seq_in;
	ssize_t n;

	ASSERT_LE(0, sub);
	ASSERT_LE(0, pub);
	ASSERT_LT(0, evt_sub(sub, "pidns.out"));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(info));
	ASSERT_EQ(0, pipe(data));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		pid_t gc;

		alarm(25);
		close(ready[0]);
		close(info[0]);
		close(data[0]);
		if (unshare(CLONE_NEWPID))
			_exit(errno == EPERM || errno == EINVAL ? 4 : 5);
		gc = fork();
		if (gc < 0)
			_exit(6);
		if (gc == 0) {
			char in[4096], own[4096];
			ssize_t nin, nown;
			int fd;

			if (getpid() != 1)
				_exit(7);
			fd = evt_open();
			if (fd < 0 || evt_sub(fd, "pidns.in") <= 0 ||
			    evt_sub(fd, "pidns.out") <= 0)
				_exit(8);
			if (write(ready[1], "r", 1) != 1)
				_exit(9);
			/* The outer publisher's event first... */
			nin = read_records(fd, in, sizeof(in), 1, 10000);
			/* ...then our own, seen from inside: pid 1. */
			if (evt_pub(fd, "pidns.out", "inner") <= 0)
				_exit(10);
			nown = read_records(fd, own, sizeof(own), 1, 10000);
			if (nin < 0 || nown < 0 ||
			    send_blob(data[1], in, nin) ||
			    send_blob(data[1], own, nown))
				_exit(11);
			_exit(0);
		}
		if (write_all(info[1], &gc, sizeof(gc)))
			_exit(12);
		_exit(wait_ok(gc));
	}
	close(ready[1]);
	close(info[1]);
	close(data[1]);

	if (!wait_byte(ready[0])) {
		int st = wait_ok(child);

		if (st == 4)
			SKIP(goto out, "unshare(CLONE_NEWPID) not permitted");
		ASSERT_EQ(0, st) TH_LOG("pid-ns child failed early");
		ASSERT_TRUE(0) TH_LOG("pid-ns grandchild never got ready");
	}
	ASSERT_EQ(sizeof(outer_gc), read_all(info[0], &outer_gc, sizeof(outer_gc)));
	ASSERT_LT(1, outer_gc);

	seq_in = evt_pub(pub, "pidns.in", "outer");
	ASSERT_LT(0, seq_in);

	/* The grandchild's publish, seen from outside: its outer pid. */
	n = read_records(sub, buf, sizeof(buf), 1, 10000);
	ev = nth_event(buf, n, 0);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("pidns.out", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(outer_gc, ev->pid);
	EXPECT_EQ(outer_gc, ev->tid);
	EXPECT_NE(1, ev->pid);
	EXPECT_EQ(0, ev->uid);

	/* What the grandchild saw. */
	n = recv_blob(data[0], gbuf, sizeof(gbuf));
	ASSERT_LT(0, n);
	ev = nth_event(gbuf, n, 0);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("pidns.in", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(seq_in, ev->seq);
	EXPECT_EQ(0, ev->pid);
	EXPECT_EQ(0, ev->tid);
	EXPECT_EQ(0, ev->uid);
	EXPECT_EQ(0, ev->gid);
	EXPECT_EQ(NULL, nth_event(gbuf, n, 1));

	n = recv_blob(data[0], gbuf, sizeof(gbuf));
	ASSERT_LT(0, n);
	ev = nth_event(gbuf, n, 0);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("pidns.out", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(1, ev->pid);
	EXPECT_EQ(1, ev->tid);

	EXPECT_EQ(0, wait_ok(child));
out:
	close(sub);
	close(pub);
}

/* ---------------------------------------------------------------- 7 --- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -errno;
	close(fd);
	return ret;
}

/*
 * A child in a new user namespace subscribes to topic and ships the
 * records it reads (want of them) back over data.  With self_map it maps
 * 0->0 itself; otherwise the parent writes the maps (go is then closed by
 * the parent when done) after the child reported "u" (unshared).
 */
static pid_t userns_reader(const char *topic, int want, int self_map,
			   int ready_w, int go_r, int data_w)
{
	pid_t pid = fork();

	if (pid == 0) {
		char buf[8192];
		ssize_t n;
		int fd;

		alarm(25);
		if (unshare(CLONE_NEWUSER))
			_exit(errno == EPERM || errno == EINVAL ? 4 : 5);
		if (self_map) {
			if (write_file("/proc/self/setgroups", "deny") ||
			    write_file("/proc/self/uid_map", "0 0 1") ||
			    write_file("/proc/self/gid_map", "0 0 1"))
				_exit(6);
		} else {
			if (write(ready_w, "u", 1) != 1 || !wait_byte(go_r))
				_exit(7);
		}
		if (getuid() != 0 || getgid() != 0)
			_exit(8);
		fd = evt_open();
		if (fd < 0)
			_exit(9);
		if (evt_sub(fd, topic) <= 0)
			_exit(10);
		if (write(ready_w, "r", 1) != 1)
			_exit(11);
		n = read_records(fd, buf, sizeof(buf), want, 10000);
		if (n < 0 || send_blob(data_w, buf, n))
			_exit(12);
		_exit(0);
	}
	return pid;
}

TEST(user_namespace_translation_identity_map)
{
	int ready[2], data[2];
	char buf[8192];
	const struct evbus_event *ev;
	int pub = evt_open(), st;
	pid_t child, dropped;
	ssize_t n;

	ASSERT_LE(0, pub);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(data, O_CLOEXEC));
	child = userns_reader("userns.id.>", 2, 1, ready[1], -1, data[1]);
	ASSERT_LE(0, child);
	close(ready[1]);
	close(data[1]);
	if (!wait_byte(ready[0])) {
		st = wait_ok(child);
		if (st == 4)
			SKIP(goto out, "unshare(CLONE_NEWUSER) not permitted");
		ASSERT_EQ(0, st) TH_LOG("user-ns child failed early");
		ASSERT_TRUE(0);
	}

	ASSERT_LT(0, evt_pub(pub, "userns.id.root", "root"));
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
	dropped = publish_as(1234, 4321, "userns.id.user");
	st = dropped > 0 ? wait_ok(dropped) : -1;
	chmod(EVBUS_DEV, 0660);
	ASSERT_EQ(0, st);

	n = recv_blob(data[0], buf, sizeof(buf));
	ASSERT_LT(0, n);
	ev = nth_event(buf, n, 0);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("userns.id.root", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(0, ev->uid);
	EXPECT_EQ(0, ev->gid);
	EXPECT_EQ(getpid(), ev->pid);
	ev = nth_event(buf, n, 1);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("userns.id.user", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(65534, ev->uid);
	EXPECT_EQ(65534, ev->gid);
	EXPECT_EQ(dropped, ev->pid);
	EXPECT_EQ(NULL, nth_event(buf, n, 2));
	EXPECT_EQ(0, wait_ok(child));
out:
	close(pub);
}

TEST(user_namespace_translation_shifted_map)
{
	int ready[2], go[2], data[2];
	char path[64], buf[8192];
	const struct evbus_event *ev;
	int pub = evt_open(), st;
	pid_t child, p1, p2;
	ssize_t n;

	ASSERT_LE(0, pub);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(data, O_CLOEXEC));
	child = userns_reader("userns.shift.>", 3, 0, ready[1], go[0], data[1]);
	ASSERT_LE(0, child);
	close(ready[1]);
	close(go[0]);
	close(data[1]);
	if (!wait_byte(ready[0])) {
		st = wait_ok(child);
		if (st == 4)
			SKIP(goto out, "unshare(CLONE_NEWUSER) not permitted");
		ASSERT_EQ(0, st) TH_LOG("user-ns child failed early");
		ASSERT_TRUE(0);
	}
	/* inside 0 = outside 0, inside 5000 = outside 1234; gids likewise. */
	snprintf(path, sizeof(path), "/proc/%d/uid_map", child);
	ASSERT_EQ(0, write_file(path, "0 0 1\n5000 1234 1\n"));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", child);
	ASSERT_EQ(0, write_file(path, "0 0 1\n6000 4321 1\n"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_TRUE(wait_byte(ready[0]));

	ASSERT_LT(0, evt_pub(pub, "userns.shift.root", "root"));
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
	p1 = publish_as(1234, 4321, "userns.shift.mapped");
	st = p1 > 0 ? wait_ok(p1) : -1;
	if (!st) {
		p2 = publish_as(1000, 1000, "userns.shift.unmapped");
		st = p2 > 0 ? wait_ok(p2) : -1;
	}
	chmod(EVBUS_DEV, 0660);
	ASSERT_EQ(0, st);

	n = recv_blob(data[0], buf, sizeof(buf));
	ASSERT_LT(0, n);
	ev = nth_event(buf, n, 0);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("userns.shift.root", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(0, ev->uid);
	EXPECT_EQ(0, ev->gid);
	ev = nth_event(buf, n, 1);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("userns.shift.mapped", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(5000, ev->uid);
	EXPECT_EQ(6000, ev->gid);
	ev = nth_event(buf, n, 2);
	ASSERT_NE(NULL, ev);
	EXPECT_STREQ("userns.shift.unmapped", EVBUS_EVENT_TOPIC(ev));
	EXPECT_EQ(65534, ev->uid);
	EXPECT_EQ(65534, ev->gid);
	EXPECT_EQ(0, wait_ok(child));
out:
	close(pub);
}

TEST_HARNESS_MAIN
