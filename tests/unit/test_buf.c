/* test_buf.c - unit tests for src/buf.c: size classes, refcounts, free lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_size_classes(void **state)
{
	static const size_t sizes[] = { 0, 1, 2048, 2049, 16384, 16385, 65535 };
	struct buf_pool pool;

	(void)state;
	buf_pool_init(&pool);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct buf *b = buf_get(&pool, sizes[i]);

		assert_non_null(b);
		assert_true(b->cap >= sizes[i]);
		assert_int_equal(b->refs, 1);
		assert_int_equal(b->len, 0);
		assert_ptr_equal(b->pool, &pool);
		assert_ptr_equal(b->data, b->mem + BUF_HEADROOM);
		/* The whole payload and headroom are writable (ASan checks). */
		memset(b->mem, 0xab, BUF_HEADROOM + b->cap);
		buf_unref(b);
	}
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_class_boundaries(void **state)
{
	struct buf_pool pool;
	struct buf *a, *b, *c, *d;

	(void)state;
	buf_pool_init(&pool);
	a = buf_get(&pool, 2048);
	b = buf_get(&pool, 2049);
	c = buf_get(&pool, 16384);
	d = buf_get(&pool, 65535);
	assert_int_equal(a->cap, 2048);
	assert_int_equal(b->cap, 16384);
	assert_int_equal(c->cap, 16384);
	assert_int_equal(d->cap, 65535);
	assert_int_equal(a->klass, 0);
	assert_int_equal(b->klass, 1);
	assert_int_equal(c->klass, 1);
	assert_int_equal(d->klass, 2);
	buf_unref(a);
	buf_unref(b);
	buf_unref(c);
	buf_unref(d);
	buf_pool_exit(&pool);
}

static void test_refcount(void **state)
{
	struct buf_pool pool;
	struct buf *b;

	(void)state;
	buf_pool_init(&pool);
	b = buf_get(&pool, 100);
	assert_int_equal(pool.live, 1);
	assert_ptr_equal(buf_ref(b), b);
	assert_ptr_equal(buf_ref(b), b);
	assert_int_equal(b->refs, 3);
	buf_unref(b);
	assert_int_equal(b->refs, 2);
	assert_int_equal(pool.live, 1);
	assert_int_equal(pool.nfree[0], 0);
	buf_unref(b);
	assert_int_equal(b->refs, 1);
	assert_int_equal(pool.live, 1);
	buf_unref(b);
	assert_int_equal(pool.live, 0);
	assert_int_equal(pool.nfree[0], 1);
	buf_pool_exit(&pool);
}

static void test_free_list_reuse(void **state)
{
	struct buf_pool pool;
	struct buf *a, *b, *c;

	(void)state;
	buf_pool_init(&pool);
	a = buf_get(&pool, 1316);
	a->len = 1316;
	buf_unref(a);
	b = buf_get(&pool, 1);
	assert_ptr_equal(a, b);
	/* A reused buffer is reset. */
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->len, 0);
	assert_null(b->next);
	assert_int_equal(pool.allocated, 1);

	/* Another class does not take it. */
	buf_unref(b);
	c = buf_get(&pool, 4000);
	assert_ptr_not_equal(c, a);
	assert_int_equal(pool.allocated, 2);
	buf_unref(c);

	/* LIFO within a class. */
	a = buf_get(&pool, 10);
	b = buf_get(&pool, 10);
	assert_ptr_not_equal(a, b);
	buf_unref(a);
	buf_unref(b);
	assert_ptr_equal(buf_get(&pool, 10), b);
	assert_ptr_equal(buf_get(&pool, 10), a);
	assert_int_equal(pool.allocated, 3);
	buf_unref(a);
	buf_unref(b);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_live_counter(void **state)
{
	struct buf_pool pool;
	struct buf *bs[100];

	(void)state;
	buf_pool_init(&pool);
	for (int i = 0; i < 100; i++) {
		bs[i] = buf_get(&pool, (size_t)(i * 150));
		assert_int_equal(pool.live, (size_t)i + 1);
	}
	assert_int_equal(pool.allocated, 100);
	for (int i = 0; i < 100; i++)
		buf_unref(bs[i]);
	assert_int_equal(pool.live, 0);
	assert_int_equal(pool.nfree[0] + pool.nfree[1] + pool.nfree[2], 100);
	/* Everything comes back from the free lists: no new mallocs. */
	for (int i = 0; i < 100; i++)
		bs[i] = buf_get(&pool, (size_t)(i * 150));
	assert_int_equal(pool.allocated, 100);
	assert_int_equal(pool.live, 100);
	for (int i = 0; i < 100; i++)
		buf_unref(bs[i]);
	buf_pool_exit(&pool);
}

static void test_max_free_bound(void **state)
{
	struct buf_pool pool;
	struct buf *bs[70];

	(void)state;
	buf_pool_init(&pool);
	for (int i = 0; i < 70; i++)
		bs[i] = buf_get(&pool, 65535);
	for (int i = 0; i < 70; i++)
		buf_unref(bs[i]);
	assert_int_equal(pool.live, 0);
	assert_int_equal(pool.nfree[2], pool.max_free[2]);
	buf_pool_exit(&pool);
}

static void test_pool_exit(void **state)
{
	struct buf_pool pool;
	struct buf *held;

	(void)state;
	buf_pool_init(&pool);
	for (int i = 0; i < 3; i++)
		buf_unref(buf_get(&pool, (size_t)i * 20000));
	held = buf_get(&pool, 5);
	buf_pool_exit(&pool);
	for (int k = 0; k < BUF_CLASSES; k++) {
		assert_null(pool.free[k]);
		assert_int_equal(pool.nfree[k], 0);
	}
	/* A buffer still referenced is untouched and usable. */
	held->data[0] = 1;
	assert_int_equal(held->refs, 1);
	buf_unref(held);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
	/* The pool may be used again after exit. */
	held = buf_get(&pool, 5);
	buf_unref(held);
	buf_pool_exit(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_classes),
		cmocka_unit_test(test_class_boundaries),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_free_list_reuse),
		cmocka_unit_test(test_live_counter),
		cmocka_unit_test(test_max_free_bound),
		cmocka_unit_test(test_pool_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
