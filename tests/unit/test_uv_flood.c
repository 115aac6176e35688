/* Floods against a server over loopback (issue 16): a peer that floods
 * pings without reading is bounded by the backlog rule (reading stops above
 * the high-water mark, max_buffered drops it with 1008), send_timeout drops
 * a slow reader, and other connections keep being served. The attacker is
 * a blocking-socket thread, so it can flood while the server's loop runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <zlib.h>

#include "helpers/count_alloc.h"
#include "wsx/eventsource.h"
#include "wsx/extension.h"
#include "test_uv_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOOD_CLANG_ASAN 1
#endif
#endif
#ifndef FLOOD_CLANG_ASAN
#define FLOOD_CLANG_ASAN 0
#endif

/* ---- the attacker thread ---- */

typedef struct flood {
  pthread_t th;
  int port;
  int rcvbuf;              /* attacker's SO_RCVBUF (small: it never reads) */
  size_t limit;            /* stop after this many bytes of pings */
  _Atomic size_t sent;     /* bytes of ping frames the kernel took */
  _Atomic int blocked;     /* a send made no progress for 300 ms */
  _Atomic int reset;       /* the server closed the connection */
  _Atomic int done;
  _Atomic int stop;        /* main thread: give up (read by the thread) */
} flood;

static void *flood_main(void *arg) {
  static const char head[] =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  flood *f = arg;
  static char buf[131 * 500];
  char in[1024];
  size_t got = 0, i;
  struct sockaddr_in a;
  struct timeval tv = {0, 300 * 1000};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)f->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (f->rcvbuf)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &f->rcvbuf,
                     sizeof(f->rcvbuf));
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) < 0)
    goto out;
  while (got < sizeof(in) - 1) { /* the 101 response head */
    ssize_t n = recv(fd, in + got, sizeof(in) - 1 - got, 0);
    if (n <= 0)
      goto out;
    got += (size_t)n;
    in[got] = 0;
    if (strstr(in, "\r\n\r\n"))
      break;
  }
  /* Masked pings (mask 0) of 125 bytes, 500 to a batch; never read. */
  for (i = 0; i < 500; i++) {
    char *p = buf + i * 131;
    p[0] = (char)0x89;
    p[1] = (char)(0x80 | 125);
    memset(p + 2, 0, 4);
    memset(p + 6, 'p', 125);
  }
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  while (!f->limit && !f->stop)
    usleep(10000);
  while (!f->stop && atomic_load(&f->sent) < f->limit) {
    size_t off = 0;
    while (off < sizeof(buf) && !f->stop) {
      ssize_t n = send(fd, buf + off, sizeof(buf) - off, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        atomic_store(&f->blocked, 1);
        continue; /* keep pushing: the server may resume reading */
      }
      if (n <= 0) {
        atomic_store(&f->reset, 1);
        goto out;
      }
      atomic_store(&f->blocked, 0);
      off += (size_t)n;
      atomic_fetch_add(&f->sent, (size_t)n);
    }
  }
out:
  if (fd >= 0)
    close(fd);
  atomic_store(&f->done, 1);
  return NULL;
}

static void flood_start(flood *f, int rcvbuf, size_t limit) {
  memset(f, 0, sizeof(*f));
  f->port = T.port;
  f->rcvbuf = rcvbuf;
  f->limit = limit;
  REQUIRE(pthread_create(&f->th, NULL, flood_main, f) == 0);
}

static void flood_join(flood *f) {
  f->stop = 1;
  pthread_join(f->th, NULL);
}

/* ---- sampling the server side ---- */

static size_t peak_buffered;
static uv_timer_t tick;
static uv_check_t sampler;

static void sample(void) {
  if (T.s.sock) {
    size_t b = wsx_socket_buffered_amount(T.s.sock);
    if (b > peak_buffered)
      peak_buffered = b;
  }
}
static void on_tick(uv_timer_t *t) {
  (void)t;
  sample();
}
static void on_check(uv_check_t *c) {
  (void)c;
  sample();
}

static void sampling_start(void) {
  peak_buffered = 0;
  uv_timer_init(&T.loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  uv_unref((uv_handle_t *)&tick);
  uv_check_init(&T.loop, &sampler);
  uv_check_start(&sampler, on_check);
  uv_unref((uv_handle_t *)&sampler);
}

static void sampling_stop(void) {
  uv_close((uv_handle_t *)&tick, NULL);
  uv_close((uv_handle_t *)&sampler, NULL);
}

static tc_counter mem;
static wsx_allocator mem_alloc = TC_ALLOCATOR(&mem);

static wsx_server_options flood_opts(void) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  o.auto_accept = 1;
  srv_sock(&o);
  srv_drv(&o)->allocator = &mem_alloc;
  memset(&mem, 0, sizeof(mem));
  return o;
}

/* The first connection is the flooder's (T.s); later ones are probes. */
static ev_side probe_srv;
static wsx_socket *flooded;
static void on_conn(wsx_server *srv, wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  if (!flooded) {
    flooded = T.s.sock = s;
    wsx_socket_set_user_data(s, &T.s);
  } else {
    wsx_socket_set_user_data(s, &probe_srv);
  }
}

static int start(wsx_server_options *o) {
  static wsx_server_callbacks cb;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.connection = on_conn;
  cb.socket = &rec_cbs;
  flooded = NULL;
  memset(&probe_srv, 0, sizeof(probe_srv));
  return start_server(NULL, o, &cb);
}

/* A second, well-behaved connection is served during the flood: its ping
 * is answered at once. */
static void check_probe(void) {
  memset(&T.c, 0, sizeof(T.c));
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  CHECK(wsx_socket_ping(T.c.sock, "probe", 5, NULL, NULL) >= 0);
  RUN_UNTIL(T.c.pong, 3000);
  CHECK_INT(T.c.pong, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && probe_srv.close, 3000);
  CHECK_INT(T.c.close_code, 1000);
}

/* Pings without reading, default limits: the server stops reading once its
 * pongs back up, so the attacker's sends stall and our output stays near the
 * high-water mark (the old code read on and queued every pong). */
TEST(ping_flood_stops_reading) {
  wsx_server_options o = flood_opts();
  flood f;
  ev_reset();
  REQUIRE(start(&o) == 0);
  sampling_start();
  flood_start(&f, 4096, (size_t)96 << 20);
  RUN_UNTIL(T.s.open, 3000);
  RUN_UNTIL(atomic_load(&f.blocked) || atomic_load(&f.done), 20000);
  CHECK(atomic_load(&f.blocked));
  CHECK(atomic_load(&f.sent) < ((size_t)96 << 20));
  run_for(300); /* stays stalled: no reading resumes while nobody reads */
  CHECK(atomic_load(&f.blocked));
  /* Bounded: the high-water mark (16 KiB) plus one read's worth of pongs. */
  CHECK(peak_buffered <= 16384 + 65536 + 16384);
  CHECK(mem.peak < (size_t)4 << 20);
  CHECK_INT(T.s.close, 0);
  check_probe();
  flood_join(&f);
  RUN_UNTIL(T.s.close, 3000);
  CHECK_INT(T.s.close, 1);
  sampling_stop();
  SHUTDOWN_AND_CHECK();
}

/* Pongs count toward max_buffered: past it the flooder is dropped with
 * 1008 (here max_buffered is under the high-water mark, so reading never
 * pauses and the limit is what stops it). */
TEST(ping_flood_hits_max_buffered) {
  wsx_server_options o = flood_opts();
  flood f;
  ev_reset();
  srv_sock(&o)->high_water_mark = (size_t)4 << 20;
  srv_sock(&o)->max_buffered = 256 * 1024;
  REQUIRE(start(&o) == 0);
  sampling_start();
  flood_start(&f, 4096, (size_t)96 << 20);
  RUN_UNTIL(T.s.close, 20000);
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1008);
  CHECK_INT(T.s.error_code, WSX_E_POLICY);
  CHECK(peak_buffered <= 256 * 1024 + 65536);
  CHECK(atomic_load(&f.sent) < ((size_t)96 << 20));
  RUN_UNTIL(atomic_load(&f.done), 5000);
  CHECK(atomic_load(&f.reset));
  check_probe();
  flood_join(&f);
  sampling_stop();
  SHUTDOWN_AND_CHECK();
}

/* send_timeout: a flooder whose pongs stay above the high-water mark is
 * dropped (1008, WSX_E_TIMEOUT) once the timeout passes. */
TEST(ping_flood_send_timeout) {
  wsx_server_options o = flood_opts();
  flood f;
  uint64_t t0;
  ev_reset();
  srv_sock(&o)->send_timeout = 300;
  REQUIRE(start(&o) == 0);
  sampling_start();
  flood_start(&f, 4096, (size_t)96 << 20);
  RUN_UNTIL(T.s.open, 3000);
  RUN_UNTIL(atomic_load(&f.blocked) || T.s.close, 20000);
  t0 = uv_now(&T.loop);
  RUN_UNTIL(T.s.close, 5000);
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1008);
  CHECK_INT(T.s.error_code, WSX_E_TIMEOUT);
  CHECK(uv_now(&T.loop) - t0 <= 2000);
  CHECK(peak_buffered <= 16384 + 65536 + 16384);
  RUN_UNTIL(atomic_load(&f.done), 5000);
  CHECK(atomic_load(&f.reset));
  check_probe();
  flood_join(&f);
  sampling_stop();
  SHUTDOWN_AND_CHECK();
}

/* send_timeout with the application's own sends: a reader that never
 * drains is dropped; before the timeout it is kept (the default, 0, never
 * drops it: see ping_flood_stops_reading). */
TEST(slow_reader_send_timeout) {
  static uint8_t chunk[65536];
  wsx_server_options o = flood_opts();
  flood f;
  int i, rc = 0;
  uint64_t t0;
  ev_reset();
  srv_sock(&o)->send_timeout = 250;
  REQUIRE(start(&o) == 0);
  flood_start(&f, 4096, 0); /* handshake only, then sleeps, never reads */
  RUN_UNTIL(T.s.open, 3000);
  REQUIRE(T.s.sock);
  for (i = 0; i < 4096 && rc == 0; i++) {
    rc = wsx_socket_send_binary(T.s.sock, chunk, sizeof(chunk));
    uv_run(&T.loop, UV_RUN_NOWAIT);
  }
  CHECK_INT(rc, 1);
  t0 = uv_now(&T.loop);
  run_for(150);
  CHECK_INT(T.s.close, 0);
  RUN_UNTIL(T.s.close, 3000);
  CHECK_INT(T.s.close_code, 1008);
  CHECK_INT(T.s.error_code, WSX_E_TIMEOUT);
  CHECK(uv_now(&T.loop) - t0 >= 200);
  check_probe();
  flood_join(&f);
  SHUTDOWN_AND_CHECK();
}

/* ---- the message memory budget (small budgets, so quick) ---- */

/* A raw sender thread: handshake, then `len` bytes of `data`, then waits
 * for `stop` without reading. */
typedef struct sender {
  pthread_t th;
  int port;
  const uint8_t *data;
  size_t len;
  int raw; /* data carries its own handshake */
  _Atomic int sent, stop;
} sender;

static void *sender_main(void *arg) {
  static const char head[] =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  sender *p = arg;
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  size_t off = 0;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)p->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      (p->raw || send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) > 0)) {
    while (off < p->len) {
      ssize_t n = send(fd, p->data + off, p->len - off, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      off += (size_t)n;
    }
    atomic_store(&p->sent, 1);
    while (!atomic_load(&p->stop))
      usleep(5000);
  }
  if (fd >= 0)
    close(fd);
  return NULL;
}

static uint8_t *frame_head(uint8_t *h, uint64_t len) {
  int i;
  h[0] = 0x82; /* binary, fin */
  h[1] = 0x80 | 127;
  for (i = 0; i < 8; i++)
    h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  memset(h + 10, 0, 4); /* mask 0 */
  return h + 14;
}

/* One connection may hold its share (here 25% of 1 MiB) and no more: a
 * 512 KiB message that arrives in pieces is refused with 1009 although
 * max_length (64 MiB) allows it. */
TEST(budget_share_refuses_1009) {
  static uint8_t big[512 * 1024];
  wsx_server_options o = flood_opts();
  ev_reset();
  srv_sock(&o)->message_budget = 1 << 20;
  REQUIRE(start(&o) == 0);
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK(wsx_socket_send_binary(T.c.sock, big, sizeof(big)) >= 0);
  RUN_UNTIL(T.s.close && T.c.close, 5000);
  CHECK_INT(T.s.close_code, 1009);
  CHECK_INT(T.s.error_code, WSX_E_MESSAGE_TOO_BIG);
  CHECK_INT(T.c.close_code, 1009);
  CHECK_INT(T.s.message, 0);
  SHUTDOWN_AND_CHECK();
}

/* The budget is shared: while a raw peer holds 500 KiB of an unfinished
 * message and sends no more, a second connection's 600 KiB message does
 * not fit in the 1 MiB budget (share 100%): it waits (parked) for
 * message_budget_wait, 300 ms, and is then refused with 1013; once the
 * first connection is gone its memory is back and the same message goes
 * through. */
TEST(budget_exhausted_refuses_1013) {
  static uint8_t big[600 * 1024];
  static uint8_t part[14 + 500 * 1024];
  wsx_server_options o = flood_opts();
  sender a;
  size_t peak_held;
  uint64_t t0;
  ev_reset();
  srv_sock(&o)->message_budget = 1 << 20;
  srv_sock(&o)->message_budget_share = 100;
  srv_sock(&o)->message_budget_wait = 300;
  REQUIRE(start(&o) == 0);
  memset(&a, 0, sizeof(a));
  a.port = T.port;
  a.data = part;
  a.len = sizeof(part);
  (void)frame_head(part, 600 * 1024);
  REQUIRE(pthread_create(&a.th, NULL, sender_main, &a) == 0);
  RUN_UNTIL(T.s.open && atomic_load(&a.sent), 5000);
  run_for(100); /* the server reads what was sent */
  peak_held = mem.cur;
  CHECK(peak_held >= 500 * 1024);
  /* The second connection, a wsx client: refused, try again later. */
  memset(&probe_srv, 0, sizeof(probe_srv));
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  t0 = uv_hrtime();
  CHECK(wsx_socket_send_binary(T.c.sock, big, sizeof(big)) >= 0);
  RUN_UNTIL(probe_srv.close && T.c.close, 5000);
  CHECK((uv_hrtime() - t0) / 1000000 >= 250); /* waited, then refused */
  CHECK((uv_hrtime() - t0) / 1000000 < 3000);
  CHECK_INT(probe_srv.close_code, 1013);
  CHECK_INT(probe_srv.error_code, WSX_E_MESSAGE_TOO_BIG);
  CHECK_INT(T.c.close_code, 1013);
  CHECK_INT(T.s.close, 0); /* the holder is not affected */
  /* The holder goes away: its buffer is freed and the budget is back. */
  atomic_store(&a.stop, 1);
  pthread_join(a.th, NULL);
  RUN_UNTIL(T.s.close, 3000);
  CHECK(mem.cur < 256 * 1024);
  memset(&probe_srv, 0, sizeof(probe_srv));
  memset(&T.c, 0, sizeof(T.c));
  REQUIRE(connect_client("/", NULL));
  RUN_UNTIL(T.c.open, 3000);
  CHECK(wsx_socket_send_binary(T.c.sock, big, sizeof(big)) >= 0);
  RUN_UNTIL(probe_srv.message, 5000);
  CHECK_INT(probe_srv.message, 1);
  CHECK_INT(probe_srv.bytes, sizeof(big));
  /* Message over: the large buffer was freed, not kept. */
  CHECK(mem.cur < 256 * 1024);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && probe_srv.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* ---- inflate yields to the loop ---- */

/* A permessage-deflate message of `raw` zero bytes, one masked frame (mask
 * 0) after a handshake that offers the extension. */
static uint8_t *bomb_bytes(size_t raw, size_t *out_len) {
  static const char head[] =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  static uint8_t zeros[1 << 16];
  size_t cap = raw / 512 + 4096, hl = sizeof(head) - 1, done = 0, clen;
  uint8_t *buf = malloc(hl + 14 + cap), *z = buf + hl + 14;
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  if (!buf || deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY))
    return NULL;
  zs.next_out = z;
  zs.avail_out = (uInt)cap;
  while (done < raw) {
    size_t n = raw - done < sizeof(zeros) ? raw - done : sizeof(zeros);
    zs.next_in = zeros;
    zs.avail_in = (uInt)n;
    (void)deflate(&zs, done + n == raw ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    done += n;
  }
  clen = cap - zs.avail_out - 4; /* without 00 00 ff ff */
  deflateEnd(&zs);
  memcpy(buf, head, hl);
  (void)frame_head(buf + hl, clen);
  buf[hl] = 0xc2; /* fin, RSV1 (compressed), binary */
  *out_len = hl + 14 + clen;
  return buf;
}

static uint64_t ping_sent_ns, worst_ns;
static int pongs;
static void probe_pong(wsx_socket *s, const uint8_t *p, size_t n, void *ud) {
  uint64_t dt = uv_hrtime() - ping_sent_ns;
  (void)p, (void)n, (void)ud;
  if (dt > worst_ns)
    worst_ns = dt;
  pongs++;
  ping_sent_ns = uv_hrtime();
  (void)wsx_socket_ping(s, "p", 1, NULL, NULL);
}

/* While one connection inflates a 256 MiB bomb (about 250 KB on the wire),
 * a probe connection on the same loop keeps getting its pongs within a
 * few milliseconds: inflate runs in slices between which the loop serves
 * the others (the old code inflated the whole message in one callback). */
TEST(inflate_yields_to_probe) {
  wsx_server_options o = flood_opts();
  wsx_extension *ext = wsx_deflate_new(NULL);
  wsx_extension *exts[2] = {ext, NULL};
  wsx_socket_callbacks pcb = WSX_SOCKET_CALLBACKS_INIT;
  wsx_socket *probe;
  sender a;
  size_t blen;
  uint8_t *bomb = bomb_bytes((size_t)256 << 20, &blen);
  int err;
  char url[64];
  REQUIRE(ext && bomb);
  ev_reset();
  srv_sock(&o)->extensions = exts;
  srv_sock(&o)->message_budget = SIZE_MAX;
  srv_drv(&o)->allocator = NULL; /* libc realloc, as in production */
  srv_drv(&o)->max_length = (uint64_t)512 << 20;
  REQUIRE(start(&o) == 0);
  /* The probe first (so it is not the connection in T.s). */
  pcb.pong = probe_pong;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", T.port);
  flooded = (wsx_socket *)1; /* every server socket is a probe for now */
  probe = wsx_socket_connect(&T.loop, url, NULL, &pcb, NULL, &err);
  REQUIRE(probe);
  RUN_UNTIL(probe_srv.open, 3000);
  flooded = NULL;
  pongs = 0;
  worst_ns = 0;
  ping_sent_ns = uv_hrtime();
  (void)wsx_socket_ping(probe, "p", 1, NULL, NULL);
  RUN_UNTIL(pongs >= 3, 3000);
  worst_ns = 0;
  memset(&a, 0, sizeof(a));
  a.port = T.port;
  a.data = bomb;
  a.len = blen;
  a.raw = 1;
  REQUIRE(pthread_create(&a.th, NULL, sender_main, &a) == 0);
  RUN_UNTIL(T.s.message || T.s.close, 60000);
  CHECK_INT(T.s.message, 1);
  CHECK_INT(T.s.bytes, (size_t)256 << 20);
  /* The bomb is decoded in at least 256 MiB / 512 KiB turns, each of
   * which lets the probe through (unsliced, a few reads did it all). */
  CHECK(pongs >= 300);
  printf("# probe: %d pongs while inflating, worst %.1f ms\n", pongs,
         (double)worst_ns / 1e6);
#if !defined(__SANITIZE_ADDRESS__) && !FLOOD_CLANG_ASAN
  /* Loose (a loaded machine). Not under ASan, whose realloc copies: the
   * buffer's last doubling (128 -> 256 MiB) alone takes a second there. */
  CHECK(worst_ns < 250u * 1000000u);
#endif
  atomic_store(&a.stop, 1);
  pthread_join(a.th, NULL);
  wsx_socket_drop(probe, 0, NULL);
  RUN_UNTIL(T.s.close && probe_srv.close, 3000);
  free(bomb);
  SHUTDOWN_AND_CHECK();
  wsx_deflate_free(ext);
}

/* ---- an adopted EventSource stream follows the backlog rule ---- */

static size_t es_peer_sent;
static void es_push(uv_pipe_t *peer) {
  static char junk[16384];
  uv_buf_t b = uv_buf_init(junk, sizeof(junk));
  int n, i;
  for (i = 0; i < 64 && (n = uv_try_write((uv_stream_t *)peer, &b, 1)) > 0;
       i++)
    es_peer_sent += (size_t)n;
}
static void es_null_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)st, (void)n, (void)b;
}
static void es_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  static char buf[65536];
  (void)h, (void)sz;
  *b = uv_buf_init(buf, sizeof(buf));
}

/* While its events wait above the high-water mark, the stream does not
 * read what the client sends (it would only be discarded, at our cost):
 * the client's writes stall; once the client reads, reading resumes. */
TEST(eventsource_backlog_stops_reading) {
  static char head[] = "GET / HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n";
  static char chunk[65536];
  wsx_header hdrs[4];
  wsx_http_request req;
  wsx_http_state st = {0};
  wsx_eventsource_options o = WSX_EVENTSOURCE_OPTIONS_INIT;
  uv_pipe_t ours, peer;
  wsx_eventsource *es;
  int fds[2], err, i, n = 0;
  size_t stalled;
  ev_reset();
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  uv_pipe_init(&T.loop, &ours, 0);
  uv_pipe_init(&T.loop, &peer, 0);
  REQUIRE(uv_pipe_open(&ours, fds[0]) == 0);
  REQUIRE(uv_pipe_open(&peer, fds[1]) == 0);
  REQUIRE(wsx_http_parse_request(head, sizeof(head) - 1, &req, hdrs, 4, 0,
                                 &st, NULL) > 0);
  o.high_water_mark = 64 * 1024;
  o.max_buffered = 64 << 20;
  es = wsx_eventsource_adopt(&T.loop, (uv_stream_t *)&ours, &req, &o, NULL,
                             NULL, &err);
  REQUIRE(es);
  while (wsx_eventsource_send(es, chunk, sizeof(chunk), NULL, NULL) == 0 &&
         n++ < 1000)
    uv_run(&T.loop, UV_RUN_NOWAIT);
  CHECK(wsx_eventsource_buffered_amount(es) > 64 * 1024);
  /* The client pushes bytes and never reads: they stop being taken. */
  es_peer_sent = 0;
  for (i = 0; i < 50; i++) {
    es_push(&peer);
    uv_run(&T.loop, UV_RUN_NOWAIT);
  }
  stalled = es_peer_sent;
  for (i = 0; i < 50; i++) {
    es_push(&peer);
    uv_run(&T.loop, UV_RUN_NOWAIT);
  }
  CHECK_INT(es_peer_sent, stalled);
  /* The client reads: the events drain, our side reads again. */
  uv_read_start((uv_stream_t *)&peer, es_alloc, es_null_read);
  for (i = 0; i < 500 && wsx_eventsource_buffered_amount(es) > 64 * 1024;
       i++)
    run_for(5);
  CHECK(wsx_eventsource_buffered_amount(es) <= 64 * 1024);
  for (i = 0; i < 50; i++) {
    es_push(&peer);
    run_for(2);
  }
  CHECK(es_peer_sent > stalled + 65536);
  wsx_eventsource_close(es);
  uv_close((uv_handle_t *)&peer, NULL);
  run_for(200);
  CHECK_INT(ev_finish(), 0);
}

/* The server is freed while a connection holds budget (an unfinished
 * message, within its share): the connection's memory goes back before
 * the server's budget does (ASan: no use after free), nothing leaks. */
TEST(budget_held_at_server_free) {
  static uint8_t part[14 + 300 * 1024];
  wsx_server_options o = flood_opts();
  sender a;
  ev_reset();
  srv_sock(&o)->message_budget = 1 << 20;
  srv_sock(&o)->message_budget_share = 100;
  srv_sock(&o)->close_timeout = 200; /* the peer never answers the close */
  REQUIRE(start(&o) == 0);
  memset(&a, 0, sizeof(a));
  a.port = T.port;
  a.data = part;
  a.len = sizeof(part);
  (void)frame_head(part, 400 * 1024);
  REQUIRE(pthread_create(&a.th, NULL, sender_main, &a) == 0);
  RUN_UNTIL(T.s.open && atomic_load(&a.sent), 5000);
  /* Direct reads grow the message buffer with the bytes that arrived, not
   * with the length the header announced: wait for them (bounded). */
  RUN_UNTIL(mem.cur >= 256 * 1024, 3000);
  CHECK(mem.cur >= 256 * 1024);
  wsx_server_free(T.srv);
  T.srv = NULL;
  RUN_UNTIL(T.srv_closed && T.s.close, 3000);
  CHECK_INT(T.s.close, 1);
  run_for(50); /* the loop context goes with its handles' close callbacks */
  CHECK_INT(mem.cur, 0);
  atomic_store(&a.stop, 1);
  pthread_join(a.th, NULL);
  SHUTDOWN_AND_CHECK();
}

TEST_MAIN(RUN(budget_held_at_server_free); RUN(eventsource_backlog_stops_reading); RUN(inflate_yields_to_probe); RUN(budget_share_refuses_1009); RUN(budget_exhausted_refuses_1013);
          RUN(ping_flood_stops_reading); RUN(ping_flood_hits_max_buffered);
          RUN(ping_flood_send_timeout); RUN(slow_reader_send_timeout);)
