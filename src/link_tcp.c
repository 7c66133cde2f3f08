/* link_tcp.c - TCP as a link (link.h): a libuv stream; listening too.
 * The only file, with net.c, that calls uv_tcp_* and uv_stream_*. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "link.h"
#include "link_tcp.h"
#include "listener.h"
#include "net.h"
#include "util.h"

/* A peer that vanished without a FIN or RST is noticed within about a
 * minute rather than never (session keepalive does better on hub links). */
#define LINK_TCP_KEEPALIVE_SECS 15

struct link_tcp {
	struct link base;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
};

static struct link_tcp *link_tcp_new(uv_loop_t *loop,
				     const struct link_conf *conf);

static void link_tcp_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct link *l = h->data;
	uint8_t *p;
	size_t len;

	l->ev->on_alloc(l, &p, &len);
	b->base = (char *)p;
	b->len = len;
}

static void link_tcp_on_read(uv_stream_t *s, ssize_t nread,
			     const uv_buf_t *b)
{
	struct link *l = s->data;

	if (nread != 0 && !l->closing)
		l->ev->on_read(l, nread);
}

static int link_tcp_read_start(struct link *l)
{
	struct link_tcp *t = (struct link_tcp *)l;

	return uv_read_start((uv_stream_t *)&t->tcp, link_tcp_on_alloc,
			     link_tcp_on_read);
}

static int link_tcp_try_write(struct link *l, const struct iovec *iov,
			      unsigned n)
{
	struct link_tcp *t = (struct link_tcp *)l;

	/* uv_buf_t is laid out as struct iovec on Unix (libuv documents
	 * it), so the vector goes to writev unchanged. */
	return uv_try_write((uv_stream_t *)&t->tcp, (const uv_buf_t *)iov, n);
}

static void link_tcp_on_write(uv_write_t *req, int status)
{
	struct link *l = req->data;

	l->ev->on_write(l, status);
}

static int link_tcp_write(struct link *l, const struct iovec *iov, unsigned n)
{
	struct link_tcp *t = (struct link_tcp *)l;

	t->wreq.data = l;
	return uv_write(&t->wreq, (uv_stream_t *)&t->tcp,
			(const uv_buf_t *)iov, n, link_tcp_on_write);
}

static void link_tcp_set_buffers(struct link *l, uint32_t sndbuf,
				 uint32_t rcvbuf)
{
	struct link_tcp *t = (struct link_tcp *)l;
	int v;

	if (sndbuf) {
		v = (int)sndbuf;
		uv_send_buffer_size((uv_handle_t *)&t->tcp, &v);
	}
	if (rcvbuf) {
		v = (int)rcvbuf;
		uv_recv_buffer_size((uv_handle_t *)&t->tcp, &v);
	}
}

/* Options every open TCP link gets. */
static void link_tcp_opened(struct link_tcp *t)
{
	uv_tcp_nodelay(&t->tcp, 1);
	uv_tcp_keepalive(&t->tcp, 1, LINK_TCP_KEEPALIVE_SECS);
}

static void link_tcp_on_connect(uv_connect_t *req, int status)
{
	struct link_tcp *t = req->data;

	if (t->base.closing)
		return;
	if (status == 0)
		link_tcp_opened(t);
	t->base.ev->on_connect(&t->base, status);
}

static int link_tcp_connect(struct link *l, const struct sockaddr *sa)
{
	struct link_tcp *t = (struct link_tcp *)l;

	addr_format(sa, l->peer, sizeof(l->peer));
	t->creq.data = t;
	return uv_tcp_connect(&t->creq, &t->tcp, sa, link_tcp_on_connect);
}

static void link_tcp_on_closed(uv_handle_t *h)
{
	struct link *l = h->data;

	if (l->ev && l->ev->on_close)
		l->ev->on_close(l);
	free(l);
}

static void link_tcp_close(struct link *l)
{
	struct link_tcp *t = (struct link_tcp *)l;

	uv_close((uv_handle_t *)&t->tcp, link_tcp_on_closed);
}

static struct link *link_tcp_create(uv_loop_t *loop,
				    const struct link_conf *conf)
{
	return &link_tcp_new(loop, conf)->base;
}

/* ---- listening ------------------------------------------------------ */

static void link_tcp_on_connection(uv_stream_t *server, int status)
{
	struct listener *ls = server->data;
	struct link_tcp *t;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (status < 0 || ls->closing)
		return;
	t = link_tcp_new(ls->loop, &ls->conf);
	if (uv_accept(server, (uv_stream_t *)&t->tcp) < 0) {
		link_close(&t->base);
		return;
	}
	if (uv_tcp_getpeername(&t->tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, t->base.peer,
			    sizeof(t->base.peer));
	link_tcp_opened(t);
	t->base.ready = true;
	listener_accepted(ls, &t->base);
}

int link_tcp_listen_on(struct listener *ls, uv_connection_cb cb)
{
	uv_tcp_t *srv = xcalloc(1, sizeof(*srv));
	int rc;

	ls->tdata = srv;
	rc = net_listen(ls->loop, srv, ls->conf.uri, ls->reuseport, cb);
	srv->data = ls;
	return rc;
}

static int link_tcp_listen(struct listener *ls)
{
	return link_tcp_listen_on(ls, link_tcp_on_connection);
}

static void link_tcp_on_listen_closed(uv_handle_t *h)
{
	struct listener *ls = h->data;

	free(h);
	ls->tdata = NULL;
	listener_handle_closed(ls);
}

void link_tcp_listen_close(struct listener *ls)
{
	uv_close((uv_handle_t *)ls->tdata, link_tcp_on_listen_closed);
}

const struct link_ops link_tcp_ops = {
	.name = "tcp",
	.caps = LINK_CAP_STREAM,
	.listen = link_tcp_listen,
	.listen_close = link_tcp_listen_close,
	.create = link_tcp_create,
	.connect = link_tcp_connect,
	.read_start = link_tcp_read_start,
	.try_write = link_tcp_try_write,
	.write = link_tcp_write,
	.set_buffers = link_tcp_set_buffers,
	.close = link_tcp_close,
};

static struct link_tcp *link_tcp_new(uv_loop_t *loop,
				     const struct link_conf *conf)
{
	struct link_tcp *t = xcalloc(1, sizeof(*t));

	link_init(&t->base, &link_tcp_ops, conf, loop);
	uv_tcp_init(loop, &t->tcp);
	t->tcp.data = t;
	return t;
}
