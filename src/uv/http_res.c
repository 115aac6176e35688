/* The plain HTTP response writer of the server front. */
#include <stdio.h>
#include <string.h>

#include "uv/internal.h"

static int res_closed(const wsx_http_res *res) {
  const wsx_socket *s = res->req->s;
  return res->ended || (s->flags & WSX__F_HANDLE_CLOSING) ||
         s->phase == WSX__P_TEARDOWN;
}

int wsx_http_res_status(wsx_http_res *res, int status, const char *reason) {
  const wsx_allocator *a = &res->req->s->cfg->alloc;
  if (res->head_sent)
    return WSX_E_STATE;
  if (status < 100 || status > 999 || status == 101)
    return WSX_E_INVALID;
  if (reason && !wsx_http_valid_value(reason, strlen(reason)))
    return WSX_E_HEADER_VALUE;
  res->status = status;
  wsx__free(a, res->reason);
  res->reason = NULL;
  if (reason && !(res->reason = wsx__strndup(a, reason, strlen(reason))))
    return WSX_E_NOMEM;
  return WSX_OK;
}

int wsx_http_res_header(wsx_http_res *res, const char *name,
                        const char *value) {
  const wsx_allocator *a = &res->req->s->cfg->alloc;
  size_t nl, vl;
  if (res->head_sent)
    return WSX_E_STATE;
  if (!name || !value)
    return WSX_E_INVALID;
  nl = strlen(name);
  vl = strlen(value);
  if (!wsx_http_valid_name(name, nl) || !wsx_http_valid_value(value, vl))
    return WSX_E_HEADER_VALUE;
  if (wsx__ieq(name, nl, "content-length")) {
    /* The app frames the body itself: keep-alive holds if it writes
     * exactly that many bytes. */
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < vl && n <= 0xffffffffffffull; i++)
      n = (value[i] >= '0' && value[i] <= '9')
              ? n * 10 + (uint64_t)(value[i] - '0')
              : ~(uint64_t)0;
    if (vl == 0 || n > 0xffffffffffffull || res->has_clen)
      res->close_after = 1; /* unusable framing: delimit by the close */
    res->has_clen = 1;
    res->clen = n;
  } else if (wsx__ieq(name, nl, "connection")) {
    res->app_conn = 1;
    if (wsx__ieq(value, vl, "close"))
      res->close_after = 1;
  } else if (wsx__ieq(name, nl, "transfer-encoding")) {
    res->close_after = 1; /* the app's own coding: the close delimits */
  }
  if (wsx__buf_append(&res->head, a, name, nl) < 0 ||
      wsx__buf_append(&res->head, a, ": ", 2) < 0 ||
      wsx__buf_append(&res->head, a, value, vl) < 0 ||
      wsx__buf_append(&res->head, a, "\r\n", 2) < 0)
    return WSX_E_NOMEM;
  return WSX_OK;
}

/* Head and body leave in one write. */
static int send_parts(wsx_http_res *res, const void *data, size_t len,
                      int final) {
  wsx_socket *s = res->req->s;
  const wsx_request *r = res->req;
  char line[160], clen[96] = "";
  uv_buf_t b[8];
  unsigned n = 0;
  res->sent += len;
  if (!res->head_sent) {
    int k = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", res->status,
                     res->reason ? res->reason : wsx__status_text(res->status));
    if (final && !res->has_clen)
      snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
    /* A streamed body without a length is delimited by the close. */
    if (!r->keep_alive || (!final && !res->has_clen))
      res->close_after = 1;
    b[n++] = uv_buf_init(line, (unsigned)k);
    (void)wsx__uv_bufs(b, 2, &n, res->head.data, res->head.len);
    /* An app's own Connection header stands. */
    if (!res->app_conn && res->close_after)
      strcat(clen, "Connection: close\r\n");
    else if (!res->app_conn && r->http.minor_version == 0)
      strcat(clen, "Connection: keep-alive\r\n");
    strcat(clen, "\r\n");
    b[n++] = uv_buf_init(clen, (unsigned)strlen(clen));
    res->head_sent = 1;
  }
  /* A response to HEAD has no body (RFC 9110 9.3.2), whatever the app
   * hands over: sending it would be read as the next response. The length
   * still counts, so Content-Length describes the body a GET would get. */
  if (wsx__ieq(r->http.method, r->http.method_len, "HEAD"))
    len = 0;
  for (;;) { /* a body over UINT_MAX bytes takes several bufs */
    size_t done = wsx__uv_bufs(b, 8, &n, data, len);
    int rc;
    if (done == len)
      return wsx__sock_write(s, b, n);
    if ((rc = wsx__sock_write(s, b, n)) < 0)
      return rc;
    data = (const char *)data + done;
    len -= done;
    n = 0;
  }
}

int wsx_http_res_write(wsx_http_res *res, const void *data, size_t len) {
  wsx_socket *s = res->req->s;
  int rc;
  if (res_closed(res))
    return WSX_E_CLOSED;
  rc = send_parts(res, data, len, 0);
  if (rc < 0)
    return rc;
  if (wsx__sock_buffered(s) > s->cfg->max_buffered) {
    /* A client that stopped reading must not hold the server's memory. */
    wsx__sock_close_handle(s);
    return WSX_E_POLICY;
  }
  if (wsx__sock_buffered(s) > wsx__sock_hwm(s)) {
    s->flags |= WSX__F_ABOVE_HWM;
    return 1;
  }
  return 0;
}

int wsx_http_res_end(wsx_http_res *res, const void *data, size_t len) {
  int rc;
  if (res_closed(res))
    return WSX_E_CLOSED;
  rc = send_parts(res, data, len, !res->head_sent);
  res->ended = 1;
  if (res->has_clen && res->sent != res->clen)
    res->close_after = 1; /* the client cannot find the next response */
  if (rc < 0 || res->close_after)
    wsx__sock_teardown(res->req->s);
  else
    wsx__front_response_done(res->req->s);
  return rc < 0 ? rc : WSX_OK;
}

/* Unlike end, nothing is flushed: a client that stopped reading is cut
 * off now instead of holding its unsent bytes through the linger time. */
int wsx_http_res_drop(wsx_http_res *res) {
  wsx_socket *s = res->req->s;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_E_CLOSED;
  res->ended = 1;
  wsx__sock_close_handle(s);
  return WSX_OK;
}

void wsx_http_res_set_high_water_mark(wsx_http_res *res, size_t hwm) {
  res->hwm = hwm;
}

size_t wsx__http_res_hwm(const wsx_socket *s) {
  if (s->phase == WSX__P_HTTP && s->req && s->req->res.hwm)
    return s->req->res.hwm;
  return s->cfg->hwm;
}

size_t wsx_http_res_buffered_amount(const wsx_http_res *res) {
  return wsx__sock_buffered(res->req->s);
}

int wsx_http_res_set_callbacks(wsx_http_res *res,
                               const wsx_http_res_callbacks *cbs,
                               void *user_data) {
  wsx_http_res_callbacks c = WSX_HTTP_RES_CALLBACKS_INIT;
  if (WSX__STRUCT_IN(wsx_http_res_callbacks, &c, cbs) != WSX_OK)
    return WSX_E_STRUCT_SIZE;
  res->cb = c;
  res->ud = user_data;
  return WSX_OK;
}

wsx_request *wsx_http_res_request(const wsx_http_res *res) { return res->req; }

void wsx__http_res_on_drain(wsx_socket *s) {
  if (s->req && s->req->res.cb.drain && !s->req->res.ended)
    s->req->res.cb.drain(&s->req->res, s->req->res.ud);
}
