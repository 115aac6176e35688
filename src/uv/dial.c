/* The dialer: DNS, then a TCP connect per address (see uv/dial.h). */
#include <stdio.h>
#include <string.h>

#include "uv/dial.h"

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  wsx__dial *dl = req->data;
  dl->gai_pending = 0;
  if (dl->res)
    uv_freeaddrinfo(dl->res);
  dl->res = res;
  dl->cur = status < 0 ? NULL : res;
  dl->on_resolved(dl, status);
}

static void on_connect(uv_connect_t *req, int status) {
  wsx__dial *dl = req->data;
  if (status < 0)
    dl->last_err = status;
  dl->on_connected(dl, status);
}

int wsx__dial_start(wsx__dial *dl, uv_loop_t *loop, const char *host,
                    size_t host_len, unsigned port, void *owner,
                    wsx__dial_resolved_cb on_resolved,
                    wsx__dial_connected_cb on_connected) {
  struct addrinfo hints;
  char portstr[8];
  int rc;
  wsx__dial_release(dl);
  dl->cur = NULL;
  dl->last_err = 0;
  dl->owner = owner;
  dl->on_resolved = on_resolved;
  dl->on_connected = on_connected;
  if (host_len >= sizeof(dl->host))
    return UV_EINVAL;
  memcpy(dl->host, host, host_len);
  dl->host[host_len] = '\0';
  dl->gai.data = dl;
  dl->conn.data = dl;
  if (uv_ip4_addr(dl->host, (int)port, (struct sockaddr_in *)&dl->literal) ==
          0 ||
      uv_ip6_addr(dl->host, (int)port, (struct sockaddr_in6 *)&dl->literal) ==
          0) {
    /* A literal needs no resolver round trip. */
    memset(&dl->literal_ai, 0, sizeof(dl->literal_ai));
    dl->literal_ai.ai_addr = (struct sockaddr *)&dl->literal;
    dl->cur = &dl->literal_ai;
    return 1;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(portstr, sizeof(portstr), "%u", port);
  dl->gai_pending = 1;
  rc = uv_getaddrinfo(loop, &dl->gai, on_gai, dl->host, portstr, &hints);
  if (rc < 0)
    dl->gai_pending = 0;
  return rc < 0 ? rc : 0;
}

int wsx__dial_next(wsx__dial *dl, uv_tcp_t *tcp) {
  struct addrinfo *ai = dl->cur;
  int rc;
  if (!ai)
    return UV_ENOENT;
  dl->cur = ai->ai_next;
  rc = uv_tcp_connect(&dl->conn, tcp, ai->ai_addr, on_connect);
  if (rc < 0)
    dl->last_err = rc;
  return rc;
}

void wsx__dial_cancel(wsx__dial *dl) {
  if (dl->gai_pending)
    uv_cancel((uv_req_t *)&dl->gai);
}

void wsx__dial_release(wsx__dial *dl) {
  if (dl->res)
    uv_freeaddrinfo(dl->res);
  dl->res = NULL;
  dl->cur = NULL;
}
