/*
 * Client connections through HTTP CONNECT proxies (wsx_socket_options.proxy):
 * a real tinyproxy started by the test (with and without Basic auth, wrong
 * password, a port the proxy refuses, wss:// with TLS to the origin inside
 * the tunnel), fake proxies on the test's own loop
 * (garbage, closing, silent, a recording 407, a hand-made tunnel), https://
 * proxies (a small TLS-terminating CONNECT proxy in Python started by the
 * test: ws:// and wss:// — TLS inside TLS — through it, its certificate
 * from an unknown CA or for another name, Basic auth inside TLS), the
 * http_proxy / https_proxy / no_proxy environment, and option validation.
 *
 * tinyproxy comes from Debian (`scripts/install-deps.sh`); WSX_TINYPROXY
 * overrides its path. Without it the tinyproxy tests FAIL with
 * "tinyproxy not installed".
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers/script_dir.h"
#include "test_uv_util.h"

#include "tinyproxy.h"

#define REQUIRE_TP(t, port, auth)                                              \
  do {                                                                         \
    const char *why_ = tp_start((t), (port), (auth));                          \
    if (why_) {                                                                \
      TEST_FAILF_("%s", why_);                                                 \
      if (T.srv)                                                               \
        wsx_server_free(T.srv);                                                \
      run_for(1000);                                                           \
      (void)ev_finish();                                                       \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* ---- client side ---- */

static char proxy_auth_hdr[256];

/* Also copies Proxy-Authenticate: the headers are readable only here. */
static void on_failed_px(wsx_socket *s, const wsx_connect_failure *f,
                         void *ud) {
  size_t n, vlen;
  const wsx_header *h = wsx_socket_headers(s, &n);
  const char *v = wsx_header_find(h, n, "proxy-authenticate", &vlen);
  if (!v)
    v = wsx_header_find(h, n, "www-authenticate", &vlen);
  on_failed(s, f, ud);
  CHECK_INT(wsx_socket_status_code(s), f->status_code);
  proxy_auth_hdr[0] = '\0';
  if (v && vlen < sizeof(proxy_auth_hdr)) {
    memcpy(proxy_auth_hdr, v, vlen);
    proxy_auth_hdr[vlen] = '\0';
  }
}

static const wsx_socket_callbacks px_cbs = {sizeof(wsx_socket_callbacks), on_open,  on_message, NULL,
                                            on_ping,  on_pong,    on_error,
                                            on_close, on_drain,   on_failed_px};

static wsx_socket *connect_via(const char *proxy_url, int port,
                               wsx_socket_options *o, wsx_socket_proxy *px) {
  char url[128];
  int err;
  px->origin = proxy_url;
  o->proxy = px;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/chat", port);
  T.c.sock = wsx_socket_connect(&T.loop, url, o, &px_cbs, &T.c, &err);
  return T.c.sock;
}

/* Open, echo one message, close cleanly. */
static void echo_round_trip(void) {
  RUN_UNTIL(T.c.open || T.c.close, 5000);
  CHECK_INT(T.c.failed, 0);
  REQUIRE(T.c.open == 1);
  CHECK_INT(wsx_socket_send_text(T.c.sock, "through the proxy", 17), WSX_OK);
  RUN_UNTIL(T.c.message || T.c.close, 5000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "through the proxy", 17);
  CHECK_INT(wsx_socket_close(T.c.sock, 1000, "bye"), WSX_OK);
  RUN_UNTIL(T.c.close, 5000);
  CHECK_INT(T.c.close_code, 1000);
  CHECK_INT(T.c.close_clean, 1);
}

/* The client failed to connect: exactly one connect_failed, then close
 * 1006, nothing opened. */
static void expect_failure(int code, int status) {
  RUN_UNTIL(T.c.close, 5000);
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, code);
  CHECK_INT(T.c.fail_status, status);
  CHECK_INT(T.c.close, 1);
  CHECK_INT(T.c.close_code, 1006);
}

TEST(tinyproxy_plain) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  tproxy tp;
  char purl[64], needle[64];
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE_TP(&tp, T.port, NULL);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", tp.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
  echo_round_trip();
  snprintf(needle, sizeof(needle), "CONNECT 127.0.0.1:%d", T.port);
  CHECK(tp_log_has(&tp, needle)); /* it really went through the proxy */
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

TEST(tinyproxy_basic_auth) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  wsx_header h = {"User-Agent", 10, "wsx-test", 8};
  tproxy tp;
  char purl[80];
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE_TP(&tp, T.port, "wsxuser s3cret");
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  px.headers = &h;
  px.num_headers = 1;
  /* Percent-encoded in the URL, decoded for the credentials. */
  snprintf(purl, sizeof(purl), "http://wsxuser:s3cr%%65t@127.0.0.1:%d",
           tp.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
  echo_round_trip();
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

/* tinyproxy 1.11 answers missing credentials with 407 and
 * Proxy-Authenticate, but wrong ones with 401 and WWW-Authenticate: either
 * way the client reports WSX_E_PROXY with the status and headers. */
TEST(tinyproxy_wrong_password) {
  static const char *userinfo[] = {"wsxuser:wrong@", ""};
  static const int status[] = {401, 407};
  static const char *reason[] = {"401 Unauthorized",
                                 "407 Proxy Authentication Required"};
  size_t i;
  for (i = 0; i < 2; i++) {
    wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
    wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
    tproxy tp;
    char purl[80];
    ev_reset();
    REQUIRE(start_server(NULL, NULL, NULL) == 0);
    REQUIRE_TP(&tp, T.port, "wsxuser right");
    o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
    px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
    snprintf(purl, sizeof(purl), "http://%s127.0.0.1:%d", userinfo[i], tp.port);
    REQUIRE(connect_via(purl, T.port, &o, &px));
    expect_failure(WSX_E_PROXY, status[i]);
    CHECK(strstr(T.c.fail_msg, reason[i]) != NULL);
    CHECK_STR(proxy_auth_hdr, "Basic realm=\"Tinyproxy\"");
    CHECK_INT(T.s.open, 0);
    tp_stop(&tp);
    SHUTDOWN_AND_CHECK();
  }
}

TEST(tinyproxy_forbidden_port) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  tproxy tp;
  char purl[64];
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE_TP(&tp, T.port == 65535 ? 1 : T.port + 1, NULL);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", tp.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
  expect_failure(WSX_E_PROXY, 403);
  CHECK(strstr(T.c.fail_msg, "403") != NULL);
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

/* ---- wss through tinyproxy: TLS to the origin inside the tunnel ---- */

static char cert_dir[64];

/* The origin's certificate: self-signed for localhost / 127.0.0.1 (its own
 * CA, cert.pem). The https:// proxy's: CN=wsx-test-proxy for the same
 * names, signed by a test CA (ca.pem), so that the origin's and the
 * proxy's sessions can be told apart by their peer's subject. */
static const char cert_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $K -keyout key.pem -out cert.pem -days 2 "
    "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 "
    "-subj '/CN=wsx proxy test CA'\n"
    "openssl req -new $K -keyout proxy.key -out proxy.csr "
    "-subj /CN=wsx-test-proxy\n"
    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > proxy.ext\n"
    "openssl x509 -req -in proxy.csr -CA ca.pem -CAkey ca.key "
    "-CAcreateserial -days 2 -extfile proxy.ext -out proxy.pem\n";

static const char *make_cert(void) {
  if (cert_dir[0])
    return NULL;
  if (tc_script_dir("wsx-proxy-tls", cert_script, cert_dir, sizeof(cert_dir)) !=
      0)
    return "openssl could not make the certificates";
  return NULL;
}

static void rm_cert(void) { tc_rm_dir(cert_dir); }

/* A TLS echo server, tinyproxy, and a wss:// client through it;
 * `server_name` overrides the verified name. */
static void wss_via_tinyproxy(tproxy *tp, const char *server_name) {
  wsx_server_options so = WSX_SERVER_OPTIONS_INIT;
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_client_options co = WSX_TLS_CLIENT_OPTIONS_INIT;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char cert[96], key[96], ca[96], purl[64], url[64];
  const char *why = make_cert();
  int err;
  if (why) {
    TEST_FAILF_("%s", why);
    return;
  }
  snprintf(cert, sizeof(cert), "%s/cert.pem", cert_dir);
  snprintf(key, sizeof(key), "%s/key.pem", cert_dir);
  snprintf(ca, sizeof(ca), "%s/cert.pem", cert_dir);
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  so.auto_accept = 1;
  so.tls = &to;
  (void)cert_slot(&to.cert);
  CERT_MUT(to.cert)->cert_file = cert;
  CERT_MUT(to.cert)->key_file = key;
  REQUIRE(start_server(NULL, &so, NULL) == 0);
  REQUIRE_TP(tp, T.port, NULL);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  co = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  co.ca_file = ca;
  co.server_name = server_name;
  o.tls = &co;
  o.proxy = &px;
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", tp->port);
  px.origin = purl;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d/secure", T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, &o, &px_cbs, &T.c, &err);
  CHECK_INT(err, WSX_OK);
}

TEST(tinyproxy_wss) {
  tproxy tp;
  char needle[64];
  ev_reset();
  T.echo = 1;
  memset(&tp, 0, sizeof(tp));
  wss_via_tinyproxy(&tp, NULL);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.open || T.c.close, 5000);
  if (T.c.failed)
    TEST_FAILF_("connect failed: %s", T.c.fail_msg);
  REQUIRE(T.c.open == 1);
  CHECK(wsx_socket_tls_version(T.c.sock) != NULL);
  echo_round_trip();
  snprintf(needle, sizeof(needle), "CONNECT 127.0.0.1:%d", T.port);
  CHECK(tp_log_has(&tp, needle));
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

/* The certificate is verified against the origin's name, not the
 * proxy's, inside the tunnel. */
TEST(tinyproxy_wss_wrong_name) {
  tproxy tp;
  ev_reset();
  memset(&tp, 0, sizeof(tp));
  wss_via_tinyproxy(&tp, "wrong.example");
  REQUIRE(T.c.sock);
  expect_failure(WSX_E_TLS, 0);
  CHECK(strstr(T.c.fail_msg, "hostname mismatch") != NULL);
  CHECK_INT(T.s.open, 0);
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

/* ---- fake proxies on the test loop ---- */

enum { F_GARBAGE, F_CLOSE, F_SILENT, F_407, F_TUNNEL, F_PLAIN };

static struct {
  uv_tcp_t lsn, conn;
  uv_write_t wr[2];
  int mode, port, stage, have_conn;
  char in[4096];
  size_t in_len;
  char request[1024]; /* the CONNECT head as received */
  char out[512];
} F;

static void f_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)h, (void)sz;
  b->base = F.in + F.in_len;
  b->len = sizeof(F.in) - 1 - F.in_len;
}

static void f_send(int i, const char *data, size_t len) {
  uv_buf_t b;
  if (len > 256)
    return;
  memcpy(F.out + (i ? 256 : 0), data, len);
  b = uv_buf_init(F.out + (i ? 256 : 0), (unsigned)len);
  uv_write(&F.wr[i], (uv_stream_t *)&F.conn, &b, 1, NULL);
}

static void f_send_str(const char *s) { f_send(0, s, strlen(s)); }

static void f_close_conn(void) {
  if (F.have_conn && !uv_is_closing((uv_handle_t *)&F.conn))
    uv_close((uv_handle_t *)&F.conn, NULL);
}

/* After the 200: a minimal WebSocket server inside the "tunnel". */
static void f_tunnel_head(const char *head) {
  static const char frame[] = "\x81\x02hi";
  const char *k = strstr(head, "Sec-WebSocket-Key: ");
  char accept[29], resp[256];
  int n;
  if (!k)
    return;
  k += 19;
  wsx_accept_key(k, strcspn(k, "\r"), accept);
  n = snprintf(resp, sizeof(resp),
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n%s",
               accept, frame);
  f_send(1, resp, (size_t)n); /* 101 and the first frame in one write */
}

static void f_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  char *end;
  (void)b;
  if (n < 0) {
    f_close_conn();
    return;
  }
  F.in_len += (size_t)n;
  F.in[F.in_len] = '\0';
  if (F.mode == F_PLAIN && F.stage == 0) { /* whatever arrived: plain 400 */
    F.stage = 1;
    f_send_str("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  if (!(end = strstr(F.in, "\r\n\r\n")))
    return;
  end += 4;
  if (F.stage == 1) {
    f_tunnel_head(F.in);
    F.stage = 2;
    return;
  }
  if (F.stage != 0)
    return;
  F.stage = 1;
  snprintf(F.request, sizeof(F.request), "%.*s", (int)(end - F.in), F.in);
  F.in_len = 0;
  switch (F.mode) {
  case F_GARBAGE:
    f_send_str("xyzzy nonsense\r\n\r\n");
    break;
  case F_CLOSE:
    f_close_conn();
    break;
  case F_407:
    f_send_str("HTTP/1.1 407 Proxy Authentication Required\r\n"
               "Proxy-Authenticate: Basic realm=\"fake\"\r\n"
               "Content-Length: 0\r\n\r\n");
    break;
  case F_TUNNEL:
    f_send_str("HTTP/1.1 200 Connection established\r\n\r\n");
    break;
  default:
    break;
  }
  (void)st;
}

static void f_on_conn(uv_stream_t *l, int status) {
  if (status < 0 || F.have_conn)
    return;
  uv_tcp_init(&T.loop, &F.conn);
  F.have_conn = 1;
  if (uv_accept(l, (uv_stream_t *)&F.conn) == 0)
    uv_read_start((uv_stream_t *)&F.conn, f_alloc, f_read);
}

static int fake_start(int mode) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  memset(&F, 0, sizeof(F));
  F.mode = mode;
  uv_tcp_init(&T.loop, &F.lsn);
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_tcp_bind(&F.lsn, (const struct sockaddr *)&a, 0) ||
      uv_listen((uv_stream_t *)&F.lsn, 8, f_on_conn) ||
      uv_tcp_getsockname(&F.lsn, (struct sockaddr *)&ss, &len))
    return -1;
  F.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

static void fake_stop(void) {
  f_close_conn();
  uv_close((uv_handle_t *)&F.lsn, NULL);
}

static void run_fake(int mode, uint32_t connect_timeout) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char purl[64];
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(fake_start(mode) == 0);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  o.connect_timeout = connect_timeout;
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", F.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
}

TEST(fake_proxy_garbage) {
  run_fake(F_GARBAGE, 0);
  expect_failure(WSX_E_HTTP, 0);
  CHECK(strstr(T.c.fail_msg, "malformed response from proxy") != NULL);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

TEST(fake_proxy_closes) {
  run_fake(F_CLOSE, 0);
  expect_failure(WSX_E_CLOSED, 0);
  CHECK(strstr(T.c.fail_msg, "proxy closed the connection") != NULL);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

TEST(fake_proxy_silent_times_out) {
  run_fake(F_SILENT, 300);
  expect_failure(WSX_E_TIMEOUT, 0);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

TEST(fake_proxy_request_and_407) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  wsx_header h[2] = {{"User-Agent", 10, "wsx-test", 8},
                     {"X-Trace", 7, "42", 2}};
  char purl[80], want[256];
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(fake_start(F_407) == 0);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  px.headers = h;
  px.num_headers = 2;
  snprintf(purl, sizeof(purl), "http://al%%69ce:pw@127.0.0.1:%d", F.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
  expect_failure(WSX_E_PROXY, 407);
  CHECK_STR(proxy_auth_hdr, "Basic realm=\"fake\"");
  /* base64("alice:pw") */
  snprintf(want, sizeof(want),
           "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Proxy-Authorization: Basic YWxpY2U6cHc=\r\n"
           "User-Agent: wsx-test\r\nX-Trace: 42\r\n\r\n",
           T.port, T.port);
  CHECK_STR(F.request, want);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

TEST(fake_proxy_tunnel) {
  char want[64];
  run_fake(F_TUNNEL, 0);
  RUN_UNTIL(T.c.message || T.c.close, 5000);
  CHECK_INT(T.c.open, 1);
  CHECK_INT(T.c.failed, 0);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hi", 2);
  CHECK_INT(wsx_socket_status_code(T.c.sock), 101);
  snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n", T.port);
  CHECK(strncmp(F.request, want, strlen(want)) == 0);
  CHECK(strstr(F.request, "Proxy-Authorization") == NULL);
  if (T.c.sock)
    wsx_socket_drop(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close, 5000);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

/* ---- the environment ---- */

static void env_clear(void) {
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("https_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
}

/* Connects with use_env; returns after open or close. */
static void env_connect(void) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  px.use_env = 1;
  REQUIRE(connect_via(NULL, T.port, &o, &px));
  RUN_UNTIL(T.c.open || T.c.close, 5000);
}

TEST(env_http_proxy) {
  tproxy tp;
  char v[64], needle[64];
  ev_reset();
  T.echo = 1;
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE_TP(&tp, T.port, NULL);
  env_clear();
  snprintf(v, sizeof(v), "127.0.0.1:%d", tp.port); /* no scheme: http */
  setenv("http_proxy", v, 1);
  setenv("no_proxy", "example.com,.internal", 1);
  env_connect();
  echo_round_trip();
  snprintf(needle, sizeof(needle), "CONNECT 127.0.0.1:%d", T.port);
  CHECK(tp_log_has(&tp, needle));
  env_clear();
  tp_stop(&tp);
  SHUTDOWN_AND_CHECK();
}

TEST(env_no_proxy_and_case) {
  /* A proxy that refuses connections: going through it fails, going
   * direct opens. */
  static const struct {
    const char *var, *no_proxy;
    int with_port, direct;
  } v[] = {
      {"http_proxy", "localhost,127.0.0.1", 0, 1},
      {"http_proxy", "*", 0, 1},
      {"http_proxy", " example.com , 127.0.0.1:", 1, 1}, /* + our port */
      {"http_proxy", "127.0.0.1:1", 0, 0},
      {"http_proxy", "0.0.1,.0.1", 0, 0}, /* addresses have no subdomains */
      {"http_proxy", "", 0, 0},
      {"HTTP_PROXY", "", 0, 1},  /* ignored for ws:// (httpoxy) */
      {"https_proxy", "", 0, 1}, /* only for wss:// */
  };
  size_t i;
  int dead = free_port();
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char pv[64], np[128];
    ev_reset();
    REQUIRE(start_server(NULL, NULL, NULL) == 0);
    env_clear();
    snprintf(pv, sizeof(pv), "http://127.0.0.1:%d", dead);
    setenv(v[i].var, pv, 1);
    if (v[i].with_port)
      snprintf(np, sizeof(np), "%s%d", v[i].no_proxy, T.port);
    else
      snprintf(np, sizeof(np), "%s", v[i].no_proxy);
    setenv("no_proxy", np, 1);
    env_connect();
    if (v[i].direct) {
      if (T.c.open != 1)
        TEST_FAILF_("case %zu: not direct (%s)", i, T.c.fail_msg);
      if (T.c.sock)
        wsx_socket_drop(T.c.sock, 0, NULL);
      RUN_UNTIL(T.c.close, 5000);
    } else {
      RUN_UNTIL(T.c.close, 5000);
      if (T.c.failed != 1 || T.c.fail_code != WSX_E_IO)
        TEST_FAILF_("case %zu: went direct", i);
    }
    env_clear();
    SHUTDOWN_AND_CHECK();
  }
}

/* ---- https:// proxies ---- */

/* A TLS-terminating CONNECT proxy (tinyproxy has no TLS): argv is cert,
 * key, "user:password" or "-", the log (request heads, TLS failures) and
 * the file its port is written to once it listens. One thread per
 * connection; the tunnel relays bytes both ways until either side ends. */
static const char tls_proxy_py[] =
    "import base64, os, select, socket, ssl, sys, threading\n"
    "cert, key, auth, log, portfile = sys.argv[1:6]\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(cert, key)\n"
    "want = None if auth == '-' else "
    "'Basic ' + base64.b64encode(auth.encode()).decode()\n"
    "lock = threading.Lock()\n"
    "def note(text):\n"
    "    with lock, open(log, 'a') as f:\n"
    "        f.write(text + '\\n')\n"
    "def relay(t, u):\n"
    "    while True:\n"
    "        ready = [t] if t.pending() else "
    "select.select([t, u], [], [], 30)[0]\n"
    "        if not ready:\n"
    "            return\n"
    "        for s in ready:\n"
    "            d = s.recv(65536)\n"
    "            if not d:\n"
    "                return\n"
    "            (u if s is t else t).sendall(d)\n"
    "def handle(c):\n"
    "    try:\n"
    "        t = ctx.wrap_socket(c, server_side=True)\n"
    "    except Exception as e:\n"
    "        note('TLS failed: %s' % e)\n"
    "        c.close()\n"
    "        return\n"
    "    buf = b''\n"
    "    while b'\\r\\n\\r\\n' not in buf:\n"
    "        d = t.recv(4096)\n"
    "        if not d:\n"
    "            t.close()\n"
    "            return\n"
    "        buf += d\n"
    "    head, rest = buf.split(b'\\r\\n\\r\\n', 1)\n"
    "    head = head.decode('latin-1')\n"
    "    note(head + '\\n')\n"
    "    lines = head.split('\\r\\n')\n"
    "    hdr = {}\n"
    "    for l in lines[1:]:\n"
    "        k, _, v = l.partition(':')\n"
    "        hdr[k.strip().lower()] = v.strip()\n"
    "    if want and hdr.get('proxy-authorization') != want:\n"
    "        t.sendall(b'HTTP/1.1 407 Proxy Authentication Required\\r\\n'\n"
    "                  b'Proxy-Authenticate: Basic realm=\"tls-proxy\"\\r\\n'\n"
    "                  b'Content-Length: 0\\r\\n\\r\\n')\n"
    "        t.close()\n"
    "        return\n"
    "    host, _, port = lines[0].split(' ')[1].rpartition(':')\n"
    "    u = socket.create_connection((host.strip('[]'), int(port)))\n"
    "    t.sendall(b'HTTP/1.1 200 Connection established\\r\\n\\r\\n')\n"
    "    if rest:\n"
    "        u.sendall(rest)\n"
    "    try:\n"
    "        relay(t, u)\n"
    "    except Exception as e:\n"
    "        note('relay: %s' % e)\n"
    "    t.close()\n"
    "    u.close()\n"
    "ls = socket.socket()\n"
    "ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "ls.bind(('127.0.0.1', 0))\n"
    "ls.listen(16)\n"
    "with open(portfile + '.tmp', 'w') as f:\n"
    "    f.write(str(ls.getsockname()[1]))\n"
    "os.rename(portfile + '.tmp', portfile)\n"
    "while True:\n"
    "    c, _ = ls.accept()\n"
    "    threading.Thread(target=handle, args=(c,), daemon=True).start()\n";

typedef struct sproxy {
  pid_t pid;
  int port;
  char log[96], portfile[96], err[96];
} sproxy;

static const char *python_path(void) {
  const char *p = getenv("WSX_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

static void sp_stop(sproxy *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
  }
  if (p->portfile[0]) {
    unlink(p->log);
    unlink(p->portfile);
    unlink(p->err);
    p->portfile[0] = '\0';
  }
}

/* Starts the TLS proxy (certificates from make_cert) on an ephemeral
 * loopback port; `auth` is "user:password" or NULL. Returns NULL on success
 * or a reason. */
static const char *sp_start(sproxy *p, const char *auth) {
  posix_spawn_file_actions_t fa;
  char cert[96], key[96];
  char *argv[9];
  const char *why = make_cert();
  int i;
  memset(p, 0, sizeof(*p));
  if (why)
    return why;
  if (access(python_path(), X_OK) != 0)
    return "python3 not installed";
  snprintf(cert, sizeof(cert), "%s/proxy.pem", cert_dir);
  snprintf(key, sizeof(key), "%s/proxy.key", cert_dir);
  snprintf(p->log, sizeof(p->log), "%s/sp.log", cert_dir);
  snprintf(p->portfile, sizeof(p->portfile), "%s/sp.port", cert_dir);
  snprintf(p->err, sizeof(p->err), "%s/sp.err", cert_dir);
  unlink(p->log);
  unlink(p->portfile);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, p->err, O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  argv[0] = (char *)python_path();
  argv[1] = (char *)"-c";
  argv[2] = (char *)tls_proxy_py;
  argv[3] = cert;
  argv[4] = key;
  argv[5] = (char *)(auth ? auth : "-");
  argv[6] = p->log;
  argv[7] = p->portfile;
  argv[8] = NULL;
  i = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (i != 0) {
    p->pid = 0;
    return "posix_spawn(python3) failed";
  }
  for (i = 0; i < 250; i++) { /* up to 5 s */
    struct timespec ts = {0, 20 * 1000 * 1000};
    FILE *f = fopen(p->portfile, "r");
    if (f) {
      int ok = fscanf(f, "%d", &p->port) == 1;
      fclose(f);
      if (ok && p->port > 0)
        return NULL;
    }
    if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
      p->pid = 0;
      break;
    }
    nanosleep(&ts, NULL);
  }
  sp_stop(p);
  return "the TLS proxy did not start (see its stderr)";
}

static int file_has(const char *path, const char *needle) {
  char buf[16384];
  size_t n;
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

#define REQUIRE_SP(p, auth)                                                    \
  do {                                                                         \
    const char *why_ = sp_start((p), (auth));                                  \
    if (why_) {                                                                \
      TEST_FAILF_("%s", why_);                                                 \
      if (T.srv)                                                               \
        wsx_server_free(T.srv);                                                \
      run_for(1000);                                                           \
      (void)ev_finish();                                                       \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Certificates for the TLS origin server (started when wss) and the
 * client's trust in the proxy's CA. */
static void files(char *cert, char *key, char *ca, char *proxy_ca, size_t n) {
  snprintf(cert, n, "%s/cert.pem", cert_dir);
  snprintf(key, n, "%s/key.pem", cert_dir);
  snprintf(ca, n, "%s/cert.pem", cert_dir); /* self-signed: its own CA */
  snprintf(proxy_ca, n, "%s/ca.pem", cert_dir);
}

/* An origin (echo; TLS when `wss`) and the https proxy. Returns 0, or -1
 * after reporting why. */
static int https_setup(sproxy *sp, int wss, const char *auth) {
  static wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  static wsx_server_options so = WSX_SERVER_OPTIONS_INIT;
  static char cert[96], key[96];
  char ca[96], pca[96];
  const char *why = make_cert();
  if (why) {
    TEST_FAILF_("%s", why);
    return -1;
  }
  files(cert, key, ca, pca, sizeof(cert));
  so = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  so.auto_accept = 1;
  so.tls = &to;
  (void)cert_slot(&to.cert);
  CERT_MUT(to.cert)->cert_file = cert;
  CERT_MUT(to.cert)->key_file = key;
  T.echo = 1;
  if (start_server(NULL, wss ? &so : NULL, NULL) != 0) {
    TEST_FAILF_("could not start the origin");
    return -1;
  }
  if ((why = sp_start(sp, auth)) != NULL) {
    TEST_FAILF_("%s", why);
    wsx_server_free(T.srv);
    T.srv = NULL;
    run_for(1000);
    return -1;
  }
  return 0;
}

/* Connects through the https proxy. proxy_trust: 0 = the default (system
 * store), 1 = the test CA, 2 = the test CA but another name to verify.
 * origin_name: the origin's name to verify (wss; NULL = its host). */
static void https_connect(const sproxy *sp, int wss, const char *userinfo,
                          int proxy_trust, const char *origin_name) {
  wsx_tls_client_options ptls, otls;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char cert[96], key[96], ca[96], pca[96], purl[128], url[64];
  int err;
  files(cert, key, ca, pca, sizeof(cert));
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  ptls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  otls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  ptls.ca_file = pca;
  if (proxy_trust == 2)
    ptls.server_name = "wrong.example";
  if (proxy_trust)
    px.tls = &ptls;
  otls.ca_file = ca;
  otls.server_name = origin_name;
  o.tls = &otls;
  o.proxy = &px;
  snprintf(purl, sizeof(purl), "https://%s127.0.0.1:%d",
           userinfo ? userinfo : "", sp->port);
  px.origin = purl;
  snprintf(url, sizeof(url), "%s://127.0.0.1:%d/via-tls-proxy",
           wss ? "wss" : "ws", T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, &o, &px_cbs, &T.c, &err);
  CHECK_INT(err, WSX_OK);
}

static int sp_saw_connect(const sproxy *sp) {
  char needle[64];
  snprintf(needle, sizeof(needle), "CONNECT 127.0.0.1:%d HTTP/1.1", T.port);
  return file_has(sp->log, needle);
}

TEST(https_proxy_ws) {
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 0, NULL) != 0)
    return;
  https_connect(&sp, 0, NULL, 1, NULL);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.open || T.c.close, 5000);
  if (T.c.failed)
    TEST_FAILF_("connect failed: %s", T.c.fail_msg);
  REQUIRE(T.c.open == 1);
  /* The accessors describe the origin's session: there is none. */
  CHECK(wsx_socket_tls_version(T.c.sock) == NULL);
  echo_round_trip();
  CHECK(sp_saw_connect(&sp)); /* it really went through the TLS proxy */
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* wss:// through an https:// proxy: the origin's TLS session inside the
 * proxy's, on one socket. */
TEST(https_proxy_wss) {
  char subject[128] = "";
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 1, NULL) != 0)
    return;
  https_connect(&sp, 1, NULL, 1, NULL);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.open || T.c.close, 5000);
  if (T.c.failed)
    TEST_FAILF_("connect failed: %s", T.c.fail_msg);
  REQUIRE(T.c.open == 1);
  CHECK(wsx_socket_tls_version(T.c.sock) != NULL);
  CHECK_INT(wsx_socket_tls_peer_subject(T.c.sock, subject, sizeof(subject)),
            WSX_OK);
  CHECK_STR(subject, "CN = localhost"); /* the origin, not wsx-test-proxy */
  echo_round_trip();
  CHECK(sp_saw_connect(&sp));
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* A bigger message both ways: records of the inner session span several
 * records of the outer one. */
TEST(https_proxy_wss_large) {
  static char big[200000];
  sproxy sp;
  size_t i;
  ev_reset();
  if (https_setup(&sp, 1, NULL) != 0)
    return;
  for (i = 0; i < sizeof(big); i++)
    big[i] = (char)('a' + i % 26);
  https_connect(&sp, 1, NULL, 1, NULL);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.open || T.c.close, 5000);
  REQUIRE(T.c.open == 1);
  CHECK(wsx_socket_send_text(T.c.sock, big, sizeof(big)) >= 0);
  RUN_UNTIL(T.c.message || T.c.close, 10000);
  CHECK_INT(T.c.message, 1);
  CHECK_INT(T.c.bytes, sizeof(big));
  CHECK_INT(wsx_socket_close(T.c.sock, 1000, NULL), WSX_OK);
  RUN_UNTIL(T.c.close, 5000);
  CHECK_INT(T.c.close_clean, 1);
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* The proxy's certificate is verified by default: the test CA is not in
 * the system store. The error names the proxy. */
TEST(https_proxy_unknown_ca) {
  char want[96];
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 1, NULL) != 0)
    return;
  https_connect(&sp, 1, NULL, 0, NULL);
  REQUIRE(T.c.sock);
  expect_failure(WSX_E_TLS, 0);
  snprintf(want, sizeof(want),
           "proxy 127.0.0.1:%d: certificate verify "
           "failed: ",
           sp.port);
  if (strncmp(T.c.fail_msg, want, strlen(want)) != 0)
    TEST_FAILF_("message: %s", T.c.fail_msg);
  CHECK(strstr(T.c.fail_msg, "unable to get local issuer certificate") != NULL);
  CHECK_INT(T.s.open, 0);
  CHECK(!sp_saw_connect(&sp)); /* no CONNECT to an unverified proxy */
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

TEST(https_proxy_wrong_name) {
  char want[128];
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 0, NULL) != 0)
    return;
  https_connect(&sp, 0, NULL, 2, NULL);
  REQUIRE(T.c.sock);
  expect_failure(WSX_E_TLS, 0);
  snprintf(want, sizeof(want),
           "proxy 127.0.0.1:%d: certificate verify "
           "failed: hostname mismatch",
           sp.port);
  CHECK_STR(T.c.fail_msg, want);
  CHECK(!sp_saw_connect(&sp));
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* The proxy verifies, the origin does not: the origin's error, without
 * the proxy's prefix. */
TEST(https_proxy_wss_origin_mismatch) {
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 1, NULL) != 0)
    return;
  https_connect(&sp, 1, NULL, 1, "wrong.example");
  REQUIRE(T.c.sock);
  expect_failure(WSX_E_TLS, 0);
  CHECK_STR(T.c.fail_msg, "certificate verify failed: hostname mismatch");
  CHECK(sp_saw_connect(&sp)); /* the tunnel was up */
  CHECK_INT(T.s.open, 0);
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

TEST(https_proxy_basic_auth) {
  sproxy sp;
  ev_reset();
  if (https_setup(&sp, 1, "alice:s3cret") != 0)
    return;
  /* Percent-encoded in the URL; base64("alice:s3cret") on the wire. */
  https_connect(&sp, 1, "alice:s3cr%65t@", 1, NULL);
  REQUIRE(T.c.sock);
  echo_round_trip();
  CHECK(file_has(sp.log, "Proxy-Authorization: Basic YWxpY2U6czNjcmV0"));
  /* Wrong password: the proxy's 407 and its headers, read inside TLS. */
  memset(&T.c, 0, sizeof(T.c));
  https_connect(&sp, 1, "alice:nope@", 1, NULL);
  REQUIRE(T.c.sock);
  expect_failure(WSX_E_PROXY, 407);
  CHECK_STR(proxy_auth_hdr, "Basic realm=\"tls-proxy\"");
  CHECK_INT(T.s.open, 1); /* the first connection only */
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* https_proxy=https://... for wss:// with use_env, the proxy's CA in
 * proxy.tls. */
TEST(env_https_proxy) {
  wsx_tls_client_options ptls, otls;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char cert[96], key[96], ca[96], pca[96], v[64], url[64];
  sproxy sp;
  int err;
  ev_reset();
  if (https_setup(&sp, 1, NULL) != 0)
    return;
  files(cert, key, ca, pca, sizeof(cert));
  env_clear();
  snprintf(v, sizeof(v), "https://127.0.0.1:%d", sp.port);
  setenv("https_proxy", v, 1);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  ptls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  otls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  ptls.ca_file = pca;
  otls.ca_file = ca;
  px.use_env = 1;
  px.tls = &ptls;
  o.proxy = &px;
  o.tls = &otls;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d/env", T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, &o, &px_cbs, &T.c, &err);
  CHECK_INT(err, WSX_OK);
  REQUIRE(T.c.sock);
  echo_round_trip();
  CHECK(sp_saw_connect(&sp));
  env_clear();
  sp_stop(&sp);
  SHUTDOWN_AND_CHECK();
}

/* https:// pointed at a plain HTTP proxy that answers the ClientHello in
 * plain text: the proxy's TLS fails, and the error names the proxy. */
TEST(https_url_to_plain_proxy) {
  wsx_tls_client_options ptls = WSX_TLS_CLIENT_OPTIONS_INIT;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char purl[64], want[64];
  ev_reset();
  REQUIRE(start_server(NULL, NULL, NULL) == 0);
  REQUIRE(fake_start(F_PLAIN) == 0);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  ptls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  ptls.insecure_skip_verify = 1; /* not about the certificate */
  px.tls = &ptls;
  snprintf(purl, sizeof(purl), "https://127.0.0.1:%d", F.port);
  REQUIRE(connect_via(purl, T.port, &o, &px));
  expect_failure(WSX_E_TLS, 0);
  snprintf(want, sizeof(want), "proxy 127.0.0.1:%d: TLS handshake failed",
           F.port);
  if (strncmp(T.c.fail_msg, want, strlen(want)) != 0)
    TEST_FAILF_("message: %s", T.c.fail_msg);
  fake_stop();
  SHUTDOWN_AND_CHECK();
}

/* ---- option validation ---- */

TEST(invalid_options) {
  wsx_header bad = {"X", 1, "a\r\nb", 4};
  wsx_tls_client_options missing_ca = WSX_TLS_CLIENT_OPTIONS_INIT;
  static const struct {
    const char *origin;
    int use_env, bad_header, tls, err;
  } v[] = {
      {NULL, 0, 0, 0, WSX_E_INVALID},
      {"ws://127.0.0.1:1", 0, 0, 0, WSX_E_URL},
      {"127.0.0.1:1", 0, 0, 0, WSX_E_URL},
      {"ftp://127.0.0.1:1", 0, 0, 0, WSX_E_URL},
      {"http://127.0.0.1:1", 0, 1, 0, WSX_E_HEADER_VALUE},
      /* proxy.tls is loaded at connect, even before the scheme is known */
      {"https://127.0.0.1:1", 0, 0, 1, WSX_E_TLS},
      {NULL, 1, 0, 1, WSX_E_TLS},
  };
  size_t i;
  ev_reset();
  missing_ca = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  missing_ca.ca_file = "/nonexistent/wsx-proxy-ca.pem";
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
    wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
    wsx_socket *s;
    int err = 0;
    o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
    px = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
    px.origin = v[i].origin;
    px.use_env = v[i].use_env;
    if (v[i].bad_header) {
      px.headers = &bad;
      px.num_headers = 1;
    }
    if (v[i].tls)
      px.tls = &missing_ca;
    o.proxy = &px;
    s = wsx_socket_connect(&T.loop, "ws://127.0.0.1:9/", &o, &px_cbs, &T.c,
                           &err);
    CHECK(s == NULL);
    if (err != v[i].err)
      TEST_FAILF_("case %zu: err %d, expected %d", i, err, v[i].err);
  }
  run_for(1000);
  CHECK_INT(T.c.failed + T.c.close + T.c.open, 0);
  CHECK_INT(ev_finish(), 0);
}

TEST_MAIN(signal(SIGPIPE, SIG_IGN); RUN(tinyproxy_plain);
          RUN(tinyproxy_basic_auth); RUN(tinyproxy_wrong_password);
          RUN(tinyproxy_forbidden_port); RUN(tinyproxy_wss);
          RUN(tinyproxy_wss_wrong_name); RUN(fake_proxy_garbage);
          RUN(fake_proxy_closes); RUN(fake_proxy_silent_times_out);
          RUN(fake_proxy_request_and_407); RUN(fake_proxy_tunnel);
          RUN(env_http_proxy); RUN(env_no_proxy_and_case); RUN(https_proxy_ws);
          RUN(https_proxy_wss); RUN(https_proxy_wss_large);
          RUN(https_proxy_unknown_ca); RUN(https_proxy_wrong_name);
          RUN(https_proxy_wss_origin_mismatch); RUN(https_proxy_basic_auth);
          RUN(env_https_proxy); RUN(https_url_to_plain_proxy);
          RUN(invalid_options); rm_cert())
