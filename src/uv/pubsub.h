/*
 * Topics of the libuv transport (wsx/pubsub.h), shared by src/uv:
 *   topics.c   the per-loop topic table, subscriptions, the public
 *              subscribe / unsubscribe / topic list calls
 *   publish.c  framing once, compressing once per window size, sharing one
 *              reference-counted frame among the subscribers' writes
 *   pubflush.c the subscribers' publish queues, written once per loop turn
 * A group of loops (group.c) hands frames to other loops by reference.
 */
#ifndef WSX_SRC_UV_PUBSUB_H
#define WSX_SRC_UV_PUBSUB_H

#include <stdatomic.h>

#include "uv/internal.h"
#include "wsx/pubsub.h"

/* One framed message: header + payload, shared by every write of it (and by
 * the loops of a group). Freed with `alloc` when the last reference goes;
 * references may be dropped on any thread. */
typedef struct wsx__frame {
  atomic_size_t refs;
  wsx_allocator alloc;
  size_t off;      /* the frame starts at data + off */
  size_t len;      /* frame bytes: header + payload */
  size_t hdr_len;  /* header bytes (payload = data + off + hdr_len) */
  uint8_t opcode;  /* WSX_OP_TEXT / WSX_OP_BINARY */
  uint8_t rsv1;    /* compressed */
  uint8_t data[];
} wsx__frame;

/* A plain (uncompressed) frame of payload p[0..len), one reference; NULL
 * on OOM. */
wsx__frame *wsx__frame_new(const wsx_allocator *a, int opcode, const void *p,
                           size_t len);
static inline wsx__frame *wsx__frame_ref(wsx__frame *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}
void wsx__frame_unref(wsx__frame *f);
static inline const uint8_t *wsx__frame_payload(const wsx__frame *f,
                                                size_t *len) {
  *len = f->len - f->hdr_len;
  return f->data + f->off + f->hdr_len;
}

/* One topic of a loop: its name and its subscribers. */
typedef struct wsx__topic {
  struct wsx__topic *next; /* hash chain */
  struct wsx__tsub {
    wsx_socket *s; /* NULL: left during an iteration (compacted after) */
    uint32_t slot; /* index of this topic in s->ps->e */
  } *subs;
  uint32_t n, cap;    /* subs[0..n) */
  uint32_t live;      /* subscribers (n minus the NULL entries) */
  uint32_t hash;
  uint32_t iterating; /* publications walking subs right now */
  uint16_t len;
  uint8_t name[];
} wsx__topic;

/* The topic table of a loop (wsx__loopctx.topics), made on first use. */
typedef struct wsx__topics {
  wsx__topic **tab;
  uint32_t mask;  /* tab has mask + 1 chains */
  uint32_t count; /* topics */
  void *z[16];    /* cached raw-deflate streams by window bits (publish.c) */
  struct wsx_socket *dirty; /* pubflush.c: sockets with queued frames */
} wsx__topics;

/* A socket's subscriptions (wsx_socket.ps), made on its first subscribe. */
typedef struct wsx__psock {
  struct wsx__pent {
    wsx__topic *t;
    uint32_t idx; /* index of the socket in t->subs */
  } *e;
  uint32_t n, cap;
  uint32_t writes; /* shared-frame write requests in libuv for this socket */
  int8_t cls;      /* publish.c: how the socket takes a frame; -1 unknown */
  /* pubflush.c: frames published this loop turn, not yet written (one
   * reference each, in order); the socket is on the loop's dirty list
   * while qn > 0 and leaves in one writev per loop turn. */
  uint32_t qn, qcap;
  size_t qbytes;         /* bytes of q[0..qn) */
  struct wsx__frame **q;
  struct wsx_socket *dprev, *dnext; /* the loop's dirty list */
} wsx__psock;

wsx__topic *wsx__topic_find(wsx__topics *tt, const void *name, size_t len);
/* After an iteration: drops the NULL entries, frees an empty topic. */
void wsx__topic_iter_done(wsx__loopctx *c, wsx__topic *t);
/* The connection starts closing: leaves every topic. */
void wsx__pubsub_leave_all(wsx_socket *s);
/* The socket is being freed. */
void wsx__pubsub_free(wsx_socket *s);
/* The loop's context is being freed. */
void wsx__topics_free(wsx__loopctx *c);

/* Delivers frame `f` (plain) to the subscribers of `topic` on loop context
 * `c` (publish.c). Returns the count reached or a negative error. */
long wsx__publish_frame(wsx__loopctx *c, const void *topic, size_t tlen,
                        wsx__frame *f, unsigned flags);
/* Frames data[0..len) and delivers it on `c` (arguments checked). */
long wsx__publish_local(wsx__loopctx *c, const void *topic, size_t tlen,
                        const void *data, size_t len, int opcode,
                        unsigned flags);

/* pubflush.c: queues frame f (plain or compressed, a new reference) for
 * socket s, written with the socket's other queued frames in one writev
 * when the loop's flush runs (the loop context's idle handle, started
 * here). Counts toward the socket's buffered amount at once (max_buffered,
 * high-water mark): the wsx__sock_after_send() return. Sockets with a
 * stream layer, a cork or bytes waiting in their own queue take the frame
 * at once instead (copied into that queue, behind those bytes). */
int wsx__pubsub_enqueue(wsx_socket *s, wsx__frame *f);
/* Drops s's queued frames unwritten (the connection is closing). */
void wsx__pubsub_drop_queue(wsx_socket *s);

/* Checks publish arguments: WSX_OK or WSX_E_INVALID. */
int wsx__publish_check(const void *topic, size_t tlen, const void *data,
                       size_t len, int opcode, unsigned flags);
/* group.c: frames once, queues for the other loops, delivers on the
 * caller's loop if it is one of them (arguments checked). */
struct wsx_server_group;
long wsx__group_publish(struct wsx_server_group *g, const void *topic,
                        size_t tlen, const void *data, size_t len, int opcode,
                        unsigned flags);

#endif
