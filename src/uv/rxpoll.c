/*
 * Reading a socket's own TCP handle with recv() (Linux).
 *
 * libuv reads a stream with read(); on the kernels measured, read() and
 * write() on a socket pass through the file layer and cost more than
 * recv() and send() (bench/bench_syscall_cost.c prints both; 2026-12-06,
 * 16 KiB over loopback: ~130 ns a read). So a socket's own uv_tcp_t is
 * not read by libuv: its descriptor is watched for input in one epoll of
 * the loop's (level-triggered, as libuv's), which libuv watches through
 * one uv_poll_t, and read here with recv() into the buffer the read path
 * chooses (wsx__sock_rx_buf), the bytes going where libuv's read callback
 * would send them (wsx__sock_rx). libuv still does the writing (a queued
 * write's POLLOUT) and the closing; writes that the kernel takes at once
 * go through send() (writer.c, wsx__try_write).
 *
 * As with libuv: at most 32 reads per socket per turn while reads fill
 * their buffer; EOF or an error stops reading and is reported once; the
 * loop stays alive while any socket reads (the uv_poll_t is referenced
 * only then). A socket leaving the epoll (stop, close, sleep) is dropped
 * from the batch being dispatched, so no event reaches it after that.
 * Adopted streams (the app's handle), pipes, and every other platform
 * keep libuv's reading.
 */
#include "uv/core.h"

#ifdef __linux__
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 128 /* events per epoll_wait; more wait for the next turn */

typedef struct wsx__rxp {
  uv_poll_t poll;      /* first: the close callback frees the block */
  wsx_allocator alloc; /* the context's (the block outlives it) */
  int epfd;
  int failed;     /* the epoll could not be made: libuv reads */
  size_t readers; /* sockets in the epoll: the poll is referenced if > 0 */
  int n, i;       /* the batch being dispatched: ev[i + 1 .. n) to come */
  struct epoll_event ev[BATCH];
} wsx__rxp;

static void on_rxp(uv_poll_t *p, int status, int events);

static void rxp_closed(uv_handle_t *h) {
  wsx__rxp *r = (wsx__rxp *)(void *)h;
  wsx_allocator a = r->alloc;
  (void)close(r->epfd);
  wsx__free(&a, r);
}

void wsx__rxp_ctx_free(wsx__loopctx *c) {
  wsx__rxp *r = c->rxp;
  c->rxp = NULL;
  if (!r)
    return;
  if (r->failed)
    wsx__free(&c->alloc, r);
  else
    uv_close((uv_handle_t *)&r->poll, rxp_closed);
}

static wsx__rxp *rxp_get(wsx__loopctx *c) {
  wsx__rxp *r = c->rxp;
  if (r)
    return r->failed ? NULL : r;
  if (!(r = wsx__malloc(&c->alloc, sizeof(*r))))
    return NULL; /* libuv reads this one; the next may try again */
  memset(r, 0, sizeof(*r));
  r->alloc = c->alloc;
  c->rxp = r;
  if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    r->failed = 1; /* e.g. no descriptor left: not tried again */
    return NULL;
  }
  if (uv_poll_init(c->loop, &r->poll, r->epfd) != 0 ||
      uv_poll_start(&r->poll, UV_READABLE, on_rxp) != 0) {
    /* Cannot fail on an epoll descriptor on Linux; if it did, the
     * handle may be registered: it closes the normal way, later. */
    c->rxp = NULL;
    uv_close((uv_handle_t *)&r->poll, rxp_closed);
    return NULL;
  }
  r->poll.data = c;
  uv_unref((uv_handle_t *)&r->poll); /* no reader yet */
  return r;
}

int wsx__rxp_start(wsx_socket *s) {
  wsx__rxp *r;
  uv_os_fd_t fd;
  struct epoll_event ev;
  if (s->flags & WSX__F_RXEP)
    return 0;
  if ((s->flags & WSX__F_ADOPTED) || !s->act ||
      s->stream != (uv_stream_t *)&s->act->h.tcp || s->stream->type != UV_TCP ||
      uv_fileno((const uv_handle_t *)s->stream, &fd) != 0 ||
      !(r = rxp_get(s->cfg->ctx)))
    return 1;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = s;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
    return 1; /* e.g. max_user_watches: libuv reads this one */
  (void)uv_read_stop(s->stream); /* one reader at a time */
  s->flags |= WSX__F_RXEP;
  if (r->readers++ == 0)
    uv_ref((uv_handle_t *)&r->poll);
  return 0;
}

void wsx__rxp_stop(wsx_socket *s) {
  wsx__rxp *r = s->cfg->ctx->rxp;
  uv_os_fd_t fd;
  struct epoll_event ev;
  int j;
  if (!(s->flags & WSX__F_RXEP) || !r)
    return;
  s->flags &= ~WSX__F_RXEP;
  memset(&ev, 0, sizeof(ev));
  if (uv_fileno((const uv_handle_t *)s->stream, &fd) == 0)
    (void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, &ev);
  for (j = r->i + 1; j < r->n; j++)
    if (r->ev[j].data.ptr == s)
      r->ev[j].data.ptr = NULL;
  if (--r->readers == 0)
    uv_unref((uv_handle_t *)&r->poll);
}

/* Reads s while its reads fill their buffer (at most 32 times). */
static void read_some(wsx_socket *s) {
  int count = 32;
  uv_os_fd_t fd;
  while (count-- > 0 && (s->flags & WSX__F_RXEP) &&
         uv_fileno((const uv_handle_t *)s->stream, &fd) == 0) {
    uv_buf_t b;
    ssize_t n;
    wsx__sock_rx_buf(s, &b);
    do
      n = recv(fd, b.base, b.len, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) { /* as libuv: reading stops, then the callback */
      n = n == 0 ? UV_EOF : -errno;
      wsx__rxp_stop(s);
      wsx__sock_rx(s, n, &b);
      return;
    }
    wsx__sock_rx(s, n, &b);
    if ((size_t)n < b.len)
      return;
  }
}

static void on_rxp(uv_poll_t *p, int status, int events) {
  wsx__loopctx *c = p->data;
  wsx__rxp *r = c->rxp;
  int n;
  (void)events;
  if (status < 0 || !r || r != (wsx__rxp *)(void *)p)
    return;
  do
    n = epoll_wait(r->epfd, r->ev, BATCH, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return;
  /* A full batch leaves the rest ready: the next turn reads it. */
  r->n = n;
  for (r->i = 0; r->i < r->n; r->i++) {
    wsx_socket *s = r->ev[r->i].data.ptr;
    if (s)
      read_some(s);
  }
  r->n = 0;
  r->i = 0;
}

#else /* not Linux: libuv reads */

int wsx__rxp_start(wsx_socket *s) {
  (void)s;
  return 1;
}

void wsx__rxp_stop(wsx_socket *s) { (void)s; }

void wsx__rxp_ctx_free(wsx__loopctx *c) { (void)c; }

#endif
