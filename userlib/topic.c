// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Topic and pattern checks without the device.  The verdict comes from the
 * module's own parser (module/topic.c is built into the library), so the
 * library can never disagree with the kernel; this file only finds the
 * rule that was broken, to explain it.
 */
#include <string.h>

#include "internal.h"
#include "topic.h"

static bool evbus_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':';
}

static bool evbus_wild(unsigned char c)
{
	return c == '*' || c == '>';
}

/* The first rule s breaks, in the order a reader would fix them. */
static const char *evbus_explain(const char *s, bool pattern)
{
	size_t len = strlen(s), i, start = 0, nseg = 1;

	if (!len)
		return "is empty";
	if (len > EVBUS_TOPIC_MAX)
		return "is longer than 255 bytes";
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '.')
			nseg++;
		else if (evbus_wild(c) && !pattern)
			return "contains a wildcard ('*' or '>'): wildcards are only allowed in subscription patterns";
		else if (!evbus_char_ok(c) && !evbus_wild(c))
			return "contains a character other than letters, digits, '_', ':' and '-' in its segments";
	}
	if (nseg > EVBUS_SEGMENTS_MAX)
		return "has more than 20 segments";
	for (i = 0; i <= len; i++) {
		size_t slen, j;

		if (i < len && s[i] != '.')
			continue;
		slen = i - start;
		if (!slen)
			return "has an empty segment (a leading, trailing or doubled '.')";
		for (j = start; j < i && pattern; j++)
			if (evbus_wild(s[j]) && slen != 1)
				return "has a wildcard that is not a whole segment ('*' and '>' must stand alone between dots)";
		if (pattern && slen == 1 && s[start] == '>' && i != len)
			return "has '>' before the last segment ('>' may only be the last segment)";
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
		*why = evbus_explain(s, pattern);
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
