/* Listeners and server control (the HTTP front is front.c). */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver/embed.h"
#include "uv/internal.h"
#include "uv/tls.h"

static void hib_start(wsx_server *srv, uint32_t after);

wsx_server *wsx_server_new(uv_loop_t *loop, const wsx_server_options *opts_in,
                           const wsx_server_callbacks *cbs_in, void *user_data,
                           int *err) {
  /* Every struct in this library's layout (an older caller's missing
   * members are zero); nested ones are checked by the code reading them. */
  wsx_server_options oc;
  wsx_server_callbacks cc;
  wsx_socket_options so;
  wsx_driver_options dc;
  const wsx_server_options *opts = &oc;
  const wsx_server_callbacks *cbs = &cc;
  wsx_allocator a;
  wsx_server *srv;
  int rc;
  if (!loop) {
    if (err)
      *err = WSX_E_INVALID;
    return NULL;
  }
  if ((rc = WSX__STRUCT_IN(wsx_server_options, &oc, opts_in)) != WSX_OK ||
      (rc = WSX__STRUCT_IN(wsx_server_callbacks, &cc, cbs_in)) != WSX_OK ||
      (rc = WSX__STRUCT_OK(wsx_socket_callbacks, cc.socket)) != WSX_OK ||
      (rc = WSX__STRUCT_IN(wsx_socket_options, &so, oc.socket)) != WSX_OK ||
      (rc = WSX__STRUCT_IN(wsx_driver_options, &dc, so.driver)) != WSX_OK) {
    if (err)
      *err = rc;
    return NULL;
  }
  wsx__alloc_init(&a, dc.allocator);
  srv = wsx__malloc(&a, sizeof(*srv));
  if (!srv) {
    if (err)
      *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(srv, 0, sizeof(*srv));
  rc = wsx__cfg_init(&srv->cfg, opts->socket);
  srv->cfg.drv_room = wsx__driver_embed_size(); /* driver inline (ws.c) */
  if (rc == WSX_OK && opts->tls)
    rc = wsx__tls_server_ctx_new(&srv->cfg.alloc, opts->tls, &srv->cfg.tls);
  if (rc == WSX_OK && !(srv->ctx = wsx__loopctx_get(loop, &srv->cfg.alloc)))
    rc = WSX_E_NOMEM;
  if (rc == WSX_OK &&
      !(srv->sock_cb = wsx__cb_intern(srv->ctx, cbs->socket))) {
    wsx__loopctx_unref(srv->ctx);
    rc = WSX_E_NOMEM;
  }
  if (rc != WSX_OK) {
    wsx__cfg_free(&srv->cfg);
    wsx__free(&a, srv);
    if (err)
      *err = rc;
    return NULL;
  }
  srv->cfg.ctx = srv->ctx;
  srv->loop = loop;
  srv->cb = *cbs;
  srv->cb.socket = NULL; /* the caller's; interned in sock_cb */
  srv->ud = user_data;
  srv->hs_timeout = opts->handshake_timeout ? opts->handshake_timeout
                                            : WSX_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  srv->max_conns = opts->max_connections;
  srv->max_body =
      opts->max_http_body ? opts->max_http_body : WSX_DEFAULT_MAX_HTTP_BODY;
  srv->idle_timeout = opts->http_idle_timeout
                          ? opts->http_idle_timeout
                          : WSX_DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  srv->max_requests = opts->max_requests_per_connection
                          ? opts->max_requests_per_connection
                          : WSX_DEFAULT_MAX_REQUESTS_PER_CONNECTION;
  srv->auto_accept = opts->auto_accept;
  srv->trust_xff = opts->trust_forwarded_for;
  srv->backlog = opts->backlog > 0 ? opts->backlog : WSX_DEFAULT_BACKLOG;
  srv->ipv6_only = opts->ipv6_only;
  srv->reuse_port = opts->reuse_port;
  hib_start(srv, opts->hibernate_after);
  if (err)
    *err = WSX_OK;
  return srv;
}

/* ---- hibernation (hibernate.c) ---- */

static void on_sweep(uv_timer_t *t) {
  wsx_server *srv = t->data;
  uint64_t every = uv_timer_get_repeat(t), now = uv_now(t->loop);
  if (srv->hib_trim) {
    /* The freed handles' close callbacks have run (in the loop iteration
     * before this one): their memory goes back to the system. */
    srv->hib_trim = 0;
    srv->hib_slept = 0;
    srv->hib_trim_n = wsx__hib_sleeping(srv->ctx);
    srv->hib_trim_at = now ? now : 1;
    wsx__hib_trim();
    return;
  }
  srv->hib_slept += wsx__hib_sweep(srv->conns);
  /* With the default allocator, trim in a later iteration of the loop (1
   * ms: a 0 ms timer started from a timer callback would run in this same
   * timer phase, before the close callbacks; the sweeps go on as before)
   * when 64 or more went to sleep since the last trim, and either
   *  - the loop's sleepers grew by 64 or more since then (idle
   *    connections pile up: give their memory back now), or
   *  - that was WSX__HIB_TRIM_GAPS x hibernate_after ago or more (they
   *    only come and go: a wake reuses what a sleep freed, and a trim
   *    blocks the loop for up to milliseconds, so not at every sweep). */
  if (srv->hib_slept >= 64 && srv->cfg.slab &&
      (!srv->hib_trim_at ||
       wsx__hib_sleeping(srv->ctx) >= srv->hib_trim_n + 64 ||
       now - srv->hib_trim_at >= 2 * every * WSX__HIB_TRIM_GAPS)) {
    srv->hib_trim = 1;
    uv_timer_start(t, on_sweep, 1, every);
  }
}

static void on_sweep_closed(uv_handle_t *h) {
  wsx_server *srv = h->data;
  srv->num_conns--; /* counted like a connection while closing */
  wsx__server_maybe_release(srv);
}

/* Idle connections sleep after hibernate_after ms (0 = the default,
 * UINT32_MAX = never; never with TLS, nor off Linux): a sweep every half
 * of it (an unreferenced timer: it keeps no loop alive). */
static void hib_start(wsx_server *srv, uint32_t after) {
  uint64_t every;
#ifdef __linux__
  if (!after)
    after = WSX_DEFAULT_HIBERNATE_AFTER_MS;
  if (after == WSX_HIBERNATE_NEVER || srv->cfg.tls)
    return;
  srv->cfg.hibernate_after = after;
  /* The sockets' blocks from the loop's slab (default allocator only: an
   * application's allocator sees every block). NULL: from the heap. */
  if (wsx__alloc_is_libc(&srv->cfg.alloc))
    srv->cfg.slab = wsx__slab_for(srv->ctx, wsx__sock_head_size(&srv->cfg));
  every = after / 2 ? after / 2 : 1;
  uv_timer_init(srv->loop, &srv->hib_timer);
  srv->hib_timer.data = srv;
  uv_unref((uv_handle_t *)&srv->hib_timer);
  uv_timer_start(&srv->hib_timer, on_sweep, every, every);
#else
  (void)srv, (void)after, (void)every;
#endif
}

/* ---- accepting ---- */

static void on_spare_closed(uv_handle_t *h) {
  wsx_server *srv = h->data;
  srv->spare_busy = 0;
  srv->num_conns--; /* counted like a connection while closing */
  if (srv->freeing)
    wsx__server_maybe_release(srv);
}

/* Out of memory for a new connection: accept it into the server's spare
 * handle and close it, so the client learns at once and the listener goes
 * on (libuv stops polling a listener whose connection was not accepted). */
static void drop_connection(wsx_server *srv, uv_stream_t *ls) {
  uv_handle_t *h = (uv_handle_t *)&srv->spare;
  if (srv->cb.error)
    srv->cb.error(srv, WSX_E_NOMEM,
                  "out of memory: new connection closed", srv->ud);
  if (srv->spare_busy)
    return; /* accepted once the spare is free again */
  if (ls->type == UV_TCP)
    uv_tcp_init(srv->loop, &srv->spare.tcp);
  else
    uv_pipe_init(srv->loop, &srv->spare.pipe, 0);
  h->data = srv;
  srv->spare_busy = 1;
  srv->num_conns++;
  (void)uv_accept(ls, (uv_stream_t *)h);
  uv_close(h, on_spare_closed);
}

/* A new connection's socket, linked into the server (its handle
 * initialized, not yet connected); NULL: out of memory. */
static wsx_socket *conn_new(wsx_server *srv, int tcp) {
  wsx__loopctx *ctx;
  wsx_socket *s;
  if (!(ctx = wsx__loopctx_get(srv->loop, &srv->cfg.alloc)))
    return NULL;
  if (!(s = wsx__sock_alloc(&srv->cfg, 0))) {
    wsx__loopctx_unref(ctx);
    return NULL;
  }
  if (tcp)
    uv_tcp_init(srv->loop, &s->act->h.tcp);
  else
    uv_pipe_init(srv->loop, &s->act->h.pipe, 0);
  s->stream->data = s;
  s->flags |= WSX__F_SERVER;
  s->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = s;
  srv->conns = s;
  srv->num_conns++;
  return s;
}

/* TCP_NODELAY on an accepted socket (unless the nagle option is on). The
 * listener has it too (wsx_server_listen), and where accepted sockets
 * inherit it (Linux, the BSDs) that saves a setsockopt per connection: the
 * first connection of each listener checks, once. l is NULL for an
 * adopted descriptor. */
static void conn_nodelay(wsx_server *srv, wsx__listener *l, wsx_socket *s) {
  uv_os_fd_t fd;
  int v = 0;
  socklen_t len = sizeof(v);
  if (srv->cfg.nagle)
    return;
  if (l && l->nodelay_inherited == 0) {
    l->nodelay_inherited = 2;
    if (uv_fileno((uv_handle_t *)&s->act->h.tcp, &fd) == 0 &&
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v)
      l->nodelay_inherited = 1;
  }
  if (!l || l->nodelay_inherited != 1)
    uv_tcp_nodelay(&s->act->h.tcp, 1);
}

/* The connection is open on s: the request head is read next. */
static void conn_start(wsx_server *srv, wsx_socket *s, int tcp,
                       wsx__listener *l) {
  if (tcp)
    conn_nodelay(srv, l, s);
  s->phase = WSX__P_HEAD;
  if (srv->max_conns && srv->num_counted >= srv->max_conns) {
    /* A TLS client cannot read a plaintext 503, and a handshake would
     * spend the CPU the limit is there to protect: just close. */
    if (srv->cfg.tls)
      wsx__sock_close_handle(s);
    else
      wsx__respond_and_close(s, 503, NULL, "too many connections\n");
    return;
  }
  s->flags |= WSX__F_COUNTED;
  srv->num_counted++;
  if (!(s->req = wsx__request_new(s)) ||
      (srv->cfg.tls && wsx__tls_server_start(s) != WSX_OK)) {
    wsx__sock_close_handle(s);
    return;
  }
  /* Covers the TLS handshake too. */
  wsx__timer_set(s, uv_now(srv->loop) + srv->hs_timeout);
  wsx__sock_start_read(s);
}

static void on_connection(uv_stream_t *ls, int status) {
  wsx__listener *l = ls->data;
  wsx_server *srv = l->srv;
  wsx_socket *s;
  int rc, tcp = ls->type == UV_TCP;
  if (status < 0) {
    if (srv->cb.error)
      srv->cb.error(srv, status, uv_strerror(status), srv->ud);
    return;
  }
  if (!(s = conn_new(srv, tcp))) {
    drop_connection(srv, ls);
    return;
  }
  rc = uv_accept(ls, s->stream);
  if (rc < 0) {
    if (srv->cb.error)
      srv->cb.error(srv, rc, uv_strerror(rc), srv->ud);
    wsx__sock_close_handle(s);
    return;
  }
  conn_start(srv, s, tcp, l);
}

int wsx__server_open_fd(wsx_server *srv, uv_os_sock_t fd) {
  wsx_socket *s;
  int rc;
  if (srv->freeing) {
    (void)close(fd);
    return WSX_E_STATE;
  }
  if (!(s = conn_new(srv, 1))) {
    (void)close(fd);
    if (srv->cb.error)
      srv->cb.error(srv, WSX_E_NOMEM,
                    "out of memory: new connection closed", srv->ud);
    return WSX_E_NOMEM;
  }
  if ((rc = uv_tcp_open(&s->act->h.tcp, fd)) < 0) {
    (void)close(fd); /* not the handle's */
    if (srv->cb.error)
      srv->cb.error(srv, rc, uv_strerror(rc), srv->ud);
    wsx__sock_close_handle(s);
    return rc;
  }
  conn_start(srv, s, 1, NULL);
  return WSX_OK;
}

static int add_listener(wsx_server *srv, wsx__listener **out) {
  wsx__listener *l;
  if (srv->freeing)
    return WSX_E_STATE;
  l = wsx__malloc(&srv->cfg.alloc, sizeof(*l));
  if (!l)
    return WSX_E_NOMEM;
  memset(l, 0, sizeof(*l));
  l->srv = srv;
  l->h.tcp.data = l;
  *out = l;
  return WSX_OK;
}

static void on_listener_closed(uv_handle_t *h) {
  wsx__listener *l = h->data;
  wsx_server *srv = l->srv;
  wsx__free(&srv->cfg.alloc, l);
  srv->num_conns--; /* listeners being closed count as connections */
  if (srv->freeing)
    wsx__server_maybe_release(srv);
}

static void link_listener(wsx_server *srv, wsx__listener *l) {
  l->next = srv->listeners;
  srv->listeners = l;
}

int wsx_server_listen(wsx_server *srv, const char *host, int port) {
  struct sockaddr_storage ss;
  wsx__listener *l;
  unsigned flags = 0;
  int rc, v6;
  if (!srv || port < 0 || port > 65535)
    return WSX_E_INVALID;
  if (!host)
    host = "0.0.0.0";
  v6 = strchr(host, ':') != NULL;
  rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
          : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc < 0)
    return WSX_E_INVALID;
  if ((rc = add_listener(srv, &l)) < 0)
    return rc;
  rc = uv_tcp_init_ex(srv->loop, &l->h.tcp, v6 ? AF_INET6 : AF_INET);
  if (rc < 0) {
    wsx__free(&srv->cfg.alloc, l);
    return rc;
  }
  l->h.tcp.data = l;
  link_listener(srv, l);
  rc = 0;
  if (srv->reuse_port) {
    /* Without it a second server on the port would fail to bind (or, worse
     * on some systems, steal it): report the failure, do not listen. */
    uv_os_fd_t fd;
    int one = 1;
    rc = uv_fileno((uv_handle_t *)&l->h.tcp, &fd);
    if (rc == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
      rc = uv_translate_sys_error(errno);
  }
  if (v6 && srv->ipv6_only)
    flags |= UV_TCP_IPV6ONLY;
  if (rc == 0)
    rc = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&ss, flags);
  /* Accepted sockets may inherit it (conn_nodelay); if the listener
   * refuses it, each accepted socket gets it. */
  if (rc == 0 && !srv->cfg.nagle && uv_tcp_nodelay(&l->h.tcp, 1) != 0)
    l->nodelay_inherited = 2;
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->h.tcp, srv->backlog, on_connection);
  if (rc < 0) {
    srv->listeners = l->next;
    /* The server stays usable: count the listener until it is closed. */
    l->next = NULL;
    srv->num_conns++;
    uv_close((uv_handle_t *)&l->h.tcp, on_listener_closed);
    return rc;
  }
  return WSX_OK;
}

int wsx_server_listen_unix(wsx_server *srv, const char *path) {
  wsx__listener *l;
  int rc;
  if (!srv || !path)
    return WSX_E_INVALID;
  if ((rc = add_listener(srv, &l)) < 0)
    return rc;
  rc = uv_pipe_init(srv->loop, &l->h.pipe, 0);
  if (rc < 0) {
    wsx__free(&srv->cfg.alloc, l);
    return rc;
  }
  l->h.pipe.data = l;
  link_listener(srv, l);
  rc = uv_pipe_bind(&l->h.pipe, path);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->h.pipe, srv->backlog, on_connection);
  if (rc < 0) {
    srv->listeners = l->next;
    l->next = NULL;
    srv->num_conns++;
    uv_close((uv_handle_t *)&l->h.pipe, on_listener_closed);
    return rc;
  }
  return WSX_OK;
}

int wsx_server_port(const wsx_server *srv) {
  const wsx__listener *l, *first = NULL;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  for (l = srv->listeners; l; l = l->next)
    if (l->h.tcp.type == UV_TCP)
      first = l; /* the list is newest first: keep the oldest */
  if (!first)
    return WSX_E_STATE;
  if (uv_tcp_getsockname(&first->h.tcp, (struct sockaddr *)&ss, &len) < 0)
    return WSX_E_STATE;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void wsx_server_unmount(wsx_server *srv) {
  while (srv->listeners) {
    wsx__listener *l = srv->listeners;
    srv->listeners = l->next;
    srv->num_conns++; /* released in on_listener_closed */
    uv_close((uv_handle_t *)&l->h.tcp, on_listener_closed);
  }
}

void wsx_server_close_all(wsx_server *srv) {
  wsx_socket *s, *next;
  for (s = srv->conns; s; s = next) {
    next = s->next;
    if (s->flags & WSX__F_HANDLE_CLOSING)
      continue;
    if (s->phase == WSX__P_WS && (s->d || (s->flags & WSX__F_ASLEEP)))
      (void)wsx_socket_close(s, WSX_CLOSE_GOING_AWAY, "server shutting down");
#ifdef WSX_HAVE_HTTP2
    else if (s->phase == WSX__P_H2)
      wsx__h2_shutdown(s); /* its streams close as above */
#endif
    else if (s->phase != WSX__P_TEARDOWN)
      wsx__sock_close_handle(s);
  }
}

void wsx_server_shut_down(wsx_server *srv) {
  wsx_server_unmount(srv);
  wsx_server_close_all(srv);
}

size_t wsx_server_budget_used(const wsx_server *srv, size_t *peak) {
  if (peak)
    *peak = srv->cfg.budget_peak;
  return srv->cfg.budget_used;
}

size_t wsx_server_connection_count(const wsx_server *srv) {
  const wsx_socket *s;
  size_t n = 0;
  for (s = srv->conns; s; s = s->next)
    n++;
  return n;
}

void *wsx_server_user_data(const wsx_server *srv) { return srv->ud; }
uv_loop_t *wsx_server_loop(const wsx_server *srv) { return srv->loop; }

void wsx__server_maybe_release(wsx_server *srv) {
  wsx_allocator a;
  if (!srv->freeing || srv->released || srv->num_conns > 0 || srv->listeners)
    return;
  srv->released = 1;
  if (srv->cb.closed)
    srv->cb.closed(srv, srv->ud);
  if (srv->bp)
    wsx__bp_node_gone(srv->bp); /* uv/internal.h: the bus stops delivering */
  a = srv->cfg.alloc;
  wsx__loopctx_unref(srv->ctx);
  wsx__cfg_free(&srv->cfg);
  wsx__free(&a, srv);
}

void wsx_server_free(wsx_server *srv) {
  if (!srv || srv->freeing)
    return;
  srv->freeing = 1;
  if (srv->cfg.hibernate_after) {
    srv->num_conns++; /* released in on_sweep_closed */
    uv_close((uv_handle_t *)&srv->hib_timer, on_sweep_closed);
  }
  wsx_server_shut_down(srv);
  wsx__server_maybe_release(srv);
}

void wsx__server_sock_gone(wsx_socket *s) {
  wsx_server *srv = wsx__sock_srv(s);
  if (!srv)
    return;
  if (s->prev)
    s->prev->next = s->next;
  else
    srv->conns = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->flags &= ~WSX__F_SERVER;
  if (s->flags & WSX__F_COUNTED)
    srv->num_counted--;
  srv->num_conns--;
  if (srv->freeing) {
    /* The server (and the cfg whose allocator the socket's driver and
     * pings use) may go now: the WS role's state goes first. */
    wsx__ws_gone(s);
    s->d = NULL;
    wsx__server_maybe_release(srv);
  }
}
