// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring issues a command inline with IO_URING_F_NONBLOCK first.  An
 * evbus publish that would have to sleep before its first event goes out
 * (here: its payload sits in a page that is not resident yet) must return
 * -EAGAIN instead, so io_uring completes it from a worker thread; one that
 * can run without sleeping completes inline.  The event's tid says which
 * thread issued it, so the test can tell the two apart: inline, the
 * submitter's; from a worker, another thread of the same process.  Either
 * way the event goes out exactly once and no error is counted.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <liburing.h>

#include "lib_test.h"

#define STATS_DIR	"/sys/kernel/evbus/stats/"

static long long stat_num(const char *name)
{
	char path[128], buf[64] = {};
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), STATS_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 0);
	fclose(f);
	return v;
}

/* A raw URING_CMD publish of *p: the CQE's res, or a negative wait error. */
static int uring_publish(struct io_uring *ring, int fd, struct evbus_pub *p)
{
	struct evbus_uring_cmd c = { .arg = (uintptr_t)p };
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -ENOSPC;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = EVBUS_URING_PUBLISH;
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), &c, sizeof(c));
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_peek_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* Read the one event queued on fd into *ev (header only) and its payload. */
static int read_one(int fd, struct evbus_event *ev, char *payload, size_t len)
{
	static char buf[1 << 16];
	struct evbus_rec_hdr *h = (struct evbus_rec_hdr *)buf;
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	if (!EVBUS_REC_OK(h, (size_t)n) || h->kind != EVBUS_REC_EVENT ||
	    h->len != (size_t)n)
		return -EBADMSG;
	memcpy(ev, h, sizeof(*ev));
	if (ev->payload_len != len)
		return -EBADMSG;
	memcpy(payload, EVBUS_EVENT_PAYLOAD((struct evbus_event *)h), len);
	return 0;
}

static void fill_pub(struct evbus_pub *p, const char *topic, const void *data,
		     size_t len)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = strlen(topic);
	p->payload = (uintptr_t)data;
	p->payload_len = len;
}

TEST(publish_that_would_fault_completes_from_a_worker)
{
	long long errs = stat_num("ioctl_errors"), other = stat_num("publish_err_other");
	char topic[64], got[4096];
	struct io_uring ring;
	struct evbus_event ev;
	struct evbus_pub *p;
	struct evbus_sub s;
	char *resident, *cold;
	int fd;

	fd = open("/dev/evbus", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no /dev/evbus: load evbus.ko first");
	if (io_uring_queue_init(8, &ring, 0))
		SKIP(return, "no io_uring");
	lt_topic(topic, sizeof(topic), "nowait");
	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)topic;
	s.pattern_len = strlen(topic);
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_SUBSCRIBE, &s));

	/* The command's struct is resident; so is this payload: inline. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	resident = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, resident);
	memset(resident, 'r', 4096);
	fill_pub(p, topic, resident, 4096);
	ASSERT_EQ(0, uring_publish(&ring, fd, p));
	ASSERT_EQ(0, read_one(fd, &ev, got, 4096));
	EXPECT_EQ(getpid(), (pid_t)ev.pid);
	EXPECT_EQ(lt_gettid(), (pid_t)ev.tid);
	EXPECT_EQ(0, memcmp(got, resident, 4096));
	EXPECT_EQ(p->seq, ev.seq);

	/* A payload page never touched: the inline attempt would fault. */
	cold = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, cold);
	fill_pub(p, topic, cold, 4096);
	ASSERT_EQ(0, uring_publish(&ring, fd, p));
	ASSERT_EQ(0, read_one(fd, &ev, got, 4096));
	EXPECT_EQ(getpid(), (pid_t)ev.pid);
	EXPECT_NE(lt_gettid(), (pid_t)ev.tid);
	EXPECT_EQ(0, got[0]);
	EXPECT_EQ(0, got[4095]);
	EXPECT_EQ(p->seq, ev.seq);
	/* Exactly once: nothing else is queued. */
	EXPECT_EQ(-EAGAIN, read_one(fd, &ev, got, 4096));
	/* Going to a worker is not an error. */
	EXPECT_EQ(errs, stat_num("ioctl_errors"));
	EXPECT_EQ(other, stat_num("publish_err_other"));

	io_uring_queue_exit(&ring);
	munmap(cold, 4096);
	munmap(resident, 4096);
	munmap(p, 4096);
	close(fd);
}

TEST_HARNESS_MAIN
