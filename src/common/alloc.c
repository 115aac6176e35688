#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t n, void *ud) {
  (void)ud;
  return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n);
}
static void libc_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

void wsx__alloc_init(wsx_allocator *out, const wsx_allocator *in) {
  out->malloc = (in && in->malloc) ? in->malloc : libc_malloc;
  out->realloc = (in && in->realloc) ? in->realloc : libc_realloc;
  out->free = (in && in->free) ? in->free : libc_free;
  out->ud = in ? in->ud : NULL;
}

int wsx__alloc_is_libc(const wsx_allocator *a) {
  return a->malloc == libc_malloc && a->realloc == libc_realloc &&
         a->free == libc_free;
}

void *wsx__malloc(const wsx_allocator *a, size_t n) {
  return a->malloc(n ? n : 1, a->ud);
}

void *wsx__realloc(const wsx_allocator *a, void *p, size_t n) {
  return a->realloc(p, n ? n : 1, a->ud);
}

void wsx__free(const wsx_allocator *a, void *p) {
  if (p)
    a->free(p, a->ud);
}

char *wsx__strndup(const wsx_allocator *a, const char *s, size_t len) {
  char *r = wsx__malloc(a, len + 1);
  if (!r)
    return NULL;
  if (len)
    memcpy(r, s, len);
  r[len] = '\0';
  return r;
}

int wsx__buf_reserve(wsx__buf *b, const wsx_allocator *a, size_t extra) {
  if (b->cap - b->len >= extra)
    return WSX_OK;
  if (extra > SIZE_MAX / 2 - b->len)
    return WSX_E_NOMEM;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  uint8_t *p = wsx__realloc(a, b->data, cap);
  if (!p)
    return WSX_E_NOMEM;
  b->data = p;
  b->cap = cap;
  return WSX_OK;
}

int wsx__buf_append(wsx__buf *b, const wsx_allocator *a, const void *p,
                    size_t n) {
  if (n == 0)
    return WSX_OK;
  int rc = wsx__buf_reserve(b, a, n);
  if (rc)
    return rc;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return WSX_OK;
}

void wsx__buf_free(wsx__buf *b, const wsx_allocator *a) {
  wsx__free(a, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
