/*
 * Publishing (wsx/pubsub.h): a message is framed once into a
 * reference-counted wsx__frame; every subscriber that can take the frame
 * as it is gets the same bytes, queued by reference and written with the
 * socket's other publications of the loop turn in one writev (pubflush.c).
 * permessage-deflate subscribers without context takeover share one
 * compressed frame per window size.
 */
#include <string.h>
#include <zlib.h>

#include "uv/backplane.h"
#include "uv/pubsub.h"
#include "wsx/extension.h"
#include "wsx/group.h"

/* How a socket takes a publication (wsx__psock.cls). */
enum {
  CLS_PLAIN = 0,  /* server hybi, no extension: the shared frame */
  CLS_OWN = 1,    /* deflate with context takeover: compressed by the driver */
  CLS_SEND = 2,   /* client / hixie / other extension: wsx_socket_send */
  CLS_DEFLATE = 8 /* + window bits (9..15): shared compressed frame */
};

#define MAX_HDR 10u

static size_t put_hdr(uint8_t *h, int op, int rsv1, size_t len) {
  h[0] = (uint8_t)(0x80u | (rsv1 ? 0x40u : 0u) | ((unsigned)op & 0x0fu));
  if (len < 126) {
    h[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffffu) {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; i++)
    h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

static size_t hdr_size(size_t len) {
  return len < 126 ? 2 : len <= 0xffffu ? 4 : 10;
}

static wsx__frame *frame_alloc(const wsx_allocator *a, size_t cap) {
  wsx__frame *f;
  if (cap > SIZE_MAX - sizeof(*f))
    return NULL;
  if (!(f = wsx__malloc(a, sizeof(*f) + cap)))
    return NULL;
  atomic_init(&f->refs, 1);
  f->alloc = *a;
  f->off = f->len = f->hdr_len = 0;
  f->opcode = 0;
  f->rsv1 = 0;
  return f;
}

wsx__frame *wsx__frame_new(const wsx_allocator *a, int opcode, const void *p,
                           size_t len) {
  size_t h = hdr_size(len);
  wsx__frame *f;
  if (len > SIZE_MAX - MAX_HDR || !(f = frame_alloc(a, h + len)))
    return NULL;
  f->hdr_len = put_hdr(f->data, opcode, 0, len);
  if (len)
    memcpy(f->data + h, p, len);
  f->len = h + len;
  f->opcode = (uint8_t)opcode;
  return f;
}

void wsx__frame_unref(wsx__frame *f) {
  if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
    wsx_allocator a = f->alloc;
    wsx__free(&a, f);
  }
}

/* ---- compression: once per window size ---- */

static voidpf z_alloc(voidpf op, uInt items, uInt size) {
  return wsx__malloc(op, (size_t)items * size);
}
static void z_free(voidpf op, voidpf p) { wsx__free(op, p); }

static z_stream *zstream(wsx__loopctx *c, int wbits) {
  wsx__topics *tt = c->topics;
  z_stream *z = tt->z[wbits];
  if (z)
    return deflateReset(z) == Z_OK ? z : NULL;
  if (!(z = wsx__malloc(&c->alloc, sizeof(*z))))
    return NULL;
  memset(z, 0, sizeof(*z));
  z->zalloc = z_alloc;
  z->zfree = z_free;
  z->opaque = &c->alloc;
  if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    wsx__free(&c->alloc, z);
    return NULL;
  }
  tt->z[wbits] = z;
  return z;
}

/* The compressed frame of `plain` for a peer window of `wbits`. */
static wsx__frame *compress_frame(wsx__loopctx *c, const wsx__frame *plain,
                                  int wbits) {
  size_t plen, bound, out_len;
  const uint8_t *p = wsx__frame_payload(plain, &plen);
  z_stream *z = zstream(c, wbits);
  wsx__frame *f;
  if (!z || plen > UINT_MAX)
    return NULL;
  bound = deflateBound(z, (uLong)plen) + 16;
  if (!(f = frame_alloc(&c->alloc, MAX_HDR + bound)))
    return NULL;
  z->next_in = (Bytef *)(uintptr_t)p;
  z->avail_in = (uInt)plen;
  z->next_out = f->data + MAX_HDR;
  z->avail_out = (uInt)bound;
  if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0 ||
      z->avail_out == 0) {
    wsx__frame_unref(f);
    return NULL;
  }
  out_len = bound - z->avail_out;
  if (out_len >= 4)
    out_len -= 4; /* RFC 7692 7.2.1: drop the 00 00 ff ff tail */
  f->hdr_len = hdr_size(out_len);
  f->off = MAX_HDR - f->hdr_len;
  (void)put_hdr(f->data + f->off, plain->opcode, 1, out_len);
  f->len = f->hdr_len + out_len;
  f->opcode = plain->opcode;
  f->rsv1 = 1;
  return f;
}

void wsx__topics_free(wsx__loopctx *c) {
  wsx__topics *tt = c->topics;
  int i;
  if (!tt)
    return;
  for (i = 0; i < 16; i++)
    if (tt->z[i]) {
      deflateEnd(tt->z[i]);
      wsx__free(&c->alloc, tt->z[i]);
    }
  /* Every socket left its topics before the context's last reference. */
  wsx__free(&c->alloc, tt->tab);
  wsx__free(&c->alloc, tt);
  c->topics = NULL;
}

/* ---- per-socket classification ---- */

static int param_int(const wsx_extension_param *p) {
  int v = 0;
  size_t i;
  if (!p->value || !p->value_len || p->value_len > 2)
    return -1;
  for (i = 0; i < p->value_len; i++) {
    if (p->value[i] < '0' || p->value[i] > '9')
      return -1;
    v = v * 10 + (p->value[i] - '0');
  }
  return v;
}

static int8_t classify(wsx_socket *s) {
  const char *ver = wsx_driver_version(s->d);
  const char *ext = wsx_driver_extensions(s->d);
  wsx_extension_offers o;
  int8_t cls = CLS_SEND;
  if ((s->flags & WSX__F_CLIENT) || strncmp(ver, "hybi-", 5) != 0)
    return CLS_SEND;
  if (!ext || !*ext)
    return CLS_PLAIN;
  if (wsx_extension_offers_parse(ext, strlen(ext), 4, &s->cfg->alloc, &o,
                                 NULL) != WSX_OK)
    return CLS_SEND;
  if (o.num_offers == 1 && o.offers[0].name_len == 18 &&
      memcmp(o.offers[0].name, "permessage-deflate", 18) == 0) {
    int nct = 0, w = 15;
    size_t i;
    for (i = 0; i < o.offers[0].num_params; i++) {
      const wsx_extension_param *p = &o.offers[0].params[i];
      if (p->name_len == 26 &&
          memcmp(p->name, "server_no_context_takeover", 26) == 0)
        nct = 1;
      else if (p->name_len == 22 &&
               memcmp(p->name, "server_max_window_bits", 22) == 0)
        w = param_int(p);
    }
    cls = (nct && w >= 9 && w <= 15) ? (int8_t)(CLS_DEFLATE + w) : CLS_OWN;
  }
  wsx_extension_offers_free(&o);
  return cls;
}

static int is_open(const wsx_socket *s) {
  return s->phase == WSX__P_WS && s->d &&
         !(s->flags & (WSX__F_HANDLE_CLOSING | WSX__F_CLOSE_SENT)) &&
         wsx_driver_ready_state(s->d) == WSX_OPEN;
}

static int deliver(wsx__loopctx *c, wsx_socket *s, wsx__frame *plain,
                   wsx__frame **comp, unsigned flags) {
  size_t plen;
  const uint8_t *p;
  int cls;
  if (s->ps->cls < 0)
    s->ps->cls = classify(s);
  cls = s->ps->cls;
  if (cls == CLS_PLAIN ||
      ((flags & WSX_PUBLISH_UNCOMPRESSED) && cls != CLS_SEND))
    return wsx__pubsub_enqueue(s, plain);
  p = wsx__frame_payload(plain, &plen);
  if (cls >= CLS_DEFLATE && plen > 0) {
    int w = cls - CLS_DEFLATE;
    if (!comp[w] && !(comp[w] = compress_frame(c, plain, w)))
      return WSX_E_NOMEM;
    return wsx__pubsub_enqueue(s, comp[w]);
  }
  if (cls >= CLS_DEFLATE)
    return wsx__pubsub_enqueue(s, plain); /* empty: nothing to compress */
  return wsx_socket_send(s, plain->opcode, p, plen,
                         (flags & WSX_PUBLISH_UNCOMPRESSED)
                             ? WSX_SEND_UNCOMPRESSED
                             : 0);
}

long wsx__publish_frame(wsx__loopctx *c, const void *topic, size_t tlen,
                        wsx__frame *plain, unsigned flags) {
  wsx__topic *t = wsx__topic_find(c->topics, topic, tlen);
  wsx__frame *comp[16] = {0};
  uint32_t i, n;
  long count = 0;
  int nomem = 0, w;
  if (!t)
    return 0;
  t->iterating++;
  n = t->n; /* sockets subscribing meanwhile wait for the next message */
  for (i = 0; i < n; i++) {
    wsx_socket *s = t->subs[i].s;
    int rc;
    if (!s)
      continue;
    if ((s->flags & (WSX__F_ASLEEP | WSX__F_HANDLE_CLOSING)) ==
        WSX__F_ASLEEP) {
      /* A sleeper (an open plain hybi-13 server connection: the plain
       * frame is what it takes) gets the bytes straight, asleep still;
       * if the kernel is full it wakes and takes the usual way. */
      rc = wsx__hib_send(s, plain->data + plain->off, plain->len);
      if (rc > 0)
        count++;
      if (rc != 0 || !wsx__sock_awake(s))
        continue;
    }
    if (!is_open(s))
      continue;
    rc = deliver(c, s, plain, comp, flags);
    if (rc >= 0 && !(s->flags & WSX__F_HANDLE_CLOSING))
      count++;
    else if (rc == WSX_E_NOMEM)
      nomem = 1;
  }
  t->iterating--;
  wsx__topic_iter_done(c, t);
  for (w = 0; w < 16; w++)
    wsx__frame_unref(comp[w]);
  return count == 0 && nomem ? WSX_E_NOMEM : count;
}

int wsx__publish_check(const void *topic, size_t tlen, const void *data,
                      size_t len, int opcode, unsigned flags) {
  if (!topic || tlen == 0 || tlen > WSX_TOPIC_MAX || (len && !data) ||
      (flags & ~(WSX_PUBLISH_UNCOMPRESSED | WSX_PUBLISH_LOCAL)))
    return WSX_E_INVALID;
  if (opcode == WSX_OP_TEXT)
    return wsx__utf8_valid(data, len) ? WSX_OK : WSX_E_INVALID;
  return opcode == WSX_OP_BINARY ? WSX_OK : WSX_E_INVALID;
}

long wsx__publish_local(wsx__loopctx *c, const void *topic, size_t tlen,
                        const void *data, size_t len, int opcode,
                        unsigned flags) {
  wsx__frame *f;
  long n;
  if (!c || !wsx__topic_find(c->topics, topic, tlen))
    return 0;
  if (!(f = wsx__frame_new(&c->alloc, opcode, data, len)))
    return WSX_E_NOMEM;
  n = wsx__publish_frame(c, topic, tlen, f, flags);
  wsx__frame_unref(f);
  return n;
}

long wsx_loop_publish(uv_loop_t *loop, const void *topic, size_t topic_len,
                      const void *data, size_t len, int opcode,
                      unsigned flags) {
  int rc = wsx__publish_check(topic, topic_len, data, len, opcode, flags);
  if (rc < 0 || !loop)
    return rc < 0 ? rc : WSX_E_INVALID;
  return wsx__publish_local(wsx__loopctx_find(loop), topic, topic_len, data,
                            len, opcode, flags);
}

long wsx_server_publish(wsx_server *srv, const void *topic, size_t topic_len,
                        const void *data, size_t len, int opcode,
                        unsigned flags) {
  int rc = wsx__publish_check(topic, topic_len, data, len, opcode, flags);
  if (rc < 0 || !srv)
    return rc < 0 ? rc : WSX_E_INVALID;
  long n;
  if (srv->gl && !(flags & WSX_PUBLISH_LOCAL))
    return wsx__group_publish(wsx_server_group_of(srv), topic, topic_len,
                              data, len, opcode, flags);
  n = wsx__publish_local(srv->ctx, topic, topic_len, data, len, opcode,
                         flags);
  if (srv->bp && n >= 0 && !(flags & WSX_PUBLISH_LOCAL))
    wsx__bp_publish(srv->bp, topic, topic_len, data, len, opcode);
  return n;
}
