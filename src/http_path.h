/* http_path.h - the request targets of the HTTP front (pure: no sockets).
 *
 *   /udp/[SRC@]GROUP<sep>PORT[/][?iface=IF]   the channel's datagrams
 *   /rtp/[SRC@]GROUP<sep>PORT[/][?iface=IF]   the same, RTP header stripped
 *   /status[/]  /status.json  /metrics  /playlist.m3u  /restart[/]  /
 *
 * <sep> is one of udpxy's separators  : % ~ + - ^  (udpxy(1) lets a
 * player that mangles ':' use another). IPv6 addresses go in brackets:
 * /udp/[ff3e::1]:5000, /udp/[2001:db8::1]@[ff3e::1]:5000. An absolute
 * target (http://HOST:PORT/udp/...) is taken by its path. Query keys other
 * than iface= are ignored (players append their own).
 */
#ifndef MCFERRY_HTTP_PATH_H
#define MCFERRY_HTTP_PATH_H

#include <stddef.h>

#include "channel.h"
#include "uri.h"

enum http_route {
	HTTP_ROUTE_UDP,         /* a channel, as received */
	HTTP_ROUTE_RTP,         /* a channel, RTP payload only */
	HTTP_ROUTE_STATUS,      /* the HTML status page (also "/") */
	HTTP_ROUTE_STATUS_JSON,
	HTTP_ROUTE_METRICS,
	HTTP_ROUTE_PLAYLIST,
	HTTP_ROUTE_RESTART,     /* udpxy's: drop every viewer and group */
};

struct http_path {
	enum http_route route;
	struct channel ch;          /* UDP, RTP */
	char iface[URI_IFACE_MAX];  /* ?iface=, "" when not given */
};

/* Parse a request target of len bytes. 0; -EINVAL for a malformed
 * channel or query (400, with a reason in err); -ENOENT for a path that
 * names nothing (404). */
int http_path_parse(const char *target, size_t len, struct http_path *p,
		    char *err, size_t errlen);

#endif
