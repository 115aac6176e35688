/* Loopback echo through the libuv transport: IPv4, IPv6, Unix sockets,
 * text and binary, large messages, close handshakes in both directions. */
#include "test_uv_util.h"

TEST(echo_text_binary) {
  static const uint8_t bin[] = {0, 1, 2, 255};
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/chat?x=1", NULL));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  CHECK_INT(T.s.open, 1);
  CHECK_STR(wsx_socket_version(T.c.sock), "hybi-13");
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_OPEN);
  CHECK_INT(wsx_socket_send_text(T.c.sock, "hello", 5), 0);
  RUN_UNTIL(T.c.message == 1, 3000);
  CHECK_INT(T.c.msg_op, WSX_OP_TEXT);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hello", 5);
  CHECK_INT(wsx_socket_send_binary(T.c.sock, bin, sizeof(bin)), 0);
  RUN_UNTIL(T.c.message == 2, 3000);
  CHECK_INT(T.c.msg_op, WSX_OP_BINARY);
  CHECK_MEM(T.c.msg, T.c.msg_len, bin, sizeof(bin));
  {
    char addr[64];
    int port = 0;
    CHECK_INT(wsx_socket_remote_address(T.s.sock, addr, sizeof(addr), &port),
              0);
    CHECK_STR(addr, "127.0.0.1");
    CHECK(port > 0);
  }
  CHECK_INT(wsx_socket_close(T.c.sock, 1000, "bye"), 0);
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_CLOSING);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.s.close_code, 1000);
  CHECK_STR(T.s.close_reason, "bye");
  CHECK_INT(T.s.close_clean, 1);
  CHECK_INT(T.c.close_code, 1000);
  CHECK_INT(T.c.close_clean, 1);
  CHECK_INT(T.c.error + T.s.error, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(echo_ipv6) {
  int err;
  char url[64];
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server("::1", NULL, NULL) == 0);
  snprintf(url, sizeof(url), "ws://[::1]:%d/", T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &T.c, &err);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  wsx_socket_send_text(T.c.sock, "six", 3);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "six", 3);
  {
    char addr[64];
    CHECK_INT(wsx_socket_remote_address(T.s.sock, addr, sizeof(addr), NULL), 0);
    CHECK_STR(addr, "::1");
  }
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_code, 1000);
  SHUTDOWN_AND_CHECK();
}

/* A raw client over a Unix socket: handshake + one masked frame. */
typedef struct pipe_peer {
  uv_pipe_t pipe;
  uv_connect_t conn;
  uv_write_t wr;
  char in[4096];
  size_t in_len;
  int eof;
} pipe_peer;

static void pp_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  pipe_peer *p = h->data;
  (void)sz;
  b->base = p->in + p->in_len;
  b->len = sizeof(p->in) - 1 - p->in_len;
}

static void pp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  pipe_peer *p = st->data;
  (void)b;
  if (n < 0) {
    p->eof = 1;
    if (!uv_is_closing((uv_handle_t *)st))
      uv_close((uv_handle_t *)st, NULL);
    return;
  }
  p->in_len += (size_t)n;
}

static const char pp_out[] =
    UPGRADE_HEAD("/unix") "\x81\x82\x01\x02\x03\x04"
                          "\x69\x6b"; /* "hi" masked with 01020304 */

static void pp_connect(uv_connect_t *c, int status) {
  pipe_peer *p = c->data;
  uv_buf_t b = uv_buf_init((char *)pp_out, sizeof(pp_out) - 1);
  if (status < 0) {
    uv_close((uv_handle_t *)&p->pipe, NULL);
    return;
  }
  uv_read_start((uv_stream_t *)&p->pipe, pp_alloc, pp_read);
  uv_write(&p->wr, (uv_stream_t *)&p->pipe, &b, 1, NULL);
}

TEST(echo_unix_socket) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  pipe_peer p;
  char path[64];
  int err;
  const char *body;
  ev_reset();
  T.echo = 1;
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  o.auto_accept = 1;
  cb.connection = srv_on_connection;
  cb.socket = &rec_cbs;
  cb.closed = srv_on_closed;
  snprintf(path, sizeof(path), "/tmp/wsx-test-uv-%d.sock", (int)getpid());
  unlink(path);
  T.srv = wsx_server_new(&T.loop, &o, &cb, NULL, &err);
  REQUIRE(T.srv);
  REQUIRE(wsx_server_listen_unix(T.srv, path) == 0);
  CHECK(wsx_server_port(T.srv) < 0); /* no TCP listener */
  memset(&p, 0, sizeof(p));
  uv_pipe_init(&T.loop, &p.pipe, 0);
  p.pipe.data = &p;
  p.conn.data = &p;
  uv_pipe_connect(&p.conn, &p.pipe, path, pp_connect);
  RUN_UNTIL(T.s.message && p.in_len > 0 && strstr(p.in, "\r\n\r\n") &&
                (size_t)(strstr(p.in, "\r\n\r\n") + 4 - p.in) + 4 <= p.in_len,
            3000);
  p.in[p.in_len] = '\0';
  CHECK(strncmp(p.in, "HTTP/1.1 101", 12) == 0);
  CHECK_MEM(T.s.msg, T.s.msg_len, "hi", 2);
  body = strstr(p.in, "\r\n\r\n");
  REQUIRE(body);
  CHECK_MEM(body + 4, 4, "\x81\x02hi", 4);
  {
    char addr[8] = "x";
    CHECK_INT(wsx_socket_remote_address(T.s.sock, addr, sizeof(addr), NULL), 0);
    CHECK_STR(addr, "");
  }
  uv_close((uv_handle_t *)&p.pipe, NULL);
  RUN_UNTIL(T.s.close, 3000);
  CHECK_INT(T.s.close_code, 1006);
  CHECK_INT(T.s.close_clean, 0);
  SHUTDOWN_AND_CHECK();
  unlink(path);
}

TEST(server_initiated_close) {
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  REQUIRE(T.s.sock);
  CHECK_INT(wsx_socket_close(T.s.sock, 4001, "server bye"), 0);
  CHECK_INT(wsx_socket_close(T.s.sock, 4001, "again"), WSX_E_CLOSED);
  CHECK(wsx_socket_send_text(T.s.sock, "late", 4) < 0);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_code, 4001);
  CHECK_STR(T.c.close_reason, "server bye");
  CHECK_INT(T.c.close_clean, 1);
  CHECK_INT(T.s.close_code, 4001);
  CHECK_INT(T.s.close_clean, 1);
  SHUTDOWN_AND_CHECK();
}

TEST(send_before_open_is_queued) {
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_CONNECTING);
  CHECK(wsx_socket_send_text(T.c.sock, "early", 5) >= 0);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "early", 5);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(echo_large_messages) {
  size_t n = 4u << 20, i;
  uint8_t *big = malloc(n);
  REQUIRE(big);
  for (i = 0; i < n; i++)
    big[i] = (uint8_t)(i * 7);
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  for (i = 0; i < 4; i++)
    CHECK(wsx_socket_send_binary(T.c.sock, big, n) >= 0);
  CHECK(wsx_socket_buffered_amount(T.c.sock) > 0);
  RUN_UNTIL(T.c.message == 4, 10000);
  CHECK_INT(T.c.message, 4);
  CHECK_INT(T.c.bytes, 4 * n);
  CHECK_INT(wsx_socket_buffered_amount(T.c.sock), 0);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  free(big);
  SHUTDOWN_AND_CHECK();
}

TEST(many_small_messages_in_one_read) {
  int i;
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  for (i = 0; i < 1000; i++)
    wsx_socket_send_text(T.c.sock, "0123456789abcdefghij", 20);
  RUN_UNTIL(T.c.message == 1000, 5000);
  CHECK_INT(T.c.message, 1000);
  CHECK_INT(T.s.message, 1000);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(RUN(echo_text_binary); RUN(echo_ipv6); RUN(echo_unix_socket);
          RUN(server_initiated_close); RUN(send_before_open_is_queued);
          RUN(echo_large_messages); RUN(many_small_messages_in_one_read))
