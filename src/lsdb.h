/* lsdb.h - the mesh's link-state database: one description (an LSA) per
 * hub, flooded by every hub, and its wire form. Pure: no sockets, no
 * clock, no logging. See docs/mesh.md.
 *
 * LSA body (FRAME_LSA), big-endian:
 *
 *   +-------------------------------------------------------------+
 *   | node id (u64) | boot epoch (u64) | sequence (u64)           |
 *   +---------------+---------------------------------------------+
 *   | name len (u8) | name (0..63 bytes)                          |
 *   +---------------+---------------------------------------------+
 *   | links (u16)   | links x (neighbour node id u64, cost u32)   |
 *   +---------------+---------------------------------------------+
 *   | members (u16) | members x:                                  |
 *   |   node id (u64), island len (u8), island, exports (u16),    |
 *   |   wants (u16), (exports + wants) x channel (12 or 36 bytes) |
 *   +-------------------------------------------------------------+
 *
 * A member is a gateway or relay attached to the hub (its island and the
 * channels it exports and imports): that is how interest travels. A
 * description replaces an older one of the same node when its (epoch,
 * sequence) is higher. A link of cost LSA_COST_INF is being drained: no
 * tree uses it.
 */
#ifndef MCFERRY_LSDB_H
#define MCFERRY_LSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "frame.h"

#define LSA_NAME_MAX 63
#define LSA_COST_INF 0xffffffffu
#define LSA_COST_DEFAULT 10
/* One DBSUM entry: node, epoch, seq. */
#define LSA_SUM_LEN 24

struct lsa_link {
	uint64_t node;
	uint32_t cost;
};

struct lsa_member {
	uint64_t node;
	char island[FRAME_ISLAND_MAX + 1];
	struct channel *chans;   /* nexports exports, then nwants wants */
	uint16_t nexports, nwants;
};

struct lsa {
	uint64_t node, epoch, seq;
	char name[LSA_NAME_MAX + 1];
	struct lsa_link *links;
	size_t nlinks;
	struct lsa_member *members;
	size_t nmembers;
	uint64_t hash;           /* of the encoded body (lsdb_digest) */
	uint64_t seen_ms;        /* the caller's: when installed */
};

/* At most this many buried LSAs (lsdb_bury); the oldest goes first. */
#define LSDB_LIMBO_MAX 1024

/* The database: every LSA held, sorted by node id; and the limbo: LSAs
 * the garbage collector dropped (unreachable too long: a dead hub's, or
 * one across a partition), kept for a while by (node, epoch, seq) so a
 * peer that still holds the same copy cannot give it back as new. A dead
 * hub's LSA would otherwise go round for ever: installed as new, flooded,
 * dropped 5 s later at one hub and a little later at another, and handed
 * back by the first new adjacency between the two (a link that flaps).
 * A buried LSA counts in our summary (so nobody sends it back) but not in
 * the digest; the caller revives it (lsdb_unbury) when it is reachable
 * again, a partition healed. */
struct lsdb {
	struct lsa **v;
	size_t n, cap;
	struct lsa **limbo;      /* seen_ms: when buried */
	size_t nlimbo, caplimbo;
};

/* Encode a's body into p (cap bytes). Returns its length, or -ENOSPC. */
int lsa_encode(const struct lsa *a, uint8_t *p, size_t cap);
/* Decode a body into *a (allocating; lsa_free it). 0 or -EINVAL. */
int lsa_decode(const uint8_t *p, size_t n, struct lsa *a);
/* Free what lsa_decode or the caller allocated in a (not a itself). */
void lsa_clear(struct lsa *a);
/* Is (epoch, seq) of a newer than that of b? */
bool lsa_newer(const struct lsa *a, const struct lsa *b);
/* Does member m export (exp) or want channel ch? */
bool lsa_member_has(const struct lsa_member *m, const struct channel *ch,
		    bool exp);
/* The cost a advertises towards node, LSA_COST_INF when none. */
uint32_t lsa_cost_to(const struct lsa *a, uint64_t node);

void lsdb_init(struct lsdb *db);
/* Free every LSA and the array. */
void lsdb_exit(struct lsdb *db);
/* The LSA of node, or NULL. O(log n). */
struct lsa *lsdb_find(const struct lsdb *db, uint64_t node);
/* Index of node's LSA, or -1. */
long lsdb_index(const struct lsdb *db, uint64_t node);
/* Offer a heap-allocated a: returns 1 when it was newer (or new) and is
 * now held (the database owns it; the old one is freed), 0 when it was
 * not (the caller still owns a). Newer than a buried copy, it replaces
 * it; the same or older, it is refused like an old one. */
int lsdb_install(struct lsdb *db, struct lsa *a);
/* Drop node's LSA. 0 or -ENOENT. */
int lsdb_remove(struct lsdb *db, uint64_t node);
/* Move node's LSA to the limbo, buried at now_ms (the oldest buried one
 * is freed when the limbo is full). 0 or -ENOENT. */
int lsdb_bury(struct lsdb *db, uint64_t node, uint64_t now_ms);
/* The buried LSA of node, or NULL. */
const struct lsa *lsdb_buried(const struct lsdb *db, uint64_t node);
/* Move every buried LSA back into the database (their seen_ms still
 * says when they were buried), their node ids into nodes (room for
 * db->nlimbo). Returns how many. */
size_t lsdb_unbury(struct lsdb *db, uint64_t *nodes);
/* Free what was buried before now_ms - max_ms. Returns how many. */
size_t lsdb_limbo_expire(struct lsdb *db, uint64_t now_ms, uint64_t max_ms);
/* One 64-bit digest of the whole database: equal databases, equal
 * digests, whatever the order things arrived in. */
uint64_t lsdb_digest(const struct lsdb *db);
/* The summary (DBSUM body) of the database into p: LSA_SUM_LEN bytes per
 * LSA, held then buried, as many as fit. Returns the length. */
size_t lsdb_summary_encode(const struct lsdb *db, uint8_t *p, size_t cap);
/* Which of our LSAs does the peer's summary (n bytes at p) lack or hold
 * an older copy of? Calls fn for each. -EINVAL for a bad length. */
int lsdb_summary_diff(const struct lsdb *db, const uint8_t *p, size_t n,
		      void (*fn)(const struct lsa *a, void *arg), void *arg);

#endif
