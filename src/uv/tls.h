/*
 * TLS as a stream layer (see uv/stream.h): OpenSSL over a BIO that reads
 * ciphertext from the loop's receive buffer and writes ciphertext through
 * wsx__sock_raw_write, so OpenSSL never touches the socket.
 *
 * Contexts (wsx__tls_ctx) hold the SSL_CTXs: a server's (default certificate
 * plus one per SNI entry) is built by wsx_server_new and shared by all its
 * connections; a client's is built per wsx_socket_connect, except that the
 * default (no options) context is one process-wide SSL_CTX on the system
 * trust store, loaded once.
 */
#ifndef WSX_SRC_UV_TLS_H
#define WSX_SRC_UV_TLS_H

#include <openssl/ssl.h>
#include <uv.h>

#include "common/alloc.h"
#include "wsx/tls.h"

struct wsx_socket;

typedef struct wsx__tls_ctx {
  SSL_CTX *ctx;      /* default certificate (server) / the client context */
  SSL_CTX **sni_ctx; /* server: one per SNI entry */
  char **sni_names;  /* server: the entries' names (copies) */
  size_t num_sni;
  int (*sni_cb)(const char *name, void *ud);
  void *sni_ud;
  char *server_name; /* client: SNI / verified name override, or NULL */
  wsx_allocator alloc;
  int is_server;
  int http2;    /* server: ALPN prefers "h2" (wsx_tls_server_options) */
  int insecure; /* client: verification off */
  int shared;   /* the process-wide default client context */
} wsx__tls_ctx;

/* Both return WSX_OK, WSX_E_INVALID (missing certificate / CA, bad option
 * combination), WSX_E_TLS (a file or PEM could not be loaded, key does not
 * match the certificate) or WSX_E_NOMEM. `o` may be NULL for the client. */
int wsx__tls_server_ctx_new(const wsx_allocator *a,
                            const wsx_tls_server_options *o,
                            wsx__tls_ctx **out);
int wsx__tls_client_ctx_new(const wsx_allocator *a,
                            const wsx_tls_client_options *o,
                            wsx__tls_ctx **out);
void wsx__tls_ctx_free(wsx__tls_ctx *c); /* NULL is fine */

/* Server: installs the TLS layer on a just-accepted socket (cfg->tls set).
 * The handshake runs as bytes arrive, under the handshake timeout; the HTTP
 * front sees only plaintext. Returns WSX_OK or WSX_E_NOMEM. */
int wsx__tls_server_start(struct wsx_socket *s);

/*
 * Client: installs the TLS layer on a connected client socket whose
 * s->cfg->tls is set, and sends the ClientHello (through an https://
 * proxy: starts the origin's session inside the tunnel layer instead). SNI and
 * the verified name are the URL's host (or the server_name option). Call it
 * where wsx_driver_start(s->d) would be called: right after the TCP connect, or
 * after an HTTP CONNECT tunnel is established (bytes the proxy sent after
 * its response, if any, must be passed to s->layer->on_read). It sets the
 * phase to WSX__P_CLIENT_HS; when the handshake completes it calls
 * wsx_driver_start(s->d) itself; a failure is reported as connect_failed
 * (WSX_E_TLS + reason) and the connection is torn down.
 * Returns WSX_OK, or WSX_E_NOMEM / WSX_E_TLS / WSX_E_URL with nothing
 * installed (the caller fails the connection as for any start error).
 */
int wsx__tls_client_start(struct wsx_socket *s);

/*
 * The engine under the socket layer, for transports that are not a
 * wsx_socket (the EventSource client): one TLS connection over a
 * caller-owned byte stream. Ciphertext leaves through `wire`, which must
 * take all `len` bytes (copying what the kernel refuses) and return WSX_OK
 * or a negative code. Plaintext written before the handshake completed is
 * held and sent when it does.
 */
typedef struct wsx__tls_conn wsx__tls_conn;
typedef int (*wsx__tls_wire_fn)(void *io, const char *data, size_t len);

/* A client connection on `tc` (from wsx__tls_client_ctx_new): SNI and the
 * verified name are `host` (NUL-terminated, no brackets) unless the
 * context's server_name overrides it; the ClientHello goes out through
 * `wire` before this returns. Returns WSX_OK, WSX_E_NOMEM or WSX_E_TLS. */
int wsx__tls_conn_client_new(const wsx__tls_ctx *tc, const wsx_allocator *a,
                             const char *host, wsx__tls_wire_fn wire, void *io,
                             wsx__tls_conn **out);
/* The wire of an engine that writes straight to a wsx_socket (`io`):
 * ciphertext goes to wsx__sock_raw_write, cut into bufs of at most UINT_MAX
 * bytes. Used by the socket's own TLS layer and the proxy tunnel's outer
 * session. */
int wsx__tls_sock_wire(void *io, const char *data, size_t len);

void wsx__tls_conn_free(wsx__tls_conn *t); /* NULL is fine */

/* Ciphertext that arrived (borrowed until wsx__tls_conn_input(t, NULL, 0),
 * which the caller does once it stopped stepping). */
void wsx__tls_conn_input(wsx__tls_conn *t, const char *data, size_t len);

/* Step results besides negative codes (WSX_E_TLS: failed, see
 * wsx__tls_conn_error; the connection ignores input from then on). */
#define WSX__TLS_WANT 0  /* needs more ciphertext */
#define WSX__TLS_READY 1 /* the handshake just completed */
#define WSX__TLS_DATA 2  /* *got bytes of plaintext in out */
#define WSX__TLS_EOF 3   /* close_notify: the peer's end of the stream */
/* Advances the connection on the input: call until WSX__TLS_WANT, EOF or
 * an error. */
int wsx__tls_conn_step(wsx__tls_conn *t, char *out, size_t cap, size_t *got);
/* Plaintext out (held until the handshake completed). Returns WSX_OK,
 * WSX_E_CLOSED, WSX_E_NOMEM or WSX_E_TLS. */
int wsx__tls_conn_write(wsx__tls_conn *t, const uv_buf_t *b, unsigned n);
/* Sends close_notify (once, after the handshake). */
void wsx__tls_conn_shutdown(wsx__tls_conn *t);
/* Why the last step failed, e.g. "certificate verify failed: hostname
 * mismatch" (handshake = 1) or "TLS session failed: ..."; clears
 * OpenSSL's error queue. */
void wsx__tls_conn_error(wsx__tls_conn *t, int handshake, char *buf,
                         size_t len);
/* A client whose peer certificate did not verify. */
int wsx__tls_conn_verify_failed(const wsx__tls_conn *t);

/*
 * The tunnel layer (tls_tunnel.c): a client's connection through an
 * https:// proxy, two engines in the socket's one layer slot. The outer
 * session runs to the proxy and carries the CONNECT exchange; for wss://
 * the origin's session runs inside it once the tunnel is up.
 */

/* Installs the layer on a socket that just connected to the proxy (no
 * layer yet) and sends the proxy's ClientHello: SNI and the verified name
 * are `host` (NUL-terminated, no brackets) unless `tc` overrides it.
 * Plaintext written from now on (the CONNECT request) is held until the
 * handshake completed. A failure of the proxy's session is reported as
 * connect_failed (WSX_E_TLS, "proxy host:port: certificate verify failed:
 * ...") or, once open, as an error event. Returns WSX_OK, WSX_E_STATE (a
 * layer is installed), WSX_E_NOMEM or WSX_E_TLS with nothing installed. */
int wsx__tls_tunnel_start(struct wsx_socket *s, const wsx__tls_ctx *tc,
                          const char *host, uint16_t port);
/* Non-zero if the socket's layer is the tunnel. */
int wsx__tls_tunnel_active(const struct wsx_socket *s);
/* wss:// once the tunnel is up (called by wsx__tls_client_start): starts
 * the origin's session inside the proxy's; its ClientHello leaves at once,
 * and when its handshake completes it calls wsx_driver_start(s->d).
 * Returns WSX_OK, WSX_E_STATE, WSX_E_NOMEM or WSX_E_TLS. */
int wsx__tls_tunnel_origin_start(struct wsx_socket *s, const wsx__tls_ctx *tc,
                                 const char *host);
/* Bytes that came out of the tunnel before the layer read them itself (the
 * rest of the proxy's answer): the origin's records for wss://, plaintext
 * for ws://. No-op for other sockets. */
void wsx__tls_tunnel_input(struct wsx_socket *s, char *data, size_t len);
/* The origin's session inside the tunnel once its handshake completed
 * (for the wsx_socket_tls_* accessors), else NULL. */
wsx__tls_conn *wsx__tls_tunnel_origin(const struct wsx_socket *s);

#endif
