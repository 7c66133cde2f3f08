/* chunker.c - cut a raw byte stream into fixed-size datagrams. */
#include "chunker.h"

#include <string.h>

void chunker_init(struct chunker *c, struct buf_pool *pool, uint32_t chunk)
{
	c->pool = pool;
	c->cur = NULL;
	c->chunk = chunk;
}

void chunker_exit(struct chunker *c)
{
	if (c->cur)
		buf_unref(c->cur);
	c->cur = NULL;
}

void chunker_push(struct chunker *c, const uint8_t *p, size_t n,
		  chunker_emit_fn emit, void *ctx)
{
	while (n > 0) {
		size_t room, take;

		if (!c->cur)
			c->cur = buf_get(c->pool, c->chunk);
		room = c->chunk - c->cur->len;
		take = n < room ? n : room;
		memcpy(c->cur->data + c->cur->len, p, take);
		c->cur->len += (uint32_t)take;
		p += take;
		n -= take;
		if (c->cur->len == c->chunk) {
			struct buf *b = c->cur;

			c->cur = NULL;
			emit(ctx, b);
		}
	}
}

void chunker_flush(struct chunker *c, chunker_emit_fn emit, void *ctx)
{
	struct buf *b = c->cur;

	if (!b)
		return;
	c->cur = NULL;
	emit(ctx, b);
}
