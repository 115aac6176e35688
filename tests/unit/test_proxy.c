/*
 * Unit tests of the sans-I/O CONNECT handshake (wsx/proxy.h): the request
 * bytes, and every response fed whole, one byte at a time and at random
 * splits, each split giving the same events.
 */
#include "wsx/proxy.h"

#include "test.h"

/* What one run observed. */
typedef struct run {
  char out[2048]; /* bytes written */
  size_t out_len;
  int writes;
  int connects, errors;
  int err_code;
  char msg[320];
  int rc; /* first non-OK parse/eof return (WSX_OK if none) */
  uint8_t body[256];
  size_t body_len;
  int status;
  char auth_hdr[128]; /* Proxy-Authenticate value, if any */
  int fail_write;
} run;

static int on_write(wsx_proxy *p, const wsx_iovec *iov, size_t n, void *ud) {
  run *r = ud;
  size_t i;
  (void)p;
  r->writes++;
  if (r->fail_write)
    return -1;
  for (i = 0; i < n; i++) {
    if (r->out_len + iov[i].len > sizeof(r->out))
      return -1;
    memcpy(r->out + r->out_len, iov[i].base, iov[i].len);
    r->out_len += iov[i].len;
  }
  return 0;
}

static void on_connect(wsx_proxy *p, void *ud) {
  run *r = ud;
  size_t len;
  const uint8_t *b = wsx_proxy_body(p, &len);
  r->connects++;
  r->status = wsx_proxy_status_code(p);
  if (len <= sizeof(r->body)) {
    if (len)
      memcpy(r->body, b, len);
    r->body_len = len;
  }
}

static void on_error(wsx_proxy *p, const wsx_error_event *e, void *ud) {
  run *r = ud;
  size_t n, vlen;
  const wsx_header *h = wsx_proxy_headers(p, &n);
  const char *v = wsx_header_find(h, n, "proxy-authenticate", &vlen);
  r->errors++;
  r->err_code = e->code;
  r->status = wsx_proxy_status_code(p);
  snprintf(r->msg, sizeof(r->msg), "%s", e->message);
  if (v && vlen < sizeof(r->auth_hdr)) {
    memcpy(r->auth_hdr, v, vlen);
    r->auth_hdr[vlen] = '\0';
  }
}

static const wsx_proxy_callbacks cbs = {sizeof(wsx_proxy_callbacks), on_write, on_connect, on_error};

/* Split modes. */
enum { WHOLE = 0, BYTES = 1, RANDOM = 2 };

/* Feeds `resp` to a started proxy split per `mode`; then EOF if `eof`. */
static void feed(const char *resp, size_t len, int mode, uint64_t seed, int eof,
                 run *r, const wsx_proxy_options *o) {
  wsx_proxy *p;
  size_t off = 0;
  int err = 0, rc;
  memset(r, 0, sizeof(*r));
  p = wsx_proxy_new("http://127.0.0.1:3128", "example.com", 443, o, &cbs, r,
                    &err);
  if (!p) {
    r->rc = err;
    return;
  }
  r->rc = wsx_proxy_start(p);
  while (r->rc == WSX_OK && off < len) {
    size_t n = len - off;
    if (mode == BYTES)
      n = 1;
    else if (mode == RANDOM)
      n = 1 + (size_t)(test_rand_(&seed) % (uint64_t)(n < 40 ? n : 40));
    rc = wsx_proxy_parse(p, (const uint8_t *)resp + off, n);
    off += n;
    if (rc != WSX_OK)
      r->rc = rc;
    if (wsx_proxy_state(p) == WSX_PROXY_CONNECTED)
      break; /* the rest belongs to the tunnel */
  }
  if (eof && r->rc == WSX_OK)
    r->rc = wsx_proxy_eof(p);
  if (r->connects && off < len) {
    /* Bytes after the chunk that completed the head go straight to the
     * tunnel: append them so every split sees the same stream. */
    size_t rest = len - off;
    if (r->body_len + rest <= sizeof(r->body)) {
      memcpy(r->body + r->body_len, resp + off, rest);
      r->body_len += rest;
    }
    CHECK_INT(wsx_proxy_parse(p, (const uint8_t *)"x", 1), WSX_E_STATE);
  }
  wsx_proxy_free(p);
}

/* Runs every split and checks that they agree with the whole run. */
static void feed_all(const char *resp, size_t len, int eof, run *whole,
                     const wsx_proxy_options *o) {
  run r;
  uint64_t seed;
  int mode;
  feed(resp, len, WHOLE, 1, eof, whole, o);
  for (mode = BYTES; mode <= RANDOM; mode++) {
    for (seed = 1; seed <= (mode == RANDOM ? 50u : 1u); seed++) {
      feed(resp, len, mode, seed * 0x9E3779B97F4A7C15ULL, eof, &r, o);
      CHECK_INT(r.connects, whole->connects);
      CHECK_INT(r.errors, whole->errors);
      CHECK_INT(r.err_code, whole->err_code);
      CHECK_INT(r.rc, whole->rc);
      CHECK_INT(r.status, whole->status);
      CHECK_STR(r.msg, whole->msg);
      CHECK_STR(r.auth_hdr, whole->auth_hdr);
      CHECK_MEM(r.body, r.body_len, whole->body, whole->body_len);
    }
  }
}

#define S(lit) lit, sizeof(lit) - 1

TEST(request_plain) {
  run r;
  wsx_proxy *p;
  int err = 1;
  memset(&r, 0, sizeof(r));
  p = wsx_proxy_new("http://proxy.example:3128/", "example.com", 443, NULL,
                    &cbs, &r, &err);
  REQUIRE(p);
  CHECK_INT(err, WSX_OK);
  CHECK_STR(wsx_proxy_host(p), "proxy.example");
  CHECK_INT(wsx_proxy_port(p), 3128);
  CHECK_INT(wsx_proxy_secure(p), 0);
  CHECK_STR(wsx_proxy_target(p), "example.com:443");
  CHECK_INT(wsx_proxy_state(p), WSX_PROXY_NEW);
  CHECK_INT(wsx_proxy_set_header(p, "User-Agent", "wsx-test"), WSX_OK);
  CHECK_INT(wsx_proxy_set_header(p, "X-Two", "2"), WSX_OK);
  CHECK_INT(wsx_proxy_start(p), WSX_OK);
  CHECK_INT(wsx_proxy_state(p), WSX_PROXY_SENT);
  CHECK_INT(r.writes, 1);
  r.out[r.out_len] = '\0';
  CHECK_STR(r.out, "CONNECT example.com:443 HTTP/1.1\r\n"
                   "Host: example.com:443\r\n"
                   "User-Agent: wsx-test\r\n"
                   "X-Two: 2\r\n\r\n");
  CHECK_INT(wsx_proxy_start(p), WSX_E_STATE);
  CHECK_INT(wsx_proxy_set_header(p, "X-Late", "1"), WSX_E_STATE);
  CHECK_INT(r.writes, 1);
  wsx_proxy_free(p);
}

TEST(request_basic_auth) {
  run r;
  wsx_proxy *p;
  memset(&r, 0, sizeof(r));
  /* "us@r" : "p:ss w" percent-encoded in the URL. */
  p = wsx_proxy_new("https://us%40r:p:ss%20w@proxy.example", "10.0.0.1", 80,
                    NULL, &cbs, &r, NULL);
  REQUIRE(p);
  CHECK_INT(wsx_proxy_port(p), 443);
  CHECK_INT(wsx_proxy_secure(p), 1);
  CHECK_INT(wsx_proxy_start(p), WSX_OK);
  r.out[r.out_len] = '\0';
  /* base64("us@r:p:ss w") */
  CHECK_STR(r.out, "CONNECT 10.0.0.1:80 HTTP/1.1\r\n"
                   "Host: 10.0.0.1:80\r\n"
                   "Proxy-Authorization: Basic dXNAcjpwOnNzIHc=\r\n\r\n");
  wsx_proxy_free(p);

  memset(&r, 0, sizeof(r));
  p = wsx_proxy_new("http://user@127.0.0.1:8080", "h", 1, NULL, &cbs, &r, NULL);
  REQUIRE(p);
  CHECK_INT(wsx_proxy_start(p), WSX_OK);
  r.out[r.out_len] = '\0';
  /* base64("user:") */
  CHECK(strstr(r.out, "Proxy-Authorization: Basic dXNlcjo=\r\n") != NULL);
  wsx_proxy_free(p);
}

TEST(request_ipv6_origin) {
  const char *hosts[] = {"::1", "[::1]"};
  size_t i;
  for (i = 0; i < 2; i++) {
    run r;
    wsx_proxy *p;
    memset(&r, 0, sizeof(r));
    p = wsx_proxy_new("http://[::1]:3128", hosts[i], 8443, NULL, &cbs, &r,
                      NULL);
    REQUIRE(p);
    CHECK_STR(wsx_proxy_host(p), "::1");
    CHECK_STR(wsx_proxy_target(p), "[::1]:8443");
    CHECK_INT(wsx_proxy_start(p), WSX_OK);
    r.out[r.out_len] = '\0';
    CHECK_STR(r.out, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    wsx_proxy_free(p);
  }
}

TEST(from_driver) {
  static const struct {
    const char *url, *target;
  } v[] = {{"ws://example.com/chat", "example.com:80"},
           {"wss://example.com/chat?x=1", "example.com:443"},
           {"ws://u:p@127.0.0.1:9000/", "127.0.0.1:9000"},
           {"wss://[2001:db8::1]:8443/", "[2001:db8::1]:8443"}};
  size_t i;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    int err = 1;
    wsx_driver *d = wsx_driver_new_client(v[i].url, NULL, NULL, NULL, &err);
    wsx_proxy *p;
    REQUIRE(d);
    p = wsx_driver_proxy(d, "http://proxy:8080", NULL, NULL, NULL, &err);
    REQUIRE(p);
    CHECK_INT(err, WSX_OK);
    CHECK_STR(wsx_proxy_target(p), v[i].target);
    wsx_proxy_free(p);
    wsx_driver_free(d);
  }
  {
    wsx_driver *srv = wsx_driver_new_server(NULL, NULL, NULL);
    int err = 0;
    REQUIRE(srv);
    CHECK(wsx_driver_proxy(srv, "http://proxy:8080", NULL, NULL, NULL, &err) ==
          NULL);
    CHECK_INT(err, WSX_E_INVALID);
    wsx_driver_free(srv);
  }
}

TEST(invalid_arguments) {
  static const struct {
    const char *url, *host;
    uint16_t port;
    int err;
  } v[] = {
      {"ws://proxy:1", "h", 1, WSX_E_URL}, /* not an HTTP proxy */
      {"wss://proxy:1", "h", 1, WSX_E_URL},
      {"proxy:3128", "h", 1, WSX_E_URL},
      {"http://", "h", 1, WSX_E_URL},
      {"http://a%3Ab:c@proxy", "h", 1, WSX_E_URL}, /* ':' in user-id */
      {"http://proxy", "", 1, WSX_E_INVALID},
      {"http://proxy", "h", 0, WSX_E_INVALID},
      {"http://proxy", "a b", 1, WSX_E_INVALID},
      {"http://proxy", "a\r\nX: y", 1, WSX_E_INVALID},
      {"http://proxy", "a/b", 1, WSX_E_INVALID},
      {"http://proxy", "a@b", 1, WSX_E_INVALID},
      {"http://proxy", "[::1", 1, WSX_E_INVALID},
      {"http://proxy", "[::g]", 1, WSX_E_INVALID},
  };
  size_t i;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    int err = 0;
    wsx_proxy *p =
        wsx_proxy_new(v[i].url, v[i].host, v[i].port, NULL, NULL, NULL, &err);
    if (p) {
      TEST_FAILF_("case %zu (%s, %s) accepted", i, v[i].url, v[i].host);
      wsx_proxy_free(p);
    }
    CHECK_INT(err, v[i].err);
  }
  {
    int err = 0;
    CHECK(wsx_proxy_new(NULL, "h", 1, NULL, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_INVALID);
    CHECK(wsx_proxy_new("http://p", NULL, 1, NULL, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_INVALID);
  }
}

TEST(set_header_rules) {
  wsx_proxy *p = wsx_proxy_new("http://p", "h", 1, NULL, NULL, NULL, NULL);
  REQUIRE(p);
  CHECK_INT(wsx_proxy_set_header(p, "X", "a\r\nEvil: 1"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_proxy_set_header(p, "X", "a\nb"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_proxy_set_header(p, "X\r\n", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_proxy_set_header(p, "Bad Name", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_proxy_set_header(p, "", "v"), WSX_E_HEADER_VALUE);
  CHECK_INT(wsx_proxy_set_header(p, NULL, "v"), WSX_E_INVALID);
  CHECK_INT(wsx_proxy_set_header(p, "X-Empty", ""), WSX_OK);
  /* No write callback: start refuses and stays startable. */
  CHECK_INT(wsx_proxy_start(p), WSX_E_INVALID);
  CHECK_INT(wsx_proxy_state(p), WSX_PROXY_NEW);
  /* Parse before start. */
  CHECK_INT(wsx_proxy_parse(p, (const uint8_t *)"HTTP", 4), WSX_E_STATE);
  wsx_proxy_free(p);
}

TEST(write_failure) {
  run r;
  wsx_proxy *p;
  memset(&r, 0, sizeof(r));
  r.fail_write = 1;
  p = wsx_proxy_new("http://p", "h", 1, NULL, &cbs, &r, NULL);
  REQUIRE(p);
  CHECK_INT(wsx_proxy_start(p), WSX_E_IO);
  CHECK_INT(r.errors, 0); /* a failing call never fires its event */
  CHECK_INT(wsx_proxy_state(p), WSX_PROXY_FAILED);
  CHECK_INT(wsx_proxy_parse(p, (const uint8_t *)"x", 1), WSX_E_IO);
  wsx_proxy_free(p);
}

TEST(response_200) {
  run r;
  feed_all(S("HTTP/1.1 200 Connection established\r\n\r\n"), 0, &r, NULL);
  CHECK_INT(r.connects, 1);
  CHECK_INT(r.errors, 0);
  CHECK_INT(r.rc, WSX_OK);
  CHECK_INT(r.status, 200);
  CHECK_INT(r.body_len, 0);
}

TEST(response_200_tinyproxy_style) {
  run r;
  /* tinyproxy answers HTTP/1.0 with a Proxy-agent header. */
  feed_all(S("HTTP/1.0 200 Connection established\r\n"
             "Proxy-agent: tinyproxy/1.11.1\r\n\r\n"),
           1, &r, NULL);
  CHECK_INT(r.connects, 1);
  CHECK_INT(r.errors, 0);
  CHECK_INT(r.rc, WSX_OK); /* EOF after connect is the tunnel's business */
}

TEST(response_2xx_with_tunnel_bytes) {
  run r;
  feed_all(S("HTTP/1.1 204 OK\r\nX: y\r\n\r\n\x16\x03\x01HTTP/1.1 101"), 0, &r,
           NULL);
  CHECK_INT(r.connects, 1);
  CHECK_INT(r.status, 204);
  CHECK_MEM(r.body, r.body_len, "\x16\x03\x01HTTP/1.1 101", 15);
}

TEST(response_407) {
  run r;
  feed_all(S("HTTP/1.1 407 Proxy Authentication Required\r\n"
             "Proxy-Authenticate: Basic realm=\"tinyproxy\"\r\n"
             "Content-Length: 5\r\n\r\nnope!"),
           0, &r, NULL);
  CHECK_INT(r.connects, 0);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_PROXY);
  CHECK_INT(r.rc, WSX_E_PROXY);
  CHECK_INT(r.status, 407);
  CHECK_STR(r.msg, "proxy refused CONNECT to example.com:443: 407 Proxy "
                   "Authentication Required");
  CHECK_STR(r.auth_hdr, "Basic realm=\"tinyproxy\"");
}

TEST(response_403) {
  run r;
  feed_all(S("HTTP/1.0 403 Access violation\r\n\r\n"), 1, &r, NULL);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_PROXY);
  CHECK_INT(r.rc, WSX_E_PROXY); /* sticky: EOF afterwards changes nothing */
  CHECK_INT(r.status, 403);
  CHECK_STR(r.msg, "proxy refused CONNECT to example.com:443: 403 Access "
                   "violation");
}

TEST(response_other_statuses) {
  static const char *v[] = {"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                            "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n",
                            "HTTP/1.1 502 \r\n\r\n"};
  static const int st[] = {101, 301, 502};
  size_t i;
  for (i = 0; i < 3; i++) {
    run r;
    feed_all(v[i], strlen(v[i]), 0, &r, NULL);
    CHECK_INT(r.connects, 0);
    CHECK_INT(r.errors, 1);
    CHECK_INT(r.status, st[i]);
    CHECK_INT(r.err_code, WSX_E_PROXY);
  }
  {
    run r;
    feed_all(S("HTTP/1.1 502 \r\n\r\n"), 0, &r, NULL);
    CHECK_STR(r.msg, "proxy refused CONNECT to example.com:443: 502");
  }
}

TEST(response_garbage) {
  static const char *v[] = {
      "SSH-2.0-OpenSSH_9.2\r\n\r\n",
      "HTTP/1.1 200 OK\nbare: lf\n\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
      "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\r\n\r\n", /* TLS */
  };
  size_t i;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    run r;
    feed_all(v[i], strlen(v[i]), 1, &r, NULL);
    CHECK_INT(r.connects, 0);
    CHECK_INT(r.errors, 1);
    if (r.err_code != WSX_E_HTTP)
      TEST_FAILF_("case %zu: %s", i, r.msg);
    CHECK_INT(r.rc, WSX_E_HTTP);
    CHECK(strncmp(r.msg,
                  "malformed response from proxy 127.0.0.1:3128: ", 46) == 0);
  }
  {
    run r; /* NUL inside the head */
    feed_all(S("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"), 1, &r, NULL);
    CHECK_INT(r.connects, 0);
    CHECK_INT(r.err_code, WSX_E_HTTP);
  }
}

TEST(response_oversized_head) {
  static char big[8192];
  wsx_proxy_options o = WSX_PROXY_OPTIONS_INIT;
  run r;
  size_t n;
  o = (wsx_proxy_options)WSX_PROXY_OPTIONS_INIT;
  o.max_head_size = 1024;
  n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Pad: ");
  memset(big + n, 'a', 2000);
  n += 2000;
  memcpy(big + n, "\r\n\r\n", 4);
  n += 4;
  feed_all(big, n, 0, &r, &o);
  CHECK_INT(r.connects, 0);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_HEAD_TOO_BIG);
  CHECK_STR(r.msg, "proxy response head for CONNECT to example.com:443 "
                   "exceeds 1024 bytes or 64 headers");
  /* Too many headers. */
  o.max_head_size = 0;
  o.max_headers = 2;
  feed_all(S("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 0, &r, &o);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_HEAD_TOO_BIG);
  /* The same head passes with room for its headers. */
  o.max_headers = 3;
  feed_all(S("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 0, &r, &o);
  CHECK_INT(r.connects, 1);
}

TEST(early_eof) {
  run r;
  feed_all(S("HTTP/1.1 200 Connection est"), 1, &r, NULL);
  CHECK_INT(r.connects, 0);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_CLOSED);
  CHECK_INT(r.rc, WSX_E_CLOSED);
  CHECK_STR(r.msg, "proxy closed the connection before answering CONNECT to "
                   "example.com:443");
  /* Nothing at all before EOF. */
  feed_all("", 0, 1, &r, NULL);
  CHECK_INT(r.errors, 1);
  CHECK_INT(r.err_code, WSX_E_CLOSED);
  CHECK_INT(r.status, 0);
}

TEST(sticky_error_fires_once) {
  run r;
  wsx_proxy *p;
  const char *msg = NULL;
  memset(&r, 0, sizeof(r));
  p = wsx_proxy_new("http://p", "h", 1, NULL, &cbs, &r, NULL);
  REQUIRE(p);
  CHECK_INT(wsx_proxy_start(p), WSX_OK);
  CHECK_INT(wsx_proxy_parse(p, (const uint8_t *)S("HTTP/1.1 403 No\r\n\r\n")),
            WSX_E_PROXY);
  CHECK_INT(wsx_proxy_parse(p, (const uint8_t *)"x", 1), WSX_E_PROXY);
  CHECK_INT(wsx_proxy_eof(p), WSX_E_PROXY);
  CHECK_INT(r.errors, 1);
  CHECK_INT(wsx_proxy_last_error(p, &msg), WSX_E_PROXY);
  CHECK_STR(msg, "proxy refused CONNECT to h:1: 403 No");
  CHECK_INT(wsx_proxy_state(p), WSX_PROXY_FAILED);
  wsx_proxy_free(p);
}

/* failmalloc: fail the 1st, 2nd, ... allocation of a full handshake. */
typedef struct fm {
  int n, fail_at;
} fm;
static void *fm_malloc(size_t n, void *ud) {
  fm *f = ud;
  if (++f->n == f->fail_at)
    return NULL;
  return malloc(n);
}
static void *fm_realloc(void *p, size_t n, void *ud) {
  fm *f = ud;
  if (++f->n == f->fail_at)
    return NULL;
  return realloc(p, n);
}
static void fm_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

TEST(failmalloc) {
  int at, completed = 0;
  for (at = 1; at < 64 && !completed; at++) {
    fm f = {0, at};
    wsx_allocator a = {fm_malloc, fm_realloc, fm_free, &f};
    wsx_proxy_options o = WSX_PROXY_OPTIONS_INIT;
    run r;
    wsx_proxy *p;
    int err = 0, rc;
    o = (wsx_proxy_options)WSX_PROXY_OPTIONS_INIT;
    memset(&r, 0, sizeof(r));
    o.allocator = &a;
    p = wsx_proxy_new("http://u:p@proxy:1", "h", 2, &o, &cbs, &r, &err);
    if (!p) {
      CHECK_INT(err, WSX_E_NOMEM);
      continue;
    }
    rc = wsx_proxy_set_header(p, "X", "y");
    if (rc == WSX_OK)
      rc = wsx_proxy_start(p);
    if (rc == WSX_OK)
      rc = wsx_proxy_parse(p, (const uint8_t *)S("HTTP/1.1 200 OK\r\n\r\n"));
    if (rc == WSX_OK) {
      CHECK_INT(r.connects, 1);
      completed = 1;
    } else {
      CHECK_INT(rc, WSX_E_NOMEM);
      CHECK_INT(r.connects, 0);
    }
    wsx_proxy_free(p);
  }
  CHECK(completed);
}

TEST_MAIN(RUN(request_plain); RUN(request_basic_auth); RUN(request_ipv6_origin);
          RUN(from_driver); RUN(invalid_arguments); RUN(set_header_rules);
          RUN(write_failure); RUN(response_200);
          RUN(response_200_tinyproxy_style);
          RUN(response_2xx_with_tunnel_bytes); RUN(response_407);
          RUN(response_403); RUN(response_other_statuses);
          RUN(response_garbage); RUN(response_oversized_head); RUN(early_eof);
          RUN(sticky_error_fires_once); RUN(failmalloc))
