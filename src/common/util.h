/*
 * src/common/: the helpers every layer shares (driver, extensions,
 * EventSource, transport): UTF-8 validation, SHA-1, MD5, base64, the
 * CSPRNG, the RFC 7230 token table and a case-insensitive compare. All pure
 * functions, no allocation. (Allocation helpers: common/alloc.h.)
 * Nothing here includes a header of another folder of src/.
 */
#ifndef WSX_SRC_COMMON_UTIL_H
#define WSX_SRC_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A branch's work kept out of line, so that the caller's other branch
 * does not pay for its stack frame and saved registers (not `cold`: the
 * branch may be as common as the other, a large frame's write, an
 * application's own buffer). */
/* And the other way: a step that more than one hot path shares, inlined
 * into each (the compiler inlines a static function with one caller by
 * itself, not one with two). */
#if defined(__GNUC__)
#define WSX__OUTLINE __attribute__((noinline))
#define WSX__INLINE inline __attribute__((always_inline))
#else
#define WSX__OUTLINE
#define WSX__INLINE inline
#endif

/*
 * Incremental UTF-8 validator (RFC 3629): rejects overlongs, surrogates
 * (U+D800..DFFF), code points > U+10FFFF, and bytes C0, C1, F5..FF. State 0
 * means "at a character boundary". Feed consecutive chunks with the same
 * state; a message is valid if every call succeeded and the final state is 0.
 */
typedef struct wsx__utf8 {
  uint32_t state; /* 0 = accept; otherwise inside a sequence */
} wsx__utf8;

/*
 * Validates p[0..len) continuing from `st`. Returns -1 if valid so far (and
 * updates st), or the index within p of the first byte at which the input
 * became invalid (fail fast: it is the earliest byte that no valid
 * continuation could follow). Has an ASCII fast path (8 bytes a step).
 * After a failure the state is sticky: every later call returns 0.
 */
long wsx__utf8_validate(wsx__utf8 *st, const uint8_t *p, size_t len);
/* Non-zero if p[0..len) is complete valid UTF-8. */
int wsx__utf8_valid(const uint8_t *p, size_t len);

/*
 * RFC 6455 5.3: p[0..n) ^= mask, in place, where p[0] is byte `off` of the
 * masked payload (so byte i uses mask[(off + i) & 3]): a payload unmasked in
 * pieces gives the same bytes as in one call. Any alignment, any n
 * (vector paths for n >= 64, AVX2 where the CPU has it; common/unmask.c).
 */
void wsx__unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);
/* For tests: the paths this build and CPU can run, as bits (1 portable,
 * 2 SSE2, 4 AVX2), and wsx__unmask through one of them (a path not
 * available runs the portable one). */
unsigned wsx__unmask_paths(void);
void wsx__unmask_path(unsigned path, uint8_t *p, size_t n,
                      const uint8_t mask[4], size_t off);

/* SHA-1 (FIPS 180-4) of p[0..len) into out[20]. */
void wsx__sha1(const void *p, size_t len, uint8_t out[20]);
/* SHA-1 of the concatenation a || b (for key || GUID without a copy). */
void wsx__sha1_2(const void *a, size_t alen, const void *b, size_t blen,
                 uint8_t out[20]);
/* MD5 (RFC 1321) of p[0..len) into out[16] (hixie-76 handshake only). */
void wsx__md5(const void *p, size_t len, uint8_t out[16]);

/* Standard base64 with padding. Encode writes 4*ceil(n/3) chars and a NUL
 * (out must hold that + 1); returns the length written (without NUL). */
size_t wsx__base64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes strict padded base64 (no whitespace); returns decoded length or
 * -1 if malformed or longer than outcap. */
long wsx__base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap);

/* Fills buf with n bytes from the kernel CSPRNG (getrandom). Returns 0, or
 * -1 if the kernel refused (never falls back to a weak source). */
int wsx__random(void *buf, size_t n);
/* The platform source this build uses ("getrandom", "getentropy",
 * "arc4random" or "urandom"). */
const char *wsx__random_source(void);

/* Non-zero at the RFC 7230 tchar bytes (the characters of a token). */
extern const unsigned char wsx__tchar[256];

/* ASCII case-insensitive compare of a[0..n) and the NUL-terminated b
 * (non-zero if equal and b has exactly n characters). */
int wsx__ieq(const char *a, size_t n, const char *b);

#endif
