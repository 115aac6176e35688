/*
 * test_uv_returns: the return convention of the public API (issue 9), on a
 * representative set of calls. Functions that can fail return 0 (WSX_OK)
 * or a negative code from enum wsx_error (or, where documented, a libuv
 * error); positive values only where the header documents them: counts and
 * lengths (wsx_cookie_parse, wsx_cookie_format, wsx_http_parse_request),
 * a port, and the 1 "above the high-water mark" of the send functions.
 * Every negative code returned here must have a name (wsx_strerror) and
 * lie in the wsx range.
 */
#include "test_uv_util.h"
#include "wsx/cookie.h"
#include "wsx/driver.h"
#include "wsx/http.h"

/* A negative code from enum wsx_error, with a name. */
static int is_wsx_err(int rc) {
  return rc <= -1000 && rc >= -1099 &&
         strcmp(wsx_strerror(rc), "unknown error") != 0;
}
#define CHECK_ERR(call, code)                                                  \
  do {                                                                         \
    int rc_ = (call);                                                          \
    CHECK_INT(rc_, code);                                                      \
    CHECK(is_wsx_err(rc_));                                                    \
  } while (0)

TEST(values_only_where_documented) {
  static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
  wsx_cookie ck[4];
  wsx_set_cookie sc = WSX_SET_COOKIE_INIT;
  wsx_http_request req;
  wsx_header hs[8];
  wsx_http_state st;
  wsx_url u;
  char buf[64];
  /* counts and lengths */
  CHECK_INT(wsx_cookie_parse("a=1; b=2; c=3", 13, ck, 4), 3);
  sc.name = "sid";
  sc.value = "42";
  CHECK_INT(wsx_cookie_format(&sc, buf, sizeof(buf)), (int)strlen(buf));
  CHECK_STR(buf, "sid=42");
  memset(&st, 0, sizeof(st));
  CHECK_INT(
      wsx_http_parse_request(head, sizeof(head) - 1, &req, hs, 8, 0, &st, NULL),
      (int)sizeof(head) - 1 - 4);
  memset(&st, 0, sizeof(st));
  CHECK_ERR(wsx_http_parse_request(head, 10, &req, hs, 8, 0, &st, NULL),
            WSX_E_AGAIN);
  /* plain 0 / negative */
  CHECK_INT(wsx_url_parse("ws://127.0.0.1:1/x", &u), WSX_OK);
  CHECK_ERR(wsx_url_parse("gopher://x/", &u), WSX_E_URL);
  sc.name = "bad name";
  CHECK_ERR(wsx_cookie_format(&sc, buf, sizeof(buf)), WSX_E_HEADER_VALUE);
}

static int drv_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  (void)d, (void)iov, (void)n, (void)ud;
  return 0;
}

TEST(driver_calls_return_ok_or_a_named_error) {
  static const uint8_t big[126];
  wsx_driver_callbacks cb = WSX_DRIVER_CALLBACKS_INIT;
  wsx_driver *d;
  int err = 0;
  cb.write = drv_write;
  d = wsx_driver_new_client("ws://127.0.0.1:1/", NULL, &cb, NULL, &err);
  REQUIRE(d);
  CHECK_INT(wsx_driver_set_header(d, "X-A", "1"), WSX_OK);
  CHECK_ERR(wsx_driver_set_header(d, "X-B", "a\r\nb"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_start(d), WSX_OK);
  CHECK_ERR(wsx_driver_start(d), WSX_E_STATE);
  CHECK_ERR(wsx_driver_set_header(d, "X-C", "1"), WSX_E_STATE);
  CHECK_INT(wsx_driver_send_text(d, "queued", 6), WSX_OK); /* before open */
  CHECK_ERR(wsx_driver_ping(d, big, sizeof(big), NULL, NULL), WSX_E_TOO_BIG);
  CHECK_ERR(wsx_driver_send(d, 0x3, "x", 1, 0), WSX_E_INVALID);
  CHECK_INT(wsx_driver_close(d, 1000, NULL), WSX_OK);
  CHECK_ERR(wsx_driver_close(d, 1000, NULL), WSX_E_CLOSED);
  CHECK_ERR(wsx_driver_send_text(d, "late", 4), WSX_E_CLOSED);
  wsx_driver_free(d);
  CHECK(d != NULL && err == 0);
}

TEST(socket_calls_follow_the_convention) {
  static uint8_t payload[16u << 20];
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  wsx_server *idle;
  char addr[64];
  int port = 0, rc, err;
  ev_reset();
  /* a server with no listener has no port */
  idle = wsx_server_new(&T.loop, NULL, NULL, NULL, &err);
  REQUIRE(idle);
  CHECK_ERR(wsx_server_port(idle), WSX_E_STATE);
  wsx_server_free(idle);
  o.auto_accept = 1;
  cb.connection = srv_on_connection;
  cb.socket = &rec_cbs;
  REQUIRE(start_server(NULL, &o, &cb) == 0);
  CHECK(T.port > 0); /* a port: the one documented positive value */
  co.high_water_mark = 1;
  co.max_buffered = 256u << 20;
  REQUIRE(connect_client("/", &co));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  REQUIRE(T.c.open);
  CHECK_ERR(wsx_socket_remote_address(T.c.sock, addr, 2, &port), WSX_E_INVALID);
  CHECK_INT(wsx_socket_remote_address(T.c.sock, addr, sizeof(addr), &port),
            WSX_OK);
  CHECK_INT(port, T.port);
  CHECK_INT(wsx_socket_pause(T.c.sock), WSX_OK);
  CHECK_INT(wsx_socket_resume(T.c.sock), WSX_OK);
  /* 0 at or below the high-water mark ... */
  CHECK_INT(wsx_socket_send_text(T.c.sock, "a", 1), 0);
  /* ... 1 above it, for every send function: 16 MiB do not fit in the
   * kernel's loopback buffers at once. */
  rc = wsx_socket_send_frame(T.c.sock, WSX_OP_BINARY, 1, payload,
                             sizeof(payload));
  CHECK_INT(rc, 1);
  CHECK_INT(wsx_socket_send_text(T.c.sock, "b", 1), 1);
  CHECK_INT(wsx_socket_ping(T.c.sock, NULL, 0, NULL, NULL), 1);
  CHECK_INT(wsx_socket_close(T.c.sock, 1000, NULL), WSX_OK);
  CHECK_ERR(wsx_socket_close(T.c.sock, 1000, NULL), WSX_E_CLOSED);
  CHECK_ERR(wsx_socket_send_text(T.c.sock, "c", 1), WSX_E_CLOSED);
  RUN_UNTIL(T.c.close && T.s.close, 5000);
  CHECK_INT(T.c.close, 1);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(RUN(values_only_where_documented);
          RUN(driver_calls_return_ok_or_a_named_error);
          RUN(socket_calls_follow_the_convention);)
