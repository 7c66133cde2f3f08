/* uri.h - endpoint URI parsing (pure: no sockets, no name lookups).
 *
 *   udp://@GROUP:PORT[?source=S]   join a group (ASM or SSM)
 *   udp://@:PORT  udp://@ADDR:PORT receive unicast
 *   udp://HOST:PORT                send datagrams to HOST
 *   tcp://HOST:PORT                connect (source: read; sink: push)
 *   tcp://@[ADDR]:PORT             listen (source: one publisher; sink: fan out)
 *   tcp://HUB:PORT?channel=CH      publish CH to a hub (sink)
 *                                  or subscribe to CH (source)
 *   tls://HOST:PORT, tls://@[ADDR]:PORT
 *                                  as tcp://, over TLS 1.3 (ca= cert= key=
 *                                  or psk-file=; see link_tls.c)
 *   srt://HOST:PORT, srt://@[ADDR]:PORT
 *                                  SRT live mode: caller, listener (or
 *                                  mode=rendezvous; see link_srt.c)
 *   udp://HOST:PORT?framing=datagram, udp://@[ADDR]:PORT?framing=datagram
 *                                  a udp link (link_udp.c): link frames one
 *                                  per datagram, not a multicast endpoint;
 *                                  its scheme is URI_UDPLINK
 *
 * Query options (?NAME=VALUE&...) are rows of the option table, opt.c,
 * which says what each one is, where it applies and how it is parsed.
 *
 * '@' marks the local side (bind, join, listen), as in VLC and ffmpeg.
 */
#ifndef MCFERRY_URI_H
#define MCFERRY_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "channel.h"

/* URI_UDPLINK is udp:// with framing=datagram: a session link, which
 * goes through the link table like tcp, where plain udp:// does not. */
enum uri_scheme { URI_UDP, URI_TCP, URI_TLS, URI_SRT, URI_UDPLINK };
/* framing= of an endpoint. On tcp (and tls, srt) AUTO is the default:
 * two mcferry nodes use DATAGRAM, found by the HELLO; a plain TCP peer
 * gets RAW. A link to a hub (channel=) is always DATAGRAM: uri_parse
 * resolves AUTO. A udp:// URI is RAW (multicast or unicast datagrams)
 * unless framing=datagram is given, and then it is no longer URI_UDP:
 * its scheme becomes URI_UDPLINK; any other framing= on udp:// is an
 * error. */
enum uri_framing { FRAMING_RAW, FRAMING_DATAGRAM, FRAMING_AUTO };

#define URI_DEFAULT_CHUNK 1316
#define URI_DEFAULT_QUEUE (4u << 20)
#define URI_DEFAULT_TTL 1
#define URI_DEFAULT_SOFTSECS 10
/* Words of the "option given" bitmap: room for 64 x this many rows. */
#define URI_GIVEN_WORDS 4
#define URI_HOST_MAX 256
#define URI_IFACE_MAX 64
#define URI_PATH_MAX 256

/* client-cert= of a listening tls sink. */
enum uri_client_cert { CLIENT_CERT_REQUIRE, CLIENT_CERT_OPTIONAL };

/* mode= of an srt endpoint. Unset, '@' listens and a HOST is called;
 * uri_parse makes mode=listener local ('@' on HOST) and refuses the
 * contradictions. */
enum uri_srt_mode { SRT_MODE_CALLER, SRT_MODE_LISTENER, SRT_MODE_RENDEZVOUS };

#define URI_DEFAULT_SRT_LATENCY 120
#define URI_DEFAULT_MTU 1400
#define URI_STREAMID_MAX 512

/* An srt endpoint's settings (secrets only from files). */
struct uri_srt {
	uint32_t latency;               /* ms */
	char passphrase_file[URI_PATH_MAX]; /* one line, 10..79 chars (0600) */
	int pbkeylen;                   /* index of "16", "24", "32" */
	bool set_pbkeylen;
	char streamid[URI_STREAMID_MAX];
	int mode;                       /* enum uri_srt_mode */
	bool set_mode;
	uint64_t maxbw;                 /* bytes/s; 0 = libsrt's default */
};

/* A tls endpoint's files (secrets are only ever read from files). */
struct uri_tls {
	char ca[URI_PATH_MAX];       /* trusted CAs (PEM); "" = none */
	char cert[URI_PATH_MAX];     /* our certificate chain (PEM) */
	char key[URI_PATH_MAX];      /* its private key (PEM, mode 0600) */
	char crl[URI_PATH_MAX];      /* revoked certificates (PEM) */
	char psk_file[URI_PATH_MAX]; /* IDENTITY:HEXKEY lines (mode 0600) */
	int client_cert;             /* enum uri_client_cert */
};

/* slow=: what a listening sink does with a client that is behind. */
enum uri_slow { URI_SLOW_SKIP, URI_SLOW_CLOSE };

struct uri {
	char text[512];            /* the URI as given, for logs */
	enum uri_scheme scheme;
	bool local;                /* '@': bind, join or listen */
	char host[URI_HOST_MAX];   /* as written, brackets removed; may be "" */
	bool host_numeric;         /* host parsed into addr */
	struct sockaddr_storage addr; /* numeric host (or wildcard) and port */
	uint16_t port;
	bool has_source;           /* SSM: ?source= */
	struct sockaddr_storage source;
	char iface[URI_IFACE_MAX]; /* name or address; "" = kernel's choice */
	int ttl;                   /* udp sink; -1 = default */
	int loop;                  /* udp sink; -1 = kernel default */
	uint32_t rcvbuf;           /* 0 = default */
	uint32_t sndbuf;           /* 0 = default */
	enum uri_framing framing;  /* URI_UDP: RAW; URI_UDPLINK: DATAGRAM;
				      tcp, tls, srt: AUTO unless given */
	uint32_t chunk;
	uint64_t queue;
	uint64_t soft;             /* soft queue limit; 0 = queue / 2 */
	uint32_t softsecs;         /* seconds above soft before a cut-off */
	uint32_t slow;             /* listening sink: enum uri_slow */
	uint32_t maxlag;           /* listening sink: ms a client may lag */
	uint32_t maxdelay;         /* listening sink: ms a datagram may wait */
	bool set_maxdelay;         /* else maxdelay is the automatic one */
	uint32_t hello_timeout;    /* listening: seconds to finish a HELLO */
	uint32_t max_conns;        /* listening: 0 = the role's default */
	uint32_t max_pending;      /* listening: not yet past HELLO, total */
	uint32_t max_pending_per_addr; /* ... from one address */
	uint32_t idle_timeout;     /* listening source: publisher idle, s */
	bool has_channel;          /* tcp to or from a hub: ?channel= */
	struct channel channel;
	struct uri_tls tls;        /* tls:// only */
	struct uri_srt srt;        /* srt:// only */
	uint32_t mtu;              /* udp link: largest datagram sent */
	uint32_t cost;             /* a hub link: its cost in the mesh; 0 = 10 */
	bool set_ttl, set_loop, set_framing, set_chunk, set_queue, set_soft;
	uint64_t given[URI_GIVEN_WORDS]; /* bit i: row i of opt_table given */
};

/* Parse text into u. Returns 0, or -EINVAL with a message naming the bad
 * part written to err. */
int uri_parse(const char *text, struct uri *u, char *err, size_t errlen);

/* Check that u makes sense as a source (as_source) or as a sink: every
 * option given applies to that kind of endpoint (the table's AT_ set),
 * a udp source is local and a udp sink is not, and so on. Returns 0 or
 * -EINVAL with a message in err. */
int uri_check_role(const struct uri *u, bool as_source, char *err,
		   size_t errlen);

#endif
