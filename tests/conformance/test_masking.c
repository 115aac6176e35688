/*
 * Masking (RFC 6455 5.1, 5.3): client-to-server frames MUST be masked,
 * server-to-client frames MUST NOT be; a violation fails the connection.
 */
#include "harness.h"

/* RFC 6455 5.1: "The server MUST close the connection upon receiving a
 * frame that is not masked" (7.4.1: 1002), for data and control frames. */
TEST(rfc5_1_server_rejects_unmasked_frames) {
  static const unsigned ops[] = {WSX_OP_TEXT, WSX_OP_BINARY, WSX_OP_PING,
                                 WSX_OP_PONG, WSX_OP_CLOSE};
  for (size_t k = 0; k < 5; k++) {
    hb f = {0};
    if (ops[k] == WSX_OP_CLOSE)
      h_close_frame(&f, 0, 1000, NULL, 0);
    else
      h_frame_str(&f, H_FIN | ops[k], 0, "Hello");
    h_check_fail(H_SERVER, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL,
                 1002, NULL, "mask");
    hb_free(&f);
  }
}

/* RFC 6455 5.1: "A client MUST close a connection if it detects a masked
 * frame." */
TEST(rfc5_1_client_rejects_masked_frames) {
  static const unsigned ops[] = {WSX_OP_TEXT, WSX_OP_BINARY, WSX_OP_PING,
                                 WSX_OP_PONG, WSX_OP_CLOSE};
  for (size_t k = 0; k < 5; k++) {
    hb f = {0};
    if (ops[k] == WSX_OP_CLOSE)
      h_close_frame(&f, 1, 1000, NULL, 0);
    else
      h_frame_str(&f, H_FIN | ops[k], 1, "Hello");
    h_check_fail(H_CLIENT, NULL, f.p, f.len, H_ALL, "open", WSX_E_PROTOCOL,
                 1002, NULL, "mask");
    hb_free(&f);
  }
}

/* The mask bit is checked per frame: an unmasked frame after valid masked
 * ones, and in the middle of a fragmented message. */
TEST(rfc5_1_server_rejects_unmasked_continuation) {
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "ok");
  h_frame_str(&f, WSX_OP_TEXT, 1, "Hel");
  h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, 0, "lo");
  h_check_fail(H_SERVER, NULL, f.p, f.len, H_ALL, "open;message:text:2:ok",
               WSX_E_PROTOCOL, 1002, NULL, "mask");
  hb_free(&f);
}

/* RFC 6455 5.3: any 32-bit key is valid, including all-zero and all-one
 * keys; unmasking restarts at every frame. */
TEST(rfc5_3_any_masking_key_works) {
  static const uint8_t keys[][4] = {
      {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {1, 2, 3, 4}, {0x80, 0, 0, 1}};
  hb f = {0}, ev = {0};
  hb_str(&ev, "open");
  for (size_t k = 0; k < 4; k++) {
    char m[32];
    snprintf(m, sizeof m, "key %zu payload", k);
    h_frame_ex(&f, H_FIN | WSX_OP_TEXT, 1, keys[k], m, strlen(m), 0, strlen(m));
    h_expect_msg(&ev, "message:text", m, strlen(m));
  }
  h_check(H_SERVER, NULL, f.p, f.len, H_ALL, hb_cstr(&ev), "");
  hb_free(&f);
  hb_free(&ev);
}

/* RFC 6455 5.3: "The masking key needs to be unpredictable ... a fresh
 * masking key for each frame": 16 client frames do not all share one key,
 * and no frame uses the all-zero key twice in a row. */
TEST(rfc5_3_client_uses_fresh_masking_keys) {
  hrec r;
  REQUIRE(h_open(&r, H_CLIENT, NULL));
  for (int i = 0; i < 16; i++)
    CHECK_INT(wsx_driver_send_text(r.d, "same", 4), WSX_OK);
  hout o;
  h_out_decode(&r, &o);
  CHECK_INT(o.n_frames, 16);
  CHECK_INT(o.bad_mask, 0);
  int distinct = 0;
  for (int i = 1; i < 16; i++)
    if (memcmp(o.masks[i], o.masks[0], 4) != 0)
      distinct++;
  CHECK(distinct > 0);
  h_out_free(&o);
  h_rec_free(&r);
}

/* RFC 6455 5.1: a server never masks, including control frames and close
 * frames it sends on failure. */
TEST(rfc5_1_server_output_never_masked) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_INT(wsx_driver_send_text(p.s.d, "t", 1), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(p.s.d, "b", 1), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.s.d, "p", 1, NULL, NULL), WSX_OK);
  CHECK_INT(wsx_driver_pong(p.s.d, "q", 1), WSX_OK);
  CHECK_INT(wsx_driver_close(p.s.d, 1000, "bye"), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  hout o;
  h_out_decode(&p.s, &o);
  CHECK_INT(o.bad_mask, 0);
  CHECK_STR(hb_cstr(&o.log),
            "text:1:t;binary:1:b;ping:1:p;pong:1:q;close:1000");
  h_out_free(&o);
  h_out_decode(&p.c, &o);
  CHECK_INT(o.bad_mask, 0);
  CHECK_STR(hb_cstr(&o.log), "pong:1:p;close:1000");
  h_out_free(&o);
  CHECK_STR(hb_cstr(&p.c.log),
            "open;message:text:1:t;message:binary:1:b;ping:1:p;pong:1:q;"
            "close:1000:clean");
  h_pair_free(&p);
}

TEST_MAIN(RUN(rfc5_1_server_rejects_unmasked_frames);
          RUN(rfc5_1_client_rejects_masked_frames);
          RUN(rfc5_1_server_rejects_unmasked_continuation);
          RUN(rfc5_3_any_masking_key_works);
          RUN(rfc5_3_client_uses_fresh_masking_keys);
          RUN(rfc5_1_server_output_never_masked))
