/* dialer.c - one outbound connection kept up with backoff; see dialer.h. */
#include "dialer.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "net.h"

static void dialer_attempt(struct dialer *d);

/* The peer's authenticated identity for a log line (peer-supplied text:
 * a certificate's name): printable ASCII but blank, '"' and '\\' as is,
 * every other byte as \\xHH, "-" when there is none. A static copy until
 * log.c has one for everybody. */
static const char *dialer_identity(const struct link *l, char *out, size_t n)
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


static void dialer_release(struct dialer *d)
{
	if (--d->handles > 0 || !d->stopping)
		return;
	link_conf_close(&d->link);
	if (d->conf.on_stopped)
		d->conf.on_stopped(d);
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
	if (d->backoff_ms > d->conf.max_backoff_ms)
		d->backoff_ms = d->conf.max_backoff_ms;
	uv_timer_start(&d->timer, dialer_on_timer, delay, 0);
}

static void dialer_on_connect(struct conn *c, int status)
{
	struct dialer *d = c->owner;
	char id[4 * LINK_IDENTITY_MAX + 1];

	if (status == 0) {
		log_info("%s=%s c=%u %s connected peer=%s via=%s attempts=%u "
			 "identity=%s",
			 d->own->kind, d->own->name, c->id, c->what, c->peer,
			 d->link.ops->name, d->failures + 1,
			 dialer_identity(c->link, id, sizeof(id)));
		if (d->ever_connected)
			(*d->own->reconnects)++;
		d->ever_connected = true;
		d->failures = 0;
		d->backoff_ms = DIALER_BACKOFF_MIN_MS;
		if (d->conf.user->on_connect)
			d->conf.user->on_connect(c, 0);
		return;
	}
	d->failures++;
	log_msg(d->failures == 1 ? LOG_WARN : LOG_DEBUG,
		"%s=%s c=%u %s connect failed peer=%s err=%s retry_ms=%u",
		d->own->kind, d->own->name, c->id, c->what, c->peer,
		uv_err_name(status), d->backoff_ms);
	conn_close(c, "connect-failed");
}

static void dialer_on_data(struct conn *c, const uint8_t *p, size_t n)
{
	struct dialer *d = c->owner;

	d->conf.user->on_data(c, p, n);
}

static void dialer_on_frame(struct conn *c, const struct frame *f)
{
	struct dialer *d = c->owner;

	if (d->conf.user->on_frame)
		d->conf.user->on_frame(c, f);
	else
		conn_close(c, "bad-frame-type");
}

static void dialer_on_read_end(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->conf.user->on_read_end)
		d->conf.user->on_read_end(c);
}

static void dialer_on_hello(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->conf.user->on_hello)
		d->conf.user->on_hello(c);
}

static void dialer_on_closed(struct conn *c)
{
	struct dialer *d = c->owner;

	if (d->conn == c)
		d->conn = NULL;
	if (d->conf.user->on_closed)
		d->conf.user->on_closed(c);
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
	c = conn_new(d->own, link_new(d->own->node->loop, &d->link),
		     &d->conf.conn, &dialer_handler, d);
	c->data = d->conf.owner; /* the owner's, like any conn's data */
	d->conn = c;
	d->handles++;
	rc = conn_connect(c, (const struct sockaddr *)&d->addr);
	if (rc < 0) {
		log_warn("%s=%s c=%u %s connect failed peer=%s err=%s",
			 d->own->kind, d->own->name, c->id, c->what, c->peer,
			 uv_err_name(rc));
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

int dialer_start(struct dialer *d, const struct conn_owner *own,
		 const struct dialer_conf *conf, char *err, size_t errlen)
{
	uv_loop_t *loop = own->node->loop;
	int rc;

	d->conf = *conf;
	d->own = own;
	if (!d->conf.max_backoff_ms)
		d->conf.max_backoff_ms = DIALER_BACKOFF_MAX_MS;
	rc = net_resolve(conf->uri, &d->addr);
	if (rc < 0) {
		snprintf(err, errlen, "cannot resolve host '%s'",
			 conf->uri->host);
		return rc;
	}
	rc = link_conf_open(&d->link, conf->uri, err, errlen);
	if (rc < 0)
		return rc;
	d->backoff_ms = DIALER_BACKOFF_MIN_MS;
	d->started = true;
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	d->handles = 1;
	if (conf->keepalive) {
		uv_timer_init(loop, &d->ka);
		d->ka.data = d;
		d->handles++;
		uv_timer_start(&d->ka, dialer_on_ka, FRAME_TICK_MS,
			       FRAME_TICK_MS);
	}
	dialer_attempt(d);
	return 0;
}

static void dialer_on_timer_closed(uv_handle_t *h)
{
	dialer_release(h->data);
}

void dialer_stop(struct dialer *d)
{
	if (d->stopping || !d->started)
		return;
	d->stopping = true;
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, dialer_on_timer_closed);
	if (d->conf.keepalive)
		uv_close((uv_handle_t *)&d->ka, dialer_on_timer_closed);
	if (d->conn)
		conn_close(d->conn, "shutdown");
}

struct conn *dialer_conn(const struct dialer *d)
{
	return d->conn && d->conn->state == CONN_OPEN ? d->conn : NULL;
}
