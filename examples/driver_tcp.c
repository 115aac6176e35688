/*
 * examples/driver_tcp.c: the sans-I/O driver over a raw TCP stream
 * (websocket-driver's "Server-side with TCP" example), with libuv doing the
 * I/O. The driver parses the HTTP request itself and fires `connect`; a
 * WebSocket request is answered with wsx_driver_start(), anything else gets
 * a plain HTTP reply. Messages are echoed back.
 *
 * The driver owns no socket: bytes read from TCP go into wsx_driver_parse(),
 * bytes the driver wants written come out of the `write` callback.
 *
 *   ./driver_tcp [PORT]       (default 4180)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <wsx/driver.h>

typedef struct conn {
  uv_tcp_t tcp; /* first member: a handle pointer is a conn pointer */
  wsx_driver *d;
  uv_shutdown_t shutdown;
  int closing; /* shutdown or close started */
} conn;

typedef struct write_req {
  uv_write_t req;
  char data[]; /* the bytes being written */
} write_req;

/* Read buffer shared by every connection: the driver consumes (or copies)
 * all bytes during wsx_driver_parse(). */
static char read_buf[65536];

static void on_written(uv_write_t *req, int status) {
  if (status < 0)
    fprintf(stderr, "write: %s\n", uv_strerror(status));
  free(req);
}

static void on_closed(uv_handle_t *h) {
  conn *c = (conn *)h;
  /* Never free a driver inside its own callback: here it is safe. */
  wsx_driver_free(c->d);
  free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  uv_close((uv_handle_t *)req->handle, on_closed);
}

/* Closing a stream cancels its pending writes, so a last response or close
 * frame is flushed first: uv_shutdown waits for queued writes, then closes. */
static void close_conn(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Queues `len` bytes from the iovecs in one uv_write. The iovecs are only
 * valid during the driver's callback, so they are copied. */
static int send_bytes(conn *c, const wsx_iovec *iov, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += iov[i].len;
  write_req *w = malloc(sizeof *w + len);
  if (!w)
    return -1;
  char *p = w->data;
  for (size_t i = 0; i < n; i++) {
    memcpy(p, iov[i].base, iov[i].len);
    p += iov[i].len;
  }
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (r < 0) {
    free(w);
    return -1;
  }
  return 0;
}

static int on_driver_write(wsx_driver *d, const wsx_iovec *iov, size_t n,
                           void *ud) {
  (void)d;
  return send_bytes(ud, iov, n);
}

static void on_connect(wsx_driver *d, void *ud) {
  if (wsx_driver_is_websocket(d)) {
    /* Validates the request and writes the 101 (or a 400 + close). */
    if (wsx_driver_start(d) != WSX_OK)
      fprintf(stderr, "handshake refused\n");
    return;
  }
  static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 22\r\nConnection: close\r\n\r\n"
                              "not a WebSocket here.\n";
  wsx_iovec iov = {reply, sizeof reply - 1};
  if (send_bytes(ud, &iov, 1) < 0)
    fprintf(stderr, "cannot answer a plain HTTP request\n");
  close_conn(ud);
}

static void on_message(wsx_driver *d, const wsx_message *m, void *ud) {
  (void)ud;
  int r = m->opcode == WSX_OP_TEXT
              ? wsx_driver_send_text(d, (const char *)m->data, m->len)
              : wsx_driver_send_binary(d, m->data, m->len);
  if (r < 0)
    fprintf(stderr, "send: %s\n", wsx_strerror(r));
}

static void on_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  (void)d;
  printf("close %u %s\n", (unsigned)e->code, e->reason);
  fflush(stdout);
  close_conn(ud);
}

static const wsx_driver_callbacks driver_cbs = {.struct_size = sizeof(wsx_driver_callbacks),
    .write = on_driver_write,
    .connect = on_connect,
    .message = on_message,
    .close = on_close,
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  (void)hint;
  *b = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = (conn *)s;
  if (n > 0) {
    /* Errors also arrive as `error` / `close` events. */
    (void)wsx_driver_parse(c->d, (uint8_t *)b->base, (size_t)n);
  } else if (n < 0) {
    /* EOF or reset without a closing handshake: `close` reports 1006 if
     * the driver had not closed yet; otherwise close the handle here. */
    wsx_driver_abort(c->d, 0, NULL);
    uv_read_stop(s);
    close_conn(c);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) {
    fprintf(stderr, "accept: %s\n", uv_strerror(status));
    return;
  }
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  if (uv_tcp_init(server->loop, &c->tcp) < 0) {
    free(c);
    return;
  }
  c->d = wsx_driver_new_server(NULL, &driver_cbs, c);
  if (!c->d || uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed); /* frees a NULL driver too */
  }
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 4180;
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_in addr;
  int r = uv_ip4_addr("127.0.0.1", port, &addr);
  if (r == 0)
    r = uv_tcp_init(loop, &server);
  if (r == 0)
    r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&server, 128, on_connection);
  if (r < 0) {
    fprintf(stderr, "listen on port %d: %s\n", port, uv_strerror(r));
    return 1;
  }
  printf("listening on ws://127.0.0.1:%d/\n", port);
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT) != 0;
}
