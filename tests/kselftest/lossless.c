// SPDX-License-Identifier: GPL-2.0
/*
 * Lossless rings (#18), against uapi/linux/evbus.h ("Lossless rings").
 *
 * A publisher of the reader's euid whose event does not fit in a
 * EVBUS_POLICY_LOSSLESS ring waits for the reader to make room: while the
 * reader keeps up nothing is lost, every seq arrives exactly once, no
 * LAGGED record; when the reader stops, the publish waits wait_ns, then the
 * event is lost for that reader and reported in an exact LAGGED record.
 * Another user's publisher never waits (the ring is drop-newest for it)
 * unless a policy allow rule gives it EVBUS_RIGHT_WAIT on the topic (a
 * deny rule or the default does not).  A waiting publisher dies at once on
 * SIGKILL, having published nothing, and the reader's file goes on; the
 * reader's close() wakes it at once, and so does the reader leaving
 * lossless (another policy, an unsubscribe); read() and poll() after
 * consuming from a mapping make room (a mapped reader that only moves its
 * position loses nothing either: the publisher looks once more); a reader
 * asleep in read() on a coalescing ring is woken for a waiting publisher;
 * a call (a batch, several readers) waits at most one deadline in all;
 * wills at release never wait; a record larger than the ring is lost at
 * once.  SET_RING validates wait_ns (1 ns up to lossless_max_ms with
 * LOSSLESS, 0 otherwise), GET_RING and fdinfo report it,
 * EVBUS_FEAT_LOSSLESS is advertised, and the bus counters (lossless_waits,
 * _wait_ns, _expired, _foreign) move exactly.
 *
 * Rings are 4 KiB and events 1 KiB records (topic "ll.ev", 936 payload
 * bytes): four fill a ring.  Durations are bounded generously: from above
 * by seconds, and a wait that must run out from below by half of it (the
 * kernel's timeout is never early); a publisher "waits" when it is seen
 * asleep in an evbus function.
 * Every test runs on a bus of its own (a new IPC namespace).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "evbus_mmap.h"
#include "kselftest_harness.h"

#define TOPIC		"ll.ev"
#define RING		4096
#define PAY		936	/* with TOPIC, a record of 1024 bytes */
#define PER_RING	4
#define NS		1000000000ULL
#define MS		1000000ULL
#define LONG_WAIT	(10 * NS)	/* lossless_max_ms's default */
#define PROMPT		(5 * NS)	/* "at once", next to LONG_WAIT */

static const struct evt_ids U1000 = { 1000, 1000, 0, { 0 } };

/* ------------------------------------------------- saved system state */

static const char *const param_names[] = {
	"lossless_max_ms", "max_user_retained",
};
#define NPARAMS	(sizeof(param_names) / sizeof(param_names[0]))

static struct {
	pid_t runner;
	int have[NPARAMS];
	unsigned long long val[NPARAMS];
} saved;

static void __attribute__((constructor)) save_state(void)
{
	saved.runner = getpid();
	for (size_t i = 0; i < NPARAMS; i++)
		saved.have[i] = !evt_param_get(param_names[i], &saved.val[i]);
	evt_dev_save_mode();
}

static void restore_state(void)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (saved.have[i])
			evt_param_set(param_names[i], saved.val[i]);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* ------------------------------------------------------------ helpers */

static char payload[8192];

static int set_ring(int fd, uint32_t size, uint32_t policy, uint32_t flags,
		    uint64_t wait_ns)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.policy = policy;
	c.flags = flags;
	c.wait_ns = wait_ns;
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

static int get_ring(int fd, struct evbus_ring_cfg *c)
{
	memset(c, 0, sizeof(*c));
	return ioctl(fd, EVBUS_IOC_GET_RING, c) ? -errno : 0;
}

#define EXPECT_RING(fd, size_, policy_, wait_) do {			\
	struct evbus_ring_cfg _c;					\
	ASSERT_EQ(0, get_ring(fd, &_c));				\
	EXPECT_EQ((uint32_t)(size_), _c.size);				\
	EXPECT_EQ((uint32_t)(policy_), _c.policy);			\
	EXPECT_EQ((uint64_t)(wait_), _c.wait_ns);			\
} while (0)

/* Publish len payload bytes on topic: the seq, or -errno. */
static int64_t pub_len(int fd, const char *topic, uint32_t len)
{
	return evt_pub_full(fd, topic, payload, len, 0, 0, 0);
}

/* One record of a ring's 1024 bytes. */
static int64_t pub(int fd)
{
	return pub_len(fd, TOPIC, PAY);
}

/* Publish n records: 0, or the first -errno. */
static int fill(int fd, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t ret = pub(fd);

		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

/*
 * A nonblocking root reader of ll.> with a 4 KiB lossless ring that
 * waits wait_ns: the fd, or -1.
 */
static int reader_open(uint64_t wait_ns)
{
	int fd = evt_sf_open();

	if (fd < 0)
		return -1;
	if (set_ring(fd, RING, EVBUS_POLICY_LOSSLESS, 0, wait_ns) ||
	    evt_sub(fd, "ll.>") <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A record as the tests look at it. */
struct rec {
	uint16_t kind;
	uint64_t seq;			/* events */
	uint32_t uid;
	uint64_t lost, first, last;	/* LAGGED */
	uint32_t flags;
};

/* The records of buf[0..len) into out[0..max): how many there are. */
static int parse(const char *buf, ssize_t len, struct rec *out, int max)
{
	struct evbus_rec_hdr *h;
	ssize_t left;
	int n = 0;

	if (len <= 0)
		return len < 0 ? (int)len : 0;
	evt_for_each_rec(h, buf, len, left) {
		const struct evbus_event *ev = (const void *)h;
		const struct evbus_lagged *lg = (const void *)h;

		if (n < max) {
			struct rec *r = &out[n];

			memset(r, 0, sizeof(*r));
			r->kind = h->kind;
			if (h->kind == EVBUS_REC_EVENT) {
				r->seq = ev->seq;
				r->uid = ev->uid;
			} else if (h->kind == EVBUS_REC_LAGGED) {
				r->lost = lg->lost;
				r->first = lg->first_seq;
				r->last = lg->last_seq;
				r->flags = lg->flags;
			}
		}
		n++;
	}
	return n;
}

/*
 * What one read() of fd returns now (a publisher waiting for room may
 * fill it again right after): how many records, into out[0..max).
 */
static int recs_once(int fd, struct rec *out, int max)
{
	static char buf[64 * 1024];
	ssize_t len = read(fd, buf, sizeof(buf));

	return len < 0 ? -errno : parse(buf, len, out, max);
}

/* Every record queued on fd now: how many, into out[0..max), or -errno. */
static int recs(int fd, struct rec *out, int max)
{
	static char buf[256 * 1024];
	ssize_t len = evt_drain(fd, buf, sizeof(buf));

	return len < 0 ? (int)len : parse(buf, len, out, max);
}

/* Expect rec to be the event seq. */
#define EXPECT_EV(r, seq_) do {						\
	EXPECT_EQ(EVBUS_REC_EVENT, (r).kind);				\
	EXPECT_EQ((uint64_t)(seq_), (r).seq);				\
} while (0)

/* Expect rec to be the LAGGED record of lost events first..last. */
#define EXPECT_LAG(r, lost_, first_, last_) do {			\
	EXPECT_EQ(EVBUS_REC_LAGGED, (r).kind);				\
	EXPECT_EQ((uint64_t)(lost_), (r).lost);				\
	EXPECT_EQ((uint64_t)(first_), (r).first);			\
	EXPECT_EQ((uint64_t)(last_), (r).last);				\
	EXPECT_EQ(0, (r).flags);					\
} while (0)

/* Expect fd to hold exactly the events first..last, nothing else. */
#define EXPECT_EVENTS(fd, first_, last_) do {				\
	struct rec _r[64];						\
	int _n = recs(fd, _r, 64);					\
	EXPECT_EQ((int)((last_) - (first_) + 1), _n);			\
	for (int _i = 0; _i < _n && _i < 64; _i++)			\
		EXPECT_EV(_r[_i], (first_) + _i);			\
} while (0)

/*
 * Is task tid asleep in evbus (state D, as a killable wait is shown, with
 * an evbus function in wchan)?  Waits up to 10 s (times EVBUS_SLOW) for
 * it: 1 if so, else 0.
 */
static int waiting_in_evbus(pid_t tid)
{
	uint64_t end = evt_now_ns() + 10 * NS * evt_slow();
	char path[64], wchan[128];

	snprintf(path, sizeof(path), "/proc/%d/wchan", tid);
	do {
		if (evt_task_state(tid) == 'D') {
			FILE *f = fopen(path, "re");
			int in = f && fgets(wchan, sizeof(wchan), f) &&
				 !strncmp(wchan, "evbus", 5);

			if (f)
				fclose(f);
			if (in && evt_task_state(tid) == 'D')
				return 1;
		}
		usleep(2000);
	} while (evt_now_ns() < end);
	return 0;
}

/* A thread that publishes once. */
struct pubber {
	int fd;
	pid_t tid;
	int64_t ret;
	uint64_t ns;
	pthread_t th;
};

static void *pubber_main(void *arg)
{
	struct pubber *p = arg;
	uint64_t t0 = evt_now_ns();

	__atomic_store_n(&p->tid, gettid(), __ATOMIC_RELEASE);
	p->ret = pub(p->fd);
	p->ns = evt_now_ns() - t0;
	return NULL;
}

/* Start p publishing on fd; the thread's tid, or 0. */
static pid_t pubber_start(struct pubber *p, int fd)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	if (pthread_create(&p->th, NULL, pubber_main, p))
		return 0;
	for (int i = 0; i < 10000; i++) {
		pid_t tid = __atomic_load_n(&p->tid, __ATOMIC_ACQUIRE);

		if (tid)
			return tid;
		usleep(1000);
	}
	return 0;
}

/* What a forked publisher reports. */
struct child_res {
	int step;		/* 0, or where it failed */
	int64_t ret[4];
	uint64_t ns[4];
};

/*
 * Fork a publisher: as ids (NULL: stay root), on its own file, n publishes
 * on topic, results in *res.  Its pid, or -1.
 */
static pid_t child_pub(const struct evt_ids *ids, const char *topic, int n,
		       struct child_res *res)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	alarm(120);
	if (ids && evt_become(ids)) {
		res->step = 1;
		_exit(1);
	}
	fd = evt_open();
	if (fd < 0) {
		res->step = 2;
		_exit(2);
	}
	for (int i = 0; i < n && i < 4; i++) {
		uint64_t t0 = evt_now_ns();

		res->ret[i] = pub_len(fd, topic, PAY);
		res->ns[i] = evt_now_ns() - t0;
	}
	_exit(0);
}

/* ------------------------------------------------------------ fixture */

FIXTURE(lossless) {
	int own;		/* root's file: the bus owner's */
	struct child_res *res;	/* shared with forked publishers */
};

FIXTURE_SETUP(lossless)
{
	struct evbus_version v;

	self->own = -1;
	self->res = NULL;
	restore_state();	/* a test that timed out may have left params */
	memset(payload, 'l', sizeof(payload));
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_sf_open();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, evt_version(self->own, &v));
	ASSERT_TRUE(v.features & EVBUS_FEAT_LOSSLESS)
		TH_LOG("the module does not have lossless rings");
	self->res = evt_shared(sizeof(*self->res));
	ASSERT_NE(NULL, self->res);
}

FIXTURE_TEARDOWN(lossless)
{
	if (self->own >= 0) {
		evt_policy_clear(self->own);
		close(self->own);
	}
	if (self->res)
		munmap(self->res, sizeof(*self->res));
	restore_state();
}

/* ================================================== configuration */

/*
 * EVBUS_FEAT_LOSSLESS; a lossless ring shows as "lossless" in fdinfo and
 * EVBUS_IOC_STATS, GET_RING reports its wait_ns; back to another policy,
 * wait_ns is 0 again.
 */
TEST_F(lossless, feature_bit_fdinfo_and_get_ring)
{
	struct evbus_version v;
	struct evbus_stats st;
	char text[256];
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_version(fd, &v));
	EXPECT_EQ(EVBUS_FEAT_LOSSLESS, v.features & EVBUS_FEAT_LOSSLESS);
	ASSERT_EQ(0, set_ring(fd, RING, EVBUS_POLICY_LOSSLESS, 0, 250 * MS));
	EXPECT_RING(fd, RING, EVBUS_POLICY_LOSSLESS, 250 * MS);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(EVBUS_POLICY_LOSSLESS, st.policy);
	EXPECT_EQ(RING, st.capacity);
	ASSERT_EQ(0, evt_fdinfo_lines(fd, "evbus-policy:", text, sizeof(text)));
	EXPECT_STREQ("evbus-policy:\tlossless\n", text);
	ASSERT_EQ(0, evt_fdinfo_lines(fd, "evbus-ring:", text, sizeof(text)));
	EXPECT_STREQ("evbus-ring:\t4096\n", text);
	/* Another wait, another size, a wake-up mode. */
	ASSERT_EQ(0, set_ring(fd, 2 * RING, EVBUS_POLICY_LOSSLESS,
			      EVBUS_RING_IMMEDIATE, 1));
	EXPECT_RING(fd, 2 * RING, EVBUS_POLICY_LOSSLESS, 1);
	/* Back to drop-newest: no wait. */
	ASSERT_EQ(0, set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST, 0, 0));
	EXPECT_RING(fd, 2 * RING, EVBUS_POLICY_DROP_NEWEST, 0);
	ASSERT_EQ(0, evt_fdinfo_lines(fd, "evbus-policy:", text, sizeof(text)));
	EXPECT_STREQ("evbus-policy:\tdrop-newest\n", text);
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(EVBUS_POLICY_DROP_NEWEST, st.policy);
	close(fd);
}

/*
 * wait_ns: 1 ns up to lossless_max_ms with LOSSLESS (0 or more is
 * EINVAL), 0 with any other policy (else EINVAL); a refused SET_RING
 * changes nothing.  lossless_max_ms changes what a new SET_RING may ask.
 */
TEST_F(lossless, set_ring_validates_wait_ns)
{
	unsigned long long max_ms = 0;
	uint64_t max;
	int fd = evt_sf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_param_get("lossless_max_ms", &max_ms));
	EXPECT_EQ(10000, max_ms) TH_LOG("not the default lossless_max_ms");
	max = max_ms * MS;
	ASSERT_EQ(0, set_ring(fd, RING, EVBUS_POLICY_DROP_OLDEST, 0, 0));
	EXPECT_RING(fd, RING, EVBUS_POLICY_DROP_OLDEST, 0);
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, 0));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, max + 1));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, ~0ULL));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_DROP_OLDEST, 0, 1));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST, 0, 1));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST, 0, MS));
	EXPECT_EQ(-EINVAL, set_ring(fd, 2 * RING, EVBUS_POLICY_DROP_OLDEST, 0,
				    1ULL << 63));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS + 1, 0, MS));
	EXPECT_RING(fd, RING, EVBUS_POLICY_DROP_OLDEST, 0);
	/* The bounds themselves. */
	ASSERT_EQ(0, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, 1));
	EXPECT_RING(fd, RING, EVBUS_POLICY_LOSSLESS, 1);
	ASSERT_EQ(0, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, max));
	EXPECT_RING(fd, RING, EVBUS_POLICY_LOSSLESS, max);
	/* A refused change leaves the lossless ring as it was. */
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, 0));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_DROP_NEWEST, 0, max));
	EXPECT_RING(fd, RING, EVBUS_POLICY_LOSSLESS, max);
	/* A lower lossless_max_ms. */
	ASSERT_EQ(0, evt_param_set("lossless_max_ms", 100));
	EXPECT_EQ(-EINVAL, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, 100 * MS + 1));
	ASSERT_EQ(0, set_ring(fd, 0, EVBUS_POLICY_LOSSLESS, 0, 100 * MS));
	EXPECT_RING(fd, RING, EVBUS_POLICY_LOSSLESS, 100 * MS);
	EXPECT_EQ(-EINVAL, evt_param_set("lossless_max_ms", 0));
	close(fd);
}

/* ================================================== the reader keeps up */

struct reader {
	int fd;
	int n;				/* events to expect: seqs 1..n */
	volatile int stop;
	uint64_t next;
	int got, dup, gap, lagged, err;
	pthread_t th;
};

/*
 * Read until n events came (or told to stop), a little slowly: the
 * publisher outruns it and must wait for room.
 */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	char *buf = malloc(64 * 1024);
	struct evbus_rec_hdr *h;
	ssize_t n, left;

	if (!buf) {
		r->err = ENOMEM;
		return NULL;
	}
	r->next = 1;
	while (r->got < r->n && !r->stop) {
		poll(&p, 1, 100);
		n = read(r->fd, buf, 64 * 1024);
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			r->err = errno;
			break;
		}
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_event *ev = (const void *)h;

			if (h->kind == EVBUS_REC_LAGGED) {
				r->lagged++;
				continue;
			}
			if (h->kind != EVBUS_REC_EVENT)
				continue;
			if (ev->seq < r->next) {
				r->dup++;
				continue;
			}
			if (ev->seq > r->next)
				r->gap++;
			r->next = ev->seq + 1;
			r->got++;
		}
		usleep(500);
	}
	free(buf);
	return NULL;
}

/*
 * A publisher of the reader's euid sends 150 times what the ring holds
 * while a (slowish) reader reads: every seq arrives exactly once, in
 * order, no LAGGED record, nothing lost anywhere; the publisher waited.
 */
TEST_F_TIMEOUT(lossless, no_loss_while_the_reader_keeps_up, 300)
{
	const int n = 150 * PER_RING;
	struct evbus_bus_stats b0, b1;
	struct reader rd = { 0 };
	struct evbus_stats st;
	uint64_t end;
	int p = evt_sf_open();

	rd.fd = reader_open(LONG_WAIT);
	ASSERT_LE(0, rd.fd);
	ASSERT_LE(0, p);
	rd.n = n;
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASSERT_EQ(0, pthread_create(&rd.th, NULL, reader_main, &rd));
	for (int i = 1; i <= n; i++) {
		int64_t ret = pub(p);

		if (ret != i)
			rd.stop = 1;
		ASSERT_EQ(i, ret) TH_LOG("%s", strerror((int)-ret));
	}
	end = evt_now_ns() + 60 * NS * evt_slow();
	while (rd.got < n && !rd.err && evt_now_ns() < end)
		usleep(10000);
	rd.stop = 1;
	ASSERT_EQ(0, pthread_join(rd.th, NULL));
	EXPECT_EQ(0, rd.err);
	EXPECT_EQ(n, rd.got);
	EXPECT_EQ(0, rd.dup);
	EXPECT_EQ(0, rd.gap);
	EXPECT_EQ(0, rd.lagged);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lost, b1.lost);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(0, b1.lossless_foreign);
	EXPECT_LT(0, b1.lossless_waits) TH_LOG("the publisher never waited");
	EXPECT_LT(0, b1.lossless_wait_ns);
	ASSERT_EQ(0, evt_stats(rd.fd, &st));
	EXPECT_EQ(0, st.lost);
	EXPECT_EQ(n, st.delivered);
	EXPECT_EQ(0, st.lag_records);
	close(rd.fd);
	close(p);
}

/* ================================================== the reader stops */

/*
 * The reader does not read: a publish that does not fit waits about
 * wait_ns, then goes out without it; the reader later gets exactly the
 * events that fit and one LAGGED record of the lost seqs; the counters
 * say two waits, two expired.  Room again, the next goes through.
 */
TEST_F(lossless, deadline_passes_then_the_loss_is_exact)
{
	const uint64_t w = 300 * MS;
	struct evbus_bus_stats b0, b1;
	struct evbus_stats st;
	struct rec r[16];
	uint64_t t, dt[2];
	int rd = reader_open(w), p = evt_sf_open(), n;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(0, b0.lossless_waits);
	for (int i = 0; i < 2; i++) {
		t = evt_now_ns();
		EXPECT_EQ(PER_RING + 1 + i, pub(p));
		dt[i] = evt_now_ns() - t;
		/* It waited (the kernel's timeout is never early)... */
		EXPECT_LE(w / 2, dt[i]) TH_LOG("took %llu ms of %llu",
					       (unsigned long long)(dt[i] / MS),
					       (unsigned long long)(w / MS));
		/* ... but not much more. */
		EXPECT_GT(w + PROMPT * evt_slow(), dt[i]);
	}
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(6, b1.seq);
	EXPECT_EQ(b0.published + 2, b1.published);
	EXPECT_EQ(b0.lossless_waits + 2, b1.lossless_waits);
	EXPECT_EQ(b0.lossless_expired + 2, b1.lossless_expired);
	EXPECT_EQ(0, b1.lossless_foreign);
	EXPECT_EQ(b0.lost + 2, b1.lost);
	EXPECT_LE(w, b1.lossless_wait_ns - b0.lossless_wait_ns);
	EXPECT_GE(dt[0] + dt[1], b1.lossless_wait_ns - b0.lossless_wait_ns);
	ASSERT_EQ(0, evt_stats(rd, &st));
	EXPECT_EQ(2, st.lost);
	n = recs(rd, r, 16);
	ASSERT_EQ(PER_RING + 1, n);
	for (int i = 0; i < PER_RING; i++)
		EXPECT_EV(r[i], i + 1);
	EXPECT_LAG(r[PER_RING], 2, 5, 6);
	/* Room again: no wait. */
	EXPECT_EQ(7, pub(p));
	EXPECT_EVENTS(rd, 7, 7);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 2, b1.lossless_waits);
	EXPECT_EQ(b0.lost + 2, b1.lost);
	close(rd);
	close(p);
}

/* ======================================================= other users */

/*
 * A publisher of another euid never waits: uid 1000's process, and a file
 * uid 1000 opened used by root, publish into the full ring at once; the
 * events are lost for it alone, reported exactly, counted as foreign.
 * An EVBUS_RIGHT_WAIT rule on another topic changes nothing.
 */
TEST_F(lossless, another_users_publisher_never_waits)
{
	struct child_res *res = self->res;
	struct evbus_bus_stats b0, b1;
	struct rec r[16];
	uint64_t t, dt;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open(), u, other;
	pid_t pid;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	other = evt_sf_open();
	ASSERT_LE(0, other);
	ASSERT_LT(0, evt_sub(other, "ll.>"));	/* a drop-oldest reader */
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_WAIT,
				    EVBUS_WHO_UID, 1000, "elsewhere.>", 0));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	pid = child_pub(&U1000, TOPIC, 2, res);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, evt_wait(pid));
	ASSERT_EQ(0, res->step);
	EXPECT_EQ(5, res->ret[0]) TH_LOG("%s", strerror((int)-res->ret[0]));
	EXPECT_EQ(6, res->ret[1]);
	EXPECT_GT(PROMPT, res->ns[0]) TH_LOG("uid 1000 waited");
	EXPECT_GT(PROMPT, res->ns[1]) TH_LOG("uid 1000 waited");
	/* A file uid 1000 opened is uid 1000's, whoever uses it. */
	u = evt_open_as(&U1000);
	ASSERT_LE(0, u);
	t = evt_now_ns();
	EXPECT_EQ(7, pub(u));
	dt = evt_now_ns() - t;
	EXPECT_GT(PROMPT, dt) TH_LOG("a file of uid 1000 waited");
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_foreign + 3, b1.lossless_foreign);
	EXPECT_EQ(b0.lossless_waits, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(b0.lost + 3, b1.lost);
	ASSERT_EQ(PER_RING + 1, recs(rd, r, 16));
	for (int i = 0; i < PER_RING; i++)
		EXPECT_EV(r[i], i + 1);
	EXPECT_LAG(r[PER_RING], 3, 5, 7);
	/* Everyone else got everything. */
	EXPECT_EVENTS(other, 1, 7);
	close(u);
	close(other);
	close(rd);
	close(p);
}

/*
 * An allow rule with EVBUS_RIGHT_WAIT for uid 1000 on ll.> lets its
 * publisher wait: it sleeps until the reader reads, then its event is
 * delivered, nothing lost.  A deny rule for EVBUS_RIGHT_WAIT on ll.no
 * takes it back there; without the allow rule, the default never grants
 * it.
 */
TEST_F_TIMEOUT(lossless, wait_right_lets_another_user_wait, 120)
{
	struct child_res *res = self->res;
	struct evbus_bus_stats b0, b1;
	struct rec r[16];
	int rd = reader_open(LONG_WAIT), p = evt_sf_open(), allow, n;
	pid_t pid;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	allow = evt_policy_add(self->own, EVBUS_ALLOW, EVBUS_RIGHT_WAIT,
			       EVBUS_WHO_UID, 1000, "ll.>", 0);
	ASSERT_LT(0, allow);
	ASSERT_LT(0, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_WAIT,
				    EVBUS_WHO_UID, 1000, "ll.no", 0));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	pid = child_pub(&U1000, TOPIC, 1, res);
	ASSERT_LE(0, pid);
	if (!waiting_in_evbus(pid)) {
		kill(pid, SIGKILL);
		evt_wait(pid);
		ASSERT_TRUE(0) TH_LOG("uid 1000's publisher did not wait (%lld)",
				      (long long)res->ret[0]);
	}
	EXPECT_EQ(0, res->ret[0]);		/* still in the call */
	/* The reader reads: room, the waiter goes on. */
	n = recs_once(rd, r, 16);
	ASSERT_EQ(PER_RING, n);
	EXPECT_EV(r[0], 1);
	EXPECT_EV(r[PER_RING - 1], PER_RING);
	ASSERT_EQ(0, evt_wait(pid));
	EXPECT_EQ(5, res->ret[0]) TH_LOG("%s", strerror((int)-res->ret[0]));
	ASSERT_EQ(1, recs(rd, r, 16));
	EXPECT_EV(r[0], 5);
	EXPECT_EQ(1000, r[0].uid);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_foreign);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(b0.lost, b1.lost);

	/* Denied on ll.no: at once, lost. */
	ASSERT_EQ(0, fill(p, PER_RING));		/* 6..9 */
	memset(res, 0, sizeof(*res));
	pid = child_pub(&U1000, "ll.no", 1, res);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, evt_wait(pid));
	EXPECT_EQ(10, res->ret[0]);
	EXPECT_GT(PROMPT, res->ns[0]) TH_LOG("waited despite the deny rule");
	ASSERT_EQ(PER_RING + 1, recs(rd, r, 16));
	EXPECT_EV(r[0], 6);
	EXPECT_LAG(r[PER_RING], 1, 10, 10);

	/* No allow rule: the default never lets it wait. */
	ASSERT_EQ(0, evt_policy_remove(self->own, allow));
	ASSERT_EQ(0, fill(p, PER_RING));		/* 11..14 */
	memset(res, 0, sizeof(*res));
	pid = child_pub(&U1000, TOPIC, 1, res);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, evt_wait(pid));
	EXPECT_EQ(15, res->ret[0]);
	EXPECT_GT(PROMPT, res->ns[0]) TH_LOG("waited with no allow rule");
	ASSERT_EQ(PER_RING + 1, recs(rd, r, 16));
	EXPECT_EV(r[0], 11);
	EXPECT_LAG(r[PER_RING], 1, 15, 15);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(2, b1.lossless_foreign);
	EXPECT_EQ(0, b1.lossless_expired);
	close(rd);
	close(p);
}

/* ============================================== ending a wait early */

/*
 * SIGKILL ends a publisher's wait at once: waitpid() returns long before
 * the ring's wait, nothing was published (no seq, no loss), and the
 * reader's file goes on as before.
 */
TEST_F(lossless, sigkill_ends_a_wait_and_publishes_nothing)
{
	struct evbus_bus_stats b0, b1;
	struct rec r[16];
	uint64_t t, dt;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open(), st;
	pid_t pid;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	pid = child_pub(NULL, TOPIC, 1, self->res);
	ASSERT_LE(0, pid);
	if (!waiting_in_evbus(pid)) {
		kill(pid, SIGKILL);
		evt_wait(pid);
		ASSERT_TRUE(0) TH_LOG("the publisher did not wait");
	}
	t = evt_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	st = evt_wait(pid);
	dt = evt_now_ns() - t;
	EXPECT_EQ(128 + SIGKILL, st);
	EXPECT_GT(PROMPT, dt) TH_LOG("waitpid took %llu ms",
				     (unsigned long long)(dt / MS));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(PER_RING, b1.seq);
	EXPECT_EQ(b0.published, b1.published);
	EXPECT_EQ(b0.lost, b1.lost);
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(0, b1.lossless_foreign);
	ASSERT_EQ(PER_RING, recs(rd, r, 16));
	for (int i = 0; i < PER_RING; i++)
		EXPECT_EV(r[i], i + 1);
	/* The reader's file works on. */
	EXPECT_EQ(PER_RING + 1, pub(p));
	EXPECT_EVENTS(rd, PER_RING + 1, PER_RING + 1);
	ASSERT_EQ(0, fill(p, PER_RING - 1));
	EXPECT_EVENTS(rd, PER_RING + 2, 2 * PER_RING);
	close(rd);
	close(p);
}

/*
 * The reader's close() wakes a publisher waiting for it at once: its
 * event goes out (to the others), not lost, nothing expired.
 */
TEST_F(lossless, closing_the_reader_wakes_a_waiting_publisher)
{
	struct evbus_bus_stats b0, b1;
	struct pubber pb;
	uint64_t t, dt;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open(), other;
	pid_t tid;

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	other = evt_sf_open();
	ASSERT_LE(0, other);
	ASSERT_LT(0, evt_sub(other, "ll.>"));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	tid = pubber_start(&pb, p);
	ASSERT_NE(0, tid);
	ASSERT_TRUE(waiting_in_evbus(tid)) TH_LOG("the publisher did not wait");
	t = evt_now_ns();
	close(rd);
	ASSERT_EQ(0, pthread_join(pb.th, NULL));
	dt = evt_now_ns() - t;
	EXPECT_EQ(PER_RING + 1, pb.ret) TH_LOG("%s", strerror((int)-pb.ret));
	EXPECT_GT(PROMPT, dt) TH_LOG("the publisher went on %llu ms after the close",
				     (unsigned long long)(dt / MS));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(0, b1.lossless_foreign);
	EXPECT_EQ(b0.lost, b1.lost);
	EXPECT_EVENTS(other, 1, PER_RING + 1);
	close(other);
	close(p);
}

/*
 * The reader leaving lossless ends a wait for it at once: switching its
 * ring to drop-oldest (the publisher's event goes in, the oldest are
 * reported lost), to drop-newest (the publisher's event is lost, and
 * reported), or unsubscribing (the event goes to the others only).
 * Nothing expires: the publisher no longer waits for that reader.
 */
TEST_F_TIMEOUT(lossless, the_reader_leaving_lossless_ends_a_wait, 120)
{
	struct evbus_bus_stats b0, b1;
	struct pubber pb;
	struct rec r[16];
	uint64_t t, dt, seq = 0;
	int p = evt_sf_open(), n, sid, last = -1, lost = 0;
	pid_t tid;

	ASSERT_LE(0, p);
	for (int how = 0; how < 3; how++) {
		int rd = evt_sf_open();

		ASSERT_LE(0, rd);
		ASSERT_EQ(0, set_ring(rd, RING, EVBUS_POLICY_LOSSLESS, 0, LONG_WAIT));
		sid = evt_sub(rd, "ll.>");
		ASSERT_LT(0, sid);
		ASSERT_EQ(0, fill(p, PER_RING));
		seq += PER_RING;
		ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
		tid = pubber_start(&pb, p);
		ASSERT_NE(0, tid);
		ASSERT_TRUE(waiting_in_evbus(tid)) TH_LOG("the publisher did not wait");
		t = evt_now_ns();
		if (how == 0) {
			ASSERT_EQ(0, set_ring(rd, 0, EVBUS_POLICY_DROP_OLDEST, 0, 0));
		} else if (how == 1) {
			ASSERT_EQ(0, set_ring(rd, 0, EVBUS_POLICY_DROP_NEWEST, 0, 0));
		} else {
			ASSERT_EQ(0, evt_unsub(rd, sid));
		}
		ASSERT_EQ(0, pthread_join(pb.th, NULL));
		dt = evt_now_ns() - t;
		seq++;
		EXPECT_EQ(seq, pb.ret);
		EXPECT_GT(PROMPT, dt) TH_LOG("%s: the publisher went on %llu ms later",
					     how == 0 ? "drop-oldest" :
					     how == 1 ? "drop-newest" : "unsubscribed",
					     (unsigned long long)(dt / MS));
		ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
		EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
		EXPECT_EQ(0, b1.lossless_expired);
		EXPECT_EQ(0, b1.lossless_foreign);
		n = recs(rd, r, 16);
		ASSERT_LT(0, n);
		ASSERT_GE(16, n);
		lost = 0;
		last = -1;
		for (int i = 0; i < n; i++) {
			if (r[i].kind == EVBUS_REC_LAGGED)
				lost += r[i].lost;
			else
				last = i;
		}
		if (how == 0) {
			/* Drop-oldest: the new one is in, the oldest went. */
			EXPECT_EQ(seq, r[last].seq);
			EXPECT_EQ(EVBUS_REC_LAGGED, r[0].kind);
			EXPECT_EQ(seq - PER_RING, r[0].first);
			EXPECT_EQ(b0.lost + lost, b1.lost);
		} else if (how == 1) {
			/* Drop-newest: the new one is lost, and said so. */
			ASSERT_EQ(PER_RING + 1, n);
			EXPECT_EV(r[PER_RING - 1], seq - 1);
			EXPECT_LAG(r[PER_RING], 1, seq, seq);
			EXPECT_EQ(b0.lost + 1, b1.lost);
		} else {
			/* Unsubscribed: not the reader's event any more. */
			ASSERT_EQ(PER_RING, n);
			EXPECT_EV(r[PER_RING - 1], seq - 1);
			EXPECT_EQ(b0.lost, b1.lost);
		}
		close(rd);
	}
	close(p);
}

/*
 * A reader of the mapped ring makes room by consuming and then calling
 * poll() (as read() does): the waiting publisher goes on at once and its
 * event is there to take.
 */
TEST_F(lossless, a_mapped_reader_makes_room_with_poll)
{
	struct evbus_bus_stats b0, b1;
	struct pubber pb;
	struct evt_map m;
	struct rec r[16];
	char *buf = malloc(2 * RING);
	uint64_t t, dt;
	ssize_t len;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open();
	pid_t tid;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, evt_map(&m, rd));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	tid = pubber_start(&pb, p);
	ASSERT_NE(0, tid);
	ASSERT_TRUE(waiting_in_evbus(tid)) TH_LOG("the publisher did not wait");
	len = evt_map_take(&m, buf, 2 * RING);
	ASSERT_EQ(PER_RING * 1024, len);
	ASSERT_EQ(PER_RING, parse(buf, len, r, 16));
	EXPECT_EV(r[0], 1);
	EXPECT_EV(r[PER_RING - 1], PER_RING);
	t = evt_now_ns();
	evt_map_poll(&m, 0);
	ASSERT_EQ(0, pthread_join(pb.th, NULL));
	dt = evt_now_ns() - t;
	EXPECT_EQ(PER_RING + 1, pb.ret);
	EXPECT_GT(PROMPT, dt) TH_LOG("the publisher went on %llu ms after poll()",
				     (unsigned long long)(dt / MS));
	len = evt_map_drain(&m, buf, 2 * RING);
	ASSERT_EQ(1, parse(buf, len, r, 16));
	EXPECT_EV(r[0], PER_RING + 1);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(b0.lost, b1.lost);
	evt_unmap(&m);
	free(buf);
	close(rd);
	close(p);
}

/*
 * A mapped reader that only moves its position (no poll(), no read())
 * does not wake the publisher: it waits out the deadline, then looks once
 * more and finds the room, so its event is not lost.
 */
TEST_F(lossless, a_mapped_reader_without_poll_loses_nothing)
{
	const uint64_t w = 300 * MS;
	struct evbus_bus_stats b0, b1;
	struct pubber pb;
	struct evt_map m;
	struct rec r[16];
	char *buf = malloc(2 * RING);
	ssize_t len;
	int rd = reader_open(w), p = evt_sf_open();
	pid_t tid;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, evt_map(&m, rd));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	tid = pubber_start(&pb, p);
	ASSERT_NE(0, tid);
	ASSERT_TRUE(waiting_in_evbus(tid)) TH_LOG("the publisher did not wait");
	len = evt_map_take(&m, buf, 2 * RING);
	ASSERT_EQ(PER_RING * 1024, len);
	ASSERT_EQ(0, pthread_join(pb.th, NULL));
	EXPECT_EQ(PER_RING + 1, pb.ret);
	EXPECT_LE(w / 2, pb.ns) TH_LOG("nothing should have woken it");
	len = evt_map_drain(&m, buf, 2 * RING);
	ASSERT_EQ(1, parse(buf, len, r, 16));
	EXPECT_EV(r[0], PER_RING + 1);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(0, b1.lossless_expired);
	EXPECT_EQ(b0.lost, b1.lost);
	evt_unmap(&m);
	free(buf);
	close(rd);
	close(p);
}

/*
 * A reader sleeping in read() on a coalescing ring (EVBUS_RING_WAKE, 8
 * events, no timer) where one record leaves the ring short of both the
 * watermark and three quarters full: a publisher waiting for room must
 * wake it, or both wait until the deadline and the event is lost while
 * the reader was there to read it.  Every event but the last (which no
 * rule makes readable) is read in turn, none lost.
 */
struct blocked_reader {
	int fd;
	int want;			/* events plus losses to see */
	int got, lost, lags, err;
	uint64_t seqs[16];
	pthread_t th;
};

static void *blocked_reader_main(void *arg)
{
	struct blocked_reader *br = arg;
	char *buf = malloc(64 * 1024);
	struct evbus_rec_hdr *h;
	ssize_t n, left;

	if (!buf) {
		br->err = ENOMEM;
		return NULL;
	}
	while (br->got + br->lost < br->want) {
		n = read(br->fd, buf, 64 * 1024);
		if (n < 0) {
			br->err = errno;
			break;
		}
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_event *ev = (const void *)h;
			const struct evbus_lagged *lg = (const void *)h;

			if (h->kind == EVBUS_REC_EVENT) {
				if (br->got < 16)
					br->seqs[br->got] = ev->seq;
				br->got++;
			} else if (h->kind == EVBUS_REC_LAGGED) {
				br->lags++;
				br->lost += lg->lost;
			}
		}
	}
	free(buf);
	return NULL;
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

TEST_F_TIMEOUT(lossless, a_waiting_publisher_wakes_a_coalescing_reader, 120)
{
	const uint64_t w = 2 * NS;
	const uint32_t big = 2400;	/* a 2488-byte record: 61% of the ring */
	const int n = 6;
	struct blocked_reader br = { 0 };
	struct evbus_bus_stats b0, b1;
	struct evbus_ring_cfg c;
	struct sigaction sa;
	struct rec r[4];
	uint64_t end;
	int p = evt_sf_open();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_LE(0, p);
	br.fd = evt_open();		/* blocking */
	ASSERT_LE(0, br.fd);
	memset(&c, 0, sizeof(c));
	c.size = RING;
	c.policy = EVBUS_POLICY_LOSSLESS;
	c.flags = EVBUS_RING_WAKE;
	c.wake_events = 8;		/* and no timer */
	c.wait_ns = w;
	ASSERT_EQ(0, ioctl(br.fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0);
	ASSERT_LT(0, evt_sub(br.fd, "ll.>"));
	br.want = n - 1;
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	ASSERT_EQ(0, pthread_create(&br.th, NULL, blocked_reader_main, &br));
	usleep(50 * 1000);
	for (int i = 1; i <= n; i++)
		ASSERT_EQ(i, pub_len(p, TOPIC, big));
	end = evt_now_ns() + 30 * NS * evt_slow();
	while (br.got + br.lost < br.want && !br.err && evt_now_ns() < end)
		usleep(10000);
	if (br.got + br.lost < br.want)
		pthread_kill(br.th, SIGUSR1);
	ASSERT_EQ(0, pthread_join(br.th, NULL));
	EXPECT_EQ(0, br.err) TH_LOG("%s", strerror(br.err));
	EXPECT_EQ(0, br.lost) TH_LOG("%d lost in %d LAGGED records: the reader was "
				     "not woken for the waiting publisher",
				     br.lost, br.lags);
	EXPECT_EQ(n - 1, br.got);
	for (int i = 0; i < br.got && i < 16; i++)
		EXPECT_EQ(i + 1, br.seqs[i]);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_expired, b1.lossless_expired);
	EXPECT_EQ(b0.lost, b1.lost);
	EXPECT_LT(b0.lossless_waits, b1.lossless_waits);
	/* The last one is there for a nonblocking read. */
	ASSERT_EQ(0, fcntl(br.fd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(1, recs(br.fd, r, 4));
	EXPECT_EV(r[0], n);
	close(br.fd);
	close(p);
}

/* ============================================== one deadline per call */

/*
 * A batch waits once, for its first event that does not fit; the wait
 * over, the rest of the call waits no more: with two full readers, 10
 * events make one wait and 20 losses, each reported exactly.  A single
 * publish to two full readers waits once too.
 */
TEST_F(lossless, a_call_waits_one_deadline_in_all)
{
	const uint64_t w = 300 * MS;
	struct evbus_bus_stats b0, b1;
	struct evbus_pub ev[10];
	struct evbus_pub_batch b;
	struct rec r[16];
	uint64_t t, dt;
	int rd1 = reader_open(w), rd2 = reader_open(w), p = evt_sf_open();
	int ret;

	ASSERT_LE(0, rd1);
	ASSERT_LE(0, rd2);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, fill(p, PER_RING));
	for (int i = 0; i < 10; i++) {
		memset(&ev[i], 0, sizeof(ev[i]));
		ev[i].topic = (uintptr_t)TOPIC;
		ev[i].topic_len = strlen(TOPIC);
		ev[i].payload = (uintptr_t)payload;
		ev[i].payload_len = PAY;
	}
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)ev;
	b.count = 10;
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	t = evt_now_ns();
	ret = ioctl(p, EVBUS_IOC_PUBLISH_BATCH, &b);
	dt = evt_now_ns() - t;
	EXPECT_EQ(10, ret) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(10, b.published);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(5, b.first_seq);
	EXPECT_LE(w / 2, dt);
	EXPECT_GT(w + 2 * NS * evt_slow(), dt) TH_LOG("took %llu ms",
						      (unsigned long long)(dt / MS));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(b0.lossless_expired + 20, b1.lossless_expired);
	EXPECT_EQ(0, b1.lossless_foreign);
	EXPECT_EQ(b0.lost + 20, b1.lost);
	ASSERT_EQ(PER_RING + 1, recs(rd1, r, 16));
	EXPECT_EV(r[PER_RING - 1], PER_RING);
	EXPECT_LAG(r[PER_RING], 10, 5, 14);
	ASSERT_EQ(PER_RING + 1, recs(rd2, r, 16));
	EXPECT_EV(r[0], 1);
	EXPECT_LAG(r[PER_RING], 10, 5, 14);

	/* One publish, two full readers: one wait, two losses. */
	ASSERT_EQ(0, fill(p, PER_RING));		/* 15..18 */
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	t = evt_now_ns();
	EXPECT_EQ(19, pub(p));
	dt = evt_now_ns() - t;
	EXPECT_LE(w / 2, dt);
	EXPECT_GT(w + 2 * NS * evt_slow(), dt);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(b0.lossless_expired + 2, b1.lossless_expired);
	ASSERT_EQ(PER_RING + 1, recs(rd1, r, 16));
	EXPECT_EV(r[0], 15);
	EXPECT_LAG(r[PER_RING], 1, 19, 19);
	ASSERT_EQ(PER_RING + 1, recs(rd2, r, 16));
	EXPECT_LAG(r[PER_RING], 1, 19, 19);
	close(rd1);
	close(rd2);
	close(p);
}

/* ============================================== what never waits */

/*
 * A will fires at its file's release without waiting for a full lossless
 * reader (close() returns at once): lost there, counted as foreign.
 */
TEST_F(lossless, a_will_never_waits)
{
	struct evbus_bus_stats b0, b1;
	struct evbus_will wl;
	struct rec r[16];
	uint64_t t, dt;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open(), wf = evt_sf_open();

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_LE(0, wf);
	memset(&wl, 0, sizeof(wl));
	wl.size = sizeof(wl);
	wl.scope = 1;
	wl.topic = (uintptr_t)"ll.will";
	wl.topic_len = strlen("ll.will");
	wl.payload = (uintptr_t)payload;
	wl.payload_len = PAY;
	ASSERT_EQ(0, ioctl(wf, EVBUS_IOC_WILL, &wl) ? -errno : 0);
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	t = evt_now_ns();
	close(wf);
	dt = evt_now_ns() - t;
	EXPECT_GT(PROMPT, dt) TH_LOG("close() took %llu ms",
				     (unsigned long long)(dt / MS));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(PER_RING + 1, b1.seq);
	EXPECT_EQ(b0.lossless_waits, b1.lossless_waits);
	EXPECT_EQ(b0.lossless_foreign + 1, b1.lossless_foreign);
	ASSERT_EQ(PER_RING + 1, recs(rd, r, 16));
	EXPECT_LAG(r[PER_RING], 1, PER_RING + 1, PER_RING + 1);
	close(rd);
	close(p);
}

/* Publish a retained value of PAY bytes on topic: the seq, or -errno. */
static int64_t pub_retained(int fd, const char *topic)
{
	struct evbus_pub pb;

	memset(&pb, 0, sizeof(pb));
	pb.topic = (uintptr_t)topic;
	pb.topic_len = strlen(topic);
	pb.payload = (uintptr_t)payload;
	pb.payload_len = PAY;
	pb.flags = EVBUS_PUB_RETAIN;
	return ioctl(fd, EVBUS_IOC_PUBLISH, &pb) ? -errno : (int64_t)pb.seq;
}

/*
 * A retained publish that waits for a lossless reader is charged to its
 * user once: with max_user_retained 2, one that waited (and expired) and
 * one more fit, a third is ENOSPC.
 */
TEST_F(lossless, a_retained_publish_that_waits_is_charged_once)
{
	struct evbus_bus_stats b0, b1;
	int rd = reader_open(200 * MS), p = evt_sf_open();

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, evt_param_set("max_user_retained", 2));
	ASSERT_EQ(0, fill(p, PER_RING));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	EXPECT_EQ(PER_RING + 1, pub_retained(p, "ll.r1"));
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits + 1, b1.lossless_waits);
	EXPECT_EQ(b0.lossless_expired + 1, b1.lossless_expired);
	EXPECT_EQ(PER_RING + 2, pub_retained(p, "ll.r2"))
		TH_LOG("the wait charged the first retained value twice");
	EXPECT_EQ(-ENOSPC, pub_retained(p, "ll.r3"));
	/* Replacing one of its own is fine at the cap. */
	EXPECT_EQ(PER_RING + 3, pub_retained(p, "ll.r1"));
	close(rd);
	close(p);
}

/* A record larger than the whole ring never fits: lost at once, no wait. */
TEST_F(lossless, a_record_larger_than_the_ring_never_waits)
{
	struct evbus_bus_stats b0, b1;
	struct rec r[4];
	uint64_t t, dt;
	int rd = reader_open(LONG_WAIT), p = evt_sf_open();

	ASSERT_LE(0, rd);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b0));
	t = evt_now_ns();
	EXPECT_EQ(1, pub_len(p, TOPIC, RING));
	dt = evt_now_ns() - t;
	EXPECT_GT(PROMPT, dt);
	ASSERT_EQ(0, evt_bus_stats(self->own, &b1));
	EXPECT_EQ(b0.lossless_waits, b1.lossless_waits);
	EXPECT_EQ(b0.lost + 1, b1.lost);
	ASSERT_EQ(1, recs(rd, r, 4));
	EXPECT_LAG(r[0], 1, 1, 1);
	/* An event that fits after it goes through. */
	EXPECT_EQ(2, pub(p));
	EXPECT_EVENTS(rd, 2, 2);
	close(rd);
	close(p);
}

TEST_HARNESS_MAIN
