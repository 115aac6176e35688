/*
 * fuzz/fuzz_driver.h: shared by fuzz_frames.c and fuzz_handshake.c. A
 * recording driver whose event log and output are hashed, fed at chosen
 * split points, with invariants that abort() when broken:
 *   - `close` fires at most once and no event follows it;
 *   - an `error` event is followed by a `close` event (same parse call);
 *   - the driver never writes after `close`.
 */
#ifndef WSX_FUZZ_DRIVER_H
#define WSX_FUZZ_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/embed.h"
#include "wsx/driver.h"

#define FZ_FN static __attribute__((unused))

typedef struct fz_run {
  wsx_driver *d;
  int role_client;
  int echo; /* echo messages back (exercises the send paths) */
  int start_in_connect;
  uint64_t events; /* FNV-1a over the event log */
  uint64_t out;    /* FNV-1a over written bytes (server role) */
  size_t out_len;
  uint8_t *head; /* the first bytes written (client request) */
  size_t head_len;
  int opens, closes, errors, messages, after_close, pending_error;
  unsigned long grants; /* growths of the message buffer (fz_budget) */
} fz_run;

FZ_FN void fz_check(int ok) {
  if (!ok)
    abort();
}

FZ_FN uint64_t fz_fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* A budget hook that grants everything and counts the growths (set by
 * targets that check the transport's fast path, see fz_feed). */
FZ_FN uint16_t fz_budget(wsx_driver *d, int64_t delta, void *ud) {
  (void)d;
  if (delta > 0)
    ((fz_run *)ud)->grants++;
  return 0;
}

FZ_FN uint64_t fz_int(uint64_t h, long v) { return fz_fnv(h, &v, sizeof v); }

FZ_FN void fz_event(fz_run *r, int kind) {
  if (r->closes)
    r->after_close++;
  r->events = fz_int(r->events, kind);
}

FZ_FN int fz_write(wsx_driver *d, const wsx_iovec *iov, size_t n, void *ud) {
  fz_run *r = ud;
  (void)d;
  for (size_t i = 0; i < n; i++) {
    fz_check(iov[i].base != NULL || iov[i].len == 0);
    r->out = fz_fnv(r->out, iov[i].base, iov[i].len);
    if (!r->head && iov[i].len) {
      r->head = malloc(iov[i].len);
      fz_check(r->head != NULL);
      memcpy(r->head, iov[i].base, iov[i].len);
      r->head_len = iov[i].len;
    }
    r->out_len += iov[i].len;
  }
  /* Nothing may be written once the connection is closed. */
  fz_check(r->closes == 0);
  return 0;
}

FZ_FN void fz_connect(wsx_driver *d, void *ud) {
  fz_run *r = ud;
  fz_event(r, 1);
  (void)wsx_driver_is_websocket(d);
  const wsx_http_request *q = wsx_driver_request(d);
  fz_check(q != NULL);
  if (r->start_in_connect)
    (void)wsx_driver_start(d);
}

FZ_FN void fz_open(wsx_driver *d, void *ud) {
  fz_run *r = ud;
  r->opens++;
  fz_check(r->opens == 1);
  fz_event(r, 2);
  r->events =
      fz_fnv(r->events, wsx_driver_protocol(d), strlen(wsx_driver_protocol(d)));
}

FZ_FN void fz_data(wsx_driver *d, const wsx_message *m, void *ud, int kind) {
  fz_run *r = ud;
  r->messages++;
  fz_event(r, kind);
  r->events = fz_int(r->events, m->opcode);
  r->events = fz_int(r->events, m->fin);
  r->events = fz_fnv(r->events, m->data, m->len);
  if (r->echo && kind == 3) {
    if (m->opcode == WSX_OP_TEXT)
      (void)wsx_driver_send_text(d, (const char *)m->data, m->len);
    else
      (void)wsx_driver_send_binary(d, m->data, m->len);
  }
}

FZ_FN void fz_message(wsx_driver *d, const wsx_message *m, void *ud) {
  fz_data(d, m, ud, 3);
}

FZ_FN void fz_frame(wsx_driver *d, const wsx_message *m, void *ud) {
  fz_data(d, m, ud, 4);
}

FZ_FN void fz_ping(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  fz_run *r = ud;
  (void)d;
  fz_check(n <= 125);
  fz_event(r, 5);
  r->events = fz_fnv(r->events, p, n);
}

FZ_FN void fz_pong(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  fz_run *r = ud;
  (void)d;
  fz_check(n <= 125);
  fz_event(r, 6);
  r->events = fz_fnv(r->events, p, n);
}

FZ_FN void fz_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  fz_run *r = ud;
  (void)d;
  fz_event(r, 7);
  r->closes++;
  r->pending_error = 0;
  /* The reason may contain U+0000 (valid UTF-8): only the terminator is
   * promised. */
  fz_check(e->reason != NULL && e->reason[e->reason_len] == 0);
  fz_check(e->reason_len <= 123);
  r->events = fz_int(r->events, e->code);
  r->events = fz_int(r->events, e->clean);
  r->events = fz_fnv(r->events, e->reason, e->reason_len);
}

FZ_FN void fz_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  fz_run *r = ud;
  (void)d;
  fz_event(r, 8);
  fz_check(e->code < 0 && e->message != NULL && e->message[0] != 0);
  r->pending_error = 1;
  r->errors++;
  r->events = fz_int(r->events, e->code);
  r->events = fz_int(r->events, e->close_code);
}

/* Static, so it outlives every driver whether callbacks are copied or
 * borrowed. */
static const wsx_driver_callbacks fz_cbs = {.struct_size = sizeof(wsx_driver_callbacks),
    .write = fz_write,
    .connect = fz_connect,
    .open = fz_open,
    .message = fz_message,
    .frame = fz_frame,
    .ping = fz_ping,
    .pong = fz_pong,
    .close = fz_close,
    .error = fz_error,
};

/* Feeds p[0..n): chunk sizes from an xorshift seeded by `seed`, bounded by
 * `max_chunk` (0 = all at once, 1 = byte by byte). Each chunk is copied to
 * its own heap block so ASan catches reads past it. After each call, an
 * error event must have been followed by a close event. */
FZ_FN void fz_feed(fz_run *r, const uint8_t *p, size_t n, size_t max_chunk,
                   uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  size_t i = 0;
  while (i < n) {
    size_t k = n - i;
    if (max_chunk) {
      s ^= s >> 12;
      s ^= s << 25;
      s ^= s >> 27;
      k = 1 + (size_t)((s * 2685821657736338717ull) % max_chunk);
      if (k > n - i)
        k = n - i;
    }
    uint8_t *c = malloc(k);
    fz_check(c != NULL);
    memcpy(c, p + i, k);
    /* The transport's budget fast path (wsx__driver_input_unbuffered,
     * driver/embed.h): input it lets past admission never grows the
     * message buffer. */
    int unbuf = wsx_driver_ready_state(r->d) == WSX_OPEN &&
                wsx__driver_input_unbuffered(r->d, c, k);
    unsigned long grants = r->grants;
    (void)wsx_driver_parse(r->d, c, k);
    fz_check(!unbuf || r->grants == grants);
    free(c);
    fz_check(!r->pending_error);
    fz_check(r->closes <= 1 && r->after_close == 0);
    i += k;
  }
}

FZ_FN void fz_free(fz_run *r) {
  if (r->d)
    wsx_driver_free(r->d);
  free(r->head);
  memset(r, 0, sizeof *r);
}

/* Finds "Sec-WebSocket-Key: " in a client's request and writes the
 * matching accept value. Returns 0 if absent. */
FZ_FN int fz_accept_for(const fz_run *r, char acc[29]) {
  static const char name[] = "Sec-WebSocket-Key: ";
  size_t nl = sizeof name - 1;
  if (!r->head)
    return 0;
  for (size_t i = 0; i + nl + 24 <= r->head_len; i++) {
    if (memcmp(r->head + i, name, nl) == 0) {
      wsx_accept_key((const char *)r->head + i + nl, 24, acc);
      return 1;
    }
  }
  return 0;
}

#endif
