/* Issue 20 rows E and F, measured inside the process: the size of every
 * per-connection struct, and every heap block the server holds per idle
 * connection (count, requested bytes, malloc's usable bytes), after the
 * handshake and after one echo, plain and with permessage-deflate. The
 * checks bound what the server keeps per idle connection so that a field
 * or an allocation added to the idle path shows up here. */
#include <malloc.h>
#include <stdlib.h>

/* driver_int.h and uv/core.h each name an enum wsx__role. */
#define wsx__role wsx__drv_role
#include "driver/driver_int.h"
#undef wsx__role
#include "uv/internal.h"

#include "test_uv_util.h"

/* ---- a counting allocator that remembers each live block's size ---- */

#define SLOTS 65536u
static struct {
  void *p[SLOTS];
  size_t n[SLOTS];
  long live_blocks, live_req, live_usable, total_allocs;
} M;

static unsigned slot_of(const void *p) {
  uintptr_t h = (uintptr_t)p;
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  return (unsigned)(h >> 40) & (SLOTS - 1);
}

static void remember(void *p, size_t n) {
  unsigned i = slot_of(p);
  while (M.p[i])
    i = (i + 1) & (SLOTS - 1);
  M.p[i] = p;
  M.n[i] = n;
  M.live_blocks++;
  M.live_req += (long)n;
  M.live_usable += (long)malloc_usable_size(p) + 8;
}

static void forget(void *p) {
  unsigned i = slot_of(p), j, k;
  while (M.p[i] != p)
    i = (i + 1) & (SLOTS - 1);
  M.live_blocks--;
  M.live_req -= (long)M.n[i];
  M.live_usable -= (long)malloc_usable_size(p) + 8;
  M.p[i] = NULL;
  /* Backward-shift deletion keeps the probe chains intact. */
  for (j = (i + 1) & (SLOTS - 1); M.p[j]; j = (j + 1) & (SLOTS - 1)) {
    k = slot_of(M.p[j]);
    if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
      M.p[i] = M.p[j];
      M.n[i] = M.n[j];
      M.p[j] = NULL;
      i = j;
    }
  }
}

static void *c_malloc(size_t n, void *ud) {
  void *p = malloc(n);
  (void)ud;
  if (p) {
    remember(p, n);
    M.total_allocs++;
  }
  return p;
}

static void c_free(void *p, void *ud) {
  (void)ud;
  if (p) {
    forget(p);
    free(p);
  }
}

static void *c_realloc(void *p, size_t n, void *ud) {
  void *q;
  (void)ud;
  if (p)
    forget(p);
  q = realloc(p, n);
  if (q) {
    remember(q, n);
    M.total_allocs++;
  } else if (p) {
    remember(p, malloc_usable_size(p));
  }
  return q;
}

static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};

/* Live blocks by requested size: the breakdown printed per connection. */
static size_t snap_n[SLOTS];
static unsigned snap_len;

static void snapshot(void) {
  unsigned i;
  snap_len = 0;
  for (i = 0; i < SLOTS; i++)
    if (M.p[i])
      snap_n[snap_len++] = M.n[i];
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Prints the blocks live now that were not in the snapshot (sizes that
 * occur at least `nconn` times more than before, i.e. per connection). */
static void print_per_conn(int nconn) {
  static size_t now[SLOTS], before[SLOTS];
  unsigned i, j = 0, a = 0, b = 0, nb = snap_len;
  memcpy(before, snap_n, nb * sizeof(size_t));
  qsort(before, nb, sizeof(size_t), cmp_size);
  for (i = 0; i < SLOTS; i++)
    if (M.p[i])
      now[j++] = M.n[i];
  qsort(now, j, sizeof(size_t), cmp_size);
  while (a < j) {
    size_t sz = now[a];
    unsigned cn = 0, cb = 0;
    while (a < j && now[a] == sz)
      a++, cn++;
    while (b < nb && before[b] < sz)
      b++;
    while (b < nb && before[b] == sz)
      b++, cb++;
    if (cn > cb && (cn - cb) >= (unsigned)nconn)
      printf("  block: %zu bytes x %.2f per connection\n", sz,
             (double)(cn - cb) / nconn);
  }
}

/* ---- struct sizes ---- */

TEST(struct_sizes) {
  printf("  sizeof(wsx_socket)   %zu (stays while asleep)\n",
         sizeof(wsx_socket));
  printf("  sizeof(wsx__sock_act) %zu (uv_tcp_t/uv_pipe_t union %zu; "
         "+ the driver: freed while asleep)\n",
         sizeof(wsx__sock_act), sizeof(((wsx__sock_act *)0)->h));
  printf("  sizeof(uv_tcp_t)     %zu\n", sizeof(uv_tcp_t));
  printf("  sizeof(uv_timer_t)   %zu (none per connection: one per loop)\n",
         sizeof(uv_timer_t));
  printf("  sizeof(wsx_driver)   %zu\n", sizeof(wsx_driver));
  printf("  sizeof(wsx__hs)      %zu (freed at open)\n", sizeof(wsx__hs));
  printf("  sizeof(wsx_request)  %zu (freed at accept)\n", sizeof(wsx_request));
  printf("  sizeof(wsx__out)     %zu (only while the kernel is behind)\n",
         sizeof(wsx__out));
  printf("  sizeof(wsx__exts)    %zu\n", sizeof(wsx__exts));
  printf("  sizeof(wsx__ping)    %zu (per outstanding ping)\n",
         sizeof(wsx__ping));
  CHECK(sizeof(uv_tcp_t) <= sizeof(wsx__sock_act));
  /* What a sleeping connection keeps: the socket block (issue 20 row E:
   * <= 256 bytes per idle connection with its saved strings). */
  CHECK(sizeof(wsx_socket) <= 176);
}

/* ---- idle connections ---- */

#define NCONN 200
static ev_side sides[NCONN];

static int sum_open(void) {
  int m = 0, j;
  for (j = 0; j < NCONN; j++)
    m += sides[j].open;
  return m;
}
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

/* Opens NCONN connections to a counting server, reports what each holds
 * after the handshake and after one echo; returns the latter (usable
 * bytes per connection) in *warm and the former in *cold. */
static void measure(wsx_extension *ext, long *cold, long *warm,
                    long *blocks) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  wsx_extension *exts[] = {ext, NULL};
  long base_usable, base_blocks, base_req;
  int i, err;
  char url[64];
  ev_reset();
  memset(&M, 0, sizeof(M));
  memset(sides, 0, sizeof(sides));
  o.auto_accept = 1;
  srv_drv(&o)->allocator = &counting;
  if (ext) {
    srv_sock(&o)->extensions = exts;
    co.extensions = exts;
  }
  T.echo = 1;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  /* One connection first, closed again, so the loop's tables exist. */
  REQUIRE(wsx_socket_connect(&T.loop, url, &co, &rec_cbs, &sides[0], &err));
  RUN_UNTIL(sides[0].open == 1, 5000);
  wsx_socket_close(sides[0].sock, 0, NULL);
  RUN_UNTIL(sides[0].close == 1, 5000);
  RUN_UNTIL(0, 20);
  memset(sides, 0, sizeof(sides));
  base_usable = M.live_usable;
  base_blocks = M.live_blocks;
  base_req = M.live_req;
  snapshot();
  for (i = 0; i < NCONN; i++)
    REQUIRE(wsx_socket_connect(&T.loop, url, &co, &rec_cbs, &sides[i], &err));
  RUN_UNTIL(sum_open() == NCONN, 10000);
  REQUIRE(sum_open() == NCONN);
  RUN_UNTIL(0, 20);
  *cold = (M.live_usable - base_usable) / NCONN;
  printf("  after the handshake: %ld bytes (%ld requested) in %.2f blocks "
         "per connection\n",
         *cold, (M.live_req - base_req) / NCONN,
         (double)(M.live_blocks - base_blocks) / NCONN);
  print_per_conn(NCONN);
  for (i = 0; i < NCONN; i++)
    wsx_socket_send_text(sides[i].sock, "{\"type\":\"ping\"}", 15);
  RUN_UNTIL(sum_messages() == NCONN, 5000);
  RUN_UNTIL(0, 20);
  *warm = (M.live_usable - base_usable) / NCONN;
  *blocks = (M.live_blocks - base_blocks) / NCONN;
  printf("  after one echo:      %ld bytes (%ld requested) in %.2f blocks "
         "per connection\n",
         *warm, (M.live_req - base_req) / NCONN,
         (double)(M.live_blocks - base_blocks) / NCONN);
  print_per_conn(NCONN);
  for (i = 0; i < NCONN; i++)
    wsx_socket_close(sides[i].sock, 0, NULL);
  RUN_UNTIL(sum_closes() == NCONN, 5000);
  SHUTDOWN_AND_CHECK();
  CHECK_INT(M.live_blocks, 0);
}

TEST(plain_idle_connection) {
  long cold, warm, blocks;
  measure(NULL, &cold, &warm, &blocks);
  printf("  plain: %ld B after the handshake, %ld B after one echo\n", cold,
         warm);
  CHECK(warm <= cold);
  /* Awake (before hibernate_after; test_uv_hibernate measures a sleeping
   * one), 2026-12, x86_64 glibc: the socket block (192 with the 32 bytes
   * for a sleeping driver's url and protocol), its handle with
   * the embedded driver (a block apart so that it can go while the
   * connection sleeps), and the URL string. 1122 before issue 20's work;
   * 802 with the handle and driver inside the socket's block. A member or
   * an allocation added to the idle path fails here. */
  CHECK(warm <= 896);
  CHECK(blocks <= 3);
}

TEST(deflate_idle_connection) {
  long cold, warm, blocks;
  wsx_extension *d = wsx_deflate_new(NULL);
  REQUIRE(d != NULL);
  measure(d, &cold, &warm, &blocks);
  wsx_deflate_free(d);
  printf("  deflate: %ld B after the handshake, %ld B after one echo "
         "(context takeover: the zlib streams stay)\n",
         cold, warm);
  /* Row F: an idle permessage-deflate connection <= 2 KiB; no zlib stream
   * exists before the first message. */
  CHECK(cold <= 2048);
}

/* No context takeover both ways and free_idle_streams: the streams live only
 * while a message is (de)compressed, so a connection that echoed is as
 * small again as one that never did. */
TEST(deflate_no_takeover_idle_connection) {
  long cold, warm, blocks;
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.server_no_context_takeover = 1;
  o.client_no_context_takeover = 1;
  o.free_idle_streams = 1;
  wsx_extension *d = wsx_deflate_new(&o);
  REQUIRE(d != NULL);
  measure(d, &cold, &warm, &blocks);
  wsx_deflate_free(d);
  printf("  deflate, no context takeover: %ld B after the handshake, %ld B "
         "after one echo\n",
         cold, warm);
  CHECK(warm <= 2048);
}

/* A 512-byte window (max_window_bits 9) sizes the compressor's hash table
 * and pending buffer to it: with context takeover the streams stay, but
 * small (zlib's fixed state ~13 KiB, not ~300 KiB). */
TEST(deflate_small_window_connection) {
  long cold, warm, blocks;
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.server_max_window_bits = 9;
  o.client_max_window_bits = 9;
  wsx_extension *d = wsx_deflate_new(&o);
  REQUIRE(d != NULL);
  measure(d, &cold, &warm, &blocks);
  wsx_deflate_free(d);
  printf("  deflate, 9-bit windows: %ld B after the handshake, %ld B after "
         "one echo\n",
         cold, warm);
  CHECK(warm <= 32768);
}

TEST_MAIN(RUN(struct_sizes); RUN(plain_idle_connection);
          RUN(deflate_idle_connection);
          RUN(deflate_no_takeover_idle_connection);
          RUN(deflate_small_window_connection))
