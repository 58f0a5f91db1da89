// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.4: the mapped ring (evbus_mmap_open/consume/poll, and
 * evbus_read() through a mapping) delivers what read() delivers, with
 * exact losses under both policies; a consumer that stops early loses
 * nothing; wake-up modes round-trip.
 */
#include <poll.h>

#include "lib_test.h"

struct tally {
	uint64_t events, lost, lags, first_lost, last_seq;
	int stop_after;		/* fn returns 1 after this many records, 0: never */
	int seen;
};

static int count_fn(void *ctx, const struct evbus_record *rec)
{
	struct tally *t = ctx;

	t->seen++;
	if (rec->event) {
		t->events++;
		t->last_seq = rec->event->seq;
	} else if (rec->lagged) {
		if (!t->lags)
			t->first_lost = rec->lagged->first_seq;
		t->lags++;
		t->lost += rec->lagged->lost;
	}
	return t->stop_after && t->seen >= t->stop_after;
}

/* Publish n events of len bytes: 0 or the first error. */
static int publish_n(struct evbus *bus, const char *t, int n, size_t len)
{
	char payload[512];
	int ret = 0;

	memset(payload, 'm', sizeof(payload));
	for (int i = 0; i < n && !ret; i++)
		ret = evbus_publish(bus, t, payload, len, NULL, NULL);
	return ret;
}

/* Everything through the mapping, then exactly what read() got. */
static void mapped_like_read(struct __test_metadata *_metadata, uint32_t policy)
{
	struct evbus *pub, *mapped, *plain;
	const struct evbus_record *rec;
	struct tally tm = {}, tp = {};
	struct evbus_mmap *m;
	char t[64];

	lt_topic(t, sizeof(t), policy ? "mm.newest" : "mm.oldest");
	LT_OPEN(pub, 0);
	LT_OPEN(mapped, 0);
	LT_OPEN(plain, 0);
	ASSERT_EQ(0, evbus_subscribe(mapped, t, NULL));
	ASSERT_EQ(0, evbus_subscribe(plain, t, NULL));
	ASSERT_EQ(0, evbus_set_ring(mapped, 8192, policy));
	ASSERT_EQ(0, evbus_set_ring(plain, 8192, policy));
	ASSERT_EQ(0, evbus_mmap_open(mapped, &m));
	EXPECT_EQ(-EBUSY, evbus_mmap_open(mapped, &m));
	/* Mapped: size and policy stay. */
	EXPECT_EQ(-EBUSY, evbus_set_ring(mapped, 16384, policy));
	ASSERT_EQ(0, publish_n(pub, t, 300, 100));		/* ~190 B records: 3x the ring */
	while (evbus_mmap_poll(m, count_fn, &tm, 0) > 0)
		;
	while (!evbus_read(plain, &rec, 0))
		count_fn(&tp, rec);
	EXPECT_EQ(300, tm.events + tm.lost);
	EXPECT_EQ(tp.events, tm.events);
	EXPECT_EQ(tp.lost, tm.lost);
	EXPECT_EQ(tp.lags, tm.lags);
	EXPECT_EQ(tp.first_lost, tm.first_lost);
	EXPECT_EQ(tp.last_seq, tm.last_seq);
	EXPECT_LT(0, tm.lost);
	evbus_close(mapped);	/* unmaps too */
	evbus_close(plain);
	evbus_close(pub);
}

TEST(mapped_ring_gives_what_read_gives_drop_oldest)
{
	mapped_like_read(_metadata, EVBUS_POLICY_DROP_OLDEST);
}

TEST(mapped_ring_gives_what_read_gives_drop_newest)
{
	mapped_like_read(_metadata, EVBUS_POLICY_DROP_NEWEST);
}

/* A callback that stops early: the rest come with the next call. */
TEST(consume_stops_where_the_callback_says)
{
	struct evbus *bus, *pub;
	struct tally t1 = { .stop_after = 3 }, t2 = {};
	struct evbus_mmap *m;
	char t[64];

	lt_topic(t, sizeof(t), "mm.stop");
	LT_OPEN(pub, 0);
	LT_OPEN(bus, 0);
	/* No subscription yet: the mapping makes the ring. */
	ASSERT_EQ(0, evbus_mmap_open(bus, &m));
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_EQ(0, publish_n(pub, t, 10, 8));
	EXPECT_EQ(3, evbus_mmap_consume(m, count_fn, &t1));
	EXPECT_EQ(7, evbus_mmap_consume(m, count_fn, &t2));
	EXPECT_EQ(3, t1.events);
	EXPECT_EQ(7, t2.events);
	EXPECT_EQ(0, evbus_mmap_consume(m, count_fn, &t2));
	EXPECT_EQ(-EINVAL, evbus_mmap_consume(m, NULL, NULL));
	evbus_mmap_close(m);
	evbus_close(bus);
	evbus_close(pub);
}

/* evbus_read() takes from the mapping once there is one. */
TEST(read_uses_the_mapping)
{
	const struct evbus_record *rec;
	struct evbus *bus, *pub;
	struct evbus_stats st;
	struct evbus_mmap *m;
	char t[64];
	int n = 0;

	lt_topic(t, sizeof(t), "mm.read");
	LT_OPEN(pub, 0);
	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_EQ(0, evbus_mmap_open(bus, &m));
	ASSERT_EQ(0, publish_n(pub, t, 50, 32));
	while (!evbus_read(bus, &rec, 0))
		n += rec->event != NULL;
	EXPECT_EQ(50, n);
	/* The kernel counts them read once it catches up (here: STATS). */
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(50, st.delivered);
	EXPECT_EQ(0, st.queued_events);
	/* A timed read waits, and the mapping still delivers. */
	ASSERT_LT(0, lt_publish_later(t, "late", 100));
	ASSERT_EQ(0, evbus_read(bus, &rec, 10000));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(4, rec->payload_len);
	evbus_close(bus);
	evbus_close(pub);
}

/* A read-only handle cannot map (the control page is written). */
TEST(read_only_handle_cannot_map)
{
	struct evbus *bus;
	struct evbus_mmap *m;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.mm.ro", NULL));
	EXPECT_EQ(-EACCES, evbus_mmap_open(bus, &m));
	evbus_close(bus);
}

TEST(wake_modes_round_trip)
{
	struct evbus *bus;
	uint32_t mode = 0, ev = 1;
	uint64_t dl = 1;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.mm.wake", NULL));
	ASSERT_EQ(0, evbus_get_wake_mode(bus, &mode));
	EXPECT_EQ(EVBUS_RING_ADAPTIVE, mode);
	ASSERT_EQ(0, evbus_set_wake(bus, 0, 0));
	ASSERT_EQ(0, evbus_get_wake_mode(bus, &mode));
	EXPECT_EQ(EVBUS_RING_IMMEDIATE, mode);
	ASSERT_EQ(0, evbus_set_wake(bus, 16, 1000000));
	ASSERT_EQ(0, evbus_get_wake_mode(bus, &mode));
	EXPECT_EQ(EVBUS_RING_WAKE, mode);
	ASSERT_EQ(0, evbus_get_wake(bus, &ev, &dl));
	EXPECT_EQ(16, ev);
	EXPECT_EQ(1000000, dl);
	/* evbus_set_ring() keeps the mode. */
	ASSERT_EQ(0, evbus_set_ring(bus, 65536, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_EQ(0, evbus_get_wake_mode(bus, &mode));
	EXPECT_EQ(EVBUS_RING_WAKE, mode);
	ASSERT_EQ(0, evbus_set_wake_adaptive(bus));
	ASSERT_EQ(0, evbus_get_wake_mode(bus, &mode));
	EXPECT_EQ(EVBUS_RING_ADAPTIVE, mode);
	ASSERT_EQ(0, evbus_get_wake(bus, &ev, &dl));
	EXPECT_EQ(0, ev);
	EXPECT_EQ(0, dl);
	evbus_close(bus);
}

TEST_HARNESS_MAIN
