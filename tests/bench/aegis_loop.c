// SPDX-License-Identifier: GPL-2.0
/*
 * The AEGIS subscriber loop in C, the baseline of the bindings' bench rows
 * (issue #18): the same loop as bindings/rust/examples/aegis_loop.rs and
 * bindings/python/examples/aegis_loop.py, with the same bench contract:
 *
 *   aegis_loop --bench N [--pattern P] [--ring BYTES] [--lossless MS]
 *
 * sets the ring (drop-oldest, or lossless with a wait of MS), subscribes
 * P (default "bench.>"), prints "ready", then takes events and lag
 * reports until delivered + lost >= N, dispatching on the topic as the
 * AEGIS loop does, and prints "delivered=D lost=L bytes=B".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

struct tally {
	unsigned long long started, completed, other, bytes;
};

/* The loop's match: what AEGIS does per event, here just counting. */
static void dispatch(struct tally *t, const struct evbus_record *rec)
{
	if (!strcmp(rec->topic, "aegis.task.started"))
		t->started++;
	else if (!strcmp(rec->topic, "aegis.task.completed"))
		t->completed++;
	else
		t->other++;
	t->bytes += rec->payload_len;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "aegis_loop: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long long n = 0, delivered = 0, lost = 0;
	const char *pattern = "bench.>";
	unsigned long ring = 1 << 20, lossless_ms = 0;
	const struct evbus_record *rec;
	struct tally t = { 0 };
	struct evbus *bus;
	int i, ret;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--bench"))
			n = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--pattern"))
			pattern = argv[i + 1];
		else if (!strcmp(argv[i], "--ring"))
			ring = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--lossless"))
			lossless_ms = strtoul(argv[i + 1], NULL, 0);
		else
			break;
	}
	if (i != argc || !n) {
		fprintf(stderr, "usage: aegis_loop --bench N [--pattern P] [--ring BYTES] [--lossless MS]\n");
		return 2;
	}
	ret = evbus_open(&bus, NULL);
	if (ret)
		return die("open", ret);
	ret = lossless_ms ? evbus_set_ring_lossless(bus, ring, lossless_ms * 1000000ULL) :
			    evbus_set_ring(bus, ring, EVBUS_POLICY_DROP_OLDEST);
	if (ret)
		return die("ring", ret);
	ret = evbus_subscribe(bus, pattern, NULL);
	if (ret)
		return die("subscribe", ret);
	printf("ready\n");
	fflush(stdout);
	while (delivered + lost < n) {
		ret = evbus_read(bus, &rec, -1);
		if (ret < 0)
			return die("read", ret);
		if (rec->event) {
			dispatch(&t, rec);
			delivered++;
		} else if (rec->lagged) {
			lost += rec->lagged->lost;
		}
	}
	printf("delivered=%llu lost=%llu bytes=%llu\n", delivered, lost, t.bytes);
	evbus_close(bus);
	return 0;
}
