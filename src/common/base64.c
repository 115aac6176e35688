/* Standard base64 with padding (RFC 4648, section 4), strict decoding. */
#include "common/util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wsx__base64_encode(const uint8_t *in, size_t n, char *out) {
  size_t i = 0, o = 0;

  for (; n - i >= 3; i += 3) {
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) |
                 (uint32_t)in[i + 2];
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = b64_alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
    out[o++] = b64_alphabet[(v >> 18) & 63];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

/* Value of a base64 digit, or -1 (padding, whitespace and all else). */
static int b64_value(char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '+')
    return 62;
  if (ch == '/')
    return 63;
  return -1;
}

/*
 * Rejects: length not a multiple of 4, any character outside the alphabet,
 * '=' anywhere but the last one or two positions, and non-zero bits left
 * over before the padding (so every byte string has exactly one accepted
 * encoding; a Sec-WebSocket-Key is compared by its decoded length).
 */
long wsx__base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap) {
  size_t i, o = 0, pad = 0, outlen;

  if (n % 4 != 0)
    return -1;
  if (n >= 1 && in[n - 1] == '=')
    pad = (n >= 2 && in[n - 2] == '=') ? 2 : 1;
  outlen = n / 4 * 3 - pad;
  if (outlen > outcap)
    return -1;
  for (i = 0; i < n; i += 4) {
    int v[4], k;
    int last = i + 4 == n;
    uint32_t w;
    for (k = 0; k < 4; k++) {
      v[k] = b64_value(in[i + (size_t)k]);
      if (v[k] < 0 && !(last && k >= 4 - (int)pad))
        return -1;
    }
    if (last && pad == 2) {
      if (v[1] & 0x0F)
        return -1;
      out[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
    } else if (last && pad == 1) {
      if (v[2] & 0x03)
        return -1;
      w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
          ((uint32_t)v[2] << 6);
      out[o++] = (uint8_t)(w >> 16);
      out[o++] = (uint8_t)(w >> 8);
    } else {
      w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
          ((uint32_t)v[2] << 6) | (uint32_t)v[3];
      out[o++] = (uint8_t)(w >> 16);
      out[o++] = (uint8_t)(w >> 8);
      out[o++] = (uint8_t)w;
    }
  }
  return (long)o;
}
