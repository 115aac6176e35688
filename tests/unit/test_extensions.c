/*
 * Sec-WebSocket-Extensions parser (src/ext/offers.c): grammar, rejections,
 * limits, linear time, bounded allocation, and no reads past the input
 * (every vector is also parsed from the end of a page followed by an
 * unreadable guard page).
 */
#include "../helpers/count_alloc.h"
#include "../test.h"

#include "wsx/extension.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- counting / failing allocator --------------------------------------- */

/* ---- guard-page parsing ------------------------------------------------- */

/* Copies s to the very end of a readable page followed by a PROT_NONE page
 * and parses it from there, so a read past the end faults. */
static int parse_guarded(const char *s, size_t len, size_t max_offers,
                         wsx_extension_offers *out, const char **err) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (len + pg - 1) / pg + 1;
  char *m = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return -9999;
  mprotect(m + (pages - 1) * pg, pg, PROT_NONE);
  char *start = m + (pages - 1) * pg - len;
  if (len)
    memcpy(start, s, len);
  int rc = wsx_extension_offers_parse(start, len, max_offers, NULL, out, err);
  /* The result must not point into the input: scribble over it. */
  memset(start, '#', len);
  munmap(m, pages * pg);
  return rc;
}

static int parse(const char *s, wsx_extension_offers *out, const char **err) {
  return parse_guarded(s, strlen(s), 0, out, err);
}

static int span_is(const char *p, size_t n, const char *lit) {
  return p && strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* ---- tests -------------------------------------------------------------- */

TEST(single_offer) {
  wsx_extension_offers o;
  const char *err = "x";
  REQUIRE(parse("permessage-deflate", &o, &err) == WSX_OK);
  CHECK(err == NULL);
  REQUIRE(o.num_offers == 1);
  CHECK(span_is(o.offers[0].name, o.offers[0].name_len, "permessage-deflate"));
  CHECK_INT(o.offers[0].num_params, 0);
  wsx_extension_offers_free(&o);
  CHECK(o.offers == NULL && o.num_offers == 0);
  wsx_extension_offers_free(&o); /* twice is harmless */
}

TEST(params_and_several_offers) {
  wsx_extension_offers o;
  const char *err;
  const char *h = "permessage-deflate; client_max_window_bits; "
                  "server_max_window_bits=10, permessage-deflate;"
                  "client_max_window_bits=\"12\" ,x-webkit;a=b";
  REQUIRE(parse(h, &o, &err) == WSX_OK);
  REQUIRE(o.num_offers == 3);
  const wsx_extension_offer *a = &o.offers[0], *b = &o.offers[1],
                            *c = &o.offers[2];
  CHECK(span_is(a->name, a->name_len, "permessage-deflate"));
  REQUIRE(a->num_params == 2);
  CHECK(span_is(a->params[0].name, a->params[0].name_len,
                "client_max_window_bits"));
  CHECK(a->params[0].value == NULL);
  CHECK_INT(a->params[0].value_len, 0);
  CHECK(span_is(a->params[1].name, a->params[1].name_len,
                "server_max_window_bits"));
  CHECK(span_is(a->params[1].value, a->params[1].value_len, "10"));
  CHECK(span_is(b->name, b->name_len, "permessage-deflate"));
  REQUIRE(b->num_params == 1);
  CHECK(span_is(b->params[0].value, b->params[0].value_len, "12"));
  CHECK(span_is(c->name, c->name_len, "x-webkit"));
  REQUIRE(c->num_params == 1);
  CHECK(span_is(c->params[0].name, c->params[0].name_len, "a"));
  CHECK(span_is(c->params[0].value, c->params[0].value_len, "b"));
  wsx_extension_offers_free(&o);
}

TEST(ows_everywhere) {
  wsx_extension_offers o;
  const char *err;
  REQUIRE(parse(" \t a \t ; \t b \t = \t c \t ; d = \"e\" \t , \t f \t ", &o,
                &err) == WSX_OK);
  REQUIRE(o.num_offers == 2);
  CHECK(span_is(o.offers[0].name, o.offers[0].name_len, "a"));
  REQUIRE(o.offers[0].num_params == 2);
  CHECK(
      span_is(o.offers[0].params[0].name, o.offers[0].params[0].name_len, "b"));
  CHECK(span_is(o.offers[0].params[0].value, o.offers[0].params[0].value_len,
                "c"));
  CHECK(span_is(o.offers[0].params[1].value, o.offers[0].params[1].value_len,
                "e"));
  CHECK(span_is(o.offers[1].name, o.offers[1].name_len, "f"));
  CHECK_INT(o.offers[1].num_params, 0);
  wsx_extension_offers_free(&o);
}

TEST(quoted_escapes) {
  wsx_extension_offers o;
  const char *err;
  REQUIRE(parse("x; v=\"\\1\\0\"; w=\"a\\b-c\"", &o, &err) == WSX_OK);
  REQUIRE(o.num_offers == 1 && o.offers[0].num_params == 2);
  CHECK(span_is(o.offers[0].params[0].value, o.offers[0].params[0].value_len,
                "10"));
  CHECK(span_is(o.offers[0].params[1].value, o.offers[0].params[1].value_len,
                "ab-c"));
  wsx_extension_offers_free(&o);
}

/* RFC 7230 7: recipients tolerate empty list elements. */
TEST(empty_list_elements) {
  wsx_extension_offers o;
  const char *err;
  REQUIRE(parse(", a ,, b ,", &o, &err) == WSX_OK);
  REQUIRE(o.num_offers == 2);
  CHECK(span_is(o.offers[0].name, o.offers[0].name_len, "a"));
  CHECK(span_is(o.offers[1].name, o.offers[1].name_len, "b"));
  wsx_extension_offers_free(&o);
}

TEST(rejects_malformed) {
  static const char *bad[] = {
      "",               /* no extension */
      "  ",             /* no extension */
      ",",              /* no extension */
      " , ,",           /* no extension */
      "a;",             /* missing parameter name */
      "a; ;b",          /* empty parameter */
      "a;=b",           /* missing parameter name */
      "a=b",            /* value on the extension name */
      "a;b=",           /* missing value */
      "a;b= ;c",        /* missing value */
      "a;b=\"\"",       /* empty quoted value is not a token */
      "a;b=\"x y\"",    /* space is not a tchar */
      "a;b=\"x,y\"",    /* ',' is not a tchar */
      "a;b=\"x\\\"y\"", /* escaped '"' is not a tchar */
      "a;b=\"open",     /* unterminated */
      "a;b=\"open\\",   /* ends in a backslash */
      "a;b=\"x\"y",     /* junk after the quoted string */
      "a b",            /* two tokens */
      "a;b c",          /* two tokens */
      "a;b=c d",        /* two tokens */
      "a;b=c=d",        /* '=' twice */
      "a@",             /* separator in a name */
      "\"a\"",          /* quoted extension name */
      "a;\"b\"=c",      /* quoted parameter name */
      "a;b=c/d",        /* '/' is not a tchar */
      "a\r\n",          /* CR LF */
      "a;b=\xc3\xa9",   /* non-ASCII value */
      "\xff",           /* non-ASCII name */
      "a;;b",           /* empty parameter */
      "a;b;",           /* trailing ';' */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    wsx_extension_offers o;
    const char *err = NULL;
    int rc = parse(bad[i], &o, &err);
    if (rc != WSX_E_EXTENSION)
      TEST_FAILF_("\"%s\" gave %d", bad[i], rc);
    if (!err || !*err)
      TEST_FAILF_("\"%s\": no err_detail", bad[i]);
    CHECK(o.offers == NULL && o.num_offers == 0 && o.storage_ == NULL);
  }
  /* An embedded NUL is just an invalid byte. */
  wsx_extension_offers o;
  const char *err;
  CHECK_INT(parse_guarded("a\0b", 3, 0, &o, &err), WSX_E_EXTENSION);
  CHECK_INT(wsx_extension_offers_parse(NULL, 1, 0, NULL, &o, &err),
            WSX_E_INVALID);
  CHECK_INT(wsx_extension_offers_parse("a", 1, 0, NULL, NULL, &err),
            WSX_E_INVALID);
}

TEST(detail_messages) {
  wsx_extension_offers o;
  const char *err = NULL;
  CHECK_INT(parse("a;b=\"x", &o, &err), WSX_E_EXTENSION);
  CHECK(err && strstr(err, "unterminated"));
  CHECK_INT(parse("a;b=\"x y\"", &o, &err), WSX_E_EXTENSION);
  CHECK(err && strstr(err, "token"));
  CHECK_INT(parse("a b", &o, &err), WSX_E_EXTENSION);
  CHECK(err && strstr(err, "expected ';' or ','"));
  /* err_detail may be NULL. */
  CHECK_INT(wsx_extension_offers_parse("a b", 3, 0, NULL, &o, NULL),
            WSX_E_EXTENSION);
}

TEST(max_offers) {
  wsx_extension_offers o;
  const char *err = NULL;
  CHECK_INT(parse_guarded("a, b, c", 7, 2, &o, &err), WSX_E_EXTENSION);
  CHECK(err && strstr(err, "too many"));
  REQUIRE(parse_guarded("a, b, c", 7, 3, &o, &err) == WSX_OK);
  CHECK_INT(o.num_offers, 3);
  wsx_extension_offers_free(&o);
  /* Default limit 64. */
  char buf[65 * 2 + 1];
  size_t n = 0;
  for (int i = 0; i < 65; i++) {
    buf[n++] = 'x';
    buf[n++] = ',';
  }
  CHECK_INT(parse_guarded(buf, n, 0, &o, &err), WSX_E_EXTENSION);
  REQUIRE(parse_guarded(buf, n - 2, 0, &o, &err) == WSX_OK);
  CHECK_INT(o.num_offers, 64);
  wsx_extension_offers_free(&o);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Big adversarial inputs: time stays linear and allocation O(len). */
TEST(linear_and_bounded) {
  const size_t len = 4u << 20;
  char *s = malloc(len);
  REQUIRE(s);
  struct {
    const char *unit;
    int ok;
    size_t max_offers;
  } shapes[] = {
      {"a;b", 1, 0},       /* maximum parameter count */
      {"a,", 0, 64},       /* over max_offers: stops early */
      {";", 0, 0},         /* error at once */
      {"\"", 0, 0},        /* error at once */
      {"a;b=\"\\c", 0, 0}, /* long quoted string: error at the end */
      {" ", 0, 0},         /* whitespace only */
  };
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    size_t u = strlen(shapes[k].unit);
    for (size_t i = 0; i < len; i++)
      s[i] = shapes[k].unit[i % u];
    size_t n = len - len % u;
    if (k == 4) { /* one quoted string spanning the whole input */
      memcpy(s, "a;b=\"", 5);
      for (size_t i = 5; i < n; i++)
        s[i] = 'c';
    }
    tc_counter c = {0};
    wsx_allocator a = {tc_malloc, tc_realloc, tc_free, &c};
    wsx_extension_offers o;
    const char *err;
    double t0 = now_s();
    int rc =
        wsx_extension_offers_parse(s, n, shapes[k].max_offers, &a, &o, &err);
    double dt = now_s() - t0;
    if (shapes[k].ok) {
      CHECK_INT(rc, WSX_OK);
      CHECK_INT(o.num_offers, 1);
      CHECK_INT(o.offers[0].num_params, n / 3 - 1 + 1);
    } else {
      CHECK_INT(rc, WSX_E_EXTENSION);
    }
    /* Every param costs at least 2 input bytes, every offer 2. */
    CHECK(c.peak <= n + (n / 2 + 1) * sizeof(wsx_extension_param) +
                        (n / 2 + 1) * sizeof(wsx_extension_offer));
    if (dt > 2.0)
      TEST_FAILF_("shape %zu took %.2fs for %zu bytes", k, dt, n);
    if (rc == WSX_OK)
      wsx_extension_offers_free(&o);
    CHECK_INT(c.cur, 0);
  }
  /* Many offers allowed: linear too. */
  for (size_t i = 0; i < len; i++)
    s[i] = (i % 2) ? ',' : 'a';
  wsx_extension_offers o;
  const char *err;
  double t0 = now_s();
  REQUIRE(wsx_extension_offers_parse(s, len, len, NULL, &o, &err) == WSX_OK);
  CHECK(now_s() - t0 < 2.0);
  CHECK_INT(o.num_offers, len / 2);
  wsx_extension_offers_free(&o);
  free(s);
}

TEST(allocator_and_failure) {
  tc_counter c = {0};
  wsx_allocator a = {tc_malloc, tc_realloc, tc_free, &c};
  wsx_extension_offers o;
  const char *err;
  const char *h = "permessage-deflate; client_max_window_bits, x";
  REQUIRE(wsx_extension_offers_parse(h, strlen(h), 0, &a, &o, &err) == WSX_OK);
  CHECK_INT(c.calls, 1); /* one block */
  CHECK(c.cur > 0);
  wsx_extension_offers_free(&o);
  CHECK_INT(c.cur, 0);
  c.calls = 0;
  c.fail_at = 1;
  CHECK_INT(wsx_extension_offers_parse(h, strlen(h), 0, &a, &o, &err),
            WSX_E_NOMEM);
  CHECK(o.offers == NULL && o.storage_ == NULL);
  CHECK_INT(c.cur, 0);
}

/* Every prefix of a valid header parses or fails cleanly, and never reads
 * past its end. */
TEST(every_prefix_is_safe) {
  const char *h = "permessage-deflate; client_max_window_bits=\"1\\5\"; "
                  "server_no_context_takeover, x; y";
  size_t n = strlen(h);
  for (size_t i = 0; i <= n; i++) {
    wsx_extension_offers o;
    const char *err;
    int rc = parse_guarded(h, i, 0, &o, &err);
    CHECK(rc == WSX_OK || rc == WSX_E_EXTENSION);
    if (rc == WSX_OK)
      wsx_extension_offers_free(&o);
  }
  wsx_extension_offers o;
  const char *err;
  REQUIRE(parse_guarded(h, n, 0, &o, &err) == WSX_OK);
  REQUIRE(o.num_offers == 2 && o.offers[0].num_params == 2);
  CHECK(span_is(o.offers[0].params[0].value, o.offers[0].params[0].value_len,
                "15"));
  wsx_extension_offers_free(&o);
}

TEST(strbuf_append) {
  /* wsx_ext_strbuf is opaque to applications; only argument checks here
   * (tests/unit/test_deflate.c drives it through real offers). */
  CHECK_INT(wsx_ext_strbuf_append(NULL, "a", 1), WSX_E_INVALID);
}

TEST_MAIN(RUN(single_offer); RUN(params_and_several_offers);
          RUN(ows_everywhere); RUN(quoted_escapes); RUN(empty_list_elements);
          RUN(rejects_malformed); RUN(detail_messages); RUN(max_offers);
          RUN(linear_and_bounded); RUN(allocator_and_failure);
          RUN(every_prefix_is_safe); RUN(strbuf_append))
