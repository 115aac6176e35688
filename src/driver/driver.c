/*
 * driver.c: driver lifecycle, accessors, sending, closing and the pre-open
 * queue. Framing is in frame.c, handshakes in handshake.c.
 */
#include "driver/driver_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const empty = "";

void wsx__driver_config(wsx_driver *d, const wsx_driver_options *o,
                        const wsx_allocator *a, const wsx_driver_callbacks *cb,
                        void *ud) {
  d->alloc = a;
  d->msg_alloc = a;
  d->cb = cb;
  d->ud = ud;
  d->max_length = o->max_length ? o->max_length : WSX_DEFAULT_MAX_LENGTH;
  d->max_frame_size = o->max_frame_size ? o->max_frame_size : d->max_length;
  d->max_fragments =
      o->max_fragments ? o->max_fragments : WSX_DEFAULT_MAX_FRAGMENTS;
  d->max_head = o->max_head_size ? o->max_head_size : WSX_HTTP_DEFAULT_MAX_HEAD;
  d->max_headers =
      o->max_headers ? o->max_headers : WSX_HTTP_DEFAULT_MAX_HEADERS;
  d->frag_threshold = o->fragmentation_threshold
                          ? o->fragmentation_threshold
                          : WSX_DEFAULT_FRAGMENTATION_THRESHOLD;
  d->frame_events = o->frame_events ? 1 : 0;
  d->fragment_out = o->fragment_outgoing_messages ? 1 : 0;
  d->allow_drafts = o->allow_drafts ? 1 : 0;
  d->secure = o->secure ? 1 : 0;
}

int wsx__driver_init(wsx_driver *d, const wsx_driver_options *o,
                     const wsx_allocator *a, const wsx_driver_callbacks *cb,
                     void *ud) {
  wsx__driver_config(d, o, a, cb, ud);
  if (!wsx__drx_get(d))
    goto oom;
  d->x->random = o->random;
  d->x->random_ud = o->random_ud;
  wsx__hs *hs = d->hs = wsx__malloc(d->alloc, sizeof *hs);
  if (!hs)
    goto oom;
  memset(hs, 0, sizeof *hs);
  if (o->protocols) {
    size_t n = 0;
    while (o->protocols[n])
      n++;
    hs->protocols = wsx__malloc(d->alloc, (n + 1) * sizeof(char *));
    if (!hs->protocols)
      goto oom;
    memset(hs->protocols, 0, (n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
      hs->protocols[i] =
          wsx__strndup(d->alloc, o->protocols[i], strlen(o->protocols[i]));
      if (!hs->protocols[i])
        goto oom;
    }
  }
  if (o->origin) {
    hs->origin = wsx__strndup(d->alloc, o->origin, strlen(o->origin));
    if (!hs->origin)
      goto oom;
  }
  return WSX_OK;
oom:
  return WSX_E_NOMEM;
}

static wsx_driver *driver_alloc(const wsx_driver_options *opts,
                                const wsx_driver_callbacks *cbs, void *ud) {
  /* Both structs are read through this library's layout: an older, smaller
   * one leaves its missing members zero (their defaults). */
  wsx_driver_options oc;
  wsx_driver_callbacks cc;
  if (WSX__STRUCT_IN(wsx_driver_options, &oc, opts) != WSX_OK ||
      WSX__STRUCT_IN(wsx_driver_callbacks, &cc, cbs) != WSX_OK)
    return NULL;
  wsx_allocator a;
  wsx__alloc_init(&a, oc.allocator);
  wsx__driver_box *b = wsx__malloc(&a, sizeof *b);
  if (!b)
    return NULL;
  memset(b, 0, sizeof *b);
  b->alloc = a;
  b->cb = cc;
  if (wsx__driver_init(&b->d, &oc, &b->alloc, &b->cb, ud) != WSX_OK) {
    wsx_driver_free(&b->d);
    return NULL;
  }
  return &b->d;
}

wsx_driver *wsx_driver_new_server(const wsx_driver_options *opts,
                                  const wsx_driver_callbacks *cbs,
                                  void *user_data) {
  wsx_driver *d = driver_alloc(opts, cbs, user_data);
  if (d) {
    d->role = WSX__SERVER_RAW;
    d->state = WSX__S_HEAD;
  }
  return d;
}

wsx__drx *wsx__drx_get(wsx_driver *d) {
  if (!d->x && (d->x = wsx__malloc(d->alloc, sizeof *d->x)) != NULL)
    memset(d->x, 0, sizeof *d->x);
  return d->x;
}

void wsx__hs_free(wsx_driver *d) {
  wsx__hs *hs = d->hs;
  if (!hs)
    return;
  const wsx_allocator *a = d->alloc;
  if (hs->protocols) {
    for (size_t i = 0; hs->protocols[i]; i++)
      wsx__free(a, hs->protocols[i]);
    wsx__free(a, hs->protocols);
  }
  wsx__free(a, hs->origin);
  wsx__buf_free(&hs->extra_headers, a);
  wsx__buf_free(&hs->body, a);
  wsx__buf_free(&hs->queue, a);
  wsx__free(a, hs->exts);
  wsx__free(a, hs->url_host_header);
  wsx__free(a, hs->url_path);
  wsx__free(a, hs->url_auth);
  wsx__free(a, hs);
  d->hs = NULL;
}

void wsx_driver_free(wsx_driver *d) {
  if (!d)
    return;
  const wsx_allocator a = *d->alloc;
  wsx__hs_free(d);
  wsx__free(&a, d->errmsg);
  wsx__free(&a, d->ctrl);
  wsx__free(&a, d->url);
  wsx__free(&a, d->protocol);
  wsx__free(&a, d->ext_value);
  wsx__budget_refund(d);
  wsx__buf_free(&d->msg, d->msg_alloc);
  if (d->x) {
    wsx__buf_free(&d->x->head, &a);
    wsx__free(&a, d->x->headers);
    wsx__buf_free(&d->x->scratch, &a);
    wsx__buf_free(&d->x->ext_out, &a);
    wsx__free(&a, d->x->pings);
    wsx__free(&a, d->x);
  }
  wsx__ext_free(d);
  if (!d->embedded)
    wsx__free(&a, d);
}

int wsx_driver_set_header(wsx_driver *d, const char *name, const char *value) {
  if (!d || !name || !value)
    return WSX_E_INVALID;
  if (d->started || !d->hs)
    return WSX_E_STATE;
  size_t nl = strlen(name), vl = strlen(value);
  if (!wsx_http_valid_name(name, nl) || !wsx_http_valid_value(value, vl))
    return WSX_E_HEADER_VALUE;
  wsx__buf *b = &d->hs->extra_headers;
  if (wsx__buf_reserve(b, d->alloc, nl + vl + 4))
    return WSX_E_NOMEM;
  memcpy(b->data + b->len, name, nl);
  b->len += nl;
  memcpy(b->data + b->len, ": ", 2);
  b->len += 2;
  memcpy(b->data + b->len, value, vl);
  b->len += vl;
  memcpy(b->data + b->len, "\r\n", 2);
  b->len += 2;
  return WSX_OK;
}

int wsx_driver_add_extension(wsx_driver *d, wsx_extension *ext) {
  if (!d || !ext || !ext->type)
    return WSX_E_INVALID;
  /* The type is kept by pointer, not copied: members past an older
   * struct_size must be treated as absent when any are added. */
  if (WSX__STRUCT_OK(wsx_extension_type, ext->type) != WSX_OK)
    return WSX_E_STRUCT_SIZE;
  if (d->started || !d->hs)
    return WSX_E_STATE;
  wsx_extension **e =
      wsx__realloc(d->alloc, d->hs->exts, (d->hs->num_exts + 1) * sizeof *e);
  if (!e)
    return WSX_E_NOMEM;
  e[d->hs->num_exts++] = ext;
  d->hs->exts = e;
  return WSX_OK;
}

int wsx_driver_start(wsx_driver *d) {
  if (!d)
    return WSX_E_INVALID;
  if (d->last_error && wsx_is_fatal(d->last_error))
    return d->last_error;
  /* Started already (or being started: a nested call from select_protocol
   * or write), or called from the write callback. */
  if (d->started || d->in_write)
    return WSX_E_STATE;
  if (!d->cb->write)
    return WSX_E_INVALID;
  if (d->role == WSX__CLIENT) {
    d->started = 1;
    return wsx__client_start(d);
  }
  if (d->state != WSX__S_REQUEST)
    return WSX_E_STATE;
  d->started = 1;
  return wsx__server_start(d);
}


int wsx_driver_parse(wsx_driver *d, uint8_t *data, size_t len) {
  if (!d || (!data && len))
    return WSX_E_INVALID;
  /* Re-entry (see driver.h): the input of the outer call is half consumed
   * and its frame state is live; nothing of the nested input is taken. */
  if (d->in_parse || d->in_write)
    return WSX_E_STATE;
  return wsx__parse_input(d, data, len);
}

/* The parse loop; also runs the bytes that followed the head at open. */
static int parse_loop(wsx_driver *d, uint8_t *data, size_t len);

int wsx__parse_input(wsx_driver *d, uint8_t *data, size_t len) {
  uint8_t outer = d->in_parse;
  d->in_parse = 1;
  int rc = parse_loop(d, data, len);
  d->in_parse = outer;
  return rc;
}

static int parse_loop(wsx_driver *d, uint8_t *data, size_t len) {
  while (len) {
    size_t used = 0;
    int rc;
    switch (d->state) {
    case WSX__S_HEAD:
      if (d->role == WSX__CLIENT) {
        if (!d->started)
          return WSX_E_STATE;
        rc = wsx__client_head(d, data, len, &used);
      } else {
        rc = wsx__server_head(d, data, len, &used);
      }
      if (rc < 0)
        return rc;
      data += used;
      len -= used;
      break;
    case WSX__S_REQUEST:
      /* Request known, start() not called yet: keep the bytes (bounded by
       * max_length) for start() or for the application (plain HTTP). */
      if (d->hs->body.len + len > d->max_length)
        return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, 0,
                         "request body larger than max_length");
      if (wsx__buf_append(&d->hs->body, d->alloc, data, len))
        return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
      return WSX_OK;
    case WSX__S_BODY76:
    case WSX__S_OPEN:
    case WSX__S_CLOSING:
      if (d->version != WSX__HYBI)
        return wsx__hixie_parse(d, data, len);
      return wsx__frame_parse(d, data, len);
    case WSX__S_CLOSED:
    default:
      return d->last_error && wsx_is_fatal(d->last_error) ? d->last_error
                                                          : WSX_E_CLOSED;
    }
  }
  return WSX_OK;
}

/* ---- output ------------------------------------------------------------ */

int wsx__driver_random(wsx_driver *d, void *buf, size_t n) {
  if (d->x && d->x->random)
    return d->x->random(buf, n, d->x->random_ud) == 0 ? 0 : -1;
  return wsx__random(buf, n);
}

int wsx__write(wsx_driver *d, const wsx_iovec *iov, size_t n) {
  uint8_t outer = d->in_write;
  d->in_write = 1;
  int rc = d->cb->write(d, iov, n, d->ud);
  d->in_write = outer;
  /* The bytes may be half out: the stream is broken, the driver fails
   * (error event, close event 1006, no close frame). */
  if (rc != 0)
    return wsx__fail(d, WSX_E_IO, 0, "write callback failed");
  return WSX_OK;
}

int wsx__write1(wsx_driver *d, const void *p, size_t n) {
  wsx_iovec v = {p, n};
  return wsx__write(d, &v, 1);
}

/* ---- events ------------------------------------------------------------ */

static void vset_error(wsx_driver *d, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vset_error(wsx_driver *d, const char *fmt, va_list ap) {
  if (!d->errmsg)
    d->errmsg = wsx__malloc(d->alloc, WSX__ERRMSG_LEN);
  if (d->errmsg)
    vsnprintf(d->errmsg, WSX__ERRMSG_LEN, fmt, ap);
}

void wsx__set_error(wsx_driver *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset_error(d, fmt, ap);
  va_end(ap);
}

const char *wsx__errmsg(const wsx_driver *d) {
  return d->errmsg ? d->errmsg : empty;
}

void wsx__fire_close(wsx_driver *d, uint16_t code, const char *reason,
                     size_t reason_len, int clean) {
  d->state = WSX__S_CLOSED;
  if (d->close_fired)
    return;
  d->close_fired = 1;
  char r[124];
  if (reason_len > sizeof r - 1)
    reason_len = sizeof r - 1;
  if (reason_len)
    memcpy(r, reason, reason_len);
  r[reason_len] = '\0';
  d->close_code = code;
  /* Queued pre-open messages and pending ping callbacks die with us. */
  if (d->hs)
    wsx__buf_free(&d->hs->queue, d->alloc);
  if (d->x)
    d->x->num_pings = 0;
  if (d->cb->close) {
    wsx_close_event e = {code, r, reason_len, clean};
    d->cb->close(d, &e, d->ud);
  }
}

/* The code a failure returns: always fatal (the driver is closed). */
static int fatal_code(int err) {
  if (err == WSX_E_NOMEM)
    return WSX_E_NOMEM_FATAL;
  return wsx_is_fatal(err) ? err : WSX_E_INTERNAL;
}

int wsx__fail(wsx_driver *d, int err, uint16_t close_code, const char *fmt,
              ...) {
  err = fatal_code(err);
  if (d->state == WSX__S_CLOSED)
    return d->last_error ? d->last_error : err;
  va_list ap;
  va_start(ap, fmt);
  vset_error(d, fmt, ap);
  va_end(ap);
  const char *msg = d->errmsg ? d->errmsg : "out of memory";
  d->last_error = err;
  int was_open = d->state == WSX__S_OPEN || d->state == WSX__S_CLOSING;
  int can_send = was_open && !d->close_sent && close_code &&
                 d->version == WSX__HYBI && d->cb->write;
  d->state = WSX__S_CLOSED; /* no events or output past this point */
  if (can_send) {
    /* The close reason is the rule broken, cut to 123 bytes on a UTF-8
     * boundary (our messages are ASCII). */
    size_t rl = strlen(msg);
    if (rl > 123)
      rl = 123;
    uint8_t payload[125];
    payload[0] = (uint8_t)(close_code >> 8);
    payload[1] = (uint8_t)(close_code & 0xff);
    memcpy(payload + 2, msg, rl);
    d->close_sent = 1;
    wsx__frame_send(d, WSX_OP_CLOSE, 1, 0, payload, rl + 2);
  }
  if (d->cb->error) {
    wsx_error_event e = {err, msg, can_send ? close_code : 0};
    d->cb->error(d, &e, d->ud);
  }
  wsx__fire_close(d, close_code ? close_code : WSX_CLOSE_ABNORMAL, msg,
                  strlen(msg), 0);
  return err;
}

/* Pre-open queue entry: [op u8][len u64][data]. */
static int queue_message(wsx_driver *d, int op, const void *data, size_t len) {
  uint8_t h[9];
  h[0] = (uint8_t)op;
  uint64_t l = len;
  memcpy(h + 1, &l, 8);
  if (wsx__buf_reserve(&d->hs->queue, d->alloc, 9 + len))
    return WSX_E_NOMEM;
  wsx__buf_append(&d->hs->queue, d->alloc, h, 9);
  wsx__buf_append(&d->hs->queue, d->alloc, data, len);
  return WSX_OK;
}

int wsx__open(wsx_driver *d) {
  d->state = WSX__S_OPEN;
  /* Messages sent before open and bytes that followed the head outlive the
   * handshake state. Sends made from callbacks now go straight out. */
  wsx__buf q = {0}, body = {0};
  if (d->hs) {
    q = d->hs->queue;
    body = d->hs->body;
    memset(&d->hs->queue, 0, sizeof q);
    memset(&d->hs->body, 0, sizeof body);
  }
  if (d->cb->open)
    d->cb->open(d, d->ud);
  /* The handshake state (and, for servers, the request) is not needed past
   * open: release it so an idle connection holds only framing state (see
   * wsx_driver_request). */
  wsx__hs_free(d);
  if (d->role != WSX__CLIENT && d->x) {
    wsx__drx *x = d->x;
    wsx__buf_free(&x->head, d->alloc);
    wsx__free(d->alloc, x->headers);
    x->headers = NULL;
    x->num_headers = 0;
    if (!x->random && !x->pings && !x->scratch.cap && !x->ext_out.cap) {
      wsx__free(d->alloc, x); /* an idle server connection holds none */
      d->x = NULL;
    }
  }
  size_t off = 0;
  int rc = WSX_OK;
  while (off + 9 <= q.len && d->state == WSX__S_OPEN) {
    int op = q.data[off];
    uint64_t l;
    memcpy(&l, q.data + off + 1, 8);
    const uint8_t *p = q.data + off + 9;
    off += 9 + (size_t)l;
    /* close() before open never queues: it ends the driver at once. */
    if (op == WSX_OP_PING || op == WSX_OP_PONG)
      rc = wsx__frame_send(d, op, 1, 0, p, (size_t)l);
    else if (d->version != WSX__HYBI)
      rc = wsx__hixie_send_text(d, p, (size_t)l);
    else
      rc = wsx__send_message(d, op & 0x0f, p, (size_t)l, (unsigned)op >> 4);
    if (rc)
      break;
  }
  wsx__buf_free(&q, d->alloc);
  if (!rc && body.len && d->state != WSX__S_CLOSED) {
    rc = wsx__parse_input(d, body.data, body.len);
    if (rc == WSX_E_CLOSED)
      rc = WSX_OK;
  }
  wsx__buf_free(&body, d->alloc);
  return rc;
}

/* ---- sending ----------------------------------------------------------- */

static int send_frames(wsx_driver *d, int opcode, unsigned rsv,
                       const uint8_t *p, size_t len);

static int send_state(wsx_driver *d) {
  if (d->in_write) /* from the write callback: the frame is half written */
    return WSX_E_STATE;
  if (d->state == WSX__S_OPEN)
    return 1;
  if (d->state == WSX__S_CLOSED || d->state == WSX__S_CLOSING ||
      (d->last_error && wsx_is_fatal(d->last_error)))
    return WSX_E_CLOSED;
  return 0; /* not open yet: queue */
}

int wsx__send_message(wsx_driver *d, int opcode, const void *data, size_t len,
                      unsigned flags) {
  unsigned rsv = 0;
  const uint8_t *p = data;
  if (d->ext.num_active) {
    int rc = wsx__ext_outgoing(d, opcode, p, len, flags, &rsv);
    /* An extension that failed mid-message (a compressor with context
     * takeover) has a state the peer cannot follow any more. */
    if (rc)
      return wsx__fail(d, rc == WSX_E_NOMEM ? rc : WSX_E_EXTENSION,
                       WSX_CLOSE_UNEXPECTED,
                       "extension failed on an outgoing message");
    p = d->x->ext_out.data;
    len = d->x->ext_out.len;
  }
  int rc = send_frames(d, opcode, rsv, p, len);
  if (d->x && d->x->ext_out.cap > 65536)
    wsx__buf_free(&d->x->ext_out, d->alloc);
  return rc;
}

static int send_frames(wsx_driver *d, int opcode, unsigned rsv,
                       const uint8_t *p, size_t len) {
  if (!d->fragment_out || len <= d->frag_threshold)
    return wsx__frame_send(d, opcode, 1, rsv, p, len);
  /* RSV bits of a message go on its first frame only (RFC 7692 6.1). */
  size_t off = 0;
  int op = opcode;
  while (off < len) {
    size_t n = len - off;
    if (n > d->frag_threshold)
      n = d->frag_threshold;
    int rc = wsx__frame_send(d, op, off + n == len, off ? 0 : rsv, p + off, n);
    if (rc)
      return rc;
    off += n;
    op = WSX_OP_CONTINUATION;
  }
  return WSX_OK;
}

static int send_data(wsx_driver *d, int op, const void *data, size_t len,
                     unsigned flags) {
  if (!d || (!data && len))
    return WSX_E_INVALID;
  int s = send_state(d);
  if (s < 0)
    return s;
  /* WSX_E_INVALID, not the fatal WSX_E_UTF8: the driver is unharmed. */
  if (op == WSX_OP_TEXT && !wsx__delivered_text(d, data, len) &&
      !wsx__utf8_valid(data, len))
    return WSX_E_INVALID;
  if (d->version != WSX__HYBI && op != WSX_OP_TEXT)
    return WSX_E_UNSUPPORTED;
  if (s == 0) /* the queue keeps the flags in the opcode's high bits */
    return queue_message(d, op | (int)(flags << 4), data, len);
  if (d->version != WSX__HYBI)
    return wsx__hixie_send_text(d, data, len);
  return wsx__send_message(d, op, data, len, flags);
}

int wsx_driver_send_text(wsx_driver *d, const char *data, size_t len) {
  return send_data(d, WSX_OP_TEXT, data, len, 0);
}

int wsx_driver_send_binary(wsx_driver *d, const void *data, size_t len) {
  return send_data(d, WSX_OP_BINARY, data, len, 0);
}

int wsx_driver_send(wsx_driver *d, int opcode, const void *data, size_t len,
                    unsigned flags) {
  if ((opcode != WSX_OP_TEXT && opcode != WSX_OP_BINARY) ||
      (flags & ~WSX_SEND_UNCOMPRESSED))
    return WSX_E_INVALID;
  return send_data(d, opcode, data, len, flags);
}

int wsx_driver_send_frame(wsx_driver *d, int opcode, int fin, const void *data,
                          size_t len) {
  if (!d || (!data && len))
    return WSX_E_INVALID;
  if (d->version != WSX__HYBI)
    return WSX_E_UNSUPPORTED;
  int s = send_state(d);
  if (s < 0)
    return s;
  if (s == 0)
    return WSX_E_STATE;
  switch (opcode) {
  case WSX_OP_CONTINUATION:
  case WSX_OP_TEXT:
  case WSX_OP_BINARY:
    break;
  case WSX_OP_PING:
  case WSX_OP_PONG:
  case WSX_OP_CLOSE:
    if (!fin || len > 125)
      return WSX_E_INVALID;
    break;
  default:
    return WSX_E_INVALID;
  }
  if (opcode == WSX_OP_CLOSE)
    d->close_sent = 1;
  return wsx__frame_send(d, opcode, fin ? 1 : 0, 0, data, len);
}

/* Checks shared by ping and pong; returns send_state() or an error. */
static int control_state(wsx_driver *d, const void *data, size_t len) {
  if (!d || (!data && len))
    return WSX_E_INVALID;
  if (d->version != WSX__HYBI)
    return WSX_E_UNSUPPORTED;
  if (len > 125)
    return WSX_E_TOO_BIG;
  return send_state(d);
}

int wsx_driver_ping(wsx_driver *d, const void *data, size_t len, wsx_ping_cb cb,
                    void *cb_arg) {
  int s = control_state(d, data, len);
  if (s < 0)
    return s;
  if (cb) {
    if (!wsx__drx_get(d))
      return WSX_E_NOMEM;
    if (d->x->num_pings >= WSX_MAX_PING_CALLBACKS)
      return WSX_E_BUSY;
    if (d->x->num_pings == d->x->cap_pings) {
      size_t cap = d->x->cap_pings ? d->x->cap_pings * 2 : 4;
      wsx__ping *p = wsx__realloc(d->alloc, d->x->pings, cap * sizeof *p);
      if (!p)
        return WSX_E_NOMEM;
      d->x->pings = p;
      d->x->cap_pings = cap;
    }
    wsx__ping *e = &d->x->pings[d->x->num_pings++];
    if (len)
      memcpy(e->data, data, len);
    e->len = (uint8_t)len;
    e->cb = cb;
    e->arg = cb_arg;
  }
  if (s == 0)
    return queue_message(d, WSX_OP_PING, data, len);
  return wsx__frame_send(d, WSX_OP_PING, 1, 0, data, len);
}

int wsx_driver_pong(wsx_driver *d, const void *data, size_t len) {
  int s = control_state(d, data, len);
  if (s < 0)
    return s;
  if (s == 0)
    return queue_message(d, WSX_OP_PONG, data, len);
  return wsx__frame_send(d, WSX_OP_PONG, 1, 0, data, len);
}

static int sendable_close_code(unsigned code) {
  return wsx__close_code_valid(code);
}

int wsx_driver_close(wsx_driver *d, uint16_t code, const char *reason) {
  if (!d)
    return WSX_E_INVALID;
  if (d->in_write)
    return WSX_E_STATE;
  if (!code)
    code = WSX_CLOSE_NORMAL;
  size_t rl = reason ? strlen(reason) : 0;
  if (!sendable_close_code(code) || rl > 123 ||
      (rl && !wsx__utf8_valid((const uint8_t *)reason, rl)))
    return WSX_E_INVALID;
  switch (d->state) {
  case WSX__S_CLOSED:
  case WSX__S_CLOSING:
    return WSX_E_CLOSED;
  case WSX__S_OPEN:
    break;
  default:
    /* Never opened: nothing to negotiate with the peer. */
    wsx__fire_close(d, code, reason, rl, 0);
    return WSX_OK;
  }
  if (d->version != WSX__HYBI)
    return wsx__hixie_close(d, code, reason, rl);
  uint8_t payload[125];
  payload[0] = (uint8_t)(code >> 8);
  payload[1] = (uint8_t)(code & 0xff);
  if (rl)
    memcpy(payload + 2, reason, rl);
  d->state = WSX__S_CLOSING;
  d->close_sent = 1;
  return wsx__frame_send(d, WSX_OP_CLOSE, 1, 0, payload, rl + 2);
}

void wsx_driver_abort(wsx_driver *d, uint16_t code, const char *reason) {
  if (!d || d->close_fired)
    return;
  wsx__fire_close(d, code ? code : WSX_CLOSE_ABNORMAL, reason,
                  reason ? strlen(reason) : 0, 0);
}

void wsx_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t h[20];
  wsx__sha1_2(key, key_len, guid, sizeof guid - 1, h);
  wsx__base64_encode(h, 20, out);
}
