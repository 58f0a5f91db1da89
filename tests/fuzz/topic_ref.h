/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reference model of the evbus topic rules, for differential fuzzing of
 * module/topic.c (tests/fuzz/topic_fuzz.c) and for the ioctl fuzzer's
 * cross-checks of scopes and published topics (tests/fuzz/ioctl_fuzz.c).
 * Deliberately naive and written differently: split the string on every
 * '.' into an array of segments first, then check counts, lengths and
 * characters segment by segment; match, "within" and "overlap" recursively
 * from their definitions (as sets of topics).
 *
 * Reserved topics: a first segment "$sys" is valid (and '$' nowhere else);
 * a wildcard first segment never stands for "$sys".
 */
#ifndef _EVBUS_TOPIC_REF_H
#define _EVBUS_TOPIC_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define REF_TOPIC_MAX		255
#define REF_SEGMENTS_MAX	20

struct ref_seg {
	const char *p;
	size_t len;
	size_t off;
};

struct ref_split {
	size_t n;			/* may exceed REF_SEGMENTS_MAX */
	struct ref_seg seg[REF_TOPIC_MAX + 1];	/* len <= 255: n <= 256 */
};

/* Split on '.'; "a..b" gives three segments, the middle one empty. */
static void ref_split(const char *s, size_t len, struct ref_split *out)
{
	size_t i, start = 0;

	out->n = 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			out->seg[out->n].p = s + start;
			out->seg[out->n].off = start;
			out->seg[out->n].len = i - start;
			out->n++;
			start = i + 1;
		}
	}
	out->seg[out->n].p = s + start;
	out->seg[out->n].off = start;
	out->seg[out->n].len = len - start;
	out->n++;
}

static bool ref_allowed_char(char c)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789" "_-:";

	return c != '\0' && strchr(set, c) != NULL;
}

static bool ref_literal_seg(const struct ref_seg *sg)
{
	size_t i;

	if (sg->len == 0)
		return false;
	for (i = 0; i < sg->len; i++)
		if (!ref_allowed_char(sg->p[i]))
			return false;
	return true;
}

static bool ref_seg_is(const struct ref_seg *sg, const char *word)
{
	return sg->len == strlen(word) && memcmp(sg->p, word, sg->len) == 0;
}

/* Is segment i of a split the reserved first segment "$sys"? */
static bool ref_sys_seg(const struct ref_split *sp, size_t i)
{
	return i == 0 && ref_seg_is(&sp->seg[0], "$sys");
}

static bool ref_topic_valid(const char *s, size_t len, struct ref_split *sp)
{
	size_t i;

	if (len < 1 || len > REF_TOPIC_MAX)
		return false;
	ref_split(s, len, sp);
	if (sp->n > REF_SEGMENTS_MAX)
		return false;
	for (i = 0; i < sp->n; i++)
		if (!ref_literal_seg(&sp->seg[i]) && !ref_sys_seg(sp, i))
			return false;
	return true;
}

static bool ref_pattern_valid(const char *s, size_t len, struct ref_split *sp)
{
	size_t i;

	if (len < 1 || len > REF_TOPIC_MAX)
		return false;
	ref_split(s, len, sp);
	if (sp->n > REF_SEGMENTS_MAX)
		return false;
	for (i = 0; i < sp->n; i++) {
		if (ref_seg_is(&sp->seg[i], "*"))
			continue;
		if (ref_seg_is(&sp->seg[i], ">")) {
			if (i + 1 == sp->n)
				continue;
			return false;
		}
		if (!ref_literal_seg(&sp->seg[i]) && !ref_sys_seg(sp, i))
			return false;
	}
	return true;
}

/* 0 literal, 1 star, 2 gt: same order as enum evbus_seg_kind. */
static int ref_seg_kind(const struct ref_seg *sg)
{
	if (ref_seg_is(sg, "*"))
		return 1;
	if (ref_seg_is(sg, ">"))
		return 2;
	return 0;
}

static bool ref_match_rest(const struct ref_seg *p, size_t np,
			   const struct ref_seg *t, size_t nt)
{
	if (np == 0)
		return nt == 0;
	if (ref_seg_is(&p[0], ">"))
		return nt >= 1;
	if (nt == 0)
		return false;
	if (ref_seg_is(&p[0], "*") ||
	    (p[0].len == t[0].len && memcmp(p[0].p, t[0].p, t[0].len) == 0))
		return ref_match_rest(p + 1, np - 1, t + 1, nt - 1);
	return false;
}

/* A wildcard first segment of the pattern never matches "$sys". */
static bool ref_match(const struct ref_seg *p, size_t np,
		      const struct ref_seg *t, size_t nt)
{
	if (np && nt && ref_seg_is(&t[0], "$sys") && ref_seg_kind(&p[0]) != 0)
		return false;
	return ref_match_rest(p, np, t, nt);
}

/* Does every topic p matches (from here on) also match a? */
static bool ref_within_rest(const struct ref_seg *p, size_t np,
			    const struct ref_seg *a, size_t na)
{
	if (na == 0)
		return np == 0;
	if (ref_seg_kind(&a[0]) == 2)		/* a: one or more, any */
		return np >= 1;
	if (np == 0 || ref_seg_kind(&p[0]) == 2)	/* p: none, or unbounded */
		return false;
	if (ref_seg_kind(&a[0]) == 1)		/* a: exactly one, any */
		return ref_within_rest(p + 1, np - 1, a + 1, na - 1);
	if (ref_seg_kind(&p[0]) != 0 || p[0].len != a[0].len ||
	    memcmp(p[0].p, a[0].p, a[0].len))
		return false;
	return ref_within_rest(p + 1, np - 1, a + 1, na - 1);
}

/*
 * Both valid patterns.  p's topics start with "$sys" iff p's first segment
 * is "$sys"; a reaches them only through a literal "$sys" of its own.
 */
static bool ref_within(const struct ref_seg *p, size_t np,
		       const struct ref_seg *a, size_t na)
{
	bool psys = np && ref_seg_is(&p[0], "$sys");
	bool asys = na && ref_seg_is(&a[0], "$sys");

	if (psys != asys)
		return false;
	return ref_within_rest(p, np, a, na);
}

/* Is there a topic both p and a match (from here on)? */
static bool ref_overlap_rest(const struct ref_seg *p, size_t np,
			     const struct ref_seg *a, size_t na)
{
	if (np == 0 || na == 0)
		return np == 0 && na == 0;
	if (ref_seg_kind(&p[0]) == 2 || ref_seg_kind(&a[0]) == 2)
		return true;	/* the other side needs a segment here: any */
	if (ref_seg_kind(&p[0]) == 0 && ref_seg_kind(&a[0]) == 0 &&
	    (p[0].len != a[0].len || memcmp(p[0].p, a[0].p, a[0].len)))
		return false;
	return ref_overlap_rest(p + 1, np - 1, a + 1, na - 1);
}

static __attribute__((unused)) bool ref_overlap(const struct ref_seg *p, size_t np,
			const struct ref_seg *a, size_t na)
{
	bool psys = np && ref_seg_is(&p[0], "$sys");
	bool asys = na && ref_seg_is(&a[0], "$sys");

	if (psys != asys)
		return false;	/* a wildcard never stands for "$sys" */
	return ref_overlap_rest(p, np, a, na);
}

#endif /* _EVBUS_TOPIC_REF_H */
