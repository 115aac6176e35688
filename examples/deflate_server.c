/*
 * examples/deflate_server.c: an echo server offering permessage-deflate
 * (faye-websocket's `{extensions: [deflate]}`). One extension object serves
 * every connection; it must outlive them, so it is freed after the loop.
 *
 *   ./deflate_server [PORT]   (default 8000)
 */
#include <stdio.h>
#include <stdlib.h>

#include <wsx/extension.h>
#include <wsx/uv.h>

static void on_open(wsx_socket *ws, void *ud) {
  (void)ud;
  /* "" when the client did not offer (or we declined) the extension. */
  printf("open, extensions: '%s'\n", wsx_socket_extensions(ws));
  fflush(stdout);
}

static void on_message(wsx_socket *ws, const wsx_message *m, void *ud) {
  (void)ud;
  /* m->data is already inflated; the reply is deflated on the way out. */
  int r = m->opcode == WSX_OP_TEXT
              ? wsx_socket_send_text(ws, (const char *)m->data, m->len)
              : wsx_socket_send_binary(ws, m->data, m->len);
  if (r < 0)
    fprintf(stderr, "send: %s\n", wsx_uv_strerror(r));
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  wsx_extension *deflate = wsx_deflate_new(NULL);
  if (!deflate) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  wsx_extension *exts[] = {deflate, NULL};
  wsx_socket_options sock = WSX_SOCKET_OPTIONS_INIT;
  sock.extensions = exts;
  wsx_server_options opts = WSX_SERVER_OPTIONS_INIT;
  opts.auto_accept = 1;
  opts.socket = &sock;
  wsx_socket_callbacks sock_cbs = WSX_SOCKET_CALLBACKS_INIT;
  sock_cbs.open = on_open;
  sock_cbs.message = on_message;
  wsx_server_callbacks cbs = WSX_SERVER_CALLBACKS_INIT;
  cbs.socket = &sock_cbs;

  uv_loop_t *loop = uv_default_loop();
  int err, status = 1;
  wsx_server *srv = wsx_server_new(loop, &opts, &cbs, NULL, &err);
  if (!srv) {
    fprintf(stderr, "wsx_server_new: %s\n", wsx_uv_strerror(err));
  } else if ((err = wsx_server_listen(srv, "127.0.0.1", port)) < 0) {
    fprintf(stderr, "listen on port %d: %s\n", port, wsx_uv_strerror(err));
    wsx_server_free(srv);
    uv_run(loop, UV_RUN_DEFAULT);
  } else {
    printf("listening on ws://127.0.0.1:%d/\n", wsx_server_port(srv));
    fflush(stdout);
    status = uv_run(loop, UV_RUN_DEFAULT) != 0;
  }
  wsx_deflate_free(deflate);
  return status;
}
