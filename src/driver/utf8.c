/*
 * Incremental, fail-fast UTF-8 validation (RFC 3629).
 *
 * Two paths share one state encoding:
 *  - at a character boundary, whole sequences are checked with explicit
 *    range tests, and runs of ASCII are skipped 64/16 (SSE2) or 8 bytes at a
 *    time;
 *  - a sequence cut by the end of a chunk (or resumed at the start of the
 *    next one) goes through utf8_step(), one byte at a time.
 * Both reject at the first byte after which no valid continuation exists
 * (e.g. F4 90 fails at 90, ED A0 at A0), which is what the 1007 close needs.
 */
#include "driver/util.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * States. 0 is a character boundary; 1..3 wait for that many continuation
 * bytes in 80..BF; 4..7 wait for a second byte whose range is narrowed by
 * the lead byte (to exclude overlongs, surrogates and > U+10FFFF).
 */
enum {
  U8_ACCEPT = 0,
  U8_NEED1 = 1,
  U8_NEED2 = 2,
  U8_NEED3 = 3,
  U8_E0 = 4,     /* after E0: A0..BF, then 1 more (no overlong < U+0800) */
  U8_ED = 5,     /* after ED: 80..9F, then 1 more (no surrogates) */
  U8_F0 = 6,     /* after F0: 90..BF, then 2 more (no overlong < U+10000) */
  U8_F4 = 7,     /* after F4: 80..8F, then 2 more (nothing > U+10FFFF) */
  U8_REJECT = 8  /* sticky: the input was invalid */
};

/* Classifies a lead byte into the state that follows it. */
static uint32_t utf8_lead(uint8_t b) {
  if (b < 0x80)
    return U8_ACCEPT;
  if (b < 0xC2) /* 80..BF unexpected continuation; C0, C1 always overlong */
    return U8_REJECT;
  if (b < 0xE0)
    return U8_NEED1;
  if (b == 0xE0)
    return U8_E0;
  if (b == 0xED)
    return U8_ED;
  if (b < 0xF0)
    return U8_NEED2;
  if (b == 0xF0)
    return U8_F0;
  if (b < 0xF4)
    return U8_NEED3;
  if (b == 0xF4)
    return U8_F4;
  return U8_REJECT; /* F5..FF: beyond U+10FFFF or not UTF-8 at all */
}

static uint32_t utf8_step(uint32_t s, uint8_t b) {
  switch (s) {
  case U8_ACCEPT:
    return utf8_lead(b);
  case U8_NEED1:
  case U8_NEED2:
  case U8_NEED3:
    return (b & 0xC0) == 0x80 ? s - 1 : U8_REJECT;
  case U8_E0:
    return (b >= 0xA0 && b <= 0xBF) ? U8_NEED1 : U8_REJECT;
  case U8_ED:
    return (b >= 0x80 && b <= 0x9F) ? U8_NEED1 : U8_REJECT;
  case U8_F0:
    return (b >= 0x90 && b <= 0xBF) ? U8_NEED2 : U8_REJECT;
  case U8_F4:
    return (b >= 0x80 && b <= 0x8F) ? U8_NEED2 : U8_REJECT;
  default:
    return U8_REJECT;
  }
}

/* Number of leading ASCII bytes of p[0..len). */
static size_t ascii_prefix(const uint8_t *p, size_t len) {
  size_t i = 0;
#if defined(__SSE2__)
  /* OR four vectors first: one movemask per 64 bytes on long ASCII runs. */
  while (len - i >= 64) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 48));
    __m128i o = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
    if (_mm_movemask_epi8(o) != 0)
      break;
    i += 64;
  }
  while (len - i >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    unsigned m = (unsigned)_mm_movemask_epi8(v);
    if (m != 0)
      return i + (size_t)__builtin_ctz(m);
    i += 16;
  }
#endif
  while (len - i >= 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    w &= UINT64_C(0x8080808080808080);
    if (w != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return i + (size_t)(__builtin_ctzll(w) >> 3);
#else
      break;
#endif
    }
    i += 8;
  }
  while (i < len && p[i] < 0x80)
    i++;
  return i;
}

static int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

/*
 * At a boundary with the whole sequence led by p[0] in the buffer (n >= 4
 * or enough for its length): returns its length, or -(k+1) where k is the
 * offset of the first bad byte. Returns 0 if the sequence is cut by n.
 */
static long utf8_seq(const uint8_t *p, size_t n) {
  uint8_t b = p[0];
  if (b >= 0xC2 && b <= 0xDF) {
    if (n < 2)
      return 0;
    return is_cont(p[1]) ? 2 : -2;
  }
  if (b >= 0xE0 && b <= 0xEF) {
    uint8_t lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    if (n < 3)
      return 0;
    if (p[1] < lo || p[1] > hi)
      return -2;
    return is_cont(p[2]) ? 3 : -3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    uint8_t lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    if (n < 4)
      return 0;
    if (p[1] < lo || p[1] > hi)
      return -2;
    if (!is_cont(p[2]))
      return -3;
    return is_cont(p[3]) ? 4 : -4;
  }
  return -1;
}

/*
 * After a failure the state stays U8_REJECT, and every later call reports
 * index 0: a rejected message never becomes valid again.
 */
long wsx__utf8_validate(wsx__utf8 *st, const uint8_t *p, size_t len) {
  uint32_t s = st->state;
  size_t i = 0;

  if (s == U8_REJECT)
    return 0;
  /* Finish a sequence that the previous chunk cut. */
  while (s != U8_ACCEPT && i < len) {
    s = utf8_step(s, p[i]);
    if (s == U8_REJECT) {
      st->state = U8_REJECT;
      return (long)i;
    }
    i++;
  }
  while (i < len) {
    long r;
    if (p[i] < 0x80) {
      i += ascii_prefix(p + i, len - i);
      continue;
    }
    r = utf8_seq(p + i, len - i);
    if (r > 0) {
      i += (size_t)r;
      continue;
    }
    if (r < 0) {
      st->state = U8_REJECT;
      return (long)(i + (size_t)(-r - 1));
    }
    /* A valid-so-far sequence that this chunk cuts: keep its state. */
    while (i < len) {
      s = utf8_step(s, p[i]);
      if (s == U8_REJECT) {
        st->state = U8_REJECT;
        return (long)i;
      }
      i++;
    }
  }
  st->state = s;
  return -1;
}

int wsx__utf8_valid(const uint8_t *p, size_t len) {
  wsx__utf8 st = {0};
  return wsx__utf8_validate(&st, p, len) < 0 && st.state == U8_ACCEPT;
}
