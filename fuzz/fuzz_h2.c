/*
 * libFuzzer target for the HTTP/2 server glue (src/uv/h2_conn.c,
 * h2_stream.c): the frame parsing is nghttp2's, what is fuzzed is what wsx
 * does with its events (requests rewritten for the front, stream sockets,
 * the response translation, flow control, resets, teardown).
 *
 * One server (request: accept as an echo socket with permessage-deflate,
 * or reject 403 for a :path containing "reject"; http_request: a small
 * answer) listens on a Unix socket; per input a client connects, and the
 * server's socket is switched to HTTP/2 as if ALPN had chosen h2
 * (wsx__h2_start). Input byte 0 chooses the piece size the rest is fed in
 * (1..64 bytes, or all at once for 0); the rest follows the client
 * preface. Then the client hangs up and the loop runs until every socket
 * is gone; LeakSanitizer checks that nothing stays behind.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uv/internal.h"
#include "wsx/extension.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef WSX_HAVE_HTTP2
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)data, (void)size;
  return 0; /* built without HTTP/2: nothing to fuzz */
}
#else

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static uv_loop_t loop;
static wsx_server *srv;
static wsx_extension *deflate;
static struct sockaddr_un addr;

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  (void)wsx_socket_send(s, m->opcode, m->data, m->len, 0);
  if (m->len > 3 && memcmp(m->data, "bye", 3) == 0)
    (void)wsx_socket_close(s, 1000, "bye");
  else if (m->len > 4 && memcmp(m->data, "drop", 4) == 0)
    (void)wsx_socket_drop(s, 1001, NULL);
  else if (m->len > 5 && memcmp(m->data, "pause", 5) == 0)
    (void)wsx_socket_pause(s);
}

static void on_request(wsx_server *sv, wsx_request *r, void *ud) {
  static const wsx_socket_callbacks cbs = {
      .struct_size = sizeof(wsx_socket_callbacks), .message = on_message};
  (void)sv, (void)ud;
  if (strstr(wsx_request_resource(r), "reject"))
    (void)wsx_request_reject(r, 403, "no", NULL, 0);
  else
    (void)wsx_request_accept(r, NULL, NULL, &cbs, NULL, NULL);
}

static void on_http(wsx_server *sv, wsx_request *r, wsx_http_res *res,
                    void *ud) {
  size_t n;
  (void)sv, (void)ud;
  (void)wsx_request_body(r, &n);
  (void)wsx_http_res_header(res, "X-Body", n ? "yes" : "no");
  (void)wsx_http_res_end(res, "hello\n", 6);
}

static void init(void) {
  static wsx_extension *exts[2];
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options so = WSX_SOCKET_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  uv_loop_init(&loop);
  deflate = wsx_deflate_new(NULL);
  exts[0] = deflate;
  so.extensions = exts;
  so.high_water_mark = 4096;
  o.socket = &so;
  cb.request = on_request;
  cb.http_request = on_http;
  srv = wsx_server_new(&loop, &o, &cb, NULL, NULL);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/wsx-fuzz-h2-%d.sock",
           (int)getpid());
  unlink(addr.sun_path);
  if (!srv || wsx_server_listen_unix(srv, addr.sun_path) != WSX_OK)
    abort();
}

static void drain(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

static wsx_socket *fresh(void) {
  wsx_socket *c;
  for (c = srv->conns; c; c = c->next)
    if (c->phase == WSX__P_HEAD && !(c->flags & WSX__F_HANDLE_CLOSING) &&
        !wsx_socket_is_http2(c))
      return c;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wsx_socket *s = NULL;
  size_t piece, off, len;
  char *buf;
  int fd, i;
  if (!srv)
    init();
  if (size < 1)
    return 0;
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
    abort();
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (i = 0; i < 1000 && !s; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    s = fresh();
  }
  if (!s)
    abort();
  len = sizeof(preface) - 1 + size - 1;
  buf = malloc(len);
  if (!buf)
    abort();
  memcpy(buf, preface, sizeof(preface) - 1);
  memcpy(buf + sizeof(preface) - 1, data + 1, size - 1);
  piece = data[0] % 65 ? data[0] % 65 : len;
  /* The first piece starts the session; the rest is what the TLS layer
   * would hand the phase (the loop runs in between, as between reads). */
  off = piece < len ? piece : len;
  wsx__h2_start(s, buf, off);
  while (off < len && !(s->flags & WSX__F_HANDLE_CLOSING) &&
         s->phase == WSX__P_H2) {
    size_t k = len - off < piece ? len - off : piece;
    wsx__sock_on_plain(s, buf + off, k);
    off += k;
    drain(fd);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  free(buf);
  drain(fd);
  close(fd);
  for (i = 0; i < 10000 && srv->conns; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  if (srv->conns)
    abort(); /* a socket outlived its connection */
  return 0;
}
#endif
