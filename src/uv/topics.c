/*
 * The per-loop topic table (uv/pubsub.h): a chained hash of topics, each
 * with an array of subscribers, and per socket an array of its topics.
 * Each entry knows its index in the other array, so subscribing and
 * leaving are O(1) (swap with the last entry) and a closing socket leaves
 * all its topics in O(its topics). A topic being published to keeps its
 * array stable: leaving then only clears the entry, and the publication
 * compacts the array when it is done.
 */
#include <string.h>

#include "uv/pubsub.h"

static uint32_t hash_name(const void *p, size_t len) {
  const uint8_t *b = p;
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= b[i];
    h *= 16777619u;
  }
  return h;
}

static int valid_topic(const void *p, size_t len) {
  return p && len > 0 && len <= WSX_TOPIC_MAX;
}

wsx__topic *wsx__topic_find(wsx__topics *tt, const void *name, size_t len) {
  uint32_t h;
  wsx__topic *t;
  if (!tt || !tt->tab)
    return NULL;
  h = hash_name(name, len);
  for (t = tt->tab[h & tt->mask]; t; t = t->next)
    if (t->hash == h && t->len == len && memcmp(t->name, name, len) == 0)
      return t;
  return NULL;
}

static wsx__topics *table(wsx__loopctx *c) {
  if (!c->topics) {
    c->topics = wsx__malloc(&c->alloc, sizeof(wsx__topics));
    if (c->topics)
      memset(c->topics, 0, sizeof(wsx__topics));
  }
  return c->topics;
}

static int grow_table(wsx__loopctx *c, wsx__topics *tt) {
  uint32_t ncap = tt->tab ? (tt->mask + 1) * 2 : 16, i;
  wsx__topic **nt;
  if (tt->tab && tt->count < tt->mask + 1)
    return WSX_OK;
  if (ncap > (1u << 30))
    return WSX_OK; /* longer chains, still correct */
  if (!(nt = wsx__malloc(&c->alloc, ncap * sizeof(*nt))))
    return tt->tab ? WSX_OK : WSX_E_NOMEM;
  memset(nt, 0, ncap * sizeof(*nt));
  for (i = 0; tt->tab && i <= tt->mask; i++) {
    wsx__topic *t = tt->tab[i], *next;
    for (; t; t = next) {
      next = t->next;
      t->next = nt[t->hash & (ncap - 1)];
      nt[t->hash & (ncap - 1)] = t;
    }
  }
  wsx__free(&c->alloc, tt->tab);
  tt->tab = nt;
  tt->mask = ncap - 1;
  return WSX_OK;
}

static wsx__topic *topic_add(wsx__loopctx *c, const void *name, size_t len) {
  wsx__topics *tt = table(c);
  wsx__topic *t;
  uint32_t h = hash_name(name, len);
  if (!tt || grow_table(c, tt) != WSX_OK)
    return NULL;
  if (!(t = wsx__malloc(&c->alloc, sizeof(*t) + len)))
    return NULL;
  memset(t, 0, sizeof(*t));
  t->hash = h;
  t->len = (uint16_t)len;
  memcpy(t->name, name, len);
  t->next = tt->tab[h & tt->mask];
  tt->tab[h & tt->mask] = t;
  tt->count++;
  return t;
}

static void topic_remove(wsx__loopctx *c, wsx__topic *t) {
  wsx__topics *tt = c->topics;
  wsx__topic **pp = &tt->tab[t->hash & tt->mask];
  while (*pp != t)
    pp = &(*pp)->next;
  *pp = t->next;
  tt->count--;
  wsx__free(&c->alloc, t->subs);
  wsx__free(&c->alloc, t);
}

static int reserve(const wsx_allocator *a, void **arr, uint32_t *cap,
                   uint32_t need, size_t elem) {
  uint32_t ncap;
  void *p;
  if (need <= *cap)
    return WSX_OK;
  if (need > UINT32_MAX / 2)
    return WSX_E_NOMEM;
  ncap = *cap ? *cap * 2 : 4;
  while (ncap < need)
    ncap *= 2;
  if (!(p = wsx__realloc(a, *arr, (size_t)ncap * elem)))
    return WSX_E_NOMEM;
  *arr = p;
  *cap = ncap;
  return WSX_OK;
}

static int closing(const wsx_socket *s) {
  return (s->flags & (WSX__F_HANDLE_CLOSING | WSX__F_EOF)) ||
         s->phase == WSX__P_TEARDOWN;
}

int wsx_socket_subscribe(wsx_socket *s, const void *topic, size_t len) {
  wsx__loopctx *c;
  wsx__topic *t;
  wsx__psock *ps;
  int fresh = 0;
  if (!s || !valid_topic(topic, len))
    return WSX_E_INVALID;
  /* Needs neither handle nor driver: a sleeper stays asleep (publish.c
   * writes to it through wsx__hib_send). */
  if (closing(s))
    return WSX_E_CLOSED;
  c = s->cfg->ctx;
  if (wsx_socket_is_subscribed(s, topic, len))
    return 1;
  if (!s->ps) {
    if (!(s->ps = wsx__malloc(&c->alloc, sizeof(*s->ps))))
      return WSX_E_NOMEM;
    memset(s->ps, 0, sizeof(*s->ps));
    s->ps->cls = -1;
    /* Room for a few queued publications (pubflush.c): a publish then
     * allocates nothing per subscriber. */
    if (!(s->ps->q = wsx__malloc(&c->alloc, 4 * sizeof(*s->ps->q)))) {
      wsx__free(&c->alloc, s->ps);
      s->ps = NULL;
      return WSX_E_NOMEM;
    }
    s->ps->qcap = 4;
  }
  ps = s->ps;
  if (!(t = wsx__topic_find(c->topics, topic, len))) {
    if (!(t = topic_add(c, topic, len)))
      return WSX_E_NOMEM;
    fresh = 1;
  }
  if (reserve(&c->alloc, (void **)&t->subs, &t->cap, t->n + 1,
              sizeof(*t->subs)) != WSX_OK ||
      reserve(&c->alloc, (void **)&ps->e, &ps->cap, ps->n + 1,
              sizeof(*ps->e)) != WSX_OK) {
    if (fresh)
      topic_remove(c, t);
    return WSX_E_NOMEM;
  }
  t->subs[t->n].s = s;
  t->subs[t->n].slot = ps->n;
  ps->e[ps->n].t = t;
  ps->e[ps->n].idx = t->n;
  t->n++;
  t->live++;
  ps->n++;
  return WSX_OK;
}

/* Removes entry `slot` of s's list (and s from that topic). */
static void leave(wsx__loopctx *c, wsx_socket *s, uint32_t slot) {
  wsx__psock *ps = s->ps;
  wsx__topic *t = ps->e[slot].t;
  uint32_t idx = ps->e[slot].idx;
  if (t->iterating) {
    t->subs[idx].s = NULL; /* compacted by wsx__topic_iter_done */
  } else {
    t->n--;
    if (idx != t->n) {
      t->subs[idx] = t->subs[t->n];
      t->subs[idx].s->ps->e[t->subs[idx].slot].idx = idx;
    }
  }
  t->live--;
  ps->n--;
  if (slot != ps->n) {
    ps->e[slot] = ps->e[ps->n];
    if (ps->e[slot].t->subs[ps->e[slot].idx].s == s)
      ps->e[slot].t->subs[ps->e[slot].idx].slot = slot;
  }
  if (t->live == 0 && !t->iterating)
    topic_remove(c, t);
}

static long find_slot(const wsx_socket *s, const void *topic, size_t len) {
  uint32_t i;
  if (!s->ps)
    return -1;
  for (i = 0; i < s->ps->n; i++) {
    const wsx__topic *t = s->ps->e[i].t;
    if (t->len == len && memcmp(t->name, topic, len) == 0)
      return (long)i;
  }
  return -1;
}

int wsx_socket_unsubscribe(wsx_socket *s, const void *topic, size_t len) {
  long i;
  if (!s || !valid_topic(topic, len))
    return WSX_E_INVALID;
  if ((i = find_slot(s, topic, len)) < 0)
    return 0;
  leave(s->cfg->ctx, s, (uint32_t)i);
  return 1;
}

int wsx_socket_is_subscribed(const wsx_socket *s, const void *topic,
                             size_t len) {
  return s && valid_topic(topic, len) && find_slot(s, topic, len) >= 0;
}

size_t wsx_socket_topic_count(const wsx_socket *s) {
  return s && s->ps ? s->ps->n : 0;
}

const void *wsx_socket_topic(const wsx_socket *s, size_t i, size_t *len) {
  if (!s || !s->ps || i >= s->ps->n) {
    if (len)
      *len = 0;
    return NULL;
  }
  if (len)
    *len = s->ps->e[i].t->len;
  return s->ps->e[i].t->name;
}

size_t wsx_loop_subscribers(uv_loop_t *loop, const void *topic,
                            size_t topic_len) {
  wsx__loopctx *c = wsx__loopctx_find(loop);
  wsx__topic *t;
  if (!c || !valid_topic(topic, topic_len))
    return 0;
  t = wsx__topic_find(c->topics, topic, topic_len);
  return t ? t->live : 0;
}

void wsx__topic_iter_done(wsx__loopctx *c, wsx__topic *t) {
  uint32_t i, j = 0;
  if (t->iterating)
    return;
  if (t->live == t->n)
    return;
  for (i = 0; i < t->n; i++) {
    if (!t->subs[i].s)
      continue;
    t->subs[j] = t->subs[i];
    t->subs[j].s->ps->e[t->subs[j].slot].idx = j;
    j++;
  }
  t->n = j;
  if (t->live == 0)
    topic_remove(c, t);
}

void wsx__pubsub_leave_all(wsx_socket *s) {
  wsx__pubsub_drop_queue(s); /* closing: queued frames are not sent */
  while (s->ps && s->ps->n)
    leave(s->cfg->ctx, s, s->ps->n - 1);
}

void wsx__pubsub_free(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  if (!s->ps)
    return;
  wsx__pubsub_leave_all(s);
  wsx__free(&c->alloc, s->ps->e);
  wsx__free(&c->alloc, s->ps->q);
  wsx__free(&c->alloc, s->ps);
  s->ps = NULL;
}

uint32_t wsx__pubsub_writes(const wsx_socket *s) {
  return s->ps ? s->ps->writes + s->ps->qn : 0;
}
