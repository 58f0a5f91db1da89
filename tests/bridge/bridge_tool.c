// SPDX-License-Identifier: GPL-2.0
/*
 * A NATS and evbus client for the bridge's tests and benchmark.
 *
 *   bridge_tool sub URL SUBJECT COUNT SECS   print COUNT messages (or what
 *                                 came in SECS), one line each:
 *                                 SUBJECT|K=V,K=V,...|PAYLOAD; "ready" on
 *                                 stderr once subscribed
 *   bridge_tool pub URL SUBJECT COUNT [K=V]...   payload "1".."COUNT",
 *                                 with the headers given
 *   bridge_tool js URL STREAM     every message of the stream, as sub prints
 *   bridge_tool bench-pub nats URL SUBJECT N SIZE [GAP_US]
 *   bridge_tool bench-pub evbus TOPIC N SIZE [GAP_US]
 *   bridge_tool bench-sub nats URL SUBJECT N SECS
 *   bridge_tool bench-sub evbus PATTERN N SECS
 *                                 the benchmark's ends: the payload starts
 *                                 with the CLOCK_REALTIME ns of sending; the
 *                                 subscriber prints received, msgs/s (first
 *                                 to last) and latency p50/p90/p99 in us
 *
 * Exit status: 0, 1 on an error, 2 on bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>

#include "evbus.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die_nats(const char *what, natsStatus s)
{
	fprintf(stderr, "bridge_tool: %s: %s\n", what, natsStatus_GetText(s));
	exit(1);
}

static natsConnection *connect_to(const char *url)
{
	natsConnection *nc;
	natsStatus s = natsConnection_ConnectTo(&nc, url);

	if (s != NATS_OK)
		die_nats(url, s);
	return nc;
}

static void print_msg(natsMsg *m)
{
	const char **keys = NULL, *v;
	int i, n = 0;

	printf("%s|", natsMsg_GetSubject(m));
	if (natsMsgHeader_Keys(m, &keys, &n) == NATS_OK) {
		for (i = 0; i < n; i++)
			if (natsMsgHeader_Get(m, keys[i], &v) == NATS_OK)
				printf("%s%s=%s", i ? "," : "", keys[i], v);
		free((void *)keys);
	}
	printf("|%.*s\n", natsMsg_GetDataLength(m), natsMsg_GetData(m));
}

static int cmd_sub(const char *url, const char *subj, long count, long secs)
{
	natsConnection *nc = connect_to(url);
	natsSubscription *sub;
	natsMsg *m;
	natsStatus s;
	int64_t deadline = nats_Now() + secs * 1000;
	long got = 0;

	s = natsConnection_SubscribeSync(&sub, nc, subj);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK)
		die_nats("subscribe", s);
	fputs("ready\n", stderr);
	fflush(stderr);
	while (got < count && nats_Now() < deadline) {
		s = natsSubscription_NextMsg(&m, sub, deadline - nats_Now());
		if (s == NATS_TIMEOUT)
			break;
		if (s != NATS_OK)
			die_nats("next message", s);
		print_msg(m);
		fflush(stdout);
		natsMsg_Destroy(m);
		got++;
	}
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	return 0;
}

static int cmd_pub(const char *url, const char *subj, long count,
		   char **hdrs, int nhdrs)
{
	natsConnection *nc = connect_to(url);
	natsStatus s = NATS_OK;
	char buf[32], *eq;
	natsMsg *m;
	long i;
	int h;

	for (i = 1; i <= count && s == NATS_OK; i++) {
		snprintf(buf, sizeof(buf), "%ld", i);
		s = natsMsg_Create(&m, subj, NULL, buf, (int)strlen(buf));
		for (h = 0; h < nhdrs && s == NATS_OK; h++) {
			eq = strchr(hdrs[h], '=');
			if (!eq) {
				fprintf(stderr, "bridge_tool: header '%s' is not K=V\n", hdrs[h]);
				return 2;
			}
			*eq = '\0';
			s = natsMsgHeader_Set(m, hdrs[h], eq + 1);
			*eq = '=';
		}
		if (s == NATS_OK)
			s = natsConnection_PublishMsg(nc, m);
		natsMsg_Destroy(m);
	}
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK)
		die_nats("publish", s);
	natsConnection_Destroy(nc);
	return 0;
}

static int cmd_js(const char *url, const char *stream)
{
	natsConnection *nc = connect_to(url);
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	uint64_t seq, last;
	natsMsg *m;
	natsStatus s;
	jsCtx *js;

	s = natsConnection_JetStream(&js, nc, NULL);
	if (s == NATS_OK)
		s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	if (s != NATS_OK)
		die_nats("stream info", s);
	last = si->State.LastSeq;
	for (seq = si->State.FirstSeq; seq && seq <= last; seq++) {
		s = js_GetMsg(&m, js, stream, seq, NULL, &jerr);
		if (s == NATS_NOT_FOUND)
			continue;
		if (s != NATS_OK)
			die_nats("get message", s);
		print_msg(m);
		natsMsg_Destroy(m);
	}
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return 0;
}

/* ---- the benchmark's ends ---- */

static void fill(char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRIu64 " ", now_ns());

	if ((size_t)n < size)
		memset(buf + n, 'x', size - n);
}

static void gap(long gap_us)
{
	struct timespec ts = { gap_us / 1000000, (gap_us % 1000000) * 1000 };

	if (gap_us)
		nanosleep(&ts, NULL);
}

static int bench_pub_nats(const char *url, const char *subj, long n, size_t size,
			  long gap_us)
{
	natsConnection *nc = connect_to(url);
	char *buf = malloc(size);
	natsStatus s = NATS_OK;
	long i;

	for (i = 0; i < n && s == NATS_OK; i++) {
		fill(buf, size);
		s = natsConnection_Publish(nc, subj, buf, (int)size);
		if (gap_us && s == NATS_OK)
			s = natsConnection_Flush(nc);
		gap(gap_us);
	}
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK)
		die_nats("publish", s);
	natsConnection_Destroy(nc);
	free(buf);
	return 0;
}

static int bench_pub_evbus(const char *topic, long n, size_t size, long gap_us)
{
	char *buf = malloc(size);
	struct evbus *bus;
	long i;
	int ret = evbus_open(&bus, NULL);

	if (ret) {
		fprintf(stderr, "bridge_tool: evbus_open: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < n && !ret; i++) {
		fill(buf, size);
		ret = evbus_publish(bus, topic, buf, size, NULL, NULL);
		gap(gap_us);
	}
	if (ret)
		fprintf(stderr, "bridge_tool: evbus_publish: %s\n", strerror(-ret));
	evbus_close(bus);
	free(buf);
	return !!ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench {
	uint64_t *lat;
	long got, n;
	uint64_t first, last;
};

static void bench_take(struct bench *b, const void *data, size_t len)
{
	uint64_t t = now_ns(), sent = strtoull(data, NULL, 10);

	if (b->got >= b->n || !len)
		return;
	if (!b->got)
		b->first = t;
	b->last = t;
	b->lat[b->got++] = t > sent ? t - sent : 0;
}

static void bench_report(struct bench *b)
{
	double secs = (b->last - b->first) / 1e9;

	qsort(b->lat, b->got, sizeof(uint64_t), cmp_u64);
	printf("received %ld of %ld\n", b->got, b->n);
	if (!b->got)
		return;
	printf("rate %.0f msgs/s\n", b->got > 1 && secs > 0 ? (b->got - 1) / secs : 0.0);
	printf("latency_us p50 %.1f p90 %.1f p99 %.1f\n", b->lat[b->got / 2] / 1e3,
	       b->lat[b->got * 9 / 10] / 1e3, b->lat[b->got * 99 / 100] / 1e3);
}

static int bench_sub_nats(const char *url, const char *subj, struct bench *b,
			  long secs)
{
	natsConnection *nc = connect_to(url);
	int64_t deadline = nats_Now() + secs * 1000;
	natsSubscription *sub;
	natsMsg *m;
	natsStatus s;

	s = natsConnection_SubscribeSync(&sub, nc, subj);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK)
		die_nats("subscribe", s);
	fputs("ready\n", stderr);
	fflush(stderr);
	while (b->got < b->n && nats_Now() < deadline) {
		s = natsSubscription_NextMsg(&m, sub, deadline - nats_Now());
		if (s != NATS_OK)
			break;
		bench_take(b, natsMsg_GetData(m), natsMsg_GetDataLength(m));
		natsMsg_Destroy(m);
	}
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	return 0;
}

static int bench_sub_evbus(const char *pattern, struct bench *b, long secs)
{
	uint64_t deadline = now_ns() + secs * 1000000000ULL;
	const struct evbus_record *rec;
	struct evbus *bus;
	int ret = evbus_open(&bus, NULL);

	if (!ret)
		ret = evbus_subscribe(bus, pattern, NULL);
	if (ret) {
		fprintf(stderr, "bridge_tool: evbus: %s\n", strerror(-ret));
		return 1;
	}
	fputs("ready\n", stderr);
	fflush(stderr);
	while (b->got < b->n && now_ns() < deadline) {
		ret = evbus_read(bus, &rec, 200);
		if (ret == -EAGAIN || ret == -ETIMEDOUT || ret == -EINTR)
			continue;
		if (ret)
			break;
		if (rec->lagged)
			printf("lagged %" PRIu64 "\n", (uint64_t)rec->lagged->lost);
		if (rec->event)
			bench_take(b, rec->payload, rec->payload_len);
	}
	evbus_close(bus);
	return 0;
}

static int bench_sub(int argc, char **argv)
{
	struct bench b = {};
	bool nats = !strcmp(argv[2], "nats");
	int a = nats ? 5 : 4, ret;	/* argv[a] is N */

	if (argc != a + 2)
		return 2;
	b.n = atol(argv[a]);
	b.lat = calloc(b.n ? b.n : 1, sizeof(uint64_t));
	ret = nats ? bench_sub_nats(argv[3], argv[4], &b, atol(argv[a + 1])) :
		     bench_sub_evbus(argv[3], &b, atol(argv[a + 1]));
	if (!ret)
		bench_report(&b);
	free(b.lat);
	return ret;
}

static int bench_pub(int argc, char **argv)
{
	bool nats = !strcmp(argv[2], "nats");
	int a = nats ? 6 : 5;	/* argv[a] is SIZE */

	if (argc < a + 1 || argc > a + 2)
		return 2;
	if (nats)
		return bench_pub_nats(argv[3], argv[4], atol(argv[5]), atol(argv[6]),
				      argc > 7 ? atol(argv[7]) : 0);
	return bench_pub_evbus(argv[3], atol(argv[4]), atol(argv[5]),
			       argc > 6 ? atol(argv[6]) : 0);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int ret = 2;

	if (!strcmp(cmd, "sub") && argc == 6)
		ret = cmd_sub(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	else if (!strcmp(cmd, "pub") && argc >= 5)
		ret = cmd_pub(argv[2], argv[3], atol(argv[4]), argv + 5, argc - 5);
	else if (!strcmp(cmd, "js") && argc == 4)
		ret = cmd_js(argv[2], argv[3]);
	else if (!strcmp(cmd, "bench-pub") && argc > 3)
		ret = bench_pub(argc, argv);
	else if (!strcmp(cmd, "bench-sub") && argc > 3)
		ret = bench_sub(argc, argv);
	if (ret == 2)
		fprintf(stderr, "usage: see the comment at the top of tests/bridge/bridge_tool.c\n");
	return ret;
}
