// SPDX-License-Identifier: GPL-2.0
/*
 * evbus subscription index: a segment trie, read under RCU.
 *
 * Every pattern is a path from the root, one node per segment; a literal
 * segment is a child found through the bus's resizable hash table keyed by
 * (parent, segment), a '*' segment is the parent's single star child.  A
 * subscription hangs on the node where its pattern ends: on the node's
 * exact list, or, for a trailing '>', on its tail list.
 *
 * Matching a topic of n segments visits only nodes whose path matches a
 * prefix of the topic: at each level the literal child for the topic's
 * segment (one hash lookup, O(1) however large the index: the table grows
 * with it and its seed is random) and the star child.  So the cost of one
 * match is at most n lookups per pattern sharing a matching prefix with the
 * topic, plus one call per matching subscription, and never depends on
 * patterns elsewhere.  The recursion is bounded by EVBUS_SEGMENTS_MAX.
 *
 * Kernel topics ("$sys" first) are reached only through the root's literal
 * "$sys" child: the root's '*' child and '>' list are skipped for them.
 *
 * The same trie holds a bus's subscriptions and, in a second index, its
 * policy rules (policy.c): what hangs on a node is a struct
 * evbus_index_entry embedded in either.
 *
 * Writers hold the index's writer lock (bus.index_lock, or the policy's
 * lock); readers hold only rcu_read_lock().  Nodes and entries are freed
 * after a grace period.
 */
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/jhash.h>
#include <linux/hash.h>
#include <linux/rculist.h>

#include "evbus.h"

struct evbus_node {
	struct rhash_head hash;		/* in index.children, unless star/root */
	struct evbus_node *parent;
	struct evbus_node __rcu *star;	/* child for '*' */
	struct hlist_head exact;	/* entries whose pattern ends here */
	struct hlist_head tail;		/* entries whose pattern ends in '>' here */
	struct rcu_head rcu;
	u32 refs;			/* children + entries; writer lock */
	u8 seg_len;
	char seg[];
};

/* What a literal child is looked up by. */
struct evbus_node_key {
	const struct evbus_node *parent;
	const char *seg;
	u32 len;
};

static u32 evbus_key_hash(const struct evbus_node *parent, const char *s,
			  u32 len, u32 seed)
{
	return jhash(s, len, seed ^ hash_ptr(parent, 32));
}

static u32 evbus_node_hashfn(const void *data, u32 len, u32 seed)
{
	const struct evbus_node_key *k = data;

	return evbus_key_hash(k->parent, k->seg, k->len, seed);
}

static u32 evbus_node_obj_hashfn(const void *data, u32 len, u32 seed)
{
	const struct evbus_node *n = data;

	return evbus_key_hash(n->parent, n->seg, n->seg_len, seed);
}

static int evbus_node_cmpfn(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct evbus_node_key *k = arg->key;
	const struct evbus_node *n = obj;

	return n->parent != k->parent || n->seg_len != k->len ||
	       memcmp(n->seg, k->seg, k->len);
}

static const struct rhashtable_params evbus_node_params = {
	.head_offset = offsetof(struct evbus_node, hash),
	.hashfn = evbus_node_hashfn,
	.obj_hashfn = evbus_node_obj_hashfn,
	.obj_cmpfn = evbus_node_cmpfn,
	.automatic_shrinking = true,
};

static struct evbus_node *evbus_node_alloc(struct evbus_node *parent,
					   const char *s, u32 len)
{
	struct evbus_node *n = kzalloc(struct_size(n, seg, len), EVBUS_GFP);

	if (!n)
		return NULL;
	n->parent = parent;
	INIT_HLIST_HEAD(&n->exact);
	INIT_HLIST_HEAD(&n->tail);
	n->seg_len = len;
	memcpy(n->seg, s, len);
	return n;
}

int evbus_index_init(struct evbus_index *idx)
{
	int ret;

	idx->root = evbus_node_alloc(NULL, "", 0);
	if (!idx->root)
		return -ENOMEM;
	ret = rhashtable_init(&idx->children, &evbus_node_params);
	if (ret)
		kfree(idx->root);
	return ret;
}

void evbus_index_destroy(struct evbus_index *idx)
{
	/* Every subscription left with its file: nothing is left. */
	WARN_ON(idx->root->refs);
	rhashtable_destroy(&idx->children);
	kfree(idx->root);
}

/* The literal child of parent for segment s; caller holds rcu_read_lock(). */
static struct evbus_node *evbus_child(struct evbus_index *idx,
				      struct evbus_node *parent,
				      const char *s, u32 len)
{
	struct evbus_node_key key = { .parent = parent, .seg = s, .len = len };

	return rhashtable_lookup(&idx->children, &key, evbus_node_params);
}

/*
 * The same for a writer: under index_lock no node can go, so the result
 * stays valid after the lookup's own read section.
 */
static struct evbus_node *evbus_child_locked(struct evbus_index *idx,
					     struct evbus_node *parent,
					     const char *s, u32 len)
{
	struct evbus_node_key key = { .parent = parent, .seg = s, .len = len };

	return rhashtable_lookup_fast(&idx->children, &key, evbus_node_params);
}

/* Drop one reference; unlink empty nodes up towards the root. */
static void evbus_node_put(struct evbus_index *idx, struct evbus_node *n)
{
	while (!--n->refs && n != idx->root) {
		struct evbus_node *parent = n->parent;

		if (rcu_access_pointer(parent->star) == n)
			RCU_INIT_POINTER(parent->star, NULL);
		else
			WARN_ON(rhashtable_remove_fast(&idx->children, &n->hash,
						       evbus_node_params));
		kfree_rcu(n, rcu);
		n = parent;
	}
}

/* The child of n for segment i of the pattern, created if needed. */
static struct evbus_node *evbus_child_get(struct evbus_index *idx,
					  struct evbus_node *n, const char *s,
					  u32 len, bool star)
{
	struct evbus_node *child;

	child = star ? rcu_dereference_protected(n->star, true) :
		       evbus_child_locked(idx, n, s, len);
	if (child)
		return child;
	child = evbus_node_alloc(n, s, len);
	if (!child)
		return NULL;
	if (star) {
		rcu_assign_pointer(n->star, child);
	} else if (rhashtable_insert_fast(&idx->children, &child->hash,
					  evbus_node_params)) {
		kfree(child);
		return NULL;
	}
	n->refs++;
	return child;
}

/*
 * Insert ent along the path of its parsed pattern, creating nodes as
 * needed.  Returns 0 or -ENOMEM with the index unchanged.
 */
int evbus_index_add(struct evbus_index *idx, struct evbus_index_entry *ent,
		    const char *pattern, const struct evbus_segs *segs)
{
	struct evbus_node *n = idx->root, *child;
	unsigned int i, last = segs->n - 1;

	ent->tail = evbus_seg_kind(pattern, segs, last) == EVBUS_SEG_GT;
	for (i = 0; i < segs->n; i++) {
		enum evbus_seg_kind kind = evbus_seg_kind(pattern, segs, i);

		if (kind == EVBUS_SEG_GT)
			break;		/* always last: ent->tail */
		child = evbus_child_get(idx, n, pattern + segs->off[i],
					segs->len[i], kind == EVBUS_SEG_STAR);
		if (!child)
			goto err_unwind;
		n = child;
	}
	n->refs++;
	ent->node = n;
	hlist_add_head_rcu(&ent->link, ent->tail ? &n->tail : &n->exact);
	return 0;

err_unwind:
	/* n holds no reference for the failed child: release the empty path. */
	if (n != idx->root && !n->refs) {
		n->refs = 1;
		evbus_node_put(idx, n);
	}
	return -ENOMEM;
}

/* The entry is freed by the caller after a grace period. */
void evbus_index_del(struct evbus_index *idx, struct evbus_index_entry *ent)
{
	hlist_del_rcu(&ent->link);
	evbus_node_put(idx, ent->node);
	ent->node = NULL;
}

struct evbus_match {
	struct evbus_index *idx;
	const char *topic;
	const struct evbus_segs *segs;
	evbus_match_fn fn;
	void *arg;
};

static bool evbus_match_list(struct hlist_head *head, struct evbus_match *mt)
{
	struct evbus_index_entry *ent;

	hlist_for_each_entry_rcu(ent, head, link)
		if (!mt->fn(ent, mt->arg))
			return false;
	return true;
}

/* Returns false as soon as fn does (stop). */
static bool evbus_match_level(struct evbus_node *n, unsigned int level,
			      struct evbus_match *mt)
{
	const struct evbus_segs *segs = mt->segs;
	bool wild_ok = level || !segs->sys;	/* see "Kernel topics" */
	struct evbus_node *child;
	const char *s;

	if (level == segs->n)
		return evbus_match_list(&n->exact, mt);
	/* '>' here matches the one or more segments that remain. */
	if (wild_ok && !evbus_match_list(&n->tail, mt))
		return false;

	s = mt->topic + segs->off[level];
	child = evbus_child(mt->idx, n, s, segs->len[level]);
	if (child && !evbus_match_level(child, level + 1, mt))
		return false;
	if (!wild_ok)
		return true;
	child = rcu_dereference(n->star);
	return !child || evbus_match_level(child, level + 1, mt);
}

/*
 * Call fn for every entry whose pattern matches the topic (a file with
 * several such patterns is passed once per pattern), until fn returns
 * false.  Returns false if it stopped early.  Caller holds rcu_read_lock().
 */
bool evbus_index_match(struct evbus_index *idx, const char *topic,
		       const struct evbus_segs *segs, evbus_match_fn fn,
		       void *arg)
{
	struct evbus_match mt = {
		.idx = idx, .topic = topic, .segs = segs, .fn = fn, .arg = arg,
	};

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "evbus_index_match without RCU");
	return evbus_match_level(idx->root, 0, &mt);
}
