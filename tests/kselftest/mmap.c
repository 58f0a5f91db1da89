// SPDX-License-Identifier: GPL-2.0
/*
 * mmap()ed rings (issue #14): what may be mapped and how, that a mapped
 * ring shows exactly what read() returns (LAGGED records included, under
 * both policies), that a reader racing an overwriting publisher never
 * accepts a torn record and loses nothing silently, that garbage in the
 * control page hurts only its writer, and fork/close/exit with live
 * mappings.
 */
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <grp.h>

#include "kselftest_harness.h"
#include "evbus_test.h"
#include "evbus_mmap.h"

#define HOSTILE_UID	65534

static int sub_ring(const char *t, uint32_t size, uint32_t policy)
{
	int fd = evt_open_nb();

	if (fd < 0 || evt_sub(fd, t) <= 0 || evt_set_ring(fd, size, policy))
		return -1;
	return fd;
}

static void *map_at(int fd, size_t len, int prot, int flags, long pgoff)
{
	return mmap(NULL, len, prot, flags, fd, pgoff * sysconf(_SC_PAGESIZE));
}

/* errno of a mapping that must fail, or 0 if it did not. */
static int map_err(int fd, size_t len, int prot, int flags, long pgoff)
{
	void *p = map_at(fd, len, prot, flags, pgoff);

	if (p != MAP_FAILED) {
		munmap(p, len);
		return 0;
	}
	return errno;
}

static int64_t pub_n(int fd, const char *t, size_t len, uint32_t tag)
{
	char buf[4096];

	memset(buf, (int)(tag & 0xff), sizeof(buf));
	memcpy(buf, &tag, sizeof(tag));
	return evt_pub_full(fd, t, buf, len, tag, 0, 0);
}

/* Did fd's reader get all n events it matched, and lose none?  0 if so. */
static int got_every_event(int fd, char *buf, size_t cap, int n)
{
	const struct evbus_rec_hdr *h;
	struct evbus_stats st;
	ssize_t len, left;
	int got = 0;

	len = evt_drain(fd, buf, cap);
	if (len <= 0)
		return -1;
	evt_for_each_rec(h, buf, len, left)
		got += h->kind == EVBUS_REC_EVENT;
	if (evt_stats(fd, &st) || st.lost)
		return -2;
	return got == n ? 0 : got - n;
}

TEST(refused_mappings)
{
	const long pg = sysconf(_SC_PAGESIZE);
	int fd = evt_open_nb();
	void *p;

	ASSERT_LE(0, fd);
	/* No ring yet. */
	EXPECT_EQ(ENODATA, map_err(fd, pg, PROT_READ, MAP_SHARED, 0));
	ASSERT_LT(0, evt_sub(fd, "mm.refused"));
	ASSERT_EQ(0, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_OLDEST));
	/* Writable: only the control page, alone. */
	EXPECT_EQ(EPERM, map_err(fd, pg, PROT_READ | PROT_WRITE, MAP_SHARED, 1));
	EXPECT_EQ(EPERM, map_err(fd, pg, PROT_READ | PROT_WRITE, MAP_SHARED, 2));
	EXPECT_EQ(EPERM, map_err(fd, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	/* Executable: never. */
	EXPECT_EQ(EPERM, map_err(fd, pg, PROT_READ | PROT_EXEC, MAP_SHARED, 0));
	EXPECT_EQ(EPERM, map_err(fd, pg, PROT_READ | PROT_EXEC, MAP_SHARED, 2));
	/* Private, and past the ring. */
	EXPECT_EQ(EINVAL, map_err(fd, pg, PROT_READ, MAP_PRIVATE, 1));
	EXPECT_EQ(EINVAL, map_err(fd, pg, PROT_READ, MAP_SHARED, 2 + 2 * 16384 / pg));
	EXPECT_EQ(EINVAL, map_err(fd, 2 * 16384 + pg, PROT_READ, MAP_SHARED, 2));
	/* The whole area at once, read-only, is fine. */
	p = map_at(fd, 2 * pg + 2 * 16384, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* A read-only mapping cannot be made writable or executable later. */
	EXPECT_NE(0, mprotect((char *)p + 2 * pg, pg, PROT_READ | PROT_WRITE));
	EXPECT_NE(0, mprotect(p, pg, PROT_READ | PROT_EXEC));
	munmap(p, 2 * pg + 2 * 16384);
	/* The control page writable, but not executable later. */
	p = map_at(fd, pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_NE(0, mprotect(p, pg, PROT_READ | PROT_WRITE | PROT_EXEC));
	munmap(p, pg);
	close(fd);
}

TEST(header_and_busy_while_mapped)
{
	struct evbus_ring_cfg c;
	struct evt_map m;
	int fd = sub_ring("mm.busy", 8192, EVBUS_POLICY_DROP_NEWEST);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_map(&m, fd));
	EXPECT_EQ(8192, m.hdr->size);
	EXPECT_EQ(0, m.hdr->flags & EVBUS_MMAP_OVERWRITE);
	EXPECT_EQ(m.ctl->consumer_pos, m.hdr->producer_pos);
	/* Size and policy stay while mapped; the wake-up mode may change. */
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_NEWEST));
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 0, EVBUS_POLICY_DROP_OLDEST));
	/*
	 * The same size, a new policy: EBUSY, and no ring bytes given back
	 * that were never taken (the fuzzer found that one: the user's count
	 * went below zero when the file closed).
	 */
	EXPECT_EQ(-EBUSY, evt_set_ring(fd, 8192, EVBUS_POLICY_DROP_OLDEST));
	memset(&c, 0, sizeof(c));
	c.policy = EVBUS_POLICY_DROP_NEWEST;
	c.flags = EVBUS_RING_IMMEDIATE;
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_SET_RING, &c));
	/* A fork's copy of the mapping counts too. */
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_NEWEST) == -EBUSY ? 0 : 1);
	EXPECT_EQ(0, evt_wait(pid));
	evt_unmap(&m);
	/* Unmapped: both work again, and the header follows. */
	EXPECT_EQ(0, evt_set_ring(fd, 16384, EVBUS_POLICY_DROP_OLDEST));
	ASSERT_EQ(0, evt_map(&m, fd));
	EXPECT_EQ(16384, m.hdr->size);
	EXPECT_EQ(EVBUS_MMAP_OVERWRITE, m.hdr->flags & EVBUS_MMAP_OVERWRITE);
	evt_unmap(&m);
	close(fd);
}

/* Records through the mapping are byte for byte what read() returns. */
static void same_as_read(struct __test_metadata *_metadata, uint32_t policy)
{
	static char a[1 << 16], b[1 << 16];
	const char *t = policy ? "mm.same.new" : "mm.same.old";
	int fd = sub_ring(t, 4096, policy), twin = sub_ring(t, 4096, policy);
	ssize_t na = 0, nb = 0, n;
	struct evt_map m;
	struct evbus_stats st;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, twin);
	ASSERT_EQ(0, evt_map(&m, fd));
	/*
	 * Several rounds of odd sizes, each overflowing the ring: records
	 * cross its end, and LAGGED records appear under both policies.
	 */
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 40; i++)
			ASSERT_LT(0, pub_n(fd, t, 8 + (i * 37 + round * 11) % 300,
					   round * 100 + i));
		/* poll() writes a loss of an emptied ring into it (drop-newest). */
		n = evt_map_drain(&m, a + na, sizeof(a) - na);
		ASSERT_LE(0, n);
		na += n;
		n = evt_drain(twin, b + nb, sizeof(b) - nb);
		ASSERT_LE(0, n);
		nb += n;
		ASSERT_EQ(nb, na);
	}
	EXPECT_EQ(0, memcmp(a, b, na));
	/* The kernel counted the mapped reader's records as read. */
	ASSERT_EQ(0, evt_stats(fd, &st));
	EXPECT_EQ(0, st.queued_events);
	EXPECT_EQ(240, st.delivered + st.lost);
	EXPECT_LT(0, st.lost);
	EXPECT_LT(0, st.lag_records);
	evt_unmap(&m);
	close(fd);
	close(twin);
}

TEST(same_records_as_read_drop_oldest)
{
	same_as_read(_metadata, EVBUS_POLICY_DROP_OLDEST);
}

TEST(same_records_as_read_drop_newest)
{
	same_as_read(_metadata, EVBUS_POLICY_DROP_NEWEST);
}

/* The losses through the mapping, exactly, under both policies. */
static void exact_lag(struct __test_metadata *_metadata, uint32_t policy)
{
	const char *t = policy ? "mm.lag.new" : "mm.lag.old";
	int fd = sub_ring(t, 4096, policy);
	static char buf[1 << 16];
	uint64_t lost = 0, events = 0, last_seq = 0, prev = 0;
	int64_t first = 0, seq = 0;
	struct evbus_rec_hdr *h;
	struct evt_map m;
	ssize_t n, left;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_map(&m, fd));
	for (int i = 0; i < 100; i++) {
		seq = pub_n(fd, t, 200, i);
		ASSERT_LT(0, seq);
		if (!first)
			first = seq;
	}
	n = evt_map_drain(&m, buf, sizeof(buf));
	ASSERT_LT(0, n);
	evt_for_each_rec(h, buf, n, left) {
		if (h->kind == EVBUS_REC_LAGGED) {
			const struct evbus_lagged *lg = (const void *)h;

			EXPECT_LT(prev, lg->first_seq);
			EXPECT_LE(lg->first_seq, lg->last_seq);
			lost += lg->lost;
			prev = lg->last_seq;
		} else if (h->kind == EVBUS_REC_EVENT) {
			const struct evbus_event *ev = (const void *)h;

			EXPECT_LT(prev, ev->seq);
			prev = last_seq = ev->seq;
			events++;
		}
	}
	EXPECT_EQ(100, events + lost);
	if (policy == EVBUS_POLICY_DROP_OLDEST) {
		/* The newest survive; one LAGGED record at the head. */
		EXPECT_EQ((uint64_t)seq, last_seq);
		EXPECT_EQ(EVBUS_REC_LAGGED, ((struct evbus_rec_hdr *)buf)->kind);
		EXPECT_EQ((uint64_t)first,
			  ((struct evbus_lagged *)buf)->first_seq);
	} else {
		/* The oldest survive; the LAGGED record comes last. */
		EXPECT_EQ(EVBUS_REC_EVENT, ((struct evbus_rec_hdr *)buf)->kind);
		EXPECT_EQ((uint64_t)first, ((struct evbus_event *)buf)->seq);
		EXPECT_EQ((uint64_t)seq, prev);
	}
	EXPECT_EQ(0, evt_map_take(&m, buf, sizeof(buf)));
	evt_unmap(&m);
	close(fd);
}

TEST(exact_lag_drop_oldest)
{
	exact_lag(_metadata, EVBUS_POLICY_DROP_OLDEST);
}

TEST(exact_lag_drop_newest)
{
	exact_lag(_metadata, EVBUS_POLICY_DROP_NEWEST);
}

/*
 * Garbage in the control page: the kernel stays within the ring, its
 * counters stay sane, read() still works, and another reader of the same
 * events gets every one of them.
 */
TEST(garbage_consumer_pos)
{
	static const uint64_t junk[] = {
		0, 1, 7, 8, 4095, 1ULL << 40, ~0ULL, EVBUS_MMAP_BUSY,
		EVBUS_MMAP_BUSY | 8, 0x8000000000000007ULL,
	};
	const char *t = "mm.garbage";
	int fd = sub_ring(t, 4096, EVBUS_POLICY_DROP_OLDEST);
	int other = sub_ring(t, 1 << 20, EVBUS_POLICY_DROP_NEWEST);
	static char buf[1 << 20];
	struct evbus_stats st;
	struct evt_map m;
	int published = 0;
	const struct evbus_rec_hdr *recs[1];
	ssize_t n;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, evt_map(&m, fd));
	for (unsigned int j = 0; j < 3 * sizeof(junk) / sizeof(junk[0]); j++) {
		uint64_t p = m.hdr->producer_pos;
		uint64_t v = j < sizeof(junk) / sizeof(junk[0]) ? junk[j] :
			     p - (j % 5) * 3 - 1;	/* inside records */

		__atomic_store_n(&m.ctl->consumer_pos, v, __ATOMIC_RELEASE);
		for (int i = 0; i < 7; i++, published++)
			ASSERT_LT(0, pub_n(fd, t, 40 + 24 * i, j));
		ASSERT_EQ(0, evt_stats(fd, &st));
		EXPECT_GE(4096 / 88 + 1, st.queued_events);
		EXPECT_GE(4096, st.queued_bytes);
		evt_map_poll(&m, 0);
		/* read() after garbage returns whole, well-formed records. */
		if (j % 2) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0) {
				EXPECT_EQ(EAGAIN, errno);
			} else {
				EXPECT_LT(0, evt_records(buf, n, recs, 1));
			}
		}
	}
	/* The other reader is untouched: every event, no loss. */
	EXPECT_EQ(0, got_every_event(other, buf, sizeof(buf), published));
	/* And the garbage writer can resynchronise and read on. */
	__atomic_store_n(&m.ctl->consumer_pos, m.hdr->producer_pos, __ATOMIC_RELEASE);
	evt_map_poll(&m, 0);
	ASSERT_LT(0, pub_n(fd, t, 16, 99));
	n = evt_map_take(&m, buf, sizeof(buf));
	EXPECT_LT(0, n);
	evt_unmap(&m);
	close(fd);
	close(other);
}

/* A payload that proves itself: the index, then bytes derived from it. */
static void fill_payload(uint32_t *w, int words, uint32_t i)
{
	w[0] = i;
	for (int k = 1; k < words; k++)
		w[k] = i * 2654435761u + k;
}

static int payload_ok(const uint32_t *w, int words)
{
	for (int k = 1; k < words; k++)
		if (w[k] != w[0] * 2654435761u + k)
			return 0;
	return 1;
}

/*
 * A reader that takes records through the mapping while another process
 * publishes flat out into its small drop-oldest ring: the kernel keeps
 * taking records back under its feet.  Every record it accepts must be
 * whole (its payload checks), seqs must increase, and what it accepted plus
 * what LAGGED records report must be exactly what was published.
 */
TEST(racing_overwrite_never_torn)
{
	const char *t = "mm.race";
	const int total = 60000 / (getenv("EVBUS_SLOW") ? atoi(getenv("EVBUS_SLOW")) : 1);
	int fd = sub_ring(t, 8192, EVBUS_POLICY_DROP_OLDEST);
	volatile int *done = evt_shared(sizeof(int));
	uint64_t accepted = 0, lost = 0, prev = 0, bad = 0;
	static char buf[1 << 16];
	struct evt_map m;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, done);
	ASSERT_EQ(0, evt_map(&m, fd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int pfd = evt_open();
		uint32_t w[64];

		for (int i = 0; i < total; i++) {
			int words = 4 + i % 60;

			fill_payload(w, words, i);
			if (evt_pub_full(pfd, t, w, words * 4, 0, 0, 0) <= 0)
				_exit(1);
		}
		*done = 1;
		_exit(0);
	}
	for (;;) {
		int fin = __atomic_load_n(done, __ATOMIC_ACQUIRE);
		const struct evbus_rec_hdr *h;
		ssize_t n, left;

		n = evt_map_take(&m, buf, sizeof(buf));
		ASSERT_LE(0, n);
		if (!n) {
			if (fin)
				break;
			evt_map_poll(&m, 1);
			continue;
		}
		evt_for_each_rec(h, buf, n, left) {
			if (h->kind == EVBUS_REC_EVENT) {
				const struct evbus_event *ev = (const void *)h;
				const uint32_t *w = EVBUS_EVENT_PAYLOAD(ev);

				if (ev->seq <= prev || ev->payload_len < 16 ||
				    ev->payload_len % 4 ||
				    !payload_ok(w, ev->payload_len / 4))
					bad++;
				prev = ev->seq;
				accepted++;
			} else if (h->kind == EVBUS_REC_LAGGED) {
				const struct evbus_lagged *lg = (const void *)h;

				if (lg->first_seq <= prev || lg->last_seq < lg->first_seq)
					bad++;
				prev = lg->last_seq;
				lost += lg->lost;
			}
		}
	}
	EXPECT_EQ(0, evt_wait(pid));
	/* A loss after the last read is written in by poll(). */
	evt_map_poll(&m, 0);
	for (ssize_t n; (n = evt_map_take(&m, buf, sizeof(buf))) > 0;) {
		const struct evbus_rec_hdr *h;
		ssize_t left;

		evt_for_each_rec(h, buf, n, left) {
			if (h->kind == EVBUS_REC_LAGGED)
				lost += ((const struct evbus_lagged *)h)->lost;
			else if (h->kind == EVBUS_REC_EVENT)
				accepted++;
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ((uint64_t)total, accepted + lost);
	TH_LOG("accepted %llu, lost %llu, taken back under the reader %llu times",
	       (unsigned long long)accepted, (unsigned long long)lost,
	       (unsigned long long)m.cas_failures);
	evt_unmap(&m);
	close(fd);
}

/* Open files on this test's own bus (a new IPC namespace). */
static uint64_t open_files(int fd)
{
	struct evbus_bus_stats bs;

	return evt_bus_stats(fd, &bs) ? ~0ULL : bs.open_files;
}

/*
 * fork with a live mapping, close() of the descriptor under it, and exit
 * without munmap: the mapping keeps the file open, works after close, and
 * the file goes when the last mapping does.
 */
TEST(fork_close_and_exit_with_live_mapping)
{
	const char *t = "mm.life";
	static char buf[1 << 16];
	struct evt_map m;
	int probe, fd, pfd;
	pid_t pid;
	ssize_t n;

	ASSERT_EQ(0, evt_new_ipc_ns());
	probe = evt_open();
	pfd = evt_open();
	ASSERT_LE(0, probe);
	ASSERT_LE(0, pfd);
	fd = sub_ring(t, 8192, EVBUS_POLICY_DROP_NEWEST);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, open_files(probe));
	ASSERT_EQ(0, evt_map(&m, fd));
	ASSERT_LT(0, pub_n(pfd, t, 32, 1));

	/* The child reads through the inherited mapping, then exits mapped. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		n = evt_map_take(&m, buf, sizeof(buf));
		_exit(n > 0 && ((struct evbus_rec_hdr *)buf)->kind == EVBUS_REC_EVENT ? 0 : 1);
	}
	ASSERT_EQ(0, evt_wait(pid));
	/* The child's take moved the shared position: nothing left. */
	EXPECT_EQ(0, evt_map_take(&m, buf, sizeof(buf)));

	/* close() under the mapping: the ring still fills and reads. */
	close(fd);
	m.fd = -1;
	EXPECT_EQ(3, open_files(probe));
	ASSERT_LT(0, pub_n(pfd, t, 32, 2));
	n = evt_map_take(&m, buf, sizeof(buf));
	EXPECT_LT(0, n);
	evt_unmap(&m);
	/* The last mapping went: so did the file. */
	for (int i = 0; i < 100 && open_files(probe) != 2; i++)
		usleep(10000);
	EXPECT_EQ(2, open_files(probe));

	/* A process that exits with its only reference a mapping. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct evt_map cm;
		int cfd = sub_ring(t, 8192, EVBUS_POLICY_DROP_OLDEST);

		if (cfd < 0 || evt_map(&cm, cfd))
			_exit(1);
		close(cfd);
		_exit(0);
	}
	EXPECT_EQ(0, evt_wait(pid));
	for (int i = 0; i < 100 && open_files(probe) != 2; i++)
		usleep(10000);
	EXPECT_EQ(2, open_files(probe));
	close(pfd);
	close(probe);
}

/*
 * A mapped reader that takes its events and closes at once: what it took
 * counts as read (read_events), not as discarded, although the kernel
 * learns how far it got only when the file is released.
 */
TEST(taken_then_closed_counts_as_read)
{
	const char *t = "mm.count";
	static char buf[1 << 16];
	long long read0, disc0;
	size_t got = 0;
	struct evt_map m;
	int probe, fd, pfd;
	ssize_t n;

	ASSERT_EQ(0, evt_new_ipc_ns());
	probe = evt_open();
	pfd = evt_open();
	ASSERT_LE(0, probe);
	ASSERT_LE(0, pfd);
	fd = sub_ring(t, 8192, EVBUS_POLICY_DROP_OLDEST);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_map(&m, fd));
	read0 = evt_sysfs_stat("read_events");
	disc0 = evt_sysfs_stat("discarded");
	ASSERT_LE(0, read0);
	ASSERT_LE(0, disc0);
	for (uint32_t i = 1; i <= 5; i++)
		ASSERT_LT(0, pub_n(pfd, t, 32, i));
	/* Five taken without a poll(), one published after: read 5, discarded 1. */
	while ((n = evt_map_take(&m, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	ASSERT_EQ(0, n);
	ASSERT_LT(0, got);
	ASSERT_LT(0, pub_n(pfd, t, 32, 6));
	evt_unmap(&m);
	close(fd);
	for (int i = 0; i < 100 && open_files(probe) != 2; i++)
		usleep(10000);
	ASSERT_EQ(2, open_files(probe));
	EXPECT_EQ(5, evt_sysfs_stat("read_events") - read0);
	EXPECT_EQ(1, evt_sysfs_stat("discarded") - disc0);
	close(pfd);
	close(probe);
}

/*
 * A hostile unprivileged user maps its own ring and scribbles on its
 * control page while root's reader on the same bus takes every event: the
 * victim loses nothing, and the attacker gets no writable view of data.
 */
TEST(hostile_uid_scribbles_its_control_page)
{
	const struct evt_ids guest = { HOSTILE_UID, HOSTILE_UID, 0, { 0 } };
	const char *t = "mm.hostile";
	const int total = 20000 / (getenv("EVBUS_SLOW") ? atoi(getenv("EVBUS_SLOW")) : 1);
	int victim = sub_ring(t, 1 << 22, EVBUS_POLICY_DROP_NEWEST);
	int pfd = evt_open(), sv[2], ok = 0;
	volatile int *stop = evt_shared(sizeof(int));
	static char buf[1 << 22];
	pid_t pid;

	ASSERT_LE(0, victim);
	ASSERT_LE(0, pfd);
	ASSERT_NE(NULL, stop);
	ASSERT_EQ(0, evt_dev_save_mode());
	ASSERT_EQ(0, evt_dev_open_to_all());
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct evt_map m;
		uint64_t x = 0x9e3779b97f4a7c15ULL;
		int fd, ok = 1;

		if (evt_become(&guest))
			_exit(2);
		fd = sub_ring(t, 4096, EVBUS_POLICY_DROP_OLDEST);
		if (fd < 0 || evt_map(&m, fd))
			_exit(3);
		/* No writable or executable view of the data, ever. */
		ok &= map_err(fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 2) == EPERM;
		ok &= mprotect((void *)m.data, 4096, PROT_READ | PROT_WRITE) != 0;
		ok &= map_err(fd, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, 2) == EPERM;
		evt_send_fd(sv[1], -1, ok);
		while (!*stop) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			__atomic_store_n(&m.ctl->consumer_pos,
					 x & 1 ? x : m.hdr->producer_pos - (x & 0xff),
					 __ATOMIC_RELAXED);
			if (!(x & 0x3f))
				evt_map_poll(&m, 0);
			if (!(x & 0xff)) {
				char junk[512];

				if (read(fd, junk, sizeof(junk)) < 0 && errno != EAGAIN)
					_exit(4);
			}
		}
		_exit(0);
	}
	close(evt_recv_fd(sv[0], &ok));
	EXPECT_EQ(1, ok);
	for (int i = 0; i < total; i++)
		ASSERT_LT(0, pub_n(pfd, t, 64, i));
	*stop = 1;
	EXPECT_EQ(0, evt_wait(pid));
	evt_dev_restore_mode();
	EXPECT_EQ(0, got_every_event(victim, buf, sizeof(buf), total));
	close(victim);
	close(pfd);
}

TEST_HARNESS_MAIN
