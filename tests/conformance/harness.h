/*
 * tests/conformance/harness.h: shared helpers of the driver conformance
 * suite (header-only: every test program is one .c file linked against
 * libwsx).
 *
 * - hb: a growable byte buffer (aborts on OOM: tests are not about that).
 * - h_frame*: builds arbitrary frames, valid or not, masked or not, with any
 *   length encoding and any announced length.
 * - hrec: a recording driver. Every event is appended to an event log string
 *   such as "open;message:text:5:Hello;close:1000:clean"; every byte the
 *   driver writes is kept in `out`, and h_out_log() decodes it (after the HTTP
 *   head) into a frame log such as "pong:5:Hello;close:1002".
 * - h_run/h_check: a driver of either role brought through a valid handshake
 *   and fed a byte stream whole, byte by byte or at random split points.
 *   h_check runs every mode and asserts the same event and output logs.
 * - hpair: a client and a server driver wired to each other in memory.
 * - hcount: a counting allocator (peak bytes, largest block, count, failing
 *   the n-th allocation).
 */
#ifndef WSX_TESTS_CONFORMANCE_HARNESS_H
#define WSX_TESTS_CONFORMANCE_HARNESS_H

#include "../test.h"
#include "wsx/driver.h"

#include <ctype.h>
#include <strings.h>
#include <stdarg.h>

#define H_FN static __attribute__((unused))

#define H_FIN 0x80u
#define H_SERVER 0 /* the driver under test is a (raw) server: input masked */
#define H_CLIENT 1 /* the driver under test is a client: input unmasked */

/* Split modes for feeding input. */
#define H_WHOLE 1
#define H_BYTES 2
#define H_RANDOM 4
#define H_ALL (H_WHOLE | H_BYTES | H_RANDOM)
/* With H_RANDOM: only the seeds with large chunks (200 bytes and random
 * sizes up to the whole input), for multi-megabyte inputs. */
#define H_BIG 8

/* ---------------------------------------------------------------- bytes */

typedef struct hb {
  uint8_t *p;
  size_t len;
  size_t cap;
} hb;

H_FN void hb_reserve(hb *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "harness: out of memory\n");
    abort();
  }
  b->p = p;
  b->cap = cap;
}

/* Appends and keeps a NUL after the data so logs are C strings. */
H_FN void hb_put(hb *b, const void *p, size_t n) {
  hb_reserve(b, n);
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

H_FN void hb_byte(hb *b, unsigned v) {
  uint8_t c = (uint8_t)v;
  hb_put(b, &c, 1);
}

H_FN void hb_str(hb *b, const char *s) { hb_put(b, s, strlen(s)); }

H_FN void hb_printf(hb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
H_FN void hb_printf(hb *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    hb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

H_FN const char *hb_cstr(hb *b) {
  if (!b->p)
    hb_put(b, "", 0);
  return (const char *)b->p;
}

H_FN void hb_free(hb *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* FNV-1a, to name large payloads in logs. */
H_FN uint32_t h_hash(const void *p, size_t n) {
  const uint8_t *s = p;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 16777619u;
  }
  return h;
}

/* Payload as it appears in logs: the text if short and printable,
 * "#<fnv hash>" otherwise. */
H_FN void h_log_payload(hb *log, const uint8_t *p, size_t n) {
  int printable = n <= 40;
  for (size_t i = 0; printable && i < n; i++)
    if (p[i] < 0x20 || p[i] > 0x7e || p[i] == ';')
      printable = 0;
  if (printable)
    hb_put(log, p, n);
  else
    hb_printf(log, "#%08x", h_hash(p, n));
}

/* Fills n bytes with a deterministic pattern. */
H_FN void h_pattern(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)('a' + (i * 7 + seed) % 26);
}

/* -------------------------------------------------------------- frames */

static const uint8_t h_default_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/*
 * Appends one frame. `b0` is the whole first byte (FIN | RSV | opcode), so
 * invalid bits and opcodes can be built. `len_form` forces the length
 * encoding: 0 = minimal, 7, 16 or 64. `announced` is the length written in
 * the header (normally len; larger to build a truncated frame, any value to
 * test limits); only `len` payload bytes are appended. Masked frames use
 * `mask` (NULL = the RFC 6455 5.7 example key).
 */
H_FN void h_frame_ex(hb *out, unsigned b0, int masked, const uint8_t *mask,
                     const void *payload, size_t len, int len_form,
                     uint64_t announced) {
  uint8_t mbit = masked ? 0x80 : 0;
  hb_byte(out, b0);
  if (len_form == 0)
    len_form = announced <= 125 ? 7 : announced <= 0xffff ? 16 : 64;
  if (len_form == 7) {
    hb_byte(out, mbit | (uint8_t)(announced & 0x7f));
  } else if (len_form == 16) {
    hb_byte(out, mbit | 126);
    hb_byte(out, (unsigned)(announced >> 8) & 0xff);
    hb_byte(out, (unsigned)announced & 0xff);
  } else {
    hb_byte(out, mbit | 127);
    for (int i = 7; i >= 0; i--)
      hb_byte(out, (unsigned)(announced >> (8 * i)) & 0xff);
  }
  if (!masked) {
    hb_put(out, payload, len);
    return;
  }
  if (!mask)
    mask = h_default_mask;
  hb_put(out, mask, 4);
  hb_reserve(out, len);
  const uint8_t *src = payload;
  for (size_t i = 0; i < len; i++)
    out->p[out->len + i] = (uint8_t)(src[i] ^ mask[i & 3]);
  out->len += len;
  out->p[out->len] = 0;
}

H_FN void h_frame(hb *out, unsigned b0, int masked, const void *payload,
                  size_t len) {
  h_frame_ex(out, b0, masked, NULL, payload, len, 0, len);
}

H_FN void h_frame_str(hb *out, unsigned b0, int masked, const char *s) {
  h_frame(out, b0, masked, s, strlen(s));
}

/* A close frame with a status code (code < 0: no payload at all) and an
 * optional reason of reason_len bytes. */
H_FN void h_close_frame(hb *out, int masked, int code, const void *reason,
                        size_t reason_len) {
  uint8_t buf[256];
  size_t n = 0;
  if (code >= 0) {
    buf[0] = (uint8_t)((unsigned)code >> 8);
    buf[1] = (uint8_t)((unsigned)code & 0xff);
    n = 2;
    if (reason_len > sizeof buf - 2)
      reason_len = sizeof buf - 2;
    if (reason_len)
      memcpy(buf + 2, reason, reason_len);
    n += reason_len;
  }
  h_frame(out, H_FIN | WSX_OP_CLOSE, masked, buf, n);
}

/* ------------------------------------------------------ counting alloc */

typedef struct hcount {
  size_t cur;        /* bytes currently allocated */
  size_t peak;       /* highest `cur` seen */
  size_t max_single; /* largest single request (malloc or realloc) */
  size_t n_alloc;    /* successful malloc + realloc calls */
  size_t fail_at;    /* non-zero: the fail_at-th call (1-based) fails */
  size_t calls;      /* malloc + realloc calls so far, failed or not */
  size_t n_failed;
} hcount;

/* Each block carries its size in a 16-byte prefix (keeps alignment). */
#define H_PREFIX 16

H_FN void *hcount_malloc(size_t n, void *ud) {
  hcount *c = ud;
  c->calls++;
  if (n > c->max_single)
    c->max_single = n;
  if (c->fail_at && c->calls == c->fail_at) {
    c->n_failed++;
    return NULL;
  }
  uint8_t *p = malloc(n + H_PREFIX);
  if (!p)
    return NULL;
  memcpy(p, &n, sizeof n);
  c->cur += n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  c->n_alloc++;
  return p + H_PREFIX;
}

H_FN void hcount_free(void *ptr, void *ud) {
  hcount *c = ud;
  if (!ptr)
    return;
  uint8_t *p = (uint8_t *)ptr - H_PREFIX;
  size_t n;
  memcpy(&n, p, sizeof n);
  c->cur -= n;
  free(p);
}

H_FN void *hcount_realloc(void *ptr, size_t n, void *ud) {
  hcount *c = ud;
  if (!ptr)
    return hcount_malloc(n, ud);
  c->calls++;
  if (n > c->max_single)
    c->max_single = n;
  if (c->fail_at && c->calls == c->fail_at) {
    c->n_failed++;
    return NULL;
  }
  uint8_t *p = (uint8_t *)ptr - H_PREFIX;
  size_t old;
  memcpy(&old, p, sizeof old);
  uint8_t *q = realloc(p, n + H_PREFIX);
  if (!q)
    return NULL;
  memcpy(q, &n, sizeof n);
  c->cur = c->cur - old + n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  c->n_alloc++;
  return q + H_PREFIX;
}

H_FN wsx_allocator hcount_allocator(hcount *c) {
  wsx_allocator a = {hcount_malloc, hcount_realloc, hcount_free, c};
  return a;
}

/* ------------------------------------------------------------ recorder */

typedef struct hrec {
  wsx_driver *d;
  int role;
  hb log;           /* event log */
  hb out;           /* every byte written */
  size_t delivered; /* pair: bytes of `out` already handed to the peer */
  int auto_start;   /* raw server: call start() from `connect` */
  int fail_writes;  /* write callback returns -1 */
  int n_connect, n_open, n_message, n_frame, n_ping, n_pong, n_close, n_error,
      n_ping_cb;
  int start_rc; /* return of start() called from connect */
  uint16_t close_code;
  int close_clean;
  char close_reason[128];
  int err_code;
  uint16_t err_close_code;
  char err_msg[256];
  hb msg;            /* payload of the last message/frame */
  int free_in_close; /* test hook: unused by the harness */
} hrec;

H_FN const char *h_err_name(int code) {
  switch (code) {
  case WSX_E_PROTOCOL:
    return "protocol";
  case WSX_E_UTF8:
    return "utf8";
  case WSX_E_MESSAGE_TOO_BIG:
    return "too_big";
  case WSX_E_HANDSHAKE:
    return "handshake";
  case WSX_E_HTTP:
    return "http";
  case WSX_E_HEAD_TOO_BIG:
    return "head_too_big";
  case WSX_E_POLICY:
    return "policy";
  case WSX_E_IO:
    return "io";
  case WSX_E_EXTENSION:
    return "extension";
  case WSX_E_NOMEM:
    return "nomem";
  default:
    return "other";
  }
}

H_FN const char *h_op_name(int op) {
  switch (op) {
  case 0x0:
    return "cont";
  case 0x1:
    return "text";
  case 0x2:
    return "binary";
  case 0x8:
    return "close";
  case 0x9:
    return "ping";
  case 0xA:
    return "pong";
  default:
    return "op?";
  }
}

H_FN void h_logsep(hrec *r) {
  if (r->log.len)
    hb_str(&r->log, ";");
}

H_FN int h_cb_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  hrec *r = ud;
  (void)d;
  if (r->fail_writes)
    return -1;
  for (size_t i = 0; i < n; i++) {
    CHECK(iov[i].base != NULL || iov[i].len == 0);
    hb_put(&r->out, iov[i].base, iov[i].len);
  }
  return 0;
}

H_FN void h_cb_connect(wsx_driver *d, void *ud) {
  hrec *r = ud;
  r->n_connect++; /* counted, not logged: logs start at "open" in both
                     roles */
  if (r->auto_start)
    r->start_rc = wsx_driver_start(d);
}

H_FN void h_cb_open(wsx_driver *d, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_open++;
  h_logsep(r);
  hb_str(&r->log, "open");
}

H_FN void h_cb_message(wsx_driver *d, const wsx_message *m, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_message++;
  h_logsep(r);
  hb_printf(&r->log, "message:%s:%zu:", h_op_name(m->opcode), m->len);
  h_log_payload(&r->log, m->data, m->len);
  r->msg.len = 0;
  hb_put(&r->msg, m->data, m->len);
}

H_FN void h_cb_frame(wsx_driver *d, const wsx_message *m, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_frame++;
  h_logsep(r);
  hb_printf(&r->log, "frame:%s:%s:%zu:", h_op_name(m->opcode),
            m->fin ? "fin" : "more", m->len);
  h_log_payload(&r->log, m->data, m->len);
  r->msg.len = 0;
  hb_put(&r->msg, m->data, m->len);
}

H_FN void h_cb_ping(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_ping++;
  h_logsep(r);
  hb_printf(&r->log, "ping:%zu:", n);
  h_log_payload(&r->log, p, n);
}

H_FN void h_cb_pong(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_pong++;
  h_logsep(r);
  hb_printf(&r->log, "pong:%zu:", n);
  h_log_payload(&r->log, p, n);
}

H_FN void h_cb_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_close++;
  r->close_code = e->code;
  r->close_clean = e->clean;
  size_t n = e->reason_len < sizeof r->close_reason - 1
                 ? e->reason_len
                 : sizeof r->close_reason - 1;
  CHECK(e->reason != NULL);
  if (e->reason && n)
    memcpy(r->close_reason, e->reason, n);
  r->close_reason[n] = 0;
  if (e->reason) /* NUL-terminated; U+0000 inside is valid UTF-8 */
    CHECK_INT(e->reason[e->reason_len], 0);
  h_logsep(r);
  hb_printf(&r->log, "close:%u:%s", e->code, e->clean ? "clean" : "unclean");
}

H_FN void h_cb_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  hrec *r = ud;
  (void)d;
  r->n_error++;
  r->err_code = e->code;
  r->err_close_code = e->close_code;
  snprintf(r->err_msg, sizeof r->err_msg, "%s", e->message ? e->message : "");
  h_logsep(r);
  hb_printf(&r->log, "error:%s:%u", h_err_name(e->code), e->close_code);
}

H_FN void h_ping_cb(wsx_driver *d, void *arg) {
  hrec *r = arg;
  (void)d;
  r->n_ping_cb++;
  h_logsep(r);
  hb_str(&r->log, "ping_cb");
}

H_FN wsx_driver_callbacks h_callbacks(void) {
  wsx_driver_callbacks cb = WSX_DRIVER_CALLBACKS_INIT;
  cb.write = h_cb_write;
  cb.connect = h_cb_connect;
  cb.open = h_cb_open;
  cb.message = h_cb_message;
  cb.frame = h_cb_frame;
  cb.ping = h_cb_ping;
  cb.pong = h_cb_pong;
  cb.close = h_cb_close;
  cb.error = h_cb_error;
  return cb;
}

/* The recorder callbacks as a static object: valid for the whole program,
 * whether the driver copies or borrows its callbacks struct. */
static const wsx_driver_callbacks h_default_cbs __attribute__((unused)) = {
    .struct_size = sizeof(wsx_driver_callbacks),
    .write = h_cb_write,
    .connect = h_cb_connect,
    .open = h_cb_open,
    .message = h_cb_message,
    .frame = h_cb_frame,
    .ping = h_cb_ping,
    .pong = h_cb_pong,
    .close = h_cb_close,
    .error = h_cb_error,
};

H_FN void h_rec_free(hrec *r) {
  if (r->d)
    wsx_driver_free(r->d);
  r->d = NULL;
  hb_free(&r->log);
  hb_free(&r->out);
  hb_free(&r->msg);
}

/* Creates a raw-mode server recorder that answers `connect` with start(). */
H_FN int h_server_new(hrec *r, const wsx_driver_options *o,
                      const wsx_driver_callbacks *cbs) {
  memset(r, 0, sizeof *r);
  r->role = H_SERVER;
  r->auto_start = 1;
  r->d = wsx_driver_new_server(o, cbs ? cbs : &h_default_cbs, r);
  return r->d != NULL;
}

H_FN int h_client_new(hrec *r, const char *url, const wsx_driver_options *o,
                      const wsx_driver_callbacks *cbs) {
  memset(r, 0, sizeof *r);
  r->role = H_CLIENT;
  int err = 0;
  r->d = wsx_driver_new_client(url ? url : "ws://example.com/chat", o,
                               cbs ? cbs : &h_default_cbs, r, &err);
  return r->d != NULL;
}

/* ------------------------------------------------------------- feeding */

/* Feeds n bytes, each chunk copied into its own exact-size heap block (so
 * ASan sees any read past the chunk). Returns the last parse result. */
H_FN int h_feed_chunk(hrec *r, const uint8_t *p, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  if (!c)
    abort();
  if (n)
    memcpy(c, p, n);
  int rc = wsx_driver_parse(r->d, c, n);
  free(c);
  return rc;
}

/* Feeds p[0..n) in one of the H_* modes. For H_RANDOM, `seed` picks the
 * chunk sizes (1..max_chunk). Returns the first non-OK parse result. */
H_FN int h_feed(hrec *r, const uint8_t *p, size_t n, int mode, uint64_t seed,
                size_t max_chunk) {
  int first = WSX_OK;
  size_t i = 0;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  while (i < n) {
    size_t k;
    if (mode == H_WHOLE)
      k = n - i;
    else if (mode == H_BYTES)
      k = 1;
    else
      k = 1 + (size_t)(test_rand_(&s) % (max_chunk ? max_chunk : 1));
    if (k > n - i)
      k = n - i;
    int rc = h_feed_chunk(r, p + i, k);
    if (rc != WSX_OK && first == WSX_OK)
      first = rc;
    i += k;
  }
  return first;
}

/* The example opening request of RFC 6455 1.3 (key "the sample nonce"). */
#define H_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define H_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define H_REQUEST                                                              \
  "GET /chat HTTP/1.1\r\n"                                                     \
  "Host: server.example.com\r\n"                                               \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Key: " H_KEY "\r\n"                                           \
  "Sec-WebSocket-Version: 13\r\n"                                              \
  "\r\n"

/* Offset of the end of the first HTTP head in buf (after CRLFCRLF), or 0. */
H_FN size_t h_head_end(const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
        p[i + 3] == '\n')
      return i + 4;
  return 0;
}

/* Value of header `name` in the first head of `out` (case-insensitive
 * name), copied into val; returns 1 if found. */
H_FN int h_head_value(const hb *out, const char *name, char *val, size_t cap) {
  size_t end = h_head_end(out->p, out->len);
  size_t nl = strlen(name);
  if (!end)
    return 0;
  const char *s = (const char *)out->p;
  for (size_t i = 0; i < end;) {
    const char *line = s + i;
    const char *eol = memchr(line, '\n', end - i);
    if (!eol)
      break;
    size_t ll = (size_t)(eol - line);
    if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
      const char *v = line + nl + 1;
      size_t vl = ll - nl - 1;
      while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
        vl--;
      if (vl >= cap)
        vl = cap - 1;
      memcpy(val, v, vl);
      val[vl] = 0;
      return 1;
    }
    i += ll + 1;
  }
  return 0;
}

/* The 101 answer a correct server gives to the client's request in
 * c->out, plus `extra` header lines (may be NULL). */
H_FN void h_server_response(const hrec *c, const char *extra, hb *resp) {
  char key[128] = "";
  char acc[29];
  h_head_value(&c->out, "Sec-WebSocket-Key", key, sizeof key);
  wsx_accept_key(key, strlen(key), acc);
  hb_printf(resp,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n%s\r\n",
            acc, extra ? extra : "");
}

/*
 * Creates a driver of `role` with options `o`, brings it through a valid
 * handshake and feeds `in` (the frame stream) in `mode`. The handshake bytes
 * (request for a server, response for a client) are fed in the same stream
 * as the frames, so they are split too and "bytes after the head" are
 * exercised. Returns 0 if the driver could not be created.
 */
H_FN int h_run(hrec *r, int role, const wsx_driver_options *o,
               const uint8_t *in, size_t n, int mode, uint64_t seed) {
  hb stream = {0};
  if (role == H_SERVER) {
    if (!h_server_new(r, o, NULL))
      return 0;
    hb_str(&stream, H_REQUEST);
  } else {
    if (!h_client_new(r, NULL, o, NULL))
      return 0;
    if (wsx_driver_start(r->d) != WSX_OK) {
      hb_free(&stream);
      return 0;
    }
    h_server_response(r, NULL, &stream);
  }
  hb_put(&stream, in, n);
  size_t max_chunk = (seed % 4 == 0)   ? 3
                     : (seed % 4 == 1) ? 17
                     : (seed % 4 == 2) ? 200
                                       : stream.len;
  h_feed(r, stream.p, stream.len, mode, seed, max_chunk);
  hb_free(&stream);
  return 1;
}

/* Runs `body` once for each role under test ("role" is H_SERVER/H_CLIENT);
 * frames built inside must be masked exactly when role == H_SERVER. */
#define H_EACH_ROLE(role) for (int role = H_SERVER; role <= H_CLIENT; role++)
#define H_MASKED(role) ((role) == H_SERVER)

/* A driver of `role` that completed the handshake and nothing else. */
H_FN int h_open(hrec *r, int role, const wsx_driver_options *o) {
  if (!h_run(r, role, o, (const uint8_t *)"", 0, H_WHOLE, 0))
    return 0;
  return r->n_open == 1;
}

/* The bytes written after the HTTP head. */
H_FN const uint8_t *h_after_head(const hrec *r, size_t *n) {
  size_t e = h_head_end(r->out.p, r->out.len);
  *n = r->out.len - e;
  return r->out.p + e;
}

/* Appends "message:<kind>:<len>:<payload as logged>" to an expected log. */
H_FN void h_expect_msg(hb *e, const char *kind, const void *p, size_t n) {
  if (e->len)
    hb_str(e, ";");
  hb_printf(e, "%s:%zu:", kind, n);
  h_log_payload(e, p, n);
}

/* ---------------------------------------------------- output decoding */

typedef struct hout {
  hb log; /* "text:5:Hello;close:1002" (":more" for fin = 0) */
  int n_frames;
  int nonminimal; /* frames whose length was not minimally encoded */
  int bad_mask;   /* frames masked against the role's rule */
  int truncated;  /* trailing bytes that are not a whole frame */
  int n_close;
  int close_code; /* code of the last close frame, -1 = none, 0 = empty */
  char close_reason[128];
  int last_op;
  uint64_t total_payload;
  uint8_t masks[16][4]; /* the first 16 masking keys seen */
} hout;

/*
 * Decodes the frames a driver of `role` wrote after its HTTP head. A server
 * must not mask, a client must (RFC 6455 5.1); violations are counted.
 * Payloads longer than 40 bytes are logged as a hash.
 */
H_FN void h_out_decode(const hrec *r, hout *o) {
  memset(o, 0, sizeof *o);
  o->close_code = -1;
  size_t i = h_head_end(r->out.p, r->out.len);
  const uint8_t *p = r->out.p;
  size_t n = r->out.len;
  hb pl = {0};
  while (i < n) {
    if (n - i < 2) {
      o->truncated = 1;
      break;
    }
    unsigned b0 = p[i], b1 = p[i + 1];
    size_t h = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
      if (n - i < 4) {
        o->truncated = 1;
        break;
      }
      len = ((uint64_t)p[i + 2] << 8) | p[i + 3];
      h = 4;
      if (len < 126)
        o->nonminimal++;
    } else if (len == 127) {
      if (n - i < 10) {
        o->truncated = 1;
        break;
      }
      len = 0;
      for (int k = 0; k < 8; k++)
        len = (len << 8) | p[i + 2 + (size_t)k];
      h = 10;
      if (len <= 0xffff)
        o->nonminimal++;
    }
    int masked = (b1 & 0x80) != 0;
    uint8_t mk[4] = {0, 0, 0, 0};
    if (masked) {
      if (n - i < h + 4) {
        o->truncated = 1;
        break;
      }
      memcpy(mk, p + i + h, 4);
      if (o->n_frames < 16)
        memcpy(o->masks[o->n_frames], mk, 4);
      h += 4;
    }
    if (masked != (r->role == H_CLIENT))
      o->bad_mask++;
    if (len > n - i - h) {
      o->truncated = 1;
      break;
    }
    pl.len = 0;
    hb_put(&pl, p + i + h, (size_t)len);
    for (size_t k = 0; masked && k < len; k++)
      pl.p[k] ^= mk[k & 3];
    int op = (int)(b0 & 0x0f);
    if (o->log.len)
      hb_str(&o->log, ";");
    if (op == WSX_OP_CLOSE) {
      o->n_close++;
      if (len >= 2) {
        o->close_code = (pl.p[0] << 8) | pl.p[1];
        size_t rl = (size_t)len - 2 < sizeof o->close_reason - 1
                        ? (size_t)len - 2
                        : sizeof o->close_reason - 1;
        memcpy(o->close_reason, pl.p + 2, rl);
        o->close_reason[rl] = 0;
        hb_printf(&o->log, "close:%d", o->close_code);
      } else {
        o->close_code = 0;
        hb_printf(&o->log, "close:%s", len ? "1byte" : "empty");
      }
    } else {
      hb_printf(&o->log, "%s%s%s:%llu:", h_op_name(op),
                (b0 & 0x80) ? "" : ":more", (b0 & 0x70) ? ":rsv" : "",
                (unsigned long long)len);
      h_log_payload(&o->log, pl.p, (size_t)len);
    }
    o->last_op = op;
    o->total_payload += len;
    o->n_frames++;
    i += h + (size_t)len;
  }
  hb_free(&pl);
  hb_cstr(&o->log);
}

H_FN void h_out_free(hout *o) { hb_free(&o->log); }

/* ---------------------------------------------------- split checking */

/*
 * Runs the scenario in every mode of `modes` (random splits with several
 * seeds) and checks that each gives the same event log and output log; if
 * `want_events` / `want_out` are non-NULL, they must equal those too. Every
 * run must leave the output masked per role, minimally encoded and whole.
 * Returns 1 if all matched.
 */
H_FN int h_check(int role, const wsx_driver_options *o, const uint8_t *in,
                 size_t n, int modes, const char *want_events,
                 const char *want_out) {
  int ok = 1;
  hb first_ev = {0}, first_out = {0};
  int have_first = 0;
  static const int mode_list[] = {H_WHOLE, H_BYTES, H_RANDOM};
  for (size_t mi = 0; mi < 3; mi++) {
    int mode = mode_list[mi];
    if (!(modes & mode))
      continue;
    int seeds = mode == H_RANDOM ? 8 : 1;
    for (int sd = 0; sd < seeds; sd++) {
      if (mode == H_RANDOM && (modes & H_BIG) && sd % 4 < 2)
        continue;
      hrec r;
      if (!h_run(&r, role, o, in, n, mode, (uint64_t)sd)) {
        TEST_FAILF_("could not create/start the %s driver",
                    role == H_SERVER ? "server" : "client");
        h_rec_free(&r);
        ok = 0;
        goto done;
      }
      hout out;
      h_out_decode(&r, &out);
      const char *ev = hb_cstr(&r.log);
      const char *ol = hb_cstr(&out.log);
      const char *mname = mode == H_WHOLE   ? "whole"
                          : mode == H_BYTES ? "byte by byte"
                                            : "random splits";
      if (want_events && strcmp(ev, want_events) != 0) {
        TEST_FAILF_("%s (seed %d): events \"%s\", expected \"%s\"", mname, sd,
                    ev, want_events);
        ok = 0;
      }
      if (want_out && strcmp(ol, want_out) != 0) {
        TEST_FAILF_("%s (seed %d): output \"%s\", expected \"%s\"", mname, sd,
                    ol, want_out);
        ok = 0;
      }
      if (!have_first) {
        hb_str(&first_ev, ev);
        hb_str(&first_out, ol);
        have_first = 1;
      } else {
        if (strcmp(ev, hb_cstr(&first_ev)) != 0) {
          TEST_FAILF_("%s (seed %d): events \"%s\" differ from whole \"%s\"",
                      mname, sd, ev, hb_cstr(&first_ev));
          ok = 0;
        }
        if (strcmp(ol, hb_cstr(&first_out)) != 0) {
          TEST_FAILF_("%s (seed %d): output \"%s\" differs from whole \"%s\"",
                      mname, sd, ol, hb_cstr(&first_out));
          ok = 0;
        }
      }
      if (out.bad_mask || out.nonminimal || out.truncated) {
        TEST_FAILF_("%s: output frames: %d wrongly masked, %d non-minimal, "
                    "truncated=%d",
                    mname, out.bad_mask, out.nonminimal, out.truncated);
        ok = 0;
      }
      if (r.n_close > 1) {
        TEST_FAILF_("%s: close event fired %d times", mname, r.n_close);
        ok = 0;
      }
      h_out_free(&out);
      h_rec_free(&r);
    }
  }
done:
  hb_free(&first_ev);
  hb_free(&first_out);
  return ok;
}

/*
 * Checks a protocol failure in every mode: the event log must be
 * `prefix` (events before the failure, e.g. "open") followed by
 * "error:<name>:<code>;close:<code>:unclean"; the driver must have written
 * a close frame with `code` as its last frame, with `out_prefix` frames
 * before it (may be NULL for none); and the error message must be
 * non-empty and mention `rule_word` if given (case-insensitive).
 */
H_FN void h_check_fail(int role, const wsx_driver_options *o, const uint8_t *in,
                       size_t n, int modes, const char *prefix, int err,
                       unsigned code, const char *out_prefix,
                       const char *rule_word) {
  char want_ev[512], want_out[512];
  snprintf(want_ev, sizeof want_ev, "%s%serror:%s:%u;close:%u:unclean",
           prefix ? prefix : "", prefix && *prefix ? ";" : "", h_err_name(err),
           code, code);
  snprintf(want_out, sizeof want_out, "%s%sclose:%u",
           out_prefix ? out_prefix : "", out_prefix && *out_prefix ? ";" : "",
           code);
  h_check(role, o, in, n, modes, want_ev, want_out);
  /* The error message and detail, from one whole run. */
  hrec r;
  if (!h_run(&r, role, o, in, n, H_WHOLE, 0)) {
    h_rec_free(&r);
    return;
  }
  if (r.n_error != 1)
    TEST_FAILF_("expected one error event, got %d", r.n_error);
  if (!r.err_msg[0])
    TEST_FAILF_("error event without a message");
  if (rule_word && r.err_msg[0]) {
    char lower[256], word[64];
    size_t i;
    for (i = 0; r.err_msg[i] && i < sizeof lower - 1; i++)
      lower[i] = (char)tolower((unsigned char)r.err_msg[i]);
    lower[i] = 0;
    for (i = 0; rule_word[i] && i < sizeof word - 1; i++)
      word[i] = (char)tolower((unsigned char)rule_word[i]);
    word[i] = 0;
    if (!strstr(lower, word))
      TEST_FAILF_("error message \"%s\" does not mention \"%s\"", r.err_msg,
                  rule_word);
  }
  if (r.err_close_code != code)
    TEST_FAILF_("error event close_code %u, expected %u", r.err_close_code,
                code);
  const char *m = NULL;
  int le = wsx_driver_last_error(r.d, &m);
  if (le != err)
    TEST_FAILF_("wsx_driver_last_error() = %d, expected %d", le, err);
  if (wsx_driver_ready_state(r.d) != WSX_CLOSED)
    TEST_FAILF_("ready_state %d after failure, expected CLOSED",
                wsx_driver_ready_state(r.d));
  /* Nothing is delivered or written after the failure. */
  size_t out_before = r.out.len, log_before = r.log.len;
  hb more = {0};
  h_frame_str(&more, H_FIN | WSX_OP_PING, role == H_SERVER, "late");
  h_frame_str(&more, H_FIN | WSX_OP_TEXT, role == H_SERVER, "late");
  int rc = h_feed_chunk(&r, more.p, more.len);
  if (rc == WSX_OK)
    TEST_FAILF_("parse() after failure returned WSX_OK");
  if (wsx_driver_send_text(r.d, "x", 1) == WSX_OK)
    TEST_FAILF_("send_text() after failure returned WSX_OK");
  if (r.out.len != out_before)
    TEST_FAILF_("%zu bytes written after the failure", r.out.len - out_before);
  if (r.log.len != log_before)
    TEST_FAILF_("events after the failure: \"%s\"",
                (const char *)r.log.p + log_before);
  hb_free(&more);
  h_rec_free(&r);
}

/* ------------------------------------------------------------- pairs */

typedef struct hpair {
  hrec c; /* client */
  hrec s; /* raw server */
} hpair;

/* Moves bytes between the two drivers until neither has anything new.
 * `mode`/`seed` choose how the bytes are split. */
H_FN void h_pump(hpair *p, int mode, uint64_t seed) {
  for (int guard = 0; guard < 100000; guard++) {
    int moved = 0;
    if (p->c.delivered < p->c.out.len && p->s.d) {
      size_t from = p->c.delivered, n = p->c.out.len - from;
      uint8_t *tmp = malloc(n);
      memcpy(tmp, p->c.out.p + from, n);
      p->c.delivered = p->c.out.len;
      h_feed(&p->s, tmp, n, mode, seed, 100);
      free(tmp);
      moved = 1;
    }
    if (p->s.delivered < p->s.out.len && p->c.d) {
      size_t from = p->s.delivered, n = p->s.out.len - from;
      uint8_t *tmp = malloc(n);
      memcpy(tmp, p->s.out.p + from, n);
      p->s.delivered = p->s.out.len;
      h_feed(&p->c, tmp, n, mode, seed + 1, 100);
      free(tmp);
      moved = 1;
    }
    if (!moved)
      return;
  }
}

/* Creates both drivers and runs the handshake. Returns 1 when both are
 * open. */
H_FN int h_pair_open(hpair *p, const wsx_driver_options *co,
                     const wsx_driver_options *so) {
  memset(p, 0, sizeof *p);
  if (!h_client_new(&p->c, "ws://localhost/chat", co, NULL) ||
      !h_server_new(&p->s, so, NULL))
    return 0;
  if (wsx_driver_start(p->c.d) != WSX_OK)
    return 0;
  h_pump(p, H_WHOLE, 0);
  return p->c.n_open == 1 && p->s.n_open == 1;
}

H_FN void h_pair_free(hpair *p) {
  h_rec_free(&p->c);
  h_rec_free(&p->s);
}

#endif
