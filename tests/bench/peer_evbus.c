// SPDX-License-Identifier: GPL-2.0
/*
 * The evbus peer of the fan-out benchmark.
 *
 * Publisher: EVBUS_IOC_PUBLISH per event (--batch 1) or one
 * EVBUS_IOC_PUBLISH_BATCH per batch on its own /dev/evbus file; with
 * --uring the same through io_uring IORING_OP_URING_CMD (EVBUS_URING_PUBLISH
 * or EVBUS_URING_PUBLISH_BATCH), one SQE and one io_uring_enter (submit and
 * wait) per call.
 * Subscribers: one file each, a --ring byte ring (DROP_OLDEST; with
 * --wake-events/--wake-delay-us also EVBUS_RING_WAKE), subscribed to
 * BENCH_TOPIC, read() in RDBUF chunks; LAGGED records are loss notices.
 * Others (--k): K more files held by a process of their own, 4 KiB rings,
 * subscribed to "other.<i>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <liburing.h>

#include "bench.h"
#include "evbus_test.h"

#define RDBUF		(256 * 1024)

struct evbus_sub_ctx {
	int fd;
	size_t left;			/* bytes of records not yet returned */
	struct evbus_rec_hdr *cur;	/* the next of them */
	char *buf;
};

static int pub_fd = -1;
static pid_t holder = -1;	/* holds the K others */
static int holder_fd = -1;
static struct evbus_pub pubs[BENCH_MAX_BATCH];
static struct io_uring uring;
static int uring_ready;

/* Best effort: raise an evbus module parameter to at least val. */
static void raise_param(const char *name, unsigned long val)
{
	char path[128];
	unsigned long cur = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/evbus/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%lu", &cur) != 1)
		cur = 0;
	fclose(f);
	if (cur >= val)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%lu", val);
	if (fclose(f))
		fprintf(stderr, "fanout: cannot raise %s to %lu\n", name, val);
}

static int evbus_setup(unsigned int m)
{
	raise_param("max_user_files", opt.k + m + 64);
	raise_param("max_user_ring_bytes",
		    (unsigned long)m * opt.ring + opt.k * 4096ul + (64ul << 20));
	raise_param("ring_max", opt.ring);
	return 0;
}

/* --ring, DROP_OLDEST, and wake-up coalescing when asked for. */
static int set_ring(int fd)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.size = opt.ring;
	c.policy = EVBUS_POLICY_DROP_OLDEST;
	if (opt.wake_events || opt.wake_delay_ns) {
		c.flags = EVBUS_RING_WAKE;
		c.wake_events = opt.wake_events;
		c.wake_delay_ns = opt.wake_delay_ns;
	}
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

static void *evbus_sub_open(unsigned int i)
{
	struct evbus_sub_ctx *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return NULL;
	c->buf = aligned_alloc(8, RDBUF);
	c->fd = evt_open();
	if (!c->buf || c->fd < 0)
		return NULL;
	ret = set_ring(c->fd);
	if (ret) {
		fprintf(stderr, "fanout: evbus: SET_RING: %s\n", strerror(-ret));
		errno = -ret;
		return NULL;
	}
	ret = evt_sub(c->fd, BENCH_TOPIC);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return c;
}

/* Turn the records left in c's buffer into rx items. */
static int evbus_parse(struct evbus_sub_ctx *c, struct bench_rx *rx,
		       unsigned int max)
{
	unsigned int n = 0;

	while (n < max && EVBUS_REC_OK(c->cur, c->left)) {
		struct evbus_rec_hdr *h = c->cur;

		if (h->kind == EVBUS_REC_EVENT) {
			struct evbus_event *ev = (struct evbus_event *)h;

			rx[n].payload = EVBUS_EVENT_PAYLOAD(ev);
			rx[n].len = ev->payload_len;
			rx[n].lost = 0;
			n++;
		} else if (h->kind == EVBUS_REC_LAGGED) {
			rx[n].payload = NULL;
			rx[n].len = 0;
			rx[n].lost = ((struct evbus_lagged *)h)->lost;
			n++;
		}
		c->cur = EVBUS_REC_NEXT(h, c->left);
	}
	if (n < max && c->left)
		return -EPROTO;	/* read() returns whole records only */
	return n;
}

static int evbus_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			  uint64_t *calls)
{
	struct evbus_sub_ctx *c = ctx;

	for (;;) {
		ssize_t got;
		int n = evbus_parse(c, rx, max);

		if (n)
			return n;
		got = read(c->fd, c->buf, RDBUF);
		++*calls;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return 0;
		c->cur = (struct evbus_rec_hdr *)c->buf;
		c->left = got;
	}
}

/* In the holder process: open and subscribe the k others. */
static int open_others(unsigned int k)
{
	char pat[32];
	int fd, ret;

	for (unsigned int i = 0; i < k; i++) {
		fd = evt_open();
		if (fd < 0)
			return -errno;
		ret = evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_OLDEST);
		if (ret)
			return ret;
		snprintf(pat, sizeof(pat), "other.%u", i);
		ret = evt_sub(fd, pat);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * The K others are held by a process of their own, as other subscribers
 * would be: opening thousands of files in the publisher would charge that
 * work to its scheduler vruntime, and on one CPU that alone changes how
 * often the matching subscriber preempts it (2.0 instead of 1.5 context
 * switches per event, +13% publisher CPU at K = 4096 with nothing evbus
 * does per event changing).  The holder reports 0 or -errno, then waits
 * for teardown to close its socket.
 */
static int evbus_add_others(unsigned int k)
{
	int ctl[2], ret = -EPIPE;

	if (!k)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl))
		return -errno;
	holder = fork();
	if (holder < 0) {
		ret = -errno;
		close(ctl[0]);
		close(ctl[1]);
		return ret;
	}
	if (!holder) {
		char c;

		signal(SIGCHLD, SIG_DFL);
		/*
		 * Hold nothing of the harness's: a copy of its pipes would
		 * keep the subscribers waiting for EOF.
		 */
		if (ctl[1] > 3)
			close_range(3, ctl[1] - 1, 0);
		close_range(ctl[1] + 1, ~0U, 0);
		ret = open_others(k);
		if (write(ctl[1], &ret, sizeof(ret)) != sizeof(ret) || ret)
			_exit(1);
		/* Until the parent closes its end (or dies). */
		while (read(ctl[1], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ctl[1]);
	holder_fd = ctl[0];
	if (read(holder_fd, &ret, sizeof(ret)) != sizeof(ret))
		ret = -EPIPE;
	return ret;
}

static int evbus_pub_open(void)
{
	int ret;

	pub_fd = evt_open();
	if (pub_fd < 0)
		return -errno;
	for (unsigned int i = 0; i < BENCH_MAX_BATCH; i++) {
		memset(&pubs[i], 0, sizeof(pubs[i]));
		pubs[i].topic = (uintptr_t)BENCH_TOPIC;
		pubs[i].topic_len = strlen(BENCH_TOPIC);
		pubs[i].payload_len = opt.size;
	}
	if (!opt.uring)
		return 0;
	ret = io_uring_queue_init(8, &uring, 0);
	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "fanout: evbus: io_uring: %s\n", strerror(-ret));
		return -EOPNOTSUPP;
	}
	if (ret)
		return ret;
	uring_ready = 1;
	return 0;
}

/* One IORING_OP_URING_CMD, submitted and reaped: its res, or -errno. */
static int uring_cmd(uint32_t op, void *arg, uint64_t *calls)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);
	struct evbus_uring_cmd cmd;
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	memset(&cmd, 0, sizeof(cmd));
	cmd.arg = (uintptr_t)arg;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = pub_fd;
	sqe->cmd_op = op;
	/* The 16-byte command area at offset 48 (cmd[] is zero-length). */
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), &cmd,
	       sizeof(cmd));
	do {
		ret = io_uring_submit_and_wait(&uring, 1);
		++*calls;
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	/* The command completes inline: the CQE is normally there already. */
	while (io_uring_peek_cqe(&uring, &cqe)) {
		ret = io_uring_wait_cqe(&uring, &cqe);
		++*calls;
		if (ret && ret != -EINTR)
			return ret;
	}
	ret = cqe->res;
	io_uring_cqe_seen(&uring, cqe);
	return ret;
}

static int publish_one(uint64_t *calls)
{
	if (opt.uring)
		return uring_cmd(EVBUS_URING_PUBLISH, &pubs[0], calls);
	for (;;) {
		int ret = ioctl(pub_fd, EVBUS_IOC_PUBLISH, &pubs[0]);

		++*calls;
		if (!ret)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int publish_batch(unsigned int count, uint64_t *calls)
{
	struct evbus_pub_batch b;
	unsigned int done = 0;
	int ret;

	while (done < count) {
		memset(&b, 0, sizeof(b));
		b.events = (uintptr_t)&pubs[done];
		b.count = count - done;
		if (opt.uring) {
			ret = uring_cmd(EVBUS_URING_PUBLISH_BATCH, &b, calls);
			if (ret < 0)
				return ret;
			if (!b.published)
				return -EIO;
			done += b.published;
			continue;
		}
		ret = ioctl(pub_fd, EVBUS_IOC_PUBLISH_BATCH, &b);
		++*calls;
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += ret;
	}
	return 0;
}

static int evbus_publish(void *const *payload, unsigned int count,
			 uint64_t *calls)
{
	for (unsigned int i = 0; i < count; i++)
		pubs[i].payload = (uintptr_t)payload[i];
	if (opt.batch == 1)
		return publish_one(calls);
	return publish_batch(count, calls);
}

static void evbus_teardown(void)
{
	if (holder > 0) {
		close(holder_fd);
		while (waitpid(holder, NULL, 0) < 0 && errno == EINTR)
			;
		holder = -1;
		holder_fd = -1;
	}
	if (uring_ready)
		io_uring_queue_exit(&uring);
	uring_ready = 0;
	if (pub_fd >= 0)
		close(pub_fd);
	pub_fd = -1;
}

const struct bench_peer peer_evbus = {
	.name = "evbus",
	.workloads = W_ALL,
	.setup = evbus_setup,
	.sub_open = evbus_sub_open,
	.sub_recv = evbus_sub_recv,
	.add_others = evbus_add_others,
	.pub_open = evbus_pub_open,
	.publish = evbus_publish,
	.teardown = evbus_teardown,
};
