/* dedup.h - the duplicate window: which (origin, epoch, sequence) triples
 * a node has already forwarded. Pure: no sockets, no clock, no logging.
 *
 * Each key (origin node id, boot epoch) has a sliding bitmap of the last W
 * sequence numbers below and including the highest one seen (top):
 *
 *        too old          |<------------- window: W seqs ------------->|
 *   ... --------------+---+--------------------------------------------+--> seq
 *                     top - W                                        top
 *
 *   bit (seq mod W) of bits[] says whether seq in (top - W, top] was seen;
 *   a seq above top slides the window forward, clearing the bits it passes.
 *
 * A restarted node has a new epoch, so it is a new key and its old window
 * never suppresses it. The keys live in a chained hash table of at most
 * max_origins entries; a full table evicts the least recently used key in
 * O(1) (a doubly linked LRU list). Memory: max_origins * W / 8 bytes at
 * most, allocated as origins appear.
 */
#ifndef MCFERRY_DEDUP_H
#define MCFERRY_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#define DEDUP_WINDOW_DEFAULT 32768
#define DEDUP_ORIGINS_MAX (1u << 30)

enum dedup_result {
	DEDUP_NEW = 0,       /* not seen before; now recorded */
	DEDUP_DUPLICATE = 1, /* seen before */
	DEDUP_TOO_OLD = 2,   /* below the window: cannot tell, so drop */
};

struct dedup_origin;

struct dedup {
	struct dedup_origin *slots; /* max_origins entries */
	uint32_t *buckets;          /* slot index + 1 of a chain head, 0: empty */
	uint32_t nbuckets;          /* a power of two */
	uint32_t free;              /* slot index + 1 of the free list head */
	uint32_t lru_head, lru_tail; /* slot index + 1; head: most recent */
	uint64_t window;            /* W, a power of two >= 64 */
	size_t origins;             /* keys held (read-only for callers) */
	size_t max_origins;
	uint64_t evictions;         /* keys dropped to make room (read-only) */
};

/* Set up an empty window of W = window sequence numbers (0: the default;
 * else a power of two >= 64) for at most max_origins keys (1 ...
 * DEDUP_ORIGINS_MAX). Returns 0 or -EINVAL. */
int dedup_init(struct dedup *d, uint64_t window, size_t max_origins);
/* Free everything dedup_init and dedup_check allocated. */
void dedup_exit(struct dedup *d);
/* Classify seq from (origin, epoch) and record it when DEDUP_NEW. The key
 * becomes the most recently used; now_ms is kept for dedup_expire. O(1),
 * except that a jump forward costs O(min(jump, W) / 64). */
enum dedup_result dedup_check(struct dedup *d, uint64_t origin,
			      uint64_t epoch, uint64_t seq, uint64_t now_ms);
/* Drop the key (origin, epoch). Returns 0, or -ENOENT when it is not held. */
int dedup_forget(struct dedup *d, uint64_t origin, uint64_t epoch);
/* Drop every key last checked before now_ms - idle_ms (not evictions).
 * Returns how many. O(number dropped). */
size_t dedup_expire(struct dedup *d, uint64_t now_ms, uint64_t idle_ms);

#endif
