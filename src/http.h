/* http.h - the HTTP front for players: a multicast channel as an HTTP
 * body (udpxy's URLs), and pages for people and scrapers.
 *
 *   player --GET /udp/G:P--> listener (tcp://@ADDR:PORT, link table)
 *     conn (FRAMING_RAW) reads the head (http_parse.c, bounded, with a
 *     deadline), then becomes a viewer: "200 OK" is queued, then the
 *     channel's buffers by reference, exactly as sink_tcp.c does.
 *   channel --one mgroup (mgroup.c)--> every viewer of that channel
 *
 * A named channel (channel = NAME=URI) is any relay source - a hub's
 * channel, a relay's listening sink, srt://, udp:// - served at
 * /channel/NAME with the same sharing and hold (mgroup_open_relay).
 *
 * Routes (http_path.h): /udp/..., /rtp/... (RTP header stripped),
 * /channel/NAME,
 * /status (HTML), /status.json, /metrics (Prometheus text from the node's
 * registry), /playlist.m3u, and /restart in udpxy mode.
 *
 * Limits, each an option: viewers in total and per channel (503), the
 * allowed groups (403), the per-viewer queue (a full one is closed as
 * slow-consumer, so is one above half of it for HTTP_SOFT_SECS). Fixed:
 * HTTP_MAX_CONNS connections (more are closed at accept), a request
 * deadline of HTTP_REQUEST_MS (408), the head bounds of http_parse.h.
 */
#ifndef MCFERRY_HTTP_H
#define MCFERRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "uri.h"

#define HTTP_MAX_CONNS 4096
#define HTTP_REQUEST_MS 5000
#define HTTP_LINGER_MS 2000
#define HTTP_SOFT_SECS 10
#define HTTP_ALLOW_MAX 64
#define HTTP_CHANNELS_MAX 512
#define HTTP_CTYPE_MAX 64
#define HTTP_NAMED_MAX 64
#define HTTP_NAME_MAX 64

/* One allow= entry: a group prefix. */
struct http_allow {
	uint8_t family;        /* 4 or 6 */
	uint8_t prefix;
	uint8_t addr[16];
};

/* One channel = NAME=URI entry: served at /channel/NAME from the relay
 * source URI (checked as a source when it was set). */
struct http_named {
	char name[HTTP_NAME_MAX];  /* [A-Za-z0-9._-]+ */
	char uri[512];
};

/* What an http service is told, by mcferry http, mcferry udpxy or an
 * [http NAME] section; the option table (opt.c) fills it, defaults
 * included (opt_init). */
struct http_conf {
	char name[64];
	char listen[URI_HOST_MAX + 8];  /* ADDR:PORT, [V6]:PORT or :PORT */
	char iface[URI_IFACE_MAX];      /* default join interface, "" = kernel */
	uint32_t hold;                  /* seconds a group stays joined idle */
	uint32_t max_viewers;
	uint32_t max_chan_viewers;
	uint64_t queue;                 /* per-viewer queue limit, bytes */
	uint32_t rcvbuf;                /* group sockets; 0 = default */
	char content_type[HTTP_CTYPE_MAX];
	struct http_allow allow[HTTP_ALLOW_MAX];
	size_t nallow;
	struct http_named named[HTTP_NAMED_MAX];
	size_t nnamed;
	bool udpxy;                     /* udpxy mode: /restart */
	/* udpxy's flags, for the command line only */
	uint32_t udpxy_port;
	char udpxy_addr[URI_HOST_MAX];  /* -a: address or interface */
};

/* udpxy's -p and -a into listen. 0 or -EINVAL with a reason. */
int http_conf_finish_udpxy(struct http_conf *c, char *err, size_t errlen);
/* Listen is there and parses. 0 or -EINVAL with a reason. */
int http_conf_check(const struct http_conf *c, char *err, size_t errlen);
/* Add "NAME=URI" to c's named channels: a new name of [A-Za-z0-9._-],
 * a URI that parses as a relay source. 0 or -EINVAL with a reason. */
int http_conf_add_named(struct http_conf *c, const char *text, char *err,
			size_t errlen);
/* Parse "ADDR/PREFIX" (or a bare address) into a; 0 or -EINVAL. */
int http_allow_parse(const char *text, struct http_allow *a);

struct http;

/* A service as conf says (copied). */
struct http *http_new(struct node *node, const struct http_conf *conf);
/* Listen. 0 or a negative errno with a reason in err. */
int http_start(struct http *h, char *err, size_t errlen);
/* Close every viewer, group and the listener; h frees itself once the
 * last handle has closed. Also after a failed or no start. */
void http_stop(struct http *h);
/* Log counter lines from the registry. */
void http_log_stats(const struct http *h);
/* SIGHUP for a kept service: the listener's transport re-reads its
 * certificates (a TLS front), so do the open sources of named channels
 * (tls://, srt://); established viewers and links keep theirs. */
void http_reload(struct http *h);

#endif
