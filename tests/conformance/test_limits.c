/*
 * Conformance 9.x-style: large messages and the limits that bound memory
 * (max_length, max_frame_size). RFC 6455 10.4: "implementations SHOULD
 * impose a limit on frame sizes and the total message size"; 7.4.1: 1009
 * "message that is too big for it to process".
 */
#include "harness.h"

static wsx_driver_options opts_with(uint64_t max_length, uint64_t max_frame,
                                    wsx_allocator *a) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_length = max_length;
  o.max_frame_size = max_frame;
  o.allocator = a;
  return o;
}

/* RFC 6455 10.4: a frame header announcing more than max_length fails at
 * once (1009), before the payload arrives and before any allocation of
 * that size (counting allocator: nothing near the announced size). */
TEST(rfc10_4_header_over_max_length_fails_before_allocation) {
  static const uint64_t announced[] = {1001, 1u << 20, 1ull << 40,
                                       0x7fffffffffffffffull};
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < 4; i++) {
      hcount c;
      memset(&c, 0, sizeof c);
      wsx_allocator a = hcount_allocator(&c);
      wsx_driver_options o = opts_with(1000, 0, &a);
      hb f = {0};
      h_frame_ex(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), NULL, "", 0, 0,
                 announced[i]);
      h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
                   1009, NULL, "exceeds");
      CHECK(c.max_single < 64 * 1024);
      CHECK_INT(c.cur, 0); /* every driver freed: no leak */
      hb_free(&f);
    }
  }
}

/* The default max_length is 2^26-1: a 2^26-byte announcement fails at the
 * header, and the peak memory stays small. */
TEST(limits_default_max_length_checked_on_header) {
  hcount c;
  memset(&c, 0, sizeof c);
  wsx_allocator a = hcount_allocator(&c);
  wsx_driver_options o = opts_with(0, 0, &a);
  hb f = {0};
  h_frame_ex(&f, H_FIN | WSX_OP_TEXT, 1, NULL, "", 0, 0, 1ull << 26);
  h_check_fail(H_SERVER, &o, f.p, f.len, H_WHOLE | H_BYTES, "open",
               WSX_E_MESSAGE_TOO_BIG, 1009, NULL, "exceeds");
  CHECK(c.peak < 256 * 1024);
  hb_free(&f);
}

/* A message of exactly max_length passes; one more byte is 1009 — as one
 * frame and as fragments (the sum is checked when the fragment header
 * arrives). */
TEST(limits_message_of_exactly_max_length_passes) {
  H_EACH_ROLE(role) {
    wsx_driver_options o = opts_with(1000, 0, NULL);
    uint8_t p[1001];
    h_pattern(p, sizeof p, 4);
    hb f = {0}, ev = {0};
    h_frame(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), p, 1000);
    hb_str(&ev, "open");
    h_expect_msg(&ev, "message:binary", p, 1000);
    h_check(role, &o, f.p, f.len, H_ALL, hb_cstr(&ev), "");
    f.len = 0;
    h_frame(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), p, 1001);
    h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
                 1009, NULL, "exceeds");
    /* Fragmented: 600 + 400 passes, 600 + 401 fails at the 2nd header. */
    f.len = 0;
    h_frame(&f, WSX_OP_TEXT, H_MASKED(role), p, 600);
    h_frame(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), p + 600, 400);
    ev.len = 0;
    hb_str(&ev, "open");
    h_expect_msg(&ev, "message:text", p, 1000);
    h_check(role, &o, f.p, f.len, H_ALL, hb_cstr(&ev), "");
    f.len = 0;
    h_frame(&f, WSX_OP_TEXT, H_MASKED(role), p, 600);
    h_frame_ex(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), NULL, "", 0, 0,
               401);
    h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
                 1009, NULL, "exceeds");
    hb_free(&f);
    hb_free(&ev);
  }
}

/* max_frame_size bounds each frame separately from the message: frames of
 * exactly the limit pass even when the message is larger; a bigger frame
 * is 1009. */
TEST(limits_max_frame_size) {
  H_EACH_ROLE(role) {
    wsx_driver_options o = opts_with(10000, 100, NULL);
    uint8_t p[300];
    h_pattern(p, sizeof p, 8);
    hb f = {0}, ev = {0};
    h_frame(&f, WSX_OP_BINARY, H_MASKED(role), p, 100);
    h_frame(&f, WSX_OP_CONTINUATION, H_MASKED(role), p + 100, 100);
    h_frame(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), p + 200, 100);
    hb_str(&ev, "open");
    h_expect_msg(&ev, "message:binary", p, 300);
    h_check(role, &o, f.p, f.len, H_ALL, hb_cstr(&ev), "");
    f.len = 0;
    h_frame(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), p, 101);
    h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
                 1009, NULL, "exceeds");
    hb_free(&f);
    hb_free(&ev);
  }
}

static void big_message(int role, size_t total, size_t frame) {
  uint8_t *p = malloc(total);
  h_pattern(p, total, 11);
  hb f = {0}, ev = {0};
  for (size_t off = 0; off < total; off += frame) {
    size_t n = total - off < frame ? total - off : frame;
    unsigned b0 = (off == 0 ? WSX_OP_BINARY : WSX_OP_CONTINUATION) |
                  (off + n == total ? H_FIN : 0);
    h_frame(&f, b0, H_MASKED(role), p + off, n);
  }
  hb_str(&ev, "open");
  h_expect_msg(&ev, "message:binary", p, total);
  h_check(role, NULL, f.p, f.len, H_WHOLE | H_RANDOM | H_BIG, hb_cstr(&ev), "");
  hb_free(&f);
  hb_free(&ev);
  free(p);
}

/* 9.1.x/9.2.x: 16 MiB in one frame passes with the default max_length. */
TEST(limits_16mib_single_frame_passes_by_default) {
  H_EACH_ROLE(role) { big_message(role, 16u << 20, 16u << 20); }
}

/* 9.4.x-like: 16 MiB in 64-byte frames (262,144 fragments) passes. */
TEST(limits_16mib_in_64_byte_frames_passes_by_default) {
  big_message(H_SERVER, 16u << 20, 64);
}

/* Peak memory (counting allocator) of receiving `total` bytes as one
 * binary message in frames of `frame` bytes. */
static size_t peak_for(size_t total, size_t frame) {
  hcount c;
  memset(&c, 0, sizeof c);
  wsx_allocator a = hcount_allocator(&c);
  wsx_driver_options o = opts_with(0, 0, &a);
  uint8_t *p = malloc(total);
  h_pattern(p, total, 2);
  hb f = {0};
  for (size_t off = 0; off < total; off += frame)
    h_frame(&f,
            (off == 0 ? WSX_OP_BINARY : WSX_OP_CONTINUATION) |
                (off + frame >= total ? H_FIN : 0),
            1, p + off, frame);
  hrec r;
  if (h_run(&r, H_SERVER, &o, f.p, f.len, H_WHOLE, 0)) {
    CHECK_INT(r.n_message, 1);
    CHECK_MEM(r.msg.p, r.msg.len, p, total);
  }
  h_rec_free(&r);
  CHECK_INT(c.cur, 0);
  hb_free(&f);
  free(p);
  return c.peak;
}

/* Issue 2: "per-fragment memory overhead is zero, so max_length alone
 * bounds memory": 1 MiB in 16,384 fragments of 64 bytes peaks no higher
 * than 1 MiB in 16 fragments of 64 KiB (give or take one fragment), and
 * both stay within a small constant factor of the message. */
TEST(limits_fragment_overhead_is_zero) {
  size_t total = 1u << 20;
  size_t small = peak_for(total, 64), large = peak_for(total, 65536);
  CHECK(small <= large + 65536);
  CHECK(small <= 4 * total);
}

/* DESIGN.md: "No malloc per message on the steady path": after warm-up,
 * 1000 further small messages received and sent cost no allocation. */
TEST(perf_no_allocation_per_message_in_steady_state) {
  H_EACH_ROLE(role) {
    hcount c;
    memset(&c, 0, sizeof c);
    wsx_allocator a = hcount_allocator(&c);
    wsx_driver_options o = opts_with(0, 0, &a);
    hrec r;
    REQUIRE(h_open(&r, role, &o));
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "steady");
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "frag");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "mented");
    for (int i = 0; i < 3; i++) {
      h_feed(&r, f.p, f.len, H_WHOLE, 0, 0);
      wsx_driver_send_text(r.d, "reply", 5);
    }
    size_t warm = c.n_alloc;
    for (int i = 0; i < 1000; i++) {
      h_feed(&r, f.p, f.len, H_WHOLE, 0, 0);
      wsx_driver_send_text(r.d, "reply", 5);
    }
    CHECK_INT(r.n_message, 2006);
    CHECK_INT(c.n_alloc - warm, 0);
    hb_free(&f);
    h_rec_free(&r);
  }
}

TEST_MAIN(RUN(rfc10_4_header_over_max_length_fails_before_allocation);
          RUN(limits_default_max_length_checked_on_header);
          RUN(limits_message_of_exactly_max_length_passes);
          RUN(limits_max_frame_size);
          RUN(limits_16mib_single_frame_passes_by_default);
          RUN(limits_16mib_in_64_byte_frames_passes_by_default);
          RUN(limits_fragment_overhead_is_zero);
          RUN(perf_no_allocation_per_message_in_steady_state))
