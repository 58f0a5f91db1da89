// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus: subscriptions and single publishes, every field of a delivered
 * event, and delivery across processes.
 */
#include "lib_test.h"

TEST(subscribe_ids_are_distinct_and_unsubscribe_stops_delivery)
{
	const struct evbus_record *rec;
	uint32_t a = 0, b = 0;
	struct evbus *bus;
	char t[64];

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "x");
	ASSERT_EQ(0, evbus_subscribe(bus, t, &a));
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.other.>", &b));
	EXPECT_NE(0, a);
	EXPECT_NE(a, b);
	/* The id is optional. */
	EXPECT_EQ(0, evbus_subscribe(bus, "lt.third", NULL));

	ASSERT_EQ(0, evbus_unsubscribe(bus, a));
	EXPECT_EQ(-ENOENT, evbus_unsubscribe(bus, a));
	ASSERT_EQ(0, evbus_publish(bus, t, "x", 1, NULL, NULL));
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	EXPECT_EQ(NULL, rec);
	evbus_close(bus);
}

TEST(subscribe_rejects_bad_patterns)
{
	char longp[EVBUS_TOPIC_MAX + 2];
	struct evbus_stats st;
	struct evbus *bus;

	LT_OPEN(bus, 0);
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, "", NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, "a.>.b", NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, "a*", NULL));
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, "a b", NULL));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, longp, NULL));
	longp[EVBUS_TOPIC_MAX] = '\0';
	EXPECT_EQ(0, evbus_subscribe(bus, longp, NULL));
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(1, st.subscriptions);
	evbus_close(bus);
}

TEST(event_carries_every_field)
{
	EVBUS_OPTS(evbus_pub_opts, po, .type = 7, .corr = 0x1122334455667788ULL,
		   .parent = 99);
	const struct evbus_record *rec;
	const struct evbus_event *ev;
	struct timespec now;
	struct evbus *bus;
	uint64_t seq = 0;
	char t[64];

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "fields");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, "hello", 5, &po, &seq));
	EXPECT_LT(0, seq);

	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(EVBUS_REC_EVENT, rec->kind);
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(NULL, rec->lagged);
	EXPECT_EQ((void *)rec->hdr, (void *)rec->event);
	EXPECT_EQ(rec->len, rec->hdr->len);
	ev = rec->event;
	EXPECT_EQ(seq, ev->seq);
	EXPECT_STREQ(t, rec->topic);
	EXPECT_EQ(strlen(t), rec->topic_len);
	ASSERT_EQ(5, rec->payload_len);
	EXPECT_EQ(0, memcmp(rec->payload, "hello", 5));
	EXPECT_EQ(7, ev->type);
	EXPECT_EQ(0x1122334455667788ULL, ev->corr);
	EXPECT_EQ(99, ev->parent);
	EXPECT_EQ(getpid(), (pid_t)ev->pid);
	EXPECT_EQ(lt_gettid(), (pid_t)ev->tid);
	EXPECT_EQ(geteuid(), ev->uid);
	EXPECT_EQ(getegid(), ev->gid);
	clock_gettime(CLOCK_REALTIME, &now);
	EXPECT_GE((uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec, ev->time_ns);
	EXPECT_LT((uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec - 60000000000ULL,
		  ev->time_ns);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	evbus_close(bus);
}

TEST(empty_payload_and_older_pub_opts)
{
	const struct evbus_record *rec;
	struct evbus_pub_opts po;
	struct evbus *bus;
	char t[64];

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "empty");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	/* An older caller whose struct ended after type: corr/parent unseen. */
	memset(&po, 0, sizeof(po));
	po.sz = offsetof(struct evbus_pub_opts, corr);
	po.type = 3;
	po.corr = 5;
	po.parent = 6;
	ASSERT_EQ(0, evbus_publish(bus, t, NULL, 0, &po, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(0, rec->payload_len);
	EXPECT_EQ(3, rec->event->type);
	EXPECT_EQ(0, rec->event->corr);
	EXPECT_EQ(0, rec->event->parent);
	evbus_close(bus);
}

TEST(publish_rejects_bad_input)
{
	EVBUS_OPTS(evbus_pub_opts, po);
	struct evbus_version v;
	struct evbus_stats st;
	struct evbus *bus;
	char *big;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_query(bus, &v));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, NULL, "x", 1, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "", "x", 1, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "a.*", "x", 1, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "a.>", "x", 1, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "a..b", "x", 1, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "lt.x", NULL, 1, NULL, NULL));
	po.sz = 2;
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "lt.x", "x", 1, &po, NULL));
	po.sz = sizeof(po);
	/* flags (reserved0 before 1.5) go to the kernel, which knows no such bit. */
	po.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, evbus_publish(bus, "lt.x", "x", 1, &po, NULL));

	big = calloc(1, (size_t)v.max_payload + 1);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(-EMSGSIZE, evbus_publish(bus, "lt.x", big, v.max_payload + 1,
					   NULL, NULL));
	EXPECT_EQ(0, evbus_publish(bus, "lt.x", big, v.max_payload, NULL, NULL));
	free(big);
	/* Only the good one counts. */
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(1, st.published);
	evbus_close(bus);
}

TEST(wildcards_match_and_deliver_once)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	char p1[64], p2[64], p3[64], t[64];
	uint64_t seqs[3];
	int i;

	LT_OPEN(bus, 0);
	lt_topic(p1, sizeof(p1), ">");
	lt_topic(p2, sizeof(p2), "*.b");
	lt_topic(p3, sizeof(p3), "a.b");
	ASSERT_EQ(0, evbus_subscribe(bus, p1, NULL));
	ASSERT_EQ(0, evbus_subscribe(bus, p2, NULL));
	ASSERT_EQ(0, evbus_subscribe(bus, p3, NULL));
	ASSERT_EQ(0, evbus_publish(bus, lt_topic(t, sizeof(t), "a.b"), "1", 1, NULL, &seqs[0]));
	ASSERT_EQ(0, evbus_publish(bus, lt_topic(t, sizeof(t), "z"), "2", 1, NULL, &seqs[1]));
	ASSERT_EQ(0, evbus_publish(bus, "lt.unrelated", "3", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, lt_topic(t, sizeof(t), "q.b.c"), "4", 1, NULL, &seqs[2]));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, evbus_read(bus, &rec, 0));
		EXPECT_EQ(seqs[i], rec->event->seq);
	}
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	evbus_close(bus);
}

TEST(another_process_publishes_and_is_identified)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	char t[64];
	pid_t child;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	lt_topic(t, sizeof(t), "xproc");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	child = lt_publish_later(t, "from child", 50);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, evbus_read(bus, &rec, -1));
	EXPECT_EQ(0, lt_wait(child));
	EXPECT_EQ(child, (pid_t)rec->event->pid);
	EXPECT_EQ(child, (pid_t)rec->event->tid);
	EXPECT_EQ(geteuid(), rec->event->uid);
	ASSERT_EQ(10, rec->payload_len);
	EXPECT_EQ(0, memcmp("from child", rec->payload, 10));
	evbus_close(bus);
}

TEST_HARNESS_MAIN
