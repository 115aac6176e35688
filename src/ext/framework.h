/*
 * The extension framework (websocket-extensions semantics): negotiation of
 * Sec-WebSocket-Extensions, RSV-bit ownership and the per-message pipeline
 * over the negotiated extensions. This is the one internal interface of
 * src/ext/ that the driver calls; extensions (permessage-deflate first)
 * implement the public wsx_extension_type of wsx/extension.h and are driven
 * from here. Knows nothing of wsx_driver: the caller passes its allocator,
 * its registered extensions and a buffer for the error detail.
 *
 * Error details: functions that take `err` write a NUL-terminated
 * description of a WSX_E_EXTENSION failure into err[0..WSX__EXT_ERRLEN)
 * (the caller sets err[0] = 0 first). A server that declines an extension
 * for an RSV conflict also leaves the reason there while returning WSX_OK.
 */
#ifndef WSX_SRC_EXT_FRAMEWORK_H
#define WSX_SRC_EXT_FRAMEWORK_H

#include "common/alloc.h"
#include "wsx/extension.h"

#include <stdint.h>

/* Size of the error-detail buffers (matches the driver's error message). */
#define WSX__EXT_ERRLEN 160

typedef struct wsx__active_ext {
  wsx_extension *ext; /* borrowed from the registration list */
  void *session;      /* owned; freed with ext->type->session_free */
} wsx__active_ext;

/* The extensions negotiated on one connection. Zeroed = none. */
typedef struct wsx__exts {
  wsx__active_ext *active; /* in negotiation order; owned */
  size_t num_active;
  uint8_t rsv;    /* RSV bits owned by the negotiated extensions */
  uint8_t always; /* an active extension owns no RSV bit: every message
                     goes through the pipeline */
} wsx__exts;

/* Frees every session and the list (x stays usable, empty). */
void wsx__exts_free(wsx__exts *x, const wsx_allocator *a);

/* Client: appends the offers of the registered extensions reg[0..n),
 * comma-separated, to `b` (nothing if none offers anything). */
int wsx__exts_client_offer(const wsx_allocator *a, wsx_extension *const *reg,
                           size_t n, wsx__buf *b);

/* Client: validates the server's response value[0..len) against the
 * registered (offered) extensions and activates them into `x`. Returns
 * WSX_OK, WSX_E_NOMEM, or WSX_E_EXTENSION with `err` set. */
int wsx__exts_client_activate(wsx__exts *x, const wsx_allocator *a,
                              wsx_extension *const *reg, size_t n,
                              const char *value, size_t len, char *err);

/* Server: negotiates the client's offers value[0..len) with the registered
 * extensions, activating the accepted ones into `x` and appending the
 * response header value to `resp` (left empty if nothing was accepted).
 * Returns WSX_OK, WSX_E_NOMEM, or WSX_E_EXTENSION with `err` set. */
int wsx__exts_server_negotiate(wsx__exts *x, const wsx_allocator *a,
                               wsx_extension *const *reg, size_t n,
                               const char *value, size_t len, wsx__buf *resp,
                               char *err);

/* Incoming: one chunk of a message (opcode, *rsv from its first frame)
 * through the pipeline in reverse negotiation order; the result goes to
 * `msg`. `flags` are WSX_EXT_FIRST / WSX_EXT_LAST. A stage that refuses the
 * data gives WSX_E_EXTENSION with `err` naming it; errors of `msg` are
 * returned as they are. */
int wsx__exts_incoming(wsx__exts *x, int opcode, unsigned *rsv,
                       const uint8_t *p, size_t n, unsigned flags,
                       wsx_ext_sink *msg, char *err);

/* Outgoing: a whole message through the pipeline in negotiation order; the
 * result is appended to `out` (grown with `a`), *rsv gets the RSV bits.
 * `flags` may hold WSX_EXT_UNCOMPRESSED. */
int wsx__exts_outgoing(wsx__exts *x, const wsx_allocator *a, int opcode,
                       const uint8_t *p, size_t n, unsigned flags,
                       unsigned *rsv, wsx__buf *out);

/*
 * The buffer extensions write offers and responses into: init before
 * handing it to client_offer / server_accept, read buf.data[0..buf.len)
 * afterwards (not NUL-terminated), then free.
 */
struct wsx_ext_strbuf {
  wsx__buf buf;               /* bytes written so far */
  const wsx_allocator *alloc; /* borrowed; must outlive the buffer */
};

/* Starts an empty buffer that grows with `alloc` (which must be a filled
 * allocator, see wsx__alloc_init, and outlive the buffer). */
void wsx__ext_strbuf_init(wsx_ext_strbuf *b, const wsx_allocator *alloc);
/* Forgets the contents but keeps the memory for reuse. */
void wsx__ext_strbuf_clear(wsx_ext_strbuf *b);
void wsx__ext_strbuf_free(wsx_ext_strbuf *b);

#endif
