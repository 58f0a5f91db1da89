// SPDX-License-Identifier: GPL-2.0
/*
 * evbus pub: publish DATA, or every line of stdin as one event.
 *
 * Lines are published in batches of whatever one read() of stdin brought
 * in (at most EVBUS_BATCH_MAX per ioctl), so a slow producer sees its lines
 * go out as they are written and a fast one gets big batches.  With -v each
 * line is published on its own: the batch ioctl reports only the first
 * sequence number, and other publishers may interleave with the rest.
 * With --retain every event also becomes its topic's retained value (the
 * last one wins; an empty one clears it).  With --ask every event goes
 * through the bus's approvers first (each line of stdin on its own, in
 * order); a refusal ends the command with status 1 and the errno's
 * meaning.  With --wait every event that finds its rate limit spent
 * waits for tokens (EVBUS_PUB_WAIT) up to the deadline; without it a
 * publish over the limit fails (EAGAIN).  With --will nothing is
 * published now: TOPIC [DATA] becomes the will of a file held while CMD
 * runs (scope.c).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A line can be at most the payload ceiling (1 MiB) plus its newline. */
#define PUB_LINE_MAX	((1U << 20) + 1)
#define PUB_READ_CHUNK	(64U << 10)

static const char pub_usage[] =
"usage: evbus pub [-v] [--retain] [--ask [--deadline MS]] [--wait MS] [--type N]\n"
"                 [--corr ID] [--parent SEQ] TOPIC [DATA]\n"
"       evbus pub --will [--scope N] [--clear-on-success] [--type N] [--corr ID]\n"
"                 [--parent SEQ] TOPIC [DATA] -- CMD [ARGS]\n"
"\n"
"Publish DATA on TOPIC, or, without DATA, each line of stdin as one event\n"
"(without its newline; published in batches).\n"
"\n"
"With --will, arm DATA on TOPIC (empty without DATA) as a last will, run\n"
"CMD and exit with its status: the kernel publishes the will, flagged\n"
"will, when evbus ends, even if it is killed (SIGKILL included).\n"
"\n"
"  -v, --verbose     print each event's sequence number on stdout\n"
"      --retain      also make it TOPIC's retained value, which 'evbus sub\n"
"                    --retained' gets first; an empty DATA ('') clears it\n"
"      --ask         ask the bus's approvers ('evbus approve') first: exit 0\n"
"                    once published, 1 with the reason if refused\n"
"      --deadline MS wait for the verdicts at most MS milliseconds (then the\n"
"                    approvers' defaults apply; default: the module's\n"
"                    approval_timeout_ms)\n"
"      --wait MS     over the bus's rate limit (see 'evbus rate'), wait up to\n"
"                    MS milliseconds for it to allow the event instead of\n"
"                    failing at once (with --ask, MS is the deadline for the\n"
"                    verdicts too)\n"
"      --type N      application type code (32 bits)\n"
"      --corr ID     correlation id (64 bits)\n"
"      --parent SEQ  sequence number of the event this one follows from\n"
"      --will        the event is a will held while CMD runs (see above)\n"
"      --scope N     which will of the file (64 bits; default 0)\n"
"      --clear-on-success  disarm the will if CMD exits with status 0: it\n"
"                    then reports only a failure of CMD or of evbus\n"
"  -h, --help        this text\n";

struct pub_ctx {
	struct evbus *bus;
	struct evbus_pub_opts po;
	const char *topic;
	bool verbose;
	uint64_t deadline_ns;	/* --deadline with --ask, --wait */
	/* stdin mode */
	struct evbus_pub evs[EVBUS_BATCH_MAX];
	unsigned int n;		/* events in evs */
	uint64_t line;		/* line number of evs[0] */
};

/*
 * The approval gate refused an event (--ask, or a policy's ask rule):
 * "pub: denied: <strerror>" plus what the gate's own errnos mean, and say
 * true; false for an error that is not the gate's.
 */
static bool pub_gate_err(const struct pub_ctx *c, int err, const char *where)
{
	const char *why = NULL;
	char at[64] = "";

	if (*where)	/* " line N of stdin" */
		snprintf(at, sizeof(at), " (%s)", where + 1);
	switch (-err) {
	case ETIMEDOUT:
		why = "no verdict before the deadline, and the approver's default is deny";
		break;
	case ECONNRESET:
		why = "an approver went away before it answered, and its default is deny";
		break;
	case ENOBUFS:
		why = "an approver had no room for the request, and its default is deny";
		break;
	case ECONNREFUSED:
		why = "the bus's policy makes this topic ask, and no approver watches it";
		break;
	case EINTR:
		cli_err("pub: interrupted while waiting for approval%s on '%s': nothing was published",
			at, c->topic);
		return true;
	case EMSGSIZE:
	case EOPNOTSUPP:
	case EBADF:
	case EFAULT:
	case ENOMEM:
		return false;
	default:
		if (!(c->po.flags & EVBUS_PUB_ASK))
			return false;
	}
	if (why)
		cli_err("pub: denied%s: %s (%s)", at, strerror(-err), why);
	else
		cli_err("pub: denied%s: %s", at, strerror(-err));
	return true;
}

/*
 * A rate limit refused an event (the module has them: rate): say which
 * and what to do, and say true; false for an error that is not the rate
 * limit's.  The caller has ruled out EMSGSIZE from max_payload.
 */
static bool pub_rate_err(const struct pub_ctx *c, int err, const char *where,
			 size_t len)
{
	bool wait = c->po.flags & EVBUS_PUB_WAIT;
	bool ask = c->po.flags & EVBUS_PUB_ASK;

	switch (-err) {
	case EAGAIN:
		if (wait)
			cli_err("cannot publish%s on '%s': %s (EAGAIN: the rate limit of this handle or of its user on this bus would not allow it within --wait %" PRIu64 " ms%s; see 'evbus rate')",
				where, c->topic, strerror(-err), c->deadline_ns / 1000000,
				ask ? ", or too many asking publishes of this user are pending (max_user_asks)" : "");
		else
			cli_err("cannot publish%s on '%s': %s (EAGAIN: over the rate limit of this handle or of its user on this bus%s; --wait MS waits for it, see 'evbus rate')",
				where, c->topic, strerror(-err),
				ask ? ", or too many asking publishes of this user are pending (max_user_asks)" : "");
		return true;
	case EMSGSIZE:
		cli_err("cannot publish%s on '%s': payload of %zu bytes exceeds the byte burst of a rate limit on this bus, so it could never pass (see 'evbus rate')",
			where, c->topic, len);
		return true;
	case EINTR:
		if (!wait || ask)
			return false;	/* the gate's (see pub_gate_err()) */
		cli_err("pub: interrupted while waiting for the rate limit%s on '%s': nothing was published",
			where, c->topic);
		return true;
	default:
		return false;
	}
}

static int pub_error(struct pub_ctx *c, int err, uint64_t line, size_t len)
{
	char what[EVBUS_TOPIC_MAX + 80];
	struct evbus_version v;
	char where[48] = "";
	bool known, rated;

	if (line)
		snprintf(where, sizeof(where), " line %" PRIu64 " of stdin", line);
	if (err == -EMSGSIZE && !evbus_query(c->bus, &v) && len > v.max_payload) {
		cli_err("cannot publish%s: payload of %zu bytes exceeds the module's max_payload of %u bytes",
			where, len, v.max_payload);
		return EXIT_RUNTIME;
	}
	if (err == -ENOSPC && (c->po.flags & EVBUS_PUB_RETAIN)) {
		cli_err("cannot publish%s on '%s' with --retain: %s (ENOSPC: a cap on retained values, per bus or per user, in count or bytes; see the module parameters max_retained, max_retained_bytes, max_user_retained and max_user_retained_bytes)",
			where, c->topic, strerror(-err));
		return EXIT_RUNTIME;
	}
	/* A batch from stdin says EINVAL where evbus_publish() says EOPNOTSUPP. */
	if ((err == -EOPNOTSUPP || err == -EINVAL) && (c->po.flags & EVBUS_PUB_RETAIN) &&
	    !evbus_query(c->bus, &v) && !(v.features & EVBUS_FEAT_RETAINED)) {
		cli_err("cannot publish on '%s' with --retain: the loaded evbus module keeps no retained values (no 'retained' feature)",
			c->topic);
		return EXIT_RUNTIME;
	}
	known = !evbus_query(c->bus, &v);
	rated = known && (v.features & EVBUS_FEAT_RATE);
	if ((err == -EOPNOTSUPP || err == -EINVAL) && (c->po.flags & EVBUS_PUB_WAIT) &&
	    known && !rated) {
		cli_err("cannot publish on '%s' with --wait: the loaded evbus module has no rate limits (no 'rate' feature)",
			c->topic);
		return EXIT_RUNTIME;
	}
	if (rated && pub_rate_err(c, err, where, len))
		return EXIT_RUNTIME;
	if (err == -EOPNOTSUPP && (c->po.flags & EVBUS_PUB_ASK)) {
		cli_err("cannot publish on '%s' with --ask: the loaded evbus module has no approval gate (no 'approval' feature)",
			c->topic);
		return EXIT_RUNTIME;
	}
	if (pub_gate_err(c, err, where))
		return EXIT_RUNTIME;
	snprintf(what, sizeof(what), "cannot publish%s on '%s'", where, c->topic);
	return cli_errno_exit(what, err);
}

static int pub_one(struct pub_ctx *c, const void *data, size_t len,
		   uint64_t line)
{
	uint64_t seq;
	int ret;

	if (c->po.flags & EVBUS_PUB_ASK)
		ret = evbus_publish_ask(c->bus, c->topic, data, len, &c->po,
					c->deadline_ns, &seq);
	else if (c->po.flags & EVBUS_PUB_WAIT)
		ret = evbus_publish_wait(c->bus, c->topic, data, len, &c->po,
					 c->deadline_ns, &seq);
	else
		ret = evbus_publish(c->bus, c->topic, data, len, &c->po, &seq);
	if (ret)
		return pub_error(c, ret, line, len);
	if (c->verbose && printf("%" PRIu64 "\n", seq) < 0)
		return EXIT_RUNTIME;
	return 0;
}

/* Publish the queued lines; a partial batch is retried to get its error. */
static int pub_flush(struct pub_ctx *c)
{
	unsigned int off = 0;
	int ret;

	while (off < c->n) {
		ret = evbus_publish_batch(c->bus, c->evs + off, c->n - off, NULL);
		if (ret < 0)
			return pub_error(c, ret, c->line + off,
					 c->evs[off].payload_len);
		off += ret;
	}
	c->line += c->n;
	c->n = 0;
	return 0;
}

static int pub_line(struct pub_ctx *c, const char *p, size_t len)
{
	struct evbus_pub *e;

	/* One at a time when asking: a refusal names its line. */
	if (c->verbose || (c->po.flags & EVBUS_PUB_ASK)) {
		c->line++;
		return pub_one(c, p, len, c->line);
	}
	e = &c->evs[c->n++];
	evbus_pub_prep(e, c->topic, p, len);
	e->type = c->po.type;
	e->corr = c->po.corr;
	e->parent = c->po.parent;
	e->flags = c->po.flags;
	e->deadline_ns = c->deadline_ns;
	return c->n == EVBUS_BATCH_MAX ? pub_flush(c) : 0;
}

/* Queue every complete line of buf[0..len); returns bytes consumed or -exit. */
static long pub_lines(struct pub_ctx *c, const char *buf, size_t len)
{
	size_t start = 0;
	const char *nl;
	int ret;

	while ((nl = memchr(buf + start, '\n', len - start))) {
		ret = pub_line(c, buf + start, nl - (buf + start));
		if (ret)
			return -ret;
		start = nl - buf + 1;
	}
	ret = pub_flush(c);
	return ret ? -ret : (long)start;
}

static int pub_stdin(struct pub_ctx *c)
{
	size_t len = 0, cap = PUB_READ_CHUNK * 2;
	char *buf = malloc(cap), *nbuf;
	int ret = 0;
	long used;
	ssize_t n;

	if (!buf)
		return cli_errno_exit("out of memory", -ENOMEM);
	c->line = c->verbose || (c->po.flags & EVBUS_PUB_ASK) ? 0 : 1;
	for (;;) {
		if (cap - len < PUB_READ_CHUNK) {
			if (cap >= 2 * PUB_LINE_MAX) {
				cli_err("line %" PRIu64 " of stdin is longer than the largest possible payload (1 MiB)",
					c->verbose ? c->line + 1 : c->line);
				ret = EXIT_RUNTIME;
				break;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				ret = cli_errno_exit("out of memory", -ENOMEM);
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = cli_errno_exit("reading stdin", -errno);
			break;
		}
		if (n == 0) {
			/* A last line without a newline is an event too. */
			if (len && !(ret = pub_line(c, buf, len)))
				ret = pub_flush(c);
			break;
		}
		len += n;
		used = pub_lines(c, buf, len);
		if (used < 0) {
			ret = (int)-used;
			break;
		}
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	free(buf);
	return ret;
}

int cmd_pub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "retain", no_argument, NULL, 'r' },
		{ "ask", no_argument, NULL, 'a' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'W' },
		{ "type", required_argument, NULL, 't' },
		{ "corr", required_argument, NULL, 'c' },
		{ "parent", required_argument, NULL, 'p' },
		{ "will", no_argument, NULL, 'w' },
		{ "scope", required_argument, NULL, 's' },
		{ "clear-on-success", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct pub_ctx *c;
	uint64_t ms = 0, wait_ms = 0, scope = 0;
	bool deadline = false, will = false, have_scope = false, clear = false;
	bool eaten;
	int opt, ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return cli_errno_exit("out of memory", -ENOMEM);
	c->po.sz = sizeof(c->po);
	while ((opt = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		ret = 0;
		switch (opt) {
		case 'v':
			c->verbose = true;
			break;
		case 'r':
			c->po.flags |= EVBUS_PUB_RETAIN;
			break;
		case 'a':
			c->po.flags |= EVBUS_PUB_ASK;
			break;
		case 'd':
			if (!parse_u64(optarg, &ms) || !ms || ms > UINT64_MAX / 1000000)
				ret = cli_usage_err("pub", "--deadline wants a positive number of milliseconds, not '%s'", optarg);
			deadline = true;
			break;
		case 'W':
			if (!parse_u64(optarg, &wait_ms) || !wait_ms ||
			    wait_ms > UINT64_MAX / 1000000)
				ret = cli_usage_err("pub", "--wait wants a positive number of milliseconds, not '%s'", optarg);
			c->po.flags |= EVBUS_PUB_WAIT;
			break;
		case 't':
			if (!parse_u32(optarg, &c->po.type))
				ret = cli_usage_err("pub", "--type wants a number from 0 to 4294967295, not '%s'", optarg);
			break;
		case 'c':
			if (!parse_u64(optarg, &c->po.corr))
				ret = cli_usage_err("pub", "--corr wants an unsigned 64-bit number, not '%s'", optarg);
			break;
		case 'p':
			if (!parse_u64(optarg, &c->po.parent))
				ret = cli_usage_err("pub", "--parent wants a sequence number, not '%s'", optarg);
			break;
		case 'w':
			will = true;
			break;
		case 's':
			if (!parse_u64(optarg, &scope))
				ret = cli_usage_err("pub", "--scope wants an unsigned 64-bit number, not '%s'", optarg);
			have_scope = true;
			break;
		case 'C':
			clear = true;
			break;
		case 'h':
			fputs(pub_usage, stdout);
			goto out;
		default:
			ret = cli_bad_opt("pub", opt, argv);
		}
		if (ret)
			goto out;
	}
	eaten = !strcmp(argv[optind - 1], "--");
	argc -= optind;
	argv += optind;
	ret = EXIT_USAGE;
	if (deadline && !(c->po.flags & EVBUS_PUB_ASK)) {
		cli_usage_err("pub", "--deadline goes with --ask");
		goto out;
	}
	/* The kernel has one deadline per publish, for the gate and the tokens. */
	if (deadline && wait_ms && ms != wait_ms) {
		cli_usage_err("pub", "--deadline and --wait are one deadline for the kernel: give one of them, or the same MS");
		goto out;
	}
	if ((have_scope || clear) && !will) {
		cli_usage_err("pub", "%s goes with --will",
			      have_scope ? "--scope" : "--clear-on-success");
		goto out;
	}
	if (will && (c->verbose || (c->po.flags & (EVBUS_PUB_RETAIN | EVBUS_PUB_ASK |
						   EVBUS_PUB_WAIT)))) {
		cli_usage_err("pub", "--will does not go with %s", c->verbose ? "-v" :
			      c->po.flags & EVBUS_PUB_RETAIN ? "--retain" :
			      c->po.flags & EVBUS_PUB_ASK ? "--ask" : "--wait");
		goto out;
	}
	if (will) {
		ret = pub_will(argc, argv, eaten, &c->po, scope, clear);
		goto out;
	}
	c->deadline_ns = (wait_ms ? wait_ms : ms) * 1000000;
	if (argc < 1) {
		cli_usage_err("pub", "pub needs a TOPIC");
		goto out;
	}
	if (argc > 2) {
		cli_usage_err("pub", "too many arguments: quote DATA if it has spaces");
		goto out;
	}
	c->topic = argv[0];
	ret = cli_check_name(c->topic, false);
	if (ret)
		goto out;
	ret = cli_open(&c->bus, EVBUS_OPEN_WRONLY);
	if (ret)
		goto out;
	if (argc == 2)
		ret = pub_one(c, argv[1], strlen(argv[1]), 0);
	else
		ret = pub_stdin(c);
	if (!ret && fflush(stdout))
		ret = cli_errno_exit("writing stdout", -errno);
	evbus_close(c->bus);
out:
	free(c);
	return ret;
}
