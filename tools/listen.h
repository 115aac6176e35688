/*
 * tools/listen.h: where the wsx servers listen. A host given by name
 * ("localhost") listens on every address the name resolves to, so a client
 * that dials the name finds the server whichever address it tries first
 * (Debian's /etc/hosts maps localhost to 127.0.0.1 and ::1; Node 18 tries
 * only the first answer).
 */
#ifndef WSX_TOOLS_LISTEN_H
#define WSX_TOOLS_LISTEN_H

#include <wsx/uv.h>

/*
 * Listens on host:port. `host` is an IPv4 or IPv6 literal (one listener)
 * or a host name: every distinct address getaddrinfo() returns for it gets
 * a listener, all on the same port (port 0: the one the first bind chose).
 * An address of a family the machine lacks (EADDRNOTAVAIL, EAFNOSUPPORT)
 * is skipped while another one works. Returns 0, or 1 after printing
 * "wsx CMD: cannot listen on ..." on stderr.
 */
int cli_listen(wsx_server *srv, const char *cmd, const char *host, int port);

#endif /* WSX_TOOLS_LISTEN_H */
