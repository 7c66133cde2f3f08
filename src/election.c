/* election.c - rendezvous hashing for the designated forwarder. */
#include "election.h"

#include "hash.h"

/* "mcferry!": keeps the node's term apart from other uses of hash_mix64
 * (node 0 would otherwise add hash_mix64(0) = 0). */
#define ELECTION_SALT 0x6d63666572727921ull

/* The channel's hash plus a mixed node id, mixed again: weights of nodes
 * whose ids differ in one bit, or of channels one port apart, show no
 * relation. */
static uint64_t weight(uint64_t ch_hash, uint64_t node)
{
	return hash_mix64(ch_hash + hash_mix64(node ^ ELECTION_SALT));
}

uint64_t election_weight(uint64_t node, const struct channel *ch)
{
	return weight(hash_channel(ch), node);
}

int election_pick(const uint64_t *nodes, size_t n, const struct channel *ch)
{
	uint64_t ch_hash = hash_channel(ch), best_w = 0;
	int best = -1;

	for (size_t i = 0; i < n && i <= (size_t)INT32_MAX; i++) {
		uint64_t w = weight(ch_hash, nodes[i]);

		if (best < 0 || w > best_w ||
		    (w == best_w && nodes[i] > nodes[best])) {
			best = (int)i;
			best_w = w;
		}
	}
	return best;
}
