/*
 * examples/echo_server.c: a WebSocket echo server (faye-websocket's first
 * README example). Every upgrade request is accepted, every message is sent
 * back, and each close is logged.
 *
 *   ./echo_server [PORT]      (default 8000), then: wsx connect
 * ws://127.0.0.1:8000/
 */
#include <stdio.h>
#include <stdlib.h>

#include <wsx/uv.h>

static void on_message(wsx_socket *ws, const wsx_message *m, void *ud) {
  (void)ud;
  int r = m->opcode == WSX_OP_TEXT
              ? wsx_socket_send_text(ws, (const char *)m->data, m->len)
              : wsx_socket_send_binary(ws, m->data, m->len);
  if (r < 0)
    fprintf(stderr, "send: %s\n", wsx_uv_strerror(r));
}

static void on_close(wsx_socket *ws, const wsx_close_event *e, void *ud) {
  (void)ws;
  (void)ud;
  /* The socket is freed when this callback returns. */
  printf("close %u %s\n", (unsigned)e->code, e->reason);
  fflush(stdout);
}

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  (void)srv;
  (void)ud;
  static const wsx_socket_callbacks cbs = {.struct_size = sizeof(wsx_socket_callbacks), .message = on_message,
                                           .close = on_close};
  int err;
  /* `req` is only ever a WebSocket upgrade here: plain HTTP requests go to
   * http_request (left NULL, so they get 426 Upgrade Required). */
  if (!wsx_request_accept(req, NULL, NULL, &cbs, NULL, &err))
    fprintf(stderr, "accept: %s\n", wsx_uv_strerror(err));
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  uv_loop_t *loop = uv_default_loop();
  static const wsx_server_callbacks cbs = {.struct_size = sizeof(wsx_server_callbacks), .request = on_request};
  int err;
  wsx_server *srv = wsx_server_new(loop, NULL, &cbs, NULL, &err);
  if (!srv) {
    fprintf(stderr, "wsx_server_new: %s\n", wsx_uv_strerror(err));
    return 1;
  }
  err = wsx_server_listen(srv, "127.0.0.1", port);
  if (err < 0) {
    fprintf(stderr, "listen on port %d: %s\n", port, wsx_uv_strerror(err));
    wsx_server_free(srv);
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  printf("listening on ws://127.0.0.1:%d/\n", wsx_server_port(srv));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT) != 0;
}
