/*
 * wsx/eventsource.h: EventSource (server-sent events) on libuv.
 *
 * Server (faye-websocket's EventSource): turn a plain HTTP GET with
 * "Accept: text/event-stream" into a one-way event stream, either from the
 * wsx HTTP front (`http_request` callback of wsx/uv.h) or from an
 * application's own libuv server (adoption). Client: an EventSource in C
 * that parses the stream by the WHATWG rules and reconnects with
 * Last-Event-ID.
 *
 * Threads, errors and lifetimes follow wsx/uv.h: one loop per thread;
 * negative WSX_E_* or libuv codes; every callback may be NULL; an object's
 * memory stays valid until its `close` callback has returned and is freed
 * right after: do not touch it afterwards. `close` fires exactly once for
 * every object a constructor returned. Strings passed to callbacks are
 * borrowed for the callback.
 */
#ifndef WSX_EVENTSOURCE_H
#define WSX_EVENTSOURCE_H

#include "uv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Server                                                                    */

typedef struct wsx_eventsource wsx_eventsource;

typedef struct wsx_eventsource_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* buffered_amount fell to or below the high-water mark after a send
   * returned 1. */
  void (*drain)(wsx_eventsource *es, void *user_data);
  /* Last event: the client went away, the server called
   * wsx_eventsource_close(), or a slow client was dropped (max_buffered).
   * The object is freed when this returns. */
  void (*close)(wsx_eventsource *es, void *user_data);
} wsx_eventsource_callbacks;
#define WSX_EVENTSOURCE_CALLBACKS_INIT                                         \
  { .struct_size = sizeof(wsx_eventsource_callbacks) }

/* WSX_EVENTSOURCE_OPTIONS_INIT (or NULL) selects every default. Copied by
 * the constructors. */
typedef struct wsx_eventsource_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Reconnection delay suggested to the client, in ms (faye-websocket
   * `retry`, there in seconds), written once at the start of the stream as
   * `retry: <ms>`. 0 = do not send one (clients default to about 3 s).
   * The same name and unit as wsx_eventsource_client_options.retry_ms. */
  uint32_t retry_ms;
  /* Send a comment line (":\n\n", ignored by clients) every this many ms
   * to keep proxies from timing the stream out. 0 = off. (Same name and
   * unit as wsx_socket_options.ping_interval.) */
  uint32_t ping_interval;
  /* Extra response headers (e.g. Access-Control-Allow-Origin), copied.
   * Values with CR/LF: WSX_E_HEADER_VALUE. */
  const wsx_header *headers;
  size_t num_headers;
  /* send() returns 1 and `drain` is owed while buffered_amount is above
   * this. 0 = the default: WSX_DEFAULT_HIGH_WATER_MARK on adopted streams,
   * the server's socket.high_water_mark on the HTTP front. */
  size_t high_water_mark;
  /* A client whose buffered_amount exceeds this is dropped at once (its
   * unsent bytes are discarded, `close` follows from the loop) so a slow
   * reader cannot exhaust memory. On the HTTP front the server's
   * socket.max_buffered also applies.
   * 0 = WSX_DEFAULT_MAX_BUFFERED; SIZE_MAX = no limit. */
  size_t max_buffered;
  /* NULL = libc. Used for the object and its buffers. */
  const wsx_allocator *allocator;
} wsx_eventsource_options;
#define WSX_EVENTSOURCE_OPTIONS_INIT                                           \
  { .struct_size = sizeof(wsx_eventsource_options) }

/* Non-zero if `req` is an EventSource request: GET whose Accept header
 * lists text/event-stream. */
WSX_EXTERN int wsx_eventsource_is_eventsource(const wsx_request *req);
/* The same test on a parsed head (for adoption). */
WSX_EXTERN int wsx_eventsource_is_eventsource_http(const wsx_http_request *req);

/*
 * Makes an EventSource from a plain HTTP request of the wsx server front
 * (inside or after `http_request`, before anything was written to `res`).
 * Writes the head at once: 200, Content-Type: text/event-stream,
 * Cache-Control: no-cache, no-store, the extra headers, then the `retry`
 * line if set. The EventSource takes over `res` (its callbacks are
 * replaced); `req` and `res` must not be used afterwards. url and
 * last_event_id are copied from the request.
 * Returns the EventSource, or NULL with *err set: WSX_E_STRUCT_SIZE (opts
 * or cbs, see common.h), WSX_E_INVALID (not an
 * EventSource request, or a bad option), WSX_E_STATE (response already
 * started), WSX_E_HEADER_VALUE, WSX_E_NOMEM, WSX_E_CLOSED.
 */
WSX_EXTERN wsx_eventsource *wsx_eventsource_new(
    wsx_request *req, wsx_http_res *res, const wsx_eventsource_options *opts,
    const wsx_eventsource_callbacks *cbs, void *user_data, int *err);

/*
 * Adoption: makes an EventSource from a stream the application accepted
 * itself (uv_tcp_t or uv_pipe_t) whose request head it parsed (`req`,
 * copied as needed). wsx writes the response head, takes over the stream
 * (sets stream->data, reads it to notice the client leaving, writes it, and
 * uv_close()s it). The stream's MEMORY stays the caller's: free it in or
 * after the `close` callback. Same errors as wsx_eventsource_new, plus
 * libuv errors; on error the stream is left untouched.
 */
WSX_EXTERN wsx_eventsource *wsx_eventsource_adopt(
    uv_loop_t *loop, uv_stream_t *stream, const wsx_http_request *req,
    const wsx_eventsource_options *opts, const wsx_eventsource_callbacks *cbs,
    void *user_data, int *err);

/*
 * Sends one event: `event` (NULL = none, the client's default "message"),
 * `id` (NULL = none; "" resets the client's last event ID), and data[0..len)
 * split on CR, LF and CRLF into `data:` lines. `event` and `id` are
 * NUL-terminated and must not contain CR or LF (WSX_E_INVALID). Everything
 * is borrowed for the call.
 * Returns 0 (buffered_amount at or below the high-water mark), 1 (above it:
 * the event WAS accepted; wait for `drain`), or WSX_E_CLOSED, WSX_E_INVALID,
 * WSX_E_NOMEM, WSX_E_POLICY (this call took the buffered amount past
 * max_buffered: the client was dropped, `close` follows from the loop;
 * later calls return WSX_E_CLOSED). No other values.
 */
WSX_EXTERN int wsx_eventsource_send(wsx_eventsource *es, const char *data,
                                    size_t len, const char *event,
                                    const char *id);
/* Writes a comment line (":\n\n"). Same returns as send. */
WSX_EXTERN int wsx_eventsource_ping(wsx_eventsource *es);
/* Ends the stream (pending events are flushed first); `close` follows.
 * Returns WSX_OK or WSX_E_CLOSED. */
WSX_EXTERN int wsx_eventsource_close(wsx_eventsource *es);

/* Accessors; strings are owned by the object, valid until `close` returns. */
/* Request target as sent ("/events?x=1"). */
WSX_EXTERN const char *wsx_eventsource_url(const wsx_eventsource *es);
/* Last-Event-ID header, else the `lastEventId` query parameter (decoded),
 * else "". */
WSX_EXTERN const char *wsx_eventsource_last_event_id(const wsx_eventsource *es);
/* Bytes accepted by send calls but not yet written to the kernel. */
WSX_EXTERN size_t wsx_eventsource_buffered_amount(const wsx_eventsource *es);
WSX_EXTERN void *wsx_eventsource_user_data(const wsx_eventsource *es);
WSX_EXTERN void wsx_eventsource_set_user_data(wsx_eventsource *es,
                                              void *user_data);
WSX_EXTERN uv_loop_t *wsx_eventsource_loop(const wsx_eventsource *es);

/* ------------------------------------------------------------------------ */
/* Client                                                                    */

typedef struct wsx_eventsource_client wsx_eventsource_client;

/* ready_state values: the one enum wsx_ready_state of wsx/driver.h, shared
 * with wsx_driver_ready_state and wsx_socket_ready_state (an EventSource is
 * never CLOSING). These names are aliases; note WSX_ES_CLOSED is
 * WSX_CLOSED (3), not the browser's 2. */
#define WSX_ES_CONNECTING WSX_CONNECTING
#define WSX_ES_OPEN WSX_OPEN
#define WSX_ES_CLOSED WSX_CLOSED

#define WSX_ES_DEFAULT_RETRY_MS 3000u
#define WSX_ES_DEFAULT_MAX_EVENT_SIZE ((size_t)1 << 20) /* 1 MiB */

/* One dispatched event; strings are NUL-terminated (data may also contain
 * NUL bytes: use data_len) and borrowed for the callback. */
typedef struct wsx_eventsource_event {
  const char *type; /* "message" unless an `event:` field said otherwise */
  const char *data; /* `data:` lines joined by LF */
  size_t data_len;
  const char *last_event_id; /* the stream's last event ID ("" if none) */
} wsx_eventsource_event;

typedef struct wsx_eventsource_error {
  int code;        /* WSX_E_IO, WSX_E_DNS, WSX_E_TIMEOUT, WSX_E_HTTP,
                      WSX_E_HANDSHAKE (bad status/content type),
                      WSX_E_TOO_BIG (line or event over max_event_size),
                      WSX_E_TLS (https://: handshake or session failure),
                      WSX_E_CLOSED (the server ended the stream) */
  int uv_code;     /* libuv error behind WSX_E_IO / WSX_E_DNS, else 0 */
  int status_code; /* HTTP status if a response head arrived, else 0 */
  /* Non-zero: the client waits `retry` ms and reconnects (ready_state is
   * CONNECTING). Zero: the connection failed for good (ready_state
   * CLOSED) and `close` follows. */
  int will_reconnect;
  const char *message;
} wsx_eventsource_error;

typedef struct wsx_eventsource_client_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* A 200 text/event-stream response arrived (also after each reconnect). */
  void (*open)(wsx_eventsource_client *c, void *user_data);
  void (*message)(wsx_eventsource_client *c, const wsx_eventsource_event *e,
                  void *user_data);
  void (*error)(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                void *user_data);
  /* Last event: after wsx_eventsource_client_close() or a failure without
   * reconnect. The client is freed when this returns. */
  void (*close)(wsx_eventsource_client *c, void *user_data);
} wsx_eventsource_client_callbacks;
#define WSX_EVENTSOURCE_CLIENT_CALLBACKS_INIT                                  \
  { .struct_size = sizeof(wsx_eventsource_client_callbacks) }

typedef struct wsx_eventsource_client_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Extra request headers (copied; CR/LF: WSX_E_HEADER_VALUE). */
  const wsx_header *headers;
  size_t num_headers;
  /* Initial reconnection time in ms until the server sends `retry:`
   * (0 = WSX_ES_DEFAULT_RETRY_MS). */
  uint32_t retry_ms;
  /* Sent as Last-Event-ID on the first connection (NULL = none). */
  const char *last_event_id;
  /* Longest line and longest event data; a server exceeding it fails the
   * connection (no reconnect). 0 = WSX_ES_DEFAULT_MAX_EVENT_SIZE. */
  size_t max_event_size;
  /* DNS + connect + response head, ms (0 = WSX_DEFAULT_CONNECT_TIMEOUT_MS).
   * A timeout is a network error: the client reconnects. */
  uint32_t connect_timeout;
  const wsx_allocator *allocator;
  /* https:// TLS options, the same as wss:// sockets' (wsx/tls.h; read
   * during the call, not kept). NULL: verify the server's certificate and
   * name against the system trust store. Ignored for http:// URLs. */
  const wsx_tls_client_options *tls;
  /* HTTP proxy (the WebSocket client's option, wsx/uv.h
   * wsx_socket_proxy: origin with Basic credentials, extra headers, or
   * use_env for http_proxy / https_proxy / no_proxy), NULL = direct. Read
   * and resolved by wsx_eventsource_client_new (the environment too), not
   * kept. Every attempt connects to the proxy and asks it for a CONNECT
   * tunnel to the origin (for https://, TLS to the origin runs inside it,
   * verified against the origin's name). connect_timeout covers the
   * proxy's answer. A proxy that refuses with 407, 401 (tinyproxy's answer
   * to wrong credentials) or 403 fails the client for good (error WSX_E_PROXY, status_code = the proxy's status,
   * will_reconnect 0); any other refusal or a broken answer is a network
   * error (WSX_E_PROXY / WSX_E_HTTP, reconnect). http:// proxies only: an
   * https:// proxy URL is WSX_E_UNSUPPORTED. */
  const wsx_socket_proxy *proxy;
} wsx_eventsource_client_options;
#define WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT                                    \
  { .struct_size = sizeof(wsx_eventsource_client_options) }

/*
 * Connects to an http:// or https:// URL (copied): GET with Accept:
 * text/event-stream,
 * Cache-Control: no-cache, the extra headers and, once an id is known,
 * Last-Event-ID. The response must be 200 with Content-Type
 * text/event-stream; its body may be close-delimited, Content-Length or
 * chunked. Redirects are not followed (a 3xx fails the connection like any
 * other status; 204 is the server's way of saying "stop").
 * The stream is parsed by the WHATWG rules (UTF-8 with U+FFFD for invalid
 * sequences, BOM, CR/LF/CRLF, comments, `retry:`).
 * Returns the client (CONNECTING); the first connection starts from the
 * loop, so no callback runs before this returns.
 * https:// runs TLS with certificate and host name verification (opts->tls,
 * as for wss:// sockets). A certificate that does not verify fails the
 * connection for good (error WSX_E_TLS, will_reconnect 0, message e.g.
 * "certificate verify failed: hostname mismatch"); other TLS errors are
 * network errors (WSX_E_TLS, reconnect).
 * close() over https:// sends TLS close_notify before closing the
 * connection (waiting at most 2 s for it to be written).
 * Returns NULL with *err set: WSX_E_STRUCT_SIZE (opts, cbs, opts->tls
 * and its certificate, opts->proxy: 0 or unknown, see common.h), WSX_E_URL
 * (also: a bad proxy URL, from the option or the environment),
 * WSX_E_UNSUPPORTED (an https:// proxy), WSX_E_TLS
 * (a CA, client
 * certificate or key in opts->tls could not be loaded; see
 * wsx_tls_last_error()), WSX_E_INVALID, WSX_E_HEADER_VALUE, WSX_E_NOMEM, or
 * a libuv error; no callback fires then.
 */
WSX_EXTERN wsx_eventsource_client *
wsx_eventsource_client_new(uv_loop_t *loop, const char *url,
                           const wsx_eventsource_client_options *opts,
                           const wsx_eventsource_client_callbacks *cbs,
                           void *user_data, int *err);
/* Stops for good (no more events except `close`, which fires from the
 * loop). Returns WSX_OK or WSX_E_CLOSED (already closing). */
WSX_EXTERN int wsx_eventsource_client_close(wsx_eventsource_client *c);
/* An enum wsx_ready_state value: WSX_CONNECTING, WSX_OPEN or WSX_CLOSED. */
WSX_EXTERN int
wsx_eventsource_client_ready_state(const wsx_eventsource_client *c);
WSX_EXTERN const char *
wsx_eventsource_client_url(const wsx_eventsource_client *c);
/* The last event ID that will be sent on reconnect ("" if none). */
WSX_EXTERN const char *
wsx_eventsource_client_last_event_id(const wsx_eventsource_client *c);
/* The current reconnection time in ms. */
WSX_EXTERN uint32_t
wsx_eventsource_client_retry(const wsx_eventsource_client *c);
WSX_EXTERN void *
wsx_eventsource_client_user_data(const wsx_eventsource_client *c);

#ifdef __cplusplus
}
#endif
#endif /* WSX_EVENTSOURCE_H */
