/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus topic and pattern parsing, matching and hashing.
 *
 * Pure C with no kernel dependencies beyond a few types and errno values,
 * so the same code is built into the module and into host tests.
 */
#ifndef _EVBUS_TOPIC_H
#define _EVBUS_TOPIC_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#else
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#endif

#include <linux/evbus.h>

/* Segment i is s[off[i]] .. s[off[i] + len[i] - 1]; offsets fit in 8 bits. */
struct evbus_segs {
	unsigned int n;
	bool sys;		/* the first segment is "$sys" */
	unsigned char off[EVBUS_SEGMENTS_MAX];
	unsigned char len[EVBUS_SEGMENTS_MAX];
};

enum evbus_seg_kind {
	EVBUS_SEG_LITERAL,
	EVBUS_SEG_STAR,		/* "*": exactly one segment */
	EVBUS_SEG_GT,		/* ">": one or more trailing segments */
};

/* Both return 0 or -EINVAL; segs is filled on success, segs->n = 0 if not. */
int evbus_topic_parse(const char *s, size_t len, struct evbus_segs *segs);
int evbus_pattern_parse(const char *s, size_t len, struct evbus_segs *segs);

enum evbus_seg_kind evbus_seg_kind(const char *s,
				   const struct evbus_segs *segs,
				   unsigned int i);

/* Both inputs must already be valid (parsed); O(plen + tlen), no recursion. */
bool evbus_pattern_match(const char *pat, size_t plen,
			 const char *topic, size_t tlen);

/* True if no segment of the parsed pattern is a wildcard. */
bool evbus_pattern_is_literal(const char *s, const struct evbus_segs *segs);

/*
 * Set relations of two valid patterns (topics are patterns too), by their
 * segments, O(segments):
 *  within: every topic p matches, a matches too;
 *  overlap: some topic matches both.
 */
bool evbus_pattern_within(const char *p, const struct evbus_segs *ps,
			  const char *a, const struct evbus_segs *as);
bool evbus_pattern_overlap(const char *p, const struct evbus_segs *ps,
			   const char *a, const struct evbus_segs *as);

/* Seeded 32-bit string hash: FNV-1a followed by an avalanche mix. */
unsigned int evbus_hash(unsigned int seed, const char *s, size_t len);

#endif /* _EVBUS_TOPIC_H */
