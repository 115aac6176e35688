/*
 * examples/ping.c: ping with a callback (faye-websocket's
 * `ws.ping('Mic check, one, two', function() { ... })`). The client pings
 * once the connection is open; the callback fires when the matching pong
 * arrives, and the client then closes.
 *
 *   ./ping [URL]              (default ws://127.0.0.1:8000/)
 */
#include <stdio.h>
#include <string.h>

#include <wsx/uv.h>

static void on_pong(wsx_socket *ws, void *arg) {
  printf("pong received for '%s'\n", (const char *)arg);
  int r = wsx_socket_close(ws, 1000, NULL);
  if (r < 0)
    fprintf(stderr, "close: %s\n", wsx_uv_strerror(r));
}

static void on_open(wsx_socket *ws, void *ud) {
  (void)ud;
  static const char payload[] = "Mic check, one, two";
  /* >= 0: the ping was sent (hixie drafts have no ping: WSX_E_UNSUPPORTED). */
  int r =
      wsx_socket_ping(ws, payload, strlen(payload), on_pong, (void *)payload);
  if (r < 0) {
    fprintf(stderr, "ping: %s\n", wsx_uv_strerror(r));
    if (wsx_socket_close(ws, 1000, NULL) < 0)
      fprintf(stderr, "close failed\n");
  }
}

static void on_connect_failed(wsx_socket *ws, const wsx_connect_failure *f,
                              void *ud) {
  (void)ws;
  (void)ud;
  fprintf(stderr, "connect failed: %s\n", f->message);
}

static void on_close(wsx_socket *ws, const wsx_close_event *e, void *ud) {
  (void)ws;
  *(int *)ud = e->clean;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8000/";
  static const wsx_socket_callbacks cbs = {.struct_size = sizeof(wsx_socket_callbacks),
      .open = on_open,
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
