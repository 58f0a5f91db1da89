// SPDX-License-Identifier: GPL-2.0
/*
 * evbus stat --prometheus: the counters in the Prometheus text exposition
 * format 0.0.4, and the atomic file replacement node_exporter's textfile
 * collector needs.
 *
 * Families, each with one HELP and one TYPE line:
 *
 *   evbus_up                    gauge  1: the module's counters were read
 *   evbus_<name>[_total]        the module's totals over every bus
 *                               (/sys/kernel/evbus/stats/<name>), no labels
 *   evbus_bus_up                gauge  1: this bus's counters were read
 *   evbus_bus_<name>[_total]    this bus's counters (EVBUS_IOC_BUS_STATS),
 *                               labelled bus="<bus_id>",ipc_ns="<inode>"
 *   evbus_bus_policy_deny_by_default  gauge 0/1, same labels
 *   evbus_param{name=...}       gauge, each numeric module parameter
 *   evbus_param_info{name=...,value=...} 1  each other parameter (dev_mode)
 *
 * prom_metrics[] says which names are counters (suffix _total) and which
 * are gauges.  A name it does not know (a newer module) is exported
 * untyped under evbus_<name>, without a suffix.  Counters in nanoseconds
 * (*_ns) are exported in seconds (*_seconds_total), as Prometheus's base
 * unit, with all nine decimals.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "stat.h"

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_UNTYPED,
};

static const char *const prom_type_names[] = {
	[PROM_COUNTER] = "counter",
	[PROM_GAUGE] = "gauge",
	[PROM_UNTYPED] = "untyped",
};

struct prom_metric {
	const char *name;	/* sysfs file or struct evbus_bus_stats field */
	enum prom_type type;
	const char *help;
};

#define C(n, h)	{ #n, PROM_COUNTER, h }
#define G(n, h)	{ #n, PROM_GAUGE, h }
/* Every counter the module exports, in sysfs and per bus. */
static const struct prom_metric prom_metrics[] = {
	C(published, "Events published."),
	C(published_bytes, "Payload bytes of the published events."),
	C(deliveries, "Event x matching file pairs, whether queued or lost."),
	C(lost, "Deliveries dropped by a full ring."),
	C(read_events, "Event records read (read() or a mapping)."),
	C(read_bytes, "Record bytes read (read() or a mapping)."),
	C(lag_records, "LAGGED records read."),
	G(queued_events, "Event records in rings now."),
	G(queued_bytes, "Record bytes in rings now."),
	C(discarded, "Event records still queued when their file was closed."),
	G(subscriptions, "Subscriptions now."),
	G(open_files, "Open files of /dev/evbus now."),
	G(ring_bytes, "Ring memory of open files now."),
	G(ring_bytes_max, "High-water mark of ring_bytes since the module was loaded."),
	C(publish_err_einval, "Publish calls that failed with EINVAL."),
	C(publish_err_efault, "Publish calls that failed with EFAULT."),
	C(publish_err_emsgsize, "Publish calls that failed with EMSGSIZE."),
	C(publish_err_enomem, "Publish calls that failed with ENOMEM."),
	C(publish_err_ebadf, "Publish calls on a file not open for writing (EBADF)."),
	C(publish_err_other, "Publish calls that failed with another errno."),
	C(ioctl_errors, "Failed evbus ioctls, publish included."),
	C(filtered, "Deliveries a subscription filter refused."),
	C(denied_rule, "Calls refused by a deny rule."),
	C(denied_default, "Calls refused by a policy default of deny."),
	C(denied_scope, "Calls refused by the file's scope."),
	C(denied_reserved, "Publishes refused on $sys.* topics."),
	C(revoked, "Subscriptions removed by a policy change."),
	C(replayed, "Event records queued from the history."),
	C(approval_asked, "Publishes through the approval gate."),
	C(approval_requests, "Requests queued to approvers."),
	C(approval_allowed, "Publishes through the approval gate that were published."),
	C(approval_modified, "Approved publishes an approver changed."),
	C(approval_denied, "Requests an approver denied."),
	C(approval_expired, "Approval steps whose deadline passed."),
	C(approval_gone, "Approval steps whose approver went away."),
	C(approval_full, "Approval steps whose approver had no room."),
	C(approval_withdrawn, "Requests withdrawn because their publisher got a signal."),
	C(approval_nobody, "Asking publishes with no approver of their topic."),
	G(approvers, "Approvers registered now."),
	G(approval_pending, "Requests pending at approvers now."),
	G(wills, "Last wills armed now."),
	C(wills_fired, "Last wills published by a file's release."),
	C(rate_refused_file, "Publishes refused by the file's token bucket."),
	C(rate_refused_user, "Publishes refused by the user's token bucket."),
	C(rate_waited, "Publishes that waited for rate tokens."),
	C(rate_wait_ns, "Time publishes waited for rate tokens."),
	C(rate_interrupted, "Waits for rate tokens that a signal ended."),
	G(rate_users, "Per-user rate limits in force now."),
	C(lossless_waits, "Waits of publishers for room in a lossless ring."),
	C(lossless_wait_ns, "Time publishers waited for room in lossless rings."),
	C(lossless_expired, "Events lost at a lossless ring once a wait ran out."),
	C(lossless_foreign, "Events lost at a full lossless ring whose publisher may not wait."),
	G(buses, "Buses now (one per IPC namespace that has one)."),
	G(seq, "The last sequence number given out."),
	G(policy_rules, "Rules in the policy now."),
};
#undef C
#undef G

/* Labels, not values: they name the bus. */
static const char *const prom_bus_labels[] = { "bus_id", "ipc_ns" };

static const struct prom_metric *prom_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(prom_metrics) / sizeof(prom_metrics[0]); i++)
		if (!strcmp(prom_metrics[i].name, name))
			return &prom_metrics[i];
	return NULL;
}

static bool prom_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* A known counter in nanoseconds, exported in seconds. */
static bool prom_is_ns(const struct prom_metric *m)
{
	return m && m->type == PROM_COUNTER && prom_ends_with(m->name, "_ns");
}

/* prefix + name (in [a-zA-Z0-9_]) + unit and type suffixes. */
static void prom_name(char *buf, size_t size, const char *prefix,
		      const char *name, const struct prom_metric *m)
{
	size_t len = strlen(name), i, at;

	if (prom_is_ns(m))
		len -= 3;
	at = (size_t)snprintf(buf, size, "%s", prefix);
	for (i = 0; i < len && at + 1 < size; i++, at++) {
		char c = name[i];

		buf[at] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') ? c : '_';
	}
	buf[at < size ? at : size - 1] = '\0';
	if (prom_is_ns(m))
		strncat(buf, "_seconds", size - strlen(buf) - 1);
	if (m && m->type == PROM_COUNTER)
		strncat(buf, "_total", size - strlen(buf) - 1);
}

/* Backslash and newline escaped, and double quotes in a label value. */
static void prom_escape(FILE *f, const char *s, bool label)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && label)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void prom_put_help(FILE *f, const char *s)
{
	prom_escape(f, s, false);
}

static void prom_put_label(FILE *f, const char *s)
{
	prom_escape(f, s, true);
}

static void prom_family(FILE *f, const char *name, enum prom_type type,
			const char *help)
{
	fprintf(f, "# HELP %s ", name);
	prom_put_help(f, help);
	fprintf(f, "\n# TYPE %s %s\n", name, prom_type_names[type]);
}

static void prom_value(FILE *f, const struct stat_val *v, bool ns)
{
	const char *sign = v->neg && v->num ? "-" : "";

	if (ns)
		fprintf(f, " %s%" PRIu64 ".%09" PRIu64 "\n", sign,
			v->num / 1000000000, v->num % 1000000000);
	else
		fprintf(f, " %s%" PRIu64 "\n", sign, v->num);
}

/* One family per numeric value of s: prefix+name{labels} value. */
static void prom_set(FILE *f, const struct stat_set *s, const char *prefix,
		     const char *labels, const char *what)
{
	char name[NAME_MAX + 64], help[NAME_MAX + 128];
	const struct prom_metric *m;
	int i;

	for (i = 0; i < s->n; i++) {
		const struct stat_val *v = &s->v[i];

		if (!v->numeric)
			continue;
		m = prom_find(v->name);
		prom_name(name, sizeof(name), prefix, v->name, m);
		snprintf(help, sizeof(help), "%s counter %s, not known to this evbus.",
			 what, v->name);
		prom_family(f, name, m ? m->type : PROM_UNTYPED, m ? m->help : help);
		fprintf(f, "%s%s", name, labels);
		prom_value(f, v, prom_is_ns(m));
	}
}

static const struct stat_val *prom_get(const struct stat_set *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static bool prom_is_label(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(prom_bus_labels) / sizeof(prom_bus_labels[0]); i++)
		if (!strcmp(prom_bus_labels[i], name))
			return true;
	return false;
}

static void prom_bus(FILE *f, const struct stat_set *bus)
{
	const struct stat_val *id = prom_get(bus, "bus_id");
	const struct stat_val *ns = prom_get(bus, "ipc_ns");
	const struct stat_val *def = prom_get(bus, "policy_default");
	struct stat_set vals = { .v = NULL, .n = 0 };
	char labels[160];
	int i;

	snprintf(labels, sizeof(labels), "{bus=\"%s\",ipc_ns=\"%s\"}",
		 id ? id->text : "", ns ? ns->text : "");
	/* Every numeric field but the labels, in the table's order. */
	vals.v = calloc(bus->n ? bus->n : 1, sizeof(*vals.v));
	for (i = 0; vals.v && i < bus->n; i++)
		if (!prom_is_label(bus->v[i].name))
			vals.v[vals.n++] = bus->v[i];
	prom_set(f, &vals, "evbus_bus_", labels, "Bus");
	free(vals.v);
	if (def) {
		prom_family(f, "evbus_bus_policy_deny_by_default", PROM_GAUGE,
			    "1 if the policy's default is deny, 0 if allow.");
		fprintf(f, "evbus_bus_policy_deny_by_default%s %d\n", labels,
			!strcmp(def->text, "deny"));
	}
}

/*
 * A parameter is a number if it is plain decimal ("0" or no leading
 * zero: the kernel prints modes in octal with one, e.g. dev_mode 0660).
 */
static bool prom_param_numeric(const struct stat_val *v)
{
	const char *t = v->text + v->neg;

	return v->numeric && t[0] >= '0' && t[0] <= '9' &&
	       (t[0] != '0' || !t[1]);
}

static void prom_params(FILE *f, const struct stat_set *p)
{
	int i, n = 0;

	for (i = 0; i < p->n; i++) {
		if (!prom_param_numeric(&p->v[i]))
			continue;
		if (!n++)
			prom_family(f, "evbus_param", PROM_GAUGE,
				    "A numeric module parameter (/sys/module/evbus/parameters/NAME).");
		fprintf(f, "evbus_param{name=\"");
		prom_put_label(f, p->v[i].name);
		fputs("\"}", f);
		prom_value(f, &p->v[i], false);
	}
	for (i = 0, n = 0; i < p->n; i++) {
		if (prom_param_numeric(&p->v[i]))
			continue;
		if (!n++)
			prom_family(f, "evbus_param_info", PROM_GAUGE,
				    "A module parameter that is not a decimal number, as the value label; always 1.");
		fprintf(f, "evbus_param_info{name=\"");
		prom_put_label(f, p->v[i].name);
		fputs("\",value=\"", f);
		prom_put_label(f, p->v[i].text);
		fputs("\"} 1\n", f);
	}
}

int prom_render(FILE *f, const struct stat_snap *snap, int bus_err)
{
	prom_family(f, "evbus_up", PROM_GAUGE,
		    "1 if the evbus module's counters were read, 0 if not (not loaded).");
	fprintf(f, "evbus_up %d\n", !!snap);
	prom_family(f, "evbus_bus_up", PROM_GAUGE,
		    "1 if this bus's counters were read, 0 if not (see evbus stat's message).");
	fprintf(f, "evbus_bus_up %d\n", snap && snap->bus.n && !bus_err);
	if (snap) {
		prom_set(f, &snap->counters, "evbus_", "", "Module");
		if (snap->bus.n && !bus_err)
			prom_bus(f, &snap->bus);
		prom_params(f, &snap->params);
	}
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/* ---------------------------------------------------------------- output */

static int prom_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create .BASE.XXXXXX in dfd: not *.prom, so the collector never reads it. */
static int prom_temp(int dfd, const char *base, char *tmp, size_t size)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned long r = (unsigned long)now_ms() ^ ((unsigned long)getpid() << 16);
	int fd, tries, i;
	char sfx[7];

	for (tries = 0; tries < 100; tries++) {
		r = r * 6364136223846793005UL + 1442695040888963407UL;
		for (i = 0; i < 6; i++)
			sfx[i] = digits[(r >> (8 + 5 * i)) % 36];
		sfx[6] = '\0';
		if ((size_t)snprintf(tmp, size, ".%s.%s", base, sfx) >= size)
			return -ENAMETOOLONG;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* Write, sync, chmod, close, rename; the step that failed in *step. */
static int prom_replace(int dfd, const char *tmp, int fd, const char *base,
			const char *buf, size_t len, const char **step)
{
	int ret;

	*step = "writing";
	ret = prom_write_all(fd, buf, len);
	if (!ret) {
		*step = "syncing";
		ret = fsync(fd) ? -errno : 0;
	}
	if (!ret) {
		*step = "setting mode 0644 on";
		ret = fchmod(fd, 0644) ? -errno : 0;
	}
	if (close(fd) && !ret) {
		*step = "closing";
		ret = -errno;
	}
	if (!ret) {
		*step = "renaming";
		ret = renameat(dfd, tmp, dfd, base) ? -errno : 0;
	}
	return ret;
}

int prom_write_file(const char *path, const char *buf, size_t len)
{
	char dir[PATH_MAX], tmp[NAME_MAX + 1];
	const char *base = strrchr(path, '/'), *step;
	int dfd, fd, ret;

	if (base) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - path + !(base - path)), path);
		base++;
	} else {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_err("cannot write %s: directory %s: %s", path, dir, strerror(errno));
		return EXIT_RUNTIME;
	}
	fd = prom_temp(dfd, base, tmp, sizeof(tmp));
	if (fd < 0) {
		cli_err("cannot write %s: cannot create a temporary file in %s: %s",
			path, dir, strerror(-fd));
		close(dfd);
		return EXIT_RUNTIME;
	}
	ret = prom_replace(dfd, tmp, fd, base, buf, len, &step);
	if (ret) {
		cli_err("cannot write %s: %s %s/%s%s: %s (%s)", path, step, dir,
			tmp, strcmp(step, "renaming") ? "" : " over it",
			strerror(-ret), unlinkat(dfd, tmp, 0) ?
			"and cannot remove the temporary file" :
			"the old file is unchanged");
		close(dfd);
		return EXIT_RUNTIME;
	}
	/* The rename is done; make it durable too (not every fs can). */
	if (fsync(dfd) && errno != EINVAL && errno != EROFS) {
		cli_err("wrote %s, but syncing directory %s failed: %s", path, dir,
			strerror(errno));
		close(dfd);
		return EXIT_RUNTIME;
	}
	close(dfd);
	return 0;
}
