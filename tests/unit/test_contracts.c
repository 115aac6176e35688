/*
 * The driver's documented contracts (wsx/driver.h, wsx/common.h):
 *  - after every error return, wsx_is_fatal(rc) == (the driver is CLOSED);
 *  - a failing write callback fails the driver (WSX_E_IO, error, close);
 *  (re-entry, every call from every callback: test_reentry.c);
 *  - outstanding ping callbacks are capped;
 *  - the random callback feeds masks and the client key;
 *  - wsx__driver_input_unbuffered (driver/embed.h, the transport budget's
 *    fast path) says "no buffer" only where the parser will use none.
 */
#include "../conformance/harness.h"
#include "fatal_rule.h"
#include "driver/driver_int.h"
#include "driver/embed.h"
#include "wsx/extension.h"

/* ---- the fatal rule ---------------------------------------------------- */

#define PMD_REQUEST                                                            \
  "GET /chat HTTP/1.1\r\n"                                                     \
  "Host: server.example.com\r\n"                                               \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Key: " H_KEY "\r\n"                                           \
  "Sec-WebSocket-Version: 13\r\n"                                              \
  "Sec-WebSocket-Extensions: permessage-deflate\r\n"                           \
  "\r\n"

/* A server driver with permessage-deflate, opened by PMD_REQUEST. */
static int pmd_server(hrec *r, wsx_extension *ext, const wsx_driver_options *o) {
  memset(r, 0, sizeof *r);
  r->role = H_SERVER;
  r->auto_start = 0;
  r->d = wsx_driver_new_server(o, &h_default_cbs, r);
  if (!r->d)
    return 0;
  RULE(r->d, wsx_driver_add_extension(r->d, ext));
  RULE(r->d, parse_copy(r->d, (const uint8_t *)PMD_REQUEST,
                        strlen(PMD_REQUEST)));
  RULE(r->d, wsx_driver_start(r->d));
  return 1;
}

/* The case: a corrupt permessage-deflate frame. Today's code
 * returned WSX_E_EXTENSION, which wsx_is_fatal() called non-fatal, on a
 * CLOSED driver. And every bad input of a table, each on a fresh driver. */
TEST(fatal_rule_on_bad_input) {
  wsx_extension *ext = wsx_deflate_new(NULL);
  REQUIRE(ext);
  static const uint8_t reserved_block[] = {0xff, 0xff, 0xff};
  hrec r;
  REQUIRE(pmd_server(&r, ext, NULL));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  hb in = {0};
  h_frame(&in, 0xc1, 1, reserved_block, sizeof reserved_block);
  int rc = parse_copy(r.d, in.p, in.len);
  CHECK_INT(rc, WSX_E_EXTENSION);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK(wsx_is_fatal(rc));
  RULE(r.d, parse_copy(r.d, in.p, in.len)); /* sticky */
  CHECK_INT(parse_copy(r.d, in.p, in.len), WSX_E_EXTENSION);
  RULE(r.d, wsx_driver_send_text(r.d, "x", 1));
  hb_free(&in);
  h_rec_free(&r);

  /* Protocol errors of every kind, each through the rule. */
  for (int k = 0; k < 7; k++) {
    wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
    o.max_length = 100;
    REQUIRE(h_open(&r, H_SERVER, &o));
    hb f = {0};
    switch (k) {
    case 0:
      h_frame_str(&f, H_FIN | 0x3, 1, "x");
      break;
    case 1:
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, 0, "unmasked");
      break;
    case 2:
      h_close_frame(&f, 1, 1015, NULL, 0);
      break;
    case 3:
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "\xc3\x28");
      break;
    case 4:
      h_frame_str(&f, WSX_OP_PING, 1, "frag");
      break;
    case 5: {
      uint8_t big[200];
      memset(big, 'a', sizeof big);
      h_frame(&f, H_FIN | WSX_OP_BINARY, 1, big, sizeof big);
      break;
    }
    default:
      h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, 1, "orphan");
      break;
    }
    RULE(r.d, parse_copy(r.d, f.p, f.len));
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    RULE(r.d, wsx_driver_send_binary(r.d, "x", 1));
    RULE(r.d, wsx_driver_ping(r.d, "x", 1, NULL, NULL));
    RULE(r.d, wsx_driver_start(r.d));
    hb_free(&f);
    h_rec_free(&r);
  }

  /* Refused on the send side: non-fatal, the driver stays open. */
  REQUIRE(h_open(&r, H_SERVER, NULL));
  RULE(r.d, wsx_driver_send_text(r.d, "\xc3", 1));
  RULE(r.d, wsx_driver_ping(r.d, NULL, 0, NULL, NULL));
  uint8_t big[126] = {0};
  RULE(r.d, wsx_driver_pong(r.d, big, sizeof big));
  RULE(r.d, wsx_driver_send_frame(r.d, 0x3, 1, "x", 1));
  RULE(r.d, wsx_driver_close(r.d, 1005, NULL));
  RULE(r.d, wsx_driver_start(r.d));
  RULE(r.d, wsx_driver_set_header(r.d, "X", "y"));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  h_rec_free(&r);

  /* Start refused (server: a bad request) is fatal and closes. */
  wsx_http_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.method_len = 3;
  req.target = "/";
  req.target_len = 1;
  req.minor_version = 1;
  wsx_driver *d = wsx_driver_new_server_request(&req, NULL, &h_default_cbs, &r);
  memset(&r, 0, sizeof r);
  REQUIRE(d);
  RULE(d, wsx_driver_start(d));
  CHECK_INT(wsx_driver_ready_state(d), WSX_CLOSED);
  wsx_driver_free(d);
  hb_free(&r.log);
  hb_free(&r.out);
  hb_free(&r.msg);
  wsx_deflate_free(ext);
}

/* Failmalloc over a whole session (deflate server: head, compressed and
 * plain messages, fragments, ping, sends, close), with the rule checked
 * after every call, for every failing allocation. Today's code returned
 * WSX_E_NOMEM (non-fatal) from parse on a CLOSED driver. */
static void oom_session(hcount *c, wsx_extension *ext) {
  wsx_allocator a = hcount_allocator(c);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allocator = &a;
  hrec r;
  if (!pmd_server(&r, ext, &o)) {
    h_rec_free(&r);
    return;
  }
  /* "Hello" compressed (RFC 7692 7.2.3.1), plain fragments, a ping. */
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  hb in = {0};
  h_frame(&in, 0xc1, 1, hello, sizeof hello);
  h_frame_str(&in, WSX_OP_TEXT, 1, "frag");
  h_frame_str(&in, H_FIN | WSX_OP_CONTINUATION, 1, "ment");
  h_frame_str(&in, H_FIN | WSX_OP_PING, 1, "p");
  uint8_t blob[3000];
  h_pattern(blob, sizeof blob, 7);
  h_frame(&in, H_FIN | WSX_OP_BINARY, 1, blob, sizeof blob);
  for (size_t i = 0; i < in.len; i += 5)
    RULE(r.d, parse_copy(r.d, in.p + i, in.len - i < 5 ? in.len - i : 5));
  RULE(r.d, wsx_driver_send_text(r.d, "compressed reply", 16));
  RULE(r.d, wsx_driver_send(r.d, WSX_OP_BINARY, blob, sizeof blob,
                            WSX_SEND_UNCOMPRESSED));
  RULE(r.d, wsx_driver_ping(r.d, "q", 1, h_ping_cb, &r));
  RULE(r.d, wsx_driver_close(r.d, 1000, "bye"));
  hb cl = {0};
  h_close_frame(&cl, 1, 1000, NULL, 0);
  RULE(r.d, parse_copy(r.d, cl.p, cl.len));
  hb_free(&cl);
  hb_free(&in);
  h_rec_free(&r);
}

TEST(fatal_rule_under_failmalloc) {
  wsx_extension *ext = wsx_deflate_new(NULL);
  REQUIRE(ext);
  hcount c;
  memset(&c, 0, sizeof c);
  oom_session(&c, ext);
  size_t total = c.calls;
  REQUIRE(total > 5);
  for (size_t n = 1; n <= total + 1; n++) {
    memset(&c, 0, sizeof c);
    c.fail_at = n;
    oom_session(&c, ext);
    if (test_cur_failed_) {
      printf("  (failing allocation %zu of %zu)\n", n, total);
      break;
    }
    CHECK_INT(c.cur, 0);
  }
  wsx_deflate_free(ext);
}

/* ---- write failure ----------------------------------------------------- */

/* driver.h: a non-zero return from `write` fails the driver: WSX_E_IO,
 * error event then close event, CLOSED, later sends fail. Today the driver
 * stayed OPEN and the next send succeeded. */
TEST(write_failure_fails_the_driver) {
  H_EACH_ROLE(role) {
    hrec r;
    REQUIRE(h_open(&r, role, NULL));
    r.log.len = 0;
    r.fail_writes = 1;
    CHECK_INT(wsx_driver_send_text(r.d, "x", 1), WSX_E_IO);
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    CHECK_STR(hb_cstr(&r.log), "error:io:0;close:1006:unclean");
    r.fail_writes = 0;
    size_t before = r.out.len;
    CHECK_INT(wsx_driver_send_text(r.d, "y", 1), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_ping(r.d, "p", 1, NULL, NULL), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_close(r.d, 1000, NULL), WSX_E_CLOSED);
    CHECK_INT(r.out.len, before);
    const char *m = NULL;
    CHECK_INT(wsx_driver_last_error(r.d, &m), WSX_E_IO);
    CHECK(m && strstr(m, "write") != NULL);
    /* Input after the failure: the sticky code. */
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "late");
    CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_E_IO);
    CHECK_INT(r.n_message, 0);
    CHECK_INT(r.n_close, 1);
    hb_free(&f);
    h_rec_free(&r);
  }

  /* A write failing during parse (the automatic pong): parse returns it. */
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  r.log.len = 0;
  r.fail_writes = 1;
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_PING, 1, "p");
  h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "after");
  CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_E_IO);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_STR(hb_cstr(&r.log), "error:io:0;close:1006:unclean");
  hb_free(&f);
  h_rec_free(&r);

  /* Client start: the handshake write fails. */
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  r.fail_writes = 1;
  CHECK_INT(wsx_driver_start(r.d), WSX_E_IO);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.n_close, 1);
  h_rec_free(&r);
}

/* ---- ping callbacks ---------------------------------------------------- */

/* Each ping with a callback used to grow a table by one realloc, without
 * bound, when no pong came. */
TEST(ping_callbacks_capped) {
  hcount c;
  memset(&c, 0, sizeof c);
  wsx_allocator a = hcount_allocator(&c);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allocator = &a;
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, &o));
  size_t calls0 = c.calls;
  char p[8];
  for (int i = 0; i < WSX_MAX_PING_CALLBACKS; i++) {
    int n = snprintf(p, sizeof p, "%d", i);
    CHECK_INT(wsx_driver_ping(r.d, p, (size_t)n, h_ping_cb, &r), WSX_OK);
  }
  /* Grown by doubling: a handful of reallocs, not one per ping. */
  CHECK(c.calls - calls0 <= 6);
  size_t out = r.out.len;
  CHECK_INT(wsx_driver_ping(r.d, "x", 1, h_ping_cb, &r), WSX_E_BUSY);
  CHECK_INT(r.out.len, out); /* nothing sent */
  CHECK(!wsx_is_fatal(WSX_E_BUSY));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  CHECK_INT(wsx_driver_ping(r.d, "x", 1, NULL, NULL), WSX_OK);
  /* A pong frees a slot. */
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_PONG, 1, "0");
  CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_OK);
  CHECK_INT(r.n_ping_cb, 1);
  CHECK_INT(wsx_driver_ping(r.d, "y", 1, h_ping_cb, &r), WSX_OK);
  CHECK_INT(wsx_driver_ping(r.d, "z", 1, h_ping_cb, &r), WSX_E_BUSY);
  hb_free(&f);
  h_rec_free(&r);
  CHECK_INT(c.cur, 0);
}

/* ---- random source ----------------------------------------------------- */

static int rnd_calls;
static int fixed_random(void *buf, size_t len, void *ud) {
  (void)ud;
  rnd_calls++;
  memset(buf, 0x5a, len);
  return 0;
}
static int failing_random(void *buf, size_t len, void *ud) {
  (void)buf;
  (void)len;
  (void)ud;
  return -1;
}

TEST(random_callback_feeds_key_and_masks) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.random = fixed_random;
  hrec r;
  REQUIRE(h_client_new(&r, NULL, &o, NULL));
  rnd_calls = 0;
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_INT(rnd_calls, 1);
  char key[64];
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Key", key, sizeof key));
  CHECK_STR(key, "WlpaWlpaWlpaWlpaWlpaWg=="); /* 16 bytes of 0x5a */
  hb resp = {0};
  h_server_response(&r, NULL, &resp);
  CHECK_INT(parse_copy(r.d, resp.p, resp.len), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  size_t before = r.out.len;
  CHECK_INT(wsx_driver_send_text(r.d, "hi", 2), WSX_OK);
  CHECK_INT(r.out.len - before, 8);
  static const uint8_t want[] = {0x81, 0x82, 0x5a, 0x5a,
                                 0x5a, 0x5a, 'h' ^ 0x5a, 'i' ^ 0x5a};
  CHECK_MEM(r.out.p + before, 8, want, 8);
  hb_free(&resp);
  h_rec_free(&r);

  /* A failing source fails the driver (fatal, closed). */
  o.random = failing_random;
  REQUIRE(h_client_new(&r, NULL, &o, NULL));
  int rc = wsx_driver_start(r.d);
  CHECK_INT(rc, WSX_E_INTERNAL);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.out.len, 0);
  h_rec_free(&r);
}

/* The default source: the one this build was configured for (the
 * portable build of run-tests.sh forces /dev/urandom and sets
 * WSX_RANDOM_EXPECT), and it gives bytes. */
TEST(default_random_source) {
  const char *want = getenv("WSX_RANDOM_EXPECT");
  if (want && *want)
    CHECK_STR(wsx__random_source(), want);
  uint8_t a[64], b[300];
  memset(a, 0, sizeof a);
  CHECK_INT(wsx__random(a, sizeof a), 0);
  CHECK_INT(wsx__random(b, sizeof b), 0); /* past the pool */
  int nonzero = 0;
  for (size_t i = 0; i < sizeof a; i++)
    nonzero += a[i] != 0;
  CHECK(nonzero > 32);
}

/* wsx__driver_input_unbuffered (driver/embed.h): the budget's fast path
 * says "no buffer" only for input of whole one-frame messages and control
 * frames read between messages; anything a message buffer may hold (a
 * frame not whole in the input, a fragment, a frame while another's
 * payload is being read) takes the slow path. */
TEST(input_unbuffered_peek) {
  hpair p;
  uint8_t big[3000], *w;
  size_t n, m;
  memset(big, 'x', sizeof(big));
  REQUIRE(h_pair_open(&p, NULL, NULL));
  wsx_driver *d = p.s.d;
  /* two whole messages and a ping, then the first byte of a header */
  size_t from = p.c.out.len;
  CHECK_INT(wsx_driver_send_binary(p.c.d, big, sizeof(big)), WSX_OK);
  CHECK_INT(wsx_driver_send_text(p.c.d, "hi", 2), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.c.d, "p", 1, NULL, NULL), WSX_OK);
  w = p.c.out.p + from;
  n = p.c.out.len - from;
  CHECK_INT(wsx__driver_input_unbuffered(d, w, n), 1);
  CHECK_INT(wsx__driver_input_unbuffered(d, w, 1), 1);  /* split header */
  CHECK_INT(wsx__driver_input_unbuffered(d, w, 8), 0); /* header, no payload */
  CHECK_INT(wsx__driver_input_unbuffered(d, w, 9), 0); /* + some payload */
  CHECK_INT(wsx__driver_input_unbuffered(d, w, n - 1), 1); /* ping split */
  CHECK_INT(wsx__driver_input_unbuffered(d, w, 0), 1);
  /* in the payload of a frame: its bytes go to the message buffer */
  CHECK_INT(wsx_driver_parse(d, w, 100), WSX_OK);
  CHECK_INT(wsx__driver_input_unbuffered(d, w + 100, n - 100), 0);
  CHECK_INT(wsx_driver_parse(d, w + 100, n - 100), WSX_OK);
  CHECK_INT(p.s.n_message, 2);
  /* a fragment, and the rest of a fragmented message */
  from = p.c.out.len;
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_BINARY, 0, big, 10), WSX_OK);
  m = p.c.out.len - from;
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_CONTINUATION, 1, big, 10),
            WSX_OK);
  w = p.c.out.p + from;
  CHECK_INT(wsx__driver_input_unbuffered(d, w, m), 0);
  CHECK_INT(wsx_driver_parse(d, w, m), WSX_OK);
  CHECK_INT(wsx__driver_input_unbuffered(d, w + m, p.c.out.len - from - m), 0);
  CHECK_INT(wsx_driver_parse(d, w + m, p.c.out.len - from - m), WSX_OK);
  CHECK_INT(p.s.n_message, 3);
  p.c.delivered = p.c.out.len; /* fed by hand above */
  h_pair_free(&p);
}

TEST(rule_was_checked) { CHECK(rule_checks > 100); }

TEST_MAIN(RUN(input_unbuffered_peek); RUN(fatal_rule_on_bad_input);
          RUN(fatal_rule_under_failmalloc);
          RUN(write_failure_fails_the_driver); RUN(ping_callbacks_capped);
          RUN(random_callback_feeds_key_and_masks);
          RUN(default_random_source); RUN(rule_was_checked))
