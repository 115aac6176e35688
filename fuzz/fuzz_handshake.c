/*
 * libFuzzer target for the opening-handshake parsers, both roles.
 *
 * Input byte 0 chooses:
 *   bit 0     role: 0 raw server (the input is the request and what follows
 *             it), 1 client (the input is the response and what follows)
 *   bit 1     max_head_size 256 and max_headers 8 (reaches the limits)
 *   bit 2     server: supported protocols "chat", "superchat";
 *             client: offers them
 *   bit 3     client: prefix a valid "101" status line and the correct
 *             Sec-WebSocket-Accept, so the fuzzer explores the other
 *             header checks (Upgrade, Connection, protocol, extensions)
 *   bit 4     server: start() from `connect` (else only parse the request,
 *             inspect it, and start afterwards)
 *   bits 5-7  seed of the random split points
 * The rest is the raw HTTP bytes.
 *
 * Each input runs whole, at random split points and (up to 4 KiB) byte by
 * byte; events must match across runs, and a server's answer byte for byte.
 */
#include "fuzz_driver.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const protos[] = {"chat", "superchat", NULL};

static void run_once(fz_run *r, unsigned flags, const uint8_t *in, size_t n,
                     size_t max_chunk, uint64_t seed) {
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  if (flags & 2) {
    o.max_head_size = 256;
    o.max_headers = 8;
  }
  if (flags & 4)
    o.protocols = protos;
  memset(r, 0, sizeof *r);
  r->role_client = flags & 1;
  r->echo = 1;

  if (!r->role_client) {
    r->start_in_connect = (flags & 16) != 0;
    r->d = wsx_driver_new_server(&o, &fz_cbs, r);
    fz_check(r->d != NULL);
    fz_feed(r, in, n, max_chunk, seed);
    const wsx_http_request *q = wsx_driver_request(r->d);
    if (q) {
      fz_check(q->method != NULL && q->target != NULL);
      size_t hn = 0;
      (void)wsx_driver_headers(r->d, &hn);
      fz_check(hn == q->num_headers);
      size_t bl = 0;
      (void)wsx_driver_body(r->d, &bl);
      if (!r->start_in_connect)
        (void)wsx_driver_start(r->d);
    }
    return;
  }

  int err = 0;
  r->d = wsx_driver_new_client("ws://fuzz.example/x", &o, &fz_cbs, r, &err);
  fz_check(r->d != NULL);
  (void)wsx_driver_set_header(r->d, "X-Fuzz", "1");
  fz_check(wsx_driver_start(r->d) == WSX_OK);
  uint8_t *stream = malloc(n + 128);
  fz_check(stream != NULL);
  size_t len = 0;
  if (flags & 8) {
    char acc[29];
    fz_check(fz_accept_for(r, acc));
    int hl = snprintf((char *)stream, 128,
                      "HTTP/1.1 101 Switching Protocols\r\n"
                      "Sec-WebSocket-Accept: %s\r\n",
                      acc);
    fz_check(hl > 0 && hl < 128);
    len = (size_t)hl;
  }
  if (n)
    memcpy(stream + len, in, n);
  len += n;
  fz_feed(r, stream, len, max_chunk, seed);
  free(stream);
  int sc = wsx_driver_status_code(r->d);
  fz_check(sc == 0 || (sc >= 100 && sc <= 999));
  if (r->opens)
    fz_check(sc == 101);
}

static void same(const fz_run *a, const fz_run *b) {
  fz_check(a->events == b->events);
  fz_check(a->out_len == b->out_len);
  if (!a->role_client)
    fz_check(a->out == b->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned flags = data[0];
  uint64_t seed = flags >> 5;
  fz_run whole, split, bytes;
  run_once(&whole, flags, data + 1, size - 1, 0, seed);
  run_once(&split, flags, data + 1, size - 1, 1 + (size_t)(seed * 7 + 3), seed);
  same(&whole, &split);
  fz_free(&split);
  if (size <= 4096) {
    run_once(&bytes, flags, data + 1, size - 1, 1, seed);
    same(&whole, &bytes);
    fz_free(&bytes);
  }
  fz_free(&whole);
  return 0;
}
