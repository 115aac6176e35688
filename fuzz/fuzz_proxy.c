/*
 * libFuzzer target for the CONNECT handshake (wsx/proxy.h).
 *
 * Input byte 0 chooses: bit 0 small limits (max_head 96, 3 headers) to
 * reach the limit paths; bit 1 call wsx_proxy_eof() after the input;
 * bits 2..7 a seed for the chunk sizes. The rest is the proxy's response.
 *
 * Besides "no crash", it checks that the input fed whole, in seeded random
 * chunks and one byte at a time gives the same outcome (event, code,
 * status, message, tunnel bytes), that exactly one event fires once the
 * handshake ends, and that `connect` means a 2xx status. Any mismatch
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsx/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
  int connects, errors, code, rc, status, state;
  char msg[320];
  size_t body_len;
  uint8_t body_hash; /* cheap fingerprint of the tunnel bytes */
  size_t nh;
} outcome;

static void check(int ok) {
  if (!ok)
    abort();
}

static int on_write(wsx_proxy *p, const wsx_iovec *iov, size_t n, void *ud) {
  (void)p;
  (void)iov;
  (void)n;
  (void)ud;
  return 0;
}

static void on_connect(wsx_proxy *p, void *ud) {
  outcome *o = ud;
  int st = wsx_proxy_status_code(p);
  check(st >= 200 && st <= 299);
  o->connects++;
}

static void on_error(wsx_proxy *p, const wsx_error_event *e, void *ud) {
  outcome *o = ud;
  size_t n = strlen(e->message);
  (void)p;
  check(n > 0 && n < sizeof(o->msg));
  memcpy(o->msg, e->message, n + 1);
  o->code = e->code;
  o->errors++;
}

static const wsx_proxy_callbacks cbs = {sizeof(wsx_proxy_callbacks), on_write, on_connect, on_error};

/* mode 0: whole; 1: bytes; 2: seeded chunks. */
static void run(const uint8_t *in, size_t len, int small, int eof, int mode,
                uint32_t seed, outcome *o) {
  wsx_proxy_options opts = WSX_PROXY_OPTIONS_INIT;
  wsx_proxy *p;
  size_t off = 0, i, tail = 0;
  int rc = WSX_OK;
  memset(o, 0, sizeof(*o));
  opts = (wsx_proxy_options)WSX_PROXY_OPTIONS_INIT;
  if (small) {
    opts.max_head_size = 96;
    opts.max_headers = 3;
  }
  p = wsx_proxy_new("http://u:p@127.0.0.1:3128", "example.com", 443, &opts,
                    &cbs, o, NULL);
  check(p != NULL);
  check(wsx_proxy_start(p) == WSX_OK);
  while (off < len && wsx_proxy_state(p) == WSX_PROXY_SENT) {
    size_t n = len - off;
    if (mode == 1)
      n = 1;
    else if (mode == 2) {
      seed = seed * 1103515245u + 12345u;
      n = 1 + (seed >> 16) % (n < 37 ? n : 37);
    }
    rc = wsx_proxy_parse(p, in + off, n);
    off += n;
  }
  if (eof)
    rc = wsx_proxy_eof(p);
  o->rc = rc;
  o->status = wsx_proxy_status_code(p);
  o->state = wsx_proxy_state(p);
  (void)wsx_proxy_headers(p, &o->nh);
  {
    const uint8_t *b = wsx_proxy_body(p, &o->body_len);
    check((b == NULL) == (o->body_len == 0));
    for (i = 0; i < o->body_len; i++)
      o->body_hash = (uint8_t)(o->body_hash * 31 + b[i]);
    if (o->state == WSX_PROXY_CONNECTED)
      tail = len - off; /* bytes the caller would hand to the tunnel */
    for (i = 0; i < tail; i++)
      o->body_hash = (uint8_t)(o->body_hash * 31 + in[off + i]);
    o->body_len += tail;
  }
  check(o->connects + o->errors <= 1);
  check(o->connects == (o->state == WSX_PROXY_CONNECTED));
  check(o->errors == (o->state == WSX_PROXY_FAILED));
  if (o->state == WSX_PROXY_SENT)
    check(!eof && rc == WSX_OK);
  wsx_proxy_free(p);
}

static void same(const outcome *a, const outcome *b) {
  check(a->connects == b->connects && a->errors == b->errors);
  check(a->code == b->code && a->rc == b->rc && a->status == b->status);
  check(a->state == b->state && a->nh == b->nh);
  check(strcmp(a->msg, b->msg) == 0);
  check(a->body_len == b->body_len && a->body_hash == b->body_hash);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  outcome whole, split;
  int small, eof;
  uint32_t seed;
  if (size < 1 || size > 4096)
    return 0;
  small = data[0] & 1;
  eof = (data[0] >> 1) & 1;
  seed = (uint32_t)(data[0] >> 2) + 1u;
  run(data + 1, size - 1, small, eof, 0, seed, &whole);
  run(data + 1, size - 1, small, eof, 1, seed, &split);
  same(&whole, &split);
  run(data + 1, size - 1, small, eof, 2, seed, &split);
  same(&whole, &split);
  return 0;
}
