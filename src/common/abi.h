/*
 * Versioned public structs (the ABI policy in include/wsx/common.h): every
 * options/callbacks struct starts with `size_t struct_size`.
 */
#ifndef WSX_SRC_ABI_H
#define WSX_SRC_ABI_H

#include "wsx/common.h"

/*
 * Copies the caller's struct `in` (may be NULL: every default) into `out`,
 * this library's layout of `size` bytes and alignment `align`: members
 * beyond in->struct_size are zero (their defaults) and out->struct_size is
 * `size`. Returns WSX_OK, or WSX_E_STRUCT_SIZE (out is then zeroed) when
 * in->struct_size is 0, larger than `size` or not a multiple of `align`.
 */
int wsx__struct_in(void *out, size_t size, size_t align, const void *in);

/* Only the check: WSX_OK (also for NULL) or WSX_E_STRUCT_SIZE. */
int wsx__struct_ok(const void *in, size_t size, size_t align);

#define WSX__STRUCT_IN(type, out, in)                                          \
  wsx__struct_in((out), sizeof(type), _Alignof(type), (in))
#define WSX__STRUCT_OK(type, in)                                               \
  wsx__struct_ok((in), sizeof(type), _Alignof(type))

#endif
