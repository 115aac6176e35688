/*
 * The EventSource client's private state, shared by es_client.c (the
 * connection: dialing, proxy, TLS, head, body, reconnection) and
 * es_client_new.c (construction, parser events, accessors).
 */
#ifndef WSX_SRC_UV_ES_CLIENT_H
#define WSX_SRC_UV_ES_CLIENT_H

#include "common/alloc.h"
#include "es/es.h"
#include "uv/dial.h"
#include "uv/proxy_client.h"
#include "uv/tls.h"
#include "uv/writer.h"
#include "wsx/eventsource.h"

#define MAX_HEAD 16384u
#define MAX_HEADERS 64u

enum phase {
  P_RESOLVE, /* name resolution in flight */
  P_CONNECT, /* TCP connect in flight (or about to start on the next
                address of the dialer) */
  P_PROXY,   /* CONNECT sent to the proxy, reading its answer */
  P_HEAD,    /* request sent, reading the response head */
  P_BODY,    /* streaming */
  P_WAIT     /* waiting `retry_ms` before the next attempt */
};

struct wsx_eventsource_client {
  wsx_allocator alloc;
  uv_loop_t *loop;
  wsx_eventsource_client_callbacks cb;
  void *ud;
  char *url;
  char *host;    /* for DNS (no brackets) */
  char *request; /* "GET ... Host: ...\r\n" up to the id line */
  unsigned port;
  wsx__buf extra; /* extra header lines */
  wsx__buf out;   /* the request being written */
  wsx__buf head;  /* response head bytes */
  wsx_http_state hst;
  wsx__es_parser parser;
  wsx__chunked ch;
  uint64_t body_left;      /* Content-Length bodies: bytes still expected */
  wsx__dial dial; /* DNS, the addresses left, the connect request */
  wsx__proxy_target proxy; /* CONNECT proxy (proxy.url NULL = direct) */
  wsx_proxy *px;           /* this attempt's CONNECT handshake */
  wsx__out *wout; /* this attempt's output queue (uv/writer.h) */
  uv_tcp_t tcp;
  uv_timer_t timer;      /* connect timeout, then the retry delay */
  wsx__tls_ctx *tls_ctx; /* https://: built once, shared by attempts */
  wsx__tls_conn *tls;    /* this attempt's TLS connection, or NULL */
  uint32_t retry_ms, connect_timeout;
  uint8_t phase; /* enum phase */
  uint8_t state; /* WSX_ES_* */
  unsigned tcp_open : 1; /* tcp initialized and its close not done */
  unsigned tcp_closing : 1;
  unsigned closing : 1; /* close() or a failure: no reconnect */
  unsigned finalizing : 1;
  unsigned chunked : 1;
  unsigned has_length : 1;
  unsigned linger : 1; /* closing: the close_notify is still being written */
  char rbuf[16384];
};

/* es_client.c: the retry timer's callback (starts the next attempt). */
void wsx__esc_on_retry(uv_timer_t *t);

#endif
