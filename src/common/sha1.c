/* SHA-1 (FIPS 180-4, section 6.1), used for Sec-WebSocket-Accept. */
#include "common/util.h"

#include <string.h>

typedef struct sha1_ctx {
  uint32_t h[5];   /* running hash */
  uint64_t total;  /* bytes absorbed so far */
  uint8_t blk[64]; /* pending partial block */
  size_t n;        /* bytes used in blk, < 64 */
} sha1_ctx;

static uint32_t rol32(uint32_t x, unsigned r) {
  return (x << r) | (x >> (32u - r));
}

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* One round: the five words rotate roles, so each step is written with
 * them renamed instead of moved (the compiler keeps them in registers). */
#define SHA1_STEP(a, b, c, d, e, f, k, x)                                      \
  do {                                                                         \
    (e) += rol32((a), 5) + (f) + (k) + (x);                                    \
    (b) = rol32((b), 30);                                                      \
  } while (0)
/* The message schedule in a ring of 16 words (w[t] for t >= 16 replaces
 * w[t - 16]). */
#define SHA1_W(w, t)                                                           \
  ((w)[(t)&15] = rol32((w)[((t) + 13) & 15] ^ (w)[((t) + 8) & 15] ^            \
                           (w)[((t) + 2) & 15] ^ (w)[(t)&15],                  \
                       1))
#define SHA1_F0(b, c, d) ((((c) ^ (d)) & (b)) ^ (d)) /* (b & c) | (~b & d) */
#define SHA1_F1(b, c, d) ((b) ^ (c) ^ (d))
#define SHA1_F2(b, c, d) (((b) & (c)) | (((b) | (c)) & (d))) /* majority */
/* Five rounds t..t+4 of a stage (f, k); x(t) gives w[t]. */
#define SHA1_FIVE(f, k, x, t)                                                  \
  do {                                                                         \
    SHA1_STEP(a, b, c, d, e, f(b, c, d), k, x(t));                             \
    SHA1_STEP(e, a, b, c, d, f(a, b, c), k, x((t) + 1));                       \
    SHA1_STEP(d, e, a, b, c, f(e, a, b), k, x((t) + 2));                       \
    SHA1_STEP(c, d, e, a, b, f(d, e, a), k, x((t) + 3));                       \
    SHA1_STEP(b, c, d, e, a, f(c, d, e), k, x((t) + 4));                       \
  } while (0)

static void sha1_block(uint32_t h[5], const uint8_t *blk) {
  uint32_t w[16];
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  int t;
#define SHA1_LOAD(t) (w[t] = load_be32(blk + 4 * (t)))
#define SHA1_NEXT(t) SHA1_W(w, t)
  SHA1_FIVE(SHA1_F0, 0x5A827999u, SHA1_LOAD, 0);
  SHA1_FIVE(SHA1_F0, 0x5A827999u, SHA1_LOAD, 5);
  SHA1_FIVE(SHA1_F0, 0x5A827999u, SHA1_LOAD, 10);
  SHA1_STEP(a, b, c, d, e, SHA1_F0(b, c, d), 0x5A827999u, SHA1_LOAD(15));
  SHA1_STEP(e, a, b, c, d, SHA1_F0(a, b, c), 0x5A827999u, SHA1_NEXT(16));
  SHA1_STEP(d, e, a, b, c, SHA1_F0(e, a, b), 0x5A827999u, SHA1_NEXT(17));
  SHA1_STEP(c, d, e, a, b, SHA1_F0(d, e, a), 0x5A827999u, SHA1_NEXT(18));
  SHA1_STEP(b, c, d, e, a, SHA1_F0(c, d, e), 0x5A827999u, SHA1_NEXT(19));
  for (t = 20; t < 40; t += 5)
    SHA1_FIVE(SHA1_F1, 0x6ED9EBA1u, SHA1_NEXT, t);
  for (t = 40; t < 60; t += 5)
    SHA1_FIVE(SHA1_F2, 0x8F1BBCDCu, SHA1_NEXT, t);
  for (t = 60; t < 80; t += 5)
    SHA1_FIVE(SHA1_F1, 0xCA62C1D6u, SHA1_NEXT, t);
#undef SHA1_LOAD
#undef SHA1_NEXT
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

static void sha1_init(sha1_ctx *c) {
  c->h[0] = 0x67452301u;
  c->h[1] = 0xEFCDAB89u;
  c->h[2] = 0x98BADCFEu;
  c->h[3] = 0x10325476u;
  c->h[4] = 0xC3D2E1F0u;
  c->total = 0;
  c->n = 0;
}

static void sha1_update(sha1_ctx *c, const uint8_t *p, size_t len) {
  c->total += len;
  if (c->n > 0) {
    size_t take = 64 - c->n < len ? 64 - c->n : len;
    memcpy(c->blk + c->n, p, take);
    c->n += take;
    p += take;
    len -= take;
    if (c->n < 64)
      return;
    sha1_block(c->h, c->blk);
    c->n = 0;
  }
  for (; len >= 64; p += 64, len -= 64)
    sha1_block(c->h, p);
  if (len > 0)
    memcpy(c->blk, p, len);
  c->n = len;
}

static void sha1_final(sha1_ctx *c, uint8_t out[20]) {
  uint64_t bits = c->total * 8;
  int i;

  /* Pad with 0x80, zeros, then the 64-bit big-endian bit length. */
  c->blk[c->n++] = 0x80;
  if (c->n > 56) {
    memset(c->blk + c->n, 0, 64 - c->n);
    sha1_block(c->h, c->blk);
    c->n = 0;
  }
  memset(c->blk + c->n, 0, 56 - c->n);
  store_be32(c->blk + 56, (uint32_t)(bits >> 32));
  store_be32(c->blk + 60, (uint32_t)bits);
  sha1_block(c->h, c->blk);
  for (i = 0; i < 5; i++)
    store_be32(out + 4 * i, c->h[i]);
}

void wsx__sha1_2(const void *a, size_t alen, const void *b, size_t blen,
                 uint8_t out[20]) {
  sha1_ctx c;
  sha1_init(&c);
  if (alen)
    sha1_update(&c, a, alen);
  if (blen)
    sha1_update(&c, b, blen);
  sha1_final(&c, out);
}

void wsx__sha1(const void *p, size_t len, uint8_t out[20]) {
  wsx__sha1_2(p, len, NULL, 0, out);
}
