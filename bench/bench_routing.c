/* bench_routing.c - ns per dedup_check and per chantab_find at 10, 10,000
 * and 100,000 origins/channels: prints figures, asserts nothing.
 *
 *   bench_routing [LOOKUPS]       (default 4,000,000 per row)
 *
 * Two figures per table size. "hot": 16 keys spread over the table, looked
 * up in random order, as when a few channels carry the traffic and the
 * rest are idle: this one says whether the size of the table costs a
 * datagram anything. "all": every key in random order, the worst case,
 * where a large table no longer fits in the CPU caches and each lookup
 * waits for memory (O(1) work, but cache misses). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chantab.h"
#include "dedup.h"
#include "util.h"

/* The window of the dedup rows: 4096 sequences is 512 bytes per origin, so
 * 100,000 origins fit in 51 MB; dedup_check touches one word of it either
 * way, so the figure holds for the default window too. */
#define BENCH_WINDOW 4096

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *r)
{
	*r ^= *r << 13;
	*r ^= *r >> 7;
	*r ^= *r << 17;
	return *r;
}

/* n random indices below keys. */
static uint32_t *random_order(size_t n, uint32_t keys, uint64_t seed)
{
	uint32_t *o = xmalloc(n * sizeof(*o));

	for (size_t i = 0; i < n; i++)
		o[i] = (uint32_t)(next_rand(&seed) % keys);
	return o;
}

static struct channel chan(uint32_t i)
{
	struct channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.family = 4;
	ch.port = (uint16_t)(5000 + i % 1000);
	ch.group[0] = (uint8_t)(224 + (i >> 24));
	ch.group[1] = (uint8_t)(i >> 16);
	ch.group[2] = (uint8_t)(i >> 8);
	ch.group[3] = (uint8_t)i;
	return ch;
}

static void bench_dedup(uint32_t n, size_t lookups)
{
	struct dedup d;
	uint64_t *seq = xcalloc(n, sizeof(*seq));
	uint32_t *order = random_order(lookups, n, 0x9e3779b97f4a7c15ull + n);
	uint32_t *hot = random_order(lookups, n < 16 ? n : 16, 7);
	uint64_t t0, t1, t2, t3, news = 0, dups = 0;

	dedup_init(&d, BENCH_WINDOW, n);
	for (uint32_t o = 0; o < n; o++)
		dedup_check(&d, 0x1000 + o, 1, seq[o]++, 0);
	/* New sequence numbers: the window slides by one each time. */
	t0 = now_ns();
	for (size_t i = 0; i < lookups; i++) {
		uint32_t o = order[i];

		news += dedup_check(&d, 0x1000 + o, 1, seq[o]++, 1) ==
			DEDUP_NEW;
	}
	t1 = now_ns();
	/* The same again, one behind: every one a duplicate. */
	for (size_t i = 0; i < lookups; i++) {
		uint32_t o = order[i];

		dups += dedup_check(&d, 0x1000 + o, 1, seq[o] - 1, 2) ==
			DEDUP_DUPLICATE;
	}
	t2 = now_ns();
	/* New sequence numbers from 16 origins of the n. */
	for (size_t i = 0; i < lookups; i++) {
		uint32_t o = hot[i] * (n / 16 ? n / 16 : 1);

		news += dedup_check(&d, 0x1000 + o, 1, seq[o]++, 3) ==
			DEDUP_NEW;
	}
	t3 = now_ns();
	printf("dedup_check   %7u origins   hot new %6.1f ns   all: new %6.1f ns"
	       "  duplicate %6.1f ns  (%llu new, %llu dup, %llu evicted)\n",
	       n, (double)(t3 - t2) / (double)lookups,
	       (double)(t1 - t0) / (double)lookups,
	       (double)(t2 - t1) / (double)lookups, (unsigned long long)news,
	       (unsigned long long)dups, (unsigned long long)d.evictions);
	dedup_exit(&d);
	free(hot);
	free(order);
	free(seq);
}

static void bench_chantab(uint32_t n, size_t lookups)
{
	struct chantab t;
	struct chantab_entry *e;
	struct channel *keys = xmalloc(n * sizeof(*keys));
	uint32_t *order = random_order(lookups, n, 0x2545f4914f6cdd1dull + n);
	uint32_t *hot = random_order(lookups, n < 16 ? n : 16, 7);
	struct channel miss;
	uint64_t t0, t1, t2, t3, hits = 0, misses = 0;

	chantab_init(&t, n);
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = chan(i);
		chantab_insert(&t, &keys[i], &e);
	}
	t0 = now_ns();
	for (size_t i = 0; i < lookups; i++)
		hits += chantab_find(&t, &keys[order[i]]) != NULL;
	t1 = now_ns();
	/* Misses: n other keys (above the table's), in random order. */
	for (size_t i = 0; i < lookups; i++) {
		miss = chan(n + order[i]);
		misses += chantab_find(&t, &miss) == NULL;
	}
	t2 = now_ns();
	for (size_t i = 0; i < lookups; i++)
		hits += chantab_find(&t, &keys[hot[i] * (n / 16 ? n / 16 : 1)]) !=
			NULL;
	t3 = now_ns();
	printf("chantab_find  %7u channels  hot hit %6.1f ns   all: hit %6.1f ns"
	       "  miss      %6.1f ns  (%llu hits, %llu misses, %zu buckets)\n",
	       n, (double)(t3 - t2) / (double)lookups,
	       (double)(t1 - t0) / (double)lookups,
	       (double)(t2 - t1) / (double)lookups, (unsigned long long)hits,
	       (unsigned long long)misses, t.nbuckets);
	chantab_exit(&t);
	free(hot);
	free(order);
	free(keys);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 10, 10000, 100000 };
	size_t lookups = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000000;

	if (lookups == 0) {
		fprintf(stderr, "usage: bench_routing [LOOKUPS]\n");
		return 2;
	}
	printf("bench_routing: %zu lookups per row, random order, "
	       "dedup window %u\n", lookups, BENCH_WINDOW);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		bench_dedup(sizes[i], lookups);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		bench_chantab(sizes[i], lookups);
	return 0;
}
