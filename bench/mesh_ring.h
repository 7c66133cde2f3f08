/* mesh_ring.h - the simulated mesh of bench/mesh_scale.c and
 * bench/route_lookup.c: n hubs in a ring (cost 10) with a chord (cost 15)
 * from every 5th hub to the one opposite, 2 gateways per hub (island
 * I<hub>, ch[0] exported, ch[0] and ch[1] wanted; ch holds 3 channels). */
#ifndef MCFERRY_BENCH_MESH_RING_H
#define MCFERRY_BENCH_MESH_RING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsdb.h"

static void mesh_ring_build(struct lsdb *db, size_t n,
			    const struct channel *ch)
{
	lsdb_init(db);
	for (size_t i = 0; i < n; i++) {
		struct lsa *a = calloc(1, sizeof(*a));
		size_t k = 0, opp = (i + n / 2) % n;

		a->node = 1000 + i;
		a->seq = 1;
		snprintf(a->name, sizeof(a->name), "hub%zu", i);
		a->links = calloc(4, sizeof(*a->links));
		a->links[k++] = (struct lsa_link){ 1000 + (i + 1) % n, 10 };
		a->links[k++] = (struct lsa_link){ 1000 + (i + n - 1) % n, 10 };
		if (i % 5 == 0)
			a->links[k++] = (struct lsa_link){ 1000 + opp, 15 };
		if (opp % 5 == 0 && opp != i)
			a->links[k++] = (struct lsa_link){ 1000 + opp, 15 };
		a->nlinks = k;
		a->members = calloc(2, sizeof(*a->members));
		a->nmembers = 2;
		for (int m = 0; m < 2; m++) {
			struct lsa_member *mm = &a->members[m];

			mm->node = 500000 + 2 * i + m;
			snprintf(mm->island, sizeof(mm->island), "I%zu", i);
			mm->chans = calloc(3, sizeof(*mm->chans));
			memcpy(mm->chans, ch, 3 * sizeof(*ch));
			mm->nexports = 1;
			mm->nwants = 2;
		}
		lsdb_install(db, a);
	}
}

#endif
