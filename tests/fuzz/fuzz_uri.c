/* fuzz_uri.c - libFuzzer target for the endpoint URI parser (src/uri.c). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "uri.h"

static void check_err(const char *err, size_t errlen)
{
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(err[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[1024], err[128], err2[128];
	struct uri u, again;
	int rc;

	/* Inputs longer than the parser's limit still reach it, cut at 1023
	 * bytes; a NUL in the input ends the string early. */
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';

	memset(err, 0x5a, sizeof(err));
	rc = uri_parse(text, &u, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL);
		check_err(err, sizeof(err));
		/* A tiny error buffer is still terminated. */
		FUZZ_CHECK(uri_parse(text, &again, err2, 1) == rc);
		FUZZ_CHECK(err2[0] == '\0');
		return 0;
	}
	FUZZ_CHECK(strcmp(u.text, text) == 0);
	FUZZ_CHECK(u.port != 0);
	FUZZ_CHECK(strlen(u.host) < URI_HOST_MAX);
	FUZZ_CHECK(strlen(u.iface) < URI_IFACE_MAX);
	FUZZ_CHECK(u.chunk >= 1 && u.chunk <= 65507);
	FUZZ_CHECK(u.ttl >= -1 && u.ttl <= 255);
	FUZZ_CHECK(u.loop >= -1 && u.loop <= 1);
	FUZZ_CHECK(u.framing == FRAMING_RAW || u.framing == FRAMING_DATAGRAM ||
		   u.framing == FRAMING_AUTO);
	/* uri.h: udp:// is RAW unless framing=datagram made it a udp link. */
	if (u.scheme == URI_UDP)
		FUZZ_CHECK(u.framing == FRAMING_RAW && !u.set_framing);
	if (u.scheme == URI_UDPLINK)
		FUZZ_CHECK(u.framing == FRAMING_DATAGRAM && u.set_framing &&
			   strncmp(u.text, "udp://", 6) == 0);
	if (u.local)
		FUZZ_CHECK(u.host_numeric);
	if (u.host_numeric) {
		char buf[64];

		FUZZ_CHECK(u.addr.ss_family == AF_INET ||
			   u.addr.ss_family == AF_INET6);
		addr_format((const struct sockaddr *)&u.addr, buf,
				sizeof(buf));
		FUZZ_CHECK(strlen(buf) < sizeof(buf));
		(void)addr_is_multicast(&u.addr);
	}
	if (u.has_source)
		FUZZ_CHECK(u.source.ss_family == AF_INET ||
			   u.source.ss_family == AF_INET6);
	/* Parsing is deterministic. */
	FUZZ_CHECK(uri_parse(u.text, &again, err2, sizeof(err2)) == 0);
	FUZZ_CHECK(again.port == u.port && again.local == u.local &&
		   again.chunk == u.chunk && again.queue == u.queue &&
		   strcmp(again.host, u.host) == 0);
	for (int as_source = 0; as_source < 2; as_source++) {
		memset(err, 0x5a, sizeof(err));
		rc = uri_check_role(&u, as_source, err, sizeof(err));
		if (rc != 0) {
			FUZZ_CHECK(rc == -EINVAL);
			check_err(err, sizeof(err));
		}
	}
	return 0;
}
