/* Zero-copy paths of the libuv transport: wsx_socket_send_zc (the payload
 * released exactly once: sent at once, written later, cancelled by a
 * close, refused, past max_buffered), wsx_socket_take_message, and large
 * payloads read straight into the message buffer (checked byte for byte,
 * with masking and UTF-8 validation on that path). */
#include "test_uv_util.h"

typedef struct rel {
  int calls;
  const void *data;
  size_t len;
  int closed_at_release; /* the server socket's close had fired already */
} rel;

static void on_release(void *data, size_t len, void *ud) {
  rel *r = ud;
  r->calls++;
  r->data = data;
  r->len = len;
  r->closed_at_release = T.s.close;
}

static uint8_t *pattern(size_t n, unsigned seed) {
  uint8_t *p = malloc(n);
  size_t i;
  if (p)
    for (i = 0; i < n; i++)
      p[i] = (uint8_t)((i * 131u + seed) >> 3);
  return p;
}

/* Client and server open; the client does not echo. */
static int open_pair(wsx_server_options *o) {
  if (start_server(NULL, o, NULL) != 0 || !connect_client("/", NULL))
    return -1;
  RUN_UNTIL(T.c.open && T.s.sock, 3000);
  return T.c.open && T.s.sock ? 0 : -1;
}

TEST(send_zc_small_released_at_once) {
  rel r = {0};
  static const char hi[] = "hello";
  ev_reset();
  REQUIRE(open_pair(NULL) == 0);
  CHECK_INT(wsx_socket_send_zc(T.s.sock, WSX_OP_TEXT, hi, 5, on_release, &r),
            0);
  /* The kernel took it all: nothing refers to it when the call returns. */
  CHECK_INT(r.calls, 1);
  CHECK(r.data == hi);
  CHECK_INT(r.len, 5);
  RUN_UNTIL(T.c.message == 1, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hello", 5);
  CHECK_INT(r.calls, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(r.calls, 1);
  SHUTDOWN_AND_CHECK();
}

/* 8 MiB to a client that reads: the kernel cannot take it at once, so the
 * payload is referred to (not released on return) and released once when
 * the write completes; the client gets every byte. */
TEST(send_zc_large_released_after_write) {
  enum { N = 8 << 20 };
  rel r = {0};
  uint8_t *p = pattern(N, 7);
  ev_reset();
  REQUIRE(p);
  {
    wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
    wsx_driver_options *cd = cli_drv(&co);
    cd->max_length = N;
    REQUIRE(start_server(NULL, NULL, NULL) == 0);
    T.c.sock = NULL;
    REQUIRE(connect_client("/", &co));
    RUN_UNTIL(T.c.open && T.s.sock, 3000);
    REQUIRE(T.c.open && T.s.sock);
  }
  CHECK(wsx_socket_send_zc(T.s.sock, WSX_OP_BINARY, p, N, on_release, &r) >=
        0);
  CHECK_INT(r.calls, 0); /* still referred to by the write in flight */
  CHECK(wsx_socket_buffered_amount(T.s.sock) > 0);
  RUN_UNTIL(T.c.message == 1 && r.calls, 10000);
  CHECK_INT(r.calls, 1);
  CHECK(r.data == p);
  CHECK_INT(r.len, N);
  CHECK_INT(T.c.bytes, N);
  CHECK_MEM(T.c.msg, sizeof(T.c.msg), p, sizeof(T.c.msg));
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(r.calls, 1);
  SHUTDOWN_AND_CHECK();
  free(p);
}

/* The client stops reading; the payload is still being written when the
 * server goes away: the cancelled write releases it, once, before the
 * server socket's close event. */
TEST(send_zc_released_on_close_with_pending) {
  enum { N = 16 << 20 };
  rel r = {0};
  uint8_t *p = pattern(N, 3);
  ev_reset();
  REQUIRE(p);
  REQUIRE(open_pair(NULL) == 0);
  CHECK_INT(wsx_socket_pause(T.c.sock), 0);
  CHECK(wsx_socket_send_zc(T.s.sock, WSX_OP_BINARY, p, N, on_release, &r) >=
        0);
  CHECK_INT(r.calls, 0);
  run_for(100);
  CHECK_INT(r.calls, 0); /* the client reads nothing: still pending */
  CHECK_INT(wsx_socket_drop(T.s.sock, 1001, "going"), 0);
  RUN_UNTIL(T.s.close, 5000);
  CHECK_INT(r.calls, 1);
  CHECK_INT(r.closed_at_release, 0); /* released before the close event */
  CHECK(r.data == p);
  CHECK_INT(wsx_socket_resume(T.c.sock), 0); /* to see the end */
  RUN_UNTIL(T.c.close, 5000);
  CHECK_INT(T.c.close, 1);
  CHECK_INT(r.calls, 1);
  SHUTDOWN_AND_CHECK();
  free(p);
}

/* Refused sends release at once: a closed socket, a NULL release. */
TEST(send_zc_refused_releases) {
  rel r = {0};
  static const char x[] = "x";
  ev_reset();
  REQUIRE(open_pair(NULL) == 0);
  CHECK_INT(wsx_socket_send_zc(T.s.sock, WSX_OP_TEXT, x, 1, NULL, NULL),
            WSX_E_INVALID);
  /* Invalid UTF-8 in a text message: refused, released. */
  CHECK_INT(wsx_socket_send_zc(T.s.sock, WSX_OP_TEXT, "\xff", 1, on_release,
                               &r),
            WSX_E_INVALID);
  CHECK_INT(r.calls, 1);
  CHECK_INT(wsx_socket_send_zc(NULL, WSX_OP_TEXT, x, 1, on_release, &r),
            WSX_E_CLOSED);
  CHECK_INT(r.calls, 2);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* Past max_buffered: WSX_E_POLICY, the socket is dropped, and the payload
 * is released exactly once (by the cancelled write). */
TEST(send_zc_policy_releases) {
  enum { N = 16 << 20 };
  rel r = {0};
  uint8_t *p = pattern(N, 9);
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  ev_reset();
  REQUIRE(p);
  o.auto_accept = 1;
  srv_sock(&o)->max_buffered = 1 << 20;
  REQUIRE(open_pair(&o) == 0);
  CHECK_INT(wsx_socket_pause(T.c.sock), 0);
  CHECK_INT(wsx_socket_send_zc(T.s.sock, WSX_OP_BINARY, p, N, on_release, &r),
            WSX_E_POLICY);
  RUN_UNTIL(T.s.close && r.calls, 5000);
  CHECK_INT(r.calls, 1);
  CHECK_INT(T.s.error_code, WSX_E_POLICY);
  CHECK_INT(T.s.close_code, WSX_CLOSE_POLICY);
  CHECK_INT(wsx_socket_send_zc(T.s.sock, WSX_OP_BINARY, p, 4, on_release, &r),
            WSX_E_CLOSED);
  CHECK_INT(r.calls, 2);
  CHECK_INT(wsx_socket_resume(T.c.sock), 0);
  RUN_UNTIL(T.c.close, 5000);
  CHECK_INT(T.c.close, 1);
  SHUTDOWN_AND_CHECK();
  free(p);
}

/* ---- take_message + send_zc: the echo without copies ---- */

static struct {
  int taken, not_taken, released;
} Z;

static void on_zc_release(void *data, size_t len, void *ud) {
  (void)len;
  Z.released++;
  wsx_socket_free_message(ud, data);
}

static void zc_echo_message(wsx_socket *s, const wsx_message *m, void *ud) {
  size_t len = 0;
  void *own = wsx_socket_take_message(s, &len);
  (void)ud;
  if (!own) {
    Z.not_taken++;
    wsx_socket_send(s, m->opcode, m->data, m->len, 0);
    return;
  }
  Z.taken++;
  CHECK(own == (const void *)m->data);
  CHECK_INT(len, m->len);
  /* a second take finds nothing */
  CHECK(wsx_socket_take_message(s, &len) == NULL);
  wsx_socket_send_zc(s, m->opcode, own, len, on_zc_release, s);
}

static void zc_srv_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  T.s.sock = s;
}

static const wsx_socket_callbacks zc_cbs = {sizeof(wsx_socket_callbacks),
                                            NULL,
                                            zc_echo_message,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL};

TEST(take_message_echo) {
  enum { N = 3 << 20 };
  uint8_t *p = pattern(N, 1);
  char *txt = malloc(N);
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  ev_reset();
  memset(&Z, 0, sizeof(Z));
  REQUIRE(p && txt);
  memset(txt, 'a', N);
  o.auto_accept = 1;
  srv_drv(&o)->max_length = N;
  cli_drv(&co)->max_length = N;
  cb.connection = zc_srv_connection;
  cb.socket = &zc_cbs;
  REQUIRE(start_server(NULL, &o, &cb) == 0);
  REQUIRE(connect_client("/", &co));
  RUN_UNTIL(T.c.open, 3000);
  REQUIRE(T.c.open);
  /* small: delivered from the read buffer, not takeable */
  CHECK_INT(wsx_socket_send_text(T.c.sock, "hi", 2), 0);
  RUN_UNTIL(T.c.message == 1, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hi", 2);
  CHECK_INT(Z.not_taken, 1);
  /* large binary and text: read into the message buffer (masked by the
   * client), taken, echoed from that buffer */
  CHECK(wsx_socket_send_binary(T.c.sock, p, N) >= 0);
  RUN_UNTIL(T.c.message == 2, 10000);
  CHECK_INT(T.c.msg_len, N);
  CHECK_INT(T.c.msg_op, WSX_OP_BINARY);
  CHECK_MEM(T.c.msg, sizeof(T.c.msg), p, sizeof(T.c.msg));
  CHECK(wsx_socket_send_text(T.c.sock, txt, N) >= 0);
  RUN_UNTIL(T.c.message == 3, 10000);
  CHECK_INT(T.c.msg_len, N);
  CHECK_INT(T.c.msg_op, WSX_OP_TEXT);
  CHECK_INT(T.c.bytes, 2 + 2 * (size_t)N);
  CHECK_INT(Z.taken, 2);
  RUN_UNTIL(Z.released == 2, 3000);
  CHECK_INT(Z.released, 2);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close, 3000);
  SHUTDOWN_AND_CHECK();
  free(p);
  free(txt);
}

/* Invalid UTF-8 deep inside a large text message (on the direct-read
 * path): 1007 from the server, as on the buffered path. */
TEST(direct_read_validates_utf8) {
  enum { N = 1 << 20 };
  char *txt = malloc(N);
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  ev_reset();
  REQUIRE(txt);
  memset(txt, 'b', N);
  txt[N - 1000] = (char)0xff;
  o.auto_accept = 1;
  srv_drv(&o)->max_length = N;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  REQUIRE(connect_client("/", &co));
  RUN_UNTIL(T.c.open, 3000);
  REQUIRE(T.c.open);
  /* send_frame skips the sender's own UTF-8 check */
  CHECK(wsx_socket_send_frame(T.c.sock, WSX_OP_TEXT, 1, txt, N) >= 0);
  RUN_UNTIL(T.c.close && T.s.close, 5000);
  CHECK_INT(T.s.error_code, WSX_E_UTF8);
  CHECK_INT(T.c.close_code, 1007);
  CHECK_INT(T.s.message, 0);
  SHUTDOWN_AND_CHECK();
  free(txt);
}

TEST_MAIN(RUN(send_zc_small_released_at_once);
          RUN(send_zc_large_released_after_write);
          RUN(send_zc_released_on_close_with_pending);
          RUN(send_zc_refused_releases); RUN(send_zc_policy_releases);
          RUN(take_message_echo); RUN(direct_read_validates_utf8);)
