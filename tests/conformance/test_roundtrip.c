/*
 * Conformance 1.x/9.x-style echo traffic between our own client and server
 * in memory: randomised sequences of text (multi-byte UTF-8), binary,
 * pings, pongs and hand-fragmented messages, with and without automatic
 * outgoing fragmentation, pumped at random split points. Everything sent
 * must arrive once, intact and in order (RFC 6455 5.4: "fragments of one
 * message MUST NOT be interleaved", 5.5.2: every ping is answered), and
 * the closing handshake must leave both sides clean with nothing leaked.
 */
#include "harness.h"

/* Keeps only the "message:..." entries of an event log. */
static void messages_only(const char *log, hb *out) {
  const char *p = log;
  while (*p) {
    const char *e = strchr(p, ';');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 8 && strncmp(p, "message:", 8) == 0) {
      if (out->len)
        hb_str(out, ";");
      hb_put(out, p, n);
    }
    p += n;
    if (*p == ';')
      p++;
  }
  hb_cstr(out);
}

/* Random valid UTF-8 text of about n bytes (1- to 4-byte characters). */
static size_t random_text(uint64_t *st, uint8_t *buf, size_t n) {
  static const char *const chars[] = {"a",
                                      "Z",
                                      " ",
                                      "\xc2\xb5",
                                      "\xce\xba",
                                      "\xe2\x82\xac",
                                      "\xef\xbf\xbd",
                                      "\xf0\x9f\x98\x80",
                                      "\xf4\x8f\xbf\xbf"};
  size_t len = 0;
  while (len < n) {
    const char *c = chars[test_rand_(st) % 9];
    size_t cl = strlen(c);
    if (len + cl > n)
      break;
    memcpy(buf + len, c, cl);
    len += cl;
  }
  return len;
}

typedef struct side {
  hrec *r;
  hb expect; /* messages the PEER must receive from this side */
  int pings, pongs;
} side;

static void one_op(uint64_t *st, side *from) {
  uint8_t buf[3000];
  unsigned op = (unsigned)(test_rand_(st) % 6);
  size_t n = (size_t)(test_rand_(st) % (test_rand_(st) % 4 == 0 ? 3000 : 40));
  wsx_driver *d = from->r->d;
  if (op == 0) {
    size_t len = random_text(st, buf, n);
    CHECK_INT(wsx_driver_send_text(d, (const char *)buf, len), WSX_OK);
    h_expect_msg(&from->expect, "message:text", buf, len);
  } else if (op == 1) {
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)test_rand_(st);
    CHECK_INT(wsx_driver_send_binary(d, buf, n), WSX_OK);
    h_expect_msg(&from->expect, "message:binary", buf, n);
  } else if (op == 2) {
    size_t len = n % 126;
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)test_rand_(st);
    CHECK_INT(wsx_driver_ping(d, buf, len, NULL, NULL), WSX_OK);
    from->pings++;
  } else if (op == 3) {
    CHECK_INT(wsx_driver_pong(d, "beat", 4), WSX_OK);
    from->pongs++;
  } else {
    /* A hand-fragmented text message, split inside characters, with a
     * ping between fragments now and then. */
    size_t len = random_text(st, buf, n);
    size_t off = 0;
    int first = 1;
    do {
      size_t k = 1 + (size_t)(test_rand_(st) % 7);
      if (k > len - off)
        k = len - off;
      int fin = off + k == len;
      CHECK_INT(wsx_driver_send_frame(d,
                                      first ? WSX_OP_TEXT : WSX_OP_CONTINUATION,
                                      fin, buf + off, k),
                WSX_OK);
      first = 0;
      off += k;
      if (!fin && test_rand_(st) % 3 == 0) {
        CHECK_INT(wsx_driver_ping(d, "mid", 3, NULL, NULL), WSX_OK);
        from->pings++;
      }
    } while (off < len);
    h_expect_msg(&from->expect, "message:text", buf, len);
  }
}

static void roundtrip(uint64_t seed) {
  uint64_t st = seed * 7919 + 1;
  hcount c;
  memset(&c, 0, sizeof c);
  wsx_allocator a = hcount_allocator(&c);
  wsx_driver_options co, so;
  co = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  so = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  co.allocator = so.allocator = &a;
  if (seed & 1) {
    co.fragment_outgoing_messages = 1;
    co.fragmentation_threshold = (uint32_t)(1 + test_rand_(&st) % 300);
  }
  if (seed & 2) {
    so.fragment_outgoing_messages = 1;
    so.fragmentation_threshold = (uint32_t)(1 + test_rand_(&st) % 300);
  }
  hpair p;
  REQUIRE(h_pair_open(&p, &co, &so));
  side cs = {&p.c, {0}, 0, 0}, ss = {&p.s, {0}, 0, 0};
  for (int i = 0; i < 150; i++) {
    one_op(&st, test_rand_(&st) % 2 ? &cs : &ss);
    if (test_rand_(&st) % 5 == 0)
      h_pump(&p, H_RANDOM, test_rand_(&st));
  }
  h_pump(&p, H_RANDOM, seed);
  hb got_s = {0}, got_c = {0};
  messages_only(hb_cstr(&p.s.log), &got_s);
  messages_only(hb_cstr(&p.c.log), &got_c);
  CHECK_STR(hb_cstr(&got_s), hb_cstr(&cs.expect));
  CHECK_STR(hb_cstr(&got_c), hb_cstr(&ss.expect));
  CHECK_INT(p.s.n_ping, cs.pings);
  CHECK_INT(p.c.n_ping, ss.pings);
  /* Every ping answered, plus the unsolicited pongs. */
  CHECK_INT(p.c.n_pong, cs.pings + ss.pongs);
  CHECK_INT(p.s.n_pong, ss.pings + cs.pongs);
  CHECK_INT(p.c.n_error + p.s.n_error, 0);
  CHECK_INT(wsx_driver_close(seed & 4 ? p.c.d : p.s.d, 1000, "done"), WSX_OK);
  h_pump(&p, H_RANDOM, seed + 1);
  CHECK_INT(p.c.n_close, 1);
  CHECK_INT(p.s.n_close, 1);
  CHECK(p.c.close_clean && p.s.close_clean);
  hout o;
  h_out_decode(&p.c, &o);
  CHECK_INT(o.bad_mask + o.nonminimal + o.truncated, 0);
  h_out_free(&o);
  h_out_decode(&p.s, &o);
  CHECK_INT(o.bad_mask + o.nonminimal + o.truncated, 0);
  h_out_free(&o);
  h_pair_free(&p);
  CHECK_INT(c.cur, 0);
  hb_free(&got_s);
  hb_free(&got_c);
  hb_free(&cs.expect);
  hb_free(&ss.expect);
}

/* 16 seeds: every combination of outgoing fragmentation on either side
 * and of which side closes, four times. */
TEST(rfc6455_random_echo_traffic_roundtrips) {
  for (uint64_t seed = 0; seed < 16; seed++) {
    int before = test_cur_failed_;
    roundtrip(seed);
    if (test_cur_failed_ && !before)
      printf("  (seed %llu)\n", (unsigned long long)seed);
  }
}

TEST_MAIN(RUN(rfc6455_random_echo_traffic_roundtrips))
