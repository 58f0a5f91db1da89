// SPDX-License-Identifier: GPL-2.0
/*
 * evbus record: write every event on the patterns, and every gap, into a
 * database (SQLite or PostgreSQL, cli/record_*.c), in batched transactions.
 *
 * An event counts as recorded once its transaction has committed.  On
 * start the recorder reads the highest seq recorded (events and gaps) and
 * subscribes with replay from the next one, so a restart after any stop,
 * SIGKILL included, misses nothing and records nothing twice: what the
 * bus's history no longer holds comes as an exact gap row.
 *
 * SIGINT, SIGTERM and SIGUSR1 are blocked and read from a signalfd polled
 * with the bus: no handler runs, nothing is printed from signal context.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include "cli.h"
#include "record.h"

static const char record_usage[] =
"usage: evbus record (--sqlite FILE | --postgres CONNINFO) [--batch N]\n"
"                    [--flush-ms MS] [--ring BYTES] [--lossless MS]\n"
"                    [--since SEQ] [--progress] [--synchronous full|normal|off]\n"
"                    PATTERN...\n"
"       evbus record (--sqlite FILE | --postgres CONNINFO) --query\n"
"                    [--since SEQ] [--topic PATTERN] [--json]\n"
"\n"
"Write every event on topics matching any PATTERN, and every gap (a LAGGED\n"
"record), into the database, until SIGINT or SIGTERM (exit 0 after the last\n"
"commit).  A restart resumes after the highest seq recorded.  See evbus-record(1).\n"
"\n"
"      --sqlite FILE     an SQLite database (created if missing)\n"
"      --postgres CI     a PostgreSQL database (libpq conninfo or URI)\n"
"      --batch N         commit after N rows (default 1000)\n"
"      --flush-ms MS     or MS milliseconds after the first pending row (default 200)\n"
"      --ring BYTES      ring size (K and M suffixes)\n"
"      --lossless MS     publishers wait up to MS ms for the recorder (see sub)\n"
"      --since SEQ       a new database starts at SEQ (default: the bus's next seq)\n"
"      --progress        a line on stderr every second; SIGUSR1 prints one anytime\n"
"      --synchronous S   SQLite's PRAGMA synchronous (default full)\n"
"      --query           print what was recorded, as 'evbus sub' prints events\n"
"      --topic PATTERN   --query: only events on topics matching PATTERN\n"
"      --json            --query: JSON Lines\n"
"  -h, --help            this text\n";

struct rec_args {
	const struct rec_ops *ops;
	const char *target;
	uint64_t batch;
	uint64_t flush_ms;
	uint32_t ring;
	uint64_t lossless_ms;
	uint64_t since;
	bool progress;
	bool query;
	bool json;
	const char *topic;
	char **patterns;
	int npatterns;
};

struct rec_state {
	struct rec_db *db;
	uint64_t pending;		/* rows in the open transaction */
	long long first_pending;	/* now_ms() of its first row */
	uint64_t pend_seq;		/* highest seq in it */
	uint64_t events, gaps;		/* committed by this run */
	uint64_t committed_seq;		/* highest seq committed */
	long long start_ms, last_progress;
	uint64_t last_events;
};

static int rec_set_backend(struct rec_args *a, const struct rec_ops *ops,
			   const char *target)
{
	if (a->ops)
		return cli_usage_err("record", "--sqlite and --postgres exclude each other (and may be given once)");
	if (!*target)
		return cli_usage_err("record", "--%s wants a %s", ops == &rec_pg_ops ?
				     "postgres" : "sqlite", ops == &rec_pg_ops ?
				     "conninfo" : "file name");
	a->ops = ops;
	a->target = target;
	return 0;
}

static int rec_parse_opt(struct rec_args *a, int opt, char **argv)
{
	switch (opt) {
	case 'q':
		return rec_set_backend(a, &rec_sqlite_ops, optarg);
	case 'p':
		return rec_set_backend(a, &rec_pg_ops, optarg);
	case 'b':
		if (!parse_u64(optarg, &a->batch) || !a->batch || a->batch > 1000000)
			return cli_usage_err("record", "--batch wants 1..1000000 rows, not '%s'", optarg);
		return 0;
	case 'f':
		if (!parse_u64(optarg, &a->flush_ms) || !a->flush_ms || a->flush_ms > 3600000)
			return cli_usage_err("record", "--flush-ms wants 1..3600000 milliseconds, not '%s'", optarg);
		return 0;
	case 'R':
		if (!parse_size(optarg, &a->ring) || !a->ring)
			return cli_usage_err("record", "--ring wants a size in bytes (e.g. 65536 or 64K), not '%s'", optarg);
		return 0;
	case 'W':
		if (!parse_u64(optarg, &a->lossless_ms) || !a->lossless_ms ||
		    a->lossless_ms > UINT64_MAX / 1000000)
			return cli_usage_err("record", "--lossless wants a positive number of milliseconds, not '%s'", optarg);
		return 0;
	case 'S':
		if (!parse_u64(optarg, &a->since) || !a->since || a->since > INT64_MAX)
			return cli_usage_err("record", "--since wants a sequence number (1 or more), not '%s'", optarg);
		return 0;
	case 'y':
		if (strcmp(optarg, "full") && strcmp(optarg, "normal") && strcmp(optarg, "off"))
			return cli_usage_err("record", "--synchronous is full, normal or off, not '%s'", optarg);
		rec_sqlite_sync = optarg;
		return 0;
	case 'P':
		a->progress = true;
		return 0;
	case 'Q':
		a->query = true;
		return 0;
	case 'j':
		a->json = true;
		return 0;
	case 't':
		if (evbus_match(optarg, "x") < 0)
			return cli_usage_err("record", "--topic: '%s' is not a valid pattern", optarg);
		a->topic = optarg;
		return 0;
	case 'h':
		fputs(record_usage, stdout);
		exit(0);
	default:
		return cli_bad_opt("record", opt, argv);
	}
}

static int rec_check_args(struct rec_args *a)
{
	if (!a->ops)
		return cli_usage_err("record", "record needs --sqlite FILE or --postgres CONNINFO");
	if (a->query) {
		if (a->npatterns)
			return cli_usage_err("record", "--query takes no PATTERN (use --topic)");
		if (a->ring || a->lossless_ms || a->progress || a->batch || a->flush_ms)
			return cli_usage_err("record", "--query goes with --since, --topic and --json only");
		return 0;
	}
	if (a->topic || a->json)
		return cli_usage_err("record", "--topic and --json go with --query");
	if (rec_sqlite_sync && a->ops != &rec_sqlite_ops)
		return cli_usage_err("record", "--synchronous is for --sqlite");
	if (!a->npatterns)
		return cli_usage_err("record", "record needs at least one PATTERN (e.g. 'app.>')");
	if (!a->batch)
		a->batch = 1000;
	if (!a->flush_ms)
		a->flush_ms = 200;
	return 0;
}

static int rec_parse(int argc, char **argv, struct rec_args *a)
{
	static const struct option opts[] = {
		{ "sqlite", required_argument, NULL, 'q' },
		{ "postgres", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "flush-ms", required_argument, NULL, 'f' },
		{ "ring", required_argument, NULL, 'R' },
		{ "lossless", required_argument, NULL, 'W' },
		{ "since", required_argument, NULL, 'S' },
		{ "synchronous", required_argument, NULL, 'y' },
		{ "progress", no_argument, NULL, 'P' },
		{ "query", no_argument, NULL, 'Q' },
		{ "topic", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, ret;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		ret = rec_parse_opt(a, opt, argv);
		if (ret)
			return ret;
	}
	a->patterns = argv + optind;
	a->npatterns = argc - optind;
	return rec_check_args(a);
}

/* --- --query ----------------------------------------------------------- */

struct rec_query_ctx {
	const struct rec_args *a;
};

/* Print a row through format.c, as a record 'evbus sub' would print. */
static int rec_print_row(const struct rec_row *row, void *ctx)
{
	const struct rec_args *a = ((struct rec_query_ctx *)ctx)->a;
	struct evbus_record rec = {};
	struct evbus_lagged lg = row->gap;
	struct evbus_event ev = row->ev;

	if (row->is_gap) {
		if (a->topic)
			return 0;	/* a gap has no topic: all of them show */
		lg.hdr.kind = EVBUS_REC_LAGGED;
		rec.kind = EVBUS_REC_LAGGED;
		rec.hdr = &lg.hdr;
		rec.lagged = &lg;
	} else {
		if (a->topic && evbus_match(a->topic, row->topic) != 1)
			return 0;
		ev.hdr.kind = EVBUS_REC_EVENT;
		rec.kind = EVBUS_REC_EVENT;
		rec.hdr = &ev.hdr;
		rec.event = &ev;
		rec.topic = row->topic;
		rec.topic_len = ev.topic_len;
		rec.payload = row->payload;
		rec.payload_len = row->payload_len;
	}
	if (a->json)
		put_record_json(stdout, &rec);
	else
		put_record_human(stdout, &rec);
	return ferror(stdout) ? -1 : 0;
}

static int rec_query(const struct rec_args *a)
{
	struct rec_query_ctx ctx = { .a = a };
	struct rec_db *db;
	int ret;

	if (a->ops->open(&db, a->target, false))
		return EXIT_RUNTIME;
	ret = a->ops->query(db, a->since ? a->since : 1, rec_print_row, &ctx);
	a->ops->close(db);
	if (!ret && fflush(stdout))
		return cli_errno_exit("writing stdout", -errno);
	return ret ? EXIT_RUNTIME : 0;
}

/* --- the bus: identity, ring, subscriptions ----------------------------- */

static char *rec_join_patterns(const struct rec_args *a)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < a->npatterns; i++)
		len += strlen(a->patterns[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 0; i < a->npatterns; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, a->patterns[i]);
	}
	return s;
}

/*
 * Record the bus and the patterns in evbus_meta on first use; later, refuse
 * another bus (its seqs would mix with this one's) or other patterns
 * (resuming would leave the new ones' past out).
 */
static int rec_check_meta(const struct rec_args *a, struct rec_db *db,
			  uint64_t bus_id, uint64_t last, uint64_t start)
{
	char cur[32], got[4096], ver[16], first[32];
	char *pats = rec_join_patterns(a);
	int ret = -1;

	if (!pats) {
		cli_err("out of memory");
		return -1;
	}
	snprintf(cur, sizeof(cur), "%" PRIu64, bus_id);
	snprintf(ver, sizeof(ver), "%d", REC_SCHEMA_VERSION);
	snprintf(first, sizeof(first), "%" PRIu64, start);
	if (a->ops->meta_get(db, "schema_version", got, sizeof(got)))
		goto out;
	if (*got && strcmp(got, ver)) {
		cli_err("%s: %s has schema version %s; this evbus writes version %s",
			a->ops->name, a->target, got, ver);
		goto out;
	}
	if (a->ops->meta_get(db, "bus_id", got, sizeof(got)))
		goto out;
	if (*got && last && strcmp(got, cur)) {
		cli_err("%s: %s holds events of bus %s, this is bus %s (another bus, or the module was reloaded): record into a new database",
			a->ops->name, a->target, got, cur);
		goto out;
	}
	if (a->ops->meta_get(db, "patterns", got, sizeof(got)))
		goto out;
	if (*got && last && strcmp(got, pats)) {
		cli_err("%s: %s records the patterns '%s', not '%s': resuming would miss the new ones' events; record into a new database",
			a->ops->name, a->target, got, pats);
		goto out;
	}
	if (a->ops->begin(db) ||
	    a->ops->meta_set(db, "schema_version", ver) ||
	    a->ops->meta_set(db, "bus_id", cur) ||
	    a->ops->meta_set(db, "patterns", pats) ||
	    a->ops->meta_set(db, "start_seq", first) ||
	    a->ops->commit(db))
		goto out;
	ret = 0;
out:
	free(pats);
	return ret;
}

static int rec_setup_ring(struct evbus *bus, const struct rec_args *a)
{
	uint32_t policy;
	int ret;

	if (a->lossless_ms) {
		ret = evbus_set_ring_lossless(bus, a->ring, a->lossless_ms * 1000000);
		if (ret == -EOPNOTSUPP) {
			cli_err("cannot make the ring lossless: the loaded evbus module has no lossless rings");
			return EXIT_RUNTIME;
		}
		return ret ? cli_errno_exit("cannot make the ring lossless (--lossless, --ring: see the module's lossless_max_ms, ring_min, ring_max)", ret) : 0;
	}
	if (!a->ring)
		return 0;
	ret = evbus_get_ring(bus, NULL, &policy);
	if (!ret)
		ret = evbus_set_ring(bus, a->ring, policy);
	return ret ? cli_errno_exit("cannot set the ring size (--ring: within the module's ring_min..ring_max)", ret) : 0;
}

static int rec_subscribe_one(struct evbus *bus, const char *pattern,
			     uint64_t since)
{
	char what[EVBUS_TOPIC_MAX + 64];
	int ret;

	ret = evbus_subscribe_since(bus, pattern, since, NULL);
	if (!ret)
		return 0;
	if (ret == -ERANGE) {
		cli_err("cannot resume '%s' at seq %" PRIu64 ": beyond this bus's newest event (ERANGE): the database holds another bus's events, or the bus was recreated; record into a new database",
			pattern, since);
		return EXIT_RUNTIME;
	}
	if (ret == -EACCES) {
		cli_err("cannot subscribe to '%s' with replay from seq %" PRIu64 ": %s (EACCES: the bus's policy withholds the replay right, or refuses the pattern)",
			pattern, since, strerror(-ret));
		return EXIT_RUNTIME;
	}
	snprintf(what, sizeof(what), "cannot subscribe to '%s'", pattern);
	return cli_errno_exit(what, ret);
}

/* --- recording ------------------------------------------------------------ */

static void rec_progress(struct rec_state *s, const char *why)
{
	long long now = now_ms();
	long long dt = now - s->last_progress;
	double rate = dt > 0 ? (double)(s->events - s->last_events) * 1000.0 / (double)dt : 0;

	fprintf(stderr, "evbus record: %s%" PRIu64 " events, %" PRIu64 " gaps, %.0f events/s, committed through seq %" PRIu64 "\n",
		why, s->events, s->gaps, rate, s->committed_seq);
	fflush(stderr);
	s->last_progress = now;
	s->last_events = s->events;
}

static int rec_commit(const struct rec_args *a, struct rec_state *s)
{
	if (!s->pending)
		return 0;
	if (a->ops->commit(s->db))
		return -1;
	s->committed_seq = s->pend_seq;
	s->pending = 0;
	return 0;
}

static int rec_put(const struct rec_args *a, struct rec_state *s,
		   const struct evbus_record *rec)
{
	if (!s->pending) {
		if (a->ops->begin(s->db))
			return -1;
		s->first_pending = now_ms();
	}
	if (rec->event) {
		if (a->ops->put_event(s->db, rec))
			return -1;
		s->pend_seq = rec->event->seq;
	} else {
		if (a->ops->put_gap(s->db, rec->lagged))
			return -1;
		s->pend_seq = rec->lagged->last_seq;
	}
	s->pending++;
	if (s->pending < a->batch)
		return 0;
	return rec_commit(a, s);
}

/*
 * Rows counted by kind go to s->events/gaps only once committed: count
 * them per transaction.
 */
static int rec_drain(struct evbus *bus, const struct rec_args *a,
		     struct rec_state *s, uint64_t *pev, uint64_t *pgap)
{
	const struct evbus_record *rec;
	int ret;

	while (!(ret = evbus_read(bus, &rec, 0))) {
		if (evbus_record_revoked(rec)) {
			cli_err("the bus's owner revoked a subscription of the recorder: stopping after the last commit");
			rec_commit(a, s);
			return -1;
		}
		if (!rec->event && !rec->lagged)
			continue;
		if (rec->event)
			++*pev;
		else
			++*pgap;
		if (rec_put(a, s, rec))
			return -1;
		if (!s->pending) {
			s->events += *pev;
			s->gaps += *pgap;
			*pev = *pgap = 0;
		}
	}
	if (ret == -EAGAIN)
		return 0;
	cli_errno_exit("reading events", ret);
	return -1;
}

static int rec_wait_ms(const struct rec_args *a, const struct rec_state *s)
{
	long long now = now_ms(), left = -1, t;

	if (s->pending) {
		left = s->first_pending + (long long)a->flush_ms - now;
		if (left < 0)
			left = 0;
	}
	if (a->progress) {
		t = s->last_progress + 1000 - now;
		if (t < 0)
			t = 0;
		if (left < 0 || t < left)
			left = t;
	}
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* 1: stop (SIGINT, SIGTERM); 0: go on. */
static int rec_signals(int sigfd, struct rec_state *s)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			rec_progress(s, "");
		else
			stop = 1;
	}
	return stop;
}

static int rec_loop(struct evbus *bus, const struct rec_args *a,
		    struct rec_state *s, int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = evbus_fd(bus), .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};
	uint64_t pev = 0, pgap = 0;
	int ret;

	for (;;) {
		if (rec_drain(bus, a, s, &pev, &pgap))
			return EXIT_RUNTIME;
		if (s->pending && now_ms() - s->first_pending >= (long long)a->flush_ms) {
			if (rec_commit(a, s))
				return EXIT_RUNTIME;
		}
		if (!s->pending) {
			s->events += pev;
			s->gaps += pgap;
			pev = pgap = 0;
		}
		if (a->progress && now_ms() - s->last_progress >= 1000)
			rec_progress(s, "");
		ret = poll(pfd, 2, rec_wait_ms(a, s));
		if (ret < 0 && errno != EINTR)
			return cli_errno_exit("poll", -errno);
		if (pfd[1].revents && rec_signals(sigfd, s))
			break;
		if ((pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pfd[0].revents & POLLIN)) {
			cli_err("the evbus device reported an error or hang-up");
			return EXIT_RUNTIME;
		}
	}
	/* Stopping: what was read is committed, nothing more is read. */
	if (rec_commit(a, s))
		return EXIT_RUNTIME;
	s->events += pev;
	s->gaps += pgap;
	return 0;
}

/*
 * Where to subscribe from: after the last row recorded; in a database with
 * no row yet, where its first start began (so a first run that committed
 * nothing misses nothing either), else --since, else the bus's next seq.
 */
static int rec_start_seq(const struct rec_args *a, struct rec_db *db,
			 uint64_t last, uint64_t next, uint64_t *since)
{
	char buf[32];

	if (last) {
		*since = last + 1;
		return 0;
	}
	if (a->ops->meta_get(db, "start_seq", buf, sizeof(buf)))
		return -1;
	if (*buf && parse_u64(buf, since) && *since)
		return 0;
	*since = a->since ? a->since : next;
	return 0;
}

static int rec_start(struct evbus *bus, const struct rec_args *a,
		     struct rec_state *s)
{
	struct evbus_bus_stats bst = { .size = sizeof(bst) };
	uint64_t last = 0, since;
	int i, ret;

	ret = evbus_get_bus_stats(bus, &bst);
	if (ret)
		return cli_errno_exit("cannot read the bus's identity (EVBUS_IOC_BUS_STATS)", ret);
	if (a->ops->open(&s->db, a->target, true) || a->ops->last_seq(s->db, &last))
		return EXIT_RUNTIME;
	s->committed_seq = last;
	if (rec_start_seq(a, s->db, last, (uint64_t)bst.seq + 1, &since) ||
	    rec_check_meta(a, s->db, bst.bus_id, last, since))
		return EXIT_RUNTIME;
	ret = rec_setup_ring(bus, a);
	for (i = 0; !ret && i < a->npatterns; i++)
		ret = rec_subscribe_one(bus, a->patterns[i], since);
	if (ret)
		return ret;
	fprintf(stderr, "evbus record: recording into %s %s from seq %" PRIu64 "\n",
		a->ops->name, a->ops == &rec_pg_ops ? "database" : a->target,
		since);
	fflush(stderr);
	return 0;
}

static int rec_record(const struct rec_args *a)
{
	struct rec_state s = {};
	struct evbus *bus;
	int ret, sigfd;

	sigfd = signalfd_open(NULL, SIGUSR1);
	if (sigfd < 0)
		return cli_errno_exit("signalfd", sigfd);
	ret = cli_open(&bus, 0);
	if (ret)
		goto out_sigfd;
	s.start_ms = s.last_progress = now_ms();
	ret = rec_start(bus, a, &s);
	if (!ret)
		ret = rec_loop(bus, a, &s, sigfd);
	if (s.db) {
		rec_progress(&s, ret ? "stopped on an error: " : "stopped: ");
		a->ops->close(s.db);
	}
	evbus_close(bus);
out_sigfd:
	close(sigfd);
	return ret;
}

int cmd_record(int argc, char **argv)
{
	struct rec_args a = {};
	int i, ret;

	ret = rec_parse(argc, argv, &a);
	if (ret)
		return ret;
	if (a.query)
		return rec_query(&a);
	for (i = 0; i < a.npatterns; i++) {
		ret = cli_check_name(a.patterns[i], true);
		if (ret)
			return ret;
	}
	return rec_record(&a);
}
