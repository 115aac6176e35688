/*
 * Conformance 3.x-style: reserved bits. RFC 6455 5.2: RSV1, RSV2, RSV3
 * "MUST be 0 unless an extension is negotiated that defines meanings for
 * non-zero values. If a nonzero value is received and none of the
 * negotiated extensions defines the meaning of such a nonzero value, the
 * receiving endpoint MUST _Fail the WebSocket Connection_." (7.4.1: 1002)
 */
#include "harness.h"

/* Every RSV combination on a text frame with nothing negotiated. */
TEST(rfc5_2_rsv_bits_without_extension_on_text_are_1002) {
  H_EACH_ROLE(role) {
    for (unsigned rsv = 1; rsv <= 7; rsv++) {
      hb f = {0};
      h_frame_str(&f, H_FIN | (rsv << 4) | WSX_OP_TEXT, H_MASKED(role),
                  "Hello");
      h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                   NULL, "RSV");
      hb_free(&f);
    }
  }
}

/* 3.x: the same on binary, ping, pong, close and continuation frames. */
TEST(rfc5_2_rsv_bits_on_every_opcode_are_1002) {
  static const unsigned ops[] = {WSX_OP_BINARY, WSX_OP_PING, WSX_OP_PONG,
                                 WSX_OP_CLOSE};
  H_EACH_ROLE(role) {
    for (size_t k = 0; k < 4; k++) {
      for (unsigned rsv = 1; rsv <= 7; rsv++) {
        hb f = {0};
        h_frame(&f, H_FIN | (rsv << 4) | ops[k], H_MASKED(role), "\x03\xe8", 2);
        h_check_fail(role, NULL, f.p, f.len, H_WHOLE | H_BYTES, "open",
                     WSX_E_PROTOCOL, 1002, NULL, "RSV");
        hb_free(&f);
      }
    }
    /* On a continuation frame of an otherwise valid message. */
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "Hel");
    h_frame_str(&f, H_FIN | WSX_RSV2 | WSX_OP_CONTINUATION, H_MASKED(role),
                "lo");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "RSV");
    hb_free(&f);
  }
}

/* 3.2/3.3: a valid message before the bad frame is delivered; a ping
 * after it is not answered (the connection is failed). */
TEST(rfc5_2_rsv_after_valid_message_then_ping_unanswered) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "Hello");
    h_frame_str(&f, H_FIN | WSX_RSV2 | WSX_OP_TEXT, H_MASKED(role), "Hello");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "later");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open;message:text:5:Hello",
                 WSX_E_PROTOCOL, 1002, NULL, "RSV");
    hb_free(&f);
  }
}

/* Fail fast: the RSV bits are in the first byte: the close goes out
 * before the rest of the frame arrives. */
TEST(rfc5_2_rsv_fails_on_header_before_payload) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_ex(&f, H_FIN | WSX_RSV1 | WSX_OP_TEXT, H_MASKED(role), NULL, "", 0,
               0, 100);
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "RSV");
    hb_free(&f);
  }
}

TEST_MAIN(RUN(rfc5_2_rsv_bits_without_extension_on_text_are_1002);
          RUN(rfc5_2_rsv_bits_on_every_opcode_are_1002);
          RUN(rfc5_2_rsv_after_valid_message_then_ping_unanswered);
          RUN(rfc5_2_rsv_fails_on_header_before_payload))
