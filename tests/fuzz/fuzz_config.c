/* fuzz_config.c - libFuzzer target for the `mcferry run` configuration
 * parser (src/config.c). */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[300];
	int rc;

	memset(err, 0x5a, sizeof(err));
	rc = config_parse((const char *)data, size, &cfg, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, "line ", 5) == 0);
		FUZZ_CHECK(cfg.relays == NULL && cfg.nrelays == 0);
		return 0;
	}
	FUZZ_CHECK(cfg.nrelays + cfg.nhubs + cfg.ngateways > 0);
	for (size_t i = 0; i < cfg.ngateways; i++) {
		const struct gateway_spec *g = &cfg.gateways[i].spec;
		char gerr[256];

		FUZZ_CHECK(gateway_spec_check(g, gerr, sizeof(gerr)) == 0);
		FUZZ_CHECK(g->ttl >= 0 && g->ttl <= 255);
		/* A hub is reached over any session link: tcp, tls, srt,
		 * or the udp link. */
		FUZZ_CHECK(g->hub.scheme != URI_UDP && !g->hub.local);
	}
	for (size_t i = 0; i < cfg.nhubs; i++) {
		FUZZ_CHECK(cfg.hubs[i].nlisten >= 1);
		for (size_t j = 0; j < cfg.hubs[i].nlisten; j++)
			FUZZ_CHECK(cfg.hubs[i].listen[j].scheme != URI_UDP &&
				   cfg.hubs[i].listen[j].local);
	}
	for (size_t i = 0; i < cfg.nrelays; i++) {
		const struct config_relay *r = &cfg.relays[i];
		char uerr[256];

		FUZZ_CHECK(r->name[0] != '\0');
		FUZZ_CHECK(strlen(r->name) < CONFIG_NAME_MAX);
		FUZZ_CHECK(r->line >= 1);
		FUZZ_CHECK(r->has_source);
		FUZZ_CHECK(r->nsinks >= 1 && r->nsinks <= CONFIG_MAX_SINKS);
		FUZZ_CHECK(uri_check_role(&r->source, 1, uerr, sizeof(uerr)) ==
			   0);
		for (size_t j = 0; j < r->nsinks; j++)
			FUZZ_CHECK(uri_check_role(&r->sinks[j], 0, uerr,
						  sizeof(uerr)) == 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cfg.relays[j].name, r->name) != 0);
	}
	config_free(&cfg);
	FUZZ_CHECK(cfg.relays == NULL && cfg.nrelays == 0);
	return 0;
}
