/*
 * EventSource client on libuv: DNS and TCP through the dialer of uv/dial.h
 * (shared with the WebSocket client), optionally to an HTTP proxy that is
 * asked for a CONNECT tunnel (wsx/proxy.h, settings as the WebSocket
 * client's: uv/proxy_client.h), (for https://) TLS through the engine of
 * uv/tls.h, one GET per attempt, the response head, a streaming
 * (Content-Length, chunked or close-delimited) body fed to the WHATWG
 * parser, and reconnection after the retry time. close() over TLS sends
 * close_notify before the FIN. Construction and accessors: es_client_new.c.
 */
#include <stdio.h>
#include <string.h>

#include "uv/es_client.h"
#include "uv/uvbuf.h"

static void attempt(wsx_eventsource_client *c);
static void try_connect(wsx_eventsource_client *c);

/* ---- teardown and the next step ---- */

static void on_timer_closed(uv_handle_t *h) {
  wsx_eventsource_client *c = h->data;
  if (c->cb.close)
    c->cb.close(c, c->ud);
  wsx__dial_release(&c->dial);
  wsx__proxy_target_free(&c->proxy, &c->alloc);
  wsx__tls_ctx_free(c->tls_ctx);
  wsx__es_parser_free(&c->parser);
  wsx__buf_free(&c->extra, &c->alloc);
  wsx__buf_free(&c->out, &c->alloc);
  wsx__buf_free(&c->head, &c->alloc);
  wsx__free(&c->alloc, c->url);
  wsx__free(&c->alloc, c->host);
  wsx__free(&c->alloc, c->request);
  wsx__free(&c->alloc, c);
}

void wsx__esc_on_retry(uv_timer_t *t) {
  wsx_eventsource_client *c = t->data;
  if (c->phase == P_WAIT)
    attempt(c);
}

/* Called whenever a handle or request finished: decides what comes next. */
static void settle(wsx_eventsource_client *c) {
  if (c->tcp_open || c->dial.gai_pending)
    return;
  if (c->closing) {
    if (!c->finalizing) {
      c->finalizing = 1;
      uv_timer_stop(&c->timer);
      uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
    return;
  }
  if (c->phase == P_CONNECT && wsx__dial_has_next(&c->dial))
    try_connect(c);
  else if (c->phase == P_WAIT)
    uv_timer_start(&c->timer, wsx__esc_on_retry, c->retry_ms, 0);
}

static void on_tcp_closed(uv_handle_t *h) {
  wsx_eventsource_client *c = h->data;
  wsx__tls_conn_free(c->tls);
  c->tls = NULL;
  wsx_proxy_free(c->px);
  c->px = NULL;
  wsx__out_free(&c->wout, &c->alloc); /* nothing carries over */
  c->tcp_open = 0;
  c->tcp_closing = 0;
  settle(c);
}

static void drop_connection(wsx_eventsource_client *c) {
  c->linger = 0;
  uv_timer_stop(&c->timer);
  wsx__dial_cancel(&c->dial);
  if (c->tcp_open && !c->tcp_closing) {
    c->tcp_closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
  }
}

static void report(wsx_eventsource_client *c, int code, int uv_code, int status,
                   int reconnect, const char *msg) {
  wsx_eventsource_error e;
  e.code = code;
  e.uv_code = uv_code;
  e.status_code = status;
  e.will_reconnect = reconnect;
  e.message = msg;
  if (c->cb.error)
    c->cb.error(c, &e, c->ud);
}

/* The spec's "reestablish the connection". */
static void network_error(wsx_eventsource_client *c, int code, int uv_code,
                          const char *msg) {
  if (c->closing || c->phase == P_WAIT)
    return;
  c->state = WSX_ES_CONNECTING;
  c->phase = P_WAIT;
  wsx__dial_stop(&c->dial);
  drop_connection(c);
  report(c, code, uv_code, 0, 1, msg); /* may call close() */
  settle(c);
}

/* The spec's "fail the connection": no reconnect. */
static void fail(wsx_eventsource_client *c, int code, int status,
                 const char *msg) {
  if (c->closing)
    return;
  c->closing = 1;
  c->state = WSX_ES_CLOSED;
  drop_connection(c);
  report(c, code, 0, status, 0, msg);
  settle(c);
}

static void on_linger_timeout(uv_timer_t *t) {
  drop_connection(t->data);
  settle(t->data);
}

int wsx_eventsource_client_close(wsx_eventsource_client *c) {
  if (!c)
    return WSX_E_INVALID;
  if (c->closing)
    return WSX_E_CLOSED;
  c->closing = 1;
  c->state = WSX_ES_CLOSED;
  if (c->tls && c->tcp_open && !c->tcp_closing) {
    /* close_notify first, so the server can tell our close from a
     * truncation; the FIN waits for it (briefly) if the kernel is behind. */
    wsx__tls_conn_shutdown(c->tls);
    if (c->wout && c->wout->writing) {
      wsx__dial_cancel(&c->dial);
      c->linger = 1;
      uv_timer_start(&c->timer, on_linger_timeout, 2000, 0);
      return WSX_OK;
    }
  }
  drop_connection(c);
  settle(c);
  return WSX_OK;
}
/* ---- body and head ---- */

static void on_body(wsx_eventsource_client *c, uint8_t *p, size_t n) {
  int done = 0, rc;
  if (c->chunked) {
    long k = wsx__chunked_decode(&c->ch, p, n, &done);
    if (k < 0) {
      network_error(c, WSX_E_HTTP, 0, "malformed chunked body");
      return;
    }
    n = (size_t)k;
  } else if (c->has_length) {
    if ((uint64_t)n >= c->body_left) {
      n = (size_t)c->body_left;
      done = 1;
    }
    c->body_left -= n;
  }
  rc = wsx__es_parser_feed(&c->parser, p, n);
  if (rc < 0) {
    fail(c, rc, 200,
         rc == WSX_E_TOO_BIG ? "event stream line or event over max_event_size"
                             : "out of memory");
    return;
  }
  if (done)
    network_error(c, WSX_E_CLOSED, 0, "the server ended the stream");
}

/* Content-Type's media type is text/event-stream (parameters allowed). */
static int is_event_stream(const wsx_header *h, size_t n) {
  static const char want[] = "text/event-stream";
  const size_t k = sizeof(want) - 1;
  size_t len;
  const char *v = wsx_header_find(h, n, "content-type", &len);
  if (!v || len < k)
    return 0;
  for (size_t i = 0; i < k; i++) {
    char ch = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] + 32) : v[i];
    if (ch != want[i])
      return 0;
  }
  return len == k || v[k] == ';' || v[k] == ' ' || v[k] == '\t';
}

/* Content-Length as a number; -1 if it is not all digits (or too long). */
static int64_t content_length(const char *v, size_t len) {
  int64_t n = 0;
  if (len == 0 || len > 18)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    n = n * 10 + (v[i] - '0');
  }
  return n;
}

static void on_head_bytes(wsx_eventsource_client *c, const char *p, size_t n) {
  wsx_header hdrs[MAX_HEADERS];
  wsx_http_response res;
  const char *detail = NULL;
  char msg[96];
  size_t len;
  const char *cl;
  int rc;
  if (wsx__buf_append(&c->head, &c->alloc, p, n) < 0) {
    fail(c, WSX_E_NOMEM, 0, "out of memory");
    return;
  }
  rc = wsx_http_parse_response((const char *)c->head.data, c->head.len, &res,
                               hdrs, MAX_HEADERS, MAX_HEAD, &c->hst, &detail);
  if (rc == WSX_E_AGAIN)
    return;
  if (rc < 0) {
    fail(c, rc, 0, detail ? detail : "response head too big");
    return;
  }
  if (res.status != 200) {
    snprintf(msg, sizeof(msg), "%s (HTTP %d)",
             res.status == 204 ? "the server asked the client to stop"
                               : "unexpected response status",
             res.status);
    fail(c, WSX_E_HANDSHAKE, res.status, msg);
    return;
  }
  if (!is_event_stream(res.headers, res.num_headers)) {
    fail(c, WSX_E_HANDSHAKE, 200, "Content-Type is not text/event-stream");
    return;
  }
  c->chunked = wsx_header_has_token(res.headers, res.num_headers,
                                    "transfer-encoding", "chunked") != 0;
  cl = wsx_header_find(res.headers, res.num_headers, "content-length", &len);
  c->has_length = !c->chunked && cl;
  if (c->has_length) {
    int64_t clen = content_length(cl, len);
    if (clen < 0) {
      fail(c, WSX_E_HTTP, 200, "malformed Content-Length");
      return;
    }
    c->body_left = (uint64_t)clen;
  }
  memset(&c->ch, 0, sizeof(c->ch));
  uv_timer_stop(&c->timer);
  c->phase = P_BODY;
  c->state = WSX_ES_OPEN;
  wsx__es_parser_restart(&c->parser);
  if (c->cb.open)
    c->cb.open(c, c->ud);
  if (c->closing || c->phase != P_BODY)
    return;
  if (c->head.len > (size_t)rc)
    on_body(c, c->head.data + rc, c->head.len - (size_t)rc);
  else if (c->has_length && !c->body_left)
    network_error(c, WSX_E_CLOSED, 0, "the server ended the stream");
}

/* ---- I/O ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  wsx_eventsource_client *c = h->data;
  (void)suggested;
  *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_plain(wsx_eventsource_client *c, char *p, size_t n) {
  if (c->phase == P_HEAD)
    on_head_bytes(c, p, n);
  else if (c->phase == P_BODY)
    on_body(c, (uint8_t *)p, n);
}

static int live(const wsx_eventsource_client *c) {
  return !c->closing && !c->tcp_closing &&
         (c->phase == P_HEAD || c->phase == P_BODY);
}

static void proxy_bytes(wsx_eventsource_client *c, const char *p, size_t n);

/* Ciphertext in; plaintext to the head/body parsers. A certificate that
 * does not verify fails for good (retrying cannot help: the spec lets a
 * user agent give up on futile reconnects); other TLS errors are network
 * errors. */
static void on_tls_bytes(wsx_eventsource_client *c, const char *p, size_t n) {
  char plain[16384], msg[300];
  wsx__tls_conn *t = c->tls;
  wsx__tls_conn_input(t, p, n);
  while (live(c)) {
    size_t got;
    int r = wsx__tls_conn_step(t, plain, sizeof(plain), &got);
    if (r == WSX__TLS_WANT)
      break;
    if (r == WSX__TLS_DATA) {
      on_plain(c, plain, got);
    } else if (r == WSX__TLS_EOF) {
      network_error(c, WSX_E_CLOSED, 0, "the server closed the connection");
    } else if (r < 0) {
      int verify = wsx__tls_conn_verify_failed(t);
      wsx__tls_conn_error(t, c->phase == P_HEAD, msg, sizeof(msg));
      if (verify)
        fail(c, WSX_E_TLS, 0, msg);
      else
        network_error(c, WSX_E_TLS, 0, msg);
    }
  }
  wsx__tls_conn_input(t, NULL, 0);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  wsx_eventsource_client *c = st->data;
  if (c->closing || c->tcp_closing || n == 0)
    return;
  if (n > 0 && c->tls) {
    on_tls_bytes(c, b->base, (size_t)n);
    return;
  }
  if (n < 0) {
    network_error(
        c, n == UV_EOF ? WSX_E_CLOSED : WSX_E_IO, n == UV_EOF ? 0 : (int)n,
        n == UV_EOF ? (c->phase == P_PROXY
                           ? "the proxy closed the connection before "
                             "answering CONNECT"
                           : "the server closed the connection")
                    : uv_strerror((int)n));
    return;
  }
  if (c->phase == P_PROXY)
    proxy_bytes(c, b->base, (size_t)n);
  else if (c->phase == P_HEAD)
    on_head_bytes(c, b->base, (size_t)n);
  else if (c->phase == P_BODY)
    on_body(c, (uint8_t *)b->base, (size_t)n);
}

static void on_written(uv_write_t *w, int status) {
  wsx_eventsource_client *c = w->data;
  int uv_err = 0;
  wsx__out_completed(c->wout);
  if (status == UV_ECANCELED || c->tcp_closing)
    return;
  if (status < 0 ||
      wsx__out_next(c->wout, (uv_stream_t *)&c->tcp, on_written, &uv_err) < 0) {
    if (c->linger) {
      drop_connection(c);
      settle(c);
      return;
    }
    network_error(c, WSX_E_IO, status < 0 ? status : uv_err,
                  uv_strerror(status < 0 ? status : uv_err));
  } else if (c->linger && !c->wout->writing) {
    drop_connection(c); /* close_notify is with the kernel: FIN now */
    settle(c);
  }
}

/* The request (plain) or the TLS engine's ciphertext: the transport's
 * write path (try_write, then a queue in order). */
static int wire_write(wsx_eventsource_client *c, const char *p, size_t n,
                      int *uv_err) {
  uv_buf_t b[4]; /* up to 16 GiB: TLS records and request heads are far
                    smaller */
  unsigned k = 0;
  if (wsx__uv_bufs(b, 4, &k, p, n) < n)
    return WSX_E_TOO_BIG;
  return wsx__out_write(&c->wout, (uv_stream_t *)&c->tcp, &c->alloc, c,
                        on_written, b, k, uv_err);
}

/* The TLS engine's wire. */
static int tls_wire(void *io, const char *p, size_t n) {
  wsx_eventsource_client *c = io;
  int uv_err = 0;
  if (!c->tcp_open || c->tcp_closing)
    return WSX_E_CLOSED;
  return wire_write(c, p, n, &uv_err);
}

/* https://: TLS on the fresh connection; the request waits inside the
 * engine until the handshake completed. */
static int send_request_tls(wsx_eventsource_client *c) {
  uv_buf_t b[2]; /* the request head: one buf */
  unsigned k = 0;
  int rc = wsx__tls_conn_client_new(c->tls_ctx, &c->alloc, c->host, tls_wire, c,
                                    &c->tls);
  (void)wsx__uv_bufs(b, 2, &k, c->out.data, c->out.len);
  if (rc == WSX_OK)
    rc = wsx__tls_conn_write(c->tls, b, k);
  return rc;
}

/* The byte stream to the origin is ready (connected, or the proxy's
 * tunnel is up): the request, over TLS for https://. */
static void start_stream(wsx_eventsource_client *c) {
  const char *id;
  int rc;
  id = wsx__es_parser_last_id(&c->parser);
  c->out.len = 0;
  if (wsx__buf_append(&c->out, &c->alloc, c->request, strlen(c->request)) < 0 ||
      (*id && (wsx__buf_append(&c->out, &c->alloc, "Last-Event-ID: ", 15) < 0 ||
               wsx__buf_append(&c->out, &c->alloc, id, strlen(id)) < 0 ||
               wsx__buf_append(&c->out, &c->alloc, "\r\n", 2) < 0)) ||
      wsx__buf_append(&c->out, &c->alloc, c->extra.data, c->extra.len) < 0 ||
      wsx__buf_append(&c->out, &c->alloc, "\r\n", 2) < 0) {
    fail(c, WSX_E_NOMEM, 0, "out of memory");
    return;
  }
  c->phase = P_HEAD;
  c->head.len = 0;
  memset(&c->hst, 0, sizeof(c->hst));
  if (c->tls_ctx) {
    rc = send_request_tls(c);
    if (rc < 0) {
      network_error(c, rc, 0,
                    rc == WSX_E_NOMEM ? "out of memory"
                                      : "could not start TLS");
      return;
    }
    rc = 0;
  } else {
    int uv_err = 0;
    rc = wire_write(c, (const char *)c->out.data, c->out.len, &uv_err);
    if (rc == WSX_E_NOMEM) {
      network_error(c, rc, 0, "out of memory");
      return;
    }
    rc = rc < 0 ? uv_err : 0;
  }
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0 && rc != UV_EALREADY) /* through a proxy: already reading */
    network_error(c, WSX_E_IO, rc, uv_strerror(rc));
}

/* ---- through a proxy ---- */

static int px_write(wsx_proxy *p, const wsx_iovec *iov, size_t n, void *ud) {
  wsx_eventsource_client *c = ud;
  int uv_err = 0, rc = WSX_OK;
  size_t i;
  (void)p;
  for (i = 0; rc == WSX_OK && i < n; i++)
    rc = wire_write(c, iov[i].base, iov[i].len, &uv_err);
  return rc;
}

static void proxy_bytes(wsx_eventsource_client *c, const char *p, size_t n) {
  const char *msg = NULL;
  size_t early;
  int rc = wsx_proxy_parse(c->px, (const uint8_t *)p, n);
  if (rc < 0) {
    int status = wsx_proxy_status_code(c->px);
    (void)wsx_proxy_last_error(c->px, &msg);
    if (!msg || !*msg)
      msg = wsx_strerror(rc);
    /* Refused credentials or a forbidden target do not heal by retrying:
     * fail for good; anything else (502, a broken answer) reconnects. */
    if (status == 401 || status == 403 || status == 407)
      fail(c, WSX_E_PROXY, status, msg);
    else
      network_error(c, rc, 0, msg);
    return;
  }
  if (wsx_proxy_state(c->px) != WSX_PROXY_CONNECTED)
    return;
  (void)wsx_proxy_body(c->px, &early);
  if (early) { /* the origin speaks only after our request (or hello) */
    network_error(c, WSX_E_PROXY, 0, "the proxy sent bytes into the tunnel "
                                     "before it was used");
    return;
  }
  wsx_proxy_free(c->px);
  c->px = NULL;
  start_stream(c);
}

static void begin_proxy(wsx_eventsource_client *c) {
  static const wsx_proxy_callbacks cbs = {sizeof(wsx_proxy_callbacks),
                                          px_write, NULL, NULL};
  int rc;
  c->phase = P_PROXY;
  c->px = wsx__proxy_target_connect(&c->proxy, &c->alloc, c->host, c->port,
                                    &cbs, c, &rc);
  if (c->px)
    rc = wsx_proxy_start(c->px);
  if (rc == WSX_OK)
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0)
    network_error(c, rc == WSX_E_NOMEM ? rc : WSX_E_IO, 0,
                  rc == WSX_E_NOMEM ? "out of memory"
                                    : "could not send CONNECT to the proxy");
}

static void on_connect(wsx__dial *dl, int status) {
  wsx_eventsource_client *c = dl->owner;
  if (c->closing || c->tcp_closing)
    return;
  if (status < 0) {
    if (wsx__dial_has_next(dl)) { /* next address once this is closed */
      c->tcp_closing = 1;
      uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    } else {
      network_error(c, WSX_E_IO, status, uv_strerror(status));
    }
    return;
  }
  if (c->proxy.url)
    begin_proxy(c);
  else
    start_stream(c);
}

static void try_connect(wsx_eventsource_client *c) {
  int rc;
  c->phase = P_CONNECT;
  if ((rc = uv_tcp_init(c->loop, &c->tcp)) < 0) {
    network_error(c, WSX_E_IO, rc, uv_strerror(rc));
    return;
  }
  c->tcp.data = c;
  c->tcp_open = 1;
  (void)uv_tcp_nodelay(&c->tcp, 1);
  rc = wsx__dial_next(&c->dial, &c->tcp);
  if (rc < 0)
    network_error(c, WSX_E_IO, rc, uv_strerror(rc));
}

static void on_resolved(wsx__dial *dl, int status) {
  wsx_eventsource_client *c = dl->owner;
  if (c->closing || c->phase != P_RESOLVE) {
    wsx__dial_stop(dl);
    settle(c);
    return;
  }
  if (status < 0 || !dl->res) {
    network_error(c, WSX_E_DNS, status, uv_strerror(status));
    return;
  }
  try_connect(c);
}

static void on_connect_timeout(uv_timer_t *t) {
  wsx_eventsource_client *c = t->data;
  network_error(c, WSX_E_TIMEOUT, 0, "connect timeout");
}

static void attempt(wsx_eventsource_client *c) {
  /* Through a proxy the dialer goes to the proxy; the origin's name is
   * the CONNECT target (resolved by the proxy). */
  const char *h = c->proxy.url ? c->proxy.host : c->host;
  int rc;
  c->phase = P_RESOLVE;
  c->state = WSX_ES_CONNECTING;
  uv_timer_start(&c->timer, on_connect_timeout, c->connect_timeout, 0);
  rc = wsx__dial_start(&c->dial, c->loop, h, strlen(h),
                       c->proxy.url ? c->proxy.port : c->port, c, on_resolved,
                       on_connect);
  if (rc < 0)
    network_error(c, WSX_E_DNS, rc, uv_strerror(rc));
  else if (rc == 1) /* a literal address: no lookup */
    try_connect(c);
}
