/* The one write path: try the kernel first, queue the rest (uv/writer.h). */
#include <errno.h>
#include <string.h>
#ifndef _WIN32
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#endif

#include "uv/writer.h"
#include "uv/uvbuf.h"

int wsx__try_write(uv_stream_t *st, const uv_buf_t *b, unsigned n) {
#ifndef _WIN32
  uv_os_fd_t fd;
  ssize_t r;
  /* A TCP stream with nothing queued in libuv: send()/sendmsg() as
   * uv_try_write would write()/writev(), minus the file layer (see
   * writer.h). Anything else goes to libuv: a closing handle, and one
   * that is no longer writable (after uv_shutdown: UV_EPIPE, as ever). */
  if (st->type != UV_TCP || st->write_queue_size != 0 || !uv_is_writable(st) ||
      uv_fileno((const uv_handle_t *)st, &fd) != 0)
    return uv_try_write(st, b, n);
  do {
    if (n == 1) {
      r = send(fd, b[0].base, b[0].len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      struct msghdr m;
      memset(&m, 0, sizeof(m));
      m.msg_iov = (struct iovec *)(uintptr_t)b; /* layout-compatible */
      m.msg_iovlen = n > IOV_MAX ? IOV_MAX : n;
      r = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  } while (r < 0 && errno == EINTR);
  if (r >= 0)
    return r > INT_MAX ? INT_MAX : (int)r; /* never: Linux caps at 2 GiB */
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return UV_EAGAIN;
  return -errno; /* libuv's codes are the negated errno values on Unix */
#else
  return uv_try_write(st, b, n);
#endif
}

/* Appends b[0..n) minus its first `skip` bytes to dst. */
static int append(wsx__buf *dst, const wsx_allocator *a, const uv_buf_t *b,
                  unsigned n, size_t skip) {
  unsigned i;
  for (i = 0; i < n; i++) {
    size_t len = b[i].len;
    const char *p = b[i].base;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    p += skip;
    len -= skip;
    skip = 0;
    if (len && wsx__buf_append(dst, a, p, len) != WSX_OK)
      return WSX_E_NOMEM;
  }
  return WSX_OK;
}

static int start(wsx__out *o, uv_stream_t *st, uv_write_cb cb, int *uv_err) {
  uv_buf_t b[17]; /* up to 64 GiB of backlog in one write, + a payload */
  unsigned k = 0;
  int rc = UV_ENOBUFS;
  if (wsx__uv_bufs(b, 16, &k, o->inflight.data, o->inflight.len) ==
      o->inflight.len) {
    if (o->ref_len) /* at most WSX__UV_BUF_MAX (wsx__out_write_zc) */
      b[k++] = wsx__uv_buf(o->ref, o->ref_len);
    rc = k ? uv_write(&o->req, st, b, k, cb) : UV_EINVAL;
  }
  if (rc < 0) {
    o->inflight.len = 0;
    o->ref = NULL;
    o->ref_len = 0;
    *uv_err = rc;
    return WSX_E_IO;
  }
  o->writing = 1;
  return WSX_OK;
}

wsx__out *wsx__out_get(wsx__out **op, const wsx_allocator *a, void *data) {
  wsx__out *o = *op;
  if (!o && (o = wsx__malloc(a, sizeof(*o))) != NULL) {
    memset(o, 0, sizeof(*o));
    o->req.data = data;
    o->shut.data = data;
    *op = o;
  }
  return o;
}

int wsx__out_write(wsx__out **op, uv_stream_t *st, const wsx_allocator *a,
                   void *data, uv_write_cb cb, const uv_buf_t *b, unsigned n,
                   int *uv_err) {
  wsx__out *o = *op;
  size_t total = 0;
  unsigned i;
  int r;
  if (o && o->writing)
    return append(&o->pending, a, b, n, 0);
  for (i = 0; i < n; i++)
    total += b[i].len;
  if (total == 0)
    return WSX_OK;
  r = wsx__try_write(st, b, n);
  if (r == UV_EAGAIN || r == UV_ENOSYS)
    r = 0;
  if (r < 0) {
    *uv_err = r;
    return WSX_E_IO;
  }
  if ((size_t)r == total)
    return WSX_OK;
  if (!(o = wsx__out_get(op, a, data)))
    return WSX_E_NOMEM;
  if (append(&o->inflight, a, b, n, (size_t)r) < 0)
    return WSX_E_NOMEM;
  return start(o, st, cb, uv_err);
}

int wsx__out_write_zc(wsx__out **op, uv_stream_t *st, const wsx_allocator *a,
                      void *data, uv_write_cb cb, const uv_buf_t *b,
                      unsigned n, wsx__zc *z, int *uv_err) {
  wsx__out *o = *op;
  size_t total = 0, head, from;
  unsigned i;
  int r;
  if ((o && (o->writing || o->ref_zc.release)) || n == 0 || z->taken ||
      z->len > WSX__UV_BUF_MAX || b[n - 1].base != z->p ||
      b[n - 1].len != z->len)
    return wsx__out_write(op, st, a, data, cb, b, n, uv_err);
  for (i = 0; i < n; i++)
    total += b[i].len;
  r = wsx__try_write(st, b, n);
  if (r == UV_EAGAIN || r == UV_ENOSYS)
    r = 0;
  if (r < 0) {
    *uv_err = r;
    return WSX_E_IO;
  }
  if ((size_t)r == total)
    return WSX_OK;
  if (!(o = wsx__out_get(op, a, data)))
    return WSX_E_NOMEM;
  /* The bytes before the payload that the kernel did not take are copied
   * (a frame header, corked output); the payload's rest is referred to. */
  head = total - z->len;
  from = (size_t)r < head ? head : (size_t)r;
  if ((size_t)r < head && append(&o->inflight, a, b, n - 1, (size_t)r) < 0)
    return WSX_E_NOMEM;
  o->ref = (const char *)z->p + (from - head);
  o->ref_len = total - from;
  o->ref_zc = *z;
  z->taken = 1;
  r = start(o, st, cb, uv_err);
  if (r < 0) { /* not written: the caller releases it */
    memset(&o->ref_zc, 0, sizeof(o->ref_zc));
    z->taken = 0;
  }
  return r;
}

void wsx__out_release(wsx__out *o) {
  wsx__zc z = o->ref_zc;
  if (!o->ref_zc.release)
    return;
  memset(&o->ref_zc, 0, sizeof(o->ref_zc));
  z.release((void *)(uintptr_t)z.p, z.len, z.ud);
}

int wsx__out_next(wsx__out *o, uv_stream_t *st, uv_write_cb cb, int *uv_err) {
  wsx__buf t;
  int rc;
  if (!o->pending.len)
    return 0;
  t = o->inflight;
  o->inflight = o->pending;
  o->pending = t;
  o->pending.len = 0;
  rc = start(o, st, cb, uv_err);
  return rc < 0 ? rc : 1;
}

void wsx__out_free(wsx__out **op, const wsx_allocator *a) {
  wsx__out *o = *op;
  if (!o)
    return;
  wsx__out_release(o); /* never left behind, but released exactly once */
  wsx__buf_free(&o->inflight, a);
  wsx__buf_free(&o->pending, a);
  wsx__free(a, o);
  *op = NULL;
}
