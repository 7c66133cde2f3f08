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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"

struct lsdb;

/* The weight of node for ch: the same on every host and every run. */
uint64_t election_weight(uint64_t node, const struct channel *ch);
/* Index into nodes[0 .. n) of the winner for ch, or -1 when n is 0. Equal
 * weights go to the higher node id; a node id listed twice, to its first
 * index. O(n). */
int election_pick(const uint64_t *nodes, size_t n, const struct channel *ch);
/* The mesh-wide forwarder of (island, ch) by the database: the winner
 * among the members of island that export or want ch in the LSAs i of db
 * with usable[i] (NULL: every one) other than index skip (-1: none), and
 * the nextra node ids of extra (members the caller knows of itself). A
 * node listed in several LSAs (a dual-homed gateway) counts once; the
 * winner is the one election_pick would choose. Stores it in *winner and
 * returns true, or returns false when there is no candidate. O(members x
 * channels). */
bool election_mesh(const struct lsdb *db, const bool *usable, long skip,
		   const char *island, const struct channel *ch,
		   const uint64_t *extra, size_t nextra, uint64_t *winner);

#endif
