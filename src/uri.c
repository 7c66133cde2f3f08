/* uri.c - endpoint URI parsing and validation; see uri.h for the grammar. */
#include "uri.h"

#include "addr.h"
#include "util.h"
#include "opt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal digits only, as the option table's numbers. */
static bool parse_uint(const char *s, unsigned long long max,
		       unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* One query option, through the table: find the row, parse and set. */
static int parse_option(struct uri *u, const char *key, const char *val,
			char *err, size_t errlen)
{
	const struct opt *o = opt_find(key, AT_URI);
	int rc;

	if (!o)
		return err_invalid(err, errlen, "unknown option '%s'", key);
	rc = opt_set(o, u, val, err, errlen);
	if (rc == 0)
		u->given[(o - opt_table) / 64] |= 1ull << ((o - opt_table) % 64);
	return rc;
}

static int parse_query(struct uri *u, char *q, char *err, size_t errlen)
{
	char *save = NULL;

	for (char *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		int rc;

		if (!eq)
			return err_invalid(err, errlen, "option '%s' has no value",
				    kv);
		*eq = '\0';
		rc = parse_option(u, kv, eq + 1, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Split "host:port", "[v6]:port" or ":port" into host and port. */
static int parse_authority(struct uri *u, char *a, char *err, size_t errlen)
{
	char *host = a, *colon;
	unsigned long long port;

	if (*a == '[') {
		char *close = strchr(a, ']');

		if (!close)
			return err_invalid(err, errlen, "unclosed '[' in address");
		*close = '\0';
		host = a + 1;
		colon = close + 1;
		if (*colon != ':')
			return err_invalid(err, errlen, "missing port after ']'");
	} else {
		colon = strrchr(a, ':');
		if (!colon)
			return err_invalid(err, errlen, "missing port");
		if (memchr(a, ':', (size_t)(colon - a)))
			return err_invalid(err, errlen,
				    "IPv6 address must be in brackets");
	}
	*colon = '\0';
	if (!parse_uint(colon + 1, 65535, &port) || port == 0)
		return err_invalid(err, errlen, "bad port '%s': want 1..65535",
			    colon + 1);
	u->port = (uint16_t)port;
	if (strlen(host) >= sizeof(u->host))
		return err_invalid(err, errlen, "host name too long");
	strcpy(u->host, host);
	if (!*host) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&u->addr;

		/* Wildcard: listen on both families through a v6 socket. */
		memset(&u->addr, 0, sizeof(u->addr));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(u->port);
		u->host_numeric = true;
		return 0;
	}
	u->host_numeric = addr_parse(host, u->port, &u->addr);
	if (!u->host_numeric) {
		for (const char *p = host; *p; p++)
			if (!(*p == '-' || *p == '.' || (*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z')))
				return err_invalid(err, errlen, "bad host '%s'", host);
		if (u->local)
			return err_invalid(err, errlen,
				    "local address '%s' must be numeric", host);
	}
	return 0;
}

static int uri_settle(struct uri *u, char *err, size_t errlen);

int uri_parse(const char *text, struct uri *u, char *err, size_t errlen)
{
	char tmp[sizeof(u->text)];
	char *rest, *q;
	int rc;

	memset(u, 0, sizeof(*u));
	u->ttl = -1;  /* unset: 1 for a group, the kernel's for unicast */
	u->loop = -1; /* unset: the kernel's */
	opt_init(u, OBJ_URI, AT_URI);
	if (strlen(text) >= sizeof(tmp))
		return err_invalid(err, errlen, "URI too long");
	strcpy(u->text, text);
	strcpy(tmp, text);

	if (!strncmp(tmp, "udp://", 6))
		u->scheme = URI_UDP;
	else if (!strncmp(tmp, "tcp://", 6))
		u->scheme = URI_TCP;
	else if (!strncmp(tmp, "tls://", 6))
		u->scheme = URI_TLS;
	else if (!strncmp(tmp, "srt://", 6))
		u->scheme = URI_SRT;
	else
		return err_invalid(err, errlen,
			    "unknown scheme in '%s': want udp://, tcp://, "
			    "tls:// or srt://",
			    text);
	if (u->scheme == URI_UDP)
		u->framing = FRAMING_RAW; /* uri_settle: a udp link if framing= */
	rest = tmp + 6;
	if (*rest == '@') {
		u->local = true;
		rest++;
	}
	q = strchr(rest, '?');
	if (q)
		*q++ = '\0';
	if (strchr(rest, '/'))
		return err_invalid(err, errlen, "unexpected path in '%s'", text);
	rc = parse_authority(u, rest, err, errlen);
	if (rc == 0 && q)
		rc = parse_query(u, q, err, errlen);
	if (rc == 0)
		rc = uri_settle(u, err, errlen);
	/* Towards a hub, auto means datagram: a hub speaks nothing else. */
	if (rc == 0 && u->has_channel && u->scheme != URI_UDP &&
	    u->framing == FRAMING_AUTO)
		u->framing = FRAMING_DATAGRAM;
	return rc;
}

/* What the options decide about the kind of endpoint: a udp URI with
 * framing=datagram is a udp link, an srt URI's mode= says which side
 * it is. */
static int uri_settle(struct uri *u, char *err, size_t errlen)
{
	if (u->scheme == URI_UDP && u->set_framing) {
		if (u->framing != FRAMING_DATAGRAM)
			return err_invalid(err, errlen,
				    "framing= on udp:// makes a udp link and "
				    "takes only framing=datagram");
		u->scheme = URI_UDPLINK;
	}
	if (u->scheme != URI_SRT || !u->srt.set_mode)
		return 0;
	switch (u->srt.mode) {
	case SRT_MODE_CALLER:
		if (u->local)
			return err_invalid(err, errlen,
				    "srt: mode=caller needs srt://HOST:PORT, "
				    "not '@'");
		break;
	case SRT_MODE_LISTENER:
		/* srt://ADDR:PORT?mode=listener, as ffmpeg writes it. */
		if (!u->local && !u->host_numeric)
			return err_invalid(err, errlen,
				    "srt: mode=listener binds a numeric address, "
				    "not '%s'", u->host);
		u->local = true;
		break;
	case SRT_MODE_RENDEZVOUS:
		if (u->local || !u->host[0])
			return err_invalid(err, errlen,
				    "srt: mode=rendezvous needs the peer: "
				    "srt://HOST:PORT");
		break;
	}
	return 0;
}

/* The first option given that does not apply to this kind of endpoint;
 * options of one setting (soft, softsecs) answer to its name. */
static const char *option_out_of_place(const struct uri *u, bool as_source)
{
	unsigned at = opt_uri_at(u, as_source);

	for (size_t i = 0; i < opt_count; i++) {
		const struct opt *o = &opt_table[i];

		if ((u->given[i / 64] & (1ull << (i % 64))) && !(o->at & at))
			return o->family ? o->family : o->name;
	}
	return NULL;
}

static const char *const scheme_names[] = { [URI_UDP] = "udp",
					    [URI_TCP] = "tcp",
					    [URI_TLS] = "tls",
					    [URI_SRT] = "srt",
					    [URI_UDPLINK] = "udp link" };

/* A tls endpoint authenticates both ends: certificates (cert= key=, and
 * ca= to verify the peer) or a pre-shared key (psk-file=). The one
 * exception is a listening sink with client-cert=optional, which may
 * serve viewers that have no certificate (and then needs no ca=). */
static int check_tls(const struct uri *u, char *err, size_t errlen)
{
	const struct uri_tls *t = &u->tls;
	bool optional = t->client_cert == CLIENT_CERT_OPTIONAL;

	if (!t->cert[0] != !t->key[0])
		return err_invalid(err, errlen, "tls: cert= and key= go together");
	if (!t->cert[0] && !t->psk_file[0])
		return err_invalid(err, errlen,
			    "tls needs cert= and key= (with ca=) or psk-file=");
	if (optional && !t->cert[0])
		return err_invalid(err, errlen,
			    "tls: client-cert=optional needs cert= and key=");
	if (t->cert[0] && !t->ca[0] && !optional)
		return err_invalid(err, errlen,
			    "tls: ca= is needed to verify the peer's "
			    "certificate");
	if (t->crl[0] && !t->ca[0])
		return err_invalid(err, errlen, "tls: crl= needs ca=");
	return 0;
}

int uri_check_role(const struct uri *u, bool as_source, char *err,
		   size_t errlen)
{
	const char *role = as_source ? "source" : "sink";
	const char *bad;

	/* A misplaced channel= gets the hint of what it needs. */
	if (u->has_channel &&
	    (u->scheme == URI_UDP || u->local || u->framing == FRAMING_RAW))
		return err_invalid(err, errlen,
			    "channel= needs tcp://HUB:PORT (or tls://, srt://) "
			    "with framing=auto or framing=datagram (a link to a "
			    "hub)");
	bad = option_out_of_place(u, as_source);
	if (bad)
		return err_invalid(err, errlen,
			    "option '%s' does not apply to a %s %s", bad,
			    scheme_names[u->scheme], role);
	if (u->scheme == URI_TLS && check_tls(u, err, errlen))
		return -EINVAL;
	if (u->scheme == URI_UDPLINK && u->host_numeric &&
	    addr_is_multicast(&u->addr))
		return err_invalid(err, errlen,
			    "a udp link (framing=datagram) is unicast: drop "
			    "framing= to send to a group");
	if (u->scheme == URI_SRT && u->srt.set_pbkeylen &&
	    !u->srt.passphrase_file[0])
		return err_invalid(err, errlen,
			    "srt: pbkeylen= needs passphrase-file=");
	if (u->scheme == URI_UDP && as_source && !u->local)
		return err_invalid(err, errlen,
			    "a udp source must be local: write udp://@%s%s%s:%u",
			    u->addr.ss_family == AF_INET6 ? "[" : "", u->host,
			    u->addr.ss_family == AF_INET6 ? "]" : "", u->port);
	if (u->scheme == URI_UDP && !as_source && u->local)
		return err_invalid(err, errlen,
			    "a udp sink needs a destination, not '@'");
	if (!u->local && !u->host[0])
		return err_invalid(err, errlen, "missing host");
	if (u->soft && u->soft >= u->queue)
		return err_invalid(err, errlen, "soft=%llu must be below queue=%llu",
			    (unsigned long long)u->soft,
			    (unsigned long long)u->queue);
	if (u->has_source) {
		if (!u->host[0] || !addr_is_multicast(&u->addr))
			return err_invalid(err, errlen,
				    "source= needs a multicast group, not '%s'",
				    u->host[0] ? u->host : "(any)");
		if (u->source.ss_family != u->addr.ss_family)
			return err_invalid(err, errlen,
				    "source and group are of different IP families");
	}
	return 0;
}
