/*
 * examples/cookie_server.c: WebSocket-Node's request.accept(protocol,
 * origin, cookies) in C, next to plain pages on the same port.
 *
 * GET / serves a page whose WebSocket (/ws) is accepted with two cookies:
 * "visible=yes" (the page's script can read it) and an HttpOnly "secret"
 * (it cannot). Messages on /ws are echoed. An upgrade on /inject tries a
 * cookie whose value smuggles a header: the accept refuses it (500, no
 * 101, no Set-Cookie). Plain responses have a Content-Length, so HTTP/1.1
 * clients keep the connection for their next request.
 *
 *   ./cookie_server [PORT]    (default 8000; 0 = any free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsx/cookie.h>
#include <wsx/uv.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>wsx cookies</title>\n"
    "<pre id=out></pre><script>\n"
    "window.result = null;\n"
    "const ws = new WebSocket('ws://' + location.host + '/ws');\n"
    "ws.onopen = () => { window.result = 'cookie=' + document.cookie;\n"
    "  document.getElementById('out').textContent = window.result;\n"
    "  ws.close(1000); };\n"
    "ws.onerror = () => { window.result = 'error'; };\n"
    "</script>\n";

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  if (m->opcode == WSX_OP_TEXT)
    (void)wsx_socket_send_text(s, (const char *)m->data, m->len);
  else
    (void)wsx_socket_send_binary(s, m->data, m->len);
}

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  static const wsx_socket_callbacks cbs = {
      .struct_size = sizeof(wsx_socket_callbacks), .message = on_message};
  wsx_set_cookie visible = WSX_SET_COOKIE_INIT, secret = WSX_SET_COOKIE_INIT;
  const wsx_set_cookie *cookies[] = {&visible, &secret};
  size_t len;
  const char *path = wsx_request_path(req, &len);
  int inject = len == 7 && memcmp(path, "/inject", 7) == 0, err;
  (void)srv, (void)ud;
  visible.name = "visible";
  visible.value = "yes";
  visible.path = "/";
  secret.name = "secret";
  secret.value = inject ? "x\r\nX-Evil: 1" : "s3";
  secret.path = "/";
  secret.flags = WSX_COOKIE_HTTPONLY;
  if (!wsx_request_accept_with_cookies(req, NULL, NULL, cookies, 2, &cbs,
                                       NULL, &err)) {
    /* The request was answered 500 and closed; nothing else was sent. */
    printf("accept refused: %s\n", wsx_uv_strerror(err));
    fflush(stdout);
    return;
  }
  printf("accepted %.*s with 2 cookies\n", (int)len, path);
  fflush(stdout);
}

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  char body[256];
  int n;
  (void)srv, (void)ud;
  if (!strcmp(wsx_request_resource(req), "/")) {
    wsx_http_res_header(res, "Content-Type", "text/html; charset=utf-8");
    wsx_http_res_end(res, page, sizeof(page) - 1);
    return;
  }
  n = snprintf(body, sizeof(body), "hello %s\n", wsx_request_resource(req));
  if (n < 0 || (size_t)n >= sizeof(body))
    n = 0;
  wsx_http_res_header(res, "Content-Type", "text/plain");
  wsx_http_res_end(res, body, (size_t)n);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  uv_loop_t *loop = uv_default_loop();
  static const wsx_server_callbacks cbs = {
      .struct_size = sizeof(wsx_server_callbacks),
      .request = on_request,
      .http_request = on_http};
  int err;
  wsx_server *srv = wsx_server_new(loop, NULL, &cbs, NULL, &err);
  if (!srv) {
    fprintf(stderr, "wsx_server_new: %s\n", wsx_uv_strerror(err));
    return 1;
  }
  if ((err = wsx_server_listen(srv, "127.0.0.1", port)) < 0) {
    fprintf(stderr, "listen: %s\n", wsx_uv_strerror(err));
    wsx_server_free(srv);
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  printf("listening on http://127.0.0.1:%d/\n", wsx_server_port(srv));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT) < 0;
}
