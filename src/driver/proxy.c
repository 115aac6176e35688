/*
 * proxy.c: the HTTP CONNECT handshake (see wsx/proxy.h).
 *
 * RFC 9110 9.3.6: "CONNECT host:port HTTP/1.1" with the authority form as
 * target; any 2xx turns the connection into a tunnel, and the bytes after
 * the response head are tunnel data. Basic credentials (RFC 7617) come
 * from the proxy URL's userinfo, percent-decoded as RFC 3986 requires.
 */
#include "wsx/proxy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver/driver_int.h"

struct wsx_proxy {
  wsx_allocator alloc;
  wsx_proxy_callbacks cb;
  void *ud;
  char *host;     /* proxy host, brackets stripped */
  char *target;   /* "host:port" of the origin, as sent */
  char *auth;     /* base64("user:password"), or NULL without userinfo */
  wsx__buf extra; /* "Name: value\r\n" lines from set_header */
  wsx__buf in;    /* response bytes; [0, head_len) is the head once known */
  wsx_http_state hst;
  wsx_header *headers; /* max_headers slots; spans point into `in` */
  size_t num_headers;  /* valid once head_len > 0 */
  size_t head_len;     /* 0 until the head is complete */
  char *errmsg;        /* detail of `err`, NULL if none */
  int err;             /* sticky failure, WSX_OK if none */
  int status;          /* response status, 0 before the head is complete */
  uint32_t max_head, max_headers;
  uint16_t port;  /* proxy port */
  uint8_t secure; /* https:// proxy */
  uint8_t state;  /* enum wsx_proxy_state */
};

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (room for n bytes); returns the length.
 * The URL parser already checked that every '%' has two hex digits. */
static size_t pct_decode(const char *s, size_t n, uint8_t *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
        hexval((unsigned char)s[i + 2]) >= 0) {
      out[o++] = (uint8_t)(hexval((unsigned char)s[i + 1]) * 16 +
                           hexval((unsigned char)s[i + 2]));
      i += 2;
    } else {
      out[o++] = (uint8_t)s[i];
    }
  }
  return o;
}

/* base64 of the decoded "user:password" (a missing password is empty). */
static int make_auth(wsx_proxy *p, const char *ui, size_t n) {
  const char *colon = memchr(ui, ':', n);
  size_t ulen = colon ? (size_t)(colon - ui) : n;
  uint8_t *plain = wsx__malloc(&p->alloc, n + 1);
  size_t len;
  if (!plain)
    return WSX_E_NOMEM;
  len = pct_decode(ui, ulen, plain);
  /* RFC 7617 2.: a user-id containing ':' cannot be told apart. */
  if (memchr(plain, ':', len)) {
    wsx__free(&p->alloc, plain);
    return WSX_E_URL;
  }
  plain[len++] = ':';
  if (colon)
    len += pct_decode(colon + 1, n - ulen - 1, plain + len);
  p->auth = wsx__malloc(&p->alloc, 4 * ((len + 2) / 3) + 1);
  if (p->auth)
    (void)wsx__base64_encode(plain, len, p->auth);
  memset(plain, 0, len); /* do not leave the password in freed memory */
  wsx__free(&p->alloc, plain);
  return p->auth ? WSX_OK : WSX_E_NOMEM;
}

/* Characters that may appear in the authority of a request line: RFC 3986
 * reg-name / IPv4 (unreserved, sub-delims, pct-encoded). */
static int host_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != 0 && strchr("-._~!$&'()*+,;=%", c) != NULL);
}

static int ipv6_char(int c) { return hexval(c) >= 0 || c == ':' || c == '.'; }

/* Builds "host:port" (brackets added around IPv6 literals). */
static int make_target(wsx_proxy *p, const char *host, size_t n, int ipv6,
                       uint16_t port) {
  size_t i, cap;
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    host++;
    n -= 2;
    ipv6 = 1;
  }
  if (n == 0 || port == 0 || n > 255)
    return WSX_E_INVALID;
  if (!ipv6 && memchr(host, ':', n))
    ipv6 = 1;
  for (i = 0; i < n; i++)
    if (!(ipv6 ? ipv6_char((unsigned char)host[i])
               : host_char((unsigned char)host[i])))
      return WSX_E_INVALID;
  cap = n + 3 + 6 + 1;
  if (!(p->target = wsx__malloc(&p->alloc, cap)))
    return WSX_E_NOMEM;
  snprintf(p->target, cap, ipv6 ? "[%.*s]:%u" : "%.*s:%u", (int)n, host,
           (unsigned)port);
  return WSX_OK;
}

static int init(wsx_proxy *p, const char *proxy_url) {
  wsx_url u;
  if (wsx_url_parse(proxy_url, &u) != WSX_OK ||
      !(wsx__ieq(u.scheme, u.scheme_len, "http") ||
        wsx__ieq(u.scheme, u.scheme_len, "https")))
    return WSX_E_URL;
  p->port = u.port;
  p->secure = (uint8_t)(u.secure != 0);
  if (!(p->host = wsx__strndup(&p->alloc, u.host, u.host_len)))
    return WSX_E_NOMEM;
  return u.userinfo ? make_auth(p, u.userinfo, u.userinfo_len) : WSX_OK;
}

static wsx_proxy *create(const char *proxy_url, const char *host, size_t hlen,
                         int ipv6, uint16_t port, const wsx_proxy_options *opts,
                         const wsx_allocator *fallback,
                         const wsx_proxy_callbacks *cbs_in, void *ud,
                         int *err) {
  wsx_allocator a;
  wsx_proxy *p;
  wsx_proxy_options oc;
  wsx_proxy_callbacks cbc;
  int rc = WSX__STRUCT_IN(wsx_proxy_options, &oc, opts);
  if (rc == WSX_OK)
    rc = WSX__STRUCT_IN(wsx_proxy_callbacks, &cbc, cbs_in);
  if (rc != WSX_OK) {
    if (err)
      *err = rc;
    return NULL;
  }
  opts = &oc;
  wsx__alloc_init(&a, opts->allocator ? opts->allocator : fallback);
  if (!(p = wsx__malloc(&a, sizeof(*p)))) {
    if (err)
      *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(p, 0, sizeof(*p));
  p->alloc = a;
  p->cb = cbc;
  p->ud = ud;
  p->max_head = opts->max_head_size ? opts->max_head_size
                                            : WSX_HTTP_DEFAULT_MAX_HEAD;
  p->max_headers = opts->max_headers ? opts->max_headers
                                             : WSX_HTTP_DEFAULT_MAX_HEADERS;
  rc = make_target(p, host, hlen, ipv6, port);
  if (rc == WSX_OK)
    rc = init(p, proxy_url);
  if (rc != WSX_OK) {
    wsx_proxy_free(p);
    p = NULL;
  }
  if (err)
    *err = rc;
  return p;
}

wsx_proxy *wsx_proxy_new(const char *proxy_url, const char *origin_host,
                         uint16_t origin_port, const wsx_proxy_options *opts,
                         const wsx_proxy_callbacks *cbs, void *user_data,
                         int *err) {
  if (!proxy_url || !origin_host) {
    if (err)
      *err = WSX_E_INVALID;
    return NULL;
  }
  return create(proxy_url, origin_host, strlen(origin_host), 0, origin_port,
                opts, NULL, cbs, user_data, err);
}

wsx_proxy *wsx_driver_proxy(const wsx_driver *d, const char *proxy_url,
                            const wsx_proxy_options *opts,
                            const wsx_proxy_callbacks *cbs, void *user_data,
                            int *err) {
  wsx_url u;
  if (!d || !proxy_url || d->role != WSX__CLIENT ||
      wsx_url_parse(wsx_driver_url(d), &u) != WSX_OK) {
    if (err)
      *err = WSX_E_INVALID;
    return NULL;
  }
  return create(proxy_url, u.host, u.host_len, u.is_ipv6, u.port, opts,
                d->alloc, cbs, user_data, err);
}

void wsx_proxy_free(wsx_proxy *p) {
  wsx_allocator a;
  if (!p)
    return;
  a = p->alloc;
  if (p->auth)
    memset(p->auth, 0, strlen(p->auth));
  wsx__free(&a, p->auth);
  wsx__free(&a, p->host);
  wsx__free(&a, p->target);
  wsx__free(&a, p->headers);
  wsx__free(&a, p->errmsg);
  wsx__buf_free(&p->extra, &a);
  wsx__buf_free(&p->in, &a);
  wsx__free(&a, p);
}

void wsx_proxy_set_user_data(wsx_proxy *p, void *user_data) {
  p->ud = user_data;
}
void *wsx_proxy_user_data(const wsx_proxy *p) { return p->ud; }

int wsx_proxy_set_header(wsx_proxy *p, const char *name, const char *value) {
  size_t nl, vl, old;
  if (!p || !name || !value)
    return WSX_E_INVALID;
  if (p->state != WSX_PROXY_NEW)
    return WSX_E_STATE;
  nl = strlen(name);
  vl = strlen(value);
  if (!wsx_http_valid_name(name, nl) || !wsx_http_valid_value(value, vl))
    return WSX_E_HEADER_VALUE;
  old = p->extra.len;
  if (wsx__buf_append(&p->extra, &p->alloc, name, nl) ||
      wsx__buf_append(&p->extra, &p->alloc, ": ", 2) ||
      wsx__buf_append(&p->extra, &p->alloc, value, vl) ||
      wsx__buf_append(&p->extra, &p->alloc, "\r\n", 2)) {
    p->extra.len = old;
    return WSX_E_NOMEM;
  }
  return WSX_OK;
}

static int put(wsx__buf *b, const wsx_allocator *a, const char *s) {
  return wsx__buf_append(b, a, s, strlen(s));
}

int wsx_proxy_start(wsx_proxy *p) {
  wsx__buf b = {0};
  wsx_iovec iov;
  int bad, rc;
  if (!p)
    return WSX_E_INVALID;
  if (p->state != WSX_PROXY_NEW || p->err)
    return WSX_E_STATE;
  if (!p->cb.write)
    return WSX_E_INVALID;
  bad = put(&b, &p->alloc, "CONNECT ") || put(&b, &p->alloc, p->target) ||
        put(&b, &p->alloc, " HTTP/1.1\r\nHost: ") ||
        put(&b, &p->alloc, p->target) || put(&b, &p->alloc, "\r\n");
  if (!bad && p->auth)
    bad = put(&b, &p->alloc, "Proxy-Authorization: Basic ") ||
          put(&b, &p->alloc, p->auth) || put(&b, &p->alloc, "\r\n");
  if (!bad && p->extra.len)
    bad = wsx__buf_append(&b, &p->alloc, p->extra.data, p->extra.len);
  if (!bad)
    bad = put(&b, &p->alloc, "\r\n");
  if (bad) {
    if (b.data)
      memset(b.data, 0, b.len);
    wsx__buf_free(&b, &p->alloc);
    return WSX_E_NOMEM;
  }
  p->state = WSX_PROXY_SENT;
  iov.base = b.data;
  iov.len = b.len;
  rc = p->cb.write(p, &iov, 1, p->ud);
  memset(b.data, 0, b.len); /* it carried the credentials */
  wsx__buf_free(&b, &p->alloc);
  if (rc < 0) {
    p->state = WSX_PROXY_FAILED;
    p->err = WSX_E_IO;
    return WSX_E_IO;
  }
  return WSX_OK;
}

/* Records the failure and fires `error` (once). Returns `code`. */
static int fail(wsx_proxy *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(wsx_proxy *p, int code, const char *fmt, ...) {
  char msg[320];
  wsx_error_event e;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  p->err = code;
  p->state = WSX_PROXY_FAILED;
  p->errmsg = wsx__strndup(&p->alloc, msg, strlen(msg));
  if (p->cb.error) {
    e.code = code;
    e.message = msg;
    e.close_code = 0;
    p->cb.error(p, &e, p->ud);
  }
  return code;
}

/* The head is complete: decide. */
static int on_head(wsx_proxy *p, const wsx_http_response *res) {
  size_t i, rl = res->reason_len < 128 ? res->reason_len : 128;
  char reason[129];
  p->status = res->status;
  p->num_headers = res->num_headers;
  if (res->status >= 200 && res->status <= 299) {
    p->state = WSX_PROXY_CONNECTED;
    if (p->cb.connect)
      p->cb.connect(p, p->ud);
    return WSX_OK;
  }
  /* obs-text in a reason would make the message invalid UTF-8. */
  for (i = 0; i < rl; i++)
    reason[i] = (unsigned char)res->reason[i] < 0x80 ? res->reason[i] : '?';
  reason[rl] = '\0';
  return fail(p, WSX_E_PROXY, "proxy refused CONNECT to %s: %d%s%s", p->target,
              res->status, rl ? " " : "", reason);
}

int wsx_proxy_parse(wsx_proxy *p, const uint8_t *data, size_t len) {
  wsx_http_response res;
  const char *detail = NULL;
  int rc;
  if (!p || (len && !data))
    return WSX_E_INVALID;
  if (p->err)
    return p->err;
  if (p->state != WSX_PROXY_SENT)
    return WSX_E_STATE;
  if (len == 0)
    return WSX_OK;
  if (!p->headers && !(p->headers = wsx__malloc(
                           &p->alloc, p->max_headers * sizeof(*p->headers))))
    return WSX_E_NOMEM;
  /* The whole chunk is kept: what follows the head is tunnel data. The
   * buffer stays bounded: the parser refuses a head past max_head, so it
   * never holds more than max_head plus one chunk. */
  if (wsx__buf_append(&p->in, &p->alloc, data, len))
    return WSX_E_NOMEM;
  rc = wsx_http_parse_response((const char *)p->in.data, p->in.len, &res,
                               p->headers, p->max_headers, p->max_head, &p->hst,
                               &detail);
  if (rc == WSX_E_AGAIN)
    return WSX_OK;
  if (rc == WSX_E_HEAD_TOO_BIG)
    return fail(p, rc,
                "proxy response head for CONNECT to %s exceeds %u bytes or "
                "%u headers",
                p->target, (unsigned)p->max_head, (unsigned)p->max_headers);
  if (rc < 0)
    return fail(p, rc, "malformed response from proxy %s:%u: %s", p->host,
                (unsigned)p->port, detail ? detail : "invalid HTTP");
  p->head_len = (size_t)rc;
  return on_head(p, &res);
}

int wsx_proxy_eof(wsx_proxy *p) {
  if (!p)
    return WSX_E_INVALID;
  if (p->err)
    return p->err;
  if (p->state == WSX_PROXY_CONNECTED)
    return WSX_OK;
  return fail(p, WSX_E_CLOSED,
              "proxy closed the connection before answering CONNECT to %s",
              p->target);
}

const uint8_t *wsx_proxy_body(const wsx_proxy *p, size_t *len) {
  size_t n = 0;
  if (p && p->state == WSX_PROXY_CONNECTED)
    n = p->in.len - p->head_len;
  if (len)
    *len = n;
  return n ? p->in.data + p->head_len : NULL;
}

int wsx_proxy_state(const wsx_proxy *p) { return p->state; }
int wsx_proxy_status_code(const wsx_proxy *p) { return p->status; }

const wsx_header *wsx_proxy_headers(const wsx_proxy *p, size_t *n) {
  int have = p->head_len > 0;
  if (n)
    *n = have ? p->num_headers : 0;
  return have ? p->headers : NULL;
}

const char *wsx_proxy_host(const wsx_proxy *p) { return p->host; }
uint16_t wsx_proxy_port(const wsx_proxy *p) { return p->port; }
int wsx_proxy_secure(const wsx_proxy *p) { return p->secure; }
const char *wsx_proxy_target(const wsx_proxy *p) { return p->target; }

int wsx_proxy_last_error(const wsx_proxy *p, const char **msg) {
  if (msg)
    *msg = p->errmsg ? p->errmsg : "";
  return p->err;
}
