/* config.h - the configuration file of `mcferry run`: a strict INI
 * dialect of named relays.
 *
 *   # comment            (also ';'; whole lines only)
 *   [relay NAME]
 *   source = URI
 *   sink = URI           (one or more)
 *   workers = N          (optional, see shard.h)
 *   control = PATH       (optional; workers = 1 only)
 *   [hub] or [hub NAME]
 *   listen = URI         (one or more)
 *   acl = FILE           (optional, see acl.h)
 *   peer = URI           (zero or more: other hubs, a mesh)
 *   heartbeat = MS, control = PATH   (optional)
 *   [gateway NAME]
 *   hub = URI
 *   iface = NAME|ADDR
 *   island = NAME        (optional)
 *   ttl = N              (optional)
 *   group|export|import = CHANNEL   (one or more; none with control)
 *   control = PATH       (optional)
 *   [http NAME]
 *   listen = ADDR:PORT
 *   iface, hold, max-viewers, max-channel-viewers, allow (one or more),
 *   content-type, queue   (optional)
 *
 * Every key is a row of the option table (opt.h): its value is parsed
 * and checked there, exactly as the command-line flag of the same name.
 * Parsing is pure (text in, structs out), so it is unit-tested and fuzzed.
 */
#ifndef MCFERRY_CONFIG_H
#define MCFERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway.h"
#include "http.h"
#include "uri.h"

#define CONFIG_NAME_MAX 64
#define CONFIG_LINE_MAX 1024
#define CONFIG_MAX_SINKS 64

struct config_relay {
	char name[CONFIG_NAME_MAX];
	int line;                 /* line of the section header */
	int has_source;
	struct uri source;
	struct uri *sinks;
	size_t nsinks;
	unsigned workers;         /* 1 unless set */
	char control[108];        /* control socket; "" = none */
	int source_line;          /* file lines of source and of each sink */
	int *sink_lines;          /* (0 and NULL on the command line) */
	int control_line;         /* and of control */
};

struct config_hub {
	char name[CONFIG_NAME_MAX];
	int line;
	struct uri *listen;
	size_t nlisten;
	char acl[URI_PATH_MAX];   /* access list file; "" = none */
	struct uri *peers;        /* hubs to dial (a mesh) */
	size_t npeers;
	uint32_t heartbeat;       /* ms between pings on hub links */
	char control[108];        /* control socket; "" = none */
	int *listen_lines;        /* file line of each listen */
	int control_line;         /* file line of control */
};

struct config_gateway {
	int line;
	struct gateway_spec spec;
	int hub_line, iface_line, control_line; /* file lines of the keys */
	int chan_lines[GATEWAY_MAX_CHANNELS]; /* of spec.chans[i] */
};

struct config_http {
	int line;
	struct http_conf conf;
};

struct config {
	struct config_relay *relays;
	size_t nrelays;
	struct config_hub *hubs;
	size_t nhubs;
	struct config_gateway *gateways;
	size_t ngateways;
	struct config_http *https;
	size_t nhttps;
};

/* Parse len bytes of text. Returns 0, or -EINVAL with "line N: reason"
 * in err (cfg is then empty). */
int config_parse(const char *text, size_t len, struct config *cfg, char *err,
		 size_t errlen);
/* Read and parse the file at path; errors name the file and line. */
int config_load(const char *path, struct config *cfg, char *err,
		size_t errlen);
/* True when s is a good section name: 1-63 of A-Z a-z 0-9 - _ . */
bool config_valid_name(const char *s);
/* Free what config_parse allocated. */
void config_free(struct config *cfg);

#endif
