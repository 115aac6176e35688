/*
 * Tests of the HTTP head parser (wsx/http.h).
 *
 * Every vector is run whole, one byte at a time and at several random split
 * points; all runs must agree exactly. Each call's input ends right before an
 * unreadable guard page, so any read past `len` faults (and is reported as a
 * failure by the SIGSEGV handler below instead of killing the program).
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test.h"
#include "wsx/http.h"

#define MAXH 80
#define AREA (64 * 1024) /* readable bytes before the guard page */

enum { REQ, RES };

/* Parse outcome with spans turned into offsets, so runs on moved buffers
 * compare equal. */
typedef struct outcome {
  int rc;
  const char *detail;
  int minor, status;
  size_t a_off, a_len; /* method or reason */
  size_t b_off, b_len; /* target */
  size_t nh;
  size_t h[MAXH][4];
} outcome;

static char *area_; /* AREA readable bytes, then a PROT_NONE page */
static long page_;
static sigjmp_buf segv_jmp_;
static volatile sig_atomic_t segv_armed_;

static void on_segv(int sig) {
  (void)sig;
  if (segv_armed_)
    siglongjmp(segv_jmp_, 1);
  _exit(3);
}

static int setup(void) {
  struct sigaction sa;
  char *m;
  page_ = sysconf(_SC_PAGESIZE);
  m = mmap(NULL, AREA + (size_t)page_, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || mprotect(m + AREA, (size_t)page_, PROT_NONE) != 0)
    return -1;
  area_ = m;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGSEGV, &sa, NULL);
}

/* Copies in[0..n) so that it ends right before the guard page. */
static const char *place(const char *in, size_t n) {
  char *p = area_ + AREA - n;
  memmove(p, in, n);
  return p;
}

static size_t off_(const char *base, const char *p) {
  return p ? (size_t)(p - base) : (size_t)-1;
}

static void call(int kind, const char *buf, size_t len, size_t max_headers,
                 size_t max_head, wsx_http_state *st, outcome *o) {
  wsx_header hs[MAXH];
  wsx_http_request req;
  wsx_http_response res;
  const wsx_header *h = NULL;
  size_t i;

  memset(o, 0, sizeof *o);
  if (kind == REQ) {
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
    }
  }
  for (i = 0; h && i < o->nh && i < MAXH; i++) {
    o->h[i][0] = off_(buf, h[i].name);
    o->h[i][1] = h[i].name_len;
    o->h[i][2] = off_(buf, h[i].value);
    o->h[i][3] = h[i].value_len;
  }
}

/*
 * Feeds in[0..n) in growing prefixes: steps==0 whole, seed==0 byte by byte,
 * otherwise random cut points from `seed`. Stops at the first result that is
 * not WSX_E_AGAIN, as a real caller would.
 */
static void feed(int kind, const char *in, size_t n, size_t max_headers,
                 size_t max_head, int whole, uint64_t seed, outcome *o) {
  wsx_http_state st = {0};
  size_t len = whole ? n : 0;
  for (;;) {
    const char *buf = place(in, len);
    call(kind, buf, len, max_headers, max_head, &st, o);
    if (o->rc != WSX_E_AGAIN || len == n)
      return;
    if (seed == 0)
      len++;
    else
      len += 1 + (size_t)(test_rand_(&seed) % (n / 3 + 1));
    if (len > n)
      len = n;
  }
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

/* Runs every split mode and checks they agree; returns the whole result. */
static outcome run_all(int kind, const char *in, size_t n, size_t max_headers,
                       size_t max_head) {
  outcome whole, other;
  uint64_t seed;
  if (sigsetjmp(segv_jmp_, 1)) {
    segv_armed_ = 0;
    TEST_FAILF_("read past the end of the input (guard page hit)");
    memset(&other, 0, sizeof other);
    other.rc = 1 << 30;
    return other;
  }
  segv_armed_ = 1;
  feed(kind, in, n, max_headers, max_head, 1, 0, &whole);
  feed(kind, in, n, max_headers, max_head, 0, 0, &other);
  if (!same(&whole, &other))
    TEST_FAILF_("byte-by-byte result differs from whole (rc %d vs %d)",
                other.rc, whole.rc);
  for (seed = 1; seed <= 12; seed++) {
    feed(kind, in, n, max_headers, max_head, 0, seed * 0x9E3779B97F4A7C15ULL,
         &other);
    if (!same(&whole, &other))
      TEST_FAILF_("random split (seed %d) differs from whole (rc %d vs %d)",
                  (int)seed, other.rc, whole.rc);
  }
  segv_armed_ = 0;
  return whole;
}

#define S(lit) (lit), sizeof(lit) - 1

static outcome req_ok(const char *in, size_t n) {
  outcome o = run_all(REQ, in, n, MAXH, 0);
  const char *end = strstr(in, "\r\n\r\n");
  CHECK(end != NULL);
  if (end)
    CHECK_INT(o.rc, end + 4 - in);
  return o;
}

static outcome res_ok(const char *in, size_t n) {
  outcome o = run_all(RES, in, n, MAXH, 0);
  const char *end = strstr(in, "\r\n\r\n");
  CHECK(end != NULL);
  if (end)
    CHECK_INT(o.rc, end + 4 - in);
  return o;
}

static void expect_err(int kind, const char *in, size_t n, int rc,
                       const char *detail) {
  outcome o = run_all(kind, in, n, MAXH, 0);
  CHECK_INT(o.rc, rc);
  CHECK_STR(o.detail, detail);
}

#define REQ_ERR(lit, detail) expect_err(REQ, S(lit), WSX_E_HTTP, detail)
#define RES_ERR(lit, detail) expect_err(RES, S(lit), WSX_E_HTTP, detail)

/* Checks header i against name/value given as C strings. */
static void check_header(const char *in, const outcome *o, size_t i,
                         const char *name, const char *value) {
  REQUIRE(i < o->nh);
  CHECK_MEM(in + o->h[i][0], o->h[i][1], name, strlen(name));
  CHECK_MEM(in + o->h[i][2], o->h[i][3], value, strlen(value));
}

TEST(chromium_upgrade_request) {
  static const char in[] =
      "GET /chat?room=1 HTTP/1.1\r\n"
      "Host: 127.0.0.1:8080\r\n"
      "Connection: Upgrade\r\n"
      "Pragma: no-cache\r\n"
      "Cache-Control: no-cache\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
      "like Gecko) HeadlessChrome/120.0.6099.224 Safari/537.36\r\n"
      "Upgrade: websocket\r\n"
      "Origin: http://127.0.0.1:8080\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Accept-Language: en-US,en;q=0.9\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      "\r\n"
      "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; /* a masked frame */
  outcome o = req_ok(S(in));
  CHECK_MEM(in + o.a_off, o.a_len, "GET", 3);
  CHECK_MEM(in + o.b_off, o.b_len, "/chat?room=1", 12);
  CHECK_INT(o.minor, 1);
  CHECK_INT(o.nh, 12);
  check_header(in, &o, 0, "Host", "127.0.0.1:8080");
  check_header(in, &o, 4, "User-Agent",
               "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
               "like Gecko) HeadlessChrome/120.0.6099.224 Safari/537.36");
  check_header(in, &o, 10, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  check_header(in, &o, 11, "Sec-WebSocket-Extensions",
               "permessage-deflate; client_max_window_bits");
}

TEST(node_ws_upgrade_request) {
  static const char in[] =
      "GET / HTTP/1.1\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
      "Connection: Upgrade\r\n"
      "Upgrade: websocket\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      "Host: localhost:8080\r\n"
      "\r\n";
  outcome o = req_ok(S(in));
  CHECK_MEM(in + o.b_off, o.b_len, "/", 1);
  CHECK_INT(o.nh, 6);
  check_header(in, &o, 1, "Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==");
  check_header(in, &o, 5, "Host", "localhost:8080");
}

TEST(response_101) {
  static const char in[] =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
      "\r\n"
      "\x81\x05hello";
  outcome o = res_ok(S(in));
  CHECK_INT(o.status, 101);
  CHECK_INT(o.minor, 1);
  CHECK_MEM(in + o.a_off, o.a_len, "Switching Protocols", 19);
  CHECK_INT(o.nh, 3);
  check_header(in, &o, 2, "Sec-WebSocket-Accept",
               "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(response_400_with_body) {
  static const char in[] = "HTTP/1.1 400 Bad Request\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: 25\r\n"
                           "Connection: close\r\n"
                           "\r\n"
                           "Missing Sec-WebSocket-Key";
  outcome o = res_ok(S(in));
  CHECK_INT(o.status, 400);
  CHECK_MEM(in + o.a_off, o.a_len, "Bad Request", 11);
  CHECK_INT(o.nh, 3);
  check_header(in, &o, 1, "Content-Length", "25");
}

TEST(response_407_proxy_auth) {
  static const char in[] = "HTTP/1.0 407 Proxy Authentication Required\r\n"
                           "Server: tinyproxy/1.11.1\r\n"
                           "Proxy-Authenticate: Basic realm=\"tinyproxy\"\r\n"
                           "Content-Type: text/html\r\n"
                           "Connection: close\r\n"
                           "\r\n"
                           "<html>...</html>";
  outcome o = res_ok(S(in));
  CHECK_INT(o.status, 407);
  CHECK_INT(o.minor, 0);
  CHECK_INT(o.nh, 4);
  check_header(in, &o, 1, "Proxy-Authenticate", "Basic realm=\"tinyproxy\"");
}

TEST(value_whitespace_and_obs_text) {
  static const char in[] =
      "GET / HTTP/1.0\r\n"
      "A:  a b \t\r\n"
      "B:\r\n"
      "C: \t \r\n"
      "D:\tx\ty\t\r\n"
      "E: caf\xc3\xa9 \x80\xff\r\n"
      "F:z\r\n"
      "G: 0123456789abcdef\t0123456789abcdef\x80\xfe~! \r\n"
      "\r\n";
  outcome o = req_ok(S(in));
  CHECK_INT(o.minor, 0);
  CHECK_INT(o.nh, 7);
  check_header(in, &o, 0, "A", "a b");
  check_header(in, &o, 1, "B", "");
  check_header(in, &o, 2, "C", "");
  check_header(in, &o, 3, "D", "x\ty");
  check_header(in, &o, 4, "E", "caf\xc3\xa9 \x80\xff");
  check_header(in, &o, 5, "F", "z");
  check_header(in, &o, 6, "G", "0123456789abcdef\t0123456789abcdef\x80\xfe~!");
}

TEST(request_line_forms) {
  static const char in1[] = "OPTIONS * HTTP/1.1\r\n\r\n";
  static const char in2[] = "CONNECT example.com:443 HTTP/1.1\r\nHost: "
                            "example.com:443\r\n\r\n";
  static const char in3[] = "M-SEARCH!#$%&'*+.^_`|~ /x HTTP/1.1\r\n\r\n";
  outcome o = req_ok(S(in1));
  CHECK_MEM(in1 + o.a_off, o.a_len, "OPTIONS", 7);
  CHECK_MEM(in1 + o.b_off, o.b_len, "*", 1);
  CHECK_INT(o.nh, 0);
  o = req_ok(S(in2));
  CHECK_MEM(in2 + o.b_off, o.b_len, "example.com:443", 15);
  o = req_ok(S(in3));
  CHECK_INT(o.a_len, 22);
}

TEST(response_line_forms) {
  static const char in1[] = "HTTP/1.1 204 \r\n\r\n";
  static const char in2[] = "HTTP/1.1 999 W\xe9ird\treason\r\nX: y\r\n\r\n";
  outcome o = res_ok(S(in1));
  CHECK_INT(o.status, 204);
  CHECK_INT(o.a_len, 0);
  o = res_ok(S(in2));
  CHECK_INT(o.status, 999);
  CHECK_MEM(in2 + o.a_off, o.a_len, "W\xe9ird\treason", 12);
  CHECK_INT(o.nh, 1);
}

TEST(incomplete_heads_ask_for_more) {
  outcome o = run_all(REQ, S("GET / HTTP/1.1\r\nHost: x\r\n\r"), MAXH, 0);
  CHECK_INT(o.rc, WSX_E_AGAIN);
  o = run_all(REQ, S("GET / HTTP/1.1\r\nHost: x\r\n"), MAXH, 0);
  CHECK_INT(o.rc, WSX_E_AGAIN);
  o = run_all(RES, S("HTTP/1.1 101 OK\r\n\r"), MAXH, 0);
  CHECK_INT(o.rc, WSX_E_AGAIN);
  o = run_all(REQ, "", 0, MAXH, 0);
  CHECK_INT(o.rc, WSX_E_AGAIN);
}

TEST(reject_method) {
  REQ_ERR("G(T / HTTP/1.1\r\n\r\n", "invalid character in method");
  REQ_ERR("GET\t/ HTTP/1.1\r\n\r\n", "invalid character in method");
  REQ_ERR(" GET / HTTP/1.1\r\n\r\n", "empty method");
  REQ_ERR("G\xc3\xa9T / HTTP/1.1\r\n\r\n", "invalid character in method");
  REQ_ERR("GET\r\n\r\n", "invalid character in method");
  REQ_ERR("\r\n\r\n", "empty request line");
  REQ_ERR("\r\nGET / HTTP/1.1\r\n\r\n", "empty request line");
}

TEST(reject_target) {
  REQ_ERR("GET  / HTTP/1.1\r\n\r\n", "empty request target");
  REQ_ERR("GET /a\tb HTTP/1.1\r\n\r\n", "invalid character in request target");
  REQ_ERR("GET /a\x7f HTTP/1.1\r\n\r\n", "invalid character in request target");
  REQ_ERR("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
          "invalid character in request target");
  REQ_ERR("GET /\x01 HTTP/1.1\r\n\r\n", "invalid character in request target");
  REQ_ERR("GET /\r\n\r\n", "invalid character in request target");
}

TEST(reject_version) {
  REQ_ERR("GET / HTTP/1.2\r\n\r\n", "invalid HTTP version");
  REQ_ERR("GET / HTTP/2.0\r\n\r\n", "invalid HTTP version");
  REQ_ERR("GET / http/1.1\r\n\r\n", "invalid HTTP version");
  REQ_ERR("GET / HTTP/1\r\n\r\n", "invalid HTTP version");
  REQ_ERR("GET /  HTTP/1.1\r\n\r\n", "invalid HTTP version");
  REQ_ERR("GET / HTTP/1.1 \r\n\r\n", "expected CRLF after HTTP version");
  REQ_ERR("GET / HTTP/1.10\r\n\r\n", "expected CRLF after HTTP version");
  RES_ERR("HTTP/1.2 200 OK\r\n\r\n", "invalid HTTP version");
  RES_ERR("HTTP/1.1\r\n\r\n", "expected SP after HTTP version");
  RES_ERR("HTTP/1.1200 OK\r\n\r\n", "expected SP after HTTP version");
  RES_ERR("ICY 200 OK\r\n\r\n", "invalid HTTP version");
}

TEST(reject_status) {
  RES_ERR("HTTP/1.1 20 OK\r\n\r\n", "status code is not 3 digits");
  RES_ERR("HTTP/1.1 2000 OK\r\n\r\n", "expected SP after status code");
  RES_ERR("HTTP/1.1 099 OK\r\n\r\n", "status code is not 3 digits");
  RES_ERR("HTTP/1.1 abc OK\r\n\r\n", "status code is not 3 digits");
  RES_ERR("HTTP/1.1  200 OK\r\n\r\n", "status code is not 3 digits");
  RES_ERR("HTTP/1.1 200\r\n\r\n", "expected SP after status code");
  RES_ERR("HTTP/1.1 200 O\x01K\r\n\r\n", "invalid character in reason phrase");
  RES_ERR("HTTP/1.1 200 O\x7fK\r\n\r\n", "invalid character in reason phrase");
}

TEST(reject_header_name) {
  REQ_ERR("GET / HTTP/1.1\r\nHost : x\r\n\r\n",
          "whitespace before colon in header name");
  REQ_ERR("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",
          "whitespace before colon in header name");
  REQ_ERR("GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
          "whitespace before colon in header name");
  REQ_ERR("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n",
          "invalid character in header name");
  REQ_ERR("GET / HTTP/1.1\r\nH\xc3\xb6st: x\r\n\r\n",
          "invalid character in header name");
  REQ_ERR("GET / HTTP/1.1\r\nHo\x7fst: x\r\n\r\n",
          "invalid character in header name");
  REQ_ERR("GET / HTTP/1.1\r\n: x\r\n\r\n", "empty header name");
  REQ_ERR("GET / HTTP/1.1\r\nHost\r\n\r\n", "header line without colon");
  RES_ERR("HTTP/1.1 200 OK\r\nX y: z\r\n\r\n",
          "whitespace before colon in header name");
}

TEST(reject_header_value) {
  REQ_ERR("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",
          "invalid character in header value");
  REQ_ERR("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n",
          "invalid character in header value");
  REQ_ERR("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n",
          "invalid character in header value");
  RES_ERR("HTTP/1.1 200 OK\r\nX: \x0b\r\n\r\n",
          "invalid character in header value");
  /* Inside long runs, where the parser skips eight bytes a step. */
  REQ_ERR("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaa\x7f"
          "aaaaaaaaaaaaaaaa\r\n\r\n",
          "invalid character in header value");
  REQ_ERR("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaa\x1f"
          "aaaaaaaaaaaaa\r\n\r\n",
          "invalid character in header value");
  REQ_ERR("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r"
          "aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
          "CR not followed by LF");
  REQ_ERR("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
          "aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
          "bare LF line ending");
}

TEST(reject_line_endings) {
  REQ_ERR("GET / HTTP/1.1\n\n", "bare LF line ending");
  REQ_ERR("GET / HTTP/1.1\r\nHost: x\n\r\n", "bare LF line ending");
  REQ_ERR("GET / HTTP/1.1\r\nHost: x\r\n\n", "bare LF line ending");
  REQ_ERR("\nGET / HTTP/1.1\r\n\r\n", "bare LF line ending");
  REQ_ERR("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "CR not followed by LF");
  REQ_ERR("GET / HTTP/1.1\r\r\n\r\n", "CR not followed by LF");
  RES_ERR("HTTP/1.1 200 OK\n\r\n", "bare LF line ending");
  /* Refused as soon as the bad byte arrives, long before any CRLF CRLF. */
  REQ_ERR("GET / HTTP/1.1\rX", "CR not followed by LF");
  REQ_ERR("GET / HTTP/1.1\nX", "bare LF line ending");
}

TEST(reject_obs_fold) {
  REQ_ERR("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "obsolete line folding");
  REQ_ERR("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", "obsolete line folding");
  REQ_ERR("GET / HTTP/1.1\r\n Host: x\r\n\r\n", "obsolete line folding");
  RES_ERR("HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", "obsolete line folding");
}

TEST(reject_nul) {
  REQ_ERR("GET /\0 HTTP/1.1\r\n\r\n", "NUL byte in head");
  REQ_ERR("G\0T / HTTP/1.1\r\n\r\n", "NUL byte in head");
  REQ_ERR("GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n", "NUL byte in head");
  REQ_ERR("GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n", "NUL byte in head");
  RES_ERR("HTTP/1.1 200 O\0K\r\n\r\n", "NUL byte in head");
  /* Early: no end of head yet. */
  REQ_ERR("GET / HTTP/1.1\r\nX: \0", "NUL byte in head");
}

TEST(body_bytes_are_not_parsed) {
  /* NUL, bare LF and junk after the head belong to the next protocol. */
  static const char in[] = "GET / HTTP/1.1\r\nA: b\r\n\r\n\0\n\r\x01 junk";
  outcome o = req_ok(S(in));
  CHECK_INT(o.nh, 1);
}

/* Builds a request head of exactly n bytes (n >= 64) with `nh` headers. */
static size_t build_head(char *out, size_t n, size_t nh) {
  size_t pos, i, room, line;
  memcpy(out, "GET / HTTP/1.1\r\n", 16);
  pos = 16;
  for (i = 0; i < nh; i++) {
    room = n - 2 - pos;
    line = room / (nh - i);
    pos += (size_t)sprintf(out + pos, "X-%02zu:", i % 100);
    memset(out + pos, 'a', line - 7);
    pos += line - 7;
    memcpy(out + pos, "\r\n", 2);
    pos += 2;
  }
  memcpy(out + pos, "\r\n", 2);
  return pos + 2;
}

TEST(limit_head_size) {
  static char big[20000];
  size_t n;
  outcome o;

  n = build_head(big, 64, 2);
  REQUIRE(n == 64);
  o = run_all(REQ, big, 64, MAXH, 64);
  CHECK_INT(o.rc, 64);
  o = run_all(REQ, big, 64, MAXH, 63);
  CHECK_INT(o.rc, WSX_E_HEAD_TOO_BIG);
  CHECK_STR(o.detail, "head larger than max_head");

  /* The default (max_head 0) is 16 KiB exactly. */
  n = build_head(big, WSX_HTTP_DEFAULT_MAX_HEAD, 40);
  REQUIRE(n == WSX_HTTP_DEFAULT_MAX_HEAD);
  o = run_all(REQ, big, n, MAXH, 0);
  CHECK_INT(o.rc, WSX_HTTP_DEFAULT_MAX_HEAD);
  CHECK_INT(o.nh, 40);
  n = build_head(big, WSX_HTTP_DEFAULT_MAX_HEAD + 1, 40);
  o = run_all(REQ, big, n, MAXH, 0);
  CHECK_INT(o.rc, WSX_E_HEAD_TOO_BIG);
}

TEST(limit_head_size_is_immediate) {
  /* No terminator within max_head bytes: refused as soon as max_head bytes
   * are there, without waiting for more; one byte fewer still waits. */
  static char junk[200];
  wsx_http_state st = {0};
  wsx_header hs[4];
  wsx_http_request req;
  const char *why = NULL;
  memset(junk, 'a', sizeof junk);
  memcpy(junk, "GET / HTTP/1.1\r\nX: ", 19);
  CHECK_INT(wsx_http_parse_request(junk, 99, &req, hs, 4, 100, &st, &why),
            WSX_E_AGAIN);
  CHECK_INT(wsx_http_parse_request(junk, 100, &req, hs, 4, 100, &st, &why),
            WSX_E_HEAD_TOO_BIG);
  CHECK_STR(why, "head larger than max_head");
  /* A CR as the last allowed byte cannot be completed within the limit. */
  junk[99] = '\r';
  memset(&st, 0, sizeof st);
  CHECK_INT(wsx_http_parse_request(junk, 100, &req, hs, 4, 100, &st, &why),
            WSX_E_HEAD_TOO_BIG);
  {
    outcome o = run_all(REQ, junk, sizeof junk, 4, 100);
    CHECK_INT(o.rc, WSX_E_HEAD_TOO_BIG);
  }
}

TEST(limit_header_count) {
  static const char in[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  outcome o = run_all(RES, S(in), 3, 0);
  CHECK_INT(o.nh, 3);
  CHECK(o.rc > 0);
  o = run_all(RES, S(in), 2, 0);
  CHECK_INT(o.rc, WSX_E_HEAD_TOO_BIG);
  CHECK_STR(o.detail, "too many headers");
  o = run_all(REQ, S("GET / HTTP/1.1\r\nA: 1\r\n\r\n"), 0, 0);
  CHECK_INT(o.rc, WSX_E_HEAD_TOO_BIG);
  {
    /* No headers at all needs no array. */
    wsx_http_request req;
    CHECK_INT(wsx_http_parse_request(S("GET / HTTP/1.1\r\n\r\n"), &req, NULL, 0,
                                     0, NULL, NULL),
              18);
    CHECK_INT(req.num_headers, 0);
  }
}

/* Feeds src[0..n) into m one byte at a time, locking scanned pages. */
static int slowloris_feed(char *m, const char *src, size_t n, size_t *work,
                          size_t *locked, wsx_http_request *req,
                          wsx_header *hs) {
  wsx_http_state st = {0};
  size_t len;
  int rc = WSX_E_AGAIN;
  for (len = 1; len <= n; len++) {
    size_t before = st.scanned;
    m[len - 1] = src[len - 1];
    if (len == n) /* the complete head is parsed from its start */
      CHECK(mprotect(m, *locked * (size_t)page_, PROT_READ | PROT_WRITE) == 0);
    rc = wsx_http_parse_request(m, len, req, hs, MAXH, 0, &st, NULL);
    *work += len - before;
    if (rc != WSX_E_AGAIN)
      break;
    CHECK(st.scanned + 1 >= len); /* at most a lone CR left to look at */
    while (len < n - 1 && (*locked + 1) * (size_t)page_ + 3 <= st.scanned) {
      CHECK(mprotect(m + *locked * (size_t)page_, (size_t)page_, PROT_NONE) ==
            0);
      (*locked)++;
    }
  }
  return rc;
}

/* slowloris_feed with a fault turned into the return value 1 << 30. */
static int guarded_feed(char *m, const char *src, size_t n, size_t *work,
                        size_t *locked, wsx_http_request *req, wsx_header *hs) {
  int rc;
  if (sigsetjmp(segv_jmp_, 1)) {
    segv_armed_ = 0;
    return 1 << 30;
  }
  segv_armed_ = 1;
  rc = slowloris_feed(m, src, n, work, locked, req, hs);
  segv_armed_ = 0;
  return rc;
}

TEST(slowloris_is_linear) {
  /*
   * A 16 KiB head fed one byte at a time, in place. Work is counted through
   * the state (bytes between the previous `scanned` and the new length), and
   * the parser is made to honour it: every page wholly before
   * `scanned - 3` (the parser looks back at most three bytes) is made
   * unreadable while the head is incomplete, so a parser that rescanned
   * from the start would fault.
   */
  const size_t n = WSX_HTTP_DEFAULT_MAX_HEAD;
  size_t pages = n / (size_t)page_, work = 0, locked = 0, i;
  char *m, *src = malloc(n);
  wsx_header hs[MAXH];
  wsx_http_request req;
  int rc;

  REQUIRE(src && n % (size_t)page_ == 0);
  REQUIRE(build_head(src, n, 60) == n);
  m = mmap(NULL, (pages + 1) * (size_t)page_, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  REQUIRE(mprotect(m + n, (size_t)page_, PROT_NONE) == 0);
  rc = guarded_feed(m, src, n, &work, &locked, &req, hs);
  if (rc == 1 << 30)
    TEST_FAILF_("parser re-read bytes it had already scanned");
  CHECK_INT(rc, (int)n);
  CHECK_INT(req.num_headers, 60);
  CHECK(locked >= pages - 1);
  CHECK(work <= 2 * n);
  for (i = 0; i < 4; i++)
    CHECK_MEM(req.headers[i].name, 2, "X-", 2);
  munmap(m, (pages + 1) * (size_t)page_);
  free(src);
}

TEST(state_reuse) {
  static const char in[] = "GET / HTTP/1.1\r\nA: b\r\n\r\n";
  wsx_http_state st = {0};
  wsx_header hs[4];
  wsx_http_request req;
  const char *buf = place(in, sizeof in - 1);
  /* Calling again after completion gives the same answer. */
  CHECK_INT(
      wsx_http_parse_request(buf, sizeof in - 1, &req, hs, 4, 0, &st, NULL),
      (int)sizeof in - 1);
  CHECK_INT(
      wsx_http_parse_request(buf, sizeof in - 1, &req, hs, 4, 0, &st, NULL),
      (int)sizeof in - 1);
  /* A stale state from a longer buffer is not trusted. */
  st.scanned = 1000;
  CHECK_INT(
      wsx_http_parse_request(buf, sizeof in - 1, &req, hs, 4, 0, &st, NULL),
      (int)sizeof in - 1);
  /* No state at all works too (stateless mode). */
  CHECK_INT(
      wsx_http_parse_request(buf, sizeof in - 1, &req, hs, 4, 0, NULL, NULL),
      (int)sizeof in - 1);
  CHECK_MEM(req.target, req.target_len, "/", 1);
}

TEST(invalid_arguments) {
  wsx_header hs[4];
  wsx_http_request req;
  wsx_http_response res;
  CHECK_INT(wsx_http_parse_request(S("GET / HTTP/1.1\r\n\r\n"), NULL, hs, 4, 0,
                                   NULL, NULL),
            WSX_E_INVALID);
  CHECK_INT(wsx_http_parse_response(NULL, 5, &res, hs, 4, 0, NULL, NULL),
            WSX_E_INVALID);
  CHECK_INT(wsx_http_parse_request(S("GET / HTTP/1.1\r\n\r\n"), &req, NULL, 4,
                                   0, NULL, NULL),
            WSX_E_INVALID);
}

TEST(valid_name_and_value) {
  CHECK(wsx_http_valid_name(S("Sec-WebSocket-Key")));
  CHECK(wsx_http_valid_name(S("!#$%&'*+-.^_`|~09azAZ")));
  CHECK(!wsx_http_valid_name(S("")));
  CHECK(!wsx_http_valid_name(S("Host ")));
  CHECK(!wsx_http_valid_name(S("Ho:st")));
  CHECK(!wsx_http_valid_name(S("X\r\nY")));
  CHECK(!wsx_http_valid_name(S("X\0Y")));
  CHECK(!wsx_http_valid_name(S("caf\xc3\xa9")));
  CHECK(!wsx_http_valid_name(NULL, 3));
  CHECK(wsx_http_valid_value(S("")));
  CHECK(wsx_http_valid_value(S("text/html; charset=\"utf-8\"\t x")));
  CHECK(wsx_http_valid_value(S("caf\xc3\xa9 \x80\xff")));
  CHECK(!wsx_http_valid_value(S("a\r\nSet-Cookie: x")));
  CHECK(!wsx_http_valid_value(S("a\rb")));
  CHECK(!wsx_http_valid_value(S("a\nb")));
  CHECK(!wsx_http_valid_value(S("a\0b")));
  CHECK(!wsx_http_valid_value(S("a\x01")));
  CHECK(!wsx_http_valid_value(S("a\x7f")));
  CHECK(!wsx_http_valid_value(NULL, 1));
}

TEST(setup_guard_page) { REQUIRE(setup() == 0); }

TEST_MAIN(RUN(setup_guard_page); if (!area_) return 1;
          RUN(chromium_upgrade_request); RUN(node_ws_upgrade_request);
          RUN(response_101); RUN(response_400_with_body);
          RUN(response_407_proxy_auth); RUN(value_whitespace_and_obs_text);
          RUN(request_line_forms); RUN(response_line_forms);
          RUN(incomplete_heads_ask_for_more); RUN(reject_method);
          RUN(reject_target); RUN(reject_version); RUN(reject_status);
          RUN(reject_header_name); RUN(reject_header_value);
          RUN(reject_line_endings); RUN(reject_obs_fold); RUN(reject_nul);
          RUN(body_bytes_are_not_parsed); RUN(limit_head_size);
          RUN(limit_head_size_is_immediate); RUN(limit_header_count);
          RUN(slowloris_is_linear); RUN(state_reuse); RUN(invalid_arguments);
          RUN(valid_name_and_value))
