// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile user with filters.  Unprivileged uid 65534 attaches the
 * longest classic BPF program allowed (EVBUS_FILTER_MAX_INSNS), one that
 * reads the whole filter window and refuses every event, to as many
 * subscriptions as its caps allow, all matching one topic.  Another user
 * (root) then publishes on that topic.  What this shows:
 *  - the attacker's filtered subscriptions count against max_user_subs
 *    like any other: it gets exactly that many, then ENOSPC;
 *  - every one of root's publishes completes and reaches root's own
 *    reader, and each runs each attacker filter exactly once (the bus's
 *    "filtered" counter grows by subscriptions x publishes, no more), so
 *    the work one user's filters add to another's publish is bounded by
 *    max_user_subs x EVBUS_FILTER_MAX_INSNS instructions;
 *  - nothing reaches the attacker's rings.
 * max_user_subs is lowered for the test (and restored) so that the bound,
 * not the emulator's speed, decides how long it takes.
 */
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <linux/filter.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define ATTACKER_UID	65534
#define USER_SUBS	256	/* max_user_subs during the test */
#define SEGMENTS	20
#define PUBLISHES	4

/* Pattern i: 20 segments, '*' where bit (j % 16) of i is set, else 'a'. */
static void make_pattern(char *buf, unsigned int i)
{
	char *p = buf;

	for (int j = 0; j < SEGMENTS; j++) {
		*p++ = (i >> (j % 16)) & 1 ? '*' : 'a';
		*p++ = j == SEGMENTS - 1 ? '\0' : '.';
	}
}

/* The longest program: loads across the whole window, then "refuse". */
static void make_program(struct sock_filter *prog)
{
	for (int i = 0; i < EVBUS_FILTER_MAX_INSNS - 1; i++)
		prog[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						       (i * 4) % EVBUS_FILTER_WINDOW);
	prog[EVBUS_FILTER_MAX_INSNS - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
}

static int sub_filtered(int fd, const char *pattern, struct sock_filter *prog)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = EVBUS_SUB_FILTER;
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	s.filter = (uintptr_t)prog;
	s.filter_len = EVBUS_FILTER_MAX_INSNS;
	return ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &s) ? -errno : (int)s.sub_id;
}

static int bus_stats(int fd, struct evbus_bus_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, EVBUS_IOC_BUS_STATS, st) ? -errno : 0;
}

/*
 * The attacker: subscribe with the filter until ENOSPC, report how many
 * through the pipe, and hold everything until killed.
 */
static void attacker(int report, unsigned long long max_subs)
{
	static struct sock_filter prog[EVBUS_FILTER_MAX_INSNS];
	char pat[2 * SEGMENTS];
	unsigned int n = 0;
	int fd = -1, ret = 0;

	if (setgroups(0, NULL) || setresgid(ATTACKER_UID, ATTACKER_UID, ATTACKER_UID) ||
	    setresuid(ATTACKER_UID, ATTACKER_UID, ATTACKER_UID))
		_exit(2);
	make_program(prog);
	for (;;) {
		if (fd < 0 || (n && n % max_subs == 0)) {
			fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				_exit(3);
		}
		make_pattern(pat, n);
		ret = sub_filtered(fd, pat, prog);
		if (ret < 0)
			break;
		n++;
	}
	if (write(report, &n, sizeof(n)) != sizeof(n) ||
	    write(report, &ret, sizeof(ret)) != sizeof(ret))
		_exit(4);
	for (;;)
		pause();
}

FIXTURE(hostile_filters) {
	unsigned long long saved_user_subs;
	mode_t saved_mode;
};

FIXTURE_SETUP(hostile_filters)
{
	struct stat st;

	ASSERT_EQ(0, stat(EVBUS_DEV, &st));
	self->saved_mode = st.st_mode & 07777;
	ASSERT_EQ(0, evt_param_get("max_user_subs", &self->saved_user_subs));
	ASSERT_EQ(0, evt_param_set("max_user_subs", USER_SUBS));
	/* A bus of this test's own; uid 65534 may open the device. */
	ASSERT_EQ(0, unshare(CLONE_NEWIPC));
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
}

FIXTURE_TEARDOWN(hostile_filters)
{
	chmod(EVBUS_DEV, self->saved_mode);
	evt_param_set("max_user_subs", self->saved_user_subs);
}

TEST_F_TIMEOUT(hostile_filters, bounded_by_the_attackers_caps, 300)
{
	struct evbus_bus_stats before, after;
	unsigned long long max_subs = 1;
	int pipefd[2], fd, ret, err;
	char topic[2 * SEGMENTS], buf[4096];
	unsigned int n;
	pid_t pid;

	ASSERT_EQ(0, evt_param_get("max_subs", &max_subs));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pipefd[0]);
		attacker(pipefd[1], max_subs);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(n), read(pipefd[0], &n, sizeof(n)));
	ASSERT_EQ(sizeof(err), read(pipefd[0], &err, sizeof(err)));
	close(pipefd[0]);
	EXPECT_EQ(-ENOSPC, err);
	EXPECT_EQ(USER_SUBS, n);

	fd = evt_open();
	ASSERT_LE(0, fd);
	make_pattern(topic, 0);		/* a.a...a, matched by every pattern */
	ASSERT_LT(0, evt_sub(fd, topic));
	ASSERT_EQ(0, bus_stats(fd, &before));
	for (int i = 0; i < PUBLISHES; i++)
		ASSERT_LT(0, evt_pub(fd, topic, "x"));
	ASSERT_EQ(0, bus_stats(fd, &after));
	EXPECT_EQ((uint64_t)n * PUBLISHES, after.filtered - before.filtered);
	EXPECT_EQ(PUBLISHES, after.published - before.published);
	/* Root's reader got all of them; the attacker's rings nothing. */
	EXPECT_EQ(PUBLISHES, after.queued_events);
	ret = read(fd, buf, sizeof(buf));
	EXPECT_LT(0, ret);
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST_HARNESS_MAIN
