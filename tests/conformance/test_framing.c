/*
 * Conformance 1.x / 2.x-style framing: the RFC 6455 5.7 examples (parsing
 * and our own output bytes), payload lengths around the 7/16/64-bit length
 * encodings in both directions, minimal length encoding on output, and the
 * 64-bit length's most significant bit.
 */
#include "harness.h"

static const uint8_t hello[] = {0x48, 0x65, 0x6c, 0x6c, 0x6f};

/* RFC 6455 5.7: "A single-frame unmasked text message" 0x81 0x05 "Hello". */
TEST(rfc5_7_single_frame_unmasked_text) {
  static const uint8_t f[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  h_check(H_CLIENT, NULL, f, sizeof f, H_ALL, "open;message:text:5:Hello", "");
}

/* RFC 6455 5.7: "A single-frame masked text message" with key 37 fa 21 3d. */
TEST(rfc5_7_single_frame_masked_text) {
  static const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                              0x7f, 0x9f, 0x4d, 0x51, 0x58};
  h_check(H_SERVER, NULL, f, sizeof f, H_ALL, "open;message:text:5:Hello", "");
}

/* RFC 6455 5.7: "A fragmented unmasked text message" "Hel" + "lo". */
TEST(rfc5_7_fragmented_unmasked_text) {
  static const uint8_t f[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                              0x80, 0x02, 0x6c, 0x6f};
  h_check(H_CLIENT, NULL, f, sizeof f, H_ALL, "open;message:text:5:Hello", "");
}

/* RFC 6455 5.7: "Unmasked Ping request and masked Ping response"; 5.5.3: the
 * Pong carries the Ping's application data. */
TEST(rfc5_7_unmasked_ping_gets_masked_pong) {
  static const uint8_t f[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  h_check(H_CLIENT, NULL, f, sizeof f, H_ALL, "open;ping:5:Hello",
          "pong:5:Hello");
}

/* RFC 6455 5.7: the unmasked Pong example 0x8a 0x05 "Hello". */
TEST(rfc5_7_unmasked_pong) {
  static const uint8_t f[] = {0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  h_check(H_CLIENT, NULL, f, sizeof f, H_ALL, "open;pong:5:Hello", "");
}

/* RFC 6455 5.7: "256 bytes binary message in a single unmasked frame"
 * 0x82 0x7E 0x0100 and "64KiB binary message" 0x82 0x7F 0x0000000000010000. */
TEST(rfc5_7_binary_256_and_64k_headers_parse) {
  static const size_t sizes[] = {256, 65536};
  for (size_t k = 0; k < 2; k++) {
    size_t n = sizes[k];
    uint8_t *p = malloc(n);
    h_pattern(p, n, (unsigned)k);
    hb f = {0}, want = {0};
    if (n == 256) {
      static const uint8_t h[] = {0x82, 0x7e, 0x01, 0x00};
      hb_put(&f, h, sizeof h);
    } else {
      static const uint8_t h[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
      hb_put(&f, h, sizeof h);
    }
    hb_put(&f, p, n);
    hb_str(&want, "open");
    h_expect_msg(&want, "message:binary", p, n);
    h_check(H_CLIENT, NULL, f.p, f.len, H_WHOLE | H_RANDOM, hb_cstr(&want), "");
    hb_free(&f);
    hb_free(&want);
    free(p);
  }
}

/* RFC 6455 5.7 from the sender's side: a server writes exactly the example
 * bytes (5.1: a server MUST NOT mask; 5.2: minimal length encoding). */
TEST(rfc5_7_server_output_bytes_exact) {
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  size_t n0, n;
  h_after_head(&r, &n0);
  CHECK_INT(n0, 0);

  CHECK_INT(wsx_driver_send_text(r.d, "Hello", 5), WSX_OK);
  const uint8_t *o = h_after_head(&r, &n);
  static const uint8_t text[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  CHECK_MEM(o, n, text, sizeof text);

  r.out.len -= n;
  CHECK_INT(wsx_driver_ping(r.d, "Hello", 5, NULL, NULL), WSX_OK);
  o = h_after_head(&r, &n);
  static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  CHECK_MEM(o, n, ping, sizeof ping);

  r.out.len -= n;
  CHECK_INT(wsx_driver_pong(r.d, "Hello", 5), WSX_OK);
  o = h_after_head(&r, &n);
  static const uint8_t pong[] = {0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  CHECK_MEM(o, n, pong, sizeof pong);

  uint8_t *big = calloc(1, 65536);
  r.out.len -= n;
  CHECK_INT(wsx_driver_send_binary(r.d, big, 256), WSX_OK);
  o = h_after_head(&r, &n);
  static const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00};
  CHECK_INT(n, 4 + 256);
  CHECK_MEM(o, 4, h256, 4);

  r.out.len -= n;
  CHECK_INT(wsx_driver_send_binary(r.d, big, 65536), WSX_OK);
  o = h_after_head(&r, &n);
  static const uint8_t h64k[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
  CHECK_INT(n, 10 + 65536);
  CHECK_MEM(o, 10, h64k, 10);

  /* Fragmented like the example, through the raw frame API. */
  r.out.len -= n;
  CHECK_INT(wsx_driver_send_frame(r.d, WSX_OP_TEXT, 0, "Hel", 3), WSX_OK);
  CHECK_INT(wsx_driver_send_frame(r.d, WSX_OP_CONTINUATION, 1, "lo", 2),
            WSX_OK);
  o = h_after_head(&r, &n);
  static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                 0x80, 0x02, 0x6c, 0x6f};
  CHECK_MEM(o, n, frag, sizeof frag);
  free(big);
  h_rec_free(&r);
}

/* RFC 6455 5.3: a client MUST mask every frame with a fresh key; the
 * masked "Hello" unmasks to the text. */
TEST(rfc5_3_client_output_masked_text) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  CHECK_INT(wsx_driver_send_text(r.d, "Hello", 5), WSX_OK);
  size_t n;
  const uint8_t *o = h_after_head(&r, &n);
  REQUIRE(n == 11);
  CHECK_INT(o[0], 0x81);
  CHECK_INT(o[1], 0x85);
  uint8_t un[5];
  for (int i = 0; i < 5; i++)
    un[i] = (uint8_t)(o[6 + i] ^ o[2 + (i & 3)]);
  CHECK_MEM(un, 5, hello, 5);
  h_rec_free(&r);
}

static const size_t edge_lengths[] = {0, 1, 125, 126, 127, 128, 65535, 65536};
#define N_EDGE (sizeof edge_lengths / sizeof edge_lengths[0])

/* RFC 6455 5.2: payload length 0-125 in 7 bits, 126 => 16-bit, 127 =>
 * 64-bit; text and binary at each boundary, both roles, every split. */
TEST(rfc5_2_parse_payload_lengths_at_encoding_boundaries) {
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < N_EDGE; i++) {
      for (int op = WSX_OP_TEXT; op <= WSX_OP_BINARY; op++) {
        size_t n = edge_lengths[i];
        uint8_t *p = malloc(n + 1);
        h_pattern(p, n, (unsigned)i);
        hb f = {0}, want = {0};
        h_frame(&f, H_FIN | (unsigned)op, H_MASKED(role), p, n);
        hb_str(&want, "open");
        h_expect_msg(
            &want, op == WSX_OP_TEXT ? "message:text" : "message:binary", p, n);
        int modes = n <= 128 ? H_ALL : H_WHOLE | H_RANDOM;
        h_check(role, NULL, f.p, f.len, modes, hb_cstr(&want), "");
        hb_free(&f);
        hb_free(&want);
        free(p);
      }
    }
  }
}

/* RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the
 * length" (sender rule): our header size for each boundary, both roles. */
TEST(rfc5_2_output_uses_minimal_length_encoding) {
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < N_EDGE; i++) {
      size_t n = edge_lengths[i];
      hrec r;
      REQUIRE(h_open(&r, role, NULL));
      uint8_t *p = calloc(1, n + 1);
      CHECK_INT(wsx_driver_send_binary(r.d, p, n), WSX_OK);
      size_t got;
      const uint8_t *o = h_after_head(&r, &got);
      size_t hdr = n <= 125 ? 2 : n <= 65535 ? 4 : 10;
      if (role == H_CLIENT)
        hdr += 4;
      CHECK_INT(got, hdr + n);
      if (got >= 2) {
        CHECK_INT(o[0], 0x82);
        unsigned l7 = n <= 125 ? (unsigned)n : n <= 65535 ? 126u : 127u;
        CHECK_INT(o[1] & 0x7f, l7);
        CHECK_INT((o[1] & 0x80) != 0, role == H_CLIENT);
      }
      hout d;
      h_out_decode(&r, &d);
      CHECK_INT(d.nonminimal, 0);
      CHECK_INT(d.n_frames, 1);
      CHECK_INT(d.total_payload, n);
      h_out_free(&d);
      free(p);
      h_rec_free(&r);
    }
  }
}

/* RFC 6455 5.2: a receiver reconstructs any payload a peer sends; both
 * directions through a client/server pair, text and binary, at every
 * length boundary. */
TEST(rfc5_2_pair_roundtrip_all_boundaries) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  for (size_t i = 0; i < N_EDGE; i++) {
    size_t n = edge_lengths[i];
    uint8_t *b = malloc(n + 1);
    h_pattern(b, n, (unsigned)i + 3);
    p.s.msg.len = p.c.msg.len = 0;
    int ms = p.s.n_message, mc = p.c.n_message;
    CHECK_INT(wsx_driver_send_text(p.c.d, (const char *)b, n), WSX_OK);
    CHECK_INT(wsx_driver_send_binary(p.s.d, b, n), WSX_OK);
    h_pump(&p, i & 1 ? H_RANDOM : H_WHOLE, i);
    CHECK_INT(p.s.n_message, ms + 1);
    CHECK_INT(p.c.n_message, mc + 1);
    CHECK_MEM(p.s.msg.p, p.s.msg.len, b, n);
    CHECK_MEM(p.c.msg.p, p.c.msg.len, b, n);
    free(b);
  }
  hout o;
  h_out_decode(&p.c, &o);
  CHECK_INT(o.bad_mask, 0);
  CHECK_INT(o.nonminimal, 0);
  h_out_free(&o);
  h_out_decode(&p.s, &o);
  CHECK_INT(o.bad_mask, 0);
  CHECK_INT(o.nonminimal, 0);
  h_out_free(&o);
  h_pair_free(&p);
}

/* RFC 6455 5.2 says senders MUST use the minimal length encoding but does
 * not say what receivers do with a longer one: whatever the driver does,
 * it must do it identically for every split of the input and not crash. */
TEST(rfc5_2_nonminimal_length_on_input_is_split_independent) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_ex(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), NULL, hello, 5, 16, 5);
    h_frame_ex(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), NULL, hello, 5, 64, 5);
    h_check(role, NULL, f.p, f.len, H_ALL, NULL, NULL);
    hb_free(&f);
  }
}

/* RFC 6455 5.2: "the most significant bit MUST be 0" in a 64-bit payload
 * length: protocol error, close 1002. */
TEST(rfc5_2_64bit_length_with_msb_set_is_1002) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_ex(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), NULL, hello, 5, 64,
               0x8000000000000005ull);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "length");
    hb_free(&f);
  }
}

/* RFC 6455 5.6: empty text and binary messages are messages. */
TEST(rfc5_6_empty_text_and_binary_messages) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "", 0);
    h_frame(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), "", 0);
    h_check(role, NULL, f.p, f.len, H_ALL,
            "open;message:text:0:;message:binary:0:", "");
    hb_free(&f);
  }
}

/* RFC 6455 5.2 (several frames in one read): a stream of many small frames
 * in one buffer gives every message, in order. */
TEST(rfc5_2_many_frames_in_one_buffer) {
  H_EACH_ROLE(role) {
    hb f = {0}, want = {0};
    hb_str(&want, "open");
    for (int i = 0; i < 50; i++) {
      char m[16];
      snprintf(m, sizeof m, "m%d", i);
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), m);
      h_expect_msg(&want, "message:text", m, strlen(m));
    }
    h_check(role, NULL, f.p, f.len, H_ALL, hb_cstr(&want), "");
    hb_free(&f);
    hb_free(&want);
  }
}

/* Frames cut at every byte (two chunks per run): the parser's one-step
 * path for a whole small frame (7- or 16-bit length) must take a chunk
 * only when all of the frame is in it, and give the events it gives whole,
 * whatever the cut leaves at a chunk's end (1..9 header bytes, a header
 * and part of a payload). Each chunk is its own heap block: under ASan a
 * read past it fails the test. */
TEST(whole_frames_cut_at_every_byte) {
  static const size_t lens[] = {20, 125, 126, 300};
  hb in = {0}, want = {0};
  hb_str(&want, "open");
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    uint8_t p[300];
    int op = i % 2 ? WSX_OP_BINARY : WSX_OP_TEXT;
    h_pattern(p, lens[i], (unsigned)i + 7);
    h_frame(&in, H_FIN | (unsigned)op, 1, p, lens[i]);
    h_expect_msg(&want, op == WSX_OP_TEXT ? "message:text" : "message:binary",
                 p, lens[i]);
  }
  for (size_t k = 1; k < in.len; k++) {
    hrec r;
    REQUIRE(h_open(&r, H_SERVER, NULL));
    h_feed_chunk(&r, in.p, k);
    h_feed_chunk(&r, in.p + k, in.len - k);
    if (strcmp(hb_cstr(&r.log), hb_cstr(&want)) != 0)
      TEST_FAILF_("cut at byte %zu: events \"%s\", expected \"%s\"", k,
                  hb_cstr(&r.log), hb_cstr(&want));
    h_rec_free(&r);
  }
  hb_free(&in);
  hb_free(&want);
}

TEST_MAIN(RUN(rfc5_7_single_frame_unmasked_text);
          RUN(rfc5_7_single_frame_masked_text);
          RUN(rfc5_7_fragmented_unmasked_text);
          RUN(rfc5_7_unmasked_ping_gets_masked_pong); RUN(rfc5_7_unmasked_pong);
          RUN(rfc5_7_binary_256_and_64k_headers_parse);
          RUN(rfc5_7_server_output_bytes_exact);
          RUN(rfc5_3_client_output_masked_text);
          RUN(rfc5_2_parse_payload_lengths_at_encoding_boundaries);
          RUN(rfc5_2_output_uses_minimal_length_encoding);
          RUN(rfc5_2_pair_roundtrip_all_boundaries);
          RUN(rfc5_2_nonminimal_length_on_input_is_split_independent);
          RUN(rfc5_2_64bit_length_with_msb_set_is_1002);
          RUN(rfc5_6_empty_text_and_binary_messages);
          RUN(rfc5_2_many_frames_in_one_buffer);
          RUN(whole_frames_cut_at_every_byte))
