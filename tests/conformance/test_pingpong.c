/*
 * Conformance 2.x-style: ping and pong (RFC 6455 5.5.2, 5.5.3) in both
 * roles, control frame limits, and wsx_driver_ping() callbacks.
 */
#include "harness.h"

/* RFC 6455 5.5.2/5.5.3: a Ping without payload is answered by a Pong. */
TEST(rfc5_5_2_empty_ping_gets_empty_pong) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "", 0);
    h_check(role, NULL, f.p, f.len, H_ALL, "open;ping:0:", "pong:0:");
    hb_free(&f);
  }
}

/* RFC 6455 5.5.3: the Pong "MUST have identical Application data" as the
 * Ping it answers (text and arbitrary binary payloads). */
TEST(rfc5_5_3_pong_echoes_ping_payload) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "Hello, wsx!");
    uint8_t bin[125];
    for (size_t i = 0; i < sizeof bin; i++)
      bin[i] = (uint8_t)(255 - i * 2);
    h_frame(&f, H_FIN | WSX_OP_PING, H_MASKED(role), bin, 8);
    hb ev = {0}, out = {0};
    hb_str(&ev, "open;ping:11:Hello, wsx!");
    h_expect_msg(&ev, "ping", bin, 8);
    h_expect_msg(&out, "pong", "Hello, wsx!", 11);
    h_expect_msg(&out, "pong", bin, 8);
    h_check(role, NULL, f.p, f.len, H_ALL, hb_cstr(&ev), hb_cstr(&out));
    hb_free(&f);
    hb_free(&ev);
    hb_free(&out);
  }
}

/* RFC 6455 5.5: control frame payload length MUST be <= 125: exactly 125
 * is fine. */
TEST(rfc5_5_ping_with_125_bytes_is_answered) {
  H_EACH_ROLE(role) {
    uint8_t p[125];
    h_pattern(p, sizeof p, 9);
    hb f = {0}, ev = {0}, out = {0};
    h_frame(&f, H_FIN | WSX_OP_PING, H_MASKED(role), p, sizeof p);
    hb_str(&ev, "open");
    h_expect_msg(&ev, "ping", p, sizeof p);
    h_expect_msg(&out, "pong", p, sizeof p);
    h_check(role, NULL, f.p, f.len, H_ALL, hb_cstr(&ev), hb_cstr(&out));
    hb_free(&f);
    hb_free(&ev);
    hb_free(&out);
  }
}

/* RFC 6455 5.5: "All control frames MUST have a payload length of 125
 * bytes or less": a 126-byte ping is a protocol error (1002), no pong. */
TEST(rfc5_5_ping_with_126_bytes_is_1002) {
  H_EACH_ROLE(role) {
    uint8_t p[126];
    h_pattern(p, sizeof p, 1);
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_PING, H_MASKED(role), p, sizeof p);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "control");
    hb_free(&f);
  }
}

/* RFC 6455 5.5: the limit is on the announced length: a header announcing
 * a 2^40-byte ping fails at once (no waiting for the payload). */
TEST(rfc5_5_huge_ping_header_fails_without_payload) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_ex(&f, H_FIN | WSX_OP_PING, H_MASKED(role), NULL, "", 0, 64,
               1ull << 40);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "control");
    hb_free(&f);
  }
}

/* RFC 6455 5.5: "Control frames MUST NOT be fragmented": a ping with FIN=0
 * is a protocol error. */
TEST(rfc5_5_fragmented_ping_is_1002) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_PING, H_MASKED(role), "frag");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "ment");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "fragment");
    hb_free(&f);
  }
}

/* RFC 6455 5.5.3: "A Pong frame MAY be sent unsolicited ... A response to
 * an unsolicited Pong frame is not expected": reported, never answered. */
TEST(rfc5_5_3_unsolicited_pong_is_not_answered) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "", 0);
    h_frame_str(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "unsolicited");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "then ping");
    h_check(role, NULL, f.p, f.len, H_ALL,
            "open;pong:0:;pong:11:unsolicited;ping:9:then ping",
            "pong:9:then ping");
    hb_free(&f);
  }
}

/* RFC 6455 5.5.3: a pong larger than 125 bytes breaks the control frame
 * rule as much as a ping. */
TEST(rfc5_5_pong_with_126_bytes_is_1002) {
  H_EACH_ROLE(role) {
    uint8_t p[126];
    h_pattern(p, sizeof p, 2);
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), p, sizeof p);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "control");
    hb_free(&f);
  }
}

/* RFC 6455 5.5.2: every ping gets its pong, in order (10 pings). */
TEST(rfc5_5_2_ten_pings_ten_pongs_in_order) {
  H_EACH_ROLE(role) {
    hb f = {0}, ev = {0}, out = {0};
    hb_str(&ev, "open");
    for (int i = 0; i < 10; i++) {
      char m[16];
      snprintf(m, sizeof m, "p%d", i);
      h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), m);
      h_expect_msg(&ev, "ping", m, strlen(m));
      h_expect_msg(&out, "pong", m, strlen(m));
    }
    h_check(role, NULL, f.p, f.len, H_ALL, hb_cstr(&ev), hb_cstr(&out));
    hb_free(&f);
    hb_free(&ev);
    hb_free(&out);
  }
}

/* RFC 6455 5.4: "Control frames MAY be injected in the middle of a
 * fragmented message": the pong goes out at once, the message arrives
 * whole afterwards. */
TEST(rfc5_4_ping_inside_fragmented_message) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "Hel");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "mid");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "lo");
    h_check(role, NULL, f.p, f.len, H_ALL,
            "open;ping:3:mid;message:text:5:Hello", "pong:3:mid");
    hb_free(&f);
  }
}

/* wsx_driver_ping(): the callback fires once, only for a pong whose
 * payload matches (RFC 6455 5.5.3 lets a pong answer the latest ping
 * only; matching by payload is the driver's documented rule). */
TEST(api_ping_callback_fires_on_matching_pong_only) {
  H_EACH_ROLE(role) {
    hrec r;
    REQUIRE(h_open(&r, role, NULL));
    CHECK_INT(wsx_driver_ping(r.d, "abc", 3, h_ping_cb, &r), WSX_OK);
    hout o;
    h_out_decode(&r, &o);
    CHECK_STR(hb_cstr(&o.log), "ping:3:abc");
    h_out_free(&o);
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "zzz");
    h_feed(&r, f.p, f.len, H_WHOLE, 0, 0);
    CHECK_INT(r.n_ping_cb, 0);
    f.len = 0;
    h_frame_str(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "abc");
    h_frame_str(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "abc");
    h_feed(&r, f.p, f.len, H_BYTES, 0, 0);
    CHECK_INT(r.n_ping_cb, 1);
    CHECK_STR(hb_cstr(&r.log), "open;pong:3:zzz;pong:3:abc;ping_cb;pong:3:abc");
    hb_free(&f);
    h_rec_free(&r);
  }
}

/* The ping callback through a real peer: the server's automatic pong
 * completes the client's ping, and the other way round. */
TEST(api_ping_callback_through_pair) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_ping(p.c.d, "c1", 2, h_ping_cb, &p.c), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.s.d, "s1", 2, h_ping_cb, &p.s), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.c.d, "c2", 2, NULL, NULL), WSX_OK);
  h_pump(&p, H_BYTES, 0);
  CHECK_INT(p.c.n_ping_cb, 1);
  CHECK_INT(p.s.n_ping_cb, 1);
  CHECK_INT(p.s.n_ping, 2);
  CHECK_INT(p.c.n_pong, 2);
  h_pair_free(&p);
}

/* RFC 6455 5.5: the sender side of the control frame limit: ping/pong
 * payloads over 125 bytes are refused (WSX_E_TOO_BIG) and nothing is
 * written; 125 is sent. */
TEST(api_ping_pong_over_125_refused) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  uint8_t p[126] = {0};
  size_t before = r.out.len;
  CHECK_INT(wsx_driver_ping(r.d, p, 126, NULL, NULL), WSX_E_TOO_BIG);
  CHECK_INT(wsx_driver_pong(r.d, p, 126), WSX_E_TOO_BIG);
  CHECK_INT(r.out.len, before);
  CHECK_INT(wsx_driver_ping(r.d, p, 125, NULL, NULL), WSX_OK);
  CHECK_INT(wsx_driver_pong(r.d, p, 125), WSX_OK);
  hout o;
  h_out_decode(&r, &o);
  CHECK_INT(o.n_frames, 2);
  CHECK_INT(o.bad_mask, 0);
  h_out_free(&o);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  h_rec_free(&r);
}

/* RFC 6455 5.5.3: an unsolicited pong may be sent as a heartbeat; the peer
 * reports it and does not answer. */
TEST(api_unsolicited_pong_reaches_peer) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  size_t cout = p.c.out.len;
  CHECK_INT(wsx_driver_pong(p.s.d, "hb", 2), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(p.c.n_pong, 1);
  CHECK_INT(p.c.out.len, cout);
  h_pair_free(&p);
}

TEST_MAIN(RUN(rfc5_5_2_empty_ping_gets_empty_pong);
          RUN(rfc5_5_3_pong_echoes_ping_payload);
          RUN(rfc5_5_ping_with_125_bytes_is_answered);
          RUN(rfc5_5_ping_with_126_bytes_is_1002);
          RUN(rfc5_5_huge_ping_header_fails_without_payload);
          RUN(rfc5_5_fragmented_ping_is_1002);
          RUN(rfc5_5_3_unsolicited_pong_is_not_answered);
          RUN(rfc5_5_pong_with_126_bytes_is_1002);
          RUN(rfc5_5_2_ten_pings_ten_pongs_in_order);
          RUN(rfc5_4_ping_inside_fragmented_message);
          RUN(api_ping_callback_fires_on_matching_pong_only);
          RUN(api_ping_callback_through_pair);
          RUN(api_ping_pong_over_125_refused);
          RUN(api_unsolicited_pong_reaches_peer))
