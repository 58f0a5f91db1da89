// SPDX-License-Identifier: GPL-2.0
/*
 * The pipe peer of the fan-out benchmark: direct fan-out, no broker.
 *
 * The publisher keeps a table of (pipe, topic) and, per publish call, frames
 * the batch once (struct bench_frame messages back to back) and writes it
 * with one write() to the pipe of every subscriber whose topic matches (a
 * string compare per table entry, as a table-driven user-space fan-out
 * does).  Pipes get --ring bytes (F_SETPIPE_SZ, best effort).
 * Others (--k): K more pipes in the table, topics "other.<i>", read ends
 * closed (never written: they never match).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct target {
	int fd;			/* write end */
	char topic[24];
};

static struct target *targets;
static unsigned int ntargets, nsubs;
static int *read_ends;		/* subscribers', until they are forked */
static char *msgs;		/* a framed batch */
static size_t msg_len;

static int pipe_setup(unsigned int m)
{
	targets = calloc(m, sizeof(*targets));
	read_ends = calloc(m, sizeof(*read_ends));
	msg_len = bench_frame_len(BENCH_TOPIC);
	msgs = aligned_alloc(8, msg_len * opt.batch);
	if (!targets || !read_ends || !msgs)
		return -ENOMEM;
	for (nsubs = 0; nsubs < m; nsubs++) {
		int fds[2];

		if (pipe2(fds, O_CLOEXEC))
			return -errno;
		fcntl(fds[1], F_SETPIPE_SZ, opt.ring);	/* best effort */
		read_ends[nsubs] = fds[0];
		targets[nsubs].fd = fds[1];
		strcpy(targets[nsubs].topic, BENCH_TOPIC);
	}
	ntargets = nsubs;
	return 0;
}

/* Keep only our read end, so we see EOF when the publisher closes. */
static void *pipe_sub_open(unsigned int i)
{
	for (unsigned int j = 0; j < nsubs; j++) {
		close(targets[j].fd);
		if (j != i)
			close(read_ends[j]);
	}
	return bench_stream_new(read_ends[i]);
}

static int pipe_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			 uint64_t *calls)
{
	return bench_stream_recv(ctx, rx, max, calls);
}

static int pipe_add_others(unsigned int k)
{
	struct target *t = realloc(targets, (nsubs + k) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	targets = t;
	for (; ntargets < nsubs + k; ntargets++) {
		int fds[2];

		if (pipe2(fds, O_CLOEXEC))
			return -errno;
		close(fds[0]);
		targets[ntargets].fd = fds[1];
		snprintf(targets[ntargets].topic, sizeof(targets[ntargets].topic),
			 "other.%u", ntargets - nsubs);
	}
	return 0;
}

/* The subscribers have their read ends now. */
static int pipe_pub_open(void)
{
	for (unsigned int i = 0; i < nsubs; i++)
		close(read_ends[i]);
	return 0;
}

static int pipe_publish(void *const *payload, unsigned int count,
			uint64_t *calls)
{
	size_t tl = strlen(BENCH_TOPIC);
	int ret;

	bench_frames_build(msgs, BENCH_TOPIC, payload, count);
	for (unsigned int i = 0; i < ntargets; i++) {
		if (strlen(targets[i].topic) != tl ||
		    memcmp(targets[i].topic, BENCH_TOPIC, tl))
			continue;
		ret = bench_write_all(targets[i].fd, msgs, msg_len * count, calls);
		if (ret)
			return ret;
	}
	return 0;
}

/* Subscribers see EOF. */
static void pipe_pub_close(void)
{
	for (unsigned int i = 0; i < ntargets; i++)
		close(targets[i].fd);
	ntargets = 0;
}

static void pipe_teardown(void)
{
	pipe_pub_close();
	free(targets);
	free(read_ends);
	free(msgs);
	targets = NULL;
	read_ends = NULL;
	msgs = NULL;
}

const struct bench_peer peer_pipe = {
	.name = "pipe",
	.workloads = W_ALL,
	.setup = pipe_setup,
	.sub_open = pipe_sub_open,
	.sub_recv = pipe_sub_recv,
	.add_others = pipe_add_others,
	.pub_open = pipe_pub_open,
	.publish = pipe_publish,
	.pub_close = pipe_pub_close,
	.teardown = pipe_teardown,
};
