/*
 * wsx bench: a WebSocket load generator built for speed.
 *
 * It deliberately does not use the wsx library: a load generator must never
 * be the bottleneck, and it must not share bugs with the server it measures.
 * So it speaks just enough of RFC 6455 on libuv directly: a fixed upgrade
 * request, a check for "101" in the status line, one masked frame prepared
 * once and shared by every connection (reusing a mask key is harmless for a
 * load generator), and a parser for the server's unmasked frames that only
 * counts payload bytes.
 *
 * This file is the generator; its options and prepared bytes are set up by
 * bench_setup.c (tools/bench.h).
 *
 * Modes:
 *   (default)     ping-pong: each connection sends one message, waits for
 *                 its whole echo, sends the next.
 *   --raw         the same traffic over plain TCP to a raw echo server (the
 *                 floor no WebSocket server can beat).
 *   --handshakes  each connection loops connect -> upgrade -> one echo ->
 *                 close handshake -> reconnect.
 *   --idle N      opens N connections, completes their handshakes, prints
 *                 "idle_ready=N" on stdout and holds them for -d seconds.
 *   --rate R      (ping-pong) at most R messages per second over all
 *                 connections: a connection whose echo is back sends at
 *                 once while the token bucket has credit, else waits in a
 *                 queue that a 10 ms pacer drains (the soak, bench/soak.sh).
 *
 * --deflate (any WebSocket mode) negotiates permessage-deflate (RFC 7692):
 * the request offers "permessage-deflate; client_no_context_takeover" and
 * the message is JSON-like text compressed ONCE with zlib (raw DEFLATE, no
 * context takeover, so every copy of the frame is valid on every
 * connection). client_max_window_bits is deliberately not offered: the
 * server then cannot shrink our window, so the 15-bit precompressed frame
 * is always within what was agreed. Echoes are not inflated: a message is
 * complete when a FIN data frame ends, whatever its compressed size.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"

#if defined(__has_include)
#if __has_include("cmds.h")
#include "cmds.h"
#endif
#endif

int wsx_cmd_bench(int argc, char **argv);

enum conn_state {
  ST_UPGRADING, /* connect() and request sent, reading the response head */
  ST_OPEN,      /* exchanging messages */
  ST_CLOSING,   /* close frame sent (handshake mode) */
  ST_DOWN       /* uv_close() called */
};

/* Most connection attempts in flight at once: more would overflow the
 * server's listen backlog and turn into 1-second SYN retransmits. */
#define MAX_PENDING_OPENS 128
#define HEAD_MAX 2048
#define READ_BUF_SIZE (256 * 1024)

struct bench_conn {
  uv_tcp_t tcp;          /* must stay first: handle <-> conn casts */
  uv_write_t write;      /* at most one queued write per connection */
  int write_pending;     /* `write` is in flight */
  int state;             /* enum conn_state */
  uint8_t hdr[14];       /* frame header bytes gathered so far */
  unsigned hdr_have;     /* bytes in hdr */
  unsigned hdr_need;     /* header length once known (2, 4 or 10) */
  int cur_opcode;        /* opcode of the frame being skipped */
  int cur_fin;           /* FIN bit of that frame */
  uint64_t payload_left; /* payload bytes of the current frame not yet seen */
  uint64_t got;          /* message payload bytes received so far */
  size_t head_len;       /* bytes in head (ST_UPGRADING) */
  /* Not cleared per connection (conn_start): head_len says what is valid. */
  char head[HEAD_MAX]; /* response head being gathered */
};

bench B;

static void conn_start(bench_conn *c);
static void conn_send(bench_conn *c, const void *p, size_t n);

static void fail(const char *what, int err) {
  if (!B.failed)
    fprintf(stderr, "wsx bench: %s: %s\n", what,
            err ? uv_strerror(err) : "failed");
  B.failed = 1;
  uv_stop(B.loop);
}

static bench_conn *conn_of(uv_handle_t *h) { return (bench_conn *)(void *)h; }

static void window_start(void) {
  B.measuring = 1;
  B.t_start = uv_hrtime();
  B.last_t = B.t_start;
  B.last_count = 0;
  B.turns = B.last_turns = 0;
}

static void on_turn(uv_check_t *h) {
  (void)h;
  B.turns++;
}

/* Messages per loop turn, 0 when there was no turn. */
static double per_turn(uint64_t msgs, uint64_t turns) {
  return turns ? (double)msgs / (double)turns : 0;
}

static void on_stop(uv_timer_t *t) {
  (void)t;
  B.stopping = 1;
  uv_stop(B.loop);
}

static void begin_window(void) {
  window_start();
  uint64_t ms = (uint64_t)(B.seconds * 1000.0);
  uv_timer_start(&B.stop, on_stop, ms ? ms : 1, 0);
  if (B.mode == MODE_IDLE) {
    printf("idle_ready=%d\n", B.opened);
    fflush(stdout);
  }
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  if (B.quiet)
    return;
  uint64_t now = uv_hrtime();
  B.ticks++;
  if (!B.measuring) {
    fprintf(stderr, "[%3ds] opening: %d/%d open\n", B.ticks, B.opened,
            B.mode == MODE_IDLE ? B.conns : B.conns);
    return;
  }
  uint64_t count = B.mode == MODE_HANDSHAKES ? B.handshakes : B.msgs;
  double dt = (double)(now - B.last_t) / 1e9;
  double rate = dt > 0 ? (double)(count - B.last_count) / dt : 0;
  const char *unit = B.mode == MODE_HANDSHAKES ? "handshakes/s"
                     : B.mode == MODE_IDLE     ? "idle"
                                               : "msgs/s";
  if (B.mode == MODE_IDLE)
    fprintf(stderr, "[%3ds] %d connections idle\n", B.ticks, B.opened);
  else
    fprintf(stderr, "[%3ds] %.0f %s (%.1f MB/s, %.1f per loop turn)\n", B.ticks,
            rate, unit, rate * (double)B.size / 1e6,
            per_turn(count - B.last_count, B.turns - B.last_turns));
  B.last_t = now;
  B.last_count = count;
  B.last_turns = B.turns;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  /* One loop-wide buffer: every read is consumed before the next one. */
  *buf = uv_buf_init(B.read_buf, READ_BUF_SIZE);
}

static void on_closed(uv_handle_t *h) {
  bench_conn *c = conn_of(h);
  if (B.mode == MODE_HANDSHAKES && !B.stopping && !B.failed)
    conn_start(c);
}

static void conn_close(bench_conn *c) {
  if (c->state == ST_DOWN)
    return;
  c->state = ST_DOWN;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status) {
  bench_conn *c = (bench_conn *)req->data;
  c->write_pending = 0;
  if (status < 0 && status != UV_ECANCELED && !B.stopping)
    fail(c->state == ST_UPGRADING ? "connect" : "write", status);
}

/* Writes with uv_try_write first; only the rest goes through the queue. */
static void conn_send(bench_conn *c, const void *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
  int r = c->write_pending ? UV_EAGAIN
                           : uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (r == (int)n)
    return;
  if (r < 0 && r != UV_EAGAIN) {
    /* A refused connection shows up as the request's write error. */
    fail(c->state == ST_UPGRADING ? "connect" : "write", r);
    return;
  }
  if (r > 0) {
    b.base += r;
    b.len -= (size_t)r;
  }
  c->write.data = c;
  c->write_pending = 1;
  r = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (r < 0)
    fail("write", r);
}

static void send_now(bench_conn *c) { conn_send(c, B.frame, B.frame_len); }

/* --rate: a token bucket filled from the loop's clock at `rate` messages a
 * second and holding at most one pacer tick's worth (10 ms) plus one
 * message, so a stall never turns into a burst. A connection whose echo
 * is back sends at once while there is credit, else it queues for the
 * pacer; so the rate holds whatever the number of connections (sending
 * only on ticks capped it at 100 per connection a second). */
static void pace_fill(void) {
  uint64_t now = uv_now(B.loop);
  double cap = B.rate / 100.0 + 1.0;
  B.pace_credit += B.rate * (double)(now - B.pace_ms) / 1000.0;
  B.pace_ms = now;
  if (B.pace_credit > cap)
    B.pace_credit = cap;
}

static void send_message(bench_conn *c) {
  if (B.rate <= 0) {
    send_now(c);
    return;
  }
  if (B.ready_len == 0) {
    pace_fill();
    if (B.pace_credit >= 1.0) {
      B.pace_credit -= 1.0;
      send_now(c);
      return;
    }
  }
  B.ready[(B.ready_head + B.ready_len++) % B.conns] = (int)(c - B.c);
}

static void on_pace(uv_timer_t *t) {
  (void)t;
  pace_fill();
  while (B.pace_credit >= 1.0 && B.ready_len > 0) {
    bench_conn *c = &B.c[B.ready[B.ready_head]];
    B.ready_head = (B.ready_head + 1) % B.conns;
    B.ready_len--;
    B.pace_credit -= 1.0;
    if (c->state == ST_OPEN)
      send_now(c);
  }
}

static void message_done(bench_conn *c) {
  c->got = 0;
  B.msgs_total++;
  if (B.mode == MODE_IDLE) { /* --warm: the one echo is back; now idle */
    B.opened++;
    if (!B.measuring && B.opened == B.conns)
      begin_window();
    return;
  }
  if (B.measuring)
    B.msgs++;
  if (B.mode == MODE_HANDSHAKES) {
    c->state = ST_CLOSING;
    conn_send(c, B.close_frame, sizeof B.close_frame);
    return;
  }
  send_message(c);
}

static void conn_opened(bench_conn *c) {
  c->state = ST_OPEN;
  B.pending_opens--;
  /* A warmed idle connection counts once its echo is back. */
  int counted = !(B.mode == MODE_IDLE && B.warm);
  if (counted && (B.mode == MODE_HANDSHAKES || !B.measuring))
    B.opened++;
  if (B.next_open < B.conns)
    conn_start(&B.c[B.next_open++]);
  if (counted && !B.measuring && B.opened == B.conns)
    begin_window();
  if (B.mode != MODE_IDLE || B.warm)
    send_message(c);
}

/* A complete server frame (header and payload) went by. */
static void frame_done(bench_conn *c) {
  int op = c->cur_opcode;
  if (op <= 0x2) {
    /* Compressed echoes are shorter than the message: count messages. */
    if (c->cur_fin && (B.deflate || c->got >= B.size))
      message_done(c);
    return;
  }
  if (op == 0x8) {
    if (c->state == ST_CLOSING) {
      if (B.measuring)
        B.handshakes++;
      return; /* the server closes TCP next; EOF ends the connection */
    }
    fail("server sent a close frame", 0);
  }
  /* ping/pong: the servers under test do not send them unasked; skip. */
}

/* Skips over the server's frames, counting message payload bytes. */
static void parse_frames(bench_conn *c, const uint8_t *p, size_t n) {
  const uint8_t *end = p + n;
  while (p < end) {
    if (c->payload_left) {
      size_t take = (size_t)(end - p);
      if (take > c->payload_left)
        take = (size_t)c->payload_left;
      c->payload_left -= take;
      if (c->cur_opcode <= 0x2)
        c->got += take;
      p += take;
      if (!c->payload_left)
        frame_done(c);
      continue;
    }
    c->hdr[c->hdr_have++] = *p++;
    if (c->hdr_have == 2) {
      if (c->hdr[1] & 0x80) {
        fail("server sent a masked frame", 0);
        return;
      }
      unsigned l7 = c->hdr[1] & 0x7fu;
      c->hdr_need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
    }
    if (c->hdr_have < 2 || c->hdr_have < c->hdr_need)
      continue;
    unsigned l7 = c->hdr[1] & 0x7fu;
    uint64_t len = l7;
    if (l7 == 126)
      len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    else if (l7 == 127)
      for (int i = 0; i < 8; i++)
        len = (i ? len << 8 : 0) | c->hdr[2 + i];
    c->cur_opcode = c->hdr[0] & 0x0f;
    c->cur_fin = (c->hdr[0] & 0x80) != 0;
    c->hdr_have = 0;
    c->hdr_need = 0;
    c->payload_left = len;
    if (!len)
      frame_done(c);
  }
}

/* Non-zero if the response head accepts permessage-deflate (any case). */
static int head_has_deflate(const char *h, size_t n) {
  static const char want[] = "permessage-deflate";
  size_t wl = sizeof want - 1;
  for (size_t i = 0; i + wl <= n; i++) {
    size_t k = 0;
    while (k < wl && (h[i + k] | 0x20) == want[k])
      k++;
    if (k == wl)
      return 1;
  }
  return 0;
}

static void parse_head(bench_conn *c, const char *p, size_t n) {
  size_t room = sizeof c->head - 1 - c->head_len;
  size_t take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  c->head_len += take;
  c->head[c->head_len] = 0;
  char *eoh = strstr(c->head, "\r\n\r\n");
  if (!eoh) {
    if (c->head_len == sizeof c->head - 1)
      fail("handshake response head too long", 0);
    return;
  }
  if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr(c->head, "\r\n");
    *eol = 0;
    fprintf(stderr, "wsx bench: handshake refused: %s\n", c->head);
    fail("handshake", 0);
    return;
  }
  if (B.deflate && !head_has_deflate(c->head, (size_t)(eoh - c->head))) {
    fail("the server did not accept permessage-deflate", 0);
    return;
  }
  size_t head_bytes = (size_t)(eoh + 4 - c->head) - (c->head_len - take);
  conn_opened(c);
  if (n > head_bytes)
    parse_frames(c, (const uint8_t *)p + head_bytes, n - head_bytes);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  bench_conn *c = conn_of((uv_handle_t *)s);
  if (nread < 0) {
    if (c->state == ST_CLOSING && nread == UV_EOF) {
      conn_close(c);
      return;
    }
    if (!B.stopping)
      fail(nread == UV_EOF ? "server closed the connection" : "read",
           nread == UV_EOF ? 0 : (int)nread);
    conn_close(c);
    return;
  }
  if (!nread)
    return;
  size_t n = (size_t)nread;
  if (c->state == ST_UPGRADING) {
    parse_head(c, buf->base, n);
    return;
  }
  if (B.mode == MODE_RAW) {
    c->got += n;
    if (c->got >= B.size) {
      if (c->got > B.size)
        fail("raw echo returned more bytes than sent", 0);
      message_done(c);
    }
    return;
  }
  parse_frames(c, (const uint8_t *)buf->base, n);
}

/* The connection is up (or, off loopback, on its way): read, and send the
 * upgrade request (raw mode: the first message). */
static void conn_connected(bench_conn *c) {
  int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (r < 0) {
    fail("read_start", r);
    return;
  }
  if (B.mode == MODE_RAW) {
    conn_opened(c);
    return;
  }
  c->state = ST_UPGRADING;
  conn_send(c, B.request, B.request_len);
}

/*
 * Dials without libuv's connect request: a non-blocking connect(), then
 * the request is written at once. On loopback the kernel completes the
 * connection inside connect() (SYN, SYN-ACK and ACK are all processed
 * before it returns), so that write goes straight out, and a connection
 * costs no writability event, no SO_ERROR query and two epoll_ctl calls
 * less than with uv_tcp_connect. Elsewhere the write waits in libuv's
 * queue until the connection is up, and a refused connection is that
 * write's error.
 */
static int conn_dial(bench_conn *c) {
  socklen_t len = B.addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in);
  int one = 1, r;
  int fd =
      socket(B.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  do
    r = connect(fd, (const struct sockaddr *)&B.addr, len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    r = uv_translate_sys_error(errno);
    close(fd);
    return r;
  }
  r = uv_tcp_open(&c->tcp, fd);
  if (r < 0)
    close(fd);
  return r;
}

static void conn_start(bench_conn *c) {
  memset(c, 0, offsetof(bench_conn, head));
  c->state = ST_UPGRADING;
  B.pending_opens++;
  int r = uv_tcp_init(B.loop, &c->tcp);
  if (r < 0) {
    fail("tcp_init", r);
    return;
  }
  r = conn_dial(c);
  if (r < 0) {
    fail("connect", r);
    c->state = ST_DOWN;
    uv_close((uv_handle_t *)&c->tcp, NULL);
    return;
  }
  conn_connected(c);
}

static int resolve(void) {
  uv_getaddrinfo_t gai;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int r = uv_getaddrinfo(B.loop, &gai, NULL, B.host, B.port, &hints);
  if (r < 0) {
    fprintf(stderr, "wsx bench: cannot resolve %s: %s\n", B.host,
            uv_strerror(r));
    return -1;
  }
  memcpy(&B.addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
  uv_freeaddrinfo(gai.addrinfo);
  return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void report(void) {
  double el = (double)(uv_hrtime() - B.t_start) / 1e9;
  if (el <= 0)
    el = 1e-9;
  if (B.mode == MODE_IDLE) {
    printf("idle_conns=%d seconds=%.1f\n", B.opened, el);
  } else if (B.mode == MODE_HANDSHAKES) {
    printf("handshakes_per_sec=%.0f conns=%d size=%zu seconds=%.2f "
           "handshakes=%llu msgs=%llu",
           (double)B.handshakes / el, B.conns, B.size, el,
           (unsigned long long)B.handshakes, (unsigned long long)B.msgs_total);
  } else {
    double mps = (double)B.msgs / el;
    printf("msgs_per_sec=%.0f mb_per_sec=%.1f conns=%d size=%zu seconds=%.2f "
           "msgs=%llu",
           mps, mps * (double)B.size / 1e6, B.conns, B.size, el,
           (unsigned long long)B.msgs_total);
    if (B.deflate) /* the compressed frame we send, header included */
      printf(" deflate=1 frame_bytes=%zu", B.frame_len);
    printf(" loop_turns=%llu msgs_per_turn=%.1f", (unsigned long long)B.turns,
           per_turn(B.msgs, B.turns));
  }
  if (B.mode != MODE_IDLE && !B.worker) /* not a --threads worker */
    printf(" threads=1 gen_cpu_pct=%.0f",
           (bench_cpu_seconds(RUSAGE_SELF) - B.t_cpu0) / el * 100);
  printf("\n");
  fflush(stdout);
}

int wsx_cmd_bench(int argc, char **argv) {
  memset(&B, 0, sizeof B);
  int r = bench_parse_args(argc, argv);
  if (r)
    return r;
  /* A server that closes while we write must not kill the generator. */
  signal(SIGPIPE, SIG_IGN);
  if (B.threads > 1 && B.mode != MODE_IDLE)
    return bench_run_workers(B.threads < B.conns ? B.threads : B.conns);
  return bench_run_one();
}

int bench_run_one(void) {
  B.t_cpu0 = bench_cpu_seconds(RUSAGE_SELF);
  B.loop = uv_default_loop();
  B.read_buf = malloc(READ_BUF_SIZE);
  B.c = calloc((size_t)B.conns, sizeof *B.c);
  B.ready = calloc((size_t)B.conns, sizeof *B.ready);
  if (!B.read_buf || !B.c || !B.ready || bench_prepare() < 0) {
    fprintf(stderr, "wsx bench: out of memory\n");
    return 1;
  }
  if (resolve() < 0)
    return 1;
  uv_timer_init(B.loop, &B.tick);
  uv_timer_init(B.loop, &B.stop);
  uv_timer_start(&B.tick, on_tick, 1000, 1000);
  uv_check_init(B.loop, &B.turn);
  uv_check_start(&B.turn, on_turn);
  uv_unref((uv_handle_t *)&B.turn); /* the run ends with the connections */
  uv_timer_init(B.loop, &B.pace);
  if (B.rate > 0) {
    B.pace_ms = uv_now(B.loop);
    uv_timer_start(&B.pace, on_pace, 10, 10);
  }
  if (B.mode == MODE_HANDSHAKES)
    begin_window(); /* every cycle reconnects: no separate warm-up */
  while (B.next_open < B.conns && B.pending_opens < MAX_PENDING_OPENS)
    conn_start(&B.c[B.next_open++]);
  uv_run(B.loop, UV_RUN_DEFAULT);
  int ok = !B.failed && B.measuring;
  if (ok)
    report();
  else if (!B.failed)
    fprintf(stderr, "wsx bench: stopped before all connections opened\n");
  B.stopping = 1;
  uv_walk(B.loop, close_walk, NULL);
  uv_run(B.loop, UV_RUN_DEFAULT);
  uv_loop_close(B.loop);
  free(B.c);
  free(B.ready);
  free(B.frame);
  free(B.request);
  free(B.read_buf);
  return ok ? 0 : 1;
}
