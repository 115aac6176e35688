/*
 * tests/test.h: the tiny test harness every wsx test program uses.
 *
 * A test program defines TEST(name) functions and a main() built with
 * TEST_MAIN(RUN(a); RUN(b); ...). Each test prints one line, "ok <name>" or
 * "FAIL <name>: <file>:<line>: <what>", and the program exits non-zero if any
 * test failed. scripts/run-tests.sh counts these lines across programs and
 * prints the final "N passed, N failed".
 */
#ifndef WSX_TEST_H
#define WSX_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_cur_failed_;
static int test_n_passed_;
static int test_n_failed_;
static const char *test_cur_name_;

#define TEST(name) static void name(void)

#define TEST_FAILF_(...)                                                       \
  do {                                                                         \
    if (!test_cur_failed_) {                                                   \
      printf("FAIL %s: %s:%d: ", test_cur_name_, __FILE__, __LINE__);          \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
      fflush(stdout);                                                          \
    }                                                                          \
    test_cur_failed_ = 1;                                                      \
  } while (0)

/* Checks that continue the test on failure (first failure is reported). */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      TEST_FAILF_("CHECK(%s)", #cond);                                         \
  } while (0)
#define CHECK_INT(a, b)                                                        \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_)                                                              \
      TEST_FAILF_("%s == %lld, expected %s == %lld", #a, a_, #b, b_);          \
  } while (0)
#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
      TEST_FAILF_("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)",     \
                  b_ ? b_ : "(null)");                                         \
  } while (0)
#define CHECK_MEM(a, alen, b, blen)                                            \
  do {                                                                         \
    size_t al_ = (size_t)(alen), bl_ = (size_t)(blen);                         \
    if (al_ != bl_ || (al_ && memcmp((a), (b), al_) != 0))                     \
      TEST_FAILF_("%s (%zu bytes) differs from %s (%zu bytes)", #a, al_, #b,   \
                  bl_);                                                        \
  } while (0)
/* Stops the test (returns from the TEST function) if cond is false. */
#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      TEST_FAILF_("REQUIRE(%s)", #cond);                                       \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define RUN(name)                                                              \
  do {                                                                         \
    test_cur_name_ = #name;                                                    \
    test_cur_failed_ = 0;                                                      \
    name();                                                                    \
    if (test_cur_failed_)                                                      \
      test_n_failed_++;                                                        \
    else {                                                                     \
      test_n_passed_++;                                                        \
      printf("ok %s\n", #name);                                                \
    }                                                                          \
    fflush(stdout);                                                            \
  } while (0)

#define TEST_MAIN(...)                                                         \
  int main(void) {                                                             \
    __VA_ARGS__;                                                               \
    fprintf(stderr, "%d passed, %d failed\n", test_n_passed_, test_n_failed_); \
    return test_n_failed_ ? 1 : 0;                                             \
  }

/* Deterministic PRNG for random split points (xorshift64*). */
static inline uint64_t test_rand_(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

#endif
