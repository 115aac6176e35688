/*
 * Writing publications (uv/pubsub.h). A publish does not write: it appends
 * a reference to the shared frame to each subscriber's queue and puts the
 * socket on the loop's dirty list. The loop context's pub_idle handle runs
 * once per loop turn while the list is not empty and writes every dirty
 * socket's queue with ONE writev (iovecs pointing into the shared frames;
 * nothing is copied). A burst of k publishes in one loop turn so costs one
 * system call per subscriber instead of k. What the kernel does not take
 * stays queued in libuv, still by reference (one small request per
 * writev).
 *
 * Order: every write of the socket's own (wsx__sock_write: sends, pongs,
 * close frames) flushes the socket's queue first, so a send never overtakes
 * a publication made before it. Flow control is unchanged: queued bytes
 * count in the buffered amount at publish time; a socket whose queue
 * passes its high-water mark (or MAX_QUEUED frames, or max_buffered) is
 * written at once, so max_buffered still closes only a subscriber whose
 * kernel buffer does not take its bytes (the others are not held back).
 */
#include <string.h>

#include "uv/pubsub.h"

#define NBUF 128u    /* iovecs per writev */
#define FRAME_BUFS 8 /* iovecs one frame may need (32 GiB) */
#define MAX_QUEUED 64 /* frames a socket queues before writing anyway */

typedef struct share_req {
  uv_write_t req;
  wsx_socket *s;
  uint32_t n;
  wsx__frame *f[]; /* one reference each */
} share_req;

static void unref_all(wsx__frame **q, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; i++)
    wsx__frame_unref(q[i]);
}

static void fail_write(wsx_socket *s, int uv_err) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  s->flags |= WSX__F_EOF;
  wsx__sock_error(s, WSX_E_IO, 0, uv_strerror(uv_err));
  if (s->d)
    wsx_driver_abort(s->d, 0, NULL);
  wsx__sock_close_handle(s);
}

static void on_shared_written(uv_write_t *req, int status) {
  share_req *r = (share_req *)req;
  wsx_socket *s = r->s;
  s->ps->writes--;
  unref_all(r->f, r->n);
  wsx__free(&s->cfg->alloc, r);
  if (status < 0) {
    if (status != UV_ECANCELED)
      fail_write(s, status);
    return;
  }
  if (!(s->flags & WSX__F_HANDLE_CLOSING))
    wsx__sock_written(s);
}

/* iovecs for q[0..n) from byte `skip` of q[0], as many frames as fit:
 * returns the frames covered, their bytes in *bytes. */
static uint32_t gather(uv_buf_t *b, unsigned *k, wsx__frame **q, uint32_t n,
                       size_t skip, size_t *bytes) {
  uint32_t j;
  *k = 0;
  *bytes = 0;
  for (j = 0; j < n && *k + FRAME_BUFS <= NBUF; j++) {
    size_t want = q[j]->len - skip;
    (void)wsx__uv_bufs(b, NBUF, k, q[j]->data + q[j]->off + skip, want);
    *bytes += want;
    skip = 0;
  }
  return j;
}

/* Queues q[0..n) in libuv, q[0] from byte `skip`; the references move to
 * the requests. WSX_OK, or the socket failed. */
static int queue_rest(wsx_socket *s, wsx__frame **q, uint32_t n,
                      size_t skip) {
  uv_buf_t b[NBUF];
  while (n) {
    unsigned k;
    size_t bytes;
    uint32_t m = gather(b, &k, q, n, skip, &bytes);
    share_req *r =
        wsx__malloc(&s->cfg->alloc, sizeof(*r) + m * sizeof(r->f[0]));
    int rc;
    if (!r) {
      unref_all(q, n);
      fail_write(s, UV_ENOMEM); /* part of a frame may be out: lost */
      return WSX_E_NOMEM;
    }
    memcpy(r->f, q, m * sizeof(r->f[0]));
    r->n = m;
    r->s = s;
    if ((rc = uv_write(&r->req, s->stream, b, k, on_shared_written)) < 0) {
      wsx__free(&s->cfg->alloc, r);
      unref_all(q, n);
      fail_write(s, rc);
      return WSX_E_CLOSED;
    }
    s->ps->writes++;
    q += m;
    n -= m;
    skip = 0;
  }
  return WSX_OK;
}

/* Writes q[0..n) (one reference each, dropped or handed to libuv). */
static int write_frames(wsx_socket *s, wsx__frame **q, uint32_t n) {
  uv_buf_t b[NBUF];
  while (n) {
    unsigned k;
    size_t bytes, done;
    uint32_t m = gather(b, &k, q, n, 0, &bytes);
    int rc = wsx__try_write(s->stream, b, k);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS)
      rc = 0;
    if (rc < 0) {
      unref_all(q, n);
      fail_write(s, rc);
      return WSX_E_CLOSED;
    }
    done = (size_t)rc;
    if (done == bytes) {
      unref_all(q, m);
      q += m;
      n -= m;
      continue;
    }
    while (done >= q[0]->len) { /* whole frames the kernel took */
      done -= q[0]->len;
      wsx__frame_unref(q[0]);
      q++;
      n--;
    }
    return queue_rest(s, q, n, done);
  }
  return WSX_OK;
}

/* The socket's own write path, behind the bytes waiting in it (a stream
 * layer, the cork, the socket's queue): copies. */
static int write_copied(wsx_socket *s, wsx__frame **q, uint32_t n) {
  uint32_t i;
  int rc = WSX_OK;
  for (i = 0; i < n && rc >= 0; i++) {
    uv_buf_t b[FRAME_BUFS];
    unsigned k = 0;
    (void)wsx__uv_bufs(b, FRAME_BUFS, &k, q[i]->data + q[i]->off,
                       q[i]->len);
    rc = wsx__sock_write(s, b, k);
  }
  unref_all(q, n);
  return rc;
}

static int must_copy(const wsx_socket *s) {
  const wsx__loopctx *c = s->cfg->ctx;
  return s->layer || (c->cork_owner == s && c->cork_len) ||
         (s->out && s->out->pending.len);
}

static void dirty_unlink(wsx__topics *tt, wsx_socket *s) {
  wsx__psock *ps = s->ps;
  if (ps->dprev)
    ps->dprev->ps->dnext = ps->dnext;
  else
    tt->dirty = ps->dnext;
  if (ps->dnext)
    ps->dnext->ps->dprev = ps->dprev;
  ps->dprev = ps->dnext = NULL;
}

void wsx__pubsub_flush(wsx_socket *s) {
  wsx__psock *ps = s->ps;
  wsx__frame **q;
  uint32_t n, cap;
  int rc;
  if (!ps || !ps->qn)
    return;
  dirty_unlink(s->cfg->ctx->topics, s);
  /* The array leaves the socket while it is written: a callback the
   * writing runs (an error) cannot make it move. */
  q = ps->q;
  n = ps->qn;
  cap = ps->qcap;
  ps->q = NULL;
  ps->qn = ps->qcap = 0;
  ps->qbytes = 0;
  if (s->flags & WSX__F_HANDLE_CLOSING) {
    unref_all(q, n);
    rc = WSX_E_CLOSED;
  } else {
    rc = must_copy(s) ? write_copied(s, q, n) : write_frames(s, q, n);
  }
  if (!s->ps->q) {
    s->ps->q = q;
    s->ps->qcap = cap;
  } else {
    wsx__free(&s->cfg->alloc, q);
  }
  if (rc >= 0)
    wsx__sock_output_progress(s); /* drain, teardown */
}

static void on_pub_idle(uv_idle_t *h) {
  wsx__loopctx *c = h->data;
  uv_idle_stop(h);
  /* Each flush takes its socket off the list (a socket failing on the
   * way leaves it too). */
  while (c->topics && c->topics->dirty)
    wsx__pubsub_flush(c->topics->dirty);
}

int wsx__pubsub_enqueue(wsx_socket *s, wsx__frame *f) {
  wsx__loopctx *c = s->cfg->ctx;
  wsx__psock *ps = s->ps;
  wsx__topics *tt = c->topics;
  if (f->len > FRAME_BUFS * WSX__UV_BUF_MAX)
    return WSX_E_TOO_BIG; /* over 32 GiB in one message */
  if (s->layer || c->cork_owner == s || (s->out && s->out->pending.len)) {
    /* Per-socket bytes anyway (TLS, the cork) or a queue to stay behind:
     * now, through the socket's own write path (which flushes the
     * queue first). */
    uv_buf_t b[FRAME_BUFS];
    unsigned k = 0;
    (void)wsx__uv_bufs(b, FRAME_BUFS, &k, f->data + f->off, f->len);
    return wsx__sock_after_send(s, wsx__sock_write(s, b, k));
  }
  if (ps->qn == ps->qcap) {
    uint32_t ncap = ps->qcap ? ps->qcap * 2 : 4;
    wsx__frame **nq;
    if (ncap < ps->qcap ||
        !(nq = wsx__realloc(&c->alloc, ps->q, ncap * sizeof(*nq))))
      return WSX_E_NOMEM;
    ps->q = nq;
    ps->qcap = ncap;
  }
  ps->q[ps->qn++] = wsx__frame_ref(f);
  ps->qbytes += f->len;
  if (ps->qn == 1) {
    ps->dprev = NULL;
    ps->dnext = tt->dirty;
    if (tt->dirty)
      tt->dirty->ps->dprev = s;
    tt->dirty = s;
    if (!uv_is_active((uv_handle_t *)&c->pub_idle))
      (void)uv_idle_start(&c->pub_idle, on_pub_idle);
  }
  if (ps->qbytes > s->cfg->hwm || ps->qn >= MAX_QUEUED ||
      wsx__sock_buffered(s) > s->cfg->max_buffered)
    /* Batching stops at the high-water mark: what waits past it is what
     * the kernel does not take (flow control and the slow-consumer rule
     * judge that, as for the socket's own sends). */
    wsx__pubsub_flush(s);
  return wsx__sock_after_send(s, 0);
}

void wsx__pubsub_drop_queue(wsx_socket *s) {
  wsx__psock *ps = s->ps;
  if (!ps || !ps->qn)
    return;
  dirty_unlink(s->cfg->ctx->topics, s);
  unref_all(ps->q, ps->qn);
  ps->qn = 0;
  ps->qbytes = 0;
}

size_t wsx__pubsub_queued(const wsx_socket *s) {
  return s->ps ? s->ps->qbytes : 0;
}
