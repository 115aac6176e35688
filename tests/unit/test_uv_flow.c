/* Socket behaviour over loopback: close timeout, drop, ping/pong,
 * keepalive, buffered amount / drain / pause / resume, max_buffered against
 * a slow reader, garbage input, and client connect failures. */
#include <stdlib.h>

#include "test_uv_util.h"

/* The server's socket and driver options, reset by auto_opts(). */
static wsx_socket_options flow_so;
static wsx_driver_options flow_do;

static wsx_server_options auto_opts(void) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  flow_do = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  flow_so = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  flow_so.driver = &flow_do;
  o.socket = &flow_so;
  o.auto_accept = 1;
  return o;
}

/* A raw peer that completes the handshake and then stays silent. */
static void raw_ws_peer(raw_peer *p, int read) {
  raw_connect(p, UPGRADE_HEAD("/"), sizeof(UPGRADE_HEAD("/")) - 1, read);
}

TEST(close_timeout_reports_1006) {
  wsx_server_options o = auto_opts();
  raw_peer a;
  uint64_t t0;
  ev_reset();
  flow_so.close_timeout = 150;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  raw_ws_peer(&a, 1);
  RUN_UNTIL(T.s.open, 3000);
  REQUIRE(T.s.sock);
  t0 = uv_now(&T.loop);
  CHECK_INT(wsx_socket_close(T.s.sock, 1000, "bye"), 0);
  RUN_UNTIL(T.s.close, 3000);
  CHECK(uv_now(&T.loop) - t0 >= 140);
  CHECK_INT(T.s.close_code, 1006);
  CHECK_INT(T.s.close_clean, 0);
  CHECK_INT(T.s.error_code, WSX_E_TIMEOUT);
  RUN_UNTIL(a.closed, 3000);
  /* The peer did get our close frame: 0x88, len 5, code 1000, "bye". */
  CHECK(a.in_len >= 7 && memcmp(a.in + a.in_len - 7,
                                "\x88\x05\x03\xe8"
                                "bye",
                                7) == 0);
  SHUTDOWN_AND_CHECK();
}

TEST(drop_is_immediate) {
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK_INT(wsx_socket_drop(T.s.sock, 4002, "dropped"), 0);
  CHECK_INT(wsx_socket_drop(T.s.sock, 4002, "dropped"), WSX_E_CLOSED);
  CHECK(wsx_socket_send_text(T.s.sock, "x", 1) < 0);
  RUN_UNTIL(T.s.close && T.c.close, 3000);
  CHECK_INT(T.s.close_code, 4002);
  CHECK_STR(T.s.close_reason, "dropped");
  CHECK_INT(T.s.close_clean, 0);
  /* The client saw the close frame (4002) or just the TCP close (1006). */
  CHECK(T.c.close_code == 4002 || T.c.close_code == 1006);
  SHUTDOWN_AND_CHECK();
}

static int ping_answered;
static void ping_cb(wsx_socket *s, void *arg) {
  (void)s;
  CHECK(arg == &ping_answered);
  ping_answered++;
}

TEST(ping_pong_with_callback) {
  ev_reset();
  ping_answered = 0;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK(wsx_socket_ping(T.c.sock, "abc", 3, ping_cb, &ping_answered) >= 0);
  CHECK(wsx_socket_ping(T.c.sock, "def", 3, NULL, NULL) >= 0);
  RUN_UNTIL(ping_answered && T.c.pong == 2, 3000);
  CHECK_INT(ping_answered, 1);
  CHECK_INT(T.s.ping, 2);
  CHECK_INT(T.c.pong, 2);
  CHECK(wsx_socket_ping(T.c.sock, "x", 126 > 0 ? 126 : 0, NULL, NULL) < 0);
  CHECK_INT(wsx_socket_pong(T.s.sock, "u", 1), 0); /* unsolicited */
  RUN_UNTIL(T.c.pong == 3, 3000);
  /* A ping whose pong never comes is freed with the socket. */
  wsx_socket_ping(T.c.sock, "never", 5, ping_cb, &ping_answered);
  wsx_socket_drop(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(ping_interval_option) {
  wsx_server_options o = auto_opts();
  ev_reset();
  flow_so.keepalive = 1;
  flow_so.keepalive_interval = 50;
  flow_so.keepalive_grace_period = 40;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.s.pong >= 4, 3000);
  /* A live peer answers and is kept. */
  CHECK(T.s.pong >= 4);
  CHECK(T.c.ping >= T.s.pong);
  CHECK_INT(T.s.close + T.c.close, 0);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_code, 1000);
  SHUTDOWN_AND_CHECK();
}

TEST(keepalive_drops_dead_peer) {
  wsx_server_options o = auto_opts();
  raw_peer a;
  uint64_t t0;
  ev_reset();
  flow_so.keepalive = 1;
  flow_so.keepalive_interval = 60;
  flow_so.keepalive_grace_period = 60;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  raw_ws_peer(&a, 1); /* reads, never answers pings */
  RUN_UNTIL(T.s.open, 3000);
  t0 = uv_now(&T.loop);
  RUN_UNTIL(T.s.close, 3000);
  CHECK(uv_now(&T.loop) - t0 >= 110);
  CHECK_INT(T.s.close_code, 1006);
  CHECK_INT(T.s.error_code, WSX_E_TIMEOUT);
  RUN_UNTIL(a.closed, 3000);
  CHECK(strstr(a.in, "\r\n\r\n\x89\x00") != NULL); /* the ping it ignored */
  SHUTDOWN_AND_CHECK();
}

TEST(buffered_amount_drain_pause_resume) {
  static uint8_t chunk[65536];
  wsx_server_options o = auto_opts();
  int i, rc = 0, sent = 0;
  ev_reset();
  flow_so.high_water_mark = 256 * 1024;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK_INT(wsx_socket_pause(T.c.sock), 0);
  CHECK_INT(wsx_socket_buffered_amount(T.s.sock), 0);
  for (i = 0; i < 512 && rc == 0; i++) {
    rc = wsx_socket_send_binary(T.s.sock, chunk, sizeof(chunk));
    sent++;
    /* Let the kernel fill up as it would in a real server. */
    uv_run(&T.loop, UV_RUN_NOWAIT);
  }
  CHECK_INT(rc, 1);
  CHECK(wsx_socket_buffered_amount(T.s.sock) > 256 * 1024);
  CHECK_INT(T.s.drain, 0);
  /* Paused: nothing arrives while the loop runs a while. */
  {
    int before = T.c.message;
    run_for(100);
    CHECK_INT(T.c.message, before);
  }
  CHECK_INT(wsx_socket_resume(T.c.sock), 0);
  RUN_UNTIL(T.s.drain && T.c.message == sent, 5000);
  CHECK_INT(T.s.drain, 1);
  CHECK_INT(T.c.message, sent);
  CHECK(wsx_socket_buffered_amount(T.s.sock) <= 256 * 1024);
  RUN_UNTIL(wsx_socket_buffered_amount(T.s.sock) == 0, 3000);
  CHECK_INT(wsx_socket_buffered_amount(T.s.sock), 0);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* Two server sockets: a raw peer that never reads, and a normal client. */
static wsx_socket *slow_srv_sock;
static ev_side slow;

static void two_on_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  const char *ua;
  size_t n, len;
  const wsx_header *h = wsx_socket_headers(s, &n);
  (void)srv, (void)ud;
  ua = wsx_header_find(h, n, "host", &len);
  if (ua && len == 4 && memcmp(ua, "slow", 4) == 0) {
    slow_srv_sock = s;
    wsx_socket_set_user_data(s, &slow);
  } else {
    T.s.sock = s;
    wsx_socket_set_user_data(s, &T.s);
  }
}

TEST(slow_reader_hits_max_buffered) {
  static const char head[] =
      "GET / HTTP/1.1\r\nHost: slow\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  static uint8_t chunk[65536];
  wsx_server_options o = auto_opts();
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  raw_peer a;
  int i, rc = 0;
  ev_reset();
  memset(&slow, 0, sizeof(slow));
  slow_srv_sock = NULL;
  T.echo = 1;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.connection = two_on_connection;
  cb.socket = &rec_cbs;
  flow_so.max_buffered = 1 << 20;
  REQUIRE(start_server(NULL, &o, &cb) == 0);
  raw_connect(&a, head, sizeof(head) - 1, 0); /* never reads */
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(slow.open && T.c.open, 3000);
  REQUIRE(slow_srv_sock);
  for (i = 0; i < 1024 && rc >= 0 && !slow.close; i++) {
    rc = wsx_socket_send_binary(slow_srv_sock, chunk, sizeof(chunk));
    if (rc < 0)
      break;
    uv_run(&T.loop, UV_RUN_NOWAIT);
  }
  /* The send that crossed max_buffered reports it (the close follows). */
  CHECK_INT(rc, WSX_E_POLICY);
  CHECK_INT(wsx_socket_send_binary(slow_srv_sock, "x", 1), WSX_E_CLOSED);
  RUN_UNTIL(slow.close, 3000);
  CHECK_INT(slow.close, 1);
  CHECK_INT(slow.close_code, 1008);
  CHECK_INT(slow.error_code, WSX_E_POLICY);
  CHECK(i < 1024);
  /* The other connection is unaffected. */
  CHECK_INT(wsx_socket_ready_state(T.c.sock), WSX_OPEN);
  wsx_socket_send_text(T.c.sock, "still here", 10);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "still here", 10);
  raw_close(&a);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close && a.closed, 3000);
  SHUTDOWN_AND_CHECK();
}

static void garbage_case(const char *frame, size_t len, const char *expect,
                         int expect_code) {
  char buf[512];
  raw_peer a;
  size_t hl = sizeof(UPGRADE_HEAD("/")) - 1;
  const char *body;
  ev_reset();
  T.echo = 1;
  memcpy(buf, UPGRADE_HEAD("/"), hl);
  memcpy(buf + hl, frame, len);
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  raw_connect(&a, buf, hl + len, 1);
  RUN_UNTIL(a.closed && T.s.close, 3000);
  CHECK_INT(T.s.error, 1);
  CHECK_INT(T.s.close, 1);
  body = strstr(a.in, "\r\n\r\n");
  REQUIRE(body);
  /* A close frame (the reason after the code is the driver's text). */
  CHECK_INT((uint8_t)body[4], 0x88);
  CHECK_MEM(body + 6, 2, expect + 2, 2);
  CHECK_INT(T.s.close_code, expect_code);
  SHUTDOWN_AND_CHECK();
}

TEST(garbage_frames_get_right_close_code) {
  /* Unmasked client frame: 1002. */
  garbage_case("\x81\x02hi", 4, "\x88\x02\x03\xea", 1002);
  /* Invalid UTF-8 in a text frame (masked with zeros): 1007. */
  garbage_case("\x81\x82\0\0\0\0\xc3\x28", 8, "\x88\x02\x03\xef", 1007);
  /* Reserved opcode 3: 1002. */
  garbage_case("\x83\x80\0\0\0\0", 6, "\x88\x02\x03\xea", 1002);
}

TEST(frame_larger_than_limit_gets_1009) {
  wsx_server_options o = auto_opts();
  raw_peer a;
  static const char frame[] = "\x82\xfe\x10\x00\0\0\0\0"; /* 4096 bytes */
  char buf[512];
  size_t hl = sizeof(UPGRADE_HEAD("/")) - 1;
  const char *body;
  ev_reset();
  flow_do.max_length = 1024;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  memcpy(buf, UPGRADE_HEAD("/"), hl);
  memcpy(buf + hl, frame, 8);
  raw_connect(&a, buf, hl + 8, 1);
  RUN_UNTIL(a.closed && T.s.close, 3000);
  body = strstr(a.in, "\r\n\r\n");
  REQUIRE(body);
  CHECK_INT((uint8_t)body[4], 0x88);
  CHECK_MEM(body + 6, 2, "\x03\xf1", 2);
  CHECK_INT(T.s.error_code, WSX_E_MESSAGE_TOO_BIG);
  SHUTDOWN_AND_CHECK();
}

TEST(abrupt_disconnect_mid_frame) {
  static const char part[] = UPGRADE_HEAD("/") "\x82\xfe\x10\x00\0\0\0\0abc";
  raw_peer a;
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(connect_client("/", NULL));
  raw_connect(&a, part, sizeof(part) - 1, 1);
  RUN_UNTIL(T.c.open && a.in_len > 0, 3000);
  raw_close(&a);
  RUN_UNTIL(a.closed, 3000);
  run_for(50);
  wsx_socket_send_text(T.c.sock, "alive", 5);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "alive", 5);
  CHECK_INT(wsx_server_connection_count(T.srv), 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* ---- client connect failures ---- */

TEST(connect_refused) {
  uv_tcp_t t;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss), err;
  ev_reset();
  /* A port that was just free. */
  uv_tcp_init(&T.loop, &t);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
  uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
  T.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_IO);
  CHECK_INT(T.c.fail_uv, UV_ECONNREFUSED);
  CHECK(strstr(T.c.fail_msg, "refused") != NULL);
  CHECK_INT(T.c.close_code, 1006);
  CHECK_INT(T.c.open, 0);
  /* Bad URLs and unsupported schemes fail synchronously, no callbacks. */
  CHECK(wsx_socket_connect(&T.loop, "http//bad", NULL, &rec_cbs, &T.c, &err) ==
        NULL);
  CHECK_INT(err, WSX_E_URL);
  /* A URL that is not ws:// or wss:// (wss is covered by test_uv_tls). */
  CHECK(wsx_socket_connect(&T.loop, "http://127.0.0.1/", NULL, &rec_cbs, &T.c,
                           &err) == NULL);
  CHECK_INT(err, WSX_E_URL);
  {
    wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
    wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
    o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
    px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
    px.origin = "socks5://proxy:1080"; /* not an HTTP(S) proxy */
    o.proxy = &px;
    CHECK(wsx_socket_connect(&T.loop, "ws://127.0.0.1/", &o, &rec_cbs, &T.c,
                             &err) == NULL);
    CHECK_INT(err, WSX_E_URL);
  }
  SHUTDOWN_AND_CHECK();
}

TEST(connect_dns_failure) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  int err;
  ev_reset();
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  o.connect_timeout = 8000;
  T.c.sock = wsx_socket_connect(&T.loop, "ws://nonexistent.invalid/", &o,
                                &rec_cbs, &T.c, &err);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.close, 10000);
  CHECK_INT(T.c.failed, 1);
  /* Without network the resolver may time out instead: both say DNS. */
  CHECK(T.c.fail_code == WSX_E_DNS || T.c.fail_code == WSX_E_TIMEOUT);
  CHECK(T.c.fail_code != WSX_E_DNS || strstr(T.c.fail_msg, "DNS") != NULL);
  CHECK_INT(T.c.close, 1);
  SHUTDOWN_AND_CHECK();
}

static void silent_on_connection(uv_stream_t *ls, int status) {
  uv_tcp_t *c = malloc(sizeof(*c));
  (void)status;
  uv_tcp_init(ls->loop, c);
  uv_accept(ls, (uv_stream_t *)c);
  c->data = ls->data;
  ls->data = c; /* closed at the end of the test */
}

TEST(connect_timeout_on_silent_server) {
  uv_tcp_t l;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  int len = sizeof(ss);
  uint64_t t0;
  ev_reset();
  uv_tcp_init(&T.loop, &l);
  l.data = NULL;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&l, (struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&l, 4, silent_on_connection);
  uv_tcp_getsockname(&l, (struct sockaddr *)&ss, &len);
  T.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  o.connect_timeout = 150;
  t0 = uv_now(&T.loop);
  REQUIRE(connect_client("/", &o));
  RUN_UNTIL(T.c.close, 3000);
  CHECK(uv_now(&T.loop) - t0 >= 140);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_TIMEOUT);
  CHECK_INT(T.c.close_code, 1006);
  if (l.data)
    uv_close((uv_handle_t *)l.data, (uv_close_cb)free);
  uv_close((uv_handle_t *)&l, NULL);
  SHUTDOWN_AND_CHECK();
}

TEST(close_while_connecting) {
  int err;
  ev_reset();
  T.c.sock = wsx_socket_connect(&T.loop, "ws://nonexistent.invalid/", NULL,
                                &rec_cbs, &T.c, &err);
  REQUIRE(T.c.sock);
  CHECK_INT(wsx_socket_close(T.c.sock, 0, NULL), 0);
  RUN_UNTIL(T.c.close, 10000);
  CHECK_INT(T.c.close, 1);
  CHECK_INT(T.c.close_code, 1006);
  CHECK_INT(T.c.failed, 0);
  SHUTDOWN_AND_CHECK();
}

/* A fake server that answers every head with a wrong accept hash. */
typedef struct fake_conn {
  uv_tcp_t tcp;
  uv_write_t wr;
  char buf[2048];
  size_t len;
} fake_conn;

static void fake_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  fake_conn *c = h->data;
  (void)sz;
  b->base = c->buf + c->len;
  b->len = sizeof(c->buf) - 1 - c->len;
}

static void fake_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  static const char resp[] =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
  fake_conn *c = st->data;
  uv_buf_t out = uv_buf_init((char *)resp, sizeof(resp) - 1);
  (void)b;
  if (n < 0) {
    uv_close((uv_handle_t *)st, (uv_close_cb)free);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (strstr(c->buf, "\r\n\r\n"))
    uv_write(&c->wr, st, &out, 1, NULL);
}

static void fake_on_connection(uv_stream_t *ls, int status) {
  fake_conn *c = calloc(1, sizeof(*c));
  (void)status;
  uv_tcp_init(ls->loop, &c->tcp);
  c->tcp.data = c;
  uv_accept(ls, (uv_stream_t *)&c->tcp);
  uv_read_start((uv_stream_t *)&c->tcp, fake_alloc, fake_read);
}

TEST(bad_accept_hash_fails_connect) {
  uv_tcp_t l;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  ev_reset();
  uv_tcp_init(&T.loop, &l);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&l, (struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&l, 4, fake_on_connection);
  uv_tcp_getsockname(&l, (struct sockaddr *)&ss, &len);
  T.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_HANDSHAKE);
  CHECK_INT(T.c.fail_status, 101);
  CHECK(strstr(T.c.fail_msg, "ccept") != NULL);
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.close_code, 1006);
  uv_close((uv_handle_t *)&l, NULL);
  SHUTDOWN_AND_CHECK();
}

/* frame_events: data frames arrive one by one. */
static int frames_seen, frames_fin;
static void on_frame(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)s, (void)ud;
  frames_seen++;
  frames_fin += m->fin;
}

TEST(frame_events_and_outgoing_fragmentation) {
  static char big[10000];
  wsx_server_options o = auto_opts();
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.connection = srv_on_connection;
  static wsx_socket_callbacks frame_cbs;
  frame_cbs = rec_cbs;
  frame_cbs.frame = on_frame;
  cb.socket = &frame_cbs;
  frames_seen = frames_fin = 0;
  memset(big, 'x', sizeof(big));
  ev_reset();
  flow_do.frame_events = 1;
  REQUIRE(start_server(NULL, &o, &cb) == 0);
  co = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  wsx_driver_options cdo = WSX_DRIVER_OPTIONS_INIT;
  cdo.fragment_outgoing_messages = 1;
  cdo.fragmentation_threshold = 4096;
  co.driver = &cdo;
  REQUIRE(connect_client("/", &co));
  RUN_UNTIL(T.c.open, 3000);
  wsx_socket_send_text(T.c.sock, big, sizeof(big));
  RUN_UNTIL(frames_fin == 1, 3000);
  CHECK_INT(frames_seen, 3); /* 4096 + 4096 + 1808 */
  CHECK_INT(frames_fin, 1);
  CHECK_INT(T.s.message, 0);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* Two server sockets whose input is read in the same loop turn: the first
 * message's callback pauses (or drops) the other socket, whose input is in
 * the same batch of ready descriptors. Nothing more reaches the other
 * socket: paused, its message waits for resume; dropped, it only closes. */
static ev_side pair_side[2];
static wsx_socket *pair_sock[2];
static int pair_mode, pair_first = -1;

static void pair_on_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  int i = pair_sock[0] ? 1 : 0;
  (void)srv, (void)ud;
  pair_sock[i] = s;
  wsx_socket_set_user_data(s, &pair_side[i]);
}

static void pair_on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  ev_side *e = ud;
  int me = e == &pair_side[1];
  (void)s, (void)m;
  e->message++;
  if (pair_first >= 0)
    return;
  pair_first = me;
  if (pair_mode == 0)
    CHECK_INT(wsx_socket_pause(pair_sock[!me]), 0);
  else
    CHECK_INT(wsx_socket_drop(pair_sock[!me], 1001, "bye"), 0);
}

static void pair_case(int mode) {
  static const uint8_t frame[] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
  wsx_server_options o = auto_opts();
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_socket_callbacks sc = rec_cbs;
  raw_peer a, b;
  uv_buf_t w = uv_buf_init((char *)(uintptr_t)frame, sizeof(frame));
  int other;
  ev_reset();
  memset(pair_side, 0, sizeof(pair_side));
  pair_sock[0] = pair_sock[1] = NULL;
  pair_mode = mode;
  pair_first = -1;
  sc.message = pair_on_message;
  cb.connection = pair_on_connection;
  cb.socket = &sc;
  REQUIRE(start_server(NULL, &o, &cb) == 0);
  raw_ws_peer(&a, 1);
  raw_ws_peer(&b, 1);
  RUN_UNTIL(pair_side[0].open && pair_side[1].open &&
                strstr(a.in, "\r\n\r\n") && strstr(b.in, "\r\n\r\n"),
            3000);
  REQUIRE(pair_side[0].open && pair_side[1].open);
  /* Both frames are in the kernel before the loop looks again. */
  CHECK_INT(uv_try_write((uv_stream_t *)&a.tcp, &w, 1), (int)sizeof(frame));
  CHECK_INT(uv_try_write((uv_stream_t *)&b.tcp, &w, 1), (int)sizeof(frame));
  run_for(150);
  REQUIRE(pair_first >= 0);
  other = !pair_first;
  CHECK_INT(pair_side[pair_first].message, 1);
  CHECK_INT(pair_side[other].message, 0);
  if (mode == 0) {
    CHECK_INT(wsx_socket_resume(pair_sock[other]), 0);
    RUN_UNTIL(pair_side[other].message, 3000);
    CHECK_INT(pair_side[other].message, 1);
    wsx_socket_drop(pair_sock[other], 1000, NULL);
  } else {
    RUN_UNTIL(pair_side[other].close, 3000);
    CHECK_INT(pair_side[other].close, 1);
    CHECK_INT(pair_side[other].close_code, 1001);
  }
  wsx_socket_drop(pair_sock[pair_first], 1000, NULL);
  raw_close(&a);
  raw_close(&b);
  RUN_UNTIL(pair_side[0].close && pair_side[1].close && a.closed && b.closed,
            3000);
  SHUTDOWN_AND_CHECK();
}

TEST(pause_other_socket_in_same_turn) { pair_case(0); }
TEST(drop_other_socket_in_same_turn) { pair_case(1); }

TEST_MAIN(RUN(pause_other_socket_in_same_turn);
          RUN(drop_other_socket_in_same_turn);
          RUN(bad_accept_hash_fails_connect);
          RUN(frame_events_and_outgoing_fragmentation);
          RUN(close_timeout_reports_1006); RUN(drop_is_immediate);
          RUN(ping_pong_with_callback); RUN(ping_interval_option);
          RUN(keepalive_drops_dead_peer);
          RUN(buffered_amount_drain_pause_resume);
          RUN(slow_reader_hits_max_buffered);
          RUN(garbage_frames_get_right_close_code);
          RUN(frame_larger_than_limit_gets_1009);
          RUN(abrupt_disconnect_mid_frame); RUN(connect_refused);
          RUN(connect_dns_failure); RUN(connect_timeout_on_silent_server);
          RUN(close_while_connecting))
