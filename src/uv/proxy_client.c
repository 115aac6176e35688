/*
 * Client connections through an HTTP CONNECT proxy: the socket-level
 * `proxy` option (faye-websocket's proxy: {origin, headers, tls}) over the
 * sans-I/O handshake of wsx/proxy.h, and the optional http_proxy /
 * https_proxy / no_proxy environment (the conventions of curl and wget).
 *
 * The transport calls in through the hooks declared in uv/proxy_client.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/internal.h"
#include "uv/tls.h"

/* ---- options ---- */

static int copy_proxy_headers(wsx__proxy_cfg *pc, const wsx_allocator *a,
                              const wsx_header *h, size_t n) {
  size_t i;
  if (n == 0)
    return WSX_OK;
  if (!h)
    return WSX_E_INVALID;
  if (!(pc->headers = wsx__malloc(a, n * sizeof(*h))))
    return WSX_E_NOMEM;
  memset(pc->headers, 0, n * sizeof(*h));
  for (i = 0; i < n; i++) {
    wsx_header *d = &pc->headers[i];
    if (!wsx_http_valid_name(h[i].name, h[i].name_len) ||
        !wsx_http_valid_value(h[i].value, h[i].value_len))
      return WSX_E_HEADER_VALUE;
    d->name = wsx__strndup(a, h[i].name, h[i].name_len);
    d->value = wsx__strndup(a, h[i].value, h[i].value_len);
    pc->num_headers = i + 1;
    if (!d->name || !d->value)
      return WSX_E_NOMEM;
    d->name_len = h[i].name_len;
    d->value_len = h[i].value_len;
  }
  return WSX_OK;
}

static int check_proxy_url(const char *url) {
  wsx_url u;
  if (wsx_url_parse(url, &u) != WSX_OK ||
      !(wsx__ieq(u.scheme, u.scheme_len, "http") ||
        wsx__ieq(u.scheme, u.scheme_len, "https")))
    return WSX_E_URL;
  return WSX_OK;
}

int wsx__proxy_cfg_init(wsx__cfg *c, const wsx_socket_options *o) {
  wsx_socket_proxy pcopy = WSX_SOCKET_PROXY_INIT;
  const wsx_socket_proxy *po = &pcopy;
  wsx__proxy_cfg *pc;
  int rc;
  if (!o->proxy)
    return WSX_OK;
  if ((rc = WSX__STRUCT_IN(wsx_socket_proxy, &pcopy, o->proxy)) != WSX_OK)
    return rc;
  if (!po->origin && !po->use_env)
    return WSX_E_INVALID;
  if (po->origin && (rc = check_proxy_url(po->origin)) != WSX_OK)
    return rc;
  if (!(pc = wsx__malloc(&c->alloc, sizeof(*pc))))
    return WSX_E_NOMEM;
  memset(pc, 0, sizeof(*pc));
  c->proxy = pc;
  pc->use_env = po->use_env != 0;
  if (po->origin &&
      !(pc->origin = wsx__strndup(&c->alloc, po->origin, strlen(po->origin))))
    return WSX_E_NOMEM;
  /* Loaded now, like the socket's own tls options: the caller's strings
   * are not kept. Without options the secure default is taken at connect,
   * and only for an https:// proxy. */
  if (po->tls &&
      (rc = wsx__tls_client_ctx_new(&c->alloc, po->tls, &pc->tls)) != WSX_OK)
    return rc;
  return copy_proxy_headers(pc, &c->alloc, po->headers, po->num_headers);
}

void wsx__proxy_cfg_free(wsx__cfg *c) {
  wsx__proxy_cfg *pc = c->proxy;
  size_t i;
  if (!pc)
    return;
  for (i = 0; i < pc->num_headers; i++) {
    wsx__free(&c->alloc, (void *)pc->headers[i].name);
    wsx__free(&c->alloc, (void *)pc->headers[i].value);
  }
  wsx__free(&c->alloc, pc->headers);
  wsx__free(&c->alloc, pc->origin);
  wsx__tls_ctx_free(pc->tls);
  wsx__free(&c->alloc, pc);
  c->proxy = NULL;
}

/* ---- the environment ---- */

static int ieq_n(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z')
      x += 32;
    if (y >= 'A' && y <= 'Z')
      y += 32;
    if (x != y)
      return 0;
  }
  return 1;
}

/* An IPv4 literal (digits and dots only) or an IPv6 one (has ':'). */
static int is_address(const char *h, size_t n) {
  size_t i;
  if (memchr(h, ':', n))
    return 1;
  for (i = 0; i < n; i++)
    if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9')))
      return 0;
  return 1;
}

/* One no_proxy entry e[0..n): "*", "host", ".domain", "*.domain",
 * "host:port", "1.2.3.4", "::1", "[::1]:port". A name matches itself and
 * its subdomains (curl's rule); addresses match exactly; no CIDR. */
static int entry_matches(const char *e, size_t n, const char *host, size_t hlen,
                         uint16_t port) {
  const char *colon;
  size_t colons = 0, i;
  if (n == 1 && e[0] == '*')
    return 1;
  for (i = 0; i < n; i++)
    colons += e[i] == ':';
  if (n && e[0] == '[') {
    const char *close = memchr(e, ']', n);
    if (!close)
      return 0;
    colon = (size_t)(close + 1 - e) < n && close[1] == ':' ? close + 1 : NULL;
    if (colon && (unsigned long)port != strtoul(colon + 1, NULL, 10))
      return 0;
    return (size_t)(close - e - 1) == hlen && ieq_n(e + 1, host, hlen);
  }
  if (colons == 1) {
    colon = memchr(e, ':', n);
    if ((unsigned long)port != strtoul(colon + 1, NULL, 10))
      return 0;
    n = (size_t)(colon - e);
  }
  if (n >= 2 && e[0] == '*' && e[1] == '.') {
    e++;
    n--;
  }
  if (n && e[0] == '.') {
    e++;
    n--;
  }
  if (n == 0)
    return 0;
  if (hlen == n)
    return ieq_n(e, host, n);
  /* "0.0.1" must not exclude 127.0.0.1: only names have subdomains. */
  return hlen > n && host[hlen - n - 1] == '.' && !is_address(host, hlen) &&
         ieq_n(e, host + hlen - n, n);
}

static int no_proxy_matches(const char *list, const wsx_url *u) {
  const char *p = list;
  while (*p) {
    size_t n;
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    n = strcspn(p, ", \t");
    if (n && entry_matches(p, n, u->host, u->host_len, u->port))
      return 1;
    p += n;
  }
  return 0;
}

static const char *env(const char *lower, const char *upper) {
  const char *v = getenv(lower);
  if ((!v || !*v) && upper)
    v = getenv(upper);
  return v && *v ? v : NULL;
}

/*
 * The proxy URL the environment gives for `u` (allocated), or NULL for a
 * direct connection. Only the lower-case http_proxy counts for ws://: a CGI
 * program gets HTTP_PROXY from a request's "Proxy:" header ("httpoxy").
 */
static int env_proxy(const wsx_allocator *a, const wsx_url *u, char **out) {
  const char *v =
      u->secure ? env("https_proxy", "HTTPS_PROXY") : env("http_proxy", NULL);
  const char *np = env("no_proxy", "NO_PROXY");
  int scheme = 0;
  size_t n;
  *out = NULL;
  if (!v || (np && no_proxy_matches(np, u)))
    return WSX_OK;
  scheme = strstr(v, "://") != NULL;
  n = strlen(v);
  if (!(*out = wsx__malloc(a, n + 8)))
    return WSX_E_NOMEM;
  snprintf(*out, n + 8, "%s%s", scheme ? "" : "http://", v);
  return WSX_OK;
}

/* ---- a proxy for the EventSource client ---- */

int wsx__proxy_target_init(wsx__proxy_target *t, const wsx_allocator *a,
                           const wsx_socket_proxy *po, const wsx_url *origin) {
  wsx_socket_proxy pc = WSX_SOCKET_PROXY_INIT;
  wsx__proxy_cfg hc;
  wsx_proxy *probe = NULL;
  int rc;
  if (!po)
    return WSX_OK;
  if ((rc = WSX__STRUCT_IN(wsx_socket_proxy, &pc, po)) != WSX_OK)
    return rc;
  if (!pc.origin && !pc.use_env)
    return WSX_E_INVALID;
  memset(&hc, 0, sizeof(hc));
  if (pc.origin)
    rc = (t->url = wsx__strndup(a, pc.origin, strlen(pc.origin)))
             ? WSX_OK
             : WSX_E_NOMEM;
  else
    rc = env_proxy(a, origin, &t->url);
  if (rc == WSX_OK && t->url)
    rc = check_proxy_url(t->url);
  /* A throwaway handshake object parses and checks the URL once. */
  if (rc == WSX_OK && t->url)
    probe = wsx_proxy_new(t->url, "localhost", 80, NULL, NULL, NULL, &rc);
  if (probe && wsx_proxy_secure(probe))
    rc = WSX_E_UNSUPPORTED;
  if (probe && rc == WSX_OK) {
    const char *h = wsx_proxy_host(probe);
    t->port = wsx_proxy_port(probe);
    if (!(t->host = wsx__strndup(a, h, strlen(h))))
      rc = WSX_E_NOMEM;
  }
  wsx_proxy_free(probe);
  if (rc == WSX_OK)
    rc = copy_proxy_headers(&hc, a, pc.headers, pc.num_headers);
  t->headers = hc.headers;
  t->num_headers = hc.num_headers;
  if (rc != WSX_OK)
    wsx__proxy_target_free(t, a);
  return rc;
}

void wsx__proxy_target_free(wsx__proxy_target *t, const wsx_allocator *a) {
  size_t i;
  for (i = 0; i < t->num_headers; i++) {
    wsx__free(a, (char *)(uintptr_t)t->headers[i].name);
    wsx__free(a, (char *)(uintptr_t)t->headers[i].value);
  }
  wsx__free(a, t->headers);
  wsx__free(a, t->url);
  wsx__free(a, t->host);
  memset(t, 0, sizeof(*t));
}

wsx_proxy *wsx__proxy_target_connect(const wsx__proxy_target *t,
                                     const wsx_allocator *a, const char *host,
                                     unsigned port,
                                     const wsx_proxy_callbacks *cbs, void *ud,
                                     int *err) {
  wsx_proxy_options po = WSX_PROXY_OPTIONS_INIT;
  wsx_proxy *p;
  size_t i;
  po.allocator = a;
  p = wsx_proxy_new(t->url, host, (uint16_t)port, &po, cbs, ud, err);
  for (i = 0; p && i < t->num_headers; i++) {
    if ((*err = wsx_proxy_set_header(p, t->headers[i].name,
                                     t->headers[i].value)) != WSX_OK) {
      wsx_proxy_free(p);
      p = NULL;
    }
  }
  return p;
}

/* ---- the handshake on the socket ---- */

/* An https:// proxy: the context its certificate is verified with. */
static int proxy_tls_ctx(wsx_socket *s) {
  wsx__proxy_cfg *pc = s->cfg->proxy;
  if (!wsx_proxy_secure(s->proxy) || pc->tls)
    return WSX_OK;
  return wsx__tls_client_ctx_new(&s->cfg->alloc, NULL, &pc->tls);
}

static int proxy_write(wsx_proxy *p, const wsx_iovec *iov, size_t n, void *ud) {
  wsx_socket *s = ud;
  uv_buf_t b[8];
  unsigned k = 0;
  size_t i;
  (void)p;
  /* The CONNECT request: a few parts, each far below UINT_MAX bytes. */
  for (i = 0; i < n; i++)
    if (wsx__uv_bufs(b, 8, &k, iov[i].base, iov[i].len) < iov[i].len)
      return WSX_E_INVALID;
  return wsx__sock_write(s, b, k);
}

static const wsx_proxy_callbacks proxy_cbs = {sizeof(wsx_proxy_callbacks), proxy_write, NULL, NULL};

int wsx__proxy_prepare(wsx_socket *s, const wsx_url *origin, wsx_url *dial) {
  const wsx__proxy_cfg *pc = s->cfg->proxy;
  wsx_proxy_options po = WSX_PROXY_OPTIONS_INIT;
  char *from_env = NULL;
  const char *url;
  size_t i;
  int rc = WSX_OK;
  if (!pc)
    return WSX_OK;
  url = pc->origin;
  if (!url) {
    if ((rc = env_proxy(&s->cfg->alloc, origin, &from_env)) != WSX_OK)
      return rc;
    if (!from_env)
      return WSX_OK;
    url = from_env;
    rc = check_proxy_url(url);
  }
  po = (wsx_proxy_options)WSX_PROXY_OPTIONS_INIT;
  po.max_head_size = s->cfg->dopts.max_head_size;
  po.max_headers = s->cfg->dopts.max_headers;
  po.allocator = &s->cfg->alloc;
  if (rc == WSX_OK)
    s->proxy = wsx_driver_proxy(s->d, url, &po, &proxy_cbs, s, &rc);
  wsx__free(&s->cfg->alloc, from_env);
  for (i = 0; s->proxy && rc == WSX_OK && i < pc->num_headers; i++)
    rc = wsx_proxy_set_header(s->proxy, pc->headers[i].name,
                              pc->headers[i].value);
  if (s->proxy && rc == WSX_OK)
    rc = proxy_tls_ctx(s);
  if (rc != WSX_OK) {
    wsx_proxy_free(s->proxy);
    s->proxy = NULL;
    return rc;
  }
  dial->host = wsx_proxy_host(s->proxy);
  dial->host_len = strlen(dial->host);
  dial->port = wsx_proxy_port(s->proxy);
  return WSX_OK;
}

static void fail(wsx_socket *s, int code, int uv_code, const char *msg) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  s->flags |= WSX__F_EOF;
  wsx__sock_connect_failed(s, code, uv_code, msg);
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

/* The tunnel is up: hand the stream (and any early bytes) to the
 * WebSocket handshake; the proxy object is no longer needed. */
static void tunnel_up(wsx_socket *s) {
  size_t n;
  const uint8_t *body = wsx_proxy_body(s->proxy, &n);
  char *early = NULL;
  if (n && !(early = wsx__malloc(&s->cfg->alloc, n))) {
    fail(s, WSX_E_NOMEM, 0, "out of memory entering the proxy tunnel");
    return;
  }
  if (n)
    memcpy(early, body, n);
  wsx_proxy_free(s->proxy);
  s->proxy = NULL;
  wsx__client_stream_ready(s, early, n);
  wsx__free(&s->cfg->alloc, early);
}

/* Acts on the handshake's state after a parse / eof call. The failed
 * proxy object stays with the socket so that wsx_socket_status_code() and
 * wsx_socket_headers() show the proxy's answer (407 Proxy-Authenticate)
 * during connect_failed. */
static void settle(wsx_socket *s, int rc) {
  const char *msg = NULL;
  int code;
  switch (wsx_proxy_state(s->proxy)) {
  case WSX_PROXY_CONNECTED:
    tunnel_up(s);
    break;
  case WSX_PROXY_FAILED:
    code = wsx_proxy_last_error(s->proxy, &msg);
    fail(s, code, 0, msg);
    break;
  default:
    if (rc < 0)
      fail(s, rc, 0, "could not read the proxy's response");
    break;
  }
}

void wsx__proxy_begin(wsx_socket *s) {
  int rc;
  s->phase = WSX__P_PROXY;
  /* https:// proxy: TLS to the proxy first; the CONNECT below is held by
   * the session until its handshake completed. */
  if (wsx_proxy_secure(s->proxy) &&
      (rc = wsx__tls_tunnel_start(s, s->cfg->proxy->tls,
                                  wsx_proxy_host(s->proxy),
                                  wsx_proxy_port(s->proxy))) != WSX_OK) {
    fail(s, rc, 0, "could not start TLS to the proxy");
    return;
  }
  wsx__sock_start_read(s);
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  rc = wsx_proxy_start(s->proxy);
  if (rc < 0)
    fail(s, rc == WSX_E_IO ? WSX_E_IO : rc, 0,
         "could not send the CONNECT request to the proxy");
}

void wsx__proxy_on_data(wsx_socket *s, char *data, size_t len) {
  settle(s, wsx_proxy_parse(s->proxy, (const uint8_t *)data, len));
}

void wsx__proxy_on_eof(wsx_socket *s, ssize_t err) {
  char msg[320];
  if (err == UV_EOF) {
    settle(s, wsx_proxy_eof(s->proxy));
    return;
  }
  snprintf(msg, sizeof(msg), "reading from proxy %s:%u failed: %s",
           wsx_proxy_host(s->proxy), (unsigned)wsx_proxy_port(s->proxy),
           uv_strerror((int)err));
  fail(s, WSX_E_IO, (int)err, msg);
}

const wsx__phase_ops wsx__proxy_phase = {wsx__proxy_on_data, wsx__proxy_on_eof,
                                         wsx__client_on_timeout, NULL, NULL};
