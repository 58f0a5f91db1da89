// SPDX-License-Identifier: GPL-2.0
/*
 * evbus stat: the counters of the caller's bus (EVBUS_IOC_BUS_STATS, on
 * the handle cli_open() gives), the module's totals over every bus
 * (/sys/kernel/evbus/stats/, one value per file, file name = counter
 * name) and its parameters (/sys/module/evbus/parameters/), as a table or
 * as JSON, or in Prometheus's text format (prometheus.c), to stdout or
 * atomically into a file; --watch repeats every SECS seconds (adding
 * per-second rates to the table and JSON, rewriting the file).
 * Whatever files exist are shown, sorted by name.  EVBUS_SYSFS=DIR reads
 * DIR/sys/... instead.  Without a bus to open (or a module too old for
 * per-bus counters) the bus part says why, and the rest is shown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "stat.h"

#define STATS_DIR	"/sys/kernel/evbus/stats"
#define PARAMS_DIR	"/sys/module/evbus/parameters"
#define MODULE_DIR	"/sys/module/evbus"

static const char stat_usage[] =
"usage: evbus stat [--json] [--watch SECS]\n"
"       evbus stat --prometheus [--output FILE [--watch SECS]]\n"
"\n"
"Show the counters of this IPC namespace's bus, the module's totals over\n"
"every bus (" STATS_DIR ") and its parameters\n"
"(" PARAMS_DIR ").\n"
"\n"
"      --json        one JSON object: a key per module counter, plus \"bus\"\n"
"                    (this bus's counters, or null) and \"parameters\"\n"
"                    (and \"rates\", per second, with --watch)\n"
"      --prometheus  the Prometheus text format (0.0.4): evbus_* counters\n"
"                    and gauges, this bus's as evbus_bus_*{bus=,ipc_ns=}\n"
"      --output FILE with --prometheus: replace FILE atomically (for\n"
"                    node_exporter's textfile collector) instead of stdout\n"
"      --watch SECS  repeat every SECS seconds with per-second rates (with\n"
"                    --output: rewrite FILE), until SIGINT or SIGTERM\n"
"  -h, --help        this text\n";

static void stat_set_free(struct stat_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool stat_read_val(int dfd, const char *name, struct stat_val *v)
{
	ssize_t len;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, v->text, sizeof(v->text) - 1);
	close(fd);
	if (len < 0)
		return false;
	v->text[len] = '\0';
	v->text[strcspn(v->text, "\n")] = '\0';
	while (len && (v->text[len - 1] == ' ' || v->text[len - 1] == '\n'))
		v->text[--len] = '\0';
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->neg = v->text[0] == '-';
	v->numeric = parse_u64(v->text + v->neg, &v->num) &&
		     (!v->neg || v->num <= (uint64_t)INT64_MAX + 1);
	return true;
}

static int stat_skip_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Read every readable file of dir, sorted; -errno if dir cannot be read. */
static int stat_read_dir(const char *dir, struct stat_set *s)
{
	struct dirent **names;
	int i, n, dfd;

	s->v = NULL;
	s->n = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	n = scandirat(dfd, ".", &names, stat_skip_dots, alphasort);
	if (n < 0) {
		n = -errno;
		close(dfd);
		return n;
	}
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	for (i = 0; i < n; i++) {
		if (s->v && stat_read_val(dfd, names[i]->d_name, &s->v[s->n]))
			s->n++;
		free(names[i]);
	}
	free(names);
	close(dfd);
	return s->v ? 0 : -ENOMEM;
}

/* The fields of struct evbus_bus_stats, by name, in the order shown. */
#define BUS_FIELD(f)	{ #f, offsetof(struct evbus_bus_stats, f) }
static const struct {
	const char *name;
	size_t off;
} bus_fields[] = {
	BUS_FIELD(bus_id), BUS_FIELD(ipc_ns), BUS_FIELD(seq),
	BUS_FIELD(open_files), BUS_FIELD(subscriptions), BUS_FIELD(policy_rules),
	BUS_FIELD(published), BUS_FIELD(published_bytes), BUS_FIELD(deliveries),
	BUS_FIELD(lost), BUS_FIELD(read_events), BUS_FIELD(read_bytes),
	BUS_FIELD(lag_records), BUS_FIELD(queued_events), BUS_FIELD(queued_bytes),
	BUS_FIELD(discarded), BUS_FIELD(filtered), BUS_FIELD(denied_rule),
	BUS_FIELD(denied_default), BUS_FIELD(denied_scope),
	BUS_FIELD(denied_reserved), BUS_FIELD(revoked),
	/* EVBUS_BUS_STATS_SIZE_VER1: shown when the module fills them */
	BUS_FIELD(approvers), BUS_FIELD(approval_pending),
	BUS_FIELD(approval_asked), BUS_FIELD(approval_requests),
	BUS_FIELD(approval_allowed), BUS_FIELD(approval_modified),
	BUS_FIELD(approval_denied), BUS_FIELD(approval_expired),
	BUS_FIELD(approval_gone), BUS_FIELD(approval_full),
	BUS_FIELD(approval_withdrawn), BUS_FIELD(approval_nobody),
	/* EVBUS_BUS_STATS_SIZE_VER2: rate limits and lossless rings */
	BUS_FIELD(rate_users), BUS_FIELD(rate_refused_file),
	BUS_FIELD(rate_refused_user), BUS_FIELD(rate_waited),
	BUS_FIELD(rate_wait_ns), BUS_FIELD(rate_interrupted),
	BUS_FIELD(lossless_waits), BUS_FIELD(lossless_wait_ns),
	BUS_FIELD(lossless_expired), BUS_FIELD(lossless_foreign),
};

/* Why stat_open_bus() found no bus, for the report. */
static int stat_open_err = -ENODEV;

/* This bus's counters as name/value pairs; -errno if there are none. */
static int stat_read_bus(struct evbus *bus, struct stat_set *s)
{
	size_t n = sizeof(bus_fields) / sizeof(bus_fields[0]), i;
	struct evbus_bus_stats st;
	struct stat_val *v;
	int ret;

	s->v = NULL;
	s->n = 0;
	if (!bus)
		return stat_open_err;
	ret = evbus_get_bus_stats(bus, &st);
	if (ret)
		return ret;
	s->v = calloc(n + 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	/*
	 * A module from before the gate, or before rate limits, fills (and
	 * says it filled) less: each group of the table lies within one size.
	 */
	while (n && bus_fields[n - 1].off + sizeof(uint64_t) > st.size)
		n--;
	for (i = 0; i < n; i++) {
		v = &s->v[i];
		memcpy(&v->num, (const char *)&st + bus_fields[i].off, sizeof(v->num));
		v->numeric = true;
		snprintf(v->name, sizeof(v->name), "%s", bus_fields[i].name);
		snprintf(v->text, sizeof(v->text), "%" PRIu64, v->num);
	}
	v = &s->v[n];
	snprintf(v->name, sizeof(v->name), "policy_default");
	snprintf(v->text, sizeof(v->text), "%s",
		 st.policy_default == EVBUS_DENY ? "deny" : "allow");
	s->n = (int)n + 1;
	return 0;
}

static void stat_path(char *buf, size_t size, const char *path)
{
	const char *root = getenv(ENV_SYSFS);

	snprintf(buf, size, "%s%s", root ? root : "", path);
}

/* quiet: no message if the module's counters cannot be read. */
static int stat_sample(struct stat_snap *snap, struct evbus *bus, int *bus_err,
		       bool quiet)
{
	char dir[PATH_MAX], mod[PATH_MAX];
	struct stat st;
	int ret;

	*bus_err = stat_read_bus(bus, &snap->bus);
	stat_path(dir, sizeof(dir), STATS_DIR);
	ret = stat_read_dir(dir, &snap->counters);
	if (ret == -ENOENT) {
		stat_path(mod, sizeof(mod), MODULE_DIR);
		if (quiet)
			return EXIT_RUNTIME;
		if (stat(mod, &st)) {
			cli_err("the evbus module is not loaded (%s is missing).  Load it with\n"
				"  sudo modprobe evbus        (installed with 'make install')\n"
				"  sudo insmod evbus.ko       (from the build tree)", mod);
		} else {
			cli_err("%s does not exist: the loaded evbus module exports no counters\n"
				"(it predates them; rebuild and reload a newer module)", dir);
		}
		return EXIT_RUNTIME;
	}
	if (ret)
		return quiet ? EXIT_RUNTIME : cli_errno_exit(dir, ret);
	stat_path(dir, sizeof(dir), PARAMS_DIR);
	ret = stat_read_dir(dir, &snap->params);
	if (ret && ret != -ENOENT) {
		stat_set_free(&snap->counters);
		return quiet ? EXIT_RUNTIME : cli_errno_exit(dir, ret);
	}
	snap->ms = now_ms();
	return 0;
}

static void stat_snap_free(struct stat_snap *snap)
{
	stat_set_free(&snap->bus);
	stat_set_free(&snap->counters);
	stat_set_free(&snap->params);
}

/* The previous sample's value of counter name, if it had one. */
static const struct stat_val *stat_find(const struct stat_set *s, const char *name)
{
	int i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static double stat_value(const struct stat_val *v)
{
	return v->neg ? -(double)v->num : (double)v->num;
}

/* v's change per second since the same counter in prev (sampled at prev_ms). */
static bool stat_rate(const struct stat_val *v, const struct stat_set *prev,
		      long long prev_ms, long long ms, double *rate)
{
	const struct stat_val *old;

	if (!prev || !v->numeric || ms <= prev_ms)
		return false;
	old = stat_find(prev, v->name);
	if (!old || !old->numeric)
		return false;
	*rate = (stat_value(v) - stat_value(old)) * 1000.0 / (double)(ms - prev_ms);
	return true;
}

static int stat_width(const struct stat_set *s, int w)
{
	int i, len;

	for (i = 0; i < s->n; i++) {
		len = (int)strlen(s->v[i].name);
		if (len > w)
			w = len;
	}
	return w;
}

/* One table: a header, then name, value and (with --watch) rate per row. */
static void stat_table(const char *title, const struct stat_set *s,
		       const struct stat_set *prev, long long prev_ms,
		       long long ms, bool watch, int w)
{
	double rate;
	int i;

	if (watch)
		printf("%-*s %20s %12s\n", w, title, "VALUE", "RATE/s");
	else
		printf("%-*s %20s\n", w, title, "VALUE");
	for (i = 0; i < s->n; i++) {
		const struct stat_val *v = &s->v[i];

		printf("%-*s %20s", w, v->name, v->text);
		if (watch && stat_rate(v, prev, prev_ms, ms, &rate))
			printf(" %12.1f", rate);
		else if (watch)
			printf(" %12s", "-");
		putchar('\n');
	}
}

static void stat_print_table(const struct stat_snap *snap,
			     const struct stat_snap *prev, bool watch,
			     int bus_err)
{
	int w = stat_width(&snap->params, stat_width(&snap->counters,
			   stat_width(&snap->bus, 14)));
	long long pms = prev ? prev->ms : 0;

	if (watch) {
		time_t now = time(NULL);
		struct tm tm;
		char when[16] = "";

		if (localtime_r(&now, &tm))
			strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("--- %s\n", when);
	}
	if (snap->bus.n)
		stat_table("BUS COUNTER", &snap->bus, prev ? &prev->bus : NULL,
			   pms, snap->ms, watch, w);
	else
		printf("BUS COUNTER: none (%s%s)\n", bus_err == -ENOTTY ?
		       "the module has no per-bus counters" : "cannot reach the bus: ",
		       bus_err == -ENOTTY ? "" : strerror(-bus_err));
	putchar('\n');
	stat_table("MODULE COUNTER", &snap->counters,
		   prev ? &prev->counters : NULL, pms, snap->ms, watch, w);
	if (!snap->counters.n)
		printf("(no counters yet)\n");
	if (snap->params.n) {
		putchar('\n');
		stat_table("PARAMETER", &snap->params, NULL, 0, 0, false, w);
	}
}

static void stat_put_val(const struct stat_val *v)
{
	if (v->numeric)
		printf("%s%" PRIu64, v->neg && v->num ? "-" : "", v->num);
	else
		put_json_str(stdout, v->text, strlen(v->text));
}

/* "name":value,... of a set, after sep. */
static void stat_json_members(const struct stat_set *s, const char *sep)
{
	int i;

	for (i = 0; i < s->n; i++) {
		printf("%s", i ? "," : sep);
		put_json_str(stdout, s->v[i].name, strlen(s->v[i].name));
		putchar(':');
		stat_put_val(&s->v[i]);
	}
}

/* "name":rate,... of the counters of s that have one. */
static void stat_json_rates(const struct stat_set *s, const struct stat_set *prev,
			    long long prev_ms, long long ms)
{
	const char *sep = "";
	double rate;
	int i;

	for (i = 0; i < s->n; i++) {
		if (!stat_rate(&s->v[i], prev, prev_ms, ms, &rate))
			continue;
		printf("%s", sep);
		put_json_str(stdout, s->v[i].name, strlen(s->v[i].name));
		printf(":%.3f", rate);
		sep = ",";
	}
}

static void stat_print_json(const struct stat_snap *snap,
			    const struct stat_snap *prev)
{
	putchar('{');
	stat_json_members(&snap->counters, "");
	printf("%s\"bus\":", snap->counters.n ? "," : "");
	if (snap->bus.n) {
		putchar('{');
		stat_json_members(&snap->bus, "");
		putchar('}');
	} else {
		printf("null");
	}
	printf(",\"parameters\":{");
	stat_json_members(&snap->params, "");
	putchar('}');
	if (prev) {
		printf(",\"rates\":{");
		stat_json_rates(&snap->counters, &prev->counters, prev->ms, snap->ms);
		putchar('}');
		if (snap->bus.n) {
			printf(",\"bus_rates\":{");
			stat_json_rates(&snap->bus, &prev->bus, prev->ms, snap->ms);
			putchar('}');
		}
	}
	puts("}");
}

static int stat_show(bool json, bool watch, const struct stat_snap *snap,
		     const struct stat_snap *prev, int bus_err)
{
	if (json)
		stat_print_json(snap, prev);
	else
		stat_print_table(snap, prev, watch, bus_err);
	if (watch && !json)
		putchar('\n');
	if (fflush(stdout))
		return cli_errno_exit("writing stdout", -errno);
	return 0;
}

/* Wait until *next (then advance it by period): true if sigfd fired first. */
static bool stat_wait(int sigfd, long long *next, long long period)
{
	struct pollfd pfd = { .fd = sigfd, .events = POLLIN };
	long long left;
	int ret;

	*next += period;
	do {
		left = *next - now_ms();
		if (left < 0)
			left = 0;
		ret = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
	} while (ret < 0 && errno == EINTR);
	return ret > 0;		/* SIGINT or SIGTERM */
}

/* Sample every period ms until a signal arrives on sigfd. */
static int stat_watch(struct evbus *bus, bool json, long long period, int sigfd)
{
	struct stat_snap snap[2] = {};
	long long next = now_ms();
	int cur = 0, ret, bus_err;

	for (;;) {
		ret = stat_sample(&snap[cur], bus, &bus_err, false);
		if (!ret)
			ret = stat_show(json, true, &snap[cur],
					snap[!cur].ms ? &snap[!cur] : NULL, bus_err);
		if (ret)
			break;
		stat_snap_free(&snap[!cur]);
		cur = !cur;
		if (stat_wait(sigfd, &next, period))
			break;		/* a clean exit */
	}
	stat_snap_free(&snap[0]);
	stat_snap_free(&snap[1]);
	return ret;
}

/* The caller's bus, as cli_open() would reach it, or NULL: stat goes on. */
static struct evbus *stat_open_bus(void)
{
	const char *dev = getenv(ENV_DEVICE);
	EVBUS_OPTS(evbus_opts, opts, .flags = EVBUS_OPEN_RDONLY);
	struct evbus *bus;

	if (dev && *dev)
		opts.path = dev;
	stat_open_err = evbus_open(&bus, &opts);
	return stat_open_err ? NULL : bus;
}

/* --prometheus: what the last sample found, to report only changes. */
struct stat_prom {
	const char *out;	/* --output FILE, or NULL for stdout */
	bool first;
	bool up;		/* the module's counters were read */
	int bus_err;		/* why there were no bus counters, or 0 */
};

static void stat_prom_bus_msg(int err)
{
	const char *dev = getenv(ENV_DEVICE);

	if (err == -ENOTTY)
		cli_err("no bus counters (evbus_bus_up 0): the module has no per-bus counters");
	else
		cli_err("no bus counters (evbus_bus_up 0): cannot open %s: %s",
			dev && *dev ? dev : EVBUS_DEVICE_PATH, strerror(-err));
}

/* The exposition to stdout, or into st->out. */
static int stat_prom_emit(const struct stat_prom *st, const char *buf, size_t len)
{
	if (st->out)
		return prom_write_file(st->out, buf, len);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
		return cli_errno_exit("writing stdout", -errno);
	return 0;
}

/*
 * One sample, rendered and written; the device is open only meanwhile
 * (a long-running exporter must not keep the module from unloading).
 * Nonzero only if the output could not be written.
 */
static int stat_prom_once(struct stat_prom *st)
{
	struct stat_snap snap = {};
	struct evbus *bus = stat_open_bus();
	char *buf = NULL;
	size_t len = 0;
	int ret, bus_err = 0;
	FILE *f;

	ret = stat_sample(&snap, bus, &bus_err, !st->first && !st->up);
	evbus_close(bus);
	st->up = !ret;
	if (!st->up)
		bus_err = 0;	/* the module's message says it all */
	else if (bus_err && (st->first || bus_err != st->bus_err))
		stat_prom_bus_msg(bus_err);
	st->bus_err = bus_err;
	st->first = false;
	f = open_memstream(&buf, &len);
	if (!f) {
		ret = cli_errno_exit("open_memstream", -errno);
		goto out;
	}
	ret = prom_render(f, st->up ? &snap : NULL, bus_err);
	if (fclose(f) && !ret)
		ret = -errno;
	ret = ret ? cli_errno_exit("formatting the metrics", ret) :
		    stat_prom_emit(st, buf, len);
out:
	free(buf);
	stat_snap_free(&snap);
	return ret;
}

/* --prometheus [--output FILE [--watch SECS]]. */
static int stat_prom(const char *out, long long period)
{
	struct stat_prom st = { .out = out, .first = true };
	long long next = now_ms();
	int ret, sigfd;

	if (period < 0) {
		ret = stat_prom_once(&st);
		return ret ? ret : st.up ? 0 : EXIT_RUNTIME;
	}
	sigfd = signalfd_open(NULL, 0);
	if (sigfd < 0)
		return cli_errno_exit("signalfd", sigfd);
	/* A module that is missing now may be loaded later: go on. */
	do {
		ret = stat_prom_once(&st);
	} while (!ret && !stat_wait(sigfd, &next, period));
	close(sigfd);
	return ret;
}

static int stat_check_opts(bool json, bool prom, const char *out, long long period)
{
	if (prom && json)
		return cli_usage_err("stat", "--prometheus and --json exclude each other");
	if (out && !prom)
		return cli_usage_err("stat", "--output needs --prometheus");
	if (prom && period >= 0 && !out)
		return cli_usage_err("stat", "--prometheus --watch needs --output FILE (one exposition per file)");
	if (out && (!*out || out[strlen(out) - 1] == '/'))
		return cli_usage_err("stat", "--output wants a file name, not '%s'", out);
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	long long period = -1;
	struct stat_snap snap = {};
	const char *out = NULL;
	bool json = false, prom = false;
	struct evbus *bus;
	int opt, ret, sigfd, bus_err;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'p':
			prom = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'w':
			if (!parse_secs(optarg, &period) || period <= 0)
				return cli_usage_err("stat", "--watch wants a positive number of seconds, not '%s'", optarg);
			break;
		case 'h':
			fputs(stat_usage, stdout);
			return 0;
		default:
			return cli_bad_opt("stat", opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_err("stat", "stat takes no arguments ('%s')", argv[optind]);
	ret = stat_check_opts(json, prom, out, period);
	if (ret)
		return ret;
	if (prom)
		return stat_prom(out, period);

	bus = stat_open_bus();
	if (period < 0) {
		ret = stat_sample(&snap, bus, &bus_err, false);
		if (!ret)
			ret = stat_show(json, false, &snap, NULL, bus_err);
		stat_snap_free(&snap);
		goto out;
	}
	sigfd = signalfd_open(NULL, 0);
	if (sigfd < 0) {
		ret = cli_errno_exit("signalfd", sigfd);
		goto out;
	}
	ret = stat_watch(bus, json, period, sigfd);
	close(sigfd);
out:
	evbus_close(bus);
	return ret;
}
