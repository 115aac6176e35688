/*
 * pages.c: page-level memory for message buffers (wsx__pages, alloc.h;
 * issue 16).
 *
 * Why not malloc: a message buffer grows by doubling up to max_length and
 * is freed when the message ends. Carved out of glibc's heap, a freed one
 * stays resident wherever it lay (only the heap top is trimmed), a later
 * one is carved out of whatever the heap holds (after 9,000 idle TLS
 * connections closed, a fragmented 132 MiB extent), and how much of that
 * goes back to the OS depends on thresholds the application would have to
 * tune. Here a large buffer is a mapping of its own: its memory goes back
 * to the OS when it is freed, and it grows by mremap without a copy.
 *
 * Mapping and unmapping every 1 MiB message would cost 256 page faults per
 * message, so a few freed mappings are kept (the cache). A block taken
 * from the cache keeps the whole mapping, whatever smaller size was asked
 * for, so the buffer then grows into pages that are already resident; the
 * pages it does not use are `slack`, counted with the cache against its
 * bound (the memory is resident either way).
 *
 * Every block starts with a 16-byte header (size asked for, mapping
 * length or 0 for a malloc'd block); the pointer handed out follows it.
 *
 * Only on Linux (mremap); elsewhere, or built with WSX_PAGES_MALLOC
 * (cmake -DWSX_PAGES=OFF), the allocator is libc's and has no cache.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && !defined(WSX_PAGES_MALLOC)
#define WSX__PAGES_MMAP 1
#include <sys/mman.h>
#include <unistd.h>
#endif

#ifdef WSX__PAGES_MMAP

/* Under AddressSanitizer the bytes of a mapping past its block's size, and
 * a cached mapping's whole block, are poisoned, so overflows and uses
 * after free are caught as they would be in malloc'd memory; a mapping is
 * unpoisoned before it is moved or unmapped (its addresses may be mapped
 * again later). */
#if defined(__SANITIZE_ADDRESS__)
#define WSX__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSX__ASAN 1
#endif
#endif
#ifdef WSX__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct hdr {
  size_t size; /* bytes asked for (the caller's capacity) */
  size_t map;  /* length of the mapping this header starts, 0 = malloc'd */
} hdr;

_Static_assert(sizeof(hdr) == 16, "blocks stay 16-byte aligned");

static hdr *hdr_of(void *p) { return (hdr *)p - 1; }

/* The block's bytes usable, the rest of its mapping poisoned. */
static void guard(const hdr *h) {
  UNPOISON((char *)(h + 1), h->size);
  POISON((char *)(h + 1) + h->size, h->map - sizeof(hdr) - h->size);
}

/* Bytes of whole pages for a block of n bytes; 0 on overflow. */
static size_t map_len(const wsx__pages *P, size_t n) {
  if (n > SIZE_MAX - sizeof(hdr) - P->page)
    return 0;
  return (n + sizeof(hdr) + P->page - 1) & ~(P->page - 1);
}

/* Whole pages of h's mapping beyond what its block needs. */
static size_t slack_of(const wsx__pages *P, const hdr *h) {
  return h->map - map_len(P, h->size);
}

static void unmap(wsx__pages *P, hdr *h) {
  P->mapped -= h->map;
  P->nmaps--;
  UNPOISON((char *)h, h->map);
  (void)munmap(h, h->map);
}

/* Resizes h's mapping to `len` bytes; NULL (h unchanged) on failure. The
 * caller guards the block again. */
static hdr *remap(wsx__pages *P, hdr *h, size_t len) {
  void *q;
  UNPOISON((char *)h, h->map);
  q = mremap(h, h->map, len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED)
    return NULL;
  h = q;
  P->mapped = P->mapped - h->map + len;
  h->map = len;
  return h;
}

/* Gives h's slack back to the OS when the cache's bound needs the room. */
static void trim(wsx__pages *P, hdr *h) {
  size_t s = slack_of(P, h), len = h->map - s;
  hdr *q;
  if (!s || P->cached + P->slack <= P->limit)
    return;
  UNPOISON((char *)h, h->map);
  q = mremap(h, h->map, len, 0); /* shrinking stays in place */
  if (q != MAP_FAILED) {
    P->slack -= s;
    P->mapped -= s;
    h->map = len;
  }
  guard(h);
}

/* A cached mapping for `len` bytes, removed from the cache: the smallest
 * one that is large enough, else the largest, grown; of equals the one
 * freed last (its bytes are the likeliest to be in the CPU's caches; with
 * the oldest of several, a 10 x 1 MiB echo took 10-15% more server CPU per
 * message). NULL: none. */
static hdr *take(wsx__pages *P, size_t len) {
  uint32_t i, best;
  hdr *h;
  if (!P->ncache)
    return NULL;
  best = P->ncache - 1;
  for (i = best; i-- > 0;) {
    size_t m = ((hdr *)P->cache[i])->map;
    size_t bm = ((hdr *)P->cache[best])->map;
    if (bm >= len ? m >= len && m < bm : m > bm)
      best = i;
  }
  h = P->cache[best];
  P->ncache--;
  memmove(&P->cache[best], &P->cache[best + 1],
          (P->ncache - best) * sizeof(P->cache[0]));
  P->cached -= h->map;
  if (h->map < len) {
    hdr *q = remap(P, h, len);
    if (!q) {
      unmap(P, h);
      return NULL;
    }
    h = q;
  }
  return h;
}

/* A mapped block of n bytes (n > WSX__PAGES_FLOOR). */
static void *map_get(wsx__pages *P, size_t n) {
  size_t len = map_len(P, n);
  hdr *h;
  if (!len)
    return NULL;
  h = take(P, len);
  if (!h) {
    void *q = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
      return NULL;
    h = q;
    h->map = len;
    P->mapped += len;
    P->nmaps++;
    P->made++;
  }
  h->size = n;
  P->slack += slack_of(P, h);
  guard(h);
  trim(P, h);
  return h + 1;
}

/* A freed mapping: cached if the bound has room, else unmapped. */
static void map_put(wsx__pages *P, hdr *h) {
  P->slack -= slack_of(P, h);
  if (P->ncache < WSX__PAGES_SLOTS && h->map <= P->limit &&
      P->cached + P->slack <= P->limit - h->map) {
    P->cache[P->ncache++] = h;
    P->cached += h->map;
    POISON((char *)(h + 1), h->map - sizeof(hdr)); /* use after free */
    if (P->on_cache)
      P->on_cache(P);
    return;
  }
  unmap(P, h);
}

static void *small_get(size_t n) {
  hdr *h = malloc(sizeof(hdr) + n);
  if (!h)
    return NULL;
  h->size = n;
  h->map = 0;
  return h + 1;
}

static void *pages_malloc(size_t n, void *ud) {
  return n > WSX__PAGES_FLOOR ? map_get(ud, n) : small_get(n);
}

static void pages_free(void *p, void *ud) {
  hdr *h;
  if (!p)
    return;
  h = hdr_of(p);
  if (h->map)
    map_put(ud, h);
  else
    free(h);
}

/* Moves a block to the other kind (malloc'd <-> mapped) by a copy. */
static void *move(wsx__pages *P, hdr *h, size_t n) {
  void *q = pages_malloc(n, P);
  if (!q)
    return NULL;
  memcpy(q, h + 1, h->size < n ? h->size : n);
  pages_free(h + 1, P);
  return q;
}

static void *pages_realloc(void *p, size_t n, void *ud) {
  wsx__pages *P = ud;
  hdr *h;
  size_t len;
  if (!p)
    return pages_malloc(n, P);
  h = hdr_of(p);
  if (!h->map) {
    if (n > WSX__PAGES_FLOOR)
      return move(P, h, n);
    if (n > SIZE_MAX - sizeof(hdr))
      return NULL;
    h = realloc(h, sizeof(hdr) + n);
    if (!h)
      return NULL;
    h->size = n;
    return h + 1;
  }
  if (n <= WSX__PAGES_FLOOR)
    return move(P, h, n);
  if (!(len = map_len(P, n)))
    return NULL;
  P->slack -= slack_of(P, h);
  if (len > h->map) {
    hdr *q = remap(P, h, len);
    if (!q) {
      P->slack += slack_of(P, h);
      guard(h);
      return NULL;
    }
    h = q;
  }
  h->size = n;
  P->slack += slack_of(P, h);
  guard(h);
  trim(P, h);
  return h + 1;
}

void wsx__pages_init(wsx__pages *P) {
  long pg = sysconf(_SC_PAGESIZE);
  P->page = pg > 0 ? (size_t)pg : 4096;
  P->a.malloc = pages_malloc;
  P->a.realloc = pages_realloc;
  P->a.free = pages_free;
  P->a.ud = P;
}

void wsx__pages_release(wsx__pages *P) {
  while (P->ncache) {
    hdr *h = P->cache[--P->ncache];
    P->cached -= h->map;
    unmap(P, h);
  }
}

#else /* no mremap: libc's allocator, no cache */

void wsx__pages_init(wsx__pages *P) { wsx__alloc_init(&P->a, NULL); }

void wsx__pages_release(wsx__pages *P) { (void)P; }

#endif

void wsx__pages_set_limit(wsx__pages *P, size_t limit) {
  P->limit = limit;
  if (P->cached + P->slack > limit)
    wsx__pages_release(P);
}
