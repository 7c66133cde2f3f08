/* ctl.c - `mcferry ctl SOCKET OP [ARGS...]`: one request to a running
 * node's control socket (control.h), its reply printed. ARGS is one JSON
 * object, or key=value words (digits make a number, true/false a
 * boolean, the rest a string). With --dot a routes.get reply is printed
 * as a Graphviz digraph of the tree instead. Exit 0 when the reply says
 * ok, 1 when it does not or the node cannot be reached, 2 for usage.
 * events.subscribe prints the reply, then each event line as it comes,
 * until the node closes the socket or ctl is interrupted. */
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "stats.h"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The tree of a routes.get reply as dot: "node","name","parent" triples
 * between "tree":[ and its closing ]. */
static void ctl_dot(const char *reply)
{
	const char *p = strstr(reply, "\"tree\":[");

	printf("digraph mesh {\n");
	while (p && (p = strstr(p, "{\"node\":\"")) != NULL) {
		char node[17] = "", name[128] = "", parent[17] = "";
		const char *end = strchr(p, '}'), *q;

		sscanf(p, "{\"node\":\"%16[0-9a-f]\"", node);
		if ((q = strstr(p, "\"name\":\"")) && q < end)
			sscanf(q, "\"name\":\"%127[^\"]\"", name);
		if ((q = strstr(p, "\"parent\":\"")) && q < end)
			sscanf(q, "\"parent\":\"%16[0-9a-f]\"", parent);
		printf("  \"%s\" [label=\"%s\\n%s\"];\n", node, name, node);
		if (parent[0])
			printf("  \"%s\" -> \"%s\";\n", parent, node);
		p = end;
	}
	printf("}\n");
}

int ctl_request(int n, const char *const *args, struct stats_text *req,
		char *err, size_t errlen)
{
	stats_text_puts(req, "{\"id\":1,\"op\":");
	control_json_str(req, args[0]);
	stats_text_puts(req, ",\"args\":");
	if (n == 2 && args[1][0] == '{') {
		/* One JSON object, sent as it is: the node checks it. */
		if (strchr(args[1], '\n')) {
			snprintf(err, errlen, "bad argument: a newline in the "
				 "JSON object");
			return -1;
		}
		stats_text_puts(req, args[1]);
		stats_text_puts(req, "}\n");
		return 0;
	}
	stats_text_puts(req, "{");
	for (int i = 1; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		char key[64];

		if (!eq || eq == args[i] ||
		    (size_t)(eq - args[i]) >= sizeof(key)) {
			snprintf(err, errlen, "bad argument '%s': want KEY=VALUE "
				 "or one JSON object", args[i]);
			return -1;
		}
		memcpy(key, args[i], (size_t)(eq - args[i]));
		key[eq - args[i]] = '\0';
		if (i > 1)
			stats_text_puts(req, ",");
		control_json_str(req, key);
		stats_text_puts(req, ":");
		if (all_digits(eq + 1) || !strcmp(eq + 1, "true") ||
		    !strcmp(eq + 1, "false"))
			stats_text_puts(req, eq + 1);
		else
			control_json_str(req, eq + 1);
	}
	stats_text_puts(req, "}}\n");
	return 0;
}

int ctl_main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stats_text req = { 0 };
	bool dot = false, follow;
	char *reply = NULL, err[256];
	size_t len = 0, cap = 0;
	int fd = -1, n = 0, rc = 1;
	const char *args[32];

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--dot"))
			dot = true;
		else if (n < 32)
			args[n++] = argv[i];
	}
	if (n < 2 || strlen(args[0]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: mcferry ctl SOCKET OP [ARGS...] [--dot]\n");
		return 2;
	}
	strcpy(sa.sun_path, args[0]);
	if (ctl_request(n - 1, args + 1, &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "mcferry: ctl: %s\n", err);
		stats_text_free(&req);
		return 2;
	}
	/* events.subscribe: the reply, then every event line as it comes,
	 * until the node closes the socket (or ctl is interrupted). */
	follow = !strcmp(args[1], "events.subscribe");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "mcferry: ctl: cannot connect to '%s': %s\n",
			args[0], strerror(errno));
		goto out;
	}
	if (write(fd, req.data, req.len) != (ssize_t)req.len) {
		fprintf(stderr, "mcferry: ctl: write: %s\n", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (len + 4096 > cap) {
			cap = cap ? 2 * cap : 65536;
			reply = realloc(reply, cap);
			if (!reply)
				abort();
		}
		r = read(fd, reply + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
		reply[len] = '\0';
		if (memchr(reply, '\n', len))
			break;
	}
	if (!len) {
		fprintf(stderr, "mcferry: ctl: no reply\n");
		goto out;
	}
	reply[len] = '\0';
	if (dot && strstr(reply, "\"ok\":true"))
		ctl_dot(reply);
	else
		fputs(reply, stdout);
	rc = strstr(reply, "\"ok\":true") ? 0 : 1;
	if (follow && rc == 0) {
		ssize_t r;

		fflush(stdout);
		while ((r = read(fd, reply, cap - 1)) > 0) {
			fwrite(reply, 1, (size_t)r, stdout);
			fflush(stdout);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(reply);
	stats_text_free(&req);
	return rc;
}
