/* route.c - per-datagram route lookups of the mesh and their cache. */
#include "route.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "election.h"
#include "hash.h"
#include "util.h"

size_t route_origin_find(const struct lsdb *db, uint64_t origin, long *roots,
			 size_t cap, const char **island)
{
	size_t n = 0;

	*island = NULL;
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];

		for (size_t k = 0; k < a->nmembers; k++) {
			if (a->members[k].node != origin)
				continue;
			if (!*island)
				*island = a->members[k].island;
			if (n < cap)
				roots[n++] = (long)i;
			break;
		}
	}
	return n;
}

/* One member that exports or wants the channel, for route_keep. */
struct cand {
	const char *island;
	uint64_t node, weight;
	size_t lsa;
	bool wants;
};

/* By island, then the election's order (the winner first). */
static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c = strcmp(a->island, b->island);

	if (c)
		return c;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	if (a->node != b->node)
		return a->node > b->node ? -1 : 1;
	return 0;
}

size_t route_keep(const struct lsdb *db, const bool *usable,
		  const struct channel *ch, const char *skip_island, bool *keep)
{
	struct cand *v = NULL;
	size_t n = 0, cap = 0, kept = 0;

	memset(keep, 0, db->n * sizeof(*keep));
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];

		if (usable && !usable[i])
			continue;
		for (size_t k = 0; k < a->nmembers; k++) {
			const struct lsa_member *m = &a->members[k];
			bool wants = lsa_member_has(m, ch, false);

			if (!wants && !lsa_member_has(m, ch, true))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = (struct cand){ m->island, m->node,
						election_weight(m->node, ch), i,
						wants };
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cand_cmp);
	/* The first of each island's run is its forwarder; every LSA that
	 * lists it as wanting the channel (two, when it is dual-homed) is a
	 * destination. */
	for (size_t s = 0, e; s < n; s = e) {
		for (e = s + 1; e < n && !strcmp(v[e].island, v[s].island); e++)
			;
		if (skip_island && !strcmp(v[s].island, skip_island))
			continue;
		for (size_t k = s; k < e; k++)
			if (v[k].node == v[s].node && v[k].wants &&
			    !keep[v[k].lsa]) {
				keep[v[k].lsa] = true;
				kept++;
			}
	}
	free(v);
	return kept;
}

uint64_t route_topology_digest(const struct lsdb *db)
{
	uint64_t d = 0;

	/* A sum of one mix per directed edge: the order of LSAs and of
	 * their links does not matter. */
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];

		for (size_t k = 0; k < a->nlinks; k++) {
			const struct lsa_link *l = &a->links[k];
			const struct lsa *b;

			if (l->cost == LSA_COST_INF ||
			    !(b = lsdb_find(db, l->node)) ||
			    lsa_cost_to(b, a->node) == LSA_COST_INF)
				continue;
			d += hash_mix64(hash_mix64(hash_mix64(a->node) ^
						   l->node) ^ l->cost);
		}
	}
	return d;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

void route_cache_init(struct route_cache *rc, size_t origins, size_t routes)
{
	memset(rc, 0, sizeof(*rc));
	rc->osets = pow2_at_least(origins / ROUTE_CACHE_WAYS);
	rc->rsets = pow2_at_least(routes / ROUTE_CACHE_WAYS);
}

void route_cache_exit(struct route_cache *rc)
{
	free(rc->origins);
	free(rc->routes);
	memset(rc, 0, sizeof(*rc));
}

/* A lookup of generation gen: a new generation empties the count (its
 * entries are all stale now). */
static void route_cache_gen(struct route_cache *rc, uint64_t gen)
{
	if (rc->gen != gen) {
		rc->gen = gen;
		rc->entries = 0;
	}
	rc->tick++;
}

/* Which way of a set to refill, given each way's generation and last
 * use: one of another generation, else the least recently used (an
 * eviction: the entry count stays). */
static size_t route_cache_victim(struct route_cache *rc, const uint64_t *gens,
				 const uint64_t *used, uint64_t gen)
{
	size_t victim = 0;

	for (size_t w = 0; w < ROUTE_CACHE_WAYS; w++) {
		if (gens[w] != gen) {
			rc->entries++;
			return w;
		}
		if (used[w] < used[victim])
			victim = w;
	}
	rc->evictions++;
	return victim;
}

struct route_origin *route_cache_origin(struct route_cache *rc, uint64_t gen,
					uint64_t origin, bool *hit)
{
	struct route_origin *set, *e;
	uint64_t gens[ROUTE_CACHE_WAYS], used[ROUTE_CACHE_WAYS];
	size_t s;

	if (!rc->origins)
		rc->origins = xcalloc(rc->osets * ROUTE_CACHE_WAYS,
				      sizeof(*rc->origins));
	route_cache_gen(rc, gen);
	s = hash_mix64(origin ^ 0x6f726967696e2121ull) & (rc->osets - 1);
	set = &rc->origins[s * ROUTE_CACHE_WAYS];
	for (size_t w = 0; w < ROUTE_CACHE_WAYS; w++) {
		if (set[w].gen == gen && set[w].origin == origin) {
			set[w].used = rc->tick;
			rc->hits++;
			*hit = true;
			return &set[w];
		}
	}
	rc->misses++;
	for (size_t w = 0; w < ROUTE_CACHE_WAYS; w++) {
		gens[w] = set[w].gen;
		used[w] = set[w].used;
	}
	e = &set[route_cache_victim(rc, gens, used, gen)];
	memset(e, 0, sizeof(*e));
	e->gen = gen;
	e->origin = origin;
	e->used = rc->tick;
	*hit = false;
	return e;
}

static uint64_t route_key_hash(uint64_t root, const struct channel *ch,
			       const char *island)
{
	return hash_mix64(hash_channel(ch) ^ hash_mix64(root) ^
			  hash_bytes(island, strlen(island), 0x726f757465ull));
}

struct route_entry *route_cache_route(struct route_cache *rc, uint64_t gen,
				      uint64_t root, const struct channel *ch,
				      const char *island, bool *hit)
{
	struct route_entry *set, *e;
	uint64_t gens[ROUTE_CACHE_WAYS], used[ROUTE_CACHE_WAYS];
	size_t s;

	if (!rc->routes)
		rc->routes = xcalloc(rc->rsets * ROUTE_CACHE_WAYS,
				     sizeof(*rc->routes));
	route_cache_gen(rc, gen);
	s = route_key_hash(root, ch, island) & (rc->rsets - 1);
	set = &rc->routes[s * ROUTE_CACHE_WAYS];
	for (size_t w = 0; w < ROUTE_CACHE_WAYS; w++) {
		e = &set[w];
		if (e->gen == gen && e->root == root &&
		    channel_equal(&e->ch, ch) && !strcmp(e->island, island)) {
			e->used = rc->tick;
			rc->hits++;
			*hit = true;
			return e;
		}
	}
	rc->misses++;
	for (size_t w = 0; w < ROUTE_CACHE_WAYS; w++) {
		gens[w] = set[w].gen;
		used[w] = set[w].used;
	}
	e = &set[route_cache_victim(rc, gens, used, gen)];
	memset(e, 0, offsetof(struct route_entry, node));
	e->gen = gen;
	e->root = root;
	e->ch = *ch;
	snprintf(e->island, sizeof(e->island), "%s", island);
	e->used = rc->tick;
	*hit = false;
	return e;
}
