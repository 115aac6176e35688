/*
 * libFuzzer target for the HTTP/2 client glue (src/uv/h2_client.c with the
 * shared h2_conn.c / h2_stream.c): what the client does with a server's
 * frames (SETTINGS deciding between extended CONNECT and the fallback,
 * response HEADERS rendered for the driver, DATA into WebSocket frames,
 * resets, GOAWAY, flow control, the connection ending).
 *
 * Per input: two sockets dial wss://127.0.0.1:<port>/ with http2 on
 * (permessage-deflate offered; the app echoes, closes on "bye", drops on
 * "drop", pauses on "pause"); they share one hidden connection, which
 * connects to a local listener that discards everything. The connection
 * is then switched to HTTP/2 as if TLS had completed with ALPN h2
 * (wsx__h2c_tls_ready) and the input is fed to its session as the
 * server's plaintext. Byte 0: bits 0-5 the piece size (0 = all at once),
 * bit 6 first feeds a SETTINGS frame with ENABLE_CONNECT_PROTOCOL = 1 on
 * its own (so the streams are open when the rest arrives). Then
 * everything is closed and the loop runs until the loop's wsx context is
 * gone; LeakSanitizer checks the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/internal.h"
#include "wsx/extension.h"
#include "wsx/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef WSX_HAVE_HTTP2
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)data, (void)size;
  return 0; /* built without HTTP/2: nothing to fuzz */
}
#else

#include "uv/h2.h"

/* SETTINGS: ENABLE_CONNECT_PROTOCOL (8) = 1. */
static const uint8_t settings[] = {0, 0, 6, 4, 0, 0, 0, 0, 0,
                                   0, 8, 0, 0, 0, 1};

static uv_loop_t loop;
static uv_tcp_t lsn;
static int port;
static wsx_extension *deflate;
static wsx_socket *cli[2];

typedef struct peer {
  uv_tcp_t tcp;
  struct peer *next;
} peer;
static peer *peers;

static void p_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  static char buf[65536];
  (void)h, (void)n;
  *b = uv_buf_init(buf, sizeof(buf));
}
static void p_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)st, (void)n, (void)b; /* discarded */
}
static void p_closed(uv_handle_t *h) { free(h); }

static void on_conn(uv_stream_t *l, int status) {
  peer *p;
  if (status < 0 || !(p = calloc(1, sizeof(*p))))
    return;
  uv_tcp_init(&loop, &p->tcp);
  if (uv_accept(l, (uv_stream_t *)&p->tcp) != 0) {
    uv_close((uv_handle_t *)&p->tcp, p_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&p->tcp, p_alloc, p_read);
  p->next = peers;
  peers = p;
}

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  (void)wsx_socket_send(s, m->opcode, m->data, m->len, 0);
  if (m->len >= 3 && memcmp(m->data, "bye", 3) == 0)
    (void)wsx_socket_close(s, 1000, "bye");
  else if (m->len >= 4 && memcmp(m->data, "drop", 4) == 0)
    (void)wsx_socket_drop(s, 1001, NULL);
  else if (m->len >= 5 && memcmp(m->data, "pause", 5) == 0)
    (void)wsx_socket_pause(s);
}

static void on_close(wsx_socket *s, const wsx_close_event *ev, void *ud) {
  (void)ev, (void)ud;
  if (cli[0] == s)
    cli[0] = NULL;
  if (cli[1] == s)
    cli[1] = NULL;
}

static void init(void) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_loop_init(&loop);
  deflate = wsx_deflate_new(NULL);
  uv_tcp_init(&loop, &lsn);
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_tcp_bind(&lsn, (const struct sockaddr *)&a, 0) != 0 ||
      uv_listen((uv_stream_t *)&lsn, 16, on_conn) != 0 ||
      uv_tcp_getsockname(&lsn, (struct sockaddr *)&ss, &len) != 0)
    abort();
  port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void kill_sock(wsx_socket *s) {
  if (s && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    s->flags |= WSX__F_EOF;
    wsx__sock_close_handle(s);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const wsx_socket_callbacks cbs = {.struct_size =
                                               sizeof(wsx_socket_callbacks),
                                           .message = on_message,
                                           .close = on_close};
  wsx_extension *exts[2] = {NULL, NULL};
  wsx_tls_client_options tls = WSX_TLS_CLIENT_OPTIONS_INIT;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket *c = NULL;
  char url[64];
  size_t piece, off, len;
  uint8_t *buf;
  int i;
  if (!deflate)
    init();
  if (size < 1)
    return 0;
  exts[0] = deflate;
  tls.insecure_skip_verify = 1;
  o.tls = &tls;
  o.http2 = 1;
  o.extensions = exts;
  o.high_water_mark = 4096;
  o.connect_timeout = 1000;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d/fuzz", port);
  for (i = 0; i < 2; i++)
    if (!(cli[i] = wsx_socket_connect(&loop, url, &o, &cbs, NULL, NULL)))
      abort();
  /* Both wait on one hidden connection: until its TCP connect is done. */
  c = ((wsx__h2_stream *)cli[0]->layer_state)->h->s;
  for (i = 0; i < 1000 && c->phase != WSX__P_CLIENT_HS; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  if (c->phase != WSX__P_CLIENT_HS)
    abort();
  wsx__h2c_tls_ready(c, 1); /* as if ALPN chose h2 */
  /* The server's SETTINGS come alone (the streams open after them). */
  if (data[0] & 0x40)
    wsx__sock_on_plain(c, (char *)(uintptr_t)settings, sizeof(settings));
  uv_run(&loop, UV_RUN_NOWAIT);
  len = size - 1;
  if (!(buf = malloc(len ? len : 1)))
    abort();
  memcpy(buf, data + 1, len);
  piece = data[0] & 0x3f ? data[0] & 0x3fu : len;
  for (off = 0; off < len && !(c->flags & WSX__F_HANDLE_CLOSING) &&
                c->phase == WSX__P_H2;) {
    size_t k = len - off < piece ? len - off : piece;
    wsx__sock_on_plain(c, (char *)buf + off, k);
    off += k;
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  free(buf);
  /* Everything goes (a fallback socket may be dialing on its own). */
  kill_sock(cli[0]);
  kill_sock(cli[1]);
  for (i = 0; i < 10000 && wsx__loopctx_find(&loop); i++) {
    wsx__h2 *h;
    wsx__loopctx *ctx = wsx__loopctx_find(&loop);
    for (h = ctx->h2_pool; h; h = h->pool_next)
      kill_sock(h->s);
    while (peers) { /* the server hangs up: no lingering */
      peer *p = peers;
      peers = p->next;
      uv_close((uv_handle_t *)&p->tcp, p_closed);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  if (wsx__loopctx_find(&loop))
    abort(); /* a socket outlived the test */
  uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}
#endif
