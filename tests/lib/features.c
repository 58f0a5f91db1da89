// SPDX-License-Identifier: GPL-2.0
/*
 * Feature names: every EVBUS_FEAT_* bit that linux/evbus.h defines has
 * exactly one name in its EVBUS_FEAT_NAMES table, the evbus command prints
 * those names (cli/format.c), and every bit the loaded module reports is
 * one the header names.  Only the last test needs the device.
 */
#include <ctype.h>

#include "lib_test.h"
#include "cli.h"

/* Entries in EVBUS_FEAT_NAMES, and the bits they name. */
#define COUNT_ONE(bit, name)	+ 1
#define OR_BIT(bit, name)	| (bit)
#define NNAMES	(0 EVBUS_FEAT_NAMES(COUNT_ONE))
#define NAMED	(0 EVBUS_FEAT_NAMES(OR_BIT))

/*
 * Every EVBUS_FEAT_* object-like macro of the header, as the preprocessor
 * sees it: lib.mk writes feat_defs.h from `cc -dM -E`, so a bit added to
 * the header without a name cannot hide from this list.
 */
static const struct {
	uint64_t bit;
	const char *macro;
} defs[] = {
#define FEAT_DEF(m) { m, #m },
#include "feat_defs.h"
#undef FEAT_DEF
};
#define NDEFS	(sizeof(defs) / sizeof(defs[0]))

/* Render put_features() into a string the caller frees. */
static char *features_text(uint64_t features)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	put_features(f, features);
	if (fclose(f))
		return NULL;
	return out;
}

TEST(every_defined_bit_has_one_name)
{
	size_t i, j;

	ASSERT_LT(4, NDEFS);	/* the header was read at all */
	for (i = 0; i < NDEFS; i++) {
		EXPECT_EQ(1, __builtin_popcountll(defs[i].bit))
			TH_LOG("%s is not a single bit", defs[i].macro);
		EXPECT_NE(NULL, feature_name(defs[i].bit))
			TH_LOG("%s has no name in EVBUS_FEAT_NAMES", defs[i].macro);
		for (j = 0; j < i; j++)
			EXPECT_NE(defs[j].bit, defs[i].bit)
				TH_LOG("%s and %s", defs[j].macro, defs[i].macro);
	}
	/*
	 * The table names nothing else: as many entries as defined bits (and
	 * no bit twice, or feature_name()'s switch would not compile).
	 */
	EXPECT_EQ(NDEFS, NNAMES);
	EXPECT_EQ(NDEFS, __builtin_popcountll(NAMED));
}

TEST(names_are_distinct_lowercase_words)
{
	const char *name, *p;
	size_t i, j;

	for (i = 0; i < NDEFS; i++) {
		name = feature_name(defs[i].bit);
		ASSERT_NE(NULL, name);
		EXPECT_NE('\0', name[0]);
		for (p = name; *p; p++)
			EXPECT_TRUE(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-')
				TH_LOG("name '%s'", name);
		for (j = 0; j < i; j++)
			EXPECT_STRNE(feature_name(defs[j].bit), name);
	}
}

TEST(cli_names_every_defined_bit)
{
	char *out = features_text(NAMED);
	char word[64];
	size_t i;

	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, strstr(out, "unknown")) TH_LOG("%s", out);
	for (i = 0; i < NDEFS; i++) {
		snprintf(word, sizeof(word), " %s", feature_name(defs[i].bit));
		EXPECT_NE(NULL, strstr(out, word)) TH_LOG("'%s' missing from '%s'", word, out);
	}
	free(out);

	out = features_text(EVBUS_FEAT_URING_CMD | EVBUS_FEAT_NOWAIT_READ |
			    EVBUS_FEAT_RING_WAKE);
	ASSERT_NE(NULL, out);
	EXPECT_STREQ("0xe0 uring-cmd nowait-read ring-wake", out);
	free(out);
}

TEST(cli_reports_bits_the_header_does_not_name)
{
	char *out = features_text(EVBUS_FEAT_PUBLISH | (1ULL << 63));

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("0x8000000000000001 publish (unknown: 0x8000000000000000)", out);
	free(out);
}

TEST(kernel_features_are_all_named)
{
	struct evbus_version v;
	struct evbus *bus;
	char *out;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	ASSERT_EQ(0, evbus_query(bus, &v));
	evbus_close(bus);
	EXPECT_EQ(0, v.features & ~NAMED)
		TH_LOG("the module reports 0x%llx, the header names 0x%llx",
		       (unsigned long long)v.features, (unsigned long long)NAMED);
	out = features_text(v.features);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, strstr(out, "unknown")) TH_LOG("%s", out);
	free(out);
}

TEST_HARNESS_MAIN
