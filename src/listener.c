/* listener.c - listen, accept, the list of sessions; see listener.h. */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "util.h"

/* Fallbacks for a URI made without the option table's defaults. */
#define LISTENER_MAX_PENDING 256
#define LISTENER_MAX_PENDING_PER_ADDR 32
#define LISTENER_HELLO_MS 5000

static const char *const refusal_names[LISTENER_NREFUSALS] = {
	[LISTENER_TOO_MANY_CONNS] = "too-many-conns",
	[LISTENER_TOO_MANY_PENDING] = "too-many-pending",
	[LISTENER_TOO_MANY_PENDING_ADDR] = "too-many-pending-per-addr",
	[LISTENER_NO_DESCRIPTORS] = "no-descriptors",
};

/* The peer's authenticated identity for a log line (peer-supplied text:
 * a certificate's name): printable ASCII but blank, '"' and '\\' as is,
 * every other byte as \\xHH, "-" when there is none. A static copy until
 * log.c has one for everybody. */
static const char *listener_identity(const struct link *l, char *out, size_t n)
{
	const char *s = l->identity;
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

static void listener_check_closed(struct listener *ls)
{
	if (ls->closing && ls->handles == 0 && ls->on_closed)
		ls->on_closed(ls);
}

int listener_open(struct listener *ls, uv_loop_t *loop, const struct uri *u,
		  bool reuseport, char *err, size_t errlen)
{
	int rc;

	ls->loop = loop;
	ls->reuseport = reuseport;
	ls->nconns = 0;
	ls->closing = false;
	ls->max_conns = u->max_conns   ? u->max_conns
			: ls->max_conns ? ls->max_conns
					: LISTENER_MAX_CONNS;
	ls->max_pending = u->max_pending ? u->max_pending
					 : LISTENER_MAX_PENDING;
	ls->max_pending_per_addr = u->max_pending_per_addr
					   ? u->max_pending_per_addr
					   : LISTENER_MAX_PENDING_PER_ADDR;
	ls->hello_ms = u->hello_timeout ? u->hello_timeout * 1000ull
					: LISTENER_HELLO_MS;
	rc = link_conf_open(&ls->conf, u, err, errlen);
	if (rc < 0)
		goto fail;
	ls->handles = 1;
	rc = ls->conf.ops->listen(ls);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", u->text,
			 uv_strerror(rc));
		/* The handle was made; it closes like any other. */
		ls->closing = true;
		ls->conf.ops->listen_close(ls);
		goto fail;
	}
	log_info("%s=%s listening uri=%s max_conns=%u max_pending=%u "
		 "max_pending_per_addr=%u hello_timeout_ms=%llu",
		 ls->kind, ls->name, u->text, ls->max_conns, ls->max_pending,
		 ls->max_pending_per_addr, (unsigned long long)ls->hello_ms);
	return 0;
fail:
	ls->closing = true;
	return rc;
}

void listener_close(struct listener *ls)
{
	if (ls->closing)
		return;
	ls->closing = true;
	ls->conf.ops->listen_close(ls);
}

/* The address part of "addr:port" or "[addr]:port", as a key. */
static void listener_addr_key(const char *peer, char *key)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (n >= LINK_PEER_MAX)
		n = LINK_PEER_MAX - 1;
	memcpy(key, peer, n);
	key[n] = '\0';
}

/* The pending entry of peer's address; made (n = 0) when make is set,
 * else NULL when there is none. */
static struct listener_addr *listener_addr_get(struct listener *ls,
					       const char *peer, bool make,
					       struct listener_addr ***slot)
{
	char key[LINK_PEER_MAX];
	uint32_t hash = 2166136261u;
	struct listener_addr **pp, *a;

	listener_addr_key(peer, key);
	for (const char *p = key; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	pp = &ls->pend[hash % LISTENER_ADDR_BUCKETS];
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->addr, key))
			break;
	if (!*pp && make) {
		a = xcalloc(1, sizeof(*a));
		strcpy(a->addr, key);
		*pp = a;
	}
	if (slot)
		*slot = pp;
	return *pp;
}

void listener_refused(struct listener *ls, enum listener_refusal why,
		      const char *peer)
{
	uint64_t now = uv_now(ls->loop);

	ls->refused[why]++;
	if (ls->refused_at[why] && now - ls->refused_at[why] < 1000)
		return;
	log_warn("%s=%s refused reason=%s peer=%s count=%llu since_last=%llu "
		 "conns=%u pending=%u",
		 ls->kind, ls->name, refusal_names[why], peer,
		 (unsigned long long)ls->refused[why],
		 (unsigned long long)(ls->refused[why] -
				      ls->refused_logged[why]),
		 ls->nconns, ls->npending);
	ls->refused_logged[why] = ls->refused[why];
	ls->refused_at[why] = now ? now : 1;
}

void listener_accepted(struct listener *ls, struct link *l)
{
	/* A peer that must say HELLO (or finish a handshake) first holds a
	 * pending slot until it has. */
	enum uri_framing fr = ls->conf.uri->framing;
	bool pends = !l->ready || fr == FRAMING_DATAGRAM ||
		     (fr == FRAMING_AUTO && !ls->viewers);
	struct listener_addr *a = NULL;
	char id[4 * LINK_IDENTITY_MAX + 1];
	struct conn *c;

	if (ls->closing) {
		link_close(l);
		return;
	}
	if (pends)
		a = listener_addr_get(ls, l->peer, false, NULL);
	if (ls->nconns >= ls->max_conns ||
	    (pends && ls->npending >= ls->max_pending) ||
	    (a && a->n >= ls->max_pending_per_addr)) {
		listener_refused(ls,
				 ls->nconns >= ls->max_conns
					 ? LISTENER_TOO_MANY_CONNS
				 : ls->npending >= ls->max_pending
					 ? LISTENER_TOO_MANY_PENDING
					 : LISTENER_TOO_MANY_PENDING_ADDR,
				 l->peer);
		link_close(l);
		return;
	}
	c = ls->on_accept(ls, l);
	if (!c) {
		link_close(l);
		return;
	}
	ls->accepted++;
	ls->nconns++;
	c->ls = ls;
	if (pends) {
		a = listener_addr_get(ls, l->peer, true, NULL);
		a->n++;
		ls->npending++;
		c->pending = true;
	}
	/* A transport with a handshake (TLS) knows the identity only once
	 * it is ready: listener_ready says it then. */
	log_info("%s=%s c=%u %s connected peer=%s via=%s conns=%u%s%s",
		 ls->kind, ls->name, c->id, c->what, l->peer, l->ops->name,
		 ls->nconns, l->ready ? " identity=" : "",
		 l->ready ? listener_identity(l, id, sizeof(id)) : "");
	conn_accept(c);
}

void listener_pending_end(struct listener *ls, struct conn *c)
{
	struct listener_addr **pp, *a;

	if (!c->pending)
		return;
	c->pending = false;
	ls->npending--;
	a = listener_addr_get(ls, c->link->peer, false, &pp);
	if (a && --a->n == 0) {
		*pp = a->next;
		free(a);
	}
}

void listener_ready(struct listener *ls, struct conn *c)
{
	char id[4 * LINK_IDENTITY_MAX + 1];

	log_info("%s=%s c=%u %s authenticated peer=%s via=%s identity=%s",
		 ls->kind, ls->name, c->id, c->what, c->link->peer,
		 c->link->ops->name, listener_identity(c->link, id, sizeof(id)));
}

void listener_forget(struct listener *ls, struct conn *c)
{
	listener_pending_end(ls, c);
	ls->nconns--;
	c->ls = NULL;
}

void listener_handle_closed(struct listener *ls)
{
	ls->handles--;
	if (ls->handles == 0)
		link_conf_close(&ls->conf);
	listener_check_closed(ls);
}
