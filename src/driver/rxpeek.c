/*
 * Whether a piece of input will grow the incoming message buffer
 * (driver/embed.h, wsx__driver_input_unbuffered): the transport's budget
 * admission (uv/budget.c) skips its worst-case estimate for input that is
 * only whole single-frame messages and control frames, which the parser
 * hands to the application in place (frame.c, data_chunk) without ever
 * touching the message buffer. Looks at the frame headers only; the
 * parser still checks everything.
 */
#include "driver/driver_int.h"
#include "driver/embed.h"

/* More frames than this in one piece: the caller takes the slow path. */
#define PEEK_FRAMES_MAX 16u

int wsx__driver_input_unbuffered(const wsx_driver *d, const uint8_t *p,
                                 size_t n) {
  unsigned k;
  /* Between messages, no header half read, no extension (whose output
   * is assembled in the buffer), RFC 6455 framing. */
  if (d->version != WSX__HYBI || d->in_payload || d->hdr_len || d->msg_op ||
      d->ext.num_active)
    return 0;
  for (k = 0; n && k < PEEK_FRAMES_MAX; k++) {
    uint64_t len;
    size_t hs, i;
    if (n < 2)
      return 1; /* a split header is gathered in d->hdr */
    len = p[1] & 0x7f;
    hs = len == 126 ? 4u : len == 127 ? 10u : 2u;
    if (p[1] & 0x80)
      hs += 4; /* the mask */
    if (n < hs)
      return 1;
    if (len == 126)
      len = (uint64_t)p[2] << 8 | p[3];
    else if (len == 127)
      for (len = 0, i = 2; i < 10; i++)
        len = len << 8 | p[i];
    if ((p[0] & 0x0f) >= 8) {
      /* A control frame: its payload (at most 125 bytes, or the parser
       * fails the connection) is used in place or in d->ctrl. */
      if (len > n - hs)
        return 1;
    } else if (!(p[0] & 0x80) || len > n - hs ||
               (p[0] & 0x0f) == WSX_OP_CONTINUATION) {
      return 0; /* a fragment, or a frame not whole in this piece */
    }
    p += hs + (size_t)len;
    n -= hs + (size_t)len;
  }
  return n == 0;
}
