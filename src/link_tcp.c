/* link_tcp.c - TCP as a link (link.h): a libuv stream; listening too.
 * The only file, with net.c, that calls uv_tcp_* and uv_stream_*. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "link.h"
#include "link_tcp.h"
#include "listener.h"
#include "net.h"
#include "util.h"

/* A peer that vanished without a FIN or RST is noticed within about a
 * minute rather than never (session keepalive does better on hub links). */
#define LINK_TCP_KEEPALIVE_SECS 15
/* Data unacknowledged this long (a black-holed peer) closes the link,
 * rather than after the kernel's ~15 minutes of retransmissions. Above
 * the hub heartbeat (FRAME_DEAD_MS + FRAME_TICK_MS = 2.75 s), which
 * notices a silent hub link first; this is for links without one. It
 * also bounds keepalive probing (TCP_USER_TIMEOUT applies to it). */
#define LINK_TCP_USER_TIMEOUT_MS 10000
/* Out of descriptors: how long a listener stops accepting. */
#define LINK_TCP_NOFILE_BACKOFF_MS 100
/* Peers taken off the backlog and closed per shedding, at most. */
#define LINK_TCP_NOFILE_BATCH 64
/* Descriptors a listener leaves free for everything else (live links'
 * timers, a dialer's reconnect, libuv's own spare): a peer accepted into
 * one of the last ones is closed as if accept had failed with EMFILE. */
#define LINK_TCP_FD_RESERVE 16

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
void link_tcp_socket_options(uv_tcp_t *tcp)
{
	unsigned ms = LINK_TCP_USER_TIMEOUT_MS;
	uv_os_fd_t fd;

	uv_tcp_nodelay(tcp, 1);
	uv_tcp_keepalive(tcp, 1, LINK_TCP_KEEPALIVE_SECS);
	if (uv_fileno((uv_handle_t *)tcp, &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms,
				 sizeof(ms));
}

static void link_tcp_opened(struct link_tcp *t)
{
	link_tcp_socket_options(&t->tcp);
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

/* A listening socket and what keeps it from spinning, or starving live
 * links, when the process runs out of descriptors:
 *  - reserve: a peer accepted into one of the last LINK_TCP_FD_RESERVE
 *    descriptors (descriptors are handed out lowest first, so its number
 *    says how many are left) is closed at once, and so is every peer
 *    waiting in the backlog ("shedding": they learn at once, and are not
 *    left in the backlog). libuv sheds silently on EMFILE with a spare of
 *    its own; this comes first, so it is counted and logged.
 *  - spare: /dev/null, opened at listen. If accept fails with EMFILE or
 *    ENFILE all the same (libuv's spare gone, another thread), it is
 *    closed, the backlog is shed, and it is opened again.
 *  - backoff: after shedding, for LINK_TCP_NOFILE_BACKOFF_MS, a new peer
 *    is left unaccepted, which makes libuv stop reading the listener
 *    until the timer takes it: a flood costs one wake-up per back-off,
 *    not one per peer. */
struct link_tcp_server {
	uv_tcp_t tcp;             /* first: ls->tdata is also the handle */
	const struct link_tcp_accept *acc; /* the transport's accept */
	uv_timer_t backoff;
	int spare;
	int fd_limit;             /* RLIMIT_NOFILE at listen */
	bool paused;              /* in a back-off */
	bool parked;              /* a peer waits for uv_accept */
	int open;                 /* handles not yet closed */
};

static void link_tcp_on_backoff(uv_timer_t *tm);

/* Accept and close what waits in the backlog, then back off. */
static void link_tcp_shed(struct listener *ls, struct link_tcp_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uv_os_fd_t lfd;
	char peer[LINK_PEER_MAX];
	int fd;

	if (uv_fileno((uv_handle_t *)&srv->tcp, &lfd) == 0) {
		for (int i = 0; i < LINK_TCP_NOFILE_BATCH; i++) {
			len = sizeof(ss);
			fd = accept4(lfd, (struct sockaddr *)&ss, &len,
				     SOCK_CLOEXEC);
			if (fd < 0)
				break;
			close(fd);
			addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
			listener_refused(ls, LISTENER_NO_DESCRIPTORS, peer);
		}
	}
	srv->paused = true;
	uv_timer_start(&srv->backoff, link_tcp_on_backoff,
		       LINK_TCP_NOFILE_BACKOFF_MS, 0);
}

static void link_tcp_accept(struct listener *ls, struct link_tcp_server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_tcp_t *tcp;
	uv_os_fd_t fd;
	struct link *l = srv->acc->create(ls, &tcp);

	if (uv_accept((uv_stream_t *)&srv->tcp, (uv_stream_t *)tcp) < 0) {
		link_close(l);
		return;
	}
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, l->peer, sizeof(l->peer));
	if (srv->fd_limit > 2 * LINK_TCP_FD_RESERVE &&
	    uv_fileno((uv_handle_t *)tcp, &fd) == 0 &&
	    fd >= srv->fd_limit - LINK_TCP_FD_RESERVE) {
		listener_refused(ls, LISTENER_NO_DESCRIPTORS, l->peer);
		link_close(l);
		link_tcp_shed(ls, srv);
		return;
	}
	srv->acc->accepted(ls, l);
}

static void link_tcp_on_backoff(uv_timer_t *tm)
{
	struct listener *ls = tm->data;
	struct link_tcp_server *srv = ls->tdata;

	srv->paused = false;
	if (ls->closing)
		return;
	if (srv->parked) {
		srv->parked = false;
		/* uv_accept starts reading the listener again. */
		link_tcp_accept(ls, srv);
	}
}

/* EMFILE or ENFILE: see struct link_tcp_server. */
static void link_tcp_nofile(struct listener *ls, struct link_tcp_server *srv)
{
	if (srv->spare < 0) {
		listener_refused(ls, LISTENER_NO_DESCRIPTORS, "?");
		srv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return;
	}
	close(srv->spare);
	srv->spare = -1;
	link_tcp_shed(ls, srv);
	srv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void link_tcp_on_connection(uv_stream_t *server, int status)
{
	struct listener *ls = server->data;
	struct link_tcp_server *srv = ls->tdata;

	if (ls->closing)
		return;
	if (status == UV_EMFILE || status == UV_ENFILE) {
		link_tcp_nofile(ls, srv);
		return;
	}
	if (status < 0)
		return;
	if (srv->paused) {
		srv->parked = true;
		return;
	}
	link_tcp_accept(ls, srv);
}

int link_tcp_listen_on(struct listener *ls, const struct link_tcp_accept *acc)
{
	struct link_tcp_server *srv = xcalloc(1, sizeof(*srv));
	struct rlimit rl;
	int rc;

	ls->tdata = srv;
	srv->acc = acc;
	srv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
				rl.rlim_cur < (rlim_t)INT32_MAX
			? (int)rl.rlim_cur
			: INT32_MAX;
	uv_timer_init(ls->loop, &srv->backoff);
	srv->backoff.data = ls;
	srv->open = 2;
	rc = net_listen(ls->loop, &srv->tcp, ls->conf.uri, ls->reuseport,
			link_tcp_on_connection);
	srv->tcp.data = ls;
	return rc;
}

static void link_tcp_on_listen_closed(uv_handle_t *h)
{
	struct listener *ls = h->data;
	struct link_tcp_server *srv = ls->tdata;

	if (--srv->open > 0)
		return;
	if (srv->spare >= 0)
		close(srv->spare);
	free(srv);
	ls->tdata = NULL;
	listener_handle_closed(ls);
}

void link_tcp_listen_close(struct listener *ls)
{
	struct link_tcp_server *srv = ls->tdata;

	uv_close((uv_handle_t *)&srv->backoff, link_tcp_on_listen_closed);
	uv_close((uv_handle_t *)&srv->tcp, link_tcp_on_listen_closed);
}

static struct link *link_tcp_accept_create(struct listener *ls,
					   uv_tcp_t **tcp)
{
	struct link_tcp *t = link_tcp_new(ls->loop, &ls->conf);

	*tcp = &t->tcp;
	return &t->base;
}

static void link_tcp_accepted(struct listener *ls, struct link *l)
{
	link_tcp_opened((struct link_tcp *)l);
	l->ready = true;
	listener_accepted(ls, l);
}

static const struct link_tcp_accept link_tcp_accept_ops = {
	.create = link_tcp_accept_create,
	.accepted = link_tcp_accepted,
};

static int link_tcp_listen(struct listener *ls)
{
	return link_tcp_listen_on(ls, &link_tcp_accept_ops);
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
