/* buf.c - reference-counted datagram buffers with per-size-class free lists. */
#include "buf.h"

#include <assert.h>
#include <stdlib.h>

#include "util.h"

/* Payload capacities of the size classes: a typical datagram (MPEG-TS 1316,
 * Ethernet 1500), a jumbo frame, and the largest UDP payload. */
static const uint32_t class_cap[BUF_CLASSES] = { 2048, 16384, BUF_MAX_PAYLOAD };

void buf_pool_init(struct buf_pool *pool)
{
	*pool = (struct buf_pool){ 0 };
	/* Enough idle buffers to absorb a burst without going back to malloc,
	 * bounded so an idle relay gives memory back. */
	pool->max_free[0] = 8192;
	pool->max_free[1] = 256;
	pool->max_free[2] = 64;
}

void buf_pool_exit(struct buf_pool *pool)
{
	for (int k = 0; k < BUF_CLASSES; k++) {
		while (pool->free[k]) {
			struct buf *b = pool->free[k];

			pool->free[k] = b->next;
			free(b);
		}
		pool->nfree[k] = 0;
	}
}

struct buf *buf_get(struct buf_pool *pool, size_t size)
{
	int k = 0;
	struct buf *b;

	assert(size <= BUF_MAX_PAYLOAD);
	while (class_cap[k] < size)
		k++;
	b = pool->free[k];
	if (b) {
		pool->free[k] = b->next;
		pool->nfree[k]--;
	} else {
		b = xmalloc(sizeof(*b) + BUF_HEADROOM + class_cap[k]);
		b->klass = (uint8_t)k;
		b->cap = class_cap[k];
		b->pool = pool;
		b->data = b->mem + BUF_HEADROOM;
		pool->allocated++;
	}
	b->refs = 1;
	b->len = 0;
	b->t = 0;
	b->next = NULL;
	pool->live++;
	return b;
}

void buf_unref(struct buf *b)
{
	struct buf_pool *pool = b->pool;

	assert(b->refs > 0);
	if (--b->refs > 0)
		return;
	pool->live--;
	if (pool->nfree[b->klass] >= pool->max_free[b->klass]) {
		free(b);
		return;
	}
	b->next = pool->free[b->klass];
	pool->free[b->klass] = b;
	pool->nfree[b->klass]++;
}
