// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus: evbus_read() — non-blocking, timed and blocking waits, signals,
 * lag records under both overflow policies, records larger than the read
 * buffer, and readiness through the fd with epoll.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "lib_test.h"

TEST(nonblocking_read_of_empty_ring_is_eagain)
{
	const struct evbus_record *rec = (void *)1;
	struct evbus *bus;
	long long t0;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.nothing", NULL));
	t0 = lt_now_ms();
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	EXPECT_EQ(NULL, rec);
	EXPECT_GT(500, lt_now_ms() - t0);
	/* Without any subscription too. */
	evbus_close(bus);
	LT_OPEN(bus, 0);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	EXPECT_EQ(-EINVAL, evbus_read(bus, NULL, 0));
	evbus_close(bus);
}

TEST(timed_read_times_out)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	long long t0, dt;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.nothing", NULL));
	t0 = lt_now_ms();
	EXPECT_EQ(-ETIMEDOUT, evbus_read(bus, &rec, 300));
	dt = lt_now_ms() - t0;
	EXPECT_LE(300, dt);
	EXPECT_GT(5000, dt);
	evbus_close(bus);
}

TEST(timed_read_returns_when_an_event_arrives)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	long long t0;
	char t[64];
	pid_t child;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "timed");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	t0 = lt_now_ms();
	child = lt_publish_later(t, "late", 200);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, evbus_read(bus, &rec, 20000));
	EXPECT_GT(20000, lt_now_ms() - t0);
	EXPECT_EQ(child, (pid_t)rec->event->pid);
	EXPECT_EQ(0, lt_wait(child));
	evbus_close(bus);
}

TEST(blocking_read_waits_for_another_process)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	char t[64];
	pid_t child;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "block");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	child = lt_publish_later(t, "wake", 200);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, evbus_read(bus, &rec, -1));
	ASSERT_EQ(4, rec->payload_len);
	EXPECT_EQ(0, memcmp("wake", rec->payload, 4));
	EXPECT_EQ(0, lt_wait(child));
	evbus_close(bus);
}

static void on_alarm(int sig)
{
}

TEST(signal_interrupts_a_blocking_read)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	const struct evbus_record *rec;
	struct evbus *bus;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, "lt.nothing", NULL));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarm(1);
	EXPECT_EQ(-EINTR, evbus_read(bus, &rec, -1));
	evbus_close(bus);
}

/* Publish n events of len bytes each on t; returns the first seq. */
static uint64_t publish_n(struct evbus *bus, const char *t, int n, size_t len)
{
	char payload[256];
	uint64_t seq, first = 0;
	int i;

	memset(payload, 'p', sizeof(payload));
	for (i = 0; i < n; i++) {
		if (evbus_publish(bus, t, payload, len, NULL, &seq))
			return 0;
		if (!i)
			first = seq;
	}
	return first;
}

TEST(drop_oldest_reports_the_lost_range_first)
{
	const int n = 100;
	const struct evbus_record *rec;
	struct evbus_stats st;
	struct evbus *bus;
	uint64_t first, expect, lost = 0, events = 0;
	char t[64];
	int ret;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_set_ring(bus, 4096, EVBUS_POLICY_DROP_OLDEST));
	lt_topic(t, sizeof(t), "lag");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	first = publish_n(bus, t, n, 200);
	ASSERT_LT(0, first);

	/* The lag record comes first and covers the oldest events. */
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(EVBUS_REC_LAGGED, rec->kind);
	ASSERT_NE(NULL, rec->lagged);
	EXPECT_EQ(NULL, rec->event);
	EXPECT_EQ(NULL, rec->topic);
	lost = rec->lagged->lost;
	EXPECT_LT(0, lost);
	EXPECT_EQ(first, rec->lagged->first_seq);
	EXPECT_LE(rec->lagged->first_seq + lost - 1, rec->lagged->last_seq);
	expect = rec->lagged->last_seq + 1;
	while (!(ret = evbus_read(bus, &rec, 0))) {
		ASSERT_EQ(EVBUS_REC_EVENT, rec->kind);
		EXPECT_EQ(expect, rec->event->seq);
		expect = rec->event->seq + 1;
		events++;
	}
	EXPECT_EQ(-EAGAIN, ret);
	EXPECT_EQ(n, lost + events);
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(lost, st.lost);
	EXPECT_EQ(1, st.lag_records);
	EXPECT_EQ(events, st.delivered);
	evbus_close(bus);
}

TEST(wake_setting_round_trips_and_keeps_the_ring)
{
	const struct evbus_record *rec;
	uint32_t size, policy, events;
	struct evbus_ring_cfg cfg;
	struct evbus *bus;
	uint64_t delay;
	char t[64];

	LT_OPEN(bus, 0);
	EXPECT_EQ(-EINVAL, evbus_set_wake(NULL, 4, 0));
	EXPECT_EQ(-EINVAL, evbus_get_wake(NULL, &events, &delay));
	ASSERT_EQ(0, evbus_get_wake(bus, &events, &delay));
	EXPECT_EQ(0, events);
	EXPECT_EQ(0, delay);
	ASSERT_EQ(0, evbus_set_ring(bus, 8192, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_EQ(0, evbus_set_wake(bus, 3, 0));
	ASSERT_EQ(0, evbus_get_wake(bus, &events, &delay));
	EXPECT_EQ(3, events);
	EXPECT_EQ(0, delay);
	/* Each setter keeps what the other set. */
	ASSERT_EQ(0, evbus_get_ring(bus, &size, &policy));
	EXPECT_EQ(8192, size);
	EXPECT_EQ(EVBUS_POLICY_DROP_NEWEST, policy);
	ASSERT_EQ(0, evbus_set_ring(bus, 16384, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_EQ(0, evbus_get_wake(bus, &events, NULL));
	EXPECT_EQ(3, events);
	/* Errors change nothing. */
	EXPECT_EQ(-EINVAL, evbus_set_wake(bus, 0, 5));
	EXPECT_EQ(-EINVAL, evbus_set_wake(bus, EVBUS_WAKE_EVENTS_MAX + 1, 0));
	EXPECT_EQ(-EINVAL, evbus_set_wake(bus, 2, EVBUS_WAKE_DELAY_MAX + 1));
	memset(&cfg, 0, sizeof(cfg));
	ASSERT_EQ(0, ioctl(evbus_fd(bus), EVBUS_IOC_GET_RING, &cfg));
	EXPECT_EQ(EVBUS_RING_WAKE, cfg.flags);
	EXPECT_EQ(3, cfg.wake_events);
	EXPECT_EQ(16384, cfg.size);

	/* A timed read waits for the watermark, a non-blocking one does not. */
	lt_topic(t, sizeof(t), "wake");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, "a", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, "b", 1, NULL, NULL));
	EXPECT_EQ(-ETIMEDOUT, evbus_read(bus, &rec, 50));
	ASSERT_EQ(0, evbus_publish(bus, t, "c", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, 5000));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	ASSERT_EQ(0, evbus_publish(bus, t, "d", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	/* Off again. */
	ASSERT_EQ(0, evbus_set_wake(bus, 0, 0));
	ASSERT_EQ(0, evbus_get_wake(bus, &events, &delay));
	EXPECT_EQ(0, events);
	ASSERT_EQ(0, evbus_publish(bus, t, "e", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, 5000));
	evbus_close(bus);
}

TEST(drop_newest_keeps_the_oldest_and_reports_the_rest)
{
	const int n = 100;
	const struct evbus_record *rec;
	struct evbus *bus;
	uint64_t first, expect, lost = 0, events = 0;
	char t[64];
	int ret;

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_set_ring(bus, 4096, EVBUS_POLICY_DROP_NEWEST));
	lt_topic(t, sizeof(t), "lagnew");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	first = publish_n(bus, t, n, 200);
	ASSERT_LT(0, first);

	expect = first;
	while (!(ret = evbus_read(bus, &rec, 0))) {
		if (rec->kind == EVBUS_REC_LAGGED) {
			EXPECT_EQ(expect, rec->lagged->first_seq);
			lost += rec->lagged->lost;
			expect = rec->lagged->last_seq + 1;
			continue;
		}
		ASSERT_EQ(EVBUS_REC_EVENT, rec->kind);
		EXPECT_EQ(0, lost);	/* every kept event precedes the loss */
		EXPECT_EQ(expect, rec->event->seq);
		expect++;
		events++;
	}
	EXPECT_EQ(-EAGAIN, ret);
	EXPECT_LT(0, events);
	EXPECT_LT(0, lost);
	EXPECT_EQ(n, lost + events);
	evbus_close(bus);
}

TEST(records_larger_than_the_read_buffer_grow_it)
{
	EVBUS_OPTS(evbus_opts, o, .read_buf = 64);
	const struct evbus_record *rec;
	struct evbus_version v;
	struct evbus *bus;
	unsigned char *big;
	char t[64];
	size_t i, len;
	int ret;

	ret = evbus_open(&bus, &o);
	if (ret == -ENOENT)
		SKIP(return, "no /dev/evbus");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, evbus_query(bus, &v));
	len = v.max_payload;
	big = malloc(len);
	ASSERT_NE(NULL, big);
	for (i = 0; i < len; i++)
		big[i] = (unsigned char)(i * 7);
	ASSERT_EQ(0, evbus_set_ring(bus, 4 * (len + 4096), EVBUS_POLICY_DROP_OLDEST));
	lt_topic(t, sizeof(t), "big");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, "s", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, big, len, NULL, NULL));
	ASSERT_EQ(0, evbus_publish(bus, t, "e", 1, NULL, NULL));

	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(1, rec->payload_len);
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(len, rec->payload_len);
	EXPECT_EQ(0, memcmp(big, rec->payload, len));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(1, rec->payload_len);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	free(big);
	evbus_close(bus);
}

TEST(many_records_come_from_few_reads)
{
	const struct evbus_record *rec;
	struct evbus_stats st;
	struct evbus *bus;
	char t[64];
	int i;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "many");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ASSERT_LT(0, publish_n(bus, t, 50, 16));
	/* The first call reads everything queued into the buffer. */
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(0, evbus_get_stats(bus, &st));
	EXPECT_EQ(50, st.delivered);
	EXPECT_EQ(0, st.queued_events);
	for (i = 1; i < 50; i++)
		ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	evbus_close(bus);
}

TEST(the_fd_works_with_epoll)
{
	const struct evbus_record *rec;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct evbus *bus;
	char t[64];
	int ep;

	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "epoll");
	ASSERT_EQ(0, evbus_subscribe(bus, t, NULL));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, evbus_fd(bus), &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(0, evbus_publish(bus, t, "e", 1, NULL, NULL));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 1000));
	EXPECT_TRUE(out.events & EPOLLIN);
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	close(ep);
	evbus_close(bus);
}

TEST_HARNESS_MAIN
