/*
 * The request router (wsx/router.h). Built on the public request API only:
 * it reads a request's path and offered subprotocols and hands the request
 * to a handler, or rejects it with 404.
 *
 * Mounts live in one array; a route is a linear scan, which for the tens of
 * mounts a server has is cheaper than any index and keeps mount order
 * irrelevant to the result (precedence is computed, not positional).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/util.h"
#include "wsx/router.h"

enum { KIND_EXACT, KIND_PREFIX, KIND_ANY };

typedef struct mount {
  char *pattern;   /* as mounted (owned) */
  size_t plen;     /* exact: pattern length; prefix: length before "/" "*" */
  int kind;        /* KIND_* */
  char *protocol;  /* NULL = no protocol; "*" = any (owned) */
  wsx_route_cb cb;
  void *ud;
  int dead; /* unmounted during a route: freed when the route returns */
} mount;

struct wsx_router {
  wsx_allocator alloc;
  mount *m;   /* mounts, in mount order */
  size_t n;   /* used */
  size_t cap; /* allocated */
  int depth;  /* handlers running (routes in progress) */
  int dead;   /* mounts marked dead, to compact when depth is back to 0 */
};

static int valid_protocol(const char *p) {
  if (!p || strcmp(p, "*") == 0)
    return 1;
  if (!*p)
    return 0;
  for (; *p; p++)
    if (!wsx__tchar[(unsigned char)*p] || *p == '*')
      return 0;
  return 1;
}

/* Classifies a path pattern; -1 if invalid. */
static int classify(const char *path, size_t *plen) {
  size_t n = strlen(path);
  if (strcmp(path, "*") == 0) {
    *plen = 0;
    return KIND_ANY;
  }
  if (n == 0 || path[0] != '/')
    return -1;
  const char *star = strchr(path, '*');
  if (!star) {
    *plen = n;
    return KIND_EXACT;
  }
  if (star != path + n - 1 || n < 2 || path[n - 2] != '/')
    return -1;
  *plen = n - 2; /* "/rooms/" "*" -> "/rooms"; "/" "*" -> "" */
  return KIND_PREFIX;
}

static int same_protocol(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

wsx_router *wsx_router_new(const wsx_allocator *alloc) {
  wsx_allocator a;
  wsx__alloc_init(&a, alloc);
  wsx_router *r = wsx__malloc(&a, sizeof *r);
  if (!r)
    return NULL;
  memset(r, 0, sizeof *r);
  r->alloc = a;
  return r;
}

static void mount_free(wsx_router *r, mount *m) {
  wsx__free(&r->alloc, m->pattern);
  wsx__free(&r->alloc, m->protocol);
}

void wsx_router_free(wsx_router *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    mount_free(r, &r->m[i]);
  wsx__free(&r->alloc, r->m);
  wsx__free(&r->alloc, r);
}

size_t wsx_router_count(const wsx_router *r) {
  return r ? r->n - (size_t)r->dead : 0;
}

static mount *find(wsx_router *r, const char *path, const char *protocol) {
  for (size_t i = 0; i < r->n; i++)
    if (!r->m[i].dead && strcmp(r->m[i].pattern, path) == 0 &&
        same_protocol(r->m[i].protocol, protocol))
      return &r->m[i];
  return NULL;
}

int wsx_router_mount(wsx_router *r, const char *path, const char *protocol,
                     wsx_route_cb cb, void *user_data) {
  size_t plen;
  if (!r || !path || !cb || !valid_protocol(protocol))
    return WSX_E_INVALID;
  int kind = classify(path, &plen);
  if (kind < 0)
    return WSX_E_INVALID;
  if (find(r, path, protocol))
    return WSX_E_BUSY;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    mount *m = wsx__realloc(&r->alloc, r->m, cap * sizeof *m);
    if (!m)
      return WSX_E_NOMEM;
    r->m = m;
    r->cap = cap;
  }
  mount nm;
  memset(&nm, 0, sizeof nm);
  nm.pattern = wsx__strndup(&r->alloc, path, strlen(path));
  nm.protocol =
      protocol ? wsx__strndup(&r->alloc, protocol, strlen(protocol)) : NULL;
  if (!nm.pattern || (protocol && !nm.protocol)) {
    mount_free(r, &nm);
    return WSX_E_NOMEM;
  }
  nm.plen = plen;
  nm.kind = kind;
  nm.cb = cb;
  nm.ud = user_data;
  r->m[r->n++] = nm;
  return WSX_OK;
}

int wsx_router_unmount(wsx_router *r, const char *path, const char *protocol) {
  if (!r || !path)
    return WSX_E_INVALID;
  mount *m = find(r, path, protocol);
  if (!m)
    return WSX_E_INVALID;
  if (r->depth > 0) {
    /* A handler is running and may hold this mount's pattern. */
    m->dead = 1;
    r->dead++;
    return WSX_OK;
  }
  mount_free(r, m);
  size_t i = (size_t)(m - r->m);
  memmove(&r->m[i], &r->m[i + 1], (r->n - i - 1) * sizeof *m);
  r->n--;
  return WSX_OK;
}

/* How well a mount's path pattern matches: higher is better; -1 = no. */
static long path_score(const mount *m, const char *path, size_t len) {
  if (m->dead)
    return -1;
  switch (m->kind) {
  case KIND_EXACT:
    return (m->plen == len && memcmp(m->pattern, path, len) == 0)
               ? LONG_MAX - 1
               : -1;
  case KIND_PREFIX:
    if (len < m->plen || memcmp(m->pattern, path, m->plen) != 0)
      return -1;
    if (len > m->plen && path[m->plen] != '/')
      return -1; /* "/roomsX" is not under "/rooms/" */
    return (long)m->plen + 1;
  default:
    return 0;
  }
}

/* The best mount for a path and the client's offers, trying path scores
 * from best to worst. Sets *proto to the protocol to accept with. */
static const mount *pick(const wsx_router *r, const char *path, size_t len,
                         const char *const *offers, size_t noffers,
                         const char **proto) {
  long bound = LONG_MAX;
  for (;;) {
    long best = -1;
    for (size_t i = 0; i < r->n; i++) {
      long s = path_score(&r->m[i], path, len);
      if (s > best && s < bound)
        best = s;
    }
    if (best < 0)
      return NULL;
    /* 1: a named mount for the first offer that has one. */
    for (size_t k = 0; k < noffers; k++)
      for (size_t i = 0; i < r->n; i++) {
        const mount *m = &r->m[i];
        if (path_score(m, path, len) == best && m->protocol &&
            strcmp(m->protocol, "*") != 0 &&
            strcmp(m->protocol, offers[k]) == 0) {
          *proto = offers[k];
          return m;
        }
      }
    /* 2: no offers and a no-protocol mount. 3: the "*" mount. */
    for (int pass = 0; pass < 2; pass++)
      for (size_t i = 0; i < r->n; i++) {
        const mount *m = &r->m[i];
        if (path_score(m, path, len) != best)
          continue;
        if (pass == 0 && noffers == 0 && !m->protocol) {
          *proto = NULL;
          return m;
        }
        if (pass == 1 && m->protocol && strcmp(m->protocol, "*") == 0) {
          *proto = noffers ? offers[0] : NULL;
          return m;
        }
      }
    bound = best; /* nothing for these protocols here: try a wider path */
  }
}

int wsx_router_route(wsx_router *r, wsx_request *req) {
  if (!r || !req)
    return WSX_E_INVALID;
  size_t len = 0, noffers = 0;
  const char *path = wsx_request_path(req, &len);
  const char *const *offers = wsx_request_protocols(req, &noffers);
  const char *proto = NULL;
  const mount *m = pick(r, path, len, offers, noffers, &proto);
  if (!m) {
    char reason[160];
    if (noffers)
      snprintf(reason, sizeof reason, "no route for %.*s with protocol %s",
               (int)(len > 64 ? 64 : len), path, offers[0]);
    else
      snprintf(reason, sizeof reason, "no route for %.*s",
               (int)(len > 64 ? 64 : len), path);
    /* The reason goes into a header: keep only visible ASCII and SP. */
    for (char *c = reason; *c; c++)
      if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
        *c = '?';
    wsx_request_reject(req, 404, reason, NULL, 0);
    return 0;
  }
  wsx_route route;
  route.pattern = m->pattern;
  route.path = path;
  route.path_len = len;
  route.rest = "";
  route.rest_len = 0;
  if (m->kind == KIND_PREFIX && len > m->plen + 1) {
    route.rest = path + m->plen + 1;
    route.rest_len = len - m->plen - 1;
  }
  route.protocol = proto;
  /* The handler may mount (the array may move: `m` is not used after
   * the call) or unmount (deferred while depth > 0). */
  wsx_route_cb cb = m->cb;
  void *ud = m->ud;
  r->depth++;
  cb(req, &route, ud);
  if (--r->depth == 0 && r->dead) {
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++) {
      if (r->m[i].dead)
        mount_free(r, &r->m[i]);
      else
        r->m[j++] = r->m[i];
    }
    r->n = j;
    r->dead = 0;
  }
  return 1;
}

void wsx_router_server_request(wsx_server *srv, wsx_request *req,
                               void *router) {
  (void)srv;
  wsx_router_route(router, req);
}
