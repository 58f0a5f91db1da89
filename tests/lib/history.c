// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.5: history, replay on subscribe and retained values, through
 * the library.  evbus_subscribe_since() replays flagged events and joins
 * the live stream with no gap and no duplicate (also against a publisher
 * racing the join), reports what the history lost in one exact LAGGED
 * record with EVBUS_LAGGED_HISTORY, refuses a seq beyond the bus
 * (-ERANGE) and a handle that queued something (-EBUSY);
 * evbus_subscribe_last() and evbus_subscribe_retained() start where they
 * say; retained values are set, replaced and cleared; evbus_get_history()
 * and evbus_set_history_capacity() report and size the history; the option
 * structs stay compatible with callers built against 1.4.
 *
 * Every test runs on a bus of its own (a new IPC namespace), so the
 * history, the retained values and the sequence numbers are the test's
 * alone.  Tests skip when the module lacks the history (or retained)
 * feature.
 */
#include <sched.h>
#include <stddef.h>

#include "lib_test.h"

/* Move this test process to a new IPC namespace: a bus of its own. */
#define LT_NEW_BUS() do {						\
	if (unshare(CLONE_NEWIPC))					\
		SKIP(return, "unshare(CLONE_NEWIPC): %s", strerror(errno)); \
} while (0)

/* Skip unless the module has feature bit feat (named name). */
#define LT_NEED_FEATURE(bus, feat, name) do {				\
	struct evbus_version lt_v_;					\
	ASSERT_EQ(0, evbus_query((bus), &lt_v_));			\
	if (!(lt_v_.features & (feat)))					\
		SKIP(return, "the module has no '" name "' feature");	\
} while (0)

#define MAXREC	1024

/* One record as the tests look at it. */
struct hrec {
	unsigned int kind;
	uint32_t flags;
	uint64_t seq;			/* events */
	uint64_t first, last, lost;	/* LAGGED */
	char topic[64];
	char payload[64];
};

static void hrec_fill(struct hrec *o, const struct evbus_record *rec)
{
	memset(o, 0, sizeof(*o));
	o->kind = rec->kind;
	if (rec->event) {
		o->flags = rec->event->flags;
		o->seq = rec->event->seq;
		snprintf(o->topic, sizeof(o->topic), "%s", rec->topic);
		snprintf(o->payload, sizeof(o->payload), "%.*s",
			 (int)rec->payload_len, (const char *)rec->payload);
	} else if (rec->lagged) {
		o->flags = rec->lagged->flags;
		o->first = rec->lagged->first_seq;
		o->last = rec->lagged->last_seq;
		o->lost = rec->lagged->lost;
	}
}

/*
 * Read records into r[] until want of them came or none came for
 * timeout_ms: how many (at most max), or -errno.  A handle catching up is
 * readable until it is live, so the waits drive the replay.
 */
static int collect(struct evbus *bus, struct hrec *r, int max, int want,
		   int timeout_ms)
{
	const struct evbus_record *rec;
	int n = 0, ret;

	while (n < want) {
		ret = evbus_read(bus, &rec, timeout_ms);
		if (ret == -ETIMEDOUT)
			break;
		if (ret)
			return ret;
		if (n < max)
			hrec_fill(&r[n], rec);
		n++;
	}
	return n < max ? n : max;
}

/* Nothing more comes (this also lets a replay finish and go live). */
static int quiet(struct evbus *bus)
{
	const struct evbus_record *rec;
	int ret = evbus_read(bus, &rec, 200);

	return ret == -ETIMEDOUT ? 0 : ret ? ret : (int)rec->kind;
}

/* Publish text on topic: its seq, or 0 on failure. */
static uint64_t pub(struct evbus *bus, const char *topic, const char *text)
{
	uint64_t seq = 0;

	if (evbus_publish(bus, topic, text, strlen(text), NULL, &seq))
		return 0;
	return seq;
}

/*
 * Ten pairs: a%d on topic a (seqs in sa), then "b" on topic b (seqs in sb,
 * or nowhere).  0, or -1 if a publish failed.
 */
static int pub_pairs(struct evbus *bus, const char *a, const char *b,
		     uint64_t sa[10], uint64_t *sb)
{
	char text[16];
	uint64_t seq;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "a%d", i);
		sa[i] = pub(bus, a, text);
		seq = pub(bus, b, "b");
		if (!sa[i] || !seq)
			return -1;
		if (sb)
			sb[i] = seq;
	}
	return 0;
}

/* ------------------------------------------------------------- replay */

/* since: the history from there on, flagged, then live, nothing else. */
TEST(since_replays_then_goes_live)
{
	static struct hrec r[MAXREC];
	uint64_t sa[10], sb[10], live;
	struct evbus *p, *s;
	char text[16];
	uint32_t id = 0;
	int i;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ASSERT_EQ(0, pub_pairs(p, "h.a", "h.b", sa, sb));
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_since(s, "h.a", sa[4], &id));
	EXPECT_NE(0, id);
	ASSERT_EQ(6, collect(s, r, MAXREC, 6, 2000));
	for (i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "a%d", 4 + i);
		EXPECT_EQ(EVBUS_REC_EVENT, r[i].kind);
		EXPECT_EQ(sa[4 + i], r[i].seq);
		EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags);
		EXPECT_STREQ("h.a", r[i].topic);
		EXPECT_STREQ(text, r[i].payload);
	}
	EXPECT_EQ(0, quiet(s));
	/* Live now: the next event, once, without a flag. */
	live = pub(p, "h.a", "live");
	pub(p, "h.b", "b");
	ASSERT_EQ(1, collect(s, r, MAXREC, 1, 2000));
	EXPECT_EQ(live, r[0].seq);
	EXPECT_EQ(0, r[0].flags);
	EXPECT_STREQ("live", r[0].payload);
	EXPECT_EQ(0, quiet(s));
	evbus_close(s);
	evbus_close(p);
}

/*
 * A publisher racing the join: every seq from since to the last one comes
 * exactly once, in order, delivered or inside a LAGGED record; the events
 * published before the subscription come flagged.
 */
TEST(since_joins_a_racing_publisher_exactly)
{
	static struct hrec r[MAXREC];
	uint64_t first = 0, before = 0, next;
	struct evbus *p, *s;
	int i, n = 0, ret;
	pid_t child;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	for (i = 0; i < 50; i++) {
		before = pub(p, "h.race", "before");
		ASSERT_NE(0, before);
		if (i == 10)
			first = before;
	}
	LT_OPEN(s, 0);
	/* A ring that holds it all: a loss would be legal, but not expected. */
	evbus_set_ring(s, 256 << 10, EVBUS_POLICY_DROP_OLDEST);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct evbus *c;

		if (evbus_open(&c, NULL))
			_exit(1);
		for (i = 0; i < 300; i++)
			if (!pub(c, "h.race", "during"))
				_exit(1);
		_exit(pub(c, "h.race", "end") ? 0 : 1);
	}
	ASSERT_EQ(0, evbus_subscribe_since(s, "h.race", first, NULL));
	for (;;) {
		const struct evbus_record *rec;

		ret = evbus_read(s, &rec, 5000);
		ASSERT_EQ(0, ret);
		ASSERT_GT(MAXREC, n);
		hrec_fill(&r[n++], rec);
		if (rec->event && !strcmp(r[n - 1].payload, "end"))
			break;
	}
	EXPECT_EQ(0, lt_wait(child));
	EXPECT_EQ(0, quiet(s));
	/* The bus carries nothing else: its seqs are contiguous. */
	next = first;
	for (i = 0; i < n; i++) {
		if (r[i].kind == EVBUS_REC_LAGGED) {
			EXPECT_EQ(next, r[i].first) TH_LOG("record %d", i);
			EXPECT_EQ(r[i].last - r[i].first + 1, r[i].lost);
			next = r[i].last + 1;
			continue;
		}
		ASSERT_EQ(EVBUS_REC_EVENT, r[i].kind);
		ASSERT_EQ(next, r[i].seq) TH_LOG("record %d: a gap or a duplicate", i);
		if (r[i].seq <= before)
			EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags)
				TH_LOG("seq %llu", (unsigned long long)r[i].seq);
		next++;
	}
	EXPECT_EQ(before + 302, next);
	evbus_close(s);
	evbus_close(p);
}

/* since older than the history: one exact LAGGED record, then the rest. */
TEST(since_older_than_the_history_lags_exactly)
{
	static struct hrec r[MAXREC];
	struct evbus_history h0, h;
	uint64_t first = 0, seq;
	struct evbus *p, *s;
	char text[128];
	int i, n, ret;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ASSERT_EQ(0, evbus_get_history(p, &h0));
	ret = evbus_set_history_capacity(p, 4096);
	if (ret == -EPERM)
		SKIP(return, "not the bus's owner: needs CAP_SYS_ADMIN");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, evbus_get_history(p, &h));
	EXPECT_LE(4096, h.capacity);
	EXPECT_EQ(0, h.events);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (i = 0; i < 200; i++) {
		seq = pub(p, "h.lag", text);
		ASSERT_NE(0, seq);
		if (!first)
			first = seq;
	}
	ASSERT_EQ(0, evbus_get_history(p, &h));
	ASSERT_LT(first, h.oldest_seq);		/* some were evicted */
	EXPECT_EQ(seq, h.newest_seq);
	EXPECT_EQ(seq + 1, h.next_seq);
	EXPECT_EQ(h.newest_seq - h.oldest_seq + 1, h.events);
	EXPECT_LE(h.oldest_seq - first, h.evicted);
	EXPECT_GE(h.capacity, h.bytes);

	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_since(s, "h.lag", first, NULL));
	n = collect(s, r, MAXREC, 1 + (int)h.events, 2000);
	ASSERT_EQ(1 + (int)h.events, n);
	EXPECT_EQ(EVBUS_REC_LAGGED, r[0].kind);
	EXPECT_EQ(EVBUS_LAGGED_HISTORY, r[0].flags);
	EXPECT_EQ(first, r[0].first);
	EXPECT_EQ(h.oldest_seq - 1, r[0].last);
	EXPECT_EQ(h.oldest_seq - first, r[0].lost);
	for (i = 1; i < n; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, r[i].kind);
		EXPECT_EQ(h.oldest_seq + i - 1, r[i].seq);
		EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags);
	}
	EXPECT_EQ(0, quiet(s));
	evbus_close(s);

	/* Back to the bus's first capacity (a new capacity empties it). */
	ASSERT_EQ(0, evbus_set_history_capacity(p, h0.capacity));
	ASSERT_EQ(0, evbus_get_history(p, &h));
	EXPECT_EQ(h0.capacity, h.capacity);
	EXPECT_EQ(0, h.events);
	EXPECT_EQ(0, h.oldest_seq);
	evbus_close(p);
}

/* last K: the last K matching events of the history, then live. */
TEST(last_k_matching_events)
{
	static struct hrec r[MAXREC];
	uint64_t sa[10], live;
	struct evbus *p, *s, *all;
	int i;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ASSERT_EQ(0, pub_pairs(p, "k.a", "k.b", sa, NULL));
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_last(s, "k.a", 3, NULL));
	ASSERT_EQ(3, collect(s, r, MAXREC, 3, 2000));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(sa[7 + i], r[i].seq);
		EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags);
		EXPECT_STREQ("k.a", r[i].topic);
	}
	EXPECT_EQ(0, quiet(s));
	live = pub(p, "k.a", "live");
	ASSERT_EQ(1, collect(s, r, MAXREC, 1, 2000));
	EXPECT_EQ(live, r[0].seq);
	EXPECT_EQ(0, r[0].flags);

	/* More than the history has: all it has. */
	LT_OPEN(all, 0);
	ASSERT_EQ(0, evbus_subscribe_last(all, "k.a", 100, NULL));
	ASSERT_EQ(11, collect(all, r, MAXREC, 12, 500));
	for (i = 0; i < 10; i++)
		EXPECT_EQ(sa[i], r[i].seq);
	EXPECT_EQ(live, r[10].seq);
	evbus_close(all);
	evbus_close(s);
	evbus_close(p);
}

/* A replay passes the subscription's filters, as live events do. */
TEST(replay_honours_filters)
{
	static struct hrec r[MAXREC];
	EVBUS_OPTS(evbus_sub_opts, so, .flags = EVBUS_SUB_SINCE | EVBUS_SUB_TYPE,
		   .type_min = 5, .type_max = 5);
	EVBUS_OPTS(evbus_pub_opts, po);
	uint64_t seq, want[5];
	struct evbus *p, *s;
	int i, k = 0;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	for (i = 0; i < 10; i++) {
		po.type = i % 2 ? 5 : 4;
		ASSERT_EQ(0, evbus_publish(p, "f.x", "x", 1, &po, &seq));
		if (!i)
			so.since = seq;
		if (i % 2)
			want[k++] = seq;
	}
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_opts(s, "f.x", &so, NULL));
	ASSERT_EQ(5, collect(s, r, MAXREC, 5, 2000));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(want[i], r[i].seq);
		EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags);
	}
	EXPECT_EQ(0, quiet(s));
	evbus_close(s);
	evbus_close(p);
}

/* -------------------------------------------------------------- refusals */

/* since must lie in 1..next_seq: beyond it is another bus. */
TEST(since_beyond_the_next_seq_is_erange)
{
	static struct hrec r[MAXREC];
	struct evbus_history h;
	struct evbus *p, *s;
	uint64_t live;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ASSERT_NE(0, pub(p, "e.x", "one"));
	ASSERT_EQ(0, evbus_get_history(p, &h));
	LT_OPEN(s, 0);
	errno = 4242;
	EXPECT_EQ(-ERANGE, evbus_subscribe_since(s, "e.x", h.next_seq + 1, NULL));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-ERANGE, evbus_subscribe_since(s, "e.x", UINT64_MAX, NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe_since(s, "e.x", 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe_last(s, "e.x", 0, NULL));
	/*
	 * The failed calls left the handle as it was, so it may still replay:
	 * since the next seq replays nothing, and is live from there.
	 */
	ASSERT_EQ(0, evbus_subscribe_since(s, "e.x", h.next_seq, NULL));
	EXPECT_EQ(0, quiet(s));
	live = pub(p, "e.x", "two");
	ASSERT_EQ(1, collect(s, r, MAXREC, 1, 2000));
	EXPECT_EQ(live, r[0].seq);
	EXPECT_EQ(0, r[0].flags);
	evbus_close(s);
	evbus_close(p);
}

/* Replay needs a handle that queued nothing; retained, one not catching up. */
TEST(replay_on_a_handle_with_records_is_ebusy)
{
	struct evbus_version v;
	struct evbus *p, *s, *c;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe(s, "b.a", NULL));
	ASSERT_NE(0, pub(p, "b.a", "queued"));
	EXPECT_EQ(-EBUSY, evbus_subscribe_since(s, "b.b", 1, NULL));
	EXPECT_EQ(-EBUSY, evbus_subscribe_last(s, "b.b", 1, NULL));

	/* Catching up (nothing read yet): no retained values meanwhile. */
	LT_OPEN(c, 0);
	ASSERT_EQ(0, evbus_subscribe_since(c, "b.a", 1, NULL));
	ASSERT_EQ(0, evbus_query(p, &v));
	if (v.features & EVBUS_FEAT_RETAINED)
		EXPECT_EQ(-EBUSY, evbus_subscribe_retained(c, "b.c", NULL));
	evbus_close(c);
	evbus_close(s);
	evbus_close(p);
}

/* At most one start in the past per subscription. */
TEST(past_starts_exclude_each_other)
{
	EVBUS_OPTS(evbus_sub_opts, both, .flags = EVBUS_SUB_SINCE | EVBUS_SUB_LAST,
		   .since = 1, .last = 1);
	EVBUS_OPTS(evbus_sub_opts, ret, .flags = EVBUS_SUB_SINCE | EVBUS_SUB_RETAINED,
		   .since = 1);
	EVBUS_OPTS(evbus_sub_opts, res, .flags = EVBUS_SUB_SINCE, .since = 1,
		   .reserved1 = 1);
	struct evbus *p, *s;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ASSERT_NE(0, pub(p, "x.a", "x"));
	LT_OPEN(s, 0);
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(s, "x.a", &both, NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(s, "x.a", &ret, NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(s, "x.a", &res, NULL));
	/* None of them changed the handle: it may still replay. */
	EXPECT_EQ(0, evbus_subscribe_since(s, "x.a", 1, NULL));
	evbus_close(s);
	evbus_close(p);
}

/* The policy's replay right, on top of subscribe. */
TEST(replay_needs_the_replay_right)
{
	struct evbus *p, *s;
	uint32_t rule;
	int ret;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	ret = evbus_policy_add(p, "secret.>", EVBUS_DENY, EVBUS_RIGHT_REPLAY,
			       EVBUS_WHO_ALL, 0, 0, &rule);
	if (ret == -EPERM)
		SKIP(return, "not the bus's owner: needs CAP_SYS_ADMIN");
	ASSERT_EQ(0, ret);
	ASSERT_NE(0, pub(p, "secret.a", "s"));
	LT_OPEN(s, 0);
	EXPECT_EQ(-EACCES, evbus_subscribe_since(s, "secret.a", 1, NULL));
	EXPECT_EQ(-EACCES, evbus_subscribe_last(s, "secret.>", 1, NULL));
	EXPECT_EQ(0, evbus_subscribe_since(s, "public.a", 1, NULL));
	/* Live subscriptions need no replay right. */
	EXPECT_EQ(0, evbus_subscribe(s, "secret.a", NULL));
	evbus_close(s);
	EXPECT_EQ(0, evbus_policy_clear(p, 0));
	evbus_close(p);
}

/* ------------------------------------------------------- retained values */

TEST(retained_values_set_update_clear)
{
	static struct hrec r[MAXREC];
	EVBUS_OPTS(evbus_pub_opts, po, .flags = EVBUS_PUB_RETAIN);
	uint64_t a2, b, live, seq;
	struct evbus_history h;
	struct evbus *p, *s, *s2;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_RETAINED, "retained");
	ASSERT_EQ(0, evbus_publish(p, "r.a", "v1", 2, &po, &seq));
	ASSERT_EQ(0, evbus_publish(p, "r.a", "v2", 2, &po, &a2));
	ASSERT_LT(seq, a2);
	ASSERT_EQ(0, evbus_publish(p, "r.b", "w", 1, &po, &b));
	ASSERT_EQ(0, evbus_publish_retained(p, "r.d", "d", 1));
	ASSERT_NE(0, pub(p, "r.c", "not retained"));
	ASSERT_EQ(0, evbus_get_history(p, &h));
	EXPECT_EQ(3, h.retained);
	EXPECT_LT(0, h.retained_bytes);

	/* Every matching topic's latest value, in seq order, original seqs. */
	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_retained(s, "r.>", NULL));
	ASSERT_EQ(3, collect(s, r, MAXREC, 3, 2000));
	EXPECT_EQ(a2, r[0].seq);
	EXPECT_STREQ("r.a", r[0].topic);
	EXPECT_STREQ("v2", r[0].payload);
	EXPECT_EQ(b, r[1].seq);
	EXPECT_STREQ("w", r[1].payload);
	EXPECT_STREQ("r.d", r[2].topic);
	EXPECT_LT(b, r[2].seq);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(EVBUS_EVENT_RETAINED, r[i].flags);
	EXPECT_EQ(0, quiet(s));
	/* Then live. */
	live = pub(p, "r.c", "live");
	ASSERT_EQ(1, collect(s, r, MAXREC, 1, 2000));
	EXPECT_EQ(live, r[0].seq);
	EXPECT_EQ(0, r[0].flags);

	/* An empty payload clears (and is published as usual). */
	ASSERT_EQ(0, evbus_publish_retained(p, "r.a", NULL, 0));
	ASSERT_EQ(1, collect(s, r, MAXREC, 1, 2000));
	EXPECT_STREQ("r.a", r[0].topic);
	EXPECT_STREQ("", r[0].payload);
	EXPECT_EQ(0, r[0].flags);
	ASSERT_EQ(0, evbus_get_history(p, &h));
	EXPECT_EQ(2, h.retained);
	LT_OPEN(s2, 0);
	ASSERT_EQ(0, evbus_subscribe_retained(s2, "r.*", NULL));
	ASSERT_EQ(2, collect(s2, r, MAXREC, 3, 500));
	EXPECT_STREQ("r.b", r[0].topic);
	EXPECT_STREQ("r.d", r[1].topic);
	/* A pattern without retained values: nothing, then live. */
	ASSERT_EQ(0, evbus_subscribe_retained(s2, "none.>", NULL));
	EXPECT_EQ(0, quiet(s2));

	EXPECT_EQ(-EINVAL, evbus_publish_retained(p, "r.a", NULL, 1));
	EXPECT_EQ(-EINVAL, evbus_publish_retained(p, "r.*", "x", 1));
	evbus_close(s2);
	evbus_close(s);
	evbus_close(p);
}

/* ----------------------------------------------------------- the history */

TEST(get_history_reports_the_bus)
{
	static struct hrec r[MAXREC];
	struct evbus_history h0, h1, h2;
	uint64_t s1, s3;
	struct evbus *p, *s;
	FILE *f;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	EXPECT_EQ(-EINVAL, evbus_get_history(NULL, &h0));
	EXPECT_EQ(-EINVAL, evbus_get_history(p, NULL));
	memset(&h0, 0xff, sizeof(h0));		/* the library zeroes it */
	ASSERT_EQ(0, evbus_get_history(p, &h0));
	EXPECT_EQ(sizeof(h0), h0.size);
	EXPECT_EQ(0, h0.flags);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, h0.reserved[i]);
	f = fopen("/sys/module/evbus/parameters/history_bytes", "re");
	if (f) {
		unsigned long long want = 0;

		if (fscanf(f, "%llu", &want) == 1 && want)
			EXPECT_LE(want, h0.capacity);
		fclose(f);
	}
	EXPECT_LT(0, h0.capacity);

	s1 = pub(p, "g.a", "1");
	ASSERT_NE(0, pub(p, "g.a", "2"));
	s3 = pub(p, "g.a", "3");
	ASSERT_NE(0, s1);
	ASSERT_NE(0, s3);
	ASSERT_EQ(0, evbus_get_history(p, &h1));
	EXPECT_EQ(h0.capacity, h1.capacity);
	EXPECT_EQ(h0.events + 3, h1.events);
	EXPECT_LT(h0.bytes, h1.bytes);
	EXPECT_EQ(s3, h1.newest_seq);
	EXPECT_EQ(s3 + 1, h1.next_seq);
	EXPECT_NE(0, h1.oldest_seq);
	EXPECT_GE(s1, h1.oldest_seq);

	LT_OPEN(s, 0);
	ASSERT_EQ(0, evbus_subscribe_since(s, "g.a", s1, NULL));
	ASSERT_EQ(3, collect(s, r, MAXREC, 3, 2000));
	ASSERT_EQ(0, evbus_get_history(p, &h2));
	EXPECT_LE(h1.replayed + 3, h2.replayed);
	evbus_close(s);
	evbus_close(p);
}

/* ------------------------------------------------ compatibility with 1.4 */

/*
 * A caller built against 1.4 passes the smaller evbus_sub_opts: it works
 * as before, and the fields it does not have read as 0.
 */
TEST(options_of_a_1_4_caller)
{
	struct evbus_sub_opts old;
	EVBUS_OPTS(evbus_pub_opts, po, .flags = 1U << 31);
	struct evbus *p, *s;
	uint64_t seq;

	LT_NEW_BUS();
	LT_OPEN(p, 0);
	LT_NEED_FEATURE(p, EVBUS_FEAT_HISTORY, "history");
	LT_OPEN(s, 0);
	memset(&old, 0, sizeof(old));
	old.sz = offsetof(struct evbus_sub_opts, since);
	old.flags = EVBUS_SUB_TYPE;
	old.type_min = 1;
	old.type_max = 9;
	EXPECT_EQ(0, evbus_subscribe_opts(s, "o.a", &old, NULL));
	/* SINCE from a 1.4-sized struct: since reads 0, which is invalid. */
	old.flags = EVBUS_SUB_SINCE;
	old.since = 5;		/* past its sz: not looked at */
	EXPECT_EQ(-EINVAL, evbus_subscribe_opts(s, "o.b", &old, NULL));
	/* Publish flags the kernel does not know: its EINVAL. */
	EXPECT_EQ(-EINVAL, evbus_publish(p, "o.a", "x", 1, &po, &seq));
	/* flags 0 is what reserved0 was. */
	po.flags = 0;
	EXPECT_EQ(0, evbus_publish(p, "o.a", "x", 1, &po, &seq));
	evbus_close(s);
	evbus_close(p);
}

TEST_HARNESS_MAIN
