/*
 * Conformance 4.x-style: opcodes. RFC 6455 5.2: "If an unknown opcode is
 * received, the receiving endpoint MUST _Fail the WebSocket Connection_."
 * 0x3-0x7 are reserved non-control opcodes, 0xB-0xF reserved control ones.
 */
#include "harness.h"

static const unsigned reserved_ops[] = {0x3, 0x4, 0x5, 0x6, 0x7,
                                        0xB, 0xC, 0xD, 0xE, 0xF};

/* 4.1.x / 4.2.x: each reserved opcode, with and without payload. */
TEST(rfc5_2_reserved_opcodes_are_1002) {
  H_EACH_ROLE(role) {
    for (size_t k = 0; k < 10; k++) {
      for (int with_payload = 0; with_payload < 2; with_payload++) {
        hb f = {0};
        h_frame_str(&f, H_FIN | reserved_ops[k], H_MASKED(role),
                    with_payload ? "reserved" : "");
        h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL,
                     1002, NULL, "opcode");
        hb_free(&f);
      }
    }
  }
}

/* 4.1.3 / 4.2.3: a valid message, the reserved opcode, then a ping: the
 * message is delivered, the ping is never answered. */
TEST(rfc5_2_reserved_opcode_between_valid_frames) {
  H_EACH_ROLE(role) {
    for (size_t k = 0; k < 10; k += 5) {
      hb f = {0};
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "Hello");
      h_frame_str(&f, H_FIN | reserved_ops[k], H_MASKED(role), "x");
      h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "p");
      h_check_fail(role, NULL, f.p, f.len, H_ALL, "open;message:text:5:Hello",
                   WSX_E_PROTOCOL, 1002, NULL, "opcode");
      hb_free(&f);
    }
  }
}

/* A reserved opcode without FIN, and inside a fragmented message. */
TEST(rfc5_2_reserved_opcode_unfinished_and_inside_fragments) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, 0x3, H_MASKED(role), "x");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "opcode");
    f.len = 0;
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "He");
    h_frame_str(&f, H_FIN | 0xB, H_MASKED(role), "x");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "llo");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "opcode");
    hb_free(&f);
  }
}

/* The sender side: send_frame refuses reserved opcodes (WSX_E_INVALID)
 * and writes nothing. */
TEST(api_send_frame_refuses_reserved_opcodes) {
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  size_t before = r.out.len;
  for (size_t k = 0; k < 10; k++)
    CHECK_INT(wsx_driver_send_frame(r.d, (int)reserved_ops[k], 1, "x", 1),
              WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_frame(r.d, 16, 1, "x", 1), WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_frame(r.d, -1, 1, "x", 1), WSX_E_INVALID);
  CHECK_INT(r.out.len, before);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  h_rec_free(&r);
}

TEST_MAIN(RUN(rfc5_2_reserved_opcodes_are_1002);
          RUN(rfc5_2_reserved_opcode_between_valid_frames);
          RUN(rfc5_2_reserved_opcode_unfinished_and_inside_fragments);
          RUN(api_send_frame_refuses_reserved_opcodes))
