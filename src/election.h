/* election.h - the designated forwarder of an (island, channel), chosen by
 * rendezvous (highest random weight) hashing. Pure.
 *
 * Each candidate node gets a weight for the channel, hash(node, channel);
 * the highest weight wins. Every node computes the same winner from the
 * same candidates in any order, channels spread evenly over the candidates,
 * and when a candidate leaves only the channels it won move (each to its
 * runner-up); when one arrives it takes only the channels it now wins.
 * The weight is fixed (see hash.h): nodes of one mesh must agree on it.
 */
#ifndef MCFERRY_ELECTION_H
#define MCFERRY_ELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

/* The weight of node for ch: the same on every host and every run. */
uint64_t election_weight(uint64_t node, const struct channel *ch);
/* Index into nodes[0 .. n) of the winner for ch, or -1 when n is 0. Equal
 * weights go to the higher node id; a node id listed twice, to its first
 * index. O(n). */
int election_pick(const uint64_t *nodes, size_t n, const struct channel *ch);

#endif
