// SPDX-License-Identifier: GPL-2.0
/*
 * Filters on a subscription: EVBUS_IOC_SUBSCRIBE2 (#13).
 *
 * Sender filters (uid, gid, pid of publishers that fork and setresuid),
 * the type range (inclusive at both ends), and classic BPF programs that
 * see the record as read() returns it: each good program is checked
 * against exactly the events it must let through, every hostile one is
 * refused with the errno the module gives (EINVAL, EFAULT) and leaves the
 * file as it was.  Refused events cost the reader nothing and are counted,
 * exactly, in the bus's "filtered" counter.  The size-versioned struct
 * follows copy_struct_from_user().  A filter only refuses: it never sees
 * an event its pattern did not match.
 *
 * Regression: more than 8 (EVBUS_TARGETS_SMALL) filtered subscribers on one
 * topic make the publisher grow its target array mid-publish; that once
 * freed the BPF window with it (double free, fixed in 982912c).  Many
 * filtered subscribers, batches, and filtered subscriptions coming and
 * going while another process publishes, exercise growth and freeing.
 *
 * Every test runs on a bus of its own (a new IPC namespace), so the bus's
 * counters and sequence numbers start at zero and are asserted exactly.
 */
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define MAXGOT		2048

/* ------------------------------------------------------------ helpers */

#define LD_ABS(k)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (k))
#define RET(k)		BPF_STMT(BPF_RET | BPF_K, (k))
#define ACCEPT_ALL	{ RET(1) }
#define REJECT_ALL	{ RET(0) }

/* The 32-bit word at p, in host byte order (what "ld [k]" loads). */
static uint32_t word_of(const void *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/* "Accept iff the word at offset k equals v": 4 instructions. */
static void prog_eq(struct sock_filter *f, uint32_t k, uint32_t v)
{
	f[0] = (struct sock_filter)LD_ABS(k);
	f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, v, 0, 1);
	f[2] = (struct sock_filter)RET(1);
	f[3] = (struct sock_filter)RET(0);
}

/* "Accept iff bit b of the type is set": 4 instructions. */
static void prog_bit(struct sock_filter *f, unsigned int b)
{
	f[0] = (struct sock_filter)LD_ABS(offsetof(struct evbus_event, type));
	f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1u << b, 0, 1);
	f[2] = (struct sock_filter)RET(1);
	f[3] = (struct sock_filter)RET(0);
}

static uint64_t bus_filtered(struct __test_metadata *_metadata, int fd)
{
	struct evbus_bus_stats bs;

	EXPECT_EQ(0, evt_sf_bus_stats(fd, &bs));
	return bs.filtered;
}

/* The file holds no subscription and no ring; the bus has n subscriptions. */
#define ASSERT_UNCHANGED(fd, nbus) do {					\
	struct evbus_stats _st;						\
	struct evbus_bus_stats _bs;					\
	ASSERT_EQ(0, evt_stats(fd, &_st));				\
	EXPECT_EQ(0, _st.subscriptions);				\
	EXPECT_EQ(0, _st.capacity);					\
	ASSERT_EQ(0, evt_sf_bus_stats(fd, &_bs));			\
	EXPECT_EQ(nbus, _bs.subscriptions);				\
} while (0)

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

FIXTURE(filter) {
	int pub;	/* root's publisher file */
};

FIXTURE_SETUP(filter)
{
	ASSERT_EQ(0, evt_sf_new_bus());
	self->pub = evt_sf_open();
	ASSERT_LE(0, self->pub);
}

FIXTURE_TEARDOWN(filter)
{
	close(self->pub);
}

/* ----------------------------------------------------------------- 1 --- */

struct sender {
	uid_t uid;
	gid_t gid;
};

static const struct sender senders[] = {
	{ 0, 0 }, { 1000, 1000 }, { 1001, 2000 }, { 1000, 2000 },
};
#define NSENDERS	(int)(sizeof(senders) / sizeof(senders[0]))

/* A publisher child: waits for a byte, becomes s, publishes one event. */
static pid_t sender_child(int fd, int idx, int go_r)
{
	pid_t pid = fork();
	uint32_t w = idx;
	char c;

	if (pid)
		return pid;
	alarm(60);
	if (read(go_r, &c, 1) != 1)
		_exit(2);
	if (setgroups(0, NULL) || setresgid(senders[idx].gid, senders[idx].gid,
					    senders[idx].gid) ||
	    setresuid(senders[idx].uid, senders[idx].uid, senders[idx].uid))
		_exit(3);
	_exit(evt_pub_full(fd, "s.x", &w, 4, idx, 0, 0) == idx + 1 ? 0 : 4);
}

static void *thread_pub(void *arg)
{
	int fd = *(int *)arg;

	return (void *)(intptr_t)evt_pub(fd, "t.x", "thread");
}

TEST_F_TIMEOUT(filter, sender_filters_deliver_only_matching_senders, 120)
{
	enum { F_UID, F_GID, F_PID, F_UIDGID, F_BPF_UID, F_NONE, NF };
	/* Which senders each subscription takes (bit per sender). */
	const unsigned int want[NF] = {
		[F_UID] = 1 << 1 | 1 << 3, [F_GID] = 1 << 2 | 1 << 3,
		[F_PID] = 1 << 2, [F_UIDGID] = 1 << 3, [F_BPF_UID] = 1 << 2,
		[F_NONE] = 0xf,
	};
	struct sock_filter bpf_uid[4];
	struct evt_got got[MAXGOT];
	struct evbus_subscribe s;
	int fds[NF], go[NSENDERS][2], i, k, n, refused = 0;
	pid_t pids[NSENDERS];
	pthread_t th;
	void *tret;

	/* The publishers exist (and wait) before anyone subscribes. */
	for (k = 0; k < NSENDERS; k++) {
		ASSERT_EQ(0, pipe2(go[k], O_CLOEXEC));
		pids[k] = sender_child(self->pub, k, go[k][0]);
		ASSERT_LT(0, pids[k]);
		close(go[k][0]);
	}
	prog_eq(bpf_uid, offsetof(struct evbus_event, uid), 1001);
	for (i = 0; i < NF; i++) {
		fds[i] = evt_sf_open();
		ASSERT_LE(0, fds[i]);
		memset(&s, 0, sizeof(s));
		switch (i) {
		case F_UID:
			s.flags = EVBUS_SUB_FROM_UID;
			s.from_uid = 1000;
			break;
		case F_GID:
			s.flags = EVBUS_SUB_FROM_GID;
			s.from_gid = 2000;
			break;
		case F_PID:
			s.flags = EVBUS_SUB_FROM_PID;
			s.from_pid = pids[2];
			break;
		case F_UIDGID:
			s.flags = EVBUS_SUB_FROM_UID | EVBUS_SUB_FROM_GID;
			s.from_uid = 1000;
			s.from_gid = 2000;
			break;
		case F_BPF_UID:
			s.flags = EVBUS_SUB_FILTER;
			s.filter = (uintptr_t)bpf_uid;
			s.filter_len = 4;
			break;
		}
		ASSERT_EQ(1, evt_sub2(fds[i], "s.x", &s));
	}
	/* One at a time, in order: sender k's event is seq k + 1. */
	for (k = 0; k < NSENDERS; k++) {
		ASSERT_EQ(1, write(go[k][1], "g", 1));
		EXPECT_EQ(0, wait_status(pids[k])) TH_LOG("sender %d", k);
		close(go[k][1]);
		for (i = 0; i < NF; i++)
			refused += !(want[i] & (1u << k));
	}
	for (i = 0; i < NF; i++) {
		int j = 0;

		n = evt_sf_drain(fds[i], got, MAXGOT, NULL);
		EXPECT_EQ(__builtin_popcount(want[i]), n) TH_LOG("filter %d", i);
		for (k = 0; k < NSENDERS && j < n; k++) {
			if (!(want[i] & (1u << k)))
				continue;
			EXPECT_EQ((uint64_t)k + 1, got[j].seq);
			EXPECT_EQ((uint32_t)k, got[j].type);
			EXPECT_EQ(senders[k].uid, got[j].uid);
			EXPECT_EQ(senders[k].gid, got[j].gid);
			EXPECT_EQ((uint32_t)pids[k], got[j].pid);
			j++;
		}
	}
	EXPECT_EQ(13, refused);
	EXPECT_EQ(refused, bus_filtered(_metadata, self->pub));

	/* FROM_PID is the process: a second thread of it passes, a child not. */
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_FROM_PID;
	s.from_pid = getpid();
	ASSERT_EQ(2, evt_sub2(fds[F_PID], "t.x", &s));
	ASSERT_EQ(0, pthread_create(&th, NULL, thread_pub, &self->pub));
	ASSERT_EQ(0, pthread_join(th, &tret));
	EXPECT_EQ(5, (intptr_t)tret);
	EXPECT_EQ(6, evt_pub(self->pub, "t.x", "main"));
	pids[0] = fork();
	ASSERT_LE(0, pids[0]);
	if (!pids[0])
		_exit(evt_pub(self->pub, "t.x", "child") == 7 ? 0 : 1);
	ASSERT_EQ(0, wait_status(pids[0]));
	n = evt_sf_drain(fds[F_PID], got, MAXGOT, NULL);
	ASSERT_EQ(2, n);
	EXPECT_EQ(5, got[0].seq);
	EXPECT_EQ((uint32_t)getpid(), got[0].pid);
	EXPECT_EQ(6, got[1].seq);
	EXPECT_EQ(refused + 1, bus_filtered(_metadata, self->pub));
	for (i = 0; i < NF; i++)
		close(fds[i]);
}

/* ----------------------------------------------------------------- 2 --- */

TEST_F(filter, malformed_filter_fields_are_refused)
{
	struct sock_filter acc[] = ACCEPT_ALL;
	struct evbus_subscribe s;
	int fd, st;
	pid_t gone;

	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	gone = fork();
	ASSERT_LE(0, gone);
	if (!gone)
		_exit(0);
	ASSERT_EQ(0, wait_status(gone));

#define EXPECT_SUB2(err, ...) do {					\
	memset(&s, 0, sizeof(s));					\
	__VA_ARGS__;							\
	EXPECT_EQ(-(err), evt_sub2(fd, "m.x", &s)) TH_LOG("%s", #__VA_ARGS__); \
	ASSERT_UNCHANGED(fd, 0);					\
} while (0)

	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_PID; s.from_pid = 0);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_PID; s.from_pid = 4194305);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_PID; s.from_pid = ~0u);
	EXPECT_SUB2(ESRCH, s.flags = EVBUS_SUB_FROM_PID; s.from_pid = gone);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_UID; s.from_uid = ~0u);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_GID; s.from_gid = ~0u);
	/* A field without its flag. */
	EXPECT_SUB2(EINVAL, s.from_uid = 1000);
	EXPECT_SUB2(EINVAL, s.from_gid = 1000);
	EXPECT_SUB2(EINVAL, s.from_pid = getpid());
	EXPECT_SUB2(EINVAL, s.type_min = 1);
	EXPECT_SUB2(EINVAL, s.type_max = 1);
	EXPECT_SUB2(EINVAL, s.filter_len = 1);
	EXPECT_SUB2(EINVAL, s.filter = (uintptr_t)acc);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_FROM_UID; s.from_uid = 0;
			    s.type_max = 3);
	/* An empty type range. */
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_TYPE; s.type_min = 8; s.type_max = 7);
	EXPECT_SUB2(EINVAL, s.flags = EVBUS_SUB_TYPE; s.type_min = ~0u);
	/* Unknown flags. */
	EXPECT_SUB2(EINVAL, s.flags = 1u << 5);
	EXPECT_SUB2(EINVAL, s.flags = 1u << 31);
	EXPECT_SUB2(EINVAL, s.flags = ~0u);
#undef EXPECT_SUB2

	/* And the same fields done right. */
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_FROM_PID | EVBUS_SUB_FROM_UID | EVBUS_SUB_FROM_GID |
		  EVBUS_SUB_TYPE | EVBUS_SUB_FILTER;
	s.from_pid = getpid();
	s.type_min = s.type_max = ~0u;
	s.filter = (uintptr_t)acc;
	s.filter_len = 1;
	EXPECT_EQ(1, evt_sub2(fd, "m.x", &s));
	EXPECT_EQ(1, evt_pub_full(self->pub, "m.x", NULL, 0, ~0u, 0, 0));
	EXPECT_EQ(2, evt_pub_full(self->pub, "m.x", NULL, 0, 7, 0, 0));
	st = evt_sf_drain(fd, NULL, 0, NULL);
	EXPECT_EQ(1, st);
	close(fd);
}

/* ----------------------------------------------------------------- 3 --- */

TEST_F(filter, type_range_is_inclusive)
{
	static const uint32_t ranges[][2] = {
		{ 5, 7 }, { 0, 0 }, { 0xfffffffe, 0xffffffff }, { 0, 0xffffffff },
		{ 7, 7 },
	};
	static const uint32_t types[] = {
		4, 5, 6, 7, 8, 0, 0xffffffff, 0xfffffffe, 1,
	};
	const int nr = sizeof(ranges) / sizeof(ranges[0]);
	const int nt = sizeof(types) / sizeof(types[0]);
	struct evt_got got[MAXGOT];
	struct evbus_subscribe s;
	int fds[8], i, t, refused = 0;

	for (i = 0; i < nr; i++) {
		fds[i] = evt_sf_open();
		ASSERT_LE(0, fds[i]);
		memset(&s, 0, sizeof(s));
		s.flags = EVBUS_SUB_TYPE;
		s.type_min = ranges[i][0];
		s.type_max = ranges[i][1];
		ASSERT_EQ(1, evt_sub2(fds[i], "t.>", &s));
	}
	for (t = 0; t < nt; t++) {
		ASSERT_EQ(t + 1, evt_pub_full(self->pub, "t.x", NULL, 0, types[t], 0, 0));
		for (i = 0; i < nr; i++)
			refused += types[t] < ranges[i][0] || types[t] > ranges[i][1];
	}
	for (i = 0; i < nr; i++) {
		int n = evt_sf_drain(fds[i], got, MAXGOT, NULL), j = 0;

		for (t = 0; t < nt; t++) {
			if (types[t] < ranges[i][0] || types[t] > ranges[i][1])
				continue;
			ASSERT_LT(j, n) TH_LOG("range %u..%u missed type %u",
					       ranges[i][0], ranges[i][1], types[t]);
			EXPECT_EQ(types[t], got[j].type);
			EXPECT_EQ((uint64_t)t + 1, got[j].seq);
			j++;
		}
		EXPECT_EQ(j, n) TH_LOG("range %u..%u", ranges[i][0], ranges[i][1]);
		close(fds[i]);
	}
	/* 4..8 by 5..7 refuses 4, 8, 0, ~0, ~0-1, 1; and so on. */
	EXPECT_EQ(6 + 8 + 7 + 0 + 8, refused);
	EXPECT_EQ(refused, bus_filtered(_metadata, self->pub));
}

/* ----------------------------------------------------------------- 4 --- */

#define BIG_PAYLOAD	2000
#define FAR_WORD	0xdeadbeefu

struct fev {
	const char *topic;
	uint32_t type;
	uint32_t word;		/* first payload word (0: no payload) */
	uint64_t corr;
};

static const struct fev fevs[] = {
	{ "f.abc", 7, 42, 0x1122334455667788ull },
	{ "f.abcd", 7, 43, 0 },
	{ "f.ab", 8, 42, 0 },
	{ "f.x", 0, 0, 0 },
	{ "f.big", 9, 0, 0 },	/* BIG_PAYLOAD bytes, FAR_WORD at window end */
};
#define NFEV	(int)(sizeof(fevs) / sizeof(fevs[0]))

TEST_F(filter, bpf_sees_the_record_as_read_returns_it)
{
	const uint64_t corr = fevs[0].corr;
	const uint32_t me = getpid();
	union {
		struct evbus_rec_hdr h;
		uint32_t w[2];
	} hdr = { .h = { .len = 0, .kind = EVBUS_REC_EVENT,
			 .hdr_len = sizeof(struct evbus_event) } };
	char c000[4] = { 'c', 0, 0, 0 };
	struct {
		const char *what;
		struct sock_filter f[24];
		unsigned int len;
		unsigned int want;	/* bit per event of fevs[] */
	} t[] = {
		{ "topic_len == 5", {}, 4, 1 << 0 | 1 << 4 },
		{ "type == 7", {}, 4, 1 << 0 | 1 << 1 },
		{ "payload word == 42", {}, 4, 1 << 0 | 1 << 2 },
		{ "corr's word at 64", {}, 4, 1 << 0 },
		{ "topic bytes 4..7 == c", {}, 4, 1 << 0 },
		{ "hdr.kind, hdr.hdr_len", {}, 4, 0x1f },
		{ "hdr.len == 88", {}, 4, 1 << 3 },
		{ "word at 1020 == 0", {}, 4, 0x0f },
		{ "word at 1020 == FAR_WORD", {}, 4, 1 << 4 },
		{ "payload_len == 4", {}, 4, 0x07 },
		{ "seq, time_ns, mono_ns read 0", {
			LD_ABS(16), BPF_STMT(BPF_MISC | BPF_TAX, 0),
			LD_ABS(20), BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
			BPF_STMT(BPF_MISC | BPF_TAX, 0),
			LD_ABS(24), BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
			BPF_STMT(BPF_MISC | BPF_TAX, 0),
			LD_ABS(28), BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
			BPF_STMT(BPF_MISC | BPF_TAX, 0),
			LD_ABS(32), BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
			BPF_STMT(BPF_MISC | BPF_TAX, 0),
			LD_ABS(36), BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
			RET(1), RET(0) }, 19, 0x1f },
		{ "len == EVBUS_FILTER_WINDOW", {
			BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVBUS_FILTER_WINDOW, 0, 1),
			RET(1), RET(0) }, 4, 0x1f },
		{ "ldx len, txa", {
			BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0),
			BPF_STMT(BPF_MISC | BPF_TXA, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVBUS_FILTER_WINDOW, 0, 1),
			RET(1), RET(0) }, 5, 0x1f },
		{ "pid and uid, gid of the sender", {
			LD_ABS(40),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, me, 0, 5),
			LD_ABS(48),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
			LD_ABS(52),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
			RET(1), RET(0) }, 8, 0x1f },
		{ "scratch memory holds the type", {
			LD_ABS(56), BPF_STMT(BPF_ST, 5),
			BPF_STMT(BPF_LD | BPF_IMM, 0),
			BPF_STMT(BPF_LD | BPF_MEM, 5),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 1),
			RET(1), RET(0) }, 7, 1 << 0 | 1 << 1 },
		{ "return A (the type) delivers when nonzero", {
			LD_ABS(56), BPF_STMT(BPF_RET | BPF_A, 0) }, 2,
			1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 },
	};
	const int nt = sizeof(t) / sizeof(t[0]);
	struct evt_got got[MAXGOT];
	char *big;
	int fds[32], ctl, i, e;

	ASSERT_LE(nt, 32);
	prog_eq(t[0].f, offsetof(struct evbus_event, topic_len), 5);
	prog_eq(t[1].f, offsetof(struct evbus_event, type), 7);
	prog_eq(t[2].f, 88, 42);	/* payload of a 2..7-byte topic */
	prog_eq(t[3].f, 64, word_of(&corr));
	prog_eq(t[4].f, 84, word_of(c000));
	prog_eq(t[5].f, 4, hdr.w[1]);
	prog_eq(t[6].f, 0, sizeof(struct evbus_event) + 8);
	prog_eq(t[7].f, EVBUS_FILTER_WINDOW - 4, 0);
	prog_eq(t[8].f, EVBUS_FILTER_WINDOW - 4, FAR_WORD);
	prog_eq(t[9].f, offsetof(struct evbus_event, payload_len), 4);

	for (i = 0; i < nt; i++) {
		fds[i] = evt_sf_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(1, evt_sub_bpf(fds[i], "f.>", t[i].f, t[i].len))
			TH_LOG("%s", t[i].what);
	}
	ctl = evt_sf_open();
	ASSERT_LE(0, ctl);
	ASSERT_LT(0, evt_sub(ctl, "f.>"));

	big = calloc(1, BIG_PAYLOAD);
	ASSERT_NE(NULL, big);
	/* "f.big": payload at 88, the window's last word is payload byte 932. */
	memcpy(big + (EVBUS_FILTER_WINDOW - 4 - 88), &(uint32_t){ FAR_WORD }, 4);
	for (e = 0; e < NFEV; e++) {
		const void *pl = e == 4 ? (const void *)big : &fevs[e].word;
		size_t len = e == 4 ? BIG_PAYLOAD : fevs[e].word ? 4 : 0;

		ASSERT_EQ(e + 1, evt_pub_full(self->pub, fevs[e].topic, pl, len,
					      fevs[e].type, fevs[e].corr, 9));
	}
	free(big);

	ASSERT_EQ(NFEV, evt_sf_drain(ctl, got, MAXGOT, NULL));
	for (i = 0; i < nt; i++) {
		int n = evt_sf_drain(fds[i], got, MAXGOT, NULL), j = 0;

		for (e = 0; e < NFEV; e++) {
			if (!(t[i].want & (1u << e)))
				continue;
			ASSERT_LT(j, n) TH_LOG("%s: missed %s", t[i].what, fevs[e].topic);
			EXPECT_STREQ(fevs[e].topic, got[j].topic)
				TH_LOG("%s", t[i].what);
			EXPECT_EQ((uint64_t)e + 1, got[j].seq);
			j++;
		}
		EXPECT_EQ(j, n) TH_LOG("%s: %d delivered, %d expected", t[i].what, n, j);
		close(fds[i]);
	}
	close(ctl);
}

/* ----------------------------------------------------------------- 5 --- */

TEST_F(filter, reject_all_delivers_nothing_and_counts_filtered)
{
	struct sock_filter rej[] = REJECT_ALL;
	struct sock_filter rej_a[] = {
		BPF_STMT(BPF_LD | BPF_IMM, 0), BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct evbus_bus_stats bs;
	struct evbus_stats st;
	int r1, r2, ctl, i;

	r1 = evt_sf_open();
	r2 = evt_sf_open();
	ctl = evt_sf_open();
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(1, evt_sub_bpf(r1, "r.x", rej, 1));
	ASSERT_EQ(1, evt_sub_bpf(r2, "r.*", rej_a, 2));
	ASSERT_LT(0, evt_sub(ctl, "r.x"));
	for (i = 0; i < 10; i++)
		ASSERT_EQ(i + 1, evt_pub(self->pub, "r.x", "payload"));

	EXPECT_EQ(0, evt_sf_drain(r1, NULL, 0, NULL));
	EXPECT_EQ(0, evt_sf_drain(r2, NULL, 0, NULL));
	EXPECT_EQ(10, evt_sf_drain(ctl, NULL, 0, NULL));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, evt_stats(i ? r2 : r1, &st));
		EXPECT_EQ(0, st.queued_events);
		EXPECT_EQ(0, st.delivered);
		EXPECT_EQ(0, st.lost);
		EXPECT_EQ(0, st.lag_records);
		EXPECT_EQ(1, st.subscriptions);
	}
	ASSERT_EQ(0, evt_sf_bus_stats(self->pub, &bs));
	EXPECT_EQ(20, bs.filtered);
	EXPECT_EQ(10, bs.deliveries);
	EXPECT_EQ(10, bs.seq);
	EXPECT_EQ(10, bs.published);
	EXPECT_EQ(0, bs.lost);
	EXPECT_EQ(10, bs.read_events);
	close(r1);
	close(r2);
	close(ctl);
}

/* ----------------------------------------------------------------- 6 --- */

TEST_F(filter, bpf_mod_and_division_by_a_zero_register)
{
	struct sock_filter mod3[] = {
		LD_ABS(56), BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), RET(1), RET(0),
	};
	/* 100 / type: division by zero for type 0. */
	struct sock_filter divx[] = {
		LD_ABS(56), BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_IMM, 100),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	/* 100 % type, then accept: only a zero divisor stops it. */
	struct sock_filter modx[] = {
		LD_ABS(56), BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_IMM, 100),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_X, 0),
		RET(1),
	};
	static const uint32_t types[] = { 0, 1, 3, 5, 200 };
	static const uint32_t want_mod3[] = { 0, 3 };
	static const uint32_t want_divx[] = { 1, 3, 5 };
	static const uint32_t want_modx[] = { 1, 3, 5, 200 };
	struct evt_got got[MAXGOT];
	int f[3], i;

	for (i = 0; i < 3; i++) {
		f[i] = evt_sf_open();
		ASSERT_LE(0, f[i]);
	}
	ASSERT_EQ(1, evt_sub_bpf(f[0], "d.x", mod3, 5));
	ASSERT_EQ(1, evt_sub_bpf(f[1], "d.x", divx, 5));
	ASSERT_EQ(1, evt_sub_bpf(f[2], "d.x", modx, 5));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(i + 1, evt_pub_full(self->pub, "d.x", NULL, 0, types[i], 0, 0));

	ASSERT_EQ(2, evt_sf_drain(f[0], got, MAXGOT, NULL));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(want_mod3[i], got[i].type);
	ASSERT_EQ(3, evt_sf_drain(f[1], got, MAXGOT, NULL));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(want_divx[i], got[i].type);
	ASSERT_EQ(4, evt_sf_drain(f[2], got, MAXGOT, NULL));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(want_modx[i], got[i].type);
	EXPECT_EQ(3 + 2 + 1, bus_filtered(_metadata, self->pub));
	for (i = 0; i < 3; i++)
		close(f[i]);
}

/* ----------------------------------------------------------------- 7 --- */

/* n instructions: n - 1 "ld #1" then "ret a" (valid for any n >= 1). */
static struct sock_filter *prog_long(unsigned int n)
{
	struct sock_filter *f = calloc(n, sizeof(*f));

	for (unsigned int i = 0; f && i + 1 < n; i++)
		f[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, 1);
	if (f)
		f[n - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	return f;
}

TEST_F(filter, hostile_programs_are_refused_and_change_nothing)
{
	static const struct {
		const char *what;
		struct sock_filter f[4];
		unsigned int len;
	} bad[] = {
		{ "load at the window's end", { LD_ABS(EVBUS_FILTER_WINDOW), RET(1) }, 2 },
		{ "load far out", { LD_ABS(0xfffffffc), RET(1) }, 2 },
		{ "load unaligned", { LD_ABS(2), RET(1) }, 2 },
		{ "load unaligned near the end", { LD_ABS(EVBUS_FILTER_WINDOW - 3), RET(1) }, 2 },
		{ "halfword load", { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET(1) }, 2 },
		{ "byte load", { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), RET(1) }, 2 },
		{ "indirect load", { BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), RET(1) }, 2 },
		{ "indirect byte load", { BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0), RET(1) }, 2 },
		{ "ldx msh", { BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), RET(1) }, 2 },
		{ "ancillary load (random)", { LD_ABS(SKF_AD_OFF + SKF_AD_RANDOM), RET(1) }, 2 },
		{ "ancillary load (cpu)", { LD_ABS(SKF_AD_OFF + SKF_AD_CPU), RET(1) }, 2 },
		{ "negative offset (link layer)", { LD_ABS(SKF_LL_OFF), RET(1) }, 2 },
		/* seccomp's rewritten form: a direct load, unchecked by us. */
		{ "ldx w abs (internal)", { BPF_STMT(BPF_LDX | BPF_W | BPF_ABS, 4096), RET(1) }, 2 },
		{ "division by constant 0", { BPF_STMT(BPF_LD | BPF_IMM, 1),
			BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(1) }, 3 },
		{ "modulo by constant 0", { BPF_STMT(BPF_LD | BPF_IMM, 1),
			BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 0), RET(1) }, 3 },
		{ "ja out of range", { BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0), RET(1) }, 2 },
		{ "ja to the end", { BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0), RET(1) }, 2 },
		{ "jt out of range", { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 7, 0), RET(1) }, 2 },
		{ "jf out of range", { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), RET(1) }, 2 },
		{ "no final ret", { LD_ABS(0) }, 1 },
		{ "ret, then a load", { RET(1), LD_ABS(0) }, 2 },
		{ "unknown opcode", { { 0xffff, 0, 0, 0 }, RET(1) }, 2 },
		{ "ret x (no such opcode)", { BPF_STMT(BPF_RET | BPF_X, 0) }, 1 },
		{ "scratch memory read before written", { BPF_STMT(BPF_LD | BPF_MEM, 0),
			BPF_STMT(BPF_RET | BPF_A, 0) }, 2 },
		{ "scratch memory out of range", { BPF_STMT(BPF_LD | BPF_IMM, 0),
			BPF_STMT(BPF_ST, BPF_MEMWORDS), RET(1) }, 3 },
		{ "ldx scratch out of range", { BPF_STMT(BPF_LDX | BPF_MEM, BPF_MEMWORDS),
			RET(1) }, 2 },
	};
	struct sock_filter ok_end[] = {
		LD_ABS(EVBUS_FILTER_WINDOW - 4), BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_filter one[] = ACCEPT_ALL, *f;
	struct evbus_subscribe s;
	char *page;
	int fd;
	unsigned int i;

	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", bad[i].f, bad[i].len))
			TH_LOG("%s", bad[i].what);
		ASSERT_UNCHANGED(fd, 0);
	}

	/* Lengths: 0, one past EVBUS_FILTER_MAX_INSNS, past BPF_MAXINSNS. */
	f = prog_long(BPF_MAXINSNS + 1);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", f, 0));
	ASSERT_UNCHANGED(fd, 0);
	free(f);
	f = prog_long(EVBUS_FILTER_MAX_INSNS + 1);
	EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", f, EVBUS_FILTER_MAX_INSNS + 1));
	ASSERT_UNCHANGED(fd, 0);
	free(f);
	f = prog_long(BPF_MAXINSNS + 1);
	EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", f, BPF_MAXINSNS + 1));
	EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", f, ~0u));
	ASSERT_UNCHANGED(fd, 0);
	free(f);

	/* Pointers: NULL is "no program" to the kernel's loader (EINVAL). */
	EXPECT_EQ(-EINVAL, evt_sub_bpf(fd, "h.x", NULL, 1));
	ASSERT_UNCHANGED(fd, 0);
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + 4096, 4096));
	EXPECT_EQ(-EFAULT, evt_sub_bpf(fd, "h.x", (void *)(page + 4096), 1));
	ASSERT_UNCHANGED(fd, 0);
	/* The second instruction unmapped. */
	memcpy(page + 4096 - 8, one, 8);
	EXPECT_EQ(-EFAULT, evt_sub_bpf(fd, "h.x", (void *)(page + 4096 - 8), 2));
	ASSERT_UNCHANGED(fd, 0);
	EXPECT_EQ(-EFAULT, evt_sub_bpf(fd, "h.x", (void *)1, 1));
	ASSERT_UNCHANGED(fd, 0);
	munmap(page, 4096);
	/* A bad program on a subscription the scope or pattern would refuse. */
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_FILTER;
	s.filter = (uintptr_t)bad[0].f;
	s.filter_len = bad[0].len;
	EXPECT_EQ(-EINVAL, evt_sub2(fd, "h..x", &s));
	ASSERT_UNCHANGED(fd, 0);

	/* The boundaries are accepted: the last word, 256 instructions. */
	EXPECT_EQ(1, evt_sub_bpf(fd, "h.x", ok_end, 2));
	f = prog_long(EVBUS_FILTER_MAX_INSNS);
	EXPECT_EQ(2, evt_sub_bpf(fd, "h.y", f, EVBUS_FILTER_MAX_INSNS));
	free(f);
	EXPECT_EQ(1, evt_pub(self->pub, "h.x", NULL));
	EXPECT_EQ(2, evt_pub(self->pub, "h.y", NULL));
	/* ok_end reads 0 (past the record): refused; the long one returns 1. */
	EXPECT_EQ(1, evt_sf_drain(fd, NULL, 0, NULL));
	EXPECT_EQ(1, bus_filtered(_metadata, self->pub));
	close(fd);
}

/* ----------------------------------------------------------------- 8 --- */

TEST_F(filter, subscribe2_is_size_versioned)
{
	struct sock_filter acc[] = ACCEPT_ALL;
	struct evbus_subscribe *s;
	char *buf, *page;
	int fd, wo, ret;

	fd = evt_sf_open();
	ASSERT_LE(0, fd);
	buf = aligned_alloc(4096, 8192);
	ASSERT_NE(NULL, buf);
	s = (void *)buf;

#define RESET(sz) do {							\
	memset(buf, 0, 8192);						\
	s->size = (sz);							\
	s->pattern = (uintptr_t)"v.x";					\
	s->pattern_len = 3;						\
} while (0)
#define EXPECT_SIZE(err, arg, what) do {				\
	ret = ioctl(fd, EVBUS_IOC_SUBSCRIBE2, arg);			\
	EXPECT_EQ(-1, ret) TH_LOG("%s", what);				\
	EXPECT_EQ(err, errno) TH_LOG("%s: %s", what, strerror(errno));	\
	ASSERT_UNCHANGED(fd, 0);					\
} while (0)

	RESET(0);
	EXPECT_SIZE(EINVAL, s, "size 0");
	RESET(8);
	EXPECT_SIZE(EINVAL, s, "size 8");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0 - 1);
	EXPECT_SIZE(EINVAL, s, "size VER0 - 1");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER1 + 8);
	buf[EVBUS_SUBSCRIBE_SIZE_VER1 + 4] = 1;
	EXPECT_SIZE(E2BIG, s, "nonzero byte in a tail of 8");
	RESET(4096);
	buf[4095] = 1;
	EXPECT_SIZE(E2BIG, s, "nonzero last byte of a page-sized struct");
	RESET(4097);
	EXPECT_SIZE(E2BIG, s, "larger than a page, zero tail");
	RESET(~0u);
	EXPECT_SIZE(E2BIG, s, "size ~0");
	/* Bad pointers. */
	EXPECT_SIZE(EFAULT, NULL, "NULL");
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + 4096, 4096));
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	memcpy(page + 4096 - 8, s, 8);
	EXPECT_SIZE(EFAULT, page + 4096 - 8, "struct runs off the page");
	RESET(64);
	memcpy(page + 4096 - EVBUS_SUBSCRIBE_SIZE_VER0, s, EVBUS_SUBSCRIBE_SIZE_VER0);
	EXPECT_SIZE(EFAULT, page + 4096 - EVBUS_SUBSCRIBE_SIZE_VER0,
		    "the unknown tail unmapped");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->pattern = 0;
	EXPECT_SIZE(EFAULT, s, "pattern NULL");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->pattern = (uintptr_t)(page + 4096 - 2);
	memcpy(page + 4096 - 2, "v.", 2);
	EXPECT_SIZE(EFAULT, s, "pattern runs off the page");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->pattern_len = 0;
	EXPECT_SIZE(EINVAL, s, "pattern_len 0");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->pattern_len = EVBUS_TOPIC_MAX + 1;
	EXPECT_SIZE(EINVAL, s, "pattern_len 256");
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->pattern = (uintptr_t)"v..x";
	s->pattern_len = 4;
	EXPECT_SIZE(EINVAL, s, "bad pattern");
	/* sub_id cannot be written back: nothing subscribed, no ring. */
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	s->flags = EVBUS_SUB_FILTER;
	s->filter = (uintptr_t)acc;
	s->filter_len = 1;
	memcpy(page, s, EVBUS_SUBSCRIBE_SIZE_VER0);
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));
	EXPECT_SIZE(EFAULT, page, "read-only struct");
	munmap(page, 4096);
	/* A write-only file cannot subscribe. */
	wo = open(EVBUS_DEV, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wo);
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	EXPECT_EQ(-1, ioctl(wo, EVBUS_IOC_SUBSCRIBE2, s));
	EXPECT_EQ(EBADF, errno);
	close(wo);

	/* Accepted: VER0 exactly, a larger struct with a zero tail. */
	RESET(EVBUS_SUBSCRIBE_SIZE_VER0);
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_SUBSCRIBE2, s));
	EXPECT_EQ(1, s->sub_id);
	RESET(64);
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_SUBSCRIBE2, s));
	EXPECT_EQ(2, s->sub_id);
	RESET(4096);
	s->flags = EVBUS_SUB_TYPE;
	s->type_min = 3;
	s->type_max = 3;
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_SUBSCRIBE2, s));
	EXPECT_EQ(3, s->sub_id);
	/* The tail is left as it was (the kernel does not write it). */
	EXPECT_EQ(0, buf[4095]);
#undef RESET
#undef EXPECT_SIZE
	/* Three subscriptions of one file match: delivered once. */
	EXPECT_EQ(1, evt_pub_full(self->pub, "v.x", NULL, 0, 3, 0, 0));
	EXPECT_EQ(2, evt_pub_full(self->pub, "v.x", NULL, 0, 4, 0, 0));
	EXPECT_EQ(2, evt_sf_drain(fd, NULL, 0, NULL));
	free(buf);
	close(fd);
}

/* ----------------------------------------------------------------- 9 --- */

TEST_F(filter, a_filter_only_refuses)
{
	struct sock_filter acc[] = ACCEPT_ALL, rej[] = REJECT_ALL, type7[4];
	struct evt_got got[MAXGOT];
	struct evbus_subscribe s;
	int a, b, c, d, e, sys, other;
	pid_t pid;

	prog_eq(type7, offsetof(struct evbus_event, type), 7);
	a = evt_sf_open();
	b = evt_sf_open();
	c = evt_sf_open();
	d = evt_sf_open();
	e = evt_sf_open();
	sys = evt_sf_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_LE(0, d);
	ASSERT_LE(0, e);
	ASSERT_LE(0, sys);

	/* Accept-all on a.b sees a.b only. */
	ASSERT_EQ(1, evt_sub_bpf(a, "a.b", acc, 1));
	/* Accept-all on ">" never sees $sys events. */
	ASSERT_EQ(1, evt_sub_bpf(b, ">", acc, 1));
	ASSERT_LT(0, evt_sub(sys, "$sys.file.open"));
	/* A refusing and an unfiltered subscription of one file: once. */
	ASSERT_EQ(1, evt_sub_bpf(c, "d.x", rej, 1));
	ASSERT_EQ(2, evt_sub(c, "d.*"));
	/* Two accepting ones: once. */
	ASSERT_EQ(1, evt_sub_bpf(d, "d.x", acc, 1));
	ASSERT_EQ(2, evt_sub_bpf(d, "d.>", acc, 1));
	/* Sender and program together: both must pass. */
	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_FROM_UID | EVBUS_SUB_FILTER;
	s.from_uid = 0;
	s.filter = (uintptr_t)type7;
	s.filter_len = 4;
	ASSERT_EQ(1, evt_sub2(e, "e.x", &s));

	EXPECT_EQ(1, evt_pub(self->pub, "a.c", NULL));
	EXPECT_EQ(2, evt_pub(self->pub, "x.y", NULL));
	EXPECT_EQ(3, evt_pub(self->pub, "a.b.c", NULL));
	EXPECT_EQ(4, evt_pub(self->pub, "a.b", NULL));
	EXPECT_EQ(0, bus_filtered(_metadata, self->pub));
	other = evt_sf_open();		/* $sys.file.open: seq 5 */
	ASSERT_LE(0, other);
	close(other);			/* $sys.file.close: nobody, no seq */
	EXPECT_EQ(6, evt_pub(self->pub, "d.x", NULL));
	EXPECT_EQ(1, bus_filtered(_metadata, self->pub));	/* c's d.x */
	EXPECT_EQ(7, evt_pub_full(self->pub, "e.x", NULL, 0, 7, 0, 0));
	EXPECT_EQ(8, evt_pub_full(self->pub, "e.x", NULL, 0, 8, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(2);
		_exit(evt_pub_full(self->pub, "e.x", NULL, 0, 7, 0, 0) == 9 ? 0 : 1);
	}
	ASSERT_EQ(0, wait_status(pid));
	EXPECT_EQ(3, bus_filtered(_metadata, self->pub));

	ASSERT_EQ(1, evt_sf_drain(a, got, MAXGOT, NULL));
	EXPECT_EQ(4, got[0].seq);
	/* b: every application event, no kernel one. */
	ASSERT_EQ(8, evt_sf_drain(b, got, MAXGOT, NULL));
	for (int i = 0; i < 8; i++)
		EXPECT_NE(0, strncmp(got[i].topic, "$sys", 4));
	EXPECT_EQ(4, got[3].seq);
	EXPECT_EQ(6, got[4].seq);
	ASSERT_EQ(1, evt_sf_drain(sys, got, MAXGOT, NULL));
	EXPECT_EQ(5, got[0].seq);
	EXPECT_STREQ("$sys.file.open", got[0].topic);
	ASSERT_EQ(1, evt_sf_drain(c, got, MAXGOT, NULL));
	EXPECT_EQ(6, got[0].seq);
	ASSERT_EQ(1, evt_sf_drain(d, got, MAXGOT, NULL));
	EXPECT_EQ(6, got[0].seq);
	ASSERT_EQ(1, evt_sf_drain(e, got, MAXGOT, NULL));
	EXPECT_EQ(7, got[0].seq);
	EXPECT_EQ(0, got[0].uid);
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	close(sys);
}

/* ---------------------------------------------------------------- 10 --- */

#define NBITS		16	/* filtered readers, one per type bit */
#define SINGLES		200
#define BATCH		64

/*
 * Regression for 982912c.  16 files, each with a filter on one bit of the
 * type, and a 17th file holding all 16 filtered subscriptions, all on g.x:
 * when more than 8 accept an event the publisher grows its targets.
 */
TEST_F_TIMEOUT(filter, many_filtered_subscribers_on_one_topic, 300)
{
	static const uint32_t special[] = {
		0, 0xffff, 0x00ff, 0x01ff, 0xff00, 0x8001, 0x7fff, 0xfffe,
	};
	const int nspecial = sizeof(special) / sizeof(special[0]);
	const int total = SINGLES + BATCH;
	struct sock_filter progs[NBITS][4];
	struct evbus_pub batch[BATCH];
	struct evbus_pub_batch b;
	struct evbus_bus_stats bs;
	struct evt_got *got;
	uint32_t types[SINGLES + BATCH], seed = 13;
	uint64_t want_deliveries = 0;
	int fds[NBITS], all, ctl, i, j, n;

	got = calloc(MAXGOT, sizeof(*got));
	ASSERT_NE(NULL, got);
	for (i = 0; i < NBITS; i++) {
		prog_bit(progs[i], i);
		fds[i] = evt_sf_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(1, evt_sub_bpf(fds[i], "g.x", progs[i], 4));
	}
	all = evt_sf_open();
	ASSERT_LE(0, all);
	for (i = 0; i < NBITS; i++)
		ASSERT_EQ(i + 1, evt_sub_bpf(all, i & 1 ? "g.*" : "g.x", progs[i], 4));
	ctl = evt_sf_open();
	ASSERT_LE(0, ctl);
	ASSERT_LT(0, evt_sub(ctl, "g.x"));

	for (i = 0; i < total; i++)
		types[i] = i < nspecial ? special[i] : lcg(&seed) & 0xffff;
	for (i = 0; i < SINGLES; i++)
		ASSERT_EQ(i + 1, evt_pub_full(self->pub, "g.x", &i, 4, types[i], 0, 0));
	memset(batch, 0, sizeof(batch));
	for (i = 0; i < BATCH; i++) {
		batch[i].topic = (uintptr_t)"g.x";
		batch[i].topic_len = 3;
		batch[i].type = types[SINGLES + i];
	}
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)batch;
	b.count = BATCH;
	b.flags = EVBUS_BATCH_SEQ;
	ASSERT_EQ(BATCH, ioctl(self->pub, EVBUS_IOC_PUBLISH_BATCH, &b));
	for (i = 0; i < BATCH; i++)
		ASSERT_EQ((uint64_t)SINGLES + i + 1, batch[i].seq);

	for (i = 0; i < NBITS; i++) {
		n = evt_sf_drain(fds[i], got, MAXGOT, NULL);
		j = 0;
		for (int e = 0; e < total; e++) {
			if (!(types[e] & (1u << i)))
				continue;
			ASSERT_LT(j, n) TH_LOG("bit %d missed seq %d", i, e + 1);
			ASSERT_EQ((uint64_t)e + 1, got[j].seq) TH_LOG("bit %d", i);
			EXPECT_EQ(types[e], got[j].type);
			j++;
		}
		EXPECT_EQ(j, n) TH_LOG("bit %d: %d delivered, %d expected", i, n, j);
		want_deliveries += j;
	}
	n = evt_sf_drain(all, got, MAXGOT, NULL);
	j = 0;
	for (int e = 0; e < total; e++) {
		if (!types[e])
			continue;
		ASSERT_LT(j, n);
		ASSERT_EQ((uint64_t)e + 1, got[j].seq) TH_LOG("17th file");
		j++;
	}
	EXPECT_EQ(j, n);
	want_deliveries += j;
	EXPECT_EQ(total, evt_sf_drain(ctl, NULL, 0, NULL));
	want_deliveries += total;

	ASSERT_EQ(0, evt_sf_bus_stats(self->pub, &bs));
	EXPECT_EQ(total, bs.seq);
	EXPECT_EQ(want_deliveries, bs.deliveries);
	EXPECT_EQ(0, bs.lost);
	for (i = 0; i < NBITS; i++)
		close(fds[i]);
	close(all);
	close(ctl);
	free(got);
}

/* ---------------------------------------------------------------- 11 --- */

/*
 * The filtered counter, event by event, when the publisher's targets grow:
 * each refusal counts once, however many times the publisher walks the
 * index to collect an event's targets (once more for the BPF window, once
 * more for a larger target array when more than 8 accept).
 */
TEST_F(filter, filtered_counts_each_refusal_once)
{
	static const uint32_t types[] = {
		0x00ff, 0x01ff, 0x7fff, 0xffff, 0, 0x0fff, 0x0001,
	};
	struct sock_filter progs[NBITS][4];
	int fds[NBITS], i;
	uint64_t before, after;

	for (i = 0; i < NBITS; i++) {
		prog_bit(progs[i], i);
		fds[i] = evt_sf_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(1, evt_sub_bpf(fds[i], "c.x", progs[i], 4));
	}
	for (i = 0; i < (int)(sizeof(types) / sizeof(types[0])); i++) {
		before = bus_filtered(_metadata, self->pub);
		ASSERT_EQ(i + 1, evt_pub_full(self->pub, "c.x", NULL, 0, types[i], 0, 0));
		after = bus_filtered(_metadata, self->pub);
		EXPECT_EQ((uint64_t)(NBITS - __builtin_popcount(types[i])),
			  after - before)
			TH_LOG("type %#x: %d of %d filters accept%s", types[i],
			       __builtin_popcount(types[i]), NBITS,
			       __builtin_popcount(types[i]) > 8 ?
			       " (more than 8: the targets grew, and the refusals"
			       " of the walk before were counted too?)" : "");
	}
	for (i = 0; i < NBITS; i++)
		close(fds[i]);
}

/* ---------------------------------------------------------------- 12 --- */

#define LARGE	30000	/* two such events never share a staging chunk */

/* A batch of events, each with its type and pl_len bytes of payload. */
static long pub_types(int fd, const char *topic, const uint32_t *types,
		      uint32_t n, uint32_t pl_len, struct evbus_pub_batch *b)
{
	struct evbus_pub ev[16];
	static char pl[LARGE];
	long ret;

	memset(ev, 0, sizeof(ev));
	for (uint32_t i = 0; i < n; i++) {
		ev[i].topic = (uintptr_t)topic;
		ev[i].topic_len = strlen(topic);
		ev[i].type = types[i];
		ev[i].payload = (uintptr_t)pl;
		ev[i].payload_len = pl_len;
	}
	memset(b, 0, sizeof(*b));
	b->events = (uintptr_t)ev;
	b->count = n;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, b);
	return ret < 0 ? -errno : ret;
}

TEST_F(filter, batch_filters_each_event)
{
	struct sock_filter two_five[] = {
		LD_ABS(56),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 5, 0, 1),
		RET(1), RET(0),
	};
	static const uint32_t t16[] = { 1, 2, 3, 4, 5, 6 };
	static const uint32_t t12[] = { 1, 2 }, t21[] = { 2, 1 };
	struct sock_filter one[4];
	struct evt_got got[MAXGOT];
	struct evbus_pub_batch b;
	int f, g;

	prog_eq(one, offsetof(struct evbus_event, type), 1);
	f = evt_sf_open();
	g = evt_sf_open();
	ASSERT_LE(0, f);
	ASSERT_LE(0, g);
	ASSERT_EQ(1, evt_sub_bpf(f, "b.x", two_five, 5));
	ASSERT_EQ(1, evt_sub_bpf(g, "l.x", one, 4));

	/* Small events: one staging chunk. */
	ASSERT_EQ(6, pub_types(self->pub, "b.x", t16, 6, 8, &b));
	ASSERT_EQ(2, evt_sf_drain(f, got, MAXGOT, NULL));
	EXPECT_EQ(2, got[0].type);
	EXPECT_EQ(2, got[0].seq);
	EXPECT_EQ(5, got[1].type);
	EXPECT_EQ(5, got[1].seq);
	EXPECT_EQ(4, bus_filtered(_metadata, self->pub));

	/*
	 * Large events: staged one per chunk, in the same slot.  Each must
	 * be filtered on its own record, not on the one staged before it.
	 */
	ASSERT_EQ(2, pub_types(self->pub, "l.x", t12, 2, LARGE, &b));
	ASSERT_EQ(2, pub_types(self->pub, "l.x", t21, 2, LARGE, &b));
	ASSERT_EQ(2, evt_sf_drain(g, got, MAXGOT, NULL))
		TH_LOG("types 1, 2 then 2, 1 with filter type == 1");
	EXPECT_EQ(1, got[0].type);
	EXPECT_EQ(7, got[0].seq);
	EXPECT_EQ(1, got[1].type)
		TH_LOG("seq %llu of type %u went through a type == 1 filter: "
		       "was it run on the window of the event staged before it, "
		       "in the same staging slot?", (unsigned long long)got[1].seq,
		       got[1].type);
	EXPECT_EQ(10, got[1].seq);
	EXPECT_EQ(4 + 2, bus_filtered(_metadata, self->pub));
	close(f);
	close(g);
}

/* ---------------------------------------------------------------- 13 --- */

#define CHURN_ROUNDS	30
#define CHURN_FILES	16
#define CHURN_ACCEPT	10	/* files 0..9 accept all, the rest refuse */

/* Publishes g.x (singles and batches of 16) until stop is readable. */
static pid_t churn_publisher(int stop_r, int res_w)
{
	struct evbus_pub ev[16];
	struct evbus_pub_batch b;
	struct pollfd pfd = { .fd = stop_r, .events = POLLIN };
	long count = 0, err = 0;
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	alarm(600);
	fd = evt_sf_open();
	if (fd < 0)
		_exit(2);
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 16; i++) {
		ev[i].topic = (uintptr_t)"g.x";
		ev[i].topic_len = 3;
		ev[i].type = i;
	}
	for (int i = 0; !err && i < 1000000; i++) {
		if (i % 8 == 7) {
			memset(&b, 0, sizeof(b));
			b.events = (uintptr_t)ev;
			b.count = 16;
			if (ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b) != 16)
				err = errno ? errno : EIO;
			else
				count += 16;
		} else if (evt_pub_full(fd, "g.x", NULL, 0, i, 0, 0) < 0) {
			err = errno;
		} else {
			count++;
		}
		if (i == 0 && write(res_w, "s", 1) != 1)
			_exit(3);
		if (poll(&pfd, 1, 0))
			break;
	}
	if (write(res_w, &count, sizeof(count)) != sizeof(count) ||
	    write(res_w, &err, sizeof(err)) != sizeof(err))
		_exit(3);
	_exit(0);
}

TEST_F_TIMEOUT(filter, filtered_subscriptions_churn_while_another_publishes, 600)
{
	struct sock_filter acc[] = ACCEPT_ALL, rej[] = REJECT_ALL, bit[4];
	struct evt_got *got;
	int stop[2], res[2], fds[CHURN_FILES], ids[CHURN_FILES][4];
	long count = 0, err = -1, seen = 0;
	pid_t pid;
	char c;

	got = calloc(MAXGOT, sizeof(*got));
	ASSERT_NE(NULL, got);
	prog_bit(bit, 0);
	ASSERT_EQ(0, pipe2(stop, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	pid = churn_publisher(stop[0], res[1]);
	ASSERT_LT(0, pid);
	close(stop[0]);
	close(res[1]);
	ASSERT_EQ(1, read(res[0], &c, 1));	/* it is publishing */

	for (int r = 0; r < CHURN_ROUNDS; r++) {
		for (int i = 0; i < CHURN_FILES; i++) {
			const struct sock_filter *p = i < CHURN_ACCEPT ? acc : rej;

			fds[i] = evt_sf_open();
			ASSERT_LE(0, fds[i]);
			/* Two on g.x, one on g.*, one with a bit filter. */
			ids[i][0] = evt_sub_bpf(fds[i], "g.x", p, 1);
			ids[i][1] = evt_sub_bpf(fds[i], "g.*", p, 1);
			ids[i][2] = evt_sub_bpf(fds[i], "g.x", p, 1);
			ids[i][3] = evt_sub_bpf(fds[i], "g.>",
						i < CHURN_ACCEPT ? bit : rej,
						i < CHURN_ACCEPT ? 4 : 1);
			for (int k = 0; k < 4; k++)
				ASSERT_EQ(k + 1, ids[i][k]);
		}
		usleep(1000);
		/* Half of them go while events flow, then the files. */
		for (int i = 0; i < CHURN_FILES; i++) {
			ASSERT_EQ(0, evt_unsub(fds[i], ids[i][(r + i) % 4]));
			ASSERT_EQ(0, evt_unsub(fds[i], ids[i][(r + i + 2) % 4]));
		}
		for (int i = 0; i < CHURN_FILES; i++) {
			int other, n = evt_sf_drain(fds[i], got, MAXGOT, &other);

			ASSERT_LE(0, n);
			if (i >= CHURN_ACCEPT) {
				ASSERT_EQ(0, n) TH_LOG("round %d: a refusing file got events", r);
				ASSERT_EQ(0, other);
			}
			for (int k = 0; k < n && k < MAXGOT; k++) {
				ASSERT_STREQ("g.x", got[k].topic);
				if (k)
					ASSERT_LT(got[k - 1].seq, got[k].seq);
			}
			seen += n;
			close(fds[i]);
		}
	}
	close(stop[1]);
	ASSERT_EQ(sizeof(count), read(res[0], &count, sizeof(count)));
	ASSERT_EQ(sizeof(err), read(res[0], &err, sizeof(err)));
	EXPECT_EQ(0, err) TH_LOG("publisher: %s", strerror(err));
	EXPECT_EQ(0, wait_status(pid));
	close(res[0]);
	EXPECT_LT(0, count);
	EXPECT_LT(0, seen);
	ksft_print_msg("churn: %ld events published, %ld delivered to accepting files\n",
		       count, seen);
	fflush(stdout);		/* the harness's child ends with _exit() */
	free(got);
}

TEST_HARNESS_MAIN
