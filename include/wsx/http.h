/*
 * wsx/http.h: a strict, zero-copy, incremental HTTP/1.1 head parser.
 *
 * Used by the driver (raw-TCP server mode, client response, proxy CONNECT
 * response), by the libuv HTTP front, and available to applications that
 * adopt connections from their own servers.
 *
 * The parser is stateless in the picohttpparser style, plus a small state
 * struct that remembers how far the previous call scanned so that a client
 * dribbling a head one byte at a time costs O(total length), not O(n^2).
 * Results are spans into the caller's buffer: they stay valid as long as the
 * caller keeps that buffer unchanged.
 *
 * Strictness (no lenient switches): request line `METHOD SP target SP
 * HTTP/1.x CRLF` with a token method and a target of visible ASCII; status line
 * `HTTP/1.x SP 3DIGIT SP reason CRLF` (reason may be empty); header names are
 * RFC 7230 tokens; values are visible ASCII, SP, HTAB or obs-text (0x80-0xFF);
 * CR must be followed by LF; bare LF line ends are refused; obsolete line
 * folding is refused; NUL anywhere is refused; leading/trailing whitespace of
 * values is trimmed.
 */
#ifndef WSX_HTTP_H
#define WSX_HTTP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WSX_HTTP_DEFAULT_MAX_HEAD 16384
#define WSX_HTTP_DEFAULT_MAX_HEADERS 64

/* A parsed request head. Spans point into the parsed buffer. */
typedef struct wsx_http_request {
  const char *method;
  size_t method_len;
  const char *target; /* request-target as sent, e.g. "/chat?x=1" */
  size_t target_len;
  int minor_version;   /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
  wsx_header *headers; /* caller-provided array */
  size_t num_headers;
} wsx_http_request;

/* A parsed response head. Spans point into the parsed buffer. */
typedef struct wsx_http_response {
  int minor_version;
  int status; /* 100..999 */
  const char *reason;
  size_t reason_len;
  wsx_header *headers; /* caller-provided array */
  size_t num_headers;
} wsx_http_response;

/*
 * Scan state: zero it before the first call on a new head; pass the same
 * struct to every later call on the same (growing) buffer.
 */
typedef struct wsx_http_state {
  size_t scanned; /* bytes already known to contain no end of head */
} wsx_http_state;

/*
 * Parses a request head from buf[0..len). `headers` has room for
 * `max_headers` entries. `max_head` bounds the head's size in bytes (0 selects
 * WSX_HTTP_DEFAULT_MAX_HEAD).
 *
 * Returns:
 *   > 0                 the head is complete; the value is its length in
 *                       bytes including the final CRLF CRLF; bytes after it
 *                       belong to the body / the next protocol.
 *   WSX_E_AGAIN         incomplete; call again with the same buffer grown.
 *   WSX_E_HTTP          malformed; `*err_detail` (if non-NULL) is set to a
 *                       static string naming the rule broken.
 *   WSX_E_HEAD_TOO_BIG  the head exceeds max_head or has more than
 *                       max_headers headers.
 * `req` is filled only when the return value is > 0.
 */
WSX_EXTERN int wsx_http_parse_request(const char *buf, size_t len,
                                      wsx_http_request *req,
                                      wsx_header *headers, size_t max_headers,
                                      size_t max_head, wsx_http_state *state,
                                      const char **err_detail);

/* Same contract as wsx_http_parse_request, for a response head. */
WSX_EXTERN int wsx_http_parse_response(const char *buf, size_t len,
                                       wsx_http_response *res,
                                       wsx_header *headers, size_t max_headers,
                                       size_t max_head, wsx_http_state *state,
                                       const char **err_detail);

/*
 * Non-zero if name[0..len) is a valid header name (RFC 7230 token) and,
 * for wsx_http_valid_value, if the value contains no CR, LF or NUL and no
 * other control character except HTAB.
 */
WSX_EXTERN int wsx_http_valid_name(const char *name, size_t len);
WSX_EXTERN int wsx_http_valid_value(const char *value, size_t len);

/*
 * A parsed ws://, wss://, http:// or https:// URL. Spans point into the
 * parsed string. `port` is the explicit port or the scheme's default.
 * `host` excludes IPv6 brackets; `is_ipv6` is set when they were present.
 * `path` is "/" when the URL had none and includes the query, if any
 * (path_len covers both); `query` points at the text after '?' (or NULL).
 * `userinfo` ("user:password") is NULL when absent.
 */
typedef struct wsx_url {
  const char *scheme;
  size_t scheme_len;
  const char *userinfo;
  size_t userinfo_len;
  const char *host;
  size_t host_len;
  uint16_t port;
  int is_ipv6;
  int secure; /* wss or https */
  const char *path;
  size_t path_len;
  const char *query;
  size_t query_len;
} wsx_url;

/*
 * Parses `url` (NUL-terminated). Accepted schemes: ws, wss, http, https
 * (case-insensitive). Fragments ('#') are refused for ws/wss (RFC 6455 3.).
 * Returns WSX_OK or WSX_E_URL.
 */
WSX_EXTERN int wsx_url_parse(const char *url, wsx_url *out);

#ifdef __cplusplus
}
#endif
#endif /* WSX_HTTP_H */
