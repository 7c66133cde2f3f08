/* link_udp.c - unicast UDP as a link (link.h, LINK_CAP_MESSAGES |
 * LINK_CAP_KEEPALIVE): udp://HOST:PORT?framing=datagram connects a
 * socket, udp://@[ADDR]:PORT?framing=datagram listens and tells its peers
 * apart by address. No retransmission and no connection: the session's
 * PING/PONG says when a peer has gone (conn.c, LINK_CAP_KEEPALIVE).
 *
 * Each datagram is a 4-byte sequence number of the link (per direction)
 * and one message: a link frame or a fragment of one (frag.h).
 *
 *   +---------------------------------+------------------------------+
 *   |  link sequence (u32, +1 each)   |  frame or fragment ...       |
 *   +---------------------------------+------------------------------+
 *
 * The receiver counts gaps in it as lost datagrams and those that come
 * after a later one as reordered (and not lost after all). A message is at
 * most mtu= - 4 bytes, so a datagram is never longer than mtu=.
 *
 * A listening socket makes a link for a new address only when its
 * datagram is a HELLO frame (frame_sniff_hello), as TCP accepts on a SYN.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "frame.h"
#include "link.h"
#include "listener.h"
#include "stats.h"
#include "util.h"

#define LINK_UDP_SEQ 4
/* Peers one listening socket takes at once; a datagram from one more is
 * dropped (and a stray datagram's peer is closed at its first bytes: it
 * sent no HELLO). */
#define LINK_UDP_MAX_PEERS 1024
#define LINK_UDP_RX_MAX 65536

struct link_udp;

/* A socket: a connecting link's own, or a listener's, shared by its
 * peers (it closes when the listener and every peer have let go). */
struct udp_sock {
	uv_udp_t udp;
	int refs;
	bool listening;
	struct listener *ls;       /* while it listens */
	struct link_udp *peers;    /* listening: the links by peer */
	unsigned npeers;
	uint8_t rx[LINK_UDP_RX_MAX];
};

struct link_udp {
	struct link base;
	struct udp_sock *s;
	struct sockaddr_storage peer_addr;
	bool connected;            /* connect side: the socket is connected */
	bool reading;
	uint32_t tx_seq;
	uint32_t rx_next;
	bool rx_any;
	uint64_t rx_dgrams, tx_dgrams, lost, reordered;
	uv_timer_t timer;          /* connect: on_connect; close: on_close */
	uv_udp_send_t sreq;
	uint8_t *pend;             /* the message link_write holds (mtu=) */
	uint32_t npend;
	struct link_udp *prev, *next;
};

static bool link_udp_same(const struct sockaddr_storage *a,
			  const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

static void link_udp_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void link_udp_sock_unref(struct udp_sock *s)
{
	if (--s->refs == 0)
		uv_close((uv_handle_t *)&s->udp, link_udp_sock_closed);
}

static struct udp_sock *link_udp_sock_new(uv_loop_t *loop)
{
	struct udp_sock *s = xcalloc(1, sizeof(*s));

	uv_udp_init(loop, &s->udp);
	s->udp.data = s;
	s->refs = 1;
	return s;
}

static struct link_udp *link_udp_new(uv_loop_t *loop,
				     const struct link_conf *conf,
				     struct udp_sock *s);

/* One datagram for l: count its sequence number, hand on the message. */
static void link_udp_deliver(struct link_udp *t, const uint8_t *d, size_t n)
{
	struct link *l = &t->base;
	uint8_t *p;
	size_t len;
	uint32_t seq;

	if (!t->reading || l->closing || n < LINK_UDP_SEQ)
		return;
	seq = get_be32(d);
	t->rx_dgrams++;
	if (!t->rx_any || seq == t->rx_next) {
		t->rx_any = true;
		t->rx_next = seq + 1;
	} else if ((int32_t)(seq - t->rx_next) > 0) {
		t->lost += seq - t->rx_next;
		t->rx_next = seq + 1;
	} else {
		/* Counted lost when the later one came; it was not. */
		t->reordered++;
		if (t->lost)
			t->lost--;
	}
	l->ev->on_alloc(l, &p, &len);
	if (n - LINK_UDP_SEQ > len)
		return;
	memcpy(p, d + LINK_UDP_SEQ, n - LINK_UDP_SEQ);
	l->ev->on_read(l, (ssize_t)(n - LINK_UDP_SEQ));
}

static void link_udp_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct udp_sock *s = h->data;

	b->base = (char *)s->rx;
	b->len = sizeof(s->rx);
}

static void link_udp_on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *b,
			     const struct sockaddr *addr, unsigned flags)
{
	struct udp_sock *s = u->data;
	struct link_udp *t;

	if (nread == 0 && !addr)
		return;
	if (!s->listening) {
		t = s->peers;
		if (!t || t->base.closing || !t->reading)
			return;
		if (nread < 0) {
			/* ICMP port unreachable: nobody listens there. */
			t->base.ev->on_read(&t->base, nread);
			return;
		}
		link_udp_deliver(t, s->rx, (size_t)nread);
		return;
	}
	if (nread < 0 || !addr || !s->ls || (flags & UV_UDP_PARTIAL))
		return;
	for (t = s->peers; t; t = t->next)
		if (link_udp_same(&t->peer_addr, addr))
			break;
	if (!t) {
		struct listener *ls = s->ls;

		/* A peer is accepted on its HELLO, as TCP on a SYN: stray
		 * datagrams, and those of a peer we closed that has not
		 * noticed yet, make no link (it times out and says HELLO
		 * again). */
		if (s->npeers >= LINK_UDP_MAX_PEERS || nread < LINK_UDP_SEQ ||
		    frame_sniff_hello(s->rx + LINK_UDP_SEQ,
				      (size_t)nread - LINK_UDP_SEQ) <= 0)
			return;
		t = link_udp_new(ls->loop, &ls->conf, s);
		memcpy(&t->peer_addr, addr,
		       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
		addr_format(addr, t->base.peer, sizeof(t->base.peer));
		t->base.ready = true;
		listener_accepted(ls, &t->base);
	}
	link_udp_deliver(t, s->rx, (size_t)nread);
}

static int link_udp_read_start(struct link *l)
{
	struct link_udp *t = (struct link_udp *)l;

	t->reading = true;
	if (t->s->listening)
		return 0;
	return uv_udp_recv_start(&t->s->udp, link_udp_on_alloc,
				 link_udp_on_recv);
}

/* seq + the message's pieces, as uv_bufs; the total in *len. */
static unsigned link_udp_bufs(struct link_udp *t, uint8_t *seq,
			      const struct iovec *iov, unsigned n,
			      uv_buf_t *bufs, size_t *len)
{
	size_t total = 0;

	put_be32(seq, t->tx_seq);
	bufs[0] = uv_buf_init((char *)seq, LINK_UDP_SEQ);
	for (unsigned i = 0; i < n; i++) {
		bufs[i + 1] = uv_buf_init(iov[i].iov_base,
					  (unsigned)iov[i].iov_len);
		total += iov[i].iov_len;
	}
	*len = total;
	return n + 1;
}

static const struct sockaddr *link_udp_dest(struct link_udp *t)
{
	return t->s->listening ? (const struct sockaddr *)&t->peer_addr : NULL;
}

static int link_udp_try_write(struct link *l, const struct iovec *iov,
			      unsigned n)
{
	struct link_udp *t = (struct link_udp *)l;
	uint8_t seq[LINK_UDP_SEQ];
	uv_buf_t bufs[72];
	size_t len;
	unsigned nb;
	int rc;

	if (n + 1 > sizeof(bufs) / sizeof(bufs[0]))
		return UV_EINVAL;
	nb = link_udp_bufs(t, seq, iov, n, bufs, &len);
	if (len > link_max_message(l))
		return UV_EMSGSIZE;
	rc = uv_udp_try_send(&t->s->udp, bufs, nb, link_udp_dest(t));
	if (rc == UV_EAGAIN || (rc == UV_ECONNREFUSED && !t->s->listening))
		return rc;
	/* Any other send error is a datagram lost on the way, as UDP
	 * loses them: the peer counts the gap. */
	t->tx_seq++;
	if (rc < 0)
		return (int)len;
	t->tx_dgrams++;
	return (int)len;
}

static void link_udp_on_send(uv_udp_send_t *req, int status)
{
	struct link_udp *t = req->data;

	if (!t->base.closing)
		t->base.ev->on_write(&t->base, 0);
}

static int link_udp_write(struct link *l, const struct iovec *iov, unsigned n)
{
	struct link_udp *t = (struct link_udp *)l;
	size_t off = LINK_UDP_SEQ;
	uv_buf_t b;

	for (unsigned i = 0; i < n; i++) {
		if (off + iov[i].iov_len > t->npend)
			return UV_EMSGSIZE;
		memcpy(t->pend + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	put_be32(t->pend, t->tx_seq++);
	t->tx_dgrams++;
	b = uv_buf_init((char *)t->pend, (unsigned)off);
	t->sreq.data = t;
	return uv_udp_send(&t->sreq, &t->s->udp, &b, 1, link_udp_dest(t),
			   link_udp_on_send);
}

static void link_udp_set_buffers(struct link *l, uint32_t sndbuf,
				 uint32_t rcvbuf)
{
	struct link_udp *t = (struct link_udp *)l;
	int v;

	if (t->s->listening)
		return;
	if (sndbuf) {
		v = (int)sndbuf;
		uv_send_buffer_size((uv_handle_t *)&t->s->udp, &v);
	}
	if (rcvbuf) {
		v = (int)rcvbuf;
		uv_recv_buffer_size((uv_handle_t *)&t->s->udp, &v);
	}
}

static void link_udp_on_connected(uv_timer_t *tm)
{
	struct link_udp *t = tm->data;

	if (!t->base.closing)
		t->base.ev->on_connect(&t->base, 0);
}

static int link_udp_connect(struct link *l, const struct sockaddr *sa)
{
	struct link_udp *t = (struct link_udp *)l;
	int rc;

	addr_format(sa, l->peer, sizeof(l->peer));
	rc = uv_udp_connect(&t->s->udp, sa);
	if (rc < 0)
		return rc;
	t->connected = true;
	/* Nothing to wait for; on_connect after this call, as promised. */
	uv_timer_start(&t->timer, link_udp_on_connected, 0, 0);
	return 0;
}

static void link_udp_on_closed(uv_handle_t *h)
{
	struct link_udp *t = h->data;
	struct udp_sock *s = t->s;

	if (t->base.ev && t->base.ev->on_close)
		t->base.ev->on_close(&t->base);
	free(t->pend);
	free(t);
	link_udp_sock_unref(s);
}

static void link_udp_close(struct link *l)
{
	struct link_udp *t = (struct link_udp *)l;
	struct udp_sock *s = t->s;

	if (t->prev)
		t->prev->next = t->next;
	else if (s->peers == t)
		s->peers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	if (s->listening)
		s->npeers--;
	else
		uv_udp_recv_stop(&s->udp);
	uv_close((uv_handle_t *)&t->timer, link_udp_on_closed);
}

static struct link *link_udp_create(uv_loop_t *loop,
				    const struct link_conf *conf)
{
	struct udp_sock *s = link_udp_sock_new(loop);
	struct link_udp *t = link_udp_new(loop, conf, s);

	link_udp_sock_unref(s); /* the link holds it now */
	return &t->base;
}

/* ---- counters ---------------------------------------------------------- */

static void link_udp_stats_add(struct link *l, struct stats *reg,
			       const char *const *labels)
{
	struct link_udp *t = (struct link_udp *)l;

	(void)stats_add(reg, l, "mcferry_link_udp_lost_datagrams_total", labels,
			STATS_COUNTER,
			"udp link datagrams missing from the peer's sequence",
			&t->lost);
	(void)stats_add(reg, l, "mcferry_link_udp_reordered_datagrams_total",
			labels, STATS_COUNTER,
			"udp link datagrams that came after a later one",
			&t->reordered);
	(void)stats_add(reg, l, "mcferry_link_udp_received_datagrams_total",
			labels, STATS_COUNTER, "udp link datagrams received",
			&t->rx_dgrams);
	(void)stats_add(reg, l, "mcferry_link_udp_sent_datagrams_total",
			labels, STATS_COUNTER, "udp link datagrams sent",
			&t->tx_dgrams);
}

/* ---- listening ------------------------------------------------------- */

static int link_udp_listen(struct listener *ls)
{
	const struct uri *u = ls->conf.uri;
	struct udp_sock *s = link_udp_sock_new(ls->loop);
	int rc;

	ls->tdata = s;
	s->listening = true;
	s->ls = ls;
	rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&u->addr,
			 UV_UDP_REUSEADDR);
	if (rc == 0 && u->rcvbuf) {
		int v = (int)u->rcvbuf;

		uv_recv_buffer_size((uv_handle_t *)&s->udp, &v);
	}
	if (rc == 0)
		rc = uv_udp_recv_start(&s->udp, link_udp_on_alloc,
				       link_udp_on_recv);
	return rc;
}

static void link_udp_on_listen_closed(uv_handle_t *h)
{
	struct listener *ls = h->data;

	free(h);
	listener_handle_closed(ls);
}

static void link_udp_listen_close(struct listener *ls)
{
	struct udp_sock *s = ls->tdata;
	uv_idle_t *defer = xcalloc(1, sizeof(*defer));

	/* The socket stays while peers still send on it. */
	s->ls = NULL;
	ls->tdata = NULL;
	link_udp_sock_unref(s);
	uv_idle_init(ls->loop, defer);
	defer->data = ls;
	uv_close((uv_handle_t *)defer, link_udp_on_listen_closed);
}

static int link_udp_conf_open(struct link_conf *conf, char *err,
			      size_t errlen)
{
	return 0;
}

const struct link_ops link_udp_ops = {
	.name = "udp",
	.caps = LINK_CAP_MESSAGES | LINK_CAP_KEEPALIVE,
	.max_message = URI_DEFAULT_MTU - LINK_UDP_SEQ,
	.conf_open = link_udp_conf_open,
	.listen = link_udp_listen,
	.listen_close = link_udp_listen_close,
	.create = link_udp_create,
	.connect = link_udp_connect,
	.read_start = link_udp_read_start,
	.try_write = link_udp_try_write,
	.write = link_udp_write,
	.set_buffers = link_udp_set_buffers,
	.close = link_udp_close,
	.stats_add = link_udp_stats_add,
};

static struct link_udp *link_udp_new(uv_loop_t *loop,
				     const struct link_conf *conf,
				     struct udp_sock *s)
{
	struct link_udp *t = xcalloc(1, sizeof(*t));

	link_init(&t->base, &link_udp_ops, conf, loop);
	t->base.max_message = conf->uri->mtu - LINK_UDP_SEQ;
	t->npend = conf->uri->mtu;
	t->pend = xmalloc(t->npend);
	t->s = s;
	s->refs++;
	uv_timer_init(loop, &t->timer);
	t->timer.data = t;
	t->next = s->peers;
	if (s->peers)
		s->peers->prev = t;
	s->peers = t;
	if (s->listening)
		s->npeers++;
	return t;
}
