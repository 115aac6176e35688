/*
 * The TLS stream layer. OpenSSL talks to a small custom BIO: reads take
 * ciphertext straight from the loop's receive buffer (the span handed to
 * on_read), writes go straight to wsx__sock_raw_write (uv_try_write, the
 * cork, or the socket's output queue). No ciphertext is buffered by wsx:
 * a partial record waits inside OpenSSL's record layer.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "uv/internal.h"
#include "uv/tls.h"

#define PLAIN_CHUNK 16384u /* one TLS record of plaintext */

/* The engine (uv/tls.h): one TLS connection, knowing nothing of who owns
 * the transport; ciphertext leaves through `wire`. */
struct wsx__tls_conn {
  SSL *ssl;
  const char *in; /* ciphertext not yet taken by OpenSSL (receive buffer) */
  size_t in_len;
  wsx__buf pending; /* plaintext written before the handshake completed */
  wsx_allocator alloc;
  wsx__tls_wire_fn wire;
  void *io; /* wire's argument */
  uint8_t client;
  uint8_t handshaken;
  uint8_t done; /* failed or close_notify received: ignore input */
  uint8_t shut_sent;
};
typedef struct wsx__tls_conn tls_conn;

static int layer_on_read(wsx_socket *s, void *st, char *data, size_t len);
static int layer_write(wsx_socket *s, void *st, const uv_buf_t *b, unsigned n);
static int layer_shutdown(wsx_socket *s, void *st);
static void layer_free(wsx_socket *s, void *st);

static const wsx__layer tls_layer = {layer_on_read, layer_write, layer_shutdown,
                                     layer_free, NULL, NULL};

/* ---- the BIO ---- */

static int bio_write(BIO *b, const char *data, int len) {
  tls_conn *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  /* The wire takes everything (what the kernel refuses is copied), so
   * OpenSSL never sees a partial write. */
  return t->wire(t->io, data, (size_t)len) < 0 ? -1 : len;
}

static int bio_read(BIO *b, char *out, int len) {
  tls_conn *t = BIO_get_data(b);
  size_t n = t->in_len;
  BIO_clear_retry_flags(b);
  if (n == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  if (len <= 0)
    return 0;
  if (n > (size_t)len)
    n = (size_t)len;
  memcpy(out, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static CRYPTO_ONCE meth_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *meth;

static void meth_init(void) {
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsx socket");
  if (!m)
    return;
  if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
    BIO_meth_free(m);
    return;
  }
  meth = m;
}

/* ---- connection setup ---- */

static int conn_new(const wsx__tls_ctx *tc, const wsx_allocator *a, int client,
                    wsx__tls_wire_fn wire, void *io, tls_conn **out) {
  tls_conn *t;
  BIO *bio;
  if (!tc || !CRYPTO_THREAD_run_once(&meth_once, meth_init) || !meth)
    return WSX_E_TLS;
  if (!(t = wsx__malloc(a, sizeof(*t))))
    return WSX_E_NOMEM;
  memset(t, 0, sizeof(*t));
  t->alloc = *a;
  t->wire = wire;
  t->io = io;
  t->client = (uint8_t)client;
  if (!(t->ssl = SSL_new(tc->ctx)) || !(bio = BIO_new(meth))) {
    SSL_free(t->ssl);
    wsx__free(a, t);
    return WSX_E_NOMEM;
  }
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio); /* one reference, taken by the SSL */
  *out = t;
  return WSX_OK;
}

void wsx__tls_conn_free(tls_conn *t) {
  wsx_allocator a;
  if (!t)
    return;
  a = t->alloc;
  SSL_free(t->ssl);
  wsx__buf_free(&t->pending, &a);
  wsx__free(&a, t);
}

/* A TLS engine's wire onto the socket `io` (wsx_socket *): ciphertext to
 * wsx__sock_raw_write, cut at UINT_MAX per buf. */
int wsx__tls_sock_wire(void *io, const char *data, size_t len) {
  while (len) {
    uv_buf_t u[4];
    unsigned k = 0;
    size_t done = wsx__uv_bufs(u, 4, &k, data, len);
    int rc = wsx__sock_raw_write(io, u, k);
    if (rc < 0)
      return rc;
    data += done;
    len -= done;
  }
  return WSX_OK;
}

static int install(wsx_socket *s, int client) {
  tls_conn *t;
  int rc = conn_new(s->cfg->tls, &s->cfg->alloc, client, wsx__tls_sock_wire, s, &t);
  if (rc != WSX_OK)
    return rc;
  s->layer = &tls_layer;
  s->layer_state = t;
  return WSX_OK;
}

int wsx__tls_server_start(wsx_socket *s) {
  int rc = install(s, 0);
  if (rc == WSX_OK)
    SSL_set_accept_state(((tls_conn *)s->layer_state)->ssl);
  return rc;
}

/* SNI (never for IP literals, RFC 6066 3.) and the name to verify: the
 * server_name option, else `host` (NUL-terminated, no brackets). */
static int client_names(const wsx__tls_ctx *tc, tls_conn *t, const char *host) {
  const char *name = tc->server_name ? tc->server_name : host;
  unsigned char ip[16];
  int is_ip;
  is_ip =
      inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
  if (!is_ip && SSL_set_tlsext_host_name(t->ssl, name) != 1)
    return WSX_E_TLS;
  if (tc->insecure)
    return WSX_OK;
  if (is_ip)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) == 1
               ? WSX_OK
               : WSX_E_TLS;
  /* Wildcards may match one label only (the default flags do that). */
  return SSL_set1_host(t->ssl, name) == 1 ? WSX_OK : WSX_E_TLS;
}

static void layer_detach(wsx_socket *s) {
  layer_free(s, s->layer_state);
  s->layer = NULL;
  s->layer_state = NULL;
}

/* Names, connect state, and the ClientHello out through the wire. */
static int client_hello(const wsx__tls_ctx *tc, tls_conn *t, const char *host) {
  int rc = client_names(tc, t, host), r;
  if (rc != WSX_OK)
    return rc;
  SSL_set_connect_state(t->ssl);
  ERR_clear_error();
  r = SSL_do_handshake(t->ssl); /* writes the ClientHello */
  if (r != 1 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
    return WSX_E_TLS;
  return WSX_OK;
}

int wsx__tls_client_start(wsx_socket *s) {
  char host[256] = "";
  wsx_url u;
  int rc;
  if (!s->cfg->tls->server_name) {
    if (!s->d || wsx_url_parse(wsx_driver_url(s->d), &u) != WSX_OK ||
        u.host_len >= sizeof(host))
      return WSX_E_URL;
    memcpy(host, u.host, u.host_len);
    host[u.host_len] = '\0';
  }
  s->phase = WSX__P_CLIENT_HS;
  /* Through an https:// proxy: the origin's session goes inside the
   * proxy's, in the same layer. */
  if (wsx__tls_tunnel_active(s))
    return wsx__tls_tunnel_origin_start(s, s->cfg->tls, host);
  if ((rc = install(s, 1)) != WSX_OK)
    return rc;
#ifdef WSX_HAVE_HTTP2
  /* The connection of HTTP/2 client streams (h2_client.c). */
  if (wsx__sock_h2(s) && SSL_set_alpn_protos(((tls_conn *)s->layer_state)->ssl,
                                   (const unsigned char *)"\x02h2\x08http/1.1",
                                   12) != 0) {
    layer_detach(s);
    return WSX_E_NOMEM;
  }
#endif
  rc = client_hello(s->cfg->tls, s->layer_state, host);
  if (rc != WSX_OK)
    layer_detach(s);
  return rc;
}

int wsx__tls_conn_client_new(const wsx__tls_ctx *tc, const wsx_allocator *a,
                             const char *host, wsx__tls_wire_fn wire, void *io,
                             tls_conn **out) {
  int rc = conn_new(tc, a, 1, wire, io, out);
  if (rc == WSX_OK && (rc = client_hello(tc, *out, host)) != WSX_OK) {
    wsx__tls_conn_free(*out);
    *out = NULL;
  }
  return rc;
}

/* ---- failures ---- */

void wsx__tls_conn_error(tls_conn *t, int handshake, char *buf, size_t len) {
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  const char *what = handshake ? "handshake" : "session";
  if (handshake && wsx__tls_conn_verify_failed(t))
    snprintf(buf, len, "certificate verify failed: %s",
             X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
  else if (why)
    snprintf(buf, len, "TLS %s failed: %s", what, why);
  else if (e)
    snprintf(buf, len, "TLS %s failed: %s", what, ERR_error_string(e, NULL));
  else
    snprintf(buf, len, "TLS %s failed", what);
  ERR_clear_error();
}

int wsx__tls_conn_verify_failed(const tls_conn *t) {
  return t->client && SSL_get_verify_result(t->ssl) != X509_V_OK;
}

/* Teardown (not an immediate close) so that the alert OpenSSL just wrote
 * still leaves before our FIN. */
static void fail(wsx_socket *s, tls_conn *t) {
  char msg[300];
  t->done = 1;
  /* A client's handshake lasts until the 101. */
  wsx__tls_conn_error(t, !t->handshaken || s->phase == WSX__P_CLIENT_HS, msg,
                      sizeof(msg));
  if (s->phase == WSX__P_CLIENT_HS) {
    wsx__sock_connect_failed(s, WSX_E_TLS, 0, msg);
  } else if (s->phase == WSX__P_WS) {
    wsx__sock_error(s, WSX_E_TLS, 0, msg);
    if (s->d)
      wsx_driver_abort(s->d, 0, NULL); /* 1006, then teardown */
  }
  /* Server before the HTTP head: the app never saw the connection. */
  wsx__sock_teardown(s);
}

/* ---- reading ---- */

void wsx__tls_conn_input(tls_conn *t, const char *data, size_t len) {
  t->in = data;
  t->in_len = len;
}

static int conn_write(tls_conn *t, const uv_buf_t *b, unsigned n);

int wsx__tls_conn_step(tls_conn *t, char *out, size_t cap, size_t *got) {
  int e;
  *got = 0;
  if (t->done)
    return WSX__TLS_WANT;
  if (!t->handshaken) {
    int r;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
        return WSX__TLS_WANT;
      t->done = 1;
      return WSX_E_TLS;
    }
    t->handshaken = 1;
    if (t->pending.len) { /* what was written while handshaking */
      wsx__buf p = t->pending;
      uv_buf_t b[16];
      unsigned k = 0;
      memset(&t->pending, 0, sizeof(t->pending));
      e = wsx__uv_bufs(b, 16, &k, p.data, p.len) == p.len ? conn_write(t, b, k)
                                                          : WSX_E_NOMEM;
      wsx__buf_free(&p, &t->alloc);
      if (e < 0) {
        t->done = 1;
        return WSX_E_TLS;
      }
    }
    return WSX__TLS_READY;
  }
  ERR_clear_error();
  if (SSL_read_ex(t->ssl, out, cap, got) == 1)
    return WSX__TLS_DATA;
  e = SSL_get_error(t->ssl, 0);
  if (e == SSL_ERROR_WANT_READ)
    return WSX__TLS_WANT;
  t->done = 1;
  /* close_notify: the peer's end of the stream, like a FIN. */
  return e == SSL_ERROR_ZERO_RETURN ? WSX__TLS_EOF : WSX_E_TLS;
}

static int layer_on_read(wsx_socket *s, void *st, char *data, size_t len) {
  tls_conn *t = st;
  char plain[PLAIN_CHUNK];
  wsx__tls_conn_input(t, data, len);
  while (!t->done && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t got;
    int r = wsx__tls_conn_step(t, plain, sizeof(plain), &got);
    if (r == WSX__TLS_WANT)
      break;
    if (r == WSX__TLS_DATA) {
      wsx__sock_on_plain(s, plain, got);
    } else if (r == WSX__TLS_READY) {
#ifdef WSX_HAVE_HTTP2
      if (t->client && wsx__sock_h2(s)) {
        const unsigned char *p = NULL;
        unsigned n = 0;
        SSL_get0_alpn_selected(t->ssl, &p, &n);
        wsx__h2c_tls_ready(s, n == 2 && memcmp(p, "h2", 2) == 0);
        continue;
      }
#endif
      if (t->client) {
        int rc = wsx_driver_start(s->d);
        if (rc < 0 && !(s->flags & WSX__F_HANDLE_CLOSING)) {
          t->done = 1;
          wsx__sock_connect_failed(s, rc, 0, "could not send the handshake");
          wsx__sock_teardown(s);
        }
      }
    } else if (r == WSX__TLS_EOF) {
      wsx__sock_on_eof(s, UV_EOF);
    } else {
      fail(s, t);
    }
  }
  wsx__tls_conn_input(t, NULL, 0);
  return WSX_OK;
}

/* ---- writing ---- */

static int ssl_write_all(tls_conn *t, const char *p, size_t len) {
  while (len) {
    size_t done = 0;
    ERR_clear_error();
    if (SSL_write_ex(t->ssl, p, len, &done) != 1)
      return WSX_E_TLS;
    p += done;
    len -= done;
  }
  return WSX_OK;
}

/* Small buffers (a frame header and its payload) are gathered into one
 * record; buffers of a record or more go to OpenSSL as they are. */
static int conn_write(tls_conn *t, const uv_buf_t *b, unsigned n) {
  char tmp[PLAIN_CHUNK];
  size_t fill = 0;
  unsigned i;
  int rc = WSX_OK;
  if (t->done || t->shut_sent)
    return WSX_E_CLOSED;
  if (!t->handshaken) {
    for (i = 0; i < n; i++)
      if (wsx__buf_append(&t->pending, &t->alloc, b[i].base, b[i].len) !=
          WSX_OK)
        return WSX_E_NOMEM;
    return WSX_OK;
  }
  for (i = 0; rc == WSX_OK && i < n; i++) {
    const char *p = b[i].base;
    size_t len = b[i].len;
    while (rc == WSX_OK && len) {
      size_t k;
      if (fill == 0 && len >= sizeof(tmp)) {
        rc = ssl_write_all(t, p, len);
        break;
      }
      k = sizeof(tmp) - fill < len ? sizeof(tmp) - fill : len;
      memcpy(tmp + fill, p, k);
      fill += k;
      p += k;
      len -= k;
      if (fill == sizeof(tmp)) {
        rc = ssl_write_all(t, tmp, fill);
        fill = 0;
      }
    }
  }
  if (rc == WSX_OK && fill)
    rc = ssl_write_all(t, tmp, fill);
  if (rc != WSX_OK)
    ERR_clear_error();
  return rc;
}

int wsx__tls_conn_write(tls_conn *t, const uv_buf_t *b, unsigned n) {
  return conn_write(t, b, n);
}

static int layer_write(wsx_socket *s, void *st, const uv_buf_t *b, unsigned n) {
  (void)s;
  return conn_write(st, b, n);
}

/* ---- closing ---- */

void wsx__tls_conn_shutdown(tls_conn *t) {
  if (!t->handshaken || t->shut_sent || t->done)
    return;
  t->shut_sent = 1;
  ERR_clear_error();
  (void)SSL_shutdown(t->ssl); /* 0: sent, the peer's may follow */
  ERR_clear_error();
}

static int layer_shutdown(wsx_socket *s, void *st) {
  tls_conn *t = st;
  wsx__loopctx *c = s->cfg->ctx;
  if (!t->handshaken || t->shut_sent || t->done)
    return WSX_OK;
  /* The cork is empty here (teardown waits for it), and close_notify must
   * be written before the FIN that follows, not corked behind it. */
  if (c->cork_owner == s)
    c->cork_owner = NULL;
  wsx__tls_conn_shutdown(t);
  return WSX_OK;
}

static void layer_free(wsx_socket *s, void *st) {
  (void)s;
  wsx__tls_conn_free(st);
}

/* ---- accessors ---- */

/* The session with the origin: the layer's, or the one inside an
 * https:// proxy's tunnel (a ws:// tunnel has none). */
static tls_conn *conn_of(const wsx_socket *s) {
  if (!s)
    return NULL;
  if (s->layer == &tls_layer)
    return s->layer_state;
  return wsx__tls_tunnel_origin(s);
}

static SSL *ssl_of(const wsx_socket *s) {
  tls_conn *t = conn_of(s);
  return t ? t->ssl : NULL;
}

static int is_up(const wsx_socket *s) {
  tls_conn *t = conn_of(s);
  return t && t->handshaken;
}

const char *wsx_socket_tls_version(const wsx_socket *s) {
  return is_up(s) ? SSL_get_version(ssl_of(s)) : NULL;
}

const char *wsx_socket_tls_alpn(const wsx_socket *s) {
  const unsigned char *p = NULL;
  unsigned int n = 0;
  if (!is_up(s))
    return "";
  SSL_get0_alpn_selected(ssl_of(s), &p, &n);
  if (n == 2 && memcmp(p, "h2", 2) == 0)
    return "h2";
  return n == 8 && memcmp(p, "http/1.1", 8) == 0 ? "http/1.1" : "";
}

const char *wsx_socket_tls_server_name(const wsx_socket *s) {
  SSL *ssl = ssl_of(s);
  return ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

int wsx_socket_tls_peer_subject(const wsx_socket *s, char *buf, size_t len) {
  X509 *x;
  BIO *b;
  long n;
  char *p;
  int rc = WSX_OK;
  if (!buf || !len)
    return WSX_E_INVALID;
  if (!is_up(s) || !(x = SSL_get0_peer_certificate(ssl_of(s))))
    return WSX_E_STATE;
  if (!(b = BIO_new(BIO_s_mem())))
    return WSX_E_NOMEM;
  if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
                         XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    BIO_free(b);
    return WSX_E_NOMEM;
  }
  n = BIO_get_mem_data(b, &p);
  if (n < 0 || (size_t)n >= len) {
    rc = WSX_E_INVALID;
  } else {
    memcpy(buf, p, (size_t)n);
    buf[n] = '\0';
  }
  BIO_free(b);
  return rc;
}
