/*
 * Topics (wsx/pubsub.h) on one loop, over loopback: subscribe / unsubscribe
 * / topic lists and publish counts; a slow subscriber dropped (1008) in the
 * middle of a publication while the others get every message in order;
 * allocation counting that proves one frame buffer per publication (also
 * when every subscriber's kernel buffer is full, where a hand broadcast
 * copies the message once per socket); permessage-deflate subscribers with
 * and without context takeover; a burst queued until the loop turn's
 * flush, in order with the socket's own sends; sockets closing with
 * publications queued.
 */
#include "test_uv_util.h"
#include "wsx/extension.h"
#include "wsx/backplane.h"
#include "wsx/pubsub.h"

#define NCLI 8

/* ---- counting allocator (the server's: it is the loop context's) ---- */
static struct {
  size_t calls, big, small;
  size_t big_min; /* allocations of at least this many bytes are "big" */
} A;
static void count(size_t n) {
  A.calls++;
  if (n >= A.big_min)
    A.big++;
  else
    A.small++;
}
static void *c_malloc(size_t n, void *ud) {
  (void)ud;
  count(n);
  return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  count(n);
  return realloc(p, n);
}
static void c_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};
static void count_reset(size_t big_min) {
  memset(&A, 0, sizeof(A));
  A.big_min = big_min;
}

/* ---- clients: messages carry a sequence number "n:..." ---- */
typedef struct cli {
  wsx_socket *s;
  int open, closed, msgs, bad_order, close_code;
  long next; /* expected sequence number */
  char last[64];
} cli;
static cli C[NCLI];
static wsx_socket *S[NCLI + 4]; /* server sockets, in connection order */
static int nS;

static void c_open(wsx_socket *s, void *ud) {
  (void)s;
  ((cli *)ud)->open = 1;
}
static void c_msg(wsx_socket *s, const wsx_message *m, void *ud) {
  cli *c = ud;
  long seq = 0;
  size_t i;
  (void)s;
  /* "N:..." (the payload is not NUL-terminated) */
  for (i = 0; i < m->len && m->data[i] >= '0' && m->data[i] <= '9'; i++)
    seq = seq * 10 + (m->data[i] - '0');
  if (seq != c->next)
    c->bad_order++;
  c->next = seq + 1;
  c->msgs++;
  snprintf(c->last, sizeof(c->last), "%.*s", (int)(m->len < 63 ? m->len : 63),
           (const char *)m->data);
}
static void c_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s;
  ((cli *)ud)->closed = 1;
  ((cli *)ud)->close_code = e->code;
}
static const wsx_socket_callbacks cli_cbs = {
    .struct_size = sizeof(wsx_socket_callbacks),
    .open = c_open,
    .message = c_msg,
    .close = c_close};

/* Server sockets: subscribe to "all" on connection. */
static int srv_closes, srv_errors, err_code;
static wsx_socket *dropped_sock;
static int resub_rc = 99, unsub_rc = 99;
static void s_error(wsx_socket *s, const wsx_error_event *e, void *ud) {
  (void)ud;
  srv_errors++;
  err_code = e->code;
  /* Inside a publication, about to close: no new topic; leaving one
   * while the publication walks it is safe. */
  dropped_sock = s;
  resub_rc = wsx_socket_subscribe(s, "all", 3);
  unsub_rc = wsx_socket_unsubscribe(s, "all", 3);
}
static void s_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)e, (void)ud;
  for (int i = 0; i < nS; i++)
    if (S[i] == s)
      S[i] = NULL;
  srv_closes++;
}
static const wsx_socket_callbacks srv_cbs = {
    .struct_size = sizeof(wsx_socket_callbacks),
    .error = s_error,
    .close = s_close};
static void s_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  if (nS < NCLI + 4)
    S[nS++] = s;
  (void)wsx_socket_subscribe(s, "all", 3);
}

static wsx_driver_options srv_do;
static wsx_socket_options srv_so;
static void setup(size_t max_buffered, wsx_extension *const *exts) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  int err;
  ev_reset();
  memset(C, 0, sizeof(C));
  memset(S, 0, sizeof(S));
  nS = srv_closes = srv_errors = err_code = 0;
  dropped_sock = NULL;
  srv_do = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  srv_do.allocator = &counting;
  srv_so = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  srv_so.driver = &srv_do;
  srv_so.max_buffered = max_buffered;
  srv_so.extensions = exts;
  o.socket = &srv_so;
  o.auto_accept = 1;
  cb.connection = s_connection;
  cb.socket = &srv_cbs;
  cb.closed = srv_on_closed;
  /* First object on the loop: its allocator serves the loop's context. */
  T.srv = wsx_server_new(&T.loop, &o, &cb, NULL, &err);
  if (T.srv && wsx_server_listen(T.srv, "127.0.0.1", 0) == 0)
    T.port = wsx_server_port(T.srv);
}

static int opened(int from, int to) {
  int i, n = 0;
  for (i = from; i < to; i++)
    n += C[i].open;
  return n == to - from;
}

static int finished(int n) {
  int i, k = 0;
  for (i = 0; i < n; i++)
    k += C[i].closed || !C[i].s;
  return k == n;
}

/* Connects clients C[from..to) and waits for them and their server side. */
static int connect_range(int from, int to, const wsx_socket_options *co) {
  char url[64];
  int i, want = nS;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  for (i = from; i < to; i++) { /* one at a time: S[k] is C[k]'s peer */
    if (!(C[i].s = wsx_socket_connect(&T.loop, url, co, &cli_cbs, &C[i],
                                      NULL)))
      return 0;
    want++;
    RUN_UNTIL(opened(i, i + 1) && nS == want, 3000);
    if (!opened(i, i + 1) || nS != want)
      return 0;
  }
  return 1;
}
static int connect_n(int n, const wsx_socket_options *co) {
  return connect_range(0, n, co);
}

static void close_all_clients(int n) {
  int i;
  for (i = 0; i < n; i++)
    if (C[i].s && !C[i].closed)
      wsx_socket_close(C[i].s, 0, NULL);
  RUN_UNTIL(finished(n), 3000);
}

static int all_msgs(int n, int want) {
  int i, ok = 1;
  for (i = 0; i < n; i++)
    ok &= C[i].msgs >= want;
  return ok;
}

TEST(subscribe_publish_counts) {
  const void *tp;
  size_t tl = 0;
  char big[WSX_TOPIC_MAX + 1];
  setup(0, NULL);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(3, NULL));
  CHECK_INT(wsx_socket_subscribe(S[0], "all", 3), 1); /* already */
  CHECK_INT(wsx_socket_is_subscribed(S[0], "all", 3), 1);
  CHECK_INT(wsx_socket_is_subscribed(S[0], "al", 2), 0);
  CHECK_INT(wsx_socket_subscribe(S[0], "a\0b", 3), 0); /* bytes, NUL too */
  CHECK_INT(wsx_socket_is_subscribed(S[0], "a\0c", 3), 0);
  CHECK_INT(wsx_socket_topic_count(S[0]), 2);
  tp = wsx_socket_topic(S[0], 1, &tl);
  CHECK_MEM(tp, tl, "a\0b", 3);
  CHECK(wsx_socket_topic(S[0], 2, &tl) == NULL);
  memset(big, 'x', sizeof(big));
  CHECK_INT(wsx_socket_subscribe(S[0], big, WSX_TOPIC_MAX), 0);
  CHECK_INT(wsx_socket_subscribe(S[0], big, WSX_TOPIC_MAX + 1),
            WSX_E_INVALID);
  CHECK_INT(wsx_socket_subscribe(S[0], "", 0), WSX_E_INVALID);
  CHECK_INT(wsx_loop_subscribers(&T.loop, "all", 3), 3);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "0:hello", 7, WSX_OP_TEXT, 0),
            3);
  CHECK_INT(wsx_server_publish(T.srv, "a\0b", 3, "0:only", 6, WSX_OP_BINARY,
                               0),
            1);
  CHECK_INT(wsx_loop_publish(&T.loop, "none", 4, "x", 1, WSX_OP_TEXT, 0), 0);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "\xff", 1, WSX_OP_TEXT, 0),
            WSX_E_INVALID);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "x", 1, WSX_OP_PING, 0),
            WSX_E_INVALID);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "x", 1, WSX_OP_TEXT, 64),
            WSX_E_INVALID);
  RUN_UNTIL(C[0].msgs == 2 && C[1].msgs == 1 && C[2].msgs == 1, 3000);
  CHECK_STR(C[1].last, "0:hello");
  CHECK_INT(C[0].msgs + C[1].msgs + C[2].msgs, 4);
  /* Unsubscribe: returns 1 once, then 0; the topic list shrinks. */
  CHECK_INT(wsx_socket_unsubscribe(S[1], "all", 3), 1);
  CHECK_INT(wsx_socket_unsubscribe(S[1], "all", 3), 0);
  CHECK_INT(wsx_socket_topic_count(S[1]), 0);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "1:two", 5, WSX_OP_TEXT, 0),
            2);
  /* A socket that starts closing leaves its topics. */
  CHECK_INT(wsx_socket_drop(S[2], 0, NULL), WSX_OK);
  CHECK_INT(wsx_loop_subscribers(&T.loop, "all", 3), 1);
  CHECK_INT(wsx_socket_subscribe(S[2], "all", 3), WSX_E_CLOSED);
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "2:three", 7, WSX_OP_TEXT, 0),
            1);
  RUN_UNTIL(C[0].msgs == 4 && C[2].closed, 3000);
  CHECK_INT(C[0].msgs, 4);
  CHECK_INT(C[1].msgs, 1);
  CHECK_INT(C[2].msgs, 2);
  close_all_clients(3);
  CHECK_INT(wsx_loop_subscribers(&T.loop, "all", 3), 0);
  SHUTDOWN_AND_CHECK();
}

/* A raw peer that never reads sits among readers; 64 KiB publications
 * overflow its max_buffered: it is dropped inside a publication while the
 * readers get every message in order. */
TEST(slow_subscriber_dropped_others_unaffected) {
  static char msg[65536];
  raw_peer slow;
  int i, n = 4, dropped_at = -1;
  long r;
  setup((size_t)1 << 20, NULL);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(2, NULL));
  raw_connect(&slow, UPGRADE_HEAD("/"), sizeof(UPGRADE_HEAD("/")) - 1, 0);
  RUN_UNTIL(nS == 3, 3000);
  REQUIRE(nS == 3);
  REQUIRE(connect_range(2, 3, NULL)); /* a third reader after the slow one */
  memset(msg, 'm', sizeof(msg));
  for (i = 0; i < 600; i++) {
    int k = snprintf(msg, 16, "%d:", i);
    msg[k] = 'm';
    r = wsx_loop_publish(&T.loop, "all", 3, msg, sizeof(msg), WSX_OP_TEXT, 0);
    if (r != n) {
      if (dropped_at < 0 && r == n - 1 && srv_errors == 1) {
        dropped_at = i;
        n--;
      } else {
        CHECK_INT(r, n);
        break;
      }
    }
    RUN_UNTIL(all_msgs(2, i + 1) && C[2].msgs >= i + 1, 3000);
  }
  CHECK(dropped_at > 0);
  CHECK_INT(err_code, WSX_E_POLICY);
  CHECK_INT(resub_rc, WSX_E_CLOSED);
  CHECK_INT(unsub_rc, 1);
  for (i = 0; i < 3; i++) {
    CHECK_INT(C[i].msgs, 600);
    CHECK_INT(C[i].bad_order, 0);
  }
  RUN_UNTIL(srv_closes == 1, 3000);
  CHECK_INT(srv_closes, 1); /* the slow one's server socket */
  close_all_clients(3);
  raw_close(&slow);
  SHUTDOWN_AND_CHECK();
}

/* One frame buffer per publication. Subscribers whose kernel buffers are
 * full must queue the message: a hand broadcast (wsx_socket_send per
 * socket) copies it into every socket's queue; a publication queues a
 * reference to one frame. */
TEST(one_frame_buffer_per_publish) {
  static char msg[65536];
  raw_peer peers[6];
  int i, nstuck = 0;
  long r;
  setup(SIZE_MAX, NULL);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(4, NULL));
  memset(msg, 'a', sizeof(msg));
  memcpy(msg, "0:", 2);
  /* Readers that keep up: the kernel takes everything, 1 allocation. */
  count_reset(4096);
  r = wsx_loop_publish(&T.loop, "all", 3, msg, 4096, WSX_OP_TEXT, 0);
  CHECK_INT(r, 4);
  CHECK_INT(A.big, 1);
  CHECK_INT(A.calls, 1);
  RUN_UNTIL(all_msgs(4, 1), 3000);
  close_all_clients(4);
  /* Peers that never read: fill their kernel buffers. */
  nS = 0;
  for (i = 0; i < 6; i++)
    raw_connect(&peers[i], UPGRADE_HEAD("/"), sizeof(UPGRADE_HEAD("/")) - 1,
                0);
  RUN_UNTIL(nS == 6, 3000);
  REQUIRE(nS == 6);
  for (i = 0; i < 2000 && nstuck < 6; i++) {
    int j;
    (void)wsx_loop_publish(&T.loop, "all", 3, msg, sizeof(msg),
                           WSX_OP_BINARY, 0);
    uv_run(&T.loop, UV_RUN_NOWAIT);
    for (nstuck = 0, j = 0; j < 6; j++)
      nstuck += S[j] && wsx_socket_buffered_amount(S[j]) > 0;
  }
  REQUIRE(nstuck == 6);
  count_reset(sizeof(msg));
  r = wsx_loop_publish(&T.loop, "all", 3, msg, sizeof(msg), WSX_OP_BINARY, 0);
  CHECK_INT(r, 6);
  CHECK_INT(A.big, 1);  /* the frame */
  CHECK_INT(A.small, 6); /* one write request per stuck subscriber */
  /* The hand broadcast, for comparison: a copy per socket. */
  count_reset(sizeof(msg));
  for (i = 0; i < 6; i++)
    (void)wsx_socket_send_binary(S[i], msg, sizeof(msg));
  CHECK(A.big >= 6);
  for (i = 0; i < 6; i++)
    raw_close(&peers[i]);
  RUN_UNTIL(srv_closes == 10, 3000);
  SHUTDOWN_AND_CHECK();
}

/* permessage-deflate: clients asking for server_no_context_takeover share
 * one compressed frame; the others compress their own (through their
 * driver). Every client inflates valid messages. */
TEST(deflate_shared_and_own) {
  static char msg[4000];
  wsx_deflate_options nct = WSX_DEFLATE_OPTIONS_INIT;
  wsx_extension *sx = wsx_deflate_new(NULL);
  wsx_extension *cx_nct, *cx_take;
  wsx_extension *sexts[2] = {sx, NULL}, *e1[2], *e2[2];
  wsx_socket_options co1 = WSX_SOCKET_OPTIONS_INIT, co2 = co1;
  int i;
  nct.server_no_context_takeover = 1;
  cx_nct = wsx_deflate_new(&nct);
  cx_take = wsx_deflate_new(NULL);
  REQUIRE(sx && cx_nct && cx_take);
  e1[0] = cx_nct, e1[1] = NULL;
  e2[0] = cx_take, e2[1] = NULL;
  co1.extensions = e1;
  co2.extensions = e2;
  setup(0, sexts);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(3, &co1));
  REQUIRE(connect_range(3, 5, &co2));
  for (i = 0; i < 5; i++)
    CHECK(strncmp(wsx_socket_extensions(C[i].s), "permessage-deflate", 18) ==
          0);
  for (i = 0; i < (int)sizeof(msg); i++)
    msg[i] = (char)('a' + (i * 7) % 13);
  for (i = 0; i < 4; i++) {
    int k = snprintf(msg, 16, "%d:", i);
    msg[k] = 'x';
    count_reset(sizeof(msg));
    CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, msg, sizeof(msg),
                               WSX_OP_TEXT, 0),
              5);
    if (i > 0) /* after the first: streams and buffers exist */
      CHECK_INT(A.big, 2); /* the plain frame and ONE compressed frame */
    RUN_UNTIL(all_msgs(5, i + 1), 3000);
  }
  /* Uncompressed on request: valid with deflate negotiated. */
  CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, "4:raw", 5, WSX_OP_TEXT,
                             WSX_PUBLISH_UNCOMPRESSED),
            5);
  RUN_UNTIL(all_msgs(5, 5), 3000);
  for (i = 0; i < 5; i++) {
    CHECK_INT(C[i].msgs, 5);
    CHECK_INT(C[i].bad_order, 0);
    CHECK(!C[i].closed);
  }
  CHECK_STR(C[4].last, "4:raw");
  close_all_clients(5);
  SHUTDOWN_AND_CHECK();
  wsx_deflate_free(sx);
  wsx_deflate_free(cx_nct);
  wsx_deflate_free(cx_take);
}

/* The Redis backplane's argument checks (its traffic is tested against a
 * real redis-server in tests/interop/test_redis.sh). */
TEST(redis_backplane_arguments) {
  wsx_redis_options o = WSX_REDIS_OPTIONS_INIT;
  wsx_backplane *bp;
  int err = 0;
  ev_reset();
  o.url = "http://127.0.0.1:6379";
  bp = wsx_redis_backplane_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(bp == NULL);
  if (!wsx_redis_available()) {
    CHECK_INT(err, WSX_E_UNSUPPORTED);
    printf("skip redis_backplane_arguments: built without hiredis\n");
    CHECK_INT(ev_finish(), 0);
    return;
  }
  CHECK_INT(err, WSX_E_URL);
  o.url = "redis://127.0.0.1:99999";
  CHECK(wsx_redis_backplane_new(&T.loop, &o, NULL, NULL, &err) == NULL);
  CHECK_INT(err, WSX_E_URL);
  o.struct_size = 0;
  CHECK(wsx_redis_backplane_new(&T.loop, &o, NULL, NULL, &err) == NULL);
  CHECK_INT(err, WSX_E_STRUCT_SIZE);
  /* A port nothing listens on: created, then reports the bus down; freed
   * while reconnecting, the loop ends with nothing left open. */
  o = (wsx_redis_options)WSX_REDIS_OPTIONS_INIT;
  o.url = "redis://:pw@127.0.0.1:1/3";
  o.reconnect_min_ms = 10;
  bp = wsx_redis_backplane_new(&T.loop, &o, NULL, NULL, &err);
  REQUIRE(bp != NULL);
  CHECK_INT(wsx_backplane_connected(bp), 0);
  CHECK_INT(wsx_backplane_attach_server(bp, NULL), WSX_E_INVALID);
  run_for(1300); /* a refused connect, the watchdog, a retry */
  wsx_backplane_free(bp);
  T.timed_out = 0;
  run_for(1000);
  CHECK(!T.timed_out);
  CHECK_INT(ev_finish(), 0);
}

/* A burst of publications in one loop turn waits in each subscriber's
 * queue (counted in its buffered amount) and leaves in the loop turn's
 * flush; a socket's own sends never overtake publications made before
 * them: C[0] sees publish/send interleaved in sequence order. */
TEST(burst_queued_sends_keep_order) {
  char m[32];
  size_t queued = 0;
  int i, k;
  setup(0, NULL);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(3, NULL));
  for (i = 0; i < 10; i++) {
    k = snprintf(m, sizeof(m), "%d:p", 2 * i);
    CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, m, (size_t)k, WSX_OP_TEXT,
                               0),
              3);
    queued += 2 + (size_t)k;
    k = snprintf(m, sizeof(m), "%d:own", 2 * i + 1);
    CHECK(wsx_socket_send_text(S[0], m, (size_t)k) >= 0);
  }
  /* Nothing of it written yet for the others: one writev each later. */
  CHECK_INT(wsx_socket_buffered_amount(S[1]), queued);
  CHECK_INT(wsx_socket_buffered_amount(S[2]), queued);
  uv_run(&T.loop, UV_RUN_NOWAIT); /* the flush (loopback takes it all) */
  CHECK_INT(wsx_socket_buffered_amount(S[1]), 0);
  CHECK_INT(wsx_socket_buffered_amount(S[2]), 0);
  RUN_UNTIL(C[0].msgs == 20 && C[1].msgs == 10 && C[2].msgs == 10, 3000);
  CHECK_INT(C[0].msgs, 20);
  CHECK_INT(C[0].bad_order, 0);
  CHECK_STR(C[0].last, "19:own");
  CHECK_INT(C[1].msgs, 10);
  CHECK_STR(C[1].last, "18:p");
  CHECK_INT(C[2].msgs, 10);
  close_all_clients(3);
  SHUTDOWN_AND_CHECK();
}

/* Sockets closing with publications still queued: a close handshake sends
 * them first (its close frame is one of the socket's own writes); a drop
 * discards them (references released: ASan sees no leak); the subscriber
 * queued between the two on the loop's list still gets everything. */
TEST(close_with_queued_publications) {
  char m[16];
  int i, k;
  setup(0, NULL);
  REQUIRE(T.port > 0);
  REQUIRE(connect_n(3, NULL));
  for (i = 0; i < 5; i++) {
    k = snprintf(m, sizeof(m), "%d:q", i);
    CHECK_INT(wsx_loop_publish(&T.loop, "all", 3, m, (size_t)k, WSX_OP_TEXT,
                               0),
              3);
  }
  CHECK(wsx_socket_buffered_amount(S[1]) > 0);
  CHECK_INT(wsx_socket_close(S[0], WSX_CLOSE_NORMAL, "bye"), WSX_OK);
  CHECK_INT(wsx_socket_drop(S[1], 0, NULL), WSX_OK);
  RUN_UNTIL(C[0].closed && C[1].closed && C[2].msgs == 5, 3000);
  CHECK_INT(C[0].msgs, 5);
  CHECK_INT(C[0].bad_order, 0);
  CHECK_INT(C[0].close_code, WSX_CLOSE_NORMAL);
  CHECK_INT(C[1].closed, 1);
  CHECK_INT(C[2].msgs, 5);
  CHECK_INT(C[2].bad_order, 0);
  CHECK_INT(wsx_loop_subscribers(&T.loop, "all", 3), 1);
  close_all_clients(3);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(RUN(subscribe_publish_counts); RUN(redis_backplane_arguments);
          RUN(slow_subscriber_dropped_others_unaffected);
          RUN(one_frame_buffer_per_publish); RUN(deflate_shared_and_own);
          RUN(burst_queued_sends_keep_order);
          RUN(close_with_queued_publications))
