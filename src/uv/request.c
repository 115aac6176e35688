/* wsx_request: accessors, accept, reject, and small canned responses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/internal.h"
#include "wsx/cookie.h"

wsx_request *wsx__request_new(wsx_socket *s) {
  wsx_request *r = wsx__malloc(&s->cfg->alloc, sizeof(*r));
  if (!r)
    return NULL;
  memset(r, 0, sizeof(*r));
  r->s = s;
  r->res.req = r;
  r->res.status = 200;
  r->query = "";
  r->nreq = 1;
  return r;
}

static void free_strv(const wsx_allocator *a, char **v, size_t n) {
  size_t i;
  if (!v)
    return;
  for (i = 0; i < n; i++)
    wsx__free(a, v[i]);
  wsx__free(a, v);
}

void wsx__request_free(wsx_request *r) {
  const wsx_allocator *a = &r->s->cfg->alloc;
  wsx__free(a, r->head);
  wsx__free(a, r->http.headers);
  wsx__buf_free(&r->buf, a);
  free_strv(a, r->protocols, r->num_protocols);
  free_strv(a, r->xff, r->num_xff);
  wsx__free(a, r->extensions);
  wsx__buf_free(&r->res.head, a);
  wsx__free(a, r->res.reason);
  wsx__free(a, r);
}

/* Splits the comma-separated values of every header `name` into a vector of
 * trimmed, non-empty copies. */
static int split_list(wsx_request *r, const char *name, char ***out,
                      size_t *n) {
  const wsx_allocator *a = &r->s->cfg->alloc;
  size_t i, cap = 0;
  *out = NULL;
  *n = 0;
  for (i = 0; i < r->http.num_headers; i++) {
    const wsx_header *h = &r->http.headers[i];
    const char *p = h->value, *end = h->value + h->value_len;
    if (!wsx__ieq(h->name, h->name_len, name))
      continue;
    while (p < end) {
      const char *q = p, *e;
      while (q < end && *q != ',')
        q++;
      e = q;
      while (p < e && (*p == ' ' || *p == '\t'))
        p++;
      while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
      if (e > p) {
        if (*n + 1 >= cap) {
          char **nv;
          cap = cap ? cap * 2 : 4;
          nv = wsx__realloc(a, *out, cap * sizeof(*nv));
          if (!nv)
            return WSX_E_NOMEM;
          *out = nv;
        }
        if (!((*out)[*n] = wsx__strndup(a, p, (size_t)(e - p))))
          return WSX_E_NOMEM;
        (*n)++;
        (*out)[*n] = NULL;
      }
      p = q < end ? q + 1 : end;
    }
  }
  return WSX_OK;
}

/* The values of every `name` header joined with ", " into *out (heap), or
 * NULL when there is none (nothing allocated: the common case of
 * Sec-WebSocket-Extensions in a request without an offer). */
static int join_values(wsx_request *r, const char *name, char **out) {
  const wsx_allocator *a = &r->s->cfg->alloc;
  wsx__buf b = {0};
  size_t i;
  *out = NULL;
  if (!wsx_request_header(r, name))
    return WSX_OK;
  for (i = 0; i < r->http.num_headers; i++) {
    const wsx_header *h = &r->http.headers[i];
    if (!wsx__ieq(h->name, h->name_len, name))
      continue;
    if ((b.len && wsx__buf_append(&b, a, ", ", 2) < 0) ||
        wsx__buf_append(&b, a, h->value, h->value_len) < 0) {
      wsx__buf_free(&b, a);
      return WSX_E_NOMEM;
    }
  }
  if (wsx__buf_append(&b, a, "", 1) < 0) {
    wsx__buf_free(&b, a);
    return WSX_E_NOMEM;
  }
  *out = (char *)b.data;
  return WSX_OK;
}

static void peer_address(wsx_request *r) {
  struct sockaddr_storage ss;
  int sl = sizeof(ss);
  uv_stream_t *st = r->s->stream;
  if (st->type != UV_TCP ||
      uv_tcp_getpeername((uv_tcp_t *)st, (struct sockaddr *)&ss, &sl) < 0)
    return;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, r->addr, sizeof(r->addr));
    r->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, r->addr, sizeof(r->addr));
    r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
}

int wsx__request_finish_head(wsx_request *r, int trust_xff) {
  const wsx_allocator *a = &r->s->cfg->alloc;
  wsx_http_state st = {0};
  wsx_header *hdrs = r->s->cfg->ctx->hdrs;
  size_t i, rest;
  const char *v;
  int rc;
  /* The head gets its own block so the spans survive the growth of `buf`
   * (body bytes, early frames). */
  r->head = wsx__malloc(a, r->head_len + 1);
  if (!r->head)
    return WSX_E_NOMEM;
  memcpy(r->head, r->buf.data, r->head_len);
  r->head[r->head_len] = '\0';
  rest = r->buf.len - r->head_len;
  memmove(r->buf.data, r->buf.data + r->head_len, rest);
  r->buf.len = rest;
  rc = wsx_http_parse_request(r->head, r->head_len, &r->http, hdrs,
                              WSX__MAX_HEADERS, r->head_len + 1, &st, NULL);
  if (rc <= 0)
    return WSX_E_INTERNAL;
  r->http.headers = wsx__malloc(a, (r->http.num_headers + 1) * sizeof(*hdrs));
  if (!r->http.headers)
    return WSX_E_NOMEM;
  memcpy(r->http.headers, hdrs, r->http.num_headers * sizeof(*hdrs));
  /* Every span is followed by a delimiter (SP, ':', CR or OWS) inside the
   * head: terminate them in place so accessors can hand out C strings. */
  ((char *)r->http.method)[r->http.method_len] = '\0';
  ((char *)r->http.target)[r->http.target_len] = '\0';
  for (i = 0; i < r->http.num_headers; i++) {
    ((char *)r->http.headers[i].name)[r->http.headers[i].name_len] = '\0';
    ((char *)r->http.headers[i].value)[r->http.headers[i].value_len] = '\0';
  }
  v = strchr(r->http.target, '?');
  r->path_len = v ? (size_t)(v - r->http.target) : r->http.target_len;
  r->query = v ? v + 1 : "";
  r->is_ws = wsx_is_websocket_request(&r->http);
  v = wsx_request_header(r, "sec-websocket-version");
  r->version = v ? atoi(v) : 0;
  if ((rc = split_list(r, "sec-websocket-protocol", &r->protocols,
                       &r->num_protocols)) < 0)
    return rc;
  if ((rc = join_values(r, "sec-websocket-extensions", &r->extensions)) < 0)
    return rc;
  if (trust_xff &&
      (rc = split_list(r, "x-forwarded-for", &r->xff, &r->num_xff)) < 0)
    return rc;
  return WSX_OK;
}

/* ---- accessors ---- */

const char *wsx_request_method(const wsx_request *r) { return r->http.method; }
const char *wsx_request_resource(const wsx_request *r) {
  return r->http.target;
}
const char *wsx_request_path(const wsx_request *r, size_t *len) {
  *len = r->path_len;
  return r->http.target;
}
const char *wsx_request_query(const wsx_request *r) { return r->query; }

const char *wsx_request_header(const wsx_request *r, const char *name) {
  size_t i, n = strlen(name);
  for (i = 0; i < r->http.num_headers; i++)
    if (r->http.headers[i].name_len == n &&
        wsx__ieq(r->http.headers[i].name, n, name))
      return r->http.headers[i].value;
  return NULL;
}

const char *wsx_request_host(const wsx_request *r) {
  const char *h = wsx_request_header(r, "host");
  return h ? h : "";
}

const char *wsx_request_origin(const wsx_request *r) {
  const char *o = wsx_request_header(r, "origin");
  return o ? o : wsx_request_header(r, "sec-websocket-origin");
}

const wsx_header *wsx_request_headers(const wsx_request *r, size_t *n) {
  *n = r->http.num_headers;
  return r->http.headers;
}

const char *const *wsx_request_protocols(const wsx_request *r, size_t *n) {
  static const char *const none[] = {NULL};
  *n = r->num_protocols;
  return r->protocols ? (const char *const *)r->protocols : none;
}

const char *wsx_request_extensions(const wsx_request *r) {
  return r->extensions ? r->extensions : "";
}
int wsx_request_version(const wsx_request *r) { return r->version; }
int wsx_request_is_websocket(const wsx_request *r) { return r->is_ws; }
const wsx_http_request *wsx_request_http(const wsx_request *r) {
  return &r->http;
}
const uint8_t *wsx_request_body(const wsx_request *r, size_t *len) {
  *len = r->is_ws ? 0 : r->body_len;
  return r->buf.data;
}
const char *wsx_request_remote_address(const wsx_request *r, int *port) {
  /* Looked up on first use: most servers never ask, and getpeername is a
   * syscall per connection. The request is ours to fill in. */
  wsx_request *w = (wsx_request *)(uintptr_t)r;
  if (!w->addr[0])
    peer_address(w);
  if (port)
    *port = r->port;
  return r->addr;
}
const char *const *wsx_request_forwarded_for(const wsx_request *r, size_t *n) {
  static const char *const none[] = {NULL};
  *n = r->num_xff;
  return r->xff ? (const char *const *)r->xff : none;
}
wsx_server *wsx_request_server(const wsx_request *r) {
  return wsx__sock_srv(r->s);
}

/* ---- resolution ---- */

wsx_socket *wsx__request_accept_as(wsx_request *r, const char *protocol,
                                   int explicit_protocol, const char *origin,
                                   const wsx_header *extra, size_t num_extra,
                                   int *err) {
  wsx_socket *s = r->s;
  int rc;
  s->req = NULL;
  rc = wsx__sock_start_server(s, &r->http, protocol, explicit_protocol, origin,
                              r->version, extra, num_extra, r->buf.data,
                              r->buf.len);
  wsx__request_free(r);
  if (err)
    *err = rc < 0 ? rc : WSX_OK;
  if (rc < 0) {
    s->cb = &wsx__no_cbs;
    if (!s->d)
      wsx__sock_close_handle(s);
    else if (!(s->flags & WSX__F_HANDLE_CLOSING))
      wsx__sock_teardown(s);
    return NULL;
  }
  return s;
}

/* Formats every cookie into one block of NUL-terminated values and fills
 * hdrs[i] (name "Set-Cookie"). Nothing is kept on failure. */
static int format_cookies(const wsx_allocator *a,
                          const wsx_set_cookie *const *cookies, size_t n,
                          wsx_header *hdrs, char **block) {
  size_t i, total = 0, off = 0;
  char *b;
  *block = NULL;
  if (n && !cookies)
    return WSX_E_INVALID;
  for (i = 0; i < n; i++) {
    int len = cookies[i] ? wsx_cookie_format(cookies[i], NULL, 0)
                         : WSX_E_INVALID;
    if (len < 0)
      return len;
    total += (size_t)len + 1;
  }
  if (!n)
    return WSX_OK;
  if (!(b = wsx__malloc(a, total)))
    return WSX_E_NOMEM;
  for (i = 0; i < n; i++) {
    int len = wsx_cookie_format(cookies[i], b + off, total - off);
    if (len < 0 || (size_t)len >= total - off) {
      wsx__free(a, b);
      return len < 0 ? len : WSX_E_INTERNAL;
    }
    hdrs[i].name = "Set-Cookie";
    hdrs[i].name_len = 10;
    hdrs[i].value = b + off;
    hdrs[i].value_len = (size_t)len;
    off += (size_t)len + 1;
  }
  *block = b;
  return WSX_OK;
}

wsx_socket *wsx_request_accept_with_cookies(
    wsx_request *r, const char *protocol, const char *origin,
    const wsx_set_cookie *const *cookies, size_t num_cookies,
    const wsx_socket_callbacks *cbs, void *user_data, int *err) {
  wsx_socket *s = r->s, *out;
  const wsx_allocator *a = &s->cfg->alloc;
  wsx_header small[8], *hdrs = small;
  char *block = NULL;
  size_t i;
  int offered = protocol == NULL, rc;
  for (i = 0; !offered && i < r->num_protocols; i++)
    offered = strcmp(r->protocols[i], protocol) == 0;
  if (!r->is_ws || s->phase != WSX__P_REQUEST || !offered) {
    if (err)
      *err = WSX_E_INVALID;
    if (s->phase == WSX__P_REQUEST)
      (void)wsx_request_reject(
          r, 400, offered ? "not a WebSocket request" : "protocol not offered",
          NULL, 0);
    return NULL;
  }
  if (WSX__STRUCT_OK(wsx_socket_callbacks, cbs) != WSX_OK) {
    if (err)
      *err = WSX_E_STRUCT_SIZE;
    (void)wsx_request_reject(r, 500, NULL, NULL, 0);
    return NULL;
  }
  /* Every cookie is checked before a byte of the 101 exists: an invalid
   * one fails the accept as a whole (nothing half-written). */
  if (num_cookies > sizeof(small) / sizeof(small[0]) &&
      (num_cookies > SIZE_MAX / sizeof(*hdrs) ||
       !(hdrs = wsx__malloc(a, num_cookies * sizeof(*hdrs))))) {
    if (err)
      *err = WSX_E_NOMEM;
    (void)wsx_request_reject(r, 503, "out of memory", NULL, 0);
    return NULL;
  }
  rc = format_cookies(a, cookies, num_cookies, hdrs, &block);
  if (rc != WSX_OK) {
    if (hdrs != small)
      wsx__free(a, hdrs);
    if (err)
      *err = rc;
    (void)wsx_request_reject(r, rc == WSX_E_NOMEM ? 503 : 500,
                             rc == WSX_E_NOMEM ? "out of memory"
                                               : "invalid cookie",
                             NULL, 0);
    return NULL;
  }
  if (!(s->cb = wsx__cb_intern(s->cfg->ctx, cbs))) {
    s->cb = &wsx__no_cbs;
    if (err)
      *err = WSX_E_NOMEM;
    (void)wsx_request_reject(r, 503, "out of memory", NULL, 0);
    out = NULL;
  } else {
    s->ud = user_data;
    out = wsx__request_accept_as(r, protocol, 1, origin, hdrs, num_cookies,
                                 err);
  }
  wsx__free(a, block);
  if (hdrs != small)
    wsx__free(a, hdrs);
  return out;
}

wsx_socket *wsx_request_accept(wsx_request *r, const char *protocol,
                               const char *origin,
                               const wsx_socket_callbacks *cbs, void *user_data,
                               int *err) {
  return wsx_request_accept_with_cookies(r, protocol, origin, NULL, 0, cbs,
                                         user_data, err);
}

const char *wsx__status_text(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Payload Too Large";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}

static int buf_printf(wsx__buf *b, const wsx_allocator *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int buf_printf(wsx__buf *b, const wsx_allocator *a, const char *fmt,
                      ...) {
  char tmp[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return WSX_E_INVALID;
  return wsx__buf_append(b, a, tmp, (size_t)n);
}

static void send_and_close(wsx_socket *s, wsx__buf *b) {
  uv_buf_t ub[2]; /* a small response: one buf */
  unsigned k = 0;
  s->phase = WSX__P_HTTP;
  (void)wsx__uv_bufs(ub, 2, &k, b->data, b->len);
  (void)wsx__sock_write(s, ub, k);
  wsx__buf_free(b, &s->cfg->alloc);
  wsx__sock_teardown(s);
}

void wsx__respond_and_close(wsx_socket *s, int status, const char *extra,
                            const char *body) {
  const wsx_allocator *a = &s->cfg->alloc;
  wsx__buf b = {0};
  size_t blen = body ? strlen(body) : 0;
  if (buf_printf(&b, a,
                 "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: "
                 "text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                 status, wsx__status_text(status), blen,
                 extra ? extra : "") < 0 ||
      wsx__buf_append(&b, a, body, blen) < 0) {
    wsx__buf_free(&b, a);
    wsx__sock_close_handle(s);
    return;
  }
  send_and_close(s, &b);
}

int wsx_request_reject(wsx_request *r, int status, const char *reason,
                       const wsx_header *headers, size_t n) {
  wsx_socket *s = r->s;
  const wsx_allocator *a = &s->cfg->alloc;
  wsx__buf b = {0};
  const char *text;
  size_t i;
  int ok = 1;
  if (status == 0)
    status = 403;
  if (status < 100 || status > 599 || status == 101)
    return WSX_E_INVALID;
  if (reason && !wsx_http_valid_value(reason, strlen(reason)))
    ok = 0;
  for (i = 0; ok && i < n; i++)
    ok = wsx_http_valid_name(headers[i].name, headers[i].name_len) &&
         wsx_http_valid_value(headers[i].value, headers[i].value_len);
  s->req = NULL;
  if (!ok) {
    wsx__request_free(r);
    wsx__sock_close_handle(s);
    return WSX_E_HEADER_VALUE;
  }
  text = wsx__status_text(status);
  ok = buf_printf(&b, a,
                  "HTTP/1.1 %d %s\r\nConnection: close\r\n"
                  "Content-Type: text/plain\r\nContent-Length: %zu\r\n",
                  status, text, strlen(text) + 1) == WSX_OK;
  if (ok && reason)
    ok = wsx__buf_append(&b, a, "X-WebSocket-Reject-Reason: ", 27) == 0 &&
         wsx__buf_append(&b, a, reason, strlen(reason)) == 0 &&
         wsx__buf_append(&b, a, "\r\n", 2) == 0;
  for (i = 0; ok && i < n; i++)
    ok = wsx__buf_append(&b, a, headers[i].name, headers[i].name_len) == 0 &&
         wsx__buf_append(&b, a, ": ", 2) == 0 &&
         wsx__buf_append(&b, a, headers[i].value, headers[i].value_len) == 0 &&
         wsx__buf_append(&b, a, "\r\n", 2) == 0;
  ok = ok && wsx__buf_append(&b, a, "\r\n", 2) == 0 &&
       wsx__buf_append(&b, a, text, strlen(text)) == 0 &&
       wsx__buf_append(&b, a, "\n", 1) == 0;
  wsx__request_free(r);
  if (!ok) {
    wsx__buf_free(&b, a);
    wsx__sock_close_handle(s);
    return WSX_E_NOMEM;
  }
  send_and_close(s, &b);
  return WSX_OK;
}

void wsx__server_request_gone(wsx_socket *s) {
  wsx_request *r = s->req;
  wsx_server *srv = wsx__sock_srv(s);
  if (!r)
    return;
  s->req = NULL;
  if (r->dispatched && r->is_ws) {
    if (srv && srv->cb.request_aborted)
      srv->cb.request_aborted(srv, r, srv->ud);
  } else if (r->dispatched && r->res.cb.close) {
    r->res.cb.close(&r->res, r->res.ud);
  }
  wsx__request_free(r);
}
