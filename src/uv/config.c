/* Deep copies of wsx_socket_options, resolved to their defaults. */
#include <string.h>

#include "uv/internal.h"
#include "uv/tls.h"

static char **copy_strv(const wsx_allocator *a, const char *const *v) {
  size_t n = 0, i;
  char **out;
  if (!v)
    return NULL;
  while (v[n])
    n++;
  out = wsx__malloc(a, (n + 1) * sizeof(*out));
  if (!out)
    return NULL;
  for (i = 0; i < n; i++) {
    out[i] = wsx__strndup(a, v[i], strlen(v[i]));
    if (!out[i]) {
      while (i--)
        wsx__free(a, out[i]);
      wsx__free(a, out);
      return NULL;
    }
  }
  out[n] = NULL;
  return out;
}

static void free_strv(const wsx_allocator *a, char **v) {
  size_t i;
  if (!v)
    return;
  for (i = 0; v[i]; i++)
    wsx__free(a, v[i]);
  wsx__free(a, v);
}

static int copy_headers(wsx__cfg *c, const wsx_header *h, size_t n) {
  size_t i;
  if (n == 0)
    return WSX_OK;
  if (!h)
    return WSX_E_INVALID;
  c->headers = wsx__malloc(&c->alloc, n * sizeof(*h));
  if (!c->headers)
    return WSX_E_NOMEM;
  memset(c->headers, 0, n * sizeof(*h));
  for (i = 0; i < n; i++) {
    char *nm, *v;
    if (!wsx_http_valid_name(h[i].name, h[i].name_len) ||
        !wsx_http_valid_value(h[i].value, h[i].value_len))
      return WSX_E_HEADER_VALUE;
    nm = wsx__strndup(&c->alloc, h[i].name, h[i].name_len);
    v = wsx__strndup(&c->alloc, h[i].value, h[i].value_len);
    c->headers[i].name = nm;
    c->headers[i].value = v;
    c->num_headers = i + 1;
    if (!nm || !v)
      return WSX_E_NOMEM;
    c->headers[i].name_len = h[i].name_len;
    c->headers[i].value_len = h[i].value_len;
  }
  return WSX_OK;
}

int wsx__cfg_init(wsx__cfg *c, const wsx_socket_options *opts) {
  wsx_socket_options oc;
  const wsx_socket_options *o = &oc;
  wsx_driver_options d;
  int rc;
  memset(c, 0, sizeof(*c));
  /* This library's layouts: an older caller's missing members are zero. */
  if ((rc = WSX__STRUCT_IN(wsx_socket_options, &oc, opts)) != WSX_OK ||
      (rc = WSX__STRUCT_IN(wsx_driver_options, &d, oc.driver)) != WSX_OK)
    return rc;
  wsx__alloc_init(&c->alloc, d.allocator);
  /* `tls` is resolved by the caller (client: wss URLs only; server: its
   * own options), into c->tls. */
  if ((rc = wsx__proxy_cfg_init(c, o)) != WSX_OK)
    return rc;
  c->dopts = d;
  c->dopts.allocator = &c->alloc;
  c->dopts.protocols = NULL;
  c->dopts.origin = NULL;
  if (d.protocols) {
    c->protocols = copy_strv(&c->alloc, d.protocols);
    if (!c->protocols)
      return WSX_E_NOMEM;
    c->dopts.protocols = (const char *const *)c->protocols;
  }
  if (d.origin) {
    c->origin = wsx__strndup(&c->alloc, d.origin, strlen(d.origin));
    if (!c->origin)
      return WSX_E_NOMEM;
    c->dopts.origin = c->origin;
  }
  if (o->extensions) {
    size_t n = 0;
    while (o->extensions[n])
      n++;
    c->exts = wsx__malloc(&c->alloc, (n + 1) * sizeof(*c->exts));
    if (!c->exts)
      return WSX_E_NOMEM;
    memcpy(c->exts, o->extensions, (n + 1) * sizeof(*c->exts));
  }
  rc = copy_headers(c, o->headers, o->num_headers);
  if (rc != WSX_OK)
    return rc;
  c->close_timeout =
      o->close_timeout ? o->close_timeout : WSX_DEFAULT_CLOSE_TIMEOUT_MS;
  c->connect_timeout =
      o->connect_timeout ? o->connect_timeout : WSX_DEFAULT_CONNECT_TIMEOUT_MS;
  if (o->keepalive_interval && o->keepalive)
    c->ping_interval = o->keepalive_interval;
  else if (o->ping_interval)
    c->ping_interval = o->ping_interval;
  else if (o->keepalive)
    c->ping_interval = WSX_DEFAULT_KEEPALIVE_INTERVAL_MS;
  if (o->keepalive)
    c->ka_grace = o->keepalive_grace_period ? o->keepalive_grace_period
                                            : WSX_DEFAULT_KEEPALIVE_GRACE_MS;
  c->hwm =
      o->high_water_mark ? o->high_water_mark : WSX_DEFAULT_HIGH_WATER_MARK;
  c->max_buffered =
      o->max_buffered ? o->max_buffered : WSX_DEFAULT_MAX_BUFFERED;
  c->send_timeout = o->send_timeout;
  c->budget = o->message_budget ? o->message_budget : WSX_DEFAULT_MESSAGE_BUDGET;
  if (c->budget != SIZE_MAX) {
    unsigned pct = o->message_budget_share
                       ? (o->message_budget_share > 100 ? 100
                                                        : o->message_budget_share)
                       : WSX_DEFAULT_MESSAGE_BUDGET_SHARE;
    c->budget_share = c->budget / 100 * pct + c->budget % 100 * pct / 100;
    c->budget_wait = o->message_budget_wait ? o->message_budget_wait
                                            : WSX_DEFAULT_MESSAGE_BUDGET_WAIT;
  }
  c->ext_size = o->ext_size;
  c->nagle = o->nagle;
  return WSX_OK;
}

void wsx__cfg_free(wsx__cfg *c) {
  size_t i;
  free_strv(&c->alloc, c->protocols);
  wsx__free(&c->alloc, c->origin);
  wsx__free(&c->alloc, c->exts);
  for (i = 0; i < c->num_headers; i++) {
    wsx__free(&c->alloc, (void *)c->headers[i].name);
    wsx__free(&c->alloc, (void *)c->headers[i].value);
  }
  wsx__free(&c->alloc, c->headers);
  wsx__free(&c->alloc, c->budget_big);
  wsx__free(&c->alloc, c->budget_scratch);
  wsx__proxy_cfg_free(c);
  wsx__tls_ctx_free(c->tls);
  memset(c, 0, sizeof(*c));
}
