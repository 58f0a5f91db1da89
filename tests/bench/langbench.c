// SPDX-License-Identifier: GPL-2.0
/*
 * The bindings' bench rows (issue #18): M reader processes running the
 * AEGIS subscriber loop, in C (tests/bench/aegis_loop.c), Rust (tokio)
 * or Python (asyncio), each started as
 *
 *   CMD... --bench N --pattern aegis.task.> --ring BYTES [--lossless MS]
 *
 * and one publisher here publishing N events of SIZE bytes, one
 * evbus_publish() each, on aegis.task.started and aegis.task.completed
 * in turn (the topics the loop dispatches on).  With --lossless (the default, 1000 ms) the
 * readers' rings are lossless and the publisher has their euid, so it
 * waits for the slowest reader instead of losing events: the time from
 * the first publish to the last reader's exit is the readers' pace.
 *
 *   langbench --peer NAME --n N [--m M] [--size S] [--ring BYTES]
 *             [--lossless MS] [--workload bindings] -- CMD [ARGS...]
 *
 * Prints one JSON line: delivered events/s over all readers and guest ns
 * per delivery (under icount, 1 ns is one instruction).  Exit 1 if a
 * reader failed or counts do not add up (lossless readers lose nothing).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "evbus.h"

#define MAXM 64

struct reader {
	pid_t pid;
	FILE *out;
	unsigned long long delivered, lost, bytes;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int start(struct reader *r, char **cmd, int ncmd, char **extra)
{
	char *argv[64];
	int fds[2], i, k = 0;

	if (ncmd + 9 > 64 || pipe(fds))
		return -1;
	for (i = 0; i < ncmd; i++)
		argv[k++] = cmd[i];
	for (i = 0; extra[i]; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	r->pid = fork();
	if (r->pid < 0)
		return -1;
	if (!r->pid) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	close(fds[1]);
	r->out = fdopen(fds[0], "r");
	return r->out ? 0 : -1;
}

static int expect_line(struct reader *r, const char *what, char *line, size_t len)
{
	if (!fgets(line, (int)len, r->out)) {
		fprintf(stderr, "langbench: reader %d: no %s line\n", (int)r->pid, what);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *peer = "c", *workload = "bindings";
	unsigned long n = 0, m = 16, size = 64, ring = 65536, lossless_ms = 1000;
	char nbuf[32], ringbuf[32], lbuf[32], line[256], payload[65536];
	struct reader rd[MAXM] = { 0 };
	unsigned long long t0, t_pub, t1, delivered = 0, lost = 0;
	char *extra[9];
	struct evbus *bus;
	int i, k = 0, ret, bad = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(argv[i], "--peer")) peer = v;
		else if (!strcmp(argv[i], "--n")) n = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--m")) m = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--size")) size = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--ring")) ring = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--lossless")) lossless_ms = strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--workload")) workload = v;
		else break;
	}
	if (i >= argc || strcmp(argv[i], "--") || i + 1 >= argc || !n || !m || m > MAXM ||
	    size > sizeof(payload)) {
		fprintf(stderr, "usage: langbench --peer NAME --n N [--m M] [--size S] [--ring BYTES] [--lossless MS] -- CMD [ARGS...]\n");
		return 2;
	}
	snprintf(nbuf, sizeof(nbuf), "%lu", n);
	snprintf(ringbuf, sizeof(ringbuf), "%lu", ring);
	snprintf(lbuf, sizeof(lbuf), "%lu", lossless_ms);
	extra[k++] = "--bench"; extra[k++] = nbuf;
	extra[k++] = "--pattern"; extra[k++] = "aegis.task.>";
	extra[k++] = "--ring"; extra[k++] = ringbuf;
	if (lossless_ms) {
		extra[k++] = "--lossless";
		extra[k++] = lbuf;
	}
	extra[k] = NULL;
	signal(SIGPIPE, SIG_IGN);
	for (k = 0; k < (int)m; k++)
		if (start(&rd[k], argv + i + 1, argc - i - 1, extra) ||
		    expect_line(&rd[k], "ready", line, sizeof(line)) || strcmp(line, "ready\n")) {
			fprintf(stderr, "langbench: reader %d did not start\n", k);
			return 1;
		}
	ret = evbus_open(&bus, NULL);
	if (ret) {
		fprintf(stderr, "langbench: open: %s\n", strerror(-ret));
		return 1;
	}
	memset(payload, 'p', size);
	t0 = now_ns();
	for (unsigned long e = 0; e < n; e++) {
		/* Both arms of the loop's match, in turn. */
		ret = evbus_publish(bus, e & 1 ? "aegis.task.completed" : "aegis.task.started",
				    payload, size, NULL, NULL);
		if (ret) {
			fprintf(stderr, "langbench: publish: %s\n", strerror(-ret));
			return 1;
		}
	}
	t_pub = now_ns();
	for (k = 0; k < (int)m; k++) {
		int st;

		if (expect_line(&rd[k], "result", line, sizeof(line)) ||
		    sscanf(line, "delivered=%llu lost=%llu bytes=%llu", &rd[k].delivered,
			   &rd[k].lost, &rd[k].bytes) != 3)
			bad = 1;
		waitpid(rd[k].pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
		delivered += rd[k].delivered;
		lost += rd[k].lost;
		if (rd[k].delivered + rd[k].lost != n || (lossless_ms && rd[k].lost))
			bad = 1;
	}
	t1 = now_ns();
	printf("{\"workload\":\"%s\",\"peer\":\"%s\",\"m\":%lu,\"payload\":%lu,\"n\":%lu,"
	       "\"ring\":%lu,\"lossless_ms\":%lu,\"delivered\":%llu,\"lost\":%llu,"
	       "\"guest_ns\":%llu,\"publish_ns\":%llu,\"delivered_per_s\":%.0f,"
	       "\"ns_per_delivery\":%.1f,\"ok\":%s}\n",
	       workload, peer, m, size, n, ring, lossless_ms, delivered, lost, t1 - t0,
	       t_pub - t0, delivered * 1e9 / (double)(t1 - t0),
	       delivered ? (double)(t1 - t0) / (double)delivered : 0.0, bad ? "false" : "true");
	evbus_close(bus);
	if (bad)
		fprintf(stderr, "langbench: a reader failed or lost events (delivered %llu, lost %llu of %lu x %lu)\n",
			delivered, lost, n, m);
	return bad;
}
