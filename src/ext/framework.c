/*
 * framework.c: the extension framework: negotiation in the handshake, RSV
 * ownership and the per-message pipeline (RFC 6455 9., websocket-
 * extensions semantics). The driver calls it through ext/framework.h; the
 * extensions themselves (deflate.c) implement wsx_extension_type.
 */
#include "ext/ext_int.h"

#include <stdio.h>
#include <string.h>

void wsx__exts_free(wsx__exts *x, const wsx_allocator *a) {
  for (size_t i = 0; i < x->num_active; i++)
    if (x->active[i].ext->type->session_free)
      x->active[i].ext->type->session_free(x->active[i].session);
  wsx__free(a, x->active);
  x->active = NULL;
  x->num_active = 0;
}

__attribute__((format(printf, 2, 0))) static int
seterr(char *err, const char *fmt, const char *name, size_t len) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  snprintf(err, WSX__EXT_ERRLEN, fmt, (int)len, name);
#pragma GCC diagnostic pop
  return WSX_E_EXTENSION;
}

/* Adds a negotiated extension to the pipeline (RSV bits must be free). */
static int activate(wsx__exts *x, const wsx_allocator *al, wsx_extension *e,
                    void *session, char *err) {
  const wsx_extension_type *t = e->type;
  if (t->rsv_bits & x->rsv) {
    if (t->session_free)
      t->session_free(session);
    return seterr(err, "extension %.*s claims an RSV bit already in use",
                  t->name, strlen(t->name));
  }
  wsx__active_ext *a =
      wsx__realloc(al, x->active, (x->num_active + 1) * sizeof *a);
  if (!a) {
    if (t->session_free)
      t->session_free(session);
    return WSX_E_NOMEM;
  }
  x->active = a;
  a[x->num_active].ext = e;
  a[x->num_active].session = session;
  x->num_active++;
  x->rsv |= t->rsv_bits;
  if (!t->rsv_bits)
    x->always = 1;
  return WSX_OK;
}

int wsx__exts_client_offer(const wsx_allocator *a, wsx_extension *const *reg,
                           size_t n, wsx__buf *b) {
  wsx_ext_strbuf sb;
  wsx__ext_strbuf_init(&sb, a);
  int rc = WSX_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    size_t before = sb.buf.len;
    if (before && (rc = wsx_ext_strbuf_append(&sb, ", ", 2)) != 0)
      break;
    rc = reg[i]->type->client_offer(reg[i]->config, &sb);
    if (!rc && sb.buf.len == before + (before ? 2 : 0))
      sb.buf.len = before; /* the extension offered nothing */
  }
  if (!rc)
    rc = wsx__buf_append(b, a, sb.buf.data, sb.buf.len);
  wsx__ext_strbuf_free(&sb);
  return rc;
}

/* Parses a Sec-WebSocket-Extensions value; a malformed one sets the error
 * detail and gives WSX_E_EXTENSION. */
static int parse_offers(const wsx_allocator *a, const char *value, size_t len,
                        wsx_extension_offers *o, char *err) {
  const char *detail = NULL;
  int rc = wsx_extension_offers_parse(value, len, 0, a, o, &detail);
  if (rc && rc != WSX_E_NOMEM) {
    snprintf(err, WSX__EXT_ERRLEN, "%s", detail ? detail : "malformed header");
    rc = WSX_E_EXTENSION;
  }
  return rc;
}

/* The registered extension named name[0..len), or NULL. */
static wsx_extension *registered(wsx_extension *const *reg, size_t n,
                                 const char *name, size_t len) {
  for (size_t k = 0; k < n; k++)
    if (wsx__ext_span_eq(name, len, reg[k]->type->name))
      return reg[k];
  return NULL;
}

int wsx__exts_client_activate(wsx__exts *x, const wsx_allocator *a,
                              wsx_extension *const *reg, size_t n,
                              const char *value, size_t len, char *err) {
  wsx_extension_offers o;
  int rc = parse_offers(a, value, len, &o, err);
  if (rc)
    return rc;
  for (size_t i = 0; i < o.num_offers && !rc; i++) {
    const wsx_extension_offer *r = &o.offers[i];
    wsx_extension *e = registered(reg, n, r->name, r->name_len);
    if (!e) {
      rc = seterr(err, "server accepted extension %.*s that was not offered",
                  r->name, r->name_len);
      break;
    }
    for (size_t k = 0; k < x->num_active; k++)
      if (x->active[k].ext == e)
        rc = seterr(err, "server accepted extension %.*s twice", r->name,
                    r->name_len);
    if (rc)
      break;
    void *session = NULL;
    rc = e->type->client_activate(e->config, r, a, &session);
    if (rc) {
      if (rc != WSX_E_NOMEM)
        rc = seterr(err, "invalid response parameters for %.*s", r->name,
                    r->name_len);
      break;
    }
    rc = activate(x, a, e, session, err);
  }
  wsx_extension_offers_free(&o);
  return rc;
}

int wsx__exts_server_negotiate(wsx__exts *x, const wsx_allocator *a,
                               wsx_extension *const *reg, size_t n,
                               const char *value, size_t len, wsx__buf *out,
                               char *err) {
  wsx_extension_offers o;
  int rc = parse_offers(a, value, len, &o, err);
  if (rc)
    return rc;
  wsx_ext_strbuf resp;
  wsx__ext_strbuf_init(&resp, a);
  wsx_extension_offer *same = NULL;
  if (o.num_offers)
    same = wsx__malloc(a, o.num_offers * sizeof *same);
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
    wsx_extension *e = registered(reg, n, f->name, f->name_len);
    if (!e)
      continue;
    size_t ns = 0;
    for (size_t j = i; j < o.num_offers; j++)
      if (o.offers[j].name_len == f->name_len &&
          memcmp(o.offers[j].name, f->name, f->name_len) == 0)
        same[ns++] = o.offers[j];
    wsx_ext_strbuf one;
    wsx__ext_strbuf_init(&one, a);
    void *session = NULL;
    int acc = e->type->server_accept(e->config, same, ns, &one, a, &session);
    if (acc == WSX_OK) {
      rc = activate(x, a, e, session, err);
      if (rc == WSX_E_EXTENSION) {
        rc = WSX_OK; /* RSV conflict: decline this one, keep going */
      } else if (!rc) {
        if (resp.buf.len)
          rc = wsx_ext_strbuf_append(&resp, ", ", 2);
        if (!rc)
          rc = wsx_ext_strbuf_append(&resp, (const char *)one.buf.data,
                                     one.buf.len);
      }
    } else if (acc < 0) {
      rc = acc == WSX_E_NOMEM
               ? acc
               : seterr(err, "invalid offer for %.*s", f->name, f->name_len);
    }
    wsx__ext_strbuf_free(&one);
  }
  if (!rc && resp.buf.len)
    rc = wsx__buf_append(out, a, resp.buf.data, resp.buf.len);
  wsx__ext_strbuf_free(&resp);
  wsx__free(a, same);
  wsx_extension_offers_free(&o);
  return rc;
}

/* ---- per-message pipeline ---------------------------------------------- */

/* One run of the pipeline: where the message ends up and where errors go. */
typedef struct pipe {
  wsx__exts *x;
  wsx_ext_sink *msg;           /* incoming: the message */
  wsx__buf *out;               /* outgoing: the result */
  const wsx_allocator *alloc;  /* outgoing: grows `out` */
  char *err;                   /* incoming: names a stage that refused */
} pipe;

/* The sink between stage k and the next one (downstream). */
typedef struct stage_sink {
  wsx_ext_sink sink;
  pipe *pp;
  size_t next; /* incoming: stages left below; outgoing: next stage index */
  int incoming;
  int first; /* nothing written downstream yet */
  int opcode;
  unsigned *rsv;
  unsigned extra;  /* flags passed on to every downstream call */
  int down_failed; /* a later stage (or the message) returned the error */
} stage_sink;

static int push_in(pipe *pp, size_t k, int opcode, unsigned *rsv,
                   const uint8_t *p, size_t n, unsigned flags);
static int push_out(pipe *pp, size_t k, int opcode, unsigned *rsv,
                    const uint8_t *p, size_t n, unsigned flags);

static int sink_write(wsx_ext_sink *s, const void *data, size_t len) {
  stage_sink *ss = (stage_sink *)s;
  unsigned flags = (ss->first ? WSX_EXT_FIRST : 0) | ss->extra;
  ss->first = 0;
  int rc =
      ss->incoming
          ? push_in(ss->pp, ss->next, ss->opcode, ss->rsv, data, len, flags)
          : push_out(ss->pp, ss->next, ss->opcode, ss->rsv, data, len, flags);
  ss->down_failed = rc != WSX_OK;
  return rc;
}

/* Incoming: stage k-1 processes, then k-2, ... 0 (reverse negotiation
 * order); k == 0 is the message itself. */
static int push_in(pipe *pp, size_t k, int opcode, unsigned *rsv,
                   const uint8_t *p, size_t n, unsigned flags) {
  if (k == 0)
    return pp->msg->write(pp->msg, p, n);
  wsx__active_ext *a = &pp->x->active[k - 1];
  stage_sink ss = {{sink_write, NULL}, pp, k - 1, 1, 1, opcode, rsv, 0, 0};
  ss.first = (flags & WSX_EXT_FIRST) ? 1 : 0;
  int rc = a->ext->type->process_incoming(a->session, opcode, rsv, p, n, flags,
                                          &ss.sink);
  /* Name the stage that refused the data (not one that only passed a later
   * stage's error on), so the error event says which extension it was. */
  if (rc == WSX_E_EXTENSION && !ss.down_failed)
    snprintf(pp->err, WSX__EXT_ERRLEN,
             "%s could not decode the message (corrupt data)",
             a->ext->type->name);
  if (!rc && (flags & WSX_EXT_LAST))
    rc = push_in(pp, k - 1, opcode, rsv, NULL, 0,
                 WSX_EXT_LAST | (ss.first ? WSX_EXT_FIRST : 0));
  return rc;
}

int wsx__exts_incoming(wsx__exts *x, int opcode, unsigned *rsv,
                       const uint8_t *p, size_t n, unsigned flags,
                       wsx_ext_sink *msg, char *err) {
  pipe pp = {x, msg, NULL, NULL, err};
  return push_in(&pp, x->num_active, opcode, rsv, p, n, flags);
}

/* Outgoing: stage k processes and feeds k+1; k == num_active appends the
 * result to the output buffer. */
static int push_out(pipe *pp, size_t k, int opcode, unsigned *rsv,
                    const uint8_t *p, size_t n, unsigned flags) {
  if (k == pp->x->num_active)
    return wsx__buf_append(pp->out, pp->alloc, p, n);
  wsx__active_ext *a = &pp->x->active[k];
  unsigned extra = flags & WSX_EXT_UNCOMPRESSED;
  stage_sink ss = {{sink_write, NULL}, pp, k + 1, 0, 1, opcode, rsv, extra, 0};
  ss.first = (flags & WSX_EXT_FIRST) ? 1 : 0;
  int rc = a->ext->type->process_outgoing(a->session, opcode, rsv, p, n, flags,
                                          &ss.sink);
  if (!rc && (flags & WSX_EXT_LAST))
    rc = push_out(pp, k + 1, opcode, rsv, NULL, 0,
                  WSX_EXT_LAST | extra | (ss.first ? WSX_EXT_FIRST : 0));
  return rc;
}

int wsx__exts_outgoing(wsx__exts *x, const wsx_allocator *a, int opcode,
                       const uint8_t *p, size_t n, unsigned flags,
                       unsigned *rsv, wsx__buf *out) {
  pipe pp = {x, NULL, out, a, NULL};
  *rsv = 0;
  unsigned f = WSX_EXT_FIRST | WSX_EXT_LAST | (flags & WSX_EXT_UNCOMPRESSED);
  return push_out(&pp, 0, opcode, rsv, p, n, f);
}
