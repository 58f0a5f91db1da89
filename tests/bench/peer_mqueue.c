// SPDX-License-Identifier: GPL-2.0
/*
 * POSIX message queues (mq_overview(7)) as a fan-out peer of the benchmark
 * harness (fanout.c, see bench.h for the contract).
 *
 * Shape: direct fan-out, like the pipe peer.  Every subscriber owns one
 * queue; the publisher keeps a table of (queue, topic) and, for every event,
 * compares the event's topic with every entry and mq_send()s the payload to
 * each queue that matches.  The K "others" are K more queues in the table,
 * subscribed to "other.<i>", that nobody reads (nothing is ever sent to them,
 * but the publisher walks past them for every publish call).
 *
 * Messages: one event is one message of exactly opt.size bytes, the payload
 * itself (a message queue keeps message boundaries, so no framing).  End of
 * stream is a zero-length message.  All messages have priority 0 (FIFO).
 *
 * Calls: there is no batched send or receive.  A publish call of B events
 * makes B mq_send() calls per matching queue; a subscriber gets one message
 * per mq_receive().  Both are counted, one per system call (retries after
 * EINTR included).
 *
 * Blocking: queues are blocking, like pipes.  A stopped subscriber whose
 * queue is full blocks the publisher in mq_send() until the harness's stall
 * deadline continues it; mq_send() is then retried if a signal interrupted
 * it.
 *
 * Queue depth: a subscriber's queue holds opt.ring bytes the way the kernel
 * counts them against RLIMIT_MSGQUEUE, opt.size plus one struct msg_msg
 * (48 bytes on 64-bit) per message: mq_maxmsg = opt.ring / (opt.size + 48),
 * at least 1, at most the kernel's HARD_MSGMAX (65536); mq_msgsize =
 * opt.size.  (The 4 MiB default gives 37449 messages of 64 B, 1012 of
 * 4 KiB; a pipe of 4 MiB holds 43690 framed 64 B events.)  The K others
 * get the system default depth (10 messages, /proc's msg_default).
 *
 * Limits (Linux): queues_max (/proc/sys/fs/mqueue/queues_max, default 256),
 * msg_max (default 10) and msgsize_max (default 8192) bind only processes
 * without CAP_SYS_RESOURCE; a root harness is held only to HARD_MSGMAX and
 * HARD_MSGSIZEMAX (16 MiB).  RLIMIT_MSGQUEUE (default 800 KiB per user)
 * binds everyone: every queue is charged mq_maxmsg * (mq_msgsize +
 * sizeof(struct msg_msg)) plus tree nodes when it is created, so 4096 queues
 * of 10 x 4 KiB need ~170 MiB.  setup() raises RLIMIT_MSGQUEUE to
 * unlimited (or to its hard limit) and, only inside the throwaway test VM
 * (EVBUS_IN_VM, set by tests/vm/run), the three /proc limits to what the run
 * needs: they are system-wide, and a benchmark must not change them on a
 * developer's machine.  A queue that still cannot be created fails the run
 * with the limit that was in the way (e.g. 4096 others without
 * CAP_SYS_RESOURCE and with the default RLIMIT_MSGQUEUE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench.h"

#define MQ_HARD_MSGMAX	65536	/* include/linux/ipc_namespace.h */
#define MQ_OTHER_DEPTH	10	/* DFLT_MSG */
#define MQ_MSG_OVERHEAD	48	/* sizeof(struct msg_msg), ipc/mqueue.c's charge */
#define MQ_PROC		"/proc/sys/fs/mqueue/"

struct mq_target {
	mqd_t q;
	char topic[24];
};

static struct mq_target *tab;	/* [0, nsub) subscribers, then the others */
static unsigned int nsub, ntab;
static long depth;		/* mq_maxmsg of a subscriber's queue */
static char prefix[64];		/* queue names: prefix.<i>, prefix.o<i> */

struct mq_sub {
	mqd_t q;
	char *buf;
};

static void mq_name(char *buf, size_t len, const char *kind, unsigned int i)
{
	snprintf(buf, len, "%s.%s%u", prefix, kind, i);
}

static long read_proc(const char *name)
{
	char path[96];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), MQ_PROC "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* Best effort: raise /proc/sys/fs/mqueue/<name> to at least val. */
static void raise_proc(const char *name, long val)
{
	char path[96];
	FILE *f;

	if (read_proc(name) >= val)
		return;
	snprintf(path, sizeof(path), MQ_PROC "%s", name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%ld\n", val);
	fclose(f);
}

static void raise_msgqueue_rlimit(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (!setrlimit(RLIMIT_MSGQUEUE, &rl) || getrlimit(RLIMIT_MSGQUEUE, &rl))
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_MSGQUEUE, &rl);
}

/* Say which limit a failed mq_open() most likely ran into. */
static void explain(const char *what, unsigned int i, unsigned int of,
		    long maxmsg)
{
	int err = errno;
	struct rlimit rl = { 0, 0 };
	const char *hint = err == EMFILE ? "RLIMIT_MSGQUEUE or RLIMIT_NOFILE" :
			   err == ENOSPC ? "queues_max" :
			   err == EINVAL ? "msg_max or msgsize_max" : "?";

	getrlimit(RLIMIT_MSGQUEUE, &rl);
	fprintf(stderr,
		"mqueue: cannot create %s queue %u of %u (mq_maxmsg %ld, mq_msgsize %u, charged ~%llu bytes): %s (%s)\n",
		what, i, of, maxmsg, opt.size,
		(unsigned long long)maxmsg * (opt.size + MQ_MSG_OVERHEAD),
		strerror(err), hint);
	fprintf(stderr,
		"mqueue: queues_max %ld, msg_max %ld, msgsize_max %ld (all three waived with CAP_SYS_RESOURCE), RLIMIT_MSGQUEUE %llu bytes\n",
		read_proc("queues_max"), read_proc("msg_max"),
		read_proc("msgsize_max"), (unsigned long long)rl.rlim_cur);
	errno = err;
}

static mqd_t create_queue(const char *name, long maxmsg, int flags)
{
	struct mq_attr attr = {
		.mq_maxmsg = maxmsg,
		.mq_msgsize = opt.size,
	};

	return mq_open(name, flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
}

static int mqueue_setup(unsigned int m)
{
	char name[96];

	nsub = m;
	depth = opt.ring / (opt.size + MQ_MSG_OVERHEAD);
	if (depth < 1)
		depth = 1;
	if (depth > MQ_HARD_MSGMAX)
		depth = MQ_HARD_MSGMAX;
	snprintf(prefix, sizeof(prefix), "/evbus-bench.%d", (int)getpid());

	raise_msgqueue_rlimit();
	if (getenv("EVBUS_IN_VM")) {
		raise_proc("queues_max", (long)m + opt.k + 64);
		raise_proc("msg_max", depth > MQ_OTHER_DEPTH ? depth : MQ_OTHER_DEPTH);
		raise_proc("msgsize_max", opt.size);
	}
	/* The others and the subscribers' own read descriptors. */
	bench_raise_nofile(2ul * m + opt.k + 64);

	tab = calloc(m + opt.k, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (ntab = 0; ntab < m; ntab++) {
		mq_name(name, sizeof(name), "s", ntab);
		tab[ntab].q = create_queue(name, depth, O_WRONLY);
		if (tab[ntab].q == (mqd_t)-1) {
			int err = errno;

			explain("subscriber", ntab, m, depth);
			return -err;
		}
		strcpy(tab[ntab].topic, BENCH_TOPIC);
	}
	return 0;
}

static void *mqueue_sub_open(unsigned int i)
{
	struct mq_sub *s = calloc(1, sizeof(*s));
	char name[96];

	if (!s)
		return NULL;
	/* The publisher's descriptors are the parent's business. */
	for (unsigned int j = 0; j < ntab; j++)
		mq_close(tab[j].q);
	mq_name(name, sizeof(name), "s", i);
	s->q = mq_open(name, O_RDONLY | O_CLOEXEC);
	s->buf = aligned_alloc(8, (opt.size + 7) & ~7u);
	if (s->q == (mqd_t)-1 || !s->buf) {
		int err = s->q == (mqd_t)-1 ? errno : ENOMEM;

		free(s->buf);
		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

static int mqueue_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			   uint64_t *calls)
{
	struct mq_sub *s = ctx;
	ssize_t len;

	do {
		len = mq_receive(s->q, s->buf, opt.size, NULL);
		++*calls;
	} while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	if (len == 0)
		return 0;		/* end of stream */
	rx[0].payload = s->buf;
	rx[0].len = len;
	rx[0].lost = 0;
	return 1;
}

static int mqueue_add_others(unsigned int k)
{
	long other_depth = MQ_OTHER_DEPTH;
	char name[96];
	struct mq_target *t;

	if (k > opt.k) {
		t = realloc(tab, (nsub + k) * sizeof(*tab));
		if (!t)
			return -ENOMEM;
		tab = t;
	}
	if (other_depth > depth)
		other_depth = depth;
	for (unsigned int i = 0; i < k; i++) {
		mq_name(name, sizeof(name), "o", i);
		tab[ntab].q = create_queue(name, other_depth, O_WRONLY);
		if (tab[ntab].q == (mqd_t)-1) {
			int err = errno;

			explain("other", i, k, other_depth);
			return -err;
		}
		/* Nobody opens it by name: it lives as long as the descriptor. */
		mq_unlink(name);
		snprintf(tab[ntab].topic, sizeof(tab[ntab].topic), "other.%u", i);
		ntab++;
	}
	return 0;
}

static int mqueue_pub_open(void)
{
	char name[96];

	/* Every subscriber has its queue open: the names can go. */
	for (unsigned int i = 0; i < nsub; i++) {
		mq_name(name, sizeof(name), "s", i);
		mq_unlink(name);
	}
	return 0;
}

static int send_one(mqd_t q, const void *buf, size_t len, uint64_t *calls)
{
	for (;;) {
		++*calls;
		if (!mq_send(q, buf, len, 0))
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int mqueue_publish(void *const *payload, unsigned int count,
			  uint64_t *calls)
{
	size_t topic_len = strlen(BENCH_TOPIC);
	int ret;

	for (unsigned int i = 0; i < ntab; i++) {
		if (strlen(tab[i].topic) != topic_len ||
		    memcmp(tab[i].topic, BENCH_TOPIC, topic_len))
			continue;
		for (unsigned int j = 0; j < count; j++) {
			ret = send_one(tab[i].q, payload[j], opt.size, calls);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static void mqueue_pub_close(void)
{
	uint64_t calls = 0;

	/* End of stream: a zero-length message to every subscriber. */
	for (unsigned int i = 0; i < nsub; i++)
		if (send_one(tab[i].q, "", 0, &calls))
			perror("mqueue: end-of-stream mq_send");
}

static void mqueue_teardown(void)
{
	char name[96];

	for (unsigned int i = 0; i < ntab; i++)
		mq_close(tab[i].q);
	/* Names left behind by a run that failed before pub_open(). */
	for (unsigned int i = 0; i < nsub; i++) {
		mq_name(name, sizeof(name), "s", i);
		mq_unlink(name);
	}
	free(tab);
	tab = NULL;
	ntab = nsub = 0;
}

const struct bench_peer peer_mqueue = {
	.name		= "mqueue",
	.workloads	= W_ALL,
	.setup		= mqueue_setup,
	.sub_open	= mqueue_sub_open,
	.sub_recv	= mqueue_sub_recv,
	.add_others	= mqueue_add_others,
	.pub_open	= mqueue_pub_open,
	.publish	= mqueue_publish,
	.pub_close	= mqueue_pub_close,
	.teardown	= mqueue_teardown,
};
