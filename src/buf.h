/* buf.h - reference-counted datagram buffers drawn from a pool.
 *
 * A datagram is received once into one buffer; every output that queues it
 * takes a reference instead of a copy, and the last unref returns the buffer
 * to its pool's free list.
 *
 *   struct buf                      data (cap bytes)
 *   +------+-----+-----+-----+  +----------+---------------------------+
 *   | refs | len | cap | ... |  | headroom | payload (len bytes)        |
 *   +------+-----+-----+-----+  +----------+---------------------------+
 *                               ^ mem      ^ data = mem + BUF_HEADROOM
 *
 * The headroom lets a link write its frame header in front of the payload
 * once, shared by every client, so framing costs no copy either.
 */
#ifndef MCFERRY_BUF_H
#define MCFERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_HEADROOM 64
#define BUF_MAX_PAYLOAD 65535
#define BUF_CLASSES 3

struct buf_pool;

struct buf {
	uint32_t refs;
	uint32_t len;          /* payload bytes at data */
	uint32_t cap;          /* payload capacity at data */
	uint8_t klass;         /* size class index, for the free list */
	uint64_t t;            /* loop time (ms) it was read; 0: not stamped */
	struct buf_pool *pool;
	struct buf *next;      /* free-list link while pooled */
	uint8_t *data;
	uint8_t mem[];
};

struct buf_pool {
	struct buf *free[BUF_CLASSES];
	size_t nfree[BUF_CLASSES];
	size_t max_free[BUF_CLASSES];
	size_t live;           /* buffers handed out and not yet returned */
	size_t allocated;      /* buffers obtained from malloc, all time */
};

/* Prepare an empty pool. */
void buf_pool_init(struct buf_pool *pool);
/* Free every pooled buffer; buffers still referenced are not touched. */
void buf_pool_exit(struct buf_pool *pool);
/* A buffer with room for size payload bytes (size <= BUF_MAX_PAYLOAD),
 * refs = 1, len = 0. Never fails. */
struct buf *buf_get(struct buf_pool *pool, size_t size);
/* Drop one reference; the last one returns the buffer to its pool. */
void buf_unref(struct buf *b);

/* Take one more reference and return b. */
static inline struct buf *buf_ref(struct buf *b)
{
	b->refs++;
	return b;
}

#endif
