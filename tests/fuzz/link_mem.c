/* link_mem.c - the in-memory test transport; see link_mem.h. */
#include "link_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util.h"

static void link_mem_record(struct link_mem *m, const uint8_t *p, size_t n)
{
	size_t room = m->out_cap - m->out_len;

	memcpy(m->out + m->out_len, p, n < room ? n : room);
	m->out_len += n < room ? n : room;
	m->out_total += n;
}

/* A message link keeps each message whole, behind its length, or stops
 * keeping anything once one does not fit. */
static void link_mem_record_message(struct link_mem *m, const uint8_t *p,
				    size_t n)
{
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
			   (uint8_t)(n >> 8), (uint8_t)n };

	if (m->out_cap - m->out_len < n + 4) {
		m->out_cap = m->out_len;
		m->out_total += n;
		return;
	}
	link_mem_record(m, len, 4);
	link_mem_record(m, p, n);
	m->out_total -= 4;
}

/* The message in iov, copied (a message link copies at write()). */
static uint8_t *link_mem_gather(const struct iovec *iov, unsigned n,
				size_t *len)
{
	size_t total = 0;
	uint8_t *p;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	FUZZ_CHECK(total > 0 && total <= LINK_MEM_MAX_MESSAGE);
	p = xmalloc(total);
	total = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	*len = total;
	return p;
}

/* Take up to max bytes of iov, reading every one of them. */
static size_t link_mem_take(struct link_mem *m, const struct iovec *iov,
			    unsigned n, size_t max)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < max; i++) {
		size_t k = iov[i].iov_len;

		if (k > max - done)
			k = max - done;
		link_mem_record(m, iov[i].iov_base, k);
		done += k;
	}
	return done;
}

static int link_mem_read_start(struct link *l)
{
	struct link_mem *m = (struct link_mem *)l;

	/* libuv's uv_read_start says UV_EINVAL on a closing handle; conn_open
	 * relies on that when its first write failed and closed the link. */
	if (l->closing)
		return UV_EINVAL;
	m->reading = true;
	return 0;
}

static int link_mem_try_write(struct link *l, const struct iovec *iov,
			      unsigned n)
{
	struct link_mem *m = (struct link_mem *)l;
	size_t total = 0;

	FUZZ_CHECK(!l->closing);
	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	/* libuv: nothing jumps ahead of a queued write. */
	if (m->writing || m->connecting)
		return UV_EAGAIN;
	switch (m->policy) {
	case LINK_MEM_TAKE_NONE:
		return UV_EAGAIN;
	case LINK_MEM_FAIL:
		return m->error;
	case LINK_MEM_TAKE_SOME:
		if (m->messages && total > m->take)
			return UV_EAGAIN;  /* all or nothing */
		if (total > m->take)
			total = m->take;
		if (total == 0)
			return UV_EAGAIN;
		break;
	case LINK_MEM_TAKE_ALL:
		break;
	}
	if (m->messages) {
		size_t len;
		uint8_t *msg = link_mem_gather(iov, n, &len);

		link_mem_record_message(m, msg, len);
		free(msg);
		return (int)len;
	}
	return (int)link_mem_take(m, iov, n, total);
}

static int link_mem_write(struct link *l, const struct iovec *iov, unsigned n)
{
	struct link_mem *m = (struct link_mem *)l;

	FUZZ_CHECK(!l->closing);
	FUZZ_CHECK(!m->writing);
	FUZZ_CHECK(n > 0);
	if (m->messages) {
		/* Copied now: the session may reuse the memory at once. */
		m->wiov = xmalloc(sizeof(*iov));
		m->wiov->iov_base = link_mem_gather(iov, n, &m->wiov->iov_len);
		m->wn = 1;
		m->writing = true;
		return 0;
	}
	m->wiov = xmalloc(n * sizeof(*iov));
	memcpy(m->wiov, iov, n * sizeof(*iov));
	m->wn = n;
	m->writing = true;
	return 0;
}

void link_mem_write_done(struct link_mem *m, int status)
{
	struct iovec *iov = m->wiov;

	if (!m->writing || m->base.closing)
		return;
	m->writing = false;
	m->wiov = NULL;
	if (status == 0 && m->messages)
		link_mem_record_message(m, iov->iov_base, iov->iov_len);
	else if (status == 0)
		(void)link_mem_take(m, iov, m->wn, SIZE_MAX);
	if (m->messages)
		free(iov->iov_base);
	free(iov);
	m->base.ev->on_write(&m->base, status);
}

static int link_mem_connect(struct link *l, const struct sockaddr *sa)
{
	struct link_mem *m = (struct link_mem *)l;

	FUZZ_CHECK(!l->closing && !m->connecting);
	snprintf(l->peer, sizeof(l->peer), "mem");
	m->connecting = true;
	return 0;
}

void link_mem_connect_done(struct link_mem *m, int status)
{
	if (!m->connecting || m->base.closing)
		return;
	m->connecting = false;
	m->base.ready = status == 0;
	m->base.ev->on_connect(&m->base, status);
}

void link_mem_deliver(struct link_mem *m, const uint8_t *p, size_t n)
{
	struct link *l = &m->base;

	if (m->messages) {
		uint8_t *dst = NULL;
		size_t room = 0;

		if (n == 0 || !m->reading || l->closing)
			return;
		l->ev->on_alloc(l, &dst, &room);
		if (dst == NULL || n > room)
			return;  /* does not fit: dropped, as link_udp.c */
		memcpy(dst, p, n);
		l->ev->on_read(l, (ssize_t)n);
		return;
	}
	while (n > 0 && m->reading && !l->closing) {
		uint8_t *dst = NULL;
		size_t room = 0, k;

		l->ev->on_alloc(l, &dst, &room);
		if (dst == NULL || room == 0) {
			l->ev->on_read(l, UV_ENOBUFS);
			return;
		}
		k = n < room ? n : room;
		memcpy(dst, p, k);
		p += k;
		n -= k;
		l->ev->on_read(l, (ssize_t)k);
	}
}

void link_mem_read_error(struct link_mem *m, int err)
{
	if (m->reading && !m->base.closing)
		m->base.ev->on_read(&m->base, err);
}

static void link_mem_on_closed(uv_handle_t *h)
{
	struct link_mem *m = h->data;
	bool *freed = m->freed;

	/* libuv cancels a write in flight before the close callback. */
	if (m->writing) {
		m->writing = false;
		if (m->messages)
			free(m->wiov->iov_base);
		free(m->wiov);
		m->wiov = NULL;
		m->base.ev->on_write(&m->base, UV_ECANCELED);
	}
	if (m->base.ev && m->base.ev->on_close)
		m->base.ev->on_close(&m->base);
	free(m->out);
	free(m);
	*freed = true;
}

static void link_mem_close(struct link *l)
{
	struct link_mem *m = (struct link_mem *)l;

	uv_close((uv_handle_t *)&m->closer, link_mem_on_closed);
}

static struct link *link_mem_create(uv_loop_t *loop,
				    const struct link_conf *conf)
{
	static bool ignored;

	return &link_mem_new(loop, conf, 0, &ignored)->base;
}

const struct link_ops link_mem_msg_ops = {
	.name = "mem-msg",
	.caps = LINK_CAP_MESSAGES | LINK_CAP_KEEPALIVE,
	.max_message = LINK_MEM_MAX_MESSAGE,
	.create = link_mem_create,
	.connect = link_mem_connect,
	.read_start = link_mem_read_start,
	.try_write = link_mem_try_write,
	.write = link_mem_write,
	.close = link_mem_close,
};

const struct link_ops link_mem_ops = {
	.name = "mem",
	.caps = LINK_CAP_STREAM,
	.create = link_mem_create,
	.connect = link_mem_connect,
	.read_start = link_mem_read_start,
	.try_write = link_mem_try_write,
	.write = link_mem_write,
	.close = link_mem_close,
};

struct link_mem *link_mem_new(uv_loop_t *loop, const struct link_conf *conf,
			      size_t out_cap, bool *freed)
{
	struct link_mem *m = xcalloc(1, sizeof(*m));

	m->messages = conf && conf->ops == &link_mem_msg_ops;
	link_init(&m->base, m->messages ? &link_mem_msg_ops : &link_mem_ops,
		  conf, loop);
	uv_idle_init(loop, &m->closer);
	m->closer.data = m;
	m->out_cap = out_cap;
	m->out = xmalloc(out_cap ? out_cap : 1);
	m->freed = freed;
	*freed = false;
	return m;
}
