// SPDX-License-Identifier: GPL-2.0
/*
 * fanout: one publisher, M subscriber processes, N events; evbus against
 * baseline transports that need no extra packages.
 *
 *   fanout --peer P [--m M] [--k K] [--n N] [--size BYTES] [--batch B]
 *          [--ring BYTES] [--workload NAME] [--quiet]
 *
 * Peers:
 *   evbus   EVBUS_IOC_PUBLISH (batch 1) or EVBUS_IOC_PUBLISH_BATCH (batch > 1)
 *           to /dev/evbus; every subscriber opens its own file and reads
 *           records; LAGGED records are counted as lost events
 *   pipe    direct fan-out: the publisher writes each message (or a batch of
 *           B messages in one write) to the pipe of every matching subscriber
 *   unix    single-process broker: publisher -> broker over a unix stream
 *           socket (B messages per write); the broker matches every message
 *           against its subscriber table and forwards, per read() chunk, one
 *           writev() per matching subscriber over unix stream sockets
 *
 * --k K adds K subscriptions to other topics ("other.<i>") that never match:
 * evbus opens K more files (4 KiB rings) in the publisher, pipe keeps K more
 * pipes in its table, unix keeps K more sockets in the broker's table.  The
 * pipe and unix peers match topics by string compare per subscriber, which
 * is what a table-driven user-space fan-out does.
 *
 * Measured: wall time (CLOCK_MONOTONIC from the first publish to the last
 * subscriber's exit; under tests/vm/run --icount 1 ns = 1 guest instruction),
 * publisher CPU time (CLOCK_PROCESS_CPUTIME_ID), CPU time of all children
 * and context switches of every process (getrusage SELF + CHILDREN deltas),
 * syscalls on the hot path (counted by the code, not traced).
 *
 * Output: one JSON object per run on stdout, one human line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "evbus_test.h"

#define TOPIC		"bench.fanout"
#define RDBUF		(256 * 1024)
#define MAX_M		1024
#define MAX_BATCH	EVBUS_BATCH_MAX

/* What every child reports back through shared memory. */
struct child_res {
	uint64_t received;	/* events read */
	uint64_t lost;		/* events reported lost (LAGGED) */
	uint64_t lag_records;
	uint64_t syscalls;	/* read()/write()/writev() calls on the hot path */
	uint64_t seq_errors;	/* sequence numbers not strictly increasing */
	uint64_t cpu_ns;	/* the child's own CPU time */
	int64_t error;		/* 0 or an errno */
};

/* Stream framing for pipe and unix peers, shaped like an evbus record. */
struct msg_hdr {
	uint32_t len;		/* whole message, multiple of 8 */
	uint16_t topic_len;
	uint16_t flags;
	uint64_t seq;
};

static struct {
	const char *peer, *workload;
	unsigned int m, k, batch, size, ring;
	uint64_t n;
	int quiet;
} opt = {
	.peer = "evbus", .workload = "fanout", .m = 1, .k = 0, .batch = 1,
	.size = 64, .ring = 4u << 20, .n = 20000,
};

static struct child_res *res;	/* [0..m) subscribers, [m] broker */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "fanout: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t msg_len(void)
{
	return sizeof(struct msg_hdr) + EVBUS_ALIGN(strlen(TOPIC) + 1) +
	       EVBUS_ALIGN(opt.size);
}

/* Best effort: raise an evbus module parameter to at least val. */
static void raise_param(const char *name, unsigned long val)
{
	char path[128], buf[32];
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
	snprintf(buf, sizeof(buf), "%lu", val);
	fputs(buf, f);
	if (fclose(f))
		fprintf(stderr, "fanout: cannot raise %s to %lu\n", name, val);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void signal_ready(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(3);
	close(fd);
}

static void child_done(struct child_res *r)
{
	r->cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	_exit(r->error ? 2 : 0);
}

/* ---------------------------------------------------------------- evbus */

static void evbus_sub_child(int ready, struct child_res *r)
{
	struct evbus_rec_hdr *h;
	uint64_t last = 0;
	ssize_t got;
	size_t left;
	char *buf;
	int fd;

	buf = aligned_alloc(8, RDBUF);
	fd = evt_open();
	if (fd < 0 || !buf) {
		r->error = errno;
		child_done(r);
	}
	if (evt_set_ring(fd, opt.ring, EVBUS_POLICY_DROP_OLDEST) ||
	    evt_sub(fd, TOPIC) < 0) {
		r->error = errno ? errno : EINVAL;
		child_done(r);
	}
	signal_ready(ready);
	while (r->received + r->lost < opt.n) {
		got = read(fd, buf, RDBUF);
		r->syscalls++;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r->error = errno;
			break;
		}
		evt_for_each_rec(h, buf, (size_t)got, left) {
			if (h->kind == EVBUS_REC_EVENT) {
				struct evbus_event *ev = (struct evbus_event *)h;

				if (ev->seq <= last)
					r->seq_errors++;
				last = ev->seq;
				r->received++;
			} else if (h->kind == EVBUS_REC_LAGGED) {
				struct evbus_lagged *lg = (struct evbus_lagged *)h;

				r->lost += lg->lost;
				r->lag_records++;
				last = lg->last_seq;
			}
		}
	}
	child_done(r);
}

static int *evbus_open_others(unsigned int k)
{
	int *fds = calloc(k ? k : 1, sizeof(int));
	char pat[32];

	for (unsigned int i = 0; i < k; i++) {
		fds[i] = evt_open();
		if (fds[i] < 0)
			die("open /dev/evbus (other)");
		if (evt_set_ring(fds[i], 4096, EVBUS_POLICY_DROP_OLDEST))
			die("SET_RING 4096 (other)");
		snprintf(pat, sizeof(pat), "other.%u", i);
		if (evt_sub(fds[i], pat) < 0)
			die("SUBSCRIBE other");
	}
	return fds;
}

static uint64_t evbus_publish(int fd, const char *payload)
{
	static struct evbus_pub pubs[MAX_BATCH];
	struct evbus_pub_batch b;
	uint64_t calls = 0, sent = 0;

	for (unsigned int i = 0; i < opt.batch; i++) {
		memset(&pubs[i], 0, sizeof(pubs[i]));
		pubs[i].topic = (uintptr_t)TOPIC;
		pubs[i].topic_len = strlen(TOPIC);
		pubs[i].payload = (uintptr_t)payload;
		pubs[i].payload_len = opt.size;
	}
	if (opt.batch == 1) {
		for (; sent < opt.n; sent++, calls++)
			if (ioctl(fd, EVBUS_IOC_PUBLISH, &pubs[0]))
				die("EVBUS_IOC_PUBLISH");
		return calls;
	}
	while (sent < opt.n) {
		uint64_t cnt = opt.n - sent < opt.batch ? opt.n - sent : opt.batch;
		int ret;

		memset(&b, 0, sizeof(b));
		b.events = (uintptr_t)pubs;
		b.count = cnt;
		ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
		calls++;
		if (ret < 0)
			die("EVBUS_IOC_PUBLISH_BATCH");
		sent += ret;
	}
	return calls;
}

/* --------------------------------------------------- pipe and unix peers */

/* Read a framed stream until n messages arrived or EOF. */
static void stream_sub_child(int fd, struct child_res *r)
{
	char *buf = aligned_alloc(8, RDBUF);
	size_t have = 0, off;
	uint64_t last = 0;
	ssize_t got;

	if (!buf) {
		r->error = ENOMEM;
		child_done(r);
	}
	while (r->received < opt.n) {
		got = read(fd, buf + have, RDBUF - have);
		r->syscalls++;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r->error = errno;
			break;
		}
		if (got == 0) {
			r->error = EPIPE;
			break;
		}
		have += got;
		for (off = 0; have - off >= sizeof(struct msg_hdr);) {
			struct msg_hdr *h = (struct msg_hdr *)(buf + off);

			if (h->len < sizeof(*h) || h->len > RDBUF) {
				r->error = EPROTO;
				child_done(r);
			}
			if (have - off < h->len)
				break;
			if (h->seq <= last)
				r->seq_errors++;
			last = h->seq;
			r->received++;
			off += h->len;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	child_done(r);
}

/* batch messages back to back, seq fields filled in by fill_seq(). */
static char *build_msgs(const char *topic, unsigned int count)
{
	size_t ml = msg_len();
	char *buf = aligned_alloc(8, EVBUS_ALIGN(ml * count));

	memset(buf, 0, ml * count);
	for (unsigned int i = 0; i < count; i++) {
		struct msg_hdr *h = (struct msg_hdr *)(buf + i * ml);

		h->len = ml;
		h->topic_len = strlen(topic);
		memcpy(h + 1, topic, strlen(topic));
		memset((char *)(h + 1) + EVBUS_ALIGN(strlen(topic) + 1), 0xa5,
		       opt.size);
	}
	return buf;
}

static void fill_seq(char *buf, unsigned int count, uint64_t first)
{
	size_t ml = msg_len();

	for (unsigned int i = 0; i < count; i++)
		((struct msg_hdr *)(buf + i * ml))->seq = first + i;
}

static int write_all(int fd, const char *p, size_t len, uint64_t *calls)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		++*calls;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= w;
	}
	return 0;
}

struct target {
	int fd;
	char topic[24];
};

static void set_big_pipe(int fd)
{
	fcntl(fd, F_SETPIPE_SZ, 1 << 20);	/* best effort */
}

static void set_big_sock(int fd)
{
	int sz = 1 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* The publisher side of direct pipe fan-out. */
static uint64_t pipe_publish(struct target *t, unsigned int nt)
{
	unsigned int topic_len = strlen(TOPIC);
	char *msgs = build_msgs(TOPIC, opt.batch);
	size_t ml = msg_len();
	uint64_t calls = 0, sent = 0;

	while (sent < opt.n) {
		unsigned int cnt = opt.n - sent < opt.batch ? opt.n - sent : opt.batch;

		fill_seq(msgs, cnt, sent + 1);
		for (unsigned int i = 0; i < nt; i++) {
			if (strlen(t[i].topic) != topic_len ||
			    memcmp(t[i].topic, TOPIC, topic_len))
				continue;
			if (write_all(t[i].fd, msgs, ml * cnt, &calls))
				die("write pipe");
		}
		sent += cnt;
	}
	return calls;
}

/* The broker: read chunks from the publisher, forward whole messages. */
static void broker_child(int in, struct target *t, unsigned int m,
			 int ready, struct child_res *r)
{
	char *buf = aligned_alloc(8, RDBUF);
	struct iovec *iov = calloc(IOV_MAX, sizeof(*iov));
	unsigned int nt = m + opt.k;
	size_t have = 0, off;

	/* The K subscribers to other topics: sockets nobody reads. */
	t = realloc(t, nt * sizeof(*t));
	for (unsigned int i = m; i < nt; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair (other)");
		close(sv[1]);
		t[i].fd = sv[0];
		snprintf(t[i].topic, sizeof(t[i].topic), "other.%u", i - m);
	}
	signal_ready(ready);
	for (;;) {
		ssize_t got = read(in, buf + have, RDBUF - have);

		r->syscalls++;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r->error = errno;
			break;
		}
		if (got == 0)
			break;
		have += got;
		/* Complete messages in [0, end). */
		size_t end = 0;
		unsigned int nmsg = 0;

		while (have - end >= sizeof(struct msg_hdr) &&
		       have - end >= ((struct msg_hdr *)(buf + end))->len) {
			end += ((struct msg_hdr *)(buf + end))->len;
			nmsg++;
		}
		r->received += nmsg;
		/* Per target, gather the matching messages into one writev. */
		for (unsigned int i = 0; i < nt; i++) {
			size_t tl = strlen(t[i].topic);
			int niov = 0;

			for (off = 0; off < end;) {
				struct msg_hdr *h = (struct msg_hdr *)(buf + off);

				if (h->topic_len == tl && !memcmp(h + 1, t[i].topic, tl)) {
					/* Merge with the previous iovec when adjacent. */
					if (niov && (char *)iov[niov - 1].iov_base +
						    iov[niov - 1].iov_len == (char *)h)
						iov[niov - 1].iov_len += h->len;
					else {
						iov[niov].iov_base = h;
						iov[niov].iov_len = h->len;
						niov++;
					}
				}
				off += h->len;
				if (niov == IOV_MAX)
					break;	/* cannot happen: adjacent merge */
			}
			if (!niov)
				continue;
			/* writev until done (stream sockets may write partially). */
			size_t total = 0;

			for (int j = 0; j < niov; j++)
				total += iov[j].iov_len;
			struct iovec *v = iov;
			int vn = niov;

			while (total) {
				ssize_t w = writev(t[i].fd, v, vn);

				r->syscalls++;
				if (w < 0) {
					if (errno == EINTR)
						continue;
					r->error = errno;
					child_done(r);
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
		}
		memmove(buf, buf + end, have - end);
		have -= end;
	}
	child_done(r);
}

/* ----------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: fanout --peer evbus|pipe|unix [--m M] [--k K] [--n N]\n"
		"              [--size BYTES] [--batch B] [--ring BYTES]\n"
		"              [--workload NAME] [--quiet]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quiet")) {
			opt.quiet = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--peer"))
			opt.peer = v;
		else if (!strcmp(a, "--workload"))
			opt.workload = v;
		else if (!strcmp(a, "--m"))
			opt.m = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--k"))
			opt.k = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--n"))
			opt.n = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--size"))
			opt.size = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--batch"))
			opt.batch = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--ring"))
			opt.ring = strtoul(v, NULL, 0);
		else
			usage();
	}
	if (opt.m < 1 || opt.m > MAX_M || opt.batch < 1 || opt.batch > MAX_BATCH ||
	    opt.n < 1 || (strcmp(opt.peer, "evbus") && strcmp(opt.peer, "pipe") &&
			   strcmp(opt.peer, "unix")))
		usage();
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + tv.tv_usec * 1000ull;
}

int main(int argc, char **argv)
{
	struct rusage self0, self1, ch0, ch1;
	uint64_t t0, t1, t2, c0, c1, pub_calls = 0;
	pid_t pids[MAX_M + 1];
	unsigned int nchild = 0, m;
	int ready[2], status, failed = 0;
	struct target *targets = NULL;
	int pub_fd = -1, *others = NULL;
	char *payload;

	parse(argc, argv);
	m = opt.m;
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile(2 * (opt.k + m) + 64);
	if (!strcmp(opt.peer, "evbus")) {
		raise_param("max_user_files", opt.k + m + 64);
		raise_param("max_user_ring_bytes",
			    (unsigned long)m * opt.ring + opt.k * 4096ul + (64ul << 20));
		raise_param("ring_max", opt.ring);
	}
	res = mmap(NULL, (MAX_M + 1) * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap");
	payload = malloc(opt.size ? opt.size : 1);
	memset(payload, 0xa5, opt.size);
	if (pipe2(ready, O_CLOEXEC))
		die("pipe");
	fflush(NULL);

	if (!strcmp(opt.peer, "evbus")) {
		for (unsigned int i = 0; i < m; i++) {
			pids[nchild] = fork();
			if (pids[nchild] < 0)
				die("fork");
			if (!pids[nchild]) {
				close(ready[0]);
				evbus_sub_child(ready[1], &res[i]);
			}
			nchild++;
		}
		pub_fd = evt_open();
		if (pub_fd < 0)
			die("open /dev/evbus");
	} else {
		int in[2] = { -1, -1 };
		unsigned int nt = m + (!strcmp(opt.peer, "pipe") ? opt.k : 0);

		targets = calloc(nt, sizeof(*targets));
		if (!strcmp(opt.peer, "unix")) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in))
				die("socketpair");
			set_big_sock(in[0]);
			set_big_sock(in[1]);
		}
		for (unsigned int i = 0; i < m; i++) {
			int fds[2];

			if (!strcmp(opt.peer, "pipe")) {
				if (pipe2(fds, O_CLOEXEC))
					die("pipe");
				set_big_pipe(fds[1]);
				/* fds[0]: read end, fds[1]: write end */
				targets[i].fd = fds[1];
			} else {
				if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
					die("socketpair");
				set_big_sock(fds[0]);
				set_big_sock(fds[1]);
				targets[i].fd = fds[1];
			}
			strcpy(targets[i].topic, TOPIC);
			pids[nchild] = fork();
			if (pids[nchild] < 0)
				die("fork");
			if (!pids[nchild]) {
				close(ready[0]);
				for (unsigned int j = 0; j <= i; j++)
					close(targets[j].fd);
				if (in[0] >= 0) {
					close(in[0]);
					close(in[1]);
				}
				signal_ready(ready[1]);
				stream_sub_child(fds[0], &res[i]);
			}
			nchild++;
			close(fds[0]);
		}
		if (!strcmp(opt.peer, "unix")) {
			pids[nchild] = fork();
			if (pids[nchild] < 0)
				die("fork");
			if (!pids[nchild]) {
				close(ready[0]);
				close(in[0]);
				broker_child(in[1], targets, m, ready[1], &res[m]);
			}
			nchild++;
			close(in[1]);
			for (unsigned int i = 0; i < m; i++)
				close(targets[i].fd);
			pub_fd = in[0];
		} else {
			for (unsigned int i = m; i < nt; i++) {
				int fds[2];

				if (pipe2(fds, O_CLOEXEC))
					die("pipe (other)");
				close(fds[0]);
				targets[i].fd = fds[1];
				snprintf(targets[i].topic, sizeof(targets[i].topic),
					 "other.%u", i - m);
			}
		}
	}
	close(ready[1]);
	for (unsigned int i = 0; i < nchild; i++) {
		char c;

		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "fanout: a child failed to start\n");
			failed = 1;
			break;
		}
	}
	close(ready[0]);
	if (!strcmp(opt.peer, "evbus") && !failed)
		others = evbus_open_others(opt.k);

	getrusage(RUSAGE_SELF, &self0);
	getrusage(RUSAGE_CHILDREN, &ch0);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns(CLOCK_MONOTONIC);
	if (failed)
		;
	else if (!strcmp(opt.peer, "evbus"))
		pub_calls = evbus_publish(pub_fd, payload);
	else if (!strcmp(opt.peer, "pipe"))
		pub_calls = pipe_publish(targets, m + opt.k);
	else {
		/* unix: the publisher writes framed messages to the broker */
		struct target self = { .fd = pub_fd };

		strcpy(self.topic, TOPIC);
		pub_calls = pipe_publish(&self, 1);
		close(pub_fd);
	}
	c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now_ns(CLOCK_MONOTONIC);
	if (!strcmp(opt.peer, "pipe"))
		for (unsigned int i = 0; i < m + opt.k; i++)
			close(targets[i].fd);
	for (unsigned int i = 0; i < nchild; i++) {
		if (waitpid(pids[i], &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	t2 = now_ns(CLOCK_MONOTONIC);
	getrusage(RUSAGE_SELF, &self1);
	getrusage(RUSAGE_CHILDREN, &ch1);

	uint64_t received = 0, lost = 0, lagrec = 0, sub_calls = 0, seqerr = 0;
	uint64_t broker_calls = 0, broker_cpu = 0;

	for (unsigned int i = 0; i < m; i++) {
		received += res[i].received;
		lost += res[i].lost;
		lagrec += res[i].lag_records;
		sub_calls += res[i].syscalls;
		seqerr += res[i].seq_errors;
		if (res[i].error) {
			fprintf(stderr, "fanout: subscriber %u: %s\n", i,
				strerror(res[i].error));
			failed = 1;
		}
	}
	if (!strcmp(opt.peer, "unix")) {
		broker_calls = res[m].syscalls;
		broker_cpu = res[m].cpu_ns;
		if (res[m].error) {
			fprintf(stderr, "fanout: broker: %s\n", strerror(res[m].error));
			failed = 1;
		}
	}

	uint64_t deliveries = opt.n * m;
	uint64_t wall = t2 - t0, pub_cpu = c1 - c0;
	uint64_t ch_cpu = tv_ns(ch1.ru_utime) + tv_ns(ch1.ru_stime) -
			  tv_ns(ch0.ru_utime) - tv_ns(ch0.ru_stime);
	uint64_t self_cpu = tv_ns(self1.ru_utime) + tv_ns(self1.ru_stime) -
			    tv_ns(self0.ru_utime) - tv_ns(self0.ru_stime);
	long ctx_pub = (self1.ru_nvcsw + self1.ru_nivcsw) - (self0.ru_nvcsw + self0.ru_nivcsw);
	long ctx_ch = (ch1.ru_nvcsw + ch1.ru_nivcsw) - (ch0.ru_nvcsw + ch0.ru_nivcsw);
	uint64_t syscalls = pub_calls + sub_calls + broker_calls;
	double ev_s = opt.n * 1e9 / wall, del_s = deliveries * 1e9 / wall;

	printf("{\"peer\":\"%s\",\"workload\":\"%s\",\"m\":%u,\"k\":%u,"
	       "\"payload\":%u,\"batch\":%u,\"n\":%llu,\"ok\":%s,"
	       "\"wall_ns\":%llu,\"publish_ns\":%llu,\"events_per_s\":%.1f,"
	       "\"deliveries\":%llu,\"received\":%llu,\"lost\":%llu,\"lag_records\":%llu,"
	       "\"seq_errors\":%llu,\"deliveries_per_s\":%.1f,"
	       "\"ns_per_delivery\":%.2f,\"pub_cpu_ns_per_event\":%.2f,"
	       "\"cpu_ns_per_delivery\":%.2f,\"broker_cpu_ns_per_event\":%.2f,"
	       "\"ctx_switches\":%ld,\"ctx_pub\":%ld,\"ctx_per_delivery\":%.4f,"
	       "\"syscalls\":%llu,\"syscalls_pub\":%llu,\"syscalls_sub\":%llu,"
	       "\"syscalls_broker\":%llu,\"syscalls_per_event\":%.4f,"
	       "\"pub_syscalls_per_event\":%.4f}\n",
	       opt.peer, opt.workload, m, opt.k, opt.size, opt.batch,
	       (unsigned long long)opt.n, failed ? "false" : "true",
	       (unsigned long long)wall, (unsigned long long)(t1 - t0), ev_s,
	       (unsigned long long)deliveries, (unsigned long long)received,
	       (unsigned long long)lost, (unsigned long long)lagrec,
	       (unsigned long long)seqerr, del_s,
	       (double)wall / deliveries, (double)pub_cpu / opt.n,
	       (double)(self_cpu + ch_cpu) / deliveries,
	       (double)broker_cpu / opt.n,
	       ctx_pub + ctx_ch, ctx_pub, (double)(ctx_pub + ctx_ch) / deliveries,
	       (unsigned long long)syscalls, (unsigned long long)pub_calls,
	       (unsigned long long)sub_calls, (unsigned long long)broker_calls,
	       (double)syscalls / opt.n, (double)pub_calls / opt.n);
	if (!opt.quiet)
		fprintf(stderr,
			"%-6s %-11s M=%-3u K=%-4u %5uB batch=%-3u N=%-6llu %11.0f deliv/s "
			"%9.1f ns/deliv  pub %8.1f ns/ev  ctx/deliv %.4f  sys/ev %.3f  lost %llu%s\n",
			opt.peer, opt.workload, m, opt.k, opt.size, opt.batch,
			(unsigned long long)opt.n, del_s, (double)wall / deliveries,
			(double)pub_cpu / opt.n, (double)(ctx_pub + ctx_ch) / deliveries,
			(double)syscalls / opt.n, (unsigned long long)lost,
			failed ? "  FAILED" : "");
	if (others)
		for (unsigned int i = 0; i < opt.k; i++)
			close(others[i]);
	return failed;
}
