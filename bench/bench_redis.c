/*
 * bench_redis: cross-node latency through the Redis backplane (issue 11).
 * Starts its own redis-server on a free loopback port (stopped by its PID
 * at the end), two wsx servers (nodes A and B), each with its own Redis
 * backplane on one channel, and one WebSocket client subscribed on B.
 * A publishes at a steady 1,000 messages/s (each carries its send time);
 * every message goes A -> Redis -> B -> the client, which records the
 * latency. Prints the count received and p50 / p99 / max in microseconds.
 *
 * Node A and the client run on the main thread's loop, node B on a second
 * thread with its own loop (topics are per loop: two servers on one loop
 * would share their subscribers). The figure is the path's latency on an
 * otherwise idle process: a pub/sub message through Redis (publish in,
 * message out) plus a WebSocket hop, on loopback.
 *
 * Env: BENCH_REDIS_SECONDS (default 5), BENCH_REDIS_RATE (default 1000
 * messages/s), REDIS_SERVER (default "redis-server", found on PATH).
 * Skips (exit 0, a "skip" line) without hiredis or without redis-server.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "wsx/backplane.h"

static struct {
  uv_loop_t loop;
  uv_process_t redis;
  int redis_alive;
  wsx_server *a;
  wsx_backplane *bpa;
  int up_a;
  wsx_socket *cli;
  int opened;
  /* node B, on its own thread */
  uv_loop_t bloop;
  uv_thread_t bthread;
  uv_async_t bstop;
  uv_timer_t bfree;
  wsx_server *b;
  wsx_backplane *bpb;
  const char *url;
  atomic_int b_ready; /* 1 set up, -1 failed */
  atomic_int up_b, subscribed, b_port;
  uv_timer_t tick;
  uint64_t t0;
  unsigned long sent, target_total, rate;
  unsigned long got, warm;
  uint64_t *lat; /* ns */
  size_t nlat, cap;
} R;

static void on_redis_exit(uv_process_t *p, int64_t status, int sig) {
  (void)status, (void)sig;
  R.redis_alive = 0;
  uv_close((uv_handle_t *)p, NULL);
}

static void on_status(wsx_backplane *bp, int up, const char *msg, void *ud) {
  (void)msg, (void)ud;
  if (bp == R.bpa)
    R.up_a = up;
  else
    atomic_store(&R.up_b, up);
}

static void b_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  if (wsx_socket_subscribe(s, "lat", 3) == WSX_OK)
    atomic_store(&R.subscribed, 1);
}

static void c_open(wsx_socket *s, void *ud) {
  (void)s, (void)ud;
  R.opened = 1;
}

static void c_message(wsx_socket *s, const wsx_message *m, void *ud) {
  uint64_t t, now = uv_hrtime();
  (void)s, (void)ud;
  if (m->len < 9)
    return;
  memcpy(&t, m->data + 1, sizeof(t));
  if (m->data[0] == 'w') { /* warm-up */
    R.warm++;
    return;
  }
  R.got++;
  if (R.nlat < R.cap)
    R.lat[R.nlat++] = now - t;
}

static void publish_one(char kind) {
  uint8_t msg[16];
  uint64_t now = uv_hrtime();
  msg[0] = (uint8_t)kind;
  memcpy(msg + 1, &now, sizeof(now));
  memset(msg + 9, 0, sizeof(msg) - 9);
  (void)wsx_server_publish(R.a, "lat", 3, msg, sizeof(msg), WSX_OP_BINARY,
                           0);
}

/* Keeps the average at `rate`: as many messages as the elapsed time owes
 * (a late timer catches up). */
static void on_tick(uv_timer_t *t) {
  uint64_t el = uv_hrtime() - R.t0;
  unsigned long owed = (unsigned long)(el * R.rate / 1000000000u);
  (void)t;
  if (owed > R.target_total)
    owed = R.target_total;
  while (R.sent < owed) {
    publish_one('m');
    R.sent++;
  }
  if (R.sent >= R.target_total)
    uv_timer_stop(&R.tick);
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

/* Runs the loop until cond or ms pass. */
#define RUN_UNTIL(cond, ms)                                                    \
  do {                                                                         \
    uint64_t end_ = uv_hrtime() + (uint64_t)(ms) * 1000000u;                   \
    while (!(cond) && uv_hrtime() < end_)                                      \
      uv_run(&R.loop, UV_RUN_NOWAIT), uv_sleep(1);                             \
  } while (0)

static int free_port(void) {
  uv_tcp_t t;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss), port = -1;
  uv_tcp_init(&R.loop, &t);
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_tcp_bind(&t, (const struct sockaddr *)&a, 0) == 0 &&
      uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len) == 0)
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&R.loop, UV_RUN_NOWAIT);
  return port;
}

static int start_redis(int port) {
  const char *bin = getenv("REDIS_SERVER");
  char ports[16];
  char *args[] = {NULL,         "--port",       ports, "--bind",
                  "127.0.0.1",  "--save",       "",    "--appendonly",
                  "no",         "--daemonize",  "no",  "--loglevel",
                  "warning",    NULL};
  uv_process_options_t o;
  uv_stdio_container_t io[3];
  int rc;
  snprintf(ports, sizeof(ports), "%d", port);
  args[0] = (char *)(bin ? bin : "redis-server");
  memset(&o, 0, sizeof(o));
  io[0].flags = UV_IGNORE;
  io[1].flags = UV_IGNORE;
  io[2].flags = UV_INHERIT_FD;
  io[2].data.fd = 2;
  o.file = args[0];
  o.args = args;
  o.exit_cb = on_redis_exit;
  o.stdio = io;
  o.stdio_count = 3;
  if ((rc = uv_spawn(&R.loop, &R.redis, &o)) < 0)
    return rc;
  R.redis_alive = 1;
  return 0;
}

static wsx_server *server(uv_loop_t *loop, const wsx_server_callbacks *cb) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server *s;
  o.auto_accept = 1;
  s = wsx_server_new(loop, &o, cb, NULL, NULL);
  if (s && wsx_server_listen(s, "127.0.0.1", 0) < 0) {
    wsx_server_free(s);
    s = NULL;
  }
  return s;
}

static wsx_backplane *backplane(uv_loop_t *loop, const char *url) {
  wsx_redis_options o = WSX_REDIS_OPTIONS_INIT;
  wsx_backplane_callbacks cb = WSX_BACKPLANE_CALLBACKS_INIT;
  o.url = url;
  o.channel = "wsx-bench";
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 200;
  cb.status = on_status;
  return wsx_redis_backplane_new(loop, &o, &cb, NULL, NULL);
}

/* ---- node B's thread ---- */

static void b_closed(uv_handle_t *h) { (void)h; }
static void on_bfree(uv_timer_t *t) {
  if (R.bpb)
    wsx_backplane_free(R.bpb); /* after its server */
  uv_close((uv_handle_t *)t, b_closed);
  uv_close((uv_handle_t *)&R.bstop, b_closed);
}
static void on_bstop(uv_async_t *a) {
  (void)a;
  if (R.b)
    wsx_server_free(R.b); /* closes its connections */
  uv_timer_start(&R.bfree, on_bfree, 200, 0);
}
static void b_thread(void *arg) {
  wsx_server_callbacks bcb = WSX_SERVER_CALLBACKS_INIT;
  (void)arg;
  bcb.connection = b_connection;
  uv_loop_init(&R.bloop);
  uv_async_init(&R.bloop, &R.bstop, on_bstop);
  uv_timer_init(&R.bloop, &R.bfree);
  R.b = server(&R.bloop, &bcb);
  R.bpb = backplane(&R.bloop, R.url);
  if (!R.b || !R.bpb || wsx_backplane_attach_server(R.bpb, R.b) < 0) {
    atomic_store(&R.b_ready, -1);
  } else {
    atomic_store(&R.b_port, wsx_server_port(R.b));
    atomic_store(&R.b_ready, 1);
  }
  uv_run(&R.bloop, UV_RUN_DEFAULT);
  uv_loop_close(&R.bloop);
}

int main(void) {
  static const wsx_socket_callbacks ccb = {
      .struct_size = sizeof(wsx_socket_callbacks),
      .open = c_open,
      .message = c_message};
  wsx_server_callbacks acb = WSX_SERVER_CALLBACKS_INIT;
  const char *se = getenv("BENCH_REDIS_SECONDS");
  const char *re = getenv("BENCH_REDIS_RATE");
  double secs = se ? atof(se) : 5.0;
  char url[64], wsurl[64];
  int port, rc, status = 1, b_started = 0;
  uint64_t w0;
  R.rate = re ? strtoul(re, NULL, 10) : 1000;
  if (!R.rate || secs <= 0)
    R.rate = 1000, secs = 5.0;
  if (!wsx_redis_available()) {
    printf("skip bench_redis: built without hiredis\n");
    return 0;
  }
  uv_loop_init(&R.loop);
  if ((port = free_port()) < 0 || (rc = start_redis(port)) < 0) {
    printf("skip bench_redis: cannot start redis-server (%s); "
           "scripts/install-deps.sh installs it\n",
           port < 0 ? "no port" : uv_strerror(rc));
    uv_run(&R.loop, UV_RUN_DEFAULT);
    uv_loop_close(&R.loop);
    return 0;
  }
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  R.url = url;
  R.a = server(&R.loop, &acb);
  R.bpa = backplane(&R.loop, url);
  if (!R.a || !R.bpa || wsx_backplane_attach_server(R.bpa, R.a) < 0 ||
      uv_thread_create(&R.bthread, b_thread, NULL) < 0) {
    fprintf(stderr, "bench_redis: setup failed\n");
    goto out;
  }
  b_started = 1;
  RUN_UNTIL(atomic_load(&R.b_ready) != 0, 5000);
  if (atomic_load(&R.b_ready) != 1) {
    fprintf(stderr, "bench_redis: node B setup failed\n");
    goto out;
  }
  RUN_UNTIL(R.up_a && atomic_load(&R.up_b), 10000);
  if (!R.up_a || !atomic_load(&R.up_b)) {
    fprintf(stderr, "bench_redis: the backplanes did not connect\n");
    goto out;
  }
  snprintf(wsurl, sizeof(wsurl), "ws://127.0.0.1:%d/",
           atomic_load(&R.b_port));
  R.cli = wsx_socket_connect(&R.loop, wsurl, NULL, &ccb, NULL, NULL);
  RUN_UNTIL(R.opened && atomic_load(&R.subscribed), 5000);
  if (!R.opened || !atomic_load(&R.subscribed)) {
    fprintf(stderr, "bench_redis: the client did not connect\n");
    goto out;
  }
  /* Warm-up: until messages make it through the bus. */
  w0 = uv_hrtime();
  while (!R.warm && uv_hrtime() - w0 < 5000000000u) {
    publish_one('w');
    RUN_UNTIL(R.warm, 50);
  }
  if (!R.warm) {
    fprintf(stderr, "bench_redis: nothing came through Redis\n");
    goto out;
  }
  R.target_total = (unsigned long)(secs * (double)R.rate);
  R.cap = R.target_total;
  R.lat = malloc(R.cap * sizeof(*R.lat));
  if (!R.lat)
    goto out;
  uv_timer_init(&R.loop, &R.tick);
  R.t0 = uv_hrtime();
  uv_timer_start(&R.tick, on_tick, 1, 1);
  while (R.sent < R.target_total)
    uv_run(&R.loop, UV_RUN_ONCE);
  RUN_UNTIL(R.got >= R.sent, 2000);
  uv_close((uv_handle_t *)&R.tick, NULL);
  if (R.nlat) {
    qsort(R.lat, R.nlat, sizeof(*R.lat), cmp_u64);
    printf("redis backplane, node A -> redis-server -> node B (own "
           "thread) -> client, loopback:\n");
    printf("  %lu messages at %lu/s, %lu received, latency p50 %.0f us, "
           "p99 %.0f us, max %.0f us\n",
           R.sent, R.rate, R.got, (double)R.lat[R.nlat / 2] / 1e3,
           (double)R.lat[R.nlat * 99 / 100] / 1e3,
           (double)R.lat[R.nlat - 1] / 1e3);
    status = 0;
  }
out:
  if (R.cli)
    wsx_socket_close(R.cli, 0, NULL);
  if (R.a)
    wsx_server_free(R.a);
  if (b_started) {
    if (atomic_load(&R.b_ready) != 0) {
      uv_async_send(&R.bstop);
      RUN_UNTIL(0, 300); /* this loop serves the client's close */
    }
    uv_thread_join(&R.bthread);
  }
  RUN_UNTIL(0, 200); /* the server closes its connections */
  if (R.bpa)
    wsx_backplane_free(R.bpa);
  if (R.redis_alive)
    uv_process_kill(&R.redis, SIGTERM); /* by its PID */
  uv_run(&R.loop, UV_RUN_DEFAULT);
  uv_loop_close(&R.loop);
  free(R.lat);
  return status;
}
