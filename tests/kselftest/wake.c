// SPDX-License-Identifier: GPL-2.0
/*
 * Wake-up coalescing (EVBUS_RING_WAKE): configuration rules, readiness by
 * watermark, by delay and by loss, blocking reads that return a whole
 * batch, no stale readiness from an old timer, and closing files with a
 * timer armed.
 */
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

static int get_ring(int fd, struct evbus_ring_cfg *c)
{
	memset(c, 0xa5, sizeof(*c));
	return ioctl(fd, EVBUS_IOC_GET_RING, c) ? -errno : 0;
}

static int set_wake(int fd, uint32_t flags, uint32_t events, uint64_t delay_ns)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.wake_events = events;
	c.wake_delay_ns = delay_ns;
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

#define EXPECT_WAKE(fd, fl, ev, dl) do {				\
	struct evbus_ring_cfg _c;					\
	ASSERT_EQ(0, get_ring(fd, &_c));				\
	EXPECT_EQ((uint32_t)(fl), _c.flags);				\
	EXPECT_EQ((uint32_t)(ev), _c.wake_events);			\
	EXPECT_EQ((uint64_t)(dl), _c.wake_delay_ns);			\
	EXPECT_EQ(0, _c.wait_ns);					\
} while (0)

/* poll() for POLLIN: 1 readable, 0 not within timeout_ms. */
static int readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms);
}

/* Records of each kind returned by one read(). */
static ssize_t read_count(int fd, int *events, int *lagged)
{
	static char buf[1 << 16];
	struct evbus_rec_hdr *h;
	ssize_t r, left;

	*events = *lagged = 0;
	r = read(fd, buf, sizeof(buf));
	if (r < 0)
		return -errno;
	evt_for_each_rec(h, buf, r, left) {
		if (h->kind == EVBUS_REC_EVENT)
			++*events;
		else if (h->kind == EVBUS_REC_LAGGED)
			++*lagged;
	}
	return r;
}

static bool fdinfo_has(int fd, const char *line)
{
	char path[64], text[4096];
	ssize_t n;
	int ffd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ffd = open(path, O_RDONLY);
	if (ffd < 0)
		return false;
	n = read(ffd, text, sizeof(text) - 1);
	close(ffd);
	if (n <= 0)
		return false;
	text[n] = 0;
	return strstr(text, line) != NULL;
}

static int sub_nb(const char *topic)
{
	int fd = evt_open_nb();

	if (fd >= 0 && evt_sub(fd, topic) <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(config_is_validated_and_read_back)
{
	struct evbus_version v;
	struct evbus_ring_cfg c;
	int fd = evt_open_nb();

	ASSERT_LE(0, fd);
	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_TRUE(v.features & EVBUS_FEAT_RING_WAKE);
	EXPECT_TRUE(v.features & EVBUS_FEAT_ADAPTIVE_WAKE);
	/* Adaptive is the default. */
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);

	/* Every bad combination is EINVAL and changes nothing. */
	EXPECT_EQ(-EINVAL, set_wake(fd, 1U << 3, 0, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE | EVBUS_RING_IMMEDIATE, 4, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_ADAPTIVE | EVBUS_RING_IMMEDIATE, 0, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_IMMEDIATE, 4, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_ADAPTIVE, 0, 1000));
	EXPECT_EQ(-EINVAL, set_wake(fd, 1U << 31, 0, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE, 0, 1000));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE, EVBUS_WAKE_EVENTS_MAX + 1, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE, 4, EVBUS_WAKE_DELAY_MAX + 1));
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE, 4, UINT64_MAX));
	EXPECT_EQ(-EINVAL, set_wake(fd, 0, 4, 0));
	EXPECT_EQ(-EINVAL, set_wake(fd, 0, 0, 1000));
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);
	memset(&c, 0, sizeof(c));
	c.flags = EVBUS_RING_WAKE;
	c.wake_events = 4;
	c.wait_ns = 1;	/* not lossless: no wait */
	EXPECT_EQ(-EINVAL, ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0);
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);

	/* The limits themselves are fine, and read back exactly. */
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, EVBUS_WAKE_EVENTS_MAX,
			      EVBUS_WAKE_DELAY_MAX));
	EXPECT_WAKE(fd, EVBUS_RING_WAKE, EVBUS_WAKE_EVENTS_MAX, EVBUS_WAKE_DELAY_MAX);
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 1, 0));
	EXPECT_WAKE(fd, EVBUS_RING_WAKE, 1, 0);
	/* A bad call after a good one leaves the good one in place. */
	EXPECT_EQ(-EINVAL, set_wake(fd, EVBUS_RING_WAKE, 0, 0));
	EXPECT_WAKE(fd, EVBUS_RING_WAKE, 1, 0);
	/* fdinfo shows it. */
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 16, 1000));
	EXPECT_TRUE(fdinfo_has(fd, "evbus-wake:\t16 1000\n"));
	EXPECT_TRUE(fdinfo_has(fd, "evbus-wake-mode:\tfixed\n"));
	/* Immediate: wake on the first record. */
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_IMMEDIATE, 0, 0));
	EXPECT_WAKE(fd, EVBUS_RING_IMMEDIATE, 0, 0);
	EXPECT_TRUE(fdinfo_has(fd, "evbus-wake:\t0 0\n"));
	EXPECT_TRUE(fdinfo_has(fd, "evbus-wake-mode:\timmediate\n"));
	/* SET_RING sets the whole configuration: flags 0 is adaptive again. */
	ASSERT_EQ(0, set_wake(fd, 0, 0, 0));
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);
	EXPECT_TRUE(fdinfo_has(fd, "evbus-wake-mode:\tadaptive\n"));
	EXPECT_TRUE(fdinfo_has(fd, "largest batch 32, largest delay 500000 ns\n"));
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_ADAPTIVE, 0, 0));
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);
	close(fd);
}

/*
 * Adaptive (the default): an event that comes after the reader last
 * consumed longer ago than the largest delay wakes it at once, whatever
 * profile lib/dim is in; so does a loss, and a blocking read() returns it.
 */
TEST(adaptive_sparse_event_is_readable_at_once)
{
	const char *t = "waket.sparse";
	int fd = sub_nb(t), ev, lg;

	ASSERT_LE(0, fd);
	EXPECT_WAKE(fd, EVBUS_RING_ADAPTIVE, 0, 0);
	for (int round = 0; round < 3; round++) {
		usleep(EVBUS_ADAPTIVE_DELAY_MAX_NS / 1000 + 1000);
		EXPECT_EQ(0, readable(fd, 0));
		ASSERT_LT(0, evt_pub(fd, t, "sparse"));
		EXPECT_EQ(1, readable(fd, 0));
		ASSERT_LT(0, read_count(fd, &ev, &lg));
		EXPECT_EQ(1, ev);
		EXPECT_EQ(0, lg);
	}
	/*
	 * A steady stream is moderated, but never kept past the delay: the
	 * last event (unread, whatever the loop took) becomes readable.
	 */
	for (int i = 0; i < 2000; i++) {
		ASSERT_LT(0, evt_pub(fd, t, "stream"));
		if (readable(fd, 0) == 1)
			read_count(fd, &ev, &lg);
	}
	ASSERT_LT(0, evt_pub(fd, t, "last"));
	EXPECT_EQ(1, readable(fd, 10000));
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(0, readable(fd, 0));
	/* A loss is worth a wake-up at once. */
	ASSERT_EQ(0, evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_NEWEST));
	usleep(EVBUS_ADAPTIVE_DELAY_MAX_NS / 1000 + 1000);
	for (int i = 0; i < 64; i++)
		ASSERT_LT(0, evt_pub(fd, t, "a loss is coming: this fills the ring quickly"));
	EXPECT_EQ(1, readable(fd, 0));
	close(fd);
}

TEST(watermark_gates_poll_not_nonblocking_read)
{
	const char *t = "waket.mark";
	int fd = sub_nb(t), ev, lg;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 4, 0));
	for (int i = 0; i < 3; i++)
		ASSERT_LT(0, evt_pub(fd, t, "x"));
	EXPECT_EQ(0, readable(fd, 0));
	/* Non-blocking reads still take what is queued. */
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(3, ev);
	EXPECT_EQ(-EAGAIN, read_count(fd, &ev, &lg));

	/* The count restarts once the ring is empty. */
	for (int i = 0; i < 3; i++)
		ASSERT_LT(0, evt_pub(fd, t, "x"));
	EXPECT_EQ(0, readable(fd, 0));
	ASSERT_LT(0, evt_pub(fd, t, "x"));
	EXPECT_EQ(1, readable(fd, 0));
	/* Level-triggered until empty, even below the watermark. */
	ASSERT_LT(0, evt_pub(fd, t, "x"));
	EXPECT_EQ(1, readable(fd, 0));
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(5, ev);
	EXPECT_EQ(0, readable(fd, 0));

	/* Lowering the watermark, or turning it off, makes queued ones due. */
	ASSERT_LT(0, evt_pub(fd, t, "x"));
	ASSERT_LT(0, evt_pub(fd, t, "x"));
	EXPECT_EQ(0, readable(fd, 0));
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 3, 0));
	EXPECT_EQ(0, readable(fd, 0));
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 2, 0));
	EXPECT_EQ(1, readable(fd, 0));
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 100, 0));
	EXPECT_EQ(0, readable(fd, 0));
	ASSERT_EQ(0, set_wake(fd, 0, 0, 0));
	EXPECT_EQ(1, readable(fd, 0));
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(2, ev);
	close(fd);
}

TEST(delay_makes_a_lone_event_readable)
{
	const char *t = "waket.delay";
	int fd = sub_nb(t), ev, lg;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 1000, 20 * 1000 * 1000));
	EXPECT_EQ(0, readable(fd, 0));
	for (int round = 0; round < 3; round++) {
		ASSERT_LT(0, evt_pub(fd, t, "late"));
		EXPECT_EQ(0, readable(fd, 0));
		/* The timer fires 20 ms after the first record. */
		EXPECT_EQ(1, readable(fd, 10000));
		ASSERT_LT(0, read_count(fd, &ev, &lg));
		EXPECT_EQ(1, ev);
		EXPECT_EQ(0, readable(fd, 0));
	}
	close(fd);
}

TEST(old_timer_leaves_no_stale_readiness)
{
	const char *t = "waket.stale";
	int fd = sub_nb(t), ev, lg;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 1000, 5 * 1000 * 1000));
	ASSERT_LT(0, evt_pub(fd, t, "a"));
	/* Drained before the timer fires; it then fires on an empty ring. */
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(1, ev);
	usleep(50 * 1000);
	EXPECT_EQ(0, readable(fd, 0));
	/* The next record starts a new period: not readable at once. */
	ASSERT_LT(0, evt_pub(fd, t, "b"));
	EXPECT_EQ(0, readable(fd, 0));
	EXPECT_EQ(1, readable(fd, 10000));
	close(fd);
}

/*
 * uapi promises a coalesced ring becomes readable "when events were lost or
 * the ring is full": full is three quarters of its bytes in use, so the
 * reader is woken while there is still room, before anything is lost.
 */
TEST(a_full_ring_is_readable_before_anything_is_lost)
{
	const char *t = "waket.full";
	struct evbus_ring_cfg c;
	struct evbus_stats st;
	int fd = sub_nb(t), ev, lg, n = 0;
	char payload[512];

	ASSERT_LE(0, fd);
	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = 0;
	/* A ring that fills long before the watermark. */
	memset(&c, 0, sizeof(c));
	c.size = 4096;
	c.policy = EVBUS_POLICY_DROP_NEWEST;
	c.flags = EVBUS_RING_WAKE;
	c.wake_events = EVBUS_WAKE_EVENTS_MAX;
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_SET_RING, &c));
	for (;;) {
		ASSERT_LT(0, evt_pub(fd, t, payload));
		ASSERT_EQ(0, evt_stats(fd, &st));
		n++;
		ASSERT_LT(n, 100);
		if (st.queued_bytes >= 4096 / 4 * 3)
			break;
		EXPECT_EQ(0, readable(fd, 0));
	}
	EXPECT_EQ(0, st.lost);
	EXPECT_EQ(1, readable(fd, 0));
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(n, ev);
	EXPECT_EQ(0, lg);
	EXPECT_EQ(0, readable(fd, 0));
	close(fd);
}

/* A loss makes a coalesced ring readable at once, far below its watermark. */
TEST(loss_is_readable_below_watermark)
{
	const char *t = "waket.loss";
	struct evbus_ring_cfg c;
	struct evbus_stats st;
	int fd = sub_nb(t), ev, lg;
	static char big[8192];

	ASSERT_LE(0, fd);
	memset(big, 'b', sizeof(big) - 1);
	memset(&c, 0, sizeof(c));
	c.size = 4096;
	c.policy = EVBUS_POLICY_DROP_NEWEST;
	c.flags = EVBUS_RING_WAKE;
	c.wake_events = EVBUS_WAKE_EVENTS_MAX;
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_SET_RING, &c));
	ASSERT_LT(0, evt_pub(fd, t, "small"));
	EXPECT_EQ(0, readable(fd, 0));
	/* Larger than the whole ring: lost whatever the policy. */
	ASSERT_LT(0, evt_pub(fd, t, big));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.lost);
	EXPECT_EQ(1, readable(fd, 0));
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	EXPECT_EQ(1, ev);
	EXPECT_EQ(1, lg);
	EXPECT_EQ(0, readable(fd, 0));
	close(fd);
}

TEST(blocking_read_returns_the_whole_batch)
{
	const char *t = "waket.block";
	int fd = evt_open(), ev, lg, status;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(fd, t));
	ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 8, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int pfd = evt_open();

		/* One at a time, giving the reader every chance to wake. */
		for (int i = 0; i < 8; i++) {
			usleep(10 * 1000);
			if (pfd < 0 || evt_pub(pfd, t, "one") <= 0)
				_exit(1);
		}
		_exit(0);
	}
	alarm(20);	/* hang guard */
	ASSERT_LT(0, read_count(fd, &ev, &lg));
	alarm(0);
	EXPECT_EQ(8, ev);
	EXPECT_EQ(0, lg);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
}

TEST(close_with_timer_armed)
{
	const char *t = "waket.close";
	struct timespec ts = { 0, 0 };

	/* Close before, around and after the timer fires (KASAN watches). */
	for (int i = 0; i < 300; i++) {
		int fd = sub_nb(t);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, set_wake(fd, EVBUS_RING_WAKE, 1000, 100 * 1000 + i * 1000));
		ASSERT_LT(0, evt_pub(fd, t, "armed"));
		ts.tv_nsec = (i % 7) * 50 * 1000;
		nanosleep(&ts, NULL);
		close(fd);
	}
}

TEST_HARNESS_MAIN
