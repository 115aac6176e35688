/*
 * The socket core's dispatch tables (uv/core.h): which operations apply in
 * each phase, and what each role does when the core ends a connection.
 * The only place that names every phase's and role's owner; conn.c itself
 * knows only wsx__phase_ops and wsx__role_ops.
 */
#include "uv/internal.h"

/* After our FIN: the peer's bytes no longer matter; its EOF or the linger
 * deadline closes the handle (the core's defaults). */
static const wsx__phase_ops teardown_phase = {NULL, NULL, NULL, NULL, NULL};

const wsx__phase_ops *const wsx__phases[WSX__P_COUNT] = {
    [WSX__P_HEAD] = &wsx__front_phase,
    [WSX__P_REQUEST] = &wsx__front_phase,
    [WSX__P_HTTP] = &wsx__http_phase,
    [WSX__P_DIAL] = &wsx__dial_phase,
    [WSX__P_PROXY] = &wsx__proxy_phase,
    [WSX__P_CLIENT_HS] = &wsx__client_hs_phase,
    [WSX__P_WS] = &wsx__ws_phase,
    [WSX__P_TEARDOWN] = &teardown_phase,
#ifdef WSX_HAVE_HTTP2
    [WSX__P_H2] = &wsx__h2_phase,
#else
    [WSX__P_H2] = &teardown_phase, /* never entered */
#endif
};

/* Zero-copy reads: only an open WebSocket has them. */
const wsx__rx_ops *const wsx__phase_rx[WSX__P_COUNT] = {
    [WSX__P_WS] = &wsx__ws_rx,
};

/* Server-side socket: the request in progress (aborted / response close
 * callbacks before the close event), then the server's connection list. */
static const wsx__role_ops server_role = {NULL, NULL, wsx__server_request_gone,
                                          wsx__server_sock_gone};
/* Client socket: the dialer may outlive the handle (resolver thread). */
static const wsx__role_ops dial_role = {NULL, wsx__dial_on_handle_closed, NULL,
                                        NULL};
/* Open WebSocket: the driver (aborted on a drop; its message budget refunded
 * while closing, before the server's cfg that holds the budget may go;
 * freed with its pings). */
static const wsx__role_ops ws_role = {wsx__ws_drop, NULL, wsx__ws_closing,
                                      wsx__ws_gone};
/* CONNECT handshake state (kept after a refusal for the accessors). */
static void proxy_gone(wsx_socket *s) { wsx_proxy_free(s->proxy); }
static const wsx__role_ops proxy_role = {NULL, NULL, NULL, proxy_gone};

#ifdef WSX_HAVE_HTTP2
/* A connection carrying an HTTP/2 session: its stream sockets are aborted
 * (1006) before the connection's own close event. */
static void h2_closing(wsx_socket *s) {
  if (wsx__sock_h2(s))
    wsx__h2_conn_gone(s);
}
static const wsx__role_ops h2_role = {NULL, NULL, h2_closing, NULL};
#else
static const wsx__role_ops h2_role = {NULL, NULL, NULL, NULL};
#endif

/* Order matters in finalize: the server unlinks the socket before the
 * driver is freed, as before the table existed. */
const wsx__role_ops *const wsx__roles[WSX__R_COUNT] = {
    [WSX__R_SERVER] = &server_role,
    [WSX__R_DIAL] = &dial_role,
    [WSX__R_WS] = &ws_role,
    [WSX__R_PROXY] = &proxy_role,
    [WSX__R_H2] = &h2_role,
};
