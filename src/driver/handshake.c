/*
 * handshake.c: the RFC 6455 opening handshake, both roles (section 4).
 */
#include "driver/driver_int.h"

#include <stdio.h>
#include <string.h>

static int put(wsx__buf *b, const wsx_allocator *a, const char *s) {
  return wsx__buf_append(b, a, s, strlen(s));
}

static int putn(wsx__buf *b, const wsx_allocator *a, const char *s, size_t n) {
  return wsx__buf_append(b, a, s, n);
}

static int make_server_url(wsx_driver *d);

/* Copies method, target and headers into one driver-owned block (d->x->head)
 * and points d->hs->req at it. */
int wsx__store_request(wsx_driver *d, const wsx_http_request *req) {
  size_t total = req->method_len + req->target_len + 2;
  for (size_t i = 0; i < req->num_headers; i++)
    total += req->headers[i].name_len + req->headers[i].value_len + 2;
  wsx__buf b = {0};
  if (wsx__buf_reserve(&b, d->alloc, total))
    return WSX_E_NOMEM;
  wsx_header *h = NULL;
  if (req->num_headers) {
    h = wsx__malloc(d->alloc, req->num_headers * sizeof *h);
    if (!h) {
      wsx__buf_free(&b, d->alloc);
      return WSX_E_NOMEM;
    }
  }
  /* NUL after each string makes them usable as C strings too. */
#define COPY(dst, src, n)                                                      \
  do {                                                                         \
    dst = (const char *)b.data + b.len;                                        \
    if (n)                                                                     \
      memcpy(b.data + b.len, src, n);                                          \
    b.len += n;                                                                \
    b.data[b.len++] = 0;                                                       \
  } while (0)
  COPY(d->hs->req.method, req->method, req->method_len);
  COPY(d->hs->req.target, req->target, req->target_len);
  for (size_t i = 0; i < req->num_headers; i++) {
    COPY(h[i].name, req->headers[i].name, req->headers[i].name_len);
    COPY(h[i].value, req->headers[i].value, req->headers[i].value_len);
    h[i].name_len = req->headers[i].name_len;
    h[i].value_len = req->headers[i].value_len;
  }
#undef COPY
  d->hs->req.method_len = req->method_len;
  d->hs->req.target_len = req->target_len;
  d->hs->req.minor_version = req->minor_version;
  wsx__buf_free(&d->x->head, d->alloc);
  wsx__free(d->alloc, d->x->headers);
  d->x->head = b;
  d->x->headers = h;
  d->x->num_headers = req->num_headers;
  d->hs->req.headers = h;
  d->hs->req.num_headers = req->num_headers;
  d->hs->have_req = 1;
  return make_server_url(d);
}

/* Appends p[0..len) to the head buffer and tries to parse it. On a complete
 * head, bytes after it move to d->hs->body. Returns >0 (head length) when
 * complete, 0 when more is needed, or a failure. */
static int gather_head(wsx_driver *d, const uint8_t *p, size_t len, int request,
                       wsx_http_request *req, wsx_http_response *res) {
  /* Never hold more than the limit allows (+1 so the parser can tell). */
  size_t room = (size_t)d->max_head + 1 - d->x->head.len;
  size_t take = len < room ? len : room;
  if (wsx__buf_append(&d->x->head, d->alloc, p, take))
    return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  if (!d->x->headers) {
    d->x->headers = wsx__malloc(d->alloc, d->max_headers * sizeof(wsx_header));
    if (!d->x->headers)
      return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  }
  const char *detail = NULL;
  int rc;
  if (request)
    rc = wsx_http_parse_request((const char *)d->x->head.data, d->x->head.len, req,
                                d->x->headers, d->max_headers, d->max_head,
                                &d->hs->hstate, &detail);
  else
    rc = wsx_http_parse_response((const char *)d->x->head.data, d->x->head.len, res,
                                 d->x->headers, d->max_headers, d->max_head,
                                 &d->hs->hstate, &detail);
  if (rc == WSX_E_AGAIN) {
    if (take < len) /* over the limit but the parser did not say so */
      return wsx__fail(d, WSX_E_HEAD_TOO_BIG, WSX_CLOSE_PROTOCOL_ERROR,
                       "HTTP head larger than %u bytes", (unsigned)d->max_head);
    return 0;
  }
  if (rc == WSX_E_HEAD_TOO_BIG) {
    if (request)
      wsx__http_error(d, 431, "Request Header Fields Too Large", NULL,
                      "request head too large");
    return wsx__fail(d, rc, WSX_CLOSE_PROTOCOL_ERROR,
                     "HTTP head larger than %u bytes or more than %u headers",
                     (unsigned)d->max_head, (unsigned)d->max_headers);
  }
  if (rc < 0) {
    if (request)
      wsx__http_error(d, 400, "Bad Request", NULL,
                      detail ? detail : "malformed request");
    return wsx__fail(d, WSX_E_HTTP, WSX_CLOSE_PROTOCOL_ERROR,
                     "malformed HTTP %s: %s", request ? "request" : "response",
                     detail ? detail : "parse error");
  }
  /* Bytes after the head: what was gathered past it plus what we did not
   * take. */
  size_t headlen = (size_t)rc;
  size_t extra = d->x->head.len - headlen;
  d->hs->body.len = 0;
  if (wsx__buf_append(&d->hs->body, d->alloc, d->x->head.data + headlen, extra) ||
      wsx__buf_append(&d->hs->body, d->alloc, p + take, len - take))
    return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  size_t n = request ? req->num_headers : res->num_headers;
  if (n == 0) {
    wsx__free(d->alloc, d->x->headers);
    d->x->headers = NULL;
  } else if (n < d->max_headers) {
    wsx_header *h = wsx__realloc(d->alloc, d->x->headers, n * sizeof *h);
    if (h)
      d->x->headers = h;
  }
  d->x->num_headers = n;
  if (request)
    req->headers = d->x->headers;
  else
    res->headers = d->x->headers;
  return rc;
}

/* hixie-76: runs the bytes gathered after the head (key3 and frames)
 * through the driver when the handshake waits for them. After open,
 * wsx__open() does this itself. */
static int drain_body(wsx_driver *d) {
  if (d->state != WSX__S_BODY76 || !d->hs || !d->hs->body.len)
    return WSX_OK;
  wsx__buf b = d->hs->body;
  memset(&d->hs->body, 0, sizeof d->hs->body);
  int rc = wsx__parse_input(d, b.data, b.len);
  wsx__buf_free(&b, d->alloc);
  return rc == WSX_E_CLOSED ? WSX_OK : rc;
}

int wsx__server_head(wsx_driver *d, uint8_t *p, size_t len, size_t *used) {
  wsx_http_request req;
  int rc = gather_head(d, p, len, 1, &req, NULL);
  *used = len;
  if (rc <= 0)
    return rc;
  d->hs->req = req;
  d->hs->have_req = 1;
  if (make_server_url(d))
    return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  d->state = WSX__S_REQUEST;
  if (d->cb->connect)
    d->cb->connect(d, d->ud);
  return WSX_OK;
}

int wsx__send_head(wsx_driver *d, wsx__buf *b, int bad) {
  const wsx_allocator *a = d->alloc;
  if (!bad && d->hs)
    bad = putn(b, a, (const char *)d->hs->extra_headers.data,
               d->hs->extra_headers.len);
  if (!bad)
    bad = put(b, a, "\r\n");
  if (bad) {
    wsx__buf_free(b, a);
    return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  }
  int rc = wsx__write1(d, b->data, b->len);
  wsx__buf_free(b, a);
  return rc ? wsx__fail(d, rc, 0, "write callback failed") : WSX_OK;
}

void wsx__http_error(wsx_driver *d, int status, const char *reason,
                     const char *extra_headers, const char *body) {
  if (!d->cb->write)
    return;
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                   status, reason, strlen(body) + 1,
                   extra_headers ? extra_headers : "", body);
  if (n > 0 && (size_t)n < sizeof buf - 1) {
    buf[n++] = '\n';
    wsx__write1(d, buf, (size_t)n);
  }
}

static int refuse(wsx_driver *d, int status, const char *extra,
                  const char *why) {
  wsx__http_error(d, status, status == 426 ? "Upgrade Required" : "Bad Request",
                  extra, why);
  return wsx__fail(d, WSX_E_HANDSHAKE, WSX_CLOSE_PROTOCOL_ERROR,
                   "handshake refused (%d): %s", status, why);
}

static const char *hdr(wsx_driver *d, const char *name, size_t *len) {
  return wsx_header_find(d->hs->req.headers, d->hs->req.num_headers, name, len);
}

/* Collects the client's subprotocol offers and picks one. */
static int select_protocol(wsx_driver *d) {
  const char *offers[32];
  char *copies[32];
  size_t n = 0;
  for (size_t i = 0; i < d->hs->req.num_headers; i++) {
    const wsx_header *h = &d->hs->req.headers[i];
    if (!wsx__ieq(h->name, h->name_len, "sec-websocket-protocol"))
      continue;
    size_t j = 0;
    while (j < h->value_len && n < 32) {
      while (j < h->value_len &&
             (h->value[j] == ',' || h->value[j] == ' ' || h->value[j] == '\t'))
        j++;
      size_t s = j;
      while (j < h->value_len && h->value[j] != ',' && h->value[j] != ' ' &&
             h->value[j] != '\t')
        j++;
      if (j > s) {
        copies[n] = wsx__strndup(d->alloc, h->value + s, j - s);
        if (!copies[n])
          goto oom;
        offers[n] = copies[n];
        n++;
      }
    }
  }
  const char *chosen = NULL;
  if (d->cb->select_protocol && n) {
    chosen = d->cb->select_protocol(d, offers, n, d->ud);
  } else if (d->hs->protocols) {
    char **supported = d->hs->protocols;
    for (size_t i = 0; i < n && !chosen; i++)
      for (size_t k = 0; supported[k]; k++)
        if (strcmp(offers[i], supported[k]) == 0) {
          chosen = offers[i];
          break;
        }
  }
  if (chosen && *chosen) {
    d->protocol = wsx__strndup(d->alloc, chosen, strlen(chosen));
    if (!d->protocol)
      goto oom;
  }
  for (size_t i = 0; i < n; i++)
    wsx__free(d->alloc, copies[i]);
  return WSX_OK;
oom:
  for (size_t i = 0; i < n; i++)
    wsx__free(d->alloc, copies[i]);
  return WSX_E_NOMEM;
}

static int make_server_url(wsx_driver *d) {
  size_t hl = 0;
  const char *host = hdr(d, "host", &hl);
  const char *scheme = d->secure ? "wss://" : "ws://";
  size_t sl = strlen(scheme), tl = d->hs->req.target_len;
  char *url;
  if (!host)
    hl = 0;
  /* Kept for the connection's life: one block at its exact size. */
  url = wsx__malloc(d->alloc, sl + hl + tl + 1);
  if (!url)
    return WSX_E_NOMEM;
  memcpy(url, scheme, sl);
  if (hl)
    memcpy(url + sl, host, hl);
  if (tl)
    memcpy(url + sl + hl, d->hs->req.target, tl);
  url[sl + hl + tl] = '\0';
  wsx__free(d->alloc, d->url);
  d->url = url;
  return WSX_OK;
}

int wsx__server_start(wsx_driver *d) {
  int draft = wsx__hixie_detect(&d->hs->req);
  if (draft) {
    if (!d->allow_drafts)
      return refuse(d, 400, NULL,
                    "draft protocol (hixie) requests are not accepted");
    d->version = (uint8_t)draft;
    int rc = wsx__hixie_start(d);
    if (rc)
      return rc;
    return drain_body(d);
  }
  size_t len;
  const char *v;
  /* RFC 6455 4.2.1: GET, HTTP/1.1 or higher, Host, Upgrade: websocket,
   * Connection: Upgrade, Sec-WebSocket-Key (16 bytes), version 13. */
  if (d->hs->req.method_len != 3 || memcmp(d->hs->req.method, "GET", 3) != 0)
    return refuse(d, 400, NULL, "method must be GET");
  if (d->hs->req.minor_version < 1)
    return refuse(d, 400, NULL, "HTTP/1.1 or later is required");
  if (!hdr(d, "host", &len))
    return refuse(d, 400, NULL, "missing Host header");
  if (!wsx_header_has_token(d->hs->req.headers, d->hs->req.num_headers,
                            "upgrade", "websocket"))
    return refuse(d, 400, NULL, "Upgrade header must contain 'websocket'");
  if (!wsx_header_has_token(d->hs->req.headers, d->hs->req.num_headers,
                            "connection", "upgrade"))
    return refuse(d, 400, NULL, "Connection header must contain 'Upgrade'");
  v = hdr(d, "sec-websocket-version", &len);
  if (!v)
    return refuse(d, 400, NULL, "missing Sec-WebSocket-Version header");
  if (!(len == 2 && (memcmp(v, "13", 2) == 0)) &&
      !(len == 1 && (v[0] == '8' || v[0] == '7')))
    return refuse(d, 426, "Sec-WebSocket-Version: 13, 8, 7\r\n",
                  "unsupported Sec-WebSocket-Version");
  const char *key = hdr(d, "sec-websocket-key", &len);
  uint8_t raw[18];
  if (!key)
    return refuse(d, 400, NULL, "missing Sec-WebSocket-Key header");
  if (len != 24 || wsx__base64_decode(key, len, raw, sizeof raw) != 16)
    return refuse(d, 400, NULL, "Sec-WebSocket-Key must be 16 bytes in base64");
  if (select_protocol(d))
    return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  const char *ext = hdr(d, "sec-websocket-extensions", &len);
  if (ext && d->hs->num_exts) {
    /* Several Sec-WebSocket-Extensions headers form one list (RFC 7230
     * 3.2.2): join them. */
    wsx__buf all = {0};
    for (size_t i = 0; i < d->hs->req.num_headers; i++) {
      const wsx_header *h = &d->hs->req.headers[i];
      if (!wsx__ieq(h->name, h->name_len, "sec-websocket-extensions"))
        continue;
      if ((all.len && putn(&all, d->alloc, ", ", 2)) ||
          putn(&all, d->alloc, h->value, h->value_len)) {
        wsx__buf_free(&all, d->alloc);
        return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
      }
    }
    int rc = wsx__ext_server_negotiate(d, (const char *)all.data, all.len);
    wsx__buf_free(&all, d->alloc);
    if (rc == WSX_E_NOMEM)
      return wsx__fail(d, rc, 0, "out of memory");
    if (rc) {
      char why[200];
      snprintf(why, sizeof why, "invalid Sec-WebSocket-Extensions: %.150s",
               wsx__errmsg(d));
      return refuse(d, 400, NULL, why);
    }
  }
  char accept[29];
  wsx_accept_key(key, 24, accept);
  wsx__buf b = {0};
  const wsx_allocator *a = d->alloc;
  int bad = put(&b, a,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: ") ||
            put(&b, a, accept) || put(&b, a, "\r\n");
  if (!bad && d->protocol)
    bad = put(&b, a, "Sec-WebSocket-Protocol: ") || put(&b, a, d->protocol) ||
          put(&b, a, "\r\n");
  if (!bad && d->ext_value && d->ext_value[0])
    bad = put(&b, a, "Sec-WebSocket-Extensions: ") ||
          put(&b, a, d->ext_value) || put(&b, a, "\r\n");
  int rc = wsx__send_head(d, &b, bad);
  return rc ? rc : wsx__open(d);
}

/* ---- client ------------------------------------------------------------ */

wsx_driver *wsx_driver_new_client(const char *url,
                                  const wsx_driver_options *opts,
                                  const wsx_driver_callbacks *cbs,
                                  void *user_data, int *err) {
  wsx_url u;
  if (!url || wsx_url_parse(url, &u) != WSX_OK ||
      !(wsx__ieq(u.scheme, u.scheme_len, "ws") ||
        wsx__ieq(u.scheme, u.scheme_len, "wss"))) {
    if (err)
      *err = WSX_E_URL;
    return NULL;
  }
  wsx_driver_options o;
  int rc = WSX__STRUCT_IN(wsx_driver_options, &o, opts);
  if (rc == WSX_OK)
    rc = WSX__STRUCT_OK(wsx_driver_callbacks, cbs);
  if (rc != WSX_OK) {
    if (err)
      *err = rc;
    return NULL;
  }
  o.allow_drafts = 0;
  /* Reuse the server constructor's option handling. */
  wsx_driver *d = wsx_driver_new_server(&o, cbs, user_data);
  if (!d) {
    if (err)
      *err = WSX_E_NOMEM;
    return NULL;
  }
  d->role = WSX__CLIENT;
  d->state = WSX__S_HEAD;
  d->secure = (uint8_t)u.secure;
  char host[300];
  int default_port = u.port == (u.secure ? 443 : 80);
  if (u.host_len > 255)
    goto bad;
  int hn = snprintf(host, sizeof host, "%s%.*s%s", u.is_ipv6 ? "[" : "",
                    (int)u.host_len, u.host, u.is_ipv6 ? "]" : "");
  if (!default_port)
    snprintf(host + hn, sizeof host - (size_t)hn, ":%u", (unsigned)u.port);
  wsx__hs *hs = d->hs;
  d->url = wsx__strndup(d->alloc, url, strlen(url));
  hs->url_host_header = wsx__strndup(d->alloc, host, strlen(host));
  hs->url_path = wsx__strndup(d->alloc, u.path, u.path_len);
  if (!d->url || !hs->url_host_header || !hs->url_path)
    goto oom;
  if (u.userinfo) {
    /* websocket-driver sends URL credentials as Basic auth. */
    hs->url_auth = wsx__malloc(d->alloc, 4 * (u.userinfo_len / 3 + 1) + 1);
    if (!hs->url_auth)
      goto oom;
    wsx__base64_encode((const uint8_t *)u.userinfo, u.userinfo_len,
                       hs->url_auth);
  }
  return d;
bad:
  if (err)
    *err = WSX_E_URL;
  wsx_driver_free(d);
  return NULL;
oom:
  if (err)
    *err = WSX_E_NOMEM;
  wsx_driver_free(d);
  return NULL;
}

int wsx__client_start(wsx_driver *d) {
  wsx__hs *hs = d->hs;
  uint8_t raw[16];
  if (wsx__driver_random(d, raw, sizeof raw) != 0)
    return wsx__fail(d, WSX_E_INTERNAL, 0, "random source failed");
  wsx__base64_encode(raw, sizeof raw, hs->client_key);
  wsx__buf b = {0};
  const wsx_allocator *a = d->alloc;
  int bad = put(&b, a, "GET ") || put(&b, a, hs->url_path) ||
            put(&b, a, " HTTP/1.1\r\nHost: ") ||
            put(&b, a, hs->url_host_header) ||
            put(&b, a,
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: ") ||
            put(&b, a, hs->client_key) ||
            put(&b, a, "\r\nSec-WebSocket-Version: 13\r\n");
  if (!bad && hs->origin)
    bad =
        put(&b, a, "Origin: ") || put(&b, a, hs->origin) || put(&b, a, "\r\n");
  if (!bad && hs->protocols && hs->protocols[0]) {
    bad = put(&b, a, "Sec-WebSocket-Protocol: ");
    for (size_t i = 0; !bad && hs->protocols[i]; i++)
      bad = (i && put(&b, a, ", ")) || put(&b, a, hs->protocols[i]);
    bad = bad || put(&b, a, "\r\n");
  }
  if (!bad && d->hs->num_exts) {
    bad = put(&b, a, "Sec-WebSocket-Extensions: ");
    size_t before = b.len;
    bad = bad || wsx__ext_client_offer(d, &b) != WSX_OK;
    if (!bad && b.len == before)
      b.len -= strlen("Sec-WebSocket-Extensions: ");
    else
      bad = bad || put(&b, a, "\r\n");
  }
  if (!bad && hs->url_auth)
    bad = put(&b, a, "Authorization: Basic ") || put(&b, a, hs->url_auth) ||
          put(&b, a, "\r\n");
  return wsx__send_head(d, &b, bad);
}

static int client_refuse(wsx_driver *d, const char *why) {
  return wsx__fail(d, WSX_E_HANDSHAKE, WSX_CLOSE_PROTOCOL_ERROR,
                   "handshake failed: %s", why);
}

int wsx__client_head(wsx_driver *d, uint8_t *p, size_t len, size_t *used) {
  wsx_http_response res;
  int rc = gather_head(d, p, len, 0, NULL, &res);
  *used = len;
  if (rc <= 0)
    return rc;
  d->x->status_code = res.status;
  const wsx_header *h = d->x->headers;
  size_t n = d->x->num_headers, vl;
  char why[200];
  if (res.status != 101) {
    snprintf(why, sizeof why, "unexpected response code %d", res.status);
    return client_refuse(d, why);
  }
  if (!wsx_header_has_token(h, n, "upgrade", "websocket"))
    return client_refuse(d, "Upgrade header must be 'websocket'");
  if (!wsx_header_has_token(h, n, "connection", "upgrade"))
    return client_refuse(d, "Connection header must contain 'Upgrade'");
  const char *acc = wsx_header_find(h, n, "sec-websocket-accept", &vl);
  char expect[29];
  wsx_accept_key(d->hs->client_key, 24, expect);
  if (!acc || vl != 28 || memcmp(acc, expect, 28) != 0)
    return client_refuse(d, "Sec-WebSocket-Accept mismatch");
  const char *proto = wsx_header_find(h, n, "sec-websocket-protocol", &vl);
  if (proto) {
    int offered = 0;
    char **mine = d->hs->protocols;
    for (size_t i = 0; mine && mine[i]; i++)
      if (strlen(mine[i]) == vl && memcmp(mine[i], proto, vl) == 0)
        offered = 1;
    if (!offered)
      return client_refuse(d, "server selected a subprotocol that was not "
                              "offered");
    d->protocol = wsx__strndup(d->alloc, proto, vl);
    if (!d->protocol)
      return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  }
  const char *ext = wsx_header_find(h, n, "sec-websocket-extensions", &vl);
  if (ext) {
    if (!d->hs->num_exts)
      return client_refuse(d, "server accepted extensions that were not "
                              "offered");
    rc = wsx__ext_client_activate(d, ext, vl);
    if (rc == WSX_E_NOMEM)
      return wsx__fail(d, rc, 0, "out of memory");
    if (rc) {
      snprintf(why, sizeof why, "Sec-WebSocket-Extensions: %.150s",
               wsx__errmsg(d));
      return client_refuse(d, why);
    }
  }
  return wsx__open(d);
}
