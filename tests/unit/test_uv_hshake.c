/*
 * The server's handshake and closing path at the TCP level (issue 20, row
 * D): which side closes the TCP connection first (RFC 6455 7.1.1: the
 * server, so that it and not the client holds TIME_WAIT), the server's
 * close reply and its FIN in one segment, and TCP_NODELAY on accepted
 * sockets without a setsockopt call per connection.
 *
 * Linux only where the kernel's own figures are read (TCP_INFO segment
 * counts, /proc/net/tcp); elsewhere those tests print a "skip" line.
 */
#include "test_uv_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- setsockopt calls, counted (the library's and libuv's) ---- */

#if defined(__linux__) && defined(SYS_setsockopt)
#define HAVE_COUNTER 1
static int nodelay_calls; /* setsockopt(IPPROTO_TCP, TCP_NODELAY) */

/* Interposes the C library's setsockopt for this program (libuv's calls
 * too): counts TCP_NODELAY calls and makes the system call itself. */
int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  if (level == IPPROTO_TCP && name == TCP_NODELAY)
    nodelay_calls++;
  return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}
#else
#define HAVE_COUNTER 0
#endif

/* ---- a blocking raw client, the test loop pumped while it waits ---- */

static int raw_open(void) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)T.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The listen backlog takes it without the loop running. */
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int local_port(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &l) != 0)
    return -1;
  return ntohs(a.sin_port);
}

/* Runs the loop until fd is readable (or 3 s pass); 1 if readable. */
static int pump_until_readable(int fd) {
  uint64_t end = uv_hrtime() + 3000000000ull;
  struct pollfd p;
  while (uv_hrtime() < end) {
    uv_run(&T.loop, UV_RUN_NOWAIT);
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 1) == 1)
      return 1;
  }
  return 0;
}

static void pump_ms(unsigned ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
  while (uv_hrtime() < end) {
    uv_run(&T.loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
}

/* Sends the upgrade request and reads the 101 head; 0 on success. */
static int raw_upgrade(int fd) {
  static const char req[] = UPGRADE_HEAD("/");
  char buf[1024];
  size_t have = 0;
  if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
    return -1;
  while (have < sizeof buf - 1 && pump_until_readable(fd)) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0)
      return -1;
    have += (size_t)n;
    buf[have] = 0;
    if (strstr(buf, "\r\n\r\n"))
      return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
  }
  return -1;
}

/* The client's masked close frame, code 1000. */
static const uint8_t close_1000[8] = {0x88, 0x82, 1,        2,
                                      3,    4,    0x03 ^ 1, 0xe8 ^ 2};

#ifdef __linux__
typedef struct segs {
  unsigned in, data_in;
} segs;

/* The kernel's struct tcp_info (linux/tcp.h, append-only) as far as the
 * segment counts (Linux 4.6); the C library's copy stops earlier. */
typedef struct kernel_tcp_info {
  struct tcp_info base; /* up to tcpi_total_retrans */
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in;
} kernel_tcp_info;

static int segs_of(int fd, segs *s, int *state) {
  kernel_tcp_info ti;
  socklen_t l = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0 || l < sizeof ti)
    return -1;
  s->in = ti.segs_in;
  s->data_in = ti.data_segs_in;
  if (state)
    *state = ti.base.tcpi_state;
  return 0;
}

/* TCP states in /proc/net/tcp of 127.0.0.1:lport -> 127.0.0.1:rport
 * connections: how many are in TIME_WAIT (state 06). */
static int time_waits(int lport, int rport) {
  FILE *f = fopen("/proc/net/tcp", "r");
  char line[512];
  int n = 0;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    unsigned la, lp, ra, rp, st;
    if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X", &la, &lp, &ra, &rp, &st) ==
            5 &&
        (int)lp == lport && (int)rp == rport && st == 0x06)
      n++;
  }
  fclose(f);
  return n;
}
#endif

/* RFC 6455 7.1.1: after the client's close frame the server sends its
 * close reply and closes the TCP connection first, with the FIN in the
 * reply's segment: the client's socket is in CLOSE_WAIT when it sees the
 * end of the stream, and after the client's close frame it received one
 * data segment and no segment without data (a FIN of its own would be
 * one). A delayed ACK of the close frame (the server slower than the
 * delayed-ACK timer, e.g. under load) would add a segment without data, so
 * of 5 connections at least one must show none; with a separate FIN every
 * one shows at least one. */
TEST(close_reply_carries_the_fin) {
#ifndef __linux__
  printf("skip close_reply_carries_the_fin: Linux TCP_INFO only\n");
#else
  int i, with_fin = 0, close_wait = 0, data_ok = 0;
  ev_reset();
  CHECK_INT(start_server(NULL, NULL, NULL), 0);
  for (i = 0; i < 5; i++) {
    int fd = raw_open(), st = 0;
    segs a, b;
    char buf[64];
    ssize_t n;
    size_t got = 0;
    CHECK(fd >= 0);
    if (fd < 0)
      break;
    CHECK_INT(raw_upgrade(fd), 0);
    pump_ms(20); /* the 101's ACKs settle */
    CHECK_INT(segs_of(fd, &a, NULL), 0);
    CHECK(write(fd, close_1000, sizeof close_1000) ==
          (ssize_t)sizeof close_1000);
    /* the close reply (4 bytes), then the end of the stream */
    while (pump_until_readable(fd) &&
           (n = read(fd, buf + got, sizeof buf - got)) > 0)
      got += (size_t)n;
    CHECK_INT(got, 4);
    CHECK(got == 4 && memcmp(buf, "\x88\x02\x03\xe8", 4) == 0);
    CHECK_INT(segs_of(fd, &b, &st), 0);
    close_wait += st == TCP_CLOSE_WAIT; /* the server closed first */
    data_ok += b.data_in - a.data_in == 1;
    with_fin += (b.in - a.in) - (b.data_in - a.data_in) == 0;
    close(fd);
  }
  CHECK_INT(close_wait, 5);
  CHECK_INT(data_ok, 5);
  CHECK(with_fin >= 1);
  SHUTDOWN_AND_CHECK();
#endif
}

/* A client that goes on sending after its close frame (Autobahn 7.1.4,
 * a protocol error the server ignores) still gets the close reply: the
 * server reads the close frame with more bytes behind it (a 200 KiB frame,
 * more than one read takes), closes with them unread, so the kernel resets
 * the connection; the reply must be out before that, not held back to
 * share a segment with a FIN that never comes. */
TEST(close_reply_survives_unread_input) {
  enum { PAY = 200 * 1024, TOTAL = 8 + 14 + PAY };
  static uint8_t junk[TOTAL];
  uint8_t *h = junk + 8;
  int fd, fl, i;
  size_t off = 0, got = 0;
  char buf[64];
  ssize_t n;
  ev_reset();
  CHECK_INT(start_server(NULL, NULL, NULL), 0);
  fd = raw_open();
  REQUIRE(fd >= 0);
  CHECK_INT(raw_upgrade(fd), 0);
  /* the close frame, then a masked (key 0) text frame of PAY 'a's */
  memset(junk, 'a', sizeof junk);
  memcpy(junk, close_1000, sizeof close_1000);
  h[0] = 0x81;
  h[1] = 0x80 | 127;
  for (i = 0; i < 8; i++)
    h[2 + i] = (uint8_t)((uint64_t)PAY >> (56 - 8 * i));
  memset(h + 10, 0, 4);
  fl = fcntl(fd, F_GETFL);
  CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
  while (off < sizeof junk) {
    n = write(fd, junk + off, sizeof junk - off);
    if (n <= 0)
      break; /* the rest does not fit: enough is unread anyway */
    off += (size_t)n;
  }
  CHECK(off > 70000); /* more than the server's 64 KiB read */
  CHECK(fcntl(fd, F_SETFL, fl) == 0);
  while (got < 4 && pump_until_readable(fd) &&
         (n = read(fd, buf + got, sizeof buf - got)) > 0)
    got += (size_t)n;
  CHECK_INT(got, 4);
  CHECK(got >= 4 && memcmp(buf, "\x88\x02\x03\xe8", 4) == 0);
  close(fd);
  SHUTDOWN_AND_CHECK();
}

/* Both orders of the closing handshake between a wsx client and a wsx
 * server leave TIME_WAIT on the server's side only (the client waits for
 * the server's FIN before it closes). */
static void time_wait_case(int server_starts) {
#ifndef __linux__
  (void)server_starts;
#else
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  int cport = 0;
  char addr[64];
  ev_reset();
  CHECK_INT(start_server(NULL, NULL, NULL), 0);
  CHECK(connect_client("/", &co) != NULL);
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK(T.c.open == 1 && T.s.open == 1);
  if (!T.s.sock || !T.c.sock)
    return;
  CHECK_INT(wsx_socket_remote_address(T.s.sock, addr, sizeof addr, &cport), 0);
  CHECK_INT(wsx_socket_close(server_starts ? T.s.sock : T.c.sock, 1000, NULL),
            0);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK(T.c.close == 1 && T.s.close == 1);
  CHECK(T.c.close_clean && T.s.close_clean);
  pump_ms(20);
  CHECK_INT(time_waits(T.port, cport), 1); /* the server's side */
  CHECK_INT(time_waits(cport, T.port), 0); /* not the client's */
  SHUTDOWN_AND_CHECK();
#endif
}

TEST(time_wait_on_server_client_closes) {
#ifndef __linux__
  printf("skip time_wait_on_server_client_closes: /proc/net/tcp only\n");
#endif
  time_wait_case(0);
}

TEST(time_wait_on_server_server_closes) {
#ifndef __linux__
  printf("skip time_wait_on_server_server_closes: /proc/net/tcp only\n");
#endif
  time_wait_case(1);
}

/* The server's fd for the client at local port cport (a scan of this
 * process's descriptors), or -1. */
static int server_fd_for(int cport) {
  int fd;
  for (fd = 3; fd < 1024; fd++) {
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    if (getpeername(fd, (struct sockaddr *)&a, &l) == 0 &&
        a.sin_family == AF_INET && ntohs(a.sin_port) == cport &&
        local_port(fd) == T.port)
      return fd;
  }
  return -1;
}

static int nodelay_of(int fd) {
  int v = -1;
  socklen_t l = sizeof v;
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) != 0)
    return -1;
  return v != 0;
}

/* Accepted sockets have TCP_NODELAY (nagle = 0, the default) or not
 * (nagle = 1); with it, the listener's setting is inherited where the
 * system does that (Linux), so 8 connections cost no setsockopt each. */
static void nodelay_case(int nagle) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  int i, fds[8], base;
  o.auto_accept = 1;
  srv_sock(&o)->nagle = nagle;
  ev_reset();
  CHECK_INT(start_server(NULL, &o, NULL), 0);
#if HAVE_COUNTER
  base = nodelay_calls;
#else
  base = 0;
#endif
  for (i = 0; i < 8; i++) {
    fds[i] = raw_open();
    CHECK(fds[i] >= 0);
    if (fds[i] >= 0)
      CHECK_INT(raw_upgrade(fds[i]), 0);
  }
  for (i = 0; i < 8; i++) {
    if (fds[i] < 0)
      continue;
    CHECK_INT(nodelay_of(server_fd_for(local_port(fds[i]))), !nagle);
  }
#if HAVE_COUNTER && defined(__linux__)
  /* the first connection may check the inheritance once */
  CHECK(nodelay_calls - base <= (nagle ? 0 : 1));
#endif
  (void)base;
  for (i = 0; i < 8; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  SHUTDOWN_AND_CHECK();
}

TEST(accepted_sockets_nodelay_inherited) { nodelay_case(0); }
TEST(accepted_sockets_nagle_option) { nodelay_case(1); }

/* ---- allocations per handshake (the server's allocator hook) ---- */

static unsigned long n_alloc, n_free;
static void *c_malloc(size_t n, void *ud) {
  (void)ud;
  n_alloc++;
  return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (!p)
    n_alloc++;
  else if (n)
    n_alloc++; /* a resize costs like an allocation */
  return realloc(p, n);
}
static void c_free(void *p, void *ud) {
  (void)ud;
  if (p)
    n_free++;
  free(p);
}
static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};

/* A whole connection (upgrade without a Sec-WebSocket-Extensions offer,
 * open, the client's close, the server's close reply) takes at most 11
 * allocations or resizes of the server's allocator and frees all of them:
 * the socket with its driver, the request and its head, headers and
 * buffer, the driver's copy of the request and its URL, its handshake and
 * extension state, the 101 response. (It took 13: the URL was built in a
 * buffer then copied, and an absent extension offer was stored as an
 * allocated "".) With hibernation on (the default), one more: the
 * socket's handle and driver are a block apart, so that an idle
 * connection can release them (uv/hibernate.c); with it off
 * (WSX_HIBERNATE_NEVER) they are inside the socket's block. */
static void allocations(uint32_t hibernate_after, unsigned long most) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  unsigned long a0, f0;
  int i, fd;
  char buf[16];
  o.auto_accept = 1;
  o.hibernate_after = hibernate_after;
  srv_drv(&o)->allocator = &counting;
  ev_reset();
  CHECK_INT(start_server(NULL, &o, NULL), 0);
  for (i = 0; i < 5; i++) {
    fd = raw_open();
    REQUIRE(fd >= 0);
    a0 = n_alloc, f0 = n_free;
    CHECK_INT(raw_upgrade(fd), 0);
    CHECK(write(fd, close_1000, sizeof close_1000) ==
          (ssize_t)sizeof close_1000);
    while (pump_until_readable(fd) && read(fd, buf, sizeof buf) > 0)
      ;
    pump_ms(5);  /* the server's handle close callback */
    if (i > 0) { /* the first may set up the loop's shared state */
      CHECK(n_alloc - a0 <= most);
      CHECK_INT(n_free - f0, n_alloc - a0);
    }
    close(fd);
  }
  SHUTDOWN_AND_CHECK();
}

TEST(allocations_per_handshake) { allocations(0, 12); }
TEST(allocations_per_handshake_no_hibernation) {
  allocations(WSX_HIBERNATE_NEVER, 11);
}

TEST_MAIN(RUN(close_reply_carries_the_fin);
          RUN(close_reply_survives_unread_input);
          RUN(time_wait_on_server_client_closes);
          RUN(time_wait_on_server_server_closes);
          RUN(accepted_sockets_nodelay_inherited);
          RUN(accepted_sockets_nagle_option); RUN(allocations_per_handshake);
          RUN(allocations_per_handshake_no_hibernation))
