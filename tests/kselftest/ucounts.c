// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user caps across user namespaces.  The caps on open files
 * (max_user_files, EMFILE), subscriptions (max_user_subs, ENOSPC) and ring
 * memory (max_user_ring_bytes, EDQUOT) are charged like the kernel's
 * ucounts for inotify instances: to (opener's user namespace, euid) and, at
 * every ancestor level, to (parent namespace, owner of the child namespace),
 * each level enforcing the same cap.
 *
 * So uid 65534, which creates a user namespace and gets 64 subordinate uids
 * mapped into it by root, can hold no more in total, across every uid
 * inside, than it could hold alone: exactly the cap, then the error.  While
 * the namespace holds the cap, 65534 itself (outside) is at the cap too and
 * another uid is not; once the namespace's files are closed, 65534 has its
 * whole cap back.
 *
 * Every test lowers a cap to a small number and restores the parameters
 * (and the device's mode) when it ends, on failure too; the runner process
 * restores them once more at exit.
 */
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define OTHER_UID	1234
#define NS_BASE		200000	/* outside uid of inside uid 0 */
#define NS_COUNT	64	/* uids mapped into the namespace */

/* ------------------------------------------------ saved system state */

static const char *const saved_names[] = {
	"max_user_files", "max_user_subs", "max_user_ring_bytes",
};
#define NSAVED (sizeof(saved_names) / sizeof(saved_names[0]))

#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

static struct {
	pid_t runner;
	int have[NSAVED];
	unsigned long long val[NSAVED];
	int have_mode;
	mode_t mode;
	char userns_clone[8];	/* "" if the sysctl does not exist */
} saved;

static void read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, cap - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
}

static void __attribute__((constructor)) save_state(void)
{
	struct stat st;

	saved.runner = getpid();
	for (size_t i = 0; i < NSAVED; i++)
		saved.have[i] = !evt_param_get(saved_names[i], &saved.val[i]);
	if (!stat(EVBUS_DEV, &st)) {
		saved.have_mode = 1;
		saved.mode = st.st_mode & 07777;
	}
	read_text(USERNS_CLONE, saved.userns_clone, sizeof(saved.userns_clone));
}

/* Put back every parameter and mode this file may have changed. */
static void restore_state(void)
{
	for (size_t i = 0; i < NSAVED; i++)
		if (saved.have[i])
			evt_param_set(saved_names[i], saved.val[i]);
	if (saved.have_mode)
		chmod(EVBUS_DEV, saved.mode);
	if (saved.userns_clone[0])
		evt_write_text(USERNS_CLONE, saved.userns_clone);
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------- the workers */

enum op {
	OP_OPEN,	/* one more open file: EMFILE past max_user_files */
	OP_SUB,		/* one more subscription: ENOSPC past max_user_subs */
	OP_RING,	/* a fresh file's first SUBSCRIBE allocates a ring:
			 * EDQUOT past max_user_ring_bytes */
};

static const int op_errno[] = {
	[OP_OPEN] = EMFILE, [OP_SUB] = ENOSPC, [OP_RING] = EDQUOT,
};

static const char *const op_name[] = {
	[OP_OPEN] = "open", [OP_SUB] = "subscribe", [OP_RING] = "ring",
};

/* What a worker reports to the test. */
struct result {
	int setup;	/* 0, or the step that failed before the loop */
	int setup_errno;
	int ok;		/* operations that succeeded before the first failure */
	int err;	/* errno of the first failure (0: none within bound) */
	int others;	/* uids that, after it, also failed with err */
	int per_uid[8];	/* successes per uid */
};

#define MAX_UIDS 8

/* Per-uid state of a worker: the file OP_SUB subscribes on. */
struct uid_state {
	int fd;
	int next;
};

/* One operation as the current euid: 0 or errno. */
static int do_op(enum op op, struct uid_state *u, int uid_idx)
{
	char pat[64];
	int fd, ret;

	switch (op) {
	case OP_OPEN:
		fd = evt_open();
		return fd < 0 ? errno : 0;
	case OP_SUB:
		if (u->fd < 0) {
			u->fd = evt_open();
			if (u->fd < 0)
				return 1000 + errno;	/* not the cap under test */
		}
		snprintf(pat, sizeof(pat), "ucounts.sub.u%d.p%d", uid_idx, u->next++);
		ret = evt_sub(u->fd, pat);
		return ret < 0 ? -ret : 0;
	case OP_RING:
		fd = evt_open();
		if (fd < 0)
			return 1000 + errno;
		snprintf(pat, sizeof(pat), "ucounts.ring.u%d.p%d", uid_idx, u->next++);
		ret = evt_sub(fd, pat);
		return ret < 0 ? -ret : 0;
	}
	return EINVAL;
}

/* Make uids[i] the effective uid (inside the namespace; ruid/suid stay 0). */
static int become(const int *uids, int i, int in_ns)
{
	if (!in_ns)
		return 0;
	if (setresuid(-1, 0, -1))
		return -1;
	return uids[i] ? setresuid(-1, uids[i], -1) : 0;
}

/*
 * The loop: round-robin over uids, one op each, until the first failure
 * or bound attempts; then every uid tries once more (all must fail the
 * same way).  Files stay open.
 */
static void run_ops(enum op op, const int *uids, int nuids, int in_ns,
		    int bound, struct result *r)
{
	struct uid_state st[MAX_UIDS];
	int i, e;

	for (i = 0; i < nuids; i++) {
		st[i].fd = -1;
		st[i].next = 0;
	}
	for (i = 0; i < bound; i++) {
		int k = i % nuids;

		if (become(uids, k, in_ns)) {
			r->setup = 20;
			r->setup_errno = errno;
			return;
		}
		e = do_op(op, &st[k], k);
		if (e) {
			r->err = e;
			break;
		}
		r->ok++;
		r->per_uid[k]++;
	}
	if (!r->err)
		return;
	for (i = 0; i < nuids; i++) {
		if (become(uids, i, in_ns)) {
			r->setup = 21;
			r->setup_errno = errno;
			return;
		}
		if (do_op(op, &st[i], i) == r->err)
			r->others++;
	}
	become(uids, 0, in_ns);
}

static int wait_byte(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	return read(fd, &c, 1) == 1;
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void drop_to(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		_exit(2);
}

/* A process as uid (no namespace) tries op once: 0 or errno (-1: broken). */
static int probe_as(uid_t uid, enum op op)
{
	struct uid_state st = { .fd = -1 };
	int p[2], e = -1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		alarm(20);
		drop_to(uid);
		e = do_op(op, &st, 7);
		_exit(write(p[1], &e, sizeof(e)) == sizeof(e) ? 0 : 3);
	}
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) != sizeof(e))
		e = -1;
	close(p[0]);
	if (wait_status(pid))
		e = -1;
	return e;
}

/*
 * Worker child: as NOBODY, optionally in a new user namespace whose maps
 * the test writes (it reports 'u' on ready once unshared and waits for a
 * byte on go), runs the loop over uids and reports a struct result on
 * res.  It keeps its files open until go is closed, then exits.
 * Exit 4: unshare gave EINVAL (no user namespaces).
 */
static pid_t worker(enum op op, const int *uids, int nuids, int in_ns,
		    int bound, int ready_w, const int go[2], int res_w)
{
	pid_t pid = fork();
	int go_r = go[0];

	if (pid)
		return pid;
	close(go[1]);	/* EOF on go must mean the test is done */

	struct result r;
	struct rlimit rl = { 4096, 4096 };
	char c;

	memset(&r, 0, sizeof(r));
	alarm(60);
	setrlimit(RLIMIT_NOFILE, &rl);
	drop_to(NOBODY);
	if (in_ns) {
		if (unshare(CLONE_NEWUSER)) {
			if (errno == EINVAL)
				_exit(4);
			r.setup = 10;
			r.setup_errno = errno;
			goto report;
		}
		if (write(ready_w, "u", 1) != 1 || !wait_byte(go_r, 20000)) {
			r.setup = 11;
			goto report;
		}
		if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) {
			r.setup = 12;
			r.setup_errno = errno;
			goto report;
		}
	}
	run_ops(op, uids, nuids, in_ns, bound, &r);
report:
	if (write(res_w, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	/* Hold everything until the test is done looking. */
	while (read(go_r, &c, 1) > 0)
		;
	_exit(0);
}

/* ---------------------------------------------------------- the tests */

FIXTURE(ucounts) {
	unsigned int ring_default;
};

FIXTURE_SETUP(ucounts)
{
	struct evbus_version v;
	int fd;

	/* A test that timed out may have left a lowered cap behind. */
	restore_state();
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
	fd = evt_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_version(fd, &v));
	close(fd);
	self->ring_default = v.ring_default;
	ASSERT_LT(0, self->ring_default);
}

FIXTURE_TEARDOWN(ucounts)
{
	restore_state();
}

/* Set the cap op is about to cap(-1 on failure to set it). */
static int set_cap(enum op op, unsigned long long n)
{
	static const char *const param[] = {
		[OP_OPEN] = "max_user_files", [OP_SUB] = "max_user_subs",
		[OP_RING] = "max_user_ring_bytes",
	};

	return evt_param_set(param[op], n);
}

static void print_result(struct __test_metadata *_metadata, const char *what,
			 enum op op, const struct result *r, int nuids)
{
	char per[128];
	int off = 0;

	for (int i = 0; i < nuids; i++)
		off += snprintf(per + off, sizeof(per) - off, "%s%d",
				i ? "+" : "", r->per_uid[i]);
	ksft_print_msg("ucounts: %s: %d %s ok (%s over %d uid%s), then %s\n",
		       what, r->ok, op_name[op], per, nuids,
		       nuids > 1 ? "s" : "",
		       r->err ? strerror(r->err) : "no failure");
	fflush(stdout);
}

/* Unprivileged NOBODY without a namespace: exactly cap ops, then the error. */
static void plain_user(struct __test_metadata *_metadata, enum op op, int cap)
{
	static const int uids[] = { NOBODY };
	struct result r;
	int go[2], res[2];
	pid_t pid;

	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	pid = worker(op, uids, 1, 0, 2 * cap + 2, -1, go, res[1]);
	ASSERT_LE(0, pid);
	close(go[0]);
	close(res[1]);
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(sizeof(r), read(res[0], &r, sizeof(r)));
	EXPECT_EQ(0, r.setup) TH_LOG("worker setup step %d: %s", r.setup,
				     strerror(r.setup_errno));
	print_result(_metadata, "uid 65534, no namespace", op, &r, 1);
	EXPECT_EQ(cap, r.ok);
	EXPECT_EQ(op_errno[op], r.err) TH_LOG("first failure: %s (%d)",
					      strerror(r.err), r.err);
	/* Another uid is not affected. */
	EXPECT_EQ(0, probe_as(OTHER_UID, op));
	close(go[1]);
	EXPECT_EQ(0, wait_status(pid));
	close(res[0]);
	/* Everything was given back at exit. */
	EXPECT_EQ(0, probe_as(NOBODY, op));
}

/*
 * NOBODY creates a user namespace; root maps inside 0..63 to 200000..200063;
 * the worker spreads ops over several inside uids.  The total is the cap.
 */
static void namespaced_user(struct __test_metadata *_metadata, enum op op,
			    int cap)
{
	static const int uids[] = { 0, 1, 2, 42, 63 };
	const int nuids = sizeof(uids) / sizeof(uids[0]);
	char path[64], map[64];
	int ready[2], go[2], res[2], st;
	struct result r;
	pid_t pid;

	if (access("/proc/self/ns/user", F_OK))
		SKIP(return, "no user namespaces in this kernel");
	/* Debian's switch for unprivileged user namespaces; restored after. */
	if (saved.userns_clone[0] && saved.userns_clone[0] == '0')
		ASSERT_EQ(0, evt_write_text(USERNS_CLONE, "1"));

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	pid = worker(op, uids, nuids, 1, nuids * cap + 2, ready[1], go,
		     res[1]);
	ASSERT_LE(0, pid);
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	if (!wait_byte(ready[0], 20000)) {
		memset(&r, 0, sizeof(r));
		if (read(res[0], &r, sizeof(r)) != sizeof(r)) {
			close(go[1]);
			st = wait_status(pid);
			if (st == 4)
				SKIP(return, "unshare(CLONE_NEWUSER): EINVAL, no user namespaces");
			ASSERT_EQ(0, st) TH_LOG("worker died before unsharing");
		}
		close(go[1]);
		wait_status(pid);
		ASSERT_EQ(0, r.setup) TH_LOG("unshare(CLONE_NEWUSER) as uid 65534: %s",
					     strerror(r.setup_errno));
		ASSERT_TRUE(0) TH_LOG("worker did not report");
	}

	snprintf(map, sizeof(map), "0 %d %d\n", NS_BASE, NS_COUNT);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	ASSERT_EQ(0, evt_write_text(path, map));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	ASSERT_EQ(0, evt_write_text(path, map));
	ASSERT_EQ(1, write(go[1], "g", 1));

	memset(&r, 0, sizeof(r));
	ASSERT_EQ(sizeof(r), read(res[0], &r, sizeof(r)));
	EXPECT_EQ(0, r.setup) TH_LOG("worker step %d: %s", r.setup,
				     strerror(r.setup_errno));
	print_result(_metadata, "uid 65534's user namespace", op, &r, nuids);
	EXPECT_EQ(cap, r.ok) TH_LOG("%d inside uids held %d in total; the cap of "
				   "their namespace's owner is %d",
				   nuids, r.ok, cap);
	EXPECT_EQ(op_errno[op], r.err) TH_LOG("first failure: %s (%d)",
					      strerror(r.err), r.err);
	EXPECT_EQ(nuids, r.others) TH_LOG("only %d of %d inside uids were refused "
					  "after the first refusal", r.others, nuids);

	/* The owner is charged for its namespace: at the cap outside too. */
	EXPECT_EQ(op_errno[op], probe_as(NOBODY, op));
	/* Someone else is not. */
	EXPECT_EQ(0, probe_as(OTHER_UID, op));

	close(go[1]);
	EXPECT_EQ(0, wait_status(pid));
	close(ready[0]);
	close(res[0]);
	/* The namespace's charges were given back at every level. */
	EXPECT_EQ(0, probe_as(NOBODY, op));
}

#define FILES_CAP	8
#define SUBS_CAP	20
#define RINGS_CAP	4

TEST_F_TIMEOUT(ucounts, files_plain_user_gets_exactly_the_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_OPEN, FILES_CAP));
	plain_user(_metadata, OP_OPEN, FILES_CAP);
}

TEST_F_TIMEOUT(ucounts, files_user_namespace_shares_its_owners_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_OPEN, FILES_CAP));
	namespaced_user(_metadata, OP_OPEN, FILES_CAP);
}

TEST_F_TIMEOUT(ucounts, subs_plain_user_gets_exactly_the_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_SUB, SUBS_CAP))
		TH_LOG("cannot set max_user_subs: no per-user subscription cap");
	plain_user(_metadata, OP_SUB, SUBS_CAP);
}

TEST_F_TIMEOUT(ucounts, subs_user_namespace_shares_its_owners_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_SUB, SUBS_CAP))
		TH_LOG("cannot set max_user_subs: no per-user subscription cap");
	namespaced_user(_metadata, OP_SUB, SUBS_CAP);
}

TEST_F_TIMEOUT(ucounts, ring_bytes_plain_user_gets_exactly_the_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_RING, (unsigned long long)RINGS_CAP *
				      self->ring_default));
	plain_user(_metadata, OP_RING, RINGS_CAP);
}

TEST_F_TIMEOUT(ucounts, ring_bytes_user_namespace_shares_its_owners_cap, 90)
{
	ASSERT_EQ(0, set_cap(OP_RING, (unsigned long long)RINGS_CAP *
				      self->ring_default));
	namespaced_user(_metadata, OP_RING, RINGS_CAP);
}

TEST_HARNESS_MAIN
