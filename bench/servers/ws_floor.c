/*
 * ws_floor: the least a WebSocket echo server can do, on libuv exactly as
 * raw_echo.c is, so that the two differ only by what RFC 6455 requires of
 * every server: answer the upgrade, read frame headers, unmask the payload
 * (5.3: a server MUST unmask) and put a server frame header in front of
 * what it echoes. bench/run.sh runs it next to the raw TCP floor: the gap
 * between the two is what the protocol costs on this machine, which no
 * WebSocket server, wsx included, can avoid.
 *
 * Nothing else is done, and nothing else is checked, so it is no server to
 * use: no UTF-8 validation, no limits beyond 64-bit lengths, no
 * extensions, no fragmentation rules. Frames are echoed one by one as they
 * arrive: the header as soon as it is complete, the payload in the chunks
 * the reads bring, unmasked in place in the receive buffer (a 1 MiB frame
 * is never gathered). Pings are answered with pongs carrying their
 * payload, a close is echoed and the connection closed once it is out.
 *
 * usage: ws_floor PORT   (binds 127.0.0.1; prints "listening on PORT")
 * Built by bench/run.sh and bench/cpu-per-msg.sh (with -lcrypto for the
 * handshake's SHA-1); not part of the library build.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <uv.h>

#define READ_BUF_SIZE (256 * 1024)
#define HEAD_MAX 8192
#define MAX_SPANS 64

typedef struct conn {
  uv_tcp_t tcp;
  char *head;        /* the request head, until the 101 is sent */
  size_t head_len;
  uint64_t left;     /* payload bytes of the current frame still to come */
  uint64_t off;      /* payload bytes of it already unmasked */
  uint8_t mask[4];
  uint8_t hdr[14];   /* a frame header split across reads */
  uint8_t hdr_len;
  uint8_t ohdr[10];  /* the server header when hdr was split */
  int close_seen;    /* a close frame's header came: echo it, then close */
} conn;

typedef struct pending_write {
  uv_write_t req;
  char data[]; /* the bytes the kernel did not take at once */
} pending_write;

static _Alignas(64) uint8_t read_buf[READ_BUF_SIZE];

typedef uint8_t v32 __attribute__((vector_size(32), aligned(32)));

/* p[0..n) ^= the mask, byte 0 of p being payload byte `off`: bytes up to
 * a 32-byte boundary, then aligned 32-byte steps with the mask rotated to
 * the phase they start at, then bytes. */
static void unmask(uint8_t *p, size_t n, const uint8_t m[4], uint64_t off) {
  size_t i = 0;
  while (i < n && ((uintptr_t)(p + i) & 31)) {
    p[i] ^= m[(off + i) & 3];
    i++;
  }
  if (n - i >= 32) {
    v32 mv;
    for (int k = 0; k < 32; k++)
      mv[k] = m[(off + i + (unsigned)k) & 3];
    for (; i + 32 <= n; i += 32)
      *(v32 *)(void *)(p + i) ^= mv;
  }
  for (; i < n; i++)
    p[i] ^= m[(off + i) & 3];
}

static void on_closed(uv_handle_t *h) {
  conn *c = (conn *)h;
  free(c->head);
  free(c);
}

static void drop(conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void on_closing_written(uv_write_t *req, int status) {
  conn *c = req->data;
  (void)status;
  free(req);
  drop(c);
}

/* Writes the spans, the kernel's refusal copied into one queued write;
 * then_close: closes the connection once they are out. */
static void flush(conn *c, uv_buf_t *b, unsigned n, int then_close) {
  size_t total = 0, off = 0;
  unsigned i;
  for (i = 0; i < n; i++)
    total += b[i].len;
  int r = n ? uv_try_write((uv_stream_t *)&c->tcp, b, n) : 0;
  if (r > 0)
    off = (size_t)r;
  else if (r != UV_EAGAIN) {
    drop(c);
    return;
  }
  if (off == total) {
    if (then_close)
      drop(c);
    return;
  }
  pending_write *w = malloc(sizeof *w + (total - off));
  if (!w) {
    drop(c);
    return;
  }
  size_t at = 0, skip = off;
  for (i = 0; i < n; i++) {
    size_t l = b[i].len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    memcpy(w->data + at, b[i].base + skip, l - skip);
    at += l - skip;
    skip = 0;
  }
  uv_buf_t rest = uv_buf_init(w->data, (unsigned)at);
  w->req.data = c;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &rest, 1,
               then_close ? on_closing_written : on_written) < 0) {
    free(w);
    drop(c);
  }
}

/* Header bytes h[0..len) complete? Returns its length, 0 if more needed. */
static size_t header_size(const uint8_t *h, size_t len) {
  if (len < 2)
    return 0;
  unsigned l7 = h[1] & 0x7fu;
  size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4;
  return len >= need ? need : 0;
}

/* Parses a complete masked header; writes the server's header into out
 * (returns its size) and starts the frame. -1: not a client frame. */
static int begin_frame(conn *c, const uint8_t *h, uint8_t *out) {
  if (!(h[1] & 0x80) || (h[0] & 0x70))
    return -1;
  unsigned l7 = h[1] & 0x7fu, op = h[0] & 0x0fu;
  uint64_t len = l7;
  const uint8_t *m = h + 2;
  if (l7 == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
    m = h + 4;
  } else if (l7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | h[2 + i];
    m = h + 10;
  }
  memcpy(c->mask, m, 4);
  c->left = len;
  c->off = 0;
  out[0] = (uint8_t)(op == 9 ? (h[0] & 0x80) | 0x0a : h[0]);
  if (op == 8)
    c->close_seen = 1;
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len < 65536) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

static void on_frames(conn *c, uint8_t *p, size_t n) {
  uv_buf_t spans[MAX_SPANS];
  unsigned ns = 0;
  while (n && !(c->close_seen && !c->left)) {
    if (c->left) { /* payload of the current frame */
      size_t take = n < c->left ? n : (size_t)c->left;
      unmask(p, take, c->mask, c->off);
      if (ns && spans[ns - 1].base + spans[ns - 1].len == (char *)p)
        spans[ns - 1].len += take; /* right after its header */
      else
        spans[ns++] = uv_buf_init((char *)p, (unsigned)take);
      c->left -= take;
      c->off += take;
      p += take;
      n -= take;
    } else if (c->hdr_len) { /* a header split across reads */
      while (n && !header_size(c->hdr, c->hdr_len)) {
        c->hdr[c->hdr_len++] = *p++;
        n--;
      }
      if (!header_size(c->hdr, c->hdr_len))
        break;
      int oh = begin_frame(c, c->hdr, c->ohdr);
      c->hdr_len = 0;
      if (oh < 0) {
        drop(c);
        return;
      }
      spans[ns++] = uv_buf_init((char *)c->ohdr, (unsigned)oh);
    } else {
      size_t hs = header_size(p, n);
      if (!hs) { /* keep the start of the header */
        memcpy(c->hdr, p, n);
        c->hdr_len = (uint8_t)n;
        break;
      }
      uint8_t out[10];
      int oh = begin_frame(c, p, out);
      if (oh < 0) {
        drop(c);
        return;
      }
      /* the masked header is 4 bytes longer: the server's fits in it */
      memcpy(p + hs - (size_t)oh, out, (size_t)oh);
      spans[ns++] = uv_buf_init((char *)p + hs - oh, (unsigned)oh);
      p += hs;
      n -= hs;
    }
    if (ns >= MAX_SPANS - 1) { /* (ohdr is copied or sent before reuse) */
      flush(c, spans, ns, 0);
      ns = 0;
      if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    }
  }
  /* a close frame, payload and all: echoed, then the connection closes */
  flush(c, spans, ns, c->close_seen && !c->left);
}

static int answer_upgrade(conn *c, const char *head) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const char *k = head;
  while ((k = strchr(k, '\n')) != NULL) {
    k++;
    if (!strncasecmp(k, "sec-websocket-key:", 18))
      break;
  }
  if (!k)
    return -1;
  k += 18;
  while (*k == ' ' || *k == '\t')
    k++;
  size_t kl = strcspn(k, " \t\r\n");
  if (kl == 0 || kl > 64)
    return -1;
  char cat[64 + sizeof guid];
  uint8_t dig[SHA_DIGEST_LENGTH];
  char acc[32];
  memcpy(cat, k, kl);
  memcpy(cat + kl, guid, sizeof guid - 1);
  SHA1((const uint8_t *)cat, kl + sizeof guid - 1, dig);
  EVP_EncodeBlock((uint8_t *)acc, dig, SHA_DIGEST_LENGTH);
  char *resp = malloc(160);
  if (!resp)
    return -1;
  int rl = snprintf(resp, 160,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                    acc);
  uv_buf_t b = uv_buf_init(resp, (unsigned)rl);
  flush(c, &b, 1, 0);
  free(resp);
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = (conn *)s;
  if (nread < 0) {
    drop(c);
    return;
  }
  uint8_t *p = (uint8_t *)buf->base;
  size_t n = (size_t)nread;
  if (c->head) { /* the upgrade request */
    size_t take = n < HEAD_MAX - 1 - c->head_len ? n : HEAD_MAX - 1 - c->head_len;
    memcpy(c->head + c->head_len, p, take);
    c->head_len += take;
    c->head[c->head_len] = 0;
    char *eoh = strstr(c->head, "\r\n\r\n");
    if (!eoh) {
      if (c->head_len == HEAD_MAX - 1)
        drop(c);
      return;
    }
    size_t used = (size_t)(eoh + 4 - c->head) - (c->head_len - take);
    if (answer_upgrade(c, c->head) < 0) {
      drop(c);
      return;
    }
    free(c->head);
    c->head = NULL;
    p += used;
    n -= used;
  }
  if (n && !uv_is_closing((uv_handle_t *)s) && !c->close_seen)
    on_frames(c, p, n);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  conn *c = calloc(1, sizeof *c);
  if (!c || !(c->head = malloc(HEAD_MAX))) {
    free(c);
    return;
  }
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    drop(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: ws_floor PORT\n");
    return 2;
  }
  int port = atoi(argv[1]);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_in addr;
  uv_tcp_init(loop, &server);
  uv_ip4_addr("127.0.0.1", port, &addr);
  int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
  if (r < 0) {
    fprintf(stderr, "ws_floor: port %d: %s\n", port, uv_strerror(r));
    return 1;
  }
  printf("listening on %d\n", port);
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
