/*
 * Cookies (wsx/cookie.h): Cookie header parsing (RFC 6265 4.2.1, bad pairs
 * skipped), Set-Cookie formatting with validation (no CR/LF/';' injection,
 * nothing half-written), and wsx_driver_set_cookie on a real handshake.
 */
#include "../conformance/harness.h"
#include "wsx/cookie.h"

#define S(lit) lit, sizeof(lit) - 1

static int span_is(const char *p, size_t n, const char *want) {
  return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

TEST(parse_basic) {
  wsx_cookie c[4];
  CHECK_INT(wsx_cookie_parse(S("a=1; b=two; session=xyz"), c, 4), 3);
  CHECK(span_is(c[0].name, c[0].name_len, "a"));
  CHECK(span_is(c[0].value, c[0].value_len, "1"));
  CHECK(span_is(c[1].name, c[1].name_len, "b"));
  CHECK(span_is(c[1].value, c[1].value_len, "two"));
  CHECK(span_is(c[2].name, c[2].name_len, "session"));
  CHECK(span_is(c[2].value, c[2].value_len, "xyz"));
}

TEST(parse_whitespace_quotes_empty) {
  wsx_cookie c[4];
  /* OWS around ';' and '=', a quoted value, an empty value. */
  CHECK_INT(wsx_cookie_parse(S("  a = 1 ;\tq=\"quoted\";e=  "), c, 4), 3);
  CHECK(span_is(c[0].name, c[0].name_len, "a"));
  CHECK(span_is(c[0].value, c[0].value_len, "1"));
  CHECK(span_is(c[1].value, c[1].value_len, "quoted"));
  CHECK(span_is(c[2].name, c[2].name_len, "e"));
  CHECK_INT(c[2].value_len, 0);
}

TEST(parse_skips_bad_pairs) {
  wsx_cookie c[8];
  /* no '=', empty name, non-token name, space / comma / backslash / DQUOTE
   * / control inside a value, unbalanced quote: all skipped; the good ones
   * around them survive. */
  const char h[] = "good=1; noequals; =v; b@d=2; sp=a b; cm=a,b; bs=a\\b; "
                   "dq=a\"b; ctl=a\x01"
                   "b; uq=\"abc; last=ok";
  CHECK_INT(wsx_cookie_parse(h, sizeof h - 1, c, 8), 2);
  CHECK(span_is(c[0].name, c[0].name_len, "good"));
  CHECK(span_is(c[1].name, c[1].name_len, "last"));
  CHECK(span_is(c[1].value, c[1].value_len, "ok"));
}

TEST(parse_edge_inputs) {
  wsx_cookie c[2];
  CHECK_INT(wsx_cookie_parse(NULL, 0, NULL, 0), 0);
  CHECK_INT(wsx_cookie_parse(S(""), c, 2), 0);
  CHECK_INT(wsx_cookie_parse(S(";;; ;"), c, 2), 0);
  CHECK_INT(wsx_cookie_parse(NULL, 3, c, 2), WSX_E_INVALID);
  CHECK_INT(wsx_cookie_parse(S("a=1"), NULL, 2), WSX_E_INVALID);
  /* More pairs than room: the count is the total, the first are stored. */
  CHECK_INT(wsx_cookie_parse(S("a=1; b=2; c=3"), c, 1), 3);
  CHECK(span_is(c[0].name, c[0].name_len, "a"));
  CHECK_INT(wsx_cookie_parse(S("a=1; b=2; c=3"), NULL, 0), 3);
  /* The value may contain '=' (base64 padding). */
  CHECK_INT(wsx_cookie_parse(S("t=YWJj=="), c, 2), 1);
  CHECK(span_is(c[0].value, c[0].value_len, "YWJj=="));
  /* Spans stay inside the header: not NUL-terminated input. */
  char buf[5] = {'k', '=', 'v', 'X', 'Y'};
  CHECK_INT(wsx_cookie_parse(buf, 3, c, 2), 1);
  CHECK(span_is(c[0].value, c[0].value_len, "v"));
}

TEST(get_by_name) {
  size_t n = 99;
  const char h[] = "a=1; dup=first; bad x=3; dup=second; A=upper";
  const char *v = wsx_cookie_get(h, sizeof h - 1, "dup", &n);
  CHECK(span_is(v, n, "first"));
  v = wsx_cookie_get(h, sizeof h - 1, "A", &n);
  CHECK(span_is(v, n, "upper"));
  CHECK(wsx_cookie_get(h, sizeof h - 1, "missing", &n) == NULL);
  CHECK_INT(n, 0);
  CHECK(wsx_cookie_get(h, sizeof h - 1, "bad x", &n) == NULL);
  CHECK(wsx_cookie_get(h, sizeof h - 1, NULL, &n) == NULL);
}

TEST(format_minimal_and_full) {
  char buf[256];
  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "sid";
  c.value = "abc123";
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), 10);
  CHECK_STR(buf, "sid=abc123");

  c.path = "/chat";
  c.domain = "example.com";
  c.flags = WSX_COOKIE_SECURE | WSX_COOKIE_HTTPONLY | WSX_COOKIE_MAX_AGE |
            WSX_COOKIE_EXPIRES;
  c.max_age_ms = 3600999; /* rounded down to whole seconds */
  c.expires_ms = 784111777000LL; /* RFC 7231's example date */
  c.same_site = WSX_SAME_SITE_STRICT;
  int n = wsx_cookie_format(&c, buf, sizeof buf);
  const char *want = "sid=abc123; Path=/chat; Domain=example.com; "
                     "Max-Age=3600; Expires=Sun, 06 Nov 1994 08:49:37 GMT; "
                     "Secure; HttpOnly; SameSite=Strict";
  CHECK_STR(buf, want);
  CHECK_INT(n, (int)strlen(want));

  /* Deletion: Max-Age 0 for zero and negative lifetimes. */
  wsx_set_cookie d = WSX_SET_COOKIE_INIT;
  d.name = "sid";
  d.value = "";
  d.flags = WSX_COOKIE_MAX_AGE;
  d.max_age_ms = -5;
  wsx_cookie_format(&d, buf, sizeof buf);
  CHECK_STR(buf, "sid=; Max-Age=0");
  /* A quoted value is kept as given. */
  d.value = "\"q v\"";
  CHECK_INT(wsx_cookie_format(&d, buf, sizeof buf), WSX_E_HEADER_VALUE);
  d.value = "\"qv\"";
  d.flags = 0;
  wsx_cookie_format(&d, buf, sizeof buf);
  CHECK_STR(buf, "sid=\"qv\"");
}

TEST(format_dates) {
  char buf[128];
  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "a";
  c.value = "b";
  c.flags = WSX_COOKIE_EXPIRES;
  c.expires_ms = 0;
  wsx_cookie_format(&c, buf, sizeof buf);
  CHECK_STR(buf, "a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  c.expires_ms = 951782400999LL; /* leap day 2000, ms rounded down */
  wsx_cookie_format(&c, buf, sizeof buf);
  CHECK_STR(buf, "a=b; Expires=Tue, 29 Feb 2000 00:00:00 GMT");
  c.expires_ms = 253402300799000LL; /* last second of 9999 */
  wsx_cookie_format(&c, buf, sizeof buf);
  CHECK_STR(buf, "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
  c.expires_ms = -11644473600000LL; /* 1601-01-01: oldest accepted */
  wsx_cookie_format(&c, buf, sizeof buf);
  CHECK_STR(buf, "a=b; Expires=Mon, 01 Jan 1601 00:00:00 GMT");
  c.expires_ms = -11644473600001LL;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.expires_ms = 253402300800000LL; /* year 10000 */
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.expires_ms = INT64_MAX;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.expires_ms = INT64_MIN;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
}

/* Every injection attempt is refused and nothing is written. */
TEST(format_refuses_injection) {
  struct {
    const char *name, *value, *path, *domain;
  } bad[] = {
      {"a\r\nX-Evil: 1", "v", NULL, NULL},
      {"a", "v\r\nX-Evil: 1", NULL, NULL},
      {"a", "v; HttpOnly", NULL, NULL},
      {"a", "v b", NULL, NULL},
      {"a", "v,b", NULL, NULL},
      {"a", "\"unbalanced", NULL, NULL},
      {"a=b", "v", NULL, NULL},
      {"", "v", NULL, NULL},
      {"a b", "v", NULL, NULL},
      {"a", "v", "/x; Domain=evil.com", NULL},
      {"a", "v", "/x\r\nSet-Cookie: evil=1", NULL},
      {"a", "v", "/x\x7f", NULL},
      {"a", "v", NULL, "evil.com; Secure"},
      {"a", "v", NULL, "exa mple.com"},
      {"a", "v", NULL, ""},
      {"a", "v", NULL, "."},
      {"a", "v", NULL, "a..b"},
      {"a", "v", NULL, "a.b."},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char buf[128];
    memset(buf, 'Z', sizeof buf);
    wsx_set_cookie c = WSX_SET_COOKIE_INIT;
    c.name = bad[i].name;
    c.value = bad[i].value;
    c.path = bad[i].path;
    c.domain = bad[i].domain;
    int rc = wsx_cookie_format(&c, buf, sizeof buf);
    if (rc != WSX_E_HEADER_VALUE)
      TEST_FAILF_("case %zu: rc %d", i, rc);
    CHECK(buf[0] == '\0');
  }
  /* 253 is the longest domain accepted. */
  char dom[260];
  memset(dom, 'a', 254);
  dom[254] = 0;
  char buf[400];
  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "a";
  c.value = "b";
  c.domain = dom;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_HEADER_VALUE);
  dom[253] = 0;
  CHECK(wsx_cookie_format(&c, buf, sizeof buf) > 0);
}

TEST(format_invalid_arguments) {
  char buf[64];
  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "a";
  c.value = "b";
  CHECK_INT(wsx_cookie_format(NULL, buf, sizeof buf), WSX_E_INVALID);
  CHECK_INT(wsx_cookie_format(&c, NULL, 4), WSX_E_INVALID);
  wsx_set_cookie z;
  memset(&z, 0, sizeof z); /* struct_size 0 */
  z.name = "a";
  z.value = "b";
  CHECK_INT(wsx_cookie_format(&z, buf, sizeof buf), WSX_E_INVALID);
  c.value = NULL;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.value = "b";
  c.flags = 0x100;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.flags = 0;
  c.same_site = 7;
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.same_site = WSX_SAME_SITE_NONE; /* needs Secure */
  CHECK_INT(wsx_cookie_format(&c, buf, sizeof buf), WSX_E_INVALID);
  c.flags = WSX_COOKIE_SECURE;
  CHECK(wsx_cookie_format(&c, buf, sizeof buf) > 0);
  CHECK_STR(buf, "a=b; Secure; SameSite=None");
}

TEST(format_snprintf_contract) {
  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "name";
  c.value = "value";
  c.path = "/";
  /* "name=value; Path=/" is 18 bytes. */
  CHECK_INT(wsx_cookie_format(&c, NULL, 0), 18);
  char buf[19];
  memset(buf, 'Z', sizeof buf);
  CHECK_INT(wsx_cookie_format(&c, buf, 18), 18); /* too small */
  CHECK(buf[0] == '\0');
  CHECK_INT(wsx_cookie_format(&c, buf, 19), 18);
  CHECK_STR(buf, "name=value; Path=/");
}

/* Set-Cookie on a real 101 answer, read back by a client driver. */
TEST(driver_set_cookie_on_handshake) {
  hpair p;
  memset(&p, 0, sizeof p);
  REQUIRE(h_client_new(&p.c, "ws://localhost/chat", NULL, NULL));
  REQUIRE(h_server_new(&p.s, NULL, NULL));
  p.s.auto_start = 0; /* set cookies between connect and start */
  REQUIRE(wsx_driver_start(p.c.d) == WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  REQUIRE(p.s.n_connect == 1);

  wsx_set_cookie c = WSX_SET_COOKIE_INIT;
  c.name = "sid";
  c.value = "s3cr3t";
  c.path = "/chat";
  c.flags = WSX_COOKIE_HTTPONLY;
  CHECK_INT(wsx_driver_set_cookie(p.s.d, &c), WSX_OK);
  /* A long one goes through the heap path. */
  char longv[1200];
  memset(longv, 'x', sizeof longv - 1);
  longv[sizeof longv - 1] = 0;
  wsx_set_cookie l = WSX_SET_COOKIE_INIT;
  l.name = "big";
  l.value = longv;
  CHECK_INT(wsx_driver_set_cookie(p.s.d, &l), WSX_OK);
  /* Invalid: refused, and nothing is added to the answer. */
  wsx_set_cookie bad = WSX_SET_COOKIE_INIT;
  bad.name = "evil";
  bad.value = "1\r\nX-Injected: yes";
  CHECK_INT(wsx_driver_set_cookie(p.s.d, &bad), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_driver_set_cookie(p.s.d, NULL), WSX_E_INVALID);
  CHECK_INT(wsx_driver_set_cookie(p.c.d, &c), WSX_E_STATE); /* client */

  REQUIRE(wsx_driver_start(p.s.d) == WSX_OK);
  h_pump(&p, H_WHOLE, 0);
  CHECK_INT(p.c.n_open, 1);
  size_t n = 0;
  const wsx_header *h = wsx_driver_headers(p.c.d, &n);
  int seen = 0, seen_big = 0;
  for (size_t i = 0; i < n; i++) {
    if (h[i].name_len == 10 && memcmp(h[i].name, "Set-Cookie", 10) == 0) {
      if (span_is(h[i].value, h[i].value_len, "sid=s3cr3t; Path=/chat; "
                                              "HttpOnly"))
        seen++;
      else if (h[i].value_len == 4 + sizeof longv - 1)
        seen_big++;
    }
    CHECK(!(h[i].name_len == 10 && memcmp(h[i].name, "X-Injected", 10) == 0));
  }
  CHECK_INT(seen, 1);
  CHECK_INT(seen_big, 1);
  /* And the Cookie parser reads what a browser would send back. */
  wsx_cookie back[1];
  CHECK_INT(wsx_cookie_parse(S("sid=s3cr3t"), back, 1), 1);
  /* After start: too late. */
  CHECK_INT(wsx_driver_set_cookie(p.s.d, &c), WSX_E_STATE);
  h_pair_free(&p);
}

TEST_MAIN(RUN(parse_basic); RUN(parse_whitespace_quotes_empty);
          RUN(parse_skips_bad_pairs); RUN(parse_edge_inputs);
          RUN(get_by_name); RUN(format_minimal_and_full); RUN(format_dates);
          RUN(format_refuses_injection); RUN(format_invalid_arguments);
          RUN(format_snprintf_contract);
          RUN(driver_set_cookie_on_handshake))
