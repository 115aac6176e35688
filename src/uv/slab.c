/*
 * Socket slabs (uv/core.h). With the default allocator, the blocks of
 * server sockets that may sleep come from the loop's slabs, one per block
 * size, mapped in chunks apart from the heap: what a sleeping connection
 * keeps then sits in a few dense pages, while the blocks it frees (handle,
 * driver, request) leave whole heap pages free, which the sweep gives back
 * (malloc_trim; uv/hibernate.c).
 *
 * A chunk is SLAB_CHUNK bytes mapped at a SLAB_CHUNK-aligned address, so a
 * slot finds its chunk by masking its address. The chunk's header counts
 * its slots in use and links its freed ones; it sits in the slab's list of
 * chunks with room or in its list of full ones.
 *  - A slot is taken from the first chunk with room: chunks that were full
 *    go to the front when a slot is freed, an empty chunk to the back, so
 *    slots are taken from chunks in use before an empty one, and chunks
 *    drain as their connections close.
 *  - A chunk whose last slot is freed is unmapped, except one empty chunk
 *    per slab, kept so that a server going up and down around a chunk's
 *    worth of connections does not map and unmap at every one.
 * So after a peak, what the slabs hold follows the connections still open
 * (at most one empty chunk, 256 KiB, per slab beyond their chunks);
 * everything goes with the context.
 */
#include "uv/internal.h"

#if defined(__linux__)
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define WSX__NO_SLAB 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSX__NO_SLAB 1
#endif
#endif

#define SLAB_CHUNK ((size_t)256 * 1024)

typedef struct chunk {
  struct chunk *next, *prev; /* in the slab's room or full list */
  void *free;                /* freed slots, linked through their first word */
  char *bump;                /* the untouched rest starts here */
  size_t used;               /* slots in use */
} chunk;

/* The first slot: after the header, 16-aligned (slot sizes are multiples
 * of 16). */
#define SLOTS_AT ((sizeof(chunk) + 15) & ~(size_t)15)

typedef struct wsx__slab {
  struct wsx__slab *next; /* the context's */
  size_t size;            /* of a slot: a multiple of 16 */
  chunk room;             /* sentinel: chunks with a free or untouched slot */
  chunk full;             /* sentinel: chunks without */
  size_t chunks;          /* mapped */
  size_t empty;           /* of them, with no slot in use (0 or 1) */
} wsx__slab;

static void unlink_chunk(chunk *c) {
  c->prev->next = c->next;
  c->next->prev = c->prev;
}

static void link_after(chunk *at, chunk *c) {
  c->prev = at;
  c->next = at->next;
  at->next->prev = c;
  at->next = c;
}

static int has_room(const wsx__slab *sl, const chunk *c) {
  return c->free || (size_t)((const char *)c + SLAB_CHUNK - c->bump) >= sl->size;
}

/* A SLAB_CHUNK-aligned mapping: twice the size mapped, the ends given
 * back. */
static chunk *chunk_map(void) {
  char *p = mmap(NULL, 2 * SLAB_CHUNK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uintptr_t a;
  size_t head;
  if (p == MAP_FAILED)
    return NULL;
  a = ((uintptr_t)p + SLAB_CHUNK - 1) & ~(uintptr_t)(SLAB_CHUNK - 1);
  head = (size_t)(a - (uintptr_t)p);
  if (head)
    (void)munmap(p, head);
  (void)munmap((char *)a + SLAB_CHUNK, SLAB_CHUNK - head);
  return (chunk *)a;
}

wsx__slab *wsx__slab_for(wsx__loopctx *c, size_t size) {
#ifdef WSX__NO_SLAB
  /* Under AddressSanitizer every socket block is the allocator's, so that
   * a use after free of a socket is caught. */
  (void)c, (void)size;
  return NULL;
#else
  wsx__slab *sl;
  for (sl = c->slabs; sl; sl = sl->next)
    if (sl->size == size)
      return sl;
  if (size == 0 || size % 16 || size > SLAB_CHUNK - SLOTS_AT ||
      !(sl = wsx__malloc(&c->alloc, sizeof(*sl))))
    return NULL;
  memset(sl, 0, sizeof(*sl));
  sl->size = size;
  sl->room.next = sl->room.prev = &sl->room;
  sl->full.next = sl->full.prev = &sl->full;
  sl->next = c->slabs;
  c->slabs = sl;
  return sl;
#endif
}

void *wsx__slab_get(wsx__slab *sl) {
  chunk *c = sl->room.next;
  void *p;
  if (c == &sl->room) {
    if (!(c = chunk_map()))
      return NULL;
    c->free = NULL;
    c->bump = (char *)c + SLOTS_AT;
    c->used = 0;
    link_after(&sl->room, c);
    sl->chunks++;
    sl->empty++;
  }
  if (c->used == 0)
    sl->empty--;
  if (c->free) {
    p = c->free;
    memcpy(&c->free, p, sizeof(void *));
  } else {
    p = c->bump;
    c->bump += sl->size;
  }
  c->used++;
  if (!has_room(sl, c)) {
    unlink_chunk(c);
    link_after(&sl->full, c);
  }
  return p;
}

void wsx__slab_put(wsx__slab *sl, void *p) {
  chunk *c = (chunk *)((uintptr_t)p & ~(uintptr_t)(SLAB_CHUNK - 1));
  int was_full = !has_room(sl, c);
  memcpy(p, &c->free, sizeof(void *));
  c->free = p;
  if (was_full) { /* slots are taken from it before others */
    unlink_chunk(c);
    link_after(&sl->room, c);
  }
  if (--c->used)
    return;
  unlink_chunk(c);
  if (sl->empty) { /* one empty chunk is kept already */
    (void)munmap(c, SLAB_CHUNK);
    sl->chunks--;
    return;
  }
  sl->empty++;
  link_after(sl->room.prev, c); /* last: chunks in use come first */
}

size_t wsx__slab_chunks(const wsx__slab *sl) { return sl ? sl->chunks : 0; }

static void unmap_list(chunk *head) {
  while (head->next != head) {
    chunk *c = head->next;
    unlink_chunk(c);
    (void)munmap(c, SLAB_CHUNK);
  }
}

void wsx__slabs_free(wsx__loopctx *c) {
  while (c->slabs) {
    wsx__slab *sl = c->slabs;
    c->slabs = sl->next;
    unmap_list(&sl->room);
    unmap_list(&sl->full);
    wsx__free(&c->alloc, sl);
  }
}

#else /* not Linux: sockets use the allocator */

struct wsx__slab *wsx__slab_for(wsx__loopctx *c, size_t size) {
  (void)c, (void)size;
  return NULL;
}
void *wsx__slab_get(struct wsx__slab *sl) {
  (void)sl;
  return NULL;
}
void wsx__slab_put(struct wsx__slab *sl, void *p) { (void)sl, (void)p; }
size_t wsx__slab_chunks(const struct wsx__slab *sl) {
  (void)sl;
  return 0;
}
void wsx__slabs_free(wsx__loopctx *c) { (void)c; }

#endif
