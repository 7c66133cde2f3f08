/* hub.c - routes channels between gateways; see hub.h for the rules. */
#include "hub.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "channel.h"
#include "chantab.h"
#include "conn.h"
#include "control.h"
#include "dedup.h"
#include "dialer.h"
#include "lsdb.h"
#include "route.h"
#include "spf.h"
#include "election.h"
#include "listener.h"
#include "frame.h"
#include "log.h"
#include "util.h"

/* Heartbeat on hub-to-hub links unless --heartbeat says otherwise: a
 * link silent for 3 of them is dead. */
#define HUB_HEARTBEAT_MS 250
/* An LSA unreachable for HUB_LSA_GC_MS is dropped and buried (lsdb.h);
 * buried, it is remembered for HUB_LIMBO_MS: longer than any hub holds
 * a dead hub's LSA after the first one dropped it. */
#define HUB_LSA_GC_MS 5000
#define HUB_LIMBO_MS 60000

/* The duplicate window: 65536 sequence numbers per origin cover more than
 * 2 s of a gateway exporting 20,000 datagrams/s. 8 KiB per origin, so
 * 1024 origins are 8 MiB at most; an origin silent for a minute is
 * forgotten (a restarted gateway has a new node id: a new origin). */
#define HUB_DEDUP_WINDOW 65536
#define HUB_MAX_ORIGINS 1024
#define HUB_ORIGIN_IDLE_MS 60000
#define HUB_MAX_CHANNELS 4096
#define HUB_LINK_MAX_CHANNELS 1024
/* Links at once per listener unless max-conns= says otherwise. */
#define HUB_MAX_CONNS 1000
/* Kernel send buffer per link unless sndbuf= says otherwise: with the
 * queue, what one link can hold (a peer that stops reading). */
#define HUB_LINK_SNDBUF (256 * 1024)
/* Star path: writes to a link are gathered for at most HUB_PACE_MS, or
 * until HUB_PACE_BYTES wait (hub_on_read_end); a link written to no
 * sooner than HUB_PACE_MS ago is written at once (a quiet link: there is
 * nothing to gather, only delay to add). */
#define HUB_PACE_MS 1
#define HUB_PACE_BYTES (16 * 1024)
/* The largest --acl file read. */
#define HUB_ACL_MAX_BYTES (1u << 20)
/* A frame from a hub that is not our parent in its origin's tree is
 * dropped once our topology has not changed for this long; before that,
 * trees may be in flux (the sender may know a newer or older database),
 * so it is accepted, counted, and the duplicate window catches copies. */
#define HUB_ROUTE_SETTLE_MS 1000
/* The routing tables are stable again (the reconverged event) when the
 * topology has not changed for this long: more than the 200 ms between
 * two LSAs of one hub, so a change and its echoes are one episode. */
#define HUB_RECONVERGE_QUIET_MS 500
/* The route cache: origins and (root, channel, island) routes. */
#define HUB_ROUTE_ORIGINS 2048
#define HUB_ROUTE_ROUTES 2048

struct hub_df {
	char island[FRAME_ISLAND_MAX + 1];
	struct conn *df;          /* designated forwarder, or NULL */
	uint64_t winner;          /* its node id, or another hub's gateway's */
};

/* A channel some link JOINed or EXPORTed: the data of its entry in
 * h->chans. e->subs holds the conn ids of the links that JOINed it,
 * exporters those that EXPORTed it. It goes away with its last one. */
struct hub_channel {
	struct chantab_entry *e;
	struct chantab_subs exporters;
	char name[CHANNEL_TEXT_MAX];
	uint64_t in, out, dropped, duplicates, standby, failovers;
	struct hub_df *dfs;       /* one per island with a link that wants it */
	size_t ndfs;
};

/* Per link: the channels it JOINed and EXPORTed (entry data: the hub's
 * struct hub_channel), so its close takes it out of each. */
struct hub_link {
	struct chantab interest;
	struct chantab exports;
	struct frame_emitter emitters[FRAME_EMITTERS_MAX];
	size_t nemitters;
	uint64_t in, out, dropped;
	bool registered;          /* its series are in the registry */
	bool kick;                /* on h->kicks: data queued this read */
	struct conn *kick_next;
	uint64_t kicked_at;       /* uv_hrtime() of its last kick */
	bool refused;             /* its HELLO was refused: closing */
	bool peer;                /* an ACL `peer`: may carry any origin */
	bool forged_logged;       /* one log line per link for forged DATA */
	/* The mesh (docs/mesh.md): a link to another hub. */
	struct hub *hub;
	bool mesh;                /* HELLO role hub: an adjacency */
	uint32_t cost;            /* what our LSA says for it */
	/* cost= was given for it (a --peer, cost= on --listen, link.set);
	 * otherwise an accepted link takes the cost the dialing hub's LSA
	 * gives it, so cost= on one end is the link's cost both ways. */
	bool cost_own;
	bool draining;            /* cost infinite; closed at drain_at */
	uint64_t drain_at;
	uint64_t last_ping;       /* loop time of our last heartbeat */
	struct hub_peer *dpeer;   /* the --peer that dialed it, or NULL */
};

/* A --peer (or link.add): a dialer that keeps one link to another hub. */
struct hub_peer {
	struct hub *h;
	struct uri uri;
	struct dialer d;
	unsigned id;              /* control API: link id "p<id>" */
	uint32_t cost;
	bool draining;
	struct conn *cur;         /* its open conn, once connected */
	struct hub_peer *next;
};

struct hub {
	struct node *node;
	char *name;
	struct conn_owner own;    /* of every link */
	uint64_t out_dgrams, out_bytes, reconnects;
	uint32_t nlinks;
	struct uri *listen;
	size_t nlisten;
	struct listener *listeners;
	int handles;              /* listeners, keepalive timer, links */
	struct conn *links;
	struct chantab chans;     /* of struct hub_channel */
	struct dedup dedup;       /* keyed by (origin, epoch 0) */
	uint64_t *cand;           /* election scratch: candidates' node ids */
	struct conn **cand_conn;
	size_t candcap;
	uv_timer_t keepalive;
	uint64_t hop_drops, unknown_drops;
	uint64_t refused_channels; /* JOIN/EXPORT over a cap */
	uint64_t refused_hub_links; /* HELLOs of hubs over ROUTE_KIDS_MAX */
	uint64_t refused_logged, refused_at;
	struct conn *kicks;       /* links with data queued since a kick */
	uv_timer_t pace;          /* the gathered kick of h->kicks */
	/* Trust (docs/security.md): the --acl file, if any, and what it
	 * and the origin binding refused. */
	char *acl_path;           /* NULL: no ACL, open */
	struct acl acl;
	uint64_t forged_drops, acl_drops, island_refused;
	uint64_t denied_publish, denied_subscribe;
	bool closing;
	/* The mesh: peers we dial, the link-state database, our own LSA's
	 * sequence, the trees computed from the database (per db index,
	 * valid while trees_gen == gen). */
	struct hub_peer *peers;
	unsigned next_peer_id;
	struct uri *peer_uris;    /* --peer, dialed at start */
	size_t npeer_uris;
	uint32_t hb_ms;           /* heartbeat on hub links */
	struct lsdb db;
	uint64_t lsa_seq, gen, trees_gen;
	struct spf_tree *trees;
	size_t ntrees;
	uv_timer_t orig, mtick;
	bool orig_due;
	uint64_t last_orig, last_gc;
	uint64_t lsa_in, lsa_out, lsa_bytes_in, lsa_bytes_out, spf_runs;
	uint64_t ctl_bytes_out;   /* LSA, DBSUM and PING frames to hubs */
	uint64_t mesh_in, mesh_out, mesh_unknown, mesh_dups;
	uint64_t last_change;     /* loop time the database last changed */
	/* Drops by reason (docs/metrics.md), beside hop_drops. */
	uint64_t dup_drops, no_interest_drops;
	uint64_t not_on_tree_drops, not_on_tree_accepted;
	/* The route cache (route.h), valid while its generation rgen holds:
	 * bumped with the database and when a hub link comes, goes or
	 * drains. reach[i]: is db index i reachable from us (reach_gen). */
	struct route_cache rc;
	uint64_t rgen, reach_gen;
	bool *reach;
	uint64_t change_node;     /* whose LSA the last change was */
	/* Reconvergence (the reconverged event): a topology change opens an
	 * episode at the trigger's time; QUIET ms after its last change the
	 * episode closes with gap = last change - trigger. */
	uint64_t topo_digest, last_topo_change;
	const char *trig_kind;    /* a local trigger not yet in the database */
	uint64_t trig_at, trig_node;
	bool conv_pending;
	const char *conv_kind;
	uint64_t conv_start, conv_last, conv_changes, conv_node;
	uint64_t reconvergences, last_gap_ms;
	void (*on_event)(void *arg, const char *json);
	void *event_arg;
	char *control_path;       /* --control, or NULL */
	struct control *ctl;
};

static struct hub_link *link_of(struct conn *c)
{
	return c->data;
}

static bool link_ready(const struct conn *c)
{
	return c->state == CONN_OPEN && c->hello_seen;
}

static bool link_wants(const struct conn *c, const struct hub_channel *hc)
{
	return chantab_subs_has(&hc->e->subs, c->id) ||
	       chantab_subs_has(&hc->exporters, c->id);
}

/* ---- trust ----------------------------------------------------------- */

/* Read and parse h->acl_path into *acl. 0, or a negative errno with a
 * reason in err. */
static int hub_acl_read(const struct hub *h, struct acl *acl, char *err,
			size_t errlen)
{
	FILE *f = fopen(h->acl_path, "rb");
	char *text = NULL, e[256];
	size_t len;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read acl file '%s': %s",
			 h->acl_path, strerror(errno));
		return rc;
	}
	text = xmalloc(HUB_ACL_MAX_BYTES + 1);
	len = fread(text, 1, HUB_ACL_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot read acl file '%s'", h->acl_path);
		goto out;
	}
	if (len > HUB_ACL_MAX_BYTES) {
		rc = -EFBIG;
		snprintf(err, errlen, "acl file '%s' is over %u bytes",
			 h->acl_path, HUB_ACL_MAX_BYTES);
		goto out;
	}
	rc = acl_parse(text, len, acl, e, sizeof(e));
	if (rc < 0)
		snprintf(err, errlen, "acl file '%s': %s", h->acl_path, e);
out:
	free(text);
	fclose(f);
	return rc;
}

/* Send an ERROR frame of code with a text. */
static void hub_send_error(struct conn *c, uint16_t code, const char *text)
{
	uint8_t out[FRAME_HDR_LEN + 2 + 256];
	size_t n = frame_encode_error(out, sizeof(out), code, text);

	if (n && conn_send_bytes(c, out, n) == 0)
		conn_kick(c);
}

/* With an ACL, may link c EXPORT (publish) or JOIN (subscribe) the
 * channel of f? A refusal is answered with an ERROR frame (a refusal
 * code: the link stays up), counted and logged; the frame then changes
 * nothing. LEAVE, UNEXPORT and a bad frame go on to hub_interest. */
static bool hub_authorized(struct hub *h, struct conn *c,
			   const struct frame *f)
{
	bool publish = f->type == FRAME_EXPORT;
	struct channel ch;
	char name[CHANNEL_TEXT_MAX], text[CHANNEL_TEXT_MAX + 32], id[256];

	if (!h->acl_path || (f->type != FRAME_EXPORT && f->type != FRAME_JOIN) ||
	    frame_channel_decode(f, &ch, NULL) < 0)
		return true;
	if (acl_check(&h->acl, c->link->identity,
		      publish ? ACL_PUBLISH : ACL_SUBSCRIBE, &ch))
		return true;
	if (publish)
		h->denied_publish++;
	else
		h->denied_subscribe++;
	channel_format(&ch, name, sizeof(name));
	log_warn("hub=%s c=%u %s denied channel=%s identity=%s peer=%s",
		 h->name, c->id, publish ? "publish" : "subscribe", name,
		 log_value(c->link->identity, id, sizeof(id)), c->peer);
	snprintf(text, sizeof(text), "%s-denied: %s",
		 publish ? "publish" : "subscribe", name);
	hub_send_error(c, publish ? FRAME_ERRCODE_PUBLISH_DENIED
				  : FRAME_ERRCODE_SUBSCRIBE_DENIED,
		       text);
	return false;
}

/* May link c's identity speak for the island its HELLO names? Without
 * an ACL anybody may (docs/security.md says why that calls for TLS and
 * an ACL); "relay:" names are the hub's own for relays either way. */
static bool hub_island_ok(const struct hub *h, const struct conn *c)
{
	if (!strncmp(c->peer_hello.island, "relay:", 6))
		return false;
	return !h->acl_path ||
	       acl_island_ok(&h->acl, c->link->identity, c->peer_hello.island);
}

/* ---- counters -------------------------------------------------------- */

/* Register one series; a refusal is a broken invariant (docs/metrics.md,
 * "Registering"). */
static void hub_stat(struct hub *h, const void *owner, const char *name,
		     const char *const *labels, enum stats_kind kind,
		     const char *help, const uint64_t *value)
{
	int rc = stats_add(&h->node->stats, owner, name, labels, kind, help,
			   value);

	if (rc < 0)
		fatal(1, "hub=%s cannot register %s: %s", h->name, name,
		      strerror(-rc));
}

static uint64_t hub_channels_count(const void *arg)
{
	return ((const struct hub *)arg)->chans.count;
}

static uint64_t hub_reconverging(const void *arg)
{
	return ((const struct hub *)arg)->conv_pending;
}

static void hub_register(struct hub *h)
{
	const char *const lb[] = { "hub", h->name, NULL };
	int rc;

	rc = stats_add_u32(&h->node->stats, h, "mcferry_hub_links", lb,
			   STATS_GAUGE, "Open links (gateways, relays).",
			   &h->nlinks);
	if (rc == 0)
		rc = stats_add_fn(&h->node->stats, h, "mcferry_hub_channels",
				  lb, STATS_GAUGE,
				  "Channels some link joined or exported.",
				  hub_channels_count, h);
	if (rc == 0)
		rc = stats_add_fn(&h->node->stats, h, "mcferry_hub_reconverging",
				  lb, STATS_GAUGE,
				  "1 while the topology changed less than "
				  "500 ms ago (routes may still move).",
				  hub_reconverging, h);
	if (rc < 0)
		fatal(1, "hub=%s cannot register its counters: %s", h->name,
		      strerror(-rc));
	hub_stat(h, h, "mcferry_hub_out_bytes_total", lb, STATS_COUNTER,
		 "Bytes written to links, framing and control frames included.",
		 &h->out_bytes);
	hub_stat(h, h, "mcferry_hub_hop_limit_dropped_datagrams_total", lb,
		 STATS_COUNTER, "Data frames dropped at the hop limit.",
		 &h->hop_drops);
	hub_stat(h, h, "mcferry_hub_unknown_channel_dropped_datagrams_total",
		 lb, STATS_COUNTER,
		 "Data frames for a channel no link joined or exported.",
		 &h->unknown_drops);
	hub_stat(h, h, "mcferry_hub_forged_origin_dropped_datagrams_total",
		 lb, STATS_COUNTER,
		 "Data frames whose origin is not the sending link's node id.",
		 &h->forged_drops);
	hub_stat(h, h, "mcferry_hub_unauthorized_dropped_datagrams_total",
		 lb, STATS_COUNTER,
		 "Data frames (with an ACL) for a channel the link has not "
		 "been allowed to export.",
		 &h->acl_drops);
	hub_stat(h, h, "mcferry_hub_island_refused_total", lb, STATS_COUNTER,
		 "HELLOs refused: an island the identity may not speak for.",
		 &h->island_refused);
	hub_stat(h, h, "mcferry_hub_refused_hub_links_total", lb, STATS_COUNTER,
		 "hub HELLOs refused: this hub had its most adjacencies (64).",
		 &h->refused_hub_links);
	hub_stat(h, h, "mcferry_hub_publish_denied_total", lb, STATS_COUNTER,
		 "EXPORT frames the ACL refused.", &h->denied_publish);
	hub_stat(h, h, "mcferry_hub_subscribe_denied_total", lb,
		 STATS_COUNTER, "JOIN frames the ACL refused.",
		 &h->denied_subscribe);
	/* The mesh: drops by reason, transmissions, the route cache. */
	hub_stat(h, h, "mcferry_hub_duplicate_dropped_datagrams_total", lb,
		 STATS_COUNTER,
		 "Data frames dropped as already seen (origin, sequence), "
		 "from gateways and hubs.", &h->dup_drops);
	hub_stat(h, h, "mcferry_hub_not_on_tree_dropped_datagrams_total", lb,
		 STATS_COUNTER,
		 "Data frames from a hub that is not our parent in the "
		 "origin's tree, dropped (topology settled).",
		 &h->not_on_tree_drops);
	hub_stat(h, h, "mcferry_hub_not_on_tree_accepted_datagrams_total", lb,
		 STATS_COUNTER,
		 "Data frames from a hub that is not our parent in the "
		 "origin's tree, accepted during a route change.",
		 &h->not_on_tree_accepted);
	hub_stat(h, h, "mcferry_hub_no_interest_dropped_datagrams_total", lb,
		 STATS_COUNTER,
		 "New data frames that went nowhere: no island's forwarder "
		 "here and no child in the pruned tree wants them.",
		 &h->no_interest_drops);
	hub_stat(h, h, "mcferry_hub_unknown_origin_dropped_datagrams_total",
		 lb, STATS_COUNTER,
		 "Data frames from a hub whose origin is in no LSA (its "
		 "island is unknown).", &h->mesh_unknown);
	hub_stat(h, h, "mcferry_hub_mesh_in_datagrams_total", lb,
		 STATS_COUNTER, "Data frames received from other hubs.",
		 &h->mesh_in);
	hub_stat(h, h, "mcferry_hub_mesh_out_datagrams_total", lb,
		 STATS_COUNTER,
		 "Data frames queued to other hubs (one per tree edge).",
		 &h->mesh_out);
	hub_stat(h, h, "mcferry_hub_lsa_in_total", lb, STATS_COUNTER,
		 "LSA frames received.", &h->lsa_in);
	hub_stat(h, h, "mcferry_hub_lsa_out_total", lb, STATS_COUNTER,
		 "LSA frames sent.", &h->lsa_out);
	hub_stat(h, h, "mcferry_hub_lsa_out_bytes_total", lb, STATS_COUNTER,
		 "Bytes of the LSA frames sent.", &h->lsa_bytes_out);
	hub_stat(h, h, "mcferry_hub_mesh_control_out_bytes_total", lb,
		 STATS_COUNTER,
		 "Bytes of LSA, DBSUM and heartbeat PING frames sent to other "
		 "hubs (the PONG answering a PING is not counted).",
		 &h->ctl_bytes_out);
	hub_stat(h, h, "mcferry_hub_spf_runs_total", lb, STATS_COUNTER,
		 "Shortest-path trees computed.", &h->spf_runs);
	hub_stat(h, h, "mcferry_hub_route_cache_hits_total", lb,
		 STATS_COUNTER, "Route lookups the cache answered.",
		 &h->rc.hits);
	hub_stat(h, h, "mcferry_hub_route_cache_misses_total", lb,
		 STATS_COUNTER,
		 "Route lookups computed from the database (and cached).",
		 &h->rc.misses);
	hub_stat(h, h, "mcferry_hub_route_cache_evictions_total", lb,
		 STATS_COUNTER,
		 "Current route cache entries pushed out by others.",
		 &h->rc.evictions);
	hub_stat(h, h, "mcferry_hub_route_cache_entries", lb, STATS_GAUGE,
		 "Route cache entries of the current generation.",
		 &h->rc.entries);
	hub_stat(h, h, "mcferry_hub_reconvergences_total", lb,
		 STATS_COUNTER,
		 "Topology changes after which the routes settled again.",
		 &h->reconvergences);
	hub_stat(h, h, "mcferry_hub_last_reconverge_gap_ms", lb, STATS_GAUGE,
		 "The last reconvergence's time from trigger to last tree "
		 "change.", &h->last_gap_ms);
}

static void hub_channel_register(struct hub *h, struct hub_channel *hc)
{
	const char *const lb[] = { "hub", h->name, "channel", hc->name, NULL };

	hub_stat(h, hc, "mcferry_hub_channel_in_datagrams_total", lb,
		 STATS_COUNTER, "Data frames received for the channel.",
		 &hc->in);
	hub_stat(h, hc, "mcferry_hub_channel_out_datagrams_total", lb,
		 STATS_COUNTER, "Copies of the channel's data queued to links.",
		 &hc->out);
	hub_stat(h, hc, "mcferry_hub_channel_dropped_total", lb,
		 STATS_COUNTER,
		 "Frames or copies lost: hop limit, a link's queue full.",
		 &hc->dropped);
	hub_stat(h, hc, "mcferry_hub_channel_duplicates_total", lb,
		 STATS_COUNTER, "Frames dropped as already seen.",
		 &hc->duplicates);
	hub_stat(h, hc, "mcferry_hub_channel_standby_total", lb,
		 STATS_COUNTER,
		 "Frames from a gateway that is not its island's forwarder.",
		 &hc->standby);
	hub_stat(h, hc, "mcferry_hub_channel_failovers_total", lb,
		 STATS_COUNTER,
		 "An island's forwarder moved to another gateway.",
		 &hc->failovers);
}

static void hub_link_register(struct hub *h, struct conn *c)
{
	struct hub_link *l = link_of(c);
	char id[16], node[17];
	const char *const lb[] = { "hub", h->name, "link", id, "island",
				   c->peer_hello.island, "node", node, NULL };

	snprintf(id, sizeof(id), "%u", c->id);
	snprintf(node, sizeof(node), "%016llx",
		 (unsigned long long)c->peer_hello.node_id);
	hub_stat(h, l, "mcferry_hub_link_in_datagrams_total", lb,
		 STATS_COUNTER, "Data frames received on the link.", &l->in);
	hub_stat(h, l, "mcferry_hub_link_out_datagrams_total", lb,
		 STATS_COUNTER, "Data frames queued to the link.", &l->out);
	hub_stat(h, l, "mcferry_hub_link_dropped_total", lb, STATS_COUNTER,
		 "Frames for a channel the hub does not carry, and copies "
		 "the link's queue refused.",
		 &l->dropped);
	l->registered = true;
}

/* ---- the channel table ---------------------------------------------- */

static struct hub_channel *hub_channel_find(struct hub *h,
					    const struct channel *ch)
{
	struct chantab_entry *e = chantab_find(&h->chans, ch);

	return e ? e->data : NULL;
}

/* The channel's state, made on the first JOIN or EXPORT; NULL when the
 * table is full. */
static struct hub_channel *hub_channel_get(struct hub *h,
					   const struct channel *ch)
{
	struct chantab_entry *e;
	struct hub_channel *hc;
	int rc = chantab_insert(&h->chans, ch, &e);

	if (rc == -EEXIST)
		return e->data;
	if (rc < 0)
		return NULL;
	hc = xcalloc(1, sizeof(*hc));
	hc->e = e;
	e->data = hc;
	channel_format(ch, hc->name, sizeof(hc->name));
	hub_channel_register(h, hc);
	return hc;
}

static void hub_channel_free(struct hub *h, struct hub_channel *hc)
{
	stats_remove_owner(&h->node->stats, hc);
	chantab_del(&h->chans, hc->e);
	free(hc->exporters.ids);
	free(hc->dfs);
	free(hc);
}

/* Forget the channel once no link wants it any more. */
static void hub_channel_gc(struct hub *h, struct hub_channel *hc)
{
	if (chantab_subs_count(&hc->e->subs) ||
	    chantab_subs_count(&hc->exporters))
		return;
	log_info("hub=%s channel=%s gone", h->name, hc->name);
	hub_channel_free(h, hc);
}

/* ---- the designated forwarders --------------------------------------- */

static struct hub_df *hub_df_find(struct hub_channel *hc, const char *island)
{
	for (size_t i = 0; i < hc->ndfs; i++)
		if (!strcmp(hc->dfs[i].island, island))
			return &hc->dfs[i];
	return NULL;
}

/* The forwarder of (island, channel), or NULL. */
static struct conn *hub_forwarder(struct hub_channel *hc, const char *island)
{
	struct hub_df *df = hub_df_find(hc, island);

	return df ? df->df : NULL;
}

static struct hub_df *hub_df_get(struct hub_channel *hc, const char *island)
{
	struct hub_df *df = hub_df_find(hc, island);

	if (df)
		return df;
	hc->dfs = xrealloc(hc->dfs, (hc->ndfs + 1) * sizeof(*hc->dfs));
	memset(&hc->dfs[hc->ndfs], 0, sizeof(*hc->dfs));
	snprintf(hc->dfs[hc->ndfs].island, sizeof(hc->dfs[0].island), "%s",
		 island);
	return &hc->dfs[hc->ndfs++];
}

static void hub_send_forwarder(struct conn *c, const struct channel *ch,
			       int active)
{
	if (conn_send_channel(c, FRAME_FORWARDER, ch, active) == 0)
		conn_kick(c);
}

/* Room for n election candidates. */
static void hub_cand_reserve(struct hub *h, size_t n)
{
	if (n <= h->candcap)
		return;
	h->candcap = h->candcap ? 2 * h->candcap : 8;
	if (h->candcap < n)
		h->candcap = n;
	h->cand = xrealloc(h->cand, h->candcap * sizeof(*h->cand));
	h->cand_conn = xrealloc(h->cand_conn,
				h->candcap * sizeof(*h->cand_conn));
}

/* Is c one of our gateways (or relays) of island that wants hc? */
static bool hub_local_cand(const struct conn *c, const struct hub_channel *hc,
			   const char *island)
{
	return link_ready(c) && !link_of((struct conn *)c)->mesh &&
	       !strcmp(c->peer_hello.island, island) && link_wants(c, hc);
}

/* The island's gateways that want the channel, by election_pick: the
 * rendezvous winner among their node ids, or NULL. */
static struct conn *hub_pick(struct hub *h, struct hub_channel *hc,
			     const char *island)
{
	size_t n = 0;
	int i;

	for (struct conn *c = h->links; c; c = c->next) {
		if (!hub_local_cand(c, hc, island))
			continue;
		hub_cand_reserve(h, n + 1);
		h->cand[n] = c->peer_hello.node_id;
		h->cand_conn[n++] = c;
	}
	i = election_pick(h->cand, n, &hc->e->ch);
	return i < 0 ? NULL : h->cand_conn[i];
}

static const bool *mesh_reach(struct hub *h);

/* Does our own held LSA (mine) list node as exporting or wanting ch? */
static bool hub_advertised(const struct lsa *mine, uint64_t node,
			   const struct channel *ch)
{
	for (size_t k = 0; k < mine->nmembers; k++)
		if (mine->members[k].node == node)
			return lsa_member_has(&mine->members[k], ch, true) ||
			       lsa_member_has(&mine->members[k], ch, false);
	return false;
}

/* The mesh-wide election of (island, channel) (docs/mesh.md, "One
 * forwarder per island"). When the database holds a candidate of the
 * island on another hub we can reach, *mesh is set and the winner among
 * those and our own gateways goes to *winner; the result is our link to
 * it (a dual-homed winner is ours too), or NULL when it is another hub's
 * gateway. Our own gateway is a candidate once our held LSA lists it
 * (what the other hubs see), so that a newcomer takes over when the hub
 * that loses the channel can know it; a gone one is out at once. *mesh
 * false: no other hub has a candidate, the star's rule applies. */
static struct conn *hub_pick_mesh(struct hub *h, struct hub_channel *hc,
				  const char *island, bool *mesh,
				  uint64_t *winner)
{
	const struct channel *ch = &hc->e->ch;
	const struct lsa *mine;
	uint64_t remote;
	size_t n = 0;
	long me;
	int i;

	*mesh = false;
	if (h->db.n <= 1 || (me = lsdb_index(&h->db, h->node->node_id)) < 0)
		return NULL;
	if (!election_mesh(&h->db, mesh_reach(h), me, island, ch, NULL, 0,
			   &remote))
		return NULL;
	*mesh = true;
	mine = h->db.v[me];
	hub_cand_reserve(h, 1);
	h->cand[n++] = remote;
	for (struct conn *c = h->links; c; c = c->next) {
		uint64_t node = c->peer_hello.node_id;

		if (!hub_local_cand(c, hc, island) ||
		    (node != remote && !hub_advertised(mine, node, ch)))
			continue;
		hub_cand_reserve(h, n + 1);
		h->cand[n++] = node;
	}
	i = election_pick(h->cand, n, ch);
	*winner = h->cand[i];
	for (struct conn *c = h->links; c; c = c->next)
		if (hub_local_cand(c, hc, island) &&
		    c->peer_hello.node_id == *winner)
			return c;
	return NULL;
}

/* Does a gateway of ours of island want hc? */
static bool hub_island_wants(struct hub *h, const struct hub_channel *hc,
			     const char *island)
{
	for (struct conn *c = h->links; c; c = c->next)
		if (hub_local_cand(c, hc, island))
			return true;
	return false;
}

/* Choose the designated forwarder of (island, channel).
 *
 * When only this hub has gateways of the island for the channel (a
 * single hub, always), the star's rule: sticky, the current one stays
 * while it is up and wants the channel (a returning gateway stands by, so
 * a flow does not move twice for one failure); only when there is none
 * does election_pick choose among them. When another hub has one too,
 * the mesh-wide winner (hub_pick_mesh), which every hub computes alike
 * from the database: our gateway is forwarder only if it is the winner,
 * and stands by otherwise (its DATA dropped, no import delivered to it).
 * Either way a gateway that gains or loses the role is told so
 * (FORWARDER). */
static void hub_elect(struct hub *h, struct hub_channel *hc,
		      const char *island_in)
{
	char island[FRAME_ISLAND_MAX + 1];
	struct hub_df *df;
	struct conn *cur, *best;
	uint64_t winner = 0, prev;
	bool mesh;

	/* A copy: the caller's string may live in the entry this removes. */
	snprintf(island, sizeof(island), "%s", island_in);
	df = hub_df_get(hc, island);
	cur = df->df;
	prev = df->winner;

	best = hub_pick_mesh(h, hc, island, &mesh, &winner);
	if (!mesh) {
		if (cur && link_ready(cur) && link_wants(cur, hc)) {
			df->winner = cur->peer_hello.node_id;
			return;
		}
		best = hub_pick(h, hc, island);
		winner = best ? best->peer_hello.node_id : 0;
	}
	if (best == cur && winner == prev)
		return;
	if (cur && cur != best && link_ready(cur))
		hub_send_forwarder(cur, &hc->e->ch, 0);
	df->df = best;
	df->winner = winner;
	if (!best && !(mesh && hub_island_wants(h, hc, island))) {
		/* Nobody of this island here wants the channel any more:
		 * forget the island here, so islands that come and go
		 * (relays, with a new node id each run) do not pile up. */
		*df = hc->dfs[--hc->ndfs];
		if (cur)
			log_info("hub=%s channel=%s island=%s forwarder=none",
				 h->name, hc->name, island);
		return;
	}
	if ((prev && winner != prev) || (cur && best && cur != best))
		hc->failovers++;
	if (!best) {
		/* Another hub's gateway is the island's forwarder: ours
		 * stand by. */
		if (cur)
			log_warn("hub=%s channel=%s island=%s failover to "
				 "node=%016llx on another hub (standby here)",
				 h->name, hc->name, island,
				 (unsigned long long)winner);
		else
			log_info("hub=%s channel=%s island=%s forwarder "
				 "node=%016llx on another hub (standby here)",
				 h->name, hc->name, island,
				 (unsigned long long)winner);
		return;
	}
	if (best == cur)
		return;
	if (cur || prev) {
		log_warn("hub=%s channel=%s island=%s failover to c=%u node=%016llx",
			 h->name, hc->name, island, best->id,
			 (unsigned long long)best->peer_hello.node_id);
	} else {
		log_info("hub=%s channel=%s island=%s forwarder c=%u node=%016llx",
			 h->name, hc->name, island, best->id,
			 (unsigned long long)best->peer_hello.node_id);
	}
	hub_send_forwarder(best, &hc->e->ch, 1);
}

/* The database changed: every (island, channel) of ours elects again. */
static void hub_elect_all(struct hub *h)
{
	if (h->closing)
		return;
	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);
		struct chantab *sets[2] = { &l->interest, &l->exports };

		if (!link_ready(c) || l->mesh || l->refused)
			continue;
		for (size_t k = 0; k < 2; k++) {
			struct chantab_iter it;

			for (struct chantab_entry *e = chantab_first(sets[k], &it);
			     e; e = chantab_next(&it))
				hub_elect(h, e->data, c->peer_hello.island);
		}
	}
}

/* Send every gateway of an island the addresses all of them re-multicast
 * from, so that none re-exports what another one emitted. */
static void hub_share_emitters(struct hub *h, const char *island)
{
	struct frame_emitter all[FRAME_EMITTERS_MAX];
	uint8_t out[FRAME_HDR_LEN + 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN];
	size_t n = 0, len;

	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);

		if (!link_ready(c) || strcmp(c->peer_hello.island, island))
			continue;
		for (size_t i = 0; i < l->nemitters && n < FRAME_EMITTERS_MAX;
		     i++)
			all[n++] = l->emitters[i];
	}
	len = frame_encode_emitters(out, sizeof(out), all, n);
	for (struct conn *c = h->links; c; c = c->next) {
		if (!link_ready(c) || strcmp(c->peer_hello.island, island))
			continue;
		if (conn_send_bytes(c, out, len) == 0)
			conn_kick(c);
	}
}

/* ---- the data path --------------------------------------------------- */

/* ---- the mesh (docs/mesh.md) ------------------------------------------ */

static void hub_mesh_changed(struct hub *h);
static int hub_ctl(void *arg, const struct control_req *r,
		   struct stats_text *t, char *err, size_t errlen);
static void hub_on_ctl_event(void *arg, const char *json);

/* Tell the control socket's subscribers (events.subscribe). */
static void hub_event(struct hub *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void hub_event(struct hub *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!h->on_event)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	h->on_event(h->event_arg, line);
}

static bool mesh_ready(const struct conn *c)
{
	return link_ready(c) && ((const struct hub_link *)c->data)->mesh;
}

/* Queue a whole frame of type with body p (n bytes) on c. */
static void mesh_send(struct hub *h, struct conn *c, uint8_t type,
		      const uint8_t *p, size_t n)
{
	uint8_t *out = xmalloc(FRAME_HDR_LEN + n);

	frame_put_header(out, type, (uint32_t)n);
	memcpy(out + FRAME_HDR_LEN, p, n);
	if (conn_send_bytes(c, out, FRAME_HDR_LEN + n) == 0) {
		conn_kick(c);
		h->ctl_bytes_out += FRAME_HDR_LEN + n;
		if (type == FRAME_LSA) {
			h->lsa_out++;
			h->lsa_bytes_out += FRAME_HDR_LEN + n;
		}
	}
	free(out);
}

/* Send a (held) LSA to c. */
static void mesh_send_lsa(struct hub *h, struct conn *c, const struct lsa *a)
{
	uint8_t *buf = xmalloc(FRAME_BODY_MAX);
	int n = lsa_encode(a, buf, FRAME_BODY_MAX);

	if (n > 0)
		mesh_send(h, c, FRAME_LSA, buf, (size_t)n);
	free(buf);
}

/* Flood an LSA body to every adjacency but except. */
static void mesh_flood(struct hub *h, const uint8_t *p, size_t n,
		       const struct conn *except)
{
	for (struct conn *c = h->links; c; c = c->next)
		if (c != except && mesh_ready(c))
			mesh_send(h, c, FRAME_LSA, p, n);
}

/* A change of ours that the database will show (a hub link up or down,
 * a drain, a cost): the reconverged event's gap starts at the first one
 * (at), not when our LSA goes out. */
static void mesh_trigger(struct hub *h, const char *kind, uint64_t at,
			 uint64_t node)
{
	h->rgen++;
	if (h->trig_kind)
		return;
	h->trig_kind = kind;
	h->trig_at = at;
	h->trig_node = node;
}

/* The database changed: did the topology (what the trees are made of)?
 * If so, open or extend the episode the reconverged event closes. */
static void mesh_topo_check(struct hub *h, uint64_t now)
{
	uint64_t d = route_topology_digest(&h->db);

	if (d == h->topo_digest)
		return;
	h->topo_digest = d;
	h->last_topo_change = now;
	if (!h->conv_pending) {
		h->conv_pending = true;
		h->conv_kind = h->trig_kind ? h->trig_kind : "lsa";
		h->conv_start = h->trig_kind ? h->trig_at : now;
		h->conv_node = h->trig_kind ? h->trig_node : h->change_node;
		h->conv_changes = 0;
	}
	h->trig_kind = NULL;
	h->conv_changes++;
	h->conv_last = now;
}

static void hub_elect_all(struct hub *h);
static const struct spf_tree *mesh_tree(struct hub *h, long i);

/* Every change of the database goes through here: new trees, a new
 * route cache generation, the topology's episode, and the mesh-wide
 * election of every (island, channel) of ours. */
static void mesh_db_changed(struct hub *h)
{
	uint64_t now = uv_now(h->node->loop);

	h->gen++;
	h->rgen++;
	h->last_change = now;
	mesh_topo_check(h, now);
	hub_elect_all(h);
}

/* reach[i]: is the LSA at db index i reachable from us (in our own
 * tree)? Only those hubs' gateways are candidates of an election. */
static const bool *mesh_reach(struct hub *h)
{
	long me = lsdb_index(&h->db, h->node->node_id);
	const struct spf_tree *t;

	if (me < 0)
		return NULL;
	if (h->reach && h->reach_gen == h->gen)
		return h->reach;
	t = mesh_tree(h, me);
	h->reach = xrealloc(h->reach, (h->db.n ? h->db.n : 1) *
				      sizeof(*h->reach));
	for (size_t i = 0; i < h->db.n; i++)
		h->reach[i] = t->dist[i] != SPF_UNREACHABLE;
	h->reach_gen = h->gen;
	return h->reach;
}

/* The tree of the LSA at db index i, computed once per database
 * generation. */
static const struct spf_tree *mesh_tree(struct hub *h, long i)
{
	if (h->trees_gen != h->gen || h->ntrees != h->db.n) {
		for (size_t k = 0; k < h->ntrees; k++)
			spf_tree_free(&h->trees[k]);
		free(h->trees);
		h->ntrees = h->db.n;
		h->trees = xcalloc(h->ntrees ? h->ntrees : 1,
				   sizeof(*h->trees));
		h->trees_gen = h->gen;
	}
	if (!h->trees[i].dist) {
		spf_compute(&h->db, h->db.v[i]->node, &h->trees[i]);
		h->spf_runs++;
	}
	return &h->trees[i];
}

/* LSAs the garbage collector buried (lsdb.h, the limbo) that are
 * reachable again, a partition healed: back into the database and
 * flooded (a hub that came up meanwhile lacks them); the others back to
 * the limbo, their burial time kept. Called after every install. */
static void mesh_revive(struct hub *h)
{
	uint64_t *nodes, now = uv_now(h->node->loop);
	struct spf_tree t = { 0 };
	bool *reach;
	size_t n, nrev = 0;

	if (!h->db.nlimbo)
		return;
	nodes = xmalloc(h->db.nlimbo * sizeof(*nodes));
	reach = xcalloc(h->db.nlimbo, sizeof(*reach));
	n = lsdb_unbury(&h->db, nodes);
	if (spf_compute(&h->db, h->node->node_id, &t) == 0)
		for (size_t i = 0; i < n; i++) {
			long k = lsdb_index(&h->db, nodes[i]);

			reach[i] = k >= 0 && t.dist[k] != SPF_UNREACHABLE;
		}
	spf_tree_free(&t);
	for (size_t i = 0; i < n; i++) {
		struct lsa *a = lsdb_find(&h->db, nodes[i]);
		uint8_t *buf;
		int len;

		if (!a)
			continue;
		if (!reach[i]) {
			(void)lsdb_bury(&h->db, nodes[i], a->seen_ms);
			continue;
		}
		a->seen_ms = now;
		nrev++;
		buf = xmalloc(FRAME_BODY_MAX);
		len = lsa_encode(a, buf, FRAME_BODY_MAX);
		if (len > 0)
			mesh_flood(h, buf, (size_t)len, NULL);
		free(buf);
		log_info("hub=%s lsa node=%016llx revived reason=reachable",
			 h->name, (unsigned long long)nodes[i]);
	}
	if (nrev) {
		for (size_t i = 0; i < n; i++)
			if (reach[i]) {
				h->change_node = nodes[i];
				break;
			}
		mesh_db_changed(h);
	}
	free(reach);
	free(nodes);
}

/* Our own LSA, from what is up now: adjacencies (the lower cost when
 * there are two links to one neighbour) and attached gateways and
 * relays with the channels they export and join. */
static void mesh_originate(struct hub *h)
{
	struct lsa a = { .node = h->node->node_id, .epoch = h->node->epoch };
	struct lsa *held = xcalloc(1, sizeof(*held));
	uint8_t *buf = xmalloc(FRAME_BODY_MAX);
	size_t nl = 0, nm = 0;
	int n;

	snprintf(a.name, sizeof(a.name), "%s", h->name);
	for (struct conn *c = h->links; c; c = c->next)
		nl += mesh_ready(c), nm += link_ready(c) && !link_of(c)->mesh;
	a.links = xcalloc(nl + 1, sizeof(*a.links));
	a.members = xcalloc(nm + 1, sizeof(*a.members));
	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);
		uint32_t cost = l->draining ? LSA_COST_INF : l->cost;
		size_t k;

		if (!link_ready(c) || l->refused)
			continue;
		if (l->mesh) {
			for (k = 0; k < a.nlinks; k++)
				if (a.links[k].node == c->peer_hello.node_id)
					break;
			if (k == a.nlinks)
				a.links[a.nlinks++] = (struct lsa_link){
					c->peer_hello.node_id, cost };
			else if (cost < a.links[k].cost)
				a.links[k].cost = cost;
		} else {
			struct lsa_member *m = &a.members[a.nmembers++];
			struct chantab_iter it;
			size_t ne = l->exports.count, nw = l->interest.count;

			m->node = c->peer_hello.node_id;
			snprintf(m->island, sizeof(m->island), "%s",
				 c->peer_hello.island);
			m->chans = xcalloc(ne + nw + 1, sizeof(*m->chans));
			for (struct chantab_entry *e =
				     chantab_first(&l->exports, &it);
			     e; e = chantab_next(&it))
				m->chans[m->nexports++] = e->ch;
			for (struct chantab_entry *e =
				     chantab_first(&l->interest, &it);
			     e; e = chantab_next(&it))
				m->chans[m->nexports + m->nwants++] = e->ch;
		}
	}
	a.seq = ++h->lsa_seq;
	n = lsa_encode(&a, buf, FRAME_BODY_MAX);
	lsa_clear(&a);
	if (n < 0 || lsa_decode(buf, (size_t)n, held) < 0) {
		log_error("hub=%s own LSA does not fit in a frame", h->name);
		free(held);
		free(buf);
		return;
	}
	held->seen_ms = uv_now(h->node->loop);
	if (lsdb_install(&h->db, held) != 1) {
		lsa_clear(held);
		free(held);
	}
	h->change_node = h->node->node_id;
	mesh_db_changed(h);
	/* Whatever local change was pending is in this LSA: if it did not
	 * change the topology, it starts no episode. */
	h->trig_kind = NULL;
	mesh_flood(h, buf, (size_t)n, NULL);
	free(buf);
	mesh_revive(h);
	h->last_orig = uv_now(h->node->loop);
	log_debug("hub=%s lsa originated seq=%llu links=%zu members=%zu "
		  "bytes=%d digest=%016llx",
		  h->name, (unsigned long long)h->lsa_seq, nl, nm, n,
		  (unsigned long long)lsdb_digest(&h->db));
}

static void hub_on_orig(uv_timer_t *t)
{
	struct hub *h = t->data;

	h->orig_due = false;
	if (!h->closing)
		mesh_originate(h);
}

/* Something our LSA says changed: originate within 10 ms, but at most
 * once per 200 ms (changes in between coalesce, so a flapping link costs
 * 5 LSAs a second at most). */
static void hub_mesh_changed(struct hub *h)
{
	uint64_t now, delay = 10;

	if (h->closing || !h->orig.loop || h->orig_due)
		return;
	now = uv_now(h->node->loop);
	if (h->last_orig && now - h->last_orig < 200)
		delay = 200 - (now - h->last_orig);
	if (delay < 10)
		delay = 10;
	h->orig_due = true;
	uv_timer_start(&h->orig, hub_on_orig, delay, 0);
}

/* a (newly installed) is a neighbour's LSA: an accepted link to it
 * without a cost of its own takes the cost a gives it. */
static void mesh_adopt_cost(struct hub *h, const struct lsa *a)
{
	uint32_t want = lsa_cost_to(a, h->node->node_id);

	if (want == LSA_COST_INF || want == 0)
		return;
	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);

		if (!mesh_ready(c) || l->cost_own || l->draining ||
		    c->peer_hello.node_id != a->node || l->cost == want)
			continue;
		log_info("hub=%s c=%u link cost=%u (was %u) as the dialing hub "
			 "says", h->name, c->id, want, l->cost);
		l->cost = want;
		mesh_trigger(h, "link.cost", uv_now(h->node->loop), a->node);
		hub_mesh_changed(h);
	}
}

static void mesh_on_lsa(struct hub *h, struct conn *c, const struct frame *f)
{
	struct lsa *a = xcalloc(1, sizeof(*a));
	struct lsa *mine;

	h->lsa_in++;
	h->lsa_bytes_in += FRAME_HDR_LEN + f->len;
	if (lsa_decode(f->body, f->len, a) < 0) {
		free(a);
		conn_close(c, "bad-frame");
		return;
	}
	if (a->node == h->node->node_id) {
		/* Ours, flooded back: a copy newer than ours is from an
		 * earlier life of this id; go past it. */
		mine = lsdb_find(&h->db, a->node);
		if (mine && lsa_newer(a, mine)) {
			h->lsa_seq = a->seq;
			hub_mesh_changed(h);
		}
		lsa_clear(a);
		free(a);
		return;
	}
	a->seen_ms = uv_now(h->node->loop);
	if (lsdb_install(&h->db, a) != 1) {
		lsa_clear(a);
		free(a);
		return;
	}
	h->change_node = a->node;
	mesh_db_changed(h);
	mesh_flood(h, f->body, f->len, c);
	mesh_revive(h);
	mesh_adopt_cost(h, a);
	hub_event(h, "{\"event\":\"route.change\",\"node\":\"%016llx\","
		     "\"seq\":%llu,\"digest\":\"%016llx\"}",
		  (unsigned long long)a->node, (unsigned long long)a->seq,
		  (unsigned long long)lsdb_digest(&h->db));
}

struct mesh_dbsum_arg {
	struct hub *h;
	struct conn *c;
};

static void mesh_dbsum_send(const struct lsa *a, void *arg)
{
	struct mesh_dbsum_arg *m = arg;

	mesh_send_lsa(m->h, m->c, a);
}

/* A new adjacency's summary: send it what it lacks (it does the same
 * with ours, so both end up with the union). */
static void mesh_on_dbsum(struct hub *h, struct conn *c, const struct frame *f)
{
	struct mesh_dbsum_arg m = { h, c };

	if (lsdb_summary_diff(&h->db, f->body, f->len, mesh_dbsum_send, &m) < 0)
		conn_close(c, "bad-frame");
}

static void mesh_send_dbsum(struct hub *h, struct conn *c)
{
	uint8_t *buf = xmalloc(FRAME_BODY_MAX);
	size_t n = lsdb_summary_encode(&h->db, buf, FRAME_BODY_MAX);

	mesh_send(h, c, FRAME_DBSUM, buf, n);
	free(buf);
}

/* The adjacency to node (a ready link, not draining first), or NULL. */
static struct conn *mesh_link_to(struct hub *h, uint64_t node)
{
	struct conn *best = NULL;

	for (struct conn *c = h->links; c; c = c->next)
		if (mesh_ready(c) && c->peer_hello.node_id == node &&
		    (!best || link_of(best)->draining))
			best = c;
	return best;
}

/* Where did origin attach (the hubs listing it as a member, our parent
 * in each one's tree) and its island: from the route cache, computed
 * from the database on a miss. */
static const struct route_origin *mesh_origin(struct hub *h, uint64_t origin)
{
	long roots[ROUTE_ROOTS_MAX], me;
	const char *island;
	struct route_origin *o;
	size_t nr;
	bool hit;

	o = route_cache_origin(&h->rc, h->rgen, origin, &hit);
	if (hit)
		return o;
	nr = route_origin_find(&h->db, origin, roots, ROUTE_ROOTS_MAX, &island);
	if (!island)
		return o;
	o->known = true;
	snprintf(o->island, sizeof(o->island), "%s", island);
	me = lsdb_index(&h->db, h->node->node_id);
	for (size_t k = 0; k < nr; k++) {
		const struct spf_tree *t = mesh_tree(h, roots[k]);

		o->roots[k] = h->db.v[roots[k]]->node;
		o->root_index[k] = roots[k];
		if (me >= 0 && t->parent[me] >= 0) {
			o->parent[k] = h->db.v[t->parent[me]]->node;
			o->has_parent[k] = true;
		}
	}
	o->nroots = nr;
	return o;
}

/* Where a datagram of (root, channel, origin island) goes from here:
 * our children in root's tree pruned to the hubs of the other islands'
 * forwarders (route_keep), with our link to each. From the route cache,
 * computed on a miss. */
static const struct route_entry *mesh_route(struct hub *h, long root,
					    const struct channel *ch,
					    const char *island)
{
	long me = lsdb_index(&h->db, h->node->node_id), kids[ROUTE_KIDS_MAX];
	struct route_entry *e;
	const struct spf_tree *t;
	const bool *reach;
	bool *keep, hit;
	size_t nk;

	e = route_cache_route(&h->rc, h->rgen, h->db.v[root]->node, ch,
			      island, &hit);
	if (hit || me < 0)
		return e;
	reach = mesh_reach(h);
	t = mesh_tree(h, root);
	keep = xcalloc(h->db.n, sizeof(*keep));
	route_keep(&h->db, reach, ch, island, keep);
	spf_prune(t, keep);
	nk = spf_children(t, me, keep, kids, ROUTE_KIDS_MAX);
	for (size_t k = 0; k < nk; k++) {
		e->node[k] = h->db.v[kids[k]]->node;
		e->link[k] = mesh_link_to(h, e->node[k]);
	}
	e->n = nk;
	free(keep);
	return e;
}

/* Queue b (a forwarded DATA frame of len payload bytes, hlen header
 * bytes before b->data) to link c, counted on the link, and put c on the
 * list the end of this read writes (hub_on_read_end). 0, or -1 when c's
 * queue had no room (counted as dropped). */
static int hub_link_send(struct hub *h, struct conn *c, struct buf *b,
			 size_t hlen, uint32_t len)
{
	struct hub_link *l = link_of(c);

	if (conn_send_span(c, b, b->data - hlen, (uint32_t)(hlen + len)) < 0) {
		l->dropped++;
		return -1;
	}
	l->out++;
	if (!l->kick) {
		l->kick = true;
		l->kick_next = h->kicks;
		h->kicks = c;
	}
	return 0;
}

/* Send b (a forwarded DATA frame: hlen header bytes before b->data) to
 * our children in root's pruned tree (mesh_route). Returns how many
 * copies it queued. */
static size_t mesh_forward(struct hub *h, struct buf *b, size_t hlen,
			   const struct frame_data *d, long root,
			   const char *island, const struct conn *from)
{
	const struct route_entry *e;
	size_t sent = 0;

	if (root < 0)
		return 0;
	e = mesh_route(h, root, &d->ch, island);
	for (size_t k = 0; k < e->n; k++) {
		struct conn *c = e->link[k];

		if (!c || c == from || !mesh_ready(c))
			continue;
		if (hub_link_send(h, c, b, hlen, d->len) < 0)
			continue;
		h->mesh_out++;
		sent++;
	}
	return sent;
}

/* Every few ms: heartbeats on hub links (a link silent for 3 intervals
 * is dead), drains that are due, and the database's garbage: an LSA
 * unreachable for 5 s is dropped (a stopped hub's, say). */
static void hub_on_mtick(uv_timer_t *t)
{
	struct hub *h = t->data;
	uint64_t now = uv_now(t->loop);
	uint8_t ping[FRAME_HDR_LEN + 8];
	long me;

	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);

		if (!mesh_ready(c))
			continue;
		if (l->draining && now >= l->drain_at) {
			if (l->dpeer && l->dpeer->cur == c) {
				struct hub_peer *p = l->dpeer;

				p->draining = true;
				dialer_stop(&p->d);
			}
			conn_close(c, "drained");
			continue;
		}
		if (now - c->last_rx > 3 * (uint64_t)h->hb_ms) {
			/* The link went silent at its last read. */
			mesh_trigger(h, "link.timeout", c->last_rx,
				     c->peer_hello.node_id);
			conn_close(c, "timeout");
			continue;
		}
		if (now - l->last_ping >= h->hb_ms) {
			frame_put_header(ping, FRAME_PING, 8);
			put_be64(ping + FRAME_HDR_LEN, now);
			if (conn_send_bytes(c, ping, sizeof(ping)) == 0) {
				conn_kick(c);
				h->ctl_bytes_out += sizeof(ping);
			}
			l->last_ping = now;
		}
	}
	if (h->conv_pending && now - h->conv_last >= HUB_RECONVERGE_QUIET_MS) {
		h->conv_pending = false;
		h->reconvergences++;
		h->last_gap_ms = h->conv_last - h->conv_start;
		log_info("hub=%s reconverged gap_ms=%llu trigger=%s "
			 "node=%016llx changes=%llu nodes=%zu",
			 h->name, (unsigned long long)h->last_gap_ms,
			 h->conv_kind, (unsigned long long)h->conv_node,
			 (unsigned long long)h->conv_changes, h->db.n);
		hub_event(h, "{\"event\":\"reconverged\",\"gap_ms\":%llu,"
			     "\"trigger\":\"%s\",\"node\":\"%016llx\","
			     "\"changes\":%llu,\"nodes\":%zu,"
			     "\"digest\":\"%016llx\"}",
			  (unsigned long long)h->last_gap_ms, h->conv_kind,
			  (unsigned long long)h->conv_node,
			  (unsigned long long)h->conv_changes, h->db.n,
			  (unsigned long long)lsdb_digest(&h->db));
	}
	if (now - h->last_gc < 1000 ||
	    (me = lsdb_index(&h->db, h->node->node_id)) < 0)
		return;
	h->last_gc = now;
	{
		const struct spf_tree *tr = mesh_tree(h, me);
		uint64_t gone[16];
		size_t ng = 0;

		for (size_t i = 0; i < h->db.n; i++) {
			if (tr->dist[i] != SPF_UNREACHABLE)
				h->db.v[i]->seen_ms = now;
			else if (now - h->db.v[i]->seen_ms > HUB_LSA_GC_MS &&
				 ng < 16)
				gone[ng++] = h->db.v[i]->node;
		}
		/* Buried, not forgotten: a peer that still holds the same
		 * copy cannot hand it back as new (lsdb.h). */
		for (size_t i = 0; i < ng; i++) {
			lsdb_bury(&h->db, gone[i], now);
			log_info("hub=%s lsa node=%016llx dropped "
				 "reason=unreachable", h->name,
				 (unsigned long long)gone[i]);
		}
		lsdb_limbo_expire(&h->db, now, HUB_LIMBO_MS);
		if (ng) {
			h->change_node = gone[0];
			mesh_db_changed(h);
		}
	}
}

/* Queue b to the forwarder of every island but the origin's that joined
 * the channel: one copy per island at most. Returns how many. */
static size_t hub_deliver_local(struct hub *h, struct hub_channel *hc,
				struct buf *b, size_t hlen,
				const struct frame_data *d,
				const struct conn *from, const char *island)
{
	size_t sent = 0;

	for (size_t i = 0; i < hc->ndfs; i++) {
		struct conn *c = hc->dfs[i].df;

		if (!c || c == from || !link_ready(c) ||
		    !strcmp(hc->dfs[i].island, island) ||
		    !chantab_subs_has(&hc->e->subs, c->id))
			continue;
		if (hub_link_send(h, c, b, hlen, d->len) < 0) {
			hc->dropped++;
			continue;
		}
		hc->out++;
		sent++;
	}
	return sent;
}

static void hub_route_mesh(struct hub *h, struct conn *from,
			   struct frame_data *d);


static void hub_route(struct hub *h, struct conn *from, const struct frame *f)
{
	struct hub_link *lf = link_of(from);
	struct frame_data d;
	struct hub_channel *hc;
	struct buf *b;
	size_t hlen, sent;

	if (frame_data_decode(f, &d) < 0) {
		conn_close(from, "bad-frame");
		return;
	}
	lf->in++;
	if (lf->mesh) {
		hub_route_mesh(h, from, &d);
		return;
	}
	/* Origins are bound to links: a link speaks for its own node id
	 * (its HELLO's) only, so nobody can fill another origin's
	 * duplicate window (a sequence of 2^63 would silence it). */
	if (d.origin != from->peer_hello.node_id && !lf->peer) {
		h->forged_drops++;
		lf->dropped++;
		if (!lf->forged_logged) {
			lf->forged_logged = true;
			log_warn("hub=%s c=%u forged origin dropped peer=%s "
				 "node=%016llx origin=%016llx (logged once "
				 "per link)",
				 h->name, from->id, from->peer,
				 (unsigned long long)from->peer_hello.node_id,
				 (unsigned long long)d.origin);
		}
		return;
	}
	/* With an ACL, DATA only for what the link may and did EXPORT. */
	if (h->acl_path && !chantab_find(&lf->exports, &d.ch)) {
		h->acl_drops++;
		lf->dropped++;
		return;
	}
	hc = hub_channel_find(h, &d.ch);
	if (!hc) {
		/* Data never makes channel state: only JOIN and EXPORT do. */
		lf->dropped++;
		h->unknown_drops++;
		return;
	}
	hc->in++;
	if (d.hops >= HUB_MAX_HOPS) {
		h->hop_drops++;
		hc->dropped++;
		return;
	}
	if (hub_forwarder(hc, from->peer_hello.island) != from) {
		/* A standby gateway of the island: its forwarder speaks. */
		hc->standby++;
		return;
	}
	if (dedup_check(&h->dedup, d.origin, 0, d.seq,
			uv_now(h->node->loop)) != DEDUP_NEW) {
		hc->duplicates++;
		h->dup_drops++;
		return;
	}
	/* One copy for every destination: the forwarded header goes in the
	 * headroom, the payload in the buffer. */
	b = buf_get(&h->node->pool, d.len);
	hlen = frame_data_forward(b->data - frame_data_header_len(d.ch.family),
				  &d);
	memcpy(b->data, d.payload, d.len);
	b->len = d.len;
	sent = hub_deliver_local(h, hc, b, hlen, &d, from,
				 from->peer_hello.island);
	/* And down our own tree into the mesh. */
	if (h->db.n > 1)
		sent += mesh_forward(h, b, hlen, &d,
				     lsdb_index(&h->db, h->node->node_id),
				     from->peer_hello.island, from);
	if (!sent)
		h->no_interest_drops++;
	buf_unref(b);
}

/* DATA from another hub: any origin (it relays others'), routed down the
 * tree of the hub the origin attached to; delivered here to the islands
 * that joined, never to the origin's own island. The checks, in order:
 * hop limit, origin known, reverse path (the sender is our parent in the
 * tree of a hub the origin attached to), duplicate; each drop is
 * counted by its reason. */
static void hub_route_mesh(struct hub *h, struct conn *from,
			   struct frame_data *d)
{
	const struct route_origin *o;
	struct hub_channel *hc;
	uint64_t now = uv_now(h->node->loop);
	long root = -1;
	struct buf *b;
	size_t hlen, sent = 0;

	h->mesh_in++;
	if (d->hops >= HUB_MAX_HOPS) {
		h->hop_drops++;
		return;
	}
	o = mesh_origin(h, d->origin);
	if (!o->known) {
		/* Not in our database (yet): we cannot tell its island, so
		 * it could go back there. */
		h->mesh_unknown++;
		return;
	}
	for (size_t k = 0; k < o->nroots && root < 0; k++)
		if (o->has_parent[k] && o->parent[k] == from->peer_hello.node_id)
			root = o->root_index[k];
	if (root < 0) {
		/* Not on the tree. Once the topology has settled that is a
		 * peer's mistake (or a loop): dropped before the duplicate
		 * window sees it, so the copy our parent sends still counts.
		 * While trees move, the sender may know better: accepted,
		 * down the first root's tree. */
		if (now - h->last_topo_change >= HUB_ROUTE_SETTLE_MS) {
			h->not_on_tree_drops++;
			return;
		}
		h->not_on_tree_accepted++;
		root = o->root_index[0];
	}
	if (dedup_check(&h->dedup, d->origin, 0, d->seq, now) != DEDUP_NEW) {
		h->mesh_dups++;
		h->dup_drops++;
		if ((hc = hub_channel_find(h, &d->ch)))
			hc->duplicates++;
		return;
	}
	b = buf_get(&h->node->pool, d->len);
	hlen = frame_data_forward(b->data - frame_data_header_len(d->ch.family),
				  d);
	memcpy(b->data, d->payload, d->len);
	b->len = d->len;
	if ((hc = hub_channel_find(h, &d->ch))) {
		hc->in++;
		sent += hub_deliver_local(h, hc, b, hlen, d, from, o->island);
	}
	sent += mesh_forward(h, b, hlen, d, root, o->island, from);
	if (!sent)
		h->no_interest_drops++;
	buf_unref(b);
}

/* ---- interest -------------------------------------------------------- */

/* Take link c out of hc's sets (both) and hc out of c's. */
static void hub_channel_drop_link(struct hub_channel *hc, struct conn *c)
{
	struct hub_link *l = link_of(c);
	struct chantab_entry *pe;

	chantab_subs_del(&hc->e->subs, c->id);
	chantab_subs_del(&hc->exporters, c->id);
	if ((pe = chantab_find(&l->interest, &hc->e->ch)))
		chantab_del(&l->interest, pe);
	if ((pe = chantab_find(&l->exports, &hc->e->ch)))
		chantab_del(&l->exports, pe);
}

/* A JOIN or EXPORT over the link's or the hub's cap: an ERROR frame of
 * code REFUSED tells the peer, the link and its channels stay; counted,
 * logged at most once a second. */
static void hub_refuse(struct hub *h, struct conn *c, const char *what,
		       const char *name)
{
	uint8_t out[FRAME_HDR_LEN + 2 + 128];
	char text[128];
	uint64_t now = uv_now(h->node->loop);
	size_t n;

	h->refused_channels++;
	snprintf(text, sizeof(text), "too-many-channels: %s %s refused", what,
		 name);
	n = frame_encode_error(out, sizeof(out), FRAME_ERRCODE_REFUSED, text);
	if (n && conn_send_bytes(c, out, n) == 0)
		conn_kick(c);
	if (h->refused_at && now - h->refused_at < 1000)
		return;
	log_warn("hub=%s c=%u %s channel=%s refused reason=too-many-channels "
		 "refused=%llu since_last=%llu",
		 h->name, c->id, what, name,
		 (unsigned long long)h->refused_channels,
		 (unsigned long long)(h->refused_channels - h->refused_logged));
	h->refused_logged = h->refused_channels;
	h->refused_at = now ? now : 1;
}

/* JOIN, LEAVE, EXPORT, UNEXPORT: update the sets, re-elect. */
static void hub_interest(struct hub *h, struct conn *c, const struct frame *f)
{
	struct hub_link *l = link_of(c);
	bool join = f->type == FRAME_JOIN || f->type == FRAME_EXPORT;
	bool exp = f->type == FRAME_EXPORT || f->type == FRAME_UNEXPORT;
	struct chantab *mine = exp ? &l->exports : &l->interest;
	struct chantab_entry *pe;
	struct hub_channel *hc;
	struct channel ch;
	char name[CHANNEL_TEXT_MAX];
	const char *verb;
	int rc;

	if (frame_channel_decode(f, &ch, NULL) < 0) {
		conn_close(c, "bad-frame");
		return;
	}
	channel_format(&ch, name, sizeof(name));
	verb = f->type == FRAME_JOIN	 ? "join"
	       : f->type == FRAME_LEAVE	 ? "leave"
	       : f->type == FRAME_EXPORT ? "export"
					 : "unexport";
	if (join) {
		rc = chantab_insert(mine, &ch, &pe);
		if (rc == -EEXIST)
			return;
		if (rc < 0) {
			hub_refuse(h, c, verb, name);
			return;
		}
		hc = hub_channel_get(h, &ch);
		if (!hc) {
			chantab_del(mine, pe);
			hub_refuse(h, c, verb, name);
			return;
		}
		pe->data = hc;
		chantab_subs_add(exp ? &hc->exporters : &hc->e->subs, c->id);
		log_info("hub=%s c=%u island=%s %s channel=%s", h->name, c->id,
			 c->peer_hello.island, verb, name);
	} else {
		pe = chantab_find(mine, &ch);
		if (!pe)
			return;
		hc = pe->data;
		log_info("hub=%s c=%u island=%s %s channel=%s", h->name, c->id,
			 c->peer_hello.island, verb, name);
		chantab_del(mine, pe);
		chantab_subs_del(exp ? &hc->exporters : &hc->e->subs, c->id);
	}
	hub_elect(h, hc, c->peer_hello.island);
	hub_channel_gc(h, hc);
	hub_mesh_changed(h);
}

/* Link c is gone (off the list): take it out of every channel it wanted,
 * moving their forwarders and dropping channels nobody wants now. */
static void hub_link_forget(struct hub *h, struct conn *c)
{
	struct hub_link *l = link_of(c);
	struct chantab *sets[2] = { &l->interest, &l->exports };

	for (size_t k = 0; k < 2; k++) {
		struct chantab_iter it;
		struct chantab_entry *pe;

		while ((pe = chantab_first(sets[k], &it))) {
			struct hub_channel *hc = pe->data;

			hub_channel_drop_link(hc, c);
			if (c->hello_seen && !h->closing) {
				hub_elect(h, hc, c->peer_hello.island);
			} else {
				for (size_t i = 0; i < hc->ndfs; i++)
					if (hc->dfs[i].df == c)
						hc->dfs[i].df = NULL;
			}
			hub_channel_gc(h, hc);
		}
	}
}

static void hub_on_frame(struct conn *c, const struct frame *f)
{
	struct hub_link *l = link_of(c);
	struct hub *h = l->hub;
	size_t n;

	if (l->mesh) {
		switch (f->type) {
		case FRAME_DATA:
			hub_route(h, c, f);
			break;
		case FRAME_LSA:
			mesh_on_lsa(h, c, f);
			break;
		case FRAME_DBSUM:
			mesh_on_dbsum(h, c, f);
			break;
		default:
			conn_close(c, "bad-frame-type");
			break;
		}
		return;
	}
	switch (f->type) {
	case FRAME_DATA:
		hub_route(h, c, f);
		break;
	case FRAME_JOIN:
	case FRAME_LEAVE:
	case FRAME_EXPORT:
	case FRAME_UNEXPORT:
		if (hub_authorized(h, c, f))
			hub_interest(h, c, f);
		break;
	case FRAME_EMITTERS:
		if (frame_emitters_decode(f, l->emitters, &n) < 0) {
			conn_close(c, "bad-frame");
			break;
		}
		l->nemitters = n;
		hub_share_emitters(h, c->peer_hello.island);
		break;
	default:
		conn_close(c, "bad-frame-type");
		break;
	}
}

/* Write to the links reads queued data for (hub_route lists them), not
 * to every link: a read costs its destinations, not N. */
static void hub_kick_all(struct hub *h)
{
	struct conn *c;

	uint64_t now = uv_hrtime();

	while ((c = h->kicks)) {
		struct hub_link *l = link_of(c);

		h->kicks = l->kick_next;
		l->kick_next = NULL;
		l->kick = false;
		l->kicked_at = now;
		conn_kick(c);
	}
}

static void hub_on_pace(uv_timer_t *t)
{
	hub_kick_all(t->data);
}

/* A read ends: a link with HUB_PACE_BYTES waiting is written now; the
 * others within HUB_PACE_MS, with what the reads of every link queued
 * meanwhile, so a destination gets one write for many reads (a read is
 * often one TCP segment of a few datagrams). */
static void hub_on_read_end(struct conn *from)
{
	struct hub *h = link_of(from)->hub;
	struct conn **pp = &h->kicks;
	uint64_t now = uv_hrtime();

	while (*pp) {
		struct conn *c = *pp;
		struct hub_link *l = link_of(c);

		if (c->q.bytes < HUB_PACE_BYTES && h->pace.loop &&
		    now - l->kicked_at < HUB_PACE_MS * 1000000ull) {
			pp = &l->kick_next;
			continue;
		}
		*pp = l->kick_next;
		l->kick_next = NULL;
		l->kick = false;
		l->kicked_at = now;
		conn_kick(c);
	}
	if (h->kicks && !uv_is_active((uv_handle_t *)&h->pace) && !h->closing)
		uv_timer_start(&h->pace, hub_on_pace, HUB_PACE_MS, 0);
}

static void hub_on_hello(struct conn *c)
{
	struct hub_link *l = link_of(c);
	struct hub *h = l->hub;
	char id[256], island[4 * FRAME_ISLAND_MAX + 8], text[128];

	if (c->peer_hello.role == FRAME_ROLE_HUB) {
		/* Another hub: an adjacency of the mesh. With an ACL only an
		 * identity that is a `peer` may be one (it relays others'
		 * origins). */
		if (c->peer_hello.node_id == h->node->node_id) {
			conn_close(c, "self");
			return;
		}
		if (h->acl_path && !acl_is_peer(&h->acl, c->link->identity)) {
			l->refused = true;
			hub_send_error(c, FRAME_ERRCODE_ISLAND,
				       "island-refused: this identity is not "
				       "a peer hub");
			conn_close(c, "peer-refused");
			return;
		}
		/* A datagram goes to at most ROUTE_KIDS_MAX children: as many
		 * adjacencies at most, so none is ever left out unseen. */
		{
			size_t nmesh = 0;

			for (struct conn *o = h->links; o; o = o->next)
				nmesh += o != c && link_of(o)->mesh;
			if (nmesh >= ROUTE_KIDS_MAX) {
				l->refused = true;
				h->refused_hub_links++;
				log_warn("hub=%s c=%u hub link refused peer=%s "
					 "reason=too-many-hub-links links=%zu",
					 h->name, c->id, c->peer, nmesh);
				hub_send_error(c, FRAME_ERRCODE_REFUSED,
					       "too-many-hub-links: this hub "
					       "has its most adjacencies");
				conn_close(c, "too-many-hub-links");
				return;
			}
		}
		l->mesh = true;
		l->peer = true;
		l->last_ping = uv_now(h->node->loop);
		if (!l->cost)
			l->cost = LSA_COST_DEFAULT;
		log_info("hub=%s c=%u hub up peer=%s node=%016llx name=%s "
			 "cost=%u identity=%s",
			 h->name, c->id, c->peer,
			 (unsigned long long)c->peer_hello.node_id,
			 log_value(c->peer_hello.island, island,
				   sizeof(island)),
			 l->cost, log_value(c->link->identity, id, sizeof(id)));
		hub_event(h, "{\"event\":\"link.up\",\"link\":%u,"
			     "\"node\":\"%016llx\",\"cost\":%u}",
			  c->id, (unsigned long long)c->peer_hello.node_id,
			  l->cost);
		hub_link_register(h, c);
		mesh_trigger(h, "link.up", uv_now(h->node->loop),
			     c->peer_hello.node_id);
		mesh_send_dbsum(h, c);
		hub_mesh_changed(h);
		return;
	}

	if (c->peer_hello.role == FRAME_ROLE_GATEWAY && !hub_island_ok(h, c)) {
		/* Refused before it is anybody's forwarder or emitter. */
		h->island_refused++;
		l->refused = true;
		log_warn("hub=%s c=%u island refused island=%s identity=%s "
			 "peer=%s node=%016llx",
			 h->name, c->id,
			 log_value(c->peer_hello.island, island,
				    sizeof(island)),
			 log_value(c->link->identity, id, sizeof(id)), c->peer,
			 (unsigned long long)c->peer_hello.node_id);
		snprintf(text, sizeof(text),
			 "island-refused: this identity may not speak for "
			 "island %.64s", c->peer_hello.island);
		hub_send_error(c, FRAME_ERRCODE_ISLAND, text);
		conn_close(c, "island-refused");
		return;
	}
	l->peer = h->acl_path && acl_is_peer(&h->acl, c->link->identity);
	if (c->peer_hello.role == FRAME_ROLE_RELAY) {
		/* A relay publishing or subscribing one channel: an island
		 * of its own, so it is its channel's forwarder. */
		snprintf(c->peer_hello.island, sizeof(c->peer_hello.island),
			 "relay:%016llx",
			 (unsigned long long)c->peer_hello.node_id);
	} else if (c->peer_hello.role != FRAME_ROLE_GATEWAY) {
		conn_close(c, "bad-role");
		return;
	}
	log_info("hub=%s c=%u %s up peer=%s island=%s node=%016llx "
		 "identity=%s%s",
		 h->name, c->id,
		 c->peer_hello.role == FRAME_ROLE_RELAY ? "relay" : "gateway",
		 c->peer,
		 log_value(c->peer_hello.island, island, sizeof(island)),
		 (unsigned long long)c->peer_hello.node_id,
		 log_value(c->link->identity, id, sizeof(id)),
		 l->peer ? " peer=yes" : "");
	hub_link_register(h, c);
	hub_mesh_changed(h);
}

/* ---- lifetime -------------------------------------------------------- */

static void hub_free(struct hub *h)
{
	struct chantab_iter it;
	struct chantab_entry *e;

	while ((e = chantab_first(&h->chans, &it)))
		hub_channel_free(h, e->data);
	chantab_exit(&h->chans);
	dedup_exit(&h->dedup);
	for (size_t k = 0; k < h->ntrees; k++)
		spf_tree_free(&h->trees[k]);
	free(h->trees);
	lsdb_exit(&h->db);
	route_cache_exit(&h->rc);
	free(h->reach);
	acl_free(&h->acl);
	free(h->acl_path);
	stats_remove_owner(&h->node->stats, h);
	free(h->cand);
	free(h->cand_conn);
	free(h->peer_uris);
	free(h->control_path);
	free(h->name);
	free(h->listen);
	free(h->listeners);
	free(h);
}

/* A handle of h has closed: the last one frees a stopped hub. */
static void hub_release(struct hub *h)
{
	if (--h->handles == 0 && h->closing)
		hub_free(h);
}

/* Link c has closed: unlink it, fail its channels over, free its state. */
static void hub_link_closed(struct conn *c)
{
	struct hub_link *l = link_of(c);
	struct hub *h = l->hub;

	conn_list_del(&h->links, c);
	if (l->mesh)
		h->rgen++;        /* the route cache may point at it */
	if (l->kick) {
		struct conn **pp = &h->kicks;

		while (*pp != c)
			pp = &link_of(*pp)->kick_next;
		*pp = l->kick_next;
	}
	/* The link is off the list, so its channels fail over. */
	hub_link_forget(h, c);
	if (c->hello_seen && !l->refused && !h->closing && !l->mesh)
		hub_share_emitters(h, c->peer_hello.island);
	if (l->mesh && !h->closing) {
		if (c->hello_seen)
			mesh_trigger(h, "link.down", uv_now(h->node->loop),
				     c->peer_hello.node_id);
		log_info("hub=%s c=%u hub down node=%016llx", h->name, c->id,
			 (unsigned long long)c->peer_hello.node_id);
		hub_event(h, "{\"event\":\"link.down\",\"link\":%u,"
			     "\"node\":\"%016llx\"}",
			  c->id, (unsigned long long)c->peer_hello.node_id);
	}
	if (c->hello_seen && !l->refused)
		hub_mesh_changed(h);
	if (l->registered)
		stats_remove_owner(&h->node->stats, l);
	chantab_exit(&l->interest);
	chantab_exit(&l->exports);
	free(l);
}

static void hub_on_closed(struct conn *c)
{
	struct hub *h = link_of(c)->hub;

	hub_link_closed(c);
	hub_release(h);
}

static struct hub_link *hub_link_new(struct hub *h, uint32_t cost)
{
	struct hub_link *l = xcalloc(1, sizeof(*l));

	l->hub = h;
	l->cost = cost ? cost : LSA_COST_DEFAULT;
	chantab_init(&l->interest, HUB_LINK_MAX_CHANNELS);
	chantab_init(&l->exports, HUB_LINK_MAX_CHANNELS);
	return l;
}

static const struct conn_handler hub_handler = {
	.on_frame = hub_on_frame,
	.on_read_end = hub_on_read_end,
	.on_hello = hub_on_hello,
	.on_closed = hub_on_closed,
};

static struct conn *hub_on_accept(struct listener *ls, struct link *lk)
{
	struct hub *h = ls->data;
	const struct uri *u = ls->conf.uri;
	struct conn_conf cf = {
		.what = "link",
		.framing = FRAMING_DATAGRAM,
		.rx_framed = CONN_RX_FRAMES,
		.queue = u->queue ? u->queue : URI_DEFAULT_QUEUE,
		.sndbuf = u->sndbuf ? u->sndbuf : HUB_LINK_SNDBUF,
		.rcvbuf = u->rcvbuf,
	};
	struct conn *c = conn_new(&h->own, lk, &cf, &hub_handler, h);
	struct hub_link *l = hub_link_new(h, u->cost);

	l->cost_own = u->cost != 0;

	c->data = l;
	conn_list_add(&h->links, c);
	h->handles++;
	return c;
}

/* ---- peers: links this hub dials -------------------------------------- */

/* A dialed conn is up: from now on it is a link like an accepted one
 * (its data is a struct hub_link; the dialer keeps it up). */
static void hub_peer_on_connect(struct conn *c, int status)
{
	struct hub_peer *p = c->data;
	struct hub_link *l;

	if (status < 0)
		return;
	l = hub_link_new(p->h, p->cost);
	l->cost_own = true;
	l->dpeer = p;
	l->draining = p->draining;
	p->cur = c;
	c->data = l;
	conn_list_add(&p->h->links, c);
}

static void hub_peer_on_closed(struct conn *c)
{
	const struct dialer *d = c->owner; /* a dialer's conn */
	struct hub_link *l;
	struct hub_peer *p;

	/* A conn that never connected still has the peer as its data; a
	 * connected one has its hub_link (hub_peer_on_connect). */
	if (c->data == NULL || c->data == d->conf.owner)
		return;
	l = link_of(c);
	p = l->dpeer;
	p->cur = NULL;
	hub_link_closed(c);
}

static const struct conn_handler hub_peer_handler = {
	.on_connect = hub_peer_on_connect,
	.on_frame = hub_on_frame,
	.on_read_end = hub_on_read_end,
	.on_hello = hub_on_hello,
	.on_closed = hub_peer_on_closed,
};

static void hub_peer_on_stopped(struct dialer *d)
{
	struct hub_peer *p = d->conf.owner;
	struct hub *h = p->h;
	struct hub_peer **pp = &h->peers;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	free(p);
	hub_release(h);
}

int hub_peer_add(struct hub *h, const struct uri *u, char *err,
		 size_t errlen)
{
	struct hub_peer *p;
	struct dialer_conf dc = {
		.conn = { .what = "peer",
			  .framing = FRAMING_DATAGRAM,
			  .rx_framed = CONN_RX_FRAMES,
			  .queue = u->queue ? u->queue : URI_DEFAULT_QUEUE,
			  .sndbuf = u->sndbuf ? u->sndbuf : HUB_LINK_SNDBUF,
			  .rcvbuf = u->rcvbuf },
		.keepalive = false, /* the mesh's heartbeat, hub_on_mtick */
		.max_backoff_ms = 1000,
		.user = &hub_peer_handler,
		.on_stopped = hub_peer_on_stopped,
	};
	int rc;

	for (p = h->peers; p; p = p->next)
		if (!p->draining && !strcmp(p->uri.text, u->text))
			return 1; /* there already: idempotent */
	p = xcalloc(1, sizeof(*p));
	p->h = h;
	p->uri = *u;
	p->cost = u->cost ? u->cost : LSA_COST_DEFAULT;
	p->id = ++h->next_peer_id;
	dc.uri = &p->uri;
	dc.owner = p;
	rc = dialer_start(&p->d, &h->own, &dc, err, errlen);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p->next = h->peers;
	h->peers = p;
	h->handles++;
	log_info("hub=%s peer=%s cost=%u dialing", h->name, p->uri.text,
		 p->cost);
	return 0;
}

static void hub_on_listener_closed(struct listener *ls)
{
	hub_release(ls->data);
}

static void hub_on_timer_closed(uv_handle_t *t)
{
	hub_release(t->data);
}

/* Every tick: close links gone silent, ping the others, forget origins
 * long silent. */
static void hub_on_keepalive(uv_timer_t *t)
{
	struct hub *h = t->data;
	uint64_t now = uv_now(t->loop);

	for (struct conn *c = h->links; c; c = c->next)
		conn_keepalive(c, now);
	(void)dedup_expire(&h->dedup, now, HUB_ORIGIN_IDLE_MS);
}

struct hub *hub_new(struct node *node, const char *name,
		    const struct uri *listen, size_t nlisten, const char *acl)
{
	struct hub *h = xcalloc(1, sizeof(*h));
	int rc;

	h->node = node;
	h->name = xstrdup(name);
	h->acl_path = acl && acl[0] ? xstrdup(acl) : NULL;
	h->own = (struct conn_owner){
		.node = node,
		.kind = "hub",
		.name = h->name,
		.island = "",
		.role = FRAME_ROLE_HUB,
		.out_dgrams = &h->out_dgrams,
		.out_bytes = &h->out_bytes,
		.clients = &h->nlinks,
		.reconnects = &h->reconnects,
	};
	h->listen = xmalloc(nlisten * sizeof(*listen));
	memcpy(h->listen, listen, nlisten * sizeof(*listen));
	h->nlisten = nlisten;
	h->listeners = xcalloc(nlisten, sizeof(*h->listeners));
	chantab_init(&h->chans, HUB_MAX_CHANNELS);
	rc = dedup_init(&h->dedup, HUB_DEDUP_WINDOW, HUB_MAX_ORIGINS);
	if (rc < 0)
		fatal(1, "hub=%s duplicate window: %s", name, strerror(-rc));
	lsdb_init(&h->db);
	route_cache_init(&h->rc, HUB_ROUTE_ORIGINS, HUB_ROUTE_ROUTES);
	h->rgen = 1;
	h->hb_ms = HUB_HEARTBEAT_MS;
	return h;
}

int hub_start(struct hub *h, char *err, size_t errlen)
{
	uv_loop_t *loop = h->node->loop;

	if (h->acl_path) {
		int rc = hub_acl_read(h, &h->acl, err, errlen);

		if (rc < 0)
			return rc;
		log_info("hub=%s acl=%s rules=%zu", h->name, h->acl_path,
			 h->acl.n);
	}
	/* Here, not in hub_new: main.c sets the registry up after it has
	 * made the services, just before it starts them. */
	hub_register(h);
	uv_timer_init(loop, &h->keepalive);
	h->keepalive.data = h;
	h->handles++;
	uv_timer_start(&h->keepalive, hub_on_keepalive, FRAME_TICK_MS,
		       FRAME_TICK_MS);
	uv_timer_init(loop, &h->orig);
	h->orig.data = h;
	h->handles++;
	uv_timer_init(loop, &h->mtick);
	h->mtick.data = h;
	h->handles++;
	uv_timer_init(loop, &h->pace);
	h->pace.data = h;
	h->handles++;
	uv_timer_start(&h->mtick, hub_on_mtick, h->hb_ms / 5 ? h->hb_ms / 5 : 1,
		       h->hb_ms / 5 ? h->hb_ms / 5 : 1);
	/* A mesh of one from the start: our LSA, then whatever comes. */
	mesh_originate(h);
	if (h->control_path) {
		h->ctl = control_open(h->node, h->control_path, hub_ctl, h, err,
				      errlen);
		if (!h->ctl)
			return -EADDRINUSE;
		h->on_event = hub_on_ctl_event;
		h->event_arg = h->ctl;
	}
	for (size_t i = 0; i < h->npeer_uris; i++) {
		int rc = hub_peer_add(h, &h->peer_uris[i], err, errlen);

		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < h->nlisten; i++) {
		struct listener *ls = &h->listeners[i];
		int rc;

		ls->kind = "hub";
		ls->name = h->name;
		ls->max_conns = HUB_MAX_CONNS;
		ls->on_accept = hub_on_accept;
		ls->on_closed = hub_on_listener_closed;
		ls->data = h;
		rc = listener_open(ls, loop, &h->listen[i], false, err, errlen);
		if (ls->handles > 0)
			h->handles++;
		if (rc < 0)
			return rc;
	}
	return 0;
}

void hub_stop(struct hub *h)
{
	if (h->closing)
		return;
	h->closing = true;
	if (h->keepalive.loop) /* initialised: start got that far */
		uv_close((uv_handle_t *)&h->keepalive, hub_on_timer_closed);
	if (h->orig.loop) {
		uv_close((uv_handle_t *)&h->orig, hub_on_timer_closed);
		uv_close((uv_handle_t *)&h->mtick, hub_on_timer_closed);
	}
	if (h->pace.loop)
		uv_close((uv_handle_t *)&h->pace, hub_on_timer_closed);
	for (struct hub_peer *p = h->peers; p; p = p->next)
		dialer_stop(&p->d);
	control_close(h->ctl);
	h->ctl = NULL;
	h->on_event = NULL;
	for (size_t i = 0; i < h->nlisten; i++)
		listener_close(&h->listeners[i]);
	for (struct conn *c = h->links; c; c = c->next)
		conn_close(c, "shutdown");
	if (h->handles == 0)
		hub_free(h);
}

void hub_reload(struct hub *h)
{
	char err[768];
	struct acl next;

	if (h->closing)
		return;
	for (size_t i = 0; i < h->nlisten; i++) {
		struct listener *ls = &h->listeners[i];
		int rc;

		if (ls->closing)
			continue;
		rc = link_conf_reload(&ls->conf, err, sizeof(err));
		if (rc < 0)
			log_error("hub=%s uri=%s certificates not reloaded, "
				  "keeping the old ones: %s",
				  h->name, h->listen[i].text, err);
		else if (rc > 0)
			log_info("hub=%s uri=%s certificates reloaded",
				 h->name, h->listen[i].text);
	}
	if (!h->acl_path)
		return;
	if (hub_acl_read(h, &next, err, sizeof(err)) < 0) {
		log_error("hub=%s acl not reloaded, keeping the old one: %s",
			  h->name, err);
		return;
	}
	acl_free(&h->acl);
	h->acl = next;
	log_info("hub=%s acl=%s reloaded rules=%zu", h->name, h->acl_path,
		 h->acl.n);
}

static void hub_log_owner(const struct hub *h, const void *owner,
			  struct stats_text *t)
{
	stats_text_reset(t);
	stats_render_line(&h->node->stats, owner, t);
	if (t->len)
		log_stats("%s", t->data);
}

void hub_log_stats(const struct hub *h)
{
	struct stats_text t = { 0 };
	struct chantab_iter it;

	hub_log_owner(h, h, &t);
	for (struct chantab_entry *e = chantab_first(&h->chans, &it); e;
	     e = chantab_next(&it))
		hub_log_owner(h, e->data, &t);
	for (const struct conn *c = h->links; c; c = c->next)
		hub_log_owner(h, c->data, &t);
	stats_text_free(&t);
}

void hub_set_mesh(struct hub *h, const struct uri *peers, size_t n,
		  uint32_t heartbeat_ms)
{
	h->peer_uris = xmalloc((n ? n : 1) * sizeof(*peers));
	if (n)
		memcpy(h->peer_uris, peers, n * sizeof(*peers));
	h->npeer_uris = n;
	if (heartbeat_ms)
		h->hb_ms = heartbeat_ms;
}

/* ---- the control API (control.h, docs/mesh.md) ----------------------- */

static struct conn *hub_link_by_id(struct hub *h, const char *id)
{
	char *e;
	unsigned long v = id ? strtoul(id, &e, 10) : 0;

	if (!id || *e)
		return NULL;
	for (struct conn *c = h->links; c; c = c->next)
		if (c->id == v)
			return c;
	return NULL;
}

static void hub_ctl_links(struct hub *h, struct stats_text *t)
{
	bool first = true;

	stats_text_puts(t, ",\"links\":[");
	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l = link_of(c);

		if (!link_ready(c))
			continue;
		control_printf(t, "%s{\"link\":%u,\"kind\":\"%s\",\"peer\":",
			       first ? "" : ",", c->id,
			       l->mesh ? "hub"
			       : c->peer_hello.role == FRAME_ROLE_RELAY ? "relay"
									 : "gateway");
		control_json_str(t, c->peer);
		control_printf(t, ",\"node\":\"%016llx\",\"name\":",
			       (unsigned long long)c->peer_hello.node_id);
		if (l->mesh) {
			/* A hub's HELLO has no island: its LSA has a name. */
			const struct lsa *a = lsdb_find(&h->db,
							c->peer_hello.node_id);

			control_json_str(t, a ? a->name : "");
		} else {
			control_json_str(t, c->peer_hello.island);
		}
		control_printf(t, ",\"cost\":%u,\"draining\":%s,"
			       "\"dialed\":%s,\"in\":%llu,\"out\":%llu}",
			       l->mesh ? l->cost : 0,
			       l->draining ? "true" : "false",
			       l->dpeer ? "true" : "false",
			       (unsigned long long)l->in,
			       (unsigned long long)l->out);
		first = false;
	}
	stats_text_puts(t, "],\"peers\":[");
	first = true;
	for (struct hub_peer *p = h->peers; p; p = p->next) {
		control_printf(t, "%s{\"uri\":", first ? "" : ",");
		control_json_str(t, p->uri.text);
		control_printf(t, ",\"cost\":%u,\"up\":%s,\"link\":%u}",
			       p->cost, p->cur ? "true" : "false",
			       p->cur ? p->cur->id : 0);
		first = false;
	}
	stats_text_puts(t, "]");
}

static void hub_ctl_lsa(const struct lsa *a, struct stats_text *t)
{
	char name[CHANNEL_TEXT_MAX];

	control_printf(t, "{\"node\":\"%016llx\",\"epoch\":%llu,\"seq\":%llu,"
		       "\"name\":",
		       (unsigned long long)a->node,
		       (unsigned long long)a->epoch,
		       (unsigned long long)a->seq);
	control_json_str(t, a->name);
	stats_text_puts(t, ",\"links\":[");
	for (size_t i = 0; i < a->nlinks; i++)
		control_printf(t, "%s{\"node\":\"%016llx\",\"cost\":%u}",
			       i ? "," : "",
			       (unsigned long long)a->links[i].node,
			       a->links[i].cost);
	stats_text_puts(t, "],\"members\":[");
	for (size_t i = 0; i < a->nmembers; i++) {
		const struct lsa_member *m = &a->members[i];

		control_printf(t, "%s{\"node\":\"%016llx\",\"island\":",
			       i ? "," : "", (unsigned long long)m->node);
		control_json_str(t, m->island);
		stats_text_puts(t, ",\"exports\":[");
		for (size_t k = 0; k < (size_t)m->nexports + m->nwants; k++) {
			if (k == m->nexports)
				stats_text_puts(t, "],\"wants\":[");
			else if (k)
				stats_text_puts(t, ",");
			channel_format(&m->chans[k], name, sizeof(name));
			control_json_str(t, name);
		}
		if (m->nwants == 0)
			stats_text_puts(t, "],\"wants\":[");
		stats_text_puts(t, "]}");
	}
	stats_text_puts(t, "]}");
}

/* routes.get: the database and its digest; with root= (a node id in hex)
 * the tree of that root, and with channel= too, pruned to the hubs of
 * the forwarders of the islands (other than island=, default none) that
 * want the channel, as the data path prunes it. */
static int hub_ctl_routes(struct hub *h, const struct control_req *r,
			  struct stats_text *t, char *err, size_t errlen)
{
	const char *root = control_arg(r, "root"),
		   *chs = control_arg(r, "channel"),
		   *island = control_arg(r, "island");
	struct channel ch;
	long ri;

	control_printf(t, ",\"node\":\"%016llx\",\"digest\":\"%016llx\","
		       "\"nodes\":%zu,\"database\":[",
		       (unsigned long long)h->node->node_id,
		       (unsigned long long)lsdb_digest(&h->db), h->db.n);
	for (size_t i = 0; i < h->db.n; i++) {
		if (i)
			stats_text_puts(t, ",");
		hub_ctl_lsa(h->db.v[i], t);
	}
	stats_text_puts(t, "]");
	if (!root)
		root = "self";
	ri = strcmp(root, "self") ? lsdb_index(&h->db, strtoull(root, NULL, 16))
				  : lsdb_index(&h->db, h->node->node_id);
	if (ri < 0) {
		snprintf(err, errlen, "no node '%s' in the database", root);
		return -1;
	}
	if (chs && channel_parse(chs, &ch, err, errlen) < 0)
		return -1;
	{
		const bool *reach = mesh_reach(h);
		const struct spf_tree *tr = mesh_tree(h, ri);
		bool *keep = xcalloc(h->db.n + 1, sizeof(*keep));

		/* What the data path uses (mesh_route): pruned to the hubs
		 * of the other islands' forwarders. */
		if (chs) {
			route_keep(&h->db, reach, &ch, island, keep);
			spf_prune(tr, keep);
		}
		control_printf(t, ",\"root\":\"%016llx\",\"tree\":[",
			       (unsigned long long)h->db.v[ri]->node);
		for (size_t i = 0, first = 1; i < h->db.n; i++) {
			if (tr->dist[i] == SPF_UNREACHABLE || (chs && !keep[i]))
				continue;
			control_printf(t, "%s{\"node\":\"%016llx\",\"name\":",
				       first ? "" : ",",
				       (unsigned long long)h->db.v[i]->node);
			control_json_str(t, h->db.v[i]->name);
			if (tr->parent[i] >= 0)
				control_printf(t, ",\"parent\":\"%016llx\"",
					       (unsigned long long)
						       h->db.v[tr->parent[i]]->node);
			control_printf(t, ",\"dist\":%llu}",
				       (unsigned long long)tr->dist[i]);
			first = 0;
		}
		stats_text_puts(t, "]");
		free(keep);
	}
	return 0;
}

static int hub_ctl(void *arg, const struct control_req *r,
		   struct stats_text *t, char *err, size_t errlen)
{
	struct hub *h = arg;
	const char *id = control_arg(r, "link"), *cost = control_arg(r, "cost");
	struct conn *c;
	unsigned long v = 0;

	if (cost) {
		char *e;

		v = strtoul(cost, &e, 10);
		if (*e || v < 1 || v >= LSA_COST_INF) {
			snprintf(err, errlen, "bad cost '%s': want 1..%u", cost,
				 LSA_COST_INF - 1);
			return -1;
		}
	}
	if (!strcmp(r->op, "node.info")) {
		control_printf(t, ",\"role\":\"hub\",\"name\":");
		control_json_str(t, h->name);
		control_printf(t, ",\"node\":\"%016llx\",\"epoch\":%llu,"
			       "\"digest\":\"%016llx\",\"nodes\":%zu,"
			       "\"links\":%u,\"channels\":%zu,"
			       "\"heartbeat_ms\":%u,\"lsa_seq\":%llu",
			       (unsigned long long)h->node->node_id,
			       (unsigned long long)h->node->epoch,
			       (unsigned long long)lsdb_digest(&h->db), h->db.n,
			       h->nlinks, h->chans.count, h->hb_ms,
			       (unsigned long long)h->lsa_seq);
		return 0;
	}
	if (!strcmp(r->op, "link.list")) {
		hub_ctl_links(h, t);
		return 0;
	}
	if (!strcmp(r->op, "link.add")) {
		const char *text = control_arg(r, "uri");
		struct uri u;
		int rc;

		if (!text) {
			snprintf(err, errlen, "link.add needs uri");
			return -1;
		}
		if (uri_parse(text, &u, err, errlen) < 0 ||
		    uri_check_role(&u, false, err, errlen) < 0 || u.local) {
			if (u.local)
				snprintf(err, errlen, "link.add wants a hub to "
					 "dial, not '%s'", text);
			return -1;
		}
		if (cost)
			u.cost = (uint32_t)v;
		rc = hub_peer_add(h, &u, err, errlen);
		if (rc < 0)
			return -1;
		control_printf(t, ",\"added\":%s", rc == 1 ? "false" : "true");
		return 0;
	}
	if (!strcmp(r->op, "routes.get"))
		return hub_ctl_routes(h, r, t, err, errlen);
	if (!strcmp(r->op, "channel.list")) {
		struct chantab_iter it;
		bool first = true;

		stats_text_puts(t, ",\"channels\":[");
		for (struct chantab_entry *e = chantab_first(&h->chans, &it); e;
		     e = chantab_next(&it)) {
			struct hub_channel *hc = e->data;

			stats_text_puts(t, first ? "{\"channel\":" : ",{\"channel\":");
			control_json_str(t, hc->name);
			control_printf(t, ",\"joined\":%zu,\"exported\":%zu,"
				       "\"in\":%llu,\"out\":%llu}",
				       chantab_subs_count(&e->subs),
				       chantab_subs_count(&hc->exporters),
				       (unsigned long long)hc->in,
				       (unsigned long long)hc->out);
			first = false;
		}
		stats_text_puts(t, "]");
		return 0;
	}
	if (!strcmp(r->op, "channel.add") || !strcmp(r->op, "channel.del")) {
		snprintf(err, errlen, "%s is a gateway's op (a hub carries "
			 "what its gateways join and export)", r->op);
		return -1;
	}
	if (!strcmp(r->op, "link.del") || !strcmp(r->op, "link.set") ||
	    !strcmp(r->op, "link.drain")) {
		const char *uri = control_arg(r, "uri");
		struct hub_peer *p = NULL;
		struct hub_link *l;

		if (uri) {
			for (p = h->peers; p; p = p->next)
				if (!strcmp(p->uri.text, uri))
					break;
			if (!p) {
				snprintf(err, errlen, "no peer '%s'", uri);
				return -1;
			}
			c = p->cur;
		} else {
			c = hub_link_by_id(h, id);
			if (!c) {
				snprintf(err, errlen, "%s needs link=ID (of "
					 "link.list) or uri=", r->op);
				return -1;
			}
			p = link_of(c)->dpeer;
		}
		l = c ? link_of(c) : NULL;
		if (!strcmp(r->op, "link.set")) {
			if (!cost) {
				snprintf(err, errlen, "link.set needs cost");
				return -1;
			}
			if (p)
				p->cost = (uint32_t)v;
			if (l)
				l->cost_own = true;
			if (l && l->cost != v) {
				l->cost = (uint32_t)v;
				mesh_trigger(h, "link.cost",
					     uv_now(h->node->loop),
					     c->peer_hello.node_id);
				hub_mesh_changed(h);
			}
			control_printf(t, ",\"cost\":%lu", v);
			return 0;
		}
		if (!strcmp(r->op, "link.drain")) {
			if (l && !l->draining) {
				l->draining = true;
				/* Our LSA says infinity now; the others move
				 * their trees within a flood, then it goes. */
				l->drain_at = uv_now(h->node->loop) + 500;
				if (p)
					p->draining = true;
				mesh_trigger(h, "link.drain",
					     uv_now(h->node->loop),
					     c->peer_hello.node_id);
				hub_mesh_changed(h);
			} else if (!l && p) {
				p->draining = true;
				dialer_stop(&p->d);
			}
			stats_text_puts(t, ",\"draining\":true");
			return 0;
		}
		/* link.del: at once. */
		if (p) {
			p->draining = true;
			dialer_stop(&p->d);
		} else if (c) {
			conn_close(c, "deleted");
		}
		stats_text_puts(t, ",\"deleted\":true");
		return 0;
	}
	snprintf(err, errlen, "unknown op '%s'", r->op);
	return -1;
}

static void hub_on_ctl_event(void *arg, const char *json)
{
	control_event(arg, json);
}

void hub_set_control(struct hub *h, const char *path)
{
	free(h->control_path);
	h->control_path = xstrdup(path);
}
