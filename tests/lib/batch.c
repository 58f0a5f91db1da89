// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus: evbus_publish_batch(): order, chunking past EVBUS_BATCH_MAX,
 * the write()-like partial result, and bad input.
 */
#include "lib_test.h"

TEST(batch_publishes_in_order)
{
	const struct evbus_record *rec;
	static const char *const text[] = { "zero", "one", "two", "three", "four" };
	struct evbus_pub evs[5];
	struct evbus *bus;
	uint64_t first = 0, last = 0;
	char t[64];
	int i;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "batch");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	for (i = 0; i < 5; i++) {
		evbus_pub_prep(&evs[i], t, text[i], strlen(text[i]));
		evs[i].type = i;
		evs[i].corr = 100 + i;
	}
	ASSERT_EQ(5, evbus_publish_batch(bus, evs, 5, &first));
	EXPECT_LT(0, first);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, evbus_read(bus, &rec, 0));
		if (!i) {
			EXPECT_EQ(first, rec->event->seq);
		} else {
			EXPECT_LT(last, rec->event->seq);
		}
		last = rec->event->seq;
		ASSERT_EQ(strlen(text[i]), rec->payload_len);
		EXPECT_EQ(0, memcmp(text[i], rec->payload, rec->payload_len));
		EXPECT_EQ(i, rec->event->type);
		EXPECT_EQ(100 + i, rec->event->corr);
	}
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	evbus_close(bus);
}

TEST(batch_larger_than_batch_max_is_split)
{
	const unsigned int n = 2 * EVBUS_BATCH_MAX + 100;
	const struct evbus_record *rec;
	struct evbus_pub *evs;
	struct evbus_stats st;
	struct evbus *bus;
	char t[64], (*text)[8];
	uint64_t first, last = 0;
	unsigned int i;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_set_ring(bus, 1U << 20, EVBUS_POLICY_DROP_OLDEST));
	lt_topic(t, sizeof(t), "many");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	evs = calloc(n, sizeof(*evs));
	text = calloc(n, sizeof(*text));
	ASSERT_NE(NULL, evs);
	ASSERT_NE(NULL, text);
	for (i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "%u", i);
		evbus_pub_prep(&evs[i], t, text[i], strlen(text[i]));
	}
	ASSERT_EQ((int)n, evbus_publish_batch(bus, evs, n, &first));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, evbus_read(bus, &rec, 0));
		ASSERT_NE(NULL, rec->event);
		if (!i)
			EXPECT_EQ(first, rec->event->seq);
		EXPECT_LT(last, rec->event->seq);
		last = rec->event->seq;
		ASSERT_EQ(strlen(text[i]), rec->payload_len);
		ASSERT_EQ(0, memcmp(text[i], rec->payload, rec->payload_len));
	}
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(n, st.published);
	EXPECT_EQ(n, st.delivered);
	EXPECT_EQ(0, st.lost);
	free(evs);
	free(text);
	evbus_close(bus);
}

TEST(batch_stops_at_the_first_bad_event)
{
	const struct evbus_record *rec;
	struct evbus_pub evs[4];
	struct evbus_stats st;
	struct evbus *bus;
	uint64_t first = 0;
	char t[64];
	int i;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "partial");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	for (i = 0; i < 4; i++)
		evbus_pub_prep(&evs[i], t, "x", 1);
	evbus_pub_prep(&evs[2], "bad..topic", "x", 1);

	/* Like write(): the two good ones, then the error on its own. */
	ASSERT_EQ(2, evbus_publish_batch(bus, evs, 4, &first));
	EXPECT_EQ(-EINVAL, evbus_publish_batch(bus, evs + 2, 2, &first));
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(2, st.published);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	evbus_close(bus);
}

TEST(batch_rejects_bad_arguments)
{
	struct evbus_pub ev;
	struct evbus_stats st;
	struct evbus *bus, *ro;

	LT_OPEN(bus, 0);
	LT_OPEN(ro, EVBUS_OPEN_RDONLY);
	evbus_pub_prep(&ev, "lt.ok", "x", 1);
	EXPECT_EQ(-EINVAL, evbus_publish_batch(bus, NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish_batch(bus, &ev, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish_batch(NULL, &ev, 1, NULL));
	EXPECT_EQ(-EBADF, evbus_publish_batch(ro, &ev, 1, NULL));
	ev.flags = 1U << 31;	/* bit 0 is EVBUS_PUB_RETAIN */
	EXPECT_EQ(-EINVAL, evbus_publish_batch(bus, &ev, 1, NULL));
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(0, st.published);
	evbus_close(ro);
	evbus_close(bus);
}

TEST(batch_wakes_a_blocked_reader_in_another_process)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	char t[64];
	pid_t child;
	int i;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	lt_topic(t, sizeof(t), "wake");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct evbus_pub evs[3];
		struct evbus *pub;

		usleep(50000);
		if (evbus_open(&pub, NULL))
			_exit(1);
		for (i = 0; i < 3; i++)
			evbus_pub_prep(&evs[i], t, "b", 1);
		_exit(evbus_publish_batch(pub, evs, 3, NULL) == 3 ? 0 : 1);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, evbus_read(bus, &rec, 5000));
		EXPECT_EQ(child, (pid_t)rec->event->pid);
	}
	EXPECT_EQ(0, lt_wait(child));
	evbus_close(bus);
}

TEST_HARNESS_MAIN
