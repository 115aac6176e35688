/*
 * Internal layout of the libuv transport, shared by the files of src/uv:
 *   loopctx.c  per-loop shared state: receive buffer, cork buffer, timer heap
 *   config.c   deep copies of socket options
 *   conn.c     the socket core: reading, corked/batched writing, buffering,
 *              deadlines, teardown, closing; calls the phase's operations
 *   phases.c   the phase -> operations table (wsx__phase_ops below)
 *   ws.c       the open-WebSocket phase: driver callbacks, keepalive,
 *              close timeout, server driver start
 *   socket.c   the public wsx_socket_* calls
 *   server.c   listeners, the HTTP front, server control
 *   request.c  wsx_request accessors, accept, reject
 *   http_res.c the plain HTTP response writer
 *   dial.c     the dialer (DNS, connect per address), also used by es_client.c
 *   client.c   wsx_socket_connect (dialing, connect failures) and adopt
 */
#ifndef WSX_SRC_UV_INTERNAL_H
#define WSX_SRC_UV_INTERNAL_H

#include "common/abi.h"
#include "common/alloc.h"
#include "common/util.h"
#include "uv/proxy_client.h"
#include "uv/stream.h"
#include "uv/writer.h"
#include "uv/uvbuf.h"
#include "wsx/uv.h"

#define WSX__RBUF_SIZE 65536u /* loop-wide receive buffer */
#define WSX__CORK_SIZE 16384u /* loop-wide cork buffer */
#define WSX__MAX_HEADERS 256u /* cap on max_headers (scratch array size) */
#define WSX__LINGER_MS 2000u  /* wait for the peer's FIN after ours */

/* Resolved, deep-copied socket options (shared by a server's sockets). */
typedef struct wsx__loopctx wsx__loopctx;

typedef struct wsx__cfg {
  wsx__loopctx *ctx; /* the loop's context (sockets share it) */
  wsx_allocator alloc;
  wsx_driver_options dopts; /* protocols/origin/allocator point below */
  char **protocols;         /* NULL-terminated copy, or NULL */
  char *origin;
  wsx_extension **exts; /* NULL-terminated copy, or NULL */
  wsx_header *headers;  /* names/values are copied strings */
  size_t num_headers;
  uint32_t close_timeout, connect_timeout;
  uint32_t ping_interval; /* ms, 0 = no pings */
  uint32_t ka_grace;      /* ms, 0 = no dead-peer detection */
  size_t hwm, max_buffered, ext_size;
  int nagle;
  struct wsx__tls_ctx *tls; /* TLS contexts (uv/tls.h), owned; NULL = plain */
  wsx__proxy_cfg *proxy;    /* client: CONNECT proxy settings, NULL = none */
} wsx__cfg;

int wsx__cfg_init(wsx__cfg *c, const wsx_socket_options *o);
void wsx__cfg_free(wsx__cfg *c);

/* Per-loop state, shared by every socket and server on that loop. */
struct wsx__loopctx {
  uv_loop_t *loop;
  wsx_allocator alloc; /* of the object that created it (see wsx__loopctx_get) */
  struct wsx__loopctx *next; /* global registry */
  size_t refs;
  uv_timer_t timer;   /* fires at heap[0]->deadline */
  uint64_t timer_due; /* deadline the timer is armed for (0: none) */
  wsx_socket **heap;  /* min-heap on deadline */
  uint32_t heap_len, heap_cap;
  wsx_socket *cork_owner;      /* socket whose output is being corked */
  const char *chosen_protocol; /* accept(): during the driver's start() */
  struct wsx__cbtab *cbtabs;   /* interned socket callback tables */
  size_t cork_len;
  struct wsx__topics *topics; /* uv/pubsub.h: topic table, NULL = none */
  wsx_header hdrs[WSX__MAX_HEADERS]; /* head parsing scratch */
  char rbuf[WSX__RBUF_SIZE];
  char cork[WSX__CORK_SIZE];
};

/* Socket callback tables are interned per loop, so a socket holds one
 * pointer instead of a 72-byte copy. */
typedef struct wsx__cbtab {
  struct wsx__cbtab *next;
  wsx_socket_callbacks cb;
} wsx__cbtab;
extern const wsx_socket_callbacks wsx__no_cbs;
/* Returns a stable copy of *cb (NULL cb = no callbacks), or NULL on OOM. */
/* Interns a copy of `cb` (NULL = none) in this library's layout; the
 * caller has checked its struct_size (WSX__STRUCT_OK). NULL: out of
 * memory. */
const wsx_socket_callbacks *wsx__cb_intern(wsx__loopctx *c,
                                           const wsx_socket_callbacks *cb);

/* Returns the loop's context with a new reference (NULL on OOM). A new
 * context is allocated with `a` (the creating object's resolved allocator),
 * which then serves the context's tables and is used to free it. */
wsx__loopctx *wsx__loopctx_get(uv_loop_t *loop, const wsx_allocator *a);
void wsx__loopctx_unref(wsx__loopctx *c);
/* The loop's context without a new reference (NULL: no wsx object on it).
 * Call on the loop's thread. */
wsx__loopctx *wsx__loopctx_find(uv_loop_t *loop);
/* Sets (0 = clears) the socket's deadline, in uv_now() milliseconds. */
void wsx__timer_set(wsx_socket *s, uint64_t deadline);

/* Connection phases. */
enum wsx__phase {
  WSX__P_HEAD,      /* server: reading the request head */
  WSX__P_REQUEST,   /* server: upgrade request waiting for accept/reject */
  WSX__P_HTTP,      /* server: plain HTTP request being answered */
  WSX__P_DIAL,      /* client: DNS / TCP connect */
  WSX__P_PROXY,     /* client: CONNECT sent, waiting for the proxy's 2xx */
  WSX__P_CLIENT_HS, /* client: handshake sent, waiting for the 101 */
  WSX__P_WS,        /* WebSocket (open or closing) */
  WSX__P_TEARDOWN,  /* our FIN is queued/sent, waiting for the peer's */
  WSX__P_COUNT
};

/*
 * What a phase does with the socket core's events. The core (conn.c) calls
 * wsx__phases[s->phase]; a NULL entry takes the default in brackets.
 */
typedef struct wsx__phase_ops {
  /* Plaintext bytes from the peer (after the stream layer) [ignored]. */
  void (*on_data)(wsx_socket *s, char *data, size_t len);
  /* End of the peer's stream: UV_EOF or a read error [close the handle]. */
  void (*on_eof)(wsx_socket *s, ssize_t err);
  /* The socket's deadline passed [close the handle]. */
  void (*on_timer)(wsx_socket *s);
  /* Buffered output fell back to the high-water mark [the app's drain]. */
  void (*on_drain)(wsx_socket *s);
} wsx__phase_ops;

/* phases.c: the table, indexed by enum wsx__phase. */
extern const wsx__phase_ops *const wsx__phases[WSX__P_COUNT];
extern const wsx__phase_ops wsx__front_phase;     /* server.c: HEAD, REQUEST */
extern const wsx__phase_ops wsx__http_phase;      /* server.c: HTTP */
extern const wsx__phase_ops wsx__dial_phase;      /* client.c: DIAL */
extern const wsx__phase_ops wsx__client_hs_phase; /* client.c: CLIENT_HS */
extern const wsx__phase_ops wsx__proxy_phase;     /* proxy_client.c: PROXY */
extern const wsx__phase_ops wsx__ws_phase;        /* ws.c: WS */

/* Flags. */
#define WSX__F_HANDLE_CLOSING 0x0001u  /* uv_close called */
#define WSX__F_PAUSED 0x0002u          /* reading stopped by the app */
#define WSX__F_CLOSE_SENT 0x0004u      /* wsx_socket_close called: deadline */
#define WSX__F_ABOVE_HWM 0x0008u       /* drain is owed */
#define WSX__F_KA_WAITING 0x0010u      /* keepalive ping sent, pong pending */
#define WSX__F_RX_SEEN 0x0020u         /* bytes arrived since the last ping */
#define WSX__F_ADOPTED 0x0040u         /* stream memory owned by the app */
#define WSX__F_COUNTED 0x0080u         /* counts toward max_connections */
#define WSX__F_OWN_CFG 0x0100u         /* cfg allocated for this socket */
#define WSX__F_CLOSED_SET 0x0200u      /* close_code/reason recorded */
#define WSX__F_OVER_LIMIT 0x0400u      /* buffered amount over max_buffered */
#define WSX__F_SHUTDOWN 0x0800u        /* uv_shutdown issued */
#define WSX__F_WANT_FREE 0x1000u       /* handle closed, waiting for dial */
#define WSX__F_FAILED_REPORTED 0x2000u /* connect_failed fired */
#define WSX__F_FLUSH_CLOSE 0x4000u     /* our FIN was requested */
#define WSX__F_EOF 0x8000u             /* handle closes now: no teardown */
#define WSX__F_STARTING 0x10000u       /* server driver start() running */
#define WSX__F_SERVER                                                          \
  0x20000u                     /* on its server's list; cfg is the             \
                                  server's (see wsx__sock_srv) */
#define WSX__F_CLIENT 0x40000u /* made by wsx_socket_connect */
#define WSX__F_NO_LINGER                                                       \
  0x80000u /* close without waiting for the                                    \
              peer's FIN (see drv_close) */

typedef struct wsx__dial wsx__dial; /* uv/dial.h */
typedef struct wsx__ping_rec wsx__ping_rec;

struct wsx_socket {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;                     /* the handle, unless adopted */
  uv_stream_t *stream;     /* &h, or the adopted stream */
  const wsx__cfg *cfg;     /* the server's, or own (WSX__F_OWN_CFG); has ctx */
  wsx_socket *next, *prev; /* server's connection list */
  wsx_driver *d;           /* NULL until the handshake starts */
  wsx_request *req;        /* server: request in progress (HEAD..HTTP) */
  wsx__dial *dial;         /* client: DNS/connect in progress */
  struct wsx_proxy *proxy; /* client: CONNECT handshake until the tunnel is
                              up (kept after a refusal for the accessors) */
  wsx__out *out; /* uv/writer.h: only while the kernel is behind */
  const wsx__layer *layer; /* stream layer (TLS later), NULL = plain */
  void *layer_state;
  wsx__ping_rec *pings; /* app pings waiting for pongs */
  char *close_reason;   /* recorded close (heap, NULL = "") */
  void *ud;
  const wsx_socket_callbacks *cb; /* interned in ctx (never NULL) */
  uint64_t deadline;              /* 0 = none */
  uint32_t heap_idx;              /* position in ctx->heap (if deadline) */
  uint32_t flags;
  uint16_t close_code;
  uint8_t phase; /* enum wsx__phase */
  uint8_t close_clean;
  struct wsx__psock *ps; /* uv/pubsub.h: topics, NULL = none */
};

typedef struct wsx__listener {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  struct wsx__listener *next;
  wsx_server *srv;
} wsx__listener;

struct wsx_server {
  uv_loop_t *loop;
  wsx__loopctx *ctx;
  wsx__cfg cfg; /* options of accepted sockets */
  wsx_server_callbacks cb;
  const wsx_socket_callbacks *sock_cb; /* interned cb.socket */
  void *ud;
  uint32_t hs_timeout, max_conns, max_body;
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
};

/* ws.c */
/* Bytes to the driver (open WebSocket and client handshake phases). */
void wsx__ws_on_data(wsx_socket *s, char *data, size_t len);

/* conn.c */
/* cfg->ctx must be set; the caller holds a ctx reference for the socket. */
wsx_socket *wsx__sock_alloc(const wsx__cfg *cfg, int own_cfg);
/* The accepting server (derived: a server socket's cfg is inside it). */
static inline wsx_server *wsx__sock_srv(const wsx_socket *s) {
  return (s->flags & WSX__F_SERVER)
             ? (wsx_server *)(void *)((char *)s->cfg -
                                      offsetof(wsx_server, cfg))
             : NULL;
}
/* ws.c: driver callbacks (user data = the socket). */
extern const wsx_driver_callbacks wsx__drv_cbs;
void wsx__sock_start_read(wsx_socket *s);
/* End of the peer's stream (a FIN, a read error `err`, or a TLS
 * close_notify as UV_EOF): what happens depends on the phase. */
void wsx__sock_on_eof(wsx_socket *s, ssize_t err);
/* Sends raw bytes (HTTP responses); copies what the kernel does not take. */
int wsx__sock_write(wsx_socket *s, const uv_buf_t *bufs, unsigned n);
size_t wsx__sock_buffered(const wsx_socket *s);
/* Flush, FIN, wait briefly for the peer's FIN, then close the handle. */
void wsx__sock_teardown(wsx_socket *s);
/* Closes the handle now; `close` fires from the close callback. */
void wsx__sock_close_handle(wsx_socket *s);
/* Records the close event reported when the handle closes (first wins). */
void wsx__sock_set_close(wsx_socket *s, uint16_t code, const char *reason,
                         size_t reason_len, int clean);
void wsx__sock_error(wsx_socket *s, int code, uint16_t close_code,
                     const char *msg);
/* Deadline passed: the phase's on_timer. Keepalive scheduling: ws.c. */
void wsx__sock_on_timer(wsx_socket *s);
/* The deadline could not be entered in the heap (a bug: room is reserved
 * per context reference): fails the connection rather than leaving it
 * without a timeout. */
void wsx__sock_timer_lost(wsx_socket *s);
void wsx__sock_schedule_keepalive(wsx_socket *s);
/* After a send: enforce max_buffered, report above-hwm. */
int wsx__sock_after_send(wsx_socket *s, int rc);
/* Creates the server driver from a parsed request and starts it; then feeds
 * `rest`. Returns WSX_OK or a negative code (the socket is then torn down). */
/* `protocol` applies when explicit_protocol (NULL = none); otherwise the
 * default rule (first offer in options.protocols). s->cb must be set. */
int wsx__sock_start_server(wsx_socket *s, const wsx_http_request *http,
                           const char *protocol, int explicit_protocol,
                           const char *origin, int version, uint8_t *rest,
                           size_t rest_len);
/* Fires `close` and frees everything (after the handle closed). */
void wsx__sock_finalize(wsx_socket *s);
/* uv_close callback of a socket's stream. */
void wsx__sock_handle_closed(uv_handle_t *h);
void wsx__sock_free_pings(wsx_socket *s);
/* A write that bypassed the socket's queue completed (publish.c): drain,
 * teardown. */
void wsx__sock_written(wsx_socket *s);

/* backplane.c: the node (server or group) of `bp` is gone. */
void wsx__bp_node_gone(struct wsx_backplane *bp);

/* topics.c / publish.c (uv/pubsub.h) */
void wsx__pubsub_leave_all(wsx_socket *s); /* the connection closes */
void wsx__pubsub_free(wsx_socket *s);      /* the socket is freed */
void wsx__topics_free(wsx__loopctx *c);    /* the context is freed */
/* Shared frames of `s` queued in libuv (teardown waits for them). */
uint32_t wsx__pubsub_writes(const wsx_socket *s);

/* server.c */
void wsx__server_on_head_data(wsx_socket *s, char *data, size_t len);
void wsx__server_sock_gone(wsx_socket *s);
/* The handle closed while s->req exists: aborted / res close callbacks,
 * then frees the request. */
void wsx__server_request_gone(wsx_socket *s);
void wsx__server_on_eof(wsx_socket *s);
void wsx__server_maybe_release(wsx_server *srv);

/* request.c */
struct wsx_http_res {
  wsx_request *req;
  wsx__buf head; /* "Name: value\r\n" lines */
  int status;
  char *reason;
  int head_sent;
  int ended;
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
  size_t body_len; /* plain HTTP: Content-Length */
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
                                   int *err);
/* Writes a complete small response and tears the connection down. */
void wsx__respond_and_close(wsx_socket *s, int status, const char *extra,
                            const char *body);
const char *wsx__status_text(int status);
void wsx__http_res_on_drain(wsx_socket *s);
/* The high-water mark that applies to the socket now (a response's own,
 * while a plain HTTP response is being written). */
size_t wsx__sock_hwm(const wsx_socket *s);

/* client.c */
/* connect_timeout expired (dial, proxy and client handshake phases). */
void wsx__client_on_timeout(wsx_socket *s);
void wsx__dial_on_handle_closed(wsx_socket *s); /* may defer the free */
void wsx__sock_connect_failed(wsx_socket *s, int code, int uv_code,
                              const char *msg);

#endif
