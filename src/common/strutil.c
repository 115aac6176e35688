/* Small string helpers for header names and tokens. */
#include "common/util.h"

static unsigned char ascii_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

int wsx__ieq(const char *a, size_t n, const char *b) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (b[i] == '\0' ||
        ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
      return 0;
  }
  return b[n] == '\0';
}
