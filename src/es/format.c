/* Server side of the event stream: formatting events, reading the request. */
#include <stdio.h>
#include <string.h>

#include "es/es.h"

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

static int put(wsx__buf *out, const wsx_allocator *a, const void *p, size_t n) {
  return wsx__buf_append(out, a, p, n) < 0 ? WSX_E_NOMEM : WSX_OK;
}

static int field_line(wsx__buf *out, const wsx_allocator *a, const char *name,
                      const char *v, size_t n) {
  if (put(out, a, name, strlen(name)) < 0 || put(out, a, v, n) < 0 ||
      put(out, a, "\n", 1) < 0)
    return WSX_E_NOMEM;
  return WSX_OK;
}

int wsx__es_format_event(wsx__buf *out, const wsx_allocator *a,
                         const char *data, size_t len, const char *event,
                         const char *id) {
  size_t start = out->len, i = 0;
  if ((event && has_crlf(event)) || (id && has_crlf(id)))
    return WSX_E_INVALID;
  if (!data && len)
    return WSX_E_INVALID;
  if (event && field_line(out, a, "event: ", event, strlen(event)) < 0)
    goto nomem;
  if (id && field_line(out, a, "id: ", id, strlen(id)) < 0)
    goto nomem;
  for (;;) {
    size_t j = i;
    while (j < len && data[j] != '\r' && data[j] != '\n')
      j++;
    if (field_line(out, a, "data: ", data + i, j - i) < 0)
      goto nomem;
    if (j == len)
      break;
    /* A trailing line end leaves an empty last line, so the client's data
     * keeps its final LF. */
    i = j + 1 + (data[j] == '\r' && j + 1 < len && data[j + 1] == '\n');
  }
  if (put(out, a, "\n", 1) < 0)
    goto nomem;
  return WSX_OK;
nomem:
  out->len = start; /* never leave half an event behind */
  return WSX_E_NOMEM;
}

int wsx__es_format_retry(wsx__buf *out, const wsx_allocator *a,
                         uint32_t ms) {
  char line[48];
  int n = snprintf(line, sizeof(line), "retry: %lu\n\n", (unsigned long)ms);
  return put(out, a, line, (size_t)n);
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int wsx__es_accepts(const char *accept, size_t len) {
  static const char want[] = "text/event-stream";
  const size_t wl = sizeof(want) - 1;
  size_t i = 0;
  while (i < len) {
    size_t j, k;
    while (i < len &&
           (accept[i] == ' ' || accept[i] == '\t' || accept[i] == ','))
      i++;
    for (j = i; j < len && accept[j] != ',' && accept[j] != ';' &&
                accept[j] != ' ' && accept[j] != '\t';
         j++)
      ;
    if (j - i == wl) {
      for (k = 0; k < wl && lower(accept[i + k]) == want[k]; k++)
        ;
      if (k == wl)
        return 1;
    }
    while (j < len && accept[j] != ',')
      j++; /* parameters of this media range */
    i = j;
  }
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int wsx__es_query_last_id(const wsx_allocator *a, const char *q, size_t len,
                          char **out) {
  static const char key[] = "lastEventId=";
  const size_t kl = sizeof(key) - 1;
  size_t i = 0;
  *out = NULL;
  while (i < len) {
    size_t end = i;
    while (end < len && q[end] != '&')
      end++;
    if (end - i >= kl && !memcmp(q + i, key, kl)) {
      char *s = wsx__malloc(a, end - i - kl + 1);
      size_t n = 0, j;
      if (!s)
        return WSX_E_NOMEM;
      for (j = i + kl; j < end; j++) {
        int hi, lo;
        if (q[j] == '+') {
          s[n++] = ' ';
        } else if (q[j] == '%' && j + 2 < end && (hi = hexval(q[j + 1])) >= 0 &&
                   (lo = hexval(q[j + 2])) >= 0) {
          s[n++] = (char)(hi * 16 + lo);
          j += 2;
        } else {
          s[n++] = q[j];
        }
      }
      s[n] = 0;
      /* A decoded id must stay a clean field value. */
      if (strlen(s) != n || has_crlf(s))
        s[0] = 0;
      *out = s;
      return WSX_OK;
    }
    i = end + 1;
  }
  return WSX_OK;
}
