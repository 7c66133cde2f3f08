/* test_route.c - unit tests for src/route.c (origin lookup, pruning to
 * each island's mesh-wide forwarder, the topology digest, the bounded
 * route cache) and election_mesh of src/election.c, which they rest on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "election.h"
#include "route.h"
#include "spf.h"

static struct channel CH, OTHER_CH;

static int setup(void **state)
{
	char err[64];

	(void)state;
	channel_parse("239.1.1.1:5000", &CH, err, sizeof(err));
	channel_parse("239.1.1.2:5000", &OTHER_CH, err, sizeof(err));
	return 0;
}

/* A member: node of island, exporting ch when exp, wanting it when want. */
struct mem {
	uint64_t node;
	const char *island;
	bool exp, want;
};

/* Install hub node with links to nbrs (cost 10) and members. */
static void add(struct lsdb *db, uint64_t node, const uint64_t *nbrs,
		size_t nn, const struct mem *ms, size_t nm)
{
	struct lsa *a = calloc(1, sizeof(*a));

	a->node = node;
	a->seq = 1;
	a->links = calloc(nn + 1, sizeof(*a->links));
	for (size_t i = 0; i < nn; i++)
		a->links[i] = (struct lsa_link){ nbrs[i], 10 };
	a->nlinks = nn;
	a->members = calloc(nm + 1, sizeof(*a->members));
	for (size_t i = 0; i < nm; i++) {
		struct lsa_member *m = &a->members[i];

		m->node = ms[i].node;
		snprintf(m->island, sizeof(m->island), "%s", ms[i].island);
		m->chans = calloc(3, sizeof(*m->chans));
		if (ms[i].exp)
			m->chans[m->nexports++] = CH;
		if (ms[i].want)
			m->chans[m->nexports + m->nwants++] = CH;
	}
	a->nmembers = nm;
	assert_int_equal(lsdb_install(db, a), 1);
}

/* The winner election_pick chooses among nodes[0..n). */
static uint64_t pick(const uint64_t *nodes, size_t n)
{
	int i = election_pick(nodes, n, &CH);

	assert_true(i >= 0);
	return nodes[i];
}

/* election_mesh agrees with election_pick over the island's candidates,
 * once each, whatever LSA lists them; it skips other islands, members
 * without the channel, the skipped index and unusable LSAs. */
static void test_election_mesh(void **state)
{
	struct lsdb db;
	uint64_t w, all[] = { 11, 21, 31 }, extra[] = { 99 };
	bool usable[3] = { true, true, false };

	(void)state;
	lsdb_init(&db);
	add(&db, 1, NULL, 0,
	    (struct mem[]){ { 11, "X", true, true }, { 12, "Y", true, true },
			    { 13, "X", false, false } }, 3);
	add(&db, 2, NULL, 0,
	    (struct mem[]){ { 21, "X", false, true }, { 11, "X", true, true } },
	    2);
	add(&db, 3, NULL, 0, (struct mem[]){ { 31, "X", true, false } }, 1);
	assert_true(election_mesh(&db, NULL, -1, "X", &CH, NULL, 0, &w));
	assert_int_equal(w, pick(all, 3));
	/* Unusable hub 3, skipped hub 1 (11 is still listed by hub 2). */
	assert_true(election_mesh(&db, usable, 0, "X", &CH, NULL, 0, &w));
	assert_int_equal(w, pick(all, 2));
	assert_true(election_mesh(&db, usable, 1, "X", &CH, NULL, 0, &w));
	assert_int_equal(w, 11);
	/* Extra candidates count. */
	assert_true(election_mesh(&db, usable, 1, "X", &CH, extra, 1, &w));
	assert_int_equal(w, pick((uint64_t[]){ 11, 99 }, 2));
	/* No candidate: another island, another channel, nothing usable. */
	assert_false(election_mesh(&db, NULL, -1, "Z", &CH, NULL, 0, &w));
	assert_false(election_mesh(&db, NULL, -1, "X", &OTHER_CH, NULL, 0, &w));
	memset(usable, 0, sizeof(usable));
	assert_false(election_mesh(&db, usable, -1, "X", &CH, NULL, 0, &w));
	lsdb_exit(&db);
}

/* route_origin_find: every hub listing the origin, its island. */
static void test_origin_find(void **state)
{
	struct lsdb db;
	const char *island;
	long roots[1];
	long two[4];

	(void)state;
	lsdb_init(&db);
	add(&db, 1, NULL, 0, (struct mem[]){ { 7, "A", true, false } }, 1);
	add(&db, 2, NULL, 0, (struct mem[]){ { 8, "B", true, false } }, 1);
	add(&db, 3, NULL, 0, (struct mem[]){ { 7, "A", true, false } }, 1);
	assert_int_equal(route_origin_find(&db, 7, two, 4, &island), 2);
	assert_string_equal(island, "A");
	assert_int_equal(db.v[two[0]]->node, 1);
	assert_int_equal(db.v[two[1]]->node, 3);
	/* At most cap indices. */
	assert_int_equal(route_origin_find(&db, 7, roots, 1, &island), 1);
	assert_int_equal(route_origin_find(&db, 9, two, 4, &island), 0);
	assert_null(island);
	lsdb_exit(&db);
}

/* Island X has two gateways on two hubs (10 on hub 1, 20 on hub 2);
 * island Y one on hub 3; island Z one on hub 4 that only exports. The
 * route from Y keeps only the hub of X's winner; from X, hub 3; Z wants
 * nothing, so is never kept. A dual-homed winner keeps both hubs. */
static void test_keep_forwarders(void **state)
{
	struct lsdb db;
	bool keep[4], usable[4] = { true, true, true, true };
	uint64_t x[] = { 10, 20 }, wx;
	long win;

	(void)state;
	lsdb_init(&db);
	add(&db, 1, NULL, 0, (struct mem[]){ { 10, "X", true, true } }, 1);
	add(&db, 2, NULL, 0, (struct mem[]){ { 20, "X", true, true } }, 1);
	add(&db, 3, NULL, 0, (struct mem[]){ { 30, "Y", true, true } }, 1);
	add(&db, 4, NULL, 0, (struct mem[]){ { 40, "Z", true, false } }, 1);
	wx = pick(x, 2);
	win = lsdb_index(&db, wx == 10 ? 1 : 2);
	assert_int_equal(route_keep(&db, NULL, &CH, "Y", keep), 1);
	for (long i = 0; i < 4; i++)
		assert_int_equal(keep[i], i == win);
	assert_int_equal(route_keep(&db, NULL, &CH, "X", keep), 1);
	assert_true(keep[lsdb_index(&db, 3)]);
	/* Without skipping: X's winner and Y. */
	assert_int_equal(route_keep(&db, NULL, &CH, NULL, keep), 2);
	/* The winner's hub unusable (unreachable): the runner-up's hub. */
	usable[win] = false;
	assert_int_equal(route_keep(&db, usable, &CH, "Y", keep), 1);
	assert_true(keep[lsdb_index(&db, wx == 10 ? 2 : 1)]);
	assert_int_equal(route_keep(&db, NULL, &OTHER_CH, NULL, keep), 0);
	lsdb_exit(&db);

	/* The winner dual-homed on hubs 1 and 2: both are destinations. */
	lsdb_init(&db);
	add(&db, 1, NULL, 0, (struct mem[]){ { wx, "X", true, true } }, 1);
	add(&db, 2, NULL, 0, (struct mem[]){ { wx, "X", false, true } }, 1);
	add(&db, 3, NULL, 0, (struct mem[]){ { 30, "Y", true, true } }, 1);
	assert_int_equal(route_keep(&db, NULL, &CH, "Y", keep), 2);
	assert_true(keep[0] && keep[1] && !keep[2]);
	lsdb_exit(&db);
}

/* The winner only exports: its island gets nothing (its hub would not
 * deliver to a gateway that did not join), so nothing is kept for it. */
static void test_keep_winner_must_want(void **state)
{
	struct lsdb db;
	bool keep[2];
	uint64_t x[] = { 10, 20 }, wx;

	(void)state;
	wx = pick(x, 2);
	lsdb_init(&db);
	add(&db, 1, NULL, 0, (struct mem[]){ { wx, "X", true, false } }, 1);
	add(&db, 2, NULL, 0,
	    (struct mem[]){ { wx == 10 ? 20 : 10, "X", false, true } }, 1);
	assert_int_equal(route_keep(&db, NULL, &CH, "Y", keep), 0);
	lsdb_exit(&db);
}

/* The topology digest: same edges and costs, same digest, whatever the
 * order; members and one-way links do not count; a cost, a drain or a
 * link gone does. */
static void test_topology_digest(void **state)
{
	struct lsdb a, b;
	uint64_t da;

	(void)state;
	lsdb_init(&a);
	lsdb_init(&b);
	add(&a, 1, (uint64_t[]){ 2, 3 }, 2, NULL, 0);
	add(&a, 2, (uint64_t[]){ 1 }, 1, NULL, 0);
	add(&a, 3, (uint64_t[]){ 1 }, 1, NULL, 0);
	add(&b, 3, (uint64_t[]){ 1, 2 }, 2,                /* 3->2 one-way */
	    (struct mem[]){ { 9, "Q", true, true } }, 1);
	add(&b, 1, (uint64_t[]){ 3, 2 }, 2, NULL, 0);
	add(&b, 2, (uint64_t[]){ 1 }, 1, NULL, 0);
	da = route_topology_digest(&a);
	assert_int_equal(route_topology_digest(&b), da);
	/* A cost changes it. */
	lsdb_find(&b, 2)->links[0].cost = 20;
	assert_int_not_equal(route_topology_digest(&b), da);
	lsdb_find(&b, 2)->links[0].cost = 10;
	assert_int_equal(route_topology_digest(&b), da);
	/* A drain (infinity at one end) removes the edge both ways. */
	lsdb_find(&b, 3)->links[0].cost = LSA_COST_INF;
	assert_int_not_equal(route_topology_digest(&b), da);
	lsdb_exit(&a);
	lsdb_exit(&b);
}

/* The cache: a hit returns what was filled; a new generation misses; a
 * full set evicts its least recently used entry (counted); memory stays
 * what init fixed. */
static void test_cache(void **state)
{
	struct route_cache rc;
	struct route_origin *o;
	struct route_entry *e;
	bool hit;

	(void)state;
	route_cache_init(&rc, 4, 4);        /* 2 sets x 2 ways each */
	assert_int_equal(rc.osets, 2);
	o = route_cache_origin(&rc, 1, 42, &hit);
	assert_false(hit);
	assert_false(o->known);
	o->known = true;
	snprintf(o->island, sizeof(o->island), "A");
	o = route_cache_origin(&rc, 1, 42, &hit);
	assert_true(hit);
	assert_true(o->known);
	assert_string_equal(o->island, "A");
	assert_int_equal(rc.hits, 1);
	assert_int_equal(rc.misses, 1);
	assert_int_equal(rc.entries, 1);
	/* A new generation: stale, refilled in place, entries start over. */
	o = route_cache_origin(&rc, 2, 42, &hit);
	assert_false(hit);
	assert_false(o->known);
	assert_int_equal(rc.entries, 1);
	assert_int_equal(rc.evictions, 0);

	/* Routes: fill many keys into 2 sets x 2 ways; entries never pass
	 * 4, and the most recently used survive. */
	for (uint64_t root = 1; root <= 40; root++) {
		e = route_cache_route(&rc, 2, root, &CH, "X", &hit);
		assert_false(hit);
		assert_int_equal(e->root, root);
		e->n = 1;
		e->node[0] = root * 100;
		assert_true(rc.entries <= 1 + 4);   /* the origin + routes */
	}
	assert_true(rc.evictions >= 36);
	e = route_cache_route(&rc, 2, 40, &CH, "X", &hit);
	assert_true(hit);
	assert_int_equal(e->node[0], 4000);
	/* Another channel or island is another key. */
	e = route_cache_route(&rc, 2, 40, &OTHER_CH, "X", &hit);
	assert_false(hit);
	e = route_cache_route(&rc, 2, 40, &CH, "Y", &hit);
	assert_false(hit);
	/* LRU: in one set, touch the older entry and add a third key. */
	route_cache_exit(&rc);
	route_cache_init(&rc, 2, 2);        /* 1 set x 2 ways */
	route_cache_route(&rc, 5, 1, &CH, "X", &hit);
	route_cache_route(&rc, 5, 2, &CH, "X", &hit);
	route_cache_route(&rc, 5, 1, &CH, "X", &hit);
	assert_true(hit);
	route_cache_route(&rc, 5, 3, &CH, "X", &hit);   /* evicts 2 */
	assert_int_equal(rc.evictions, 1);
	assert_int_equal(rc.entries, 2);
	route_cache_route(&rc, 5, 1, &CH, "X", &hit);
	assert_true(hit);
	route_cache_route(&rc, 5, 2, &CH, "X", &hit);
	assert_false(hit);
	route_cache_exit(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_election_mesh),
		cmocka_unit_test(test_origin_find),
		cmocka_unit_test(test_keep_forwarders),
		cmocka_unit_test(test_keep_winner_must_want),
		cmocka_unit_test(test_topology_digest),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
