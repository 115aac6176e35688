/*
 * tests/unit/test_hixie.c: the legacy drafts (hixie-75, hixie-76) on the
 * server driver: the -76 challenge, malformed keys, the delayed key3 body
 * with messages queued meanwhile, framing at every split, UTF-8, limits,
 * length-prefixed frames and both ways of closing.
 */
#include <stdarg.h>

#include "test.h"
#include "wsx/driver.h"

/* ------------------------------------------------------------ recorder */

typedef struct rec {
  char out[8192]; /* bytes the driver wrote */
  size_t out_len;
  char log[4096]; /* event log: "open;msg:hi;error:-1051;close:1007:0;" */
  size_t log_len;
  int opens, closes, errors, last_error;
  int start_on_connect; /* call wsx_driver_start from `connect` */
  int close_on_message; /* call wsx_driver_close from `message` */
  size_t out_at_open;   /* out_len when `open` fired */
} rec;

static void logf_(rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(rec *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(r->log + r->log_len, sizeof r->log - r->log_len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof r->log - r->log_len)
    r->log_len += (size_t)n;
}

static int on_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  (void)d;
  rec *r = ud;
  for (size_t i = 0; i < n; i++) {
    if (r->out_len + iov[i].len > sizeof r->out)
      return -1;
    memcpy(r->out + r->out_len, iov[i].base, iov[i].len);
    r->out_len += iov[i].len;
  }
  return 0;
}

static void on_connect(wsx_driver *d, void *ud) {
  rec *r = ud;
  logf_(r, "connect;");
  if (r->start_on_connect)
    wsx_driver_start(d);
}

static void on_open(wsx_driver *d, void *ud) {
  (void)d;
  rec *r = ud;
  r->opens++;
  r->out_at_open = r->out_len;
  logf_(r, "open;");
}

static void on_message(wsx_driver *d, const wsx_message *m, void *ud) {
  rec *r = ud;
  logf_(r, "msg:%d:%.*s;", m->opcode, (int)m->len, (const char *)m->data);
  if (r->close_on_message)
    wsx_driver_close(d, 1000, NULL);
}

static void on_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  (void)d;
  rec *r = ud;
  r->closes++;
  logf_(r, "close:%u:%d;", e->code, e->clean);
}

static void on_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  (void)d;
  rec *r = ud;
  r->errors++;
  r->last_error = e->code;
  logf_(r, "error:%d;", e->code);
}

static const wsx_driver_callbacks cbs = {.struct_size = sizeof(wsx_driver_callbacks),
    .write = on_write,
    .connect = on_connect,
    .open = on_open,
    .message = on_message,
    .close = on_close,
    .error = on_error,
};

static wsx_driver *server(rec *r, int allow, int secure, uint64_t max_length) {
  memset(r, 0, sizeof *r);
  r->start_on_connect = 1;
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allow_drafts = allow;
  o.secure = secure;
  o.max_length = max_length;
  return wsx_driver_new_server(&o, &cbs, r);
}

static int feed(wsx_driver *d, const void *p, size_t n) {
  uint8_t buf[4096];
  if (n > sizeof buf)
    return -1;
  memcpy(buf, p, n); /* parse() may modify its input */
  return wsx_driver_parse(d, buf, n);
}

static int feed_str(wsx_driver *d, const char *s) {
  return feed(d, s, strlen(s));
}

/* Byte offset of the end of the HTTP head in r->out (0 if none). */
static size_t head_end(const rec *r) {
  for (size_t i = 0; i + 4 <= r->out_len; i++)
    if (memcmp(r->out + i, "\r\n\r\n", 4) == 0)
      return i + 4;
  return 0;
}

static int out_has(const rec *r, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= r->out_len; i++)
    if (memcmp(r->out + i, s, n) == 0)
      return 1;
  return 0;
}

/* ------------------------------------------------------------ requests */

/* draft-76 section 5.2 example keys; answer "fQJ,fN/4F4!~K~MH". */
#define KEY1_A "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
#define KEY2_A "1_ tx7X d  <  nw  334J702) 7]o}` 0"
#define KEY3_A "Tm[K T2u"
#define ANSWER_A "fQJ,fN/4F4!~K~MH"

static const char req76[] = "GET /demo HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key2: " KEY2_A "\r\n"
                            "Sec-WebSocket-Protocol: sample\r\n"
                            "Upgrade: WebSocket\r\n"
                            "Sec-WebSocket-Key1: " KEY1_A "\r\n"
                            "Origin: http://example.com\r\n"
                            "\r\n";

static const char res76_head[] =
    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
    "Upgrade: WebSocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Origin: http://example.com\r\n"
    "Sec-WebSocket-Location: ws://example.com/demo\r\n"
    "Sec-WebSocket-Protocol: sample\r\n"
    "\r\n";

static const char req75[] = "GET /demo HTTP/1.1\r\n"
                            "Upgrade: WebSocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Host: example.com\r\n"
                            "Origin: http://example.com\r\n"
                            "WebSocket-Protocol: sample\r\n"
                            "\r\n";

static const char res75[] = "HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
                            "Upgrade: WebSocket\r\n"
                            "Connection: Upgrade\r\n"
                            "WebSocket-Origin: http://example.com\r\n"
                            "WebSocket-Location: ws://example.com/demo\r\n"
                            "WebSocket-Protocol: sample\r\n"
                            "\r\n";

/* A -76 request with the given keys (and no protocol). */
static void make_req76(char *buf, size_t cap, const char *k1, const char *k2) {
  snprintf(buf, cap,
           "GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
           "Upgrade: WebSocket\r\nOrigin: http://h\r\n"
           "Sec-WebSocket-Key1: %s\r\nSec-WebSocket-Key2: %s\r\n\r\n",
           k1, k2);
}

/* --------------------------------------------------------- handshakes */

TEST(challenge_example_76) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req76), WSX_OK);
  CHECK_INT(feed_str(d, KEY3_A), WSX_OK);
  size_t hl = strlen(res76_head);
  CHECK_MEM(r.out, r.out_len < hl ? r.out_len : hl, res76_head, hl);
  CHECK_MEM(r.out + hl, r.out_len - hl, ANSWER_A, 16);
  CHECK_STR(r.log, "connect;open;");
  CHECK_STR(wsx_driver_version(d), "hixie-76");
  CHECK_STR(wsx_driver_protocol(d), "sample");
  CHECK_INT(wsx_driver_ready_state(d), WSX_OPEN);
  wsx_driver_free(d);
}

/* The draft's introduction example (section 1.3), in one read with key3. */
TEST(challenge_intro_example_76) {
  static const char req[] = "GET /demo HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
                            "Upgrade: WebSocket\r\n"
                            "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                            "Origin: http://example.com\r\n"
                            "\r\n"
                            "^n:ds[4U";
  rec r;
  wsx_driver *d = server(&r, 1, 1, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req), WSX_OK);
  size_t hl = head_end(&r);
  REQUIRE(hl > 0);
  CHECK_MEM(r.out + hl, r.out_len - hl, "8jKS'y:G*Co,Wxa-", 16);
  CHECK(out_has(&r, "Sec-WebSocket-Location: wss://example.com/demo\r\n"));
  CHECK(!out_has(&r, "Sec-WebSocket-Protocol"));
  CHECK_INT(r.opens, 1);
  wsx_driver_free(d);
}

TEST(handshake_75) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req75), WSX_OK);
  CHECK_MEM(r.out, r.out_len, res75, strlen(res75));
  CHECK_STR(r.log, "connect;open;");
  CHECK_STR(wsx_driver_version(d), "hixie-75");
  CHECK_STR(wsx_driver_protocol(d), "sample");
  wsx_driver_free(d);
}

/* Expects a 400 and a failed handshake for a -76 request with these keys. */
static void expect_refused(const char *k1, const char *k2, const char *why) {
  char req[512];
  make_req76(req, sizeof req, k1, k2);
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req), WSX_OK);
  if (r.out_len < 12 || memcmp(r.out, "HTTP/1.1 400", 12) != 0)
    TEST_FAILF_("keys '%s' / '%s': no 400", k1, k2);
  CHECK_INT(r.opens, 0);
  CHECK_INT(r.last_error, WSX_E_HANDSHAKE);
  CHECK_INT(r.closes, 1);
  const char *msg = NULL;
  CHECK_INT(wsx_driver_last_error(d, &msg), WSX_E_HANDSHAKE);
  if (!msg || !strstr(msg, why))
    TEST_FAILF_("error '%s' does not say '%s'", msg ? msg : "", why);
  CHECK_INT(wsx_driver_ready_state(d), WSX_CLOSED);
  wsx_driver_free(d);
}

TEST(malformed_keys_76) {
  expect_refused("12345678", KEY2_A, "no spaces");
  expect_refused(KEY1_A, "1 2 3", "not a multiple");
  expect_refused("42949672 96", KEY2_A, "32 bits");
  expect_refused("9999999999999999999999 9", KEY2_A, "32 bits");
  expect_refused("abc def", KEY2_A, "no digits");
  expect_refused(KEY1_A, "a b", "no digits");
}

TEST(key_limits_76) {
  /* 4294967295 / 1 and 4294967295 / 3 are valid: the largest number. */
  char req[512];
  make_req76(req, sizeof req, "429496729 5", "42 949 672 95");
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req), WSX_OK);
  CHECK(r.out_len > 12 && memcmp(r.out, "HTTP/1.1 101", 12) == 0);
  CHECK_INT(r.errors, 0);
  CHECK_INT(feed_str(d, "12345678"), WSX_OK);
  CHECK_INT(r.opens, 1);
  wsx_driver_free(d);
}

TEST(drafts_off_by_default) {
  const char *reqs[2] = {req76, req75};
  for (int i = 0; i < 2; i++) {
    rec r;
    wsx_driver *d = server(&r, 0, 0, 0);
    REQUIRE(d);
    feed_str(d, reqs[i]);
    CHECK(r.out_len > 12 && memcmp(r.out, "HTTP/1.1 400", 12) == 0);
    CHECK(out_has(&r, "draft"));
    CHECK_INT(r.opens, 0);
    CHECK_INT(r.last_error, WSX_E_HANDSHAKE);
    CHECK_INT(r.closes, 1);
    wsx_driver_free(d);
  }
}

TEST(bad_draft_requests) {
  static const char *const reqs[] = {
      /* POST */
      "POST /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
      "Upgrade: WebSocket\r\nOrigin: o\r\n\r\n",
      /* no Host */
      "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
      "Origin: o\r\n\r\n",
      /* no Connection: Upgrade */
      "GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
      "Upgrade: WebSocket\r\nOrigin: o\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    rec r;
    wsx_driver *d = server(&r, 1, 0, 0);
    REQUIRE(d);
    feed_str(d, reqs[i]);
    if (r.out_len < 12 || memcmp(r.out, "HTTP/1.1 400", 12) != 0)
      TEST_FAILF_("request %zu not refused with 400", i);
    CHECK_INT(r.opens, 0);
    CHECK_INT(r.closes, 1);
    wsx_driver_free(d);
  }
}

/* ------------------------------------------------- delayed key3 body */

TEST(delayed_body_queues_messages) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  CHECK_INT(feed_str(d, req76), WSX_OK);
  /* The head is answered; the challenge answer waits for key3. */
  CHECK_MEM(r.out, r.out_len, res76_head, strlen(res76_head));
  CHECK_INT(wsx_driver_ready_state(d), WSX_CONNECTING);
  CHECK_INT(r.opens, 0);
  size_t before = r.out_len;
  CHECK_INT(wsx_driver_send_text(d, "first", 5), WSX_OK);
  CHECK_INT(wsx_driver_send_text(d, "h\xc3\xa9llo \xe2\x82\xac", 10), WSX_OK);
  CHECK_INT(wsx_driver_send_text(d, "bad \xc3", 5), WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_binary(d, "b", 1), WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_driver_ping(d, "p", 1, NULL, NULL), WSX_E_UNSUPPORTED);
  CHECK_INT(r.out_len, before); /* nothing leaves before open */
  /* key3 in pieces: open only after the last byte. */
  CHECK_INT(feed(d, KEY3_A, 3), WSX_OK);
  CHECK_INT(r.opens, 0);
  CHECK_INT(wsx_driver_send_text(d, "third", 5), WSX_OK);
  CHECK_INT(feed(d, &KEY3_A[3], 4), WSX_OK);
  CHECK_INT(r.opens, 0);
  CHECK_INT(r.out_len, before);
  CHECK_INT(feed(d, &KEY3_A[7], 1), WSX_OK);
  CHECK_INT(r.opens, 1);
  CHECK_INT(wsx_driver_ready_state(d), WSX_OPEN);
  /* Answer, then the queued messages in order, flushed after `open`. */
  static const char expect[] = ANSWER_A "\x00"
                                        "first\xff"
                                        "\x00h\xc3\xa9llo \xe2\x82\xac\xff"
                                        "\x00third\xff";
  CHECK_MEM(r.out + before, r.out_len - before, expect, sizeof expect - 1);
  CHECK_INT(r.out_at_open, before + 16);
  wsx_driver_free(d);
}

/* The request built by the application (websocket-driver's http()): the
 * key3 body arrives through parse() after start(). */
TEST(delayed_body_server_request) {
  static const char head[] =
      "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n"
      "Upgrade: WebSocket\r\nOrigin: http://example.com\r\n"
      "Sec-WebSocket-Key1: " KEY1_A "\r\nSec-WebSocket-Key2: " KEY2_A
      "\r\n\r\n";
  wsx_header hs[16];
  wsx_http_request req;
  wsx_http_state st;
  memset(&st, 0, sizeof st);
  REQUIRE(wsx_http_parse_request(head, strlen(head), &req, hs, 16, 4096, &st,
                                 NULL) > 0);
  rec r;
  memset(&r, 0, sizeof r);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allow_drafts = 1;
  wsx_driver *d = wsx_driver_new_server_request(&req, &o, &cbs, &r);
  REQUIRE(d);
  CHECK_INT(feed(d, KEY3_A, 2), WSX_OK); /* before start: kept */
  CHECK_INT(wsx_driver_start(d), WSX_OK);
  CHECK_INT(r.opens, 0);
  CHECK_INT(wsx_driver_send_text(d, "q", 1), WSX_OK);
  CHECK_INT(feed(d, &KEY3_A[2], 6), WSX_OK);
  CHECK_INT(r.opens, 1);
  size_t hl = head_end(&r);
  REQUIRE(hl > 0);
  CHECK_MEM(r.out + hl, r.out_len - hl, ANSWER_A "\x00q\xff", 19);
  wsx_driver_free(d);
}

TEST(close_while_waiting_for_body) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  feed_str(d, req76);
  CHECK_INT(wsx_driver_send_text(d, "never", 5), WSX_OK);
  size_t before = r.out_len;
  CHECK_INT(wsx_driver_close(d, 1000, NULL), WSX_OK);
  CHECK_INT(r.closes, 1);
  CHECK_INT(r.opens, 0);
  CHECK(feed_str(d, KEY3_A) < 0);
  CHECK_INT(r.out_len, before); /* no answer, no queued message */
  wsx_driver_free(d);
}

/* ------------------------------------------------------------ framing */

enum { WHOLE, BYTES, RANDOM };

/* Runs handshake + stream through a fresh -76 (or -75) driver fed whole,
 * byte by byte or at random splits; returns the event log and the bytes
 * written after the handshake. */
static void run_stream(int v76, const uint8_t *s, size_t n, int mode,
                       uint64_t seed, uint64_t max_length, rec *r) {
  wsx_driver *d = server(r, 1, 0, max_length);
  if (!d)
    return;
  uint8_t buf[4096];
  size_t len = 0;
  const char *req = v76 ? req76 : req75;
  memcpy(buf, req, strlen(req));
  len = strlen(req);
  if (v76) {
    memcpy(buf + len, KEY3_A, 8);
    len += 8;
  }
  if (len + n > sizeof buf) {
    wsx_driver_free(d);
    return;
  }
  memcpy(buf + len, s, n);
  len += n;
  size_t off = 0;
  while (off < len) {
    size_t k = len - off;
    if (mode == BYTES)
      k = 1;
    else if (mode == RANDOM)
      k = 1 + (size_t)(test_rand_(&seed) % (k < 23 ? k : 23));
    wsx_driver_parse(d, buf + off, k);
    off += k;
  }
  /* Keep only what follows the handshake. */
  size_t hl = head_end(r) + (v76 ? 16 : 0);
  memmove(r->out, r->out + hl, r->out_len - hl);
  r->out_len -= hl;
  wsx_driver_free(d);
}

/* Every split gives the expected log and output. */
static void check_stream(int v76, const void *s, size_t n, uint64_t max_length,
                         const char *log, const void *out, size_t out_len) {
  for (int mode = WHOLE; mode <= RANDOM; mode++) {
    for (uint64_t seed = 1; seed <= (mode == RANDOM ? 20u : 1u); seed++) {
      rec r;
      run_stream(v76, s, n, mode, seed * 0x9E3779B97F4A7C15ull, max_length, &r);
      if (strcmp(r.log, log) != 0) {
        TEST_FAILF_("mode %d seed %llu: log '%s', expected '%s'", mode,
                    (unsigned long long)seed, r.log, log);
        return;
      }
      if (r.out_len != out_len || memcmp(r.out, out, out_len) != 0) {
        TEST_FAILF_("mode %d: output differs (%zu bytes, expected %zu)", mode,
                    r.out_len, out_len);
        return;
      }
    }
  }
}

TEST(framing_messages_76) {
  static const uint8_t s[] = {0x00, 'h',  'i',  0xFF, /* "hi" */
                              0x00, 0xFF,             /* "" */
                              0x00, 0xC3, 0xA9, 0xE2, 0x82,
                              0xAC, 0xF0, 0x9F, 0x98, 0x80,
                              0xFF, 0x00, 'a',  'b',  'c',
                              'd',  'e',  'f',  'g',  'h',
                              'i',  'j',  0xFF, 0xFF, 0x00 /* closing frame */,
                              0x00, 'x',  0xFF /* after close: ignored */};
  check_stream(1, s, sizeof s, 0,
               "connect;open;msg:1:hi;msg:1:;"
               "msg:1:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80;"
               "msg:1:abcdefghij;close:1000:1;",
               "\xff\x00", 2);
}

TEST(length_prefixed_frames_skipped) {
  uint8_t s[300];
  size_t n = 0;
  /* 0x80, length 3: discarded. */
  s[n++] = 0x80;
  s[n++] = 0x03;
  s[n++] = 0x00; /* bytes that would look like frames if not skipped */
  s[n++] = 0xFF;
  s[n++] = 'z';
  /* 0x81, length 130 in two groups (1*128 + 2), all 0xFF. */
  s[n++] = 0x81;
  s[n++] = 0x81;
  s[n++] = 0x02;
  memset(s + n, 0xFF, 130);
  n += 130;
  /* 0xFE, length 0. */
  s[n++] = 0xFE;
  s[n++] = 0x00;
  /* A sentinel frame of another type (0x05): discarded. */
  s[n++] = 0x05;
  s[n++] = 'n';
  s[n++] = 0xFF;
  s[n++] = 0x00;
  s[n++] = 'o';
  s[n++] = 'k';
  s[n++] = 0xFF;
  check_stream(1, s, n, 0, "connect;open;msg:1:ok;", "", 0);
  /* -75: 0xFF 0x00 is only an empty length-prefixed frame. */
  memcpy(s + n, "\xff\x00\x00more\xff", 8);
  check_stream(0, s, n + 8, 0, "connect;open;msg:1:ok;msg:1:more;", "", 0);
}

/* 0xFF with length 0 spelled in two groups is still the closing frame. */
TEST(closing_frame_long_form_76) {
  static const uint8_t s[] = {0xFF, 0x80, 0x00};
  check_stream(1, s, sizeof s, 0, "connect;open;close:1000:1;", "\xff\x00", 2);
}

TEST(invalid_utf8_fails) {
  /* Fails at the bad byte, before the frame ends (fail fast). */
  static const uint8_t a[] = {0x00, 'o', 'k', 0xC0, 0xAF};
  check_stream(1, a, sizeof a, 0, "connect;open;error:-1051;close:1007:0;",
               "\xff\x00", 2);
  /* A frame that ends inside a character. */
  static const uint8_t b[] = {0x00, 0xE2, 0x82, 0xFF};
  check_stream(1, b, sizeof b, 0, "connect;open;error:-1051;close:1007:0;",
               "\xff\x00", 2);
  /* Surrogate; -75 has no closing frame to send. */
  static const uint8_t c[] = {0x00, 0xED, 0xA0, 0x80, 0xFF};
  check_stream(0, c, sizeof c, 0, "connect;open;error:-1051;close:1007:0;", "",
               0);
}

TEST(max_length_76) {
  /* Exactly max_length passes. */
  static const uint8_t a[] = {0x00, '0', '1', '2', '3', '4',
                              '5',  '6', '7', '8', '9', 0xFF};
  check_stream(1, a, sizeof a, 10, "connect;open;msg:1:0123456789;", "", 0);
  /* An endless frame is stopped at the limit, not at its (absent) end. */
  uint8_t e[400];
  e[0] = 0x00;
  memset(e + 1, 'a', sizeof e - 1);
  check_stream(1, e, sizeof e, 10, "connect;open;error:-1052;close:1009:0;",
               "\xff\x00", 2);
  /* Invalid UTF-8 before the limit wins over the limit, at every split. */
  e[0] = 0x00;
  e[5] = 0xF6;
  check_stream(1, e, sizeof e, 10, "connect;open;error:-1051;close:1007:0;",
               "\xff\x00", 2);
  e[5] = 'a';
  /* The same for a discarded sentinel frame. */
  e[0] = 0x01;
  check_stream(1, e, sizeof e, 10, "connect;open;error:-1052;close:1009:0;",
               "\xff\x00", 2);
  /* A length-prefixed frame announcing more than max_length. */
  static const uint8_t l[] = {0x80, 0x0B};
  check_stream(1, l, sizeof l, 10, "connect;open;error:-1052;close:1009:0;",
               "\xff\x00", 2);
  /* A length that would overflow 64 bits is refused, not wrapped. */
  uint8_t o[40];
  o[0] = 0x80;
  memset(o + 1, 0xFF, sizeof o - 1);
  check_stream(1, o, sizeof o, 0, "connect;open;error:-1052;close:1009:0;",
               "\xff\x00", 2);
}

TEST(endless_frame_stops_once) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 100);
  REQUIRE(d);
  feed_str(d, req76);
  feed_str(d, KEY3_A);
  uint8_t z = 0x00;
  CHECK_INT(feed(d, &z, 1), WSX_OK);
  int rc = WSX_OK;
  size_t i;
  for (i = 0; i < 1000 && rc == WSX_OK; i++)
    rc = feed(d, "y", 1);
  CHECK_INT(i, 101); /* byte 101 of the text crosses the limit */
  CHECK_INT(rc, WSX_E_MESSAGE_TOO_BIG);
  CHECK(feed(d, "y", 1) < 0);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.closes, 1);
  wsx_driver_free(d);
}

/* ------------------------------------------------------- send, close */

TEST(send_and_close_76) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  feed_str(d, req76);
  feed_str(d, KEY3_A);
  size_t base = r.out_len;
  CHECK_INT(wsx_driver_send_text(d, "hi", 2), WSX_OK);
  CHECK_INT(wsx_driver_send_text(d, "", 0), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(d, "b", 1), WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_driver_ping(d, NULL, 0, NULL, NULL), WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_driver_pong(d, NULL, 0), WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_driver_send_frame(d, WSX_OP_TEXT, 1, "x", 1),
            WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_driver_close(d, 1000, NULL), WSX_OK);
  CHECK_MEM(r.out + base, r.out_len - base, "\x00hi\xff\x00\xff\xff\x00", 8);
  CHECK_STR(r.log, "connect;open;close:1000:1;");
  CHECK_INT(wsx_driver_ready_state(d), WSX_CLOSED);
  CHECK_INT(wsx_driver_send_text(d, "late", 4), WSX_E_CLOSED);
  /* The peer's answering 0xFF 0x00 is ignored. */
  feed(d, "\xff\x00", 2);
  CHECK_INT(r.closes, 1);
  wsx_driver_free(d);
}

TEST(close_75_has_no_frame) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  feed_str(d, req75);
  size_t base = r.out_len;
  CHECK_INT(wsx_driver_send_text(d, "\xe2\x82\xac", 3), WSX_OK);
  CHECK_INT(wsx_driver_close(d, 0, NULL), WSX_OK);
  CHECK_MEM(r.out + base, r.out_len - base, "\x00\xe2\x82\xac\xff", 5);
  CHECK_STR(r.log, "connect;open;close:1000:1;");
  wsx_driver_free(d);
}

/* A close from inside `message`: the rest of the read is not delivered. */
TEST(close_from_message_callback) {
  rec r;
  wsx_driver *d = server(&r, 1, 0, 0);
  REQUIRE(d);
  r.close_on_message = 1;
  feed_str(d, req76);
  feed_str(d, KEY3_A);
  size_t base = r.out_len;
  CHECK_INT(feed(d, "\x00one\xff\x00two\xff", 10), WSX_OK);
  CHECK_STR(r.log, "connect;open;msg:1:one;close:1000:1;");
  CHECK_MEM(r.out + base, r.out_len - base, "\xff\x00", 2);
  wsx_driver_free(d);
}

/* Frame mode delivers each draft message as one final text frame. */
static int frames_seen;
static void on_frame(wsx_driver *d, const wsx_message *m, void *ud) {
  (void)d;
  (void)ud;
  if (m->opcode == WSX_OP_TEXT && m->fin && m->len == 2 &&
      memcmp(m->data, "hi", 2) == 0)
    frames_seen++;
}

TEST(frame_events_mode) {
  wsx_driver_callbacks c = cbs;
  c.frame = on_frame;
  rec r;
  memset(&r, 0, sizeof r);
  r.start_on_connect = 1;
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allow_drafts = 1;
  o.frame_events = 1;
  wsx_driver *d = wsx_driver_new_server(&o, &c, &r);
  REQUIRE(d);
  frames_seen = 0;
  feed_str(d, req75);
  feed(d, "\x00hi\xff\x00h", 6);
  feed(d, "i\xff", 2);
  CHECK_INT(frames_seen, 2);
  CHECK_STR(r.log, "connect;open;");
  wsx_driver_free(d);
}

TEST_MAIN(RUN(challenge_example_76); RUN(challenge_intro_example_76);
          RUN(handshake_75); RUN(malformed_keys_76); RUN(key_limits_76);
          RUN(drafts_off_by_default); RUN(bad_draft_requests);
          RUN(delayed_body_queues_messages); RUN(delayed_body_server_request);
          RUN(close_while_waiting_for_body); RUN(framing_messages_76);
          RUN(length_prefixed_frames_skipped); RUN(closing_frame_long_form_76);
          RUN(invalid_utf8_fails); RUN(max_length_76);
          RUN(endless_frame_stops_once); RUN(send_and_close_76);
          RUN(close_75_has_no_frame); RUN(close_from_message_callback);
          RUN(frame_events_mode))
