/* test_lsdb.c - unit tests for src/lsdb.c: the LSA codec round-trips and
 * refuses garbage; the database keeps the newest copy per node; digests
 * agree whatever the arrival order; summaries find what a peer lacks; a
 * buried LSA is not taken back as new, but a newer one is. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lsdb.h"

static struct lsa *mk(uint64_t node, uint64_t seq, const uint64_t *nbrs,
		      size_t n)
{
	struct lsa *a = calloc(1, sizeof(*a));
	uint8_t buf[4096];
	int len;

	a->node = node;
	a->epoch = 1;
	a->seq = seq;
	strcpy(a->name, "h");
	a->links = calloc(n + 1, sizeof(*a->links));
	for (size_t i = 0; i < n; i++)
		a->links[i] = (struct lsa_link){ nbrs[i], 10 };
	a->nlinks = n;
	a->members = calloc(1, sizeof(*a->members));
	len = lsa_encode(a, buf, sizeof(buf));
	assert_true(len > 0);
	lsa_clear(a);
	assert_int_equal(lsa_decode(buf, (size_t)len, a), 0);
	return a;
}

static void test_roundtrip(void **state)
{
	struct lsa a = { .node = 7, .epoch = 3, .seq = 9 }, b;
	struct lsa_link l[2] = { { 8, 10 }, { 9, LSA_COST_INF } };
	struct channel ch[3];
	struct lsa_member m = { .node = 0x1234, .chans = ch, .nexports = 1,
				.nwants = 2 };
	char err[64];
	uint8_t buf[1024];
	int n;

	(void)state;
	assert_int_equal(channel_parse("239.1.1.1:5000", &ch[0], err,
				       sizeof(err)), 0);
	assert_int_equal(channel_parse("239.1.1.2:5000", &ch[1], err,
				       sizeof(err)), 0);
	assert_int_equal(channel_parse("[ff15::1]:5000", &ch[2], err,
				       sizeof(err)), 0);
	strcpy(a.name, "hub-a");
	strcpy(m.island, "A");
	a.links = l;
	a.nlinks = 2;
	a.members = &m;
	a.nmembers = 1;
	n = lsa_encode(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(lsa_encode(&a, buf, 30), -ENOSPC);
	assert_int_equal(lsa_decode(buf, (size_t)n, &b), 0);
	assert_int_equal(b.node, 7);
	assert_int_equal(b.seq, 9);
	assert_string_equal(b.name, "hub-a");
	assert_int_equal(b.nlinks, 2);
	assert_int_equal(b.links[1].cost, LSA_COST_INF);
	assert_int_equal(lsa_cost_to(&b, 8), 10);
	assert_int_equal(lsa_cost_to(&b, 99), LSA_COST_INF);
	assert_int_equal(b.nmembers, 1);
	assert_string_equal(b.members[0].island, "A");
	assert_true(lsa_member_has(&b.members[0], &ch[0], true));
	assert_false(lsa_member_has(&b.members[0], &ch[0], false));
	assert_true(lsa_member_has(&b.members[0], &ch[2], false));
	lsa_clear(&b);
	/* Every truncation and a trailing byte are refused. */
	for (int k = 0; k < n; k++)
		assert_int_equal(lsa_decode(buf, (size_t)k, &b), -EINVAL);
	assert_int_equal(lsa_decode(buf, (size_t)n + 1, &b), -EINVAL);
}

static void test_install_newest(void **state)
{
	struct lsdb db;
	struct lsa *a1 = mk(5, 1, NULL, 0), *a2 = mk(5, 2, NULL, 0),
		   *a0 = mk(5, 1, NULL, 0);

	(void)state;
	lsdb_init(&db);
	assert_int_equal(lsdb_install(&db, a1), 1);
	assert_int_equal(lsdb_install(&db, a2), 1); /* frees a1 */
	assert_int_equal(lsdb_install(&db, a0), 0); /* older: ours still */
	lsa_clear(a0);
	free(a0);
	assert_int_equal(db.n, 1);
	assert_int_equal(lsdb_find(&db, 5)->seq, 2);
	assert_int_equal(lsdb_remove(&db, 5), 0);
	assert_int_equal(lsdb_remove(&db, 5), -ENOENT);
	lsdb_exit(&db);
}

static void test_digest_order_free(void **state)
{
	struct lsdb x, y;
	uint64_t ids[] = { 30, 10, 20, 40 };

	(void)state;
	lsdb_init(&x);
	lsdb_init(&y);
	for (int i = 0; i < 4; i++)
		assert_int_equal(lsdb_install(&x, mk(ids[i], 1, ids, 4)), 1);
	for (int i = 3; i >= 0; i--)
		assert_int_equal(lsdb_install(&y, mk(ids[i], 1, ids, 4)), 1);
	assert_true(lsdb_digest(&x) == lsdb_digest(&y));
	assert_int_equal(x.v[0]->node, 10);
	assert_int_equal(lsdb_install(&y, mk(20, 2, ids, 4)), 1);
	assert_true(lsdb_digest(&x) != lsdb_digest(&y));
	lsdb_exit(&x);
	lsdb_exit(&y);
}

static size_t nsent;
static uint64_t sent[8];

static void collect(const struct lsa *a, void *arg)
{
	(void)arg;
	sent[nsent++] = a->node;
}

static void test_summary_diff(void **state)
{
	struct lsdb mine, theirs;
	uint8_t sum[256];
	size_t n;

	(void)state;
	lsdb_init(&mine);
	lsdb_init(&theirs);
	lsdb_install(&mine, mk(1, 5, NULL, 0));
	lsdb_install(&mine, mk(2, 5, NULL, 0));
	lsdb_install(&mine, mk(3, 5, NULL, 0));
	lsdb_install(&theirs, mk(1, 5, NULL, 0)); /* same */
	lsdb_install(&theirs, mk(2, 4, NULL, 0)); /* older */
	lsdb_install(&theirs, mk(4, 1, NULL, 0)); /* one we lack */
	n = lsdb_summary_encode(&theirs, sum, sizeof(sum));
	assert_int_equal(n, 3 * LSA_SUM_LEN);
	nsent = 0;
	assert_int_equal(lsdb_summary_diff(&mine, sum, n, collect, NULL), 0);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[0], 2);
	assert_int_equal(sent[1], 3);
	assert_int_equal(lsdb_summary_diff(&mine, sum, n - 1, collect, NULL),
			 -EINVAL);
	lsdb_exit(&mine);
	lsdb_exit(&theirs);
}

static void test_bury(void **state)
{
	struct lsdb db, peer;
	struct lsa *same = mk(7, 3, NULL, 0), *older = mk(7, 2, NULL, 0);
	uint64_t nodes[4], d0;
	uint8_t sum[256];
	size_t n;

	(void)state;
	lsdb_init(&db);
	lsdb_install(&db, mk(1, 1, NULL, 0));
	d0 = lsdb_digest(&db);
	lsdb_install(&db, mk(7, 3, NULL, 0));
	assert_int_equal(lsdb_bury(&db, 7, 1000), 0);
	assert_int_equal(lsdb_bury(&db, 7, 1000), -ENOENT);
	assert_null(lsdb_find(&db, 7));
	assert_non_null(lsdb_buried(&db, 7));
	assert_true(lsdb_digest(&db) == d0); /* not in the digest */
	/* The same copy, or an older one, handed back: refused. */
	assert_int_equal(lsdb_install(&db, same), 0);
	assert_int_equal(lsdb_install(&db, older), 0);
	lsa_clear(same);
	lsa_clear(older);
	free(same);
	free(older);
	assert_int_equal(db.n, 1);
	/* In our summary: a peer holding the same copy does not send it. */
	lsdb_init(&peer);
	lsdb_install(&peer, mk(7, 3, NULL, 0));
	n = lsdb_summary_encode(&db, sum, sizeof(sum));
	assert_int_equal(n, 2 * LSA_SUM_LEN);
	nsent = 0;
	assert_int_equal(lsdb_summary_diff(&peer, sum, n, collect, NULL), 0);
	assert_int_equal(nsent, 0);
	/* Unburied, it is held again with its burial time. */
	assert_int_equal(lsdb_unbury(&db, nodes), 1);
	assert_int_equal(nodes[0], 7);
	assert_int_equal(db.nlimbo, 0);
	assert_int_equal(lsdb_find(&db, 7)->seen_ms, 1000);
	/* Expiry frees what was buried long enough ago. */
	assert_int_equal(lsdb_bury(&db, 7, 1000), 0);
	assert_int_equal(lsdb_limbo_expire(&db, 1500, 1000), 0);
	assert_int_equal(lsdb_limbo_expire(&db, 2001, 1000), 1);
	assert_null(lsdb_buried(&db, 7));
	/* A newer copy replaces a buried one. */
	assert_int_equal(lsdb_bury(&db, 1, 3000), 0);
	assert_int_equal(lsdb_install(&db, mk(1, 2, NULL, 0)), 1);
	assert_null(lsdb_buried(&db, 1));
	assert_int_equal(lsdb_find(&db, 1)->seq, 2);
	lsdb_exit(&db);
	lsdb_exit(&peer);
}

static void test_limbo_bounded(void **state)
{
	struct lsdb db;

	(void)state;
	lsdb_init(&db);
	for (uint64_t i = 1; i <= LSDB_LIMBO_MAX + 5; i++) {
		lsdb_install(&db, mk(i, 1, NULL, 0));
		assert_int_equal(lsdb_bury(&db, i, i), 0);
	}
	assert_int_equal(db.nlimbo, LSDB_LIMBO_MAX);
	assert_null(lsdb_buried(&db, 5));     /* the oldest went first */
	assert_non_null(lsdb_buried(&db, 6));
	lsdb_exit(&db);                        /* frees the limbo (ASan) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_install_newest),
		cmocka_unit_test(test_digest_order_free),
		cmocka_unit_test(test_summary_diff),
		cmocka_unit_test(test_bury),
		cmocka_unit_test(test_limbo_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
