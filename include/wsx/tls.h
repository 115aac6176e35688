/*
 * wsx/tls.h: TLS options for wss:// clients and TLS servers (OpenSSL 3),
 * plus TLS details of a connected socket. Included by wsx/uv.h.
 *
 * TLS runs as a layer between a wsx_socket and its libuv stream: OpenSSL
 * never touches the socket, it reads ciphertext from the loop's receive
 * buffer and writes ciphertext through the socket's normal write path. A
 * TLS socket has exactly the same calls and events as a plain one.
 *
 * Versions: TLS 1.2 and 1.3 (1.2 is the minimum). ALPN: "http/1.1" is
 * offered by clients and selected by servers when the client offers it.
 *
 * Every string and PEM buffer in these structs is read during the call that
 * receives the options (wsx_server_new, wsx_socket_connect) and not kept:
 * files are loaded at that moment, in-memory PEM is parsed then.
 *
 * Errors: TLS failures use WSX_E_TLS. A client whose handshake fails gets
 * `connect_failed` (code WSX_E_TLS) with a message that says why, e.g.
 * "certificate verify failed: certificate has expired",
 * "certificate verify failed: hostname mismatch",
 * "certificate verify failed: unable to get local issuer certificate",
 * or OpenSSL's error string for other failures. A TLS error in the middle
 * of a session fires `error` (WSX_E_TLS, OpenSSL's text) and `close` with
 * 1006. A close_notify from the peer ends the connection like a TCP FIN;
 * wsx sends close_notify before its own FIN.
 */
#ifndef WSX_TLS_H
#define WSX_TLS_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A certificate chain and its private key, from PEM files or from PEM in
 * memory (for each of the two, the file wins when both are given).
 * The chain is the leaf certificate first, then intermediates. The key may
 * not be encrypted.
 */
typedef struct wsx_tls_cert {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  const char *cert_file;
  const char *key_file;
  const char *cert_pem; /* PEM text, cert_pem_len bytes (0: strlen) */
  size_t cert_pem_len;
  const char *key_pem;
  size_t key_pem_len;
} wsx_tls_cert;
#define WSX_TLS_CERT_INIT                                                      \
  { .struct_size = sizeof(wsx_tls_cert) }

/* One SNI entry: connections whose server_name matches `name` get `cert`.
 * `name` matches case-insensitively; "*.example.com" matches exactly one
 * label in front of example.com. */
typedef struct wsx_tls_sni_entry {
  const char *name;
  const wsx_tls_cert *cert;
} wsx_tls_sni_entry;

/* Client certificate policy of a server. */
enum wsx_tls_client_auth {
  WSX_TLS_CLIENT_CERT_NONE = 0,     /* do not ask (default) */
  WSX_TLS_CLIENT_CERT_OPTIONAL = 1, /* ask; a certificate that is sent must
                                       verify against ca_file/ca_dir */
  WSX_TLS_CLIENT_CERT_REQUIRED = 2  /* ask; the handshake fails without a
                                       valid certificate */
};

/* Return values of wsx_tls_server_options.sni_callback besides an index. */
#define WSX_TLS_SNI_DEFAULT (-1) /* use the default certificate */
#define WSX_TLS_SNI_REJECT (-2)  /* abort the handshake (unrecognized_name) */

/*
 * wsx_server_options.tls: turns the server into a TLS (wss/https) server.
 * One OpenSSL context per certificate is built by wsx_server_new and shared
 * by every connection of the server. The server's handshake_timeout covers
 * the TLS handshake too.
 */
typedef struct wsx_tls_server_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Default certificate (read by wsx_server_new, not kept). May be NULL
   * when `sni` has entries (the first entry is then the default). */
  const wsx_tls_cert *cert;
  /* SNI table: `num_sni` entries (copied/loaded at creation). */
  const wsx_tls_sni_entry *sni;
  size_t num_sni;
  /* Optional: chooses the certificate for a server_name (NUL-terminated,
   * borrowed for the call; NULL when the client sent none). Returns an
   * index into `sni`, WSX_TLS_SNI_DEFAULT or WSX_TLS_SNI_REJECT. Called on
   * the loop thread during the handshake. NULL: the table is searched, and
   * names not in it get the default certificate. */
  int (*sni_callback)(const char *server_name, void *user_data);
  void *sni_user_data;
  /* Client certificates (enum wsx_tls_client_auth) and the CAs that sign
   * them (a PEM bundle file and/or a hashed directory). */
  int client_auth;
  const char *ca_file;
  const char *ca_dir;
  /* Non-zero: also speak HTTP/2 (RFC 8441, WebSocket over HTTP/2). ALPN
   * then selects "h2" when the client offers it ("http/1.1" otherwise, on
   * the same listener). Over h2 the server announces
   * SETTINGS_ENABLE_CONNECT_PROTOCOL; each extended CONNECT stream
   * (:method CONNECT, :protocol websocket) reaches `request` (or
   * auto_accept) as a wsx_request like an HTTP/1.1 upgrade (method "GET",
   * Host from :authority, the resource from :path), and each accepted
   * stream is a wsx_socket of its own with the same calls and events
   * (wsx_socket_is_http2() tells them apart). Rejecting answers with that
   * :status; closing ends the stream (END_STREAM); a RST_STREAM from the
   * peer closes the socket with 1006; buffered_amount counts what the
   * stream's HTTP/2 flow-control window has not let out yet. Plain HTTP/2
   * requests reach `http_request` (body complete, Content-Length set).
   * wsx_server_new fails with WSX_E_UNSUPPORTED if libwsx was built
   * without HTTP/2 (see wsx_http2_available()). */
  int http2;
} wsx_tls_server_options;
#define WSX_TLS_SERVER_OPTIONS_INIT                                            \
  { .struct_size = sizeof(wsx_tls_server_options) }

/*
 * wsx_socket_options.tls for wss:// clients (ignored for ws:// URLs and for
 * server sockets). NULL, or WSX_TLS_CLIENT_OPTIONS_INIT, selects the secure
 * default:
 * the peer's certificate must chain to the system trust store and name the
 * URL's host (DNS name, or IP address for IP literals).
 */
typedef struct wsx_tls_client_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Trust anchors replacing the system store when either is set. */
  const char *ca_file;
  const char *ca_dir;
  /* PEM trust anchors in memory (added to ca_file / ca_dir, also replacing
   * the system store). ca_pem_len 0: strlen. */
  const char *ca_pem;
  size_t ca_pem_len;
  /* Client certificate and key (NULL: none; read during the call). */
  const wsx_tls_cert *cert;
  /* Name sent as SNI AND verified against the certificate, instead of the
   * URL's host (NULL = the URL's host). */
  const char *server_name;
  /* DANGEROUS: non-zero turns off certificate AND host name verification,
   * so anyone on the network path can impersonate the server and read or
   * change the traffic. For tests against self-signed servers only. */
  int insecure_skip_verify;
} wsx_tls_client_options;
#define WSX_TLS_CLIENT_OPTIONS_INIT                                            \
  { .struct_size = sizeof(wsx_tls_client_options) }

/*
 * Why the last TLS configuration on this thread failed: wsx_server_new,
 * wsx_socket_connect or wsx_eventsource_client_new returned WSX_E_TLS (or
 * WSX_E_INVALID for TLS options) because a certificate, key or CA could
 * not be used. Names the item and gives OpenSSL's reason, e.g.
 * "certificate file /etc/x/cert.pem: No such file or directory",
 * "certificate and key: do not match",
 * "key PEM: no start line". "" when the last TLS configuration succeeded.
 * A static per-thread string: valid until the next TLS configuration on
 * the same thread (copy it to keep it). Never NULL.
 */
WSX_EXTERN const char *wsx_tls_last_error(void);

struct wsx_socket;

/* TLS details of a socket (NULL / "" / negative for plain sockets and
 * before the TLS handshake completed). Returned strings are static or owned
 * by the socket and valid until its `close` callback returns. Through an
 * https:// proxy they describe the origin's session inside the tunnel, not
 * the proxy's (so a ws:// socket through an https:// proxy has none). */
/* Non-zero if this libwsx was built with HTTP/2 (WSX_HTTP2, libnghttp2). */
WSX_EXTERN int wsx_http2_available(void);
/* Non-zero if `s` is a WebSocket (or request) carried by one stream of an
 * HTTP/2 connection (RFC 8441); its TLS accessors then return NULL / "".
 * A client socket (wsx_socket_options.http2) answers 0 while it waits for
 * its connection (it may still fall back to HTTP/1.1), 1 from the moment
 * it is sent as a stream. */
WSX_EXTERN int wsx_socket_is_http2(const struct wsx_socket *s);

/* "TLSv1.3", "TLSv1.2", or NULL for a socket without TLS. */
WSX_EXTERN const char *wsx_socket_tls_version(const struct wsx_socket *s);
/* The ALPN protocol agreed on ("http/1.1", or "h2" for the connection
 * carrying HTTP/2 streams), or "" (none / no TLS). */
WSX_EXTERN const char *wsx_socket_tls_alpn(const struct wsx_socket *s);
/* Server: the SNI name the client sent, or NULL. Client: the name sent. */
WSX_EXTERN const char *wsx_socket_tls_server_name(const struct wsx_socket *s);
/* The peer certificate's subject (one-line, e.g. "CN = client"), written
 * NUL-terminated into buf[len]. Returns WSX_OK, WSX_E_STATE (no TLS or no
 * peer certificate) or WSX_E_INVALID (buf too small / NULL). */
WSX_EXTERN int wsx_socket_tls_peer_subject(const struct wsx_socket *s,
                                           char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* WSX_TLS_H */
