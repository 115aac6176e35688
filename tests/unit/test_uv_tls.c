/*
 * wss / TLS servers over loopback. Every certificate is generated at start
 * by the openssl CLI into a fresh mkdtemp directory (removed at the end):
 * a test CA, a server certificate for localhost/127.0.0.1/::1, one for
 * alt.test (SNI), one for the wrong name, one expired, one from an unknown
 * CA, and a client certificate.
 *
 * Besides wsx clients and servers, a blocking OpenSSL peer running in a
 * thread plays the misbehaving or closely watched side: garbage records
 * after the handshake, close_notify in the middle of a session, and the
 * check that the server's close_notify arrives after the closing handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "helpers/script_dir.h"
#include "test_uv_util.h"
#include "wsx/tls.h"

static char dir[64];

static const char gen_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 "
    "-subj '/CN=wsx test CA'\n"
    "openssl req -x509 $K -keyout oca.key -out oca.pem -days 30 "
    "-subj '/CN=wsx unknown CA'\n"
    "leaf() {\n"
    "  openssl req -new $K -keyout $1.key -out $1.csr -subj \"/CN=$2\"\n"
    "  printf 'subjectAltName=%s\\nextendedKeyUsage=serverAuth,clientAuth\\n'"
    " \"$3\" > $1.ext\n"
    "  openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial"
    " -days 30 -extfile $1.ext -out $1.pem\n"
    "}\n"
    "leaf srv localhost 'DNS:localhost,IP:127.0.0.1,IP:::1' ca\n"
    "leaf alt alt.test DNS:alt.test ca\n"
    "leaf wrong wrong.example DNS:wrong.example ca\n"
    "leaf unknown localhost 'DNS:localhost,IP:127.0.0.1' oca\n"
    "leaf client 'wsx client' DNS:client.test ca\n"
    /* `openssl x509 -req` cannot backdate; `openssl ca` takes both dates. */
    "mkdir ca.db; : > ca.db/index.txt; echo 1000 > ca.db/serial\n"
    "printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=ca.db/index.txt\\n"
    "new_certs_dir=ca.db\\nserial=ca.db/serial\\ndefault_md=sha256\\n"
    "policy=p\\nx509_extensions=x\\n[p]\\ncommonName=supplied\\n[x]\\n"
    "subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ca.cnf\n"
    "openssl req -new $K -keyout expired.key -out expired.csr "
    "-subj /CN=localhost\n"
    "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key "
    "-in expired.csr -out expired.pem -startdate 20200101000000Z "
    "-enddate 20200102000000Z\n";

static int gen_certs(void) {
  return tc_script_dir("wsx-tls", gen_script, dir, sizeof(dir));
}

static void rm_certs(void) { tc_rm_dir(dir); }

/* A path in the certificate directory (tc_path). */
static const char *P(const char *name) { return tc_path(dir, name); }

static char *slurp(const char *name) {
  FILE *f = fopen(P(name), "rb");
  static char bufs[4][8192];
  static unsigned i;
  char *b = bufs[i++ % 4];
  size_t n;
  if (!f)
    return NULL;
  n = fread(b, 1, sizeof(bufs[0]) - 1, f);
  b[n] = '\0';
  fclose(f);
  return b;
}

static void cert_files(const wsx_tls_cert **slot, const char *base) {
  static char names[16][64];
  static unsigned i;
  char *c = names[i++ % 16], *key = names[i++ % 16];
  wsx_tls_cert *k = cert_slot(slot);
  snprintf(c, 64, "%s.pem", base);
  snprintf(key, 64, "%s.key", base);
  k->cert_file = P(c);
  k->key_file = P(key);
}

static int tls_server(wsx_tls_server_options *to, uint32_t hs_timeout) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  o.auto_accept = 1;
  o.handshake_timeout = hs_timeout;
  o.tls = to;
  return start_server(NULL, &o, NULL);
}

static int srv_with(const char *base) {
  static wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  cert_files(&to.cert, base);
  return tls_server(&to, 0);
}

static wsx_socket *tls_client(const char *host,
                              const wsx_tls_client_options *co, int *err) {
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  char url[128];
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  o.tls = co;
  o.connect_timeout = 3000;
  snprintf(url, sizeof(url), "wss://%s:%d/tls", host, T.port);
  T.c.sock = wsx_socket_connect(&T.loop, url, &o, &rec_cbs, &T.c, err);
  return T.c.sock;
}

static wsx_tls_client_options ca_opts(void) {
  wsx_tls_client_options co = WSX_TLS_CLIENT_OPTIONS_INIT;
  co.ca_file = P("ca.pem");
  return co;
}

/* ---- wsx client <-> wsx server ---- */

TEST(wss_echo) {
  wsx_tls_client_options co = ca_opts();
  char subj[128];
  int err;
  ev_reset();
  T.echo = 1;
  REQUIRE(srv_with("srv") == 0);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK_INT(T.c.open, 1);
  CHECK_INT(T.s.open, 1);
  CHECK_INT(T.c.failed, 0);
  REQUIRE(T.c.sock && T.s.sock);
  CHECK_STR(wsx_socket_tls_version(T.c.sock), "TLSv1.3");
  CHECK_STR(wsx_socket_tls_alpn(T.c.sock), "http/1.1");
  CHECK_STR(wsx_socket_tls_alpn(T.s.sock), "http/1.1");
  CHECK(wsx_socket_tls_server_name(T.s.sock) == NULL); /* no SNI for IPs */
  CHECK_INT(wsx_socket_tls_peer_subject(T.c.sock, subj, sizeof(subj)), 0);
  CHECK_STR(subj, "CN = localhost");
  CHECK_INT(wsx_socket_tls_peer_subject(T.s.sock, subj, sizeof(subj)),
            WSX_E_STATE);
  {
    char url[64];
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d/tls", T.port);
    CHECK_STR(wsx_socket_url(T.c.sock), url);
  }
  CHECK_INT(wsx_socket_send_text(T.c.sock, "hello", 5), 0);
  RUN_UNTIL(T.c.message == 1, 3000);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hello", 5);
  {
    /* Bigger than a TLS record, so it spans several. */
    static uint8_t big[100000];
    size_t i;
    for (i = 0; i < sizeof(big); i++)
      big[i] = (uint8_t)(i * 7);
    CHECK(wsx_socket_send_binary(T.c.sock, big, sizeof(big)) >= 0);
    RUN_UNTIL(T.c.message == 2, 3000);
    CHECK_INT((int)T.c.msg_len, (int)sizeof(big));
    CHECK_MEM(T.c.msg, 512, big, 512);
  }
  CHECK_INT(wsx_socket_close(T.c.sock, 1000, "bye"), 0);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_code, 1000);
  CHECK_INT(T.c.close_clean, 1);
  CHECK_INT(T.s.close_code, 1000);
  CHECK_STR(T.s.close_reason, "bye");
  CHECK_INT(T.c.error + T.s.error, 0);
  SHUTDOWN_AND_CHECK();
}

/* localhost resolves (maybe to ::1 first); host name verification and SNI
 * use the name. In-memory PEM for the server this time. */
TEST(wss_localhost_pem) {
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_client_options co = WSX_TLS_CLIENT_OPTIONS_INIT;
  int err;
  ev_reset();
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  (void)cert_slot(&to.cert);
  CERT_MUT(to.cert)->cert_pem = slurp("srv.pem");
  CERT_MUT(to.cert)->key_pem = slurp("srv.key");
  REQUIRE(to.cert->cert_pem && to.cert->key_pem);
  REQUIRE(tls_server(&to, 0) == 0);
  co = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  co.ca_pem = slurp("ca.pem");
  REQUIRE(tls_client("localhost", &co, &err));
  RUN_UNTIL(T.c.open || T.c.close, 3000);
  CHECK_INT(T.c.open, 1);
  if (T.c.failed)
    printf("  failed: %s\n", T.c.fail_msg);
  REQUIRE(T.s.sock);
  CHECK_STR(wsx_socket_tls_server_name(T.s.sock), "localhost");
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_clean, 1);
  SHUTDOWN_AND_CHECK();
}

TEST(server_bad_options) {
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_server *srv;
  int err = 0;
  ev_reset();
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  o.tls = &to;
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(srv == NULL);
  CHECK_INT(err, WSX_E_INVALID); /* no certificate */
  cert_files(&to.cert, "srv");
  CHECK(strstr(wsx_tls_last_error(), "certificate missing") != NULL);
  CERT_MUT(to.cert)->key_file = P("alt.key"); /* key of another certificate */
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(srv == NULL);
  CHECK_INT(err, WSX_E_TLS);
  CHECK(strstr(wsx_tls_last_error(), "key values mismatch") != NULL);
  CERT_MUT(to.cert)->key_file = P("missing.key");
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(srv == NULL);
  CHECK_INT(err, WSX_E_TLS);
  /* The reason names the file and says what OpenSSL found wrong. */
  CHECK(strstr(wsx_tls_last_error(), "key file ") == wsx_tls_last_error());
  CHECK(strstr(wsx_tls_last_error(), P("missing.key")) != NULL);
  CHECK(strstr(wsx_tls_last_error(), ": no such file or directory") != NULL);
  cert_files(&to.cert, "srv");
  CERT_MUT(to.cert)->cert_file = P("ca.key"); /* not a certificate */
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(srv == NULL);
  CHECK_INT(err, WSX_E_TLS);
  CHECK(strstr(wsx_tls_last_error(), "certificate file ") ==
        wsx_tls_last_error());
  CHECK(strstr(wsx_tls_last_error(), ": no start line") != NULL);
  cert_files(&to.cert, "srv");
  to.client_auth = WSX_TLS_CLIENT_CERT_REQUIRED; /* without a CA */
  srv = wsx_server_new(&T.loop, &o, NULL, NULL, &err);
  CHECK(srv == NULL);
  CHECK_INT(err, WSX_E_INVALID);
  {
    wsx_tls_client_options co = WSX_TLS_CLIENT_OPTIONS_INIT;
    co.ca_file = P("missing.pem");
    T.port = 1;
    CHECK(tls_client("127.0.0.1", &co, &err) == NULL);
    CHECK_INT(err, WSX_E_TLS);
    CHECK(strstr(wsx_tls_last_error(), "missing.pem") != NULL);
    co = ca_opts(); /* a success clears the reason */
    CHECK(tls_client("127.0.0.1", &co, &err) != NULL);
    CHECK_STR(wsx_tls_last_error(), "");
    RUN_UNTIL(T.c.close, 3000); /* nothing listens on port 1 */
  }
  ERR_clear_error();
  CHECK_INT(ev_finish(), 0);
}

/* ---- SNI ---- */

static int sni_calls;
static int sni_cb(const char *name, void *ud) {
  (void)ud;
  sni_calls++;
  if (name && strcmp(name, "reject.test") == 0)
    return WSX_TLS_SNI_REJECT;
  return name && strcmp(name, "alt.test") == 0 ? 0 : WSX_TLS_SNI_DEFAULT;
}

static void sni_round(const char *server_name, int expect_open,
                      const char *expect_cn) {
  wsx_tls_client_options co = ca_opts();
  char subj[128];
  int err;
  memset(&T.c, 0, sizeof(T.c));
  memset(&T.s, 0, sizeof(T.s));
  co.server_name = server_name;
  if (!tls_client("127.0.0.1", &co, &err)) {
    CHECK(0);
    return;
  }
  RUN_UNTIL(T.c.open || T.c.close, 3000);
  CHECK_INT(T.c.open, expect_open);
  if (expect_open && T.c.sock) {
    CHECK_INT(wsx_socket_tls_peer_subject(T.c.sock, subj, sizeof(subj)), 0);
    CHECK_STR(subj, expect_cn);
    CHECK_STR(wsx_socket_tls_server_name(T.c.sock), server_name);
    if (T.s.sock)
      CHECK_STR(wsx_socket_tls_server_name(T.s.sock), server_name);
    wsx_socket_close(T.c.sock, 0, NULL);
  } else {
    CHECK_INT(T.c.fail_code, WSX_E_TLS);
    CHECK(strstr(T.c.fail_msg, "unrecognized name") != NULL);
  }
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.close, 1);
}

TEST(sni_table) {
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_sni_entry e[1];
  ev_reset();
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  memset(e, 0, sizeof(e));
  cert_files(&to.cert, "srv");
  e[0].name = "ALT.test"; /* names match case-insensitively */
  cert_files(&e[0].cert, "alt");
  to.sni = e;
  to.num_sni = 1;
  REQUIRE(tls_server(&to, 0) == 0);
  sni_round("alt.test", 1, "CN = alt.test");
  sni_round("localhost", 1, "CN = localhost"); /* not in the table */
  SHUTDOWN_AND_CHECK();
}

TEST(sni_callback) {
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_sni_entry e[1];
  ev_reset();
  sni_calls = 0;
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  memset(e, 0, sizeof(e));
  cert_files(&to.cert, "srv");
  e[0].name = "unused.test"; /* the callback decides, not the names */
  cert_files(&e[0].cert, "alt");
  to.sni = e;
  to.num_sni = 1;
  to.sni_callback = sni_cb;
  REQUIRE(tls_server(&to, 0) == 0);
  sni_round("alt.test", 1, "CN = alt.test");
  sni_round("localhost", 1, "CN = localhost");
  sni_round("reject.test", 0, NULL);
  CHECK_INT(sni_calls, 3);
  SHUTDOWN_AND_CHECK();
}

/* ---- client certificates ---- */

static void client_cert_server(int mode) {
  static wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  cert_files(&to.cert, "srv");
  to.client_auth = mode;
  to.ca_file = P("ca.pem");
  REQUIRE(tls_server(&to, 0) == 0);
}

TEST(client_cert_required) {
  wsx_tls_client_options co = ca_opts();
  char subj[128];
  int err;
  ev_reset();
  client_cert_server(WSX_TLS_CLIENT_CERT_REQUIRED);
  /* Without a certificate: refused (in TLS 1.3 the alert comes after the
   * client's side of the handshake, still as connect_failed). */
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_TLS);
  if (getenv("WSX_TEST_VERBOSE"))
    printf("  connect_failed: %s\n", T.c.fail_msg);
  CHECK(strstr(T.c.fail_msg, "certificate required") != NULL);
  CHECK_INT(T.s.open, 0);
  /* With one. */
  memset(&T.c, 0, sizeof(T.c));
  cert_files(&co.cert, "client");
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK_INT(T.c.open, 1);
  REQUIRE(T.s.sock);
  CHECK_INT(wsx_socket_tls_peer_subject(T.s.sock, subj, sizeof(subj)), 0);
  CHECK_STR(subj, "CN = wsx client");
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  /* A certificate from an unknown CA is refused too. */
  memset(&T.c, 0, sizeof(T.c));
  cert_files(&co.cert, "unknown");
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.fail_code, WSX_E_TLS);
  SHUTDOWN_AND_CHECK();
}

TEST(client_cert_optional) {
  wsx_tls_client_options co = ca_opts();
  char subj[128];
  int err;
  ev_reset();
  client_cert_server(WSX_TLS_CLIENT_CERT_OPTIONAL);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  CHECK_INT(T.c.open, 1);
  REQUIRE(T.s.sock);
  CHECK_INT(wsx_socket_tls_peer_subject(T.s.sock, subj, sizeof(subj)),
            WSX_E_STATE);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* ---- verification failures ---- */

static void expect_verify_fail(const char *srv_cert, const char *host,
                               const wsx_tls_client_options *co,
                               const char *why) {
  int err;
  ev_reset();
  REQUIRE(srv_with(srv_cert) == 0);
  REQUIRE(tls_client(host, co, &err));
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.open, 0);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_TLS);
  CHECK_INT(T.c.close_code, 1006);
  if (getenv("WSX_TEST_VERBOSE"))
    printf("  connect_failed: %s\n", T.c.fail_msg);
  if (!strstr(T.c.fail_msg, why)) {
    printf("  message: %s\n", T.c.fail_msg);
    CHECK(0);
  }
  CHECK_INT(T.s.open, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(verify_wrong_name) {
  wsx_tls_client_options co = ca_opts();
  expect_verify_fail("wrong", "localhost", &co,
                     "certificate verify failed: hostname mismatch");
  expect_verify_fail("wrong", "127.0.0.1", &co,
                     "certificate verify failed: IP address mismatch");
  /* server_name overrides the name checked. */
  co.server_name = "other.test";
  expect_verify_fail("srv", "127.0.0.1", &co, "hostname mismatch");
}

TEST(verify_unknown_ca) {
  wsx_tls_client_options co = ca_opts();
  expect_verify_fail("unknown", "127.0.0.1", &co,
                     "certificate verify failed: unable to get local issuer "
                     "certificate");
  /* The default: the system store does not know the test CA either. */
  expect_verify_fail("srv", "127.0.0.1", NULL,
                     "certificate verify failed: unable to get local issuer "
                     "certificate");
}

TEST(verify_expired) {
  wsx_tls_client_options co = ca_opts();
  expect_verify_fail("expired", "127.0.0.1", &co,
                     "certificate verify failed: certificate has expired");
}

TEST(insecure_skip_verify) {
  wsx_tls_client_options co = WSX_TLS_CLIENT_OPTIONS_INIT;
  int err;
  ev_reset();
  co = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  co.insecure_skip_verify = 1;
  T.echo = 1;
  REQUIRE(srv_with("unknown") == 0);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open || T.c.close, 3000);
  CHECK_INT(T.c.open, 1);
  REQUIRE(T.c.sock);
  CHECK_INT(wsx_socket_send_text(T.c.sock, "x", 1), 0);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_INT(T.c.message, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  CHECK_INT(T.c.close_clean, 1);
  SHUTDOWN_AND_CHECK();
}

/* ---- bad peers ---- */

/* Plain HTTP (or anything not TLS) to a TLS port: the handshake fails, the
 * connection is closed, the app never hears of it, the server goes on. */
TEST(garbage_instead_of_tls) {
  static const char junk[] = UPGRADE_HEAD("/");
  static const uint8_t hello_then_junk[] = {
      0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, /* short */
      0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22, 0x33};
  wsx_tls_client_options co = ca_opts();
  raw_peer a, b;
  int err;
  ev_reset();
  REQUIRE(srv_with("srv") == 0);
  raw_connect(&a, junk, sizeof(junk) - 1, 1);
  raw_connect(&b, hello_then_junk, sizeof(hello_then_junk), 1);
  RUN_UNTIL(a.closed && b.closed, 3000);
  CHECK_INT(a.closed, 1);
  CHECK_INT(b.closed, 1);
  CHECK(strstr(a.in, "HTTP/1.1") == NULL); /* no plaintext answer */
  CHECK_INT(T.s.open + T.s.error + T.s.close, 0);
  RUN_UNTIL(wsx_server_connection_count(T.srv) == 0, 3000);
  CHECK_INT((int)wsx_server_connection_count(T.srv), 0);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

/* Over max_connections a TLS server closes the new connection without a
 * handshake and without a plaintext 503 (a TLS client cannot read one);
 * the connections it holds go on. */
TEST(max_connections_tls) {
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_tls_client_options co = ca_opts();
  static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05,
                                  0x01, 0x00, 0x00, 0x01, 0x00};
  raw_peer a;
  int err;
  ev_reset();
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  cert_files(&to.cert, "srv");
  o.auto_accept = 1;
  o.max_connections = 1;
  o.tls = &to;
  T.echo = 1;
  REQUIRE(start_server(NULL, &o, NULL) == 0);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open && T.s.open, 3000);
  REQUIRE(T.c.open == 1);
  raw_connect(&a, hello, sizeof(hello), 1);
  RUN_UNTIL(a.closed, 3000);
  CHECK_INT(a.closed, 1);
  CHECK_INT((int)a.in_len, 0); /* no "HTTP/1.1 503" in clear text */
  CHECK_INT((int)wsx_server_connection_count(T.srv), 1);
  CHECK_INT(wsx_socket_send_text(T.c.sock, "hi", 2), 0);
  RUN_UNTIL(T.c.message, 3000);
  CHECK_INT(T.c.message, 1);
  CHECK_MEM(T.c.msg, T.c.msg_len, "hi", 2);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(handshake_timeout) {
  static const uint8_t partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  raw_peer a, b;
  uint64_t t0;
  ev_reset();
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  cert_files(&to.cert, "srv");
  REQUIRE(tls_server(&to, 200) == 0);
  t0 = uv_now(&T.loop);
  raw_connect(&a, "", 0, 1);                    /* says nothing */
  raw_connect(&b, partial, sizeof(partial), 1); /* half a ClientHello */
  RUN_UNTIL(a.closed && b.closed, 3000);
  CHECK_INT(a.closed, 1);
  CHECK_INT(b.closed, 1);
  CHECK(uv_now(&T.loop) - t0 >= 150);
  CHECK(uv_now(&T.loop) - t0 < 2000);
  CHECK_INT((int)wsx_server_connection_count(T.srv), 0);
  SHUTDOWN_AND_CHECK();
}

/* A wss client facing a server that accepts TCP but never speaks TLS:
 * connect_timeout covers the TLS handshake. */
static void mute_on_conn(uv_stream_t *ls, int status) {
  uv_tcp_t *c = malloc(sizeof(*c));
  (void)status;
  uv_tcp_init(ls->loop, c);
  if (uv_accept(ls, (uv_stream_t *)c) != 0)
    uv_close((uv_handle_t *)c, (uv_close_cb)free);
  else
    ls->data = c;
}

TEST(client_connect_timeout) {
  wsx_tls_client_options co = ca_opts();
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  uv_tcp_t lsn;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss), err;
  char url[64];
  ev_reset();
  uv_tcp_init(&T.loop, &lsn);
  lsn.data = NULL;
  uv_ip4_addr("127.0.0.1", 0, &a);
  REQUIRE(uv_tcp_bind(&lsn, (const struct sockaddr *)&a, 0) == 0);
  REQUIRE(uv_listen((uv_stream_t *)&lsn, 4, mute_on_conn) == 0);
  uv_tcp_getsockname(&lsn, (struct sockaddr *)&ss, &len);
  o = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  o.tls = &co;
  o.connect_timeout = 300;
  snprintf(url, sizeof(url), "wss://127.0.0.1:%d/",
           ntohs(((struct sockaddr_in *)&ss)->sin_port));
  T.c.sock = wsx_socket_connect(&T.loop, url, &o, &rec_cbs, &T.c, &err);
  REQUIRE(T.c.sock);
  RUN_UNTIL(T.c.close, 3000);
  CHECK_INT(T.c.failed, 1);
  CHECK_INT(T.c.fail_code, WSX_E_TIMEOUT);
  CHECK_INT(T.c.close_code, 1006);
  if (lsn.data)
    uv_close((uv_handle_t *)lsn.data, (uv_close_cb)free);
  uv_close((uv_handle_t *)&lsn, NULL);
  run_for(1000);
  CHECK_INT(ev_finish(), 0);
}

/* ---- a blocking OpenSSL client in a thread ---- */

enum { P_GARBAGE_RECORD, P_CLOSE_FRAME, P_CLOSE_NOTIFY };

typedef struct tpeer {
  int port, mode;
  volatile int done;
  int ok; /* the behaviour the test waits for was seen */
  char note[160];
  uv_async_t wake;
  pthread_t th;
} tpeer;

static int read_head(SSL *ssl) {
  char buf[1024];
  size_t n = 0;
  while (n < sizeof(buf) - 1) {
    int r = SSL_read(ssl, buf + n, (int)(sizeof(buf) - 1 - n));
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n"))
      return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
  }
  return -1;
}

static void *peer_main(void *arg) {
  tpeer *p = arg;
  static const char req[] = UPGRADE_HEAD("/");
  /* Masked close frame, code 1000, mask 0. */
  static const unsigned char close_frame[] = {0x88, 0x82, 0,    0,
                                              0,    0,    0x03, 0xe8};
  static const unsigned char junk_record[] = {
      0x17, 0x03, 0x03, 0x00, 0x20, 1,  2,  3,  4,  5,  6,  7,  8,
      9,    10,   11,   12,   13,   14, 15, 16, 17, 18, 19, 20, 21,
      22,   23,   24,   25,   26,   27, 28, 29, 30, 31, 32};
  struct sockaddr_in a;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = NULL;
  unsigned char buf[256];
  int fd = socket(AF_INET, SOCK_STREAM, 0), r;
  struct timeval tv = {3, 0};
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)p->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (!ctx || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    snprintf(p->note, sizeof(p->note), "connect failed");
    goto out;
  }
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1 || SSL_write(ssl, req, sizeof(req) - 1) <= 0 ||
      read_head(ssl) != 0) {
    snprintf(p->note, sizeof(p->note), "handshake failed");
    goto out;
  }
  switch (p->mode) {
  case P_GARBAGE_RECORD:
    /* Garbage inside the TLS stream: a record that fails to decrypt. */
    if (send(fd, junk_record, sizeof(junk_record), 0) < 0)
      break;
    /* The server must answer with an alert and/or close. */
    r = (int)recv(fd, buf, sizeof(buf), 0);
    while (r > 0)
      r = (int)recv(fd, buf, sizeof(buf), 0);
    p->ok = r == 0 || errno == ECONNRESET;
    snprintf(p->note, sizeof(p->note), "recv ended with %d", r);
    break;
  case P_CLOSE_FRAME:
    SSL_write(ssl, close_frame, sizeof(close_frame));
    r = SSL_read(ssl, buf, sizeof(buf)); /* the close frame reply */
    if (r < 2 || buf[0] != 0x88) {
      snprintf(p->note, sizeof(p->note), "no close frame (%d)", r);
      break;
    }
    r = SSL_read(ssl, buf, sizeof(buf));
    p->ok = r == 0 && SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN;
    snprintf(p->note, sizeof(p->note), "after close: %d / %d", r,
             SSL_get_error(ssl, r));
    SSL_shutdown(ssl);
    break;
  case P_CLOSE_NOTIFY:
    SSL_shutdown(ssl); /* close_notify, TCP stays open */
    r = (int)recv(fd, buf, sizeof(buf), 0);
    while (r > 0)
      r = (int)recv(fd, buf, sizeof(buf), 0);
    p->ok = r == 0 || errno == ECONNRESET;
    snprintf(p->note, sizeof(p->note), "recv ended with %d", r);
    break;
  }
out:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  ERR_clear_error();
  p->done = 1;
  uv_async_send(&p->wake);
  return NULL;
}

static void peer_run(tpeer *p, int mode) {
  memset(p, 0, sizeof(*p));
  p->port = T.port;
  p->mode = mode;
  uv_async_init(&T.loop, &p->wake, NULL);
  pthread_create(&p->th, NULL, peer_main, p);
}

static void peer_join(tpeer *p) {
  pthread_join(p->th, NULL);
  uv_close((uv_handle_t *)&p->wake, NULL);
  if (!p->ok)
    printf("  peer: %s\n", p->note);
}

TEST(garbage_record_mid_session) {
  wsx_tls_client_options co = ca_opts();
  tpeer p;
  int err;
  ev_reset();
  REQUIRE(srv_with("srv") == 0);
  peer_run(&p, P_GARBAGE_RECORD);
  RUN_UNTIL(p.done && T.s.close, 5000);
  peer_join(&p);
  CHECK_INT(p.ok, 1);
  CHECK_INT(T.s.open, 1);
  CHECK_INT(T.s.error, 1);
  CHECK_INT(T.s.error_code, WSX_E_TLS);
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1006);
  CHECK_INT(T.s.close_clean, 0);
  /* The server goes on serving. */
  memset(&T.s, 0, sizeof(T.s));
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(T.c.open, 3000);
  CHECK_INT(T.c.open, 1);
  wsx_socket_close(T.c.sock, 0, NULL);
  RUN_UNTIL(T.c.close && T.s.close, 3000);
  SHUTDOWN_AND_CHECK();
}

TEST(close_notify_after_closing_handshake) {
  tpeer p;
  ev_reset();
  REQUIRE(srv_with("srv") == 0);
  peer_run(&p, P_CLOSE_FRAME);
  RUN_UNTIL(p.done && T.s.close, 5000);
  peer_join(&p);
  CHECK_INT(p.ok, 1); /* the server sent close_notify */
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1000);
  CHECK_INT(T.s.close_clean, 1);
  CHECK_INT(T.s.error, 0);
  SHUTDOWN_AND_CHECK();
}

TEST(close_notify_mid_session) {
  tpeer p;
  ev_reset();
  REQUIRE(srv_with("srv") == 0);
  peer_run(&p, P_CLOSE_NOTIFY);
  RUN_UNTIL(p.done && T.s.close, 5000);
  peer_join(&p);
  CHECK_INT(p.ok, 1); /* the server closed on close_notify, no FIN needed */
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1006);
  CHECK_INT(T.s.close_clean, 0);
  SHUTDOWN_AND_CHECK();
}

/* ---- a blocking OpenSSL server in a thread ---- */

/* Answers one wss handshake, then sends close_notify while keeping TCP
 * open: the wsx client must close on the close_notify itself. */
typedef struct tserver {
  int lfd, port;
  volatile int done;
  int ok;
  char note[160];
  uv_async_t wake;
  pthread_t th;
} tserver;

static int ws_accept_key(const char *head, char out[64]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const char *k = strcasestr(head, "\r\nSec-WebSocket-Key:");
  char buf[128];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  size_t n = 0;
  if (!k)
    return -1;
  k += 20;
  while (*k == ' ')
    k++;
  while (k[n] && k[n] != '\r' && n < 60)
    n++;
  memcpy(buf, k, n);
  memcpy(buf + n, guid, sizeof(guid) - 1);
  if (!EVP_Digest(buf, n + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL))
    return -1;
  EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
  return 0;
}

static void *server_main(void *arg) {
  tserver *p = arg;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  SSL *ssl = NULL;
  char head[2048], key[64], resp[256];
  size_t n = 0;
  struct timeval tv = {3, 0};
  int fd = -1, r;
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, P("srv.pem")) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, P("srv.key"), SSL_FILETYPE_PEM) != 1 ||
      (fd = accept(p->lfd, NULL, NULL)) < 0) {
    snprintf(p->note, sizeof(p->note), "setup/accept failed");
    goto out;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    snprintf(p->note, sizeof(p->note), "TLS accept failed");
    goto out;
  }
  head[0] = '\0';
  while (!strstr(head, "\r\n\r\n") && n < sizeof(head) - 1) {
    r = SSL_read(ssl, head + n, (int)(sizeof(head) - 1 - n));
    if (r <= 0)
      break;
    n += (size_t)r;
    head[n] = '\0';
  }
  if (ws_accept_key(head, key) != 0) {
    snprintf(p->note, sizeof(p->note), "no upgrade request");
    goto out;
  }
  snprintf(resp, sizeof(resp),
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
           key);
  SSL_write(ssl, resp, (int)strlen(resp));
  usleep(100000);
  SSL_shutdown(ssl); /* close_notify; our TCP stays open */
  r = (int)recv(fd, head, sizeof(head), 0);
  while (r > 0)
    r = (int)recv(fd, head, sizeof(head), 0);
  p->ok = r == 0 || errno == ECONNRESET;
  snprintf(p->note, sizeof(p->note), "recv ended with %d", r);
out:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (fd >= 0)
    close(fd);
  ERR_clear_error();
  p->done = 1;
  uv_async_send(&p->wake);
  return NULL;
}

TEST(client_gets_close_notify) {
  wsx_tls_client_options co = ca_opts();
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  tserver p;
  int err;
  ev_reset();
  memset(&p, 0, sizeof(p));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p.lfd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(bind(p.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
  REQUIRE(listen(p.lfd, 4) == 0);
  getsockname(p.lfd, (struct sockaddr *)&a, &alen);
  T.port = ntohs(a.sin_port);
  uv_async_init(&T.loop, &p.wake, NULL);
  pthread_create(&p.th, NULL, server_main, &p);
  REQUIRE(tls_client("127.0.0.1", &co, &err));
  RUN_UNTIL(p.done && T.c.close, 5000);
  pthread_join(p.th, NULL);
  close(p.lfd);
  uv_close((uv_handle_t *)&p.wake, NULL);
  if (!p.ok)
    printf("  server: %s\n", p.note);
  CHECK_INT(p.ok, 1);
  CHECK_INT(T.c.open, 1);
  CHECK_INT(T.c.close, 1);
  CHECK_INT(T.c.close_code, 1006);
  CHECK_INT(T.c.close_clean, 0);
  run_for(1000);
  CHECK_INT(ev_finish(), 0);
}

TEST_MAIN(if (gen_certs() != 0) {
  printf("FAIL setup: could not generate certificates with openssl (%s)\n",
         dir);
  return 1;
} RUN(wss_echo);
          RUN(wss_localhost_pem); RUN(server_bad_options); RUN(sni_table);
          RUN(sni_callback); RUN(client_cert_required);
          RUN(client_cert_optional); RUN(verify_wrong_name);
          RUN(verify_unknown_ca); RUN(verify_expired);
          RUN(insecure_skip_verify); RUN(garbage_instead_of_tls);
          RUN(max_connections_tls); RUN(handshake_timeout);
          RUN(client_connect_timeout); RUN(garbage_record_mid_session);
          RUN(close_notify_after_closing_handshake);
          RUN(close_notify_mid_session); RUN(client_gets_close_notify);
          rm_certs())
