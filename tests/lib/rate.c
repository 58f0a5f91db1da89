// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus 1.8: rate limits and lossless rings, through the library,
 * against the real kernel.  A handle's own limit only tightens (EPERM
 * otherwise) and refuses with EAGAIN, or EMSGSIZE for a payload over the
 * byte burst; the owner's per-user limits (one uid, or everyone) are set,
 * read and removed (ENOENT), apply to every file of the user and to
 * nobody else, and only the owner may change them (EPERM);
 * evbus_publish_wait() waits for tokens, refuses at once what its
 * deadline cannot cover (EAGAIN), and gives up on a signal (EINTR,
 * nothing published); evbus_rate_get() reports limits, tokens, refusals
 * and waits.  A lossless ring (evbus_set_ring_lossless(), and
 * evbus_set_ring() keeping or dropping its wait) makes a publisher of the
 * reader's euid wait for the reader, drops what a wait ran out on with an
 * exact LAGGED record, never makes another user's publisher wait unless
 * the policy gives it EVBUS_RIGHT_WAIT.  The bus counters count it all
 * (evbus_get_bus_stats@@LIBEVBUS_1.8: 368 bytes), and the older symbol
 * versions still fill exactly the struct their callers know:
 * @LIBEVBUS_1.6 288 bytes, @LIBEVBUS_1.3 192.
 *
 * Every test runs on a bus of its own (a new IPC namespace), whose owner
 * it is.  Tests skip when the module lacks the rate or lossless feature;
 * those that need another user skip unless run as root.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "lib_test.h"

#define LT_NEW_BUS() do {						\
	if (unshare(CLONE_NEWIPC))					\
		SKIP(return, "unshare(CLONE_NEWIPC): %s", strerror(errno)); \
} while (0)

#define LT_NEED(bus, feat, name) do {					\
	struct evbus_version lt_v_;					\
	ASSERT_EQ(0, evbus_query((bus), &lt_v_));			\
	if (!(lt_v_.features & (feat)))					\
		SKIP(return, "the module has no '%s' feature", name);	\
} while (0)

#define SEC	1000000000ULL
#define MSEC	1000000ULL
/* The uid of the other user (nobody). */
#define OTHER	65534

/* The older versions of evbus_get_bus_stats(), as programs built then bind. */
int bus_stats_v16(struct evbus *bus, struct evbus_bus_stats *stats);
__asm__(".symver bus_stats_v16, evbus_get_bus_stats@LIBEVBUS_1.6");
int bus_stats_v13(struct evbus *bus, struct evbus_bus_stats *stats);
__asm__(".symver bus_stats_v13, evbus_get_bus_stats@LIBEVBUS_1.3");

static struct evbus_bus_stats stats(struct evbus *bus)
{
	struct evbus_bus_stats st;

	memset(&st, 0, sizeof(st));
	if (evbus_get_bus_stats(bus, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

static struct evbus_rate_limit lim(uint64_t ev, uint64_t evb, uint64_t by,
				   uint64_t byb)
{
	struct evbus_rate_limit l = {
		.events_per_sec = ev, .events_burst = evb,
		.bytes_per_sec = by, .bytes_burst = byb,
	};

	return l;
}

static bool lim_eq(const struct evbus_rate_limit *a,
		   const struct evbus_rate_limit *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The bus's owner and a subscriber of "r.>", on a new bus. */
#define SETUP(p, s, feat, name) do {					\
	LT_NEW_BUS();							\
	LT_OPEN(p, 0);							\
	LT_NEED(p, feat, name);						\
	LT_OPEN(s, EVBUS_OPEN_RDONLY);					\
	ASSERT_EQ(0, evbus_subscribe(s, "r.>", NULL));			\
} while (0)

/* Events of s within ms each, until none: how many, lagged ones summed. */
static int drain(struct evbus *s, int ms, uint64_t *lost, uint64_t *last_seq,
		 bool *in_order)
{
	const struct evbus_record *rec;
	uint64_t prev = 0;
	int n = 0;

	*lost = 0;
	*in_order = true;
	while (!evbus_read(s, &rec, ms)) {
		if (rec->lagged) {
			*lost += rec->lagged->lost;
			continue;
		}
		if (!rec->event)
			continue;
		if (prev && rec->event->seq != prev + 1)
			*in_order = false;
		prev = rec->event->seq;
		n++;
	}
	if (last_seq)
		*last_seq = prev;
	return n;
}

/*
 * Run fn(arg) in a child as uid and gid OTHER, with the device open to
 * it: fn's return value is the child's exit status (0: passed).
 * Returns that status, or -1 (the caller skips) when that cannot be done.
 */
static int as_other(int (*fn)(void *arg), void *arg)
{
	struct stat st;
	pid_t pid;
	int ret;

	if (getuid() || stat(EVBUS_DEVICE_PATH, &st) ||
	    chmod(EVBUS_DEVICE_PATH, 0666))
		return -1;
	pid = fork();
	if (!pid) {
		if (setresgid(OTHER, OTHER, OTHER) || setresuid(OTHER, OTHER, OTHER))
			_exit(100);
		_exit(fn(arg));
	}
	ret = pid < 0 ? -1 : lt_wait(pid);
	chmod(EVBUS_DEVICE_PATH, st.st_mode & 07777);
	return ret;
}

#define AS_OTHER(fn, arg) ({						\
	int lt_r_ = as_other((fn), (arg));				\
	if (lt_r_ < 0)							\
		SKIP(return, "needs root to publish as uid %d", OTHER);	\
	lt_r_;								\
})

/* ---------------------------------------------------------- rate limits */

/* A fresh handle is unlimited; NULL arguments are EINVAL. */
TEST(fresh_handle_is_unlimited)
{
	struct evbus_rate_limit none = {};
	struct evbus *p, *s;
	struct evbus_rate r;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	memset(&r, 0xa5, sizeof(r));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(sizeof(r), r.size);
	EXPECT_EQ(EVBUS_RATE_GET, r.op);
	EXPECT_TRUE(lim_eq(&none, &r.limit));
	EXPECT_TRUE(lim_eq(&none, &r.user));
	EXPECT_EQ(0, r.events_tokens);
	EXPECT_EQ(0, r.bytes_tokens);
	EXPECT_EQ(0, r.user_events_tokens);
	EXPECT_EQ(0, r.user_bytes_tokens);
	EXPECT_EQ(0, r.refused);
	EXPECT_EQ(0, r.waited);
	EXPECT_EQ(-EINVAL, evbus_rate_get(NULL, &r));
	EXPECT_EQ(-EINVAL, evbus_rate_get(p, NULL));
	EXPECT_EQ(-EINVAL, evbus_rate_limit(p, NULL));
	EXPECT_EQ(-EINVAL, evbus_rate_limit(NULL, &none));
	EXPECT_EQ(-EINVAL, evbus_rate_limit_user(NULL, EVBUS_WHO_ALL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_rate_user_get(p, EVBUS_WHO_ALL, 0, NULL));
	EXPECT_EQ(-EINVAL, evbus_rate_user_get(NULL, EVBUS_WHO_ALL, 0, &none));
	evbus_close(s);
	evbus_close(p);
}

/*
 * A handle's limit: events refused past the burst with EAGAIN (nothing
 * published, counted), only tighter limits accepted, the kernel's checks
 * passed through.
 */
TEST(file_limit_refuses_and_only_tightens)
{
	struct evbus_rate_limit l = lim(1, 2, 0, 0), got;
	struct evbus_bus_stats st;
	struct evbus *p, *s;
	struct evbus_rate r;
	uint64_t lost, seq;
	bool ordered;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	ASSERT_EQ(0, evbus_rate_limit(p, &l));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_TRUE(lim_eq(&l, &r.limit));
	EXPECT_EQ(2, r.events_tokens);		/* a full bucket */
	EXPECT_EQ(0, evbus_publish(p, "r.a", "1", 1, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.a", "2", 1, NULL, &seq));
	EXPECT_EQ(-EAGAIN, evbus_publish(p, "r.a", "3", 1, NULL, NULL));
	EXPECT_EQ(2, drain(s, 200, &lost, NULL, &ordered));
	EXPECT_EQ(0, lost);
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(0, r.events_tokens);
	EXPECT_EQ(1, r.refused);
	EXPECT_EQ(0, r.waited);
	st = stats(p);
	EXPECT_EQ(1, st.rate_refused_file);
	EXPECT_EQ(0, st.rate_refused_user);
	EXPECT_EQ(2, st.published);
	EXPECT_EQ(seq, st.seq);

	/* Looser in any way, or none at all: EPERM.  The same or less: fine. */
	got = lim(2, 2, 0, 0);
	EXPECT_EQ(-EPERM, evbus_rate_limit(p, &got));
	got = lim(1, 3, 0, 0);
	EXPECT_EQ(-EPERM, evbus_rate_limit(p, &got));
	got = lim(0, 0, 0, 0);
	EXPECT_EQ(-EPERM, evbus_rate_limit(p, &got));
	got = lim(0, 0, 100, 100);		/* events unlimited again */
	EXPECT_EQ(-EPERM, evbus_rate_limit(p, &got));
	EXPECT_EQ(0, evbus_rate_limit(p, &l));
	got = lim(1, 1, 1000, 10);
	EXPECT_EQ(0, evbus_rate_limit(p, &got));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_TRUE(lim_eq(&got, &r.limit));

	/* The kernel's checks come back as they are. */
	got = lim(0, 5, 0, 0);			/* a burst without a rate */
	EXPECT_EQ(-EINVAL, evbus_rate_limit(s, &got));
	got = lim(5, 0, 0, 0);			/* a rate without a burst */
	EXPECT_EQ(-EINVAL, evbus_rate_limit(s, &got));
	got = lim(EVBUS_RATE_MAX + 1, 1, 0, 0);
	EXPECT_EQ(-EINVAL, evbus_rate_limit(s, &got));
	got = lim(1, EVBUS_RATE_BURST_MAX + 1, 0, 0);
	EXPECT_EQ(-EINVAL, evbus_rate_limit(s, &got));
	got = lim(EVBUS_RATE_MAX, EVBUS_RATE_BURST_MAX, 0, 0);
	EXPECT_EQ(0, evbus_rate_limit(s, &got));
	evbus_close(s);
	evbus_close(p);
}

/* A byte limit: a payload over its burst can never pass (EMSGSIZE). */
TEST(byte_limit_and_a_payload_over_the_burst)
{
	struct evbus_rate_limit l = lim(0, 0, 1, 10);
	struct evbus *p, *s;
	struct evbus_rate r;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	ASSERT_EQ(0, evbus_rate_limit(p, &l));
	EXPECT_EQ(-EMSGSIZE, evbus_publish(p, "r.b", "0123456789a", 11, NULL, NULL));
	EXPECT_EQ(-EMSGSIZE, evbus_publish_wait(p, "r.b", "0123456789a", 11,
						NULL, 5 * SEC, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.b", "0123456", 7, NULL, NULL));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(3, r.bytes_tokens);
	EXPECT_EQ(0, r.events_tokens);		/* events are not limited */
	EXPECT_EQ(-EAGAIN, evbus_publish(p, "r.b", "0123", 4, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.b", "012", 3, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.b", NULL, 0, NULL, NULL));	/* free */
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(1, r.refused);		/* EMSGSIZE is not a refusal */
	EXPECT_EQ(1, stats(p).rate_refused_file);
	evbus_close(s);
	evbus_close(p);
}

/* The owner sets, reads, replaces and removes per-user limits. */
TEST(user_limits_set_read_remove)
{
	struct evbus_rate_limit a = lim(10, 5, 0, 0), b = lim(0, 0, 4096, 8192);
	struct evbus_rate_limit zero = {}, got;
	struct evbus *p, *s;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	EXPECT_EQ(-ENOENT, evbus_rate_user_get(p, EVBUS_WHO_UID, 4321, &got));
	EXPECT_EQ(-ENOENT, evbus_rate_user_get(p, EVBUS_WHO_ALL, 0, &got));
	EXPECT_EQ(-ENOENT, evbus_rate_limit_user(p, EVBUS_WHO_UID, 4321, NULL));
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_UID, 4321, &a));
	ASSERT_EQ(0, evbus_rate_user_get(p, EVBUS_WHO_UID, 4321, &got));
	EXPECT_TRUE(lim_eq(&a, &got));
	EXPECT_EQ(-ENOENT, evbus_rate_user_get(p, EVBUS_WHO_UID, 4322, &got));
	EXPECT_EQ(-ENOENT, evbus_rate_user_get(p, EVBUS_WHO_ALL, 0, &got));
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &b));
	ASSERT_EQ(0, evbus_rate_user_get(p, EVBUS_WHO_ALL, 0, &got));
	EXPECT_TRUE(lim_eq(&b, &got));
	EXPECT_EQ(2, stats(p).rate_users);
	/* Replacing keeps one rule per user. */
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_UID, 4321, &b));
	ASSERT_EQ(0, evbus_rate_user_get(s, EVBUS_WHO_UID, 4321, &got));
	EXPECT_TRUE(lim_eq(&b, &got));
	EXPECT_EQ(2, stats(p).rate_users);
	/* NULL and all-zero both remove. */
	EXPECT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_UID, 4321, NULL));
	EXPECT_EQ(-ENOENT, evbus_rate_limit_user(p, EVBUS_WHO_UID, 4321, NULL));
	EXPECT_EQ(-ENOENT, evbus_rate_user_get(p, EVBUS_WHO_UID, 4321, &got));
	EXPECT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &zero));
	EXPECT_EQ(-ENOENT, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &zero));
	EXPECT_EQ(0, stats(p).rate_users);
	/* The kernel's checks. */
	EXPECT_EQ(-EINVAL, evbus_rate_limit_user(p, EVBUS_WHO_GID, 4321, &a));
	EXPECT_EQ(-EINVAL, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 7, &a));
	EXPECT_EQ(-EINVAL, evbus_rate_limit_user(p, EVBUS_WHO_UID, (uint32_t)-1, &a));
	EXPECT_EQ(-EINVAL, evbus_rate_user_get(p, EVBUS_WHO_GID, 4321, &got));
	got = lim(1, 0, 0, 0);
	EXPECT_EQ(-EINVAL, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &got));
	evbus_close(s);
	evbus_close(p);
}

/* What the other user does in user_limit_is_the_users: see there. */
static int other_publishes(void *arg)
{
	struct evbus_rate_limit l = lim(100, 100, 0, 0), got;
	struct evbus *b;
	struct evbus_rate r;
	int i;

	(void)arg;
	if (evbus_open(&b, NULL))
		return 1;
	/* Not the owner: may read a limit, not change one. */
	if (evbus_rate_limit_user(b, EVBUS_WHO_UID, OTHER, &l) != -EPERM ||
	    evbus_rate_limit_user(b, EVBUS_WHO_ALL, 0, NULL) != -EPERM)
		return 2;
	if (evbus_rate_user_get(b, EVBUS_WHO_UID, OTHER, &got) ||
	    got.events_burst != 2)
		return 3;
	/* Its own limit (2 at once), not the everyone limit nor root's bucket. */
	if (evbus_rate_get(b, &r) || r.user.events_burst != 2 ||
	    r.user_events_tokens != 2)
		return 4;
	for (i = 0; i < 2; i++)
		if (evbus_publish(b, "r.other", "x", 1, NULL, NULL))
			return 5;
	if (evbus_publish(b, "r.other", "x", 1, NULL, NULL) != -EAGAIN)
		return 6;
	evbus_close(b);
	return 0;
}

/*
 * A user's limit is shared by all its files, applies to nobody else, and
 * a uid's own limit takes the place of the everyone limit.
 */
TEST(user_limit_is_the_users)
{
	struct evbus_rate_limit all = lim(1, 3, 0, 0), other = lim(1, 2, 0, 0);
	struct evbus *p, *s, *q;
	struct evbus_bus_stats st;
	struct evbus_rate r;
	uint64_t lost;
	bool ordered;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	LT_OPEN(q, EVBUS_OPEN_WRONLY);
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &all));
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_UID, OTHER, &other));
	/* What the first publish will meet, before any bucket exists. */
	ASSERT_EQ(0, evbus_rate_get(q, &r));
	EXPECT_TRUE(lim_eq(&all, &r.user));
	EXPECT_EQ(3, r.user_events_tokens);
	EXPECT_EQ(0, r.limit.events_per_sec);	/* the file's own: none */
	EXPECT_EQ(0, evbus_publish(p, "r.u", "1", 1, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(q, "r.u", "2", 1, NULL, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.u", "3", 1, NULL, NULL));
	EXPECT_EQ(-EAGAIN, evbus_publish(q, "r.u", "4", 1, NULL, NULL));
	EXPECT_EQ(-EAGAIN, evbus_publish(p, "r.u", "5", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_TRUE(lim_eq(&all, &r.user));
	EXPECT_EQ(0, r.user_events_tokens);
	EXPECT_EQ(1, r.refused);		/* this file's refusals */
	EXPECT_EQ(0, AS_OTHER(other_publishes, NULL));
	st = stats(p);
	EXPECT_EQ(3, st.rate_refused_user);
	EXPECT_EQ(0, st.rate_refused_file);
	EXPECT_EQ(5, st.published);
	EXPECT_EQ(5, drain(s, 200, &lost, NULL, &ordered));
	/* Removing the everyone limit frees root at once. */
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, NULL));
	EXPECT_EQ(0, evbus_publish(p, "r.u", "6", 1, NULL, NULL));
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(0, r.user.events_per_sec);
	evbus_close(q);
	evbus_close(s);
	evbus_close(p);
}

/*
 * evbus_publish_wait(): waits for the tokens it lacks, refuses at once a
 * wait its deadline cannot cover, needs a deadline, and is a plain publish
 * when tokens are there.
 */
TEST(publish_wait_waits_for_tokens)
{
	EVBUS_OPTS(evbus_pub_opts, po, .type = 4, .corr = 9);
	struct evbus_rate_limit l = lim(2, 1, 0, 0);	/* one every 500 ms */
	const struct evbus_record *rec;
	struct evbus_bus_stats st;
	struct evbus *p, *s;
	struct evbus_rate r;
	uint64_t seq = 0, seq2 = 0;
	long long t0, ms;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	EXPECT_EQ(-EINVAL, evbus_publish_wait(p, "r.w", "x", 1, NULL, 0, NULL));
	ASSERT_EQ(0, evbus_rate_limit(p, &l));
	t0 = lt_now_ms();
	ASSERT_EQ(0, evbus_publish_wait(p, "r.w", "a", 1, &po, 5 * SEC, &seq));
	EXPECT_LT(lt_now_ms() - t0, 400);		/* a token was there */
	/* 1 ms cannot cover the ~500 ms the next token takes: at once. */
	t0 = lt_now_ms();
	EXPECT_EQ(-EAGAIN, evbus_publish_wait(p, "r.w", "b", 1, &po, MSEC, NULL));
	EXPECT_LT(lt_now_ms() - t0, 300);
	t0 = lt_now_ms();
	ASSERT_EQ(0, evbus_publish_wait(p, "r.w", "c", 1, &po, 5 * SEC, &seq2));
	ms = lt_now_ms() - t0;
	EXPECT_GE(ms, 300);
	EXPECT_LT(ms, 3000);
	EXPECT_EQ(seq + 1, seq2);
	ASSERT_EQ(0, evbus_read(s, &rec, 1000));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(seq, rec->event->seq);
	ASSERT_EQ(0, evbus_read(s, &rec, 1000));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(seq2, rec->event->seq);
	EXPECT_EQ(4, rec->event->type);
	EXPECT_EQ(9, rec->event->corr);
	EXPECT_EQ(1, rec->payload_len);
	EXPECT_EQ('c', *(const char *)rec->payload);
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_EQ(1, r.refused);
	EXPECT_EQ(1, r.waited);
	st = stats(p);
	EXPECT_EQ(1, st.rate_refused_file);
	EXPECT_EQ(1, st.rate_waited);
	EXPECT_GE(st.rate_wait_ns, 250 * MSEC);
	EXPECT_EQ(0, st.rate_interrupted);
	EXPECT_EQ(2, st.published);
	evbus_close(s);
	evbus_close(p);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal ends a wait for tokens: EINTR, nothing published, tokens back. */
TEST(publish_wait_interrupted_by_a_signal)
{
	struct evbus_rate_limit l = lim(1, 1, 0, 0);
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct evbus_bus_stats st;
	struct evbus *p, *s;
	struct evbus_rate r;
	uint64_t lost;
	long long t0;
	bool ordered;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	ASSERT_EQ(0, evbus_rate_limit_user(p, EVBUS_WHO_ALL, 0, &l));
	ASSERT_EQ(0, evbus_publish(p, "r.i", "a", 1, NULL, NULL));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	t0 = lt_now_ms();
	EXPECT_EQ(-EINTR, evbus_publish_wait(p, "r.i", "b", 1, NULL, 10 * SEC, NULL));
	EXPECT_LT(lt_now_ms() - t0, 900);
	st = stats(p);
	EXPECT_EQ(1, st.rate_interrupted);
	EXPECT_EQ(0, st.rate_waited);
	EXPECT_EQ(1, st.published);
	/* The reserved token came back: the bucket owes nothing. */
	ASSERT_EQ(0, evbus_rate_get(p, &r));
	EXPECT_GE(r.user_events_tokens, 0);
	EXPECT_EQ(0, r.waited);
	EXPECT_EQ(1, drain(s, 200, &lost, NULL, &ordered));
	evbus_close(s);
	evbus_close(p);
}

/* -------------------------------------------------- bus stats versions */

/*
 * evbus_get_bus_stats@@LIBEVBUS_1.8 fills 368 bytes with the rate and
 * lossless counters; @LIBEVBUS_1.6 exactly 288 and @LIBEVBUS_1.3 exactly
 * 192, as their callers' structs are, the rest left alone.
 */
TEST(bus_stats_symbol_versions)
{
	struct evbus_rate_limit l = lim(1, 1, 0, 0);
	unsigned char buf[sizeof(struct evbus_bus_stats) + 64];
	struct evbus_bus_stats *st = (struct evbus_bus_stats *)buf;
	struct evbus *p, *s;
	size_t i;

	SETUP(p, s, EVBUS_FEAT_RATE, "rate");
	ASSERT_EQ(EVBUS_BUS_STATS_SIZE_VER2, sizeof(struct evbus_bus_stats));
	ASSERT_EQ(0, evbus_rate_limit(p, &l));
	ASSERT_EQ(0, evbus_publish(p, "r.s", "x", 1, NULL, NULL));
	ASSERT_EQ(-EAGAIN, evbus_publish(p, "r.s", "y", 1, NULL, NULL));

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, evbus_get_bus_stats(p, st));
	EXPECT_EQ(EVBUS_BUS_STATS_SIZE_VER2, st->size);
	EXPECT_EQ(1, st->published);
	EXPECT_EQ(1, st->rate_refused_file);
	EXPECT_EQ(0, st->lossless_foreign);
	for (i = EVBUS_BUS_STATS_SIZE_VER2; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]);

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, bus_stats_v16(p, st));
	EXPECT_EQ(EVBUS_BUS_STATS_SIZE_VER1, st->size);
	EXPECT_EQ(1, st->published);
	EXPECT_EQ(0, st->approval_nobody);	/* the last VER1 field */
	for (i = EVBUS_BUS_STATS_SIZE_VER1; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]);

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, bus_stats_v13(p, st));
	EXPECT_EQ(EVBUS_BUS_STATS_SIZE_VER0, st->size);
	EXPECT_EQ(1, st->published);
	for (i = EVBUS_BUS_STATS_SIZE_VER0; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]);
	EXPECT_EQ(-EINVAL, bus_stats_v16(NULL, st));
	EXPECT_EQ(-EINVAL, bus_stats_v13(p, NULL));
	evbus_close(s);
	evbus_close(p);
}

/* ------------------------------------------------------- lossless rings */

/*
 * evbus_set_ring_lossless() sets the policy and the wait, evbus_set_ring()
 * keeps a lossless ring's wait (a new size) and drops it for another
 * policy; the kernel's bounds come back as they are.
 */
TEST(lossless_ring_configuration)
{
	struct evbus *p, *s, *w;
	uint32_t size, policy, events;
	uint64_t delay;

	SETUP(p, s, EVBUS_FEAT_LOSSLESS, "lossless");
	EXPECT_EQ(-EINVAL, evbus_set_ring_lossless(NULL, 0, SEC));
	EXPECT_EQ(-EINVAL, evbus_set_ring_lossless(s, 0, 0));
	EXPECT_EQ(-EINVAL, evbus_set_ring_lossless(s, 0, 3600 * SEC));
	EXPECT_EQ(-EINVAL, evbus_set_ring_lossless(s, 1024, SEC));	/* < ring_min */
	/* A ring that has no wait yet cannot become lossless without one. */
	EXPECT_EQ(-EINVAL, evbus_set_ring(s, 0, EVBUS_POLICY_LOSSLESS));
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 8192, SEC));
	ASSERT_EQ(0, evbus_get_ring(s, &size, &policy));
	EXPECT_EQ(8192, size);
	EXPECT_EQ(EVBUS_POLICY_LOSSLESS, policy);
	ASSERT_EQ(0, evbus_set_ring(s, 16384, EVBUS_POLICY_LOSSLESS));
	ASSERT_EQ(0, evbus_get_ring(s, &size, &policy));
	EXPECT_EQ(16384, size);
	EXPECT_EQ(EVBUS_POLICY_LOSSLESS, policy);
	/* Wake-up settings keep the policy. */
	ASSERT_EQ(0, evbus_set_wake(s, 4, 0));
	ASSERT_EQ(0, evbus_get_wake(s, &events, &delay));
	EXPECT_EQ(4, events);
	ASSERT_EQ(0, evbus_get_ring(s, NULL, &policy));
	EXPECT_EQ(EVBUS_POLICY_LOSSLESS, policy);
	ASSERT_EQ(0, evbus_set_wake_adaptive(s));
	ASSERT_EQ(0, evbus_set_ring(s, 0, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_EQ(0, evbus_get_ring(s, &size, &policy));
	EXPECT_EQ(16384, size);
	EXPECT_EQ(EVBUS_POLICY_DROP_NEWEST, policy);
	EXPECT_EQ(-EINVAL, evbus_set_ring(s, 0, EVBUS_POLICY_LOSSLESS));
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 0, 1));	/* 1 ns is enough */
	ASSERT_EQ(0, evbus_set_ring(s, 0, EVBUS_POLICY_DROP_OLDEST));
	/* A publish-only handle has no ring to set. */
	LT_OPEN(w, EVBUS_OPEN_WRONLY);
	EXPECT_EQ(-EBADF, evbus_set_ring_lossless(w, 0, SEC));
	evbus_close(w);
	evbus_close(s);
	evbus_close(p);
}

/* A publisher in a thread: count events of 200 bytes on topic. */
struct pubber {
	struct evbus *bus;
	const char *topic;
	int count;
	pthread_t th;
	int ret;		/* the first failure, or 0 */
	long long ms;		/* how long it took */
};

static void *pub_fn(void *arg)
{
	struct pubber *pb = arg;
	char payload[200];
	long long t0 = lt_now_ms();
	int i, ret;

	memset(payload, 'p', sizeof(payload));
	for (i = 0; i < pb->count; i++) {
		ret = evbus_publish(pb->bus, pb->topic, payload, sizeof(payload),
				    NULL, NULL);
		if (ret && !pb->ret)
			pb->ret = ret;
	}
	pb->ms = lt_now_ms() - t0;
	return NULL;
}

static int pub_start(struct pubber *pb, struct evbus *bus, const char *topic,
		     int count)
{
	memset(pb, 0, sizeof(*pb));
	pb->bus = bus;
	pb->topic = topic;
	pb->count = count;
	return pthread_create(&pb->th, NULL, pub_fn, pb);
}

/*
 * A publisher of the reader's euid waits for the reader to make room:
 * every event arrives, in order, none lost, though the ring holds a
 * fraction of them.
 */
TEST(lossless_publisher_waits_for_the_reader)
{
	struct evbus_bus_stats st;
	struct evbus_stats fs;
	struct evbus *p, *s;
	struct pubber pb;
	uint64_t lost;
	bool ordered;
	int n;

	SETUP(p, s, EVBUS_FEAT_LOSSLESS, "lossless");
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 4096, 5 * SEC));
	ASSERT_EQ(0, pub_start(&pb, p, "r.ll", 150));
	usleep(300000);			/* the ring fills, the publisher waits */
	n = drain(s, 3000, &lost, NULL, &ordered);
	pthread_join(pb.th, NULL);
	EXPECT_EQ(0, pb.ret);
	EXPECT_EQ(150, n);
	EXPECT_EQ(0, lost);
	EXPECT_TRUE(ordered);
	ASSERT_EQ(0, evbus_get_stats(s, &fs));
	EXPECT_EQ(0, fs.lost);
	EXPECT_EQ(150, fs.delivered);
	st = stats(p);
	EXPECT_GE(st.lossless_waits, 1);
	EXPECT_EQ(0, st.lossless_expired);
	EXPECT_EQ(0, st.lossless_foreign);
	EXPECT_EQ(0, st.lost);
	EXPECT_EQ(150, st.published);
	evbus_close(s);
	evbus_close(p);
}

/*
 * Nobody reads: each publish that finds the ring full waits the ring's
 * wait, then the event is lost for that reader alone, reported exactly.
 */
TEST(lossless_wait_runs_out_then_drops)
{
	struct evbus_bus_stats st;
	struct evbus *p, *s, *t;
	struct pubber pb;
	uint64_t lost, last;
	bool ordered;
	int n;

	SETUP(p, s, EVBUS_FEAT_LOSSLESS, "lossless");
	LT_OPEN(t, EVBUS_OPEN_RDONLY);		/* an ordinary reader beside it */
	ASSERT_EQ(0, evbus_subscribe(t, "r.>", NULL));
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 4096, 30 * MSEC));
	ASSERT_EQ(0, pub_start(&pb, p, "r.x", 40));
	pthread_join(pb.th, NULL);
	EXPECT_EQ(0, pb.ret);			/* a loss is not an error */
	n = drain(s, 200, &lost, &last, &ordered);
	EXPECT_GT(n, 0);
	EXPECT_GT(lost, 0);
	EXPECT_EQ(40, n + lost);
	/* Each loss cost one wait of the ring's 30 ms. */
	EXPECT_GE(pb.ms, (long long)lost * 25);
	st = stats(p);
	EXPECT_EQ(lost, st.lossless_expired);
	EXPECT_EQ(lost, st.lossless_waits);
	EXPECT_EQ(0, st.lossless_foreign);
	EXPECT_GE(st.lossless_wait_ns, lost * 25 * MSEC);
	EXPECT_EQ(40, st.published);
	/* The other reader lost nothing. */
	EXPECT_EQ(40, drain(t, 200, &lost, NULL, &ordered));
	EXPECT_EQ(0, lost);
	EXPECT_TRUE(ordered);
	evbus_close(t);
	evbus_close(s);
	evbus_close(p);
}

/* As the other user: publish count events on topic, say how long it took. */
struct other_pub {
	const char *topic;
	int count;
	long long max_ms;	/* fail if it takes longer */
	long long min_ms;	/* ... or shorter */
};

static int other_floods(void *arg)
{
	struct other_pub *op = arg;
	char payload[200];
	struct evbus *b;
	long long t0, ms;
	int i;

	memset(payload, 'o', sizeof(payload));
	if (evbus_open(&b, NULL))
		return 1;
	t0 = lt_now_ms();
	for (i = 0; i < op->count; i++)
		if (evbus_publish(b, op->topic, payload, sizeof(payload), NULL, NULL))
			return 2;
	ms = lt_now_ms() - t0;
	evbus_close(b);
	if (ms > op->max_ms)
		return 3;
	return ms < op->min_ms ? 4 : 0;
}

/*
 * Another user's publisher never waits for a lossless ring (the ring is
 * drop-newest for it, losses counted as foreign), unless the policy gives
 * it EVBUS_RIGHT_WAIT on the topic.
 */
TEST(lossless_never_slows_another_user_without_the_right)
{
	struct other_pub op = { .topic = "r.f", .count = 40, .max_ms = 3000 };
	struct evbus_bus_stats st;
	struct evbus *p, *s;
	uint64_t lost, lost2;
	bool ordered;
	int n;

	SETUP(p, s, EVBUS_FEAT_LOSSLESS, "lossless");
	/* 5 s per full ring would take minutes if it waited. */
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 4096, 5 * SEC));
	EXPECT_EQ(0, AS_OTHER(other_floods, &op));
	n = drain(s, 200, &lost, NULL, &ordered);
	EXPECT_GT(lost, 0);
	EXPECT_EQ(40, n + lost);
	st = stats(p);
	EXPECT_EQ(lost, st.lossless_foreign);
	EXPECT_EQ(0, st.lossless_waits);
	EXPECT_EQ(0, st.lossless_expired);

	/* With the right, it waits (here: 300 ms per event past the room). */
	ASSERT_EQ(0, evbus_set_ring_lossless(s, 0, 300 * MSEC));
	ASSERT_EQ(0, evbus_policy_add(p, "r.>", EVBUS_ALLOW, EVBUS_RIGHT_WAIT,
				      EVBUS_WHO_UID, OTHER, 0, NULL));
	op.count = 25;		/* ~20 fit in 4 KiB */
	op.min_ms = 250;
	op.max_ms = 60000;
	EXPECT_EQ(0, AS_OTHER(other_floods, &op));
	n = drain(s, 200, &lost2, NULL, &ordered);
	EXPECT_GT(lost2, 0);
	EXPECT_EQ(25, n + lost2);
	st = stats(p);
	EXPECT_EQ(lost, st.lossless_foreign);
	EXPECT_EQ(lost2, st.lossless_expired);
	EXPECT_EQ(lost2, st.lossless_waits);
	evbus_close(s);
	evbus_close(p);
}

TEST_HARNESS_MAIN
