/*
 * libFuzzer target for the hybi frame parser, both roles.
 *
 * Input byte 0 chooses:
 *   bit 0     role: 0 server (the peer's frames should be masked),
 *             1 client (they should not)
 *   bit 1     frame events instead of assembled messages
 *   bit 2     max_length 64 (reaches the limit paths)
 *   bit 3     max_fragments 3
 *   bit 4     fragment outgoing messages at 7 bytes (echoes are split)
 *   bits 5-7  seed of the random split points
 * Input byte 1: if bit 7 is set, max_frame_size = byte & 0x7f (0 = off).
 * The rest is the byte stream that follows a valid opening handshake.
 *
 * The stream runs whole, at random split points and (for inputs up to 4 KiB)
 * byte by byte. Events are hashed and must match across runs; a server's
 * output must match byte for byte, a client's (masked with random keys) in
 * length. Messages are echoed back and one message is queued before the
 * handshake, so the send paths run too. A budget hook counts the message
 * buffer's growths, so fz_feed checks the transport's fast path (input
 * that wsx__driver_input_unbuffered passes grows nothing). See
 * fuzz_driver.h for the invariants checked on every run.
 */
#include "fuzz_driver.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUEST                                                                \
  "GET /fuzz HTTP/1.1\r\nHost: fuzz.example\r\nUpgrade: websocket\r\n"         \
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"     \
  "Sec-WebSocket-Version: 13\r\n\r\n"

static void run_once(fz_run *r, unsigned flags, unsigned b1, const uint8_t *in,
                     size_t n, size_t max_chunk, uint64_t seed) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.frame_events = (flags & 2) != 0;
  o.max_length = (flags & 4) ? 64 : 0;
  o.max_fragments = (flags & 8) ? 3 : 0;
  o.fragment_outgoing_messages = (flags & 16) != 0;
  o.fragmentation_threshold = 7;
  if (b1 & 0x80)
    o.max_frame_size = b1 & 0x7f;
  memset(r, 0, sizeof *r);
  r->echo = 1;
  r->start_in_connect = 1;
  r->role_client = flags & 1;

  uint8_t *stream;
  size_t len;
  if (r->role_client) {
    int err = 0;
    r->d = wsx_driver_new_client("ws://fuzz.example/x", &o, &fz_cbs, r, &err);
    fz_check(r->d != NULL);
    wsx_driver_set_budget(r->d, fz_budget, r); /* fz_feed checks grants */
    (void)wsx_driver_send_text(r->d, "queued", 6);
    fz_check(wsx_driver_start(r->d) == WSX_OK);
    char acc[29];
    fz_check(fz_accept_for(r, acc));
    char resp[160];
    int hl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n",
                      acc);
    fz_check(hl > 0 && (size_t)hl < sizeof resp);
    len = (size_t)hl + n;
    stream = malloc(len + 1);
    fz_check(stream != NULL);
    memcpy(stream, resp, (size_t)hl);
    if (n)
      memcpy(stream + hl, in, n);
  } else {
    r->d = wsx_driver_new_server(&o, &fz_cbs, r);
    fz_check(r->d != NULL);
    wsx_driver_set_budget(r->d, fz_budget, r); /* fz_feed checks grants */
    (void)wsx_driver_send_binary(r->d, "queued", 6);
    size_t hl = sizeof REQUEST - 1;
    len = hl + n;
    stream = malloc(len + 1);
    fz_check(stream != NULL);
    memcpy(stream, REQUEST, hl);
    if (n)
      memcpy(stream + hl, in, n);
  }
  fz_feed(r, stream, len, max_chunk, seed);
  fz_check(r->opens == 1);
  free(stream);
  /* Poke the API in whatever state the input left: must not crash. */
  (void)wsx_driver_ping(r->d, "p", 1, NULL, NULL);
  (void)wsx_driver_close(r->d, 1000, "fuzz");
  int st = wsx_driver_ready_state(r->d);
  fz_check(st >= WSX_CONNECTING && st <= WSX_CLOSED);
  const char *msg = NULL;
  (void)wsx_driver_last_error(r->d, &msg);
  fz_check(msg != NULL);
}

static void same(const fz_run *a, const fz_run *b) {
  fz_check(a->events == b->events);
  fz_check(a->out_len == b->out_len);
  if (!a->role_client)
    fz_check(a->out == b->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  unsigned flags = data[0], b1 = data[1];
  uint64_t seed = flags >> 5;
  const uint8_t *in = data + 2;
  size_t n = size - 2;

  fz_run whole, split, bytes;
  run_once(&whole, flags, b1, in, n, 0, seed);
  run_once(&split, flags, b1, in, n, 1 + (size_t)(seed * 5 + 2), seed);
  same(&whole, &split);
  fz_free(&split);
  if (n <= 4096) {
    run_once(&bytes, flags, b1, in, n, 1, seed);
    same(&whole, &bytes);
    fz_free(&bytes);
  }
  fz_free(&whole);
  return 0;
}
