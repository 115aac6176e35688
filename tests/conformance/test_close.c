/*
 * Conformance 7.x-style: the closing handshake (RFC 6455 5.5.1, 7.1-7.4).
 */
#include "harness.h"

/* RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not
 * previously send a Close frame, the endpoint MUST send a Close frame in
 * response" (typically echoing the code); the handshake is then complete
 * (7.1.1: clean). */
TEST(rfc5_5_1_peer_close_is_echoed_and_clean) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_close_frame(&f, H_MASKED(role), 1000, "bye", 3);
    h_check(role, NULL, f.p, f.len, H_ALL, "open;close:1000:clean",
            "close:1000");
    hrec r;
    REQUIRE(h_run(&r, role, NULL, f.p, f.len, H_WHOLE, 0));
    CHECK_STR(r.close_reason, "bye");
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    h_rec_free(&r);
    hb_free(&f);
  }
}

/* RFC 6455 7.1.5/7.4: a close frame without a status code reports 1005
 * ("no status received") and is answered with a close frame that carries
 * no code or 1000. */
TEST(rfc7_1_5_close_without_code_reports_1005) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_close_frame(&f, H_MASKED(role), -1, NULL, 0);
    for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
      hrec r;
      REQUIRE(h_run(&r, role, NULL, f.p, f.len, mode, 3));
      CHECK_STR(hb_cstr(&r.log), "open;close:1005:clean");
      hout o;
      h_out_decode(&r, &o);
      CHECK_INT(o.n_close, 1);
      CHECK(o.close_code == 0 || o.close_code == 1000);
      h_out_free(&o);
      h_rec_free(&r);
    }
    hb_free(&f);
  }
}

/* RFC 6455 5.5.1: "If there is a body, the first two bytes of the body
 * MUST be a 2-byte unsigned integer": a 1-byte close payload is 1002
 * (Autobahn 7.3.2). */
TEST(rfc5_5_1_one_byte_close_payload_is_1002) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame(&f, H_FIN | WSX_OP_CLOSE, H_MASKED(role), "\x03", 1);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "close");
    hb_free(&f);
  }
}

/* RFC 6455 5.5: a close frame is a control frame: 125 bytes max, so a
 * reason of 123 bytes passes and 124 is 1002 (Autobahn 7.3.5/7.3.6). */
TEST(rfc5_5_close_reason_123_ok_124_is_1002) {
  H_EACH_ROLE(role) {
    char reason[124];
    memset(reason, 'r', sizeof reason);
    hb f = {0};
    h_close_frame(&f, H_MASKED(role), 1000, reason, 123);
    h_check(role, NULL, f.p, f.len, H_ALL, "open;close:1000:clean",
            "close:1000");
    f.len = 0;
    h_close_frame(&f, H_MASKED(role), 1000, reason, 124);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "control");
    hb_free(&f);
  }
}

/* RFC 6455 7.4.1/7.4.2 (Autobahn 7.7.x): codes a peer may send are echoed
 * and reported. */
TEST(rfc7_4_valid_close_codes_accepted) {
  static const int codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
                              1009, 1010, 1011, 1012, 1013, 1014,
                              3000, 3999, 4000, 4999};
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
      hb f = {0};
      h_close_frame(&f, H_MASKED(role), codes[i], NULL, 0);
      char ev[64], out[32];
      snprintf(ev, sizeof ev, "open;close:%d:clean", codes[i]);
      snprintf(out, sizeof out, "close:%d", codes[i]);
      /* Echo the code (RFC 5.5.1 "typically echos"); 1000 is also fair. */
      hrec r;
      REQUIRE(h_run(&r, role, NULL, f.p, f.len, H_WHOLE, 0));
      hout o;
      h_out_decode(&r, &o);
      if (strcmp(hb_cstr(&o.log), out) != 0 &&
          strcmp(hb_cstr(&o.log), "close:1000") != 0)
        TEST_FAILF_("code %d: answered \"%s\"", codes[i], hb_cstr(&o.log));
      h_out_free(&o);
      h_rec_free(&r);
      h_check(role, NULL, f.p, f.len, H_ALL, ev, NULL);
      hb_free(&f);
    }
  }
}

/* RFC 6455 7.4.1/7.4.2 (Autobahn 7.9.x): codes that must not appear on
 * the wire (0-999, 1004-1006, 1015, unassigned 1016-2999, >= 5000) are a
 * protocol error. 1012-1014 are IANA-registered (service restart, try
 * again later, bad gateway) and accepted (rfc7_4_valid_close_codes...). */
TEST(rfc7_4_invalid_close_codes_are_1002) {
  static const int codes[] = {0,    999,  1004, 1005, 1006, 1015,
                              1016, 1100, 2000, 2999, 5000, 65535};
  H_EACH_ROLE(role) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
      hb f = {0};
      h_close_frame(&f, H_MASKED(role), codes[i], NULL, 0);
      int failed_before = test_cur_failed_;
      h_check_fail(role, NULL, f.p, f.len, H_WHOLE | H_BYTES, "open",
                   WSX_E_PROTOCOL, 1002, NULL, "close");
      if (test_cur_failed_ && !failed_before)
        printf("  (code %d)\n", codes[i]);
      hb_free(&f);
    }
  }
}

/* RFC 6455 5.5.1: "after sending a Close frame, the endpoint MUST NOT send
 * any more data frames"; 1.4: once closed nothing is delivered. Frames
 * after the peer's close are ignored (Autobahn 7.1.2-7.1.4). */
TEST(rfc5_5_1_nothing_after_close) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_close_frame(&f, H_MASKED(role), 1000, NULL, 0);
    h_close_frame(&f, H_MASKED(role), 1001, NULL, 0);
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "ping");
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "text");
    h_check(role, NULL, f.p, f.len, H_ALL, "open;close:1000:clean",
            "close:1000");
    hrec r;
    REQUIRE(h_run(&r, role, NULL, f.p, f.len, H_WHOLE, 0));
    size_t before = r.out.len;
    CHECK_INT(wsx_driver_send_text(r.d, "x", 1), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_send_binary(r.d, "x", 1), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_ping(r.d, "x", 1, NULL, NULL), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_close(r.d, 1000, NULL), WSX_E_CLOSED);
    CHECK_INT(r.out.len, before);
    CHECK_INT(h_feed_chunk(&r, f.p, f.len), WSX_E_CLOSED);
    CHECK_INT(r.n_close, 1);
    h_rec_free(&r);
    hb_free(&f);
  }
}

/* RFC 6455 7.1.2/5.5.1: server-initiated close: CLOSING until the echo,
 * then both sides closed cleanly, each close event exactly once. */
TEST(rfc7_1_2_server_initiated_close_handshake) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_close(p.s.d, 4001, "server bye"), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(p.s.d), WSX_CLOSING);
  CHECK_INT(p.s.n_close, 0);
  CHECK_INT(wsx_driver_send_text(p.s.d, "late", 4), WSX_E_CLOSED);
  CHECK_INT(wsx_driver_close(p.s.d, 1000, NULL), WSX_E_CLOSED);
  h_pump(&p, H_BYTES, 0);
  CHECK_STR(hb_cstr(&p.c.log), "open;close:4001:clean");
  CHECK_STR(p.c.close_reason, "server bye");
  CHECK_INT(p.s.n_close, 1);
  CHECK_INT(p.s.close_clean, 1);
  CHECK_INT(wsx_driver_ready_state(p.s.d), WSX_CLOSED);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CLOSED);
  hout o;
  h_out_decode(&p.s, &o);
  CHECK_STR(hb_cstr(&o.log), "close:4001");
  CHECK_STR(o.close_reason, "server bye");
  h_out_free(&o);
  h_out_decode(&p.c, &o);
  CHECK_INT(o.n_close, 1);
  h_out_free(&o);
  h_pair_free(&p);
}

/* RFC 6455 7.1.2: client-initiated close, with messages that were already
 * in flight from the server delivered before the close completes. */
TEST(rfc7_1_2_client_initiated_close_handshake) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_close(p.c.d, 0, NULL), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CLOSING);
  CHECK_INT(wsx_driver_send_text(p.s.d, "in flight", 9), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  CHECK_STR(hb_cstr(&p.s.log), "open;close:1000:clean");
  CHECK_INT(p.c.n_close, 1);
  CHECK_INT(p.c.close_code, 1000);
  CHECK_INT(p.c.close_clean, 1);
  hout o;
  h_out_decode(&p.c, &o);
  CHECK_STR(hb_cstr(&o.log), "close:1000");
  h_out_free(&o);
  h_pair_free(&p);
}

/* RFC 6455 7.4.2 / 7.1.5: the API only sends codes that may appear on the
 * wire, reasons of at most 123 bytes. */
TEST(api_close_validates_code_and_reason) {
  static const uint16_t bad[] = {1, 999, 1004, 1005, 1006, 1015, 2000, 5000};
  char reason[125];
  memset(reason, 'x', sizeof reason);
  reason[124] = 0;
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  size_t before = r.out.len;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_INT(wsx_driver_close(r.d, bad[i], NULL), WSX_E_INVALID);
  CHECK_INT(wsx_driver_close(r.d, 1000, reason), WSX_E_INVALID);
  CHECK_INT(r.out.len, before);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  reason[123] = 0;
  /* 1012-1014 (IANA) are sendable too. */
  CHECK_INT(wsx_driver_close(r.d, WSX_CLOSE_TRY_AGAIN_LATER, reason), WSX_OK);
  hout o;
  h_out_decode(&r, &o);
  CHECK_STR(hb_cstr(&o.log), "close:1013");
  CHECK_INT(strlen(o.close_reason), 123);
  h_out_free(&o);
  h_rec_free(&r);
}

/* Closing handshake states: after we sent close, data from the peer that
 * was in flight is not a violation; the peer's close completes it. */
TEST(rfc7_1_3_closing_state_waits_for_peer_close) {
  H_EACH_ROLE(role) {
    hrec r;
    REQUIRE(h_open(&r, role, NULL));
    CHECK_INT(wsx_driver_close(r.d, 1001, "going"), WSX_OK);
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSING);
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "p");
    h_close_frame(&f, H_MASKED(role), 1001, NULL, 0);
    h_feed(&r, f.p, f.len, H_BYTES, 0, 0);
    CHECK_INT(r.n_close, 1);
    CHECK_INT(r.close_clean, 1);
    CHECK_INT(r.n_error, 0);
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    hout o;
    h_out_decode(&r, &o);
    CHECK_INT(o.n_close, 1); /* no second close frame */
    h_out_free(&o);
    hb_free(&f);
    h_rec_free(&r);
  }
}

/* wsx_driver_abort(): close event 1006, not clean, once; nothing written. */
TEST(api_abort_reports_1006_once) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  size_t before = r.out.len;
  wsx_driver_abort(r.d, 0, NULL);
  wsx_driver_abort(r.d, 0, NULL);
  CHECK_STR(hb_cstr(&r.log), "open;close:1006:unclean");
  CHECK_INT(r.out.len, before);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  h_rec_free(&r);
}

TEST_MAIN(RUN(rfc5_5_1_peer_close_is_echoed_and_clean);
          RUN(rfc7_1_5_close_without_code_reports_1005);
          RUN(rfc5_5_1_one_byte_close_payload_is_1002);
          RUN(rfc5_5_close_reason_123_ok_124_is_1002);
          RUN(rfc7_4_valid_close_codes_accepted);
          RUN(rfc7_4_invalid_close_codes_are_1002);
          RUN(rfc5_5_1_nothing_after_close);
          RUN(rfc7_1_2_server_initiated_close_handshake);
          RUN(rfc7_1_2_client_initiated_close_handshake);
          RUN(api_close_validates_code_and_reason);
          RUN(rfc7_1_3_closing_state_waits_for_peer_close);
          RUN(api_abort_reports_1006_once))
