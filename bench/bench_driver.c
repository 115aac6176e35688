/*
 * bench_driver: the sans-I/O driver alone, no network (issue 2).
 *
 * Receive side: a server driver parses a buffer holding many masked frames
 * in one wsx_driver_parse() call per iteration. The driver unmasks in place,
 * so every iteration first restores the buffer from a pristine copy; that
 * memcpy is timed on its own in the same run and subtracted, and it is also
 * the memcpy bandwidth the parse figures are compared with (same bytes, same
 * cache state).
 *
 * Send side: send_binary on a server driver into a write callback that only
 * adds up the lengths.
 *
 * A counting allocator reports mallocs per message in steady state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsx/driver.h"

#define BUF_TARGET (1u << 20) /* bytes of frames parsed per iteration */
#define MIN_SECONDS 0.4       /* each measurement runs at least this long */

typedef struct counts {
  uint64_t mallocs; /* malloc + realloc calls */
  uint64_t frees;
  uint64_t messages; /* message events */
  uint64_t bytes;    /* message payload bytes delivered */
  uint64_t written;  /* bytes handed to the write callback */
  int errors;
} counts;

static counts C;

static void *count_malloc(size_t n, void *ud) {
  (void)ud;
  C.mallocs++;
  return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  C.mallocs++;
  return realloc(p, n);
}

static void count_free(void *p, void *ud) {
  (void)ud;
  if (p)
    C.frees++;
  free(p);
}

static const wsx_allocator counting = {count_malloc, count_realloc, count_free,
                                       NULL};

static int on_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  (void)d;
  (void)ud;
  for (size_t i = 0; i < n; i++)
    C.written += iov[i].len;
  return 0;
}

static void on_message(wsx_driver *d, const wsx_message *m, void *ud) {
  (void)d;
  (void)ud;
  C.messages++;
  C.bytes += m->len;
}

static void on_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  (void)d;
  (void)ud;
  if (!C.errors++)
    fprintf(stderr, "bench_driver: driver error %d: %s\n", e->code, e->message);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An open server driver, made from a request parsed elsewhere. */
static wsx_driver *open_server(void) {
  static wsx_header h[] = {
      {"Host", 4, "localhost", 9},
      {"Upgrade", 7, "websocket", 9},
      {"Connection", 10, "Upgrade", 7},
      {"Sec-WebSocket-Key", 17, "dGhlIHNhbXBsZSBub25jZQ==", 24},
      {"Sec-WebSocket-Version", 21, "13", 2},
  };
  wsx_http_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.method_len = 3;
  req.target = "/";
  req.target_len = 1;
  req.minor_version = 1;
  req.headers = h;
  req.num_headers = sizeof h / sizeof h[0];
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allocator = &counting;
  wsx_driver_callbacks cb = WSX_DRIVER_CALLBACKS_INIT;
  cb.write = on_write;
  cb.message = on_message;
  cb.error = on_error;
  wsx_driver *d = wsx_driver_new_server_request(&req, &o, &cb, NULL);
  if (!d || wsx_driver_start(d) != WSX_OK ||
      wsx_driver_ready_state(d) != WSX_OPEN) {
    fprintf(stderr, "bench_driver: could not open a server driver\n");
    exit(1);
  }
  return d;
}

/* Appends one masked client frame to p; returns its length. */
static size_t put_frame(uint8_t *p, int opcode, const uint8_t *payload,
                        size_t len, uint32_t seed) {
  size_t h = 0;
  p[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    p[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    p[h++] = 0x80 | 126;
    p[h++] = (uint8_t)(len >> 8);
    p[h++] = (uint8_t)len;
  } else {
    p[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      p[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  uint8_t mask[4] = {(uint8_t)seed, (uint8_t)(seed >> 8), (uint8_t)(seed >> 16),
                     (uint8_t)(seed >> 24 | 1)};
  memcpy(p + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < len; i++)
    p[h + i] = payload[i] ^ mask[i & 3];
  return h + len;
}

typedef struct result {
  double parse_s;   /* seconds per iteration, restore copy subtracted */
  double copy_s;    /* seconds per restore memcpy of the same buffer */
  uint64_t frames;  /* frames per iteration */
  uint64_t payload; /* payload bytes per iteration */
  double mallocs_per_msg;
} result;

/* Builds `count` frames of `len` bytes and measures parsing them. */
static result measure_parse(int opcode, size_t len, const uint8_t *payload) {
  size_t frame_max = len + 14;
  size_t count = BUF_TARGET / frame_max;
  if (count == 0)
    count = 1;
  uint8_t *pristine = malloc(count * frame_max);
  uint8_t *work = malloc(count * frame_max);
  if (!pristine || !work)
    exit(1);
  size_t total = 0;
  for (size_t i = 0; i < count; i++)
    total += put_frame(pristine + total, opcode, payload, len,
                       (uint32_t)(0x9e3779b9u * (i + 1)));

  wsx_driver *d = open_server();
  /* Warm-up: lets the driver size its buffers once. */
  memcpy(work, pristine, total);
  wsx_driver_parse(d, work, total);

  result r;
  memset(&r, 0, sizeof r);
  uint64_t it = 0;
  double t0 = now(), t;
  do {
    memcpy(work, pristine, total);
    it++;
  } while ((t = now()) - t0 < MIN_SECONDS);
  r.copy_s = (t - t0) / (double)it;

  uint64_t m0 = C.mallocs, msg0 = C.messages, b0 = C.bytes;
  it = 0;
  t0 = now();
  do {
    memcpy(work, pristine, total);
    if (wsx_driver_parse(d, work, total) != WSX_OK) {
      fprintf(stderr, "bench_driver: parse failed\n");
      exit(1);
    }
    it++;
  } while ((t = now()) - t0 < MIN_SECONDS);
  r.parse_s = (t - t0) / (double)it - r.copy_s;
  if (r.parse_s <= 0)
    r.parse_s = 1e-12;
  r.frames = count;
  r.payload = (uint64_t)count * len;
  uint64_t msgs = C.messages - msg0;
  if (msgs != it * count || C.bytes - b0 != it * count * len) {
    fprintf(stderr, "bench_driver: %llu messages delivered, expected %llu\n",
            (unsigned long long)msgs, (unsigned long long)(it * count));
    exit(1);
  }
  r.mallocs_per_msg = (double)(C.mallocs - m0) / (double)msgs;
  wsx_driver_free(d);
  free(work);
  free(pristine);
  return r;
}

static void print_parse(const char *name, result r, int per_frame) {
  double copy_gbs = (double)r.payload / r.copy_s / 1e9;
  double gbs = (double)r.payload / r.parse_s / 1e9;
  if (per_frame)
    printf("%-30s %8.2f M frames/s  (%.2f GB/s payload; memcpy %.2f GB/s)  "
           "mallocs/msg %.3f\n",
           name, (double)r.frames / r.parse_s / 1e6, gbs, copy_gbs,
           r.mallocs_per_msg);
  else
    printf("%-30s %8.2f GB/s  = %5.1f%% of memcpy (%.2f GB/s)  "
           "mallocs/msg %.3f  [with restore copy: %.2f GB/s]\n",
           name, gbs, 100.0 * gbs / copy_gbs, copy_gbs, r.mallocs_per_msg,
           (double)r.payload / (r.parse_s + r.copy_s) / 1e9);
}

/* Sends `len`-byte binary messages for MIN_SECONDS. */
static void measure_send(size_t len) {
  uint8_t *payload = malloc(len);
  if (!payload)
    exit(1);
  memset(payload, 'x', len);
  wsx_driver *d = open_server();
  wsx_driver_send_binary(d, payload, len); /* warm-up */
  uint64_t m0 = C.mallocs, w0 = C.written, n = 0;
  double t0 = now(), t;
  do {
    for (int i = 0; i < 1000; i++)
      if (wsx_driver_send_binary(d, payload, len) != WSX_OK) {
        fprintf(stderr, "bench_driver: send failed\n");
        exit(1);
      }
    n += 1000;
  } while ((t = now()) - t0 < MIN_SECONDS);
  double s = t - t0;
  if (C.written - w0 < n * len) {
    fprintf(stderr, "bench_driver: send wrote %llu bytes for %llu\n",
            (unsigned long long)(C.written - w0),
            (unsigned long long)(n * len));
    exit(1);
  }
  char name[64];
  snprintf(name, sizeof name, "send_binary %zu B", len);
  /* Server payloads are referenced by the iovecs, not copied: GB/s here is
   * framing cost spread over the payload, not a copy speed. */
  printf("%-30s %8.2f M msgs/s    (%.2f GB/s payload, zero-copy)  "
         "mallocs/msg %.3f\n",
         name, (double)n / s / 1e6, (double)(n * len) / s / 1e9,
         (double)(C.mallocs - m0) / (double)n);
  wsx_driver_free(d);
  free(payload);
}

int main(void) {
  static uint8_t ascii[65536], bin[65536], utf8[65536];
  for (size_t i = 0; i < sizeof ascii; i++) {
    ascii[i] = (uint8_t)(' ' + i % 95);
    bin[i] = (uint8_t)(i * 2654435761u >> 24);
  }
  /* Mixed text: "héllo wörld €uro " repeated (1-, 2- and 3-byte sequences),
   * cut at a character boundary. */
  static const char pat[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xacuro ";
  size_t ul = 0, pl = sizeof pat - 1;
  while (ul + pl <= sizeof utf8) {
    memcpy(utf8 + ul, pat, pl);
    ul += pl;
  }

  printf("wsx %s driver benchmark (server driver, masked client frames, "
         "%u KiB per parse call)\n",
         wsx_version(0), BUF_TARGET >> 10);
  result t20 = measure_parse(WSX_OP_TEXT, 20, ascii);
  print_parse("parse text 20 B", t20, 1);
  result b64 = measure_parse(WSX_OP_BINARY, 65536, bin);
  print_parse("parse binary 64 KiB", b64, 0);
  result x64 = measure_parse(WSX_OP_TEXT, 65536, ascii);
  print_parse("parse text 64 KiB (ASCII)", x64, 0);
  result u64 = measure_parse(WSX_OP_TEXT, ul, utf8);
  print_parse("parse text 64 KiB (mixed UTF-8)", u64, 0);
  measure_send(20);
  measure_send(65536);

  double fps = (double)t20.frames / t20.parse_s;
  double bin_ratio =
      ((double)b64.payload / b64.parse_s) / ((double)b64.payload / b64.copy_s);
  int ok_fps = fps >= 10e6, ok_bin = bin_ratio >= 0.5;
  int ok_alloc = t20.mallocs_per_msg == 0 && b64.mallocs_per_msg == 0 &&
                 x64.mallocs_per_msg == 0;
  printf("targets: 20 B text >= 10M frames/s: %s (%.1fM); 64 KiB binary >= "
         "50%% of memcpy: %s (%.0f%%); 0 mallocs/msg: %s\n",
         ok_fps ? "met" : "MISSED", fps / 1e6, ok_bin ? "met" : "MISSED",
         bin_ratio * 100, ok_alloc ? "met" : "MISSED");
  return C.errors ? 1 : 0;
}
