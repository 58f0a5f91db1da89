// SPDX-License-Identifier: GPL-2.0
/*
 * evbus bridge: carry events between this host's bus and NATS.
 *
 *   evbus bridge [--server URL]... [--export PATTERN]... [--export-prefix P]
 *                [--import SUBJECT]... [--import-prefix P]
 *                [--jetstream STREAM --state FILE] [--ring BYTES]
 *                [--creds FILE] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]
 *                [--user U --password P | --token T] [--reconnect-wait MS]
 *                [--reconnect-buffer BYTES]
 *                [--no-origin-events] [--ready] [-v]
 *
 * This file parses the options, opens the bus and the connection, and
 * runs the export loop; bridge_export.c, bridge_import.c and bridge_nats.c
 * do the rest (see bridge.h).  evbus-bridge(1) documents the subjects,
 * headers and guarantees.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/signalfd.h>

#include "bridge.h"

#define DEFAULT_SERVER	"nats://127.0.0.1:4222"

static const char bridge_usage[] =
"usage: evbus bridge [--server URL]... [--export PATTERN]... [--export-prefix P]\n"
"                    [--import SUBJECT]... [--import-prefix P]\n"
"                    [--jetstream STREAM --state FILE] [--ring BYTES]\n"
"                    [--creds FILE] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]\n"
"                    [--user U --password P | --token T] [--reconnect-wait MS]\n"
"                    [--reconnect-buffer BYTES] [--no-origin-events] [--ready] [-v]\n"
"\n"
"Carry events between this bus and NATS (default server " DEFAULT_SERVER ").\n"
"  --export PATTERN   events matching PATTERN go to the NATS subject of the\n"
"                     same name (after --export-prefix P and a dot), with the\n"
"                     evbus metadata in Evbus-* headers\n"
"  --import SUBJECT   NATS messages on SUBJECT (a pattern) are published here\n"
"                     (on --import-prefix P and a dot, then the subject)\n"
"  --jetstream STREAM export through the JetStream stream (created if missing),\n"
"                     each event acknowledged and de-duplicated; the last\n"
"                     acknowledged seq is kept in --state FILE, and a restart\n"
"                     resumes after it from the bus's history\n"
"  --ring BYTES       the bridge's ring (as evbus sub --ring)\n"
"  --creds, --tls-ca, --tls-cert, --tls-key, --user, --password, --token\n"
"                     NATS credentials and TLS, passed to libnats\n"
"  --reconnect-wait MS  first wait between reconnect rounds (default 250),\n"
"                     doubled per round up to 16 times\n"
"  --reconnect-buffer BYTES  what core NATS holds while disconnected (default\n"
"                     8M); past it a message is counted as not sent\n"
"  --no-origin-events do not follow imported events with an _evbus.origin event\n"
"  --ready            print 'ready' on stderr once both sides are subscribed\n"
"SIGUSR1 prints the counters on stderr; they are printed at exit too.\n"
"Loss is reported on _evbus.lag.ORIGIN.  See evbus-bridge(1).\n";

enum {
	OPT_SERVER = 256, OPT_EXPORT, OPT_EXPORT_PREFIX, OPT_IMPORT,
	OPT_IMPORT_PREFIX, OPT_JETSTREAM, OPT_STATE, OPT_RING, OPT_CREDS,
	OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_USER, OPT_PASSWORD,
	OPT_TOKEN, OPT_RECONNECT_WAIT, OPT_RECONNECT_BUF, OPT_NO_ORIGIN, OPT_READY,
};

static const struct option bridge_opts[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "export", required_argument, NULL, OPT_EXPORT },
	{ "export-prefix", required_argument, NULL, OPT_EXPORT_PREFIX },
	{ "import", required_argument, NULL, OPT_IMPORT },
	{ "import-prefix", required_argument, NULL, OPT_IMPORT_PREFIX },
	{ "jetstream", required_argument, NULL, OPT_JETSTREAM },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "ring", required_argument, NULL, OPT_RING },
	{ "creds", required_argument, NULL, OPT_CREDS },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "reconnect-wait", required_argument, NULL, OPT_RECONNECT_WAIT },
	{ "reconnect-buffer", required_argument, NULL, OPT_RECONNECT_BUF },
	{ "no-origin-events", no_argument, NULL, OPT_NO_ORIGIN },
	{ "ready", no_argument, NULL, OPT_READY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static int add_str(const char **arr, int *n, int max, const char *s,
		   const char *what)
{
	if (*n >= max)
		return cli_usage_err("bridge", "at most %d %s", max, what);
	arr[(*n)++] = s;
	return 0;
}

static int once(const char **slot, const char *s, const char *opt)
{
	if (*slot)
		return cli_usage_err("bridge", "%s given twice", opt);
	*slot = s;
	return 0;
}

static int bridge_opt(struct bridge *br, int opt, char **argv)
{
	uint32_t v;

	switch (opt) {
	case OPT_SERVER:
		if (!*optarg)
			return cli_usage_err("bridge", "--server needs a URL");
		return add_str(br->servers, &br->n_servers, BRIDGE_MAX_SERVERS,
			       optarg, "--server");
	case OPT_EXPORT:
		return add_str(br->exports, &br->n_exports, BRIDGE_MAX_PATTERNS,
			       optarg, "--export");
	case OPT_IMPORT:
		return add_str(br->imports, &br->n_imports, BRIDGE_MAX_PATTERNS,
			       optarg, "--import");
	case OPT_EXPORT_PREFIX: return once(&br->export_prefix, optarg, "--export-prefix");
	case OPT_IMPORT_PREFIX: return once(&br->import_prefix, optarg, "--import-prefix");
	case OPT_JETSTREAM: return once(&br->stream, optarg, "--jetstream");
	case OPT_STATE: return once(&br->state_path, optarg, "--state");
	case OPT_CREDS: return once(&br->creds, optarg, "--creds");
	case OPT_TLS_CA: return once(&br->tls_ca, optarg, "--tls-ca");
	case OPT_TLS_CERT: return once(&br->tls_cert, optarg, "--tls-cert");
	case OPT_TLS_KEY: return once(&br->tls_key, optarg, "--tls-key");
	case OPT_USER: return once(&br->user, optarg, "--user");
	case OPT_PASSWORD: return once(&br->password, optarg, "--password");
	case OPT_TOKEN: return once(&br->token, optarg, "--token");
	case OPT_RING:
		if (!parse_size(optarg, &br->ring) || !br->ring)
			return cli_usage_err("bridge", "--ring needs a size in bytes (K and M suffixes), not '%s'",
					     optarg);
		return 0;
	case OPT_RECONNECT_WAIT:
		if (!parse_u32(optarg, &v) || !v || v > 60000)
			return cli_usage_err("bridge", "--reconnect-wait needs milliseconds, 1..60000, not '%s'",
					     optarg);
		br->reconnect_wait_ms = v;
		return 0;
	case OPT_RECONNECT_BUF:
		if (!parse_size(optarg, &br->reconnect_buf) || !br->reconnect_buf ||
		    br->reconnect_buf > INT32_MAX)
			return cli_usage_err("bridge", "--reconnect-buffer needs a size in bytes (K and M suffixes), not '%s'",
					     optarg);
		return 0;
	case OPT_NO_ORIGIN:
		br->no_origin_events = true;
		return 0;
	case OPT_READY:
		br->ready = true;
		return 0;
	case 'v':
		br->verbose = true;
		return 0;
	default:
		return cli_bad_opt("bridge", opt, argv);
	}
}

/* "$sys" as the first segment: the kernel's topics. */
static bool is_sys(const char *s)
{
	return !strncmp(s, "$sys", 4) && (s[4] == '.' || !s[4]);
}

static int check_prefix(const char *p, const char *opt)
{
	const char *why;

	if (!p)
		return 0;
	if (evbus_check_topic(p, &why))
		return cli_usage_err("bridge", "invalid %s '%s': it %s (a prefix is a topic, without wildcards)",
				     opt, p, why);
	if (is_sys(p))
		return cli_usage_err("bridge", "invalid %s '%s': '$sys' is the kernel's", opt, p);
	return 0;
}

/*
 * evbus patterns and NATS subjects share '.', '*' and '>'; evbus is the
 * stricter: its segments are [A-Za-z0-9_:-], and '$' is only the kernel's
 * "$sys", which NATS would take for one of its own '$' system subjects.
 */
static int check_pattern(const char *p, const char *prefix, const char *opt)
{
	char buf[2 * EVBUS_TOPIC_MAX + 2];
	const char *why;

	if (is_sys(p))
		return cli_usage_err("bridge", "%s '%s': kernel topics ($sys) are not bridged: NATS keeps subjects starting with '$' for itself",
				     opt, p);
	if (p[0] == '$')
		return cli_usage_err("bridge", "%s '%s': subjects starting with '$' are NATS's system subjects, and no evbus topic",
				     opt, p);
	if (evbus_check_pattern(p, &why))
		return cli_usage_err("bridge", "invalid %s '%s': it %s", opt, p, why);
	if (!prefix)
		return 0;
	snprintf(buf, sizeof(buf), "%s.%s", prefix, p);
	if (evbus_check_pattern(buf, &why))
		return cli_usage_err("bridge", "%s '%s' under the prefix '%s': '%s' %s",
				     opt, p, prefix, buf, why);
	return 0;
}

static int bridge_check(struct bridge *br)
{
	int i, ret;

	if (!br->n_exports && !br->n_imports)
		return cli_usage_err("bridge", "nothing to do: give --export or --import");
	ret = check_prefix(br->export_prefix, "--export-prefix");
	if (!ret)
		ret = check_prefix(br->import_prefix, "--import-prefix");
	for (i = 0; !ret && i < br->n_exports; i++)
		ret = check_pattern(br->exports[i], NULL, "--export");
	for (i = 0; !ret && i < br->n_imports; i++)
		ret = check_pattern(br->imports[i], br->import_prefix, "--import");
	if (ret)
		return ret;
	if (br->export_prefix && !br->n_exports)
		return cli_usage_err("bridge", "--export-prefix without --export");
	if (br->import_prefix && !br->n_imports)
		return cli_usage_err("bridge", "--import-prefix without --import");
	if (br->stream && !br->n_exports)
		return cli_usage_err("bridge", "--jetstream exports: it needs --export");
	if (br->stream && !br->state_path)
		return cli_usage_err("bridge", "--jetstream needs --state FILE, where the last acknowledged seq is kept");
	if (br->state_path && !br->stream)
		return cli_usage_err("bridge", "--state is for --jetstream");
	if (br->stream && (!*br->stream || evbus_check_topic(br->stream, NULL) ||
			   strchr(br->stream, '.') || strchr(br->stream, ':')))
		return cli_usage_err("bridge", "invalid stream name '%s': use letters, digits, '_' and '-'",
				     br->stream);
	if (!br->tls_cert != !br->tls_key)
		return cli_usage_err("bridge", "--tls-cert and --tls-key go together");
	if (!br->user != !br->password)
		return cli_usage_err("bridge", "--user and --password go together");
	if (br->token && br->user)
		return cli_usage_err("bridge", "--token or --user, not both");
	return 0;
}

static int bridge_parse(int argc, char **argv, struct bridge *br)
{
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:vh", bridge_opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(bridge_usage, stdout);
			return -1;
		}
		ret = bridge_opt(br, opt, argv);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return cli_usage_err("bridge", "unexpected argument '%s'", argv[optind]);
	if (!br->n_servers)
		br->servers[br->n_servers++] = DEFAULT_SERVER;
	if (!br->reconnect_wait_ms)
		br->reconnect_wait_ms = 250;
	return bridge_check(br);
}

/*
 * The origin: this boot's id (unique across hosts and reboots) and the
 * bus's id (unique among this boot's buses), "<32 hex>-<bus id>".
 */
static int bridge_identity(struct bridge *br)
{
	struct evbus_bus_stats st;
	char boot[64] = "", hex[33];
	unsigned char rnd[8];
	size_t i, n = 0;
	FILE *f;
	int ret;

	ret = evbus_get_bus_stats(br->bus, &st);
	if (ret)
		return cli_errno_exit("EVBUS_IOC_BUS_STATS", ret);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f || !fgets(boot, sizeof(boot), f)) {
		cli_err("cannot read /proc/sys/kernel/random/boot_id: %s", strerror(errno));
		if (f)
			fclose(f);
		return EXIT_RUNTIME;
	}
	fclose(f);
	for (i = 0; boot[i] && n < 32; i++)
		if (isxdigit((unsigned char)boot[i]))
			hex[n++] = boot[i];
	hex[n] = '\0';
	snprintf(br->origin, sizeof(br->origin), "%s-%" PRIu64, hex, (uint64_t)st.bus_id);
	/* A stream's own lag subject: streams' subjects must not overlap. */
	snprintf(br->lag_subject, sizeof(br->lag_subject), BRIDGE_LAG_SUBJECT ".%s%s%s",
		 br->origin, br->stream ? "." : "", br->stream ? br->stream : "");
	for (i = 0; i < (size_t)br->n_exports; i++) {
		snprintf(br->export_subj[i], sizeof(br->export_subj[i]), "%s%s%s",
			 br->export_prefix ? br->export_prefix : "",
			 br->export_prefix ? "." : "", br->exports[i]);
		br->chain[i].name = br->export_subj[i];
	}
	br->chain[i].name = br->lag_subject;
	if (gethostname(br->host, sizeof(br->host) - 1))
		strcpy(br->host, "unknown");
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	n = snprintf(br->run_id, sizeof(br->run_id), "%d-", (int)getpid());
	for (i = 0; i < sizeof(rnd); i++)
		n += snprintf(br->run_id + n, sizeof(br->run_id) - n, "%02x", rnd[i]);
	br->pid = getpid();
	return 0;
}

static int bridge_ring(struct bridge *br)
{
	uint32_t policy;
	int ret;

	if (!br->ring)
		return 0;
	ret = evbus_get_ring(br->bus, NULL, &policy);
	if (!ret)
		ret = evbus_set_ring(br->bus, br->ring, policy);
	if (ret == -EINVAL) {
		cli_err("the module refused --ring %u: the size must lie within its ring_min..ring_max (see /sys/module/evbus/parameters/)",
			br->ring);
		return EXIT_RUNTIME;
	}
	return ret ? cli_errno_exit("cannot configure the ring", ret) : 0;
}

/* Subscribe the exported patterns, from since on (0: live). */
int bridge_sub_exports(struct bridge *br, uint64_t since)
{
	int i, ret;

	for (i = 0; i < br->n_exports; i++) {
		if (since)
			ret = evbus_subscribe_since(br->bus, br->exports[i], since,
						    &br->sub_ids[i]);
		else
			ret = evbus_subscribe(br->bus, br->exports[i], &br->sub_ids[i]);
		if (ret == -ERANGE) {
			cli_err("bridge: cannot resume at seq %" PRIu64 ": the bus has not got that far",
				since);
			return EXIT_RUNTIME;
		}
		if (ret) {
			cli_err("bridge: cannot subscribe to '%s'", br->exports[i]);
			return cli_errno_exit(since ? "EVBUS_IOC_SUBSCRIBE2 (since)" :
					      "EVBUS_IOC_SUBSCRIBE", ret);
		}
	}
	return 0;
}

static int bridge_start_exports(struct bridge *br)
{
	uint64_t since = br->since;
	int ret;

	if (since && br->verbose)
		cli_err("bridge: resuming after seq %" PRIu64, since - 1);
	if (br->stream && !since) {
		/* Starting live: a rewind goes no further back than now. */
		struct evbus_bus_stats st;

		ret = evbus_get_bus_stats(br->bus, &st);
		if (ret)
			return cli_errno_exit("EVBUS_IOC_BUS_STATS", ret);
		br->acked = st.seq;
	}
	return bridge_sub_exports(br, since);
}

/*
 * JetStream: the ring lost events the stream has not got, but the bus's
 * history may still have them.  Drop the subscriptions and what the ring
 * holds, and subscribe again from the first seq not acknowledged: the
 * replay brings them back, or says exactly what the history lost.
 */
static int bridge_rewind(struct bridge *br, const struct evbus_lagged *lg)
{
	const struct evbus_record *rec;
	int i, ret;

	if (br->verbose)
		cli_err("bridge: ring lost seq %" PRIu64 "..%" PRIu64 ": replaying from %" PRIu64,
			(uint64_t)lg->first_seq, (uint64_t)lg->last_seq, br->acked + 1);
	for (i = 0; i < br->n_exports; i++) {
		ret = evbus_unsubscribe(br->bus, br->sub_ids[i]);
		if (ret)
			return cli_errno_exit("EVBUS_IOC_UNSUBSCRIBE", ret);
	}
	while (!(ret = evbus_read(br->bus, &rec, 0)))
		;
	if (ret != -EAGAIN && ret != -ETIMEDOUT)
		return cli_errno_exit("reading the bus", ret);
	br->rewinds++;
	return bridge_sub_exports(br, br->acked + 1);
}

static int bridge_sub_imports(struct bridge *br)
{
	char subject[2 * EVBUS_TOPIC_MAX + 2];
	natsStatus s;
	int i;

	if (!br->n_imports)
		return 0;
	for (i = 0; i <= br->n_imports; i++) {
		const char *subj = i < br->n_imports ? br->imports[i] : subject;

		/* The last one: every exporter's lag reports. */
		snprintf(subject, sizeof(subject), BRIDGE_LAG_SUBJECT ".>");
		s = natsConnection_Subscribe(&br->subs[br->n_subs], br->nc, subj,
					     bridge_import_msg, br);
		if (s != NATS_OK) {
			cli_err("bridge: cannot subscribe to NATS subject '%s': %s", subj,
				bridge_nats_err(s));
			return EXIT_RUNTIME;
		}
		/* Never drop silently: gaps are reported, but avoid them. */
		natsSubscription_SetPendingLimits(br->subs[br->n_subs], -1, -1);
		br->n_subs++;
	}
	s = natsConnection_FlushTimeout(br->nc, 5000);
	if (s != NATS_OK) {
		cli_err("bridge: NATS did not confirm the subscriptions: %s",
			bridge_nats_err(s));
		return EXIT_RUNTIME;
	}
	return 0;
}

static void bridge_counters(struct bridge *br, const char *when)
{
	pthread_mutex_lock(&br->imp_lock);
	fprintf(stderr, "evbus: bridge %s: origin=%s exported=%" PRIu64 " skipped_own=%" PRIu64
		" lag_msgs=%" PRIu64 " lag_events=%" PRIu64 " not_sent=%" PRIu64
		" acked=%" PRIu64 " imported=%" PRIu64 " duplicates=%" PRIu64
		" own_origin=%" PRIu64 " transit_gaps=%" PRIu64 " transit_lost=%" PRIu64
		" lag_reports=%" PRIu64 " invalid=%" PRIu64 " refused=%" PRIu64
		" rewinds=%" PRIu64 "\n",
		when, br->origin, br->exported, br->skipped_own, br->lag_msgs,
		br->lag_events, br->not_sent, br->acked, br->imported, br->dup,
		br->own_origin, br->gaps, br->gap_msgs, br->lag_reports, br->invalid,
		br->refused, br->rewinds);
	pthread_mutex_unlock(&br->imp_lock);
	fflush(stderr);
}

/* Export what the ring holds now: 0, 1 to stop (a signal), -1 on an error. */
static int bridge_drain(struct bridge *br, int sigfd)
{
	const struct evbus_record *rec;
	int ret;

	while (!(ret = evbus_read(br->bus, &rec, 0))) {
		if (rec->event)
			ret = bridge_export_event(br, rec, sigfd);
		else if (rec->lagged && br->stream &&
			 !(rec->lagged->flags & EVBUS_LAGGED_HISTORY))
			return bridge_rewind(br, rec->lagged) ? -1 : 0;
		else if (rec->lagged)
			ret = bridge_export_lag(br, rec->lagged, sigfd);
		else if (evbus_record_revoked(rec))
			cli_err("bridge: a subscription was revoked by a policy change (after seq %" PRIu64 ")",
				(uint64_t)evbus_record_revoked(rec)->seq);
		if (ret)
			return ret > 0 ? 1 : -1;
	}
	if (ret == -EAGAIN || ret == -ETIMEDOUT)
		return 0;
	cli_errno_exit("reading the bus", ret);
	return -1;
}

/* 0 for SIGINT/SIGTERM, -1 for SIGUSR1 (counters printed). */
static int bridge_signal(struct bridge *br, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGUSR1)
			return 0;
		bridge_counters(br, "status");
	}
	return -1;
}

static int bridge_loop(struct bridge *br, int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = evbus_fd(br->bus), .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};
	int ret;

	for (;;) {
		ret = br->n_exports ? bridge_drain(br, sigfd) : 0;
		if (ret < 0)
			return EXIT_RUNTIME;
		if (ret)
			return atomic_load(&br->closed) ? EXIT_RUNTIME : 0;
		if (atomic_load(&br->closed)) {
			cli_err("bridge: the NATS connection is closed");
			return EXIT_RUNTIME;
		}
		/* Import only: the bus is written from libnats's threads. */
		if (poll(br->n_exports ? pfd : pfd + 1, br->n_exports ? 2 : 1, 500) < 0 &&
		    errno != EINTR)
			return cli_errno_exit("poll", -errno);
		if (pfd[1].revents && !bridge_signal(br, sigfd))
			return 0;
		if ((pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pfd[0].revents & POLLIN)) {
			cli_err("the evbus device reported an error or hang-up");
			return EXIT_RUNTIME;
		}
	}
}

static int bridge_run(struct bridge *br, int sigfd)
{
	int ret;

	ret = bridge_identity(br);
	if (!ret && br->stream)
		ret = bridge_state_load(br);
	if (!ret)
		ret = bridge_ring(br);
	if (!ret)
		ret = bridge_nats_connect(br);
	if (!ret && br->stream)
		ret = bridge_stream_setup(br);
	if (!ret)
		ret = bridge_sub_imports(br);
	if (!ret && br->n_exports)
		ret = bridge_start_exports(br);
	if (ret)
		return ret;
	if (br->verbose)
		cli_err("bridge: origin %s, run %s", br->origin, br->run_id);
	if (br->ready) {
		fputs("ready\n", stderr);
		fflush(stderr);
	}
	return bridge_loop(br, sigfd);
}

int cmd_bridge(int argc, char **argv)
{
	struct bridge br = { .imp_lock = PTHREAD_MUTEX_INITIALIZER };
	unsigned int flags = 0;
	int ret, sigfd;

	ret = bridge_parse(argc, argv, &br);
	if (ret)
		return ret < 0 ? 0 : ret;
	sigfd = signalfd_open(NULL, SIGUSR1);	/* before any thread */
	if (sigfd < 0)
		return cli_errno_exit("signalfd", sigfd);
	if (!br.n_imports)
		flags = EVBUS_OPEN_RDONLY;
	else if (!br.n_exports)
		flags = EVBUS_OPEN_WRONLY;
	ret = cli_open(&br.bus, flags);
	if (ret)
		goto out_sigfd;
	ret = bridge_run(&br, sigfd);
	pthread_mutex_lock(&br.imp_lock);
	br.stopping = true;	/* no import callback touches the bus after this */
	pthread_mutex_unlock(&br.imp_lock);
	atomic_store(&br.closing, true);
	bridge_nats_close(&br);
	if (br.stream && br.acked && bridge_state_save(&br))
		ret = EXIT_RUNTIME;
	if (br.origin[0])
		bridge_counters(&br, "exit");
	bridge_import_free(&br);
	evbus_close(br.bus);
out_sigfd:
	close(sigfd);
	return ret;
}
