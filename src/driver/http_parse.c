/*
 * Strict, zero-copy, incremental HTTP/1.x head parser (see wsx/http.h).
 *
 * Work is split in two phases so that a peer dribbling bytes costs O(n):
 *   1. scan_head() looks for the CRLF CRLF terminator, starting where the
 *      previous call stopped (wsx_http_state.scanned). It also refuses the
 *      few byte patterns that are wrong anywhere in a head (NUL, bare LF, CR
 *      without LF) so that junk is rejected before the head completes.
 *   2. Once the head is complete, it is parsed once, start to end.
 * Every decision in phase 1 depends only on bytes before the limit, in order,
 * so any split of the input gives the same result as the whole input.
 */
#include <limits.h>
#include <string.h>

#include "common/util.h"
#include "wsx/http.h"

/* RFC 7230 3.2.6 tchar: "!#$%&'*+-.^_`|~" DIGIT ALPHA. Shared with the
 * Sec-WebSocket-Extensions parser (src/ext/offers.c). */
const unsigned char wsx__tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

#define IS_TCHAR(c) (wsx__tchar[(unsigned char)(c)])
/* field-vchar / obs-text plus SP and HTAB (RFC 7230 3.2). */
#define IS_VALUE_CHAR(c)                                                       \
  ((unsigned char)(c) >= 0x20 ? (unsigned char)(c) != 0x7F : (c) == '\t')
/* Visible ASCII only: what a request-target may contain. */
#define IS_VCHAR(c) ((unsigned char)(c) > 0x20 && (unsigned char)(c) < 0x7F)

/*
 * Eight bytes a step: HAS_LESS(x, n) is non-zero iff some byte of x is below
 * n (exact for n <= 128, though not which byte), HAS_ZERO iff a byte is 0.
 * Only used to skip runs of ordinary bytes; the byte loops decide.
 */
#define ONES_ 0x0101010101010101ULL
#define HAS_LESS(x, n) (((x)-ONES_ * (n)) & ~(x) & (ONES_ * 0x80))
#define HAS_ZERO(x) HAS_LESS(x, 1)

static uint64_t load8_(const char *p) {
  uint64_t x;
  memcpy(&x, p, 8);
  return x;
}

typedef struct cursor {
  const char *p;   /* next byte to read */
  const char *end; /* one past the head's final LF */
  const char *why; /* static text naming the rule broken */
} cursor;

static int fail_(cursor *c, const char *why) {
  c->why = why;
  return WSX_E_HTTP;
}

/*
 * Phase 1. Returns the head length (> 0), WSX_E_AGAIN, WSX_E_HTTP or
 * WSX_E_HEAD_TOO_BIG. `state->scanned` is the first byte not yet examined;
 * checking an LF looks back at most three bytes, which are always present
 * because the buffer only grows.
 */
static long scan_head(const char *buf, size_t len, size_t max_head,
                      size_t *scanned, const char **why) {
  size_t limit = len < max_head ? len : max_head;
  size_t i = *scanned;

  for (; i < limit; i++) {
    unsigned char ch;
    while (limit - i >= 8 && !HAS_LESS(load8_(buf + i), '\r' + 1))
      i += 8;
    if (i == limit)
      break;
    ch = (unsigned char)buf[i];
    if (ch > '\r')
      continue;
    if (ch == '\r') {
      if (i + 1 >= limit)
        break; /* the byte after it is not here yet (or over the limit) */
      if (buf[i + 1] != '\n') {
        *scanned = i;
        *why = "CR not followed by LF";
        return WSX_E_HTTP;
      }
    } else if (ch == '\n') {
      if (i == 0 || buf[i - 1] != '\r') {
        *scanned = i;
        *why = "bare LF line ending";
        return WSX_E_HTTP;
      }
      if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
        *scanned = i; /* a repeated call finds the same end again */
        return (long)(i + 1);
      }
    } else if (ch == '\0') {
      *scanned = i;
      *why = "NUL byte in head";
      return WSX_E_HTTP;
    }
  }
  *scanned = i;
  if (len >= max_head) {
    *why = "head larger than max_head";
    return WSX_E_HEAD_TOO_BIG;
  }
  return WSX_E_AGAIN;
}

/* "HTTP/1.0" or "HTTP/1.1" exactly; stores the minor version. */
static int parse_version(cursor *c, int *minor) {
  const char *p = c->p;
  if (c->end - p < 8 || p[0] != 'H' || p[1] != 'T' || p[2] != 'T' ||
      p[3] != 'P' || p[4] != '/' || p[5] != '1' || p[6] != '.' ||
      (p[7] != '0' && p[7] != '1'))
    return fail_(c, "invalid HTTP version");
  *minor = p[7] - '0';
  c->p = p + 8;
  return 0;
}

/* Consumes CRLF. The scan guaranteed every CR in the head precedes an LF. */
static int expect_crlf(cursor *c, const char *why) {
  if (*c->p != '\r')
    return fail_(c, why);
  c->p += 2;
  return 0;
}

static int expect_sp(cursor *c, const char *why) {
  if (*c->p != ' ')
    return fail_(c, why);
  c->p++;
  return 0;
}

static int parse_headers(cursor *c, wsx_header *headers, size_t max_headers,
                         size_t *num) {
  size_t n = 0;

  for (;;) {
    const char *p = c->p, *name, *value, *vend;
    if (*p == '\r') { /* empty line: end of head */
      *num = n;
      return 0;
    }
    if (*p == ' ' || *p == '\t')
      return fail_(c, "obsolete line folding");
    name = p;
    while (IS_TCHAR(*p))
      p++;
    if (*p != ':') {
      c->p = p;
      if (*p == ' ' || *p == '\t')
        return fail_(c, "whitespace before colon in header name");
      if (*p == '\r')
        return fail_(c, "header line without colon");
      return fail_(c, "invalid character in header name");
    }
    if (p == name) {
      c->p = p;
      return fail_(c, "empty header name");
    }
    if (n == max_headers) {
      c->p = name;
      c->why = "too many headers";
      return WSX_E_HEAD_TOO_BIG;
    }
    headers[n].name = name;
    headers[n].name_len = (size_t)(p - name);
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    value = p;
    for (;;) { /* no byte below SP and no DEL: nothing to look at */
      uint64_t x;
      if (c->end - p < 8)
        break;
      x = load8_(p);
      if (HAS_LESS(x, ' ') || HAS_ZERO(x ^ (ONES_ * 0x7F)))
        break;
      p += 8;
    }
    while (*p != '\r') {
      if (!IS_VALUE_CHAR(*p)) {
        c->p = p;
        return fail_(c, "invalid character in header value");
      }
      p++;
    }
    vend = p;
    while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
      vend--;
    headers[n].value = value;
    headers[n].value_len = (size_t)(vend - value);
    n++;
    c->p = p + 2;
  }
}

static int parse_request_head(cursor *c, wsx_http_request *req,
                              wsx_header *headers, size_t max_headers) {
  const char *p = c->p;
  int rc;

  if (*p == '\r')
    return fail_(c, "empty request line");
  req->method = p;
  while (IS_TCHAR(*p))
    p++;
  c->p = p;
  if (p == req->method)
    return fail_(c, *p == ' ' ? "empty method" : "invalid character in method");
  if (*p != ' ')
    return fail_(c, "invalid character in method");
  req->method_len = (size_t)(p - req->method);
  c->p = ++p;

  req->target = p;
  while (IS_VCHAR(*p))
    p++;
  c->p = p;
  if (p == req->target)
    return fail_(c, *p == ' ' ? "empty request target"
                              : "invalid character in request target");
  if (*p != ' ')
    return fail_(c, "invalid character in request target");
  req->target_len = (size_t)(p - req->target);
  c->p++;

  if ((rc = parse_version(c, &req->minor_version)) < 0 ||
      (rc = expect_crlf(c, "expected CRLF after HTTP version")) < 0)
    return rc;
  req->headers = headers;
  return parse_headers(c, headers, max_headers, &req->num_headers);
}

static int parse_response_head(cursor *c, wsx_http_response *res,
                               wsx_header *headers, size_t max_headers) {
  const char *p;
  int rc;

  if ((rc = parse_version(c, &res->minor_version)) < 0 ||
      (rc = expect_sp(c, "expected SP after HTTP version")) < 0)
    return rc;
  p = c->p;
  if (c->end - p < 3 || p[0] < '1' || p[0] > '9' || p[1] < '0' || p[1] > '9' ||
      p[2] < '0' || p[2] > '9')
    return fail_(c, "status code is not 3 digits");
  res->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  c->p = p + 3;
  if ((rc = expect_sp(c, "expected SP after status code")) < 0)
    return rc;
  p = c->p;
  res->reason = p;
  while (*p != '\r') {
    if (!IS_VALUE_CHAR(*p)) {
      c->p = p;
      return fail_(c, "invalid character in reason phrase");
    }
    p++;
  }
  res->reason_len = (size_t)(p - res->reason);
  c->p = p + 2;
  res->headers = headers;
  return parse_headers(c, headers, max_headers, &res->num_headers);
}

/*
 * Shared front of both entry points: argument checks and phase 1. Returns the
 * head length or a negative code (with *why set for errors).
 */
static long find_head(const char *buf, size_t len, const void *out,
                      const wsx_header *headers, size_t max_headers,
                      size_t *max_head, wsx_http_state *state,
                      const char **why) {
  size_t scanned = 0;
  long r;

  if ((!buf && len) || !out || (!headers && max_headers)) {
    *why = "invalid argument";
    return WSX_E_INVALID;
  }
  if (*max_head == 0)
    *max_head = WSX_HTTP_DEFAULT_MAX_HEAD;
  if (*max_head > INT_MAX)
    *max_head = INT_MAX; /* the length must fit the int return value */
  /* A state from another, longer buffer cannot be trusted: start over. */
  if (state && state->scanned <= len)
    scanned = state->scanned;
  r = scan_head(buf, len, *max_head, &scanned, why);
  if (state)
    state->scanned = scanned;
  return r;
}

/* The request and response parsers differ only in their first line: this
 * finds the head, runs `parse` on it into a scratch struct (so `out` is only
 * written on success) and reports the rule broken otherwise. */
typedef int (*head_parser)(cursor *c, void *out, wsx_header *headers,
                           size_t max_headers);

static int request_head(cursor *c, void *out, wsx_header *headers,
                        size_t max_headers) {
  return parse_request_head(c, out, headers, max_headers);
}

static int response_head(cursor *c, void *out, wsx_header *headers,
                         size_t max_headers) {
  return parse_response_head(c, out, headers, max_headers);
}

static int parse_head(const char *buf, size_t len, void *out, void *tmp,
                      size_t size, head_parser parse, wsx_header *headers,
                      size_t max_headers, size_t max_head,
                      wsx_http_state *state, const char **err_detail) {
  const char *why = NULL;
  long n =
      find_head(buf, len, out, headers, max_headers, &max_head, state, &why);
  int rc;
  if (n > 0) {
    cursor c = {buf, buf + n, NULL};
    rc = parse(&c, tmp, headers, max_headers);
    if (rc == 0) {
      memcpy(out, tmp, size);
      return (int)n;
    }
    why = c.why;
  } else {
    rc = (int)n;
  }
  if (err_detail && rc != WSX_E_AGAIN)
    *err_detail = why;
  return rc;
}

int wsx_http_parse_request(const char *buf, size_t len, wsx_http_request *req,
                           wsx_header *headers, size_t max_headers,
                           size_t max_head, wsx_http_state *state,
                           const char **err_detail) {
  wsx_http_request tmp;
  return parse_head(buf, len, req, &tmp, sizeof tmp, request_head, headers,
                    max_headers, max_head, state, err_detail);
}

int wsx_http_parse_response(const char *buf, size_t len, wsx_http_response *res,
                            wsx_header *headers, size_t max_headers,
                            size_t max_head, wsx_http_state *state,
                            const char **err_detail) {
  wsx_http_response tmp;
  return parse_head(buf, len, res, &tmp, sizeof tmp, response_head, headers,
                    max_headers, max_head, state, err_detail);
}

int wsx_http_valid_name(const char *name, size_t len) {
  size_t i;
  if (!name || len == 0)
    return 0;
  for (i = 0; i < len; i++)
    if (!IS_TCHAR(name[i]))
      return 0;
  return 1;
}

int wsx_http_valid_value(const char *value, size_t len) {
  size_t i;
  if (!value && len)
    return 0;
  for (i = 0; i < len; i++)
    if (!IS_VALUE_CHAR(value[i]))
      return 0;
  return 1;
}
