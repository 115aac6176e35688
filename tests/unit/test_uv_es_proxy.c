/*
 * The EventSource client through HTTP CONNECT proxies
 * (wsx_eventsource_client_options.proxy): a real tinyproxy started by the
 * test on a loopback port in front of a wsx EventSource server, with and
 * without Basic auth, missing or wrong credentials (407 / 401: fail for
 * good), a port the
 * proxy refuses (403), the http_proxy environment, and option checks.
 * tinyproxy comes from Debian (scripts/install-deps.sh); WSX_TINYPROXY
 * overrides its path; without it the tinyproxy cases FAIL with the reason.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "wsx/eventsource.h"


static struct {
  uv_loop_t loop;
  uv_timer_t guard;
  wsx_server *srv;
  int port, srv_closed;
  int c_open, c_msg, c_err, c_close, err_code, err_status, err_reconnect;
  char log[256], err_msg[320];
} T;

#include "tinyproxy.h"

/* ---- the EventSource server: three events, then the stream stays ---- */

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  int err, i;
  wsx_eventsource *es = wsx_eventsource_new(req, res, NULL, NULL, NULL, &err);
  (void)srv, (void)ud;
  if (!es)
    return;
  for (i = 1; i <= 3; i++) {
    char id[16], data[24];
    int n = snprintf(data, sizeof(data), "e%d", i);
    snprintf(id, sizeof(id), "%d", i);
    CHECK(wsx_eventsource_send(es, data, (size_t)n, NULL, id) >= 0);
  }
}

static void srv_closed(wsx_server *srv, void *ud) {
  (void)srv, (void)ud;
  T.srv_closed = 1;
}

/* ---- the client ---- */

static void c_open(wsx_eventsource_client *c, void *ud) {
  (void)c, (void)ud;
  T.c_open++;
}
static void c_msg(wsx_eventsource_client *c, const wsx_eventsource_event *e,
                  void *ud) {
  size_t n = strlen(T.log);
  (void)ud;
  snprintf(T.log + n, sizeof(T.log) - n, "%.*s;", (int)e->data_len, e->data);
  if (++T.c_msg == 3)
    CHECK_INT(wsx_eventsource_client_close(c), 0);
}
static void c_err(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                  void *ud) {
  (void)ud;
  T.c_err++;
  T.err_code = e->code;
  T.err_status = e->status_code;
  T.err_reconnect = e->will_reconnect;
  snprintf(T.err_msg, sizeof(T.err_msg), "%s", e->message);
  if (e->will_reconnect) /* the cases here expect no retries */
    (void)wsx_eventsource_client_close(c);
}
static void c_close(wsx_eventsource_client *c, void *ud) {
  (void)c, (void)ud;
  T.c_close++;
}

static void guard_cb(uv_timer_t *t) {
  (void)t;
  uv_stop(&T.loop);
}

static void setup(void) {
  static const wsx_server_callbacks cbs = {
      .struct_size = sizeof(wsx_server_callbacks),
      .http_request = on_http,
      .closed = srv_closed};
  int err;
  memset(&T, 0, sizeof(T));
  uv_loop_init(&T.loop);
  uv_timer_init(&T.loop, &T.guard);
  T.srv = wsx_server_new(&T.loop, NULL, &cbs, NULL, &err);
  if (T.srv && wsx_server_listen(T.srv, "127.0.0.1", 0) == 0)
    T.port = wsx_server_port(T.srv);
}

/* Runs until the client closed (or 8 s), then frees the server and checks
 * that the loop closes with nothing left. */
static void run_and_finish(void) {
  uv_timer_start(&T.guard, guard_cb, 8000, 0);
  while (!T.c_close && uv_run(&T.loop, UV_RUN_ONCE))
    if (!uv_is_active((uv_handle_t *)&T.guard))
      break;
  CHECK_INT(T.c_close, 1);
  if (T.srv)
    wsx_server_free(T.srv);
  uv_timer_start(&T.guard, guard_cb, 3000, 0);
  while (T.srv && !T.srv_closed && uv_run(&T.loop, UV_RUN_ONCE))
    if (!uv_is_active((uv_handle_t *)&T.guard))
      break;
  uv_close((uv_handle_t *)&T.guard, NULL);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&T.loop), 0);
}

static wsx_eventsource_client *client(const wsx_socket_proxy *px, int *err) {
  static const wsx_eventsource_client_callbacks cbs = {
      sizeof(wsx_eventsource_client_callbacks), c_open, c_msg, c_err, c_close};
  wsx_eventsource_client_options o = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  char url[64];
  o.proxy = px;
  o.retry_ms = 100;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", T.port);
  return wsx_eventsource_client_new(&T.loop, url, &o, &cbs, NULL, err);
}

/* Events through tinyproxy at `prefix`127.0.0.1:port. */
static void via_tinyproxy(const char *auth, const char *prefix,
                          int use_env) {
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char origin[96], want[48];
  const char *why;
  tproxy tp;
  int err;
  setup();
  REQUIRE(T.port > 0);
  if ((why = tp_start(&tp, T.port, auth)) != NULL) {
    TEST_FAILF_("%s", why);
    wsx_server_free(T.srv);
    T.c_close = 1;
    run_and_finish();
    return;
  }
  snprintf(origin, sizeof(origin), "%s127.0.0.1:%d", prefix, tp.port);
  if (use_env) {
    setenv("http_proxy", origin, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    px.use_env = 1;
  } else {
    px.origin = origin;
  }
  REQUIRE(client(&px, &err) != NULL);
  if (use_env)
    unsetenv("http_proxy"); /* read by the constructor */
  run_and_finish();
  CHECK_STR(T.log, "e1;e2;e3;");
  CHECK_INT(T.c_open, 1);
  CHECK_INT(T.c_err, 0);
  snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d", T.port);
  if (!tp_log_has(&tp, want))
    TEST_FAILF_("tinyproxy did not log \"%s\"", want);
  tp_stop(&tp);
}

TEST(es_through_tinyproxy) { via_tinyproxy(NULL, "http://", 0); }
TEST(es_through_tinyproxy_basic_auth) {
  via_tinyproxy("esuser s3cret", "http://esuser:s3cret@", 0);
}
TEST(es_through_proxy_from_environment) {
  via_tinyproxy(NULL, "", 1);
}

static void refused(const char *auth, const char *prefix, int cport_delta,
                    int status) {
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  char origin[96];
  const char *why;
  tproxy tp;
  int err;
  setup();
  REQUIRE(T.port > 0);
  if ((why = tp_start(&tp, T.port + cport_delta, auth)) != NULL) {
    TEST_FAILF_("%s", why);
    wsx_server_free(T.srv);
    T.c_close = 1;
    run_and_finish();
    return;
  }
  snprintf(origin, sizeof(origin), "%s127.0.0.1:%d", prefix, tp.port);
  px.origin = origin;
  REQUIRE(client(&px, &err) != NULL);
  run_and_finish();
  CHECK_INT(T.c_open, 0);
  CHECK_INT(T.c_err, 1);
  CHECK_INT(T.err_code, WSX_E_PROXY);
  CHECK_INT(T.err_status, status);
  if (T.err_status != status)
    printf("  (error: %s)\n", T.err_msg);
  CHECK_INT(T.err_reconnect, 0);
  tp_stop(&tp);
}

/* tinyproxy 1.11 answers missing credentials with 407, wrong ones with
 * 401: both are final. */
TEST(es_proxy_missing_credentials_fails_407) {
  refused("esuser s3cret", "http://", 0, 407);
}
TEST(es_proxy_wrong_password_fails_401) {
  refused("esuser s3cret", "http://esuser:wrong@", 0, 401);
}
TEST(es_proxy_forbidden_port_fails_403) {
  refused(NULL, "http://", 1, 403);
}

TEST(es_proxy_option_checks) {
  wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
  int err = 0;
  setup();
  px.origin = "https://127.0.0.1:3129";
  CHECK(client(&px, &err) == NULL);
  CHECK_INT(err, WSX_E_UNSUPPORTED);
  px.origin = "ftp://127.0.0.1:21";
  CHECK(client(&px, &err) == NULL);
  CHECK_INT(err, WSX_E_URL);
  px.origin = NULL; /* neither origin nor use_env */
  CHECK(client(&px, &err) == NULL);
  CHECK_INT(err, WSX_E_INVALID);
  px.struct_size = 0;
  px.origin = "http://127.0.0.1:3128";
  CHECK(client(&px, &err) == NULL);
  CHECK_INT(err, WSX_E_STRUCT_SIZE);
  T.c_close = 1;
  run_and_finish();
}

TEST_MAIN(signal(SIGPIPE, SIG_IGN); RUN(es_through_tinyproxy);
          RUN(es_through_tinyproxy_basic_auth);
          RUN(es_through_proxy_from_environment);
          RUN(es_proxy_missing_credentials_fails_407);
          RUN(es_proxy_wrong_password_fails_401);
          RUN(es_proxy_forbidden_port_fails_403); RUN(es_proxy_option_checks))
