/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus stat: one sample of the counters, shared by the table and JSON
 * output (stat.c) and the Prometheus exposition (prometheus.c).
 */
#ifndef EVBUS_CLI_STAT_H
#define EVBUS_CLI_STAT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct stat_val {
	char name[NAME_MAX + 1];
	char text[64];		/* the file's first line */
	bool numeric;
	bool neg;		/* gauges may print as signed */
	uint64_t num;		/* magnitude */
};

struct stat_set {
	struct stat_val *v;
	int n;
};

struct stat_snap {
	struct stat_set bus;	/* empty when there is no bus to show */
	struct stat_set counters;
	struct stat_set params;
	long long ms;		/* monotonic time of the sample */
};

/*
 * prometheus.c: snap in the text exposition format 0.0.4 to f; snap NULL
 * when the module's counters could not be read (evbus_up 0).  bus_err is
 * why snap has no bus counters.  0, or -errno of the stream.
 */
int prom_render(FILE *f, const struct stat_snap *snap, int bus_err);

/*
 * Replace path with len bytes of buf atomically: a temporary file in the
 * same directory, written, synced, mode 0644, renamed over path.  On
 * failure the temporary file is gone, path is untouched, the reason is
 * printed, and the result is EXIT_RUNTIME.
 */
int prom_write_file(const char *path, const char *buf, size_t len);

#endif /* EVBUS_CLI_STAT_H */
