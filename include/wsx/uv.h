/*
 * wsx/uv.h: WebSocket servers and clients on libuv (the faye-websocket /
 * WebSocket-Node layer), built over the sans-I/O driver (wsx/driver.h).
 *
 * Objects:
 *   wsx_server   an HTTP front on one or more listeners (TCP IPv4/IPv6, Unix
 *                domain sockets). Plain HTTP requests reach `http_request`
 *                with a small response writer (wsx_http_res); WebSocket
 *                upgrades reach `request` with a wsx_request that the
 *                application accepts (-> wsx_socket) or rejects.
 *   wsx_request  an upgrade (or plain HTTP) request still being decided.
 *   wsx_socket   one WebSocket connection, server or client side; the same
 *                calls and events on both sides.
 *
 * SIGPIPE: writing to a connection the peer has closed raises SIGPIPE,
 * whose default action kills the process. The first wsx_server,
 * wsx_socket or EventSource the process creates therefore sets SIGPIPE to
 * SIG_IGN if it is still SIG_DFL (see wsx_ignore_sigpipe(); a handler or
 * SIG_IGN the application installed is left alone); the failed write is
 * then reported as an I/O error on that connection only. An application
 * that wants SIGPIPE back must reinstall it after that first call.
 *
 * Threads: one loop per thread. Every function must be called on the thread
 * that runs the object's loop. Multi-core servers run one loop (and one
 * wsx_server with `reuse_port`) per core: wsx/group.h does that, with
 * topics (wsx/pubsub.h) and a thread-safe publish across the loops.
 *
 * Errors: functions that can fail return a negative code: either one of
 * enum wsx_error (wsx_strerror() names it) or a libuv error passed through
 * unchanged (uv_strerror() names it; see wsx_uv_strerror() for either).
 * A function that returns an error never calls a callback for that call.
 *
 * Memory and lifetimes (the libuv rule): a wsx_socket's memory stays valid
 * until its `close` callback has returned; it is freed right after. `close`
 * fires exactly once for every socket that a constructor returned (also
 * after a failed client connection, after `connect_failed`). Do not call any
 * function on a socket after its close callback returned. A wsx_server is
 * freed after its `closed` callback (see wsx_server_free()).
 *
 * Cost: an awake server socket is two allocations: the socket (~170 bytes
 * of transport state and `ext_size` bytes of application data) and its
 * handle with its driver (its uv_tcp_t and the ~310-byte driver), plus
 * its url; output buffers exist only while the kernel is behind, and the
 * request head only until accept/reject. A client socket is one
 * allocation (socket and handle) plus its driver.
 * Hibernation (wsx_server_options.hibernate_after, default on, 1 s): an
 * open, plain (no TLS) server connection with nothing in flight that saw
 * no input and no output for that long sleeps: its uv_tcp_t and its driver
 * are freed, its descriptor is kept (duplicated; libuv has no way to let
 * go of one without closing it) in one epoll per loop that libuv watches
 * through one uv_poll_t, and what stays is the socket's block (with room
 * for a url and protocol of up to 29 bytes; a longer one takes a block of
 * its own): 208 bytes plus ext_size, from a per-loop slab of its own
 * with the default allocator (measured: 234 bytes of RSS per connection
 * at 10,000, bench/run.sh row E with `wsx echo`, ext_size 16; 220 bytes
 * of heap in tests/unit/test_uv_hibernate.c). With the default allocator
 * the sweep after one that put many connections to sleep gives the freed
 * heap pages back (malloc_trim on glibc): at once when the loop's
 * sleepers grew by 64 or more since the last trim, else at most once per
 * 10 x hibernate_after (connections that only wake and sleep again reuse
 * what they freed, and a trim stalls the loop: 0.7 ms on average, 2.7 ms
 * at worst with 10,000 connections). The slab maps 256 KiB chunks;
 * a chunk whose last connection closed is unmapped, except one empty
 * chunk kept per slab, so after a peak the slab holds what the open
 * connections need plus at most 256 KiB (tests/unit/test_uv_slab.c). The
 * wsx_socket pointer does not change and nothing is observable but
 * memory: the first input or hang-up, a deadline (keepalive ping, close
 * timeout) or any call that needs the connection (send, ping, close,
 * drop, pause, resume, wsx_socket_driver, server close/free) wakes it
 * first (the getters, subscribing and its remote address do not: they
 * are answered from what it kept): a new
 * handle on the same descriptor and a driver rebuilt from the server's
 * options (sleep: about 4 system calls, wake: about 3, each a few
 * microseconds). A wake that runs out of memory drops the connection
 * (close frame 1011 if the kernel takes it, then the close event with
 * 1011, from the loop). Subscribers of topics sleep too: a publication
 * (wsx/pubsub.h) to a sleeping subscriber is written straight to its
 * descriptor (one send, no wake) when the kernel takes it whole; only
 * when it does not (a full socket buffer, a large message) does the
 * subscriber wake, with the rest queued as for any connection. Never sleeps: a TLS connection (the TLS session is
 * most of its memory and cannot be rebuilt), one with an extension
 * negotiated (permessage-deflate's state), one whose driver the app asked
 * for (wsx_socket_driver: the app may keep that pointer), HTTP/2 streams,
 * paused connections, and client sockets (made by wsx_socket_connect:
 * few per process, nothing to gain). Each loop shares one ~90 KiB
 * context (receive buffer, cork buffer, timer heap) among its sockets.
 * That context is allocated with the allocator (driver.allocator) of the
 * first server or socket created on the loop and freed with it when the
 * last one closes: an allocator given to wsx must stay usable until every
 * wsx object on its loop is closed. Everything wsx allocates goes through
 * the allocator hooks (libuv's and OpenSSL's own allocations do not).
 * Message memory: with the default allocator (driver.allocator NULL or
 * all its members NULL), the buffers that receive messages (including
 * inflated permessage-deflate output) come from the loop's own page
 * allocator on Linux instead of malloc: a buffer over 64 KiB is a mapping
 * of its own, grown by mremap without a copy and returned to the OS when
 * its message ends (or when the application frees a taken message), so
 * the process's memory follows the message budget whatever the heap
 * looks like, with no malloc tuning by the application. The loop keeps a
 * few freed mappings for the next messages (so a steady stream of large
 * messages does not fault in fresh pages each time): at most
 * min(8 MiB, message_budget / 32) bytes, the least over the loop's
 * servers and clients; none while any of their budgets is more than half
 * in use (message memory plus the cache stay within the budget); all
 * returned 1 s after the last one was kept, and when the loop's context
 * is freed. Buffers of 64 KiB or less, other systems and builds with
 * -DWSX_PAGES=OFF use malloc. With an allocator of the application's,
 * every message buffer comes from that allocator instead.
 * Output written during a read callback (echoes, the 101 response) leaves in
 * one write when the callback ends; otherwise uv_try_write is tried first.
 *
 * Data pointers given to callbacks (message data, ping payloads, reasons,
 * error messages, headers) are borrowed for the duration of the callback.
 * Received payloads live in a loop-wide receive buffer or in the driver's
 * message buffer: copy what you keep.
 *
 * Every callback member may be NULL. `user_data` is passed back to every
 * callback; wsx_socket_set_user_data() changes it.
 *
 * TLS: wss:// clients and TLS servers take their options from wsx/tls.h
 * (wsx_socket_options.tls, wsx_server_options.tls); a TLS socket has the
 * same calls and events as a plain one.
 *
 * HTTP proxies: clients connect through an HTTP CONNECT proxy with
 * wsx_socket_options.proxy (origin with Basic credentials, extra headers,
 * or the http_proxy / https_proxy / no_proxy environment on request); the
 * sans-I/O handshake is in wsx/proxy.h.
 */
#ifndef WSX_UV_H
#define WSX_UV_H

#include <uv.h>

#include "common.h"
#include "driver.h"
#include "http.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_server wsx_server;
typedef struct wsx_request wsx_request;
typedef struct wsx_socket wsx_socket;
typedef struct wsx_http_res wsx_http_res;

/* Defaults selected by zero option fields. */
#define WSX_DEFAULT_CLOSE_TIMEOUT_MS 30000u
#define WSX_DEFAULT_CONNECT_TIMEOUT_MS 30000u
#define WSX_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
/* wsx_server_options.hibernate_after: the default, and the value that
 * turns hibernation off. */
#define WSX_DEFAULT_HIBERNATE_AFTER_MS 1000u
#define WSX_HIBERNATE_NEVER UINT32_MAX
#define WSX_DEFAULT_HIGH_WATER_MARK 16384u
#define WSX_DEFAULT_MAX_BUFFERED ((size_t)128u << 20) /* 128 MiB */
/* wsx_socket_options.message_budget / message_budget_share defaults. */
#define WSX_DEFAULT_MESSAGE_BUDGET ((size_t)256u << 20) /* 256 MiB */
#define WSX_DEFAULT_MESSAGE_BUDGET_SHARE 25u           /* percent */
#define WSX_DEFAULT_MESSAGE_BUDGET_WAIT 10000u /* ms, message_budget_wait */
#define WSX_DEFAULT_KEEPALIVE_INTERVAL_MS 20000u
#define WSX_DEFAULT_KEEPALIVE_GRACE_MS 10000u
#define WSX_DEFAULT_MAX_HTTP_BODY 65536u
#define WSX_DEFAULT_HTTP_IDLE_TIMEOUT_MS 5000u
#define WSX_DEFAULT_MAX_REQUESTS_PER_CONNECTION 1000u
#define WSX_DEFAULT_BACKLOG 511

/* ------------------------------------------------------------------------ */
/* Socket                                                                    */

/*
 * Why a client connection failed (`connect_failed`). `code` is one of:
 *   WSX_E_DNS        name resolution failed (`uv_code` has the UV_EAI_* code)
 *   WSX_E_IO         connect or I/O failed (`uv_code`: UV_ECONNREFUSED, ...)
 *   WSX_E_TIMEOUT    connect_timeout expired (DNS, TCP or handshake)
 *   WSX_E_HANDSHAKE  the server answered but not with a valid 101: wrong
 *                    status (`status_code` != 101), bad Sec-WebSocket-Accept,
 *                    unrequested protocol or extension ...
 *   WSX_E_HTTP / WSX_E_HEAD_TOO_BIG  the response head was malformed
 *   WSX_E_CLOSED     the server (or the proxy) closed the connection
 *                    before answering
 *   WSX_E_PROXY      the proxy refused the CONNECT request: `status_code`
 *                    is its status (407 authentication required, 403, 502
 *                    ...), its headers are in wsx_socket_headers()
 *   WSX_E_TLS        the TLS handshake failed; `message` says why, e.g.
 *                    "certificate verify failed: hostname mismatch"
 *                    (see wsx/tls.h)
 * `message` is a NUL-terminated explanation, borrowed for the callback.
 * The response headers (if any arrived) are available through
 * wsx_socket_headers() and wsx_socket_status_code() during the callback.
 */
typedef struct wsx_connect_failure {
  int code;
  int uv_code;     /* libuv error behind WSX_E_DNS / WSX_E_IO, else 0 */
  int status_code; /* HTTP status of the response, 0 if none */
  const char *message;
} wsx_connect_failure;

typedef void (*wsx_socket_ping_cb)(wsx_socket *s, void *arg);

typedef struct wsx_socket_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* The handshake completed; messages may flow. (Server side: fires
   * before wsx_request_accept() returns.) */
  void (*open)(wsx_socket *s, void *user_data);
  /* A whole message (or, with driver.frame_events, see `frame`). */
  void (*message)(wsx_socket *s, const wsx_message *m, void *user_data);
  /* driver.frame_events only: one data frame. */
  void (*frame)(wsx_socket *s, const wsx_message *m, void *user_data);
  void (*ping)(wsx_socket *s, const uint8_t *data, size_t len, void *user_data);
  void (*pong)(wsx_socket *s, const uint8_t *data, size_t len, void *user_data);
  /* A protocol, I/O, policy or timeout error. Always followed (perhaps
   * later) by `close`. */
  void (*error)(wsx_socket *s, const wsx_error_event *e, void *user_data);
  /* Last event. Fires once, after the transport is closed: code and reason
   * of the closing handshake, or 1006 (clean = 0) when the connection was
   * dropped or never opened. The socket is freed when this returns. */
  void (*close)(wsx_socket *s, const wsx_close_event *e, void *user_data);
  /* buffered_amount fell to or below high_water_mark after having been
   * above it. */
  void (*drain)(wsx_socket *s, void *user_data);
  /* Client: the connection could not be established; `close` follows. */
  void (*connect_failed)(wsx_socket *s, const wsx_connect_failure *f,
                         void *user_data);
} wsx_socket_callbacks;
#define WSX_SOCKET_CALLBACKS_INIT                                              \
  { .struct_size = sizeof(wsx_socket_callbacks) }

/*
 * Client: an HTTP CONNECT proxy (faye-websocket's `proxy` option). The
 * connection goes to the proxy, which is asked to open a tunnel with
 * `CONNECT host:port`; the WebSocket handshake (and for wss://, TLS to the
 * origin, verified against the origin's name) then runs inside the tunnel.
 * connect_timeout covers the proxy's answer too. A refusal is a
 * connect_failed with WSX_E_PROXY (see wsx_connect_failure). The struct and
 * its strings are copied.
 *
 * An https:// proxy is reached over TLS first, verified like a wss://
 * origin but against the proxy's host name and `tls` below; CONNECT and the
 * tunnel run inside that session, so wss:// through it is TLS inside TLS.
 * A failure of the proxy's TLS is a connect_failed with WSX_E_TLS whose
 * message starts with "proxy host:port: " (e.g. "proxy 10.0.0.1:3129:
 * certificate verify failed: hostname mismatch"), so it is never mistaken
 * for the origin's. wsx_socket_tls_version() and the other accessors of
 * wsx/tls.h describe the origin's session (NULL for ws:// through an
 * https:// proxy), never the proxy's.
 */
#define WSX_HAVE_SOCKET_PROXY 1
typedef struct wsx_socket_proxy {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* "http://[user[:password]@]host[:port]" (port 80 by default) or
   * "https://..." (TLS to the proxy, port 443 by default). The userinfo,
   * percent-decoded, is sent as Proxy-Authorization: Basic (inside TLS for
   * an https:// proxy). NULL: take the proxy from the environment (needs
   * use_env). */
  const char *origin;
  /* Extra headers for the CONNECT request (e.g. User-Agent); CR/LF in a
   * value: WSX_E_HEADER_VALUE. */
  const wsx_header *headers;
  size_t num_headers;
  /* Non-zero, with origin == NULL: use https_proxy / HTTPS_PROXY for wss://
   * and http_proxy for ws:// (not HTTP_PROXY, which CGI programs inherit
   * from requests), unless no_proxy / NO_PROXY (comma-separated "*",
   * names matching themselves and their subdomains, ".domain", addresses,
   * optional ":port") lists the origin's host. Unset or empty: direct. A
   * value without "scheme://" means http://. */
  int use_env;
  /* TLS settings for an https:// proxy (from the option or the
   * environment), NULL = the secure default: the proxy's certificate must
   * chain to the system trust store and name the proxy URL's host.
   * server_name overrides that name; insecure_skip_verify turns the proxy's
   * verification off (the origin's is wsx_socket_options.tls). Loaded by
   * wsx_socket_connect (bad files: WSX_E_TLS) and not kept; unused for an
   * http:// proxy. */
  const wsx_tls_client_options *tls;
} wsx_socket_proxy;
#define WSX_SOCKET_PROXY_INIT                                                  \
  { .struct_size = sizeof(wsx_socket_proxy) }

/*
 * Socket options (server-accepted, adopted and client sockets).
 * WSX_SOCKET_OPTIONS_INIT (or NULL) selects every default. The struct and
 * every string/array/struct it points to are copied by the function that
 * receives it (extensions excepted, see below).
 */
typedef struct wsx_socket_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Protocol options: max_length (2^26-1), max_frame_size, max_fragments,
   * head limits, frame_events, fragment_outgoing_messages,
   * fragmentation_threshold, protocols, origin (client), allow_drafts
   * (server), allocator (used for everything the socket allocates).
   * NULL = every default; copied, need not outlive the call. */
  const wsx_driver_options *driver;
  /* NULL-terminated list of extensions (wsx/extension.h) to register on
   * every driver; owned by the caller, must outlive every socket. */
  wsx_extension *const *extensions;
  /* Extra handshake headers: client request headers, or server 101
   * response headers. Copied. Values with CR/LF: WSX_E_HEADER_VALUE. */
  const wsx_header *headers;
  size_t num_headers;
  /* Closing handshake timeout, ms (0 = 30000). When it expires the TCP
   * connection is dropped and `close` reports 1006. */
  uint32_t close_timeout;
  /* Client: DNS + TCP connect + handshake must finish within this, ms
   * (0 = 30000). */
  uint32_t connect_timeout;
  /* faye-websocket `ping`: send a ping every this many MILLISECONDS
   * (0 = off). Formerly `ping`, in seconds. */
  uint32_t ping_interval;
  /* WebSocket-Node keepalive: non-zero turns on pings every
   * keepalive_interval ms (0 = ping_interval if set, else 20000) AND
   * dead-peer detection: when no pong (nor any other byte) arrived within
   * keepalive_grace_period ms (0 = 10000) after a ping, the connection is
   * dropped (error WSX_E_TIMEOUT, close 1006). This is WebSocket-Node's
   * drop_connection_on_keepalive_timeout; pings alone are ping_interval.
   * Every duration in wsx is in milliseconds. */
  int keepalive;
  uint32_t keepalive_interval;
  uint32_t keepalive_grace_period;
  /* `drain` fires when buffered_amount falls to or below this (0 = 16 KiB).
   * Send functions return 1 while buffered_amount is above it.
   * Backlog rule: everything the library writes on its own counts toward
   * buffered_amount like any send (automatic pongs, close replies, TLS
   * records, HTTP responses and EventSource events). While buffered_amount
   * is above this mark the socket stops reading from the peer, and it
   * resumes when the output falls back to the mark: a peer that sends
   * (e.g. floods pings) without reading cannot make the server do or
   * buffer unbounded work. Reading by wsx_socket_pause() is separate. */
  size_t high_water_mark;
  /* Hard limit: a socket whose buffered_amount exceeds this, whether by the
   * application's sends or by the library's own output (pongs, close
   * replies), is dropped (error WSX_E_POLICY, close 1008 "buffered amount
   * exceeds max_buffered", clean 0) so a slow reader cannot exhaust
   * memory. 0 = WSX_DEFAULT_MAX_BUFFERED; SIZE_MAX = no limit. */
  size_t max_buffered;
  /* Bytes of per-socket application memory allocated inline with the
   * socket (one allocation per connection); see wsx_socket_ext(). */
  size_t ext_size;
  /* Non-zero: leave Nagle's algorithm on (default: TCP_NODELAY set). */
  int nagle;
  /* wss:// client TLS options (wsx/tls.h; read during the call, not kept).
   * NULL: verify the server against the system trust store. Ignored for
   * ws:// URLs, adopted sockets and a server's sockets (a server's TLS is
   * wsx_server_options.tls). */
  const wsx_tls_client_options *tls;
  /* Client: HTTP CONNECT proxy (see wsx_socket_proxy), NULL = direct.
   * Ignored for adopted sockets and a server's sockets. */
  const wsx_socket_proxy *proxy;
  /* Slow-reader timeout, ms (0 = off, the default): when buffered_amount
   * stays above high_water_mark for this long (no `drain` within it), the
   * peer is dropped: error WSX_E_TIMEOUT, close 1008 (policy) "send_timeout:
   * ...", clean 0. Applies to WebSocket connections and to a server's HTTP
   * responses and EventSource streams. */
  uint32_t send_timeout;
  /* Memory budget for messages being received, bytes: the buffers that
   * reassemble incoming messages (fragmented messages, frames split across
   * reads) including inflated permessage-deflate output. Shared by every
   * connection of one wsx_server (a threaded server runs one server per
   * loop, so this is per loop); a client socket has its own. A message is
   * never grown past it. The rule, per connection:
   * - It may hold at most message_budget_share percent of the budget (and
   *   max_length): more fails the message, error WSX_E_MESSAGE_TOO_BIG and
   *   close 1009 (too big for this server).
   * - A buffer of up to 64 KiB gets what is free. Growth above 64 KiB (a
   *   message in progress) is granted only while 1/32 of the budget stays
   *   free for those small buffers and every message in progress can still
   *   reach that per-connection limit, one after the other, from what is
   *   free and what the ones before it give back (a safe state: the
   *   connections holding the budget cannot all end up waiting for each
   *   other).
   * - Otherwise the connection is parked: its input is held back before
   *   it is parsed or inflated and reading stops, its buffer stays as it
   *   is. Parked connections are resumed in the order they were parked
   *   (one that still does not fit keeps its place) whenever another
   *   connection gives budget back: at the end of a large message or when
   *   it closes.
   * - Close 1013 (try again later), error WSX_E_MESSAGE_TOO_BIG, when
   *   waiting cannot help: at once when, even with every message in progress
   *   given back, the rest of the budget (held by buffers of 64 KiB or less
   *   that are kept between messages, or by other parked connections)
   *   leaves too little; or when it has been parked for
   *   message_budget_wait ms in which no budget came back (e.g. the
   *   holders' peers stopped sending in mid-message), or for six times
   *   message_budget_wait in all. A parked connection reads nothing, so a
   *   peer that goes away meanwhile is noticed when it resumes or is
   *   refused.
   * Buffers are given back (large ones freed) when their message ends or
   * the connection closes. 0 = WSX_DEFAULT_MESSAGE_BUDGET (256 MiB);
   * SIZE_MAX = no budget. */
  size_t message_budget;
  /* Percent of message_budget one connection may hold (1..100; 0 =
   * WSX_DEFAULT_MESSAGE_BUDGET_SHARE, 25: 64 MiB of the default budget, the
   * default max_length). */
  unsigned message_budget_share;
  /* Client, wss:// only: non-zero offers WebSocket over HTTP/2 (RFC 8441).
   * The TLS handshake offers ALPN "h2,http/1.1"; when the server picks h2
   * AND its SETTINGS carry SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, the socket
   * opens as an extended CONNECT stream (:method CONNECT, :protocol
   * websocket, :scheme https, :path and :authority from the URL, plus
   * sec-websocket-version 13, the protocols, extensions, origin and extra
   * headers of these options); :status 200 opens it. Any other status is
   * the failure an HTTP/1.1 server's non-101 gives: connect_failed with
   * WSX_E_HANDSHAKE, wsx_socket_status_code() = that status.
   * Connections are shared: while an HTTP/2 connection to the same host
   * and port with the same TLS options (wsx_tls_client_options; none with
   * a client certificate) is open on the same loop, another socket with
   * http2 on becomes a new stream of it instead of dialing (so
   * wsx_socket_remote_address is the same for both). The connection
   * closes (GOAWAY, close_notify) as soon as its last stream socket is
   * gone; there is no idle period. On a stream socket, buffered_amount is
   * what its HTTP/2 flow-control window holds back, wsx_socket_close ends
   * the stream (END_STREAM), a socket gone without it resets it
   * (RST_STREAM CANCEL), a RST_STREAM from the server closes it with 1006.
   * Never a reason to fail: if the server picks http/1.1 (or no ALPN),
   * does not enable extended CONNECT, sends GOAWAY before the stream was
   * sent, or the shared connection cannot be made (DNS, TCP, TLS), the
   * socket dials its own connection and does the HTTP/1.1 upgrade on it
   * (a fresh TCP + TLS connection offering only http/1.1; errors are then
   * reported as for http2 = 0); connect_timeout covers both attempts.
   * wsx_socket_is_http2() tells which way a socket went. Ignored for
   * ws:// URLs, through a proxy, and when libwsx was built without HTTP/2
   * (wsx_http2_available() = 0). */
  int http2;
  /* How long a connection may stay parked waiting for message budget
   * while none comes back, ms (see message_budget; six times this in
   * all), before it is closed with 1013. 0 =
   * WSX_DEFAULT_MESSAGE_BUDGET_WAIT (10000 ms). */
  uint32_t message_budget_wait;
} wsx_socket_options;
#define WSX_SOCKET_OPTIONS_INIT                                                \
  { .struct_size = sizeof(wsx_socket_options) }

/*
 * Client: connects to a ws:// or wss:// URL (host name, IPv4, [IPv6]
 * literal, port, path and query). wss:// verifies the server's certificate
 * and name (opts->tls, wsx/tls.h); connect_timeout covers the TLS
 * handshake. DNS goes through uv_getaddrinfo; every address is tried
 * in order until one connects. `opts`, `cbs` may be NULL.
 * Returns the socket (CONNECTING); `open` or `connect_failed` follows, then
 * eventually `close`. Returns NULL with *err (if err != NULL) set to
 * WSX_E_STRUCT_SIZE (opts, opts->driver, opts->proxy, the TLS options or
 * their certificates, or cbs: 0 or unknown struct_size, see common.h),
 * WSX_E_URL (bad URL or proxy URL), WSX_E_INVALID (proxy without origin
 * nor use_env), WSX_E_TLS (a CA, client certificate or key in opts->tls or
 * opts->proxy->tls could not be loaded),
 * WSX_E_HEADER_VALUE, WSX_E_NOMEM or a libuv error; no callback fires then.
 * `url` is copied.
 */
WSX_EXTERN wsx_socket *wsx_socket_connect(uv_loop_t *loop, const char *url,
                                          const wsx_socket_options *opts,
                                          const wsx_socket_callbacks *cbs,
                                          void *user_data, int *err);

/*
 * Adoption (faye-websocket's `new WebSocket(request, socket, body)`): makes
 * a server socket from a stream the application accepted itself (uv_tcp_t
 * or uv_pipe_t, in any reading state) whose request head it already parsed
 * (`req`, e.g. with wsx_http_parse_request; copied), plus the bytes that
 * followed the head (`body`, copied; may be NULL/0). The handshake is
 * answered at once (`open`, or error + `close` for an invalid request).
 * The protocol is the first of the client's offers in
 * opts->driver.protocols.
 * The stream is plain: wsx reads and writes its bytes as they are, and
 * opts->tls is ignored. An application that terminates TLS itself (it had
 * to, to parse the head) cannot hand its TLS session over; serve wss with
 * wsx_server_options.tls instead.
 *
 * wsx takes over the stream: it sets stream->data, reads and writes it, and
 * uv_close()s it. The stream's MEMORY stays the caller's: free it in or after
 * the socket's `close` callback, not before.
 * Returns the socket, or NULL with *err set: WSX_E_STRUCT_SIZE, WSX_E_INVALID,
 * WSX_E_UNSUPPORTED, WSX_E_NOMEM, WSX_E_HEADER_VALUE, or a libuv error.
 */
WSX_EXTERN wsx_socket *wsx_socket_adopt(uv_loop_t *loop, uv_stream_t *stream,
                                        const wsx_http_request *req,
                                        const uint8_t *body, size_t body_len,
                                        const wsx_socket_options *opts,
                                        const wsx_socket_callbacks *cbs,
                                        void *user_data, int *err);

/*
 * Sending. Data is borrowed for the call: it is written to the kernel at
 * once when possible, otherwise copied. Before `open` (client) messages are
 * queued and flushed on open.
 * Returns 0 when buffered_amount is at or below high_water_mark, 1 when it
 * is above (the data WAS accepted: wait for `drain` before sending more),
 * or a negative error: WSX_E_CLOSED (closing/closed), WSX_E_INVALID (text
 * not UTF-8, or a bad argument), WSX_E_TOO_BIG (control payload > 125),
 * WSX_E_UNSUPPORTED (binary on hixie drafts), WSX_E_NOMEM, WSX_E_POLICY
 * (this call took buffered_amount past max_buffered: the socket was
 * dropped, `error` (WSX_E_POLICY) and `close` (1008) follow; later calls
 * return WSX_E_CLOSED). No other values.
 */
WSX_EXTERN int wsx_socket_send_text(wsx_socket *s, const char *data,
                                    size_t len);
WSX_EXTERN int wsx_socket_send_binary(wsx_socket *s, const void *data,
                                      size_t len);
/* General form: `opcode` WSX_OP_TEXT or WSX_OP_BINARY, `flags` 0 or
 * WSX_SEND_UNCOMPRESSED (this message skips permessage-deflate even when it
 * was negotiated; see wsx_driver_send). Same returns, plus WSX_E_INVALID. */
WSX_EXTERN int wsx_socket_send(wsx_socket *s, int opcode, const void *data,
                               size_t len, unsigned flags);
/* One raw frame (see wsx_driver_send_frame for the rules). Same returns as
 * the send functions (0, 1 above high_water_mark, or a negative error). */
WSX_EXTERN int wsx_socket_send_frame(wsx_socket *s, int opcode, int fin,
                                     const void *data, size_t len);

/* Gives back a payload passed to wsx_socket_send_zc: `data` and `len` as
 * passed, `user_data` the call's. */
typedef void (*wsx_release_cb)(void *data, size_t len, void *user_data);

/*
 * Zero-copy send: as wsx_socket_send(s, opcode, data, len, 0) (same
 * returns), but `data` is not copied when the kernel cannot take it all at
 * once: the frame header and the payload leave as two buffers of one
 * write, straight from `data`. OWNERSHIP: the caller keeps data[0..len)
 * alive and unchanged until `release(data, len, user_data)` runs, exactly
 * once, whatever happens: before this call returns when nothing refers to
 * the payload any more (the kernel took it all; or it was copied, which
 * happens when earlier output is still being written, the socket is a
 * client (masking), the message is compressed, or the stream is TLS; or on
 * any error, WSX_E_CLOSED and WSX_E_INVALID included), otherwise later on
 * the loop's thread when the write completes, fails, or is cancelled
 * because the socket closes (also after WSX_E_POLICY: past max_buffered
 * the socket is dropped and the cancelled write releases the payload).
 * `release` is required (NULL: WSX_E_INVALID, nothing sent). From inside
 * `release` every wsx_socket_* call is allowed (bytes sent then queue
 * behind the write that just ended). A payload longer than 4 GiB is
 * copied. A text message taken with wsx_socket_take_message() and sent
 * back whole and unchanged from the same `message` callback is not
 * validated as UTF-8 again (it was on receipt; see wsx/driver.h, Sending).
 */
WSX_EXTERN int wsx_socket_send_zc(wsx_socket *s, int opcode, const void *data,
                                  size_t len, wsx_release_cb release,
                                  void *user_data);

/*
 * From inside the `message` callback: takes the message's bytes without a
 * copy when they lie in a buffer the socket allocated (a message that came
 * in several reads or frames, or a large one read straight into the
 * message buffer; see wsx_driver_take_message). Returns
 * m->data, now owned by the caller (*len = m->len, writable), to be freed
 * with wsx_socket_free_message(); NULL when the data is borrowed from the
 * read buffer (copy it then), outside the callback, or for NULL arguments.
 */
WSX_EXTERN void *wsx_socket_take_message(wsx_socket *s, size_t *len);

/*
 * Frees a buffer returned by wsx_socket_take_message() on `s` (NULL:
 * nothing), with the socket's allocator (driver.allocator), or by default
 * to the loop's page allocator (not free(): see "Message memory" at the top
 * of this header; a freed mapping may be kept for the loop's next
 * messages). `s` must not be freed yet: call it before the socket's `close`
 * event returns. The release callback of a wsx_socket_send_zc on the same
 * socket always runs before that event, so echoing a taken message is
 * send_zc(s, ..., release) with release calling wsx_socket_free_message.
 */
WSX_EXTERN void wsx_socket_free_message(wsx_socket *s, void *data);

/* Ping with payload (<= 125 bytes); `cb` (may be NULL) fires once when the
 * matching pong arrives (never, if the socket closes first). Same returns
 * as the send functions: >= 0 means the ping was sent. */
WSX_EXTERN int wsx_socket_ping(wsx_socket *s, const void *data, size_t len,
                               wsx_socket_ping_cb cb, void *arg);
WSX_EXTERN int wsx_socket_pong(wsx_socket *s, const void *data, size_t len);

/*
 * Starts the closing handshake: code 0 = 1000, reason may be NULL (<= 123
 * bytes UTF-8, copied). `close` fires when the peer answered and the TCP
 * connection is closed, or after close_timeout with 1006.
 * Returns WSX_OK, WSX_E_INVALID (code not sendable / reason too long or
 * not UTF-8), WSX_E_CLOSED (already closing or closed).
 */
WSX_EXTERN int wsx_socket_close(wsx_socket *s, uint16_t code,
                                const char *reason);

/*
 * Drops the connection now (WebSocket-Node drop()): a close frame with
 * `code` (0 = 1000) and `reason` is attempted without waiting, the TCP
 * connection is closed, and `close` fires (asynchronously, from the loop)
 * with that code and clean = 0. Returns WSX_OK or WSX_E_CLOSED (the close
 * callback already ran or is pending).
 */
WSX_EXTERN int wsx_socket_drop(wsx_socket *s, uint16_t code,
                               const char *reason);

/* Stops / restarts reading from the peer. Takes effect at once, also for
 * input already waiting in the same loop turn (pausing or dropping another
 * socket from a callback: none of its input is delivered after the call).
 * pause returns WSX_OK, WSX_E_CLOSED, or a (negative) libuv error (from an
 * HTTP/2 stream's session); resume returns WSX_OK or WSX_E_CLOSED (a
 * failure to restart reading fails the connection instead: `error`
 * WSX_E_IO, then `close`). */
WSX_EXTERN int wsx_socket_pause(wsx_socket *s);
WSX_EXTERN int wsx_socket_resume(wsx_socket *s);

/* Accessors. Strings are owned by the socket, valid until `close` returns
 * (protocol / extensions / version: fixed from `open` on). */
WSX_EXTERN int wsx_socket_ready_state(const wsx_socket *s);
/* Bytes accepted by send calls but not yet written to the kernel. */
WSX_EXTERN size_t wsx_socket_buffered_amount(const wsx_socket *s);
WSX_EXTERN const char *wsx_socket_url(const wsx_socket *s);
WSX_EXTERN const char *wsx_socket_protocol(const wsx_socket *s);   /* "" */
WSX_EXTERN const char *wsx_socket_extensions(const wsx_socket *s); /* "" */
WSX_EXTERN const char *wsx_socket_version(const wsx_socket *s); /* "hybi-13" */
/* Client: status of the handshake response (0 before it). */
WSX_EXTERN int wsx_socket_status_code(const wsx_socket *s);
/* Client: response headers (valid until `close` returns). Server: request
 * headers, available in `connection` and until `open` returns only (the
 * driver releases the request when the connection opens, so an idle
 * connection holds no head): copy what you need then. *n = 0 otherwise. */
WSX_EXTERN const wsx_header *wsx_socket_headers(const wsx_socket *s, size_t *n);
/* Peer address as text ("127.0.0.1", "::1", "" for Unix sockets) into
 * buf[len] (46 bytes suffice); *port (if non-NULL) receives the port.
 * Returns WSX_OK, WSX_E_INVALID (buf too small) or a libuv error. */
WSX_EXTERN int wsx_socket_remote_address(const wsx_socket *s, char *buf,
                                         size_t len, int *port);
WSX_EXTERN void *wsx_socket_user_data(const wsx_socket *s);
WSX_EXTERN void wsx_socket_set_user_data(wsx_socket *s, void *user_data);
/* Replaces the callbacks (copied; NULL = none); takes effect for the next
 * event. Returns WSX_OK, WSX_E_STRUCT_SIZE or WSX_E_NOMEM (the old
 * callbacks stay). Tables
 * with equal contents are stored once per loop, so this costs no memory per
 * socket. */
WSX_EXTERN int wsx_socket_set_callbacks(wsx_socket *s,
                                        const wsx_socket_callbacks *cbs);
/* The `ext_size` bytes of inline application memory (zeroed at creation,
 * max_align_t aligned), or NULL if ext_size was 0. */
WSX_EXTERN void *wsx_socket_ext(const wsx_socket *s);
WSX_EXTERN uv_loop_t *wsx_socket_loop(const wsx_socket *s);
/* The underlying driver, for its accessors. Do not free it or call
 * wsx_driver_parse / wsx_driver_start on it. NULL before the handshake
 * started. The pointer stays valid until the close event: a server
 * connection whose driver was asked for never hibernates again (see
 * "Hibernation" above; a sleeping one is woken first). */
WSX_EXTERN wsx_driver *wsx_socket_driver(const wsx_socket *s);
/* The server that accepted the socket, or NULL (client / adopted). */
WSX_EXTERN wsx_server *wsx_socket_server(const wsx_socket *s);

/* ------------------------------------------------------------------------ */
/* Server                                                                    */

typedef struct wsx_server_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* A WebSocket upgrade request: call wsx_request_accept() or
   * wsx_request_reject(), now or later (before handshake_timeout). Not
   * called with auto_accept. NULL (and no auto_accept): every upgrade is
   * rejected with 403. */
  void (*request)(wsx_server *srv, wsx_request *req, void *user_data);
  /* The client went away (or handshake_timeout expired) while `req` was
   * still pending; `req` is invalid after this returns. */
  void (*request_aborted)(wsx_server *srv, wsx_request *req, void *user_data);
  /* auto_accept: a new socket, before its `open` fires. Set its user data
   * or callbacks here. */
  void (*connection)(wsx_server *srv, wsx_socket *s, void *user_data);
  /* A plain HTTP request (not an upgrade), body included (Content-Length
   * or chunked bodies up to max_http_body; wsx_request_body() has the
   * decoded bytes). Answer through `res`; `req` stays valid until
   * wsx_http_res_end() or the connection closes. Requests of one
   * connection come one at a time (see the response writer below). NULL:
   * 426 Upgrade Required. */
  void (*http_request)(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                       void *user_data);
  /* A listener failed to accept (e.g. EMFILE) — informational. */
  void (*error)(wsx_server *srv, int err, const char *message, void *user_data);
  /* After wsx_server_free(): every listener and connection is closed; the
   * server's memory is released when this returns. */
  void (*closed)(wsx_server *srv, void *user_data);
  /* Callbacks (and user_data = the server's user_data) of auto-accepted
   * sockets. NULL = none; copied by wsx_server_new. */
  const wsx_socket_callbacks *socket;
} wsx_server_callbacks;
#define WSX_SERVER_CALLBACKS_INIT                                              \
  { .struct_size = sizeof(wsx_server_callbacks) }

typedef struct wsx_server_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Options of every socket the server accepts (NULL = defaults); copied
   * by wsx_server_new. */
  const wsx_socket_options *socket;
  /* A client must deliver its whole request head, and the application
   * resolve the request, within this many ms (0 = 10000), else it is
   * dropped. */
  uint32_t handshake_timeout;
  /* Most simultaneous connections (handshaking + open); over it a new
   * connection gets 503 and is closed. TLS servers close it at once,
   * without a handshake (a TLS client could not read a plaintext 503, and
   * a handshake costs the CPU the limit protects): the client sees the
   * connection closed during its handshake. 0 = no limit. */
  uint32_t max_connections;
  /* Accept every upgrade (protocol: first of the client's offers in
   * socket.driver.protocols) and fire `connection`. */
  int auto_accept;
  /* Parse X-Forwarded-For into wsx_request_forwarded_for() (only behind a
   * proxy you trust). */
  int trust_forwarded_for;
  /* Largest plain HTTP request body (0 = 64 KiB); over it: 413 and the
   * connection closes. Bodies come with Content-Length or
   * Transfer-Encoding: chunked (decoded strictly: CRLF line ends, hex sizes;
   * a malformed body is 400; trailers are dropped; the limit counts decoded
   * bytes). Any other transfer coding is 501; Content-Length together with
   * Transfer-Encoding is 400. */
  uint32_t max_http_body;
  int backlog;    /* 0 = 511 */
  int ipv6_only;  /* IPv6 listeners: no v4-mapped addresses */
  /* SO_REUSEPORT (one server per loop per core). If the option cannot be
   * set, wsx_server_listen fails with that error (e.g. UV_ENOPROTOOPT,
   * UV_ENOTSUP) instead of listening without it. */
  int reuse_port;
  /* Non-NULL: a TLS (wss) server (wsx/tls.h; certificates are loaded by
   * wsx_server_new, the struct is not kept). handshake_timeout covers the
   * TLS handshake. */
  const wsx_tls_server_options *tls;
  /* HTTP/1.1 keep-alive: a kept-alive connection that has been idle (no
   * byte of a next request) this many ms after its last response ended is
   * closed (0 = 5000, WSX_DEFAULT_HTTP_IDLE_TIMEOUT_MS, as Node's
   * keepAliveTimeout). Once the first byte of a request arrived,
   * handshake_timeout covers its head. */
  uint32_t http_idle_timeout;
  /* Most requests one connection may carry (0 = 1000,
   * WSX_DEFAULT_MAX_REQUESTS_PER_CONNECTION; 1 = no keep-alive): the
   * response to the last one says "Connection: close" and the connection
   * closes after it. An upgrade counts as a request and ends the count. */
  uint32_t max_requests_per_connection;
  /* Hibernation of idle connections (see "Hibernation" at the top of this
   * header): an open WebSocket connection that had no input and no output
   * for this many ms (up to 1.5 times that: it is checked every half)
   * sleeps, holding about 230 bytes instead of about 900, until its next
   * input, deadline or call. 0 = 1000 (WSX_DEFAULT_HIBERNATE_AFTER_MS);
   * WSX_HIBERNATE_NEVER (UINT32_MAX) = never. Linux only (elsewhere
   * ignored); TLS servers never hibernate. */
  uint32_t hibernate_after;
} wsx_server_options;
#define WSX_SERVER_OPTIONS_INIT                                                \
  { .struct_size = sizeof(wsx_server_options) }

/*
 * Creates a server on `loop`. `opts`, `cbs` may be NULL; both are copied.
 * Returns NULL with *err (if non-NULL) set to WSX_E_STRUCT_SIZE (opts, cbs,
 * opts->socket, its driver, cbs->socket, opts->tls or a certificate: 0 or
 * unknown struct_size, see common.h), WSX_E_NOMEM, WSX_E_INVALID
 * (also: TLS options without a certificate, client_auth without a CA),
 * WSX_E_TLS (a certificate, key or CA could not be loaded, or the key does
 * not match; wsx_tls_last_error() says which and why),
 * WSX_E_HEADER_VALUE.
 */
WSX_EXTERN wsx_server *wsx_server_new(uv_loop_t *loop,
                                      const wsx_server_options *opts,
                                      const wsx_server_callbacks *cbs,
                                      void *user_data, int *err);

/*
 * Listens on host:port (host: IPv4 or IPv6 literal, NULL = "0.0.0.0";
 * port 0 = ephemeral). May be called several times (e.g. 127.0.0.1 and
 * ::1). Returns WSX_OK, WSX_E_INVALID (bad host literal), WSX_E_STATE
 * (unmounted / freed), WSX_E_NOMEM, or a libuv error (UV_EADDRINUSE, ...;
 * with reuse_port: the error of setsockopt(SO_REUSEPORT), nothing listens).
 */
WSX_EXTERN int wsx_server_listen(wsx_server *srv, const char *host, int port);
/* Listens on a Unix domain socket at `path` (must not exist). Same returns.
 */
WSX_EXTERN int wsx_server_listen_unix(wsx_server *srv, const char *path);
/* Port of the first TCP listener (the bound one when 0 was asked), or a
 * negative error (WSX_E_STATE when there is none). */
WSX_EXTERN int wsx_server_port(const wsx_server *srv);
/* Stops accepting: closes every listener; open connections go on. */
WSX_EXTERN void wsx_server_unmount(wsx_server *srv);
/* Starts a graceful close (1001 going away) of every open socket, and drops
 * connections still in their handshake or HTTP exchange. */
WSX_EXTERN void wsx_server_close_all(wsx_server *srv);
/* unmount + close_all. */
WSX_EXTERN void wsx_server_shut_down(wsx_server *srv);
/* Connections currently held (handshaking, HTTP, WebSocket). */
WSX_EXTERN size_t wsx_server_connection_count(const wsx_server *srv);
/* Bytes of message_budget (wsx_socket_options) the server's connections
 * hold now; *peak (if not NULL) receives the most they held at once since
 * the server was created. Both 0 with message_budget SIZE_MAX. */
WSX_EXTERN size_t wsx_server_budget_used(const wsx_server *srv, size_t *peak);
WSX_EXTERN void *wsx_server_user_data(const wsx_server *srv);
WSX_EXTERN uv_loop_t *wsx_server_loop(const wsx_server *srv);
/*
 * Shuts the server down (wsx_server_shut_down) and releases it once every
 * listener and connection is closed: `closed` fires, then the memory is
 * freed. Sockets' own close callbacks fire before that. Call once.
 */
WSX_EXTERN void wsx_server_free(wsx_server *srv);

/* ------------------------------------------------------------------------ */
/* Request (WebSocket-Node's WebSocketRequest)                               */

/* Strings are NUL-terminated, owned by the request, valid until it is
 * accepted, rejected, answered (wsx_http_res_end) or aborted. */
WSX_EXTERN const char *wsx_request_method(const wsx_request *req);
/* The request-target as sent ("/chat?room=1"), WebSocket-Node `resource`. */
WSX_EXTERN const char *wsx_request_resource(const wsx_request *req);
/* Path part of the target (span, not NUL-terminated). */
WSX_EXTERN const char *wsx_request_path(const wsx_request *req, size_t *len);
/* Text after '?' ("" if none). */
WSX_EXTERN const char *wsx_request_query(const wsx_request *req);
WSX_EXTERN const char *wsx_request_host(const wsx_request *req); /* or "" */
/* Origin (or, for hybi-7/8, Sec-WebSocket-Origin), or NULL if absent. */
WSX_EXTERN const char *wsx_request_origin(const wsx_request *req);
/* First header named `name` (case-insensitive), or NULL. */
WSX_EXTERN const char *wsx_request_header(const wsx_request *req,
                                          const char *name);
/* All headers (spans into the request; each name/value NUL-terminated). */
WSX_EXTERN const wsx_header *wsx_request_headers(const wsx_request *req,
                                                 size_t *n);
/* Offered subprotocols, in order (*n of them); an empty list if none. */
WSX_EXTERN const char *const *wsx_request_protocols(const wsx_request *req,
                                                    size_t *n);
/* Sec-WebSocket-Extensions as sent (all headers joined by ", "), or "".
 * Parse with wsx_extension_offers_parse(). */
WSX_EXTERN const char *wsx_request_extensions(const wsx_request *req);
/* Sec-WebSocket-Version (13, 8, 7), 0 for a request without one (drafts or
 * plain HTTP). */
WSX_EXTERN int wsx_request_version(const wsx_request *req);
/* Non-zero for a WebSocket upgrade. */
WSX_EXTERN int wsx_request_is_websocket(const wsx_request *req);
/* The parsed head (spans as in wsx_request_headers). */
WSX_EXTERN const wsx_http_request *wsx_request_http(const wsx_request *req);
/* Plain HTTP: the request body (Content-Length bytes, or the decoded
 * chunked body). */
WSX_EXTERN const uint8_t *wsx_request_body(const wsx_request *req, size_t *len);
/* The TCP peer address ("" for Unix sockets) and port. */
WSX_EXTERN const char *wsx_request_remote_address(const wsx_request *req,
                                                  int *port);
/* trust_forwarded_for: addresses from X-Forwarded-For, client first, then
 * the proxies; *n = 0 otherwise. */
WSX_EXTERN const char *const *wsx_request_forwarded_for(const wsx_request *req,
                                                        size_t *n);
WSX_EXTERN wsx_server *wsx_request_server(const wsx_request *req);

/*
 * Accepts an upgrade request: answers 101 with `protocol` (must be one of
 * the offered protocols, or NULL for none) and, for hybi-7/8 clients,
 * Sec-WebSocket-Origin: `origin` (NULL = none; ignored for 13). The server's
 * socket options apply. `cbs` (copied) and `user_data` are the socket's;
 * `open` fires before this returns. `req` is invalid afterwards, whatever
 * the result. Returns the socket, or NULL with *err set: WSX_E_STRUCT_SIZE
 * (cbs; the request is then rejected with 500), WSX_E_INVALID
 * (protocol not offered, or not an upgrade), WSX_E_HANDSHAKE (the driver
 * refused the request: it was answered with 400 and closed), WSX_E_NOMEM.
 */
WSX_EXTERN wsx_socket *
wsx_request_accept(wsx_request *req, const char *protocol, const char *origin,
                   const wsx_socket_callbacks *cbs, void *user_data, int *err);

struct wsx_set_cookie; /* wsx/cookie.h */
/*
 * accept() with cookies (WebSocket-Node's accept(protocol, origin,
 * cookies)): like wsx_request_accept, and the 101 answer carries one
 * Set-Cookie header per cookies[i] (num_cookies pointers, each to a
 * wsx_set_cookie made with WSX_SET_COOKIE_INIT; read during the call, not
 * kept), after the server's socket.headers.
 * Every cookie is validated and formatted with wsx_cookie_format() before
 * anything is written: when one is invalid (CR, LF or ';' in a value, a
 * name that is not a token, SameSite=None without Secure, a NULL entry,
 * cookies NULL with num_cookies > 0, ...) no 101 and no Set-Cookie is
 * sent: the request is rejected with 500 and X-WebSocket-Reject-Reason:
 * invalid cookie, the connection closes, and NULL is returned with *err =
 * WSX_E_HEADER_VALUE or WSX_E_INVALID (wsx_cookie_format's code). Other
 * returns and `req`'s lifetime as wsx_request_accept (which is this call
 * with no cookies).
 */
WSX_EXTERN wsx_socket *wsx_request_accept_with_cookies(
    wsx_request *req, const char *protocol, const char *origin,
    const struct wsx_set_cookie *const *cookies, size_t num_cookies,
    const wsx_socket_callbacks *cbs, void *user_data, int *err);

/*
 * Rejects: answers `status` (0 = 403) with a small text body, the header
 * X-WebSocket-Reject-Reason: `reason` (if non-NULL) and the extra headers
 * (copied), then closes the connection. `req` is invalid afterwards.
 * Returns WSX_OK, WSX_E_INVALID (status outside 100..599 or 101),
 * WSX_E_HEADER_VALUE (CR/LF in reason or headers; nothing sent, the
 * connection is dropped).
 */
WSX_EXTERN int wsx_request_reject(wsx_request *req, int status,
                                  const char *reason, const wsx_header *headers,
                                  size_t n);

/* ------------------------------------------------------------------------ */
/* HTTP response writer (plain HTTP requests through the server front)      */

/*
 * The response head is sent with the first write or end. A response ended
 * without any earlier write gets Content-Length; a streamed one (write ...
 * end) is delimited by the close ("Connection: close"), which suits event
 * streams, unless the app set a Content-Length header itself.
 *
 * Keep-alive (HTTP/1.1): after end, the connection stays open for the next
 * request when the client allows it (HTTP/1.1 without "Connection: close",
 * or HTTP/1.0 with "Connection: keep-alive", which is then echoed), the
 * response has a length (Content-Length: ours, or the app's when exactly
 * that many bytes were written), the app did not set "Connection: close"
 * or a Transfer-Encoding, and the connection is below
 * max_requests_per_connection. Otherwise the response says
 * "Connection: close" (unless the app set a Connection header) and the
 * connection closes after it. Pipelined requests wait in the connection's
 * buffer: the next reaches `http_request` only after the previous
 * response ended (and its bytes are no longer above the high-water mark),
 * from the loop, never inside wsx_http_res_end(); so responses leave in
 * request order. A kept-alive connection idle for http_idle_timeout ms is
 * closed. A client that half-closes after sending its requests still gets
 * every answer.
 */
typedef struct wsx_http_res_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* buffered amount fell to or below the high-water mark. */
  void (*drain)(wsx_http_res *res, void *user_data);
  /* The response is over: after end, once the connection closed or (kept
   * alive) moved on to the next request; or the client went away. `res`
   * and its request are freed when this returns. */
  void (*close)(wsx_http_res *res, void *user_data);
} wsx_http_res_callbacks;
#define WSX_HTTP_RES_CALLBACKS_INIT                                            \
  { .struct_size = sizeof(wsx_http_res_callbacks) }

/* Status (default 200) and reason (NULL = standard phrase), before the
 * head is sent. Returns WSX_OK, WSX_E_STATE, WSX_E_INVALID,
 * WSX_E_HEADER_VALUE. */
WSX_EXTERN int wsx_http_res_status(wsx_http_res *res, int status,
                                   const char *reason);
/* Adds a header (copied), before the head is sent. Same returns, plus
 * WSX_E_NOMEM. */
WSX_EXTERN int wsx_http_res_header(wsx_http_res *res, const char *name,
                                   const char *value);
/* Streams body bytes (borrowed for the call). Same return convention as
 * wsx_socket_send_text (0 / 1 above high-water mark / negative:
 * WSX_E_CLOSED, WSX_E_NOMEM, WSX_E_POLICY: the buffered amount passed the
 * server's socket.max_buffered and the connection was dropped; `close`
 * follows). The server's socket.high_water_mark applies. */
WSX_EXTERN int wsx_http_res_write(wsx_http_res *res, const void *data,
                                  size_t len);
/* Last bytes (may be NULL/0), then close once everything is written.
 * Returns WSX_OK, WSX_E_CLOSED, WSX_E_NOMEM. */
WSX_EXTERN int wsx_http_res_end(wsx_http_res *res, const void *data,
                                size_t len);
/* Closes the connection now (e.g. a client that stopped reading):
 * unwritten bytes are dropped, nothing more is sent, and `close` follows
 * from the loop. Also cuts short the flush of an ended response. "Drop"
 * is wsx's one name for "close now, without a handshake" (wsx_socket_drop;
 * this was wsx_http_res_destroy).
 * Returns WSX_OK or WSX_E_CLOSED (the connection is already closing). */
WSX_EXTERN int wsx_http_res_drop(wsx_http_res *res);
/* Replaces the server's socket.high_water_mark for this response (0 =
 * back to the server's): writes return 1 and `drain` is owed above it. */
WSX_EXTERN void wsx_http_res_set_high_water_mark(wsx_http_res *res, size_t hwm);
WSX_EXTERN size_t wsx_http_res_buffered_amount(const wsx_http_res *res);
/* Sets the response's callbacks (copied; NULL = none) and user data.
 * Returns WSX_OK, or WSX_E_STRUCT_SIZE (nothing changed). */
WSX_EXTERN int wsx_http_res_set_callbacks(wsx_http_res *res,
                                          const wsx_http_res_callbacks *cbs,
                                          void *user_data);
WSX_EXTERN wsx_request *wsx_http_res_request(const wsx_http_res *res);

/*
 * Sets SIGPIPE to SIG_IGN if its disposition is SIG_DFL; leaves a handler
 * or SIG_IGN that the application installed alone. wsx calls it once by
 * itself, when the process creates its first server, socket or EventSource
 * (see the top of this header); calling it earlier or again is harmless.
 * Process-wide (signal dispositions are). Returns WSX_OK, or a negative
 * errno value (a libuv error code) if sigaction() failed.
 */
WSX_EXTERN int wsx_ignore_sigpipe(void);

/* Like wsx_strerror, but also names libuv errors. Never NULL. */
WSX_EXTERN const char *wsx_uv_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* WSX_UV_H */
