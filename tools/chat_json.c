/* tools/chat_json.c: checks and stamps chat messages (see chat_json.h). */
#include <stdio.h>
#include <string.h>

#include "chat_json.h"

typedef struct span {
  const char *p; /* JSON string body, between the quotes, escapes kept */
  size_t len;
} span;

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static int is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* Scans a JSON string starting at the opening quote (RFC 8259 section 7:
 * no raw control characters, only the listed escapes). Returns the byte
 * after the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end, span *s) {
  if (p >= end || *p != '"')
    return NULL;
  s->p = ++p;
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') {
      s->len = (size_t)(p - s->p);
      return p + 1;
    }
    if (c < 0x20)
      return NULL;
    if (c == '\\') {
      if (++p >= end)
        return NULL;
      if (*p == 'u') {
        if (end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) ||
            !is_hex(p[4]))
          return NULL;
        p += 4;
      } else if (!strchr("\"\\/bfnrt", *p) || *p == '\0') {
        return NULL;
      }
    }
    p++;
  }
  return NULL;
}

static int key_is(const span *k, const char *name) {
  return k->len == strlen(name) && !memcmp(k->p, name, k->len);
}

long chat_format(const char *in, size_t len, uint64_t time_ms, char *out,
                 size_t cap, const char **why) {
  const char *p = in, *end = in + len;
  span name = {NULL, 0}, text = {NULL, 0};
  if (len > CHAT_MAX_INPUT) {
    *why = "message too long";
    return -1;
  }
  p = skip_ws(p, end);
  if (p >= end || *p++ != '{')
    goto bad;
  p = skip_ws(p, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      span k, v;
      if (!(p = scan_string(p, end, &k)))
        goto bad;
      p = skip_ws(p, end);
      if (p >= end || *p++ != ':')
        goto bad;
      p = skip_ws(p, end);
      if (!(p = scan_string(p, end, &v))) {
        *why = "every member must be a string";
        return -1;
      }
      span *dst = key_is(&k, "name")   ? &name
                  : key_is(&k, "text") ? &text
                                       : NULL;
      if (dst) {
        if (dst->p) {
          *why = "duplicate member";
          return -1;
        }
        *dst = v;
      }
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == '}') {
        p++;
        break;
      }
      goto bad;
    }
  }
  if (skip_ws(p, end) != end)
    goto bad;
  if (!name.p || !name.len || name.len > CHAT_MAX_NAME) {
    *why = "name must be 1 to 128 bytes";
    return -1;
  }
  if (!text.p || !text.len || text.len > CHAT_MAX_TEXT) {
    *why = "text must be 1 to 4000 bytes";
    return -1;
  }
  if (cap < CHAT_MAX_OUTPUT) {
    *why = "output buffer too small";
    return -1;
  }
  int n =
      snprintf(out, cap, "{\"name\":\"%.*s\",\"text\":\"%.*s\",\"time\":%llu}",
               (int)name.len, name.p, (int)text.len, text.p,
               (unsigned long long)time_ms);
  if (n < 0 || (size_t)n >= cap) {
    *why = "output buffer too small";
    return -1;
  }
  return n;
bad:
  *why = "expected a JSON object {\"name\": ..., \"text\": ...}";
  return -1;
}
