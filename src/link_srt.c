/* link_srt.c - SRT live mode as a link (link.h, LINK_CAP_MESSAGES):
 * caller, listener and rendezvous through libsrt. The only file that
 * calls libsrt.
 *
 * libsrt runs its own threads, and its sockets have no file descriptor a
 * uv_poll could watch. So each endpoint (link_conf) has a bridge: one
 * thread blocks in srt_epoll_uwait (level-triggered) on the endpoint's
 * sockets, hands the events it got to the loop with uv_async_send and
 * waits until the loop has handled them (a semaphore), so it never spins
 * on readiness the loop has not consumed yet. The loop does every
 * srt_recvmsg2, srt_sendmsg2, srt_accept and srt_close itself; every
 * socket is non-blocking (SRTO_RCVSYN and SRTO_SNDSYN off), so nothing
 * blocks the loop. SRT_EPOLL_OUT is watched only while a socket is
 * connecting or has a message pending, or the thread would wake for
 * nothing.
 *
 *   libsrt threads --> [ srt epoll ] <-- bridge thread: srt_epoll_uwait
 *                                           | events, uv_async_send
 *                                           v            ^ uv_sem_post
 *   loop: link_srt_on_async: accept / recvmsg / sendmsg --'
 *
 * MCFERRY_SRT_POLL_MS=N in the environment replaces the thread by a loop
 * timer that polls srt_epoll_uwait without waiting every N ms: the other
 * design, kept for the benchmark (bench/links.py) that compares them.
 *
 * The bridge is reference-counted: the endpoint, its listening socket and
 * every link hold one, since accepted links may outlive their listener.
 * The last reference closes the async handle; then the thread, told to
 * stop, frees the bridge itself (within one epoll timeout).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* log.h first: libsrt pulls in syslog.h, whose LOG_INFO and LOG_DEBUG
 * macros would break log.h's enum (this file only uses fatal()). */
#include "log.h"

#include <openssl/crypto.h>
#include <srt/srt.h>

#include "addr.h"
#include "link.h"
#include "listener.h"
#include "stats.h"
#include "tls_conf.h"
#include "util.h"

/* The largest live-mode message: MTU 1500 - IP/UDP 28 - SRT 16. */
#define LINK_SRT_MAX_MESSAGE 1456
#define LINK_SRT_EVENTS 64
/* How long the bridge thread blocks before it looks at its stop flag. */
#define LINK_SRT_WAIT_MS 50
/* Messages read per socket per round, so one busy link cannot starve the
 * others (level-triggered: the rest comes in the next round). */
#define LINK_SRT_READ_BATCH 256
#define LINK_SRT_PASS_MIN 10
#define LINK_SRT_PASS_MAX 79

struct link_srt;

struct srt_bridge {
	uv_loop_t *loop;
	int eid;
	pthread_t thread;
	uv_async_t async;
	uv_sem_t handled;         /* loop -> thread: events handled */
	uv_mutex_t lock;          /* ev, nev, stop */
	SRT_EPOLL_EVENT ev[LINK_SRT_EVENTS];
	int nev;
	bool stop;
	int refs;                 /* loop thread only */
	struct link_srt *links;   /* loop thread only */
	struct listener *ls;      /* the listening socket's, or NULL */
	SRTSOCKET lsock;
	uint64_t poll_ms;         /* timer mode (MCFERRY_SRT_POLL_MS), or 0 */
	uv_timer_t tick;
};

/* What conf_open prepared (conf->tctx). */
struct srt_conf {
	char pass[LINK_SRT_PASS_MAX + 1];
	struct srt_bridge *bridge; /* made by the first listen or link */
};

struct link_srt {
	struct link base;
	struct srt_bridge *br;
	SRTSOCKET sock;
	int events;               /* what the epoll watches now */
	bool connecting;
	bool pending;             /* a message waits for SRT_EPOLL_OUT */
	uint32_t npending;
	uv_timer_t closer;        /* defers on_close past the callback */
	struct link_srt *prev, *next;
	SRT_TRACEBSTATS perf;     /* last srt_bstats, for the counters */
	uint64_t perf_at;         /* uv_now of it */
	uint64_t stat[6];
	uint8_t wbuf[LINK_SRT_MAX_MESSAGE];
	uint8_t pend[LINK_SRT_MAX_MESSAGE];
};

static uv_once_t link_srt_once = UV_ONCE_INIT;

/* libsrt's own state is process-wide: started once, and cleaned up at
 * exit, before libsrt's own destructors run (an atexit handler registered
 * after them runs first). Every bridge thread has been joined by then:
 * each loop joins its bridges when their endpoints close.
 *
 * libcrypto is started first, so that its own atexit handler
 * (OPENSSL_cleanup) is registered before ours and runs after it. With a
 * passphrase, libsrt's receive-queue thread is often the first caller of
 * libcrypto (PBKDF2 and the DRBG of a handshake's key material), and
 * libcrypto's handler, registered then, ran before srt_cleanup had joined
 * that thread: OPENSSL_cleanup assumes every other thread has stopped
 * (openssl/openssl#6214), drops the key whose destructor frees a thread's
 * error queue and DRBGs, and that thread's were never freed (LeakSanitizer:
 * 944 B direct + 6.6 KiB indirect from CRYPTO_zalloc, in every process
 * that had an encrypted SRT handshake, refused or not). */
static void link_srt_cleanup(void)
{
	srt_cleanup();
}

static void link_srt_startup(void)
{
	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL))
		fatal(1, "srt: cannot start libcrypto");
	srt_startup();
	srt_setloglevel(LOG_CRIT);
	atexit(link_srt_cleanup);
}

static const char *srt_errstr(void)
{
	return srt_getlasterror_str();
}

/* ---- the bridge ------------------------------------------------------ */

static void *link_srt_bridge_main(void *arg)
{
	struct srt_bridge *b = arg;
	SRT_EPOLL_EVENT ev[LINK_SRT_EVENTS];

	for (;;) {
		int n;
		bool stop;

		uv_mutex_lock(&b->lock);
		stop = b->stop;
		uv_mutex_unlock(&b->lock);
		if (stop)
			break;
		n = srt_epoll_uwait(b->eid, ev, LINK_SRT_EVENTS,
				    LINK_SRT_WAIT_MS);
		if (n <= 0)
			continue;
		uv_mutex_lock(&b->lock);
		stop = b->stop;
		if (!stop) {
			memcpy(b->ev, ev, (size_t)n * sizeof(ev[0]));
			b->nev = n;
			uv_async_send(&b->async);
		}
		uv_mutex_unlock(&b->lock);
		if (stop)
			break;
		uv_sem_wait(&b->handled);
	}
	/* The loop joins this thread and frees b: libsrt's state must not
	 * be touched after the process has begun to exit (its destructors
	 * run then), so nothing here outlives the loop. */
	return NULL;
}

static void link_srt_dispatch(struct srt_bridge *b, SRTSOCKET s, int events);
static void link_srt_bridge_unref(struct srt_bridge *b);

static void link_srt_on_async(uv_async_t *a)
{
	struct srt_bridge *b = a->data;
	SRT_EPOLL_EVENT ev[LINK_SRT_EVENTS];
	int n;

	uv_mutex_lock(&b->lock);
	n = b->nev;
	memcpy(ev, b->ev, (size_t)n * sizeof(ev[0]));
	b->nev = 0;
	uv_mutex_unlock(&b->lock);
	/* A reference for the round: a link closed in it may drop the
	 * last one otherwise. */
	b->refs++;
	for (int i = 0; i < n; i++)
		link_srt_dispatch(b, ev[i].fd, ev[i].events);
	if (n)
		uv_sem_post(&b->handled);
	link_srt_bridge_unref(b);
}

/* Timer mode: poll without waiting, on the loop. */
static void link_srt_on_tick(uv_timer_t *tm)
{
	struct srt_bridge *b = tm->data;
	SRT_EPOLL_EVENT ev[LINK_SRT_EVENTS];
	int n = srt_epoll_uwait(b->eid, ev, LINK_SRT_EVENTS, 0);

	b->refs++;
	for (int i = 0; i < n; i++)
		link_srt_dispatch(b, ev[i].fd, ev[i].events);
	link_srt_bridge_unref(b);
}

static void link_srt_on_async_closed(uv_handle_t *h)
{
	struct srt_bridge *b = h->data;

	if (!b->poll_ms) {
		/* The thread sees stop within one srt_epoll_uwait timeout
		 * (LINK_SRT_WAIT_MS); wait for it, so the bridge is gone
		 * before the loop (and the process) ends. */
		uv_mutex_lock(&b->lock);
		b->stop = true;
		uv_mutex_unlock(&b->lock);
		uv_sem_post(&b->handled);
		pthread_join(b->thread, NULL);
	}
	srt_epoll_release(b->eid);
	uv_sem_destroy(&b->handled);
	uv_mutex_destroy(&b->lock);
	free(b);
}

static struct srt_bridge *link_srt_bridge_new(uv_loop_t *loop)
{
	struct srt_bridge *b = xcalloc(1, sizeof(*b));

	uv_once(&link_srt_once, link_srt_startup);
	b->loop = loop;
	b->refs = 1;
	b->lsock = SRT_INVALID_SOCK;
	b->eid = srt_epoll_create();
	if (b->eid < 0)
		fatal(1, "srt: epoll: %s", srt_errstr());
	srt_epoll_set(b->eid, SRT_EPOLL_ENABLE_EMPTY);
	uv_mutex_init(&b->lock);
	uv_sem_init(&b->handled, 0);
	uv_async_init(loop, &b->async, link_srt_on_async);
	b->async.data = b;
	if (getenv("MCFERRY_SRT_POLL_MS"))
		b->poll_ms = strtoull(getenv("MCFERRY_SRT_POLL_MS"), NULL, 10);
	if (b->poll_ms) {
		uv_timer_init(loop, &b->tick);
		b->tick.data = b;
		uv_timer_start(&b->tick, link_srt_on_tick, b->poll_ms,
			       b->poll_ms);
		return b;
	}
	if (pthread_create(&b->thread, NULL, link_srt_bridge_main, b) != 0)
		fatal(1, "srt: cannot start the bridge thread");
	return b;
}

static struct srt_bridge *link_srt_bridge_ref(struct srt_bridge *b)
{
	b->refs++;
	return b;
}

static void link_srt_bridge_unref(struct srt_bridge *b)
{
	if (--b->refs != 0)
		return;
	if (b->poll_ms)
		uv_close((uv_handle_t *)&b->tick, NULL);
	uv_close((uv_handle_t *)&b->async, link_srt_on_async_closed);
}

static struct srt_bridge *link_srt_bridge_of(const struct link_conf *conf,
					     uv_loop_t *loop)
{
	struct srt_conf *sc = conf->tctx;

	if (!sc->bridge)
		sc->bridge = link_srt_bridge_new(loop);
	return sc->bridge;
}

static void link_srt_watch(struct link_srt *t)
{
	int ev = SRT_EPOLL_ERR;

	if (t->connecting || t->pending)
		ev |= SRT_EPOLL_OUT;
	if (!t->connecting)
		ev |= SRT_EPOLL_IN;
	if (ev == t->events)
		return;
	t->events = ev;
	srt_epoll_update_usock(t->br->eid, t->sock, &ev);
}

/* ---- sockets and options -------------------------------------------- */

static int srt_set_int(SRTSOCKET s, SRT_SOCKOPT o, int v)
{
	return srt_setsockflag(s, o, &v, sizeof(v));
}

/* Every option of the URI, before bind or connect. 0 or -1. */
static int link_srt_options(SRTSOCKET s, const struct link_conf *conf)
{
	const struct uri *u = conf->uri;
	const struct srt_conf *sc = conf->tctx;
	static const int keylen[] = { 16, 24, 32 };
	int rc = 0;

	rc |= srt_set_int(s, SRTO_TRANSTYPE, SRTT_LIVE);
	rc |= srt_set_int(s, SRTO_RCVSYN, 0);
	rc |= srt_set_int(s, SRTO_SNDSYN, 0);
	rc |= srt_set_int(s, SRTO_PAYLOADSIZE, LINK_SRT_MAX_MESSAGE);
	rc |= srt_set_int(s, SRTO_LATENCY, (int)u->srt.latency);
	if (sc->pass[0]) {
		rc |= srt_setsockflag(s, SRTO_PASSPHRASE, sc->pass,
				      (int)strlen(sc->pass));
		rc |= srt_set_int(s, SRTO_PBKEYLEN, keylen[u->srt.pbkeylen]);
	}
	if (u->srt.streamid[0])
		rc |= srt_setsockflag(s, SRTO_STREAMID, u->srt.streamid,
				      (int)strlen(u->srt.streamid));
	if (u->srt.maxbw) {
		int64_t bw = (int64_t)u->srt.maxbw;

		rc |= srt_setsockflag(s, SRTO_MAXBW, &bw, sizeof(bw));
	}
	if (u->srt.mode == SRT_MODE_RENDEZVOUS && u->srt.set_mode)
		rc |= srt_set_int(s, SRTO_RENDEZVOUS, 1);
	return rc ? -1 : 0;
}

/* A uv error for libsrt's last one, with its text in l->error. */
static int link_srt_fail(struct link *l, const char *what)
{
	snprintf(l->error, sizeof(l->error), "srt: %s: %s", what,
		 srt_errstr());
	return UV_ECONNRESET;
}

/* ---- links ------------------------------------------------------------ */

static struct link_srt *link_srt_new(uv_loop_t *loop,
				     const struct link_conf *conf,
				     struct srt_bridge *b, SRTSOCKET s);

static void link_srt_on_closed(uv_handle_t *h)
{
	struct link_srt *t = h->data;
	struct srt_bridge *b = t->br;

	if (t->base.ev && t->base.ev->on_close)
		t->base.ev->on_close(&t->base);
	free(t);
	link_srt_bridge_unref(b);
}

static void link_srt_close(struct link *l)
{
	struct link_srt *t = (struct link_srt *)l;
	struct srt_bridge *b = t->br;

	if (t->prev)
		t->prev->next = t->next;
	else
		b->links = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->sock != SRT_INVALID_SOCK) {
		srt_epoll_remove_usock(b->eid, t->sock);
		srt_close(t->sock);
		t->sock = SRT_INVALID_SOCK;
	}
	uv_close((uv_handle_t *)&t->closer, link_srt_on_closed);
}

/* The peer's address, as the log lines show it. libsrt 1.5.1 answers a
 * caller's srt_getpeername with success and no address (len 0): the
 * address it was given to connect to (link_srt_connect) stays then. */
static void link_srt_peer(struct link_srt *t)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (srt_getpeername(t->sock, (struct sockaddr *)&ss, &len) == 0 &&
	    len > 0 && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		addr_format((struct sockaddr *)&ss, t->base.peer,
			    sizeof(t->base.peer));
}

static void link_srt_connected(struct link_srt *t, int events)
{
	struct link *l = &t->base;
	SRT_SOCKSTATUS st = srt_getsockstate(t->sock);

	if (st == SRTS_CONNECTING && !(events & SRT_EPOLL_ERR))
		return;
	t->connecting = false;
	if (st != SRTS_CONNECTED) {
		int why = srt_getrejectreason(t->sock);

		snprintf(l->error, sizeof(l->error), "srt: %s",
			 srt_rejectreason_str(why));
		srt_epoll_remove_usock(t->br->eid, t->sock);
		t->events = 0;
		l->ev->on_connect(l, why == SRT_REJ_TIMEOUT ? UV_ETIMEDOUT
							    : UV_ECONNREFUSED);
		return;
	}
	link_srt_peer(t);
	link_srt_watch(t);
	l->ev->on_connect(l, 0);
}

static void link_srt_readable(struct link_srt *t)
{
	struct link *l = &t->base;

	for (int i = 0; i < LINK_SRT_READ_BATCH && !l->closing; i++) {
		uint8_t *p;
		size_t len;
		int n;

		l->ev->on_alloc(l, &p, &len);
		n = srt_recvmsg2(t->sock, (char *)p,
				 len > INT32_MAX ? INT32_MAX : (int)len, NULL);
		if (n >= 0) {
			l->ev->on_read(l, n);
			continue;
		}
		if (srt_getlasterror(NULL) == SRT_EASYNCRCV)
			return;
		if (srt_getsockstate(t->sock) == SRTS_BROKEN ||
		    srt_getlasterror(NULL) == SRT_ECONNLOST)
			l->ev->on_read(l, UV_EOF);
		else
			l->ev->on_read(l, link_srt_fail(l, "receive"));
		return;
	}
}

static void link_srt_writable(struct link_srt *t)
{
	struct link *l = &t->base;
	int n = srt_sendmsg2(t->sock, (const char *)t->pend, (int)t->npending,
			     NULL);

	if (n < 0 && srt_getlasterror(NULL) == SRT_EASYNCSND)
		return;
	t->pending = false;
	link_srt_watch(t);
	l->ev->on_write(l, n < 0 ? link_srt_fail(l, "send") : 0);
}

static void link_srt_listener_ready(struct srt_bridge *b);

static void link_srt_dispatch(struct srt_bridge *b, SRTSOCKET s, int events)
{
	struct link_srt *t;

	if (s == b->lsock && b->ls) {
		link_srt_listener_ready(b);
		return;
	}
	for (t = b->links; t && t->sock != s; t = t->next)
		;
	if (!t || t->base.closing || !t->base.ev)
		return;
	if (t->connecting) {
		link_srt_connected(t, events);
		return;
	}
	if (events & SRT_EPOLL_IN)
		link_srt_readable(t);
	if (!t->base.closing && t->pending && (events & SRT_EPOLL_OUT))
		link_srt_writable(t);
	if (!t->base.closing && (events & SRT_EPOLL_ERR) &&
	    !(events & SRT_EPOLL_IN)) {
		/* Broken (the peer closed, or fell silent past
		 * SRTO_PEERIDLETIMEO): say so once; the session closes. */
		srt_epoll_remove_usock(b->eid, t->sock);
		t->events = 0;
		snprintf(t->base.error, sizeof(t->base.error),
			 "srt: connection lost");
		t->base.ev->on_read(&t->base, UV_ECONNRESET);
	}
}

static int link_srt_read_start(struct link *l)
{
	link_srt_watch((struct link_srt *)l);
	return 0;
}

/* The pieces of one message, put together in buf unless there is one. */
static const uint8_t *link_srt_gather(const struct iovec *iov, unsigned n,
				      uint8_t *buf, size_t *len)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	*len = total;
	if (total > LINK_SRT_MAX_MESSAGE)
		return NULL;
	if (n == 1)
		return iov[0].iov_base;
	total = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	return buf;
}

static int link_srt_try_write(struct link *l, const struct iovec *iov,
			      unsigned n)
{
	struct link_srt *t = (struct link_srt *)l;
	size_t len;
	const uint8_t *p = link_srt_gather(iov, n, t->wbuf, &len);
	int rc;

	if (!p)
		return UV_EMSGSIZE;
	if (t->pending)
		return UV_EAGAIN;
	rc = srt_sendmsg2(t->sock, (const char *)p, (int)len, NULL);
	if (rc >= 0)
		return (int)len;
	if (srt_getlasterror(NULL) == SRT_EASYNCSND)
		return UV_EAGAIN;
	return link_srt_fail(l, "send");
}

static int link_srt_write(struct link *l, const struct iovec *iov, unsigned n)
{
	struct link_srt *t = (struct link_srt *)l;
	size_t len;
	const uint8_t *p = link_srt_gather(iov, n, t->pend, &len);

	if (!p)
		return UV_EMSGSIZE;
	if (p != t->pend)
		memcpy(t->pend, p, len);
	t->npending = (uint32_t)len;
	t->pending = true;
	link_srt_watch(t);
	return 0;
}

static int link_srt_connect(struct link *l, const struct sockaddr *sa)
{
	struct link_srt *t = (struct link_srt *)l;
	const struct uri *u = l->conf->uri;
	int salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					      : sizeof(struct sockaddr_in);
	int ev = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
	int rc;

	addr_format(sa, l->peer, sizeof(l->peer));
	t->sock = srt_create_socket();
	if (t->sock == SRT_INVALID_SOCK)
		return UV_EMFILE;
	if (link_srt_options(t->sock, l->conf) < 0) {
		link_srt_fail(l, "options");
		return UV_EINVAL;
	}
	t->connecting = true;
	t->events = ev;
	srt_epoll_add_usock(t->br->eid, t->sock, &ev);
	if (u->srt.set_mode && u->srt.mode == SRT_MODE_RENDEZVOUS) {
		struct sockaddr_storage local;

		memset(&local, 0, sizeof(local));
		local.ss_family = sa->sa_family;
		addr_set_port(&local, u->port);
		rc = srt_rendezvous(t->sock, (struct sockaddr *)&local, salen,
				    sa, salen);
	} else {
		rc = srt_connect(t->sock, sa, salen);
	}
	if (rc == SRT_ERROR) {
		link_srt_fail(l, "connect");
		return UV_ECONNREFUSED;
	}
	return 0;
}

static struct link *link_srt_create(uv_loop_t *loop,
				    const struct link_conf *conf)
{
	return &link_srt_new(loop, conf, link_srt_bridge_of(conf, loop),
			     SRT_INVALID_SOCK)->base;
}

/* ---- counters ---------------------------------------------------------- */

enum { ST_RTT, ST_RETRANS, ST_LOST, ST_DROPPED, ST_BW, ST_SENT };

/* srt_bstats at most once per loop tick for all the series of a link. */
static uint64_t link_srt_stat(const void *arg, int which)
{
	struct link_srt *t = (struct link_srt *)arg;
	uint64_t now = uv_now(t->base.loop);

	if (t->sock == SRT_INVALID_SOCK)
		return t->stat[which];
	if (t->perf_at != now || !t->perf_at) {
		if (srt_bstats(t->sock, &t->perf, 0) == 0) {
			t->stat[ST_RTT] = (uint64_t)(t->perf.msRTT * 1000.0);
			t->stat[ST_RETRANS] = (uint64_t)t->perf.pktRetransTotal;
			t->stat[ST_LOST] = (uint64_t)t->perf.pktRcvLossTotal +
					   (uint64_t)t->perf.pktSndLossTotal;
			t->stat[ST_DROPPED] =
				(uint64_t)t->perf.pktRcvDropTotal +
				(uint64_t)t->perf.pktSndDropTotal;
			t->stat[ST_BW] =
				(uint64_t)(t->perf.mbpsBandwidth * 125000.0);
			t->stat[ST_SENT] = (uint64_t)t->perf.pktSentTotal;
		}
		t->perf_at = now;
	}
	return t->stat[which];
}

static uint64_t st_rtt(const void *a) { return link_srt_stat(a, ST_RTT); }
static uint64_t st_retrans(const void *a) { return link_srt_stat(a, ST_RETRANS); }
static uint64_t st_lost(const void *a) { return link_srt_stat(a, ST_LOST); }
static uint64_t st_dropped(const void *a) { return link_srt_stat(a, ST_DROPPED); }
static uint64_t st_bw(const void *a) { return link_srt_stat(a, ST_BW); }
static uint64_t st_sent(const void *a) { return link_srt_stat(a, ST_SENT); }

static void link_srt_stats_add(struct link *l, struct stats *reg,
			       const char *const *labels)
{
	static const struct {
		const char *name;
		enum stats_kind kind;
		uint64_t (*fn)(const void *);
		const char *help;
	} m[] = {
		{ "mcferry_link_srt_rtt_microseconds", STATS_GAUGE, st_rtt,
		  "SRT round-trip time (libsrt's estimate)" },
		{ "mcferry_link_srt_retransmitted_packets_total", STATS_COUNTER,
		  st_retrans, "SRT packets sent again" },
		{ "mcferry_link_srt_lost_packets_total", STATS_COUNTER, st_lost,
		  "SRT packets reported lost (both directions)" },
		{ "mcferry_link_srt_dropped_packets_total", STATS_COUNTER,
		  st_dropped, "SRT packets given up as too late (both directions)" },
		{ "mcferry_link_srt_bandwidth_bytes_per_second", STATS_GAUGE,
		  st_bw, "SRT's estimate of the path's bandwidth" },
		{ "mcferry_link_srt_sent_packets_total", STATS_COUNTER, st_sent,
		  "SRT data packets sent, retransmissions included" },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		(void)stats_add_fn(reg, l, m[i].name, labels, m[i].kind,
				   m[i].help, m[i].fn, l);
}

/* ---- listening ------------------------------------------------------- */

static void link_srt_listener_ready(struct srt_bridge *b)
{
	struct listener *ls = b->ls;

	for (;;) {
		struct sockaddr_storage ss;
		int len = sizeof(ss);
		SRTSOCKET s = srt_accept(b->lsock, (struct sockaddr *)&ss, &len);
		struct link_srt *t;

		if (s == SRT_INVALID_SOCK)
			return;
		t = link_srt_new(ls->loop, &ls->conf, b, s);
		addr_format((struct sockaddr *)&ss, t->base.peer,
			    sizeof(t->base.peer));
		t->events = SRT_EPOLL_ERR;
		srt_epoll_add_usock(b->eid, s, &t->events);
		t->base.ready = true;
		listener_accepted(ls, &t->base);
		if (!b->ls)
			return; /* the owner closed the listener */
	}
}

static int link_srt_listen(struct listener *ls)
{
	const struct uri *u = ls->conf.uri;
	struct srt_bridge *b = link_srt_bridge_ref(
		link_srt_bridge_of(&ls->conf, ls->loop));
	int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
	int salen = u->addr.ss_family == AF_INET6
			    ? sizeof(struct sockaddr_in6)
			    : sizeof(struct sockaddr_in);
	SRTSOCKET s = srt_create_socket();

	ls->tdata = b;
	b->ls = ls;
	b->lsock = s;
	if (s == SRT_INVALID_SOCK)
		return UV_EMFILE;
	if (link_srt_options(s, &ls->conf) < 0)
		return UV_EINVAL;
	if (u->addr.ss_family == AF_INET6)
		srt_set_int(s, SRTO_IPV6ONLY, 0);
	if (srt_bind(s, (const struct sockaddr *)&u->addr, salen) == SRT_ERROR)
		return srt_getlasterror(NULL) == SRT_EDUPLISTEN ||
				       errno == EADDRINUSE
			       ? UV_EADDRINUSE
			       : UV_EINVAL;
	if (srt_listen(s, 64) == SRT_ERROR)
		return UV_EINVAL;
	srt_epoll_add_usock(b->eid, s, &ev);
	return 0;
}

static void link_srt_on_listen_closed(uv_handle_t *h)
{
	struct listener *ls = h->data;

	free(h);
	listener_handle_closed(ls);
}

static void link_srt_listen_close(struct listener *ls)
{
	struct srt_bridge *b = ls->tdata;
	uv_idle_t *defer = xcalloc(1, sizeof(*defer));

	if (b->lsock != SRT_INVALID_SOCK) {
		srt_epoll_remove_usock(b->eid, b->lsock);
		srt_close(b->lsock);
	}
	b->lsock = SRT_INVALID_SOCK;
	b->ls = NULL;
	ls->tdata = NULL;
	link_srt_bridge_unref(b);
	/* listener_handle_closed comes after this call, as for a libuv
	 * handle. */
	uv_idle_init(ls->loop, defer);
	defer->data = ls;
	uv_close((uv_handle_t *)defer, link_srt_on_listen_closed);
}

/* ---- the endpoint ---------------------------------------------------- */

/* The passphrase: the first line of a file only its owner may read. */
static int link_srt_read_pass(const char *path, char *out, char *err,
			      size_t errlen)
{
	struct stat st;
	char line[256];
	FILE *f;
	size_t n;

	if (stat(path, &st) < 0 || !(f = fopen(path, "r"))) {
		snprintf(err, errlen, "srt: cannot read passphrase file '%s': %s",
			 path, strerror(errno));
		return -errno;
	}
	if (!tls_secret_mode_ok(st.st_mode)) {
		fclose(f);
		snprintf(err, errlen,
			 "srt: passphrase file '%s' may be read by group or "
			 "others (mode %04o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n < LINK_SRT_PASS_MIN || n > LINK_SRT_PASS_MAX) {
		explicit_bzero(line, sizeof(line));
		snprintf(err, errlen,
			 "srt: passphrase file '%s': the first line must have "
			 "%d..%d characters, not %zu",
			 path, LINK_SRT_PASS_MIN, LINK_SRT_PASS_MAX, n);
		return -EINVAL;
	}
	memcpy(out, line, n + 1);
	explicit_bzero(line, sizeof(line));
	return 0;
}

static int link_srt_conf_open(struct link_conf *conf, char *err,
			      size_t errlen)
{
	struct srt_conf *sc = xcalloc(1, sizeof(*sc));
	const char *path = conf->uri->srt.passphrase_file;
	int rc = 0;

	conf->tctx = sc;
	if (path[0])
		rc = link_srt_read_pass(path, sc->pass, err, errlen);
	if (rc < 0) {
		free(sc);
		conf->tctx = NULL;
	}
	return rc;
}

static int link_srt_conf_reload(struct link_conf *conf, char *err,
				size_t errlen)
{
	struct srt_conf *sc = conf->tctx;
	const char *path = conf->uri->srt.passphrase_file;
	char pass[sizeof(sc->pass)] = "";
	int rc = path[0] ? link_srt_read_pass(path, pass, err, errlen) : 0;

	/* Links made from now on use it; established ones keep theirs. */
	if (rc == 0)
		memcpy(sc->pass, pass, sizeof(pass));
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

static void link_srt_conf_close(struct link_conf *conf)
{
	struct srt_conf *sc = conf->tctx;

	if (!sc)
		return;
	if (sc->bridge)
		link_srt_bridge_unref(sc->bridge);
	explicit_bzero(sc->pass, sizeof(sc->pass));
	free(sc);
}

const struct link_ops link_srt_ops = {
	.name = "srt",
	.caps = LINK_CAP_MESSAGES,
	.max_message = LINK_SRT_MAX_MESSAGE,
	.conf_open = link_srt_conf_open,
	.conf_reload = link_srt_conf_reload,
	.conf_close = link_srt_conf_close,
	.listen = link_srt_listen,
	.listen_close = link_srt_listen_close,
	.create = link_srt_create,
	.connect = link_srt_connect,
	.read_start = link_srt_read_start,
	.try_write = link_srt_try_write,
	.write = link_srt_write,
	.close = link_srt_close,
	.stats_add = link_srt_stats_add,
};

static struct link_srt *link_srt_new(uv_loop_t *loop,
				     const struct link_conf *conf,
				     struct srt_bridge *b, SRTSOCKET s)
{
	struct link_srt *t = xcalloc(1, sizeof(*t));

	link_init(&t->base, &link_srt_ops, conf, loop);
	t->br = link_srt_bridge_ref(b);
	t->sock = s;
	uv_timer_init(loop, &t->closer);
	t->closer.data = t;
	t->next = b->links;
	if (b->links)
		b->links->prev = t;
	b->links = t;
	return t;
}
