/* fuzz_http.c - libFuzzer target for the HTTP front's parsers: the llhttp
 * adapter (src/http_parse.c) fed in pieces, then the target it returns
 * through the udpxy URL grammar (src/http_path.c). */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "http_parse.h"
#include "http_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser hp;
	struct http_path p;
	char err[128];
	size_t off = 0, step = size ? (size_t)data[0] % 17 + 1 : 1;
	int rc = 0;

	http_parser_init(&hp);
	/* Pieces of a size the input picks: a head split anywhere parses
	 * as it does whole. */
	while (off < size && rc == 0) {
		size_t n = size - off < step ? size - off : step;

		rc = http_parser_feed(&hp, (const char *)data + off, n);
		off += n;
	}
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == -400 || rc == -405 ||
		   rc == -414 || rc == -431 || rc == -505);
	FUZZ_CHECK(hp.req.tlen <= HTTP_TARGET_MAX);
	FUZZ_CHECK(strlen(hp.req.host) < HTTP_HOST_MAX);
	if (rc != 1)
		return 0;
	FUZZ_CHECK(hp.req.method == HTTP_M_GET || hp.req.method == HTTP_M_HEAD);
	rc = http_path_parse(hp.req.target, hp.req.tlen, &p, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
	if (rc)
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
	return 0;
}
