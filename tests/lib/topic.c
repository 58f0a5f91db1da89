// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus: evbus_check_topic() and evbus_check_pattern() — verdicts, the
 * rule each rejection names, and agreement with the module's parser on
 * random input.  Needs no device.
 */
#include "lib_test.h"
#include "topic.h"

struct bad_case {
	const char *s;
	const char *why;	/* a substring of the explanation */
};

TEST(valid_topics_and_patterns)
{
	static const char *const topics[] = {
		"app", "app.v1.lifecycle.start", "host-1:eth0.rx_bytes",
		"A.b_c.D-e:F", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t",
	};
	static const char *const patterns[] = {
		">", "*", "app.>", "app.*.input", "*.*.>", "a.b",
	};
	const char *why = "unset";
	size_t i;

	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		EXPECT_EQ(0, evbus_check_topic(topics[i], &why));
		EXPECT_EQ(NULL, why);
		EXPECT_EQ(0, evbus_check_pattern(topics[i], NULL));
	}
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		EXPECT_EQ(0, evbus_check_pattern(patterns[i], &why));
}

TEST(boundaries_255_bytes_and_20_segments)
{
	char s[EVBUS_TOPIC_MAX + 2];
	const char *why;
	int i;

	memset(s, 'a', EVBUS_TOPIC_MAX);
	s[EVBUS_TOPIC_MAX] = '\0';
	EXPECT_EQ(0, evbus_check_topic(s, &why));
	s[EVBUS_TOPIC_MAX] = 'a';
	s[EVBUS_TOPIC_MAX + 1] = '\0';
	EXPECT_EQ(-EINVAL, evbus_check_topic(s, &why));
	EXPECT_NE(NULL, strstr(why, "255"));

	strcpy(s, "a");
	for (i = 1; i < EVBUS_SEGMENTS_MAX; i++)
		strcat(s, ".a");
	EXPECT_EQ(0, evbus_check_topic(s, &why));
	strcat(s, ".a");
	EXPECT_EQ(-EINVAL, evbus_check_topic(s, &why));
	EXPECT_NE(NULL, strstr(why, "20 segments"));
}

TEST(rejections_name_the_rule)
{
	static const struct bad_case topics[] = {
		{ "", "empty" },
		{ ".a", "empty segment" },
		{ "a.", "empty segment" },
		{ "a..b", "empty segment" },
		{ "a b", "character" },
		{ "a/b", "character" },
		{ "caf\xc3\xa9", "character" },
		{ "a.*", "wildcard" },
		{ "a.>", "wildcard" },
	};
	static const struct bad_case patterns[] = {
		{ "", "empty" },
		{ "a..>", "empty segment" },
		{ "a.>.b", "last segment" },
		{ ">.a", "last segment" },
		{ "ab*", "whole segment" },
		{ "a>", "whole segment" },
		{ "**", "whole segment" },
		{ "*>", "whole segment" },
		{ ">>", "whole segment" },
		{ "a.b c", "character" },
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		why = NULL;
		EXPECT_EQ(-EINVAL, evbus_check_topic(topics[i].s, &why));
		ASSERT_NE(NULL, why);
		EXPECT_NE(NULL, strstr(why, topics[i].why))
			TH_LOG("topic '%s': '%s'", topics[i].s, why);
	}
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		why = NULL;
		EXPECT_EQ(-EINVAL, evbus_check_pattern(patterns[i].s, &why));
		ASSERT_NE(NULL, why);
		EXPECT_NE(NULL, strstr(why, patterns[i].why))
			TH_LOG("pattern '%s': '%s'", patterns[i].s, why);
	}
	EXPECT_EQ(-EINVAL, evbus_check_topic(NULL, &why));
	EXPECT_EQ(-EINVAL, evbus_check_pattern(NULL, NULL));
}

/*
 * Random strings over the interesting bytes: verdicts equal the module's,
 * and every rejection is explained by a specific rule.
 */
TEST(agrees_with_the_module_parser)
{
	static const char alphabet[] = "ab.*>:-_ \x7f\x80Z9";
	struct evbus_segs segs;
	char s[300];
	unsigned int seed = 12345, i, j, len, mismatches = 0;
	const char *why;

	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245 + 12345;
		len = (seed >> 16) % (i % 100 ? 12 : 270);
		for (j = 0; j < len; j++) {
			seed = seed * 1103515245 + 12345;
			s[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		s[len] = '\0';
		if ((evbus_check_topic(s, &why) == 0) !=
		    (evbus_topic_parse(s, len, &segs) == 0))
			mismatches++;
		if ((evbus_check_pattern(s, &why) == 0) !=
		    (evbus_pattern_parse(s, len, &segs) == 0))
			mismatches++;
		/* Every rejection explains itself with a specific rule. */
		if (evbus_check_pattern(s, &why) && strstr(why, "is not a valid"))
			mismatches++;
	}
	EXPECT_EQ(0, mismatches);
}

TEST_HARNESS_MAIN
