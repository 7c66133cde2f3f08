/* control.c - the JSON-lines control socket; see control.h. */
#include "control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "util.h"

/* ---- the request parser (pure) --------------------------------------- */

struct jp {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int jp_fail(struct jp *j, const char *what)
{
	snprintf(j->err, j->errlen, "bad request: %s", what);
	return -EINVAL;
}

/* After an object member: 1 when a ',' says another follows, 0 at the
 * closing '}', or an error naming what was wanted. */
static int jp_member_end(struct jp *j, const char *want)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		return 1;
	}
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	return jp_fail(j, want);
}

/* A JSON string into out (cap bytes, NUL-terminated). */
static int jp_str(struct jp *j, char *out, size_t cap)
{
	size_t n = 0;

	jp_ws(j);
	if (j->p >= j->end || *j->p != '"')
		return jp_fail(j, "want a string");
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if ((unsigned char)c < 0x20)
			return jp_fail(j, "control character in a string");
		if (c == '\\') {
			if (j->p >= j->end)
				return jp_fail(j, "unfinished escape");
			c = *j->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case '"': case '\\': case '/': break;
			default:
				return jp_fail(j, "unsupported escape");
			}
		}
		if (n + 1 >= cap)
			return jp_fail(j, "string too long");
		out[n++] = c;
	}
	if (j->p >= j->end)
		return jp_fail(j, "unterminated string");
	j->p++;
	out[n] = '\0';
	return 0;
}

/* A number, true or false, or a string, as text in a. */
static int jp_scalar(struct jp *j, struct control_arg *a)
{
	size_t n = 0;

	jp_ws(j);
	if (j->p < j->end && *j->p == '"') {
		a->type = 's';
		return jp_str(j, a->val, sizeof(a->val));
	}
	if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
		a->type = 'b';
		strcpy(a->val, "true");
		j->p += 4;
		return 0;
	}
	if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
		a->type = 'b';
		strcpy(a->val, "false");
		j->p += 5;
		return 0;
	}
	while (j->p < j->end && n + 1 < sizeof(a->val) &&
	       (strchr("0123456789-+.eE", *j->p) && *j->p))
		a->val[n++] = *j->p++;
	a->val[n] = '\0';
	if (n == 0)
		return jp_fail(j, "want a string, number or boolean");
	a->type = 'n';
	return 0;
}

int control_parse(const char *line, size_t n, struct control_req *r,
		  char *err, size_t errlen)
{
	struct jp j = { line, line + n, err, errlen };
	char key[64];
	bool have_op = false;
	int rc;

	memset(r, 0, sizeof(*r));
	jp_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return jp_fail(&j, "want a JSON object");
	jp_ws(&j);
	if (j.p < j.end && *j.p == '}')
		return jp_fail(&j, "no \"op\"");
	for (;;) {
		if (jp_str(&j, key, sizeof(key)) < 0)
			return -EINVAL;
		jp_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return jp_fail(&j, "want ':'");
		jp_ws(&j);
		if (!strcmp(key, "args")) {
			if (j.p >= j.end || *j.p++ != '{')
				return jp_fail(&j, "\"args\" must be an object");
			jp_ws(&j);
			if (j.p < j.end && *j.p == '}') {
				j.p++;
			} else {
				for (;;) {
					struct control_arg *a;

					if (r->nargs == CONTROL_ARGS_MAX)
						return jp_fail(&j, "too many args");
					a = &r->args[r->nargs++];
					if (jp_str(&j, a->key, sizeof(a->key)) < 0)
						return -EINVAL;
					jp_ws(&j);
					if (j.p >= j.end || *j.p++ != ':')
						return jp_fail(&j, "want ':'");
					if (jp_scalar(&j, a) < 0)
						return -EINVAL;
					rc = jp_member_end(&j, "want ',' or '}' in args");
					if (rc < 0)
						return rc;
					if (rc == 0)
						break;
				}
			}
		} else {
			struct control_arg v;

			if (jp_scalar(&j, &v) < 0)
				return -EINVAL;
			if (!strcmp(key, "op")) {
				if (v.type != 's' || !v.val[0] ||
				    strlen(v.val) >= sizeof(r->op))
					return jp_fail(&j, "\"op\" must be a short string");
				strcpy(r->op, v.val);
				have_op = true;
			} else if (!strcmp(key, "id")) {
				char *e;

				if (v.type != 'n')
					return jp_fail(&j, "\"id\" must be a number");
				r->id = strtoll(v.val, &e, 10);
				if (*e)
					return jp_fail(&j, "\"id\" must be an integer");
				r->has_id = true;
			}
			/* Other members are ignored. */
		}
		rc = jp_member_end(&j, "want ',' or '}'");
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
	}
	jp_ws(&j);
	if (j.p != j.end)
		return jp_fail(&j, "trailing bytes after the object");
	if (!have_op)
		return jp_fail(&j, "no \"op\"");
	return 0;
}

const char *control_arg(const struct control_req *r, const char *key)
{
	for (size_t i = 0; i < r->nargs; i++)
		if (!strcmp(r->args[i].key, key))
			return r->args[i].val;
	return NULL;
}

int control_args_check(const struct control_req *r,
		       const struct control_argdef *defs, size_t n, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < r->nargs; i++) {
		const struct control_arg *a = &r->args[i];
		size_t k;

		for (k = 0; k < n && strcmp(defs[k].key, a->key); k++)
			;
		if (k == n) {
			size_t len;

			if (n == 0) {
				snprintf(err, errlen, "%s: unknown argument "
					 "'%s' (it takes none)", r->op, a->key);
				return -1;
			}
			len = (size_t)snprintf(err, errlen, "%s: unknown "
					       "argument '%s' (want", r->op,
					       a->key);
			for (k = 0; k < n && len < errlen; k++)
				len += (size_t)snprintf(err + len, errlen - len,
							"%s %s", k ? "," : "",
							defs[k].key);
			if (len < errlen)
				snprintf(err + len, errlen - len, ")");
			return -1;
		}
		if (defs[k].type == 'x' ? a->type == 'b'
					: a->type != defs[k].type) {
			static const char *const what[] = {
				['s'] = "a string", ['n'] = "a number",
				['b'] = "a boolean", ['x'] = "a string or a number",
			};

			snprintf(err, errlen, "%s: %s must be %s", r->op, a->key,
				 what[(unsigned char)defs[k].type]);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(r->args[j].key, a->key)) {
				snprintf(err, errlen, "%s: %s given twice", r->op,
					 a->key);
				return -1;
			}
		}
	}
	return 0;
}

void control_json_str(struct stats_text *t, const char *s)
{
	char esc[8];

	stats_text_puts(t, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			stats_text_append(t, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			stats_text_puts(t, esc);
		} else {
			stats_text_append(t, (const char *)s, 1);
		}
	}
	stats_text_puts(t, "\"");
}

void control_printf(struct stats_text *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf)) {
		char *big = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		stats_text_append(t, big, (size_t)n);
		free(big);
		return;
	}
	stats_text_append(t, buf, (size_t)n);
}

/* ---- the socket ------------------------------------------------------ */

struct control_client {
	uv_pipe_t pipe;
	struct control *ctl;
	char *rx;
	size_t rxlen;
	bool subscribed, closing;
	struct control_client *next;
};

struct control {
	struct node *node;
	char path[108];
	uv_pipe_t server;
	control_fn *fn;
	void *arg;
	struct control_client *clients;
	size_t nclients;
	int handles;
	bool closing;
};

struct control_write {
	uv_write_t req;
	char *data;
};

static void control_release(struct control *c)
{
	if (--c->handles == 0 && c->closing)
		free(c);
}

static void control_on_client_closed(uv_handle_t *h)
{
	struct control_client *k = h->data;
	struct control *c = k->ctl;
	struct control_client **pp = &c->clients;

	while (*pp && *pp != k)
		pp = &(*pp)->next;
	if (*pp)
		*pp = k->next;
	c->nclients--;
	free(k->rx);
	free(k);
	control_release(c);
}

static void control_client_close(struct control_client *k)
{
	if (k->closing)
		return;
	k->closing = true;
	uv_close((uv_handle_t *)&k->pipe, control_on_client_closed);
}

static void control_on_written(uv_write_t *req, int status)
{
	struct control_write *w = (struct control_write *)req;

	free(w->data);
	free(w);
}

static void control_send(struct control_client *k, const char *s, size_t n)
{
	struct control_write *w;
	uv_buf_t b;

	if (k->closing)
		return;
	/* A client that does not read its replies is closed before it
	 * makes us hold more than a few megabytes. */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&k->pipe) >
	    (4u << 20)) {
		control_client_close(k);
		return;
	}
	w = xmalloc(sizeof(*w));
	w->data = xmalloc(n + 1);
	memcpy(w->data, s, n);
	w->data[n] = '\n';
	b = uv_buf_init(w->data, (unsigned)n + 1);
	if (uv_write(&w->req, (uv_stream_t *)&k->pipe, &b, 1,
		     control_on_written) < 0) {
		free(w->data);
		free(w);
		control_client_close(k);
	}
}

static void control_reply_error(struct control_client *k,
				const struct control_req *r, bool has_id,
				const char *msg)
{
	struct stats_text t = { 0 };

	stats_text_puts(&t, "{");
	if (has_id)
		control_printf(&t, "\"id\":%lld,", r->id);
	stats_text_puts(&t, "\"ok\":false,\"error\":");
	control_json_str(&t, msg);
	stats_text_puts(&t, "}");
	control_send(k, t.data, t.len);
	stats_text_free(&t);
}

static void control_line(struct control_client *k, const char *line,
			 size_t n)
{
	struct control *c = k->ctl;
	struct control_req *r = xcalloc(1, sizeof(*r));
	struct stats_text t = { 0 };
	char err[512] = "";
	int rc;

	if (control_parse(line, n, r, err, sizeof(err)) < 0) {
		control_reply_error(k, r, r->has_id, err);
		goto out;
	}
	stats_text_puts(&t, "{");
	if (r->has_id)
		control_printf(&t, "\"id\":%lld,", r->id);
	stats_text_puts(&t, "\"ok\":true");
	if (!strcmp(r->op, "stats.get")) {
		stats_text_puts(&t, ",\"stats\":");
		stats_render_json(&c->node->stats, &t, true);
		rc = 0;
	} else if (!strcmp(r->op, "events.subscribe")) {
		k->subscribed = true;
		rc = 0;
	} else {
		rc = c->fn(c->arg, r, &t, err, sizeof(err));
	}
	if (rc < 0) {
		control_reply_error(k, r, r->has_id, err);
		goto out;
	}
	stats_text_puts(&t, "}");
	control_send(k, t.data, t.len);
out:
	stats_text_free(&t);
	free(r);
}

static void control_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct control_client *k = h->data;

	b->base = k->rx + k->rxlen;
	b->len = CONTROL_LINE_MAX + 1 - k->rxlen;
}

static void control_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct control_client *k = s->data;
	char *nl;

	if (nread < 0) {
		control_client_close(k);
		return;
	}
	k->rxlen += (size_t)nread;
	while (!k->closing &&
	       (nl = memchr(k->rx, '\n', k->rxlen)) != NULL) {
		size_t n = (size_t)(nl - k->rx);

		if (n > 0)
			control_line(k, k->rx, n);
		memmove(k->rx, nl + 1, k->rxlen - n - 1);
		k->rxlen -= n + 1;
	}
	if (k->rxlen > CONTROL_LINE_MAX) {
		struct control_req r = { 0 };

		control_reply_error(k, &r, false, "request line too long");
		control_client_close(k);
	}
}

static void control_on_connection(uv_stream_t *srv, int status)
{
	struct control *c = srv->data;
	struct control_client *k;

	if (status < 0)
		return;
	k = xcalloc(1, sizeof(*k));
	k->ctl = c;
	k->rx = xmalloc(CONTROL_LINE_MAX + 1);
	uv_pipe_init(c->node->loop, &k->pipe, 0);
	k->pipe.data = k;
	c->handles++;
	c->nclients++;
	k->next = c->clients;
	c->clients = k;
	if (uv_accept(srv, (uv_stream_t *)&k->pipe) < 0) {
		control_client_close(k);
		return;
	}
	if (c->nclients > CONTROL_CLIENTS) {
		struct control_req r = { 0 };

		control_reply_error(k, &r, false, "too many control clients");
		control_client_close(k);
		return;
	}
	uv_read_start((uv_stream_t *)&k->pipe, control_on_alloc,
		      control_on_read);
}

/* Is a process listening on the unix socket at path? */
static bool control_socket_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path));
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	       errno == EAGAIN;
	close(fd);
	return live;
}

static void control_on_server_closed(uv_handle_t *h)
{
	control_release(h->data);
}

struct control *control_open(struct node *node, const char *path,
			     control_fn *fn, void *arg, char *err,
			     size_t errlen)
{
	struct control *c;
	struct stat st;
	int rc;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* A socket left by a process that is gone is replaced; one
		 * somebody answers on (another service of this file, or
		 * another process) is not taken from it. */
		if (control_socket_live(path)) {
			snprintf(err, errlen, "control socket '%s' is in use "
				 "(another service or process listens there)",
				 path);
			return NULL;
		}
		unlink(path);
	} else if (lstat(path, &st) == 0) {
		snprintf(err, errlen, "control socket '%s': a file that is not "
			 "a socket is there", path);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->node = node;
	c->fn = fn;
	c->arg = arg;
	snprintf(c->path, sizeof(c->path), "%s", path);
	uv_pipe_init(node->loop, &c->server, 0);
	c->server.data = c;
	c->handles = 1;
	rc = uv_pipe_bind(&c->server, path);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&c->server, 16,
			       control_on_connection);
	if (rc == 0 && chmod(path, 0660) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on control socket '%s': %s",
			 path, uv_strerror(rc));
		/* A bound socket file is ours: remove it. The handle frees
		 * c once it has closed. */
		if (rc != UV_EADDRINUSE && lstat(path, &st) == 0 &&
		    S_ISSOCK(st.st_mode))
			unlink(path);
		c->closing = true;
		uv_close((uv_handle_t *)&c->server, control_on_server_closed);
		return NULL;
	}
	log_info("control socket=%s listening", path);
	return c;
}

void control_event(struct control *c, const char *json)
{
	if (!c)
		return;
	for (struct control_client *k = c->clients; k; k = k->next)
		if (k->subscribed)
			control_send(k, json, strlen(json));
}

void control_close(struct control *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	for (struct control_client *k = c->clients; k; k = k->next)
		control_client_close(k);
	uv_close((uv_handle_t *)&c->server, control_on_server_closed);
	unlink(c->path);
}
