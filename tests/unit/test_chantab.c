/* test_chantab.c - unit tests for src/chantab.c: the channel table and its
 * subscriber sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chantab.h"

/* Channel number i: IPv4 239.x.y.z:5000 + i % 7, or IPv6 ff15::i, an SSM
 * source on every third. */
static struct channel chan(uint32_t i)
{
	struct channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.port = (uint16_t)(5000 + i % 7);
	if (i % 2) {
		ch.family = 4;
		ch.group[0] = 239;
		ch.group[1] = (uint8_t)(i >> 16);
		ch.group[2] = (uint8_t)(i >> 8);
		ch.group[3] = (uint8_t)i;
		if (i % 3 == 0) {
			ch.source[0] = 10;
			ch.source[3] = 1;
		}
	} else {
		ch.family = 6;
		ch.group[0] = 0xff;
		ch.group[1] = 0x15;
		ch.group[13] = (uint8_t)(i >> 16);
		ch.group[14] = (uint8_t)(i >> 8);
		ch.group[15] = (uint8_t)i;
		if (i % 3 == 0) {
			ch.source[0] = 0x20;
			ch.source[15] = 1;
		}
	}
	return ch;
}

static void test_insert_find_delete(void **state)
{
	struct chantab t;
	struct chantab_entry *e, *f;
	struct channel a = chan(1), b = chan(2);
	int x;

	(void)state;
	chantab_init(&t, 10);
	assert_null(chantab_find(&t, &a));
	assert_int_equal(chantab_insert(&t, &a, &e), 0);
	assert_non_null(e);
	assert_true(channel_equal(&e->ch, &a));
	assert_null(e->data);
	e->data = &x;
	assert_int_equal(chantab_insert(&t, &a, &f), -EEXIST);
	assert_ptr_equal(f, e);
	assert_ptr_equal(chantab_find(&t, &a), e);
	assert_ptr_equal(chantab_find(&t, &a)->data, &x);
	assert_null(chantab_find(&t, &b));
	assert_int_equal(chantab_insert(&t, &b, &f), 0);
	assert_ptr_not_equal(f, e);
	assert_int_equal(t.count, 2);
	chantab_del(&t, e);
	assert_null(chantab_find(&t, &a));
	assert_ptr_equal(chantab_find(&t, &b), f);
	assert_int_equal(t.count, 1);
	chantab_exit(&t);
}

/* Channels that differ only in port, source or family are different keys;
 * the unused bytes of an IPv4 channel are not part of it. */
static void test_key_fields(void **state)
{
	struct chantab t;
	struct chantab_entry *e;
	struct channel base = chan(1), v = base;

	(void)state;
	chantab_init(&t, 10);
	assert_int_equal(chantab_insert(&t, &base, &e), 0);
	v.port++;
	assert_null(chantab_find(&t, &v));
	v = base;
	v.source[2] = 9;
	assert_null(chantab_find(&t, &v));
	v = base;
	v.family = 6;
	assert_null(chantab_find(&t, &v));
	v = base;
	memset(v.group + 4, 0xee, 12);
	memset(v.source + 4, 0xee, 12);
	assert_ptr_equal(chantab_find(&t, &v), e);
	assert_int_equal(chantab_insert(&t, &v, &e), -EEXIST);
	/* The stored key is clean. */
	for (int i = 4; i < 16; i++) {
		assert_int_equal(e->ch.group[i], 0);
		assert_int_equal(e->ch.source[i], 0);
	}
	chantab_exit(&t);
}

static void test_capacity(void **state)
{
	struct chantab t;
	struct chantab_entry *e;
	struct channel c;

	(void)state;
	chantab_init(&t, 3);
	for (uint32_t i = 0; i < 3; i++) {
		c = chan(i);
		assert_int_equal(chantab_insert(&t, &c, &e), 0);
	}
	c = chan(3);
	assert_int_equal(chantab_insert(&t, &c, &e), -ENOSPC);
	assert_null(e);
	assert_null(chantab_find(&t, &c));
	/* A full table still reports an existing key as such. */
	c = chan(1);
	assert_int_equal(chantab_insert(&t, &c, &e), -EEXIST);
	chantab_del(&t, e);
	c = chan(3);
	assert_int_equal(chantab_insert(&t, &c, &e), 0);
	assert_int_equal(t.count, 3);
	chantab_exit(&t);
}

/* Iteration visits every entry once, in insertion order, and survives the
 * deletion of the entry it stands on. */
static void test_iterate_and_delete(void **state)
{
	struct chantab t;
	struct chantab_entry *e;
	struct chantab_iter it;
	uint32_t seen = 0;

	(void)state;
	chantab_init(&t, 100);
	assert_null(chantab_first(&t, &it));
	for (uint32_t i = 0; i < 100; i++) {
		struct channel c = chan(i);

		assert_int_equal(chantab_insert(&t, &c, &e), 0);
		e->data = (void *)(uintptr_t)(i + 1);
	}
	/* Delete every odd one while walking. */
	for (e = chantab_first(&t, &it); e; e = chantab_next(&it)) {
		uint32_t i = (uint32_t)(uintptr_t)e->data - 1;

		assert_int_equal(i, seen);
		seen++;
		if (i % 2)
			chantab_del(&t, e);
	}
	assert_int_equal(seen, 100);
	assert_int_equal(t.count, 50);
	seen = 0;
	for (e = chantab_first(&t, &it); e; e = chantab_next(&it)) {
		assert_int_equal((uint32_t)(uintptr_t)e->data - 1, 2 * seen);
		seen++;
		chantab_del(&t, e);   /* now every one */
	}
	assert_int_equal(seen, 50);
	assert_int_equal(t.count, 0);
	assert_null(chantab_first(&t, &it));
	chantab_exit(&t);
}

static void test_subscribers(void **state)
{
	struct chantab t;
	struct chantab_entry *e;
	struct channel c = chan(5);
	const unsigned *ids;
	size_t n;

	(void)state;
	chantab_init(&t, 1);
	assert_int_equal(chantab_insert(&t, &c, &e), 0);
	assert_int_equal(chantab_subs_count(&e->subs), 0);
	assert_false(chantab_subs_has(&e->subs, 0));
	assert_int_equal(chantab_subs_del(&e->subs, 7), 0);
	assert_int_equal(chantab_subs_add(&e->subs, 7), 1);
	assert_int_equal(chantab_subs_add(&e->subs, 7), 0);  /* idempotent */
	assert_int_equal(chantab_subs_add(&e->subs, 3), 1);
	assert_int_equal(chantab_subs_add(&e->subs, 0), 1);
	assert_int_equal(chantab_subs_add(&e->subs, 4000000000u), 1);
	assert_int_equal(chantab_subs_add(&e->subs, 5), 1);
	assert_int_equal(chantab_subs_count(&e->subs), 5);
	ids = chantab_subs_ids(&e->subs, &n);
	assert_int_equal(n, 5);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 3);
	assert_int_equal(ids[2], 5);
	assert_int_equal(ids[3], 7);
	assert_int_equal(ids[4], 4000000000u);
	assert_true(chantab_subs_has(&e->subs, 5));
	assert_false(chantab_subs_has(&e->subs, 6));
	assert_int_equal(chantab_subs_del(&e->subs, 5), 1);
	assert_int_equal(chantab_subs_del(&e->subs, 5), 0);
	assert_false(chantab_subs_has(&e->subs, 5));
	assert_int_equal(chantab_subs_del(&e->subs, 4000000000u), 1);
	assert_int_equal(chantab_subs_del(&e->subs, 0), 1);
	ids = chantab_subs_ids(&e->subs, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 7);
	/* Many ids: the set grows and stays sorted. */
	for (unsigned i = 1000; i > 0; i--)
		assert_int_equal(chantab_subs_add(&e->subs, i * 10), 1);
	assert_int_equal(chantab_subs_count(&e->subs), 1002);
	ids = chantab_subs_ids(&e->subs, &n);
	for (size_t i = 1; i < n; i++)
		assert_true(ids[i - 1] < ids[i]);
	/* A deleted entry takes its set with it (ASan/valgrind check). */
	chantab_del(&t, e);
	chantab_exit(&t);
}

/* 100,000 channels: insert, find each, miss, delete half, find again. */
static void test_100k(void **state)
{
	const uint32_t n = 100000;
	struct chantab t;
	struct chantab_entry *e;

	(void)state;
	chantab_init(&t, n);
	for (uint32_t i = 0; i < n; i++) {
		struct channel c = chan(i);

		assert_int_equal(chantab_insert(&t, &c, &e), 0);
		e->data = (void *)(uintptr_t)i;
	}
	assert_int_equal(t.count, n);
	/* Doubled as it grew: no more entries than buckets. */
	assert_true(t.nbuckets >= n);
	assert_true(t.nbuckets < 4 * (size_t)n);
	for (uint32_t i = 0; i < n; i++) {
		struct channel c = chan(i);

		e = chantab_find(&t, &c);
		assert_non_null(e);
		assert_int_equal((uintptr_t)e->data, i);
	}
	for (uint32_t i = n; i < n + 1000; i++) {
		struct channel c = chan(i);

		assert_null(chantab_find(&t, &c));
	}
	for (uint32_t i = 0; i < n; i += 2) {
		struct channel c = chan(i);

		chantab_del(&t, chantab_find(&t, &c));
	}
	assert_int_equal(t.count, n / 2);
	for (uint32_t i = 0; i < n; i++) {
		struct channel c = chan(i);

		e = chantab_find(&t, &c);
		if (i % 2)
			assert_non_null(e);
		else
			assert_null(e);
	}
	chantab_exit(&t);
}

/* Churn: channels come and go at random against a shadow array; the table
 * agrees with it at every step. */
static void test_churn(void **state)
{
	const uint32_t keys = 5000, max = 2000;
	struct chantab t;
	struct chantab_entry **shadow = calloc(keys, sizeof(*shadow));
	uint64_t r = 12345;
	size_t live = 0;

	(void)state;
	assert_non_null(shadow);
	chantab_init(&t, max);
	for (int step = 0; step < 200000; step++) {
		struct chantab_entry *e;
		struct channel c;
		uint32_t k;
		int rc;

		r = r * 6364136223846793005ull + 1442695040888963407ull;
		k = (uint32_t)(r >> 33) % keys;
		c = chan(k);
		e = chantab_find(&t, &c);
		assert_ptr_equal(e, shadow[k]);
		if (e) {
			chantab_del(&t, e);
			shadow[k] = NULL;
			live--;
			continue;
		}
		rc = chantab_insert(&t, &c, &e);
		if (live == max) {
			assert_int_equal(rc, -ENOSPC);
			continue;
		}
		assert_int_equal(rc, 0);
		shadow[k] = e;
		live++;
		assert_int_equal(t.count, live);
	}
	for (uint32_t k = 0; k < keys; k++) {
		struct channel c = chan(k);

		assert_ptr_equal(chantab_find(&t, &c), shadow[k]);
	}
	chantab_exit(&t);
	free(shadow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_delete),
		cmocka_unit_test(test_key_fields),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_iterate_and_delete),
		cmocka_unit_test(test_subscribers),
		cmocka_unit_test(test_100k),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
