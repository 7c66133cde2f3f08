/* chantab.h - the channel table: a hash table from struct channel to an
 * entry holding the caller's data and the channel's set of subscribers
 * (link ids, say). Pure: no sockets, no logging.
 *
 * The table owns its entries; an entry's address is stable from insert to
 * delete, so callers may keep pointers to it. The caller extends an entry
 * through e->data (the table never reads, frees or moves it: free it
 * before chantab_del or chantab_exit).
 *
 *   buckets[] (a power of two, doubled when entries > buckets)
 *   +---+---+---+---+
 *   | * | 0 | * | 0 |    each bucket: a chain linked by e->chain/e->pchain,
 *   +-|-+---+-|-+---+    so deleting an entry is O(1)
 *     v       v
 *   entry   entry -> entry
 *
 * All entries are also on one doubly linked list (insertion order) for
 * iteration.
 */
#ifndef MCFERRY_CHANTAB_H
#define MCFERRY_CHANTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"

/* A small set of subscriber ids: a sorted array, so membership is a binary
 * search and iteration a walk of ids[0 .. n). */
struct chantab_subs {
	unsigned *ids;
	uint32_t n, cap;
};

struct chantab_entry {
	struct channel ch;        /* the key (read-only) */
	void *data;               /* the caller's */
	struct chantab_subs subs; /* the channel's subscribers */
	/* The table's: */
	uint64_t hash;
	struct chantab_entry *chain, **pchain;
	struct chantab_entry *prev, *next;
};

struct chantab {
	struct chantab_entry **buckets;
	size_t nbuckets;
	size_t count;             /* entries (read-only for callers) */
	size_t max;
	struct chantab_entry *first, *last;
};

/* Iteration that tolerates chantab_del of the current entry (not of
 * others): for (e = chantab_first(t, &it); e; e = chantab_next(&it)). */
struct chantab_iter {
	struct chantab_entry *next;
};

/* Set up an empty table that holds at most max entries (>= 1). */
void chantab_init(struct chantab *t, size_t max);
/* Delete every entry (their data is not freed) and the table's memory. */
void chantab_exit(struct chantab *t);
/* The entry of ch, or NULL. O(1). */
struct chantab_entry *chantab_find(const struct chantab *t,
				   const struct channel *ch);
/* Insert ch with no data and no subscribers: returns 0 and *e the new
 * entry; -EEXIST and *e the existing one; -ENOSPC (table full) and *e NULL.
 * O(1) amortized (the table doubles its buckets as it grows). */
int chantab_insert(struct chantab *t, const struct channel *ch,
		   struct chantab_entry **e);
/* Delete e (from this table) and its subscriber set. O(1). */
void chantab_del(struct chantab *t, struct chantab_entry *e);
/* The first entry (insertion order) or NULL; sets it up for chantab_next. */
struct chantab_entry *chantab_first(const struct chantab *t,
				    struct chantab_iter *it);
/* The entry after the one chantab_first/chantab_next returned, or NULL. */
struct chantab_entry *chantab_next(struct chantab_iter *it);

/* Add id: returns 1 when added, 0 when it was there already. */
int chantab_subs_add(struct chantab_subs *s, unsigned id);
/* Remove id: returns 1 when removed, 0 when it was not there. */
int chantab_subs_del(struct chantab_subs *s, unsigned id);
/* True when id is in the set. O(log n). */
bool chantab_subs_has(const struct chantab_subs *s, unsigned id);
/* How many ids the set holds. */
size_t chantab_subs_count(const struct chantab_subs *s);
/* The ids in increasing order (*n of them); valid until the next add/del. */
const unsigned *chantab_subs_ids(const struct chantab_subs *s, size_t *n);

#endif
