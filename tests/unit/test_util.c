/*
 * Unit tests for src/common/util.h: UTF-8 validation, SHA-1, MD5, base64,
 * the CSPRNG pool and wsx__ieq.
 *
 * UTF-8 vectors follow the categories of the UTF-8 decoder stress test
 * (Autobahn 6.x). Every vector runs whole, byte by byte and at random split
 * points, and must give the same verdict and the same failing byte. The
 * validator is also compared against a slow reference decoder over every
 * 1-, 2- and 3-byte sequence and random longer ones.
 */
#include "common/util.h"
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- UTF-8 */

/*
 * Reference: decode sequence by sequence and, after each byte, ask whether
 * any valid code point still starts with the bytes seen so far. The code
 * points sharing a prefix form one interval [mn, mx]; the prefix is viable
 * if that interval, clamped to the range of its length, is non-empty and
 * not made only of surrogates. Returns the failing index or -1, and sets
 * *complete when the input ends at a character boundary.
 */
static long ref_utf8(const uint8_t *p, size_t len, int *complete) {
  size_t i = 0;
  while (i < len) {
    uint8_t b = p[i];
    size_t n, j;
    uint32_t cp, lo, hi;
    if (b < 0x80) {
      i++;
      continue;
    }
    if ((b & 0xE0) == 0xC0) {
      n = 2, cp = b & 0x1Fu, lo = 0x80, hi = 0x7FF;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3, cp = b & 0x0Fu, lo = 0x800, hi = 0xFFFF;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4, cp = b & 0x07u, lo = 0x10000, hi = 0x10FFFF;
    } else {
      return (long)i; /* continuation byte, 5/6-byte lead, FE, FF */
    }
    for (j = 0; j < n; j++) {
      unsigned rem = (unsigned)(6 * (n - 1 - j));
      uint32_t mn, mx;
      if (j > 0) {
        if (i + j >= len) {
          *complete = 0;
          return -1;
        }
        if ((p[i + j] & 0xC0) != 0x80)
          return (long)(i + j);
        cp = (cp << 6) | (p[i + j] & 0x3Fu);
      }
      mn = cp << rem;
      mx = mn | ((1u << rem) - 1);
      if (mn < lo)
        mn = lo;
      if (mx > hi)
        mx = hi;
      if (mn > mx || (mn >= 0xD800 && mx <= 0xDFFF))
        return (long)(i + j);
    }
    i += n;
  }
  *complete = 1;
  return -1;
}

/*
 * Feeds p in chunks ending at the given cut points (ascending, < len).
 * Returns the failing index in p or -1; *complete as for ref_utf8. Checks
 * that the index each call returns lies inside its own chunk.
 */
static long feed_split(const uint8_t *p, size_t len, const size_t *cuts,
                       size_t ncuts, int *complete) {
  wsx__utf8 st = {0};
  size_t start = 0, k;
  for (k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : len;
    long r = wsx__utf8_validate(&st, p + start, end - start);
    if (r >= 0) {
      if ((size_t)r >= end - start && end > start)
        return -2; /* index outside the chunk: reported as a mismatch */
      *complete = 0;
      return (long)start + r;
    }
    start = end;
  }
  *complete = st.state == 0;
  return -1;
}

static long feed_whole(const uint8_t *p, size_t len, int *complete) {
  return feed_split(p, len, NULL, 0, complete);
}

static long feed_bytes(const uint8_t *p, size_t len, int *complete) {
  size_t cuts[256], i;
  if (len > 256)
    return -3;
  for (i = 1; i < len; i++)
    cuts[i - 1] = i;
  return feed_split(p, len, cuts, len ? len - 1 : 0, complete);
}

static long feed_random(const uint8_t *p, size_t len, uint64_t *seed,
                        int *complete) {
  size_t cuts[8], n = 0, i;
  if (len > 1) {
    size_t want = (size_t)(test_rand_(seed) % 4) + 1;
    size_t prev = 0;
    for (i = 0; i < want; i++) {
      size_t c = (size_t)(test_rand_(seed) % len);
      if (c > prev && c < len)
        cuts[n++] = prev = c;
    }
  }
  return feed_split(p, len, cuts, n, complete);
}

typedef struct utf8_vec {
  const char *name;
  const char *s;
  size_t len;
  long fail;    /* index of the first invalid byte, or -1 */
  int complete; /* when fail == -1: ends at a character boundary */
} utf8_vec;

#define V_OK(name, s)                                                          \
  { name, s, sizeof(s) - 1, -1, 1 }
#define V_PART(name, s)                                                        \
  { name, s, sizeof(s) - 1, -1, 0 }
#define V_BAD(name, s, at)                                                     \
  { name, s, sizeof(s) - 1, at, 0 }

static const utf8_vec utf8_vectors[] = {
    /* 6.1 - 6.3: plain valid text */
    V_OK("empty", ""),
    V_OK("ascii", "Hello, world"),
    V_OK("latin", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3"
                  "\xa1-UTF-8!!"),
    V_OK("kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    /* 6.4: fail fast in the middle of a message */
    V_BAD("kosme+surrogate",
          "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
          "\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
          12),
    V_BAD("kosme+F4 90",
          "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
          "\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
          12),
    /* 6.6: progressive prefixes of "kosme" */
    V_PART("kosme prefix 1", "\xce"),
    V_OK("kosme prefix 2", "\xce\xba"),
    V_PART("kosme prefix 3", "\xce\xba\xe1"),
    V_PART("kosme prefix 4", "\xce\xba\xe1\xbd"),
    V_OK("kosme prefix 5", "\xce\xba\xe1\xbd\xb9"),
    /* 6.7, 6.9, 6.11: boundary code points */
    {"U+0000", "\x00", 1, -1, 1},
    V_OK("U+007F", "\x7f"),
    V_OK("U+0080", "\xc2\x80"),
    V_OK("U+07FF", "\xdf\xbf"),
    V_OK("U+0800", "\xe0\xa0\x80"),
    V_OK("U+D7FF", "\xed\x9f\xbf"),
    V_OK("U+E000", "\xee\x80\x80"),
    V_OK("U+FFFD", "\xef\xbf\xbd"),
    V_OK("U+FFFF", "\xef\xbf\xbf"),
    V_OK("U+10000", "\xf0\x90\x80\x80"),
    V_OK("U+10FFFF", "\xf4\x8f\xbf\xbf"),
    V_BAD("U+110000", "\xf4\x90\x80\x80", 1),
    V_BAD("U+13FFFF", "\xf4\xbf\xbf\xbf", 1),
    V_BAD("U+1FFFFF as F7", "\xf7\xbf\xbf\xbf", 0),
    /* 6.8, 6.10: 5- and 6-byte forms */
    V_BAD("5-byte first", "\xf8\x88\x80\x80\x80", 0),
    V_BAD("6-byte first", "\xfc\x84\x80\x80\x80\x80", 0),
    V_BAD("5-byte last", "\xfb\xbf\xbf\xbf\xbf", 0),
    V_BAD("6-byte last", "\xfd\xbf\xbf\xbf\xbf\xbf", 0),
    /* 6.12: unexpected continuation bytes */
    V_BAD("lone 80", "\x80", 0),
    V_BAD("lone BF", "\xbf", 0),
    V_BAD("80 BF", "\x80\xbf", 0),
    V_BAD("80 BF 80 BF", "\x80\xbf\x80\xbf", 0),
    V_BAD("ascii then 80", "abc\x80", 3),
    V_BAD("2-byte then extra 80", "\xc2\x80\x80", 2),
    V_BAD("3-byte then extra BF", "\xe2\x82\xac\xbf", 3),
    /* 6.13: lonely start characters followed by a space */
    V_BAD("C0 space", "\xc0\x20", 0),
    V_BAD("C1 space", "\xc1\x20", 0),
    V_BAD("C2 space", "\xc2\x20", 1),
    V_BAD("DF space", "\xdf\x20", 1),
    V_BAD("E0 space", "\xe0\x20", 1),
    V_BAD("EF space", "\xef\x20", 1),
    V_BAD("F0 space", "\xf0\x20", 1),
    V_BAD("F4 space", "\xf4\x20", 1),
    V_BAD("F8 space", "\xf8\x20", 0),
    V_BAD("FC space", "\xfc\x20", 0),
    /* 6.14: last continuation byte missing (at the end: valid so far) */
    V_PART("C2 at end", "\xc2"),
    V_PART("E0 A0 at end", "\xe0\xa0"),
    V_PART("F0 90 80 at end", "\xf0\x90\x80"),
    V_PART("DF at end", "\xdf"),
    V_PART("EF BF at end", "\xef\xbf"),
    V_PART("F4 8F BF at end", "\xf4\x8f\xbf"),
    V_BAD("5-byte missing last", "\xf8\x80\x80\x80", 0),
    V_BAD("6-byte missing last", "\xfc\x80\x80\x80\x80", 0),
    V_BAD("E2 82 then ascii", "\xe2\x82\x61", 2),
    /* 6.15: concatenation of incomplete sequences */
    V_BAD("incomplete concat",
          "\xc2\xe0\xa0\xf0\x90\x80\xdf\xef\xbf\xf4\x8f"
          "\xbf",
          1),
    /* 6.16: impossible bytes */
    V_BAD("FE", "\xfe", 0),
    V_BAD("FF", "\xff", 0),
    V_BAD("FE FE FF FF", "\xfe\xfe\xff\xff", 0),
    V_BAD("F5", "\xf5\x80\x80\x80", 0),
    /* 6.17: overlong '/' */
    V_BAD("overlong / 2", "\xc0\xaf", 0),
    V_BAD("overlong / 3", "\xe0\x80\xaf", 1),
    V_BAD("overlong / 4", "\xf0\x80\x80\xaf", 1),
    V_BAD("overlong / 5", "\xf8\x80\x80\x80\xaf", 0),
    V_BAD("overlong / 6", "\xfc\x80\x80\x80\x80\xaf", 0),
    /* 6.18: maximum overlong sequences */
    V_BAD("max overlong 2", "\xc1\xbf", 0),
    V_BAD("max overlong 3", "\xe0\x9f\xbf", 1),
    V_BAD("max overlong 4", "\xf0\x8f\xbf\xbf", 1),
    V_BAD("max overlong 5", "\xf8\x87\xbf\xbf\xbf", 0),
    V_BAD("max overlong 6", "\xfc\x83\xbf\xbf\xbf\xbf", 0),
    /* 6.19: overlong NUL */
    V_BAD("overlong NUL 2", "\xc0\x80", 0),
    V_BAD("overlong NUL 3", "\xe0\x80\x80", 1),
    V_BAD("overlong NUL 4", "\xf0\x80\x80\x80", 1),
    V_BAD("overlong NUL 5", "\xf8\x80\x80\x80\x80", 0),
    V_BAD("overlong NUL 6", "\xfc\x80\x80\x80\x80\x80", 0),
    /* 6.20: single surrogates */
    V_BAD("U+D800", "\xed\xa0\x80", 1),
    V_BAD("U+DB7F", "\xed\xad\xbf", 1),
    V_BAD("U+DB80", "\xed\xae\x80", 1),
    V_BAD("U+DBFF", "\xed\xaf\xbf", 1),
    V_BAD("U+DC00", "\xed\xb0\x80", 1),
    V_BAD("U+DF80", "\xed\xbe\x80", 1),
    V_BAD("U+DFFF", "\xed\xbf\xbf", 1),
    V_BAD("ascii then U+D800", "ab\xed\xa0\x80", 3),
    /* 6.21: paired surrogates */
    V_BAD("D800 DC00", "\xed\xa0\x80\xed\xb0\x80", 1),
    V_BAD("D800 DFFF", "\xed\xa0\x80\xed\xbf\xbf", 1),
    V_BAD("DB7F DC00", "\xed\xad\xbf\xed\xb0\x80", 1),
    V_BAD("DBFF DFFF", "\xed\xaf\xbf\xed\xbf\xbf", 1),
    /* 6.22: noncharacters are valid UTF-8 */
    V_OK("U+FFFE", "\xef\xbf\xbe"),
    V_OK("U+FFFF again", "\xef\xbf\xbf"),
    V_OK("U+1FFFE", "\xf0\x9f\xbf\xbe"),
    V_OK("U+10FFFE", "\xf4\x8f\xbf\xbe"),
    V_OK("U+FDD0..FDEF", "\xef\xb7\x90\xef\xb7\x91\xef\xb7\xaf"),
    /* mixed text longer than a SIMD block, with a late failure */
    V_OK("long mixed", "The quick brown fox jumps over the lazy dog. "
                       "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
                       "\xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 "
                       "0123456789abcdefghijklmnopqrstuvwxyz0123456789"),
    V_BAD("long then C0",
          "0123456789abcdefghijklmnopqrstuvwxyz0123456789"
          "0123456789abcdefghijklmnopqrstuvwxyz\xc0\x80",
          82),
};

TEST(test_utf8_vectors) {
  size_t i;
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  for (i = 0; i < sizeof utf8_vectors / sizeof utf8_vectors[0]; i++) {
    const utf8_vec *v = &utf8_vectors[i];
    const uint8_t *p = (const uint8_t *)v->s;
    int c = -1, k;
    long r;

    r = feed_whole(p, v->len, &c);
    if (r != v->fail || (r < 0 && c != v->complete))
      TEST_FAILF_("vector \"%s\" whole: fail %ld complete %d, expected %ld %d",
                  v->name, r, c, v->fail, v->complete);
    r = feed_bytes(p, v->len, &c);
    if (r != v->fail || (r < 0 && c != v->complete))
      TEST_FAILF_("vector \"%s\" byte by byte: fail %ld, expected %ld", v->name,
                  r, v->fail);
    for (k = 0; k < 20; k++) {
      r = feed_random(p, v->len, &seed, &c);
      if (r != v->fail || (r < 0 && c != v->complete))
        TEST_FAILF_("vector \"%s\" random split: fail %ld, expected %ld",
                    v->name, r, v->fail);
    }
    /* The reference must agree too, or the vector table is wrong. */
    r = ref_utf8(p, v->len, &c);
    if (r != v->fail || (r < 0 && c != v->complete))
      TEST_FAILF_("vector \"%s\": reference says %ld", v->name, r);
    CHECK_INT(wsx__utf8_valid(p, v->len), v->fail < 0 && v->complete);
  }
}

/* The failure is sticky: a later chunk never makes the message valid. */
TEST(test_utf8_sticky) {
  wsx__utf8 st = {0};
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"a\xff", 2), 1);
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"abc", 3), 0);
  CHECK(st.state != 0);
}

/* A sequence cut across chunks fails in the chunk of the bad byte. */
TEST(test_utf8_fail_index_in_chunk) {
  wsx__utf8 st = {0};
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"xy\xf4", 3), -1);
  CHECK(st.state != 0);
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"\x90\x80\x80", 3), 0);

  st.state = 0;
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"\xf0\x9f", 2), -1);
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"", 0), -1);
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"\x98", 1), -1);
  CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"\x80zz\xed\xa0", 5), 4);
}

static int utf8_compare(const uint8_t *p, size_t len, int bytewise) {
  int cr = -1, cw = -1, cb = -1;
  long rr = ref_utf8(p, len, &cr);
  long rw = feed_whole(p, len, &cw);
  if (rw != rr || (rr < 0 && cw != cr))
    return 0;
  if (bytewise) {
    long rb = feed_bytes(p, len, &cb);
    if (rb != rr || (rr < 0 && cb != cr))
      return 0;
  }
  return 1;
}

static void hex_of(const uint8_t *p, size_t len, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < len && o + 4 < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%02X ", p[i]);
  out[o] = '\0';
}

TEST(test_utf8_exhaustive_1_2_3) {
  uint8_t b[3];
  char hex[64];
  uint32_t v;
  for (v = 0; v < 256; v++) {
    b[0] = (uint8_t)v;
    if (!utf8_compare(b, 1, 1))
      TEST_FAILF_("mismatch on %02X", b[0]);
  }
  for (v = 0; v < 65536; v++) {
    b[0] = (uint8_t)(v >> 8), b[1] = (uint8_t)v;
    if (!utf8_compare(b, 2, 1)) {
      hex_of(b, 2, hex, sizeof hex);
      TEST_FAILF_("mismatch on %s", hex);
      return;
    }
  }
  /* All 2^24: whole chunks everywhere; byte by byte only where the first
   * byte is a lead byte (the others fail at byte 0 in both modes). */
  for (v = 0; v < (1u << 24); v++) {
    b[0] = (uint8_t)(v >> 16), b[1] = (uint8_t)(v >> 8), b[2] = (uint8_t)v;
    if (!utf8_compare(b, 3, b[0] >= 0xC2 && b[0] <= 0xF4)) {
      hex_of(b, 3, hex, sizeof hex);
      TEST_FAILF_("mismatch on %s", hex);
      return;
    }
  }
}

/* Random 4-byte sequences, biased towards lead and continuation bytes. */
TEST(test_utf8_random_4) {
  uint64_t seed = 0x1234567887654321ULL;
  uint8_t b[4];
  char hex[64];
  int i, k;
  for (i = 0; i < 2000000; i++) {
    uint64_t r = test_rand_(&seed);
    b[0] = (uint8_t)(0xE0 + (r & 0x1F)); /* E0..FF: 3-, 4-byte leads */
    for (k = 1; k < 4; k++)
      b[k] = (uint8_t)((r >> (8 * k)) & 0xFF);
    if ((r >> 40) & 1) /* half the time, continuation bytes only */
      for (k = 1; k < 4; k++)
        b[k] = (uint8_t)(0x80 | (b[k] & 0x3F));
    if (!utf8_compare(b, 4, 1)) {
      hex_of(b, 4, hex, sizeof hex);
      TEST_FAILF_("mismatch on %s", hex);
      return;
    }
  }
}

/*
 * The vector path works on 64-byte groups of 16-byte blocks: every 3-byte
 * sequence, and random 4-byte ones, placed at every offset of a 96-byte
 * ASCII buffer (so across block and group boundaries) must give the
 * reference's verdict for the same sequence followed by ASCII.
 */
TEST(test_utf8_in_long_buffers) {
  uint8_t buf[96], seq[5];
  uint32_t v;
  uint64_t seed = 7;
  int i;
  for (v = 0; v < (1u << 24) + 2000000; v++) {
    size_t o, n = v < (1u << 24) ? 3 : 4, k;
    int cr = -1, cw = -1;
    long rr, rw;
    if (n == 3) {
      seq[0] = (uint8_t)(v >> 16), seq[1] = (uint8_t)(v >> 8);
      seq[2] = (uint8_t)v;
    } else {
      uint64_t r = test_rand_(&seed);
      seq[0] = (uint8_t)(0xE0 + (r & 0x1F));
      for (k = 1; k < 4; k++)
        seq[k] = (uint8_t)(0x80 | ((r >> (8 * k)) & 0x3F));
      if ((r >> 40) & 1)
        seq[1 + (r >> 41) % 3] = (uint8_t)(r >> 48);
    }
    o = (size_t)(v % (sizeof buf - n + 1));
    memset(buf, 'a', sizeof buf);
    memcpy(buf + o, seq, n);
    seq[n] = 'a';
    rr = ref_utf8(seq, o + n < sizeof buf ? n + 1 : n, &cr);
    if (rr >= 0)
      rr += (long)o;
    rw = feed_whole(buf, sizeof buf, &cw);
    if (rw != rr || (rr < 0 && cw != cr)) {
      char hex[64];
      hex_of(seq, n, hex, sizeof hex);
      TEST_FAILF_("%s at offset %zu: got %ld, reference %ld", hex, o, rw, rr);
      return;
    }
  }
  /* Long valid text that ends inside a character, then continues. */
  for (i = 0; i < 3; i++) {
    wsx__utf8 st = {0};
    memset(buf, 'b', sizeof buf);
    memcpy(buf + sizeof buf - 1 - (size_t)i, "\xf0\x9f\x98", (size_t)i + 1);
    CHECK_INT(wsx__utf8_validate(&st, buf, sizeof buf), -1);
    CHECK(st.state != 0);
    CHECK_INT(wsx__utf8_validate(&st, (const uint8_t *)"\x9f\x98\x80" + i,
                                 3 - (size_t)i),
              -1);
    CHECK_INT(st.state, 0);
  }
}

/* Pick one valid character, or a byte that may break things. */
static size_t gen_piece(uint64_t *seed, uint8_t *o) {
  static const uint8_t odd[] = {0x80, 0xBF, 0xC0, 0xC1, 0xED, 0xE0, 0xF0,
                                0xF4, 0xF5, 0xFF, 0xA0, 0x90, 0x8F};
  uint64_t r = test_rand_(seed);
  uint32_t cp;
  switch (r % 8) {
  case 0:
  case 1:
  case 2:
    o[0] = (uint8_t)(0x20 + (r >> 8) % 95);
    return 1;
  case 3:
    cp = 0x80 + (uint32_t)((r >> 8) % (0x800 - 0x80));
    o[0] = (uint8_t)(0xC0 | (cp >> 6)), o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  case 4:
    cp = 0x800 + (uint32_t)((r >> 8) % (0x10000 - 0x800));
    if (cp >= 0xD800 && cp <= 0xDFFF)
      cp -= 0x800;
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  case 5:
    cp = 0x10000 + (uint32_t)((r >> 8) % (0x110000 - 0x10000));
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
  case 6: /* a run of ASCII long enough for the SIMD path */
    memset(o, 'a' + (int)((r >> 8) % 26), 40);
    return 40;
  default:
    o[0] = odd[(r >> 8) % sizeof odd];
    return 1;
  }
}

/* Random strings of mixed pieces against the reference at random splits. */
TEST(test_utf8_random_strings) {
  uint64_t seed = 42;
  static uint8_t buf[200 * 40];
  int i, k;
  for (i = 0; i < 20000; i++) {
    /* Short strings mostly; every 4th long enough for the vector path. */
    size_t len = 0, pieces = (size_t)(test_rand_(&seed) % (i % 4 ? 24 : 200));
    int bad = (int)(test_rand_(&seed) % 4) == 0;
    int cr = -1, cs = -1;
    long rr, rs;
    while (pieces-- > 0) {
      uint8_t tmp[64];
      size_t n = gen_piece(&seed, tmp);
      if (!bad && n == 1 && tmp[0] >= 0x80)
        continue;
      memcpy(buf + len, tmp, n);
      len += n;
    }
    rr = ref_utf8(buf, len, &cr);
    if (!bad && (rr != -1 || !cr)) {
      TEST_FAILF_("generator produced invalid text (%ld)", rr);
      return;
    }
    for (k = 0; k < 4; k++) {
      rs = feed_random(buf, len, &seed, &cs);
      if (rs != rr || (rr < 0 && cs != cr)) {
        TEST_FAILF_("string %d (len %zu): got %ld, reference %ld", i, len, rs,
                    rr);
        return;
      }
    }
  }
}

/* ---------------------------------------------------------------- hashes */

static void to_hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

static const char *sha1_hex(const char *s, size_t n, char *hex) {
  uint8_t d[20];
  wsx__sha1(s, n, d);
  to_hex(d, 20, hex);
  return hex;
}

TEST(test_sha1_fips) {
  char hex[41];
  static char million[1000000];
  CHECK_STR(sha1_hex("abc", 3, hex),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK_STR(sha1_hex("", 0, hex), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK_STR(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                     56, hex),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK_STR(
      sha1_hex(
          "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
          "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
          112, hex),
      "a49b2446a02c645bf419f995b67091253a04a259");
  memset(million, 'a', sizeof million);
  CHECK_STR(sha1_hex(million, sizeof million, hex),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Splitting the input between the two halves never changes the digest. */
TEST(test_sha1_2_splits) {
  const char *msg = "The quick brown fox jumps over the lazy dog, twice: "
                    "The quick brown fox jumps over the lazy dog.";
  size_t n = strlen(msg), k;
  uint8_t whole[20], part[20];
  char hex[41];
  wsx__sha1(msg, n, whole);
  for (k = 0; k <= n; k++) {
    wsx__sha1_2(msg, k, msg + k, n - k, part);
    CHECK_MEM(part, 20, whole, 20);
  }
  wsx__sha1("The quick brown fox jumps over the lazy dog", 43, whole);
  to_hex(whole, 20, hex);
  CHECK_STR(hex, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

/* RFC 6455, section 1.3: the handshake example. */
TEST(test_rfc6455_accept) {
  static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t d[20], raw[16];
  char out[29];
  wsx__sha1_2(key, strlen(key), guid, strlen(guid), d);
  CHECK_INT(wsx__base64_encode(d, 20, out), 28);
  CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK_INT(wsx__base64_decode(key, strlen(key), raw, sizeof raw), 16);
  CHECK_MEM(raw, 16, "the sample nonce", 16);
}

static const char *md5_hex(const char *s, char *hex) {
  uint8_t d[16];
  wsx__md5(s, strlen(s), d);
  to_hex(d, 16, hex);
  return hex;
}

/* RFC 1321, appendix A.5. */
TEST(test_md5_rfc1321) {
  char hex[33];
  CHECK_STR(md5_hex("", hex), "d41d8cd98f00b204e9800998ecf8427e");
  CHECK_STR(md5_hex("a", hex), "0cc175b9c0f1b6a831c399e269772661");
  CHECK_STR(md5_hex("abc", hex), "900150983cd24fb0d6963f7d28e17f72");
  CHECK_STR(md5_hex("message digest", hex), "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK_STR(md5_hex("abcdefghijklmnopqrstuvwxyz", hex),
            "c3fcd3d76192e4007dfb496cca67e13b");
  CHECK_STR(
      md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456"
              "789",
              hex),
      "d174ab98d277d9f5a5611c2c9f419d9f");
  CHECK_STR(md5_hex("1234567890123456789012345678901234567890123456789012345678"
                    "9012345678901234567890",
                    hex),
            "57edf4a22be3c955ac49da2e2107b67a");
  /* Lengths around the padding boundary (55, 56, 64 bytes). */
  CHECK_STR(
      md5_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hex),
      "ef1772b6dff9a122358552954ad0df65");
  CHECK_STR(
      md5_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hex),
      "3b0c8ac703f828b04c6c197006d17218");
}

/* The hixie-76 handshake example (draft-hixie-thewebsocketprotocol-76). */
TEST(test_md5_hixie76) {
  /* key1 "18x 6]8vM;54 *(5:  {   U1]8  z [  8": 1868545188 / 12 spaces,
   * key2 "1_ tx7X d  <  nw  334J702) 7]o}` 0": 1733470270 / 10 spaces;
   * the challenge is both quotients as 32-bit big-endian and key3. */
  static const uint8_t challenge[16] = {0x09, 0x47, 0xFA, 0x63, 0x0A, 0x55,
                                        0x10, 0xD3, 'T',  'm',  '[',  'K',
                                        ' ',  'T',  '2',  'u'};
  uint8_t d[16];
  wsx__md5(challenge, 16, d);
  CHECK_MEM(d, 16, "fQJ,fN/4F4!~K~MH", 16);
}

/* ---------------------------------------------------------------- base64 */

TEST(test_base64_rfc4648) {
  static const char *plain[] = {"",     "f",     "fo",    "foo",
                                "foob", "fooba", "foobar"};
  static const char *enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                              "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  size_t i;
  for (i = 0; i < 7; i++) {
    char out[16];
    uint8_t dec[16];
    size_t n = strlen(plain[i]);
    CHECK_INT(wsx__base64_encode((const uint8_t *)plain[i], n, out),
              strlen(enc[i]));
    CHECK_STR(out, enc[i]);
    CHECK_INT(wsx__base64_decode(enc[i], strlen(enc[i]), dec, sizeof dec), n);
    CHECK_MEM(dec, n, plain[i], n);
  }
}

TEST(test_base64_roundtrip_all_bytes) {
  uint8_t in[256], dec[256];
  char enc[345];
  size_t n;
  for (n = 0; n < 256; n++)
    in[n] = (uint8_t)(255 - n);
  for (n = 0; n <= 256; n++) {
    size_t e = wsx__base64_encode(in, n, enc);
    CHECK_INT(e, (n + 2) / 3 * 4);
    CHECK_INT(wsx__base64_decode(enc, e, dec, sizeof dec), n);
    CHECK_MEM(dec, n, in, n);
  }
}

TEST(test_base64_strict) {
  static const char *bad[] = {
      "Zg",                                /* missing padding */
      "Zg=",                               /* short padding */
      "Zg===",                             /* too much padding */
      "Z===",                              /* three '=' */
      "====",                              /* padding only */
      "Zm9v YmFy",                         /* whitespace */
      "Zm9v\nYmFy", " Zm9v",   "Zm9vYmF-", /* URL-safe alphabet is not base64 */
      "Zm9vYmF_",   "Zm=v",                /* '=' in the middle */
      "Zg==Zm9v",                          /* data after padding */
      "Zh==",                              /* non-zero trailing bits */
      "Zm9=",       "Zm\x80v",
  };
  size_t i;
  uint8_t out[16];
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long r = wsx__base64_decode(bad[i], strlen(bad[i]), out, sizeof out);
    if (r != -1)
      TEST_FAILF_("\"%s\" decoded to %ld bytes", bad[i], r);
  }
  /* Output capacity is enforced. */
  CHECK_INT(wsx__base64_decode("Zm9vYmFy", 8, out, 5), -1);
  CHECK_INT(wsx__base64_decode("Zm9vYmFy", 8, out, 6), 6);
}

/* ---------------------------------------------------------------- random */

TEST(test_random_differs) {
  uint8_t a[16], b[16], zero[16] = {0};
  REQUIRE(wsx__random(a, sizeof a) == 0);
  REQUIRE(wsx__random(b, sizeof b) == 0);
  CHECK(memcmp(a, b, 16) != 0);
  CHECK(memcmp(a, zero, 16) != 0);
  CHECK_INT(wsx__random(a, 0), 0);
}

/* Requests larger than the pool, and many small ones crossing refills. */
TEST(test_random_sizes) {
  static uint8_t big[5000];
  uint8_t masks[300][4];
  size_t i, j, zeros = 0, dup = 0;
  int counts[256] = {0};
  REQUIRE(wsx__random(big, sizeof big) == 0);
  for (i = 0; i < sizeof big; i++)
    counts[big[i]]++;
  /* 5000 uniform bytes: each value appears ~19.5 times; 0 or >70 would be
   * a broken source, not chance. */
  for (i = 0; i < 256; i++)
    if (counts[i] == 0 || counts[i] > 70)
      TEST_FAILF_("byte %zu appears %d times in 5000", i, counts[i]);
  for (i = 0; i < 300; i++)
    REQUIRE(wsx__random(masks[i], 4) == 0);
  for (i = 0; i < 300; i++) {
    uint32_t m;
    memcpy(&m, masks[i], 4);
    zeros += m == 0;
    for (j = 0; j < i; j++)
      dup += memcmp(masks[i], masks[j], 4) == 0;
  }
  CHECK(zeros == 0);
  CHECK(dup <= 1); /* birthday bound for 300 draws of 32 bits: ~1e-5 */
  for (i = 1; i < 600; i += 37) {
    uint8_t buf[600];
    memset(buf, 0, sizeof buf);
    REQUIRE(wsx__random(buf, i) == 0);
  }
}

/* A forked child must not hand out the parent's remaining pool bytes. */
TEST(test_random_fork) {
  uint8_t prime[4], mine[16], theirs[16];
  int fds[2], status = 0;
  pid_t pid;
  REQUIRE(wsx__random(prime, sizeof prime) == 0); /* pool now half full */
  REQUIRE(pipe(fds) == 0);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    uint8_t b[16];
    int ok = wsx__random(b, sizeof b) == 0 &&
             write(fds[1], b, sizeof b) == (ssize_t)sizeof b;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  REQUIRE(wsx__random(mine, sizeof mine) == 0);
  CHECK(read(fds[0], theirs, sizeof theirs) == (ssize_t)sizeof theirs);
  close(fds[0]);
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(memcmp(mine, theirs, sizeof mine) != 0);
}

/* ---------------------------------------------------------------- unmask */

/* The reference: one byte at a time, mask byte (off + i) & 3. */
static void ref_unmask(uint8_t *p, size_t n, const uint8_t m[4], size_t off) {
  for (size_t i = 0; i < n; i++)
    p[i] ^= m[(off + i) & 3];
}

/* Every path (portable, SSE2, AVX2 where present, and the dispatching
 * wsx__unmask) against the byte loop: every length 0..300 at every
 * alignment 0..63 and mask offset 0..3, the 16 guard bytes either side
 * untouched; then long payloads (around a 16 KiB frame) at a few
 * alignments, and a payload unmasked in pieces as in one call. */
TEST(test_unmask_paths) {
  static uint8_t got[20000 + 96] __attribute__((aligned(64)));
  static uint8_t want[20000 + 96] __attribute__((aligned(64)));
  static const size_t longs[] = {1000, 4099, 16384, 16389, 20000};
  const uint8_t m[4] = {0x9d, 0x01, 0xe7, 0x42};
  unsigned paths = wsx__unmask_paths(), bad = 0, runs = 0;
  CHECK(paths & 1u);
  if (paths & 4u) /* AVX2 implies SSE2 (the portable tree has neither) */
    CHECK(paths & 2u);
  for (unsigned path = 1; path <= 8; path <<= 1) {
    if (path != 8 && !(paths & path))
      continue;
    for (size_t k = 0; k < 301 + sizeof longs / sizeof longs[0]; k++) {
      size_t n = k < 301 ? k : longs[k - 301];
      for (size_t al = 0; al < 64; al += (k < 301 ? 1 : 7)) {
        for (size_t off = 0; off < 4; off++) {
          size_t total = al + n + 32;
          for (size_t i = 0; i < total; i++)
            got[i] = want[i] = (uint8_t)(i * 131u + n + off);
          ref_unmask(want + al + 16, n, m, off);
          if (path == 8)
            wsx__unmask(got + al + 16, n, m, off);
          else
            wsx__unmask_path(path, got + al + 16, n, m, off);
          runs++;
          if (memcmp(got, want, total) != 0 && bad++ == 0)
            TEST_FAILF_("path %u, %zu bytes at alignment %zu, offset %zu: "
                        "differs from the byte loop",
                        path, n, al, off);
        }
      }
    }
  }
  CHECK_INT(bad, 0);
  CHECK(runs > 4 * 301 * 64 * 2);
  /* In pieces (as reads split a payload): same as whole. */
  for (size_t i = 0; i < 20000; i++)
    got[i] = want[i] = (uint8_t)(i * 7u);
  ref_unmask(want, 20000, m, 1);
  for (size_t at = 0, step = 1; at < 20000; at += step, step = step * 3 + 1)
    wsx__unmask(got + at, (at + step > 20000 ? 20000 - at : step), m,
                (1 + at) & 3);
  CHECK_MEM(got, 20000, want, 20000);
}

/* ---------------------------------------------------------------- strings */

TEST(test_ieq) {
  CHECK(wsx__ieq("Upgrade", 7, "upgrade"));
  CHECK(wsx__ieq("WEBSOCKET", 9, "websocket"));
  CHECK(wsx__ieq("", 0, ""));
  CHECK(wsx__ieq("upgradeX", 7, "UPGRADE"));
  CHECK(!wsx__ieq("Upgrade", 7, "upgrad"));
  CHECK(!wsx__ieq("Upgrad", 6, "upgrade"));
  CHECK(!wsx__ieq("Upgrade", 7, "upgradf"));
  CHECK(!wsx__ieq("a", 1, ""));
  /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60), and bytes >= 0x80
   * are compared as they are. */
  CHECK(!wsx__ieq("@", 1, "`"));
  CHECK(!wsx__ieq("[", 1, "{"));
  CHECK(!wsx__ieq("\xc4", 1, "\xe4"));
}

TEST_MAIN(RUN(test_utf8_vectors); RUN(test_utf8_sticky);
          RUN(test_utf8_fail_index_in_chunk); RUN(test_utf8_exhaustive_1_2_3);
          RUN(test_utf8_random_4); RUN(test_utf8_in_long_buffers);
          RUN(test_utf8_random_strings); RUN(test_sha1_fips);
          RUN(test_sha1_2_splits); RUN(test_rfc6455_accept);
          RUN(test_md5_rfc1321); RUN(test_md5_hixie76);
          RUN(test_base64_rfc4648); RUN(test_base64_roundtrip_all_bytes);
          RUN(test_base64_strict); RUN(test_random_differs);
          RUN(test_random_sizes); RUN(test_random_fork); RUN(test_unmask_paths);
          RUN(test_ieq))
