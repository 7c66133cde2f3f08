/* gateway.h - attaches one multicast island to a hub, both ways.
 *
 * For each channel the gateway exports (joins the group on its LAN and
 * sends what it hears to the hub) and/or imports (re-multicasts on its LAN
 * what the hub sends, optionally under another local group and port).
 * Only while the hub names it the channel's designated forwarder for its
 * island; otherwise it stands by, joined and ready to take over.
 *
 * With several hubs (--hub repeated) the gateway keeps a link to each:
 * it sends a channel to the first hub (in --hub order) that names it
 * forwarder and is up, and takes what any of them sends, dropping copies
 * it has had already (an (origin, sequence) window), so losing one hub
 * moves the island to the next without a double injection.
 *
 * A gateway never re-exports what it or another gateway of its island
 * re-multicast: it drops datagrams whose source address and port are one
 * of the island's emitters, which the gateways announce through the hub.
 *
 * With --control PATH (spec.control) it answers the control API
 * (control.h, docs/mesh.md): node.info, link.list, link.add and link.del
 * of its hubs, channel.list, channel.add and channel.del, and events
 * (link.up, link.down, forwarder.change, channel.change). A change made
 * there lasts until the process ends or a reload restarts the gateway
 * (a changed section); an unchanged section keeps it.
 */
#ifndef MCFERRY_GATEWAY_H
#define MCFERRY_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "channel.h"
#include "frame.h"
#include "node.h"
#include "uri.h"

#define GATEWAY_MAX_CHANNELS 256
/* --hub given more than once: a dual- (or more) homed island. */
#define GATEWAY_MAX_HUBS 4

struct gateway_chan_spec {
	struct channel ch;     /* the channel's name between islands */
	struct channel local;  /* where it is multicast on this island */
	bool do_export, do_import;
};

/* What a gateway is told to do, from the command line or a config file. */
struct gateway_spec {
	char name[64];
	bool has_hub;
	struct uri hub;                    /* = hubs[0] */
	struct uri hubs[GATEWAY_MAX_HUBS]; /* every --hub, in order */
	size_t nhubs;
	char control[108];                 /* --control socket; "" = none */
	char iface[URI_IFACE_MAX];
	char island[FRAME_ISLAND_MAX + 1]; /* "" = derive from the LAN */
	int ttl;                           /* re-multicast TTL */
	struct gateway_chan_spec chans[GATEWAY_MAX_CHANNELS];
	size_t nchans;
};

/* Prepare an empty spec, with the option table's defaults. */
void gateway_spec_init(struct gateway_spec *s, const char *name);
/* Add a hub URI (tcp://HOST:PORT), as the hub row of the option table
 * does (up to GATEWAY_MAX_HUBS). 0 or -EINVAL with a reason. */
int gateway_spec_set_hub(struct gateway_spec *s, const char *uri, char *err,
			 size_t errlen);
/* Add a channel: kind is "group" (both ways), "export" or "import" (rows
 * of the option table); an import may be "G:P=LG:LP". 0 or -EINVAL with
 * a reason in err. */
int gateway_spec_add(struct gateway_spec *s, const char *kind,
		     const char *arg, char *err, size_t errlen);
/* Parse one channel as the row kind ("group", "export" or "import";
 * an import may be "G:P=LG:LP") takes it, into c (pure; the same words
 * as the command line). 0 or -EINVAL with a reason in err. */
int gateway_chan_parse(const char *kind, const char *text,
		       struct gateway_chan_spec *c, char *err, size_t errlen);
/* Check that hub and iface are there, and a channel unless a control
 * socket may add them. */
int gateway_spec_check(const struct gateway_spec *s, char *err, size_t errlen);

struct gateway;

/* A gateway as the spec says (copied). */
struct gateway *gateway_new(struct node *ctx,
			    const struct gateway_spec *spec);
/* Resolve the interface, join the groups, open the emitters, start
 * connecting to the hub. 0 or a negative errno with a reason in err. */
int gateway_start(struct gateway *g, char *err, size_t errlen);
/* Close everything at once (the groups are left within a loop turn); g
 * frees itself when its last handle has closed. Also after a failed or
 * no start; idempotent until then. */
void gateway_stop(struct gateway *g);
/* SIGHUP for a gateway that keeps running: its hub link re-reads its
 * certificates for the next connection; the established one stays. A
 * failure is logged and keeps the old ones. */
void gateway_reload(struct gateway *g);
/* Log counter lines from the registry (node->stats): one gateway-wide,
 * one per channel. */
void gateway_log_stats(const struct gateway *g);

#endif
