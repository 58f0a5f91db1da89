// SPDX-License-Identifier: GPL-2.0
/*
 * Per-file rings: read() semantics, poll/epoll readiness, blocking reads,
 * bad buffers, overflow policies with exact lag accounting, ring
 * configuration, ioctl error paths, batch publish, cross-process
 * conservation and leak checks.
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define LAG_LEN		((uint32_t)sizeof(struct evbus_lagged))

/* One record as parsed from a read() buffer. */
struct rec {
	uint16_t kind;
	uint32_t len;
	uint64_t seq;		/* EVENT */
	uint64_t lost;		/* LAGGED */
	uint64_t first, last;	/* LAGGED */
};

static uint32_t rec_len(size_t topic_len, size_t payload_len)
{
	return sizeof(struct evbus_event) + EVBUS_ALIGN(topic_len + 1) +
	       EVBUS_ALIGN(payload_len);
}

/* A nonblocking file with a configured ring and one subscription. */
static int sub_fd(const char *pattern, uint32_t size, uint32_t policy)
{
	int fd = evt_open_nb();

	if (fd < 0)
		return -1;
	if ((size || policy) && evt_set_ring(fd, size, policy)) {
		close(fd);
		return -1;
	}
	if (evt_sub(fd, pattern) <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Parse buf[0..len) into out[]; returns the number of records, -1 if bad. */
static int parse_recs(const void *buf, ssize_t len, struct rec *out, int max)
{
	struct evbus_rec_hdr *h;
	ssize_t left;
	int n = 0;

	if (len < 0)
		return -1;
	evt_for_each_rec(h, buf, len, left) {
		if (n >= max)
			return -1;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = h->kind;
		out[n].len = h->len;
		if (h->kind == EVBUS_REC_EVENT) {
			out[n].seq = ((struct evbus_event *)h)->seq;
		} else if (h->kind == EVBUS_REC_LAGGED) {
			struct evbus_lagged *lg = (struct evbus_lagged *)h;

			out[n].lost = lg->lost;
			out[n].first = lg->first_seq;
			out[n].last = lg->last_seq;
		} else {
			return -1;	/* read() never returns fillers */
		}
		n++;
	}
	if (left)
		return -1;		/* trailing partial record */
	return n;
}

/* Read everything queued (nonblocking fd) into out[]; returns records. */
static int drain(int fd, struct rec *out, int max)
{
	static char buf[1 << 20];
	int n = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		int k;

		if (r < 0)
			return errno == EAGAIN ? n : -1;
		k = parse_recs(buf, r, out + n, max - n);
		if (k < 0)
			return -1;
		n += k;
	}
}

static int64_t pub_len(int fd, const char *topic, size_t payload_len)
{
	static char payload[70000];

	return evt_pub_full(fd, topic, payload, payload_len, 0, 0, 0);
}

/* /sys/kernel/evbus/stats/<name>, or LLONG_MIN if unreadable. */
static long long sysfs_stat(const char *name)
{
	char path[128], buf[64];
	long long v = LLONG_MIN;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return v;
	r = read(fd, buf, sizeof(buf) - 1);
	if (r > 0) {
		buf[r] = 0;
		v = strtoll(buf, NULL, 10);
	}
	close(fd);
	return v;
}

static int get_ring(int fd, struct evbus_ring_cfg *c)
{
	memset(c, 0, sizeof(*c));
	return ioctl(fd, EVBUS_IOC_GET_RING, c) ? -errno : 0;
}

static int set_ring_cfg(int fd, const struct evbus_ring_cfg *c)
{
	struct evbus_ring_cfg copy = *c;

	return ioctl(fd, EVBUS_IOC_SET_RING, &copy) ? -errno : 0;
}

/* ------------------------------------------------------------- read() */

TEST(read_too_small_is_einval_and_consumes_nothing)
{
	const char *t = "ringt.small.one";
	uint32_t len = rec_len(strlen(t), 5);
	struct evbus_stats st;
	struct rec recs[4];
	char buf[512];
	int fd = sub_fd(t, 0, 0);
	int64_t seq;

	ASSERT_LE(0, fd);
	seq = evt_pub(fd, t, "hello");
	ASSERT_LT(0, seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	ASSERT_EQ(1, st.queued_events);
	ASSERT_EQ(len, st.queued_bytes);

	EXPECT_EQ(-1, read(fd, buf, len - 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(fd, buf, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.queued_events);
	EXPECT_EQ(len, st.queued_bytes);
	EXPECT_EQ(0, st.delivered);

	ASSERT_EQ((ssize_t)len, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(1, parse_recs(buf, len, recs, 4));
	EXPECT_EQ(EVBUS_REC_EVENT, recs[0].kind);
	EXPECT_EQ((uint64_t)seq, recs[0].seq);
	EXPECT_EQ(0, strcmp(EVBUS_EVENT_TOPIC((struct evbus_event *)buf), t));
	EXPECT_EQ(0, memcmp(EVBUS_EVENT_PAYLOAD((struct evbus_event *)buf),
			    "hello", 5));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(1, st.delivered);
	close(fd);
}

TEST(read_returns_whole_records_only)
{
	const char *t = "ringt.whole.recs";
	uint32_t len = rec_len(strlen(t), 24);
	struct evbus_stats st;
	struct rec recs[8];
	int64_t seqs[5];
	char buf[4096];
	ssize_t r;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	for (int i = 0; i < 5; i++) {
		seqs[i] = pub_len(fd, t, 24);
		ASSERT_LT(0, seqs[i]);
	}
	/* Room for 2.5 records: exactly 2 come back. */
	r = read(fd, buf, len * 2 + len / 2);
	ASSERT_EQ((ssize_t)(2 * len), r);
	ASSERT_EQ(2, parse_recs(buf, r, recs, 8));
	EXPECT_EQ((uint64_t)seqs[0], recs[0].seq);
	EXPECT_EQ((uint64_t)seqs[1], recs[1].seq);
	/* Exactly one record's worth. */
	r = read(fd, buf, len);
	ASSERT_EQ((ssize_t)len, r);
	ASSERT_EQ(1, parse_recs(buf, r, recs, 8));
	EXPECT_EQ((uint64_t)seqs[2], recs[0].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(2, st.queued_events);
	EXPECT_EQ(2 * len, st.queued_bytes);
	r = read(fd, buf, sizeof(buf));
	ASSERT_EQ((ssize_t)(2 * len), r);
	ASSERT_EQ(2, parse_recs(buf, r, recs, 8));
	EXPECT_EQ((uint64_t)seqs[3], recs[0].seq);
	EXPECT_EQ((uint64_t)seqs[4], recs[1].seq);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST(nonblocking_read_empty_is_eagain)
{
	char buf[512];
	int fd = sub_fd("ringt.empty.nb", 0, 0);
	int nosub = evt_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, nosub);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	/* A tiny buffer on an empty ring is still EAGAIN, not EINVAL. */
	EXPECT_EQ(-1, read(fd, buf, 8));
	EXPECT_EQ(EAGAIN, errno);
	/* No subscriptions, no ring at all. */
	EXPECT_EQ(-1, read(nosub, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_LT(0, evt_pub(nosub, "ringt.empty.nb", "x"));
	EXPECT_EQ(-1, read(nosub, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(nosub);
	close(fd);
}

/* --------------------------------------------------------- poll/epoll */

TEST(poll_readiness_follows_ring)
{
	const char *t = "ringt.poll.one";
	struct pollfd pfd;
	char buf[1024];
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	pfd.fd = fd;
	pfd.events = POLLIN | POLLRDNORM | POLLOUT;
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);

	ASSERT_LT(0, evt_pub(fd, t, "p"));
	ASSERT_LT(0, evt_pub(fd, t, "q"));
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, pfd.revents);

	/* Still readable after a partial read. */
	ASSERT_EQ((ssize_t)rec_len(strlen(t), 1), read(fd, buf, rec_len(strlen(t), 1)));
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, pfd.revents);

	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);
	close(fd);
}

TEST(epoll_level_triggered_readiness)
{
	const char *t = "ringt.epoll.one";
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	struct epoll_event out[2];
	char buf[1024];
	int fd = sub_fd(t, 0, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));

	ASSERT_LT(0, evt_pub(fd, t, "e"));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 1000));
	EXPECT_EQ(42, out[0].data.u64);
	EXPECT_TRUE(out[0].events & EPOLLIN);
	/* Level-triggered: reported again while unread. */
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	EXPECT_TRUE(out[0].events & EPOLLIN);

	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));

	/* And becomes ready again on the next publish. */
	ASSERT_LT(0, evt_pub(fd, t, "f"));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 1000));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
	close(fd);
}

/* ------------------------------------------------------ blocking read */

TEST(blocking_read_woken_by_other_process)
{
	const char *t = "ringt.block.wake";
	struct rec recs[4];
	char buf[1024];
	ssize_t r;
	pid_t pid;
	int status;
	int fd = evt_open();

	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(fd, t));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int pfd = evt_open();

		usleep(200 * 1000);
		_exit(pfd >= 0 && evt_pub(pfd, t, "wake up") > 0 ? 0 : 1);
	}
	alarm(20);	/* hang guard */
	r = read(fd, buf, sizeof(buf));
	alarm(0);
	ASSERT_EQ((ssize_t)rec_len(strlen(t), 7), r);
	ASSERT_EQ(1, parse_recs(buf, r, recs, 4));
	EXPECT_EQ(EVBUS_REC_EVENT, recs[0].kind);
	EXPECT_EQ(pid, ((struct evbus_event *)buf)->pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
}

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig)
{
	got_alarm = 1;
}

TEST(blocking_read_interrupted_by_signal)
{
	struct sigaction sa;
	struct evbus_stats st;
	char buf[1024];
	int fd = evt_open();

	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(fd, "ringt.block.eintr"));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	got_alarm = 0;
	alarm(1);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, got_alarm);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(0, st.delivered);
	/* The file still works. */
	ASSERT_LT(0, evt_pub(fd, "ringt.block.eintr", "after"));
	EXPECT_LT(0, read(fd, buf, sizeof(buf)));
	close(fd);
}

TEST(records_have_zeroed_padding_and_reserved_fields)
{
	const char *t = "ringt.pad.x";	/* 11 bytes: NUL + 4 padding */
	struct evbus_event *ev;
	struct evbus_lagged *lg;
	char buf[8192];
	ssize_t r;
	int fd = sub_fd(t, 4096, EVBUS_POLICY_DROP_OLDEST);
	int64_t seq;

	ASSERT_LE(0, fd);
	memset(buf, 0xff, sizeof(buf));
	seq = evt_pub_full(fd, t, "abc", 3, 7, 8, 9);
	ASSERT_LT(0, seq);
	r = read(fd, buf, sizeof(buf));
	ASSERT_EQ((ssize_t)rec_len(strlen(t), 3), r);
	ev = (struct evbus_event *)buf;
	EXPECT_EQ(r, ev->hdr.len);
	EXPECT_EQ(EVBUS_REC_EVENT, ev->hdr.kind);
	EXPECT_EQ(sizeof(*ev), ev->hdr.hdr_len);
	EXPECT_EQ(strlen(t), ev->topic_len);
	EXPECT_EQ(3, ev->payload_len);
	EXPECT_EQ((uint64_t)seq, ev->seq);
	EXPECT_EQ(7, ev->type);
	EXPECT_EQ(8, ev->corr);
	EXPECT_EQ(9, ev->parent);
	EXPECT_EQ(0, ev->flags);
	EXPECT_EQ(getpid(), ev->pid);
	EXPECT_EQ(0, memcmp(EVBUS_EVENT_TOPIC(ev), t, strlen(t) + 1));
	for (size_t i = strlen(t); i < EVBUS_ALIGN(strlen(t) + 1); i++)
		EXPECT_EQ(0, EVBUS_EVENT_TOPIC(ev)[i]);
	EXPECT_EQ(0, memcmp(EVBUS_EVENT_PAYLOAD(ev), "abc", 3));
	for (size_t i = 3; i < 8; i++)
		EXPECT_EQ(0, ((const char *)EVBUS_EVENT_PAYLOAD(ev))[i]);

	/* A LAGGED record: fixed size, zero flags and reserved. */
	ASSERT_LT(0, pub_len(fd, t, 5000));
	memset(buf, 0xff, sizeof(buf));
	r = read(fd, buf, sizeof(buf));
	ASSERT_EQ(LAG_LEN, r);
	lg = (struct evbus_lagged *)buf;
	EXPECT_EQ(LAG_LEN, lg->hdr.len);
	EXPECT_EQ(EVBUS_REC_LAGGED, lg->hdr.kind);
	EXPECT_EQ(LAG_LEN, lg->hdr.hdr_len);
	EXPECT_EQ(0, lg->flags);
	EXPECT_EQ(0, lg->reserved);
	EXPECT_EQ(1, lg->lost);
	EXPECT_EQ(lg->first_seq, lg->last_seq);
	EXPECT_LT((uint64_t)seq, lg->first_seq);
	close(fd);
}

/* --------------------------------------------------------- bad buffers */

static void *unmapped_addr(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, 4096);
	return p;
}

TEST(read_bad_buffer_is_efault_and_keeps_record)
{
	const char *t = "ringt.efault.one";
	struct evbus_stats st;
	struct rec recs[4];
	char buf[1024];
	void *bad = unmapped_addr();
	void *volatile null = NULL;	/* keep -Wnonnull quiet */
	int64_t seq;
	ssize_t r;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, bad);
	seq = evt_pub(fd, t, "keep me");
	ASSERT_LT(0, seq);

	EXPECT_EQ(-1, read(fd, null, sizeof(buf)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, read(fd, bad, 4096));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.queued_events);
	EXPECT_EQ(0, st.delivered);

	r = read(fd, buf, sizeof(buf));
	ASSERT_EQ((ssize_t)rec_len(strlen(t), 7), r);
	ASSERT_EQ(1, parse_recs(buf, r, recs, 4));
	EXPECT_EQ((uint64_t)seq, recs[0].seq);
	close(fd);
}

TEST(read_buffer_with_protnone_page_returns_whole_records)
{
	/* 12-char topic: 80 + 16 + 104 = 200-byte records, 20 per page. */
	const char *t = "ringt.pn.two";
	uint32_t len = rec_len(strlen(t), 104);
	struct evbus_stats st;
	struct rec recs[32];
	int64_t s[25];
	char *map;
	ssize_t r;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(200, len);
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + 4096, 4096, PROT_NONE));
	for (int i = 0; i < 25; i++) {
		s[i] = pub_len(fd, t, 104);
		ASSERT_LT(0, s[i]);
	}
	r = read(fd, map, 8192);
	ASSERT_EQ(20 * 200, r);
	ASSERT_EQ(20, parse_recs(map, r, recs, 32));
	for (int i = 0; i < 20; i++)
		EXPECT_EQ((uint64_t)s[i], recs[i].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(5, st.queued_events);
	EXPECT_EQ(20, st.delivered);

	/* The buffer now starts 8 bytes before the bad page: EFAULT. */
	EXPECT_EQ(-1, read(fd, map + 4096 - 8, 4096));
	EXPECT_EQ(EFAULT, errno);

	r = read(fd, map, 4096);
	ASSERT_EQ(5 * 200, r);
	ASSERT_EQ(5, parse_recs(map, r, recs, 32));
	for (int i = 0; i < 5; i++)
		EXPECT_EQ((uint64_t)s[20 + i], recs[i].seq);
	munmap(map, 8192);
	close(fd);
}

/* --------------------------------------------------- overflow policies */

/* topic "lagold.t"-style (8 chars): 80 + 16 + 160 = 256-byte records. */
#define P256	160

TEST(drop_oldest_exact_lag)
{
	const char *t = "lagold.t";
	struct evbus_stats st;
	char small[64];
	struct rec recs[64];
	int64_t s[61];
	int fd = sub_fd(t, 4096, EVBUS_POLICY_DROP_OLDEST);
	int n;

	ASSERT_LE(0, fd);
	ASSERT_EQ(256, rec_len(strlen(t), P256));
	for (int i = 1; i <= 40; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	/*
	 * The evicted events are one LAGGED record at the head, in their
	 * space: 15 events and it fill the ring.
	 */
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(15, st.queued_events);
	EXPECT_EQ(15 * 256 + LAG_LEN, st.queued_bytes);
	EXPECT_EQ(25, st.lost);

	/* The next record is the 40-byte LAGGED: 39 bytes is too small. */
	EXPECT_EQ(-1, read(fd, small, LAG_LEN - 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.lag_records);
	EXPECT_EQ(15, st.queued_events);

	n = drain(fd, recs, 64);
	ASSERT_EQ(16, n);
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[0].kind);
	EXPECT_EQ(25, recs[0].lost);
	EXPECT_EQ((uint64_t)s[1], recs[0].first);
	EXPECT_EQ((uint64_t)s[25], recs[0].last);
	for (int i = 0; i < 15; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[1 + i].kind);
		EXPECT_EQ((uint64_t)s[26 + i], recs[1 + i].seq);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(25, st.lost);
	EXPECT_EQ(1, st.lag_records);
	EXPECT_EQ(15, st.delivered);
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(0, st.queued_bytes);

	/* Again, on the drained ring: 20 more, 5 evicted, one merged record. */
	for (int i = 41; i <= 60; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	n = drain(fd, recs, 64);
	ASSERT_EQ(16, n);
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[0].kind);
	EXPECT_EQ(5, recs[0].lost);
	EXPECT_EQ((uint64_t)s[41], recs[0].first);
	EXPECT_EQ((uint64_t)s[45], recs[0].last);
	for (int i = 0; i < 15; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[1 + i].kind);
		EXPECT_EQ((uint64_t)s[46 + i], recs[1 + i].seq);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(30, st.lost);
	EXPECT_EQ(2, st.lag_records);
	EXPECT_EQ(30, st.delivered);
	close(fd);
}

TEST(drop_newest_lag_between_old_and_new)
{
	const char *t = "lagnew.t";
	struct evbus_stats st;
	struct rec recs[64];
	char buf[4 * 256];
	int64_t s[23];
	ssize_t r;
	int fd = sub_fd(t, 4096, EVBUS_POLICY_DROP_NEWEST);
	int n;

	ASSERT_LE(0, fd);
	for (int i = 1; i <= 20; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(16, st.queued_events);
	EXPECT_EQ(4, st.lost);

	r = read(fd, buf, sizeof(buf));
	ASSERT_EQ(4 * 256, r);
	ASSERT_EQ(4, parse_recs(buf, r, recs, 64));
	for (int i = 0; i < 4; i++)
		EXPECT_EQ((uint64_t)s[1 + i], recs[i].seq);

	for (int i = 21; i <= 22; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(14, st.queued_events);
	EXPECT_EQ(4, st.lost);

	n = drain(fd, recs, 64);
	ASSERT_EQ(15, n);
	for (int i = 0; i < 12; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[i].kind);
		EXPECT_EQ((uint64_t)s[5 + i], recs[i].seq);
	}
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[12].kind);
	EXPECT_EQ(4, recs[12].lost);
	EXPECT_EQ((uint64_t)s[17], recs[12].first);
	EXPECT_EQ((uint64_t)s[20], recs[12].last);
	EXPECT_EQ(EVBUS_REC_EVENT, recs[13].kind);
	EXPECT_EQ((uint64_t)s[21], recs[13].seq);
	EXPECT_EQ(EVBUS_REC_EVENT, recs[14].kind);
	EXPECT_EQ((uint64_t)s[22], recs[14].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(18, st.delivered);
	EXPECT_EQ(1, st.lag_records);
	EXPECT_EQ(4, st.lost);
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(0, st.queued_bytes);
	close(fd);
}

TEST(drop_newest_lag_last_when_drained)
{
	const char *t = "lagnew.d";
	struct evbus_stats st;
	struct rec recs[64];
	int64_t s[20];
	int fd = sub_fd(t, 4096, EVBUS_POLICY_DROP_NEWEST);
	int n;

	ASSERT_LE(0, fd);
	for (int i = 0; i < 19; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	n = drain(fd, recs, 64);
	ASSERT_EQ(17, n);
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[i].kind);
		EXPECT_EQ((uint64_t)s[i], recs[i].seq);
	}
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[16].kind);
	EXPECT_EQ(3, recs[16].lost);
	EXPECT_EQ((uint64_t)s[16], recs[16].first);
	EXPECT_EQ((uint64_t)s[18], recs[16].last);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(16, st.delivered);
	EXPECT_EQ(1, st.lag_records);
	EXPECT_EQ(3, st.lost);

	/* Drain one-record-at-a-time too: the LAGGED still comes last. */
	for (int i = 0; i < 18; i++) {
		s[i] = pub_len(fd, t, P256);
		ASSERT_LT(0, s[i]);
	}
	for (int i = 0; i < 16; i++) {
		char buf[256];

		ASSERT_EQ(256, read(fd, buf, sizeof(buf)));
		ASSERT_EQ(1, parse_recs(buf, 256, recs, 1));
		EXPECT_EQ((uint64_t)s[i], recs[0].seq);
	}
	{
		char buf[256];

		ASSERT_EQ(LAG_LEN, read(fd, buf, sizeof(buf)));
		ASSERT_EQ(1, parse_recs(buf, LAG_LEN, recs, 1));
		EXPECT_EQ(EVBUS_REC_LAGGED, recs[0].kind);
		EXPECT_EQ(2, recs[0].lost);
		EXPECT_EQ((uint64_t)s[16], recs[0].first);
		EXPECT_EQ((uint64_t)s[17], recs[0].last);
		EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
		EXPECT_EQ(EAGAIN, errno);
	}
	close(fd);
}

/* An event bigger than the whole ring is lost under either policy. */
static void oversized_event(struct __test_metadata *_metadata,
			    const char *t, uint32_t policy)
{
	struct evbus_stats st;
	struct rec recs[8];
	int64_t small1, big, small2;
	int fd = sub_fd(t, 4096, policy);
	int n;

	ASSERT_LE(0, fd);
	/* Alone on an empty ring. */
	big = pub_len(fd, t, 5000);
	ASSERT_LT(0, big);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.lost);
	EXPECT_EQ(0, st.queued_events);
	n = drain(fd, recs, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[0].kind);
	EXPECT_EQ(1, recs[0].lost);
	EXPECT_EQ((uint64_t)big, recs[0].first);
	EXPECT_EQ((uint64_t)big, recs[0].last);

	/* Between two small events: nothing else is evicted. */
	small1 = pub_len(fd, t, 8);
	big = pub_len(fd, t, 5000);
	small2 = pub_len(fd, t, 8);
	ASSERT_LT(0, small1);
	ASSERT_LT(0, big);
	ASSERT_LT(0, small2);
	n = drain(fd, recs, 8);
	ASSERT_EQ(3, n);
	EXPECT_EQ(EVBUS_REC_EVENT, recs[0].kind);
	EXPECT_EQ((uint64_t)small1, recs[0].seq);
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[1].kind);
	EXPECT_EQ(1, recs[1].lost);
	EXPECT_EQ((uint64_t)big, recs[1].first);
	EXPECT_EQ((uint64_t)big, recs[1].last);
	EXPECT_EQ(EVBUS_REC_EVENT, recs[2].kind);
	EXPECT_EQ((uint64_t)small2, recs[2].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(2, st.lost);
	EXPECT_EQ(2, st.lag_records);
	EXPECT_EQ(2, st.delivered);
	close(fd);
}

TEST(oversized_event_lost_drop_oldest)
{
	oversized_event(_metadata, "ringt.huge.old", EVBUS_POLICY_DROP_OLDEST);
}

TEST(oversized_event_lost_drop_newest)
{
	oversized_event(_metadata, "ringt.huge.new", EVBUS_POLICY_DROP_NEWEST);
}

/* ----------------------------------------------------- ring config */

/* GET_RING and STATS still show size/policy and the queue as before. */
#define EXPECT_RING(fd, sz, pol, q) do {				\
	struct evbus_ring_cfg _c;					\
	struct evbus_stats _st;						\
	ASSERT_EQ(0, get_ring(fd, &_c));				\
	EXPECT_EQ((uint32_t)(sz), _c.size);				\
	EXPECT_EQ((uint32_t)(pol), _c.policy);				\
	ASSERT_EQ(0, evt_stats(fd, &_st));				\
	EXPECT_EQ((uint32_t)(sz), _st.capacity);			\
	EXPECT_EQ((uint32_t)(pol), _st.policy);				\
	EXPECT_EQ((uint64_t)(q), _st.queued_events);			\
} while (0)

TEST(set_ring_rounds_and_validates)
{
	const char *t = "ringt.cfg.one";
	struct evbus_ring_cfg c;
	struct evbus_stats st;
	struct rec recs[8];
	int fd = evt_open_nb();

	ASSERT_LE(0, fd);
	/* Before any ring exists: the default, no capacity yet. */
	ASSERT_EQ(0, get_ring(fd, &c));
	EXPECT_EQ(131072, c.size);
	EXPECT_EQ(EVBUS_POLICY_DROP_OLDEST, c.policy);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.capacity);

	ASSERT_EQ(0, evt_set_ring(fd, 5000, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	ASSERT_EQ(0, evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 4096, EVBUS_POLICY_DROP_NEWEST, 0);
	ASSERT_EQ(0, evt_set_ring(fd, 16 << 20, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 16 << 20, EVBUS_POLICY_DROP_NEWEST, 0);
	ASSERT_EQ(0, evt_set_ring(fd, 5000, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);

	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 4095, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 1, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, (16 << 20) + 1, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 0x80000000u, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 0xffffffffu, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 4096, 3));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 0, 0xffffffffu));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);

	memset(&c, 0, sizeof(c));
	c.size = 4096;
	c.policy = EVBUS_POLICY_DROP_NEWEST;
	c.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, set_ring_cfg(fd, &c));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	c.flags = 0;
	c.wait_ns = 1ULL << 63;	/* a wait, but not lossless */
	EXPECT_EQ(-EINVAL, set_ring_cfg(fd, &c));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	c.wait_ns = 0;
	/* Wake-up coalescing fields without the flag (wake.c has the rest). */
	c.wake_events = 1;
	EXPECT_EQ(-EINVAL, set_ring_cfg(fd, &c));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	c.wake_events = 0;
	c.wake_delay_ns = 1;
	EXPECT_EQ(-EINVAL, set_ring_cfg(fd, &c));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	c.wake_delay_ns = 0;

	/* Queued events: resizing is EBUSY, a policy change alone is fine. */
	ASSERT_LT(0, evt_sub(fd, t));
	ASSERT_LT(0, evt_pub(fd, t, "queued"));
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 1);
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 1);
	EXPECT_EQ(0, evt_set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_NEWEST, 1);
	EXPECT_EQ(0, evt_set_ring(fd, 0, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 1);
	/* The queued event survived all of it. */
	ASSERT_EQ(1, drain(fd, recs, 8));
	EXPECT_EQ(EVBUS_REC_EVENT, recs[0].kind);

	/* Only a pending LAGGED record (ring otherwise empty): still EBUSY. */
	ASSERT_EQ(0, evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_LT(0, pub_len(fd, t, 5000));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.lost);
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 8192, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 4096, EVBUS_POLICY_DROP_OLDEST, 0);
	ASSERT_EQ(1, drain(fd, recs, 8));
	EXPECT_EQ(EVBUS_REC_LAGGED, recs[0].kind);
	EXPECT_EQ(0, evt_set_ring(fd, 8192, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_RING(fd, 8192, EVBUS_POLICY_DROP_OLDEST, 0);
	close(fd);
}

TEST(set_ring_keeps_ring_bytes_accounting)
{
	long long base = sysfs_stat("ring_bytes");
	int fd = evt_open_nb();

	ASSERT_NE(LLONG_MIN, base);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_set_ring(fd, 8192, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_EQ(base + 8192, sysfs_stat("ring_bytes"));
	ASSERT_EQ(0, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_EQ(base + 16384, sysfs_stat("ring_bytes"));
	/* Failures allocate nothing. */
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 1024, EVBUS_POLICY_DROP_OLDEST));
	EXPECT_EQ(base + 16384, sysfs_stat("ring_bytes"));
	/* A policy-only change allocates nothing. */
	ASSERT_EQ(0, evt_set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_EQ(base + 16384, sysfs_stat("ring_bytes"));
	/* Neither does asking for the size the ring already has. */
	ASSERT_EQ(0, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_EQ(base + 16384, sysfs_stat("ring_bytes"));
	ASSERT_EQ(0, evt_set_ring(fd, 10000, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_EQ(base + 16384, sysfs_stat("ring_bytes"));
	close(fd);
	EXPECT_EQ(base, sysfs_stat("ring_bytes"));
}

TEST(default_ring_holds_1024_small_events)
{
	const char *t = "ringt.defcap.x";
	struct evbus_stats st;
	static struct rec recs[1100];
	static int64_t s[1024];
	int fd = sub_fd(t, 0, 0);
	int n;

	ASSERT_LE(0, fd);
	for (int i = 0; i < 1024; i++) {
		s[i] = pub_len(fd, t, 16);
		ASSERT_LT(0, s[i]);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(131072, st.capacity);
	EXPECT_EQ(0, st.lost);
	EXPECT_EQ(1024, st.queued_events);
	EXPECT_EQ(1024ULL * rec_len(strlen(t), 16), st.queued_bytes);
	n = drain(fd, recs, 1100);
	ASSERT_EQ(1024, n);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[i].kind);
		EXPECT_EQ((uint64_t)s[i], recs[i].seq);
		if (recs[i].seq != (uint64_t)s[i])
			break;
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1024, st.delivered);
	EXPECT_EQ(0, st.lag_records);
	close(fd);
}

/* --------------------------------------------------------- error paths */

static void pub_init(struct evbus_pub *p, const char *topic, const void *data,
		     uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = strlen(topic);
	p->payload = (uintptr_t)data;
	p->payload_len = len;
}

static int pub_raw(int fd, struct evbus_pub *p)
{
	return ioctl(fd, EVBUS_IOC_PUBLISH, p) ? -errno : 0;
}

/* A failed publish changed nothing: same counters, nothing queued. */
#define EXPECT_UNCHANGED(fd, before) do {				\
	struct evbus_stats _st;						\
	ASSERT_EQ(0, evt_stats(fd, &_st));				\
	EXPECT_EQ((before).published, _st.published);			\
	EXPECT_EQ((before).queued_events, _st.queued_events);		\
	EXPECT_EQ((before).queued_bytes, _st.queued_bytes);		\
	EXPECT_EQ((before).lost, _st.lost);				\
	EXPECT_EQ((before).subscriptions, _st.subscriptions);		\
} while (0)

TEST(publish_errors_leave_state_unchanged)
{
	const char *t = "ringt.err.pub";
	static char big[65537], rbuf[70000];
	struct evbus_event *ev = (struct evbus_event *)rbuf;
	struct evbus_stats st0, st;
	struct evbus_pub p;
	ssize_t r;
	struct rec recs[8];
	void *bad = unmapped_addr();
	int64_t seq;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, evt_stats(fd, &st0));

	pub_init(&p, t, "x", 1);
	p.topic = (uintptr_t)bad;
	EXPECT_EQ(-EFAULT, pub_raw(fd, &p));
	EXPECT_EQ(0, p.seq);
	EXPECT_UNCHANGED(fd, st0);

	pub_init(&p, t, bad, 16);
	EXPECT_EQ(-EFAULT, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);

	pub_init(&p, t, big, 65537);
	EXPECT_EQ(-EMSGSIZE, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);

	pub_init(&p, t, "x", 1);
	p.flags = 1U << 31;	/* bits 0, 1 are EVBUS_PUB_RETAIN, _ASK */
	EXPECT_EQ(-EINVAL, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);
	pub_init(&p, t, "x", 1);
	p.reserved = 1;
	EXPECT_EQ(-EINVAL, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);
	pub_init(&p, t, "x", 1);
	p.topic_len = 0;
	EXPECT_EQ(-EINVAL, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);
	pub_init(&p, "ringt..err", "x", 1);
	EXPECT_EQ(-EINVAL, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);
	pub_init(&p, "ringt.*", "x", 1);
	EXPECT_EQ(-EINVAL, pub_raw(fd, &p));
	EXPECT_UNCHANGED(fd, st0);

	/* The largest payload goes through and is delivered whole. */
	memset(big, 0xa5, sizeof(big));
	pub_init(&p, t, big, 65536);
	ASSERT_EQ(0, pub_raw(fd, &p));
	EXPECT_LT(0, p.seq);
	r = read(fd, rbuf, sizeof(rbuf));
	ASSERT_EQ((ssize_t)rec_len(strlen(t), 65536), r);
	EXPECT_EQ(p.seq, ev->seq);
	EXPECT_EQ(65536, ev->payload_len);
	EXPECT_EQ(0, memcmp(EVBUS_EVENT_PAYLOAD(ev), big, 65536));

	/* And a normal one right after. */
	seq = evt_pub(fd, t, "good");
	ASSERT_LT(0, seq);
	EXPECT_LT(p.seq, (uint64_t)seq);
	ASSERT_EQ(1, drain(fd, recs, 8));
	EXPECT_EQ((uint64_t)seq, recs[0].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(st0.published + 2, st.published);
	EXPECT_EQ(2, st.delivered);
	EXPECT_EQ(0, st.lost);
	close(fd);
}

TEST(subscribe_and_stats_errors)
{
	struct evbus_stats st0, st;
	struct evbus_sub sb;
	void *bad = unmapped_addr();
	char pat[64];
	int ids[64];
	int fd = evt_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, evt_stats(fd, &st0));

	memset(&sb, 0, sizeof(sb));
	sb.pattern = (uintptr_t)bad;
	sb.pattern_len = 8;
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_SUBSCRIBE, &sb));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_UNCHANGED(fd, st0);
	EXPECT_EQ(-ENOENT, evt_unsub(fd, 1));
	EXPECT_EQ(-ENOENT, evt_unsub(fd, 0));

	for (int i = 0; i < 64; i++) {
		snprintf(pat, sizeof(pat), "ringt.subs.s%d", i);
		ids[i] = evt_sub(fd, pat);
		ASSERT_LT(0, ids[i]);
	}
	EXPECT_EQ(-ENOSPC, evt_sub(fd, "ringt.subs.extra"));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(64, st.subscriptions);
	/* The 65th did not subscribe. */
	ASSERT_LT(0, evt_pub(fd, "ringt.subs.extra", "no"));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(-ENOENT, evt_unsub(fd, ids[63] + 1000));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(64, st.subscriptions);
	/* Freeing one makes room again. */
	EXPECT_EQ(0, evt_unsub(fd, ids[5]));
	EXPECT_EQ(-ENOENT, evt_unsub(fd, ids[5]));
	EXPECT_LT(0, evt_sub(fd, "ringt.subs.extra"));
	EXPECT_EQ(-ENOSPC, evt_sub(fd, "ringt.subs.extra2"));
	ASSERT_LT(0, evt_pub(fd, "ringt.subs.extra", "yes"));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1, st.queued_events);
	EXPECT_EQ(64, st.subscriptions);

	/* STATS insists on zero flags and reserved words. */
	memset(&st, 0, sizeof(st));
	st.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_STATS, &st));
	EXPECT_EQ(EINVAL, errno);
	for (int i = 0; i < 4; i++) {
		memset(&st, 0, sizeof(st));
		st.reserved[i] = 1;
		EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_STATS, &st));
		EXPECT_EQ(EINVAL, errno);
	}
	close(fd);
}

TEST(null_ioctl_argument_is_efault)
{
	static const unsigned long cmds[] = {
		EVBUS_IOC_SUBSCRIBE, EVBUS_IOC_UNSUBSCRIBE, EVBUS_IOC_PUBLISH,
		EVBUS_IOC_PUBLISH_BATCH, EVBUS_IOC_SET_RING,
		EVBUS_IOC_GET_RING, EVBUS_IOC_STATS, EVBUS_IOC_VERSION,
	};
	struct evbus_stats st0;
	int fd = sub_fd("ringt.null.arg", 0, 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_stats(fd, &st0));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, cmds[i], NULL));
		EXPECT_EQ(EFAULT, errno) {
			TH_LOG("ioctl %#lx", cmds[i]);
		}
	}
	EXPECT_UNCHANGED(fd, st0);
	EXPECT_RING(fd, 131072, EVBUS_POLICY_DROP_OLDEST, 0);
	close(fd);
}

TEST(open_mode_checks_publish_and_subscribe)
{
	const char *t = "ringt.mode.chk";
	struct evbus_pub_batch b;
	struct evbus_pub p;
	struct evbus_stats st;
	char buf[512];
	int rd = open(EVBUS_DEV, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int wr = open(EVBUS_DEV, O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, rd);
	ASSERT_LE(0, wr);
	ASSERT_LT(0, evt_sub(rd, t));
	EXPECT_EQ(-EBADF, evt_pub(rd, t, "nope"));
	pub_init(&p, t, "x", 1);
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)&p;
	b.count = 1;
	EXPECT_EQ(-1, ioctl(rd, EVBUS_IOC_PUBLISH_BATCH, &b));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-EBADF, evt_sub(wr, t));
	EXPECT_EQ(-EBADF, evt_set_ring(wr, 4096, 0));
	ASSERT_EQ(0, evt_stats(rd, &st));
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(0, st.published);
	ASSERT_EQ(0, evt_stats(wr, &st));
	EXPECT_EQ(0, st.subscriptions);
	EXPECT_EQ(0, st.capacity);

	/* The write-only file publishes, the read-only one receives. */
	ASSERT_LT(0, evt_pub(wr, t, "yes"));
	EXPECT_EQ((ssize_t)rec_len(strlen(t), 3), read(rd, buf, sizeof(buf)));
	close(rd);
	close(wr);
}

/* ------------------------------------------------------ batch publish */

static int batch_raw(int fd, struct evbus_pub_batch *b)
{
	int r = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, b);

	return r < 0 ? -errno : r;
}

static void batch_init(struct evbus_pub_batch *b, struct evbus_pub *ev,
		       uint32_t count)
{
	memset(b, 0, sizeof(*b));
	b->events = (uintptr_t)ev;
	b->count = count;
	/* Poison the outputs: the kernel must write them all. */
	b->first_seq = ~0ULL;
	b->published = ~0u;
	b->error = 12345;
	b->error_index = ~0u;
}

TEST(batch_publish_all_good)
{
	const char *t = "ringt.batch.ok";
	struct evbus_pub_batch b;
	struct evbus_pub ev[5];
	struct evbus_stats st;
	struct rec recs[16];
	char pl[5][8];
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	for (int i = 0; i < 5; i++) {
		snprintf(pl[i], sizeof(pl[i]), "ev%d", i);
		pub_init(&ev[i], t, pl[i], strlen(pl[i]));
	}
	batch_init(&b, ev, 5);
	ASSERT_EQ(5, batch_raw(fd, &b));
	EXPECT_EQ(5, b.published);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(5, b.error_index);
	EXPECT_LT(0, b.first_seq);
	EXPECT_NE(~0ULL, b.first_seq);
	ASSERT_EQ(5, drain(fd, recs, 16));
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[i].kind);
		EXPECT_EQ(b.first_seq + i, recs[i].seq);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(5, st.published);
	close(fd);
}

/* Publish a 5-event batch whose event 'bad' is broken by 'breakit'. */
static void batch_partial(struct __test_metadata *_metadata, const char *t,
			  int bad, int expect_err, void (*breakit)(struct evbus_pub *))
{
	static char big[65537];
	struct evbus_pub_batch b;
	struct evbus_pub ev[5];
	struct evbus_stats st;
	struct rec recs[16];
	int fd = sub_fd(t, 0, 0);
	int n, ret;

	ASSERT_LE(0, fd);
	for (int i = 0; i < 5; i++)
		pub_init(&ev[i], t, big, 8);
	breakit(&ev[bad]);
	batch_init(&b, ev, 5);
	ret = batch_raw(fd, &b);
	if (bad == 0) {
		EXPECT_EQ(expect_err, ret);
		EXPECT_EQ(0, b.first_seq);
	} else {
		EXPECT_EQ(bad, ret);
		EXPECT_LT(0, b.first_seq);
		EXPECT_NE(~0ULL, b.first_seq);
	}
	EXPECT_EQ(bad, b.published);
	EXPECT_EQ(expect_err, b.error);
	EXPECT_EQ(bad, b.error_index);
	n = drain(fd, recs, 16);
	ASSERT_EQ(bad, n);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(EVBUS_REC_EVENT, recs[i].kind);
		EXPECT_EQ(b.first_seq + i, recs[i].seq);
	}
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(bad, st.published);
	EXPECT_EQ(0, st.lost);
	close(fd);
}

static void break_topic(struct evbus_pub *p)
{
	p->topic = (uintptr_t)"ringt..bad";
	p->topic_len = strlen("ringt..bad");
}

static void break_size(struct evbus_pub *p)
{
	p->payload_len = 65537;
}

static void break_fault(struct evbus_pub *p)
{
	p->payload = (uintptr_t)unmapped_addr();
}

static void break_flags(struct evbus_pub *p)
{
	p->flags = 1U << 31;	/* bit 0 is EVBUS_PUB_RETAIN */
}

TEST(batch_stops_at_bad_topic)
{
	batch_partial(_metadata, "ringt.batch.bt", 3, -EINVAL, break_topic);
}

TEST(batch_first_event_bad_publishes_nothing)
{
	batch_partial(_metadata, "ringt.batch.first", 0, -EINVAL, break_topic);
}

TEST(batch_stops_at_oversized_payload)
{
	batch_partial(_metadata, "ringt.batch.big", 2, -EMSGSIZE, break_size);
}

TEST(batch_stops_at_bad_payload_pointer)
{
	batch_partial(_metadata, "ringt.batch.fault", 4, -EFAULT, break_fault);
}

TEST(batch_stops_at_nonzero_event_flags)
{
	batch_partial(_metadata, "ringt.batch.flags", 1, -EINVAL, break_flags);
}

TEST(batch_header_errors)
{
	const char *t = "ringt.batch.hdr";
	static struct evbus_pub ev[1025];
	struct evbus_pub_batch b;
	struct evbus_stats st;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	for (int i = 0; i < 1025; i++)
		pub_init(&ev[i], t, "x", 1);
	batch_init(&b, ev, 0);
	EXPECT_EQ(-EINVAL, batch_raw(fd, &b));
	batch_init(&b, ev, 1025);
	EXPECT_EQ(-EINVAL, batch_raw(fd, &b));
	batch_init(&b, ev, 5);
	b.flags = 2;		/* unknown */
	EXPECT_EQ(-EINVAL, batch_raw(fd, &b));
	batch_init(&b, ev, 5);
	b.reserved32 = 1;
	EXPECT_EQ(-EINVAL, batch_raw(fd, &b));
	for (int i = 0; i < 2; i++) {
		batch_init(&b, ev, 5);
		b.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, batch_raw(fd, &b));
	}
	batch_init(&b, NULL, 5);
	EXPECT_EQ(-EFAULT, batch_raw(fd, &b));
	batch_init(&b, unmapped_addr(), 5);
	EXPECT_EQ(-EFAULT, batch_raw(fd, &b));
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.published);
	EXPECT_EQ(0, st.queued_events);

	/* The largest batch goes out whole. */
	batch_init(&b, ev, 1024);
	EXPECT_EQ(1024, batch_raw(fd, &b));
	EXPECT_EQ(1024, b.published);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(1024, b.error_index);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(1024, st.published);
	EXPECT_EQ(1024, st.queued_events);
	EXPECT_EQ(0, st.lost);
	close(fd);
}

/* ------------------------------------------- cross-process conservation */

#define CONS_PUBS	3
#define CONS_EVENTS	1500
#define CONS_SUBS	4
#define CONS_MAXREC	(2 * CONS_PUBS * CONS_EVENTS + 16)

struct cons_sub_cfg {
	const char *pattern;
	uint32_t size;
	uint32_t policy;
};

static const struct cons_sub_cfg cons_cfg[CONS_SUBS] = {
	{ "cons.>",	4096,	EVBUS_POLICY_DROP_OLDEST },
	{ "cons.*.0",	8192,	EVBUS_POLICY_DROP_NEWEST },
	{ "cons.1.>",	0,	EVBUS_POLICY_DROP_OLDEST },	/* default size */
	{ "cons.2.1",	4096,	EVBUS_POLICY_DROP_NEWEST },
};

static bool cons_match(int sub, int p, int k)
{
	switch (sub) {
	case 0: return true;
	case 1: return k % 3 == 0;
	case 2: return p == 1;
	case 3: return p == 2 && k % 3 == 1;
	}
	return false;
}

struct cons_shared {
	int ready;			/* subscribers subscribed */
	int go;				/* publishers may start */
	int done;			/* publishers finished */
	int64_t pub_seq[CONS_PUBS][CONS_EVENTS];	/* 0: not published */
	struct {
		int n;
		int err;
		struct evbus_stats st;
		struct rec recs[CONS_MAXREC];
	} sub[CONS_SUBS];
};

static int load_int(int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void cons_publisher(struct cons_shared *sh, int p)
{
	char topic[32];
	char payload[32];
	int fd = evt_open();

	if (fd < 0)
		_exit(1);
	while (!load_int(&sh->go))
		usleep(1000);
	memset(payload, 'a' + p, sizeof(payload));
	for (int k = 0; k < CONS_EVENTS; k++) {
		int64_t seq;

		snprintf(topic, sizeof(topic), "cons.%d.%d", p, k % 3);
		seq = evt_pub_full(fd, topic, payload, 8 + k % 24, k, p, 0);
		if (seq <= 0)
			_exit(2);
		sh->pub_seq[p][k] = seq;
	}
	close(fd);
	_exit(0);
}

static void cons_subscriber(struct cons_shared *sh, int i)
{
	static char buf[1024];
	const struct cons_sub_cfg *c = &cons_cfg[i];
	struct pollfd pfd;
	int fd = evt_open_nb();
	int reads = 0, n = 0;

	alarm(100);	/* hang guard */
	if (fd < 0 || evt_set_ring(fd, c->size, c->policy) ||
	    evt_sub(fd, c->pattern) <= 0)
		_exit(1);
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_RELEASE);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		/* Read only after the publishers are done, then drain. */
		int done = load_int(&sh->done);
		ssize_t r = read(fd, buf, sizeof(buf));
		int k;

		if (r < 0) {
			if (errno != EAGAIN)
				_exit(3);
			if (done)
				break;
			poll(&pfd, 1, 10);
			continue;
		}
		k = parse_recs(buf, r, sh->sub[i].recs + n, CONS_MAXREC - n);
		if (k <= 0)
			_exit(4);
		n += k;
		/* Fall behind now and then so the ring overflows. */
		if (++reads % (4 + i) == 0)
			usleep(2000);
	}
	sh->sub[i].n = n;
	if (evt_stats(fd, &sh->sub[i].st))
		_exit(5);
	close(fd);
	_exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Matching seqs in [lo, hi]; set is sorted. */
static size_t count_in(const uint64_t *set, size_t n, uint64_t lo, uint64_t hi)
{
	size_t c = 0;

	for (size_t j = 0; j < n; j++)
		c += set[j] >= lo && set[j] <= hi;
	return c;
}

FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, conservation_across_processes, 120)
{
	struct cons_shared *sh;
	pid_t subs[CONS_SUBS], pubs[CONS_PUBS];
	static uint64_t set[CONS_PUBS * CONS_EVENTS];
	uint64_t total_lost = 0;
	int status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);

	for (int i = 0; i < CONS_SUBS; i++) {
		subs[i] = fork();
		ASSERT_LE(0, subs[i]);
		if (!subs[i])
			cons_subscriber(sh, i);
	}
	for (int tries = 0; load_int(&sh->ready) < CONS_SUBS; tries++) {
		ASSERT_LT(tries, 10000);
		usleep(1000);
	}
	for (int p = 0; p < CONS_PUBS; p++) {
		pubs[p] = fork();
		ASSERT_LE(0, pubs[p]);
		if (!pubs[p])
			cons_publisher(sh, p);
	}
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (int p = 0; p < CONS_PUBS; p++) {
		ASSERT_EQ(pubs[p], waitpid(pubs[p], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			TH_LOG("publisher %d status %#x", p, status);
		}
	}
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < CONS_SUBS; i++) {
		ASSERT_EQ(subs[i], waitpid(subs[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			TH_LOG("subscriber %d status %#x", i, status);
		}
	}

	for (int i = 0; i < CONS_SUBS; i++) {
		struct rec *r = sh->sub[i].recs;
		uint64_t prev = 0, lost = 0, delivered = 0, lags = 0;
		uint64_t pending_lag_last = 0;
		size_t nset = 0;

		for (int p = 0; p < CONS_PUBS; p++)
			for (int k = 0; k < CONS_EVENTS; k++)
				if (cons_match(i, p, k))
					set[nset++] = sh->pub_seq[p][k];
		qsort(set, nset, sizeof(set[0]), cmp_u64);

		for (int j = 0; j < sh->sub[i].n; j++) {
			if (r[j].kind == EVBUS_REC_EVENT) {
				/* Strictly increasing (so no duplicates)... */
				ASSERT_LT(prev, r[j].seq) {
					TH_LOG("sub %d rec %d: seq %llu after %llu", i, j,
					       (unsigned long long)r[j].seq,
					       (unsigned long long)prev);
				}
				/* ...after any gap reported before it... */
				ASSERT_LT(pending_lag_last, r[j].seq);
				/* ...and one this subscriber matches. */
				ASSERT_NE(NULL, bsearch(&r[j].seq, set, nset,
							sizeof(set[0]), cmp_u64)) {
					TH_LOG("sub %d: unexpected seq %llu", i,
					       (unsigned long long)r[j].seq);
				}
				prev = r[j].seq;
				delivered++;
			} else {
				ASSERT_EQ(EVBUS_REC_LAGGED, r[j].kind);
				ASSERT_LE(1, r[j].lost);
				ASSERT_LE(r[j].first, r[j].last);
				/* The gap lies after everything delivered. */
				ASSERT_LT(prev, r[j].first) {
					TH_LOG("sub %d rec %d: lag %llu..%llu after seq %llu",
					       i, j, (unsigned long long)r[j].first,
					       (unsigned long long)r[j].last,
					       (unsigned long long)prev);
				}
				ASSERT_LT(pending_lag_last, r[j].first);
				ASSERT_NE(NULL, bsearch(&r[j].first, set, nset,
							sizeof(set[0]), cmp_u64));
				ASSERT_NE(NULL, bsearch(&r[j].last, set, nset,
							sizeof(set[0]), cmp_u64));
				/* Exactly the matching events in the range. */
				ASSERT_EQ(count_in(set, nset, r[j].first, r[j].last),
					  r[j].lost) {
					TH_LOG("sub %d rec %d: lag %llu..%llu lost %llu",
					       i, j, (unsigned long long)r[j].first,
					       (unsigned long long)r[j].last,
					       (unsigned long long)r[j].lost);
				}
				pending_lag_last = r[j].last;
				lost += r[j].lost;
				lags++;
			}
		}
		TH_LOG("sub %d (%s): matching %zu delivered %llu lost %llu in %llu lag records",
		       i, cons_cfg[i].pattern, nset, (unsigned long long)delivered,
		       (unsigned long long)lost, (unsigned long long)lags);
		EXPECT_EQ(nset, delivered + lost);
		EXPECT_EQ(delivered, sh->sub[i].st.delivered);
		EXPECT_EQ(lost, sh->sub[i].st.lost);
		EXPECT_EQ(lags, sh->sub[i].st.lag_records);
		EXPECT_EQ(0, sh->sub[i].st.queued_events);
		EXPECT_EQ(0, sh->sub[i].st.queued_bytes);
		total_lost += lost;
	}
	/* The slow readers of small rings must actually have lost events. */
	EXPECT_LT(0, total_lost);
	munmap(sh, sizeof(*sh));
}

/* ---------------------------------------------------------------- leaks */

static long long meminfo_kb(const char *key)
{
	char line[256];
	long long v = -1;
	size_t kl = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static const char *const gauges[] = {
	"open_files", "subscriptions", "ring_bytes", "queued_events",
	"queued_bytes",
};
#define NGAUGES (sizeof(gauges) / sizeof(gauges[0]))

TEST_F_TIMEOUT(slow, open_sub_pub_read_close_cycles_do_not_leak, 120)
{
	long long g0[NGAUGES], sunrec0, slab0, avail0;
	long long sunrec1, slab1, avail1;
	char buf[4096];

	for (size_t g = 0; g < NGAUGES; g++) {
		g0[g] = sysfs_stat(gauges[g]);
		ASSERT_NE(LLONG_MIN, g0[g]);
	}
	sunrec0 = meminfo_kb("SUnreclaim");
	slab0 = meminfo_kb("Slab");
	avail0 = meminfo_kb("MemAvailable");
	ASSERT_LT(0, sunrec0);

	for (int i = 0; i < 1000; i++) {
		char topic[48];
		int fd = evt_open_nb();

		ASSERT_LE(0, fd);
		snprintf(topic, sizeof(topic), "ringt.leak.c%d", i % 7);
		if (i % 10 == 0)
			ASSERT_EQ(0, evt_set_ring(fd, 4096, i % 20 ? 0 : 1));
		ASSERT_LT(0, evt_sub(fd, topic));
		ASSERT_LT(0, evt_sub(fd, "ringt.leak.>"));
		ASSERT_LT(0, evt_pub(fd, topic, "leak check payload"));
		ASSERT_LT(0, evt_pub(fd, topic, "leak check payload 2"));
		/* Leave the second event queued every other cycle. */
		ASSERT_LT(0, read(fd, buf, i % 2 ? rec_len(strlen(topic), 18) : sizeof(buf)));
		ASSERT_EQ(0, close(fd));
	}

	for (size_t g = 0; g < NGAUGES; g++) {
		long long now = sysfs_stat(gauges[g]);

		EXPECT_EQ(g0[g], now) {
			TH_LOG("gauge %s: %lld -> %lld", gauges[g], g0[g], now);
		}
	}
	/* Let RCU-freed objects go before measuring. */
	usleep(200 * 1000);
	sunrec1 = meminfo_kb("SUnreclaim");
	slab1 = meminfo_kb("Slab");
	avail1 = meminfo_kb("MemAvailable");
	TH_LOG("SUnreclaim %lld -> %lld kB, Slab %lld -> %lld kB, MemAvailable %lld -> %lld kB",
	       sunrec0, sunrec1, slab0, slab1, avail0, avail1);
	/*
	 * 1000 leaked files would be over 2 MiB of slab.  Under KASAN the
	 * quarantine keeps freed objects counted in slab for a while, so the
	 * debug kernel gets more slack: kmemleak is the judge there, scanned
	 * after the whole suite (tests/kmemleak-check).
	 */
	long long slack = access("/sys/kernel/debug/kmemleak", F_OK) ? 2048 : 16384;

	EXPECT_GT(slack, sunrec1 - sunrec0);
	EXPECT_GT(slack, slab1 - slab0);
	/* 1000 leaked 128 KiB rings would be ~125 MiB. */
	EXPECT_GT(32 * 1024, avail0 - avail1);
}

TEST(batch_seq_flag_writes_back_each_seq)
{
	const char *t = "ringt.batch.seqs";
	struct evbus_pub_batch b;
	struct evbus_pub *ev;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	ev = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ev);
	for (int i = 0; i < 8; i++) {
		pub_init(&ev[i], t, "s", 1);
		ev[i].seq = 0xcccccccccccccccc;
	}
	/* Without the flag the descriptors are left alone. */
	batch_init(&b, ev, 4);
	ASSERT_EQ(4, batch_raw(fd, &b));
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0xcccccccccccccccc, ev[i].seq);

	batch_init(&b, ev, 4);
	b.flags = EVBUS_BATCH_SEQ;
	ASSERT_EQ(4, batch_raw(fd, &b));
	EXPECT_EQ(b.first_seq, ev[0].seq);
	for (int i = 1; i < 4; i++)
		EXPECT_LT(ev[i - 1].seq, ev[i].seq);

	/* A read-only descriptor is not published: the batch stops before it. */
	ASSERT_EQ(0, mprotect(ev, 4096, PROT_READ));
	batch_init(&b, ev, 4);
	b.flags = EVBUS_BATCH_SEQ;
	EXPECT_EQ(-EFAULT, batch_raw(fd, &b));
	EXPECT_EQ(0, b.published);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(0, b.error_index);
	munmap(ev, 4096);
	close(fd);
}

TEST(batch_seq_flag_stops_at_the_first_unwritable_descriptor)
{
	const char *t = "ringt.batch.seqro";
	struct evbus_pub_batch b;
	struct evbus_pub *ev;
	struct evbus_stats st;
	char *map;
	int fd = sub_fd(t, 0, 0);

	ASSERT_LE(0, fd);
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* ev[0] and ev[1] end the writable page, ev[2..] are read-only. */
	ev = (struct evbus_pub *)(map + 4096 - 2 * sizeof(*ev));
	for (int i = 0; i < 5; i++)
		pub_init(&ev[i], t, "r", 1);
	ASSERT_EQ(0, mprotect(map + 4096, 4096, PROT_READ));
	batch_init(&b, ev, 5);
	b.flags = EVBUS_BATCH_SEQ;
	EXPECT_EQ(2, batch_raw(fd, &b));
	EXPECT_EQ(2, b.published);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(2, b.error_index);
	EXPECT_EQ(b.first_seq, ev[0].seq);
	EXPECT_LT(ev[0].seq, ev[1].seq);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(2, st.published);
	EXPECT_EQ(2, st.queued_events);
	munmap(map, 8192);
	close(fd);
}

TEST_HARNESS_MAIN
