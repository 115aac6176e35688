/*
 * Internal pieces of the extension framework shared by src/ext/ and the
 * driver core: the concrete string buffer behind wsx_ext_strbuf and the
 * RFC 6455 token character class.
 */
#ifndef WSX_SRC_EXT_INT_H
#define WSX_SRC_EXT_INT_H

#include "common/alloc.h"
#include "wsx/extension.h"

/*
 * The buffer extensions write offers and responses into. The driver owns
 * it: init before handing it to client_offer / server_accept, read
 * buf.data[0..buf.len) afterwards (not NUL-terminated), then free.
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

/* Non-zero if `c` is an RFC 7230 tchar (a character allowed in a token). */
int wsx__ext_is_tchar(unsigned char c);

/* Non-zero if the span equals the NUL-terminated `lit` exactly. */
int wsx__ext_span_eq(const char *s, size_t len, const char *lit);

/* The extension type behind wsx_deflate_new(), for tests and the driver. */
extern const wsx_extension_type wsx__deflate_type;

#endif
