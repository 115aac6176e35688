/*
 * hixie.c: the pre-RFC drafts draft-hixie-thewebsocketprotocol-75 and -76
 * (-76 is also hybi-00), server side. Drafts are opt-in (allow_drafts);
 * handshake.c calls in here only for a draft request when they are allowed.
 *
 * Framing of both drafts:
 *   0x00 <UTF-8 text> 0xFF           a text message (sentinel frame)
 *   0x01..0x7F <bytes> 0xFF          a sentinel frame of unknown type: read
 *                                    and discarded
 *   0x80..0xFF <length> <bytes>      a length-prefixed frame (length in
 *                                    7-bit groups, high bit = more): read
 *                                    and discarded, as the drafts say a
 *                                    server must
 *   0xFF 0x00                        -76 only: the closing frame
 * There are no binary messages, pings or pongs (driver.c refuses them).
 *
 * Receive state, in fields the hybi parser does not use on a draft driver:
 *   hdr[0..8), hdr_len   the key3 body collected in WSX__S_BODY76
 *   f_op                 enum hx_stage below
 *   f_len                length of a length-prefixed frame
 *   f_got                bytes of the current frame seen (skip / discard)
 *   msg, utf8            the text message being assembled and validated
 */
#include "driver/driver_int.h"

#include <stdio.h>
#include <string.h>

enum hx_stage {
  HX_TYPE = 0, /* expecting a frame type byte */
  HX_TEXT,     /* inside 0x00 ... 0xFF */
  HX_SENTINEL, /* inside a sentinel frame of another type (discarded) */
  HX_LEN,      /* reading the length of a length-prefixed frame */
  HX_LEN_FF,   /* same, frame type 0xFF (length 0 closes on -76) */
  HX_SKIP      /* discarding f_len - f_got bytes */
};

#define HX_KEY3_LEN 8

int wsx__hixie_detect(const wsx_http_request *req) {
  const wsx_header *h = req->headers;
  size_t n = req->num_headers, len;
  if (wsx_header_find(h, n, "sec-websocket-version", &len))
    return 0;
  if (!wsx_header_has_token(h, n, "upgrade", "websocket"))
    return 0;
  if (wsx_header_find(h, n, "sec-websocket-key1", &len) &&
      wsx_header_find(h, n, "sec-websocket-key2", &len))
    return WSX__HIXIE76;
  if (wsx_header_find(h, n, "sec-websocket-key", &len))
    return 0;
  return WSX__HIXIE75;
}

/* ---- handshake --------------------------------------------------------- */

static const char *hdr(const wsx_driver *d, const char *name, size_t *len) {
  return wsx_header_find(d->hs->req.headers, d->hs->req.num_headers, name, len);
}

static int refuse(wsx_driver *d, const char *why) {
  wsx__http_error(d, 400, "Bad Request", NULL, why);
  return wsx__fail(d, WSX_E_HANDSHAKE, WSX_CLOSE_PROTOCOL_ERROR,
                   "handshake refused (400): %s", why);
}

/*
 * The number a -76 key stands for: its digits read as one decimal number,
 * divided by its count of spaces (draft-76 section 5.2). A client builds
 * the digits as number * spaces <= 2^32-1, so a well-formed key never has
 * more than 32 bits of digits and always divides exactly. Returns 0 and
 * sets *out, or -1 with *why set.
 */
static int key_number(const char *v, size_t n, uint32_t *out,
                      const char **why) {
  uint64_t num = 0;
  uint32_t spaces = 0;
  int digits = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] >= '0' && v[i] <= '9') {
      num = num * 10 + (uint64_t)(v[i] - '0');
      digits = 1;
      if (num > UINT32_MAX) {
        *why = "digits of the key do not fit in 32 bits";
        return -1;
      }
    } else if (v[i] == ' ') {
      spaces++;
    }
  }
  if (!digits) {
    *why = "key has no digits";
    return -1;
  }
  if (!spaces) {
    *why = "key has no spaces";
    return -1;
  }
  if (num % spaces) {
    *why = "key number is not a multiple of its spaces";
    return -1;
  }
  *out = (uint32_t)(num / spaces);
  return 0;
}

static int put(wsx__buf *b, const wsx_allocator *a, const char *s) {
  return wsx__buf_append(b, a, s, strlen(s));
}

static int put_header(wsx__buf *b, const wsx_allocator *a, const char *name,
                      const char *v, size_t n) {
  return put(b, a, name) || put(b, a, ": ") || wsx__buf_append(b, a, v, n) ||
         put(b, a, "\r\n");
}

/* Checks the request, then writes the 101 head (the -76 answer follows once
 * key3 is known). */
int wsx__hixie_start(wsx_driver *d) {
  int v76 = d->version == WSX__HIXIE76;
  size_t hl, ol = 0, pl = 0, k1l, k2l;
  if (d->hs->req.method_len != 3 || memcmp(d->hs->req.method, "GET", 3) != 0)
    return refuse(d, "method must be GET");
  if (!hdr(d, "host", &hl))
    return refuse(d, "missing Host header");
  if (!wsx_header_has_token(d->hs->req.headers, d->hs->req.num_headers,
                            "connection", "upgrade"))
    return refuse(d, "Connection header must contain 'Upgrade'");
  /* Origin and the subprotocol are echoed, so they must be safe to echo
   * (the HTTP parser already refuses CR/LF; this keeps the rule local). */
  const char *origin = hdr(d, v76 ? "sec-websocket-origin" : "origin", &ol);
  if (!origin)
    origin = hdr(d, "origin", &ol);
  const char *proto =
      hdr(d, v76 ? "sec-websocket-protocol" : "websocket-protocol", &pl);
  if ((origin && !wsx_http_valid_value(origin, ol)) ||
      (proto && !wsx_http_valid_value(proto, pl)))
    return refuse(d, "Origin or protocol header has a forbidden character");
  if (v76) {
    const char *k1 = hdr(d, "sec-websocket-key1", &k1l);
    const char *k2 = hdr(d, "sec-websocket-key2", &k2l);
    const char *why = NULL;
    char msg[96];
    if (key_number(k1, k1l, &d->hs->hixie_k1, &why)) {
      snprintf(msg, sizeof msg, "invalid Sec-WebSocket-Key1: %s", why);
      return refuse(d, msg);
    }
    if (key_number(k2, k2l, &d->hs->hixie_k2, &why)) {
      snprintf(msg, sizeof msg, "invalid Sec-WebSocket-Key2: %s", why);
      return refuse(d, msg);
    }
  }
  if (proto && pl) {
    wsx__free(d->alloc, d->protocol);
    d->protocol = wsx__strndup(d->alloc, proto, pl);
    if (!d->protocol)
      return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
  }

  const wsx_allocator *a = d->alloc;
  const char *url = wsx_driver_url(d); /* scheme by d->secure, host, path */
  wsx__buf b = {0};
  int bad = put(&b, a,
                v76 ? "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
                    : "HTTP/1.1 101 Web Socket Protocol Handshake\r\n") ||
            put(&b, a, "Upgrade: WebSocket\r\nConnection: Upgrade\r\n");
  if (!bad && origin)
    bad = put_header(&b, a, v76 ? "Sec-WebSocket-Origin" : "WebSocket-Origin",
                     origin, ol);
  if (!bad)
    bad =
        put_header(&b, a, v76 ? "Sec-WebSocket-Location" : "WebSocket-Location",
                   url, strlen(url));
  if (!bad && proto && pl)
    bad =
        put_header(&b, a, v76 ? "Sec-WebSocket-Protocol" : "WebSocket-Protocol",
                   proto, pl);
  int rc = wsx__send_head(d, &b, bad);
  if (rc)
    return rc;
  d->f_op = HX_TYPE;
  if (v76) {
    /* The body may come later (a proxy can hold it back until it sees the
     * 101): wait for it in WSX__S_BODY76, where sends are queued. */
    d->hdr_len = 0;
    d->state = WSX__S_BODY76;
    return WSX_OK;
  }
  return wsx__open(d);
}

/* Collects key3; once complete sends the MD5 answer and opens. Returns the
 * number of bytes used, or a failure. */
static long key3(wsx_driver *d, const uint8_t *p, size_t len) {
  size_t n = HX_KEY3_LEN - d->hdr_len;
  if (n > len)
    n = len;
  memcpy(d->hdr + d->hdr_len, p, n);
  d->hdr_len = (uint8_t)(d->hdr_len + n);
  if (d->hdr_len < HX_KEY3_LEN)
    return (long)n;
  /* Challenge: MD5(key1 number, key2 number as 32-bit big-endian, key3). */
  uint8_t c[16], answer[16];
  for (int i = 0; i < 4; i++) {
    c[i] = (uint8_t)(d->hs->hixie_k1 >> (24 - 8 * i));
    c[4 + i] = (uint8_t)(d->hs->hixie_k2 >> (24 - 8 * i));
  }
  memcpy(c + 8, d->hdr, HX_KEY3_LEN);
  wsx__md5(c, sizeof c, answer);
  d->hdr_len = 0;
  int rc = wsx__write1(d, answer, sizeof answer);
  if (rc)
    return wsx__fail(d, rc, 0, "write callback failed");
  rc = wsx__open(d);
  return rc ? rc : (long)n;
}

/* ---- framing ----------------------------------------------------------- */

/* -76 has a closing frame; failures send it (once) before the error, so the
 * peer learns the connection is over. */
static void send_closing_frame(wsx_driver *d) {
  static const uint8_t closing[2] = {0xFF, 0x00};
  if (d->version == WSX__HIXIE76 && d->state == WSX__S_OPEN && !d->close_sent &&
      d->cb->write) {
    d->close_sent = 1;
    wsx__write1(d, closing, sizeof closing);
  }
}

static int peer_closed(wsx_driver *d) {
  send_closing_frame(d);
  wsx__fire_close(d, WSX_CLOSE_NORMAL, "", 0, 1);
  return WSX_OK;
}

static void deliver(wsx_driver *d, const uint8_t *p, size_t n) {
  wsx_message m = {WSX_OP_TEXT, p, n, 1, 0};
  if (d->frame_events) {
    if (d->cb->frame)
      d->cb->frame(d, &m, d->ud);
  } else if (d->cb->message) {
    d->cb->message(d, &m, d->ud);
  }
}

/* Bytes of a sentinel frame (text or discarded). Returns bytes used or a
 * failure. The message is handed out straight from the input when it is
 * all there; it is copied only when it spans reads. */
static long sentinel(wsx_driver *d, const uint8_t *p, size_t len) {
  const uint8_t *end = memchr(p, 0xFF, len);
  size_t n = end ? (size_t)(end - p) : len;
  int text = d->f_op == HX_TEXT;
  uint64_t have = text ? d->msg.len : d->f_got;
  /* The limit is checked before the 0xFF is seen, so a frame that never
   * ends stops at the limit instead of growing the buffer. Whichever rule
   * breaks at the earlier byte is reported, so every split of the input
   * gives the same error. */
  uint64_t room = d->max_length - have;
  size_t check_n = n > room ? (size_t)room : n;
  if (text) {
    long bad = wsx__utf8_validate(&d->utf8, p, check_n);
    if (bad < 0 && end && check_n == n && d->utf8.state != 0)
      bad = (long)n; /* the frame ends inside a character */
    if (bad >= 0) {
      send_closing_frame(d);
      return wsx__fail(d, WSX_E_UTF8, WSX_CLOSE_INVALID_DATA,
                       "invalid UTF-8 in text frame at byte %llu",
                       (unsigned long long)(have + (uint64_t)bad));
    }
  }
  if (check_n < n) {
    send_closing_frame(d);
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "frame longer than max_length (%llu bytes)",
                     (unsigned long long)d->max_length);
  }
  if (!end) {
    if (!text)
      d->f_got += n;
    else if (wsx__buf_append(&d->msg, d->msg_alloc, p, n))
      return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
    return (long)n;
  }
  d->f_op = HX_TYPE;
  long used = (long)n + 1;
  if (!text)
    return used;
  if (d->msg.len) {
    if (wsx__buf_append(&d->msg, d->msg_alloc, p, n))
      return wsx__fail(d, WSX_E_NOMEM, 0, "out of memory");
    p = d->msg.data;
    n = d->msg.len;
  }
  deliver(d, p, n);
  d->msg.len = 0;
  if (d->msg.cap > 65536) /* one big message must not pin its buffer */
    wsx__buf_free(&d->msg, d->msg_alloc);
  return used;
}

/* Reads a length-prefixed frame's length, one byte. */
static int length_byte(wsx_driver *d, uint8_t b) {
  if (d->f_len > (d->max_length >> 7)) {
    send_closing_frame(d);
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "frame longer than max_length (%llu bytes)",
                     (unsigned long long)d->max_length);
  }
  d->f_len = d->f_len * 128 + (b & 0x7Fu);
  if (b & 0x80)
    return WSX_OK;
  if (d->f_len > d->max_length) {
    send_closing_frame(d);
    return wsx__fail(d, WSX_E_MESSAGE_TOO_BIG, WSX_CLOSE_TOO_LARGE,
                     "frame longer than max_length (%llu bytes)",
                     (unsigned long long)d->max_length);
  }
  /* 0xFF with length 0 is -76's closing frame; on -75 it is just an empty
   * frame like any other. */
  if (d->f_len == 0 && d->f_op == HX_LEN_FF && d->version == WSX__HIXIE76)
    return peer_closed(d);
  d->f_got = 0;
  d->f_op = d->f_len ? HX_SKIP : HX_TYPE;
  return WSX_OK;
}

static void frame_start(wsx_driver *d, uint8_t type) {
  if (type & 0x80) {
    d->f_op = type == 0xFF ? HX_LEN_FF : HX_LEN;
    d->f_len = 0;
  } else {
    d->f_op = type == 0x00 ? HX_TEXT : HX_SENTINEL;
    d->f_got = 0;
    d->msg.len = 0;
    memset(&d->utf8, 0, sizeof d->utf8);
  }
}

int wsx__hixie_parse(wsx_driver *d, uint8_t *p, size_t len) {
  while (len && d->state == WSX__S_BODY76) {
    long n = key3(d, p, len);
    if (n < 0)
      return (int)n;
    p += n;
    len -= (size_t)n;
  }
  while (len && d->state == WSX__S_OPEN) {
    long n = 1;
    int rc = WSX_OK;
    switch (d->f_op) {
    case HX_TYPE:
      frame_start(d, *p);
      break;
    case HX_LEN:
    case HX_LEN_FF:
      rc = length_byte(d, *p);
      break;
    case HX_SKIP: {
      uint64_t left = d->f_len - d->f_got;
      n = left < len ? (long)left : (long)len;
      d->f_got += (uint64_t)n;
      if (d->f_got == d->f_len)
        d->f_op = HX_TYPE;
      break;
    }
    default:
      n = sentinel(d, p, len);
      break;
    }
    if (rc)
      return rc;
    if (n < 0)
      return (int)n;
    p += n;
    len -= (size_t)n;
  }
  /* Input after our close (or a failure) is ignored, as for hybi. */
  return WSX_OK;
}

int wsx__hixie_send_text(wsx_driver *d, const void *data, size_t len) {
  static const uint8_t start = 0x00, stop = 0xFF;
  wsx_iovec v[3] = {{&start, 1}, {data, len}, {&stop, 1}};
  return wsx__write(d, v, 3);
}

/* -76 closes with 0xFF 0x00; -75 has no closing frame: the transport's
 * disconnect after the close event is the whole closing. Neither draft has
 * a close code on the wire, so the event reports 1000. */
int wsx__hixie_close(wsx_driver *d, uint16_t code, const char *reason,
                     size_t reason_len) {
  /* The drafts carry no code or reason: report the application's own. */
  send_closing_frame(d);
  wsx__fire_close(d, code, reason ? reason : "", reason_len, 1);
  return WSX_OK;
}
