/* The EventSource client: construction, the parser's events, accessors
 * (the connection itself is es_client.c). */
#include <stdio.h>
#include <string.h>

#include "common/abi.h"
#include "uv/es_client.h"
#include "uv/uvbuf.h"

/* ---- parser events ---- */

static void on_event(void *ud, const char *type, const char *data, size_t len,
                     const char *last_id) {
  wsx_eventsource_client *c = ud;
  wsx_eventsource_event e;
  if (c->closing || c->phase != P_BODY || !c->cb.message)
    return;
  e.type = type;
  e.data = data;
  e.data_len = len;
  e.last_event_id = last_id;
  c->cb.message(c, &e, c->ud);
}

static void on_retry_field(void *ud, uint32_t ms) {
  ((wsx_eventsource_client *)ud)->retry_ms = ms;
}

/* ---- construction ---- */

static int build_request(wsx_eventsource_client *c, const wsx_url *u,
                         const wsx_eventsource_client_options *o) {
  char portpart[8] = "";
  int n;
  size_t i, need;
  if (u->port != (u->secure ? 443 : 80))
    snprintf(portpart, sizeof(portpart), ":%u", (unsigned)u->port);
  need = u->path_len + u->host_len + 128;
  if (!(c->request = wsx__malloc(&c->alloc, need)))
    return WSX_E_NOMEM;
  n = snprintf(c->request, need,
               "GET %.*s HTTP/1.1\r\nHost: %s%.*s%s%s\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
               (int)u->path_len, u->path, u->is_ipv6 ? "[" : "",
               (int)u->host_len, u->host, u->is_ipv6 ? "]" : "", portpart);
  if (n < 0 || (size_t)n >= need)
    return WSX_E_INVALID;
  for (i = 0; i < o->num_headers; i++) {
    const wsx_header *h = &o->headers[i];
    if (!wsx_http_valid_name(h->name, h->name_len) ||
        !wsx_http_valid_value(h->value, h->value_len))
      return WSX_E_HEADER_VALUE;
    if (wsx__buf_append(&c->extra, &c->alloc, h->name, h->name_len) < 0 ||
        wsx__buf_append(&c->extra, &c->alloc, ": ", 2) < 0 ||
        wsx__buf_append(&c->extra, &c->alloc, h->value, h->value_len) < 0 ||
        wsx__buf_append(&c->extra, &c->alloc, "\r\n", 2) < 0)
      return WSX_E_NOMEM;
  }
  return WSX_OK;
}

wsx_eventsource_client *
wsx_eventsource_client_new(uv_loop_t *loop, const char *url,
                           const wsx_eventsource_client_options *opts,
                           const wsx_eventsource_client_callbacks *cbs,
                           void *user_data, int *err) {
  static const wsx__es_parser_cbs pcb = {on_event, on_retry_field, NULL};
  wsx_eventsource_client_options oc; /* this library's layout */
  wsx_eventsource_client_callbacks cc;
  const wsx_eventsource_client_options *o = &oc;
  wsx_eventsource_client *c;
  wsx_allocator a;
  wsx_url u;
  int e, dummy;
  if (!err)
    err = &dummy;
  if (WSX__STRUCT_IN(wsx_eventsource_client_options, &oc, opts) != WSX_OK ||
      WSX__STRUCT_IN(wsx_eventsource_client_callbacks, &cc, cbs) != WSX_OK) {
    *err = WSX_E_STRUCT_SIZE;
    return NULL;
  }
  if (!loop || !url || (o->num_headers && !o->headers) ||
      (o->last_event_id && strpbrk(o->last_event_id, "\r\n"))) {
    *err = WSX_E_INVALID;
    return NULL;
  }
  if (wsx_url_parse(url, &u) < 0 || !(u.scheme_len == 4 || u.scheme_len == 5) ||
      u.scheme[0] == 'w' || u.scheme[0] == 'W') {
    *err = WSX_E_URL;
    return NULL;
  }
  wsx__sigpipe_guard();
  wsx__alloc_init(&a, o->allocator);
  if (!(c = wsx__malloc(&a, sizeof(*c)))) {
    *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(c, 0, sizeof(*c));
  c->alloc = a;
  c->loop = loop;
  c->cb = cc;
  c->ud = user_data;
  c->retry_ms = o->retry_ms ? o->retry_ms : WSX_ES_DEFAULT_RETRY_MS;
  c->connect_timeout =
      o->connect_timeout ? o->connect_timeout : WSX_DEFAULT_CONNECT_TIMEOUT_MS;
  c->port = (unsigned)u.port;
  wsx__es_parser_init(&c->parser, &a, o->max_event_size, &pcb, c);
  c->url = wsx__strndup(&a, url, strlen(url));
  c->host = wsx__strndup(&a, u.host, u.host_len);
  e = c->url && c->host ? build_request(c, &u, o) : WSX_E_NOMEM;
  if (e == WSX_OK)
    e = wsx__proxy_target_init(&c->proxy, &a, o->proxy, &u);
  if (e == WSX_OK && u.secure) /* o->tls is ignored for http:// */
    e = wsx__tls_client_ctx_new(&a, o->tls, &c->tls_ctx);
  if (e == WSX_OK && o->last_event_id)
    e = wsx__es_parser_set_last_id(&c->parser, o->last_event_id);
  if (e == WSX_OK)
    e = uv_timer_init(loop, &c->timer);
  if (e < 0) {
    wsx__proxy_target_free(&c->proxy, &a);
    wsx__tls_ctx_free(c->tls_ctx);
    wsx__es_parser_free(&c->parser);
    wsx__buf_free(&c->extra, &a);
    wsx__free(&a, c->url);
    wsx__free(&a, c->host);
    wsx__free(&a, c->request);
    wsx__free(&a, c);
    *err = e;
    return NULL;
  }
  c->timer.data = c;
  /* The first attempt starts from the loop, so that no callback (not even
   * an immediate DNS failure) runs before the constructor returned. */
  c->phase = P_WAIT;
  uv_timer_start(&c->timer, wsx__esc_on_retry, 0, 0);
  return c;
}

int wsx_eventsource_client_ready_state(const wsx_eventsource_client *c) {
  return c->state;
}
const char *wsx_eventsource_client_url(const wsx_eventsource_client *c) {
  return c->url;
}
const char *
wsx_eventsource_client_last_event_id(const wsx_eventsource_client *c) {
  return wsx__es_parser_last_id(&c->parser);
}
uint32_t wsx_eventsource_client_retry(const wsx_eventsource_client *c) {
  return c->retry_ms;
}
void *wsx_eventsource_client_user_data(const wsx_eventsource_client *c) {
  return c->ud;
}
