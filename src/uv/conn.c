/*
 * The socket core: reading from the loop-wide buffer, corked and batched
 * writing (uv_try_write first, copy only what the kernel did not take),
 * buffering, deadlines, teardown and closing. What bytes, EOF, deadlines
 * and drains mean depends on the phase: the core calls the phase's table
 * of operations (wsx__phases, see uv/core.h); what ending a connection
 * means to the server, the dialer, the driver and the proxy handshake is
 * in their role tables (wsx__roles). The core knows nothing of servers,
 * proxies, clients or the driver (scripts/check-layers.sh checks it).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "uv/core.h"

static size_t round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

wsx_socket *wsx__sock_alloc(const wsx__cfg *cfg, int own_cfg) {
  /* A socket that may sleep has its handle and driver apart (they go
   * while it sleeps: uv/hibernate.c), room for its saved driver, and its
   * block from the loop's slab if the allocator is the default; any
   * other, one block. */
  int apart = cfg->hibernate_after != 0;
  size_t head = wsx__sock_head_size(cfg);
  size_t act = round16(sizeof(wsx__sock_act)) + cfg->drv_room;
  size_t sz = head + (apart ? 0 : act);
  wsx_socket *s = cfg->slab ? wsx__slab_get(cfg->slab)
                            : wsx__malloc(&cfg->alloc, sz);
  if (!s)
    return NULL;
  memset(s, 0, sz);
  if (cfg->slab)
    s->flags |= WSX__F_SLAB;
  if (apart) {
    if (!(s->act = wsx__malloc(&cfg->alloc, act))) {
      if (cfg->slab)
        wsx__slab_put(cfg->slab, s);
      else
        wsx__free(&cfg->alloc, s);
      return NULL;
    }
    memset(s->act, 0, act);
    s->flags |= WSX__F_ACT_APART;
  } else {
    s->act = (wsx__sock_act *)(void *)((char *)s + head);
  }
  s->zfd = -1;
  s->cfg = cfg;
  s->stream = (uv_stream_t *)&s->act->h;
  s->cb = &wsx__no_cbs;
  s->close_code = WSX_CLOSE_ABNORMAL;
  if (own_cfg)
    s->flags |= WSX__F_OWN_CFG;
  return s;
}

wsx__sock_rare *wsx__sock_rare_get(wsx_socket *s) {
  if (!s->rare && (s->rare = wsx__malloc(&s->cfg->alloc, sizeof(*s->rare))))
    memset(s->rare, 0, sizeof(*s->rare));
  return s->rare;
}

void *wsx_socket_ext(const wsx_socket *s) {
  return s->cfg->ext_size
             ? (char *)(uintptr_t)s + round16(sizeof(wsx_socket))
             : NULL;
}

/* ---- reading ---- */

/* A payload of at least this many bytes still to come is read straight
 * into the message buffer (the phase's rx_span) instead of the loop's
 * receive buffer, so it is not copied again before delivery. */
#define RX_SPAN_MIN 8192u
/* At most this much per read, so that the bytes are still in the cache
 * when they are unmasked and validated right after the read. */
#define RX_SPAN_MAX 131072u

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  wsx_socket *s = h->data;
  const wsx__rx_ops *ops = wsx__phase_rx[s->phase];
  size_t n = 0;
  char *p;
  (void)suggested;
  if (ops && !s->layer &&
      !(s->flags & (WSX__F_HANDLE_CLOSING | WSX__F_YIELD)) &&
      (p = ops->rx_span(s, RX_SPAN_MIN, &n)) != NULL) {
    b->base = p;
    b->len = n > RX_SPAN_MAX ? RX_SPAN_MAX : n;
    return;
  }
  b->base = s->cfg->ctx->rx;
  b->len = WSX__RBUF_SIZE;
}

static void uncork(wsx_socket *s);
static size_t buffered(const wsx_socket *s);
static void continue_teardown(wsx_socket *s);
static void check_backlog(wsx_socket *s, size_t before);

/* ---- roles ---- */

static void roles_drop(wsx_socket *s, uint16_t code, const char *reason) {
  unsigned i;
  for (i = 0; i < WSX__R_COUNT; i++)
    if (wsx__roles[i]->drop)
      wsx__roles[i]->drop(s, code, reason);
}

void wsx__sock_drop(wsx_socket *s, int err, const char *msg, uint16_t code,
                    const char *reason) {
  if (!wsx__sock_awake(s))
    return; /* dropped already (1011) */
  s->flags |= WSX__F_EOF;
  if (err)
    wsx__sock_error(s, err, 0, msg);
  roles_drop(s, code, reason);
  wsx__sock_close_handle(s);
}

void wsx__sock_timer_lost(wsx_socket *s) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  wsx__sock_drop(s, WSX_E_INTERNAL,
                 "the connection's deadline (handshake, close or keepalive "
                 "timeout) could not be armed",
                 0, NULL);
}

void wsx__sock_on_eof(wsx_socket *s, ssize_t err) {
  const wsx__phase_ops *ops = wsx__phases[s->phase];
  if (ops->on_eof)
    ops->on_eof(s, err);
  else
    wsx__sock_close_handle(s);
}

void wsx__sock_cork(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  if (c->cork_owner && c->cork_owner != s)
    uncork(c->cork_owner);
  c->cork_owner = s;
}

void wsx__sock_uncork_checked(wsx_socket *s, size_t before) {
  uncork(s);
  check_backlog(s, before);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  wsx_socket *s = st->data;
  size_t before;
  if (n == 0 || (s->flags & WSX__F_HANDLE_CLOSING))
    return;
  if (n < 0) {
    wsx__sock_on_eof(s, n);
    return;
  }
  s->flags |= WSX__F_RX_SEEN | WSX__F_ACTIVE;
  if (s->cfg->ctx->cork_owner && s->cfg->ctx->cork_owner != s)
    uncork(s->cfg->ctx->cork_owner);
  before = buffered(s);
  wsx__sock_turn_begin(s);
  wsx__sock_cork(s);
  if (b->base != s->cfg->ctx->rx && wsx__phase_rx[s->phase]) {
    /* read into the span on_alloc got from the phase */
    wsx__phase_rx[s->phase]->rx_commit(s, (size_t)n);
  } else if (s->layer) {
    int rc = s->layer->on_read(s, s->layer_state, b->base, (size_t)n);
    if (rc < 0) {
      wsx__sock_error(s, rc, 0, wsx_uv_strerror(rc));
      s->flags |= WSX__F_EOF;
      roles_drop(s, 0, NULL);
      wsx__sock_close_handle(s);
    }
  } else {
    wsx__sock_on_plain(s, b->base, (size_t)n);
  }
  wsx__sock_uncork_checked(s, before);
}

void wsx__sock_on_plain(wsx_socket *s, char *data, size_t len) {
  wsx__sock_feed(s, data, len); /* yield.c: the phase's on_data, sliced */
}

void wsx__sock_start_read(wsx_socket *s) {
  int rc;
  if (s->flags &
      (WSX__F_PAUSED | WSX__F_HANDLE_CLOSING | WSX__F_BACKLOG | WSX__F_YIELD))
    return;
  rc = WSX__LAYER_TRANSPORT(s->layer)
           ? s->layer->read_ctl(s, s->layer_state, 1)
           : uv_read_start(s->stream, on_alloc, on_read);
  if (rc < 0 && rc != UV_EALREADY) {
    wsx__sock_error(s, WSX_E_IO, 0, uv_strerror(rc));
    wsx__sock_close_handle(s);
  }
}

/* ---- writing ---- */

size_t wsx__sock_hwm(const wsx_socket *s) {
  const wsx__phase_ops *ops = wsx__phases[s->phase];
  return ops->hwm ? ops->hwm(s) : s->cfg->hwm;
}

/* wsx__sock_buffered, inlined on the read and send paths of conn.c. */
static inline size_t buffered(const wsx_socket *s) {
  size_t n = s->stream->write_queue_size;
  if (s->ps)
    n += wsx__pubsub_queued(s);
  if (s->out)
    n += s->out->pending.len;
  if (s->cfg->ctx->cork_owner == s)
    n += s->cfg->ctx->cork_len;
  if (s->layer && s->layer->buffered)
    n += s->layer->buffered(s, s->layer_state);
  return n;
}

size_t wsx__sock_buffered(const wsx_socket *s) { return buffered(s); }

/* Drops a peer that does not take our output: error `err`, close 1008
 * (policy) recorded and sent to the driver; the handle closes now. */
void wsx__sock_read_stop(wsx_socket *s) {
  if (WSX__LAYER_TRANSPORT(s->layer))
    (void)s->layer->read_ctl(s, s->layer_state, 0);
  else
    (void)uv_read_stop(s->stream);
}

static void drop_slow(wsx_socket *s, int err, const char *msg) {
  s->flags |= WSX__F_OVER_LIMIT | WSX__F_EOF;
  wsx__sock_error(s, err, WSX_CLOSE_POLICY, msg);
  wsx__sock_set_close(s, WSX_CLOSE_POLICY, msg, strlen(msg), 0);
  roles_drop(s, WSX_CLOSE_POLICY, msg);
  wsx__sock_close_handle(s);
}

static const char over_msg[] = "buffered amount exceeds max_buffered";

/*
 * After the bytes of one read were handled (`before`: the buffered amount
 * when they arrived): whatever they made us write (automatic pongs, close
 * replies, the application's answers, TLS records) counts like any send.
 * Past max_buffered the peer is dropped; when this read added output and
 * the total is above the high-water mark, reading stops until the output
 * drains (check_drain), so a peer that does not read cannot make us do
 * unbounded work. (Output the application queued on its own, e.g. a client
 * sending a large message, does not stop reading: the peer may be unable
 * to take it before we read what it sends, as an echo server is.)
 */
static void check_backlog(wsx_socket *s, size_t before) {
  size_t b;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  b = buffered(s);
  if (b > s->cfg->max_buffered) {
    drop_slow(s, WSX_E_POLICY, over_msg);
    return;
  }
  if (b > before && b > wsx__sock_hwm(s) && s->phase != WSX__P_TEARDOWN &&
      !(s->flags & WSX__F_BACKLOG)) {
    s->flags |= WSX__F_BACKLOG;
    wsx__sock_read_stop(s);
  }
}

static void check_drain(wsx_socket *s) {
  if (!(s->flags & (WSX__F_ABOVE_HWM | WSX__F_BACKLOG)) && !s->send_due)
    return;
  if (wsx__sock_buffered(s) > wsx__sock_hwm(s))
    return;
  if (s->send_due)
    wsx__send_due_set(s, 0);
  if (s->flags & WSX__F_BACKLOG) {
    s->flags &= ~WSX__F_BACKLOG;
    wsx__sock_start_read(s);
  }
  if (!(s->flags & WSX__F_ABOVE_HWM))
    return;
  s->flags &= ~WSX__F_ABOVE_HWM;
  if (wsx__phases[s->phase]->on_drain)
    wsx__phases[s->phase]->on_drain(s);
  else if (s->cb->drain && !(s->flags & WSX__F_HANDLE_CLOSING))
    s->cb->drain(s, s->ud);
}

void wsx__sock_on_send_timeout(wsx_socket *s) {
  if ((s->flags & WSX__F_HANDLE_CLOSING) || !wsx__sock_awake(s))
    return;
  drop_slow(s, WSX_E_TIMEOUT,
            "send_timeout: the peer did not read our output in time");
}

static void fail_io(wsx_socket *s, int err) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  s->flags |= WSX__F_EOF;
  wsx__sock_error(s, WSX_E_IO, 0, uv_strerror(err));
  wsx__sock_close_handle(s);
}

static void on_write(uv_write_t *req, int status);

static void release_out(wsx_socket *s) {
  wsx__out *o = s->out;
  if (!o || o->writing || (s->flags & WSX__F_SHUTDOWN))
    return;
  /* An idle connection holds no output memory. */
  wsx__out_free(&s->out, &s->cfg->alloc);
}

static void on_write(uv_write_t *req, int status) {
  wsx_socket *s = req->data;
  wsx__out *o = s->out;
  int rc, uv_err = 0;
  wsx__out_completed(o);
  if (status < 0) {
    if (status != UV_ECANCELED)
      fail_io(s, status);
    wsx__out_release(o);
    return;
  }
  rc = wsx__out_next(o, s->stream, on_write, &uv_err);
  wsx__out_release(o); /* what it sends now queues behind that write */
  if (rc < 0) {
    fail_io(s, uv_err);
    return;
  }
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return; /* the release callback closed the socket */
  if (rc == 0)
    release_out(s);
  check_drain(s);
  continue_teardown(s);
}

/* Writes now: the kernel takes what it can, the rest is queued. */
static int write_now(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  int uv_err = 0, rc;
  wsx__zc *z = s->cfg->ctx->zc;
  if (z && z->owner == s)
    rc = wsx__out_write_zc(&s->out, s->stream, &s->cfg->alloc, s, on_write,
                           b, n, z, &uv_err);
  else
    rc = wsx__out_write(&s->out, s->stream, &s->cfg->alloc, s, on_write, b,
                        n, &uv_err);
  if (rc == WSX_E_IO) {
    fail_io(s, uv_err);
    return uv_err;
  }
  /* send_timeout runs while the output stays above the high-water mark;
   * check_drain disarms it. */
  if (s->cfg->send_timeout && !s->send_due &&
      wsx__sock_buffered(s) > wsx__sock_hwm(s))
    wsx__send_due_set(s, uv_now(s->cfg->ctx->loop) + s->cfg->send_timeout);
  return rc;
}

/* Corked, but the bytes do not fit the cork buffer (or the socket is
 * writing): what the cork holds goes first, with them. */
static WSX__OUTLINE int write_past_cork(wsx_socket *s, const uv_buf_t *b,
                                        unsigned n) {
  wsx__loopctx *c = s->cfg->ctx;
  uv_buf_t arr[33];
  if (c->cork_len == 0)
    return write_now(s, b, n);
  arr[0] = wsx__uv_buf(c->cork, c->cork_len);
  c->cork_len = 0;
  if (n > 32) {
    int rc = write_now(s, arr, 1);
    return rc < 0 ? rc : write_now(s, b, n);
  }
  memcpy(arr + 1, b, n * sizeof(*b));
  return write_now(s, arr, n + 1);
}

int wsx__sock_raw_write(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  wsx__loopctx *c = s->cfg->ctx;
  size_t total = 0;
  unsigned i;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_E_CLOSED;
  if (c->cork_owner != s)
    return write_now(s, b, n);
  for (i = 0; i < n; i++)
    total += b[i].len;
  /* Corked: small output collects in the loop's cork buffer and leaves in
   * one write when the read callback ends. */
  if (!(s->out && s->out->writing) && total <= WSX__CORK_SIZE - c->cork_len) {
    for (i = 0; i < n; i++) {
      if (!b[i].len) /* an empty part may have a NULL base */
        continue;
      memcpy(c->cork + c->cork_len, b[i].base, b[i].len);
      c->cork_len += b[i].len;
    }
    return WSX_OK;
  }
  return write_past_cork(s, b, n);
}

/*
 * The last bytes of a connection that closes as soon as they are out (a
 * server's close reply after a clean closing handshake: WSX__F_NO_LINGER,
 * continue_teardown closes the handle right after this write): on Linux
 * they go with MSG_MORE, so the kernel holds them, and shutdown(SHUT_WR)
 * right after tacks our FIN onto their segment and sends it (RFC 6455
 * 7.1.1: the server closes first). One packet less per connection for
 * both ends, and the peer sees the close frame and the end of the stream
 * in one read event. The shutdown is what sends them: close() alone would
 * too, unless bytes the peer sent after its close frame are still unread,
 * in which case close() resets the connection and drops what it holds.
 * Returns how many bytes the kernel took; write_now() sends the rest (a
 * plain write, which pushes everything). 0: not that case, or an error
 * (write_now() reports it).
 */
static size_t write_last(wsx_socket *s, const uv_buf_t *b) {
#if defined(__linux__) && defined(MSG_MORE)
  uv_os_fd_t fd;
  ssize_t r;
  if (s->phase != WSX__P_TEARDOWN || !(s->flags & WSX__F_NO_LINGER) ||
      s->layer || s->stream->type != UV_TCP || (s->out && s->out->writing) ||
      s->stream->write_queue_size || wsx__pubsub_writes(s) ||
      uv_fileno((const uv_handle_t *)s->stream, &fd) != 0)
    return 0;
  do
    r = send(fd, b->base, b->len, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r <= 0)
    return 0;
  if ((size_t)r == b->len)
    (void)shutdown(fd, SHUT_WR); /* sends them with the FIN */
  return (size_t)r;
#else
  (void)s, (void)b;
  return 0;
#endif
}

static void uncork(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  uv_buf_t b;
  size_t done;
  if (c->cork_owner != s)
    return;
  c->cork_owner = NULL;
  if (c->cork_len) {
    b = wsx__uv_buf(c->cork, c->cork_len);
    c->cork_len = 0;
    if (!(s->flags & WSX__F_HANDLE_CLOSING) &&
        (done = write_last(s, &b)) < b.len) {
      b.base += done;
      b.len -= done;
      (void)write_now(s, &b, 1);
    }
  }
  if (!(s->flags & WSX__F_HANDLE_CLOSING)) {
    check_drain(s);
    continue_teardown(s);
  }
}

int wsx__sock_write(wsx_socket *s, const uv_buf_t *b, unsigned n) {
  s->flags |= WSX__F_ACTIVE; /* not idle: no sleep (uv/hibernate.c) */
  if (s->ps)
    wsx__pubsub_flush(s); /* publications queued before this write first */
  if (s->layer)
    return s->layer->write(s, s->layer_state, b, n);
  return wsx__sock_raw_write(s, b, n);
}

int wsx__sock_after_send(wsx_socket *s, int rc) {
  size_t b;
  if (rc < 0)
    return rc;
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return WSX_OK;
  b = buffered(s);
  if (b > s->cfg->max_buffered) {
    drop_slow(s, WSX_E_POLICY, over_msg);
    return WSX_E_POLICY; /* this call dropped the socket */
  }
  if (b > s->cfg->hwm) {
    s->flags |= WSX__F_ABOVE_HWM;
    return 1;
  }
  return 0;
}

void wsx__sock_written(wsx_socket *s) {
  check_drain(s);
  continue_teardown(s);
}

/* ---- teardown ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  wsx_socket *s = req->data;
  s->flags &= ~WSX__F_SHUTDOWN;
  if (status < 0 && status != UV_ECANCELED)
    wsx__sock_close_handle(s);
  else if (!(s->flags & WSX__F_HANDLE_CLOSING))
    release_out(s);
}

static void continue_teardown(wsx_socket *s) {
  wsx__out *o;
  int rc;
  if (s->phase != WSX__P_TEARDOWN ||
      (s->flags &
       (WSX__F_SHUTDOWN | WSX__F_HANDLE_CLOSING | WSX__F_FLUSH_CLOSE)))
    return;
  if (s->cfg->ctx->cork_owner == s && s->cfg->ctx->cork_len)
    return; /* uncork() comes back here */
  if ((s->out && s->out->writing) || wsx__pubsub_writes(s))
    return; /* on_write() / wsx__sock_written() come back here */
  if (s->flags & WSX__F_AWAIT_FIN)
    return; /* the peer closes first: its EOF or the linger closes */
  if (s->layer && s->layer->shutdown &&
      s->layer->shutdown(s, s->layer_state) < 0) {
    wsx__sock_close_handle(s);
    return;
  }
  if ((s->flags & WSX__F_NO_LINGER) || WSX__LAYER_TRANSPORT(s->layer) ||
      !(o = wsx__out_get(&s->out, &s->cfg->alloc, s))) {
    wsx__sock_close_handle(s); /* every byte is with the kernel now */
    return;
  }
  s->flags |= WSX__F_SHUTDOWN | WSX__F_FLUSH_CLOSE;
  rc = uv_shutdown(&o->shut, s->stream, on_shutdown);
  if (rc < 0) {
    s->flags &= ~WSX__F_SHUTDOWN;
    wsx__sock_close_handle(s);
  }
}

void wsx__sock_output_progress(wsx_socket *s) {
  if (s->flags & WSX__F_HANDLE_CLOSING)
    return;
  check_drain(s);
  continue_teardown(s);
}

void wsx__sock_teardown(wsx_socket *s) {
  uint32_t linger;
  if (s->flags & WSX__F_HANDLE_CLOSING || s->phase == WSX__P_TEARDOWN)
    return;
  s->phase = WSX__P_TEARDOWN;
  linger = s->cfg->close_timeout < WSX__LINGER_MS ? s->cfg->close_timeout
                                                  : WSX__LINGER_MS;
  wsx__timer_set(s, uv_now(s->cfg->ctx->loop) + linger);
  /* The peer's FIN only shows up while reading (what it sends now costs
   * nothing: the teardown phase ignores it). */
  s->flags &= ~(WSX__F_PAUSED | WSX__F_BACKLOG);
  wsx__sock_start_read(s);
  continue_teardown(s);
}

void wsx__sock_handle_closed(uv_handle_t *h) {
  wsx_socket *s = h->data;
  unsigned i;
  for (i = 0; i < WSX__R_COUNT; i++)
    if (wsx__roles[i]->handle_closed && wsx__roles[i]->handle_closed(s))
      return; /* the role finishes the socket later */
  wsx__sock_finalize(s);
}

void wsx__sock_close_handle(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  if ((s->flags & WSX__F_HANDLE_CLOSING) || !wsx__sock_awake(s))
    return;
  s->flags |= WSX__F_HANDLE_CLOSING;
  wsx__timer_set(s, 0);
  wsx__send_due_set(s, 0);
  if (s->flags & WSX__F_YIELD)
    wsx__yield_forget(s);
  if (s->ps)
    wsx__pubsub_leave_all(s);
  if (c->cork_owner == s) {
    c->cork_owner = NULL;
    c->cork_len = 0;
  }
  s->stream->data = s;
  /* A client between two connect attempts is already closing: the retry's
   * close callback finishes the job. */
  if (!uv_is_closing((uv_handle_t *)s->stream))
    uv_close((uv_handle_t *)s->stream, wsx__sock_handle_closed);
}

void wsx__sock_finalize(wsx_socket *s) {
  wsx__loopctx *c = s->cfg->ctx;
  const wsx_allocator *a = &s->cfg->alloc;
  wsx_allocator alloc = *a;
  /* The loop's (outlives the server, whose cfg may go below). */
  struct wsx__slab *slab = (s->flags & WSX__F_SLAB) ? s->cfg->slab : NULL;
  wsx_close_event e;
  unsigned i;
  for (i = 0; i < WSX__R_COUNT; i++)
    if (wsx__roles[i]->closing)
      wsx__roles[i]->closing(s);
  if (s->cb->close) {
    e.code = s->close_code;
    e.reason = s->rare && s->rare->close_reason ? s->rare->close_reason : "";
    e.reason_len = strlen(e.reason);
    e.clean = s->close_clean;
    s->cb->close(s, &e, s->ud);
  }
  wsx__pubsub_free(s); /* uses s->cfg: before the server may go */
  for (i = 0; i < WSX__R_COUNT; i++)
    if (wsx__roles[i]->gone)
      wsx__roles[i]->gone(s);
  wsx__out_free(&s->out, &alloc);
  if ((s->flags & WSX__F_ACT_APART) && s->act)
    wsx__free(&alloc, s->act); /* its handle has closed */
  if (s->layer && s->layer->free)
    s->layer->free(s, s->layer_state);
  if (s->rare) {
    wsx__buf_free(&s->rare->pend, &alloc);
    wsx__free(&alloc, s->rare->close_reason);
    wsx__free(&alloc, s->rare);
  }
  if (s->flags & WSX__F_OWN_CFG) {
    wsx__cfg *cfg = (wsx__cfg *)s->cfg;
    wsx__cfg_free(cfg);
    wsx__free(&alloc, cfg);
  }
  if (slab)
    wsx__slab_put(slab, s);
  else
    wsx__free(&alloc, s);
  wsx__loopctx_unref(c);
}

void wsx__sock_set_close(wsx_socket *s, uint16_t code, const char *reason,
                         size_t reason_len, int clean) {
  if (s->flags & WSX__F_CLOSED_SET)
    return;
  s->flags |= WSX__F_CLOSED_SET;
  s->close_code = code;
  s->close_clean = (uint8_t)(clean != 0);
  if (reason && reason_len && wsx__sock_rare_get(s)) /* OOM: reason "" */
    s->rare->close_reason = wsx__strndup(&s->cfg->alloc, reason, reason_len);
}

void wsx__sock_error(wsx_socket *s, int code, uint16_t close_code,
                     const char *msg) {
  wsx_error_event e;
  if (!s->cb->error)
    return;
  e.code = code;
  e.message = msg;
  e.close_code = close_code;
  s->cb->error(s, &e, s->ud);
}

/* ---- deadlines ---- */

void wsx__sock_on_timer(wsx_socket *s) {
  const wsx__phase_ops *ops = wsx__phases[s->phase];
  if (s->flags & WSX__F_ASLEEP) {
    if (s->flags & WSX__F_HANDLE_CLOSING) {
      wsx__hib_dead(s); /* its wake failed: finalized now */
      return;
    }
    if (wsx__sock_wake(s) < 0)
      return;
  }
  if (ops->on_timer)
    ops->on_timer(s);
  else /* handshake timeout, or the linger after our FIN */
    wsx__sock_close_handle(s);
}
