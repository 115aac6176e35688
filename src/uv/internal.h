/*
 * Internal layout of the libuv transport, shared by the files of src/uv:
 *   core.h     the socket core's interface (included here)
 *   loopctx.c  per-loop shared state: receive buffer, cork buffer, timer heap
 *   config.c   deep copies of socket options
 *   conn.c     the socket core: reading, corked/batched writing, buffering,
 *              deadlines, teardown, closing; calls the phase's and the
 *              roles' operations only (it includes core.h, not this file)
 *   phases.c   the phase -> operations and role -> operations tables
 *   ws.c       the open-WebSocket phase: driver callbacks, keepalive,
 *              close timeout, server driver start
 *   socket.c   the public wsx_socket_* calls
 *   server.c   listeners, server control
 *   front.c    the HTTP front: request heads, bodies (Content-Length or
 *              chunked), plain HTTP vs upgrade, keep-alive and pipelining
 *   request.c  wsx_request accessors, accept, reject
 *   http_res.c the plain HTTP response writer
 *   dial.c     the dialer (DNS, connect per address), also used by es_client.c
 *   client.c   wsx_socket_connect (dialing, connect failures) and adopt
 */
#ifndef WSX_SRC_UV_INTERNAL_H
#define WSX_SRC_UV_INTERNAL_H

#include "uv/core.h"
#include "es/es.h"
#include "uv/proxy_client.h"

typedef struct wsx__listener {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  struct wsx__listener *next;
  wsx_server *srv;
  /* TCP_NODELAY of accepted sockets (server.c, conn_start): set on the
   * listener; 0 = not known yet whether they inherit it, 1 = they do (no
   * setsockopt per connection), 2 = they do not (set on each). */
  int nodelay_inherited;
} wsx__listener;

struct wsx_server {
  uv_loop_t *loop;
  wsx__loopctx *ctx;
  wsx__cfg cfg; /* options of accepted sockets */
  wsx_server_callbacks cb;
  const wsx_socket_callbacks *sock_cb; /* interned cb.socket */
  void *ud;
  uint32_t hs_timeout, max_conns, max_body;
  uint32_t idle_timeout; /* ms between kept-alive requests */
  uint32_t max_requests; /* per connection (1: no keep-alive) */
  int auto_accept, trust_xff, backlog, ipv6_only, reuse_port;
  wsx__listener *listeners;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } spare;          /* accepts and closes a connection we have no memory for */
  int spare_busy;   /* spare is being closed */
  wsx_socket *conns;  /* every connection, doubly linked */
  size_t num_conns;   /* all of them */
  size_t num_counted; /* those counting toward max_connections */
  int freeing;        /* wsx_server_free called */
  int released;
  struct wsx__gloop *gl; /* group.c: the group loop it serves, or NULL */
  struct wsx_backplane *bp; /* backplane.c: attached bus, or NULL */
  uv_timer_t hib_timer; /* hibernate.c's sweeps (cfg.hibernate_after) */
  int hib_trim;         /* the next tick of hib_timer trims the heap */
  size_t hib_slept;     /* connections put to sleep since the last trim */
  size_t hib_trim_n;    /* the loop's sleepers at the last trim */
  uint64_t hib_trim_at; /* uv_now() of the last trim, 0 = none yet */
};

/* The accepting server (derived: a server socket's cfg is inside it). */
static inline wsx_server *wsx__sock_srv(const wsx_socket *s) {
  return (s->flags & WSX__F_SERVER)
             ? (wsx_server *)(void *)((char *)s->cfg -
                                      offsetof(wsx_server, cfg))
             : NULL;
}

/* ws.c */
/* Connects the socket's new driver to its cfg's message memory budget
 * and (default allocator) to the loop's page allocator for its message
 * buffers. */
void wsx__sock_budget_attach(wsx_socket *s);
/* Frees a message buffer taken from the socket's driver (budget.c: from
 * the loop's page allocator with the default allocator). */
void wsx__sock_free_message(wsx_socket *s, void *data);
/* Bytes to the driver (open WebSocket and client handshake phases). */
void wsx__ws_on_data(wsx_socket *s, char *data, size_t len);
/* Driver callbacks (user data = the socket). */
extern const wsx_driver_callbacks wsx__drv_cbs;
void wsx__sock_schedule_keepalive(wsx_socket *s);
/* Creates the server driver from a parsed request and starts it; then feeds
 * `rest`. Returns WSX_OK or a negative code (the socket is then torn down). */
/* `protocol` applies when explicit_protocol (NULL = none); otherwise the
 * default rule (first offer in options.protocols). `extra` (validated
 * NUL-terminated name/value pairs, e.g. Set-Cookie) join the 101 answer
 * after the configured headers. s->cb must be set. */
int wsx__sock_start_server(wsx_socket *s, const wsx_http_request *http,
                           const char *protocol, int explicit_protocol,
                           const char *origin, int version,
                           const wsx_header *extra, size_t num_extra,
                           uint8_t *rest, size_t rest_len);
/* The roles' operations (wsx__roles). */
void wsx__ws_drop(wsx_socket *s, uint16_t code, const char *reason);
void wsx__ws_gone(wsx_socket *s);
/* Detaches the driver from the message budget (refunding what it held). */
void wsx__ws_closing(wsx_socket *s);
void wsx__sock_free_pings(wsx_socket *s);

/* backplane.c: the node (server or group) of `bp` is gone. */
void wsx__bp_node_gone(struct wsx_backplane *bp);


/* server.c */
void wsx__server_sock_gone(wsx_socket *s);
/* The handle closed while s->req exists: aborted / res close callbacks,
 * then frees the request. */
void wsx__server_request_gone(wsx_socket *s);
void wsx__server_maybe_release(wsx_server *srv);
/* A TCP connection accepted elsewhere (group.c's acceptor) becomes one of
 * srv's, as if its listener had accepted it; on the server's loop thread.
 * Takes fd (closed on failure). WSX_OK or a negative error (reported to
 * the server's error callback, except WSX_E_STATE: freeing). */
int wsx__server_open_fd(wsx_server *srv, uv_os_sock_t fd);

/* front.c */
void wsx__server_on_head_data(wsx_socket *s, char *data, size_t len);
void wsx__server_on_eof(wsx_socket *s);
/* wsx_http_res_end of a kept-alive response: the next request is taken up
 * from the loop (never inside the app's call). */
void wsx__front_response_done(wsx_socket *s);

/* request.c */
struct wsx_http_res {
  wsx_request *req;
  wsx__buf head; /* "Name: value\r\n" lines */
  int status;
  char *reason;
  int head_sent;
  int ended;
  int close_after;   /* the connection closes after this response */
  int app_conn;      /* the app set a Connection header */
  int has_clen;      /* the app set Content-Length: clen */
  uint64_t clen, sent; /* declared and written body bytes */
  wsx_http_res_callbacks cb;
  void *ud;
  int above_hwm;
  size_t hwm; /* wsx_http_res_set_high_water_mark; 0 = the socket's */
};

struct wsx_request {
  wsx_socket *s;
  wsx__buf buf; /* head bytes; after the head: body / early frames */
  wsx_http_state st;
  size_t head_len; /* > 0 once the head is parsed */
  char *head;      /* own copy of the head; the spans point into it */
  size_t body_len; /* plain HTTP: body bytes at the front of buf */
  size_t consumed; /* buf[0..consumed) is this request's body (decoded);
                      what follows belongs to the next request */
  uint32_t nreq;   /* 1 for the connection's first request */
  int keep_alive;  /* the client allows another request after this one */
  int chunked;     /* Transfer-Encoding: chunked body */
  int body_done;   /* the whole body is in buf */
  int read_stopped; /* reading paused: the next request is buffered */
  int idle;        /* kept-alive, no byte of this request yet */
  int peer_eof;    /* the client half-closed after its requests */
  wsx__chunked chunk; /* chunked body decoder (es/es.h) */
  wsx_http_request http;
  char **protocols;
  size_t num_protocols;
  char *extensions;
  char **xff;
  size_t num_xff;
  const char *query;
  size_t path_len;
  int version;
  int is_ws;
  int dispatched; /* the app has been told about it */
  int port;
  char addr[64];
  wsx_http_res res;
};

wsx_request *wsx__request_new(wsx_socket *s);
/* The first head_len bytes of buf are a complete head: moves them into
 * `head`, reparses, fills the derived fields (NUL-terminates spans).
 * Returns WSX_OK or WSX_E_NOMEM. */
int wsx__request_finish_head(wsx_request *r, int trust_xff);
void wsx__request_free(wsx_request *r);
/* accept() with an explicit (or default, explicit_protocol = 0) protocol;
 * s->cb / s->ud must be set. Frees the request. */
wsx_socket *wsx__request_accept_as(wsx_request *r, const char *protocol,
                                   int explicit_protocol, const char *origin,
                                   const wsx_header *extra, size_t num_extra,
                                   int *err);
/* Writes a complete small response and tears the connection down. */
void wsx__respond_and_close(wsx_socket *s, int status, const char *extra,
                            const char *body);
const char *wsx__status_text(int status);
void wsx__http_res_on_drain(wsx_socket *s);
/* The HTTP phase's hwm op: a response's own mark while it is written. */
size_t wsx__http_res_hwm(const wsx_socket *s);

/* h2_conn.c (WSX_HAVE_HTTP2 builds): the socket carrying an HTTP/2
 * session is being freed; its stream sockets are aborted (1006). */
void wsx__h2_conn_gone(wsx_socket *s);
/* server.c's graceful close of an HTTP/2 connection: GOAWAY, then the
 * connection closes when its last stream socket is gone. */
void wsx__h2_shutdown(wsx_socket *s);
/* The connection carrying HTTP/2 stream socket `s`, or NULL once gone. */
const wsx_socket *wsx__h2_conn_of(const wsx_socket *s);
/* Plaintext after the TLS handshake chose ALPN "h2": starts the session
 * (phase H2) and feeds it `data`. */
void wsx__h2_start(wsx_socket *s, char *data, size_t len);
/* h2_client.c: wsx_socket_connect with options.http2 for wss:// (no
 * proxy): `s` (its driver made, its TCP handle initialized but never
 * connected, phase DIAL) becomes a stream of a pooled connection or of a
 * new one dialed for it. Returns WSX_OK or a negative code (nothing
 * attached). */
int wsx__h2c_connect(wsx_socket *s, const wsx_socket_options *opts);
/* tls.c: the TLS handshake of a client socket carrying a session to be
 * (s->h2 set) completed; `h2`: ALPN chose "h2". */
void wsx__h2c_tls_ready(wsx_socket *s, int h2);

/* client.c: a socket that waited for an HTTP/2 connection dials its own
 * (HTTP/1.1, options.http2 ignored from now on); a failure to start is
 * reported as connect_failed. */
void wsx__client_redial(wsx_socket *s);

/* client.c */
/* connect_timeout expired (dial, proxy and client handshake phases). */
void wsx__client_on_timeout(wsx_socket *s);
/* The dial role's handle_closed op: nonzero = freed later (on_gai). */
int wsx__dial_on_handle_closed(wsx_socket *s);
void wsx__sock_connect_failed(wsx_socket *s, int code, int uv_code,
                              const char *msg);

#endif
