/* test_emitter.c - unit tests for src/emitter.c: the set of addresses an
 * island's gateways re-multicast from. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emitter.h"

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage sa6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

static struct frame_emitter em(const struct sockaddr_storage *ss)
{
	struct frame_emitter e;

	assert_int_equal(emitter_from_sockaddr(ss, &e), 0);
	return e;
}

static void test_from_sockaddr(void **state)
{
	struct sockaddr_storage ss = sa4("10.0.0.1", 4321);
	struct frame_emitter e;
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };

	(void)state;
	assert_int_equal(emitter_from_sockaddr(&ss, &e), 0);
	assert_int_equal(e.family, 4);
	assert_int_equal(e.port, 4321);
	assert_memory_equal(e.addr, "\x0a\x00\x00\x01", 4);
	for (int i = 4; i < 16; i++)
		assert_int_equal(e.addr[i], 0);
	ss = sa6("2001:db8::7", 9);
	assert_int_equal(emitter_from_sockaddr(&ss, &e), 0);
	assert_int_equal(e.family, 6);
	assert_int_equal(e.port, 9);
	assert_memory_equal(e.addr, v6, 16);
	/* An IPv4-mapped IPv6 address is the IPv4 emitter. */
	ss = sa6("::ffff:10.0.0.1", 4321);
	assert_int_equal(emitter_from_sockaddr(&ss, &e), 0);
	assert_int_equal(e.family, 4);
	assert_memory_equal(e.addr, "\x0a\x00\x00\x01", 4);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(emitter_from_sockaddr(&ss, &e), -EAFNOSUPPORT);
}

static void test_add_has_clear(void **state)
{
	struct emitter_set s;
	struct sockaddr_storage a = sa4("10.0.0.1", 4321);
	struct sockaddr_storage b = sa6("2001:db8::1", 4321);
	struct sockaddr_storage m = sa6("::ffff:10.0.0.1", 4321);
	struct frame_emitter ea = em(&a), eb = em(&b), x;
	const struct frame_emitter *list;
	size_t n;

	(void)state;
	emitter_init(&s, 4);
	assert_false(emitter_has(&s, &ea));
	assert_int_equal(emitter_add(&s, &ea), 0);
	assert_int_equal(emitter_add(&s, &ea), -EEXIST);
	assert_true(emitter_has(&s, &ea));
	assert_false(emitter_has(&s, &eb));
	assert_int_equal(emitter_add(&s, &eb), 0);
	assert_true(emitter_has(&s, &eb));
	x = em(&m);
	assert_true(emitter_has(&s, &x));
	/* Another port or address is another emitter. */
	x = ea;
	x.port++;
	assert_false(emitter_has(&s, &x));
	x = eb;
	x.addr[15] ^= 1;
	assert_false(emitter_has(&s, &x));
	x = ea;
	x.family = 6;
	assert_false(emitter_has(&s, &x));
	/* Bytes past an IPv4 address (as a peer's frame may carry) do not
	 * count, and the list holds them zeroed. */
	x = ea;
	memset(x.addr + 4, 0x77, 12);
	assert_true(emitter_has(&s, &x));
	assert_int_equal(emitter_add(&s, &x), -EEXIST);
	list = emitter_list(&s, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(&list[0], &ea, sizeof(ea));
	assert_int_equal(list[1].family, 6);
	assert_memory_equal(list[1].addr, eb.addr, 16);
	/* A bad family is refused, and never a member. */
	x.family = 5;
	assert_int_equal(emitter_add(&s, &x), -EINVAL);
	assert_false(emitter_has(&s, &x));
	emitter_clear(&s);
	assert_false(emitter_has(&s, &ea));
	assert_false(emitter_has(&s, &eb));
	emitter_list(&s, &n);
	assert_int_equal(n, 0);
	assert_int_equal(emitter_add(&s, &eb), 0);
	assert_true(emitter_has(&s, &eb));
	emitter_exit(&s);
}

/* The bound: FRAME_EMITTERS_MAX from one peer, the set's own bound for
 * the island; a full set refuses more but still answers for its members. */
static void test_bound(void **state)
{
	struct emitter_set s;
	struct frame_emitter e = { .family = 4, .addr = { 10, 1, 0, 0 } };

	(void)state;
	emitter_init(&s, 2 * FRAME_EMITTERS_MAX);
	for (unsigned i = 0; i < 2 * FRAME_EMITTERS_MAX; i++) {
		e.port = (uint16_t)(1000 + i);
		e.addr[3] = (uint8_t)i;
		assert_int_equal(emitter_add(&s, &e), 0);
	}
	e.port = 1;
	assert_int_equal(emitter_add(&s, &e), -ENOSPC);
	assert_false(emitter_has(&s, &e));
	for (unsigned i = 0; i < 2 * FRAME_EMITTERS_MAX; i++) {
		e.port = (uint16_t)(1000 + i);
		e.addr[3] = (uint8_t)i;
		assert_true(emitter_has(&s, &e));
		assert_int_equal(emitter_add(&s, &e), -EEXIST);
	}
	emitter_exit(&s);
	emitter_init(&s, 0);
	assert_int_equal(emitter_add(&s, &e), -ENOSPC);
	assert_false(emitter_has(&s, &e));
	emitter_exit(&s);
}

/* The list is what an EMITTERS frame carries: it encodes and decodes back
 * to the same set. */
static void test_frame_round_trip(void **state)
{
	struct emitter_set s, back;
	struct frame_emitter e = { .family = 6, .addr = { 0xfe, 0x80 } };
	struct frame_emitter got[FRAME_EMITTERS_MAX];
	uint8_t buf[FRAME_HDR_LEN + 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN];
	const struct frame_emitter *list;
	struct frame f;
	size_t n, len;

	(void)state;
	emitter_init(&s, FRAME_EMITTERS_MAX);
	emitter_init(&back, FRAME_EMITTERS_MAX);
	for (unsigned i = 0; i < FRAME_EMITTERS_MAX; i++) {
		e.port = (uint16_t)(40000 + i);
		assert_int_equal(emitter_add(&s, &e), 0);
	}
	list = emitter_list(&s, &n);
	len = frame_encode_emitters(buf, sizeof(buf), list, n);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(frame_decode(buf, len, &f), (int)len);
	assert_int_equal(frame_emitters_decode(&f, got, &n), 0);
	assert_int_equal(n, FRAME_EMITTERS_MAX);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(emitter_add(&back, &got[i]), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(emitter_has(&s, &got[i]));
	emitter_exit(&s);
	emitter_exit(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_sockaddr),
		cmocka_unit_test(test_add_has_clear),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_frame_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
