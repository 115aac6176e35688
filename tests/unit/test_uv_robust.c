/*
 * Transport robustness of the libuv layer (issue 9): spans over UINT_MAX
 * bytes, SIGPIPE, SO_REUSEPORT errors, allocator hooks, timer heap
 * failures.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helpers/count_alloc.h"
#include "test_uv_util.h"
#include "wsx/eventsource.h"
#include "uv/internal.h"

/* ---- 1. uv_buf_t lengths are unsigned ---- */

TEST(uv_bufs_split_at_uint_max) {
  /* A synthetic span: the helper never dereferences it. */
  const char *base = (const char *)(uintptr_t)0x10000;
  size_t len = 2 * WSX__UV_BUF_MAX + 5;
  uv_buf_t b[4];
  unsigned n = 0;
  if (sizeof(size_t) <= sizeof(unsigned)) {
    printf("  (32-bit size_t: nothing to split)\n");
    return;
  }
  CHECK_INT(wsx__uv_bufs(b, 4, &n, base, len), len);
  REQUIRE(n == 3);
  CHECK(b[0].base == base && b[0].len == WSX__UV_BUF_MAX);
  CHECK(b[1].base == base + WSX__UV_BUF_MAX && b[1].len == WSX__UV_BUF_MAX);
  CHECK(b[2].base == base + 2 * WSX__UV_BUF_MAX && b[2].len == 5);
  CHECK_INT(wsx__uv_bufs_needed(len), 3);
  /* A full array: the helper says how much it covered. */
  n = 3;
  CHECK_INT(wsx__uv_bufs(b, 4, &n, base, len), WSX__UV_BUF_MAX);
  CHECK_INT(n, 4);
  n = 0;
  CHECK_INT(wsx__uv_bufs(b, 4, &n, base, 0), 0);
  CHECK_INT(n, 0);
  n = 0;
  CHECK_INT(wsx__uv_bufs(b, 4, &n, base, WSX__UV_BUF_MAX), WSX__UV_BUF_MAX);
  CHECK_INT(n, 1);
}

/* A raw client that upgrades, then counts every byte it reads. */
typedef struct counter_peer {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  uint64_t got; /* bytes after the 101 head */
  uint8_t first[16];
  uint8_t tail[8]; /* the last 8 bytes read */
  char head[512];
  size_t head_len;
  int head_done, eof;
} counter_peer;

static char big_rbuf[1 << 20];

static void cp_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)h, (void)sz;
  b->base = big_rbuf;
  b->len = sizeof(big_rbuf);
}

static void cp_take(counter_peer *p, const uint8_t *d, size_t n) {
  size_t i, k = n < sizeof(p->tail) ? n : sizeof(p->tail);
  for (i = 0; i < n && p->got + i < sizeof(p->first); i++)
    p->first[p->got + i] = d[i];
  p->got += n;
  memmove(p->tail, p->tail + k, sizeof(p->tail) - k);
  memcpy(p->tail + sizeof(p->tail) - k, d + n - k, k);
}

static void cp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  counter_peer *p = st->data;
  const uint8_t *d = (const uint8_t *)b->base;
  size_t len;
  if (n < 0) {
    p->eof = 1;
    if (!uv_is_closing((uv_handle_t *)st))
      uv_close((uv_handle_t *)st, NULL);
    return;
  }
  len = (size_t)n;
  while (!p->head_done && len) {
    if (p->head_len < sizeof(p->head) - 1)
      p->head[p->head_len++] = (char)*d;
    d++;
    len--;
    if (p->head_len >= 4 &&
        memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0)
      p->head_done = 1;
  }
  cp_take(p, d, len);
}

static void cp_on_connect(uv_connect_t *c, int status) {
  counter_peer *p = c->data;
  static char up[] = UPGRADE_HEAD("/");
  uv_buf_t b = uv_buf_init(up, sizeof(up) - 1);
  if (status < 0) {
    p->eof = 1;
    uv_close((uv_handle_t *)&p->tcp, NULL);
    return;
  }
  uv_read_start((uv_stream_t *)&p->tcp, cp_alloc, cp_read);
  uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, NULL);
}

static void cp_connect(counter_peer *p) {
  struct sockaddr_in a;
  memset(p, 0, sizeof(*p));
  p->tcp.data = p;
  p->conn.data = p;
  uv_tcp_init(&T.loop, &p->tcp);
  uv_ip4_addr("127.0.0.1", T.port, &a);
  uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&a,
                 cp_on_connect);
}

static uint64_t mem_available(void) {
  char line[256];
  unsigned long long kb = 0;
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
      break;
  fclose(f);
  return (uint64_t)kb * 1024;
}

static uint64_t huge_len;
static void *huge_payload;

static void huge_on_open(wsx_socket *s, void *ud) {
  on_open(s, ud);
  /* One message of 4 GiB + 16 zero bytes (from untouched pages), then a
   * marker that must follow its last byte. */
  wsx_socket_send_binary(s, huge_payload, (size_t)huge_len);
  wsx_socket_send_text(s, "END", 3);
}

/* A real 4 GiB + 16 byte message from the server to a counting reader. It
 * costs ~4 GiB of RAM (the socket copies what the kernel did not take) and
 * ~15 s on an idle machine (over 2 minutes on a loaded 2-core one), so it
 * runs only when asked (WSX_TEST_HUGE=1), in the normal build, with the
 * memory free. On the code before the fix it fails within 5 s: the payload
 * left cut to 16 bytes. */
TEST(send_over_4gib_arrives_whole) {
  wsx_server_options so;
  wsx_server_callbacks cb;
  counter_peer p;
  uint64_t last = 0, expect;
  int idle = 0;
  if (!getenv("WSX_TEST_HUGE")) {
    printf("  (skipped: set WSX_TEST_HUGE=1 to send 4 GiB over loopback)\n");
    return;
  }
#if defined(__SANITIZE_ADDRESS__)
  printf("  (skipped under ASan: needs 4 GiB of unshadowed memory)\n");
  return;
#endif
  if (sizeof(size_t) <= 4 || mem_available() < ((uint64_t)10 << 30)) {
    printf("  (skipped: less than 10 GiB of memory available)\n");
    return;
  }
  huge_len = ((uint64_t)1 << 32) + 16;
  huge_payload = mmap(NULL, (size_t)huge_len, PROT_READ,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(huge_payload != MAP_FAILED);
  ev_reset();
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  so.auto_accept = 1;
  srv_sock(&so)->max_buffered = SIZE_MAX;
  cb.connection = srv_on_connection;
  static wsx_socket_callbacks huge_cbs;
  huge_cbs = rec_cbs;
  huge_cbs.open = huge_on_open;
  cb.socket = &huge_cbs;
  REQUIRE(start_server(NULL, &so, &cb) == 0);
  cp_connect(&p);
  expect = 10 + huge_len + 5; /* header, payload, "END" frame */
  /* Bounded: stop when all arrived, at EOF, or after 5 s without a byte. */
  while (p.got < expect && !p.eof && idle < 50) {
    RUN_UNTIL(p.got != last || p.eof, 100);
    idle = p.got == last ? idle + 1 : 0;
    last = p.got;
  }
  CHECK(p.head_done);
  CHECK_INT(p.first[0], 0x82);
  CHECK_INT(p.first[1], 127);
  CHECK_INT(p.first[5], 1); /* 2^32 */
  CHECK_INT(p.first[9], 16);
  CHECK_INT(p.got, expect);
  CHECK_MEM(p.tail + 3, 5, "\x81\x03" "END", 5);
  munmap(huge_payload, (size_t)huge_len);
  if (!uv_is_closing((uv_handle_t *)&p.tcp))
    uv_close((uv_handle_t *)&p.tcp, NULL);
  SHUTDOWN_AND_CHECK();
}

/* ---- 2. SIGPIPE ---- */

/* The echo_server case: the server queued 8 MiB to a peer that does not
 * read, then the peer goes away. Runs in a child that leaves SIGPIPE at
 * SIG_DFL; returns the child's exit code. */
static int sigpipe_child(void) {
  static char big[8 << 20];
  static const char up[] = UPGRADE_HEAD("/");
  struct sigaction sa;
  raw_peer *p = calloc(1, sizeof(*p));
  int i;
  if (!p || sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
    return 10;
  ev_reset();
  if (start_server(NULL, NULL, NULL) != 0)
    return 11;
  raw_connect(p, up, sizeof(up) - 1, 1);
  RUN_UNTIL(T.s.open && p->in_len > 0, 3000);
  if (!T.s.open)
    return 12;
  /* The server stops reading (so it cannot learn of the close from a
   * read); the peer, having read the 101, closes; the server then writes
   * 8 MiB: the first bytes draw a RST, the next write meets EPIPE. */
  wsx_socket_pause(T.s.sock);
  raw_close(p);
  RUN_UNTIL(p->closed, 1000);
  uv_sleep(50); /* the FIN has arrived */
  for (i = 0; i < 20 && T.s.close == 0; i++) {
    if (T.s.sock)
      wsx_socket_send_binary(T.s.sock, big, i ? 65536 : sizeof(big));
    RUN_UNTIL(T.s.close, 50);
  }
  if (T.s.close != 1)
    return 13;
  if (!p->closed)
    RUN_UNTIL(p->closed, 1000);
  wsx_server_free(T.srv);
  RUN_UNTIL(T.srv_closed, 3000);
  run_for(1000);
  free(p);
  return ev_finish() == 0 ? 0 : 14;
}

TEST(peer_gone_mid_send_does_not_raise_sigpipe) {
  int st = 0;
  pid_t pid;
  fflush(stdout);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    _exit(sigpipe_child());
  }
  REQUIRE(waitpid(pid, &st, 0) == pid);
  if (WIFSIGNALED(st))
    TEST_FAILF_("the server process died of signal %d%s", WTERMSIG(st),
                WTERMSIG(st) == SIGPIPE ? " (SIGPIPE)" : "");
  else
    CHECK_INT(WEXITSTATUS(st), 0);
}

static void app_sigpipe_handler(int sig) { (void)sig; }

/* In a child: an application's own handler survives the library's first
 * object; a default disposition becomes SIG_IGN. */
static int sigpipe_disposition_child(void) {
  struct sigaction sa;
  int err;
  wsx_server *srv;
  signal(SIGPIPE, app_sigpipe_handler);
  ev_reset();
  srv = wsx_server_new(&T.loop, NULL, NULL, NULL, &err);
  if (!srv)
    return 20;
  if (sigaction(SIGPIPE, NULL, &sa) != 0 ||
      sa.sa_handler != app_sigpipe_handler)
    return 21;
  signal(SIGPIPE, SIG_DFL);
  if (wsx_ignore_sigpipe() != WSX_OK || sigaction(SIGPIPE, NULL, &sa) != 0 ||
      sa.sa_handler != SIG_IGN)
    return 22;
  wsx_server_free(srv);
  run_for(1000);
  return ev_finish() == 0 ? 0 : 23;
}

TEST(sigpipe_app_handler_left_alone) {
  int st = 0;
  pid_t pid;
  fflush(stdout);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0)
    _exit(sigpipe_disposition_child());
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK_INT(WEXITSTATUS(st), 0);
}

/* ---- 3. SO_REUSEPORT ---- */

/* Fault injection: this program's setsockopt() refuses SO_REUSEPORT while
 * fail_reuseport is set (a kernel without it, or a seccomp filter) and
 * passes everything else to the kernel. */
static int fail_reuseport;

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  if (fail_reuseport && level == SOL_SOCKET && name == SO_REUSEPORT) {
    errno = ENOPROTOOPT;
    return -1;
  }
  return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

TEST(reuse_port_failure_is_reported) {
  wsx_server_options so;
  int err, rc;
  ev_reset();
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  so.reuse_port = 1;
  T.srv = wsx_server_new(&T.loop, &so, NULL, NULL, &err);
  REQUIRE(T.srv != NULL);
  /* Works when the kernel takes the option... */
  CHECK_INT(wsx_server_listen(T.srv, "127.0.0.1", 0), WSX_OK);
  CHECK(wsx_server_port(T.srv) > 0);
  /* ...and fails, without listening, when it does not. */
  fail_reuseport = 1;
  rc = wsx_server_listen(T.srv, "127.0.0.1", 0);
  fail_reuseport = 0;
  CHECK_INT(rc, UV_ENOPROTOOPT);
  CHECK_STR(wsx_uv_strerror(rc), uv_strerror(UV_ENOPROTOOPT));
  wsx_server_free(T.srv);
  T.srv = NULL;
  run_for(3000);
  CHECK(!T.timed_out);
  CHECK_INT(ev_finish(), 0);
}

/* ---- 4. allocator hooks ---- */

/* A server and a client on a fresh loop, both with the counting allocator:
 * the loop's shared context (~90 KiB: receive and cork buffers, timer heap,
 * callback tables) goes through it too, and everything is given back. */
TEST(loop_context_uses_the_allocator) {
  tc_counter c = {0};
  wsx_allocator a = TC_ALLOCATOR(&c);
  wsx_server_options so;
  wsx_socket_options co;
  ev_reset();
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  co = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  so.auto_accept = 1;
  srv_drv(&so)->allocator = &a;
  cli_drv(&co)->allocator = &a;
  T.echo = 1;
  REQUIRE(start_server(NULL, &so, NULL) == 0);
  CHECK(c.cur >= sizeof(wsx__loopctx));
  REQUIRE(connect_client("/", &co) != NULL);
  RUN_UNTIL(T.c.open, 3000);
  REQUIRE(T.c.open);
  wsx_socket_send_text(T.c.sock, "hello", 5);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_INT(T.c.message, 1);
  wsx_socket_close(T.c.sock, 1000, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK(c.peak >= sizeof(wsx__loopctx) + 1000);
  SHUTDOWN_AND_CHECK();
  CHECK_INT(c.cur, 0);
}

/* Every allocation of wsx_server_new failing in turn (the loop context's
 * included): NULL with WSX_E_NOMEM, nothing leaked, nothing left open. */
TEST(server_new_allocation_failures) {
  long n;
  for (n = 1; n < 200; n++) {
    tc_counter c = {0};
    wsx_allocator a = TC_ALLOCATOR(&c);
    wsx_server_options so;
    wsx_server_callbacks cb;
    int err = 0;
    c.fail_at = n;
    ev_reset();
    so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
    cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
    cb.socket = &rec_cbs;
    srv_drv(&so)->allocator = &a;
    T.srv = wsx_server_new(&T.loop, &so, &cb, NULL, &err);
    if (T.srv) {
      wsx_server_free(T.srv);
      T.srv = NULL;
    } else {
      CHECK_INT(err, WSX_E_NOMEM);
    }
    run_for(1000);
    CHECK_INT(ev_finish(), 0);
    CHECK_INT(c.cur, 0);
    if ((long)c.calls < n)
      break; /* no call failed: every one has been tried */
  }
  CHECK(n > 2); /* the server, its context, its callback table at least */
}

/* ---- 5. timer heap ---- */

/* A client that connects and never sends its head must be closed by the
 * handshake timeout (or at once, when memory runs out) whichever
 * allocation fails: before, a failed timer heap insert left it with no
 * deadline, open for ever. */
TEST(allocation_failures_never_leave_a_connection_without_deadline) {
  long n;
  int tried = 0;
  for (n = 1; n < 400; n++) {
    tc_counter c = {0};
    wsx_allocator a = TC_ALLOCATOR(&c);
    wsx_server_options so;
    raw_peer *p = calloc(1, sizeof(*p));
    REQUIRE(p != NULL);
    ev_reset();
    so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
    so.auto_accept = 1;
    so.handshake_timeout = 100;
    srv_drv(&so)->allocator = &a;
    c.fail_at = n;
    if (start_server(NULL, &so, NULL) == 0) {
      tried++;
      raw_connect(p, "", 0, 1);
      RUN_UNTIL(p->eof || p->closed, 3000);
      if (!p->eof && !p->closed)
        TEST_FAILF_("allocation %ld failing: the silent client is still "
                    "connected after 3 s (handshake_timeout 100 ms)",
                    n);
      raw_close(p);
      RUN_UNTIL(p->closed, 1000);
    }
    if (T.srv) {
      wsx_server_free(T.srv);
      RUN_UNTIL(T.srv_closed, 3000);
    }
    run_for(1000);
    CHECK_INT(ev_finish(), 0);
    CHECK_INT(c.cur, 0);
    free(p);
    if (test_cur_failed_ || (long)c.calls < n)
      break;
  }
  printf("  (%ld allocations tried, %d with a client)\n", n, tried);
  CHECK(tried > 0);
}

/* ---- 6. one unit: milliseconds ---- */

static void count_tick(uv_timer_t *t) { (*(int *)t->data)++; }

/* ping_interval = 100 is 100 ms: while the test's own 50 ms timer ticks 12
 * times (~600 ms) the client receives about 6 pings (seconds would give
 * none). Counted against the loop's own timer, not the wall clock. */
TEST(socket_ping_interval_is_milliseconds) {
  wsx_server_options so;
  uv_timer_t tick;
  int ticks = 0;
  ev_reset();
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  so.auto_accept = 1;
  srv_sock(&so)->ping_interval = 100;
  REQUIRE(start_server(NULL, &so, NULL) == 0);
  REQUIRE(connect_client("/", NULL) != NULL);
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  REQUIRE(T.c.open);
  uv_timer_init(&T.loop, &tick);
  tick.data = &ticks;
  uv_timer_start(&tick, count_tick, 50, 50);
  RUN_UNTIL(ticks >= 12, 5000);
  uv_close((uv_handle_t *)&tick, NULL);
  CHECK(T.c.ping >= 3 && T.c.ping <= 8);
  if (T.c.ping < 3 || T.c.ping > 8)
    printf("  (%d pings in %d ticks of 50 ms)\n", T.c.ping, ticks);
  wsx_socket_close(T.c.sock, 1000, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

static void drop_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                      void *ud) {
  (void)srv, (void)req, (void)ud;
  T.s.message++;
  CHECK_INT(wsx_http_res_drop(res), WSX_OK);
  CHECK_INT(wsx_http_res_drop(res), WSX_E_CLOSED);
}

/* One name for "close now": wsx_http_res_drop, like wsx_socket_drop. */
TEST(http_res_drop_closes_without_response) {
  wsx_server_callbacks cb;
  raw_peer p;
  static const char get[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  ev_reset();
  cb = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
  cb.http_request = drop_http;
  REQUIRE(start_server(NULL, NULL, &cb) == 0);
  raw_connect(&p, get, sizeof(get) - 1, 1);
  RUN_UNTIL(p.closed, 3000);
  CHECK_INT(T.s.message, 1);
  CHECK(p.closed);
  CHECK_INT(p.in_len, 0); /* nothing was sent */
  SHUTDOWN_AND_CHECK();
}

/* One ready-state enum: the EventSource names are its values. */
TEST(one_ready_state_enum) {
  CHECK_INT(WSX_ES_CONNECTING, WSX_CONNECTING);
  CHECK_INT(WSX_ES_OPEN, WSX_OPEN);
  CHECK_INT(WSX_ES_CLOSED, WSX_CLOSED);
}

/* ---- wsx__try_write: uv_try_write's results through send() ---- */

static uv_tcp_t tw_srv, tw_cli, tw_acc;
static int tw_connected, tw_accepted;

static void tw_on_conn(uv_connect_t *c, int status) {
  (void)c;
  tw_connected = status == 0 ? 1 : -1;
}

static void tw_on_accept(uv_stream_t *l, int status) {
  if (status == 0) {
    uv_tcp_init(l->loop, &tw_acc);
    tw_accepted = uv_accept(l, (uv_stream_t *)&tw_acc) == 0 ? 1 : -1;
  }
}

static void tw_on_shut(uv_shutdown_t *r, int status) { (void)r, (void)status; }

/* Writes that the kernel takes return their length (one buffer and
 * several), a full socket gives UV_EAGAIN, a shut-down stream UV_EPIPE,
 * all as uv_try_write gives them; a pipe goes to uv_try_write itself. */
TEST(try_write_matches_uv_try_write) {
  static char big[65536];
  char hello[] = "hello", a[] = "ab", c[] = "cde", got[16];
  uv_buf_t one = uv_buf_init(hello, 5);
  uv_buf_t two[2] = {uv_buf_init(a, 2), uv_buf_init(c, 3)};
  uv_buf_t fill = uv_buf_init(big, sizeof(big));
  struct sockaddr_in addr;
  int namelen = sizeof(addr), i, r = 0, sv[2];
  uv_os_fd_t fd;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  uv_pipe_t pipe_h;
  size_t have = 0;
  ev_reset();
  tw_connected = tw_accepted = 0;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  REQUIRE(uv_tcp_init(&T.loop, &tw_srv) == 0);
  REQUIRE(uv_tcp_bind(&tw_srv, (const struct sockaddr *)&addr, 0) == 0);
  REQUIRE(uv_listen((uv_stream_t *)&tw_srv, 4, tw_on_accept) == 0);
  REQUIRE(uv_tcp_getsockname(&tw_srv, (struct sockaddr *)&addr, &namelen) == 0);
  uv_tcp_init(&T.loop, &tw_cli);
  REQUIRE(uv_tcp_connect(&creq, &tw_cli, (const struct sockaddr *)&addr,
                         tw_on_conn) == 0);
  RUN_UNTIL(tw_connected && tw_accepted, 3000);
  REQUIRE(tw_connected == 1 && tw_accepted == 1);
  CHECK_INT(wsx__try_write((uv_stream_t *)&tw_cli, &one, 1), 5);
  CHECK_INT(wsx__try_write((uv_stream_t *)&tw_cli, two, 2), 5);
  REQUIRE(uv_fileno((uv_handle_t *)&tw_acc, &fd) == 0);
  for (i = 0; i < 1000 && have < 10; i++) {
    ssize_t n = recv(fd, got + have, sizeof(got) - have, MSG_DONTWAIT);
    if (n > 0)
      have += (size_t)n;
    else
      usleep(1000);
  }
  CHECK_MEM(got, have, "helloabcde", 10);
  /* Nobody reads: the kernel's buffers fill up. */
  for (i = 0; i < 100000; i++)
    if ((r = wsx__try_write((uv_stream_t *)&tw_cli, &fill, 1)) < 0)
      break;
  CHECK_INT(r, UV_EAGAIN);
  CHECK_INT(uv_try_write((uv_stream_t *)&tw_cli, &fill, 1), UV_EAGAIN);
  REQUIRE(uv_shutdown(&sreq, (uv_stream_t *)&tw_cli, tw_on_shut) == 0);
  CHECK_INT(wsx__try_write((uv_stream_t *)&tw_cli, &one, 1), UV_EPIPE);
  CHECK_INT(uv_try_write((uv_stream_t *)&tw_cli, &one, 1), UV_EPIPE);
  /* Not TCP: libuv writes it. */
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  uv_pipe_init(&T.loop, &pipe_h, 0);
  REQUIRE(uv_pipe_open(&pipe_h, sv[0]) == 0);
  CHECK_INT(wsx__try_write((uv_stream_t *)&pipe_h, two, 2), 5);
  CHECK_INT(read(sv[1], got, sizeof(got)), 5);
  CHECK_MEM(got, 5, "abcde", 5);
  uv_close((uv_handle_t *)&pipe_h, NULL);
  close(sv[1]);
  uv_close((uv_handle_t *)&tw_cli, NULL);
  uv_close((uv_handle_t *)&tw_acc, NULL);
  uv_close((uv_handle_t *)&tw_srv, NULL);
  run_for(100);
  CHECK_INT(ev_finish(), 0);
}

TEST_MAIN(RUN(try_write_matches_uv_try_write); RUN(uv_bufs_split_at_uint_max);
          RUN(send_over_4gib_arrives_whole);
          RUN(peer_gone_mid_send_does_not_raise_sigpipe);
          RUN(sigpipe_app_handler_left_alone);
          RUN(reuse_port_failure_is_reported);
          RUN(loop_context_uses_the_allocator);
          RUN(server_new_allocation_failures);
          RUN(allocation_failures_never_leave_a_connection_without_deadline);
          RUN(socket_ping_interval_is_milliseconds);
          RUN(http_res_drop_closes_without_response); RUN(one_ready_state_enum))
