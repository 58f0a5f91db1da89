// SPDX-License-Identifier: GPL-2.0
/*
 * Differential fuzzer: module/topic.c against tests/fuzz/topic_ref.h:
 * parsing (with the reserved "$sys" first segment), matching, and the set
 * relations the policy and scopes are built on (evbus_pattern_within and
 * evbus_pattern_overlap, both ways round, plus: if p is within a, every
 * topic p matches, a matches).
 *
 * Input: pattern bytes, 0xff, topic bytes.  Without a 0xff the whole input
 * is used as both.  Any disagreement with the reference aborts.
 *
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I uapi -I module \
 *       module/topic.c tests/fuzz/topic_fuzz.c -o topic_fuzz
 * Standalone (gcc, deterministic xorshift generator, argv[1] iterations):
 *   gcc -O2 -fsanitize=address,undefined -DEVBUS_FUZZ_STANDALONE \
 *       -I uapi -I module module/topic.c tests/fuzz/topic_fuzz.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"
#include "topic_ref.h"

static void fail(const char *what, const char *p, size_t plen,
		 const char *t, size_t tlen)
{
	size_t i;

	fprintf(stderr, "topic-fuzz: MISMATCH: %s\n  pattern(%zu):", what,
		plen);
	for (i = 0; i < plen; i++)
		fprintf(stderr, " %02x", (unsigned char)p[i]);
	fprintf(stderr, "\n  topic(%zu):", tlen);
	for (i = 0; i < tlen; i++)
		fprintf(stderr, " %02x", (unsigned char)t[i]);
	fprintf(stderr, "\n");
	abort();
}

/* Exact-size heap copy so ASan catches any read past len. */
static char *dup_exact(const char *s, size_t len)
{
	char *d = malloc(len ? len : 1);

	if (!d)
		abort();
	if (len)
		memcpy(d, s, len);
	return d;
}

static void check_segs(const char *what, const char *s, size_t len,
		       const struct evbus_segs *sg, const struct ref_split *sp,
		       bool pattern)
{
	size_t i;

	if (sg->n != sp->n)
		fail(what, s, len, s, len);
	if (sg->sys != ref_seg_is(&sp->seg[0], "$sys"))
		fail("sys flag", s, len, s, len);
	for (i = 0; i < sp->n; i++) {
		if (sg->off[i] != sp->seg[i].off || sg->len[i] != sp->seg[i].len)
			fail(what, s, len, s, len);
		if (pattern &&
		    (int)evbus_seg_kind(s, sg, (unsigned int)i) !=
		    ref_seg_kind(&sp->seg[i]))
			fail("seg_kind", s, len, s, len);
	}
}

/* Check both parsers on one string; returns topic / pattern validity. */
static void check_parse(const char *s, size_t len, bool *topic_ok,
			bool *pat_ok, struct ref_split *sp_pat)
{
	static struct ref_split sp;
	struct evbus_segs sg;
	bool ref_ok, lit = false;
	size_t i;
	int rc;

	memset(&sg, 0xa5, sizeof(sg));
	rc = evbus_topic_parse(s, len, &sg);
	ref_ok = ref_topic_valid(s, len, &sp);
	if (rc != 0 && rc != -EINVAL)
		fail("topic_parse rc", s, len, s, len);
	if ((rc == 0) != ref_ok)
		fail(ref_ok ? "topic rejected" : "topic accepted",
		     s, len, s, len);
	if (ref_ok)
		check_segs("topic segs", s, len, &sg, &sp, false);
	*topic_ok = ref_ok;

	memset(&sg, 0x5a, sizeof(sg));
	rc = evbus_pattern_parse(s, len, &sg);
	ref_ok = ref_pattern_valid(s, len, sp_pat);
	if (rc != 0 && rc != -EINVAL)
		fail("pattern_parse rc", s, len, s, len);
	if ((rc == 0) != ref_ok)
		fail(ref_ok ? "pattern rejected" : "pattern accepted",
		     s, len, s, len);
	if (ref_ok) {
		check_segs("pattern segs", s, len, &sg, sp_pat, true);
		lit = true;
		for (i = 0; i < sp_pat->n; i++)
			if (ref_seg_kind(&sp_pat->seg[i]) != 0)
				lit = false;
		if (evbus_pattern_is_literal(s, &sg) != lit)
			fail("pattern_is_literal", s, len, s, len);
	}
	/* Every valid topic is a valid literal pattern. */
	if (*topic_ok && (!ref_ok || !lit))
		fail("topic is not a literal pattern", s, len, s, len);
	*pat_ok = ref_ok;

	if (evbus_hash(7, s, len) != evbus_hash(7, s, len))
		fail("hash not deterministic", s, len, s, len);
}

/* Both valid patterns: within and overlap, both ways round. */
static void check_relations(const char *p, size_t plen, const struct ref_split *psp,
			    const char *a, size_t alen, const struct ref_split *asp)
{
	struct evbus_segs ps, as;
	bool got, want;

	if (evbus_pattern_parse(p, plen, &ps) || evbus_pattern_parse(a, alen, &as))
		fail("relations: pattern does not parse", p, plen, a, alen);
	got = evbus_pattern_within(p, &ps, a, &as);
	want = ref_within(psp->seg, psp->n, asp->seg, asp->n);
	if (got != want)
		fail(want ? "within missed" : "false within", p, plen, a, alen);
	got = evbus_pattern_within(a, &as, p, &ps);
	want = ref_within(asp->seg, asp->n, psp->seg, psp->n);
	if (got != want)
		fail(want ? "within missed (reversed)" : "false within (reversed)",
		     a, alen, p, plen);
	got = evbus_pattern_overlap(p, &ps, a, &as);
	want = ref_overlap(psp->seg, psp->n, asp->seg, asp->n);
	if (got != want || got != evbus_pattern_overlap(a, &as, p, &ps))
		fail(want ? "overlap missed" : "false overlap", p, plen, a, alen);
	if (!evbus_pattern_within(p, &ps, p, &ps) ||
	    !evbus_pattern_overlap(p, &ps, p, &ps))
		fail("pattern not within/overlapping itself", p, plen, p, plen);
}

static void check_parts(const char *p0, size_t plen,
			const char *t0, size_t tlen)
{
	static struct ref_split psp, tsp, tmp;
	char *p = dup_exact(p0, plen);
	char *t = dup_exact(t0, tlen);
	bool p_topic, p_pat, t_topic, t_pat, got, want;

	check_parse(p, plen, &p_topic, &p_pat, &psp);
	check_parse(t, tlen, &t_topic, &t_pat, &tmp);
	if (p_pat && t_pat)
		check_relations(p, plen, &psp, t, tlen, &tmp);

	if (t_topic) {
		ref_split(t, tlen, &tsp);
		if (!evbus_pattern_match(t, tlen, t, tlen))
			fail("topic does not match itself", t, tlen, t, tlen);
		/* ">" is every application topic, "$sys.>" every kernel one. */
		if (evbus_pattern_match(">", 1, t, tlen) ==
		    ref_seg_is(&tsp.seg[0], "$sys"))
			fail("> matches a kernel topic or misses an application one",
			     ">", 1, t, tlen);
		if (evbus_pattern_match("$sys.>", 6, t, tlen) !=
		    (ref_seg_is(&tsp.seg[0], "$sys") && tsp.n > 1))
			fail("$sys.> wrong", "$sys.>", 6, t, tlen);
		if (p_pat) {
			got = evbus_pattern_match(p, plen, t, tlen);
			want = ref_match(psp.seg, psp.n, tsp.seg, tsp.n);
			if (got != want)
				fail(want ? "match missed" : "false match",
				     p, plen, t, tlen);
		}
		/* Containment means containment of the matched topics. */
		if (p_pat && got && t_pat) {
			static const char *const wide[] = {
				">", "*", "*.>", "a.>", "$sys.>", "*.*", "a.*.>",
			};
			struct evbus_segs ps, as;
			size_t w;

			evbus_pattern_parse(p, plen, &ps);
			for (w = 0; w < sizeof(wide) / sizeof(wide[0]); w++) {
				size_t wl = strlen(wide[w]);

				evbus_pattern_parse(wide[w], wl, &as);
				if (evbus_pattern_within(p, &ps, wide[w], &as) &&
				    !evbus_pattern_match(wide[w], wl, t, tlen))
					fail("within, but the topic does not match",
					     p, plen, t, tlen);
			}
		}
	}
	free(p);
	free(t);
}

static void check_input(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0xff, size);

	if (!sep) {
		check_parts((const char *)data, size, (const char *)data, size);
		return;
	}
	check_parts((const char *)data, (size_t)(sep - data),
		    (const char *)sep + 1, size - (size_t)(sep - data) - 1);
}

#ifndef EVBUS_FUZZ_STANDALONE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_input(data, size);
	return 0;
}

#else /* EVBUS_FUZZ_STANDALONE */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)((x >> 11) % n);
}

static const char good_chars[] = "abcxyzAZ09_-:";
static const char bad_chars[] = " /#+@[`{;,~$\t\x7f\x80\xc3\xfe\xff";
static const char *const words[] = {
	"a", "b", "ab", "app", "v1", "x", "Z", "_", "-", ":", "0",
};

/* Append one random segment; unless clean, maybe empty or with junk. */
static size_t gen_seg(char *buf, size_t o, size_t cap, bool clean)
{
	uint32_t r = clean ? 0 : rnd(100), k, i;
	const char *w;

	if (r < 45) {
		w = words[rnd(sizeof(words) / sizeof(words[0]))];
		for (i = 0; w[i] && o < cap; i++)
			buf[o++] = w[i];
		return o;
	}
	if (r < 50)
		return o;			/* empty segment */
	if (r < 56) {
		if (o < cap)
			buf[o++] = rnd(2) ? '*' : '>';
		return o;
	}
	k = r < 90 ? rnd(6) + 1 : rnd(90) + 1;	/* sometimes long */
	for (i = 0; i < k && o < cap; i++) {
		uint32_t c = rnd(100);

		if (c < 85)
			buf[o++] = good_chars[rnd(sizeof(good_chars) - 1)];
		else if (c < 92)
			buf[o++] = rnd(2) ? '*' : '>';
		else if (c < 94)
			buf[o++] = '\0';
		else
			buf[o++] = bad_chars[rnd(sizeof(bad_chars) - 1)];
	}
	return o;
}

static size_t gen_topic(char *buf, size_t cap)
{
	uint32_t r = rnd(20), nseg, i;
	bool clean = rnd(2);
	size_t o = 0;

	/* Mostly short, sometimes around the 20-segment limit. */
	if (r < 14)
		nseg = rnd(6) + 1;
	else if (r < 17)
		nseg = rnd(24) + 1;
	else
		nseg = rnd(5) + 18;

	for (i = 0; i < nseg; i++) {
		if (i && o < cap)
			buf[o++] = '.';
		/* The reserved first segment, and near misses of it. */
		if (i == 0 && rnd(8) == 0) {
			static const char *const sys[] = {
				"$sys", "$sys", "$sys", "$SYS", "$sy", "$sysx", "$", "$*",
			};
			const char *w = sys[rnd(8)];

			while (*w && o < cap)
				buf[o++] = *w++;
			continue;
		}
		o = gen_seg(buf, o, cap, clean);
	}
	/* Sometimes fill up to a length around the 255-byte limit. */
	if (rnd(8) == 0) {
		size_t target = 250 + rnd(10);

		while (o < target && o < cap) {
			buf[o++] = rnd(12) ? good_chars[rnd(3)] : '.';
		}
		if (o > target)
			o = target;
	}
	/* Rare stray dots at the ends. */
	if (rnd(40) == 0 && o < cap)
		buf[o++] = '.';
	if (rnd(40) == 0 && o > 0)
		buf[0] = '.';
	return o;
}

/* A pattern derived from topic t: '*' / '>' substitutions, truncation. */
static size_t gen_derived(char *buf, size_t cap, const char *t, size_t tlen)
{
	size_t i = 0, o = 0;
	uint32_t mode = rnd(4);

	while (i <= tlen && o < cap) {
		size_t e = i;

		while (e < tlen && t[e] != '.')
			e++;
		if (o)
			buf[o++] = '.';
		if (mode && rnd(5) == 0 && o < cap) {
			buf[o++] = '>';
			break;
		}
		if (rnd(4) == 0 && o < cap) {
			buf[o++] = '*';
		} else {
			while (i < e && o < cap)
				buf[o++] = t[i++];
		}
		i = e + 1;
	}
	if (rnd(10) == 0 && o)
		buf[rnd((uint32_t)o)] = good_chars[rnd(3)];	/* mutate */
	if (rnd(20) == 0 && o + 2 <= cap) {
		buf[o++] = '.';
		buf[o++] = rnd(2) ? '>' : '*';
	}
	return o;
}

int main(int argc, char **argv)
{
	static char pat[600], top[600];
	static uint8_t in[1200];
	unsigned long iters = 200000, n;
	size_t plen, tlen;

	if (argc > 1)
		iters = strtoul(argv[1], NULL, 0);

	for (n = 0; n < iters; n++) {
		tlen = gen_topic(top, 300);
		if (rnd(3))
			plen = gen_derived(pat, 300, top, tlen);
		else
			plen = gen_topic(pat, 300);
		/* Through the libFuzzer entry point's splitter when possible. */
		if (!memchr(pat, 0xff, plen)) {
			memcpy(in, pat, plen);
			in[plen] = 0xff;
			memcpy(in + plen + 1, top, tlen);
			check_input(in, plen + 1 + tlen);
		} else {
			check_parts(pat, plen, top, tlen);
		}
	}
	printf("topic-fuzz-standalone: %lu passed, 0 failed\n", iters);
	return 0;
}

#endif /* EVBUS_FUZZ_STANDALONE */
