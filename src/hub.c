/* hub.c - routes channels between gateways; see hub.h for the rules. */
#include "hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "conn.h"
#include "listener.h"
#include "frame.h"
#include "log.h"
#include "util.h"

#define HUB_DEDUP_WINDOW 4096
#define HUB_MAX_ORIGINS 1024
#define HUB_MAX_CHANNELS 4096
#define HUB_LINK_MAX_CHANNELS 1024

/* Sequence numbers seen from one origin: the highest, and a bitmap of
 * the HUB_DEDUP_WINDOW below it. */
struct hub_origin {
	uint64_t node;
	uint64_t top;
	uint64_t last_used;
	uint64_t bits[HUB_DEDUP_WINDOW / 64];
	struct hub_origin *next;
};

struct hub_df {
	char island[FRAME_ISLAND_MAX + 1];
	struct conn *df;          /* designated forwarder, or NULL */
};

struct hub_channel {
	struct channel ch;
	char name[CHANNEL_TEXT_MAX];
	uint64_t in, out, dropped, duplicates, standby, failovers;
	struct hub_df *dfs;
	size_t ndfs;
	struct hub_channel *next;
};

struct hub_link {
	struct channel *interest;
	size_t ninterest;
	struct channel *exports;
	size_t nexports;
	struct frame_emitter emitters[FRAME_EMITTERS_MAX];
	size_t nemitters;
	uint64_t in, out, dropped;
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
	struct hub_channel *channels;
	size_t nchannels;
	struct hub_origin *origins;
	size_t norigins;
	uv_timer_t keepalive;
	uint64_t hop_drops;
	bool closing;
};

static struct hub_link *link_of(struct conn *c)
{
	return c->data;
}

static bool ch_in(const struct channel *set, size_t n, const struct channel *ch)
{
	for (size_t i = 0; i < n; i++)
		if (channel_equal(&set[i], ch))
			return true;
	return false;
}

static bool link_wants(struct conn *c, const struct channel *ch)
{
	struct hub_link *l = link_of(c);

	return ch_in(l->interest, l->ninterest, ch) ||
	       ch_in(l->exports, l->nexports, ch);
}

static bool link_ready(const struct conn *c)
{
	return c->state == CONN_OPEN && c->hello_seen;
}

static struct hub_channel *hub_channel_find(struct hub *h,
					    const struct channel *ch)
{
	for (struct hub_channel *hc = h->channels; hc; hc = hc->next)
		if (channel_equal(&hc->ch, ch))
			return hc;
	return NULL;
}

static struct hub_channel *hub_channel_get(struct hub *h,
					   const struct channel *ch)
{
	struct hub_channel *hc = hub_channel_find(h, ch);

	if (hc || h->nchannels >= HUB_MAX_CHANNELS)
		return hc;
	hc = xcalloc(1, sizeof(*hc));
	hc->ch = *ch;
	channel_format(ch, hc->name, sizeof(hc->name));
	hc->next = h->channels;
	h->channels = hc;
	h->nchannels++;
	return hc;
}

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

/* Choose the designated forwarder of (island, channel): keep the current
 * one while it is up and wants the channel, else the lowest node id. */
static void hub_elect(struct hub *h, struct hub_channel *hc,
		      const char *island_in)
{
	char island[FRAME_ISLAND_MAX + 1];
	struct hub_df *df;
	struct conn *cur, *best = NULL;

	/* A copy: the caller's string may live in the entry this removes. */
	snprintf(island, sizeof(island), "%s", island_in);
	df = hub_df_get(hc, island);
	cur = df->df;

	if (cur && link_ready(cur) && link_wants(cur, &hc->ch))
		return;
	for (struct conn *c = h->links; c; c = c->next) {
		if (!link_ready(c) || strcmp(c->peer_hello.island, island) ||
		    !link_wants(c, &hc->ch))
			continue;
		if (!best || c->peer_hello.node_id < best->peer_hello.node_id)
			best = c;
	}
	if (best == cur)
		return;
	if (cur && link_ready(cur))
		hub_send_forwarder(cur, &hc->ch, 0);
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
	hub_send_forwarder(best, &hc->ch, 1);
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

/* True when (origin, seq) was seen before or is too old to tell. */
static bool hub_duplicate(struct hub *h, uint64_t node, uint64_t seq,
			  uint64_t now)
{
	struct hub_origin *o, **oldest = NULL;

	for (o = h->origins; o; o = o->next)
		if (o->node == node)
			break;
	if (!o) {
		if (h->norigins >= HUB_MAX_ORIGINS) {
			/* Forget the origin heard from least recently. */
			for (struct hub_origin **p = &h->origins; *p;
			     p = &(*p)->next)
				if (!oldest || (*p)->last_used <
						       (*oldest)->last_used)
					oldest = p;
			o = *oldest;
			*oldest = o->next;
			free(o);
			h->norigins--;
		}
		o = xcalloc(1, sizeof(*o));
		o->node = node;
		o->top = seq;
		o->bits[(seq / 64) % (HUB_DEDUP_WINDOW / 64)] |=
			1ull << (seq % 64);
		o->next = h->origins;
		h->origins = o;
		h->norigins++;
		o->last_used = now;
		return false;
	}
	o->last_used = now;
	if (seq > o->top) {
		/* Clear the bits that slide into the window. */
		uint64_t gap = seq - o->top;

		if (gap >= HUB_DEDUP_WINDOW) {
			memset(o->bits, 0, sizeof(o->bits));
		} else {
			for (uint64_t s = o->top + 1; s <= seq; s++)
				o->bits[(s / 64) % (HUB_DEDUP_WINDOW / 64)] &=
					~(1ull << (s % 64));
		}
		o->top = seq;
	} else if (o->top - seq >= HUB_DEDUP_WINDOW) {
		return true;
	}
	{
		uint64_t *w = &o->bits[(seq / 64) % (HUB_DEDUP_WINDOW / 64)];
		uint64_t bit = 1ull << (seq % 64);

		if (*w & bit)
			return true;
		*w |= bit;
	}
	return false;
}

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
	hc = hub_channel_get(h, &d.ch);
	if (!hc) {
		lf->dropped++;
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
	if (hub_duplicate(h, d.origin, d.seq, uv_now(h->node->loop))) {
		hc->duplicates++;
		return;
	}
	/* One copy for every destination: the header goes in the headroom
	 * with the hop count raised, the payload in the buffer. */
	hlen = frame_data_header_len(d.ch.family);
	b = buf_get(&h->node->pool, d.len);
	memcpy(b->data - hlen, f->body - FRAME_HDR_LEN, hlen);
	b->data[(ptrdiff_t)FRAME_HDR_LEN - (ptrdiff_t)hlen] = (uint8_t)(d.hops + 1);
	memcpy(b->data, d.payload, d.len);
	b->len = d.len;
	for (struct conn *c = h->links; c; c = c->next) {
		struct hub_link *l;

		if (c == from || !link_ready(c) ||
		    !strcmp(c->peer_hello.island, from->peer_hello.island))
			continue;
		l = link_of(c);
		if (!ch_in(l->interest, l->ninterest, &d.ch) ||
		    hub_forwarder(hc, c->peer_hello.island) != c)
			continue;
		if (conn_send_span(c, b, b->data - hlen,
				   (uint32_t)(hlen + d.len)) < 0) {
			l->dropped++;
			hc->dropped++;
			continue;
		}
		l->out++;
		hc->out++;
	}
	buf_unref(b);
}

/* JOIN, LEAVE, EXPORT, UNEXPORT: update the link's sets, re-elect. */
static void hub_interest(struct hub *h, struct conn *c, const struct frame *f)
{
	struct hub_link *l = link_of(c);
	bool join = f->type == FRAME_JOIN || f->type == FRAME_EXPORT;
	bool exp = f->type == FRAME_EXPORT || f->type == FRAME_UNEXPORT;
	struct channel **set = exp ? &l->exports : &l->interest;
	size_t *n = exp ? &l->nexports : &l->ninterest;
	struct hub_channel *hc;
	struct channel ch;
	char name[CHANNEL_TEXT_MAX];

	if (frame_channel_decode(f, &ch, NULL) < 0) {
		conn_close(c, "bad-frame");
		return;
	}
	channel_format(&ch, name, sizeof(name));
	if (join && !ch_in(*set, *n, &ch)) {
		if (*n >= HUB_LINK_MAX_CHANNELS) {
			conn_close(c, "too-many-channels");
			return;
		}
		*set = xrealloc(*set, (*n + 1) * sizeof(**set));
		(*set)[(*n)++] = ch;
	} else if (!join) {
		for (size_t i = 0; i < *n; i++) {
			if (channel_equal(&(*set)[i], &ch)) {
				(*set)[i] = (*set)[--*n];
				break;
			}
		}
	}
	log_info("hub=%s c=%u island=%s %s channel=%s", h->name, c->id,
		 c->peer_hello.island,
		 f->type == FRAME_JOIN	   ? "join"
		 : f->type == FRAME_LEAVE  ? "leave"
		 : f->type == FRAME_EXPORT ? "export"
					   : "unexport",
		 name);
	hc = hub_channel_get(h, &ch);
	if (!hc) {
		conn_close(c, "too-many-channels");
		return;
	}
	hub_elect(h, hc, c->peer_hello.island);
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

static void hub_on_read_end(struct conn *from)
{
	struct hub *h = from->owner;

	for (struct conn *c = h->links; c; c = c->next)
		conn_kick(c);
}

static void hub_on_hello(struct conn *c)
{
	struct hub *h = c->owner;

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
	log_info("hub=%s c=%u %s up peer=%s island=%s node=%016llx",
		 h->name, c->id,
		 c->peer_hello.role == FRAME_ROLE_RELAY ? "relay" : "gateway",
		 c->peer, c->peer_hello.island,
		 (unsigned long long)c->peer_hello.node_id);
}

static void hub_free(struct hub *h)
{
	while (h->channels) {
		struct hub_channel *hc = h->channels;

		h->channels = hc->next;
		free(hc->dfs);
		free(hc);
	}
	while (h->origins) {
		struct hub_origin *o = h->origins;

		h->origins = o->next;
		free(o);
	}
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
	bool had_hello = c->hello_seen;

	conn_list_del(&h->links, c);
	if (had_hello && !h->closing) {
		/* The link is off the list, so its channels fail over.
		 * Backwards: an election may drop entry i, moving the last
		 * (already seen) into its place. */
		for (struct hub_channel *hc = h->channels; hc; hc = hc->next)
			for (size_t i = hc->ndfs; i-- > 0;)
				if (hc->dfs[i].df == c)
					hub_elect(h, hc, hc->dfs[i].island);
		hub_share_emitters(h, c->peer_hello.island);
	} else {
		for (struct hub_channel *hc = h->channels; hc; hc = hc->next)
			for (size_t i = 0; i < hc->ndfs; i++)
				if (hc->dfs[i].df == c)
					hc->dfs[i].df = NULL;
	}
	free(l->interest);
	free(l->exports);
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
	struct conn_conf cf = {
		.what = "link",
		.framing = FRAMING_DATAGRAM,
		.rx_framed = CONN_RX_FRAMES,
		.queue = URI_DEFAULT_QUEUE,
	};
	struct conn *c = conn_new(&h->own, lk, &cf, &hub_handler, h);

	c->data = xcalloc(1, sizeof(struct hub_link));
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

/* Every tick: close links gone silent, ping the others. */
static void hub_on_keepalive(uv_timer_t *t)
{
	struct hub *h = t->data;

	for (struct conn *c = h->links; c; c = c->next)
		conn_keepalive(c, uv_now(t->loop));
}

struct hub *hub_new(struct node *node, const char *name,
		    const struct uri *listen, size_t nlisten)
{
	struct hub *h = xcalloc(1, sizeof(*h));

	h->node = node;
	h->name = xstrdup(name);
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
	return h;
}

int hub_start(struct hub *h, char *err, size_t errlen)
{
	uv_loop_t *loop = h->node->loop;

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

void hub_log_stats(const struct hub *h)
{
	for (const struct hub_channel *hc = h->channels; hc; hc = hc->next)
		log_stats("hub=%s channel=%s "
			  "mcferry_hub_channel_in_datagrams_total=%llu "
			  "mcferry_hub_channel_out_datagrams_total=%llu "
			  "mcferry_hub_channel_dropped_total=%llu "
			  "mcferry_hub_channel_duplicates_total=%llu "
			  "mcferry_hub_channel_standby_total=%llu "
			  "mcferry_hub_channel_failovers_total=%llu",
			  h->name, hc->name, (unsigned long long)hc->in,
			  (unsigned long long)hc->out,
			  (unsigned long long)hc->dropped,
			  (unsigned long long)hc->duplicates,
			  (unsigned long long)hc->standby,
			  (unsigned long long)hc->failovers);
	for (const struct conn *c = h->links; c; c = c->next) {
		const struct hub_link *l = c->data;

		log_stats("hub=%s c=%u island=%s node=%016llx "
			  "mcferry_hub_link_in_datagrams_total=%llu "
			  "mcferry_hub_link_out_datagrams_total=%llu "
			  "mcferry_hub_link_dropped_total=%llu",
			  h->name, c->id, c->peer_hello.island,
			  (unsigned long long)c->peer_hello.node_id,
			  (unsigned long long)l->in, (unsigned long long)l->out,
			  (unsigned long long)l->dropped);
	}
}
