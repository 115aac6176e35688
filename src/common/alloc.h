/* Internal allocation helpers over wsx_allocator (NULL members = libc). */
#ifndef WSX_SRC_ALLOC_H
#define WSX_SRC_ALLOC_H

#include "wsx/common.h"

/* Fills `out` from `in` (NULL allowed), defaulting missing members to libc. */
void wsx__alloc_init(wsx_allocator *out, const wsx_allocator *in);
void *wsx__malloc(const wsx_allocator *a, size_t n);
void *wsx__realloc(const wsx_allocator *a, void *p, size_t n);
void wsx__free(const wsx_allocator *a, void *p);
/* Copies s[0..len) into a new NUL-terminated string; NULL on OOM. */
char *wsx__strndup(const wsx_allocator *a, const char *s, size_t len);

/*
 * A growable byte buffer. `data` is NULL until the first append.
 * Invariant: len <= cap.
 */
typedef struct wsx__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} wsx__buf;

/* Ensures room for `extra` more bytes (grows geometrically).
 * Returns WSX_OK or WSX_E_NOMEM. */
int wsx__buf_reserve(wsx__buf *b, const wsx_allocator *a, size_t extra);
int wsx__buf_append(wsx__buf *b, const wsx_allocator *a, const void *p,
                    size_t n);
void wsx__buf_free(wsx__buf *b, const wsx_allocator *a);

/* Non-zero when `a` (resolved by wsx__alloc_init) is libc's: the
 * application set no allocator member of its own. */
int wsx__alloc_is_libc(const wsx_allocator *a);

/*
 * Page-level memory for message buffers (pages.c; issue 16). `a` is an
 * allocator over it, used by the libuv transport for a driver's message
 * buffer (wsx__driver_set_msg_alloc, driver/embed.h) when the application
 * kept the default allocator; a pointer from it must go back to it.
 *
 * Linux: a block over WSX__PAGES_FLOOR bytes is a mapping of its own
 * (mmap), grown by mremap(MREMAP_MAYMOVE), which moves page tables, not
 * bytes; smaller ones come from malloc. A freed mapping is unmapped, unless
 * it fits in the cache of recently freed mappings: `cached` (the free
 * mappings) plus `slack` (the unused pages of live blocks made from a
 * larger cached mapping) stay within `limit` (0 = no cache). A block taken
 * from the cache keeps its larger mapping, so it grows into pages already
 * resident, without a system call or a page fault.
 * Elsewhere (no mremap), or with WSX_PAGES_MALLOC defined (cmake
 * -DWSX_PAGES=OFF): `a` is libc's and none of this applies.
 *
 * One per loop, used on the loop's thread only (no locking).
 */
#define WSX__PAGES_FLOOR 65536u /* larger blocks are mappings of their own */
#define WSX__PAGES_SLOTS 16u    /* at most this many free mappings kept */
typedef struct wsx__pages {
  wsx_allocator a; /* over this object: a.ud == this; a.malloc NULL until
                      wsx__pages_init */
  void *cache[WSX__PAGES_SLOTS]; /* free mappings, the newest last */
  uint32_t ncache;
  uint32_t nmaps; /* mappings: live blocks and cached ones */
  size_t made;    /* mappings made (mmap calls), for tests */
  size_t mapped;  /* their bytes */
  size_t cached;  /* bytes of the cached mappings */
  size_t slack;   /* unused whole pages of live mappings */
  size_t limit;   /* cached + slack <= limit (wsx__pages_set_limit) */
  size_t page;    /* the system's page size */
  /* Called (if set) each time a freed mapping enters the cache, so the
   * owner can arrange for wsx__pages_release after a quiet period. */
  void (*on_cache)(struct wsx__pages *p);
} wsx__pages;

/* Fills a zeroed `p` (no mapping yet). */
void wsx__pages_init(wsx__pages *p);
/* Sets the cache's bound; the cached mappings are unmapped when the new
 * bound leaves no room for them. */
void wsx__pages_set_limit(wsx__pages *p, size_t limit);
/* Unmaps the cached mappings (live blocks are not touched). */
void wsx__pages_release(wsx__pages *p);

#endif
