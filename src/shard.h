/* shard.h - one relay run as N shards, one loop and thread each, sharing
 * nothing: every shard joins the group itself (the kernel hands each
 * socket its own copy of every datagram) and listens on the same port with
 * SO_REUSEPORT (the kernel spreads clients over the shards). So the fan-out
 * of one stream to many clients uses every core, with no locks and no
 * shared buffers.
 *
 * Only a relay from a multicast group to listening TCP sinks can be
 * sharded: any other sink would send every datagram N times.
 */
#ifndef MCFERRY_SHARD_H
#define MCFERRY_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "uri.h"

#define SHARD_MAX 64

struct shard_group;

/* 0 when a relay from src to these sinks can be sharded; else -EINVAL with
 * the reason in err. */
int shard_check(const struct uri *src, const struct uri *sinks, size_t n,
		char *err, size_t errlen);
/* A group of n shards of the relay name (URIs copied), owned by the main
 * loop's node. */
struct shard_group *shard_group_new(struct node *main, const char *name,
				    unsigned n, const struct uri *src,
				    const struct uri *sinks, size_t nsinks);
/* Register the group's series in the main loop's registry (one set for
 * the whole relay, see docs/metrics.md), then start every shard and its
 * thread. 0, or a negative errno with a reason in err (shards already
 * started are stopped again). */
int shard_group_start(struct shard_group *g, char *err, size_t errlen);
/* Drop the group's series from the registry and ask every shard to stop
 * (idempotent); the group frees itself on the main loop once every
 * shard's thread has ended. */
void shard_group_stop(struct shard_group *g);
/* Log the group's series as one stats line for the whole relay: input
 * counted once (every shard takes in every datagram), outputs and clients
 * summed, and the number of workers. */
void shard_group_log_stats(const struct shard_group *g);

#endif
