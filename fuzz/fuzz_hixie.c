/*
 * libFuzzer target for the draft protocols (hixie-75/76) on a raw server
 * driver with allow_drafts: handshake, key3 body and framing.
 *
 * Input byte 0 chooses:
 *   bits 0-1  what precedes the rest of the input:
 *             0 nothing (the input is the whole stream, request included)
 *             1 a valid -76 request and key3 (the input is frames)
 *             2 a valid -75 request (the input is frames)
 *             3 a valid -76 request head (the input starts with key3)
 *   bit 2     max_length 32 (reaches the limit paths)
 *   bit 3     frame events instead of messages
 *   bits 4-7  seed of the random split points
 *
 * Each stream runs three times: whole, at random split points and byte by
 * byte (the last only for short inputs). Events and written bytes are
 * hashed; any difference between the runs aborts. Messages are echoed back
 * and a message is queued before the handshake, so the send paths run too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsx/driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
  uint64_t events; /* FNV-1a over the event log */
  uint64_t out;    /* FNV-1a over the bytes written */
  size_t out_len;
  int opens, closes, errors, messages;
} run;

static void check(int ok) {
  if (!ok)
    abort();
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static uint64_t fnv_int(uint64_t h, long v) { return fnv(h, &v, sizeof v); }

static int on_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  (void)d;
  run *r = ud;
  for (size_t i = 0; i < n; i++) {
    r->out = fnv(r->out, iov[i].base, iov[i].len);
    r->out_len += iov[i].len;
  }
  return 0;
}

static void on_connect(wsx_driver *d, void *ud) {
  run *r = ud;
  r->events = fnv_int(r->events, 1);
  wsx_driver_start(d);
}

static void on_open(wsx_driver *d, void *ud) {
  run *r = ud;
  r->opens++;
  r->events = fnv_int(r->events, 2);
  check(wsx_driver_ready_state(d) == WSX_OPEN);
}

static void on_message(wsx_driver *d, const wsx_message *m, void *ud) {
  run *r = ud;
  r->messages++;
  r->events = fnv_int(r->events, 3);
  r->events = fnv(r->events, m->data, m->len);
  if (wsx_driver_version(d)[1] != 'i') /* a hybi request (mode 0) */
    return;
  check(m->opcode == WSX_OP_TEXT && m->fin);
  /* Drafts deliver only valid UTF-8; echoing it must be accepted. */
  check(wsx_driver_send_text(d, (const char *)m->data, m->len) == WSX_OK);
  check(wsx_driver_send_binary(d, m->data, m->len) == WSX_E_UNSUPPORTED);
}

static void on_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  run *r = ud;
  r->closes++;
  r->events = fnv_int(r->events, 4);
  r->events = fnv_int(r->events, e->code);
  check(wsx_driver_ready_state(d) == WSX_CLOSED);
}

static void on_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  (void)d;
  run *r = ud;
  r->errors++;
  r->events = fnv_int(r->events, 5);
  r->events = fnv_int(r->events, e->code);
}

static const wsx_driver_callbacks cbs = {.struct_size = sizeof(wsx_driver_callbacks),
    .write = on_write,
    .connect = on_connect,
    .open = on_open,
    .message = on_message,
    .frame = on_message,
    .close = on_close,
    .error = on_error,
};

static const char req76[] =
    "GET /f HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
    "Upgrade: WebSocket\r\nOrigin: http://h\r\n"
    "Sec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {   "
    "U1]8  z [  8\r\n"
    "Sec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) "
    "7]o}` 0\r\n\r\n";
static const char req75[] =
    "GET /f HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
    "Upgrade: WebSocket\r\nOrigin: http://h\r\n\r\n";

enum { WHOLE, RANDOM, BYTES };

static void one_run(const uint8_t *s, size_t n, unsigned opt, int mode,
                    run *r) {
  memset(r, 0, sizeof *r);
  r->events = r->out = 14695981039346656037ull;
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.allow_drafts = 1;
  o.max_length = (opt & 4) ? 32 : 0;
  o.frame_events = (opt & 8) ? 1 : 0;
  wsx_driver *d = wsx_driver_new_server(&o, &cbs, r);
  if (!d)
    return;
  check(wsx_driver_send_text(d, "pre", 3) == WSX_OK);
  /* parse() may modify its input: work on a copy. */
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    wsx_driver_free(d);
    return;
  }
  if (n)
    memcpy(buf, s, n);
  uint64_t seed = 0x9E3779B97F4A7C15ull * ((opt >> 4) + 1);
  size_t off = 0;
  while (off < n) {
    size_t k = n - off;
    if (mode == BYTES) {
      k = 1;
    } else if (mode == RANDOM) {
      seed ^= seed >> 12;
      seed ^= seed << 25;
      seed ^= seed >> 27;
      size_t cap = k < 64 ? k : 64;
      k = 1 + (size_t)((seed * 2685821657736338717ull) % cap);
    }
    int rc = wsx_driver_parse(d, buf + off, k);
    if (rc < 0)
      check(wsx_driver_ready_state(d) == WSX_CLOSED || rc == WSX_E_CLOSED);
    off += k;
  }
  r->events = fnv_int(r->events, wsx_driver_ready_state(d));
  check(r->closes <= 1 && r->opens <= 1);
  check(!r->errors || r->closes == 1);
  free(buf);
  wsx_driver_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536)
    return 0;
  unsigned opt = data[0];
  const char *pre = NULL;
  size_t pre_len = 0;
  switch (opt & 3) {
  case 1:
  case 3:
    pre = req76;
    pre_len = sizeof req76 - 1;
    break;
  case 2:
    pre = req75;
    pre_len = sizeof req75 - 1;
    break;
  default:
    break;
  }
  size_t key3 = (opt & 3) == 1 ? 8 : 0;
  size_t n = pre_len + key3 + size - 1;
  uint8_t *s = malloc(n ? n : 1);
  if (!s)
    return 0;
  if (pre_len)
    memcpy(s, pre, pre_len);
  if (key3)
    memcpy(s + pre_len, "Tm[K T2u", 8);
  memcpy(s + pre_len + key3, data + 1, size - 1);

  run a, b, c;
  one_run(s, n, opt, WHOLE, &a);
  one_run(s, n, opt, RANDOM, &b);
  check(a.events == b.events && a.out == b.out && a.out_len == b.out_len);
  if (n <= 4096) {
    one_run(s, n, opt, BYTES, &c);
    check(a.events == c.events && a.out == c.out && a.out_len == c.out_len);
  }
  free(s);
  return 0;
}
