// SPDX-License-Identifier: GPL-2.0
/*
 * Rate limits (#18), against uapi/linux/evbus.h ("Rate limits").
 *
 * Token accounting, exactly: a bucket's burst is spent to the event or the
 * byte, then EAGAIN, and the refused publish changes nothing (no seq, no
 * event, no delivery, no token); a payload larger than a byte burst is
 * EMSGSIZE.  EVBUS_PUB_WAIT waits for tokens up to deadline_ns (0 is
 * EINVAL), or is EAGAIN at once when the deadline (or the module's
 * rate_wait_max_ms) cannot cover the wait; a signal ends the wait with
 * EINTR and the reserved tokens go back.  A file's limit may only be
 * tightened (EPERM otherwise, root included); a user's limit is the bus
 * owner's (EVBUS_WHO_UID, EVBUS_WHO_ALL; EPERM for anyone else, a user
 * namespace's root included), one bucket per account shared by its files
 * and by the user namespaces it makes, not refilled by closing and
 * reopening the device, and one account's flood, waiting or refused, does
 * not slow another's publishes.  Removing a limit (all
 * zero), ENOENT when there is none.  Batches stop at the first refused
 * event (EAGAIN, error_index exact, its tokens not spent), and events
 * staged but not published give their tokens back; a will pays when it is
 * armed (EAGAIN on an empty bucket) and fires whatever the bucket holds.
 * Bad arguments give their errno and change nothing; fdinfo shows the
 * buckets; the bus counters move exactly; EVBUS_FEAT_RATE is advertised.
 *
 * Timing: under emulation a publish may take milliseconds, so counts are
 * checked against what the rates can have earned since the limit was set,
 * measured with CLOCK_MONOTONIC: with rates of 1 token a second, a burst
 * of n is spent by exactly n publishes, give or take the seconds elapsed.
 * Refusals use byte buckets that take tens of seconds to refill.
 *
 * Every test runs on a bus of its own (a new IPC namespace, made by the
 * fixture), so seqs start at 1 and the bus's counters at zero.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define TOPIC		"rt.x"
#define NS		1000000000ULL
#define MS		1000000ULL
#define PAYLOAD_MAX	4096

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };
static const struct evt_ids U1001 = { 1001, 1001, 0, { 0 } };

/* Debian's switch for unprivileged user namespaces. */
#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

/* ------------------------------------------------- saved system state */

static struct {
	pid_t runner;
	int have_wait_max;
	unsigned long long wait_max_ms;
	char userns_clone[8];	/* "" if the sysctl does not exist */
} saved;

static void __attribute__((constructor)) save_state(void)
{
	int fd;

	saved.runner = getpid();
	saved.have_wait_max = !evt_param_get("rate_wait_max_ms",
					     &saved.wait_max_ms);
	fd = open(USERNS_CLONE, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, saved.userns_clone,
				 sizeof(saved.userns_clone) - 1);

		saved.userns_clone[n > 0 ? n : 0] = 0;
		close(fd);
	}
	evt_dev_save_mode();
}

static void restore_state(void)
{
	if (saved.have_wait_max)
		evt_param_set("rate_wait_max_ms", saved.wait_max_ms);
	if (saved.userns_clone[0])
		evt_write_text(USERNS_CLONE, saved.userns_clone);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------------ helpers */

static char payload[PAYLOAD_MAX];

static int rate_raw(int fd, void *r)
{
	return ioctl(fd, EVBUS_IOC_RATE, r) ? -errno : 0;
}

static void rate_init(struct evbus_rate *r, uint32_t op)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->op = op;
}

static struct evbus_rate_limit lim(uint64_t eps, uint64_t eburst,
				   uint64_t bps, uint64_t bburst)
{
	struct evbus_rate_limit l = {
		.events_per_sec = eps, .events_burst = eburst,
		.bytes_per_sec = bps, .bytes_burst = bburst,
	};

	return l;
}

static int lim_eq(const struct evbus_rate_limit *a, struct evbus_rate_limit b)
{
	return !memcmp(a, &b, sizeof(b));
}

#define EXPECT_LIM(l, eps, eb, bps, bb)					\
	EXPECT_TRUE(lim_eq(&(l), lim(eps, eb, bps, bb)))		\
		TH_LOG("limit %llu/%llu %llu/%llu, expected %llu/%llu %llu/%llu", \
		       (unsigned long long)(l).events_per_sec,		\
		       (unsigned long long)(l).events_burst,		\
		       (unsigned long long)(l).bytes_per_sec,		\
		       (unsigned long long)(l).bytes_burst,		\
		       (unsigned long long)(eps), (unsigned long long)(eb), \
		       (unsigned long long)(bps), (unsigned long long)(bb))

/* EVBUS_RATE_FILE: tighten fd's own limit.  0 or -errno. */
static int rate_file(int fd, struct evbus_rate_limit l)
{
	struct evbus_rate r;

	rate_init(&r, EVBUS_RATE_FILE);
	r.limit = l;
	return rate_raw(fd, &r);
}

/* EVBUS_RATE_USER: the owner sets (or, all zero, removes) a user's limit. */
static int rate_user(int fd, uint32_t who, uint32_t id, struct evbus_rate_limit l)
{
	struct evbus_rate r;

	rate_init(&r, EVBUS_RATE_USER);
	r.who = who;
	r.id_value = id;
	r.limit = l;
	return rate_raw(fd, &r);
}

/* EVBUS_RATE_USER_GET into *l: 0 or -errno (-ENOENT: no limit set). */
static int rate_user_get(int fd, uint32_t who, uint32_t id,
			 struct evbus_rate_limit *l)
{
	struct evbus_rate r;
	int ret;

	rate_init(&r, EVBUS_RATE_USER_GET);
	r.who = who;
	r.id_value = id;
	ret = rate_raw(fd, &r);
	if (!ret)
		*l = r.limit;
	return ret;
}

/* EVBUS_RATE_GET: fd's limits and buckets.  0 or -errno. */
static int rate_get(int fd, struct evbus_rate *r)
{
	rate_init(r, EVBUS_RATE_GET);
	return rate_raw(fd, r);
}

static void pub_init(struct evbus_pub *p, const char *topic, uint32_t len,
		     uint32_t flags, uint64_t deadline_ns)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = strlen(topic);
	p->payload = (uintptr_t)payload;
	p->payload_len = len;
	p->flags = flags;
	p->deadline_ns = deadline_ns;
}

/* Publish len payload bytes on topic: the seq, or -errno. */
static int64_t pub_full(int fd, const char *topic, uint32_t len, uint32_t flags,
			uint64_t deadline_ns)
{
	struct evbus_pub p;

	pub_init(&p, topic, len, flags, deadline_ns);
	if (ioctl(fd, EVBUS_IOC_PUBLISH, &p))
		return -errno;
	return (int64_t)p.seq;
}

static int64_t pub(int fd, uint32_t len)
{
	return pub_full(fd, TOPIC, len, 0, 0);
}

static int64_t pub_wait(int fd, uint32_t len, uint64_t deadline_ns)
{
	return pub_full(fd, TOPIC, len, EVBUS_PUB_WAIT, deadline_ns);
}

/* EVBUS_IOC_PUBLISH_BATCH of ev[0..n): its return (or -errno), *b back. */
static int batch(int fd, struct evbus_pub *ev, uint32_t n, uint32_t flags,
		 struct evbus_pub_batch *b)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->events = (uintptr_t)ev;
	b->count = n;
	b->flags = flags;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, b);
	return ret < 0 ? -errno : ret;
}

/* Arm the will of scope with len payload bytes: 0 or -errno. */
static int will_arm(int fd, uint64_t scope, const char *topic, uint32_t len)
{
	struct evbus_will w;

	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.scope = scope;
	w.topic = (uintptr_t)topic;
	w.topic_len = strlen(topic);
	w.payload = (uintptr_t)payload;
	w.payload_len = len;
	return ioctl(fd, EVBUS_IOC_WILL, &w) ? -errno : 0;
}

/*
 * Tokens a rate of rate a second can have earned in ns, rounded up, plus
 * one: the most a bucket can have gained in a measured interval.
 */
static int64_t earned(uint64_t ns, uint64_t rate)
{
	return (int64_t)(ns * rate / NS) + 1;
}

static uint64_t since(uint64_t t0)
{
	return evt_now_ns() - t0;
}

/* Events queued on the nonblocking subscriber sub, into got[0..max). */
static int delivered(int sub, struct evt_got *got, int max)
{
	int other = 0, n = evt_sf_drain(sub, got, max, &other);

	return other ? -EPROTO : n;
}

static void on_signal(int sig)
{
	(void)sig;
}

/* SIGUSR1 interrupts system calls (no SA_RESTART); 0 or -errno. */
static int catch_sigusr1(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL) ? -errno : 0;
}

/* A thread that publishes with EVBUS_PUB_WAIT once. */
struct waiter {
	int fd;
	uint32_t len;
	uint64_t deadline_ns;
	pid_t tid;
	int64_t ret;
	uint64_t ns;		/* how long the call took */
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0;

	w->tid = gettid();
	t0 = evt_now_ns();
	w->ret = pub_wait(w->fd, w->len, w->deadline_ns);
	w->ns = since(t0);
	return NULL;
}

/*
 * Start w and wait until its publish holds its tokens (the bucket that
 * reserve shows on fd, the file's or with user set the user's, below
 * zero) and sleeps: 1, or 0 if that never happened within the bound.
 */
static int waiter_start(struct waiter *w, int fd, bool user)
{
	uint64_t end;
	struct evbus_rate r;

	w->tid = 0;
	if (pthread_create(&w->th, NULL, waiter_main, w))
		return 0;
	end = evt_now_ns() + 10 * NS * evt_slow();
	while (evt_now_ns() < end) {
		if (!rate_get(fd, &r) &&
		    (user ? r.user_bytes_tokens : r.bytes_tokens) < 0 &&
		    w->tid && evt_task_state(w->tid) == 'S')
			return 1;
		usleep(5000);
	}
	return 0;
}

/* ------------------------------------------------------------ fixture */

FIXTURE(rate) {
	int own;		/* root's file: the bus owner's */
	int sub;		/* root's subscriber of rt.> */
};

FIXTURE_SETUP(rate)
{
	struct evbus_version v;

	self->own = self->sub = -1;
	restore_state();	/* a test that timed out may have left params */
	memset(payload, 'p', sizeof(payload));
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_sf_open();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, evt_version(self->own, &v));
	ASSERT_TRUE(v.features & EVBUS_FEAT_RATE)
		TH_LOG("the module does not have rate limits");
	self->sub = evt_sf_open();
	ASSERT_LE(0, self->sub);
	ASSERT_LT(0, evt_sub(self->sub, "rt.>"));
}

FIXTURE_TEARDOWN(rate)
{
	if (self->own >= 0)
		close(self->own);
	if (self->sub >= 0)
		close(self->sub);
	restore_state();
}

/* ================================================== the unlimited case */

/*
 * EVBUS_FEAT_RATE; a new file has no limit, no tokens, no counts; with
 * none anywhere, publishes (with EVBUS_PUB_WAIT too) never wait.
 */
TEST_F(rate, feature_bit_and_an_unlimited_file)
{
	struct evbus_version v;
	struct evbus_rate r, zero;
	struct evbus_rate_limit l;
	struct evbus_bus_stats bs;
	char text[1024];
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_version(fd, &v));
	EXPECT_EQ(EVBUS_FEAT_RATE, v.features & EVBUS_FEAT_RATE);
	ASSERT_EQ(0, rate_get(fd, &r));
	rate_init(&zero, EVBUS_RATE_GET);
	EXPECT_EQ(0, memcmp(&zero, &r, sizeof(r)))
		TH_LOG("a new file's GET is not all zero");
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 0, &l));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	for (int i = 1; i <= 50; i++)
		ASSERT_EQ(i, pub(fd, 100));
	ASSERT_EQ(51, pub_wait(fd, 100, 1));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(51, bs.published);
	EXPECT_EQ(0, bs.rate_refused_file);
	EXPECT_EQ(0, bs.rate_refused_user);
	EXPECT_EQ(0, bs.rate_waited);
	EXPECT_EQ(0, bs.rate_wait_ns);
	EXPECT_EQ(0, bs.rate_interrupted);
	EXPECT_EQ(0, bs.rate_users);
	ASSERT_EQ(0, evt_fdinfo_lines(fd, "evbus-rate", text, sizeof(text)));
	EXPECT_STREQ("evbus-rate-refused:\t0\nevbus-rate-waited:\t0\n", text);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_EQ(0, memcmp(&zero, &r, sizeof(r)));
	close(fd);
}

/* ================================================== exact accounting */

/*
 * 1 event a second, burst 5: exactly 5 publishes go (plus one a second
 * elapsed), then EAGAIN; the refused publish takes no seq, publishes and
 * delivers nothing, and is counted; the next one that goes out (waiting
 * for its token) takes the next seq.
 */
TEST_F(rate, events_burst_then_eagain_changes_nothing)
{
	struct evbus_bus_stats b0, b1;
	struct evt_got got[64];
	struct evbus_rate r;
	uint64_t t0, dt;
	int64_t ret;
	int n = 0;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(1, 5, 0, 0)));
	for (;;) {
		ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
		ret = pub(fd, 8);
		if (ret < 0)
			break;
		ASSERT_EQ(++n, ret);
		ASSERT_GT(40, n) TH_LOG("never refused");
	}
	dt = since(t0);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("%s", strerror((int)-ret));
	EXPECT_LE(5, n);
	EXPECT_GE(5 + earned(dt, 1), n) TH_LOG("%d in %llu ms", n,
						(unsigned long long)(dt / MS));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(n, b1.seq);
	EXPECT_EQ(b0.seq, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(b0.published_bytes, b1.published_bytes);
	EXPECT_EQ(b0.deliveries, b1.deliveries);
	EXPECT_EQ(b0.rate_refused_file + 1, b1.rate_refused_file);
	EXPECT_EQ(1, b1.rate_refused_file);
	EXPECT_EQ(0, b1.rate_refused_user);
	EXPECT_EQ(n, delivered(self->sub, got, 64));
	for (int i = 0; i < n && i < 64; i++)
		EXPECT_EQ(i + 1, got[i].seq);

	ASSERT_EQ(0, rate_get(fd, &r));
	dt = since(t0);
	EXPECT_LIM(r.limit, 1, 5, 0, 0);
	EXPECT_LE(0, r.events_tokens);
	EXPECT_GE(5 - n + earned(dt, 1), r.events_tokens);
	EXPECT_EQ(0, r.bytes_tokens);		/* bytes are unlimited */
	EXPECT_EQ(1, r.refused);
	EXPECT_EQ(0, r.waited);

	/* The next event out takes the next seq: the refused one took none. */
	ASSERT_EQ(n + 1, pub_wait(fd, 8, 5 * NS));
	EXPECT_EQ(1, delivered(self->sub, got, 64));
	EXPECT_EQ(n + 1, got[0].seq);
	close(fd);
}

/*
 * 1 byte a second, burst 100: three 30-byte payloads go, the fourth is
 * refused (it would need 20 s), 10 bytes still go, and so does an empty
 * payload (no byte tokens), while events are unlimited.
 */
TEST_F(rate, bytes_burst_then_eagain_changes_nothing)
{
	struct evbus_bus_stats b0, b1;
	struct evt_got got[16];
	struct evbus_rate r;
	uint64_t t0, dt;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 100)));
	ASSERT_EQ(1, pub(fd, 30));
	ASSERT_EQ(2, pub(fd, 30));
	ASSERT_EQ(3, pub(fd, 30));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EAGAIN, pub(fd, 30));
	EXPECT_EQ(-EAGAIN, pub(fd, 11));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	dt = since(t0);
	ASSERT_GT(10 * NS, dt) TH_LOG("too slow to tell (%llu ms)",
				      (unsigned long long)(dt / MS));
	EXPECT_EQ(3, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(90, b1.published_bytes);
	EXPECT_EQ(b0.deliveries, b1.deliveries);
	EXPECT_EQ(2, b1.rate_refused_file);
	EXPECT_EQ(3, delivered(self->sub, got, 16));

	/* What is left goes, and an empty payload costs no byte. */
	ASSERT_EQ(4, pub(fd, 10));
	ASSERT_EQ(5, pub(fd, 0));
	ASSERT_EQ(0, rate_get(fd, &r));
	dt = since(t0);
	EXPECT_LE(0, r.bytes_tokens);
	EXPECT_GE(earned(dt, 1), r.bytes_tokens);
	EXPECT_EQ(0, r.events_tokens);
	EXPECT_EQ(2, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(100, b1.published_bytes);
	EXPECT_EQ(2, delivered(self->sub, got, 16));
	close(fd);
}

/* Events and bytes at once: whichever runs out first refuses. */
TEST_F(rate, both_dimensions_are_charged)
{
	struct evbus_rate r;
	uint64_t t0, dt;
	int64_t ret, spent;
	int fd = evt_sf_open(), g = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, g);
	t0 = evt_now_ns();
	/* Bytes first: 3 x 30 of 100. */
	ASSERT_EQ(0, rate_file(fd, lim(1, 10, 1, 100)));
	ASSERT_LT(0, pub(fd, 30));
	ASSERT_LT(0, pub(fd, 30));
	ASSERT_LT(0, pub(fd, 30));
	EXPECT_EQ(-EAGAIN, pub(fd, 30));
	ASSERT_EQ(0, rate_get(fd, &r));
	dt = since(t0);
	ASSERT_GT(7 * NS, dt);
	/* Three event tokens spent, none for the refused one. */
	EXPECT_LE(7, r.events_tokens);
	EXPECT_GE(7 + earned(dt, 1), r.events_tokens);
	EXPECT_LE(10, r.bytes_tokens);
	EXPECT_GE(10 + earned(dt, 1), r.bytes_tokens);

	/* Events first: 2 events, bytes to spare. */
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(g, lim(1, 2, 1, 1000)));
	ASSERT_LT(0, pub(g, 10));
	ASSERT_LT(0, pub(g, 10));
	ret = pub(g, 10);
	dt = since(t0);
	/* Refused unless a second went by: 2 events, then 1 a second. */
	if (dt < NS)
		EXPECT_EQ(-EAGAIN, ret);
	spent = ret > 0 ? 30 : 20;
	ASSERT_EQ(0, rate_get(g, &r));
	dt = since(t0);
	EXPECT_LE(0, r.events_tokens);
	EXPECT_GE(earned(dt, 1), r.events_tokens);
	EXPECT_LE(1000 - spent, r.bytes_tokens);
	EXPECT_GE(1000 - spent + earned(dt, 1), r.bytes_tokens);
	close(fd);
	close(g);
}

/* ============================================================ waiting */

/*
 * 10 events a second, burst 1: with the bucket full, one publish takes
 * the token and an EVBUS_PUB_WAIT one right after waits for the next
 * (at most 100 ms): it succeeds, counted in rate_waited, rate_wait_ns
 * (the wait computed, so within 100 ms), and the file's waited.  If a
 * token came in between (the two calls took 100 ms), it tries again.
 */
TEST_F(rate, pub_wait_waits_for_tokens)
{
	struct timespec full = { 0, 150 * MS };
	struct evbus_bus_stats b0, b1;
	struct evbus_rate r0, r1;
	struct evt_got got[16];
	int64_t s1, s2;
	uint64_t t0, dt;
	int tries, fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rate_file(fd, lim(10, 1, 0, 0)));
	for (tries = 0; tries < 5; tries++) {
		nanosleep(&full, NULL);		/* the bucket is full again */
		ASSERT_EQ(0, rate_get(fd, &r0));
		ASSERT_EQ(1, r0.events_tokens);
		ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
		t0 = evt_now_ns();
		s1 = pub(fd, 8);
		s2 = pub_wait(fd, 8, 5 * NS);
		dt = since(t0);
		ASSERT_LT(0, s1) TH_LOG("%s", strerror((int)-s1));
		ASSERT_EQ(s1 + 1, s2) TH_LOG("%s", strerror((int)-s2));
		EXPECT_GT(5 * NS * evt_slow(), dt);
		ASSERT_EQ(0, rate_get(fd, &r1));
		ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
		EXPECT_EQ(0, r1.refused);
		EXPECT_EQ(b0.rate_refused_file, b1.rate_refused_file);
		EXPECT_EQ(b0.rate_interrupted, b1.rate_interrupted);
		EXPECT_EQ(r1.waited - r0.waited, b1.rate_waited - b0.rate_waited);
		if (r1.waited == r0.waited + 1) {
			EXPECT_EQ(b0.rate_waited + 1, b1.rate_waited);
			EXPECT_LT(b0.rate_wait_ns, b1.rate_wait_ns);
			EXPECT_GE(b0.rate_wait_ns + 100 * MS, b1.rate_wait_ns)
				TH_LOG("waited %llu ns for a token every 100 ms",
				       (unsigned long long)(b1.rate_wait_ns -
							    b0.rate_wait_ns));
			break;
		}
		/* No wait: only if a token came in between. */
		EXPECT_EQ(r0.waited, r1.waited);
		EXPECT_LE(100 * MS, dt) TH_LOG("the second publish did not wait");
	}
	EXPECT_GT(5, tries) TH_LOG("never saw a wait");
	EXPECT_EQ(2 * (tries + 1), delivered(self->sub, got, 16));
	close(fd);
}

/*
 * A wait the deadline cannot cover is EAGAIN at once, counted as a
 * refusal and not as a wait; so is one longer than rate_wait_max_ms,
 * whatever deadline_ns asks.  (1 byte a second: 20 bytes take 20 s.)
 */
TEST_F(rate, wait_past_the_deadline_is_eagain_at_once)
{
	struct evbus_bus_stats b0, b1;
	struct evbus_rate r;
	uint64_t t0, t;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 20)));
	ASSERT_EQ(1, pub(fd, 20));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	t = evt_now_ns();
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 20, 10 * MS));
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 20, 10 * NS));
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 15, 1));
	EXPECT_GT(5 * NS, since(t)) TH_LOG("it waited");
	/* The module's bound: 50 ms, whatever the deadline. */
	ASSERT_EQ(0, evt_param_set("rate_wait_max_ms", 50));
	t = evt_now_ns();
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 20, 25 * NS));
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 20, ~0ULL));
	EXPECT_GT(5 * NS, since(t)) TH_LOG("it waited");
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	ASSERT_GT(15 * NS, since(t0)) TH_LOG("too slow to tell");
	EXPECT_EQ(1, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(b0.rate_refused_file + 5, b1.rate_refused_file);
	EXPECT_EQ(0, b1.rate_waited);
	EXPECT_EQ(0, b1.rate_wait_ns);
	EXPECT_EQ(0, b1.rate_interrupted);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_EQ(5, r.refused);
	EXPECT_EQ(0, r.waited);
	EXPECT_LE(0, r.bytes_tokens);
	EXPECT_GE(earned(since(t0), 1), r.bytes_tokens);
	close(fd);
}

/* EVBUS_PUB_WAIT with deadline_ns 0 is EINVAL, limit or not, and takes nothing. */
TEST_F(rate, wait_without_a_deadline_is_einval)
{
	struct evbus_bus_stats bs;
	struct evbus_pub ev[4];
	struct evbus_pub_batch b;
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open(), free_fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, free_fd);
	EXPECT_EQ(-EINVAL, pub_wait(free_fd, 8, 0));
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(1, 3, 1, 100)));
	EXPECT_EQ(-EINVAL, pub_wait(fd, 8, 0));
	/* In a batch: the events before it go out. */
	for (int i = 0; i < 4; i++)
		pub_init(&ev[i], TOPIC, 8, 0, 0);
	ev[2].flags = EVBUS_PUB_WAIT;
	EXPECT_EQ(2, batch(fd, ev, 4, 0, &b));
	EXPECT_EQ(2, b.published);
	EXPECT_EQ(-EINVAL, b.error);
	EXPECT_EQ(2, b.error_index);
	/* Two events' tokens spent, none for the invalid one. */
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LE(1, r.events_tokens);
	EXPECT_GE(1 + earned(since(t0), 1), r.events_tokens);
	EXPECT_LE(84, r.bytes_tokens);
	EXPECT_GE(84 + earned(since(t0), 1), r.bytes_tokens);
	EXPECT_EQ(0, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.seq);
	EXPECT_EQ(2, bs.published);
	EXPECT_EQ(0, bs.rate_refused_file);
	EXPECT_EQ(0, bs.rate_waited);
	close(fd);
	close(free_fd);
}

/*
 * A signal ends a wait for tokens with EINTR: the tokens it reserved (the
 * bucket below zero meanwhile) go back, nothing is published, and it is
 * counted as interrupted, not as waited.
 */
TEST_F(rate, signal_ends_the_wait_and_gives_the_tokens_back)
{
	struct evbus_bus_stats b0, b1;
	struct waiter w = { 0 };
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, catch_sigusr1());
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 20)));
	ASSERT_EQ(1, pub(fd, 20));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	w.fd = fd;
	w.len = 20;
	w.deadline_ns = 25 * NS;	/* the wait needs 20 s */
	ASSERT_EQ(1, waiter_start(&w, fd, false))
		TH_LOG("the publisher never waited with its tokens reserved");
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_GT(0, r.bytes_tokens);
	EXPECT_LE(-20, r.bytes_tokens);
	ASSERT_EQ(0, pthread_kill(w.th, SIGUSR1));
	ASSERT_EQ(0, pthread_join(w.th, NULL));
	EXPECT_EQ(-EINTR, w.ret) TH_LOG("%s", strerror((int)-w.ret));
	EXPECT_GT(15 * NS, w.ns) TH_LOG("it waited out its tokens");
	/* Given back: what the rate earned since the first publish, no debt. */
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LE(0, r.bytes_tokens);
	EXPECT_GE(earned(since(t0), 1), r.bytes_tokens);
	EXPECT_EQ(0, r.waited);
	EXPECT_EQ(0, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(1, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(b0.rate_interrupted + 1, b1.rate_interrupted);
	EXPECT_EQ(0, b1.rate_waited);
	EXPECT_EQ(0, b1.rate_wait_ns);
	EXPECT_EQ(0, b1.rate_refused_file);
	close(fd);
}

/* ========================================================= file limits */

/*
 * Anyone holding a file may tighten its limit, never loosen it (EPERM,
 * root too): higher rates or bursts, or a dimension left unlimited.  A
 * tighter limit keeps what the bucket held if that is less (it cannot
 * refill a bucket).
 */
TEST_F(rate, file_limit_only_tightens)
{
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open(), u;

	ASSERT_LE(0, fd);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(10, 10, 1000, 1000)));
	EXPECT_EQ(0, rate_file(fd, lim(10, 10, 1000, 1000)));	/* the same */
	EXPECT_EQ(-EPERM, rate_file(fd, lim(11, 10, 1000, 1000)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(10, 11, 1000, 1000)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(10, 10, 1001, 1000)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(10, 10, 1000, 1001)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(0, 0, 1000, 1000)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(10, 10, 0, 0)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(0, 0, 0, 0)));
	EXPECT_EQ(-EPERM, rate_file(fd, lim(1, 20, 1, 1)));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LIM(r.limit, 10, 10, 1000, 1000);
	EXPECT_EQ(0, rate_file(fd, lim(5, 10, 1000, 500)));
	EXPECT_EQ(0, rate_file(fd, lim(1, 5, 1, 500)));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LIM(r.limit, 1, 5, 1, 500);
	EXPECT_EQ(5, r.events_tokens);
	EXPECT_EQ(500, r.bytes_tokens);
	/* 3 of 5 spent: a burst of 4 keeps 2, it does not refill to 4. */
	ASSERT_LT(0, pub(fd, 10));
	ASSERT_LT(0, pub(fd, 10));
	ASSERT_LT(0, pub(fd, 10));
	EXPECT_EQ(0, rate_file(fd, lim(1, 4, 1, 400)));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LIM(r.limit, 1, 4, 1, 400);
	EXPECT_LE(2, r.events_tokens);
	EXPECT_GE(2 + earned(since(t0), 1), r.events_tokens);
	EXPECT_LE(400, r.bytes_tokens);		/* 470 held: capped to 400 */
	EXPECT_GE(400, r.bytes_tokens);
	EXPECT_EQ(0, r.refused);

	/* A file uid 1000 opened: its holder may tighten, not loosen. */
	u = evt_open_as(&U1000);
	ASSERT_LE(0, u);
	EXPECT_EQ(0, rate_file(u, lim(5, 5, 0, 0)));
	EXPECT_EQ(-EPERM, rate_file(u, lim(6, 5, 0, 0)));
	EXPECT_EQ(-EPERM, rate_file(u, lim(0, 0, 0, 0)));
	ASSERT_EQ(0, rate_get(u, &r));
	EXPECT_LIM(r.limit, 5, 5, 0, 0);
	close(u);
	close(fd);
}

/*
 * A file with a limit handed to an unprivileged process cannot be made
 * looser there, and the limit holds for whatever it publishes.
 */
TEST_F(rate, handed_down_file_keeps_its_limit)
{
	struct evt_got got[16];
	int *res = evt_shared(4 * sizeof(int));
	pid_t pid;
	int fd = evt_sf_open();

	ASSERT_NE(NULL, res);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 50)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (evt_become(&U1000))
			_exit(2);
		res[0] = rate_file(fd, lim(0, 0, 1, 51));
		res[1] = rate_file(fd, lim(0, 0, 0, 0));
		res[2] = (int)pub(fd, 50);
		res[3] = (int)pub(fd, 50);
		_exit(0);
	}
	ASSERT_EQ(0, evt_wait(pid));
	EXPECT_EQ(-EPERM, res[0]);
	EXPECT_EQ(-EPERM, res[1]);
	EXPECT_EQ(1, res[2]);
	EXPECT_EQ(-EAGAIN, res[3]);
	EXPECT_EQ(1, delivered(self->sub, got, 16));
	EXPECT_EQ(1000, got[0].uid);
	munmap(res, 4 * sizeof(int));
	close(fd);
}

/* ========================================================= user limits */

/*
 * The owner's limit for uid 1000 is one bucket for all of uid 1000's
 * files; root and uid 1001 are not limited by it.  EVBUS_WHO_ALL limits
 * every user without a limit of its own (root too); uid 1000 keeps its
 * own.  USER_GET reads each back; rate_users counts them; a replacement
 * is not one more.
 */
TEST_F(rate, user_limit_is_one_bucket_for_the_account)
{
	struct evbus_rate_limit l;
	struct evbus_bus_stats bs;
	struct evbus_rate r;
	uint64_t t0, dt;
	int64_t ret = 0;
	int n = 0, refused = 0, u1, u2, v;

	u1 = evt_open_as(&U1000);
	u2 = evt_open_as(&U1000);
	v = evt_open_as(&U1001);
	ASSERT_LE(0, u1);
	ASSERT_LE(0, u2);
	ASSERT_LE(0, v);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(1, 3, 0, 0)));
	ASSERT_EQ(0, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_LIM(l, 1, 3, 0, 0);
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1001, &l));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.rate_users);
	/* Shown on uid 1000's files before their first publish: a full bucket. */
	ASSERT_EQ(0, rate_get(u1, &r));
	EXPECT_LIM(r.limit, 0, 0, 0, 0);
	EXPECT_LIM(r.user, 1, 3, 0, 0);
	EXPECT_EQ(3, r.user_events_tokens);
	ASSERT_EQ(0, rate_get(v, &r));
	EXPECT_LIM(r.user, 0, 0, 0, 0);

	/* Both files spend the one bucket. */
	for (int i = 0; i < 40; i++) {
		ret = pub(i & 1 ? u2 : u1, 8);
		if (ret == -EAGAIN) {
			if (++refused == 2)
				break;
			continue;
		}
		ASSERT_LT(0, ret) TH_LOG("%s", strerror((int)-ret));
		n++;
	}
	dt = since(t0);
	EXPECT_EQ(2, refused);
	EXPECT_LE(3, n);
	EXPECT_GE(3 + earned(dt, 1), n);
	ASSERT_EQ(0, rate_get(u2, &r));
	EXPECT_LIM(r.user, 1, 3, 0, 0);
	EXPECT_LE(0, r.user_events_tokens);
	EXPECT_GE(earned(since(t0), 1), r.user_events_tokens);
	EXPECT_EQ(0, r.events_tokens);		/* no file limit */
	/* Others are free. */
	for (int i = 0; i < 20; i++) {
		ASSERT_LT(0, pub(v, 8));
		ASSERT_LT(0, pub(self->own, 8));
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_refused_user);
	EXPECT_EQ(0, bs.rate_refused_file);

	/* Everyone else: 50 bytes at 1 a second. */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 1, 50)));
	ASSERT_EQ(0, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	EXPECT_LIM(l, 0, 0, 1, 50);
	ASSERT_EQ(0, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_LIM(l, 1, 3, 0, 0);
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1001, &l));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_users);
	ASSERT_LT(0, pub(v, 50));
	EXPECT_EQ(-EAGAIN, pub(v, 50));
	ASSERT_LT(0, pub(self->own, 50));
	EXPECT_EQ(-EAGAIN, pub(self->own, 50));
	/* uid 1000's own limit has no byte dimension. */
	ASSERT_EQ(0, rate_get(u1, &r));
	EXPECT_LIM(r.user, 1, 3, 0, 0);
	ASSERT_EQ(0, rate_get(v, &r));
	EXPECT_LIM(r.user, 0, 0, 1, 50);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(4, bs.rate_refused_user);

	/* A replacement replaces. */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(2, 6, 0, 0)));
	ASSERT_EQ(0, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_LIM(l, 2, 6, 0, 0);
	ASSERT_EQ(0, rate_get(u1, &r));
	EXPECT_LIM(r.user, 2, 6, 0, 0);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_users);
	close(u1);
	close(u2);
	close(v);
}

/*
 * Setting a user's limit is the owner's: EPERM for a file uid 1000
 * opened (even used by root), for uid 1000 using root's file, for uid
 * 1000's own file, and for a scoped file; nothing is set.
 */
TEST_F(rate, only_the_owner_sets_user_limits)
{
	struct evbus_rate_limit l;
	struct evbus_bus_stats bs;
	int *res = evt_shared(4 * sizeof(int));
	int u = evt_open_as(&U1000), s = evt_sf_open();
	pid_t pid;

	ASSERT_NE(NULL, res);
	ASSERT_LE(0, u);
	ASSERT_LE(0, s);
	EXPECT_EQ(-EPERM, rate_user(u, EVBUS_WHO_UID, 1000, lim(1, 1, 0, 0)));
	EXPECT_EQ(-EPERM, rate_user(u, EVBUS_WHO_ALL, 0, lim(1, 1, 0, 0)));
	ASSERT_EQ(0, evt_narrow1(s, "rt.>", "rt.>"));
	EXPECT_EQ(-EPERM, rate_user(s, EVBUS_WHO_UID, 1001, lim(1, 1, 0, 0)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (evt_become(&U1000))
			_exit(2);
		res[0] = rate_user(self->own, EVBUS_WHO_UID, 1000, lim(1, 1, 0, 0));
		fd = evt_open();
		if (fd < 0)
			_exit(3);
		res[1] = rate_user(fd, EVBUS_WHO_UID, 1001, lim(1, 1, 0, 0));
		res[2] = rate_user(fd, EVBUS_WHO_ALL, 0, lim(1, 1, 0, 0));
		_exit(0);
	}
	ASSERT_EQ(0, evt_wait(pid));
	EXPECT_EQ(-EPERM, res[0]);
	EXPECT_EQ(-EPERM, res[1]);
	EXPECT_EQ(-EPERM, res[2]);
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1001, &l));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.rate_users);
	/* uid 1000 still publishes freely. */
	for (int i = 0; i < 10; i++)
		EXPECT_LT(0, pub(u, 8));
	munmap(res, 4 * sizeof(int));
	close(u);
	close(s);
}

/*
 * All-zero limits remove a user's limit (ENOENT when there is none, for
 * a uid or for everyone); the account's files are free at once.
 */
TEST_F(rate, removing_a_user_limit)
{
	struct evbus_rate_limit l;
	struct evbus_bus_stats bs;
	struct evbus_rate r;
	int u = evt_open_as(&U1000);

	ASSERT_LE(0, u);
	EXPECT_EQ(-ENOENT, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 0, 0)));
	EXPECT_EQ(-ENOENT, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 0, 0)));
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1, 30)));
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 1, 40)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_users);
	ASSERT_EQ(1, pub(u, 30));
	EXPECT_EQ(-EAGAIN, pub(u, 30));
	/* uid 1000's goes: everyone's applies to it now (its bucket, low). */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 0, 0)));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_EQ(-ENOENT, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 0, 0)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.rate_users);
	ASSERT_EQ(0, rate_get(u, &r));
	EXPECT_LIM(r.user, 0, 0, 1, 40);
	EXPECT_EQ(-EAGAIN, pub(u, 30));
	/* Everyone's goes: free. */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 0, 0)));
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	EXPECT_EQ(-ENOENT, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 0, 0)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(0, bs.rate_users);
	EXPECT_EQ(2, bs.rate_refused_user);
	for (int i = 0; i < 10; i++)
		EXPECT_EQ(2 + i, pub(u, 30));
	ASSERT_EQ(0, rate_get(u, &r));
	EXPECT_LIM(r.user, 0, 0, 0, 0);
	EXPECT_EQ(0, r.user_bytes_tokens);
	close(u);
}

/*
 * Closing and reopening the device does not refill a user's bucket: the
 * account's bucket outlives its files while it is not full, for a file
 * opened anew by the user or handed over (SCM_RIGHTS) after the others
 * closed.  A fresh file's GET shows the tokens its user has.
 */
TEST_F(rate, reopening_does_not_refill_a_users_bucket)
{
	struct evbus_bus_stats bs;
	struct evbus_rate r;
	uint64_t t0;
	int u, i;

	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1, 60)));
	u = evt_open_as(&U1000);
	ASSERT_LE(0, u);
	ASSERT_EQ(1, pub(u, 30));
	ASSERT_EQ(2, pub(u, 30));
	close(u);
	for (i = 0; i < 3; i++) {
		/* Files are freed after a grace period: let that happen. */
		usleep(200 * 1000);
		u = evt_open_as(&U1000);
		ASSERT_LE(0, u);
		ASSERT_EQ(0, rate_get(u, &r));
		EXPECT_LIM(r.user, 0, 0, 1, 60);
		EXPECT_LE(0, r.user_bytes_tokens);
		EXPECT_GE(earned(since(t0), 1), r.user_bytes_tokens)
			TH_LOG("reopened, uid 1000 has %lld of 60 bytes again",
			       (long long)r.user_bytes_tokens);
		EXPECT_EQ(-EAGAIN, pub(u, 30)) TH_LOG("open #%d", i + 2);
		close(u);
	}
	ASSERT_GT(25 * NS, since(t0)) TH_LOG("too slow to tell");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.seq);
	EXPECT_EQ(3, bs.rate_refused_user);
}

/*
 * Each account has a bucket of its own under EVBUS_WHO_ALL: uid 1000
 * spending all of its burst leaves uid 1001's whole.
 */
TEST_F(rate, users_have_buckets_of_their_own)
{
	struct evbus_bus_stats bs;
	int a = evt_open_as(&U1000), a2 = evt_open_as(&U1000);
	int b = evt_open_as(&U1001);

	ASSERT_LE(0, a);
	ASSERT_LE(0, a2);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_ALL, 0, lim(0, 0, 1, 60)));
	ASSERT_LT(0, pub(a, 20));
	ASSERT_LT(0, pub(a2, 20));
	ASSERT_LT(0, pub(a, 20));
	EXPECT_EQ(-EAGAIN, pub(a2, 20));
	EXPECT_EQ(-EAGAIN, pub(a, 20));
	/* uid 1001's is whole. */
	ASSERT_LT(0, pub(b, 20));
	ASSERT_LT(0, pub(b, 20));
	ASSERT_LT(0, pub(b, 20));
	EXPECT_EQ(-EAGAIN, pub(b, 20));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.rate_refused_user);
	EXPECT_EQ(6, bs.published);
	close(a);
	close(a2);
	close(b);
}

struct flooder {
	int fd;
	volatile int stop;
	long refused, other;
	pthread_t th;
};

static void *flood_main(void *arg)
{
	struct flooder *f = arg;

	while (!f->stop) {
		int64_t ret = pub(f->fd, 20);

		if (ret == -EAGAIN)
			f->refused++;
		else
			f->other++;
	}
	return NULL;
}

/*
 * uid 1000 floods: one of its publishes waits for tokens (20 s of them)
 * and another thread hammers its other file, refused each time; uid 1001
 * publishes meanwhile, every call at once, none refused nor waiting; the
 * refusals are counted exactly, against the user's bucket.
 */
TEST_F(rate, one_users_flood_does_not_slow_another)
{
	struct evbus_bus_stats b0, b1;
	struct flooder f = { 0 };
	struct waiter w = { 0 };
	struct evt_got *got;
	uint64_t t, worst = 0;
	int a = evt_open_as(&U1000), a2 = evt_open_as(&U1000);
	int b = evt_open_as(&U1001);

	ASSERT_LE(0, a);
	ASSERT_LE(0, a2);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, catch_sigusr1());
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1, 20)));
	ASSERT_EQ(1, pub(a, 20));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	w.fd = a;
	w.len = 20;
	w.deadline_ns = 25 * NS;
	ASSERT_EQ(1, waiter_start(&w, a, true))
		TH_LOG("uid 1000's publish never waited");
	f.fd = a2;
	ASSERT_EQ(0, pthread_create(&f.th, NULL, flood_main, &f));
	/* The flood is under way before uid 1001 starts. */
	t = evt_now_ns() + 10 * NS * evt_slow();
	while (__atomic_load_n(&f.refused, __ATOMIC_RELAXED) < 10 &&
	       !__atomic_load_n(&f.other, __ATOMIC_RELAXED) && evt_now_ns() < t)
		usleep(1000);
	for (int i = 0; i < 100; i++) {
		int64_t ret;

		t = evt_now_ns();
		ret = pub(b, 20);
		t = since(t);
		ASSERT_EQ(2 + i, ret) TH_LOG("%s", strerror((int)-ret));
		if (t > worst)
			worst = t;
	}
	f.stop = 1;
	ASSERT_EQ(0, pthread_join(f.th, NULL));
	EXPECT_GT(NS * evt_slow(), worst) TH_LOG("uid 1001 took %llu ms",
						 (unsigned long long)(worst / MS));
	ASSERT_EQ(0, pthread_kill(w.th, SIGUSR1));
	ASSERT_EQ(0, pthread_join(w.th, NULL));
	EXPECT_EQ(-EINTR, w.ret);
	EXPECT_EQ(0, f.other);
	EXPECT_LE(10, f.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(101, b1.seq);
	EXPECT_EQ(b0.rate_refused_user + f.refused, b1.rate_refused_user);
	EXPECT_EQ(0, b1.rate_refused_file);
	EXPECT_EQ(0, b1.rate_waited);
	EXPECT_EQ(1, b1.rate_interrupted);
	got = calloc(128, sizeof(*got));
	ASSERT_NE(NULL, got);
	EXPECT_EQ(101, delivered(self->sub, got, 128));
	free(got);
	close(a);
	close(a2);
	close(b);
}

/*
 * A user is the account at the top of its user namespaces.  In a user
 * namespace uid 1000 made, whose uid 0 root mapped to kuid 200000 (as a
 * container manager maps subordinate ids), publishes spend uid 1000's
 * bucket, not a bucket of kuid 200000: namespaces cannot multiply a
 * limit.  That namespace's root is not the bus owner (EPERM).
 */
TEST_F(rate, a_user_namespace_spends_its_creators_bucket)
{
	struct {
		int step, err, ok, refused, set;
		uid_t uid;
	} *res;
	struct evbus_bus_stats bs;
	struct evt_got got[16];
	int ready[2], go[2], u, n;
	char path[64], c;
	pid_t pid;

	if (access("/proc/self/ns/user", F_OK))
		SKIP(return, "no user namespaces in this kernel");
	if (saved.userns_clone[0] == '0')
		ASSERT_EQ(0, evt_write_text(USERNS_CLONE, "1"));
	res = evt_shared(sizeof(*res));
	ASSERT_NE(NULL, res);
	u = evt_open_as(&U1000);
	ASSERT_LE(0, u);
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1, 60)));
	ASSERT_EQ(1, pub(u, 20));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		close(ready[0]);
		close(go[1]);
		alarm(60);
		if (evt_become(&U1000) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			res->step = 1;
		else if (unshare(CLONE_NEWUSER))
			res->step = errno == EINVAL ? 4 : 2;
		res->err = errno;
		if (write(ready[1], "r", 1) != 1 || res->step)
			_exit(0);
		if (read(go[0], &c, 1) != 1) {
			res->step = 3;
			_exit(0);
		}
		/* Our uid 0 is kuid 200000 now: become it. */
		if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) {
			res->step = 5;
			res->err = errno;
			_exit(0);
		}
		res->uid = geteuid();
		fd = evt_open();
		if (fd < 0) {
			res->step = 6;
			res->err = errno;
			_exit(0);
		}
		for (int i = 0; i < 10; i++) {
			int64_t ret = pub(fd, 20);

			if (ret == -EAGAIN) {
				res->refused++;
				break;
			}
			if (ret > 0)
				res->ok++;
		}
		res->set = rate_user(fd, EVBUS_WHO_UID, 0, lim(0, 0, 0, 0));
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	if (res->step == 4) {
		close(go[1]);
		evt_wait(pid);
		SKIP(return, "unshare(CLONE_NEWUSER): EINVAL");
	}
	if (!res->step) {
		snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
		EXPECT_EQ(0, evt_write_text(path, "0 200000 1\n"));
		snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
		EXPECT_EQ(0, evt_write_text(path, "0 200000 1\n"));
		EXPECT_EQ(1, write(go[1], "g", 1));
	}
	close(go[1]);
	close(ready[0]);
	ASSERT_EQ(0, evt_wait(pid));
	ASSERT_EQ(0, res->step) TH_LOG("step %d: %s", res->step, strerror(res->err));
	EXPECT_EQ(0, res->uid);
	/* 60 bytes: 20 outside, then 2 of 20 inside, the third refused. */
	EXPECT_EQ(2, res->ok) TH_LOG("the namespace published %d", res->ok);
	EXPECT_EQ(1, res->refused);
	EXPECT_EQ(-EPERM, res->set);
	EXPECT_EQ(-EAGAIN, pub(u, 20));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.rate_users);
	EXPECT_EQ(2, bs.rate_refused_user);
	/* The namespace's events, as kuid 200000. */
	n = delivered(self->sub, got, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(200000, got[1].uid);
	EXPECT_EQ(200000, got[2].uid);
	munmap(res, sizeof(*res));
	close(u);
}

/* ========================================================= EMSGSIZE */

/*
 * A payload larger than the file's or the user's byte burst can never
 * pass: EMSGSIZE (not EAGAIN, not counted as refused), also with
 * EVBUS_PUB_WAIT, in a batch and for a will; nothing taken.
 */
TEST_F(rate, payload_over_a_byte_burst_is_emsgsize)
{
	struct evbus_bus_stats b0, b1;
	struct evbus_pub ev[3];
	struct evbus_pub_batch b;
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open(), u = evt_open_as(&U1000);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, u);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 100)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(-EMSGSIZE, pub(fd, 101));
	EXPECT_EQ(-EMSGSIZE, pub_wait(fd, 101, 5 * NS));
	EXPECT_EQ(-EMSGSIZE, pub(fd, 1000));
	EXPECT_EQ(-EMSGSIZE, will_arm(fd, 1, "rt.will", 101));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(0, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(0, b1.rate_refused_file);
	EXPECT_EQ(0, b1.rate_waited);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_EQ(100, r.bytes_tokens);
	EXPECT_EQ(0, r.refused);
	/* In a batch: the event before it goes out. */
	pub_init(&ev[0], TOPIC, 40, 0, 0);
	pub_init(&ev[1], TOPIC, 101, 0, 0);
	pub_init(&ev[2], TOPIC, 1, 0, 0);
	EXPECT_EQ(1, batch(fd, ev, 3, 0, &b));
	EXPECT_EQ(1, b.published);
	EXPECT_EQ(-EMSGSIZE, b.error);
	EXPECT_EQ(1, b.error_index);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LE(60, r.bytes_tokens);
	EXPECT_GE(60 + earned(since(t0), 1), r.bytes_tokens);
	/* The whole burst at once is fine. */
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 60)));
	EXPECT_EQ(2, pub(fd, 60));

	/* The user's byte burst. */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1000, 50)));
	EXPECT_EQ(-EMSGSIZE, pub(u, 51));
	EXPECT_EQ(-EMSGSIZE, pub_wait(u, 51, 5 * NS));
	EXPECT_EQ(3, pub(u, 50));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(0, b1.rate_refused_user);
	EXPECT_EQ(0, b1.rate_refused_file);
	close(fd);
	close(u);
}

/* ==================================================== bad arguments */

/*
 * Unknown ops, fields that must be zero, rates without bursts and the
 * reverse, values past the maxima, sizes: EINVAL, E2BIG or EFAULT, and
 * nothing changes (the file's limit and tokens, the user limits, the
 * counters).
 */
TEST_F(rate, bad_arguments_change_nothing)
{
	char buf[4096 + 64] __attribute__((aligned(8)));
	struct evbus_rate *rb = (void *)buf, r;
	struct evbus_bus_stats b0, b1;
	struct evbus_rate_limit l;
	void *bad;
	int fd = evt_sf_open(), max;

	ASSERT_LE(0, fd);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(0, rate_file(fd, lim(1, 5, 1, 100)));
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(2, 4, 0, 0)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));

#define BAD_ON(f, err, arg, what)					\
	EXPECT_EQ(-(err), rate_raw(f, arg)) TH_LOG("%s", what)
#define BAD(err, what)	BAD_ON(fd, err, &r, what)
#define BADU(err, what)	BAD_ON(self->own, err, &r, what)

	rate_init(&r, 4);			BAD(EINVAL, "op 4");
	rate_init(&r, 0xffffffffu);		BAD(EINVAL, "op ~0");
	/* GET */
	rate_init(&r, EVBUS_RATE_GET); r.who = EVBUS_WHO_UID; BAD(EINVAL, "GET who");
	rate_init(&r, EVBUS_RATE_GET); r.id_value = 1;	BAD(EINVAL, "GET id_value");
	rate_init(&r, EVBUS_RATE_GET); r.limit.events_per_sec = 1;
	BAD(EINVAL, "GET with a limit");
	rate_init(&r, EVBUS_RATE_GET); r.limit.bytes_burst = 1;
	BAD(EINVAL, "GET with a limit's bytes_burst");
	rate_init(&r, EVBUS_RATE_GET); r.user.events_burst = 1;
	BAD(EINVAL, "GET with user set");
	rate_init(&r, EVBUS_RATE_GET); r.events_tokens = 1;
	BAD(EINVAL, "GET with events_tokens set");
	rate_init(&r, EVBUS_RATE_GET); r.waited = 1;	BAD(EINVAL, "GET with waited set");
	/* FILE */
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.who = EVBUS_WHO_UID;			BAD(EINVAL, "FILE who");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.id_value = 7;				BAD(EINVAL, "FILE id_value");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 0, 0, 0);
	BAD(EINVAL, "an event rate without a burst");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(0, 1, 0, 0);
	BAD(EINVAL, "an event burst without a rate");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 1, 0);
	BAD(EINVAL, "a byte rate without a burst");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 1);
	BAD(EINVAL, "a byte burst without a rate");
	rate_init(&r, EVBUS_RATE_FILE);
	r.limit = lim(1, EVBUS_RATE_BURST_MAX + 1, 0, 0);
	BAD(EINVAL, "events_burst past EVBUS_RATE_BURST_MAX");
	rate_init(&r, EVBUS_RATE_FILE);
	r.limit = lim(1, 1, 1, EVBUS_RATE_BURST_MAX + 1);
	BAD(EINVAL, "bytes_burst past EVBUS_RATE_BURST_MAX");
	rate_init(&r, EVBUS_RATE_FILE);
	r.limit = lim(EVBUS_RATE_MAX + 1, 1, 0, 0);
	BAD(EINVAL, "events_per_sec past EVBUS_RATE_MAX");
	rate_init(&r, EVBUS_RATE_FILE);
	r.limit = lim(1, 1, EVBUS_RATE_MAX + 1, 1);
	BAD(EINVAL, "bytes_per_sec past EVBUS_RATE_MAX");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.user.events_per_sec = 1;		BAD(EINVAL, "FILE with user set");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.refused = 1;				BAD(EINVAL, "FILE with refused set");
	/* USER and USER_GET */
	rate_init(&r, EVBUS_RATE_USER); r.who = 2; r.limit = lim(1, 1, 0, 0);
	BADU(EINVAL, "USER who 2");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_ALL; r.id_value = 1000;
	r.limit = lim(1, 1, 0, 0);		BADU(EINVAL, "USER ALL with an id");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_UID;
	r.id_value = 0xffffffffu; r.limit = lim(1, 1, 0, 0);
	BADU(EINVAL, "USER uid -1");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_UID; r.id_value = 1000;
	r.limit = lim(1, 0, 0, 0);		BADU(EINVAL, "USER rate without a burst");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_UID; r.id_value = 1000;
	r.limit = lim(1, EVBUS_RATE_BURST_MAX + 1, 0, 0);
	BADU(EINVAL, "USER burst past the max");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_UID; r.id_value = 1000;
	r.limit = lim(1, 1, 0, 0); r.user_events_tokens = 1;
	BADU(EINVAL, "USER with an out field set");
	rate_init(&r, EVBUS_RATE_USER_GET); r.who = EVBUS_WHO_UID; r.id_value = 1000;
	r.limit.events_per_sec = 1;		BADU(EINVAL, "USER_GET with a limit");
	rate_init(&r, EVBUS_RATE_USER_GET); r.who = 3;	BADU(EINVAL, "USER_GET who 3");
	rate_init(&r, EVBUS_RATE_USER_GET); r.who = EVBUS_WHO_ALL; r.id_value = 1;
	BADU(EINVAL, "USER_GET ALL with an id");
	/* Sizes. */
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.size = 0;				BAD(EINVAL, "size 0");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.size = EVBUS_RATE_SIZE_VER0 - 1;	BAD(EINVAL, "size VER0 - 1");
	rate_init(&r, EVBUS_RATE_FILE); r.limit = lim(1, 1, 0, 0);
	r.size = EVBUS_RATE_SIZE_VER0 - 8;	BAD(EINVAL, "size VER0 - 8");
	memset(buf, 0, sizeof(buf));
	rate_init(rb, EVBUS_RATE_FILE);
	rb->limit = lim(1, 1, 0, 0);
	rb->size = EVBUS_RATE_SIZE_VER0 + 8;
	buf[EVBUS_RATE_SIZE_VER0 + 3] = 1;
	BAD_ON(fd, E2BIG, buf, "a nonzero byte in a tail of 8");
	buf[EVBUS_RATE_SIZE_VER0 + 3] = 0;
	rb->size = 4096;
	buf[4095] = 1;
	BAD_ON(fd, E2BIG, buf, "a nonzero last byte of a page-sized struct");
	buf[4095] = 0;
	rb->size = 4097;
	BAD_ON(fd, E2BIG, buf, "larger than a page");
	rb->size = 0xffffffffu;
	BAD_ON(fd, E2BIG, buf, "size ~0");
	BAD_ON(fd, EFAULT, NULL, "NULL");
	BAD_ON(fd, EFAULT, bad, "unmapped");
	rate_init(&r, EVBUS_RATE_USER); r.who = EVBUS_WHO_UID; r.id_value = 1000;
	r.size = EVBUS_RATE_SIZE_VER0 - 1;	BADU(EINVAL, "USER size VER0 - 1");
#undef BAD
#undef BADU

	/* Nothing changed. */
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LIM(r.limit, 1, 5, 1, 100);
	EXPECT_EQ(5, r.events_tokens);
	EXPECT_EQ(100, r.bytes_tokens);
	EXPECT_EQ(0, r.refused);
	ASSERT_EQ(0, rate_user_get(self->own, EVBUS_WHO_UID, 1000, &l));
	EXPECT_LIM(l, 2, 4, 0, 0);
	EXPECT_EQ(-ENOENT, rate_user_get(self->own, EVBUS_WHO_ALL, 0, &l));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(0, b1.seq);
	EXPECT_EQ(1, b1.rate_users);
	EXPECT_EQ(b0.rate_refused_file, b1.rate_refused_file);
	EXPECT_EQ(b0.rate_refused_user, b1.rate_refused_user);

	/* A larger struct with a zero tail is fine, and its tail comes back zero. */
	memset(buf, 0, sizeof(buf));
	rate_init(rb, EVBUS_RATE_GET);
	rb->size = 4096;
	ASSERT_EQ(0, rate_raw(fd, buf));
	EXPECT_LIM(rb->limit, 1, 5, 1, 100);
	for (max = EVBUS_RATE_SIZE_VER0; max < 4096; max++)
		if (buf[max])
			break;
	EXPECT_EQ(4096, max);
	rate_init(rb, EVBUS_RATE_FILE);
	rb->size = EVBUS_RATE_SIZE_VER0 + 8;
	rb->limit = lim(1, 4, 1, 100);
	EXPECT_EQ(0, rate_raw(fd, buf));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LIM(r.limit, 1, 4, 1, 100);
	/* The maxima themselves are fine. */
	max = evt_sf_open();
	ASSERT_LE(0, max);
	EXPECT_EQ(0, rate_file(max, lim(EVBUS_RATE_MAX, EVBUS_RATE_BURST_MAX,
					 EVBUS_RATE_MAX, EVBUS_RATE_BURST_MAX)));
	ASSERT_EQ(0, rate_get(max, &r));
	EXPECT_EQ((int64_t)EVBUS_RATE_BURST_MAX, r.events_tokens);
	EXPECT_EQ((int64_t)EVBUS_RATE_BURST_MAX, r.bytes_tokens);
	EXPECT_EQ(1, pub(max, 100));
	ASSERT_EQ(0, rate_get(max, &r));
	EXPECT_LE((int64_t)EVBUS_RATE_BURST_MAX - 1, r.events_tokens);
	EXPECT_GE((int64_t)EVBUS_RATE_BURST_MAX, r.events_tokens);
	close(max);
	munmap(bad, 4096);
	close(fd);
}

/* ============================================================ batches */

/*
 * A batch stops at the first event its tokens refuse: the ones before go
 * out, error EAGAIN and error_index exact, the refused one and those
 * after spend nothing; a batch with nothing left publishes nothing.
 */
TEST_F(rate, batch_stops_at_the_first_refused_event)
{
	struct evbus_bus_stats bs;
	struct evbus_pub ev[5];
	struct evbus_pub_batch b;
	struct evt_got got[16];
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	for (int i = 0; i < 5; i++)
		pub_init(&ev[i], TOPIC, 10, 0, 0);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 35)));
	EXPECT_EQ(3, batch(fd, ev, 5, 0, &b));
	EXPECT_EQ(3, b.published);
	EXPECT_EQ(-EAGAIN, b.error);
	EXPECT_EQ(3, b.error_index);
	EXPECT_EQ(1, b.first_seq);
	EXPECT_EQ(3, delivered(self->sub, got, 16));
	EXPECT_EQ(3, got[2].seq);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LE(5, r.bytes_tokens);
	EXPECT_GE(5 + earned(since(t0), 1), r.bytes_tokens);
	EXPECT_EQ(1, r.refused);
	/* Nothing left for the first: nothing goes, EAGAIN. */
	EXPECT_EQ(-EAGAIN, batch(fd, ev, 5, 0, &b));
	EXPECT_EQ(0, b.published);
	EXPECT_EQ(-EAGAIN, b.error);
	EXPECT_EQ(0, b.error_index);
	/* A small one fits in what is left. */
	pub_init(&ev[0], TOPIC, 5, 0, 0);
	EXPECT_EQ(1, batch(fd, ev, 2, 0, &b));
	EXPECT_EQ(-EAGAIN, b.error);
	EXPECT_EQ(1, b.error_index);
	EXPECT_EQ(4, b.first_seq);
	ASSERT_GT(5 * NS, since(t0)) TH_LOG("too slow to tell");
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(4, bs.seq);
	EXPECT_EQ(35, bs.published_bytes);
	EXPECT_EQ(3, bs.rate_refused_file);
	EXPECT_EQ(1, delivered(self->sub, got, 16));
	close(fd);
}

/*
 * Events staged but not published give their tokens back: a batch whose
 * seq write-back (EVBUS_BATCH_SEQ) faults at event 3, on a read-only
 * page, publishes 3 and spends 3 events' bytes, not the 6 staged.
 */
TEST_F(rate, batch_tail_not_published_gives_its_tokens_back)
{
	long page = sysconf(_SC_PAGESIZE);
	struct evbus_bus_stats bs;
	struct evbus_pub_batch b;
	struct evt_got got[16];
	struct evbus_pub *ev;
	struct evbus_rate r;
	uint64_t t0;
	char *mem;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ev = (struct evbus_pub *)(mem + page - 3 * sizeof(*ev));
	for (int i = 0; i < 6; i++)
		pub_init(&ev[i], TOPIC, 10, 0, 0);
	ASSERT_EQ(0, mprotect(mem + page, page, PROT_READ));
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 100)));
	EXPECT_EQ(3, batch(fd, ev, 6, EVBUS_BATCH_SEQ, &b));
	EXPECT_EQ(3, b.published);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(3, b.error_index);
	EXPECT_EQ(1, ev[0].seq);
	EXPECT_EQ(3, ev[2].seq);
	ASSERT_EQ(0, rate_get(fd, &r));
	ASSERT_GT(20 * NS, since(t0));
	EXPECT_LE(70, r.bytes_tokens) TH_LOG("the 3 events not published kept their tokens");
	EXPECT_GE(70 + earned(since(t0), 1), r.bytes_tokens);
	EXPECT_EQ(0, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(3, bs.seq);
	EXPECT_EQ(30, bs.published_bytes);
	EXPECT_EQ(0, bs.rate_refused_file);
	EXPECT_EQ(3, delivered(self->sub, got, 16));
	munmap(mem, 2 * page);
	close(fd);
}

/*
 * A batch with EVBUS_PUB_WAIT waits at most one deadline in all: at 1
 * event a second with a burst of 2 and 1.5 s to spend, the third event
 * waits about a second, the fourth would need another and is refused.
 */
TEST_F(rate, batch_waits_one_deadline_in_all)
{
	struct evbus_bus_stats bs;
	struct evbus_pub ev[4];
	struct evbus_pub_batch b;
	struct evt_got got[16];
	struct evbus_rate r;
	uint64_t t0, dt;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	for (int i = 0; i < 4; i++)
		pub_init(&ev[i], TOPIC, 8, EVBUS_PUB_WAIT, 1500 * MS);
	ASSERT_EQ(0, rate_file(fd, lim(1, 2, 0, 0)));
	t0 = evt_now_ns();
	EXPECT_EQ(3, batch(fd, ev, 4, 0, &b));
	dt = since(t0);
	EXPECT_EQ(3, b.published);
	EXPECT_EQ(-EAGAIN, b.error);
	EXPECT_EQ(3, b.error_index);
	EXPECT_GT(10 * NS * evt_slow(), dt);
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_EQ(1, r.waited);
	EXPECT_EQ(1, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.rate_waited);
	EXPECT_LT(0, bs.rate_wait_ns);
	EXPECT_GE(NS, bs.rate_wait_ns);
	EXPECT_EQ(1, bs.rate_refused_file);
	EXPECT_EQ(3, delivered(self->sub, got, 16));
	close(fd);
}

/* ============================================================== wills */

/*
 * A will pays its tokens when armed: EAGAIN when the bucket cannot pay
 * (counted, nothing armed), and publishes cannot spend what it took; the
 * armed will fires at close whatever the bucket holds then.
 */
TEST_F(rate, will_pays_when_armed)
{
	struct evbus_bus_stats bs;
	struct evt_got got[4];
	struct evbus_rate r;
	uint64_t t0;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 20)));
	ASSERT_EQ(0, will_arm(fd, 1, "rt.will", 15));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_LE(5, r.bytes_tokens);
	EXPECT_GE(5 + earned(since(t0), 1), r.bytes_tokens);
	EXPECT_EQ(-EAGAIN, will_arm(fd, 2, "rt.will2", 15));
	EXPECT_EQ(-EAGAIN, pub(fd, 15));
	ASSERT_GT(9 * NS, since(t0));
	ASSERT_EQ(0, rate_get(fd, &r));
	EXPECT_EQ(2, r.refused);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_refused_file);
	EXPECT_EQ(0, bs.seq);
	/* Its tokens spent, the will still goes out. */
	ASSERT_EQ(1, pub(fd, 5));
	close(fd);
	EXPECT_EQ(2, delivered(self->sub, got, 4));
	EXPECT_STREQ("rt.will", got[1].topic);
	EXPECT_EQ(15, got[1].payload_len);
	EXPECT_EQ(2, got[1].seq);
}

/* ============================================================= fdinfo */

struct rate_line {
	unsigned long long eps, eb, bps, bb;
	long long et, bt;
};

/* fd's "evbus-rate-<who>:" line: 1 if there is one (in *l), 0, or -errno. */
static int rate_line(int fd, const char *who, struct rate_line *l)
{
	char prefix[32], text[512];
	int ret;

	snprintf(prefix, sizeof(prefix), "evbus-rate-%s:", who);
	ret = evt_fdinfo_lines(fd, prefix, text, sizeof(text));
	if (ret)
		return ret;
	if (!text[0])
		return 0;
	if (sscanf(text + strlen(prefix),
		   "\t%llu/%llu events %llu/%llu bytes tokens %lld %lld\n",
		   &l->eps, &l->eb, &l->bps, &l->bb, &l->et, &l->bt) != 6)
		return -EPROTO;
	return 1;
}

/*
 * fdinfo: "evbus-rate-file:" with the file's limit and whole tokens,
 * "evbus-rate-user:" with the user's once its bucket is in use, and the
 * file's refusals and waits.
 */
TEST_F(rate, fdinfo_shows_the_buckets)
{
	struct rate_line l;
	uint64_t t0;
	int fd = evt_sf_open(), u = evt_open_as(&U1000);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, u);
	EXPECT_EQ(0, rate_line(fd, "file", &l));
	EXPECT_EQ(0, rate_line(fd, "user", &l));
	t0 = evt_now_ns();
	ASSERT_EQ(0, rate_file(fd, lim(1, 5, 1, 100)));
	ASSERT_EQ(1, rate_line(fd, "file", &l));
	EXPECT_EQ(1, l.eps);
	EXPECT_EQ(5, l.eb);
	EXPECT_EQ(1, l.bps);
	EXPECT_EQ(100, l.bb);
	EXPECT_EQ(5, l.et);
	EXPECT_EQ(100, l.bt);
	ASSERT_EQ(1, pub(fd, 10));
	ASSERT_EQ(2, pub(fd, 10));
	EXPECT_EQ(-EAGAIN, pub(fd, 90));
	ASSERT_EQ(1, rate_line(fd, "file", &l));
	ASSERT_GT(9 * NS, since(t0));
	EXPECT_LE(3, l.et);
	EXPECT_GE(3 + earned(since(t0), 1), l.et);
	EXPECT_LE(80, l.bt);
	EXPECT_GE(80 + earned(since(t0), 1), l.bt);
	EXPECT_EQ(1, evt_fdinfo_num(fd, "evbus-rate-refused"));
	EXPECT_EQ(0, evt_fdinfo_num(fd, "evbus-rate-waited"));
	EXPECT_EQ(0, rate_line(fd, "user", &l));

	/* uid 1000's file: the user's bucket, no file line. */
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(2, 7, 0, 0)));
	t0 = evt_now_ns();
	ASSERT_EQ(3, pub(u, 1));
	ASSERT_EQ(1, rate_line(u, "user", &l));
	EXPECT_EQ(2, l.eps);
	EXPECT_EQ(7, l.eb);
	EXPECT_EQ(0, l.bps);
	EXPECT_EQ(0, l.bb);
	EXPECT_LE(6, l.et);
	EXPECT_GE(7, l.et);
	EXPECT_EQ(0, l.bt);
	EXPECT_EQ(0, rate_line(u, "file", &l));
	EXPECT_EQ(0, evt_fdinfo_num(u, "evbus-rate-refused"));
	/* The owner's own file meets no user limit: no user line. */
	EXPECT_EQ(0, rate_line(self->own, "user", &l));
	close(fd);
	close(u);
}

/* ============================================================ counters */

/*
 * The bus counters move by exactly what happened: file and user
 * refusals, one wait (and its length within what the rate implies), one
 * interrupted wait, the number of user limits.
 */
TEST_F(rate, bus_counters_move_exactly)
{
	struct timespec full = { 0, 150 * MS };
	struct evbus_bus_stats bs;
	struct waiter w = { 0 };
	struct evbus_rate r0, r1;
	int fd = evt_sf_open(), wf = evt_sf_open(), sf = evt_sf_open();
	int u = evt_open_as(&U1000), tries, waits = 0;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, wf);
	ASSERT_LE(0, sf);
	ASSERT_LE(0, u);
	ASSERT_EQ(0, catch_sigusr1());
	/* Two refusals by a file's bucket, one by a user's. */
	ASSERT_EQ(0, rate_file(fd, lim(0, 0, 1, 10)));
	ASSERT_LT(0, pub(fd, 10));
	EXPECT_EQ(-EAGAIN, pub(fd, 10));
	EXPECT_EQ(-EAGAIN, pub_wait(fd, 10, MS));
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1000, lim(0, 0, 1, 10)));
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1001, lim(0, 0, 1, 10)));
	ASSERT_LT(0, pub(u, 10));
	EXPECT_EQ(-EAGAIN, pub(u, 10));
	/* Not refusals: EMSGSIZE, EINVAL. */
	EXPECT_EQ(-EMSGSIZE, pub(fd, 11));
	EXPECT_EQ(-EINVAL, pub_wait(fd, 1, 0));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_refused_file);
	EXPECT_EQ(1, bs.rate_refused_user);
	EXPECT_EQ(2, bs.rate_users);
	EXPECT_EQ(0, bs.rate_waited);
	EXPECT_EQ(0, bs.rate_wait_ns);
	EXPECT_EQ(0, bs.rate_interrupted);

	/* One wait of at most 100 ms. */
	ASSERT_EQ(0, rate_file(wf, lim(10, 1, 0, 0)));
	for (tries = 0; tries < 5 && !waits; tries++) {
		nanosleep(&full, NULL);
		ASSERT_EQ(0, rate_get(wf, &r0));
		ASSERT_LT(0, pub(wf, 1));
		ASSERT_LT(0, pub_wait(wf, 1, 5 * NS));
		ASSERT_EQ(0, rate_get(wf, &r1));
		waits = (int)(r1.waited - r0.waited);
	}
	ASSERT_EQ(1, waits) TH_LOG("never saw a wait");
	/* One interrupted wait. */
	ASSERT_EQ(0, rate_file(sf, lim(0, 0, 1, 20)));
	ASSERT_LT(0, pub(sf, 20));
	w.fd = sf;
	w.len = 20;
	w.deadline_ns = 25 * NS;
	ASSERT_EQ(1, waiter_start(&w, sf, false));
	ASSERT_EQ(0, pthread_kill(w.th, SIGUSR1));
	ASSERT_EQ(0, pthread_join(w.th, NULL));
	EXPECT_EQ(-EINTR, w.ret);
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(2, bs.rate_refused_file);
	EXPECT_EQ(1, bs.rate_refused_user);
	EXPECT_EQ(1, bs.rate_waited);
	EXPECT_LT(0, bs.rate_wait_ns);
	EXPECT_GE(100 * MS, bs.rate_wait_ns);
	EXPECT_EQ(1, bs.rate_interrupted);
	EXPECT_EQ(2, bs.rate_users);
	ASSERT_EQ(0, rate_user(self->own, EVBUS_WHO_UID, 1001, lim(0, 0, 0, 0)));
	ASSERT_EQ(0, evt_bus_stats(self->own, &bs));
	EXPECT_EQ(1, bs.rate_users);
	close(fd);
	close(wf);
	close(sf);
	close(u);
}

TEST_HARNESS_MAIN
