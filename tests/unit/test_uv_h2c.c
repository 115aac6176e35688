/*
 * WebSocket over HTTP/2, client side (wsx_socket_options.http2, RFC 8441):
 * wsx clients against a wsx TLS server on loopback with a self-signed
 * certificate (verified through ca_file).
 *   - echo of text and binary over one h2 stream, both sides report
 *     wsx_socket_is_http2;
 *   - ten sockets share ONE TCP connection: every server-side stream socket
 *     sees the same remote port (opened while the connection is still
 *     being made, and after it is up);
 *   - permessage-deflate negotiated and used over h2;
 *   - a 403 from the server is connect_failed (WSX_E_HANDSHAKE, status
 *     403) while a sibling stream on the same connection opens;
 *   - a server without h2 (ALPN http/1.1): the socket falls back to the
 *     HTTP/1.1 upgrade and opens;
 *   - closing one stream leaves its siblings working; the connection goes
 *     with the last one (the loop then closes with nothing open), and the
 *     next dial makes a new connection; a socket closed while the
 *     connection is being made goes alone (or with the connection);
 *   - buffered_amount and drain follow the stream's window; a stream the
 *     server drops closes its socket and no other;
 *   - a shared connection that fails (refused, certificate) leaves each
 *     socket to dial on its own and report the HTTP/1.1 error.
 * Built without HTTP/2 it prints one `skip` line.
 */
#include "test_uv_util.h"

#ifndef WSX_HAVE_HTTP2
TEST_MAIN(printf("ok uv_h2c # skip: built without HTTP/2 (WSX_HTTP2=OFF)\n"))
#else

#include "helpers/script_dir.h"
#include "wsx/extension.h"
#include "wsx/tls.h"

#define N 10

#include "h2_cert.h"

/* ---- the server: echoes; /nope is rejected with 403 ---- */

static struct {
  int opens, closes, h2, msgs;
  size_t bytes;
  int port[N + 2];
  char ext[128];
} S;

static void s_open(wsx_socket *s, void *ud) {
  char addr[64];
  int port = 0;
  (void)ud;
  if (S.opens < N + 2) {
    (void)wsx_socket_remote_address(s, addr, sizeof(addr), &port);
    S.port[S.opens] = port;
  }
  S.opens++;
  S.h2 += wsx_socket_is_http2(s);
  snprintf(S.ext, sizeof(S.ext), "%s", wsx_socket_extensions(s));
}

static void s_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  S.msgs++;
  S.bytes += m->len;
  if (m->len == 4 && memcmp(m->data, "drop", 4) == 0)
    (void)wsx_socket_drop(s, 1001, NULL); /* close frame, RST_STREAM */
  else if (m->len < 100000)
    (void)wsx_socket_send(s, m->opcode, m->data, m->len, 0);
}

static void s_close(wsx_socket *s, const wsx_close_event *ev, void *ud) {
  (void)s, (void)ev, (void)ud;
  S.closes++;
}

static const wsx_socket_callbacks s_cbs = {.struct_size =
                                               sizeof(wsx_socket_callbacks),
                                           .open = s_open,
                                           .message = s_message,
                                           .close = s_close};

static void s_request(wsx_server *srv, wsx_request *r, void *ud) {
  (void)srv, (void)ud;
  if (strcmp(wsx_request_resource(r), "/nope") == 0)
    (void)wsx_request_reject(r, 403, "not here", NULL, 0);
  else
    (void)wsx_request_accept(r, NULL, NULL, &s_cbs, NULL, NULL);
}

static wsx_extension *srv_exts[2];

static int server(int http2, wsx_extension *ext) {
  static wsx_tls_server_options tls;
  static wsx_tls_cert cert;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  memset(&S, 0, sizeof(S));
  tls = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  cert = (wsx_tls_cert)WSX_TLS_CERT_INIT;
  cert.cert_file = P("srv.pem");
  cert.key_file = P("srv.key");
  tls.cert = &cert;
  tls.http2 = http2;
  o.tls = &tls;
  srv_exts[0] = ext;
  srv_exts[1] = NULL;
  if (ext)
    srv_sock(&o)->extensions = srv_exts;
  cb.request = s_request;
  return start_server(NULL, &o, &cb);
}

/* ---- clients ---- */

typedef struct cli {
  wsx_socket *s;
  int open, closed, failed, fail_code, fail_status, is_h2, msgs, close_code;
  int drains;
  size_t last_len;
  char last[64];
  int last_op;
} cli;

static cli C[N + 2];

static void c_open(wsx_socket *s, void *ud) {
  cli *c = ud;
  c->open = 1;
  c->is_h2 = wsx_socket_is_http2(s);
}

static void c_message(wsx_socket *s, const wsx_message *m, void *ud) {
  cli *c = ud;
  (void)s;
  c->msgs++;
  c->last_op = m->opcode;
  c->last_len = m->len;
  memcpy(c->last, m->data, m->len < sizeof(c->last) ? m->len : sizeof(c->last));
}

static void c_close(wsx_socket *s, const wsx_close_event *ev, void *ud) {
  cli *c = ud;
  (void)s;
  c->closed = 1;
  c->close_code = ev->code;
  c->s = NULL;
}

static void c_drain(wsx_socket *s, void *ud) {
  cli *c = ud;
  (void)s;
  c->drains++;
}

static void c_failed(wsx_socket *s, const wsx_connect_failure *f, void *ud) {
  cli *c = ud;
  (void)s;
  c->failed = 1;
  c->fail_code = f->code;
  c->fail_status = f->status_code;
}

static const wsx_socket_callbacks c_cbs = {
    .struct_size = sizeof(wsx_socket_callbacks),
    .open = c_open,
    .message = c_message,
    .close = c_close,
    .drain = c_drain,
    .connect_failed = c_failed};

static wsx_extension *cli_exts[2];

static wsx_socket *dial(cli *c, const char *path, wsx_extension *ext) {
  wsx_tls_client_options tls = WSX_TLS_CLIENT_OPTIONS_INIT;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  char url[128];
  int err = 0;
  memset(c, 0, sizeof(*c));
  tls.ca_file = P("srv.pem");
  o.tls = &tls;
  o.http2 = 1;
  cli_exts[0] = ext;
  cli_exts[1] = NULL;
  if (ext)
    o.extensions = cli_exts;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d%s", T.port, path);
  c->s = wsx_socket_connect(&T.loop, url, &o, &c_cbs, c, &err);
  if (!c->s)
    printf("  connect: %s\n", wsx_strerror(err));
  return c->s;
}

static int all_open(int from, int to) {
  int i;
  for (i = from; i < to; i++)
    if (!C[i].open)
      return 0;
  return 1;
}

static int all_msgs(int from, int to, int n) {
  int i;
  for (i = from; i < to; i++)
    if (C[i].msgs < n)
      return 0;
  return 1;
}

TEST(echo_text_binary) {
  static const uint8_t bin[] = {0, 1, 2, 255};
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  REQUIRE(dial(&C[0], "/echo", NULL) != NULL);
  CHECK_INT(wsx_socket_is_http2(C[0].s), 0); /* may still fall back */
  RUN_UNTIL(C[0].open || C[0].failed, 5000);
  CHECK_INT(C[0].open, 1);
  CHECK_INT(C[0].is_h2, 1);
  CHECK_INT(S.h2, 1);
  CHECK_STR(wsx_socket_tls_alpn(C[0].s), ""); /* the stream has no TLS */
  CHECK(wsx_socket_send_text(C[0].s, "hello h2", 8) >= 0);
  RUN_UNTIL(C[0].msgs == 1, 3000);
  CHECK_INT(C[0].last_op, WSX_OP_TEXT);
  CHECK(C[0].last_len == 8 && memcmp(C[0].last, "hello h2", 8) == 0);
  CHECK(wsx_socket_send_binary(C[0].s, bin, sizeof(bin)) >= 0);
  RUN_UNTIL(C[0].msgs == 2, 3000);
  CHECK_INT(C[0].last_op, WSX_OP_BINARY);
  CHECK(C[0].last_len == 4 && memcmp(C[0].last, bin, 4) == 0);
  CHECK(wsx_socket_close(C[0].s, 1000, "done") == WSX_OK);
  RUN_UNTIL(C[0].closed && S.closes == 1, 3000);
  CHECK_INT(C[0].close_code, 1000);
  SHUTDOWN_AND_CHECK();
}

TEST(ten_streams_one_connection) {
  int i, same = 1;
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  /* Five while the connection is being made, five once it is up. */
  for (i = 0; i < N / 2; i++)
    REQUIRE(dial(&C[i], "/many", NULL) != NULL);
  RUN_UNTIL(all_open(0, N / 2), 5000);
  CHECK(all_open(0, N / 2));
  for (i = N / 2; i < N; i++)
    REQUIRE(dial(&C[i], "/many", NULL) != NULL);
  RUN_UNTIL(all_open(0, N), 5000);
  CHECK(all_open(0, N));
  CHECK_INT(S.opens, N);
  CHECK_INT(S.h2, N);
  for (i = 1; i < N; i++)
    same &= S.port[i] == S.port[0];
  CHECK(S.port[0] > 0);
  CHECK(same); /* one TCP connection carries all ten */
  for (i = 0; i < N; i++) {
    char m[16];
    int k = snprintf(m, sizeof(m), "msg %d", i);
    CHECK(wsx_socket_send_text(C[i].s, m, (size_t)k) >= 0);
  }
  RUN_UNTIL(all_msgs(0, N, 1), 5000);
  for (i = 0; i < N; i++) {
    char m[16];
    int k = snprintf(m, sizeof(m), "msg %d", i);
    CHECK(C[i].last_len == (size_t)k && memcmp(C[i].last, m, (size_t)k) == 0);
    CHECK(wsx_socket_close(C[i].s, 1000, NULL) == WSX_OK);
  }
  RUN_UNTIL(S.closes == N, 5000);
  CHECK_INT(S.closes, N);
  SHUTDOWN_AND_CHECK();
}

TEST(deflate_over_h2) {
  char big[8192];
  wsx_extension *sd = wsx_deflate_new(NULL), *cd = wsx_deflate_new(NULL);
  size_t i;
  REQUIRE(sd && cd);
  for (i = 0; i < sizeof(big); i++)
    big[i] = (char)('a' + i % 7);
  ev_reset();
  REQUIRE(server(1, sd) == 0);
  REQUIRE(dial(&C[0], "/z", cd) != NULL);
  RUN_UNTIL(C[0].open || C[0].failed, 5000);
  CHECK_INT(C[0].is_h2, 1);
  CHECK(strncmp(wsx_socket_extensions(C[0].s), "permessage-deflate", 18) == 0);
  CHECK(strncmp(S.ext, "permessage-deflate", 18) == 0);
  CHECK(wsx_socket_send_text(C[0].s, big, sizeof(big)) >= 0);
  RUN_UNTIL(C[0].msgs == 1, 3000);
  CHECK(C[0].last_len == sizeof(big) && memcmp(C[0].last, big, 64) == 0);
  CHECK(wsx_socket_close(C[0].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[0].closed, 3000);
  SHUTDOWN_AND_CHECK();
  wsx_deflate_free(sd);
  wsx_deflate_free(cd);
}

TEST(reject_403_sibling_opens) {
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  REQUIRE(dial(&C[0], "/nope", NULL) != NULL);
  REQUIRE(dial(&C[1], "/fine", NULL) != NULL);
  RUN_UNTIL(C[0].closed && C[1].open, 5000);
  CHECK_INT(C[0].open, 0);
  CHECK_INT(C[0].failed, 1);
  CHECK_INT(C[0].fail_code, WSX_E_HANDSHAKE);
  CHECK_INT(C[0].fail_status, 403);
  CHECK_INT(C[1].open, 1);
  CHECK_INT(C[1].is_h2, 1);
  CHECK(wsx_socket_send_text(C[1].s, "still", 5) >= 0);
  RUN_UNTIL(C[1].msgs == 1, 3000);
  CHECK_INT(C[1].msgs, 1);
  CHECK(wsx_socket_close(C[1].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[1].closed, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(fallback_http11) {
  ev_reset();
  REQUIRE(server(0, NULL) == 0); /* ALPN: http/1.1 only */
  REQUIRE(dial(&C[0], "/old", NULL) != NULL);
  REQUIRE(dial(&C[1], "/old", NULL) != NULL);
  RUN_UNTIL(all_open(0, 2) || C[0].failed || C[1].failed, 5000);
  CHECK(all_open(0, 2));
  CHECK_INT(C[0].is_h2, 0);
  CHECK_INT(S.h2, 0);
  CHECK_STR(wsx_socket_tls_alpn(C[0].s), "http/1.1");
  CHECK(S.port[0] != S.port[1]); /* a connection each */
  CHECK(wsx_socket_send_text(C[0].s, "h1", 2) >= 0);
  RUN_UNTIL(C[0].msgs == 1, 3000);
  CHECK_INT(C[0].msgs, 1);
  CHECK(wsx_socket_close(C[0].s, 1000, NULL) == WSX_OK);
  CHECK(wsx_socket_close(C[1].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[0].closed && C[1].closed, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(sibling_survives_close) {
  int i;
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  for (i = 0; i < 3; i++)
    REQUIRE(dial(&C[i], "/sib", NULL) != NULL);
  RUN_UNTIL(all_open(0, 3), 5000);
  CHECK(all_open(0, 3));
  CHECK(S.port[0] == S.port[1] && S.port[1] == S.port[2]);
  CHECK(wsx_socket_close(C[0].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[0].closed && S.closes == 1, 3000);
  CHECK_INT(C[0].close_code, 1000);
  for (i = 1; i < 3; i++)
    CHECK(wsx_socket_send_text(C[i].s, "alive", 5) >= 0);
  RUN_UNTIL(all_msgs(1, 3, 1), 3000);
  CHECK(all_msgs(1, 3, 1));
  CHECK_INT(C[1].closed + C[2].closed, 0);
  /* A socket dropped without a closing handshake resets its stream only. */
  CHECK(wsx_socket_drop(C[1].s, 1001, NULL) == WSX_OK);
  RUN_UNTIL(C[1].closed && S.closes == 2, 3000);
  CHECK_INT(S.closes, 2);
  CHECK(wsx_socket_send_text(C[2].s, "again", 5) >= 0);
  RUN_UNTIL(C[2].msgs == 2, 3000);
  CHECK_INT(C[2].msgs, 2);
  CHECK(wsx_socket_close(C[2].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[2].closed && S.closes == 3, 3000);
  /* The connection went with its last stream: a new dial makes another. */
  run_for(200);
  REQUIRE(dial(&C[3], "/sib", NULL) != NULL);
  RUN_UNTIL(C[3].open || C[3].failed, 5000);
  CHECK_INT(C[3].is_h2, 1);
  CHECK(S.port[3] != S.port[0]);
  CHECK(wsx_socket_close(C[3].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[3].closed, 3000);
  SHUTDOWN_AND_CHECK();
}

/* Closed before the connection is up: the other stream still opens; the
 * connection goes with the last one (the loop closes clean). */
TEST(close_while_waiting) {
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  REQUIRE(dial(&C[0], "/a", NULL) != NULL);
  REQUIRE(dial(&C[1], "/b", NULL) != NULL);
  CHECK(wsx_socket_close(C[0].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[0].closed && (C[1].open || C[1].failed), 5000);
  CHECK_INT(C[0].open, 0);
  CHECK_INT(C[1].open, 1);
  CHECK_INT(C[1].is_h2, 1);
  CHECK_INT(S.opens, 1);
  CHECK(wsx_socket_close(C[1].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[1].closed, 3000);
  /* The only socket goes while its connection is still being made. */
  REQUIRE(dial(&C[2], "/c", NULL) != NULL);
  CHECK(wsx_socket_close(C[2].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[2].closed, 3000);
  CHECK_INT(C[2].open, 0);
  SHUTDOWN_AND_CHECK();
}

/* The shared connection fails: each socket dials on its own and reports
 * what an HTTP/1.1 dial reports (refused: WSX_E_IO; a certificate that
 * does not verify: WSX_E_TLS). */
TEST(failures_as_http11) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket *s;
  char url[64];
  int port, err = 0;
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  port = T.port;
  /* No CA given: the system store does not know the self-signed one. */
  o.http2 = 1;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d/x", port);
  memset(&C[0], 0, sizeof(C[0]));
  s = wsx_socket_connect(&T.loop, url, &o, &c_cbs, &C[0], &err);
  REQUIRE(s != NULL);
  RUN_UNTIL(C[0].closed, 5000);
  CHECK_INT(C[0].failed, 1);
  CHECK_INT(C[0].fail_code, WSX_E_TLS);
  CHECK_INT(S.opens, 0);
  wsx_server_free(T.srv);
  T.srv = NULL;
  RUN_UNTIL(T.srv_closed, 3000);
  /* Nothing listens there any more. */
  REQUIRE(dial(&C[1], "/x", NULL) != NULL);
  RUN_UNTIL(C[1].closed, 5000);
  CHECK_INT(C[1].failed, 1);
  CHECK_INT(C[1].fail_code, WSX_E_IO);
  SHUTDOWN_AND_CHECK();
}

/* buffered_amount is what the stream's window holds back (the server
 * opens 256 KiB per stream); drain fires once the server took it all. */
TEST(window_buffered_drain) {
  static uint8_t big[1 << 20];
  int rc;
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  REQUIRE(dial(&C[0], "/big", NULL) != NULL);
  RUN_UNTIL(C[0].open || C[0].failed, 5000);
  CHECK_INT(C[0].is_h2, 1);
  rc = wsx_socket_send_binary(C[0].s, big, sizeof(big));
  CHECK_INT(rc, 1); /* above the high-water mark */
  CHECK(wsx_socket_buffered_amount(C[0].s) > 512 * 1024);
  RUN_UNTIL(C[0].drains && S.msgs == 1, 5000);
  CHECK_INT(C[0].drains, 1);
  CHECK(S.bytes == sizeof(big));
  CHECK(wsx_socket_buffered_amount(C[0].s) <= 16 * 1024);
  CHECK(wsx_socket_close(C[0].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[0].closed, 3000);
  SHUTDOWN_AND_CHECK();
}

/* The server drops one stream's socket (a 1001 close frame, then the
 * stream is reset): that client socket closes, its sibling goes on. */
TEST(server_drops_stream) {
  ev_reset();
  REQUIRE(server(1, NULL) == 0);
  REQUIRE(dial(&C[0], "/r", NULL) != NULL);
  REQUIRE(dial(&C[1], "/r", NULL) != NULL);
  RUN_UNTIL(all_open(0, 2), 5000);
  CHECK(all_open(0, 2));
  CHECK(wsx_socket_send_text(C[0].s, "drop", 4) >= 0);
  RUN_UNTIL(C[0].closed, 3000);
  CHECK_INT(C[0].closed, 1);
  CHECK_INT(C[0].close_code, 1001);
  CHECK(wsx_socket_send_text(C[1].s, "still here", 10) >= 0);
  RUN_UNTIL(C[1].msgs == 1, 3000);
  CHECK_INT(C[1].msgs, 1);
  CHECK_INT(C[1].closed, 0);
  CHECK(wsx_socket_close(C[1].s, 1000, NULL) == WSX_OK);
  RUN_UNTIL(C[1].closed, 3000);
  CHECK_INT(C[1].close_code, 1000);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(if (tc_script_dir("wsx-h2c", h2_gen_script, dir, sizeof(dir)) != 0) {
  printf("FAIL setup: could not generate a certificate with openssl\n");
  return 1;
} RUN(echo_text_binary);
          RUN(ten_streams_one_connection); RUN(deflate_over_h2);
          RUN(reject_403_sibling_opens); RUN(fallback_http11);
          RUN(sibling_survives_close); RUN(close_while_waiting);
          RUN(failures_as_http11); RUN(window_buffered_drain);
          RUN(server_drops_stream); tc_rm_dir(dir))
#endif
