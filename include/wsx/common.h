/*
 * wsx — WebSocket and EventSource for C.
 *
 * common.h: version, export macro, error codes, allocator hooks and the small
 * value types (byte spans, header spans, iovecs) shared by every layer.
 *
 * Nothing here includes libuv or OpenSSL.
 *
 * ABI policy (0.x; docs/design-notes.md "ABI policy"):
 *  - Every public options or callbacks struct starts with `size_t
 *    struct_size`, set by its WSX_..._INIT macro (e.g. `wsx_socket_options o
 *    = WSX_SOCKET_OPTIONS_INIT;`, or `o = (wsx_socket_options)
 *    WSX_SOCKET_OPTIONS_INIT;` to reset one). Every function that takes one
 *    checks it: 0, a size larger than this library's struct, or a size that
 *    is not a multiple of the struct's alignment is refused with
 *    WSX_E_STRUCT_SIZE (no object is created, no callback fires). A smaller
 *    size (the struct of an older wsx header) is accepted: only its members
 *    are read, the members it lacks take their defaults.
 *  - New members are only appended. A struct never contains another
 *    versioned struct by value, only by pointer (each with its own size).
 *  - Frozen value types have no struct_size and never change: wsx_allocator,
 *    wsx_iovec, wsx_header, wsx_extension, wsx_tls_sni_entry, the HTTP
 *    parse results (wsx_http.h) and the event structs the library fills and
 *    hands to callbacks (read-only for the application).
 *  - While the version is 0.x, each minor release may break the ABI and
 *    gets a new SONAME (libwsx.so.0.1 for 0.1.x); patch releases keep it,
 *    checked by abidiff against abi/libwsx.abi in `make test`.
 */
#ifndef WSX_COMMON_H
#define WSX_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WSX_BUILDING) && defined(__GNUC__)
#define WSX_EXTERN __attribute__((visibility("default")))
#else
#define WSX_EXTERN
#endif

#define WSX_VERSION_MAJOR 0
#define WSX_VERSION_MINOR 1
#define WSX_VERSION_PATCH 0
#define WSX_VERSION_NUM                                                        \
  ((WSX_VERSION_MAJOR << 16) | (WSX_VERSION_MINOR << 8) | WSX_VERSION_PATCH)
#define WSX_VERSION_STR "0.1.0"

/* Non-zero if the headers a program was compiled with and the library it
 * runs with are ABI-compatible (same 0.x minor; from 1.0, same major), e.g.
 * `if (!WSX_VERSION_CHECK()) abort();` at start-up. */
#define WSX_VERSION_CHECK() (wsx_abi_compatible(WSX_VERSION_NUM) != 0)

/*
 * Returns the version of the library that is linked, as a string such as
 * "0.1.0". If `least` is non-zero and the linked library is older than
 * `least` (a WSX_VERSION_NUM-style number), returns NULL instead.
 */
WSX_EXTERN const char *wsx_version(int least);

/* The linked library's WSX_VERSION_NUM. */
WSX_EXTERN int wsx_version_num(void);

/* Non-zero if a program built against headers of version `header_version`
 * (its WSX_VERSION_NUM) may use the linked library: same major and, while
 * the major is 0, same minor, and the library is not older. */
WSX_EXTERN int wsx_abi_compatible(int header_version);

/*
 * Error codes. Every function that can fail returns one of these (negative).
 * The range -1000 .. -1099 does not collide with libuv's codes (-errno, which
 * is above -200 on Linux, and -3000 .. -4095 for its own), so a transport
 * function may return either kind; wsx_strerror() names only its own.
 *
 * Fatal codes (wsx_is_fatal() is non-zero: WSX_E_FATAL .. WSX_E_NOMEM_FATAL,
 * plus WSX_E_IO and WSX_E_EXTENSION) mean the object that returned them is
 * closed: a driver is in WSX_CLOSED, its `error` and `close` events have
 * fired, and it is unusable afterwards (except for accessors and _free).
 * Later input calls return the same code ("sticky"); later sends return
 * WSX_E_CLOSED. The other codes leave the object as it was: the call did
 * nothing, and the object can be used again. The rule holds for every
 * return of a driver function (tests/unit/test_contracts.c checks it).
 * An EventSource client (wsx/eventsource.h) reports the failure of ONE
 * connection in its error event (WSX_E_IO, ...) and then reconnects: that
 * connection is dead, the client object is not.
 */
enum wsx_error {
  WSX_OK = 0,
  WSX_E_INVALID = -1001,      /* an argument is invalid (NULL, out of range) */
  WSX_E_STATE = -1002,        /* call not allowed in the current state */
  WSX_E_NOMEM = -1003,        /* the allocator returned NULL */
  WSX_E_HEADER_VALUE = -1004, /* header name/value contains CR, LF or NUL */
  WSX_E_URL = -1005,          /* URL could not be parsed / unsupported scheme */
  WSX_E_UNSUPPORTED = -1006,  /* not available for this protocol version */
  WSX_E_TOO_BIG = -1007,      /* payload larger than allowed (control > 125) */
  WSX_E_CLOSED = -1008,       /* connection is closing or closed */
  WSX_E_AGAIN = -1009,        /* partial input: call again with more bytes */
  WSX_E_BUSY = -1010,      /* resource in use (e.g. listener already bound) */
  WSX_E_TIMEOUT = -1011,   /* a timer expired */
  WSX_E_EXTENSION = -1012, /* extension negotiation or processing failed
                              (fatal: the connection is closed, 1007/1010) */
  WSX_E_IO = -1013,        /* transport error, or the write callback failed
                              (fatal; detail says which) */
  WSX_E_TLS = -1014,       /* TLS error (detail says which) */
  WSX_E_DNS = -1015,       /* name resolution failed */
  WSX_E_PROXY = -1016,     /* proxy refused or failed */
  /* An options/callbacks struct's struct_size is 0 (not set with its
   * WSX_..._INIT macro), larger than this library's struct (a program
   * built against a newer wsx) or not a multiple of its alignment. */
  WSX_E_STRUCT_SIZE = -1017,
  /* Fatal: the object is dead after these. */
  WSX_E_FATAL = -1050,
  WSX_E_PROTOCOL = -1050, /* peer broke RFC 6455 (close 1002) */
  WSX_E_UTF8 = -1051,     /* invalid UTF-8 in text or close reason (1007) */
  WSX_E_MESSAGE_TOO_BIG =
      -1052,               /* max_length / frame / fragment limit (1009) */
  WSX_E_HANDSHAKE = -1053, /* the opening handshake failed */
  WSX_E_HTTP = -1054,      /* malformed HTTP head */
  WSX_E_HEAD_TOO_BIG =
      -1055,             /* HTTP head over the size or header-count limit */
  WSX_E_POLICY = -1056,  /* rejected by a policy limit (1008) */
  WSX_E_INTERNAL = -1057, /* a bug in wsx, or no CSPRNG; detail says which */
  WSX_E_NOMEM_FATAL = -1058 /* out of memory where the object cannot back
                               out (mid-frame, mid-handshake): it is closed
                               (1011). WSX_E_NOMEM means nothing happened. */
};

/* Returns a static, human-readable name for an error code (never NULL). */
WSX_EXTERN const char *wsx_strerror(int err);

/* Non-zero if `err` is fatal: the object that returned it is closed (see
 * enum wsx_error for the list). */
WSX_EXTERN int wsx_is_fatal(int err);

/*
 * Allocator hooks, given at creation time to every object (and handed to zlib).
 * A NULL allocator pointer, or NULL members, select libc malloc/realloc/free.
 * `ud` is passed back unchanged. realloc(NULL, n) must behave as malloc(n).
 * The struct is copied; it need not outlive the call that receives it.
 */
typedef struct wsx_allocator {
  void *(*malloc)(size_t size, void *ud);
  void *(*realloc)(void *ptr, size_t size, void *ud);
  void (*free)(void *ptr, void *ud);
  void *ud;
} wsx_allocator;

/* A byte span; does not own its memory. */
typedef struct wsx_iovec {
  const void *base;
  size_t len;
} wsx_iovec;

/*
 * One HTTP header as a pair of spans into a buffer owned by whoever produced
 * it (see each producer's lifetime rule). Not NUL-terminated.
 */
typedef struct wsx_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} wsx_header;

/*
 * Finds the first header named `name` (ASCII case-insensitive) in `headers`.
 * Returns its value (not NUL-terminated) and stores its length in *len, or
 * returns NULL if absent. The returned pointer aliases `headers`.
 */
WSX_EXTERN const char *wsx_header_find(const wsx_header *headers, size_t n,
                                       const char *name, size_t *len);

/*
 * Non-zero if the comma-separated token list in the first..last headers named
 * `name` contains `token` (case-insensitive, surrounding whitespace ignored),
 * e.g. wsx_header_has_token(h, n, "connection", "upgrade").
 */
WSX_EXTERN int wsx_header_has_token(const wsx_header *headers, size_t n,
                                    const char *name, const char *token);

#ifdef __cplusplus
}
#endif
#endif /* WSX_COMMON_H */
