/*
 * A connection's I/O: reading from the loop-wide buffer, corked and batched
 * writing (uv_try_write first, copy only what the kernel did not take),
 * deadlines, teardown, and the driver's callbacks.
 */
#include <string.h>

#include "uv/internal.h"

static const char none_protocol[] = "";

static size_t round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

wsx_socket *wsx__sock_alloc(const wsx__cfg *cfg, int own_cfg) {
  size_t sz = round16(sizeof(wsx_socket)) + cfg->ext_size;
  wsx_socket *s = wsx__malloc(&cfg->alloc, sz);
  if (!s)
    return NULL;
  memset(s, 0, sz);
  s->cfg = cfg;
  s->stream = (uv_stream_t *)&s->h;
  s->cb = &wsx__no_cbs;
  s->close_code = WSX_CLOSE_ABNORMAL;
  if (own_cfg)
    s->flags |= WSX__F_OWN_CFG;
  return s;
}

void *wsx_socket_ext(const wsx_socket *s) {
  return s->cfg->ext_size ? (char *)s + round16(sizeof(*s)) : NULL;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  wsx_socket *s = h->data;
  (void)suggested;
  b->base = s->cfg->ctx->rbuf;
  b->len = WSX__RBUF_SIZE;
}

static void uncork(wsx_socket *s);
static void continue_teardown(wsx_socket *s);

void wsx__sock_on_eof(wsx_socket *s, ssize_t err) {
  switch (s->phase) {
  case WSX__P_HEAD:
  case WSX__P_REQUEST:
  case WSX__P_HTTP:
    wsx__server_on_eof(s);
    return;
  case WSX__P_PROXY:
    wsx__proxy_on_eof(s, err);
    return;
  case WSX__P_CLIENT_HS:
    s->flags |= WSX__F_EOF;
    wsx__sock_connect_failed(s, err == UV_EOF ? WSX_E_CLOSED : WSX_E_IO,
                             err == UV_EOF ? 0 : (int)err,
                             err == UV_EOF
                                 ? "the server closed the connection during "
                                   "the handshake"
                                 : uv_strerror((int)err));
    break;
  case WSX__P_WS:
    s->flags |= WSX__F_EOF;
    if (err != UV_EOF)
      wsx__sock_error(s, WSX_E_IO, 0, uv_strerror((int)err));
    if (s->d)
      wsx_driver_abort(s->d, 0, NULL);
    break;
  default:
    break;
  }
  wsx__sock_close_handle(s);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  wsx_socket *s = st->data;
  wsx__loopctx *c = s->cfg->ctx;
  if (n == 0 || (s->flags & WSX__F_HANDLE_CLOSING))
    return;
  if (n < 0) {
    wsx__sock_on_eof(s, n);
    return;
  }
  s->flags |= WSX__F_RX_SEEN;
  if (c->cork_owner && c->cork_owner != s)
    uncork(c->cork_owner);
  c->cork_owner = s;
  if (s->layer) {
    int rc = s->layer->on_read(s, s->layer_state, b->base, (size_t)n);
    if (rc < 0) {
      wsx__sock_error(s, rc, 0, wsx_uv_strerror(rc));
      s->flags |= WSX__F_EOF;
      if (s->d)
        wsx_driver_abort(s->d, 0, NULL);
      wsx__sock_close_handle(s);
    }
  } else {
    wsx__sock_on_plain(s, b->base, (size_t)n);
  }
  uncork(s);
}

void wsx__sock_on_plain(wsx_socket *s, char *data, size_t len) {
  switch (s->phase) {
  case WSX__P_HEAD:
  case WSX__P_REQUEST:
  case WSX__P_HTTP:
    wsx__server_on_head_data(s, data, len);
    break;
  case WSX__P_PROXY:
    wsx__proxy_on_data(s, data, len);
    break;
  case WSX__P_CLIENT_HS:
  case WSX__P_WS:
    /* Errors come back as error + close events. */
    (void)wsx_driver_parse(s->d, (uint8_t *)data, len);
    break;
  default: /* teardown: the peer's bytes no longer matter */
    break;
  }
}

void wsx__sock_start_read(wsx_socket *s) {
  int rc;
  if (s->flags & (WSX__F_PAUSED | WSX__F_HANDLE_CLOSING))
    return;
  rc = uv_read_start(s->stream, on_alloc, on_read);
  if (rc < 0 && rc != UV_EALREADY) {
    wsx__sock_error(s, WSX_E_IO, 0, uv_strerror(rc));
    wsx__sock_close_handle(s);
  }
}

/* ---- writing ---- */

size_t wsx__sock_buffered(const wsx_socket *s) {
  size_t n = s->stream->write_queue_size;
  if (s->out)
    n += s->out->pending.len;
  if (s->cfg->ctx->cork_owner == s)
    n += s->cfg->ctx->cork_len;
  return n;
}

static void check_drain(wsx_socket *s) {
  if (!(s->flags & WSX__F_ABOVE_HWM) ||
      wsx__sock_buffered(s) > wsx__sock_hwm(s))
    return;
  s->flags &= ~WSX__F_ABOVE_HWM;
  if (s->phase == WSX__P_HTTP)
    wsx__http_res_on_drain(s);
  else if (s->cb->drain && !(s->flags & WSX__F_HANDLE_CLOSING))
    s->cb->drain(s, s->ud);
}

static void fail_io(wsx_socket *s, int err) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  s->flags |= WSX__F_EOF;
  wsx__sock_error(s, WSX_E_IO, 0, uv_strerror(err));
  wsx__sock_close_handle(s);
}

static wsx__out *get_out(wsx_socket *s) {
  if (!s->out) {
    s->out = wsx__malloc(&s->cfg->alloc, sizeof(*s->out));
    if (s->out) {
      memset(s->out, 0, sizeof(*s->out));
      s->out->req.data = s;
      s->out->shut.data = s;
    }
  }
  return s->out;
}

static int append(wsx_socket *s, wsx__buf *dst, const uv_buf_t *b, unsigned n,
                  size_t skip) {
  unsigned i;
  for (i = 0; i < n; i++) {
    size_t len = b[i].len;
    const char *p = b[i].base;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    p += skip;
    len -= skip;
    skip = 0;
    if (wsx__buf_append(dst, &s->cfg->alloc, p, len) != WSX_OK)
      return WSX_E_NOMEM;
  }
  return WSX_OK;
}

static void on_write(uv_write_t *req, int status);

static int start_write(wsx_socket *s) {
  wsx__out *o = s->out;
  uv_buf_t b[16]; /* up to 64 GiB of backlog in one write */
  unsigned k = 0;
  int rc;
  if (wsx__uv_bufs(b, 16, &k, o->inflight.data, o->inflight.len) <
      o->inflight.len)
    return UV_ENOBUFS;
  rc = uv_write(&o->req, s->stream, b, k, on_write);
  if (rc < 0)
    return rc;
  o->writing = 1;
  return WSX_OK;
}

static void release_out(wsx_socket *s) {
  wsx__out *o = s->out;
  if (!o || o->writing || (s->flags & WSX__F_SHUTDOWN))
    return;
  /* An idle connection holds no output memory. */
  wsx__buf_free(&o->inflight, &s->cfg->alloc);
  wsx__buf_free(&o->pending, &s->cfg->alloc);
  wsx__free(&s->cfg->alloc, o);
  s->out = NULL;
}

static void on_write(uv_write_t *req, int status) {
  wsx_socket *s = req->data;
  wsx__out *o = s->out;
  wsx__buf t;
  o->writing = 0;
  o->inflight.len = 0;
  if (status < 0) {
    if (status != UV_ECANCELED)
      fail_io(s, status);
    return;
  }
  if (o->pending.len) {
    t = o->inflight;
    o->inflight = o->pending;
    o->pending = t;
    if ((status = start_write(s)) < 0) {
      fail_io(s, status);
      return;
    }
  } else {
    release_out(s);
  }
  check_drain(s);
  continue_teardown(s);
}

/* Writes now: the kernel takes what it can, the rest is queued. */
static int write_now(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  wsx__out *o = s->out;
  size_t total = 0;
  unsigned i;
  int r;
  if (o && o->writing)
    return append(s, &o->pending, b, n, 0);
  for (i = 0; i < n; i++)
    total += b[i].len;
  if (total == 0)
    return WSX_OK;
  r = uv_try_write(s->stream, b, n);
  if (r == UV_EAGAIN || r == UV_ENOSYS)
    r = 0;
  if (r < 0) {
    fail_io(s, r);
    return r;
  }
  if ((size_t)r == total)
    return WSX_OK;
  if (!(o = get_out(s)) || append(s, &o->inflight, b, n, (size_t)r) < 0)
    return WSX_E_NOMEM;
  if ((r = start_write(s)) < 0) {
    fail_io(s, r);
    return r;
  }
  return WSX_OK;
}

int wsx__sock_raw_write(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  wsx__loopctx *c = s->cfg->ctx;
  uv_buf_t arr[33];
  size_t total = 0;
  unsigned i;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_E_CLOSED;
  if (c->cork_owner != s)
    return write_now(s, b, n);
  for (i = 0; i < n; i++)
    total += b[i].len;
  /* Corked: small output collects in the loop's cork buffer and leaves in
   * one write when the read callback ends. */
  if (!(s->out && s->out->writing) && total <= WSX__CORK_SIZE - c->cork_len) {
    for (i = 0; i < n; i++) {
      if (!b[i].len) /* an empty part may have a NULL base */
        continue;
      memcpy(c->cork + c->cork_len, b[i].base, b[i].len);
      c->cork_len += b[i].len;
    }
    return WSX_OK;
  }
  if (c->cork_len == 0)
    return write_now(s, b, n);
  arr[0] = uv_buf_init(c->cork, (unsigned)c->cork_len);
  c->cork_len = 0;
  if (n > 32) {
    int rc = write_now(s, arr, 1);
    return rc < 0 ? rc : write_now(s, b, n);
  }
  memcpy(arr + 1, b, n * sizeof(*b));
  return write_now(s, arr, n + 1);
}

static void uncork(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  uv_buf_t b;
  if (c->cork_owner != s)
    return;
  c->cork_owner = NULL;
  if (c->cork_len) {
    b = uv_buf_init(c->cork, (unsigned)c->cork_len);
    c->cork_len = 0;
    if (!(s->flags & WSX__F_HANDLE_CLOSING))
      (void)write_now(s, &b, 1);
  }
  if (!(s->flags & WSX__F_HANDLE_CLOSING)) {
    check_drain(s);
    continue_teardown(s);
  }
}

int wsx__sock_write(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  if (s->layer)
    return s->layer->write(s, s->layer_state, b, n);
  return wsx__sock_raw_write(s, b, n);
}

int wsx__sock_after_send(wsx_socket *s, int rc) {
  size_t b;
  if (rc < 0)
    return rc;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_OK;
  b = wsx__sock_buffered(s);
  if (b > s->cfg->max_buffered) {
    static const char msg[] = "buffered amount exceeds max_buffered";
    s->flags |= WSX__F_OVER_LIMIT | WSX__F_EOF;
    wsx__sock_error(s, WSX_E_POLICY, WSX_CLOSE_POLICY, msg);
    wsx__sock_set_close(s, WSX_CLOSE_POLICY, msg, sizeof(msg) - 1, 0);
    if (s->d)
      wsx_driver_abort(s->d, WSX_CLOSE_POLICY, msg);
    wsx__sock_close_handle(s);
    return 1;
  }
  if (b > s->cfg->hwm) {
    s->flags |= WSX__F_ABOVE_HWM;
    return 1;
  }
  return 0;
}

/* ---- teardown ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  wsx_socket *s = req->data;
  s->flags &= ~WSX__F_SHUTDOWN;
  if (status < 0 && status != UV_ECANCELED)
    wsx__sock_close_handle(s);
  else if (!(s->flags & WSX__F_HANDLE_CLOSING))
    release_out(s);
}

static void continue_teardown(wsx_socket *s) {
  wsx__out *o;
  int rc;
  if (s->phase != WSX__P_TEARDOWN ||
      (s->flags &
       (WSX__F_SHUTDOWN | WSX__F_HANDLE_CLOSING | WSX__F_FLUSH_CLOSE)))
    return;
  if (s->cfg->ctx->cork_owner == s && s->cfg->ctx->cork_len)
    return; /* uncork() comes back here */
  if (s->out && s->out->writing)
    return; /* on_write() comes back here */
  if (s->layer && s->layer->shutdown &&
      s->layer->shutdown(s, s->layer_state) < 0) {
    wsx__sock_close_handle(s);
    return;
  }
  if ((s->flags & WSX__F_NO_LINGER) || !(o = get_out(s))) {
    wsx__sock_close_handle(s); /* every byte is with the kernel now */
    return;
  }
  s->flags |= WSX__F_SHUTDOWN | WSX__F_FLUSH_CLOSE;
  rc = uv_shutdown(&o->shut, s->stream, on_shutdown);
  if (rc < 0) {
    s->flags &= ~WSX__F_SHUTDOWN;
    wsx__sock_close_handle(s);
  }
}

void wsx__sock_teardown(wsx_socket *s) {
  uint32_t linger;
  if (s->flags & WSX__F_HANDLE_CLOSING || s->phase == WSX__P_TEARDOWN)
    return;
  s->phase = WSX__P_TEARDOWN;
  linger = s->cfg->close_timeout < WSX__LINGER_MS ? s->cfg->close_timeout
                                                  : WSX__LINGER_MS;
  wsx__timer_set(s, uv_now(s->cfg->ctx->loop) + linger);
  /* The peer's FIN only shows up while reading. */
  s->flags &= ~WSX__F_PAUSED;
  wsx__sock_start_read(s);
  continue_teardown(s);
}

void wsx__sock_handle_closed(uv_handle_t *h) {
  wsx_socket *s = h->data;
  if (s->dial) {
    wsx__dial_on_handle_closed(s);
    if (s->dial)
      return; /* client.c finishes when its request completes */
  }
  wsx__sock_finalize(s);
}

void wsx__sock_close_handle(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  s->flags |= WSX__F_HANDLE_CLOSING;
  wsx__timer_set(s, 0);
  if (c->cork_owner == s) {
    c->cork_owner = NULL;
    c->cork_len = 0;
  }
  s->stream->data = s;
  /* A client between two connect attempts is already closing: the retry's
   * close callback finishes the job. */
  if (!uv_is_closing((uv_handle_t *)s->stream))
    uv_close((uv_handle_t *)s->stream, wsx__sock_handle_closed);
}

void wsx__sock_finalize(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  const wsx_allocator *a = &s->cfg->alloc;
  wsx_allocator alloc = *a;
  wsx_close_event e;
  if (s->req)
    wsx__server_request_gone(s);
  if (s->cb->close) {
    e.code = s->close_code;
    e.reason = s->close_reason ? s->close_reason : "";
    e.reason_len = strlen(e.reason);
    e.clean = s->close_clean;
    s->cb->close(s, &e, s->ud);
  }
  if (wsx__sock_srv(s))
    wsx__server_sock_gone(s);
  if (s->d)
    wsx_driver_free(s->d);
  wsx_proxy_free(s->proxy);
  wsx__sock_free_pings(s);
  if (s->out) {
    wsx__buf_free(&s->out->inflight, &alloc);
    wsx__buf_free(&s->out->pending, &alloc);
    wsx__free(&alloc, s->out);
  }
  if (s->layer && s->layer->free)
    s->layer->free(s, s->layer_state);
  wsx__free(&alloc, s->close_reason);
  if (s->flags & WSX__F_OWN_CFG) {
    wsx__cfg *cfg = (wsx__cfg *)s->cfg;
    wsx__cfg_free(cfg);
    wsx__free(&alloc, cfg);
  }
  wsx__free(&alloc, s);
  wsx__loopctx_unref(c);
}

void wsx__sock_set_close(wsx_socket *s, uint16_t code, const char *reason,
                         size_t reason_len, int clean) {
  if (s->flags & WSX__F_CLOSED_SET)
    return;
  s->flags |= WSX__F_CLOSED_SET;
  s->close_code = code;
  s->close_clean = (uint8_t)(clean != 0);
  if (reason && reason_len)
    s->close_reason = wsx__strndup(&s->cfg->alloc, reason, reason_len);
}

void wsx__sock_error(wsx_socket *s, int code, uint16_t close_code,
                     const char *msg) {
  wsx_error_event e;
  if (!s->cb->error)
    return;
  e.code = code;
  e.message = msg;
  e.close_code = close_code;
  s->cb->error(s, &e, s->ud);
}

/* ---- deadlines ---- */

void wsx__sock_schedule_keepalive(wsx_socket *s) {
  if (s->cfg->ping_interval && s->phase == WSX__P_WS &&
      !(s->flags & WSX__F_CLOSE_SENT) &&
      wsx_driver_ready_state(s->d) == WSX_OPEN)
    wsx__timer_set(s, uv_now(s->cfg->ctx->loop) + s->cfg->ping_interval);
}

static void drop_now(wsx_socket *s, int err, const char *msg) {
  s->flags |= WSX__F_EOF;
  if (err)
    wsx__sock_error(s, err, 0, msg);
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

void wsx__sock_timer_lost(wsx_socket *s) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  drop_now(s, WSX_E_INTERNAL,
           "the connection's deadline (handshake, close or keepalive "
           "timeout) could not be armed");
}

static void keepalive_tick(wsx_socket *s) {
  uint64_t now = uv_now(s->cfg->ctx->loop);
  const wsx__cfg *cfg = s->cfg;
  if (s->flags & WSX__F_KA_WAITING) {
    if (!(s->flags & WSX__F_RX_SEEN)) {
      drop_now(s, WSX_E_TIMEOUT, "keepalive: no pong within the grace period");
      return;
    }
    s->flags &= ~WSX__F_KA_WAITING;
    wsx__timer_set(s, now + (cfg->ping_interval > cfg->ka_grace
                                 ? cfg->ping_interval - cfg->ka_grace
                                 : 1));
    return;
  }
  s->flags &= ~WSX__F_RX_SEEN;
  (void)wsx_driver_ping(s->d, NULL, 0, NULL, NULL);
  if (cfg->ka_grace) {
    s->flags |= WSX__F_KA_WAITING;
    wsx__timer_set(s, now + cfg->ka_grace);
  } else {
    wsx__timer_set(s, now + cfg->ping_interval);
  }
}

void wsx__sock_on_timer(wsx_socket *s) {
  switch (s->phase) {
  case WSX__P_DIAL:
  case WSX__P_PROXY:
  case WSX__P_CLIENT_HS:
    s->flags |= WSX__F_EOF;
    wsx__sock_connect_failed(s, WSX_E_TIMEOUT, 0,
                             "connect_timeout expired before the handshake "
                             "completed");
    if (s->d)
      wsx_driver_abort(s->d, 0, NULL);
    wsx__sock_close_handle(s);
    break;
  case WSX__P_WS:
    if ((s->flags & WSX__F_CLOSE_SENT) ||
        wsx_driver_ready_state(s->d) != WSX_OPEN)
      drop_now(s, WSX_E_TIMEOUT,
               "close_timeout: the peer did not answer "
               "the closing handshake");
    else
      keepalive_tick(s);
    break;
  default: /* handshake timeout, or the linger after our FIN */
    wsx__sock_close_handle(s);
    break;
  }
}

/* ---- driver callbacks ---- */

static int drv_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  wsx_socket *s = ud;
  uv_buf_t b[32];
  size_t i = 0, off = 0; /* next byte: iov[i].base + off */
  (void)d;
  while (i < n) {
    unsigned k = 0;
    int rc;
    /* Payloads over UINT_MAX bytes take several bufs (uv/uvbuf.h). */
    while (i < n && k < 32) {
      off += wsx__uv_bufs(b, 32, &k, (const char *)iov[i].base + off,
                          iov[i].len - off);
      if (off < iov[i].len)
        break; /* b is full */
      i++;
      off = 0;
    }
    rc = wsx__sock_write(s, b, k);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static void drv_open(wsx_driver *d, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  s->phase = WSX__P_WS;
  wsx__timer_set(s, 0);
  wsx__sock_schedule_keepalive(s);
  if (s->cb->open)
    s->cb->open(s, s->ud);
}

static void drv_message(wsx_driver *d, const wsx_message *m, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (s->cb->message)
    s->cb->message(s, m, s->ud);
}

static void drv_frame(wsx_driver *d, const wsx_message *m, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (s->cb->frame)
    s->cb->frame(s, m, s->ud);
}

static void drv_ping(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (s->cb->ping)
    s->cb->ping(s, p, n, s->ud);
}

static void drv_pong(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (s->cb->pong)
    s->cb->pong(s, p, n, s->ud);
}

static void drv_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  wsx_socket *s = ud;
  if (s->phase == WSX__P_CLIENT_HS) {
    const char *msg = NULL;
    int code = wsx_driver_last_error(d, &msg);
    wsx__sock_connect_failed(s, code ? code : WSX_E_HANDSHAKE, 0,
                             msg && *msg ? msg : "the handshake failed");
    wsx__sock_set_close(s, WSX_CLOSE_ABNORMAL, NULL, 0, 0);
  } else {
    wsx__sock_set_close(s, e->code, e->reason, e->reason_len, e->clean);
  }
  if (s->flags & (WSX__F_EOF | WSX__F_HANDLE_CLOSING))
    return; /* the caller closes the handle */
  /* RFC 6455 7.1.1: the server closes the TCP connection first. After a
   * complete closing handshake the client has nothing more to send, so a
   * plain server connection closes as soon as its output is flushed instead
   * of half-closing and waiting for the client's FIN (saves a shutdown, an
   * epoll change and a read per connection). */
  if (e->clean && !(s->flags & WSX__F_CLIENT) && !s->layer)
    s->flags |= WSX__F_NO_LINGER;
  wsx__sock_teardown(s);
}

static void drv_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (s->phase == WSX__P_CLIENT_HS) {
    wsx__sock_connect_failed(s, e->code, 0, e->message);
    return;
  }
  if (s->flags & WSX__F_STARTING)
    return; /* accept() reports it as its return value */
  if (s->cb->error)
    s->cb->error(s, e, s->ud);
}

static const char *drv_select(wsx_driver *d, const char *const *offered,
                              size_t n, void *ud) {
  wsx_socket *s = ud;
  const char *const *p;
  size_t i;
  (void)d;
  if (s->cfg->ctx->chosen_protocol == none_protocol)
    return NULL;
  if (s->cfg->ctx->chosen_protocol)
    return s->cfg->ctx->chosen_protocol;
  for (i = 0; i < n; i++)
    for (p = s->cfg->dopts.protocols; p && *p; p++)
      if (strcmp(*p, offered[i]) == 0)
        return offered[i];
  return NULL;
}

const wsx_driver_callbacks wsx__drv_cbs = {
    drv_write, NULL,     drv_open,  drv_message, drv_frame,
    drv_ping,  drv_pong, drv_close, drv_error,   drv_select};

int wsx__sock_start_server(wsx_socket *s, const wsx_http_request *http,
                           const char *protocol, int explicit_protocol,
                           const char *origin, int version, uint8_t *rest,
                           size_t rest_len) {
  const wsx__cfg *cfg = s->cfg;
  const char *saved_choice;
  size_t i;
  int rc = WSX_OK;
  s->d = wsx_driver_new_server_request(http, &cfg->dopts, &wsx__drv_cbs, s);
  if (!s->d)
    return WSX_E_NOMEM;
  for (i = 0; rc == WSX_OK && i < cfg->num_headers; i++)
    rc = wsx_driver_set_header(s->d, cfg->headers[i].name,
                               cfg->headers[i].value);
  if (rc == WSX_OK && origin && (version == 7 || version == 8))
    rc = wsx_driver_set_header(s->d, "Sec-WebSocket-Origin", origin);
  for (i = 0; rc == WSX_OK && cfg->exts && cfg->exts[i]; i++)
    rc = wsx_driver_add_extension(s->d, cfg->exts[i]);
  if (rc != WSX_OK)
    return rc;
  /* Saved and restored: an open callback may accept another request. */
  saved_choice = s->cfg->ctx->chosen_protocol;
  s->cfg->ctx->chosen_protocol =
      explicit_protocol ? (protocol ? protocol : none_protocol) : NULL;
  s->phase = WSX__P_WS;
  wsx__timer_set(s, 0);
  s->flags |= WSX__F_STARTING;
  rc = wsx_driver_start(s->d);
  s->cfg->ctx->chosen_protocol = saved_choice;
  s->flags &= ~WSX__F_STARTING;
  if (rc < 0) {
    /* A refused handshake belongs to no socket the app knows of. */
    s->cb = &wsx__no_cbs;
    return rc;
  }
  if (rest_len)
    (void)wsx_driver_parse(s->d, rest, rest_len);
  return WSX_OK;
}
