/*
 * A server group (wsx/group.h) on 2 loops, one thread each, SO_REUSEPORT
 * and again through the acceptor (one listener on loop 0 dealing
 * connections out round-robin): clients (on the test's own loop and
 * thread) spread over both loops and get their echo;
 * publications from loop 0's thread, from loop 1's thread and from a
 * foreign thread (this one) reach every subscriber exactly once; a burst
 * from a foreign thread arrives complete and in order; the group stops
 * and frees with every loop closed.
 */
#include <stdatomic.h>

#include "test_uv_util.h"
#include "wsx/group.h"

#define NCLI 16
#define BURST 1000

static wsx_server_group *G;
static atomic_int per_loop[2];     /* subscribers per loop */
static atomic_int loop_of[NCLI];   /* client i's server loop + 1 */
static atomic_int loops_started, loops_stopped, servers_closed;

static int loop_index(wsx_server *srv) {
  return wsx_server_loop(srv) == wsx_server_group_loop(G, 0) ? 0 : 1;
}

/* Server side, on the group's threads. */
static void s_message(wsx_socket *s, const wsx_message *m, void *ud) {
  wsx_server *srv = wsx_socket_server(s);
  char buf[64];
  int n;
  (void)ud;
  if (m->len > 4 && memcmp(m->data, "who:", 4) == 0) {
    char num[8] = {0}; /* the payload is not NUL-terminated */
    int i;
    memcpy(num, m->data + 4, m->len - 4 < 7 ? m->len - 4 : 7);
    i = atoi(num);
    if (i >= 0 && i < NCLI)
      atomic_store(&loop_of[i], loop_index(srv) + 1);
  } else if (m->len > 5 && memcmp(m->data, "echo:", 5) == 0) {
    wsx_socket_send_text(s, (const char *)m->data + 5, m->len - 5);
  } else if (m->len > 4 && memcmp(m->data, "pub:", 4) == 0) {
    long r;
    n = snprintf(buf, sizeof(buf), "%.*s:loop%d", (int)(m->len - 4),
                 (const char *)m->data + 4, loop_index(srv));
    /* On a group loop: reaches the whole group; the return value is the
     * number of this loop's subscribers. */
    r = wsx_server_publish(srv, "all", 3, buf, (size_t)n, WSX_OP_TEXT, 0);
    if (r != atomic_load(&per_loop[loop_index(srv)]))
      wsx_socket_send_text(s, "bad-count", 9);
  }
}
static void s_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)e, (void)ud;
  atomic_fetch_sub(&per_loop[loop_index(wsx_socket_server(s))], 1);
}
static const wsx_socket_callbacks s_cbs = {
    .struct_size = sizeof(wsx_socket_callbacks),
    .message = s_message,
    .close = s_close};
static void s_connection(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)ud;
  if (wsx_socket_subscribe(s, "all", 3) == WSX_OK)
    atomic_fetch_add(&per_loop[loop_index(srv)], 1);
}
static void s_closed(wsx_server *srv, void *ud) {
  (void)srv, (void)ud;
  atomic_fetch_add(&servers_closed, 1);
}
static void g_start(wsx_server_group *g, unsigned i, uv_loop_t *loop,
                    wsx_server *srv, void *ud) {
  (void)g, (void)i, (void)loop, (void)srv, (void)ud;
  atomic_fetch_add(&loops_started, 1);
}
static void g_stop(wsx_server_group *g, unsigned i, uv_loop_t *loop,
                   void *ud) {
  (void)g, (void)i, (void)loop, (void)ud;
  atomic_fetch_add(&loops_stopped, 1);
}

/* Clients, on this thread. */
typedef struct cli {
  wsx_socket *s;
  int open, closed, msgs, bad, burst_next, echoes;
  int from[3]; /* messages seen from publisher 0 (loop), 1 (loop), 2 */
} cli;
static cli C[NCLI];

static void c_open(wsx_socket *s, void *ud) {
  (void)s;
  ((cli *)ud)->open = 1;
}
static void c_message(wsx_socket *s, const wsx_message *m, void *ud) {
  cli *c = ud;
  const char *d = (const char *)m->data;
  (void)s;
  c->msgs++;
  if (m->len == 2 && d[0] == 'e' && d[1] == '!')
    c->echoes++;
  else if (m->len >= 2 && d[0] == 'p' && d[1] >= '0' && d[1] <= '2')
    c->from[d[1] - '0']++;
  else if (m->len > 2 && m->len < 12 && d[0] == 'b' && d[1] == ':') {
    char num[12] = {0}; /* the payload is not NUL-terminated */
    memcpy(num, d + 2, m->len - 2);
    if (atoi(num) != c->burst_next)
      c->bad++;
    c->burst_next = atoi(num) + 1;
  } else
    c->bad++;
}
static void c_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s, (void)e;
  ((cli *)ud)->closed = 1;
}
static const wsx_socket_callbacks c_cbs = {
    .struct_size = sizeof(wsx_socket_callbacks),
    .open = c_open,
    .message = c_message,
    .close = c_close};

static int count_open(int n) {
  int i, k = 0;
  for (i = 0; i < n; i++)
    k += C[i].open;
  return k;
}
static int all_from(int n, int who) {
  int i;
  for (i = 0; i < n; i++)
    if (C[i].from[who] < 1)
      return 0;
  return 1;
}
static int all_burst(int n) {
  int i;
  for (i = 0; i < n; i++)
    if (C[i].burst_next < BURST)
      return 0;
  return 1;
}
static int all_closed(int n) {
  int i, k = 0;
  for (i = 0; i < n; i++)
    k += C[i].closed;
  return k == n;
}
static int all_echoed(int n) {
  int i;
  for (i = 0; i < n; i++)
    if (C[i].echoes < 1)
      return 0;
  return 1;
}
static int mapped(int n) {
  int i;
  for (i = 0; i < n; i++)
    if (!atomic_load(&loop_of[i]))
      return 0;
  return 1;
}

/* The group's threads change state this thread waits for: RUN_UNTIL
 * must wake up to look, not only on this loop's own events. */
static uv_timer_t poll_tick;
static void on_poll_tick(uv_timer_t *t) { (void)t; }

static void group_run(int acceptor) {
  wsx_server_group_options o = WSX_SERVER_GROUP_OPTIONS_INIT;
  wsx_server_group_callbacks gc = WSX_SERVER_GROUP_CALLBACKS_INIT;
  wsx_server_callbacks sc = WSX_SERVER_CALLBACKS_INIT;
  wsx_server_options so = WSX_SERVER_OPTIONS_INIT;
  char url[64], buf[32];
  int err = 0, i, n = 0, on[2] = {-1, -1};
  ev_reset();
  memset(C, 0, sizeof(C));
  for (i = 0; i < NCLI; i++)
    atomic_store(&loop_of[i], 0);
  atomic_store(&per_loop[0], 0);
  atomic_store(&per_loop[1], 0);
  atomic_store(&loops_started, 0);
  atomic_store(&loops_stopped, 0);
  atomic_store(&servers_closed, 0);
  uv_timer_init(&T.loop, &poll_tick);
  uv_timer_start(&poll_tick, on_poll_tick, 2, 2);
  uv_unref((uv_handle_t *)&poll_tick);
  so.auto_accept = 1;
  sc.connection = s_connection;
  sc.closed = s_closed;
  sc.socket = &s_cbs;
  gc.server = &sc;
  gc.loop_start = g_start;
  gc.loop_stop = g_stop;
  o.threads = 2;
  o.server = &so;
  o.acceptor = acceptor;
  G = wsx_server_group_new(&o, &gc, NULL, &err);
  REQUIRE(G != NULL);
  CHECK_INT(wsx_server_group_size(G), 2);
  REQUIRE(wsx_server_group_listen(G, "127.0.0.1", 0) == WSX_OK);
  CHECK_INT(wsx_server_group_uses_acceptor(G), acceptor);
  if (acceptor) /* one listening socket per group */
    CHECK_INT(wsx_server_group_listen(G, "127.0.0.1", 0), WSX_E_BUSY);
  T.port = wsx_server_group_port(G);
  REQUIRE(T.port > 0);
  REQUIRE(wsx_server_group_start(G) == WSX_OK);
  CHECK_INT(wsx_server_group_start(G), WSX_E_STATE);
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  /* Connect until both loops hold subscribers (the kernel spreads them). */
  while (n < NCLI && (n < 2 || !atomic_load(&per_loop[0]) ||
                      !atomic_load(&per_loop[1]))) {
    C[n].s = wsx_socket_connect(&T.loop, url, NULL, &c_cbs, &C[n], NULL);
    REQUIRE(C[n].s);
    n++;
    RUN_UNTIL(count_open(n) == n &&
                  atomic_load(&per_loop[0]) + atomic_load(&per_loop[1]) == n,
              3000);
    REQUIRE(count_open(n) == n);
  }
  REQUIRE(atomic_load(&per_loop[0]) > 0 && atomic_load(&per_loop[1]) > 0);
  for (i = 0; i < n; i++) {
    int k = snprintf(buf, sizeof(buf), "who:%d", i);
    wsx_socket_send_text(C[i].s, buf, (size_t)k);
  }
  RUN_UNTIL(mapped(n), 3000);
  REQUIRE(mapped(n));
  for (i = 0; i < n; i++)
    wsx_socket_send_text(C[i].s, "echo:e!", 7);
  RUN_UNTIL(all_echoed(n), 3000);
  CHECK(all_echoed(n));
  for (i = 0; i < n; i++)
    on[atomic_load(&loop_of[i]) - 1] = i;
  REQUIRE(on[0] >= 0 && on[1] >= 0);
  /* From loop 0's thread, then loop 1's, then this (foreign) thread. */
  wsx_socket_send_text(C[on[0]].s, "pub:p0", 6);
  RUN_UNTIL(all_from(n, 0), 3000);
  wsx_socket_send_text(C[on[1]].s, "pub:p1", 6);
  RUN_UNTIL(all_from(n, 1), 3000);
  CHECK_INT(wsx_server_group_publish(G, "all", 3, "p2:foreign", 10,
                                     WSX_OP_TEXT, 0),
            0);
  RUN_UNTIL(all_from(n, 2), 3000);
  for (i = 0; i < BURST; i++) {
    int k = snprintf(buf, sizeof(buf), "b:%d", i);
    REQUIRE(wsx_server_group_publish(G, "all", 3, buf, (size_t)k,
                                     WSX_OP_BINARY, 0) == 0);
  }
  RUN_UNTIL(all_burst(n), 5000);
  run_for(50); /* anything extra would arrive now */
  for (i = 0; i < n; i++) {
    CHECK_INT(C[i].from[0], 1);
    CHECK_INT(C[i].from[1], 1);
    CHECK_INT(C[i].from[2], 1);
    CHECK_INT(C[i].burst_next, BURST);
    CHECK_INT(C[i].bad, 0);
  }
  CHECK_INT(wsx_server_group_publish(G, "all", 0, "x", 1, WSX_OP_TEXT, 0),
            WSX_E_INVALID);
  for (i = 0; i < n; i++)
    wsx_socket_close(C[i].s, 0, NULL);
  RUN_UNTIL(all_closed(n), 3000);
  CHECK(all_closed(n));
  wsx_server_group_stop(G);
  CHECK_INT(wsx_server_group_publish(G, "all", 3, "late", 4, WSX_OP_TEXT, 0),
            WSX_E_STATE);
  wsx_server_group_free(G);
  CHECK_INT(atomic_load(&loops_started), 2);
  CHECK_INT(atomic_load(&loops_stopped), 2);
  CHECK_INT(atomic_load(&servers_closed), 2);
  uv_close((uv_handle_t *)&poll_tick, NULL);
  run_for(100);
  CHECK_INT(ev_finish(), 0);
}

TEST(two_loops_publish_everywhere_once) { group_run(0); }

/* The acceptor (forced; chosen by itself where SO_REUSEPORT is missing):
 * connections land on both loops, echo works, publications reach all. */
TEST(acceptor_two_loops) { group_run(1); }

/* A group that never started frees its loops on the caller's thread. */
TEST(unstarted_group_frees) {
  wsx_server_group_options o = WSX_SERVER_GROUP_OPTIONS_INIT;
  wsx_server_group *g;
  int err = 0;
  o.threads = 3;
  g = wsx_server_group_new(&o, NULL, NULL, &err);
  REQUIRE(g != NULL);
  CHECK_INT(wsx_server_group_listen(g, "127.0.0.1", 0), WSX_OK);
  CHECK(wsx_server_group_of(wsx_server_group_server(g, 2)) == g);
  wsx_server_group_free(g);
  o.acceptor = 1; /* its listening socket closes too */
  g = wsx_server_group_new(&o, NULL, NULL, &err);
  REQUIRE(g != NULL);
  CHECK_INT(wsx_server_group_listen(g, "127.0.0.1", 0), WSX_OK);
  CHECK_INT(wsx_server_group_uses_acceptor(g), 1);
  CHECK(wsx_server_group_port(g) > 0);
  wsx_server_group_free(g);
  o.acceptor = 0;
  o.threads = 1000;
  CHECK(wsx_server_group_new(&o, NULL, NULL, &err) == NULL);
  CHECK_INT(err, WSX_E_INVALID);
  o.struct_size = 0;
  CHECK(wsx_server_group_new(&o, NULL, NULL, &err) == NULL);
  CHECK_INT(err, WSX_E_STRUCT_SIZE);
}

TEST_MAIN(RUN(two_loops_publish_everywhere_once); RUN(acceptor_two_loops);
          RUN(unstarted_group_frees))
