/* The HTTP front beyond one request: cookies on accept, keep-alive,
 * pipelining, an upgrade after plain requests, the idle timeout and the
 * per-connection request cap, chunked request bodies. Raw TCP peers write
 * exact bytes and read exact answers. */
#include <stdlib.h>

#include "test_uv_util.h"
#include "wsx/cookie.h"

static struct {
  int requests, http;
  int mode; /* 0: cookies OK, 1: an injected cookie, 2: a NULL entry */
  int accept_err;
  wsx_socket *accepted;
  char bodies[8][256]; /* plain requests' "METHOD target body" */
  size_t body_lens[8];
  int delay_first;         /* hold the first response until the second
                              request could have been answered */
  wsx_http_res *held;      /* the held response */
  uv_timer_t hold;
  int held_answered;
  int res_closed;
  int stream; /* answer with write + end (no length) */
} H;

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  wsx_set_cookie a = WSX_SET_COOKIE_INIT, b = WSX_SET_COOKIE_INIT;
  const wsx_set_cookie *list[2] = {&a, &b};
  (void)srv, (void)ud;
  H.requests++;
  a.name = "visible";
  a.value = "yes";
  a.path = "/";
  b.name = "secret";
  b.value = "s3";
  b.flags = WSX_COOKIE_HTTPONLY | WSX_COOKIE_MAX_AGE;
  b.max_age_ms = 60000;
  if (H.mode == 1)
    b.value = "x\r\nX-Evil: 1"; /* header injection */
  H.accepted = wsx_request_accept_with_cookies(
      req, NULL, NULL, H.mode == 2 ? (const wsx_set_cookie *const *)NULL : list,
      2, &rec_cbs, &T.s, &H.accept_err);
}

static void answer(wsx_http_res *res) {
  wsx_request *req = wsx_http_res_request(res);
  char out[512];
  size_t blen;
  const uint8_t *body = wsx_request_body(req, &blen);
  int n = snprintf(out, sizeof(out), "#%d %s %s [%.*s]", H.http,
                   wsx_request_method(req), wsx_request_resource(req),
                   (int)blen, (const char *)body);
  if (H.stream) {
    CHECK_INT(wsx_http_res_write(res, out, (size_t)n), 0);
    CHECK_INT(wsx_http_res_end(res, NULL, 0), 0);
  } else {
    CHECK_INT(wsx_http_res_end(res, out, (size_t)n), 0);
  }
}

static void on_res_close(wsx_http_res *res, void *ud) {
  (void)res, (void)ud;
  H.res_closed++;
}

static void hold_timer_cb(uv_timer_t *t) {
  (void)t;
  H.held_answered = H.http; /* requests seen while the first was held */
  answer(H.held);
  H.held = NULL;
}

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  static const wsx_http_res_callbacks rcb = {sizeof(wsx_http_res_callbacks),
                                             NULL, on_res_close};
  (void)srv, (void)ud, (void)req;
  H.http++;
  CHECK_INT(wsx_http_res_set_callbacks(res, &rcb, NULL), 0);
  if (H.delay_first && H.http == 1) {
    H.held = res;
    uv_timer_init(&T.loop, &H.hold);
    uv_timer_start(&H.hold, hold_timer_cb, 100, 0);
    return;
  }
  answer(res);
}

static int start_http(wsx_server_options *o) {
  static wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_server_options zo = WSX_SERVER_OPTIONS_INIT;
  cb.request = on_request;
  cb.http_request = on_http;
  return start_server(NULL, o ? o : &zo, &cb);
}

static void cookie_case(int mode) {
  raw_peer p;
  ev_reset();
  memset(&H, 0, sizeof(H));
  H.mode = mode;
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, UPGRADE_HEAD("/c"), strlen(UPGRADE_HEAD("/c")), 1);
  if (mode == 0) {
    RUN_UNTIL(strstr(p.in, "\r\n\r\n"), 3000);
    CHECK(H.accepted != NULL);
    CHECK_INT(H.accept_err, WSX_OK);
    CHECK(strncmp(p.in, "HTTP/1.1 101 ", 13) == 0);
    CHECK(strstr(p.in, "\r\nSet-Cookie: visible=yes; Path=/\r\n") != NULL);
    CHECK(strstr(p.in, "\r\nSet-Cookie: secret=s3; Max-Age=60; HttpOnly\r\n") !=
          NULL);
    raw_close(&p);
  } else {
    RUN_UNTIL(p.eof, 3000);
    CHECK(H.accepted == NULL);
    CHECK_INT(H.accept_err, mode == 1 ? WSX_E_HEADER_VALUE : WSX_E_INVALID);
    CHECK(strncmp(p.in, "HTTP/1.1 500 ", 13) == 0);
    CHECK(strstr(p.in, "X-WebSocket-Reject-Reason: invalid cookie\r\n") !=
          NULL);
    CHECK(strstr(p.in, "Set-Cookie") == NULL);
    CHECK(strstr(p.in, "X-Evil") == NULL);
    CHECK_INT(T.s.open, 0);
  }
  CHECK_INT(H.requests, 1);
  SHUTDOWN_AND_CHECK();
}

TEST(accept_sets_cookies) { cookie_case(0); }
TEST(accept_refuses_injected_cookie) { cookie_case(1); }
TEST(accept_refuses_null_cookie_list) { cookie_case(2); }


/* Writes more bytes on a connected raw peer (one write at a time). */
static void raw_send(raw_peer *p, const char *data) {
  static uv_write_t wr;
  static char buf[1024];
  uv_buf_t b;
  size_t n = strlen(data);
  memcpy(buf, data, n);
  b = uv_buf_init(buf, (unsigned)n);
  uv_write(&wr, (uv_stream_t *)&p->tcp, &b, 1, NULL);
}

/* Count of non-overlapping occurrences of `needle` in the peer's input. */
static int count_of(const char *hay, const char *needle) {
  int n = 0;
  const char *p = hay;
  while ((p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  return n;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: h\r\n\r\n"

/* Three requests in one write: three answers in order, one connection,
 * which stays open. */
TEST(keep_alive_pipelined_in_order) {
  raw_peer p;
  const char *req = GET("/1") GET("/2") GET("/3");
  const char *a, *b, *c;
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(count_of(p.in, "HTTP/1.1 200 OK") == 3 && strstr(p.in, "[]") &&
                strstr(strstr(p.in, "#3"), "[]"),
            3000);
  a = strstr(p.in, "#1 GET /1 []");
  b = strstr(p.in, "#2 GET /2 []");
  c = strstr(p.in, "#3 GET /3 []");
  CHECK(a && b && c && a < b && b < c);
  CHECK(strstr(p.in, "Connection: close") == NULL);
  CHECK(strstr(p.in, "Content-Length: 12\r\n") != NULL);
  run_for(100);
  CHECK(!p.eof);
  CHECK_INT(wsx_server_connection_count(T.srv), 1);
  CHECK_INT(H.res_closed, 3);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

/* A response to request 2 waits for request 1's, even when the app takes
 * its time with the first. */
TEST(pipelined_second_waits_for_first) {
  raw_peer p;
  const char *req = GET("/slow") GET("/fast");
  const char *a, *b;
  ev_reset();
  memset(&H, 0, sizeof(H));
  H.delay_first = 1;
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(strstr(p.in, "#2 GET /fast []"), 3000);
  CHECK_INT(H.held_answered, 1); /* /fast was not dispatched meanwhile */
  a = strstr(p.in, "#1 GET /slow []");
  b = strstr(p.in, "#2 GET /fast []");
  CHECK(a && b && a < b);
  uv_close((uv_handle_t *)&H.hold, NULL);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

/* Plain requests, then an upgrade on the same connection, then frames. */
TEST(upgrade_after_plain_requests) {
  raw_peer p;
  static const unsigned char frame[] = {0x81, 0x82, 1, 2, 3, 4,
                                        'h' ^ 1, 'i' ^ 2};
  char req[600];
  size_t n;
  const char *sw;
  ev_reset();
  memset(&H, 0, sizeof(H));
  T.echo = 1;
  REQUIRE(start_http(NULL) == 0);
  n = (size_t)snprintf(req, sizeof(req), "%s%s%s", GET("/a"), GET("/b"),
                       UPGRADE_HEAD("/ws"));
  memcpy(req + n, frame, sizeof(frame));
  raw_connect(&p, req, n + sizeof(frame), 1);
  RUN_UNTIL((sw = strstr(p.in, "HTTP/1.1 101 ")) &&
                strstr(sw, "\r\n\r\n\x81\x02hi"),
            3000);
  CHECK_INT(H.http, 2);
  CHECK_INT(H.requests, 1);
  CHECK(H.accepted != NULL);
  CHECK(strstr(p.in, "#2 GET /b []") < strstr(p.in, "HTTP/1.1 101 "));
  CHECK_INT(T.s.message, 1);
  raw_close(&p);
  RUN_UNTIL(T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

static void version_case(const char *req, int keep) {
  raw_peer p;
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(strstr(p.in, "]"), 3000);
  if (keep) {
    run_for(100);
    CHECK(!p.eof);
  } else {
    RUN_UNTIL(p.eof, 3000);
    CHECK(p.eof);
    CHECK(strstr(p.in, "Connection: close\r\n") != NULL);
  }
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

TEST(http10_closes_by_default) {
  version_case("GET /x HTTP/1.0\r\n\r\n", 0);
}
TEST(http10_keep_alive_on_request) {
  version_case("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1);
}
TEST(http11_connection_close_closes) {
  version_case("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0);
}

TEST(streamed_response_is_close_delimited) {
  raw_peer p;
  ev_reset();
  memset(&H, 0, sizeof(H));
  H.stream = 1;
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, GET("/s") GET("/t"), strlen(GET("/s") GET("/t")), 1);
  RUN_UNTIL(p.eof, 3000);
  CHECK(strstr(p.in, "Connection: close\r\n") != NULL);
  CHECK(strstr(p.in, "Content-Length") == NULL);
  CHECK_INT(H.http, 1);
  SHUTDOWN_AND_CHECK();
}

/* HEAD: Content-Length of the body a GET would get, no body bytes, and
 * the connection goes on to the next request. */
TEST(head_response_has_no_body) {
  raw_peer p;
  const char *req = "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n" GET("/g");
  const char *second;
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(strstr(p.in, "#2 GET /g []"), 3000);
  CHECK(strncmp(p.in, "HTTP/1.1 200 OK\r\n", 17) == 0);
  CHECK(strstr(p.in, "Content-Length: 13\r\n") != NULL); /* "#1 HEAD /h []" */
  CHECK(strstr(p.in, "#1 HEAD") == NULL);
  second = strstr(p.in + 1, "HTTP/1.1 200 OK");
  CHECK(second && strstr(p.in, "\r\n\r\n") + 4 == second);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

/* The next request's head split across writes, the first part arriving
 * with the previous request: carried over, completed later. */
TEST(pipelined_head_split_across_writes) {
  raw_peer p;
  const char *first = GET("/1") "GET /2 HT";
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, first, strlen(first), 1);
  RUN_UNTIL(strstr(p.in, "#1 GET /1 []"), 3000);
  run_for(50);
  CHECK_INT(H.http, 1);
  raw_send(&p, "TP/1.1\r\nHo");
  run_for(30);
  CHECK_INT(H.http, 1);
  raw_send(&p, "st: h\r\n\r\n");
  RUN_UNTIL(strstr(p.in, "#2 GET /2 []"), 3000);
  CHECK_INT(H.http, 2);
  CHECK(!p.eof);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

TEST(idle_timeout_closes) {
  raw_peer p;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  uint64_t t0, dt;
  ev_reset();
  memset(&H, 0, sizeof(H));
  o.http_idle_timeout = 150;
  REQUIRE(start_http(&o) == 0);
  raw_connect(&p, GET("/i"), strlen(GET("/i")), 1);
  RUN_UNTIL(strstr(p.in, "]"), 3000);
  uv_update_time(&T.loop);
  t0 = uv_now(&T.loop);
  RUN_UNTIL(p.eof, 3000);
  dt = uv_now(&T.loop) - t0;
  CHECK(p.eof);
  CHECK(dt >= 100 && dt < 2000);
  CHECK(strstr(p.in, "Connection: close") == NULL);
  CHECK_INT(wsx_server_connection_count(T.srv), 0);
  SHUTDOWN_AND_CHECK();
}

TEST(request_cap_closes_after_n) {
  raw_peer p;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  const char *req = GET("/1") GET("/2") GET("/3");
  ev_reset();
  memset(&H, 0, sizeof(H));
  o.max_requests_per_connection = 2;
  REQUIRE(start_http(&o) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(p.eof, 3000);
  CHECK(p.eof);
  CHECK_INT(H.http, 2);
  CHECK_INT(count_of(p.in, "HTTP/1.1 200 OK"), 2);
  CHECK_INT(count_of(p.in, "Connection: close\r\n"), 1);
  CHECK(strstr(p.in, "Connection: close\r\n") > strstr(p.in, "#1 GET /1"));
  CHECK(strstr(p.in, "/3") == NULL);
  SHUTDOWN_AND_CHECK();
}

#define CHUNKED_HEAD(path)                                                     \
  "POST " path " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

/* A chunked body (extension, trailer) arriving in pieces, then a
 * pipelined request behind it. */
TEST(chunked_body_then_pipelined) {
  raw_peer p;
  static const char *pieces[] = {"4\r\nWi", "ki\r\n5;ext=1\r\npedia\r",
                                 "\n0\r\nTrailer: x\r\n\r\n" GET("/next")};
  size_t i;
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(start_http(NULL) == 0);
  raw_connect(&p, CHUNKED_HEAD("/up"), strlen(CHUNKED_HEAD("/up")), 1);
  for (i = 0; i < 3; i++) {
    run_for(30);
    CHECK_INT(H.http, 0);
    raw_send(&p, pieces[i]);
  }
  RUN_UNTIL(strstr(p.in, "#2 GET /next []"), 3000);
  CHECK(strstr(p.in, "#1 POST /up [Wikipedia]") != NULL);
  CHECK_INT(H.http, 2);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}

static void refused_case(const char *req, uint32_t max_body, const char *status) {
  raw_peer p;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  ev_reset();
  memset(&H, 0, sizeof(H));
  o.max_http_body = max_body;
  REQUIRE(start_http(&o) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(p.eof, 3000);
  CHECK(p.eof);
  if (strncmp(p.in, status, strlen(status)) != 0)
    TEST_FAILF_("got \"%.40s\", expected %s", p.in, status);
  CHECK_INT(H.http, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(chunked_over_max_body_413) {
  refused_case(CHUNKED_HEAD("/") "5\r\n12345\r\n4\r\n6789\r\n0\r\n\r\n", 8,
               "HTTP/1.1 413 ");
}
TEST(chunked_at_max_body_ok) {
  raw_peer p;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  const char *req = CHUNKED_HEAD("/") "5\r\n12345\r\n3\r\n678\r\n0\r\n\r\n";
  ev_reset();
  memset(&H, 0, sizeof(H));
  o.max_http_body = 8;
  REQUIRE(start_http(&o) == 0);
  raw_connect(&p, req, strlen(req), 1);
  RUN_UNTIL(strstr(p.in, "[12345678]"), 3000);
  CHECK(strstr(p.in, "[12345678]") != NULL);
  raw_close(&p);
  SHUTDOWN_AND_CHECK();
}
TEST(chunked_bare_lf_400) {
  refused_case(CHUNKED_HEAD("/") "5\n12345\r\n0\r\n\r\n", 0, "HTTP/1.1 400 ");
}
TEST(chunked_bad_size_400) {
  refused_case(CHUNKED_HEAD("/") "5x\r\n12345\r\n0\r\n\r\n", 0,
               "HTTP/1.1 400 ");
}
TEST(chunked_missing_crlf_after_data_400) {
  refused_case(CHUNKED_HEAD("/") "5\r\n123456\r\n0\r\n\r\n", 0,
               "HTTP/1.1 400 ");
}
TEST(other_transfer_coding_501) {
  refused_case("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, "
               "chunked\r\n\r\n",
               0, "HTTP/1.1 501 ");
}
TEST(content_length_with_transfer_encoding_400) {
  refused_case("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               0, "HTTP/1.1 400 ");
}
TEST(duplicate_content_length_400) {
  refused_case("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
               "Content-Length: 4\r\n\r\nabcd",
               0, "HTTP/1.1 400 ");
}

TEST_MAIN(RUN(accept_sets_cookies); RUN(accept_refuses_injected_cookie);
          RUN(accept_refuses_null_cookie_list);
          RUN(keep_alive_pipelined_in_order);
          RUN(pipelined_second_waits_for_first);
          RUN(upgrade_after_plain_requests); RUN(http10_closes_by_default);
          RUN(http10_keep_alive_on_request);
          RUN(http11_connection_close_closes);
          RUN(streamed_response_is_close_delimited);
          RUN(head_response_has_no_body);
          RUN(pipelined_head_split_across_writes); RUN(idle_timeout_closes); RUN(request_cap_closes_after_n);
          RUN(chunked_body_then_pipelined); RUN(chunked_over_max_body_413);
          RUN(chunked_at_max_body_ok); RUN(chunked_bare_lf_400);
          RUN(chunked_bad_size_400); RUN(chunked_missing_crlf_after_data_400);
          RUN(other_transfer_coding_501);
          RUN(content_length_with_transfer_encoding_400);
          RUN(duplicate_content_length_400))
