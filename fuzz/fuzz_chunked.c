/*
 * libFuzzer target for the chunked body decoder (src/es/chunked.c), used
 * the way the server front uses it for request bodies: decoded in place,
 * the undecoded rest compacted behind the body, the end of the body taken
 * from `used` so that the bytes after it (a pipelined request) are kept.
 *
 * Byte 0 is the split size (0 = one byte at a time). The rest is fed whole
 * to one decoder and in pieces to another; both must agree with each other
 * and with a small reference decoder written here straight from RFC 9112
 * 7.1 (non-streaming): same verdict (error / incomplete / done), same body,
 * same end offset, and the bytes after the end untouched. Any mismatch
 * aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "es/es.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { R_ERROR, R_AGAIN, R_DONE };

static void check(int ok) {
  if (!ok)
    abort();
}

static int ref_hex(uint8_t c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int ref_field(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* Reference: decodes in[0..n) into out; *end = bytes of the body. */
static int reference(const uint8_t *in, size_t n, uint8_t *out, size_t *olen,
                     size_t *end) {
  size_t i = 0;
  *olen = 0;
  for (;;) {
    uint64_t size = 0;
    int digits = 0;
    while (i < n && ref_hex(in[i]) >= 0) {
      if (++digits > 15)
        return R_ERROR;
      size = size * 16 + (uint64_t)ref_hex(in[i++]);
    }
    if (i == n)
      return R_AGAIN;
    if (!digits)
      return R_ERROR;
    while (i < n && (in[i] == ' ' || in[i] == '\t'))
      i++;
    if (i < n && in[i] == ';')
      while (++i < n && in[i] != '\r')
        if (!ref_field(in[i]))
          return R_ERROR;
    if (i == n)
      return R_AGAIN;
    if (in[i++] != '\r')
      return R_ERROR;
    if (i == n)
      return R_AGAIN;
    if (in[i++] != '\n')
      return R_ERROR;
    if (size == 0)
      break;
    if (n - i < size) {
      return R_AGAIN;
    }
    memcpy(out + *olen, in + i, (size_t)size);
    *olen += (size_t)size;
    i += (size_t)size;
    if (i == n)
      return R_AGAIN;
    if (in[i++] != '\r')
      return R_ERROR;
    if (i == n)
      return R_AGAIN;
    if (in[i++] != '\n')
      return R_ERROR;
  }
  for (;;) { /* trailer lines, then the empty line */
    int empty = 1;
    while (i < n && in[i] != '\r') {
      if (!ref_field(in[i]))
        return R_ERROR;
      i++;
      empty = 0;
    }
    if (i == n)
      return R_AGAIN;
    i++;
    if (i == n)
      return R_AGAIN;
    if (in[i++] != '\n')
      return R_ERROR;
    if (empty) {
      *end = i;
      return R_DONE;
    }
  }
}

/* The front's use: buf = [decoded body][rest not yet decoded], pieces of
 * `step` bytes appended as they "arrive". Returns the verdict; *blen the
 * body length, *end the input offset where the body ended. */
static int front_like(const uint8_t *in, size_t n, size_t step, uint8_t *buf,
                      size_t *blen, size_t *end) {
  wsx__chunked c;
  size_t len = 0, body = 0, fed = 0;
  memset(&c, 0, sizeof(c));
  while (fed < n) {
    size_t k = step && step < n - fed ? step : (step ? n - fed : 1);
    size_t avail, used;
    long out;
    int done = 0;
    memcpy(buf + len, in + fed, k);
    len += k;
    fed += k;
    avail = len - body;
    out = wsx__chunked_decode(&c, buf + body, avail, &done);
    if (out < 0)
      return R_ERROR;
    used = c.used;
    check(used <= avail && (size_t)out <= used);
    memmove(buf + body + out, buf + body + used, avail - used);
    len -= used - (size_t)out;
    body += (size_t)out;
    if (done) {
      *blen = body;
      /* Everything fed after the body's end is still there, untouched. */
      *end = fed - (len - body);
      check(memcmp(buf + body, in + *end, len - body) == 0);
      return R_DONE;
    }
  }
  *blen = body;
  return R_AGAIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *a, *b, *r;
  size_t alen = 0, blen = 0, rlen = 0, aend = 0, bend = 0, rend = 0, step;
  int va, vb, vr;
  if (size < 1 || size > 1 << 16)
    return 0;
  step = data[0];
  data++;
  size--;
  a = malloc(size + 1);
  b = malloc(size + 1);
  r = malloc(size + 1);
  if (!a || !b || !r)
    abort();
  va = front_like(data, size, size ? size : 1, a, &alen, &aend);
  vb = front_like(data, size, step, b, &blen, &bend);
  vr = reference(data, size, r, &rlen, &rend);
  check(va == vb && va == vr);
  if (va == R_DONE) {
    check(aend == bend && aend == rend);
    check(alen == blen && alen == rlen);
    check(memcmp(a, b, alen) == 0 && memcmp(a, r, alen) == 0);
  }
  free(a);
  free(b);
  free(r);
  return 0;
}
