/* Hibernation of idle server connections (issue 20 row E, uv/hibernate.c):
 * in-process servers on 127.0.0.1 with hibernate_after = 50 ms. Idle
 * connections fall asleep and then hold <= 256 bytes each (a counting
 * allocator on the server); input, the app's sends, keepalive pings, a
 * peer's FIN or RST, server close and free all work on sleeping sockets
 * as on awake ones; WSX_HIBERNATE_NEVER and permessage-deflate keep them
 * awake; a wake that runs out of memory drops that connection with 1011
 * and no other. */
#include <malloc.h>
#include <time.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "uv/internal.h"
#include "wsx/extension.h"
#include "wsx/pubsub.h"

#include "helpers/script_dir.h"
#include "test_uv_util.h"

/* ---- a counting allocator (usable bytes + malloc's 8-byte header) that
 * can be told to fail ---- */

static long live_bytes, live_blocks;
static int fail_next; /* fail that many allocations from now on */

static void *c_malloc(size_t n, void *ud) {
  void *p;
  (void)ud;
  if (fail_next > 0) {
    fail_next--;
    return NULL;
  }
  if ((p = malloc(n))) {
    live_bytes += (long)malloc_usable_size(p) + 8;
    live_blocks++;
  }
  return p;
}

static void c_free(void *p, void *ud) {
  (void)ud;
  if (!p)
    return;
  live_bytes -= (long)malloc_usable_size(p) + 8;
  live_blocks--;
  free(p);
}

static void *c_realloc(void *p, size_t n, void *ud) {
  void *q;
  long old = p ? (long)malloc_usable_size(p) + 8 : 0;
  (void)ud;
  if (fail_next > 0) {
    fail_next--;
    return NULL;
  }
  if (!(q = realloc(p, n)))
    return NULL;
  if (!p)
    live_blocks++;
  live_bytes += (long)malloc_usable_size(q) + 8 - old;
  return q;
}

static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};

/* ---- helpers ---- */

#define NCONN 20
#define NAP 50u /* hibernate_after, ms */
static ev_side cl[NCONN];

static int asleep(void) {
  const wsx_socket *s;
  int n = 0;
  for (s = T.srv->conns; s; s = s->next)
    n += (s->flags & WSX__F_ASLEEP) != 0;
  return n;
}

/* The sum of `field` over the n clients of arr. */
#define SUM_OF(arr, n, field)                                                  \
  ({                                                                           \
    int m_ = 0, j_;                                                            \
    for (j_ = 0; j_ < (n); j_++)                                               \
      m_ += (arr)[j_].field;                                                   \
    m_;                                                                        \
  })
#define SUM(field) SUM_OF(cl, NCONN, field)

/* A server (hibernate_after `nap`, counting allocator, echo) and n
 * clients, all open. */
static void setup(uint32_t nap, int n, wsx_server_options *o) {
  wsx_server_options zo = WSX_SERVER_OPTIONS_INIT;
  char url[64];
  int i, err;
  ev_reset();
  memset(cl, 0, sizeof(cl));
  live_bytes = live_blocks = 0;
  fail_next = 0;
  if (!o) {
    o = &zo;
    o->auto_accept = 1;
  }
  o->hibernate_after = nap;
  srv_drv(o)->allocator = &counting;
  T.echo = 1;
  if (start_server(NULL, o, NULL) != 0) {
    printf("  (server did not start)\n");
    abort();
  }
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/chat", T.port);
  for (i = 0; i < n; i++)
    if (!wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &cl[i], &err))
      abort();
  RUN_UNTIL(SUM(open) == n && T.s.open == n, 5000);
}

static void teardown(int n) {
  int i;
  for (i = 0; i < n; i++)
    if (cl[i].sock && !cl[i].close)
      wsx_socket_close(cl[i].sock, 0, NULL);
  RUN_UNTIL(SUM(close) == n, 5000);
  SHUTDOWN_AND_CHECK();
  CHECK_INT(live_blocks, 0);
}

/* ---- tests ---- */

TEST(idle_connections_sleep_and_wake_on_input) {
  long base, per;
  int round, i;
  char url[64];
  int err;
  /* One connection first, closed again, so the loop's tables exist. */
  setup(NAP, 1, NULL);
  wsx_socket_close(cl[0].sock, 0, NULL);
  RUN_UNTIL(cl[0].close == 1 && T.s.close == 1, 3000);
  RUN_UNTIL(0, 20);
  memset(cl, 0, sizeof(cl));
  memset(&T.s, 0, sizeof(T.s));
  base = live_bytes;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/chat", T.port);
  for (i = 0; i < NCONN; i++)
    REQUIRE(wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &cl[i], &err));
  RUN_UNTIL(SUM(open) == NCONN && T.s.open == NCONN, 5000);
  REQUIRE(SUM(open) == NCONN);
  CHECK_INT(asleep(), 0); /* just opened: awake */
  RUN_UNTIL(asleep() == NCONN, 2000);
  CHECK_INT(asleep(), NCONN);
  RUN_UNTIL(0, 20); /* the handles' close callbacks free their blocks */
  per = (live_bytes - base) / NCONN;
  printf("  asleep: %ld bytes per connection (server heap, with malloc's "
         "headers)\n", per);
  CHECK(per <= 256);
  for (round = 0; round < 3; round++) {
    int before = SUM(message);
    char text[32];
    for (i = 0; i < NCONN; i++) {
      snprintf(text, sizeof(text), "hello %d/%d", round, i);
      wsx_socket_send_text(cl[i].sock, text, strlen(text));
    }
    RUN_UNTIL(SUM(message) == before + NCONN, 3000);
    CHECK_INT(SUM(message), before + NCONN);
    for (i = 0; i < NCONN; i++) {
      snprintf(text, sizeof(text), "hello %d/%d", round, i);
      CHECK(cl[i].msg_len == strlen(text) &&
            memcmp(cl[i].msg, text, cl[i].msg_len) == 0);
    }
    CHECK(asleep() < NCONN); /* the echo woke them */
    RUN_UNTIL(asleep() == NCONN, 2000); /* and they sleep again */
    CHECK_INT(asleep(), NCONN);
  }
  CHECK_INT(T.s.error, 0);
  teardown(NCONN);
}

TEST(app_send_to_sleeping_socket) {
  wsx_socket *s;
  setup(NAP, 1, NULL);
  RUN_UNTIL(asleep() == 1, 2000);
  REQUIRE(asleep() == 1);
  s = T.srv->conns;
  CHECK_INT(wsx_socket_ready_state(s), WSX_OPEN);
  CHECK_INT((int)wsx_socket_buffered_amount(s), 0);
  CHECK_INT(asleep(), 1); /* those two do not wake it */
  {
    /* Nor do the getters: answered from what the socket kept. */
    char addr[64];
    int port = 0;
    size_t nh = 1;
    CHECK(strstr(wsx_socket_url(s), "/chat") != NULL);
    CHECK_STR(wsx_socket_protocol(s), "");
    CHECK_STR(wsx_socket_extensions(s), "");
    CHECK_STR(wsx_socket_version(s), "hybi-13");
    CHECK_INT(wsx_socket_status_code(s), 0);
    CHECK(wsx_socket_headers(s, &nh) == NULL && nh == 0);
    CHECK_INT(wsx_socket_remote_address(s, addr, sizeof(addr), &port), 0);
    CHECK_STR(addr, "127.0.0.1");
    CHECK(port > 0);
    CHECK_INT(asleep(), 1);
  }
  CHECK_INT(wsx_socket_send_text(s, "from the app", 12), 0);
  RUN_UNTIL(cl[0].message == 1, 2000);
  CHECK_INT(cl[0].message, 1);
  CHECK(cl[0].msg_len == 12 && memcmp(cl[0].msg, "from the app", 12) == 0);
  RUN_UNTIL(asleep() == 1, 2000);
  CHECK_INT(wsx_socket_ping(s, "p", 1, NULL, NULL), 0);
  RUN_UNTIL(T.s.pong == 1, 2000);
  CHECK_INT(T.s.pong, 1);
  /* The server's close of a sleeping socket: a clean close handshake. */
  RUN_UNTIL(asleep() == 1, 2000);
  CHECK_INT(wsx_socket_close(s, 4001, "bye"), 0);
  RUN_UNTIL(cl[0].close == 1 && T.s.close == 1, 3000);
  CHECK_INT(cl[0].close_code, 4001);
  CHECK_INT(T.s.close_code, 4001);
  CHECK_INT(T.s.close_clean, 1);
  teardown(1);
}

TEST(keepalive_pings_a_sleeping_socket) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  o.auto_accept = 1;
  srv_sock(&o)->ping_interval = 200;
  setup(NAP, 1, &o);
  RUN_UNTIL(asleep() == 1, 2000);
  REQUIRE(asleep() == 1);
  /* Each ping wakes it (timer), its pong arrives, it sleeps again. */
  RUN_UNTIL(cl[0].ping >= 3, 3000);
  CHECK(cl[0].ping >= 3);
  RUN_UNTIL(T.s.pong >= 3 && asleep() == 1, 2000);
  CHECK(T.s.pong >= 3);
  CHECK_INT(asleep(), 1);
  CHECK_INT(T.s.close, 0);
  teardown(1);
}

/* A raw client: handshake by hand, then FIN or RST while asleep. */
static int raw_client(void) {
  static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: "
                            "dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)T.port);
  a.sin_addr.s_addr = htonl(0x7f000001);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
    abort();
  return fd;
}

static void peer_gone(int rst) {
  struct linger lg = {1, 0};
  int fd;
  setup(NAP, 0, NULL);
  fd = raw_client();
  RUN_UNTIL(T.s.open == 1, 3000);
  REQUIRE(T.s.open == 1);
  RUN_UNTIL(asleep() == 1, 2000);
  REQUIRE(asleep() == 1);
  if (rst)
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
  RUN_UNTIL(T.s.close == 1, 3000);
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, WSX_CLOSE_ABNORMAL);
  CHECK_INT(T.s.close_clean, 0);
  if (rst)
    CHECK_INT(T.s.error, 1); /* the reset, as on an awake socket */
  SHUTDOWN_AND_CHECK();
  CHECK_INT(live_blocks, 0);
}

TEST(peer_fin_while_asleep) { peer_gone(0); }
TEST(peer_rst_while_asleep) { peer_gone(1); }

/* With the default allocator, a sweep that put 64 or more to sleep is
 * followed by a heap trim (malloc_trim), which blocks the loop for up to
 * milliseconds: at once while sleepers pile up (64 or more than at the
 * last trim), else at least WSX__HIB_TRIM_GAPS x hibernate_after apart,
 * and connections that slept in between are trimmed for once the gap is
 * over. */
#define NMANY 70
static ev_side many[2 * NMANY]; /* two batches */

#define SUM_MANY(field) SUM_OF(many, 2 * NMANY, field)

TEST(heap_trims_are_spaced) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  char url[64];
  int i, err;
  unsigned long t0;
  uint64_t at1, at2;
  ev_reset();
  memset(many, 0, sizeof(many));
  o.auto_accept = 1;
  o.hibernate_after = NAP; /* sweeps every 25 ms; trims >= 500 ms apart */
  T.echo = 1;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/chat", T.port);
  for (i = 0; i < NMANY; i++)
    REQUIRE(wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &many[i], &err));
  RUN_UNTIL(SUM_MANY(open) == NMANY && T.s.open == NMANY, 5000);
  REQUIRE(T.s.open == NMANY);
  t0 = wsx__hib_trims();
  RUN_UNTIL(asleep() == NMANY, 3000);
  CHECK_INT(asleep(), NMANY);
  if (!T.srv->cfg.slab) {
    /* AddressSanitizer: no slab, the allocator is not the default: no
     * trim. */
    printf("  (no slab in this build: no trims)\n");
    RUN_UNTIL(0, 200);
    CHECK_INT((long)(wsx__hib_trims() - t0), 0);
  } else {
    /* The first batch: trimmed right after. */
    RUN_UNTIL(wsx__hib_trims() != t0, 500);
    CHECK_INT((long)(wsx__hib_trims() - t0), 1);
    at1 = uv_now(&T.loop);
    /* Woken and asleep again within the gap: no trim yet... */
    for (i = 0; i < NMANY; i++)
      wsx_socket_send_text(many[i].sock, "x", 1);
    RUN_UNTIL(SUM_MANY(message) == NMANY, 3000);
    CHECK_INT(SUM_MANY(message), NMANY);
    RUN_UNTIL(asleep() == NMANY, 3000);
    CHECK_INT(asleep(), NMANY);
    RUN_UNTIL(0, 50); /* (an ungated trim would run 1 ms after the sweep) */
    if (uv_now(&T.loop) - at1 < 2 * (NAP / 2) * WSX__HIB_TRIM_GAPS - 20)
      CHECK_INT((long)(wsx__hib_trims() - t0), 1);
    else /* a loaded machine: at2 - at1 below still checks the gap */
      printf("  (the gap was over before all slept again)\n");
    /* ...but once the gap is over, for the ones that slept meanwhile. */
    RUN_UNTIL(wsx__hib_trims() - t0 == 2, 2000);
    CHECK_INT((long)(wsx__hib_trims() - t0), 2);
    at2 = uv_now(&T.loop);
    CHECK(at2 - at1 >= 2 * (NAP / 2) * WSX__HIB_TRIM_GAPS - 30);
    /* A second batch opens and sleeps: the sleepers grew by 70, so the
     * trim comes at once, within the gap. */
    for (i = NMANY; i < 2 * NMANY; i++)
      REQUIRE(
          wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &many[i], &err));
    RUN_UNTIL(asleep() == 2 * NMANY, 3000);
    CHECK_INT(asleep(), 2 * NMANY);
    RUN_UNTIL(wsx__hib_trims() - t0 == 3, 300);
    CHECK_INT((long)(wsx__hib_trims() - t0), 3);
    if (uv_now(&T.loop) - at2 >= 2 * (NAP / 2) * WSX__HIB_TRIM_GAPS)
      printf("  (the gap was over before the second batch slept)\n");
    /* Nothing slept since: no more trims. */
    RUN_UNTIL(0, 700);
    CHECK_INT((long)(wsx__hib_trims() - t0), 3);
  }
  for (i = 0; i < 2 * NMANY; i++)
    if (many[i].sock && !many[i].close)
      wsx_socket_close(many[i].sock, 0, NULL);
  RUN_UNTIL(SUM_MANY(close) == SUM_MANY(open), 5000);
  SHUTDOWN_AND_CHECK();
}

TEST(server_free_with_sleeping_sockets) {
  setup(NAP, NCONN, NULL);
  RUN_UNTIL(asleep() == NCONN, 2000);
  REQUIRE(asleep() == NCONN);
  wsx_server_free(T.srv);
  RUN_UNTIL(T.srv_closed == 1 && SUM(close) == NCONN, 5000);
  CHECK_INT(T.srv_closed, 1);
  CHECK_INT(SUM(close), NCONN);
  CHECK_INT(cl[0].close_code, WSX_CLOSE_GOING_AWAY);
  T.srv = NULL;
  run_for(3000);
  CHECK(!T.timed_out);
  CHECK_INT(ev_finish(), 0);
  CHECK_INT(live_blocks, 0);
}

TEST(never_and_deflate_stay_awake) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  wsx_extension *d = wsx_deflate_new(NULL);
  wsx_extension *exts[] = {d, NULL};
  char url[64];
  int err;
  setup(WSX_HIBERNATE_NEVER, 2, NULL);
  RUN_UNTIL(0, 4 * NAP);
  CHECK_INT(asleep(), 0);
  CHECK_INT(T.srv->cfg.hibernate_after, 0);
  teardown(2);
  /* One client negotiates permessage-deflate, one does not. */
  o.auto_accept = 1;
  srv_sock(&o)->extensions = exts;
  setup(NAP, 1, &o);
  co.extensions = exts;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  REQUIRE(wsx_socket_connect(&T.loop, url, &co, &rec_cbs, &cl[1], &err));
  RUN_UNTIL(cl[1].open == 1, 3000);
  RUN_UNTIL(0, 6 * NAP);
  CHECK_INT(asleep(), 1); /* the plain one */
  CHECK(*wsx_socket_extensions(cl[1].sock) != '\0');
  teardown(2);
  wsx_deflate_free(d);
}

/* Subscribers sleep too, and a publication reaches a sleeping subscriber
 * without waking it (written straight to its descriptor); one larger than
 * the kernel takes at once wakes it with the rest queued, and the stream
 * stays intact (the next publication arrives whole, in order). */
TEST(publish_to_sleeping_subscribers) {
  const size_t big = (size_t)8 << 20;
  uint8_t *blob = malloc(big);
  wsx_socket *s;
  long n;
  size_t i;
  REQUIRE(blob != NULL);
  for (i = 0; i < big; i++)
    blob[i] = (uint8_t)(i * 7u + 3u);
  setup(NAP, 3, NULL);
  s = T.srv->conns; /* one subscribes awake, two asleep */
  CHECK_INT(wsx_socket_subscribe(s, "news", 4), 0);
  RUN_UNTIL(asleep() == 3, 2000);
  CHECK_INT(asleep(), 3);
  for (s = s->next; s; s = s->next)
    CHECK_INT(wsx_socket_subscribe(s, "news", 4), 0);
  CHECK_INT(asleep(), 3); /* subscribing does not wake */
  CHECK_INT((int)wsx_loop_subscribers(&T.loop, "news", 4), 3);
  n = wsx_server_publish(T.srv, "news", 4, "extra! extra!", 13, WSX_OP_TEXT,
                         0);
  CHECK_INT((int)n, 3);
  CHECK_INT(asleep(), 3); /* not woken */
  RUN_UNTIL(SUM(message) == 3, 2000);
  CHECK_INT(SUM(message), 3);
  for (i = 0; i < 3; i++)
    CHECK(cl[i].msg_len == 13 && memcmp(cl[i].msg, "extra! extra!", 13) == 0);
  CHECK_INT(asleep(), 3);
  /* 8 MiB: the kernel takes part of it, the rest goes awake. */
  n = wsx_server_publish(T.srv, "news", 4, blob, big, WSX_OP_BINARY, 0);
  CHECK_INT((int)n, 3);
  CHECK(asleep() < 3);
  RUN_UNTIL(SUM(message) == 6, 5000);
  CHECK_INT(SUM(message), 6);
  for (i = 0; i < 3; i++)
    CHECK(cl[i].msg_len == big && cl[i].msg_op == WSX_OP_BINARY &&
          memcmp(cl[i].msg, blob, sizeof(cl[i].msg)) == 0);
  n = wsx_server_publish(T.srv, "news", 4, "after", 5, WSX_OP_TEXT, 0);
  CHECK_INT((int)n, 3);
  RUN_UNTIL(SUM(message) == 9, 3000);
  for (i = 0; i < 3; i++)
    CHECK(cl[i].msg_len == 5 && memcmp(cl[i].msg, "after", 5) == 0);
  RUN_UNTIL(asleep() == 3, 2000); /* and back to sleep, subscribed */
  CHECK_INT(asleep(), 3);
  for (s = T.srv->conns; s; s = s->next)
    CHECK_INT(wsx_socket_is_subscribed(s, "news", 4), 1);
  CHECK_INT(T.s.error, 0);
  CHECK_INT(SUM(error), 0);
  teardown(3);
  free(blob);
}

/* A TLS server never hibernates (its sessions are most of a connection's
 * memory and cannot be rebuilt): no sweep, no slab, handles inline. */
TEST(tls_server_never_sleeps) {
  static const char gen[] =
      "cd \"$1\" && openssl req -x509 -newkey ec -pkeyopt "
      "ec_paramgen_curve:prime256v1 -nodes -keyout k.pem "
      "-out c.pem -subj /CN=localhost -days 1\n";
  char dir[256];
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_cert c = WSX_TLS_CERT_INIT;
  wsx_server *srv;
  int err = 0;
  if (tc_script_dir("wsx-hib", gen, dir, sizeof(dir)) != 0) {
    printf("skip tls_server_never_sleeps: openssl could not make a "
           "certificate\n");
    tc_rm_dir(dir);
    return;
  }
  ev_reset();
  c.cert_file = tc_path(dir, "c.pem");
  c.key_file = tc_path(dir, "k.pem");
  to.cert = &c;
  o.tls = &to;
  o.hibernate_after = NAP;
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  REQUIRE(srv != NULL);
  CHECK_INT(srv->cfg.hibernate_after, 0);
  CHECK(srv->cfg.slab == NULL);
  wsx_server_free(srv);
  run_for(500);
  CHECK_INT(ev_finish(), 0);
  tc_rm_dir(dir);
}

TEST(driver_pointer_pins_the_socket) {
  wsx_socket *s;
  setup(NAP, 1, NULL);
  RUN_UNTIL(asleep() == 1, 2000);
  s = T.srv->conns;
  CHECK(wsx_socket_driver(s) != NULL); /* wakes it, for good */
  RUN_UNTIL(0, 4 * NAP);
  CHECK_INT(asleep(), 0);
  teardown(1);
}

TEST(wake_out_of_memory_drops_with_1011) {
  setup(NAP, 2, NULL);
  RUN_UNTIL(asleep() == 2, 2000);
  REQUIRE(asleep() == 2);
  fail_next = 1; /* the wake's block */
  wsx_socket_send_text(cl[0].sock, "x", 1);
  RUN_UNTIL(T.s.close == 1 && cl[0].close == 1, 3000);
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, WSX_CLOSE_UNEXPECTED);
  CHECK_INT(T.s.error_code, WSX_E_NOMEM);
  CHECK_INT(cl[0].close, 1);
  CHECK_INT(cl[0].close_code, WSX_CLOSE_UNEXPECTED);
  /* The other connection works on. */
  wsx_socket_send_text(cl[1].sock, "still here", 10);
  RUN_UNTIL(cl[1].message == 1, 3000);
  CHECK_INT(cl[1].message, 1);
  CHECK_INT(cl[0].message, 0);
  teardown(2);
}

/* What a sleep and a wake cost, without the loop: three sweeps called
 * directly (the third puts them to sleep), then a getter that wakes each
 * one. Printed, not asserted (a shared machine's timings are noise). */
static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

TEST(sleep_and_wake_cost) {
  wsx_socket *s;
  double t0, t_sleep, t_wake;
  size_t n;
  setup(WSX_HIBERNATE_NEVER - 1, NCONN, NULL); /* no sweep of its own */
  RUN_UNTIL(0, 20);
  (void)wsx__hib_sweep(T.srv->conns); /* clears ACTIVE */
  (void)wsx__hib_sweep(T.srv->conns); /* sets IDLE1 */
  t0 = now_us();
  n = wsx__hib_sweep(T.srv->conns);
  t_sleep = now_us() - t0;
  CHECK_INT((int)n, NCONN);
  CHECK_INT(asleep(), NCONN);
  RUN_UNTIL(0, 20); /* close callbacks */
  t0 = now_us();
  for (s = T.srv->conns; s; s = s->next) /* a call that needs the handle */
    (void)wsx_socket_resume(s);
  t_wake = now_us() - t0;
  CHECK_INT(asleep(), 0);
  printf("  sleep: %.1f us, wake: %.1f us per connection (%d, in-process; "
         "libuv's own epoll_ctl ADD for the woken one follows in the next "
         "loop iteration)\n",
         t_sleep / NCONN, t_wake / NCONN, NCONN);
  /* Awake and working. */
  wsx_socket_send_text(cl[3].sock, "again", 5);
  RUN_UNTIL(cl[3].message == 1, 2000);
  CHECK_INT(cl[3].message, 1);
  teardown(NCONN);
}

TEST_MAIN(RUN(idle_connections_sleep_and_wake_on_input);
          RUN(sleep_and_wake_cost);
          RUN(app_send_to_sleeping_socket);
          RUN(keepalive_pings_a_sleeping_socket);
          RUN(peer_fin_while_asleep); RUN(peer_rst_while_asleep);
          RUN(server_free_with_sleeping_sockets);
          RUN(never_and_deflate_stay_awake);
          RUN(publish_to_sleeping_subscribers); RUN(tls_server_never_sleeps);
          RUN(driver_pointer_pins_the_socket);
          RUN(wake_out_of_memory_drops_with_1011);
          RUN(heap_trims_are_spaced))
