/*
 * Conformance 5.x-style: fragmentation (RFC 6455 5.4) and the fragment
 * count limit.
 */
#include "harness.h"

/* RFC 6455 5.4: a message split into fragments is delivered as one. */
TEST(rfc5_4_text_and_binary_in_fragments) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "frag");
    h_frame_str(&f, WSX_OP_CONTINUATION, H_MASKED(role), "men");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "ted");
    h_frame_str(&f, WSX_OP_BINARY, H_MASKED(role), "bin");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "ary");
    h_check(role, NULL, f.p, f.len, H_ALL,
            "open;message:text:10:fragmented;message:binary:6:binary", "");
    hb_free(&f);
  }
}

/* RFC 6455 5.4: fragments may be empty (5.x "fragments with empty
 * payloads"). */
TEST(rfc5_4_empty_fragments) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame(&f, WSX_OP_TEXT, H_MASKED(role), "", 0);
    h_frame(&f, WSX_OP_CONTINUATION, H_MASKED(role), "", 0);
    h_frame_str(&f, WSX_OP_CONTINUATION, H_MASKED(role), "x");
    h_frame(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "", 0);
    h_check(role, NULL, f.p, f.len, H_ALL, "open;message:text:1:x", "");
    hb_free(&f);
  }
}

/* RFC 6455 5.4: "Control frames MAY be injected in the middle of a
 * fragmented message" (5.6-5.8: ping; also pong and several of them). */
TEST(rfc5_4_control_frames_interleaved) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "a");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "1");
    h_frame_str(&f, WSX_OP_CONTINUATION, H_MASKED(role), "b");
    h_frame_str(&f, H_FIN | WSX_OP_PONG, H_MASKED(role), "2");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "3");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "c");
    h_check(role, NULL, f.p, f.len, H_ALL,
            "open;ping:1:1;pong:1:2;ping:1:3;message:text:3:abc",
            "pong:1:1;pong:1:3");
    hb_free(&f);
  }
}

/* RFC 6455 5.4: a continuation frame must continue a message; one with
 * no message started (FIN set or not) is a protocol error (5.9-5.14). */
TEST(rfc5_4_continuation_without_start_is_1002) {
  H_EACH_ROLE(role) {
    for (int fin = 0; fin < 2; fin++) {
      hb f = {0};
      h_frame_str(&f, (fin ? H_FIN : 0) | WSX_OP_CONTINUATION, H_MASKED(role),
                  "orphan");
      h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                   NULL, "continuation");
      hb_free(&f);
    }
    /* After a complete message the next continuation is an orphan too. */
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "a");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "b");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "c");
    h_check_fail(role, NULL, f.p, f.len, H_ALL, "open;message:text:2:ab",
                 WSX_E_PROTOCOL, 1002, NULL, "continuation");
    hb_free(&f);
  }
}

/* RFC 6455 5.4: the fragments of one message are not interleaved with
 * another: a new text/binary frame while a message is open is 1002
 * (5.15-5.20). */
TEST(rfc5_4_new_data_frame_while_fragmented_is_1002) {
  H_EACH_ROLE(role) {
    for (unsigned op = WSX_OP_TEXT; op <= WSX_OP_BINARY; op++) {
      for (int fin = 0; fin < 2; fin++) {
        hb f = {0};
        h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "first");
        h_frame_str(&f, (fin ? H_FIN : 0) | op, H_MASKED(role), "second");
        h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL,
                     1002, NULL, "continuation");
        hb_free(&f);
      }
    }
  }
}

/* RFC 6455 5.5: control frames MUST NOT be fragmented (5.1, 5.2): a
 * ping or pong with FIN=0, then a continuation. */
TEST(rfc5_5_fragmented_control_frames_are_1002) {
  H_EACH_ROLE(role) {
    for (unsigned op = WSX_OP_PING; op <= WSX_OP_PONG; op++) {
      hb f = {0};
      h_frame_str(&f, op, H_MASKED(role), "fragmented ");
      h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "control");
      h_check_fail(role, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                   NULL, "fragment");
      hb_free(&f);
    }
  }
}

/* 4 MiB in 65,536 fragments of 64 bytes pass with the default options
 * (the rule: legitimate fragmented traffic is not limited). */
TEST(limits_65536_fragments_of_64_bytes_pass_by_default) {
  H_EACH_ROLE(role) {
    const size_t nfrag = 65536, flen = 64;
    uint8_t *all = malloc(nfrag * flen);
    h_pattern(all, nfrag * flen, 5);
    hb f = {0}, ev = {0};
    for (size_t i = 0; i < nfrag; i++) {
      unsigned b0 = (i == 0 ? WSX_OP_BINARY : WSX_OP_CONTINUATION) |
                    (i == nfrag - 1 ? H_FIN : 0);
      h_frame(&f, b0, H_MASKED(role), all + i * flen, flen);
    }
    hb_str(&ev, "open");
    h_expect_msg(&ev, "message:binary", all, nfrag * flen);
    h_check(role, NULL, f.p, f.len, H_WHOLE | H_RANDOM | H_BIG, hb_cstr(&ev),
            "");
    hb_free(&f);
    hb_free(&ev);
    free(all);
  }
}

/* max_fragments: exactly the limit passes; one more fragment is 1009. */
TEST(limits_max_fragments_exceeded_is_1009) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_fragments = 4;
  H_EACH_ROLE(role) {
    hb f = {0};
    for (int i = 0; i < 4; i++)
      h_frame_str(&f,
                  (i == 0 ? WSX_OP_TEXT : WSX_OP_CONTINUATION) |
                      (i == 3 ? H_FIN : 0),
                  H_MASKED(role), "ab");
    h_check(role, &o, f.p, f.len, H_ALL, "open;message:text:8:abababab", "");
    f.len = 0;
    for (int i = 0; i < 5; i++)
      h_frame_str(&f,
                  (i == 0 ? WSX_OP_TEXT : WSX_OP_CONTINUATION) |
                      (i == 4 ? H_FIN : 0),
                  H_MASKED(role), "ab");
    h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
                 1009, NULL, "fragment");
    hb_free(&f);
  }
}

/* Empty fragments count against max_fragments too (else a peer could
 * send endless empty continuations). */
TEST(limits_empty_fragments_count) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_fragments = 8;
  hb f = {0};
  h_frame(&f, WSX_OP_BINARY, 1, "", 0);
  for (int i = 0; i < 20; i++)
    h_frame(&f, WSX_OP_CONTINUATION, 1, "", 0);
  h_check_fail(H_SERVER, &o, f.p, f.len, H_ALL, "open", WSX_E_MESSAGE_TOO_BIG,
               1009, NULL, "fragment");
  hb_free(&f);
}

/* RFC 6455 5.5.1 with 5.4: a close frame in the middle of a fragmented
 * message closes the connection; the unfinished message is dropped. */
TEST(rfc5_4_close_inside_fragmented_message) {
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "never ");
    h_close_frame(&f, H_MASKED(role), 1000, "bye", 3);
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "finished");
    h_check(role, NULL, f.p, f.len, H_ALL, "open;close:1000:clean",
            "close:1000");
    hb_free(&f);
  }
}

/* Pair: fragmented output (send_frame) reassembled by the peer. */
TEST(rfc5_4_pair_send_frame_fragments_reassembled) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_TEXT, 0, "a", 1), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.c.d, "x", 1, NULL, NULL), WSX_OK);
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_CONTINUATION, 0, "b", 1),
            WSX_OK);
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_CONTINUATION, 1, "c", 1),
            WSX_OK);
  h_pump(&p, H_BYTES, 0);
  CHECK_STR(hb_cstr(&p.s.log), "open;ping:1:x;message:text:3:abc");
  h_pair_free(&p);
}

TEST_MAIN(RUN(rfc5_4_text_and_binary_in_fragments); RUN(rfc5_4_empty_fragments);
          RUN(rfc5_4_control_frames_interleaved);
          RUN(rfc5_4_continuation_without_start_is_1002);
          RUN(rfc5_4_new_data_frame_while_fragmented_is_1002);
          RUN(rfc5_5_fragmented_control_frames_are_1002);
          RUN(limits_65536_fragments_of_64_bytes_pass_by_default);
          RUN(limits_max_fragments_exceeded_is_1009);
          RUN(limits_empty_fragments_count);
          RUN(rfc5_4_close_inside_fragmented_message);
          RUN(rfc5_4_pair_send_frame_fragments_reassembled))
