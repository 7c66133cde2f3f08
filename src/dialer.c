/* dialer.c - one outbound TCP connection kept up with backoff. */
#include "dialer.h"

#include <stdlib.h>

#include "log.h"

static void dialer_attempt(struct dialer *d);

static void dialer_release(struct dialer *d)
{
	if (--d->handles == 0 && d->stopping && d->on_stopped)
		d->on_stopped(d);
}

static void dialer_on_timer(uv_timer_t *t)
{
	dialer_attempt(t->data);
}

static void dialer_schedule(struct dialer *d)
{
	/* +-25% jitter so that many relays cut off by one outage do not
	 * come back in lockstep. */
	uint64_t delay = d->backoff_ms * (75 + (uint64_t)(rand() % 51)) / 100;

	d->backoff_ms *= 2;
	if (d->backoff_ms > d->max_backoff_ms)
		d->backoff_ms = d->max_backoff_ms;
	uv_timer_start(&d->timer, dialer_on_timer, delay, 0);
}

static void dialer_on_connect(struct conn *c, int status)
{
	struct dialer *d = c->owner;

	if (status == 0) {
		log_info("%s=%s c=%u %s connected peer=%s attempts=%u",
			 d->relay->kind, d->relay->name, c->id, c->what, c->peer,
			 d->failures + 1);
		if (d->ever_connected)
			d->relay->stats.reconnects++;
		d->ever_connected = true;
		d->failures = 0;
		d->backoff_ms = DIALER_BACKOFF_MIN_MS;
		if (d->user->on_connect)
			d->user->on_connect(c, 0);
		return;
	}
	d->failures++;
	log_msg(d->failures == 1 ? LOG_WARN : LOG_DEBUG,
		"%s=%s c=%u %s connect failed peer=%s err=%s "
		"retry_ms=%u",
		d->relay->kind, d->relay->name, c->id, c->what, c->peer, uv_err_name(status),
		d->backoff_ms);
	conn_close(c, "connect-failed");
}

static void dialer_on_data(struct conn *c, const uint8_t *p, size_t n)
{
	struct dialer *d = c->owner;

	d->user->on_data(c, p, n);
}

static void dialer_on_frame(struct conn *c, const struct frame *f)
{
	struct dialer *d = c->owner;

	d->user->on_frame(c, f);
}

static void dialer_on_read_end(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->user->on_read_end)
		d->user->on_read_end(c);
}

static void dialer_on_hello(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->user->on_hello)
		d->user->on_hello(c);
}

static void dialer_on_closed(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->conn == c)
		d->conn = NULL;
	if (d->user->on_closed)
		d->user->on_closed(c);
	if (!d->stopping)
		dialer_schedule(d);
	dialer_release(d);
}

static const struct conn_handler dialer_handler = {
	.on_connect = dialer_on_connect,
	.on_data = dialer_on_data,
	.on_frame = dialer_on_frame,
	.on_read_end = dialer_on_read_end,
	.on_hello = dialer_on_hello,
	.on_closed = dialer_on_closed,
};

static void dialer_attempt(struct dialer *d)
{
	struct conn *c;
	int rc;

	if (d->stopping)
		return;
	c = conn_new(d->relay, "upstream", d->rx, d->framed, d->queue,
		     d->sndbuf, &dialer_handler, d);
	c->data = d->owner; /* the owner's, like any conn's data */
	d->conn = c;
	d->handles++;
	rc = conn_connect(c, (const struct sockaddr *)&d->addr);
	if (rc < 0) {
		log_warn("%s=%s c=%u upstream connect failed peer=%s err=%s",
			 d->relay->kind, d->relay->name, c->id, c->peer, uv_err_name(rc));
		conn_close(c, "connect-failed");
	}
}

static void dialer_on_ka(uv_timer_t *t)
{
	struct dialer *d = t->data;
	struct conn *c = dialer_conn(d);

	if (c)
		conn_keepalive(c, uv_now(t->loop));
}

void dialer_start(struct dialer *d, struct relay *r,
		  const struct sockaddr_storage *addr)
{
	d->relay = r;
	d->addr = *addr;
	d->backoff_ms = DIALER_BACKOFF_MIN_MS;
	if (!d->max_backoff_ms)
		d->max_backoff_ms = DIALER_BACKOFF_MAX_MS;
	uv_timer_init(r->ctx->loop, &d->timer);
	d->timer.data = d;
	d->handles = 1;
	if (d->keepalive) {
		uv_timer_init(r->ctx->loop, &d->ka);
		d->ka.data = d;
		d->handles++;
		uv_timer_start(&d->ka, dialer_on_ka, FRAME_TICK_MS,
			       FRAME_TICK_MS);
	}
	dialer_attempt(d);
}

static void dialer_on_timer_closed(uv_handle_t *h)
{
	dialer_release(h->data);
}

void dialer_stop(struct dialer *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, dialer_on_timer_closed);
	if (d->keepalive)
		uv_close((uv_handle_t *)&d->ka, dialer_on_timer_closed);
	if (d->conn)
		conn_close(d->conn, "shutdown");
}

struct conn *dialer_conn(const struct dialer *d)
{
	return d->conn && d->conn->state == CONN_OPEN ? d->conn : NULL;
}
