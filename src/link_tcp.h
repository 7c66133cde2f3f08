/* link_tcp.h - what transports built on a TCP socket (TLS) share with
 * link_tcp.c: the listening socket. */
#ifndef MCFERRY_LINK_TCP_H
#define MCFERRY_LINK_TCP_H

#include <uv.h>

#include "listener.h"

/* Listen on ls->conf's URI; cb runs for each pending connection with
 * server->data == ls. 0 or a negative errno; the handle is made either
 * way and closes through link_tcp_listen_close. */
int link_tcp_listen_on(struct listener *ls, uv_connection_cb cb);
/* Close the listening socket; listener_handle_closed(ls) follows. */
void link_tcp_listen_close(struct listener *ls);

#endif
