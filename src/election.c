/* election.c - rendezvous hashing for the designated forwarder. */
#include "election.h"

#include <string.h>

#include "hash.h"
#include "lsdb.h"

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

/* Does (w, node) beat (best_w, best)? The rule of election_pick. */
static bool beats(uint64_t w, uint64_t node, uint64_t best_w, uint64_t best)
{
	return w > best_w || (w == best_w && node > best);
}

bool election_mesh(const struct lsdb *db, const bool *usable, long skip,
		   const char *island, const struct channel *ch,
		   const uint64_t *extra, size_t nextra, uint64_t *winner)
{
	uint64_t ch_hash = hash_channel(ch), best = 0, best_w = 0;
	bool found = false;

	/* The highest weight over a set does not depend on how often a
	 * member of the set is seen, so no deduplication is needed. */
	for (size_t i = 0; i < db->n; i++) {
		const struct lsa *a = db->v[i];

		if ((long)i == skip || (usable && !usable[i]))
			continue;
		for (size_t k = 0; k < a->nmembers; k++) {
			const struct lsa_member *m = &a->members[k];
			uint64_t w;

			if (strcmp(m->island, island) ||
			    (!lsa_member_has(m, ch, true) &&
			     !lsa_member_has(m, ch, false)))
				continue;
			w = weight(ch_hash, m->node);
			if (!found || beats(w, m->node, best_w, best)) {
				best = m->node;
				best_w = w;
				found = true;
			}
		}
	}
	for (size_t i = 0; i < nextra; i++) {
		uint64_t w = weight(ch_hash, extra[i]);

		if (!found || beats(w, extra[i], best_w, best)) {
			best = extra[i];
			best_w = w;
			found = true;
		}
	}
	if (found)
		*winner = best;
	return found;
}
