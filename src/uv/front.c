/*
 * The HTTP front of a server connection: request heads, plain requests vs
 * upgrades, request bodies (Content-Length or chunked) and HTTP/1.1
 * keep-alive.
 *
 * One wsx_request per request. Bytes that arrive after the current
 * request's body (pipelined requests) wait behind it in its buffer; the
 * next request is parsed only after the response to this one has ended
 * and been handed on (front_advance, from the loop), so responses leave
 * strictly in request order and the app never sees two requests of one
 * connection at once. Reading stops while a whole head's worth of the next
 * requests is waiting, which bounds what a pipelining client can park.
 */
#include <string.h>

#include "uv/internal.h"

static void process(wsx_socket *s);

/* Non-zero if a header `name` lists `tok` (comma-separated, any case). */
static int has_token(const wsx_request *r, const char *name, const char *tok) {
  return wsx_header_has_token(r->http.headers, r->http.num_headers, name, tok);
}

static size_t count_headers(const wsx_request *r, const char *name) {
  size_t i, n = 0;
  for (i = 0; i < r->http.num_headers; i++)
    n += (size_t)wsx__ieq(r->http.headers[i].name, r->http.headers[i].name_len,
                          name);
  return n;
}

static size_t max_head_size(const wsx_socket *s) {
  return s->cfg->dopts.max_head_size ? s->cfg->dopts.max_head_size
                                     : WSX_HTTP_DEFAULT_MAX_HEAD;
}

static void dispatch_upgrade(wsx_socket *s, wsx_request *r) {
  wsx_server *srv = wsx__sock_srv(s);
  s->phase = WSX__P_REQUEST;
  if (srv->auto_accept) {
    int err;
    s->cb = srv->sock_cb;
    s->ud = srv->ud;
    if (srv->cb.connection)
      srv->cb.connection(srv, s, srv->ud);
    if (s->flags & WSX__F_HANDLE_CLOSING)
      return; /* dropped in `connection`; close fires from the loop */
    (void)wsx__request_accept_as(r, NULL, 0, NULL, NULL, 0, &err);
    return;
  }
  if (!srv->cb.request) {
    (void)wsx_request_reject(r, 403, "no request handler", NULL, 0);
    return;
  }
  r->dispatched = 1;
  srv->cb.request(srv, r, srv->ud);
}

static void dispatch_http(wsx_socket *s, wsx_request *r) {
  wsx_server *srv = wsx__sock_srv(s);
  wsx__timer_set(s, 0); /* responses may stream for as long as they like */
  if (!srv->cb.http_request) {
    s->req = NULL;
    wsx__request_free(r);
    wsx__respond_and_close(s, 426, "Upgrade: websocket\r\n",
                           "this server speaks WebSocket only\n");
    return;
  }
  r->dispatched = 1;
  srv->cb.http_request(srv, r, &r->res, srv->ud);
}

/* How the body is framed (RFC 9112 6.3). Ambiguous framing is refused
 * rather than guessed at: a proxy in front could guess differently and
 * smuggle a request past it. */
static int body_setup(wsx_socket *s, wsx_request *r) {
  const char *te = wsx_request_header(r, "transfer-encoding");
  const char *v = wsx_request_header(r, "content-length");
  size_t len, i;
  unsigned long long n = 0;
  if (te) {
    if (v) {
      wsx__respond_and_close(s, 400, NULL,
                             "Content-Length with Transfer-Encoding\n");
      return -1;
    }
    if (count_headers(r, "transfer-encoding") != 1 ||
        !wsx__ieq(te, strlen(te), "chunked")) {
      wsx__respond_and_close(s, 501, NULL,
                             "only the chunked transfer coding is "
                             "supported\n");
      return -1;
    }
    r->chunked = 1;
    return 0;
  }
  if (!v)
    return 0;
  len = strlen(v);
  if (count_headers(r, "content-length") != 1 || len == 0)
    n = ~0ull;
  for (i = 0; i < len && n <= 0xffffffffull; i++)
    n = (v[i] < '0' || v[i] > '9') ? ~0ull : n * 10 + (unsigned)(v[i] - '0');
  if (n > 0xffffffffull) {
    wsx__respond_and_close(s, 400, NULL, "bad Content-Length\n");
    return -1;
  }
  if (n > wsx__sock_srv(s)->max_body) {
    wsx__respond_and_close(s, 413, NULL, "request body too large\n");
    return -1;
  }
  r->body_len = (size_t)n;
  return 0;
}

/* Takes in what arrived of the body; dispatches once it is whole. A
 * chunked body is decoded in place: buf holds the decoded body, then the
 * bytes not decoded yet (consumed == body_len marks the boundary). */
static void feed_body(wsx_socket *s, wsx_request *r) {
  if (r->body_done)
    return;
  if (!r->chunked) {
    if (r->buf.len < r->body_len)
      return;
    r->consumed = r->body_len;
  } else {
    uint8_t *p = r->buf.data + r->consumed;
    size_t avail = r->buf.len - r->consumed, used;
    int done = 0;
    long n = avail ? wsx__chunked_decode(&r->chunk, p, avail, &done) : 0;
    if (n < 0) {
      wsx__respond_and_close(s, 400, NULL, "malformed chunked body\n");
      return;
    }
    used = r->chunk.used;
    memmove(p + n, p + used, avail - used);
    r->buf.len -= used - (size_t)n;
    r->body_len += (size_t)n;
    r->consumed = r->body_len;
    if (r->body_len > wsx__sock_srv(s)->max_body) {
      wsx__respond_and_close(s, 413, NULL, "request body too large\n");
      return;
    }
    if (!done)
      return;
  }
  r->body_done = 1;
  dispatch_http(s, r);
}

static void on_head_complete(wsx_socket *s, wsx_request *r) {
  wsx_server *srv = wsx__sock_srv(s);
  if (r->is_ws) {
    dispatch_upgrade(s, r);
    return;
  }
  /* HTTP/1.1 stays open unless asked to close; 1.0 only when asked. */
  r->keep_alive = r->http.minor_version >= 1
                      ? !has_token(r, "connection", "close")
                      : has_token(r, "connection", "keep-alive");
  /* An HTTP/2 stream (a transport layer) carries one request: its end is
   * the stream's end, not the next request. */
  if (r->nreq >= srv->max_requests || WSX__LAYER_TRANSPORT(s->layer))
    r->keep_alive = 0;
  if (body_setup(s, r) < 0)
    return;
  s->phase = WSX__P_HTTP;
  feed_body(s, r);
}

/* Parses the head in the request's buffer, or the body after it. */
static void process(wsx_socket *s) {
  wsx_request *r = s->req;
  size_t max_hdrs = s->cfg->dopts.max_headers ? s->cfg->dopts.max_headers
                                              : WSX_HTTP_DEFAULT_MAX_HEADERS;
  wsx_http_request parsed;
  const char *detail = NULL;
  int rc;
  if (s->phase == WSX__P_HTTP) {
    feed_body(s, r);
    return;
  }
  if (s->phase != WSX__P_HEAD)
    return; /* early frames wait for accept() */
  if (max_hdrs > WSX__MAX_HEADERS)
    max_hdrs = WSX__MAX_HEADERS;
  rc = wsx_http_parse_request((const char *)r->buf.data, r->buf.len, &parsed,
                              s->cfg->ctx->hdrs, max_hdrs, max_head_size(s),
                              &r->st, &detail);
  if (rc == WSX_E_AGAIN) {
    if (r->peer_eof) /* the client finished sending mid-head */
      wsx__sock_close_handle(s);
    return;
  }
  if (rc == WSX_E_HEAD_TOO_BIG) {
    wsx__respond_and_close(s, 431, NULL, "request head too large\n");
    return;
  }
  if (rc < 0) {
    wsx__respond_and_close(s, 400, NULL,
                           detail ? detail : "malformed request head");
    return;
  }
  r->head_len = (size_t)rc;
  if (wsx__request_finish_head(r, wsx__sock_srv(s)->trust_xff) != WSX_OK) {
    wsx__sock_close_handle(s);
    return;
  }
  on_head_complete(s, r);
}

void wsx__server_on_head_data(wsx_socket *s, char *data, size_t len) {
  wsx_request *r = s->req;
  const wsx__cfg *cfg = s->cfg;
  wsx_server *srv = wsx__sock_srv(s);
  if (!r)
    return;
#ifdef WSX_HAVE_HTTP2
  if (s->phase == WSX__P_HEAD && r->buf.len == 0 && s->layer &&
      strcmp(wsx_socket_tls_alpn(s), "h2") == 0) {
    wsx__h2_start(s, data, len); /* ALPN chose HTTP/2 */
    return;
  }
#endif
  if (s->phase == WSX__P_HTTP && r->body_done && !r->keep_alive)
    return; /* the connection closes after this response */
  if (r->buf.len + len > max_head_size(s) + srv->max_body + 65536u) {
    wsx__sock_close_handle(s);
    return;
  }
  if (wsx__buf_append(&r->buf, &cfg->alloc, data, len) != WSX_OK) {
    wsx__sock_close_handle(s);
    return;
  }
  if (s->phase == WSX__P_HTTP && r->body_done) {
    /* Pipelined: kept for after this response; enough of it parked
     * stops reading until then. */
    if (r->buf.len - r->consumed > max_head_size(s) && !r->read_stopped) {
      wsx__sock_read_stop(s);
      r->read_stopped = 1;
    }
    return;
  }
  if (r->idle && len) {
    /* A kept-alive connection's next request began: its head is due
     * within handshake_timeout. */
    r->idle = 0;
    wsx__timer_set(s, uv_now(cfg->ctx->loop) + srv->hs_timeout);
  }
  process(s);
}

/* The response to s->req ended (and its bytes were handed on): the next
 * request takes its place, with the bytes that came after this one. */
static void front_advance(wsx_socket *s) {
  wsx_request *r = s->req, *nr;
  wsx_server *srv = wsx__sock_srv(s);
  uint64_t now = uv_now(s->cfg->ctx->loop);
  int resume;
  if (!r || !r->res.ended || (s->flags & WSX__F_HANDLE_CLOSING))
    return;
  if (wsx__sock_buffered(s) > wsx__sock_hwm(s)) {
    /* A client that pipelines without reading: wait for its drain. */
    s->flags |= WSX__F_ABOVE_HWM;
    return;
  }
  nr = wsx__request_new(s);
  if (!nr || wsx__buf_append(&nr->buf, &s->cfg->alloc,
                             r->buf.data + r->consumed,
                             r->buf.len - r->consumed) != WSX_OK) {
    if (nr)
      wsx__request_free(nr);
    wsx__sock_teardown(s); /* s->req's `close` fires at the end */
    return;
  }
  nr->nreq = r->nreq + 1;
  nr->peer_eof = r->peer_eof;
  resume = r->read_stopped && !r->peer_eof;
  s->req = nr;
  s->phase = WSX__P_HEAD;
  if (r->res.cb.close)
    r->res.cb.close(&r->res, r->res.ud);
  wsx__request_free(r);
  if (nr->buf.len == 0 && nr->peer_eof) {
    wsx__sock_teardown(s);
    return;
  }
  if (nr->buf.len == 0)
    nr->idle = 1;
  wsx__timer_set(s, now + (nr->idle ? srv->idle_timeout : srv->hs_timeout));
  if (resume)
    wsx__sock_start_read(s);
  if (nr->buf.len && !(s->flags & WSX__F_HANDLE_CLOSING))
    process(s);
}

void wsx__front_response_done(wsx_socket *s) {
  uint64_t now = uv_now(s->cfg->ctx->loop);
  /* From the loop, never inside the app's wsx_http_res_end: the next
   * request's callback must not run inside this one's. */
  wsx__timer_set(s, now ? now : 1);
}

void wsx__server_on_eof(wsx_socket *s) { wsx__sock_close_handle(s); }

static void front_on_eof(wsx_socket *s, ssize_t err) {
  wsx_request *r = s->req;
  if (err == UV_EOF && r && s->phase == WSX__P_HTTP && r->body_done) {
    if (r->keep_alive && r->buf.len > r->consumed) {
      /* The client sent its requests and half-closed: answer them all,
       * then close. */
      r->peer_eof = 1;
      return;
    }
    if (r->res.ended) {
      wsx__sock_teardown(s); /* flush the last response first */
      return;
    }
  }
  wsx__server_on_eof(s);
}

static void http_on_timer(wsx_socket *s) {
  if (s->req && s->req->res.ended)
    front_advance(s);
  else
    wsx__sock_close_handle(s);
}

static void http_on_drain(wsx_socket *s) {
  if (s->req && s->req->res.ended)
    front_advance(s);
  else
    wsx__http_res_on_drain(s);
}

/* Reading the head and waiting for accept/reject (a deadline is the
 * handshake timeout, or the idle timeout of a kept-alive connection: the
 * core closes the handle). */
const wsx__phase_ops wsx__front_phase = {wsx__server_on_head_data,
                                         front_on_eof, NULL, NULL, NULL};
/* A plain HTTP request being answered: drains go to the response; the
 * deadline set by wsx__front_response_done takes up the next request. */
const wsx__phase_ops wsx__http_phase = {wsx__server_on_head_data, front_on_eof,
                                        http_on_timer, http_on_drain,
                                        wsx__http_res_hwm};
