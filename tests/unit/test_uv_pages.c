/* Message buffers from the loop's page allocator (issue 16; src/uv/budget.c
 * over src/common/pages.c): a 1 MiB echo reuses cached mappings instead of
 * mapping every message; the cache is released after a quiet second
 * without keeping the loop alive; it is empty while a server's budget is
 * past half full; a custom allocator is used for everything instead.
 * Client and server share one loop (so one page allocator). */
#include "helpers/count_alloc.h"
#include "test_uv_util.h"
#include "uv/core.h"

#define MiB ((size_t)1 << 20)

#if defined(__linux__) && !defined(WSX_PAGES_MALLOC)
#define MAPPED 1
#endif

static wsx__pages *pages(void) {
  wsx__loopctx *c = wsx__loopctx_find(&T.loop);
  return c ? &c->pages : NULL;
}

static uint8_t *pattern(size_t n, unsigned seed) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; p && i < n; i++)
    p[i] = (uint8_t)(i * 7u + seed + (i >> 12));
  return p;
}

/* The server echoes every message from its own buffer when it can take
 * it (wsx_socket_take_message + send_zc, freed in the release callback),
 * else by a copy. */
static struct {
  int taken, released;
  int hold;       /* keep taken buffers (in held[]) instead of echoing */
  void *held[4];
} Z;

static void on_release(void *data, size_t len, void *ud) {
  (void)len;
  Z.released++;
  wsx_socket_free_message(ud, data);
}

static void echo_message(wsx_socket *s, const wsx_message *m, void *ud) {
  size_t len = 0;
  void *own = wsx_socket_take_message(s, &len);
  (void)ud;
  if (!own) {
    wsx_socket_send(s, m->opcode, m->data, m->len, 0);
    return;
  }
  if (Z.hold && Z.taken < 4) {
    Z.held[Z.taken++] = own;
    return;
  }
  Z.taken++;
  wsx_socket_send_zc(s, m->opcode, own, len, on_release, s);
}

static void on_conn(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  T.s.sock = s;
}

static const wsx_socket_callbacks echo_cbs = {
    sizeof(wsx_socket_callbacks), NULL, echo_message, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL};

static int start_echo(wsx_server_options *o, wsx_socket_options *co) {
  static wsx_server_callbacks cb;
  memset(&Z, 0, sizeof(Z));
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.connection = on_conn;
  cb.socket = &echo_cbs;
  o->auto_accept = 1;
  if (start_server(NULL, o, &cb) != 0 || !connect_client("/", co))
    return -1;
  RUN_UNTIL(T.c.open, 3000);
  return T.c.open ? 0 : -1;
}

/* Sends `n` bytes and waits for the echo; 1 if it came back intact. */
static int echo(const uint8_t *p, size_t n, unsigned ms) {
  int before = T.c.message;
  size_t bytes = T.c.bytes;
  if (wsx_socket_send_binary(T.c.sock, p, n) < 0)
    return 0;
  RUN_UNTIL(T.c.message == before + 1, ms);
  return T.c.message == before + 1 && T.c.bytes - bytes == n &&
         memcmp(T.c.msg, p, sizeof(T.c.msg)) == 0;
}

static uint64_t now_ms(void) {
  uv_update_time(&T.loop);
  return uv_now(&T.loop);
}

/* Ten 1 MiB echoes map a few buffers, not one per message per side; the
 * freed mappings stay cached within the bound; a loop with nothing else
 * left ends at once (the release timer does not hold it). */
TEST(echo_reuses_mappings) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  uint8_t *p = pattern(MiB, 3);
  uint64_t t0;
  int i, good = 0;
  ev_reset();
  REQUIRE(p);
  REQUIRE(start_echo(&o, &co) == 0);
  REQUIRE(pages() && pages()->a.malloc);
  for (i = 0; i < 10; i++)
    good += echo(p, MiB, 5000);
  CHECK_INT(good, 10);
  CHECK_INT(Z.taken, 10);
  RUN_UNTIL(Z.released == 10, 3000);
  CHECK_INT(Z.released, 10);
#ifdef MAPPED
  /* server and client buffers: without the cache, 20 or more */
  CHECK(pages()->made <= 6);
  CHECK(pages()->ncache >= 1);
  CHECK(pages()->cached + pages()->slack <= pages()->limit);
  CHECK_INT(pages()->limit, 8 * MiB); /* min(8 MiB, 256 MiB / 32) */
#endif
  t0 = now_ms();
  wsx_socket_close(T.c.sock, 0, NULL);
  SHUTDOWN_AND_CHECK();
  CHECK(now_ms() - t0 < 900);
  free(p);
}

/* A second after the last mapping was cached, the cache is unmapped. */
TEST(cache_released_when_quiet) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  uint8_t *p = pattern(2 * MiB, 4);
  uint64_t t0;
  ev_reset();
  REQUIRE(p);
  REQUIRE(start_echo(&o, &co) == 0);
  CHECK(echo(p, 2 * MiB, 5000));
  RUN_UNTIL(Z.released == 1, 3000);
#ifdef MAPPED
  CHECK(pages()->ncache >= 1);
  t0 = now_ms();
  RUN_UNTIL(pages()->ncache == 0, 3000);
  CHECK_INT(pages()->ncache, 0);
  CHECK_INT(pages()->cached, 0);
  CHECK(now_ms() - t0 >= 500);
  CHECK_INT(pages()->nmaps, 0); /* nothing live: idle connections */
#else
  (void)t0;
#endif
  /* and the connection still works */
  CHECK(echo(p, 2 * MiB, 5000));
  wsx_socket_close(T.c.sock, 0, NULL);
  SHUTDOWN_AND_CHECK();
  free(p);
}

/* While a server's budget is more than half in use, nothing is cached:
 * message memory and cache together stay within the budget. */
static struct {
  uv_check_t check;
  int hot, cached_while_hot;
} H;

static void on_check(uv_check_t *c) {
  size_t used = wsx_server_budget_used(T.srv, NULL);
  (void)c;
  if (used > 32 * MiB) {
    H.hot++;
    if (pages()->cached)
      H.cached_while_hot++;
  }
}

TEST(cache_dropped_under_budget_pressure) {
  enum { BIG = 40 << 20 };
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  uint8_t *p = pattern(BIG, 5);
  size_t peak = 0;
  ev_reset();
  memset(&H, 0, sizeof(H));
  REQUIRE(p);
  srv_sock(&o)->message_budget = 64 * MiB; /* cache bound: 2 MiB */
  srv_sock(&o)->message_budget_share = 100;
  srv_drv(&o)->max_length = BIG;
  cli_drv(&co)->max_length = BIG;
  REQUIRE(start_echo(&o, &co) == 0);
  /* three buffers kept by the application, then freed: three mappings
   * cached, more than the big message's first growth takes back */
  Z.hold = 1;
  for (int i = 0; i < 3; i++)
    CHECK(wsx_socket_send_binary(T.c.sock, p, 256 << 10) >= 0);
  RUN_UNTIL(Z.taken == 3, 5000);
  REQUIRE(Z.taken == 3);
  for (int i = 0; i < 3; i++)
    wsx_socket_free_message(T.s.sock, Z.held[i]);
  Z.hold = 0;
#ifdef MAPPED
  CHECK_INT(pages()->limit, 2 * MiB);
  CHECK_INT(pages()->ncache, 3);
#endif
  uv_check_init(&T.loop, &H.check);
  uv_check_start(&H.check, on_check);
  uv_unref((uv_handle_t *)&H.check);
  T.c.message = 0;
  CHECK(echo(p, BIG, 20000));
  (void)wsx_server_budget_used(T.srv, &peak);
  CHECK(peak > 32 * MiB);
  CHECK(H.hot > 0);
  CHECK_INT(H.cached_while_hot, 0);
#ifdef MAPPED
  CHECK_INT(pages()->limit, 2 * MiB); /* back once the message ended */
  CHECK(pages()->cached + pages()->slack <= 2 * MiB);
#endif
  uv_close((uv_handle_t *)&H.check, NULL);
  wsx_socket_close(T.c.sock, 0, NULL);
  SHUTDOWN_AND_CHECK();
  free(p);
}

/* With an allocator of the application's, every message buffer comes from
 * it (taken ones are freed to it) and the page allocator is never set up. */
static tc_counter mem;

TEST(custom_allocator_bypasses_pages) {
  static wsx_allocator a = TC_ALLOCATOR(&mem);
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  uint8_t *p = pattern(2 * MiB, 6);
  size_t peak;
  ev_reset();
  memset(&mem, 0, sizeof(mem));
  REQUIRE(p);
  srv_drv(&o)->allocator = &a;
  cli_drv(&co)->allocator = &a;
  REQUIRE(start_echo(&o, &co) == 0);
  peak = mem.peak;
  CHECK(echo(p, 2 * MiB, 5000));
  RUN_UNTIL(Z.released == 1, 3000);
  CHECK_INT(Z.taken, 1);
  CHECK(mem.peak >= peak + 2 * MiB); /* the buffers were the allocator's */
  CHECK(pages() && !pages()->a.malloc);
  wsx_socket_close(T.c.sock, 0, NULL);
  SHUTDOWN_AND_CHECK();
  CHECK_INT(mem.cur, 0); /* every block went back to it */
  free(p);
}

TEST_MAIN(RUN(echo_reuses_mappings); RUN(cache_released_when_quiet);
          RUN(cache_dropped_under_budget_pressure);
          RUN(custom_allocator_bypasses_pages))
