/*
 * test_abi.c: the ABI policy of include/wsx/common.h, entry point by entry
 * point. Every options/callbacks struct is refused with WSX_E_STRUCT_SIZE
 * when its struct_size is 0 (a zeroed struct), larger than the library's
 * struct (a newer header) or not a multiple of its alignment; a smaller,
 * older layout is accepted and the members it lacks take their defaults.
 * Public API only, so the normal build runs it against libwsx.so.
 */
#include <stddef.h>

#include "test.h"
#include "wsx/eventsource.h"
#include "wsx/extension.h"
#include "wsx/proxy.h"
#include "wsx/uv.h"

/* The bad sizes every check tries, for a struct of `size` bytes. */
static size_t bad_size(int i, size_t size) {
  switch (i) {
  case 0:
    return 0;
  case 1:
    return size + sizeof(size_t); /* a newer header's struct */
  case 2:
    return size - 1; /* not a multiple of the alignment */
  case 3:
    return 3;
  default:
    return (size_t)-1;
  }
}
#define NBAD 5

/* An allocator that counts its calls: a default (libc) must not reach it. */
static int alloc_calls;
static void *c_malloc(size_t n, void *ud) {
  (void)ud;
  alloc_calls++;
  return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  alloc_calls++;
  return realloc(p, n);
}
static void c_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static const wsx_allocator counting = {c_malloc, c_realloc, c_free, NULL};

static int dummy_write(wsx_driver *d, const wsx_iovec *iov, size_t n,
                       void *ud) {
  (void)d, (void)iov, (void)n, (void)ud;
  return 0;
}

TEST(version_and_error) {
  CHECK_INT(wsx_version_num(), WSX_VERSION_NUM);
  CHECK(WSX_VERSION_CHECK());
  CHECK(wsx_abi_compatible(WSX_VERSION_NUM));
  /* 0.x: another minor is another ABI; so is another major. */
  CHECK(!wsx_abi_compatible(WSX_VERSION_NUM + 0x100));
  CHECK(!wsx_abi_compatible(WSX_VERSION_NUM + 0x10000));
  CHECK(!wsx_abi_compatible(WSX_VERSION_NUM + 1)); /* newer patch */
  CHECK(!wsx_abi_compatible(-1));
  CHECK(strcmp(wsx_strerror(WSX_E_STRUCT_SIZE), "unknown error") != 0);
  CHECK(!wsx_is_fatal(WSX_E_STRUCT_SIZE));
}

TEST(driver_rejects_bad_sizes) {
  for (int i = 0; i < NBAD; i++) {
    wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
    wsx_driver_callbacks c = WSX_DRIVER_CALLBACKS_INIT;
    int err = 0;
    o.struct_size = bad_size(i, sizeof o);
    CHECK(wsx_driver_new_server(&o, NULL, NULL) == NULL);
    CHECK(wsx_driver_new_client("ws://h/", &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    c.struct_size = bad_size(i, sizeof c);
    CHECK(wsx_driver_new_server(NULL, &c, NULL) == NULL);
    err = 0;
    CHECK(wsx_driver_new_client("ws://h/", NULL, &c, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
  }
  /* The INIT macros (and NULL) are accepted. */
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  wsx_driver_callbacks c = WSX_DRIVER_CALLBACKS_INIT;
  wsx_driver *d = wsx_driver_new_server(&o, &c, NULL);
  CHECK(d != NULL);
  wsx_driver_free(d);
  d = wsx_driver_new_server(NULL, NULL, NULL);
  CHECK(d != NULL);
  wsx_driver_free(d);
}

/* An older header's struct: only the members up to `allocator` existed...
 * here simulated by cutting the current struct before `allocator` and
 * leaving a value there that the library must not read. */
TEST(driver_old_layout_defaults) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.struct_size = offsetof(wsx_driver_options, allocator);
  o.allocator = &counting; /* past struct_size: must read as NULL (libc) */
  o.origin = "http://origin.test";
  alloc_calls = 0;
  wsx_driver_callbacks c = WSX_DRIVER_CALLBACKS_INIT;
  c.write = dummy_write;
  int err = -1;
  wsx_driver *d = wsx_driver_new_client("ws://h/", &o, &c, NULL, &err);
  REQUIRE(d != NULL);
  CHECK_INT(wsx_driver_start(d), WSX_OK);
  wsx_driver_free(d);
  CHECK_INT(alloc_calls, 0);
  /* The same struct, whole: the allocator is used. */
  o.struct_size = sizeof o;
  d = wsx_driver_new_client("ws://h/", &o, &c, NULL, &err);
  REQUIRE(d != NULL);
  wsx_driver_free(d);
  CHECK(alloc_calls > 0);
  /* Callbacks: an older struct without `select_protocol` and `error`. */
  c.struct_size = offsetof(wsx_driver_callbacks, error);
  d = wsx_driver_new_server(NULL, &c, NULL);
  CHECK(d != NULL);
  wsx_driver_free(d);
}

TEST(extensions_reject_bad_sizes) {
  for (int i = 0; i < NBAD; i++) {
    wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
    o.struct_size = bad_size(i, sizeof o);
    CHECK(wsx_deflate_new(&o) == NULL);
  }
  /* Old layout: allocator beyond it, not used. */
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.struct_size = offsetof(wsx_deflate_options, allocator);
  o.allocator = &counting;
  alloc_calls = 0;
  wsx_extension *ext = wsx_deflate_new(&o);
  CHECK(ext != NULL);
  CHECK_INT(alloc_calls, 0);
  /* A type table with a bad size cannot be registered. */
  wsx_extension_type t = *ext->type;
  wsx_extension bad = {&t, ext->config};
  wsx_driver *d = wsx_driver_new_server(NULL, NULL, NULL);
  REQUIRE(d != NULL);
  for (int i = 0; i < NBAD; i++) {
    t.struct_size = bad_size(i, sizeof t);
    CHECK_INT(wsx_driver_add_extension(d, &bad), WSX_E_STRUCT_SIZE);
  }
  CHECK_INT(wsx_driver_add_extension(d, ext), WSX_OK);
  wsx_driver_free(d);
  wsx_deflate_free(ext);
}

TEST(proxy_rejects_bad_sizes) {
  for (int i = 0; i < NBAD; i++) {
    wsx_proxy_options o = WSX_PROXY_OPTIONS_INIT;
    wsx_proxy_callbacks c = WSX_PROXY_CALLBACKS_INIT;
    int err = 0;
    o.struct_size = bad_size(i, sizeof o);
    CHECK(wsx_proxy_new("http://p:3128", "h", 80, &o, NULL, NULL, &err) ==
          NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    c.struct_size = bad_size(i, sizeof c);
    err = 0;
    CHECK(wsx_proxy_new("http://p:3128", "h", 80, NULL, &c, NULL, &err) ==
          NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
  }
  wsx_proxy_options o = WSX_PROXY_OPTIONS_INIT;
  o.struct_size = offsetof(wsx_proxy_options, allocator);
  o.allocator = &counting;
  alloc_calls = 0;
  int err = -1;
  wsx_proxy *p = wsx_proxy_new("http://p:3128", "h", 80, &o, NULL, NULL, &err);
  CHECK(p != NULL);
  CHECK_INT(err, WSX_OK);
  wsx_proxy_free(p);
  CHECK_INT(alloc_calls, 0);
}

/* ---- libuv entry points ---- */

static uv_loop_t loop;
static int closed;
static void on_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s, (void)e, (void)ud;
  closed++;
}

/* Runs the loop until `*flag` or 3 s. */
static void run_until(const int *flag) {
  uint64_t end = uv_now(&loop) + 3000;
  while (!*flag && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
}

static wsx_socket *connect_with(const wsx_socket_options *o,
                                const wsx_socket_callbacks *c, int *err) {
  *err = 0;
  return wsx_socket_connect(&loop, "wss://127.0.0.1:9/", o, c, NULL, err);
}

TEST(socket_connect_rejects_bad_sizes) {
  uv_loop_init(&loop);
  for (int i = 0; i < NBAD; i++) {
    wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
    wsx_socket_callbacks c = WSX_SOCKET_CALLBACKS_INIT;
    wsx_driver_options d = WSX_DRIVER_OPTIONS_INIT;
    wsx_socket_proxy px = WSX_SOCKET_PROXY_INIT;
    wsx_tls_client_options tls = WSX_TLS_CLIENT_OPTIONS_INIT;
    wsx_tls_cert cert = WSX_TLS_CERT_INIT;
    int err;
    o.struct_size = bad_size(i, sizeof o);
    CHECK(connect_with(&o, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    o.struct_size = sizeof o;
    c.struct_size = bad_size(i, sizeof c);
    CHECK(connect_with(&o, &c, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    d.struct_size = bad_size(i, sizeof d);
    o.driver = &d;
    CHECK(connect_with(&o, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    o.driver = NULL;
    px.struct_size = bad_size(i, sizeof px);
    px.origin = "http://127.0.0.1:9";
    o.proxy = &px;
    CHECK(connect_with(&o, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    o.proxy = NULL;
    tls.struct_size = bad_size(i, sizeof tls);
    o.tls = &tls;
    CHECK(connect_with(&o, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    tls.struct_size = sizeof tls;
    cert.struct_size = bad_size(i, sizeof cert);
    cert.cert_file = "/nonexistent.pem";
    tls.cert = &cert;
    CHECK(connect_with(&o, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
  }
  CHECK_INT(uv_run(&loop, UV_RUN_NOWAIT), 0); /* nothing was created */
  CHECK_INT(uv_loop_close(&loop), 0);
}

/* An old wsx_socket_options without `tls` and `proxy`: a proxy pointer past
 * its struct_size is not read (the connection goes direct, fails on the
 * closed port, and closes). */
TEST(socket_old_layout_defaults) {
  uv_loop_init(&loop);
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  wsx_socket_proxy bad = WSX_SOCKET_PROXY_INIT; /* no origin: invalid */
  o.struct_size = offsetof(wsx_socket_options, tls);
  o.proxy = &bad;
  wsx_socket_callbacks c = WSX_SOCKET_CALLBACKS_INIT;
  c.close = on_close;
  closed = 0;
  int err = -1;
  wsx_socket *s = wsx_socket_connect(&loop, "ws://127.0.0.1:9/", &o, &c, NULL,
                                     &err);
  CHECK_INT(err, WSX_OK);
  REQUIRE(s != NULL);
  /* set_callbacks checks its struct too. */
  wsx_socket_callbacks z = WSX_SOCKET_CALLBACKS_INIT;
  for (int i = 0; i < NBAD; i++) {
    z.struct_size = bad_size(i, sizeof z);
    CHECK_INT(wsx_socket_set_callbacks(s, &z), WSX_E_STRUCT_SIZE);
  }
  run_until(&closed);
  CHECK_INT(closed, 1); /* the old callbacks stayed */
  /* The whole struct: the invalid proxy is read and refused. */
  o.struct_size = sizeof o;
  CHECK(wsx_socket_connect(&loop, "ws://127.0.0.1:9/", &o, &c, NULL, &err) ==
        NULL);
  CHECK_INT(err, WSX_E_INVALID);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

TEST(server_rejects_bad_sizes) {
  uv_loop_init(&loop);
  for (int i = 0; i < NBAD; i++) {
    wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
    wsx_server_callbacks c = WSX_SERVER_CALLBACKS_INIT;
    wsx_socket_options so = WSX_SOCKET_OPTIONS_INIT;
    wsx_socket_callbacks sc = WSX_SOCKET_CALLBACKS_INIT;
    wsx_driver_options d = WSX_DRIVER_OPTIONS_INIT;
    wsx_tls_server_options tls = WSX_TLS_SERVER_OPTIONS_INIT;
    wsx_tls_cert cert = WSX_TLS_CERT_INIT;
    wsx_tls_sni_entry sni = {"a.test", &cert};
    int err = 0;
    o.struct_size = bad_size(i, sizeof o);
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    o.struct_size = sizeof o;
    c.struct_size = bad_size(i, sizeof c);
    CHECK(wsx_server_new(&loop, NULL, &c, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    c.struct_size = sizeof c;
    sc.struct_size = bad_size(i, sizeof sc);
    c.socket = &sc;
    CHECK(wsx_server_new(&loop, NULL, &c, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    so.struct_size = bad_size(i, sizeof so);
    o.socket = &so;
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    so.struct_size = sizeof so;
    d.struct_size = bad_size(i, sizeof d);
    so.driver = &d;
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    o.socket = NULL;
    tls.struct_size = bad_size(i, sizeof tls);
    o.tls = &tls;
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    tls.struct_size = sizeof tls;
    cert.struct_size = bad_size(i, sizeof cert);
    tls.cert = &cert;
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    tls.cert = NULL;
    tls.sni = &sni;
    tls.num_sni = 1;
    CHECK(wsx_server_new(&loop, &o, NULL, NULL, &err) == NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
  }
  CHECK_INT(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_INT(uv_loop_close(&loop), 0);
}

/* A server whose request handlers hand bad structs to wsx_request_accept,
 * wsx_http_res_set_callbacks and wsx_eventsource_new; the clients see the
 * refusals. */
static int req_err, res_err, es_opts_err, es_cbs_err, server_closed;
static wsx_server *srv;
static wsx_eventsource_client *esc;

static void on_request(wsx_server *s, wsx_request *req, void *ud) {
  wsx_socket_callbacks bad = WSX_SOCKET_CALLBACKS_INIT;
  (void)s, (void)ud;
  bad.struct_size = 0;
  req_err = 1;
  if (wsx_request_accept(req, NULL, NULL, &bad, NULL, &req_err) != NULL)
    req_err = 1;
}

static void on_http(wsx_server *s, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  wsx_http_res_callbacks rc = WSX_HTTP_RES_CALLBACKS_INIT;
  wsx_eventsource_options eo = WSX_EVENTSOURCE_OPTIONS_INIT;
  wsx_eventsource_callbacks ec = WSX_EVENTSOURCE_CALLBACKS_INIT;
  (void)s, (void)ud;
  rc.struct_size = sizeof rc + sizeof(size_t);
  res_err = wsx_http_res_set_callbacks(res, &rc, NULL);
  eo.struct_size = 0;
  es_opts_err = 1;
  CHECK(wsx_eventsource_new(req, res, &eo, NULL, NULL, &es_opts_err) == NULL);
  ec.struct_size = 1;
  es_cbs_err = 1;
  CHECK(wsx_eventsource_new(req, res, NULL, &ec, NULL, &es_cbs_err) == NULL);
  (void)wsx_http_res_status(res, 503, NULL);
  (void)wsx_http_res_end(res, NULL, 0);
}

static void on_server_closed(wsx_server *s, void *ud) {
  (void)s, (void)ud;
  server_closed = 1;
}

static void on_es_error(wsx_eventsource_client *c,
                        const wsx_eventsource_error *e, void *ud) {
  (void)e, (void)ud;
  wsx_eventsource_client_close(c);
}
static int es_closed;
static void on_es_close(wsx_eventsource_client *c, void *ud) {
  (void)c, (void)ud;
  es_closed = 1;
  esc = NULL;
}

TEST(request_time_entry_points) {
  uv_loop_init(&loop);
  wsx_server_callbacks c = WSX_SERVER_CALLBACKS_INIT;
  c.request = on_request;
  c.http_request = on_http;
  c.closed = on_server_closed;
  int err;
  srv = wsx_server_new(&loop, NULL, &c, NULL, &err);
  REQUIRE(srv != NULL);
  REQUIRE(wsx_server_listen(srv, "127.0.0.1", 0) == WSX_OK);
  int port = wsx_server_port(srv);
  char url[64];
  /* WebSocket: the accept is refused, the client's handshake fails. */
  wsx_socket_callbacks sc = WSX_SOCKET_CALLBACKS_INIT;
  sc.close = on_close;
  closed = 0;
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
  REQUIRE(wsx_socket_connect(&loop, url, NULL, &sc, NULL, &err) != NULL);
  run_until(&closed);
  CHECK_INT(req_err, WSX_E_STRUCT_SIZE);
  /* EventSource over the HTTP front. */
  for (int i = 0; i < NBAD; i++) {
    wsx_eventsource_client_options eo = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
    wsx_eventsource_client_callbacks ec =
        WSX_EVENTSOURCE_CLIENT_CALLBACKS_INIT;
    eo.struct_size = bad_size(i, sizeof eo);
    CHECK(wsx_eventsource_client_new(&loop, url, &eo, NULL, NULL, &err) ==
          NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
    ec.struct_size = bad_size(i, sizeof ec);
    CHECK(wsx_eventsource_client_new(&loop, url, NULL, &ec, NULL, &err) ==
          NULL);
    CHECK_INT(err, WSX_E_STRUCT_SIZE);
  }
  wsx_eventsource_client_callbacks ec = WSX_EVENTSOURCE_CLIENT_CALLBACKS_INIT;
  ec.error = on_es_error;
  ec.close = on_es_close;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
  esc = wsx_eventsource_client_new(&loop, url, NULL, &ec, NULL, &err);
  REQUIRE(esc != NULL);
  run_until(&es_closed);
  CHECK_INT(res_err, WSX_E_STRUCT_SIZE);
  CHECK_INT(es_opts_err, WSX_E_STRUCT_SIZE);
  CHECK_INT(es_cbs_err, WSX_E_STRUCT_SIZE);
  wsx_server_free(srv);
  run_until(&server_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

TEST_MAIN(RUN(version_and_error); RUN(driver_rejects_bad_sizes);
          RUN(driver_old_layout_defaults); RUN(extensions_reject_bad_sizes);
          RUN(proxy_rejects_bad_sizes); RUN(socket_connect_rejects_bad_sizes);
          RUN(socket_old_layout_defaults); RUN(server_rejects_bad_sizes);
          RUN(request_time_entry_points))
