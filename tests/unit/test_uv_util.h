/*
 * Shared fixture of the libuv transport tests (tests/unit/test_uv_*.c):
 * a loop per test, a guard timer that bounds every run, event counters,
 * raw TCP peers, and the final check that the loop closes with nothing left
 * open.
 */
#ifndef WSX_TEST_UV_UTIL_H
#define WSX_TEST_UV_UTIL_H

#include <uv.h>

#include "test.h"
#include "wsx/uv.h"

#include <unistd.h>

/* Event log of one test. Reset by ev_reset(). */
typedef struct ev_side {
  int open, message, close, error, ping, pong, drain, failed, frame;
  int close_code, close_clean, error_code, fail_code, fail_uv, fail_status;
  char close_reason[128];
  char msg[512];
  size_t msg_len;
  int msg_op;
  size_t bytes; /* total message bytes received */
  char fail_msg[320];
  wsx_socket *sock;
} ev_side;

static struct {
  uv_loop_t loop;
  uv_timer_t guard;
  int timed_out;
  wsx_server *srv;
  int port;
  ev_side s, c;      /* server side, client side */
  int echo;          /* server echoes messages */
  int stop_on_close; /* stop the loop when both closes have fired */
  int srv_closed;
} T;

static __attribute__((unused)) void guard_cb(uv_timer_t *t) {
  (void)t;
  T.timed_out = 1;
  uv_stop(&T.loop);
}

static __attribute__((unused)) void ev_reset(void) {
  memset(&T, 0, sizeof(T));
  uv_loop_init(&T.loop);
  uv_timer_init(&T.loop, &T.guard);
  uv_unref((uv_handle_t *)&T.guard);
}

/* Runs the loop until it has nothing left or `ms` pass. */
static __attribute__((unused)) void run_for(unsigned ms) {
  uv_timer_start(&T.guard, guard_cb, ms, 0);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  uv_timer_stop(&T.guard);
}

static __attribute__((unused)) void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (h != (uv_handle_t *)&T.guard) {
    printf("  (left open: handle type %s)\n", uv_handle_type_name(h->type));
    if (!uv_is_closing(h))
      uv_close(h, NULL);
  }
}

/* Closes the guard and checks the loop has nothing left open. */
static __attribute__((unused)) int ev_finish(void) {
  int rc;
  uv_close((uv_handle_t *)&T.guard, NULL);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  rc = uv_loop_close(&T.loop);
  if (rc != 0) {
    uv_walk(&T.loop, walk_close, NULL);
    uv_run(&T.loop, UV_RUN_DEFAULT);
    uv_loop_close(&T.loop);
  }
  return rc;
}

/* ---- socket callbacks that record into T.s / T.c ---- */

static ev_side *side_of(void *ud) { return ud; }

static __attribute__((unused)) void on_open(wsx_socket *s, void *ud) {
  side_of(ud)->open++;
  side_of(ud)->sock = s;
}

static __attribute__((unused)) void on_message(wsx_socket *s,
                                               const wsx_message *m, void *ud) {
  ev_side *e = side_of(ud);
  e->message++;
  e->bytes += m->len;
  e->msg_op = m->opcode;
  e->msg_len = m->len;
  memcpy(e->msg, m->data, m->len < sizeof(e->msg) ? m->len : sizeof(e->msg));
  if (e == &T.s && T.echo) {
    if (m->opcode == WSX_OP_TEXT)
      wsx_socket_send_text(s, (const char *)m->data, m->len);
    else
      wsx_socket_send_binary(s, m->data, m->len);
  }
}

static __attribute__((unused)) void
on_error(wsx_socket *s, const wsx_error_event *ev, void *ud) {
  (void)s;
  side_of(ud)->error++;
  side_of(ud)->error_code = ev->code;
}

static __attribute__((unused)) void
on_close(wsx_socket *s, const wsx_close_event *ev, void *ud) {
  ev_side *e = side_of(ud);
  (void)s;
  e->close++;
  e->close_code = ev->code;
  e->close_clean = ev->clean;
  snprintf(e->close_reason, sizeof(e->close_reason), "%.*s",
           (int)ev->reason_len, ev->reason);
  e->sock = NULL;
}

static __attribute__((unused)) void on_ping(wsx_socket *s, const uint8_t *p,
                                            size_t n, void *ud) {
  (void)s, (void)p, (void)n;
  side_of(ud)->ping++;
}

static __attribute__((unused)) void on_pong(wsx_socket *s, const uint8_t *p,
                                            size_t n, void *ud) {
  (void)s, (void)p, (void)n;
  side_of(ud)->pong++;
}

static __attribute__((unused)) void on_drain(wsx_socket *s, void *ud) {
  (void)s;
  side_of(ud)->drain++;
}

static __attribute__((unused)) void
on_failed(wsx_socket *s, const wsx_connect_failure *f, void *ud) {
  ev_side *e = side_of(ud);
  (void)s;
  e->failed++;
  e->fail_code = f->code;
  e->fail_uv = f->uv_code;
  e->fail_status = f->status_code;
  snprintf(e->fail_msg, sizeof(e->fail_msg), "%s", f->message);
}

static const wsx_socket_callbacks rec_cbs = {sizeof(wsx_socket_callbacks), on_open,  on_message, NULL,
                                             on_ping,  on_pong,    on_error,
                                             on_close, on_drain,   on_failed};

static __attribute__((unused)) void srv_on_connection(wsx_server *srv,
                                                      wsx_socket *s, void *ud) {
  (void)srv, (void)ud;
  T.s.sock = s;
  wsx_socket_set_user_data(s, &T.s);
}

static __attribute__((unused)) void srv_on_closed(wsx_server *srv, void *ud) {
  (void)srv, (void)ud;
  T.srv_closed++;
}

/* Nested option structs are reached by pointer (ABI policy): these attach
 * static storage on first use and return it for editing. */
static wsx_socket_options uvt_srv_so;
static wsx_driver_options uvt_srv_do, uvt_cli_do;
static __attribute__((unused)) wsx_socket_options *
srv_sock(wsx_server_options *o) {
  if (o->socket != &uvt_srv_so) {
    uvt_srv_so = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
    uvt_srv_do = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
    uvt_srv_so.driver = &uvt_srv_do;
    o->socket = &uvt_srv_so;
  }
  return &uvt_srv_so;
}
static __attribute__((unused)) wsx_driver_options *
srv_drv(wsx_server_options *o) {
  return (wsx_driver_options *)srv_sock(o)->driver;
}
static __attribute__((unused)) wsx_driver_options *
cli_drv(wsx_socket_options *co) {
  if (co->driver != &uvt_cli_do) {
    uvt_cli_do = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
    co->driver = &uvt_cli_do;
  }
  return &uvt_cli_do;
}
/* A fresh certificate from a pool of 16, stored in *slot. */
static __attribute__((unused)) wsx_tls_cert *
cert_slot(const wsx_tls_cert **slot) {
  static wsx_tls_cert pool[16];
  static unsigned next;
  wsx_tls_cert *k = &pool[next++ % 16];
  *k = (wsx_tls_cert)WSX_TLS_CERT_INIT;
  *slot = k;
  return k;
}
#define CERT_MUT(c) ((wsx_tls_cert *)(c)) /* the pool's, not const */

/* An auto-accepting server on 127.0.0.1 (or `host`), ephemeral port. */
static __attribute__((unused)) int start_server(const char *host,
                                                wsx_server_options *o,
                                                wsx_server_callbacks *cb) {
  wsx_server_options zo = WSX_SERVER_OPTIONS_INIT;
  wsx_server_callbacks zc = WSX_SERVER_CALLBACKS_INIT;
  int err;
  if (!o) {
    zo = (wsx_server_options)WSX_SERVER_OPTIONS_INIT;
    zo.auto_accept = 1;
    o = &zo;
  }
  if (!cb) {
    zc = (wsx_server_callbacks)WSX_SERVER_CALLBACKS_INIT;
    cb = &zc;
    zc.connection = srv_on_connection;
    zc.socket = &rec_cbs;
  }
  if (!cb->closed)
    cb->closed = srv_on_closed;
  T.srv = wsx_server_new(&T.loop, o, cb, NULL, &err);
  if (!T.srv)
    return err;
  err = wsx_server_listen(T.srv, host ? host : "127.0.0.1", 0);
  if (err < 0)
    return err;
  T.port = wsx_server_port(T.srv);
  return T.port > 0 ? 0 : T.port;
}

static __attribute__((unused)) wsx_socket *
connect_client(const char *path, const wsx_socket_options *o) {
  char url[128];
  int err;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", T.port, path);
  T.c.sock = wsx_socket_connect(&T.loop, url, o, &rec_cbs, &T.c, &err);
  return T.c.sock;
}

/* ---- raw TCP peers ---- */

typedef struct raw_peer {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  char out[1024];
  size_t out_len;
  char in[65536];
  size_t in_len;
  int eof;
  int closed;
  int read; /* read at all? (0: a peer that never reads) */
} raw_peer;

static __attribute__((unused)) void raw_alloc(uv_handle_t *h, size_t sz,
                                              uv_buf_t *b) {
  raw_peer *p = h->data;
  (void)sz;
  if (p->in_len >= sizeof(p->in) - 1)
    p->in_len = 0; /* keep reading; the tail is what matters */
  b->base = p->in + p->in_len;
  b->len = sizeof(p->in) - 1 - p->in_len;
}

static __attribute__((unused)) void raw_closed(uv_handle_t *h) {
  ((raw_peer *)h->data)->closed = 1;
}

static __attribute__((unused)) void raw_read(uv_stream_t *st, ssize_t n,
                                             const uv_buf_t *b) {
  raw_peer *p = st->data;
  (void)b;
  if (n < 0) {
    p->eof = 1;
    if (!uv_is_closing((uv_handle_t *)st))
      uv_close((uv_handle_t *)st, raw_closed);
    return;
  }
  p->in_len += (size_t)n;
  p->in[p->in_len] = '\0';
}

static __attribute__((unused)) void raw_on_connect(uv_connect_t *c,
                                                   int status) {
  raw_peer *p = c->data;
  uv_buf_t b = uv_buf_init(p->out, (unsigned)p->out_len);
  if (status < 0) {
    uv_close((uv_handle_t *)&p->tcp, raw_closed);
    return;
  }
  if (p->read)
    uv_read_start((uv_stream_t *)&p->tcp, raw_alloc, raw_read);
  if (p->out_len)
    uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, NULL);
}

/* Connects to the test server and sends `data` (binary, len bytes). */
static __attribute__((unused)) void raw_connect(raw_peer *p, const void *data,
                                                size_t len, int read) {
  struct sockaddr_in a;
  memset(p, 0, sizeof(*p));
  memcpy(p->out, data, len);
  p->out_len = len;
  p->read = read;
  p->tcp.data = p;
  p->conn.data = p;
  uv_tcp_init(&T.loop, &p->tcp);
  uv_ip4_addr("127.0.0.1", T.port, &a);
  uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&a,
                 raw_on_connect);
}

static __attribute__((unused)) void raw_close(raw_peer *p) {
  if (!uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, raw_closed);
}

#define UPGRADE_HEAD(path)                                                     \
  "GET " path " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"         \
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"     \
  "Sec-WebSocket-Version: 13\r\n\r\n"

#define RUN_UNTIL(cond, ms)                                                    \
  do {                                                                         \
    T.timed_out = 0;                                                           \
    uv_ref((uv_handle_t *)&T.guard);                                           \
    uv_timer_start(&T.guard, guard_cb, (ms), 0);                               \
    while (!(cond) && !T.timed_out)                                            \
      uv_run(&T.loop, UV_RUN_ONCE);                                            \
    uv_timer_stop(&T.guard);                                                   \
    uv_unref((uv_handle_t *)&T.guard);                                         \
  } while (0)

/* Frees the server and runs the loop dry; then the loop must close. */
#define SHUTDOWN_AND_CHECK()                                                   \
  do {                                                                         \
    if (T.srv) {                                                               \
      wsx_server_free(T.srv);                                                  \
      RUN_UNTIL(T.srv_closed, 3000);                                           \
      CHECK_INT(T.srv_closed, 1);                                              \
    }                                                                          \
    run_for(3000);                                                             \
    CHECK(!T.timed_out);                                                       \
    CHECK_INT(ev_finish(), 0);                                                 \
  } while (0)

#endif
