/* ctl.h - the `mcferry ctl` client of the control socket (control.h). */
#ifndef MCFERRY_CTL_H
#define MCFERRY_CTL_H

#include <stddef.h>

/* mcferry ctl SOCKET OP [ARGS...] [--dot]: argv as main's. Returns the
 * exit status (0 ok, 1 refused or unreachable, 2 usage). */
int ctl_main(int argc, char **argv);

struct stats_text;

/* The request line of OP ARGS (args[0] is OP, n words in all): ARGS is
 * one JSON object (sent as it is), or KEY=VALUE words (digits make a
 * number, true/false a boolean, the rest a string). 0, or -1 with a
 * reason in err (pure). */
int ctl_request(int n, const char *const *args, struct stats_text *req,
		char *err, size_t errlen);

#endif
