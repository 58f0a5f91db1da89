// SPDX-License-Identifier: GPL-2.0
/*
 * The unix peer of the fan-out benchmark: a single-process broker.
 *
 * publisher --(unix stream socket)--> broker --(unix stream sockets)--> subs
 *
 * The publisher frames each batch (struct bench_frame messages back to
 * back) and writes it to the broker with one write().  The broker reads
 * chunks of up to RDBUF bytes, matches every complete message against its
 * table of (socket, topic) by string compare, and sends each table entry
 * its matching messages of the chunk with one writev().  All sockets get
 * --ring bytes of send and receive buffer (SO_*BUFFORCE, best effort).
 * Others (--k): K more sockets in the broker's table, topics "other.<i>",
 * peers closed (never written: they never match).
 *
 * The broker is forked in setup() (bench_broker_pid).  A control pipe from
 * the parent tells it k (add_others) and, when closed in teardown(), lets
 * it exit: after the publisher's EOF it closes the subscribers' sockets
 * (they see EOF) and waits for that, so the harness can read its CPU time
 * and context switches from /proc after the subscribers exited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "bench.h"

#define RDBUF		(256 * 1024)

struct target {
	int fd;
	char topic[24];
};

/* Parent side. */
static int pub_fd = -1, ctl_fd = -1, ready_fd = -1;
static int *sub_fds;		/* subscribers' ends, until they are forked */
static unsigned int nsubs;
static char *msgs;
static size_t msg_len;

static void set_bufs(int fd)
{
	int sz = opt.ring;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int sock_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	set_bufs(sv[0]);
	set_bufs(sv[1]);
	return 0;
}

/* ------------------------------------------------------------------ broker */

struct broker {
	int in, ctl;
	struct target *t;
	unsigned int nt;
	struct iovec *iov;
	struct bench_broker_res *r;
};

static void broker_exit(struct broker *b)
{
	char c;

	/* Subscribers see EOF; stay alive (for /proc) until teardown(). */
	for (unsigned int i = 0; i < b->nt; i++)
		close(b->t[i].fd);
	for (;;) {
		ssize_t got = read(b->ctl, &c, 1);

		if (got == 0 || (got < 0 && errno != EINTR))
			break;
	}
	_exit(b->r->error ? 2 : 0);
}

/* The K subscribers to other topics: sockets nobody reads. */
static int broker_others(struct broker *b, unsigned int m, unsigned int k)
{
	struct target *t = realloc(b->t, (m + k) * sizeof(*t));
	int sv[2];

	if (!t)
		return -ENOMEM;
	b->t = t;
	for (; b->nt < m + k; b->nt++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		close(sv[1]);
		t[b->nt].fd = sv[0];
		snprintf(t[b->nt].topic, sizeof(t[b->nt].topic), "other.%u",
			 b->nt - m);
	}
	return 0;
}

/* writev() all of v[0..vn), retrying partial writes: 0 or -errno. */
static int writev_all(struct broker *b, int fd, struct iovec *v, int vn)
{
	size_t total = 0;

	for (int j = 0; j < vn; j++)
		total += v[j].iov_len;
	while (total) {
		ssize_t w = writev(fd, v, vn);

		b->r->syscalls++;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		total -= w;
		while (vn && (size_t)w >= v->iov_len) {
			w -= v->iov_len;
			v++;
			vn--;
		}
		if (vn) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= w;
		}
	}
	return 0;
}

/* Send target t the messages in buf[0..end) on its topic, in one writev. */
static int broker_forward(struct broker *b, struct target *t, char *buf,
			  size_t end)
{
	size_t tl = strlen(t->topic);
	struct iovec *iov = b->iov;
	int niov = 0;

	for (size_t off = 0; off < end;) {
		struct bench_frame *h = (struct bench_frame *)(buf + off);

		if (h->topic_len == tl && !memcmp(h + 1, t->topic, tl)) {
			/* Merge with the previous iovec when adjacent. */
			if (niov && (char *)iov[niov - 1].iov_base +
				    iov[niov - 1].iov_len == (char *)h) {
				iov[niov - 1].iov_len += h->len;
			} else {
				iov[niov].iov_base = h;
				iov[niov].iov_len = h->len;
				niov++;
			}
		}
		off += h->len;
		if (niov == IOV_MAX)
			break;	/* cannot happen: adjacent merge */
	}
	return niov ? writev_all(b, t->fd, iov, niov) : 0;
}

/* Read chunks from the publisher, forward whole messages, until EOF. */
static void broker_loop(struct broker *b)
{
	char *buf = aligned_alloc(8, RDBUF);
	size_t have = 0, end;
	ssize_t got;
	int ret;

	if (!buf) {
		b->r->error = ENOMEM;
		return;
	}
	for (;;) {
		got = read(b->in, buf + have, RDBUF - have);
		b->r->syscalls++;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			b->r->error = errno;
			return;
		}
		if (got == 0)
			return;
		have += got;
		/* Complete messages in [0, end). */
		for (end = 0; have - end >= sizeof(struct bench_frame);) {
			struct bench_frame *h = (struct bench_frame *)(buf + end);

			if (h->len < sizeof(*h) || h->len > RDBUF || (h->len & 7)) {
				b->r->error = EPROTO;
				return;
			}
			if (have - end < h->len)
				break;
			end += h->len;
		}
		for (unsigned int i = 0; i < b->nt; i++) {
			ret = broker_forward(b, &b->t[i], buf, end);
			if (ret) {
				b->r->error = -ret;
				return;
			}
		}
		memmove(buf, buf + end, have - end);
		have -= end;
	}
}

static void broker_main(struct broker *b, unsigned int m, int ready)
{
	unsigned int k;
	char c = 1;
	int ret;

	b->iov = calloc(IOV_MAX, sizeof(*b->iov));
	if (!b->iov)
		b->r->error = ENOMEM;
	/* add_others() sends k; nothing (EOF) if the run was abandoned. */
	if (b->r->error || read(b->ctl, &k, sizeof(k)) != sizeof(k))
		broker_exit(b);
	ret = broker_others(b, m, k);
	if (ret)
		b->r->error = -ret;
	if (write(ready, &c, 1) != 1 && !b->r->error)
		b->r->error = errno;
	close(ready);
	if (!b->r->error)
		broker_loop(b);
	broker_exit(b);
}

/* ------------------------------------------------------------------ parent */

static int fork_broker(int in, int *bfds, unsigned int m, int ctl, int ready)
{
	struct broker b = { .in = in, .ctl = ctl, .nt = m, .r = bench_broker_res };
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid) {
		bench_broker_pid = pid;
		return 0;
	}
	/* The broker: keep in, ctl, ready and the broker ends only. */
	signal(SIGPIPE, SIG_IGN);
	close(pub_fd);
	close(ctl_fd);
	close(ready_fd);
	b.t = calloc(m ? m : 1, sizeof(*b.t));
	if (!b.t)
		_exit(2);
	for (unsigned int i = 0; i < m; i++) {
		close(sub_fds[i]);
		b.t[i].fd = bfds[i];
		strcpy(b.t[i].topic, BENCH_TOPIC);
	}
	broker_main(&b, m, ready);
	_exit(0);
}

static int unix_setup(unsigned int m)
{
	int in[2], ctl[2], rdy[2], sv[2], *bfds, ret;

	msg_len = bench_frame_len(BENCH_TOPIC);
	msgs = aligned_alloc(8, msg_len * opt.batch);
	sub_fds = calloc(m, sizeof(*sub_fds));
	bfds = calloc(m, sizeof(*bfds));
	if (!msgs || !sub_fds || !bfds)
		return -ENOMEM;
	ret = sock_pair(in);
	if (ret)
		return ret;
	if (pipe2(ctl, O_CLOEXEC) || pipe2(rdy, O_CLOEXEC))
		return -errno;
	pub_fd = in[0];
	ctl_fd = ctl[1];
	ready_fd = rdy[0];
	for (nsubs = 0; nsubs < m; nsubs++) {
		ret = sock_pair(sv);
		if (ret)
			return ret;
		sub_fds[nsubs] = sv[0];
		bfds[nsubs] = sv[1];
	}
	ret = fork_broker(in[1], bfds, m, ctl[0], rdy[1]);
	close(in[1]);
	close(ctl[0]);
	close(rdy[1]);
	for (unsigned int i = 0; i < m; i++)
		close(bfds[i]);
	free(bfds);
	return ret;
}

/* Keep only our socket: nothing else of the parent's. */
static void *unix_sub_open(unsigned int i)
{
	close(pub_fd);
	close(ctl_fd);
	close(ready_fd);
	for (unsigned int j = 0; j < nsubs; j++)
		if (j != i)
			close(sub_fds[j]);
	return bench_stream_new(sub_fds[i]);
}

static int unix_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			 uint64_t *calls)
{
	return bench_stream_recv(ctx, rx, max, calls);
}

/* Tell the broker k; it answers once its table holds the others. */
static int unix_add_others(unsigned int k)
{
	char c;

	if (write(ctl_fd, &k, sizeof(k)) != sizeof(k))
		return -errno;
	if (read(ready_fd, &c, 1) != 1)
		return bench_broker_res->error ? -bench_broker_res->error : -EPIPE;
	return 0;
}

static int unix_pub_open(void)
{
	for (unsigned int i = 0; i < nsubs; i++)
		close(sub_fds[i]);
	nsubs = 0;
	return 0;
}

static int unix_publish(void *const *payload, unsigned int count,
			uint64_t *calls)
{
	bench_frames_build(msgs, BENCH_TOPIC, payload, count);
	return bench_write_all(pub_fd, msgs, msg_len * count, calls);
}

/* The broker sees EOF. */
static void unix_pub_close(void)
{
	if (pub_fd >= 0)
		close(pub_fd);
	pub_fd = -1;
}

/* Let the broker go, and reap it. */
static void unix_teardown(void)
{
	int status;

	unix_pub_close();
	for (unsigned int i = 0; i < nsubs; i++)
		close(sub_fds[i]);
	nsubs = 0;
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (ready_fd >= 0)
		close(ready_fd);
	ctl_fd = ready_fd = -1;
	if (bench_broker_pid <= 0)
		return;
	while (waitpid(bench_broker_pid, &status, 0) < 0)
		if (errno != EINTR)
			return;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return;
	if (WIFSIGNALED(status))
		fprintf(stderr, "fanout: unix: broker killed by signal %d\n",
			WTERMSIG(status));
	else
		fprintf(stderr, "fanout: unix: broker exit status %d\n",
			WEXITSTATUS(status));
	if (!bench_broker_res->error)
		bench_broker_res->error = ECHILD;
}

const struct bench_peer peer_unix = {
	.name = "unix",
	.workloads = W_ALL,
	.setup = unix_setup,
	.sub_open = unix_sub_open,
	.sub_recv = unix_sub_recv,
	.add_others = unix_add_others,
	.pub_open = unix_pub_open,
	.publish = unix_publish,
	.pub_close = unix_pub_close,
	.teardown = unix_teardown,
};
