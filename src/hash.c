/* hash.c - fixed 64-bit hash functions; see hash.h for why they are fixed. */
#include "hash.h"

#include "util.h"

#define HASH_K 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio, odd */

uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Little-endian load of n <= 8 bytes, whatever the host's byte order. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t w = 0;

	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	/* The length goes in first, so inputs that differ only by trailing
	 * zero bytes hash differently. */
	uint64_t h = hash_mix64(seed ^ ((uint64_t)n * HASH_K));

	for (; n >= 8; b += 8, n -= 8)
		h = hash_mix64(h + load_le(b, 8) * HASH_K);
	if (n > 0)
		h = hash_mix64(h + load_le(b, n) * HASH_K);
	return hash_mix64(h ^ (h >> 32));
}

uint64_t hash_channel(const struct channel *ch)
{
	uint8_t w[CHANNEL_WIRE_MAX];

	return hash_bytes(w, channel_encode(ch, w), 0);
}
