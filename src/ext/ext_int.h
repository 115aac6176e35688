/*
 * Internal pieces shared by the extensions in src/ext/ (permessage-deflate
 * today): the framework interface (ext/framework.h, which also gives the
 * concrete wsx_ext_strbuf) and small token helpers. Only src/ext/ and the
 * unit tests include this header; the driver includes ext/framework.h.
 */
#ifndef WSX_SRC_EXT_INT_H
#define WSX_SRC_EXT_INT_H

#include "common/alloc.h"
#include "ext/framework.h"
#include "wsx/extension.h"

/* Non-zero if `c` is an RFC 7230 tchar (a character allowed in a token). */
int wsx__ext_is_tchar(unsigned char c);

/* Non-zero if the span equals the NUL-terminated `lit` exactly. */
int wsx__ext_span_eq(const char *s, size_t len, const char *lit);

/* The extension type behind wsx_deflate_new(), for tests and the driver. */
extern const wsx_extension_type wsx__deflate_type;

#endif
