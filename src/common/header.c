/* Header lookups over wsx_header spans (see include/wsx/common.h). */
#include "wsx/common.h"

#include <string.h>

static unsigned char ascii_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* a[0..n) equals NUL-terminated b, ignoring ASCII case. */
static int span_ieq(const char *a, size_t n, const char *b, size_t blen) {
  size_t i;
  if (n != blen)
    return 0;
  for (i = 0; i < n; i++)
    if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
      return 0;
  return 1;
}

const char *wsx_header_find(const wsx_header *headers, size_t n,
                            const char *name, size_t *len) {
  size_t i, nlen;
  if (!headers || !name)
    return NULL;
  nlen = strlen(name);
  for (i = 0; i < n; i++) {
    if (span_ieq(headers[i].name, headers[i].name_len, name, nlen)) {
      if (len)
        *len = headers[i].value_len;
      return headers[i].value;
    }
  }
  return NULL;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Searches one comma-separated list; empty elements are skipped. */
static int list_has_token(const char *v, size_t vlen, const char *token,
                          size_t tlen) {
  size_t i = 0;
  while (i <= vlen) {
    size_t start = i, end;
    while (i < vlen && v[i] != ',')
      i++;
    end = i;
    while (start < end && is_ows(v[start]))
      start++;
    while (end > start && is_ows(v[end - 1]))
      end--;
    if (end > start && span_ieq(v + start, end - start, token, tlen))
      return 1;
    i++; /* past the comma (or past the end) */
  }
  return 0;
}

int wsx_header_has_token(const wsx_header *headers, size_t n, const char *name,
                         const char *token) {
  size_t i, nlen, tlen;
  if (!headers || !name || !token)
    return 0;
  nlen = strlen(name);
  tlen = strlen(token);
  if (tlen == 0)
    return 0;
  for (i = 0; i < n; i++) {
    if (span_ieq(headers[i].name, headers[i].name_len, name, nlen) &&
        list_has_token(headers[i].value, headers[i].value_len, token, tlen))
      return 1;
  }
  return 0;
}
