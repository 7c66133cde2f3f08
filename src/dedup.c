/* dedup.c - the duplicate window: per-(origin, epoch) sliding bitmaps in a
 * chained hash table with an LRU bound; layout in dedup.h. */
#include "dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

/* Links are slot index + 1, so that 0 means "none" and a zeroed struct
 * is a valid empty state. */
struct dedup_origin {
	uint64_t node, epoch;
	uint64_t top;            /* highest sequence seen */
	uint64_t last_ms;        /* now_ms of the last dedup_check */
	uint64_t *bits;          /* W / 64 words, allocated on first use */
	uint32_t chain;          /* next in the hash bucket */
	uint32_t prev, next;     /* LRU list, or next on the free list */
	uint32_t bucket;
};

#define SLOT(d, i) (&(d)->slots[(i) - 1])

static uint32_t key_bucket(const struct dedup *d, uint64_t node,
			   uint64_t epoch)
{
	return (uint32_t)(hash_mix64(node ^ hash_mix64(epoch)) &
			  (d->nbuckets - 1));
}

int dedup_init(struct dedup *d, uint64_t window, size_t max_origins)
{
	memset(d, 0, sizeof(*d));
	if (window == 0)
		window = DEDUP_WINDOW_DEFAULT;
	if (window < 64 || (window & (window - 1)) || max_origins == 0 ||
	    max_origins > DEDUP_ORIGINS_MAX)
		return -EINVAL;
	d->window = window;
	d->max_origins = max_origins;
	/* Two buckets per key at most: chains stay around one entry. */
	d->nbuckets = 1;
	while (d->nbuckets < 2 * max_origins)
		d->nbuckets <<= 1;
	d->buckets = xcalloc(d->nbuckets, sizeof(*d->buckets));
	d->slots = xcalloc(max_origins, sizeof(*d->slots));
	for (size_t i = max_origins; i > 0; i--) {
		d->slots[i - 1].next = d->free;
		d->free = (uint32_t)i;
	}
	return 0;
}

void dedup_exit(struct dedup *d)
{
	for (size_t i = 0; i < d->max_origins; i++)
		free(d->slots[i].bits);
	free(d->slots);
	free(d->buckets);
	memset(d, 0, sizeof(*d));
}

static void lru_unlink(struct dedup *d, uint32_t i)
{
	struct dedup_origin *o = SLOT(d, i);

	if (o->prev)
		SLOT(d, o->prev)->next = o->next;
	else
		d->lru_head = o->next;
	if (o->next)
		SLOT(d, o->next)->prev = o->prev;
	else
		d->lru_tail = o->prev;
	o->prev = o->next = 0;
}

static void lru_push(struct dedup *d, uint32_t i)
{
	struct dedup_origin *o = SLOT(d, i);

	o->prev = 0;
	o->next = d->lru_head;
	if (d->lru_head)
		SLOT(d, d->lru_head)->prev = i;
	else
		d->lru_tail = i;
	d->lru_head = i;
}

/* Unlink slot i from its bucket and the LRU list, put it on the free list.
 * Its bitmap stays allocated for the next key. */
static void drop(struct dedup *d, uint32_t i)
{
	struct dedup_origin *o = SLOT(d, i);
	uint32_t *p = &d->buckets[o->bucket];

	while (*p != i)
		p = &SLOT(d, *p)->chain;
	*p = o->chain;
	lru_unlink(d, i);
	o->next = d->free;
	d->free = i;
	d->origins--;
}

static uint32_t find(const struct dedup *d, uint32_t bucket, uint64_t node,
		     uint64_t epoch)
{
	uint32_t i = d->buckets[bucket];

	while (i && (SLOT(d, i)->node != node || SLOT(d, i)->epoch != epoch))
		i = SLOT(d, i)->chain;
	return i;
}

/* Clear count (< W) bits of the circular bitmap from bit position from,
 * a word at a time. */
static void clear_bits(uint64_t *bits, uint64_t window, uint64_t from,
		       uint64_t count)
{
	while (count > 0) {
		uint64_t pos = from & (window - 1);
		uint64_t off = pos % 64;
		uint64_t n = 64 - off < count ? 64 - off : count;
		uint64_t mask = n == 64 ? ~0ull : ((1ull << n) - 1) << off;

		bits[pos / 64] &= ~mask;
		from += n;
		count -= n;
	}
}

enum dedup_result dedup_check(struct dedup *d, uint64_t origin,
			      uint64_t epoch, uint64_t seq, uint64_t now_ms)
{
	uint32_t b = key_bucket(d, origin, epoch);
	uint32_t i = find(d, b, origin, epoch);
	struct dedup_origin *o;
	uint64_t *w, bit;

	if (i) {
		o = SLOT(d, i);
		lru_unlink(d, i);
		lru_push(d, i);
		o->last_ms = now_ms;
		if (seq > o->top) {
			if (seq - o->top >= d->window)
				memset(o->bits, 0, d->window / 8);
			else
				clear_bits(o->bits, d->window, o->top + 1,
					   seq - o->top);
			o->top = seq;
		} else if (o->top - seq >= d->window) {
			return DEDUP_TOO_OLD;
		}
	} else {
		if (!d->free) {
			drop(d, d->lru_tail);
			d->evictions++;
		}
		i = d->free;
		o = SLOT(d, i);
		d->free = o->next;
		if (o->bits)
			memset(o->bits, 0, d->window / 8);
		else
			o->bits = xcalloc(d->window / 64, sizeof(uint64_t));
		o->node = origin;
		o->epoch = epoch;
		o->top = seq;
		o->last_ms = now_ms;
		o->bucket = b;
		o->chain = d->buckets[b];
		d->buckets[b] = i;
		lru_push(d, i);
		d->origins++;
	}
	w = &o->bits[(seq & (d->window - 1)) / 64];
	bit = 1ull << (seq % 64);
	if (*w & bit)
		return DEDUP_DUPLICATE;
	*w |= bit;
	return DEDUP_NEW;
}

int dedup_forget(struct dedup *d, uint64_t origin, uint64_t epoch)
{
	uint32_t i = find(d, key_bucket(d, origin, epoch), origin, epoch);

	if (!i)
		return -ENOENT;
	drop(d, i);
	return 0;
}

size_t dedup_expire(struct dedup *d, uint64_t now_ms, uint64_t idle_ms)
{
	size_t n = 0;

	/* The tail is the least recently checked, so the oldest last_ms as
	 * long as callers pass a clock that does not go back. */
	while (d->lru_tail && SLOT(d, d->lru_tail)->last_ms <= now_ms &&
	       now_ms - SLOT(d, d->lru_tail)->last_ms > idle_ms) {
		drop(d, d->lru_tail);
		n++;
	}
	return n;
}
