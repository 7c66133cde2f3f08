/* emitter.c - the emitter filter, a bounded hash set; see emitter.h. */
#include "emitter.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0xff, 0xff };

int emitter_from_sockaddr(const struct sockaddr_storage *ss,
			  struct frame_emitter *e)
{
	memset(e, 0, sizeof(*e));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		e->family = 4;
		e->port = ntohs(sin->sin_port);
		memcpy(e->addr, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)ss;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		e->port = ntohs(sin6->sin6_port);
		/* A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d;
		 * they are the same emitter as a.b.c.d. */
		if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
			e->family = 4;
			memcpy(e->addr, a + 12, 4);
		} else {
			e->family = 6;
			memcpy(e->addr, a, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

void emitter_init(struct emitter_set *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->nindex = 4;
	while (s->nindex < 2 * max)
		s->nindex <<= 1;
	s->items = xcalloc(max, sizeof(*s->items));
	s->index = xcalloc(s->nindex, sizeof(*s->index));
}

void emitter_exit(struct emitter_set *s)
{
	free(s->items);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

static size_t alen(const struct frame_emitter *e)
{
	return e->family == 4 ? 4 : 16;
}

static size_t slot_of(const struct emitter_set *s,
		      const struct frame_emitter *e)
{
	uint8_t key[19];

	key[0] = e->family;
	put_be16(key + 1, e->port);
	memcpy(key + 3, e->addr, alen(e));
	return (size_t)hash_bytes(key, 3 + alen(e), 0) & (s->nindex - 1);
}

static bool same(const struct frame_emitter *a, const struct frame_emitter *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, alen(a));
}

/* The index slot holding e, or the empty slot where it would go: linear
 * probing over a table at most half full ends within a few slots. */
static size_t probe(const struct emitter_set *s, const struct frame_emitter *e)
{
	size_t i = slot_of(s, e);

	while (s->index[i] && !same(&s->items[s->index[i] - 1], e))
		i = (i + 1) & (s->nindex - 1);
	return i;
}

int emitter_add(struct emitter_set *s, const struct frame_emitter *e)
{
	struct frame_emitter *m;
	size_t i;

	if (e->family != 4 && e->family != 6)
		return -EINVAL;
	i = probe(s, e);
	if (s->index[i])
		return -EEXIST;
	if (s->n == s->max)
		return -ENOSPC;
	m = &s->items[s->n];
	memset(m, 0, sizeof(*m));
	m->family = e->family;
	m->port = e->port;
	memcpy(m->addr, e->addr, alen(e));
	s->index[i] = (uint32_t)++s->n;
	return 0;
}

bool emitter_has(const struct emitter_set *s, const struct frame_emitter *e)
{
	if (e->family != 4 && e->family != 6)
		return false;
	return s->index[probe(s, e)] != 0;
}

void emitter_clear(struct emitter_set *s)
{
	memset(s->index, 0, s->nindex * sizeof(*s->index));
	s->n = 0;
}

const struct frame_emitter *emitter_list(const struct emitter_set *s,
					 size_t *n)
{
	*n = s->n;
	return s->items;
}
