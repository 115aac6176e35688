/*
 * Client connections through an HTTP CONNECT proxy (proxy_client.c): the
 * hooks client.c, conn.c, config.c and socket.c call.
 *
 *   wsx_socket_connect  wsx__proxy_prepare() decides (explicit option or
 *                       the environment) and returns the URL to dial;
 *   TCP connected       wsx__proxy_begin() sends CONNECT (phase PROXY),
 *                       for an https:// proxy inside TLS to the proxy
 *                       (the tunnel layer of uv/tls.h);
 *   bytes / EOF         wsx__proxy_on_data() / wsx__proxy_on_eof();
 *   2xx                 wsx__client_stream_ready() (client.c) runs the
 *                       WebSocket handshake over the tunnel: for wss:// the
 *                       TLS layer is installed there, the same as after a
 *                       direct TCP connect (inside the proxy's session
 *                       for an https:// proxy);
 *   anything else       connect_failed (WSX_E_PROXY with the status, the
 *                       proxy's headers in wsx_socket_headers()), close.
 */
#ifndef WSX_SRC_UV_PROXY_CLIENT_H
#define WSX_SRC_UV_PROXY_CLIENT_H

#include "wsx/http.h"
#include "wsx/proxy.h"
#include "wsx/uv.h"

struct wsx__cfg;
struct wsx_socket;

/* The socket's copy of wsx_socket_options.proxy. */
typedef struct wsx__proxy_cfg {
  char *origin;        /* proxy URL, NULL = from the environment */
  wsx_header *headers; /* NUL-terminated copies */
  size_t num_headers;
  int use_env;
  /* Context for an https:// proxy (uv/tls.h), owned: built from
   * proxy.tls by wsx__proxy_cfg_init, else the default one taken by
   * wsx__proxy_prepare when the proxy turns out to be https://. */
  struct wsx__tls_ctx *tls;
} wsx__proxy_cfg;

/* Copies o->proxy into c->proxy (NULL when there is none) and loads
 * proxy.tls. Returns WSX_OK, WSX_E_INVALID (neither origin nor use_env, or
 * bad proxy.tls options), WSX_E_URL (origin is not an http:// or https://
 * URL), WSX_E_TLS (a CA / certificate in proxy.tls could not be loaded),
 * WSX_E_HEADER_VALUE, WSX_E_NOMEM. */
int wsx__proxy_cfg_init(struct wsx__cfg *c, const wsx_socket_options *o);
void wsx__proxy_cfg_free(struct wsx__cfg *c);

/*
 * Called by wsx_socket_connect once s->d exists, with the parsed origin
 * URL. When a proxy applies (explicit, or from the environment and not
 * excluded by no_proxy), creates s->proxy and points *dial's host and port
 * at the proxy (the host string lives in s->proxy); otherwise leaves *dial
 * alone; an https:// proxy gets the default TLS context unless proxy.tls
 * gave one. Returns WSX_OK, WSX_E_URL (bad proxy URL in the environment),
 * WSX_E_TLS (the default trust store could not be loaded), WSX_E_NOMEM.
 */
int wsx__proxy_prepare(struct wsx_socket *s, const wsx_url *origin,
                       wsx_url *dial);
/* TCP to the proxy is up: send CONNECT and read its answer. */
void wsx__proxy_begin(struct wsx_socket *s);
void wsx__proxy_on_data(struct wsx_socket *s, char *data, size_t len);
/* `err` is UV_EOF or another libuv read error. */
void wsx__proxy_on_eof(struct wsx_socket *s, ssize_t err);

/*
 * A CONNECT proxy for a client that is not a wsx_socket (the EventSource
 * client), resolved once at creation: explicit origin, or the environment
 * (use_env; the rules of wsx_socket_proxy). http:// proxies only.
 */
typedef struct wsx__proxy_target {
  char *url;           /* the proxy URL, NULL = direct */
  char *host;          /* the proxy's host (no brackets) and port, to dial */
  unsigned port;
  wsx_header *headers; /* extra CONNECT headers, NUL-terminated copies */
  size_t num_headers;
} wsx__proxy_target;

/* Fills *t (zeroed by the caller) from `po` (NULL = direct) for `origin`.
 * Returns WSX_OK, WSX_E_STRUCT_SIZE, WSX_E_INVALID (neither origin nor
 * use_env), WSX_E_URL (not an http:// or https:// proxy URL),
 * WSX_E_UNSUPPORTED (an https:// proxy), WSX_E_HEADER_VALUE, WSX_E_NOMEM;
 * *t holds nothing to free after an error. */
int wsx__proxy_target_init(wsx__proxy_target *t, const wsx_allocator *a,
                           const wsx_socket_proxy *po, const wsx_url *origin);
void wsx__proxy_target_free(wsx__proxy_target *t, const wsx_allocator *a);
/* A CONNECT handshake to host:port through t (t->url set), with t's
 * headers; NULL with *err set on failure. */
wsx_proxy *wsx__proxy_target_connect(const wsx__proxy_target *t,
                                     const wsx_allocator *a, const char *host,
                                     unsigned port,
                                     const wsx_proxy_callbacks *cbs, void *ud,
                                     int *err);

/* client.c: the byte stream to the origin is ready (TCP connected, or the
 * tunnel is up): start the WebSocket handshake (TLS first for wss://), then
 * feed `early` bytes that already arrived (copied by the callee if kept). */
void wsx__client_stream_ready(struct wsx_socket *s, char *early,
                              size_t early_len);

#endif
