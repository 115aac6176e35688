/*
 * A server on N loops, one thread each (wsx/group.h). Publications cross
 * loops as references to one frame, through a per-loop queue (a mutex and
 * an array of message pointers) woken by uv_async_send.
 *
 * Listening: one SO_REUSEPORT listener per loop, or (the acceptor, where
 * SO_REUSEPORT is missing or when asked for) one listening socket polled
 * on loop 0, whose accepted descriptors go round-robin to the loops through
 * the same per-loop queue and async handle; each loop opens its own
 * (wsx__server_open_fd) and serves it like one its listener accepted.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "uv/backplane.h"
#include "uv/pubsub.h"
#include "wsx/group.h"

#define MAX_THREADS 256u

/* A publication on its way to the loops: the frame, the topic, the flags. */
typedef struct pubmsg {
  atomic_size_t refs;
  wsx_allocator alloc;
  wsx__frame *f;
  unsigned flags;
  uint16_t tlen;
  uint8_t topic[];
} pubmsg;

typedef struct wsx__gloop {
  wsx_server_group *g;
  unsigned index;
  uv_loop_t loop;
  uv_async_t async;
  uv_thread_t thread;
  wsx_server *srv;       /* NULL once freed */
  wsx__loopctx *ctx;     /* the loop's context (held by srv) */
  uv_mutex_t lock;       /* guards q, qn, qcap, async_open */
  pubmsg **q, **spare;   /* queued publications; spare: swapped in */
  size_t qn, qcap, spare_cap;
  uv_os_sock_t *fds;     /* acceptor: connections handed to this loop */
  size_t fdn, fdcap;
  int async_open;        /* uv_async_send allowed */
  int stop_done;         /* stop handled on the loop */
} wsx__gloop;

struct wsx_server_group {
  wsx_allocator alloc;
  unsigned n;
  wsx__gloop *loops;
  wsx_server_callbacks scb; /* the app's, with `closed` wrapped */
  void (*app_closed)(wsx_server *, void *);
  wsx_server_group_callbacks cb;
  void *ud;
  atomic_int stopping;
  int started, threads_started;
  wsx_backplane *bp; /* attached bus (set before start), or NULL */
  int acceptor;      /* option: 1 = always the acceptor (N > 1) */
  int accepting;     /* apoll is open (loop 0 clears it when stopping) */
  int use_acceptor;  /* listen chose the acceptor (never cleared) */
  uv_poll_t apoll;   /* on loop 0: the listening socket afd */
  uv_os_sock_t afd;
  unsigned rr;       /* next loop to get a connection (loop 0's thread) */
};

static _Thread_local wsx__gloop *tls_loop; /* the group loop of this thread */

static void msg_unref(pubmsg *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
    wsx_allocator a = m->alloc;
    wsx__frame_unref(m->f);
    wsx__free(&a, m);
  }
}

/* ---- on a loop's thread ---- */

static void apoll_closed(uv_handle_t *h) {
  wsx_server_group *g = h->data;
  (void)close(g->afd);
}

static void handle_stop(wsx__gloop *gl) {
  wsx_server_group *g = gl->g;
  if (gl->stop_done)
    return;
  gl->stop_done = 1;
  if (gl->index == 0 && g->accepting) {
    g->accepting = 0;
    uv_close((uv_handle_t *)&g->apoll, apoll_closed);
  }
  if (g->cb.loop_stop)
    g->cb.loop_stop(g, gl->index, &gl->loop, g->ud);
  if (gl->srv)
    wsx_server_free(gl->srv); /* `closed` closes the async handle */
}

static void drain_queue(wsx__gloop *gl) {
  pubmsg **q;
  size_t n, i, cap;
  uv_mutex_lock(&gl->lock);
  q = gl->q, n = gl->qn, cap = gl->qcap;
  gl->q = gl->spare, gl->qcap = gl->spare_cap, gl->qn = 0;
  uv_mutex_unlock(&gl->lock);
  for (i = 0; i < n; i++) {
    pubmsg *m = q[i];
    if (gl->srv && !gl->stop_done)
      (void)wsx__publish_frame(gl->ctx, m->topic, m->tlen, m->f, m->flags);
    msg_unref(m);
  }
  uv_mutex_lock(&gl->lock); /* the drained array becomes the spare */
  gl->spare = q, gl->spare_cap = cap;
  uv_mutex_unlock(&gl->lock);
}

/* Connections the acceptor handed over: served here, or closed when the
 * loop's server is gone or going. */
static void drain_fds(wsx__gloop *gl) {
  uv_os_sock_t *fds;
  size_t n, i;
  uv_mutex_lock(&gl->lock);
  fds = gl->fds, n = gl->fdn;
  gl->fds = NULL, gl->fdn = gl->fdcap = 0;
  uv_mutex_unlock(&gl->lock);
  for (i = 0; i < n; i++) {
    if (gl->srv && !gl->stop_done)
      (void)wsx__server_open_fd(gl->srv, fds[i]);
    else
      (void)close(fds[i]);
  }
  wsx__free(&gl->g->alloc, fds);
}

static void on_async(uv_async_t *a) {
  wsx__gloop *gl = a->data;
  drain_fds(gl);
  drain_queue(gl);
  if (atomic_load(&gl->g->stopping))
    handle_stop(gl);
}

static void async_closed(uv_handle_t *h) { (void)h; }

static void on_server_closed(wsx_server *srv, void *ud) {
  wsx__gloop *gl = srv->gl;
  (void)ud;
  if (gl->g->app_closed)
    gl->g->app_closed(srv, gl->g->ud);
  gl->srv = NULL;
  gl->ctx = NULL;
  uv_mutex_lock(&gl->lock);
  gl->async_open = 0;
  uv_mutex_unlock(&gl->lock);
  drain_fds(gl);   /* closes what is left (srv is NULL) */
  drain_queue(gl); /* drops what is left (srv is NULL) */
  uv_close((uv_handle_t *)&gl->async, async_closed);
}

static void thread_main(void *arg) {
  wsx__gloop *gl = arg;
  wsx_server_group *g = gl->g;
  tls_loop = gl;
  if (g->cb.loop_start)
    g->cb.loop_start(g, gl->index, &gl->loop, gl->srv, g->ud);
  uv_run(&gl->loop, UV_RUN_DEFAULT);
  tls_loop = NULL;
}

/* ---- the group ---- */

static void loop_fini(wsx_server_group *g, wsx__gloop *gl) {
  size_t i;
  if (uv_loop_close(&gl->loop) == UV_EBUSY) {
    uv_run(&gl->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&gl->loop);
  }
  for (i = 0; i < gl->qn; i++)
    msg_unref(gl->q[i]);
  for (i = 0; i < gl->fdn; i++)
    (void)close(gl->fds[i]);
  wsx__free(&g->alloc, gl->fds);
  wsx__free(&g->alloc, gl->q);
  wsx__free(&g->alloc, gl->spare);
  uv_mutex_destroy(&gl->lock);
}

static int loop_init(wsx_server_group *g, wsx__gloop *gl, unsigned i,
                     const wsx_server_options *so) {
  int rc, err = 0;
  memset(gl, 0, sizeof(*gl));
  gl->g = g;
  gl->index = i;
  if ((rc = uv_loop_init(&gl->loop)) < 0)
    return rc;
  if ((rc = uv_mutex_init(&gl->lock)) < 0) {
    (void)uv_loop_close(&gl->loop);
    return rc;
  }
  if ((rc = uv_async_init(&gl->loop, &gl->async, on_async)) < 0) {
    uv_mutex_destroy(&gl->lock);
    (void)uv_loop_close(&gl->loop);
    return rc;
  }
  gl->async.data = gl;
  gl->async_open = 1;
  gl->srv = wsx_server_new(&gl->loop, so, &g->scb, g->ud, &err);
  if (!gl->srv) {
    uv_close((uv_handle_t *)&gl->async, async_closed);
    uv_run(&gl->loop, UV_RUN_DEFAULT);
    loop_fini(g, gl);
    return err;
  }
  gl->srv->gl = gl;
  gl->ctx = gl->srv->ctx;
  return WSX_OK;
}

wsx_server_group *wsx_server_group_new(const wsx_server_group_options *opts,
                                       const wsx_server_group_callbacks *cbs,
                                       void *user_data, int *err) {
  wsx_server_group_options o;
  wsx_server_options so = WSX_SERVER_OPTIONS_INIT;
  wsx_server_group *g;
  wsx_allocator a;
  int rc = WSX_OK;
  unsigned i;
  if (!err)
    err = &rc;
  if (WSX__STRUCT_IN(wsx_server_group_options, &o, opts) != WSX_OK ||
      WSX__STRUCT_OK(wsx_server_group_callbacks, cbs) != WSX_OK ||
      WSX__STRUCT_IN(wsx_server_options, &so, o.server) != WSX_OK) {
    *err = WSX_E_STRUCT_SIZE;
    return NULL;
  }
  if (o.threads > MAX_THREADS) {
    *err = WSX_E_INVALID;
    return NULL;
  }
  if (!o.threads)
    o.threads = 1;
  wsx__alloc_init(&a, o.allocator);
  if (!(g = wsx__malloc(&a, sizeof(*g)))) {
    *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(g, 0, sizeof(*g));
  g->alloc = a;
  g->ud = user_data;
  atomic_init(&g->stopping, 0);
  (void)WSX__STRUCT_IN(wsx_server_group_callbacks, &g->cb, cbs);
  if (WSX__STRUCT_IN(wsx_server_callbacks, &g->scb, g->cb.server) !=
      WSX_OK) {
    wsx__free(&a, g);
    *err = WSX_E_STRUCT_SIZE;
    return NULL;
  }
  g->acceptor = o.acceptor;
  g->app_closed = g->scb.closed;
  g->scb.closed = on_server_closed;
  if (o.threads > 1)
    so.reuse_port = 1;
  if (!(g->loops = wsx__malloc(&a, o.threads * sizeof(*g->loops)))) {
    wsx__free(&a, g);
    *err = WSX_E_NOMEM;
    return NULL;
  }
  for (i = 0; i < o.threads; i++) {
    if ((*err = loop_init(g, &g->loops[i], i, &so)) < 0)
      break;
    g->n++;
  }
  if (g->n < o.threads) {
    wsx_server_group_free(g);
    return NULL;
  }
  *err = WSX_OK;
  return g;
}

/* ---- the acceptor ---- */

/* Whether this system lets a socket set SO_REUSEPORT. */
static int reuse_port_works(void) {
#ifdef SO_REUSEPORT
  int one = 1, ok;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 1; /* cannot tell: the listeners report their own error */
  ok = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0;
  (void)close(fd);
  return ok;
#else
  return 0;
#endif
}

/* Hands connection fd to loop gl (any thread; the caller keeps fd on
 * failure). */
static int hand_fd(wsx__gloop *gl, uv_os_sock_t fd) {
  int rc = WSX_OK;
  uv_mutex_lock(&gl->lock);
  if (!gl->async_open) {
    rc = WSX_E_STATE;
  } else if (gl->fdn == gl->fdcap) {
    size_t ncap = gl->fdcap ? gl->fdcap * 2 : 16;
    uv_os_sock_t *nf =
        wsx__realloc(&gl->g->alloc, gl->fds, ncap * sizeof(*nf));
    if (nf) {
      gl->fds = nf;
      gl->fdcap = ncap;
    } else {
      rc = WSX_E_NOMEM;
    }
  }
  if (rc == WSX_OK) {
    gl->fds[gl->fdn++] = fd;
    (void)uv_async_send(&gl->async);
  }
  uv_mutex_unlock(&gl->lock);
  return rc;
}

/* On loop 0: accepts what is pending (at most 64 a turn) and deals the
 * connections out round-robin. */
static void on_acceptable(uv_poll_t *p, int status, int events) {
  wsx_server_group *g = p->data;
  wsx_server *s0 = g->loops[0].srv;
  int i;
  (void)events;
  if (status < 0) {
    if (s0 && s0->cb.error)
      s0->cb.error(s0, status, uv_strerror(status), s0->ud);
    return;
  }
  for (i = 0; i < 64; i++) {
    wsx__gloop *gl;
    int fd = accept4(g->afd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED)
        continue;
      if (e != EAGAIN && e != EWOULDBLOCK && s0 && s0->cb.error)
        s0->cb.error(s0, uv_translate_sys_error(e), strerror(e), s0->ud);
      return;
    }
    gl = &g->loops[g->rr++ % g->n];
    if (gl->index == 0) {
      if (gl->srv && !gl->stop_done)
        (void)wsx__server_open_fd(gl->srv, fd);
      else
        (void)close(fd);
    } else if (hand_fd(gl, fd) < 0) {
      (void)close(fd); /* that loop is stopping */
    }
  }
}

static int acceptor_listen(wsx_server_group *g, const char *host, int port) {
  wsx_server *s0 = g->loops[0].srv;
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, rc, v6, one = 1;
  if (g->use_acceptor)
    return WSX_E_BUSY; /* one acceptor per group */
  if (port < 0 || port > 65535)
    return WSX_E_INVALID;
  if (!host)
    host = "0.0.0.0";
  v6 = strchr(host, ':') != NULL;
  rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
          : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc < 0)
    return WSX_E_INVALID;
  sl = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  fd = socket(v6 ? AF_INET6 : AF_INET,
              SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (rc == 0 && v6)
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &s0->ipv6_only,
                    sizeof(s0->ipv6_only));
  if (rc == 0)
    rc = bind(fd, (const struct sockaddr *)&ss, sl);
  if (rc == 0)
    rc = listen(fd, s0->backlog);
  if (rc != 0) {
    rc = uv_translate_sys_error(errno);
    (void)close(fd);
    return rc;
  }
  if ((rc = uv_poll_init_socket(&g->loops[0].loop, &g->apoll, fd)) < 0) {
    (void)close(fd);
    return rc;
  }
  g->apoll.data = g;
  g->afd = fd;
  g->accepting = g->use_acceptor = 1;
  (void)uv_poll_start(&g->apoll, UV_READABLE, on_acceptable);
  return WSX_OK;
}

int wsx_server_group_listen(wsx_server_group *g, const char *host, int port) {
  unsigned i;
  int rc;
  if (!g)
    return WSX_E_INVALID;
  if (g->started || atomic_load(&g->stopping))
    return WSX_E_STATE;
  if (g->n > 1 && (g->acceptor || !reuse_port_works()))
    return acceptor_listen(g, host, port);
  for (i = 0; i < g->n; i++) {
    if ((rc = wsx_server_listen(g->loops[i].srv, host, port)) < 0)
      return rc;
    if (port == 0)
      port = wsx_server_port(g->loops[0].srv);
  }
  return WSX_OK;
}

int wsx_server_group_port(const wsx_server_group *g) {
  if (g && g->use_acceptor) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(g->afd, (struct sockaddr *)&ss, &sl) != 0)
      return uv_translate_sys_error(errno);
    return ss.ss_family == AF_INET6
               ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  return g && g->n && g->loops[0].srv ? wsx_server_port(g->loops[0].srv)
                                      : WSX_E_STATE;
}

/* Whether the group listens through the acceptor (for tests and logs). */
int wsx_server_group_uses_acceptor(const wsx_server_group *g) {
  return g && g->use_acceptor;
}

int wsx_server_group_start(wsx_server_group *g) {
  unsigned i;
  int rc;
  if (!g)
    return WSX_E_INVALID;
  if (g->started || atomic_load(&g->stopping))
    return WSX_E_STATE;
  g->started = 1;
  for (i = 0; i < g->n; i++) {
    if ((rc = uv_thread_create(&g->loops[i].thread, thread_main,
                               &g->loops[i])) < 0) {
      wsx_server_group_stop(g); /* the started ones stop; free joins them */
      return rc;
    }
    g->threads_started++;
  }
  return WSX_OK;
}

static int enqueue(wsx__gloop *gl, pubmsg *m) {
  int rc = WSX_OK;
  uv_mutex_lock(&gl->lock);
  if (!gl->async_open) {
    rc = WSX_E_STATE;
  } else if (gl->qn == gl->qcap) {
    size_t ncap = gl->qcap ? gl->qcap * 2 : 16;
    pubmsg **nq = wsx__realloc(&gl->g->alloc, gl->q, ncap * sizeof(*nq));
    if (nq) {
      gl->q = nq;
      gl->qcap = ncap;
    } else {
      rc = WSX_E_NOMEM;
    }
  }
  if (rc == WSX_OK) {
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    gl->q[gl->qn++] = m;
    (void)uv_async_send(&gl->async);
  }
  uv_mutex_unlock(&gl->lock);
  return rc;
}

long wsx__group_publish(wsx_server_group *g, const void *topic, size_t tlen,
                        const void *data, size_t len, int opcode,
                        unsigned flags) {
  wsx__gloop *self = tls_loop && tls_loop->g == g ? tls_loop : NULL;
  pubmsg *m;
  long count = 0;
  unsigned i;
  if (atomic_load(&g->stopping))
    return WSX_E_STATE;
  if (!(m = wsx__malloc(&g->alloc, sizeof(*m) + tlen)))
    return WSX_E_NOMEM;
  atomic_init(&m->refs, 1);
  m->alloc = g->alloc;
  m->flags = flags;
  m->tlen = (uint16_t)tlen;
  memcpy(m->topic, topic, tlen);
  if (!(m->f = wsx__frame_new(&g->alloc, opcode, data, len))) {
    wsx__free(&g->alloc, m);
    return WSX_E_NOMEM;
  }
  for (i = 0; i < g->n; i++)
    if (&g->loops[i] != self)
      (void)enqueue(&g->loops[i], m); /* a stopping loop takes no more */
  if (self && self->srv)
    count = wsx__publish_frame(self->ctx, topic, tlen, m->f, flags);
  msg_unref(m);
  if (g->bp && !(flags & (WSX_PUBLISH_LOCAL | WSX__PUB_NO_BUS)))
    wsx__bp_publish(g->bp, topic, tlen, data, len, opcode);
  return count;
}

wsx_backplane *wsx__group_bp(wsx_server_group *g) { return g->bp; }

int wsx__group_set_bp(wsx_server_group *g, wsx_backplane *bp) {
  if (g->bp)
    return WSX_E_BUSY;
  if (g->started)
    return WSX_E_STATE;
  g->bp = bp;
  return WSX_OK;
}

long wsx_server_group_publish(wsx_server_group *g, const void *topic,
                              size_t topic_len, const void *data, size_t len,
                              int opcode, unsigned flags) {
  int rc = wsx__publish_check(topic, topic_len, data, len, opcode, flags);
  if (rc < 0 || !g)
    return rc < 0 ? rc : WSX_E_INVALID;
  return wsx__group_publish(g, topic, topic_len, data, len, opcode, flags);
}

void wsx_server_group_stop(wsx_server_group *g) {
  unsigned i;
  if (!g || atomic_exchange(&g->stopping, 1))
    return;
  for (i = 0; i < g->n; i++) {
    wsx__gloop *gl = &g->loops[i];
    uv_mutex_lock(&gl->lock);
    if (gl->async_open)
      (void)uv_async_send(&gl->async);
    uv_mutex_unlock(&gl->lock);
  }
}

void wsx_server_group_free(wsx_server_group *g) {
  wsx_allocator a;
  unsigned i;
  if (!g)
    return;
  wsx_server_group_stop(g);
  if (g->bp) /* on the thread of the backplane's loop (wsx/backplane.h) */
    wsx__bp_node_gone(g->bp);
  for (i = 0; i < g->n; i++) {
    wsx__gloop *gl = &g->loops[i];
    if (i < (unsigned)g->threads_started) {
      (void)uv_thread_join(&gl->thread);
    } else { /* never ran: stop it here */
      tls_loop = gl;
      handle_stop(gl);
      uv_run(&gl->loop, UV_RUN_DEFAULT);
      tls_loop = NULL;
    }
    loop_fini(g, gl);
  }
  a = g->alloc;
  wsx__free(&a, g->loops);
  wsx__free(&a, g);
}

unsigned wsx_server_group_size(const wsx_server_group *g) {
  return g ? g->n : 0;
}
uv_loop_t *wsx_server_group_loop(wsx_server_group *g, unsigned i) {
  return g && i < g->n ? &g->loops[i].loop : NULL;
}
wsx_server *wsx_server_group_server(wsx_server_group *g, unsigned i) {
  return g && i < g->n ? g->loops[i].srv : NULL;
}
wsx_server_group *wsx_server_group_of(const wsx_server *srv) {
  return srv && srv->gl ? srv->gl->g : NULL;
}
void *wsx_server_group_user_data(const wsx_server_group *g) {
  return g ? g->ud : NULL;
}
