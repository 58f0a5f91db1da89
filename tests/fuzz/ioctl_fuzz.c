// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a randomized hostile-input fuzzer for /dev/evbus, meant to run
 * as root inside the test VM (tests/vm/run -- build/fuzz/ioctl_fuzz).
 *
 *   ioctl_fuzz [--calls N] [--seed S] [--threads T] [--no-race] [--no-uring]
 *              [--no-uring-async-link] [--hang SECS] [--replay wT:I]
 *
 * T worker threads share a budget of N operations (default 200000, 4
 * workers).  Each worker draws everything from its own generator, seeded
 * from (S, worker index), and nothing it generates depends on what the
 * kernel returned, so call I of worker T is the same call on every run with
 * the same seed: "--seed S --replay wT:I" regenerates it and prints it
 * decoded (then issues it once, single-threaded, and prints the result).
 *
 * What the workers issue, on eight /dev/evbus files kept at fixed, high
 * descriptor numbers ("slots": O_RDWR, O_RDONLY, O_WRONLY, O_PATH, with and
 * without O_NONBLOCK, reopened all the time by another thread):
 *  - ioctls: the eight exact commands and random command numbers around
 *    them (magic 0xEB and its neighbours, nr 0..0x20, all four directions,
 *    random sizes); struct contents valid-ish and garbage (flags, reserved
 *    fields, lengths 0 / 255 / 256 / huge, payloads up to 2 MiB, batch counts
 *    0..1025 and beyond with good and bad descriptors mixed);
 *  - pointers that are good, misaligned, NULL, in page zero, PROT_NONE,
 *    read-only (a second, read-only mapping of the same memfd), code, at the
 *    end of a page followed by a PROT_NONE guard page (straddling it or
 *    ending exactly on it), past TASK_SIZE, non-canonical and kernel
 *    addresses (0xffff888000000000, ...);
 *  - read()/readv()/preadv2(RWF_NOWAIT) with random sizes and bad buffers
 *    (and iovec arrays), write(), poll(), epoll_ctl/epoll_wait;
 *  - io_uring (when io_uring_queue_init works): IORING_OP_URING_CMD with
 *    cmd_op EVBUS_URING_PUBLISH / _BATCH / random and a random 16-byte
 *    struct evbus_uring_cmd, sometimes IOSQE_ASYNC or with a NOP linked
 *    behind it (neither with --no-uring-async-link), and
 *    IORING_OP_READ linked to a 1-3 ms timeout.
 * Meanwhile (unless --no-race) other threads: reopen the slots with dup2()
 * of a fresh file onto the number, close them, toggle O_NONBLOCK, read
 * their /proc fdinfo; subscribe and unsubscribe random ids; and sit in
 * blocking read()/poll() that publishes (and SIGUSR1, for EINTR) wake;
 * and now and then lower or restore the per-user subscription cap
 * (max_user_subs), so subscribes race with its ENOSPC.
 *
 * Pass criteria: every call returns success or an errno the ABI documents
 * for it (README "Errors": EINVAL EFAULT EMSGSIZE ENOSPC ENOENT ENOTTY EBUSY
 * EBADF EDQUOT ENOMEM, plus EAGAIN / EINTR / EOPNOTSUPP and EBADF for a slot
 * that was just closed), with a few cross-checks (an unknown command gives
 * ENOTTY and a known one never does; a batch returns 1..count and writes
 * back consistent published/error/error_index/seq fields; read() returns
 * whole, well-formed records); the process never faults; and once every
 * file is closed /sys/kernel/evbus/stats/{open_files, subscriptions,
 * queued_events, queued_bytes, ring_bytes} are back at their starting
 * values.  A hang (no progress for --hang seconds, default 120) ends the
 * run through alarm() with every thread's current call printed.
 *
 * Found by this fuzzer and fixed: Linux 6.1's io_uring_cmd() treats a
 * positive return from ->uring_cmd as an error code, so a URING_CMD
 * PUBLISH_BATCH that completed with its count never completed from io-wq
 * (the request and its file leaked, rmmod failed) and failed its link
 * inline.  The module now completes a batch with 0 or -errno.
 *
 * Last line: "ioctl-fuzz: N passed, N failed" (N = results checked: syscalls
 * and io_uring completions).  Exit 0 on success, 1 on failures, 3 on a hang,
 * 4 (skip) without /dev/evbus.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <liburing.h>

#include "evbus_test.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define NSLOTS		8	/* 0..3 always O_NONBLOCK, 4..7 blocking */
#define MAX_WORKERS	64
#define NRACERS		4	/* reopen, unsub, reader0, reader1 */
#define ERRNO_MAX	134
#define FAIL_PRINT_MAX	40

/* Per-worker memory: a 4 MiB arena, then four edge windows, each followed
 * by a PROT_NONE guard page. */
#define PG		4096u
#define ARENA_SZ	(4u << 20)
#define W_ARG_SZ	(8u << 10)
#define W_DESC_SZ	(128u << 10)
#define W_TOPIC_SZ	(8u << 10)
#define W_PAY_SZ	(8u << 10)
#define RO_SZ		(512u << 10)
#define NOACC_SZ	(64u << 10)

/* Regions of the arena (good pointers) and of the read-only memfd. */
enum reg { R_ARG, R_DESC, R_TOPIC, R_PAY, R_N };
static const size_t good_off[R_N] = { 0, 64u << 10, 256u << 10, 1u << 20 };
static const size_t good_len[R_N] = { 64u << 10, 192u << 10, 256u << 10, 3u << 20 };
static const size_t ro_off[R_N] = { 0, 64u << 10, 4u << 10, 256u << 10 };
static const size_t ro_len[R_N] = { 4u << 10, 192u << 10, 60u << 10, 256u << 10 };
static const char *const reg_name[R_N] = { "arg", "desc", "topic", "pay" };

/* Pointer kinds. */
enum kind {
	K_GOOD, K_MISALIGN, K_EDGE, K_RO, K_CODE, K_NULL, K_LOW, K_NOACC,
	K_KERNEL, K_NONCANON, K_TASKEND, K_N
};
static const char *const kind_name[K_N] = {
	"good", "misaligned", "edge", "read-only", "code", "NULL", "page0",
	"PROT_NONE", "kernel", "non-canonical", "past-TASK_SIZE",
};

static const uint64_t kernel_addrs[] = {
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0xffffc90000000000ULL,
	0xffffea0000000000ULL, 0xffffffffff600000ULL, 0xffff888000000ff8ULL,
	~0ULL, ~0ULL - 7, ~0ULL - 4095,
};

enum { C_VERSION, C_SUB, C_UNSUB, C_PUB, C_BATCH, C_SETRING, C_GETRING,
       C_STATS, C_N };
static const struct {
	unsigned int cmd;
	const char *name;
	size_t size;
	unsigned int weight;
} evcmd[C_N] = {
	{ EVBUS_IOC_VERSION, "VERSION", sizeof(struct evbus_version), 6 },
	{ EVBUS_IOC_SUBSCRIBE, "SUBSCRIBE", sizeof(struct evbus_sub), 15 },
	{ EVBUS_IOC_UNSUBSCRIBE, "UNSUBSCRIBE", sizeof(__u32), 8 },
	{ EVBUS_IOC_PUBLISH, "PUBLISH", sizeof(struct evbus_pub), 30 },
	{ EVBUS_IOC_PUBLISH_BATCH, "PUBLISH_BATCH", sizeof(struct evbus_pub_batch), 20 },
	{ EVBUS_IOC_SET_RING, "SET_RING", sizeof(struct evbus_ring_cfg), 9 },
	{ EVBUS_IOC_GET_RING, "GET_RING", sizeof(struct evbus_ring_cfg), 5 },
	{ EVBUS_IOC_STATS, "STATS", sizeof(struct evbus_stats), 7 },
};

/* Extra errnos a call may return besides the ioctl set (see allowed()). */
#define X_READ		(1u << 0)	/* read-like: EINVAL EFAULT EAGAIN EINTR EBADF EOPNOTSUPP ENOMEM only */
#define X_EEXIST	(1u << 1)	/* epoll_ctl ADD of a file already in the set */
#define X_CANCEL	(1u << 2)	/* io_uring: ECANCELED (read cut by its linked timeout) */
#define X_TIMEOUT	(1u << 3)	/* io_uring link timeout: ETIME ECANCELED EALREADY ENOENT only */
#define X_OPEN		(1u << 4)	/* open(): EMFILE ENOMEM EINTR */
#define X_ENOENT_ONLY	(1u << 5)	/* /proc fdinfo of a closed slot */

union argbuf {
	struct evbus_version v;
	struct evbus_sub s;
	__u32 id;
	struct evbus_pub p;
	struct evbus_pub_batch b;
	struct evbus_ring_cfg r;
	struct evbus_stats st;
	unsigned char raw[256];
};

struct th {
	char name[12];
	int idx;
	bool worker;
	uint64_t rng;
	uint64_t rng_at_call;	/* state when the current op started */
	unsigned long ops;	/* operations generated (the call index) */
	unsigned long budget;
	unsigned long results;	/* results checked */
	unsigned long fails;
	const char *volatile op;
	bool dry;		/* generate only, issue nothing */
	bool describe;		/* build the decoded text in desc */
	char desc[6144];
	size_t dlen;
	char failmsg[4][256];
	int nfailmsg;
	unsigned long hist[ERRNO_MAX + 1];	/* [0] success, [ERRNO_MAX] other */
	/* memory */
	char *mem;
	size_t mem_len;
	char *arena;
	char *win[R_N];		/* edge window starts */
	size_t win_len[R_N];
	char *ro_w, *ro_r;	/* the same memfd, writable and read-only */
	size_t bump[R_N], ro_bump[R_N];
	struct evbus_pub descs[EVBUS_BATCH_MAX + 1];
	/* io_uring and epoll */
	struct io_uring ring;
	bool uring_gen;		/* io_uring was there at start: generate its ops */
	bool uring;		/* and the ring is still usable */
	int epfd;
	pthread_t tid;
	/* racers */
	int priv_fd;
	char *rbuf;
};

/* --------------------------------------------------------------- globals */

static unsigned long long g_seed = 1;
static unsigned long g_calls = 200000;
static int g_nworkers = 4;
/* IOSQE_ASYNC and linked NOPs on URING_CMD (--no-uring-async-link: neither) */
static bool g_race = true, g_use_uring = true, g_uring_async = true;
static unsigned int g_hang = 120;
static int g_slot_base;
static char *g_noacc;
static uint32_t g_max_payload = 65536, g_ring_max = 16u << 20, g_max_subs = 64;
static volatile int g_stop;
static volatile int g_workers_left;
static int g_fail_printed;
static pthread_mutex_t g_print_lock = PTHREAD_MUTEX_INITIALIZER;
static struct th *g_th[MAX_WORKERS + NRACERS];
static int g_nth;
static struct timespec g_t0;

static void worker_op(struct th *t);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - g_t0.tv_sec) + (ts.tv_nsec - g_t0.tv_nsec) / 1e9;
}

static int slot_fd(int i)
{
	return g_slot_base + i;
}

static bool slot_nonblock(int i)
{
	return i < NSLOTS / 2;
}

/* ------------------------------------------------------------------ rng */

static uint64_t rnd64(struct th *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct th *t, uint32_t n)
{
	return n ? (uint32_t)(((rnd64(t) >> 32) * (uint64_t)n) >> 32) : 0;
}

static uint32_t rnd32(struct th *t)
{
	return (uint32_t)(rnd64(t) >> 32);
}

static bool chance(struct th *t, uint32_t pct)
{
	return rnd(t, 100) < pct;
}

/* ----------------------------------------------------------- describing */

__attribute__((format(printf, 2, 3)))
static void D(struct th *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->describe || t->dlen >= sizeof(t->desc) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->desc + t->dlen, sizeof(t->desc) - t->dlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->dlen = t->dlen + (size_t)n < sizeof(t->desc) ? t->dlen + n : sizeof(t->desc) - 1;
}

static void D_text(struct th *t, const char *s, size_t len)
{
	size_t i;

	if (!t->describe)
		return;
	D(t, "'");
	for (i = 0; i < len && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			D(t, "%c", c);
		else
			D(t, "\\x%02x", c);
	}
	D(t, "'");
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOSPC: return "ENOSPC";
	case ENOENT: return "ENOENT";
	case ENOTTY: return "ENOTTY";
	case EBUSY: return "EBUSY";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ENOMEM: return "ENOMEM";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EDQUOT: return "EDQUOT";
	case EMFILE: return "EMFILE";
	case EEXIST: return "EEXIST";
	case ECANCELED: return "ECANCELED";
	case ETIME: return "ETIME";
	case EALREADY: return "EALREADY";
	case EPERM: return "EPERM";
	case ESPIPE: return "ESPIPE";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case ERANGE: return "ERANGE";
	case EOVERFLOW: return "EOVERFLOW";
	default: return "E?";
	}
}

/* ------------------------------------------------------------- checking */

static bool allowed(int e, unsigned int x)
{
	if (x & X_TIMEOUT)	/* ENOENT: the linked request was not cancelable */
		return e == ETIME || e == ECANCELED || e == EALREADY || e == ENOENT;
	if (x & X_ENOENT_ONLY)
		return e == ENOENT;
	if (x & X_OPEN)
		return e == EMFILE || e == ENOMEM || e == EINTR;
	if ((x & X_CANCEL) && (e == ECANCELED || e == EINTR))
		return true;
	if ((x & X_EEXIST) && e == EEXIST)
		return true;
	if (x & X_READ)
		return e == EINVAL || e == EFAULT || e == EAGAIN || e == EINTR ||
		       e == EBADF || e == EOPNOTSUPP || e == ENOMEM;
	switch (e) {
	case EINVAL: case EFAULT: case EMSGSIZE: case ENOSPC: case ENOENT:
	case ENOTTY: case EBUSY: case EBADF: case EAGAIN: case EINTR:
	case ENOMEM: case EOPNOTSUPP: case EDQUOT:
		return true;
	}
	return false;
}

__attribute__((format(printf, 2, 3)))
static void fail(struct th *t, const char *fmt, ...)
{
	va_list ap;

	t->fails++;
	if (t->nfailmsg >= 4)
		return;
	va_start(ap, fmt);
	vsnprintf(t->failmsg[t->nfailmsg++], sizeof(t->failmsg[0]), fmt, ap);
	va_end(ap);
}

/* Account one result: ret >= 0 is success, else err is the errno. */
static bool result(struct th *t, const char *what, long ret, int err, unsigned int x)
{
	t->results++;
	if (ret >= 0) {
		t->hist[0]++;
		return true;
	}
	t->hist[err > 0 && err < ERRNO_MAX ? err : ERRNO_MAX]++;
	if (!allowed(err, x)) {
		fail(t, "%s: unexpected errno %d (%s)", what, err, errname(err));
		return false;
	}
	return true;
}

/* Is every record in buf[0..n) well formed?  NULL if so, else what is not. */
static const char *check_records(const char *buf, size_t n)
{
	size_t off = 0;

	if (n & 7)
		return "length not a multiple of 8";
	while (off < n) {
		struct evbus_rec_hdr h;

		if (n - off < sizeof(h))
			return "truncated header";
		memcpy(&h, buf + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > n - off || (h.len & 7))
			return "bad record length";
		if (h.kind == EVBUS_REC_EVENT) {
			struct evbus_event ev;

			if (h.hdr_len != sizeof(ev) || h.len < sizeof(ev))
				return "bad event header length";
			memcpy(&ev, buf + off, sizeof(ev));
			if (!ev.topic_len || ev.topic_len > EVBUS_TOPIC_MAX)
				return "bad event topic_len";
			if (h.len != sizeof(ev) + EVBUS_ALIGN(ev.topic_len + 1) +
				     EVBUS_ALIGN(ev.payload_len))
				return "event length does not match topic/payload";
			if (buf[off + sizeof(ev) + ev.topic_len] != '\0')
				return "event topic not NUL-terminated";
			if (!ev.seq)
				return "event seq 0";
		} else if (h.kind == EVBUS_REC_LAGGED) {
			struct evbus_lagged lg;

			if (h.hdr_len != sizeof(lg) || h.len != sizeof(lg))
				return "bad LAGGED length";
			memcpy(&lg, buf + off, sizeof(lg));
			if (!lg.lost || lg.first_seq > lg.last_seq ||
			    lg.lost > lg.last_seq - lg.first_seq + 1)
				return "inconsistent LAGGED record";
		} else {
			return "unexpected record kind";
		}
		off += h.len;
	}
	return NULL;
}

/* --------------------------------------------------------------- memory */

static void *xmmap(void *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		perror("ioctl-fuzz: mmap");
		exit(2);
	}
	return p;
}

static void th_mem_init(struct th *t)
{
	size_t wl[R_N] = { W_ARG_SZ, W_DESC_SZ, W_TOPIC_SZ, W_PAY_SZ };
	size_t off, i;
	char *res;
	int fd;

	t->mem_len = ARENA_SZ + PG;
	for (i = 0; i < R_N; i++)
		t->mem_len += wl[i] + PG;
	t->mem = xmmap(NULL, t->mem_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t->arena = t->mem;
	off = ARENA_SZ;
	mprotect(t->mem + off, PG, PROT_NONE);
	off += PG;
	for (i = 0; i < R_N; i++) {
		t->win[i] = t->mem + off;
		t->win_len[i] = wl[i];
		off += wl[i];
		mprotect(t->mem + off, PG, PROT_NONE);
		off += PG;
	}
	/* Payload bytes: anything, but not all zero. */
	for (i = 0; i < ARENA_SZ; i += 8)
		memcpy(t->arena + i, &i, 8);

	fd = memfd_create("ioctl-fuzz-ro", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, RO_SZ)) {
		perror("ioctl-fuzz: memfd");
		exit(2);
	}
	t->ro_w = xmmap(NULL, RO_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	res = xmmap(NULL, RO_SZ + PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t->ro_r = xmmap(res, RO_SZ, PROT_READ, MAP_SHARED | MAP_FIXED, fd);
	close(fd);
	for (i = 0; i < RO_SZ; i++)
		t->ro_w[i] = (char)('a' + i % 26);
}

static void reset_bumps(struct th *t)
{
	memset(t->bump, 0, sizeof(t->bump));
	memset(t->ro_bump, 0, sizeof(t->ro_bump));
}

static size_t bump(size_t *b, size_t len, size_t cap)
{
	size_t off = *b;

	if (len > cap)
		len = cap;
	if (off + len > cap)
		off = 0;
	*b = (off + len + 15) & ~(size_t)7;
	return off;
}

static enum kind pick_kind(struct th *t, unsigned int good_pct)
{
	uint32_t r;

	if (chance(t, good_pct))
		return K_GOOD;
	r = rnd(t, 100);
	if (r < 14) return K_MISALIGN;
	if (r < 40) return K_EDGE;
	if (r < 52) return K_RO;
	if (r < 55) return K_CODE;
	if (r < 63) return K_NULL;
	if (r < 68) return K_LOW;
	if (r < 76) return K_NOACC;
	if (r < 87) return K_KERNEL;
	if (r < 94) return K_NONCANON;
	return K_TASKEND;
}

static void code_anchor(void)
{
}

/* An address of a kind that holds none of our data. */
static uint64_t bad_addr(struct th *t, enum kind k)
{
	switch (k) {
	case K_NULL:
		return 0;
	case K_LOW:
		return 1 + rnd(t, PG - 1);
	case K_NOACC:
		return (uintptr_t)g_noacc + rnd(t, NOACC_SZ);
	case K_KERNEL:
		return kernel_addrs[rnd(t, sizeof(kernel_addrs) / sizeof(kernel_addrs[0]))];
	case K_NONCANON:
		switch (rnd(t, 4)) {
		case 0: return 0x0000800000000000ULL;
		case 1: return 0x8000000000000000ULL;
		case 2: return 0x00ff000000000000ULL + (rnd64(t) & 0xffffffffffULL);
		default: return (rnd64(t) | (1ULL << 62)) & ~(1ULL << 63);
		}
	case K_TASKEND:
		return 0x00007ffffffff000ULL + rnd(t, 2 * PG);
	case K_CODE:
		return (uintptr_t)&code_anchor;
	default:
		return 0;
	}
}

/*
 * Put len bytes of src somewhere of kind k for region r and return the user
 * address to pass.  *rw (if given) says whether the bytes we placed can be
 * read back and written by the kernel; *fits whether all len bytes are there.
 */
static uint64_t place(struct th *t, enum reg r, enum kind k, const void *src,
		      size_t len, bool *rw)
{
	char *p;
	size_t off, kk;

	if (rw)
		*rw = false;
	switch (k) {
	case K_GOOD:
	case K_MISALIGN:
		off = bump(&t->bump[r], len + 8, good_len[r]);
		p = t->arena + good_off[r] + off;
		if (k == K_MISALIGN)
			p += 1 + rnd(t, 7);
		if (len > good_len[r] - (size_t)(p - t->arena - good_off[r]))
			len = good_len[r] - (size_t)(p - t->arena - good_off[r]);
		memcpy(p, src, len);
		if (rw)
			*rw = true;
		D(t, "%s(%s+%#zx)", kind_name[k], reg_name[r], (size_t)(p - t->arena - good_off[r]));
		return (uintptr_t)p;
	case K_EDGE:
		/* k bytes before the guard: all of it, some of it, none. */
		switch (rnd(t, 4)) {
		case 0: case 1: kk = len; break;
		case 2: kk = len ? rnd(t, (uint32_t)len) : 0; break;
		default: kk = len > 8 ? len - 1 - rnd(t, 8) : 0; break;
		}
		if (kk > t->win_len[r])
			kk = t->win_len[r];
		p = t->win[r] + t->win_len[r] - kk;
		memcpy(p, src, kk < len ? kk : len);
		if (rw)
			*rw = kk >= len;
		D(t, "edge(%s guard-%zu)", reg_name[r], kk);
		return (uintptr_t)p;
	case K_RO:
		off = bump(&t->ro_bump[r], len + 8, ro_len[r]) + ro_off[r];
		kk = len < RO_SZ - off ? len : RO_SZ - off;
		memcpy(t->ro_w + off, src, kk);
		D(t, "read-only(%s+%#zx)", reg_name[r], off - ro_off[r]);
		return (uintptr_t)(t->ro_r + off);
	default: {
		uint64_t a = bad_addr(t, k);

		D(t, "%s(%#llx)", kind_name[k], (unsigned long long)a);
		return a;
	}
	}
}

/* A pointer to len bytes we read from (payloads, read buffers): no copy. */
static uint64_t place_buf(struct th *t, enum kind k, uint64_t len, bool *rw)
{
	size_t span = len < good_len[R_PAY] ? (size_t)len : good_len[R_PAY];
	size_t kk, w = t->win_len[R_PAY];
	char *p;

	if (rw)
		*rw = false;
	switch (k) {
	case K_GOOD:
	case K_MISALIGN:
		p = t->arena + good_off[R_PAY] +
		    (rnd(t, (uint32_t)(good_len[R_PAY] - span) + 1) & ~7u);
		if (k == K_MISALIGN)
			p += 1 + rnd(t, 7);
		if (rw)
			*rw = true;
		D(t, "%s+%#zx", kind_name[k], (size_t)(p - t->arena - good_off[R_PAY]));
		return (uintptr_t)p;
	case K_EDGE:
		kk = chance(t, 50) && len <= w ? (size_t)len : rnd(t, (uint32_t)(span < w ? span : w) + 1);
		p = t->win[R_PAY] + w - kk;
		if (rw)
			*rw = true;
		D(t, "edge(guard-%zu)", kk);
		return (uintptr_t)p;
	case K_RO:
		kk = rnd(t, ro_len[R_PAY]) & ~7u;
		D(t, "read-only+%#zx", kk);
		return (uintptr_t)(t->ro_r + ro_off[R_PAY] + kk);
	default: {
		uint64_t a = bad_addr(t, k);

		D(t, "%s(%#llx)", kind_name[k], (unsigned long long)a);
		return a;
	}
	}
}

/* ------------------------------------------------------------- topics */

static const char *const words[] = {
	"fuzz", "a", "b", "c", "x", "evt", "t1", "Z_9", "host-1:eth0", "ab",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static size_t put_word(char *s, size_t n, const char *w)
{
	size_t l = strlen(w);

	memcpy(s + n, w, l);
	return n + l;
}

/* A topic or pattern into s (room for 320 bytes); returns its length. */
static size_t gen_text(struct th *t, char *s, bool pattern)
{
	static const char bad[] = " /#+\t\x7f\x80\xc3\xff*>.,";
	uint32_t r = rnd(t, 100), i, nseg;
	size_t n = 0, target;

	if (r < 72 || r >= 84) {
		nseg = 1 + rnd(t, 4);
		for (i = 0; i < nseg; i++) {
			if (i)
				s[n++] = '.';
			if (pattern && chance(t, 18))
				s[n++] = '*';
			else if (pattern && i == nseg - 1 && chance(t, 25))
				s[n++] = '>';
			else
				n = put_word(s, n, words[rnd(t, NWORDS)]);
		}
		if (pattern && chance(t, 6)) {
			s[0] = '>';
			n = 1;
		}
		if (r < 72)
			return n;
		/* 84..99: break it. */
		switch (rnd(t, 8)) {
		case 0: memmove(s + 1, s, n++); s[0] = '.'; break;
		case 1: s[n++] = '.'; break;
		case 2: i = rnd(t, (uint32_t)n); memmove(s + i + 1, s + i, n - i); s[i] = '.'; n++;
			if (i + 1 < n && s[i + 1] != '.') { memmove(s + i + 1, s + i, n - i); s[i] = '.'; n++; }
			break;
		case 3: s[rnd(t, (uint32_t)n)] = bad[rnd(t, sizeof(bad) - 1)]; break;
		case 4: s[rnd(t, (uint32_t)n)] = '\0'; break;
		case 5: n = put_word(s, n, rnd(t, 2) ? "*" : ">"); break;
		case 6: s[n++] = '.'; s[n++] = '>'; s[n++] = '.'; s[n++] = 'a'; break;
		default: s[n++] = '*'; s[n++] = '*'; break;
		}
		return n;
	}
	if (r < 78) {
		/* Around the segment limit: 19, 20 or 21 segments. */
		nseg = 19 + rnd(t, 3);
		for (i = 0; i < nseg; i++) {
			if (i)
				s[n++] = '.';
			s[n++] = pattern && chance(t, 10) ? '*' : 'a' + rnd(t, 3);
		}
		return n;
	}
	/* Around the length limit: 254, 255 or 256 bytes. */
	target = 254 + rnd(t, 3);
	for (n = 0; n < target; n++)
		s[n] = (n % 12 == 11 && n + 1 < target) ? '.' : 'x';
	return n;
}

/* A length field for text of length len: mostly right. */
static uint32_t gen_len(struct th *t, size_t len)
{
	static const uint32_t odd[] = {
		0, 1, 254, 255, 256, 257, 0xffffffff, 0x80000000, 0x10000,
	};

	if (chance(t, 86))
		return (uint32_t)len;
	switch (rnd(t, 4)) {
	case 0: return (uint32_t)len + 1;
	case 1: return len ? (uint32_t)len - 1 : 0;
	case 2: return rnd32(t);
	default: return odd[rnd(t, sizeof(odd) / sizeof(odd[0]))];
	}
}

/* Generate a topic or pattern, place it, fill *addr and *len. */
static void gen_text_placed(struct th *t, bool pattern, __u64 *addr,
			    uint32_t *len, unsigned int good_pct)
{
	char s[320];
	size_t n = gen_text(t, s, pattern);
	enum kind k = pick_kind(t, good_pct);

	*len = gen_len(t, n);
	D(t, "%s=", pattern ? "pattern" : "topic");
	*addr = place(t, R_TOPIC, k, s, n, NULL);
	D(t, " ");
	D_text(t, s, n);
	D(t, " %s_len=%u", pattern ? "pattern" : "topic", *len);
}

static uint32_t gen_paylen(struct th *t, bool small)
{
	uint32_t r = rnd(t, 100);

	if (small) {
		if (r < 55) return rnd(t, 33);
		if (r < 90) return 0;
		if (r < 98) return 33 + rnd(t, 1024);
		return g_max_payload + rnd(t, 2);
	}
	if (r < 28) return 0;
	if (r < 58) return 1 + rnd(t, 64);
	if (r < 76) return 65 + rnd(t, 4032);
	if (r < 82) return 4097 + rnd(t, g_max_payload > 4097 ? g_max_payload - 4096 : 1);
	if (r < 89) return g_max_payload - 1 + rnd(t, 3);
	if (r < 93) return rnd(t, 2u << 20);
	if (r < 95) return 2u << 20;
	if (r < 98) return 0xffffffff;
	return rnd32(t);
}

/* --------------------------------------------------------- struct makers */

static void gen_version(struct th *t, struct evbus_version *v)
{
	memset(v, 0, sizeof(*v));
	if (chance(t, 10))
		v->flags = rnd32(t) | 1;
	if (chance(t, 8))
		v->reserved[rnd(t, 4)] = rnd64(t) | 1;
	if (chance(t, 10))	/* out fields: ignored on input */
		v->abi_version = rnd32(t), v->features = rnd64(t);
	D(t, "{flags=%#x reserved=[%#llx,%#llx,%#llx,%#llx]}", v->flags,
	  (unsigned long long)v->reserved[0], (unsigned long long)v->reserved[1],
	  (unsigned long long)v->reserved[2], (unsigned long long)v->reserved[3]);
}

static void gen_sub(struct th *t, struct evbus_sub *s)
{
	memset(s, 0, sizeof(*s));
	D(t, "{");
	gen_text_placed(t, true, &s->pattern, &s->pattern_len, 88);
	if (chance(t, 5))
		s->flags = rnd32(t) | 1;
	if (chance(t, 5))
		s->reserved = rnd32(t) | 1;
	if (chance(t, 20))
		s->sub_id = rnd32(t);
	D(t, " flags=%#x reserved=%#x}", s->flags, s->reserved);
}

static uint32_t gen_sub_id(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 80) return rnd(t, 48);
	if (r < 88) return 0;
	if (r < 94) return 0xffffffff;
	return rnd32(t);
}

struct pool {
	int n;
	__u64 addr[8];
	uint32_t len[8];
};

static void gen_pub(struct th *t, struct evbus_pub *p, bool small,
		    unsigned int bad_pct, const struct pool *pool)
{
	memset(p, 0, sizeof(*p));
	D(t, "{");
	if (pool) {
		int i = (int)rnd(t, (uint32_t)pool->n);

		p->topic = pool->addr[i];
		p->topic_len = pool->len[i];
		D(t, "topic=pool[%d]", i);
	} else {
		gen_text_placed(t, false, &p->topic, &p->topic_len, 88);
	}
	p->payload_len = gen_paylen(t, small);
	D(t, " payload=");
	if (!p->payload_len && chance(t, 50)) {
		p->payload = 0;
		D(t, "0");
	} else {
		p->payload = place_buf(t, pick_kind(t, 88), p->payload_len, NULL);
	}
	if (chance(t, 30))
		p->type = rnd32(t), p->corr = rnd64(t), p->parent = rnd64(t);
	if (chance(t, 10))
		p->seq = rnd64(t);	/* out field: ignored */
	if (chance(t, (uint32_t)bad_pct)) {
		switch (rnd(t, 8)) {
		case 0: p->flags = rnd32(t) | 1; break;
		case 1: p->reserved[0] = rnd64(t) | 1; break;
		case 2: p->reserved[1] = 1; break;
		case 3: p->topic_len = rnd(t, 2) ? 0 : 256; break;
		case 4: p->payload_len = g_max_payload + 1 + rnd(t, 1u << 21); break;
		case 5: p->topic = bad_addr(t, (enum kind)(K_NULL + rnd(t, K_N - K_NULL))); break;
		case 6: p->payload = bad_addr(t, (enum kind)(K_NULL + rnd(t, K_N - K_NULL)));
			if (!p->payload_len) p->payload_len = 1 + rnd(t, 64);
			break;
		default: p->topic_len = rnd32(t); break;
		}
		D(t, " [made bad]");
	}
	D(t, " payload_len=%u type=%#x flags=%#x reserved=[%#llx,%#llx]}",
	  p->payload_len, p->type, p->flags, (unsigned long long)p->reserved[0],
	  (unsigned long long)p->reserved[1]);
}

/* Batch descriptors and header.  Returns the number of descriptors placed. */
static uint32_t gen_batch(struct th *t, struct evbus_pub_batch *b, bool limit,
			  bool *descs_rw, uint64_t *descs_addr, uint32_t *ngen_out)
{
	struct pool pool;
	uint32_t count, ngen, i, r = rnd(t, 100), bad_pct, bad_one = ~0u;
	bool small;
	enum kind k;
	int j;

	if (r < 20) count = 1;
	else if (r < 60) count = 2 + rnd(t, 7);
	else if (r < 80) count = 9 + rnd(t, 56);
	else if (r < 88) count = 65 + rnd(t, EVBUS_BATCH_MAX - 65);
	else if (r < 92) count = EVBUS_BATCH_MAX;
	else if (r < 95) count = 0;
	else if (r < 97) count = EVBUS_BATCH_MAX + 1;
	else count = rnd32(t);
	if (limit && count > 64 && count <= EVBUS_BATCH_MAX + 1)
		count = 1 + count % 64;
	ngen = count <= EVBUS_BATCH_MAX + 1 ? count : 16;
	small = count > 16 || chance(t, 50);

	memset(b, 0, sizeof(*b));
	D(t, "{count=%u pool:", count);
	pool.n = 1 + (int)rnd(t, 8);
	for (j = 0; j < pool.n; j++) {
		D(t, " [%d]", j);
		gen_text_placed(t, false, &pool.addr[j], &pool.len[j], 92);
	}
	r = rnd(t, 100);
	bad_pct = r < 40 ? 0 : r < 70 ? 5 : r < 85 ? 0 : 50;
	if (r >= 70 && r < 85 && ngen)
		bad_one = rnd(t, ngen);
	D(t, " descs(bad%%=%u bad_one=%d):", bad_pct, (int)bad_one);
	for (i = 0; i < ngen; i++) {
		bool show = t->describe && (i < 4 || i == bad_one || i + 1 == ngen);
		bool was = t->describe;

		t->describe = show;
		D(t, " [%u]", i);
		gen_pub(t, &t->descs[i], small, i == bad_one ? 100 : bad_pct, &pool);
		t->describe = was;
	}
	b->count = count;
	r = rnd(t, 100);
	b->flags = r < 45 ? 0 : r < 92 ? EVBUS_BATCH_SEQ : rnd32(t);
	if (chance(t, 4))
		b->reserved32 = rnd32(t) | 1;
	if (chance(t, 4))
		b->reserved[rnd(t, 2)] = rnd64(t) | 1;
	if (chance(t, 15))
		b->first_seq = rnd64(t), b->published = rnd32(t),
		b->error = (int32_t)rnd32(t), b->error_index = rnd32(t);
	k = pick_kind(t, 82);
	D(t, " events=");
	b->events = place(t, R_DESC, k, t->descs, (size_t)ngen * sizeof(t->descs[0]),
			  descs_rw);
	*descs_addr = b->events;
	*ngen_out = ngen;
	D(t, " flags=%#x reserved32=%#x reserved=[%#llx,%#llx]}", b->flags,
	  b->reserved32, (unsigned long long)b->reserved[0],
	  (unsigned long long)b->reserved[1]);
	return count;
}

static uint32_t gen_ring_size(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 20) return 0;
	if (r < 30) return 4095 + rnd(t, 3);
	if (r < 60) return 1u << (12 + rnd(t, 7));
	if (r < 70) return 4096 + rnd(t, 258048);
	if (r < 74) return 1u << (12 + rnd(t, 13));
	if (r < 77) return g_ring_max;
	if (r < 80) return g_ring_max + 1;
	if (r < 84) return 0xffffffff;
	if (r < 87) return 0x80000000;
	if (r < 92) return 1 + rnd(t, 4095);
	return rnd32(t);
}

static void gen_ring(struct th *t, struct evbus_ring_cfg *c)
{
	uint32_t r = rnd(t, 100);

	memset(c, 0, sizeof(*c));
	c->size = gen_ring_size(t);
	c->policy = r < 45 ? EVBUS_POLICY_DROP_OLDEST : r < 90 ? EVBUS_POLICY_DROP_NEWEST :
		    r < 95 ? 2 : rnd32(t);
	r = rnd(t, 100);
	if (r < 20) {
		/* Wake-up coalescing, mostly valid, delays of at most 2 ms. */
		c->flags = EVBUS_RING_WAKE;
		c->wake_events = r < 16 ? 1 + rnd(t, 64) : rnd32(t);
		c->wake_delay_ns = r < 12 ? rnd(t, 2000000) :
				   r < 14 ? 0 : rnd64(t);
	} else if (r < 40) {
		c->flags = rnd32(t) | 1;
	}
	if (chance(t, 6))
		c->wake_events = rnd32(t) | 1;
	if (chance(t, 6))
		c->wake_delay_ns = rnd64(t) | 1;
	if (chance(t, 6))
		c->reserved = rnd64(t) | 1;
	D(t, "{size=%u policy=%u flags=%#x wake_events=%u wake_delay_ns=%llu reserved=%#llx}",
	  c->size, c->policy, c->flags, c->wake_events,
	  (unsigned long long)c->wake_delay_ns, (unsigned long long)c->reserved);
}

static void gen_stats(struct th *t, struct evbus_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (chance(t, 8))
		st->flags = rnd32(t) | 1;
	if (chance(t, 8))
		st->reserved[rnd(t, 4)] = rnd64(t) | 1;
	if (chance(t, 20))
		st->queued_events = rnd64(t), st->capacity = rnd32(t);
	D(t, "{flags=%#x reserved=[%#llx,%#llx,%#llx,%#llx]}", st->flags,
	  (unsigned long long)st->reserved[0], (unsigned long long)st->reserved[1],
	  (unsigned long long)st->reserved[2], (unsigned long long)st->reserved[3]);
}

/* ------------------------------------------------------------ fd choice */

static const char *slot_class(int i)
{
	return slot_nonblock(i) ? "O_NONBLOCK" : "blocking";
}

/* A slot's fd, or now and then -1 or a number that is never open. */
static int pick_fd(struct th *t, bool nonblock_only)
{
	uint32_t r = rnd(t, 100);
	int i;

	if (r < 2) {
		D(t, "fd=-1");
		return -1;
	}
	if (r < 4) {
		D(t, "fd=%d(never open)", slot_fd(NSLOTS + 4));
		return slot_fd(NSLOTS + 4);
	}
	i = nonblock_only ? (int)rnd(t, NSLOTS / 2) : (int)rnd(t, NSLOTS);
	D(t, "slot%d(fd %d, %s)", i, slot_fd(i), slot_class(i));
	return slot_fd(i);
}

/* ----------------------------------------------------------- operations */

struct argdesc {
	int which;		/* index in evcmd[], -1 if not an evbus command */
	union argbuf a;
	size_t len;
	uint64_t addr;
	bool rw;		/* all of it placed where the kernel can write */
	char *local;		/* where to read it back from if rw */
	uint32_t count;		/* batch: count */
	uint32_t ngen;
	bool descs_rw;
	uint64_t descs;
};

/* Build and place the argument struct for command 'which' (or garbage). */
static void gen_arg(struct th *t, struct argdesc *ad, bool limit_batch)
{
	enum kind k;

	memset(&ad->a, 0, sizeof(ad->a));
	ad->count = 0;
	ad->descs_rw = false;
	switch (ad->which) {
	case C_VERSION: gen_version(t, &ad->a.v); ad->len = sizeof(ad->a.v); break;
	case C_SUB: gen_sub(t, &ad->a.s); ad->len = sizeof(ad->a.s); break;
	case C_UNSUB:
		ad->a.id = gen_sub_id(t);
		ad->len = sizeof(ad->a.id);
		D(t, "{id=%u}", ad->a.id);
		break;
	case C_PUB: gen_pub(t, &ad->a.p, false, 8, NULL); ad->len = sizeof(ad->a.p); break;
	case C_BATCH:
		ad->count = gen_batch(t, &ad->a.b, limit_batch, &ad->descs_rw, &ad->descs, &ad->ngen);
		ad->len = sizeof(ad->a.b);
		break;
	case C_SETRING: gen_ring(t, &ad->a.r); ad->len = sizeof(ad->a.r); break;
	case C_GETRING:
		if (chance(t, 30))
			gen_ring(t, &ad->a.r);
		ad->len = sizeof(ad->a.r);
		break;
	case C_STATS: gen_stats(t, &ad->a.st); ad->len = sizeof(ad->a.st); break;
	default: {
		size_t i;

		ad->len = rnd(t, sizeof(ad->a.raw) + 1);
		for (i = 0; i < ad->len; i++)
			ad->a.raw[i] = (unsigned char)rnd64(t);
		D(t, "{%zu random bytes}", ad->len);
		break;
	}
	}
	k = pick_kind(t, 72);
	D(t, " at ");
	ad->addr = place(t, R_ARG, k, &ad->a, ad->len, &ad->rw);
	ad->local = (char *)(uintptr_t)ad->addr;
}

static void decode_cmd(struct th *t, unsigned int cmd, int which)
{
	static const char *const dirs[] = { "_IO", "_IOW", "_IOR", "_IOWR" };

	if (which >= 0)
		D(t, "EVBUS_IOC_%s", evcmd[which].name);
	else
		D(t, "%s(%#x, %#x, size %u)=%#x", dirs[_IOC_DIR(cmd) & 3], _IOC_TYPE(cmd),
		  _IOC_NR(cmd), _IOC_SIZE(cmd), cmd);
}

static int which_cmd(unsigned int cmd)
{
	int i;

	for (i = 0; i < C_N; i++)
		if (evcmd[i].cmd == cmd)
			return i;
	return -1;
}

static int pick_which(struct th *t)
{
	uint32_t tot = 0, r;
	int i;

	for (i = 0; i < C_N; i++)
		tot += evcmd[i].weight;
	r = rnd(t, tot);
	for (i = 0; i < C_N; i++) {
		if (r < evcmd[i].weight)
			return i;
		r -= evcmd[i].weight;
	}
	return C_PUB;
}

/* Check what the kernel wrote back after a successful evbus command. */
static void check_success(struct th *t, const char *what, struct argdesc *ad, long ret)
{
	union argbuf o;

	if (ad->which == C_BATCH) {
		if (ret < 1 || (uint32_t)ret > ad->count)
			fail(t, "%s: returned %ld for count %u", what, ret, ad->count);
	} else if (ret != 0) {
		fail(t, "%s: returned %ld, not 0", what, ret);
	}
	if (!ad->rw)
		return;
	memcpy(&o, ad->local, ad->len);
	switch (ad->which) {
	case C_VERSION:
		if (o.v.abi_version != EVBUS_ABI_VERSION || !(o.v.features & EVBUS_FEAT_PUBLISH) ||
		    o.v.flags || o.v.reserved[0] || o.v.reserved[3])
			fail(t, "%s: bad version reply abi %u features %#llx", what,
			     o.v.abi_version, (unsigned long long)o.v.features);
		break;
	case C_SUB:
		if (!o.s.sub_id)
			fail(t, "%s: sub_id 0", what);
		break;
	case C_PUB:
		if (!o.p.seq)
			fail(t, "%s: seq 0 written back", what);
		break;
	case C_GETRING:
	case C_SETRING:
		if (ad->which == C_GETRING &&
		    (o.r.size < 4096 || (o.r.size & (o.r.size - 1)) || o.r.policy > 1 ||
		     (o.r.flags & ~EVBUS_RING_VALID) || o.r.reserved ||
		     (o.r.flags ? !o.r.wake_events || o.r.wake_events > EVBUS_WAKE_EVENTS_MAX ||
				  o.r.wake_delay_ns > EVBUS_WAKE_DELAY_MAX :
				  o.r.wake_events || o.r.wake_delay_ns)))
			fail(t, "%s: bad ring reply size %u policy %u flags %#x wake %u/%llu",
			     what, o.r.size, o.r.policy, o.r.flags, o.r.wake_events,
			     (unsigned long long)o.r.wake_delay_ns);
		break;
	case C_STATS:
		if (o.st.policy > 1 || (o.st.capacity & (o.st.capacity - 1)) || o.st.flags ||
		    o.st.reserved[0] || o.st.subscriptions > 4096 ||
		    o.st.queued_bytes < o.st.queued_events * 8)
			fail(t, "%s: bad stats reply policy %u capacity %u subs %u", what,
			     o.st.policy, o.st.capacity, o.st.subscriptions);
		break;
	case C_BATCH: {
		uint32_t i;

		if (o.b.published != (uint32_t)ret)
			fail(t, "%s: returned %ld but published=%u", what, ret, o.b.published);
		else if ((uint32_t)ret < ad->count &&
			 (o.b.error >= 0 || o.b.error_index != (uint32_t)ret ||
			  !allowed(-o.b.error, 0)))
			fail(t, "%s: partial batch %ld/%u with error %d error_index %u", what,
			     ret, ad->count, o.b.error, o.b.error_index);
		/* All published: error 0 (an unwritable seq slot stops a batch before its event). */
		else if ((uint32_t)ret == ad->count &&
			 (o.b.error || o.b.error_index != ad->count))
			fail(t, "%s: full batch with error %d error_index %u", what,
			     o.b.error, o.b.error_index);
		if (!o.b.first_seq)
			fail(t, "%s: first_seq 0", what);
		if ((o.b.flags & EVBUS_BATCH_SEQ) && ad->descs_rw) {
			const struct evbus_pub *d = (const void *)(uintptr_t)ad->descs;
			uint64_t prev = 0, s;

			for (i = 0; i < (uint32_t)ret; i++) {
				memcpy(&s, (const char *)&d[i] + offsetof(struct evbus_pub, seq), 8);
				if (s <= prev || (i == 0 && s != o.b.first_seq)) {
					fail(t, "%s: desc[%u].seq %llu after %llu (first_seq %llu)",
					     what, i, (unsigned long long)s, (unsigned long long)prev,
					     (unsigned long long)o.b.first_seq);
					break;
				}
				prev = s;
			}
		}
		break;
	}
	}
}

static void op_ioctl(struct th *t)
{
	struct argdesc ad;
	unsigned int cmd;
	uint32_t r = rnd(t, 100);
	int fd;
	long ret = 0;
	int err = 0;

	t->op = "ioctl";
	D(t, "ioctl(");
	fd = pick_fd(t, false);
	if (r < 72) {
		ad.which = pick_which(t);
		cmd = evcmd[ad.which].cmd;
	} else if (r < 80) {
		/* A known nr with another direction or size. */
		int w = (int)rnd(t, C_N);

		cmd = _IOC(rnd(t, 4), EVBUS_IOC_MAGIC, _IOC_NR(evcmd[w].cmd),
			   rnd(t, 2) ? evcmd[rnd(t, C_N)].size : rnd(t, 1u << 14));
	} else if (r < 97) {
		static const unsigned int sizes[] = { 0, 4, 8, 24, 32, 56, 64, 72, 96, 0x3fff };

		cmd = _IOC(rnd(t, 4), EVBUS_IOC_MAGIC, rnd(t, 0x21),
			   rnd(t, 2) ? sizes[rnd(t, 10)] : rnd(t, 1u << 14));
	} else {
		cmd = _IOC(rnd(t, 4), rnd(t, 2) ? 0xEA : 0xEC, rnd(t, 0x21), rnd(t, 1u << 14));
	}
	if (r >= 72) {
		ad.which = which_cmd(cmd);
		/* Give unknown commands a real struct now and then. */
		if (ad.which < 0 && chance(t, 50)) {
			int w = (int)rnd(t, C_N);

			D(t, ", ");
			decode_cmd(t, cmd, -1);
			D(t, ", %s-like ", evcmd[w].name);
			ad.which = w;
			gen_arg(t, &ad, false);
			ad.which = -1;
			goto issue;
		}
	}
	D(t, ", ");
	decode_cmd(t, cmd, ad.which);
	D(t, ", ");
	gen_arg(t, &ad, false);
issue:
	D(t, ")");
	if (t->dry)
		return;
	errno = 0;
	ret = ioctl(fd, cmd, (unsigned long)ad.addr);
	err = errno;
	if (!result(t, "ioctl", ret, err, 0))
		return;
	if (ad.which < 0) {
		if (ret >= 0)
			fail(t, "ioctl: unknown command %#x succeeded (%ld)", cmd, ret);
		else if (err != ENOTTY && err != EBADF)
			fail(t, "ioctl: unknown command %#x gave %s, not ENOTTY", cmd, errname(err));
		return;
	}
	if (ret < 0) {
		if (err == ENOTTY)
			fail(t, "ioctl: %s gave ENOTTY", evcmd[ad.which].name);
		return;
	}
	check_success(t, evcmd[ad.which].name, &ad, ret);
}

static uint64_t gen_rsize(struct th *t)
{
	static const uint64_t sz[] = {
		0, 1, 7, 8, 39, 40, 41, 79, 80, 87, 88, 96, 120, 128, 4096, 65536,
		1u << 20, 0x7ffff000, 0x80000000ULL, 1ULL << 40, SSIZE_MAX, SIZE_MAX,
	};
	uint32_t r = rnd(t, 100);

	if (r < 35) return sz[rnd(t, sizeof(sz) / sizeof(sz[0]))];
	if (r < 65) return rnd(t, 400);
	if (r < 90) return rnd(t, 1u << 17);
	return rnd(t, 3u << 20);
}

static void gen_iov(struct th *t, struct iovec *iov, bool *rw)
{
	uint64_t len = gen_rsize(t);
	enum kind k = pick_kind(t, 70);

	if (rnd(t, 4) == 0 && len > (1u << 17))
		len = rnd(t, 4096);
	iov->iov_len = len;
	iov->iov_base = (void *)(uintptr_t)place_buf(t, k, len, rw);
	D(t, "/%llu ", (unsigned long long)len);
}

static void op_read(struct th *t)
{
	uint32_t how = rnd(t, 100), cnt = 1, i;
	struct iovec iov[16], *iovp = iov;
	uint64_t iov_addr = 0, size;
	bool rw = false, rw1;
	long ret = 0;
	int fd, err = 0;
	enum kind k;

	t->op = "read";
	if (how < 50) {
		/* Plain read() only where it cannot block. */
		D(t, "read(");
		fd = pick_fd(t, true);
		size = gen_rsize(t);
		k = pick_kind(t, 65);
		D(t, ", buf=");
		iov[0].iov_base = (void *)(uintptr_t)place_buf(t, k, size, &rw);
		iov[0].iov_len = size;
		D(t, ", %llu)", (unsigned long long)size);
	} else {
		uint32_t r = rnd(t, 100);

		D(t, how < 75 ? "readv(" : "preadv2(RWF_NOWAIT, ");
		fd = pick_fd(t, how < 75);
		cnt = r < 50 ? 1 : r < 80 ? 2 + rnd(t, 4) : r < 85 ? 0 : r < 90 ? 16 :
		      r < 94 ? 1024 : r < 97 ? 1025 : rnd32(t);
		D(t, ", iovcnt=%u [", cnt);
		for (i = 0; i < cnt && i < 16; i++) {
			gen_iov(t, &iov[i], &rw1);
			if (!i)
				rw = rw1;
		}
		/* Where the iovec array itself is. */
		k = pick_kind(t, 85);
		D(t, "] iov at ");
		iov_addr = place(t, R_ARG, k, iov, sizeof(iov[0]) * (cnt < 16 ? cnt : 16), NULL);
		iovp = (struct iovec *)(uintptr_t)iov_addr;
		D(t, ")");
		if (cnt != 1)
			rw = false;
	}
	if (t->dry)
		return;
	errno = 0;
	if (how < 50)
		ret = read(fd, iov[0].iov_base, iov[0].iov_len);
	else if (how < 75)
		ret = readv(fd, iovp, (int)cnt);
	else
		ret = preadv2(fd, iovp, (int)cnt, -1, RWF_NOWAIT);
	err = errno;
	if (!result(t, "read", ret, err, X_READ) || ret < 0)
		return;
	if (ret & 7)
		fail(t, "read: returned %ld, not a multiple of 8", ret);
	else if (cnt == 1 && (uint64_t)ret > iov[0].iov_len)
		fail(t, "read: returned %ld for %zu bytes", ret, iov[0].iov_len);
	else if (rw && ret > 0) {
		const char *why = check_records(iov[0].iov_base, (size_t)ret);

		if (why)
			fail(t, "read: %s in %ld bytes returned", why, ret);
	}
}

static void op_write(struct th *t)
{
	uint64_t size;
	long ret = 0;
	int fd, err;
	uint64_t buf;

	t->op = "write";
	D(t, "write(");
	fd = pick_fd(t, false);
	size = gen_rsize(t);
	D(t, ", buf=");
	buf = place_buf(t, pick_kind(t, 60), size, NULL);
	D(t, ", %llu)", (unsigned long long)size);
	if (t->dry)
		return;
	errno = 0;
	ret = write(fd, (const void *)(uintptr_t)buf, size);
	err = errno;
	if (result(t, "write", ret, err, X_READ) && ret >= 0)
		fail(t, "write: succeeded (%ld) on a device without write", ret);
}

static void op_poll(struct th *t)
{
	struct pollfd pf[8];
	uint32_t n = 1 + rnd(t, 8), nfds = n, i;
	int timeout = chance(t, 90) ? 0 : 1 + (int)rnd(t, 3);
	uint64_t addr;
	bool rw;
	long ret = 0;
	int err;

	t->op = "poll";
	D(t, "poll([");
	for (i = 0; i < n; i++) {
		pf[i].fd = pick_fd(t, false);
		pf[i].events = (short)(chance(t, 80) ? POLLIN | POLLRDNORM : rnd32(t));
		pf[i].revents = (short)rnd32(t);
		D(t, " ev %#x, ", (unsigned short)pf[i].events);
	}
	if (chance(t, 3))
		nfds = chance(t, 50) ? 0 : 1u << 20;
	D(t, "] at ");
	addr = place(t, R_ARG, pick_kind(t, 88), pf, sizeof(pf[0]) * n, &rw);
	D(t, ", nfds=%u, %d ms)", nfds, timeout);
	if (t->dry)
		return;
	errno = 0;
	ret = poll((struct pollfd *)(uintptr_t)addr, nfds, timeout);
	err = errno;
	if (!result(t, "poll", ret, err, 0) || ret < 0)
		return;
	if ((uint32_t)ret > nfds)
		fail(t, "poll: returned %ld for %u fds", ret, nfds);
	if (rw && nfds == n) {
		memcpy(pf, (void *)(uintptr_t)addr, sizeof(pf[0]) * n);
		for (i = 0; i < n; i++)
			if (pf[i].fd >= g_slot_base &&
			    (pf[i].revents & ~(POLLIN | POLLRDNORM | POLLNVAL)))
				fail(t, "poll: revents %#x on an evbus fd", (unsigned short)pf[i].revents);
	}
}

static void op_epoll(struct th *t)
{
	struct epoll_event ev;
	uint32_t r = rnd(t, 100);
	long ret = 0;
	int fd, op, err;

	t->op = "epoll";
	if (t->epfd < 0)
		return;
	if (r < 70) {
		op = r < 35 ? EPOLL_CTL_ADD : r < 50 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
		D(t, "epoll_ctl(%s, ", op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_MOD ? "MOD" : "DEL");
		fd = pick_fd(t, false);
		memset(&ev, 0, sizeof(ev));
		r = rnd(t, 100);
		ev.events = r < 40 ? EPOLLIN : r < 70 ? EPOLLIN | EPOLLET :
			    r < 80 ? EPOLLIN | EPOLLONESHOT : r < 90 ? EPOLLIN | EPOLLEXCLUSIVE :
			    rnd32(t) & ~(EPOLLWAKEUP);
		ev.data.u64 = (uint64_t)fd;
		D(t, ", events %#x)", ev.events);
		if (t->dry)
			return;
		errno = 0;
		ret = epoll_ctl(t->epfd, op, fd, &ev);
		err = errno;
		result(t, "epoll_ctl", ret, err, X_EEXIST);
		return;
	} else {
		struct epoll_event evs[16];
		int max = chance(t, 95) ? 1 + (int)rnd(t, 16) : (chance(t, 50) ? 0 : -1);
		int i;

		D(t, "epoll_wait(max %d, 0 ms)", max);
		if (t->dry)
			return;
		errno = 0;
		ret = epoll_wait(t->epfd, evs, max, 0);
		err = errno;
		if (!result(t, "epoll_wait", ret, err, 0) || ret < 0)
			return;
		for (i = 0; i < ret; i++)
			if (evs[i].events & ~(EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP))
				fail(t, "epoll_wait: events %#x", evs[i].events);
	}
}

/* ------------------------------------------------------------- io_uring */

enum { U_CMD, U_READ, U_TIMEOUT, U_NOP, U_CANCEL };
static const char *const u_name[] = { "URING_CMD", "READ", "LINK_TIMEOUT", "NOP", "ASYNC_CANCEL" };

struct usqe {
	int type;
	int which;		/* U_CMD: C_PUB / C_BATCH / -1 */
	bool async;
	bool done;
	int res;
	uint32_t count;
	uint32_t len;
	bool rw;
	char *buf;
};

/* user_data: the op's index in the upper bits, so that a stale request
 * (and cancel-by-user_data) can never be mistaken for one of this op's. */
static uint64_t u_data(struct th *t, uint32_t i)
{
	return ((uint64_t)(t->ops + 1) << 8) | i;
}

static void uring_cancel(struct th *t, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, ((uint64_t)(t->ops + 1) << 8) | 0xff);
	io_uring_submit(&t->ring);
}

static void op_uring(struct th *t)
{
	struct argdesc ad[8];
	struct usqe u[24];
	struct __kernel_timespec ts[8];
	uint32_t nops = chance(t, 60) ? 1 : 2 + rnd(t, 4), i, nsqe = 0, nreads = 0;
	bool dry = t->dry || !t->uring;	/* a ring given up on: generate only */
	int ret, got, submitted, cancels = 0;
	double t0;

	t->op = "io_uring";
	D(t, "io_uring[");
	memset(u, 0, sizeof(u));
	for (i = 0; i < nops; i++) {
		struct io_uring_sqe *sqe = NULL;
		struct evbus_uring_cmd c;
		uint32_t r = rnd(t, 100);
		int fd;

		D(t, " #%u ", nsqe);
		if (r < 78) {
			uint32_t cmd_op, g, r2 = rnd(t, 100);
			bool async = chance(t, 15), link;
			enum kind k;

			if (!g_uring_async)
				async = false;
			D(t, "URING_CMD(");
			fd = pick_fd(t, false);
			if (r2 < 50) {
				cmd_op = EVBUS_URING_PUBLISH, ad[i].which = C_PUB;
			} else if (r2 < 88) {
				cmd_op = EVBUS_URING_PUBLISH_BATCH, ad[i].which = C_BATCH;
			} else {
				static const uint32_t odd[] = { 0, 3, 4, 0xff, 0xffffffff,
							       EVBUS_IOC_PUBLISH };
				cmd_op = rnd(t, 2) ? odd[rnd(t, 6)] : rnd32(t);
				ad[i].which = -1;
				if (cmd_op == EVBUS_URING_PUBLISH || cmd_op == EVBUS_URING_PUBLISH_BATCH)
					cmd_op = 0;
			}
			D(t, ", cmd_op=%#x%s, arg=", cmd_op, async ? ", IOSQE_ASYNC" : "");
			if (ad[i].which < 0) {
				ad[i].which = rnd(t, 2) ? C_PUB : C_BATCH;
				gen_arg(t, &ad[i], nops > 1);
				ad[i].which = -1;
			} else {
				gen_arg(t, &ad[i], nops > 1);
			}
			memset(&c, 0, sizeof(c));
			c.arg = ad[i].addr;
			k = pick_kind(t, 90);
			if (k != K_GOOD)	/* a bad pointer in the command area itself */
				c.arg = bad_addr(t, k == K_MISALIGN || k == K_EDGE || k == K_RO ? K_NULL : k);
			if (chance(t, 4))
				c.flags = rnd32(t) | 1;
			if (chance(t, 4))
				c.reserved = rnd32(t) | 1;
			D(t, " cmd={arg=%#llx flags=%#x reserved=%#x}", (unsigned long long)c.arg,
			  c.flags, c.reserved);
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
				sqe->cmd_op = cmd_op;
				memcpy(&sqe->addr3, &c, sizeof(c));
				if (async)
					sqe->flags |= IOSQE_ASYNC;
			}
			r2 = rnd(t, 100);
			g = rnd32(t) | 1;
			if (r2 < 3) {
				D(t, " rw_flags=%#x", g);
				if (sqe)
					sqe->rw_flags = g;
			} else if (r2 < 5) {
				D(t, " __pad1=%#x", g);
				if (sqe)
					sqe->__pad1 = g;
			}
			D(t, ")");
			/* Now and then a NOP linked behind it: it must run iff the command succeeded. */
			link = chance(t, 12) && g_uring_async;
			u[nsqe].type = U_CMD;
			u[nsqe].which = ad[i].which;
			u[nsqe].count = ad[i].count;
			u[nsqe].async = async;
			if (sqe) {
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
				if (link)
					sqe->flags |= IOSQE_IO_LINK;
			}
			nsqe++;
			if (link) {
				D(t, " linked to NOP");
				if (!dry) {
					sqe = io_uring_get_sqe(&t->ring);
					io_uring_prep_nop(sqe);
					io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
				}
				u[nsqe++].type = U_NOP;
			}
		} else {
			uint64_t len = gen_rsize(t), off = chance(t, 90) ? (uint64_t)-1 : rnd64(t);
			uint64_t buf;
			bool rw;

			if (len > 0xffffffffULL)
				len = rnd(t, 2) ? 0xffffffff : rnd(t, 1u << 16);
			D(t, "READ(");
			fd = pick_fd(t, false);
			D(t, ", buf=");
			buf = place_buf(t, pick_kind(t, 70), len, &rw);
			D(t, ", len=%llu, off=%lld) linked to TIMEOUT(", (unsigned long long)len,
			  (long long)off);
			ts[i].tv_sec = 0;
			ts[i].tv_nsec = 1000000 * (1 + rnd(t, 3));
			D(t, "%lld ms)", (long long)ts[i].tv_nsec / 1000000);
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_read(sqe, fd, (void *)(uintptr_t)buf, (unsigned)len, off);
				sqe->flags |= IOSQE_IO_LINK;
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
			}
			u[nsqe].type = U_READ;
			u[nsqe].len = (uint32_t)len;
			u[nsqe].rw = rw;
			u[nsqe].buf = (char *)(uintptr_t)buf;
			nsqe++;
			nreads++;
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_link_timeout(sqe, &ts[i], 0);
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
			}
			u[nsqe].type = U_TIMEOUT;
			nsqe++;
		}
	}
	D(t, " ]");
	if (dry)
		return;

	/* Without IORING_SETUP_SUBMIT_ALL a failing SQE stops the submission. */
	for (submitted = 0; submitted < (int)nsqe;) {
		ret = io_uring_submit(&t->ring);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret <= 0) {
			fail(t, "io_uring_submit: %d (%s) with %d of %u SQEs in", ret,
			     errname(-ret), submitted, nsqe);
			t->uring = false;	/* leave the ring alone from now on */
			return;
		}
		submitted += ret;
	}
	t0 = now_s();
	for (got = 0; got < (int)nsqe;) {
		struct __kernel_timespec wait = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
		struct io_uring_cqe *cqe;
		uint64_t ud;

		ret = io_uring_wait_cqe_timeout(&t->ring, &cqe, &wait);
		if (ret == -ETIME) {
			double waited = now_s() - t0;

			/*
			 * A read whose linked timeout could not cancel it
			 * (ENOENT: caught between poll wake-up and retry) waits
			 * for data that may never come: cancel it by hand.
			 */
			if (waited > 2 && cancels < 20) {
				for (i = 0; i < nsqe; i++)
					if (!u[i].done && u[i].type == U_READ) {
						uring_cancel(t, u_data(t, i));
						cancels++;
					}
			}
			if (waited < 30)
				continue;
			for (i = 0; i < nsqe; i++)
				if (!u[i].done)
					fail(t, "io_uring: #%u %s%s%s never completed (%.0f s)", i,
					     u_name[u[i].type],
					     u[i].type == U_CMD && u[i].which >= 0 ?
					     (u[i].which == C_BATCH ? " PUBLISH_BATCH" : " PUBLISH") : "",
					     u[i].async ? " IOSQE_ASYNC" : "", waited);
			t->uring = false;	/* leave the ring alone from now on */
			return;
		}
		if (ret == -EINTR)
			continue;
		if (ret) {
			fail(t, "io_uring_wait_cqe: %d (%s)", ret, errname(-ret));
			t->uring = false;
			return;
		}
		ud = io_uring_cqe_get_data64(cqe);
		i = (uint32_t)(ud & 0xff);
		if ((ud >> 8) != t->ops + 1 || (i >= nsqe && i != 0xff)) {
			fail(t, "io_uring: completion with unexpected user_data %#llx (res %d)",
			     (unsigned long long)ud, cqe->res);
		} else if (i == 0xff) {
			/* our ASYNC_CANCEL: 0, ENOENT or EALREADY */
			if (cqe->res && cqe->res != -ENOENT && cqe->res != -EALREADY)
				fail(t, "io_uring: ASYNC_CANCEL gave %d", cqe->res);
		} else if (u[i].done) {
			fail(t, "io_uring: #%u %s completed twice (res %d, then %d)", i,
			     u_name[u[i].type], u[i].res, cqe->res);
		} else {
			u[i].done = true;
			u[i].res = cqe->res;
			got++;
		}
		io_uring_cqe_seen(&t->ring, cqe);
	}

	for (i = 0; i < nsqe; i++) {
		int res = u[i].res;

		switch (u[i].type) {
		case U_CMD:
			if (!result(t, "URING_CMD", res, -res, 0))
				break;
			if (u[i].which < 0) {
				if (res >= 0)
					fail(t, "URING_CMD: unknown cmd_op succeeded (%d)", res);
			} else if (res >= 0) {
				if (u[i].which == C_PUB && res != 0)
					fail(t, "URING_CMD PUBLISH: res %d, not 0", res);
				/* A whole batch completes with 0, never a count. */
				if (u[i].which == C_BATCH && res != 0)
					fail(t, "URING_CMD PUBLISH_BATCH: res %d for count %u",
					     res, u[i].count);
			}
			break;
		case U_NOP:
			/* Linked behind u[i - 1], a URING_CMD. */
			if (u[i - 1].res >= 0 ? res != 0 : res != -ECANCELED)
				fail(t, "io_uring: NOP linked behind URING_CMD #%u (res %d) completed with %d (%s)",
				     i - 1, u[i - 1].res, res, errname(res < 0 ? -res : 0));
			result(t, "NOP", res, -res, X_CANCEL);
			break;
		case U_READ:
			if (!result(t, "READ", res, -res, X_READ | X_CANCEL) || res < 0)
				break;
			if ((res & 7) || (uint32_t)res > u[i].len)
				fail(t, "READ: res %d for len %u", res, u[i].len);
			else if (u[i].rw && nreads == 1 && res > 0) {
				const char *why = check_records(u[i].buf, (size_t)res);

				if (why)
					fail(t, "READ: %s in %d bytes", why, res);
			}
			break;
		case U_TIMEOUT:
			result(t, "LINK_TIMEOUT", res, -res, X_TIMEOUT);
			break;
		}
	}
}

/* --------------------------------------------------------------- workers */

static void print_failures(struct th *t)
{
	uint64_t saved = t->rng;
	int i;

	/* Regenerate the call from its starting state, this time decoded. */
	t->rng = t->rng_at_call;
	t->dry = true;
	t->describe = true;
	t->dlen = 0;
	t->desc[0] = 0;
	if (t->worker)
		worker_op(t);
	t->dry = false;
	t->describe = false;
	t->rng = saved;

	pthread_mutex_lock(&g_print_lock);
	for (i = 0; i < t->nfailmsg && g_fail_printed < FAIL_PRINT_MAX; i++, g_fail_printed++) {
		if (t->worker)
			fprintf(stderr, "ioctl-fuzz: FAIL seed=%llu %s call=%lu: %s\n"
				"  call: %s\n  replay: ioctl_fuzz --seed %llu --threads %d --replay %s:%lu\n",
				g_seed, t->name, t->ops, t->failmsg[i], t->desc, g_seed,
				g_nworkers, t->name, t->ops);
		else
			fprintf(stderr, "ioctl-fuzz: FAIL seed=%llu %s (racer) iteration %lu: %s\n",
				g_seed, t->name, t->ops, t->failmsg[i]);
	}
	if (g_fail_printed == FAIL_PRINT_MAX) {
		fprintf(stderr, "ioctl-fuzz: (further failures not printed)\n");
		g_fail_printed++;
	}
	pthread_mutex_unlock(&g_print_lock);
	t->nfailmsg = 0;
}

static void worker_op(struct th *t)
{
	uint32_t r = rnd(t, 100);

	reset_bumps(t);
	if (r < 55)
		op_ioctl(t);
	else if (r < 67)
		op_read(t);
	else if (r < 70)
		op_write(t);
	else if (r < 75)
		op_poll(t);
	else if (r < 79)
		op_epoll(t);
	else if (t->uring_gen)
		op_uring(t);
	else
		op_ioctl(t);
}

static void th_init_worker(struct th *t)
{
	struct io_uring_params p;

	th_mem_init(t);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->uring = false;
	if (g_use_uring) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SUBMIT_ALL;
		if (!io_uring_queue_init_params(32, &t->ring, &p))
			t->uring = true;
		else if (!io_uring_queue_init(32, &t->ring, 0))
			t->uring = true;
	}
	t->uring_gen = t->uring;
}

static void th_fini_worker(struct th *t)
{
	if (t->uring)
		io_uring_queue_exit(&t->ring);
	if (t->epfd >= 0)
		close(t->epfd);
}

static void *worker_main(void *arg)
{
	struct th *t = arg;

	th_init_worker(t);
	for (t->ops = 0; t->ops < t->budget; t->ops++) {
		t->rng_at_call = t->rng;
		worker_op(t);
		if (t->nfailmsg)
			print_failures(t);
	}
	t->op = "done";
	th_fini_worker(t);
	__atomic_sub_fetch(&g_workers_left, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* ---------------------------------------------------------------- racers */

static bool running(void)
{
	return !__atomic_load_n(&g_stop, __ATOMIC_RELAXED);
}

static void racer_nap(struct th *t, uint32_t max_us)
{
	struct timespec ts = { 0, (long)rnd(t, max_us) * 1000 };

	if (ts.tv_nsec)
		nanosleep(&ts, NULL);
	else
		sched_yield();
}

static void quick_ioctl(struct th *t, int fd, unsigned int cmd, void *arg, const char *what)
{
	long ret;
	int err;

	errno = 0;
	ret = ioctl(fd, cmd, arg);
	err = errno;
	result(t, what, ret, err, 0);
}

static void sub_valid(struct th *t, int fd)
{
	struct evbus_sub s;
	char pat[320];

	memset(&s, 0, sizeof(s));
	s.pattern_len = (uint32_t)gen_text(t, pat, true);
	s.pattern = (uintptr_t)pat;
	quick_ioctl(t, fd, EVBUS_IOC_SUBSCRIBE, &s, "SUBSCRIBE");
}

/*
 * The per-user subscription cap, squeezed and relaxed while everything
 * else runs: subscribes then race with ENOSPC from max_user_subs (the
 * fuzzer is one user).  The value found at start is put back at the end.
 */
#define USER_SUBS_PARAM	"/sys/module/evbus/parameters/max_user_subs"
static char g_user_subs0[32];

static void user_subs_set(const char *val)
{
	int fd = open(USER_SUBS_PARAM, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		perror("ioctl-fuzz: max_user_subs");
	close(fd);
}

static void user_subs_squeeze(struct th *t)
{
	static const char *const vals[] = { "1", "8", "64", "512" };

	if (!g_user_subs0[0])
		return;
	user_subs_set(chance(t, 50) ? vals[rnd(t, 4)] : g_user_subs0);
}

/* Reopen, close, toggle O_NONBLOCK, read fdinfo, squeeze max_user_subs. */
static void *reopen_main(void *arg)
{
	struct th *t = arg;
	char path[64], buf[2048];

	while (running()) {
		int i = (int)rnd(t, NSLOTS), fd, flags, n;
		uint32_t r = rnd(t, 100);
		long ret;

		t->ops++;
		if (r < 14) {
			t->op = "close";
			ret = close(slot_fd(i));
			result(t, "close", ret, errno, 0);
		} else if (r < 84) {
			uint32_t m = rnd(t, 100);

			t->op = "reopen";
			flags = m < 45 ? O_RDWR : m < 65 ? O_RDONLY : m < 85 ? O_WRONLY :
				m < 92 ? O_PATH : O_RDWR | O_APPEND | O_TRUNC;
			if (slot_nonblock(i) || chance(t, 15))
				flags |= O_NONBLOCK;
			fd = open(EVBUS_DEV, flags | O_CLOEXEC);
			if (!result(t, "open", fd, errno, X_OPEN) || fd < 0)
				continue;
			if (!(flags & O_PATH)) {
				n = (int)rnd(t, 4);
				while (n-- > 0)
					sub_valid(t, fd);
				/* Now and then up to and past max_subs (ENOSPC). */
				if (chance(t, 4)) {
					char pat[32];
					struct evbus_sub sb = { .pattern = (uintptr_t)pat };

					for (n = 0; n < (int)g_max_subs + 2; n++) {
						sb.pattern_len = (uint32_t)snprintf(pat, sizeof(pat),
								"fuzz.%s.n%d", words[rnd(t, NWORDS)], n);
						quick_ioctl(t, fd, EVBUS_IOC_SUBSCRIBE, &sb, "SUBSCRIBE");
					}
				}
				if (chance(t, 40)) {
					struct evbus_ring_cfg c = {
						.size = 1u << (12 + rnd(t, 6)),
						.policy = rnd(t, 2),
					};
					quick_ioctl(t, fd, EVBUS_IOC_SET_RING, &c, "SET_RING");
				}
			}
			ret = dup2(fd, slot_fd(i));
			result(t, "dup2", ret, errno, 0);
			close(fd);
			if (chance(t, 3))
				user_subs_squeeze(t);
		} else if (r < 92) {
			t->op = "fcntl";
			if (slot_nonblock(i))
				i += NSLOTS / 2;
			flags = fcntl(slot_fd(i), F_GETFL);
			if (result(t, "fcntl", flags, errno, 0) && flags >= 0) {
				ret = fcntl(slot_fd(i), F_SETFL, flags ^ O_NONBLOCK);
				result(t, "fcntl", ret, errno, 0);
			}
		} else {
			t->op = "fdinfo";
			snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", slot_fd(i));
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (!result(t, "fdinfo open", fd, errno, X_ENOENT_ONLY) || fd < 0)
				continue;
			while ((ret = read(fd, buf, sizeof(buf))) > 0)
				;
			result(t, "fdinfo read", ret, errno, X_READ);
			close(fd);
		}
		if (t->nfailmsg)
			print_failures(t);
		racer_nap(t, 300);
	}
	return NULL;
}

/* Subscribe and unsubscribe random ids on the slots, read stats. */
static void *unsub_main(void *arg)
{
	struct th *t = arg;

	while (running()) {
		int fd = slot_fd((int)rnd(t, NSLOTS));
		uint32_t r = rnd(t, 100), id = rnd(t, 40);

		t->ops++;
		if (r < 55) {
			t->op = "unsubscribe";
			quick_ioctl(t, fd, EVBUS_IOC_UNSUBSCRIBE, r < 52 ? &id : NULL, "UNSUBSCRIBE");
		} else if (r < 85) {
			t->op = "subscribe";
			sub_valid(t, fd);
		} else if (r < 92) {
			struct evbus_stats st;

			t->op = "stats";
			memset(&st, 0, sizeof(st));
			quick_ioctl(t, fd, EVBUS_IOC_STATS, &st, "STATS");
		} else {
			struct evbus_ring_cfg c;

			t->op = "get_ring";
			quick_ioctl(t, fd, EVBUS_IOC_GET_RING, &c, "GET_RING");
		}
		if (t->nfailmsg)
			print_failures(t);
		racer_nap(t, 200);
	}
	return NULL;
}

/*
 * Blocking read()/poll(): reader0 on its own file subscribed to ">" (every
 * valid publish wakes it), reader1 on the blocking slots.  SIGUSR1 from the
 * main thread (no SA_RESTART) bounds every wait.
 */
static void *reader_main(void *arg)
{
	struct th *t = arg;
	static const size_t sizes[] = { 40, 80, 96, 128, 4096, 65536, 1u << 20 };

	while (running()) {
		int fd = t->idx == 0 ? t->priv_fd : slot_fd(NSLOTS / 2 + (int)rnd(t, NSLOTS / 2));
		size_t size = chance(t, 80) ? sizes[rnd(t, 7)] : rnd(t, 1u << 20);
		uint32_t r = rnd(t, 100);
		long ret;
		int err;

		t->ops++;
		if (r < 75) {
			t->op = "blocking read";
			errno = 0;
			ret = read(fd, t->rbuf, size);
			err = errno;
			if (result(t, "blocking read", ret, err, X_READ) && ret > 0) {
				const char *why = (size_t)ret > size ? "more than asked" :
						  check_records(t->rbuf, (size_t)ret);

				if (why)
					fail(t, "blocking read: %s (%ld bytes)", why, ret);
			}
		} else if (r < 90) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			t->op = "blocking poll";
			errno = 0;
			ret = poll(&pf, 1, 1000);
			result(t, "blocking poll", ret, errno, 0);
		} else if (t->idx == 0) {
			struct evbus_ring_cfg c = {
				.size = chance(t, 50) ? 0 : 1u << (12 + rnd(t, 4)),
				.policy = rnd(t, 2),
			};

			t->op = "reader set_ring";
			quick_ioctl(t, fd, EVBUS_IOC_SET_RING, &c, "SET_RING");
		}
		if (t->nfailmsg)
			print_failures(t);
	}
	return NULL;
}

/* -------------------------------------------------------------- the run */

static const char *const stat_names[] = {
	"open_files", "subscriptions", "queued_events", "queued_bytes", "ring_bytes",
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

static bool read_stats(long long *v)
{
	char path[128], buf[64];
	size_t i;

	for (i = 0; i < NSTATS; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", stat_names[i]);
		f = fopen(path, "r");
		if (!f)
			return false;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			return false;
		}
		fclose(f);
		v[i] = strtoll(buf, NULL, 10);
	}
	return true;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void on_alarm(int sig)
{
	char buf[4096];
	size_t n = 0;
	int i;

	(void)sig;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "\nioctl-fuzz: HANG: no progress for %u s (seed %llu); where each thread is:\n",
			      g_hang, g_seed);
	for (i = 0; i < g_nth && n < sizeof(buf) - 200; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "  %-8s call %lu: %s\n",
				      g_th[i]->name, g_th[i]->ops,
				      g_th[i]->op ? g_th[i]->op : "-");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "ioctl-fuzz: 0 passed, 1 failed\n");
	if (write(2, buf, n) < 0)
		_exit(3);
	_exit(3);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	int n;

	(void)uc;
	n = snprintf(buf, sizeof(buf),
		     "ioctl-fuzz: signal %d at %p: the fuzzer itself faulted (seed %llu)\n"
		     "ioctl-fuzz: 0 passed, 1 failed\n", sig, si->si_addr, g_seed);
	if (write(2, buf, (size_t)n) < 0)
		_exit(2);
	_exit(2);
}

static int open_slot(int i, int flags)
{
	int fd = open(EVBUS_DEV, flags | O_CLOEXEC | (slot_nonblock(i) ? O_NONBLOCK : 0));

	if (fd < 0 || dup2(fd, slot_fd(i)) < 0) {
		perror("ioctl-fuzz: open " EVBUS_DEV);
		exit(2);
	}
	close(fd);
	return slot_fd(i);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ioctl_fuzz [--calls N] [--seed S] [--threads T] [--no-race]\n"
		"                  [--no-uring] [--no-uring-async-link] [--hang SECS]\n"
		"                  [--replay wT:I]\n");
	exit(2);
}

static struct th *new_th(const char *name, int idx, bool worker, uint64_t salt)
{
	struct th *t = calloc(1, sizeof(*t));

	if (!t) {
		perror("ioctl-fuzz: calloc");
		exit(2);
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->idx = idx;
	t->worker = worker;
	t->rng = g_seed * 0x9e3779b97f4a7c15ULL ^ (salt + 1) * 0xd1b54a32d192ed03ULL;
	t->epfd = -1;
	t->priv_fd = -1;
	g_th[g_nth++] = t;
	return t;
}

static int replay(int w, unsigned long idx)
{
	struct th *t = g_th[w];

	th_init_worker(t);
	for (t->ops = 0; t->ops < idx; t->ops++) {
		t->dry = true;
		reset_bumps(t);
		worker_op(t);
	}
	t->dry = true;
	t->describe = true;
	t->rng_at_call = t->rng;
	worker_op(t);
	printf("ioctl-fuzz: seed %llu %s call %lu:\n  %s\n", g_seed, t->name, idx, t->desc);
	t->dry = false;
	t->describe = false;
	t->rng = t->rng_at_call;
	worker_op(t);
	if (t->nfailmsg) {
		int i;

		for (i = 0; i < t->nfailmsg; i++)
			printf("  FAIL: %s\n", t->failmsg[i]);
	} else {
		int e;

		for (e = 0; e <= ERRNO_MAX; e++)
			if (t->hist[e])
				printf("  result: %s x%lu\n", e ? errname(e) : "success", t->hist[e]);
	}
	return t->nfailmsg ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct th *workers[MAX_WORKERS], *racers[NRACERS] = { 0 };
	long long before[NSTATS], after[NSTATS];
	unsigned long total_ops = 0, results = 0, fails = 0, last = ~0ul;
	unsigned long hist[ERRNO_MAX + 1] = { 0 };
	struct evbus_version v;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t block;
	int i, e, ctl, replay_w = -1, nuring = 0, nabandoned = 0;
	unsigned long replay_i = 0;
	double t_end, t_usr1 = 0;
	size_t s;
	bool ok;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--calls") && i + 1 < argc)
			g_calls = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--seed") && i + 1 < argc)
			g_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(a, "--threads") && i + 1 < argc)
			g_nworkers = atoi(argv[++i]);
		else if (!strcmp(a, "--hang") && i + 1 < argc)
			g_hang = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(a, "--no-race"))
			g_race = false;
		else if (!strcmp(a, "--no-uring"))
			g_use_uring = false;
		else if (!strcmp(a, "--no-uring-async-link"))
			g_uring_async = false;
		else if (!strcmp(a, "--replay") && i + 1 < argc &&
			 sscanf(argv[++i], "w%d:%lu", &replay_w, &replay_i) == 2)
			;
		else
			usage();
	}
	if (g_nworkers < 1 || g_nworkers > MAX_WORKERS || !g_hang ||
	    (replay_w >= 0 && replay_w >= g_nworkers))
		usage();
	clock_gettime(CLOCK_MONOTONIC, &g_t0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (access(EVBUS_DEV, F_OK)) {
		printf("ioctl-fuzz: SKIP: no %s (run it in the VM: tests/vm/run -- %s)\n",
		       EVBUS_DEV, argv[0]);
		return 4;
	}
	if (!read_stats(before)) {
		fprintf(stderr, "ioctl-fuzz: cannot read /sys/kernel/evbus/stats\n");
		return 2;
	}

	/* Limits for the generators. */
	ctl = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
	memset(&v, 0, sizeof(v));
	if (ctl < 0 || ioctl(ctl, EVBUS_IOC_VERSION, &v)) {
		perror("ioctl-fuzz: EVBUS_IOC_VERSION");
		return 2;
	}
	g_max_payload = v.max_payload;
	g_ring_max = v.ring_max;
	g_max_subs = v.max_subs;
	{
		FILE *f = fopen(USER_SUBS_PARAM, "r");

		if (f && !fgets(g_user_subs0, sizeof(g_user_subs0), f))
			g_user_subs0[0] = 0;
		if (f)
			fclose(f);
		g_user_subs0[strcspn(g_user_subs0, "\n")] = 0;
	}

	/* Slots live at high, fixed numbers nothing else gets. */
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 256) {
		fprintf(stderr, "ioctl-fuzz: RLIMIT_NOFILE too low\n");
		return 2;
	}
	g_slot_base = rl.rlim_cur > 1024 ? 900 : (int)rl.rlim_cur - 2 * NSLOTS - 8;
	g_noacc = xmmap(NULL, NOACC_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	/* A replay has no reopener to vary the modes: O_RDWR everywhere. */
	for (i = 0; i < NSLOTS; i++)
		open_slot(i, replay_w >= 0 || i % 4 == 0 || i % 4 == 3 ? O_RDWR :
			     i % 4 == 1 ? O_RDONLY : O_WRONLY);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < g_nworkers; i++) {
		char name[12];

		snprintf(name, sizeof(name), "w%d", i);
		workers[i] = new_th(name, i, true, (uint64_t)i);
		workers[i]->budget = g_calls / (unsigned long)g_nworkers +
				     ((unsigned long)i < g_calls % (unsigned long)g_nworkers);
	}
	if (replay_w >= 0)
		return replay(replay_w, replay_i);

	printf("ioctl-fuzz: seed %llu, %lu calls over %d workers%s, max_payload %u ring_max %u max_subs %u\n",
	       g_seed, g_calls, g_nworkers, g_race ? " + 4 racers" : "", g_max_payload,
	       g_ring_max, g_max_subs);

	if (g_race) {
		static const char *const rn[NRACERS] = { "reopen", "unsub", "reader0", "reader1" };

		for (i = 0; i < NRACERS; i++)
			racers[i] = new_th(rn[i], i < 2 ? 0 : i - 2, false, 1000 + (uint64_t)i);
		racers[2]->priv_fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
		if (racers[2]->priv_fd < 0 || evt_sub(racers[2]->priv_fd, ">") < 0) {
			perror("ioctl-fuzz: reader file");
			return 2;
		}
		for (i = 2; i < NRACERS; i++)
			racers[i]->rbuf = xmmap(NULL, 1u << 20, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1);
	}

	/* Only the main thread takes SIGALRM. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	g_workers_left = g_nworkers;
	for (i = 0; i < g_nworkers; i++)
		if (pthread_create(&workers[i]->tid, NULL, worker_main, workers[i])) {
			perror("ioctl-fuzz: pthread_create");
			return 2;
		}
	static void *(*const racer_fn[NRACERS])(void *) = {
		reopen_main, unsub_main, reader_main, reader_main,
	};
	for (i = 0; g_race && i < NRACERS; i++)
		if (pthread_create(&racers[i]->tid, NULL, racer_fn[i], racers[i])) {
			perror("ioctl-fuzz: pthread_create");
			return 2;
		}
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);

	/* Watch progress; poke the blocked readers; stop the racers at the end. */
	alarm(g_hang);
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		unsigned long prog = 0;
		int left = __atomic_load_n(&g_workers_left, __ATOMIC_SEQ_CST);

		for (i = 0; i < g_nth; i++)
			prog += __atomic_load_n(&g_th[i]->results, __ATOMIC_RELAXED);
		if (prog != last) {
			last = prog;
			alarm(g_hang);
		}
		if (!left)
			break;
		if (g_race && now_s() - t_usr1 > 0.02) {
			t_usr1 = now_s();
			pthread_kill(racers[2]->tid, SIGUSR1);
			pthread_kill(racers[3]->tid, SIGUSR1);
		}
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < g_nworkers; i++)
		pthread_join(workers[i]->tid, NULL);
	__atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
	if (g_race) {
		evt_pub(ctl, "fuzz.stop", "bye");
		for (i = 0; i < NRACERS; i++) {
			while (pthread_tryjoin_np(racers[i]->tid, NULL) == EBUSY) {
				struct timespec ts = { 0, 2 * 1000 * 1000 };

				pthread_kill(racers[i]->tid, SIGUSR1);
				nanosleep(&ts, NULL);
			}
			alarm(g_hang);
		}
		close(racers[2]->priv_fd);
	}
	alarm(0);
	t_end = now_s();

	for (i = 0; i < g_nworkers; i++) {
		nuring += workers[i]->uring_gen;
		nabandoned += workers[i]->uring_gen && !workers[i]->uring;
	}
	for (i = 0; i < NSLOTS; i++)
		close(slot_fd(i));
	close(ctl);
	if (g_user_subs0[0])
		user_subs_set(g_user_subs0);

	/* Every file is closed: the global gauges must come back (io_uring
	 * drops its file references from a work item, so allow a moment). */
	for (i = 0; i < 200; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (!read_stats(after))
			break;
		if (!memcmp(before, after, sizeof(before)))
			break;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < g_nth; i++) {
		total_ops += g_th[i]->worker ? g_th[i]->ops : 0;
		results += g_th[i]->results;
		fails += g_th[i]->fails;
		for (e = 0; e <= ERRNO_MAX; e++)
			hist[e] += g_th[i]->hist[e];
	}
	ok = read_stats(after);
	printf("ioctl-fuzz: %lu operations in %.1f s (%.0f/s), io_uring %s",
	       total_ops, t_end, total_ops / (t_end > 0 ? t_end : 1),
	       nuring ? "used" : "unavailable");
	if (nabandoned)
		printf(" (%d of %d rings given up after a failure)", nabandoned, nuring);
	printf("; racers:");
	for (i = 0; g_race && i < NRACERS; i++)
		printf(" %s %lu", racers[i]->name, racers[i]->ops);
	printf("\nioctl-fuzz: results:");
	for (e = 0; e <= ERRNO_MAX; e++)
		if (hist[e])
			printf(" %s %lu", e == ERRNO_MAX ? "other" : e ? errname(e) : "ok", hist[e]);
	printf("\nioctl-fuzz: stats before -> after:");
	for (s = 0; s < NSTATS; s++) {
		printf(" %s %lld->%lld", stat_names[s], before[s], ok ? after[s] : -1);
		if (!ok || before[s] != after[s]) {
			fprintf(stderr, "ioctl-fuzz: FAIL: /sys/kernel/evbus/stats/%s is %lld after the run, %lld before\n",
				stat_names[s], ok ? after[s] : -1, before[s]);
			fails++;
		}
	}
	printf("\n");
	printf("ioctl-fuzz: %lu passed, %lu failed\n", results - (fails < results ? fails : results), fails);
	return fails ? 1 : 0;
}
