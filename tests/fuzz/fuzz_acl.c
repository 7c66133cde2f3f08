/* fuzz_acl.c - libFuzzer target for the hub's access list parser and its
 * evaluation (src/acl.c). */
#include <errno.h>
#include <string.h>

#include "acl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acl a;
	char err[128];
	struct channel ch = { .family = 4, .port = 5000,
			      .group = { 239, 1, 2, 3 } };
	struct channel ssm = { .family = 6, .port = 1,
			       .group = { 0xff, 0x3e, [15] = 1 },
			       .source = { 0x20, 0x01, [15] = 9 } };
	int rc;

	memset(err, 0x5a, sizeof(err));
	rc = acl_parse((const char *)data, size, &a, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(!strncmp(err, "line ", 5));
		FUZZ_CHECK(a.n == 0 && a.v == NULL);
		return 0;
	}
	for (size_t i = 0; i < a.n; i++) {
		const struct acl_rule *r = &a.v[i];
		const char *id = r->identity;

		FUZZ_CHECK(strlen(id) >= 1 && strlen(id) <= ACL_IDENTITY_MAX);
		FUZZ_CHECK(r->port_lo <= r->port_hi);
		if (!strcmp(id, "-"))
			id = "";
		/* Every rule answers for its own identity without harm. */
		(void)acl_check(&a, id, ACL_PUBLISH, &ch);
		(void)acl_check(&a, id, ACL_SUBSCRIBE, &ssm);
		(void)acl_is_peer(&a, id);
		if (r->kind == ACL_ISLAND) {
			FUZZ_CHECK(strlen(r->island) <= ACL_ISLAND_MAX);
			FUZZ_CHECK(acl_island_ok(&a, id, r->island) ||
				   !strcmp(r->identity, "*"));
		}
		if (r->kind == ACL_PEER && strcmp(r->identity, "*"))
			FUZZ_CHECK(acl_is_peer(&a, id));
	}
	acl_free(&a);
	return 0;
}
