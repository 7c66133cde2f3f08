/* fuzz_conn.c - libFuzzer target for the session state machine (src/conn.c)
 * over the in-memory transport of link_mem.c: the input is a script of
 * what the peer and the transport do, and the bytes the peer sends.
 *
 * Input:
 *   byte 0    mode: bits 0-1 framing and side (0 datagram accepted,
 *             1 auto on a sink, 2 auto on a source, 3 datagram connected),
 *             bit 2 rx_framed DISCARD (else FRAMES), bit 3 rx_raw DISCARD
 *             (else RAW), bits 4-7 queue limit 256 << n bytes. An auto
 *             sink always has rx_raw DISCARD, as sink_tcp.c makes it,
 *             unless FUZZ_CONN_ANY_RX=1 (see crashes/README)
 *   then ops  0x00-0xdf  the peer sends the next op+1 bytes of the input
 *             0xe0 HI LO the peer sends the next (HI<<8|LO)+1 bytes
 *             0xe1/0xe2  the write in flight finishes / fails (EPIPE)
 *             0xe3/0xe4  the peer closes (EOF) / resets
 *             0xe5-0xe8  try_write takes all / nothing / at most N*16+1
 *                        bytes (next byte N) / fails
 *             0xe9       the auto-framing wait timer fires
 *             0xea N     keepalive tick N*20 ms later than the last
 *             0xeb N     the owner sends an N*8+1 byte datagram (open)
 *             0xec N     the owner sends an N*8 byte DATA frame (framed)
 *             0xed       the owner sends a JOIN (framed)
 *             0xee       the owner closes the conn
 *             0xef N     the connect finishes (N odd: refused)
 *             0xf0       one turn of the loop
 *             0xf1-0xff  the peer sends the next (op-0xf0)*512 bytes
 *
 * The handler decodes what it is given (channel, data, emitters frames),
 * answers a JOIN with an EXPORT and echoes DATA, and closes the conn on a
 * LEAVE from inside on_frame. Checked after every op: the queue stays
 * within its limit; what a framed conn wrote parses as frames and starts
 * with a HELLO; no handler callback after the close; and at the end, once
 * the loop has closed and freed the conn, on_closed ran once, every buffer
 * is back in the pool, no handle is left and the client count is 0.
 *
 * Built with FUZZ_CONN_MESSAGES (fuzz_conn_msg.c) the link is a message
 * transport (link_mem_msg_ops: SRT's and the udp link's rules): every
 * delivery is one message, and what a framed conn wrote must be one
 * frame per message or fragments (frag.h) that put together make one,
 * never a message above the link's largest.
 */
#include <stdbool.h>
#include <string.h>

#include "conn.h"
#include "frag.h"
#include "fuzz.h"
#include "link_mem.h"
#include "log.h"
#include "util.h"

#define OUT_CAP (1u << 20)

struct state {
	struct conn *c;         /* NULL once on_closed ran */
	struct link_mem *m;     /* NULL once the link was freed */
	bool link_freed;
	int closed_calls;
	bool closing;           /* conn_close was called (by anyone) */
	size_t out_off;         /* framed output parsed so far */
	unsigned out_frames;
	struct frag_rx frag;    /* messages: fragments of our output */
	uint64_t frames_in;
};

static struct node node;
static uv_loop_t loop;
static uint64_t out_dgrams, out_bytes, reconnects;
static uint32_t clients;
static const struct conn_owner owner = {
	.node = &node, .kind = "fuzz", .name = "conn", .island = "fuzz",
	.role = FRAME_ROLE_GATEWAY, .out_dgrams = &out_dgrams,
	.out_bytes = &out_bytes, .clients = &clients,
	.reconnects = &reconnects,
};

static struct state *state_of(struct conn *c)
{
	return c->owner;
}

/* Every callback but on_closed: only while open, never after a close. */
static void check_live(struct conn *c)
{
	struct state *st = state_of(c);

	FUZZ_CHECK(st->c == c && st->closed_calls == 0);
	FUZZ_CHECK(c->state == CONN_OPEN);
}

static void h_connect(struct conn *c, int status)
{
	struct state *st = state_of(c);

	FUZZ_CHECK(st->c == c && st->closed_calls == 0);
	if (status < 0)
		conn_close(c, "connect-failed");
}

static void h_data(struct conn *c, const uint8_t *p, size_t n)
{
	check_live(c);
	FUZZ_CHECK(n > 0);
	/* Read every byte, so ASan sees a bad span. */
	{
		volatile uint8_t x = 0;

		for (size_t i = 0; i < n; i++)
			x ^= p[i];
		(void)x;
	}
}

static void echo_data(struct conn *c, const struct frame_data *d)
{
	struct buf *b = buf_get(&node.pool, d->len);
	struct frame_data e = *d;

	memcpy(b->data, d->payload, d->len);
	b->len = d->len;
	e.payload = b->data;
	if (conn_send_data(c, b, &e) == 0)
		conn_kick(c);
	buf_unref(b);
}

static void h_frame(struct conn *c, const struct frame *f)
{
	struct state *st = state_of(c);

	check_live(c);
	/* On a message link raw datagrams come here too, one per message
	 * (conn.h): bytes, as on_data gets them on a stream. */
	if (c->messages && c->rx_mode == CONN_RX_RAW) {
		FUZZ_CHECK(f->type == FRAME_DGRAM && f->len > 0);
		h_data(c, f->body, f->len);
		return;
	}
	FUZZ_CHECK(c->hello_seen);
	st->frames_in++;
	switch (f->type) {
	case FRAME_DATA: {
		struct frame_data d;

		if (frame_data_decode(f, &d) == 0) {
			FUZZ_CHECK(d.payload + d.len == f->body + f->len);
			echo_data(c, &d);
		}
		break;
	}
	case FRAME_JOIN:
	case FRAME_EXPORT:
	case FRAME_UNEXPORT:
	case FRAME_FORWARDER: {
		struct channel ch;
		int active = -1;

		if (frame_channel_decode(f, &ch, &active) != 0)
			break;
		if (f->type == FRAME_JOIN &&
		    conn_send_channel(c, FRAME_EXPORT, &ch, 0) == 0)
			conn_kick(c);
		break;
	}
	case FRAME_LEAVE:
		/* Closing from inside on_frame: nothing more may come. */
		conn_close(c, "leave");
		st->closing = true;
		break;
	case FRAME_EMITTERS: {
		struct frame_emitter e[FRAME_EMITTERS_MAX];
		size_t n = 0;

		if (frame_emitters_decode(f, e, &n) == 0)
			FUZZ_CHECK(n <= FRAME_EMITTERS_MAX);
		break;
	}
	default:
		break;
	}
}

static void h_read_end(struct conn *c)
{
	check_live(c);
}

static void h_hello(struct conn *c)
{
	check_live(c);
	/* Framed, unless an auto sink went raw first (its queue filled
	 * before the HELLO came): then it stays raw, as conn.h says. */
	FUZZ_CHECK(c->hello_seen && c->decided);
}

static void h_closed(struct conn *c)
{
	struct state *st = state_of(c);

	FUZZ_CHECK(st->c == c);
	FUZZ_CHECK(st->closed_calls++ == 0);
	FUZZ_CHECK(c->state == CONN_CLOSING);
	st->c = NULL;
}

static const struct conn_handler handler = {
	.on_connect = h_connect,
	.on_data = h_data,
	.on_frame = h_frame,
	.on_read_end = h_read_end,
	.on_hello = h_hello,
	.on_closed = h_closed,
};

/* One whole frame a framed conn wrote: HELLO first, never again. */
static void check_out_frame(struct state *st, const uint8_t *p, size_t n)
{
	struct frame f;

	FUZZ_CHECK(frame_decode(p, n, &f) == (int)n);
	if (st->out_frames++ == 0)
		FUZZ_CHECK(f.type == FRAME_HELLO);
	else
		FUZZ_CHECK(f.type != FRAME_HELLO);
}

/* A message link's records (link_mem.h): each one frame, or a fragment
 * of one. */
static void check_out_messages(struct state *st, struct link_mem *m)
{
	while (m->out_len - st->out_off >= 4) {
		const uint8_t *r = m->out + st->out_off;
		size_t n = (size_t)r[0] << 24 | (size_t)r[1] << 16 |
			   (size_t)r[2] << 8 | r[3];

		FUZZ_CHECK(n <= LINK_MEM_MAX_MESSAGE &&
			   m->out_len - st->out_off - 4 >= n);
		r += 4;
		st->out_off += 4 + n;
		if (frag_is(r, n)) {
			int rc = frag_rx_push(&st->frag, r, n);

			FUZZ_CHECK(rc >= 0 && st->frag.lost == 0);
			if (rc == 1)
				check_out_frame(st, st->frag.buf, st->frag.len);
			continue;
		}
		check_out_frame(st, r, n);
	}
}

/* What a framed conn wrote: whole frames of the kinds it sends, HELLO
 * first. */
static void check_output(struct state *st)
{
	struct conn *c = st->c;
	struct link_mem *m = st->m;

	if (!c || !m || !c->decided || !c->framed)
		return;
	if (m->messages) {
		check_out_messages(st, m);
		return;
	}
	for (;;) {
		struct frame f;
		int rc = frame_decode(m->out + st->out_off,
				      m->out_len - st->out_off, &f);

		FUZZ_CHECK(rc >= 0);
		if (rc == 0)
			break;
		if (st->out_frames++ == 0)
			FUZZ_CHECK(f.type == FRAME_HELLO);
		else
			FUZZ_CHECK(f.type != FRAME_HELLO);
		st->out_off += (size_t)rc;
	}
}

static void check(struct state *st)
{
	struct conn *c = st->c;

	if (c) {
		FUZZ_CHECK(c->q.bytes <= c->q.limit);
		FUZZ_CHECK(c->q.sending <= c->q.count);
		if (c->state == CONN_OPEN)
			FUZZ_CHECK(clients == 1);
	}
	check_output(st);
}

static void send_dgram(struct state *st, size_t n, bool data)
{
	struct conn *c = st->c;
	struct buf *b = buf_get(&node.pool, n);

	memset(b->data, 0xa5, n);
	b->len = (uint32_t)n;
	if (data) {
		struct frame_data d = {
			.hops = 1, .sport = 4000, .origin = 42, .seq = n,
			.ch = { .family = 4, .port = 5000,
				.group = { 239, 1, 1, 1 } },
			.payload = b->data, .len = b->len,
		};

		(void)conn_send_data(c, b, &d);
	} else {
		(void)conn_send(c, b);
	}
	buf_unref(b);
	conn_kick(c);
}

/* FUZZ_CONN_ANY_RX=1: any rx mode on any side, including ones no role
 * uses (an auto sink that reads raw bytes). */
static bool any_rx;

static void init_once(void)
{
	static bool done;
	const char *lvl = getenv("MCFERRY_FUZZ_LOG");

	if (done)
		return;
	done = true;
	any_rx = getenv("FUZZ_CONN_ANY_RX") && *getenv("FUZZ_CONN_ANY_RX") == '1';
	/* Debug by default, so every log line's format runs; `make fuzz`
	 * closes the target's stderr (-close_fd_mask=2). */
	log_set_level(lvl && *lvl == '0' ? LOG_ERROR : LOG_DEBUG);
	FUZZ_CHECK(uv_loop_init(&loop) == 0);
	node.loop = &loop;
	buf_pool_init(&node.pool);
	node.node_id = 0x1122334455667788ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZ_CONN_MESSAGES
	static const struct link_conf lconf = { .ops = &link_mem_msg_ops };
#else
	static const struct link_conf lconf = { .ops = &link_mem_ops };
#endif
	struct state st = { 0 };
	struct conn_conf cf = { .what = "peer" };
	size_t live0, pos = 1;
	uint64_t now;
	uint8_t mode;
	int turns;

	init_once();
	if (size < 1)
		return 0;
	mode = data[0];
	live0 = node.pool.live;
	cf.framing = (mode & 3) == 1 || (mode & 3) == 2 ? FRAMING_AUTO
							: FRAMING_DATAGRAM;
	cf.sends_data = (mode & 3) == 1;
	cf.rx_framed = mode & 4 ? CONN_RX_DISCARD : CONN_RX_FRAMES;
	cf.rx_raw = mode & 8 ? CONN_RX_DISCARD : CONN_RX_RAW;
	if (cf.sends_data && !any_rx)
		cf.rx_raw = CONN_RX_DISCARD;
	cf.queue = 256ull << (mode >> 4);

	uv_update_time(&loop);
	now = uv_now(&loop);
	frag_rx_init(&st.frag, FRAME_HDR_LEN + FRAME_BODY_MAX);
	st.m = link_mem_new(&loop, &lconf, OUT_CAP, &st.link_freed);
	st.c = conn_new(&owner, &st.m->base, &cf, &handler, &st);
	if ((mode & 3) == 3) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons(7000) };

		FUZZ_CHECK(conn_connect(st.c, (struct sockaddr *)&sa) == 0);
	} else {
		st.m->base.ready = true;
		conn_accept(st.c);
	}
	check(&st);

	while (pos < size && !st.link_freed) {
		uint8_t op = data[pos++];
		size_t n = 0, arg = pos < size ? data[pos] : 0;

		if (op < 0xe0 || op > 0xf0) {
			n = op < 0xe0 ? (size_t)op + 1 : (size_t)(op - 0xf0) * 512;
		} else if (op == 0xe0) {
			n = pos + 1 < size ? ((size_t)data[pos] << 8 | data[pos + 1]) + 1
					   : 0;
			pos += 2;
		} else if (op == 0xe7 || op == 0xea || op == 0xeb ||
			   op == 0xec || op == 0xef) {
			pos++;
		}
		if (pos > size)
			break;
		if (n) {
			if (n > size - pos)
				n = size - pos;
			if (!st.link_freed && !st.m->base.closing)
				link_mem_deliver(st.m, data + pos, n);
			pos += n;
		}
		if (st.link_freed)
			break;
		switch (op) {
		case 0xe1:
			link_mem_write_done(st.m, 0);
			break;
		case 0xe2:
			link_mem_write_done(st.m, UV_EPIPE);
			break;
		case 0xe3:
			link_mem_read_error(st.m, UV_EOF);
			break;
		case 0xe4:
			link_mem_read_error(st.m, UV_ECONNRESET);
			break;
		case 0xe5:
			st.m->policy = LINK_MEM_TAKE_ALL;
			break;
		case 0xe6:
			st.m->policy = LINK_MEM_TAKE_NONE;
			break;
		case 0xe7:
			st.m->policy = LINK_MEM_TAKE_SOME;
			st.m->take = arg * 16 + 1;
			break;
		case 0xe8:
			st.m->policy = LINK_MEM_FAIL;
			st.m->error = UV_EPIPE;
			break;
		case 0xe9:
			/* The wait timer's due time is now (its callback is a
			 * libuv field; the 200 ms are not waited out). */
			if (st.c && st.c->wait.loop &&
			    uv_is_active((uv_handle_t *)&st.c->wait)) {
				uv_timer_start(&st.c->wait, st.c->wait.timer_cb,
					       0, 0);
				uv_run(&loop, UV_RUN_NOWAIT);
			}
			break;
		case 0xea:
			now += arg * 20;
			if (st.c)
				conn_keepalive(st.c, now);
			break;
		case 0xeb:
			/* Roles send only on open conns (dialer_conn, the
			 * client lists' state checks). */
			if (st.c && st.c->state == CONN_OPEN)
				send_dgram(&st, arg * 8 + 1, false);
			break;
		case 0xec:
			if (st.c && st.c->state == CONN_OPEN && st.c->framed)
				send_dgram(&st, arg * 8, true);
			break;
		case 0xed:
			if (st.c && st.c->state == CONN_OPEN && st.c->framed) {
				struct channel ch = { .family = 4, .port = 5000,
						      .group = { 239, 1, 1, 2 } };

				if (conn_send_channel(st.c, FRAME_JOIN, &ch, 0) ==
				    0)
					conn_kick(st.c);
			}
			break;
		case 0xee:
			if (st.c)
				conn_close(st.c, "fuzz");
			break;
		case 0xef:
			link_mem_connect_done(st.m, arg & 1 ? UV_ECONNREFUSED : 0);
			break;
		case 0xf0:
			uv_run(&loop, UV_RUN_NOWAIT);
			break;
		default:
			break;
		}
		if (st.link_freed)
			st.m = NULL;
		check(&st);
	}

	/* The lifetime path: close, and let the loop free it. */
	if (st.c)
		conn_close(st.c, "end");
	for (turns = 0; !st.link_freed && turns < 100; turns++)
		uv_run(&loop, UV_RUN_NOWAIT);
	FUZZ_CHECK(st.link_freed);
	/* The auto-wait timer's handle may close a turn later. */
	for (turns = 0; uv_loop_alive(&loop) && turns < 100; turns++)
		uv_run(&loop, UV_RUN_NOWAIT);
	FUZZ_CHECK(!uv_loop_alive(&loop));
	FUZZ_CHECK(st.c == NULL && st.closed_calls == 1);
	FUZZ_CHECK(clients == 0);
	FUZZ_CHECK(node.pool.live == live0);
	frag_rx_exit(&st.frag);
	return 0;
}
