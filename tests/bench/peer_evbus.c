// SPDX-License-Identifier: GPL-2.0
/*
 * The evbus peer of the fan-out benchmark.
 *
 * Publisher: EVBUS_IOC_PUBLISH per event (--batch 1) or one
 * EVBUS_IOC_PUBLISH_BATCH per batch on its own /dev/evbus file; with
 * --uring the same through io_uring IORING_OP_URING_CMD (EVBUS_URING_PUBLISH
 * or EVBUS_URING_PUBLISH_BATCH), one SQE and one io_uring_enter (submit and
 * wait) per call.
 * Subscribers: one file each, a --ring byte ring (DROP_OLDEST; with
 * --wake-events/--wake-delay-us EVBUS_RING_WAKE, else the module's default
 * wake-ups: adaptive since issue #14), subscribed to BENCH_TOPIC, read() in
 * RDBUF chunks; LAGGED records are loss notices.
 * --mmap (issue #14): each subscriber maps its ring (control page RW, header
 * page and the doubly mapped data RO) and consumes from the mapping as
 * uapi/linux/evbus.h describes: with EVBUS_MMAP_OVERWRITE (the benchmark's
 * DROP_OLDEST rings) it copies up to RDBUF bytes of whole records into its
 * buffer, as read() would, and claims them with one compare-and-swap of
 * consumer_pos (a failed CAS: the kernel took them back, a LAGGED record
 * follows; start again); without it (drop-newest) it uses the records in
 * place and release-stores consumer_pos when it comes back for more.  The
 * records are parsed, and events and LAGGED records counted, by the same
 * code as read()'s.  An empty ring is waited for with poll() for POLLIN,
 * which sleeps on the same wait queue with the same wake-up mode as a
 * blocking read(); poll() calls are the subscriber's syscalls.
 * Others (--k): K more files held by a process of their own, 4 KiB rings,
 * subscribed to "other.<i>".
 *
 * Permissions (issue #13), raw ioctls of the project's uapi:
 *  --policy-rules R  setup() installs, on the bus of the harness's IPC
 *                    namespace, R allow rules "svc.<i>.>" (publish and
 *                    subscribe, uid 1000 + i: patterns that share no prefix
 *                    with BENCH_TOPIC), then four on its path (allow
 *                    publish+subscribe for our euid on BENCH_TOPIC, allow
 *                    publish for our egid on "bench.*", allow subscribe for
 *                    everyone on "bench.>", deny both for uid 65534 on
 *                    "bench.>"), and a default of deny: every subscribe and
 *                    every publish of the run is checked, and allowed by
 *                    the rules on the path.  teardown() clears the policy
 *                    (EVBUS_POLICY_OP_CLEAR, which restores allow); so does
 *                    fanout --reset, for a run killed before its teardown.
 *  --filter          subscribers subscribe with EVBUS_IOC_SUBSCRIBE2 and
 *                    EVBUS_SUB_FILTER: the classic BPF program of
 *                    build_filter(), which accepts every event of the run.
 * Both are skipped (exit 3) by a module without EVBUS_FEAT_POLICY or
 * EVBUS_FEAT_SUB_BPF.
 *
 * History and replay (issue #15):
 *  --history BYTES   setup() sets the capacity of the bus's history
 *                    (EVBUS_IOC_HISTORY with EVBUS_HISTORY_SET; the bus's
 *                    owner, root here; 0 turns it off; the module rounds
 *                    up to a power of two), first raising the module's
 *                    history_max and max_user_history_bytes if they are
 *                    lower; teardown() puts back BENCH_HISTORY_DEFAULT
 *                    (1 MiB, what every bus gets by default), and so does
 *                    fanout --reset.
 *  replay workload   the publisher publishes as usual (the seq the first
 *                    publish returns is kept); replay_open() opens a file
 *                    with a --ring ring (mapped with --mmap) and nothing
 *                    subscribed; replay_start() subscribes to BENCH_TOPIC
 *                    with EVBUS_IOC_SUBSCRIBE2, EVBUS_SUB_SINCE and since =
 *                    that seq (and the --filter program with --filter);
 *                    read(), or poll() with --mmap, drives the replay.
 *                    Events carry their seq and EVBUS_EVENT_REPLAYED into
 *                    bench_rx.seq and .flags.
 * Both are skipped (exit 3) by a module without EVBUS_FEAT_HISTORY.
 *
 * Flow control (issue #17):
 *  --rate-limits     setup(), as the bus's owner (root here), sets a
 *                    per-user limit for every user (EVBUS_IOC_RATE,
 *                    EVBUS_RATE_USER, EVBUS_WHO_ALL) and pub_open() the same
 *                    limit on the publisher's file (EVBUS_RATE_FILE), then
 *                    checks with EVBUS_RATE_GET that the file sees both:
 *                    EVBUS_RATE_MAX events and bytes per second, bursts of
 *                    EVBUS_RATE_BURST_MAX, which never refuse anything, so
 *                    that every publish takes its tokens from the file's
 *                    bucket and from its user's.  teardown() removes the
 *                    user limit (all-zero limit), and so does fanout
 *                    --reset; the file's goes with the file.  Skipped
 *                    (exit 3) by a module without EVBUS_FEAT_RATE.
 *  --lossless MS     every subscriber's ring is EVBUS_POLICY_LOSSLESS with
 *                    wait_ns MS ms (setup() first raises the module's
 *                    lossless_max_ms to MS if it is lower); the publisher
 *                    opens its file with the readers' euid, so it waits for
 *                    room rather than lose an event.  Skipped (exit 3) by a
 *                    module without EVBUS_FEAT_LOSSLESS.
 * With either, setup() and teardown() read the bus's counters
 * (EVBUS_IOC_BUS_STATS) and report what the run changed in bench_flow:
 * publishes refused by a bucket or that waited for tokens, the
 * publisher's waits for room and how long they took, events lost at
 * lossless readers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/filter.h>

#include "bench.h"
#include "evbus_test.h"

#define RDBUF		(256 * 1024)

struct evbus_sub_ctx {
	int fd;
	size_t left;			/* bytes of records not yet returned */
	struct evbus_rec_hdr *cur;	/* the next of them */
	char *buf;
	/* --mmap */
	struct evbus_mmap_ctl *ctl;	/* control page, RW */
	const struct evbus_mmap_hdr *hdr; /* header page, RO */
	const char *data;		/* the ring, mapped twice in a row */
	uint64_t mask;			/* hdr->size - 1 */
	int overwrite;			/* EVBUS_MMAP_OVERWRITE: copy + CAS */
	uint64_t release;		/* in place: consumer_pos to store once
					 * the records at cur are used, or 0 */
};

static int pub_fd = -1;
static pid_t holder = -1;	/* holds the K others */
static int holder_fd = -1;
static struct evbus_pub pubs[BENCH_MAX_BATCH];
static struct io_uring uring;
static int uring_ready;
static int policy_installed;
static struct sock_filter filter_prog[16];
static int history_changed;	/* teardown() puts the default back */
static uint64_t first_seq;	/* of the run's first publish */
static int rate_user_set;	/* teardown() removes the user limit */
static int flow_stats;		/* flow0 holds the bus's counters */
static struct evbus_bus_stats flow0;

/* Best effort: raise an evbus module parameter to at least val. */
static void raise_param(const char *name, unsigned long val)
{
	char path[128];
	unsigned long cur = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/evbus/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%lu", &cur) != 1)
		cur = 0;
	fclose(f);
	if (cur >= val)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%lu", val);
	if (fclose(f))
		fprintf(stderr, "fanout: cannot raise %s to %lu\n", name, val);
}

/* ------------------------------------------- policy and filters (#13) */

#define POLICY_UID_BASE	1000u
#define NOBODY		65534u

/* The module's feature bits, or 0 if it cannot tell. */
static uint64_t evbus_features(void)
{
	struct evbus_version v;
	int fd = evt_open();

	if (fd < 0)
		return 0;
	memset(&v, 0, sizeof(v));
	if (ioctl(fd, EVBUS_IOC_VERSION, &v))
		v.features = 0;
	close(fd);
	return v.features;
}

static int policy_set(int fd, uint32_t op, uint32_t verdict)
{
	struct evbus_policy_set ps;

	memset(&ps, 0, sizeof(ps));
	ps.op = op;
	ps.verdict = verdict;
	return ioctl(fd, EVBUS_IOC_POLICY_SET, &ps) ? -errno : 0;
}

static int policy_add(int fd, uint32_t verdict, uint32_t rights, uint32_t who,
		      uint32_t id, const char *pattern)
{
	struct evbus_rule r;

	memset(&r, 0, sizeof(r));
	r.pattern = (uintptr_t)pattern;
	r.pattern_len = strlen(pattern);
	r.verdict = verdict;
	r.rights = rights;
	r.who = who;
	r.id_value = id;
	return ioctl(fd, EVBUS_IOC_POLICY_ADD, &r) ? -errno : 0;
}

/* Remove every rule, default allow: the bus as the other runs need it. */
static int policy_clear(void)
{
	int fd = evt_open(), ret;

	if (fd < 0)
		return -errno;
	ret = policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0);
	close(fd);
	return ret;
}

/* The policy of --policy-rules (see the top of this file): 0 or -errno. */
static int policy_install(unsigned int rules)
{
	const uint32_t both = EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE;
	char first[64], pat[64];
	size_t seg = strcspn(BENCH_TOPIC, ".");
	int fd, ret = 0;

	if (seg >= sizeof(first) - 2)
		return -EINVAL;
	memcpy(first, BENCH_TOPIC, seg);
	first[seg] = 0;
	raise_param("max_rules", rules + 4);
	fd = evt_open();
	if (fd < 0)
		return -errno;
	/* A run killed before its teardown may have left one. */
	ret = policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0);
	for (unsigned int i = 0; !ret && i < rules; i++) {
		snprintf(pat, sizeof(pat), "svc.%u.>", i);
		ret = policy_add(fd, EVBUS_ALLOW, both, EVBUS_WHO_UID,
				 POLICY_UID_BASE + i, pat);
	}
	if (!ret)
		ret = policy_add(fd, EVBUS_ALLOW, both, EVBUS_WHO_UID, geteuid(),
				 BENCH_TOPIC);
	snprintf(pat, sizeof(pat), "%s.*", first);
	if (!ret)
		ret = policy_add(fd, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH,
				 EVBUS_WHO_GID, getegid(), pat);
	snprintf(pat, sizeof(pat), "%s.>", first);
	if (!ret)
		ret = policy_add(fd, EVBUS_ALLOW, EVBUS_RIGHT_SUBSCRIBE,
				 EVBUS_WHO_ALL, 0, pat);
	if (!ret && geteuid() != NOBODY)
		ret = policy_add(fd, EVBUS_DENY, both, EVBUS_WHO_UID, NOBODY,
				 pat);
	if (!ret)
		ret = policy_set(fd, EVBUS_POLICY_OP_DEFAULT, EVBUS_DENY);
	if (ret) {
		fprintf(stderr, "fanout: evbus: installing the policy: %s\n",
			strerror(-ret));
		policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0);
	} else {
		policy_installed = 1;
		bench_policy_rules = rules + 3 + (geteuid() != NOBODY);
	}
	close(fd);
	return ret;
}

/*
 * The --filter program: what an application filter looks like, checking
 * the record as read() returns it (struct evbus_event, the topic, the
 * payload; 32-bit absolute loads in host byte order) before accepting:
 *   topic_len is BENCH_TOPIC's (the payload offset below depends on it),
 *   payload_len covers the stamp and one more word,
 *   type is an application type below 256 (the harness publishes 0),
 *   the payload word after the stamp is the harness's 0xa5 fill.
 * Every event of a run passes; a refused one would count as lost_silent.
 */
static unsigned int build_filter(void)
{
	const uint32_t tlen = strlen(BENCH_TOPIC);
	const uint32_t poff = sizeof(struct evbus_event) + EVBUS_ALIGN(tlen + 1);
	const struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct evbus_event, topic_len)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tlen, 0, 7),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct evbus_event, payload_len)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
				 BENCH_FILTER_MIN_SIZE, 0, 5),
		/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct evbus_event, type)),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 255, 3, 0),
		/* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 poff + sizeof(struct bench_stamp)),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xa5a5a5a5, 0, 1),
		/* 8 */ BPF_STMT(BPF_RET | BPF_K, 1),	/* deliver */
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, 0),	/* refuse */
	};

	_Static_assert(sizeof(prog) <= sizeof(filter_prog), "filter_prog");
	_Static_assert(BENCH_FILTER_MIN_SIZE >= sizeof(struct bench_stamp) + 4,
		       "the filter's payload word");
	memcpy(filter_prog, prog, sizeof(prog));
	return sizeof(prog) / sizeof(prog[0]);
}

/* Subscribe with the --filter program: the id, or -errno. */
static int sub_filtered(int fd, const char *pattern)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = EVBUS_SUB_FILTER;
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	s.filter_len = bench_filter_insns;
	s.filter = (uintptr_t)filter_prog;
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &s))
		return -errno;
	return (int)s.sub_id;
}

/* ------------------------------------------------- history (#15) */

/* EVBUS_HISTORY_SET: capacity bytes; the capacity it got in *cap. */
static int history_set(uint64_t bytes, uint64_t *cap)
{
	struct evbus_history h;
	int fd = evt_open(), ret = 0;

	if (fd < 0)
		return -errno;
	memset(&h, 0, sizeof(h));
	h.size = sizeof(h);
	h.flags = EVBUS_HISTORY_SET;
	h.capacity = bytes;
	if (ioctl(fd, EVBUS_IOC_HISTORY, &h))
		ret = -errno;
	else if (cap)
		*cap = h.capacity;
	close(fd);
	return ret;
}

/* Put back the default history, if this run changed it. */
static void history_restore(void)
{
	int ret;

	if (!history_changed)
		return;
	history_changed = 0;
	ret = history_set(BENCH_HISTORY_DEFAULT, NULL);
	if (ret)
		fprintf(stderr, "fanout: evbus: putting back a %u-byte history: %s\n",
			BENCH_HISTORY_DEFAULT, strerror(-ret));
}

/* --history and the replay workload: 0 or -errno. */
static int history_install(uint64_t bytes)
{
	uint64_t size = 4096, cap = 0;
	int ret;

	while (size < bytes)
		size <<= 1;	/* what the module will round up to */
	if (bytes) {
		raise_param("history_max", size);
		/* The old history stays charged until the new one is in. */
		raise_param("max_user_history_bytes", size + (64ul << 20));
	}
	ret = history_set(bytes, &cap);
	if (ret) {
		fprintf(stderr, "fanout: evbus: setting a %llu-byte history: %s\n",
			(unsigned long long)bytes, strerror(-ret));
		return ret;
	}
	history_changed = 1;
	bench_history_capacity = cap;
	return 0;
}

/* ------------------------------------------- flow control (#17) */

/* Limits that never refuse: as many tokens as the module allows. */
static const struct evbus_rate_limit rate_unrefusing = {
	.events_per_sec = EVBUS_RATE_MAX, .events_burst = EVBUS_RATE_BURST_MAX,
	.bytes_per_sec = EVBUS_RATE_MAX, .bytes_burst = EVBUS_RATE_BURST_MAX,
};

/* EVBUS_IOC_RATE with op on fd (a user limit: for everyone): 0 or -errno. */
static int rate_op(int fd, uint32_t op, const struct evbus_rate_limit *l,
		   struct evbus_rate *out)
{
	struct evbus_rate r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.op = op;
	if (op == EVBUS_RATE_USER)
		r.who = EVBUS_WHO_ALL;
	if (l)
		r.limit = *l;
	if (ioctl(fd, EVBUS_IOC_RATE, &r))
		return -errno;
	if (out)
		*out = r;
	return 0;
}

/* Set (l) or remove (NULL: -ENOENT if there was none) the user limit. */
static int rate_user(const struct evbus_rate_limit *l)
{
	int fd = evt_open(), ret;

	if (fd < 0)
		return -errno;
	ret = rate_op(fd, EVBUS_RATE_USER, l, NULL);
	close(fd);
	return ret;
}

static void rate_user_remove(void)
{
	int ret;

	if (!rate_user_set)
		return;
	rate_user_set = 0;
	ret = rate_user(NULL);
	if (ret && ret != -ENOENT)
		fprintf(stderr, "fanout: evbus: removing the user rate limit: %s\n",
			strerror(-ret));
}

/* The publisher's file limit, then check that it sees both limits. */
static int rate_file_install(int fd)
{
	struct evbus_rate r;
	int ret;

	ret = rate_op(fd, EVBUS_RATE_FILE, &rate_unrefusing, NULL);
	if (!ret)
		ret = rate_op(fd, EVBUS_RATE_GET, NULL, &r);
	if (ret) {
		fprintf(stderr, "fanout: evbus: the file's rate limit: %s\n",
			strerror(-ret));
		return ret;
	}
	if (memcmp(&r.limit, &rate_unrefusing, sizeof(r.limit)) ||
	    memcmp(&r.user, &rate_unrefusing, sizeof(r.user))) {
		fprintf(stderr, "fanout: evbus: the publisher's file has limits "
			"%llu/%llu (user %llu/%llu) events/s/burst, not the ones set\n",
			(unsigned long long)r.limit.events_per_sec,
			(unsigned long long)r.limit.events_burst,
			(unsigned long long)r.user.events_per_sec,
			(unsigned long long)r.user.events_burst);
		return -EPROTO;
	}
	return 0;
}

/* The bus's counters into *bs: 0 or -errno. */
static int flow_read(struct evbus_bus_stats *bs)
{
	int fd = evt_open(), ret;

	if (fd < 0)
		return -errno;
	ret = evt_bus_stats(fd, bs);
	close(fd);
	return ret;
}

/* What the run changed in the counters, into bench_flow. */
static void flow_done(void)
{
	struct evbus_bus_stats b1;
	int ret;

	if (!flow_stats)
		return;
	flow_stats = 0;
	ret = flow_read(&b1);
	if (ret) {
		fprintf(stderr, "fanout: evbus: BUS_STATS after the run: %s\n",
			strerror(-ret));
		return;
	}
#define D(f)	(b1.f - flow0.f)
	bench_flow.rate_refused = D(rate_refused_file) + D(rate_refused_user);
	bench_flow.rate_waited = D(rate_waited);
	bench_flow.lossless_waits = D(lossless_waits);
	bench_flow.lossless_wait_ns = D(lossless_wait_ns);
	bench_flow.lossless_expired = D(lossless_expired);
	bench_flow.lossless_foreign = D(lossless_foreign);
#undef D
	bench_flow.stats = 1;
}

/* setup()'s part for --rate-limits and --lossless: 0 or -errno. */
static int flow_setup(uint64_t feat)
{
	int ret;

	if (opt.rate_limits && !(feat & EVBUS_FEAT_RATE)) {
		fprintf(stderr, "fanout: evbus: no rate feature\n");
		return -EOPNOTSUPP;
	}
	if (opt.lossless_ms >= 0 && !(feat & EVBUS_FEAT_LOSSLESS)) {
		fprintf(stderr, "fanout: evbus: no lossless feature\n");
		return -EOPNOTSUPP;
	}
	if (opt.lossless_ms >= 0)
		raise_param("lossless_max_ms", opt.lossless_ms);
	if (opt.rate_limits) {
		ret = rate_user(&rate_unrefusing);
		if (ret) {
			fprintf(stderr, "fanout: evbus: setting the user rate limit: %s\n",
				strerror(-ret));
			return ret;
		}
		rate_user_set = 1;
	}
	if (!(feat & EVBUS_FEAT_BUS_STATS))
		return 0;
	ret = flow_read(&flow0);
	if (ret)
		fprintf(stderr, "fanout: evbus: BUS_STATS: %s\n", strerror(-ret));
	else
		flow_stats = 1;
	return 0;
}

static int evbus_reset(void)
{
	uint64_t feat = evbus_features();
	int ret = 0, ret2 = 0, ret3 = 0;

	/* A module without policies or history has nothing to undo there. */
	if (feat & EVBUS_FEAT_POLICY)
		ret = policy_clear();
	if (feat & EVBUS_FEAT_HISTORY)
		ret2 = history_set(BENCH_HISTORY_DEFAULT, NULL);
	/* Nor one without rate limits; no user limit is nothing to undo. */
	if (feat & EVBUS_FEAT_RATE) {
		ret3 = rate_user(NULL);
		if (ret3 == -ENOENT)
			ret3 = 0;
	}
	return ret ? ret : ret2 ? ret2 : ret3;
}

static int evbus_setup(unsigned int m)
{
	uint64_t feat = 0;

	raise_param("max_user_files", opt.k + m + 64);
	raise_param("max_user_ring_bytes",
		    (unsigned long)m * opt.ring + opt.k * 4096ul + (64ul << 20));
	raise_param("ring_max", opt.ring);
	if (opt.policy_rules || opt.filter || opt.mmap || opt.history >= 0 ||
	    opt.rate_limits || opt.lossless_ms >= 0)
		feat = evbus_features();
	if (opt.history >= 0) {
		int ret;

		if (!(feat & EVBUS_FEAT_HISTORY)) {
			fprintf(stderr, "fanout: evbus: no history feature\n");
			return -EOPNOTSUPP;
		}
		ret = history_install(opt.history);
		if (ret)
			return ret;
	}
	if (opt.mmap && !(feat & EVBUS_FEAT_MMAP)) {
		fprintf(stderr, "fanout: evbus: no mmap feature\n");
		return -EOPNOTSUPP;
	}
	if (opt.filter) {
		if (!(feat & EVBUS_FEAT_SUB_BPF)) {
			fprintf(stderr, "fanout: evbus: no sub-bpf feature\n");
			return -EOPNOTSUPP;
		}
		bench_filter_insns = build_filter();
	}
	if (opt.rate_limits || opt.lossless_ms >= 0) {
		int ret = flow_setup(feat);

		if (ret)
			return ret;
	}
	if (opt.policy_rules) {
		if (!(feat & EVBUS_FEAT_POLICY)) {
			fprintf(stderr, "fanout: evbus: no policy feature\n");
			return -EOPNOTSUPP;
		}
		return policy_install(opt.policy_rules);
	}
	return 0;
}

/*
 * --ring, DROP_OLDEST (LOSSLESS with --lossless), and wake-up coalescing
 * when asked for.
 */
static int set_ring(int fd)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.size = opt.ring;
	c.policy = EVBUS_POLICY_DROP_OLDEST;
	if (opt.lossless_ms >= 0) {
		c.policy = EVBUS_POLICY_LOSSLESS;
		c.wait_ns = (uint64_t)opt.lossless_ms * 1000000;
	}
	if (opt.wake_events || opt.wake_delay_ns) {
		c.flags = EVBUS_RING_WAKE;
		c.wake_events = opt.wake_events;
		c.wake_delay_ns = opt.wake_delay_ns;
	}
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

/* --mmap: map c's ring (it exists: set_ring() gave it a size).  0 or -1. */
static int map_ring(struct evbus_sub_ctx *c)
{
	const long page = sysconf(_SC_PAGESIZE);
	const char *what = "the control page";
	void *p;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		 EVBUS_MMAP_CTL_PGOFF * page);
	if (p == MAP_FAILED)
		goto fail;
	c->ctl = p;
	what = "the header page";
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, c->fd,
		 EVBUS_MMAP_HDR_PGOFF * page);
	if (p == MAP_FAILED)
		goto fail;
	c->hdr = p;
	what = "the data";
	if (!c->hdr->size || (c->hdr->size & (c->hdr->size - 1))) {
		errno = EPROTO;
		goto fail;
	}
	p = mmap(NULL, 2 * (size_t)c->hdr->size, PROT_READ, MAP_SHARED, c->fd,
		 EVBUS_MMAP_DATA_PGOFF * page);
	if (p == MAP_FAILED)
		goto fail;
	c->data = p;
	c->mask = c->hdr->size - 1;
	c->overwrite = !!(c->hdr->flags & EVBUS_MMAP_OVERWRITE);
	return 0;
fail:
	fprintf(stderr, "fanout: evbus: mmap of %s: %s\n", what, strerror(errno));
	return -1;
}

/* A reader's file with its ring, subscribed to nothing yet. */
static struct evbus_sub_ctx *reader_open(void)
{
	struct evbus_sub_ctx *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return NULL;
	c->buf = aligned_alloc(8, RDBUF);
	c->fd = evt_open();
	if (!c->buf || c->fd < 0)
		return NULL;
	ret = set_ring(c->fd);
	if (ret) {
		fprintf(stderr, "fanout: evbus: SET_RING: %s\n", strerror(-ret));
		errno = -ret;
		return NULL;
	}
	return c;
}

static void *evbus_sub_open(unsigned int i)
{
	struct evbus_sub_ctx *c = reader_open();
	int ret;

	if (!c)
		return NULL;
	ret = opt.filter ? sub_filtered(c->fd, BENCH_TOPIC) :
			   evt_sub(c->fd, BENCH_TOPIC);
	if (ret < 0) {
		fprintf(stderr, "fanout: evbus: %s: %s\n",
			opt.filter ? "SUBSCRIBE2" : "SUBSCRIBE", strerror(-ret));
		errno = -ret;
		return NULL;
	}
	if (opt.mmap && map_ring(c))
		return NULL;
	return c;
}

/* The replay reader (issue #15): mapped before it subscribes, untimed. */
static void *evbus_replay_open(void)
{
	struct evbus_sub_ctx *c = reader_open();

	if (c && opt.mmap && map_ring(c))
		return NULL;
	return c;
}

/* Subscribe with EVBUS_SUB_SINCE from the run's first event. */
static int evbus_replay_start(void *ctx, uint64_t *since)
{
	struct evbus_sub_ctx *c = ctx;
	struct evbus_subscribe s;
	int ret;

	*since = first_seq;
	if (!first_seq)
		return -EPROTO;	/* nothing was published */
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = EVBUS_SUB_SINCE;
	s.since = first_seq;
	if (opt.filter) {
		s.flags |= EVBUS_SUB_FILTER;
		s.filter_len = bench_filter_insns;
		s.filter = (uintptr_t)filter_prog;
	}
	ret = evt_sub2(c->fd, BENCH_TOPIC, &s);
	if (ret < 0) {
		fprintf(stderr, "fanout: evbus: SUBSCRIBE2 since %llu: %s\n",
			(unsigned long long)first_seq, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Turn the records left in c's buffer into rx items. */
static int evbus_parse(struct evbus_sub_ctx *c, struct bench_rx *rx,
		       unsigned int max)
{
	unsigned int n = 0;

	while (n < max && EVBUS_REC_OK(c->cur, c->left)) {
		struct evbus_rec_hdr *h = c->cur;

		if (h->kind == EVBUS_REC_EVENT) {
			struct evbus_event *ev = (struct evbus_event *)h;

			rx[n].payload = EVBUS_EVENT_PAYLOAD(ev);
			rx[n].len = ev->payload_len;
			rx[n].lost = 0;
			rx[n].seq = ev->seq;
			rx[n].flags = ev->flags & EVBUS_EVENT_REPLAYED ?
				      BENCH_RX_REPLAYED : 0;
			n++;
		} else if (h->kind == EVBUS_REC_LAGGED) {
			rx[n].payload = NULL;
			rx[n].len = 0;
			rx[n].lost = ((struct evbus_lagged *)h)->lost;
			rx[n].seq = 0;
			rx[n].flags = 0;
			n++;
		}
		c->cur = EVBUS_REC_NEXT(h, c->left);
	}
	if (n < max && c->left)
		return -EPROTO;	/* read() returns whole records only */
	return n;
}

/* Wait for POLLIN (timeout -1) or let the kernel finish (0). 0 or -errno. */
static int mmap_poll(struct evbus_sub_ctx *c, int timeout, uint64_t *calls)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int ret = poll(&pfd, 1, timeout);

	++*calls;
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if ((pfd.revents & POLLERR) && !(pfd.revents & POLLIN))
		return -EIO;
	return 0;
}

/*
 * --mmap: the consumer protocol of uapi/linux/evbus.h.  Items point into
 * c->buf (copied out) or into the mapping (in place), valid until the next
 * call, as read()'s are.
 */
static int evbus_sub_recv_mmap(struct evbus_sub_ctx *c, struct bench_rx *rx,
			       unsigned int max, uint64_t *calls)
{
	for (;;) {
		uint64_t cpos, ppos, avail, len, whole;
		struct evbus_rec_hdr *h;
		int n = evbus_parse(c, rx, max), ret;

		if (n)
			return n;
		if (c->release) {	/* in place: the records are used */
			__atomic_store_n(&c->ctl->consumer_pos, c->release,
					 __ATOMIC_RELEASE);
			c->release = 0;
		}
		cpos = __atomic_load_n(&c->ctl->consumer_pos, __ATOMIC_ACQUIRE);
		if (cpos & EVBUS_MMAP_BUSY) {
			/* The kernel is rewriting the head: let it finish. */
			ret = mmap_poll(c, 0, calls);
			if (ret)
				return ret;
			continue;
		}
		ppos = __atomic_load_n(&c->hdr->producer_pos, __ATOMIC_ACQUIRE);
		if (cpos == ppos) {
			ret = mmap_poll(c, -1, calls);
			if (ret)
				return ret;
			continue;
		}
		avail = ppos - cpos;
		if (avail > c->mask + 1)
			return -EPROTO;
		h = (struct evbus_rec_hdr *)(c->data + (cpos & c->mask));
		if (!c->overwrite) {
			/* Drop-newest: [cpos, ppos) stays until we move on. */
			c->cur = h;
			c->left = avail;
			c->release = ppos;
			continue;
		}
		/*
		 * Drop-oldest: copy out (as much as read() would return),
		 * then claim the whole records copied.  A failed CAS means the
		 * kernel took them back (a LAGGED record now starts at
		 * consumer_pos): drop the copy and start again.
		 */
		len = avail < RDBUF ? avail : RDBUF;
		memcpy(c->buf, h, len);
		h = (struct evbus_rec_hdr *)c->buf;
		for (whole = 0; EVBUS_REC_OK(h, len - whole); ) {
			whole += h->len;
			h = (struct evbus_rec_hdr *)(c->buf + whole);
		}
		if (!__atomic_compare_exchange_n(&c->ctl->consumer_pos, &cpos,
						 cpos + whole, 0,
						 __ATOMIC_RELEASE,
						 __ATOMIC_RELAXED))
			continue;
		if (!whole)	/* a record over RDBUF bytes, or a bad ring */
			return -EPROTO;
		c->cur = (struct evbus_rec_hdr *)c->buf;
		c->left = whole;
	}
}

static int evbus_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			  uint64_t *calls)
{
	struct evbus_sub_ctx *c = ctx;

	if (opt.mmap)
		return evbus_sub_recv_mmap(c, rx, max, calls);

	for (;;) {
		ssize_t got;
		int n = evbus_parse(c, rx, max);

		if (n)
			return n;
		got = read(c->fd, c->buf, RDBUF);
		++*calls;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return 0;
		c->cur = (struct evbus_rec_hdr *)c->buf;
		c->left = got;
	}
}

/* In the holder process: open and subscribe the k others. */
static int open_others(unsigned int k)
{
	char pat[32];
	int fd, ret;

	for (unsigned int i = 0; i < k; i++) {
		fd = evt_open();
		if (fd < 0)
			return -errno;
		ret = evt_set_ring(fd, 4096, EVBUS_POLICY_DROP_OLDEST);
		if (ret)
			return ret;
		snprintf(pat, sizeof(pat), "other.%u", i);
		ret = evt_sub(fd, pat);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * The K others are held by a process of their own, as other subscribers
 * would be: opening thousands of files in the publisher would charge that
 * work to its scheduler vruntime, and on one CPU that alone changes how
 * often the matching subscriber preempts it (2.0 instead of 1.5 context
 * switches per event, +13% publisher CPU at K = 4096 with nothing evbus
 * does per event changing).  The holder reports 0 or -errno, then waits
 * for teardown to close its socket.
 */
static int evbus_add_others(unsigned int k)
{
	int ctl[2], ret = -EPIPE;

	if (!k)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl))
		return -errno;
	holder = fork();
	if (holder < 0) {
		ret = -errno;
		close(ctl[0]);
		close(ctl[1]);
		return ret;
	}
	if (!holder) {
		char c;

		signal(SIGCHLD, SIG_DFL);
		/*
		 * Hold nothing of the harness's: a copy of its pipes would
		 * keep the subscribers waiting for EOF.
		 */
		if (ctl[1] > 3)
			close_range(3, ctl[1] - 1, 0);
		close_range(ctl[1] + 1, ~0U, 0);
		ret = open_others(k);
		if (write(ctl[1], &ret, sizeof(ret)) != sizeof(ret) || ret)
			_exit(1);
		/* Until the parent closes its end (or dies). */
		while (read(ctl[1], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ctl[1]);
	holder_fd = ctl[0];
	if (read(holder_fd, &ret, sizeof(ret)) != sizeof(ret))
		ret = -EPIPE;
	return ret;
}

static int evbus_pub_open(void)
{
	int ret;

	pub_fd = evt_open();
	if (pub_fd < 0)
		return -errno;
	for (unsigned int i = 0; i < BENCH_MAX_BATCH; i++) {
		memset(&pubs[i], 0, sizeof(pubs[i]));
		pubs[i].topic = (uintptr_t)BENCH_TOPIC;
		pubs[i].topic_len = strlen(BENCH_TOPIC);
		pubs[i].payload_len = opt.size;
	}
	if (opt.rate_limits) {
		ret = rate_file_install(pub_fd);
		if (ret)
			return ret;
	}
	if (!opt.uring)
		return 0;
	ret = io_uring_queue_init(8, &uring, 0);
	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "fanout: evbus: io_uring: %s\n", strerror(-ret));
		return -EOPNOTSUPP;
	}
	if (ret)
		return ret;
	uring_ready = 1;
	return 0;
}

/* One IORING_OP_URING_CMD, submitted and reaped: its res, or -errno. */
static int uring_cmd(uint32_t op, void *arg, uint64_t *calls)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);
	struct evbus_uring_cmd cmd;
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	memset(&cmd, 0, sizeof(cmd));
	cmd.arg = (uintptr_t)arg;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = pub_fd;
	sqe->cmd_op = op;
	/* The 16-byte command area at offset 48 (cmd[] is zero-length). */
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), &cmd,
	       sizeof(cmd));
	do {
		ret = io_uring_submit_and_wait(&uring, 1);
		++*calls;
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	/* The command completes inline: the CQE is normally there already. */
	while (io_uring_peek_cqe(&uring, &cqe)) {
		ret = io_uring_wait_cqe(&uring, &cqe);
		++*calls;
		if (ret && ret != -EINTR)
			return ret;
	}
	ret = cqe->res;
	io_uring_cqe_seen(&uring, cqe);
	return ret;
}

static int publish_one(uint64_t *calls)
{
	if (opt.uring)
		return uring_cmd(EVBUS_URING_PUBLISH, &pubs[0], calls);
	for (;;) {
		int ret = ioctl(pub_fd, EVBUS_IOC_PUBLISH, &pubs[0]);

		++*calls;
		if (!ret)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int publish_batch(unsigned int count, uint64_t *calls)
{
	struct evbus_pub_batch b;
	unsigned int done = 0;
	int ret;

	while (done < count) {
		memset(&b, 0, sizeof(b));
		b.events = (uintptr_t)&pubs[done];
		b.count = count - done;
		if (opt.uring) {
			ret = uring_cmd(EVBUS_URING_PUBLISH_BATCH, &b, calls);
			if (ret < 0)
				return ret;
			if (!b.published)
				return -EIO;
			done += b.published;
			continue;
		}
		ret = ioctl(pub_fd, EVBUS_IOC_PUBLISH_BATCH, &b);
		++*calls;
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += ret;
	}
	return 0;
}

static int evbus_publish(void *const *payload, unsigned int count,
			 uint64_t *calls)
{
	int ret;

	for (unsigned int i = 0; i < count; i++)
		pubs[i].payload = (uintptr_t)payload[i];
	ret = opt.batch == 1 ? publish_one(calls) : publish_batch(count, calls);
	if (!ret && !first_seq)
		first_seq = pubs[0].seq;	/* where a replay starts */
	return ret;
}

static void evbus_teardown(void)
{
	int ret;

	if (policy_installed) {
		ret = policy_clear();
		if (ret)
			fprintf(stderr, "fanout: evbus: clearing the policy: %s\n",
				strerror(-ret));
		policy_installed = 0;
	}
	history_restore();
	flow_done();
	rate_user_remove();
	if (holder > 0) {
		close(holder_fd);
		while (waitpid(holder, NULL, 0) < 0 && errno == EINTR)
			;
		holder = -1;
		holder_fd = -1;
	}
	if (uring_ready)
		io_uring_queue_exit(&uring);
	uring_ready = 0;
	if (pub_fd >= 0)
		close(pub_fd);
	pub_fd = -1;
}

const struct bench_peer peer_evbus = {
	.name = "evbus",
	.workloads = W_ALL | 1u << W_REPLAY,
	.setup = evbus_setup,
	.sub_open = evbus_sub_open,
	.sub_recv = evbus_sub_recv,
	.add_others = evbus_add_others,
	.pub_open = evbus_pub_open,
	.publish = evbus_publish,
	.teardown = evbus_teardown,
	.reset = evbus_reset,
	.replay_open = evbus_replay_open,
	.replay_start = evbus_replay_start,
};
