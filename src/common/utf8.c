/*
 * Incremental, fail-fast UTF-8 validation (RFC 3629).
 *
 * Three paths share one state encoding:
 *  - on x86-64 with SSSE3 (checked at run time), long inputs are first
 *    validated 64 bytes a step with vector table lookups; this pass only
 *    says "everything before byte k is valid": the exact failing byte of a
 *    bad block is found by the scalar code below, which resumes at the last
 *    character boundary before that block;
 *  - at a character boundary, whole sequences are checked with explicit
 *    range tests, and runs of ASCII are skipped 64/16 (SSE2) or 8 bytes at a
 *    time;
 *  - a sequence cut by the end of a chunk (or resumed at the start of the
 *    next one) goes through utf8_step(), one byte at a time.
 * Both reject at the first byte after which no valid continuation exists
 * (e.g. F4 90 fails at 90, ED A0 at A0), which is what the 1007 close needs.
 */
#include "common/util.h"

#include <string.h>

/* -DWSX_UTF8_PORTABLE builds only the portable code (to test it on x86). */
#if defined(__SSE2__) && !defined(WSX_UTF8_PORTABLE)
#define WSX_UTF8_SSE2 1
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
  U8_E0 = 4,    /* after E0: A0..BF, then 1 more (no overlong < U+0800) */
  U8_ED = 5,    /* after ED: 80..9F, then 1 more (no surrogates) */
  U8_F0 = 6,    /* after F0: 90..BF, then 2 more (no overlong < U+10000) */
  U8_F4 = 7,    /* after F4: 80..8F, then 2 more (nothing > U+10FFFF) */
  U8_REJECT = 8 /* sticky: the input was invalid */
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
#if defined(WSX_UTF8_SSE2)
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
  if (len >= 8 && i < len) {
    /* The last 8 bytes in one load: those before i are ASCII already, so
     * the first high bit is at i or after. */
    uint64_t w;
    memcpy(&w, p + len - 8, 8);
    w &= UINT64_C(0x8080808080808080);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return w ? len - 8 + (size_t)(__builtin_ctzll(w) >> 3) : len;
#else
    if (!w)
      return len;
#endif
  }
  while (i < len && p[i] < 0x80)
    i++;
  return i;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(WSX_UTF8_PORTABLE)
#define WSX_UTF8_SSSE3 1
#include <tmmintrin.h>

/*
 * Vector check of 16 bytes given the 16 before them, after the "lookup"
 * method of Keiser and Lemire ("Validating UTF-8 in less than one
 * instruction per byte", 2021), written from the paper. Each byte pair
 * (previous byte, current byte) is classified by three 16-entry tables
 * indexed by nibbles; a bit survives the AND of the three lookups only for
 * an error class that all three nibbles allow. Third and fourth bytes of
 * long sequences are then matched against "two continuations in a row".
 */
#define U8_TOO_SHORT (1 << 0)      /* lead followed by a non-continuation */
#define U8_TOO_LONG (1 << 1)       /* ASCII followed by a continuation */
#define U8_OVERLONG_3 (1 << 2)     /* E0 80..9F */
#define U8_TOO_LARGE (1 << 3)      /* F4 90..BF, F5..FF 90..BF */
#define U8_SURROGATE (1 << 4)      /* ED A0..BF */
#define U8_OVERLONG_2 (1 << 5)     /* C0, C1 followed by a continuation */
#define U8_TOO_LARGE_1000 (1 << 6) /* F5..FF 80..8F */
#define U8_OVERLONG_4 (1 << 6)     /* F0 80..8F */
#define U8_TWO_CONTS (1 << 7)      /* continuation after continuation */
#define U8_CARRY (U8_TOO_SHORT | U8_TOO_LONG | U8_TWO_CONTS)

/* Indexed by the high nibble of the previous byte. */
static const uint8_t utf8_t_prev_hi[16] = {
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TOO_LONG,
    U8_TWO_CONTS,
    U8_TWO_CONTS,
    U8_TWO_CONTS,
    U8_TWO_CONTS,
    U8_TOO_SHORT | U8_OVERLONG_2,
    U8_TOO_SHORT,
    U8_TOO_SHORT | U8_OVERLONG_3 | U8_SURROGATE,
    U8_TOO_SHORT | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_OVERLONG_4};

/* Indexed by the low nibble of the previous byte. */
#define U8_LARGE (U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000)
static const uint8_t utf8_t_prev_lo[16] = {U8_CARRY | U8_OVERLONG_3 |
                                               U8_OVERLONG_2 | U8_OVERLONG_4,
                                           U8_CARRY | U8_OVERLONG_2,
                                           U8_CARRY,
                                           U8_CARRY,
                                           U8_CARRY | U8_TOO_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE,
                                           U8_LARGE | U8_SURROGATE,
                                           U8_LARGE,
                                           U8_LARGE};

/* Indexed by the high nibble of the current byte. */
static const uint8_t utf8_t_cur_hi[16] = {
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 |
        U8_TOO_LARGE_1000 | U8_OVERLONG_4,
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE,
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT,
    U8_TOO_SHORT};

__attribute__((target("ssse3"))) static __m128i
utf8_block_errors(__m128i in, __m128i prev) {
  const __m128i nib = _mm_set1_epi8(0x0F);
  const __m128i t_prev_hi =
      _mm_loadu_si128((const __m128i *)(const void *)utf8_t_prev_hi);
  const __m128i t_prev_lo =
      _mm_loadu_si128((const __m128i *)(const void *)utf8_t_prev_lo);
  const __m128i t_cur_hi =
      _mm_loadu_si128((const __m128i *)(const void *)utf8_t_cur_hi);
  __m128i prev1 = _mm_alignr_epi8(in, prev, 15);
  __m128i prev2 = _mm_alignr_epi8(in, prev, 14);
  __m128i prev3 = _mm_alignr_epi8(in, prev, 13);
  __m128i a =
      _mm_shuffle_epi8(t_prev_hi, _mm_and_si128(_mm_srli_epi16(prev1, 4), nib));
  __m128i b = _mm_shuffle_epi8(t_prev_lo, _mm_and_si128(prev1, nib));
  __m128i c =
      _mm_shuffle_epi8(t_cur_hi, _mm_and_si128(_mm_srli_epi16(in, 4), nib));
  __m128i special = _mm_and_si128(_mm_and_si128(a, b), c);
  /* Bit 7 set where this byte must be the 3rd/4th of a sequence. */
  __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80)));
  __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80)));
  __m128i must23 =
      _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
  return _mm_xor_si128(must23, special);
}

/*
 * Returns k such that p[0..k) is complete valid UTF-8 and k is a character
 * boundary, starting at a boundary. Stops at the first 64-byte group with
 * an error (or fewer than 64 bytes left); the scalar code takes it from k.
 */
__attribute__((target("ssse3"))) static size_t
utf8_simd_prefix(const uint8_t *p, size_t len) {
  __m128i prev = _mm_setzero_si128();
  size_t g = 0, k;
  while (len - g >= 64) {
    const __m128i *v = (const __m128i *)(const void *)(p + g);
    __m128i a = _mm_loadu_si128(v), b = _mm_loadu_si128(v + 1);
    __m128i c = _mm_loadu_si128(v + 2), d = _mm_loadu_si128(v + 3);
    __m128i err;
    if (_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) {
      err = _mm_or_si128(
          _mm_or_si128(utf8_block_errors(a, prev), utf8_block_errors(b, a)),
          _mm_or_si128(utf8_block_errors(c, b), utf8_block_errors(d, c)));
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(err, _mm_setzero_si128())) != 0xFFFF)
        break;
    } else if ((_mm_movemask_epi8(prev) & 0xE000) != 0) {
      /* ASCII group after a group whose last 3 bytes hold a non-ASCII
       * byte: only a character cut at the group boundary can be wrong. */
      err = utf8_block_errors(a, prev);
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(err, _mm_setzero_si128())) != 0xFFFF)
        break;
    }
    prev = d;
    g += 64;
  }
  if (g == 0)
    return 0;
  /* Bytes before g passed, so a lead byte sits within the last 4; the
   * character it starts may continue past g, so resume there. */
  k = g - 1;
  while ((p[k] & 0xC0) == 0x80)
    k--;
  return k;
}

static int utf8_have_ssse3(void) { return __builtin_cpu_supports("ssse3"); }
#endif

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
#ifdef WSX_UTF8_SSSE3
  if (s == U8_ACCEPT && len - i >= 64 && utf8_have_ssse3())
    i += utf8_simd_prefix(p + i, len - i);
#endif
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
