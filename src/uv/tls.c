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

typedef struct tls_conn {
  SSL *ssl;
  const char *in;   /* ciphertext not yet taken by OpenSSL (receive buffer) */
  size_t in_len;
  wsx__buf pending; /* plaintext written before the handshake completed */
  uint8_t client;
  uint8_t handshaken;
  uint8_t done;     /* failed or close_notify received: ignore input */
  uint8_t shut_sent;
} tls_conn;

static int layer_on_read(wsx_socket *s, void *st, char *data, size_t len);
static int layer_write(wsx_socket *s, void *st, const uv_buf_t *b,
                       unsigned n);
static int layer_shutdown(wsx_socket *s, void *st);
static void layer_free(wsx_socket *s, void *st);

static const wsx__layer tls_layer = {layer_on_read, layer_write,
                                     layer_shutdown, layer_free};

/* ---- the BIO ---- */

static int bio_write(BIO *b, const char *data, int len) {
  wsx_socket *s = BIO_get_data(b);
  uv_buf_t u = uv_buf_init((char *)data, (unsigned)len);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  /* raw_write takes everything (what the kernel refuses is copied), so
   * OpenSSL never sees a partial write. */
  return wsx__sock_raw_write(s, &u, 1) < 0 ? -1 : len;
}

static int bio_read(BIO *b, char *out, int len) {
  wsx_socket *s = BIO_get_data(b);
  tls_conn *t = s->layer_state;
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
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "wsx socket");
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

static int install(wsx_socket *s, int client) {
  const wsx__tls_ctx *tc = s->cfg->tls;
  tls_conn *t;
  BIO *bio;
  if (!tc || !CRYPTO_THREAD_run_once(&meth_once, meth_init) || !meth)
    return WSX_E_TLS;
  if (!(t = wsx__malloc(&s->cfg->alloc, sizeof(*t))))
    return WSX_E_NOMEM;
  memset(t, 0, sizeof(*t));
  t->client = (uint8_t)client;
  if (!(t->ssl = SSL_new(tc->ctx)) || !(bio = BIO_new(meth))) {
    SSL_free(t->ssl);
    wsx__free(&s->cfg->alloc, t);
    return WSX_E_NOMEM;
  }
  BIO_set_data(bio, s);
  SSL_set_bio(t->ssl, bio, bio); /* one reference, taken by the SSL */
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

/* SNI (never for IP literals, RFC 6066 3.) and the name to verify. */
static int client_names(wsx_socket *s, tls_conn *t) {
  const wsx__tls_ctx *tc = s->cfg->tls;
  char host[256];
  const char *name;
  unsigned char ip[16];
  int is_ip;
  wsx_url u;
  if (tc->server_name) {
    name = tc->server_name;
  } else {
    if (!s->d || wsx_url_parse(wsx_driver_url(s->d), &u) != WSX_OK ||
        u.host_len >= sizeof(host))
      return WSX_E_URL;
    memcpy(host, u.host, u.host_len);
    host[u.host_len] = '\0';
    name = host;
  }
  is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
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

int wsx__tls_client_start(wsx_socket *s) {
  tls_conn *t;
  int rc = install(s, 1), r;
  if (rc != WSX_OK)
    return rc;
  t = s->layer_state;
  if ((rc = client_names(s, t)) != WSX_OK) {
    layer_detach(s);
    return rc;
  }
  SSL_set_connect_state(t->ssl);
  s->phase = WSX__P_CLIENT_HS;
  ERR_clear_error();
  r = SSL_do_handshake(t->ssl); /* writes the ClientHello */
  if (r != 1 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ) {
    layer_detach(s);
    return WSX_E_TLS;
  }
  return WSX_OK;
}

/* ---- failures ---- */

static void err_text(tls_conn *t, char *buf, size_t len, int handshake) {
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  long v = SSL_get_verify_result(t->ssl);
  if (handshake && t->client && v != X509_V_OK)
    snprintf(buf, len, "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
  else if (why)
    snprintf(buf, len, "TLS %s failed: %s",
             handshake ? "handshake" : "session", why);
  else if (e)
    snprintf(buf, len, "TLS %s failed: %s",
             handshake ? "handshake" : "session", ERR_error_string(e, NULL));
  else
    snprintf(buf, len, "TLS %s failed", handshake ? "handshake" : "session");
  ERR_clear_error();
}

/* Teardown (not an immediate close) so that the alert OpenSSL just wrote
 * still leaves before our FIN. */
static void fail(wsx_socket *s, tls_conn *t, int handshake) {
  char msg[300];
  t->done = 1;
  err_text(t, msg, sizeof(msg), handshake || s->phase == WSX__P_CLIENT_HS);
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

static int handshake_done(wsx_socket *s, tls_conn *t) {
  wsx__buf p = t->pending;
  int rc;
  t->handshaken = 1;
  if (p.len) {
    uv_buf_t b = uv_buf_init((char *)p.data, (unsigned)p.len);
    memset(&t->pending, 0, sizeof(t->pending));
    rc = layer_write(s, t, &b, 1);
    wsx__buf_free(&p, &s->cfg->alloc);
    if (rc < 0)
      return rc;
  }
  if (t->client) {
    rc = wsx_driver_start(s->d);
    if (rc < 0 && !(s->flags & WSX__F_HANDLE_CLOSING)) {
      t->done = 1;
      wsx__sock_connect_failed(s, rc, 0, "could not send the handshake");
      wsx__sock_teardown(s);
    }
  }
  return WSX_OK;
}

static int layer_on_read(wsx_socket *s, void *st, char *data, size_t len) {
  tls_conn *t = st;
  char plain[PLAIN_CHUNK];
  if (t->done)
    return WSX_OK;
  t->in = data;
  t->in_len = len;
  if (!t->handshaken) {
    int r;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      if (SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
        fail(s, t, 1);
      t->in_len = 0;
      return WSX_OK;
    }
    if (handshake_done(s, t) < 0)
      fail(s, t, 0);
  }
  while (!t->done && !(s->flags & WSX__F_HANDLE_CLOSING)) {
    size_t got = 0;
    int e;
    ERR_clear_error();
    if (SSL_read_ex(t->ssl, plain, sizeof(plain), &got) == 1) {
      wsx__sock_on_plain(s, plain, got);
      continue;
    }
    e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ)
      break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      /* close_notify: the peer's end of the stream, like a FIN. */
      t->done = 1;
      wsx__sock_on_eof(s, UV_EOF);
      break;
    }
    fail(s, t, 0);
  }
  t->in = NULL;
  t->in_len = 0;
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
static int layer_write(wsx_socket *s, void *st, const uv_buf_t *b,
                       unsigned n) {
  tls_conn *t = st;
  char tmp[PLAIN_CHUNK];
  size_t fill = 0;
  unsigned i;
  int rc = WSX_OK;
  if (t->done || t->shut_sent)
    return WSX_E_CLOSED;
  if (!t->handshaken) {
    for (i = 0; i < n; i++)
      if (wsx__buf_append(&t->pending, &s->cfg->alloc, b[i].base,
                          b[i].len) != WSX_OK)
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

/* ---- closing ---- */

static int layer_shutdown(wsx_socket *s, void *st) {
  tls_conn *t = st;
  wsx__loopctx *c = s->cfg->ctx;
  if (!t->handshaken || t->shut_sent || t->done)
    return WSX_OK;
  t->shut_sent = 1;
  /* The cork is empty here (teardown waits for it), and close_notify must
   * be written before the FIN that follows, not corked behind it. */
  if (c->cork_owner == s)
    c->cork_owner = NULL;
  ERR_clear_error();
  (void)SSL_shutdown(t->ssl); /* 0: sent, the peer's may follow */
  ERR_clear_error();
  return WSX_OK;
}

static void layer_free(wsx_socket *s, void *st) {
  tls_conn *t = st;
  if (!t)
    return;
  SSL_free(t->ssl);
  wsx__buf_free(&t->pending, &s->cfg->alloc);
  wsx__free(&s->cfg->alloc, t);
}

/* ---- accessors ---- */

static SSL *ssl_of(const wsx_socket *s) {
  if (!s || s->layer != &tls_layer || !s->layer_state)
    return NULL;
  return ((tls_conn *)s->layer_state)->ssl;
}

static int is_up(const wsx_socket *s) {
  return ssl_of(s) && ((tls_conn *)s->layer_state)->handshaken;
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
