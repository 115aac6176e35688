/*
 * XOR with the 4-byte frame mask (RFC 6455 5.3), in place.
 *
 * Three paths, all with the same result (tests/unit/test_util.c compares
 * each against a byte loop at every length 0..300, alignment and mask
 * offset):
 *  - portable: 8 bytes a step (a 64-bit word), then bytes;
 *  - SSE2 (x86-64 baseline): 32 bytes a step, stores aligned to 16 bytes;
 *  - AVX2 (checked at run time): 128 bytes a step, stores aligned to 32
 *    bytes. A 16 KiB payload read at header offset 8 costs ~80 ns this way
 *    against ~215 ns for unaligned SSE2 (the payload is still in L1/L2,
 *    written there by the read; unaligned 32-byte stores split a cache line
 *    every other step).
 * Inputs under 64 bytes take the word loop on every path: a vector setup
 * and an alignment head cost more than they save there.
 * The pattern repeats every 4 bytes, so after a head of h bytes the rest
 * uses the mask rotated by h, and every vector step is a multiple of 4.
 */
#include "common/util.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(WSX_NO_SIMD)
#define WSX_UNMASK_X86 1
#include <immintrin.h>
#endif

/* The mask as it applies from byte `off` of the payload on, as a word
 * whose bytes in memory are mask[off & 3], mask[(off + 1) & 3], ... */
static uint32_t rotated(const uint8_t mask[4], size_t off) {
  uint32_t m32;
  unsigned r = (unsigned)(off & 3) * 8;
  memcpy(&m32, mask, 4);
  if (!r)
    return m32;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return (m32 << r) | (m32 >> (32 - r));
#else
  return (m32 >> r) | (m32 << (32 - r));
#endif
}

/* p[0..n) ^= the pattern m32 (its bytes in memory order) from byte 0. */
static void unmask_words(uint8_t *p, size_t n, uint32_t m32) {
  uint64_t m64 = ((uint64_t)m32 << 32) | m32;
  uint8_t m[4];
  size_t i;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    v ^= m64;
    memcpy(p, &v, 8);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    v ^= m32;
    memcpy(p, &v, 4);
    p += 4;
    n -= 4;
  }
  memcpy(m, &m32, 4);
  for (i = 0; i < n; i++)
    p[i] ^= m[i];
}

#ifdef WSX_UNMASK_X86
/* Bytes before the first `align`-aligned address (at most n). */
static size_t head_to(const uint8_t *p, size_t n, size_t align) {
  size_t h = (size_t)(-(uintptr_t)p) & (align - 1);
  return h < n ? h : n;
}

static void unmask_sse2(uint8_t *p, size_t n, const uint8_t mask[4],
                        size_t off) {
  size_t h = head_to(p, n, 16);
  uint32_t m32;
  __m128i mv;
  unmask_words(p, h, rotated(mask, off));
  p += h;
  n -= h;
  m32 = rotated(mask, off + h);
  mv = _mm_set1_epi32((int)m32);
  while (n >= 32) {
    __m128i a = _mm_load_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_load_si128((const __m128i *)(const void *)(p + 16));
    _mm_store_si128((__m128i *)(void *)p, _mm_xor_si128(a, mv));
    _mm_store_si128((__m128i *)(void *)(p + 16), _mm_xor_si128(b, mv));
    p += 32;
    n -= 32;
  }
  unmask_words(p, n, m32);
}

__attribute__((target("avx2"))) static void
unmask_avx2(uint8_t *p, size_t n, const uint8_t mask[4], size_t off) {
  size_t h = head_to(p, n, 32);
  uint32_t m32;
  __m256i mv;
  unmask_words(p, h, rotated(mask, off));
  p += h;
  n -= h;
  m32 = rotated(mask, off + h);
  mv = _mm256_set1_epi32((int)m32);
  while (n >= 128) {
    __m256i *v = (__m256i *)(void *)p;
    __m256i a = _mm256_load_si256(v), b = _mm256_load_si256(v + 1);
    __m256i c = _mm256_load_si256(v + 2), d = _mm256_load_si256(v + 3);
    _mm256_store_si256(v, _mm256_xor_si256(a, mv));
    _mm256_store_si256(v + 1, _mm256_xor_si256(b, mv));
    _mm256_store_si256(v + 2, _mm256_xor_si256(c, mv));
    _mm256_store_si256(v + 3, _mm256_xor_si256(d, mv));
    p += 128;
    n -= 128;
  }
  while (n >= 32) {
    __m256i *v = (__m256i *)(void *)p;
    _mm256_store_si256(v, _mm256_xor_si256(_mm256_load_si256(v), mv));
    p += 32;
    n -= 32;
  }
  unmask_words(p, n, m32);
}

/* 2 = AVX2, 1 = SSE2 only (a load and a bit test of what the runtime
 * found at startup). */
static int x86_level(void) { return __builtin_cpu_supports("avx2") ? 2 : 1; }
#endif

unsigned wsx__unmask_paths(void) {
#ifdef WSX_UNMASK_X86
  return x86_level() == 2 ? 7u : 3u;
#else
  return 1u;
#endif
}

void wsx__unmask_path(unsigned path, uint8_t *p, size_t n,
                      const uint8_t mask[4], size_t off) {
  switch (path & wsx__unmask_paths()) {
#ifdef WSX_UNMASK_X86
  case 4:
    unmask_avx2(p, n, mask, off);
    return;
  case 2:
    unmask_sse2(p, n, mask, off);
    return;
#endif
  default:
    unmask_words(p, n, rotated(mask, off));
  }
}

void wsx__unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off) {
#ifdef WSX_UNMASK_X86
  if (n >= 64) {
    if (x86_level() == 2)
      unmask_avx2(p, n, mask, off);
    else
      unmask_sse2(p, n, mask, off);
    return;
  }
#endif
  unmask_words(p, n, rotated(mask, off));
}
