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
 *                 connections: a connection whose echo is back waits in a
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
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <zlib.h>

#if defined(__has_include)
#if __has_include("cmds.h")
#include "cmds.h"
#endif
#endif

int wsx_cmd_bench(int argc, char **argv);

enum bench_mode { MODE_ECHO, MODE_RAW, MODE_HANDSHAKES, MODE_IDLE };

enum conn_state {
  ST_UPGRADING,  /* connect() and request sent, reading the response head */
  ST_OPEN,       /* exchanging messages */
  ST_CLOSING,    /* close frame sent (handshake mode) */
  ST_DOWN        /* uv_close() called */
};

/* Most connection attempts in flight at once: more would overflow the
 * server's listen backlog and turn into 1-second SYN retransmits. */
#define MAX_PENDING_OPENS 128
#define HEAD_MAX 2048
#define READ_BUF_SIZE (256 * 1024)

typedef struct bench_conn {
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
} bench_conn;

typedef struct bench {
  /* options */
  int mode;
  int conns;
  size_t size;
  double seconds;
  int binary;
  int quiet;
  int deflate; /* --deflate: negotiate permessage-deflate */
  int warm;    /* --warm: idle connections echo once first */
  double rate; /* --rate: messages per second in all, 0 = unbounded */
  int threads; /* --threads N: N generator processes */
  int worker;  /* one of them (its parent reports) */
  double t_cpu0; /* our CPU seconds when the run started */
  char host[256];
  char port[8];
  char path[1024];
  /* prepared bytes */
  char *request; /* the upgrade request */
  size_t request_len;
  uint8_t *frame; /* the masked message frame (or raw payload) */
  size_t frame_len;
  uint8_t close_frame[8];
  /* runtime */
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  bench_conn *c;
  int opened;    /* connections that reached ST_OPEN (ever) */
  int next_open; /* index of the next connection to start */
  int pending_opens;
  int measuring; /* the timed window has started */
  int stopping;
  int failed;
  uint64_t t_start;    /* hrtime of the window start */
  uint64_t msgs;       /* messages completed inside the window */
  uint64_t msgs_total; /* messages completed since the first connect */
  uint64_t handshakes; /* completed open->echo->close cycles in the window */
  uint64_t last_count; /* for the per-second progress line */
  uint64_t last_t;
  int ticks;
  uv_timer_t tick;
  uv_timer_t stop;
  char *read_buf;
  /* --rate: connections waiting to send, a ring of indices into c */
  uv_timer_t pace;
  int *ready;
  int ready_head, ready_len;
  double pace_credit;
} bench;

static bench B;

static void conn_start(bench_conn *c);
static int run_one(void);
static double cpu_seconds(int who);
static void conn_send(bench_conn *c, const void *p, size_t n);

static void fail(const char *what, int err) {
  if (!B.failed)
    fprintf(stderr, "wsx bench: %s: %s\n", what,
            err ? uv_strerror(err) : "failed");
  B.failed = 1;
  uv_stop(B.loop);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: wsx bench URL [-c CONNS] [-s SIZE] [-d SECONDS] [--text|"
          "--binary]\n"
          "                 [--raw | --handshakes | --idle N [--warm]] "
          "[--deflate] [--rate R] [-q]\n"
          "  URL            ws://host:port/path (tcp://host:port with --raw)\n"
          "  -c CONNS       concurrent connections (default 100)\n"
          "  -s SIZE        message size in bytes (default 20)\n"
          "  -d SECONDS     measured duration (default 5)\n"
          "  --text         text messages (default)\n"
          "  --binary       binary messages\n"
          "  --raw          plain TCP against a raw echo server\n"
          "  --handshakes   loop open -> one echo -> close; report "
          "handshakes/s\n"
          "  --idle N       hold N idle connections for SECONDS\n"
          "  --deflate      negotiate permessage-deflate; send JSON-like "
          "text compressed\n"
          "                 once (no context takeover); fails if the server "
          "declines\n"
          "  --warm         with --idle: each connection echoes one message "
          "before it\n"
          "                 idles (per-connection state such as zlib streams "
          "is live)\n"
          "  --rate R       at most R messages per second over all "
          "connections\n"
          "  --threads N    N generator processes, one event loop each, "
          "the\n"
          "                 connections shared out (use every core you give "
          "it)\n"
          "  -q             no progress lines on stderr\n"
          "Prints one result line on stdout, e.g.\n"
          "  msgs_per_sec=123456 mb_per_sec=2.5 conns=100 size=20 seconds=5 "
          "msgs=617280\n"
          "  threads=1 gen_cpu_pct=97\n"
          "(gen_cpu_pct: the generator's CPU time over the run, in %% of one "
          "core;\n"
          "near 100 x threads, the generator is what limits the figure)\n");
}

/* Parses a positive integer argument; returns -1 if it is not one. */
static long parse_count(const char *s, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v <= 0 || v > max)
    return -1;
  return v;
}

static int parse_url(const char *url) {
  const char *p;
  size_t defport_ok = 0;
  if (B.mode == MODE_RAW && strncmp(url, "tcp://", 6) == 0)
    p = url + 6;
  else if (B.mode != MODE_RAW && strncmp(url, "ws://", 5) == 0)
    p = url + 5, defport_ok = 1;
  else
    return -1;
  const char *host = p, *host_end;
  if (*p == '[') { /* IPv6 literal */
    host = ++p;
    while (*p && *p != ']')
      p++;
    if (*p != ']')
      return -1;
    host_end = p++;
  } else {
    while (*p && *p != ':' && *p != '/' && *p != '?')
      p++;
    host_end = p;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof B.host)
    return -1;
  memcpy(B.host, host, hl);
  B.host[hl] = 0;
  if (*p == ':') {
    const char *ps = ++p;
    while (*p >= '0' && *p <= '9')
      p++;
    size_t pl = (size_t)(p - ps);
    if (pl == 0 || pl > 5)
      return -1;
    memcpy(B.port, ps, pl);
    B.port[pl] = 0;
    if (atoi(B.port) < 1 || atoi(B.port) > 65535)
      return -1;
  } else if (defport_ok) {
    strcpy(B.port, "80");
  } else {
    return -1;
  }
  if (*p && *p != '/' && *p != '?')
    return -1;
  if (strlen(p) + 2 > sizeof B.path)
    return -1;
  snprintf(B.path, sizeof B.path, "%s%s", *p == '/' ? "" : "/", p);
  return 0;
}

/* JSON-like text (what compressed benchmarks usually carry), n bytes. */
static void json_fill(uint8_t *p, size_t n) {
  size_t i = 0;
  for (unsigned k = 0; i < n; k++) {
    char item[96];
    int m =
        snprintf(item, sizeof item,
                 "{\"id\":%u,\"name\":\"user%u\",\"ok\":%s,\"v\":[%u,%u]},", k,
                 k % 97, k % 3 ? "false" : "true", k * 7 % 1000, k * 13 % 1000);
    for (int j = 0; j < m && i < n; j++)
      p[i++] = (uint8_t)item[j];
  }
}

/* Compresses p[0..n) as one permessage-deflate message (RFC 7692 7.2.1:
 * raw DEFLATE, sync flush, the trailing 00 00 FF FF removed) into a new
 * buffer; returns its length in *out_len, or NULL. */
static uint8_t *deflate_message(const uint8_t *p, size_t n, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  size_t cap = deflateBound(&z, (uLong)n) + 16;
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = out ? deflate(&z, Z_SYNC_FLUSH) : Z_MEM_ERROR;
  size_t len = cap - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_OK || z.avail_in != 0 || len < 4 ||
      memcmp(out + len - 4, "\0\0\xff\xff", 4) != 0) {
    free(out);
    return NULL;
  }
  *out_len = len - 4;
  return out;
}

/* Builds the shared request, message frame and close frame. */
static int prepare(void) {
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  char hostport[300];
  if (strchr(B.host, ':'))
    snprintf(hostport, sizeof hostport, "[%s]:%s", B.host, B.port);
  else
    snprintf(hostport, sizeof hostport, "%s:%s", B.host, B.port);
  size_t rq = strlen(B.path) + strlen(hostport) + 256;
  B.request = malloc(rq);
  if (!B.request)
    return -1;
  int n = snprintf(B.request, rq,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   B.path, hostport,
                   B.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                               "client_no_context_takeover\r\n"
                             : "");
  B.request_len = (size_t)n;

  /* The payload as it goes on the wire: the message itself, or (deflate)
   * its compressed form. */
  uint8_t *msg = NULL;
  size_t wire = B.size;
  if (B.deflate) {
    uint8_t *text = malloc(B.size);
    if (!text)
      return -1;
    json_fill(text, B.size);
    msg = deflate_message(text, B.size, &wire);
    free(text);
    if (!msg)
      return -1;
  }
  size_t hl = B.mode == MODE_RAW ? 0 : wire < 126 ? 6 : wire < 65536 ? 8 : 14;
  B.frame_len = hl + wire;
  B.frame = malloc(B.frame_len ? B.frame_len : 1);
  if (!B.frame) {
    free(msg);
    return -1;
  }
  uint8_t *pl = B.frame + hl;
  if (msg)
    memcpy(pl, msg, wire);
  else
    for (size_t i = 0; i < wire; i++)
      pl[i] = (uint8_t)('a' + i % 26); /* ASCII: valid UTF-8 as text */
  free(msg);
  if (hl) {
    uint8_t *h = B.frame;
    /* RSV1 marks a compressed message (RFC 7692 6). */
    h[0] = (uint8_t)(0x80 | (B.deflate ? 0x40 : 0) | (B.binary ? 0x2 : 0x1));
    if (hl == 6) {
      h[1] = (uint8_t)(0x80 | wire);
    } else if (hl == 8) {
      h[1] = 0x80 | 126;
      h[2] = (uint8_t)(wire >> 8);
      h[3] = (uint8_t)wire;
    } else {
      h[1] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)wire >> (56 - 8 * i));
    }
    memcpy(h + hl - 4, mask, 4);
    for (size_t i = 0; i < wire; i++)
      pl[i] ^= mask[i & 3];
  }
  uint8_t *cf = B.close_frame; /* close 1000, masked */
  cf[0] = 0x88;
  cf[1] = 0x82;
  memcpy(cf + 2, mask, 4);
  cf[6] = (uint8_t)(0x03 ^ mask[0]);
  cf[7] = (uint8_t)(0xe8 ^ mask[1]);
  return 0;
}

static bench_conn *conn_of(uv_handle_t *h) { return (bench_conn *)(void *)h; }

static void window_start(void) {
  B.measuring = 1;
  B.t_start = uv_hrtime();
  B.last_t = B.t_start;
  B.last_count = 0;
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
    fprintf(stderr, "[%3ds] %.0f %s (%.1f MB/s)\n", B.ticks, rate, unit,
            rate * (double)B.size / 1e6);
  B.last_t = now;
  B.last_count = count;
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

/* With --rate the connection queues for the pacer instead. */
static void send_message(bench_conn *c) {
  if (B.rate <= 0) {
    send_now(c);
    return;
  }
  B.ready[(B.ready_head + B.ready_len++) % B.conns] = (int)(c - B.c);
}

static void on_pace(uv_timer_t *t) {
  (void)t;
  B.pace_credit += B.rate / 100.0;
  if (B.pace_credit > B.rate) /* no burst after a stall */
    B.pace_credit = B.rate;
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
  int fd = socket(B.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
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
  }
  if (B.mode != MODE_IDLE && !B.worker) /* not a --threads worker */
    printf(" threads=1 gen_cpu_pct=%.0f",
           (cpu_seconds(RUSAGE_SELF) - B.t_cpu0) / el * 100);
  printf("\n");
  fflush(stdout);
}

/* Parses argv into B. Returns 0, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv) {
  const char *url = NULL;
  B.conns = 100;
  B.size = 20;
  B.seconds = 5;
  int idle = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "-c") || !strcmp(a, "--connections")) {
      if (!v || (n = parse_count(v, 1000000)) < 0)
        goto bad_value;
      B.conns = (int)n, i++;
    } else if (!strcmp(a, "-s") || !strcmp(a, "--size")) {
      if (!v || (n = parse_count(v, 1L << 30)) < 0)
        goto bad_value;
      B.size = (size_t)n, i++;
    } else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
      char *end;
      if (!v)
        goto bad_value;
      B.seconds = strtod(v, &end);
      if (end == v || *end || !(B.seconds > 0) || B.seconds > 86400)
        goto bad_value;
      i++;
    } else if (!strcmp(a, "--idle")) {
      if (!v || (n = parse_count(v, 1000000)) < 0)
        goto bad_value;
      idle = (int)n, i++;
      B.mode = MODE_IDLE;
    } else if (!strcmp(a, "--binary")) {
      B.binary = 1;
    } else if (!strcmp(a, "--text")) {
      B.binary = 0;
    } else if (!strcmp(a, "--raw")) {
      B.mode = MODE_RAW;
    } else if (!strcmp(a, "--deflate")) {
      B.deflate = 1;
    } else if (!strcmp(a, "--rate")) {
      char *end;
      if (!v)
        goto bad_value;
      B.rate = strtod(v, &end);
      if (end == v || *end || !(B.rate > 0) || B.rate > 1e9)
        goto bad_value;
      i++;
    } else if (!strcmp(a, "--warm")) {
      B.warm = 1;
    } else if (!strcmp(a, "--threads")) {
      if (!v || (n = parse_count(v, 256)) < 0)
        goto bad_value;
      B.threads = (int)n, i++;
    } else if (!strcmp(a, "--handshakes")) {
      B.mode = MODE_HANDSHAKES;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      B.quiet = 1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wsx bench: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    } else if (!url) {
      url = a;
    } else {
      fprintf(stderr, "wsx bench: unexpected argument '%s'\n", a);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "wsx bench: option '%s' needs a valid value\n", a);
    return 2;
  }
  if (idle)
    B.conns = idle;
  if (B.deflate && (B.mode == MODE_RAW || B.binary)) {
    fprintf(stderr, "wsx bench: --deflate goes with WebSocket text "
                    "messages only\n");
    return 2;
  }
  if (!url) {
    fprintf(stderr, "wsx bench: missing URL\n");
    usage(stderr);
    return 2;
  }
  if (parse_url(url) < 0) {
    fprintf(stderr, "wsx bench: bad URL '%s' (expected %s)\n", url,
            B.mode == MODE_RAW ? "tcp://host:port" : "ws://host:port/path");
    return 2;
  }
  return 0;
}

/* CPU seconds (user + system) of this process or of its waited-for
 * children. */
static double cpu_seconds(int who) {
  struct rusage ru;
  if (getrusage(who, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double num_field(const char *line, const char *name) {
  const char *p = strstr(line, name);
  return p ? strtod(p + strlen(name), NULL) : 0;
}

/* --threads N: N generator processes (one loop each), the connections
 * shared out; their result lines are summed into one. Returns the exit
 * code. */
static int run_workers(int n) {
  int fds[2], bad = 0, conns = B.conns;
  double rate = 0, secs = 0, count = 0, total = 0, t0 = (double)uv_hrtime();
  char line[512];
  FILE *in;
  if (pipe(fds) != 0) {
    perror("wsx bench: pipe");
    return 1;
  }
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("wsx bench: fork");
      bad = 1;
      break;
    }
    if (pid == 0) {
      close(fds[0]);
      if (dup2(fds[1], 1) < 0)
        _exit(1);
      B.conns = conns / n + (i < conns % n);
      B.rate = B.rate * (double)B.conns / (double)conns; /* its share */
      B.quiet = 1;
      B.worker = 1;
      fflush(stdout);
      _exit(run_one());
    }
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  while (in && fgets(line, sizeof line, in)) {
    int hs = B.mode == MODE_HANDSHAKES;
    rate += num_field(line, hs ? "handshakes_per_sec=" : "msgs_per_sec=");
    count += num_field(line, hs ? "handshakes=" : "msgs=");
    total += num_field(line, "msgs=");
    double sc = num_field(line, "seconds=");
    secs = sc > secs ? sc : secs;
  }
  if (in)
    fclose(in);
  for (int st; wait(&st) > 0;)
    bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  if (bad)
    return 1;
  double el = ((double)uv_hrtime() - t0) / 1e9;
  double cpu = cpu_seconds(RUSAGE_CHILDREN);
  if (B.mode == MODE_HANDSHAKES)
    printf("handshakes_per_sec=%.0f conns=%d size=%zu seconds=%.2f "
           "handshakes=%.0f msgs=%.0f",
           rate, conns, B.size, secs, count, total);
  else
    printf("msgs_per_sec=%.0f mb_per_sec=%.1f conns=%d size=%zu "
           "seconds=%.2f msgs=%.0f",
           rate, rate * (double)B.size / 1e6, conns, B.size, secs, count);
  printf(" threads=%d gen_cpu_pct=%.0f\n", n, el > 0 ? cpu / el * 100 : 0);
  fflush(stdout);
  return 0;
}

int wsx_cmd_bench(int argc, char **argv) {
  memset(&B, 0, sizeof B);
  int r = parse_args(argc, argv);
  if (r)
    return r;
  /* A server that closes while we write must not kill the generator. */
  signal(SIGPIPE, SIG_IGN);
  if (B.threads > 1 && B.mode != MODE_IDLE)
    return run_workers(B.threads < B.conns ? B.threads : B.conns);
  return run_one();
}

static int run_one(void) {
  B.t_cpu0 = cpu_seconds(RUSAGE_SELF);
  B.loop = uv_default_loop();
  B.read_buf = malloc(READ_BUF_SIZE);
  B.c = calloc((size_t)B.conns, sizeof *B.c);
  B.ready = calloc((size_t)B.conns, sizeof *B.ready);
  if (!B.read_buf || !B.c || !B.ready || prepare() < 0) {
    fprintf(stderr, "wsx bench: out of memory\n");
    return 1;
  }
  if (resolve() < 0)
    return 1;
  uv_timer_init(B.loop, &B.tick);
  uv_timer_init(B.loop, &B.stop);
  uv_timer_start(&B.tick, on_tick, 1000, 1000);
  uv_timer_init(B.loop, &B.pace);
  if (B.rate > 0)
    uv_timer_start(&B.pace, on_pace, 10, 10);
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
