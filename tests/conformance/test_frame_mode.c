/*
 * WebSocket-Node's frame level: frame_events (assemble_fragments = false),
 * send_frame, and fragment_outgoing_messages / fragmentation_threshold.
 */
#include "harness.h"

static wsx_driver_options frame_opts(void) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.frame_events = 1;
  return o;
}

/* frame_events: each data frame is one `frame` event, as sent (opcode,
 * fin), whatever the input split; no `message` events; control frames
 * are handled as usual (RFC 6455 5.4 interleaving). */
TEST(frame_mode_delivers_frames_as_sent) {
  wsx_driver_options o = frame_opts();
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "Hel");
    h_frame_str(&f, H_FIN | WSX_OP_PING, H_MASKED(role), "p");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "lo");
    h_frame_str(&f, H_FIN | WSX_OP_BINARY, H_MASKED(role), "bin");
    h_frame(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "", 0);
    h_check(role, &o, f.p, f.len, H_ALL,
            "open;frame:text:more:3:Hel;ping:1:p;frame:cont:fin:2:lo;"
            "frame:binary:fin:3:bin;frame:text:fin:0:",
            "pong:1:p");
    hb_free(&f);
  }
}

/* Frame mode keeps the protocol rules: UTF-8 is validated across
 * fragments (RFC 6455 8.1: 1007) and continuation rules apply (5.4:
 * 1002). */
TEST(frame_mode_still_validates_utf8_across_fragments) {
  wsx_driver_options o = frame_opts();
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "caf\xc3");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "\xa9");
    hb ev = {0};
    hb_str(&ev, "open");
    h_expect_msg(&ev, "frame:text:more", "caf\xc3", 4);
    h_expect_msg(&ev, "frame:cont:fin", "\xa9", 1);
    h_check(role, &o, f.p, f.len, H_ALL, hb_cstr(&ev), "");
    f.len = 0;
    h_frame_str(&f, WSX_OP_TEXT, H_MASKED(role), "caf\xc3");
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "A");
    /* The first frame is valid so far and is delivered; the 2nd fails. */
    ev.len = 0;
    hb_str(&ev, "open");
    h_expect_msg(&ev, "frame:text:more", "caf\xc3", 4);
    h_check_fail(role, &o, f.p, f.len, H_ALL, hb_cstr(&ev), WSX_E_UTF8, 1007,
                 NULL, "UTF-8");
    f.len = 0;
    h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, H_MASKED(role), "orphan");
    h_check_fail(role, &o, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL, 1002,
                 NULL, "continuation");
    hb_free(&ev);
    hb_free(&f);
  }
}

/* A truncated sequence at the end of the final fragment is invalid in
 * frame mode too. */
TEST(frame_mode_truncated_utf8_at_message_end_is_1007) {
  wsx_driver_options o = frame_opts();
  H_EACH_ROLE(role) {
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "caf\xc3");
    hrec r;
    REQUIRE(h_run(&r, role, &o, f.p, f.len, H_WHOLE, 0));
    CHECK_INT(r.n_error, 1);
    CHECK_INT(r.err_code, WSX_E_UTF8);
    hout d;
    h_out_decode(&r, &d);
    CHECK_STR(hb_cstr(&d.log), "close:1007");
    h_out_free(&d);
    h_rec_free(&r);
    hb_free(&f);
  }
}

/* send_frame: frames leave exactly as requested; the peer (message mode)
 * reassembles them. */
TEST(send_frame_builds_fragmented_message) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_send_frame(p.s.d, WSX_OP_BINARY, 0, "ab", 2), WSX_OK);
  CHECK_INT(wsx_driver_send_frame(p.s.d, WSX_OP_CONTINUATION, 1, "cd", 2),
            WSX_OK);
  /* Control frames must be final and <= 125 bytes. */
  uint8_t big[126] = {0};
  CHECK_INT(wsx_driver_send_frame(p.s.d, WSX_OP_PING, 0, "x", 1),
            WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_frame(p.s.d, WSX_OP_PING, 1, big, 126),
            WSX_E_INVALID);
  h_pump(&p, H_RANDOM, 1);
  CHECK_STR(hb_cstr(&p.c.log), "open;message:binary:4:abcd");
  hout o;
  h_out_decode(&p.s, &o);
  CHECK_STR(hb_cstr(&o.log), "binary:more:2:ab;cont:2:cd");
  h_out_free(&o);
  h_pair_free(&p);
}

/* fragment_outgoing_messages: messages longer than the threshold leave in
 * frames of at most `threshold` bytes (first with the opcode, then
 * continuations, FIN on the last); the peer reassembles them. */
TEST(fragment_outgoing_messages_threshold) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.fragment_outgoing_messages = 1;
  o.fragmentation_threshold = 100;
  hpair p;
  REQUIRE(h_pair_open(&p, &o, &o));
  char m[251];
  h_pattern((uint8_t *)m, 250, 3);
  m[250] = 0;
  CHECK_INT(wsx_driver_send_text(p.c.d, m, 250), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(p.s.d, m, 100), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(p.s.d, m, 201), WSX_OK);
  h_pump(&p, H_RANDOM, 2);
  hout oc, os;
  h_out_decode(&p.c, &oc);
  h_out_decode(&p.s, &os);
  char want[256];
  snprintf(want, sizeof want,
           "text:more:100:#%08x;cont:more:100:#%08x;"
           "cont:50:#%08x",
           h_hash(m, 100), h_hash(m + 100, 100), h_hash(m + 200, 50));
  CHECK_STR(hb_cstr(&oc.log), want);
  snprintf(want, sizeof want,
           "binary:100:#%08x;binary:more:100:#%08x;"
           "cont:more:100:#%08x;cont:1:%c",
           h_hash(m, 100), h_hash(m, 100), h_hash(m + 100, 100), m[200]);
  CHECK_STR(hb_cstr(&os.log), want);
  CHECK_INT(p.s.n_message, 1);
  CHECK_MEM(p.s.msg.p, p.s.msg.len, m, 250);
  CHECK_INT(p.c.n_message, 2);
  CHECK_MEM(p.c.msg.p, p.c.msg.len, m, 201);
  h_out_free(&oc);
  h_out_free(&os);
  h_pair_free(&p);
}

/* The default threshold is 16 KiB. */
TEST(fragment_outgoing_default_threshold_16k) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.fragment_outgoing_messages = 1;
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, &o));
  size_t n = 40000;
  uint8_t *b = calloc(1, n);
  CHECK_INT(wsx_driver_send_binary(r.d, b, n), WSX_OK);
  hout d;
  h_out_decode(&r, &d);
  CHECK_INT(d.n_frames, 3);
  CHECK_INT(d.total_payload, n);
  CHECK_INT(d.last_op, WSX_OP_CONTINUATION);
  h_out_free(&d);
  free(b);
  h_rec_free(&r);
}

/* Off by default: a long message is one frame. */
TEST(fragment_outgoing_off_by_default) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  uint8_t *b = calloc(1, 100000);
  CHECK_INT(wsx_driver_send_binary(r.d, b, 100000), WSX_OK);
  hout d;
  h_out_decode(&r, &d);
  CHECK_INT(d.n_frames, 1);
  h_out_free(&d);
  free(b);
  h_rec_free(&r);
}

TEST_MAIN(RUN(frame_mode_delivers_frames_as_sent);
          RUN(frame_mode_still_validates_utf8_across_fragments);
          RUN(frame_mode_truncated_utf8_at_message_end_is_1007);
          RUN(send_frame_builds_fragmented_message);
          RUN(fragment_outgoing_messages_threshold);
          RUN(fragment_outgoing_default_threshold_16k);
          RUN(fragment_outgoing_off_by_default))
