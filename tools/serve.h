/*
 * tools/serve.h: shared state of `wsx serve` (tools/cmd_serve.c: chat, echo,
 * HTTP, lifecycle; tools/serve_clock.c: event lines and the /clock
 * EventSource). With --threads each loop's thread has its own serve_loop.
 */
#ifndef WSX_TOOLS_SERVE_H
#define WSX_TOOLS_SERVE_H

#include <stdint.h>

#include <uv.h>

#include <wsx/backplane.h>
#include <wsx/eventsource.h>
#include <wsx/extension.h>
#include <wsx/router.h>
#include <wsx/tls.h>
#include <wsx/uv.h>

#include "chat_json.h"

#define SHUTDOWN_GRACE_MS 3000
/* Largest WebSocket message the server reads (echo included). */
#define MAX_MESSAGE 65536u
/* A browser this far behind on chat or clock output is dropped rather than
 * buffered for. */
#define MAX_BUFFERED ((size_t)1 << 20)

enum conn_kind { KIND_CHAT = 1, KIND_ECHO = 2 };

/* The topic every chat socket subscribes to. */
#define CHAT_TOPIC "chat"
#define CHAT_TOPIC_LEN 4

/* Inline per-socket state (wsx_socket_ext). */
typedef struct serve_conn {
  wsx_socket *sock;
  unsigned long long id; /* connection number printed in event lines */
  int listed;            /* counted in S.num_chat */
} serve_conn;

/* One EventSource client of /clock (one allocation per stream). */
typedef struct clock_client {
  struct clock_client *prev, *next;
  wsx_eventsource *es;
  unsigned long long id;
} clock_client;

/* The process (with --threads, shared by the loops' threads). */
typedef struct serve_state {
  uv_loop_t *loop; /* the main thread's */
  uv_signal_t sigint, sigterm;
  uv_timer_t grace;                  /* bounds the graceful shutdown */
  _Atomic size_t num_chat;           /* open chat sockets, every loop */
  _Atomic unsigned long long next_id;
  _Atomic int stopping;
  int quiet;
  unsigned threads; /* --threads (wsx/group.h) */
  wsx_extension *deflate; /* --deflate, else NULL */
  const char *redis;      /* --redis URL, else NULL */
  wsx_backplane *bp;      /* the Redis backplane (main thread's loop) */
  wsx_tls_server_options tls; /* --tls-cert / --tls-key [--http2] */
  wsx_tls_cert cert;
} serve_state;

/* One loop's state (the main thread's, or one per --threads thread). */
typedef struct serve_loop {
  wsx_server *srv;
  wsx_router *router;   /* /chat and /echo (any subprotocol) */
  uv_timer_t tick;      /* the clock: fires just after each wall-clock second */
  clock_client *clocks; /* open /clock streams */
  /* `open` fires inside wsx_request_accept(), when the request is gone:
   * the path is copied here first for the event line. */
  const char *pending_path;
  char out[CHAT_MAX_OUTPUT]; /* the message being broadcast */
} serve_loop;

extern serve_state S;
extern _Thread_local serve_loop L;

/* Event lines: line_start() ... line_end() print one whole line. */
void line_start(void);
void line_end(void);
void log_path(const char *path, size_t len);
void log_open(unsigned long long id, wsx_socket *s, const char *path);
void log_close(unsigned long long id, const wsx_close_event *e); /* e NULL:
                                                                     a stream */
void log_error(unsigned long long id, const char *message);
uint64_t now_ms(void); /* wall clock, ms since the epoch */

/* Answers `req` (an EventSource request for /clock) with a stream. */
void start_clock(wsx_request *req, wsx_http_res *res, const char *addr);

#endif /* WSX_TOOLS_SERVE_H */
