/*
 * wsx/proxy.h: the sans-I/O HTTP CONNECT handshake (websocket-driver's
 * driver.proxy(url)).
 *
 * A wsx_proxy owns no socket. The caller connects to the proxy itself,
 * calls wsx_proxy_start() (which writes `CONNECT host:port HTTP/1.1` through
 * the write callback), feeds everything it reads from the proxy to
 * wsx_proxy_parse() and gets one of two events:
 *
 *   connect  the proxy answered 2xx: the connection is now a tunnel to the
 *            origin. Bytes that arrived after the response head already
 *            belong to the tunnel (wsx_proxy_body()). Run TLS over the
 *            tunnel now for wss://, then start the WebSocket driver on it.
 *   error    anything else: a non-2xx status (407 with the proxy's
 *            Proxy-Authenticate header in wsx_proxy_headers(), 403, 502 ...),
 *            a malformed or oversized head, or the proxy closing the
 *            connection first (wsx_proxy_eof()). The caller should close the
 *            connection.
 * Exactly one of them fires, once.
 *
 *   p = wsx_driver_proxy(driver, "http://user:pass@proxy:3128", ...);
 *   ... TCP connected to proxy:3128 ...
 *   wsx_proxy_start(p);
 *   ... on read: wsx_proxy_parse(p, buf, n);   on EOF: wsx_proxy_eof(p);
 *   connect: body = wsx_proxy_body(p, &len); wsx_driver_start(driver);
 *            if (len) wsx_driver_parse(driver, copy of body, len);
 *
 * The request carries `Host: host:port`, `Proxy-Authorization: Basic ...`
 * when the proxy URL has userinfo (percent-decoded, RFC 7617), then the
 * headers added with wsx_proxy_set_header(), in order.
 *
 * Callbacks may call accessors and wsx_proxy_body(); they must not call
 * wsx_proxy_free() (free after the callback returns).
 */
#ifndef WSX_PROXY_H
#define WSX_PROXY_H

#include "common.h"
#include "driver.h"
#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_proxy wsx_proxy;

/* Options. WSX_PROXY_OPTIONS_INIT (or NULL) selects every default; copied. */
typedef struct wsx_proxy_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Response head limits: 0 = WSX_HTTP_DEFAULT_MAX_HEAD (16 KiB) and
   * WSX_HTTP_DEFAULT_MAX_HEADERS (64). A longer head fails with
   * WSX_E_HEAD_TOO_BIG. */
  uint32_t max_head_size;
  uint32_t max_headers;
  /* Allocator (NULL = libc; wsx_driver_proxy: the driver's allocator). */
  const wsx_allocator *allocator;
} wsx_proxy_options;
#define WSX_PROXY_OPTIONS_INIT                                                 \
  { .struct_size = sizeof(wsx_proxy_options) }

/* Proxy handshake states (wsx_proxy_state()). */
enum wsx_proxy_state {
  WSX_PROXY_NEW = 0,       /* created; start() not called yet */
  WSX_PROXY_SENT = 1,      /* CONNECT sent, reading the response */
  WSX_PROXY_CONNECTED = 2, /* 2xx received: the tunnel is up */
  WSX_PROXY_FAILED = 3     /* `error` fired */
};

/* Callbacks; every member may be NULL (write is required by start()). */
typedef struct wsx_proxy_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Bytes to send to the proxy, in order. Pointers are valid only during
   * the call. Return 0, or a negative value to make start() fail with
   * WSX_E_IO. */
  int (*write)(wsx_proxy *p, const wsx_iovec *iov, size_t iovcnt, void *ud);
  /* The tunnel is up (2xx). */
  void (*connect)(wsx_proxy *p, void *ud);
  /* The handshake failed; `e->message` names the cause (e.g. "proxy
   * refused CONNECT to example.com:443: 407 Proxy Authentication
   * Required"), borrowed for the call; e->close_code is 0. */
  void (*error)(wsx_proxy *p, const wsx_error_event *e, void *ud);
} wsx_proxy_callbacks;
#define WSX_PROXY_CALLBACKS_INIT                                               \
  { .struct_size = sizeof(wsx_proxy_callbacks) }

/*
 * Creates a CONNECT handshake through the proxy at `proxy_url`
 * (http://[user[:password]@]host[:port][/] or https://...; port defaults to
 * 80 / 443) to origin_host:origin_port. `origin_host` is a host name, an
 * IPv4 literal or an IPv6 literal with or without brackets. Strings are
 * copied; `opts` and `cbs` may be NULL and are copied.
 * Returns NULL with *err (if non-NULL) set to WSX_E_STRUCT_SIZE (opts or
 * cbs, see common.h), WSX_E_INVALID (NULL or empty
 * arguments, port 0, a host with characters that cannot appear in a
 * request line), WSX_E_URL (unparsable proxy URL, not http/https, a user
 * name containing ':' after decoding), or WSX_E_NOMEM.
 */
WSX_EXTERN wsx_proxy *
wsx_proxy_new(const char *proxy_url, const char *origin_host,
              uint16_t origin_port, const wsx_proxy_options *opts,
              const wsx_proxy_callbacks *cbs, void *user_data, int *err);

/*
 * Same, with the origin taken from a client driver's URL (host and port of
 * ws:// or wss://; the port defaults to 80 / 443). The driver is only read
 * here: the two objects are independent afterwards. Extra errors:
 * WSX_E_INVALID if `d` is not a client driver.
 */
WSX_EXTERN wsx_proxy *wsx_driver_proxy(const wsx_driver *d,
                                       const char *proxy_url,
                                       const wsx_proxy_options *opts,
                                       const wsx_proxy_callbacks *cbs,
                                       void *user_data, int *err);

/* Frees the handshake object. Never from one of its callbacks. */
WSX_EXTERN void wsx_proxy_free(wsx_proxy *p);

WSX_EXTERN void wsx_proxy_set_user_data(wsx_proxy *p, void *user_data);
WSX_EXTERN void *wsx_proxy_user_data(const wsx_proxy *p);

/*
 * Adds a header to the CONNECT request (websocket-driver's setHeader),
 * before start() only; copied. Host and Proxy-Authorization are written by
 * wsx_proxy_start(): setting them here sends them twice.
 * Returns WSX_OK, WSX_E_INVALID (NULL), WSX_E_STATE (already started),
 * WSX_E_HEADER_VALUE (name not a token, value with CR/LF/NUL or another
 * control character), WSX_E_NOMEM.
 */
WSX_EXTERN int wsx_proxy_set_header(wsx_proxy *p, const char *name,
                                    const char *value);

/*
 * Writes the CONNECT request through callbacks.write (once, in one call).
 * Returns WSX_OK, WSX_E_STATE (called twice), WSX_E_INVALID (no write
 * callback), WSX_E_NOMEM, WSX_E_IO (the write callback failed; no event
 * fires then).
 */
WSX_EXTERN int wsx_proxy_start(wsx_proxy *p);

/*
 * Feeds bytes read from the proxy; `data` is not modified (the head is
 * copied until it is complete). Fires `connect` or `error` once the head
 * is complete or found invalid. Every split of the input gives the same
 * result.
 * Returns:
 *   WSX_OK              more bytes needed, or the tunnel is up (connect
 *                       fired during this call; see wsx_proxy_body()).
 *   WSX_E_STATE         start() not called yet, or the handshake already
 *                       finished in an earlier call: bytes fed after the
 *                       tunnel is up belong to the tunnel, not to us.
 *   WSX_E_PROXY         the proxy answered with a non-2xx status.
 *   WSX_E_HTTP          the response head is malformed (or is not a
 *                       response at all).
 *   WSX_E_HEAD_TOO_BIG  the head exceeds max_head_size / max_headers.
 *   WSX_E_NOMEM
 * Failures fire `error` first and are sticky (later calls return the same
 * code without firing again).
 */
WSX_EXTERN int wsx_proxy_parse(wsx_proxy *p, const uint8_t *data, size_t len);

/*
 * The proxy closed the connection (read EOF). Before the response was
 * complete this fails the handshake with WSX_E_CLOSED and the message
 * "proxy closed the connection before answering CONNECT to host:port"
 * (`error` fires) and returns WSX_E_CLOSED. Once connected or failed it
 * does nothing and returns WSX_OK (connected) or the sticky error.
 */
WSX_EXTERN int wsx_proxy_eof(wsx_proxy *p);

/*
 * After `connect`: the bytes that followed the 2xx response head in the
 * input, which belong to the tunnel (e.g. the start of a TLS ServerHello
 * from an eager server). Valid until wsx_proxy_free(); NULL with *len = 0
 * when there are none.
 */
WSX_EXTERN const uint8_t *wsx_proxy_body(const wsx_proxy *p, size_t *len);

/* enum wsx_proxy_state. */
WSX_EXTERN int wsx_proxy_state(const wsx_proxy *p);
/* HTTP status of the proxy's response, 0 before it is complete. */
WSX_EXTERN int wsx_proxy_status_code(const wsx_proxy *p);
/* Response headers (once the head is complete; also after a non-2xx
 * status, e.g. Proxy-Authenticate of a 407), valid until the proxy object
 * is freed. NULL with *n = 0 before. */
WSX_EXTERN const wsx_header *wsx_proxy_headers(const wsx_proxy *p, size_t *n);
/* Host (NUL-terminated, without IPv6 brackets) and port to connect to, and
 * whether the proxy is https:// (TLS to the proxy itself). Owned by p. */
WSX_EXTERN const char *wsx_proxy_host(const wsx_proxy *p);
WSX_EXTERN uint16_t wsx_proxy_port(const wsx_proxy *p);
WSX_EXTERN int wsx_proxy_secure(const wsx_proxy *p);
/* The CONNECT target, "host:port" ("[::1]:443" for IPv6). Owned by p. */
WSX_EXTERN const char *wsx_proxy_target(const wsx_proxy *p);
/* The error that failed the handshake (WSX_OK if none) and its message
 * ("" if none); the message is owned by p. */
WSX_EXTERN int wsx_proxy_last_error(const wsx_proxy *p, const char **msg);

#ifdef __cplusplus
}
#endif
#endif /* WSX_PROXY_H */
