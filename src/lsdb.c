/* lsdb.c - the link-state database and the LSA codec; see lsdb.h. */
#include "lsdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

/* ---- the codec ------------------------------------------------------- */

int lsa_encode(const struct lsa *a, uint8_t *p, size_t cap)
{
	size_t n = strlen(a->name), off = 0;

#define NEED(k)                        \
	do {                           \
		if (off + (k) > cap)   \
			return -ENOSPC; \
	} while (0)
	NEED(25 + n + 2);
	put_be64(p, a->node);
	put_be64(p + 8, a->epoch);
	put_be64(p + 16, a->seq);
	p[24] = (uint8_t)n;
	memcpy(p + 25, a->name, n);
	off = 25 + n;
	put_be16(p + off, (uint16_t)a->nlinks);
	off += 2;
	for (size_t i = 0; i < a->nlinks; i++) {
		NEED(12);
		put_be64(p + off, a->links[i].node);
		put_be32(p + off + 8, a->links[i].cost);
		off += 12;
	}
	NEED(2);
	put_be16(p + off, (uint16_t)a->nmembers);
	off += 2;
	for (size_t i = 0; i < a->nmembers; i++) {
		const struct lsa_member *m = &a->members[i];
		size_t il = strlen(m->island);

		NEED(8 + 1 + il + 4);
		put_be64(p + off, m->node);
		p[off + 8] = (uint8_t)il;
		memcpy(p + off + 9, m->island, il);
		off += 9 + il;
		put_be16(p + off, m->nexports);
		put_be16(p + off + 2, m->nwants);
		off += 4;
		for (size_t k = 0; k < (size_t)m->nexports + m->nwants; k++) {
			NEED(channel_wire_len(m->chans[k].family));
			off += channel_encode(&m->chans[k], p + off);
		}
	}
#undef NEED
	return (int)off;
}

int lsa_decode(const uint8_t *p, size_t n, struct lsa *a)
{
	size_t off, nl;

	memset(a, 0, sizeof(*a));
	if (n < 25 || p[24] > LSA_NAME_MAX || n < 25u + p[24] + 2)
		return -EINVAL;
	a->node = get_be64(p);
	a->epoch = get_be64(p + 8);
	a->seq = get_be64(p + 16);
	memcpy(a->name, p + 25, p[24]);
	off = 25 + p[24];
	nl = get_be16(p + off);
	off += 2;
	if (n - off < nl * 12 + 2)
		goto fail;
	a->links = xcalloc(nl ? nl : 1, sizeof(*a->links));
	a->nlinks = nl;
	for (size_t i = 0; i < nl; i++, off += 12) {
		a->links[i].node = get_be64(p + off);
		a->links[i].cost = get_be32(p + off + 8);
	}
	a->nmembers = get_be16(p + off);
	off += 2;
	a->members = xcalloc(a->nmembers ? a->nmembers : 1,
			     sizeof(*a->members));
	for (size_t i = 0; i < a->nmembers; i++) {
		struct lsa_member *m = &a->members[i];
		size_t il, nc;

		if (n - off < 9)
			goto fail;
		m->node = get_be64(p + off);
		il = p[off + 8];
		if (il > FRAME_ISLAND_MAX || n - off < 9 + il + 4)
			goto fail;
		memcpy(m->island, p + off + 9, il);
		off += 9 + il;
		m->nexports = get_be16(p + off);
		m->nwants = get_be16(p + off + 2);
		off += 4;
		nc = (size_t)m->nexports + m->nwants;
		m->chans = xcalloc(nc ? nc : 1, sizeof(*m->chans));
		for (size_t k = 0; k < nc; k++) {
			int rc;

			if (off >= n)
				goto fail;
			rc = channel_decode(&m->chans[k], p + off, n - off);
			if (rc <= 0)
				goto fail;
			off += (size_t)rc;
		}
	}
	if (off != n)
		goto fail;
	a->hash = hash_bytes(p, n, 0x6d657368u);
	return 0;
fail:
	lsa_clear(a);
	return -EINVAL;
}

void lsa_clear(struct lsa *a)
{
	for (size_t i = 0; i < a->nmembers; i++)
		free(a->members[i].chans);
	free(a->members);
	free(a->links);
	a->members = NULL;
	a->links = NULL;
	a->nmembers = a->nlinks = 0;
}

bool lsa_newer(const struct lsa *a, const struct lsa *b)
{
	return a->epoch != b->epoch ? a->epoch > b->epoch : a->seq > b->seq;
}

bool lsa_member_has(const struct lsa_member *m, const struct channel *ch,
		    bool exp)
{
	size_t from = exp ? 0 : m->nexports;
	size_t to = exp ? m->nexports : (size_t)m->nexports + m->nwants;

	for (size_t k = from; k < to; k++)
		if (channel_equal(&m->chans[k], ch))
			return true;
	return false;
}

uint32_t lsa_cost_to(const struct lsa *a, uint64_t node)
{
	uint32_t best = LSA_COST_INF;

	for (size_t i = 0; i < a->nlinks; i++)
		if (a->links[i].node == node && a->links[i].cost < best)
			best = a->links[i].cost;
	return best;
}

/* ---- the database ---------------------------------------------------- */

void lsdb_init(struct lsdb *db)
{
	memset(db, 0, sizeof(*db));
}

static void lsa_free(struct lsa *a)
{
	lsa_clear(a);
	free(a);
}

void lsdb_exit(struct lsdb *db)
{
	for (size_t i = 0; i < db->n; i++)
		lsa_free(db->v[i]);
	for (size_t i = 0; i < db->nlimbo; i++)
		lsa_free(db->limbo[i]);
	free(db->v);
	free(db->limbo);
	memset(db, 0, sizeof(*db));
}

/* The limbo's index of node, or -1 (it is small and unsorted). */
static long limbo_index(const struct lsdb *db, uint64_t node)
{
	for (size_t i = 0; i < db->nlimbo; i++)
		if (db->limbo[i]->node == node)
			return (long)i;
	return -1;
}

static void limbo_drop(struct lsdb *db, size_t i)
{
	lsa_free(db->limbo[i]);
	memmove(db->limbo + i, db->limbo + i + 1,
		(db->nlimbo - i - 1) * sizeof(*db->limbo));
	db->nlimbo--;
}

/* The index of node, or where it would go (as ~index). */
static long lsdb_search(const struct lsdb *db, uint64_t node)
{
	size_t lo = 0, hi = db->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (db->v[mid]->node == node)
			return (long)mid;
		if (db->v[mid]->node < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ~(long)lo;
}

long lsdb_index(const struct lsdb *db, uint64_t node)
{
	long i = lsdb_search(db, node);

	return i < 0 ? -1 : i;
}

struct lsa *lsdb_find(const struct lsdb *db, uint64_t node)
{
	long i = lsdb_search(db, node);

	return i < 0 ? NULL : db->v[i];
}

int lsdb_install(struct lsdb *db, struct lsa *a)
{
	long i = lsdb_search(db, a->node), k;
	size_t at;

	if (i >= 0) {
		if (!lsa_newer(a, db->v[i]))
			return 0;
		lsa_clear(db->v[i]);
		free(db->v[i]);
		db->v[i] = a;
		return 1;
	}
	if ((k = limbo_index(db, a->node)) >= 0) {
		if (!lsa_newer(a, db->limbo[k]))
			return 0;
		limbo_drop(db, (size_t)k);
	}
	at = (size_t)~i;
	if (db->n == db->cap) {
		db->cap = db->cap ? 2 * db->cap : 16;
		db->v = xrealloc(db->v, db->cap * sizeof(*db->v));
	}
	memmove(db->v + at + 1, db->v + at, (db->n - at) * sizeof(*db->v));
	db->v[at] = a;
	db->n++;
	return 1;
}

int lsdb_remove(struct lsdb *db, uint64_t node)
{
	long i = lsdb_search(db, node);

	if (i < 0)
		return -ENOENT;
	lsa_clear(db->v[i]);
	free(db->v[i]);
	memmove(db->v + i, db->v + i + 1,
		(db->n - (size_t)i - 1) * sizeof(*db->v));
	db->n--;
	return 0;
}

int lsdb_bury(struct lsdb *db, uint64_t node, uint64_t now_ms)
{
	long i = lsdb_search(db, node);
	struct lsa *a;

	if (i < 0)
		return -ENOENT;
	a = db->v[i];
	memmove(db->v + i, db->v + i + 1,
		(db->n - (size_t)i - 1) * sizeof(*db->v));
	db->n--;
	a->seen_ms = now_ms;
	if (db->nlimbo == LSDB_LIMBO_MAX)
		limbo_drop(db, 0);      /* buried first: the oldest */
	if (db->nlimbo == db->caplimbo) {
		db->caplimbo = db->caplimbo ? 2 * db->caplimbo : 8;
		db->limbo = xrealloc(db->limbo,
				     db->caplimbo * sizeof(*db->limbo));
	}
	db->limbo[db->nlimbo++] = a;
	return 0;
}

const struct lsa *lsdb_buried(const struct lsdb *db, uint64_t node)
{
	long k = limbo_index(db, node);

	return k < 0 ? NULL : db->limbo[k];
}

size_t lsdb_unbury(struct lsdb *db, uint64_t *nodes)
{
	size_t n = db->nlimbo;

	/* Out of the limbo first, so lsdb_install does not find them
	 * there. A node is never both held and buried (lsdb_install drops
	 * the buried copy), so each goes back as new. */
	db->nlimbo = 0;
	for (size_t i = 0; i < n; i++) {
		nodes[i] = db->limbo[i]->node;
		if (lsdb_install(db, db->limbo[i]) != 1)
			lsa_free(db->limbo[i]);
	}
	return n;
}

size_t lsdb_limbo_expire(struct lsdb *db, uint64_t now_ms, uint64_t max_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < db->nlimbo;) {
		if (now_ms - db->limbo[i]->seen_ms > max_ms) {
			limbo_drop(db, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

uint64_t lsdb_digest(const struct lsdb *db)
{
	uint64_t d = 0x9e3779b97f4a7c15ull;

	/* In node order, which every holder of the same set shares. */
	for (size_t i = 0; i < db->n; i++)
		d = hash_mix64(d ^ db->v[i]->hash ^
			       hash_mix64(db->v[i]->node + db->v[i]->seq));
	return d;
}

size_t lsdb_summary_encode(const struct lsdb *db, uint8_t *p, size_t cap)
{
	size_t off = 0;

	for (size_t i = 0; i < db->n + db->nlimbo && off + LSA_SUM_LEN <= cap;
	     i++) {
		const struct lsa *a = i < db->n ? db->v[i] : db->limbo[i - db->n];

		put_be64(p + off, a->node);
		put_be64(p + off + 8, a->epoch);
		put_be64(p + off + 16, a->seq);
		off += LSA_SUM_LEN;
	}
	return off;
}

int lsdb_summary_diff(const struct lsdb *db, const uint8_t *p, size_t n,
		      void (*fn)(const struct lsa *a, void *arg), void *arg)
{
	if (n % LSA_SUM_LEN)
		return -EINVAL;
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];
		bool covered = false;

		for (size_t off = 0; off < n; off += LSA_SUM_LEN) {
			struct lsa s = { .node = get_be64(p + off),
					 .epoch = get_be64(p + off + 8),
					 .seq = get_be64(p + off + 16) };

			if (s.node == a->node) {
				covered = !lsa_newer(a, &s);
				break;
			}
		}
		if (!covered)
			fn(a, arg);
	}
	return 0;
}
