/* route_lookup.c - the per-datagram route lookup of a hub at 10, 50 and
 * 200 simulated hubs: the database pass it was (find the origin's hubs
 * among every LSA's members, check our parent in each root's tree, build
 * and prune the keep set, list our children) against the route cache of
 * src/route.h (two lookups). Also the cost of one cache miss (route_keep
 * with the mesh-wide election, prune, children). Pure code: no root, no
 * namespaces. Topology as bench/mesh_scale.c: a ring with a chord every 5
 * hubs, 2 gateways per hub (island I<hub>, one channel exported, two
 * wanted). Trees are precomputed in both cases (a hub computes them once
 * per database change). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh_ring.h"
#include "route.h"
#include "spf.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The pass hub.c made per datagram before the cache (its mesh_origin,
 * the reverse-path loop of hub_route_mesh, and mesh_forward). */
static size_t lookup_uncached(const struct lsdb *db,
			      const struct spf_tree *trees, long me,
			      uint64_t origin, uint64_t from,
			      const struct channel *ch)
{
	long roots[8], root = -1, kids[64];
	const char *island;
	size_t nr = route_origin_find(db, origin, roots, 8, &island);
	bool *keep;
	size_t nk;

	for (size_t i = 0; i < nr && root < 0; i++) {
		const struct spf_tree *t = &trees[roots[i]];

		if (t->parent[me] >= 0 && db->v[t->parent[me]]->node == from)
			root = roots[i];
	}
	if (root < 0 && nr)
		root = roots[0];
	if (root < 0)
		return 0;
	keep = calloc(db->n, sizeof(*keep));
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];

		for (size_t k = 0; k < a->nmembers && !keep[i]; k++)
			keep[i] = strcmp(a->members[k].island, island) &&
				  lsa_member_has(&a->members[k], ch, false);
	}
	spf_prune(&trees[root], keep);
	nk = spf_children(&trees[root], me, keep, kids, 64);
	free(keep);
	return nk;
}

/* A cache miss of the new code: route_keep (mesh-wide election), prune,
 * children. */
static size_t lookup_miss(const struct lsdb *db, const struct spf_tree *t,
			  long me, const char *island, const struct channel *ch)
{
	bool *keep = calloc(db->n, sizeof(*keep));
	long kids[64];
	size_t nk;

	route_keep(db, NULL, ch, island, keep);
	spf_prune(t, keep);
	nk = spf_children(t, me, keep, kids, 64);
	free(keep);
	return nk;
}

int main(void)
{
	static const size_t sizes[] = { 10, 50, 200 };
	char err[64];
	struct channel ch[3];

	channel_parse("239.1.1.1:5000", &ch[0], err, sizeof(err));
	channel_parse("239.1.1.2:5000", &ch[1], err, sizeof(err));
	channel_parse("239.1.1.3:5000", &ch[2], err, sizeof(err));
	printf("%6s %14s %14s %14s %10s\n", "hubs", "uncached_ns",
	       "cached_ns", "miss_us", "speedup");
	/* uncached_ns, cached_ns: per datagram; miss_us: one route computed
	 * on a miss (once per (root, channel, island) and database
	 * generation). */
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], sink = 0;
		struct lsdb db;
		struct spf_tree *trees = calloc(n, sizeof(*trees));
		struct route_cache rc;
		long me = (long)(n / 3);
		uint64_t *origins = calloc(n, sizeof(*origins));
		uint64_t *froms = calloc(n, sizeof(*froms));
		size_t reps = n <= 50 ? 200000 : 50000, mreps = 1000;
		double t0, t1, t2, t3;

		mesh_ring_build(&db, n, ch);
		for (size_t i = 0; i < n; i++)
			spf_compute(&db, db.v[i]->node, &trees[i]);
		/* Datagrams of every hub's first gateway, each from our
		 * parent in its hub's tree. */
		for (size_t i = 0; i < n; i++) {
			origins[i] = 500000 + 2 * i;
			froms[i] = trees[i].parent[me] >= 0 ?
					   db.v[trees[i].parent[me]]->node : 0;
		}
		route_cache_init(&rc, 2048, 2048);
		t0 = now_s();
		for (size_t r = 0; r < reps; r++) {
			size_t i = r % n;

			sink += lookup_uncached(&db, trees, me, origins[i],
						froms[i], &ch[0]);
		}
		t1 = now_s();
		/* The first pass over the origins fills the cache (misses,
		 * timed apart below); the timed passes hit. */
		for (size_t r = 0; r < n + reps; r++) {
			size_t i = r % n;
			const struct route_origin *o;
			struct route_entry *e;
			bool hit;

			o = route_cache_origin(&rc, 1, origins[i], &hit);
			if (!hit) {
				long roots[ROUTE_ROOTS_MAX];
				const char *island;
				struct route_origin *w = (struct route_origin *)o;

				w->nroots = route_origin_find(&db, origins[i],
							      roots,
							      ROUTE_ROOTS_MAX,
							      &island);
				w->known = island != NULL;
				snprintf(w->island, sizeof(w->island), "%s",
					 island ? island : "");
				w->root_index[0] = roots[0];
				w->roots[0] = db.v[roots[0]]->node;
			}
			e = route_cache_route(&rc, 1, o->roots[0], &ch[0],
					      o->island, &hit);
			if (!hit)
				e->n = lookup_miss(&db, &trees[o->root_index[0]],
						   me, o->island, &ch[0]);
			sink += e->n;
			if (r + 1 == n)
				t1 = now_s();
		}
		t2 = now_s();
		for (size_t r = 0; r < mreps; r++) {
			size_t i = r % n;
			char island[16];

			snprintf(island, sizeof(island), "I%zu", i);
			sink += lookup_miss(&db, &trees[i], me, island, &ch[0]);
		}
		t3 = now_s();
		printf("%6zu %14.1f %14.1f %14.2f %9.0fx\n", n,
		       (t1 - t0) * 1e9 / reps, (t2 - t1) * 1e9 / reps,
		       (t3 - t2) * 1e6 / mreps,
		       (t1 - t0) / (t2 - t1));
		if (sink == 42)
			printf(" ");
		for (size_t i = 0; i < n; i++)
			spf_tree_free(&trees[i]);
		free(trees);
		free(origins);
		free(froms);
		route_cache_exit(&rc);
		lsdb_exit(&db);
	}
	printf("cached: two lookups of route.h per datagram (hits after the "
	       "first datagram of each (origin) and (root, channel, island) "
	       "per database generation)\n");
	return 0;
}
