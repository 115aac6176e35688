/*
 * permessage-deflate through the transport: a wsx client and a wsx server
 * on loopback, both with wsx_deflate_new() registered. The server runs in
 * frame mode so it sees each frame's RSV bits as received: a normal send
 * must arrive compressed (RSV1, RFC 7692 6.1), a send with
 * WSX_SEND_UNCOMPRESSED must arrive with RSV1 clear, and both must
 * deliver the original bytes.
 */
#include <uv.h>

#include "test.h"
#include "wsx/extension.h"
#include "wsx/uv.h"

#define MSG_LEN 4000

static struct {
  uv_loop_t loop;
  uv_timer_t guard;
  wsx_server *srv;
  char msg[MSG_LEN];
  int frames;
  int rsv[2];
  int same[2];
  int client_open, client_close, server_close;
  char client_ext[128];
  int send_rc[2];
} S;

static void guard_cb(uv_timer_t *t) {
  (void)t;
  uv_stop(&S.loop);
}

static void srv_frame(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  if (S.frames < 2) {
    S.rsv[S.frames] = m->rsv;
    S.same[S.frames] =
        m->fin && m->len == MSG_LEN && memcmp(m->data, S.msg, MSG_LEN) == 0;
  }
  if (++S.frames == 2)
    wsx_socket_close(s, 1000, "done");
}

static void srv_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s;
  (void)e;
  (void)ud;
  S.server_close++;
  wsx_server_shut_down(S.srv);
  wsx_server_free(S.srv);
}

static void cli_open(wsx_socket *s, void *ud) {
  (void)ud;
  S.client_open++;
  snprintf(S.client_ext, sizeof S.client_ext, "%s", wsx_socket_extensions(s));
  S.send_rc[0] = wsx_socket_send(s, WSX_OP_TEXT, S.msg, MSG_LEN, 0);
  S.send_rc[1] =
      wsx_socket_send(s, WSX_OP_TEXT, S.msg, MSG_LEN, WSX_SEND_UNCOMPRESSED);
}

static void cli_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s;
  (void)ud;
  if (e->code == 1000 && e->clean)
    S.client_close++;
}

TEST(send_uncompressed_skips_deflate) {
  memset(&S, 0, sizeof S);
  for (size_t i = 0; i < MSG_LEN; i++)
    S.msg[i] = (char)('a' + i % 7); /* compressible */
  REQUIRE(uv_loop_init(&S.loop) == 0);
  uv_timer_init(&S.loop, &S.guard);
  uv_timer_start(&S.guard, guard_cb, 10000, 0);
  uv_unref((uv_handle_t *)&S.guard);

  wsx_extension *deflate = wsx_deflate_new(NULL);
  REQUIRE(deflate != NULL);
  wsx_extension *exts[] = {deflate, NULL};

  wsx_driver_options sdo = WSX_DRIVER_OPTIONS_INIT;
  sdo.frame_events = 1;
  wsx_socket_options sso = WSX_SOCKET_OPTIONS_INIT;
  sso.extensions = exts;
  sso.driver = &sdo;
  wsx_server_options so = WSX_SERVER_OPTIONS_INIT;
  so.auto_accept = 1;
  so.socket = &sso;
  wsx_socket_callbacks ssc = WSX_SOCKET_CALLBACKS_INIT;
  ssc.frame = srv_frame;
  ssc.close = srv_close;
  wsx_server_callbacks scb = WSX_SERVER_CALLBACKS_INIT;
  scb.socket = &ssc;
  int err = 0;
  S.srv = wsx_server_new(&S.loop, &so, &scb, NULL, &err);
  REQUIRE(S.srv != NULL);
  REQUIRE(wsx_server_listen(S.srv, "127.0.0.1", 0) == 0);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", wsx_server_port(S.srv));

  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  co.extensions = exts;
  static const wsx_socket_callbacks ccb = {.struct_size = sizeof(wsx_socket_callbacks), .open = cli_open,
                                           .close = cli_close};
  REQUIRE(wsx_socket_connect(&S.loop, url, &co, &ccb, NULL, &err) != NULL);
  uv_run(&S.loop, UV_RUN_DEFAULT);

  CHECK_INT(S.client_open, 1);
  CHECK(strncmp(S.client_ext, "permessage-deflate", 18) == 0);
  CHECK_INT(S.send_rc[0] >= 0, 1);
  CHECK_INT(S.send_rc[1] >= 0, 1);
  CHECK_INT(S.frames, 2);
  CHECK_INT(S.rsv[0], WSX_RSV1); /* compressed */
  CHECK_INT(S.rsv[1], 0);        /* sent as is */
  CHECK_INT(S.same[0], 1);
  CHECK_INT(S.same[1], 1);
  CHECK_INT(S.client_close, 1);
  CHECK_INT(S.server_close, 1);

  uv_close((uv_handle_t *)&S.guard, NULL);
  uv_run(&S.loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&S.loop), 0);
  wsx_deflate_free(deflate);
}

TEST_MAIN(RUN(send_uncompressed_skips_deflate))
