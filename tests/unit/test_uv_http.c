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
  int res_closed;
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

static int start_http(wsx_server_options *o) {
  static wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_server_options zo = WSX_SERVER_OPTIONS_INIT;
  cb.request = on_request;
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

TEST_MAIN(RUN(accept_sets_cookies); RUN(accept_refuses_injected_cookie);
          RUN(accept_refuses_null_cookie_list))
