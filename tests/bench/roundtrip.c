// SPDX-License-Identifier: GPL-2.0
/*
 * Round trip of an approval (issue #16, section 6): one process asks, C
 * others answer "allow" at once, in turn; what does one round trip cost?
 *
 *   roundtrip --peer evbus|unix|fanotify [--workload approval] [--n N]
 *             [--chain C] [--warmup W] [--size BYTES] [--baseline]
 *             [--wake adaptive|immediate] [--ring BYTES] [--dir DIR]
 *             [--quiet]
 *   roundtrip --list-peers
 *
 * The parent is the asker; it forks C responders (--chain, default 1, at
 * most 8), each a process of its own, waits until all are ready, makes W
 * untimed round trips (--warmup, default 1000), then N timed ones
 * (default 20000), one after the other:
 *
 *   evbus     responder i opens /dev/evbus, gives its file a --ring ring
 *             (default 64 KiB, DROP_OLDEST; wake-ups --wake: adaptive, the
 *             module's default, or immediate) and registers as an approver
 *             of the topic "bench.approval" (EVBUS_IOC_APPROVER_ADD,
 *             priority C - i so responder 0 is asked first, deflt
 *             EVBUS_ALLOW); it read()s its EVBUS_REC_REQUEST records and
 *             answers each with EVBUS_IOC_VERDICT, EVBUS_VERDICT_ALLOW.
 *             (The gate wakes an approver as soon as a request is queued,
 *             whatever the ring's wake-up mode: --wake immediate measured
 *             the same as adaptive, within 0.3 %.)
 *             The asker publishes a --size byte event (default 64) on the
 *             topic with EVBUS_IOC_PUBLISH and evbus_pub.flags =
 *             EVBUS_PUB_ASK (deadline_ns 0: the module's default); the
 *             call returns once the chain of C approvers allowed it and the
 *             event is published.  Raw ioctls of the project's uapi, as
 *             every bench peer.
 *   unix      responder i has one end of a socketpair(AF_UNIX,
 *             SOCK_STREAM); the asker writes a --size byte request to
 *             responder 0 and reads its 16-byte reply, then responder 1's,
 *             and so on: C request/replies per round trip, the way a
 *             userspace chain of C policy daemons would be asked.
 *   fanotify  the asker opens (O_RDONLY) and closes a file in a tmpfs
 *             (--dir, default /dev/shm, checked to be tmpfs); responder i
 *             is a fanotify group (fanotify_init FAN_CLASS_CONTENT, needs
 *             CAP_SYS_ADMIN and CONFIG_FANOTIFY_ACCESS_PERMISSIONS) with a
 *             FAN_OPEN_PERM mark on that file: it read()s the permission
 *             event, writes FAN_ALLOW for it and closes the event's file
 *             descriptor.  With C groups the kernel asks them in turn, as
 *             evbus asks a chain.
 *
 * --baseline: the asker's operation with nobody to ask (no responders):
 * evbus publishes the same event without EVBUS_PUB_ASK (nobody
 * subscribed); fanotify opens and closes the file with no group watching;
 * unix has none (exit 3).  Subtracted from a round trip it leaves what
 * asking added.
 *
 * Measured over the N timed round trips: CLOCK_MONOTONIC (under
 * tests/vm/run --icount one nanosecond is one guest instruction, so
 * ns_per_rt is instructions per round trip: every process and the kernel
 * on the one vCPU), the asker's CPU time (CLOCK_PROCESS_CPUTIME_ID) and
 * the responders' (/proc/PID/schedstat, read before and after the window),
 * context switches (getrusage, /proc/PID/status), and the syscalls the
 * program makes (counted, not traced).
 *
 * Checked (not timed): every round trip answered by every responder
 * (each responder counts the requests it answers; every request carries
 * the round trip's number, which must go 1, 2, ... at each responder:
 * evbus in the event's payload, unix in the request, fanotify by the
 * asker's pid), every reply an allow, every ask published, and for
 * evbus the bus's gate counters (EVBUS_IOC_BUS_STATS): asked = round
 * trips, requests = round trips x C, allowed = round trips, and nothing
 * denied, expired, gone, full, withdrawn or unanswered.  A violation
 * fails the run ("ok": false, exit 1).  Nothing asserts a speed.
 *
 * Output: one JSON line on stdout, a human line on stderr (unless
 * --quiet).  Fields: workload ("approval") peer baseline chain n warmup
 * payload ok wall_ns ns_per_rt rt_per_s client_cpu_ns_per_rt
 * server_cpu_ns_per_rt cpu_ns_per_rt (both) cpu_share (CPU time of all
 * processes over wall time: under 1, the rest was other processes, idle
 * guest time or interrupts) ctx_switches ctx_per_rt syscalls_per_rt
 * client_syscalls_per_rt server_syscalls_per_rt answered expected bad
 * (requests out of order or not as sent) wake ring sock gate
 * ({asked,requests,allowed,other}: the deltas of the bus's counters over
 * warm-up and timed round trips, evbus only) error.
 *
 * Exit status: 0 ok, 1 the run failed, 2 usage, 3 this peer cannot do it
 * here (no approval gate in the module, no fanotify permission events, no
 * tmpfs, unix --baseline): run-bench records that as skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "evbus_test.h"

#define MAX_CHAIN	8
#define RDBUF		(64 * 1024)
#define TOPIC		"bench.approval"
#define TMPFS_MAGIC_	0x01021994
#define ALIGN8(x)	(((x) + 7) & ~(size_t)7)
#define ULL(x)		((unsigned long long)(x))

enum peer { P_EVBUS, P_UNIX, P_FANOTIFY };
static const char *const peer_names[] = { "evbus", "unix", "fanotify" };

static struct {
	enum peer peer;
	unsigned int chain, size, ring;
	uint64_t n, warmup;
	int baseline, immediate, quiet;
	const char *dir;
} opt = {
	.peer = P_EVBUS, .chain = 1, .size = 64, .ring = 64 * 1024,
	.n = 20000, .warmup = 1000, .dir = "/dev/shm",
};

/* One responder's results, in a shared mapping; its own cache line. */
struct resp_res {
	uint64_t answered;	/* requests answered (counted before answering) */
	uint64_t syscalls;	/* counted before each call */
	uint64_t bad;		/* requests out of order or not as sent */
	int32_t error;		/* first errno, 0 if none */
	uint32_t id;		/* evbus: its approver id */
	char pad[32];
};
static struct resp_res *res;

struct unix_reply {
	uint64_t seq;
	uint32_t verdict;	/* 1: allow */
	uint32_t pad;
};

static pid_t kids[MAX_CHAIN];
static int socks[MAX_CHAIN];		/* unix: the asker's ends */
static char path[PATH_MAX], tdir[PATH_MAX - 16];	/* fanotify: the file */
static char err_text[256];

static __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;

	if (err_text[0])
		return;
	va_start(ap, fmt);
	vsnprintf(err_text, sizeof(err_text), fmt, ap);
	va_end(ap);
}

static void stop_responders(void);

/* Exit 3; nothing left behind (responders already forked, the file). */
static void cannot(const char *why)
{
	stop_responders();
	if (path[0]) {
		unlink(path);
		rmdir(tdir);
	}
	fprintf(stderr, "roundtrip: %s: %s\n", peer_names[opt.peer], why);
	exit(3);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* --------------------------------------------------------- /proc samples */

static int read_text(const char *p, char *buf, size_t size)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, buf, size - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = 0;
	return 0;
}

/* A single-threaded child's CPU time (schedstat) and context switches. */
static int proc_sample(pid_t pid, uint64_t *cpu, uint64_t *ctx)
{
	char p[64], buf[4096], *s;
	unsigned long long v;
	unsigned long vol, nvol;

	snprintf(p, sizeof(p), "/proc/%d/schedstat", (int)pid);
	if (read_text(p, buf, sizeof(buf)) || sscanf(buf, "%llu", &v) != 1)
		return -1;
	*cpu = v;
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if (read_text(p, buf, sizeof(buf)))
		return -1;
	s = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!s || sscanf(s, "\nvoluntary_ctxt_switches: %lu", &vol) != 1)
		return -1;
	s = strstr(buf, "nonvoluntary_ctxt_switches:");
	if (!s || sscanf(s, "nonvoluntary_ctxt_switches: %lu", &nvol) != 1)
		return -1;
	*ctx = vol + nvol;
	return 0;
}

/* -------------------------------------------------------------- responders */

static void evbus_responder(unsigned int i, int ready)
{
	static char buf[RDBUF] __attribute__((aligned(8)));
	struct resp_res *r = &res[i];
	struct evbus_approver a;
	struct evbus_ring_cfg rc;
	struct evbus_verdict v;
	uint64_t last = 0;
	int fd = evt_open();

	if (fd < 0) {
		r->error = errno;
		goto out;
	}
	memset(&rc, 0, sizeof(rc));
	rc.size = opt.ring;
	rc.policy = EVBUS_POLICY_DROP_OLDEST;
	rc.flags = opt.immediate ? EVBUS_RING_IMMEDIATE : EVBUS_RING_ADAPTIVE;
	if (ioctl(fd, EVBUS_IOC_SET_RING, &rc)) {
		r->error = errno;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.pattern = (uintptr_t)TOPIC;
	a.pattern_len = strlen(TOPIC);
	a.priority = (int32_t)(opt.chain - i);
	a.deflt = EVBUS_ALLOW;
	if (ioctl(fd, EVBUS_IOC_APPROVER_ADD, &a)) {
		r->error = errno;
		goto out;
	}
	r->id = a.id;
	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.verdict = EVBUS_VERDICT_ALLOW;
out:
	if (write(ready, "", 1) != 1 || r->error)
		_exit(1);
	close(ready);
	for (;;) {
		struct evbus_rec_hdr *h;
		ssize_t n, left;

		r->syscalls++;
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r->error = errno;
			_exit(1);
		}
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_request *rq = (const void *)h;
			const struct evbus_event *ev;
			uint64_t seq;

			if (h->kind != EVBUS_REC_REQUEST) {
				r->bad++;	/* a cancelled request, say */
				continue;
			}
			ev = EVBUS_REQUEST_EVENT(rq);
			if (rq->approver_id != r->id || ev->payload_len != opt.size) {
				r->bad++;
			} else {
				memcpy(&seq, (const char *)ev + ev->hdr.hdr_len +
				       ALIGN8(ev->topic_len + 1), sizeof(seq));
				if (seq != last + 1)
					r->bad++;
				last = seq;
			}
			v.id = rq->id;
			r->answered++;
			r->syscalls++;
			if (ioctl(fd, EVBUS_IOC_VERDICT, &v)) {
				r->error = errno;
				_exit(1);
			}
		}
	}
}

static int read_full(int fd, void *buf, size_t len, uint64_t *calls)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		++*calls;
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		got += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t *calls)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n;

		++*calls;
		n = write(fd, (const char *)buf + put, len - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		put += n;
	}
	return 0;
}

static void unix_responder(unsigned int i, int ready, int fd)
{
	struct resp_res *r = &res[i];
	struct unix_reply rep = { .verdict = 1 };
	uint64_t last = 0, seq;
	char *req = malloc(opt.size);

	if (!req)
		r->error = ENOMEM;
	if (write(ready, "", 1) != 1 || r->error)
		_exit(1);
	close(ready);
	for (;;) {
		int ret = read_full(fd, req, opt.size, &r->syscalls);

		if (ret == -EPIPE)
			_exit(0);	/* the asker closed */
		if (ret) {
			r->error = -ret;
			_exit(1);
		}
		memcpy(&seq, req, sizeof(seq));
		if (seq != last + 1)
			r->bad++;
		last = seq;
		rep.seq = seq;
		r->answered++;
		ret = write_full(fd, &rep, sizeof(rep), &r->syscalls);
		if (ret) {
			r->error = -ret;
			_exit(1);
		}
	}
}

static void fanotify_responder(unsigned int i, int ready, pid_t asker)
{
	static char buf[4096] __attribute__((aligned(8)));
	struct resp_res *r = &res[i];
	struct fanotify_response resp = { .response = FAN_ALLOW };
	int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC,
			       O_RDONLY | O_LARGEFILE | O_CLOEXEC);

	if (fd < 0)
		r->error = errno;
	else if (fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, path))
		r->error = errno;
	if (write(ready, "", 1) != 1 || r->error)
		_exit(1);
	close(ready);
	for (;;) {
		struct fanotify_event_metadata *m;
		ssize_t n;

		r->syscalls++;
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r->error = errno;
			_exit(1);
		}
		for (m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION) {
				r->error = EPROTO;
				_exit(1);
			}
			if (m->mask != FAN_OPEN_PERM || m->pid != asker)
				r->bad++;
			resp.fd = m->fd;
			r->answered++;
			r->syscalls += 2;
			if (write(fd, &resp, sizeof(resp)) != sizeof(resp)) {
				r->error = errno ? errno : EIO;
				_exit(1);
			}
			if (m->fd >= 0)
				close(m->fd);
		}
	}
}

/* ---------------------------------------------------------------- the asker */

/* Fork the C responders and wait until each is ready: 0 or -1 (reported). */
static int start_responders(void)
{
	pid_t asker = getpid();

	for (unsigned int i = 0; i < opt.chain; i++) {
		int p[2], sv[2] = { -1, -1 };
		char c;

		if (pipe2(p, O_CLOEXEC))
			return fail("pipe: %s", strerror(errno)), -1;
		if (opt.peer == P_UNIX &&
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return fail("socketpair: %s", strerror(errno)), -1;
		kids[i] = fork();
		if (kids[i] < 0)
			return fail("fork: %s", strerror(errno)), -1;
		if (!kids[i]) {
			close(p[0]);
			for (unsigned int j = 0; j < i; j++)
				if (opt.peer == P_UNIX)
					close(socks[j]);
			switch (opt.peer) {
			case P_EVBUS:
				evbus_responder(i, p[1]);
				break;
			case P_UNIX:
				close(sv[0]);
				unix_responder(i, p[1], sv[1]);
				break;
			case P_FANOTIFY:
				fanotify_responder(i, p[1], asker);
				break;
			}
			_exit(1);
		}
		close(p[1]);
		if (opt.peer == P_UNIX) {
			close(sv[1]);
			socks[i] = sv[0];
		}
		if (read(p[0], &c, 1) != 1 || res[i].error) {
			int e = res[i].error;

			close(p[0]);
			if (opt.peer == P_EVBUS && e == ENOTTY)
				cannot("EVBUS_IOC_APPROVER_ADD unknown to the module");
			if (opt.peer == P_FANOTIFY &&
			    (e == EPERM || e == ENOSYS || e == EINVAL))
				cannot(e == EINVAL ? "no fanotify permission events "
				       "(CONFIG_FANOTIFY_ACCESS_PERMISSIONS)" :
				       "fanotify_init refused (CAP_SYS_ADMIN?)");
			return fail("responder %u: %s", i, strerror(e ? e : EIO)), -1;
		}
		close(p[0]);
	}
	return 0;
}

static void stop_responders(void)
{
	for (unsigned int i = 0; i < opt.chain; i++) {
		if (kids[i] <= 0)
			continue;
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		kids[i] = 0;
	}
}

struct asker {
	int fd;				/* evbus */
	struct evbus_pub pub;
	char *payload;
	uint64_t calls;			/* syscalls */
};

/* Round trips from..to (inclusive): 0 or -1 (reported). */
static int round_trips(struct asker *a, uint64_t from, uint64_t to)
{
	for (uint64_t k = from; k <= to; k++) {
		switch (opt.peer) {
		case P_EVBUS:
			memcpy(a->payload, &k, sizeof(k));
			a->calls++;
			if (ioctl(a->fd, EVBUS_IOC_PUBLISH, &a->pub))
				return fail("publish %llu: %s", ULL(k), strerror(errno)), -1;
			break;
		case P_UNIX:
			memcpy(a->payload, &k, sizeof(k));
			for (unsigned int i = 0; i < opt.chain; i++) {
				struct unix_reply rep;
				int ret = write_full(socks[i], a->payload, opt.size, &a->calls);

				if (!ret)
					ret = read_full(socks[i], &rep, sizeof(rep), &a->calls);
				if (ret)
					return fail("request %llu to %u: %s", ULL(k), i,
						    strerror(-ret)), -1;
				if (rep.seq != k || rep.verdict != 1)
					return fail("request %llu to %u: reply %llu/%u", ULL(k),
						    i, ULL(rep.seq), rep.verdict), -1;
			}
			break;
		case P_FANOTIFY: {
			int fd;

			a->calls += 2;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return fail("open %llu: %s", ULL(k), strerror(errno)), -1;
			close(fd);
			break;
		}
		}
	}
	return 0;
}

static uint64_t gate_other(const struct evbus_bus_stats *s)
{
	return s->approval_denied + s->approval_expired + s->approval_gone +
	       s->approval_full + s->approval_withdrawn + s->approval_nobody +
	       s->approval_pending;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: roundtrip --peer evbus|unix|fanotify [--workload approval] [--n N]\n"
		"                 [--chain C] [--warmup W] [--size BYTES] [--baseline]\n"
		"                 [--wake adaptive|immediate] [--ring BYTES] [--dir DIR] [--quiet]\n"
		"       roundtrip --list-peers\n");
	exit(2);
}

static unsigned long long num(const char *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || end == v || *end)
		usage();
	return x;
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--list-peers")) {
			for (size_t p = 0; p < sizeof(peer_names) / sizeof(*peer_names); p++)
				puts(peer_names[p]);
			exit(0);
		} else if (!strcmp(a, "--baseline")) {
			opt.baseline = 1;
			continue;
		} else if (!strcmp(a, "--quiet")) {
			opt.quiet = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--peer")) {
			size_t p;

			for (p = 0; p < sizeof(peer_names) / sizeof(*peer_names); p++)
				if (!strcmp(v, peer_names[p]))
					break;
			if (p == sizeof(peer_names) / sizeof(*peer_names))
				usage();
			opt.peer = p;
		} else if (!strcmp(a, "--workload")) {
			if (strcmp(v, "approval"))
				usage();
		} else if (!strcmp(a, "--n")) {
			opt.n = num(v);
		} else if (!strcmp(a, "--chain")) {
			opt.chain = num(v);
		} else if (!strcmp(a, "--warmup")) {
			opt.warmup = num(v);
		} else if (!strcmp(a, "--size")) {
			opt.size = num(v);
		} else if (!strcmp(a, "--ring")) {
			opt.ring = num(v);
		} else if (!strcmp(a, "--dir")) {
			opt.dir = v;
		} else if (!strcmp(a, "--wake")) {
			if (!strcmp(v, "immediate"))
				opt.immediate = 1;
			else if (strcmp(v, "adaptive"))
				usage();
		} else {
			usage();
		}
	}
	if (opt.n < 1 || opt.chain < 1 || opt.chain > MAX_CHAIN ||
	    opt.size < sizeof(uint64_t) || opt.size > 65536 || opt.ring > 1u << 30)
		usage();
	if (opt.baseline && opt.peer == P_UNIX)
		cannot("no baseline: a request/reply is nothing without the replier");
	if (opt.immediate && opt.peer != P_EVBUS)
		cannot("--wake is an evbus option");
	if (opt.baseline)
		opt.chain = 0;
}

int main(int argc, char **argv)
{
	struct evbus_bus_stats g0, g1;
	struct asker a = { .fd = -1 };
	uint64_t t0 = 0, t1 = 0, c0 = 0, c1 = 0, kc0[MAX_CHAIN], kc1[MAX_CHAIN];
	uint64_t kx0[MAX_CHAIN], kx1[MAX_CHAIN], kcpu = 0, kctx = 0, total;
	uint64_t answered = 0, bad = 0, ksys = 0, expected;
	struct rusage ru0, ru1;
	int ok = 1, gate = 0;
	char gtext[160] = "null";
	double wall, n;

	parse(argc, argv);
	total = opt.warmup + opt.n;
	res = mmap(NULL, sizeof(*res) * MAX_CHAIN, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	a.payload = calloc(1, opt.size);
	if (res == MAP_FAILED || !a.payload) {
		perror("roundtrip: memory");
		return 1;
	}
	memset(&g0, 0, sizeof(g0));
	memset(&g1, 0, sizeof(g1));

	/* The asker's side. */
	switch (opt.peer) {
	case P_EVBUS: {
		struct evbus_version ver;

		a.fd = evt_open();
		if (a.fd < 0) {
			if (errno == ENOENT)
				cannot("no /dev/evbus");
			fprintf(stderr, "roundtrip: open /dev/evbus: %s\n", strerror(errno));
			return 1;
		}
		if (!opt.baseline) {
			if (evt_version(a.fd, &ver) || !(ver.features & EVBUS_FEAT_APPROVAL))
				cannot("module without the approval gate (EVBUS_FEAT_APPROVAL)");
			gate = !evt_bus_stats(a.fd, &g0);
		}
		a.pub.topic = (uintptr_t)TOPIC;
		a.pub.topic_len = strlen(TOPIC);
		a.pub.payload = (uintptr_t)a.payload;
		a.pub.payload_len = opt.size;
		a.pub.flags = opt.baseline ? 0 : EVBUS_PUB_ASK;
		break;
	}
	case P_UNIX:
		break;
	case P_FANOTIFY: {
		struct statfs sf;
		int fd;

		if (statfs(opt.dir, &sf) || sf.f_type != TMPFS_MAGIC_)
			cannot("--dir is not a tmpfs");
		snprintf(tdir, sizeof(tdir), "%s/roundtrip.XXXXXX", opt.dir);
		if (!mkdtemp(tdir)) {
			fprintf(stderr, "roundtrip: mkdtemp %s: %s\n", tdir, strerror(errno));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/file", tdir);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1) {
			fprintf(stderr, "roundtrip: create %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
		break;
	}
	}

	if (start_responders()) {
		ok = 0;
		goto report;
	}
	if (round_trips(&a, 1, opt.warmup)) {
		ok = 0;
		goto report;
	}
	a.calls = 0;
	for (unsigned int i = 0; i < opt.chain; i++) {
		if (proc_sample(kids[i], &kc0[i], &kx0[i])) {
			fail("cannot read /proc/%d", (int)kids[i]);
			ok = 0;
			goto report;
		}
		ksys += res[i].syscalls;	/* warm-up's, subtracted below */
	}
	ksys = -ksys;
	getrusage(RUSAGE_SELF, &ru0);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns(CLOCK_MONOTONIC);
	if (round_trips(&a, opt.warmup + 1, total))
		ok = 0;
	t1 = now_ns(CLOCK_MONOTONIC);
	c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &ru1);
	for (unsigned int i = 0; i < opt.chain; i++) {
		if (proc_sample(kids[i], &kc1[i], &kx1[i])) {
			fail("cannot read /proc/%d", (int)kids[i]);
			ok = 0;
			continue;
		}
		kcpu += kc1[i] - kc0[i];
		kctx += kx1[i] - kx0[i];
		ksys += res[i].syscalls;
	}

report:
	stop_responders();
	for (unsigned int i = 0; i < opt.chain; i++) {
		answered += res[i].answered;
		bad += res[i].bad;
		if (res[i].error) {
			fail("responder %u: %s", i, strerror(res[i].error));
			ok = 0;
		}
		if (ok && res[i].answered != total) {
			fail("responder %u answered %llu of %llu", i,
			     ULL(res[i].answered), ULL(total));
			ok = 0;
		}
	}
	expected = total * opt.chain;
	if (bad) {
		fail("%llu requests out of order or not as sent", ULL(bad));
		ok = 0;
	}
	if (gate) {
		uint64_t asked, req, allowed, other;

		if (evt_bus_stats(a.fd, &g1)) {
			fail("EVBUS_IOC_BUS_STATS: %s", strerror(errno));
			ok = 0;
		}
		asked = g1.approval_asked - g0.approval_asked;
		req = g1.approval_requests - g0.approval_requests;
		allowed = g1.approval_allowed - g0.approval_allowed;
		other = gate_other(&g1) - gate_other(&g0);
		snprintf(gtext, sizeof(gtext),
			 "{\"asked\":%llu,\"requests\":%llu,\"allowed\":%llu,\"other\":%llu}",
			 ULL(asked), ULL(req), ULL(allowed), ULL(other));
		if (ok && (asked != total || req != expected || allowed != total || other)) {
			fail("gate counters: asked %llu, requests %llu, allowed %llu, "
			     "other outcomes %llu; expected %llu, %llu, %llu, 0",
			     ULL(asked), ULL(req), ULL(allowed), ULL(other),
			     ULL(total), ULL(expected), ULL(total));
			ok = 0;
		}
	}
	if (a.fd >= 0)
		close(a.fd);
	for (unsigned int i = 0; i < opt.chain; i++)
		if (opt.peer == P_UNIX)
			close(socks[i]);
	if (path[0]) {
		unlink(path);
		rmdir(tdir);
	}
	if (!ok && !err_text[0])
		fail("failed");

	wall = t1 > t0 ? (double)(t1 - t0) : 1;
	n = (double)opt.n;
	{
		uint64_t ccpu = c1 - c0;
		long cctx = (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw);
		const char *ps = peer_names[opt.peer];
		char wake[32] = "null", ring[32] = "null";

		if (opt.peer == P_EVBUS && !opt.baseline) {
			snprintf(wake, sizeof(wake), "\"%s\"", opt.immediate ? "immediate" : "adaptive");
			snprintf(ring, sizeof(ring), "%u", opt.ring);
		}
		printf("{\"workload\":\"approval\",\"peer\":\"%s\",\"baseline\":%s,\"chain\":%u,"
		       "\"n\":%llu,\"warmup\":%llu,\"payload\":%u,\"ok\":%s,\"wall_ns\":%llu,"
		       "\"ns_per_rt\":%.1f,\"rt_per_s\":%.1f,\"client_cpu_ns_per_rt\":%.1f,"
		       "\"server_cpu_ns_per_rt\":%.1f,\"cpu_ns_per_rt\":%.1f,\"cpu_share\":%.4f,"
		       "\"ctx_switches\":%llu,\"ctx_per_rt\":%.3f,\"syscalls_per_rt\":%.3f,"
		       "\"client_syscalls_per_rt\":%.3f,\"server_syscalls_per_rt\":%.3f,"
		       "\"answered\":%llu,\"expected\":%llu,\"bad\":%llu,\"wake\":%s,\"ring\":%s,"
		       "\"sock\":%s,\"gate\":%s,\"error\":",
		       ps, opt.baseline ? "true" : "false", opt.chain, ULL(opt.n),
		       ULL(opt.warmup), opt.peer == P_FANOTIFY ? 0 : opt.size,
		       ok ? "true" : "false", ULL(t1 - t0), wall / n, n * 1e9 / wall,
		       ccpu / n, kcpu / n, (ccpu + kcpu) / n, (ccpu + kcpu) / wall,
		       ULL(cctx + kctx), (cctx + kctx) / n, (a.calls + ksys) / n,
		       a.calls / n, ksys / n, ULL(answered), ULL(expected), ULL(bad),
		       wake, ring, opt.peer == P_UNIX ? "\"stream\"" : "null", gtext);
		if (err_text[0]) {
			putchar('"');
			for (const char *s = err_text; *s; s++)
				if (*s == '"' || *s == '\\')
					printf("\\%c", *s);
				else if ((unsigned char)*s >= 0x20)
					putchar(*s);
			puts("\"}");
		} else {
			puts("null}");
		}
		if (!opt.quiet || !ok)
			fprintf(stderr, "roundtrip: %s%s chain %u: %llu round trips, "
				"%.0f insns/rt, %.0f rt/s, %.2f ctx/rt%s%s\n",
				ps, opt.baseline ? " (baseline)" : "", opt.chain, ULL(opt.n),
				wall / n, n * 1e9 / wall, (cctx + kctx) / n,
				ok ? "" : ", FAILED: ", err_text);
	}
	return ok ? 0 : 1;
}
