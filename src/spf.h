/* spf.h - shortest-path trees over the link-state database, and their
 * pruning to where a channel is wanted. Pure. See docs/mesh.md.
 *
 * The graph: one vertex per LSA; an edge u -> v when u lists v and v lists
 * u (both ends agree the link is up), of the cost u gives, unless either
 * end says LSA_COST_INF (draining). Dijkstra from the root; of two paths
 * of equal cost the one through the parent with the lower node id wins,
 * and vertices of equal distance are settled in node id order, so every
 * node that holds the same database computes the same tree. O(V^2 + E):
 * meant for meshes of hundreds of hubs, not millions.
 */
#ifndef MCFERRY_SPF_H
#define MCFERRY_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lsdb.h"

#define SPF_UNREACHABLE UINT64_MAX

struct spf_tree {
	uint64_t root;
	size_t n;            /* = the database's n when computed */
	uint64_t *dist;      /* per database index; SPF_UNREACHABLE */
	long *parent;        /* database index of the parent; -1 */
};

/* The tree of root over db (indices are db's). 0, or -ENOENT when root
 * has no LSA. t is (re)allocated; spf_tree_free it. */
int spf_compute(const struct lsdb *db, uint64_t root, struct spf_tree *t);
void spf_tree_free(struct spf_tree *t);
/* Prune: keep[i] on entry says vertex i wants the channel; on return it
 * says whether i is in the pruned tree (it, or a vertex below it, wants
 * it). Unreachable vertices end false. */
void spf_prune(const struct spf_tree *t, bool *keep);
/* The children of vertex i in the tree with keep[] set (database
 * indices into out, at most cap). Returns how many. */
size_t spf_children(const struct spf_tree *t, long i, const bool *keep,
		    long *out, size_t cap);

#endif
