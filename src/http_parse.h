/* http_parse.h - one HTTP/1.x request head, read with llhttp (pure: no
 * sockets, no allocation; fuzzed by tests/fuzz/fuzz_http.c).
 *
 * The HTTP front needs the method, the target and the Host header of one
 * request; it answers with "Connection: close", so a request body,
 * pipelining and keep-alive never arise. Everything else a client sends
 * is parsed (so malformed heads are refused) and forgotten.
 *
 * Bounds: the head (request line and headers) is at most HTTP_HEAD_MAX
 * bytes (else 431), the target at most HTTP_TARGET_MAX (else 414).
 */
#ifndef MCFERRY_HTTP_PARSE_H
#define MCFERRY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "llhttp.h"

#define HTTP_HEAD_MAX 8192
#define HTTP_TARGET_MAX 1024
#define HTTP_HOST_MAX 256

enum http_method { HTTP_M_OTHER, HTTP_M_GET, HTTP_M_HEAD };

struct http_request {
	enum http_method method;
	char target[HTTP_TARGET_MAX + 1];
	size_t tlen;
	char host[HTTP_HOST_MAX];   /* the Host header, "" if none */
	unsigned major, minor;      /* HTTP version */
};

struct http_parser {
	llhttp_t ll;
	struct http_request req;
	size_t fed;                 /* head bytes seen so far */
	size_t hlen;                /* bytes of host kept */
	char field[8];              /* the current header's name, cut short */
	size_t flen;
	bool in_host;
	int status;                 /* the answer to a bad head, or 0 */
	bool done;
};

/* Ready to read a request. */
void http_parser_init(struct http_parser *hp);
/* Feed n more bytes. Returns 0 when the head is not complete yet, 1 when
 * hp->req holds a whole request (bytes after it are ignored), or the
 * negative HTTP status to answer a bad one with: -400 malformed, -405 a
 * method other than GET and HEAD, -414 target too long, -431 head too
 * large, -505 a version other than 1.0 and 1.1. Once it returned nonzero
 * it returns the same again. */
int http_parser_feed(struct http_parser *hp, const char *p, size_t n);
/* The reason phrase of a status code ("Not Found"); "Unknown" if none. */
const char *http_status_text(int code);

#endif
