/*
 * WebSocket over HTTP/2 (RFC 8441) on libnghttp2, server side. Built only
 * with WSX_HTTP2 (WSX_HAVE_HTTP2).
 *
 * A TLS connection whose ALPN chose "h2" leaves the HTTP front for phase
 * WSX__P_H2 (h2_conn.c): its plaintext goes to nghttp2_session_mem_recv,
 * and what nghttp2_session_mem_send produces goes back through the
 * socket's normal write path (the TLS layer, the cork). nghttp2 parses the
 * frames; wsx does its own I/O.
 *
 * Each request stream becomes a wsx_socket of its own (h2_stream.c) whose
 * stream layer is a transport (uv/stream.h): the socket core, the HTTP
 * front, wsx_request and the driver run unchanged on it.
 *   in:   the request's pseudo-headers and headers are rewritten as an
 *         HTTP/1.1 head (extended CONNECT -> a GET upgrade) and handed to
 *         the front like bytes read from a connection; DATA follows as
 *         plaintext.
 *   out:  the socket's output is an HTTP/1.1 response head (the driver's
 *         101, a rejection, an http_res head) followed by the body; the
 *         layer turns the head into a HEADERS frame (101 -> :status 200)
 *         and the body into DATA, paced by the stream's flow-control
 *         window (what it holds back is the socket's buffered amount).
 *   end:  the core's shutdown of the socket is END_STREAM; a socket
 *         closed without it resets the stream (CANCEL); the peer's
 *         RST_STREAM or END_STREAM is the socket's EOF (1006 unless the
 *         closing handshake completed).
 */
#ifndef WSX_SRC_UV_H2_H
#define WSX_SRC_UV_H2_H

#include <nghttp2/nghttp2.h>

#include "uv/internal.h"

typedef struct wsx__h2 wsx__h2;
typedef struct wsx__h2_stream wsx__h2_stream;

struct wsx__h2_stream {
  wsx__h2 *h;
  wsx__h2_stream *next, *prev; /* the session's streams */
  wsx_socket *s;               /* its socket; NULL before open / once gone */
  int32_t id;
  /* The request, while its headers arrive. */
  char *method, *scheme, *authority, *path, *protocol;
  wsx__buf hdrs;   /* "name: value\r\n" lines of regular headers */
  wsx__buf cookie; /* the cookie fields, joined with "; " (RFC 9113 8.2.3) */
  wsx__buf held;   /* DATA before open or while paused (not yet consumed) */
  /* The response. */
  wsx__buf head; /* HTTP/1.1 response head being written */
  wsx__buf out;  /* body bytes waiting for the window */
  size_t out_off;
  uint8_t ready;     /* request complete: open after mem_recv returns */
  uint8_t is_ws;     /* extended CONNECT, :protocol websocket */
  uint8_t too_big;   /* headers over max_head_size */
  uint8_t submitted; /* response HEADERS submitted */
  uint8_t deferred;  /* the data provider is waiting for output */
  uint8_t eof;       /* END_STREAM after `out` (shutdown) */
  uint8_t closed;    /* nghttp2 closed the stream */
  uint8_t paused;    /* wsx_socket_pause */
  uint8_t progress;  /* output left: drain / teardown may continue */
  uint8_t peer_ended;
  /* Client streams (h2_client.c): id 0 until the request is submitted. */
  int status;        /* the response's :status, 0 before it */
  char accept[29];   /* the Sec-WebSocket-Accept the driver expects */
};

struct wsx__h2 {
  nghttp2_session *ng;
  nghttp2_mem mem;
  wsx_socket *s; /* the connection; NULL once it is gone */
  wsx_allocator alloc;
  uv_loop_t *loop;
  wsx__h2_stream *streams;
  size_t attached; /* streams with a socket */
  int in_recv, in_send, want_send;
  int going_away; /* GOAWAY sent: close when the last stream socket goes */
  /* Client sessions (h2_client.c). */
  int client;        /* nghttp2 client session on a dialed connection */
  int settings_seen; /* the server's first SETTINGS arrived */
  int ready;         /* ... with extended CONNECT: streams may open */
  int pooled;        /* on the loop's pool (ctx->h2_pool) */
  int goaway_recv;   /* the server sent GOAWAY: no new streams */
  char *key;         /* pool key (host, port, TLS options), NULL = private */
  wsx__h2 *pool_next;
};

/* h2_stream.c */
extern const wsx__layer wsx__h2_stream_layer;
/* Makes the stream's socket and hands it the request (after mem_recv). */
void wsx__h2_stream_open(wsx__h2_stream *st);
/* DATA for the stream (copied: the driver unmasks in place). */
void wsx__h2_stream_data(wsx__h2_stream *st, const uint8_t *data, size_t len);
ssize_t wsx__h2_read_data(nghttp2_session *ng, int32_t id, uint8_t *buf,
                          size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud);

/* h2_conn.c */
/* Sends what nghttp2 has (deferred while inside nghttp2). */
void wsx__h2_flush(wsx__h2 *h);
/* Unlinks and frees a stream (no socket attached). */
void wsx__h2_stream_free(wsx__h2_stream *st);
/* A stream socket went away: frees what nobody needs any more. */
void wsx__h2_detached(wsx__h2 *h);
/* A bodiless response with `status` ending the stream (no socket). */
void wsx__h2_respond(wsx__h2 *h, int32_t id, int status);
/* Client or server session on h->s with its settings (h->client). */
int wsx__h2_session_new(wsx__h2 *h);
/* Frees a session that has no socket and no stream. */
void wsx__h2_session_free(wsx__h2 *h);
/* DATA and stream ends, shared by both sides. */
int wsx__h2_on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
                          const uint8_t *data, size_t len, void *ud);
int wsx__h2_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err,
                            void *ud);

/* h2_stream.c: bytes for the stream's socket that are no DATA (the
 * client's rendering of the response head): delivered now, or held while
 * the socket is paused. */
void wsx__h2_stream_inject(wsx__h2_stream *st, const uint8_t *data,
                           size_t len);

/* h2_client.c */
/* The socket's request head is complete in st->head: HEADERS. */
int wsx__h2c_submit(wsx__h2_stream *st, wsx_socket *s);
int wsx__h2c_on_header(nghttp2_session *ng, const nghttp2_frame *f,
                       const uint8_t *name, size_t nlen, const uint8_t *value,
                       size_t vlen, uint8_t flags, void *ud);
int wsx__h2c_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
                           void *ud);
/* After each mem_recv: opens the waiting streams once SETTINGS came. */
void wsx__h2c_after_recv(wsx__h2 *h);
/* The last stream socket went: the connection closes. */
void wsx__h2c_idle(wsx__h2 *h);
/* The connection socket is being freed: streams still waiting dial on
 * their own, those in their handshake fail (connect_failed). */
void wsx__h2c_conn_gone(wsx__h2 *h);

#endif
