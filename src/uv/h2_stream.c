/*
 * One HTTP/2 stream as a wsx_socket (uv/h2.h): the socket is made when
 * the request is complete and fed an HTTP/1.1 rendering of it; its stream
 * layer is a transport that turns the socket's HTTP/1.1 response head
 * into HEADERS and the rest into DATA under the stream's window.
 */
#include <stdio.h>
#include <string.h>

#include "uv/h2.h"

#define CHUNK 16384u

/* ---- input ---- */

/* To the socket's phase in copies (the driver unmasks in place). */
static void deliver(wsx__h2_stream *st, const uint8_t *data, size_t len) {
  char buf[CHUNK];
  while (len && st->s && !(st->s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t k = len < sizeof(buf) ? len : sizeof(buf);
    memcpy(buf, data, k);
    data += k;
    len -= k;
    wsx__sock_on_plain(st->s, buf, k);
  }
}

static void consume(wsx__h2_stream *st, size_t n) {
  if (st->h->ng && n && !st->closed)
    (void)nghttp2_session_consume(st->h->ng, st->id, n);
}

void wsx__h2_stream_data(wsx__h2_stream *st, const uint8_t *data, size_t len) {
  if (st->s && !st->paused && !st->held.len) {
    deliver(st, data, len);
    consume(st, len);
    return;
  }
  if (wsx__buf_append(&st->held, &st->h->alloc, data, len) < 0) {
    consume(st, len);
    (void)nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_INTERNAL_ERROR);
    return;
  }
  /* Before open (a request body, early frames) the window opens at once;
   * a paused socket's window stays shut until resume. */
  if (!st->s)
    consume(st, len);
}

void wsx__h2_stream_inject(wsx__h2_stream *st, const uint8_t *data,
                           size_t len) {
  if (st->s && !st->paused && !st->held.len)
    deliver(st, data, len);
  else if (wsx__buf_append(&st->held, &st->h->alloc, data, len) < 0)
    (void)nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_INTERNAL_ERROR);
}

/* Held bytes (and a held END_STREAM) go to the socket. `owed`: they still
 * count against the window. */
static void deliver_held(wsx__h2_stream *st, int owed) {
  wsx__buf b = st->held;
  memset(&st->held, 0, sizeof(st->held));
  if (b.len) {
    deliver(st, b.data, b.len);
    if (owed)
      consume(st, b.len);
  }
  wsx__buf_free(&b, &st->h->alloc);
  if ((st->peer_ended || st->closed) && st->s &&
      !(st->s->flags & WSX__F_HANDLE_CLOSING))
    wsx__sock_on_eof(st->s, UV_EOF);
}

/* The request as an HTTP/1.1 head: an extended CONNECT becomes the GET
 * upgrade the front and the driver know (the key is a placeholder: the
 * 101's accept value never leaves, RFC 8441 5). */
static int build_head(wsx__h2_stream *st, wsx__buf *b) {
  const wsx_allocator *a = &st->h->alloc;
  char len[48];
  int ok;
  ok = wsx__buf_append(b, a, st->is_ws ? "GET" : st->method,
                       st->is_ws ? 3 : strlen(st->method)) == 0 &&
       wsx__buf_append(b, a, " ", 1) == 0 &&
       wsx__buf_append(b, a, st->path, strlen(st->path)) == 0 &&
       wsx__buf_append(b, a, " HTTP/1.1\r\n", 11) == 0;
  if (ok && st->authority)
    ok = wsx__buf_append(b, a, "Host: ", 6) == 0 &&
         wsx__buf_append(b, a, st->authority, strlen(st->authority)) == 0 &&
         wsx__buf_append(b, a, "\r\n", 2) == 0;
  if (ok && st->is_ws) {
    static const char up[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n";
    ok = wsx__buf_append(b, a, up, sizeof(up) - 1) == 0;
  }
  if (ok && st->hdrs.len)
    ok = wsx__buf_append(b, a, st->hdrs.data, st->hdrs.len) == 0;
  if (ok && st->cookie.len) /* one Cookie header, as HTTP/1.1 has it */
    ok = wsx__buf_append(b, a, "Cookie: ", 8) == 0 &&
         wsx__buf_append(b, a, st->cookie.data, st->cookie.len) == 0 &&
         wsx__buf_append(b, a, "\r\n", 2) == 0;
  if (ok && !st->is_ws && st->held.len) {
    int k = snprintf(len, sizeof(len), "Content-Length: %zu\r\n", st->held.len);
    ok = wsx__buf_append(b, a, len, (size_t)k) == 0;
  }
  ok = ok && wsx__buf_append(b, a, "\r\n", 2) == 0;
  return ok ? WSX_OK : WSX_E_NOMEM;
}

static void peer_of(wsx_socket *conn, wsx_request *r) {
  struct sockaddr_storage ss;
  int sl = sizeof(ss);
  if (conn->stream->type != UV_TCP ||
      uv_tcp_getpeername((uv_tcp_t *)conn->stream, (struct sockaddr *)&ss,
                         &sl) < 0)
    return;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, r->addr, sizeof(r->addr));
    r->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, r->addr, sizeof(r->addr));
    r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
}

void wsx__h2_stream_open(wsx__h2_stream *st) {
  wsx__h2 *h = st->h;
  wsx_server *srv = wsx__sock_srv(h->s);
  wsx__buf head = {0};
  wsx__loopctx *ctx;
  wsx_socket *s = NULL;
  if (!srv || build_head(st, &head) != WSX_OK) {
    wsx__buf_free(&head, &h->alloc);
    wsx__h2_respond(h, st->id, 503);
    return;
  }
  if ((ctx = wsx__loopctx_get(h->loop, &srv->cfg.alloc)) != NULL &&
      !(s = wsx__sock_alloc(&srv->cfg, 0)))
    wsx__loopctx_unref(ctx);
  if (!s) {
    wsx__buf_free(&head, &h->alloc);
    wsx__h2_respond(h, st->id, 503);
    return;
  }
  /* The handle is a placeholder (never opened): closing it gives the
   * socket its asynchronous close callback, like any other. */
  uv_pipe_init(h->loop, &s->act->h.pipe, 0);
  s->stream->data = s;
  s->flags |= WSX__F_SERVER;
  s->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = s;
  srv->conns = s;
  srv->num_conns++;
  s->layer = &wsx__h2_stream_layer;
  s->layer_state = st;
  st->s = s;
  h->attached++;
  wsx__timer_set(h->s, 0); /* busy: its streams have their own deadlines */
  s->phase = WSX__P_HEAD;
  if (!(s->req = wsx__request_new(s))) {
    wsx__buf_free(&head, &h->alloc);
    wsx__sock_close_handle(s);
    return;
  }
  peer_of(h->s, s->req);
  wsx__timer_set(s, uv_now(h->loop) + srv->hs_timeout);
  wsx__sock_on_plain(s, (char *)head.data, head.len);
  wsx__buf_free(&head, &h->alloc);
  if (st->s && !(s->flags & WSX__F_HANDLE_CLOSING) && !st->paused)
    deliver_held(st, 0);
}

/* ---- output ---- */

static int skipped_response_header(const char *name, size_t n) {
  static const char *const skip[] = {
      "connection",        "keep-alive", "proxy-connection",
      "transfer-encoding", "upgrade",    "sec-websocket-accept"};
  size_t i;
  for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (wsx__ieq(name, n, skip[i]))
      return 1;
  return 0;
}

/* The socket wrote a complete HTTP/1.1 response head: HEADERS. */
static int submit_head(wsx__h2_stream *st, wsx_socket *s) {
  wsx__h2 *h = st->h;
  wsx_header *hdrs = s->cfg->ctx->hdrs;
  wsx_http_state hs = {0};
  wsx_http_response res;
  nghttp2_data_provider prd;
  nghttp2_nv *nv;
  char status[8];
  size_t i, k = 0;
  int rc = wsx_http_parse_response((const char *)st->head.data, st->head.len,
                                   &res, hdrs, WSX__MAX_HEADERS,
                                   st->head.len + 1, &hs, NULL);
  if (rc <= 0)
    return WSX_E_INTERNAL;
  nv = wsx__malloc(&h->alloc, (res.num_headers + 1) * sizeof(*nv));
  if (!nv)
    return WSX_E_NOMEM;
  /* RFC 8441 5: the 101 of HTTP/1.1 is a 200 here. */
  snprintf(status, sizeof(status), "%d",
           res.status == 101 && st->is_ws ? 200 : res.status);
  nv[k].name = (uint8_t *)":status";
  nv[k].namelen = 7;
  nv[k].value = (uint8_t *)status;
  nv[k].valuelen = strlen(status);
  nv[k++].flags = NGHTTP2_NV_FLAG_NONE;
  for (i = 0; i < res.num_headers; i++) {
    char *name = (char *)(uintptr_t)res.headers[i].name;
    size_t j;
    if (skipped_response_header(name, res.headers[i].name_len))
      continue;
    for (j = 0; j < res.headers[i].name_len; j++) /* HTTP/2 names */
      if (name[j] >= 'A' && name[j] <= 'Z')
        name[j] = (char)(name[j] + ('a' - 'A'));
    nv[k].name = (uint8_t *)name;
    nv[k].namelen = res.headers[i].name_len;
    nv[k].value = (uint8_t *)(uintptr_t)res.headers[i].value;
    nv[k].valuelen = res.headers[i].value_len;
    nv[k++].flags = NGHTTP2_NV_FLAG_NONE;
  }
  prd.source.ptr = st;
  prd.read_callback = wsx__h2_read_data;
  rc = nghttp2_submit_response(h->ng, st->id, nv, k, &prd);
  wsx__free(&h->alloc, nv);
  wsx__buf_free(&st->head, &h->alloc);
  st->submitted = 1;
  return rc == 0 ? WSX_OK : WSX_E_IO;
}

/* Head bytes until its blank line, then body bytes. */
static int take(wsx__h2_stream *st, wsx_socket *s, const char *p, size_t len) {
  const wsx_allocator *a = &st->h->alloc;
  size_t from, i;
  int rc;
  if (st->submitted)
    return wsx__buf_append(&st->out, a, p, len);
  from = st->head.len > 3 ? st->head.len - 3 : 0;
  if (wsx__buf_append(&st->head, a, p, len) < 0)
    return WSX_E_NOMEM;
  for (i = from; i + 4 <= st->head.len; i++)
    if (memcmp(st->head.data + i, "\r\n\r\n", 4) == 0)
      break;
  if (i + 4 > st->head.len)
    return WSX_OK;
  /* The body's first bytes came in the same write. */
  if (i + 4 < st->head.len &&
      wsx__buf_append(&st->out, a, st->head.data + i + 4,
                      st->head.len - i - 4) < 0)
    return WSX_E_NOMEM;
  st->head.len = i + 4;
  rc = st->h->client ? wsx__h2c_submit(st, s) : submit_head(st, s);
  return rc;
}

static void kick(wsx__h2_stream *st) {
  if (st->submitted && st->deferred && st->h->ng && !st->closed) {
    st->deferred = 0;
    (void)nghttp2_session_resume_data(st->h->ng, st->id);
  }
  wsx__h2_flush(st->h);
}

static int l_write(wsx_socket *s, void *state, const uv_buf_t *b, unsigned n) {
  wsx__h2_stream *st = state;
  unsigned i;
  if (!st->h->ng || st->closed || st->eof)
    return WSX_E_CLOSED;
  for (i = 0; i < n; i++) {
    int rc = take(st, s, b[i].base, b[i].len);
    if (rc < 0)
      return rc;
  }
  kick(st);
  return WSX_OK;
}

ssize_t wsx__h2_read_data(nghttp2_session *ng, int32_t id, uint8_t *buf,
                          size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud) {
  wsx__h2_stream *st = src->ptr;
  size_t avail = st->out.len - st->out_off, n;
  (void)ng, (void)id, (void)ud;
  if (avail == 0 && !st->eof) {
    st->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  n = avail < length ? avail : length;
  if (n)
    memcpy(buf, st->out.data + st->out_off, n);
  st->out_off += n;
  if (st->out_off == st->out.len) {
    st->out.len = 0;
    st->out_off = 0;
    if (st->eof)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (st->out_off > st->out.len / 2) {
    memmove(st->out.data, st->out.data + st->out_off,
            st->out.len - st->out_off);
    st->out.len -= st->out_off;
    st->out_off = 0;
  }
  st->progress = 1;
  return (ssize_t)n;
}

/* ---- the layer ---- */

static int l_on_read(wsx_socket *s, void *state, char *data, size_t len) {
  (void)s, (void)state, (void)data, (void)len;
  return WSX_OK; /* a transport: the session delivers */
}

static int l_shutdown(wsx_socket *s, void *state) {
  wsx__h2_stream *st = state;
  (void)s;
  if (st->eof || !st->h->ng || st->closed)
    return WSX_OK;
  st->eof = 1;
  if (!st->submitted && st->id > 0) /* nothing answered: give up on it */
    (void)nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_INTERNAL_ERROR);
  kick(st);
  return WSX_OK;
}

static void l_free(wsx_socket *s, void *state) {
  wsx__h2_stream *st = state;
  wsx__h2 *h = st->h;
  (void)s;
  st->s = NULL;
  h->attached--;
  if (!h->ng || st->closed || st->id <= 0) { /* <= 0: never sent */
    wsx__h2_stream_free(st);
  } else {
    /* Closed without ending the stream: the peer must not wait. */
    if (!st->eof || !st->submitted)
      (void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_CANCEL);
    kick(st); /* may free st (on_stream_close) */
  }
  wsx__h2_detached(h);
}

static size_t l_buffered(const wsx_socket *s, void *state) {
  const wsx__h2_stream *st = state;
  (void)s;
  return st->head.len + st->out.len - st->out_off;
}

static int l_read_ctl(wsx_socket *s, void *state, int on) {
  wsx__h2_stream *st = state;
  (void)s;
  if (!on) {
    st->paused = 1;
    return WSX_OK;
  }
  if (!st->paused)
    return WSX_OK;
  st->paused = 0;
  deliver_held(st, 1);
  wsx__h2_flush(st->h); /* the WINDOW_UPDATEs */
  return WSX_OK;
}

const wsx_socket *wsx__h2_conn_of(const wsx_socket *s) {
  const wsx__h2_stream *st = s->layer_state;
  return st->h->s;
}

const wsx__layer wsx__h2_stream_layer = {l_on_read, l_write,    l_shutdown,
                                         l_free,    l_buffered, l_read_ctl};
