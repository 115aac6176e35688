/*
 * libFuzzer target for the HTTP head parser and the URL parser.
 *
 * Input byte 0 chooses: bit 0 request (0) or response (1); bit 1 small
 * limits (max_head 128, 4 headers) to reach the limit paths; bits 2..7 a
 * split point (0..63 / 63 of the rest). The rest is the head.
 *
 * Besides "no crash", it checks that the whole input, the input split in two
 * (state carried over) and the input fed one byte at a time give identical
 * results, and that every accepted head satisfies the rules in wsx/http.h.
 * Any mismatch aborts. The same bytes also go to wsx_url_parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsx/http.h"

#define MAXH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
  int rc;
  const char *detail;
  int minor, status;
  size_t a_off, a_len, b_off, b_len, nh;
  size_t h[MAXH][4];
} outcome;

static void check(int ok) {
  if (!ok)
    abort();
}

static size_t off_(const char *base, const char *p) {
  return (size_t)(p - base);
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Parses buf[0..len) and records the result relative to buf. */
static void call(int kind, const char *buf, size_t len, size_t max_headers,
                 size_t max_head, wsx_http_state *st, outcome *o) {
  wsx_header hs[MAXH];
  wsx_http_request req;
  wsx_http_response res;
  const wsx_header *h = NULL;
  size_t i;

  memset(o, 0, sizeof *o);
  if (kind == 0) {
    o->rc = wsx_http_parse_request(buf, len, &req, hs, max_headers, max_head,
                                   st, &o->detail);
    if (o->rc > 0) {
      o->minor = req.minor_version;
      o->a_off = off_(buf, req.method);
      o->a_len = req.method_len;
      o->b_off = off_(buf, req.target);
      o->b_len = req.target_len;
      o->nh = req.num_headers;
      h = req.headers;
      check(req.method_len > 0 && req.target_len > 0);
      check(wsx_http_valid_name(req.method, req.method_len));
    }
  } else {
    o->rc = wsx_http_parse_response(buf, len, &res, hs, max_headers, max_head,
                                    st, &o->detail);
    if (o->rc > 0) {
      o->minor = res.minor_version;
      o->status = res.status;
      o->a_off = off_(buf, res.reason);
      o->a_len = res.reason_len;
      o->nh = res.num_headers;
      h = res.headers;
      check(res.status >= 100 && res.status <= 999);
      check(wsx_http_valid_value(res.reason, res.reason_len));
    }
  }
  if (o->rc <= 0) {
    check(o->rc == WSX_E_AGAIN || o->rc == WSX_E_HTTP ||
          o->rc == WSX_E_HEAD_TOO_BIG);
    check(o->rc == WSX_E_AGAIN || o->detail != NULL);
    return;
  }
  check((size_t)o->rc <= len &&
        (size_t)o->rc <= (max_head ? max_head : WSX_HTTP_DEFAULT_MAX_HEAD));
  check(o->minor == 0 || o->minor == 1);
  check(o->nh <= max_headers);
  check(o->a_off + o->a_len <= (size_t)o->rc);
  check(o->b_off + o->b_len <= (size_t)o->rc);
  for (i = 0; i < o->nh; i++) {
    o->h[i][0] = off_(buf, h[i].name);
    o->h[i][1] = h[i].name_len;
    o->h[i][2] = off_(buf, h[i].value);
    o->h[i][3] = h[i].value_len;
    check(o->h[i][2] + o->h[i][3] <= (size_t)o->rc);
    check(wsx_http_valid_name(h[i].name, h[i].name_len));
    check(wsx_http_valid_value(h[i].value, h[i].value_len));
    check(h[i].value_len == 0 ||
          (!is_ows(h[i].value[0]) && !is_ows(h[i].value[h[i].value_len - 1])));
  }
  check(memchr(buf, '\0', (size_t)o->rc) == NULL);
}

static int same(const outcome *a, const outcome *b) {
  if (a->rc != b->rc || a->minor != b->minor || a->status != b->status ||
      a->a_off != b->a_off || a->a_len != b->a_len || a->b_off != b->b_off ||
      a->b_len != b->b_len || a->nh != b->nh)
    return 0;
  if ((a->detail == NULL) != (b->detail == NULL) ||
      (a->detail && strcmp(a->detail, b->detail) != 0))
    return 0;
  return memcmp(a->h, b->h, sizeof a->h) == 0;
}

/* Calls on an exact-size copy so ASan sees any read past `len`. */
static void call_exact(int kind, const char *in, size_t len, size_t mh,
                       size_t max_head, wsx_http_state *st, outcome *o) {
  char *copy = malloc(len ? len : 1);
  check(copy != NULL);
  if (len)
    memcpy(copy, in, len);
  call(kind, copy, len, mh, max_head, st, o);
  free(copy);
}

static void fuzz_url(const char *in, size_t n) {
  char *s = malloc(n + 1);
  wsx_url u;
  check(s != NULL);
  memcpy(s, in, n);
  s[n] = '\0';
  if (wsx_url_parse(s, &u) == WSX_OK) {
    size_t sl = strlen(s);
    check(u.port != 0 && u.host_len > 0 && u.path_len > 0);
    check(u.host >= s && u.host + u.host_len <= s + sl);
    check(u.path[0] == '/');
    check(!u.query || (u.query > u.path && u.query[-1] == '?'));
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  outcome whole, other;
  wsx_http_state st;
  const char *in = (const char *)data + 1;
  size_t n, split, len, mh, max_head;
  int kind;

  if (size < 1)
    return 0;
  kind = data[0] & 1;
  mh = (data[0] & 2) ? 4 : MAXH;
  max_head = (data[0] & 2) ? 128 : 0;
  n = size - 1;
  split = n * (size_t)(data[0] >> 2) / 63;

  call_exact(kind, in, n, mh, max_head, NULL, &whole);

  /* Two calls with the state carried over. */
  memset(&st, 0, sizeof st);
  call_exact(kind, in, split, mh, max_head, &st, &other);
  if (other.rc == WSX_E_AGAIN)
    call_exact(kind, in, n, mh, max_head, &st, &other);
  check(same(&whole, &other));

  /* One byte at a time, in place (the buffer grows as a real one does). */
  memset(&st, 0, sizeof st);
  for (len = 0; len <= n; len++) {
    call(kind, in, len, mh, max_head, &st, &other);
    if (other.rc != WSX_E_AGAIN)
      break;
  }
  check(same(&whole, &other));

  fuzz_url(in, n);
  return 0;
}
