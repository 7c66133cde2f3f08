/* mgroup.h - one shared multicast receive: a group joined once for every
 * viewer that wants it, read in batches (udp_rx.c) into pooled buffers
 * that the owner hands on by reference, with a viewer count and a hold.
 *
 *   viewers ---ref/unref---> mgroup --on_data(buf), on_batch()--> owner
 *                              | refs 0: hold timer; expired: leave
 *
 * The first viewer makes it (mgroup_open joins at once) and takes a
 * reference; more viewers take more. When the last one lets go the group
 * stays joined for the hold time, so a player that reconnects (or zaps
 * back) finds the stream flowing; a reference taken meanwhile cancels the
 * leave. When the hold expires, on_leave() runs once, the socket is
 * closed (the kernel sends the IGMP/MLD leave) and the struct is freed
 * when its handles have closed (on_freed()). The membership is checked
 * every MGROUP_REJOIN_MS and renewed when its interface came back.
 *
 * A named channel (mgroup_open_relay) is the same shared, held receive
 * over any relay source instead of one multicast socket: a hub channel
 * (tcp://HUB:PORT?channel=CH), a relay's listening sink, srt://, udp://.
 * The group owns a relay with no sinks of its own and attaches itself as
 * its one in-process sink (relay_add_sink), so every transport the relay
 * reads works, reconnects included, and datagrams arrive in the relay's
 * pooled buffers exactly as from a group.
 */
#ifndef MCFERRY_MGROUP_H
#define MCFERRY_MGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "channel.h"
#include "node.h"
#include "relay.h"
#include "udp_rx.h"
#include "uri.h"

#define MGROUP_REJOIN_MS 2000

struct mgroup_events {
	/* A datagram; b is lent for the call (take a reference to keep it). */
	void (*on_data)(void *owner, struct buf *b);
	/* After every batch read: write what was queued. */
	void (*on_batch)(void *owner);
	/* The hold expired: the group is being left; forget the pointer. */
	void (*on_leave)(void *owner);
	/* The struct is gone (after on_leave, or after mgroup_close). */
	void (*on_freed)(void *owner);
};

struct mgroup {
	struct node *node;
	struct uri uri;          /* udp://@G:P?iface=&source=: logs, rejoin */
	const struct mgroup_events *ev;
	void *owner;
	int fd;
	uv_poll_t poll;
	uv_timer_t rejoin, hold;
	uint64_t hold_ms;
	unsigned refs;
	int handles;
	int last_rejoin;
	bool closing;
	uint64_t truncated;      /* datagrams too large for a buffer */
	uint64_t rx_errors;
	struct udp_rx *rx;
	/* mgroup_open_relay: the relay reading the source, and the sink it
	 * hands datagrams to (fd is -1, poll and rejoin unused). */
	struct relay *relay;
	struct sink sink;
};

/* Join ch (on iface, "" = the kernel's choice; rcvbuf 0 = default) and
 * start reading. NULL with a reason in err when the join fails. The new
 * group has no reference yet: the caller takes the first. */
struct mgroup *mgroup_open(struct node *node, const struct channel *ch,
			   const char *iface, uint32_t rcvbuf,
			   uint64_t hold_ms, const struct mgroup_events *ev,
			   void *owner, char *err, size_t errlen);
/* Open the relay source src (copied) under the relay name name (its
 * counters' label) and hand on what it reads. NULL with a reason in err
 * when the source cannot open (a listen port taken); a connecting source
 * that cannot reach its peer yet is no failure: it keeps trying, as a
 * relay's does. Otherwise as mgroup_open. */
struct mgroup *mgroup_open_relay(struct node *node, const char *name,
				 const struct uri *src, uint64_t hold_ms,
				 const struct mgroup_events *ev, void *owner,
				 char *err, size_t errlen);
/* One more viewer (cancels a pending leave). */
void mgroup_ref(struct mgroup *g);
/* One viewer fewer; the last one starts the hold. */
void mgroup_unref(struct mgroup *g);
/* Leave now (shutdown, /restart), without on_leave; on_freed follows. */
void mgroup_close(struct mgroup *g);

#endif
