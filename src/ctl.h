/* ctl.h - the `mcferry ctl` client of the control socket (control.h). */
#ifndef MCFERRY_CTL_H
#define MCFERRY_CTL_H

/* mcferry ctl SOCKET OP [ARGS...] [--dot]: argv as main's. Returns the
 * exit status (0 ok, 1 refused or unreachable, 2 usage). */
int ctl_main(int argc, char **argv);

#endif
