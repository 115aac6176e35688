/*
 * wsx/driver.h: the sans-I/O WebSocket protocol driver (the C counterpart of
 * websocket-driver).
 *
 * A driver owns no socket, timer or thread. The caller feeds it the bytes it
 * reads (wsx_driver_parse) and it answers with events (callbacks) and with
 * bytes to write, handed out through the `write` callback as an iovec array.
 *
 * Roles:
 *   wsx_driver_new_server()          parses the raw HTTP request itself and
 *                                    fires `connect` with the parsed request
 *                                    (websocket-driver's server()).
 *   wsx_driver_new_server_request()  built from a request the application
 *                                    already parsed (websocket-driver's
 *                                    http()); feed it the bytes that followed
 *                                    the head with wsx_driver_parse().
 *   wsx_driver_new_client()          from a ws:// or wss:// URL.
 *
 * Lifecycle: new -> [set_header/add protocols] -> start -> parse/send ... ->
 * close -> `close` event -> free.
 *
 * Re-entry. Callbacks (open, message, frame, ping, pong, close, error,
 * connect, select_protocol, ping callbacks) may call any driver function
 * except wsx_driver_free() (free the driver after the callback returns),
 * with two refusals that leave the driver untouched:
 *   - wsx_driver_parse() from inside a callback of the same driver returns
 *     WSX_E_STATE and consumes nothing: the outer call is in the middle of
 *     its input. Keep the bytes and feed them after the outer call returns.
 *   - wsx_driver_start() returns WSX_E_STATE once started; the one nested
 *     call that works is start() from `connect` (a raw server answering).
 * Sends, ping, pong, close and abort work from every callback; what they
 * write goes out at once, in call order. The `write` callback itself is
 * the exception: from inside it, parse, start, send*, ping, pong and close
 * return WSX_E_STATE (a frame is half written).
 *
 * Errors. A driver function returns WSX_OK or a negative WSX_E_ code. If
 * wsx_is_fatal(code), the driver is now CLOSED (its `error` then `close`
 * events have fired, wsx_driver_last_error() tells why); otherwise the
 * call changed nothing and the driver is usable. WSX_E_CLOSED reports a
 * driver that was already closing or closed.
 *
 * Input: wsx_driver_parse() takes a MUTABLE buffer: masked payloads are
 * unmasked in place, so the caller's bytes are modified. Data handed to
 * callbacks is valid only for the duration of the callback. A server that
 * sends a message's data (exactly wsx_message.data) from its message
 * callback may also have its frame header written over the received
 * frame's header, just before that data in the same buffer.
 *
 * Output: every byte the driver wants written goes through
 * callbacks.write(d, iov, iovcnt, user_data), in order. The iovec pointers
 * are valid only during that call: the callback must write or copy them
 * before it returns. Server payloads are referenced, not copied (a frame is
 * {header, payload}, or one span {header + payload} when the payload is the
 * message being delivered straight from the input: see Input); client
 * payloads are masked into a scratch buffer that the driver reuses.
 */
#ifndef WSX_DRIVER_H
#define WSX_DRIVER_H

#include "common.h"
#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_driver wsx_driver;
typedef struct wsx_extension wsx_extension; /* see wsx/extension.h */

/* Opcodes (RFC 6455 5.2). */
enum wsx_opcode {
  WSX_OP_CONTINUATION = 0x0,
  WSX_OP_TEXT = 0x1,
  WSX_OP_BINARY = 0x2,
  WSX_OP_CLOSE = 0x8,
  WSX_OP_PING = 0x9,
  WSX_OP_PONG = 0xA
};

/* RSV bits as they sit in the first header byte. */
#define WSX_RSV1 0x40
#define WSX_RSV2 0x20
#define WSX_RSV3 0x10

/* Close codes (RFC 6455 7.4.1). */
enum wsx_close_code {
  WSX_CLOSE_NORMAL = 1000,
  WSX_CLOSE_GOING_AWAY = 1001,
  WSX_CLOSE_PROTOCOL_ERROR = 1002,
  WSX_CLOSE_UNACCEPTABLE = 1003,
  WSX_CLOSE_NO_STATUS = 1005, /* never sent; reported when none received */
  WSX_CLOSE_ABNORMAL = 1006,  /* never sent; connection dropped */
  WSX_CLOSE_INVALID_DATA = 1007,
  WSX_CLOSE_POLICY = 1008,
  WSX_CLOSE_TOO_LARGE = 1009,
  WSX_CLOSE_EXTENSION = 1010,
  WSX_CLOSE_UNEXPECTED = 1011,
  WSX_CLOSE_SERVICE_RESTART = 1012, /* IANA registry */
  WSX_CLOSE_TRY_AGAIN_LATER = 1013,
  WSX_CLOSE_BAD_GATEWAY = 1014
};

/* Ready states (the WebSocket API's readyState). */
enum wsx_ready_state {
  WSX_CONNECTING = 0,
  WSX_OPEN = 1,
  WSX_CLOSING = 2,
  WSX_CLOSED = 3
};

#define WSX_DEFAULT_MAX_LENGTH ((uint64_t)(1u << 26) - 1u) /* 64 MiB - 1 */
#define WSX_DEFAULT_MAX_FRAGMENTS (1u << 20)
#define WSX_DEFAULT_FRAGMENTATION_THRESHOLD 16384u

/*
 * Options. WSX_DRIVER_OPTIONS_INIT (or NULL) selects every default. The struct
 * is copied at creation; string pointers in it are copied too.
 */
typedef struct wsx_driver_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Largest incoming message (after decompression), in bytes.
   * 0 = WSX_DEFAULT_MAX_LENGTH (2^26-1, as faye-websocket). Exceeding it:
   * close 1009 + error WSX_E_MESSAGE_TOO_BIG. Checked on the frame header,
   * before any allocation. (WebSocket-Node: max_received_message_size.)
   * For a message compressed by a negotiated extension, the wire-size
   * checks (max_frame_size and the message's wire length) allow
   * max_length/8 + 1024 extra bytes (DEFLATE's worst-case expansion); the
   * decompressed size is held to max_length exactly, while inflating. */
  uint64_t max_length;
  /* Largest incoming frame payload. 0 = same as max_length.
   * (WebSocket-Node: max_received_frame_size.) */
  uint64_t max_frame_size;
  /* Most frames one message may have. 0 = WSX_DEFAULT_MAX_FRAGMENTS (2^20,
   * so 64 MiB in 64-byte frames passes). Fragments cost no memory beyond their
   * payload: this limit bounds CPU, max_length bounds memory. */
  uint32_t max_fragments;
  /* HTTP head limits (server request / client response). 0 = 16 KiB and
   * WSX_HTTP_DEFAULT_MAX_HEADERS. */
  uint32_t max_head_size;
  uint32_t max_headers;
  /* Non-zero: deliver data frames as they arrive (`frame` callback) instead
   * of assembled messages (WebSocket-Node assemble_fragments = false). UTF-8
   * is still validated across fragments. Default: assemble. */
  int frame_events;
  /* Non-zero: split outgoing messages longer than fragmentation_threshold
   * into frames of at most that size (WebSocket-Node
   * fragment_outgoing_messages). Default: off (one frame per message). */
  int fragment_outgoing_messages;
  /* 0 = WSX_DEFAULT_FRAGMENTATION_THRESHOLD (16 KiB). */
  uint32_t fragmentation_threshold;
  /* NULL-terminated list of subprotocols. Client: offered in order. Server:
   * supported; the server picks the FIRST of the client's offers that is in
   * this list, unless callbacks.select_protocol decides. Copied. */
  const char *const *protocols;
  /* Client: value of the Origin header (NULL = none). Copied. */
  const char *origin;
  /* Server only: accept the hixie-75/76 drafts (websocket-driver
   * allowDrafts). Default off: a draft request gets 400. */
  int allow_drafts;
  /* Server, drafts only: the connection is TLS (Sec-WebSocket-Location uses
   * wss://). */
  int secure;
  /* Allocator for everything this driver allocates (NULL = libc). */
  const wsx_allocator *allocator;
  /* Random bytes for client frame masks (RFC 6455 5.3) and the client's
   * Sec-WebSocket-Key: fill buf[0..len) and return 0, or return non-zero
   * (the driver then fails with WSX_E_INTERNAL, close 1011). Must be
   * unpredictable (a CSPRNG). NULL = the platform's CSPRNG, chosen at
   * build time: getrandom(2), else getentropy(3), else arc4random_buf(3),
   * else /dev/urandom. Called from the thread using the driver. */
  int (*random)(void *buf, size_t len, void *ud);
  void *random_ud; /* passed to `random` */
} wsx_driver_options;
#define WSX_DRIVER_OPTIONS_INIT                                                \
  { .struct_size = sizeof(wsx_driver_options) }

/* An assembled message (or, in frame mode, one data frame). */
typedef struct wsx_message {
  int opcode;          /* WSX_OP_TEXT or WSX_OP_BINARY (frame mode: as sent,
                          including WSX_OP_CONTINUATION) */
  const uint8_t *data; /* borrowed for the callback's duration */
  size_t len;
  int fin; /* frame mode: final fragment. Message mode: 1. */
  int rsv; /* frame mode: RSV bits of the frame (as received,
              before extensions). Message mode: 0. */
} wsx_message;

typedef struct wsx_close_event {
  uint16_t code;      /* 1005 when the peer sent none; 1006 when dropped */
  const char *reason; /* UTF-8, NUL-terminated, borrowed */
  size_t reason_len;
  int clean; /* 1 if the closing handshake completed */
} wsx_close_event;

typedef struct wsx_error_event {
  int code;            /* WSX_E_... */
  const char *message; /* names the rule broken; NUL-terminated, borrowed */
  uint16_t close_code; /* close code sent to the peer (0 if none) */
} wsx_error_event;

/*
 * Callbacks. Every member may be NULL (write is required before start()).
 * `user_data` given at creation is passed to each.
 */
typedef struct wsx_driver_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Bytes to send, in order. Return 0, or non-zero to make the driver
   * fail: the call that wrote returns WSX_E_IO, `error` (WSX_E_IO) then
   * `close` (1006, not clean) fire, the driver is CLOSED and later sends
   * return WSX_E_CLOSED. Pointers are valid only during the call. */
  int (*write)(wsx_driver *d, const wsx_iovec *iov, size_t iovcnt, void *ud);
  /* Raw server mode: the request head was parsed. Inspect it with
   * wsx_driver_request() / wsx_driver_is_websocket(), then call
   * wsx_driver_start() (now or later) to answer the handshake, or handle the
   * request as plain HTTP yourself. */
  void (*connect)(wsx_driver *d, void *ud);
  /* Handshake complete; messages may flow. */
  void (*open)(wsx_driver *d, void *ud);
  void (*message)(wsx_driver *d, const wsx_message *m, void *ud);
  /* Frame mode only: one data frame. */
  void (*frame)(wsx_driver *d, const wsx_message *m, void *ud);
  void (*ping)(wsx_driver *d, const uint8_t *data, size_t len, void *ud);
  void (*pong)(wsx_driver *d, const uint8_t *data, size_t len, void *ud);
  /* The connection is closed (handshake complete, or failed). After this the
   * caller should close the transport. Fires exactly once. */
  void (*close)(wsx_driver *d, const wsx_close_event *e, void *ud);
  void (*error)(wsx_driver *d, const wsx_error_event *e, void *ud);
  /* Server: choose a subprotocol from the client's offers (in order).
   * Return one of `offered` (or any string, which is copied), or NULL for
   * none. When NULL, the default rule applies (first offer in
   * options.protocols). */
  const char *(*select_protocol)(wsx_driver *d, const char *const *offered,
                                 size_t n, void *ud);
} wsx_driver_callbacks;
#define WSX_DRIVER_CALLBACKS_INIT                                              \
  { .struct_size = sizeof(wsx_driver_callbacks) }

/* Callback for wsx_driver_ping(): fires once when the matching pong
 * arrives. */

/* Most ping callbacks one driver keeps waiting for a pong. A keepalive has
 * one outstanding; 64 covers a burst of RTT probes while bounding what a
 * peer that never answers costs (64 * 144 bytes, grown by doubling). */
#define WSX_MAX_PING_CALLBACKS 64
typedef void (*wsx_ping_cb)(wsx_driver *d, void *arg);

/*
 * Constructors. `opts` and `cbs` may be NULL (defaults / no callbacks) and
 * are copied. Return NULL only when allocation fails or a struct_size of
 * `opts` / `cbs` is 0 or unknown (WSX_E_STRUCT_SIZE, see common.h); the
 * client also for an invalid URL. The client sets *err (if non-NULL) to
 * WSX_E_URL, WSX_E_STRUCT_SIZE or WSX_E_NOMEM.
 */
WSX_EXTERN wsx_driver *wsx_driver_new_server(const wsx_driver_options *opts,
                                             const wsx_driver_callbacks *cbs,
                                             void *user_data);

/*
 * `req` is a request the application already parsed; it is copied (the
 * driver keeps its own copy of method, target and headers). The driver
 * validates it in wsx_driver_start().
 */
WSX_EXTERN wsx_driver *
wsx_driver_new_server_request(const wsx_http_request *req,
                              const wsx_driver_options *opts,
                              const wsx_driver_callbacks *cbs, void *user_data);

/* `url` is ws://host[:port]/path?query or wss://...; copied. */
WSX_EXTERN wsx_driver *wsx_driver_new_client(const char *url,
                                             const wsx_driver_options *opts,
                                             const wsx_driver_callbacks *cbs,
                                             void *user_data, int *err);

/* Frees the driver and everything it owns. Never call from a callback. */
WSX_EXTERN void wsx_driver_free(wsx_driver *d);

/*
 * Memory budget hook for incoming messages. The driver calls `cb` before it
 * grows the buffer that holds an incoming message (its reassembly buffer,
 * which also receives an extension's decoded output, e.g. inflated
 * permessage-deflate data) with delta = the bytes it is about to add, and
 * after it frees that buffer (at the end of a large message, or in
 * wsx_driver_free) with delta = minus what was granted. For delta > 0 the
 * hook returns 0 to allow the growth or a close code to refuse it: the
 * buffer is then not grown, the message fails (error
 * WSX_E_MESSAGE_TOO_BIG) and the connection closes with that code (the
 * transport uses 1009 and 1013, see wsx_socket_options.message_budget).
 * The return value for delta < 0 is ignored. Messages handed out without a
 * copy (a whole unfragmented frame) need no buffer and never ask. Legacy
 * hixie drafts do not use the hook. `cb` = NULL turns it off; replacing a
 * hook first refunds what the old one granted. user_data is passed back.
 */
typedef uint16_t (*wsx_budget_cb)(wsx_driver *d, int64_t delta,
                                  void *user_data);
WSX_EXTERN void wsx_driver_set_budget(wsx_driver *d, wsx_budget_cb cb,
                                      void *user_data);
/*
 * Bytes the budget hook would be asked for if `more` bytes of decoded
 * payload were added to the incoming message now (the growth of its buffer
 * to hold them, at most max_length; 0 when the buffer already has room, no
 * hook is set, or the driver is a legacy hixie one). A caller that cannot
 * grant that much yet can hold its input back before wsx_driver_parse()
 * instead of having the hook refuse (the transport parks such a connection,
 * see wsx_socket_options.message_budget).
 */
WSX_EXTERN size_t wsx_driver_budget_need(const wsx_driver *d, size_t more);
/*
 * Fails the connection as a refusal of the budget hook would: the
 * incoming message is dropped, error WSX_E_MESSAGE_TOO_BIG, a close frame
 * with `code` (e.g. 1013 try again later) when the connection is open,
 * then the close event. Nothing more is parsed or sent. Returns
 * WSX_E_MESSAGE_TOO_BIG (or the earlier error of a driver already closed).
 */
WSX_EXTERN int wsx_driver_fail_budget(wsx_driver *d, uint16_t code);

/* Changes user_data passed to callbacks. */
WSX_EXTERN void wsx_driver_set_user_data(wsx_driver *d, void *user_data);
WSX_EXTERN void *wsx_driver_user_data(const wsx_driver *d);

/*
 * Adds a header to the handshake (client request or server 101 response).
 * Before start() only. Name and value are copied.
 * Returns WSX_OK, WSX_E_STATE (already started), WSX_E_HEADER_VALUE (name not
 * a token, or value containing CR/LF/NUL), WSX_E_NOMEM.
 */
WSX_EXTERN int wsx_driver_set_header(wsx_driver *d, const char *name,
                                     const char *value);

struct wsx_set_cookie; /* wsx/cookie.h */
/*
 * Server: adds a Set-Cookie header to the 101 answer (WebSocket-Node's
 * accept(protocol, origin, cookies)). The cookie is validated and formatted
 * by wsx_cookie_format() first, so nothing is added when it is invalid.
 * Before start() only. Returns WSX_OK, WSX_E_STATE (already started, or a
 * client driver), WSX_E_INVALID / WSX_E_HEADER_VALUE (as
 * wsx_cookie_format), WSX_E_NOMEM.
 */
WSX_EXTERN int wsx_driver_set_cookie(wsx_driver *d,
                                     const struct wsx_set_cookie *cookie);

/*
 * Registers an extension (see wsx/extension.h) before start(). The extension
 * object stays owned by the caller and must outlive the driver.
 * Returns WSX_OK, WSX_E_INVALID, WSX_E_STATE, WSX_E_NOMEM, or
 * WSX_E_STRUCT_SIZE (ext->type->struct_size 0 or unknown; the type is kept
 * by pointer, so members past an older struct_size are never read).
 */
WSX_EXTERN int wsx_driver_add_extension(wsx_driver *d, wsx_extension *ext);

/*
 * Client: sends the opening handshake. Server: validates the request and
 * sends the 101 response, or a 400/426 response followed by an `error` and a
 * `close` event. Returns WSX_OK, WSX_E_STATE (started twice, nested, or raw
 * server before `connect`; nothing done), WSX_E_INVALID (no write
 * callback), and the fatal WSX_E_HANDSHAKE (server: request refused),
 * WSX_E_IO (write callback failed), WSX_E_NOMEM_FATAL, WSX_E_INTERNAL (no
 * random bytes).
 */
WSX_EXTERN int wsx_driver_start(wsx_driver *d);

/*
 * Feeds received bytes. The buffer is modified (unmasked in place; a
 * consumed frame header may take an echoed frame's header, see Input). All
 * bytes are consumed; incomplete frames are buffered internally (bounded by
 * the limits). Events fire before this returns.
 * Returns WSX_OK, or a fatal code (protocol errors also produce `error` and
 * `close` events and a close frame; a failed write callback gives WSX_E_IO,
 * corrupt compressed data WSX_E_EXTENSION, an allocation failure
 * WSX_E_NOMEM_FATAL). After the connection is closed, further input is
 * ignored and the fatal code (or WSX_E_CLOSED after a clean close) is
 * returned. WSX_E_STATE: called from a callback of this driver (see
 * Re-entry above; nothing consumed), or a client before start().
 * Close codes accepted from the peer: 1000-1003, 1007-1014, 3000-4999;
 * any other is a protocol error (1002).
 */
WSX_EXTERN int wsx_driver_parse(wsx_driver *d, uint8_t *data, size_t len);

/*
 * Zero-copy receive (optional: wsx_driver_parse() alone is always enough).
 * While the driver is inside the payload of a data frame that it collects
 * as it is (hybi-13, no extension transforms the message) and at least
 * `min` (>= 1) payload bytes of that frame are still to come, returns
 * where the next input bytes may be read to and sets *len to the room
 * there (never past the end of the frame): the caller reads up to *len
 * bytes from the peer straight into it and then calls
 * wsx_driver_recv_commit() with the number it got, before any other call
 * on the driver. Returns NULL otherwise (use wsx_driver_parse()): between
 * frames, in a control frame, inside callbacks of this driver, or when the
 * message buffer cannot grow (the next parse reports why). The memory is
 * the driver's (its message buffer, grown like wsx_driver_parse() grows
 * it: it never holds much more than twice the bytes received); a buffer
 * not committed is just unused room.
 */
WSX_EXTERN void *wsx_driver_recv_buffer(wsx_driver *d, size_t min,
                                        size_t *len);

/*
 * The first n bytes at the last wsx_driver_recv_buffer() came from the
 * peer: they are parsed exactly as wsx_driver_parse() would (unmasked in
 * place, validated, the message delivered when its last frame ends; the
 * callbacks run before this returns). Returns as wsx_driver_parse();
 * WSX_E_INVALID when n is more than that buffer's room or no such buffer
 * is outstanding (nothing consumed); n = 0 does nothing.
 */
WSX_EXTERN int wsx_driver_recv_commit(wsx_driver *d, size_t n);

/*
 * From inside the `message` (or `frame`) callback: takes the delivered
 * data when it lies in the driver's own message buffer, so the
 * application keeps it without a copy. Returns m->data (now owned by the
 * caller, *len = m->len bytes, writable, to be freed with the driver's
 * allocator: free() unless wsx_driver_options.allocator was set; for the
 * driver of a wsx_socket (wsx_socket_driver), only with
 * wsx_socket_free_message, whatever the allocator: see wsx/uv.h) and the
 * driver starts the next message in a new buffer; the bytes no longer
 * count against wsx_driver_set_budget(). Returns NULL (nothing taken, the
 * data stays borrowed) outside those callbacks, on hixie drafts, and for a
 * message delivered straight from the wsx_driver_parse() input (a single
 * frame that arrived in one piece): copy it then.
 */
WSX_EXTERN void *wsx_driver_take_message(wsx_driver *d, size_t *len);

/*
 * Sending. Before open, messages are queued (copied) and flushed on open.
 * Return WSX_OK; WSX_E_CLOSED after close() or a failure; WSX_E_UNSUPPORTED
 * (binary/ping/pong on hixie drafts); WSX_E_TOO_BIG (control payload > 125);
 * WSX_E_INVALID (send_text with invalid UTF-8); WSX_E_NOMEM (nothing sent);
 * WSX_E_STATE (from the write callback). Fatal, the driver is closed:
 * WSX_E_IO (the write callback failed), WSX_E_EXTENSION or
 * WSX_E_NOMEM_FATAL (an extension failed on the message).
 * `data` is borrowed for the duration of the call.
 * UTF-8: text is validated before it is sent, except a text message sent
 * back whole from its own `message` callback (m->data with m->len bytes,
 * or the buffer wsx_driver_take_message() returned for it, sent before it
 * is changed or freed): it was validated as it arrived. A part of it, or
 * a frame delivered by frame events, is checked like any text.
 */
WSX_EXTERN int wsx_driver_send_text(wsx_driver *d, const char *data,
                                    size_t len);
WSX_EXTERN int wsx_driver_send_binary(wsx_driver *d, const void *data,
                                      size_t len);
/* Flags for wsx_driver_send(). */
#define WSX_SEND_UNCOMPRESSED                                                  \
  1u /* skip permessage-deflate (and any other                                 \
        transforming extension) for this message */

/* General form of send_text / send_binary: `opcode` is WSX_OP_TEXT or
 * WSX_OP_BINARY; `flags` is 0 or WSX_SEND_UNCOMPRESSED. Same returns, plus
 * WSX_E_INVALID for another opcode or unknown flags. */
WSX_EXTERN int wsx_driver_send(wsx_driver *d, int opcode, const void *data,
                               size_t len, unsigned flags);

/* Sends one frame as given (no fragmentation, no extensions). The caller
 * must respect the continuation rules; the driver checks opcode validity,
 * control length and fin on control frames (WSX_E_INVALID otherwise). */
WSX_EXTERN int wsx_driver_send_frame(wsx_driver *d, int opcode, int fin,
                                     const void *data, size_t len);
/* Ping; `cb` (may be NULL) fires once when a pong with the same payload
 * arrives (the oldest waiting ping with that payload); pending callbacks are
 * dropped when the close event fires. Returns WSX_OK if the ping was sent
 * (or queued before open), WSX_E_BUSY if `cb` is non-NULL and
 * WSX_MAX_PING_CALLBACKS callbacks are already waiting (nothing is sent; a
 * ping without a callback is still accepted), plus the send returns. */
WSX_EXTERN int wsx_driver_ping(wsx_driver *d, const void *data, size_t len,
                               wsx_ping_cb cb, void *cb_arg);
WSX_EXTERN int wsx_driver_pong(wsx_driver *d, const void *data, size_t len);

/*
 * Starts the closing handshake with `code` (0 = 1000) and `reason` (may be
 * NULL; at most 123 bytes of UTF-8). The `close` event fires when the peer
 * answers (or at once for a driver that never opened, and for hixie-75).
 * Sendable codes: 1000-1003, 1007-1014, 3000-4999.
 * Returns WSX_OK, WSX_E_INVALID (code not sendable, reason too long or not
 * UTF-8), WSX_E_CLOSED (already closing), WSX_E_STATE (from the write
 * callback), WSX_E_IO (fatal: the write callback failed).
 */
WSX_EXTERN int wsx_driver_close(wsx_driver *d, uint16_t code,
                                const char *reason);

/*
 * The transport went away without a closing handshake: fires `close` with
 * code 1006 (or `code` if non-zero) and `clean` = 0, unless already closed.
 */
WSX_EXTERN void wsx_driver_abort(wsx_driver *d, uint16_t code,
                                 const char *reason);

/* Accessors. Returned strings are owned by the driver and valid until it
 * is freed (protocol: until it changes, i.e. from open on it is fixed). */
WSX_EXTERN int wsx_driver_ready_state(const wsx_driver *d);
WSX_EXTERN const char *
wsx_driver_protocol(const wsx_driver *d);                       /* "" if none */
WSX_EXTERN const char *wsx_driver_version(const wsx_driver *d); /* "hybi-13" */
WSX_EXTERN const char *wsx_driver_url(const wsx_driver *d);     /* client, or
                         server: scheme+host+target once the request is known */
/* Negotiated Sec-WebSocket-Extensions header value ("" if none). */
WSX_EXTERN const char *wsx_driver_extensions(const wsx_driver *d);
/* Client: status code of the handshake response (0 before it). */
WSX_EXTERN int wsx_driver_status_code(const wsx_driver *d);
/* Payload bytes that negotiated extensions have decoded from incoming
 * messages so far (e.g. inflated permessage-deflate output; 0 without
 * extensions). wsx_driver_parse() is synchronous: a caller that must stay
 * responsive while a highly compressed message inflates (the transport
 * does) feeds the input in small pieces and watches this counter to decide
 * when to yield to other work between pieces. */
WSX_EXTERN uint64_t wsx_driver_decoded_bytes(const wsx_driver *d);
/* Client: response headers, valid until the driver is freed. Server:
 * request headers, valid until the `open` callback returns: a server driver
 * releases the request when the connection opens so that an idle connection
 * holds only framing state (copy what you need in `connect` or `open`).
 * *n receives the count (0 and NULL once released). */
WSX_EXTERN const wsx_header *wsx_driver_headers(const wsx_driver *d, size_t *n);
/* Server: the request (method, target, headers), or NULL before it is
 * known and after the `open` callback has returned (see above). */
WSX_EXTERN const wsx_http_request *wsx_driver_request(const wsx_driver *d);
/* Server: non-zero if the parsed request is a WebSocket upgrade (GET with
 * Upgrade: websocket and Connection: upgrade). */
WSX_EXTERN int wsx_driver_is_websocket(const wsx_driver *d);
/* Raw server / client: bytes that followed the HTTP head and were not
 * consumed as WebSocket data (e.g. the body of a plain HTTP request).
 * Valid until the next parse() or free. */
WSX_EXTERN const uint8_t *wsx_driver_body(const wsx_driver *d, size_t *len);
/* Last fatal error code (WSX_OK if none) and its detail message ("" if none).
 */
WSX_EXTERN int wsx_driver_last_error(const wsx_driver *d, const char **msg);

/*
 * Non-zero if `headers` make a WebSocket upgrade request (method GET,
 * Upgrade contains "websocket", Connection contains "upgrade"), for
 * applications that parse requests themselves.
 */
WSX_EXTERN int wsx_is_websocket_request(const wsx_http_request *req);

/*
 * Computes Sec-WebSocket-Accept for `key` (as received, not NUL-terminated):
 * writes 28 characters plus NUL to out[29].
 */
WSX_EXTERN void wsx_accept_key(const char *key, size_t key_len, char out[29]);

#ifdef __cplusplus
}
#endif
#endif /* WSX_DRIVER_H */
