/* conn.h - one session on top of a link (link.h): the HELLO and the
 * framing choice, a bounded queue of gathered writes, reads as raw bytes
 * or as link-protocol frames, keepalive, and one close path with a reason.
 *
 * A conn knows nothing of the transport under it (TCP, TLS, ...), and
 * nothing of the role above it: it takes a small owner context (struct
 * conn_owner) for its log lines, hellos and counters.
 *
 * Framing (conn_conf.framing):
 *  - raw: the peer gets and sends a plain byte stream.
 *  - datagram: both sides send a HELLO at once, then frames.
 *  - auto: the side that receives data (a source) sends its HELLO at once
 *    and reads the peer's first bytes: a HELLO means frames, anything else
 *    is raw data. The side that sends data (a sink) sends nothing until it
 *    knows: a HELLO from the peer makes it answer with its own and frame
 *    what it sends; other bytes, CONN_AUTO_WAIT_MS of silence, or more
 *    data waiting than it may hold meanwhile (CONN_AUTO_WAIT_BYTES on an
 *    accepted connection, whose mcferry peer sends its HELLO with the
 *    connection; the whole queue on one we made) make it raw. Data waits
 *    in the queue meanwhile, so nothing is lost. So two mcferry nodes frame, and nc, VLC or ffmpeg get raw bytes
 *    and never see a HELLO they would take for data.
 *
 * Exposure: an accepted conn that must send a HELLO (framing datagram or
 * auto, or any framing over a transport with a handshake) is "pending"
 * until it has; the listener counts it against max-pending, and the conn
 * closes it (reason=hello-timeout) when the listener's hello deadline,
 * counted from the accept, passes first. A raw peer is never pending;
 * an auto sink's silent peer is raw after CONN_AUTO_WAIT_MS.
 *
 * Queue accounting counts what an entry holds: a control frame copied
 * into a pooled buffer of its own (hello, ping, pong, interest, a DATA
 * header) counts as that whole buffer, so a peer that makes us answer
 * and never reads reaches the queue limit; a control frame that does not
 * fit closes the conn (reason=slow-consumer). PINGs are answered with one
 * PONG per read (the latest token).
 *
 * Message links (SRT, the udp link: LINK_CAP_MESSAGES): one datagram or
 * one frame is one message. Raw, each message reaches on_frame as a
 * FRAME_DGRAM frame (so its boundaries survive; on_data when there is no
 * on_frame), and a datagram longer than a message is dropped and counted;
 * framed, a frame longer than a message goes as fragments (frag.h) and
 * is put together again, a frame missing a piece dropped and counted.
 * auto framing is decided as on a stream, by the first message.
 *
 * Lifetime: the owner makes a conn with conn_new() over a link, then
 * conn_accept() (a link from a listener) or conn_connect(). conn_close()
 * may be called from any callback, any number of times; it only starts
 * closing. When the link has closed, the queue is released, the conn
 * leaves its listener's list, the owner's on_closed() runs and the conn
 * is freed.
 */
#ifndef MCFERRY_CONN_H
#define MCFERRY_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fanout.h"
#include "frag.h"
#include "frame.h"
#include "addr.h"
#include "link.h"
#include "node.h"
#include "uri.h"

/* auto framing: how long a sink waits for the peer's HELLO before it
 * decides the peer is a plain TCP peer. */
#define CONN_AUTO_WAIT_MS 200
/* ... and how much data an accepted peer may let wait (an mcferry client
 * sends its HELLO with the connection). */
#define CONN_AUTO_WAIT_BYTES (64 * 1024)
/* Most bytes one read hands the frame decoder (more only when one frame
 * is larger): bounds the frames handled per read callback (512 of the
 * smallest), so a burst of control frames on one link delays the data of
 * the others by well under a millisecond per read. */
#define CONN_READ_WINDOW 8192

enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_OPEN, CONN_CLOSING };

enum conn_rx {
	CONN_RX_DISCARD, /* read and drop */
	CONN_RX_RAW,     /* bytes to on_data */
	CONN_RX_FRAMES,  /* hello, then frames to on_frame */
	CONN_RX_SNIFF,   /* auto: the first bytes decide */
};

/* Who owns a connection: names its log lines, fills its hellos, holds
 * its counters. Lives as long as any of its conns. */
struct conn_owner {
	struct node *node;
	const char *kind;        /* "relay", "hub", "gateway" */
	const char *name;
	const char *island;      /* sent in hellos */
	uint8_t role;            /* FRAME_ROLE_*, sent in hellos */
	uint64_t *out_dgrams;    /* counters the conns add to */
	uint64_t *out_bytes;
	uint32_t *clients;       /* open conns right now */
	bool clients_accepted_only; /* count only conns a listener made */
	uint64_t *reconnects;    /* outbound links re-established */
};

/* How a connection is made. */
struct conn_conf {
	const char *what;          /* "client", "publisher", "upstream", "link" */
	enum uri_framing framing;
	bool sends_data;           /* a sink's conn (see auto framing) */
	enum conn_rx rx_framed;    /* FRAMES or DISCARD, once framed */
	enum conn_rx rx_raw;       /* RAW or DISCARD, once raw */
	uint64_t queue;            /* output queue limit, bytes */
	uint32_t sndbuf, rcvbuf;   /* kernel buffers (0: leave them) */
	/* The node id our HELLO says (0: the node's). A hub accepts DATA
	 * on a link only with the HELLO's node id as origin, so a sender
	 * that is an origin of its own says that one. */
	uint64_t node_id;
};

struct conn;

struct conn_handler {
	/* Open (connect side: the connect result; accept side: ready). */
	void (*on_connect)(struct conn *c, int status);
	void (*on_data)(struct conn *c, const uint8_t *p, size_t n);
	void (*on_frame)(struct conn *c, const struct frame *f);
	void (*on_read_end)(struct conn *c); /* after each read's data */
	void (*on_hello)(struct conn *c);    /* peer's hello accepted */
	/* A write the transport finished later (the socket was full) has
	 * completed; the next starts after this returns. */
	void (*on_written)(struct conn *c);
	void (*on_closed)(struct conn *c); /* link closed, about to free */
};

struct conn {
	struct link *link;
	unsigned id;
	enum conn_state state;
	enum conn_rx rx_mode;
	struct conn_conf conf;
	bool framed;            /* datagram framing on what we send */
	bool decided;           /* framing known: data may be queued */
	bool hello_seen;
	bool hello_sent;
	bool counted;           /* counted in owner->clients */
	bool pending;           /* counted by its listener until its HELLO */
	bool pong_due;          /* a PING was read: PONG at the read's end */
	uint8_t pong_token[8];
	int handles;            /* the link, and the auto-wait timer */
	uv_timer_t wait;        /* auto framing on a sink: the decision;
				 * the hello deadline of a pending conn */
	uint64_t hello_deadline; /* loop time (ms), while pending */
	uint32_t nctl;          /* control copies queued (pooled buffers) */
	uint32_t ctl_cost;      /* bytes one of them holds */
	uint32_t refusals;      /* ERROR frames of code REFUSED read */
	const char *what;
	char peer[LINK_PEER_MAX];
	const struct conn_owner *own;
	struct listener *ls;    /* the listener that made it, or NULL */
	void *owner;
	void *data;             /* the owner's per-connection state */
	const struct conn_handler *h;
	struct fanout_queue q;
	uint8_t *rx;            /* partial frame (FRAMES, SNIFF) */
	uint32_t rxlen;
	uint32_t rxcap;
	uint64_t sent_bytes;
	uint64_t wbytes;        /* bytes in the link_write in flight */
	uint64_t opened;        /* loop time (ms) the conn opened */
	uint64_t last_rx;       /* loop time (ms) of the last bytes read */
	uint64_t last_ping;     /* loop time (ms) of the last PING sent */
	uint64_t soft_since;    /* loop time (ms) the queue went over soft */
	struct frame_hello peer_hello; /* valid once hello_seen */
	struct conn *prev, *next; /* owner's or listener's list */
	/* Message links only (conn_kick_messages, conn_read_message). */
	bool messages;          /* the link is LINK_CAP_MESSAGES */
	bool wpending;          /* a message handed to link_write, not sent */
	bool msg_stats;         /* series registered with owner link */
	uint32_t frag_id;       /* id of the next frame sent in pieces */
	uint32_t frag_off;      /* bytes of the head frame sent as pieces */
	uint16_t frag_index;    /* index of its next piece */
	uint64_t msg_oversize;  /* raw datagrams longer than a message */
	struct frag_rx frag;    /* the frame coming in pieces */
	uv_timer_t ka;          /* LINK_CAP_KEEPALIVE: the keepalive tick */
};

/* A new session of owner own over link l (which it now owns), made as
 * cf says. */
struct conn *conn_new(const struct conn_owner *own, struct link *l,
		      const struct conn_conf *cf, const struct conn_handler *h,
		      void *owner);
/* Open a link a listener accepted (at once, or when its transport says
 * it is ready). */
void conn_accept(struct conn *c);
/* Start connecting; h->on_connect reports the result, and a conn whose
 * connect failed is closed by the caller. 0 or a negative errno. */
int conn_connect(struct conn *c, const struct sockaddr *sa);
/* Queue one datagram for sending (with its frame header when framed;
 * while the framing is not known it waits in the queue and gets its
 * header, or not, once it is). Returns 0 or -ENOBUFS when the queue is
 * full (nothing queued). */
int conn_send(struct conn *c, struct buf *b);
/* Queue b as a DATA frame described by d (d->len = b->len): the header
 * goes in a small buffer of its own, since several links may frame one
 * buffer differently. Both or neither are queued: 0 or -ENOBUFS. */
int conn_send_data(struct conn *c, struct buf *b, const struct frame_data *d);
/* Queue a channel frame (JOIN, LEAVE, EXPORT, UNEXPORT, or FORWARDER with
 * active). Returns 0 or -ENOBUFS; the caller kicks the write. */
int conn_send_channel(struct conn *c, uint8_t type, const struct channel *ch,
		      int active);
/* Queue a span of b (a pre-built frame, say); same result as conn_send. */
int conn_send_span(struct conn *c, struct buf *b, uint8_t *p, uint32_t len);
/* Queue n bytes (a small control frame), copied into a pooled buffer. */
int conn_send_bytes(struct conn *c, const uint8_t *p, size_t n);
/* Keepalive tick (every FRAME_TICK_MS) for a link whose peer answers
 * pings: close it when silent for FRAME_DEAD_MS, else send a PING when
 * FRAME_PING_MS have passed since the last. */
void conn_keepalive(struct conn *c, uint64_t now);
/* Write what is queued (gathered), unless a write is in flight. */
void conn_kick(struct conn *c);
/* Start closing with a reason that is logged once. */
void conn_close(struct conn *c, const char *reason);
/* Put c at the head of a list. */
void conn_list_add(struct conn **head, struct conn *c);
/* Take c out of its list. */
void conn_list_del(struct conn **head, struct conn *c);

#endif
