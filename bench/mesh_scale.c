/* mesh_scale.c - the link-state core at 10, 50 and 200 simulated hubs:
 * time to compute every tree (one per root) and one pruned tree, and the
 * control bytes a full flood and a steady second cost. Pure code: no
 * root, no namespaces. Topology: a ring with a chord every 5 hubs and 2
 * gateways (one channel exported, two wanted) per hub. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh_ring.h"
#include "spf.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	static const size_t sizes[] = { 10, 50, 200 };
	char err[64];
	struct channel ch[3];

	channel_parse("239.1.1.1:5000", &ch[0], err, sizeof(err));
	channel_parse("239.1.1.2:5000", &ch[1], err, sizeof(err));
	channel_parse("239.1.1.3:5000", &ch[2], err, sizeof(err));
	printf("%6s %8s %10s %12s %12s %12s %14s\n", "hubs", "links",
	       "lsa_bytes", "flood_bytes", "all_trees_ms", "one_tree_us",
	       "pruned_us");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], links = 0, lsa_bytes = 0;
		struct lsdb db;
		struct spf_tree t = { 0 };
		bool *keep = calloc(n, sizeof(*keep));
		uint8_t buf[65536];
		double t0, t1, t2, t3;
		int reps = n <= 50 ? 200 : 20;

		mesh_ring_build(&db, n, ch);
		for (size_t i = 0; i < n; i++) {
			links += db.v[i]->nlinks;
			lsa_bytes += (size_t)lsa_encode(db.v[i], buf,
							sizeof(buf)) + 8;
		}
		t0 = now_s();
		for (int r = 0; r < reps; r++)
			for (size_t i = 0; i < n; i++)
				spf_compute(&db, db.v[i]->node, &t);
		t1 = now_s();
		for (int r = 0; r < reps; r++)
			spf_compute(&db, db.v[0]->node, &t);
		t2 = now_s();
		for (int r = 0; r < reps; r++) {
			for (size_t i = 0; i < n; i++)
				keep[i] = i % 7 == 3;
			spf_prune(&t, keep);
		}
		t3 = now_s();
		/* A full flood: every LSA crosses every link once each way
		 * at most (links counts both directions). */
		printf("%6zu %8zu %10zu %12zu %12.3f %12.1f %14.1f\n", n,
		       links / 2, lsa_bytes / n, lsa_bytes * links,
		       (t1 - t0) * 1e3 / reps, (t2 - t1) * 1e6 / reps,
		       (t3 - t2) * 1e6 / reps);
		spf_tree_free(&t);
		lsdb_exit(&db);
		free(keep);
	}
	printf("steady state: no periodic refresh; per link a PING + PONG "
	       "(16 bytes each) every heartbeat interval: 2 x 16 x 4 = "
	       "128 bytes/s per link at 250 ms\n");
	return 0;
}
