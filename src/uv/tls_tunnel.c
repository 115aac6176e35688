/*
 * A client connection through an https:// proxy: two TLS engines (uv/tls.h)
 * stacked in the socket's one layer slot. The outer session runs to the
 * proxy and carries the CONNECT exchange; once the tunnel is up, a wss://
 * connection runs the origin's session inside it:
 *
 *   read:  socket -> outer -> tunnel bytes -> [inner ->] wsx__sock_on_plain
 *   write: plaintext -> [inner -> its records ->] outer -> raw write
 *
 * ws:// through an https:// proxy has the outer session only. Direct
 * sockets never meet this layer: plain ws:// has none and direct wss://
 * keeps the single TLS layer of tls.c, so their paths are unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "uv/internal.h"
#include "uv/tls.h"

#define PLAIN_CHUNK 16384u /* one TLS record of plaintext */

typedef struct tunnel {
  wsx__tls_conn *outer; /* TLS to the proxy; never NULL */
  wsx__tls_conn *inner; /* TLS to the origin inside the tunnel, or NULL */
  wsx_allocator alloc;
  uint8_t outer_up; /* the proxy's handshake completed */
  uint8_t inner_up; /* the origin's handshake completed */
  char proxy[272];  /* "host:port" for messages (s->proxy goes away) */
} tunnel;

static int tun_on_read(wsx_socket *s, void *st, char *data, size_t len);
static int tun_write(wsx_socket *s, void *st, const uv_buf_t *b, unsigned n);
static int tun_shutdown(wsx_socket *s, void *st);
static void tun_free(wsx_socket *s, void *st);

static const wsx__layer tunnel_layer = {tun_on_read, tun_write, tun_shutdown,
                                        tun_free, NULL, NULL};

/* ---- wires ---- */

/* The origin's records are the proxy session's plaintext. */
static int inner_wire(void *io, const char *data, size_t len) {
  tunnel *t = io;
  while (len) {
    uv_buf_t u[4];
    unsigned k = 0;
    size_t done = wsx__uv_bufs(u, 4, &k, data, len);
    int rc = wsx__tls_conn_write(t->outer, u, k);
    if (rc < 0)
      return rc;
    data += done;
    len -= done;
  }
  return WSX_OK;
}

/* ---- failures ---- */

/* Teardown rather than an immediate close, so that the alert OpenSSL just
 * wrote leaves before our FIN. */
static void fail_after(wsx_socket *s, const char *msg) {
  if (s->phase == WSX__P_PROXY || s->phase == WSX__P_CLIENT_HS) {
    wsx__sock_connect_failed(s, WSX_E_TLS, 0, msg);
  } else if (s->phase == WSX__P_WS) {
    wsx__sock_error(s, WSX_E_TLS, 0, msg);
    if (s->d)
      wsx_driver_abort(s->d, 0, NULL); /* 1006, then teardown */
  }
  wsx__sock_teardown(s);
}

/* The proxy's session failed: say so, so that a bad proxy certificate is
 * not mistaken for the origin's. */
static void fail_outer(wsx_socket *s, tunnel *t) {
  char why[300], msg[600];
  wsx__tls_conn_error(t->outer, !t->outer_up, why, sizeof(why));
  snprintf(msg, sizeof(msg), "proxy %s: %s", t->proxy, why);
  fail_after(s, msg);
}

static void fail_inner(wsx_socket *s, tunnel *t) {
  char msg[300];
  /* A client's handshake lasts until the 101. */
  wsx__tls_conn_error(t->inner, !t->inner_up || s->phase == WSX__P_CLIENT_HS,
                      msg, sizeof(msg));
  fail_after(s, msg);
}

/* ---- reading ---- */

static void origin_ready(wsx_socket *s) {
  int rc = wsx_driver_start(s->d);
  if (rc < 0 && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    wsx__sock_connect_failed(s, rc, 0, "could not send the handshake");
    wsx__sock_teardown(s);
  }
}

/* Bytes that came out of the tunnel: the origin's records for wss://,
 * else plaintext for the current phase (the proxy's answer, then the
 * WebSocket). */
static void from_tunnel(wsx_socket *s, tunnel *t, char *data, size_t len) {
  char plain[PLAIN_CHUNK];
  wsx__tls_conn *in = t->inner;
  if (!in) {
    wsx__sock_on_plain(s, data, len);
    return;
  }
  wsx__tls_conn_input(in, data, len);
  while (!(s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t got;
    int r = wsx__tls_conn_step(in, plain, sizeof(plain), &got);
    if (r == WSX__TLS_WANT)
      break;
    if (r == WSX__TLS_DATA) {
      wsx__sock_on_plain(s, plain, got);
    } else if (r == WSX__TLS_READY) {
      t->inner_up = 1;
      origin_ready(s);
    } else if (r == WSX__TLS_EOF) {
      wsx__sock_on_eof(s, UV_EOF);
    } else {
      fail_inner(s, t);
    }
  }
  wsx__tls_conn_input(in, NULL, 0);
}

static int tun_on_read(wsx_socket *s, void *st, char *data, size_t len) {
  tunnel *t = st;
  char plain[PLAIN_CHUNK];
  wsx__tls_conn_input(t->outer, data, len);
  while (!(s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t got;
    int r = wsx__tls_conn_step(t->outer, plain, sizeof(plain), &got);
    if (r == WSX__TLS_WANT)
      break;
    if (r == WSX__TLS_DATA)
      from_tunnel(s, t, plain, got);
    else if (r == WSX__TLS_READY)
      t->outer_up = 1; /* the CONNECT held by the engine has just left */
    else if (r == WSX__TLS_EOF)
      wsx__sock_on_eof(s, UV_EOF); /* the proxy's close_notify: its FIN */
    else
      fail_outer(s, t);
  }
  wsx__tls_conn_input(t->outer, NULL, 0);
  return WSX_OK;
}

/* ---- writing and closing ---- */

static int tun_write(wsx_socket *s, void *st, const uv_buf_t *b, unsigned n) {
  tunnel *t = st;
  (void)s;
  return wsx__tls_conn_write(t->inner ? t->inner : t->outer, b, n);
}

static int tun_shutdown(wsx_socket *s, void *st) {
  tunnel *t = st;
  wsx__loopctx *c = s->cfg->ctx;
  /* As in tls.c: the cork is empty here, and the close_notify records must
   * be written before the FIN that follows, not corked behind it. */
  if (c->cork_owner == s)
    c->cork_owner = NULL;
  if (t->inner)
    wsx__tls_conn_shutdown(t->inner); /* inside the proxy's session */
  wsx__tls_conn_shutdown(t->outer);
  return WSX_OK;
}

static void tun_free(wsx_socket *s, void *st) {
  tunnel *t = st;
  wsx_allocator a = t->alloc;
  (void)s;
  wsx__tls_conn_free(t->inner);
  wsx__tls_conn_free(t->outer);
  wsx__free(&a, t);
}

/* ---- setup ---- */

int wsx__tls_tunnel_start(wsx_socket *s, const wsx__tls_ctx *tc,
                          const char *host, uint16_t port) {
  tunnel *t;
  int rc;
  if (s->layer)
    return WSX_E_STATE;
  if (!(t = wsx__malloc(&s->cfg->alloc, sizeof(*t))))
    return WSX_E_NOMEM;
  memset(t, 0, sizeof(*t));
  t->alloc = s->cfg->alloc;
  if (strchr(host, ':'))
    snprintf(t->proxy, sizeof(t->proxy), "[%s]:%u", host, (unsigned)port);
  else
    snprintf(t->proxy, sizeof(t->proxy), "%s:%u", host, (unsigned)port);
  /* The layer goes in first: the ClientHello leaves through the socket. */
  s->layer = &tunnel_layer;
  s->layer_state = t;
  rc = wsx__tls_conn_client_new(tc, &s->cfg->alloc, host, wsx__tls_sock_wire, s,
                                &t->outer);
  if (rc != WSX_OK) {
    s->layer = NULL;
    s->layer_state = NULL;
    wsx__free(&t->alloc, t);
  }
  return rc;
}

int wsx__tls_tunnel_active(const wsx_socket *s) {
  return s->layer == &tunnel_layer;
}

int wsx__tls_tunnel_origin_start(wsx_socket *s, const wsx__tls_ctx *tc,
                                 const char *host) {
  tunnel *t = s->layer_state;
  if (!wsx__tls_tunnel_active(s) || t->inner)
    return WSX_E_STATE;
  return wsx__tls_conn_client_new(tc, &s->cfg->alloc, host, inner_wire, t,
                                  &t->inner);
}

void wsx__tls_tunnel_input(wsx_socket *s, char *data, size_t len) {
  if (wsx__tls_tunnel_active(s) && len)
    from_tunnel(s, s->layer_state, data, len);
}

wsx__tls_conn *wsx__tls_tunnel_origin(const wsx_socket *s) {
  const tunnel *t = wsx__tls_tunnel_active(s) ? s->layer_state : NULL;
  return t && t->inner_up ? t->inner : NULL;
}
