/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reference model of the evbus topic rules, for differential fuzzing of
 * module/topic.c.  Deliberately naive and written differently: split the
 * string on every '.' into an array of segments first, then check counts,
 * lengths and characters segment by segment; match recursively.
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

static bool ref_topic_valid(const char *s, size_t len, struct ref_split *sp)
{
	size_t i;

	if (len < 1 || len > REF_TOPIC_MAX)
		return false;
	ref_split(s, len, sp);
	if (sp->n > REF_SEGMENTS_MAX)
		return false;
	for (i = 0; i < sp->n; i++)
		if (!ref_literal_seg(&sp->seg[i]))
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
		if (!ref_literal_seg(&sp->seg[i]))
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

static bool ref_match(const struct ref_seg *p, size_t np,
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
		return ref_match(p + 1, np - 1, t + 1, nt - 1);
	return false;
}

#endif /* _EVBUS_TOPIC_REF_H */
