/* The server front: requests (accept with protocol selection, reject),
 * plain HTTP, adoption, handshake timeout, max_connections, X-Forwarded-For,
 * and server control (unmount, close_all, shut_down). */
#include <stdlib.h>

#include "test_uv_util.h"

static struct {
  int requests, aborted, http;
  char path[64], query[64], host[64], origin[64], xtest[16], method[8];
  size_t nprot, nxff;
  char prot0[16], prot1[16], xff0[32], xff1[32], ext[64];
  int version, is_ws;
  wsx_request *pending;
  int mode; /* 0 accept "b", 1 reject 401, 2 keep pending, 3 accept "b"
               when it was not offered */
} R;

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  size_t n, plen;
  const char *const *p = wsx_request_protocols(req, &n);
  const char *const *x;
  const char *path = wsx_request_path(req, &plen);
  int err;
  (void)srv, (void)ud;
  R.requests++;
  snprintf(R.path, sizeof(R.path), "%.*s", (int)plen, path);
  snprintf(R.query, sizeof(R.query), "%s", wsx_request_query(req));
  snprintf(R.host, sizeof(R.host), "%s", wsx_request_host(req));
  snprintf(R.origin, sizeof(R.origin), "%s",
           wsx_request_origin(req) ? wsx_request_origin(req) : "(none)");
  snprintf(R.xtest, sizeof(R.xtest), "%s",
           wsx_request_header(req, "X-Test") ? wsx_request_header(req, "x-test")
                                             : "(none)");
  snprintf(R.method, sizeof(R.method), "%s", wsx_request_method(req));
  snprintf(R.ext, sizeof(R.ext), "%s", wsx_request_extensions(req));
  R.nprot = n;
  if (n > 0)
    snprintf(R.prot0, sizeof(R.prot0), "%s", p[0]);
  if (n > 1)
    snprintf(R.prot1, sizeof(R.prot1), "%s", p[1]);
  x = wsx_request_forwarded_for(req, &R.nxff);
  if (R.nxff > 0)
    snprintf(R.xff0, sizeof(R.xff0), "%s", x[0]);
  if (R.nxff > 1)
    snprintf(R.xff1, sizeof(R.xff1), "%s", x[1]);
  R.version = wsx_request_version(req);
  R.is_ws = wsx_request_is_websocket(req);
  if (R.mode == 0) {
    T.s.sock =
        wsx_request_accept(req, n ? "b" : NULL, NULL, &rec_cbs, &T.s, &err);
    CHECK(T.s.sock != NULL);
  } else if (R.mode == 3) {
    CHECK(wsx_request_accept(req, "b", NULL, &rec_cbs, &T.s, &err) == NULL);
    CHECK_INT(err, WSX_E_INVALID);
  } else if (R.mode == 1) {
    wsx_header h = {"WWW-Authenticate", 16, "Basic", 5};
    CHECK_INT(wsx_request_reject(req, 401, "go away", &h, 1), 0);
  } else {
    R.pending = req;
  }
}

static void on_aborted(wsx_server *srv, wsx_request *req, void *ud) {
  (void)srv, (void)ud;
  CHECK(req == R.pending);
  R.pending = NULL;
  R.aborted++;
}

static char reject_reason[64];
static char failed_auth[16];

static void on_failed_headers(wsx_socket *s, const wsx_connect_failure *f,
                              void *ud) {
  size_t n, len;
  const wsx_header *h = wsx_socket_headers(s, &n);
  const char *v =
      h ? wsx_header_find(h, n, "x-websocket-reject-reason", &len) : NULL;
  if (v)
    snprintf(reject_reason, sizeof(reject_reason), "%.*s", (int)len, v);
  v = h ? wsx_header_find(h, n, "www-authenticate", &len) : NULL;
  if (v)
    snprintf(failed_auth, sizeof(failed_auth), "%.*s", (int)len, v);
  T.c.fail_status = wsx_socket_status_code(s);
  T.c.failed++;
  T.c.fail_code = f->code;
  CHECK_INT(f->status_code, 401);
  (void)ud;
}

static int start_request_server(int mode, wsx_server_options *o) {
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  static const char *const protos[] = {"b", "c", NULL};
  wsx_server_options zo = WSX_SERVER_OPTIONS_INIT;
  memset(&R, 0, sizeof(R));
  R.mode = mode;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.request = on_request;
  cb.request_aborted = on_aborted;
  if (!o) {
    zo = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
    o = &zo;
  }
  srv_drv(o)->protocols = protos;
  return start_server(NULL, o, &cb);
}

TEST(accept_with_protocol) {
  static const char *const offers[] = {"a", "b", NULL};
  wsx_header h = {"X-Test", 6, "yes", 3};
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  ev_reset();
  REQUIRE(start_request_server(0, NULL) == 0);
  co = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  cli_drv(&co)->protocols = offers;
  cli_drv(&co)->origin = "http://example.test";
  co.headers = &h;
  co.num_headers = 1;
  REQUIRE(connect_client("/room/1?user=ann&x=2", &co));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  CHECK_INT(T.s.open, 1);
  CHECK_INT(R.requests, 1);
  CHECK_STR(R.method, "GET");
  CHECK_STR(R.path, "/room/1");
  CHECK_STR(R.query, "user=ann&x=2");
  CHECK(strncmp(R.host, "127.0.0.1:", 10) == 0);
  CHECK_STR(R.origin, "http://example.test");
  CHECK_STR(R.xtest, "yes");
  CHECK_INT(R.nprot, 2);
  CHECK_STR(R.prot0, "a");
  CHECK_STR(R.prot1, "b");
  CHECK_INT(R.version, 13);
  CHECK_INT(R.is_ws, 1);
  CHECK_INT(R.nxff, 0); /* not trusted */
  CHECK_STR(wsx_socket_protocol(T.c.sock), "b");
  CHECK_STR(wsx_socket_protocol(T.s.sock), "b");
  CHECK_INT(wsx_socket_status_code(T.c.sock), 101);
  CHECK(wsx_socket_server(T.s.sock) == T.srv);
  CHECK(wsx_socket_server(T.c.sock) == NULL);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(reject_with_status_and_reason) {
  wsx_socket_callbacks cbs = rec_cbs;
  int err;
  char url[64];
  ev_reset();
  reject_reason[0] = failed_auth[0] = '\0';
  REQUIRE(start_request_server(1, NULL) == 0);
  cbs.connect_failed = on_failed_headers;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, NULL, &cbs, &T.c, &err);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_HANDSHAKE);
  CHECK_INT(T.c.fail_status, 401);
  CHECK_STR(reject_reason, "go away");
  CHECK_STR(failed_auth, "Basic");
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.close, 1);
  CHECK_INT(T.c.close_code, 1006);
  CHECK_INT(T.c.close_clean, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(accept_unoffered_protocol_is_refused) {
  static const char *const offers[] = {"a", NULL};
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  ev_reset();
  REQUIRE(start_request_server(3, NULL) == 0);
  co = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  cli_drv(&co)->protocols = offers;
  REQUIRE(connect_client("/", &co));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_status, 400);
  CHECK_INT(T.s.open, 0);
  SHUTDOWN_AND_CHECK();
}

/* ---- plain HTTP ---- */

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  size_t blen;
  const uint8_t *body = wsx_request_body(req, &blen);
  (void)srv, (void)ud;
  R.http++;
  CHECK(!wsx_request_is_websocket(req));
  CHECK(wsx_http_res_request(res) == req);
  CHECK_INT(wsx_http_res_status(res, 201, NULL), 0);
  CHECK_INT(wsx_http_res_header(res, "X-Served-By", "wsx"), 0);
  CHECK_INT(wsx_http_res_header(res, "Bad", "a\r\nb"), WSX_E_HEADER_VALUE);
  if (blen) {
    wsx_http_res_write(res, "got:", 4);
    wsx_http_res_end(res, body, blen);
  } else {
    CHECK_INT(wsx_http_res_end(res, "hello world", 11), 0);
  }
  CHECK_INT(wsx_http_res_end(res, NULL, 0), WSX_E_CLOSED);
}

TEST(plain_http_request) {
  static const char get[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  static const char post[] =
      "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde";
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  raw_peer a, b;
  ev_reset();
  memset(&R, 0, sizeof(R));
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.http_request = on_http;
  REQUIRE(start_server(NULL, &(wsx_server_options)WSX_SERVER_OPTIONS_INIT, &cb) == 0);
  raw_connect(&a, get, sizeof(get) - 1, 1);
  raw_connect(&b, post, sizeof(post) - 1, 1);
  RUN_UNTIL(a.closed && b.closed, 3000);
  CHECK_INT(R.http, 2);
  CHECK(strncmp(a.in, "HTTP/1.1 201 Created", 12) == 0);
  CHECK(strstr(a.in, "X-Served-By: wsx\r\n") != NULL);
  CHECK(strstr(a.in, "Content-Length: 11\r\n") != NULL);
  CHECK(strstr(a.in, "\r\n\r\nhello world") != NULL);
  CHECK(strstr(b.in, "\r\n\r\ngot:abcde") != NULL);
  CHECK(strstr(b.in, "Content-Length") == NULL); /* streamed */
  SHUTDOWN_AND_CHECK();
}

/* A streamed response (event-stream style) that ends when the client goes
 * away: the response's close callback fires and frees it. */
static int stream_closed;
static void stream_close(wsx_http_res *res, void *ud) {
  (void)res;
  CHECK(ud == &stream_closed);
  stream_closed++;
}

static void on_http_stream(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                           void *ud) {
  wsx_http_res_callbacks cbs = {sizeof(wsx_http_res_callbacks), NULL, stream_close};
  (void)srv, (void)ud, (void)req;
  wsx_http_res_set_callbacks(res, &cbs, &stream_closed);
  wsx_http_res_header(res, "Content-Type", "text/event-stream");
  CHECK_INT(wsx_http_res_write(res, "data: one\n\n", 11), 0);
  CHECK_INT(wsx_http_res_write(res, "data: two\n\n", 11), 0);
  CHECK_INT(wsx_http_res_buffered_amount(res) < 100, 1);
}

TEST(streamed_http_response_until_client_leaves) {
  static const char get[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  raw_peer a;
  ev_reset();
  stream_closed = 0;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.http_request = on_http_stream;
  REQUIRE(start_server(NULL, &(wsx_server_options)WSX_SERVER_OPTIONS_INIT, &cb) == 0);
  raw_connect(&a, get, sizeof(get) - 1, 1);
  RUN_UNTIL(strstr(a.in, "data: two\n\n"), 3000);
  CHECK(strncmp(a.in, "HTTP/1.1 200 OK\r\n", 17) == 0);
  CHECK(strstr(a.in, "Content-Type: text/event-stream\r\n") != NULL);
  CHECK(strstr(a.in, "\r\n\r\ndata: one\n\ndata: two\n\n") != NULL);
  CHECK_INT(stream_closed, 0);
  raw_close(&a);
  RUN_UNTIL(stream_closed, 3000);
  CHECK_INT(stream_closed, 1);
  CHECK_INT(wsx_server_connection_count(T.srv), 0);
  SHUTDOWN_AND_CHECK();
}

TEST(plain_http_without_handler_gets_426) {
  static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_peer a;
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  raw_connect(&a, get, sizeof(get) - 1, 1);
  RUN_UNTIL(a.closed, 3000);
  CHECK(strncmp(a.in, "HTTP/1.1 426 ", 13) == 0);
  CHECK(strstr(a.in, "Upgrade: websocket\r\n") != NULL);
  SHUTDOWN_AND_CHECK();
}

TEST(garbage_head_gets_400) {
  static const char junk[] = "\x01\x02 garbage\r\n\r\n";
  raw_peer a;
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  raw_connect(&a, junk, sizeof(junk) - 1, 1);
  RUN_UNTIL(a.closed, 3000);
  CHECK(strncmp(a.in, "HTTP/1.1 400 ", 13) == 0);
  CHECK_INT(T.s.open, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(oversized_head_gets_431) {
  static char big[1024];
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  raw_peer a;
  memset(big, 'a', sizeof(big));
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  ev_reset();
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  o.auto_accept = 1;
  srv_drv(&o)->max_head_size = 512;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  raw_connect(&a, big, sizeof(big), 1);
  RUN_UNTIL(a.closed, 3000);
  CHECK(strncmp(a.in, "HTTP/1.1 431 ", 13) == 0);
  SHUTDOWN_AND_CHECK();
}

TEST(forwarded_for_when_trusted) {
  static const char head[] =
      "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n\r\n";
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  raw_peer a;
  ev_reset();
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  o.trust_forwarded_for = 1;
  REQUIRE(start_request_server(0, &o) == 0);
  raw_connect(&a, head, sizeof(head) - 1, 1);
  RUN_UNTIL(T.s.open && strstr(a.in, "\r\n\r\n"), 3000);
  CHECK_INT(R.nxff, 2);
  CHECK_STR(R.xff0, "1.2.3.4");
  CHECK_STR(R.xff1, "5.6.7.8");
  CHECK(strstr(a.in, "HTTP/1.1 101") == a.in);
  CHECK(strstr(a.in, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") !=
        NULL);
  raw_close(&a);
  RUN_UNTIL(T.s.close, 3000);
  CHECK_INT(T.s.close_code, 1006);
  SHUTDOWN_AND_CHECK();
}

TEST(pending_request_aborted_by_client) {
  static const char head[] = UPGRADE_HEAD("/wait");
  raw_peer a;
  ev_reset();
  REQUIRE(start_request_server(2, NULL) == 0);
  raw_connect(&a, head, sizeof(head) - 1, 1);
  RUN_UNTIL(R.pending, 3000);
  REQUIRE(R.pending);
  raw_close(&a);
  RUN_UNTIL(R.aborted, 3000);
  CHECK_INT(R.aborted, 1);
  CHECK(R.pending == NULL);
  SHUTDOWN_AND_CHECK();
}

TEST(handshake_timeout_drops_slow_client) {
  static const char half[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgr";
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  raw_peer a, b;
  uint64_t t0;
  ev_reset();
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  o.handshake_timeout = 150;
  REQUIRE(start_request_server(2, &o) == 0);
  t0 = uv_now(&T.loop);
  raw_connect(&a, half, sizeof(half) - 1, 1);
  raw_connect(&b, UPGRADE_HEAD("/"), sizeof(UPGRADE_HEAD("/")) - 1, 1);
  RUN_UNTIL(a.closed && b.closed, 3000);
  CHECK(a.eof && b.eof);
  CHECK_INT(a.in_len, 0); /* dropped without an answer */
  CHECK(uv_now(&T.loop) - t0 >= 140);
  CHECK(uv_now(&T.loop) - t0 < 2000);
  CHECK_INT(R.requests, 1); /* b's complete head was dispatched ... */
  CHECK_INT(R.aborted, 1);  /* ... then timed out while pending */
  CHECK_INT(wsx_server_connection_count(T.srv), 0);
  SHUTDOWN_AND_CHECK();
}

TEST(max_connections_gets_503) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  raw_peer a;
  ev_reset();
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  o.auto_accept = 1;
  o.max_connections = 1;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  raw_connect(&a, UPGRADE_HEAD("/"), sizeof(UPGRADE_HEAD("/")) - 1, 1);
  RUN_UNTIL(a.closed, 3000);
  CHECK(strncmp(a.in, "HTTP/1.1 503 ", 13) == 0);
  CHECK_INT(T.s.open, 1);
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_OPEN);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  /* The slot is free again. */
  memset(&T.c, 0, sizeof(T.c));
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* ---- server control ---- */

static ev_side c2;

TEST(unmount_close_all_shut_down) {
  int err;
  char url[64];
  ev_reset();
  memset(&c2, 0, sizeof(c2));
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  REQUIRE(wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &c2, &err));
  RUN_UNTIL(T.c.open && c2.open, 3000);
  CHECK_INT(wsx_server_connection_count(T.srv), 2);
  wsx_server_unmount(T.srv);
  {
    ev_side c3;
    memset(&c3, 0, sizeof(c3));
    REQUIRE(wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &c3, &err));
    RUN_UNTIL(c3.close, 3000);
    CHECK_INT(c3.failed, 1);
    CHECK_INT(c3.fail_code, WSX_E_IO);
    CHECK_INT(c3.fail_uv, UV_ECONNREFUSED);
  }
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_OPEN); /* unaffected */
  wsx_server_close_all(T.srv);
  RUN_UNTIL(T.c.close && c2.close, 3000);
  CHECK_INT(T.c.close_code, 1001);
  CHECK_INT(T.c.close_clean, 1);
  CHECK_INT(c2.close_code, 1001);
  wsx_server_shut_down(T.srv); /* idempotent with nothing left */
  SHUTDOWN_AND_CHECK();
}

/* ---- adoption into the application's own libuv server ---- */

typedef struct app_conn {
  uv_tcp_t tcp;
  char buf[4096];
  size_t len;
  wsx_header hdrs[32];
} app_conn;

static uv_tcp_t app_listener;
static int adopted_freed;

static void app_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  app_conn *c = h->data;
  (void)sz;
  b->base = c->buf + c->len;
  b->len = sizeof(c->buf) - c->len;
}

static void adopted_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  app_conn *c = wsx_socket_user_data(s);
  on_close(s, e, &T.s);
  (void)ud;
  free(c); /* the stream's memory is ours again */
  adopted_freed++;
}

static void app_open(wsx_socket *s, void *ud) {
  (void)ud;
  on_open(s, &T.s);
}
static void app_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  T.echo = 1;
  on_message(s, m, &T.s);
}

static void app_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  app_conn *c = st->data;
  wsx_http_request req;
  wsx_http_state hs = {0};
  /* The adopted socket's user data is the app_conn: route to T.s. */
  wsx_socket_callbacks cbs = {sizeof(wsx_socket_callbacks), app_open, app_message,   NULL, NULL, NULL,
                              NULL,     adopted_close, NULL, NULL};
  int rc, err;
  (void)b;
  if (n < 0) {
    uv_close((uv_handle_t *)st, (uv_close_cb)free);
    return;
  }
  c->len += (size_t)n;
  rc = wsx_http_parse_request(c->buf, c->len, &req, c->hdrs, 32, 0, &hs, NULL);
  if (rc == WSX_E_AGAIN)
    return;
  REQUIRE(rc > 0);
  CHECK(wsx_is_websocket_request(&req));
  T.s.sock = wsx_socket_adopt(&T.loop, st, &req, (uint8_t *)c->buf + rc,
                              c->len - (size_t)rc, NULL, &cbs, c, &err);
  CHECK(T.s.sock != NULL);
}

static void app_on_connection(uv_stream_t *ls, int status) {
  app_conn *c = calloc(1, sizeof(*c));
  REQUIRE(status == 0 && c);
  uv_tcp_init(&T.loop, &c->tcp);
  c->tcp.data = c;
  REQUIRE(uv_accept(ls, (uv_stream_t *)&c->tcp) == 0);
  uv_read_start((uv_stream_t *)&c->tcp, app_alloc, app_read);
}

TEST(adopt_from_own_listener) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  ev_reset();
  adopted_freed = 0;
  uv_tcp_init(&T.loop, &app_listener);
  uv_ip4_addr("127.0.0.1", 0, &a);
  REQUIRE(uv_tcp_bind(&app_listener, (struct sockaddr *)&a, 0) == 0);
  REQUIRE(uv_listen((uv_stream_t *)&app_listener, 16, app_on_connection) == 0);
  uv_tcp_getsockname(&app_listener, (struct sockaddr *)&ss, &len);
  T.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  REQUIRE(connect_client("/adopted", NULL));
  /* send before open: the frame may arrive with the head (body bytes) */
  wsx_socket_send_text(T.c.sock, "with-the-head", 13);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_INT(T.c.open, 1);
  CHECK_MEM(T.c.msg, T.c.msg_len, "with-the-head", 13);
  CHECK_STR(wsx_socket_url(T.s.sock) ? "ok" : NULL, "ok");
  wsx_socket_close(T.c.sock, 4000, "done");
  RUN_UNTIL(T.c.close && adopted_freed, 3000);
  CHECK_INT(T.s.close_code, 4000);
  CHECK_INT(adopted_freed, 1);
  uv_close((uv_handle_t *)&app_listener, NULL);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(RUN(accept_with_protocol); RUN(reject_with_status_and_reason);
          RUN(accept_unoffered_protocol_is_refused); RUN(plain_http_request);
          RUN(streamed_http_response_until_client_leaves);
          RUN(plain_http_without_handler_gets_426); RUN(garbage_head_gets_400);
          RUN(oversized_head_gets_431); RUN(forwarded_for_when_trusted);
          RUN(pending_request_aborted_by_client);
          RUN(handshake_timeout_drops_slow_client);
          RUN(max_connections_gets_503); RUN(unmount_close_all_shut_down);
          RUN(adopt_from_own_listener))
