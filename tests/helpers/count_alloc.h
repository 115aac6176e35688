/*
 * tests/helpers/count_alloc.h: a counting wsx_allocator for tests that
 * measure memory or fail the n-th allocation. Linked into every unit and
 * conformance test program (see CMakeLists.txt).
 *
 *   tc_counter c = {0};
 *   wsx_allocator a = TC_ALLOCATOR(&c);
 *   ... c.cur (bytes live), c.peak, c.calls; c.fail_at = n fails call n.
 */
#ifndef WSX_TEST_COUNT_ALLOC_H
#define WSX_TEST_COUNT_ALLOC_H

#include <stddef.h>

typedef struct tc_counter {
  size_t cur, peak, calls;
  long fail_at; /* the n-th call (1-based) fails; 0 = never */
} tc_counter;

void *tc_malloc(size_t n, void *ud);
void *tc_realloc(void *q, size_t n, void *ud);
void tc_free(void *q, void *ud);

#define TC_ALLOCATOR(counter_ptr)                                              \
  { tc_malloc, tc_realloc, tc_free, (counter_ptr) }

#endif
