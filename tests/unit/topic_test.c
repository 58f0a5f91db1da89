// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test for module/topic.c.  Every expectation is written out by
 * hand; nothing is derived from the code under test.
 *
 *   gcc -Wall -Wextra -Werror -O2 -I uapi -I module \
 *       module/topic.c tests/unit/topic_test.c -o topic_test
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

static int passed, failed;

static void check(int ok, const char *what, const char *detail, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL line %d: %s: \"%s\"\n", line, what, detail);
}

/* Printable copy of a buffer for messages. */
static const char *show(const char *s, size_t len)
{
	static char buf[4][1100];
	static int which;
	char *out = buf[which++ & 3];
	size_t i, o = 0;

	for (i = 0; i < len && o < sizeof(buf[0]) - 5; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", c);
	}
	out[o] = 0;
	return out;
}

#define TOPIC_OK(s, n)	check(evbus_topic_parse(s, n, &sg) == 0, \
			      "topic should be valid", show(s, n), __LINE__)
#define TOPIC_BAD(s, n)	check(evbus_topic_parse(s, n, &sg) == -EINVAL, \
			      "topic should be invalid", show(s, n), __LINE__)
#define PAT_OK(s, n)	check(evbus_pattern_parse(s, n, &sg) == 0, \
			      "pattern should be valid", show(s, n), __LINE__)
#define PAT_BAD(s, n)	check(evbus_pattern_parse(s, n, &sg) == -EINVAL, \
			      "pattern should be invalid", show(s, n), \
			      __LINE__)
#define T_OK(s)		TOPIC_OK(s, strlen(s))
#define T_BAD(s)	TOPIC_BAD(s, strlen(s))
#define P_OK(s)		PAT_OK(s, strlen(s))
#define P_BAD(s)	PAT_BAD(s, strlen(s))

/* Valid in both topics and patterns, or in neither. */
#define BOTH_OK(s)	do { T_OK(s); P_OK(s); } while (0)
#define BOTH_BAD(s)	do { T_BAD(s); P_BAD(s); } while (0)

static struct evbus_segs sg;

static void test_chars(void)
{
	static const char allowed[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz"
		"0123456789_-:";
	char buf[3];
	int c;

	/* Each allowed class on its own and inside a segment. */
	BOTH_OK("A"); BOTH_OK("Z"); BOTH_OK("a"); BOTH_OK("z");
	BOTH_OK("0"); BOTH_OK("9"); BOTH_OK("_"); BOTH_OK("-"); BOTH_OK(":");
	BOTH_OK("Abc_09-x:y");
	BOTH_OK("host-1:eth0.rx_bytes");
	BOTH_OK("---.___.:::");

	/* Neighbours of the allowed ranges. */
	BOTH_BAD("@"); BOTH_BAD("["); BOTH_BAD("`"); BOTH_BAD("{");
	BOTH_BAD("/"); BOTH_BAD(";"); BOTH_BAD(","); BOTH_BAD("^");
	/* Other forbidden classes. */
	BOTH_BAD("a b"); BOTH_BAD(" a"); BOTH_BAD("a "); BOTH_BAD("a\tb");
	BOTH_BAD("a\nb"); BOTH_BAD("a/b"); BOTH_BAD("a#b"); BOTH_BAD("a+b");
	BOTH_BAD("a$b"); BOTH_BAD("a~b"); BOTH_BAD("a\x7f");
	BOTH_BAD("caf\xc3\xa9"); BOTH_BAD("a\x80"); BOTH_BAD("\xff");
	TOPIC_BAD("a\0b", 3); PAT_BAD("a\0b", 3);
	TOPIC_BAD("\0", 1); PAT_BAD("\0", 1);
	TOPIC_BAD("ab\0", 3); PAT_BAD("ab\0", 3);
	/* Wildcards are not topic characters. */
	T_BAD("*"); T_BAD(">"); T_BAD("a.*"); T_BAD("a.>"); T_BAD("a*");

	/* Exhaustive: every byte as a one-byte segment "x<c>" and alone. */
	for (c = 0; c < 256; c++) {
		int ok = c != 0 && memchr(allowed, c, sizeof(allowed) - 1);

		buf[0] = 'x';
		buf[1] = (char)c;
		if (c == '.')
			continue;
		check((evbus_topic_parse(buf, 2, &sg) == 0) == ok,
		      "byte class (topic)", show(buf, 2), __LINE__);
		check((evbus_pattern_parse(buf, 2, &sg) == 0) == ok,
		      "byte class (pattern)", show(buf, 2), __LINE__);
		buf[0] = (char)c;
		check((evbus_topic_parse(buf, 1, &sg) == 0) == ok,
		      "single byte (topic)", show(buf, 1), __LINE__);
		check((evbus_pattern_parse(buf, 1, &sg) == 0) ==
		      (ok || c == '*' || c == '>'),
		      "single byte (pattern)", show(buf, 1), __LINE__);
	}
}

static void test_dots(void)
{
	BOTH_BAD(".");
	BOTH_BAD("..");
	BOTH_BAD(".a");
	BOTH_BAD("a.");
	BOTH_BAD("a..b");
	BOTH_BAD(".a.b");
	BOTH_BAD("a.b.");
	BOTH_BAD("a...b");
	P_BAD(".*");
	P_BAD("*.");
	P_BAD("a..>");
	P_BAD(".>");
	P_BAD(">.");
	TOPIC_BAD("", 0);
	PAT_BAD("", 0);
	TOPIC_BAD(NULL, 0);
	BOTH_OK("a.b");
	BOTH_OK("a.b.c.d");
}

static void test_length(void)
{
	char buf[300];

	/* One segment of 255 / 256 bytes. */
	memset(buf, 'a', sizeof(buf));
	TOPIC_OK(buf, 255);
	PAT_OK(buf, 255);
	TOPIC_BAD(buf, 256);
	PAT_BAD(buf, 256);
	TOPIC_BAD(buf, 299);
	TOPIC_OK(buf, 1);
	TOPIC_BAD(buf, (size_t)-1);

	/* Several segments, last byte at offset 254 / 255. */
	memset(buf, 'b', sizeof(buf));
	buf[100] = '.';
	buf[200] = '.';
	TOPIC_OK(buf, 255);
	check(sg.n == 3 && sg.off[2] == 201 && sg.len[2] == 54,
	      "segs of 255-byte topic", "", __LINE__);
	TOPIC_BAD(buf, 256);

	/* A 255-byte pattern ending in ">". */
	buf[253] = '.';
	buf[254] = '>';
	PAT_OK(buf, 255);
	check(sg.n == 4 && sg.off[3] == 254 && sg.len[3] == 1 &&
	      evbus_seg_kind(buf, &sg, 3) == EVBUS_SEG_GT,
	      "segs of 255-byte pattern", "", __LINE__);
	TOPIC_BAD(buf, 255);
	buf[255] = 'x';
	PAT_BAD(buf, 256);
}

static void test_segments(void)
{
	/* 20 one-byte segments are 39 bytes, 21 are 41. */
	static const char s20[] = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t";
	static const char s21[] = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u";
	static const char p20[] = "*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.>";
	static const char p21[] = "*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.>";
	char buf[300];
	int i;

	T_OK(s20);
	check(sg.n == 20 && sg.off[19] == 38 && sg.len[19] == 1,
	      "20 segments", s20, __LINE__);
	P_OK(s20);
	T_BAD(s21);
	P_BAD(s21);
	P_OK(p20);
	check(sg.n == 20, "20 pattern segments", p20, __LINE__);
	P_BAD(p21);

	/* 20 / 21 segments of 11 bytes plus a dot: 239 / 251 bytes. */
	memset(buf, 'x', sizeof(buf));
	for (i = 1; i <= 21; i++)
		buf[i * 12 - 1] = '.';
	TOPIC_OK(buf, 20 * 12 - 1);
	check(sg.n == 20 && sg.off[19] == 228 && sg.len[19] == 11,
	      "20 long segments", "", __LINE__);
	TOPIC_BAD(buf, 21 * 12 - 1);
	PAT_BAD(buf, 21 * 12 - 1);

	/* Segmentation details. */
	T_OK("ab.c.def");
	check(sg.n == 3 && sg.off[0] == 0 && sg.len[0] == 2 &&
	      sg.off[1] == 3 && sg.len[1] == 1 &&
	      sg.off[2] == 5 && sg.len[2] == 3,
	      "segs of ab.c.def", "", __LINE__);
	T_OK("x");
	check(sg.n == 1 && sg.off[0] == 0 && sg.len[0] == 1,
	      "segs of x", "", __LINE__);
	T_BAD("a..b");
	check(sg.n == 0, "segs->n reset on error", "a..b", __LINE__);
}

static void test_wildcards(void)
{
	static const char *p = "app.*.x.>";

	P_OK("*");
	P_OK(">");
	P_OK("*.*");
	P_OK("*.>");
	P_OK("app.*.input");
	P_OK("app.v1.lifecycle.>");
	P_OK("*.a.*");
	P_OK("a.*.*.>");

	P_BAD("ab*");
	P_BAD("*ab");
	P_BAD("a*b");
	P_BAD("a>");
	P_BAD(">a");
	P_BAD("**");
	P_BAD(">>");
	P_BAD("*>");
	P_BAD(">*");
	P_BAD("a.b*");
	P_BAD("a.>b");
	P_BAD(">.a");
	P_BAD(">.*");
	P_BAD(">.>");
	P_BAD("a.>.b");
	P_BAD("a.>.>");
	P_BAD("* ");
	P_BAD("a.* ");

	P_OK(p);
	check(sg.n == 4 &&
	      evbus_seg_kind(p, &sg, 0) == EVBUS_SEG_LITERAL &&
	      evbus_seg_kind(p, &sg, 1) == EVBUS_SEG_STAR &&
	      evbus_seg_kind(p, &sg, 2) == EVBUS_SEG_LITERAL &&
	      evbus_seg_kind(p, &sg, 3) == EVBUS_SEG_GT,
	      "seg kinds", p, __LINE__);
	check(!evbus_pattern_is_literal(p, &sg), "not literal", p, __LINE__);

	P_OK("a.b.c");
	check(evbus_pattern_is_literal("a.b.c", &sg), "literal", "a.b.c",
	      __LINE__);
	P_OK(">");
	check(!evbus_pattern_is_literal(">", &sg), "not literal", ">",
	      __LINE__);
	P_OK("a.*");
	check(!evbus_pattern_is_literal("a.*", &sg), "not literal", "a.*",
	      __LINE__);
	P_OK("x:y.-");
	check(evbus_pattern_is_literal("x:y.-", &sg) &&
	      evbus_seg_kind("x:y.-", &sg, 1) == EVBUS_SEG_LITERAL,
	      "one-byte literal", "x:y.-", __LINE__);
}

static const struct {
	const char *pat, *topic;
	int match;
} match_cases[] = {
	{ "app.*.input", "app.x.input", 1 },
	{ "app.*.input", "app.longer_seg.input", 1 },
	{ "app.*.input", "app.x.y.input", 0 },
	{ "app.*.input", "app.input", 0 },
	{ "app.*.input", "app.x.inputs", 0 },
	{ "app.*.input", "app.x.inpu", 0 },
	{ "app.*.input", "ap.x.input", 0 },
	{ "app.*.input", "app.x.input.z", 0 },
	{ "a.>", "a", 0 },
	{ "a.>", "a.b", 1 },
	{ "a.>", "a.b.c", 1 },
	{ "a.>", "ab.c", 0 },
	{ "a.>", "b.a", 0 },
	{ "a.b.>", "a.b", 0 },
	{ "a.b.>", "a.b.c", 1 },
	{ "a.b.>", "a.c.c", 0 },
	{ "app.v1.lifecycle.>", "app.v1.lifecycle.start", 1 },
	{ "app.v1.lifecycle.>", "app.v1.lifecycle", 0 },
	{ "app.v1.lifecycle.>", "app.v2.lifecycle.start", 0 },
	{ ">", "x", 1 },
	{ ">", "x.y", 1 },
	{ ">", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t", 1 },
	{ "*", "x", 1 },
	{ "*", "x.y", 0 },
	{ "*", "xyz", 1 },
	{ "*.*", "x.y", 1 },
	{ "*.*", "x", 0 },
	{ "*.*", "x.y.z", 0 },
	{ "*.>", "x", 0 },
	{ "*.>", "x.y", 1 },
	{ "*.>", "x.y.z", 1 },
	{ "*.b", "a.b", 1 },
	{ "*.b", "a.c", 0 },
	{ "a.*", "a.b", 1 },
	{ "a.*", "a", 0 },
	{ "a.*", "b.b", 0 },
	{ "*.a.*", "x.a.y", 1 },
	{ "*.a.*", "x.b.y", 0 },
	{ "a.*.*.>", "a.b.c", 0 },
	{ "a.*.*.>", "a.b.c.d", 1 },
	{ "a.*.*.>", "a.b.c.d.e.f", 1 },
	{ "a", "a", 1 },
	{ "a", "b", 0 },
	{ "a", "A", 0 },
	{ "a", "aa", 0 },
	{ "aa", "a", 0 },
	{ "a", "a.b", 0 },
	{ "a.b", "a", 0 },
	{ "a.b", "a.b", 1 },
	{ "a.b", "a.bc", 0 },
	{ "a.bc", "a.b", 0 },
	{ "a.b", "ab", 0 },
	{ "ab", "a.b", 0 },
	{ "x:1.y-2.z_3", "x:1.y-2.z_3", 1 },
	{ "x:1.y-2.z_3", "x:1.y-2.z_4", 0 },
};

static void test_match(void)
{
	size_t i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const char *p = match_cases[i].pat, *t = match_cases[i].topic;
		char msg[600];
		int got;

		/* The table itself must hold only valid inputs. */
		P_OK(p);
		T_OK(t);
		got = evbus_pattern_match(p, strlen(p), t, strlen(t));
		snprintf(msg, sizeof(msg), "%s vs %s: expected %s", p, t,
			 match_cases[i].match ? "match" : "no match");
		check(got == match_cases[i].match, "pattern_match", msg,
		      __LINE__);
	}
}

static void test_match_limits(void)
{
	char t[300], p[300];

	/* Must not read past plen / tlen: buffers continue with more text. */
	check(evbus_pattern_match("a.bXX", 3, "a.bYY", 3), "bounded match",
	      "a.b", __LINE__);
	check(!evbus_pattern_match("a.b.c", 3, "a.b.c", 5), "bounded match",
	      "a.b vs a.b.c", __LINE__);
	check(evbus_pattern_match("a.*.c", 3, "a.b.d", 3), "bounded match",
	      "a.* vs a.b", __LINE__);
	check(!evbus_pattern_match("a.>", 3, "a.b", 1), "bounded match",
	      "a.> vs a", __LINE__);

	/* 255-byte topic. */
	memset(t, 'q', sizeof(t));
	t[127] = '.';
	memcpy(p, t, sizeof(p));
	check(evbus_pattern_match(p, 255, t, 255), "255 literal", "",
	      __LINE__);
	p[254] = 'r';
	check(!evbus_pattern_match(p, 255, t, 255), "255 literal diff", "",
	      __LINE__);
	check(evbus_pattern_match("q.*", 3, t, 255) == 0, "q.* vs long", "",
	      __LINE__);
	p[128] = '*';
	check(evbus_pattern_match(p, 129, t, 255), "prefix.* vs long", "",
	      __LINE__);
	p[128] = '>';
	check(evbus_pattern_match(p, 129, t, 255), "prefix.> vs long", "",
	      __LINE__);
}

static void test_hash(void)
{
	unsigned int h1, h2, h3, h4, h5;
	unsigned int bits;
	int i, diff_total = 0;

	h1 = evbus_hash(0, "abc", 3);
	h2 = evbus_hash(0, "abc", 3);
	h3 = evbus_hash(1, "abc", 3);
	h4 = evbus_hash(0, "abd", 3);
	h5 = evbus_hash(0, "abcX", 3);
	check(h1 == h2, "hash deterministic", "abc", __LINE__);
	check(h1 != h3, "hash depends on seed", "abc", __LINE__);
	check(h1 != h4, "hash depends on bytes", "abc/abd", __LINE__);
	check(h1 == h5, "hash reads only len bytes", "abc", __LINE__);
	check(evbus_hash(0, "", 0) != evbus_hash(0, "\0", 1),
	      "hash depends on len", "", __LINE__);
	check(evbus_hash(0, "ab", 2) != evbus_hash(0, "ba", 2),
	      "hash depends on order", "ab/ba", __LINE__);

	/* Avalanche: flipping one seed bit flips about half the output. */
	for (i = 0; i < 32; i++) {
		bits = evbus_hash(0x1234u, "seg", 3) ^
		       evbus_hash(0x1234u ^ (1u << i), "seg", 3);
		diff_total += __builtin_popcount(bits);
	}
	check(diff_total > 32 * 10 && diff_total < 32 * 22,
	      "hash avalanche on seed", "", __LINE__);
}

/* "$sys" is the only place '$' may appear, and only as the first segment. */
static void test_sys(void)
{
	BOTH_OK("$sys"); BOTH_OK("$sys.file.open"); P_OK("$sys.>");
	P_OK("$sys.*.open");
	check(evbus_topic_parse("$sys.a", 6, &sg) == 0 && sg.sys,
	      "sys flag set", "$sys.a", __LINE__);
	check(evbus_topic_parse("sys.a", 5, &sg) == 0 && !sg.sys,
	      "sys flag clear", "sys.a", __LINE__);
	BOTH_BAD("$"); BOTH_BAD("$sy"); BOTH_BAD("$sysx"); BOTH_BAD("$SYS");
	BOTH_BAD("a.$sys"); BOTH_BAD("$sys.$sys"); BOTH_BAD("$sys$");
	BOTH_BAD("x$sys"); BOTH_BAD("$sys.a$"); P_BAD("$*"); P_BAD("$>");
}

static int within(const char *p, const char *a)
{
	struct evbus_segs ps, as;

	if (evbus_pattern_parse(p, strlen(p), &ps) ||
	    evbus_pattern_parse(a, strlen(a), &as))
		return -1;
	return evbus_pattern_within(p, &ps, a, &as);
}

static int overlap(const char *p, const char *a)
{
	struct evbus_segs ps, as;
	int r1, r2;

	if (evbus_pattern_parse(p, strlen(p), &ps) ||
	    evbus_pattern_parse(a, strlen(a), &as))
		return -1;
	r1 = evbus_pattern_overlap(p, &ps, a, &as);
	r2 = evbus_pattern_overlap(a, &as, p, &ps);
	return r1 == r2 ? r1 : -2;	/* symmetric, or a bug */
}

#define WITHIN(p, a, want) check(within(p, a) == (want), \
				 want ? "should be within" : "should not be within", \
				 p " in " a, __LINE__)
#define OVERLAP(p, a, want) check(overlap(p, a) == (want), \
				  want ? "should overlap" : "should not overlap", \
				  p " and " a, __LINE__)

static void test_relations(void)
{
	WITHIN("a.b", "a.b", 1); WITHIN("a.b", "a.*", 1); WITHIN("a.b", "a.>", 1);
	WITHIN("a.b", ">", 1); WITHIN("a.b.c", "a.>", 1); WITHIN("a.*", "a.>", 1);
	WITHIN("a.>", "a.>", 1); WITHIN("a.*.c", "a.>", 1);
	WITHIN("a.*", "a.*", 1); WITHIN("*.b", "*.*", 1); WITHIN("a.b.>", "a.>", 1);
	WITHIN(">", ">", 1); WITHIN("*", ">", 1); WITHIN("*.>", ">", 1);
	WITHIN("a.>", "a.*", 0); WITHIN("a", "a.>", 0); WITHIN("a.*", "a.b", 0);
	WITHIN(">", "a.>", 0); WITHIN("*.b", "a.b", 0); WITHIN("a.b", "a.c", 0);
	WITHIN("a.b.c", "a.*", 0); WITHIN("a", "a.b", 0); WITHIN("a.b", "a", 0);
	WITHIN("*", "a", 0); WITHIN(">", "*", 0); WITHIN("a.b", "*.c", 0);
	/* Kernel topics only within patterns that name "$sys". */
	WITHIN("$sys.a", ">", 0); WITHIN("$sys.a", "*.a", 0);
	WITHIN("$sys.a", "$sys.>", 1); WITHIN("$sys.>", "$sys.>", 1);
	WITHIN("$sys.*", "$sys.>", 1); WITHIN(">", "$sys.>", 0);

	OVERLAP("a.b", "a.b", 1); OVERLAP("a.b", "a.c", 0); OVERLAP("a.*", "a.b", 1);
	OVERLAP("a.>", "a.b.c", 1); OVERLAP("a.>", "a", 0); OVERLAP("*.b", "a.*", 1);
	OVERLAP(">", "x", 1); OVERLAP(">", "x.y.z", 1); OVERLAP("*", "a.b", 0);
	OVERLAP("a.*.c", "a.b.>", 1); OVERLAP("a.*.c", "a.b.d", 0);
	OVERLAP("a.*", "*.b.c", 0); OVERLAP("*.>", "a", 0); OVERLAP("*.>", "a.b", 1);
	OVERLAP(">", "$sys.a", 0); OVERLAP("*.a", "$sys.a", 0);
	OVERLAP("$sys.>", "$sys.file.open", 1); OVERLAP("$sys.>", ">", 0);
	OVERLAP("$sys.*", "$sys.a.b", 0);
}

static void test_sys_match(void)
{
	check(!evbus_pattern_match(">", 1, "$sys.a", 6), "> skips $sys", ">",
	      __LINE__);
	check(!evbus_pattern_match("*.a", 3, "$sys.a", 6), "* skips $sys", "*.a",
	      __LINE__);
	check(evbus_pattern_match("$sys.>", 6, "$sys.a", 6), "$sys.> matches",
	      "$sys.>", __LINE__);
	check(evbus_pattern_match("$sys.*", 6, "$sys.a", 6), "$sys.* matches",
	      "$sys.*", __LINE__);
}

int main(void)
{
	test_sys();
	test_relations();
	test_sys_match();
	test_chars();
	test_dots();
	test_length();
	test_segments();
	test_wildcards();
	test_match();
	test_match_limits();
	test_hash();

	printf("topic-unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
