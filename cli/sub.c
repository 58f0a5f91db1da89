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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char sub_usage[] =
"usage: evbus sub [--json] [--ready] [--count N] [--timeout SECS] [--ring BYTES]\n"
"                 [--policy drop-oldest|drop-newest] PATTERN...\n"
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
"  -h, --help        this text\n";

struct sub_args {
	bool json;
	bool ready;
	uint64_t count;		/* 0: unlimited */
	long long timeout_ms;	/* -1: none */
	uint32_t ring;		/* 0: module default */
	int policy;		/* -1: leave as is */
	char **patterns;
	int npatterns;
};

static int sub_parse(int argc, char **argv, struct sub_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ready", no_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'R' },
		{ "policy", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt;

	a->timeout_ms = -1;
	a->policy = -1;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'r':
			a->ready = true;
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
		case 'h':
			fputs(sub_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("sub", opt, argv);
		}
	}
	a->patterns = argv + optind;
	a->npatterns = argc - optind;
	if (!a->npatterns)
		return cli_usage_err("sub", "sub needs at least one PATTERN (e.g. 'app.>')");
	return 0;
}

static int sub_setup_ring(struct evbus *bus, const struct sub_args *a)
{
	uint32_t policy;
	int ret;

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

static int sub_subscribe(struct evbus *bus, const struct sub_args *a)
{
	int i, ret;

	for (i = 0; i < a->npatterns; i++) {
		ret = evbus_subscribe(bus, a->patterns[i], NULL);
		if (ret == -ENOSPC) {
			cli_err("cannot subscribe to '%s': too many subscriptions for one file (module parameter max_subs)",
				a->patterns[i]);
			return EXIT_RUNTIME;
		}
		if (ret) {
			cli_err("cannot subscribe to '%s': %s", a->patterns[i],
				strerror(-ret));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

/* Print every record buffered or readable now; 1 when --count is reached. */
static int sub_drain(struct evbus *bus, const struct sub_args *a, uint64_t *seen)
{
	const struct evbus_record *rec;
	int ret;

	while (!(ret = evbus_read(bus, &rec, 0))) {
		if (!rec->event && !rec->lagged)
			continue;	/* a record kind newer than this tool */
		if (a->json)
			put_record_json(stdout, rec);
		else
			put_record_human(stdout, rec);
		if (fflush(stdout))
			return cli_errno_exit("writing stdout", -errno);
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
	uint64_t seen = 0;
	long long left;
	int ret;

	for (;;) {
		ret = sub_drain(bus, a, &seen);
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
	sigfd = signalfd_open(NULL);
	if (sigfd < 0)
		return cli_errno_exit("signalfd", sigfd);
	ret = cli_open(&bus, EVBUS_OPEN_RDONLY);
	if (ret)
		goto out_sigfd;
	ret = sub_setup_ring(bus, &a);
	if (!ret)
		ret = sub_subscribe(bus, &a);
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
