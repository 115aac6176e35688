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
#include "wsx/uv.h"

/* A payload the caller keeps alive until `release` (wsx_socket_send_zc):
 * the writer may keep a reference to it instead of copying (`taken`). */
typedef struct wsx__zc {
  const void *p;
  size_t len;
  wsx_release_cb release;
  void *ud;
  const void *owner; /* the socket sending it */
  int taken;         /* the writer holds it; it calls release later */
} wsx__zc;

/*
 * uv_try_write(st, b, n), with the same results (bytes written, UV_EAGAIN,
 * or a negative libuv error code), but for a writable TCP stream with
 * nothing queued in libuv it calls send() / sendmsg() (MSG_DONTWAIT |
 * MSG_NOSIGNAL) itself: libuv's write() / writev() pass through the file
 * layer, which on the kernel measured costs 50-140 ns more a call
 * (bench_syscall_cost prints a 16 KiB write+read pair both ways).
 * MSG_NOSIGNAL also keeps a peer's reset from raising SIGPIPE on these
 * writes. Any other stream goes to uv_try_write, so a stream libuv no
 * longer lets write (after uv_shutdown) still gets UV_EPIPE at once
 * (test_uv_robust: try_write_matches_uv_try_write).
 */
int wsx__try_write(uv_stream_t *st, const uv_buf_t *b, unsigned n);

/* An output queue, allocated only while the kernel is behind. */
typedef struct wsx__out {
  uv_write_t req;     /* req.data: the owner's (see wsx__out_write) */
  uv_shutdown_t shut; /* for the owner's FIN; shut.data as req.data */
  wsx__buf inflight;  /* being written by `req` */
  wsx__buf pending;   /* queued behind it */
  int writing;        /* `req` is in flight */
  /* Written by `req` after `inflight` without a copy: the rest of a
   * caller's payload (wsx_socket_send_zc), released when `req` ends. */
  const char *ref;
  size_t ref_len;
  wsx__zc ref_zc; /* the payload's owner: ref_zc.release(p, len, ud) */
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

/*
 * As wsx__out_write, for bufs whose last one is exactly z->p[0..z->len):
 * what the kernel does not take of that payload is written from z->p
 * without a copy when no write is in flight (z->taken is set: the owner
 * of `cb` calls wsx__out_release() after the write ends); otherwise it is
 * copied like any bytes and z->taken stays 0.
 */
int wsx__out_write_zc(wsx__out **op, uv_stream_t *st, const wsx_allocator *a,
                      void *data, uv_write_cb cb, const uv_buf_t *b,
                      unsigned n, wsx__zc *z, int *uv_err);

/* First thing in `cb`: the write in flight is over (whatever its status). */
static inline void wsx__out_completed(wsx__out *o) {
  o->writing = 0;
  o->inflight.len = 0;
  o->ref = NULL;
  o->ref_len = 0;
}

/* After wsx__out_completed (and wsx__out_next, so that bytes sent from the
 * release callback queue behind the next write): gives back the payload the
 * finished write referred to, if any (its release runs once, here). */
void wsx__out_release(wsx__out *o);

/* After a successful completion: starts the queued bytes, if any. Returns
 * 1 (a write started), 0 (nothing queued) or WSX_E_IO with *uv_err. */
int wsx__out_next(wsx__out *o, uv_stream_t *st, uv_write_cb cb, int *uv_err);

/* Bytes not yet handed to the kernel's socket buffer. */
static inline size_t wsx__out_queued(const wsx__out *o) {
  return o ? (o->writing ? o->inflight.len + o->ref_len : 0) + o->pending.len
           : 0;
}

/* Frees the queue and its buffers (*op = NULL); not while writing. */
void wsx__out_free(wsx__out **op, const wsx_allocator *a);

#endif
