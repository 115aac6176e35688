/*
 * WebSocket over HTTP/2 (RFC 8441) through the public API: a TLS server
 * with tls.http2 on the loop, an HTTP/2 client (nghttp2's client session
 * over a blocking OpenSSL socket) in a thread doing the extended CONNECT.
 * What the Python interop test cannot see from the outside:
 *   - buffered_amount and drain follow the stream's window (a stall keeps
 *     the bytes buffered, WINDOW_UPDATEs bring drain);
 *   - the app's reject status reaches the client as :status;
 *   - wsx_socket_pause holds messages (the window stays shut) until
 *     wsx_socket_resume;
 *   - accessors: wsx_socket_is_http2, remote address, ALPN of a plain
 *     client stays http/1.1.
 * Built without HTTP/2 (WSX_HTTP2=OFF) it prints one `skip` line.
 */
#include "test_uv_util.h"

#ifndef WSX_HAVE_HTTP2
/* Without HTTP/2 the option is refused, not ignored. */
TEST(http2_unsupported) {
  wsx_tls_server_options tls = WSX_TLS_SERVER_OPTIONS_INIT;
  wsx_tls_cert cert = WSX_TLS_CERT_INIT;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  int err = 0;
  ev_reset();
  cert.cert_file = "unused.pem";
  cert.key_file = "unused.key";
  tls.cert = &cert;
  tls.http2 = 1;
  o.tls = &tls;
  CHECK(wsx_server_new(&T.loop, &o, NULL, NULL, &err) == NULL);
  CHECK_INT(err, WSX_E_UNSUPPORTED);
  CHECK_INT(wsx_http2_available(), 0);
  CHECK_INT(ev_finish(), 0);
}
TEST_MAIN(printf("ok uv_h2 # skip: built without HTTP/2 (WSX_HTTP2=OFF)\n");
          RUN(http2_unsupported))
#else

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "helpers/script_dir.h"
#include "wsx/tls.h"

#include "h2_cert.h"

/* ---- the client thread ---- */

typedef struct h2c {
  pthread_t th;
  int port;
  const char *path;
  uint32_t window;     /* SETTINGS_INITIAL_WINDOW_SIZE */
  int stall_ms;        /* after the 200: consume nothing for this long */
  size_t want;         /* DATA bytes to read before hanging up */
  uint8_t frames[256]; /* WebSocket frames to send after the 200 */
  size_t frames_len, frames_off;
  int linger_ms; /* after `want`: stay connected this long */
  /* results */
  _Atomic int status;
  _Atomic size_t got;
  _Atomic int done;
  _Atomic int goaway;
  char alpn[16];
  char note[128];
  /* internals */
  SSL *ssl;
  nghttp2_session *ng;
  int32_t sid;
  size_t owed;
  int consuming, sent;
} h2c;

static ssize_t c_send(nghttp2_session *ng, const uint8_t *d, size_t n,
                      int flags, void *ud) {
  h2c *c = ud;
  size_t w = 0;
  (void)ng, (void)flags;
  if (SSL_write_ex(c->ssl, d, n, &w) != 1)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  return (ssize_t)w;
}

static int c_header(nghttp2_session *ng, const nghttp2_frame *f,
                    const uint8_t *name, size_t nl, const uint8_t *v, size_t vl,
                    uint8_t flags, void *ud) {
  h2c *c = ud;
  (void)ng, (void)f, (void)flags;
  if (nl == 7 && memcmp(name, ":status", 7) == 0 && vl == 3)
    c->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
  return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                  const uint8_t *d, size_t n, void *ud) {
  h2c *c = ud;
  (void)flags, (void)d;
  c->got += n;
  if (c->consuming)
    nghttp2_session_consume(ng, id, n);
  else
    c->owed += n;
  return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  h2c *c = ud;
  (void)ng;
  if (f->hd.type == NGHTTP2_GOAWAY)
    c->goaway = 1;
  return 0;
}

static ssize_t c_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                      uint32_t *flags, nghttp2_data_source *src, void *ud) {
  h2c *c = ud;
  size_t n = c->frames_len - c->frames_off;
  (void)ng, (void)id, (void)src;
  if (n == 0)
    return NGHTTP2_ERR_DEFERRED;
  if (n > len)
    n = len;
  memcpy(buf, c->frames + c->frames_off, n);
  c->frames_off += n;
  (void)flags;
  return (ssize_t)n;
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void *client_main(void *arg) {
  h2c *c = arg;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt;
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  uint64_t t200 = 0, end = now_ms() + 8000, hung = 0;
  const unsigned char *ap;
  unsigned apl;
  char path[64];
  nghttp2_nv nv[8];
  nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)c->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
  {
    int one = 1; /* each small WINDOW_UPDATE leaves at once */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      !(c->ssl = SSL_new(ctx)) || !SSL_set_fd(c->ssl, fd) ||
      SSL_connect(c->ssl) != 1) {
    snprintf(c->note, sizeof(c->note), "TLS connect failed");
    goto out;
  }
  SSL_get0_alpn_selected(c->ssl, &ap, &apl);
  snprintf(c->alpn, sizeof(c->alpn), "%.*s", (int)apl, (const char *)ap);
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, c_send);
  nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_session_client_new2(&c->ng, cb, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  iv.value = c->window;
  nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, &iv, 1);
  nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, 1 << 26);
  snprintf(path, sizeof(path), "%s", c->path ? c->path : "/");
#define NV(i, n, v)                                                            \
  nv[i] = (nghttp2_nv) {                                                       \
    (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
  }
  NV(0, ":method", "CONNECT");
  NV(1, ":protocol", "websocket");
  NV(2, ":scheme", "https");
  NV(3, ":path", path);
  NV(4, ":authority", "localhost");
  NV(5, "sec-websocket-version", "13");
  NV(6, "cookie", "a=1"); /* HTTP/2 sends cookies as separate fields */
  NV(7, "cookie", "b=2");
  if (c->path) { /* NULL: an idle connection */
    nghttp2_data_provider prd = {{.ptr = c}, c_read};
    c->sid = nghttp2_submit_request(c->ng, NULL, nv, 8, &prd, c);
  }
  c->consuming = c->stall_ms == 0;
  while (now_ms() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    if (nghttp2_session_send(c->ng) != 0)
      break;
    if (c->status == 200 && !t200)
      t200 = now_ms();
    if (c->status == 200 && !c->sent && c->frames_len) {
      c->sent = 1;
      nghttp2_session_resume_data(c->ng, c->sid);
      continue;
    }
    if (c->status && c->status != 200)
      break;
    if (t200 && !c->consuming && now_ms() >= t200 + (uint64_t)c->stall_ms) {
      c->consuming = 1;
      nghttp2_session_consume(c->ng, c->sid, c->owed);
      continue;
    }
    if (c->want && c->got >= c->want && !hung)
      hung = now_ms();
    if (hung && now_ms() >= hung + (uint64_t)c->linger_ms)
      break;
    if (SSL_pending(c->ssl) || poll(&p, 1, 10) > 0) {
      unsigned char buf[16384];
      size_t n = 0;
      if (SSL_read_ex(c->ssl, buf, sizeof(buf), &n) != 1)
        break;
      if (nghttp2_session_mem_recv(c->ng, buf, n) < 0)
        break;
    }
  }
out:
  if (c->ng)
    nghttp2_session_del(c->ng);
  if (c->ssl)
    SSL_free(c->ssl);
  SSL_CTX_free(ctx);
  if (fd >= 0)
    close(fd);
  c->done = 1;
  return NULL;
}

/* A masked client frame (key 0: the payload as is) into c->frames. */
static void add_frame(h2c *c, int op, const char *text) {
  size_t n = strlen(text);
  uint8_t *p = c->frames + c->frames_len;
  p[0] = (uint8_t)(0x80 | op);
  p[1] = (uint8_t)(0x80 | n);
  memset(p + 2, 0, 4);
  memcpy(p + 6, text, n);
  c->frames_len += 6 + n;
}

/* ---- the server ---- */

static struct {
  wsx_socket *s;
  size_t big;
  size_t buffered_at_open, buffered_at_drain;
  int send_rc;
  int pause_on_open;
  int is_h2;
  char addr[64];
  char cookie[64], method[16], host[64];
} S;

static void s_open(wsx_socket *s, void *ud) {
  static uint8_t blob[1 << 20];
  on_open(s, ud);
  S.s = s;
  S.is_h2 = wsx_socket_is_http2(s);
  (void)wsx_socket_remote_address(s, S.addr, sizeof(S.addr), NULL);
  if (S.big) {
    S.send_rc = wsx_socket_send_binary(s, blob, S.big);
    S.buffered_at_open = wsx_socket_buffered_amount(s);
  }
  if (S.pause_on_open)
    (void)wsx_socket_pause(s);
}

static void s_drain(wsx_socket *s, void *ud) {
  on_drain(s, ud);
  if (!S.buffered_at_drain)
    S.buffered_at_drain = wsx_socket_buffered_amount(s) + 1;
}

static const wsx_socket_callbacks s_cbs = {.struct_size =
                                               sizeof(wsx_socket_callbacks),
                                           .open = s_open,
                                           .message = on_message,
                                           .close = on_close,
                                           .error = on_error,
                                           .drain = s_drain};

static void s_request(wsx_server *srv, wsx_request *r, void *ud) {
  const char *ck = wsx_request_header(r, "cookie");
  (void)srv, (void)ud;
  snprintf(S.cookie, sizeof(S.cookie), "%s", ck ? ck : "(none)");
  snprintf(S.method, sizeof(S.method), "%s", wsx_request_method(r));
  snprintf(S.host, sizeof(S.host), "%s", wsx_request_host(r));
  if (strcmp(wsx_request_resource(r), "/nope") == 0)
    (void)wsx_request_reject(r, 403, "not here", NULL, 0);
  else
    (void)wsx_request_accept(r, NULL, NULL, &s_cbs, &T.s, NULL);
}

static uint32_t hs_timeout;

static int h2_server(size_t hwm) {
  static wsx_tls_server_options tls;
  static wsx_tls_cert cert;
  wsx_server_options o = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  memset(&S, 0, sizeof(S));
  tls = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  cert = (wsx_tls_cert)WSX_TLS_CERT_INIT;
  cert.cert_file = P("srv.pem");
  cert.key_file = P("srv.key");
  tls.cert = &cert;
  tls.http2 = 1;
  o.tls = &tls;
  srv_sock(&o)->high_water_mark = hwm;
  o.handshake_timeout = hs_timeout;
  cb.request = s_request;
  return start_server(NULL, &o, &cb);
}

static void tick_cb(uv_timer_t *t) { (void)t; }

/* The client thread's `done` does not wake the loop: a ticking timer
 * does, so the wait ends as soon as it is set. */
static void finish(h2c *c) {
  uv_timer_t tick;
  uv_timer_init(&T.loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  RUN_UNTIL(c->done, 10000);
  uv_close((uv_handle_t *)&tick, NULL);
  pthread_join(c->th, NULL);
  RUN_UNTIL(T.s.close || !T.s.open, 3000);
  wsx_server_free(T.srv);
  run_for(2000);
}

TEST(drain_follows_window) {
  static h2c c;
  ev_reset();
  REQUIRE(h2_server(64 * 1024) == 0);
  memset(&c, 0, sizeof(c));
  S.big = 1 << 20;
  c.port = T.port;
  c.path = "/big";
  c.window = 16384;
  c.stall_ms = 400;
  c.want = (1 << 20) + 10;
  pthread_create(&c.th, NULL, client_main, &c);
  RUN_UNTIL(T.s.open, 5000);
  REQUIRE(T.s.open == 1);
  CHECK_INT(S.is_h2, 1);
  CHECK_INT(wsx_http2_available(), 1);
  CHECK_STR(S.addr, "127.0.0.1");
  CHECK_INT(S.send_rc, 1); /* above the high-water mark */
  CHECK(S.buffered_at_open > (1 << 20) - 70000);
  run_for(200); /* the client holds its window shut */
  CHECK_INT(T.s.drain, 0);
  CHECK(wsx_socket_buffered_amount(S.s) > (1 << 20) - 70000);
  RUN_UNTIL(T.s.drain, 5000);
  CHECK_INT(T.s.drain, 1);
  CHECK(S.buffered_at_drain >= 1 && S.buffered_at_drain - 1 <= 64 * 1024);
  finish(&c);
  CHECK(c.got >= (1 << 20) + 10);
  CHECK_STR(c.alpn, "h2");
  CHECK_INT(T.s.close, 1);
  CHECK_INT(T.s.close_code, 1006); /* the client hung up */
  CHECK_INT(ev_finish(), 0);
}

TEST(reject_status) {
  static h2c c;
  ev_reset();
  REQUIRE(h2_server(0) == 0);
  memset(&c, 0, sizeof(c));
  c.port = T.port;
  c.path = "/nope";
  c.window = 65535;
  pthread_create(&c.th, NULL, client_main, &c);
  finish(&c);
  CHECK_INT(c.status, 403);
  CHECK_INT(T.s.open, 0);
  /* The request as the app sees it: an HTTP/1.1-style upgrade. */
  CHECK_STR(S.cookie, "a=1; b=2");
  CHECK_STR(S.method, "GET");
  CHECK_STR(S.host, "localhost");
  CHECK_INT(ev_finish(), 0);
}

TEST(pause_resume) {
  static h2c c;
  ev_reset();
  REQUIRE(h2_server(0) == 0);
  memset(&c, 0, sizeof(c));
  S.pause_on_open = 1;
  c.port = T.port;
  c.path = "/p";
  c.window = 65535;
  add_frame(&c, 1, "one");
  add_frame(&c, 1, "two");
  add_frame(&c, 1, "three");
  c.want = 1; /* stays until the linger ends */
  c.linger_ms = 1500;
  T.echo = 1;
  pthread_create(&c.th, NULL, client_main, &c);
  RUN_UNTIL(T.s.open, 5000);
  REQUIRE(T.s.open == 1);
  run_for(300);
  CHECK_INT(T.s.message, 0); /* paused: held */
  CHECK_INT(wsx_socket_resume(S.s), WSX_OK);
  RUN_UNTIL(T.s.message == 3, 3000);
  CHECK_INT(T.s.message, 3);
  CHECK_MEM(T.s.msg, T.s.msg_len, "three", 5);
  finish(&c);
  CHECK(c.got >= 3 * 2 + 11); /* the echoes */
  CHECK_INT(ev_finish(), 0);
}

/* A connection that opens no stream is closed after the handshake
 * timeout, with a GOAWAY first. */
TEST(idle_connection) {
  static h2c c;
  uint64_t t0;
  ev_reset();
  hs_timeout = 300;
  REQUIRE(h2_server(0) == 0);
  hs_timeout = 0;
  memset(&c, 0, sizeof(c));
  c.port = T.port;
  c.window = 65535;
  t0 = now_ms();
  pthread_create(&c.th, NULL, client_main, &c);
  finish(&c);
  CHECK_INT(c.goaway, 1);
  CHECK(now_ms() - t0 < 3000); /* not the client's own 8 s limit */
  CHECK_STR(c.alpn, "h2");
  CHECK_INT(ev_finish(), 0);
}

TEST_MAIN(if (tc_script_dir("wsx-h2", h2_gen_script, dir, sizeof(dir)) != 0) {
  printf("FAIL setup: could not generate a certificate with openssl\n");
  return 1;
} RUN(drain_follows_window);
          RUN(reject_status); RUN(pause_resume); RUN(idle_connection);
          tc_rm_dir(dir))
#endif
