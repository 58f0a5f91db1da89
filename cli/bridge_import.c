// SPDX-License-Identifier: GPL-2.0
/*
 * evbus bridge, the import side: NATS messages become local events, run
 * from libnats's subscription threads under br->imp_lock.
 *
 * Headers Evbus-Type, -Corr and -Parent become the event's fields; the
 * rest of the origin's metadata follows the event as an "origin" event on
 * _evbus.origin (under the import prefix) whose parent is the imported
 * event's local seq.  Messages of this bridge's own origin are dropped.
 * Per exporting run and pattern (Evbus-Bridge, Evbus-Export), a repeated
 * bridge seq is a duplicate (a JetStream retry) and is dropped; a jump is
 * a loss in transit, published as a lag report on _evbus.lag.<origin>
 * like the exporter's own.  All subscriptions share one delivery thread
 * (bridge_nats.c), so messages are taken in the order they came.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define PEERS_MAX	256
#define LOG_MAX		5	/* messages of one kind before counting quietly */

struct imp_msg {
	natsMsg *msg;
	const char *subject;
	const char *origin;		/* NULL: not from a bridge */
	const char *run;
	const char *export;		/* Evbus-Export */
	uint64_t bseq, prev, seq, last;
	bool lag;			/* a lag report */
};

static const char *hdr(natsMsg *m, const char *key)
{
	const char *v = NULL;

	return natsMsgHeader_Get(m, key, &v) == NATS_OK ? v : NULL;
}

static uint64_t hdr_u64(natsMsg *m, const char *key)
{
	uint64_t v = 0;

	parse_u64(hdr(m, key), &v);
	return v;
}

/* topic = [prefix.]name[.origin]; false if it does not fit. */
static bool local_topic(const struct bridge *br, char *buf, size_t size,
			const char *name, const char *origin)
{
	int n;

	n = snprintf(buf, size, "%s%s%s%s%s", br->import_prefix ? br->import_prefix : "",
		     br->import_prefix ? "." : "", name, origin ? "." : "",
		     origin ? origin : "");
	return n > 0 && (size_t)n < size;
}

static void imp_publish(struct bridge *br, const char *topic, const void *data,
			size_t len, const struct evbus_pub_opts *po,
			uint64_t *seq)
{
	int ret = evbus_publish(br->bus, topic, data, len, po, seq);

	if (!ret)
		return;
	if (br->refused++ < LOG_MAX)
		cli_err("bridge: cannot publish '%s' on the bus: %s", topic,
			strerror(-ret));
	*seq = 0;
}

/* A lag report on the local bus: cause, lost, first..last. */
static void imp_lag_report(struct bridge *br, const struct imp_msg *im,
			   const char *cause, uint64_t lost, uint64_t first,
			   uint64_t last)
{
	EVBUS_OPTS(evbus_pub_opts, po);
	char topic[EVBUS_TOPIC_MAX + 1], body[384];
	uint64_t seq;
	int len;

	if (!local_topic(br, topic, sizeof(topic), BRIDGE_LAG_TOPIC, im->origin))
		return;
	len = snprintf(body, sizeof(body),
		       "{\"origin\":\"%s\",\"bridge\":\"%s\",\"cause\":\"%s\",\"lost\":%" PRIu64
		       ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}",
		       im->origin, im->run ? im->run : "", cause, lost, first, last);
	imp_publish(br, topic, body, len, &po, &seq);
	br->lag_reports++;
}

static struct bridge_peer *peer_get(struct bridge *br, const char *run,
				     const char *export)
{
	struct bridge_peer **pp, *p;
	int n = 0;

	for (pp = &br->peers; (p = *pp); pp = &p->next, n++) {
		if (!strcmp(p->id, run) && !strcmp(p->export, export)) {
			*pp = p->next;		/* most recent first */
			p->next = br->peers;
			br->peers = p;
			return p;
		}
	}
	if (n >= PEERS_MAX) {		/* reuse the least recent, the tail */
		for (pp = &br->peers; (*pp)->next; pp = &(*pp)->next)
			;
		p = *pp;
		*pp = NULL;
		memset(p, 0, sizeof(*p));
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
	}
	snprintf(p->id, sizeof(p->id), "%s", run);
	snprintf(p->export, sizeof(p->export), "%s", export);
	p->next = br->peers;
	br->peers = p;
	return p;
}

/*
 * Does NATS subject pattern p take every subject pattern q takes?  Token
 * by token: '>' takes the rest, '*' one token (not a '>'), a literal
 * itself.
 */
static bool pattern_covers(const char *p, const char *q)
{
	size_t pl, ql;

	for (;;) {
		pl = strcspn(p, ".");
		ql = strcspn(q, ".");
		if (pl == 1 && *p == '>')
			return ql > 0;
		if (pl == 1 && *p == '*') {
			if (ql == 1 && *q == '>')
				return false;
		} else if (pl != ql || memcmp(p, q, pl)) {
			return false;
		}
		p += pl;
		q += ql;
		if (!*p || !*q)
			return !*p && !*q;
		p++;
		q++;
	}
}

/* Do this bridge's imports take all of an export pattern's messages? */
static bool imp_covers(const struct bridge *br, const char *export)
{
	int i;

	if (!strncmp(export, BRIDGE_LAG_SUBJECT ".", sizeof(BRIDGE_LAG_SUBJECT)))
		return true;		/* always subscribed */
	for (i = 0; i < br->n_imports; i++)
		if (pattern_covers(br->imports[i], export))
			return true;
	return false;
}

/*
 * Follow the exporting run's chain: false for a duplicate (a JetStream
 * retry, or overlapping imports); a jump is reported as lost in transit
 * when the imports take the whole export pattern (otherwise the jump is
 * what they do not take).  A chain first seen mid-way starts there.
 */
static bool imp_track(struct bridge *br, const struct imp_msg *im)
{
	struct bridge_peer *p;
	uint64_t lost;

	if (!im->run || !im->bseq || !im->export)
		return true;
	p = peer_get(br, im->run, im->export);
	if (!p)
		return true;
	if (p->bseq && im->bseq <= p->bseq) {
		br->dup++;
		return false;
	}
	if (p->bseq && im->bseq > p->bseq + 1 && imp_covers(br, im->export)) {
		lost = im->bseq - p->bseq - 1;
		br->gaps++;
		br->gap_msgs += lost;
		cli_err("bridge: lost in transit: %" PRIu64 " messages from %s (seq %" PRIu64
			"..%" PRIu64 ")", lost, im->origin, p->seq + 1, im->prev);
		imp_lag_report(br, im, "transit", lost, p->seq + 1, im->prev);
	}
	p->bseq = im->bseq;
	p->seq = im->last;
	return true;
}

/* The origin event: the imported event's metadata, parent = its local seq. */
static void imp_origin_event(struct bridge *br, const struct imp_msg *im,
			     uint64_t local_seq)
{
	EVBUS_OPTS(evbus_pub_opts, po, .corr = im->seq, .parent = local_seq);
	char topic[EVBUS_TOPIC_MAX + 1], body[1024];
	const char *host = hdr(im->msg, HDR_HOST);
	const char *otopic = hdr(im->msg, HDR_TOPIC);
	uint64_t seq;
	int len;

	if (!local_topic(br, topic, sizeof(topic), BRIDGE_ORIGIN_TOPIC, NULL))
		return;
	len = snprintf(body, sizeof(body),
		       "{\"seq\":%" PRIu64 ",\"origin\":\"%s\",\"host\":\"%.255s\","
		       "\"topic\":\"%.255s\",\"origin_seq\":%" PRIu64 ",\"time_ns\":%" PRIu64
		       ",\"mono_ns\":%" PRIu64 ",\"pid\":%" PRIu64 ",\"uid\":%" PRIu64
		       ",\"gid\":%" PRIu64 ",\"flags\":%" PRIu64 ",\"bridge\":\"%s\"}",
		       local_seq, im->origin, host && !strpbrk(host, "\"\\") ? host : "",
		       otopic && !strpbrk(otopic, "\"\\") ? otopic : "", im->seq,
		       hdr_u64(im->msg, HDR_TIME), hdr_u64(im->msg, HDR_MONO),
		       hdr_u64(im->msg, HDR_PID), hdr_u64(im->msg, HDR_UID),
		       hdr_u64(im->msg, HDR_GID), hdr_u64(im->msg, HDR_FLAGS),
		       im->run ? im->run : "");
	if (len >= (int)sizeof(body))
		return;
	imp_publish(br, topic, body, len, &po, &seq);
}

static void imp_event(struct bridge *br, const struct imp_msg *im)
{
	natsMsg *m = im->msg;
	EVBUS_OPTS(evbus_pub_opts, po);
	char topic[EVBUS_TOPIC_MAX + 2];
	const char *why = NULL;
	uint64_t seq = 0, v;

	if (!local_topic(br, topic, sizeof(topic), im->subject, NULL) ||
	    evbus_check_topic(topic, &why)) {
		if (br->invalid++ < LOG_MAX)
			cli_err("bridge: not imported: subject '%s' is no evbus topic%s%s",
				im->subject, why ? ": it " : " (too long)", why ? why : "");
		return;
	}
	v = hdr_u64(m, HDR_TYPE);
	po.type = v > UINT32_MAX ? 0 : (uint32_t)v;
	po.corr = hdr_u64(m, HDR_CORR);
	po.parent = hdr_u64(m, HDR_PARENT);
	imp_publish(br, topic, natsMsg_GetData(m), natsMsg_GetDataLength(m), &po,
		    &seq);
	if (!seq)
		return;
	br->imported++;
	if (im->origin && !br->no_origin_events)
		imp_origin_event(br, im, seq);
}

/* A remote lag message's cause, as one of the known words. */
static const char *lag_cause(const char *c)
{
	static const char *const known[] = { "ring", "history", "transit" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (c && !strcmp(c, known[i]))
			return known[i];
	return "unknown";
}

static void imp_one(struct bridge *br, natsMsg *m)
{
	struct imp_msg im = { .msg = m, .subject = natsMsg_GetSubject(m) };

	im.origin = hdr(m, HDR_ORIGIN);
	if (im.origin && !strcmp(im.origin, br->origin)) {
		br->own_origin++;
		return;
	}
	/* An origin goes into topics: keep it to one evbus segment. */
	if (im.origin && (strlen(im.origin) >= BRIDGE_ORIGIN_MAX ||
			  strpbrk(im.origin, ".*>\"\\ $")))
		im.origin = "unknown";
	im.run = hdr(m, HDR_BRIDGE);
	if (im.run && strlen(im.run) >= sizeof(((struct bridge_peer *)0)->id))
		im.run = NULL;
	im.export = hdr(m, HDR_EXPORT);
	if (im.export && strlen(im.export) >= BRIDGE_SUBJECT_MAX)
		im.export = NULL;
	im.bseq = hdr_u64(m, HDR_BSEQ);
	im.prev = hdr_u64(m, HDR_PREV);
	im.lag = hdr(m, HDR_CAUSE) != NULL;
	im.seq = hdr_u64(m, HDR_SEQ);
	im.last = im.lag ? hdr_u64(m, HDR_LAST) : im.seq;
	if (!im.origin) {
		imp_event(br, &im);
		return;
	}
	if (!imp_track(br, &im))
		return;
	if (im.lag)
		imp_lag_report(br, &im, lag_cause(hdr(m, HDR_CAUSE)), hdr_u64(m, HDR_LOST),
			       hdr_u64(m, HDR_FIRST), im.last);
	else
		imp_event(br, &im);
}

void bridge_import_msg(natsConnection *nc, natsSubscription *sub,
		       natsMsg *msg, void *closure)
{
	struct bridge *br = closure;

	pthread_mutex_lock(&br->imp_lock);
	if (!br->stopping)
		imp_one(br, msg);
	pthread_mutex_unlock(&br->imp_lock);
	natsMsg_Destroy(msg);
}

void bridge_import_free(struct bridge *br)
{
	struct bridge_peer *p;

	while ((p = br->peers)) {
		br->peers = p->next;
		free(p);
	}
}
