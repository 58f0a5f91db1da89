// SPDX-License-Identifier: GPL-2.0
/*
 * History, replay and retained values (#15).
 *
 * Replay (EVBUS_SUB_SINCE, _LAST) gives, in seq order and once each, every
 * event from the start that the file's subscriptions match, then the live
 * ones: the stream is checked seq by seq against what was published,
 * every seq either delivered or inside a LAGGED record (EVBUS_LAGGED_HISTORY
 * for what the history no longer held), with publishers racing the join,
 * the history evicted under a replay, and a ring too small for the replay.
 * Retained values are set, replaced and cleared; the policy's replay
 * right, scoped handles, the caps (per bus, per user, memory cgroup) and
 * every refusal's errno are checked, as root and as an unprivileged uid.
 *
 * Every test runs on a bus of its own (a new IPC namespace): seqs start
 * at 1 and the bus's counters at zero.
 */
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define CGROOT		"/sys/fs/cgroup"
#define CGTEST		CGROOT "/evbus-history"
#define MAXREC		8192

/* ------------------------------------------------------------ helpers */

/* One record as the tests look at it. */
struct hrec {
	uint16_t kind;
	uint32_t flags;
	uint64_t seq;			/* events */
	uint64_t first, last, lost;	/* LAGGED */
	uint32_t pid;
	char topic[64];
	char payload[64];
};

/* Read every record queued on nonblocking fd into r[]: how many, or -errno. */
static int hdrain(int fd, struct hrec *r, int max)
{
	static char buf[256 * 1024];
	struct evbus_rec_hdr *h;
	ssize_t n, left;
	int k = 0;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? k : -errno;
		evt_for_each_rec(h, buf, n, left) {
			struct hrec *o = &r[k < max ? k : max - 1];

			memset(o, 0, sizeof(*o));
			o->kind = h->kind;
			if (h->kind == EVBUS_REC_EVENT) {
				const struct evbus_event *ev = (const void *)h;

				o->flags = ev->flags;
				o->seq = ev->seq;
				o->pid = ev->pid;
				snprintf(o->topic, sizeof(o->topic), "%s",
					 EVBUS_EVENT_TOPIC(ev));
				snprintf(o->payload, sizeof(o->payload), "%.*s",
					 (int)ev->payload_len,
					 (const char *)EVBUS_EVENT_PAYLOAD(ev));
			} else if (h->kind == EVBUS_REC_LAGGED) {
				const struct evbus_lagged *lg = (const void *)h;

				o->flags = lg->flags;
				o->first = lg->first_seq;
				o->last = lg->last_seq;
				o->lost = lg->lost;
			}
			k++;
		}
	}
}

static int sub_past(int fd, const char *pattern, uint32_t flags, uint64_t since,
		    uint32_t last)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.since = since;
	s.last = last;
	return evt_sub2(fd, pattern, &s);
}

static int64_t pub_retain(int fd, const char *topic, const char *text)
{
	struct evbus_pub p;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = strlen(topic);
	p.payload = (uintptr_t)text;
	p.payload_len = strlen(text);
	p.flags = EVBUS_PUB_RETAIN;
	if (ioctl(fd, EVBUS_IOC_PUBLISH, &p))
		return -errno;
	return (int64_t)p.seq;
}

static int history(int fd, struct evbus_history *h, uint32_t flags, uint64_t cap)
{
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	h->flags = flags;
	h->capacity = cap;
	return ioctl(fd, EVBUS_IOC_HISTORY, h) ? -errno : 0;
}

static void pub_n(int fd, const char *topic, int n)
{
	char text[32];

	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%d", i);
		if (evt_pub(fd, topic, text) < 0)
			abort();
	}
}

/*
 * Check that r[0..n) accounts for every seq in [from, to] whose topic
 * `want` says is wanted, exactly once, in order: delivered, or inside a
 * LAGGED record.  want(seq) < 0: not an event of interest.  Returns 0 or
 * the first seq at fault.
 */
static uint64_t conserved(const struct hrec *r, int n, uint64_t from,
			  uint64_t to, const unsigned char *wanted)
{
	uint64_t next = from;

	for (int i = 0; i < n; i++) {
		if (r[i].kind == EVBUS_REC_LAGGED) {
			if (r[i].first < next || r[i].last < r[i].first)
				return r[i].first ? r[i].first : 1;
			next = r[i].last + 1;
		} else if (r[i].kind == EVBUS_REC_EVENT) {
			if (r[i].seq < next || !wanted[r[i].seq])
				return r[i].seq;
			for (uint64_t s = next; s < r[i].seq; s++)
				if (wanted[s])
					return s;	/* a gap */
			next = r[i].seq + 1;
		}
	}
	for (uint64_t s = next; s <= to; s++)
		if (wanted[s])
			return s;
	return 0;
}

/* ---------------------------------------------------- replay, exactly */

/* since N: the history from N, flagged, then live, nothing else. */
TEST(since_replays_then_goes_live)
{
	static struct hrec r[64];
	int pub, sub, n, i;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	for (i = 1; i <= 10; i++) {
		ASSERT_EQ(2 * i - 1, evt_pub(pub, "a.x", "A"));
		ASSERT_EQ(2 * i, evt_pub(pub, "b.x", "B"));
	}
	sub = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LT(0, sub_past(sub, "a.>", EVBUS_SUB_SINCE, 5, 0));
	/* Published while the file catches up: it comes from the history. */
	ASSERT_EQ(21, evt_pub(pub, "a.y", "A"));
	n = hdrain(sub, r, 64);
	ASSERT_EQ(9, n);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, r[i].kind);
		EXPECT_EQ(5 + 2 * i, r[i].seq);
		EXPECT_EQ(EVBUS_EVENT_REPLAYED, r[i].flags);
		EXPECT_EQ(getpid(), r[i].pid);
	}
	EXPECT_EQ(21, r[8].seq);
	EXPECT_STREQ("a.y", r[8].topic);
	/* Live now: no flag. */
	ASSERT_EQ(22, evt_pub(pub, "a.z", "A"));
	ASSERT_EQ(1, hdrain(sub, r, 64));
	EXPECT_EQ(22, r[0].seq);
	EXPECT_EQ(0, r[0].flags);
	close(sub);
	close(pub);
}

/* last K: the last K the subscription matches, then live. */
TEST(last_k_matching)
{
	static struct hrec r[64];
	int pub, sub, n;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	for (int i = 0; i < 10; i++) {
		evt_pub(pub, "a.x", "A");
		evt_pub(pub, "b.x", "B");
	}
	sub = evt_sf_open();
	ASSERT_LE(0, sub);
	ASSERT_LT(0, sub_past(sub, "a.*", EVBUS_SUB_LAST, 0, 3));
	n = hdrain(sub, r, 64);
	ASSERT_EQ(3, n);
	EXPECT_EQ(15, r[0].seq);
	EXPECT_EQ(17, r[1].seq);
	EXPECT_EQ(19, r[2].seq);
	/* More than the history holds: all of them. */
	close(sub);
	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "b.*", EVBUS_SUB_LAST, 0, 1000));
	ASSERT_EQ(10, hdrain(sub, r, 64));
	EXPECT_EQ(2, r[0].seq);
	EXPECT_EQ(20, r[9].seq);
	close(sub);
	close(pub);
}

/* Older than the history: one LAGGED record with the exact range. */
TEST(since_older_than_history_is_one_exact_lag)
{
	static struct hrec r[512];
	struct evbus_history h;
	int pub, sub, n;
	uint64_t oldest;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	ASSERT_EQ(0, history(pub, &h, EVBUS_HISTORY_SET, 4096));
	EXPECT_EQ(4096, h.capacity);
	pub_n(pub, "h.x", 300);
	ASSERT_EQ(0, history(pub, &h, 0, 0));
	EXPECT_EQ(300, h.newest_seq);
	EXPECT_EQ(301, h.next_seq);
	EXPECT_LT(1, h.oldest_seq);
	EXPECT_EQ(300 - h.oldest_seq + 1, h.events);
	EXPECT_EQ(h.oldest_seq - 1, h.evicted);
	oldest = h.oldest_seq;

	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "h.>", EVBUS_SUB_SINCE, 1, 0));
	n = hdrain(sub, r, 512);
	ASSERT_EQ(1 + 300 - oldest + 1, n);
	EXPECT_EQ(EVBUS_REC_LAGGED, r[0].kind);
	EXPECT_EQ(EVBUS_LAGGED_HISTORY, r[0].flags);
	EXPECT_EQ(1, r[0].first);
	EXPECT_EQ(oldest - 1, r[0].last);
	EXPECT_EQ(oldest - 1, r[0].lost);
	EXPECT_EQ(oldest, r[1].seq);
	EXPECT_EQ(300, r[n - 1].seq);
	close(sub);

	/* No history at all: the whole range, then live. */
	ASSERT_EQ(0, history(pub, &h, EVBUS_HISTORY_SET, 0));
	EXPECT_EQ(0, h.capacity);
	EXPECT_EQ(0, h.events);
	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "h.>", EVBUS_SUB_SINCE, 100, 0));
	ASSERT_EQ(1, hdrain(sub, r, 512));
	EXPECT_EQ(100, r[0].first);
	EXPECT_EQ(300, r[0].last);
	EXPECT_EQ(201, r[0].lost);
	ASSERT_EQ(301, evt_pub(pub, "h.x", "live"));
	ASSERT_EQ(1, hdrain(sub, r, 512));
	EXPECT_EQ(301, r[0].seq);
	EXPECT_EQ(0, r[0].flags);
	close(sub);
	close(pub);
}

/*
 * A ring smaller than the replay: replay waits for the reader, nothing is
 * lost; the history evicted under the cursor meanwhile is one exact lag.
 */
TEST(eviction_while_replaying_into_a_small_ring)
{
	static struct hrec r[MAXREC];
	static unsigned char wanted[4096];
	static char buf[4096];
	struct evbus_history h;
	int pub, sub, n = 0, k;
	ssize_t len;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	ASSERT_EQ(0, history(pub, &h, EVBUS_HISTORY_SET, 65536));
	pub_n(pub, "e.x", 400);		/* all kept: ~120 bytes each */
	ASSERT_EQ(0, history(pub, &h, 0, 0));
	ASSERT_EQ(1, h.oldest_seq);

	sub = evt_sf_open();
	ASSERT_EQ(0, evt_set_ring(sub, 4096, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_LT(0, sub_past(sub, "e.>", EVBUS_SUB_SINCE, 1, 0));
	/* One record read: the replay has begun and stops at a full ring. */
	len = read(sub, buf, 100);
	ASSERT_LT(0, len);
	/* Evict everything the cursor has not reached. */
	pub_n(pub, "e.y", 1000);
	for (;;) {
		k = hdrain(sub, r + n, MAXREC - n);
		ASSERT_LE(0, k);
		if (!k)
			break;
		n += k;
	}
	for (int s = 1; s <= 1400; s++)
		wanted[s] = 1;
	/* The first read's records came before: start after them. */
	{
		const struct evbus_event *ev = (const void *)buf;

		ASSERT_EQ(EVBUS_REC_EVENT, ev->hdr.kind);
		EXPECT_EQ(1, ev->seq);
		for (int s = 1; s <= (int)ev->seq; s++)
			wanted[s] = 0;
		EXPECT_EQ(0, conserved(r, n, ev->seq + 1, 1400, wanted));
	}
	/* Some lag is reported, flagged, and nothing was dropped by the ring. */
	k = 0;
	for (int i = 0; i < n; i++)
		if (r[i].kind == EVBUS_REC_LAGGED) {
			EXPECT_EQ(EVBUS_LAGGED_HISTORY, r[i].flags);
			EXPECT_EQ(r[i].last - r[i].first + 1, r[i].lost);
			k++;
		}
	EXPECT_LE(1, k);
	{
		struct evbus_stats st = {};

		ASSERT_EQ(0, evt_stats(sub, &st));
		EXPECT_EQ(0, st.lost);
	}
	close(sub);
	close(pub);
}

/*
 * An event in the history larger than the reader's whole ring is lost for
 * it and reported, as live (found by the stress test: the replay waited
 * for room that could never be made).
 */
TEST(replayed_event_larger_than_the_ring_is_lost_and_reported)
{
	static struct hrec r[16];
	static char big[8000];
	struct evbus_stats st = {};
	int pub, sub, n;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	memset(big, 'b', sizeof(big) - 1);
	ASSERT_EQ(1, evt_pub(pub, "o.x", "small"));
	ASSERT_EQ(2, evt_pub(pub, "o.x", big));
	ASSERT_EQ(3, evt_pub(pub, "o.x", "after"));
	sub = evt_sf_open();
	ASSERT_EQ(0, evt_set_ring(sub, 4096, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, sub_past(sub, "o.>", EVBUS_SUB_SINCE, 1, 0));
	n = hdrain(sub, r, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(1, r[0].seq);
	EXPECT_EQ(EVBUS_REC_LAGGED, r[1].kind);
	EXPECT_EQ(0, r[1].flags);
	EXPECT_EQ(1, r[1].lost);
	EXPECT_EQ(2, r[1].first);
	EXPECT_EQ(2, r[1].last);
	EXPECT_EQ(3, r[2].seq);
	ASSERT_EQ(0, evt_stats(sub, &st));
	EXPECT_EQ(1, st.lost);
	/* Live now. */
	ASSERT_EQ(4, evt_pub(pub, "o.x", "live"));
	ASSERT_EQ(1, hdrain(sub, r, 16));
	EXPECT_EQ(4, r[0].seq);
	EXPECT_EQ(0, r[0].flags);
	close(sub);
	close(pub);
}

/*
 * Publishers race the join: a child publishes as fast as it can while the
 * parent subscribes with replay and reads.  Every seq of the child's
 * events is delivered once or lies in a LAGGED record; nothing else.
 */
TEST(join_races_concurrent_publishers)
{
	static struct hrec r[40000];
	static unsigned char wanted[40000];
	const int total = 30000;
	int pub, sub, n = 0, k, round;
	pid_t pid;

	ASSERT_EQ(0, evt_sf_new_bus());
	for (round = 0; round < 3; round++) {
		pub = evt_sf_open();
		ASSERT_LE(0, pub);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			for (int i = 0; i < total / 3; i++)
				if (evt_pub(pub, i & 1 ? "j.odd" : "j.even", "x") < 0)
					_exit(1);
			_exit(0);
		}
		/* Join at some point of the stream. */
		usleep(2000 * (round + 1));
		sub = evt_sf_open();
		ASSERT_LE(0, sub);
		ASSERT_LT(0, sub_past(sub, "j.>", EVBUS_SUB_SINCE,
				      1 + round * (total / 3), 0));
		n = 0;
		for (;;) {
			k = hdrain(sub, r + n, 40000 - n);
			ASSERT_LE(0, k);
			n += k;
			if (!k && waitpid(pid, NULL, WNOHANG) == pid)
				break;
		}
		k = hdrain(sub, r + n, 40000 - n);
		n += k;
		memset(wanted, 0, sizeof(wanted));
		for (int s = 1 + round * (total / 3); s <= (round + 1) * (total / 3); s++)
			wanted[s] = 1;
		EXPECT_EQ(0, conserved(r, n, 1 + round * (total / 3),
				       (round + 1) * (total / 3), wanted));
		close(sub);
		close(pub);
	}
}

/* Replay and a live subscription of the same file: one stream, in order. */
TEST(two_subscriptions_one_stream)
{
	static struct hrec r[128];
	int pub, sub, n;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	for (int i = 0; i < 5; i++) {
		evt_pub(pub, "p.a", "A");	/* 1 3 5 7 9 */
		evt_pub(pub, "p.b", "B");	/* 2 4 6 8 10 */
	}
	sub = evt_sf_open();
	/* A plain one first, nothing queued yet: it starts at the join. */
	ASSERT_LT(0, evt_sub(sub, "p.b"));
	ASSERT_LT(0, sub_past(sub, "p.a", EVBUS_SUB_SINCE, 3, 0));
	/* Another replay before anything was read: an earlier start is fine. */
	ASSERT_LT(0, sub_past(sub, "p.>", EVBUS_SUB_SINCE, 8, 0));
	evt_pub(pub, "p.b", "B");		/* 11 */
	n = hdrain(sub, r, 128);
	ASSERT_EQ(7, n);
	EXPECT_EQ(3, r[0].seq);
	EXPECT_EQ(5, r[1].seq);
	EXPECT_EQ(7, r[2].seq);
	EXPECT_EQ(8, r[3].seq);
	EXPECT_EQ(9, r[4].seq);
	EXPECT_EQ(10, r[5].seq);
	/* 11 matches p.b (from the join) and p.> (from 8): once. */
	EXPECT_EQ(11, r[6].seq);
	/* Something was queued: no more replay (EBUSY), plain is fine. */
	evt_pub(pub, "p.a", "A");		/* 12, queued */
	EXPECT_EQ(-EBUSY, sub_past(sub, "q.>", EVBUS_SUB_SINCE, 1, 0));
	EXPECT_LT(0, evt_sub(sub, "q.>"));
	close(sub);
	close(pub);
}

/* A mapped reader: poll() moves the replay on. */
TEST(mapped_reader_replays_through_poll)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct evbus_mmap_ctl *ctl;
	struct evbus_mmap_hdr *hdr;
	struct pollfd pfd;
	uint64_t c, p, seqs = 0;
	int pub, sub, got = 0;
	void *data;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	pub_n(pub, "m.x", 50);
	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "m.>", EVBUS_SUB_SINCE, 11, 0));
	ctl = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, sub, 0);
	ASSERT_NE(MAP_FAILED, ctl);
	hdr = mmap(NULL, pg, PROT_READ, MAP_SHARED, sub, pg);
	ASSERT_NE(MAP_FAILED, hdr);
	data = mmap(NULL, 2 * hdr->size, PROT_READ, MAP_SHARED, sub, 2 * pg);
	ASSERT_NE(MAP_FAILED, data);
	for (int tries = 0; tries < 100 && got < 40; tries++) {
		pfd.fd = sub;
		pfd.events = POLLIN;
		ASSERT_LE(0, poll(&pfd, 1, 100));
		c = __atomic_load_n(&ctl->consumer_pos, __ATOMIC_ACQUIRE);
		p = __atomic_load_n(&hdr->producer_pos, __ATOMIC_ACQUIRE);
		while (c != p) {
			const struct evbus_event *ev =
				(const void *)((char *)data + (c & (hdr->size - 1)));

			if (ev->hdr.kind == EVBUS_REC_EVENT) {
				EXPECT_EQ(11 + got, ev->seq);
				EXPECT_EQ(EVBUS_EVENT_REPLAYED, ev->flags);
				seqs += ev->seq;
				got++;
			}
			c += ev->hdr.len;
		}
		__atomic_store_n(&ctl->consumer_pos, c, __ATOMIC_RELEASE);
	}
	EXPECT_EQ(40, got);
	EXPECT_EQ((11 + 50) * 40 / 2, seqs);
	close(sub);
	close(pub);
}

/* --------------------------------------------------------- retained */

TEST(retained_set_update_clear)
{
	static struct hrec r[16];
	struct evbus_history h;
	int pub, sub;
	int64_t v2;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	ASSERT_LE(0, pub);
	ASSERT_EQ(1, pub_retain(pub, "t.1", "v1"));
	v2 = pub_retain(pub, "t.1", "v2");
	ASSERT_EQ(2, v2);
	ASSERT_EQ(3, pub_retain(pub, "t.2", "x"));
	ASSERT_EQ(4, pub_retain(pub, "t.3", "y"));
	ASSERT_EQ(5, pub_retain(pub, "t.2", ""));	/* clears t.2 */
	ASSERT_EQ(6, evt_pub(pub, "t.3", "not retained"));
	ASSERT_EQ(0, history(pub, &h, 0, 0));
	EXPECT_EQ(2, h.retained);

	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "t.*", EVBUS_SUB_RETAINED, 0, 0));
	ASSERT_EQ(7, evt_pub(pub, "t.1", "live"));
	ASSERT_EQ(3, hdrain(sub, r, 16));
	EXPECT_EQ(2, r[0].seq);
	EXPECT_STREQ("t.1", r[0].topic);
	EXPECT_STREQ("v2", r[0].payload);
	EXPECT_EQ(EVBUS_EVENT_RETAINED, r[0].flags);
	EXPECT_EQ(getpid(), r[0].pid);
	EXPECT_EQ(4, r[1].seq);
	EXPECT_STREQ("y", r[1].payload);
	EXPECT_EQ(7, r[2].seq);
	EXPECT_EQ(0, r[2].flags);
	close(sub);

	/* A pattern that matches none: nothing, then live. */
	sub = evt_sf_open();
	ASSERT_LT(0, sub_past(sub, "u.>", EVBUS_SUB_RETAINED, 0, 0));
	ASSERT_EQ(0, hdrain(sub, r, 16));
	close(sub);
	close(pub);
}

/* Retained values as publishers race the subscription: none missed. */
TEST(retained_join_race)
{
	static struct hrec r[4096];
	int pub, sub, n = 0, k, last = -1;
	pid_t pid;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char v[16];

		for (int i = 0; i < 3000; i++) {
			snprintf(v, sizeof(v), "%d", i);
			if (pub_retain(pub, "rr.k", v) < 0)
				_exit(1);
		}
		_exit(0);
	}
	usleep(3000);
	sub = evt_sf_open();
	/* Room for everything: the retained value is read after the race. */
	ASSERT_EQ(0, evt_set_ring(sub, 1 << 20, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, sub_past(sub, "rr.k", EVBUS_SUB_RETAINED, 0, 0));
	ASSERT_EQ(0, evt_wait(pid));
	for (;;) {
		k = hdrain(sub, r + n, 4096 - n);
		ASSERT_LE(0, k);
		if (!k)
			break;
		n += k;
	}
	ASSERT_LT(0, n);
	/* Seqs only go up, and the last value is the last one published. */
	for (int i = 0; i < n; i++) {
		if (r[i].kind != EVBUS_REC_EVENT)
			continue;
		if (i && r[i - 1].kind == EVBUS_REC_EVENT)
			EXPECT_LT(r[i - 1].seq, r[i].seq);
		last = i;
	}
	ASSERT_LE(0, last);
	EXPECT_STREQ("2999", r[last].payload);
	/* From the retained value on, every seq delivered or reported. */
	{
		static unsigned char wanted[3100];

		ASSERT_EQ(EVBUS_REC_EVENT, r[0].kind);
		EXPECT_EQ(EVBUS_EVENT_RETAINED, r[0].flags);
		for (int s = r[0].seq; s <= 3000; s++)
			wanted[s] = 1;
		EXPECT_EQ(0, conserved(r + 1, n - 1, r[0].seq + 1, 3000, wanted));
	}
	close(sub);
	close(pub);
}

/* ------------------------------------------------- errors and rights */

TEST(refusals_are_exact)
{
	struct evbus_subscribe s;
	struct evbus_history h;
	struct evbus_pub p;
	int pub, sub;

	ASSERT_EQ(0, evt_sf_new_bus());
	pub = evt_sf_open();
	sub = evt_sf_open();
	pub_n(pub, "z.x", 3);
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", EVBUS_SUB_SINCE, 0, 0));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", 0, 1, 0));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", EVBUS_SUB_LAST, 0, 0));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", 0, 0, 3));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", EVBUS_SUB_SINCE | EVBUS_SUB_LAST, 1, 1));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", EVBUS_SUB_SINCE | EVBUS_SUB_RETAINED, 1, 0));
	EXPECT_EQ(-EINVAL, sub_past(sub, "z.>", 1U << 30, 0, 0));
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_SINCE;
	s.since = 1;
	s.reserved = 1;
	EXPECT_EQ(-EINVAL, evt_sub2(sub, "z.>", &s));
	/* The old size cannot carry since: EINVAL from the flag alone. */
	memset(&s, 0, sizeof(s));
	s.size = EVBUS_SUBSCRIBE_SIZE_VER0;
	s.flags = EVBUS_SUB_SINCE;
	EXPECT_EQ(-EINVAL, evt_sub2(sub, "z.>", &s));
	EXPECT_EQ(-ERANGE, sub_past(sub, "z.>", EVBUS_SUB_SINCE, 5, 0));
	/* None of that subscribed or queued anything. */
	{
		struct evbus_stats st = {};

		ASSERT_EQ(0, evt_stats(sub, &st));
		EXPECT_EQ(0, st.subscriptions);
	}
	EXPECT_LT(0, sub_past(sub, "z.>", EVBUS_SUB_SINCE, 4, 0));	/* next seq */
	/* Catching up: retained values would come before replayed ones. */
	EXPECT_EQ(-EBUSY, sub_past(sub, "y.>", EVBUS_SUB_RETAINED, 0, 0));
	close(sub);

	/* Something queued: EBUSY. */
	sub = evt_sf_open();
	ASSERT_LT(0, evt_sub(sub, "z.>"));
	pub_n(pub, "z.x", 1);
	EXPECT_EQ(-EBUSY, sub_past(sub, "w.>", EVBUS_SUB_SINCE, 1, 0));
	close(sub);

	/* History ioctl and publish flags. */
	memset(&h, 0, sizeof(h));
	h.size = sizeof(h);
	h.flags = 2;
	EXPECT_EQ(-1, ioctl(pub, EVBUS_IOC_HISTORY, &h));
	EXPECT_EQ(EINVAL, errno);
	memset(&h, 0, sizeof(h));
	h.size = 8;
	EXPECT_EQ(-1, ioctl(pub, EVBUS_IOC_HISTORY, &h));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, history(pub, &h, 0, 4096));	/* capacity without SET */
	EXPECT_EQ(-EINVAL, history(pub, &h, EVBUS_HISTORY_SET, 1ULL << 40));
	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)"z.x";
	p.topic_len = 3;
	p.flags = 4;		/* past EVBUS_PUB_RETAIN and EVBUS_PUB_ASK */
	EXPECT_EQ(-1, ioctl(pub, EVBUS_IOC_PUBLISH, &p));
	EXPECT_EQ(EINVAL, errno);
	close(pub);
}

/* The policy withholds the replay right; a scoped handle replays its scope. */
TEST(replay_right_and_scope)
{
	static struct hrec r[64];
	int owner, sub, n;

	ASSERT_EQ(0, evt_sf_new_bus());
	owner = evt_sf_open();
	ASSERT_LE(0, owner);
	ASSERT_LT(0, evt_policy_add(owner, EVBUS_DENY, EVBUS_RIGHT_REPLAY,
				    EVBUS_WHO_ALL, 0, "secret.>", 0));
	evt_pub(owner, "secret.a", "s");		/* 1 */
	evt_pub(owner, "session.41.x", "other");	/* 2 */
	evt_pub(owner, "session.42.x", "mine");		/* 3 */
	evt_pub(owner, "session.41.y", "other");	/* 4 */

	sub = evt_sf_open();
	EXPECT_EQ(-EACCES, sub_past(sub, "secret.>", EVBUS_SUB_SINCE, 1, 0));
	EXPECT_EQ(-EACCES, sub_past(sub, ">", EVBUS_SUB_LAST, 0, 5));
	EXPECT_EQ(-EACCES, sub_past(sub, "secret.a", EVBUS_SUB_RETAINED, 0, 0));
	EXPECT_LT(0, evt_sub(sub, "secret.>"));		/* live is allowed */
	close(sub);

	sub = evt_sf_open();
	ASSERT_EQ(0, evt_narrow1(sub, "session.42.>", "session.42.>"));
	EXPECT_EQ(-EACCES, sub_past(sub, "session.>", EVBUS_SUB_SINCE, 1, 0));
	ASSERT_LT(0, sub_past(sub, "session.42.>", EVBUS_SUB_SINCE, 1, 0));
	n = hdrain(sub, r, 64);
	ASSERT_EQ(1, n);
	EXPECT_EQ(3, r[0].seq);
	EXPECT_STREQ("mine", r[0].payload);
	close(sub);
	close(owner);
}

/*
 * As an unprivileged uid: a default-deny policy that grants subscribe but
 * not replay; setting the history needs the owner; the per-user retained
 * cap holds, and replacing one's own value at the cap works.
 */
TEST(unprivileged_attacks)
{
	static const struct evt_ids nobody = { NOBODY, NOBODY, 0, {} };
	static const struct evt_ids other = { 1234, 1234, 0, {} };
	unsigned long long saved = 0;
	struct evbus_history h;
	int owner, fd, n;
	char topic[32];

	ASSERT_EQ(0, evt_sf_new_bus());
	ASSERT_EQ(0, evt_dev_save_mode());
	ASSERT_EQ(0, evt_dev_open_to_all());
	ASSERT_EQ(0, evt_param_get("max_user_retained", &saved));
	ASSERT_EQ(0, evt_param_set("max_user_retained", 4));
	owner = evt_sf_open();
	ASSERT_LE(0, owner);
	evt_pub(owner, "open.x", "1");

	fd = evt_open_as(&nobody);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, history(fd, &h, EVBUS_HISTORY_SET, 4096));
	EXPECT_EQ(0, history(fd, &h, 0, 0));
	for (n = 0; n < 4; n++) {
		snprintf(topic, sizeof(topic), "nob.%d", n);
		EXPECT_LT(0, pub_retain(fd, topic, "v"));
	}
	EXPECT_EQ(-ENOSPC, pub_retain(fd, "nob.new", "v"));
	EXPECT_EQ(-ENOSPC, pub_retain(fd, "nob.new", "v"));
	EXPECT_LT(0, pub_retain(fd, "nob.0", "replaced"));	/* own, at cap */
	EXPECT_EQ(0, history(fd, &h, 0, 0));
	EXPECT_EQ(4, h.retained);
	/* Another user is not held back. */
	{
		int ofd = evt_open_as(&other);

		ASSERT_LE(0, ofd);
		EXPECT_LT(0, pub_retain(ofd, "other.1", "v"));
		close(ofd);
	}

	/* Default deny, subscribe granted, replay not. */
	ASSERT_LT(0, evt_policy_add(owner, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE |
				    EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL, 0, "open.>", 0));
	ASSERT_EQ(0, evt_policy_default(owner, EVBUS_DENY));
	close(fd);
	fd = evt_open_as(&nobody);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EACCES, sub_past(fd, "open.>", EVBUS_SUB_SINCE, 1, 0));
	EXPECT_LT(0, evt_sub(fd, "open.>"));
	close(fd);
	ASSERT_LT(0, evt_policy_add(owner, EVBUS_ALLOW, EVBUS_RIGHT_REPLAY,
				    EVBUS_WHO_ALL, 0, "open.>", 0));
	fd = evt_open_as(&nobody);
	ASSERT_LE(0, fd);
	EXPECT_LT(0, sub_past(fd, "open.>", EVBUS_SUB_SINCE, 1, 0));
	close(fd);
	close(owner);
	EXPECT_EQ(0, evt_param_set("max_user_retained", saved));
	evt_dev_restore_mode();
}

/* Per-bus caps on retained values, in count and bytes. */
TEST(bus_retained_caps)
{
	unsigned long long cnt = 0, bytes = 0;
	static char big[2048];
	struct evbus_history h;
	int fd;

	ASSERT_EQ(0, evt_sf_new_bus());
	ASSERT_EQ(0, evt_param_get("max_retained", &cnt));
	ASSERT_EQ(0, evt_param_get("max_retained_bytes", &bytes));
	ASSERT_EQ(0, evt_param_set("max_retained", 2));
	fd = evt_sf_open();
	EXPECT_LT(0, pub_retain(fd, "c.1", "v"));
	EXPECT_LT(0, pub_retain(fd, "c.2", "v"));
	EXPECT_EQ(-ENOSPC, pub_retain(fd, "c.3", "v"));
	EXPECT_LT(0, pub_retain(fd, "c.1", ""));	/* clear one */
	EXPECT_LT(0, pub_retain(fd, "c.3", "v"));
	ASSERT_EQ(0, evt_param_set("max_retained", cnt));
	ASSERT_EQ(0, evt_param_set("max_retained_bytes", 4096));
	memset(big, 'b', sizeof(big) - 1);
	EXPECT_LT(0, pub_retain(fd, "c.4", big));
	EXPECT_EQ(-ENOSPC, pub_retain(fd, "c.5", big));
	ASSERT_EQ(0, history(fd, &h, 0, 0));
	EXPECT_EQ(3, h.retained);
	EXPECT_GE(4096, h.retained_bytes);
	ASSERT_EQ(0, evt_param_set("max_retained_bytes", bytes));
	close(fd);
}

/*
 * History memory: past max_user_history_bytes a new bus cannot be made
 * (EDQUOT), and a bus made in a small memory cgroup cannot get its
 * history (ENOMEM); retained values are charged to the publisher's.
 */
TEST(history_and_retained_are_charged)
{
	unsigned long long saved = 0;
	char pidbuf[32];
	int fd;
	pid_t pid;

	ASSERT_EQ(0, evt_param_get("max_user_history_bytes", &saved));
	ASSERT_EQ(0, evt_param_set("max_user_history_bytes", 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (evt_sf_new_bus())
			_exit(2);
		fd = open(EVBUS_DEV, O_RDWR);
		_exit(fd < 0 && errno == EDQUOT ? 0 : 3);
	}
	EXPECT_EQ(0, evt_wait(pid));
	ASSERT_EQ(0, evt_param_set("max_user_history_bytes", saved));

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no cgroup2 at " CGROOT);
	if (evt_write_text(CGROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "memory controller unavailable");
	rmdir(CGTEST);
	ASSERT_EQ(0, mkdir(CGTEST, 0755));
	ASSERT_EQ(0, evt_write_text(CGTEST "/memory.max", "524288"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static char v[16384];

		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (evt_write_text(CGTEST "/cgroup.procs", pidbuf))
			_exit(2);
		if (evt_sf_new_bus())
			_exit(2);
		/* A 1 MiB history does not fit in 512 KiB. */
		fd = open(EVBUS_DEV, O_RDWR);
		if (fd >= 0 || errno != ENOMEM)
			_exit(4);
		if (evt_param_set("history_bytes", 0))
			_exit(2);
		fd = open(EVBUS_DEV, O_RDWR);
		if (fd < 0)
			_exit(5);
		/* Retained values run into the cgroup's limit first. */
		memset(v, 'r', sizeof(v) - 1);
		for (int i = 0; i < 64; i++) {
			char t[16];
			int64_t ret;

			snprintf(t, sizeof(t), "cg.%d", i);
			ret = pub_retain(fd, t, v);
			if (ret == -ENOMEM)
				_exit(0);
			if (ret < 0)
				_exit(6);
		}
		_exit(7);
	}
	EXPECT_EQ(0, evt_wait(pid));
	EXPECT_EQ(0, evt_param_set("history_bytes", 1048576));
	EXPECT_EQ(0, rmdir(CGTEST));
}

TEST_HARNESS_MAIN
