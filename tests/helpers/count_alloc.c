#include "count_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Each block carries its size in a max_align_t-sized prefix, so frees and
 * reallocs keep `cur` exact. */
void *tc_malloc(size_t n, void *ud) {
  tc_counter *c = ud;
  c->calls++;
  if (c->fail_at && (long)c->calls == c->fail_at)
    return NULL;
  size_t *p = malloc(n + sizeof(max_align_t));
  if (!p)
    return NULL;
  *p = n;
  c->cur += n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  return (char *)p + sizeof(max_align_t);
}

void tc_free(void *q, void *ud) {
  tc_counter *c = ud;
  if (!q)
    return;
  size_t *p = (size_t *)(void *)((char *)q - sizeof(max_align_t));
  c->cur -= *p;
  free(p);
}

void *tc_realloc(void *q, size_t n, void *ud) {
  if (!q)
    return tc_malloc(n, ud);
  void *r = tc_malloc(n, ud);
  if (!r)
    return NULL;
  size_t old = *(size_t *)(void *)((char *)q - sizeof(max_align_t));
  memcpy(r, q, old < n ? old : n);
  tc_free(q, ud);
  return r;
}
