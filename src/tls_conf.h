/* tls_conf.h - pure helpers of the tls transport (link_tls.c): the
 * pre-shared key file and the file-mode rule for secrets. No OpenSSL, no
 * sockets, so they are unit-tested and fuzzed on their own.
 *
 * A PSK file has one key per line:
 *
 *   # comment          (blank lines and lines starting with '#' skipped)
 *   IDENTITY:HEXKEY    identity: 1..TLS_PSK_ID_MAX printable ASCII
 *                      characters, no ':' and no blank;
 *                      key: TLS_PSK_KEY_MIN..TLS_PSK_KEY_MAX bytes as an
 *                      even number of hex digits
 *
 * Lines may end in CRLF; leading and trailing blanks are ignored. A
 * client presents the first line; a server accepts every line. An
 * identity given twice is an error (which key would it be?).
 */
#ifndef MCFERRY_TLS_CONF_H
#define MCFERRY_TLS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_PSK_ID_MAX 128
#define TLS_PSK_KEY_MIN 16
#define TLS_PSK_KEY_MAX 64
#define TLS_PSK_MAX 4096       /* lines of one file */
#define TLS_PSK_FILE_MAX (1u << 20)

struct tls_psk {
	char identity[TLS_PSK_ID_MAX + 1];
	uint8_t key[TLS_PSK_KEY_MAX];
	size_t keylen;
};

struct tls_psk_table {
	struct tls_psk *v;
	size_t n;
};

/* Parse len bytes of a PSK file into t (empty on entry). 0, or -EINVAL
 * with "line N: ..." in err (t is left empty then). A file without a
 * single key is an error too. */
int tls_psk_parse(const char *text, size_t len, struct tls_psk_table *t,
		  char *err, size_t errlen);
/* The entry of identity id (idlen bytes, not NUL-terminated), or NULL. */
const struct tls_psk *tls_psk_find(const struct tls_psk_table *t,
				   const uint8_t *id, size_t idlen);
/* Wipe and free the keys. */
void tls_psk_free(struct tls_psk_table *t);

/* True when a secret file of this mode is readable by no one but its
 * owner (no group or other permission bits at all). */
static inline bool tls_secret_mode_ok(mode_t mode)
{
	return (mode & 077) == 0;
}

#endif
