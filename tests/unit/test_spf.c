/* test_spf.c - unit tests for src/spf.c: shortest paths, the node-id tie
 * break, two-way and drained links, pruning to where a channel is wanted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spf.h"

/* Add node's LSA with links to nbrs[i] of cost costs[i]. */
static void add(struct lsdb *db, uint64_t node, const uint64_t *nbrs,
		const uint32_t *costs, size_t n)
{
	struct lsa *a = calloc(1, sizeof(*a));

	a->node = node;
	a->seq = 1;
	a->links = calloc(n + 1, sizeof(*a->links));
	for (size_t i = 0; i < n; i++)
		a->links[i] = (struct lsa_link){ nbrs[i], costs[i] };
	a->nlinks = n;
	assert_int_equal(lsdb_install(db, a), 1);
}

static uint64_t parent_of(const struct lsdb *db, const struct spf_tree *t,
			  uint64_t node)
{
	long i = lsdb_index(db, node);

	assert_true(i >= 0);
	return t->parent[i] < 0 ? 0 : db->v[t->parent[i]]->node;
}

/* A square 1-2-3-4-1, all cost 10: from 1, node 3 is 20 away through 2
 * or 4; the lower id (2) wins. */
static void test_square_tie(void **state)
{
	struct lsdb db;
	struct spf_tree t = { 0 };
	uint32_t c[2] = { 10, 10 };

	(void)state;
	lsdb_init(&db);
	add(&db, 1, (uint64_t[]){ 2, 4 }, c, 2);
	add(&db, 2, (uint64_t[]){ 1, 3 }, c, 2);
	add(&db, 3, (uint64_t[]){ 2, 4 }, c, 2);
	add(&db, 4, (uint64_t[]){ 3, 1 }, c, 2);
	assert_int_equal(spf_compute(&db, 1, &t), 0);
	assert_int_equal(t.dist[lsdb_index(&db, 3)], 20);
	assert_int_equal(parent_of(&db, &t, 3), 2);
	assert_int_equal(parent_of(&db, &t, 4), 1);
	assert_int_equal(spf_compute(&db, 99, &t), -ENOENT);
	spf_tree_free(&t);
	lsdb_exit(&db);
}

/* Costs decide; a one-way link and a drained one are not used. */
static void test_costs_oneway_drain(void **state)
{
	struct lsdb db;
	struct spf_tree t = { 0 };

	(void)state;
	lsdb_init(&db);
	/* 1-2 cost 50, 1-3 cost 10, 3-2 cost 10: 2 is reached via 3. */
	add(&db, 1, (uint64_t[]){ 2, 3, 4 }, (uint32_t[]){ 50, 10, 1 }, 3);
	add(&db, 2, (uint64_t[]){ 1, 3 }, (uint32_t[]){ 50, 10 }, 2);
	add(&db, 3, (uint64_t[]){ 1, 2, 5 },
	    (uint32_t[]){ 10, 10, LSA_COST_INF }, 3);
	add(&db, 4, NULL, NULL, 0);              /* does not list 1 */
	add(&db, 5, (uint64_t[]){ 3 }, (uint32_t[]){ 10 }, 1);
	assert_int_equal(spf_compute(&db, 1, &t), 0);
	assert_int_equal(parent_of(&db, &t, 2), 3);
	assert_int_equal(t.dist[lsdb_index(&db, 2)], 20);
	assert_true(t.dist[lsdb_index(&db, 4)] == SPF_UNREACHABLE);
	assert_true(t.dist[lsdb_index(&db, 5)] == SPF_UNREACHABLE);
	spf_tree_free(&t);
	lsdb_exit(&db);
}

/* A line 1-2-3-4 and a branch 2-5: only 4 wants; from 1 the pruned tree
 * is 1-2-3-4, and 5 gets nothing. */
static void test_prune(void **state)
{
	struct lsdb db;
	struct spf_tree t = { 0 };
	bool keep[5] = { 0 };
	long out[4];
	uint32_t c[3] = { 10, 10, 10 };

	(void)state;
	lsdb_init(&db);
	add(&db, 1, (uint64_t[]){ 2 }, c, 1);
	add(&db, 2, (uint64_t[]){ 1, 3, 5 }, c, 3);
	add(&db, 3, (uint64_t[]){ 2, 4 }, c, 2);
	add(&db, 4, (uint64_t[]){ 3 }, c, 1);
	add(&db, 5, (uint64_t[]){ 2 }, c, 1);
	assert_int_equal(spf_compute(&db, 1, &t), 0);
	assert_int_equal(spf_children(&t, lsdb_index(&db, 2), NULL, out, 4), 2);
	keep[lsdb_index(&db, 4)] = true;
	spf_prune(&t, keep);
	assert_true(keep[lsdb_index(&db, 1)] && keep[lsdb_index(&db, 2)] &&
		    keep[lsdb_index(&db, 3)] && keep[lsdb_index(&db, 4)]);
	assert_false(keep[lsdb_index(&db, 5)]);
	assert_int_equal(spf_children(&t, lsdb_index(&db, 2), keep, out, 4), 1);
	assert_int_equal(db.v[out[0]]->node, 3);
	assert_int_equal(spf_children(&t, lsdb_index(&db, 4), keep, out, 4), 0);
	spf_tree_free(&t);
	lsdb_exit(&db);
}

/* Every root of a ring of 6 reaches all, and trees are the same whoever
 * computes them (a second database filled in another order). */
static void test_ring_same_everywhere(void **state)
{
	struct lsdb x, y;
	struct spf_tree a = { 0 }, b = { 0 };
	uint32_t c[2] = { 10, 10 };

	(void)state;
	lsdb_init(&x);
	lsdb_init(&y);
	for (uint64_t i = 1; i <= 6; i++)
		add(&x, i, (uint64_t[]){ i % 6 + 1, (i + 4) % 6 + 1 }, c, 2);
	for (uint64_t i = 6; i >= 1; i--)
		add(&y, i, (uint64_t[]){ (i + 4) % 6 + 1, i % 6 + 1 }, c, 2);
	for (uint64_t r = 1; r <= 6; r++) {
		assert_int_equal(spf_compute(&x, r, &a), 0);
		assert_int_equal(spf_compute(&y, r, &b), 0);
		for (size_t i = 0; i < 6; i++) {
			assert_true(a.dist[i] != SPF_UNREACHABLE);
			assert_int_equal(a.parent[i], b.parent[i]);
		}
	}
	spf_tree_free(&a);
	spf_tree_free(&b);
	lsdb_exit(&x);
	lsdb_exit(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_square_tie),
		cmocka_unit_test(test_costs_oneway_drain),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_ring_same_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
