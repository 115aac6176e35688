/*
 * bench_fanout: one publisher, many subscribers (issue 11). A server loop on
 * its own thread sends the same message to N connections, three ways, in
 * one run: wsx_server_publish() (topics: framed once, shared), the hand
 * broadcast (wsx_socket_send_binary() per socket, today's way), and a raw
 * TCP fan-out of the same frame bytes (uv_try_write per connection, no
 * WebSocket layer: the floor). The subscribers are raw TCP readers on the
 * main thread that count bytes. The publisher keeps at most WINDOW
 * messages in flight (by the readers' count) so no socket buffers grow.
 *
 * Prints, per mode and size: messages delivered per second and the server
 * thread's CPU time per delivered message, and the ratios to hand and raw.
 * Env: BENCH_FANOUT_CONNS (default "1000"), BENCH_FANOUT_SECONDS (2),
 * BENCH_FANOUT_BURST (default 8): messages the publisher sends per loop
 * turn at most (one idle callback). wsx_server_publish() writes each
 * subscriber's publications of a loop turn in one writev, so its gain over
 * the hand broadcast and raw TCP (one write per message per connection)
 * grows with the burst; at 1 it makes as many write calls as they do.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>

#include <uv.h>

#include "wsx/pubsub.h"

#define WINDOW 32
enum { M_PUBLISH, M_HAND, M_RAW, M_COUNT };
static const char *mode_name[M_COUNT] = {"publish", "hand", "raw-tcp"};

static struct {
  int mode, nconn, burst;
  size_t size, frame_len;
  uint8_t *frame; /* raw mode: header + payload */
  uint8_t *payload;
  uv_loop_t loop; /* the server's */
  uv_async_t wake, stop_async;
  uv_idle_t pump;
  wsx_server *srv;
  uv_tcp_t raw_listen;
  uv_tcp_t *raw_conns;
  int nraw;
  wsx_socket **socks;
  int nsocks;
  int port, raw_port;
  atomic_int ready;         /* server listening */
  atomic_ullong sent;       /* messages published (each to every conn) */
  atomic_ullong received;   /* frames received, over all readers */
  atomic_int running;
  double cpu;               /* server thread CPU seconds of the run */
} B;

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double now_s(void) { return (double)uv_hrtime() / 1e9; }

/* ---- server thread ---- */

static void s_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  (void)wsx_socket_subscribe(s, "t", 1);
  B.socks[B.nsocks++] = s;
}
static void s_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s, (void)e, (void)ud;
}

static void free_write(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void send_one(void) {
  int i;
  if (B.mode == M_PUBLISH) {
    (void)wsx_server_publish(B.srv, "t", 1, B.payload, B.size,
                             WSX_OP_BINARY, 0);
  } else if (B.mode == M_HAND) {
    for (i = 0; i < B.nsocks; i++)
      (void)wsx_socket_send_binary(B.socks[i], B.payload, B.size);
  } else {
    uv_buf_t b = uv_buf_init((char *)B.frame, (unsigned)B.frame_len);
    for (i = 0; i < B.nraw; i++) {
      int r = uv_try_write((uv_stream_t *)&B.raw_conns[i], &b, 1);
      if (r >= 0 && (size_t)r < B.frame_len) {
        /* The rest goes behind; the same bytes every time, so a static
         * buffer is stable. */
        uv_write_t *w = malloc(sizeof(*w));
        uv_buf_t rest = uv_buf_init((char *)B.frame + r,
                                    (unsigned)(B.frame_len - (size_t)r));
        if (w && uv_write(w, (uv_stream_t *)&B.raw_conns[i], &rest, 1,
                          free_write) < 0)
          free(w);
      }
    }
  }
  atomic_fetch_add(&B.sent, 1);
}

static void on_pump(uv_idle_t *h) {
  int k;
  (void)h;
  if (!atomic_load(&B.running))
    return;
  for (k = 0; k < B.burst; k++) {
    unsigned long long per = atomic_load(&B.received) / (unsigned)B.nconn;
    if (atomic_load(&B.sent) >= per + WINDOW)
      break;
    send_one();
  }
}

static void raw_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  static char sink[65536];
  (void)h, (void)n;
  b->base = sink;
  b->len = sizeof(sink);
}
static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0)
    uv_close((uv_handle_t *)st, NULL);
}
static void on_raw_conn(uv_stream_t *l, int status) {
  uv_tcp_t *c;
  if (status < 0 || B.nraw >= B.nconn)
    return;
  c = &B.raw_conns[B.nraw];
  uv_tcp_init(&B.loop, c);
  if (uv_accept(l, (uv_stream_t *)c) == 0) {
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, raw_alloc, raw_read);
    B.nraw++;
  }
}

static void on_wake(uv_async_t *a) {
  (void)a;
  if (atomic_load(&B.running)) {
    B.cpu = thread_cpu();
    uv_idle_start(&B.pump, on_pump);
  } else {
    uv_idle_stop(&B.pump);
    B.cpu = thread_cpu() - B.cpu;
  }
}

static void close_once(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}
static void on_stop(uv_async_t *a) {
  int i;
  (void)a;
  wsx_server_free(B.srv); /* closes its own connections */
  for (i = 0; i < B.nraw; i++)
    close_once((uv_handle_t *)&B.raw_conns[i]);
  close_once((uv_handle_t *)&B.raw_listen);
  close_once((uv_handle_t *)&B.wake);
  close_once((uv_handle_t *)&B.stop_async);
  close_once((uv_handle_t *)&B.pump);
}

static void server_thread(void *arg) {
  static const wsx_socket_callbacks scb = {
      .struct_size = sizeof(wsx_socket_callbacks), .close = s_close};
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options so = WSX_SOCKET_OPTIONS_INIT;
  struct sockaddr_in a;
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  (void)arg;
  uv_loop_init(&B.loop);
  so.max_buffered = SIZE_MAX;
  o.socket = &so;
  o.auto_accept = 1;
  cb.connection = s_connection;
  cb.socket = &scb;
  B.srv = wsx_server_new(&B.loop, &o, &cb, NULL, NULL);
  wsx_server_listen(B.srv, "127.0.0.1", 0);
  B.port = wsx_server_port(B.srv);
  uv_tcp_init(&B.loop, &B.raw_listen);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&B.raw_listen, (const struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&B.raw_listen, 4096, on_raw_conn);
  uv_tcp_getsockname(&B.raw_listen, (struct sockaddr *)&sa, &len);
  B.raw_port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
  uv_async_init(&B.loop, &B.wake, on_wake);
  uv_async_init(&B.loop, &B.stop_async, on_stop);
  uv_idle_init(&B.loop, &B.pump);
  atomic_store(&B.ready, 1);
  uv_run(&B.loop, UV_RUN_DEFAULT);
  uv_loop_close(&B.loop);
}

/* ---- readers (main thread) ---- */

typedef struct reader {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  int in_head; /* WebSocket: skipping the 101 response */
  int crlf;    /* matched bytes of "\r\n\r\n" */
  size_t partial; /* bytes of the current frame seen */
} reader;

static char req[] =
    "GET / HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: "
    "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
static int nopen;

static void r_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  static char buf[65536];
  (void)h, (void)n;
  b->base = buf;
  b->len = sizeof(buf);
}
static void r_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  reader *r = st->data;
  ssize_t i = 0;
  size_t got;
  if (n <= 0) {
    if (n < 0)
      uv_close((uv_handle_t *)st, NULL);
    return;
  }
  while (r->in_head && i < n) {
    char ch = b->base[i++];
    r->crlf = (ch == "\r\n\r\n"[r->crlf]) ? r->crlf + 1 : (ch == '\r');
    if (r->crlf == 4) {
      r->in_head = 0;
      nopen++;
    }
  }
  got = r->partial + (size_t)(n - i);
  atomic_fetch_add(&B.received, got / B.frame_len);
  r->partial = got % B.frame_len;
}
static void r_connected(uv_connect_t *c, int status) {
  reader *r = c->data;
  if (status < 0)
    return;
  uv_tcp_nodelay(&r->tcp, 1);
  uv_read_start((uv_stream_t *)&r->tcp, r_alloc, r_read);
  if (r->in_head) {
    uv_buf_t b = uv_buf_init(req, sizeof(req) - 1);
    uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, NULL);
  } else {
    nopen++;
  }
}

static void run_mode(uv_loop_t *ml, int mode, size_t size, double secs,
                     double *rate, double *cpu_per) {
  reader *rs = calloc((size_t)B.nconn, sizeof(*rs));
  struct sockaddr_in a;
  unsigned long long r0;
  double t0, t1;
  int i;
  B.mode = mode;
  B.size = size;
  B.frame_len = size + (size < 126 ? 2 : 4);
  B.nsocks = 0;
  B.nraw = 0;
  nopen = 0;
  B.frame[0] = 0x82;
  if (size < 126) {
    B.frame[1] = (uint8_t)size;
  } else {
    B.frame[1] = 126;
    B.frame[2] = (uint8_t)(size >> 8);
    B.frame[3] = (uint8_t)size;
  }
  memcpy(B.frame + B.frame_len - size, B.payload, size);
  uv_ip4_addr("127.0.0.1", mode == M_RAW ? B.raw_port : B.port, &a);
  for (i = 0; i < B.nconn; i++) {
    rs[i].in_head = mode != M_RAW;
    rs[i].tcp.data = rs[i].conn.data = &rs[i];
    uv_tcp_init(ml, &rs[i].tcp);
    uv_tcp_connect(&rs[i].conn, &rs[i].tcp, (const struct sockaddr *)&a,
                   r_connected);
    if (i % 100 == 99)
      uv_run(ml, UV_RUN_NOWAIT);
  }
  while (nopen < B.nconn)
    uv_run(ml, UV_RUN_ONCE);
  while ((mode == M_RAW ? B.nraw : B.nsocks) < B.nconn) /* server side */
    uv_sleep(1);
  atomic_store(&B.sent, 0);
  atomic_store(&B.received, 0);
  atomic_store(&B.running, 1);
  uv_async_send(&B.wake);
  t0 = now_s();
  r0 = atomic_load(&B.received);
  while (now_s() - t0 < secs)
    uv_run(ml, UV_RUN_ONCE);
  atomic_store(&B.running, 0);
  t1 = now_s();
  *rate = (double)(atomic_load(&B.received) - r0) / (t1 - t0);
  uv_async_send(&B.wake);
  uv_sleep(50);
  *cpu_per = B.cpu / (double)(atomic_load(&B.received) - r0 + 1) * 1e9;
  for (i = 0; i < B.nconn; i++)
    if (!uv_is_closing((uv_handle_t *)&rs[i].tcp))
      uv_close((uv_handle_t *)&rs[i].tcp, NULL);
  uv_run(ml, UV_RUN_DEFAULT);
  free(rs);
  /* The server side notices the EOFs; give it a moment. */
  uv_sleep(200);
}

int main(void) {
  static const size_t sizes[] = {20, 1024};
  const char *ce = getenv("BENCH_FANOUT_CONNS");
  const char *se = getenv("BENCH_FANOUT_SECONDS");
  const char *be = getenv("BENCH_FANOUT_BURST");
  double secs = se ? atof(se) : 2.0;
  uv_loop_t ml;
  uv_thread_t th;
  char conns[128];
  char *tok, *save = NULL;
  struct rlimit rl;
  snprintf(conns, sizeof(conns), "%s", ce ? ce : "1000");
  B.burst = be ? atoi(be) : 8;
  if (B.burst < 1)
    B.burst = 1;
  B.payload = malloc(1024);
  B.frame = malloc(1024 + 4);
  memset(B.payload, 'x', 1024);
  B.socks = NULL;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    rl.rlim_cur = 1u << 20;
  uv_loop_init(&ml);
  printf("fan-out: one publisher, N subscribers, loopback, server on one "
         "thread; %g s per run, window %d, burst %d (messages per loop "
         "turn at most)\n",
         secs, WINDOW, B.burst);
  printf("%-8s %6s %-8s %14s %12s %8s %8s\n", "conns", "bytes", "mode",
         "deliveries/s", "ns CPU/msg", "x hand", "x raw");
  for (tok = strtok_r(conns, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    size_t si;
    B.nconn = atoi(tok);
    if (B.nconn <= 0)
      continue;
    if ((rlim_t)B.nconn * 2 + 64 > rl.rlim_cur) {
      /* Both ends live in this process: two descriptors a connection. */
      int cap = (int)((rl.rlim_cur - 64) / 2);
      printf("(%d connections need %d descriptors, the limit is %lu: "
             "measuring %d)\n",
             B.nconn, B.nconn * 2 + 64, (unsigned long)rl.rlim_cur, cap);
      B.nconn = cap;
    }
    B.socks = realloc(B.socks, (size_t)B.nconn * 2 * sizeof(*B.socks));
    B.raw_conns = realloc(B.raw_conns, (size_t)B.nconn * sizeof(uv_tcp_t));
    atomic_store(&B.ready, 0);
    uv_thread_create(&th, server_thread, NULL);
    while (!atomic_load(&B.ready))
      uv_sleep(1);
    for (si = 0; si < 2; si++) {
      double rate[M_COUNT], cpu[M_COUNT];
      int m;
      for (m = 0; m < M_COUNT; m++)
        run_mode(&ml, m, sizes[si], secs, &rate[m], &cpu[m]);
      for (m = 0; m < M_COUNT; m++)
        printf("%-8d %6zu %-8s %14.0f %12.1f %8.2f %8.2f\n", B.nconn,
               sizes[si], mode_name[m], rate[m], cpu[m],
               rate[m] / rate[M_HAND], rate[m] / rate[M_RAW]);
      fflush(stdout);
    }
    uv_async_send(&B.stop_async);
    uv_thread_join(&th);
  }
  uv_loop_close(&ml);
  free(B.payload);
  free(B.frame);
  free(B.socks);
  free(B.raw_conns);
  return 0;
}
