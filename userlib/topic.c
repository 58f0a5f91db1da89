// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Topic and pattern checks without the device.  The module's parser
 * (module/topic.c, built into the library) is the only place that knows
 * the rules: it gives the verdict, and the explanation of a rejection is
 * found by asking it about pieces of the string, one byte and then one
 * segment at a time.  This file knows only the limits in linux/evbus.h
 * and that segments end at '.'.
 */
#include <string.h>

#include "internal.h"
#include "topic.h"

enum evbus_byte {
	EVBUS_BYTE_OK,		/* allowed in a topic */
	EVBUS_BYTE_WILD,	/* allowed in a pattern only: a wildcard */
	EVBUS_BYTE_BAD,		/* allowed in neither */
};

/* What the parser thinks of the byte at c as a one-byte segment. */
static enum evbus_byte evbus_byte(const char *c)
{
	struct evbus_segs segs;

	if (evbus_pattern_parse(c, 1, &segs))
		return EVBUS_BYTE_BAD;
	if (evbus_topic_parse(c, 1, &segs))
		return EVBUS_BYTE_WILD;
	return EVBUS_BYTE_OK;
}

/* The first rule a byte of s breaks (dots aside), or NULL. */
static const char *evbus_explain_bytes(const char *s, size_t len, bool pattern)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '.')
			continue;
		switch (evbus_byte(s + i)) {
		case EVBUS_BYTE_BAD:
			return "contains a character other than letters, digits, '_', ':' and '-' in its segments";
		case EVBUS_BYTE_WILD:
			if (!pattern)
				return "contains a wildcard ('*' or '>'): wildcards are only allowed in subscription patterns";
			break;
		case EVBUS_BYTE_OK:
			break;
		}
	}
	return NULL;
}

/* The first rule the segment s[0..len) breaks on its own, or NULL. */
static const char *evbus_explain_segment(const char *s, size_t len, bool last)
{
	struct evbus_segs segs;
	size_t i;

	if (!len)
		return "has an empty segment (a leading, trailing or doubled '.')";
	if (evbus_pattern_parse(s, len, &segs)) {
		for (i = 0; i < len; i++)
			if (evbus_byte(s + i) == EVBUS_BYTE_WILD)
				return "has a wildcard that is not a whole segment ('*' and '>' must stand alone between dots)";
		return NULL;
	}
	if (!last && evbus_seg_kind(s, &segs, 0) == EVBUS_SEG_GT)
		return "has '>' before the last segment ('>' may only be the last segment)";
	return NULL;
}

/* The first rule s breaks, in the order a reader would fix them. */
static const char *evbus_explain(const char *s, size_t len, bool pattern)
{
	size_t i, start = 0, nseg = 1;
	const char *why;

	if (!len)
		return "is empty";
	if (len > EVBUS_TOPIC_MAX)
		return "is longer than 255 bytes";
	why = evbus_explain_bytes(s, len, pattern);
	if (why)
		return why;
	for (i = 0; i < len; i++)
		nseg += s[i] == '.';
	if (nseg > EVBUS_SEGMENTS_MAX)
		return "has more than 20 segments";
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		why = evbus_explain_segment(s + start, i - start, i == len);
		if (why)
			return why;
		start = i + 1;
	}
	return pattern ? "is not a valid pattern" : "is not a valid topic";
}

static int evbus_check(const char *s, bool pattern, const char **why)
{
	struct evbus_segs segs;
	size_t len;
	int ret;

	if (why)
		*why = NULL;
	if (!s) {
		if (why)
			*why = "is missing (NULL)";
		return -EINVAL;
	}
	len = strlen(s);
	ret = pattern ? evbus_pattern_parse(s, len, &segs)
		      : evbus_topic_parse(s, len, &segs);
	if (ret && why)
		*why = evbus_explain(s, len, pattern);
	return ret ? -EINVAL : 0;
}

EVBUS_API int evbus_check_topic(const char *topic, const char **why)
{
	return evbus_check(topic, false, why);
}

EVBUS_API int evbus_check_pattern(const char *pattern, const char **why)
{
	return evbus_check(pattern, true, why);
}

/*
 * Does pattern match topic, as the kernel decides delivery?  1 or 0, or
 * -EINVAL if either is not valid.  The bindings dispatch with it.
 */
EVBUS_API int evbus_match(const char *pattern, const char *topic)
{
	struct evbus_segs segs;

	if (!pattern || !topic ||
	    evbus_pattern_parse(pattern, strlen(pattern), &segs) ||
	    evbus_topic_parse(topic, strlen(topic), &segs))
		return -EINVAL;
	return evbus_pattern_match(pattern, strlen(pattern), topic, strlen(topic));
}
