/* Client connections (through the dialer of uv/dial.h, connect
 * failures) and adoption. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/dial.h"
#include "uv/internal.h"
#include "uv/tls.h"

static void dial_free(wsx_socket *s) {
  wsx__dial *dl = s->dial;
  wsx__dial_release(dl);
  wsx__free(&s->cfg->alloc, dl);
  s->dial = NULL;
}

int wsx__dial_on_handle_closed(wsx_socket *s) {
  if (!s->dial)
    return 0;
  if (s->dial->gai_pending) {
    /* The resolver thread owns the request until its callback, which
     * finishes the socket (on_gai). */
    s->flags |= WSX__F_WANT_FREE;
    wsx__dial_cancel(s->dial);
    return 1;
  }
  dial_free(s);
  return 0;
}

void wsx__sock_connect_failed(wsx_socket *s, int code, int uv_code,
                              const char *msg) {
  wsx_connect_failure f;
  if (s->flags & WSX__F_FAILED_REPORTED)
    return;
  s->flags |= WSX__F_FAILED_REPORTED;
  wsx__sock_set_close(s, WSX_CLOSE_ABNORMAL, NULL, 0, 0);
  if (!s->cb->connect_failed)
    return;
  f.code = code;
  f.uv_code = uv_code;
  f.status_code = wsx_socket_status_code(s);
  f.message = msg;
  s->cb->connect_failed(s, &f, s->ud);
}

static void fail(wsx_socket *s, int code, int uv_code, const char *msg) {
  s->flags |= WSX__F_EOF;
  wsx__sock_connect_failed(s, code, uv_code, msg);
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

static void try_next(wsx_socket *s);

static void on_connect(wsx__dial *dl, int status) {
  wsx_socket *s = dl->owner;
  if (status == UV_ECANCELED || (s->flags & WSX__F_HANDLE_CLOSING))
    return;
  if (status < 0) {
    try_next(s);
    return;
  }
  dial_free(s);
  if (!s->cfg->nagle)
    uv_tcp_nodelay(&s->act->h.tcp, 1);
  if (s->proxy)
    wsx__proxy_begin(s); /* the proxy calls wsx__client_stream_ready */
  else
    wsx__client_stream_ready(s, NULL, 0);
}

void wsx__client_stream_ready(wsx_socket *s, char *early, size_t early_len) {
  int rc;
  s->phase = WSX__P_CLIENT_HS;
  wsx__sock_start_read(s);
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  /* wss: the driver starts once the TLS handshake completed. */
  rc = s->cfg->tls ? wsx__tls_client_start(s) : wsx_driver_start(s->d);
  if (rc < 0) {
    if (!(s->flags & WSX__F_HANDLE_CLOSING))
      fail(s, rc, 0, "could not send the handshake");
    return;
  }
  if (!early_len || (s->flags & WSX__F_HANDLE_CLOSING))
    return;
  /* Tunnel bytes that came with the proxy's answer: below the origin's
   * layer (inside the proxy's TLS session for an https:// proxy). */
  if (wsx__tls_tunnel_active(s)) {
    wsx__tls_tunnel_input(s, early, early_len);
    return;
  }
  if (!s->layer) {
    wsx__sock_on_plain(s, early, early_len);
    return;
  }
  rc = s->layer->on_read(s, s->layer_state, early, early_len);
  if (rc < 0 && !(s->flags & WSX__F_HANDLE_CLOSING))
    fail(s, rc, 0, wsx_uv_strerror(rc));
}

static void on_retry_closed(uv_handle_t *h) {
  wsx_socket *s = h->data;
  if (s->flags & WSX__F_HANDLE_CLOSING) {
    wsx__sock_handle_closed(h);
    return;
  }
  uv_tcp_init(s->cfg->ctx->loop, &s->act->h.tcp);
  s->act->h.tcp.data = s;
  try_next(s);
}

static void try_next(wsx_socket *s) {
  wsx__dial *dl = s->dial;
  char msg[320];
  if (uv_is_closing((uv_handle_t *)&s->act->h.tcp))
    return;
  if (wsx__dial_has_next(dl) && dl->last_err) {
    /* A failed socket cannot connect again (nor change family): start
     * over with a fresh handle. */
    dl->last_err = 0;
    uv_close((uv_handle_t *)&s->act->h.tcp, on_retry_closed);
    return;
  }
  if (wsx__dial_has_next(dl)) {
    if (wsx__dial_next(dl, &s->act->h.tcp) == 0)
      return;
    if (wsx__dial_has_next(dl)) {
      try_next(s);
      return;
    }
  }
  snprintf(msg, sizeof(msg), "connect to %s%s failed: %s",
           s->proxy ? "proxy " : "", dl->host, uv_strerror(dl->last_err));
  fail(s, WSX_E_IO, dl->last_err, msg);
}

static void on_gai(wsx__dial *dl, int status) {
  wsx_socket *s = dl->owner;
  char msg[320];
  if (s->flags & WSX__F_WANT_FREE) {
    dial_free(s);
    wsx__sock_finalize(s);
    return;
  }
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  if (status < 0 || !dl->res) {
    snprintf(msg, sizeof(msg), "DNS lookup of %s%s failed: %s",
             s->proxy ? "proxy " : "", dl->host, uv_strerror(status));
    fail(s, WSX_E_DNS, status, msg);
    return;
  }
  try_next(s);
}

static int start_dial(wsx_socket *s, const wsx_url *u) {
  wsx__dial *dl;
  int rc;
  if (u->host_len >= sizeof(dl->host))
    return WSX_E_URL;
  dl = wsx__malloc(&s->cfg->alloc, sizeof(*dl));
  if (!dl)
    return WSX_E_NOMEM;
  memset(dl, 0, sizeof(*dl));
  s->dial = dl;
  rc = wsx__dial_start(dl, s->cfg->ctx->loop, u->host, u->host_len,
                       (unsigned)u->port, s, on_gai, on_connect);
  if (rc == 1) /* a literal address: connect now */
    try_next(s);
  return rc < 0 ? WSX_E_DNS : WSX_OK;
}

void wsx__client_redial(wsx_socket *s) {
  wsx_url u;
  int rc = WSX_E_URL;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  if (wsx_url_parse(wsx_driver_url(s->d), &u) == WSX_OK)
    rc = start_dial(s, &u);
  if (rc < 0)
    fail(s, rc, 0, "could not start dialing");
}

/* ---- phases: dialing and the client handshake ---- */

void wsx__client_on_timeout(wsx_socket *s) {
  s->flags |= WSX__F_EOF;
  wsx__sock_connect_failed(s, WSX_E_TIMEOUT, 0,
                           "connect_timeout expired before the handshake "
                           "completed");
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

static void client_hs_on_eof(wsx_socket *s, ssize_t err) {
  s->flags |= WSX__F_EOF;
  wsx__sock_connect_failed(s, err == UV_EOF ? WSX_E_CLOSED : WSX_E_IO,
                           err == UV_EOF ? 0 : (int)err,
                           err == UV_EOF
                               ? "the server closed the connection during "
                                 "the handshake"
                               : uv_strerror((int)err));
  wsx__sock_close_handle(s);
}

const wsx__phase_ops wsx__dial_phase = {NULL, NULL, wsx__client_on_timeout,
                                        NULL, NULL};
const wsx__phase_ops wsx__client_hs_phase = {
    wsx__ws_on_data, client_hs_on_eof, wsx__client_on_timeout, NULL, NULL};

static wsx__cfg *new_cfg(const wsx_socket_options *opts, int *rc) {
  wsx_allocator a;
  wsx__cfg *cfg;
  wsx_socket_options oc;
  wsx_driver_options dc;
  if ((*rc = WSX__STRUCT_IN(wsx_socket_options, &oc, opts)) != WSX_OK ||
      (*rc = WSX__STRUCT_IN(wsx_driver_options, &dc, oc.driver)) != WSX_OK)
    return NULL;
  wsx__alloc_init(&a, dc.allocator);
  cfg = wsx__malloc(&a, sizeof(*cfg));
  if (!cfg) {
    *rc = WSX_E_NOMEM;
    return NULL;
  }
  if ((*rc = wsx__cfg_init(cfg, opts)) != WSX_OK) {
    wsx__cfg_free(cfg);
    wsx__free(&a, cfg);
    return NULL;
  }
  return cfg;
}

static void discard_cfg(wsx__cfg *cfg) {
  wsx_allocator a = cfg->alloc;
  wsx__cfg_free(cfg);
  wsx__free(&a, cfg);
}

/* Frees a socket whose handle was never initialized. */
static void discard_sock(wsx_socket *s) {
  wsx__loopctx *ctx = s->cfg->ctx;
  wsx__cfg *cfg = (wsx__cfg *)s->cfg;
  wsx_allocator a = cfg->alloc;
  if (s->d)
    wsx_driver_free(s->d);
  wsx_proxy_free(s->proxy);
  wsx__free(&a, s);
  discard_cfg(cfg);
  wsx__loopctx_unref(ctx);
}

static wsx_socket *new_sock(uv_loop_t *loop, const wsx_socket_options *opts,
                            const wsx_socket_callbacks *cbs, void *ud,
                            int *rc) {
  wsx__cfg *cfg;
  wsx__loopctx *ctx;
  wsx_socket *s;
  if ((*rc = WSX__STRUCT_OK(wsx_socket_callbacks, cbs)) != WSX_OK)
    return NULL;
  if (!(cfg = new_cfg(opts, rc)))
    return NULL;
  if (!(ctx = wsx__loopctx_get(loop, &cfg->alloc))) {
    discard_cfg(cfg);
    *rc = WSX_E_NOMEM;
    return NULL;
  }
  cfg->ctx = ctx;
  if (!(s = wsx__sock_alloc(cfg, 1))) {
    wsx__loopctx_unref(ctx);
    discard_cfg(cfg);
    *rc = WSX_E_NOMEM;
    return NULL;
  }
  if (!(s->cb = wsx__cb_intern(ctx, cbs))) {
    s->cb = &wsx__no_cbs;
    discard_sock(s);
    *rc = WSX_E_NOMEM;
    return NULL;
  }
  s->ud = ud;
  return s;
}

wsx_socket *wsx_socket_connect(uv_loop_t *loop, const char *url,
                               const wsx_socket_options *opts,
                               const wsx_socket_callbacks *cbs, void *user_data,
                               int *err) {
  wsx_socket *s;
  wsx_url u, dial;
  size_t i;
  int rc = WSX_OK;
  if (!loop || !url)
    rc = WSX_E_INVALID;
  else if (wsx_url_parse(url, &u) != WSX_OK)
    rc = WSX_E_URL;
  if (rc != WSX_OK || !(s = new_sock(loop, opts, cbs, user_data, &rc))) {
    if (err)
      *err = rc;
    return NULL;
  }
  s->flags |= WSX__F_CLIENT;

  wsx_socket_options oc; /* checked by new_sock: members past an older
                            struct_size read as zero */
  (void)WSX__STRUCT_IN(wsx_socket_options, &oc, opts);
  if (u.secure &&
      (rc = wsx__tls_client_ctx_new(&s->cfg->alloc, oc.tls,
                                    &((wsx__cfg *)s->cfg)->tls)) != WSX_OK) {
    discard_sock(s);
    if (err)
      *err = rc;
    return NULL;
  }
  s->d = wsx_driver_new_client(url, &s->cfg->dopts, &wsx__drv_cbs, s, &rc);
  if (!s->d && rc == WSX_OK)
    rc = WSX_E_NOMEM;
  if (s->d)
    wsx__sock_budget_attach(s);
  for (i = 0; s->d && rc == WSX_OK && i < s->cfg->num_headers; i++)
    rc = wsx_driver_set_header(s->d, s->cfg->headers[i].name,
                               s->cfg->headers[i].value);
  for (i = 0; s->d && rc == WSX_OK && s->cfg->exts && s->cfg->exts[i]; i++)
    rc = wsx_driver_add_extension(s->d, s->cfg->exts[i]);
  dial = u;
  if (rc == WSX_OK)
    rc = wsx__proxy_prepare(s, &u, &dial);
  if (rc == WSX_OK)
    rc = uv_tcp_init(loop, &s->act->h.tcp);
  if (rc != WSX_OK) {
    discard_sock(s);
    if (err)
      *err = rc;
    return NULL;
  }
  s->act->h.tcp.data = s;
  s->phase = WSX__P_DIAL;
  wsx__timer_set(s, uv_now(loop) + s->cfg->connect_timeout);
#ifdef WSX_HAVE_HTTP2
  if (oc.http2 && u.secure && !s->proxy)
    rc = wsx__h2c_connect(s, &oc); /* a stream of a shared connection */
  else
#endif
    rc = start_dial(s, &dial);
  if (rc < 0) {
    /* The handle exists: it must go through uv_close, silently. */
    s->cb = &wsx__no_cbs;
    if (s->dial && !s->dial->gai_pending)
      dial_free(s);
    wsx__sock_close_handle(s);
    if (err)
      *err = rc;
    return NULL;
  }
  if (err)
    *err = WSX_OK;
  return s;
}

wsx_socket *wsx_socket_adopt(uv_loop_t *loop, uv_stream_t *stream,
                             const wsx_http_request *req, const uint8_t *body,
                             size_t body_len, const wsx_socket_options *opts,
                             const wsx_socket_callbacks *cbs, void *user_data,
                             int *err) {
  const wsx_socket_callbacks *saved;
  wsx_socket *s;
  uint8_t *copy = NULL;
  const char *v;
  size_t vlen;
  int rc = WSX_OK, version;
  if (!loop || !stream || !req || (body_len && !body)) {
    if (err)
      *err = WSX_E_INVALID;
    return NULL;
  }
  if (!(s = new_sock(loop, opts, cbs, user_data, &rc))) {
    if (err)
      *err = rc;
    return NULL;
  }
  if (body_len && !(copy = wsx__malloc(&s->cfg->alloc, body_len))) {
    discard_sock(s);
    if (err)
      *err = WSX_E_NOMEM;
    return NULL;
  }
  if (copy)
    memcpy(copy, body, body_len);
  s->stream = stream;
  s->flags |= WSX__F_ADOPTED;
  stream->data = s;
  (void)uv_read_stop(stream);
  if (stream->type == UV_TCP && !s->cfg->nagle)
    uv_tcp_nodelay((uv_tcp_t *)stream, 1);
  v = wsx_header_find(req->headers, req->num_headers, "sec-websocket-version",
                      &vlen);
  version = v ? atoi(v) : 0;
  saved = s->cb;
  s->phase = WSX__P_WS;
  wsx__sock_start_read(s);
  rc = wsx__sock_start_server(s, req, NULL, 0, NULL, version, NULL, 0, copy,
                              body_len);
  wsx__free(&s->cfg->alloc, copy);
  if (rc < 0) {
    const char *msg = NULL;
    /* The socket exists for the app (it owns the stream): report. */
    s->cb = saved;
    if (s->d)
      (void)wsx_driver_last_error(s->d, &msg);
    wsx__sock_error(s, rc, 0, msg && *msg ? msg : wsx_strerror(rc));
    if (!s->d)
      wsx__sock_close_handle(s);
  }
  if (err)
    *err = WSX_OK;
  return s;
}
