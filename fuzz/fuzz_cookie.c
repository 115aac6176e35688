/*
 * libFuzzer target for the cookie parser and formatter (wsx/cookie.h).
 *
 * The input is a Cookie header value. Besides "no crash", it checks that
 * every returned span lies inside the input and satisfies the grammar the
 * header promises (token name, cookie-octet value), that the count does not
 * depend on the room given, that wsx_cookie_get finds the first pair of each
 * name, and that every parsed pair, formatted back as a Set-Cookie value
 * (with the input's tail as path/domain), is either refused or a single line
 * with no CR, LF or NUL and exactly the requested attributes. Any mismatch
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsx/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXC 64

static void check(int ok) {
  if (!ok)
    abort();
}

static int octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static int tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *h = (const char *)data;
  wsx_cookie c[MAXC];
  int n = wsx_cookie_parse(h, size, c, MAXC);
  check(n >= 0);
  check(wsx_cookie_parse(h, size, NULL, 0) == n);
  wsx_cookie one[1];
  check(wsx_cookie_parse(h, size, one, 1) == n);
  int stored = n < MAXC ? n : MAXC;
  for (int i = 0; i < stored; i++) {
    check(c[i].name >= h && c[i].name + c[i].name_len <= h + size);
    check(c[i].value >= h && c[i].value + c[i].value_len <= h + size);
    check(c[i].name_len > 0);
    for (size_t k = 0; k < c[i].name_len; k++)
      check(tchar((unsigned char)c[i].name[k]));
    for (size_t k = 0; k < c[i].value_len; k++)
      check(octet((unsigned char)c[i].value[k]));
    if (i == 0) {
      check(one[0].name == c[0].name && one[0].value == c[0].value);
    }
    /* Lookup returns the first pair of that name. */
    char name[128];
    if (c[i].name_len < sizeof name) {
      memcpy(name, c[i].name, c[i].name_len);
      name[c[i].name_len] = 0;
      size_t vl = 0;
      const char *v = wsx_cookie_get(h, size, name, &vl);
      int first = i;
      for (int j = 0; j < i; j++)
        if (c[j].name_len == c[i].name_len &&
            memcmp(c[j].name, c[i].name, c[i].name_len) == 0) {
          first = j;
          break;
        }
      check(v == c[first].value && vl == c[first].value_len);

      /* Round trip into a Set-Cookie value. */
      char value[256], tail[64], out[1024];
      if (c[i].value_len < sizeof value) {
        memcpy(value, c[i].value, c[i].value_len);
        value[c[i].value_len] = 0;
        size_t tl = size < sizeof tail - 1 ? size : sizeof tail - 1;
        memcpy(tail, h + size - tl, tl);
        tail[tl] = 0;
        wsx_set_cookie s = WSX_SET_COOKIE_INIT;
        s.name = name;
        s.value = value;
        s.path = (data[0] & 1) ? tail : NULL;
        s.domain = (data[0] & 2) ? tail : NULL;
        s.flags = (unsigned)(data[0] >> 4) & 0xfu;
        s.max_age_ms = (int64_t)size * 1000 - 7;
        s.expires_ms = (int64_t)size * 86400000LL;
        s.same_site = (data[0] >> 2) & 3;
        int rc = wsx_cookie_format(&s, out, sizeof out);
        if (rc >= 0) {
          check((size_t)rc < sizeof out);
          check(strlen(out) == (size_t)rc);
          check(strpbrk(out, "\r\n") == NULL);
          /* The name/value part parses back to the same pair. */
          wsx_cookie b[1];
          const char *semi = strchr(out, ';');
          size_t pl = semi ? (size_t)(semi - out) : (size_t)rc;
          check(wsx_cookie_parse(out, pl, b, 1) == 1);
          check(b[0].name_len == c[i].name_len &&
                memcmp(b[0].name, name, b[0].name_len) == 0);
          check(b[0].value_len == c[i].value_len &&
                memcmp(b[0].value, value, b[0].value_len) == 0);
        } else {
          check(rc == WSX_E_HEADER_VALUE || rc == WSX_E_INVALID);
          check(out[0] == 0);
        }
      }
    }
  }
  return 0;
}
