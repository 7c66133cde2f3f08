/* fuzz_psk.c - libFuzzer target for the PSK file parser (src/tls_conf.c). */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "tls_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_psk_table t;
	char err[128];
	int rc;

	memset(err, 0x5a, sizeof(err));
	rc = tls_psk_parse((const char *)data, size, &t, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(t.n == 0 && t.v == NULL);
		return 0;
	}
	FUZZ_CHECK(t.n > 0);
	for (size_t i = 0; i < t.n; i++) {
		const struct tls_psk *k = &t.v[i];
		size_t n = strlen(k->identity);

		FUZZ_CHECK(n >= 1 && n <= TLS_PSK_ID_MAX);
		FUZZ_CHECK(k->keylen >= TLS_PSK_KEY_MIN &&
			   k->keylen <= TLS_PSK_KEY_MAX);
		/* Every identity finds itself, first. */
		FUZZ_CHECK(tls_psk_find(&t, (const uint8_t *)k->identity, n) == k);
	}
	tls_psk_free(&t);
	return 0;
}
