/* http.c - the HTTP front: requests, viewers, channels, pages; see
 * http.h.
 *
 * A connection's life, one state change at a time (http_sess_enter):
 *
 *   head --GET /udp/ ok--> view     (body until either side closes)
 *     |  --anything else--> linger   (response queued; the client closes
 *     |                               on Content-Length, or we do after
 *     |                               HTTP_LINGER_MS)
 *     '--deadline--> 408, linger
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "conn.h"
#include "http_parse.h"
#include "http_path.h"
#include "listener.h"
#include "log.h"
#include "mcast.h"
#include "mgroup.h"
#include "util.h"

#define HTTP_TICK_MS 250
/* Default kernel send buffer of a viewer (see sink_tcp.c). */
#define HTTP_SNDBUF (256 * 1024)
/* Write pacing, as sink_tcp.c: a channel's viewers are written at most
 * once per viewers x HTTP_PACE_PER_VIEWER_NS, capped at HTTP_PACE_MAX_NS;
 * under load each write carries several datagrams. */
#define HTTP_PACE_PER_VIEWER_NS 10000ull
#define HTTP_PACE_MAX_NS 4000000ull
/* Largest piece of a page per pooled buffer. */
#define HTTP_PIECE 60000

/* The status codes counted in mcferry_http_requests_total. */
static const int http_codes[] = { 200, 400, 403, 404, 405, 408,
				  414, 431, 500, 503, 505 };
#define HTTP_NCODES (sizeof(http_codes) / sizeof(http_codes[0]))

enum sess_state { SESS_HEAD, SESS_VIEW, SESS_LINGER };
static const char *const sess_names[] = { "head", "view", "linger" };

struct http_chan;

struct http_sess {
	struct conn *c;
	struct http *h;
	enum sess_state state;
	struct http_parser hp;
	uint64_t deadline;          /* loop ms: head, then linger */
	struct http_chan *chan;     /* view */
	bool rtp;
	struct http_sess *prev, *next; /* the channel's viewers */
};

struct http_chan {
	struct http *h;
	struct channel ch;          /* a group's; unset for a named one */
	const struct http_named *named; /* /channel/NAME: its conf entry */
	char iface[URI_IFACE_MAX];
	char text[CHANNEL_TEXT_MAX > HTTP_NAME_MAX ? CHANNEL_TEXT_MAX
						   : HTTP_NAME_MAX];
	struct mgroup *mg;          /* NULL when not joined */
	struct http_sess *viewers;
	uint32_t nviewers;
	uint64_t in_dgrams, in_bytes, dropped, joins, cutoffs;
	uint64_t rate_bps, rate_prev, rate_at;
	uint64_t last_flush;        /* uv_hrtime of the last kick */
	bool dirty;                 /* queued data not kicked yet */
};

struct http {
	struct node *node;
	struct http_conf conf;
	struct uri luri;
	struct listener ls;
	struct conn_owner own;
	struct conn *conns;
	struct http_chan *chans[HTTP_CHANNELS_MAX];
	size_t nchans;
	uv_timer_t tick, pace;
	bool pace_armed;
	uint64_t started_ms;
	time_t started_wall;
	/* counters (the registry points at them) */
	uint64_t requests[HTTP_NCODES];
	uint32_t viewers, clients;
	uint64_t out_bytes, out_dgrams, joins, leaves, cutoffs, refused;
	uint64_t reconnects;        /* never moves: conn_owner wants one */
	char code_text[HTTP_NCODES][4];
	int handles;
	bool listening, closing;
};

/* ---- configuration ---------------------------------------------------- */

int http_allow_parse(const char *text, struct http_allow *a)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct sockaddr_storage ss;
	unsigned long pfx;
	unsigned max;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (!addr_parse(buf, 0, &ss))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (ss.ss_family == AF_INET) {
		a->family = 4;
		memcpy(a->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		max = 32;
	} else {
		a->family = 6;
		memcpy(a->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		max = 128;
	}
	pfx = max;
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return -EINVAL;
		pfx = strtoul(slash, &end, 10);
		if (*end || pfx > max)
			return -EINVAL;
	}
	a->prefix = (uint8_t)pfx;
	return 0;
}

static bool http_name_ok(const char *p, size_t n)
{
	if (n == 0 || n >= HTTP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-", p[i]) || !p[i])
			return false;
	return true;
}

int http_conf_add_named(struct http_conf *c, const char *text, char *err,
			size_t errlen)
{
	const char *eq = strchr(text, '=');
	struct http_named *n;
	struct uri u;
	char e[256];

	if (!eq || !http_name_ok(text, (size_t)(eq - text))) {
		snprintf(err, errlen, "bad channel '%s': want NAME=URI, NAME of "
			 "letters, digits, '.', '_' or '-'", text);
		return -EINVAL;
	}
	if (c->nnamed == HTTP_NAMED_MAX) {
		snprintf(err, errlen, "more than %d named channels",
			 HTTP_NAMED_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->nnamed; i++) {
		if (strlen(c->named[i].name) == (size_t)(eq - text) &&
		    !strncmp(c->named[i].name, text, (size_t)(eq - text))) {
			snprintf(err, errlen, "channel '%.*s' given twice",
				 (int)(eq - text), text);
			return -EINVAL;
		}
	}
	if (strlen(eq + 1) >= sizeof(n->uri) ||
	    uri_parse(eq + 1, &u, e, sizeof(e)) < 0 ||
	    uri_check_role(&u, true, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "bad channel '%s': the URI is no relay "
			 "source: %s", text,
			 strlen(eq + 1) >= sizeof(n->uri) ? "too long" : e);
		return -EINVAL;
	}
	n = &c->named[c->nnamed++];
	snprintf(n->name, sizeof(n->name), "%.*s", (int)(eq - text), text);
	snprintf(n->uri, sizeof(n->uri), "%s", eq + 1);
	return 0;
}

static bool allow_match(const struct http_allow *a, const struct channel *ch)
{
	unsigned full = a->prefix / 8, rest = a->prefix % 8;

	if (a->family != ch->family || memcmp(a->addr, ch->group, full))
		return false;
	if (rest == 0)
		return true;
	return ((a->addr[full] ^ ch->group[full]) & (0xff00u >> rest) & 0xff) ==
	       0;
}

int http_conf_finish_udpxy(struct http_conf *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const char *a = c->udpxy_addr[0] ? c->udpxy_addr : "0.0.0.0";

	if (!c->udpxy_port) {
		snprintf(err, errlen, "udpxy needs -p PORT");
		return -EINVAL;
	}
	/* -a is an address or an interface; an interface is resolved at
	 * start (its address may not be there yet). */
	if (addr_parse(a, 0, &ss) && ss.ss_family == AF_INET6)
		snprintf(c->listen, sizeof(c->listen), "[%s]:%u", a,
			 c->udpxy_port);
	else
		snprintf(c->listen, sizeof(c->listen), "%s:%u", a,
			 c->udpxy_port);
	return 0;
}

/* tcp://@LISTEN, with an interface name in udpxy's -a resolved to its
 * IPv4 address. */
static int http_listen_uri(const struct http_conf *c, struct uri *u,
			   char *err, size_t errlen)
{
	char text[sizeof(c->listen) + 16], e[256];
	const char *colon = strrchr(c->listen, ':');

	snprintf(text, sizeof(text), "tcp://@%s", c->listen);
	if (colon && colon != c->listen && c->listen[0] != '[') {
		char host[URI_HOST_MAX];
		struct sockaddr_storage ss, v4, v6;
		unsigned idx, pfx;

		snprintf(host, sizeof(host), "%.*s",
			 (int)(colon - c->listen), c->listen);
		if (!addr_parse(host, 0, &ss) &&
		    mcast_iface_index(host, &idx) == 0 &&
		    mcast_iface_addrs(idx, &v4, &pfx, &v6) == 0 &&
		    v4.ss_family == AF_INET) {
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)&v4)->sin_addr, a,
				  sizeof(a));
			snprintf(text, sizeof(text), "tcp://@%s%s", a, colon);
		}
	}
	if (uri_parse(text, u, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "bad listen '%s': %s", c->listen, e);
		return -EINVAL;
	}
	return 0;
}

int http_conf_check(const struct http_conf *c, char *err, size_t errlen)
{
	struct uri u;
	char text[sizeof(c->listen) + 16], e[256];

	if (!c->listen[0]) {
		snprintf(err, errlen, "http '%s' needs listen ADDR:PORT",
			 c->name);
		return -EINVAL;
	}
	/* An interface name in the host (udpxy -a) is resolved at start. */
	if (c->udpxy)
		return 0;
	snprintf(text, sizeof(text), "tcp://@%s", c->listen);
	if (uri_parse(text, &u, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "bad listen '%s': %s", c->listen, e);
		return -EINVAL;
	}
	return 0;
}

/* ---- counters --------------------------------------------------------- */

static void http_count(struct http *h, int code)
{
	for (size_t i = 0; i < HTTP_NCODES; i++)
		if (http_codes[i] == code)
			h->requests[i]++;
}

static uint64_t http_chan_joined(const void *arg)
{
	return ((const struct http_chan *)arg)->mg != NULL;
}

static uint64_t http_uptime(const void *arg)
{
	const struct http *h = arg;

	return (uint64_t)(time(NULL) - h->started_wall);
}

static int http_stats_add(struct http *h, char *err, size_t errlen)
{
	struct stats *reg = &h->node->stats;
	const char *lb[] = { "http", h->conf.name, NULL };
	static const struct {
		const char *name, *help;
		size_t off;
	} ctr[] = {
		{ "mcferry_http_out_bytes_total", "bytes written to HTTP clients",
		  offsetof(struct http, out_bytes) },
		{ "mcferry_http_out_datagrams_total",
		  "datagrams written to viewers", offsetof(struct http, out_dgrams) },
		{ "mcferry_http_joins_total", "multicast groups joined",
		  offsetof(struct http, joins) },
		{ "mcferry_http_leaves_total",
		  "multicast groups left after their hold",
		  offsetof(struct http, leaves) },
		{ "mcferry_http_slow_consumer_cutoffs_total",
		  "viewers closed as slow-consumer", offsetof(struct http, cutoffs) },
		{ "mcferry_http_refused_connections_total",
		  "connections closed at accept (connection cap)",
		  offsetof(struct http, refused) },
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < HTTP_NCODES; i++) {
		const char *l[] = { "http", h->conf.name, "code",
				    h->code_text[i], NULL };

		snprintf(h->code_text[i], sizeof(h->code_text[i]), "%d",
			 http_codes[i]);
		rc = stats_add(reg, h, "mcferry_http_requests_total", l,
			       STATS_COUNTER, "HTTP requests answered, by status",
			       &h->requests[i]);
	}
	for (size_t i = 0; rc == 0 && i < sizeof(ctr) / sizeof(ctr[0]); i++)
		rc = stats_add(reg, h, ctr[i].name, lb, STATS_COUNTER,
			       ctr[i].help,
			       (const uint64_t *)((char *)h + ctr[i].off));
	if (rc == 0)
		rc = stats_add_u32(reg, h, "mcferry_http_viewers", lb,
				   STATS_GAUGE, "viewers receiving a channel",
				   &h->viewers);
	if (rc == 0)
		rc = stats_add_u32(reg, h, "mcferry_http_connections", lb,
				   STATS_GAUGE, "open HTTP connections",
				   &h->clients);
	if (rc == 0)
		rc = stats_add_fn(reg, h, "mcferry_http_uptime_seconds", lb,
				  STATS_GAUGE, "seconds since the service started",
				  http_uptime, h);
	if (rc < 0)
		snprintf(err, errlen, "cannot register counters: %s",
			 strerror(-rc));
	return rc;
}

static void http_chan_stats_add(struct http_chan *hc)
{
	struct http *h = hc->h;
	struct stats *reg = &h->node->stats;
	const char *lb[] = { "http", h->conf.name, "channel", hc->text,
			     "iface", hc->iface, NULL };
	static const struct {
		const char *name, *help;
		size_t off;
	} ctr[] = {
		{ "mcferry_http_channel_in_datagrams_total",
		  "datagrams received from the group",
		  offsetof(struct http_chan, in_dgrams) },
		{ "mcferry_http_channel_in_bytes_total",
		  "bytes received from the group",
		  offsetof(struct http_chan, in_bytes) },
		{ "mcferry_http_channel_dropped_total",
		  "datagrams not handed on (too large, not RTP on /rtp/)",
		  offsetof(struct http_chan, dropped) },
		{ "mcferry_http_channel_joins_total", "times the group was joined",
		  offsetof(struct http_chan, joins) },
		{ "mcferry_http_channel_slow_consumer_cutoffs_total",
		  "viewers of the channel closed as slow-consumer",
		  offsetof(struct http_chan, cutoffs) },
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(ctr) / sizeof(ctr[0]); i++)
		rc = stats_add(reg, hc, ctr[i].name, lb, STATS_COUNTER,
			       ctr[i].help,
			       (const uint64_t *)((char *)hc + ctr[i].off));
	if (rc == 0)
		rc = stats_add_u32(reg, hc, "mcferry_http_channel_viewers", lb,
				   STATS_GAUGE, "viewers of the channel",
				   &hc->nviewers);
	if (rc == 0)
		rc = stats_add_fn(reg, hc, "mcferry_http_channel_joined", lb,
				  STATS_GAUGE, "1 while the group is joined",
				  http_chan_joined, hc);
	if (rc < 0)
		log_warn("http=%s channel=%s cannot register counters: %s",
			 h->conf.name, hc->text, strerror(-rc));
}

/* ---- lifetime --------------------------------------------------------- */

static void http_release(struct http *h)
{
	if (--h->handles > 0)
		return;
	stats_remove_owner(&h->node->stats, h);
	for (size_t i = 0; i < h->nchans; i++) {
		stats_remove_owner(&h->node->stats, h->chans[i]);
		free(h->chans[i]);
	}
	free(h);
}

struct http *http_new(struct node *node, const struct http_conf *conf)
{
	struct http *h = xcalloc(1, sizeof(*h));

	h->node = node;
	h->conf = *conf;
	h->handles = 1;
	h->own = (struct conn_owner){
		.node = node, .kind = "http", .name = h->conf.name,
		.island = "", .role = 0, .out_dgrams = &h->out_dgrams,
		.out_bytes = &h->out_bytes, .clients = &h->clients,
		.reconnects = &h->reconnects,
	};
	return h;
}

/* Every state change of a session goes through here. */
static void http_sess_enter(struct http_sess *s, enum sess_state st)
{
	log_debug("http=%s c=%u state %s -> %s", s->h->conf.name, s->c->id,
		  sess_names[s->state], sess_names[st]);
	s->state = st;
}

/* ---- channels --------------------------------------------------------- */

static void http_chan_on_data(void *owner, struct buf *b);
static void http_chan_on_batch(void *owner);
/* The records of the named channels, made at start so that the playlist
 * and the status page list them before anyone watched. */
static void http_chans_named(struct http *h)
{
	for (size_t i = 0; i < h->conf.nnamed && h->nchans < HTTP_CHANNELS_MAX;
	     i++) {
		struct http_chan *hc = xcalloc(1, sizeof(*hc));

		h->chans[h->nchans++] = hc;
		hc->h = h;
		hc->named = &h->conf.named[i];
		snprintf(hc->text, sizeof(hc->text), "%s", hc->named->name);
		http_chan_stats_add(hc);
	}
}

/* Target /channel/NAME[/][?QUERY] (or http://HOST/channel/...): 0 when it
 * is not a /channel/ path, 1 with the record in *out, -ENOENT for a name
 * that is not configured. */
static int http_named_target(struct http *h, const char *t, size_t len,
			     struct http_chan **out)
{
	static const char pfx[] = "/channel/";
	const char *end = t + len, *name, *p;

	if (len > 7 && !strncasecmp(t, "http://", 7)) {
		t = memchr(t + 7, '/', len - 7);
		if (!t)
			return 0;
	}
	if ((size_t)(end - t) < sizeof(pfx) - 1 ||
	    memcmp(t, pfx, sizeof(pfx) - 1))
		return 0;
	name = p = t + sizeof(pfx) - 1;
	while (p < end && *p != '/' && *p != '?')
		p++;
	/* One trailing slash, then nothing but a query. */
	if ((p < end && *p == '/' && p + 1 < end && p[1] != '?') ||
	    !http_name_ok(name, (size_t)(p - name)))
		return -ENOENT;
	for (size_t i = 0; i < h->nchans; i++) {
		struct http_chan *hc = h->chans[i];

		if (hc->named && strlen(hc->text) == (size_t)(p - name) &&
		    !memcmp(hc->text, name, (size_t)(p - name))) {
			*out = hc;
			return 1;
		}
	}
	return -ENOENT;
}

static void http_chan_on_leave(void *owner);
static void http_chan_on_freed(void *owner);

static const struct mgroup_events http_mgroup_events = {
	.on_data = http_chan_on_data,
	.on_batch = http_chan_on_batch,
	.on_leave = http_chan_on_leave,
	.on_freed = http_chan_on_freed,
};

/* The channel record of (ch, iface): found, made, or a forgotten one
 * reused; NULL when the table is full of live ones. Records stay after
 * the last viewer (the playlist and status list what was served). */
static struct http_chan *http_chan_get(struct http *h, const struct channel *ch,
				       const char *iface)
{
	struct http_chan *hc = NULL;

	for (size_t i = 0; i < h->nchans; i++)
		if (!h->chans[i]->named && channel_equal(&h->chans[i]->ch, ch) &&
		    !strcmp(h->chans[i]->iface, iface))
			return h->chans[i];
	if (h->nchans < HTTP_CHANNELS_MAX) {
		hc = xcalloc(1, sizeof(*hc));
		h->chans[h->nchans++] = hc;
	} else {
		for (size_t i = 0; i < h->nchans && !hc; i++)
			if (!h->chans[i]->mg && !h->chans[i]->nviewers &&
			    !h->chans[i]->named)
				hc = h->chans[i];
		if (!hc)
			return NULL;
		stats_remove_owner(&h->node->stats, hc);
		memset(hc, 0, sizeof(*hc));
	}
	hc->h = h;
	hc->ch = *ch;
	snprintf(hc->iface, sizeof(hc->iface), "%s", iface);
	channel_format(ch, hc->text, sizeof(hc->text));
	http_chan_stats_add(hc);
	return hc;
}

static void http_chan_on_leave(void *owner)
{
	struct http_chan *hc = owner;

	log_info("http=%s channel=%s left hold=%us", hc->h->conf.name, hc->text,
		 hc->h->conf.hold);
	hc->h->leaves++;
	hc->mg = NULL;
}

static void http_chan_on_freed(void *owner)
{
	http_release(((struct http_chan *)owner)->h);
}

/* Where a datagram's payload starts for /rtp/: a TS packet is passed as
 * it is, an RTP version 2 packet loses its header (CSRCs, extension,
 * padding); -1 for anything else. */
static int rtp_offset(const uint8_t *p, uint32_t n)
{
	uint32_t off, pad = 0;

	if (n > 0 && p[0] == 0x47)
		return 0;
	if (n < 12 || (p[0] >> 6) != 2)
		return -1;
	off = 12 + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (n < off + 4)
			return -1;
		off += 4 + 4u * (((uint32_t)p[off + 2] << 8) | p[off + 3]);
	}
	if (p[0] & 0x20)
		pad = p[n - 1];
	if (off + pad >= n)
		return -1;
	return (int)off;
}

static void http_viewer_push(struct http_sess *s, struct buf *b, uint8_t *p,
			     uint32_t len, uint64_t now)
{
	struct conn *c = s->c;
	struct http *h = s->h;
	uint64_t soft = h->conf.queue / 2;
	int rc;

	if (c->state != CONN_OPEN)
		return;
	rc = conn_send_span(c, b, p, len);
	if (rc == -ENOBUFS) {
		h->cutoffs++;
		s->chan->cutoffs++;
		conn_close(c, "slow-consumer");
	} else if (c->q.bytes <= soft) {
		c->soft_since = 0;
	} else if (!c->soft_since) {
		c->soft_since = now;
	} else if (now - c->soft_since > HTTP_SOFT_SECS * 1000ull) {
		/* Above half its queue for HTTP_SOFT_SECS on end: it is not
		 * catching up, only adding delay. */
		h->cutoffs++;
		s->chan->cutoffs++;
		conn_close(c, "slow-consumer");
	}
}

static void http_chan_on_data(void *owner, struct buf *b)
{
	struct http_chan *hc = owner;
	uint64_t now = uv_now(hc->h->node->loop);
	int rtp = -2;

	hc->in_dgrams++;
	hc->in_bytes += b->len;
	for (struct http_sess *s = hc->viewers, *next; s; s = next) {
		next = s->next;
		if (!s->rtp) {
			http_viewer_push(s, b, b->data, b->len, now);
			continue;
		}
		if (rtp == -2) {
			rtp = rtp_offset(b->data, b->len);
			if (rtp < 0)
				hc->dropped++;
		}
		if (rtp >= 0)
			http_viewer_push(s, b, b->data + rtp,
					 b->len - (uint32_t)rtp, now);
	}
	hc->dirty = true;
}

static void http_chan_kick(struct http_chan *hc)
{
	hc->dirty = false;
	hc->last_flush = uv_hrtime();
	for (struct http_sess *s = hc->viewers, *next; s; s = next) {
		next = s->next;
		conn_kick(s->c);
	}
}

static void http_on_pace(uv_timer_t *t)
{
	struct http *h = t->data;

	h->pace_armed = false;
	for (size_t i = 0; i < h->nchans; i++)
		if (h->chans[i]->dirty)
			http_chan_kick(h->chans[i]);
}

static void http_chan_on_batch(void *owner)
{
	struct http_chan *hc = owner;
	struct http *h = hc->h;
	uint64_t interval = hc->nviewers * HTTP_PACE_PER_VIEWER_NS, now, ms;

	if (interval > HTTP_PACE_MAX_NS)
		interval = HTTP_PACE_MAX_NS;
	now = uv_hrtime();
	if (now - hc->last_flush >= interval) {
		http_chan_kick(hc);
		return;
	}
	if (h->pace_armed)
		return;
	ms = (hc->last_flush + interval - now + 999999) / 1000000;
	uv_timer_start(&h->pace, http_on_pace, ms ? ms : 1, 0);
	h->pace_armed = true;
}

/* ---- responses -------------------------------------------------------- */

/* Queue n bytes of a response, in pooled pieces. */
static void http_queue(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = n > HTTP_PIECE ? HTTP_PIECE : n;

		if (conn_send_bytes(c, (const uint8_t *)p, k) < 0) {
			conn_close(c, "response-too-large");
			return;
		}
		p += k;
		n -= k;
	}
}

static void http_log_request(struct http_sess *s, int code, const char *why)
{
	const struct http_request *r = &s->hp.req;

	log_msg(code >= 500 ? LOG_WARN : LOG_INFO,
		"http=%s c=%u request method=%s target=%.*s status=%d%s%s",
		s->h->conf.name, s->c->id,
		r->method == HTTP_M_HEAD ? "HEAD"
		: r->method == HTTP_M_GET ? "GET" : "-",
		(int)(r->tlen > 200 ? 200 : r->tlen), r->tlen ? r->target : "-",
		code, why ? " reason=" : "", why ? why : "");
}

/* A whole response (head and body); the session lingers until the
 * client has it and closes. */
static void http_respond(struct http_sess *s, int code, const char *ctype,
			 const char *body, size_t blen, const char *extra)
{
	char head[512];
	int n;

	http_count(s->h, code);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nServer: mcferry/%s\r\n"
		     "Content-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-cache\r\n%sConnection: close\r\n\r\n",
		     code, http_status_text(code), MCFERRY_VERSION, ctype, blen,
		     extra ? extra : "");
	http_queue(s->c, head, (size_t)n);
	if (s->hp.req.method != HTTP_M_HEAD && blen)
		http_queue(s->c, body, blen);
	conn_kick(s->c);
	http_sess_enter(s, SESS_LINGER);
	s->deadline = uv_now(s->h->node->loop) + HTTP_LINGER_MS;
}

static void http_error(struct http_sess *s, int code, const char *why)
{
	char body[400];
	int n = snprintf(body, sizeof(body), "%d %s%s%s\n", code,
			 http_status_text(code), why ? ": " : "",
			 why ? why : "");

	http_log_request(s, code, why);
	http_respond(s, code, "text/plain; charset=utf-8", body, (size_t)n,
		     code == 405 ? "Allow: GET, HEAD\r\n" : NULL);
}

/* ---- pages ------------------------------------------------------------ */

static void tprintf(struct stats_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tprintf(struct stats_text *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		stats_text_append(t, buf, (size_t)n < sizeof(buf)
					   ? (size_t)n : sizeof(buf) - 1);
}

/* Channel texts and interface names hold no HTML or JSON specials
 * (http_path.c admits none), so they go in as they are. */
static void http_page_status(struct http *h, struct stats_text *t)
{
	uint64_t up = http_uptime(h);
	uint64_t total = 0;

	for (size_t i = 0; i < HTTP_NCODES; i++)
		total += h->requests[i];
	tprintf(t,
		"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		"<meta http-equiv=\"refresh\" content=\"5\">"
		"<title>mcferry http %s</title><style>"
		"body{font-family:sans-serif;margin:2em}"
		"table{border-collapse:collapse}"
		"td,th{border:1px solid #999;padding:.3em .8em;text-align:right}"
		"td.l,th.l{text-align:left}tr.live{background:#dfd}"
		"tr.idle{color:#777}</style></head><body>\n"
		"<h1>mcferry http %s</h1>\n<p id=\"summary\">up <span "
		"id=\"uptime\">%" PRIu64 "d %02" PRIu64 ":%02" PRIu64
		":%02" PRIu64 "</span>, <span id=\"viewers\">%u</span> "
		"viewers of %u max, %u connections, %" PRIu64
		" requests, %" PRIu64 " bytes out, %" PRIu64
		" slow-consumer cut-offs</p>\n",
		h->conf.name, h->conf.name, up / 86400, up / 3600 % 24,
		up / 60 % 60, up % 60, h->viewers, h->conf.max_viewers,
		h->clients, total, h->out_bytes, h->cutoffs);
	tprintf(t, "<table id=\"channels\"><tr><th class=\"l\">channel</th>"
		   "<th class=\"l\">iface</th><th class=\"l\">state</th>"
		   "<th>viewers</th><th>Mbit/s</th><th>datagrams</th>"
		   "<th>bytes in</th><th>dropped</th><th>cut-offs</th>"
		   "<th>joins</th></tr>\n");
	for (size_t i = 0; i < h->nchans; i++) {
		const struct http_chan *hc = h->chans[i];

		tprintf(t,
			"<tr class=\"%s\" id=\"ch-%s\"><td class=\"l\">"
			"<a href=\"/%s/%s\">%s</a></td><td class=\"l\">%s</td>"
			"<td class=\"l\">%s</td><td>%u</td><td>%.2f</td>"
			"<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
			"</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
			hc->mg ? "live" : "idle", hc->text,
			hc->named ? "channel" : "udp", hc->text, hc->text,
			hc->iface[0] ? hc->iface : "-",
			hc->mg ? (hc->nviewers ? "joined" : "holding") : "left",
			hc->nviewers, (double)hc->rate_bps / 1e6, hc->in_dgrams,
			hc->in_bytes, hc->dropped, hc->cutoffs, hc->joins);
	}
	if (h->nchans == 0)
		tprintf(t, "<tr><td class=\"l\" colspan=\"10\">no channel "
			   "served yet</td></tr>\n");
	tprintf(t, "</table>\n<p><a href=\"/playlist.m3u\">playlist</a> "
		   "&middot; <a href=\"/status.json\">status.json</a> &middot; "
		   "<a href=\"/metrics\">metrics</a></p>\n</body></html>\n");
}

static void http_page_json(struct http *h, struct stats_text *t)
{
	tprintf(t, "{\"http\":\"%s\",\"uptime_seconds\":%" PRIu64
		   ",\"viewers\":%u,\"connections\":%u,\"out_bytes\":%" PRIu64
		   ",\"cutoffs\":%" PRIu64 ",\"requests\":{",
		h->conf.name, http_uptime(h), h->viewers, h->clients,
		h->out_bytes, h->cutoffs);
	for (size_t i = 0; i < HTTP_NCODES; i++)
		tprintf(t, "%s\"%d\":%" PRIu64, i ? "," : "", http_codes[i],
			h->requests[i]);
	tprintf(t, "},\"channels\":[");
	for (size_t i = 0; i < h->nchans; i++) {
		const struct http_chan *hc = h->chans[i];

		tprintf(t,
			"%s{\"channel\":\"%s\",\"named\":%s,\"iface\":\"%s\","
			"\"joined\":%s,"
			"\"viewers\":%u,\"rate_bps\":%" PRIu64
			",\"in_datagrams\":%" PRIu64 ",\"in_bytes\":%" PRIu64
			",\"dropped\":%" PRIu64 ",\"cutoffs\":%" PRIu64
			",\"joins\":%" PRIu64 "}",
			i ? "," : "", hc->text, hc->named ? "true" : "false",
			hc->iface,
			hc->mg ? "true" : "false", hc->nviewers, hc->rate_bps,
			hc->in_dgrams, hc->in_bytes, hc->dropped, hc->cutoffs,
			hc->joins);
	}
	tprintf(t, "]}\n");
}

/* The Host header, when it is a plain host[:port]; else the listen
 * address. */
static void http_base(struct http_sess *s, char *out, size_t len)
{
	const char *host = s->hp.req.host;

	for (const char *p = host; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-:[]", *p))
			host = "";
	snprintf(out, len, "http://%s", *host ? host : s->h->conf.listen);
}

static void http_page_playlist(struct http_sess *s, struct stats_text *t)
{
	struct http *h = s->h;
	char base[HTTP_HOST_MAX + 16];

	http_base(s, base, sizeof(base));
	tprintf(t, "#EXTM3U\n");
	for (size_t i = 0; i < h->nchans; i++) {
		const struct http_chan *hc = h->chans[i];

		if (hc->named)
			tprintf(t, "#EXTINF:-1,%s\n%s/channel/%s\n", hc->text,
				base, hc->text);
		else
			tprintf(t, "#EXTINF:-1,%s\n%s/udp/%s%s%s\n", hc->text,
				base, hc->text, hc->iface[0] ? "?iface=" : "",
				hc->iface);
	}
}

static void http_viewer_leave(struct http_sess *s);

/* udpxy's /restart: every viewer goes, every group is left now. */
static void http_restart(struct http *h)
{
	log_warn("http=%s restart: closing %u viewers, leaving every group",
		 h->conf.name, h->viewers);
	for (size_t i = 0; i < h->nchans; i++) {
		struct http_chan *hc = h->chans[i];

		/* Viewers leave their channel now, not when their link has
		 * closed: a viewer arriving meanwhile joins afresh. */
		while (hc->viewers) {
			struct http_sess *s = hc->viewers;

			http_viewer_leave(s);
			conn_close(s->c, "restart");
		}
		if (hc->mg) {
			mgroup_close(hc->mg);
			hc->mg = NULL;
		}
	}
}

static void http_page(struct http_sess *s, const struct http_path *p)
{
	struct stats_text t = { 0 };
	const char *ctype = "text/plain; charset=utf-8";

	switch (p->route) {
	case HTTP_ROUTE_STATUS:
		http_page_status(s->h, &t);
		ctype = "text/html; charset=utf-8";
		break;
	case HTTP_ROUTE_STATUS_JSON:
		http_page_json(s->h, &t);
		ctype = "application/json";
		break;
	case HTTP_ROUTE_METRICS:
		stats_render_prometheus(&s->h->node->stats, &t);
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		break;
	case HTTP_ROUTE_PLAYLIST:
		http_page_playlist(s, &t);
		ctype = "audio/x-mpegurl";
		break;
	case HTTP_ROUTE_RESTART:
		if (!s->h->conf.udpxy) {
			http_error(s, 404, "no such path");
			return;
		}
		http_restart(s->h);
		tprintf(&t, "restarted\n");
		break;
	default:
		break;
	}
	http_log_request(s, 200, NULL);
	http_respond(s, 200, ctype, t.data ? t.data : "", t.len, NULL);
	stats_text_free(&t);
}

/* ---- viewers ---------------------------------------------------------- */

/* Join hc's group, or open a named channel's source: 0, or -1 with the
 * reason logged. */
static int http_chan_open(struct http_chan *hc)
{
	struct http *h = hc->h;
	char err[400], rname[sizeof(h->conf.name) + sizeof(hc->text) + 2];
	struct uri u;

	if (!hc->named) {
		hc->mg = mgroup_open(h->node, &hc->ch, hc->iface, h->conf.rcvbuf,
				     h->conf.hold * 1000ull, &http_mgroup_events,
				     hc, err, sizeof(err));
	} else if (uri_parse(hc->named->uri, &u, err, sizeof(err)) == 0) {
		/* Counted as relay=SERVICE/NAME: a [relay NAME] has no '/'. */
		snprintf(rname, sizeof(rname), "%s/%s", h->conf.name, hc->text);
		hc->mg = mgroup_open_relay(h->node, rname, &u,
					   h->conf.hold * 1000ull,
					   &http_mgroup_events, hc, err,
					   sizeof(err));
	}
	if (!hc->mg) {
		log_warn("http=%s channel=%s cannot %s: %s", h->conf.name,
			 hc->text, hc->named ? "open its source" : "join", err);
		return -1;
	}
	h->handles++;
	h->joins++;
	hc->joins++;
	log_info("http=%s channel=%s %s uri=%s", h->conf.name, hc->text,
		 hc->named ? "opened" : "joined", hc->mg->uri.text);
	return 0;
}

static void http_view_chan(struct http_sess *s, struct http_chan *hc,
			   bool rtp);

/* GET /udp/..., /rtp/...: the group's record, then as every channel. */
static void http_view(struct http_sess *s, const struct http_path *p)
{
	struct http *h = s->h;
	const char *iface = p->iface[0] ? p->iface : h->conf.iface;
	struct http_chan *hc;
	bool allowed = h->conf.nallow == 0;

	for (size_t i = 0; !allowed && i < h->conf.nallow; i++)
		allowed = allow_match(&h->conf.allow[i], &p->ch);
	if (!allowed) {
		http_error(s, 403, "group not allowed");
		return;
	}
	if (h->viewers >= h->conf.max_viewers) {
		http_error(s, 503, "too many viewers");
		return;
	}
	hc = http_chan_get(h, &p->ch, iface);
	if (!hc) {
		http_error(s, 503, "too many channels");
		return;
	}
	http_view_chan(s, hc, p->route == HTTP_ROUTE_RTP);
}

/* A viewer of hc (a group or a named channel): the limits, the head, the
 * first viewer opens it, every viewer takes a reference. */
static void http_view_chan(struct http_sess *s, struct http_chan *hc, bool rtp)
{
	struct http *h = s->h;
	char head[512];
	int n;

	if (h->viewers >= h->conf.max_viewers) {
		http_error(s, 503, "too many viewers");
		return;
	}
	if (hc->nviewers >= h->conf.max_chan_viewers) {
		http_error(s, 503, "too many viewers of this channel");
		return;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nServer: mcferry/%s\r\n"
		     "Content-Type: %s\r\nCache-Control: no-cache\r\n"
		     "Connection: close\r\n\r\n",
		     MCFERRY_VERSION, h->conf.content_type);
	if (s->hp.req.method == HTTP_M_HEAD) {
		/* The head a GET would get, and no join. */
		http_count(h, 200);
		http_log_request(s, 200, NULL);
		http_queue(s->c, head, (size_t)n);
		conn_kick(s->c);
		http_sess_enter(s, SESS_LINGER);
		s->deadline = uv_now(h->node->loop) + HTTP_LINGER_MS;
		return;
	}
	if (!hc->mg && http_chan_open(hc) < 0) {
		http_error(s, 503, hc->named ? "cannot open the channel's source"
					     : "cannot join the group");
		return;
	}
	mgroup_ref(hc->mg);
	http_count(h, 200);
	http_log_request(s, 200, NULL);
	http_queue(s->c, head, (size_t)n);
	conn_kick(s->c);
	if (s->c->state != CONN_OPEN) {
		mgroup_unref(hc->mg);
		return;
	}
	s->chan = hc;
	s->rtp = rtp;
	s->prev = NULL;
	s->next = hc->viewers;
	if (hc->viewers)
		hc->viewers->prev = s;
	hc->viewers = s;
	hc->nviewers++;
	h->viewers++;
	http_sess_enter(s, SESS_VIEW);
}

static void http_viewer_leave(struct http_sess *s)
{
	struct http_chan *hc = s->chan;

	if (s->prev)
		s->prev->next = s->next;
	else
		hc->viewers = s->next;
	if (s->next)
		s->next->prev = s->prev;
	hc->nviewers--;
	s->h->viewers--;
	s->chan = NULL;
	/* After a /restart the group went already. */
	if (hc->mg)
		mgroup_unref(hc->mg);
}

/* ---- sessions --------------------------------------------------------- */

static void http_request(struct http_sess *s)
{
	struct http_path p;
	struct http_chan *hc = NULL;
	char err[300];
	int rc = http_named_target(s->h, s->hp.req.target, s->hp.req.tlen, &hc);

	if (rc == -ENOENT) {
		http_error(s, 404, "no such channel");
		return;
	}
	if (rc > 0) {
		http_view_chan(s, hc, false);
		return;
	}
	rc = http_path_parse(s->hp.req.target, s->hp.req.tlen, &p, err,
			     sizeof(err));
	if (rc == -ENOENT)
		http_error(s, 404, err);
	else if (rc < 0)
		http_error(s, 400, err);
	else if (p.route == HTTP_ROUTE_UDP || p.route == HTTP_ROUTE_RTP)
		http_view(s, &p);
	else
		http_page(s, &p);
}

static void http_on_data(struct conn *c, const uint8_t *p, size_t n)
{
	struct http_sess *s = c->data;
	int rc;

	/* After the head, whatever a client sends is read and dropped; its
	 * EOF still closes the connection (conn.c). */
	if (s->state != SESS_HEAD)
		return;
	rc = http_parser_feed(&s->hp, (const char *)p, n);
	if (rc < 0)
		http_error(s, -rc, "bad request head");
	else if (rc > 0)
		http_request(s);
}

static void http_on_closed(struct conn *c)
{
	struct http_sess *s = c->data;
	struct http *h = s->h;

	if (s->chan)
		http_viewer_leave(s);
	conn_list_del(&h->conns, c);
	free(s);
	http_release(h);
}

static const struct conn_handler http_conn_handler = {
	.on_data = http_on_data,
	.on_closed = http_on_closed,
};

static struct conn *http_on_accept(struct listener *ls, struct link *l)
{
	struct http *h = ls->data;
	struct conn_conf cf = {
		.what = "client",
		.framing = FRAMING_RAW,
		.sends_data = true,
		.rx_framed = CONN_RX_DISCARD,
		.rx_raw = CONN_RX_RAW,
		.queue = h->conf.queue,
		.sndbuf = HTTP_SNDBUF,
	};
	struct http_sess *s;
	struct conn *c;

	if (h->clients >= HTTP_MAX_CONNS) {
		h->refused++;
		log_warn("http=%s refused peer=%s reason=too-many-connections "
			 "conns=%u", h->conf.name, l->peer, h->clients);
		return NULL;
	}
	c = conn_new(&h->own, l, &cf, &http_conn_handler, h);
	s = xcalloc(1, sizeof(*s));
	s->c = c;
	s->h = h;
	s->state = SESS_HEAD;
	s->deadline = uv_now(h->node->loop) + HTTP_REQUEST_MS;
	http_parser_init(&s->hp);
	c->data = s;
	h->handles++;
	conn_list_add(&h->conns, c);
	return c;
}

/* Deadlines of heads and lingering responses; channel rates. */
static void http_on_tick(uv_timer_t *t)
{
	struct http *h = t->data;
	uint64_t now = uv_now(h->node->loop);

	for (struct conn *c = h->conns, *next; c; c = next) {
		struct http_sess *s = c->data;

		next = c->next;
		if (c->state != CONN_OPEN || now < s->deadline)
			continue;
		if (s->state == SESS_HEAD)
			http_error(s, 408, "no complete request in time");
		else if (s->state == SESS_LINGER)
			conn_close(c, c->q.bytes ? "slow-response" : "done");
	}
	for (size_t i = 0; i < h->nchans; i++) {
		struct http_chan *hc = h->chans[i];

		if (now - hc->rate_at < 1000)
			continue;
		hc->rate_bps = (hc->in_bytes - hc->rate_prev) * 8000 /
			       (now - hc->rate_at ? now - hc->rate_at : 1);
		hc->rate_prev = hc->in_bytes;
		hc->rate_at = now;
	}
}

static void http_on_handle_closed(uv_handle_t *hd)
{
	http_release(hd->data);
}

static void http_on_listener_closed(struct listener *ls)
{
	http_release(ls->data);
}

int http_start(struct http *h, char *err, size_t errlen)
{
	int rc;

	h->started_ms = uv_now(h->node->loop);
	h->started_wall = time(NULL);
	rc = http_listen_uri(&h->conf, &h->luri, err, errlen);
	if (rc < 0)
		return rc;
	rc = http_stats_add(h, err, errlen);
	if (rc < 0)
		return rc;
	http_chans_named(h);
	h->ls.kind = "http";
	h->ls.name = h->conf.name;
	h->ls.on_accept = http_on_accept;
	h->ls.on_closed = http_on_listener_closed;
	h->ls.data = h;
	h->handles++;
	rc = listener_open(&h->ls, h->node->loop, &h->luri, false, err, errlen);
	if (rc < 0) {
		/* A handle that was made closes and releases; else drop
		 * the reference taken for it. */
		if (h->ls.handles == 0)
			h->handles--;
		return rc;
	}
	h->listening = true;
	uv_timer_init(h->node->loop, &h->tick);
	uv_timer_init(h->node->loop, &h->pace);
	h->tick.data = h->pace.data = h;
	h->handles += 2;
	uv_timer_start(&h->tick, http_on_tick, HTTP_TICK_MS, HTTP_TICK_MS);
	return 0;
}

void http_stop(struct http *h)
{
	if (h->closing)
		return;
	h->closing = true;
	/* The counters go now, not when the last handle has closed: a
	 * service of the same name may start at once (a reload restarting
	 * a changed [http NAME]), as relay_stop does. */
	stats_remove_owner(&h->node->stats, h);
	for (size_t i = 0; i < h->nchans; i++)
		stats_remove_owner(&h->node->stats, h->chans[i]);
	if (h->listening) {
		listener_close(&h->ls);
		uv_close((uv_handle_t *)&h->tick, http_on_handle_closed);
		uv_close((uv_handle_t *)&h->pace, http_on_handle_closed);
	}
	for (struct conn *c = h->conns; c; c = c->next)
		conn_close(c, "shutdown");
	for (size_t i = 0; i < h->nchans; i++) {
		if (h->chans[i]->mg) {
			mgroup_close(h->chans[i]->mg);
			h->chans[i]->mg = NULL;
		}
	}
	http_release(h);
}

void http_reload(struct http *h)
{
	char err[512];
	int rc;

	if (h->ls.closing || !h->ls.conf.ops)
		return;
	/* A named channel's source open now re-reads its certificates as a
	 * relay's does; the next open reads them anyway. */
	for (size_t i = 0; i < h->nchans; i++)
		if (h->chans[i]->mg && h->chans[i]->mg->relay)
			relay_reload(h->chans[i]->mg->relay);
	rc = link_conf_reload(&h->ls.conf, err, sizeof(err));
	if (rc < 0)
		log_error("http=%s certificates not reloaded, keeping the old "
			  "ones: %s", h->conf.name, err);
	else if (rc > 0)
		log_info("http=%s certificates reloaded", h->conf.name);
}

void http_log_stats(const struct http *h)
{
	struct stats_text t = { 0 };

	stats_render_line(&h->node->stats, h, &t);
	if (t.len)
		log_stats("%s", t.data);
	stats_text_reset(&t);
	for (size_t i = 0; i < h->nchans; i++) {
		stats_render_line(&h->node->stats, h->chans[i], &t);
		if (t.len)
			log_stats("%s", t.data);
		stats_text_reset(&t);
	}
	stats_text_free(&t);
}
