/*
 * libuv's uv_buf_init() takes the length as `unsigned int` (and uv_buf_t's
 * length is a ULONG on Windows): a span longer than UINT_MAX bytes passed
 * through it loses its high bits, so a 4 GiB + 8 byte message would leave
 * as 8 bytes after a header announcing 4 GiB + 8. Every conversion from a
 * (pointer, size_t) span to uv_buf_t in src/uv goes through
 * wsx__uv_bufs(), which cuts such a span into several bufs.
 */
#ifndef WSX_SRC_UV_UVBUF_H
#define WSX_SRC_UV_UVBUF_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define WSX__UV_BUF_MAX ((size_t)UINT_MAX)

/* uv_buf_init() without the call into libuv (it is not inline there):
 * every message's write passes here. len <= WSX__UV_BUF_MAX. */
static inline uv_buf_t wsx__uv_buf(const void *p, size_t len) {
  uv_buf_t b;
  b.base = (char *)(uintptr_t)p;
#ifdef _WIN32
  b.len = (ULONG)len;
#else
  b.len = len;
#endif
  return b;
}

/* Appends to out[*n .. cap) bufs covering p[0 .. len), each at most
 * WSX__UV_BUF_MAX bytes, and advances *n. Returns the number of bytes of p
 * covered: len, or less when `out` filled up (the caller then writes what
 * it has and calls again for the rest). An empty span adds nothing. */
static inline size_t wsx__uv_bufs(uv_buf_t *out, unsigned cap, unsigned *n,
                                  const void *p, size_t len) {
  const char *c = p;
  size_t done = 0;
  while (done < len && *n < cap) {
    size_t k = len - done;
    if (k > WSX__UV_BUF_MAX)
      k = WSX__UV_BUF_MAX;
    out[(*n)++] = wsx__uv_buf(c + done, k);
    done += k;
  }
  return done;
}

/* The first server, socket or EventSource of the process sets SIGPIPE to
 * SIG_IGN if it is SIG_DFL (wsx_ignore_sigpipe(), once; see wsx/uv.h). */
void wsx__sigpipe_guard(void);

/* Number of bufs wsx__uv_bufs() needs for len bytes. */
static inline size_t wsx__uv_bufs_needed(size_t len) {
  return len / WSX__UV_BUF_MAX + (len % WSX__UV_BUF_MAX != 0);
}

#endif
