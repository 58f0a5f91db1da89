// SPDX-License-Identifier: GPL-2.0
/*
 * Multi-core scaling of publishers on disjoint topics (issue #12, section 6).
 *
 *   scaling --mode publish|syscall --procs P [--secs S] [--warmup S]
 *           [--size BYTES] [--ring BYTES] [--wake-events N]
 *           [--wake-delay-us US] [--read-after] [--rep R]
 *
 * One run: P worker processes busy-loop for a fixed time and the parent
 * counts their operations in a window of --secs seconds that starts --warmup
 * seconds after every worker was ready.  Prints one JSON line.
 *
 *   publish  worker i opens /dev/evbus and publishes --size byte events on
 *            "scale.<i>", one EVBUS_IOC_PUBLISH per event, as fast as it
 *            can.  Each publisher has a subscriber process of its own
 *            (pattern "scale.<i>", a --ring DROP_OLDEST ring) draining it
 *            with blocking read(), so every event is fanned out to a ring
 *            and read, as on a real bus.  Topics are disjoint: no two
 *            publishers share a subscriber, a ring or an index node below
 *            the root.  Subscribers use wake-up coalescing
 *            (EVBUS_RING_WAKE, --wake-events 1024 --wake-delay-us 4000 by
 *            default; --wake-events 0 turns it off): with two publishers
 *            and two subscribers on two CPUs, waking a reader on every
 *            record makes each publish a context switch to the reader on
 *            the same CPU, and the run measures the scheduler (under TCG
 *            two publishers then reach 0.2-0.5x of one), not whether
 *            publishers run in parallel.  Even coalesced, two readers
 *            take CPU time the two publishers need, while one publisher
 *            has a CPU of its own and its reader the other: with
 *            --read-after the subscribers read only once the window
 *            closes (the ring evicts meanwhile, and the LAGGED records
 *            must account for every event), so the run measures the
 *            publish path alone.
 *   syscall  worker i calls syscall(SYS_getppid) in the same loop: what two
 *            CPUs give two processes that share nothing in the kernel.
 *
 * Each worker stores its running count in its own cache line of a shared
 * mapping (a plain store, no atomic read-modify-write); the parent reads
 * all counters and CLOCK_MONOTONIC at both ends of the window, so start-up,
 * fork and teardown are not measured.  It also reads /proc/stat at both ends
 * (how busy the CPUs were).
 *
 * Correctness, checked after every publish run (not timing): each
 * publisher ends with a marker event; its subscriber reads up to the
 * marker, sequence numbers must strictly increase, and the events it read
 * plus the events its LAGGED records report lost must equal what the
 * publisher published.  A violation makes the run fail ("ok": false, exit
 * status 1).  Nothing here asserts a speed.
 *
 * Exit status: 0 ok, 1 the run failed (the JSON line says why), 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "evbus_test.h"

#define MAX_PROCS	16
#define RDBUF		(256 * 1024)
#define TYPE_DATA	1
#define TYPE_END	2	/* the publisher's last event */

enum mode { M_PUBLISH, M_SYSCALL };

/* One cache line per counter: workers on different CPUs never share one. */
struct slot {
	volatile uint64_t ops;		/* operations done so far */
	volatile uint64_t events;	/* subscriber: events read so far */
	volatile int ready;
	volatile int err;		/* errno of a worker's failure, or 0 */
	uint64_t published;		/* publisher: events published, marker included */
	uint64_t received;		/* subscriber: events read, marker included */
	uint64_t lost;			/* subscriber: reported lost */
	uint64_t bad_seq;		/* subscriber: non-increasing seqs seen */
	uint64_t reads;			/* subscriber: read() calls */
	char what[24];			/* where err happened */
} __attribute__((aligned(128)));

struct shared {
	volatile int go;
	volatile int stop;
	char pad[120];
	struct slot pub[MAX_PROCS];	/* publishers or syscall loops */
	struct slot sub[MAX_PROCS];	/* subscribers (publish mode) */
};

static struct {
	enum mode mode;
	unsigned int procs;
	double secs, warmup;
	unsigned int size, ring;
	unsigned int wake_events;	/* EVBUS_RING_WAKE watermark, 0: off */
	unsigned int wake_delay_us;
	int read_after;			/* subscribers read only after the window */
	int rep;
} opt = { .procs = 1, .secs = 3, .warmup = 0.5, .size = 64,
	  .ring = 1 << 20, .wake_events = 1024, .wake_delay_us = 4000, .rep = 0 };

static struct shared *sh;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void topic_of(char *buf, size_t len, unsigned int i)
{
	snprintf(buf, len, "scale.%u", i);
}

/* A worker failed: say where, then exit. */
static void __attribute__((noreturn)) worker_fail(struct slot *s, const char *what, int err)
{
	snprintf(s->what, sizeof(s->what), "%s", what);
	s->err = err ? err : EIO;
	_exit(1);
}

static void wait_go(void)
{
	while (!sh->go)
		usleep(1000);
}

/* --- publish mode ----------------------------------------------------------- */

static void run_subscriber(unsigned int i)
{
	struct slot *s = &sh->sub[i];
	struct evbus_ring_cfg rc;
	uint64_t last_seq = 0;
	char topic[32], *buf;
	int fd, done = 0;

	buf = aligned_alloc(8, RDBUF);
	fd = evt_open();
	if (!buf || fd < 0)
		worker_fail(s, "open", errno);
	memset(&rc, 0, sizeof(rc));
	rc.size = opt.ring;
	rc.policy = EVBUS_POLICY_DROP_OLDEST;
	if (opt.wake_events) {	/* else wake on the first record */
		rc.flags = EVBUS_RING_WAKE;
		rc.wake_events = opt.wake_events;
		rc.wake_delay_ns = opt.wake_delay_us * 1000ull;
	}
	if (ioctl(fd, EVBUS_IOC_SET_RING, &rc))
		worker_fail(s, "SET_RING", errno);
	topic_of(topic, sizeof(topic), i);
	if (evt_sub(fd, topic) < 0)
		worker_fail(s, "SUBSCRIBE", errno);
	s->ready = 1;
	/*
	 * --read-after: the ring takes every event (evicting the oldest) while
	 * the publishers are timed, and is read, LAGGED records and all, once
	 * they stop, so readers do not compete with publishers for the CPUs.
	 */
	while (opt.read_after && !sh->stop)
		usleep(1000);
	while (!done) {
		struct evbus_rec_hdr *h;
		ssize_t got = read(fd, buf, RDBUF);
		size_t left;
		uint64_t n = 0;

		s->reads++;
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			worker_fail(s, "read", got ? errno : EPIPE);
		evt_for_each_rec(h, buf, (size_t)got, left) {
			if (h->kind == EVBUS_REC_EVENT) {
				struct evbus_event *ev = (struct evbus_event *)h;

				if (ev->seq <= last_seq)
					s->bad_seq++;
				last_seq = ev->seq;
				n++;
				if (ev->type == TYPE_END)
					done = 1;
			} else if (h->kind == EVBUS_REC_LAGGED) {
				s->lost += ((struct evbus_lagged *)h)->lost;
			}
		}
		if (left)
			worker_fail(s, "partial record", EPROTO);
		s->received += n;
		s->events = s->received;
	}
	_exit(0);
}

static int publish_one(int fd, struct evbus_pub *p)
{
	while (ioctl(fd, EVBUS_IOC_PUBLISH, p))
		if (errno != EINTR)
			return -errno;
	return 0;
}

static void run_publisher(unsigned int i)
{
	struct slot *s = &sh->pub[i];
	struct evbus_pub p;
	char topic[32], *payload;
	uint64_t ops = 0;
	int fd, ret;

	payload = calloc(1, opt.size ? opt.size : 1);
	fd = evt_open();
	if (!payload || fd < 0)
		worker_fail(s, "open", errno);
	topic_of(topic, sizeof(topic), i);
	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = strlen(topic);
	p.payload = (uintptr_t)payload;
	p.payload_len = opt.size;
	p.type = TYPE_DATA;
	s->ready = 1;
	wait_go();
	while (!sh->stop) {
		ret = publish_one(fd, &p);
		if (ret)
			worker_fail(s, "PUBLISH", -ret);
		s->ops = ++ops;
	}
	p.type = TYPE_END;
	ret = publish_one(fd, &p);
	if (ret)
		worker_fail(s, "PUBLISH (end)", -ret);
	s->published = ops + 1;
	_exit(0);
}

/* --- syscall mode ----------------------------------------------------------- */

static void run_syscaller(unsigned int i)
{
	struct slot *s = &sh->pub[i];
	uint64_t ops = 0;

	s->ready = 1;
	wait_go();
	while (!sh->stop) {
		syscall(SYS_getppid);
		s->ops = ++ops;
	}
	s->published = ops;
	_exit(0);
}

/* --- the parent ------------------------------------------------------------- */

/* Busy and total jiffies of all CPUs, from /proc/stat's "cpu" line. */
static int cpu_times(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9]);
	fclose(f);
	if (n < 4)
		return -1;
	*total = 0;
	for (int k = 0; k < 8; k++)	/* guest and guest_nice are in user */
		*total += v[k];
	*busy = *total - v[3] - v[4];	/* minus idle and iowait */
	return 0;
}

static pid_t spawn(void (*fn)(unsigned int), unsigned int i)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(0);
		fn(i);
		_exit(0);
	}
	return pid;
}

static const char *mode_name(enum mode m)
{
	return m == M_PUBLISH ? "publish" : "syscall";
}

static void usage(void)
{
	fprintf(stderr,
		"usage: scaling --mode publish|syscall --procs P [--secs S] [--warmup S]\n"
		"               [--size BYTES] [--ring BYTES] [--wake-events N]\n"
		"               [--wake-delay-us US] [--rep R]\n");
	exit(2);
}

static void on_alarm(int sig)
{
	static const char msg[] = "scaling: timed out\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	kill(0, SIGKILL);
	_exit(1);
}

/* Append to a bounded string buffer. */
struct sbuf {
	char b[4096];
	size_t n;
};

static void __attribute__((format(printf, 2, 3))) sb(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (s->n >= sizeof(s->b))
		return;
	va_start(ap, fmt);
	r = vsnprintf(s->b + s->n, sizeof(s->b) - s->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		s->n += (size_t)r;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "procs", required_argument, NULL, 'p' },
		{ "secs", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 'z' },
		{ "ring", required_argument, NULL, 'r' },
		{ "rep", required_argument, NULL, 'R' },
		{ "wake-events", required_argument, NULL, 'e' },
		{ "wake-delay-us", required_argument, NULL, 'd' },
		{ "read-after", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t c0[MAX_PROCS], c1[MAX_PROCS], e0[MAX_PROCS], e1[MAX_PROCS];
	uint64_t t0 = 0, t1 = 0, busy0 = 0, busy1 = 0, tot0 = 0, tot1 = 0, total = 0, delivered = 0;
	pid_t pubs[MAX_PROCS], subs[MAX_PROCS];
	char reason[256] = "";
	int c, mode_set = 0, failed = 0, cpu_ok = 0;
	unsigned int n = 0, i;
	struct rusage ru;
	struct sbuf out = { .n = 0 };

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "publish"))
				opt.mode = M_PUBLISH;
			else if (!strcmp(optarg, "syscall"))
				opt.mode = M_SYSCALL;
			else
				usage();
			mode_set = 1;
			break;
		case 'p': opt.procs = strtoul(optarg, NULL, 0); break;
		case 's': opt.secs = strtod(optarg, NULL); break;
		case 'w': opt.warmup = strtod(optarg, NULL); break;
		case 'z': opt.size = strtoul(optarg, NULL, 0); break;
		case 'r': opt.ring = strtoul(optarg, NULL, 0); break;
		case 'R': opt.rep = atoi(optarg); break;
		case 'e': opt.wake_events = strtoul(optarg, NULL, 0); break;
		case 'd': opt.wake_delay_us = strtoul(optarg, NULL, 0); break;
		case 'a': opt.read_after = 1; break;
		default: usage();
		}
	}
	if (!mode_set || optind != argc || opt.procs < 1 || opt.procs > MAX_PROCS ||
	    !(opt.secs > 0) || opt.warmup < 0)
		usage();

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("scaling: mmap");
		return 1;
	}
	/* Its own process group, so a timeout can kill every worker. */
	setpgid(0, 0);
	signal(SIGALRM, on_alarm);
	alarm((unsigned int)(opt.warmup + opt.secs) + 60);

	for (i = 0; i < MAX_PROCS; i++)
		subs[i] = pubs[i] = -1;
	for (i = 0; i < opt.procs; i++) {
		if (opt.mode == M_PUBLISH) {
			subs[i] = spawn(run_subscriber, i);
			if (subs[i] < 0)
				break;
			pubs[i] = spawn(run_publisher, i);
		} else {
			pubs[i] = spawn(run_syscaller, i);
		}
		if (pubs[i] < 0)
			break;
	}
	n = i;
	if (n < opt.procs) {
		snprintf(reason, sizeof(reason), "fork: %s", strerror(errno));
		failed = 1;
		sh->stop = 1;
		sh->go = 1;
		goto reap;
	}

	/* Every worker ready (or one failed). */
	for (;;) {
		int all = 1, err = 0;

		for (i = 0; i < n; i++) {
			all &= sh->pub[i].ready;
			err |= sh->pub[i].err;
			if (opt.mode == M_PUBLISH) {
				all &= sh->sub[i].ready;
				err |= sh->sub[i].err;
			}
		}
		if (err) {
			failed = 1;
			sh->stop = 1;
			sh->go = 1;
			goto reap;
		}
		if (all)
			break;
		usleep(1000);
	}
	sh->go = 1;
	sleep_s(opt.warmup);
	cpu_ok = !cpu_times(&busy0, &tot0);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		c0[i] = sh->pub[i].ops;
		e0[i] = sh->sub[i].events;
	}
	sleep_s(opt.secs);
	t1 = now_ns();
	for (i = 0; i < n; i++) {
		c1[i] = sh->pub[i].ops;
		e1[i] = sh->sub[i].events;
	}
	cpu_ok = cpu_ok && !cpu_times(&busy1, &tot1);
	sh->stop = 1;

reap:
	/*
	 * Publishers first: their marker ends the subscribers.  A subscriber
	 * whose publisher failed (or was never forked) gets no marker.
	 */
	for (i = 0; i < opt.procs; i++) {
		int st, pub_ok = 0;

		if (pubs[i] > 0)
			pub_ok = waitpid(pubs[i], &st, 0) == pubs[i] &&
				 WIFEXITED(st) && !WEXITSTATUS(st);
		if (!pub_ok)
			failed = 1;
		if (subs[i] <= 0)
			continue;
		if (!pub_ok)
			kill(subs[i], SIGKILL);
		if (waitpid(subs[i], &st, 0) != subs[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	}
	alarm(0);
	for (i = 0; i < n; i++) {
		struct slot *p = &sh->pub[i], *s = &sh->sub[i];

		if (p->err && !reason[0])
			snprintf(reason, sizeof(reason), "worker %u: %s: %s", i,
				 p->what, strerror(p->err));
		if (opt.mode != M_PUBLISH)
			continue;
		if (s->err && !reason[0])
			snprintf(reason, sizeof(reason), "subscriber %u: %s: %s", i,
				 s->what, strerror(s->err));
		if (failed || reason[0])
			continue;
		if (s->bad_seq) {
			snprintf(reason, sizeof(reason),
				 "subscriber %u: %" PRIu64 " sequence numbers did not increase",
				 i, s->bad_seq);
		} else if (s->received + s->lost != p->published) {
			snprintf(reason, sizeof(reason),
				 "subscriber %u: read %" PRIu64 " + lost %" PRIu64
				 " != published %" PRIu64, i, s->received, s->lost,
				 p->published);
		}
	}
	if (reason[0])
		failed = 1;
	else if (failed)
		snprintf(reason, sizeof(reason), "a worker exited abnormally");

	sb(&out, "{\"mode\":\"%s\",\"procs\":%u,\"rep\":%d,\"secs\":%g,\"warmup\":%g",
	   mode_name(opt.mode), opt.procs, opt.rep, opt.secs, opt.warmup);
	if (opt.mode == M_PUBLISH)
		sb(&out, ",\"payload\":%u,\"ring\":%u,\"wake_events\":%u,\"wake_delay_us\":%u,\"read_after\":%s",
		   opt.size, opt.ring, opt.wake_events, opt.wake_delay_us,
		   opt.read_after ? "true" : "false");
	sb(&out, ",\"ok\":%s", failed ? "false" : "true");
	if (failed) {
		sb(&out, ",\"error\":\"");
		for (const char *q = reason; *q; q++)
			sb(&out, (*q == '"' || *q == '\\') ? "\\%c" : "%c", *q);
		sb(&out, "\"}");
		puts(out.b);
		return 1;
	}
	sb(&out, ",\"window_ns\":%" PRIu64, t1 - t0);
	sb(&out, ",\"per_proc_ops_per_s\":[");
	for (i = 0; i < n; i++) {
		total += c1[i] - c0[i];
		sb(&out, "%s%.1f", i ? "," : "", (c1[i] - c0[i]) * 1e9 / (t1 - t0));
	}
	sb(&out, "],\"ops\":%" PRIu64 ",\"ops_per_s\":%.1f", total,
	   total * 1e9 / (t1 - t0));
	if (opt.mode == M_PUBLISH) {
		uint64_t pub = 0, rcv = 0, lost = 0, reads = 0;

		for (i = 0; i < n; i++) {
			delivered += e1[i] - e0[i];
			pub += sh->pub[i].published;
			rcv += sh->sub[i].received;
			lost += sh->sub[i].lost;
			reads += sh->sub[i].reads;
		}
		sb(&out, ",\"delivered_per_s\":%.1f,\"published\":%" PRIu64
		   ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
		   ",\"events_per_read\":%.2f", delivered * 1e9 / (t1 - t0),
		   pub, rcv, lost, reads ? (double)rcv / reads : 0.0);
	}
	if (cpu_ok && tot1 > tot0)
		sb(&out, ",\"cpu_busy\":%.3f", (double)(busy1 - busy0) / (tot1 - tot0));
	if (!getrusage(RUSAGE_CHILDREN, &ru))
		sb(&out, ",\"nvcsw\":%ld,\"nivcsw\":%ld", ru.ru_nvcsw, ru.ru_nivcsw);
	sb(&out, "}");
	puts(out.b);
	return 0;
}
