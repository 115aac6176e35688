/* TLS contexts: certificates, trust anchors, SNI, ALPN, verification. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "common/abi.h"
#include "uv/tls.h"

static const unsigned char alpn_wire[] = "\x08http/1.1";
#define ALPN_WIRE_LEN 9u

/* wsx_tls_last_error(): per thread, since each loop runs on its own. */
static _Thread_local char last_error[384];

const char *wsx_tls_last_error(void) { return last_error; }

/* Records why a context could not be built (`what` and, if any, `name`
 * identify the item; OpenSSL's queue gives the reason) and returns rc. */
static int note(int rc, const char *what, const char *name) {
  /* The oldest entry is the root cause ("No such file or directory", "no
   * start line"); later ones only say which layer gave up ("PEM lib"). */
  unsigned long e = ERR_peek_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  char code[32];
  if (last_error[0]) /* the innermost (first) failure names the cause */
    return rc;
  if (e && ERR_SYSTEM_ERROR(e)) /* errno: OpenSSL 3 has no text for it */
    why = uv_strerror(uv_translate_sys_error((int)ERR_GET_REASON(e)));
  if (!why && e) {
    snprintf(code, sizeof(code), "error %lx", e);
    why = code;
  }
  if (!why && rc == WSX_E_NOMEM)
    why = "out of memory";
  snprintf(last_error, sizeof(last_error), "%s%s%s%s%s", what, name ? " " : "",
           name ? name : "", why ? ": " : "", why ? why : "");
  ERR_clear_error();
  return rc;
}

/* Keys must not be encrypted: never let OpenSSL prompt on the terminal. */
static int no_password(char *buf, int size, int rw, void *ud) {
  (void)buf, (void)size, (void)rw, (void)ud;
  return 0;
}

/* Certificates are validated (struct_size) by the ctx_new functions before
 * these read them through this library's layout. */
static wsx_tls_cert cert_get(const wsx_tls_cert *k) {
  wsx_tls_cert c;
  (void)WSX__STRUCT_IN(wsx_tls_cert, &c, k);
  return c;
}

static int cert_empty(const wsx_tls_cert *kp) {
  wsx_tls_cert k = cert_get(kp);
  return !k.cert_file && !k.cert_pem && !k.key_file && !k.key_pem;
}

static BIO *pem_bio(const char *pem, size_t len) {
  if (!len)
    len = strlen(pem);
  return len > 0x7fffffffu ? NULL : BIO_new_mem_buf(pem, (int)len);
}

static int use_chain_pem(SSL_CTX *c, const char *pem, size_t len) {
  BIO *b = pem_bio(pem, len);
  X509 *x;
  int ok;
  if (!b)
    return WSX_E_NOMEM;
  x = PEM_read_bio_X509(b, NULL, no_password, NULL);
  ok = x && SSL_CTX_use_certificate(c, x) == 1;
  X509_free(x);
  if (ok && SSL_CTX_clear_chain_certs(c) != 1)
    ok = 0;
  while (ok && (x = PEM_read_bio_X509(b, NULL, no_password, NULL))) {
    if (SSL_CTX_add0_chain_cert(c, x) != 1) {
      X509_free(x);
      ok = 0;
    }
  }
  BIO_free(b);
  /* The read that ends the chain leaves "no start line" behind. */
  if (ok)
    ERR_clear_error();
  return ok ? WSX_OK : WSX_E_TLS;
}

static int use_key_pem(SSL_CTX *c, const char *pem, size_t len) {
  BIO *b = pem_bio(pem, len);
  EVP_PKEY *k;
  int ok;
  if (!b)
    return WSX_E_NOMEM;
  k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
  ok = k && SSL_CTX_use_PrivateKey(c, k) == 1;
  EVP_PKEY_free(k);
  BIO_free(b);
  return ok ? WSX_OK : WSX_E_TLS;
}

static int load_cert(SSL_CTX *c, const wsx_tls_cert *kp) {
  wsx_tls_cert kc = cert_get(kp);
  const wsx_tls_cert *k = &kc;
  int rc = WSX_OK;
  if (k->cert_file)
    rc = SSL_CTX_use_certificate_chain_file(c, k->cert_file) == 1 ? WSX_OK
                                                                  : WSX_E_TLS;
  else if (k->cert_pem)
    rc = use_chain_pem(c, k->cert_pem, k->cert_pem_len);
  else
    return note(WSX_E_INVALID, "certificate", "missing");
  if (rc != WSX_OK)
    return note(rc, k->cert_file ? "certificate file" : "certificate PEM",
                k->cert_file);
  if (k->key_file)
    rc = SSL_CTX_use_PrivateKey_file(c, k->key_file, SSL_FILETYPE_PEM) == 1
             ? WSX_OK
             : WSX_E_TLS;
  else if (k->key_pem)
    rc = use_key_pem(c, k->key_pem, k->key_pem_len);
  else
    return note(WSX_E_INVALID, "private key", "missing");
  if (rc != WSX_OK)
    return note(rc, k->key_file ? "key file" : "key PEM", k->key_file);
  if (SSL_CTX_check_private_key(c) != 1)
    rc = note(WSX_E_TLS, "certificate and key", "do not match");
  return rc;
}

static int add_ca_pem(SSL_CTX *c, const char *pem, size_t len) {
  X509_STORE *st = SSL_CTX_get_cert_store(c);
  BIO *b = pem_bio(pem, len);
  X509 *x;
  int n = 0, ok = 1;
  if (!b)
    return WSX_E_NOMEM;
  while (ok && (x = PEM_read_bio_X509(b, NULL, no_password, NULL))) {
    ok = X509_STORE_add_cert(st, x) == 1;
    X509_free(x);
    n++;
  }
  BIO_free(b);
  ERR_clear_error();
  return ok && n > 0 ? WSX_OK : WSX_E_TLS;
}

static SSL_CTX *base_ctx(const SSL_METHOD *m) {
  SSL_CTX *c = SSL_CTX_new(m);
  if (!c)
    return NULL;
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    SSL_CTX_free(c);
    return NULL;
  }
  /* Idle connections give their record buffers back. */
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(c, no_password);
  return c;
}

/* ---- server ---- */

/* Offered "h2" (length-prefixed) in the client's list `in`, or NULL. */
static const unsigned char *find_h2(const unsigned char *in,
                                    unsigned int inlen) {
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen)
      break;
    if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0)
      return in + i + 1;
    i += 1 + n;
  }
  return NULL;
}

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  const wsx__tls_ctx *tc = arg;
  unsigned int i = 0;
  (void)ssl;
  /* A server with http2 on prefers h2 (RFC 8441) when it is offered. */
  if (tc && tc->http2 && (*out = find_h2(in, inlen)) != NULL) {
    *outlen = 2;
    return SSL_TLSEXT_ERR_OK;
  }
  while (i < inlen) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen)
      break;
    if (n == ALPN_WIRE_LEN - 1 && memcmp(in + i + 1, alpn_wire + 1, n) == 0) {
      *out = in + i + 1;
      *outlen = (unsigned char)n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  /* A client that offers other protocols only still gets WebSocket over
   * HTTP/1.1 without ALPN, as browsers' ws clients expect. */
  return SSL_TLSEXT_ERR_NOACK;
}

static int name_match(const char *pat, const char *name) {
  if (pat[0] == '*' && pat[1] == '.') {
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(dot + 1, pat + 2) == 0;
  }
  return strcasecmp(pat, name) == 0;
}

static int sni_select(SSL *ssl, int *alert, void *arg) {
  wsx__tls_ctx *tc = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  int idx = WSX_TLS_SNI_DEFAULT;
  size_t i;
  if (tc->sni_cb) {
    idx = tc->sni_cb(name, tc->sni_ud);
  } else if (name) {
    for (i = 0; i < tc->num_sni; i++)
      if (name_match(tc->sni_names[i], name)) {
        idx = (int)i;
        break;
      }
  }
  if (idx == WSX_TLS_SNI_REJECT || idx < WSX_TLS_SNI_DEFAULT ||
      (idx >= 0 && (size_t)idx >= tc->num_sni)) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (idx >= 0 && SSL_set_SSL_CTX(ssl, tc->sni_ctx[idx]) == NULL) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

/* Every context of a server is configured alike: after an SNI switch,
 * OpenSSL takes ALPN and client verification from the new context. */
static int server_ctx(const wsx_tls_server_options *o, const wsx_tls_cert *k,
                      wsx__tls_ctx *tc, SSL_CTX **out) {
  static const unsigned char sid[] = "wsx";
  SSL_CTX *c = base_ctx(TLS_server_method());
  int rc;
  if (!(*out = c))
    return WSX_E_NOMEM;
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_id_context(c, sid, sizeof(sid) - 1);
  SSL_CTX_set_alpn_select_cb(c, alpn_select, tc);
  SSL_CTX_set_tlsext_servername_callback(c, sni_select);
  SSL_CTX_set_tlsext_servername_arg(c, tc);
  if (o->client_auth) {
    int mode = SSL_VERIFY_PEER;
    if (o->client_auth == WSX_TLS_CLIENT_CERT_REQUIRED)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (o->client_auth != WSX_TLS_CLIENT_CERT_OPTIONAL)
      return note(WSX_E_INVALID, "client_auth", "unknown value");
    if (!o->ca_file && !o->ca_dir)
      return note(WSX_E_INVALID, "client_auth", "needs ca_file or ca_dir");
    if (SSL_CTX_load_verify_locations(c, o->ca_file, o->ca_dir) != 1)
      return note(WSX_E_TLS, "CA", o->ca_file ? o->ca_file : o->ca_dir);
    if (o->ca_file) {
      /* Tells clients which CAs we accept, so they pick the right cert. */
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
      if (names)
        SSL_CTX_set_client_CA_list(c, names);
    }
    SSL_CTX_set_verify(c, mode, NULL);
  }
  rc = load_cert(c, k);
  return rc;
}

int wsx__tls_server_ctx_new(const wsx_allocator *a,
                            const wsx_tls_server_options *opts,
                            wsx__tls_ctx **out) {
  wsx__tls_ctx *tc;
  wsx_tls_server_options oc;
  const wsx_tls_server_options *o = &oc;
  const wsx_tls_cert *def;
  size_t i;
  int rc = WSX_OK;
  *out = NULL;
  last_error[0] = '\0';
  if (!opts)
    return note(WSX_E_INVALID, "TLS server options", "NULL");
  if (WSX__STRUCT_IN(wsx_tls_server_options, &oc, opts) != WSX_OK)
    return note(WSX_E_STRUCT_SIZE, "TLS server options", "struct_size is 0 or unknown");
  if (o->num_sni && !o->sni)
    return note(WSX_E_INVALID, "sni", "NULL table");
  if (WSX__STRUCT_OK(wsx_tls_cert, o->cert) != WSX_OK)
    return note(WSX_E_STRUCT_SIZE, "certificate", "struct_size is 0 or unknown");
  for (i = 0; i < o->num_sni; i++)
    if (WSX__STRUCT_OK(wsx_tls_cert, o->sni[i].cert) != WSX_OK)
      return note(WSX_E_STRUCT_SIZE, "sni certificate", "struct_size is 0 or unknown");
  def = cert_empty(o->cert) ? (o->num_sni ? o->sni[0].cert : NULL) : o->cert;
  if (!def)
    return note(WSX_E_INVALID, "certificate", "missing");
#ifndef WSX_HAVE_HTTP2
  if (o->http2)
    return note(WSX_E_UNSUPPORTED, "http2",
                "this libwsx was built without HTTP/2 (WSX_HTTP2=OFF)");
#endif
  if (!(tc = wsx__malloc(a, sizeof(*tc))))
    return WSX_E_NOMEM;
  memset(tc, 0, sizeof(*tc));
  tc->alloc = *a;
  tc->is_server = 1;
  tc->http2 = o->http2 != 0;
  tc->sni_cb = o->sni_callback;
  tc->sni_ud = o->sni_user_data;
  if (o->num_sni) {
    tc->sni_ctx = wsx__malloc(a, o->num_sni * sizeof(*tc->sni_ctx));
    tc->sni_names = wsx__malloc(a, o->num_sni * sizeof(*tc->sni_names));
    if (!tc->sni_ctx || !tc->sni_names) {
      wsx__free(a, tc->sni_ctx);
      wsx__free(a, tc->sni_names);
      tc->sni_ctx = NULL;
      tc->sni_names = NULL;
      rc = WSX_E_NOMEM;
    } else {
      memset(tc->sni_ctx, 0, o->num_sni * sizeof(*tc->sni_ctx));
      memset(tc->sni_names, 0, o->num_sni * sizeof(*tc->sni_names));
      tc->num_sni = o->num_sni;
    }
  }
  for (i = 0; rc == WSX_OK && i < tc->num_sni; i++) {
    const char *nm = o->sni[i].name;
    if (!nm || !*nm) {
      rc = note(WSX_E_INVALID, "sni entry", "without a name");
      break;
    }
    if (!(tc->sni_names[i] = wsx__strndup(a, nm, strlen(nm))))
      rc = WSX_E_NOMEM;
    else
      rc = server_ctx(o, o->sni[i].cert, tc, &tc->sni_ctx[i]);
  }
  if (rc == WSX_OK)
    rc = server_ctx(o, def, tc, &tc->ctx);
  if (rc != WSX_OK) {
    (void)note(rc, "TLS server context", NULL);
    wsx__tls_ctx_free(tc);
    return rc;
  }
  *out = tc;
  return WSX_OK;
}

/* ---- client ---- */

static int client_ctx(const wsx_tls_client_options *o, SSL_CTX **out) {
  SSL_CTX *c = base_ctx(TLS_client_method());
  int rc = WSX_OK;
  if (!(*out = c))
    return WSX_E_NOMEM;
  /* set_alpn_protos returns 0 on success. */
  if (SSL_CTX_set_alpn_protos(c, alpn_wire, ALPN_WIRE_LEN) != 0)
    return WSX_E_NOMEM;
  if (o && o->insecure_skip_verify) {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (o && (o->ca_file || o->ca_dir)) {
      if (SSL_CTX_load_verify_locations(c, o->ca_file, o->ca_dir) != 1)
        return note(WSX_E_TLS, "CA", o->ca_file ? o->ca_file : o->ca_dir);
    } else if (!o || !o->ca_pem) {
      if (SSL_CTX_set_default_verify_paths(c) != 1)
        return note(WSX_E_TLS, "system trust store", NULL);
    }
    if (o && o->ca_pem && (rc = add_ca_pem(c, o->ca_pem, o->ca_pem_len)) < 0)
      return note(rc, "CA PEM", NULL);
  }
  if (o && !cert_empty(o->cert))
    rc = load_cert(c, o->cert);
  return rc;
}

/* The secure default is shared: loading the system store costs
 * milliseconds, too much per connection. */
static CRYPTO_ONCE default_once = CRYPTO_ONCE_STATIC_INIT;
static wsx__tls_ctx default_client;
static int default_rc;

static void default_init(void) {
  SSL_CTX *c = NULL;
  default_rc = client_ctx(NULL, &c);
  if (default_rc != WSX_OK) {
    SSL_CTX_free(c);
    return;
  }
  default_client.ctx = c;
  default_client.shared = 1;
}

static int options_default(const wsx_tls_client_options *o) {
  return !o ||
         (!o->ca_file && !o->ca_dir && !o->ca_pem && cert_empty(o->cert) &&
          !o->server_name && !o->insecure_skip_verify);
}

int wsx__tls_client_ctx_new(const wsx_allocator *a,
                            const wsx_tls_client_options *opts,
                            wsx__tls_ctx **out) {
  wsx__tls_ctx *tc;
  wsx_tls_client_options oc;
  const wsx_tls_client_options *o = opts ? &oc : NULL;
  int rc;
  *out = NULL;
  last_error[0] = '\0';
  if (WSX__STRUCT_IN(wsx_tls_client_options, &oc, opts) != WSX_OK)
    return note(WSX_E_STRUCT_SIZE, "TLS client options", "struct_size is 0 or unknown");
  if (o && WSX__STRUCT_OK(wsx_tls_cert, o->cert) != WSX_OK)
    return note(WSX_E_STRUCT_SIZE, "client certificate", "struct_size is 0 or unknown");
  if (options_default(o)) {
    if (!CRYPTO_THREAD_run_once(&default_once, default_init))
      return WSX_E_TLS;
    if (default_rc != WSX_OK)
      return note(default_rc, "system trust store", NULL);
    *out = &default_client;
    return WSX_OK;
  }
  if (!(tc = wsx__malloc(a, sizeof(*tc))))
    return WSX_E_NOMEM;
  memset(tc, 0, sizeof(*tc));
  tc->alloc = *a;
  tc->insecure = o->insecure_skip_verify != 0;
  rc = client_ctx(o, &tc->ctx);
  if (rc == WSX_OK && o->server_name &&
      !(tc->server_name =
            wsx__strndup(a, o->server_name, strlen(o->server_name))))
    rc = WSX_E_NOMEM;
  if (rc != WSX_OK) {
    (void)note(rc, "TLS client context", NULL);
    wsx__tls_ctx_free(tc);
    return rc;
  }
  *out = tc;
  return WSX_OK;
}

void wsx__tls_ctx_free(wsx__tls_ctx *tc) {
  wsx_allocator a;
  size_t i;
  if (!tc || tc->shared)
    return;
  a = tc->alloc;
  SSL_CTX_free(tc->ctx);
  for (i = 0; i < tc->num_sni; i++) {
    SSL_CTX_free(tc->sni_ctx[i]);
    wsx__free(&a, tc->sni_names[i]);
  }
  wsx__free(&a, tc->sni_ctx);
  wsx__free(&a, tc->sni_names);
  wsx__free(&a, tc->server_name);
  wsx__free(&a, tc);
}
