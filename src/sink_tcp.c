/* sink_tcp.c - TCP as a sink: fan out to every client that connects
 * (tcp://@:PORT), or push to one server (tcp://HOST:PORT).
 *
 * A client that falls behind never slows the others. Behind means its
 * queue reached queue= bytes, or its oldest queued datagram is older than
 * maxlag= ms. With slow=skip (the default) the client keeps its
 * connection: what waits for it is dropped, and it loses whole datagrams
 * until it has taken what was in flight and is under half of both limits,
 * then resumes at live (an episode: counted, logged once); with
 * slow=close it is cut off with reason slow-consumer. While the sink
 * writes, it lets the source read every millisecond (relay_poll_input),
 * so input never waits behind output. Datagrams that arrive while the
 * outbound link is down, or faster than the server takes them, are
 * dropped and counted: nothing is buffered without bound. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "conn.h"
#include "dialer.h"
#include "listener.h"
#include "log.h"
#include "relay.h"
#include "util.h"

/* Kernel send buffer per client unless sndbuf= says otherwise: a stalled
 * reader would otherwise soak up megabytes before we see EAGAIN. */
#define SINK_TCP_DEFAULT_SNDBUF (256 * 1024)

/* Write pacing: a listening sink starts its clients' writes at most once
 * per interval, so no datagram waits longer than the interval for company
 * (maxdelay=). A datagram after a quiet spell goes out at once; under load
 * each write carries several datagrams, which saves a syscall, a TCP
 * segment and a reader wake-up per datagram per client. The automatic
 * interval is clients x SINK_TCP_PACE_PER_CLIENT_NS capped at
 * SINK_TCP_PACE_MAX_NS: about 17000 client writes a second at most, and
 * with few clients a few hundred microseconds, so latency stays low. */
#define SINK_TCP_PACE_PER_CLIENT_NS 60000ull
#define SINK_TCP_PACE_MAX_NS 6000000ull
/* ... and with the automatic interval a round starts early once this many
 * payload bytes have arrived since the last: at a high rate writes are
 * big enough well before the interval, and the round stays short. */
#define SINK_TCP_PACE_BYTES (16 * 1024)

/* In a round of writes, or between the transport's completions of writes
 * to full sockets, the source is read again after this long: a round to
 * many clients can take longer than the receive buffer holds. */
#define SINK_TCP_POLL_NS 1000000ull

/* Overload: when half the sink's clients (at least
 * SINK_TCP_OVERLOAD_MIN_CLIENTS) are behind by SINK_TCP_OVERLOAD_LAG_MS
 * and SINK_TCP_OVERLOAD_BYTES at once, or skipping, for SINK_TCP_OVERLOAD_HOLD_MS on end, it is the
 * relay or its host that is behind, not the clients' links: a deep queue
 * then buys every viewer delay and spreads their positions over a working
 * set the copies into the kernel miss the cache on, and sheds no less.
 * The count is taken every loop millisecond from the lag checks the
 * pushes make anyway, so overload is seen within tens of milliseconds of
 * the first datagram, long before a client reaches maxlag= or its queue
 * limit (at 50 Mbit/s the default 4 MiB is 670 ms). Until no millisecond
 * of a whole SINK_TCP_OVERLOAD_WINDOW_MS had that many behind and fewer
 * skip episodes began in it than half the clients, a client is behind at
 * SINK_TCP_OVERLOAD_LAG_MS with more than SINK_TCP_OVERLOAD_BYTES queued
 * (or at maxlag=, if lower; maxlag=0, bytes only, keeps no time bound
 * even then). One viewer's hiccup never counts as
 * overload, nor does a loop turn that ran late once: the hold outlasts
 * the turn that writes what waited. */
#define SINK_TCP_OVERLOAD_LAG_MS 40
/* ... when its queue also holds more than this (the default send buffer:
 * a queue no longer than what the kernel holds for the client anyway is
 * not where the relay's time goes, and dropping it sheds no work worth a
 * gap). Near its limits the relay can lag a lot of slow clients by more
 * than SINK_TCP_OVERLOAD_LAG_MS for a moment and catch up: a round of
 * writes to 5000 clients of a 1 Mbit/s stream takes ~100 ms, a start of
 * 1000 clients of a 10 Mbit/s one lagged 80-150 ms, with 10-190 KiB
 * queued each. Saturated at 50 Mbit/s and more per client, 40 ms is
 * 250 KiB or more: the time bound is what counts there. Measured (bench/
 * README.md): 64 KiB cost those two rows 1.5-8 % of their datagrams. */
#define SINK_TCP_OVERLOAD_BYTES (256 * 1024)
#define SINK_TCP_OVERLOAD_HOLD_MS 20
#define SINK_TCP_OVERLOAD_MIN_CLIENTS 4
#define SINK_TCP_OVERLOAD_WINDOW_MS 1000
/* At most this many `client behind` lines a second; the episodes past it
 * are counted and told in one line when the second is over (an
 * overloaded relay with 500 clients begins thousands a second). */
#define SINK_TCP_EPISODE_LINES 100

/* A listening sink's per-client state (conn->data). */
struct sink_client {
	uint64_t skip_since;     /* loop ms the skip episode began; 0: none */
	uint64_t skipped;        /* datagrams skipped in this episode */
	uint64_t sent_at_skip;   /* its sent_bytes when the episode began */
	uint64_t lag_at;         /* loop ms of the last lag check, and ... */
	uint64_t lag;            /* ... the lag it found (ms) */
	uint64_t behind_at;      /* loop ms it was counted in s->behind */
};

struct sink_tcp {
	struct sink base;
	bool listening;
	struct listener listener;
	struct conn *clients;    /* listen mode */
	struct dialer dialer;    /* connect mode */
	uint64_t origin, seq;    /* connect mode with channel=: DATA frames */
	uint64_t soft;           /* listen mode: soft queue limit, bytes */
	uint64_t softms;         /* ... and how long a client may stay above */
	uint64_t maxlag;         /* listen mode: ms a client may lag, 0: any */
	uint64_t pace_ns;        /* listen mode: maxdelay= in ns, or 0: auto */
	bool skip;               /* listen mode: slow=skip */
	uint32_t nclients;       /* listen mode: clients accepted, not closed */
	uint32_t skipping;       /* ... of them in a skip episode now */
	uint64_t behind_ms;      /* loop ms the count below is of, and ... */
	uint32_t behind;         /* ... clients found behind then, not skipping */
	uint64_t many_since;     /* loop ms half were behind since; 0: not */
	bool many_seen;          /* ... at some millisecond of this window */
	uint64_t ep_win;         /* loop ms the overload window began */
	uint32_t ep_now;         /* skip episodes begun in it */
	bool overloaded;         /* see SINK_TCP_OVERLOAD_LAG_MS */
	uint64_t eplog_win;      /* loop ms the episode-line second began */
	uint32_t eplog_n;        /* episode lines written in it */
	uint64_t eplog_held;     /* episodes past SINK_TCP_EPISODE_LINES */
	int tfd;                 /* pacing timer (listen mode) */
	uv_poll_t tpoll;
	bool armed;              /* a paced flush is scheduled */
	uint64_t last_flush;     /* uv_hrtime() of the last flush */
	uint64_t gathered;       /* payload bytes pushed since then */
	uint64_t last_poll;      /* uv_hrtime() the source was last read */
	bool in_round;           /* sink_tcp_kick_all is running */
	int handles;
	bool closing;
};

/* The pacing interval (maxdelay=, or the automatic one), ns. */
static uint64_t sink_tcp_interval(const struct sink_tcp *s)
{
	uint64_t interval = s->pace_ns;

	if (!s->base.uri->set_maxdelay) {
		interval = s->base.relay->stats.clients *
			   SINK_TCP_PACE_PER_CLIENT_NS;
		if (interval > SINK_TCP_PACE_MAX_NS)
			interval = SINK_TCP_PACE_MAX_NS;
	}
	return interval;
}

/* Schedule a round at uv_hrtime() `at` (CLOCK_MONOTONIC, so absolute; a
 * time past fires at the next loop turn). False if the timer failed. */
static bool sink_tcp_arm(struct sink_tcp *s, uint64_t at)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at / 1000000000ull),
			      .tv_nsec = (long)(at % 1000000000ull) },
	};

	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return false;
	s->armed = true;
	return true;
}

static void sink_tcp_release(struct sink_tcp *s)
{
	if (--s->handles > 0)
		return;
	if (s->tfd >= 0)
		close(s->tfd);
	relay_endpoint_gone(s->base.relay);
	free(s);
}

static void sink_tcp_on_closed(struct conn *c)
{
	struct sink_tcp *s = c->owner;
	struct sink_client *sc = c->data;

	s->nclients--;
	if (sc->skip_since)
		s->skipping--;
	conn_list_del(&s->clients, c);
	free(c->data);
	sink_tcp_release(s);
}

/* A fan-out client sends nothing we need beyond its hello. */
static void sink_tcp_on_client_frame(struct conn *c, const struct frame *f)
{
}

static void sink_tcp_check_lag(struct sink_tcp *s, struct conn *c);

/* Read the source if it has waited SINK_TCP_POLL_NS behind our writes.
 * The loop's clock moves on too: a turn of writes on a busy host can last
 * tens of milliseconds, and what is read (stamped) and checked for lag in
 * it must see the time it is, not the time the turn began. */
static void sink_tcp_poll_input(struct sink_tcp *s)
{
	uint64_t now = uv_hrtime();

	if (now - s->last_poll < SINK_TCP_POLL_NS)
		return;
	s->last_poll = now;
	uv_update_time(s->base.relay->ctx->loop);
	relay_poll_input(s->base.relay);
}

/* libuv finished a write to a full socket: when many are, their
 * completions run back to back in one loop turn. conn_kick writes what
 * waits next, so this is where a client that has fallen behind since
 * its last push is caught before stale data goes out. */
static void sink_tcp_on_client_written(struct conn *c)
{
	struct sink_tcp *s = c->owner;

	sink_tcp_poll_input(s);
	sink_tcp_check_lag(s, c);
	if (!s->armed && !s->in_round && s->gathered && s->tfd >= 0)
		(void)sink_tcp_arm(s, s->last_flush + sink_tcp_interval(s));
}

static const struct conn_handler sink_tcp_client_handler = {
	.on_frame = sink_tcp_on_client_frame,
	.on_written = sink_tcp_on_client_written,
	.on_closed = sink_tcp_on_closed,
};

/* A link to a hub: announce the channel this sink publishes. */
static void sink_tcp_on_upstream(struct conn *c, int status)
{
	struct sink_tcp *s = c->data;

	if (status < 0 || !s->base.uri->has_channel)
		return;
	(void)conn_send_channel(c, FRAME_EXPORT, &s->base.uri->channel, 0);
	conn_kick(c);
}

/* A hub's FORWARDER and EMITTERS frames are for gateways; a publishing
 * relay reads them (and answers pings, in conn.c) and moves on. */
static void sink_tcp_on_hub_frame(struct conn *c, const struct frame *f)
{
}

/* The dialer's conns: what the server sends back is read and dropped,
 * except on a link to a hub, whose frames are read (see above). */
static const struct conn_handler sink_tcp_upstream_handler = {
	.on_connect = sink_tcp_on_upstream,
	.on_frame = sink_tcp_on_hub_frame,
};

static struct conn *sink_tcp_on_accept(struct listener *ls, struct link *l)
{
	struct sink_tcp *s = ls->data;
	const struct uri *u = s->base.uri;
	struct conn_conf cf = {
		.what = "client",
		.framing = u->framing,
		.sends_data = true,
		.rx_framed = CONN_RX_DISCARD,
		.rx_raw = CONN_RX_DISCARD,
		.queue = u->queue,
		.sndbuf = u->sndbuf ? u->sndbuf : SINK_TCP_DEFAULT_SNDBUF,
	};
	struct conn *c = conn_new(&s->base.relay->own, l, &cf,
				  &sink_tcp_client_handler, s);

	c->data = xcalloc(1, sizeof(struct sink_client));
	s->handles++;
	s->nclients++;
	conn_list_add(&s->clients, c);
	return c;
}

/* How long the oldest datagram queued for c has waited (ms); 0 when
 * nothing stamped waits (a control frame at the head counts as none).
 * Looked up once per loop millisecond: the head buffer is an old one,
 * out of the cache, and this runs for every datagram and client. */
static uint64_t sink_tcp_lag(const struct conn *c, uint64_t now)
{
	struct sink_client *sc = c->data;
	const struct buf *b;

	if (sc->lag_at == now)
		return sc->lag;
	sc->lag_at = now;
	sc->lag = 0;
	if (c->q.count) {
		b = c->q.ring[c->q.head].b;
		sc->lag = b->t && now > b->t ? now - b->t : 0;
	}
	return sc->lag;
}

/* The lag (ms) at which a client is behind now, 0: no limit. */
static uint64_t sink_tcp_maxlag(const struct sink_tcp *s)
{
	/* maxlag=0 (bytes only) opts out of every time bound. */
	if (s->overloaded && s->maxlag > SINK_TCP_OVERLOAD_LAG_MS)
		return SINK_TCP_OVERLOAD_LAG_MS;
	return s->maxlag;
}

/* Is c behind on time? A push (count) also counts it, once a loop
 * millisecond, towards overload when it lags by SINK_TCP_OVERLOAD_LAG_MS
 * with more than SINK_TCP_OVERLOAD_BYTES queued, but not yet by the bound
 * in force (below maxlag=; with maxlag= under
 * SINK_TCP_OVERLOAD_LAG_MS, being skipped is what counts): every push
 * looks at every client, so the count of a millisecond with a push is
 * whole. */
static inline bool sink_tcp_lagging(struct sink_tcp *s, struct conn *c,
				    struct sink_client *sc, uint64_t now,
				    uint64_t maxlag, bool count)
{
	uint64_t lag;

	if (!maxlag)
		return false;
	lag = sink_tcp_lag(c, now);
	if (lag > maxlag &&
	    (maxlag == s->maxlag || c->q.bytes > SINK_TCP_OVERLOAD_BYTES))
		return true;
	if (lag > SINK_TCP_OVERLOAD_LAG_MS && count && sc->behind_at != now &&
	    c->q.bytes > SINK_TCP_OVERLOAD_BYTES) {
		sc->behind_at = now;
		s->behind++;
	}
	return false;
}

static void sink_tcp_overload_log(struct sink_tcp *s, bool over)
{
	log_info("relay=%s %s clients=%u behind=%u skipping=%u episodes=%u "
		 "lag_ms=%llu", s->base.relay->name,
		 over ? "overloaded: many clients behind at once, skipping sooner"
		      : "no longer overloaded",
		 s->nclients, s->behind, s->skipping, s->ep_now,
		 (unsigned long long)(over ? sink_tcp_maxlag(s) : s->maxlag));
}

/* The episode lines of a second that is over, held past the cap. */
static void sink_tcp_eplog_flush(struct sink_tcp *s, uint64_t now)
{
	if (now - s->eplog_win < 1000)
		return;
	if (s->eplog_held)
		log_info("relay=%s %llu more clients behind in the last second, "
			 "skipping datagrams until they catch up (at most %u "
			 "such lines a second)", s->base.relay->name,
			 (unsigned long long)s->eplog_held,
			 SINK_TCP_EPISODE_LINES);
	s->eplog_win = now;
	s->eplog_n = 0;
	s->eplog_held = 0;
}

/* Once a loop millisecond (before its first push), from the count of
 * the last one: is the sink overloaded (SINK_TCP_OVERLOAD_LAG_MS)? */
static void sink_tcp_overload_check(struct sink_tcp *s, uint64_t now)
{
	uint32_t clients = s->nclients;
	bool many;

	if (now == s->behind_ms)
		return;
	/* The count is of the last millisecond that had a push. */
	many = s->skip && s->maxlag &&
	       clients >= SINK_TCP_OVERLOAD_MIN_CLIENTS &&
	       now - s->behind_ms < SINK_TCP_OVERLOAD_WINDOW_MS &&
	       2ull * (s->behind + s->skipping) >= clients;
	if (!many) {
		s->many_since = 0;
	} else if (!s->many_since) {
		s->many_since = now;
		s->many_seen = true;
	} else {
		s->many_seen = true;
		if (!s->overloaded &&
		    now - s->many_since >= SINK_TCP_OVERLOAD_HOLD_MS) {
			s->overloaded = true;
			sink_tcp_overload_log(s, true);
			s->ep_win = now;
			s->ep_now = 0;
			s->many_seen = false;
		}
	}
	/* A window ends: overload goes on while it saw half behind, or
	 * skip episodes for half the clients (they may fall behind in
	 * turns); it also begins on the latter. A window with no push at
	 * all (no input) ends it: no millisecond of it was counted. */
	if (now - s->ep_win >= SINK_TCP_OVERLOAD_WINDOW_MS) {
		if (s->skip && s->maxlag &&
		    clients >= SINK_TCP_OVERLOAD_MIN_CLIENTS &&
		    2ull * s->ep_now >= clients)
			many = true;
		else
			many = s->overloaded && s->many_seen &&
			       now - s->ep_win < 2 * SINK_TCP_OVERLOAD_WINDOW_MS;
		if (many != s->overloaded) {
			s->overloaded = many;
			sink_tcp_overload_log(s, many);
		}
		s->ep_win = now;
		s->ep_now = 0;
		s->many_seen = false;
	}
	s->behind_ms = now;
	s->behind = 0;
}

/* c is behind: skip whole datagrams for it from this one on (pushed: the
 * datagram being pushed is the first skipped). One line per episode; the
 * skipped ones are counted. */
static void sink_tcp_skip_begin(struct sink_tcp *s, struct conn *c,
				struct sink_client *sc, uint64_t now,
				bool pushed)
{
	struct relay *r = s->base.relay;
	uint64_t lag = sink_tcp_lag(c, now), queued = c->q.bytes;

	sc->skip_since = now ? now : 1;
	sc->sent_at_skip = c->sent_bytes;
	s->ep_now++;
	s->skipping++;
	if (sc->behind_at == s->behind_ms && s->behind) {
		s->behind--; /* counted as skipping from now on */
		sc->behind_at = 0;
	}
	/* What waits is stale: drop it, so the client resumes at live
	 * (what a viewer wants) and every client's queue stays near the
	 * newest data, a small working set for the copies into the
	 * kernel. What is in flight finishes first: whole datagrams. */
	sc->skipped = (pushed ? 1 : 0) + fanout_queue_drop_waiting(&c->q);
	sc->lag_at = 0;
	r->stats.skips += sc->skipped;
	r->stats.skip_episodes++;
	sink_tcp_eplog_flush(s, now);
	if (s->eplog_n >= SINK_TCP_EPISODE_LINES) {
		s->eplog_held++;
		return;
	}
	s->eplog_n++;
	log_info("relay=%s c=%u client behind, skipping datagrams until it "
		 "catches up reason=%s queued=%llu lag_ms=%llu", r->name, c->id,
		 sink_tcp_maxlag(s) && lag > sink_tcp_maxlag(s) ? "maxlag"
								 : "queue",
		 (unsigned long long)queued, (unsigned long long)lag);
}

/* During an episode: true once c has taken what was in flight and is
 * down to half of both limits (the next datagram is whole: entries are
 * never split by a skip). A client that has taken no byte for softsecs is
 * not coming back: it is cut off, and false returned. */
static bool sink_tcp_skip_over(struct sink_tcp *s, struct conn *c,
			       struct sink_client *sc, uint64_t now)
{
	uint64_t maxlag = sink_tcp_maxlag(s);

	if (!c->q.sending && c->q.bytes <= c->q.limit / 2 &&
	    (!maxlag || sink_tcp_lag(c, now) <= maxlag / 2)) {
		log_debug("relay=%s c=%u client caught up skipped=%llu ms=%llu",
			  s->base.relay->name, c->id,
			  (unsigned long long)sc->skipped,
			  (unsigned long long)(now - sc->skip_since));
		sc->skip_since = 0;
		s->skipping--;
		return true;
	}
	if (now - sc->skip_since > s->softms &&
	    c->sent_bytes == sc->sent_at_skip) {
		s->base.relay->stats.cutoffs++;
		conn_close(c, "slow-consumer");
	}
	return false;
}

/* Before c is written, while overloaded: if what waits for it has grown
 * stale since its last push (the loop ran late, its socket was full),
 * skip it now rather than send it. Outside overload the bound is the
 * viewer's own maxlag=, which the pushes check well enough. */
static void sink_tcp_check_lag(struct sink_tcp *s, struct conn *c)
{
	struct sink_client *sc = c->data;
	uint64_t now;

	if (!s->overloaded || sc->skip_since || c->state != CONN_OPEN ||
	    c->q.count == c->q.sending)
		return;
	now = uv_now(s->base.relay->ctx->loop);
	if (sink_tcp_lagging(s, c, sc, now, sink_tcp_maxlag(s), false))
		sink_tcp_skip_begin(s, c, sc, now, false);
}

static void sink_tcp_push(struct sink *base, struct buf *b)
{
	struct sink_tcp *s = (struct sink_tcp *)base;
	struct relay_stats *st = &base->relay->stats;
	uint64_t now = uv_now(base->relay->ctx->loop), maxlag;
	struct conn *c;

	if (!s->listening) {
		c = dialer_conn(&s->dialer);
		if (c && base->uri->has_channel) {
			struct frame_data d = { .origin = s->origin,
						.seq = s->seq,
						.ch = base->uri->channel,
						.len = b->len };

			if (conn_send_data(c, b, &d) < 0)
				st->drops++;
			else
				s->seq++;
		} else if (!c || conn_send(c, b) < 0) {
			st->drops++;
		}
		return;
	}
	s->gathered += b->len;
	sink_tcp_overload_check(s, now);
	if (s->eplog_held)
		sink_tcp_eplog_flush(s, now);
	maxlag = sink_tcp_maxlag(s); /* the same for every client */
	for (c = s->clients; c; c = c->next) {
		struct sink_client *sc = c->data;
		int rc;

		if (c->state != CONN_OPEN)
			continue;
		if (sc->skip_since && !sink_tcp_skip_over(s, c, sc, now)) {
			if (c->state == CONN_OPEN) {
				sc->skipped++;
				st->skips++;
			}
			continue;
		}
		rc = sink_tcp_lagging(s, c, sc, now, maxlag, true) ? -ENOBUFS
						     : conn_send(c, b);
		if (rc == -ENOBUFS) {
			if (s->skip) {
				sink_tcp_skip_begin(s, c, sc, now, true);
				continue;
			}
			st->cutoffs++;
			conn_close(c, "slow-consumer");
		} else if (s->skip) {
			continue;
		} else if (c->q.bytes <= s->soft) {
			c->soft_since = 0;
		} else if (!c->soft_since) {
			c->soft_since = now;
		} else if (now - c->soft_since > s->softms) {
			/* Above the soft limit for softsecs on end: it is
			 * not catching up, only adding delay. */
			st->cutoffs++;
			conn_close(c, "slow-consumer");
		}
	}
}

static void sink_tcp_kick_all(struct sink_tcp *s)
{
	struct conn *c, *next;
	unsigned k = 0;
	bool over = s->overloaded;

	s->last_flush = uv_hrtime();
	s->last_poll = s->last_flush;
	s->gathered = 0;
	s->in_round = true;
	if (over)
		uv_update_time(s->base.relay->ctx->loop);
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (over)
			sink_tcp_check_lag(s, c);
		conn_kick(c);
		/* Every 8 clients a look at the clock; datagrams read here
		 * reach the clients after c in this round, the others in
		 * the next. */
		if ((++k & 7) == 0)
			sink_tcp_poll_input(s);
	}
	s->in_round = false;
	/* What was read during the round goes in the next one, from the
	 * loop (never straight from here: rounds that outlast the interval
	 * would nest). */
	if (s->gathered && !s->armed && s->tfd >= 0)
		(void)sink_tcp_arm(s, s->last_flush + sink_tcp_interval(s));
}

static void sink_tcp_on_pace(uv_poll_t *p, int status, int events)
{
	struct sink_tcp *s = p->data;
	uint64_t expirations;

	if (read(s->tfd, &expirations, sizeof(expirations)) < 0)
		return;
	s->armed = false;
	sink_tcp_kick_all(s);
}

static void sink_tcp_flush(struct sink *base)
{
	struct sink_tcp *s = (struct sink_tcp *)base;
	uint64_t interval, now;
	struct conn *c;

	if (!s->listening) {
		c = dialer_conn(&s->dialer);
		if (c)
			conn_kick(c);
		return;
	}
	if (s->in_round)
		return; /* kick_all flushes what arrived once it is done */
	if (s->armed) {
		static const struct itimerspec off;

		if (base->uri->set_maxdelay || s->gathered < SINK_TCP_PACE_BYTES)
			return;
		/* Enough for a good write already: start the round now. */
		(void)timerfd_settime(s->tfd, 0, &off, NULL);
		s->armed = false;
		sink_tcp_kick_all(s);
		return;
	}
	interval = sink_tcp_interval(s);
	now = uv_hrtime();
	if (s->tfd < 0 || now - s->last_flush >= interval ||
	    !sink_tcp_arm(s, s->last_flush + interval))
		sink_tcp_kick_all(s);
}

static void sink_tcp_on_handle_closed(uv_handle_t *h)
{
	sink_tcp_release(h->data);
}

static void sink_tcp_on_listener_closed(struct listener *ls)
{
	sink_tcp_release(ls->data);
}

static void sink_tcp_on_dialer_stopped(struct dialer *d)
{
	sink_tcp_release(d->conf.owner);
}

static void sink_tcp_close(struct sink *base)
{
	struct sink_tcp *s = (struct sink_tcp *)base;

	if (s->closing)
		return;
	s->closing = true;
	if (s->listening) {
		listener_close(&s->listener);
		if (s->tfd >= 0)
			uv_close((uv_handle_t *)&s->tpoll,
				 sink_tcp_on_handle_closed);
		for (struct conn *c = s->clients; c; c = c->next)
			conn_close(c, "shutdown");
	} else if (s->dialer.started) {
		dialer_stop(&s->dialer);
	} else {
		sink_tcp_release(s);
	}
}

/* The control API's link.list: the clients, or the one upstream link. */
static struct conn *sink_tcp_conns(struct sink *base)
{
	struct sink_tcp *s = (struct sink_tcp *)base;

	return s->listening ? s->clients : dialer_conn(&s->dialer);
}

static const struct sink_ops sink_tcp_ops = {
	.push = sink_tcp_push,
	.flush = sink_tcp_flush,
	.close = sink_tcp_close,
	.conns = sink_tcp_conns,
};

int sink_tcp_open(struct relay *r, const struct uri *u, struct sink **out,
		  char *err, size_t errlen)
{
	struct sink_tcp *s = xcalloc(1, sizeof(*s));
	int rc;

	s->base.ops = &sink_tcp_ops;
	s->base.relay = r;
	s->base.uri = u;
	s->handles = 1;
	s->tfd = -1;
	if (u->local) {
		s->listening = true;
		s->base.link = &s->listener.conf;
		s->soft = u->soft ? u->soft : u->queue / 2;
		s->softms = u->softsecs * 1000ull;
		s->skip = u->slow == URI_SLOW_SKIP;
		s->maxlag = u->maxlag;
		s->pace_ns = u->maxdelay * 1000000ull;
		s->listener.kind = "relay";
		s->listener.name = r->name;
		s->listener.on_accept = sink_tcp_on_accept;
		s->listener.viewers = true;
		s->listener.on_closed = sink_tcp_on_listener_closed;
		s->listener.data = s;
		rc = listener_open(&s->listener, r->ctx->loop, u, r->reuseport,
				   err, errlen);
		if (rc < 0) {
			s->closing = true;
			/* A listening handle that was made closes itself
			 * and releases s; else nothing holds s. */
			if (s->listener.handles == 0)
				sink_tcp_release(s);
			return rc;
		}
		/* Without a timerfd the sink simply writes on every flush. */
		s->tfd = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
		if (s->tfd >= 0) {
			uv_poll_init(r->ctx->loop, &s->tpoll, s->tfd);
			s->tpoll.data = s;
			s->handles++;
			uv_poll_start(&s->tpoll, UV_READABLE, sink_tcp_on_pace);
		}
	} else {
		bool hub = u->has_channel;
		struct dialer_conf dc = {
			.uri = u,
			.conn = {
				.what = "upstream",
				/* A link to a hub is framed whatever auto
				 * would find. */
				.framing = hub ? FRAMING_DATAGRAM : u->framing,
				.sends_data = true,
				.rx_framed = hub ? CONN_RX_FRAMES
						 : CONN_RX_DISCARD,
				.rx_raw = CONN_RX_DISCARD,
				.queue = u->queue,
				.sndbuf = u->sndbuf ? u->sndbuf
						    : SINK_TCP_DEFAULT_SNDBUF,
			},
			.keepalive = hub,
			.user = &sink_tcp_upstream_handler,
			.owner = s,
			.on_stopped = sink_tcp_on_dialer_stopped,
		};

		/* Each publishing sink is its own origin for the hub's
		 * duplicate window, even with several in one process. */
		if (getrandom(&s->origin, sizeof(s->origin), 0) !=
		    sizeof(s->origin))
			s->origin = r->ctx->node_id ^ (uintptr_t)s;
		/* ... and says so in its HELLO: the hub takes DATA on a
		 * link only with the HELLO's node id as origin. */
		if (hub)
			dc.conn.node_id = s->origin;
		s->base.link = &s->dialer.link;
		rc = dialer_start(&s->dialer, &r->own, &dc, err, errlen);
		if (rc < 0) {
			sink_tcp_release(s);
			return rc;
		}
	}
	*out = &s->base;
	return 0;
}
