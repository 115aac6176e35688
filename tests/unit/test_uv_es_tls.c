/*
 * EventSource over TLS, loopback: the wsx server with TLS options serving
 * an EventSource on its HTTP front, and the wsx EventSource client over
 * https:// (verification on: a test CA made by the openssl CLI in a fresh
 * mkdtemp directory, removed at the end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/script_dir.h"
#include "test.h"
#include "wsx/eventsource.h"

static char dir[64];

static const char gen_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 "
    "-subj '/CN=wsx es test CA'\n"
    "openssl req -new $K -keyout srv.key -out srv.csr -subj /CN=localhost\n"
    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
    " -days 30 -extfile srv.ext -out srv.pem\n";

static int gen_certs(void) {
  return tc_script_dir("wsx-estls", gen_script, dir, sizeof(dir));
}

static void rm_certs(void) { tc_rm_dir(dir); }

/* A path in the certificate directory (tc_path). */
static const char *P(const char *name) { return tc_path(dir, name); }

static struct {
  uv_loop_t loop;
  uv_timer_t guard;
  wsx_server *srv;
  int port;
  int es_open, es_close;
  int c_open, c_msg, c_err, c_reconnect, c_close, c_err_code;
  char c_log[512], c_err_msg[320];
} T;

static void guard_cb(uv_timer_t *t) {
  (void)t;
  uv_stop(&T.loop);
}

static void run_for(unsigned ms) {
  uv_update_time(&T.loop); /* not a stale clock: wait the whole ms */
  uv_timer_start(&T.guard, guard_cb, ms, 0);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  uv_timer_stop(&T.guard);
}

static int finish(void) {
  uv_close((uv_handle_t *)&T.guard, NULL);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&T.loop) == 0;
}

static void es_close_cb(wsx_eventsource *es, void *ud) {
  (void)es, (void)ud;
  T.es_close++;
}

/* Two events, then the end of the stream. */
static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  static const wsx_eventsource_callbacks cbs = {sizeof(wsx_eventsource_callbacks), NULL, es_close_cb};
  wsx_eventsource *es;
  int err;
  (void)srv, (void)ud;
  es = wsx_eventsource_new(req, res, NULL, &cbs, NULL, &err);
  REQUIRE(es);
  T.es_open++;
  CHECK_INT(wsx_eventsource_send(es, "one", 3, NULL, "1"), 0);
  CHECK_INT(wsx_eventsource_send(es, "two\nlines", 9, "custom", "2"), 0);
}

static void start_tls_server(void) {
  static const wsx_server_callbacks cbs = {.struct_size = sizeof(wsx_server_callbacks), .http_request = on_http};
  wsx_tls_server_options to = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  int err;
  memset(&T, 0, sizeof(T));
  uv_loop_init(&T.loop);
  uv_timer_init(&T.loop, &T.guard);
  uv_unref((uv_handle_t *)&T.guard);
  to = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  o = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
  static wsx_tls_cert cert = WSX_TLS_CERT_INIT;
  cert.cert_file = P("srv.pem");
  cert.key_file = P("srv.key");
  to.cert = &cert;
  o.tls = &to;
  T.srv = wsx_server_new(&T.loop, &o, &cbs, NULL, &err);
  REQUIRE(T.srv);
  REQUIRE(wsx_server_listen(T.srv, "127.0.0.1", 0) == 0);
  T.port = wsx_server_port(T.srv);
}

static void c_open(wsx_eventsource_client *c, void *ud) {
  (void)c, (void)ud;
  T.c_open++;
}
static void c_msg(wsx_eventsource_client *c, const wsx_eventsource_event *e,
                  void *ud) {
  size_t n = strlen(T.c_log);
  (void)ud;
  snprintf(T.c_log + n, sizeof(T.c_log) - n, "%s:%s:%.*s;", e->type,
           e->last_event_id, (int)e->data_len, e->data);
  if (++T.c_msg == 2)
    CHECK_INT(wsx_eventsource_client_close(c), 0);
}
static void c_err(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                  void *ud) {
  (void)c, (void)ud;
  T.c_err++;
  T.c_reconnect += e->will_reconnect != 0;
  T.c_err_code = e->code;
  snprintf(T.c_err_msg, sizeof(T.c_err_msg), "%s", e->message);
}
static void c_close(wsx_eventsource_client *c, void *ud) {
  (void)c, (void)ud;
  T.c_close++;
}
static const wsx_eventsource_client_callbacks C_CBS = {sizeof(wsx_eventsource_client_callbacks), c_open, c_msg, c_err,
                                                       c_close};

static wsx_eventsource_client *client(const char *host,
                                      const wsx_tls_client_options *to) {
  wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  char url[128];
  int err;
  o = (wsx_eventsource_client_options)WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  o.tls = to;
  o.connect_timeout = 3000;
  snprintf(url, sizeof(url), "https://%s:%d/events", host, T.port);
  return wsx_eventsource_client_new(&T.loop, url, &o, &C_CBS, NULL, &err);
}

/* The wsx client over https:// against the wsx TLS server. */
TEST(https_events) {
  wsx_tls_client_options to = WSX_TLS_CLIENT_OPTIONS_INIT;
  start_tls_server();
  to = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  to.ca_file = P("ca.pem");
  REQUIRE(client("localhost", &to));
  run_for(3000);
  CHECK_INT(T.c_open, 1);
  CHECK_STR(T.c_log, "message:1:one;custom:2:two\nlines;");
  CHECK_INT(T.c_err, 0);
  CHECK_INT(T.c_close, 1);
  CHECK_INT(T.es_open, 1);
  CHECK_INT(T.es_close, 1); /* the server saw the client go away */
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

/* Verification is on by default: the system store does not know our CA. */
TEST(https_unknown_ca_fails) {
  start_tls_server();
  REQUIRE(client("127.0.0.1", NULL));
  run_for(3000);
  CHECK_INT(T.c_open, 0);
  CHECK_INT(T.c_err, 1);
  CHECK_INT(T.c_reconnect, 0); /* futile to retry: fails for good */
  CHECK_INT(T.c_err_code, WSX_E_TLS);
  CHECK(strstr(T.c_err_msg, "certificate verify failed") != NULL);
  CHECK_INT(T.c_close, 1);
  CHECK_INT(T.es_open, 0);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

/* The certificate names localhost and 127.0.0.1, not this server_name. */
TEST(https_name_mismatch_fails) {
  wsx_tls_client_options to = WSX_TLS_CLIENT_OPTIONS_INIT;
  start_tls_server();
  to = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  to.ca_file = P("ca.pem");
  to.server_name = "other.example";
  REQUIRE(client("127.0.0.1", &to));
  run_for(3000);
  CHECK_INT(T.c_open, 0);
  CHECK_INT(T.c_reconnect, 0);
  CHECK(strstr(T.c_err_msg, "hostname mismatch") != NULL);
  CHECK_INT(T.c_close, 1);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK(finish());
}

/* An http:// EventSource client against the TLS port gets no event (the
 * server answers nothing in clear text) and keeps retrying: a network
 * error. */
TEST(plain_client_on_tls_port) {
  wsx_eventsource_client *c;
  wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  char url[128];
  int err;
  start_tls_server();
  o = (wsx_eventsource_client_options)WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  o.retry_ms = 50;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", T.port);
  c = wsx_eventsource_client_new(&T.loop, url, &o, &C_CBS, NULL, &err);
  REQUIRE(c);
  run_for(300);
  CHECK_INT(T.c_open, 0);
  CHECK(T.c_reconnect >= 1);
  CHECK_INT(wsx_eventsource_client_close(c), 0);
  wsx_server_free(T.srv);
  run_for(3000);
  CHECK_INT(T.c_close, 1);
  CHECK(finish());
}

TEST_MAIN(if (gen_certs() != 0) {
  printf("FAIL setup: could not generate certificates with openssl (%s)\n",
         dir);
  return 1;
} RUN(https_events);
          RUN(https_unknown_ca_fails); RUN(https_name_mismatch_fails);
          RUN(plain_client_on_tls_port); rm_certs())
