/* Tests of wsx_url_parse (wsx/http.h). */
#include "../test.h"
#include "wsx/http.h"

typedef struct good {
  const char *url;
  const char *scheme, *userinfo, *host; /* userinfo NULL = absent */
  int port, is_ipv6, secure;
  const char *path, *query; /* query NULL = absent */
} good;

static const good goods_[] = {
    {"ws://example.com", "ws", NULL, "example.com", 80, 0, 0, "/", NULL},
    {"wss://example.com", "wss", NULL, "example.com", 443, 0, 1, "/", NULL},
    {"http://example.com/", "http", NULL, "example.com", 80, 0, 0, "/", NULL},
    {"https://example.com/a/b", "https", NULL, "example.com", 443, 0, 1, "/a/b",
     NULL},
    {"WSS://Example.COM:8443/chat?room=1&x=%20", "WSS", NULL, "Example.COM",
     8443, 0, 1, "/chat?room=1&x=%20", "room=1&x=%20"},
    {"Ws://h/", "Ws", NULL, "h", 80, 0, 0, "/", NULL},
    {"ws://127.0.0.1:8080/", "ws", NULL, "127.0.0.1", 8080, 0, 0, "/", NULL},
    {"ws://[::1]:9001/echo", "ws", NULL, "::1", 9001, 1, 0, "/echo", NULL},
    {"wss://[2001:db8::7]", "wss", NULL, "2001:db8::7", 443, 1, 1, "/", NULL},
    {"ws://[::ffff:192.0.2.1]/", "ws", NULL, "::ffff:192.0.2.1", 80, 1, 0, "/",
     NULL},
    {"http://user:p%40ss@proxy.local:3128", "http", "user:p%40ss",
     "proxy.local", 3128, 0, 0, "/", NULL},
    {"ws://user@h", "ws", "user", "h", 80, 0, 0, "/", NULL},
    {"ws://@h", "ws", "", "h", 80, 0, 0, "/", NULL},
    {"ws://u:@[::1]:1/", "ws", "u:", "::1", 1, 1, 0, "/", NULL},
    {"ws://h:65535", "ws", NULL, "h", 65535, 0, 0, "/", NULL},
    {"ws://h:00080", "ws", NULL, "h", 80, 0, 0, "/", NULL},
    {"ws://h/?", "ws", NULL, "h", 80, 0, 0, "/?", ""},
    {"ws://h/a?b?c/d", "ws", NULL, "h", 80, 0, 0, "/a?b?c/d", "b?c/d"},
    {"ws://my-host_1.example~x/", "ws", NULL, "my-host_1.example~x", 80, 0, 0,
     "/", NULL},
    {"ws://1.2.3.4.example/", "ws", NULL, "1.2.3.4.example", 80, 0, 0, "/",
     NULL},
    {"ws://h//x/./../y", "ws", NULL, "h", 80, 0, 0, "//x/./../y", NULL},
};

static const char *const bads_[] = {
    /* scheme */
    "ftp://h/",
    "wsss://h/",
    "w://h/",
    "://h/",
    "ws:/h",
    "ws:h",
    "h/path",
    "",
    "ws//h",
    " ws://h/",
    /* fragments, spaces, control and non-ASCII bytes */
    "ws://h/#x",
    "ws://h#x",
    "https://h/a#b",
    "ws://h/a b",
    "ws://h/a\tb",
    "ws://h/\x01",
    "ws://h/\x7f",
    "ws://h\r\nX: y/",
    "ws://h/caf\xc3\xa9",
    "ws://h /",
    /* host */
    "ws://",
    "ws:///path",
    "ws://:80/",
    "ws://user@/",
    "ws://user@:80",
    "ws://a@b@c/",
    "ws://h^/",
    "ws://h\"/",
    "ws://h%zz/",
    "ws://h%2/",
    "ws://h{x}/",
    "ws://[::1/",
    "ws://[]/",
    "ws://[::1]x/",
    "ws://[::g]/",
    "ws://[fe80::1%25eth0]/",
    "ws://::1/",
    "ws://[1.2.3.4]/",
    "ws://1.2.3/",
    "ws://1.2.3.4.5/",
    "ws://256.1.1.1/",
    "ws://01.2.3.4/",
    "ws://1..2.3/",
    "ws://1.2.3.4./",
    "ws://us[er@h/",
    /* port */
    "ws://h:/",
    "ws://h:",
    "ws://h:0/",
    "ws://h:00/",
    "ws://h:65536/",
    "ws://h:99999999999999999999/",
    "ws://h:8a/",
    "ws://h:-1/",
    "ws://h:+80/",
    "ws://h:80:81/",
    "ws://[::1]:/",
    "ws://[::1]:0",
    /* query without a path cannot be made "/?q" without a copy */
    "ws://h?x=1",
};

static void check_span(const char *p, size_t n, const char *want) {
  if (!want) {
    CHECK(p == NULL);
    CHECK_INT(n, 0);
    return;
  }
  REQUIRE(p != NULL);
  CHECK_MEM(p, n, want, strlen(want));
}

TEST(parses_good_urls) {
  size_t i;
  for (i = 0; i < sizeof goods_ / sizeof goods_[0]; i++) {
    const good *g = &goods_[i];
    wsx_url u;
    int rc = wsx_url_parse(g->url, &u);
    if (rc != WSX_OK) {
      TEST_FAILF_("%s: rc %d", g->url, rc);
      continue;
    }
    check_span(u.scheme, u.scheme_len, g->scheme);
    check_span(u.userinfo, u.userinfo_len, g->userinfo);
    check_span(u.host, u.host_len, g->host);
    check_span(u.path, u.path_len, g->path);
    check_span(u.query, u.query_len, g->query);
    CHECK_INT(u.port, g->port);
    CHECK_INT(u.is_ipv6, g->is_ipv6);
    CHECK_INT(u.secure, g->secure);
    if (test_cur_failed_) {
      TEST_FAILF_("vector %s", g->url);
      return;
    }
  }
}

TEST(spans_point_into_the_input) {
  static const char url[] = "wss://u:p@host:1234/p?q";
  wsx_url u;
  REQUIRE(wsx_url_parse(url, &u) == WSX_OK);
  CHECK(u.scheme == url);
  CHECK(u.userinfo == url + 6);
  CHECK(u.host == url + 10);
  CHECK(u.path == url + 19);
  CHECK(u.query == url + 22);
  /* A missing path points at a static "/" that outlives the input. */
  REQUIRE(wsx_url_parse("ws://h", &u) == WSX_OK);
  CHECK_MEM(u.path, u.path_len, "/", 1);
}

TEST(refuses_bad_urls) {
  size_t i;
  for (i = 0; i < sizeof bads_ / sizeof bads_[0]; i++) {
    wsx_url u;
    int rc = wsx_url_parse(bads_[i], &u);
    if (rc != WSX_E_URL)
      TEST_FAILF_("\"%s\" gave %d, expected WSX_E_URL", bads_[i], rc);
  }
}

TEST(failure_leaves_output_untouched) {
  wsx_url u;
  memset(&u, 0xAB, sizeof u);
  CHECK_INT(wsx_url_parse("ws://h:0/", &u), WSX_E_URL);
  CHECK_INT(u.port, 0xABAB);
}

TEST(invalid_arguments) {
  wsx_url u;
  CHECK_INT(wsx_url_parse(NULL, &u), WSX_E_INVALID);
  CHECK_INT(wsx_url_parse("ws://h/", NULL), WSX_E_INVALID);
}

TEST_MAIN(RUN(parses_good_urls); RUN(spans_point_into_the_input);
          RUN(refuses_bad_urls); RUN(failure_leaves_output_untouched);
          RUN(invalid_arguments))
