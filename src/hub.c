/* hub.c - routes channels between gateways; see hub.h for the rules. */
#include "hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "channel.h"
#include "chantab.h"
#include "conn.h"
#include "dedup.h"
#include "election.h"
#include "listener.h"
#include "frame.h"
#include "log.h"
#include "util.h"

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
/* The largest --acl file read. */
#define HUB_ACL_MAX_BYTES (1u << 20)

struct hub_df {
	char island[FRAME_ISLAND_MAX + 1];
	struct conn *df;          /* designated forwarder, or NULL */
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
	bool refused;             /* its HELLO was refused: closing */
	bool peer;                /* an ACL `peer`: may carry any origin */
	bool forged_logged;       /* one log line per link for forged DATA */
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
	uint64_t refused_logged, refused_at;
	struct conn *kicks;       /* links with data queued since a kick */
	/* Trust (docs/security.md): the --acl file, if any, and what it
	 * and the origin binding refused. */
	char *acl_path;           /* NULL: no ACL, open */
	struct acl acl;
	uint64_t forged_drops, acl_drops, island_refused;
	uint64_t denied_publish, denied_subscribe;
	bool closing;
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

/* Peer-supplied text (an identity, an island name) for a log line:
 * printable ASCII but blank, '"' and '\\' as is, every other byte as
 * \\xHH, "-" when empty; truncated to fit. A static copy until log.c
 * has one for everybody. */
static const char *hub_escape(const char *s, char *out, size_t n)
{
	size_t o = 0;

	if (!s[0])
		return "-";
	for (; *s && o + 5 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch > ' ' && ch < 0x7f && ch != '"' && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", ch);
	}
	out[o] = '\0';
	return out;
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
		 hub_escape(c->link->identity, id, sizeof(id)), c->peer);
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
	hub_stat(h, h, "mcferry_hub_publish_denied_total", lb, STATS_COUNTER,
		 "EXPORT frames the ACL refused.", &h->denied_publish);
	hub_stat(h, h, "mcferry_hub_subscribe_denied_total", lb,
		 STATS_COUNTER, "JOIN frames the ACL refused.",
		 &h->denied_subscribe);
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

/* The island's gateways that want the channel, by election_pick: the
 * rendezvous winner among their node ids, or NULL. */
static struct conn *hub_pick(struct hub *h, struct hub_channel *hc,
			     const char *island)
{
	size_t n = 0;
	int i;

	for (struct conn *c = h->links; c; c = c->next) {
		if (!link_ready(c) || strcmp(c->peer_hello.island, island) ||
		    !link_wants(c, hc))
			continue;
		if (n == h->candcap) {
			h->candcap = h->candcap ? 2 * h->candcap : 8;
			h->cand = xrealloc(h->cand,
					   h->candcap * sizeof(*h->cand));
			h->cand_conn = xrealloc(h->cand_conn, h->candcap *
						sizeof(*h->cand_conn));
		}
		h->cand[n] = c->peer_hello.node_id;
		h->cand_conn[n++] = c;
	}
	i = election_pick(h->cand, n, &hc->e->ch);
	return i < 0 ? NULL : h->cand_conn[i];
}

/* Choose the designated forwarder of (island, channel). Sticky: the
 * current one stays while it is up and wants the channel (a returning
 * gateway stands by, so a flow does not move twice for one failure);
 * only when there is none does election_pick choose among the island's
 * gateways that want it. */
static void hub_elect(struct hub *h, struct hub_channel *hc,
		      const char *island_in)
{
	char island[FRAME_ISLAND_MAX + 1];
	struct hub_df *df;
	struct conn *cur, *best;

	/* A copy: the caller's string may live in the entry this removes. */
	snprintf(island, sizeof(island), "%s", island_in);
	df = hub_df_get(hc, island);
	cur = df->df;

	if (cur && link_ready(cur) && link_wants(cur, hc))
		return;
	best = hub_pick(h, hc, island);
	if (best == cur)
		return;
	if (cur && link_ready(cur))
		hub_send_forwarder(cur, &hc->e->ch, 0);
	df->df = best;
	if (!best) {
		/* Nobody of this island wants the channel any more: forget
		 * the island here, so islands that come and go (relays, with
		 * a new node id each run) do not pile up. */
		*df = hc->dfs[--hc->ndfs];
		log_info("hub=%s channel=%s island=%s forwarder=none",
			 h->name, hc->name, island);
		return;
	}
	if (cur) {
		hc->failovers++;
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

static void hub_route(struct hub *h, struct conn *from, const struct frame *f)
{
	struct hub_link *lf = link_of(from);
	struct frame_data d;
	struct hub_channel *hc;
	struct buf *b;
	size_t hlen;

	if (frame_data_decode(f, &d) < 0) {
		conn_close(from, "bad-frame");
		return;
	}
	lf->in++;
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
		return;
	}
	/* One copy for every destination: the forwarded header goes in the
	 * headroom, the payload in the buffer. */
	b = buf_get(&h->node->pool, d.len);
	hlen = frame_data_forward(b->data - frame_data_header_len(d.ch.family),
				  &d);
	memcpy(b->data, d.payload, d.len);
	b->len = d.len;
	/* The destinations are the forwarders of the other islands that are
	 * in the channel's subscriber set: one per island at most. */
	for (size_t i = 0; i < hc->ndfs; i++) {
		struct conn *c = hc->dfs[i].df;
		struct hub_link *l;

		if (!c || c == from || !link_ready(c) ||
		    !strcmp(hc->dfs[i].island, from->peer_hello.island) ||
		    !chantab_subs_has(&hc->e->subs, c->id))
			continue;
		l = link_of(c);
		if (conn_send_span(c, b, b->data - hlen,
				   (uint32_t)(hlen + d.len)) < 0) {
			l->dropped++;
			hc->dropped++;
			continue;
		}
		l->out++;
		hc->out++;
		if (!l->kick) {
			l->kick = true;
			l->kick_next = h->kicks;
			h->kicks = c;
		}
	}
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
	struct hub *h = c->owner;
	struct hub_link *l = link_of(c);
	size_t n;

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

/* Write to the links this read queued data for (hub_route lists them),
 * not to every link: a read costs its destinations, not N. */
static void hub_on_read_end(struct conn *from)
{
	struct hub *h = from->owner;
	struct conn *c;

	while ((c = h->kicks)) {
		struct hub_link *l = link_of(c);

		h->kicks = l->kick_next;
		l->kick_next = NULL;
		l->kick = false;
		conn_kick(c);
	}
}

static void hub_on_hello(struct conn *c)
{
	struct hub *h = c->owner;
	struct hub_link *l = link_of(c);
	char id[256], island[4 * FRAME_ISLAND_MAX + 8], text[128];

	if (c->peer_hello.role == FRAME_ROLE_GATEWAY && !hub_island_ok(h, c)) {
		/* Refused before it is anybody's forwarder or emitter. */
		h->island_refused++;
		l->refused = true;
		log_warn("hub=%s c=%u island refused island=%s identity=%s "
			 "peer=%s node=%016llx",
			 h->name, c->id,
			 hub_escape(c->peer_hello.island, island,
				    sizeof(island)),
			 hub_escape(c->link->identity, id, sizeof(id)), c->peer,
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
		 hub_escape(c->peer_hello.island, island, sizeof(island)),
		 (unsigned long long)c->peer_hello.node_id,
		 hub_escape(c->link->identity, id, sizeof(id)),
		 l->peer ? " peer=yes" : "");
	hub_link_register(h, c);
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
	acl_free(&h->acl);
	free(h->acl_path);
	stats_remove_owner(&h->node->stats, h);
	free(h->cand);
	free(h->cand_conn);
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

static void hub_on_closed(struct conn *c)
{
	struct hub *h = c->owner;
	struct hub_link *l = link_of(c);

	conn_list_del(&h->links, c);
	if (l->kick) {
		struct conn **pp = &h->kicks;

		while (*pp != c)
			pp = &link_of(*pp)->kick_next;
		*pp = l->kick_next;
	}
	/* The link is off the list, so its channels fail over. */
	hub_link_forget(h, c);
	if (c->hello_seen && !l->refused && !h->closing)
		hub_share_emitters(h, c->peer_hello.island);
	if (l->registered)
		stats_remove_owner(&h->node->stats, l);
	chantab_exit(&l->interest);
	chantab_exit(&l->exports);
	free(l);
	hub_release(h);
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
	struct hub_link *l = xcalloc(1, sizeof(*l));

	chantab_init(&l->interest, HUB_LINK_MAX_CHANNELS);
	chantab_init(&l->exports, HUB_LINK_MAX_CHANNELS);
	c->data = l;
	conn_list_add(&h->links, c);
	h->handles++;
	return c;
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
