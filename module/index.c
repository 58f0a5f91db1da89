// SPDX-License-Identifier: GPL-2.0
/*
 * evbus subscription index: a segment trie.
 *
 * Every pattern is a path from the root, one node per segment; a literal
 * segment is a child found through one global hash table keyed by
 * (parent, segment), a '*' segment is the parent's single star child.  A
 * subscription hangs on the node where its pattern ends: on the node's
 * exact list, or, for a trailing '>', on its tail list.
 *
 * Matching a topic of n segments walks only nodes that can match: at each
 * level, the literal child for the topic's segment and the star child, so
 * the cost depends on the patterns that share a prefix with the topic, not
 * on how many subscriptions exist elsewhere.  The recursion is bounded by
 * EVBUS_SEGMENTS_MAX.
 *
 * Everything here runs under evbus_bus_lock.
 */
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/hash.h>
#include <linux/lockdep.h>

#include "evbus.h"

#define EVBUS_INDEX_BITS	12

struct evbus_node {
	struct hlist_node hash;		/* in evbus_nodes, unless star/root */
	struct evbus_node *parent;
	struct evbus_node *star;	/* child for '*' */
	struct hlist_head exact;	/* subs whose pattern ends here */
	struct hlist_head tail;		/* subs whose pattern ends in '>' here */
	u32 refs;			/* children + subscriptions */
	u32 key;			/* hash of (parent, segment) */
	u8 seg_len;
	char seg[];
};

DEFINE_MUTEX(evbus_bus_lock);
static DEFINE_HASHTABLE(evbus_nodes, EVBUS_INDEX_BITS);
static struct evbus_node evbus_root;	/* static: empty lists, no refs */

static u32 evbus_node_key(const struct evbus_node *parent, const char *s,
			  u32 len)
{
	return evbus_hash(hash_ptr(parent, 32), s, len);
}

static struct evbus_node *evbus_child(struct evbus_node *parent,
				      const char *s, u32 len, u32 key)
{
	struct evbus_node *n;

	hash_for_each_possible(evbus_nodes, n, hash, key) {
		if (n->parent == parent && n->seg_len == len &&
		    !memcmp(n->seg, s, len))
			return n;
	}
	return NULL;
}

/* Drop one reference; free empty nodes up towards the root. */
static void evbus_node_put(struct evbus_node *n)
{
	while (!--n->refs && n != &evbus_root) {
		struct evbus_node *parent = n->parent;

		if (parent->star == n)
			parent->star = NULL;
		else
			hash_del(&n->hash);
		kfree(n);
		n = parent;
	}
}

void evbus_index_exit(void)
{
	/* Every file is closed before the module can go: nothing is left. */
	WARN_ON(evbus_root.refs);
}

/*
 * Insert sub along the path of its parsed pattern (text in sub->pattern),
 * creating nodes as needed.  Returns 0 or -ENOMEM with the index unchanged.
 */
int evbus_index_add(struct evbus_sub_entry *sub, const struct evbus_segs *segs)
{
	struct evbus_node *n = &evbus_root, *child;
	unsigned int i, last = segs->n - 1;

	lockdep_assert_held(&evbus_bus_lock);
	sub->tail = evbus_seg_kind(sub->pattern, segs, last) == EVBUS_SEG_GT;
	for (i = 0; i < segs->n; i++) {
		const char *s = sub->pattern + segs->off[i];
		u32 len = segs->len[i];
		enum evbus_seg_kind kind = evbus_seg_kind(sub->pattern, segs, i);
		u32 key = 0;

		if (kind == EVBUS_SEG_GT)
			break;		/* always last: sub->tail */
		if (kind == EVBUS_SEG_STAR) {
			child = n->star;
		} else {
			key = evbus_node_key(n, s, len);
			child = evbus_child(n, s, len, key);
		}
		if (!child) {
			child = kzalloc(struct_size(child, seg, len),
					GFP_KERNEL_ACCOUNT);
			if (!child)
				goto err_unwind;
			child->parent = n;
			INIT_HLIST_HEAD(&child->exact);
			INIT_HLIST_HEAD(&child->tail);
			child->seg_len = len;
			memcpy(child->seg, s, len);
			child->key = key;
			if (kind == EVBUS_SEG_STAR)
				n->star = child;
			else
				hash_add(evbus_nodes, &child->hash, key);
			n->refs++;
		}
		n = child;
	}
	n->refs++;
	sub->node = n;
	hlist_add_head(&sub->node_link, sub->tail ? &n->tail : &n->exact);
	return 0;

err_unwind:
	/* n holds no reference for the failed child: release the empty path. */
	if (n != &evbus_root && !n->refs) {
		n->refs = 1;
		evbus_node_put(n);
	}
	return -ENOMEM;
}

void evbus_index_del(struct evbus_sub_entry *sub)
{
	lockdep_assert_held(&evbus_bus_lock);
	hlist_del(&sub->node_link);
	evbus_node_put(sub->node);
	sub->node = NULL;
}

static void evbus_deliver_list(struct hlist_head *head, u64 seq,
			       evbus_match_fn fn, void *arg)
{
	struct evbus_sub_entry *sub;

	hlist_for_each_entry(sub, head, node_link) {
		struct evbus_file *ef = sub->owner;

		/* A file with several matching patterns gets the event once. */
		if (ef->match_seq == seq)
			continue;
		ef->match_seq = seq;
		fn(ef, arg);
	}
}

static void evbus_match_level(struct evbus_node *n, const struct evbus_msg *m,
			      unsigned int level, evbus_match_fn fn, void *arg)
{
	const struct evbus_segs *segs = &m->segs;
	struct evbus_node *child;
	const char *s;
	u32 len;

	if (level == segs->n) {
		evbus_deliver_list(&n->exact, m->seq, fn, arg);
		return;
	}
	/* '>' here matches the one or more segments that remain. */
	evbus_deliver_list(&n->tail, m->seq, fn, arg);

	s = m->topic + segs->off[level];
	len = segs->len[level];
	child = evbus_child(n, s, len, evbus_node_key(n, s, len));
	if (child)
		evbus_match_level(child, m, level + 1, fn, arg);
	if (n->star)
		evbus_match_level(n->star, m, level + 1, fn, arg);
}

/* Call fn once for every file with a pattern matching m's topic. */
void evbus_index_match(const struct evbus_msg *m, evbus_match_fn fn, void *arg)
{
	lockdep_assert_held(&evbus_bus_lock);
	evbus_match_level(&evbus_root, m, 0, fn, arg);
}
