/*
 * raw_echo: a plain TCP echo server on libuv, the floor of the benchmark.
 * Whatever a WebSocket echo server does, it also does this (read bytes,
 * write them back), so no WebSocket server can beat it on the same traffic.
 *
 * usage: raw_echo PORT   (binds 127.0.0.1; prints "listening on PORT")
 * Built by bench/run.sh; not part of the library build.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define READ_BUF_SIZE (256 * 1024)

typedef struct pending_write {
  uv_write_t req;
  char data[]; /* the bytes the kernel did not take at once */
} pending_write;

static char read_buf[READ_BUF_SIZE];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_closed(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_closed);
    return;
  }
  size_t n = (size_t)nread, off = 0;
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  int r = uv_try_write(s, &b, 1);
  if (r > 0)
    off = (size_t)r;
  else if (r != UV_EAGAIN && n) {
    uv_close((uv_handle_t *)s, on_closed);
    return;
  }
  if (off == n)
    return;
  pending_write *w = malloc(sizeof *w + (n - off));
  if (!w) {
    uv_close((uv_handle_t *)s, on_closed);
    return;
  }
  memcpy(w->data, buf->base + off, n - off);
  b = uv_buf_init(w->data, (unsigned)(n - off));
  if (uv_write(&w->req, s, &b, 1, on_written) < 0) {
    free(w);
    uv_close((uv_handle_t *)s, on_closed);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  uv_tcp_t *c = malloc(sizeof *c);
  if (!c)
    return;
  uv_tcp_init(server->loop, c);
  if (uv_accept(server, (uv_stream_t *)c) < 0) {
    uv_close((uv_handle_t *)c, on_closed);
    return;
  }
  uv_tcp_nodelay(c, 1);
  uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

int main(int argc, char **argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: raw_echo PORT\n");
    return 2;
  }
  int port = atoi(argv[1]);
  signal(SIGPIPE, SIG_IGN); /* a client leaving mid-write is normal */
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_in addr;
  uv_tcp_init(loop, &server);
  uv_ip4_addr("127.0.0.1", port, &addr);
  int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
  if (r < 0) {
    fprintf(stderr, "raw_echo: port %d: %s\n", port, uv_strerror(r));
    return 1;
  }
  printf("listening on %d\n", port);
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
