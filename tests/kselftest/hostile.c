// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile user.  Unprivileged uid 65534 builds the worst index the
 * module's current (default) caps allow: as many files as max_user_files
 * allows, minus a few, each with max_subs 20-segment wildcard patterns made
 * of '*' and 'a' (pattern i has '*' in segment j when bit j % 16 of i is
 * set), so every pattern is distinct, the trie branches at every one of its
 * top levels, and every pattern matches the 20-segment topic a.a.a...a.  It
 * stops subscribing at the first ENOSPC (max_user_subs).  Three attacker
 * processes then publish batches of 8 events on a.a.a...a in a loop.
 *
 * Meanwhile, and this is what the test asserts:
 *  - root, another user, publishes on an unrelated topic (victim.x) that
 *    its own reader receives: every publish completes;
 *  - an attacker process inside a publish dies promptly on SIGKILL;
 *  - close() completes: root's own file, and the attacker's files when the
 *    process holding them exits.
 * "Completes" and "promptly" are liveness bounds (LIVENESS_S, far above any
 * sane latency), not performance assertions.  The victim's worst and median
 * wait are printed as a "# hostile:" line, recorded, never asserted.
 * Meanwhile the kernel's soft-lockup and hung-task detectors run with
 * tightened thresholds (see knobs[]); a stall they report fails the test,
 * and the VM runner's log scan.
 *
 * The work is bounded in count and time (VICTIM_PUBLISHES,
 * VICTIM_BUDGET_S) so that the test takes well under three minutes under
 * TCG emulation on a module that bounds the work per publish.
 */
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define ATTACKER_UID	65534
#define SPARE_FILES	4	/* of max_user_files, left for the publishers */
#define SEGMENTS	EVBUS_SEGMENTS_MAX
#define BATCH		8
#define PUBLISHERS	3
#define LIVENESS_S	20	/* "completes", "promptly": generous bounds */
#define VICTIM_PUBLISHES 50
#define VICTIM_BUDGET_S	30	/* the victim loop stops after this */
#define VICTIM_TOPIC	"victim.x"

/*
 * The liveness bound, times $EVBUS_SLOW on kernels that run everything many
 * times slower (make check-debug sets it for KASAN and lockdep).
 */
static unsigned int liveness_s(void)
{
	const char *e = getenv("EVBUS_SLOW");
	int f = e ? atoi(e) : 1;

	return LIVENESS_S * (f > 0 ? f : 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

/* Pattern number i: segment j is '*' when bit j % 16 of i is set, else 'a'. */
static void make_pattern(char *buf, unsigned int i)
{
	char *p = buf;

	for (int j = 0; j < SEGMENTS; j++) {
		if (j)
			*p++ = '.';
		*p++ = (i >> (j % 16)) & 1 ? '*' : 'a';
	}
	*p = 0;
}

/* The topic every pattern matches: a.a.a...a, SEGMENTS segments. */
static void make_topic(char *buf)
{
	char *p = buf;

	for (int j = 0; j < SEGMENTS; j++) {
		if (j)
			*p++ = '.';
		*p++ = 'a';
	}
	*p = 0;
}

/* What the attacker processes share with the test (MAP_SHARED). */
struct shared {
	/* builder */
	int built;		/* 1: done (or failed, with error set) */
	int error;		/* errno of an unexpected failure */
	int error_step;
	int files;		/* files opened */
	int subs;		/* subscriptions made */
	int sub_errno;		/* errno that stopped subscribing (0: none) */
	int full_files;		/* files holding max_subs subscriptions */
	/* publishers */
	int started[PUBLISHERS];
	int pub_error[PUBLISHERS];
	uint64_t batches[PUBLISHERS];
	uint64_t worst_batch_ns[PUBLISHERS];
	uint64_t in_publish_since[PUBLISHERS];	/* 0: not in the ioctl */
};

static struct shared *sh;

static void drop_to(uid_t uid, rlim_t nofile)
{
	struct rlimit rl = { nofile, nofile };

	/* Raised while still root: an unprivileged process cannot. */
	if (nofile && setrlimit(RLIMIT_NOFILE, &rl))
		_exit(2);
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		_exit(3);
}

/*
 * The builder: opens nfiles files and subscribes max_subs patterns on each
 * until ENOSPC; then holds everything until it is killed.
 */
static pid_t builder(int nfiles, int max_subs)
{
	char pat[2 * SEGMENTS];
	unsigned int next = 0;
	pid_t pid = fork();
	int *fds, stop = 0;

	if (pid)
		return pid;
	drop_to(ATTACKER_UID, nfiles + 64);
	fds = calloc(nfiles, sizeof(*fds));
	if (!fds)
		_exit(4);
	for (int f = 0; f < nfiles; f++) {
		fds[f] = open(EVBUS_DEV, O_RDWR);
		if (fds[f] < 0) {
			sh->error = errno;
			sh->error_step = 1;
			goto done;
		}
		sh->files++;
	}
	for (int f = 0; f < nfiles && !stop; f++) {
		int n = 0;

		for (; n < max_subs; n++) {
			int ret;

			make_pattern(pat, next);
			ret = evt_sub(fds[f], pat);
			if (ret == -ENOSPC) {	/* max_user_subs */
				sh->sub_errno = ENOSPC;
				stop = 1;
				break;
			}
			if (ret < 0) {
				sh->error = -ret;
				sh->error_step = 2;
				goto done;
			}
			next++;
			sh->subs++;
		}
		if (n == max_subs)
			sh->full_files++;
	}
done:
	__atomic_store_n(&sh->built, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();	/* SIGKILL: the exit closes every file */
}

/* An attacker publisher: batches of BATCH events on a.a...a, forever. */
static pid_t publisher(int idx)
{
	struct evbus_pub ev[BATCH];
	struct evbus_pub_batch b;
	char topic[2 * SEGMENTS];
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	drop_to(ATTACKER_UID, 0);
	fd = evt_open();
	if (fd < 0) {
		sh->pub_error[idx] = errno;
		_exit(4);
	}
	make_topic(topic);
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < BATCH; i++) {
		ev[i].topic = (uintptr_t)topic;
		ev[i].topic_len = strlen(topic);
		ev[i].payload = (uintptr_t)"hostile!";
		ev[i].payload_len = 8;
	}
	__atomic_store_n(&sh->started[idx], 1, __ATOMIC_RELEASE);
	for (;;) {
		uint64_t t0 = now_ns(), t;
		int ret;

		memset(&b, 0, sizeof(b));
		b.events = (uintptr_t)ev;
		b.count = BATCH;
		__atomic_store_n(&sh->in_publish_since[idx], t0, __ATOMIC_RELEASE);
		ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
		__atomic_store_n(&sh->in_publish_since[idx], 0, __ATOMIC_RELEASE);
		if (ret != BATCH) {
			sh->pub_error[idx] = ret < 0 ? errno : EIO;
			_exit(5);
		}
		t = now_ns() - t0;
		if (t > sh->worst_batch_ns[idx])
			sh->worst_batch_ns[idx] = t;
		__atomic_add_fetch(&sh->batches[idx], 1, __ATOMIC_RELEASE);
	}
}

/* Reap pid within ms milliseconds: the time it took, or -1 (still there). */
static int64_t reap_within(pid_t pid, int ms_bound, int *status)
{
	uint64_t t0 = now_ns();
	struct timespec tick = { 0, 5 * 1000 * 1000 };

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return (now_ns() - t0) / 1000000;
		if (r < 0)
			return -2;
		if (now_ns() - t0 > (uint64_t)ms_bound * 1000000)
			return -1;
		nanosleep(&tick, NULL);
	}
}

/* The scheduler state letter of pid (R, S, D, ...), or '?'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Wait for the victim's event (seq) on its reader: 0, or why not. */
static const char *victim_receive(int rd, int64_t seq)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	struct evbus_rec_hdr *h;
	char buf[4096];
	ssize_t n;
	long left;

	if (poll(&pfd, 1, liveness_s() * 1000) != 1)
		return "not readable";
	n = read(rd, buf, sizeof(buf));
	if (n <= 0)
		return "read failed";
	evt_for_each_rec(h, buf, n, left) {
		const struct evbus_event *ev = (const void *)h;

		if (h->kind != EVBUS_REC_EVENT)
			return "not an event record";
		if ((int64_t)ev->seq == seq &&
		    !strcmp(EVBUS_EVENT_TOPIC(ev), VICTIM_TOPIC))
			return NULL;
	}
	return "not the published event";
}

/*
 * The kernel's own detectors, tightened while the attacker publishes (and
 * restored after, or by the runner process at exit if the test is killed):
 * a soft lockup is reported after 2 * watchdog_thresh seconds without a
 * reschedule (default 20 s), a hung task after hung_task_timeout_secs in an
 * uninterruptible, not killable, sleep (default 120 s).  A module that
 * reschedules between events and waits killably on bus-wide locks trips
 * neither; one that fans a whole batch out under one hold of a mutex, or
 * makes others wait on it uninterruptibly, does within this test's time.
 * Their reports are looked for in the kernel log (and by the VM runner).
 */
static const struct {
	const char *path, *tight;
} knobs[] = {
	{ "/proc/sys/kernel/watchdog_thresh", "5" },
	{ "/proc/sys/kernel/hung_task_timeout_secs", "10" },
};
#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))

static struct {
	pid_t runner;
	char knob[NKNOBS][32];	/* "" if absent */
	int have_mode;
	mode_t mode;
} saved;

static void __attribute__((constructor)) save_state(void)
{
	struct stat st;

	saved.runner = getpid();
	for (size_t i = 0; i < NKNOBS; i++) {
		int fd = open(knobs[i].path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, saved.knob[i],
					       sizeof(saved.knob[i]) - 1);

		if (fd >= 0)
			close(fd);
		saved.knob[i][n > 0 ? n : 0] = 0;
	}
	if (!stat(EVBUS_DEV, &st)) {
		saved.have_mode = 1;
		saved.mode = st.st_mode & 07777;
	}
}

static void restore_state(void)
{
	for (size_t i = 0; i < NKNOBS; i++)
		if (saved.knob[i][0])
			evt_write_text(knobs[i].path, saved.knob[i]);
	if (saved.have_mode)
		chmod(EVBUS_DEV, saved.mode);
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* Tighten the detectors that exist: how many were tightened. */
static int tighten_detectors(void)
{
	int n = 0;

	for (size_t i = 0; i < NKNOBS; i++)
		if (saved.knob[i][0] && !evt_write_text(knobs[i].path, knobs[i].tight))
			n++;
	return n;
}

/* /dev/kmsg positioned at its end: what the kernel logs from now on. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Lines logged since kmsg_open() that report a stall: how many (printed). */
static int kmsg_stalls(int fd)
{
	static const char *const bad[] = {
		"soft lockup", "blocked for more than", "hung_task", "rcu_sched detected stall",
		"rcu_preempt detected stall",
	};
	char rec[2048];
	int found = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = 0;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(rec, bad[i])) {
				char *msg = strchr(rec, ';');

				rec[strcspn(rec, "\n")] = 0;
				if (found++ < 5)
					ksft_print_msg("hostile: kernel: %s\n",
						       msg ? msg + 1 : rec);
				break;
			}
	}
	fflush(stdout);
	return found;
}

struct attack {
	pid_t build_pid;
	pid_t pub_pid[PUBLISHERS];
	int kmsg;
};

FIXTURE(hostile) {
	struct attack a;
};

FIXTURE_SETUP(hostile)
{
	memset(&self->a, 0, sizeof(self->a));
	self->a.kmsg = -1;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	ASSERT_TRUE(saved.have_mode);
	ASSERT_EQ(0, chmod(EVBUS_DEV, 0666));
}

/* Kill whatever is left and wait for it, however long the kernel takes. */
FIXTURE_TEARDOWN(hostile)
{
	for (int i = 0; i < PUBLISHERS; i++)
		if (self->a.pub_pid[i] > 0) {
			kill(self->a.pub_pid[i], SIGKILL);
			waitpid(self->a.pub_pid[i], NULL, 0);
		}
	if (self->a.build_pid > 0) {
		kill(self->a.build_pid, SIGKILL);
		waitpid(self->a.build_pid, NULL, 0);
	}
	restore_state();
	if (self->a.kmsg >= 0)
		close(self->a.kmsg);
}

TEST_F_TIMEOUT(hostile, one_user_cannot_stall_another, 600)
{
	unsigned long long max_files = 0, max_subs = 0, max_user_subs = 0, v;
	uint64_t waits[VICTIM_PUBLISHES], t0, t_start, t, batches = 0;
	uint64_t worst_batch = 0, victim_ns;
	int nfiles, nwaits = 0, rd, pub, status, victim_ok = 1;
	int have_user_subs, kill_idx = 0;
	int64_t kill_ms, close_ms, kill2_ms, rd_close_ms;
	char user_subs_text[64], state;

	ASSERT_EQ(0, evt_param_get("max_user_files", &max_files));
	ASSERT_EQ(0, evt_param_get("max_subs", &max_subs));
	have_user_subs = !evt_param_get("max_user_subs", &max_user_subs);
	if (have_user_subs)
		snprintf(user_subs_text, sizeof(user_subs_text), "%llu",
			 max_user_subs);
	else
		snprintf(user_subs_text, sizeof(user_subs_text),
			 "none (no such parameter)");
	ASSERT_LT(SPARE_FILES + 1, max_files);
	nfiles = max_files - SPARE_FILES;
	ksft_print_msg("hostile: caps: max_user_files %llu, max_subs %llu, max_user_subs %s\n",
		       max_files, max_subs, user_subs_text);
	fflush(stdout);

	/* 1. The attacker builds its index. */
	t0 = now_ns();
	self->a.build_pid = builder(nfiles, max_subs);
	ASSERT_LT(0, self->a.build_pid);
	while (!__atomic_load_n(&sh->built, __ATOMIC_ACQUIRE)) {
		ASSERT_EQ(0, waitpid(self->a.build_pid, &status, WNOHANG))
			TH_LOG("the builder died (status %#x)", status);
		usleep(20000);
	}
	ASSERT_EQ(0, sh->error) TH_LOG("builder step %d: %s", sh->error_step,
				       strerror(sh->error));
	ksft_print_msg("hostile: uid %d built %d files, %d subscriptions (%d full files) in %.1f s, stopped by %s\n",
		       ATTACKER_UID, sh->files, sh->subs, sh->full_files,
		       (now_ns() - t0) / 1e9,
		       sh->sub_errno ? strerror(sh->sub_errno) : "nothing (every file full)");
	fflush(stdout);
	ASSERT_EQ(nfiles, sh->files);
	if (have_user_subs)
		EXPECT_EQ((unsigned long long)sh->subs,
			  max_user_subs < (unsigned long long)nfiles * max_subs ?
			  max_user_subs : (unsigned long long)nfiles * max_subs);
	ASSERT_LT(0, sh->subs);

	/* Root's reader and publisher, on a topic the attacker does not touch. */
	rd = evt_open_nb();
	ASSERT_LE(0, rd);
	pub = evt_open();
	ASSERT_LE(0, pub);
	ASSERT_LT(0, evt_sub(rd, VICTIM_TOPIC));

	/* 2. The attacker publishes; root publishes meanwhile. */
	self->a.kmsg = kmsg_open();
	ksft_print_msg("hostile: %d kernel stall detectors tightened (soft lockup after 10 s, hung task after 10 s)\n",
		       tighten_detectors());
	fflush(stdout);
	for (int i = 0; i < PUBLISHERS; i++) {
		self->a.pub_pid[i] = publisher(i);
		ASSERT_LT(0, self->a.pub_pid[i]);
	}
	for (int i = 0; i < PUBLISHERS; i++)
		while (!__atomic_load_n(&sh->started[i], __ATOMIC_ACQUIRE)) {
			ASSERT_EQ(0, waitpid(self->a.pub_pid[i], &status, WNOHANG))
				TH_LOG("publisher %d died: %s", i,
				       strerror(sh->pub_error[i]));
			usleep(10000);
		}
	usleep(200000);		/* let the batches get going */

	t_start = now_ns();
	for (int i = 0; i < VICTIM_PUBLISHES; i++) {
		const char *why;
		int64_t seq;

		if (now_ns() - t_start > VICTIM_BUDGET_S * 1000000000ull)
			break;
		t0 = now_ns();
		seq = evt_pub(pub, VICTIM_TOPIC, "victim");
		t = now_ns() - t0;
		waits[nwaits++] = t;
		EXPECT_LT(0, seq) TH_LOG("victim publish %d: %s", i,
					 strerror(-seq));
		EXPECT_GT(liveness_s() * 1000.0, ms(t))
			TH_LOG("victim publish %d took %.0f ms", i, ms(t));
		if (seq <= 0) {
			victim_ok = 0;
			continue;
		}
		why = victim_receive(rd, seq);
		EXPECT_EQ(NULL, why) TH_LOG("victim event %d (seq %lld): %s",
					    i, (long long)seq, why);
		usleep(10000);
	}
	victim_ns = now_ns() - t_start;
	for (int i = 0; i < PUBLISHERS; i++) {
		EXPECT_EQ(0, waitpid(self->a.pub_pid[i], &status, WNOHANG))
			TH_LOG("publisher %d stopped: %s", i,
			       strerror(sh->pub_error[i]));
		batches += __atomic_load_n(&sh->batches[i], __ATOMIC_ACQUIRE);
	}

	/* 3. close() of root's subscribed file, with the attack going on. */
	t0 = now_ns();
	close(rd);
	rd_close_ms = (now_ns() - t0) / 1000000;
	EXPECT_GT(liveness_s() * 1000, rd_close_ms);

	/* 4. SIGKILL an attacker publisher, preferably one blocked in the ioctl. */
	for (int i = 0; i < PUBLISHERS; i++)
		if (proc_state(self->a.pub_pid[i]) == 'D') {
			kill_idx = i;
			break;
		} else if (__atomic_load_n(&sh->in_publish_since[i], __ATOMIC_ACQUIRE)) {
			kill_idx = i;
		}
	state = proc_state(self->a.pub_pid[kill_idx]);
	ASSERT_EQ(0, kill(self->a.pub_pid[kill_idx], SIGKILL));
	kill_ms = reap_within(self->a.pub_pid[kill_idx], liveness_s() * 1000, &status);
	EXPECT_LE(0, kill_ms) TH_LOG("a publisher (state %c) still alive %d s after SIGKILL",
				     state, liveness_s());
	if (kill_ms >= 0)
		self->a.pub_pid[kill_idx] = 0;

	/* 5. The attacker's files close (its exit) while the other publishes. */
	ASSERT_EQ(0, kill(self->a.build_pid, SIGKILL));
	close_ms = reap_within(self->a.build_pid, liveness_s() * 1000, &status);
	EXPECT_LE(0, close_ms) TH_LOG("the process holding %d files did not exit within %d s",
				      sh->files, liveness_s());
	if (close_ms >= 0) {
		self->a.build_pid = 0;
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}

	/* 6. The other publishers, killed together. */
	kill2_ms = 0;
	for (int i = 0; i < PUBLISHERS; i++)
		if (self->a.pub_pid[i] && i != kill_idx)
			kill(self->a.pub_pid[i], SIGKILL);
	t0 = now_ns();
	for (int i = 0; i < PUBLISHERS; i++) {
		int64_t left = liveness_s() * 1000 - (int64_t)((now_ns() - t0) / 1000000);

		if (!self->a.pub_pid[i] || i == kill_idx)
			continue;
		if (reap_within(self->a.pub_pid[i], left > 0 ? left : 0, &status) < 0) {
			EXPECT_TRUE(0) TH_LOG("publisher %d still alive %d s after SIGKILL",
					      i, liveness_s());
			kill2_ms = -1;
			continue;
		}
		self->a.pub_pid[i] = 0;
	}
	if (kill2_ms == 0)
		kill2_ms = (now_ns() - t0) / 1000000;
	for (int i = 0; i < PUBLISHERS; i++) {
		v = sh->worst_batch_ns[i];
		if (v > worst_batch)
			worst_batch = v;
	}
	close(pub);

	/* The record: never asserted against a number. */
	if (nwaits) {
		uint64_t sorted[VICTIM_PUBLISHES];

		memcpy(sorted, waits, nwaits * sizeof(*waits));
		qsort(sorted, nwaits, sizeof(*sorted), cmp_u64);
		ksft_print_msg("hostile: victim worst wait %.1f ms, median %.1f ms over %d publishes in %.1f s; attacker %d files (%d with max_subs %llu) holding %d index patterns of %d segments, %llu batches of %d published meanwhile (slowest %.1f ms)\n",
			       ms(sorted[nwaits - 1]), ms(sorted[nwaits / 2]),
			       nwaits, victim_ns / 1e9, sh->files,
			       sh->full_files, max_subs, sh->subs, SEGMENTS,
			       (unsigned long long)batches, BATCH, ms(worst_batch));
		fflush(stdout);
	}
	ksft_print_msg("hostile: SIGKILL to reaped: %lld ms (publisher in state %c); exit of the process holding the %d files: %lld ms; the other publishers: %lld ms; root's close(): %lld ms\n",
		       (long long)kill_ms, state, sh->files, (long long)close_ms,
		       (long long)kill2_ms, (long long)rd_close_ms);
	fflush(stdout);
	EXPECT_TRUE(victim_ok);

	/* Everything is reaped: the kernel reported no stall meanwhile. */
	EXPECT_EQ(0, kmsg_stalls(self->a.kmsg))
		TH_LOG("the kernel reported stalls during the attack (see above)");
	restore_state();
}

TEST_HARNESS_MAIN
