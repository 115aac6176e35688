/* HTTP/1.1 chunked transfer decoding (RFC 9112 7.1), strict: CRLF line
 * ends only (a bare LF anywhere is an error), hex sizes, chunk extensions
 * only after ';' (BWS before it), no control characters but HTAB in
 * extensions or trailer lines. Used by the EventSource client (response
 * bodies) and the server front (request bodies, where a lenient decoder
 * would let a proxy and wsx disagree on where a request ends). */
#include <string.h>

#include "es/es.h"

enum {
  C_SIZE,    /* hex digits of the chunk size */
  C_EXT_BWS, /* SP/HTAB after the size: ';' or CR must follow */
  C_EXT,     /* chunk extension: skipped up to CR */
  C_SIZE_LF, /* CR seen after the size line */
  C_DATA,    /* chunk bytes */
  C_DATA_CR, /* CRLF after the chunk data */
  C_DATA_LF,
  C_TRAILER, /* start of a trailer line (or the final CRLF) */
  C_TRAILER_LINE,
  C_TRAILER_LF,
  C_END_LF,
  C_DONE
};

/* Visible ASCII, obs-text and HTAB/SP: what extensions and trailer
 * fields may hold. */
static int field_byte(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int hex(uint8_t c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long wsx__chunked_decode(wsx__chunked *c, uint8_t *buf, size_t len, int *done) {
  size_t i = 0, out = 0;
  *done = c->state == C_DONE;
  c->used = 0;
  if (c->error)
    return c->error;
  while (i < len && c->state != C_DONE) {
    uint8_t b = buf[i];
    switch (c->state) {
    case C_SIZE: {
      int h = hex(b);
      if (h >= 0) {
        if (++c->digits > 15) /* > 2^60 bytes: nonsense */
          return c->error = WSX_E_HTTP;
        c->left = c->left * 16 + (uint64_t)h;
      } else if (c->digits && b == ';') {
        c->state = C_EXT;
      } else if (c->digits && (b == ' ' || b == '\t')) {
        c->state = C_EXT_BWS;
      } else if (c->digits && b == '\r') {
        c->state = C_SIZE_LF;
      } else {
        return c->error = WSX_E_HTTP;
      }
      i++;
      break;
    }
    case C_EXT_BWS:
      if (b == ';')
        c->state = C_EXT;
      else if (b == '\r')
        c->state = C_SIZE_LF;
      else if (b != ' ' && b != '\t')
        return c->error = WSX_E_HTTP;
      i++;
      break;
    case C_EXT:
      if (b == '\r')
        c->state = C_SIZE_LF;
      else if (!field_byte(b))
        return c->error = WSX_E_HTTP;
      i++;
      break;
    case C_SIZE_LF:
      if (b != '\n')
        return c->error = WSX_E_HTTP;
      c->digits = 0;
      c->state = c->left ? C_DATA : C_TRAILER;
      i++;
      break;
    case C_DATA: {
      size_t n = len - i;
      if ((uint64_t)n > c->left)
        n = (size_t)c->left;
      memmove(buf + out, buf + i, n);
      out += n;
      i += n;
      c->left -= n;
      if (!c->left)
        c->state = C_DATA_CR;
      break;
    }
    case C_DATA_CR:
    case C_TRAILER_LF:
      if (b != (c->state == C_DATA_CR ? '\r' : '\n'))
        return c->error = WSX_E_HTTP;
      c->state = c->state == C_DATA_CR ? C_DATA_LF : C_TRAILER;
      i++;
      break;
    case C_DATA_LF:
      if (b != '\n')
        return c->error = WSX_E_HTTP;
      c->state = C_SIZE;
      i++;
      break;
    case C_TRAILER:
      if (b != '\r' && !field_byte(b))
        return c->error = WSX_E_HTTP;
      c->state = b == '\r' ? C_END_LF : C_TRAILER_LINE;
      i++;
      break;
    case C_TRAILER_LINE:
      if (b == '\r')
        c->state = C_TRAILER_LF;
      else if (!field_byte(b))
        return c->error = WSX_E_HTTP;
      i++;
      break;
    case C_END_LF:
      if (b != '\n')
        return c->error = WSX_E_HTTP;
      c->state = C_DONE;
      i++;
      break;
    default:
      break;
    }
  }
  *done = c->state == C_DONE;
  c->used = i;
  return (long)out;
}
