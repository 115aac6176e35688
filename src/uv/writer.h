/*
 * The one write path of the transport: a stream's output goes to the kernel
 * with uv_try_write first, and only what the kernel did not take is copied
 * into an output queue (one write in flight, the rest coalesced behind
 * it). Used by the socket core (conn.c, which adds corking; HTTP
 * responses and EventSource streams of the server front go through it),
 * by EventSource streams on adopted streams (eventsource.c) and by the
 * EventSource client's TLS wire (es_client.c).
 */
#ifndef WSX_SRC_UV_WRITER_H
#define WSX_SRC_UV_WRITER_H

#include <uv.h>

#include "common/alloc.h"

/* An output queue, allocated only while the kernel is behind. */
typedef struct wsx__out {
  uv_write_t req;     /* req.data: the owner's (see wsx__out_write) */
  uv_shutdown_t shut; /* for the owner's FIN; shut.data as req.data */
  wsx__buf inflight;  /* being written by `req` */
  wsx__buf pending;   /* queued behind it */
  int writing;        /* `req` is in flight */
} wsx__out;

/* *op, allocated with `a` (req.data and shut.data = `data`) if NULL;
 * NULL if out of memory. */
wsx__out *wsx__out_get(wsx__out **op, const wsx_allocator *a, void *data);

/*
 * Writes b[0..n) to `st` behind whatever *op holds. *op may be NULL: it is
 * allocated with `a` (req.data and shut.data = `data`) only when bytes
 * must be queued; a write it starts completes in `cb`. Returns WSX_OK,
 * WSX_E_NOMEM (the bytes the kernel did not take are lost), or WSX_E_IO
 * with *uv_err = the libuv code of a failed uv_try_write / uv_write.
 */
int wsx__out_write(wsx__out **op, uv_stream_t *st, const wsx_allocator *a,
                   void *data, uv_write_cb cb, const uv_buf_t *b, unsigned n,
                   int *uv_err);

/* First thing in `cb`: the write in flight is over (whatever its status). */
static inline void wsx__out_completed(wsx__out *o) {
  o->writing = 0;
  o->inflight.len = 0;
}

/* After a successful completion: starts the queued bytes, if any. Returns
 * 1 (a write started), 0 (nothing queued) or WSX_E_IO with *uv_err. */
int wsx__out_next(wsx__out *o, uv_stream_t *st, uv_write_cb cb, int *uv_err);

/* Bytes not yet handed to the kernel's socket buffer. */
static inline size_t wsx__out_queued(const wsx__out *o) {
  return o ? (o->writing ? o->inflight.len : 0) + o->pending.len : 0;
}

/* Frees the queue and its buffers (*op = NULL); not while writing. */
void wsx__out_free(wsx__out **op, const wsx_allocator *a);

#endif
