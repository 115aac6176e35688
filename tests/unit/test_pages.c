/* The page allocator for message buffers (src/common/pages.c, issue 16):
 * large blocks are mappings of their own, grown by mremap, unmapped when
 * freed except for a cache bounded by its limit (free mappings plus the
 * unused pages of reused ones), released on demand. Elsewhere than Linux
 * (or built with WSX_PAGES_MALLOC) the allocator is libc's: only the
 * basic contract is checked then. */
#include <errno.h>

#include "common/alloc.h"
#include "test.h"

#if defined(__linux__) && !defined(WSX_PAGES_MALLOC)
#include <sys/mman.h>
#include <unistd.h>
#define MAPPED 1
#endif

#if defined(MAPPED) && defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(MAPPED) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifdef ASAN
#include <sanitizer/asan_interface.h>
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static int cache_calls;
static void on_cache(wsx__pages *p) {
  (void)p;
  cache_calls++;
}

static void setup(wsx__pages *P, size_t limit) {
  memset(P, 0, sizeof(*P));
  wsx__pages_init(P);
  P->on_cache = on_cache;
  wsx__pages_set_limit(P, limit);
  cache_calls = 0;
}

static void *A(wsx__pages *P, size_t n) { return P->a.malloc(n, P->a.ud); }
static void *R(wsx__pages *P, void *p, size_t n) {
  return P->a.realloc(p, n, P->a.ud);
}
static void F(wsx__pages *P, void *p) { P->a.free(p, P->a.ud); }

/* A pattern every 4093 bytes (every page touched); same() checks the
 * first n bytes of it. */
static void fill(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 4093)
    p[i] = (uint8_t)(i * 31u + seed);
}
static int same(const uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 4093)
    if (p[i] != (uint8_t)(i * 31u + seed))
      return 0;
  return 1;
}

#ifdef MAPPED
static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }
/* A block of n bytes: its header and n bytes, in whole pages. */
static size_t maplen(size_t n) { return (n + 16 + page() - 1) & ~(page() - 1); }
/* Is the page holding p mapped? (mincore fails with ENOMEM if not.) */
static int is_mapped(const void *p) {
  unsigned char v;
  void *pg = (void *)((uintptr_t)p & ~(uintptr_t)(page() - 1));
  return mincore(pg, page(), &v) == 0 || errno != ENOMEM;
}
#endif

/* Small blocks come from malloc; past the floor a block is a mapping that
 * grows keeping its bytes, and goes back to malloc when it shrinks. */
TEST(grow_and_shrink) {
  wsx__pages P;
  uint8_t *p;
  setup(&P, 0);
  p = A(&P, 1000);
  REQUIRE(p);
  CHECK_INT((uintptr_t)p % 16, 0);
  fill(p, 1000, 1);
  p = R(&P, p, WSX__PAGES_FLOOR);
  REQUIRE(p);
  CHECK(same(p, 1000, 1));
  fill(p, WSX__PAGES_FLOOR, 2);
#ifdef MAPPED
  CHECK_INT(P.nmaps, 0);
#endif
  p = R(&P, p, 256 * KiB);
  REQUIRE(p);
  CHECK(same(p, WSX__PAGES_FLOOR, 2));
  fill(p, 256 * KiB, 3);
#ifdef MAPPED
  CHECK_INT(P.nmaps, 1);
  CHECK_INT(P.mapped, maplen(256 * KiB));
#endif
  p = R(&P, p, 16 * MiB);
  REQUIRE(p);
  CHECK(same(p, 256 * KiB, 3));
  fill(p, 16 * MiB, 4);
#ifdef MAPPED
  CHECK_INT(P.nmaps, 1);
  CHECK_INT(P.mapped, maplen(16 * MiB));
  CHECK_INT(P.slack, 0);
#endif
  /* shrinking with no cache room gives the tail back at once */
  p = R(&P, p, 128 * KiB);
  REQUIRE(p);
  CHECK(same(p, 128 * KiB, 4));
#ifdef MAPPED
  CHECK_INT(P.mapped, maplen(128 * KiB));
  CHECK_INT(P.slack, 0);
#endif
  p = R(&P, p, 100);
  REQUIRE(p);
  CHECK_INT(p[0], (uint8_t)4);
#ifdef MAPPED
  CHECK_INT(P.nmaps, 0);
  CHECK_INT(P.mapped, 0);
#endif
  F(&P, p);
  F(&P, NULL);
  /* realloc(NULL, n) is malloc(n), small and large */
  p = R(&P, NULL, 10);
  REQUIRE(p);
  F(&P, p);
  p = R(&P, NULL, 1 * MiB);
  REQUIRE(p);
  fill(p, 1 * MiB, 5);
  F(&P, p);
  wsx__pages_release(&P);
#ifdef MAPPED
  CHECK_INT(P.nmaps, 0);
  CHECK_INT(P.mapped, 0);
#endif
}

#ifdef MAPPED
/* With no cache, a freed block is unmapped: the memory is the OS's. */
TEST(free_unmaps) {
  wsx__pages P;
  uint8_t *p;
  setup(&P, 0);
  p = A(&P, 4 * MiB);
  REQUIRE(p);
  fill(p, 4 * MiB, 6);
  CHECK(is_mapped(p));
  CHECK(is_mapped(p + 4 * MiB - 1));
  F(&P, p);
  CHECK(!is_mapped(p));
  CHECK(!is_mapped(p + 4 * MiB - 1));
  CHECK_INT(P.nmaps, 0);
  CHECK_INT(cache_calls, 0);
}

/* The cache keeps freed mappings while cached + slack fit the limit, and
 * at most WSX__PAGES_SLOTS of them. */
TEST(cache_bound) {
  wsx__pages P;
  void *b[20];
  size_t i;
  setup(&P, 3 * MiB);
  for (i = 0; i < 4; i++)
    REQUIRE((b[i] = A(&P, 1 * MiB)));
  CHECK_INT(P.nmaps, 4);
  for (i = 0; i < 4; i++)
    F(&P, b[i]);
  /* 1 MiB + 16 bytes of header is 1 MiB and a page: two fit in 3 MiB */
  CHECK_INT(P.ncache, 2);
  CHECK_INT(P.cached, 2 * maplen(1 * MiB));
  CHECK_INT(P.nmaps, 2);
  CHECK_INT(cache_calls, 2);
  CHECK(P.cached + P.slack <= P.limit);
  wsx__pages_release(&P);
  CHECK_INT(P.ncache, 0);
  CHECK_INT(P.nmaps, 0);
  /* the slot bound */
  setup(&P, 64 * MiB);
  for (i = 0; i < 20; i++)
    REQUIRE((b[i] = A(&P, 128 * KiB)));
  for (i = 0; i < 20; i++)
    F(&P, b[i]);
  CHECK_INT(P.ncache, WSX__PAGES_SLOTS);
  CHECK_INT(P.nmaps, WSX__PAGES_SLOTS);
  wsx__pages_release(&P);
  CHECK_INT(P.nmaps, 0);
  CHECK_INT(P.mapped, 0);
}

/* A block made from a larger cached mapping keeps it: it grows in place,
 * without a new mapping, its unused pages counted as slack. */
TEST(cache_reuse) {
  wsx__pages P;
  uint8_t *p, *q;
  setup(&P, 8 * MiB);
  p = A(&P, 1 * MiB);
  REQUIRE(p);
  fill(p, 1 * MiB, 7);
  F(&P, p);
  CHECK_INT(P.ncache, 1);
  q = A(&P, 128 * KiB);
  REQUIRE(q);
  CHECK(q == p); /* the cached mapping */
  CHECK_INT(P.ncache, 0);
  CHECK_INT(P.nmaps, 1);
  CHECK_INT(P.slack, maplen(1 * MiB) - maplen(128 * KiB));
  fill(q, 128 * KiB, 8);
  q = R(&P, q, 512 * KiB);
  CHECK(q == p);
  CHECK(same(q, 128 * KiB, 8));
  q = R(&P, q, 1 * MiB);
  CHECK(q == p);
  CHECK_INT(P.slack, 0);
  CHECK_INT(P.nmaps, 1);
  /* past the mapping: mremap, the bytes kept */
  fill(q, 1 * MiB, 9);
  q = R(&P, q, 3 * MiB);
  REQUIRE(q);
  CHECK(same(q, 1 * MiB, 9));
  CHECK_INT(P.mapped, maplen(3 * MiB));
  F(&P, q);
  CHECK_INT(P.ncache, 1);
  /* a request larger than any cached mapping grows the largest one */
  q = A(&P, 5 * MiB);
  REQUIRE(q);
  CHECK_INT(P.ncache, 0);
  CHECK_INT(P.nmaps, 1);
  CHECK_INT(P.mapped, maplen(5 * MiB));
  fill(q, 5 * MiB, 10);
  F(&P, q);
  /* 5 MiB fits in 8 MiB: cached */
  CHECK_INT(P.ncache, 1);
  wsx__pages_release(&P);
  CHECK_INT(P.nmaps, 0);
  /* of equal mappings, the one freed last is used first (warm in the CPU
   * caches) */
  p = A(&P, 1 * MiB);
  q = A(&P, 1 * MiB);
  REQUIRE(p && q);
  F(&P, p);
  F(&P, q);
  CHECK(A(&P, 1 * MiB) == q);
  CHECK(A(&P, 1 * MiB) == p);
  F(&P, p);
  F(&P, q);
  wsx__pages_release(&P);
  CHECK_INT(P.nmaps, 0);
}

/* Lowering the limit (the budget is past half full) unmaps the cache; a
 * live block's slack goes back at its next resize, and nothing is cached
 * while the limit is 0. */
TEST(limit_drops_cache) {
  wsx__pages P;
  uint8_t *p, *q;
  setup(&P, 8 * MiB);
  p = A(&P, 4 * MiB);
  q = A(&P, 2 * MiB);
  REQUIRE(p && q);
  F(&P, p);
  CHECK_INT(P.ncache, 1);
  p = A(&P, 256 * KiB); /* from the 4 MiB mapping: slack */
  REQUIRE(p);
  CHECK(P.slack > 3 * MiB);
  F(&P, q);
  CHECK_INT(P.ncache, 1);
  wsx__pages_set_limit(&P, 0);
  CHECK_INT(P.ncache, 0);
  CHECK_INT(P.cached, 0);
  CHECK_INT(P.nmaps, 1);
  p = R(&P, p, 300 * KiB);
  REQUIRE(p);
  CHECK_INT(P.slack, 0);
  CHECK_INT(P.mapped, maplen(300 * KiB));
  F(&P, p);
  CHECK_INT(P.ncache, 0);
  CHECK_INT(P.nmaps, 0);
  CHECK_INT(P.mapped, 0);
}

#ifdef ASAN
/* Under ASan the pages past a mapped block's size, and a cached block,
 * are poisoned like malloc'd memory past its end or freed. */
TEST(asan_guards) {
  wsx__pages P;
  uint8_t *p, *q;
  setup(&P, 8 * MiB);
  p = A(&P, 100 * KiB);
  REQUIRE(p);
  CHECK(!__asan_address_is_poisoned(p));
  CHECK(!__asan_address_is_poisoned(p + 100 * KiB - 1));
  CHECK(__asan_address_is_poisoned(p + 100 * KiB));
  p = R(&P, p, 200 * KiB);
  REQUIRE(p);
  CHECK(!__asan_address_is_poisoned(p + 200 * KiB - 1));
  CHECK(__asan_address_is_poisoned(p + 200 * KiB));
  F(&P, p);
  CHECK_INT(P.ncache, 1);
  CHECK(__asan_address_is_poisoned(p));
  q = A(&P, 80 * KiB); /* the cached mapping again */
  CHECK(q == p);
  CHECK(!__asan_address_is_poisoned(q + 80 * KiB - 1));
  CHECK(__asan_address_is_poisoned(q + 80 * KiB));
  F(&P, q);
  wsx__pages_release(&P);
  CHECK_INT(P.nmaps, 0);
}
#endif
#endif

#ifdef ASAN
TEST_MAIN(RUN(grow_and_shrink); RUN(free_unmaps); RUN(cache_bound);
          RUN(cache_reuse); RUN(limit_drops_cache); RUN(asan_guards))
#elif defined(MAPPED)
TEST_MAIN(RUN(grow_and_shrink); RUN(free_unmaps); RUN(cache_bound);
          RUN(cache_reuse); RUN(limit_drops_cache))
#else
TEST_MAIN(RUN(grow_and_shrink);
          printf("skip pages_cache: no mremap here (libc's allocator)\n"))
#endif
