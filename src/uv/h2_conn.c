/*
 * The HTTP/2 connection (uv/h2.h): an nghttp2 session over the socket's
 * plaintext, phase WSX__P_H2. Server: collects each request's headers,
 * opens stream sockets once mem_recv has returned. Both sides (the client's
 * own part is h2_client.c): routes DATA and stream ends to the stream
 * sockets, and sends what nghttp2 produces through the socket.
 */
#include <stdio.h>
#include <string.h>

#include "uv/h2.h"

#define H2_MAX_STREAMS 512u
#define H2_STREAM_WINDOW (256u * 1024u)
#define H2_CONN_WINDOW (16u * 1024u * 1024u)

/* ---- nghttp2's allocator: the socket's ---- */

static void *mem_malloc(size_t n, void *ud) { return wsx__malloc(ud, n); }
static void mem_free(void *p, void *ud) { wsx__free(ud, p); }
static void *mem_calloc(size_t k, size_t n, void *ud) {
  void *p;
  if (n && k > (size_t)-1 / n)
    return NULL;
  if ((p = wsx__malloc(ud, k * n)) != NULL)
    memset(p, 0, k * n);
  return p;
}
static void *mem_realloc(void *p, size_t n, void *ud) {
  return wsx__realloc(ud, p, n);
}

/* ---- streams ---- */

void wsx__h2_stream_free(wsx__h2_stream *st) {
  wsx__h2 *h = st->h;
  const wsx_allocator *a = &h->alloc;
  if (st->prev)
    st->prev->next = st->next;
  else
    h->streams = st->next;
  if (st->next)
    st->next->prev = st->prev;
  if (h->ng && !st->closed && st->id > 0)
    nghttp2_session_set_stream_user_data(h->ng, st->id, NULL);
  wsx__free(a, st->method);
  wsx__free(a, st->scheme);
  wsx__free(a, st->authority);
  wsx__free(a, st->path);
  wsx__free(a, st->protocol);
  wsx__buf_free(&st->hdrs, a);
  wsx__buf_free(&st->cookie, a);
  wsx__buf_free(&st->held, a);
  wsx__buf_free(&st->head, a);
  wsx__buf_free(&st->out, a);
  wsx__free(a, st);
}

void wsx__h2_session_free(wsx__h2 *h) {
  wsx_allocator a = h->alloc;
  while (h->streams)
    wsx__h2_stream_free(h->streams);
  if (h->ng)
    nghttp2_session_del(h->ng);
  wsx__free(&a, h->key);
  wsx__free(&a, h);
}

/* A connection without stream sockets gets the server's handshake
 * timeout as its idle deadline (then GOAWAY, see h2_on_timer). */
static void arm_idle(wsx__h2 *h) {
  wsx_server *srv = wsx__sock_srv(h->s);
  if (srv && h->attached == 0 && h->s->phase == WSX__P_H2)
    wsx__timer_set(h->s, uv_now(h->loop) + srv->hs_timeout);
}

void wsx__h2_detached(wsx__h2 *h) {
  if (!h->s) {
    if (h->attached == 0)
      wsx__h2_session_free(h);
    return;
  }
  if (h->client) {
    wsx__h2c_idle(h);
    return;
  }
  if (h->going_away && h->attached == 0 && h->s->phase == WSX__P_H2)
    wsx__sock_teardown(h->s);
  else
    arm_idle(h);
}

/* Every stream socket ends as if its connection dropped (1006). */
static void abort_streams(wsx__h2 *h) {
  wsx__h2_stream *st;
  if (h->client)
    wsx__h2c_conn_gone(h); /* streams not sent yet dial on their own */
  for (st = h->streams; st; st = st->next) {
    wsx_socket *s = st->s;
    if (!s || (s->flags & WSX__F_HANDLE_CLOSING))
      continue;
    s->flags |= WSX__F_EOF;
    if (s->phase == WSX__P_CLIENT_HS)
      wsx__sock_connect_failed(s, WSX_E_CLOSED, 0,
                               "the HTTP/2 connection closed during the "
                               "handshake");
    if (s->d)
      wsx_driver_abort(s->d, 0, NULL);
    wsx__sock_close_handle(s);
  }
}

void wsx__h2_respond(wsx__h2 *h, int32_t id, int status) {
  char v[8];
  nghttp2_nv nv;
  snprintf(v, sizeof(v), "%d", status);
  nv.name = (uint8_t *)":status";
  nv.namelen = 7;
  nv.value = (uint8_t *)v;
  nv.valuelen = strlen(v);
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  (void)nghttp2_submit_response(h->ng, id, &nv, 1, NULL);
}

/* ---- sending ---- */

/* The connection cannot go on: the peer learns from the GOAWAY nghttp2
 * queued (if any), then the socket goes. */
static void conn_fail(wsx__h2 *h) {
  wsx_socket *s = h->s;
  abort_streams(h);
  if (s->phase == WSX__P_H2)
    wsx__sock_teardown(s);
}

/* Frames out until nghttp2 has none (or the connection is above its
 * high-water mark), then the stream sockets whose output moved. Streams
 * are freed only inside mem_send / mem_recv (on_stream_close) or by a
 * socket's asynchronous free, so while in_send is set the list is stable:
 * sends from drain callbacks come back through want_send. */
void wsx__h2_flush(wsx__h2 *h) {
  wsx__h2_stream *st;
  wsx_socket *s = h->s;
  int failed = 0;
  if (!s || !h->ng || (s->flags & WSX__F_HANDLE_CLOSING) ||
      s->phase != WSX__P_H2) {
    return;
  }
  if (h->in_recv || h->in_send) {
    h->want_send = 1;
    return;
  }
  h->in_send = 1;
  do {
    h->want_send = 0;
    while (!failed && !(s->flags & WSX__F_HANDLE_CLOSING)) {
      const uint8_t *data;
      ssize_t n;
      uv_buf_t b;
      /* The peer reads slowly: hold the streams' data in their buffers
       * (their buffered amounts) until the connection drains. */
      if (wsx__sock_buffered(s) > s->cfg->hwm) {
        s->flags |= WSX__F_ABOVE_HWM;
        break;
      }
      n = nghttp2_session_mem_send(h->ng, &data);
      if (n <= 0) {
        failed = n < 0;
        break;
      }
      b = uv_buf_init((char *)(uintptr_t)data, (unsigned)n);
      if (wsx__sock_write(s, &b, 1) < 0)
        failed = 1;
    }
    /* Output moved: drains and teardowns of the stream sockets. */
    for (st = h->streams; !failed && st; st = st->next)
      if (st->progress && st->s) {
        st->progress = 0;
        wsx__sock_output_progress(st->s);
      }
  } while (h->want_send && !failed && !(s->flags & WSX__F_HANDLE_CLOSING));
  h->in_send = 0;
  if (failed) {
    conn_fail(h);
    return;
  }
  if (h->s && h->s->phase == WSX__P_H2 && !nghttp2_session_want_read(h->ng) &&
      !nghttp2_session_want_write(h->ng))
    conn_fail(h); /* GOAWAY exchanged, nothing left */
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
                            void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  if (h->going_away) {
    (void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                    NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  if (!(st = wsx__malloc(&h->alloc, sizeof(*st))))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  memset(st, 0, sizeof(*st));
  st->h = h;
  st->id = f->hd.stream_id;
  st->next = h->streams;
  if (h->streams)
    h->streams->prev = st;
  h->streams = st;
  nghttp2_session_set_stream_user_data(ng, st->id, st);
  return 0;
}

static size_t max_head(const wsx__h2 *h) {
  size_t m = h->s->cfg->dopts.max_head_size;
  return m ? m : WSX_HTTP_DEFAULT_MAX_HEAD;
}

static int set_pseudo(wsx__h2 *h, char **slot, const uint8_t *v, size_t n) {
  if (*slot)
    return 0; /* nghttp2 rejects duplicates before we see them */
  *slot = wsx__strndup(&h->alloc, (const char *)v, n);
  return *slot ? 0 : -1;
}

/* Regular headers that HTTP/1.1 has and HTTP/2 replaces or forbids. */
static int skipped_header(const uint8_t *name, size_t n) {
  static const char *const skip[] = {
      "host",           "connection",        "upgrade",    "sec-websocket-key",
      "content-length", "transfer-encoding", "keep-alive", "proxy-connection"};
  size_t i;
  for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (wsx__ieq((const char *)name, n, skip[i]))
      return 1;
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st =
      nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
  const wsx_allocator *a = &h->alloc;
  int rc = 0;
  (void)flags;
  if (!st || st->s || f->hd.type != NGHTTP2_HEADERS ||
      f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* trailers and unknown streams are ignored */
  if (nlen && name[0] == ':') {
    if (wsx__ieq((const char *)name, nlen, ":method"))
      rc = set_pseudo(h, &st->method, value, vlen);
    else if (wsx__ieq((const char *)name, nlen, ":scheme"))
      rc = set_pseudo(h, &st->scheme, value, vlen);
    else if (wsx__ieq((const char *)name, nlen, ":authority"))
      rc = set_pseudo(h, &st->authority, value, vlen);
    else if (wsx__ieq((const char *)name, nlen, ":path"))
      rc = set_pseudo(h, &st->path, value, vlen);
    else if (wsx__ieq((const char *)name, nlen, ":protocol"))
      rc = set_pseudo(h, &st->protocol, value, vlen);
  } else if (wsx__ieq((const char *)name, nlen, "host") && !st->authority) {
    rc = set_pseudo(h, &st->authority, value, vlen);
  } else if (wsx__ieq((const char *)name, nlen, "cookie")) {
    if (st->cookie.len + vlen + 2 > max_head(h)) {
      st->too_big = 1;
      return 0;
    }
    rc = ((st->cookie.len && wsx__buf_append(&st->cookie, a, "; ", 2) < 0) ||
          wsx__buf_append(&st->cookie, a, value, vlen) < 0)
             ? -1
             : 0;
  } else if (!skipped_header(name, nlen)) {
    if (st->hdrs.len + nlen + vlen + 4 > max_head(h)) {
      st->too_big = 1;
      return 0;
    }
    rc = (wsx__buf_append(&st->hdrs, a, name, nlen) < 0 ||
          wsx__buf_append(&st->hdrs, a, ": ", 2) < 0 ||
          wsx__buf_append(&st->hdrs, a, value, vlen) < 0 ||
          wsx__buf_append(&st->hdrs, a, "\r\n", 2) < 0)
             ? -1
             : 0;
  }
  return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* The request's headers are complete: check them; a good one is opened
 * once mem_recv returns (no application code runs inside nghttp2). */
static void headers_done(wsx__h2 *h, wsx__h2_stream *st, int end_stream) {
  int connect = st->method && strcmp(st->method, "CONNECT") == 0;
  if (st->too_big) {
    wsx__h2_respond(h, st->id, 431);
    return;
  }
  if (connect && !st->protocol) {
    wsx__h2_respond(h, st->id, 501); /* a plain CONNECT: no tunnels here */
    return;
  }
  if (connect && !wsx__ieq(st->protocol, strlen(st->protocol), "websocket")) {
    wsx__h2_respond(h, st->id, 501); /* RFC 8441 4: unknown :protocol */
    return;
  }
  if (!st->path || !st->method || (connect && !st->authority)) {
    wsx__h2_respond(h, st->id, 400);
    return;
  }
  st->is_ws = (uint8_t)connect;
  if (connect || end_stream)
    st->ready = 1;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
                         void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st;
  int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
    return 0;
  if (!(st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)))
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    headers_done(h, st, end);
    st->peer_ended = (uint8_t)end; /* an opened socket sees it as EOF */
    return 0;
  }
  if (!end)
    return 0;
  st->peer_ended = 1;
  if (!st->s && !st->ready && st->method && !st->is_ws && !st->submitted)
    st->ready = 1; /* a plain request with its whole body */
  else if (st->s && !(st->s->flags & WSX__F_HANDLE_CLOSING) && !st->held.len)
    wsx__sock_on_eof(st->s, UV_EOF);
  return 0;
}

int wsx__h2_on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
                          const uint8_t *data, size_t len, void *ud) {
  wsx__h2 *h = ud;
  wsx__h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  (void)flags;
  if (!st || (st->s && (st->s->flags & WSX__F_HANDLE_CLOSING))) {
    (void)nghttp2_session_consume(ng, id, len);
    return 0;
  }
  if (!st->s && !st->is_ws && h->s && st->method && st->method[0] &&
      st->held.len + len > wsx__sock_srv(h->s)->max_body) {
    (void)nghttp2_session_consume(ng, id, len);
    wsx__h2_respond(h, id, 413);
    st->method[0] = '\0'; /* no longer a request to open */
    return 0;
  }
  wsx__h2_stream_data(st, data, len);
  return 0;
}

int wsx__h2_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err,
                            void *ud) {
  wsx__h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  (void)ud, (void)err;
  if (!st)
    return 0;
  st->closed = 1;
  if (!st->s) {
    wsx__h2_stream_free(st);
    return 0;
  }
  /* Reset by the peer, or ended before the closing handshake: 1006. */
  if (!(st->s->flags & WSX__F_HANDLE_CLOSING))
    wsx__sock_on_eof(st->s, UV_EOF);
  return 0;
}

/* ---- the phase ---- */

/* Sends are held (in_recv) so that no stream is freed under the walk. */
static void open_ready(wsx__h2 *h) {
  wsx__h2_stream *st;
  h->in_recv = 1;
  for (st = h->streams; st; st = st->next) {
    if (!st->ready)
      continue;
    st->ready = 0;
    if (!st->closed && st->method && st->method[0])
      wsx__h2_stream_open(st);
  }
  h->in_recv = 0;
}

static void h2_on_data(wsx_socket *s, char *data, size_t len) {
  wsx__h2 *h = wsx__sock_h2(s);
  ssize_t rv;
  if (!h || !h->ng)
    return;
  h->in_recv = 1;
  rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)data, len);
  h->in_recv = 0;
  if (rv < 0) {
    /* Most errors queued a GOAWAY; a bad preface did not. */
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || rv == NGHTTP2_ERR_NOMEM ||
        h->client)
      (void)nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
    wsx__h2_flush(h);
    if (h->s)
      conn_fail(h);
    return;
  }
  if (h->client)
    wsx__h2c_after_recv(h);
  else
    open_ready(h);
  wsx__h2_flush(h);
}

static void h2_on_eof(wsx_socket *s, ssize_t err) {
  (void)err;
  if (wsx__sock_h2(s))
    abort_streams(wsx__sock_h2(s));
  wsx__sock_close_handle(s);
}

static void h2_on_drain(wsx_socket *s) {
  if (wsx__sock_h2(s))
    wsx__h2_flush(wsx__sock_h2(s));
}

/* Idle: no stream socket for a handshake timeout. */
static void h2_on_timer(wsx_socket *s) {
  if (wsx__sock_h2(s) && wsx__sock_h2(s)->attached == 0)
    wsx__h2_shutdown(s);
}

const wsx__phase_ops wsx__h2_phase = {h2_on_data, h2_on_eof, h2_on_timer,
                                      h2_on_drain, NULL};

void wsx__h2_conn_gone(wsx_socket *s) {
  wsx__h2 *h = s->rare->h2;
  wsx__h2_stream *st, *next;
  s->rare->h2 = NULL;
  h->s = NULL;
  abort_streams(h);
  nghttp2_session_del(h->ng);
  h->ng = NULL;
  for (st = h->streams; st; st = next) {
    next = st->next;
    st->closed = 1;
    if (!st->s)
      wsx__h2_stream_free(st);
  }
  wsx__h2_detached(h);
}

void wsx__h2_shutdown(wsx_socket *s) {
  wsx__h2 *h = wsx__sock_h2(s);
  if (!h || !h->ng || h->going_away)
    return;
  h->going_away = 1;
  (void)nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(h->ng),
                              NGHTTP2_NO_ERROR, NULL, 0);
  wsx__h2_flush(h);
  if (h->s)
    wsx__h2_detached(h);
}

int wsx__h2_session_new(wsx__h2 *h) {
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt;
  nghttp2_settings_entry iv[3];
  int rc;
  h->mem.mem_user_data = &h->alloc;
  h->mem.malloc = mem_malloc;
  h->mem.free = mem_free;
  h->mem.calloc = mem_calloc;
  h->mem.realloc = mem_realloc;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return WSX_E_NOMEM;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return WSX_E_NOMEM;
  }
  if (h->client) {
    nghttp2_session_callbacks_set_on_header_callback(cb, wsx__h2c_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, wsx__h2c_on_frame_recv);
  } else {
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  }
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cb, wsx__h2_on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cb, wsx__h2_on_stream_close);
  /* Windows open as the sockets take their data (wsx_socket_pause). */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  rc = h->client ? nghttp2_session_client_new3(&h->ng, cb, h, opt, &h->mem)
                 : nghttp2_session_server_new3(&h->ng, cb, h, opt, &h->mem);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rc != 0)
    return WSX_E_NOMEM;
  /* A client announces no extended CONNECT (RFC 8441 3: the server's
   * setting) and takes no pushes. */
  iv[0].settings_id = h->client ? NGHTTP2_SETTINGS_ENABLE_PUSH
                                : NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
  iv[0].value = h->client ? 0 : 1;
  iv[1].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
  iv[1].value = H2_MAX_STREAMS;
  iv[2].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[2].value = H2_STREAM_WINDOW;
  if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
      nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)H2_CONN_WINDOW) != 0)
    return WSX_E_NOMEM;
  return WSX_OK;
}

void wsx__h2_start(wsx_socket *s, char *data, size_t len) {
  wsx__h2 *h = wsx__malloc(&s->cfg->alloc, sizeof(*h));
  if (!h) {
    wsx__sock_close_handle(s);
    return;
  }
  memset(h, 0, sizeof(*h));
  h->alloc = s->cfg->alloc;
  h->s = s;
  h->loop = s->cfg->ctx->loop;
  if (wsx__h2_session_new(h) != WSX_OK) {
    wsx__h2_session_free(h);
    wsx__sock_close_handle(s);
    return;
  }
  if (!wsx__sock_rare_get(s)) {
    wsx__h2_session_free(h);
    wsx__sock_close_handle(s);
    return;
  }
  /* The connection itself is no request: the app meets its streams. */
  if (s->req) {
    wsx__request_free(s->req);
    s->req = NULL;
  }
  s->rare->h2 = h;
  s->phase = WSX__P_H2;
  arm_idle(h);
  h2_on_data(s, data, len);
}
