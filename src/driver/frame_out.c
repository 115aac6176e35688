/*
 * frame_out.c: RFC 6455 framing, sending: frame headers, a frame's write
 * (in place when the payload is the frame being delivered, masked for a
 * client), and the close codes that may go on the wire. Receiving is in
 * frame.c.
 */
#include "driver/driver_int.h"

#include <string.h>

/* dst = src ^ mask, in one pass (client output). */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                      const uint8_t m[4]) {
  uint32_t m32;
  memcpy(&m32, m, 4);
  uint64_t m64 = ((uint64_t)m32 << 32) | m32;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= m64;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++)
    dst[i] = src[i] ^ m[i & 3];
}

size_t wsx__frame_header(uint8_t *out, int opcode, int fin, unsigned rsv,
                         int masked, const uint8_t mask[4], uint64_t len) {
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0f));
  uint8_t mbit = masked ? 0x80 : 0;
  /* RFC 6455 5.2: the minimal number of bytes MUST be used. */
  if (len < 126) {
    out[n++] = (uint8_t)(mbit | len);
  } else if (len <= 0xffff) {
    out[n++] = mbit | 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = mbit | 127;
    for (int s = 56; s >= 0; s -= 8)
      out[n++] = (uint8_t)(len >> s);
  }
  if (masked) {
    memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

int wsx__frame_send(wsx_driver *d, int opcode, int fin, unsigned rsv,
                    const void *data, size_t len) {
  uint8_t hdr[14];
  if (d->role != WSX__CLIENT) {
    size_t hl = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    if (len && data == d->deliver_p && hl <= d->deliver_room) {
      /* The payload of the frame being delivered, straight from the input:
       * its consumed header (a client's, 4 mask bytes longer than ours)
       * takes ours, and the frame leaves in one piece (one write, not a
       * writev of two). */
      uint8_t *h = (uint8_t *)(uintptr_t)d->deliver_p - hl;
      return wsx__write1(d, h, wsx__frame_header(h, opcode, fin, rsv, 0,
                                                  NULL, len) + len);
    }
    hl = wsx__frame_header(hdr, opcode, fin, rsv, 0, NULL, len);
    wsx_iovec iov[2] = {{hdr, hl}, {data, len}};
    return wsx__write(d, iov, len ? 2 : 1);
  }
  /* RFC 6455 5.3: a fresh, unpredictable mask for every client frame. */
  uint8_t mask[4];
  if (wsx__driver_random(d, mask, 4) != 0)
    return wsx__fail(d, WSX_E_INTERNAL, WSX_CLOSE_UNEXPECTED,
                     "random source failed for the frame mask");
  size_t hl = wsx__frame_header(hdr, opcode, fin, rsv, 1, mask, len);
  if (len <= 256) {
    uint8_t buf[14 + 256];
    memcpy(buf, hdr, hl);
    mask_copy(buf + hl, data, len, mask);
    return wsx__write1(d, buf, hl + len);
  }
  if (!wsx__drx_get(d))
    return WSX_E_NOMEM;
  d->x->scratch.len = 0;
  if (wsx__buf_reserve(&d->x->scratch, d->alloc, len))
    return WSX_E_NOMEM;
  mask_copy(d->x->scratch.data, data, len, mask);
  wsx_iovec iov[2] = {{hdr, hl}, {d->x->scratch.data, len}};
  int rc = wsx__write(d, iov, 2);
  if (d->x->scratch.cap > KEEP_BUFFER_MAX)
    wsx__buf_free(&d->x->scratch, d->alloc);
  return rc;
}

int wsx__close_code_valid(unsigned code) {
  /* RFC 6455 7.4.1/7.4.2: 1004-1006 and 1015 are reserved and MUST NOT be
   * sent; 0-999 unused; 1016-2999 reserved for future protocol use;
   * 3000-4999 for libraries and applications. */
  /* 1012-1014 are IANA-registered since (service restart, try again
   * later, bad gateway); 1015 stays reserved (TLS failure, never sent). */
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}
