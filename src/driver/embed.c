/*
 * embed.c: building a server driver from a parsed request, in a driver of
 * its own (wsx_driver_new_server_request) or in an embedder's memory
 * (driver/embed.h).
 */
#include "driver/driver_int.h"
#include "driver/embed.h"

#include <string.h>

#define ROUND16(n) (((n) + 15u) & ~(size_t)15u)

size_t wsx__driver_embed_size(void) { return ROUND16(sizeof(wsx_driver)); }

/* A built driver (d->alloc set) takes the request as a server's. */
static wsx_driver *take_request(wsx_driver *d, const wsx_http_request *req) {
  d->role = WSX__SERVER_REQ;
  d->state = WSX__S_REQUEST;
  if (wsx__store_request(d, req) != WSX_OK) {
    wsx_driver_free(d);
    return NULL;
  }
  return d;
}

void wsx__driver_set_msg_alloc(wsx_driver *d, const wsx_allocator *a) {
  wsx__budget_refund(d); /* none yet: nothing to keep */
  wsx__buf_free(&d->msg, d->msg_alloc);
  d->msg_alloc = a;
}

wsx_driver *wsx_driver_new_server_request(const wsx_http_request *req,
                                          const wsx_driver_options *opts,
                                          const wsx_driver_callbacks *cbs,
                                          void *user_data) {
  if (!req)
    return NULL;
  wsx_driver *d = wsx_driver_new_server(opts, cbs, user_data);
  return d ? take_request(d, req) : NULL;
}

wsx_driver *wsx__driver_embed_server_request(void *room,
                                             const wsx_http_request *req,
                                             const wsx_driver_options *opts,
                                             const wsx_allocator *alloc,
                                             const wsx_driver_callbacks *cbs,
                                             void *user_data) {
  wsx_driver *d = room;
  if (!req)
    return NULL;
  memset(d, 0, sizeof *d);
  d->embedded = 1;
  if (wsx__driver_init(d, opts, alloc, cbs, user_data) != WSX_OK) {
    wsx_driver_free(d);
    return NULL;
  }
  return take_request(d, req);
}
