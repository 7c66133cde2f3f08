/* chunker.h - cuts a raw byte stream into datagrams of a fixed size.
 *
 * Raw TCP carries datagrams concatenated; going back to UDP the stream is
 * cut into chunk-byte datagrams. A partial chunk waits for more bytes until
 * the owner calls chunker_flush (after a short idle time).
 */
#ifndef MCFERRY_CHUNKER_H
#define MCFERRY_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Receives each finished datagram; it owns the one reference it is given. */
typedef void (*chunker_emit_fn)(void *ctx, struct buf *b);

struct chunker {
	struct buf_pool *pool;
	struct buf *cur;    /* partial datagram, or NULL */
	uint32_t chunk;
};

/* Prepare a chunker that cuts chunk-byte datagrams (1..BUF_MAX_PAYLOAD). */
void chunker_init(struct chunker *c, struct buf_pool *pool, uint32_t chunk);
/* Drop any partial datagram. */
void chunker_exit(struct chunker *c);
/* Append n bytes; emit every datagram that becomes full. */
void chunker_push(struct chunker *c, const uint8_t *p, size_t n,
		  chunker_emit_fn emit, void *ctx);
/* Emit the partial datagram, if any. */
void chunker_flush(struct chunker *c, chunker_emit_fn emit, void *ctx);
/* True when a partial datagram is waiting. */
static inline bool chunker_pending(const struct chunker *c)
{
	return c->cur != NULL;
}

#endif
