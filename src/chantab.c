/* chantab.c - the channel table and its subscriber sets; see chantab.h. */
#include "chantab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

#define CHANTAB_MIN_BUCKETS 16

void chantab_init(struct chantab *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	t->nbuckets = CHANTAB_MIN_BUCKETS;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
}

void chantab_exit(struct chantab *t)
{
	struct chantab_entry *e = t->first, *next;

	for (; e; e = next) {
		next = e->next;
		free(e->subs.ids);
		free(e);
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static void bucket_add(struct chantab_entry **buckets, size_t nbuckets,
		       struct chantab_entry *e)
{
	struct chantab_entry **head = &buckets[e->hash & (nbuckets - 1)];

	e->chain = *head;
	if (*head)
		(*head)->pchain = &e->chain;
	e->pchain = head;
	*head = e;
}

/* Double the buckets and rehash (the stored hash: no key is re-read). */
static void grow(struct chantab *t)
{
	size_t n = t->nbuckets * 2;
	struct chantab_entry **b = xcalloc(n, sizeof(*b));

	for (struct chantab_entry *e = t->first; e; e = e->next)
		bucket_add(b, n, e);
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static struct chantab_entry *lookup(const struct chantab *t,
				    const struct channel *ch, uint64_t h)
{
	struct chantab_entry *e = t->buckets[h & (t->nbuckets - 1)];

	for (; e; e = e->chain)
		if (e->hash == h && channel_equal(&e->ch, ch))
			return e;
	return NULL;
}

struct chantab_entry *chantab_find(const struct chantab *t,
				   const struct channel *ch)
{
	return lookup(t, ch, hash_channel(ch));
}

int chantab_insert(struct chantab *t, const struct channel *ch,
		   struct chantab_entry **out)
{
	uint64_t h = hash_channel(ch);
	struct chantab_entry *e = lookup(t, ch, h);
	size_t alen = ch->family == 4 ? 4 : 16;

	*out = e;
	if (e)
		return -EEXIST;
	if (t->count >= t->max)
		return -ENOSPC;
	e = xcalloc(1, sizeof(*e));
	/* Only the family's bytes of the addresses: the key is clean even
	 * when the caller's unused IPv4 bytes are not. */
	e->ch.family = ch->family;
	e->ch.port = ch->port;
	memcpy(e->ch.group, ch->group, alen);
	memcpy(e->ch.source, ch->source, alen);
	e->hash = h;
	if (t->count >= t->nbuckets)
		grow(t);
	bucket_add(t->buckets, t->nbuckets, e);
	e->prev = t->last;
	if (t->last)
		t->last->next = e;
	else
		t->first = e;
	t->last = e;
	t->count++;
	*out = e;
	return 0;
}

void chantab_del(struct chantab *t, struct chantab_entry *e)
{
	*e->pchain = e->chain;
	if (e->chain)
		e->chain->pchain = e->pchain;
	if (e->prev)
		e->prev->next = e->next;
	else
		t->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->last = e->prev;
	t->count--;
	free(e->subs.ids);
	free(e);
}

struct chantab_entry *chantab_first(const struct chantab *t,
				    struct chantab_iter *it)
{
	it->next = t->first ? t->first->next : NULL;
	return t->first;
}

struct chantab_entry *chantab_next(struct chantab_iter *it)
{
	struct chantab_entry *e = it->next;

	it->next = e ? e->next : NULL;
	return e;
}

/* Index of the first id >= id. */
static uint32_t subs_pos(const struct chantab_subs *s, unsigned id)
{
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int chantab_subs_add(struct chantab_subs *s, unsigned id)
{
	uint32_t i = subs_pos(s, id);

	if (i < s->n && s->ids[i] == id)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->ids = xrealloc(s->ids, s->cap * sizeof(*s->ids));
	}
	memmove(&s->ids[i + 1], &s->ids[i], (s->n - i) * sizeof(*s->ids));
	s->ids[i] = id;
	s->n++;
	return 1;
}

int chantab_subs_del(struct chantab_subs *s, unsigned id)
{
	uint32_t i = subs_pos(s, id);

	if (i == s->n || s->ids[i] != id)
		return 0;
	memmove(&s->ids[i], &s->ids[i + 1], (s->n - i - 1) * sizeof(*s->ids));
	s->n--;
	return 1;
}

bool chantab_subs_has(const struct chantab_subs *s, unsigned id)
{
	uint32_t i = subs_pos(s, id);

	return i < s->n && s->ids[i] == id;
}

size_t chantab_subs_count(const struct chantab_subs *s)
{
	return s->n;
}

const unsigned *chantab_subs_ids(const struct chantab_subs *s, size_t *n)
{
	*n = s->n;
	return s->ids;
}
