/*
 * accessors.c: the driver's accessors (read-only ones, user data, the budget
 * hook) and wsx_is_websocket_request
 * of wsx/driver.h (split from driver.c to keep it small).
 */
#include "driver/driver_int.h"

#include <string.h>

static const char *const empty = "";

int wsx_driver_ready_state(const wsx_driver *d) {
  switch (d->state) {
  case WSX__S_OPEN:
    return WSX_OPEN;
  case WSX__S_CLOSING:
    return WSX_CLOSING;
  case WSX__S_CLOSED:
    return WSX_CLOSED;
  default:
    return WSX_CONNECTING;
  }
}

const char *wsx_driver_protocol(const wsx_driver *d) {
  return d->protocol ? d->protocol : empty;
}

const char *wsx_driver_version(const wsx_driver *d) {
  switch (d->version) {
  case WSX__HIXIE75:
    return "hixie-75";
  case WSX__HIXIE76:
    return "hixie-76";
  default:
    return "hybi-13";
  }
}

const char *wsx_driver_url(const wsx_driver *d) {
  return d->url ? d->url : empty;
}

const char *wsx_driver_extensions(const wsx_driver *d) {
  return d->ext_value ? d->ext_value : empty;
}

int wsx_driver_status_code(const wsx_driver *d) {
  return d->x ? d->x->status_code : 0;
}

uint64_t wsx_driver_decoded_bytes(const wsx_driver *d) {
  return d->rx_decoded;
}

const wsx_header *wsx_driver_headers(const wsx_driver *d, size_t *n) {
  if (n)
    *n = d->x ? d->x->num_headers : 0;
  return d->x ? d->x->headers : NULL;
}

const wsx_http_request *wsx_driver_request(const wsx_driver *d) {
  return d->hs && d->hs->have_req ? &d->hs->req : NULL;
}

int wsx_driver_is_websocket(const wsx_driver *d) {
  return d->hs && d->hs->have_req && wsx_is_websocket_request(&d->hs->req);
}

const uint8_t *wsx_driver_body(const wsx_driver *d, size_t *len) {
  if (len)
    *len = d->hs ? d->hs->body.len : 0;
  return d->hs ? d->hs->body.data : NULL;
}

int wsx_driver_last_error(const wsx_driver *d, const char **msg) {
  if (msg)
    *msg = wsx__errmsg(d);
  return d->last_error;
}

int wsx_is_websocket_request(const wsx_http_request *req) {
  if (!req || req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
    return 0;
  return wsx_header_has_token(req->headers, req->num_headers, "upgrade",
                              "websocket") &&
         wsx_header_has_token(req->headers, req->num_headers, "connection",
                              "upgrade");
}

/* Zero-copy receive and message taking (frame.c does the work). */
void *wsx_driver_recv_buffer(wsx_driver *d, size_t min, size_t *len) {
  if (!d || !len || d->in_parse || d->in_write)
    return NULL;
  return wsx__frame_rx_span(d, min, len);
}

int wsx_driver_recv_commit(wsx_driver *d, size_t n) {
  int rc;
  if (!d)
    return WSX_E_INVALID;
  if (d->in_parse || d->in_write)
    return WSX_E_STATE;
  d->in_parse = 1;
  rc = wsx__frame_rx_commit(d, n);
  d->in_parse = 0;
  return rc;
}

void *wsx_driver_take_message(wsx_driver *d, size_t *len) {
  if (!d || !len)
    return NULL;
  uint8_t *p = d->msg.data;
  if (!p || d->deliver_p != p)
    return NULL;
  *len = d->msg.len;
  memset(&d->msg, 0, sizeof(d->msg));
  /* deliver_p stays: sent back whole from this callback, the taken text
   * is not validated again (driver.c, send_data). */
  wsx__budget_refund(d); /* the memory is the application's now */
  return p;
}

/* ---- the memory budget (wsx_driver_set_budget) ---- */

void wsx__budget_refund(wsx_driver *d) {
  size_t held = d->budget_held;
  d->budget_held = 0;
  if (held && d->budget_cb)
    (void)d->budget_cb(d, -(int64_t)held, d->budget_ud);
}

size_t wsx_driver_budget_need(const wsx_driver *d, size_t more) {
  const wsx__buf *b = &d->msg;
  uint64_t need;
  size_t cap;
  if (!d->budget_cb || d->version != WSX__HYBI || b->cap - b->len >= more)
    return 0;
  /* As msg_buf_append would grow it, capped at max_length (more than that
   * fails the message before any growth). */
  need = (uint64_t)b->len + more;
  if (need > d->max_length)
    need = d->max_length;
  cap = b->cap ? b->cap : 256;
  while (cap < need && cap <= SIZE_MAX / 2)
    cap *= 2;
  if (cap > d->max_length)
    cap = (size_t)d->max_length;
  return cap > d->budget_held ? cap - d->budget_held : 0;
}

void wsx_driver_set_budget(wsx_driver *d, wsx_budget_cb cb, void *user_data) {
  if (!d)
    return;
  wsx__budget_refund(d); /* what the previous hook granted */
  d->budget_cb = cb;
  d->budget_ud = user_data;
}

void wsx_driver_set_user_data(wsx_driver *d, void *user_data) {
  d->ud = user_data;
}

void *wsx_driver_user_data(const wsx_driver *d) { return d->ud; }
