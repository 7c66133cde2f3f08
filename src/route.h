/* route.h - the mesh's per-datagram route lookup: where an origin
 * attached, which hubs a channel's tree is pruned to, and a bounded cache
 * of both so that a datagram costs a lookup, not a pass over the
 * database. Pure: no sockets, no clock, no logging. See docs/mesh.md.
 *
 * The cache is two 2-way set-associative tables (origins; routes keyed by
 * root, channel and origin island). Every entry carries the generation it
 * was filled in; the caller bumps the generation on any change of what
 * the entries were computed from (the database, its links), so a stale
 * entry is never used, only refilled. A full set evicts its least
 * recently used entry: memory is fixed at init, entries and evictions
 * are counted.
 *
 *   set s = hash(key) & (sets - 1)
 *   +-----------------+-----------------+
 *   | way 0: gen, key | way 1: gen, key |   <- a hit: same gen, same key
 *   |  value, used    |  value, used    |      a miss: refill the way of
 *   +-----------------+-----------------+      another gen, else the LRU
 */
#ifndef MCFERRY_ROUTE_H
#define MCFERRY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "frame.h"
#include "lsdb.h"

/* Hubs one origin may be a member of (a gateway with --hub repeated). */
#define ROUTE_ROOTS_MAX 8
/* Children one route may send to. */
#define ROUTE_KIDS_MAX 64
#define ROUTE_CACHE_WAYS 2

/* Where an origin attached, by the database of one generation. */
struct route_origin {
	uint64_t gen;             /* 0: empty */
	uint64_t origin;
	uint64_t used;
	bool known;               /* some LSA lists it */
	char island[FRAME_ISLAND_MAX + 1];
	size_t nroots;
	uint64_t roots[ROUTE_ROOTS_MAX];  /* hubs listing it, node ids */
	long root_index[ROUTE_ROOTS_MAX]; /* their database indices */
	uint64_t parent[ROUTE_ROOTS_MAX]; /* our parent in each one's tree */
	bool has_parent[ROUTE_ROOTS_MAX];
};

/* Where a datagram of (root, channel, origin island) goes from here: the
 * children in root's pruned tree. node[] are their ids, link[] whatever
 * the caller resolved them to (its connections). */
struct route_entry {
	uint64_t gen;             /* 0: empty */
	uint64_t root;
	uint64_t used;
	struct channel ch;
	char island[FRAME_ISLAND_MAX + 1];
	size_t n;
	uint64_t node[ROUTE_KIDS_MAX];
	void *link[ROUTE_KIDS_MAX];
};

struct route_cache {
	size_t osets, rsets;      /* powers of two */
	struct route_origin *origins;   /* osets x ways, allocated at first use */
	struct route_entry *routes;
	uint64_t tick;            /* for LRU */
	uint64_t hits, misses, evictions;
	uint64_t entries;         /* filled in the current generation */
	uint64_t gen;             /* of the last lookup: a new one zeroes entries */
};

/* Where origin attached: the database indices of the LSAs listing it as a
 * member (up to cap) into roots, and its island (the first listing's) in
 * *island, NULL when none. Returns how many indices it stored. O(members). */
size_t route_origin_find(const struct lsdb *db, uint64_t origin, long *roots,
			 size_t cap, const char **island);
/* Mark in keep[] (db->n entries, set to false first) the LSAs i with
 * usable[i] (NULL: all) holding a member of an island other than
 * skip_island that wants ch and is its island's mesh-wide forwarder
 * (election_mesh over the usable LSAs). A tree pruned to keep[] reaches
 * each other island's forwarder and nobody else. Returns how many it
 * marked. */
size_t route_keep(const struct lsdb *db, const bool *usable,
		  const struct channel *ch, const char *skip_island, bool *keep);

/* One 64-bit digest of the database's topology: the edges a tree may
 * use (both ends list each other, neither at LSA_COST_INF) and their
 * costs, nothing else (members, sequence numbers). Equal digests, equal
 * trees. O(links x degree). */
uint64_t route_topology_digest(const struct lsdb *db);

/* An empty cache of about origins and routes entries (rounded up to
 * powers of two, at least one set of ROUTE_CACHE_WAYS each). Allocates
 * nothing yet. */
void route_cache_init(struct route_cache *rc, size_t origins, size_t routes);
void route_cache_exit(struct route_cache *rc);
/* The entry of origin for generation gen (nonzero). On a hit *hit is true
 * and the entry is as filled; on a miss the entry (a stale one, or the
 * set's least recently used, counted as an eviction) is reset to the key
 * and gen, known false, for the caller to fill. */
struct route_origin *route_cache_origin(struct route_cache *rc, uint64_t gen,
					uint64_t origin, bool *hit);
/* The same for the route of (root, ch, island). */
struct route_entry *route_cache_route(struct route_cache *rc, uint64_t gen,
				      uint64_t root, const struct channel *ch,
				      const char *island, bool *hit);

#endif
