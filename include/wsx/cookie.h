/*
 * wsx/cookie.h: HTTP cookies (RFC 6265) for WebSocket handshakes.
 *
 * The WebSocket-Node equivalents are request.cookies / parseCookies (reading
 * the client's Cookie header) and the cookies argument of request.accept()
 * (Set-Cookie headers on the 101 answer). Both are sans-I/O here: the parser
 * works on any header value and returns spans into it; the formatter writes
 * a Set-Cookie value into a caller's buffer after validating every part, so
 * an application can never inject CR, LF or ';' into a response head.
 *
 * Nothing here allocates, includes libuv or OpenSSL, or keeps state.
 */
#ifndef WSX_COOKIE_H
#define WSX_COOKIE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One cookie of a Cookie header: spans into the parsed header value. */
typedef struct wsx_cookie {
  const char *name;
  size_t name_len;
  const char *value; /* without surrounding DQUOTEs, if it had them */
  size_t value_len;
} wsx_cookie;

/*
 * Parses a Cookie request-header value, header[0..len), as RFC 6265 section
 * 4.2.1 writes it ("a=1; b=2"), tolerating what user agents send in
 * practice: any amount of SP/HTAB around ';' and '=' is ignored.
 *
 * A pair is kept when its name is a non-empty RFC 7230 token and its value is
 * a (possibly empty) run of cookie-octets, optionally inside one pair of
 * DQUOTEs (which are stripped). Anything else between two ';' — no '=', an
 * empty or non-token name, a space, comma, backslash, DQUOTE or control
 * character in the value — is skipped, and parsing goes on with the next
 * pair: bad input is never an error. Values are returned as sent: no
 * percent-decoding (WebSocket-Node decodes with decodeURIComponent; do that
 * yourself if your cookies need it). Duplicate names are all returned, in
 * header order (RFC 6265 5.4: the more specific cookie comes first).
 *
 * `out` has room for `max` entries (may be NULL when max is 0: count only).
 * The spans point into `header` and live as long as it does.
 *
 * Returns the number of valid pairs in the header, which may exceed `max`
 * (only the first `max` are stored), or WSX_E_INVALID when header is NULL
 * with a non-zero len, or out is NULL with a non-zero max.
 */
WSX_EXTERN int wsx_cookie_parse(const char *header, size_t len,
                                wsx_cookie *out, size_t max);

/*
 * Finds the first cookie called `name` (NUL-terminated, compared
 * case-sensitively, as browsers do) in a Cookie header value, with the same
 * rules as wsx_cookie_parse. Returns a span into `header` and sets
 * *value_len, or NULL (and *value_len = 0) when there is no such cookie.
 */
WSX_EXTERN const char *wsx_cookie_get(const char *header, size_t len,
                                      const char *name, size_t *value_len);

/* wsx_set_cookie.flags */
#define WSX_COOKIE_SECURE 0x1u   /* "; Secure" */
#define WSX_COOKIE_HTTPONLY 0x2u /* "; HttpOnly" */
#define WSX_COOKIE_MAX_AGE 0x4u  /* max_age_ms is set: "; Max-Age=" */
#define WSX_COOKIE_EXPIRES 0x8u  /* expires_ms is set: "; Expires=" */

/* wsx_set_cookie.same_site */
enum wsx_same_site {
  WSX_SAME_SITE_UNSET = 0, /* no SameSite attribute (the browser's default) */
  WSX_SAME_SITE_STRICT = 1,
  WSX_SAME_SITE_LAX = 2,
  WSX_SAME_SITE_NONE = 3 /* requires WSX_COOKIE_SECURE (browsers drop it
                            otherwise), so the formatter refuses it alone */
};

/*
 * A cookie to set (one Set-Cookie header). Initialise with
 * WSX_SET_COOKIE_INIT (or set struct_size = sizeof(wsx_set_cookie) on a
 * zeroed struct): members added in later versions are appended, and the
 * library reads only the members that struct_size covers.
 * Every string is NUL-terminated and only read during the call.
 */
typedef struct wsx_set_cookie {
  size_t struct_size;
  /* Required. An RFC 7230 token. */
  const char *name;
  /* Required (may be ""). cookie-octets (%x21 / %x23-2B / %x2D-3A /
   * %x3C-5B / %x5D-7E), optionally wrapped in one pair of DQUOTEs. Encode
   * anything else (e.g. percent-encoding) before. */
  const char *value;
  /* NULL = no attribute. Printable ASCII without ';' (RFC 6265 path-value). */
  const char *path;
  /* NULL = no attribute (host-only cookie). Letters, digits, '-' and '.',
   * at most 253 characters; one leading '.' is allowed (and ignored by
   * browsers). */
  const char *domain;
  /* With WSX_COOKIE_MAX_AGE: lifetime in milliseconds, written as whole
   * seconds rounded down (Max-Age has one-second resolution); 0 or
   * negative deletes the cookie ("Max-Age=0"). */
  int64_t max_age_ms;
  /* With WSX_COOKIE_EXPIRES: expiry as Unix time in milliseconds (UTC),
   * written as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), rounded
   * down to the second. Years 1601..9999 only. */
  int64_t expires_ms;
  unsigned flags;      /* WSX_COOKIE_* */
  int same_site;       /* enum wsx_same_site */
} wsx_set_cookie;

#define WSX_SET_COOKIE_INIT {sizeof(wsx_set_cookie), NULL, NULL, NULL, NULL, 0, 0, 0, 0}

/*
 * Writes the Set-Cookie header VALUE for `c` ("name=value; Path=/; Secure")
 * into buf[0..cap) with a terminating NUL, snprintf-style.
 *
 * Returns the length of the value (without the NUL). When that is >= cap,
 * nothing useful was written (buf, if cap > 0, holds an empty string): call
 * again with a larger buffer. Errors, with nothing written but an empty
 * string:
 *   WSX_E_INVALID       c or name or value NULL, buf NULL with cap > 0,
 *                       struct_size 0 or too small for the version-1
 *                       members, an unknown flag or same_site value,
 *                       SameSite=None without Secure, an expiry outside the
 *                       years 1601..9999;
 *   WSX_E_HEADER_VALUE  name not a token, or value, path or domain with a
 *                       character their grammar forbids (CR, LF, ';', space
 *                       in a value, ...). An invalid cookie is never
 *                       half-written.
 */
WSX_EXTERN int wsx_cookie_format(const wsx_set_cookie *c, char *buf,
                                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* WSX_COOKIE_H */
