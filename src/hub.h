/* hub.h - the central hub: accepts gateways, routes every channel from its
 * exporting islands to the islands that import it, once.
 *
 * Per (island, channel) the hub elects one designated forwarder among that
 * island's gateways that import or export the channel: only its data is
 * accepted from the island and only it is sent the channel. The choice is
 * sticky (a returning gateway stands by) and moves at once when the
 * forwarder's link closes, or goes silent (noticed within 2.75 s); a new
 * forwarder is chosen by election_pick (rendezvous hashing over the node
 * ids of the island's gateways that want the channel). Data frames are
 * also dropped when seen before (a 65536-sequence window per origin),
 * past the hop limit, or for a channel no link joined or exported (data
 * never makes channel state), and never go back to the island they came
 * from. A channel's state goes away with the last link that wants it.
 * Relays linked with channel= take part as islands of their own.
 */
#ifndef MCFERRY_HUB_H
#define MCFERRY_HUB_H

#include <stddef.h>

#include "node.h"
#include "uri.h"

#define HUB_MAX_HOPS 8

struct hub;

/* A hub named name listening on the given URIs (copied; tcp://@...),
 * with the access list of file acl (read at start; NULL or "": none, so
 * anybody may speak for any island and channel). Origins are bound to
 * links either way: a link's DATA must carry its HELLO's node id, unless
 * its identity is an ACL `peer`. */
struct hub *hub_new(struct node *ctx, const char *name,
		    const struct uri *listen, size_t nlisten, const char *acl);
/* Mesh: the hubs to dial at start (copied; each keeps one link up, with
 * the URI's cost=, default 10) and the heartbeat interval on hub links
 * (0: 250 ms; a link silent for 3 intervals is closed). Before start. */
void hub_set_mesh(struct hub *h, const struct uri *peers, size_t n,
		  uint32_t heartbeat_ms);
/* Dial one more hub now (control API link.add). 0, 1 when a link to that
 * URI is there already, or a negative errno with a reason in err. */
int hub_peer_add(struct hub *h, const struct uri *u, char *err,
		 size_t errlen);
/* Serve the control API on a unix socket at path (opened at start). */
void hub_set_control(struct hub *h, const char *path);
/* Listen. Returns 0 or a negative errno with a reason in err. */
int hub_start(struct hub *h, char *err, size_t errlen);
/* SIGHUP for a hub that keeps running: its listeners re-read their
 * certificates and it re-reads its ACL file, for what comes from now on
 * (established links, their joins and exports stay). A failure is logged
 * and keeps the old ones. */
void hub_reload(struct hub *h);
/* Close every link and listener; h frees itself when the last of them
 * has closed. Also after a failed or no start; idempotent until then. */
void hub_stop(struct hub *h);
/* Log counter lines from the registry (node->stats): one hub-wide, one
 * per channel, one per link. */
void hub_log_stats(const struct hub *h);

#endif
