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

/* ---- hibernation (driver/embed.h) ----
 * The saved block: one flag byte (bit 0: url set, bit 1: protocol set,
 * bit 2: ext_value set, always "" here), then url and protocol, each
 * NUL-terminated. */

int wsx__driver_embed_idle(const wsx_driver *d) {
  return d->embedded && d->role == WSX__SERVER_REQ &&
         d->version == WSX__HYBI && d->state == WSX__S_OPEN && d->started &&
         !d->hs && !d->x && !d->last_error && !d->close_sent &&
         !d->close_fired && !d->in_parse && !d->in_write &&
         !d->in_callback_fail && !d->hdr_len && !d->in_payload &&
         !d->msg_op && !d->msg.data && !d->budget_held && !d->ext.active &&
         !d->ext.num_active && (!d->ext_value || !*d->ext_value);
}

static size_t slen(const char *p) { return p ? strlen(p) : 0; }

size_t wsx__driver_embed_saved_len(const wsx_driver *d) {
  return 1 + slen(d->url) + 1 + slen(d->protocol) + 1;
}

void wsx__driver_embed_sleep(wsx_driver *d, char *b) {
  size_t ul = slen(d->url), pl = slen(d->protocol);
  b[0] = (char)((d->url ? 1 : 0) | (d->protocol ? 2 : 0) |
                (d->ext_value ? 4 : 0));
  memcpy(b + 1, d->url ? d->url : "", ul + 1);
  memcpy(b + 2 + ul, d->protocol ? d->protocol : "", pl + 1);
  wsx_driver_free(d); /* embedded: the room stays */
}

const char *wsx__driver_embed_saved_str(const char *saved, int which) {
  const char *url = saved + 1;
  if (!(saved[0] & (which ? 2 : 1)))
    return NULL;
  return which ? url + strlen(url) + 1 : url;
}

wsx_driver *wsx__driver_embed_wake(void *room, const char *saved,
                                   const wsx_driver_options *opts,
                                   const wsx_allocator *alloc,
                                   const wsx_driver_callbacks *cbs,
                                   void *user_data) {
  wsx_driver *d = room;
  const char *url = saved + 1, *proto = url + strlen(url) + 1;
  memset(d, 0, sizeof *d);
  d->embedded = 1;
  wsx__driver_config(d, opts, alloc, cbs, user_data);
  d->role = WSX__SERVER_REQ;
  d->version = WSX__HYBI;
  d->state = WSX__S_OPEN;
  d->started = 1;
  if (((saved[0] & 1) && !(d->url = wsx__strndup(alloc, url, strlen(url)))) ||
      ((saved[0] & 2) &&
       !(d->protocol = wsx__strndup(alloc, proto, strlen(proto)))) ||
      ((saved[0] & 4) && !(d->ext_value = wsx__strndup(alloc, "", 0)))) {
    wsx_driver_free(d);
    return NULL;
  }
  return d;
}
