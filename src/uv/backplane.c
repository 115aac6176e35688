/*
 * The bus-independent part of a backplane (uv/backplane.h): publications
 * of the node are encoded once and queued (mutex + uv_async, so that any
 * thread of a group may publish) for the bus implementation on the
 * backplane's loop; messages from the bus are decoded, dropped if this
 * node sent them, and delivered to the node's subscribers.
 */
#include <string.h>

#include "uv/backplane.h"

#define MAGIC "WSX1"
#define HDR (4 + 16 + 1 + 1)

typedef struct bpmsg {
  struct bpmsg *next;
  size_t len;
  uint8_t data[];
} bpmsg;

struct wsx_backplane {
  wsx_allocator alloc;
  uv_loop_t *loop;
  uv_async_t async;
  uv_mutex_t lock;       /* guards head, tail, async_open */
  bpmsg *head, *tail;    /* outgoing, oldest first */
  int async_open;
  uint8_t node[16];      /* this node's id on the bus */
  wsx_server *srv;       /* the node: a server ... */
  wsx_server_group *g;   /* ... or a group */
  const wsx__bp_ops *ops;
  void *impl;
  wsx_backplane_callbacks cb;
  void *ud;
  int connected;
};

static void drain(wsx_backplane *bp) {
  bpmsg *m, *next;
  uv_mutex_lock(&bp->lock);
  m = bp->head;
  bp->head = bp->tail = NULL;
  uv_mutex_unlock(&bp->lock);
  for (; m; m = next) {
    next = m->next;
    if (bp->ops)
      bp->ops->send(bp->impl, m->data, m->len);
    wsx__free(&bp->alloc, m);
  }
}

static void on_async(uv_async_t *a) { drain(a->data); }

wsx_backplane *wsx__bp_new(uv_loop_t *loop, const wsx_allocator *a,
                           const wsx_backplane_callbacks *cbs, void *ud,
                           int *err) {
  wsx_backplane *bp;
  wsx_allocator al;
  int rc;
  if (WSX__STRUCT_OK(wsx_backplane_callbacks, cbs) != WSX_OK) {
    *err = WSX_E_STRUCT_SIZE;
    return NULL;
  }
  wsx__alloc_init(&al, a);
  if (!(bp = wsx__malloc(&al, sizeof(*bp)))) {
    *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(bp, 0, sizeof(*bp));
  bp->alloc = al;
  bp->loop = loop;
  bp->ud = ud;
  (void)WSX__STRUCT_IN(wsx_backplane_callbacks, &bp->cb, cbs);
  if ((rc = wsx__random(bp->node, sizeof(bp->node))) < 0 ||
      (rc = uv_mutex_init(&bp->lock)) < 0) {
    wsx__free(&al, bp);
    *err = rc;
    return NULL;
  }
  if ((rc = uv_async_init(loop, &bp->async, on_async)) < 0) {
    uv_mutex_destroy(&bp->lock);
    wsx__free(&al, bp);
    *err = rc;
    return NULL;
  }
  bp->async.data = bp;
  bp->async_open = 1;
  return bp;
}

void wsx__bp_set_impl(wsx_backplane *bp, const wsx__bp_ops *ops, void *impl) {
  bp->ops = ops;
  bp->impl = impl;
}

void wsx__bp_publish(wsx_backplane *bp, const void *topic, size_t tlen,
                     const void *data, size_t len, int opcode) {
  bpmsg *m;
  if (len > SIZE_MAX - HDR - WSX_TOPIC_MAX - sizeof(*m) ||
      !(m = wsx__malloc(&bp->alloc, sizeof(*m) + HDR + tlen + len)))
    return; /* at most once: a publication the bus cannot take is lost */
  m->next = NULL;
  m->len = HDR + tlen + len;
  memcpy(m->data, MAGIC, 4);
  memcpy(m->data + 4, bp->node, 16);
  m->data[20] = (uint8_t)opcode;
  m->data[21] = (uint8_t)tlen;
  memcpy(m->data + HDR, topic, tlen);
  if (len)
    memcpy(m->data + HDR + tlen, data, len);
  uv_mutex_lock(&bp->lock);
  if (bp->async_open) {
    if (bp->tail)
      bp->tail->next = m;
    else
      bp->head = m;
    bp->tail = m;
    (void)uv_async_send(&bp->async);
    m = NULL;
  }
  uv_mutex_unlock(&bp->lock);
  wsx__free(&bp->alloc, m);
}

void wsx__bp_receive(wsx_backplane *bp, const uint8_t *msg, size_t len) {
  size_t tlen;
  int op;
  if (len < HDR || memcmp(msg, MAGIC, 4) != 0)
    return; /* not ours */
  if (memcmp(msg + 4, bp->node, 16) == 0)
    return; /* loop-back: delivered locally when it was published */
  op = msg[20];
  tlen = msg[21];
  if (tlen == 0 || HDR + tlen > len ||
      wsx__publish_check(msg + HDR, tlen, msg + HDR + tlen, len - HDR - tlen,
                         op, 0) != WSX_OK)
    return; /* malformed, or text that is not UTF-8 */
  if (bp->g)
    (void)wsx__group_publish(bp->g, msg + HDR, tlen, msg + HDR + tlen,
                             len - HDR - tlen, op, WSX__PUB_NO_BUS);
  else if (bp->srv)
    (void)wsx__publish_local(bp->srv->ctx, msg + HDR, tlen, msg + HDR + tlen,
                             len - HDR - tlen, op, WSX__PUB_NO_BUS);
}

void wsx__bp_status(wsx_backplane *bp, int up, const char *why) {
  bp->connected = up;
  if (bp->cb.status)
    bp->cb.status(bp, up, why ? why : "", bp->ud);
}

int wsx_backplane_attach_server(wsx_backplane *bp, wsx_server *srv) {
  if (!bp || !srv || srv->loop != bp->loop)
    return WSX_E_INVALID;
  if (bp->srv || bp->g || srv->bp)
    return WSX_E_BUSY;
  if (srv->gl)
    return wsx_backplane_attach_group(bp, wsx_server_group_of(srv));
  bp->srv = srv;
  srv->bp = bp;
  return WSX_OK;
}

int wsx_backplane_attach_group(wsx_backplane *bp, wsx_server_group *g) {
  int rc;
  if (!bp || !g)
    return WSX_E_INVALID;
  if (bp->srv || bp->g)
    return WSX_E_BUSY;
  if ((rc = wsx__group_set_bp(g, bp)) < 0)
    return rc;
  bp->g = g;
  return WSX_OK;
}

void wsx__bp_node_gone(wsx_backplane *bp) {
  bp->srv = NULL;
  bp->g = NULL;
}

int wsx_backplane_connected(const wsx_backplane *bp) {
  return bp ? bp->connected : 0;
}

static void async_closed(uv_handle_t *h) {
  wsx_backplane *bp = h->data;
  wsx_allocator a = bp->alloc;
  uv_mutex_destroy(&bp->lock);
  wsx__free(&a, bp);
}

void wsx_backplane_free(wsx_backplane *bp) {
  bpmsg *m, *next;
  if (!bp)
    return;
  if (bp->srv)
    bp->srv->bp = NULL;
  if (bp->ops)
    bp->ops->close(bp->impl);
  bp->ops = NULL;
  uv_mutex_lock(&bp->lock);
  bp->async_open = 0;
  m = bp->head;
  bp->head = bp->tail = NULL;
  uv_mutex_unlock(&bp->lock);
  for (; m; m = next) {
    next = m->next;
    wsx__free(&bp->alloc, m);
  }
  uv_close((uv_handle_t *)&bp->async, async_closed);
}
