/* The public wsx_socket_* calls (both sides). */
#include <string.h>

#include <sys/socket.h>

#include "driver/embed.h"
#include "uv/internal.h"

struct wsx__ping_rec {
  wsx__ping_rec *next;
  wsx_socket *s;
  wsx_socket_ping_cb cb;
  void *arg;
};

/* Every call that needs the handle or the driver wakes a sleeping socket
 * first (uv/hibernate.c): wsx__sock_awake. */
static int live(const wsx_socket *s) {
  return s && wsx__sock_awake(s) && s->d && !(s->flags & WSX__F_HANDLE_CLOSING) &&
         s->phase == WSX__P_WS;
}

/* Before open (client) the driver queues; after teardown it refuses. */
static int can_send(const wsx_socket *s) {
  return s && wsx__sock_awake(s) && s->d && !(s->flags & WSX__F_HANDLE_CLOSING) &&
         (s->phase == WSX__P_WS || s->phase == WSX__P_CLIENT_HS ||
          s->phase == WSX__P_DIAL);
}

int wsx_socket_send_text(wsx_socket *s, const char *data, size_t len) {
  if (!can_send(s))
    return WSX_E_CLOSED;
  return wsx__sock_after_send(s, wsx_driver_send_text(s->d, data, len));
}

int wsx_socket_send_binary(wsx_socket *s, const void *data, size_t len) {
  if (!can_send(s))
    return WSX_E_CLOSED;
  return wsx__sock_after_send(s, wsx_driver_send_binary(s->d, data, len));
}

int wsx_socket_send(wsx_socket *s, int opcode, const void *data, size_t len,
                    unsigned flags) {
  if (!can_send(s))
    return WSX_E_CLOSED;
  return wsx__sock_after_send(s,
                              wsx_driver_send(s->d, opcode, data, len, flags));
}

int wsx_socket_send_frame(wsx_socket *s, int opcode, int fin, const void *data,
                          size_t len) {
  if (!can_send(s))
    return WSX_E_CLOSED;
  return wsx__sock_after_send(
      s, wsx_driver_send_frame(s->d, opcode, fin, data, len));
}

int wsx_socket_send_zc(wsx_socket *s, int opcode, const void *data,
                       size_t len, wsx_release_cb release, void *user_data) {
  wsx__loopctx *c;
  wsx__zc z, *outer;
  int rc;
  if (!release)
    return WSX_E_INVALID;
  if (!can_send(s)) {
    release((void *)(uintptr_t)data, len, user_data);
    return WSX_E_CLOSED;
  }
  c = s->cfg->ctx;
  memset(&z, 0, sizeof(z));
  z.p = data;
  z.len = len;
  z.release = release;
  z.ud = user_data;
  z.owner = s;
  outer = c->zc; /* a send from a callback of this send */
  c->zc = &z;
  rc = wsx_driver_send(s->d, opcode, data, len, 0);
  c->zc = outer;
  rc = wsx__sock_after_send(s, rc);
  if (!z.taken) /* nothing refers to it (sent, copied or failed) */
    release((void *)(uintptr_t)data, len, user_data);
  return rc;
}

void *wsx_socket_take_message(wsx_socket *s, size_t *len) {
  if (!s || !len || !s->d)
    return NULL;
  return wsx_driver_take_message(s->d, len);
}

void wsx_socket_free_message(wsx_socket *s, void *data) {
  if (s && data)
    wsx__sock_free_message(s, data);
}

static void on_pong_for(wsx_driver *d, void *arg) {
  wsx__ping_rec *r = arg, **pp;
  wsx_socket *s = r->s;
  (void)d;
  for (pp = &s->rare->pings; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  r->cb(s, r->arg);
  wsx__free(&s->cfg->alloc, r);
}

int wsx_socket_ping(wsx_socket *s, const void *data, size_t len,
                    wsx_socket_ping_cb cb, void *arg) {
  wsx__ping_rec *r = NULL;
  int rc;
  if (!can_send(s))
    return WSX_E_CLOSED;
  if (cb) {
    if (!wsx__sock_rare_get(s))
      return WSX_E_NOMEM;
    r = wsx__malloc(&s->cfg->alloc, sizeof(*r));
    if (!r)
      return WSX_E_NOMEM;
    r->s = s;
    r->cb = cb;
    r->arg = arg;
    r->next = s->rare->pings;
    s->rare->pings = r;
  }
  rc = wsx_driver_ping(s->d, data, len, r ? on_pong_for : NULL, r);
  if (rc < 0 && r) {
    s->rare->pings = r->next;
    wsx__free(&s->cfg->alloc, r);
  }
  return wsx__sock_after_send(s, rc);
}

void wsx__sock_free_pings(wsx_socket *s) {
  while (s->rare && s->rare->pings) {
    wsx__ping_rec *r = s->rare->pings;
    s->rare->pings = r->next;
    wsx__free(&s->cfg->alloc, r);
  }
}

int wsx_socket_pong(wsx_socket *s, const void *data, size_t len) {
  if (!can_send(s))
    return WSX_E_CLOSED;
  return wsx__sock_after_send(s, wsx_driver_pong(s->d, data, len));
}

int wsx_socket_close(wsx_socket *s, uint16_t code, const char *reason) {
  int rc;
  if (!s || !wsx__sock_awake(s) ||
      (s->flags & (WSX__F_HANDLE_CLOSING | WSX__F_CLOSE_SENT)) ||
      s->phase == WSX__P_TEARDOWN)
    return WSX_E_CLOSED;
  if (s->phase == WSX__P_DIAL || s->phase == WSX__P_CLIENT_HS) {
    /* Nothing to shake hands with yet. */
    s->flags |= WSX__F_CLOSE_SENT;
    wsx__sock_set_close(s, WSX_CLOSE_ABNORMAL, NULL, 0, 0);
    if (s->d) {
      s->flags |= WSX__F_EOF; /* we close the handle below */
      wsx_driver_abort(s->d, 0, NULL);
    }
    wsx__sock_close_handle(s);
    return WSX_OK;
  }
  if (!live(s))
    return WSX_E_CLOSED;
  rc = wsx_driver_close(s->d, code, reason);
  if (rc < 0)
    return rc;
  s->flags |= WSX__F_CLOSE_SENT;
  if (s->phase == WSX__P_WS && !(s->flags & WSX__F_HANDLE_CLOSING))
    wsx__timer_set(s, uv_now(s->cfg->ctx->loop) + s->cfg->close_timeout);
  return WSX_OK;
}

int wsx_socket_drop(wsx_socket *s, uint16_t code, const char *reason) {
  size_t rlen = reason ? strlen(reason) : 0;
  if (!s || !wsx__sock_awake(s) || (s->flags & WSX__F_HANDLE_CLOSING))
    return WSX_E_CLOSED;
  if (!code)
    code = WSX_CLOSE_NORMAL;
  wsx__sock_set_close(s, code, reason, rlen > 123 ? 123 : rlen, 0);
  s->flags |= WSX__F_EOF; /* no teardown: we close now */
  if (s->d && s->phase == WSX__P_WS && wsx_driver_ready_state(s->d) == WSX_OPEN)
    (void)wsx_driver_close(s->d, code, rlen <= 123 ? reason : NULL);
  if (s->d)
    wsx_driver_abort(s->d, code, reason);
  /* Let the close frame reach the kernel before the handle goes. */
  if (s->cfg->ctx->cork_owner == s && s->cfg->ctx->cork_len) {
    uv_buf_t b =
        uv_buf_init(s->cfg->ctx->cork, (unsigned)s->cfg->ctx->cork_len);
    s->cfg->ctx->cork_len = 0;
    s->cfg->ctx->cork_owner = NULL;
    if (!(s->out && s->out->writing))
      (void)wsx__try_write(s->stream, &b, 1);
  }
  wsx__sock_close_handle(s);
  return WSX_OK;
}

int wsx_socket_pause(wsx_socket *s) {
  if (!s || !wsx__sock_awake(s) || (s->flags & WSX__F_HANDLE_CLOSING))
    return WSX_E_CLOSED;
  if (s->phase == WSX__P_TEARDOWN)
    return WSX_OK;
  s->flags |= WSX__F_PAUSED;
  if (s->phase == WSX__P_DIAL)
    return WSX_OK;
  if (WSX__LAYER_TRANSPORT(s->layer))
    return s->layer->read_ctl(s, s->layer_state, 0);
  return uv_read_stop(s->stream);
}

int wsx_socket_resume(wsx_socket *s) {
  if (!s || !wsx__sock_awake(s) || (s->flags & WSX__F_HANDLE_CLOSING))
    return WSX_E_CLOSED;
  s->flags &= ~WSX__F_PAUSED;
  if (s->phase == WSX__P_DIAL)
    return WSX_OK;
  wsx__sock_start_read(s);
  return WSX_OK;
}

int wsx_socket_ready_state(const wsx_socket *s) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_CLOSED;
  if (s->phase == WSX__P_TEARDOWN)
    return WSX_CLOSED;
  if (s->flags & WSX__F_ASLEEP)
    return WSX_OPEN; /* only an open connection sleeps */
  if (!s->d || s->phase != WSX__P_WS)
    return WSX_CONNECTING;
  return wsx_driver_ready_state(s->d);
}

size_t wsx_socket_buffered_amount(const wsx_socket *s) {
  if (s->flags & WSX__F_ASLEEP)
    return 0; /* a socket with output buffered does not sleep */
  return wsx__sock_buffered(s);
}

/* The getters below do not wake a sleeping socket: a sleeper is an open
 * plain hybi-13 server connection whose url and protocol are saved. */
static const char *saved_str(const wsx_socket *s, int which) {
  return wsx__driver_embed_saved_str(wsx__hib_saved(s), which);
}

const char *wsx_socket_url(const wsx_socket *s) {
  const char *u = (s->flags & WSX__F_ASLEEP) ? saved_str(s, 0)
                  : s->d                     ? wsx_driver_url(s->d)
                                             : NULL;
  return u ? u : "";
}

const char *wsx_socket_protocol(const wsx_socket *s) {
  const char *p = (s->flags & WSX__F_ASLEEP) ? saved_str(s, 1)
                  : s->d                     ? wsx_driver_protocol(s->d)
                                             : NULL;
  return p ? p : "";
}

const char *wsx_socket_extensions(const wsx_socket *s) {
  const char *p = s->d ? wsx_driver_extensions(s->d) : NULL;
  return p ? p : "";
}

const char *wsx_socket_version(const wsx_socket *s) {
  const char *p = s->d ? wsx_driver_version(s->d) : NULL;
  return p ? p : "hybi-13";
}

int wsx_socket_status_code(const wsx_socket *s) {
  if (s->proxy) /* a refused CONNECT: the proxy's answer */
    return wsx_proxy_status_code(s->proxy);
  return s->d ? wsx_driver_status_code(s->d) : 0;
}

const wsx_header *wsx_socket_headers(const wsx_socket *s, size_t *n) {
  if (!s->d && s->req) /* auto_accept's `connection` runs before start */
    return wsx_request_headers(s->req, n);
  if (s->proxy) /* a refused CONNECT: the proxy's answer */
    return wsx_proxy_headers(s->proxy, n);
  if (!s->d) {
    *n = 0;
    return NULL;
  }
  return wsx_driver_headers(s->d, n);
}

int wsx_socket_remote_address(const wsx_socket *s, char *buf, size_t len,
                              int *port) {
  struct sockaddr_storage ss;
  int sl = sizeof(ss), rc;
  if (!buf || len == 0)
    return WSX_E_INVALID;
  buf[0] = '\0';
  if (port)
    *port = 0;
#ifdef WSX_HAVE_HTTP2
  if (wsx_socket_is_http2(s) && !(s = wsx__h2_conn_of(s)))
    return WSX_OK; /* the HTTP/2 connection is gone */
#endif
  if (s->flags & WSX__F_ASLEEP) { /* the kept descriptor: no wake */
    socklen_t zl = sizeof(ss);
    if (s->zfd < 0 || getpeername(s->zfd, (struct sockaddr *)&ss, &zl) != 0)
      return WSX_OK; /* a failed wake: the connection is gone */
  } else if (s->stream->type != UV_TCP) {
    return WSX_OK;
  } else if ((rc = uv_tcp_getpeername((const uv_tcp_t *)s->stream,
                                      (struct sockaddr *)&ss, &sl)) < 0) {
    return rc;
  }
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    rc = uv_ip6_name(a, buf, len);
    if (port)
      *port = ntohs(a->sin6_port);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    rc = uv_ip4_name(a, buf, len);
    if (port)
      *port = ntohs(a->sin_port);
  }
  return rc < 0 ? WSX_E_INVALID : WSX_OK;
}

void *wsx_socket_user_data(const wsx_socket *s) { return s->ud; }
void wsx_socket_set_user_data(wsx_socket *s, void *ud) { s->ud = ud; }
int wsx_socket_set_callbacks(wsx_socket *s, const wsx_socket_callbacks *c) {
  const wsx_socket_callbacks *t;
  if (WSX__STRUCT_OK(wsx_socket_callbacks, c) != WSX_OK)
    return WSX_E_STRUCT_SIZE;
  t = wsx__cb_intern(s->cfg->ctx, c);
  if (!t)
    return WSX_E_NOMEM;
  s->cb = t;
  return WSX_OK;
}
uv_loop_t *wsx_socket_loop(const wsx_socket *s) { return s->cfg->ctx->loop; }
/* The app may keep the driver's pointer: the socket never sleeps again. */
wsx_driver *wsx_socket_driver(const wsx_socket *s) {
  wsx_socket *m = (wsx_socket *)(uintptr_t)s;
  (void)wsx__sock_awake(s);
  m->flags |= WSX__F_NO_SLEEP;
  return s->d;
}
wsx_server *wsx_socket_server(const wsx_socket *s) { return wsx__sock_srv(s); }

int wsx_http2_available(void) {
#ifdef WSX_HAVE_HTTP2
  return 1;
#else
  return 0;
#endif
}

int wsx_socket_is_http2(const wsx_socket *s) {
  /* A client socket waiting for its HTTP/2 connection (phase DIAL) may
   * still fall back to HTTP/1.1. */
  return s && WSX__LAYER_TRANSPORT(s->layer) && s->phase != WSX__P_DIAL;
}
