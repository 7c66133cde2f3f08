/* http_parse.c - the llhttp adapter: one request head, bounded; see
 * http_parse.h. */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

static struct http_parser *hp_of(llhttp_t *ll)
{
	return (struct http_parser *)((char *)ll -
				      offsetof(struct http_parser, ll));
}

/* Callbacks return -1 with hp->status set to fail the parse. */
static int fail(struct http_parser *hp, int status)
{
	hp->status = status;
	return -1;
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
	struct http_parser *hp = hp_of(ll);

	if (hp->req.tlen + n > HTTP_TARGET_MAX)
		return fail(hp, 414);
	memcpy(hp->req.target + hp->req.tlen, at, n);
	hp->req.tlen += n;
	hp->req.target[hp->req.tlen] = '\0';
	return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n)
{
	struct http_parser *hp = hp_of(ll);
	size_t room = sizeof(hp->field) - 1 - hp->flen;

	/* Only "host" matters, so a longer name need not be kept whole:
	 * its first 7 bytes tell it is not "host". */
	if (n > room)
		n = room;
	memcpy(hp->field + hp->flen, at, n);
	hp->flen += n;
	hp->field[hp->flen] = '\0';
	return 0;
}

static int on_header_field_complete(llhttp_t *ll)
{
	struct http_parser *hp = hp_of(ll);

	hp->in_host = !strcasecmp(hp->field, "host");
	hp->flen = 0;
	hp->field[0] = '\0';
	return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n)
{
	struct http_parser *hp = hp_of(ll);

	if (!hp->in_host)
		return 0;
	if (hp->hlen + n >= sizeof(hp->req.host))
		return fail(hp, 400);
	memcpy(hp->req.host + hp->hlen, at, n);
	hp->hlen += n;
	hp->req.host[hp->hlen] = '\0';
	return 0;
}

static int on_header_value_complete(llhttp_t *ll)
{
	hp_of(ll)->in_host = false;
	return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
	struct http_parser *hp = hp_of(ll);
	uint8_t m = llhttp_get_method(ll);

	hp->req.major = llhttp_get_http_major(ll);
	hp->req.minor = llhttp_get_http_minor(ll);
	if (hp->req.major != 1 || hp->req.minor > 1)
		return fail(hp, 505);
	hp->req.method = m == HTTP_GET ? HTTP_M_GET
			 : m == HTTP_HEAD ? HTTP_M_HEAD : HTTP_M_OTHER;
	if (hp->req.method == HTTP_M_OTHER)
		return fail(hp, 405);
	return 0;
}

static int on_message_complete(llhttp_t *ll)
{
	hp_of(ll)->done = true;
	/* Stop here: whatever follows is not read (Connection: close). */
	return HPE_PAUSED;
}

static const llhttp_settings_t http_settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

void http_parser_init(struct http_parser *hp)
{
	memset(hp, 0, sizeof(*hp));
	llhttp_init(&hp->ll, HTTP_REQUEST, &http_settings);
}

int http_parser_feed(struct http_parser *hp, const char *p, size_t n)
{
	llhttp_errno_t e;

	if (hp->done)
		return 1;
	if (hp->status)
		return -hp->status;
	/* A GET or HEAD has no body, so every byte until the end of the
	 * message is head: one bound covers the request line, every header
	 * and a body a client might still send. */
	if (hp->fed + n > HTTP_HEAD_MAX)
		n = HTTP_HEAD_MAX - hp->fed + 1;
	hp->fed += n;
	e = llhttp_execute(&hp->ll, p, n);
	if (hp->done)
		return 1;
	if (e == HPE_OK && hp->fed > HTTP_HEAD_MAX)
		hp->status = 431;
	else if (e != HPE_OK && !hp->status)
		hp->status = 400;
	return hp->status ? -hp->status : 0;
}

const char *http_status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
