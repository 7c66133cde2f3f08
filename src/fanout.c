/* fanout.c - bounded per-client queues of shared buffers; see fanout.h. */
#include "fanout.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

#define FANOUT_MIN_SLOTS 16

void fanout_queue_init(struct fanout_queue *q, uint64_t limit)
{
	*q = (struct fanout_queue){ .limit = limit };
}

void fanout_queue_exit(struct fanout_queue *q)
{
	for (uint32_t i = 0; i < q->count; i++)
		buf_unref(q->ring[(q->head + i) & (q->cap - 1)].b);
	free(q->ring);
	*q = (struct fanout_queue){ .limit = q->limit };
}

static void fanout_queue_grow(struct fanout_queue *q)
{
	uint32_t ncap = q->cap ? q->cap * 2 : FANOUT_MIN_SLOTS;
	struct fanout_entry *n = xmalloc(ncap * sizeof(*n));

	for (uint32_t i = 0; i < q->count; i++)
		n[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
}

static int fanout_queue_add(struct fanout_queue *q, struct buf *b, uint8_t *p,
			    uint32_t len, bool ctl)
{
	struct fanout_entry *e;

	if (q->bytes + len > q->limit)
		return -ENOBUFS;
	if (q->count == q->cap)
		fanout_queue_grow(q);
	e = &q->ring[(q->head + q->count) & (q->cap - 1)];
	e->b = buf_ref(b);
	e->p = p;
	e->len = len;
	e->ctl = ctl;
	q->count++;
	q->bytes += len;
	return 0;
}

int fanout_queue_push(struct fanout_queue *q, struct buf *b, uint8_t *p,
		      uint32_t len)
{
	return fanout_queue_add(q, b, p, len, false);
}

int fanout_queue_push_ctl(struct fanout_queue *q, struct buf *b, uint8_t *p,
			  uint32_t len)
{
	return fanout_queue_add(q, b, p, len, true);
}

void fanout_queue_push_front_ctl(struct fanout_queue *q, struct buf *b,
				 uint8_t *p, uint32_t len)
{
	struct fanout_entry *e;

	if (q->count == q->cap)
		fanout_queue_grow(q);
	q->head = (q->head - 1) & (q->cap - 1);
	e = &q->ring[q->head];
	e->b = buf_ref(b);
	e->p = p;
	e->len = len;
	e->ctl = true;
	q->count++;
	q->bytes += len;
}

void fanout_queue_reframe(struct fanout_queue *q, uint32_t hdr,
			  void (*fill)(uint8_t *p, uint32_t len))
{
	for (uint32_t i = q->sending; i < q->count; i++) {
		struct fanout_entry *e = &q->ring[(q->head + i) & (q->cap - 1)];

		if (e->ctl)
			continue;
		e->p -= hdr;
		e->len += hdr;
		q->bytes += hdr;
		fill(e->p, e->len - hdr);
	}
}

uint32_t fanout_queue_begin(struct fanout_queue *q, struct iovec *iov,
			    uint32_t max)
{
	uint32_t n;

	if (q->sending)
		return 0;
	n = q->count < max ? q->count : max;
	for (uint32_t i = 0; i < n; i++) {
		struct fanout_entry *e = &q->ring[(q->head + i) & (q->cap - 1)];

		iov[i].iov_base = e->p;
		iov[i].iov_len = e->len;
	}
	q->sending = n;
	return n;
}

uint32_t fanout_queue_advance(struct fanout_queue *q, uint64_t nbytes)
{
	uint32_t released = 0;

	while (q->sending && nbytes) {
		struct fanout_entry *e = &q->ring[q->head];

		if (nbytes < e->len) {
			e->p += nbytes;
			e->len -= (uint32_t)nbytes;
			q->bytes -= nbytes;
			break;
		}
		nbytes -= e->len;
		q->bytes -= e->len;
		released += !e->ctl;
		buf_unref(e->b);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
		q->sending--;
	}
	return released;
}

uint32_t fanout_queue_inflight(const struct fanout_queue *q, struct iovec *iov)
{
	for (uint32_t i = 0; i < q->sending; i++) {
		const struct fanout_entry *e =
			&q->ring[(q->head + i) & (q->cap - 1)];

		iov[i].iov_base = e->p;
		iov[i].iov_len = e->len;
	}
	return q->sending;
}

uint32_t fanout_queue_drop_waiting(struct fanout_queue *q)
{
	uint32_t keep = q->sending, dropped = 0;

	for (uint32_t i = q->sending; i < q->count; i++) {
		struct fanout_entry *e = &q->ring[(q->head + i) & (q->cap - 1)];

		if (e->ctl) {
			q->ring[(q->head + keep++) & (q->cap - 1)] = *e;
			continue;
		}
		q->bytes -= e->len;
		buf_unref(e->b);
		dropped++;
	}
	q->count = keep;
	return dropped;
}

uint32_t fanout_queue_end(struct fanout_queue *q)
{
	uint32_t released = 0;

	for (uint32_t i = 0; i < q->sending; i++) {
		struct fanout_entry *e = &q->ring[q->head];

		released += !e->ctl;
		q->bytes -= e->len;
		buf_unref(e->b);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	q->sending = 0;
	return released;
}
