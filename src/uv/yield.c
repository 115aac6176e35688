/*
 * Yielding while CPU-heavy input is decoded (issue 16). The driver is
 * synchronous: wsx_driver_parse() inflates whatever compressed input it is
 * given before it returns, and 1 KiB of DEFLATE can inflate to 1 MiB. So a
 * socket whose driver has negotiated extensions is fed in slices of
 * WSX__SLICE bytes; once its decoded output in this turn passes
 * WSX__TURN_WORK, the rest of the input is copied aside (at most one
 * read's worth), reading stops, and the socket waits in the loop's yield
 * queue. The loop context's idle handle gives every queued socket one more
 * turn per loop iteration, after the other sockets' I/O was served, until
 * its input is used up; then reading resumes. Without extensions the input
 * goes to the driver whole (nothing there is heavy), as before.
 */
#include <string.h>

#include "driver/embed.h"
#include "uv/internal.h"

#define WSX__SLICE 256u               /* compressed bytes per parse call */
#define WSX__TURN_WORK (256u * 1024u) /* decoded bytes per turn */
#define WSX__LOOP_WORK (1024u * 1024u) /* decoded bytes per loop tick */
#define WSX__INFLATE_MAX 1032u         /* DEFLATE's largest expansion */

/* Decoded bytes of the whole loop in this tick of its clock (uv_now, once
 * per iteration): with many sockets decoding at once, an iteration does at
 * most about WSX__LOOP_WORK of it, whatever their number. */
static size_t *loop_work(wsx__loopctx *c) {
  uint64_t now = uv_now(c->loop);
  if (now != c->work_ms) {
    c->work_ms = now;
    c->work = 0;
  }
  return &c->work;
}

static void on_idle(uv_idle_t *h);

void wsx__yield_enqueue(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  s->rare->ynext = NULL;
  if (c->yq_tail)
    c->yq_tail->rare->ynext = s;
  else
    c->yq = s;
  c->yq_tail = s;
  if (!uv_is_active((uv_handle_t *)&c->idle))
    uv_idle_start(&c->idle, on_idle);
}

void wsx__yield_forget(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  wsx_socket **pp, *prev = NULL;
  if (!s->rare) { /* never yielded nor parked (park makes s->rare) */
    s->flags &= ~WSX__F_YIELD;
    return;
  }
  for (pp = &c->yq; *pp; prev = *pp, pp = &(*pp)->rare->ynext)
    if (*pp == s) {
      *pp = s->rare->ynext;
      if (c->yq_tail == s)
        c->yq_tail = prev;
      break;
    }
  s->rare->ynext = NULL;
  s->flags &= ~WSX__F_YIELD;
  wsx__buf_free(&s->rare->pend, &s->cfg->alloc);
  if (s->flags & WSX__F_PARKED)
    wsx__budget_forget(s);
}

/* Sets data[0..len) aside in s->rare->pend. When it is the rest of the input
 * that resume() is feeding, that input's buffer is kept for it (moved to
 * the front) instead of a new one being allocated and the old one freed
 * at every turn: under many sockets yielding, that churn spread over a
 * heap fragmented by earlier connections kept pulling freed pages back in
 * (issue 16, tls_bombs after tls_idle). */
static int set_aside(wsx_socket *s, const char *data, size_t len) {
  wsx__loopctx *c = s->cfg->ctx;
  wsx__buf *in = c->resume_in;
  if (!wsx__sock_rare_get(s))
    return WSX_E_NOMEM;
  if (in && c->resume_sock == s && s->rare->pend.len == 0 && len &&
      (const uint8_t *)data >= in->data &&
      (const uint8_t *)data + len <= in->data + in->len) {
    memmove(in->data, data, len);
    in->len = len;
    wsx__buf_free(&s->rare->pend, &s->cfg->alloc);
    s->rare->pend = *in;
    memset(in, 0, sizeof(*in));
    return WSX_OK;
  }
  return wsx__buf_append(&s->rare->pend, &s->cfg->alloc, data, len);
}

/* Puts data[0..len) aside until the message budget has room for what it
 * may decode (budget.c wakes the socket). */
static void park(wsx_socket *s, const char *data, size_t len) {
  if (set_aside(s, data, len) != WSX_OK) {
    wsx__sock_error(s, WSX_E_NOMEM, WSX_CLOSE_UNEXPECTED, "out of memory");
    s->flags |= WSX__F_EOF;
    if (s->d)
      wsx_driver_abort(s->d, WSX_CLOSE_UNEXPECTED, "out of memory");
    wsx__sock_close_handle(s);
    return;
  }
  if (!(s->flags & WSX__F_YIELD)) {
    s->flags |= WSX__F_YIELD;
    wsx__sock_read_stop(s);
  }
  wsx__budget_park(s);
}

/* Puts data[0..len) aside and leaves the rest of this turn to others. */
static void yield(wsx_socket *s, const char *data, size_t len) {
  if (set_aside(s, data, len) != WSX_OK) {
    wsx__sock_error(s, WSX_E_NOMEM, WSX_CLOSE_UNEXPECTED, "out of memory");
    s->flags |= WSX__F_EOF;
    if (s->d)
      wsx_driver_abort(s->d, WSX_CLOSE_UNEXPECTED, "out of memory");
    wsx__sock_close_handle(s);
    return;
  }
  if (s->flags & WSX__F_YIELD)
    return; /* more plaintext of the same read (TLS) */
  s->flags |= WSX__F_YIELD;
  wsx__sock_read_stop(s);
  wsx__yield_enqueue(s);
}

/* The mark matters only to a sliced socket (see wsx__sock_feed): others
 * get no s->rare for it (a missing one reads as 0, as a fresh socket's). */
void wsx__sock_turn_begin(wsx_socket *s) {
  if (s->rare || (s->cfg->exts && s->d &&
                  *wsx_driver_extensions(s->d) != '\0' &&
                  wsx__sock_rare_get(s)))
    s->rare->turn_mark = s->d ? wsx_driver_decoded_bytes(s->d) : 0;
}

void wsx__sock_feed(wsx_socket *s, char *data, size_t len) {
  const wsx__phase_ops *ops;
  if (s->flags & WSX__F_YIELD) { /* already over its turn */
    yield(s, data, len);
    return;
  }
  while (len && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t n = len, *work = NULL;
    uint64_t dec = 0;
    /* (Extensions come from s->cfg->exts only: without them, none.) */
    int sliced = s->cfg->exts && s->phase == WSX__P_WS && s->d &&
                 *wsx_driver_extensions(s->d) != '\0';
    if (sliced) {
      work = loop_work(s->cfg->ctx);
      dec = wsx_driver_decoded_bytes(s->d);
      if (*work >= WSX__LOOP_WORK ||
          dec - (s->rare ? s->rare->turn_mark : 0) >= WSX__TURN_WORK) {
        yield(s, data, len);
        return;
      }
      if (n > WSX__SLICE)
        n = WSX__SLICE;
    }
    if (s->phase == WSX__P_WS && s->d && s->cfg->budget != SIZE_MAX &&
        (sliced || (s->flags & WSX__F_PARKED) ||
         !wsx__driver_input_unbuffered(s->d, (const uint8_t *)data, n))) {
      /* What this piece may add to the message, decoded: all of it, or
       * for compressed input DEFLATE's best ratio (1032:1) over it and
       * what the extension may have staged before it (64 bytes). Input
       * that is whole messages of one frame each (the common case) is
       * delivered from where it lies and asks for nothing. */
      int a = wsx__budget_admit(s, sliced ? (n + 64) * WSX__INFLATE_MAX : n);
      if (a == 0) {
        park(s, data, len);
        return;
      }
      if (a < 0)
        return; /* refused (1013): the rest is dropped */
    }
    ops = wsx__phases[s->phase];
    if (ops->on_data)
      ops->on_data(s, data, n);
    data += n;
    len -= n;
    if (work && s->d)
      *work += (size_t)(wsx_driver_decoded_bytes(s->d) - dec);
  }
}

/* One more turn for a queued socket. */
static void resume(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  wsx__buf in = s->rare->pend; /* queued: s->rare exists */
  size_t before;
  memset(&s->rare->pend, 0, sizeof(s->rare->pend));
  s->flags &= ~WSX__F_YIELD;
  if (s->flags & WSX__F_HANDLE_CLOSING) {
    wsx__buf_free(&in, &s->cfg->alloc);
    return;
  }
  before = wsx__sock_buffered(s);
  s->rare->turn_mark = s->d ? wsx_driver_decoded_bytes(s->d) : 0;
  wsx__sock_cork(s);
  c->resume_in = &in; /* set_aside may keep it */
  c->resume_sock = s;
  wsx__sock_feed(s, (char *)in.data, in.len);
  c->resume_in = NULL;
  c->resume_sock = NULL;
  wsx__buf_free(&in, &s->cfg->alloc);
  wsx__sock_uncork_checked(s, before);
  if (!(s->flags & WSX__F_YIELD))
    wsx__sock_start_read(s);
}

static void on_idle(uv_idle_t *h) {
  wsx__loopctx *c = h->data;
  wsx_socket *s, *last = c->yq_tail;
  /* Each socket queued now gets a turn, in order, while the loop's work
   * for this tick lasts; the others keep their place for the next. A
   * socket that yields again goes to the back. */
  while ((s = c->yq) && *loop_work(c) < WSX__LOOP_WORK) {
    c->yq = s->rare->ynext;
    if (!c->yq)
      c->yq_tail = NULL;
    s->rare->ynext = NULL;
    resume(s);
    if (s == last)
      break;
  }
  if (!c->yq)
    uv_idle_stop(&c->idle);
}
