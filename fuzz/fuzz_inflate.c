/*
 * libFuzzer target: inflate through the driver. A raw server driver with
 * permessage-deflate registered gets a handshake whose offer is chosen by
 * the first input bytes, then frames built from the rest: every record is
 * wrapped as a masked frame, normally with RSV1 set, so the inflater sees
 * arbitrary data, fragmented or not, mixed with control frames.
 *
 * Input:
 *   byte 0  offer: bit 0 server_no_context_takeover, bit 1
 *           client_no_context_takeover, bits 2-5 client_max_window_bits
 *           (0 absent, 1 bare, 2-9 = 8..15, 10-15 an invalid value),
 *           bit 6 an unknown parameter, bit 7 a second (fallback) offer
 *   byte 1  bits 0-3 server_max_window_bits (0 absent, 1-8 = 8..15, else
 *           invalid); bits 4-7 the server's deflate options
 *   byte 2  max_length = 1 + byte * 97 (small, so limits are hit)
 *   byte 3  max chunk size for the split feed (0 = whole); bit 7 echo
 *   rest    records: [h][len][len bytes]; h bits 0-1 opcode (text, binary,
 *           continuation, ping), bit 2 FIN, bit 3 clears RSV1, bit 4 sets
 *           RSV2
 *
 * Invariants (abort on failure): those of fuzz_driver.h; whole and split
 * feeding give the same events and output; the driver's memory (zlib
 * included, through the allocator hooks) stays under a bound derived from
 * max_length; nothing leaks.
 */
#include "fuzz_driver.h"
#include "wsx/extension.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- counting allocator ---- */

typedef struct fcount {
  size_t cur, peak;
} fcount;

static void *fc_malloc(size_t n, void *ud) {
  fcount *c = ud;
  size_t *p = malloc(n + 16);
  if (!p)
    return NULL;
  *p = n;
  c->cur += n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  return (uint8_t *)p + 16;
}
static void fc_free(void *q, void *ud) {
  fcount *c = ud;
  if (!q)
    return;
  size_t *p = (size_t *)(void *)((uint8_t *)q - 16);
  c->cur -= *p;
  free(p);
}
static void *fc_realloc(void *q, size_t n, void *ud) {
  fcount *c = ud;
  if (!q)
    return fc_malloc(n, ud);
  size_t *p = (size_t *)(void *)((uint8_t *)q - 16);
  size_t old = *p;
  size_t *r = realloc(p, n + 16);
  if (!r)
    return NULL;
  *r = n;
  c->cur = c->cur - old + n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  return (uint8_t *)r + 16;
}

/* ---- input to byte stream ---- */

typedef struct fbuf {
  uint8_t *p;
  size_t len, cap;
} fbuf;

static void fb_put(fbuf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    fz_check(b->p != NULL);
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void fb_str(fbuf *b, const char *s) { fb_put(b, s, strlen(s)); }

static void bits_param(fbuf *b, const char *name, unsigned v, int bare_ok) {
  char tmp[64];
  if (v == 0)
    return;
  if (v == 1 && bare_ok) {
    snprintf(tmp, sizeof tmp, "; %s", name);
  } else if (v >= 2 && v <= 9) {
    snprintf(tmp, sizeof tmp, "; %s=%u", name, v + 6);
  } else {
    static const char *const bad[] = {"7", "16", "09", "\"10\"", "x", ""};
    snprintf(tmp, sizeof tmp, "; %s=%s", name, bad[v % 6]);
  }
  fb_str(b, tmp);
}

static void build_request(fbuf *b, uint8_t o0, uint8_t o1) {
  fb_str(b, "GET /f HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate");
  if (o0 & 1)
    fb_str(b, "; server_no_context_takeover");
  if (o0 & 2)
    fb_str(b, "; client_no_context_takeover");
  bits_param(b, "client_max_window_bits", (o0 >> 2) & 15u, 1);
  unsigned sv = o1 & 15u; /* 1-8 -> 8..15 (bits_param's 2-9), else bad */
  bits_param(b, "server_max_window_bits", sv >= 1 && sv <= 8 ? sv + 1 : sv, 0);
  if (o0 & 0x40)
    fb_str(b, "; x-unknown-param");
  /* A fallback offer, so declined first offers still negotiate. */
  if (o0 & 0x80)
    fb_str(b, ", permessage-deflate; client_max_window_bits");
  fb_str(b, "\r\n\r\n");
}

static void build_frames(fbuf *b, const uint8_t *p, size_t n) {
  static const uint8_t ops[4] = {WSX_OP_TEXT, WSX_OP_BINARY,
                                 WSX_OP_CONTINUATION, WSX_OP_PING};
  static const uint8_t mask[4] = {0x11, 0x22, 0x44, 0x88};
  size_t i = 0;
  while (i + 2 <= n) {
    uint8_t h = p[i], len = p[i + 1];
    i += 2;
    size_t k = len <= n - i ? len : n - i;
    uint8_t op = ops[h & 3];
    uint8_t b0 = (uint8_t)(op | ((h & 4) || op == WSX_OP_PING ? 0x80 : 0));
    if (!(h & 8))
      b0 |= 0x40;
    if (h & 16)
      b0 |= 0x20;
    uint8_t hdr[4] = {b0, (uint8_t)(0x80 | k), 0, 0};
    size_t hl = 2;
    if (k > 125) {
      hdr[1] = 0x80 | 126;
      hdr[2] = 0;
      hdr[3] = (uint8_t)k;
      hl = 4;
    }
    fb_put(b, hdr, hl);
    fb_put(b, mask, 4);
    for (size_t j = 0; j < k; j++) {
      uint8_t c = (uint8_t)(p[i + j] ^ mask[j & 3]);
      fb_put(b, &c, 1);
    }
    i += k;
  }
}

/* ---- one run ---- */

typedef struct result {
  uint64_t events, out;
  int opens, closes;
} result;

static result run(const uint8_t *stream, size_t n, uint8_t o1,
                  uint64_t max_length, size_t max_chunk, int echo) {
  fcount cnt = {0, 0};
  wsx_allocator a = {fc_malloc, fc_realloc, fc_free, &cnt};
  wsx_deflate_options dopt = WSX_DEFLATE_OPTIONS_INIT;
  unsigned sv = o1 >> 4;
  dopt.server_no_context_takeover = sv & 1;
  dopt.client_no_context_takeover = (sv >> 1) & 1;
  dopt.free_idle_streams = (sv >> 2) & 1;
  dopt.client_max_window_bits = (sv & 8) ? 9 : 0;
  dopt.server_max_window_bits = (sv & 8) ? 8 : 0;
  dopt.threshold = (sv & 4) ? 16 : 0;
  wsx_extension *ext = wsx_deflate_new(&dopt);
  fz_check(ext != NULL);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_length = max_length;
  o.allocator = &a;
  fz_run r;
  memset(&r, 0, sizeof r);
  r.start_in_connect = 1;
  r.echo = echo;
  r.d = wsx_driver_new_server(&o, &fz_cbs, &r);
  fz_check(r.d != NULL);
  fz_check(wsx_driver_add_extension(r.d, ext) == WSX_OK);
  fz_feed(&r, stream, n, max_chunk, n);
  /* The message buffer (<= max_length), the echo's compressed copy, zlib's
   * two streams (< 300 KiB at 15 bits, memLevel 8) and the driver's own
   * buffers: nothing may grow with the input beyond max_length. */
  size_t bound = 2 * (size_t)max_length + 512 * 1024;
  if (cnt.peak > bound) {
    fprintf(stderr, "peak %zu > bound %zu (max_length %llu)\n", cnt.peak, bound,
            (unsigned long long)max_length);
    abort();
  }
  result res = {r.events, r.out, r.opens, r.closes};
  fz_free(&r);
  wsx_deflate_free(ext);
  fz_check(cnt.cur == 0); /* no leak through the hooks */
  return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > 65536)
    return 0;
  fbuf s = {NULL, 0, 0};
  build_request(&s, data[0], data[1]);
  build_frames(&s, data + 4, size - 4);
  uint64_t max_length = 1 + (uint64_t)data[2] * 97;
  size_t chunk = data[3] & 0x7f;
  int echo = data[3] >> 7;
  result whole = run(s.p, s.len, data[1], max_length, 0, echo);
  result split = run(s.p, s.len, data[1], max_length, chunk ? chunk : 1, echo);
  /* Every split of the input gives the same events and output. */
  fz_check(whole.events == split.events);
  fz_check(whole.out == split.out);
  fz_check(whole.opens == split.opens && whole.closes == split.closes);
  free(s.p);
  return 0;
}
