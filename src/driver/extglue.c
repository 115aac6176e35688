/*
 * extglue.c: the driver's side of extensions, a thin layer over the
 * extension framework (ext/framework.h): it passes the driver's allocator,
 * its registered extensions and its buffers, and turns the framework's
 * error details into the driver's error message.
 */
#include "driver/driver_int.h"

#include <string.h>

_Static_assert(WSX__EXT_ERRLEN == WSX__ERRMSG_LEN,
               "extension error details fit the driver message");

/* Copies a framework error detail (if any) into the driver's message. */
static int note(wsx_driver *d, const char *err, int rc) {
  if (err[0])
    wsx__set_error(d, "%s", err);
  return rc;
}

static int store_value(wsx_driver *d, const char *v, size_t len) {
  wsx__free(d->alloc, d->ext_value);
  d->ext_value = wsx__strndup(d->alloc, v, len);
  return d->ext_value ? WSX_OK : WSX_E_NOMEM;
}

void wsx__ext_free(wsx_driver *d) { wsx__exts_free(&d->ext, d->alloc); }

int wsx__ext_client_offer(wsx_driver *d, wsx__buf *b) {
  return wsx__exts_client_offer(d->alloc, d->hs->exts, d->hs->num_exts, b);
}

int wsx__ext_client_activate(wsx_driver *d, const char *value, size_t len) {
  char err[WSX__EXT_ERRLEN] = "";
  int rc = wsx__exts_client_activate(&d->ext, d->alloc, d->hs->exts,
                                     d->hs->num_exts, value, len, err);
  if (!rc)
    rc = store_value(d, value, len);
  return note(d, err, rc);
}

int wsx__ext_server_negotiate(wsx_driver *d, const char *value, size_t len) {
  char err[WSX__EXT_ERRLEN] = "";
  wsx__buf resp = {0};
  int rc = wsx__exts_server_negotiate(&d->ext, d->alloc, d->hs->exts,
                                      d->hs->num_exts, value, len, &resp, err);
  if (!rc && resp.len)
    rc = store_value(d, (const char *)resp.data, resp.len);
  wsx__buf_free(&resp, d->alloc);
  return note(d, err, rc);
}

/* The message at the end of the incoming pipeline (limits, UTF-8). */
typedef struct msg_sink {
  wsx_ext_sink sink;
  wsx_driver *d;
} msg_sink;

static int msg_write(wsx_ext_sink *s, const void *data, size_t len) {
  return wsx__msg_append(((msg_sink *)s)->d, data, len);
}

int wsx__ext_incoming(wsx_driver *d, const uint8_t *p, size_t n,
                      unsigned flags) {
  char err[WSX__EXT_ERRLEN];
  err[0] = 0;
  msg_sink ms = {{msg_write, NULL}, d};
  unsigned rsv = d->msg_rsv;
  int rc = wsx__exts_incoming(&d->ext, d->msg_op, &rsv, p, n, flags, &ms.sink,
                              err);
  d->msg_rsv = (uint8_t)rsv;
  return note(d, err, rc);
}

int wsx__ext_outgoing(wsx_driver *d, int opcode, const uint8_t *p, size_t n,
                      unsigned flags, unsigned *rsv) {
  if (!wsx__drx_get(d))
    return WSX_E_NOMEM;
  d->x->ext_out.len = 0;
  unsigned f = (flags & WSX_SEND_UNCOMPRESSED) ? WSX_EXT_UNCOMPRESSED : 0;
  return wsx__exts_outgoing(&d->ext, d->alloc, opcode, p, n, f, rsv,
                            &d->x->ext_out);
}
