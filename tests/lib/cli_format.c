// SPDX-License-Identifier: GPL-2.0
/*
 * The evbus command's output formats (cli/format.c): UTF-8 validation,
 * JSON string escaping, base64, the human escaping, and whole records.
 * Needs no device.
 */
#include "lib_test.h"
#include "cli.h"

/* Render with fn into a string the caller frees. */
#define RENDER(out, call) do {						\
	size_t render_len_;						\
	FILE *f = open_memstream(&(out), &render_len_);			\
	ASSERT_NE(NULL, f);						\
	call;								\
	ASSERT_EQ(0, fclose(f));					\
} while (0)

TEST(utf8_validation_follows_rfc3629)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "plain ascii", 11, true },
		{ "nul\0inside", 10, true },
		{ "caf\xc3\xa9", 5, true },			/* U+00E9 */
		{ "\xe2\x82\xac", 3, true },			/* U+20AC */
		{ "\xf0\x9f\x98\x80", 4, true },		/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 4, true },		/* U+10FFFF */
		{ "\xff", 1, false },
		{ "\x80", 1, false },				/* lone continuation */
		{ "\xc0\x80", 2, false },			/* overlong NUL */
		{ "\xc1\xbf", 2, false },			/* overlong */
		{ "\xe0\x80\x80", 3, false },			/* overlong */
		{ "\xf0\x80\x80\x80", 4, false },		/* overlong */
		{ "\xed\xa0\x80", 3, false },			/* surrogate D800 */
		{ "\xf4\x90\x80\x80", 4, false },		/* > U+10FFFF */
		{ "\xc3", 1, false },				/* truncated */
		{ "\xe2\x82", 2, false },			/* truncated */
		{ "\xc3\x28", 2, false },			/* bad continuation */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_EQ(cases[i].ok, utf8_valid(cases[i].s, cases[i].len))
			TH_LOG("case %zu", i);
}

TEST(json_strings_are_escaped)
{
	char *out;

	RENDER(out, put_json_str(f, "a\"b\\c\n\t\r\b\f\x01\x1f\x7f/\xc3\xa9", 16));
	EXPECT_STREQ("\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/\xc3\xa9\"", out);
	free(out);
	RENDER(out, put_json_str(f, "x\0y", 3));
	EXPECT_STREQ("\"x\\u0000y\"", out);
	free(out);
}

TEST(base64_matches_rfc4648_vectors)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" }, { "\xff\xfe\x00", "//4A" },
	};
	size_t i;
	char *out;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		RENDER(out, put_base64(f, vec[i][0], i == 7 ? 3 : strlen(vec[i][0])));
		EXPECT_STREQ(vec[i][1], out);
		free(out);
	}
}

TEST(human_text_escapes_controls_and_binary)
{
	char *out;

	RENDER(out, put_text(f, "tab\there \\ caf\xc3\xa9", 16));
	EXPECT_STREQ("tab\\x09here \\\\ caf\xc3\xa9", out);
	free(out);
	RENDER(out, put_text(f, "bin\xff\x00z", 6));
	EXPECT_STREQ("bin\\xff\\x00z", out);
	free(out);
}

/* Build an event record as read() would return it, every field set. */
static size_t make_event(void *buf, const char *topic, const void *payload,
			 size_t plen)
{
	struct evbus_event *ev = buf;
	size_t len = lt_put_event(buf, topic, payload, plen);

	ev->seq = 42;
	ev->time_ns = 1700000000123456789ULL;
	ev->mono_ns = 5;
	ev->pid = 100;
	ev->tid = 101;
	ev->uid = 1000;
	ev->gid = 1001;
	ev->type = 3;
	ev->corr = 18446744073709551615ULL;
	ev->parent = 41;
	return len;
}

/* Decode ev with the library's record walker (all zero if it is malformed). */
static void fill_rec(struct evbus_record *rec, const struct evbus_event *ev)
{
	const struct evbus_record *r;
	struct evbus_rec_iter it;

	memset(rec, 0, sizeof(*rec));
	if (!evbus_records_init(&it, ev, ev->hdr.len) && !evbus_records_next(&it, &r))
		*rec = *r;	/* its pointers point into ev, not into it */
}

TEST(json_records)
{
	uint64_t buf[64];
	struct evbus_record rec;
	struct evbus_lagged lg = {
		.hdr = { .len = sizeof(lg), .kind = EVBUS_REC_LAGGED,
			 .hdr_len = sizeof(lg) },
		.lost = 7, .first_seq = 10, .last_seq = 16,
	};
	char *out;

	make_event(buf, "app.start", "say \"hi\"", 8);
	fill_rec(&rec, (void *)buf);
	RENDER(out, put_record_json(f, &rec));
	EXPECT_STREQ("{\"seq\":42,\"time_ns\":1700000000123456789,\"mono_ns\":5,"
		     "\"topic\":\"app.start\",\"type\":3,\"pid\":100,\"tid\":101,"
		     "\"uid\":1000,\"gid\":1001,\"corr\":18446744073709551615,"
		     "\"parent\":41,\"payload\":\"say \\\"hi\\\"\"}\n", out);
	free(out);

	make_event(buf, "bin", "\xff\x00\x01", 3);
	fill_rec(&rec, (void *)buf);
	RENDER(out, put_record_json(f, &rec));
	EXPECT_NE(NULL, strstr(out, ",\"payload_b64\":\"/wAB\"}\n"));
	EXPECT_EQ(NULL, strstr(out, "\"payload\":"));
	free(out);

	memset(&rec, 0, sizeof(rec));
	rec.kind = EVBUS_REC_LAGGED;
	rec.hdr = &lg.hdr;
	rec.lagged = &lg;
	RENDER(out, put_record_json(f, &rec));
	EXPECT_STREQ("{\"lagged\":7,\"first_seq\":10,\"last_seq\":16}\n", out);
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_STREQ("!! lagged: 7 events lost (seq 10..16)\n", out);
	free(out);
}

TEST(human_records)
{
	uint64_t buf[64];
	struct evbus_record rec;
	char *out;

	setenv("TZ", "UTC", 1);
	tzset();
	make_event(buf, "app.start", "hello world", 11);
	fill_rec(&rec, (void *)buf);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_STREQ("42 2023-11-14 22:13:20.123456 pid=100 uid=1000 type=3 "
		     "corr=18446744073709551615 parent=41 app.start hello world\n", out);
	free(out);
}

/* Replayed, retained and will events, history lags: marked only when flagged. */
TEST(event_and_lag_flags)
{
	uint64_t buf[64];
	struct evbus_record rec;
	struct evbus_event *ev = (void *)buf;
	struct evbus_lagged lg = {
		.hdr = { .len = sizeof(lg), .kind = EVBUS_REC_LAGGED,
			 .hdr_len = sizeof(lg) },
		.flags = EVBUS_LAGGED_HISTORY,
		.lost = 5, .first_seq = 1, .last_seq = 5,
	};
	char *out;

	setenv("TZ", "UTC", 1);
	tzset();
	make_event(buf, "cfg.level", "debug", 5);
	ev->flags = EVBUS_EVENT_REPLAYED;
	fill_rec(&rec, ev);
	RENDER(out, put_record_json(f, &rec));
	EXPECT_STREQ("{\"seq\":42,\"time_ns\":1700000000123456789,\"mono_ns\":5,"
		     "\"topic\":\"cfg.level\",\"type\":3,\"pid\":100,\"tid\":101,"
		     "\"uid\":1000,\"gid\":1001,\"corr\":18446744073709551615,"
		     "\"parent\":41,\"replayed\":true,\"payload\":\"debug\"}\n", out);
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_STREQ("42 2023-11-14 22:13:20.123456 pid=100 uid=1000 type=3 "
		     "corr=18446744073709551615 parent=41 replayed cfg.level debug\n", out);
	free(out);

	ev->flags = EVBUS_EVENT_RETAINED;
	RENDER(out, put_record_json(f, &rec));
	EXPECT_NE(NULL, strstr(out, ",\"parent\":41,\"retained\":true,\"payload\":"));
	EXPECT_EQ(NULL, strstr(out, "replayed"));
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_NE(NULL, strstr(out, " parent=41 retained cfg.level debug\n"));
	free(out);

	/* A last will: a word of its own, no number. */
	ev->flags = EVBUS_EVENT_WILL;
	RENDER(out, put_record_json(f, &rec));
	EXPECT_NE(NULL, strstr(out, ",\"parent\":41,\"will\":true,\"payload\":"));
	EXPECT_EQ(NULL, strstr(out, "flags"));
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_NE(NULL, strstr(out, " parent=41 will cfg.level debug\n"));
	free(out);

	/* A bit this tool does not know: shown as a number, the rest as words. */
	ev->flags = EVBUS_EVENT_REPLAYED | (1U << 7);
	RENDER(out, put_record_json(f, &rec));
	EXPECT_NE(NULL, strstr(out, ",\"replayed\":true,\"flags\":129,\"payload\":"));
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_NE(NULL, strstr(out, " replayed flags=0x81 cfg.level "));
	free(out);

	/* No flags: nothing added (the existing shape). */
	ev->flags = 0;
	RENDER(out, put_record_json(f, &rec));
	EXPECT_EQ(NULL, strstr(out, "replayed"));
	EXPECT_EQ(NULL, strstr(out, "retained"));
	EXPECT_EQ(NULL, strstr(out, "flags"));
	free(out);

	memset(&rec, 0, sizeof(rec));
	rec.kind = EVBUS_REC_LAGGED;
	rec.hdr = &lg.hdr;
	rec.lagged = &lg;
	RENDER(out, put_record_json(f, &rec));
	EXPECT_STREQ("{\"lagged\":5,\"first_seq\":1,\"last_seq\":5,\"history\":true}\n", out);
	free(out);
	RENDER(out, put_record_human(f, &rec));
	EXPECT_STREQ("!! lagged: 5 events lost (seq 1..5), no longer in the history\n", out);
	free(out);
}

TEST_HARNESS_MAIN
