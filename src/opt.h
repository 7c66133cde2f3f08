/* opt.h - the one table of options: URI query options, config file keys
 * and command-line flags, each a row with its type, bounds, default,
 * reloadability, where it applies and one line of doc.
 *
 * The table drives everything an option is: the parser (one per type, so
 * a value is accepted or refused with the same words wherever it is
 * written), the struct field it sets, the role checks of a URI, the
 * long options of getopt, and the options part of --help. A new option
 * (or a new transport's options: tls://?ca=, srt://?latency=) is a new
 * row, not new code.
 *
 * Messages: a value parser says "bad NAME 'VALUE': want ..."; the config
 * file puts "FILE: line N: " in front, the command line "mcferry: " (and,
 * for a flag, "--NAME: ").
 */
#ifndef MCFERRY_OPT_H
#define MCFERRY_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "uri.h"

/* Where an option applies (struct opt.at): a set of places.
 *
 * URI query options go by the kind of endpoint, a scheme crossed with a
 * role; the names below are sets, so `AT_TCP & AT_SINK & AT_LISTEN` is a
 * listening tcp sink and `AT_UDP | AT_STREAM` is every URI. tls is tcp
 * with its own kinds, so that its options (ca=, cert=...) apply to it
 * alone while every tcp option (AT_STREAM) applies to both. */
enum {
	AT_UDP_SOURCE = 1u << 0,        /* udp://@GROUP:PORT, udp://@:PORT */
	AT_UDP_SINK = 1u << 1,          /* udp://HOST:PORT */
	AT_TCP_SOURCE_LISTEN = 1u << 2, /* tcp://@:PORT as a source */
	AT_TCP_SOURCE_CONNECT = 1u << 3,
	AT_TCP_SINK_LISTEN = 1u << 4,
	AT_TCP_SINK_CONNECT = 1u << 5,
	AT_CONF_RELAY = 1u << 8,        /* config file: [relay NAME] */
	AT_CONF_HUB = 1u << 9,          /* [hub] */
	AT_CONF_GATEWAY = 1u << 10,     /* [gateway NAME] */
	AT_CONF_HTTP = 1u << 11,        /* [http NAME] */
	AT_CLI_RELAY = 1u << 12,        /* command line: mcferry relay */
	AT_CLI_HUB = 1u << 13,
	AT_CLI_GATEWAY = 1u << 14,
	AT_CLI_RUN = 1u << 15,
	AT_TLS_SOURCE_LISTEN = 1u << 16, /* tls://@:PORT as a source */
	AT_TLS_SOURCE_CONNECT = 1u << 17,
	AT_TLS_SINK_LISTEN = 1u << 18,
	AT_TLS_SINK_CONNECT = 1u << 19,
	AT_CLI_HTTP = 1u << 20,
	AT_CLI_UDPXY = 1u << 21,        /* mcferry udpxy: udpxy's own flags */
	AT_SRT_SOURCE_LISTEN = 1u << 22, /* srt://@:PORT as a source */
	AT_SRT_SOURCE_CONNECT = 1u << 23, /* caller or rendezvous */
	AT_SRT_SINK_LISTEN = 1u << 24,
	AT_SRT_SINK_CONNECT = 1u << 25,
	AT_UDPL_SOURCE_LISTEN = 1u << 26, /* udp://@:PORT?framing=datagram */
	AT_UDPL_SOURCE_CONNECT = 1u << 27, /* udp://HOST:PORT?framing=datagram */
	AT_UDPL_SINK_LISTEN = 1u << 28,
	AT_UDPL_SINK_CONNECT = 1u << 29,
};
#define AT_UDP (AT_UDP_SOURCE | AT_UDP_SINK)
#define AT_TCP                                                              \
	(AT_TCP_SOURCE_LISTEN | AT_TCP_SOURCE_CONNECT | AT_TCP_SINK_LISTEN | \
	 AT_TCP_SINK_CONNECT)
#define AT_TLS                                                              \
	(AT_TLS_SOURCE_LISTEN | AT_TLS_SOURCE_CONNECT | AT_TLS_SINK_LISTEN | \
	 AT_TLS_SINK_CONNECT)
#define AT_SRT                                                              \
	(AT_SRT_SOURCE_LISTEN | AT_SRT_SOURCE_CONNECT | AT_SRT_SINK_LISTEN | \
	 AT_SRT_SINK_CONNECT)
/* The udp link (framing=datagram on udp://): a session transport, not
 * the multicast endpoint AT_UDP. */
#define AT_UDPL                                                             \
	(AT_UDPL_SOURCE_LISTEN | AT_UDPL_SOURCE_CONNECT |                   \
	 AT_UDPL_SINK_LISTEN | AT_UDPL_SINK_CONNECT)
#define AT_STREAM (AT_TCP | AT_TLS)
/* Message transports (link.h LINK_CAP_MESSAGES). */
#define AT_MSG (AT_SRT | AT_UDPL)
/* Every endpoint that is a session over a link (conn.c). */
#define AT_LINK (AT_STREAM | AT_MSG)
#define AT_SOURCE                                                            \
	(AT_UDP_SOURCE | AT_TCP_SOURCE_LISTEN | AT_TCP_SOURCE_CONNECT |      \
	 AT_TLS_SOURCE_LISTEN | AT_TLS_SOURCE_CONNECT |                      \
	 AT_SRT_SOURCE_LISTEN | AT_SRT_SOURCE_CONNECT |                      \
	 AT_UDPL_SOURCE_LISTEN | AT_UDPL_SOURCE_CONNECT)
#define AT_SINK                                                              \
	(AT_UDP_SINK | AT_TCP_SINK_LISTEN | AT_TCP_SINK_CONNECT |            \
	 AT_TLS_SINK_LISTEN | AT_TLS_SINK_CONNECT | AT_SRT_SINK_LISTEN |     \
	 AT_SRT_SINK_CONNECT | AT_UDPL_SINK_LISTEN | AT_UDPL_SINK_CONNECT)
#define AT_LISTEN                                                            \
	(AT_UDP_SOURCE | AT_TCP_SOURCE_LISTEN | AT_TCP_SINK_LISTEN |         \
	 AT_TLS_SOURCE_LISTEN | AT_TLS_SINK_LISTEN | AT_SRT_SOURCE_LISTEN |  \
	 AT_SRT_SINK_LISTEN | AT_UDPL_SOURCE_LISTEN | AT_UDPL_SINK_LISTEN)
#define AT_CONNECT                                                           \
	(AT_UDP_SINK | AT_TCP_SOURCE_CONNECT | AT_TCP_SINK_CONNECT |         \
	 AT_TLS_SOURCE_CONNECT | AT_TLS_SINK_CONNECT |                       \
	 AT_SRT_SOURCE_CONNECT | AT_SRT_SINK_CONNECT |                       \
	 AT_UDPL_SOURCE_CONNECT | AT_UDPL_SINK_CONNECT)
#define AT_URI (AT_UDP | AT_LINK)
#define AT_CONF (AT_CONF_RELAY | AT_CONF_HUB | AT_CONF_GATEWAY | AT_CONF_HTTP)
#define AT_CLI                                                           \
	(AT_CLI_RELAY | AT_CLI_HUB | AT_CLI_GATEWAY | AT_CLI_RUN | AT_CLI_HTTP | \
	 AT_CLI_UDPXY)

enum opt_type {
	OPT_UINT,    /* decimal digits only, min..max */
	OPT_BYTES,   /* a byte count: decimal digits only, min..max */
	OPT_BOOL,    /* exactly 0 or 1 */
	OPT_ENUM,    /* one of words[], stored as its index */
	OPT_STRING,  /* 1..max characters */
	OPT_CHANNEL, /* GROUP:PORT or SOURCE@GROUP:PORT (OPTF_REMAP: =LOCAL) */
	OPT_ADDR,    /* a numeric IP address */
	OPT_URI,     /* an endpoint URI; a source (OPTF_SOURCE) or a sink,
		      * of the kinds in min (an AT_ set; 0 = any) */
	OPT_FLAG,    /* command line only, takes no value */
};

/* Which struct a row's field belongs to (struct opt.obj). */
enum opt_obj {
	OBJ_URI,     /* struct uri */
	OBJ_RELAY,   /* struct config_relay: [relay NAME], mcferry relay */
	OBJ_HUB,     /* struct config_hub: [hub], mcferry hub */
	OBJ_GATEWAY, /* struct gateway_spec: [gateway NAME], mcferry gateway */
	OBJ_HTTP,    /* struct http_conf: [http NAME], mcferry http, udpxy */
	OBJ_CLI,     /* struct opt_cli: command line only */
};

/* struct opt.flags */
enum {
	OPTF_UNSET = 1u << 0,  /* def only documents what the field's unset
				* value (-1, 0, "") means; nothing is stored */
	OPTF_SOURCE = 1u << 1, /* OPT_URI: the URI is a source */
	OPTF_REMAP = 1u << 2,  /* OPT_CHANNEL: CH=LOCAL_CH is allowed */
	OPTF_MANY = 1u << 3,   /* may be given more than once, each adds */
};

#define OPT_NOFLAG SIZE_MAX

/* A parsed value, as the row's type makes it. */
union opt_value {
	uint64_t u;                   /* UINT, BYTES, BOOL, ENUM (index) */
	const char *s;                /* STRING (the text given) */
	struct {
		struct channel ch, local; /* local = ch unless remapped */
	} chan;                       /* CHANNEL */
	struct sockaddr_storage addr; /* ADDR */
	struct uri uri;               /* URI */
};

struct opt {
	const char *name;   /* ttl=, ttl = and --ttl alike */
	enum opt_type type;
	uint64_t min, max;  /* UINT, BYTES: bounds; STRING: max length;
			     * URI: min is the AT_ kinds it may be */
	const char *const *words; /* ENUM: NULL-terminated */
	const char *def;    /* default, as it is written; NULL: none */
	bool reload;        /* a SIGHUP applies a change of it */
	unsigned at;        /* AT_*: where it applies */
	enum opt_obj obj;   /* the struct it sets */
	size_t off, size;   /* the field it sets (offsetof, sizeof) */
	size_t flag;        /* offset of a bool set when given, or OPT_NOFLAG */
	/* Instead of off: sets v in obj; 0 or -EINVAL with a reason. */
	int (*set)(void *obj, const struct opt *o, const union opt_value *v,
		   char *err, size_t errlen);
	const char *family; /* role errors name this (soft for softsecs) */
	const char *arg;    /* what --help shows as its value: N, BYTES */
	const char *doc;    /* one line */
	char letter;        /* short flag (-v), or 0 */
	unsigned flags;     /* OPTF_* */
};

/* The table, and its length. Rows are in the order --help shows them. */
extern const struct opt opt_table[];
extern const size_t opt_count;

/* The row called name that applies somewhere in at, or NULL. */
const struct opt *opt_find(const char *name, unsigned at);
/* Parse text as o's type says. 0, or -EINVAL with "bad NAME 'TEXT':
 * want ..." in err. */
int opt_parse(const struct opt *o, const char *text, union opt_value *v,
	      char *err, size_t errlen);
/* Parse text and set o's field of obj (a struct of o->obj). 0, or -EINVAL
 * with the parser's or the setter's message in err. */
int opt_set(const struct opt *o, void *obj, const char *text, char *err,
	    size_t errlen);
/* Store the default of every row of kind obj that applies in at and has
 * one (not OPTF_UNSET). */
void opt_init(void *obj, enum opt_obj kind, unsigned at);

/* The AT_ kind of endpoint u is as a source (as_source) or a sink. */
unsigned opt_uri_at(const struct uri *u, bool as_source);

/* What the command line asks for. */
enum opt_cmd { CMD_NONE, CMD_RELAY, CMD_HUB, CMD_GATEWAY, CMD_RUN,
	       CMD_HTTP, CMD_UDPXY, CMD_HELP, CMD_VERSION };

struct opt_cli {
	enum opt_cmd cmd;
	bool verbose, quiet;  /* -v, -q */
	bool check;           /* run --check */
	uint32_t stats;       /* --stats SECONDS; 0 = none */
	bool stats_json;      /* --stats-json: JSON lines on stdout too */
	char user[256];       /* --user; "" = stay who we are */
	unsigned log_format;  /* --log-format: enum log_format */
	char name[CONFIG_NAME_MAX]; /* --name of the one section; "" =
				     * the command's name */
	const char *file;     /* run FILE */
	char logfile[256];    /* udpxy -l: stderr to this file; "" = none */
	uint32_t nice;        /* udpxy -n: nice(2) increment */
	struct config cfg;    /* relay, hub, gateway: one section named
			       * after the command, as a file would give */
};

/* Parse the command line into cli. 0, or -EINVAL with the reason in err
 * (the caller prints "mcferry: REASON" and exits 2). Free cli->cfg with
 * config_free. */
int opt_cli_parse(int argc, char **argv, struct opt_cli *cli, char *err,
		  size_t errlen);
/* Write --help: the usage lines and every command-line flag and URI
 * option of the table. */
void opt_help(FILE *f);

#endif
