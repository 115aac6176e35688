/*
 * The stream layer: where a transformation of the byte stream (TLS through
 * OpenSSL memory BIOs, issue 4) slots in between a socket and its libuv
 * stream. A socket without a layer (s->layer == NULL) reads and writes the
 * stream directly; with a layer:
 *
 *   read:   raw bytes from the loop's receive buffer go to layer->on_read,
 *           which hands plaintext back through wsx__sock_on_plain() (zero or
 *           more times; the plaintext may be decrypted in place).
 *   write:  plaintext from the driver / HTTP front goes to layer->write,
 *           which hands ciphertext to wsx__sock_raw_write() (same contract
 *           as the plain path: try_write first, copy the rest).
 *   close:  layer->shutdown runs before our FIN (e.g. close_notify);
 *           layer->free when the socket is freed.
 *
 * Every hook returns WSX_OK or a negative code; a negative code fails the
 * connection with an error event naming it.
 *
 * A transport layer (an HTTP/2 stream, uv/h2.h) replaces the libuv stream
 * altogether: it sets read_ctl (and buffered). Its socket's handle is an
 * unopened placeholder pipe, closed only for the asynchronous close
 * callback; the layer hands plaintext to wsx__sock_on_plain() itself, its
 * write takes the socket's output, and after shutdown (the end of the
 * stream) the core closes the handle at once instead of sending a FIN.
 * When its output drains it calls wsx__sock_output_progress().
 */
#ifndef WSX_SRC_UV_STREAM_H
#define WSX_SRC_UV_STREAM_H

#include <uv.h>

struct wsx_socket;

typedef struct wsx__layer {
  int (*on_read)(struct wsx_socket *s, void *state, char *data, size_t len);
  int (*write)(struct wsx_socket *s, void *state, const uv_buf_t *bufs,
               unsigned n);
  int (*shutdown)(struct wsx_socket *s, void *state);
  void (*free)(struct wsx_socket *s, void *state);
  /* Transport layers only (NULL otherwise). */
  size_t (*buffered)(const struct wsx_socket *s, void *state);
  int (*read_ctl)(struct wsx_socket *s, void *state, int on); /* 0: pause */
} wsx__layer;

#define WSX__LAYER_TRANSPORT(l) ((l) && (l)->read_ctl)

/* Plaintext for the socket's current phase (HTTP head, WebSocket frames). */
void wsx__sock_on_plain(struct wsx_socket *s, char *data, size_t len);
/* A transport layer's output moved on: drain / teardown may continue. */
void wsx__sock_output_progress(struct wsx_socket *s);
/* Bytes for the wire, below any layer. */
int wsx__sock_raw_write(struct wsx_socket *s, const uv_buf_t *bufs, unsigned n);

#endif
