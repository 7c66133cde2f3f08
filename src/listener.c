/* listener.c - listen, accept, the list of sessions; see listener.h. */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"

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
	log_info("%s=%s listening uri=%s", ls->kind, ls->name, u->text);
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

void listener_accepted(struct listener *ls, struct link *l)
{
	char id[4 * LINK_IDENTITY_MAX + 1];
	struct conn *c;

	if (ls->closing) {
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
	/* A transport with a handshake (TLS) knows the identity only once
	 * it is ready: listener_ready says it then. */
	log_info("%s=%s c=%u %s connected peer=%s via=%s conns=%u%s%s",
		 ls->kind, ls->name, c->id, c->what, l->peer, l->ops->name,
		 ls->nconns, l->ready ? " identity=" : "",
		 l->ready ? listener_identity(l, id, sizeof(id)) : "");
	conn_accept(c);
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
