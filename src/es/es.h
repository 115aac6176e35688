/*
 * Sans-I/O pieces of EventSource: the WHATWG event-stream parser (client),
 * the event formatter (server) and an HTTP chunked-body decoder (client).
 * No sockets, no timers.
 */
#ifndef WSX_SRC_ES_H
#define WSX_SRC_ES_H

#include "common/alloc.h"
#include "wsx/common.h"

/* ---- parser ---- */

typedef struct wsx__es_parser_cbs {
  /* A dispatched event. Strings are NUL-terminated, borrowed for the call. */
  void (*event)(void *ud, const char *type, const char *data, size_t data_len,
                const char *last_id);
  /* A valid `retry:` field (milliseconds, clamped to UINT32_MAX). */
  void (*retry)(void *ud, uint32_t ms);
  /* A comment line (text after ':'), e.g. keep-alive pings. */
  void (*comment)(void *ud, const char *text, size_t len);
} wsx__es_parser_cbs;

typedef struct wsx__es_parser {
  wsx_allocator alloc;
  wsx__es_parser_cbs cb;
  void *ud;
  size_t max_size;  /* bound on a line and on the data buffer */
  wsx__buf line;    /* the line being read (no terminator) */
  wsx__buf data;    /* data buffer: values joined, each followed by LF */
  wsx__buf type;    /* event type buffer */
  wsx__buf id_buf;  /* last event ID buffer (persists across events) */
  wsx__buf last_id; /* last event ID string, committed at each dispatch */
  wsx__buf fixed;   /* a line with invalid UTF-8, U+FFFD substituted */
  uint8_t bom_seen; /* BOM bytes matched so far at stream start (0..3) */
  uint8_t at_start; /* no byte of this stream processed yet */
  uint8_t after_cr; /* the previous byte was CR: a following LF is eaten */
  int error;        /* sticky: WSX_E_TOO_BIG or WSX_E_NOMEM */
} wsx__es_parser;

/* max_size 0 = 1 MiB. `alloc` may be NULL. */
void wsx__es_parser_init(wsx__es_parser *p, const wsx_allocator *alloc,
                         size_t max_size, const wsx__es_parser_cbs *cb,
                         void *ud);
/* Consumes in[0..len). Every split of a stream gives the same callbacks.
 * The stream is decoded as UTF-8 the WHATWG way: invalid sequences become
 * U+FFFD (EF BF BD), so every string reported is valid UTF-8.
 * Returns WSX_OK, or a sticky WSX_E_TOO_BIG (a line or the data buffer
 * exceeded max_size) / WSX_E_NOMEM. Callbacks may not free the parser. */
int wsx__es_parser_feed(wsx__es_parser *p, const uint8_t *in, size_t len);
/* A new stream (reconnect): drops partial line/event and BOM state; keeps
 * the last event ID. Clears the error. */
void wsx__es_parser_restart(wsx__es_parser *p);
/* The committed last event ID (NUL-terminated, "" if none). */
const char *wsx__es_parser_last_id(const wsx__es_parser *p);
/* Sets the last event ID (buffer and committed string). */
int wsx__es_parser_set_last_id(wsx__es_parser *p, const char *id);
void wsx__es_parser_free(wsx__es_parser *p);

/* ---- formatter ---- */

/* Appends one event to `out`: "event: E\n" (if event), "id: I\n" (if id),
 * one "data: L\n" per line of data (split on CR, LF, CRLF), then "\n".
 * Returns WSX_OK, WSX_E_INVALID (CR/LF in event or id), WSX_E_NOMEM. */
int wsx__es_format_event(wsx__buf *out, const wsx_allocator *a,
                         const char *data, size_t len, const char *event,
                         const char *id);
/* Appends "retry: <ms>\n\n" for `seconds` (rounded down to ms). */
int wsx__es_format_retry(wsx__buf *out, const wsx_allocator *a, uint32_t ms);
/* Non-zero if an Accept header value lists text/event-stream. */
int wsx__es_accepts(const char *accept, size_t len);
/* Decodes the `lastEventId` query parameter (percent and '+' decoding) of
 * query[0..len) into a new string; *out = NULL if absent. Returns WSX_OK or
 * WSX_E_NOMEM. */
int wsx__es_query_last_id(const wsx_allocator *a, const char *query, size_t len,
                          char **out);

/* ---- chunked transfer decoding ---- */

typedef struct wsx__chunked {
  uint64_t left;  /* bytes left in the current chunk */
  uint8_t state;  /* internal */
  uint8_t digits; /* hex digits read in the size line */
  int error;      /* sticky WSX_E_HTTP */
  size_t used;    /* input bytes the last call consumed (the body ends
                     there when it set *done) */
} wsx__chunked;

/* Decodes in place: moves the body bytes of buf[0..len) to its front.
 * Returns the number of body bytes (>= 0), or WSX_E_HTTP. Sets *done when
 * the last chunk and trailers ended: bytes after it (from buf + c->used
 * on) are not part of the body and are left alone. */
long wsx__chunked_decode(wsx__chunked *c, uint8_t *buf, size_t len, int *done);

#endif
