/*
 * libFuzzer target for wsx__utf8_validate.
 *
 * The first input byte picks a split point; the rest is the text. The text
 * is validated whole, in two chunks at that point, and byte by byte, and
 * each verdict (failing index, or final state at a boundary) must equal a
 * straightforward reference validator's. Any mismatch aborts.
 */
#include "common/util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Reference: Table 3-7 of the Unicode Standard, "Well-Formed UTF-8 Byte
 * Sequences", row by row. Each row is a product of byte ranges, so the
 * first byte outside its row's range is exactly where the input stops
 * being a prefix of valid UTF-8.
 */
static const struct {
  uint8_t n;
  uint8_t lo[4], hi[4];
} table_3_7[] = {
    {1, {0x00}, {0x7F}},
    {2, {0xC2, 0x80}, {0xDF, 0xBF}},
    {3, {0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}},
    {3, {0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}},
    {3, {0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}},
    {3, {0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}},
    {4, {0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}},
    {4, {0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}},
    {4, {0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}},
};

static long ref_validate(const uint8_t *p, size_t len, int *complete) {
  size_t i = 0;
  while (i < len) {
    size_t row, k, rows = sizeof table_3_7 / sizeof table_3_7[0];
    for (row = 0; row < rows; row++)
      if (p[i] >= table_3_7[row].lo[0] && p[i] <= table_3_7[row].hi[0])
        break;
    if (row == rows)
      return (long)i;
    for (k = 1; k < table_3_7[row].n; k++) {
      if (i + k >= len) {
        *complete = 0;
        return -1;
      }
      if (p[i + k] < table_3_7[row].lo[k] || p[i + k] > table_3_7[row].hi[k])
        return (long)(i + k);
    }
    i += table_3_7[row].n;
  }
  *complete = 1;
  return -1;
}

/*
 * Validates p[0..len) as a first chunk of `first` bytes, then chunks of
 * `step` bytes (step > 0). Empty chunks are legal input to the validator,
 * so a zero-length first chunk is fed as well.
 */
static long run(const uint8_t *p, size_t len, size_t first, size_t step,
                int *complete) {
  wsx__utf8 st = {0};
  size_t off = 0, n = first < len ? first : len;
  for (;;) {
    long r = wsx__utf8_validate(&st, p + off, n);
    if (r >= 0) {
      if ((size_t)r >= n)
        abort(); /* index outside the chunk */
      *complete = 0;
      return (long)(off + (size_t)r);
    }
    off += n;
    if (off == len)
      break;
    n = step < len - off ? step : len - off;
  }
  *complete = st.state == 0;
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p;
  size_t len, split;
  int cref = -1, c = -1;
  long ref, got;

  if (size == 0)
    return 0;
  p = data + 1;
  len = size - 1;
  split = len ? data[0] % (len + 1) : 0;
  ref = ref_validate(p, len, &cref);

  got = run(p, len, len, 1, &c);
  if (got != ref || (ref < 0 && c != cref))
    abort();
  got = run(p, len, split, len, &c);
  if (got != ref || (ref < 0 && c != cref))
    abort();
  got = run(p, len, 1, 1, &c);
  if (got != ref || (ref < 0 && c != cref))
    abort();
  if (wsx__utf8_valid(p, len) != (ref < 0 && cref))
    abort();
  return 0;
}
