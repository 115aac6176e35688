/* tools/listen.c: listening on a host literal or name (see listen.h). */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "args.h"
#include "listen.h"

#define MAX_ADDRS 16

static int is_literal(const char *host) {
  unsigned char buf[16];
  return uv_inet_pton(AF_INET, host, buf) == 0 ||
         uv_inet_pton(AF_INET6, host, buf) == 0;
}

static int report(const char *cmd, const char *host, int port, int err) {
  char where[300];
  cli_hostport(where, sizeof where, host, port);
  fprintf(stderr, "wsx %s: cannot listen on %s: %s\n", cmd, where,
          wsx_uv_strerror(err));
  return 1;
}

int cli_listen(wsx_server *srv, const char *cmd, const char *host, int port) {
  struct addrinfo hints, *res = NULL, *ai;
  char seen[MAX_ADDRS][INET6_ADDRSTRLEN];
  int nseen = 0, bound = 0, last_err = 0, rc;
  if (is_literal(host)) {
    rc = wsx_server_listen(srv, host, port);
    return rc < 0 ? report(cmd, host, port, rc) : 0;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "wsx %s: cannot resolve '%s': %s\n", cmd, host,
            gai_strerror(rc));
    return 1;
  }
  /* IPv4 first: with port 0 the kernel then picks a port free among the
   * IPv4 sockets, the crowded family, and the IPv6 addresses follow. */
  for (int pass = 0; pass < 2; pass++) {
    for (ai = res; ai && nseen < MAX_ADDRS; ai = ai->ai_next) {
      char lit[INET6_ADDRSTRLEN];
      int i, p;
      if (ai->ai_family != (pass == 0 ? AF_INET : AF_INET6) ||
          getnameinfo(ai->ai_addr, ai->ai_addrlen, lit, sizeof lit, NULL, 0,
                      NI_NUMERICHOST) != 0)
        continue;
      for (i = 0; i < nseen && strcmp(seen[i], lit); i++)
        ;
      if (i < nseen)
        continue; /* the same address again */
      memcpy(seen[nseen++], lit, sizeof lit);
      p = bound ? wsx_server_port(srv) : port;
      rc = wsx_server_listen(srv, lit, p);
      if (rc == 0) {
        bound++;
      } else if (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT) {
        last_err = rc; /* e.g. ::1 on a machine without IPv6 */
      } else {
        freeaddrinfo(res);
        return report(cmd, lit, p, rc);
      }
    }
  }
  freeaddrinfo(res);
  if (!bound)
    return report(cmd, host, port, last_err ? last_err : UV_EADDRNOTAVAIL);
  return 0;
}
