// SPDX-License-Identifier: GPL-2.0
/*
 * Teardown races: closing a file other threads are blocked on, killing a
 * publisher in the middle of batches, and unloading and reloading the
 * module between bursts of traffic.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

static long long stat_num(const char *name)
{
	char path[128], buf[64] = {};
	long long v = -1;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtoll(buf, NULL, 10);
	close(fd);
	return v;
}

struct blocked {
	int fd;
	int use_poll;
	ssize_t ret;
	int err;
	char buf[4096];
};

static void *block_on(void *arg)
{
	struct blocked *b = arg;

	if (b->use_poll) {
		struct pollfd p = { .fd = b->fd, .events = POLLIN };

		b->ret = poll(&p, 1, 20000);
		b->err = errno;
		/* Woken after the close, poll finds the fd gone: POLLNVAL. */
		if (b->ret == 1 && !(p.revents & (POLLIN | POLLNVAL)))
			b->ret = -2;
		return NULL;
	}
	b->ret = read(b->fd, b->buf, sizeof(b->buf));
	b->err = errno;
	return NULL;
}

/* Wait until the thread sleeps in the kernel (state S in /proc). */
static void wait_sleeping(pthread_t t, pid_t tid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 400; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		char *p;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = 0;
			p = strrchr(buf, ')');
			if (p && p[2] == 'S')
				return;
		}
		usleep(5000);
	}
	(void)t;
}

struct tid_arg {
	struct blocked *b;
	pid_t tid;
};

static void *block_on_tid(void *arg)
{
	struct tid_arg *ta = arg;

	__atomic_store_n(&ta->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	return block_on(ta->b);
}

static void close_while_blocked(struct __test_metadata *_metadata, int use_poll)
{
	const char *topic = use_poll ? "teardown.poll" : "teardown.read";
	long long files = stat_num("open_files");
	struct blocked b = { .use_poll = use_poll };
	struct tid_arg ta = { .b = &b };
	pthread_t t;
	int pub = evt_open();

	ASSERT_LE(0, pub);
	b.fd = evt_open();
	ASSERT_LE(0, b.fd);
	ASSERT_LT(0, evt_sub(b.fd, topic));
	ASSERT_EQ(0, pthread_create(&t, NULL, block_on_tid, &ta));
	while (!__atomic_load_n(&ta.tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	wait_sleeping(t, ta.tid);

	/* The blocked thread keeps the file alive; close only drops the fd. */
	EXPECT_EQ(0, close(b.fd));
	EXPECT_EQ(files + 2, stat_num("open_files"));
	ASSERT_LT(0, evt_pub(pub, topic, "wake"));
	ASSERT_EQ(0, pthread_join(t, NULL));
	if (use_poll) {
		EXPECT_EQ(1, b.ret);
	} else {
		EXPECT_EQ(80 + 16 + 8, b.ret);
	}
	/* The last reference is gone: the file was released. */
	EXPECT_EQ(files + 1, stat_num("open_files"));
	close(pub);
	EXPECT_EQ(files, stat_num("open_files"));
}

TEST(close_while_another_thread_is_blocked_in_read)
{
	close_while_blocked(_metadata, 0);
}

TEST(close_while_another_thread_is_blocked_in_poll)
{
	close_while_blocked(_metadata, 1);
}

TEST(close_a_file_still_registered_with_epoll)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = evt_open(), pub = evt_open();

	ASSERT_LE(0, ep);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, evt_sub(fd, "teardown.epoll"));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_LT(0, evt_pub(pub, "teardown.epoll", "x"));
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, 1000));
	EXPECT_EQ(0, close(fd));
	/* The release removed the epoll item: nothing left to report. */
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 10));
	close(ep);
	close(pub);
}

/*
 * Publishers SIGKILLed in the middle of 256-event batches: every event a
 * subscriber sees is whole, in order, and nothing is unaccounted.
 */
TEST(publisher_killed_mid_batch_leaves_no_half_event)
{
	static struct evbus_pub ev[256];
	static char payload[256][200];
	long long queued = stat_num("queued_events");
	uint64_t last = 0, got = 0, lost = 0;
	static char buf[1 << 16];
	int sub = evt_open_nb();

	ASSERT_LE(0, sub);
	ASSERT_EQ(0, evt_set_ring(sub, 1 << 20, 0));
	ASSERT_LT(0, evt_sub(sub, "teardown.kill.>"));
	for (int round = 0; round < 6; round++) {
		pid_t pid = fork();
		int status;

		ASSERT_LE(0, pid);
		if (!pid) {
			int fd = evt_open();
			struct evbus_pub_batch b;

			for (int i = 0; i < 256; i++) {
				memset(payload[i], 'a' + i % 26, sizeof(payload[i]));
				memset(&ev[i], 0, sizeof(ev[i]));
				ev[i].topic = (uintptr_t)"teardown.kill.x";
				ev[i].topic_len = strlen("teardown.kill.x");
				ev[i].payload = (uintptr_t)payload[i];
				ev[i].payload_len = sizeof(payload[i]);
				ev[i].type = i;
			}
			for (;;) {
				memset(&b, 0, sizeof(b));
				b.events = (uintptr_t)ev;
				b.count = 256;
				ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
			}
		}
		usleep(20000 + round * 15000);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status));

		for (;;) {
			ssize_t n = read(sub, buf, sizeof(buf)), left;
			struct evbus_rec_hdr *h;

			if (n < 0) {
				ASSERT_EQ(EAGAIN, errno);
				break;
			}
			evt_for_each_rec(h, buf, n, left) {
				if (h->kind == EVBUS_REC_LAGGED) {
					struct evbus_lagged *lg = (void *)h;

					EXPECT_LT(last, lg->first_seq);
					lost += lg->lost;
					last = lg->last_seq;
					continue;
				}
				struct evbus_event *e = (void *)h;
				const char *p = EVBUS_EVENT_PAYLOAD(e);

				EXPECT_LT(last, e->seq);
				last = e->seq;
				ASSERT_EQ(200, e->payload_len);
				for (int k = 0; k < 200; k++)
					ASSERT_EQ('a' + e->type % 26, p[k]);
				got++;
			}
		}
	}
	EXPECT_LT(0, got);
	EXPECT_EQ(queued, stat_num("queued_events"));
	TH_LOG("%llu events whole, %llu reported lost", (unsigned long long)got,
	       (unsigned long long)lost);
	close(sub);
}

static int module_reload(void)
{
	const char *ko = getenv("EVBUS_KO");
	int fd, ret;

	if (syscall(__NR_delete_module, "evbus", O_NONBLOCK))
		return -errno;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

TEST(rmmod_insmod_loop_with_traffic)
{
	char buf[4096];

	if (!getenv("EVBUS_KO"))
		SKIP(return, "EVBUS_KO not set: cannot reload the module");
	for (int i = 0; i < 5; i++) {
		int a = evt_open_nb(), b = evt_open(), busy;

		ASSERT_LE(0, a);
		ASSERT_LE(0, b);
		ASSERT_LT(0, evt_sub(a, "teardown.reload.>"));
		for (int k = 0; k < 50; k++)
			ASSERT_LT(0, evt_pub(b, "teardown.reload.x", "payload"));
		/* Unload is refused while traffic is in flight... */
		busy = module_reload();
		EXPECT_TRUE(busy == -EWOULDBLOCK || busy == -EBUSY);
		EXPECT_LT(0, read(a, buf, sizeof(buf)));
		close(a);	/* ...queued events go with the file */
		close(b);
		ASSERT_EQ(0, module_reload());
		EXPECT_EQ(0, stat_num("open_files"));
		EXPECT_EQ(0, stat_num("published"));
	}
}

TEST_HARNESS_MAIN
