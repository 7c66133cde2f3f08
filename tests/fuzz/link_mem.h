/* link_mem.h - a test-only transport (struct link_ops) that lives in memory:
 * the test plays the far end and the kernel. It decides how much each
 * try_write takes, when an async write finishes, what is read and in which
 * pieces, when a connect completes; everything the session wrote is kept
 * in order for the test to check. Used by the fuzz_conn target only.
 *
 * It keeps libuv's rules for a stream, so a session that works on it works
 * on TCP for the same reasons:
 *  - a read lands in what on_alloc offered, at most that much; an offer of
 *    0 bytes is answered with UV_ENOBUFS;
 *  - try_write returns UV_EAGAIN while a write is in flight;
 *  - read_start on a closing link returns UV_EINVAL;
 *  - at most one write is in flight; its bytes are read when it finishes,
 *    so memory freed too early is seen by ASan;
 *  - close is asynchronous: a write in flight ends with UV_ECANCELED, then
 *    on_close runs from the loop, then the link is freed.
 * Calls the contract forbids (a second write in flight, a write after
 * close) abort.
 *
 * With link_mem_msg_ops (LINK_CAP_MESSAGES | LINK_CAP_KEEPALIVE, as SRT
 * and the udp link) it keeps the rules of a message transport instead:
 * a try_write takes the whole message or nothing, write() copies the
 * message at once, a message longer than LINK_MEM_MAX_MESSAGE aborts,
 * one delivery is one message (dropped when it does not fit what
 * on_alloc offered, as link_udp.c does), and what was written is kept as
 * records of a 4-byte big-endian length and the message.
 */
#ifndef MCFERRY_LINK_MEM_H
#define MCFERRY_LINK_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "link.h"

/* What try_write takes: everything, nothing (UV_EAGAIN), at most `take`
 * bytes, or fails with `error`. */
enum link_mem_policy {
	LINK_MEM_TAKE_ALL,
	LINK_MEM_TAKE_NONE,
	LINK_MEM_TAKE_SOME,
	LINK_MEM_FAIL,
};

#define LINK_MEM_MAX_MESSAGE 1456

struct link_mem {
	struct link base;
	bool messages;          /* link_mem_msg_ops */
	uv_idle_t closer;       /* never started: uv_close defers on_close */
	bool reading;           /* read_start was called */
	bool connecting;
	bool writing;           /* a write is in flight */
	struct iovec *wiov;     /* its vector (copied); messages: one
				   iovec over a copy of the message */
	unsigned wn;
	enum link_mem_policy policy;
	size_t take;            /* LINK_MEM_TAKE_SOME */
	int error;              /* LINK_MEM_FAIL */
	/* Everything written so far, in order (the first out_cap bytes). */
	uint8_t *out;
	size_t out_len, out_cap;
	uint64_t out_total;
	bool *freed;            /* set true when the link is freed */
};

extern const struct link_ops link_mem_ops;
extern const struct link_ops link_mem_msg_ops;

/* A new link on loop (a message link when conf->ops is link_mem_msg_ops);
 * *freed becomes true when it is freed. */
struct link_mem *link_mem_new(uv_loop_t *loop, const struct link_conf *conf,
			      size_t out_cap, bool *freed);
/* The peer sent n bytes: deliver them through on_alloc/on_read in as
 * many reads as the session's buffer needs. Nothing happens unless reads
 * were started; stops when the link starts closing. */
void link_mem_deliver(struct link_mem *m, const uint8_t *p, size_t n);
/* A read fails with err (UV_EOF, UV_ECONNRESET, ...). */
void link_mem_read_error(struct link_mem *m, int err);
/* The write in flight finishes with status (0: all of it was sent). */
void link_mem_write_done(struct link_mem *m, int status);
/* The connect in flight finishes with status. */
void link_mem_connect_done(struct link_mem *m, int status);

#endif
