/*
 * The open-WebSocket phase of a socket (uv/internal.h, wsx__ws_phase): the
 * driver's callbacks (its output goes to the socket core's one write path),
 * bytes to the driver, EOF, keepalive pings and the close timeout, and
 * the start of a server driver from a parsed request.
 */
#include <string.h>

#include "driver/embed.h"
#include "uv/internal.h"

static const char none_protocol[] = "";

/* ---- keepalive and close timeout ---- */

void wsx__sock_schedule_keepalive(wsx_socket *s) {
  if (s->cfg->ping_interval && s->phase == WSX__P_WS &&
      !(s->flags & WSX__F_CLOSE_SENT) &&
      wsx_driver_ready_state(s->d) == WSX_OPEN)
    wsx__timer_set(s, uv_now(s->cfg->ctx->loop) + s->cfg->ping_interval);
}

static void drop_now(wsx_socket *s, int err, const char *msg) {
  wsx__sock_drop(s, err, msg, 0, NULL);
}

/* ---- the WS role (wsx__roles) ---- */

void wsx__ws_drop(wsx_socket *s, uint16_t code, const char *reason) {
  if (s->d)
    wsx_driver_abort(s->d, code, reason);
}

void wsx__ws_closing(wsx_socket *s) {
  if (s->d)
    wsx_driver_set_budget(s->d, NULL, NULL);
}

void wsx__ws_gone(wsx_socket *s) {
  if (s->d)
    wsx_driver_free(s->d);
  wsx__sock_free_pings(s);
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

static void ws_on_timer(wsx_socket *s) {
  if ((s->flags & WSX__F_CLOSE_SENT) ||
      wsx_driver_ready_state(s->d) != WSX_OPEN)
    drop_now(s, WSX_E_TIMEOUT,
             "close_timeout: the peer did not answer "
             "the closing handshake");
  else
    keepalive_tick(s);
}

void wsx__ws_on_data(wsx_socket *s, char *data, size_t len) {
  /* Errors come back as error + close events. */
  (void)wsx_driver_parse(s->d, (uint8_t *)data, len);
}

static void ws_on_eof(wsx_socket *s, ssize_t err) {
  s->flags |= WSX__F_EOF;
  if (err != UV_EOF)
    wsx__sock_error(s, WSX_E_IO, 0, uv_strerror((int)err));
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

static char *ws_rx_span(wsx_socket *s, size_t min, size_t *len) {
  return s->d ? wsx_driver_recv_buffer(s->d, min, len) : NULL;
}

static void ws_rx_commit(wsx_socket *s, size_t n) {
  /* Errors come back as error + close events. */
  (void)wsx_driver_recv_commit(s->d, n);
}

const wsx__phase_ops wsx__ws_phase = {wsx__ws_on_data, ws_on_eof, ws_on_timer,
                                      NULL, NULL};
const wsx__rx_ops wsx__ws_rx = {ws_rx_span, ws_rx_commit};

/* ---- driver callbacks ---- */

/* Several parts, or one over WSX__UV_BUF_MAX: converted to uv bufs, 32 at
 * a time. */
static WSX__OUTLINE int drv_write_parts(wsx_socket *s, const wsx_iovec *iov,
                                        size_t n) {
  uv_buf_t b[32];
  size_t i = 0, off = 0; /* next byte: iov[i].base + off */
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

static int drv_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  wsx_socket *s = ud;
  (void)d;
  if (n == 1 && iov[0].len <= WSX__UV_BUF_MAX) {
    /* The common case (an echoed frame whose header was written in place,
     * a small frame): one buf, no conversion loop. */
    uv_buf_t b = wsx__uv_buf(iov[0].base, iov[0].len);
    int rc = wsx__sock_write(s, &b, 1);
    return rc < 0 ? rc : 0;
  }
  return drv_write_parts(s, iov, n);
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
  /* The client, for its part, waits for that close (7.1.1: it SHOULD), so
   * that TIME_WAIT lands on the server and not on the client's port; if
   * the server does not close within the linger time (WSX__LINGER_MS, at
   * most close_timeout), the client closes (it MAY). */
  if (e->clean && (s->flags & WSX__F_CLIENT) && !s->layer)
    s->flags |= WSX__F_AWAIT_FIN;
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

const wsx_driver_callbacks wsx__drv_cbs = {sizeof(wsx_driver_callbacks),
    drv_write, NULL,     drv_open,  drv_message, drv_frame,
    drv_ping,  drv_pong, drv_close, drv_error,   drv_select};

int wsx__sock_start_server(wsx_socket *s, const wsx_http_request *http,
                           const char *protocol, int explicit_protocol,
                           const char *origin, int version,
                           const wsx_header *extra, size_t num_extra,
                           uint8_t *rest, size_t rest_len) {
  const wsx__cfg *cfg = s->cfg;
  const char *saved_choice;
  size_t i;
  int rc = WSX_OK;
  if (cfg->drv_room) /* one block per connection (driver/embed.h) */
    s->d = wsx__driver_embed_server_request(wsx__sock_room(s), http,
                                            &cfg->dopts, &cfg->alloc,
                                            &wsx__drv_cbs, s);
  else
    s->d = wsx_driver_new_server_request(http, &cfg->dopts, &wsx__drv_cbs, s);
  if (!s->d)
    return WSX_E_NOMEM;
  wsx__sock_budget_attach(s);
  for (i = 0; rc == WSX_OK && i < cfg->num_headers; i++)
    rc = wsx_driver_set_header(s->d, cfg->headers[i].name,
                               cfg->headers[i].value);
  for (i = 0; rc == WSX_OK && i < num_extra; i++)
    rc = wsx_driver_set_header(s->d, extra[i].name, extra[i].value);
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
  if (rest_len) /* sliced like any input (yield.c) */
    wsx__sock_feed(s, (char *)rest, rest_len);
  return WSX_OK;
}
