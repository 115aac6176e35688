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

#endif
