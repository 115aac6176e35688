/*
 * Conformance 6.x-style: UTF-8 in text messages and close reasons.
 * RFC 6455 5.6: text payload is UTF-8; 8.1: "When an endpoint is to
 * interpret a byte stream as UTF-8 but finds that the byte stream is not,
 * in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
 * Connection_" (7.4.1: 1007). Validity per RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF.
 */
#include "harness.h"

typedef struct u8case {
  const char *name;
  const char *s;
  size_t len;
  int valid;
  /* Invalid cases only: 1 if a prefix of the bytes is already invalid (so
   * a fail-fast validator rejects it before the frame is complete); 0 if
   * only the end of the message makes it invalid (truncated sequence). */
  int early;
} u8case;

#define V(name, lit)                                                           \
  { name, lit, sizeof(lit) - 1, 1, 0 }
#define X(name, lit)                                                           \
  { name, lit, sizeof(lit) - 1, 0, 1 }
#define XT(name, lit)                                                          \
  { name, lit, sizeof(lit) - 1, 0, 0 }

static const u8case cases[] = {
    V("empty", ""),
    V("ascii", "Hello-@-UTF-8!!"),
    V("latin",
      "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1"),
    V("kosme (6.2)", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    V("U+0000", "\x00"),
    V("U+007F", "\x7f"),
    V("U+0080 first 2-byte", "\xc2\x80"),
    V("U+07FF last 2-byte", "\xdf\xbf"),
    V("U+0800 first 3-byte", "\xe0\xa0\x80"),
    V("U+D7FF before surrogates", "\xed\x9f\xbf"),
    V("U+E000 after surrogates", "\xee\x80\x80"),
    V("U+FFFD", "\xef\xbf\xbd"),
    V("U+FFFE noncharacter", "\xef\xbf\xbe"),
    V("U+FFFF noncharacter", "\xef\xbf\xbf"),
    V("U+10000 first 4-byte", "\xf0\x90\x80\x80"),
    V("U+1F600", "\xf0\x9f\x98\x80"),
    V("U+10FFFF last", "\xf4\x8f\xbf\xbf"),
    X("lone continuation 80", "\x80"),
    X("lone continuation bf", "\xbf"),
    X("continuations 80 bf 80 bf", "\x80\xbf\x80\xbf"),
    X("text then continuation", "abc\x80"),
    X("overlong NUL c0 80", "\xc0\x80"),
    X("overlong c1 bf", "\xc1\xbf"),
    X("overlong 3-byte e0 80 80", "\xe0\x80\x80"),
    X("overlong 3-byte e0 9f bf", "\xe0\x9f\xbf"),
    X("overlong 4-byte f0 80 80 80", "\xf0\x80\x80\x80"),
    X("overlong 4-byte f0 8f bf bf", "\xf0\x8f\xbf\xbf"),
    X("surrogate U+D800", "\xed\xa0\x80"),
    X("surrogate U+DBFF", "\xed\xaf\xbf"),
    X("surrogate U+DC00", "\xed\xb0\x80"),
    X("surrogate U+DFFF", "\xed\xbf\xbf"),
    X("surrogate pair", "\xed\xa0\x80\xed\xb0\x80"),
    X("U+110000", "\xf4\x90\x80\x80"),
    X("f5 lead", "\xf5\x80\x80\x80"),
    X("5-byte f8", "\xf8\x88\x80\x80\x80"),
    X("6-byte fc", "\xfc\x84\x80\x80\x80\x80"),
    X("fe", "\xfe"),
    X("ff", "\xff"),
    X("2-byte lead then ascii", "\xc2\x41"),
    X("3-byte lead, cont, ascii", "\xe1\x80\x41"),
    X("4-byte lead, 2 conts, ascii", "\xf1\x80\x80\x41"),
    X("kosme + surrogate + edited (6.3.1)",
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
      "edited"),
    XT("truncated 2-byte", "\xc2"),
    XT("truncated 3-byte", "\xe0\xa0"),
    XT("truncated 4-byte", "\xf0\x90\x80"),
    XT("text then truncated", "Hello\xe2\x82"),
};
#define N_CASES (sizeof cases / sizeof cases[0])

static void expect_for(const u8case *c, hb *ev) {
  hb_str(ev, "open");
  if (c->valid)
    h_expect_msg(ev, "message:text", c->s, c->len);
}

static void check_stream(int role, const u8case *c, const hb *f) {
  if (c->valid) {
    hb ev = {0};
    expect_for(c, &ev);
    h_check(role, NULL, f->p, f->len, H_ALL, hb_cstr(&ev), "");
    hb_free(&ev);
  } else {
    h_check_fail(role, NULL, f->p, f->len, H_ALL, "open", WSX_E_UTF8, 1007,
                 NULL, "UTF-8");
  }
}

/* RFC 6455 8.1 / RFC 3629: each case in one text frame, both roles. */
TEST(rfc8_1_utf8_cases_single_frame) {
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < N_CASES; i++) {
      hb f = {0};
      h_frame(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), cases[i].s,
              cases[i].len);
      int failed_before = test_cur_failed_;
      check_stream(role, &cases[i], &f);
      if (test_cur_failed_ && !failed_before)
        printf("  (case \"%s\", %s)\n", cases[i].name,
               role == H_SERVER ? "server" : "client");
      hb_free(&f);
    }
  }
}

/* RFC 6455 5.4 + 8.1: the verdict does not depend on where the message is
 * fragmented: each case split into two fragments at every byte position,
 * and into one fragment per byte. */
TEST(rfc8_1_utf8_cases_fragmented_at_every_position) {
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < N_CASES; i++) {
      const u8case *c = &cases[i];
      int failed_before = test_cur_failed_;
      for (size_t k = 0; k <= c->len; k++) {
        hb f = {0};
        h_frame(&f, WSX_OP_TEXT, H_MASKED(role), c->s, k);
        h_frame(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), c->s + k,
                c->len - k);
        check_stream(role, c, &f);
        hb_free(&f);
      }
      if (c->len > 1) {
        hb f = {0};
        for (size_t k = 0; k < c->len; k++)
          h_frame(&f,
                  (k == 0 ? WSX_OP_TEXT : WSX_OP_CONTINUATION) |
                      (k == c->len - 1 ? H_FIN : 0),
                  H_MASKED(role), c->s + k, 1);
        check_stream(role, c, &f);
        hb_free(&f);
      }
      if (test_cur_failed_ && !failed_before)
        printf("  (case \"%s\", %s)\n", c->name,
               role == H_SERVER ? "server" : "client");
    }
  }
}

/* Fail fast (issue 2: "failing fast at the first invalid byte"): a frame
 * header announcing len+100 bytes followed only by the invalid bytes: the
 * 1007 close must already be written, the rest of the frame never came. */
TEST(rfc8_1_utf8_fails_fast_inside_incomplete_frame) {
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < N_CASES; i++) {
      const u8case *c = &cases[i];
      if (c->valid || !c->early)
        continue;
      size_t total = c->len + 100;
      uint8_t *pl = malloc(total);
      memcpy(pl, c->s, c->len);
      memset(pl + c->len, 'a', 100);
      hb f = {0};
      h_frame(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), pl, total);
      size_t hdr = f.len - total;
      for (int mode = H_WHOLE; mode <= H_BYTES; mode <<= 1) {
        hrec r;
        REQUIRE(h_open(&r, role, NULL));
        h_feed(&r, f.p, hdr + c->len, mode, 0, 0);
        hout o;
        h_out_decode(&r, &o);
        if (strcmp(hb_cstr(&o.log), "close:1007") != 0 ||
            strcmp(hb_cstr(&r.log),
                   "open;error:utf8:1007;close:1007:unclean") != 0)
          TEST_FAILF_("case \"%s\" (%s, %s): not failed after %zu of %zu "
                      "bytes: events \"%s\", output \"%s\"",
                      c->name, role == H_SERVER ? "server" : "client",
                      mode == H_WHOLE ? "whole" : "bytewise", c->len, total,
                      hb_cstr(&r.log), hb_cstr(&o.log));
        h_out_free(&o);
        h_rec_free(&r);
      }
      hb_free(&f);
      free(pl);
    }
  }
}

/* The brief's example: 100 bytes announced, 3 bytes (a surrogate) sent. */
TEST(rfc8_1_utf8_fail_fast_surrogate_after_3_of_100_bytes) {
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  uint8_t pl[100];
  memset(pl, 'x', sizeof pl);
  memcpy(pl, "\xed\xa0\x80", 3);
  hb f = {0};
  h_frame(&f, H_FIN | WSX_OP_TEXT, 1, pl, sizeof pl);
  h_feed(&r, f.p, f.len - 97, H_WHOLE, 0, 0);
  hout o;
  h_out_decode(&r, &o);
  CHECK_STR(hb_cstr(&o.log), "close:1007");
  CHECK_STR(hb_cstr(&r.log), "open;error:utf8:1007;close:1007:unclean");
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  h_out_free(&o);
  hb_free(&f);
  h_rec_free(&r);
}

/* Fail fast across fragments: an invalid first fragment fails before the
 * final fragment arrives, and a sequence broken across a fragment boundary
 * fails in the fragment that breaks it. */
TEST(rfc8_1_utf8_fail_fast_across_fragments) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "ok \xff");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_UTF8, 1007, NULL,
                 "UTF-8");
    f.len = 0;
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "ok \xf4");
    h_frame_str(&f, WSX_OP_CONTINUATION, H_MASKED(role), "\x90");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_UTF8, 1007, NULL,
                 "UTF-8");
    hb_free(&f);
  }
}

/* The validator carries state from one message to the next correctly: a
 * truncated sequence at the end of a message is an error even when the
 * next message would "complete" it. */
TEST(rfc8_1_utf8_state_does_not_leak_between_messages) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "\xc3");
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "\xa9");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_UTF8, 1007, NULL,
                 "UTF-8");
    /* Binary messages are not UTF-8 checked, and do not disturb text. */
    f.len = 0;
    h_frame_str(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), "\xff\xc3");
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "\xc3\xa9");
    hb ev = {0};
    hb_str(&ev, "open");
    h_expect_msg(&ev, "message:binary", "\xff\xc3", 2);
    h_expect_msg(&ev, "message:text", "\xc3\xa9", 2);
    h_check(role, NULL, f.p, f.len, H_ALL, hb_cstr(&ev), "");
    hb_free(&ev);
    hb_free(&f);
  }
}

/* RFC 6455 5.5.1: the close reason is UTF-8; invalid UTF-8 there is 1007
 * (Autobahn 7.5.1). A valid one is reported in the close event. */
TEST(rfc5_5_1_close_reason_utf8) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_close_frame(&f, H_MASKED(role), 1000,
                  "\xce\xba\xe1\xbd\xb9\xcf\x83\xce"
                  "\xbc\xce\xb5\xed\xa0\x80",
                  14);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_UTF8, 1007, NULL,
                 "UTF-8");
    f.len = 0;
    h_close_frame(&f, H_MASKED(role), 1000, "\xce\xba\xe1\xbd\xb9", 5);
    h_check(role, NULL, f.p, f.len, H_ALL, "open;close:1000:clean",
            "close:1000");
    hrec r;
    REQUIRE(h_run(&r, role, NULL, f.p, f.len, H_WHOLE, 0));
    CHECK_STR(r.close_reason, "\xce\xba\xe1\xbd\xb9");
    h_rec_free(&r);
    hb_free(&f);
  }
}

/* Sender side: send_text refuses invalid UTF-8 (WSX_E_INVALID: not the
 * fatal WSX_E_UTF8, the driver stays open) and writes nothing; close()
 * refuses an invalid reason. */
TEST(api_send_text_and_close_refuse_invalid_utf8) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  size_t before = r.out.len;
  CHECK_INT(wsx_driver_send_text(r.d, "\xed\xa0\x80", 3), WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_text(r.d, "\xc2", 1), WSX_E_INVALID);
  CHECK_INT(wsx_driver_close(r.d, 1000, "\xff"), WSX_E_INVALID);
  CHECK_INT(r.out.len, before);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  CHECK_INT(wsx_driver_send_text(r.d, "\xf4\x8f\xbf\xbf", 4), WSX_OK);
  h_rec_free(&r);
}

/* Reference validator written from RFC 3629 / Unicode Table 3-7 (the
 * well-formed byte sequences), independent of the driver's. Returns -1 if
 * s is complete valid UTF-8, -2 if it is a valid but unfinished prefix, or
 * the index of the first byte that no valid continuation could follow. */
static long ref_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    uint8_t lo = 0x80, hi = 0xBF; /* range of the 2nd byte */
    size_t need;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0)
        lo = 0xA0;
      if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0)
        lo = 0x90;
      if (c == 0xF4)
        hi = 0x8F;
    } else {
      return (long)i;
    }
    for (size_t k = 1; k <= need; k++) {
      if (i + k >= n)
        return -2;
      uint8_t b = s[i + k];
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
        return (long)(i + k);
    }
    i += need + 1;
  }
  return -1;
}

static uint8_t interesting_byte(uint64_t *st) {
  static const uint8_t set[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                                0xF3, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF};
  uint64_t r = test_rand_(st);
  if (r % 4 == 0)
    return (uint8_t)(r >> 8);
  return set[(r >> 8) % sizeof set];
}

/* Differential: 3000 random short sequences over the interesting bytes;
 * the driver's verdict must equal the reference's, and a server must
 * fail exactly when the first bad byte arrives (not before, not after):
 * the frame announces 50 more bytes than are ever sent. */
TEST(rfc3629_differential_against_reference_validator) {
  uint64_t st = 0x5eed;
  int reported = 0;
  for (int t = 0; t < 3000 && reported < 5; t++) {
    uint8_t s[12];
    size_t n = 1 + (size_t)(test_rand_(&st) % 8);
    for (size_t i = 0; i < n; i++)
      s[i] = interesting_byte(&st);
    long ref = ref_utf8(s, n);
    /* Whole message in one frame: verdict. */
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_TEXT, 1, s, n);
    hrec r;
    REQUIRE(h_run(&r, H_SERVER, NULL, f.p, f.len, H_WHOLE, 0));
    int ok = r.n_message == 1 && r.n_error == 0;
    if (ok != (ref == -1)) {
      TEST_FAILF_("sequence %zu bytes, first %02x %02x: driver %s, "
                  "reference %s",
                  n, s[0], n > 1 ? s[1] : 0, ok ? "accepts" : "rejects",
                  ref == -1 ? "accepts" : "rejects");
      reported++;
    }
    h_rec_free(&r);
    /* Fail-fast position. */
    if (ref >= 0) {
      uint8_t pl[64];
      memcpy(pl, s, n);
      memset(pl + n, 'a', 50);
      f.len = 0;
      h_frame(&f, H_FIN | WSX_OP_TEXT, 1, pl, n + 50);
      size_t hdr = f.len - (n + 50);
      REQUIRE(h_open(&r, H_SERVER, NULL));
      h_feed(&r, f.p, hdr + (size_t)ref, H_WHOLE, 0, 0);
      int early = r.n_error;
      h_feed(&r, f.p + hdr + (size_t)ref, 1, H_WHOLE, 0, 0);
      if (early || r.n_error != 1 || r.err_code != WSX_E_UTF8) {
        TEST_FAILF_("sequence of %zu bytes (first %02x): invalid at byte "
                    "%ld; driver failed %s",
                    n, s[0], ref, early ? "too early" : "late or not at all");
        reported++;
      }
      h_rec_free(&r);
    }
    hb_free(&f);
  }
}

TEST_MAIN(RUN(rfc8_1_utf8_cases_single_frame);
          RUN(rfc8_1_utf8_cases_fragmented_at_every_position);
          RUN(rfc8_1_utf8_fails_fast_inside_incomplete_frame);
          RUN(rfc8_1_utf8_fail_fast_surrogate_after_3_of_100_bytes);
          RUN(rfc8_1_utf8_fail_fast_across_fragments);
          RUN(rfc8_1_utf8_state_does_not_leak_between_messages);
          RUN(rfc5_5_1_close_reason_utf8);
          RUN(api_send_text_and_close_refuse_invalid_utf8);
          RUN(rfc3629_differential_against_reference_validator))
