/* Memory held by the server per idle WebSocket connection, counted with a
 * counting allocator (requested bytes plus malloc's own per-block cost as
 * reported by malloc_usable_size), and the steady path's allocations. */
#include <malloc.h>
#include <stdlib.h>

#include "test_uv_util.h"

static struct {
  long live_bytes;  /* requested */
  long live_usable; /* as malloc sized them (+8 bytes header each) */
  long live_blocks;
  long total_allocs;
} M;

static void *c_malloc(size_t n, void *ud) {
  void *p = malloc(n);
  (void)ud;
  if (p) {
    M.live_bytes += (long)n;
    M.live_usable += (long)malloc_usable_size(p) + 8;
    M.live_blocks++;
    M.total_allocs++;
  }
  return p;
}

static void c_free(void *p, void *ud) {
  (void)ud;
  if (!p)
    return;
  /* Requested sizes are not known here: track usable size only, and the
   * requested size through a header would distort what we measure. */
  M.live_usable -= (long)malloc_usable_size(p) + 8;
  M.live_blocks--;
  free(p);
}

static void *c_realloc(void *p, size_t n, void *ud) {
  void *q;
  long before = p ? (long)malloc_usable_size(p) + 8 : 0;
  (void)ud;
  q = realloc(p, n);
  if (q) {
    M.live_usable += (long)malloc_usable_size(q) + 8 - before;
    if (!p)
      M.live_blocks++;
    M.total_allocs++;
  }
  return q;
}

static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};

#define NCONN 200

static ev_side sides[NCONN];

static int sum_messages(void) {
  int m = 0, j;
  for (j = 0; j < NCONN; j++)
    m += sides[j].message;
  return m;
}

static int sum_closes(void) {
  int m = 0, j;
  for (j = 0; j < NCONN; j++)
    m += sides[j].close;
  return m;
}

TEST(bytes_per_idle_connection) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  long base_usable, base_blocks, per_conn, allocs_before;
  int i, opened, err;
  char url[64];
  ev_reset();
  memset(&M, 0, sizeof(M));
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  memset(sides, 0, sizeof(sides));
  o.auto_accept = 1;
  srv_drv(&o)->allocator = &counting;
  T.echo = 1;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  base_usable = M.live_usable;
  base_blocks = M.live_blocks;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  for (i = 0; i < NCONN; i++)
    REQUIRE(wsx_socket_connect(&T.loop, url, NULL, &rec_cbs, &sides[i], &err));
  opened = 0;
  {
    int k;
    for (k = 0; k < 200 && opened < NCONN; k++) {
      RUN_UNTIL(0, 10);
      for (opened = 0, i = 0; i < NCONN; i++)
        opened += sides[i].open;
    }
  }
  REQUIRE(opened == NCONN);
  /* One echo each so the steady path has been walked once. */
  for (i = 0; i < NCONN; i++)
    wsx_socket_send_text(sides[i].sock, "ping", 4);
  RUN_UNTIL(sum_messages() == NCONN, 5000);
  per_conn = (M.live_usable - base_usable) / NCONN;
  printf("  server memory per idle connection: %ld bytes in %ld blocks "
         "(sizeof(uv_tcp_t) %zu)\n",
         per_conn, (M.live_blocks - base_blocks) / NCONN, sizeof(uv_tcp_t));
  /* Target: 1024. Today: the socket (uv_tcp_t + 152 bytes of transport
   * state) ~408, the driver ~552, and the driver's server URL string in a
   * 256-byte buffer; this bound catches regressions of our share. */
  CHECK(per_conn <= 1280);
  /* Steady path: 10 more echoes per connection allocate nothing. */
  allocs_before = M.total_allocs;
  for (i = 0; i < NCONN; i++) {
    int k;
    for (k = 0; k < 10; k++)
      wsx_socket_send_text(sides[i].sock, "0123456789", 10);
  }
  RUN_UNTIL(sum_messages() == 11 * NCONN, 5000);
  printf("  allocations for %d echoes: %ld\n", 10 * NCONN,
         M.total_allocs - allocs_before);
  CHECK_INT(M.total_allocs - allocs_before, 0);
  for (i = 0; i < NCONN; i++)
    wsx_socket_close(sides[i].sock, 0, NULL);
  RUN_UNTIL(sum_closes() == NCONN, 5000);
  SHUTDOWN_AND_CHECK();
  CHECK_INT(M.live_blocks, 0);
  CHECK_INT(M.live_usable, 0);
}

TEST_MAIN(RUN(bytes_per_idle_connection))
