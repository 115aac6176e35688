/*
 * The opening handshake (RFC 6455 4.1 client, 4.2 server), both roles,
 * every request/response fed whole, byte by byte and at random splits.
 */
#include "harness.h"

/* Status code of the first HTTP head in r->out (0 if none). */
static int out_status(const hrec *r) {
  if (r->out.len < 12 || memcmp(r->out.p, "HTTP/1.1 ", 9) != 0)
    return 0;
  return atoi((const char *)r->out.p + 9);
}

/* Feeds `req` to a raw server (auto start) in `mode`; returns the status
 * code it answered. */
static int serve(hrec *r, const wsx_driver_options *o, const char *req,
                 int mode, uint64_t seed) {
  if (!h_server_new(r, o, NULL))
    return -1;
  h_feed(r, (const uint8_t *)req, strlen(req), mode, seed, 13);
  return out_status(r);
}

/* Checks that `req` is refused with `status` in every mode: an error event
 * (WSX_E_HANDSHAKE, no close frame), one close event, no open. */
static void check_refused(const char *req, int status, const char *why) {
  for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
    hrec r;
    int st = serve(&r, NULL, req, mode, 5);
    if (st != status)
      TEST_FAILF_("%s: status %d, expected %d", why, st, status);
    if (r.n_open || r.n_error != 1 || r.n_close != 1)
      TEST_FAILF_("%s: events \"%s\", expected one error and one close", why,
                  hb_cstr(&r.log));
    else if (r.err_code != WSX_E_HANDSHAKE || r.err_close_code != 0 ||
             !r.err_msg[0])
      TEST_FAILF_("%s: error %d (%s) close_code %u", why, r.err_code, r.err_msg,
                  r.err_close_code);
    size_t end = h_head_end(r.out.p, r.out.len);
    if (!end)
      TEST_FAILF_("%s: no complete HTTP response", why);
    /* The refusal explains itself: a reason phrase and a body. */
    else if (r.out.len == end && st == 400)
      TEST_FAILF_("%s: 400 response without a body", why);
    h_rec_free(&r);
  }
}

/* RFC 6455 4.2.2 / 1.3: the example key and its accept value. */
TEST(rfc4_2_2_accept_key_example) {
  char acc[29];
  wsx_accept_key(H_KEY, strlen(H_KEY), acc);
  CHECK_STR(acc, H_ACCEPT);
}

/* RFC 6455 4.2.2: the 101 response: status, Upgrade, Connection, accept;
 * in every split of the request. */
TEST(rfc4_2_2_server_answers_101_with_accept) {
  for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
    hrec r;
    CHECK_INT(serve(&r, NULL, H_REQUEST, mode, 7), 101);
    char v[128];
    CHECK(h_head_value(&r.out, "Sec-WebSocket-Accept", v, sizeof v));
    CHECK_STR(v, H_ACCEPT);
    CHECK(h_head_value(&r.out, "Upgrade", v, sizeof v));
    CHECK(strcasecmp(v, "websocket") == 0);
    CHECK(h_head_value(&r.out, "Connection", v, sizeof v));
    CHECK(strcasecmp(v, "Upgrade") == 0);
    CHECK(!h_head_value(&r.out, "Sec-WebSocket-Protocol", v, sizeof v));
    CHECK_INT(r.n_connect, 1);
    CHECK_INT(r.n_open, 1);
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
    CHECK_STR(wsx_driver_version(r.d), "hybi-13");
    CHECK_STR(wsx_driver_protocol(r.d), "");
    h_rec_free(&r);
  }
}

#define REQ_WITHOUT(line_a, line_b, line_c, line_d)                            \
  "GET /chat HTTP/1.1\r\nHost: example.com\r\n" line_a line_b line_c line_d    \
  "\r\n"
#define L_UPG "Upgrade: websocket\r\n"
#define L_CON "Connection: Upgrade\r\n"
#define L_KEY "Sec-WebSocket-Key: " H_KEY "\r\n"
#define L_VER "Sec-WebSocket-Version: 13\r\n"

/* RFC 6455 4.2.1: the server MUST check each required header; without one
 * it answers 400 (4.2.1 "the server MUST stop processing the client's
 * handshake and return an HTTP response with an appropriate error code
 * (such as 400 Bad Request)"). */
TEST(rfc4_2_1_missing_or_invalid_headers_get_400) {
  check_refused(REQ_WITHOUT("", L_CON, L_KEY, L_VER), 400, "no Upgrade");
  check_refused(REQ_WITHOUT("Upgrade: h2c\r\n", L_CON, L_KEY, L_VER), 400,
                "Upgrade: h2c");
  check_refused(REQ_WITHOUT(L_UPG, "", L_KEY, L_VER), 400, "no Connection");
  check_refused(REQ_WITHOUT(L_UPG, "Connection: keep-alive\r\n", L_KEY, L_VER),
                400, "Connection without upgrade");
  check_refused(REQ_WITHOUT(L_UPG, L_CON, "", L_VER), 400, "no key");
  /* RFC 6455 4.2.1 item 5: the key base64-decodes to 16 bytes. */
  check_refused(REQ_WITHOUT(L_UPG, L_CON,
                            "Sec-WebSocket-Key: not base64 at all!\r\n", L_VER),
                400, "key not base64");
  check_refused(REQ_WITHOUT(L_UPG, L_CON,
                            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n",
                            L_VER),
                400, "key of 15 bytes");
  check_refused(REQ_WITHOUT(L_UPG, L_CON,
                            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n",
                            L_VER),
                400, "key of 17 bytes");
  check_refused(REQ_WITHOUT(L_UPG, L_CON, "Sec-WebSocket-Key: \r\n", L_VER),
                400, "empty key");
  /* RFC 6455 4.1 item 2: "The method of the request MUST be GET". */
  check_refused(
      "POST /chat HTTP/1.1\r\nHost: example.com\r\n" L_UPG L_CON L_KEY L_VER
      "Content-Length: 0\r\n\r\n",
      400, "POST");
  /* RFC 6455 4.1 item 2: "the HTTP version MUST be at least 1.1". */
  check_refused(
      "GET /chat HTTP/1.0\r\nHost: example.com\r\n" L_UPG L_CON L_KEY L_VER
      "\r\n",
      400, "HTTP/1.0");
}

/* RFC 6455 4.2.1 item 6 / 4.4: version 13 (and the identical framing of 8
 * and 7, per the issue) is accepted; any other is answered 426 with
 * "Sec-WebSocket-Version: 13, 8, 7". */
TEST(rfc4_4_versions_13_8_7_accepted_others_426) {
  static const char *ok[] = {"13", "8", "7"};
  for (size_t i = 0; i < 3; i++) {
    char req[512];
    snprintf(req, sizeof req,
             REQ_WITHOUT(L_UPG, L_CON, L_KEY, "Sec-WebSocket-Version: %s\r\n"),
             ok[i]);
    hrec r;
    CHECK_INT(serve(&r, NULL, req, H_BYTES, 0), 101);
    CHECK_INT(r.n_open, 1);
    h_rec_free(&r);
  }
  static const char *bad[] = {"0", "6", "9", "12", "14", "25", "abc"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char req[512];
    snprintf(req, sizeof req,
             REQ_WITHOUT(L_UPG, L_CON, L_KEY, "Sec-WebSocket-Version: %s\r\n"),
             bad[i]);
    check_refused(req, 426, bad[i]);
    hrec r;
    CHECK_INT(serve(&r, NULL, req, H_WHOLE, 0), 426);
    char v[64];
    CHECK(h_head_value(&r.out, "Sec-WebSocket-Version", v, sizeof v));
    CHECK_STR(v, "13, 8, 7");
    h_rec_free(&r);
  }
  /* A request without any version is malformed (4.2.1 item 6): 400 or
   * 426 are both fair answers, but it must be refused. */
  hrec r;
  int st = serve(&r, NULL, REQ_WITHOUT(L_UPG, L_CON, L_KEY, ""), H_WHOLE, 0);
  CHECK(st == 400 || st == 426);
  CHECK_INT(r.n_open, 0);
  CHECK_INT(r.n_error, 1);
  h_rec_free(&r);
}

/* RFC 6455 4.2.1 items 3-4 and RFC 7230 6.1: Upgrade and Connection are
 * case-insensitive, Connection is a token list. */
TEST(rfc4_2_1_connection_token_list_and_case) {
  static const char *reqs[] = {
      REQ_WITHOUT("Upgrade: WebSocket\r\n",
                  "Connection: keep-alive, Upgrade\r\n", L_KEY, L_VER),
      REQ_WITHOUT("upgrade: websocket\r\n", "connection: upgrade\r\n", L_KEY,
                  L_VER),
      REQ_WITHOUT(L_UPG, "Connection: Upgrade , keep-alive\r\n", L_KEY, L_VER),
      REQ_WITHOUT(L_UPG, "Connection: keep-alive\r\nConnection: Upgrade\r\n",
                  L_KEY, L_VER),
  };
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    hrec r;
    int st = serve(&r, NULL, reqs[i], H_RANDOM, i);
    if (st != 101)
      TEST_FAILF_("request %zu answered %d (%s)", i, st, r.err_msg);
    h_rec_free(&r);
  }
}

/* RFC 6455 4.2.2 item 5.4: the server selects one of the client's
 * protocols (wsx: the first client offer it supports) and echoes it. */
TEST(rfc4_2_2_subprotocol_first_client_offer_supported) {
  static const char *const protos[] = {"chat", "superchat", NULL};
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.protocols = protos;
  const char *req = REQ_WITHOUT(L_UPG, L_CON, L_KEY,
                                L_VER "Sec-WebSocket-Protocol: v2, superchat, "
                                      "chat\r\n");
  hrec r;
  CHECK_INT(serve(&r, &o, req, H_BYTES, 0), 101);
  char v[64];
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Protocol", v, sizeof v));
  CHECK_STR(v, "superchat");
  CHECK_STR(wsx_driver_protocol(r.d), "superchat");
  h_rec_free(&r);
  /* No overlap: no header, no protocol, connection still accepted. */
  req = REQ_WITHOUT(L_UPG, L_CON, L_KEY,
                    L_VER "Sec-WebSocket-Protocol: v2, v3\r\n");
  CHECK_INT(serve(&r, &o, req, H_WHOLE, 0), 101);
  CHECK(!h_head_value(&r.out, "Sec-WebSocket-Protocol", v, sizeof v));
  CHECK_STR(wsx_driver_protocol(r.d), "");
  h_rec_free(&r);
}

static const char *pick_second(wsx_driver *d, const char *const *offered,
                               size_t n, void *ud) {
  (void)d;
  hrec *r = ud;
  r->n_ping_cb = (int)n; /* reuse a counter to record n */
  return n >= 2 ? offered[1] : NULL;
}

/* select_protocol: the application chooses among the client's offers. */
TEST(api_select_protocol_callback) {
  wsx_driver_callbacks cb = h_callbacks();
  cb.select_protocol = pick_second;
  hrec r;
  REQUIRE(h_server_new(&r, NULL, &cb));
  const char *req = REQ_WITHOUT(L_UPG, L_CON, L_KEY,
                                L_VER "Sec-WebSocket-Protocol: a, b, c\r\n");
  h_feed(&r, (const uint8_t *)req, strlen(req), H_WHOLE, 0, 0);
  CHECK_INT(out_status(&r), 101);
  CHECK_INT(r.n_ping_cb, 3);
  char v[64];
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Protocol", v, sizeof v));
  CHECK_STR(v, "b");
  CHECK_STR(wsx_driver_protocol(r.d), "b");
  h_rec_free(&r);
}

/* Raw server mode: `connect` exposes the request; the application
 * decides; is_websocket tells upgrades from plain requests. */
TEST(api_raw_server_connect_exposes_request) {
  hrec r;
  REQUIRE(h_server_new(&r, NULL, NULL));
  r.auto_start = 0;
  const char *req = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "X-Custom: yes\r\n" L_UPG L_CON L_KEY L_VER "\r\n";
  h_feed(&r, (const uint8_t *)req, strlen(req), H_BYTES, 0, 0);
  CHECK_INT(r.n_connect, 1);
  CHECK_INT(r.out.len, 0);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CONNECTING);
  const wsx_http_request *q = wsx_driver_request(r.d);
  REQUIRE(q != NULL);
  CHECK_MEM(q->method, q->method_len, "GET", 3);
  CHECK_MEM(q->target, q->target_len, "/chat?room=1", 12);
  size_t vl = 0;
  const char *v = wsx_header_find(q->headers, q->num_headers, "x-custom", &vl);
  CHECK(v && vl == 3 && memcmp(v, "yes", 3) == 0);
  CHECK(wsx_driver_is_websocket(r.d));
  /* url: scheme + Host + target once the request is known. */
  CHECK_STR(wsx_driver_url(r.d), "ws://example.com/chat?room=1");
  size_t nh = 0;
  CHECK(wsx_driver_headers(r.d, &nh) != NULL);
  CHECK_INT(nh, 6);
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_INT(out_status(&r), 101);
  CHECK_INT(r.n_open, 1);
  CHECK_INT(wsx_driver_start(r.d), WSX_E_STATE);
  h_rec_free(&r);

  /* A plain HTTP request: not a WebSocket; the body is available. */
  REQUIRE(h_server_new(&r, NULL, NULL));
  r.auto_start = 0;
  req = "POST /form HTTP/1.1\r\nHost: example.com\r\n"
        "Content-Length: 5\r\n\r\nhello";
  h_feed(&r, (const uint8_t *)req, strlen(req), H_WHOLE, 0, 0);
  CHECK_INT(r.n_connect, 1);
  CHECK(!wsx_driver_is_websocket(r.d));
  size_t bl = 0;
  const uint8_t *body = wsx_driver_body(r.d, &bl);
  CHECK_MEM(body, bl, "hello", 5);
  h_rec_free(&r);

  /* start() before the request is known is a state error. */
  REQUIRE(h_server_new(&r, NULL, NULL));
  CHECK_INT(wsx_driver_start(r.d), WSX_E_STATE);
  h_rec_free(&r);
}

/* RFC 6455 4.2.2 + 5: frames may follow the request in the same read:
 * "bytes after the head are processed". */
TEST(rfc4_2_frames_after_request_in_same_buffer) {
  hb f = {0};
  hb_str(&f, H_REQUEST);
  h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "early");
  h_frame_str(&f, H_FIN | WSX_OP_PING, 1, "p");
  for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
    hrec r;
    REQUIRE(h_server_new(&r, NULL, NULL));
    h_feed(&r, f.p, f.len, mode, 3, 40);
    CHECK_STR(hb_cstr(&r.log), "open;message:text:5:early;ping:1:p");
    hout o;
    h_out_decode(&r, &o);
    CHECK_STR(hb_cstr(&o.log), "pong:1:p");
    h_out_free(&o);
    h_rec_free(&r);
  }
  hb_free(&f);
}

/* A server from an already parsed request (websocket-driver's http()). */
TEST(api_server_from_parsed_request) {
  wsx_header hs[5] = {
      {"Host", 4, "example.com", 11},
      {"Upgrade", 7, "websocket", 9},
      {"Connection", 10, "Upgrade", 7},
      {"Sec-WebSocket-Key", 17, H_KEY, 24},
      {"Sec-WebSocket-Version", 21, "13", 2},
  };
  wsx_http_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.method_len = 3;
  req.target = "/";
  req.target_len = 1;
  req.minor_version = 1;
  req.headers = hs;
  req.num_headers = 5;
  CHECK(wsx_is_websocket_request(&req));
  hrec r;
  memset(&r, 0, sizeof r);
  r.role = H_SERVER;
  wsx_driver_callbacks cb = h_callbacks();
  r.d = wsx_driver_new_server_request(&req, NULL, &cb, &r);
  REQUIRE(r.d);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Server", "wsx"), WSX_OK);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Bad", "a\r\nInjected: 1"),
            WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_INT(out_status(&r), 101);
  char v[64];
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Accept", v, sizeof v));
  CHECK_STR(v, H_ACCEPT);
  CHECK(h_head_value(&r.out, "X-Server", v, sizeof v));
  CHECK(!h_head_value(&r.out, "Injected", v, sizeof v));
  CHECK_INT(wsx_driver_set_header(r.d, "X-Late", "1"), WSX_E_STATE);
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "hi");
  h_feed(&r, f.p, f.len, H_BYTES, 0, 0);
  CHECK_STR(hb_cstr(&r.log), "open;message:text:2:hi");
  hb_free(&f);
  h_rec_free(&r);

  /* The parsed request is validated in start(). */
  hs[4].value = "99";
  memset(&r, 0, sizeof r);
  r.d = wsx_driver_new_server_request(&req, NULL, &cb, &r);
  REQUIRE(r.d);
  CHECK_INT(wsx_driver_start(r.d), WSX_E_HANDSHAKE);
  CHECK_INT(out_status(&r), 426);
  CHECK_INT(r.n_error, 1);
  CHECK_INT(r.n_close, 1);
  h_rec_free(&r);
}

/* The HTTP head size limit: a head over max_head_size is refused without
 * buffering it all. */
TEST(limits_request_head_over_max_head_size) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_head_size = 512;
  hb req = {0};
  hb_str(&req, "GET /chat HTTP/1.1\r\nHost: example.com\r\nX-Pad: ");
  for (int i = 0; i < 600; i++)
    hb_str(&req, "p");
  hb_str(&req, "\r\n" L_UPG L_CON L_KEY L_VER "\r\n");
  for (int mode = H_WHOLE; mode <= H_BYTES; mode <<= 1) {
    hrec r;
    REQUIRE(h_server_new(&r, &o, NULL));
    h_feed(&r, req.p, req.len, mode, 0, 0);
    CHECK_INT(r.n_open, 0);
    CHECK_INT(r.n_error, 1);
    CHECK_INT(r.err_code, WSX_E_HEAD_TOO_BIG);
    CHECK_INT(r.n_close, 1);
    h_rec_free(&r);
  }
  hb_free(&req);
}

/* ------------------------------------------------------------- client */

/* RFC 6455 4.1: the client request: GET, Host (with a non-default port),
 * Upgrade, Connection, a key of 16 random bytes in base64, version 13,
 * Origin, protocols and custom headers. */
TEST(rfc4_1_client_request_fields) {
  static const char *const protos[] = {"chat", "superchat", NULL};
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.protocols = protos;
  o.origin = "http://example.com";
  hrec r;
  REQUIRE(h_client_new(&r, "ws://example.com:8080/chat?x=1", &o, NULL));
  CHECK_INT(wsx_driver_set_header(r.d, "X-Token", "abc"), WSX_OK);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Evil", "a\nb"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Evil", "a\rb"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "Bad Name", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CONNECTING);
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Late", "1"), WSX_E_STATE);
  CHECK_INT(wsx_driver_start(r.d), WSX_E_STATE);
  const char *s = (const char *)r.out.p;
  CHECK(r.out.len > 30 && strncmp(s, "GET /chat?x=1 HTTP/1.1\r\n", 24) == 0);
  CHECK_INT(h_head_end(r.out.p, r.out.len), r.out.len);
  char v[256];
  CHECK(h_head_value(&r.out, "Host", v, sizeof v));
  CHECK_STR(v, "example.com:8080");
  CHECK(h_head_value(&r.out, "Upgrade", v, sizeof v));
  CHECK(strcasecmp(v, "websocket") == 0);
  CHECK(h_head_value(&r.out, "Connection", v, sizeof v));
  CHECK(strcasecmp(v, "Upgrade") == 0);
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Version", v, sizeof v));
  CHECK_STR(v, "13");
  CHECK(h_head_value(&r.out, "Origin", v, sizeof v));
  CHECK_STR(v, "http://example.com");
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Protocol", v, sizeof v));
  CHECK_STR(v, "chat, superchat");
  CHECK(h_head_value(&r.out, "X-Token", v, sizeof v));
  CHECK_STR(v, "abc");
  CHECK(!h_head_value(&r.out, "X-Evil", v, sizeof v));
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Key", v, sizeof v));
  CHECK_INT(strlen(v), 24);
  CHECK(v[22] == '=' && v[23] == '=');
  h_rec_free(&r);
  /* Default port: Host without it. */
  REQUIRE(h_client_new(&r, "ws://example.com/", NULL, NULL));
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK(h_head_value(&r.out, "Host", v, sizeof v));
  CHECK_STR(v, "example.com");
  CHECK(!h_head_value(&r.out, "Origin", v, sizeof v));
  h_rec_free(&r);
}

/* RFC 6455 4.1 item 7: "The nonce MUST be selected randomly for each
 * connection". */
TEST(rfc4_1_client_keys_differ) {
  char k1[64] = "", k2[64] = "";
  hrec a, b;
  REQUIRE(h_client_new(&a, NULL, NULL, NULL));
  REQUIRE(h_client_new(&b, NULL, NULL, NULL));
  CHECK_INT(wsx_driver_start(a.d), WSX_OK);
  CHECK_INT(wsx_driver_start(b.d), WSX_OK);
  CHECK(h_head_value(&a.out, "Sec-WebSocket-Key", k1, sizeof k1));
  CHECK(h_head_value(&b.out, "Sec-WebSocket-Key", k2, sizeof k2));
  CHECK(strcmp(k1, k2) != 0);
  h_rec_free(&a);
  h_rec_free(&b);
}

/* Runs a client against `response` (built by `build` from the client's own
 * request); returns the recorder. */
static void client_against(hrec *r, const wsx_driver_options *o,
                           const char *status_line, const char *accept_over,
                           const char *extra, int mode) {
  REQUIRE(h_client_new(r, NULL, o, NULL));
  REQUIRE(wsx_driver_start(r->d) == WSX_OK);
  char key[64] = "", acc[29];
  h_head_value(&r->out, "Sec-WebSocket-Key", key, sizeof key);
  wsx_accept_key(key, strlen(key), acc);
  hb resp = {0};
  hb_printf(&resp, "%s\r\n", status_line);
  hb_printf(&resp, "Sec-WebSocket-Accept: %s\r\n",
            accept_over ? accept_over : acc);
  hb_str(&resp, extra);
  hb_str(&resp, "\r\n");
  size_t before = r->out.len;
  h_feed(r, resp.p, resp.len, mode, 9, 11);
  (void)before;
  hb_free(&resp);
}

static void check_client_refuses(const wsx_driver_options *o,
                                 const char *status_line,
                                 const char *accept_over, const char *extra,
                                 const char *why) {
  for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
    hrec r;
    client_against(&r, o, status_line, accept_over, extra, mode);
    size_t req_len = h_head_end(r.out.p, r.out.len);
    if (r.n_open || r.n_error != 1 || r.n_close != 1)
      TEST_FAILF_("%s: events \"%s\", expected one error and one close", why,
                  hb_cstr(&r.log));
    else if (r.err_code != WSX_E_HANDSHAKE || !r.err_msg[0])
      TEST_FAILF_("%s: error %d \"%s\"", why, r.err_code, r.err_msg);
    if (r.out.len != req_len)
      TEST_FAILF_("%s: %zu bytes written after the request", why,
                  r.out.len - req_len);
    if (wsx_driver_send_text(r.d, "x", 1) == WSX_OK)
      TEST_FAILF_("%s: send_text after a failed handshake succeeded", why);
    h_rec_free(&r);
  }
}

#define OK_101 "HTTP/1.1 101 Switching Protocols"
#define UC "Upgrade: websocket\r\nConnection: Upgrade\r\n"

/* RFC 6455 4.1 (client validation of the response): status 101, Upgrade,
 * Connection, accept value; otherwise "the client MUST _Fail the
 * WebSocket Connection_". */
TEST(rfc4_1_client_validates_response) {
  check_client_refuses(NULL, "HTTP/1.1 200 OK", NULL, UC, "status 200");
  check_client_refuses(NULL, "HTTP/1.1 403 Forbidden", NULL, UC, "status 403");
  check_client_refuses(NULL, OK_101, H_ACCEPT, UC, "wrong accept");
  check_client_refuses(NULL, OK_101, "", UC, "empty accept");
  check_client_refuses(NULL, OK_101, NULL, "Connection: Upgrade\r\n",
                       "missing Upgrade");
  check_client_refuses(NULL, OK_101, NULL,
                       "Upgrade: h2c\r\nConnection: Upgrade\r\n",
                       "Upgrade: h2c");
  check_client_refuses(NULL, OK_101, NULL, "Upgrade: websocket\r\n",
                       "missing Connection");
  /* RFC 6455 4.1 items 5/6: an extension or protocol the client did not
   * offer. */
  check_client_refuses(NULL, OK_101, NULL,
                       UC "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                       "extension not offered");
  check_client_refuses(NULL, OK_101, NULL,
                       UC "Sec-WebSocket-Protocol: chat\r\n",
                       "protocol when none offered");
  static const char *const protos[] = {"chat", NULL};
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.protocols = protos;
  check_client_refuses(&o, OK_101, NULL,
                       UC "Sec-WebSocket-Protocol: superchat\r\n",
                       "protocol not offered");
}

/* The status code is exposed even when the handshake fails. */
TEST(api_client_status_code_on_refusal) {
  hrec r;
  client_against(&r, NULL, "HTTP/1.1 403 Forbidden", NULL, UC, H_WHOLE);
  CHECK_INT(wsx_driver_status_code(r.d), 403);
  h_rec_free(&r);
}

/* A valid response: open, status_code 101, headers, chosen protocol;
 * frames after the response in the same buffer are processed. */
TEST(rfc4_1_client_accepts_valid_response) {
  static const char *const protos[] = {"chat", "superchat", NULL};
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.protocols = protos;
  for (int mode = H_WHOLE; mode <= H_RANDOM; mode <<= 1) {
    hrec r;
    REQUIRE(h_client_new(&r, NULL, &o, NULL));
    CHECK_INT(wsx_driver_status_code(r.d), 0);
    REQUIRE(wsx_driver_start(r.d) == WSX_OK);
    hb resp = {0};
    h_server_response(&r,
                      "Sec-WebSocket-Protocol: superchat\r\n"
                      "X-Extra: 1\r\n",
                      &resp);
    h_frame_str(&resp, H_FIN | WSX_OP_TEXT, 0, "welcome");
    h_feed(&r, resp.p, resp.len, mode, 4, 9);
    CHECK_STR(hb_cstr(&r.log), "open;message:text:7:welcome");
    CHECK_INT(wsx_driver_status_code(r.d), 101);
    CHECK_STR(wsx_driver_protocol(r.d), "superchat");
    size_t n = 0;
    const wsx_header *h = wsx_driver_headers(r.d, &n);
    size_t vl = 0;
    const char *v = wsx_header_find(h, n, "x-extra", &vl);
    CHECK(v && vl == 1 && v[0] == '1');
    hb_free(&resp);
    h_rec_free(&r);
  }
}

/* Messages sent before open are queued (copied) and flushed, in order,
 * right after the handshake. */
TEST(api_messages_before_open_are_queued) {
  hpair p;
  memset(&p, 0, sizeof p);
  REQUIRE(h_client_new(&p.c, "ws://localhost/", NULL, NULL));
  REQUIRE(h_server_new(&p.s, NULL, NULL));
  char buf[8] = "first";
  CHECK_INT(wsx_driver_send_text(p.c.d, buf, 5), WSX_OK);
  memcpy(buf, "XXXXX", 5); /* the driver must have copied it */
  CHECK_INT(wsx_driver_send_binary(p.c.d, "second", 6), WSX_OK);
  CHECK_INT(wsx_driver_ping(p.c.d, "pq", 2, h_ping_cb, &p.c), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CONNECTING);
  CHECK_INT(p.c.out.len, 0);
  CHECK_INT(wsx_driver_start(p.c.d), WSX_OK);
  h_pump(&p, H_BYTES, 0);
  CHECK_STR(hb_cstr(&p.s.log),
            "open;message:text:5:first;message:binary:6:second;ping:2:pq");
  CHECK_INT(p.c.n_ping_cb, 1);
  h_pair_free(&p);
}

/* Invalid client URLs are refused at creation with WSX_E_URL. */
TEST(api_client_invalid_urls) {
  static const char *bad[] = {"",
                              "example.com",
                              "ftp://example.com/",
                              "ws://",
                              "ws://example.com/#frag",
                              "ws://example.com:99999/"};
  wsx_driver_callbacks cb = h_callbacks();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int err = 0;
    wsx_driver *d = wsx_driver_new_client(bad[i], NULL, &cb, NULL, &err);
    if (d) {
      TEST_FAILF_("URL \"%s\" accepted", bad[i]);
      wsx_driver_free(d);
    } else {
      CHECK_INT(err, WSX_E_URL);
    }
  }
}

/* A response head over max_head_size fails the client. */
TEST(limits_response_head_over_max_head_size) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_head_size = 256;
  hb pad = {0};
  hb_str(&pad, UC "X-Pad: ");
  for (int i = 0; i < 300; i++)
    hb_str(&pad, "p");
  hb_str(&pad, "\r\n");
  hrec r;
  client_against(&r, &o, OK_101, NULL, hb_cstr(&pad), H_BYTES);
  CHECK_INT(r.n_open, 0);
  CHECK_INT(r.n_error, 1);
  CHECK_INT(r.err_code, WSX_E_HEAD_TOO_BIG);
  CHECK_INT(r.n_close, 1);
  h_rec_free(&r);
  hb_free(&pad);
}

TEST_MAIN(RUN(rfc4_2_2_accept_key_example);
          RUN(rfc4_2_2_server_answers_101_with_accept);
          RUN(rfc4_2_1_missing_or_invalid_headers_get_400);
          RUN(rfc4_4_versions_13_8_7_accepted_others_426);
          RUN(rfc4_2_1_connection_token_list_and_case);
          RUN(rfc4_2_2_subprotocol_first_client_offer_supported);
          RUN(api_select_protocol_callback);
          RUN(api_raw_server_connect_exposes_request);
          RUN(rfc4_2_frames_after_request_in_same_buffer);
          RUN(api_server_from_parsed_request);
          RUN(limits_request_head_over_max_head_size);
          RUN(rfc4_1_client_request_fields); RUN(rfc4_1_client_keys_differ);
          RUN(rfc4_1_client_validates_response);
          RUN(api_client_status_code_on_refusal);
          RUN(rfc4_1_client_accepts_valid_response);
          RUN(api_messages_before_open_are_queued);
          RUN(api_client_invalid_urls);
          RUN(limits_response_head_over_max_head_size))
