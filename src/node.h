/* node.h - what every service of one event loop shares: the loop, the
 * buffer pool, this node's identity and the connection id counter.
 *
 * One per loop (the main loop, and one per --workers shard). Created by
 * main.c (or shard.c) before any service, freed after the loop ends.
 */
#ifndef MCFERRY_NODE_H
#define MCFERRY_NODE_H

#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "stats.h"

struct node {
	uv_loop_t *loop;
	struct buf_pool pool;
	unsigned next_conn_id;
	uint64_t node_id;       /* random per process: the origin of data */
	uint64_t epoch;         /* boot epoch: a restarted node is new */
	struct stats stats;     /* every counter of this loop's services */
	uint8_t scratch[65536]; /* read buffer for bytes consumed at once */
};

#endif
