/* listener.c - listen, accept, the list of sessions; see listener.h. */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"

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
	log_info("%s=%s c=%u %s connected peer=%s via=%s conns=%u", ls->kind,
		 ls->name, c->id, c->what, l->peer, l->ops->name, ls->nconns);
	conn_accept(c);
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
