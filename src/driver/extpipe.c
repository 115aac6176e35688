/*
 * extpipe.c: the driver's side of the extension framework: negotiation in
 * the handshake and the per-message pipeline (RFC 6455 9., websocket-
 * extensions semantics). The extensions themselves live in src/ext/.
 */
#include "driver/driver_int.h"
#include "ext/ext_int.h"

#include <stdio.h>
#include <string.h>

void wsx__ext_free(wsx_driver *d) {
  for (size_t i = 0; i < d->num_active; i++)
    if (d->active[i].ext->type->session_free)
      d->active[i].ext->type->session_free(d->active[i].session);
  wsx__free(&d->alloc, d->active);
  d->active = NULL;
  d->num_active = 0;
}

__attribute__((format(printf, 2, 0))) static int
seterr(wsx_driver *d, const char *fmt, const char *name, size_t len) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  wsx__set_error(d, fmt, (int)len, name);
#pragma GCC diagnostic pop
  return WSX_E_EXTENSION;
}

/* Adds a negotiated extension to the pipeline (RSV bits must be free). */
static int activate(wsx_driver *d, wsx_extension *e, void *session) {
  const wsx_extension_type *t = e->type;
  if (t->rsv_bits & d->ext_rsv) {
    if (t->session_free)
      t->session_free(session);
    return seterr(d, "extension %.*s claims an RSV bit already in use", t->name,
                  strlen(t->name));
  }
  wsx__active_ext *a =
      wsx__realloc(&d->alloc, d->active, (d->num_active + 1) * sizeof *a);
  if (!a) {
    if (t->session_free)
      t->session_free(session);
    return WSX_E_NOMEM;
  }
  d->active = a;
  a[d->num_active].ext = e;
  a[d->num_active].session = session;
  d->num_active++;
  d->ext_rsv |= t->rsv_bits;
  if (!t->rsv_bits)
    d->ext_always = 1;
  return WSX_OK;
}

int wsx__ext_client_offer(wsx_driver *d, wsx__buf *b) {
  wsx_ext_strbuf sb;
  wsx__ext_strbuf_init(&sb, &d->alloc);
  int rc = WSX_OK;
  for (size_t i = 0; i < d->hs->num_exts && !rc; i++) {
    size_t before = sb.buf.len;
    if (before && (rc = wsx_ext_strbuf_append(&sb, ", ", 2)) != 0)
      break;
    rc = d->hs->exts[i]->type->client_offer(d->hs->exts[i]->config, &sb);
    if (!rc && sb.buf.len == before + (before ? 2 : 0))
      sb.buf.len = before; /* the extension offered nothing */
  }
  if (!rc)
    rc = wsx__buf_append(b, &d->alloc, sb.buf.data, sb.buf.len);
  wsx__ext_strbuf_free(&sb);
  return rc;
}

static int store_value(wsx_driver *d, const char *v, size_t len) {
  wsx__free(&d->alloc, d->ext_value);
  d->ext_value = wsx__strndup(&d->alloc, v, len);
  return d->ext_value ? WSX_OK : WSX_E_NOMEM;
}

/* Parses a Sec-WebSocket-Extensions value; a malformed one sets the error
 * detail and gives WSX_E_EXTENSION. */
static int parse_offers(wsx_driver *d, const char *value, size_t len,
                        wsx_extension_offers *o) {
  const char *detail = NULL;
  int rc = wsx_extension_offers_parse(value, len, 0, &d->alloc, o, &detail);
  if (rc && rc != WSX_E_NOMEM) {
    wsx__set_error(d, "%s", detail ? detail : "malformed header");
    rc = WSX_E_EXTENSION;
  }
  return rc;
}

/* The registered extension named name[0..len), or NULL. */
static wsx_extension *registered(const wsx_driver *d, const char *name,
                                 size_t len) {
  for (size_t k = 0; k < d->hs->num_exts; k++)
    if (wsx__ext_span_eq(name, len, d->hs->exts[k]->type->name))
      return d->hs->exts[k];
  return NULL;
}

int wsx__ext_client_activate(wsx_driver *d, const char *value, size_t len) {
  wsx_extension_offers o;
  int rc = parse_offers(d, value, len, &o);
  if (rc)
    return rc;
  for (size_t i = 0; i < o.num_offers && !rc; i++) {
    const wsx_extension_offer *r = &o.offers[i];
    wsx_extension *e = registered(d, r->name, r->name_len);
    if (!e) {
      rc = seterr(d, "server accepted extension %.*s that was not offered",
                  r->name, r->name_len);
      break;
    }
    for (size_t k = 0; k < d->num_active; k++)
      if (d->active[k].ext == e)
        rc = seterr(d, "server accepted extension %.*s twice", r->name,
                    r->name_len);
    if (rc)
      break;
    void *session = NULL;
    rc = e->type->client_activate(e->config, r, &d->alloc, &session);
    if (rc) {
      if (rc != WSX_E_NOMEM)
        rc = seterr(d, "invalid response parameters for %.*s", r->name,
                    r->name_len);
      break;
    }
    rc = activate(d, e, session);
  }
  wsx_extension_offers_free(&o);
  if (!rc)
    rc = store_value(d, value, len);
  return rc;
}

int wsx__ext_server_negotiate(wsx_driver *d, const char *value, size_t len) {
  wsx_extension_offers o;
  int rc = parse_offers(d, value, len, &o);
  if (rc)
    return rc;
  wsx_ext_strbuf resp;
  wsx__ext_strbuf_init(&resp, &d->alloc);
  wsx_extension_offer *same = NULL;
  if (o.num_offers)
    same = wsx__malloc(&d->alloc, o.num_offers * sizeof *same);
  if (o.num_offers && !same)
    rc = WSX_E_NOMEM;
  /* Walk the client's offers in its order of preference; each registered
   * extension is asked once, with all of its offers. */
  for (size_t i = 0; i < o.num_offers && !rc; i++) {
    const wsx_extension_offer *f = &o.offers[i];
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = o.offers[j].name_len == f->name_len &&
             memcmp(o.offers[j].name, f->name, f->name_len) == 0;
    if (seen)
      continue;
    wsx_extension *e = registered(d, f->name, f->name_len);
    if (!e)
      continue;
    size_t n = 0;
    for (size_t j = i; j < o.num_offers; j++)
      if (o.offers[j].name_len == f->name_len &&
          memcmp(o.offers[j].name, f->name, f->name_len) == 0)
        same[n++] = o.offers[j];
    wsx_ext_strbuf one;
    wsx__ext_strbuf_init(&one, &d->alloc);
    void *session = NULL;
    int a =
        e->type->server_accept(e->config, same, n, &one, &d->alloc, &session);
    if (a == WSX_OK) {
      rc = activate(d, e, session);
      if (rc == WSX_E_EXTENSION) {
        rc = WSX_OK; /* RSV conflict: decline this one, keep going */
      } else if (!rc) {
        if (resp.buf.len)
          rc = wsx_ext_strbuf_append(&resp, ", ", 2);
        if (!rc)
          rc = wsx_ext_strbuf_append(&resp, (const char *)one.buf.data,
                                     one.buf.len);
      }
    } else if (a < 0) {
      rc = a == WSX_E_NOMEM
               ? a
               : seterr(d, "invalid offer for %.*s", f->name, f->name_len);
    }
    wsx__ext_strbuf_free(&one);
  }
  if (!rc && resp.buf.len)
    rc = store_value(d, (const char *)resp.buf.data, resp.buf.len);
  wsx__ext_strbuf_free(&resp);
  wsx__free(&d->alloc, same);
  wsx_extension_offers_free(&o);
  return rc;
}

/* ---- per-message pipeline ---------------------------------------------- */

/* The sink between stage k and the next one (downstream). */
typedef struct stage_sink {
  wsx_ext_sink sink;
  wsx_driver *d;
  size_t next; /* incoming: stages left below; outgoing: next stage index */
  int incoming;
  int first; /* nothing written downstream yet */
  int opcode;
  unsigned *rsv;
  unsigned extra;  /* flags passed on to every downstream call */
  int down_failed; /* a later stage (or the message) returned the error */
} stage_sink;

static int push_in(wsx_driver *d, size_t k, int opcode, unsigned *rsv,
                   const uint8_t *p, size_t n, unsigned flags);
static int push_out(wsx_driver *d, size_t k, int opcode, unsigned *rsv,
                    const uint8_t *p, size_t n, unsigned flags);

static int sink_write(wsx_ext_sink *s, const void *data, size_t len) {
  stage_sink *ss = (stage_sink *)s;
  unsigned flags = (ss->first ? WSX_EXT_FIRST : 0) | ss->extra;
  ss->first = 0;
  int rc =
      ss->incoming
          ? push_in(ss->d, ss->next, ss->opcode, ss->rsv, data, len, flags)
          : push_out(ss->d, ss->next, ss->opcode, ss->rsv, data, len, flags);
  ss->down_failed = rc != WSX_OK;
  return rc;
}

/* Incoming: stage k-1 processes, then k-2, ... 0 (reverse negotiation
 * order); k == 0 is the message itself. */
static int push_in(wsx_driver *d, size_t k, int opcode, unsigned *rsv,
                   const uint8_t *p, size_t n, unsigned flags) {
  if (k == 0)
    return wsx__msg_append(d, p, n);
  wsx__active_ext *a = &d->active[k - 1];
  stage_sink ss = {{sink_write, NULL}, d, k - 1, 1, 1, opcode, rsv, 0, 0};
  ss.first = (flags & WSX_EXT_FIRST) ? 1 : 0;
  int rc = a->ext->type->process_incoming(a->session, opcode, rsv, p, n, flags,
                                          &ss.sink);
  /* Name the stage that refused the data (not one that only passed a later
   * stage's error on), so the error event says which extension it was. */
  if (rc == WSX_E_EXTENSION && !ss.down_failed)
    wsx__set_error(d, "%s could not decode the message (corrupt data)",
                   a->ext->type->name);
  if (!rc && (flags & WSX_EXT_LAST))
    rc = push_in(d, k - 1, opcode, rsv, NULL, 0,
                 WSX_EXT_LAST | (ss.first ? WSX_EXT_FIRST : 0));
  return rc;
}

int wsx__ext_incoming(wsx_driver *d, const uint8_t *p, size_t n,
                      unsigned flags) {
  unsigned rsv = d->msg_rsv;
  int rc = push_in(d, d->num_active, d->msg_op, &rsv, p, n, flags);
  d->msg_rsv = (uint8_t)rsv;
  return rc;
}

/* Outgoing: stage k processes and feeds k+1; k == num_active appends the
 * result to d->ext_out. */
static int push_out(wsx_driver *d, size_t k, int opcode, unsigned *rsv,
                    const uint8_t *p, size_t n, unsigned flags) {
  if (k == d->num_active)
    return wsx__buf_append(&d->ext_out, &d->alloc, p, n);
  wsx__active_ext *a = &d->active[k];
  unsigned extra = flags & WSX_EXT_UNCOMPRESSED;
  stage_sink ss = {{sink_write, NULL}, d, k + 1, 0, 1, opcode, rsv, extra, 0};
  ss.first = (flags & WSX_EXT_FIRST) ? 1 : 0;
  int rc = a->ext->type->process_outgoing(a->session, opcode, rsv, p, n, flags,
                                          &ss.sink);
  if (!rc && (flags & WSX_EXT_LAST))
    rc = push_out(d, k + 1, opcode, rsv, NULL, 0,
                  WSX_EXT_LAST | extra | (ss.first ? WSX_EXT_FIRST : 0));
  return rc;
}

int wsx__ext_outgoing(wsx_driver *d, int opcode, const uint8_t *p, size_t n,
                      unsigned flags, unsigned *rsv) {
  d->ext_out.len = 0;
  *rsv = 0;
  unsigned f = WSX_EXT_FIRST | WSX_EXT_LAST;
  if (flags & WSX_SEND_UNCOMPRESSED)
    f |= WSX_EXT_UNCOMPRESSED;
  return push_out(d, 0, opcode, rsv, p, n, f);
}
