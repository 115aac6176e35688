/* Unit tests for the helpers in include/wsx/common.h. */
#include "wsx/common.h"
#include "test.h"

static const int all_codes[] = {WSX_OK,
                                WSX_E_INVALID,
                                WSX_E_STATE,
                                WSX_E_NOMEM,
                                WSX_E_HEADER_VALUE,
                                WSX_E_URL,
                                WSX_E_UNSUPPORTED,
                                WSX_E_TOO_BIG,
                                WSX_E_CLOSED,
                                WSX_E_AGAIN,
                                WSX_E_BUSY,
                                WSX_E_TIMEOUT,
                                WSX_E_EXTENSION,
                                WSX_E_IO,
                                WSX_E_TLS,
                                WSX_E_DNS,
                                WSX_E_PROXY,
                                WSX_E_PROTOCOL,
                                WSX_E_UTF8,
                                WSX_E_MESSAGE_TOO_BIG,
                                WSX_E_HANDSHAKE,
                                WSX_E_HTTP,
                                WSX_E_HEAD_TOO_BIG,
                                WSX_E_POLICY,
                                WSX_E_INTERNAL,
                                WSX_E_NOMEM_FATAL};

#define N_CODES (sizeof all_codes / sizeof all_codes[0])

/* Every code has its own name; anything else is "unknown error". */
TEST(test_strerror) {
  size_t i, j;
  for (i = 0; i < N_CODES; i++) {
    const char *s = wsx_strerror(all_codes[i]);
    REQUIRE(s != NULL);
    if (strcmp(s, "unknown error") == 0 || s[0] == '\0')
      TEST_FAILF_("code %d has no name", all_codes[i]);
    for (j = 0; j < i; j++)
      if (strcmp(s, wsx_strerror(all_codes[j])) == 0)
        TEST_FAILF_("codes %d and %d share the name \"%s\"", all_codes[i],
                    all_codes[j], s);
  }
  CHECK_STR(wsx_strerror(WSX_E_PROTOCOL), "protocol error");
  CHECK_STR(wsx_strerror(WSX_E_UTF8), "invalid UTF-8");
  CHECK_STR(wsx_strerror(1), "unknown error");
  CHECK_STR(wsx_strerror(-1), "unknown error"); /* a libuv/errno code */
  CHECK_STR(wsx_strerror(-1000), "unknown error");
  CHECK_STR(wsx_strerror(-1049), "unknown error");
  CHECK_STR(wsx_strerror(-1059), "unknown error");
  CHECK_STR(wsx_strerror(-4095), "unknown error");
}

TEST(test_is_fatal) {
  int c;
  for (c = -1058; c <= -1050; c++)
    CHECK(wsx_is_fatal(c));
  /* After these the driver (connection, proxy handshake) is closed. */
  CHECK(wsx_is_fatal(WSX_E_IO));
  CHECK(wsx_is_fatal(WSX_E_EXTENSION));
  CHECK(wsx_is_fatal(WSX_E_NOMEM_FATAL));
  CHECK(!wsx_is_fatal(WSX_E_NOMEM));
  CHECK(!wsx_is_fatal(WSX_E_STATE));
  CHECK(!wsx_is_fatal(WSX_E_BUSY));
  CHECK(wsx_is_fatal(WSX_E_PROTOCOL));
  CHECK(wsx_is_fatal(WSX_E_INTERNAL));
  CHECK(!wsx_is_fatal(WSX_OK));
  CHECK(!wsx_is_fatal(WSX_E_INVALID));
  CHECK(!wsx_is_fatal(WSX_E_AGAIN));
  CHECK(!wsx_is_fatal(WSX_E_PROXY));
  CHECK(!wsx_is_fatal(-1049));
  CHECK(!wsx_is_fatal(-1059));
  CHECK(!wsx_is_fatal(-4095));
  CHECK(!wsx_is_fatal(-104)); /* ECONNRESET from libuv */
}

TEST(test_version) {
  CHECK_STR(wsx_version(0), WSX_VERSION_STR);
  CHECK_STR(wsx_version(WSX_VERSION_NUM), "0.1.0");
  CHECK_STR(wsx_version(0x000001), WSX_VERSION_STR);
  CHECK(wsx_version(WSX_VERSION_NUM + 1) == NULL);
  CHECK(wsx_version(0x010000) == NULL);
}

#define H(n, v)                                                                \
  { n, sizeof(n) - 1, v, sizeof(v) - 1 }

TEST(test_header_find) {
  static const wsx_header h[] = {
      H("Host", "example.com"),
      H("Upgrade", "websocket"),
      H("SEC-WEBSOCKET-KEY", "dGhlIHNhbXBsZSBub25jZQ=="),
      H("X-Dup", "first"),
      H("x-dup", "second"),
  };
  size_t len = 0;
  const char *v;
  v = wsx_header_find(h, 5, "host", &len);
  REQUIRE(v != NULL);
  CHECK_MEM(v, len, "example.com", 11);
  CHECK(v == h[0].value); /* aliases the input */
  v = wsx_header_find(h, 5, "Sec-WebSocket-Key", &len);
  REQUIRE(v != NULL);
  CHECK_INT(len, 24);
  v = wsx_header_find(h, 5, "X-DUP", &len);
  REQUIRE(v != NULL);
  CHECK_MEM(v, len, "first", 5);
  len = 77;
  CHECK(wsx_header_find(h, 5, "Hos", &len) == NULL);
  CHECK(wsx_header_find(h, 5, "Hostt", &len) == NULL);
  CHECK(wsx_header_find(h, 5, "Origin", &len) == NULL);
  CHECK_INT(len, 77); /* untouched when absent */
  CHECK(wsx_header_find(h, 1, "Upgrade", &len) == NULL); /* n respected */
  CHECK(wsx_header_find(NULL, 0, "Host", &len) == NULL);
  CHECK(wsx_header_find(h, 5, "upgrade", NULL) == h[1].value);
}

TEST(test_header_has_token) {
  static const wsx_header h[] = {
      H("Connection", "keep-alive, Upgrade"),
      H("Sec-WebSocket-Protocol", "chat"),
      H("sec-websocket-protocol", " superchat ,\t json\t"),
      H("X-Empty", ""),
      H("X-Commas", ",, ,a,,"),
      H("X-Words", "upgraded, up grade, xupgrade"),
  };
  CHECK(wsx_header_has_token(h, 6, "connection", "upgrade"));
  CHECK(wsx_header_has_token(h, 6, "CONNECTION", "Keep-Alive"));
  CHECK(!wsx_header_has_token(h, 6, "Connection", "close"));
  /* Every header with the name counts, not just the first. */
  CHECK(wsx_header_has_token(h, 6, "Sec-WebSocket-Protocol", "chat"));
  CHECK(wsx_header_has_token(h, 6, "Sec-WebSocket-Protocol", "superchat"));
  CHECK(wsx_header_has_token(h, 6, "Sec-WebSocket-Protocol", "JSON"));
  CHECK(!wsx_header_has_token(h, 2, "Sec-WebSocket-Protocol", "json"));
  CHECK(!wsx_header_has_token(h, 6, "Sec-WebSocket-Protocol", "super"));
  CHECK(!wsx_header_has_token(h, 6, "X-Empty", "x"));
  CHECK(!wsx_header_has_token(h, 6, "X-Empty", ""));
  CHECK(wsx_header_has_token(h, 6, "X-Commas", "a"));
  CHECK(!wsx_header_has_token(h, 6, "X-Commas", ""));
  /* Whole tokens only. */
  CHECK(!wsx_header_has_token(h, 6, "X-Words", "upgrade"));
  CHECK(!wsx_header_has_token(h, 6, "X-Words", "up"));
  CHECK(wsx_header_has_token(h, 6, "X-Words", "up grade"));
  CHECK(wsx_header_has_token(h, 6, "X-Words", "XUPGRADE"));
  CHECK(!wsx_header_has_token(h, 6, "Upgrade", "websocket"));
  CHECK(!wsx_header_has_token(NULL, 0, "Connection", "upgrade"));
}

TEST_MAIN(RUN(test_strerror); RUN(test_is_fatal); RUN(test_version);
          RUN(test_header_find); RUN(test_header_has_token))
