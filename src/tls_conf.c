/* tls_conf.c - the PSK file parser; see tls_conf.h. */
#include "tls_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One non-comment line [p, end), blanks trimmed, into e. */
static int psk_line(const char *p, const char *end, struct tls_psk *e,
		    size_t line, char *err, size_t errlen)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	size_t idlen, hexlen;

	if (!colon)
		return err_invalid_line(err, errlen, line, "want IDENTITY:HEXKEY");
	idlen = (size_t)(colon - p);
	if (idlen == 0 || idlen > TLS_PSK_ID_MAX)
		return err_invalid_line(err, errlen, line,
				"identity must be 1..%d characters",
				TLS_PSK_ID_MAX);
	for (const char *q = p; q < colon; q++)
		if (*q <= ' ' || *q > '~')
			return err_invalid_line(err, errlen, line,
					"identity has a blank or a "
					"non-printable character");
	memcpy(e->identity, p, idlen);
	e->identity[idlen] = '\0';
	hexlen = (size_t)(end - colon - 1);
	if (hexlen % 2 || hexlen / 2 < TLS_PSK_KEY_MIN ||
	    hexlen / 2 > TLS_PSK_KEY_MAX)
		return err_invalid_line(err, errlen, line,
				"key must be %d..%d bytes as hex digits",
				TLS_PSK_KEY_MIN, TLS_PSK_KEY_MAX);
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hexval(colon[1 + 2 * i]), lo = hexval(colon[2 + 2 * i]);

		if (hi < 0 || lo < 0)
			return err_invalid_line(err, errlen, line,
					"key has a character that is not a "
					"hex digit");
		e->key[i] = (uint8_t)(hi << 4 | lo);
	}
	e->keylen = hexlen / 2;
	return 0;
}

int tls_psk_parse(const char *text, size_t len, struct tls_psk_table *t,
		  char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	size_t line = 0;
	int rc = 0;

	t->v = NULL;
	t->n = 0;
	if (len > TLS_PSK_FILE_MAX)
		return err_invalid_line(err, errlen, 0, "file larger than %u bytes",
				TLS_PSK_FILE_MAX);
	if (memchr(text, '\0', len))
		return err_invalid_line(err, errlen, 1, "file has a NUL byte");
	while (rc == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
		struct tls_psk entry;

		line++;
		while (p < e && is_blank(*p))
			p++;
		while (e > p && is_blank(e[-1]))
			e--;
		if (p == e || *p == '#') {
			p = next;
			continue;
		}
		memset(&entry, 0, sizeof(entry));
		rc = psk_line(p, e, &entry, line, err, errlen);
		if (rc == 0 &&
		    tls_psk_find(t, (const uint8_t *)entry.identity,
				 strlen(entry.identity)))
			rc = err_invalid_line(err, errlen, line,
				      "identity '%s' given twice",
				      entry.identity);
		if (rc == 0 && t->n == TLS_PSK_MAX)
			rc = err_invalid_line(err, errlen, line, "more than %d keys",
				      TLS_PSK_MAX);
		if (rc == 0) {
			t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
			t->v[t->n++] = entry;
		}
		explicit_bzero(&entry, sizeof(entry));
		p = next;
	}
	if (rc == 0 && t->n == 0)
		rc = err_invalid_line(err, errlen, line, "no IDENTITY:HEXKEY line");
	if (rc)
		tls_psk_free(t);
	return rc;
}

const struct tls_psk *tls_psk_find(const struct tls_psk_table *t,
				   const uint8_t *id, size_t idlen)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i].identity) == idlen &&
		    !memcmp(t->v[i].identity, id, idlen))
			return &t->v[i];
	return NULL;
}

void tls_psk_free(struct tls_psk_table *t)
{
	if (t->v)
		explicit_bzero(t->v, t->n * sizeof(*t->v));
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
