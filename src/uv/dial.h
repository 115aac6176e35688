/*
 * The dialer shared by the WebSocket client (client.c, through its proxy
 * when one is set: proxy_client.c) and the EventSource client
 * (es_client.c): DNS (skipped for a literal address), then a TCP connect to
 * each resolved address in turn. The caller owns the TCP handle (a failed
 * handle cannot connect again, so it closes and re-initializes it between
 * addresses), the timeout timer and what runs on the connected stream
 * (plain, TLS of uv/tls.h, or a proxy CONNECT first).
 */
#ifndef WSX_SRC_UV_DIAL_H
#define WSX_SRC_UV_DIAL_H

#include <uv.h>

typedef struct wsx__dial wsx__dial;

/* Name resolution finished: status 0 with dl->res set (addresses ready:
 * call wsx__dial_next), or a negative libuv code (UV_ECANCELED after
 * wsx__dial_cancel). Fires from the loop, never from wsx__dial_start. */
typedef void (*wsx__dial_resolved_cb)(wsx__dial *dl, int status);
/* The connect started by wsx__dial_next finished: status 0 or a negative
 * libuv code (dl->last_err holds it too). */
typedef void (*wsx__dial_connected_cb)(wsx__dial *dl, int status);

struct wsx__dial {
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  struct addrinfo *res; /* getaddrinfo result, owned (NULL for literals) */
  struct addrinfo *cur; /* next address to try, NULL = none left */
  struct addrinfo literal_ai;
  struct sockaddr_storage literal;
  void *owner; /* the caller's, for the callbacks */
  wsx__dial_resolved_cb on_resolved;
  wsx__dial_connected_cb on_connected;
  int gai_pending; /* the resolver owns `gai` until on_resolved */
  int last_err;    /* libuv code of the last failed connect, 0 = none */
  char host[256];  /* the name dialed (no brackets), for messages */
};

/*
 * Starts dialing host[0..host_len):port; `dl` must be zeroed or released
 * (wsx__dial_release) and stay put until released. A literal IPv4/IPv6
 * address needs no resolver: returns 1 and the caller calls wsx__dial_next
 * at once. Otherwise returns 0 and on_resolved fires later. Fails with a
 * negative libuv code from uv_getaddrinfo, or UV_EINVAL if the host is
 * longer than 255 bytes.
 */
int wsx__dial_start(wsx__dial *dl, uv_loop_t *loop, const char *host,
                    size_t host_len, unsigned port, void *owner,
                    wsx__dial_resolved_cb on_resolved,
                    wsx__dial_connected_cb on_connected);
/* Connects the next address on `tcp` (initialized, never connected).
 * Returns 0 (on_connected fires later) or a negative libuv code: the
 * connect did not start (also stored in last_err), or UV_ENOENT if no
 * address is left. */
int wsx__dial_next(wsx__dial *dl, uv_tcp_t *tcp);
/* Non-zero if an address is left to try. */
static inline int wsx__dial_has_next(const wsx__dial *dl) {
  return dl->cur != NULL;
}
/* Forgets the addresses left (no more attempts). */
static inline void wsx__dial_stop(wsx__dial *dl) { dl->cur = NULL; }
/* Cancels a pending lookup (on_resolved then fires with UV_ECANCELED, or
 * with the result if it was too late to cancel). */
void wsx__dial_cancel(wsx__dial *dl);
/* Frees the resolved addresses; not while gai_pending. */
void wsx__dial_release(wsx__dial *dl);

#endif
