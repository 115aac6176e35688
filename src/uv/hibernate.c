/*
 * Hibernation of idle server connections (issue 20 row E; include/wsx/uv.h
 * describes it for users). An open, plain, server-side WebSocket with
 * nothing in flight that saw no input or output through two sweeps of its
 * server (every hibernate_after / 2 ms) sleeps: its descriptor is
 * duplicated and watched in one epoll of the loop's own (libuv watches
 * that epoll through one uv_poll_t), its uv_tcp_t is closed (closing the
 * original descriptor) and freed with its driver, whose url and protocol
 * are kept in one small block. What stays is the wsx_socket (the app's
 * pointer, unchanged) and that block.
 *
 * It wakes on input or hang-up (the epoll), on a deadline (keepalive,
 * close: the socket stays in the loop's timer heap), and on any call that
 * needs its handle or driver (wsx__sock_awake): a new block, uv_tcp_open
 * on the descriptor, the driver rebuilt from the server's options and the
 * saved strings, reading again. A wake that runs out of memory drops the
 * connection (a 1011 close frame if the kernel takes it, close event 1011
 * from the loop).
 *
 * Linux only (epoll); elsewhere hibernate_after is ignored (server.c).
 */
#include "uv/internal.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "driver/embed.h"
#include "uv/pubsub.h"

/* The loop's sleepers: one epoll, watched by one uv_poll_t that holds a
 * loop reference while any socket sleeps (as their handles did). */
typedef struct wsx__hib {
  uv_poll_t poll;      /* first: the close callback frees the block */
  wsx_allocator alloc; /* the context's (outlives it: see hib_closed) */
  int epfd;
  size_t sleeping;
} wsx__hib;

#define ACT_SIZE(cfg)                                                          \
  (((sizeof(wsx__sock_act) + 15u) & ~(size_t)15u) + (cfg)->drv_room)

static void on_hib(uv_poll_t *p, int status, int events);

static wsx__hib *hib_get(wsx__loopctx *c) {
  wsx__hib *h = c->hib;
  if (h)
    return h;
  if (!(h = wsx__malloc(&c->alloc, sizeof(*h))))
    return NULL;
  memset(h, 0, sizeof(*h));
  h->alloc = c->alloc;
  if ((h->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    wsx__free(&c->alloc, h);
    return NULL;
  }
  if (uv_poll_init(c->loop, &h->poll, h->epfd) != 0 ||
      uv_poll_start(&h->poll, UV_READABLE, on_hib) != 0) {
    /* uv_poll_init cannot fail on an epoll descriptor on Linux; if it
     * did, the handle may be registered: close it the normal way. */
    c->hib = h;
    wsx__hib_ctx_free(c);
    return NULL;
  }
  h->poll.data = c;
  uv_unref((uv_handle_t *)&h->poll); /* no sleeper yet */
  c->hib = h;
  return h;
}

static void hib_closed(uv_handle_t *hd) {
  wsx__hib *h = (wsx__hib *)(void *)hd;
  wsx_allocator a = h->alloc;
  (void)close(h->epfd);
  wsx__free(&a, h);
}

void wsx__hib_ctx_free(wsx__loopctx *c) {
  if (!c->hib)
    return;
  uv_close((uv_handle_t *)&c->hib->poll, hib_closed);
  c->hib = NULL;
}

static void sleepers(wsx__hib *h, int delta) {
  if (delta > 0 && h->sleeping++ == 0)
    uv_ref((uv_handle_t *)&h->poll);
  else if (delta < 0 && --h->sleeping == 0)
    uv_unref((uv_handle_t *)&h->poll);
}

static void on_hib(uv_poll_t *p, int status, int events) {
  wsx__loopctx *c = p->data;
  struct epoll_event ev[64];
  int n, i;
  (void)events;
  if (status < 0 || !c->hib)
    return;
  do {
    n = epoll_wait(c->hib->epfd, ev, 64, 0);
    /* Waking neither runs application code nor frees a socket. */
    for (i = 0; i < n; i++)
      (void)wsx__sock_wake(ev[i].data.ptr);
  } while (n == 64);
}

/* ---- sleep ---- */

static int rare_idle(const wsx__sock_rare *r) {
  return !r || (!r->pings && !r->close_reason && !r->h2 && !r->budget_held &&
                !r->pend.len && !r->ynext);
}

/* Nothing in flight, nothing that needs the handle or the driver. */
static int can_sleep(const wsx_socket *s) {
  return s->phase == WSX__P_WS && s->d && (s->flags & WSX__F_ACT_APART) &&
         !(s->flags &
           (WSX__F_HANDLE_CLOSING | WSX__F_PAUSED | WSX__F_CLOSE_SENT |
            WSX__F_ABOVE_HWM | WSX__F_ADOPTED | WSX__F_SHUTDOWN |
            WSX__F_FLUSH_CLOSE | WSX__F_EOF | WSX__F_STARTING |
            WSX__F_BACKLOG | WSX__F_YIELD | WSX__F_PARKED | WSX__F_AWAIT_FIN |
            WSX__F_OVER_LIMIT | WSX__F_NO_SLEEP | WSX__F_NO_LINGER)) &&
         !s->layer && !s->out && !s->req && !s->send_due &&
         (!s->ps || (!s->ps->qn && !s->ps->writes)) &&
         s->stream->type == UV_TCP && s->stream->write_queue_size == 0 &&
         s->cfg->ctx->cork_owner != s && rare_idle(s->rare) &&
         wsx__driver_embed_idle(s->d);
}

#define ROOM(a) ((char *)(a) + ((sizeof(wsx__sock_act) + 15u) & ~(size_t)15u))

static void act_closed(uv_handle_t *hd);

/* A block whose handle closes without its socket (the socket sleeps, or
 * its wake failed): freed from the handle's close callback, which must
 * not touch the socket (it may be gone by then), so the allocator is
 * copied into the block's driver room (unused once the driver is freed). */
static void act_close(wsx__sock_act *a, const wsx_allocator *al) {
  memcpy(ROOM(a), al, sizeof(*al));
  uv_close((uv_handle_t *)&a->h, act_closed);
}

static void act_closed(uv_handle_t *hd) {
  wsx_allocator al;
  memcpy(&al, ROOM(hd), sizeof(al));
  wsx__free(&al, hd);
}

static void hib_sleep(wsx_socket *s) {
  const wsx_allocator *al = &s->cfg->alloc;
  wsx__hib *h = hib_get(s->cfg->ctx);
  struct epoll_event ev;
  uv_os_fd_t fd;
  char *saved = wsx__sock_zarea(s);
  size_t n = wsx__driver_embed_saved_len(s->d);
  int nfd;
  if (!h || uv_fileno((const uv_handle_t *)s->stream, &fd) != 0)
    return;
  /* libuv cannot let go of a descriptor without closing it: a duplicate
   * keeps the connection. */
  if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
    return;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = s;
  if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, nfd, &ev) != 0) {
    (void)close(nfd);
    return;
  }
  if (n > WSX__ZSAVE) { /* a long url: on the heap */
    char *p = wsx__malloc(al, n);
    if (!p) {
      (void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, nfd, &ev);
      (void)close(nfd);
      return;
    }
    memcpy(saved, &p, sizeof(p));
    saved = p;
    s->flags |= WSX__F_ZHEAP;
  }
  wsx__driver_embed_sleep(s->d, saved);
  if (s->rare) { /* empty (rare_idle) */
    wsx__buf_free(&s->rare->pend, al);
    wsx__free(al, s->rare);
    s->rare = NULL;
  }
  (void)uv_read_stop(s->stream);
  act_close(s->act, al); /* closes fd, not nfd */
  s->act = NULL;
  s->stream = NULL;
  s->d = NULL;
  s->zfd = nfd;
  s->flags = (s->flags | WSX__F_ASLEEP) & ~(WSX__F_ACTIVE | WSX__F_IDLE1);
  sleepers(h, 1);
}

size_t wsx__hib_sweep(wsx_socket *first) {
  wsx_socket *s;
  size_t slept = 0;
  for (s = first; s; s = s->next) {
    if (s->flags & (WSX__F_ASLEEP | WSX__F_NO_SLEEP | WSX__F_HANDLE_CLOSING))
      continue;
    if (s->flags & WSX__F_ACTIVE)
      s->flags &= ~(WSX__F_ACTIVE | WSX__F_IDLE1);
    else if (!(s->flags & WSX__F_IDLE1))
      s->flags |= WSX__F_IDLE1;
    else if (can_sleep(s)) {
      hib_sleep(s);
      slept += (s->flags & WSX__F_ASLEEP) != 0;
    }
  }
  return slept;
}

static atomic_ulong trims; /* loops of a server group trim in their threads */

void wsx__hib_trim(void) {
  atomic_fetch_add_explicit(&trims, 1, memory_order_relaxed);
#ifdef __GLIBC__
  (void)malloc_trim(0);
#endif
}

size_t wsx__hib_sleeping(const wsx__loopctx *c) {
  return c->hib ? c->hib->sleeping : 0;
}

unsigned long wsx__hib_trims(void) {
  return atomic_load_explicit(&trims, memory_order_relaxed);
}

/* ---- publications to a sleeper ---- */

int wsx__hib_send(wsx_socket *s, const uint8_t *p, size_t n) {
  ssize_t r;
  uv_buf_t b;
  do
    r = send(s->zfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r == (ssize_t)n)
    return 1; /* whole: it sleeps on */
  if (r <= 0)
    return 0; /* nothing written (full, or an error the wake will find) */
  /* Part of it: the rest through the woken socket, which copies what the
   * kernel does not take (nothing else is queued on a sleeper). */
  if (wsx__sock_wake(s) < 0)
    return -1;
  b = uv_buf_init((char *)(uintptr_t)(p + r), (unsigned)(n - (size_t)r));
  return wsx__sock_after_send(s, wsx__sock_write(s, &b, 1)) < 0 ? -1 : 1;
}

/* ---- wake ---- */

/* The saved driver: in the socket, or on the heap (WSX__F_ZHEAP). */
const char *wsx__hib_saved(const wsx_socket *s) {
  const char *area = wsx__sock_zarea(s), *heap;
  if (!(s->flags & WSX__F_ZHEAP))
    return area;
  memcpy(&heap, area, sizeof(heap));
  return heap;
}

static void zsaved_free(wsx_socket *s) {
  if (s->flags & WSX__F_ZHEAP)
    wsx__free(&s->cfg->alloc, (void *)(uintptr_t)wsx__hib_saved(s));
  s->flags &= ~WSX__F_ZHEAP;
}

/* Out of memory waking: the connection is dropped. The peer gets a 1011
 * close frame if the kernel takes it at once; the close event (1011)
 * fires from the loop (the deadline, now), not from the caller's call. */
static int hib_fail(wsx_socket *s) {
  static const char msg[] = "out of memory waking the connection";
  static const uint8_t frame[4] = {0x88, 0x02, 0x03, 0xF3}; /* close 1011 */
  ssize_t r;
  do
    r = send(s->zfd, frame, sizeof(frame), MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  (void)close(s->zfd);
  s->zfd = -1;
  zsaved_free(s);
  s->flags |= WSX__F_HANDLE_CLOSING | WSX__F_EOF; /* WSX__F_ASLEEP stays */
  sleepers(s->cfg->ctx->hib, -1);
  wsx__sock_set_close(s, WSX_CLOSE_UNEXPECTED, msg, sizeof(msg) - 1, 0);
  wsx__send_due_set(s, 0);
  wsx__timer_set(s, uv_now(s->cfg->ctx->loop)); /* -> wsx__hib_dead */
  return WSX_E_NOMEM;
}

void wsx__hib_dead(wsx_socket *s) {
  wsx__timer_set(s, 0);
  wsx__sock_error(s, WSX_E_NOMEM, WSX_CLOSE_UNEXPECTED,
                  "out of memory waking the connection");
  wsx__sock_finalize(s);
}

int wsx__sock_wake(wsx_socket *s) {
  const wsx__cfg *cfg = s->cfg;
  wsx__loopctx *c = cfg->ctx;
  size_t room = (sizeof(wsx__sock_act) + 15u) & ~(size_t)15u;
  struct epoll_event ev;
  wsx__sock_act *a;
  wsx_driver *d;
  if (!(s->flags & WSX__F_ASLEEP))
    return WSX_OK;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_E_CLOSED; /* its wake failed before */
  memset(&ev, 0, sizeof(ev));
  (void)epoll_ctl(c->hib->epfd, EPOLL_CTL_DEL, s->zfd, &ev);
  if (!(a = wsx__malloc(&cfg->alloc, ACT_SIZE(cfg))))
    return hib_fail(s);
  memset(a, 0, ACT_SIZE(cfg));
  if (!(d = wsx__driver_embed_wake((char *)a + room, wsx__hib_saved(s), &cfg->dopts,
                                   &cfg->alloc, &wsx__drv_cbs, s))) {
    wsx__free(&cfg->alloc, a);
    return hib_fail(s);
  }
  zsaved_free(s);
  (void)uv_tcp_init(c->loop, &a->h.tcp);
  a->h.tcp.data = s;
  if (uv_tcp_open(&a->h.tcp, s->zfd) != 0) { /* cannot happen: a socket */
    wsx_driver_free(d);
    act_close(a, &cfg->alloc); /* the fd is not its own */
    return hib_fail(s);
  }
  s->zfd = -1;
  s->act = a;
  s->stream = (uv_stream_t *)&a->h.tcp;
  s->d = d;
  s->flags = (s->flags & ~(WSX__F_ASLEEP | WSX__F_IDLE1)) | WSX__F_ACTIVE;
  sleepers(c->hib, -1);
  wsx__sock_budget_attach(s);
  wsx__sock_start_read(s);
  return WSX_OK;
}

#else /* !__linux__: nothing ever sleeps (server.c) */

int wsx__sock_wake(wsx_socket *s) {
  (void)s;
  return WSX_OK;
}
size_t wsx__hib_sweep(wsx_socket *first) {
  (void)first;
  return 0;
}
void wsx__hib_trim(void) {}
unsigned long wsx__hib_trims(void) { return 0; }
size_t wsx__hib_sleeping(const wsx__loopctx *c) {
  (void)c;
  return 0;
}
const char *wsx__hib_saved(const wsx_socket *s) {
  (void)s;
  return "";
}
int wsx__hib_send(wsx_socket *s, const uint8_t *p, size_t n) {
  (void)s, (void)p, (void)n;
  return 0;
}
void wsx__hib_dead(wsx_socket *s) { (void)s; }
void wsx__hib_ctx_free(wsx__loopctx *c) { (void)c; }

#endif
