// SPDX-License-Identifier: GPL-2.0
/*
 * The library keeps one topic parser and one record walker: the module's
 * parser (module/topic.c) and evbus_records_next().  Built with ld --wrap
 * (userlib/lib.mk), this test puts wrappers in front of both: a change of
 * the parser's rules must show in evbus_check_topic()'s verdict and in its
 * explanation, and evbus_read() must hand out what evbus_records_next()
 * decodes.  A second copy of either inside the library would not see the
 * wrappers and fails these tests.  Needs no device: evbus_read() reads a
 * file of records.
 */
#include "lib_test.h"
#include "topic.h"

/* ------------------------------------------------------------- the parser */

/*
 * The rule change the wrappers make, as if the module's parser had been
 * edited: no_q rejects the byte 'q' everywhere; hash_wild makes '#' a
 * third wildcard (a whole segment in patterns, never in topics).
 */
static struct {
	bool no_q;
	bool hash_wild;
} rules;

int __real_evbus_topic_parse(const char *s, size_t len, struct evbus_segs *segs);
int __real_evbus_pattern_parse(const char *s, size_t len, struct evbus_segs *segs);

static int changed_parse(const char *s, size_t len, struct evbus_segs *segs,
			 bool pattern)
{
	char copy[EVBUS_TOPIC_MAX + 1];
	size_t i;

	segs->n = 0;
	if (!s || len > EVBUS_TOPIC_MAX)
		return pattern ? __real_evbus_pattern_parse(s, len, segs)
			       : __real_evbus_topic_parse(s, len, segs);
	if (rules.no_q && memchr(s, 'q', len))
		return -EINVAL;
	memcpy(copy, s, len);
	for (i = 0; i < len && rules.hash_wild; i++) {
		if (copy[i] != '#')
			continue;
		if (!pattern)
			return -EINVAL;
		copy[i] = '*';	/* the same placement rules as '*' */
	}
	return pattern ? __real_evbus_pattern_parse(copy, len, segs)
		       : __real_evbus_topic_parse(copy, len, segs);
}

int __wrap_evbus_topic_parse(const char *s, size_t len, struct evbus_segs *segs)
{
	return changed_parse(s, len, segs, false);
}

int __wrap_evbus_pattern_parse(const char *s, size_t len, struct evbus_segs *segs)
{
	return changed_parse(s, len, segs, true);
}

static void expect_rejected(struct __test_metadata *_metadata, bool pattern,
			    const char *s, const char *rule)
{
	const char *why = NULL;

	EXPECT_EQ(-EINVAL, pattern ? evbus_check_pattern(s, &why)
				   : evbus_check_topic(s, &why)) TH_LOG("'%s'", s);
	ASSERT_NE(NULL, why) TH_LOG("'%s'", s);
	EXPECT_NE(NULL, strstr(why, rule)) TH_LOG("'%s': '%s', wanted '%s'", s, why, rule);
}

TEST(a_new_character_rule_is_explained)
{
	rules.no_q = true;
	EXPECT_EQ(0, evbus_check_topic("app.x1", NULL));
	expect_rejected(_metadata, false, "app.q1", "character");
	expect_rejected(_metadata, true, "app.*.q", "character");
	expect_rejected(_metadata, true, "q.>", "character");
	rules.no_q = false;
	EXPECT_EQ(0, evbus_check_topic("app.q1", NULL));
}

TEST(a_new_wildcard_is_explained)
{
	rules.hash_wild = true;
	EXPECT_EQ(0, evbus_check_pattern("app.#.x", NULL));
	expect_rejected(_metadata, false, "app.#.x", "wildcard");
	expect_rejected(_metadata, true, "app.a#.x", "not a whole segment");
	rules.hash_wild = false;
	expect_rejected(_metadata, true, "app.#.x", "character");
}

/* ------------------------------------------------------------- the walker */

static int walks;

int __real_evbus_records_next(struct evbus_rec_iter *it,
			      const struct evbus_record **rec);

int __wrap_evbus_records_next(struct evbus_rec_iter *it,
			      const struct evbus_record **rec)
{
	walks++;
	return __real_evbus_records_next(it, rec);
}

/* Append an event record at buf + off; returns its length. */
static size_t put_event(unsigned char *buf, size_t off, uint64_t seq,
			const char *topic, const char *payload)
{
	struct evbus_event *ev = (void *)(buf + off);
	size_t len = lt_put_event(ev, topic, payload, strlen(payload));

	ev->seq = seq;
	return len;
}

static size_t put_pad(unsigned char *buf, size_t off, size_t len)
{
	struct evbus_rec_hdr *h = (void *)(buf + off);

	memset(h, 0, len);
	h->len = len;
	h->kind = EVBUS_REC_PAD;
	h->hdr_len = sizeof(*h);
	return len;
}

static size_t put_lagged(unsigned char *buf, size_t off, uint64_t first,
			 uint64_t last)
{
	struct evbus_lagged *lg = (void *)(buf + off);

	memset(lg, 0, sizeof(*lg));
	lg->hdr.len = sizeof(*lg);
	lg->hdr.kind = EVBUS_REC_LAGGED;
	lg->hdr.hdr_len = sizeof(*lg);
	lg->lost = last - first + 1;
	lg->first_seq = first;
	lg->last_seq = last;
	return sizeof(*lg);
}

/* Open a handle whose read() returns the len bytes of buf (a temp file). */
static int open_records(struct evbus **bus, const void *buf, size_t len)
{
	char path[] = "/tmp/evbus-records.XXXXXX";
	int fd = mkstemp(path), ret;
	EVBUS_OPTS(evbus_opts, o, .path = path, .flags = EVBUS_OPEN_RDONLY);

	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	if (!ret)
		ret = evbus_open(bus, &o);
	unlink(path);
	return ret;
}

TEST(evbus_read_walks_with_evbus_records_next)
{
	static uint64_t words[256];
	unsigned char *buf = (void *)words;
	const struct evbus_record *rec, *it_rec;
	struct evbus_rec_iter it;
	struct evbus *bus;
	size_t len = 0;

	len += put_event(buf, len, 7, "a.b", "hello");
	len += put_pad(buf, len, 24);
	len += put_lagged(buf, len, 8, 9);
	len += put_event(buf, len, 10, "a.c", "");
	ASSERT_EQ(0, open_records(&bus, buf, len));
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));

	walks = 0;
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_LT(0, walks) TH_LOG("evbus_read() walked the records by itself");
	ASSERT_EQ(0, evbus_records_next(&it, &it_rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(7, rec->event->seq);
	EXPECT_STREQ("a.b", rec->topic);
	EXPECT_EQ(5, rec->payload_len);
	EXPECT_EQ(0, memcmp(rec->payload, "hello", 5));
	EXPECT_EQ(it_rec->payload_len, rec->payload_len);

	ASSERT_EQ(0, evbus_read(bus, &rec, 0));	/* the PAD is skipped */
	ASSERT_EQ(0, evbus_records_next(&it, &it_rec));
	ASSERT_NE(NULL, rec->lagged);
	EXPECT_EQ(EVBUS_REC_LAGGED, it_rec->kind);
	EXPECT_EQ(2, rec->lagged->lost);

	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	ASSERT_EQ(0, evbus_records_next(&it, &it_rec));
	EXPECT_EQ(10, rec->event->seq);
	EXPECT_EQ(0, rec->payload_len);

	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &it_rec));
	/* The file is used up: read() returns 0, which the device never does. */
	EXPECT_EQ(-EIO, evbus_read(bus, &rec, 0));
	EXPECT_EQ(NULL, rec);
	evbus_close(bus);
}

TEST(evbus_read_rejects_what_the_walker_rejects)
{
	static uint64_t words[256];
	unsigned char *buf = (void *)words;
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	struct evbus_event *ev;
	struct evbus *bus;
	size_t len = 0, second;

	len += put_event(buf, len, 1, "ok", "x");
	second = len;
	len += put_event(buf, len, 2, "bad", "y");
	ev = (void *)(buf + second);
	ev->payload_len = 4096;		/* runs past its record */
	ASSERT_EQ(0, open_records(&bus, buf, len));
	ASSERT_EQ(0, evbus_records_init(&it, buf, len));

	walks = 0;
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(1, rec->event->seq);
	EXPECT_EQ(-EBADMSG, evbus_read(bus, &rec, 0));
	EXPECT_LT(0, walks) TH_LOG("evbus_read() walked the records by itself");
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	evbus_close(bus);
}

TEST_HARNESS_MAIN
