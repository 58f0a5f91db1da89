// SPDX-License-Identifier: GPL-2.0
/*
 * The shared vectors (tests/unit/vectors/, written by mkvectors.py), on the
 * C side: topics and patterns against the module's parser and matcher
 * (module/topic.c, with explicit lengths, so NUL bytes count) and through
 * libevbus's evbus_check_topic(), evbus_check_pattern() and evbus_match();
 * record buffers against libevbus's walker.  The Rust and Python bindings
 * check the same files through their own APIs.
 *
 *   vectors_test DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "evbus.h"
#include "topic.h"

static int passed, failed;
static int lineno;
static const char *fname;

#define fail(...)							\
	do {								\
		failed++;						\
		printf("FAIL %s:%d: ", fname, lineno);			\
		printf(__VA_ARGS__);					\
		putchar('\n');						\
	} while (0)

/* Undo \xNN escapes in place; returns the length. */
static size_t unescape(char *s)
{
	char *o = s, *i = s;

	while (*i) {
		if (i[0] == '\\' && i[1] == 'x' && i[2] && i[3]) {
			char hex[3] = { i[2], i[3], 0 };

			*o++ = (char)strtoul(hex, NULL, 16);
			i += 4;
		} else {
			*o++ = *i++;
		}
	}
	*o = 0;
	return (size_t)(o - s);
}

static int field(char **line, char **out, char sep)
{
	char *s = *line, *e;

	if (!s)
		return -1;
	e = strchr(s, sep);
	if (e) {
		*e = 0;
		*line = e + 1;
	} else {
		*line = NULL;
	}
	*out = s;
	return 0;
}

static void topic_line(char *line)
{
	struct evbus_segs segs;
	char *kind, *verdict, *a, *b = NULL;
	size_t alen, blen = 0;
	int want, got, lib;

	if (field(&line, &kind, '\t') || field(&line, &verdict, '\t') ||
	    field(&line, &a, '\t')) {
		fail("short line");
		return;
	}
	if (!strcmp(kind, "match") && field(&line, &b, '\t')) {
		fail("short match line");
		return;
	}
	want = !strcmp(verdict, "ok") || !strcmp(verdict, "yes");
	alen = unescape(a);
	if (b)
		blen = unescape(b);
	if (!strcmp(kind, "topic") || !strcmp(kind, "pattern")) {
		bool pat = kind[0] == 'p';

		got = (pat ? evbus_pattern_parse(a, alen, &segs) :
			     evbus_topic_parse(a, alen, &segs)) == 0;
		/* The library's check sees up to a NUL, which is never valid. */
		lib = (pat ? evbus_check_pattern(a, NULL) : evbus_check_topic(a, NULL)) == 0 &&
		      strlen(a) == alen;
	} else if (!strcmp(kind, "match")) {
		got = !evbus_pattern_parse(a, alen, &segs) &&
		      !evbus_topic_parse(b, blen, &segs) &&
		      evbus_pattern_match(a, alen, b, blen);
		lib = evbus_match(a, b) == 1;
	} else {
		fail("unknown kind %s", kind);
		return;
	}
	if (got != want)
		fail("module: %s should be %s", a, verdict);
	else if (lib != want)
		fail("libevbus: %s should be %s", a, verdict);
	else
		passed++;
}

/* --- records ---------------------------------------------------------------- */

static char *hexbuf_append(char *buf, size_t *len, const char *hex)
{
	size_t n = strlen(hex) / 2, i;

	buf = realloc(buf, *len + n + 8);
	if (!buf)
		exit(2);
	for (i = 0; i < n; i++) {
		char h[3] = { hex[2 * i], hex[2 * i + 1], 0 };

		buf[*len + i] = (char)strtoul(h, NULL, 16);
	}
	*len += n;
	return buf;
}

static void hex_of(const void *p, size_t n, char *out)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", c[i]);
	out[2 * n] = 0;
}

/* The value of key in rec as text, or NULL if the kind has no such key. */
static const char *rec_value(const struct evbus_record *r, const char *key, char *buf)
{
	const struct evbus_event *ev = r->event;
	uint64_t v;

	if (r->kind == EVBUS_REC_REQUEST) {
		const struct evbus_request *rq = evbus_record_request(r);

		ev = EVBUS_REQUEST_EVENT(rq);
		if (!strcmp(key, "approver_id"))
			v = rq->approver_id;
		else if (!strcmp(key, "id"))
			v = rq->id;
		else if (!strcmp(key, "deadline_ns"))
			v = rq->deadline_ns;
		else if (!strcmp(key, "req_flags"))
			v = rq->flags;
		else
			goto event;
		goto num;
	}
	if (r->lagged) {
		const struct evbus_lagged *l = r->lagged;

		if (!strcmp(key, "flags")) v = l->flags;
		else if (!strcmp(key, "lost")) v = l->lost;
		else if (!strcmp(key, "first_seq")) v = l->first_seq;
		else if (!strcmp(key, "last_seq")) v = l->last_seq;
		else return NULL;
		goto num;
	}
	if (r->kind == EVBUS_REC_REVOKED) {
		const struct evbus_revoked *rv = evbus_record_revoked(r);

		if (!strcmp(key, "sub_id")) v = rv->sub_id;
		else if (!strcmp(key, "reason")) v = rv->reason;
		else if (!strcmp(key, "seq")) v = rv->seq;
		else return NULL;
		goto num;
	}
	if (r->kind == EVBUS_REC_CANCELLED) {
		const struct evbus_cancelled *c = evbus_record_cancelled(r);

		if (!strcmp(key, "approver_id")) v = c->approver_id;
		else if (!strcmp(key, "reason")) v = c->reason;
		else if (!strcmp(key, "id")) v = c->id;
		else return NULL;
		goto num;
	}
	if (!ev) {
		if (!strcmp(key, "kind")) v = r->kind;
		else if (!strcmp(key, "len")) v = r->len;
		else return NULL;
		goto num;
	}
event:
	if (!strcmp(key, "topic")) {
		memcpy(buf, r->topic, r->topic_len);
		buf[r->topic_len] = 0;
		return buf;
	}
	if (!strcmp(key, "payload")) {
		hex_of(r->payload, r->payload_len, buf);
		return buf;
	}
	if (!strcmp(key, "seq")) v = ev->seq;
	else if (!strcmp(key, "time_ns")) v = ev->time_ns;
	else if (!strcmp(key, "mono_ns")) v = ev->mono_ns;
	else if (!strcmp(key, "pid")) v = ev->pid;
	else if (!strcmp(key, "tid")) v = ev->tid;
	else if (!strcmp(key, "uid")) v = ev->uid;
	else if (!strcmp(key, "gid")) v = ev->gid;
	else if (!strcmp(key, "type")) v = ev->type;
	else if (!strcmp(key, "flags")) v = ev->flags;
	else if (!strcmp(key, "corr")) v = ev->corr;
	else if (!strcmp(key, "parent")) v = ev->parent;
	else return NULL;
num:
	sprintf(buf, "%" PRIu64, v);
	return buf;
}

static const char *const kind_names[] = {
	[EVBUS_REC_EVENT] = "event", [EVBUS_REC_LAGGED] = "lagged",
	[EVBUS_REC_REVOKED] = "revoked", [EVBUS_REC_REQUEST] = "request",
	[EVBUS_REC_CANCELLED] = "cancelled",
};

/* Check one expected "rec KIND k=v ..." line against the walker's next. */
static int rec_line(struct evbus_rec_iter *it, char *line)
{
	const struct evbus_record *r;
	char *kind, *kv, buf[1100];
	const char *name;
	int ret;

	field(&line, &kind, ' ');
	ret = evbus_records_next(it, &r);
	if (ret) {
		fail("expected a %s record, the walker ended (%s)", kind, strerror(-ret));
		return -1;
	}
	name = r->kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[r->kind] ?
	       kind_names[r->kind] : "unknown";
	if (strcmp(name, kind)) {
		fail("expected %s, got %s", kind, name);
		return -1;
	}
	while (line && !field(&line, &kv, ' ')) {
		char *eq = strchr(kv, '=');
		const char *got;

		if (!eq)
			continue;
		*eq = 0;
		got = rec_value(r, kv, buf);
		if (!strcmp(kv, "topic"))
			unescape(eq + 1);
		if (!got || strcmp(got, eq + 1)) {
			fail("key %s: got %s", kv, got ? got : "(none)");
			return -1;
		}
	}
	return 0;
}

static void records_file(FILE *f)
{
	char *line = NULL, *buf = NULL, *copy = NULL, name[256] = "";
	size_t cap = 0, len = 0;
	struct evbus_rec_iter it;
	int state = 0, bad = 0;	/* 0 none, 1 buf lines, 2 rec lines */

	while (getline(&line, &cap, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "case ", 5)) {
			snprintf(name, sizeof(name), "%s", line + 5);
			len = 0;
			state = 1;
			bad = 0;
		} else if (!strncmp(line, "buf ", 4)) {
			buf = hexbuf_append(buf, &len, line + 4);
		} else if (!strncmp(line, "rec ", 4) || !strncmp(line, "end ", 4)) {
			if (state == 1) {
				/* An 8-aligned copy, as read() buffers are. */
				free(copy);
				if (posix_memalign((void **)&copy, 8, len + 8))
					exit(2);
				memcpy(copy, buf, len);
				evbus_records_init(&it, copy, len);
				state = 2;
			}
			if (line[0] == 'r') {
				bad |= rec_line(&it, line + 4);
				continue;
			}
			if (!bad) {
				const struct evbus_record *r;
				int ret = evbus_records_next(&it, &r);
				int want = !strcmp(line + 4, "ok") ? -ENODATA : -EBADMSG;

				if (ret != want)
					fail("case %s: the walk ended with %s", name,
					     ret ? strerror(-ret) : "a record");
				else
					passed++;
			} else {
				printf("  (in case %s)\n", name);
			}
			state = 0;
		}
	}
	free(line);
	free(buf);
	free(copy);
}

static FILE *open_in(const char *dir, const char *name)
{
	static char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	fname = name;
	lineno = 0;
	return f;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit/vectors";
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	f = open_in(dir, "topics.txt");
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (line[0] && line[0] != '#')
			topic_line(line);
	}
	fclose(f);
	f = open_in(dir, "records.txt");
	records_file(f);
	fclose(f);
	free(line);
	printf("vectors: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
