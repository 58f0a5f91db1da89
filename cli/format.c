// SPDX-License-Identifier: GPL-2.0
/*
 * Rendering records: JSON Lines for programs, one readable line per record
 * for people.  Payloads are bytes; JSON gets them as a string only when they
 * are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), otherwise as base64 in "payload_b64".
 */
#include <inttypes.h>
#include <time.h>

#include "cli.h"

/* Length of the UTF-8 sequence at p (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;	/* continuation byte, 0xc0/0xc1 or 0xf5.. */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* A JSON string; buf must be valid UTF-8 (bytes >= 0x80 are copied as is). */
void put_json_str(FILE *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		switch (c) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

void put_base64(FILE *f, const void *buf, size_t len)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];

		fputc(tbl[v >> 18], f);
		fputc(tbl[(v >> 12) & 63], f);
		fputc(tbl[(v >> 6) & 63], f);
		fputc(tbl[v & 63], f);
	}
	if (len - i == 1) {
		fputc(tbl[p[i] >> 2], f);
		fputc(tbl[(p[i] & 3) << 4], f);
		fputs("==", f);
	} else if (len - i == 2) {
		uint32_t v = p[i] << 8 | p[i + 1];

		fputc(tbl[v >> 10], f);
		fputc(tbl[(v >> 4) & 63], f);
		fputc(tbl[(v & 15) << 2], f);
		fputc('=', f);
	}
}

/*
 * A payload on one line for people: valid UTF-8 text is shown as it is,
 * except that control characters and backslashes are escaped; anything
 * else (binary) is shown with every non-printable byte as \xNN.
 */
void put_text(FILE *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	bool text = utf8_valid(buf, len);
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !text))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

/* The event flags this tool names; the modifier's id is in the top half. */
#define EVENT_FLAGS_KNOWN	(EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED | \
				 EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED | \
				 EVBUS_EVENT_WILL | 0xffff0000U)

/*
 * An event's flags, only when set (a live event prints as it always did):
 * ,"replayed":true ,"retained":true ,"approved":true ,"modified":true
 * ,"modifier":ID ,"will":true, and any bit this tool does not know as ,"<key>":N (the
 * whole value; key "flags", or "event_flags" inside a request, whose own
 * flags are "flags").
 */
static void put_event_flags_json(FILE *f, uint32_t flags, const char *key)
{
	if (flags & EVBUS_EVENT_REPLAYED)
		fputs(",\"replayed\":true", f);
	if (flags & EVBUS_EVENT_RETAINED)
		fputs(",\"retained\":true", f);
	if (flags & EVBUS_EVENT_APPROVED)
		fputs(",\"approved\":true", f);
	if (flags & EVBUS_EVENT_MODIFIED)
		fprintf(f, ",\"modified\":true,\"modifier\":%u",
			EVBUS_EVENT_MODIFIER(flags));
	if (flags & EVBUS_EVENT_WILL)
		fputs(",\"will\":true", f);
	if ((flags & ~EVENT_FLAGS_KNOWN) ||
	    (!(flags & EVBUS_EVENT_MODIFIED) && (flags & 0xffff0000U)))
		fprintf(f, ",\"%s\":%u", key, flags);
}

/*
 * The fields of event ev, whose topic and payload rec points at, after
 * "seq" (an event record, or the one a request carries).
 */
static void put_event_fields_json(FILE *f, const struct evbus_event *ev,
				  const struct evbus_record *rec,
				  const char *flags_key)
{
	fprintf(f, ",\"time_ns\":%" PRIu64 ",\"mono_ns\":%" PRIu64 ",\"topic\":",
		(uint64_t)ev->time_ns, (uint64_t)ev->mono_ns);
	put_json_str(f, rec->topic, rec->topic_len);
	fprintf(f, ",\"type\":%u,\"pid\":%u,\"tid\":%u,\"uid\":%u,\"gid\":%u"
		",\"corr\":%" PRIu64 ",\"parent\":%" PRIu64,
		ev->type, ev->pid, ev->tid, ev->uid, ev->gid,
		(uint64_t)ev->corr, (uint64_t)ev->parent);
	put_event_flags_json(f, ev->flags, flags_key);
	if (utf8_valid(rec->payload, rec->payload_len)) {
		fputs(",\"payload\":", f);
		put_json_str(f, rec->payload, rec->payload_len);
	} else {
		fputs(",\"payload_b64\":\"", f);
		put_base64(f, rec->payload, rec->payload_len);
		fputc('"', f);
	}
}

/*
 * A request to this approver: its id, the approver asked, its flags (and
 * "mandatory":true for a policy's ask), its deadline on CLOCK_MONOTONIC,
 * then the event's fields as for an event (seq is 0 until published).
 */
static void put_request_json(FILE *f, const struct evbus_record *rec)
{
	const struct evbus_request *rq = evbus_record_request(rec);

	fprintf(f, "{\"id\":%" PRIu64 ",\"approver_id\":%u,\"flags\":%u%s"
		",\"deadline_ns\":%" PRIu64 ",\"seq\":%" PRIu64,
		(uint64_t)rq->id, rq->approver_id, rq->flags,
		rq->flags & EVBUS_REQ_MANDATORY ? ",\"mandatory\":true" : "",
		(uint64_t)rq->deadline_ns, (uint64_t)EVBUS_REQUEST_EVENT(rq)->seq);
	put_event_fields_json(f, EVBUS_REQUEST_EVENT(rq), rec, "event_flags");
	fputs("}\n", f);
}

/* EVBUS_CANCEL_* as a word. */
const char *cancel_reason_name(uint32_t reason)
{
	switch (reason) {
	case EVBUS_CANCEL_WITHDRAWN:
		return "withdrawn";
	case EVBUS_CANCEL_EXPIRED:
		return "expired";
	default:
		return "unknown";
	}
}

static void put_event_json(FILE *f, const struct evbus_record *rec)
{
	const struct evbus_event *ev = rec->event;

	fprintf(f, "{\"seq\":%" PRIu64, (uint64_t)ev->seq);
	put_event_fields_json(f, ev, rec, "flags");
	fputs("}\n", f);
}

/* EVBUS_DENY_* as a word: "rule", "default", "scope", "reserved". */
const char *deny_cause_name(uint32_t cause)
{
	switch (cause) {
	case EVBUS_DENY_RULE:
		return "rule";
	case EVBUS_DENY_DEFAULT:
		return "default";
	case EVBUS_DENY_SCOPE:
		return "scope";
	case EVBUS_DENY_RESERVED:
		return "reserved";
	default:
		return "unknown";
	}
}

void put_record_json(FILE *f, const struct evbus_record *rec)
{
	const struct evbus_revoked *rv = evbus_record_revoked(rec);
	const struct evbus_cancelled *cn = evbus_record_cancelled(rec);
	const struct evbus_lagged *lg = rec->lagged;

	if (rec->event) {
		put_event_json(f, rec);
	} else if (evbus_record_request(rec)) {
		put_request_json(f, rec);
	} else if (cn) {
		fprintf(f, "{\"cancelled\":%" PRIu64 ",\"approver_id\":%u"
			",\"reason\":\"%s\"}\n", (uint64_t)cn->id,
			cn->approver_id, cancel_reason_name(cn->reason));
	} else if (lg) {
		fprintf(f, "{\"lagged\":%" PRIu64 ",\"first_seq\":%" PRIu64
			",\"last_seq\":%" PRIu64 "%s}\n", (uint64_t)lg->lost,
			(uint64_t)lg->first_seq, (uint64_t)lg->last_seq,
			lg->flags & EVBUS_LAGGED_HISTORY ? ",\"history\":true" : "");
	} else if (rv) {
		fprintf(f, "{\"revoked\":%u,\"reason\":\"%s\",\"seq\":%" PRIu64
			"}\n", rv->sub_id, deny_cause_name(rv->reason),
			(uint64_t)rv->seq);
	}
}

static void put_time(FILE *f, uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char buf[32];

	if (!localtime_r(&sec, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, sizeof(buf), "@%lld", (long long)sec);
	fprintf(f, "%s.%06u", buf, (unsigned int)(ns % 1000000000 / 1000));
}

/*
 *   42 2025-01-31 12:00:00.123456 pid=812 uid=1000 app.start hello
 *   7 2025-01-31 11:59:00.000001 pid=812 uid=1000 replayed app.start hi
 *   !! lagged: 17 events lost (seq 43..59)
 *   !! lagged: 5 events lost (seq 1..5), no longer in the history
 *   !! revoked: subscription 3 (by a rule) after seq 60
 *   ?? request 9 to approver 1, 1.500 s left: pid=812 uid=1000 tool.run ls
 *   !! cancelled: request 9 to approver 1 (expired)
 */
void put_record_human(FILE *f, const struct evbus_record *rec)
{
	const struct evbus_revoked *rv = evbus_record_revoked(rec);
	const struct evbus_cancelled *cn = evbus_record_cancelled(rec);
	const struct evbus_request *rq = evbus_record_request(rec);
	const struct evbus_event *ev = rec->event;
	const struct evbus_lagged *lg = rec->lagged;

	if (cn) {
		fprintf(f, "!! cancelled: request %" PRIu64 " to approver %u (%s)\n",
			(uint64_t)cn->id, cn->approver_id,
			cancel_reason_name(cn->reason));
		return;
	}
	if (rq) {
		struct timespec ts;
		long long left;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = (long long)(rq->deadline_ns -
				   ((uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec)) / 1000000;
		ev = EVBUS_REQUEST_EVENT(rq);
		fprintf(f, "?? request %" PRIu64 " to approver %u%s, %lld.%03lld s left: pid=%u uid=%u",
			(uint64_t)rq->id, rq->approver_id,
			rq->flags & EVBUS_REQ_MANDATORY ? " (mandatory)" : "",
			left > 0 ? left / 1000 : 0, left > 0 ? left % 1000 : 0,
			ev->pid, ev->uid);
		if (ev->type)
			fprintf(f, " type=%u", ev->type);
		fprintf(f, " %s ", rec->topic);
		put_text(f, rec->payload, rec->payload_len);
		fputc('\n', f);
		return;
	}
	if (rv) {
		fprintf(f, "!! revoked: subscription %u (by %s%s) after seq %" PRIu64
			"\n", rv->sub_id,
			rv->reason == EVBUS_DENY_RULE ? "a " : "the policy's ",
			deny_cause_name(rv->reason), (uint64_t)rv->seq);
		return;
	}

	if (lg) {
		fprintf(f, "!! lagged: %" PRIu64 " event%s lost (seq %" PRIu64
			"..%" PRIu64 ")%s\n", (uint64_t)lg->lost,
			lg->lost == 1 ? "" : "s", (uint64_t)lg->first_seq,
			(uint64_t)lg->last_seq, lg->flags & EVBUS_LAGGED_HISTORY ?
			", no longer in the history" : "");
		return;
	}
	if (!ev)
		return;
	fprintf(f, "%" PRIu64 " ", (uint64_t)ev->seq);
	put_time(f, ev->time_ns);
	fprintf(f, " pid=%u uid=%u", ev->pid, ev->uid);
	if (ev->type)
		fprintf(f, " type=%u", ev->type);
	if (ev->corr)
		fprintf(f, " corr=%" PRIu64, (uint64_t)ev->corr);
	if (ev->parent)
		fprintf(f, " parent=%" PRIu64, (uint64_t)ev->parent);
	if (ev->flags & EVBUS_EVENT_REPLAYED)
		fputs(" replayed", f);
	if (ev->flags & EVBUS_EVENT_RETAINED)
		fputs(" retained", f);
	if (ev->flags & EVBUS_EVENT_APPROVED)
		fputs(" approved", f);
	if (ev->flags & EVBUS_EVENT_MODIFIED)
		fprintf(f, " modified-by=%u", EVBUS_EVENT_MODIFIER(ev->flags));
	if (ev->flags & EVBUS_EVENT_WILL)
		fputs(" will", f);
	if ((ev->flags & ~EVENT_FLAGS_KNOWN) ||
	    (!(ev->flags & EVBUS_EVENT_MODIFIED) && (ev->flags & 0xffff0000U)))
		fprintf(f, " flags=0x%x", ev->flags);
	fprintf(f, " %s ", rec->topic);
	put_text(f, rec->payload, rec->payload_len);
	fputc('\n', f);
}

/*
 * The name of one EVBUS_FEAT_* bit from the uapi header's one table
 * (EVBUS_FEAT_NAMES, beside the bits), or NULL.  A bit named twice does
 * not compile (a duplicate case).
 */
const char *feature_name(uint64_t bit)
{
	switch (bit) {
#define FEATURE_CASE(feat, name) case feat: return name;
	EVBUS_FEAT_NAMES(FEATURE_CASE)
#undef FEATURE_CASE
	}
	return NULL;
}

/*
 * Feature bits as "0x1f publish batch ...".  Bits a newer module reports
 * and this header does not name come last, as "(unknown: 0x...)".
 */
void put_features(FILE *f, uint64_t features)
{
	uint64_t unknown = 0;
	unsigned int i;

	fprintf(f, "0x%" PRIx64, features);
	for (i = 0; i < 64; i++) {
		uint64_t bit = 1ULL << i;

		if (!(features & bit))
			continue;
		if (feature_name(bit))
			fprintf(f, " %s", feature_name(bit));
		else
			unknown |= bit;
	}
	if (unknown)
		fprintf(f, " (unknown: 0x%" PRIx64 ")", unknown);
}
