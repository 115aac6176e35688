/*
 * frame.c: RFC 6455 framing, receiving (frame_out.c encodes and sends).
 * Parsing is a push state machine over the caller's buffer: frame headers
 * are read in place when complete (or accumulated in d->hdr when split),
 * payloads are unmasked in place and validated as they arrive (so invalid
 * UTF-8 fails at the first bad byte even in an incomplete frame), and a
 * frame that is a whole message and lies entirely in the input is handed
 * to the application without a copy. A whole small frame, the common
 * case, takes one step (small_frame) with the state machine's outcome.
 */
#include "driver/driver_int.h"

#include <stdio.h>
#include <string.h>

/* ---- receive ----------------------------------------------------------- */

static size_t header_size(uint8_t b1) {
  size_t n = 2;
  uint8_t l = b1 & 0x7f;
  if (l == 126)
    n += 2;
  else if (l == 127)
    n += 8;
  if (b1 & 0x80)
    n += 4;
  return n;
}

static int is_control(int op) { return op >= 8; }

/* Rules that the first two header bytes decide (checked as soon as they
 * arrive, before the rest of the header). */
static int check_first2(wsx_driver *d, uint8_t b0, uint8_t b1) {
  int op = b0 & 0x0f;
  unsigned rsv = b0 & 0x70;
  int fin = b0 >> 7;
  int masked = b1 >> 7;
  switch (op) {
  case WSX_OP_CONTINUATION:
  case WSX_OP_TEXT:
  case WSX_OP_BINARY:
  case WSX_OP_CLOSE:
  case WSX_OP_PING:
  case WSX_OP_PONG:
    break;
  default:
    /* RFC 6455 5.2: reserved opcodes 0x3-0x7 and 0xB-0xF. */
    return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                     "reserved opcode 0x%x", (unsigned)op);
  }
  if (is_control(op)) {
    /* RFC 6455 5.5: control frames are never fragmented, carry at most
     * 125 bytes, and (RFC 7692 6.1) never have RSV bits from extensions. */
    if (!fin)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "fragmented control frame (opcode 0x%x)", (unsigned)op);
    if ((b1 & 0x7f) > 125)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "control frame payload longer than 125 bytes");
    if (rsv)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "RSV bits set on a control frame");
  } else if (op == WSX_OP_CONTINUATION) {
    /* RFC 6455 5.4: a continuation must follow an unfinished message. */
    if (!d->msg_op)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "continuation frame without a message to continue");
    if (rsv)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "RSV bits set on a continuation frame");
  } else {
    if (d->msg_op)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "new data frame while a fragmented message is "
                       "unfinished (expected continuation)");
    /* RFC 6455 5.2: RSV bits MUST be 0 unless an extension defines them. */
    if (rsv & ~(unsigned)d->ext.rsv)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "RSV bits 0x%x set without a negotiated extension",
                       rsv >> 4);
  }
  /* RFC 6455 5.1: client frames MUST be masked, server frames MUST NOT. */
  if (d->role == WSX__CLIENT && masked)
    return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                     "masked frame from server");
  if (d->role != WSX__CLIENT && !masked)
    return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                     "unmasked frame from client");
  return WSX_OK;
}

/* A wire-size limit, with slack for compressed messages (see begin_frame). */
static uint64_t wire_limit(uint64_t lim, int packed) {
  if (!packed)
    return lim;
  uint64_t slack = lim / 8 + 1024;
  return lim > UINT64_MAX - slack ? UINT64_MAX : lim + slack;
}

static WSX__INLINE int begin_frame(wsx_driver *d, const uint8_t *h) {
  d->f_op = h[0] & 0x0f;
  d->f_fin = h[0] >> 7;
  d->f_rsv = h[0] & 0x70;
  d->f_masked = h[1] >> 7;
  uint64_t len = h[1] & 0x7f;
  size_t i = 2;
  if (len == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
    i = 4;
  } else if (len == 127) {
    len = 0;
    for (i = 2; i < 10; i++)
      len = len << 8 | h[i];
    /* RFC 6455 5.2: the most significant bit MUST be 0. */
    if (len >> 63)
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "64-bit payload length with the high bit set");
  }
  if (d->f_masked)
    memcpy(d->mask, h + i, 4);
  d->f_len = len;
  d->f_got = 0;
  d->in_payload = 1;
  if (is_control(d->f_op))
    return WSX_OK;
  /* Limits are checked on the announced length, before any allocation.
   * A message compressed by a negotiated extension (its RSV bit set) is
   * held to max_length as it is decoded (extpipe's sink); on the wire it
   * may be a little longer than decoded (DEFLATE expands incompressible
   * data by at most 1/8 with fixed codes), so the wire limits get that
   * slack for it, and a message of exactly max_length bytes still fits. */
  unsigned mrsv = d->f_op == WSX_OP_CONTINUATION ? d->msg_rsv : d->f_rsv;
  int packed = (mrsv & d->ext.rsv) != 0;
  uint64_t max_frame = wire_limit(d->max_frame_size, packed);
  uint64_t max_wire = wire_limit(d->max_length, packed);
  if (d->f_op != WSX_OP_CONTINUATION) {
    d->msg_op = d->f_op;
    d->msg_rsv = d->f_rsv;
    d->msg_ext = d->ext.num_active && (d->ext.always || (d->f_rsv & d->ext.rsv));
    d->msg_frames = 1;
    d->msg_len = 0;
    d->msg_wire = 0;
    d->msg_ext_first = 1;
    d->msg.len = 0;
    d->utf8.state = 0;
  } else if (++d->msg_frames > d->max_fragments) {
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "message has more than %u fragments",
                     (unsigned)d->max_fragments);
  }
  /* The message limit first: when only max_length is set (the frame limit
   * defaults to it), the error names the limit the application chose. */
  if (len > max_wire - d->msg_wire)
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "message exceeds max_length (%llu bytes)",
                     (unsigned long long)d->max_length);
  if (len > max_frame)
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "frame of %llu bytes exceeds the frame size limit "
                     "(%llu)",
                     (unsigned long long)len, (unsigned long long)max_frame);
  d->msg_wire += len;
  return WSX_OK;
}

static int fail_utf8(wsx_driver *d, uint64_t at) {
  return wsx__fail(d, WSX_E_UTF8, WSX_CLOSE_INVALID_DATA,
                   "invalid UTF-8 in text message at byte %llu",
                   (unsigned long long)at);
}

/* Appends to the message buffer, doubling it but never past max_length
 * when the message fits, so a message near the limit (a decompression bomb
 * cut off there) costs at most max_length bytes, not twice that. Growth
 * asks the budget hook first: WSX_E_BUSY when it refuses (budget_code). */
static int msg_buf_reserve(wsx_driver *d, size_t n) {
  wsx__buf *b = &d->msg;
  if (n && b->cap - b->len < n) {
    if (n > SIZE_MAX / 2 - b->len)
      return WSX_E_NOMEM;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    size_t grow = 0;
    while (cap < need)
      cap *= 2;
    if (cap > d->max_length && need <= d->max_length)
      cap = (size_t)d->max_length;
    if (d->budget_cb && cap > d->budget_held) {
      grow = cap - d->budget_held;
      uint16_t code = d->budget_cb(d, (int64_t)grow, d->budget_ud);
      if (code) {
        d->budget_code = code;
        return WSX_E_BUSY;
      }
      d->budget_held += grow;
    }
    uint8_t *q = wsx__realloc(d->msg_alloc, b->data, cap);
    if (!q) {
      if (grow) {
        d->budget_held -= grow;
        (void)d->budget_cb(d, -(int64_t)grow, d->budget_ud);
      }
      return WSX_E_NOMEM;
    }
    b->data = q;
    b->cap = cap;
  }
  return WSX_OK;
}

static int msg_buf_append(wsx_driver *d, const uint8_t *p, size_t n) {
  int rc = msg_buf_reserve(d, n);
  return rc ? rc : wsx__buf_append(&d->msg, d->msg_alloc, p, n);
}

/* The message failed for its size: its buffer goes back at once (the
 * driver parses nothing more), not when the connection is freed. */
static int drop_msg(wsx_driver *d, int rc) {
  d->msg.len = 0;
  wsx__budget_refund(d);
  wsx__buf_free(&d->msg, d->msg_alloc);
  return rc;
}

/* The budget hook refused to grow the message buffer. */
static int fail_budget(wsx_driver *d) {
  return drop_msg(d, wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, d->budget_code,
                   d->budget_code == WSX_CLOSE_TRY_AGAIN_LATER
                       ? "message refused: the memory budget for incoming "
                         "messages is exhausted"
                       : "message exceeds this connection's share of the "
                         "memory budget for incoming messages"));
}

int wsx_driver_fail_budget(wsx_driver *d, uint16_t code) {
  d->budget_code = code;
  return fail_budget(d);
}

int wsx__msg_append(wsx_driver *d, const uint8_t *p, size_t n) {
  /* An extension's output comes in pieces whose sizes depend on how the
   * input was split; to report the same error at every split, the earlier
   * of the two in byte order wins: invalid UTF-8 within the limit, else
   * the limit. */
  uint64_t room = d->max_length - d->msg_len;
  size_t fits = n > room ? (size_t)room : n;
  if (d->msg_op == WSX_OP_TEXT) {
    long bad = wsx__utf8_validate(&d->utf8, p, fits);
    if (bad >= 0) {
      d->msg_len += (uint64_t)bad;
      return WSX_E_UTF8;
    }
  }
  if (fits < n)
    return WSX_E_MESSAGE_TOO_BIG;
  int rc = msg_buf_append(d, p, n);
  if (rc)
    return rc;
  d->msg_len += n;
  d->rx_decoded += n;
  return WSX_OK;
}

static int ext_error(wsx_driver *d, int rc) {
  switch (rc) {
  case WSX_E_MESSAGE_TOO_BIG:
    return drop_msg(d, wsx__fail(d, rc, WSX_CLOSE_TOO_LARGE,
                                 "message exceeds max_length (%llu bytes) "
                                 "after decompression",
                                 (unsigned long long)d->max_length));
  case WSX_E_UTF8:
    return fail_utf8(d, d->msg_len);
  case WSX_E_NOMEM:
    return wsx__fail(d, rc, WSX_CLOSE_UNEXPECTED, "out of memory");
  case WSX_E_BUSY:
    return fail_budget(d);
  default: {
    if (d->state == WSX__S_CLOSED)
      return d->last_error;
    char why[WSX__ERRMSG_LEN];
    snprintf(why, sizeof why, "%s",
             d->errmsg && d->errmsg[0] ? d->errmsg : "corrupt data");
    return wsx__fail(d, WSX_E_EXTENSION, WSX_CLOSE_INVALID_DATA,
                     "extension failed to process the message: %.100s", why);
  }
  }
}

static void deliver(wsx_driver *d, const uint8_t *p, size_t n, int fin,
                    size_t room) {
  wsx_message m;
  const uint8_t *outer = d->deliver_p;
  uint8_t outer_room = d->deliver_room;
  d->deliver_p = p; /* wsx_driver_take_message() may take d->msg */
  d->deliver_room = (uint8_t)room;
  m.data = p;
  m.len = n;
  if (d->frame_events) {
    m.opcode = d->f_op;
    m.fin = fin;
    m.rsv = d->f_rsv;
    if (d->cb->frame)
      d->cb->frame(d, &m, d->ud);
  } else {
    m.opcode = d->msg_op;
    m.fin = 1;
    m.rsv = 0;
    if (d->cb->message)
      d->cb->message(d, &m, d->ud);
  }
  d->deliver_p = outer;
  d->deliver_room = outer_room;
}

int wsx__delivered_text(const wsx_driver *d, const void *data, size_t len) {
  return data == d->deliver_p && len && len == d->msg_len &&
         d->msg_op == WSX_OP_TEXT && !d->frame_events &&
         d->version == WSX__HYBI && d->in_parse;
}

/* A chunk of data-frame payload, already unmasked. *delivered is set when
 * the chunk was handed to the application directly (zero copy). `room`:
 * the bytes before p that held this frame's header in the same input (0
 * if it was split), which a send of the payload may reuse. */
static int data_chunk(wsx_driver *d, const uint8_t *p, size_t n, size_t room,
                      int *delivered) {
  if (d->msg_ext) {
    unsigned flags = d->msg_ext_first ? WSX_EXT_FIRST : 0;
    d->msg_ext_first = 0;
    int rc = wsx__ext_incoming(d, p, n, flags);
    return rc ? ext_error(d, rc) : WSX_OK;
  }
  if (d->msg_op == WSX_OP_TEXT) {
    long bad = wsx__utf8_validate(&d->utf8, p, n);
    if (bad >= 0)
      return fail_utf8(d, d->msg_len + (uint64_t)bad);
  }
  /* Whole frame in this chunk, and either frame mode or a single-frame
   * message: hand out the caller's buffer. */
  if (n == d->f_len && d->f_got == 0 &&
      (d->frame_events || (d->f_fin && d->msg_frames == 1))) {
    if (d->f_fin && d->msg_op == WSX_OP_TEXT && d->utf8.state != 0)
      return fail_utf8(d, d->msg_len + n);
    d->msg_len += n;
    *delivered = 1;
    deliver(d, p, n, d->f_fin, room);
    return WSX_OK;
  }
  int rc = msg_buf_append(d, p, n);
  if (rc == WSX_E_BUSY)
    return fail_budget(d);
  if (rc)
    return wsx__fail(d, WSX_E_NOMEM, WSX_CLOSE_UNEXPECTED, "out of memory");
  d->msg_len += n;
  return WSX_OK;
}

static void release_msg_buffer(wsx_driver *d) {
  d->msg.len = 0;
  if (d->msg.cap > KEEP_BUFFER_MAX) {
    wsx__budget_refund(d);
    wsx__buf_free(&d->msg, d->msg_alloc);
  }
}

static int end_data_frame(wsx_driver *d, int delivered) {
  int fin = d->f_fin;
  if (d->msg_ext && fin) {
    unsigned flags = WSX_EXT_LAST | (d->msg_ext_first ? WSX_EXT_FIRST : 0);
    d->msg_ext_first = 0;
    int rc = wsx__ext_incoming(d, NULL, 0, flags);
    if (rc)
      return ext_error(d, rc);
  }
  if (fin && d->msg_op == WSX_OP_TEXT && d->utf8.state != 0)
    return fail_utf8(d, d->msg_len);
  if (!delivered && (d->frame_events || fin))
    deliver(d, d->msg.data, d->msg.len, fin, 0);
  if (d->frame_events)
    d->msg.len = 0;
  if (fin) {
    d->msg_op = 0;
    release_msg_buffer(d);
  }
  return WSX_OK;
}

static void fire_pong_callbacks(wsx_driver *d, const uint8_t *p, size_t n) {
  for (size_t i = 0; d->x && i < d->x->num_pings; i++) {
    wsx__ping *e = &d->x->pings[i];
    if (e->len == n && (n == 0 || memcmp(e->data, p, n) == 0)) {
      wsx_ping_cb cb = e->cb;
      void *arg = e->arg;
      memmove(e, e + 1, (d->x->num_pings - i - 1) * sizeof *e);
      d->x->num_pings--;
      cb(d, arg);
      return;
    }
  }
}

static int end_control_frame(wsx_driver *d) {
  const uint8_t *p = d->ctrl_p;
  size_t n = (size_t)d->f_len;
  switch (d->f_op) {
  case WSX_OP_PING:
    /* RFC 6455 5.5.2: answer with a pong carrying the same payload (not
     * after our close frame: nothing more may follow it). */
    if (d->state == WSX__S_OPEN) {
      int rc = wsx__frame_send(d, WSX_OP_PONG, 1, 0, p, n);
      if (rc)
        return rc;
    }
    if (d->cb->ping)
      d->cb->ping(d, p, n, d->ud);
    return WSX_OK;
  case WSX_OP_PONG:
    if (d->cb->pong)
      d->cb->pong(d, p, n, d->ud);
    fire_pong_callbacks(d, p, n);
    return WSX_OK;
  default:
    break;
  }
  /* Close (RFC 6455 5.5.1, 7.1.5). */
  unsigned code = WSX_CLOSE_NO_STATUS;
  const char *reason = "";
  size_t rl = 0;
  if (n == 1)
    return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                     "close frame with a 1-byte payload");
  if (n >= 2) {
    code = (unsigned)p[0] << 8 | p[1];
    if (!wsx__close_code_valid(code))
      return wsx__fail(d, WSX_E_PROTOCOL, WSX_CLOSE_PROTOCOL_ERROR,
                       "invalid close code %u", code);
    reason = (const char *)p + 2;
    rl = n - 2;
    if (!wsx__utf8_valid(p + 2, rl))
      return wsx__fail(d, WSX_E_UTF8, WSX_CLOSE_INVALID_DATA,
                       "invalid UTF-8 in close reason");
  }
  if (d->state == WSX__S_OPEN && !d->close_sent) {
    /* Echo the status code (RFC 6455 5.5.1). */
    d->close_sent = 1;
    int rc = wsx__frame_send(d, WSX_OP_CLOSE, 1, 0, p, n >= 2 ? 2 : 0);
    if (rc)
      return rc;
  }
  wsx__fire_close(d, (uint16_t)code, reason, rl, 1);
  return WSX_OK;
}

/*
 * The common case in one step: a whole final text or binary frame with a
 * 7- or 16-bit length, masked (from a client), no RSV bit, no extension
 * negotiated, no fragmented message open, messages (not frames)
 * delivered, and all of it in the input. Such a frame passes check_first2
 * by construction, and needs neither header gathering nor the payload
 * loop. Its fields and limits are begin_frame's; the rest is what
 * data_chunk and end_data_frame do for such a frame (UTF-8, in-place
 * delivery, the message closed), written out for it. The conformance
 * suite's whole/split comparison holds the two paths to the same outcome.
 * *used: the frame's bytes, or 0 when this input is not that case and the
 * loop takes it.
 */
static int small_frame(wsx_driver *d, uint8_t *p, size_t avail,
                       size_t *used) {
  uint8_t b0 = p[0], b1 = p[1];
  size_t n = b1 & 0x7f, hl = 6;
  uint8_t *pl;
  int rc;
  *used = 0;
  if ((b0 != (0x80 | WSX_OP_TEXT) && b0 != (0x80 | WSX_OP_BINARY)) ||
      !(b1 & 0x80) || n == 127 || d->role == WSX__CLIENT || d->msg_op ||
      d->frame_events || d->ext.num_active)
    return WSX_OK;
  if (n == 126) {
    if (avail < 8)
      return WSX_OK;
    n = (size_t)p[2] << 8 | p[3];
    hl = 8;
  }
  if (avail - hl < n)
    return WSX_OK;
  *used = hl + n;
  if ((rc = begin_frame(d, p)) != 0)
    return rc;
  /* data_chunk and end_data_frame, for a whole single-frame message
   * without an extension. */
  pl = p + hl;
  wsx__unmask(pl, n, d->mask, 0);
  if (d->f_op == WSX_OP_TEXT) {
    long bad = wsx__utf8_validate(&d->utf8, pl, n);
    if (bad >= 0)
      return fail_utf8(d, (uint64_t)bad);
    if (d->utf8.state != 0)
      return fail_utf8(d, n);
  }
  d->msg_len = n;
  deliver(d, pl, n, 1, hl);
  d->f_got = n;
  d->in_payload = 0;
  if (d->state != WSX__S_CLOSED) {
    d->msg_op = 0;
    release_msg_buffer(d);
  }
  return WSX_OK;
}

int wsx__frame_parse(wsx_driver *d, uint8_t *p, size_t len) {
  uint8_t *end = p + len;
  size_t room = 0; /* the current frame's header lies in place before p */
  while (p < end) {
    if (d->state == WSX__S_CLOSED)
      return d->last_error && wsx_is_fatal(d->last_error) ? d->last_error
                                                          : WSX_OK;
    int rc;
    if (!d->in_payload) {
      const uint8_t *h;
      size_t avail = (size_t)(end - p);
      if (d->hdr_len == 0 && avail >= 6) {
        size_t used;
        if ((rc = small_frame(d, p, avail, &used)) != 0)
          return rc;
        if (used) {
          p += used;
          continue;
        }
      }
      if (d->hdr_len == 0 && avail >= 2 && avail >= header_size(p[1])) {
        if ((rc = check_first2(d, p[0], p[1])) != 0)
          return rc;
        h = p;
        room = header_size(p[1]);
        p += room;
      } else {
        room = 0;
        /* Split header: gather it in d->hdr. */
        if (d->hdr_len < 2) {
          d->hdr[d->hdr_len++] = *p++;
          if (d->hdr_len < 2)
            continue;
          if ((rc = check_first2(d, d->hdr[0], d->hdr[1])) != 0)
            return rc;
          avail = (size_t)(end - p);
        }
        size_t need = header_size(d->hdr[1]) - d->hdr_len;
        size_t take = need < avail ? need : avail;
        memcpy(d->hdr + d->hdr_len, p, take);
        d->hdr_len = (uint8_t)(d->hdr_len + take);
        p += take;
        if (take < need)
          return WSX_OK;
        h = d->hdr;
      }
      d->hdr_len = 0;
      if ((rc = begin_frame(d, h)) != 0)
        return rc;
      if (d->f_len != 0)
        continue;
    }
    size_t n = (size_t)(end - p);
    if (n > d->f_len - d->f_got)
      n = (size_t)(d->f_len - d->f_got);
    if (d->f_masked)
      wsx__unmask(p, n, d->mask, (size_t)(d->f_got & 3));
    int delivered = 0;
    if (is_control(d->f_op)) {
      if (n == d->f_len) {
        d->ctrl_p = p; /* whole payload in the input: use it in place */
      } else {
        if (!d->ctrl && !(d->ctrl = wsx__malloc(d->alloc, 125)))
          return wsx__fail(d, WSX_E_NOMEM, WSX_CLOSE_UNEXPECTED,
                           "out of memory");
        memcpy(d->ctrl + d->f_got, p, n);
        d->ctrl_p = d->ctrl;
      }
    } else if (n || d->f_len == 0) {
      if ((rc = data_chunk(d, p, n, d->f_got ? 0 : room, &delivered)) != 0)
        return rc;
      if (delivered)
        d->f_got = d->f_len; /* mark the frame complete */
    }
    d->f_got += delivered ? 0 : n;
    p += n;
    if (d->f_got < d->f_len)
      continue;
    d->in_payload = 0;
    if (d->state == WSX__S_CLOSED)
      continue;
    if (is_control(d->f_op))
      rc = end_control_frame(d);
    else
      rc = end_data_frame(d, delivered);
    if (rc)
      return rc;
  }
  return WSX_OK;
}

/* ---- zero-copy receive (wsx_driver_recv_buffer, driver.h) ---- */

/* A data frame's payload that is collected as it is (no extension) and
 * whose next `left` bytes may be read straight into the message buffer. */
static int rx_direct(const wsx_driver *d, uint64_t *left) {
  if ((d->state != WSX__S_OPEN && d->state != WSX__S_CLOSING) ||
      d->version != WSX__HYBI || !d->in_payload || is_control(d->f_op) ||
      d->msg_ext)
    return 0;
  *left = d->f_len - d->f_got;
  return 1;
}

uint8_t *wsx__frame_rx_span(wsx_driver *d, size_t min, size_t *len) {
  uint64_t left;
  size_t want, step;
  if (!rx_direct(d, &left) || left == 0 || left < min)
    return NULL;
  /* Room grows with what arrived (as appending would), so an announced
   * length alone never costs its memory before the bytes come. */
  step = d->msg.len > KEEP_BUFFER_MAX ? d->msg.len : KEEP_BUFFER_MAX;
  want = left < step ? (size_t)left : step;
  if (d->msg.cap - d->msg.len < want && msg_buf_reserve(d, want) != WSX_OK)
    return NULL; /* the parse path reports it */
  want = d->msg.cap - d->msg.len;
  *len = left < want ? (size_t)left : want;
  return d->msg.data + d->msg.len;
}

int wsx__frame_rx_commit(wsx_driver *d, size_t n) {
  uint64_t left;
  uint8_t *p;
  if (d->state == WSX__S_CLOSED)
    return d->last_error && wsx_is_fatal(d->last_error) ? d->last_error
                                                        : WSX_OK;
  if (!rx_direct(d, &left) || n > left || n > d->msg.cap - d->msg.len)
    return WSX_E_INVALID;
  if (n == 0)
    return WSX_OK;
  p = d->msg.data + d->msg.len;
  if (d->f_masked)
    wsx__unmask(p, n, d->mask, (size_t)(d->f_got & 3));
  if (d->msg_op == WSX_OP_TEXT) {
    long bad = wsx__utf8_validate(&d->utf8, p, n);
    if (bad >= 0)
      return fail_utf8(d, d->msg_len + (uint64_t)bad);
  }
  d->msg.len += n;
  d->msg_len += n;
  d->f_got += n;
  if (d->f_got < d->f_len)
    return WSX_OK;
  d->in_payload = 0;
  return end_data_frame(d, 0);
}
