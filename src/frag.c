/* frag.c - frames in pieces over message links; see frag.h. */
#include "frag.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

uint32_t frag_count(uint32_t len, uint32_t max)
{
	uint32_t slice = max - FRAG_HDR_LEN;

	return len == 0 ? 1 : (len + slice - 1) / slice;
}

void frag_put_header(uint8_t *p, uint32_t id, uint16_t index, bool last,
		     uint32_t slice)
{
	put_be32(p, 8 + slice);
	p[4] = FRAG_TYPE;
	p[5] = last ? FRAG_LAST : 0;
	put_be16(p + 6, 0);
	put_be32(p + 8, id);
	put_be16(p + 12, index);
	put_be16(p + 14, 0);
}

void frag_rx_init(struct frag_rx *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void frag_rx_exit(struct frag_rx *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

/* The frame being put together is lost: count it, keep its pieces out. */
static void frag_rx_lose(struct frag_rx *r, uint32_t id)
{
	if (r->skipping && r->skip_id == id)
		return;
	r->lost++;
	r->active = false;
	r->skipping = true;
	r->skip_id = id;
}

int frag_rx_push(struct frag_rx *r, const uint8_t *p, size_t n)
{
	uint32_t id, slice;
	uint16_t index;
	bool last;

	if (n < FRAG_HDR_LEN || !frag_is(p, n) || get_be32(p) != n - 8 ||
	    (p[5] & ~FRAG_LAST) || get_be16(p + 6) || get_be16(p + 14))
		return FRAG_E_BAD;
	id = get_be32(p + 8);
	index = get_be16(p + 12);
	last = p[5] & FRAG_LAST;
	slice = (uint32_t)n - FRAG_HDR_LEN;
	p += FRAG_HDR_LEN;
	if (r->active && r->len == r->want)
		r->active = false; /* the last call handed a frame out */
	if (index == 0) {
		uint32_t want;

		if (r->active)
			frag_rx_lose(r, r->id);
		if (slice < 8)
			return FRAG_E_BAD;
		want = 8 + get_be32(p);
		if (want > r->max || slice > want)
			return FRAG_E_BAD;
		if (want > r->cap) {
			r->buf = xrealloc(r->buf, want);
			r->cap = want;
		}
		r->active = true;
		r->skipping = false;
		r->id = id;
		r->want = want;
		r->len = 0;
		r->next = 0;
	} else if (!r->active || id != r->id || index != r->next) {
		/* A piece went missing (or came late): the frame it belongs
		 * to is lost, and so is the one being put together. */
		if (r->active && id != r->id)
			frag_rx_lose(r, r->id);
		frag_rx_lose(r, id);
		return 0;
	}
	if (r->len + slice > r->want)
		return FRAG_E_BAD;
	memcpy(r->buf + r->len, p, slice);
	r->len += slice;
	r->next++;
	if (r->len < r->want) {
		if (last)
			return FRAG_E_BAD;
		return 0;
	}
	if (!last)
		return FRAG_E_BAD;
	r->frames++;
	return 1;
}
