/*
 * API-level unit tests of the driver (wsx/driver.h): accessors, lifecycle,
 * argument checking, callbacks, allocation failure. Protocol behaviour is
 * in tests/conformance/.
 */
#include "../conformance/harness.h"

/* RFC 6455 1.3 and the widely published second example. */
TEST(accept_key_vectors) {
  char out[29];
  wsx_accept_key(H_KEY, strlen(H_KEY), out);
  CHECK_STR(out, H_ACCEPT);
  wsx_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
  CHECK_STR(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  /* key_len is honoured: trailing bytes are not part of the key. */
  wsx_accept_key(H_KEY "garbage", 24, out);
  CHECK_STR(out, H_ACCEPT);
}

TEST(accessors_after_handshake) {
  hpair p;
  REQUIRE(h_pair_open(&p, NULL, NULL));
  CHECK_STR(wsx_driver_version(p.c.d), "hybi-13");
  CHECK_STR(wsx_driver_version(p.s.d), "hybi-13");
  CHECK_STR(wsx_driver_protocol(p.c.d), "");
  CHECK_STR(wsx_driver_extensions(p.c.d), "");
  CHECK_STR(wsx_driver_extensions(p.s.d), "");
  CHECK_STR(wsx_driver_url(p.c.d), "ws://localhost/chat");
  const char *u = wsx_driver_url(p.s.d);
  CHECK(u && strstr(u, "/chat") != NULL);
  CHECK_INT(wsx_driver_status_code(p.c.d), 101);
  const char *m = NULL;
  CHECK_INT(wsx_driver_last_error(p.c.d, &m), WSX_OK);
  CHECK(m != NULL && m[0] == 0);
  CHECK(wsx_driver_user_data(p.c.d) == &p.c);
  int other = 0;
  wsx_driver_set_user_data(p.c.d, &other);
  CHECK(wsx_driver_user_data(p.c.d) == &other);
  wsx_driver_set_user_data(p.c.d, &p.c);
  h_pair_free(&p);
}

/* The ready state walks CONNECTING -> OPEN -> CLOSING -> CLOSED. */
TEST(ready_state_lifecycle) {
  hpair p;
  memset(&p, 0, sizeof p);
  REQUIRE(h_client_new(&p.c, "ws://localhost/", NULL, NULL));
  REQUIRE(h_server_new(&p.s, NULL, NULL));
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CONNECTING);
  CHECK_INT(wsx_driver_ready_state(p.s.d), WSX_CONNECTING);
  CHECK_INT(wsx_driver_start(p.c.d), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CONNECTING);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_OPEN);
  CHECK_INT(wsx_driver_ready_state(p.s.d), WSX_OPEN);
  CHECK_INT(wsx_driver_close(p.c.d, 1000, "done"), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CLOSING);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(wsx_driver_ready_state(p.c.d), WSX_CLOSED);
  CHECK_INT(wsx_driver_ready_state(p.s.d), WSX_CLOSED);
  CHECK_INT(p.c.n_close, 1);
  CHECK_INT(p.s.n_close, 1);
  CHECK_STR(p.s.close_reason, "done");
  h_pair_free(&p);
}

/* close() on a driver that never opened fires `close` at once. */
TEST(close_before_open_fires_at_once) {
  hrec r;
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  CHECK_INT(wsx_driver_close(r.d, 1000, NULL), WSX_OK);
  CHECK_INT(r.n_close, 1);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.out.len, 0);
  CHECK_INT(wsx_driver_send_text(r.d, "x", 1), WSX_E_CLOSED);
  h_rec_free(&r);
}

/* A failing write callback makes the driver fail with WSX_E_IO. */
TEST(write_failure_is_io_error) {
  hrec r;
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  r.fail_writes = 1;
  CHECK_INT(wsx_driver_start(r.d), WSX_E_IO);
  h_rec_free(&r);

  REQUIRE(h_open(&r, H_SERVER, NULL));
  r.fail_writes = 1;
  CHECK_INT(wsx_driver_send_text(r.d, "x", 1), WSX_E_IO);
  const char *m = NULL;
  CHECK_INT(wsx_driver_last_error(r.d, &m), WSX_E_IO);
  h_rec_free(&r);
}

/* Every callback but write may be NULL. */
static int count_write(wsx_driver *d, const wsx_iovec *iov, size_t n,
                       void *ud) {
  (void)d;
  hb *b = ud;
  for (size_t i = 0; i < n; i++)
    hb_put(b, iov[i].base, iov[i].len);
  return 0;
}

TEST(null_callbacks_are_allowed) {
  wsx_driver_callbacks cb = WSX_DRIVER_CALLBACKS_INIT;
  cb.write = count_write;
  hb out = {0};
  wsx_driver *d = wsx_driver_new_server(NULL, &cb, &out);
  REQUIRE(d);
  hb in = {0};
  hb_str(&in, H_REQUEST);
  h_frame_str(&in, H_FIN | WSX_OP_TEXT, 1, "hi");
  h_frame_str(&in, H_FIN | WSX_OP_PING, 1, "p");
  h_frame_str(&in, H_FIN | 0x3, 1, "bad"); /* error + close, no callbacks */
  /* No connect callback: the application must start() itself, so the
   * request is only parsed. Start it now that the request is known. */
  CHECK(wsx_driver_parse(d, in.p, strlen(H_REQUEST)) == WSX_OK);
  CHECK_INT(wsx_driver_start(d), WSX_OK);
  wsx_driver_parse(d, in.p + strlen(H_REQUEST), in.len - strlen(H_REQUEST));
  CHECK_INT(wsx_driver_ready_state(d), WSX_CLOSED);
  CHECK(out.len > 0);
  wsx_driver_free(d);
  hb_free(&in);
  hb_free(&out);

  /* NULL options and NULL callbacks at creation. */
  d = wsx_driver_new_server(NULL, NULL, NULL);
  CHECK(d != NULL);
  wsx_driver_free(d);
  int err = 0;
  d = wsx_driver_new_client("ws://example.com/", NULL, NULL, NULL, &err);
  CHECK(d != NULL);
  if (d)
    CHECK(wsx_driver_start(d) != WSX_OK); /* write is required */
  wsx_driver_free(d);
}

/* Callbacks may call driver functions: reply from `message`, close from
 * `message`, and the close event still fires once. */
static void echo_then_close(wsx_driver *d, const wsx_message *m, void *ud) {
  h_cb_message(d, m, ud);
  wsx_driver_send_text(d, (const char *)m->data, m->len);
  wsx_driver_close(d, 1000, "enough");
}

TEST(reentrant_calls_from_callbacks) {
  wsx_driver_callbacks cb = h_callbacks();
  cb.message = echo_then_close;
  hpair p;
  memset(&p, 0, sizeof p);
  REQUIRE(h_client_new(&p.c, "ws://localhost/", NULL, NULL));
  REQUIRE(h_server_new(&p.s, NULL, &cb));
  CHECK_INT(wsx_driver_start(p.c.d), WSX_OK);
  CHECK_INT(wsx_driver_send_text(p.c.d, "one", 3), WSX_OK);
  CHECK_INT(wsx_driver_send_text(p.c.d, "two", 3), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  /* "two" arrived after the server's close left: receiving in CLOSING is
   * allowed (RFC 6455 1.4), but the echo is not sent (5.5.1: no data
   * frames after a close frame). */
  CHECK_STR(hb_cstr(&p.s.log),
            "open;message:text:3:one;message:text:3:two;close:1000:clean");
  CHECK_STR(hb_cstr(&p.c.log), "open;message:text:3:one;close:1000:clean");
  CHECK_STR(p.c.close_reason, "enough");
  h_pair_free(&p);
}

/* wsx_is_websocket_request on hand-made requests. */
TEST(is_websocket_request) {
  wsx_header hs[3] = {{"Upgrade", 7, "websocket", 9},
                      {"Connection", 10, "keep-alive, Upgrade", 19},
                      {"Host", 4, "x", 1}};
  wsx_http_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.method_len = 3;
  req.target = "/";
  req.target_len = 1;
  req.minor_version = 1;
  req.headers = hs;
  req.num_headers = 3;
  CHECK(wsx_is_websocket_request(&req));
  req.method = "PUT";
  CHECK(!wsx_is_websocket_request(&req));
  req.method = "GET";
  hs[1].value = "keep-alive";
  hs[1].value_len = 10;
  CHECK(!wsx_is_websocket_request(&req));
  hs[1].value = "upgrade";
  hs[1].value_len = 7;
  hs[0].value = "h2c";
  hs[0].value_len = 3;
  CHECK(!wsx_is_websocket_request(&req));
}

/* set_header/add: argument and state errors. */
TEST(set_header_rules) {
  hrec r;
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  CHECK_INT(wsx_driver_set_header(r.d, "X-Ok", "value with spaces"), WSX_OK);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Nul", "a\r"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "X-Nl", "\n"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "X:Colon", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_header(r.d, "X\r\nInjected", "v"),
            WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  char v[64];
  CHECK(h_head_value(&r.out, "X-Ok", v, sizeof v));
  CHECK_STR(v, "value with spaces");
  CHECK(!h_head_value(&r.out, "Injected", v, sizeof v));
  CHECK_INT(wsx_driver_set_header(r.d, "X-After", "1"), WSX_E_STATE);
  h_rec_free(&r);
}

/* Failmalloc: a full pair scenario (handshake, messages both ways,
 * fragmented message, ping, close) with the n-th allocation failing, for
 * every n until a run needs no failure. Each run must end without a crash
 * and with every byte freed (the counting allocator's `cur` is 0). */
static void scenario(hcount *c) {
  wsx_allocator a = hcount_allocator(c);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allocator = &a;
  hpair p;
  memset(&p, 0, sizeof p);
  if (h_client_new(&p.c, "ws://localhost/chat", &o, NULL) &&
      h_server_new(&p.s, &o, NULL)) {
    wsx_driver_send_text(p.c.d, "queued", 6);
    wsx_driver_start(p.c.d);
    h_pump(&p, H_RANDOM, c->fail_at);
    wsx_driver_send_text(p.c.d, "hello", 5);
    wsx_driver_send_frame(p.s.d, WSX_OP_BINARY, 0, "ab", 2);
    wsx_driver_send_frame(p.s.d, WSX_OP_CONTINUATION, 1, "cd", 2);
    wsx_driver_ping(p.c.d, "p", 1, NULL, NULL);
    h_pump(&p, H_WHOLE, 0);
    wsx_driver_close(p.s.d, 1000, "bye");
    h_pump(&p, H_WHOLE, 0);
  }
  h_pair_free(&p);
}

TEST(failmalloc_every_allocation) {
  hcount c;
  memset(&c, 0, sizeof c);
  scenario(&c);
  CHECK_INT(c.cur, 0);
  size_t total = c.calls;
  REQUIRE(total > 0);
  for (size_t n = 1; n <= total + 1; n++) {
    memset(&c, 0, sizeof c);
    c.fail_at = n;
    scenario(&c);
    if (c.cur != 0) {
      TEST_FAILF_("failing allocation %zu leaks %zu bytes", n, c.cur);
      break;
    }
  }
}

/* Frames are processed only after start(): a raw server without start()
 * keeps the bytes after the head (they are the body until the app
 * decides). */
TEST(raw_server_without_start_does_not_open) {
  hrec r;
  REQUIRE(h_server_new(&r, NULL, NULL));
  r.auto_start = 0;
  hb in = {0};
  hb_str(&in, H_REQUEST);
  h_frame_str(&in, H_FIN | WSX_OP_TEXT, 1, "hi");
  h_feed(&r, in.p, in.len, H_WHOLE, 0, 0);
  CHECK_INT(r.n_connect, 1);
  CHECK_INT(r.n_open, 0);
  CHECK_INT(r.n_message, 0);
  CHECK_INT(r.out.len, 0);
  /* Starting later processes the bytes that were held. */
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_STR(hb_cstr(&r.log), "open;message:text:2:hi");
  hb_free(&in);
  h_rec_free(&r);
}

/* wsx_driver_recv_buffer / recv_commit: a large masked frame read into the
 * driver's own buffer in pieces arrives intact, the room never passes the
 * frame's end, and misuse is refused without consuming anything. */
TEST(recv_buffer_direct_reads) {
  enum { N = 200000 };
  hpair p;
  uint8_t *msg = malloc(N);
  REQUIRE(msg);
  for (size_t i = 0; i < N; i++)
    msg[i] = (uint8_t)(i * 7 + 1);
  REQUIRE(h_pair_open(&p, NULL, NULL));
  size_t len = 0;
  /* between frames: nothing to read into */
  CHECK(wsx_driver_recv_buffer(p.s.d, 1, &len) == NULL);
  CHECK_INT(wsx_driver_recv_commit(p.s.d, 1), WSX_E_INVALID);
  CHECK_INT(wsx_driver_send_binary(p.c.d, msg, N), WSX_OK);
  uint8_t *wire = p.c.out.p + p.c.delivered;
  size_t wlen = p.c.out.len - p.c.delivered, off = 100;
  CHECK_INT(wsx_driver_parse(p.s.d, wire, off), WSX_OK); /* header + a bit */
  CHECK(wsx_driver_recv_buffer(p.s.d, wlen, &len) == NULL); /* min too big */
  int reads = 0;
  while (off < wlen) {
    uint8_t *b = wsx_driver_recv_buffer(p.s.d, 1, &len);
    REQUIRE(b != NULL);
    CHECK(len <= wlen - off); /* never past the frame */
    CHECK_INT(wsx_driver_recv_commit(p.s.d, len + 1), WSX_E_INVALID);
    size_t n = wlen - off < 30000 ? wlen - off : 30000;
    if (n > len)
      n = len;
    memcpy(b, wire + off, n); /* the "read" */
    CHECK_INT(wsx_driver_recv_commit(p.s.d, n), WSX_OK);
    off += n;
    reads++;
  }
  CHECK(reads >= 6);
  CHECK_INT(p.s.n_message, 1);
  CHECK_MEM(p.s.msg.p, p.s.msg.len, msg, N);
  CHECK(wsx_driver_recv_buffer(p.s.d, 1, &len) == NULL);
  /* outside a message callback nothing can be taken */
  CHECK(wsx_driver_take_message(p.s.d, &len) == NULL);
  h_pair_free(&p);
  free(msg);
}

/* A server echoing a message's own data from its message callback: when
 * the frame (header and payload) came in one input buffer, the reply's
 * header is written over the consumed header and the frame leaves as one
 * span; otherwise (header split from the payload, another pointer) as
 * {header, payload}. Either way the client gets the same bytes. The input
 * buffers are allocated to their exact size, so a header written before a
 * payload that has no room there is caught by ASan. */
static size_t last_iovcnt, n_writes;
static int echo_mode; /* 0 data, 1 a copy, 2 data twice + a prefix */

static int iov_write(wsx_driver *d, const wsx_iovec *iov, size_t n,
                     void *ud) {
  last_iovcnt = n;
  n_writes++;
  return h_cb_write(d, iov, n, ud);
}

static void echo_own(wsx_driver *d, const wsx_message *m, void *ud) {
  h_cb_message(d, m, ud);
  if (echo_mode == 1) {
    uint8_t *c = malloc(m->len);
    REQUIRE(c);
    memcpy(c, m->data, m->len);
    CHECK_INT(wsx_driver_send_binary(d, c, m->len), WSX_OK);
    free(c);
    return;
  }
  CHECK_INT(wsx_driver_send_binary(d, m->data, m->len), WSX_OK);
  if (echo_mode == 2) {
    CHECK_INT(wsx_driver_send_binary(d, m->data, m->len), WSX_OK);
    CHECK_INT(wsx_driver_send_binary(d, m->data, 100), WSX_OK);
  }
}

/* Feeds wire[0..n) to the server as pieces cut at `cuts` (ascending, 0
 * terminated), each in a buffer of its exact size. */
static void feed_exact(hpair *p, const uint8_t *wire, size_t n,
                       const size_t *cuts) {
  size_t at = 0;
  for (size_t i = 0;; i++) {
    size_t to = cuts[i] ? cuts[i] : n;
    uint8_t *b = malloc(to - at);
    REQUIRE(b);
    memcpy(b, wire + at, to - at);
    CHECK_INT(wsx_driver_parse(p->s.d, b, to - at), WSX_OK);
    free(b);
    at = to;
    if (!cuts[i])
      break;
  }
}

TEST(echo_header_in_place) {
  enum { N = 16384 };
  static const size_t whole[] = {0}, split[] = {8, 0}, in3[] = {8, 900, 0};
  static const struct {
    int mode;
    const size_t *cuts;
    size_t iovcnt; /* of the last write */
    int echoes;
  } cases[] = {{0, whole, 1, 1}, {0, split, 2, 1}, {0, in3, 2, 1},
               {1, whole, 2, 1}, {2, whole, 1, 3}};
  uint8_t *msg = malloc(N);
  REQUIRE(msg);
  for (size_t i = 0; i < N; i++)
    msg[i] = (uint8_t)(i * 13 + 5);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    wsx_driver_callbacks cb = h_callbacks();
    hpair p;
    cb.message = echo_own;
    cb.write = iov_write;
    echo_mode = cases[k].mode;
    memset(&p, 0, sizeof p);
    REQUIRE(h_client_new(&p.c, "ws://localhost/", NULL, NULL));
    REQUIRE(h_server_new(&p.s, NULL, &cb));
    CHECK_INT(wsx_driver_start(p.c.d), WSX_OK);
    h_pump(&p, H_WHOLE, 0);
    REQUIRE(p.s.n_open == 1 && p.c.n_open == 1);
    CHECK_INT(wsx_driver_send_binary(p.c.d, msg, N), WSX_OK);
    size_t from = p.c.delivered, out0 = p.s.out.len;
    p.c.delivered = p.c.out.len;
    n_writes = 0;
    feed_exact(&p, p.c.out.p + from, p.c.out.len - from, cases[k].cuts);
    CHECK_INT(n_writes, cases[k].echoes);
    CHECK_INT(last_iovcnt, cases[k].echoes == 3 ? 1 : cases[k].iovcnt);
    /* the first reply: 82 7E 40 00, then the payload */
    REQUIRE(p.s.out.len >= out0 + 4 + N);
    CHECK_MEM(p.s.out.p + out0, 4, "\x82\x7e\x40\x00", 4);
    CHECK_MEM(p.s.out.p + out0 + 4, N, msg, N);
    h_pump(&p, H_WHOLE, 0);
    CHECK_INT(p.c.n_message, cases[k].echoes);
    if (cases[k].echoes == 3) /* the last one: the 100-byte prefix */
      CHECK_MEM(p.c.msg.p, p.c.msg.len, msg, 100);
    else
      CHECK_MEM(p.c.msg.p, p.c.msg.len, msg, N);
    h_pair_free(&p);
  }
  free(msg);
}

/* Text sent back whole from its own message callback is not validated a
 * second time; anything else sent as text still is. To see the skip, the
 * test breaks the taken buffer's UTF-8 before sending it (an application
 * must not: the rule is "unchanged"); the old code refused that send. */
static int text_rc[4];

static void send_back(wsx_driver *d, const wsx_message *m, void *ud) {
  size_t len = 0;
  h_cb_message(d, m, ud);
  if (m->opcode == WSX_OP_BINARY) { /* bytes never validated: checked */
    text_rc[2] = wsx_driver_send_text(d, (const char *)m->data, m->len);
    return;
  }
  uint8_t *p = wsx_driver_take_message(d, &len);
  REQUIRE(p != NULL && len == m->len && len >= 2);
  /* a prefix may cut the last character (here it does): checked */
  text_rc[1] = wsx_driver_send_text(d, (const char *)p, len - 1);
  p[0] = 0xff; /* see above */
  text_rc[0] = wsx_driver_send_text(d, (const char *)p, len);
  free(p);
}

TEST(echo_text_validated_once) {
  static const char txt[] = "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e \xc3\xa9";
  static const uint8_t bad[] = {'o', 'k', 0xff};
  static const size_t cuts[] = {9, 0};
  wsx_driver_callbacks cb = h_callbacks();
  hpair p;
  cb.message = send_back;
  memset(&p, 0, sizeof p);
  memset(text_rc, 0x55, sizeof text_rc);
  REQUIRE(h_client_new(&p.c, "ws://localhost/", NULL, NULL));
  REQUIRE(h_server_new(&p.s, NULL, &cb));
  CHECK_INT(wsx_driver_start(p.c.d), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  REQUIRE(p.s.n_open == 1);
  /* split after the header and 3 payload bytes: assembled in the driver's
   * buffer, so take_message has it */
  CHECK_INT(wsx_driver_send_text(p.c.d, txt, sizeof txt - 1), WSX_OK);
  size_t from = p.c.delivered;
  p.c.delivered = p.c.out.len;
  feed_exact(&p, p.c.out.p + from, p.c.out.len - from, cuts);
  CHECK_INT(p.s.n_message, 1);
  CHECK_INT(text_rc[0], WSX_OK);
  CHECK_INT(text_rc[1], WSX_E_INVALID);
  p.s.delivered = p.s.out.len; /* the client never sees that echo */
  CHECK_INT(wsx_driver_send_binary(p.c.d, bad, sizeof bad), WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(text_rc[2], WSX_E_INVALID);
  /* outside the callback nothing is exempt */
  CHECK_INT(wsx_driver_send_text(p.s.d, (const char *)bad, sizeof bad),
            WSX_E_INVALID);
  /* the receive side still rejects invalid UTF-8 from the peer: 1007 */
  CHECK_INT(wsx_driver_send_frame(p.c.d, WSX_OP_TEXT, 1, bad, sizeof bad),
            WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(p.s.n_message, 2);
  CHECK_INT(p.s.n_close, 1);
  CHECK_INT(p.s.close_code, 1007);
  h_pair_free(&p);
}

TEST_MAIN(RUN(accept_key_vectors); RUN(accessors_after_handshake);
          RUN(ready_state_lifecycle); RUN(close_before_open_fires_at_once);
          RUN(write_failure_is_io_error); RUN(null_callbacks_are_allowed);
          RUN(reentrant_calls_from_callbacks); RUN(is_websocket_request);
          RUN(set_header_rules); RUN(failmalloc_every_allocation);
          RUN(raw_server_without_start_does_not_open);
          RUN(recv_buffer_direct_reads); RUN(echo_header_in_place);
          RUN(echo_text_validated_once))
