/*
 * Per-loop shared state. Sockets keep only a pointer to it, so the receive
 * buffer, the cork buffer and the timer cost nothing per connection: one
 * uv_timer_t armed for the earliest deadline of a binary heap replaces the
 * three timers (handshake, close, keepalive) each connection would need.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "uv/core.h"

static wsx__loopctx *registry;
static uv_mutex_t registry_lock;
static uv_once_t registry_once = UV_ONCE_INIT;

static void registry_init(void) {
  if (uv_mutex_init(&registry_lock) != 0)
    abort(); /* cannot happen on Linux; no way to report from uv_once */
}

static void on_timer(uv_timer_t *t);

/* Every socket holds a reference to its loop's context and has at most one
 * deadline in the heap, so a heap with room for `refs` entries never has to
 * grow in wsx__timer_set: the room is taken with the reference, where an
 * allocation failure is an ordinary WSX_E_NOMEM of the constructor, instead
 * of a connection silently left without its handshake, close or keepalive
 * deadline. */
static int heap_reserve(wsx__loopctx *c, size_t n) {
  uint32_t ncap;
  wsx_socket **nh;
  if (n <= c->heap_cap)
    return WSX_OK;
  if (n > UINT32_MAX / 2)
    return WSX_E_NOMEM;
  ncap = c->heap_cap ? c->heap_cap : 64;
  while (ncap < n)
    ncap *= 2;
  if (!(nh = wsx__realloc(&c->alloc, c->heap, ncap * sizeof(*nh))))
    return WSX_E_NOMEM;
  c->heap = nh;
  c->heap_cap = ncap;
  return WSX_OK;
}

/* ---- errors (here, not in socket.c: the socket core names them) ---- */

const char *wsx_uv_strerror(int err) {
  if (err <= -1000 && err > -1100)
    return wsx_strerror(err);
  return uv_strerror(err);
}

/* ---- SIGPIPE ---- */

int wsx_ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) != 0)
    return -errno;
  if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL)
    return WSX_OK; /* the application's choice */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGPIPE, &sa, NULL) == 0 ? WSX_OK : -errno;
}

static uv_once_t sigpipe_once = UV_ONCE_INIT;

static void sigpipe_default(void) { (void)wsx_ignore_sigpipe(); }

void wsx__sigpipe_guard(void) { uv_once(&sigpipe_once, sigpipe_default); }

wsx__loopctx *wsx__loopctx_get(uv_loop_t *loop, const wsx_allocator *a) {
  wsx__loopctx *c;
  wsx__sigpipe_guard();
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  for (c = registry; c; c = c->next)
    if (c->loop == loop)
      break;
  if (!c) {
    c = wsx__malloc(a, sizeof(*c));
    if (c) {
      memset(c, 0, offsetof(wsx__loopctx, hdrs)); /* not the big buffers */
      c->alloc = *a;
      c->rx = c->rbuf + ((64u - ((uintptr_t)c->rbuf & 63u)) & 63u);
    }
    if (c && heap_reserve(c, 1) != WSX_OK) {
      wsx__free(a, c);
      c = NULL;
    }
    if (c) {
      c->loop = loop;
      uv_timer_init(loop, &c->timer);
      uv_idle_init(loop, &c->idle);
      uv_idle_init(loop, &c->pub_idle);
      uv_timer_init(loop, &c->btimer); /* active only while sockets wait */
      c->btimer.data = c;
      /* The sockets keep the loop alive; the timer alone must not. The
       * idle handle does, while it runs: it is active only while input
       * waits in the yield queue (yield.c), when the socket has stopped
       * reading and may hold the loop's last active handle. */
      uv_unref((uv_handle_t *)&c->timer);
      c->timer.data = c;
      c->idle.data = c;
      c->pub_idle.data = c;
      c->next = registry;
      registry = c;
    }
  }
  if (c && heap_reserve(c, c->refs + 1) != WSX_OK)
    c = NULL; /* a fresh context has room for one */
  if (c)
    c->refs++;
  uv_mutex_unlock(&registry_lock);
  return c;
}

wsx__loopctx *wsx__loopctx_find(uv_loop_t *loop) {
  wsx__loopctx *c;
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  for (c = registry; c; c = c->next)
    if (c->loop == loop)
      break;
  uv_mutex_unlock(&registry_lock);
  return c;
}

const wsx_socket_callbacks wsx__no_cbs = WSX_SOCKET_CALLBACKS_INIT;

const wsx_socket_callbacks *wsx__cb_intern(wsx__loopctx *c,
                                           const wsx_socket_callbacks *in) {
  wsx__cbtab *t;
  wsx_socket_callbacks n; /* this library's layout, the caller's members */
  const wsx_socket_callbacks *cb = &n;
  if (WSX__STRUCT_IN(wsx_socket_callbacks, &n, in) != WSX_OK)
    return NULL; /* callers check struct_size first */
  if (memcmp(cb, &wsx__no_cbs, sizeof(*cb)) == 0)
    return &wsx__no_cbs;
  for (t = c->cbtabs; t; t = t->next)
    if (memcmp(&t->cb, cb, sizeof(*cb)) == 0)
      return &t->cb;
  if (!(t = wsx__malloc(&c->alloc, sizeof(*t))))
    return NULL;
  t->cb = *cb;
  t->next = c->cbtabs;
  c->cbtabs = t;
  return &t->cb;
}

static void on_ctx_closed(uv_handle_t *h) {
  wsx__loopctx *c = h->data;
  wsx_allocator a = c->alloc;
  if (++c->handles_closed < 4)
    return;
  wsx__budget_ctx_free(c);
  while (c->cbtabs) {
    wsx__cbtab *t = c->cbtabs;
    c->cbtabs = t->next;
    wsx__free(&a, t);
  }
  wsx__topics_free(c);
  wsx__free(&a, c->heap);
  wsx__free(&a, c);
}

void wsx__loopctx_unref(wsx__loopctx *c) {
  wsx__loopctx **pp;
  uv_mutex_lock(&registry_lock);
  if (--c->refs > 0) {
    uv_mutex_unlock(&registry_lock);
    return;
  }
  for (pp = &registry; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  uv_mutex_unlock(&registry_lock);
  wsx__hib_ctx_free(c); /* frees itself (no sleeper is left) */
  wsx__slabs_free(c);
  /* The handles close in the same loop iteration; the last callback
   * frees the context. */
  uv_close((uv_handle_t *)&c->idle, on_ctx_closed);
  uv_close((uv_handle_t *)&c->pub_idle, on_ctx_closed);
  uv_close((uv_handle_t *)&c->timer, on_ctx_closed);
  uv_close((uv_handle_t *)&c->btimer, on_ctx_closed);
}

/* ---- min-heap on deadline ----
 * A socket has two deadlines: its phase's (`deadline`: handshake, close,
 * keepalive, linger) and send_timeout's (`send_due`). It sits in the heap
 * once, keyed on the earlier of the two that are set. */

static uint64_t key(const wsx_socket *s) {
  uint64_t a = s->deadline, b = s->send_due;
  return !a ? b : (!b || a < b) ? a : b;
}

static void heap_swap(wsx__loopctx *c, uint32_t i, uint32_t j) {
  wsx_socket *t = c->heap[i];
  c->heap[i] = c->heap[j];
  c->heap[j] = t;
  c->heap[i]->heap_idx = i;
  c->heap[j]->heap_idx = j;
}

static void heap_up(wsx__loopctx *c, uint32_t i) {
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (key(c->heap[p]) <= key(c->heap[i]))
      break;
    heap_swap(c, i, p);
    i = p;
  }
}

static void heap_down(wsx__loopctx *c, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < c->heap_len && key(c->heap[l]) < key(c->heap[m]))
      m = l;
    if (r < c->heap_len && key(c->heap[r]) < key(c->heap[m]))
      m = r;
    if (m == i)
      break;
    heap_swap(c, i, m);
    i = m;
  }
}

static void heap_remove(wsx__loopctx *c, wsx_socket *s) {
  uint32_t i = s->heap_idx;
  c->heap_len--;
  if (i != c->heap_len) {
    c->heap[i] = c->heap[c->heap_len];
    c->heap[i]->heap_idx = i;
    heap_down(c, i);
    heap_up(c, i);
  }
}

static int heap_insert(wsx__loopctx *c, wsx_socket *s) {
  if (c->heap_len == c->heap_cap) /* cannot happen: see heap_reserve */
    return WSX_E_INTERNAL;
  s->heap_idx = c->heap_len;
  c->heap[c->heap_len++] = s;
  heap_up(c, s->heap_idx);
  return WSX_OK;
}

static void rearm(wsx__loopctx *c) {
  uint64_t due, now;
  if (c->heap_len == 0) {
    if (c->timer_due) {
      uv_timer_stop(&c->timer);
      c->timer_due = 0;
    }
    return;
  }
  due = key(c->heap[0]);
  if (due == c->timer_due)
    return;
  now = uv_now(c->loop);
  c->timer_due = due;
  uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

static void resched(wsx_socket *s, uint64_t deadline, uint64_t send_due) {
  wsx__loopctx *c = s->cfg->ctx;
  if (key(s))
    heap_remove(c, s);
  s->deadline = deadline;
  s->send_due = send_due;
  /* Room was reserved with the socket's context reference. */
  if (key(s) && heap_insert(c, s) != WSX_OK) {
    s->deadline = s->send_due = 0;
    wsx__sock_timer_lost(s);
  }
  rearm(c);
}

void wsx__timer_set(wsx_socket *s, uint64_t deadline) {
  resched(s, deadline, s->send_due);
}

void wsx__send_due_set(wsx_socket *s, uint64_t due) {
  resched(s, s->deadline, due);
}

static void on_timer(uv_timer_t *t) {
  wsx__loopctx *c = t->data;
  uint64_t now = uv_now(c->loop);
  c->timer_due = 0;
  /* The timer may keep the loop alive only while it runs callbacks. */
  while (c->heap_len > 0 && key(c->heap[0]) <= now) {
    wsx_socket *s = c->heap[0];
    heap_remove(c, s);
    /* The other deadline (if set) goes back in the slot just freed. */
    if (s->send_due && s->send_due <= now) {
      s->send_due = 0;
      if (s->deadline)
        (void)heap_insert(c, s);
      wsx__sock_on_send_timeout(s);
    } else {
      s->deadline = 0;
      if (s->send_due)
        (void)heap_insert(c, s);
      wsx__sock_on_timer(s);
    }
  }
  rearm(c);
}
