/*
 * examples/client.c: a WebSocket client (faye-websocket's WebSocket.Client
 * example): on open it sends "Hello, world!", prints the first message it
 * receives, then closes.
 *
 *   ./client [URL]            (default ws://127.0.0.1:8000/)
 */
#include <stdio.h>

#include <wsx/uv.h>

static void on_open(wsx_socket *ws, void *ud) {
  (void)ud;
  printf("open (protocol '%s', status %d)\n", wsx_socket_protocol(ws),
         wsx_socket_status_code(ws));
  int r = wsx_socket_send_text(ws, "Hello, world!", 13);
  if (r < 0)
    fprintf(stderr, "send: %s\n", wsx_uv_strerror(r));
}

static void on_message(wsx_socket *ws, const wsx_message *m, void *ud) {
  (void)ud;
  /* m->data is borrowed for this callback only. */
  printf("message %.*s\n", (int)m->len, (const char *)m->data);
  int r = wsx_socket_close(ws, 1000, "done");
  if (r < 0 && r != WSX_E_CLOSED)
    fprintf(stderr, "close: %s\n", wsx_uv_strerror(r));
}

static void on_connect_failed(wsx_socket *ws, const wsx_connect_failure *f,
                              void *ud) {
  (void)ws;
  (void)ud;
  fprintf(stderr, "connect failed: %s\n", f->message);
}

static void on_close(wsx_socket *ws, const wsx_close_event *e, void *ud) {
  (void)ws;
  int *clean = ud;
  *clean = e->clean;
  printf("close %u %s\n", (unsigned)e->code, e->reason);
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8000/";
  static const wsx_socket_callbacks cbs = {.struct_size = sizeof(wsx_socket_callbacks),
      .open = on_open,
      .message = on_message,
      .close = on_close,
      .connect_failed = on_connect_failed,
  };
  int clean = 0, err;
  uv_loop_t *loop = uv_default_loop();
  if (!wsx_socket_connect(loop, url, NULL, &cbs, &clean, &err)) {
    fprintf(stderr, "%s: %s\n", url, wsx_uv_strerror(err));
    return 1;
  }
  if (uv_run(loop, UV_RUN_DEFAULT) != 0)
    return 1;
  return clean ? 0 : 1;
}
