/* frame.c - link protocol encoder and pure decoder; layout in frame.h. */
#include "frame.h"

#include <string.h>

#include "util.h"

static uint32_t body_limit(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO:
		return FRAME_HELLO_MAX;
	case FRAME_ERROR:
		return 1024;
	case FRAME_PING:
	case FRAME_PONG:
		return 8;
	case FRAME_DGRAM:
		return 65535;
	case FRAME_DATA:
		return FRAME_BODY_MAX;
	case FRAME_JOIN:
	case FRAME_LEAVE:
	case FRAME_EXPORT:
	case FRAME_UNEXPORT:
		return CHANNEL_WIRE_MAX;
	case FRAME_FORWARDER:
		return CHANNEL_WIRE_MAX + 1;
	case FRAME_EMITTERS:
		return 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN;
	case FRAME_LSA:
	case FRAME_DBSUM:
		return FRAME_BODY_MAX;
	default:
		return 0;
	}
}

int frame_decode(const uint8_t *p, size_t n, struct frame *f)
{
	uint32_t len, limit;

	if (n < FRAME_HDR_LEN)
		return 0;
	len = get_be32(p);
	f->type = p[4];
	f->flags = p[5];
	if (get_be16(p + 6) != 0 || f->flags != 0)
		return FRAME_E_RESERVED;
	limit = body_limit(f->type);
	if (limit == 0)
		return FRAME_E_TYPE;
	if (len > FRAME_BODY_MAX)
		return FRAME_E_TOO_LARGE;
	if (len > limit)
		return (f->type == FRAME_DGRAM || f->type == FRAME_DATA)
			       ? FRAME_E_TOO_LARGE
			       : FRAME_E_LENGTH;
	if ((f->type == FRAME_PING || f->type == FRAME_PONG) && len != 8)
		return FRAME_E_LENGTH;
	if (n - FRAME_HDR_LEN < len)
		return 0;
	f->len = len;
	f->body = p + FRAME_HDR_LEN;
	return (int)(FRAME_HDR_LEN + len);
}

int frame_hello_decode(const struct frame *f, struct frame_hello *h)
{
	const uint8_t *b = f->body;
	uint8_t ilen;

	memset(h, 0, sizeof(*h));
	if (f->type != FRAME_HELLO || f->len < 17)
		return FRAME_E_LENGTH;
	if (memcmp(b, FRAME_MAGIC, 4) != 0)
		return FRAME_E_MAGIC;
	h->version = b[4];
	if (h->version != FRAME_VERSION)
		return FRAME_E_VERSION;
	h->role = b[5];
	h->node_id = get_be64(b + 8);
	ilen = b[16];
	if (get_be16(b + 6) != 0 || ilen > FRAME_ISLAND_MAX ||
	    f->len != 17u + ilen || h->role < FRAME_ROLE_RELAY ||
	    h->role > FRAME_ROLE_GATEWAY)
		return FRAME_E_LENGTH;
	memcpy(h->island, b + 17, ilen);
	h->island[ilen] = '\0';
	return 0;
}

const char *frame_strerror(int err)
{
	switch (err) {
	case FRAME_E_TOO_LARGE:
		return "frame-too-large";
	case FRAME_E_TYPE:
		return "bad-frame-type";
	case FRAME_E_RESERVED:
	case FRAME_E_LENGTH:
		return "bad-frame";
	case FRAME_E_MAGIC:
		return "bad-hello";
	case FRAME_E_VERSION:
		return "version-mismatch";
	default:
		return "bad-frame";
	}
}

void frame_put_header(uint8_t *p, uint8_t type, uint32_t len)
{
	put_be32(p, len);
	p[4] = type;
	p[5] = 0;
	put_be16(p + 6, 0);
}

size_t frame_encode_hello(uint8_t *p, size_t cap, const struct frame_hello *h)
{
	size_t ilen = strnlen(h->island, FRAME_ISLAND_MAX);
	size_t total = FRAME_HDR_LEN + 17 + ilen;
	uint8_t *b = p + FRAME_HDR_LEN;

	if (cap < total)
		return 0;
	frame_put_header(p, FRAME_HELLO, (uint32_t)(17 + ilen));
	memcpy(b, FRAME_MAGIC, 4);
	b[4] = h->version;
	b[5] = h->role;
	put_be16(b + 6, 0);
	put_be64(b + 8, h->node_id);
	b[16] = (uint8_t)ilen;
	memcpy(b + 17, h->island, ilen);
	return total;
}

size_t frame_encode_error(uint8_t *p, size_t cap, uint16_t code,
			  const char *text)
{
	size_t tlen = strnlen(text, 1000);
	size_t total = FRAME_HDR_LEN + 2 + tlen;

	if (cap < total)
		return 0;
	frame_put_header(p, FRAME_ERROR, (uint32_t)(2 + tlen));
	put_be16(p + FRAME_HDR_LEN, code);
	memcpy(p + FRAME_HDR_LEN + 2, text, tlen);
	return total;
}

size_t frame_data_header_len(uint8_t family)
{
	return FRAME_HDR_LEN + FRAME_DATA_FIXED + channel_wire_len(family);
}

void frame_data_put_header(uint8_t *p, const struct frame_data *d)
{
	size_t hlen = frame_data_header_len(d->ch.family);
	uint8_t *b = p + FRAME_HDR_LEN;

	frame_put_header(p, FRAME_DATA,
			 (uint32_t)(hlen - FRAME_HDR_LEN + d->len));
	b[0] = d->hops;
	b[1] = 0;
	put_be16(b + 2, d->sport);
	put_be64(b + 4, d->origin);
	put_be64(b + 12, d->seq);
	channel_encode(&d->ch, b + FRAME_DATA_FIXED);
}

size_t frame_data_forward(uint8_t *p, const struct frame_data *d)
{
	struct frame_data fwd = *d;

	if (fwd.hops < UINT8_MAX)
		fwd.hops++;
	frame_data_put_header(p, &fwd);
	return frame_data_header_len(d->ch.family);
}

int frame_data_decode(const struct frame *f, struct frame_data *d)
{
	const uint8_t *b = f->body;
	int n;

	if (f->type != FRAME_DATA || f->len < FRAME_DATA_FIXED || b[1] != 0)
		return FRAME_E_LENGTH;
	d->hops = b[0];
	d->sport = get_be16(b + 2);
	d->origin = get_be64(b + 4);
	d->seq = get_be64(b + 12);
	n = channel_decode(&d->ch, b + FRAME_DATA_FIXED,
			   f->len - FRAME_DATA_FIXED);
	if (n < 0)
		return FRAME_E_LENGTH;
	d->payload = b + FRAME_DATA_FIXED + n;
	d->len = f->len - FRAME_DATA_FIXED - (uint32_t)n;
	if (d->len > 65535)
		return FRAME_E_TOO_LARGE;
	return 0;
}

size_t frame_encode_channel(uint8_t *p, size_t cap, uint8_t type,
			    const struct channel *ch, int active)
{
	size_t n = channel_wire_len(ch->family) + (type == FRAME_FORWARDER);

	if (cap < FRAME_HDR_LEN + n)
		return 0;
	frame_put_header(p, type, (uint32_t)n);
	channel_encode(ch, p + FRAME_HDR_LEN);
	if (type == FRAME_FORWARDER)
		p[FRAME_HDR_LEN + n - 1] = active ? 1 : 0;
	return FRAME_HDR_LEN + n;
}

int frame_channel_decode(const struct frame *f, struct channel *ch,
			 int *active)
{
	int n = channel_decode(ch, f->body, f->len);
	size_t want;

	if (n < 0)
		return FRAME_E_LENGTH;
	want = (size_t)n + (f->type == FRAME_FORWARDER);
	if (f->len != want)
		return FRAME_E_LENGTH;
	if (f->type == FRAME_FORWARDER) {
		if (f->body[n] > 1)
			return FRAME_E_LENGTH;
		*active = f->body[n];
	}
	return 0;
}

size_t frame_encode_emitters(uint8_t *p, size_t cap,
			     const struct frame_emitter *e, size_t n)
{
	size_t len = 1 + n * FRAME_EMITTER_LEN;
	uint8_t *b = p + FRAME_HDR_LEN;

	if (n > FRAME_EMITTERS_MAX || cap < FRAME_HDR_LEN + len)
		return 0;
	frame_put_header(p, FRAME_EMITTERS, (uint32_t)len);
	b[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		uint8_t *q = b + 1 + i * FRAME_EMITTER_LEN;

		q[0] = e[i].family;
		q[1] = 0;
		put_be16(q + 2, e[i].port);
		memcpy(q + 4, e[i].addr, 16);
	}
	return FRAME_HDR_LEN + len;
}

int frame_emitters_decode(const struct frame *f, struct frame_emitter *e,
			  size_t *n)
{
	const uint8_t *b = f->body;

	if (f->len < 1 || b[0] > FRAME_EMITTERS_MAX ||
	    f->len != 1u + b[0] * FRAME_EMITTER_LEN)
		return FRAME_E_LENGTH;
	*n = b[0];
	for (size_t i = 0; i < *n; i++) {
		const uint8_t *q = b + 1 + i * FRAME_EMITTER_LEN;

		if ((q[0] != 4 && q[0] != 6) || q[1] != 0)
			return FRAME_E_LENGTH;
		e[i].family = q[0];
		e[i].port = get_be16(q + 2);
		memcpy(e[i].addr, q + 4, 16);
	}
	return 0;
}

int frame_sniff_hello(const uint8_t *p, size_t n)
{
	/* length, type HELLO, flags and reserved zero, then the magic */
	uint8_t want[FRAME_HDR_LEN + 4] = { 0, 0, 0, 0, FRAME_HELLO, 0, 0, 0,
					    'M', 'C', 'F', 'Y' };

	for (size_t i = 0; i < n && i < sizeof(want); i++) {
		if (i == 2 || i == 3) /* the length's low bytes: any value */
			continue;
		if (p[i] != want[i])
			return -1;
	}
	if (n >= 4) {
		uint32_t len = get_be32(p);

		if (len < 17 || len > FRAME_HELLO_MAX)
			return -1;
	}
	return n >= sizeof(want) ? 1 : 0;
}
