/*
 * WebSocket over HTTP/2, client side (RFC 8441; wsx_socket_options.http2,
 * uv/h2.h). The same session glue as the server's (h2_conn.c: I/O, flow
 * control, stream ends; h2_stream.c: the stream layer) on an nghttp2
 * client session.
 *
 *   connection  a hidden client socket (wsx_socket_connect with no
 *               callbacks) dials the server with ALPN "h2,http/1.1"; its
 *               s->rare->h2 is the session from the start (tls.c offers h2 and
 *               calls wsx__h2c_tls_ready instead of starting its driver,
 *               which never runs). It sits on the loop's pool
 *               (ctx->h2_pool) under a key of host, port and TLS options
 *               while new streams may join it.
 *   stream      the app's socket keeps its own driver; its TCP handle is
 *               an initialized placeholder that never connects, and its
 *               layer is the HTTP/2 stream layer. Until the server's
 *               SETTINGS allow extended CONNECT it waits in phase DIAL
 *               (stream id 0); then its driver starts: the HTTP/1.1
 *               upgrade request it writes becomes the CONNECT HEADERS
 *               (wsx__h2c_submit), and the response HEADERS come back as
 *               an HTTP/1.1 head (200 -> a 101 with the accept value the
 *               driver expects), so the driver's handshake code decides.
 *   fallback    a waiting stream whose connection will not carry it (ALPN
 *               not h2, no extended CONNECT, GOAWAY, the connection
 *               failed) dials on its own placeholder handle: an ordinary
 *               HTTP/1.1 client from then on (wsx__client_redial).
 *   end         the connection goes (GOAWAY) when its last stream does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/h2.h"

/* ---- the pool ---- */

static void unpool(wsx__h2 *h) {
  wsx__loopctx *ctx;
  wsx__h2 **pp;
  if (!h->pooled)
    return;
  h->pooled = 0;
  if (!(ctx = wsx__loopctx_find(h->loop)))
    return;
  for (pp = &ctx->h2_pool; *pp; pp = &(*pp)->pool_next)
    if (*pp == h) {
      *pp = h->pool_next;
      break;
    }
  h->pool_next = NULL;
}

static uint64_t fnv(uint64_t x, const char *p, size_t n) {
  size_t i;
  for (i = 0; p && i < n; i++)
    x = (x ^ (uint8_t)p[i]) * 1099511628211u;
  return x;
}

/* Host, port and TLS options as one string into buf[len]; 0: the
 * connection is not shared (a client certificate, or too long). */
static int pool_key(char *buf, size_t len, const wsx_url *u,
                    const wsx_tls_client_options *t) {
  wsx_tls_client_options tc;
  const char *pem = NULL;
  size_t pem_len = 0;
  int n;
  if (WSX__STRUCT_IN(wsx_tls_client_options, &tc, t) != WSX_OK)
    return 0;
  if (t && tc.cert)
    return 0;
  if (t && tc.ca_pem) {
    pem = tc.ca_pem;
    pem_len = tc.ca_pem_len ? tc.ca_pem_len : strlen(tc.ca_pem);
  }
  n = snprintf(buf, len, "%.*s\n%d\n%d\n%s\n%s\n%s\n%016llx",
               (int)u->host_len, u->host, u->port,
               t ? tc.insecure_skip_verify != 0 : 0,
               t && tc.server_name ? tc.server_name : "",
               t && tc.ca_file ? tc.ca_file : "",
               t && tc.ca_dir ? tc.ca_dir : "",
               (unsigned long long)fnv(14695981039346656037u, pem, pem_len));
  return n > 0 && (size_t)n < len;
}

static int usable(const wsx__h2 *h) {
  return h->s && !(h->s->flags & WSX__F_HANDLE_CLOSING) && !h->going_away &&
         (!h->settings_seen || h->ready);
}

/* ---- streams ---- */

/* A waiting stream's socket dials on its own (HTTP/1.1). */
static void fallback(wsx__h2_stream *st) {
  wsx_socket *s = st->s;
  wsx__h2 *h = st->h;
  st->s = NULL;
  s->layer = NULL;
  s->layer_state = NULL;
  h->attached--;
  wsx__h2_stream_free(st);
  wsx__client_redial(s);
}

static int waiting(const wsx__h2_stream *st) {
  return st->s && st->id <= 0 && st->s->phase == WSX__P_DIAL &&
         !(st->s->flags & WSX__F_HANDLE_CLOSING);
}

static void fallback_all(wsx__h2 *h) {
  wsx__h2_stream *st, *next;
  for (st = h->streams; st; st = next) {
    next = st->next;
    if (waiting(st))
      fallback(st);
  }
}

/* The session is ready: the socket's driver writes its request. */
static void open_stream(wsx__h2_stream *st) {
  wsx_socket *s = st->s;
  int rc;
  s->phase = WSX__P_CLIENT_HS;
  rc = wsx_driver_start(s->d);
  if (rc < 0 && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    s->flags |= WSX__F_EOF;
    wsx__sock_connect_failed(s, rc, 0, "could not send the handshake");
    wsx__sock_close_handle(s);
  }
}

static int attach(wsx__h2 *h, wsx_socket *s) {
  wsx__h2_stream *st = wsx__malloc(&h->alloc, sizeof(*st));
  if (!st)
    return WSX_E_NOMEM;
  memset(st, 0, sizeof(*st));
  st->h = h;
  st->s = s;
  st->is_ws = 1;
  st->next = h->streams;
  if (h->streams)
    h->streams->prev = st;
  h->streams = st;
  h->attached++;
  s->layer = &wsx__h2_stream_layer;
  s->layer_state = st;
  if (h->ready)
    open_stream(st);
  return WSX_OK;
}

/* The hidden connection socket and its (not yet started) session. */
static wsx__h2 *new_conn(wsx_socket *s, const wsx_socket_options *oc,
                         const char *key, int *rc) {
  wsx_socket_options co = *oc;
  wsx_socket *c;
  wsx__h2 *h;
  wsx__loopctx *ctx = s->cfg->ctx;
  co.struct_size = sizeof(co);
  co.http2 = 0;
  co.ext_size = 0;
  co.proxy = NULL;
  c = wsx_socket_connect(ctx->loop, wsx_driver_url(s->d), &co, NULL, NULL, rc);
  if (!c)
    return NULL;
  if (!wsx__sock_rare_get(c) ||
      !(h = wsx__malloc(&c->cfg->alloc, sizeof(*h)))) {
    c->flags |= WSX__F_EOF;
    wsx__sock_close_handle(c);
    *rc = WSX_E_NOMEM;
    return NULL;
  }
  memset(h, 0, sizeof(*h));
  h->alloc = c->cfg->alloc;
  h->s = c;
  h->loop = ctx->loop;
  h->client = 1;
  if (key && (h->key = wsx__strndup(&h->alloc, key, strlen(key))) != NULL) {
    h->pool_next = ctx->h2_pool;
    ctx->h2_pool = h;
    h->pooled = 1;
  }
  c->rare->h2 = h; /* before its TLS starts: ALPN offers h2 */
  return h;
}

int wsx__h2c_connect(wsx_socket *s, const wsx_socket_options *opts) {
  char key[1024];
  wsx_url u;
  wsx__h2 *h = NULL;
  int shared, rc = WSX_OK;
  if (wsx_url_parse(wsx_driver_url(s->d), &u) != WSX_OK)
    return WSX_E_URL;
  shared = pool_key(key, sizeof(key), &u, opts->tls);
  for (h = shared ? s->cfg->ctx->h2_pool : NULL; h; h = h->pool_next)
    if (h->key && strcmp(h->key, key) == 0 && usable(h))
      break;
  if (!h && !(h = new_conn(s, opts, shared ? key : NULL, &rc)))
    return rc;
  rc = attach(h, s);
  if (rc != WSX_OK)
    wsx__h2_detached(h); /* a new connection without a stream goes */
  return rc;
}

/* ---- the connection ---- */

static void give_up(wsx_socket *c, wsx__h2 *h) {
  unpool(h);
  fallback_all(h);
  c->rare->h2 = NULL;
  h->s = NULL;
  if (h->attached == 0) /* else the last closing stream frees it */
    wsx__h2_session_free(h);
  wsx__sock_teardown(c);
}

void wsx__h2c_tls_ready(wsx_socket *c, int h2) {
  wsx__h2 *h = wsx__sock_h2(c);
  if (!h2) {
    give_up(c, h); /* the server speaks HTTP/1.1 only */
    return;
  }
  c->phase = WSX__P_H2;
  wsx__timer_set(c, 0);
  if (wsx__h2_session_new(h) != WSX_OK) {
    give_up(c, h);
    return;
  }
  wsx__h2_flush(h); /* the preface and our SETTINGS */
}

void wsx__h2c_after_recv(wsx__h2 *h) {
  wsx__h2_stream *st;
  if (h->going_away || !h->settings_seen)
    return;
  if (!h->ready && !h->goaway_recv &&
      nghttp2_session_get_remote_settings(
          h->ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1) {
    h->ready = 1;
    h->in_recv = 1; /* sends wait: no stream is freed under the walk */
    for (st = h->streams; st; st = st->next)
      if (waiting(st))
        open_stream(st);
    h->in_recv = 0;
    return;
  }
  if (h->ready && !h->goaway_recv)
    return;
  /* No extended CONNECT, or the server is going away. */
  unpool(h);
  fallback_all(h);
  if (h->attached == 0 && h->s)
    wsx__h2c_idle(h);
}

void wsx__h2c_idle(wsx__h2 *h) {
  wsx_socket *c = h->s;
  if (h->attached)
    return;
  unpool(h);
  if (c->flags & WSX__F_HANDLE_CLOSING)
    return;
  if (c->phase != WSX__P_H2 && c->phase != WSX__P_TEARDOWN) {
    c->flags |= WSX__F_EOF; /* still dialing: nothing to say */
    wsx__sock_close_handle(c);
  } else if (!h->going_away) {
    wsx__h2_shutdown(c); /* GOAWAY; comes back here */
  } else if (c->phase == WSX__P_H2) {
    wsx__sock_teardown(c);
  }
}

void wsx__h2c_conn_gone(wsx__h2 *h) {
  unpool(h);
  fallback_all(h);
}

/* ---- the request ---- */

static int skipped_request_header(const char *name, size_t n) {
  static const char *const skip[] = {
      "host",      "connection",        "upgrade",       "keep-alive",
      "proxy-connection", "transfer-encoding", "content-length", "te"};
  size_t i;
  for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (wsx__ieq(name, n, skip[i]))
      return 1;
  return 0;
}

static void nv_set(nghttp2_nv *nv, const char *name, size_t nlen,
                   const char *value, size_t vlen) {
  nv->name = (uint8_t *)(uintptr_t)name;
  nv->namelen = nlen;
  nv->value = (uint8_t *)(uintptr_t)value;
  nv->valuelen = vlen;
  nv->flags = NGHTTP2_NV_FLAG_NONE;
}

int wsx__h2c_submit(wsx__h2_stream *st, wsx_socket *s) {
  wsx__h2 *h = st->h;
  wsx_header *hdrs = s->cfg->ctx->hdrs;
  wsx_http_state hs = {0};
  wsx_http_request req;
  nghttp2_data_provider prd;
  nghttp2_nv *nv;
  const char *auth = NULL;
  size_t i, k = 0, alen = 0;
  int32_t id;
  int rc = wsx_http_parse_request((const char *)st->head.data, st->head.len,
                                  &req, hdrs, WSX__MAX_HEADERS,
                                  st->head.len + 1, &hs, NULL);
  if (rc <= 0)
    return WSX_E_INTERNAL;
  if (!(nv = wsx__malloc(&h->alloc, (req.num_headers + 5) * sizeof(*nv))))
    return WSX_E_NOMEM;
  for (i = 0; i < req.num_headers; i++)
    if (wsx__ieq(req.headers[i].name, req.headers[i].name_len, "host")) {
      auth = req.headers[i].value;
      alen = req.headers[i].value_len;
    }
  nv_set(&nv[k++], ":method", 7, "CONNECT", 7);
  nv_set(&nv[k++], ":protocol", 9, "websocket", 9);
  nv_set(&nv[k++], ":scheme", 7, "https", 5);
  nv_set(&nv[k++], ":path", 5, req.target, req.target_len);
  nv_set(&nv[k++], ":authority", 10, auth ? auth : "", alen);
  for (i = 0; i < req.num_headers; i++) {
    char *name = (char *)(uintptr_t)req.headers[i].name;
    size_t j, n = req.headers[i].name_len;
    if (wsx__ieq(name, n, "sec-websocket-key")) {
      /* RFC 8441 5: no key on the wire; the driver still checks the
       * accept value, which the response head will carry. */
      wsx_accept_key(req.headers[i].value, req.headers[i].value_len,
                     st->accept);
      continue;
    }
    if (skipped_request_header(name, n))
      continue;
    for (j = 0; j < n; j++) /* HTTP/2 names */
      if (name[j] >= 'A' && name[j] <= 'Z')
        name[j] = (char)(name[j] + ('a' - 'A'));
    nv_set(&nv[k++], name, n, req.headers[i].value, req.headers[i].value_len);
  }
  prd.source.ptr = st;
  prd.read_callback = wsx__h2_read_data;
  id = nghttp2_submit_request(h->ng, NULL, nv, k, &prd, st);
  wsx__free(&h->alloc, nv);
  wsx__buf_free(&st->head, &h->alloc);
  if (id < 0)
    return WSX_E_IO;
  st->id = id;
  st->submitted = 1;
  return WSX_OK;
}

/* ---- the response ---- */

static size_t max_head(const wsx__h2 *h) {
  size_t m = h->s ? h->s->cfg->dopts.max_head_size : 0;
  return m ? m : WSX_HTTP_DEFAULT_MAX_HEAD;
}

static int skipped_response_header(const uint8_t *name, size_t n) {
  static const char *const skip[] = {"connection", "upgrade",
                                     "sec-websocket-accept", "keep-alive",
                                     "transfer-encoding"};
  size_t i;
  for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (wsx__ieq((const char *)name, n, skip[i]))
      return 1;
  return 0;
}

int wsx__h2c_on_header(nghttp2_session *ng, const nghttp2_frame *f,
                       const uint8_t *name, size_t nlen, const uint8_t *value,
                       size_t vlen, uint8_t flags, void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st;
  const wsx_allocator *a = &h->alloc;
  (void)flags;
  if (f->hd.type != NGHTTP2_HEADERS ||
      !(st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)) ||
      st->ready)
    return 0; /* trailers, a stream already gone */
  if (wsx__ieq((const char *)name, nlen, ":status")) {
    char num[4] = "";
    if (vlen == 3)
      memcpy(num, value, 3);
    st->status = atoi(num);
    st->hdrs.len = 0; /* a final response after an informational one */
    return 0;
  }
  if ((nlen && name[0] == ':') || skipped_response_header(name, nlen))
    return 0;
  if (st->hdrs.len + nlen + vlen + 4 > max_head(h)) {
    st->too_big = 1;
    return 0;
  }
  if (wsx__buf_append(&st->hdrs, a, name, nlen) < 0 ||
      wsx__buf_append(&st->hdrs, a, ": ", 2) < 0 ||
      wsx__buf_append(&st->hdrs, a, value, vlen) < 0 ||
      wsx__buf_append(&st->hdrs, a, "\r\n", 2) < 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

/* The final response as the HTTP/1.1 head the driver knows. */
static void response_head(wsx__h2 *h, wsx__h2_stream *st) {
  wsx__buf b = {0};
  char line[160];
  int n, ok;
  if (st->too_big) {
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_REFUSED_STREAM);
    return;
  }
  if (st->status == 200)
    n = snprintf(line, sizeof(line),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                 st->accept);
  else
    n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", st->status,
                 wsx__status_text(st->status));
  ok = n > 0 && (size_t)n < sizeof(line) &&
       wsx__buf_append(&b, &h->alloc, line, (size_t)n) == 0 &&
       (!st->hdrs.len ||
        wsx__buf_append(&b, &h->alloc, st->hdrs.data, st->hdrs.len) == 0) &&
       wsx__buf_append(&b, &h->alloc, "\r\n", 2) == 0;
  wsx__buf_free(&st->hdrs, &h->alloc);
  if (ok)
    wsx__h2_stream_inject(st, b.data, b.len);
  else
    (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_INTERNAL_ERROR);
  wsx__buf_free(&b, &h->alloc);
}

int wsx__h2c_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
                           void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st;
  int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (f->hd.type == NGHTTP2_SETTINGS) {
    if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
      h->settings_seen = 1; /* decided after mem_recv */
    return 0;
  }
  if (f->hd.type == NGHTTP2_GOAWAY) {
    h->goaway_recv = 1; /* no new streams; those sent finish */
    return 0;
  }
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
    return 0;
  if (!(st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)))
    return 0;
  /* st->ready: the response head went to the socket. */
  if (f->hd.type == NGHTTP2_HEADERS && !st->ready && st->status >= 200) {
    st->ready = 1;
    if (st->s && !(st->s->flags & WSX__F_HANDLE_CLOSING))
      response_head(h, st);
  }
  if (!end)
    return 0;
  st->peer_ended = 1;
  if (st->s && !(st->s->flags & WSX__F_HANDLE_CLOSING) && !st->held.len)
    wsx__sock_on_eof(st->s, UV_EOF);
  return 0;
}
