/* control.h - the control socket: a unix socket (mode 0660) speaking JSON
 * lines, one request one reply, for orchestrators (docs/mesh.md).
 *
 *   -> {"id":1,"op":"link.add","args":{"uri":"tcp://h:7000","cost":20}}
 *   <- {"id":1,"ok":true,...}
 *   <- {"id":1,"ok":false,"error":"unknown op 'x'"}
 *
 * A request is one line of at most CONTROL_LINE_MAX bytes, an object with
 * "op" (a string), maybe "id" (a number, echoed) and "args" (an object of
 * strings, numbers and booleans, at most CONTROL_ARGS_MAX). Anything else
 * is answered with an error; a longer line closes that client. At most
 * CONTROL_CLIENTS clients at once (one more is closed at once). The
 * module knows two ops itself, stats.get (every counter of the node) and
 * events.subscribe (the client then also gets the role's event lines);
 * the role answers the rest.
 */
#ifndef MCFERRY_CONTROL_H
#define MCFERRY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "node.h"
#include "stats.h"

#define CONTROL_LINE_MAX 65536
#define CONTROL_ARGS_MAX 16
#define CONTROL_CLIENTS 16

struct control_arg {
	char key[64];
	char val[1024];     /* strings unescaped; numbers, booleans as text */
	char type;          /* 's' string, 'n' number, 'b' boolean */
};

struct control_req {
	long long id;
	bool has_id;
	char op[64];
	struct control_arg args[CONTROL_ARGS_MAX];
	size_t nargs;
};

/* Parse one request line (pure). 0, or -EINVAL with a reason in err. */
int control_parse(const char *line, size_t n, struct control_req *r,
		  char *err, size_t errlen);
/* The value of argument key, or NULL. */
const char *control_arg(const struct control_req *r, const char *key);

/* One argument an op takes: its key and type ('s' a string, 'n' a
 * number, 'b' a boolean, 'x' a string or a number). */
struct control_argdef {
	const char *key;
	char type;
};

/* Check r's args against defs (n of them): 0, or -1 with "OP: unknown
 * argument 'K' (want A, B)" or "OP: K must be a string" in err (pure). */
int control_args_check(const struct control_req *r,
		       const struct control_argdef *defs, size_t n, char *err,
		       size_t errlen);
/* Append s to t as a JSON string (quotes and escapes). */
void control_json_str(struct stats_text *t, const char *s);
/* Append printf output to t. */
void control_printf(struct stats_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The role's answer to r: append ,"key":value members to out and return
 * 0, or return -1 with a reason in err. */
typedef int control_fn(void *arg, const struct control_req *r,
		       struct stats_text *out, char *err, size_t errlen);

struct control;

/* Listen on path. A stale socket there (nobody answers on it) is
 * replaced; a live one (another service or process listens) is refused.
 * NULL with a reason in err. */
struct control *control_open(struct node *node, const char *path,
			     control_fn *fn, void *arg, char *err,
			     size_t errlen);
/* Send one event line (a JSON object) to every subscribed client; c may
 * be NULL (no socket: nothing to do). */
void control_event(struct control *c, const char *json);
/* Close the socket and every client; frees itself when they are closed;
 * removes the socket file. */
void control_close(struct control *c);

#endif
