/* hash.h - fixed 64-bit hash functions for the routing tables and the
 * forwarder election. Pure.
 *
 * The election needs every node of a mesh to compute the same weights, so
 * these functions are part of the protocol's behaviour: they read bytes in
 * a fixed order (no host endianness), take no random seed, and their output
 * is pinned by test vectors in tests/unit/test_election.c. */
#ifndef MCFERRY_HASH_H
#define MCFERRY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

/* The splitmix64 finalizer: a bijection of 64-bit values in which every
 * input bit changes each output bit with probability close to one half. */
uint64_t hash_mix64(uint64_t x);
/* Hash of n bytes at p, the same on every host, different for each seed. */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);
/* Hash of a channel's wire form (channel_encode): family, port, group and
 * source, the unused bytes of an IPv4 channel ignored. */
uint64_t hash_channel(const struct channel *ch);

#endif
