// SPDX-License-Identifier: GPL-2.0
/*
 * Resource limits: what one user can make the kernel allocate is bounded by
 * module parameters (files and ring memory per user, ring size and
 * subscriptions per file), and ring memory is charged to the opener's
 * memory cgroup, so a small memory.max makes ring allocations fail with
 * ENOMEM inside that cgroup while the rest of the system is untouched.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define PARAM_DIR	"/sys/module/evbus/parameters/"
#define CGROOT		"/sys/fs/cgroup"
#define CGTEST		CGROOT "/evbus-limits"
#define STATS_DIR	"/sys/kernel/evbus/stats/"

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

TEST(files_per_user_are_capped)
{
	int fds[4];

	ASSERT_EQ(0, write_str(PARAM_DIR "max_user_files", "3"));
	for (int i = 0; i < 3; i++) {
		fds[i] = evt_open();
		EXPECT_LE(0, fds[i]);
	}
	EXPECT_EQ(-1, evt_open());
	EXPECT_EQ(EMFILE, errno);
	close(fds[0]);
	fds[0] = evt_open();
	EXPECT_LE(0, fds[0]);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	ASSERT_EQ(0, write_str(PARAM_DIR "max_user_files", "1024"));
}

TEST(ring_memory_per_user_is_capped)
{
	struct evbus_stats st;
	int a = evt_open(), b = evt_open(), c = evt_open();
	int status;
	pid_t pid;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, write_str(PARAM_DIR "max_user_ring_bytes", "1048576"));
	EXPECT_EQ(0, evt_set_ring(a, 512 << 10, 0));
	EXPECT_EQ(0, evt_set_ring(b, 512 << 10, 0));
	/* The user is at the cap: no more ring, by SET_RING or by subscribe. */
	EXPECT_EQ(-EDQUOT, evt_set_ring(c, 4096, 0));
	EXPECT_EQ(-EDQUOT, evt_sub(c, "limits.user"));
	ASSERT_EQ(0, evt_stats(c, &st));
	EXPECT_EQ(0, st.capacity);
	EXPECT_EQ(0, st.subscriptions);
	/* Shrinking one ring frees room; growing back past the cap fails. */
	EXPECT_EQ(0, evt_set_ring(a, 4096, 0));
	EXPECT_EQ(0, evt_set_ring(c, 256 << 10, 0));
	EXPECT_EQ(-EDQUOT, evt_set_ring(a, 512 << 10, 0));
	ASSERT_EQ(0, evt_stats(a, &st));
	EXPECT_EQ(4096, st.capacity);

	/* Another user is not affected by this one's usage. */
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (setresgid(4321, 4321, 4321) || setresuid(1234, 1234, 1234))
			_exit(2);
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		_exit(evt_set_ring(fd, 1 << 20, 0) ? 4 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0660));

	close(a);
	close(b);
	close(c);
	ASSERT_EQ(0, write_str(PARAM_DIR "max_user_ring_bytes", "268435456"));
	/* Closing gave everything back: a full-size ring fits again. */
	a = evt_open();
	EXPECT_EQ(0, evt_set_ring(a, 16 << 20, 0));
	close(a);
}

TEST(ring_size_and_subscriptions_per_file_are_bounded)
{
	int fd = evt_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, (16 << 20) + 1, 0));
	ASSERT_EQ(0, write_str(PARAM_DIR "ring_max", "65536"));
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 131072, 0));
	EXPECT_EQ(0, evt_set_ring(fd, 65536, 0));
	ASSERT_EQ(0, write_str(PARAM_DIR "ring_max", "16777216"));
	ASSERT_EQ(0, write_str(PARAM_DIR "max_subs", "2"));
	EXPECT_LT(0, evt_sub(fd, "limits.a"));
	EXPECT_LT(0, evt_sub(fd, "limits.b"));
	EXPECT_EQ(-ENOSPC, evt_sub(fd, "limits.c"));
	ASSERT_EQ(0, write_str(PARAM_DIR "max_subs", "64"));
	close(fd);
}

/*
 * Ring sizes are powers of two, so ring_max is never exceeded by rounding
 * up a request: a bound that is not one is refused, the old value stays,
 * and VERSION reports the bound rings really get.
 */
TEST(ring_limits_are_powers_of_two)
{
	struct evbus_version v;
	struct evbus_stats st;
	int fd = evt_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, write_str(PARAM_DIR "ring_max", "12582912"));
	EXPECT_EQ(-EINVAL, write_str(PARAM_DIR "ring_min", "5000"));
	EXPECT_EQ(-EINVAL, write_str(PARAM_DIR "ring_default", "100000"));
	EXPECT_EQ(16 << 20, evt_read_num(PARAM_DIR "ring_max"));
	EXPECT_EQ(4096, evt_read_num(PARAM_DIR "ring_min"));
	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_EQ(16u << 20, v.ring_max);
	EXPECT_EQ(0, v.ring_max & (v.ring_max - 1));
	/* With ring_max 8 MiB, 6 MiB rounds up to 8 MiB and 12 MiB is refused. */
	EXPECT_EQ(0, write_str(PARAM_DIR "ring_max", "8388608"));
	EXPECT_EQ(-EINVAL, evt_set_ring(fd, 12 << 20, 0));
	EXPECT_EQ(0, evt_set_ring(fd, 6 << 20, 0));
	EXPECT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(8u << 20, st.capacity);
	/* Whatever happened above, the defaults come back. */
	write_str(PARAM_DIR "ring_min", "4096");
	write_str(PARAM_DIR "ring_default", "131072");
	EXPECT_EQ(0, write_str(PARAM_DIR "ring_max", "16777216"));
	close(fd);
}

/*
 * A SUBSCRIBE that fails after its ring was set up (here: sub_id cannot
 * be written back) leaves the file as it was: no ring, nothing charged.
 */
TEST(failed_subscribe_leaves_no_ring)
{
	long long ring_bytes = evt_read_num(STATS_DIR "ring_bytes");
	struct evbus_stats st;
	struct evbus_sub *s;
	const char *pat = "lim.efault";
	int fd = evt_open();

	ASSERT_LE(0, fd);
	s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	memset(s, 0, sizeof(*s));
	s->pattern = (uintptr_t)pat;
	s->pattern_len = strlen(pat);
	ASSERT_EQ(0, mprotect(s, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_SUBSCRIBE, s));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.capacity);
	EXPECT_EQ(0, st.subscriptions);
	EXPECT_EQ(ring_bytes, evt_read_num(STATS_DIR "ring_bytes"));
	/* The file still works, and its first id is still 1. */
	EXPECT_EQ(1, evt_sub(fd, pat));
	munmap(s, 4096);
	close(fd);
}

/*
 * What a publish stages (the batch's descriptors, topics and payloads) is
 * charged to the caller's memory cgroup: a 1 MiB payload cannot be staged
 * in a cgroup with memory.max = 512 KiB (ENOMEM, no OOM kill), and can
 * outside it.
 */
TEST(publish_staging_is_charged_to_the_memory_cgroup)
{
	static char payload[1 << 20];
	int status, fd;
	char pidbuf[32];
	pid_t pid;

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no cgroup2 at " CGROOT);
	if (write_str(CGROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "memory controller unavailable");
	ASSERT_EQ(0, write_str(PARAM_DIR "max_payload", "1048576"));
	memset(payload, 'x', sizeof(payload));	/* faulted in out here */
	rmdir(CGTEST);
	ASSERT_EQ(0, mkdir(CGTEST, 0755));
	ASSERT_EQ(0, write_str(CGTEST "/memory.max", "524288"));
	fd = evt_open();
	ASSERT_LE(0, fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (write_str(CGTEST "/cgroup.procs", pidbuf))
			_exit(2);
		if (evt_pub_full(fd, "lim.stage", payload, sizeof(payload),
				 0, 0, 0) != -ENOMEM)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_LT(0, evt_pub_full(fd, "lim.stage", payload, sizeof(payload),
				  0, 0, 0));
	close(fd);
	EXPECT_EQ(0, write_str(PARAM_DIR "max_payload", "65536"));
	EXPECT_EQ(0, rmdir(CGTEST));
}

/*
 * A child in a cgroup with memory.max = 8 MiB cannot get a 16 MiB ring
 * (ENOMEM) nor pile up rings past the limit; the parent, outside, can.
 */
TEST(rings_are_charged_to_the_memory_cgroup)
{
	int status, outside;
	char pidbuf[32];
	pid_t pid;

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no cgroup2 at " CGROOT);
	if (write_str(CGROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "memory controller unavailable");
	rmdir(CGTEST);
	ASSERT_EQ(0, mkdir(CGTEST, 0755));
	ASSERT_EQ(0, write_str(CGTEST "/memory.max", "8388608"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fds[16], n = 0, fd;

		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (write_str(CGTEST "/cgroup.procs", pidbuf))
			_exit(2);
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		if (evt_set_ring(fd, 16 << 20, 0) != -ENOMEM)
			_exit(4);
		/* 1 MiB rings fit until the cgroup is full, then ENOMEM. */
		for (n = 0; n < 16; n++) {
			fds[n] = evt_open();
			if (fds[n] < 0 || evt_set_ring(fds[n], 1 << 20, 0))
				break;
		}
		if (n == 0 || n == 16)
			_exit(5);
		if (evt_set_ring(fds[n], 1 << 20, 0) != -ENOMEM)
			_exit(6);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Outside the cgroup a 16 MiB ring is fine. */
	outside = evt_open();
	ASSERT_LE(0, outside);
	EXPECT_EQ(0, evt_set_ring(outside, 16 << 20, 0));
	close(outside);
	EXPECT_EQ(0, rmdir(CGTEST));
}

TEST_HARNESS_MAIN
