/* test_election.c - unit tests for src/election.c (and the fixed hash of
 * src/hash.c it rests on): rendezvous hashing of designated forwarders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "election.h"
#include "hash.h"

static struct channel parse(const char *text)
{
	struct channel ch;
	char err[128];

	assert_int_equal(channel_parse(text, &ch, err, sizeof(err)), 0);
	return ch;
}

/* Channel i of a family of 239.10.x.y:5000 + i % 16. */
static struct channel chan(uint32_t i)
{
	struct channel ch;

	memset(&ch, 0, sizeof(ch));
	ch.family = 4;
	ch.port = (uint16_t)(5000 + i % 16);
	ch.group[0] = 239;
	ch.group[1] = 10;
	ch.group[2] = (uint8_t)(i >> 8);
	ch.group[3] = (uint8_t)i;
	return ch;
}

/* Every node of a mesh must compute the same weights, whatever its
 * compiler or byte order, in this version and the next: these values pin
 * the functions. A change here is a protocol change. */
static void test_fixed_vectors(void **state)
{
	struct channel a = parse("239.1.2.3:5000");
	struct channel b = parse("[2001:db8::1]@[ff3e::1234]:6000");

	(void)state;
	assert_int_equal(hash_mix64(0), 0);
	assert_int_equal(hash_mix64(1), 0x5692161d100b05e5ull);
	assert_int_equal(hash_bytes("mcferry", 7, 0), 0x519d49ab3217c6d2ull);
	assert_int_equal(hash_channel(&a), 0xab4d39532e9327b2ull);
	assert_int_equal(hash_channel(&b), 0xa9eda913cce60e7eull);
	assert_int_equal(election_weight(1, &a), 0x7ae850aa0cb6cff5ull);
	assert_int_equal(election_weight(0x0123456789abcdefull, &b),
			 0x1b1a58454bdd6b86ull);
}

/* The unused bytes of an IPv4 channel do not change its hash. */
static void test_hash_ignores_unused_bytes(void **state)
{
	struct channel a = chan(7), b = a;

	(void)state;
	memset(b.group + 4, 0xaa, 12);
	memset(b.source + 4, 0x55, 12);
	assert_int_equal(hash_channel(&a), hash_channel(&b));
	assert_int_equal(election_weight(42, &a), election_weight(42, &b));
}

static void test_empty_and_single(void **state)
{
	struct channel c = chan(1);
	uint64_t one = 99;

	(void)state;
	assert_int_equal(election_pick(NULL, 0, &c), -1);
	assert_int_equal(election_pick(&one, 1, &c), 0);
}

/* The winner is the candidate of highest weight, the same on every call. */
static void test_deterministic(void **state)
{
	const uint64_t nodes[] = { 0x1111, 0x2222, 0x3333, 0x4444, 0x5555 };

	(void)state;
	for (uint32_t i = 0; i < 500; i++) {
		struct channel c = chan(i);
		int w = election_pick(nodes, 5, &c);

		assert_true(w >= 0 && w < 5);
		assert_int_equal(election_pick(nodes, 5, &c), w);
		for (int j = 0; j < 5; j++)
			assert_true(election_weight(nodes[j], &c) <=
				    election_weight(nodes[w], &c));
	}
}

/* Every order of the candidates elects the same node. */
static void test_order_independent(void **state)
{
	const uint64_t nodes[4] = { 7, 0xfeedfacecafebeefull, 3, 1ull << 40 };
	unsigned orders = 0;

	(void)state;
	for (uint32_t i = 0; i < 200; i++) {
		struct channel c = chan(i);
		uint64_t winner = nodes[election_pick(nodes, 4, &c)];

		/* Every 4-digit base-4 number whose digits differ is one of
		 * the 24 orders. */
		for (unsigned p = 0; p < 256; p++) {
			unsigned d[4] = { p & 3, (p >> 2) & 3, (p >> 4) & 3,
					  p >> 6 };
			uint64_t perm[4];

			if (d[0] == d[1] || d[0] == d[2] || d[0] == d[3] ||
			    d[1] == d[2] || d[1] == d[3] || d[2] == d[3])
				continue;
			for (int s = 0; s < 4; s++)
				perm[s] = nodes[d[s]];
			assert_int_equal(perm[election_pick(perm, 4, &c)],
					 winner);
			orders++;
		}
	}
	assert_int_equal(orders, 200 * 24);
}

/* A node id listed twice wins at its first index. */
static void test_duplicate_candidates(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < 100; i++) {
		struct channel c = chan(i);
		uint64_t nodes[3] = { 5, 6, 5 };
		int w = election_pick(nodes, 3, &c);

		assert_true(w == 0 || w == 1);
	}
}

/* 3000 channels over 3 gateways: each gets 20 ... 46 %. Node ids that
 * differ in one bit are the hard case for a weak mix. */
static void test_spread(void **state)
{
	const uint64_t sets[][3] = {
		{ 1, 2, 3 },
		{ 0x8000000000000000ull, 0x8000000000000001ull,
		  0x8000000000000002ull },
		{ 0x0123456789abcdefull, 0xfedcba9876543210ull, 42 },
	};

	(void)state;
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		unsigned wins[3] = { 0 };

		for (uint32_t i = 0; i < 3000; i++) {
			struct channel c = chan(i);

			wins[election_pick(sets[s], 3, &c)]++;
		}
		for (int g = 0; g < 3; g++) {
			print_message("set %zu gateway %d: %u of 3000\n", s, g,
				      wins[g]);
			assert_in_range(wins[g], 600, 1380);
		}
	}
}

/* When one of four gateways leaves, only the channels it won move; when it
 * comes back, only those move back. */
static void test_minimal_movement(void **state)
{
	const uint64_t four[4] = { 0xa, 0xb, 0xc, 0xd };
	const uint64_t three[3] = { 0xa, 0xb, 0xd }; /* 0xc left */
	unsigned moved = 0;

	(void)state;
	for (uint32_t i = 0; i < 3000; i++) {
		struct channel c = chan(i);
		uint64_t before = four[election_pick(four, 4, &c)];
		uint64_t after = three[election_pick(three, 3, &c)];

		if (before == 0xc)
			moved++;
		else
			assert_int_equal(after, before);
	}
	/* About a quarter of the channels were 0xc's. */
	assert_in_range(moved, 500, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_vectors),
		cmocka_unit_test(test_hash_ignores_unused_bytes),
		cmocka_unit_test(test_empty_and_single),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_duplicate_candidates),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_minimal_movement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
