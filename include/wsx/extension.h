/*
 * wsx/extension.h: the extension framework (the C form of
 * websocket-extensions) and permessage-deflate (RFC 7692).
 *
 * An extension is a `wsx_extension` object: a pointer to a static table of
 * functions (`wsx_extension_type`) plus the application's configuration. The
 * caller creates it, registers it with wsx_driver_add_extension() on as many
 * drivers as it likes, and frees it after the last of those drivers.
 *
 * Negotiation (RFC 6455 9.1): the client offers every registered extension in
 * registration order (each type may write several offers, most preferred
 * first); the server walks the client's offers in the client's order and, for
 * each registered extension that is offered, asks it to accept one of that
 * extension's offers; accepted extensions form the pipeline in the order of
 * the server's response. Two extensions claiming the same RSV bit is a
 * negotiation error. A client refuses (fails the handshake) a response that
 * names an extension it did not offer, names one twice, or that the
 * extension's activate() refuses.
 *
 * Per message: incoming messages pass through the pipeline in reverse order
 * (last negotiated first), outgoing messages in order. Each stage reads a
 * chunk and writes output through a sink; the driver enforces max_length on
 * the final incoming output as it is written, so an extension never holds
 * more than its own working state (a decompression bomb is cut off after at
 * most max_length bytes of output).
 */
#ifndef WSX_EXTENSION_H
#define WSX_EXTENSION_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One parameter of an extension offer or response. value is NULL for a
 * parameter without value; quoted-string values are unquoted. Spans point
 * into storage owned by the parser result (see wsx_extension_offers). */
typedef struct wsx_extension_param {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} wsx_extension_param;

/* One extension entry of a Sec-WebSocket-Extensions header. */
typedef struct wsx_extension_offer {
  const char *name;
  size_t name_len;
  const wsx_extension_param *params;
  size_t num_params;
} wsx_extension_offer;

/*
 * A parsed Sec-WebSocket-Extensions value: an array of offers. Produced by
 * wsx_extension_offers_parse() and freed with wsx_extension_offers_free().
 */
typedef struct wsx_extension_offers {
  wsx_extension_offer *offers;
  size_t num_offers;
  void *storage_;       /* private */
  wsx_allocator alloc_; /* private */
} wsx_extension_offers;

/*
 * Parses a Sec-WebSocket-Extensions header value (RFC 6455 9.1 grammar:
 * extension-list = 1#extension; extension = token *( ";" param );
 * param = token [ "=" (token | quoted-string) ]; a quoted-string value must
 * itself be a token once unquoted). Runs in linear time and allocates at most
 * O(len). `max_offers` bounds the number of offers (0 = 64).
 * Returns WSX_OK, WSX_E_EXTENSION (malformed; *err_detail names the
 * problem), WSX_E_NOMEM. On error `out` holds nothing to free.
 */
WSX_EXTERN int wsx_extension_offers_parse(const char *value, size_t len,
                                          size_t max_offers,
                                          const wsx_allocator *alloc,
                                          wsx_extension_offers *out,
                                          const char **err_detail);
WSX_EXTERN void wsx_extension_offers_free(wsx_extension_offers *o);

/*
 * Output sink handed to extension processing functions. Extensions write
 * their output with sink->write(sink, data, len); it returns WSX_OK or an
 * error (WSX_E_MESSAGE_TOO_BIG when the limit was hit, WSX_E_NOMEM), which
 * the extension must return at once.
 */
typedef struct wsx_ext_sink wsx_ext_sink;
struct wsx_ext_sink {
  int (*write)(wsx_ext_sink *sink, const void *data, size_t len);
  void *ctx; /* the driver's */
};

/* A growable text buffer for building offer / response strings. */
typedef struct wsx_ext_strbuf wsx_ext_strbuf;
/* Appends `len` bytes of `s`; returns WSX_OK or WSX_E_NOMEM. */
WSX_EXTERN int wsx_ext_strbuf_append(wsx_ext_strbuf *b, const char *s,
                                     size_t len);

/* Chunk flags for process_incoming / process_outgoing. */
#define WSX_EXT_FIRST 1u /* first chunk of a message */
#define WSX_EXT_LAST 2u  /* last chunk of a message */
/* Outgoing: the application asked for this message to be sent without
 * transformation (wsx_driver_send() with WSX_SEND_UNCOMPRESSED); an
 * extension such as permessage-deflate passes it through with RSV clear. */
#define WSX_EXT_UNCOMPRESSED 4u

typedef struct wsx_extension_type {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  const char *name; /* registered name, e.g. "permessage-deflate" */
  /* RSV bits this extension may use (WSX_RSV1 ...). */
  uint8_t rsv_bits;

  /* Client: append one or more whole offers ("name; p=v", several
   * separated by ", ", most preferred first) to `out`. */
  int (*client_offer)(void *config, wsx_ext_strbuf *out);
  /* Client: the server accepted with `resp`. Validate; on success create a
   * session in *session. Return WSX_OK or WSX_E_EXTENSION. */
  int (*client_activate)(void *config, const wsx_extension_offer *resp,
                         const wsx_allocator *alloc, void **session);
  /* Server: the client's offers for this extension's name, in order. Pick
   * one: write the response entry ("name; params") to `out`, create a
   * session, return WSX_OK. Return 1 to decline all (not an error), or
   * WSX_E_EXTENSION if the offers are invalid (handshake fails 400). */
  int (*server_accept)(void *config, const wsx_extension_offer *offers,
                       size_t num_offers, wsx_ext_strbuf *out,
                       const wsx_allocator *alloc, void **session);

  /* Incoming message data, one chunk at a time (a chunk is a frame's
   * payload). *rsv holds the message's RSV bits (from its first frame); an
   * extension that handles its bit clears it. If the bit is not set the
   * extension must pass the data through unchanged (sink->write).
   * Return WSX_OK, or an error: WSX_E_MESSAGE_TOO_BIG (from the sink),
   * WSX_E_EXTENSION (corrupt data -> close 1007), WSX_E_NOMEM (-> 1011). */
  int (*process_incoming)(void *session, int opcode, unsigned *rsv,
                          const uint8_t *data, size_t len, unsigned flags,
                          wsx_ext_sink *sink);
  /* Outgoing message, whole (flags has FIRST|LAST). The extension may set
   * bits in *rsv. Same returns. */
  int (*process_outgoing)(void *session, int opcode, unsigned *rsv,
                          const uint8_t *data, size_t len, unsigned flags,
                          wsx_ext_sink *sink);
  /* Frees the session (connection closed). */
  void (*session_free)(void *session);
} wsx_extension_type;
#define WSX_EXTENSION_TYPE_INIT                                                \
  { .struct_size = sizeof(wsx_extension_type) }

/* Also declared in wsx/driver.h; C11 allows the repeated typedef, and this
 * header must compile on its own. */
typedef struct wsx_extension wsx_extension;
struct wsx_extension {
  const wsx_extension_type *type;
  void *config; /* passed to the type's functions */
};

/* ---- permessage-deflate ------------------------------------------------ */

typedef struct wsx_deflate_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* zlib compression level 1-9; 0 = zlib's default (6). */
  int level;
  int mem_level; /* 1-9; 0 = 8 */
  /* LZ77 window (8-15; 0 = 15) of the server's and of the client's
   * compressor; in each role one is ours and the other is asked of the peer
   * (it bounds our inflate memory). Client: always offers
   * client_max_window_bits (with the value if < 15) and offers
   * server_max_window_bits if < 15, refusing a response that does not grant
   * it. Server: compresses with min(own, offered) and, if
   * client_max_window_bits < 15, declines offers that do not carry
   * client_max_window_bits (the client's next offer is tried). A window of
   * 8 is honoured exactly; see docs/deflate-memory.md for how on zlib. */
  int server_max_window_bits;
  int client_max_window_bits;
  /* Non-zero: no context takeover for that side's compressor. Client: asks
   * for server_no_context_takeover (refusing a response without it) and
   * announces client_no_context_takeover. Server: answers with each one
   * that it is configured for or that the client offered. */
  int server_no_context_takeover;
  int client_no_context_takeover;
  /* Messages shorter than this are sent uncompressed (0 = 0: compress all). */
  size_t threshold;
  /* Non-zero: free the zlib streams between messages whenever the context
   * is not taken over (no_context_takeover), so an idle connection holds
   * no zlib memory. */
  int free_idle_streams;
  /* For this object (NULL = libc) and for zlib (NULL = the allocator of
   * the driver the connection belongs to). Copied. */
  const wsx_allocator *allocator;
} wsx_deflate_options;
#define WSX_DEFLATE_OPTIONS_INIT                                               \
  { .struct_size = sizeof(wsx_deflate_options) }

/* Creates a permessage-deflate extension object (opts copied; NULL =
 * defaults). Returns NULL if the allocator fails, an option is out of
 * range or opts->struct_size is 0 or unknown (see common.h). Free with
 * wsx_deflate_free() after the drivers using it. */
WSX_EXTERN wsx_extension *wsx_deflate_new(const wsx_deflate_options *opts);
WSX_EXTERN void wsx_deflate_free(wsx_extension *ext);

#ifdef __cplusplus
}
#endif
#endif /* WSX_EXTENSION_H */
