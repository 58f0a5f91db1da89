// SPDX-License-Identifier: GPL-2.0
/*
 * evbus topics and subscription patterns.
 *
 * A topic is 1..EVBUS_TOPIC_MAX (255) bytes of dot-separated segments, at
 * most EVBUS_SEGMENTS_MAX (20) of them, none empty.  Segment bytes are
 * ASCII letters, digits, '_', '-' and ':'; anything else (NUL, space,
 * non-ASCII, '*', '>', ...) makes the topic invalid.
 *
 *	valid:   "app", "app.v1.lifecycle.start", "host-1:eth0.rx_bytes"
 *	invalid: "", ".app", "app.", "app..x", "a b", "a/b", 21 segments,
 *		 256 bytes
 *
 * A pattern has the same syntax and limits plus two wildcards (NATS
 * conventions), each of which must be a whole segment:
 *
 *	'*'  matches exactly one segment, in any position:
 *	     "app.*.input" matches "app.x.input", not "app.input" nor
 *	     "app.x.y.input".
 *	'>'  only as the last segment, matches one or more segments:
 *	     "app.>" matches "app.a" and "app.a.b", not "app";
 *	     ">" matches every topic.
 *
 *	invalid: "a.>.b", "ab*", "a>", "**", "*>", ">>"
 *
 * Reserved: a first segment "$sys" names the kernel's own topics
 * ("$sys.file.open"); '$' is allowed nowhere else.  Wildcards in the first
 * segment never match "$sys": only a pattern that starts with "$sys"
 * itself reaches kernel topics, so "*" and ">" keep meaning "every
 * application topic".
 *
 * Nothing here uses libc or kernel helpers, so the file also builds on the
 * host for unit tests and fuzzing.
 */
#include "topic.h"

/* Bytes allowed in a literal segment. */
static inline bool evbus_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':';
}

static inline bool evbus_is_wild(unsigned char c)
{
	return c == '*' || c == '>';
}

#define EVBUS_SYS_SEG		"$sys"
#define EVBUS_SYS_SEG_LEN	4

static bool evbus_is_sys_seg(const char *s, size_t len)
{
	size_t i;

	if (len != EVBUS_SYS_SEG_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] != EVBUS_SYS_SEG[i])
			return false;
	return true;
}

/*
 * Split s into segments and check every byte.  With wild set, '*' and '>'
 * are accepted as whole segments, '>' only as the last one.
 */
static int evbus_parse(const char *s, size_t len, struct evbus_segs *segs,
		       bool wild)
{
	size_t start = 0;
	size_t i;
	unsigned int n = 0;

	segs->n = 0;
	segs->sys = false;
	if (!s || len == 0 || len > EVBUS_TOPIC_MAX)
		return -EINVAL;

	for (i = 0; i <= len; i++) {
		unsigned char c;
		size_t slen;

		if (i < len && s[i] != '.') {
			c = (unsigned char)s[i];
			if (!evbus_char_ok(c) && !(wild && evbus_is_wild(c)) &&
			    !(c == '$' && i == 0))
				return -EINVAL;
			continue;
		}

		/* End of the segment s[start..i). */
		slen = i - start;
		if (slen == 0 || n >= EVBUS_SEGMENTS_MAX)
			return -EINVAL;
		/* '$' passed only as the very first byte: "$sys" or nothing. */
		if (start == 0 && s[0] == '$') {
			if (!evbus_is_sys_seg(s, slen))
				return -EINVAL;
			segs->sys = true;
		}
		if (wild) {
			c = (unsigned char)s[start];
			if (slen == 1) {
				if (c == '>' && i != len)
					return -EINVAL;
			} else {
				size_t j;

				for (j = start; j < i; j++)
					if (evbus_is_wild((unsigned char)s[j]))
						return -EINVAL;
			}
		}
		segs->off[n] = (unsigned char)start;
		segs->len[n] = (unsigned char)slen;
		n++;
		start = i + 1;
	}

	segs->n = n;
	return 0;
}

int evbus_topic_parse(const char *s, size_t len, struct evbus_segs *segs)
{
	return evbus_parse(s, len, segs, false);
}

int evbus_pattern_parse(const char *s, size_t len, struct evbus_segs *segs)
{
	return evbus_parse(s, len, segs, true);
}

enum evbus_seg_kind evbus_seg_kind(const char *s,
				   const struct evbus_segs *segs,
				   unsigned int i)
{
	if (i >= segs->n || segs->len[i] != 1)
		return EVBUS_SEG_LITERAL;
	if (s[segs->off[i]] == '*')
		return EVBUS_SEG_STAR;
	if (s[segs->off[i]] == '>')
		return EVBUS_SEG_GT;
	return EVBUS_SEG_LITERAL;
}

bool evbus_pattern_is_literal(const char *s, const struct evbus_segs *segs)
{
	unsigned int i;

	for (i = 0; i < segs->n; i++)
		if (evbus_seg_kind(s, segs, i) != EVBUS_SEG_LITERAL)
			return false;
	return true;
}

/*
 * Walk both strings one segment at a time.  A position past the end
 * (pi > plen, ti > tlen) means no segments are left.
 */
bool evbus_pattern_match(const char *pat, size_t plen,
			 const char *topic, size_t tlen)
{
	size_t pi = 0, ti = 0;

	/* Only a literal "$sys" first segment reaches kernel topics. */
	if (tlen && topic[0] == '$' && (pat[0] == '*' || pat[0] == '>') &&
	    (plen == 1 || pat[1] == '.'))
		return false;

	while (pi <= plen) {
		size_t pe = pi, te = ti;

		while (pe < plen && pat[pe] != '.')
			pe++;
		if (ti > tlen)
			return false;	/* topic ran out of segments */
		if (pe - pi == 1 && pat[pi] == '>')
			return true;	/* at least one topic segment left */
		while (te < tlen && topic[te] != '.')
			te++;
		if (!(pe - pi == 1 && pat[pi] == '*')) {
			size_t k;

			if (pe - pi != te - ti)
				return false;
			for (k = 0; k < pe - pi; k++)
				if (pat[pi + k] != topic[ti + k])
					return false;
		}
		pi = pe + 1;
		ti = te + 1;
	}
	return ti > tlen;
}

/* Segment i of a parsed pattern, and its kind. */
static inline enum evbus_seg_kind evbus_seg_at(const char *s,
					       const struct evbus_segs *segs,
					       unsigned int i,
					       const char **txt, size_t *len)
{
	*txt = s + segs->off[i];
	*len = segs->len[i];
	return evbus_seg_kind(s, segs, i);
}

static bool evbus_seg_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t k;

	if (alen != blen)
		return false;
	for (k = 0; k < alen; k++)
		if (a[k] != b[k])
			return false;
	return true;
}

/* A wildcard first segment of one side cannot stand for "$sys" of the other. */
static bool evbus_sys_apart(const struct evbus_segs *ps, enum evbus_seg_kind pk,
			    const struct evbus_segs *as, enum evbus_seg_kind ak)
{
	return (ps->sys && ak != EVBUS_SEG_LITERAL) ||
	       (as->sys && pk != EVBUS_SEG_LITERAL);
}

bool evbus_pattern_within(const char *p, const struct evbus_segs *ps,
			  const char *a, const struct evbus_segs *as)
{
	unsigned int i;

	for (i = 0; i < ps->n && i < as->n; i++) {
		const char *pt, *at;
		size_t pl, al;
		enum evbus_seg_kind pk = evbus_seg_at(p, ps, i, &pt, &pl);
		enum evbus_seg_kind ak = evbus_seg_at(a, as, i, &at, &al);

		if (i == 0 && evbus_sys_apart(ps, pk, as, ak))
			return false;
		if (ak == EVBUS_SEG_GT)
			return true;	/* p has this and maybe more segments */
		if (pk == EVBUS_SEG_GT)
			return false;	/* p goes on where a stops */
		if (ak == EVBUS_SEG_STAR)
			continue;	/* p's one segment, whatever it is */
		if (pk != EVBUS_SEG_LITERAL || !evbus_seg_eq(pt, pl, at, al))
			return false;
	}
	return ps->n == as->n;
}

bool evbus_pattern_overlap(const char *p, const struct evbus_segs *ps,
			   const char *a, const struct evbus_segs *as)
{
	unsigned int i;

	for (i = 0; i < ps->n && i < as->n; i++) {
		const char *pt, *at;
		size_t pl, al;
		enum evbus_seg_kind pk = evbus_seg_at(p, ps, i, &pt, &pl);
		enum evbus_seg_kind ak = evbus_seg_at(a, as, i, &at, &al);

		if (i == 0 && evbus_sys_apart(ps, pk, as, ak))
			return false;
		if (pk == EVBUS_SEG_GT || ak == EVBUS_SEG_GT)
			return true;	/* the other has a segment here */
		if (pk == EVBUS_SEG_LITERAL && ak == EVBUS_SEG_LITERAL &&
		    !evbus_seg_eq(pt, pl, at, al))
			return false;
	}
	return ps->n == as->n;
}

#define EVBUS_FNV_OFFSET	2166136261U
#define EVBUS_FNV_PRIME		16777619U

unsigned int evbus_hash(unsigned int seed, const char *s, size_t len)
{
	unsigned int h = EVBUS_FNV_OFFSET;
	size_t i;

	/* Seed first, so (seed, segment) pairs hash as one string. */
	for (i = 0; i < 4; i++) {
		h ^= (seed >> (8 * i)) & 0xffU;
		h *= EVBUS_FNV_PRIME;
	}
	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= EVBUS_FNV_PRIME;
	}
	h ^= (unsigned int)len;

	/* murmur3 fmix32: every input bit affects every output bit. */
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}
