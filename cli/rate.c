// SPDX-License-Identifier: GPL-2.0
/*
 * evbus rate: show and set the rate limits of the caller's bus.
 *
 *   evbus rate [--json]
 *   evbus rate (--user U | --all) [--json]
 *   evbus rate (--user U | --all) [--events RATE[/s][:BURST]]
 *                                 [--bytes RATE[/s][:BURST]]
 *   evbus rate (--user U | --all) --clear
 *
 * Without --user or --all: the limits the kernel applies to this command's
 * handle (EVBUS_RATE_GET): its user's on this bus and the handle's own
 * (one inherited through EVBUS_FD may have one), with their tokens.  With
 * them: the owner's limit for that user (EVBUS_RATE_USER_GET), set with
 * --events and --bytes or removed with --clear (EVBUS_RATE_USER; the
 * kernel says EPERM to anyone but the bus's owner).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char rate_usage[] =
"usage: evbus rate [--json]\n"
"       evbus rate (--user U | --all) [--json]\n"
"       evbus rate (--user U | --all) [--events RATE[/s][:BURST]]\n"
"                                     [--bytes RATE[/s][:BURST]]\n"
"       evbus rate (--user U | --all) --clear\n"
"\n"
"Show or set the rate limits of this IPC namespace's bus.  A publish over\n"
"its user's limit, or over its handle's own, fails (EAGAIN: nothing is\n"
"published; 'evbus pub --wait MS' waits for the limit instead).\n"
"\n"
"Without --user or --all, show the limits that apply to this command: its\n"
"user's and its handle's own (an EVBUS_FD handle may have one), with the\n"
"tokens left in each bucket.  With --user or --all, show the bus owner's\n"
"limit for that user, or set it with --events and --bytes (a dimension\n"
"not given is unlimited), or remove it with --clear; changes need the\n"
"bus's owner (CAP_SYS_ADMIN in the user namespace owning the IPC\n"
"namespace).  A user is the account at the top of its user namespaces:\n"
"a container's uids share their creator's limit.\n"
"\n"
"      --user U      the limit of files opened with euid U (number or name)\n"
"      --uid U       the same\n"
"      --all         the limit of every user without one of its own\n"
"      --events RATE[/s][:BURST]\n"
"                    RATE events per second, at most BURST at once\n"
"                    (default: RATE, one second's worth)\n"
"      --bytes RATE[/s][:BURST]\n"
"                    RATE payload bytes per second, at most BURST at once\n"
"                    (K and M suffixes; a larger payload never passes)\n"
"      --clear       remove the limit\n"
"      --json        show as one JSON object\n"
"  -h, --help        this text\n";

struct rate_args {
	bool json;
	bool clear;
	bool set;		/* --events or --bytes */
	uint32_t who;		/* EVBUS_WHO_*, UINT32_MAX: not given */
	uint32_t uid;
	struct evbus_rate_limit lim;
};

static bool rate_parse_user(const char *s, uint32_t *uid)
{
	struct passwd *pw;

	if (parse_u32(s, uid))
		return true;
	pw = getpwnam(s);
	if (pw)
		*uid = pw->pw_uid;
	return pw != NULL;
}

/* One number of a limit: a count, or bytes with K and M suffixes. */
static bool rate_num(const char *s, bool bytes, uint64_t *v)
{
	return bytes ? parse_bytes(s, v) : parse_u64(s, v);
}

/*
 * "RATE[/s][:BURST]" into *rate and *burst (default: RATE, up to
 * EVBUS_RATE_BURST_MAX): RATE 1..EVBUS_RATE_MAX, BURST
 * 1..EVBUS_RATE_BURST_MAX.
 */
static bool parse_limit(const char *s, bool bytes, uint64_t *rate,
			uint64_t *burst)
{
	char buf[64], *colon, *slash;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = '\0';
	slash = strchr(buf, '/');
	if (slash) {
		if (strcmp(slash, "/s"))
			return false;
		*slash = '\0';
	}
	if (!rate_num(buf, bytes, rate) || !*rate || *rate > EVBUS_RATE_MAX)
		return false;
	if (!colon) {
		*burst = *rate < EVBUS_RATE_BURST_MAX ? *rate : EVBUS_RATE_BURST_MAX;
		return true;
	}
	return rate_num(colon, bytes, burst) && *burst &&
	       *burst <= EVBUS_RATE_BURST_MAX;
}

static int rate_set_who(struct rate_args *a, uint32_t who)
{
	if (a->who != UINT32_MAX)
		return cli_usage_err("rate", "give one of --user and --all");
	a->who = who;
	return 0;
}

static int rate_parse(int argc, char **argv, struct rate_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "user", required_argument, NULL, 'u' },
		{ "uid", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ "events", required_argument, NULL, 'e' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "clear", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t rate, burst;
	int opt, ret = 0;

	a->who = UINT32_MAX;
	while (!ret && (opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'u':
			if (!rate_parse_user(optarg, &a->uid))
				return cli_usage_err("rate", "--user wants a uid or a user name, not '%s'", optarg);
			ret = rate_set_who(a, EVBUS_WHO_UID);
			break;
		case 'a':
			a->uid = 0;
			ret = rate_set_who(a, EVBUS_WHO_ALL);
			break;
		case 'e':
			if (!parse_limit(optarg, false, &rate, &burst))
				return cli_usage_err("rate", "--events wants RATE[/s][:BURST] with RATE 1..%llu and BURST 1..%llu (e.g. 100/s:20), not '%s'",
						     (unsigned long long)EVBUS_RATE_MAX,
						     (unsigned long long)EVBUS_RATE_BURST_MAX, optarg);
			a->lim.events_per_sec = rate;
			a->lim.events_burst = burst;
			a->set = true;
			break;
		case 'b':
			if (!parse_limit(optarg, true, &rate, &burst))
				return cli_usage_err("rate", "--bytes wants RATE[/s][:BURST] in bytes with RATE 1..%llu and BURST 1..%llu (K and M suffixes, e.g. 1M/s:4M), not '%s'",
						     (unsigned long long)EVBUS_RATE_MAX,
						     (unsigned long long)EVBUS_RATE_BURST_MAX, optarg);
			a->lim.bytes_per_sec = rate;
			a->lim.bytes_burst = burst;
			a->set = true;
			break;
		case 'c':
			a->clear = true;
			break;
		case 'h':
			fputs(rate_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("rate", opt, argv);
		}
	}
	if (ret)
		return ret;
	if (optind < argc)
		return cli_usage_err("rate", "rate takes no arguments ('%s')", argv[optind]);
	if (a->set && a->clear)
		return cli_usage_err("rate", "--clear does not go with --events or --bytes");
	if ((a->set || a->clear) && a->who == UINT32_MAX)
		return cli_usage_err("rate", "%s wants one of --user U and --all",
				     a->clear ? "--clear" : a->lim.events_per_sec ?
				     "--events" : "--bytes");
	if (a->json && (a->set || a->clear))
		return cli_usage_err("rate", "--json goes with showing a limit, not with changing it");
	return 0;
}

/* One dimension as "RATE/s:BURST" or "unlimited". */
static void put_dim(uint64_t rate, uint64_t burst)
{
	if (rate)
		printf("%" PRIu64 "/s:%" PRIu64, rate, burst);
	else
		fputs("unlimited", stdout);
}

/* "events 1/s:3, bytes unlimited", or "unlimited". */
static void put_limit(const struct evbus_rate_limit *l)
{
	if (!l->events_per_sec && !l->bytes_per_sec) {
		fputs("unlimited", stdout);
		return;
	}
	fputs("events ", stdout);
	put_dim(l->events_per_sec, l->events_burst);
	fputs(", bytes ", stdout);
	put_dim(l->bytes_per_sec, l->bytes_burst);
}

/* " (tokens: 3 events, 100 bytes)" for the limited dimensions. */
static void put_tokens(const struct evbus_rate_limit *l, int64_t ev, int64_t by)
{
	if (!l->events_per_sec && !l->bytes_per_sec)
		return;
	fputs(" (tokens:", stdout);
	if (l->events_per_sec)
		printf(" %" PRId64 " events%s", ev, l->bytes_per_sec ? "," : "");
	if (l->bytes_per_sec)
		printf(" %" PRId64 " bytes", by);
	putchar(')');
}

static void put_limit_json(const struct evbus_rate_limit *l)
{
	printf("{\"events_per_sec\":%" PRIu64 ",\"events_burst\":%" PRIu64
	       ",\"bytes_per_sec\":%" PRIu64 ",\"bytes_burst\":%" PRIu64,
	       (uint64_t)l->events_per_sec, (uint64_t)l->events_burst,
	       (uint64_t)l->bytes_per_sec, (uint64_t)l->bytes_burst);
}

static int rate_show_mine(struct evbus *bus, bool json)
{
	struct evbus_rate r;
	int ret = evbus_rate_get(bus, &r);

	if (ret)
		return ret;
	if (json) {
		fputs("{\"user\":", stdout);
		put_limit_json(&r.user);
		printf(",\"events_tokens\":%" PRId64 ",\"bytes_tokens\":%" PRId64 "},\"file\":",
		       (int64_t)r.user_events_tokens, (int64_t)r.user_bytes_tokens);
		put_limit_json(&r.limit);
		printf(",\"events_tokens\":%" PRId64 ",\"bytes_tokens\":%" PRId64 "}",
		       (int64_t)r.events_tokens, (int64_t)r.bytes_tokens);
		printf(",\"refused\":%" PRIu64 ",\"waited\":%" PRIu64 "}\n",
		       (uint64_t)r.refused, (uint64_t)r.waited);
		return 0;
	}
	fputs("user: ", stdout);
	put_limit(&r.user);
	put_tokens(&r.user, r.user_events_tokens, r.user_bytes_tokens);
	fputs("\nfile: ", stdout);
	put_limit(&r.limit);
	put_tokens(&r.limit, r.events_tokens, r.bytes_tokens);
	printf("\nrefused: %" PRIu64 "\nwaited: %" PRIu64 "\n",
	       (uint64_t)r.refused, (uint64_t)r.waited);
	return 0;
}

static int rate_show_user(struct evbus *bus, const struct rate_args *a)
{
	struct evbus_rate_limit l;
	int ret = evbus_rate_user_get(bus, a->who, a->uid, &l);
	char who[32];

	if (ret && ret != -ENOENT)
		return ret;
	if (a->json) {
		if (a->who == EVBUS_WHO_UID)
			printf("{\"who\":\"uid\",\"uid\":%u,\"limit\":", a->uid);
		else
			fputs("{\"who\":\"all\",\"limit\":", stdout);
		if (ret) {
			fputs("null", stdout);
		} else {
			put_limit_json(&l);
			putchar('}');
		}
		puts("}");
		return 0;
	}
	if (a->who == EVBUS_WHO_UID)
		snprintf(who, sizeof(who), "uid %u", a->uid);
	else
		snprintf(who, sizeof(who), "all");
	printf("%s: ", who);
	if (ret)
		fputs(a->who == EVBUS_WHO_UID ? "no limit of its own" : "no limit",
		      stdout);
	else
		put_limit(&l);
	putchar('\n');
	return 0;
}

/* What a refusal of the kernel means, exit 1. */
static int rate_err(const char *what, const struct rate_args *a, int err)
{
	switch (-err) {
	case EOPNOTSUPP:
		cli_err("%s: the loaded evbus module has no rate limits (no 'rate' feature)", what);
		return EXIT_RUNTIME;
	case ENOENT:
		if (a->who == EVBUS_WHO_UID)
			cli_err("%s: uid %u has no limit of its own", what, a->uid);
		else
			cli_err("%s: there is no limit for all users", what);
		return EXIT_RUNTIME;
	case ENOSPC:
		cli_err("%s: %s (ENOSPC: the bus holds at most 256 per-user limits)",
			what, strerror(-err));
		return EXIT_RUNTIME;
	case EINVAL:
		if (a->who != EVBUS_WHO_UID)
			break;
		cli_err("%s: %s (EINVAL: uid %u has no mapping in this user namespace)",
			what, strerror(-err), a->uid);
		return EXIT_RUNTIME;
	default:
		break;
	}
	return cli_errno_exit(what, err);
}
int cmd_rate(int argc, char **argv)
{
	struct rate_args a = {};
	struct evbus *bus;
	int ret;

	ret = rate_parse(argc, argv, &a);
	if (ret)
		return ret;
	ret = cli_open(&bus, 0);
	if (ret)
		return ret;
	if (a.set || a.clear) {
		ret = evbus_rate_limit_user(bus, a.who, a.uid, a.clear ? NULL : &a.lim);
		if (ret)
			ret = rate_err(a.clear ? "cannot remove the limit" :
				       "cannot set the limit", &a, ret);
	} else if (a.who != UINT32_MAX) {
		ret = rate_show_user(bus, &a);
		if (ret)
			ret = rate_err("cannot read the limit", &a, ret);
	} else {
		ret = rate_show_mine(bus, a.json);
		if (ret)
			ret = rate_err("cannot read the rate limits", &a, ret);
	}
	if (!ret && fflush(stdout))
		ret = cli_errno_exit("writing stdout", -errno);
	evbus_close(bus);
	return ret;
}
