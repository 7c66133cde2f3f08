/* spf.c - shortest-path trees and pruning; see spf.h. */
#include "spf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void spf_tree_free(struct spf_tree *t)
{
	free(t->dist);
	free(t->parent);
	memset(t, 0, sizeof(*t));
}

int spf_compute(const struct lsdb *db, uint64_t root, struct spf_tree *t)
{
	long r = lsdb_index(db, root);
	bool *done;

	spf_tree_free(t);
	t->root = root;
	t->n = db->n;
	t->dist = xmalloc((db->n ? db->n : 1) * sizeof(*t->dist));
	t->parent = xmalloc((db->n ? db->n : 1) * sizeof(*t->parent));
	for (size_t i = 0; i < db->n; i++) {
		t->dist[i] = SPF_UNREACHABLE;
		t->parent[i] = -1;
	}
	if (r < 0)
		return -ENOENT;
	done = xcalloc(db->n, sizeof(*done));
	t->dist[r] = 0;
	for (;;) {
		long u = -1;
		const struct lsa *a;

		/* The nearest unsettled vertex; the lower node id (the lower
		 * index: db is sorted) among equals. */
		for (size_t i = 0; i < db->n; i++)
			if (!done[i] && t->dist[i] != SPF_UNREACHABLE &&
			    (u < 0 || t->dist[i] < t->dist[u]))
				u = (long)i;
		if (u < 0)
			break;
		done[u] = true;
		a = db->v[u];
		for (size_t k = 0; k < a->nlinks; k++) {
			long v = lsdb_index(db, a->links[k].node);
			uint32_t c = a->links[k].cost, back;
			uint64_t d;

			if (v < 0 || done[v] || c == LSA_COST_INF)
				continue;
			back = lsa_cost_to(db->v[v], a->node);
			if (back == LSA_COST_INF)
				continue; /* one-way, or drained at v */
			/* The lower of u's costs to v, if it lists v twice. */
			c = lsa_cost_to(a, a->links[k].node);
			d = t->dist[u] + c;
			if (d < t->dist[v] ||
			    (d == t->dist[v] && t->parent[v] >= 0 &&
			     db->v[u]->node < db->v[t->parent[v]]->node)) {
				t->dist[v] = d;
				t->parent[v] = u;
			}
		}
	}
	free(done);
	return 0;
}

void spf_prune(const struct spf_tree *t, bool *keep)
{
	/* Walk each wanting vertex up to the root, marking the path; a
	 * vertex already marked ends the walk. */
	bool *mark = xcalloc(t->n ? t->n : 1, sizeof(*mark));

	for (size_t i = 0; i < t->n; i++) {
		if (!keep[i] || t->dist[i] == SPF_UNREACHABLE)
			continue;
		for (long v = (long)i; v >= 0 && !mark[v]; v = t->parent[v])
			mark[v] = true;
	}
	memcpy(keep, mark, t->n * sizeof(*keep));
	free(mark);
}

size_t spf_children(const struct spf_tree *t, long i, const bool *keep,
		    long *out, size_t cap)
{
	size_t n = 0;

	for (size_t v = 0; v < t->n; v++)
		if (t->parent[v] == i && (!keep || keep[v]) && n < cap)
			out[n++] = (long)v;
	return n;
}
