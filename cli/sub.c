// SPDX-License-Identifier: GPL-2.0
/*
 * evbus sub: subscribe to patterns and print records as they arrive.
 *
 * SIGINT and SIGTERM are blocked and read from a signalfd that is polled
 * together with the bus, so a signal can never be lost between a check and
 * a wait: the command always exits 0 through the same path.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>

#include "cli.h"

static const char sub_usage[] =
"usage: evbus sub [--json] [--ready] [--count N] [--timeout SECS] [--ring BYTES]\n"
"                 [--policy drop-oldest|drop-newest | --lossless MS]\n"
"                 [--from-uid U] [--from-gid G] [--from-pid P] [--type N[-M]]\n"
"                 [--filter FILE] [--no-mmap]\n"
"                 [--since SEQ | --last K | --retained] PATTERN...\n"
"\n"
"Print events on topics matching any PATTERN as they arrive, until N records,\n"
"the timeout, or SIGINT/SIGTERM (all exit 0).  '*' matches one segment, '>'\n"
"as the last segment one or more.\n"
"\n"
"      --json        JSON Lines, one object per record\n"
"      --ready       write 'ready' to stderr once every pattern is subscribed\n"
"      --count N     exit after N records (lag records count too)\n"
"      --timeout S   exit after S seconds (fractions allowed)\n"
"      --ring BYTES  ring size (K and M suffixes); within the module's ring_min..ring_max\n"
"      --policy P    when the ring is full: drop-oldest (default) or drop-newest\n"
"      --lossless MS when the ring is full, publishers wait up to MS milliseconds\n"
"                    for this command to read (those of this euid, or that\n"
"                    the policy gives the right 'wait'); for others, and once\n"
"                    MS have passed, the new event is dropped.  At most the\n"
"                    module's lossless_max_ms\n"
"      --from-uid U  only events sent by euid U (as seen in this user namespace)\n"
"      --from-gid G  only events sent by egid G\n"
"      --from-pid P  only events sent by process P (as seen in this pid namespace)\n"
"      --type N[-M]  only events whose type is N, or within N..M\n"
"      --filter FILE only events a classic BPF program accepts; FILE holds it\n"
"                    in the text 'tcpdump -ddd' prints ('-': stdin)\n"
"      --no-mmap     read() the records instead of taking them from the mapped\n"
"                    ring (the default where the module can map rings)\n"
"      --since SEQ   first the bus's history from seq SEQ on, then live events,\n"
"                    with no gap and no duplicate; what the history lost comes\n"
"                    as a lag record marked history.  To resume, give the seq\n"
"                    of the last event processed plus one\n"
"      --last K      first the last K events of the history that match\n"
"      --retained    first the retained value of every matching topic\n"
"The filters and --since, --last or --retained (one of them) apply to every\n"
"PATTERN, before anything is queued; replayed events are marked 'replayed',\n"
"retained values 'retained'.\n"
"  -h, --help        this text\n";

struct sub_args {
	bool json;
	bool ready;
	uint64_t count;		/* 0: unlimited */
	long long timeout_ms;	/* -1: none */
	uint32_t ring;		/* 0: module default */
	int policy;		/* -1: leave as is */
	uint64_t lossless_ms;	/* --lossless: 0 none */
	struct evbus_sub_opts filt;	/* flags 0: plain subscriptions */
	struct sock_filter prog[EVBUS_FILTER_MAX_INSNS];
	char **patterns;
	int npatterns;
	bool no_mmap;		/* read() instead of the mapped ring */
};

#define SUB_PAST	(EVBUS_SUB_SINCE | EVBUS_SUB_LAST | EVBUS_SUB_RETAINED)

/* The option that asked for flag, for messages. */
static const char *sub_past_opt(uint32_t flags)
{
	return flags & EVBUS_SUB_SINCE ? "--since" :
	       flags & EVBUS_SUB_LAST ? "--last" : "--retained";
}

/* --since, --last and --retained exclude each other. */
static int sub_set_past(struct sub_args *a, uint32_t flag)
{
	if ((a->filt.flags & SUB_PAST) && !(a->filt.flags & flag))
		return cli_usage_err("sub", "--since, --last and --retained exclude each other");
	a->filt.flags |= flag;
	return 0;
}

/* "N" or "N-M" with N <= M. */
static bool parse_type_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	const char *dash = strchr(s, '-');
	char buf[32];

	if (!dash)
		return parse_u32(s, lo) && (*hi = *lo, true);
	if ((size_t)(dash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	return parse_u32(buf, lo) && parse_u32(dash + 1, hi) && *lo <= *hi;
}

#define SLURP_MAX	(1U << 20)

/* A whole file (stdin for "-") as a string, or NULL with errno set. */
static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t len = 0, cap = 0, n;
	char *buf = NULL, *nbuf;
	int err = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			nbuf = cap <= SLURP_MAX ? realloc(buf, cap + 1) : NULL;
			if (!nbuf) {
				err = cap > SLURP_MAX ? EFBIG : ENOMEM;
				break;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (!n) {
			err = ferror(f) ? EIO : 0;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		errno = err;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int sub_load_filter(const char *path, struct sub_args *a)
{
	unsigned int line;
	char *text = slurp(path);
	int n;

	if (!text) {
		cli_err("cannot read the filter %s: %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	n = evbus_filter_parse(text, a->prog, EVBUS_FILTER_MAX_INSNS, &line);
	free(text);
	if (n == -E2BIG)
		return cli_usage_err("sub", "the filter %s has more than %d instructions",
				     path, EVBUS_FILTER_MAX_INSNS);
	if (n < 0)
		return cli_usage_err("sub", "the filter %s is not 'tcpdump -ddd' text (line %u): a count, then 'code jt jf k' per line",
				     path, line);
	a->filt.flags |= EVBUS_SUB_FILTER;
	a->filt.filter = a->prog;
	a->filt.filter_len = (uint32_t)n;
	return 0;
}

static int sub_parse(int argc, char **argv, struct sub_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ready", no_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'R' },
		{ "policy", required_argument, NULL, 'P' },
		{ "lossless", required_argument, NULL, 'W' },
		{ "from-uid", required_argument, NULL, 'U' },
		{ "from-gid", required_argument, NULL, 'G' },
		{ "from-pid", required_argument, NULL, 'I' },
		{ "type", required_argument, NULL, 'T' },
		{ "filter", required_argument, NULL, 'F' },
		{ "no-mmap", no_argument, NULL, 'M' },
		{ "since", required_argument, NULL, 'S' },
		{ "last", required_argument, NULL, 'L' },
		{ "retained", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, ret;

	a->timeout_ms = -1;
	a->policy = -1;
	a->filt.sz = sizeof(a->filt);
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'r':
			a->ready = true;
			break;
		case 'M':
			a->no_mmap = true;
			break;
		case 'n':
			if (!parse_u64(optarg, &a->count) || !a->count)
				return cli_usage_err("sub", "--count wants a positive number, not '%s'", optarg);
			break;
		case 't':
			if (!parse_secs(optarg, &a->timeout_ms))
				return cli_usage_err("sub", "--timeout wants seconds (e.g. 5 or 0.5), not '%s'", optarg);
			break;
		case 'R':
			if (!parse_size(optarg, &a->ring) || !a->ring)
				return cli_usage_err("sub", "--ring wants a size in bytes (e.g. 65536 or 64K), not '%s'", optarg);
			break;
		case 'P':
			if (!strcmp(optarg, "drop-oldest"))
				a->policy = EVBUS_POLICY_DROP_OLDEST;
			else if (!strcmp(optarg, "drop-newest"))
				a->policy = EVBUS_POLICY_DROP_NEWEST;
			else
				return cli_usage_err("sub", "--policy is drop-oldest or drop-newest, not '%s'", optarg);
			break;
		case 'W':
			if (!parse_u64(optarg, &a->lossless_ms) || !a->lossless_ms ||
			    a->lossless_ms > UINT64_MAX / 1000000)
				return cli_usage_err("sub", "--lossless wants a positive number of milliseconds, not '%s'", optarg);
			break;
		case 'U':
			if (!parse_u32(optarg, &a->filt.from_uid))
				return cli_usage_err("sub", "--from-uid wants a uid, not '%s'", optarg);
			a->filt.flags |= EVBUS_SUB_FROM_UID;
			break;
		case 'G':
			if (!parse_u32(optarg, &a->filt.from_gid))
				return cli_usage_err("sub", "--from-gid wants a gid, not '%s'", optarg);
			a->filt.flags |= EVBUS_SUB_FROM_GID;
			break;
		case 'I':
			if (!parse_u32(optarg, &a->filt.from_pid) || !a->filt.from_pid)
				return cli_usage_err("sub", "--from-pid wants a process id, not '%s'", optarg);
			a->filt.flags |= EVBUS_SUB_FROM_PID;
			break;
		case 'T':
			if (!parse_type_range(optarg, &a->filt.type_min, &a->filt.type_max))
				return cli_usage_err("sub", "--type wants N or N-M with N <= M, not '%s'", optarg);
			a->filt.flags |= EVBUS_SUB_TYPE;
			break;
		case 'F':
			if (a->filt.flags & EVBUS_SUB_FILTER)
				return cli_usage_err("sub", "--filter may be given once");
			ret = sub_load_filter(optarg, a);
			if (ret)
				return ret;
			break;
		case 'S':
			if (!parse_u64(optarg, &a->filt.since) || !a->filt.since)
				return cli_usage_err("sub", "--since wants a sequence number (1 or more), not '%s'", optarg);
			ret = sub_set_past(a, EVBUS_SUB_SINCE);
			if (ret)
				return ret;
			break;
		case 'L':
			if (!parse_u32(optarg, &a->filt.last) || !a->filt.last)
				return cli_usage_err("sub", "--last wants a positive number of events, not '%s'", optarg);
			ret = sub_set_past(a, EVBUS_SUB_LAST);
			if (ret)
				return ret;
			break;
		case 'A':
			ret = sub_set_past(a, EVBUS_SUB_RETAINED);
			if (ret)
				return ret;
			break;
		case 'h':
			fputs(sub_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("sub", opt, argv);
		}
	}
	if (a->lossless_ms && a->policy >= 0)
		return cli_usage_err("sub", "--lossless is a policy of its own: it does not go with --policy");
	a->patterns = argv + optind;
	a->npatterns = argc - optind;
	if (!a->npatterns)
		return cli_usage_err("sub", "sub needs at least one PATTERN (e.g. 'app.>')");
	return 0;
}

/* --lossless MS: a lossless ring (of --ring BYTES, if given). */
static int sub_setup_lossless(struct evbus *bus, const struct sub_args *a)
{
	int ret = evbus_set_ring_lossless(bus, a->ring, a->lossless_ms * 1000000);

	if (ret == -EOPNOTSUPP) {
		cli_err("cannot make the ring lossless: the loaded evbus module has no lossless rings (no 'lossless' feature)");
		return EXIT_RUNTIME;
	}
	if (ret == -EINVAL) {
		cli_err("the module refused --lossless %" PRIu64 "%s: the wait must be at most its lossless_max_ms%s (see /sys/module/evbus/parameters/)",
			a->lossless_ms, a->ring ? " with --ring" : "",
			a->ring ? ", the size within its ring_min..ring_max" : "");
		return EXIT_RUNTIME;
	}
	return ret ? cli_errno_exit("cannot make the ring lossless", ret) : 0;
}

static int sub_setup_ring(struct evbus *bus, const struct sub_args *a)
{
	uint32_t policy;
	int ret;

	if (a->lossless_ms)
		return sub_setup_lossless(bus, a);
	if (!a->ring && a->policy < 0)
		return 0;
	ret = evbus_get_ring(bus, NULL, &policy);
	if (!ret)
		ret = evbus_set_ring(bus, a->ring,
				     a->policy < 0 ? policy : (uint32_t)a->policy);
	if (ret == -EINVAL && a->ring) {
		cli_err("the module refused --ring %u: the size must lie within its ring_min..ring_max (see /sys/module/evbus/parameters/)",
			a->ring);
		return EXIT_RUNTIME;
	}
	return ret ? cli_errno_exit("cannot configure the ring", ret) : 0;
}

/*
 * Take records from the mapped ring (evbus_read() then does): the same
 * records as read(), without its copy.  An older module, or an inherited
 * read-only file, reads as before.
 */
static int sub_map(struct evbus *bus)
{
	struct evbus_mmap *mm;
	int ret = evbus_mmap_open(bus, &mm);

	if (ret == -EOPNOTSUPP || ret == -EACCES)
		return 0;
	return ret ? cli_errno_exit("cannot map the ring", ret) : 0;
}

/*
 * Explain why a start in the past was refused and say 1, or say 0 when
 * there is nothing to add to the usual message.
 */
static int sub_past_err(const struct sub_args *a, const char *pattern, int err)
{
	uint32_t past = a->filt.flags & SUB_PAST;
	const char *opt = sub_past_opt(past);

	switch (-err) {
	case ERANGE:
		if (!(past & EVBUS_SUB_SINCE))
			return 0;
		cli_err("cannot subscribe to '%s': seq %" PRIu64 " is beyond this bus's newest event: a different bus, or it was recreated",
			pattern, (uint64_t)a->filt.since);
		return EXIT_RUNTIME;
	case EBUSY:
		cli_err("cannot subscribe to '%s' with %s: %s (EBUSY: this handle has %s; replay needs a handle that has queued nothing)",
			pattern, opt, strerror(-err),
			past & EVBUS_SUB_RETAINED ? "not caught up with a replay yet" :
			"already queued records");
		return EXIT_RUNTIME;
	case EACCES:
		cli_err("cannot subscribe to '%s' with %s: %s (EACCES: the bus's policy withholds the replay right on it, or the policy or this handle's scope refuses the pattern itself)",
			pattern, opt, strerror(-err));
		return EXIT_RUNTIME;
	case EOPNOTSUPP:
		cli_err("cannot subscribe to '%s' with %s: the loaded evbus module %s",
			pattern, opt, past & EVBUS_SUB_RETAINED ?
			"keeps no retained values (no 'retained' feature)" :
			"keeps no history (no 'history' feature)");
		return EXIT_RUNTIME;
	default:
		return 0;
	}
}

static int sub_subscribe(struct evbus *bus, const struct sub_args *a)
{
	int i, ret;

	for (i = 0; i < a->npatterns; i++) {
		if (a->filt.flags)
			ret = evbus_subscribe_opts(bus, a->patterns[i], &a->filt, NULL);
		else
			ret = evbus_subscribe(bus, a->patterns[i], NULL);
		if (ret == -ENOSPC) {
			cli_err("cannot subscribe to '%s': too many subscriptions for one file (module parameter max_subs)",
				a->patterns[i]);
			return EXIT_RUNTIME;
		}
		if (ret == -ESRCH && (a->filt.flags & EVBUS_SUB_FROM_PID)) {
			cli_err("cannot subscribe to '%s': no process %u (--from-pid)",
				a->patterns[i], a->filt.from_pid);
			return EXIT_RUNTIME;
		}
		if (ret && (a->filt.flags & SUB_PAST) &&
		    sub_past_err(a, a->patterns[i], ret))
			return EXIT_RUNTIME;
		if (ret == -EINVAL && (a->filt.flags & EVBUS_SUB_FILTER)) {
			cli_err("cannot subscribe to '%s': the kernel refused the filter (EINVAL: see \"Filters on a subscription\" in README: loads are 32-bit, absolute, aligned and below %d)",
				a->patterns[i], EVBUS_FILTER_WINDOW);
			return EXIT_RUNTIME;
		}
		if (ret) {
			char what[EVBUS_TOPIC_MAX + 32];

			snprintf(what, sizeof(what), "cannot subscribe to '%s'",
				 a->patterns[i]);
			return cli_errno_exit(what, ret);
		}
	}
	return 0;
}

/*
 * Print every record buffered or readable now; -1 when --count is reached,
 * 1 when the policy revoked every subscription (nothing more can come).
 */
static int sub_drain(struct evbus *bus, const struct sub_args *a, uint64_t *seen,
		     int *live)
{
	const struct evbus_record *rec;
	int ret;

	while (!(ret = evbus_read(bus, &rec, 0))) {
		bool revoked = evbus_record_revoked(rec);

		if (!rec->event && !rec->lagged && !revoked &&
		    !evbus_record_request(rec) && !evbus_record_cancelled(rec))
			continue;	/* a record kind newer than this tool */
		if (a->json)
			put_record_json(stdout, rec);
		else
			put_record_human(stdout, rec);
		if (fflush(stdout))
			return cli_errno_exit("writing stdout", -errno);
		if (revoked && !--*live) {
			cli_err("the bus's owner revoked every subscription of this command");
			return EXIT_RUNTIME;
		}
		if (a->count && ++*seen >= a->count)
			return -1;
	}
	if (ret == -EAGAIN)
		return 0;
	return cli_errno_exit("reading events", ret);
}

static int sub_loop(struct evbus *bus, const struct sub_args *a, int sigfd)
{
	long long deadline = a->timeout_ms >= 0 ? now_ms() + a->timeout_ms : -1;
	struct pollfd pfd[2] = {
		{ .fd = evbus_fd(bus), .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};
	int live = a->npatterns;
	uint64_t seen = 0;
	long long left;
	int ret;

	for (;;) {
		ret = sub_drain(bus, a, &seen, &live);
		if (ret)
			return ret < 0 ? 0 : ret;
		left = -1;
		if (deadline >= 0) {
			left = deadline - now_ms();
			if (left <= 0)
				return 0;
		}
		ret = poll(pfd, 2, left > INT32_MAX ? INT32_MAX : (int)left);
		if (ret < 0 && errno != EINTR)
			return cli_errno_exit("poll", -errno);
		if (pfd[1].revents)
			return 0;	/* SIGINT or SIGTERM */
		if ((pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pfd[0].revents & POLLIN)) {
			cli_err("the evbus device reported an error or hang-up");
			return EXIT_RUNTIME;
		}
	}
}

int cmd_sub(int argc, char **argv)
{
	struct sub_args a = {};
	struct evbus *bus;
	int i, ret, sigfd;

	ret = sub_parse(argc, argv, &a);
	if (ret)
		return ret;
	for (i = 0; i < a.npatterns; i++) {
		ret = cli_check_name(a.patterns[i], true);
		if (ret)
			return ret;
	}
	sigfd = signalfd_open(NULL, 0);
	if (sigfd < 0)
		return cli_errno_exit("signalfd", sigfd);
	/* Mapping the ring writes its control page: that needs a read-write file. */
	ret = cli_open(&bus, a.no_mmap ? EVBUS_OPEN_RDONLY : 0);
	if (ret)
		goto out_sigfd;
	ret = sub_setup_ring(bus, &a);
	if (!ret)
		ret = sub_subscribe(bus, &a);
	if (!ret && !a.no_mmap)
		ret = sub_map(bus);
	if (!ret && a.ready) {
		fputs("ready\n", stderr);
		fflush(stderr);
	}
	if (!ret)
		ret = sub_loop(bus, &a, sigfd);
	evbus_close(bus);
out_sigfd:
	close(sigfd);
	return ret;
}
