// SPDX-License-Identifier: GPL-2.0
/*
 * Reproducer (found with tests/fuzz/ioctl_fuzz): a revoking policy change
 * spins forever once a reader's ring is full of EVBUS_REC_REVOKED notices.
 *
 *   make build/fuzz/revoke_notices
 *   tests/vm/run -- build/fuzz/revoke_notices
 *
 * REVOKED notices are never evicted (ring.c, evbus_ring_evictable()), and
 * evbus_ring_put_revoked() waits for room with cond_resched() until a
 * reader reads or the revoker gets a fatal signal.  It does so from
 * evbus_policy_revoke(), holding policy.lock, bus.files_lock and the
 * reader's evbus_file.lock.  So with a 4 KiB ring that nobody reads, 171
 * revoked subscriptions (three revoking changes of 64) make the third
 * change never return: the owner's thread runs at 100% in the kernel, and
 * every open() and close() of a file of the bus blocks on files_lock --
 * open() inside misc_open(), holding the global misc_mtx, so opens of
 * every other misc device on the system (/dev/cpu_dma_latency, /dev/fuse,
 * /dev/loop-control, ...) block too.  The reader cannot even close its
 * file to let go.  Only SIGKILL of the revoker (or a read()) ends it.
 *
 * Exit 1 and "HANG" when the bug is there, 0 when the third change returns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/evbus.h>

/* Wait up to ms for pid; true if it exited. */
static int waited(pid_t pid, int ms)
{
	int st;

	for (; ms > 0; ms -= 100) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return 1;
		usleep(100000);
	}
	return 0;
}

static void show(const char *what, pid_t pid, const char *file)
{
	char path[64], buf[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	printf("  %s:\n", what);
	while (f && fgets(buf, sizeof(buf), f)) {
		char *st = strstr(buf, ") ");

		if (!strcmp(file, "stat") && st)	/* pid (comm) STATE ... */
			printf("      state %c\n", st[2]);
		else
			printf("      %s", buf);
	}
	if (f)
		fclose(f);
}

int main(void)
{
	int reader = open("/dev/evbus", O_RDWR | O_CLOEXEC);
	int owner = open("/dev/evbus", O_RDWR | O_CLOEXEC);
	struct evbus_ring_cfg c = { .size = 4096 };
	struct evbus_policy_set clear = { .op = EVBUS_POLICY_OP_CLEAR };
	int round, i;

	if (reader < 0 || owner < 0 || ioctl(reader, EVBUS_IOC_SET_RING, &c)) {
		perror("revoke_notices: setup");
		return 2;
	}
	for (round = 0; round < 4; round++) {
		char pat[16];
		struct evbus_sub s = { .pattern = (uintptr_t)pat };
		int n = 0;
		pid_t pid;

		/* The reader subscribes 64 times and never reads. */
		for (i = 0; i < 64; i++) {
			s.pattern_len = (uint32_t)snprintf(pat, sizeof(pat), "r.%d", i);
			n += !ioctl(reader, EVBUS_IOC_SUBSCRIBE, &s);
		}
		/* The owner denies "r.>" with EVBUS_POLICY_REVOKE: 64 notices. */
		pid = fork();
		if (!pid) {
			struct evbus_rule r = {
				.pattern = (uintptr_t)"r.>", .pattern_len = 3,
				.verdict = EVBUS_DENY, .rights = EVBUS_RIGHT_SUBSCRIBE,
				.who = EVBUS_WHO_ALL, .flags = EVBUS_POLICY_REVOKE,
			};

			_exit(ioctl(owner, EVBUS_IOC_POLICY_ADD, &r) ? 1 : 0);
		}
		printf("round %d: %d subscriptions, revoking change (%d notices queued so far)\n",
		       round, n, 64 * round);
		if (!waited(pid, 10000)) {
			pid_t o;

			printf("HANG: the revoking POLICY_ADD has not returned in 10 s; a 4 KiB ring holds %d notices\n",
			       4096 / (int)sizeof(struct evbus_revoked));
			show("the revoker (R: running, in the kernel)", pid, "stat");
			o = fork();
			if (!o)
				_exit(open("/dev/evbus", O_RDONLY) < 0);
			if (!waited(o, 3000))
				show("open(\"/dev/evbus\") from another process, blocked", o, "stack");
			o = fork();
			if (!o)
				_exit(open("/dev/cpu_dma_latency", O_RDONLY) < 0);
			if (!waited(o, 3000))
				show("open(\"/dev/cpu_dma_latency\") (another misc device), blocked", o, "stack");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			printf("SIGKILL of the revoker ended it\n");
			ioctl(owner, EVBUS_IOC_POLICY_SET, &clear);
			return 1;
		}
		ioctl(owner, EVBUS_IOC_POLICY_SET, &clear);
	}
	printf("no hang: every revoking change returned\n");
	return 0;
}
