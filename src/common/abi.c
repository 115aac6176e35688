/* Versioned public structs: see src/common/abi.h. */
#include "common/abi.h"

#include <string.h>

int wsx__struct_ok(const void *in, size_t size, size_t align) {
  size_t n;
  if (!in)
    return WSX_OK;
  memcpy(&n, in, sizeof n);
  if (n < sizeof n || n > size || n % align != 0)
    return WSX_E_STRUCT_SIZE;
  return WSX_OK;
}

int wsx__struct_in(void *out, size_t size, size_t align, const void *in) {
  memset(out, 0, size);
  int rc = wsx__struct_ok(in, size, align);
  if (rc != WSX_OK)
    return rc;
  if (in) {
    size_t n;
    memcpy(&n, in, sizeof n);
    memcpy(out, in, n);
  }
  memcpy(out, &size, sizeof size);
  return WSX_OK;
}
