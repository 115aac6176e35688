/*
 * EventSource on libuv, loopback: the wsx server (HTTP front and adoption)
 * against the wsx client and raw peers. Reconnect with Last-Event-ID,
 * pings, the client going away, flow control and the slow-client limit.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "wsx/eventsource.h"

static struct {
  uv_loop_t loop;
  uv_timer_t guard;
  int timed_out;
  wsx_server *srv;
  int port;
  wsx_eventsource_options eopts;
  int burst; /* server: events per connection (then close) */
  int es_open, es_close, es_drain;
  char seen_ids[8][32]; /* last_event_id of each server connection */
  int c_open, c_msg, c_err, c_reconnect_err, c_close;
  char c_log[1024];
  wsx_eventsource_client *cl;
  int stop_at;         /* client: close after this many messages */
  wsx_eventsource *es; /* the last server EventSource */
  uv_tcp_t raw;        /* raw TCP peer */
  uv_connect_t raw_conn;
  uv_write_t raw_w;
  char raw_in[65536];
  size_t raw_len;
  int raw_pings, raw_read;
} T;

static void guard_cb(uv_timer_t *t) {
  (void)t;
  T.timed_out = 1;
  uv_stop(&T.loop);
}

static void reset(void) {
  memset(&T, 0, sizeof(T));
  T.eopts = (wsx_eventsource_options)WSX_EVENTSOURCE_OPTIONS_INIT;
  uv_loop_init(&T.loop);
  uv_timer_init(&T.loop, &T.guard);
  uv_unref((uv_handle_t *)&T.guard);
}

static void run_for(unsigned ms) {
  /* The loop's clock is only as new as its last iteration: after a long
   * stretch of test code the guard would fire at once, before the I/O and
   * close callbacks the test waits for ever ran. */
  uv_update_time(&T.loop);
  uv_timer_start(&T.guard, guard_cb, ms, 0);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  uv_timer_stop(&T.guard);
}

static void walk_cb(uv_handle_t *h, void *arg) {
  if (h != (uv_handle_t *)&T.guard && !uv_is_closing(h))
    ++*(int *)arg;
}

/* Everything closed: nothing left but the guard. */
static int finish(void) {
  int open = 0;
  uv_walk(&T.loop, walk_cb, &open);
  uv_close((uv_handle_t *)&T.guard, NULL);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  return open == 0 && uv_loop_close(&T.loop) == 0;
}

/* ---- server ---- */

static void es_close_cb(wsx_eventsource *es, void *ud) {
  (void)es;
  (void)ud;
  T.es_close++;
  if (T.es == es)
    T.es = NULL;
}
static void es_drain_cb(wsx_eventsource *es, void *ud) {
  (void)es;
  (void)ud;
  T.es_drain++;
}
static const wsx_eventsource_callbacks ES_CBS = {sizeof(wsx_eventsource_callbacks), es_drain_cb, es_close_cb};

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  int err, last;
  wsx_eventsource *es;
  (void)srv;
  (void)ud;
  if (!wsx_eventsource_is_eventsource(req) ||
      !strcmp(wsx_request_resource(req), "/plain")) {
    wsx_http_res_status(res, 404, NULL);
    wsx_http_res_header(res, "Content-Type", "text/plain");
    wsx_http_res_end(res, "no\n", 3);
    return;
  }
  es = wsx_eventsource_new(req, res, &T.eopts, &ES_CBS, NULL, &err);
  if (!es)
    return;
  T.es = es;
  if (T.es_open < 8)
    snprintf(T.seen_ids[T.es_open], sizeof(T.seen_ids[0]), "%s",
             wsx_eventsource_last_event_id(es));
  T.es_open++;
  last = atoi(wsx_eventsource_last_event_id(es));
  for (int i = 1; i <= T.burst; i++) {
    char id[16], data[64];
    int n = snprintf(data, sizeof(data), "msg %d\nline2\r\nline3", last + i);
    snprintf(id, sizeof(id), "%d", last + i);
    CHECK_INT(
        wsx_eventsource_send(es, data, (size_t)n, i == 2 ? "custom" : NULL, id),
        0);
  }
  if (T.burst)
    CHECK_INT(wsx_eventsource_close(es), 0);
}

static void start_server(void) {
  static const wsx_server_callbacks cbs = {.struct_size = sizeof(wsx_server_callbacks), .http_request = on_http};
  int err;
  T.srv = wsx_server_new(&T.loop, NULL, &cbs, NULL, &err);
  REQUIRE(T.srv);
  REQUIRE(wsx_server_listen(T.srv, "127.0.0.1", 0) == 0);
  T.port = wsx_server_port(T.srv);
}

/* ---- client ---- */

static void c_open(wsx_eventsource_client *c, void *ud) {
  (void)c;
  (void)ud;
  T.c_open++;
}
static void c_msg(wsx_eventsource_client *c, const wsx_eventsource_event *e,
                  void *ud) {
  size_t n = strlen(T.c_log);
  (void)ud;
  snprintf(T.c_log + n, sizeof(T.c_log) - n, "%s:%s:%.*s;", e->type,
           e->last_event_id, (int)e->data_len, e->data);
  if (++T.c_msg == T.stop_at) {
    CHECK_INT(wsx_eventsource_client_close(c), 0);
    CHECK_INT(wsx_eventsource_client_close(c), WSX_E_CLOSED);
    wsx_server_free(T.srv);
  }
}
static void c_err(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                  void *ud) {
  (void)c;
  (void)ud;
  T.c_err++;
  if (e->will_reconnect)
    T.c_reconnect_err++;
}
static void c_close(wsx_eventsource_client *c, void *ud) {
  (void)c;
  (void)ud;
  T.c_close++;
}
static const wsx_eventsource_client_callbacks C_CBS = {sizeof(wsx_eventsource_client_callbacks), c_open, c_msg, c_err,
                                                       c_close};

static wsx_eventsource_client *connect_client(const char *path) {
  char url[128];
  int err;
  wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  o.retry_ms = 5000; /* the server's retry: line must override this */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", T.port, path);
  return wsx_eventsource_client_new(&T.loop, url, &o, &C_CBS, NULL, &err);
}

TEST(reconnect_with_last_event_id) {
  reset();
  T.burst = 3;
  T.eopts.retry_ms = 20;
  T.stop_at = 6;
  start_server();
  T.cl = connect_client("/events");
  REQUIRE(T.cl);
  CHECK_INT(wsx_eventsource_client_ready_state(T.cl), WSX_ES_CONNECTING);
  run_for(5000);
  CHECK(!T.timed_out);
  CHECK_INT(T.es_open, 2);
  CHECK_STR(T.seen_ids[0], "");
  CHECK_STR(T.seen_ids[1], "3");
  CHECK_INT(T.es_close, 2);
  CHECK_INT(T.c_open, 2);
  CHECK_INT(T.c_msg, 6);
  CHECK_INT(T.c_reconnect_err, 1);
  CHECK_INT(T.c_close, 1);
  CHECK_STR(T.c_log,
            "message:1:msg 1\nline2\nline3;custom:2:msg 2\nline2\nline3;"
            "message:3:msg 3\nline2\nline3;message:4:msg 4\nline2\nline3;"
            "custom:5:msg 5\nline2\nline3;message:6:msg 6\nline2\nline3;");
  CHECK(finish());
}

/* A non-200 answer fails the connection: error without reconnect, close. */
TEST(client_fails_on_404) {
  reset();
  start_server();
  T.cl = connect_client("/plain");
  REQUIRE(T.cl);
  run_for(200);
  CHECK_INT(T.c_err, 1);
  CHECK_INT(T.c_reconnect_err, 0);
  CHECK_INT(T.c_close, 1);
  CHECK_INT(T.c_open, 0);
  wsx_server_free(T.srv);
  run_for(2000);
  CHECK(finish());
}

/* ---- raw peer: pings, client going away, flow control ---- */

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  (void)s;
  *b = uv_buf_init(T.raw_in + T.raw_len,
                   (unsigned)(sizeof(T.raw_in) - T.raw_len - 1));
  if (b->len == 0) { /* keep draining: reuse the tail */
    T.raw_len = 0;
    *b = uv_buf_init(T.raw_in, sizeof(T.raw_in) - 1);
  }
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0) {
    uv_close((uv_handle_t *)st, NULL);
    return;
  }
  T.raw_read += (int)n;
  T.raw_len += (size_t)n;
  T.raw_in[T.raw_len] = 0;
  if (T.raw_pings >= 0) {
    char *p = T.raw_in;
    int k = 0;
    while ((p = strstr(p, "\n:\n\n"))) {
      k++;
      p += 3;
    }
    if (k >= 3 && !uv_is_closing((uv_handle_t *)st)) {
      T.raw_pings = k;
      uv_close((uv_handle_t *)st, NULL); /* the client goes away */
    }
  }
}

static void raw_connected(uv_connect_t *c, int status) {
  static char req[] = "GET /ev?lastEventId=41 HTTP/1.1\r\nHost: x\r\n"
                      "Accept: text/event-stream\r\n\r\n";
  uv_buf_t b = uv_buf_init(req, sizeof(req) - 1);
  REQUIRE(status == 0);
  uv_write(&T.raw_w, c->handle, &b, 1, NULL);
  if (T.raw_pings >= 0)
    uv_read_start(c->handle, raw_alloc, raw_read);
}

static void raw_connect(void) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", T.port, &a);
  uv_tcp_init(&T.loop, &T.raw);
  uv_tcp_connect(&T.raw_conn, &T.raw, (const struct sockaddr *)&a,
                 raw_connected);
}

TEST(pings_and_client_gone) {
  reset();
  T.eopts.ping_interval = 10;
  start_server();
  raw_connect();
  run_for(1000); /* ends when the guard fires (the server keeps running) */
  CHECK(T.raw_pings >= 3);
  CHECK_INT(T.es_open, 1);
  CHECK_STR(T.seen_ids[0], "41"); /* from the lastEventId query parameter */
  CHECK(strstr(T.raw_in, "HTTP/1.1 200") == T.raw_in);
  CHECK(strstr(T.raw_in, "Content-Type: text/event-stream\r\n") != NULL);
  CHECK(strstr(T.raw_in, "Cache-Control: no-cache") != NULL);
  CHECK_INT(T.es_close, 1);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

static void fill_until_above(void) {
  static char chunk[8192];
  int rc = 0, n = 0;
  memset(chunk, 'z', sizeof(chunk));
  while (T.es &&
         (rc = wsx_eventsource_send(T.es, chunk, sizeof(chunk), NULL, NULL)) ==
             0 &&
         n++ < 100000)
    ;
  CHECK_INT(rc, 1);
}

static void later_read(uv_timer_t *t) {
  if (T.es) {
    fill_until_above();
    CHECK(wsx_eventsource_buffered_amount(T.es) > 0);
    uv_read_start((uv_stream_t *)&T.raw, raw_alloc, raw_read);
  }
  uv_close((uv_handle_t *)t, NULL);
}

TEST(flow_control_drain) {
  static uv_timer_t t;
  reset();
  T.raw_pings = -1; /* the raw peer does not read at first */
  start_server();
  raw_connect();
  uv_timer_init(&T.loop, &t);
  uv_timer_start(&t, later_read, 100, 0);
  run_for(1000);
  CHECK(T.es_drain >= 1);
  CHECK(T.raw_read > 8192);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

TEST(slow_client_dropped) {
  static char chunk[65536];
  int rc = 0, n = 0;
  reset();
  T.raw_pings = -1; /* never reads */
  T.eopts.max_buffered = 1 << 20;
  start_server();
  raw_connect();
  run_for(200);
  REQUIRE(T.es);
  memset(chunk, 'y', sizeof(chunk));
  /* Over max_buffered the client is dropped: the send that crossed it
   * says so, later sends fail. */
  while ((rc = wsx_eventsource_send(T.es, chunk, sizeof(chunk), NULL, NULL)) >=
             0 &&
         n++ < 2000)
    ;
  CHECK_INT(rc, WSX_E_POLICY);
  CHECK_INT(wsx_eventsource_send(T.es, "x", 1, NULL, NULL), WSX_E_CLOSED);
  run_for(4000); /* the transport flushes for at most its linger time */
  CHECK_INT(T.es_close, 1);
  if (!uv_is_closing((uv_handle_t *)&T.raw))
    uv_close((uv_handle_t *)&T.raw, NULL);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

/* A slow reader on the HTTP front is cut off the moment it passes
 * max_buffered (its unsent bytes are dropped, not flushed for the linger
 * time), the server holds no more than that, and another client carries
 * on. */
TEST(slow_client_dropped_at_once) {
  static char chunk[65536];
  wsx_eventsource *slow, *fast;
  size_t peak = 0;
  int rc = 0, n = 0;
  reset();
  T.raw_pings = -1; /* never reads */
  T.eopts.max_buffered = 1 << 20;
  start_server();
  raw_connect();
  run_for(200);
  REQUIRE((slow = T.es) != NULL);
  T.cl = connect_client("/ev");
  REQUIRE(T.cl);
  run_for(200);
  REQUIRE(T.c_open == 1 && T.es != slow);
  fast = T.es;
  memset(chunk, 'y', sizeof(chunk));
  while ((rc = wsx_eventsource_send(slow, chunk, sizeof(chunk), NULL, NULL)) >=
             0 &&
         n++ < 2000) {
    size_t b = wsx_eventsource_buffered_amount(slow);
    if (b > peak)
      peak = b;
  }
  CHECK_INT(rc, WSX_E_POLICY);
  CHECK_INT(wsx_eventsource_send(slow, "x", 1, NULL, NULL), WSX_E_CLOSED);
  /* Bounded: at most max_buffered plus the event that crossed it. */
  CHECK(peak <= ((size_t)1 << 20) + sizeof(chunk) + 64);
  run_for(50); /* far below the 2 s linger of an ended response */
  CHECK_INT(T.es_close, 1);
  CHECK_INT((int)wsx_server_connection_count(T.srv), 1);
  CHECK_INT(wsx_eventsource_send(fast, "still here", 10, NULL, "7"), 0);
  T.stop_at = 1; /* the client closes and frees the server */
  run_for(1000);
  CHECK_STR(T.c_log, "message:7:still here;");
  CHECK_INT(T.c_close, 1);
  if (!uv_is_closing((uv_handle_t *)&T.raw))
    uv_close((uv_handle_t *)&T.raw, NULL);
  run_for(3000);
  CHECK_INT(T.es_close, 2);
  CHECK(finish());
}

/* high_water_mark applies on the HTTP front: send() returns 1 above it. */
TEST(front_high_water_mark) {
  reset();
  T.raw_pings = -1;
  T.eopts.high_water_mark = (size_t)1 << 30; /* far above the socket's */
  start_server();
  raw_connect();
  run_for(200);
  REQUIRE(T.es);
  {
    static char chunk[65536];
    int rc, i;
    memset(chunk, 'q', sizeof(chunk));
    /* 16 MiB unread (more than loopback socket buffers take): far above
     * the server's 16 KiB default, below our mark. */
    for (i = 0; i < 256; i++)
      if ((rc = wsx_eventsource_send(T.es, chunk, sizeof(chunk), NULL, NULL)) !=
          0)
        break;
    CHECK_INT(i, 256);
    CHECK(wsx_eventsource_buffered_amount(T.es) > 16384);
  }
  uv_close((uv_handle_t *)&T.raw, NULL);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK_INT(T.es_close, 1);
  CHECK(finish());
}

/* ---- adoption over a socketpair ---- */

static void adopted_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0)
    return;
  T.raw_len += (size_t)n;
  T.raw_in[T.raw_len] = 0;
  if (strstr(T.raw_in, "data: bye\n\n") && !uv_is_closing((uv_handle_t *)st))
    uv_close((uv_handle_t *)st, NULL);
}

TEST(adopt_stream) {
  static char head[] = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n"
                       "Accept: text/event-stream\r\nLast-Event-ID: 9\r\n\r\n";
  wsx_header hdrs[8];
  wsx_http_request req;
  wsx_http_state st = {0};
  uv_pipe_t ours, peer;
  int fds[2], err;
  wsx_header cors = {"Access-Control-Allow-Origin", 27, "*", 1};
  wsx_eventsource_options o = WSX_EVENTSOURCE_OPTIONS_INIT;
  wsx_eventsource *es;
  reset();
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  uv_pipe_init(&T.loop, &ours, 0);
  uv_pipe_init(&T.loop, &peer, 0);
  REQUIRE(uv_pipe_open(&ours, fds[0]) == 0);
  REQUIRE(uv_pipe_open(&peer, fds[1]) == 0);
  REQUIRE(wsx_http_parse_request(head, sizeof(head) - 1, &req, hdrs, 8, 0, &st,
                                 NULL) > 0);
  o.headers = &cors;
  o.num_headers = 1;
  o.retry_ms = 1500;
  es = wsx_eventsource_adopt(&T.loop, (uv_stream_t *)&ours, &req, &o, &ES_CBS,
                             NULL, &err);
  REQUIRE(es);
  CHECK_STR(wsx_eventsource_url(es), "/a?b=1");
  CHECK_STR(wsx_eventsource_last_event_id(es), "9");
  CHECK_INT(wsx_eventsource_send(es, "hi", 2, "greet", "10"), 0);
  CHECK_INT(wsx_eventsource_send(es, "x", 1, "bad\nname", NULL), WSX_E_INVALID);
  CHECK_INT(wsx_eventsource_ping(es), 0);
  CHECK_INT(wsx_eventsource_send(es, "bye", 3, NULL, NULL), 0);
  CHECK_INT(wsx_eventsource_close(es), 0);
  CHECK_INT(wsx_eventsource_send(es, "late", 4, NULL, NULL), WSX_E_CLOSED);
  uv_read_start((uv_stream_t *)&peer, raw_alloc, adopted_read);
  run_for(3000);
  CHECK_INT(T.es_close, 1);
  CHECK_STR(T.raw_in,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Cache-Control: no-cache, no-store\r\nConnection: close\r\n"
            "Access-Control-Allow-Origin: *\r\n\r\nretry: 1500\n\n"
            "event: greet\nid: 10\ndata: hi\n\n:\n\ndata: bye\n\n");
  CHECK(uv_is_closing((uv_handle_t *)&ours)); /* wsx closed it */
  if (!uv_is_closing((uv_handle_t *)&peer))
    uv_close((uv_handle_t *)&peer, NULL);
  run_for(1000);
  CHECK(finish());
}

/* Adopted streams: drain under the high-water mark, then the hard limit. */
static struct {
  uv_pipe_t ours, peer;
  uv_timer_t t;
  wsx_eventsource *es;
  int drained, closed, sends_after_drain;
  size_t got;
} A;

static void a_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0) {
    if (!uv_is_closing((uv_handle_t *)st))
      uv_close((uv_handle_t *)st, NULL);
    return;
  }
  A.got += (size_t)n;
}

static void a_drain(wsx_eventsource *es, void *ud) {
  static char big[65536];
  int rc = 0;
  (void)ud;
  A.drained++;
  /* Now the peer stops reading and the server keeps sending: dropped. */
  uv_read_stop((uv_stream_t *)&A.peer);
  while ((rc = wsx_eventsource_send(es, big, sizeof(big), NULL, NULL)) >= 0 &&
         A.sends_after_drain < 1000)
    A.sends_after_drain++;
  CHECK_INT(rc, WSX_E_POLICY); /* the send that crossed max_buffered */
  CHECK_INT(wsx_eventsource_send(es, "x", 1, NULL, NULL), WSX_E_CLOSED);
}

static void a_close(wsx_eventsource *es, void *ud) {
  (void)es;
  (void)ud;
  A.closed++;
  uv_close((uv_handle_t *)&A.peer, NULL);
}

static void a_start_reading(uv_timer_t *t) {
  uv_read_start((uv_stream_t *)&A.peer, raw_alloc, a_read);
  uv_close((uv_handle_t *)t, NULL);
}

TEST(adopt_flow_control) {
  static char head[] = "GET / HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n";
  static const wsx_eventsource_callbacks cbs = {sizeof(wsx_eventsource_callbacks), a_drain, a_close};
  static char chunk[4096];
  wsx_header hdrs[4];
  wsx_http_request req;
  wsx_http_state st = {0};
  wsx_eventsource_options o = WSX_EVENTSOURCE_OPTIONS_INIT;
  int fds[2], err, rc = 0, n = 0;
  reset();
  memset(&A, 0, sizeof(A));
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  uv_pipe_init(&T.loop, &A.ours, 0);
  uv_pipe_init(&T.loop, &A.peer, 0);
  REQUIRE(uv_pipe_open(&A.ours, fds[0]) == 0);
  REQUIRE(uv_pipe_open(&A.peer, fds[1]) == 0);
  REQUIRE(wsx_http_parse_request(head, sizeof(head) - 1, &req, hdrs, 4, 0, &st,
                                 NULL) > 0);
  o.high_water_mark = 1024;
  o.max_buffered = 256 * 1024;
  A.es = wsx_eventsource_adopt(&T.loop, (uv_stream_t *)&A.ours, &req, &o, &cbs,
                               NULL, &err);
  REQUIRE(A.es);
  while ((rc = wsx_eventsource_send(A.es, chunk, sizeof(chunk), NULL, NULL)) ==
             0 &&
         n++ < 10000)
    ;
  CHECK_INT(rc, 1);
  CHECK(wsx_eventsource_buffered_amount(A.es) > 1024);
  uv_timer_init(&T.loop, &A.t);
  uv_timer_start(&A.t, a_start_reading, 50, 0);
  run_for(5000);
  CHECK_INT(A.drained, 1);
  CHECK(A.sends_after_drain >= 1);
  CHECK_INT(A.closed, 1);
  CHECK(finish());
}

/* ---- the client against a scripted raw HTTP server ---- */

enum { M_CHUNKED, M_SILENT, M_HUGE, M_CLEN };

static struct {
  uv_tcp_t lis;
  uv_tcp_t conn[4];
  int nconn, mode, port;
  char req[4][512];
  size_t req_len[4];
  int err_code[4], err_status[4], err_reconnect[4], nerr;
  int opened, closed;
  uint32_t retry; /* the client's reconnection time at close */
  char log[256];
} R;

static uv_write_t rw[16];
static int rwn;

static void rwrite(uv_stream_t *st, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  uv_write(&rw[rwn++ % 16], st, &b, 1, NULL);
}
#define RWRITE(st, lit) rwrite(st, lit, sizeof(lit) - 1)

static void r_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  static char buf[512];
  (void)h;
  (void)sz;
  *b = uv_buf_init(buf, sizeof(buf));
}

static void r_respond(uv_stream_t *st, int i) {
  static char huge[3000];
  if (i > 0 && R.mode != M_SILENT) {
    RWRITE(st, "HTTP/1.1 204 No Content\r\n\r\n");
    return;
  }
  switch (R.mode) {
  case M_CHUNKED:
    RWRITE(st, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;"
               " charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n");
    /* BOM first; CR at a chunk's end, its LF in the next chunk. */
    RWRITE(st, "11\r\n\xEF\xBB\xBFretry: 10\n\n:c\r\r\n");
    RWRITE(st, "7\r\n\nid: 7\r\r\n");
    RWRITE(st, "9\r\n\ndata: a\r\r\n");
    RWRITE(st, "3\r\n\n\r\n\r\n0\r\n\r\n");
    break;
  case M_HUGE:
    memset(huge, 'h', sizeof(huge));
    memcpy(huge, "data: ", 6);
    RWRITE(st, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
    rwrite(st, huge, sizeof(huge));
    break;
  case M_CLEN: /* the stream ends with the body, not with the connection */
    RWRITE(st, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               "Content-Length: 15\r\n\r\nid: 1\ndata: x\n\n");
    break;
  default:
    break;
  }
}

static void r_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  int i = (int)((uv_tcp_t *)st - R.conn);
  if (n < 0) {
    if (!uv_is_closing((uv_handle_t *)st))
      uv_close((uv_handle_t *)st, NULL);
    return;
  }
  if (R.req_len[i] + (size_t)n < sizeof(R.req[i])) {
    memcpy(R.req[i] + R.req_len[i], b->base, (size_t)n);
    R.req_len[i] += (size_t)n;
    if (strstr(R.req[i], "\r\n\r\n"))
      r_respond(st, i);
  }
}

static void r_conn(uv_stream_t *lis, int status) {
  uv_tcp_t *c;
  if (status < 0 || R.nconn >= 4)
    return;
  c = &R.conn[R.nconn++];
  uv_tcp_init(&T.loop, c);
  if (uv_accept(lis, (uv_stream_t *)c) == 0)
    uv_read_start((uv_stream_t *)c, r_alloc, r_read);
}

static void r_start(int mode) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  memset(&R, 0, sizeof(R));
  R.mode = mode;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&T.loop, &R.lis);
  uv_tcp_bind(&R.lis, (const struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&R.lis, 8, r_conn);
  uv_tcp_getsockname(&R.lis, (struct sockaddr *)&ss, &len);
  R.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void r_stop(void) {
  uv_close((uv_handle_t *)&R.lis, NULL);
  for (int i = 0; i < R.nconn; i++)
    if (!uv_is_closing((uv_handle_t *)&R.conn[i]))
      uv_close((uv_handle_t *)&R.conn[i], NULL);
}

static void rc_open(wsx_eventsource_client *c, void *ud) {
  (void)c;
  (void)ud;
  R.opened++;
}
static void rc_msg(wsx_eventsource_client *c, const wsx_eventsource_event *e,
                   void *ud) {
  size_t n = strlen(R.log);
  (void)c;
  (void)ud;
  snprintf(R.log + n, sizeof(R.log) - n, "%s:%s:%.*s;", e->type,
           e->last_event_id, (int)e->data_len, e->data);
}
static void rc_err(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                   void *ud) {
  (void)ud;
  if (R.nerr < 4) {
    R.err_code[R.nerr] = e->code;
    R.err_status[R.nerr] = e->status_code;
    R.err_reconnect[R.nerr] = e->will_reconnect;
  }
  R.nerr++;
  if (R.mode == M_SILENT)
    wsx_eventsource_client_close(c);
  if (!e->will_reconnect)
    CHECK_INT(wsx_eventsource_client_ready_state(c), WSX_ES_CLOSED);
}
static void rc_close(wsx_eventsource_client *c, void *ud) {
  (void)ud;
  R.closed++;
  R.retry = wsx_eventsource_client_retry(c);
  r_stop();
}

static wsx_eventsource_client *r_client(uint32_t timeout, size_t max) {
  static const wsx_eventsource_client_callbacks cbs = {sizeof(wsx_eventsource_client_callbacks), rc_open, rc_msg, rc_err,
                                                       rc_close};
  wsx_header h = {"X-Test", 6, "1", 1};
  wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  char url[96];
  int err;
  o.retry_ms = 2000; /* M_CHUNKED's retry: 10 must override it */
  o.connect_timeout = timeout;
  o.max_event_size = max;
  o.headers = &h;
  o.num_headers = 1;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/s?x=1", R.port);
  return wsx_eventsource_client_new(&T.loop, url, &o, &cbs, NULL, &err);
}

TEST(client_chunked_bom_split_crlf_then_204) {
  reset();
  r_start(M_CHUNKED);
  REQUIRE(r_client(0, 0));
  run_for(3000);
  CHECK_INT(R.opened, 1);
  CHECK_STR(R.log, "message:7:a;");
  CHECK_INT(R.retry, 10); /* the server's retry: replaced 2000 */
  CHECK(strstr(R.req[0], "GET /s?x=1 HTTP/1.1\r\n") == R.req[0]);
  CHECK(strstr(R.req[0], "Accept: text/event-stream\r\n") != NULL);
  CHECK(strstr(R.req[0], "Cache-Control: no-cache\r\n") != NULL);
  CHECK(strstr(R.req[0], "X-Test: 1\r\n") != NULL);
  CHECK(strstr(R.req[0], "Last-Event-ID") == NULL);
  CHECK(strstr(R.req[1], "Last-Event-ID: 7\r\n") != NULL);
  CHECK_INT(R.nerr, 2);
  CHECK_INT(R.err_code[0], WSX_E_CLOSED); /* end of the chunked body */
  CHECK_INT(R.err_reconnect[0], 1);
  CHECK_INT(R.err_status[1], 204);
  CHECK_INT(R.err_reconnect[1], 0);
  CHECK_INT(R.closed, 1);
  CHECK(finish());
}

TEST(client_connect_timeout) {
  reset();
  r_start(M_SILENT);
  REQUIRE(r_client(50, 0));
  run_for(3000);
  CHECK_INT(R.nerr, 1);
  CHECK_INT(R.err_code[0], WSX_E_TIMEOUT);
  CHECK_INT(R.err_reconnect[0], 1);
  CHECK_INT(R.closed, 1);
  CHECK(finish());
}

TEST(client_event_size_limit) {
  reset();
  r_start(M_HUGE);
  REQUIRE(r_client(0, 1024));
  run_for(3000);
  CHECK_INT(R.opened, 1);
  CHECK_INT(R.nerr, 1);
  CHECK_INT(R.err_code[0], WSX_E_TOO_BIG);
  CHECK_INT(R.err_reconnect[0], 0);
  CHECK_INT(R.closed, 1);
  CHECK(finish());
}

TEST(client_content_length_body) {
  reset();
  r_start(M_CLEN);
  REQUIRE(r_client(0, 0));
  run_for(5000); /* reconnects after the default-overridden 2 s */
  CHECK_STR(R.log, "message:1:x;");
  CHECK(strstr(R.req[1], "Last-Event-ID: 1\r\n") != NULL);
  CHECK_INT(R.nerr, 2);
  CHECK_INT(R.err_status[1], 204);
  CHECK_INT(R.closed, 1);
  CHECK(finish());
}

TEST(bad_arguments) {
  int err = 0;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
    wsx_tls_client_options to = WSX_TLS_CLIENT_OPTIONS_INIT;
    to.ca_file = "/nonexistent/ca.pem";
    o.tls = &to;
    CHECK(!wsx_eventsource_client_new(&loop, "https://127.0.0.1/", &o, NULL,
                                      NULL, &err));
    CHECK_INT(err, WSX_E_TLS);
    CHECK(strstr(wsx_tls_last_error(), "/nonexistent/ca.pem") != NULL);
  }
  CHECK(!wsx_eventsource_client_new(&loop, "ws://127.0.0.1/", NULL, NULL, NULL,
                                    &err));
  CHECK_INT(err, WSX_E_URL);
  CHECK(!wsx_eventsource_client_new(&loop, "nope", NULL, NULL, NULL, &err));
  CHECK_INT(err, WSX_E_URL);
  CHECK(!wsx_eventsource_new(NULL, NULL, NULL, NULL, NULL, &err));
  CHECK_INT(err, WSX_E_INVALID);
  CHECK_INT(uv_loop_close(&loop), 0);
}

TEST_MAIN(RUN(reconnect_with_last_event_id); RUN(client_fails_on_404);
          RUN(pings_and_client_gone); RUN(flow_control_drain);
          RUN(slow_client_dropped); RUN(slow_client_dropped_at_once);
          RUN(front_high_water_mark); RUN(adopt_stream);
          RUN(adopt_flow_control); RUN(client_chunked_bom_split_crlf_then_204);
          RUN(client_connect_timeout); RUN(client_event_size_limit);
          RUN(client_content_length_body); RUN(bad_arguments))
