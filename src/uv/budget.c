/*
 * The memory budget for incoming messages (issue 16; the rule is in
 * wsx/uv.h next to wsx_socket_options.message_budget).
 *
 * The driver asks its budget hook (budget_cb) before it grows a message
 * buffer; the hook can only grant or refuse, because the driver cannot stop
 * in the middle of an inflate call. So the waiting happens one step
 * earlier: before yield.c hands a slice of input to the driver it asks
 * wsx__budget_admit() whether the growth that slice may cause in the worst
 * case (wsx_driver_budget_need) can be granted now. If not, the input is
 * held back and the socket parked in the loop's wait list until another
 * connection gives budget back.
 *
 * Granting whatever fits would deadlock: 50 bombs at max_length 16 MiB in
 * a 256 MiB budget all stop at 8 MiB, each waiting for 8 MiB more that
 * only the others could give back. So a grant must leave a safe state (the
 * banker's rule): every message in progress (a connection holding more
 * than WSX__BIG) must be able to reach its limit, the claim (min of
 * max_length and the per-connection share), taking them one after the
 * other in order of what they still lack, each one giving back all it held
 * when it ends (with 1009 at the limit, or as a complete message). The one
 * first in that order can always go on, so the connections holding budget
 * never all wait for each other.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "driver/embed.h"
#include "uv/internal.h"

/* Held above this, a connection has a message in progress: the driver
 * keeps buffers up to 64 KiB between messages and frees larger ones. */
#define WSX__BIG 65536u

struct wsx__waiter {
  wsx_socket *s;
  uint64_t until; /* uv_now() ms: refused with 1013 then */
  uint64_t last;  /* the latest `until` budget coming back may set */
  int woken;      /* in the yield queue for another try */
};

/* A waiter's deadline: budget_wait after it was parked or after budget
 * last came back (waiting helps while others finish), but no later than
 * WSX__WAIT_MAX times budget_wait after it was parked. */
#define WSX__WAIT_MAX 6u

static size_t reserve(const wsx__cfg *c);

/* The loop's cache of freed message mappings (common/pages.c) holds at
 * most min(WSX__PAGES_CACHE_MAX, budget / 32) bytes (the least of the
 * servers and clients on the loop that use it), and nothing while any of
 * their budgets is more than half in use: message memory and cache
 * together stay within the budget. It is released WSX__PAGES_QUIET_MS
 * after a mapping last entered it, and when the loop's context is freed. */
#define WSX__PAGES_CACHE_MAX (8u << 20)
#define WSX__PAGES_QUIET_MS 1000u

static size_t cache_cap(const wsx__cfg *c) {
  size_t m = WSX__PAGES_CACHE_MAX;
  return c->budget / 32 < m ? c->budget / 32 : m;
}

static void cache_limit(wsx__loopctx *x) {
  if (x->pages.a.malloc)
    wsx__pages_set_limit(&x->pages, x->pages_hot ? 0 : x->pages_cap);
}

/* Called when c's budget_used changed: past half, the cache goes (and
 * stays empty until no budget on the loop is past half). */
static void cache_follow(wsx__cfg *c) {
  int hot = c->budget_used > c->budget / 2;
  if (hot == c->budget_hot)
    return;
  c->budget_hot = hot;
  if (hot)
    c->ctx->pages_hot++;
  else
    c->ctx->pages_hot--;
  cache_limit(c->ctx);
}

/* The most one message may hold: max_length, the per-connection share,
 * and the budget but for the reserve for small buffers. */
static size_t claim(const wsx__cfg *c) {
  uint64_t ml = c->dopts.max_length ? c->dopts.max_length
                                    : WSX_DEFAULT_MAX_LENGTH;
  size_t m = ml < c->budget_share ? (size_t)ml : c->budget_share;
  return m < c->budget - reserve(c) ? m : c->budget - reserve(c);
}

/* Small buffers (a new message, one that stays within WSX__BIG, which
 * most never use: a whole frame is handed out without a copy) are granted
 * whatever is free, without the check below; messages in progress keep
 * this much free for them, so that small growth seldom eats into what
 * they need to complete. */
static size_t reserve(const wsx__cfg *c) { return c->budget / 32; }

/* The budget a socket holds (kept in s->rare, made by the first grant). */
static size_t sock_held(const wsx_socket *s) {
  return s->rare ? s->rare->budget_held : 0;
}

/* ---- connections with a message in progress ---- */

static int big_add(wsx__cfg *c, wsx_socket *s) {
  if (c->budget_nbig == c->budget_capbig) {
    size_t n = c->budget_capbig ? c->budget_capbig * 2 : 16;
    wsx_socket **b = wsx__realloc(&c->alloc, c->budget_big, n * sizeof(*b));
    size_t *h;
    if (!b)
      return WSX_E_NOMEM;
    c->budget_big = b;
    h = wsx__realloc(&c->alloc, c->budget_scratch, (n + 1) * sizeof(*h));
    if (!h)
      return WSX_E_NOMEM;
    c->budget_scratch = h;
    c->budget_capbig = n;
  }
  c->budget_big[c->budget_nbig++] = s;
  return WSX_OK;
}

static void big_remove(wsx__cfg *c, const wsx_socket *s) {
  size_t i;
  for (i = 0; i < c->budget_nbig; i++)
    if (c->budget_big[i] == s) {
      c->budget_big[i] = c->budget_big[--c->budget_nbig];
      return;
    }
}

static int by_held_desc(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* With s holding `held` and `avail` bytes free, can every message in
 * progress still reach the claim, one after the other? */
static int safe(const wsx__cfg *c, const wsx_socket *s, size_t held,
                size_t avail) {
  size_t m = claim(c), n = 0, i;
  size_t *h = c->budget_scratch;
  if (avail >= m)
    return 1; /* the first one can, and then each next one */
  if (!h) { /* no message in progress yet */
    return held <= WSX__BIG || m - held <= avail;
  }
  for (i = 0; i < c->budget_nbig; i++)
    if (c->budget_big[i] != s)
      h[n++] = sock_held(c->budget_big[i]);
  if (held > WSX__BIG)
    h[n++] = held;
  qsort(h, n, sizeof(*h), by_held_desc);
  for (i = 0; i < n; i++) {
    if (h[i] < m && m - h[i] > avail)
      return 0;
    avail += h[i];
  }
  return 1;
}

/* ---- the driver's hook ---- */

static void wake(const wsx__cfg *c);

/* wsx_driver_set_budget's hook: a connection may hold at most its share
 * of its cfg's budget (else 1009: the message is too big for this
 * server), all of them together at most the budget (else 1013; admit()
 * normally parks the connection before it gets here). */
static uint16_t budget_cb(wsx_driver *d, int64_t delta, void *ud) {
  wsx_socket *s = ud;
  wsx__cfg *c = (wsx__cfg *)s->cfg; /* the mutable budget fields */
  int was_big = sock_held(s) > WSX__BIG;
  size_t g;
  (void)d;
  if (delta <= 0) {
    g = (size_t)-delta;
    if (g) /* a refund: a grant made s->rare */
      s->rare->budget_held -= g;
    c->budget_used -= g;
    if (was_big && sock_held(s) <= WSX__BIG)
      big_remove(c, s);
    cache_follow(c); /* before the buffer is freed (it may be cached) */
    if (g && c->ctx->nwait)
      wake(c);
    return 0;
  }
  g = (size_t)delta;
  if (!wsx__sock_rare_get(s))
    return WSX_CLOSE_TRY_AGAIN_LATER; /* out of memory */
  if (g > c->budget_share - sock_held(s))
    return WSX_CLOSE_TOO_LARGE;
  if (g > c->budget - c->budget_used)
    return WSX_CLOSE_TRY_AGAIN_LATER;
  if (!was_big && sock_held(s) + g > WSX__BIG && big_add(c, s) != WSX_OK)
    return WSX_CLOSE_TRY_AGAIN_LATER;
  s->rare->budget_held += g;
  c->budget_used += g;
  if (c->budget_used > c->budget_peak)
    c->budget_peak = c->budget_used;
  cache_follow(c); /* past half: the cache goes */
  return 0;
}

static void rearm(wsx__loopctx *c);

static wsx__loopctx *pages_ctx(wsx__pages *p) {
  return (wsx__loopctx *)(void *)((char *)p - offsetof(wsx__loopctx, pages));
}

/* A freed mapping entered the cache: release it after a quiet period. */
static void on_cache(wsx__pages *p) {
  wsx__loopctx *c = pages_ctx(p);
  c->pages_stamp = uv_now(c->loop);
  if (!uv_is_active((uv_handle_t *)&c->btimer))
    rearm(c);
}

void wsx__sock_budget_attach(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  /* Message buffers come from the loop's page allocator, unless the
   * application gave an allocator of its own (then everything does). */
  if (wsx__alloc_is_libc(&s->cfg->alloc)) {
    if (!c->pages.a.malloc) {
      wsx__pages_init(&c->pages);
      c->pages.on_cache = on_cache;
      c->pages_cap = WSX__PAGES_CACHE_MAX;
    }
    if (cache_cap(s->cfg) < c->pages_cap)
      c->pages_cap = cache_cap(s->cfg);
    cache_limit(c);
    wsx__driver_set_msg_alloc(s->d, &c->pages.a);
  }
  if (s->cfg->budget != SIZE_MAX)
    wsx_driver_set_budget(s->d, budget_cb, s);
}

/* ---- the wait list ---- */

static void on_btimer(uv_timer_t *t);

void wsx__sock_free_message(wsx_socket *s, void *data) {
  wsx__pages *p = &s->cfg->ctx->pages;
  if (wsx__alloc_is_libc(&s->cfg->alloc) && p->a.malloc)
    p->a.free(data, p);
  else
    wsx__free(&s->cfg->alloc, data);
}

static struct wsx__waiter *find(wsx__loopctx *c, const wsx_socket *s) {
  uint32_t i;
  for (i = 0; i < c->nwait; i++)
    if (c->waiters[i].s == s)
      return &c->waiters[i];
  return NULL;
}

/* The timer fires at the earliest parked deadline, or when the page cache
 * is due to be released; only parked sockets keep the loop alive. */
static void rearm(wsx__loopctx *c) {
  uint64_t due = 0, now = uv_now(c->loop);
  uint32_t i;
  for (i = 0; i < c->nwait; i++)
    if (!due || c->waiters[i].until < due)
      due = c->waiters[i].until;
  if (c->pages.ncache &&
      (!due || c->pages_stamp + WSX__PAGES_QUIET_MS < due))
    due = c->pages_stamp + WSX__PAGES_QUIET_MS;
  if (!due) {
    uv_timer_stop(&c->btimer);
    return;
  }
  uv_timer_start(&c->btimer, on_btimer, due > now ? due - now : 0, 0);
  if (c->nwait)
    uv_ref((uv_handle_t *)&c->btimer);
  else
    uv_unref((uv_handle_t *)&c->btimer);
}

void wsx__budget_forget(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  struct wsx__waiter *w = find(c, s);
  s->flags &= ~WSX__F_PARKED;
  if (!w)
    return;
  memmove(w, w + 1, (size_t)(c->waiters + c->nwait - (w + 1)) * sizeof(*w));
  c->nwait--;
  rearm(c);
}

void wsx__budget_ctx_free(wsx__loopctx *c) {
  if (c->pages.a.malloc)
    wsx__pages_release(&c->pages);
  wsx__free(&c->alloc, c->waiters);
  c->waiters = NULL;
  c->nwait = c->capwait = 0;
}

/* Fails the socket's connection with 1013 from outside its input path. */
static void refuse_parked(wsx_socket *s) {
  wsx__yield_forget(s); /* its held-back input, the wait list */
  if (s->d)
    (void)wsx_driver_fail_budget(s->d, WSX_CLOSE_TRY_AGAIN_LATER);
  wsx__sock_start_read(s); /* the close handshake, the peer's FIN */
}

void wsx__budget_park(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  struct wsx__waiter *w = find(c, s);
  s->flags |= WSX__F_PARKED;
  if (w) { /* woken but still does not fit: keeps its place */
    w->woken = 0;
    return;
  }
  if (c->nwait == c->capwait) {
    uint32_t n = c->capwait ? c->capwait * 2 : 16;
    void *p = wsx__realloc(&c->alloc, c->waiters, n * sizeof(*c->waiters));
    if (!p) {
      refuse_parked(s);
      return;
    }
    c->waiters = p;
    c->capwait = n;
  }
  w = &c->waiters[c->nwait++];
  w->s = s;
  w->woken = 0;
  w->until = uv_now(c->loop) + s->cfg->budget_wait;
  w->last = w->until + (uint64_t)(WSX__WAIT_MAX - 1) * s->cfg->budget_wait;
  if (c->nwait == 1 || !uv_is_active((uv_handle_t *)&c->btimer))
    rearm(c);
}

/* Budget came back: every parked socket of this cfg gets another try, in
 * the order they were parked (yield.c's queue, after this callback). */
static void wake(const wsx__cfg *cfg) {
  wsx__loopctx *c = cfg->ctx;
  uint64_t until = uv_now(c->loop) + cfg->budget_wait;
  uint32_t i;
  for (i = 0; i < c->nwait; i++) {
    struct wsx__waiter *w = &c->waiters[i];
    if (w->s->cfg != cfg)
      continue;
    if (w->until < until)
      w->until = until < w->last ? until : w->last;
    if (w->woken)
      continue;
    w->woken = 1;
    wsx__yield_enqueue(w->s);
  }
}

static void on_btimer(uv_timer_t *t) {
  wsx__loopctx *c = t->data;
  uint64_t now = uv_now(c->loop);
  uint32_t i;
  /* Refusing runs callbacks that may change the list: start over. */
  for (i = 0; i < c->nwait;) {
    if (c->waiters[i].until <= now) {
      refuse_parked(c->waiters[i].s);
      i = 0;
    } else {
      i++;
    }
  }
  if (c->pages.ncache && now >= c->pages_stamp + WSX__PAGES_QUIET_MS)
    wsx__pages_release(&c->pages);
  rearm(c);
}

/* ---- admission ---- */

/* No amount of waiting lets s grow by `need`: even with every message in
 * progress given back, the rest of the budget (small buffers kept between
 * messages, other parked connections) leaves too little. */
static int hopeless(const wsx__cfg *c, const wsx_socket *s, size_t need) {
  size_t all = c->budget - c->budget_used, i, m = claim(c);
  size_t want = sock_held(s) + need > WSX__BIG
                    ? m - sock_held(s) + reserve(c)
                    : need;
  for (i = 0; i < c->budget_nbig; i++)
    if (c->budget_big[i] != s)
      all += sock_held(c->budget_big[i]);
  return want > all;
}

/* The waiter to refuse when s cannot go on: the parked connection of this
 * cfg that holds the most (the newest of equals), or s. */
static wsx_socket *victim(const wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  wsx_socket *v = (wsx_socket *)s;
  uint32_t i;
  for (i = 0; i < c->nwait; i++) {
    wsx_socket *o = c->waiters[i].s;
    if (o != s && o->cfg == s->cfg && sock_held(o) > sock_held(v))
      v = o;
  }
  return v;
}

int wsx__budget_admit(wsx_socket *s, size_t more) {
  const wsx__cfg *c = s->cfg;
  for (;;) {
    size_t need = wsx_driver_budget_need(s->d, more), m = claim(c), v;
    wsx_socket *o;
    if (need && sock_held(s) < m && need > m - sock_held(s))
      need = m - sock_held(s); /* more fails with 1009 */
    size_t avail = c->budget - c->budget_used, r = reserve(c);
    if (!need || sock_held(s) >= m ||
        (sock_held(s) + need <= WSX__BIG ? need <= avail
                                           : need + r <= avail &&
                                                 safe(c, s, sock_held(s) + need,
                                                      avail - need - r))) {
      if (s->flags & WSX__F_PARKED)
        wsx__budget_forget(s);
      return 1;
    }
    if (!hopeless(c, s, need))
      return 0;
    o = victim(s);
    if (o == s) {
      if (s->flags & WSX__F_PARKED)
        wsx__budget_forget(s);
      (void)wsx_driver_fail_budget(s->d, WSX_CLOSE_TRY_AGAIN_LATER);
      return -1;
    }
    v = c->budget_used;
    refuse_parked(o);
    if (c->budget_used == v)
      return 0; /* nothing came back (cannot happen: it held more) */
  }
}
